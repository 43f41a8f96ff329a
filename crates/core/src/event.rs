//! What the analyzer tells the world: [`Event`]s, the core's only output.
//!
//! Names here are part of the JSON Lines schema (`AnomalyKind::as_str`, `TransferStatus::as_str`,
//! `LinkRule::as_str` ...): they are stable snake_case words; add new ones, never rename.

use crate::frame::Timestamp;
use std::net::SocketAddr;

pub type SessionId = u64;
pub type TransferId = u64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    SessionStarted(SessionStart),
    /// A command with its replies (preliminary and final), or a reply no command asked for
    /// (the greeting, unsolicited 421s), emitted when the final reply arrives or the session
    /// ends without it.
    Exchange(Exchange),
    SessionEnded(SessionSummary),
    TransferStarted(TransferStart),
    /// Bytes of a transfer, in stream order, exactly as they crossed the data connection.
    TransferData {
        transfer: TransferId,
        data: Vec<u8>,
    },
    /// `len` bytes of the transfer are missing here (reassembly gap or snaplen cut).
    TransferGap {
        transfer: TransferId,
        len: u64,
    },
    TransferEnded(Box<TransferRecord>),
    Anomaly(Anomaly),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStart {
    pub session: SessionId,
    pub ts: Timestamp,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Why this connection was taken for FTP.
    pub detected_by: DetectedBy,
}

/// Declares an enum whose variants cross to the binary under stable names: the enum, its
/// `ALL` list (in declaration order, so `ALL[v.index()] == v`: the store's codec relies on it)
/// and `as_str`, from one table, so the list and the names cannot drift from the variants.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $str:literal, )* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $( $(#[$vmeta])* $variant, )* }

        impl $name {
            /// Every variant once, in declaration order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant, )* ];
            /// The stable name (JSON Lines, reports).
            pub fn as_str(self) -> &'static str {
                match self { $( $name::$variant => $str, )* }
            }
            /// The position in [`Self::ALL`].
            pub fn index(self) -> usize {
                self as usize
            }
        }
    };
}

pub(crate) use named_enum;

named_enum! {
    /// Why a connection was taken for an FTP control connection.
    pub enum DetectedBy {
        /// It was made to port 21.
        Port21 => "port_21",
        /// Its dialogue: a 220 greeting or a client command, seen on another port.
        Dialogue => "dialogue",
        /// Implicit FTPS: port 990, opened by a TLS ClientHello.
        ImplicitTls => "implicit_tls",
    }
}

named_enum! {
    /// Why a session (its control connection) ended.
    pub enum EndReason {
        /// FIN.
        Closed => "closed",
        /// RST.
        Reset => "reset",
        /// Idle longer than the idle timeout.
        Idle => "idle",
        /// Still open when the capture ended.
        CaptureEnd => "capture_end",
    }
}

named_enum! {
    /// The command (active mode) or the request whose reply (passive mode) announced a data
    /// endpoint. Named after the verb.
    pub enum AnnouncedBy {
        /// `PORT h1,h2,h3,h4,p1,p2` (RFC 959).
        Port => "PORT",
        /// `EPRT |proto|addr|port|` (RFC 2428).
        Eprt => "EPRT",
        /// `LPRT` (RFC 1639).
        Lprt => "LPRT",
        /// `PASV`, answered by 227 (RFC 959).
        Pasv => "PASV",
        /// `EPSV`, answered by 229 (RFC 2428).
        Epsv => "EPSV",
        /// `LPSV`, answered by 228 (RFC 1639).
        Lpsv => "LPSV",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub ts: Timestamp,
    /// The verb, upper-cased (verbs are case-insensitive, RFC 959 §5.3).
    pub verb: Vec<u8>,
    /// Everything after the first space, as sent.
    pub arg: Vec<u8>,
    /// The argument is a secret (PASS or ACCT of a non-anonymous user): mask it on output.
    pub secret: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub ts: Timestamp,
    pub code: u16,
    /// The reply text without the code: lines joined with `\n` (multi-line replies keep their
    /// inner lines as sent).
    pub text: Vec<u8>,
    /// Lines of a multi-line reply beyond `Limits::max_reply_lines`, counted but not kept.
    pub lines_dropped: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub session: SessionId,
    pub command: Option<CommandLine>,
    /// Preliminary (1xx) replies first, then the final one, if any arrived.
    pub replies: Vec<Reply>,
}

impl Exchange {
    /// The reply that completed the command (2xx-5xx), if any.
    pub fn final_reply(&self) -> Option<&Reply> {
        self.replies.iter().rev().find(|r| r.code >= 200)
    }

    /// When it happened: the command's time, or the first reply's for a reply with no
    /// command (the greeting).
    pub fn ts(&self) -> Option<Timestamp> {
        self.command
            .as_ref()
            .map(|c| c.ts)
            .or_else(|| self.replies.first().map(|r| r.ts))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginState {
    /// No USER/PASS seen answered.
    None,
    /// 230 seen.
    Ok,
    /// 530 (or 4xx/5xx to USER/PASS) seen and no 230.
    Failed,
}

impl LoginState {
    pub fn as_str(self) -> &'static str {
        match self {
            LoginState::None => "none",
            LoginState::Ok => "ok",
            LoginState::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    pub session: SessionId,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub start: Timestamp,
    pub end: Timestamp,
    pub user: Option<Vec<u8>>,
    pub password: Option<Vec<u8>>,
    /// The user is `anonymous` or `ftp`: the password is an e-mail address, shown as is.
    pub anonymous: bool,
    pub login: LoginState,
    pub login_attempts: u32,
    /// AUTH TLS/SSL was accepted (234), or the session was TLS from its first byte
    /// (implicit FTPS): the rest of the dialogue is ciphertext, readable with keys.
    pub tls: bool,
    /// What its TLS showed, with or without keys.
    pub tls_info: Option<Box<TlsFacts>>,
    pub commands: u64,
    pub transfers: u64,
    pub end_reason: EndReason,
    /// The control connection's frames (None when no frame of it was numbered).
    pub frames: Option<FrameSpan>,
}

/// The frames of a connection, by their number in the capture ([`crate::Frame::number`], as
/// Wireshark's `frame.number`): the first seen and the last seen up to its close. With its
/// 4-tuple it isolates the connection in Wireshark even when the 4-tuple was used again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameSpan {
    pub first: u64,
    pub last: u64,
}

impl FrameSpan {
    /// The span of one frame.
    pub fn at(number: u64) -> Self {
        FrameSpan {
            first: number,
            last: number,
        }
    }

    /// A frame of the connection was seen.
    pub fn extend(&mut self, number: u64) {
        if self.first == 0 {
            self.first = number;
        }
        self.first = self.first.min(number);
        self.last = self.last.max(number);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferStart {
    pub transfer: TransferId,
    pub session: Option<SessionId>,
    pub ts: Timestamp,
    /// The data connection's initiator and responder (None for a transfer that failed before
    /// any data connection).
    pub data_initiator: Option<SocketAddr>,
    pub data_responder: Option<SocketAddr>,
}

named_enum! {
    /// Which way a transfer's bytes went, from the client's point of view.
    pub enum Direction {
        /// RETR, and listings: server to client.
        Download => "download",
        /// STOR, STOU, APPE: client to server.
        Upload => "upload",
        /// A data connection no command explains.
        Unknown => "unknown",
    }
}

named_enum! {
    /// Who opened the data connection (RFC 959 section 3.2).
    pub enum DataMode {
        /// PASV, EPSV, LPSV: the client connects to the server.
        Passive => "passive",
        /// PORT, EPRT, LPRT: the server connects to the client.
        Active => "active",
    }
}

named_enum! {
    /// Which rule tied a data connection to the endpoint a session announced.
    pub enum LinkRule {
        /// The connection's address and port are the announced ones.
        Exact => "exact",
        /// The announced address differs (NAT), but the port matches and the connection runs
        /// between the control connection's own peers.
        NatPeers => "nat_peers",
        /// Only the announced port matches, within `Limits::port_only_window`.
        PortOnly => "port_only",
        /// Nothing was announced that could be read (AUTH TLS, no keys): the connection runs
        /// between the hosts of a session under TLS, while it runs, and opens with a TLS
        /// handshake. Its command is unknown.
        TlsPeers => "tls_peers",
        /// Not linked: an orphan data connection, or a command that never got one.
        None => "none",
    }
}

named_enum! {
    /// A transfer's verdict.
    pub enum TransferStatus {
        /// Every byte crossed, and the transfer ended as the server said it would.
        Complete => "complete",
        /// Bytes are missing (a gap, a cut frame, a reset, the capture's end).
        Truncated => "truncated",
        /// ABOR, or a 426 before the end.
        Aborted => "aborted",
        /// The server refused it, or no data connection came.
        Failed => "failed",
        /// The data connection spoke TLS (PROT P, RFC 4217 §9): what crossed is ciphertext,
        /// not the file, and without keys nothing can be said of the file's completeness.
        Encrypted => "encrypted",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRecord {
    pub transfer: TransferId,
    pub session: Option<SessionId>,
    pub start: Timestamp,
    pub end: Timestamp,
    /// RETR, STOR, STOU, APPE, LIST, NLST, MLSD; None for a data connection no command claimed.
    pub command: Option<Vec<u8>>,
    /// The argument as sent (for STOU, the name the server chose when it said so).
    pub path: Option<Vec<u8>>,
    /// `path` resolved against the working directory, when that is known.
    pub full_path: Option<Vec<u8>>,
    pub direction: Direction,
    pub mode: Option<DataMode>,
    /// The command that announced the endpoint, or asked for the reply that did.
    pub announced_by: Option<AnnouncedBy>,
    /// The endpoint as announced (for EPSV, the control server's address with the port).
    pub announced: Option<SocketAddr>,
    pub link: LinkRule,
    pub data_initiator: Option<SocketAddr>,
    pub data_responder: Option<SocketAddr>,
    /// TYPE in force: `A`, `I`, `E`, `L` (None when never set).
    pub transfer_type: Option<u8>,
    /// REST offset the transfer started at.
    pub offset: u64,
    /// Bytes that crossed and were captured.
    pub bytes: u64,
    /// What SIZE (213) or the 150 reply announced, less the REST offset.
    pub expected_bytes: Option<u64>,
    /// Bytes never captured inside the stream (reassembly gaps, snaplen cuts).
    pub gap_bytes: u64,
    /// Bytes known to be missing: gaps inside, and the shortfall against `expected_bytes`.
    pub missing_bytes: u64,
    pub status: TransferStatus,
    /// Why the status is what it is, in words.
    pub reason: String,
    /// The final reply to the transfer command.
    pub reply_code: Option<u16>,
    /// True for LIST, NLST and MLSD.
    pub listing: bool,
    /// What its data connection's TLS showed (PROT P), with or without keys.
    pub tls: Option<Box<TlsFacts>>,
    /// Its data connection's frames (None for a transfer that had no data connection).
    pub frames: Option<FrameSpan>,
}

/// What a TLS connection showed (RFC 5246 §7.4, RFC 8446 §4 handshakes): visible without keys,
/// except the TLS 1.3 certificate, which is encrypted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFacts {
    /// "TLS 1.2", "TLS 1.3"...
    pub version: Option<String>,
    /// IANA name, e.g. "TLS_AES_128_GCM_SHA256".
    pub cipher_suite: Option<String>,
    pub sni: Option<Vec<u8>>,
    pub alpn: Option<Vec<u8>>,
    /// How an earlier session was resumed: "session_id", "ticket" or "psk".
    pub resumed: Option<String>,
    /// Its records were decrypted with keys from a key log.
    pub decrypted: bool,
    /// A close_notify alert was seen (a TLS close, not a truncation).
    pub close_notify: bool,
    pub certificate: Option<TlsCertificate>,
}

/// The server's leaf certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsCertificate {
    pub subject: String,
    pub issuer: String,
    /// Validity, seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// SHA-256 of the certificate's DER.
    pub sha256: [u8; 32],
}

/// Connection attempts to one server: SYNs it never answered, or answered with a RST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptCount {
    /// Distinct attempts (4-tuples): a SYN retried on the same 4-tuple is the same attempt.
    pub attempts: u64,
    /// When the first and the last of them started.
    pub first: Timestamp,
    pub last: Timestamp,
}

/// Connection attempts (SYN never answered, or refused with a RST), counted per server rather
/// than reported one by one: they make no session, however many there are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionAttempts {
    /// Every attempt, to any server.
    pub total: u64,
    /// Per server (address and port), the first `Limits::max_attempt_servers` servers.
    pub servers: std::collections::BTreeMap<SocketAddr, AttemptCount>,
    /// Attempts to servers beyond those, together.
    pub other_servers: u64,
}

impl ConnectionAttempts {
    /// The servers counted one by one, the most attempted first (then by address).
    pub fn by_count(&self) -> Vec<(SocketAddr, AttemptCount)> {
        let mut servers: Vec<(SocketAddr, AttemptCount)> =
            self.servers.iter().map(|(s, c)| (*s, *c)).collect();
        servers.sort_by(|a, b| b.1.attempts.cmp(&a.1.attempts).then(a.0.cmp(&b.0)));
        servers
    }
}

/// Where an anomaly happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    pub ts: Timestamp,
    pub session: Option<SessionId>,
    /// The TCP connection (initiator, responder) when there is one.
    pub flow: Option<(SocketAddr, SocketAddr)>,
    pub detail: String,
}

macro_rules! anomaly_kinds {
    ($( $variant:ident => $name:literal, $doc:literal; )*) => {
        /// Every anomaly the core can report. `as_str` is the stable name in JSON.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum AnomalyKind { $( #[doc = $doc] $variant, )* }

        impl AnomalyKind {
            pub const ALL: &'static [AnomalyKind] = &[ $( AnomalyKind::$variant, )* ];
            pub fn as_str(self) -> &'static str {
                match self { $( AnomalyKind::$variant => $name, )* }
            }
            pub fn description(self) -> &'static str {
                match self { $( AnomalyKind::$variant => $doc, )* }
            }
            pub fn index(self) -> usize { self as usize }
        }
    };
}

anomaly_kinds! {
    LinkUnsupported => "link_unsupported", "frame of a link type ftpscope does not decode";
    FrameMalformed => "frame_malformed", "link, IP or TCP header cut short or invalid";
    SnaplenTruncated => "snaplen_truncated", "the capture kept fewer bytes than the frame had; the rest is a gap";
    IpFragmentTimeout => "ip_fragment_timeout", "an IP datagram's fragments never all arrived";
    IpFragmentOverflow => "ip_fragment_overflow", "too many fragmented datagrams or bytes held; some dropped";
    FlowTableFull => "flow_table_full", "too many TCP connections at once; the oldest without payload were forgotten to make room, or, when every one carries payload, the new one was not tracked";
    ConnectionAttempts => "connection_attempts", "connections to one server that never carried payload: SYN never answered, or refused; counted per server, no session";
    TcpMidstream => "tcp_midstream", "connection picked up without its handshake";
    TcpPortReuse => "tcp_port_reuse", "a new connection reused the 4-tuple of an open one";
    TcpOverlapMismatch => "tcp_overlap_mismatch", "overlapping segments carried different bytes; the first copy was kept";
    TcpOutOfWindow => "tcp_out_of_window", "segment far outside the expected sequence range, dropped";
    TcpOooOverflow => "tcp_ooo_overflow", "too many out-of-order bytes held; the hole was skipped";
    FlowIdleTimeout => "flow_idle_timeout", "connection idle too long; closed by the analyzer";
    LineTooLong => "line_too_long", "control line over the limit; cut";
    ControlGap => "control_gap", "bytes missing in the control dialogue; resynchronised at the next line";
    ReplyMalformed => "reply_malformed", "server line without a valid reply code";
    ReplyTooLong => "reply_too_long", "multi-line reply with too many lines; extra lines counted, not kept";
    CommandMalformed => "command_malformed", "client line that is not a plausible FTP command";
    PendingCommandsOverflow => "pending_commands_overflow", "too many commands waiting for replies; oldest dropped";
    UnsolicitedReply => "unsolicited_reply", "reply with no command waiting for it";
    AddressMalformed => "address_malformed", "PORT/EPRT/LPRT argument or 227/228/229 reply that does not parse";
    AddressMismatch => "address_mismatch", "announced data address differs from the control peers (NAT, proxy or FTP bounce)";
    ExpectationOverflow => "expectation_overflow", "too many announced data endpoints; oldest forgotten";
    DataBothDirections => "data_both_directions", "data connection carried bytes both ways; the second direction was ignored";
    DataWithoutCommand => "data_without_command", "data connection linked to a session but no transfer command claimed it";
    OrphanData => "orphan_data", "data connection that no announced endpoint explains";
    TransferWithoutEndpoint => "transfer_without_endpoint", "transfer command with no PASV/EPSV/PORT/EPRT before it";
    UnsupportedMode => "unsupported_mode", "MODE B or C: the data connection carries blocks, not plain file bytes";
    DataEncrypted => "data_encrypted", "data connection under TLS (PROT P, or it opened with a TLS handshake): ciphertext, not the file";
    TcpDataAfterFin => "tcp_data_after_fin", "payload at or after its sender's FIN (a keep-alive probe after the close); not data, dropped";
    TlsKeysMissing => "tls_keys_missing", "a key log was given but holds no key for this TLS connection: it stays encrypted";
    TlsUnreadable => "tls_unreadable", "TLS records that could not be decrypted or followed (failed authentication, a gap, an unsupported suite...)";
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Checks what the store's codec and the JSON rely on: `ALL[i].index() == i` (so every
    /// variant is listed once, in order), names unique, and each name the expected one.
    fn check_names<T: Copy + Eq + std::fmt::Debug>(
        all: &[T],
        index: fn(T) -> usize,
        as_str: fn(T) -> &'static str,
        expected: &[(T, &str)],
    ) {
        for (i, v) in all.iter().enumerate() {
            assert_eq!(index(*v), i, "{v:?} is listed at {i}");
        }
        let names: HashSet<&str> = all.iter().map(|v| as_str(*v)).collect();
        assert_eq!(names.len(), all.len(), "names are unique");
        let got: Vec<(T, &str)> = all.iter().map(|v| (*v, as_str(*v))).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn detected_by_names() {
        check_names(
            DetectedBy::ALL,
            DetectedBy::index,
            DetectedBy::as_str,
            &[
                (DetectedBy::Port21, "port_21"),
                (DetectedBy::Dialogue, "dialogue"),
                (DetectedBy::ImplicitTls, "implicit_tls"),
            ],
        );
    }

    #[test]
    fn end_reason_names() {
        check_names(
            EndReason::ALL,
            EndReason::index,
            EndReason::as_str,
            &[
                (EndReason::Closed, "closed"),
                (EndReason::Reset, "reset"),
                (EndReason::Idle, "idle"),
                (EndReason::CaptureEnd, "capture_end"),
            ],
        );
    }

    #[test]
    fn announced_by_names() {
        check_names(
            AnnouncedBy::ALL,
            AnnouncedBy::index,
            AnnouncedBy::as_str,
            &[
                (AnnouncedBy::Port, "PORT"),
                (AnnouncedBy::Eprt, "EPRT"),
                (AnnouncedBy::Lprt, "LPRT"),
                (AnnouncedBy::Pasv, "PASV"),
                (AnnouncedBy::Epsv, "EPSV"),
                (AnnouncedBy::Lpsv, "LPSV"),
            ],
        );
    }

    #[test]
    fn transfer_enum_names() {
        use Direction::*;
        check_names(
            Direction::ALL,
            Direction::index,
            Direction::as_str,
            &[
                (Download, "download"),
                (Upload, "upload"),
                (Unknown, "unknown"),
            ],
        );
        check_names(
            DataMode::ALL,
            DataMode::index,
            DataMode::as_str,
            &[(DataMode::Passive, "passive"), (DataMode::Active, "active")],
        );
        check_names(
            LinkRule::ALL,
            LinkRule::index,
            LinkRule::as_str,
            &[
                (LinkRule::Exact, "exact"),
                (LinkRule::NatPeers, "nat_peers"),
                (LinkRule::PortOnly, "port_only"),
                (LinkRule::TlsPeers, "tls_peers"),
                (LinkRule::None, "none"),
            ],
        );
        check_names(
            TransferStatus::ALL,
            TransferStatus::index,
            TransferStatus::as_str,
            &[
                (TransferStatus::Complete, "complete"),
                (TransferStatus::Truncated, "truncated"),
                (TransferStatus::Aborted, "aborted"),
                (TransferStatus::Failed, "failed"),
                (TransferStatus::Encrypted, "encrypted"),
            ],
        );
    }
}
