//! ftpscope-tls: decrypts the TLS of one TCP connection, sans-IO, with an NSS key log.
//!
//! ```text
//! two reassembled byte streams ─► records (per direction) ─► handshake ─► keys ─► plaintext
//!   (Peer::Initiator / Responder)      │                          ▲
//!                                       └─ KeyLog (client random) ─┘─ SessionCache (resumption)
//! ```
//!
//! Feed each direction's bytes in stream order with [`TlsConnection::push`], losses with
//! [`TlsConnection::gap`], and the end with [`TlsConnection::finish`]; after the key log grew
//! (live capture) call [`TlsConnection::retry`]. Each call appends [`TlsEvent`]s: plaintext in
//! order and at most once per direction, losses, alerts and named problems.
//!
//! What it implements: the record layer and key calculation of TLS 1.2 (RFC 5246 §6.2-6.3, the
//! PRF of §5, extended master secret RFC 7627 noted, encrypt-then-MAC RFC 7366, session
//! tickets RFC 5077), TLS 1.3 (RFC 8446 §5 record protection, §7.1 key schedule, §7.3 traffic
//! keys, §4.6.3 KeyUpdate), and the NSS key log format ([`keylog`]). SSL 3.0, TLS 1.0 and 1.1
//! show their handshake only.
//!
//! Guarantees: no input makes it panic (slices are read with `get`); memory is bounded by
//! [`TlsLimits`] and the [`SessionCache`] bound, never by the length of the streams: one
//! partial record per direction ([`conn::MAX_RECORD`]), held bytes while keys are missing
//! ([`TlsLimits::max_held_bytes`]), one handshake message ([`TlsLimits::max_handshake_message`]).
//! Cryptography is RustCrypto's; nothing is hand-rolled.
// Input never makes the crate panic: slices are read with `get`, never indexed.
#![deny(clippy::indexing_slicing)]

pub mod cache;
pub mod conn;
mod crypt;
pub mod handshake;
pub mod keylog;
pub mod suite;
#[doc(hidden)]
pub mod testing;

pub use cache::SessionCache;
pub use conn::{
    CipherSuite, LossReason, Peer, Resumption, TlsConnection, TlsEvent, TlsInfo, TlsLimits,
    TlsProblem, looks_like_client_hello,
};
pub use handshake::CertInfo;
pub use keylog::{BadLine, KeyLog, KeyLogReport};
