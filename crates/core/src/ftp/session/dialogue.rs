//! Reading the control dialogue into its session: what each command and reply changes, and
//! what the analyzer must wire for it, in the order it must happen.
//!
//! - Commands (RFC 959 §4.1): CWD, CDUP and PWD keep the directory; TYPE and MODE (§3.4,
//!   stream mode only); REST and SIZE (RFC 3659 §5, §4); the active endpoints PORT (§4.1.2),
//!   EPRT (RFC 2428 §2) and LPRT (RFC 1639); ABOR; and the transfer commands, bound with the
//!   session's directory, type, REST offset and SIZE hint.
//! - Replies (§4.2): pipelined commands are answered in order, a 1yz leaves its command waiting
//!   ([`pair_final_reply`] for the exceptions); 227 (§4.1.2), 229 (RFC 2428 §3) and 228
//!   (RFC 1639) announce passive endpoints; 234 to AUTH (RFC 4217 §4) puts the control
//!   connection under TLS from the next byte, 200 to CCC (RFC 4217 §12.3) takes it back out.
//!
//! A command is read in two steps because its transfer is the analyzer's to find:
//! [`Session::read_command`] applies it and says what to wire ([`CommandWire`]), the analyzer
//! wires it and binds the transfer ([`ReadCommand::bind`]), and [`Session::queue_command`]
//! queues it for its replies. A reply is read in one step, [`Session::reply`], whose
//! [`DialogueAction`]s the analyzer applies in order.
//!
//! Pipelining (§4.2: the server runs commands, and answers them, in order): a transfer command
//! sent while a command before it has no reply yet waits, and is bound when every command
//! before it has one ([`DialogueAction::BindTransfer`]), in the state the server ran it in:
//! the endpoint of a 227 that came after it was sent, the offset of a 350, the type of a 200.
//! Only once the server was heard: with the client's side alone no reply would ever come.
//! What still waits at the end is bound then.

use super::{Deferred, Pending, Session, SessionInput, SessionOutput};
use crate::event::{
    AnnouncedBy, AnomalyKind, CommandLine, DataMode, EndReason, Exchange, Reply, SessionId,
    SessionSummary, TransferId,
};
use crate::frame::Timestamp;
use crate::ftp::address;
use crate::ftp::command::{self, CommandKind, TransferCommand};
use crate::ftp::expect::{Expectation, ExpectationId};
use crate::ftp::line::{FramedLine, LineFramer};
use crate::ftp::path;
use crate::ftp::reply::{self, ReplyStep};
use crate::ftp::reply_info;
use crate::ftp::transfer::BoundCommand;
use crate::limits::Limits;
use std::net::{IpAddr, SocketAddr};

/// What the analyzer must do for a reply (or for the queueing of a command), in order.
#[derive(Debug)]
pub enum DialogueAction {
    /// Report an anomaly of the session, at the time of the command or reply.
    Anomaly(AnomalyKind, String),
    /// A command and its replies, or a reply alone, are complete: emit them.
    Exchange(Exchange),
    /// A 227, 228 or 229 announced a passive endpoint: expect its data connection, and give
    /// the expectation back with [`Session::remember_expectation`].
    Announce(Expectation),
    /// RFC 4217 §4: the control connection is TLS from its next byte.
    StartTls,
    /// RFC 4217 §12.3: CCC was accepted, the control connection is clear again.
    ClearAfterCcc,
    /// A reply (1yz or final) to the command of this transfer.
    TransferReply(TransferId, Reply),
    /// A transfer command sent before the replies to the commands ahead of it (pipelined) is
    /// bound now that they came: wire it as [`CommandWire::Transfer`] at the time it was sent,
    /// and give its transfer back with [`Session::bound_deferred`] and `number`.
    BindTransfer {
        number: u64,
        bound: BoundCommand,
        expected: Option<u64>,
        announced_any: bool,
        sent: Timestamp,
    },
}

/// What the analyzer must wire for a command before it is queued.
#[derive(Debug)]
pub enum CommandWire {
    Nothing,
    /// PORT, EPRT or LPRT announced an active endpoint: expect its data connection.
    Announce(Expectation),
    /// ABOR: every transfer of the session waiting for its final reply is aborted.
    AbortTransfers,
    /// A transfer command: claim a linked data connection or wait for one (RFC 959 §3.2).
    /// `announced_any`: an endpoint was announced before it, so a command without one is no
    /// surprise.
    Transfer {
        bound: BoundCommand,
        /// The size a SIZE reply gave for the file (RETR only).
        expected: Option<u64>,
        announced_any: bool,
    },
}

/// A command read and applied, waiting to be queued for its replies.
#[derive(Debug)]
pub struct ReadCommand {
    entry: Pending,
    anomalies: Vec<(AnomalyKind, String)>,
}

impl ReadCommand {
    /// The transfer the command was bound to, whose replies it forwards.
    pub fn bind(&mut self, transfer: Option<TransferId>) {
        self.entry.transfer = transfer;
    }
}

/// What is left of a session at its end, for the analyzer to emit and untie.
#[derive(Debug)]
pub struct SessionEnd {
    /// Commands still waiting for a reply, and replies still waiting for theirs.
    pub exchanges: Vec<Exchange>,
    /// Its endpoints still expected, to be forgotten.
    pub expectations: Vec<(u16, ExpectationId)>,
    /// Its transfers not ended yet: those waiting on the session first (commands awaiting a
    /// connection, connections awaiting a command), then the rest.
    pub transfers: Vec<TransferId>,
    pub summary: SessionSummary,
}

/// Which pending command a final reply answers ([`pair_final_reply`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReplyPairing {
    /// The command at the front of the queue, as replies come in order.
    Front,
    /// The command after it.
    Next,
    /// The front command is left with its preliminary reply, and the reply is paired again.
    RetireFront,
    /// None: an unsolicited reply.
    Unsolicited,
}

/// Which pending command a final reply answers. Replies come in command order, with two
/// exceptions after a command the server accepted with a 1yz (`front_preliminary`), which can
/// only end in a reply about its transfer (RFC 959 §5.4: 226, 250, 421, 425, 426, 451, 551,
/// 552 and kin):
/// - a 500-504 says a command was not understood, so it answers the next one (sent, or lost in
///   a gap, after the transfer command), or none: paired with the first it would resolve the
///   transfer wrongly and leave every later reply one command off;
/// - a 225 ("no transfer in progress") with ABOR next is ABOR's (RFC 959 ABOR: with the
///   transfer in progress the server answers it, 426, then ABOR, 226; with none, ABOR alone):
///   the transfer command never gets its final reply (pyftpdlib says 150, then fails to
///   connect, as in an FTP bounce), so it is retired as it stands; its transfer ends by its
///   data connection.
fn pair_final_reply(
    front_preliminary: bool,
    code: u16,
    pending: usize,
    next: Option<CommandKind>,
) -> ReplyPairing {
    match (front_preliminary, code) {
        (true, 225) if next == Some(CommandKind::Abor) => ReplyPairing::RetireFront,
        (true, 500..=504) if pending > 1 => ReplyPairing::Next,
        (true, 500..=504) => ReplyPairing::Unsolicited,
        _ => ReplyPairing::Front,
    }
}

impl Pending {
    /// The place of a command not read yet (lost in a gap), or of the greeting.
    pub(super) fn placeholder() -> Self {
        Pending {
            command: None,
            kind: CommandKind::Other,
            replies: Vec::new(),
            transfer: None,
            target: None,
            number: None,
            deferred: Deferred::No,
        }
    }

    fn exchange(self, session: SessionId) -> Exchange {
        Exchange {
            session,
            command: self.command,
            replies: self.replies,
        }
    }
}

impl Session {
    /// Frames bytes of the control connection into lines; the client's lines are commands, the
    /// server's are reply lines.
    pub fn frame(&mut self, from_client: bool, ts: Timestamp, bytes: &[u8]) -> Vec<FramedLine> {
        self.last_ts = ts;
        let mut lines = Vec::new();
        self.framer(from_client).push(bytes, &mut lines);
        lines
    }

    /// Bytes of the control connection the capture missed. A command was (most likely) lost
    /// in a client's gap and its reply will still come, so a place is held for it, to keep
    /// replies paired with the right commands (within `max_pending`, as any command). A reply
    /// the gap cut short is returned as it is.
    pub fn gap(
        &mut self,
        from_client: bool,
        ts: Timestamp,
        max_pending: usize,
        out: &mut Vec<DialogueAction>,
    ) -> Option<Reply> {
        self.last_ts = ts;
        self.framer(from_client).gap();
        if from_client {
            if self.enqueue(Pending::placeholder(), max_pending, out) {
                out.push(overflow(max_pending));
            }
            None
        } else {
            self.replies.gap()
        }
    }

    /// Queues a command's entry (or a lost command's place) for its replies. Past
    /// `max_pending` waiting, the oldest is given up as it stands, and true is returned for
    /// the caller to report it where its other anomalies go.
    fn enqueue(
        &mut self,
        entry: Pending,
        max_pending: usize,
        out: &mut Vec<DialogueAction>,
    ) -> bool {
        self.pending.push_back(entry);
        if self.pending.len() <= max_pending {
            return false;
        }
        // A place held for a greeting or a lost command that got no reply is no exchange.
        if let Some(dropped) = self.pending.pop_front() {
            // A transfer command given up still gets its transfer, as one bound when read.
            if let (Deferred::Waiting(tc), Some(command)) = (dropped.deferred, &dropped.command) {
                self.bind_now(tc, command, out);
            }
            if dropped.command.is_some() || !dropped.replies.is_empty() {
                out.push(DialogueAction::Exchange(dropped.exchange(self.id)));
            }
        }
        true
    }

    fn framer(&mut self, from_client: bool) -> &mut LineFramer {
        if from_client {
            &mut self.commands_in
        } else {
            &mut self.replies_in
        }
    }

    /// The control connection ended: the lines its framers still hold (client's, server's),
    /// unless it is under TLS, where nothing held is clear text.
    pub fn finish_lines(&mut self) -> (Vec<FramedLine>, Vec<FramedLine>) {
        let mut client = Vec::new();
        let mut server = Vec::new();
        if !self.is_protected() {
            self.commands_in.finish(&mut client);
            self.replies_in.finish(&mut server);
        }
        (client, server)
    }

    /// The connection ended inside a multi-line reply: what there is of it.
    pub fn finish_reply(&mut self) -> Option<Reply> {
        self.replies.finish()
    }

    /// A line from the server: a reply once its last line came (RFC 959 §4.2 multi-line
    /// replies); a line that is no reply is reported.
    pub fn reply_line(
        &mut self,
        ts: Timestamp,
        line: &[u8],
        max_lines: usize,
        out: &mut Vec<DialogueAction>,
    ) -> Option<Reply> {
        match self.replies.push_line(ts, line, max_lines) {
            ReplyStep::Complete(reply) => Some(reply),
            ReplyStep::Continues => None,
            ReplyStep::Malformed => {
                let shown: Vec<u8> = line.iter().take(64).copied().collect();
                let detail = format!("{:?}", String::from_utf8_lossy(&shown));
                out.push(DialogueAction::Anomaly(AnomalyKind::ReplyMalformed, detail));
                None
            }
        }
    }

    /// Applies a command line: the session's state, and what it remembers for later replies
    /// and transfers. What the analyzer must wire is returned beside it.
    pub fn read_command(&mut self, ts: Timestamp, line: &[u8]) -> (ReadCommand, CommandWire) {
        let (verb, arg) = command::split_command(line);
        self.commands += 1;
        let kind = command::kind_of(&verb);
        let mut entry = Pending::placeholder();
        entry.kind = kind;
        let mut anomalies: Vec<(AnomalyKind, String)> = Vec::new();
        if !command::looks_like_verb(&verb) {
            anomalies.push((
                AnomalyKind::CommandMalformed,
                format!("{:?}", String::from_utf8_lossy(&verb)),
            ));
        }
        let secret =
            self.on(SessionInput::Command { kind, arg: &arg }) == SessionOutput::SecretArgument;
        let wire = match kind {
            CommandKind::Cwd | CommandKind::Size => {
                entry.target =
                    path::resolve(self.cwd.as_deref(), &arg).or_else(|| Some(arg.clone()));
                CommandWire::Nothing
            }
            CommandKind::Rest => {
                entry.number = std::str::from_utf8(&arg)
                    .ok()
                    .and_then(|s| s.trim().parse().ok());
                CommandWire::Nothing
            }
            CommandKind::ActiveEndpoint(by) => {
                let parsed = match by {
                    AnnouncedBy::Port => address::parse_port_arg(&arg),
                    AnnouncedBy::Eprt => address::parse_eprt_arg(&arg),
                    // LPRT (`kind_of` makes no other verb an active endpoint).
                    _ => address::parse_lprt_arg(&arg),
                };
                match parsed {
                    Ok(announced) => {
                        let client = self.client.ip();
                        if announced.ip() != client && self.first_mismatch() {
                            anomalies.push(mismatch(by.as_str(), announced, "client", client));
                        }
                        CommandWire::Announce(self.announce(announced, DataMode::Active, by, ts))
                    }
                    Err(e) => {
                        anomalies.push((
                            AnomalyKind::AddressMalformed,
                            format!(
                                "{} {}: {}",
                                by.as_str(),
                                String::from_utf8_lossy(&arg),
                                e.name()
                            ),
                        ));
                        CommandWire::Nothing
                    }
                }
            }
            CommandKind::Abor => CommandWire::AbortTransfers,
            CommandKind::Transfer(tc) if self.runs_after_unanswered() => {
                entry.deferred = Deferred::Waiting(tc);
                CommandWire::Nothing
            }
            CommandKind::Transfer(tc) => {
                let announced_any = self.announced_any;
                let (bound, expected) = self.bind_command(tc, &verb, &arg);
                CommandWire::Transfer {
                    bound,
                    expected,
                    announced_any,
                }
            }
            _ => CommandWire::Nothing,
        };
        entry.command = Some(CommandLine {
            ts,
            verb,
            arg,
            secret,
        });
        (ReadCommand { entry, anomalies }, wire)
    }

    /// Queues a command read with [`Session::read_command`] for its replies. Past
    /// `max_pending` waiting, the oldest is given up as it stands.
    pub fn queue_command(
        &mut self,
        read: ReadCommand,
        max_pending: usize,
        out: &mut Vec<DialogueAction>,
    ) {
        let ReadCommand { entry, anomalies } = read;
        let overflowed = self.enqueue(entry, max_pending, out);
        out.extend(
            anomalies
                .into_iter()
                .map(|(kind, detail)| DialogueAction::Anomaly(kind, detail)),
        );
        if overflowed {
            out.push(overflow(max_pending));
        }
    }

    /// Applies a complete reply: it answers the command it pairs with (or none), moves the
    /// session's state, and says what the analyzer must do, in order.
    pub fn reply(&mut self, reply: Reply, limits: &Limits, out: &mut Vec<DialogueAction>) {
        self.heard_server = true;
        self.pair_reply(reply, limits, out);
        self.bind_answered(out);
    }

    /// Whether a transfer command read now is sent before the reply to a command ahead of it
    /// (pipelined). Only once the server was heard: in a capture of the client's side alone,
    /// no reply will ever come, and the command is bound as it is read.
    fn runs_after_unanswered(&self) -> bool {
        self.heard_server && self.pending.iter().any(|p| p.replies.is_empty())
    }

    /// Binds the deferred transfer commands that every command ahead of has a reply now.
    fn bind_answered(&mut self, out: &mut Vec<DialogueAction>) {
        for index in 0..self.pending.len() {
            self.bind_waiting(index, out);
            if self.pending.get(index).is_none_or(|p| p.replies.is_empty()) {
                break;
            }
        }
    }

    /// The connection ended: the transfer commands still waiting are bound as things stand,
    /// so that each still gets its transfer.
    pub fn bind_deferred_at_end(&mut self, out: &mut Vec<DialogueAction>) {
        for index in 0..self.pending.len() {
            self.bind_waiting(index, out);
        }
    }

    /// Binds the command at `index` of the queue if it is a transfer command waiting.
    fn bind_waiting(&mut self, index: usize, out: &mut Vec<DialogueAction>) {
        let Some(p) = self.pending.get(index) else {
            return;
        };
        let (Deferred::Waiting(tc), Some(command)) = (p.deferred, &p.command) else {
            return;
        };
        let command = command.clone();
        let number = self.bind_now(tc, &command, out);
        if let Some(p) = self.pending.get_mut(index) {
            p.deferred = Deferred::Binding(number);
        }
    }

    /// Binds a deferred transfer command in the session's state now and hands it to the
    /// analyzer: the number its transfer comes back with.
    fn bind_now(
        &mut self,
        tc: TransferCommand,
        command: &CommandLine,
        out: &mut Vec<DialogueAction>,
    ) -> u64 {
        self.deferred_bound += 1;
        let number = self.deferred_bound;
        let announced_any = self.announced_any;
        let (bound, expected) = self.bind_command(tc, &command.verb, &command.arg);
        out.push(DialogueAction::BindTransfer {
            number,
            bound,
            expected,
            announced_any,
            sent: command.ts,
        });
        number
    }

    /// The transfer the analyzer bound deferred command `number` to: its replies go there.
    pub fn bound_deferred(&mut self, number: u64, transfer: TransferId) {
        // Not found: given up (`enqueue`) before it was bound, so no reply will be its.
        if let Some(p) = self
            .pending
            .iter_mut()
            .find(|p| p.deferred == Deferred::Binding(number))
        {
            p.deferred = Deferred::No;
            p.transfer = Some(transfer);
        }
    }

    /// Pairs a complete reply with its command (see [`Session::reply`]).
    fn pair_reply(&mut self, reply: Reply, limits: &Limits, out: &mut Vec<DialogueAction>) {
        if reply.lines_dropped > 0 {
            let detail = format!("{} lines not kept", reply.lines_dropped);
            out.push(DialogueAction::Anomaly(AnomalyKind::ReplyTooLong, detail));
        }
        let index = loop {
            let Some(front) = self.pending.front_mut() else {
                self.unsolicited(reply, out);
                return;
            };
            if reply.code < 200 {
                // Preliminary: the command still waits for its final reply.
                front.replies.push(reply.clone());
                if let Some(tid) = front.transfer {
                    out.push(DialogueAction::TransferReply(tid, reply));
                }
                return;
            }
            let front_preliminary = !front.replies.is_empty();
            let next_kind = self.pending.get(1).map(|next| next.kind);
            match pair_final_reply(front_preliminary, reply.code, self.pending.len(), next_kind) {
                ReplyPairing::Front => break 0,
                ReplyPairing::Next => break 1,
                ReplyPairing::RetireFront => {
                    if let Some(retired) = self.pending.pop_front() {
                        out.push(DialogueAction::Exchange(retired.exchange(self.id)));
                    }
                    // The reply now meets the command it answers at the front.
                }
                ReplyPairing::Unsolicited => {
                    let detail = format!("{} after a preliminary reply", reply.code);
                    out.push(DialogueAction::Anomaly(
                        AnomalyKind::UnsolicitedReply,
                        detail,
                    ));
                    out.push(DialogueAction::Exchange(self.lone_reply(reply)));
                    return;
                }
            }
        };
        if let Some(done) = self.pending.remove(index) {
            self.complete(done, reply, limits, out);
        }
    }

    /// A reply nothing asked for: a greeting not expected (joined mid-stream) or a 421 is
    /// no anomaly, and moves the dialogue on.
    fn unsolicited(&mut self, reply: Reply, out: &mut Vec<DialogueAction>) {
        let expected = reply.code == 421 || (self.commands == 0 && reply.code >= 100);
        if reply.code >= 200 {
            self.on(SessionInput::Reply {
                to: None,
                code: reply.code,
            });
        }
        if !expected {
            let detail = format!("{}", reply.code);
            out.push(DialogueAction::Anomaly(
                AnomalyKind::UnsolicitedReply,
                detail,
            ));
        }
        out.push(DialogueAction::Exchange(self.lone_reply(reply)));
    }

    fn lone_reply(&self, reply: Reply) -> Exchange {
        Exchange {
            session: self.id,
            command: None,
            replies: vec![reply],
        }
    }

    /// A final reply completes command `done`.
    fn complete(
        &mut self,
        mut done: Pending,
        reply: Reply,
        limits: &Limits,
        out: &mut Vec<DialogueAction>,
    ) {
        let code = reply.code;
        let ok = (200..300).contains(&code);
        let mut anomalies: Vec<(AnomalyKind, String)> = Vec::new();
        let to = done.command.is_some().then_some(done.kind);
        let max_line = limits.max_line_len;
        let clear_after_ccc = done.kind == CommandKind::Ccc && ok;
        let start_tls = self.on(SessionInput::Reply { to, code }) == SessionOutput::Protected;
        if start_tls {
            // No clear line will be framed again: TLS starts with the next byte (the client
            // waits for the 234 to send its ClientHello, so the framers hold nothing of it).
            self.commands_in = LineFramer::new(max_line);
            self.replies_in = LineFramer::new(max_line);
        }
        match done.kind {
            CommandKind::Cwd if ok => {
                self.cwd = reply_info::path_from_250(&reply.text).or(done.target.take());
                // Longer than a control line: no server said so, it was built by relative
                // CWDs. Unknown, rather than a string that grows with every CWD.
                if self.cwd.as_ref().is_some_and(|d| d.len() > max_line) {
                    self.cwd = None;
                }
            }
            CommandKind::Cdup if ok => self.cwd = self.cwd.as_deref().map(path::parent),
            CommandKind::Pwd if code == 257 => {
                if let Some(dir) = reply_info::path_from_257(&reply.text) {
                    self.cwd = Some(dir);
                }
            }
            CommandKind::Type if ok => {
                let arg = done.command.as_ref().map_or(&[][..], |c| &c.arg[..]);
                self.transfer_type = arg
                    .iter()
                    .find(|b| !b.is_ascii_whitespace())
                    .map(u8::to_ascii_uppercase);
            }
            CommandKind::Mode if ok => {
                let arg = done.command.as_ref().map_or(&[][..], |c| &c.arg[..]);
                if !arg.first().is_some_and(|b| b.eq_ignore_ascii_case(&b'S')) {
                    anomalies.push((
                        AnomalyKind::UnsupportedMode,
                        String::from_utf8_lossy(arg).into_owned(),
                    ));
                }
            }
            CommandKind::Rest if code == 350 => self.rest = done.number,
            CommandKind::Size if code == 213 => {
                if let (Some(size), Some(target)) =
                    (reply_info::size_from_213(&reply.text), done.target.take())
                {
                    self.remember_size(target, size, limits.max_size_hints);
                }
            }
            CommandKind::PassiveRequest(by) if matches!(code, 227..=229) => {
                let server = self.server;
                let parsed = match code {
                    227 => address::parse_227_text(&reply.text),
                    229 => address::parse_229_text(&reply.text)
                        .map(|port| SocketAddr::new(server.ip(), port)),
                    _ => address::parse_228_text(&reply.text),
                };
                match parsed {
                    Ok(announced) => {
                        if announced.ip() != server.ip() && self.first_mismatch() {
                            anomalies.push(mismatch(code, announced, "server", server.ip()));
                        }
                        let exp = self.announce(announced, DataMode::Passive, by, reply.ts);
                        out.push(DialogueAction::Announce(exp));
                    }
                    Err(e) => anomalies.push((
                        AnomalyKind::AddressMalformed,
                        format!(
                            "{code} {}: {}",
                            String::from_utf8_lossy(&reply.text),
                            e.name()
                        ),
                    )),
                }
            }
            _ => {}
        }
        let transfer = done.transfer.map(|tid| (tid, reply.clone()));
        done.replies.push(reply);
        out.extend(
            anomalies
                .into_iter()
                .map(|(kind, detail)| DialogueAction::Anomaly(kind, detail)),
        );
        if start_tls {
            out.push(DialogueAction::StartTls);
        }
        if clear_after_ccc {
            out.push(DialogueAction::ClearAfterCcc);
        }
        // The virtual greeting entry carries no command; it is emitted like any other.
        out.push(DialogueAction::Exchange(done.exchange(self.id)));
        // After the exchange, so a transfer its final reply completes comes after the command.
        if let Some((tid, reply)) = transfer {
            out.push(DialogueAction::TransferReply(tid, reply));
        }
    }

    /// Whether this is the session's first address mismatch: it is said once a session.
    fn first_mismatch(&mut self) -> bool {
        !std::mem::replace(&mut self.mismatch_reported, true)
    }

    /// An endpoint announced by this session; from now on its data connections open the way
    /// `mode` says.
    fn announce(
        &mut self,
        announced: SocketAddr,
        mode: DataMode,
        announced_by: AnnouncedBy,
        ts: Timestamp,
    ) -> Expectation {
        self.announced_any = true;
        self.last_mode = Some(mode);
        Expectation {
            session: self.id,
            announced,
            mode,
            announced_by,
            ts,
            control_client: self.client,
            control_server: self.server,
        }
    }

    /// The analyzer expects an endpoint this session announced, as `id`. Past `max`, the
    /// oldest is given up and returned, for the analyzer to forget too.
    pub fn remember_expectation(
        &mut self,
        port: u16,
        id: ExpectationId,
        max: usize,
    ) -> Option<(u16, ExpectationId)> {
        self.expectations.push_back((port, id));
        if self.expectations.len() > max {
            self.expectations.pop_front()
        } else {
            None
        }
    }

    /// An expectation of this session matched a connection: it is no longer waited for.
    pub fn expectation_matched(&mut self, id: ExpectationId) {
        self.expectations.retain(|(_, x)| *x != id);
    }

    /// A transfer command's binding: its path resolved against the directory, the REST offset
    /// it consumes (RFC 3659 §5.5), the type, and the size a SIZE reply gave for it.
    fn bind_command(
        &mut self,
        command: TransferCommand,
        verb: &[u8],
        arg: &[u8],
    ) -> (BoundCommand, Option<u64>) {
        let offset = self.rest.take().unwrap_or(0);
        // Listing arguments often start with options ("-la pub", an `ls` habit servers
        // accept): the path is what follows them.
        let arg = if command.is_listing() {
            listing_path(arg)
        } else {
            arg
        };
        let (path, full_path) = if arg.is_empty() {
            let listed = command.is_listing().then(|| self.cwd.clone()).flatten();
            (None, listed)
        } else {
            (Some(arg.to_vec()), path::resolve(self.cwd.as_deref(), arg))
        };
        let expected = if command == TransferCommand::Retr {
            full_path
                .as_deref()
                .or(path.as_deref())
                .and_then(|k| self.size_hint(k))
        } else {
            None
        };
        let bound = BoundCommand {
            command,
            verb: verb.to_vec(),
            path,
            full_path,
            offset,
            transfer_type: self.transfer_type,
        };
        (bound, expected)
    }

    /// The session ends: what the analyzer must still emit and untie.
    pub fn end(mut self, end: Timestamp, reason: EndReason) -> SessionEnd {
        let id = self.id;
        let exchanges = self
            .pending
            .drain(..)
            .filter(|p| p.command.is_some() || !p.replies.is_empty())
            .map(|p| p.exchange(id))
            .collect();
        let expectations = self.expectations.drain(..).collect();
        // Those waiting on the session first, as ever, then the rest of its transfers.
        let mut transfers: Vec<TransferId> = self
            .awaiting_conn
            .drain(..)
            .chain(self.unclaimed.drain(..))
            .collect();
        let rest: Vec<_> = self
            .in_flight
            .drain(..)
            .filter(|tid| !transfers.contains(tid))
            .collect();
        transfers.extend(rest);
        let summary = self.summary(end.max(self.last_ts), reason);
        SessionEnd {
            exchanges,
            expectations,
            transfers,
            summary,
        }
    }
}

/// An announced address differs from the control connection's `peer` (client or server):
/// NAT, a proxy, or the bounce attack of RFC 2577.
fn mismatch(
    by: impl std::fmt::Display,
    announced: SocketAddr,
    peer: &str,
    ip: IpAddr,
) -> (AnomalyKind, String) {
    let detail = format!("{by} announces {announced}, {peer} is {ip} (reported once per session)");
    (AnomalyKind::AddressMismatch, detail)
}

/// More than `max_pending` commands waited for replies: the oldest was given up.
fn overflow(max_pending: usize) -> DialogueAction {
    let detail = format!("{max_pending} commands waiting");
    DialogueAction::Anomaly(AnomalyKind::PendingCommandsOverflow, detail)
}

/// Whether a line is kept as the first after a gap: only if it reads as a whole line (a known
/// verb, or a reply code); otherwise it is the tail of a line whose start was lost.
pub fn whole_after_gap(from_client: bool, line: &[u8]) -> bool {
    if from_client {
        command::is_known_verb(&command::split_command(line).0)
    } else {
        reply::reply_code(line).is_some()
    }
}

/// The path of a listing command's argument: what follows its leading options (words that
/// start with '-'), e.g. `pub` of `-la pub`; empty when there is none.
fn listing_path(arg: &[u8]) -> &[u8] {
    let mut rest = arg;
    while rest.first() == Some(&b'-') {
        let end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
        rest = rest.get(end..).unwrap_or(&[]);
        while let Some(tail) = rest.strip_prefix(b" ") {
            rest = tail;
        }
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_replies_pair_with_the_command_they_answer() {
        use ReplyPairing::*;
        let cases = [
            // In order, whatever the code, without a preliminary reply in front.
            ((false, 226, 2, Some(CommandKind::Abor)), Front),
            ((false, 500, 2, None), Front),
            ((false, 225, 2, Some(CommandKind::Abor)), Front),
            // After a 150: the transfer's own final reply.
            ((true, 226, 1, None), Front),
            ((true, 426, 2, Some(CommandKind::Abor)), Front),
            // After a 150: a 500 answers the next command, or none.
            ((true, 500, 2, None), Next),
            ((true, 504, 3, None), Next),
            ((true, 502, 1, None), Unsolicited),
            // After a 150, ABOR next: its 225 retires the transfer command.
            ((true, 225, 2, Some(CommandKind::Abor)), RetireFront),
            ((true, 225, 2, None), Front),
        ];
        for ((preliminary, code, pending, next), want) in cases {
            assert_eq!(
                pair_final_reply(preliminary, code, pending, next),
                want,
                "{code} with {pending} pending, front preliminary {preliminary}, next {next:?}"
            );
        }
    }

    // The analyzer ties transfers to a session through crate-private fields, so this order is
    // checked here rather than in tests/session_dialogue.rs.
    #[test]
    fn the_end_gives_the_transfers_waiting_on_the_session_first_then_the_rest_once() {
        let mut s = super::super::tests::session();
        s.in_flight.extend([1, 2, 3, 4, 5]);
        s.awaiting_conn.extend([4, 2]);
        s.unclaimed.extend([5]);
        let end = s.end(Timestamp::from_nanos(1), EndReason::Closed);
        assert_eq!(end.transfers, [4, 2, 5, 1, 3]);
    }

    #[test]
    fn a_listing_path_is_what_follows_the_options() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"-la pub", b"pub"),
            (b"-l -a  pub/sub dir", b"pub/sub dir"),
            (b"-la", b""),
            (b"-la ", b""),
            (b"pub", b"pub"),
            (b"", b""),
            (b"my-dir", b"my-dir"),
        ];
        for (arg, want) in cases {
            assert_eq!(listing_path(arg), *want, "{arg:?}");
        }
    }
}
