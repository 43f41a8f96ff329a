//! A transfer: one data connection and the command that caused it, and its state machine
//! (RFC 959 §3.2 establishing data connections, §3.3 data connection management, §4.2 and
//! §5.4 the replies a transfer command gets).
//!
//! The data connection and the control dialogue move independently: with PASV the client
//! often connects before it sends RETR, in active mode the server may connect before the 150
//! is seen, and a 226 often arrives a packet before the sender's FIN. So the state is where the
//! data connection stands, and in each of those states what the control connection said so far.
//! [`Transfer::on`] is the one transition; the analyzer routes inputs to it and wires its
//! [`TransferOutput`]. The verdict on an ended transfer is in [`crate::ftp::verdict`].

use crate::event::{AnnouncedBy, DataMode, LinkRule, Reply, SessionId, TransferId};
use crate::flow::{Dir, FlowKey, PerDir};
use crate::frame::Timestamp;
use crate::ftp::command::TransferCommand;
use crate::ftp::path;
use crate::ftp::reply_info;
use std::net::SocketAddr;

#[derive(Debug, Clone)]
pub struct BoundCommand {
    pub command: TransferCommand,
    pub verb: Vec<u8>,
    pub path: Option<Vec<u8>>,
    pub full_path: Option<Vec<u8>>,
    pub offset: u64,
    pub transfer_type: Option<u8>,
}

/// Where a transfer stands (RFC 959 §3.2-3.3 for the data connection, §4.2/§5.4 for the
/// [`ControlReply`] each state carries). A transfer never sits in an ended state: ending is the
/// output [`TransferOutput::End`], on which the analyzer removes it and emits its verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferState {
    /// §3.2: no data connection yet. The command waits for the server to open it (active
    /// mode, "150 ... about to open data connection") or for the client to connect to the port
    /// it was given (passive mode).
    AwaitingDataConnection(ControlReply),
    /// §3.3: the data connection is open and the file's bytes cross it.
    DataConnectionOpen(ControlReply),
    /// §3.3: the data connection closed (in stream mode, the sender's close is the end of
    /// file), awaiting the final reply, or the command that claims it.
    DataConnectionClosed(DataClose, ControlReply),
}

/// What the control connection has said of the transfer so far (RFC 959 §4.2 reply classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlReply {
    /// No final reply yet: a 1yz preliminary reply leaves the command waiting.
    Awaiting,
    /// The client sent ABOR (§4.1.3) before the final reply came.
    AbortRequested,
    /// The final reply: 2yz positive completion, 4yz transient or 5yz permanent negative
    /// completion; `after_abort` when ABOR came before it.
    Final { code: u16, after_abort: bool },
}

impl ControlReply {
    pub fn final_code(self) -> Option<u16> {
        match self {
            ControlReply::Final { code, .. } => Some(code),
            ControlReply::Awaiting | ControlReply::AbortRequested => None,
        }
    }

    pub fn aborted(self) -> bool {
        matches!(
            self,
            ControlReply::AbortRequested
                | ControlReply::Final {
                    after_abort: true,
                    ..
                }
        )
    }
}

/// How the data connection ended, as far as the capture shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataClose {
    /// The side sending the bytes closed with a FIN: the end of the file (§3.3, stream mode).
    Fin,
    /// The side sending the bytes ended its TLS stream with close_notify (RFC 8446 §6.1,
    /// RFC 5246 §7.2.1): the end of the file, whatever TCP did after (curl answers the
    /// server's close_notify with a RST).
    TlsClose,
    /// A RST ended it.
    Reset,
    /// It ended with no FIN from the sender: idle, or the capture ended first.
    NoFin,
    /// It never opened: its SYN was answered by a RST (nothing listened there).
    Refused,
    /// It never opened: its SYN (perhaps retried) got no answer before the connection was
    /// given up (idle, or the capture ended).
    NeverAnswered,
}

/// The data connection of a transfer, as seen on the wire.
#[derive(Debug, Clone, Copy)]
pub struct DataConnection {
    pub key: FlowKey,
    pub initiator: SocketAddr,
    pub responder: SocketAddr,
    /// Whose bytes arrive as [`Dir::FromInitiator`]: the connection's own guess of who opened
    /// it, which a link made mid-stream may have corrected in `initiator`.
    pub sends_from_initiator: SocketAddr,
}

/// How a data connection was tied to its session's announced endpoint (PORT, 227, ...).
#[derive(Debug, Clone, Copy)]
pub struct Announcement {
    pub rule: LinkRule,
    pub mode: DataMode,
    pub announced_by: AnnouncedBy,
    pub announced: SocketAddr,
}

/// What the analyzer routes to a transfer.
#[derive(Debug)]
pub enum TransferInput<'a> {
    /// A transfer command (RETR, STOR, STOU, APPE, LIST, NLST, MLSD) was bound to it, with the
    /// size a SIZE reply announced for its file.
    Command {
        bound: BoundCommand,
        expected: Option<u64>,
    },
    /// Its data connection opened; `announcement` is None for an orphan (port 20, or between
    /// hosts that speak FTP).
    ConnectionOpened {
        conn: DataConnection,
        announcement: Option<Announcement>,
    },
    /// Bytes of the data connection, sent in `dir`; `control_tls`: its session's control
    /// connection is under TLS (AUTH TLS accepted).
    Bytes {
        dir: Dir,
        ts: Timestamp,
        data: &'a [u8],
        control_tls: bool,
    },
    /// `len` bytes sent in `dir` that the capture missed.
    Gap { dir: Dir, ts: Timestamp, len: u64 },
    /// `len` bytes of TLS application data sent in `dir` that no key decrypts: the transfer
    /// is encrypted data, its bytes counted, never the file's.
    Ciphertext { dir: Dir, ts: Timestamp, len: u64 },
    /// The side sending in `dir` closed its half (FIN). `control_open`: the session still runs.
    SenderClosed { dir: Dir, control_open: bool },
    /// The side sending in `dir` closed its TLS stream (close_notify), on a decrypted data
    /// connection.
    SenderTlsClosed { dir: Dir, control_open: bool },
    /// The data connection ended: both FINs, a RST, idle, or the capture's end (`fins` says
    /// which sides sent a FIN). `answered` is false when its SYN never got a SYN-ACK: it was
    /// an attempt, never a connection.
    ConnectionEnded {
        fins: PerDir<bool>,
        reset: bool,
        answered: bool,
        control_open: bool,
    },
    /// A 1yz reply to its command; `cwd` is the session's directory (for STOU's name).
    Preliminary {
        reply: &'a Reply,
        cwd: Option<&'a [u8]>,
    },
    /// The 2yz-5yz reply to its command.
    Final {
        reply: &'a Reply,
        cwd: Option<&'a [u8]>,
    },
    /// The client sent ABOR.
    Abort,
    /// Its control connection ended: nothing more will be said of it.
    ControlClosed,
    /// Another data connection of the session opened and no command was waiting for one.
    AnotherConnection,
    /// Another transfer command was sent and no connection was waiting to be claimed.
    AnotherCommand,
    /// The session announced a new data endpoint (PASV, PORT...): the next connection goes
    /// there, for the command that follows it.
    AnotherAnnouncement,
    /// The capture ended.
    CaptureEnd,
}

/// What the analyzer must wire after a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferOutput {
    /// Nothing outside the transfer changes.
    Nothing,
    /// The bytes (or gap) are the file's: pass them on as `TransferData` (`TransferGap`).
    Deliver,
    /// Bytes came the other way on a data connection that already carried some: report
    /// `data_both_directions` (given once per transfer: every segment of the other way says
    /// the same); they are not the file's.
    WrongDirection,
    /// Nothing more can be learnt: remove the transfer and emit its record.
    End,
    /// The data connection's first bytes are TLS: report `data_encrypted` (once: only the
    /// first bytes can tell); none of its bytes are the file's.
    Encrypted,
    /// Bytes held until the command was known can be routed now: take them with
    /// [`Transfer::take_held`] and route each again (the command, or the first way any bytes
    /// went, now decides which are the file's).
    Release,
}

/// Most bytes held on a data connection whose command is not known yet. Past it the first
/// direction to carry bytes is taken, as before the command could tell.
pub const MAX_HELD_BYTES: usize = 64 * 1024;

/// Bytes (or a gap) that crossed a data connection before its command was known, kept to be
/// routed once it is: which way the file flows depends on the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeldPiece {
    Bytes {
        dir: Dir,
        ts: Timestamp,
        data: Vec<u8>,
    },
    Gap {
        dir: Dir,
        ts: Timestamp,
        len: u64,
    },
}

/// What a transfer holds until its command is known (see [`HeldPiece`]).
#[derive(Debug, Clone, Default)]
struct Held {
    pieces: Vec<HeldPiece>,
    bytes: usize,
    /// Once released, nothing is held again: the direction is decided.
    released: bool,
}

#[derive(Debug, Clone)]
pub struct Transfer {
    pub id: TransferId,
    pub session: Option<SessionId>,
    pub start: Timestamp,
    pub last_ts: Timestamp,
    pub state: TransferState,
    pub command: Option<BoundCommand>,
    pub conn: Option<FlowKey>,
    pub initiator: Option<SocketAddr>,
    pub responder: Option<SocketAddr>,
    /// See [`DataConnection::sends_from_initiator`].
    pub sends_from_initiator: Option<SocketAddr>,
    pub link: LinkRule,
    pub mode: Option<DataMode>,
    pub announced_by: Option<AnnouncedBy>,
    pub announced: Option<SocketAddr>,
    /// Which direction of the data connection carries the bytes (the first that did).
    pub stream_dir: Option<Dir>,
    pub bytes: u64,
    pub gap_bytes: u64,
    pub expected_total: Option<u64>,
    /// The data connection speaks TLS: its bytes (both ways) are ciphertext, counted in
    /// `bytes` and `gap_bytes` but never the file's.
    pub encrypted: bool,
    held: Held,
    /// What its data connection's TLS showed (PROT P).
    pub tls: Option<Box<crate::event::TlsFacts>>,
    /// Bytes went the other way once: `WrongDirection` was given.
    wrong_way: bool,
    /// Its data connection's frames, as far as seen when the connection closed or the
    /// transfer ended.
    pub frames: Option<crate::event::FrameSpan>,
}

impl Transfer {
    pub fn new(id: TransferId, session: Option<SessionId>, ts: Timestamp) -> Self {
        Transfer {
            id,
            session,
            start: ts,
            last_ts: ts,
            state: TransferState::AwaitingDataConnection(ControlReply::Awaiting),
            command: None,
            conn: None,
            initiator: None,
            responder: None,
            sends_from_initiator: None,
            link: LinkRule::None,
            mode: None,
            announced_by: None,
            announced: None,
            stream_dir: None,
            bytes: 0,
            gap_bytes: 0,
            expected_total: None,
            encrypted: false,
            held: Held::default(),
            tls: None,
            wrong_way: false,
            frames: None,
        }
    }

    /// The one transition: applies `input` and says what the analyzer must wire.
    pub fn on(&mut self, input: TransferInput<'_>) -> TransferOutput {
        use ControlReply::{AbortRequested, Awaiting, Final};
        use TransferState::{AwaitingDataConnection, DataConnectionClosed, DataConnectionOpen};
        match (self.state, input) {
            // The command is known from now on, whatever the connection does: PASV clients
            // often connect before they send RETR.
            (_, TransferInput::Command { bound, expected }) => {
                self.command = Some(bound);
                if self.expected_total.is_none() {
                    self.expected_total = expected;
                }
                if self.held.pieces.is_empty() {
                    TransferOutput::Nothing
                } else {
                    TransferOutput::Release
                }
            }
            // §3.2: the connection it waited for opened (or opened first and created it).
            (
                AwaitingDataConnection(reply),
                TransferInput::ConnectionOpened { conn, announcement },
            ) => {
                self.conn = Some(conn.key);
                self.initiator = Some(conn.initiator);
                self.responder = Some(conn.responder);
                self.sends_from_initiator = Some(conn.sends_from_initiator);
                if let Some(a) = announcement {
                    self.link = a.rule;
                    self.mode = Some(a.mode);
                    self.announced_by = Some(a.announced_by);
                    self.announced = Some(a.announced);
                }
                self.state = DataConnectionOpen(reply);
                TransferOutput::Nothing
            }
            // A transfer leaves its session's waiting list when its connection opens, so the
            // analyzer never routes a second one here: the first is kept.
            (
                DataConnectionOpen(_) | DataConnectionClosed(..),
                TransferInput::ConnectionOpened { .. },
            ) => TransferOutput::Nothing,
            // RFC 4217 §9 (PROT P): a data connection under TLS opens with a handshake; its
            // bytes, both ways, are ciphertext and never the file's. Only its first bytes tell.
            (
                _,
                TransferInput::Bytes {
                    dir,
                    ts,
                    data,
                    control_tls,
                },
            ) if self.encrypted || (self.is_first_byte() && opens_tls(data, control_tls)) => {
                self.last_ts = ts;
                self.stream_dir.get_or_insert(dir);
                self.bytes += data.len() as u64;
                if self.encrypted {
                    return TransferOutput::Nothing;
                }
                self.encrypted = true;
                TransferOutput::Encrypted
            }
            // Before the command is known, which way the file flows is not: in an FTP bounce
            // the third host greets the server before the LIST arrives. Hold, bounded.
            (_, TransferInput::Bytes { dir, ts, data, .. }) if self.holds() => {
                self.last_ts = ts;
                self.held.bytes += data.len();
                let data = data.to_vec();
                self.held.pieces.push(HeldPiece::Bytes { dir, ts, data });
                self.release_if_full()
            }
            (_, TransferInput::Gap { dir, ts, len }) if self.holds() => {
                self.last_ts = ts;
                self.held.pieces.push(HeldPiece::Gap { dir, ts, len });
                self.release_if_full()
            }
            // The file's bytes flow one way (see `carries`); the rest is not the file.
            (_, TransferInput::Bytes { dir, ts, data, .. }) => {
                self.last_ts = ts;
                if !self.carries(dir) {
                    return self.wrong_way();
                }
                self.bytes += data.len() as u64;
                TransferOutput::Deliver
            }
            // TLS records no key decrypts (a key log was given, not for this connection).
            (_, TransferInput::Ciphertext { dir, ts, len }) => {
                self.last_ts = ts;
                self.stream_dir.get_or_insert(dir);
                self.bytes += len;
                if self.encrypted {
                    return TransferOutput::Nothing;
                }
                self.encrypted = true;
                TransferOutput::Encrypted
            }
            // Ciphertext the capture missed: counted, never the file's.
            (_, TransferInput::Gap { ts, len, .. }) if self.encrypted => {
                self.last_ts = ts;
                self.gap_bytes += len;
                TransferOutput::Nothing
            }
            // Missing bytes count like bytes: the verdict says how many never arrived.
            (_, TransferInput::Gap { dir, ts, len }) => {
                self.last_ts = ts;
                if !self.carries(dir) {
                    return self.wrong_way();
                }
                self.gap_bytes += len;
                TransferOutput::Deliver
            }
            // §3.3, stream mode: the sender's FIN is the end of the file. A 226 that came
            // first ends the transfer now; otherwise it waits for the final reply.
            (DataConnectionOpen(reply), TransferInput::SenderClosed { dir, control_open })
                if self.stream_dir.is_none_or(|d| d == dir) =>
            {
                self.state = DataConnectionClosed(DataClose::Fin, reply);
                self.end_if_settled(control_open)
            }
            // The receiver's FIN says nothing of the file; after the sender's, nothing new.
            (_, TransferInput::SenderClosed { .. }) => TransferOutput::Nothing,
            // The same for a TLS close: the sender's close_notify ends its plaintext.
            (DataConnectionOpen(reply), TransferInput::SenderTlsClosed { dir, control_open })
                if self.stream_dir.is_none_or(|d| d == dir) =>
            {
                self.state = DataConnectionClosed(DataClose::TlsClose, reply);
                self.end_if_settled(control_open)
            }
            (_, TransferInput::SenderTlsClosed { .. }) => TransferOutput::Nothing,
            // The connection ended before its sender's FIN: a RST, idle, or the capture's end.
            (
                DataConnectionOpen(reply),
                TransferInput::ConnectionEnded {
                    fins,
                    reset,
                    answered,
                    control_open,
                },
            ) => {
                let fin = match self.stream_dir {
                    Some(d) => *fins.get(d),
                    None => fins.iter().any(|(_, f)| *f),
                };
                // An attempt is not a transfer: a SYN refused or never answered opened nothing.
                let close = match (answered, reset, fin) {
                    (false, true, _) => DataClose::Refused,
                    (false, false, _) => DataClose::NeverAnswered,
                    (true, true, _) => DataClose::Reset,
                    (true, false, true) => DataClose::Fin,
                    (true, false, false) => DataClose::NoFin,
                };
                self.state = DataConnectionClosed(close, reply);
                self.end_if_settled(control_open)
            }
            // Already closed by its sender (or never opened): how the rest of the connection
            // ended changes nothing, but its session may be gone by now.
            (
                DataConnectionClosed(..) | AwaitingDataConnection(_),
                TransferInput::ConnectionEnded { control_open, .. },
            ) => self.end_if_settled(control_open),
            // §4.2: a 1yz leaves the command waiting; a 150 may give the size ("(N bytes)"),
            // and STOU's the name the server chose.
            (_, TransferInput::Preliminary { reply, cwd }) => {
                if self.expected_total.is_none()
                    && self
                        .command
                        .as_ref()
                        .is_some_and(|c| c.command == TransferCommand::Retr)
                {
                    self.expected_total = reply_info::size_from_150(&reply.text);
                }
                self.stou_name(reply, cwd);
                TransferOutput::Nothing
            }
            // The final reply with no connection yet: 425 "Can't open data connection" or 550
            // end it; a 2yz waits (the connection may still show in the capture).
            (AwaitingDataConnection(before), TransferInput::Final { reply, cwd }) => {
                self.stou_name(reply, cwd);
                self.state = AwaitingDataConnection(answered(before, reply.code));
                self.end_if_settled(true)
            }
            // The final reply while bytes still cross (226 before the FIN): wait for the close.
            (DataConnectionOpen(before), TransferInput::Final { reply, cwd }) => {
                self.stou_name(reply, cwd);
                self.state = DataConnectionOpen(answered(before, reply.code));
                TransferOutput::Nothing
            }
            // The final reply after the close: both sides have spoken.
            (DataConnectionClosed(close, before), TransferInput::Final { reply, cwd }) => {
                self.stou_name(reply, cwd);
                self.state = DataConnectionClosed(close, answered(before, reply.code));
                self.end_if_settled(true)
            }
            // §4.1.3 ABOR: a command still waiting for its final reply is aborted (426 then
            // 226 follow); a connection no command claimed is not.
            (AwaitingDataConnection(Awaiting), TransferInput::Abort) if self.command.is_some() => {
                self.state = AwaitingDataConnection(AbortRequested);
                TransferOutput::Nothing
            }
            (DataConnectionOpen(Awaiting), TransferInput::Abort) if self.command.is_some() => {
                self.state = DataConnectionOpen(AbortRequested);
                TransferOutput::Nothing
            }
            (DataConnectionClosed(close, Awaiting), TransferInput::Abort)
                if self.command.is_some() =>
            {
                self.state = DataConnectionClosed(close, AbortRequested);
                TransferOutput::Nothing
            }
            // Already answered, already aborted, or no command: ABOR is not about it.
            (_, TransferInput::Abort) => TransferOutput::Nothing,
            // §3.3: the server closes the data connection when the control connection closes;
            // nothing more will be said of a transfer still waiting.
            (_, TransferInput::ControlClosed) => self.end_if_settled(false),
            // Transfers are sequential: a closed connection no command claimed by the time
            // the next one opens never will be.
            (DataConnectionClosed(..), TransferInput::AnotherConnection) => TransferOutput::End,
            (_, TransferInput::AnotherConnection) => TransferOutput::Nothing,
            // A command answered with no connection will not get one now: the next connection
            // belongs to the next command.
            // So will a command answered with no connection once a new endpoint is announced
            // (a LIST answered 150/226 with no connection in the capture, then PASV, STOR: the
            // connection to the new port is the STOR's, not the LIST's).
            (
                AwaitingDataConnection(Final { .. }),
                TransferInput::AnotherCommand | TransferInput::AnotherAnnouncement,
            ) => TransferOutput::End,
            (_, TransferInput::AnotherCommand | TransferInput::AnotherAnnouncement) => {
                TransferOutput::Nothing
            }
            // The capture ended: the verdict is made on what was seen.
            (_, TransferInput::CaptureEnd) => TransferOutput::End,
        }
    }

    /// Whether nothing (bytes or a gap) has crossed the data connection yet.
    fn is_first_byte(&self) -> bool {
        self.stream_dir.is_none()
            && self.bytes == 0
            && self.gap_bytes == 0
            && self.held.pieces.is_empty()
    }

    /// Bytes not the file's: said once (issue 12: `data_both_directions` fired once per
    /// segment, 13 times for 3 connections).
    fn wrong_way(&mut self) -> TransferOutput {
        if std::mem::replace(&mut self.wrong_way, true) {
            TransferOutput::Nothing
        } else {
            TransferOutput::WrongDirection
        }
    }

    /// Whether `data`, the first bytes of the data connection, open a TLS handshake (see
    /// [`opens_tls`]).
    pub fn opens_tls_here(&self, data: &[u8], control_tls: bool) -> bool {
        self.is_first_byte() && opens_tls(data, control_tls)
    }

    /// Whether bytes must wait for the command to say which way the file flows.
    fn holds(&self) -> bool {
        self.command.is_none() && self.stream_dir.is_none() && !self.held.released
    }

    fn release_if_full(&self) -> TransferOutput {
        if self.held.bytes + self.held.pieces.len() > MAX_HELD_BYTES {
            TransferOutput::Release
        } else {
            TransferOutput::Nothing
        }
    }

    /// What was held before the command was known, in arrival order; nothing is held after.
    /// The analyzer routes each piece again (on [`TransferOutput::Release`], and before the
    /// transfer ends).
    pub fn take_held(&mut self) -> Vec<HeldPiece> {
        self.held.released = true;
        self.held.bytes = 0;
        std::mem::take(&mut self.held.pieces)
    }

    /// Whether bytes sent in `dir` are the file's. Once the command and the server's end are
    /// known, the command decides (RETR and listings flow from the server, STOR/APPE/STOU to
    /// it): in an FTP bounce the third host's greeting reaches the server first, the wrong
    /// way. Before that, the first direction to carry any bytes is taken.
    fn carries(&mut self, dir: Dir) -> bool {
        if let Some(file_dir) = self.file_dir() {
            self.stream_dir = Some(file_dir);
            return dir == file_dir;
        }
        *self.stream_dir.get_or_insert(dir) == dir
    }

    /// The direction the file's bytes take, when the command and the server's end are known.
    fn file_dir(&self) -> Option<Dir> {
        let upload = self.command.as_ref()?.command.is_upload();
        let from_server = self.dir_from(self.server_side()?)?;
        Some(if upload {
            from_server.other()
        } else {
            from_server
        })
    }

    /// The direction in which the bytes of `end` (one end of the data connection) arrive.
    pub fn dir_from(&self, end: SocketAddr) -> Option<Dir> {
        let first = self.sends_from_initiator?;
        let ends = [self.initiator?, self.responder?];
        if !ends.contains(&end) {
            None
        } else if end == first {
            Some(Dir::FromInitiator)
        } else {
            Some(Dir::FromResponder)
        }
    }

    /// Ends the transfer if nothing more can be learnt about it: with no connection, when a
    /// 4yz/5yz refused it; once closed, when its command got its final reply; and in either
    /// case once its control connection is gone. An open connection always has more to say.
    fn end_if_settled(&self, control_open: bool) -> TransferOutput {
        let settled = match self.state {
            TransferState::AwaitingDataConnection(reply) => {
                !control_open || reply.final_code().is_some_and(|c| c >= 400)
            }
            TransferState::DataConnectionOpen(_) => false,
            // Linked by what TLS let be seen: its command is inside the TLS and will never be
            // read, so its close is its end.
            TransferState::DataConnectionClosed(_, reply) => {
                !control_open
                    || (self.command.is_some() && reply.final_code().is_some())
                    || self.link == LinkRule::TlsPeers
            }
        };
        if settled {
            TransferOutput::End
        } else {
            TransferOutput::Nothing
        }
    }

    /// STOU's file is named by the server, in its 150 or 226 reply.
    fn stou_name(&mut self, reply: &Reply, cwd: Option<&[u8]>) {
        let Some(cmd) = self.command.as_mut() else {
            return;
        };
        if cmd.command != TransferCommand::Stou || cmd.path.is_some() {
            return;
        }
        if let Some(name) = reply_info::stou_name(&reply.text) {
            cmd.full_path = path::resolve(cwd, &name);
            cmd.path = Some(name);
        }
    }

    pub fn offset(&self) -> u64 {
        self.command.as_ref().map_or(0, |c| c.offset)
    }

    /// Bytes expected on the wire: the announced size less the REST offset.
    pub fn expected_bytes(&self) -> Option<u64> {
        self.expected_total.map(|t| t.saturating_sub(self.offset()))
    }
}

/// Whether a data connection whose first bytes are `first` speaks TLS: a TLS record header
/// (RFC 8446 §5.1, RFC 5246 §6.2.1) with content type 22 (handshake: a ClientHello opens every
/// TLS connection, RFC 4217 §9 puts one at the start of each PROT P data connection), major
/// version 3 and a length a record may have (at most 2^14 + 2048). When the control connection
/// is under TLS any record type counts (20-23): a capture may start after the handshake. A
/// file of clear bytes that happens to begin so is rare; fewer than 5 bytes never count.
pub fn opens_tls(first: &[u8], control_tls: bool) -> bool {
    let Some(&[content_type, major, minor, len_hi, len_lo]) = first.get(..5) else {
        return false;
    };
    let length = u16::from_be_bytes([len_hi, len_lo]);
    let type_ok = content_type == 22 || (control_tls && (20..=23).contains(&content_type));
    type_ok && major == 3 && minor <= 4 && length > 0 && length <= (1 << 14) + 2048
}

/// The reply state once the final reply `code` came.
fn answered(before: ControlReply, code: u16) -> ControlReply {
    let after_abort = match before {
        ControlReply::Awaiting => false,
        ControlReply::AbortRequested => true,
        ControlReply::Final { after_abort, .. } => after_abort,
    };
    ControlReply::Final { code, after_abort }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_is_told_by_its_first_record_header() {
        let client_hello = [22, 3, 1, 0, 200, 1, 0, 0, 196];
        let app_data = [23, 3, 3, 0, 40];
        let cases: &[(&[u8], bool, bool)] = &[
            (&client_hello, false, true),
            (&client_hello, true, true),
            // Application data opens a connection only when the capture missed its start,
            // which a session under TLS makes likely enough.
            (&app_data, false, false),
            (&app_data, true, true),
            (&[22, 3, 1, 0], false, false),
            (&[22, 2, 0, 0, 10], false, false),
            (&[22, 3, 5, 0, 10], false, false),
            (&[22, 3, 1, 0, 0], false, false),
            (&[22, 3, 1, 0x48, 1], false, false),
            (&[24, 3, 1, 0, 10], true, false),
            (b"hello, world", false, false),
            (b"", true, false),
        ];
        for (first, control_tls, want) in cases {
            assert_eq!(
                opens_tls(first, *control_tls),
                *want,
                "{first:?} {control_tls}"
            );
        }
    }

    // Under a TLS control connection a data connection picked up after its handshake opens
    // with application data: still ciphertext. Gaps after that are ciphertext too.
    #[test]
    fn under_tls_control_any_first_record_makes_the_connection_encrypted() {
        let bytes = |data, control_tls| TransferInput::Bytes {
            dir: Dir::FromResponder,
            ts: Timestamp::from_nanos(1),
            data,
            control_tls,
        };
        // Not encrypted: held until its command says which way the file flows.
        let mut clear = Transfer::new(1, Some(1), Timestamp::from_nanos(0));
        assert_eq!(
            clear.on(bytes(&[23, 3, 3, 0, 3, 1, 2, 3], false)),
            TransferOutput::Nothing
        );
        assert!(!clear.encrypted);
        assert_eq!(clear.take_held().len(), 1);
        let mut t = Transfer::new(2, Some(1), Timestamp::from_nanos(0));
        assert_eq!(
            t.on(bytes(&[23, 3, 3, 0, 3, 1, 2, 3], true)),
            TransferOutput::Encrypted
        );
        let other_way = TransferInput::Bytes {
            dir: Dir::FromInitiator,
            ts: Timestamp::from_nanos(2),
            data: b"more",
            control_tls: true,
        };
        assert_eq!(t.on(other_way), TransferOutput::Nothing);
        let gap = TransferInput::Gap {
            dir: Dir::FromInitiator,
            ts: Timestamp::from_nanos(3),
            len: 5,
        };
        assert_eq!(t.on(gap), TransferOutput::Nothing);
        assert_eq!((t.bytes, t.gap_bytes), (12, 5));
        assert_eq!(t.verdict().0, crate::event::TransferStatus::Encrypted);
    }

    fn data_connection(port: u16) -> DataConnection {
        let initiator: SocketAddr = ([192, 0, 2, 10], port).into();
        let responder: SocketAddr = ([192, 0, 2, 21], 50000).into();
        DataConnection {
            key: FlowKey::new(initiator, responder),
            initiator,
            responder,
            sends_from_initiator: initiator,
        }
    }

    // The analyzer never routes a second connection to a transfer (the conversation tests
    // cannot reach this arm): the first one is kept, open or closed.
    #[test]
    fn a_second_data_connection_is_ignored() {
        let mut t = Transfer::new(1, Some(1), Timestamp::from_nanos(0));
        let first = data_connection(41000);
        let opened = |conn| TransferInput::ConnectionOpened {
            conn,
            announcement: None,
        };
        assert_eq!(t.on(opened(first)), TransferOutput::Nothing);
        assert_eq!(
            t.on(opened(data_connection(41001))),
            TransferOutput::Nothing
        );
        assert_eq!(t.initiator, Some(first.initiator));
        assert_eq!(
            t.state,
            TransferState::DataConnectionOpen(ControlReply::Awaiting)
        );

        let ended = TransferInput::ConnectionEnded {
            fins: PerDir::new(false, false),
            reset: true,
            answered: true,
            control_open: true,
        };
        assert_eq!(t.on(ended), TransferOutput::Nothing);
        assert_eq!(
            t.on(opened(data_connection(41002))),
            TransferOutput::Nothing
        );
        assert_eq!(t.initiator, Some(first.initiator));
        assert_eq!(
            t.state,
            TransferState::DataConnectionClosed(DataClose::Reset, ControlReply::Awaiting)
        );
    }
}
