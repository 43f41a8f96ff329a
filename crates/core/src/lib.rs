//! ftpscope-core: a sans-IO FTP analyzer.
//!
//! ```text
//! Frame ─► decode (link → IP → TCP) ─► flow table + reassembly ─► FTP control lines
//!                                                │                     │
//!                                                └─► data connections ◄─ expectations
//!                                                            │
//!                                                         Events
//! ```
//!
//! The analyzer is fed timestamped [`Frame`]s and queues [`Event`]s; it never reads files,
//! sockets or clocks. Packet time is the only time.
//!
//! Guarantees: no input makes it panic (slices are read with `get`); memory is bounded by
//! [`Limits`], never by the size of the capture, and every bound announces itself with a named
//! [`AnomalyKind`]; bytes stay bytes (paths and arguments are not assumed to be UTF-8).
//!
//! Call order: [`Analyzer::handle_frame`] per frame, [`Analyzer::handle_timeout`] when time
//! passes without frames, [`Analyzer::finish`] at the end, and [`Analyzer::poll_event`] after
//! each call until it returns `None`.
//!
//! Shape: the [`Analyzer`] routes (`analyzer/`: the flow table and segments in `mod.rs`, what
//! a new connection is in `classify.rs`, the control dialogue's wiring in `control.rs`, data
//! connections in `data.rs`, FTPS in `ftps.rs`); nothing under [`ftp`] imports it. A connection
//! keeps its TCP state as one [`flow::TcpState`] (named after RFC 9293 §3.3.2: SYN-SENT,
//! SYN-RECEIVED, ESTABLISHED, reset, CLOSED, as a passive observer sees them), changed only by
//! [`flow::Conn::transition`]. A session owns its state machine ([`ftp::session::Session::on`],
//! one transition `match` over [`ftp::session::SessionState`], named after RFC 959 §5.4 and
//! §4.1.1: awaiting the greeting, the login sequence, AUTH requested, protected by TLS per RFC
//! 2228/4217, closing) and reads its own dialogue ([`ftp::session::Session::read_command`],
//! [`ftp::session::Session::reply`]), returning what the analyzer must wire
//! ([`ftp::session::CommandWire`], [`ftp::session::DialogueAction`]); so does a transfer
//! ([`ftp::transfer::Transfer::on`], over [`ftp::transfer::TransferState`], named after RFC 959
//! §3.2-3.3), whose verdict is [`ftp::verdict`]. Names that cross to the binary are enums with
//! `as_str` and `ALL` (`DetectedBy`, `EndReason`, `AnnouncedBy`, `Direction`, `LinkRule`,
//! `TransferStatus`...); directions are [`flow::Dir`] with per-direction state in
//! [`flow::PerDir`]. FTPS is a layer of its own (`ftps.rs`, RFC 4217): it pushes a
//! connection's bytes through its TLS transform ([`stream::Transform`]) and says, as an action,
//! what each TLS event asks; the analyzer applies it, so decrypted bytes take the clear path.
//! The FTP core is tested without pcaps: the session's dialogue directly, and whole
//! conversations through the harness in `crates/core/tests/` (command and reply lines, data
//! connections, FINs and resets, read like the protocol).
// Input never makes the core panic: slices are read with `get`, never indexed.
#![deny(clippy::indexing_slicing)]
pub mod analyzer;
pub mod decode;
pub mod defrag;
pub mod event;
pub mod fasthash;
pub mod flow;
pub mod frame;
pub mod ftp;
mod ftps;
pub mod limits;
pub mod stream;
#[cfg(test)]
mod testing;

pub use analyzer::{Analyzer, Stats};
pub use event::*;
pub use frame::{Frame, LinkType, TimeSpan, Timestamp};
pub use limits::Limits;
