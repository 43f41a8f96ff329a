//! One TCP connection's TLS: the record layer of both directions, the handshake as far as it
//! is visible, and decryption with the key log.
//!
//! Record layer (RFC 5246 §6.2, RFC 8446 §5.1): 5-byte headers, at most 2^14 + 2048 bytes of
//! protected payload; a record split across pushes waits in a per-direction buffer of at most
//! one record ([`MAX_RECORD`]), a record whole in the pushed bytes is decrypted from them.
//!
//! When keys start (the state machine of each direction, [`DirState`]):
//! - TLS 1.2: at each side's ChangeCipherSpec (RFC 5246 §7.1); sequence numbers restart at 0.
//!   Keys come from the master secret: by this connection's client random in the key log,
//!   else, for an abbreviated handshake (§7.3: the server's ChangeCipherSpec comes right after
//!   its ServerHello, or after a NewSessionTicket, RFC 5077 §3.1), from the [`SessionCache`] by
//!   ticket or by the session ID the ServerHello echoes (§7.4.1.3).
//! - TLS 1.3: handshake traffic keys for the records after the ServerHello, application traffic
//!   keys after each side's Finished (RFC 8446 §7.1, §7.3), the next generation after each
//!   KeyUpdate (§4.6.3, §7.2). Middlebox-compatibility ChangeCipherSpec records are skipped
//!   (§D.4); the inner content type ends the padded plaintext (§5.2, §5.4). A
//!   HelloRetryRequest (§4.1.4) keeps the first ClientHello's random, which the key log uses.
//! - SSL 3.0, TLS 1.0 and 1.1, and suites not in [`crate::suite`]: visible information only.
//!
//! Waiting: a direction whose keys cannot be made yet (the other direction's ServerHello has
//! not been pushed, or the key log lacks the secret) holds its raw bytes, all directions of a
//! connection together at most [`TlsLimits::max_held_bytes`]; [`TlsConnection::retry`] tries
//! again after the key log grew. Past the limit, held bytes are framed and reported lost.
//!
//! Gaps: record boundaries are lost; the direction looks for the next plausible header and
//! accepts it only if it decrypts with one of the next [`TlsLimits::resync_records`] sequence
//! numbers; after [`TlsLimits::resync_scan_bytes`] without one, the rest is lost.

use crate::cache::SessionCache;
use crate::crypt::Protector;
use crate::handshake::{self as hs, CertInfo, ClientHello, Piece, ServerHello};
use crate::keylog::KeyLog;
use crate::suite::{self, Lookup, Suite};
use std::collections::VecDeque;

/// Largest protected payload of a record (RFC 5246 §6.2.3: 2^14 + 2048).
pub const MAX_CIPHERTEXT: usize = (1 << 14) + 2048;
/// Largest record, header included: the bound of a direction's partial-record buffer.
pub const MAX_RECORD: usize = 5 + MAX_CIPHERTEXT;

const CHANGE_CIPHER_SPEC: u8 = 20;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;
const HEARTBEAT: u8 = 24;

/// Which TCP side sent the bytes. Which of them is the TLS client is decided by the engine
/// (the one that sends the ClientHello): in active-mode FTP the server opens the data
/// connection but the FTP client is still the TLS client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    Initiator,
    Responder,
}

impl Peer {
    pub const ALL: [Peer; 2] = [Peer::Initiator, Peer::Responder];

    pub fn other(self) -> Peer {
        match self {
            Peer::Initiator => Peer::Responder,
            Peer::Responder => Peer::Initiator,
        }
    }

    fn idx(self) -> usize {
        match self {
            Peer::Initiator => 0,
            Peer::Responder => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Peer::Initiator => "initiator",
            Peer::Responder => "responder",
        }
    }
}

/// Bounds of one connection (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsLimits {
    /// Raw bytes held while keys are not known, both directions together (default 4 MiB).
    pub max_held_bytes: usize,
    /// Hold bytes when the key log lacks this connection's secrets, in case it grows (live
    /// capture, [`TlsConnection::retry`]). With a key log read once and for all, set it to
    /// `false`: the bytes are then reported lost at once and nothing is held for them.
    pub hold_when_keys_missing: bool,
    /// Longest handshake message read (default 256 KiB); longer ones are skipped.
    pub max_handshake_message: usize,
    /// Sequence numbers tried past the expected one when resynchronising after a gap.
    pub resync_records: u64,
    /// Bytes scanned for a record header after a gap before giving up the direction.
    pub resync_scan_bytes: usize,
}

impl Default for TlsLimits {
    fn default() -> Self {
        TlsLimits {
            max_held_bytes: 4 << 20,
            hold_when_keys_missing: true,
            max_handshake_message: 256 << 10,
            resync_records: 64,
            resync_scan_bytes: 64 * MAX_RECORD,
        }
    }
}

/// Why application data could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LossReason {
    /// The capture lost bytes of the ciphertext.
    Gap,
    /// The record failed authentication (wrong key or damage).
    AuthFailed,
    /// The key log has no secret for this connection.
    NoKeys,
    /// Bytes held while waiting for keys went over [`TlsLimits::max_held_bytes`].
    HoldLimit,
    /// Protocol version or cipher suite this crate does not decrypt.
    Unsupported,
    /// Decryption stopped (renegotiation, not TLS, a protocol violation).
    Stopped,
    /// No record could be found again after a gap.
    ResyncFailed,
    /// The stream ended inside a record.
    Truncated,
}

impl LossReason {
    pub const ALL: [LossReason; 8] = [
        LossReason::Gap,
        LossReason::AuthFailed,
        LossReason::NoKeys,
        LossReason::HoldLimit,
        LossReason::Unsupported,
        LossReason::Stopped,
        LossReason::ResyncFailed,
        LossReason::Truncated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LossReason::Gap => "gap",
            LossReason::AuthFailed => "auth_failed",
            LossReason::NoKeys => "no_keys",
            LossReason::HoldLimit => "hold_limit",
            LossReason::Unsupported => "unsupported",
            LossReason::Stopped => "stopped",
            LossReason::ResyncFailed => "resync_failed",
            LossReason::Truncated => "truncated",
        }
    }
}

/// A named problem (each kind is reported once per connection, `AuthFailed` once per direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsProblem {
    /// The first bytes are not a TLS record.
    NotTls,
    /// A record header that is not TLS after the start: handled like a gap.
    BadRecordHeader,
    /// A record longer than 2^14 + 2048 bytes.
    RecordTooLarge,
    /// A record failed authentication: wrong key or damage.
    AuthFailed,
    UnsupportedVersion,
    UnsupportedCipherSuite,
    /// A new handshake on an established connection: decryption stops.
    Renegotiation,
    /// A handshake message that could not be parsed, or came out of order.
    BadHandshake,
    /// A handshake message longer than [`TlsLimits::max_handshake_message`], skipped.
    HandshakeTooLong,
    /// Bytes of the clear handshake were lost: this direction cannot be followed.
    GapInHandshake,
    /// No record found again after a gap.
    ResyncFailed,
    /// A record type that does not belong where it came.
    UnexpectedRecord,
    /// Held bytes went over the limit.
    HoldLimit,
}

impl TlsProblem {
    pub const ALL: [TlsProblem; 13] = [
        TlsProblem::NotTls,
        TlsProblem::BadRecordHeader,
        TlsProblem::RecordTooLarge,
        TlsProblem::AuthFailed,
        TlsProblem::UnsupportedVersion,
        TlsProblem::UnsupportedCipherSuite,
        TlsProblem::Renegotiation,
        TlsProblem::BadHandshake,
        TlsProblem::HandshakeTooLong,
        TlsProblem::GapInHandshake,
        TlsProblem::ResyncFailed,
        TlsProblem::UnexpectedRecord,
        TlsProblem::HoldLimit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TlsProblem::NotTls => "tls_not_tls",
            TlsProblem::BadRecordHeader => "tls_bad_record_header",
            TlsProblem::RecordTooLarge => "tls_record_too_large",
            TlsProblem::AuthFailed => "tls_auth_failed",
            TlsProblem::UnsupportedVersion => "tls_unsupported_version",
            TlsProblem::UnsupportedCipherSuite => "tls_unsupported_cipher_suite",
            TlsProblem::Renegotiation => "tls_renegotiation",
            TlsProblem::BadHandshake => "tls_bad_handshake",
            TlsProblem::HandshakeTooLong => "tls_handshake_too_long",
            TlsProblem::GapInHandshake => "tls_gap_in_handshake",
            TlsProblem::ResyncFailed => "tls_resync_failed",
            TlsProblem::UnexpectedRecord => "tls_unexpected_record",
            TlsProblem::HoldLimit => "tls_hold_limit",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// What the engine reports, in stream order per direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsEvent {
    /// Decrypted application data, in order.
    Plaintext {
        from: Peer,
        data: Vec<u8>,
    },
    /// Application data that cannot be read; `len` is the plaintext length when known.
    /// Consecutive losses of one direction and reason are merged.
    Lost {
        from: Peer,
        len: Option<u64>,
        why: LossReason,
    },
    /// The handshake is done (both Finished seen, or implied when they cannot be read):
    /// [`TlsConnection::info`] is complete and says whether the connection decrypts.
    Established,
    /// No key for this connection (once per connection): it stays encrypted.
    KeysMissing,
    CloseNotify {
        from: Peer,
    },
    Alert {
        from: Peer,
        level: u8,
        description: u8,
    },
    Problem {
        kind: TlsProblem,
        detail: String,
    },
}

/// How a connection resumed an earlier session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resumption {
    /// TLS 1.2 abbreviated handshake by session ID (RFC 5246 §7.3).
    SessionId,
    /// TLS 1.2 abbreviated handshake by session ticket (RFC 5077).
    Ticket,
    /// TLS 1.3 pre-shared key (RFC 8446 §2.2).
    Psk,
}

impl Resumption {
    pub fn as_str(self) -> &'static str {
        match self {
            Resumption::SessionId => "session_id",
            Resumption::Ticket => "ticket",
            Resumption::Psk => "psk",
        }
    }
}

/// A cipher suite: its number and IANA name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CipherSuite {
    pub id: u16,
    pub name: &'static str,
}

/// What the connection shows, with or without keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsInfo {
    /// The side that sent the ClientHello.
    pub client: Option<Peer>,
    /// Negotiated version (0x0303 TLS 1.2, 0x0304 TLS 1.3...); see [`suite::version_name`].
    pub version: Option<u16>,
    pub cipher_suite: Option<CipherSuite>,
    pub sni: Option<Vec<u8>>,
    pub alpn_offered: Vec<Vec<u8>>,
    /// Selected protocol (ServerHello in TLS 1.2, EncryptedExtensions in TLS 1.3).
    pub alpn: Option<Vec<u8>>,
    pub resumed: Option<Resumption>,
    /// The ServerHello's session ID.
    pub session_id: Vec<u8>,
    pub client_random: Option<[u8; 32]>,
    pub server_random: Option<[u8; 32]>,
    pub extended_master_secret: bool,
    pub encrypt_then_mac: bool,
    pub hello_retry_request: bool,
    pub client_certificate_requested: bool,
    pub key_updates: u32,
    /// Keys were found: records are being decrypted.
    pub decrypting: bool,
    /// The server's leaf certificate (in the clear in TLS 1.2; decrypted in TLS 1.3).
    pub certificate: Option<CertInfo>,
}

impl TlsInfo {
    pub fn version_name(&self) -> Option<&'static str> {
        self.version.map(suite::version_name)
    }
}

/// Where the connection's handshake is (one per connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing seen yet.
    Start,
    /// ClientHello seen (RFC 5246 §7.4.1.2, RFC 8446 §4.1.2): waiting for the ServerHello.
    AwaitServerHello,
    /// A HelloRetryRequest came (RFC 8446 §4.1.4): a second ClientHello, then the ServerHello.
    HelloRetry,
    /// A TLS 1.2 ServerHello with a suite we decrypt.
    Tls12,
    /// A TLS 1.3 ServerHello with a suite we decrypt.
    Tls13,
    /// A version or suite we do not decrypt: visible information only.
    Unsupported,
    /// Renegotiation, or not TLS: nothing more is read.
    Stopped,
}

/// Record protection of one direction.
enum DirState {
    /// Records in the clear: before ChangeCipherSpec (1.2) or between key epochs (1.3).
    Clear,
    /// Protected records are opened with these keys.
    Decrypting(Box<Protector>),
    /// Keys cannot be made yet: raw bytes wait in `Dir::held`.
    Holding(HoldAt),
    /// Records are framed but cannot be read.
    Opaque(LossReason),
    /// Nothing more can be read in this direction.
    Dead(LossReason),
}

/// What the held bytes start with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HoldAt {
    /// The bytes after a ChangeCipherSpec: keys are installed before they are replayed.
    AfterCcs,
    /// A record that could not be handled yet: it is replayed as it came.
    Record,
}

/// TLS 1.3 key epoch of a direction (RFC 8446 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Epoch {
    Handshake,
    Application,
}

enum Held {
    Bytes(Vec<u8>),
    Gap(u64),
}

/// After a gap: bytes scanned so far for the next record.
struct Resync {
    scanned: usize,
}

/// Both directions' state, reached by [`Peer`] (no indexing).
struct Dirs([Dir; 2]);

impl Dirs {
    fn get(&self, p: Peer) -> &Dir {
        let [a, b] = &self.0;
        match p {
            Peer::Initiator => a,
            Peer::Responder => b,
        }
    }

    fn get_mut(&mut self, p: Peer) -> &mut Dir {
        let [a, b] = &mut self.0;
        match p {
            Peer::Initiator => a,
            Peer::Responder => b,
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Dir> {
        self.0.iter()
    }
}

struct Dir {
    /// A partial record (at most MAX_RECORD bytes), or the resync window after a gap.
    buf: Vec<u8>,
    state: DirState,
    seq: u64,
    hs: hs::Reader,
    held: VecDeque<Held>,
    resync: Option<Resync>,
    /// ChangeCipherSpec seen (TLS 1.2).
    ccs: bool,
    /// Finished seen, or the first protected handshake record failed (the handshake is over
    /// as far as this direction can show).
    hs_done: bool,
    epoch: Epoch,
    /// TLS 1.3: the current traffic secret (for KeyUpdate).
    secret: Vec<u8>,
    auth_failed_reported: bool,
    /// A valid record header was seen.
    framed: bool,
}

impl Dir {
    fn new() -> Dir {
        Dir {
            buf: Vec::new(),
            state: DirState::Clear,
            seq: 0,
            hs: hs::Reader::default(),
            held: VecDeque::new(),
            resync: None,
            ccs: false,
            hs_done: false,
            epoch: Epoch::Handshake,
            secret: Vec::new(),
            auth_failed_reported: false,
            framed: false,
        }
    }
}

/// Key status for a direction.
enum Keys {
    Ready(Box<Protector>),
    /// The handshake has not shown enough yet.
    NotYet,
    /// The key log (and the session cache) lack the secret.
    Missing,
    Unsupported,
}

struct Ctx<'a> {
    keys: &'a KeyLog,
    cache: &'a mut SessionCache,
    out: &'a mut Vec<TlsEvent>,
}

/// Outcome of one record.
enum Step {
    Done,
    /// Hold this record and what follows (the state is already `Holding`).
    HoldThis,
}

/// Decrypts the TLS of one TCP connection (see the module doc).
pub struct TlsConnection {
    limits: TlsLimits,
    dirs: Dirs,
    phase: Phase,
    ch: Option<ClientHello>,
    sh: Option<ServerHello>,
    suite: Option<Suite>,
    master: Option<[u8; 48]>,
    /// The server sent Certificate, ServerKeyExchange, CertificateRequest or ServerHelloDone:
    /// a full TLS 1.2 handshake.
    server_full: bool,
    /// TLS 1.2 tickets seen before the master secret was known.
    pending_tickets: Vec<Vec<u8>>,
    held_bytes: usize,
    info: TlsInfo,
    keys_missing_sent: bool,
    established_sent: bool,
    problems_sent: u32,
}

impl TlsConnection {
    pub fn new(limits: TlsLimits) -> Self {
        TlsConnection {
            limits,
            dirs: Dirs([Dir::new(), Dir::new()]),
            phase: Phase::Start,
            ch: None,
            sh: None,
            suite: None,
            master: None,
            server_full: false,
            pending_tickets: Vec::new(),
            held_bytes: 0,
            info: TlsInfo::default(),
            keys_missing_sent: false,
            established_sent: false,
            problems_sent: 0,
        }
    }

    /// What is visible, with or without keys.
    pub fn info(&self) -> &TlsInfo {
        &self.info
    }

    /// Raw bytes held while waiting for keys (both directions).
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Bytes `from` sent, in stream order.
    pub fn push(
        &mut self,
        from: Peer,
        bytes: &[u8],
        keys: &KeyLog,
        cache: &mut SessionCache,
        out: &mut Vec<TlsEvent>,
    ) {
        let mut ctx = Ctx { keys, cache, out };
        self.feed(from, bytes, &mut ctx);
        self.release_all(&mut ctx);
    }

    /// `len` bytes of `from`'s stream were lost (a capture gap).
    pub fn gap(&mut self, from: Peer, len: u64, out: &mut Vec<TlsEvent>) {
        let keys = KeyLog::new();
        let mut cache = SessionCache::new(0);
        let mut ctx = Ctx {
            keys: &keys,
            cache: &mut cache,
            out,
        };
        self.gap_inner(from, len, &mut ctx);
    }

    /// The key log grew (live capture): decrypts held records whose keys are now known.
    pub fn retry(&mut self, keys: &KeyLog, cache: &mut SessionCache, out: &mut Vec<TlsEvent>) {
        let mut ctx = Ctx { keys, cache, out };
        self.release_all(&mut ctx);
    }

    /// The connection ended: a partial record is lost, and held bytes are reported lost.
    pub fn finish(&mut self, out: &mut Vec<TlsEvent>) {
        let keys = KeyLog::new();
        let mut cache = SessionCache::new(0);
        let mut ctx = Ctx {
            keys: &keys,
            cache: &mut cache,
            out,
        };
        for p in Peer::ALL {
            if let DirState::Holding(_) = self.dirs.get_mut(p).state {
                let why = if self.keys_missing_sent {
                    LossReason::NoKeys
                } else {
                    LossReason::Truncated
                };
                self.dirs.get_mut(p).state = DirState::Opaque(why);
                self.replay(p, &mut ctx);
            }
            let d = self.dirs.get_mut(p);
            if !d.buf.is_empty() && !matches!(d.state, DirState::Dead(_)) {
                d.buf.clear();
                lost(ctx.out, p, None, LossReason::Truncated);
            }
            d.state = DirState::Dead(LossReason::Truncated);
        }
    }

    // -----------------------------------------------------------------------------------------
    // Framing

    fn feed(&mut self, from: Peer, bytes: &[u8], ctx: &mut Ctx) {
        let mut input = bytes;
        while !input.is_empty() {
            match self.dirs.get_mut(from).state {
                DirState::Holding(_) => {
                    self.hold(from, Held::Bytes(input.to_vec()), ctx);
                    return;
                }
                DirState::Dead(why) => {
                    lost(ctx.out, from, None, why);
                    return;
                }
                _ => {}
            }
            if self.dirs.get_mut(from).resync.is_some() {
                input = self.resync_step(from, input, ctx);
                continue;
            }
            let d = self.dirs.get_mut(from);
            if d.buf.is_empty() {
                // Fast path: the whole record lies in the pushed bytes.
                let Some(header) = input.first_chunk::<5>() else {
                    d.buf.extend_from_slice(input);
                    return;
                };
                let len = match check_header(header) {
                    Ok(len) => len,
                    Err(problem) => {
                        self.bad_header(from, problem, header, ctx);
                        input = input.get(1..).unwrap_or_default();
                        continue;
                    }
                };
                let Some((rec, rest)) = input.split_at_checked(5 + len) else {
                    d.buf.extend_from_slice(input);
                    return;
                };
                input = rest;
                if let Step::HoldThis = self.record(from, rec, ctx) {
                    self.hold(from, Held::Bytes(rec.to_vec()), ctx);
                }
                continue;
            }
            // Slow path: complete the buffered record.
            if d.buf.len() < 5 {
                let n = (5 - d.buf.len()).min(input.len());
                d.buf.extend_from_slice(input.get(..n).unwrap_or_default());
                input = input.get(n..).unwrap_or_default();
                if d.buf.len() < 5 {
                    return;
                }
            }
            let Some(header) = d.buf.first_chunk::<5>().copied() else {
                return;
            };
            let len = match check_header(&header) {
                Ok(len) => len,
                Err(problem) => {
                    // Scan from the byte after the bad header's first.
                    let rest = d.buf.split_off(1);
                    d.buf = rest;
                    self.bad_header(from, problem, &header, ctx);
                    continue;
                }
            };
            let n = (5 + len - d.buf.len()).min(input.len());
            d.buf.extend_from_slice(input.get(..n).unwrap_or_default());
            input = input.get(n..).unwrap_or_default();
            if d.buf.len() < 5 + len {
                return;
            }
            let mut rec = std::mem::take(&mut d.buf);
            if let Step::HoldThis = self.record(from, &rec, ctx) {
                self.hold(from, Held::Bytes(rec.clone()), ctx);
            }
            // Give the allocation back for the next partial record.
            rec.clear();
            if self.dirs.get_mut(from).buf.is_empty() {
                self.dirs.get_mut(from).buf = rec;
            }
        }
    }

    /// A header that is not TLS: at the very start, the connection is not TLS; later, the
    /// direction resynchronises as after a gap.
    fn bad_header(&mut self, from: Peer, problem: TlsProblem, header: &[u8; 5], ctx: &mut Ctx) {
        if self.phase == Phase::Start && !self.dirs.get(from).framed {
            self.problem(
                TlsProblem::NotTls,
                format!("first bytes {header:02x?}"),
                ctx,
            );
            self.phase = Phase::Stopped;
            for p in Peer::ALL {
                self.dirs.get_mut(p).buf.clear();
                self.dirs.get_mut(p).state = DirState::Dead(LossReason::Stopped);
            }
            lost(ctx.out, from, None, LossReason::Stopped);
            return;
        }
        self.problem(
            problem,
            format!("{} header {header:02x?}", from.as_str()),
            ctx,
        );
        self.start_resync(from, ctx);
    }

    // -----------------------------------------------------------------------------------------
    // Records

    fn record(&mut self, from: Peer, rec: &[u8], ctx: &mut Ctx) -> Step {
        let Some((header, payload)) = rec.split_first_chunk::<5>() else {
            return Step::Done;
        };
        let typ = header[0];
        self.dirs.get_mut(from).framed = true;
        match &self.dirs.get_mut(from).state {
            DirState::Clear => self.clear_record(from, header, payload, ctx),
            DirState::Decrypting(_) => {
                self.protected_record(from, header, payload, ctx);
                Step::Done
            }
            DirState::Opaque(why) => {
                let why = *why;
                self.opaque_record(from, typ, payload, why, ctx);
                Step::Done
            }
            DirState::Holding(_) => Step::HoldThis,
            DirState::Dead(why) => {
                lost(ctx.out, from, None, *why);
                Step::Done
            }
        }
    }

    fn clear_record(
        &mut self,
        from: Peer,
        header: &[u8; 5],
        payload: &[u8],
        ctx: &mut Ctx,
    ) -> Step {
        match header[0] {
            CHANGE_CIPHER_SPEC => {
                match self.phase {
                    // RFC 8446 §5: a compatibility ChangeCipherSpec is dropped unprotected.
                    Phase::Tls13 | Phase::HelloRetry => {}
                    _ => {
                        self.dirs.get_mut(from).ccs = true;
                        self.dirs.get_mut(from).state = DirState::Holding(HoldAt::AfterCcs);
                        self.try_release(from, ctx);
                    }
                }
                Step::Done
            }
            ALERT => {
                self.alerts(from, payload, ctx);
                Step::Done
            }
            HANDSHAKE => {
                // Until a ClientHello is seen, only a ClientHello can be read: anything else
                // (the server's stream pushed first) waits for it.
                if self.phase == Phase::Start && payload.first() != Some(&hs::CLIENT_HELLO) {
                    self.dirs.get_mut(from).state = DirState::Holding(HoldAt::Record);
                    return Step::HoldThis;
                }
                self.handshake_bytes(from, payload, false, ctx);
                Step::Done
            }
            APPLICATION_DATA => match self.phase {
                Phase::Tls13 => match self.keys13(from, ctx.keys) {
                    Keys::Ready(p) => {
                        self.install(from, p);
                        self.protected_record(from, header, payload, ctx);
                        Step::Done
                    }
                    Keys::Unsupported => {
                        self.dirs.get_mut(from).state = DirState::Opaque(LossReason::Unsupported);
                        self.opaque_record(
                            from,
                            APPLICATION_DATA,
                            payload,
                            LossReason::Unsupported,
                            ctx,
                        );
                        Step::Done
                    }
                    Keys::Missing if !self.limits.hold_when_keys_missing => {
                        self.keys_missing(ctx);
                        self.dirs.get_mut(from).state = DirState::Opaque(LossReason::NoKeys);
                        self.opaque_record(
                            from,
                            APPLICATION_DATA,
                            payload,
                            LossReason::NoKeys,
                            ctx,
                        );
                        Step::Done
                    }
                    Keys::Missing => {
                        self.keys_missing(ctx);
                        self.dirs.get_mut(from).state = DirState::Holding(HoldAt::Record);
                        Step::HoldThis
                    }
                    Keys::NotYet => {
                        self.dirs.get_mut(from).state = DirState::Holding(HoldAt::Record);
                        Step::HoldThis
                    }
                },
                // Protected data before the ServerHello was pushed (or 0-RTT early data).
                Phase::Start | Phase::AwaitServerHello | Phase::HelloRetry => {
                    self.dirs.get_mut(from).state = DirState::Holding(HoldAt::Record);
                    Step::HoldThis
                }
                Phase::Unsupported => {
                    self.dirs.get_mut(from).state = DirState::Opaque(LossReason::Unsupported);
                    self.opaque_record(
                        from,
                        APPLICATION_DATA,
                        payload,
                        LossReason::Unsupported,
                        ctx,
                    );
                    Step::Done
                }
                Phase::Tls12 | Phase::Stopped => {
                    self.problem(
                        TlsProblem::UnexpectedRecord,
                        format!("application data in the clear from the {}", from.as_str()),
                        ctx,
                    );
                    lost(ctx.out, from, None, LossReason::Stopped);
                    Step::Done
                }
            },
            // Heartbeat (RFC 6520): nothing of the story.
            _ => Step::Done,
        }
    }

    fn protected_record(&mut self, from: Peer, header: &[u8; 5], payload: &[u8], ctx: &mut Ctx) {
        let typ = header[0];
        let tls13 = self.phase == Phase::Tls13;
        if typ == CHANGE_CIPHER_SPEC {
            if tls13 {
                return; // RFC 8446 §5: compatibility ChangeCipherSpec.
            }
            // A second ChangeCipherSpec in TLS 1.2 ends a renegotiation we did not follow.
            self.stop(
                TlsProblem::Renegotiation,
                "ChangeCipherSpec on an encrypted connection",
                ctx,
            );
            return;
        }
        if tls13 && typ != APPLICATION_DATA {
            if typ == ALERT {
                // An unprotected alert (a peer that failed before it had keys).
                self.alerts(from, payload, ctx);
            } else if typ != HEARTBEAT {
                self.problem(
                    TlsProblem::UnexpectedRecord,
                    format!("clear record type {typ} in TLS 1.3"),
                    ctx,
                );
            }
            return;
        }
        let d = self.dirs.get_mut(from);
        let DirState::Decrypting(p) = &d.state else {
            return;
        };
        // The plaintext goes into its own allocation, which becomes the event's data.
        let mut data = Vec::with_capacity(payload.len());
        let seq = d.seq;
        d.seq = d.seq.wrapping_add(1);
        match p.open(seq, header, payload, &mut data) {
            Ok(opened) => {
                data.truncate(opened.len);
                self.inner(from, opened.typ, data, ctx);
            }
            Err(_) => {
                let len = match self.suite {
                    Some(s) if !s.tls13 => s.tls12_plaintext_len(payload.len()),
                    _ => None,
                };
                if !d.auth_failed_reported {
                    d.auth_failed_reported = true;
                    let detail = format!(
                        "{} record {seq} ({} bytes): wrong key or damaged",
                        from.as_str(),
                        payload.len()
                    );
                    // The first protected handshake record failing ends the visible handshake.
                    d.hs_done = true;
                    ctx.out.push(TlsEvent::Problem {
                        kind: TlsProblem::AuthFailed,
                        detail,
                    });
                    self.check_established(ctx);
                }
                lost(ctx.out, from, len, LossReason::AuthFailed);
            }
        }
    }

    /// A decrypted record, by its (inner) content type.
    fn inner(&mut self, from: Peer, typ: u8, data: Vec<u8>, ctx: &mut Ctx) {
        match typ {
            APPLICATION_DATA => {
                if !data.is_empty() {
                    ctx.out.push(TlsEvent::Plaintext { from, data });
                }
            }
            HANDSHAKE => self.handshake_bytes(from, &data, true, ctx),
            ALERT => self.alerts(from, &data, ctx),
            HEARTBEAT => {}
            _ => self.problem(
                TlsProblem::UnexpectedRecord,
                format!("inner content type {typ} from the {}", from.as_str()),
                ctx,
            ),
        }
    }

    /// A record that cannot be read: application data is lost; a TLS 1.2 ChangeCipherSpec
    /// still tells where the handshake is.
    fn opaque_record(
        &mut self,
        from: Peer,
        typ: u8,
        payload: &[u8],
        why: LossReason,
        ctx: &mut Ctx,
    ) {
        match typ {
            CHANGE_CIPHER_SPEC => {
                self.dirs.get_mut(from).ccs = true;
                self.check_established(ctx);
            }
            APPLICATION_DATA => {
                let len = match self.suite {
                    Some(s) if !s.tls13 => s.tls12_plaintext_len(payload.len()),
                    _ => None,
                };
                lost(ctx.out, from, len, why);
            }
            // Encrypted handshake and alerts: nothing to show.
            _ => {}
        }
    }

    fn alerts(&mut self, from: Peer, payload: &[u8], ctx: &mut Ctx) {
        for a in payload.chunks_exact(2) {
            let (level, description) = (
                a.first().copied().unwrap_or(0),
                a.get(1).copied().unwrap_or(0),
            );
            ctx.out.push(if description == 0 {
                TlsEvent::CloseNotify { from }
            } else {
                TlsEvent::Alert {
                    from,
                    level,
                    description,
                }
            });
        }
    }

    // -----------------------------------------------------------------------------------------
    // Handshake

    fn handshake_bytes(&mut self, from: Peer, data: &[u8], encrypted: bool, ctx: &mut Ctx) {
        let mut pieces = Vec::new();
        self.dirs
            .get_mut(from)
            .hs
            .feed(data, self.limits.max_handshake_message, &mut pieces);
        for piece in pieces {
            match piece {
                Piece::Message(typ, body) => {
                    self.handshake_message(from, typ, &body, encrypted, ctx)
                }
                Piece::TooLong(typ, len) => self.problem(
                    TlsProblem::HandshakeTooLong,
                    format!("handshake message {typ} of {len} bytes skipped"),
                    ctx,
                ),
            }
        }
    }

    fn handshake_message(
        &mut self,
        from: Peer,
        typ: u8,
        body: &[u8],
        encrypted: bool,
        ctx: &mut Ctx,
    ) {
        let from_server = self.info.client == Some(from.other());
        let established = self.dirs.iter().all(|d| d.hs_done);
        match typ {
            hs::CLIENT_HELLO => self.client_hello(from, body, established, ctx),
            hs::SERVER_HELLO => self.server_hello(from, body, established, ctx),
            hs::NEW_SESSION_TICKET if from_server && self.phase == Phase::Tls12 => {
                if let Some(ticket) = hs::tls12_ticket(body) {
                    match self.master {
                        Some(m) => ctx.cache.insert_ticket(ticket, &m),
                        None if self.pending_tickets.len() < 4 => {
                            self.pending_tickets.push(ticket.to_vec())
                        }
                        None => {}
                    }
                }
            }
            hs::ENCRYPTED_EXTENSIONS if from_server => {
                if let Some(alpn) = hs::encrypted_extensions_alpn(body) {
                    self.info.alpn = Some(alpn);
                }
            }
            hs::CERTIFICATE if from_server => {
                if let Some(cert) = hs::leaf_certificate(body, self.phase == Phase::Tls13) {
                    self.info.certificate = Some(cert);
                }
                self.server_full = true;
            }
            hs::CERTIFICATE_REQUEST if from_server => {
                self.info.client_certificate_requested = true;
                self.server_full = true;
            }
            hs::SERVER_KEY_EXCHANGE | hs::SERVER_HELLO_DONE if from_server => {
                self.server_full = true;
            }
            hs::FINISHED if encrypted => {
                let d = self.dirs.get_mut(from);
                d.hs_done = true;
                if self.phase == Phase::Tls13 && d.epoch == Epoch::Handshake {
                    // The next record uses the application traffic secret (RFC 8446 §7.3).
                    d.epoch = Epoch::Application;
                    d.state = DirState::Clear;
                }
                self.check_established(ctx);
            }
            hs::KEY_UPDATE if encrypted && self.phase == Phase::Tls13 => self.key_update(from, ctx),
            hs::HELLO_REQUEST => {
                // A server may ask; renegotiation only starts with the client's ClientHello.
            }
            _ => {}
        }
    }

    fn client_hello(&mut self, from: Peer, body: &[u8], established: bool, ctx: &mut Ctx) {
        match self.phase {
            Phase::Start => {
                let Some(ch) = hs::parse_client_hello(body) else {
                    self.problem(
                        TlsProblem::BadHandshake,
                        "ClientHello not parsed".into(),
                        ctx,
                    );
                    return;
                };
                self.info.client = Some(from);
                self.info.client_random = Some(ch.random);
                self.info.sni = ch.sni.clone();
                self.info.alpn_offered = ch.alpn.clone();
                self.ch = Some(ch);
                self.phase = Phase::AwaitServerHello;
            }
            // The second ClientHello (RFC 8446 §4.1.2): the key log uses the first's random.
            Phase::HelloRetry if self.info.client == Some(from) => {
                self.phase = Phase::AwaitServerHello;
            }
            Phase::Tls12 | Phase::Tls13 if established => self.stop(
                TlsProblem::Renegotiation,
                "ClientHello on an established connection",
                ctx,
            ),
            _ => self.problem(
                TlsProblem::BadHandshake,
                format!("unexpected ClientHello from the {}", from.as_str()),
                ctx,
            ),
        }
    }

    fn server_hello(&mut self, from: Peer, body: &[u8], established: bool, ctx: &mut Ctx) {
        if self.phase != Phase::AwaitServerHello || self.info.client != Some(from.other()) {
            if established {
                self.stop(
                    TlsProblem::Renegotiation,
                    "ServerHello on an established connection",
                    ctx,
                );
            } else {
                self.problem(
                    TlsProblem::BadHandshake,
                    format!("unexpected ServerHello from the {}", from.as_str()),
                    ctx,
                );
            }
            return;
        }
        let Some(sh) = hs::parse_server_hello(body) else {
            self.problem(
                TlsProblem::BadHandshake,
                "ServerHello not parsed".into(),
                ctx,
            );
            return;
        };
        let version = sh.version();
        self.info.version = Some(version);
        self.info.cipher_suite = Some(CipherSuite {
            id: sh.suite,
            name: suite::suite_name(sh.suite),
        });
        if sh.is_retry_request() {
            self.info.hello_retry_request = true;
            self.phase = Phase::HelloRetry;
            return;
        }
        self.info.server_random = Some(sh.random);
        self.info.session_id = sh.session_id.clone();
        self.info.alpn = sh.alpn.clone().or(self.info.alpn.take());
        let ch_etm = self.ch.as_ref().is_some_and(|c| c.etm);
        let ch_ems = self.ch.as_ref().is_some_and(|c| c.ems);
        let lookup = suite::lookup(sh.suite);
        self.phase = match (version, lookup) {
            (0x0304, Lookup::Supported(s)) if s.tls13 => {
                self.suite = Some(s);
                if sh.psk {
                    self.info.resumed = Some(Resumption::Psk);
                }
                Phase::Tls13
            }
            (0x0303, Lookup::Supported(s)) if !s.tls13 => {
                self.suite = Some(s);
                self.info.extended_master_secret = ch_ems && sh.ems;
                self.info.encrypt_then_mac = ch_etm && sh.etm && s.bulk.is_cbc();
                Phase::Tls12
            }
            (0x0303 | 0x0304, _) => {
                self.problem(
                    TlsProblem::UnsupportedCipherSuite,
                    format!("{} ({:#06x})", suite::suite_name(sh.suite), sh.suite),
                    ctx,
                );
                Phase::Unsupported
            }
            _ => {
                self.problem(
                    TlsProblem::UnsupportedVersion,
                    format!("{} ({version:#06x})", suite::version_name(version)),
                    ctx,
                );
                Phase::Unsupported
            }
        };
        self.sh = Some(sh);
    }

    fn key_update(&mut self, from: Peer, ctx: &mut Ctx) {
        let Some(suite) = self.suite else { return };
        let d = self.dirs.get_mut(from);
        let next = crate::crypt::next_traffic_secret(suite.hash, &d.secret);
        match next.as_deref().and_then(|s| Protector::tls13(&suite, s)) {
            Some(p) => {
                d.secret = next.unwrap_or_default();
                d.state = DirState::Decrypting(Box::new(p));
                d.seq = 0;
                self.info.key_updates += 1;
            }
            None => self.problem(
                TlsProblem::BadHandshake,
                "KeyUpdate: no next secret".into(),
                ctx,
            ),
        }
    }

    /// Renegotiation or a protocol violation: both directions stop, the rest is lost.
    fn stop(&mut self, kind: TlsProblem, detail: &str, ctx: &mut Ctx) {
        self.problem(kind, detail.to_string(), ctx);
        self.phase = Phase::Stopped;
        for d in &mut self.dirs.0 {
            d.state = DirState::Dead(LossReason::Stopped);
            d.buf.clear();
            d.resync = None;
        }
    }

    fn check_established(&mut self, ctx: &mut Ctx) {
        if self.established_sent {
            return;
        }
        let all_done = self.dirs.iter().all(|d| d.hs_done);
        let implied = match self.phase {
            // Without keys the Finished messages cannot be read: both ChangeCipherSpecs mark
            // the end of the TLS 1.2 handshake.
            Phase::Tls12 | Phase::Unsupported => {
                !self.info.decrypting && self.dirs.iter().all(|d| d.ccs)
            }
            // TLS 1.3 without keys shows nothing after the ServerHello.
            Phase::Tls13 => self.keys_missing_sent && !self.info.decrypting,
            _ => false,
        };
        if all_done || implied {
            self.established_sent = true;
            ctx.out.push(TlsEvent::Established);
        }
    }

    fn keys_missing(&mut self, ctx: &mut Ctx) {
        if !self.keys_missing_sent {
            self.keys_missing_sent = true;
            ctx.out.push(TlsEvent::KeysMissing);
            self.check_established(ctx);
        }
    }

    fn problem(&mut self, kind: TlsProblem, detail: String, ctx: &mut Ctx) {
        if self.problems_sent & kind.bit() == 0 {
            self.problems_sent |= kind.bit();
            ctx.out.push(TlsEvent::Problem { kind, detail });
        }
    }

    // -----------------------------------------------------------------------------------------
    // Keys

    fn install(&mut self, from: Peer, p: Box<Protector>) {
        let d = self.dirs.get_mut(from);
        d.state = DirState::Decrypting(p);
        d.seq = 0;
        self.info.decrypting = true;
    }

    /// TLS 1.2 keys of `from` (RFC 5246 §6.3), with the master secret from the key log or,
    /// for an abbreviated handshake, from the session cache.
    fn keys12(&mut self, from: Peer, keys: &KeyLog, cache: &mut SessionCache) -> Keys {
        let (Some(ch), Some(sh), Some(suite)) = (&self.ch, &self.sh, self.suite) else {
            return Keys::NotYet;
        };
        let Some(client) = self.info.client else {
            return Keys::NotYet;
        };
        // Abbreviated (RFC 5246 §7.3) when the server's ChangeCipherSpec came before any
        // message of a full handshake.
        let abbreviated = if self.server_full {
            Some(false)
        } else if self.dirs.get(client.other()).ccs {
            Some(true)
        } else {
            None
        };
        let sid_echo = !sh.session_id.is_empty() && sh.session_id == ch.session_id;
        if abbreviated == Some(true) {
            // With a ticket the server may echo the client's session ID too (RFC 5077 §3.4).
            let by_ticket = ch
                .ticket
                .as_deref()
                .is_some_and(|t| !sid_echo || cache.by_ticket(t).is_some());
            self.info.resumed = Some(if by_ticket {
                Resumption::Ticket
            } else {
                Resumption::SessionId
            });
        }
        let master = match self.master {
            Some(m) => m,
            None => {
                let from_cache = || {
                    if abbreviated != Some(true) {
                        return None;
                    }
                    ch.ticket
                        .as_deref()
                        .and_then(|t| cache.by_ticket(t))
                        .or_else(|| {
                            sid_echo
                                .then(|| cache.by_session_id(&sh.session_id))
                                .flatten()
                        })
                        .copied()
                };
                match keys.master_secret(&ch.random).copied().or_else(from_cache) {
                    Some(m) => m,
                    None if abbreviated.is_none() => return Keys::NotYet,
                    None => return Keys::Missing,
                }
            }
        };
        let etm = ch.etm && sh.etm && suite.bulk.is_cbc();
        let Some((c, s)) = Protector::tls12(&suite, &master, &ch.random, &sh.random, etm) else {
            return Keys::Unsupported;
        };
        if self.master.is_none() {
            // Later connections may resume this session (vsftpd's require_ssl_reuse).
            cache.insert_session_id(&sh.session_id, &master);
            for t in self.pending_tickets.drain(..) {
                cache.insert_ticket(&t, &master);
            }
            self.master = Some(master);
        }
        Keys::Ready(Box::new(if from == client { c } else { s }))
    }

    /// TLS 1.3 keys of `from` for its current epoch (RFC 8446 §7.3).
    fn keys13(&mut self, from: Peer, keys: &KeyLog) -> Keys {
        let (Some(ch), Some(suite), Some(client)) = (&self.ch, self.suite, self.info.client) else {
            return Keys::NotYet;
        };
        let Some(secrets) = keys.secrets(&ch.random) else {
            return Keys::Missing;
        };
        let d = self.dirs.get_mut(from);
        let secret = match (d.epoch, from == client) {
            (Epoch::Handshake, true) => &secrets.client_handshake,
            (Epoch::Handshake, false) => &secrets.server_handshake,
            (Epoch::Application, true) => &secrets.client_traffic0,
            (Epoch::Application, false) => &secrets.server_traffic0,
        };
        let Some(secret) = secret else {
            return Keys::Missing;
        };
        match Protector::tls13(&suite, secret) {
            Some(p) => {
                d.secret = secret.clone();
                Keys::Ready(Box::new(p))
            }
            // A secret of the wrong length for this suite's hash: not this connection's.
            None => Keys::Missing,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Holding

    fn hold(&mut self, from: Peer, chunk: Held, ctx: &mut Ctx) {
        let n = match &chunk {
            Held::Bytes(b) => b.len(),
            Held::Gap(_) => 16,
        };
        let d = self.dirs.get_mut(from);
        match (d.held.back_mut(), chunk) {
            // Small pushes are joined, so the queue does not grow by one entry per byte.
            (Some(Held::Bytes(last)), Held::Bytes(b)) if last.len() < 64 << 10 => {
                last.extend_from_slice(&b)
            }
            (_, chunk) => d.held.push_back(chunk),
        }
        self.held_bytes += n;
        if self.held_bytes > self.limits.max_held_bytes {
            self.problem(
                TlsProblem::HoldLimit,
                format!(
                    "more than {} bytes held waiting for keys",
                    self.limits.max_held_bytes
                ),
                ctx,
            );
            for p in Peer::ALL {
                if let DirState::Holding(_) = self.dirs.get_mut(p).state {
                    self.dirs.get_mut(p).state = DirState::Opaque(LossReason::HoldLimit);
                    self.replay(p, ctx);
                }
            }
        }
    }

    /// Feeds the held bytes of `from` again, in order, with its current state.
    fn replay(&mut self, from: Peer, ctx: &mut Ctx) {
        let d = self.dirs.get_mut(from);
        let chunks = std::mem::take(&mut d.held);
        for c in &chunks {
            self.held_bytes -= match c {
                Held::Bytes(b) => b.len(),
                Held::Gap(_) => 16,
            }
            .min(self.held_bytes);
        }
        for c in chunks {
            match c {
                Held::Bytes(b) => self.feed(from, &b, ctx),
                Held::Gap(n) => self.gap_inner(from, n, ctx),
            }
        }
    }

    fn release_all(&mut self, ctx: &mut Ctx) {
        // Releasing one direction can unblock the other (its ServerHello); two rounds each.
        for _ in 0..2 {
            for p in Peer::ALL {
                self.try_release(p, ctx);
            }
        }
    }

    /// A holding direction whose keys (or handshake) are now known goes on.
    fn try_release(&mut self, from: Peer, ctx: &mut Ctx) {
        let DirState::Holding(at) = self.dirs.get_mut(from).state else {
            return;
        };
        let next = match (at, self.phase) {
            (_, Phase::Start | Phase::AwaitServerHello) => return,
            // After a HelloRetryRequest the connection is TLS 1.3: the ChangeCipherSpec was
            // for compatibility, and the second ClientHello follows in the clear.
            (HoldAt::AfterCcs, Phase::HelloRetry | Phase::Tls13) => DirState::Clear,
            (HoldAt::Record, Phase::HelloRetry) => return,
            (HoldAt::AfterCcs, Phase::Tls12) => match self.keys12(from, ctx.keys, ctx.cache) {
                Keys::Ready(p) => {
                    self.info.decrypting = true;
                    self.dirs.get_mut(from).seq = 0;
                    DirState::Decrypting(p)
                }
                Keys::NotYet => return,
                Keys::Missing => {
                    self.keys_missing(ctx);
                    if self.limits.hold_when_keys_missing {
                        self.check_established(ctx);
                        return;
                    }
                    DirState::Opaque(LossReason::NoKeys)
                }
                Keys::Unsupported => DirState::Opaque(LossReason::Unsupported),
            },
            (HoldAt::Record, Phase::Tls13) => match self.keys13(from, ctx.keys) {
                Keys::NotYet => return,
                Keys::Missing => {
                    self.keys_missing(ctx);
                    if self.limits.hold_when_keys_missing {
                        return;
                    }
                    DirState::Clear // the record is replayed and goes opaque
                }
                Keys::Ready(_) | Keys::Unsupported => DirState::Clear,
            },
            (HoldAt::Record, Phase::Tls12) => DirState::Clear,
            (_, Phase::Unsupported) => DirState::Opaque(LossReason::Unsupported),
            (_, Phase::Stopped) => DirState::Dead(LossReason::Stopped),
        };
        self.dirs.get_mut(from).state = next;
        self.check_established(ctx);
        self.replay(from, ctx);
    }

    // -----------------------------------------------------------------------------------------
    // Gaps and resynchronisation

    fn gap_inner(&mut self, from: Peer, len: u64, ctx: &mut Ctx) {
        match self.dirs.get_mut(from).state {
            DirState::Holding(_) => self.hold(from, Held::Gap(len), ctx),
            DirState::Dead(why) => lost(ctx.out, from, None, why),
            DirState::Opaque(_) => {
                // Nothing decrypts here anyway: framing is not worth recovering.
                lost(ctx.out, from, None, LossReason::Gap);
                self.dirs.get_mut(from).buf.clear();
                self.dirs.get_mut(from).state = DirState::Dead(LossReason::Gap);
            }
            DirState::Clear => {
                self.problem(
                    TlsProblem::GapInHandshake,
                    format!("{len} bytes of the {}'s handshake lost", from.as_str()),
                    ctx,
                );
                lost(ctx.out, from, None, LossReason::Gap);
                self.dirs.get_mut(from).buf.clear();
                self.dirs.get_mut(from).state = DirState::Dead(LossReason::Gap);
            }
            DirState::Decrypting(_) => {
                lost(ctx.out, from, None, LossReason::Gap);
                self.dirs.get_mut(from).buf.clear();
                self.start_resync(from, ctx);
            }
        }
    }

    fn start_resync(&mut self, from: Peer, ctx: &mut Ctx) {
        let d = self.dirs.get_mut(from);
        d.hs.reset();
        match d.state {
            DirState::Decrypting(_) => {
                if d.resync.is_none() {
                    d.resync = Some(Resync { scanned: 0 });
                }
            }
            _ => {
                // Without keys a header cannot be confirmed: the rest is lost.
                d.buf.clear();
                d.state = DirState::Dead(LossReason::Gap);
                lost(ctx.out, from, None, LossReason::Gap);
            }
        }
    }

    /// Looks for the next record after a gap; returns the input not consumed.
    fn resync_step<'a>(&mut self, from: Peer, input: &'a [u8], ctx: &mut Ctx) -> &'a [u8] {
        let tls13 = self.phase == Phase::Tls13;
        let min_len = self.suite.map_or(17, |s| s.min_record_len());
        let tries = self.limits.resync_records;
        let d = self.dirs.get_mut(from);
        let room = MAX_RECORD.saturating_sub(d.buf.len());
        let (now, rest) = input.split_at(room.min(input.len()));
        d.buf.extend_from_slice(now);
        loop {
            let Some(Resync { scanned }) = d.resync.as_mut() else {
                break;
            };
            // The first position that could start a protected record.
            let found = (0..d.buf.len()).find(|&p| match d.buf.get(p..p + 5) {
                Some(&[t, 3, 3, a, b]) => {
                    let len = u16::from_be_bytes([a, b]) as usize;
                    (t == APPLICATION_DATA || (!tls13 && (t == ALERT || t == HANDSHAKE)))
                        && len >= min_len
                        && len <= MAX_CIPHERTEXT
                }
                Some(_) => false,
                // Too close to the end to tell: wait for more bytes.
                None => true,
            });
            let pos = found.unwrap_or(d.buf.len());
            *scanned += pos;
            d.buf.drain(..pos);
            let Some(header) = d.buf.first_chunk::<5>().copied() else {
                break;
            };
            let len = u16::from_be_bytes([header[3], header[4]]) as usize;
            let Some(payload) = d.buf.get(5..5 + len) else {
                break; // the candidate is not complete yet
            };
            let DirState::Decrypting(p) = &d.state else {
                break;
            };
            let mut data = Vec::with_capacity(len);
            let hit = (0..=tries).find_map(|k| {
                let seq = d.seq.wrapping_add(k);
                p.open(seq, &header, payload, &mut data)
                    .ok()
                    .map(|o| (seq, o))
            });
            match hit {
                Some((seq, opened)) => {
                    d.seq = seq.wrapping_add(1);
                    d.resync = None;
                    let after = d.buf.split_off(5 + len);
                    d.buf.clear();
                    data.truncate(opened.len);
                    self.inner(from, opened.typ, data, ctx);
                    // Bytes after the record are ordinary stream bytes again.
                    self.feed(from, &after, ctx);
                    return rest;
                }
                None => {
                    *scanned += 1;
                    d.buf.drain(..1);
                }
            }
            if *scanned > self.limits.resync_scan_bytes {
                break;
            }
        }
        let d = self.dirs.get_mut(from);
        if d.resync
            .as_ref()
            .is_some_and(|r| r.scanned > self.limits.resync_scan_bytes)
        {
            d.resync = None;
            d.buf.clear();
            d.state = DirState::Dead(LossReason::ResyncFailed);
            self.problem(
                TlsProblem::ResyncFailed,
                format!("no record of the {} decrypts after a gap", from.as_str()),
                ctx,
            );
            lost(ctx.out, from, None, LossReason::ResyncFailed);
            return &[];
        }
        rest
    }
}

/// Checks a record header (RFC 5246 §6.2.1): a known content type, major version 3, and a
/// length within the limit. Returns the payload length.
fn check_header(h: &[u8; 5]) -> Result<usize, TlsProblem> {
    let len = u16::from_be_bytes([h[3], h[4]]) as usize;
    if !(CHANGE_CIPHER_SPEC..=HEARTBEAT).contains(&h[0]) || h[1] != 3 || h[2] > 4 {
        return Err(TlsProblem::BadRecordHeader);
    }
    if len > MAX_CIPHERTEXT {
        return Err(TlsProblem::RecordTooLarge);
    }
    Ok(len)
}

/// Appends a loss, merged with the previous event when it is a loss of the same direction
/// and reason.
fn lost(out: &mut Vec<TlsEvent>, from: Peer, len: Option<u64>, why: LossReason) {
    if let Some(TlsEvent::Lost {
        from: f,
        len: l,
        why: w,
    }) = out.last_mut()
        && *f == from
        && *w == why
    {
        *l = match (*l, len) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        return;
    }
    out.push(TlsEvent::Lost { from, len, why });
}

/// Cheap test: do these first bytes look like a TLS ClientHello (handshake record, version
/// 3.x, handshake type 1)?
pub fn looks_like_client_hello(first: &[u8]) -> bool {
    matches!(first, [HANDSHAKE, 3, 0..=4, _, _, hs::CLIENT_HELLO, ..])
}
