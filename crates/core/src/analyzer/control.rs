//! The control dialogue driven through the analyzer: finding FTP on a connection, framing its
//! lines, and applying each command and reply to the session (RFC 959 §4-5, RFC 2228 AUTH,
//! RFC 2428/1639 endpoints, RFC 3659 SIZE/REST).

use super::{Analyzer, host_pair};
use crate::event::{
    AnnouncedBy, AnomalyKind, CommandLine, DataMode, EndReason, Event, Exchange, Reply, SessionId,
};
use crate::flow::Dir;
use crate::flow::reassembly::Chunk;
use crate::frame::Timestamp;
use crate::ftp::address;
use crate::ftp::command::{self, CommandKind};
use crate::ftp::expect::Expectation;
use crate::ftp::line::{FramedLine, LineFramer};
use crate::ftp::path;
use crate::ftp::reply::{self, ReplyStep};
use crate::ftp::reply_info;
use crate::ftp::session::{Pending, Session, SessionInput, SessionOutput};
use crate::ftp::transfer::TransferInput;
use std::net::SocketAddr;

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

impl Analyzer {
    pub(super) fn control_chunk(&mut self, sid: SessionId, dir: Dir, ts: Timestamp, chunk: Chunk) {
        let Some(session) = self.sessions.get_mut(&sid) else {
            return;
        };
        if session.is_protected() {
            return;
        }
        session.last_ts = ts;
        let from_client = dir == session.client_dir;
        let flow = Some((session.client, session.server));
        let mut lines: Vec<FramedLine> = Vec::new();
        let framer = if from_client {
            &mut session.commands_in
        } else {
            &mut session.replies_in
        };
        match chunk {
            Chunk::Data(bytes) => framer.push(&bytes, &mut lines),
            Chunk::Gap(len) => {
                framer.gap();
                if from_client {
                    // A command was (most likely) lost in the gap; its reply will still come,
                    // so hold a place for it to keep replies paired with the right commands.
                    session.pending.push_back(Pending {
                        command: None,
                        kind: CommandKind::Other,
                        replies: Vec::new(),
                        transfer: None,
                        target: None,
                        number: None,
                    });
                }
                let cut_reply = if from_client {
                    None
                } else {
                    session.replies.gap()
                };
                let side = if from_client { "client" } else { "server" };
                self.anomaly(
                    AnomalyKind::ControlGap,
                    ts,
                    Some(sid),
                    flow,
                    format!("{len} bytes missing from the {side}"),
                );
                if let Some(reply) = cut_reply {
                    self.on_reply(sid, reply);
                }
            }
        }
        self.control_lines(sid, from_client, ts, lines);
    }

    fn control_lines(
        &mut self,
        sid: SessionId,
        from_client: bool,
        ts: Timestamp,
        lines: Vec<FramedLine>,
    ) {
        for line in lines {
            if self.sessions.get(&sid).is_none_or(Session::is_protected) {
                return;
            }
            if line.cut {
                let flow = self.sessions.get(&sid).map(|s| (s.client, s.server));
                let side = if from_client { "command" } else { "reply" };
                let detail = format!("{side} line over {} bytes", self.limits.max_line_len);
                self.anomaly(AnomalyKind::LineTooLong, ts, Some(sid), flow, detail);
            }
            if line.after_gap {
                // Keep the first line after a gap only if it reads as a whole line: a known
                // verb, or a reply code. Otherwise it is the tail of a line whose start was lost.
                let whole = if from_client {
                    command::is_known_verb(&command::split_command(&line.bytes).0)
                } else {
                    reply::reply_code(&line.bytes).is_some()
                };
                if !whole {
                    continue;
                }
            }
            if from_client {
                self.on_command(sid, ts, &line.bytes);
            } else {
                self.on_reply_line(sid, ts, &line.bytes);
            }
        }
    }

    fn on_command(&mut self, sid: SessionId, ts: Timestamp, line: &[u8]) {
        let (verb, arg) = command::split_command(line);
        let max_pending = self.limits.max_pending_commands;
        let max_exp = self.limits.max_expectations_per_session;
        let Some(session) = self.sessions.get_mut(&sid) else {
            return;
        };
        let flow = Some((session.client, session.server));
        session.commands += 1;
        let kind = command::kind_of(&verb);
        let mut pending = Pending {
            command: None,
            kind,
            replies: Vec::new(),
            transfer: None,
            target: None,
            number: None,
        };
        let mut anomalies: Vec<(AnomalyKind, String)> = Vec::new();
        if !command::looks_like_verb(&verb) {
            anomalies.push((
                AnomalyKind::CommandMalformed,
                format!("{:?}", String::from_utf8_lossy(&verb)),
            ));
        }
        let secret =
            session.on(SessionInput::Command { kind, arg: &arg }) == SessionOutput::SecretArgument;
        match kind {
            CommandKind::Cwd | CommandKind::Size => {
                pending.target =
                    path::resolve(session.cwd.as_deref(), &arg).or_else(|| Some(arg.clone()));
            }
            CommandKind::Rest => {
                pending.number = std::str::from_utf8(&arg)
                    .ok()
                    .and_then(|s| s.trim().parse().ok());
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
                        if announced.ip() != session.client.ip() && !session.mismatch_reported {
                            session.mismatch_reported = true;
                            anomalies.push((
                                AnomalyKind::AddressMismatch,
                                format!(
                                    "{} announces {announced}, client is {} (reported once per session)",
                                    by.as_str(),
                                    session.client.ip()
                                ),
                            ));
                        }
                        let exp = Expectation {
                            session: sid,
                            announced,
                            mode: DataMode::Active,
                            announced_by: by,
                            ts,
                            control_client: session.client,
                            control_server: session.server,
                        };
                        self.add_expectation(sid, exp, max_exp);
                    }
                    Err(e) => anomalies.push((
                        AnomalyKind::AddressMalformed,
                        format!(
                            "{} {}: {}",
                            by.as_str(),
                            String::from_utf8_lossy(&arg),
                            e.name()
                        ),
                    )),
                }
            }
            CommandKind::Abor => self.abort_transfers(sid),
            CommandKind::Transfer(tc) => {
                pending.transfer = self.data_command(sid, tc, &verb, &arg, ts);
            }
            _ => {}
        }
        let Some(session) = self.sessions.get_mut(&sid) else {
            return;
        };
        pending.command = Some(CommandLine {
            ts,
            verb,
            arg,
            secret,
        });
        session.pending.push_back(pending);
        let overflow = if session.pending.len() > max_pending {
            session.pending.pop_front()
        } else {
            None
        };
        if let Some(dropped) = overflow {
            anomalies.push((
                AnomalyKind::PendingCommandsOverflow,
                format!("{max_pending} commands waiting"),
            ));
            self.emit(Event::Exchange(Exchange {
                session: sid,
                command: dropped.command,
                replies: dropped.replies,
            }));
        }
        for (kind, detail) in anomalies {
            self.anomaly(kind, ts, Some(sid), flow, detail);
        }
    }

    fn add_expectation(&mut self, sid: SessionId, exp: Expectation, max: usize) {
        let port = exp.announced.port();
        let mode = exp.mode;
        let id = self.expectations.add(exp);
        let now = self.now();
        self.notify_waiting(sid, now, || TransferInput::AnotherAnnouncement);
        let Some(session) = self.sessions.get_mut(&sid) else {
            return;
        };
        session.announced_any = true;
        session.last_mode = Some(mode);
        session.expectations.push_back((port, id));
        if session.expectations.len() > max
            && let Some((old_port, old_id)) = session.expectations.pop_front()
        {
            let flow = Some((session.client, session.server));
            self.expectations.remove(old_port, old_id);
            self.anomaly(
                AnomalyKind::ExpectationOverflow,
                self.now(),
                Some(sid),
                flow,
                format!("{max} endpoints"),
            );
        }
    }

    fn on_reply_line(&mut self, sid: SessionId, ts: Timestamp, line: &[u8]) {
        let max_lines = self.limits.max_reply_lines;
        let Some(session) = self.sessions.get_mut(&sid) else {
            return;
        };
        let flow = Some((session.client, session.server));
        match session.replies.push_line(ts, line, max_lines) {
            ReplyStep::Complete(reply) => self.on_reply(sid, reply),
            ReplyStep::Continues => {}
            ReplyStep::Malformed => {
                let shown: Vec<u8> = line.iter().take(64).copied().collect();
                let detail = format!("{:?}", String::from_utf8_lossy(&shown));
                self.anomaly(AnomalyKind::ReplyMalformed, ts, Some(sid), flow, detail);
            }
        }
    }

    pub(super) fn on_reply(&mut self, sid: SessionId, reply: Reply) {
        let ts = reply.ts;
        let max_exp = self.limits.max_expectations_per_session;
        let max_hints = self.limits.max_size_hints;
        let max_line = self.limits.max_line_len;
        let Some(session) = self.sessions.get_mut(&sid) else {
            return;
        };
        let flow = Some((session.client, session.server));
        if reply.lines_dropped > 0 {
            let detail = format!("{} lines not kept", reply.lines_dropped);
            self.anomaly(AnomalyKind::ReplyTooLong, ts, Some(sid), flow, detail);
        }
        let Some(session) = self.sessions.get_mut(&sid) else {
            return;
        };
        let Some(front) = session.pending.front_mut() else {
            // Nothing asked for it: a greeting we did not expect (mid-stream pickup) or a 421.
            let expected = reply.code == 421 || (session.commands == 0 && reply.code >= 100);
            // A greeting to a session joined mid-stream, or a 421: it moves the dialogue on.
            if reply.code >= 200 {
                session.on(SessionInput::Reply {
                    to: None,
                    code: reply.code,
                });
            }
            if !expected {
                self.anomaly(
                    AnomalyKind::UnsolicitedReply,
                    ts,
                    Some(sid),
                    flow,
                    format!("{}", reply.code),
                );
            }
            self.emit(Event::Exchange(Exchange {
                session: sid,
                command: None,
                replies: vec![reply],
            }));
            return;
        };
        if reply.code < 200 {
            // Preliminary: the command still waits for its final reply.
            let transfer = front.transfer;
            front.replies.push(reply.clone());
            if let Some(tid) = transfer {
                self.transfer_reply(tid, &reply);
            }
            return;
        }
        let front_preliminary = !front.replies.is_empty();
        let next_kind = session.pending.get(1).map(|next| next.kind);
        let pairing = pair_final_reply(
            front_preliminary,
            reply.code,
            session.pending.len(),
            next_kind,
        );
        let index = match pairing {
            ReplyPairing::Front => 0,
            ReplyPairing::Next => 1,
            ReplyPairing::RetireFront => {
                if let Some(retired) = session.pending.pop_front() {
                    self.emit(Event::Exchange(Exchange {
                        session: sid,
                        command: retired.command,
                        replies: retired.replies,
                    }));
                }
                // The reply now meets the command it answers at the front.
                return self.on_reply(sid, reply);
            }
            ReplyPairing::Unsolicited => {
                self.anomaly(
                    AnomalyKind::UnsolicitedReply,
                    ts,
                    Some(sid),
                    flow,
                    format!("{} after a preliminary reply", reply.code),
                );
                self.emit(Event::Exchange(Exchange {
                    session: sid,
                    command: None,
                    replies: vec![reply],
                }));
                return;
            }
        };
        let Some(mut done) = session.pending.remove(index) else {
            return;
        };
        let code = reply.code;
        let ok = (200..300).contains(&code);
        let mut anomalies: Vec<(AnomalyKind, String)> = Vec::new();
        let to = done.command.is_some().then_some(done.kind);
        let mut tls_from_next_byte = None;
        // RFC 4217 §12.3: CCC accepted, the control connection goes back to clear text.
        let clear_after_ccc = (done.kind == CommandKind::Ccc && ok).then_some(session.flow);
        if session.on(SessionInput::Reply { to, code }) == SessionOutput::Protected {
            // No clear line will be framed again: TLS starts with the next byte (the client
            // waits for the 234 to send its ClientHello, so the framers hold nothing of it).
            session.commands_in = LineFramer::new(max_line);
            session.replies_in = LineFramer::new(max_line);
            tls_from_next_byte = Some(session.flow);
        }
        match done.kind {
            CommandKind::Cwd if ok => {
                session.cwd = reply_info::path_from_250(&reply.text).or(done.target.take());
                // Longer than a control line: no server said so, it was built by relative
                // CWDs. Unknown, rather than a string that grows with every CWD.
                if session.cwd.as_ref().is_some_and(|d| d.len() > max_line) {
                    session.cwd = None;
                }
            }
            CommandKind::Cdup if ok => session.cwd = session.cwd.as_deref().map(path::parent),
            CommandKind::Pwd | CommandKind::Mkd if code == 257 && done.kind == CommandKind::Pwd => {
                if let Some(dir) = reply_info::path_from_257(&reply.text) {
                    session.cwd = Some(dir);
                }
            }
            CommandKind::Type if ok => {
                let arg = done
                    .command
                    .as_ref()
                    .map(|c| c.arg.clone())
                    .unwrap_or_default();
                session.transfer_type = arg
                    .iter()
                    .find(|b| !b.is_ascii_whitespace())
                    .map(u8::to_ascii_uppercase);
            }
            CommandKind::Mode if ok => {
                let arg = done
                    .command
                    .as_ref()
                    .map(|c| c.arg.clone())
                    .unwrap_or_default();
                if !arg.first().is_some_and(|b| b.eq_ignore_ascii_case(&b'S')) {
                    anomalies.push((
                        AnomalyKind::UnsupportedMode,
                        String::from_utf8_lossy(&arg).into_owned(),
                    ));
                }
            }
            CommandKind::Rest if code == 350 => session.rest = done.number,
            CommandKind::Size if code == 213 => {
                if let (Some(size), Some(target)) =
                    (reply_info::size_from_213(&reply.text), done.target.take())
                {
                    session.remember_size(target, size, max_hints);
                }
            }
            CommandKind::PassiveRequest(by) if matches!(code, 227..=229) => {
                let server = session.server;
                let parsed = match code {
                    227 => address::parse_227_text(&reply.text),
                    229 => address::parse_229_text(&reply.text)
                        .map(|port| SocketAddr::new(server.ip(), port)),
                    _ => address::parse_228_text(&reply.text),
                };
                match parsed {
                    Ok(announced) => {
                        if announced.ip() != server.ip() && !session.mismatch_reported {
                            session.mismatch_reported = true;
                            anomalies.push((
                                AnomalyKind::AddressMismatch,
                                format!("{code} announces {announced}, server is {} (reported once per session)", server.ip()),
                            ));
                        }
                        let exp = Expectation {
                            session: sid,
                            announced,
                            mode: DataMode::Passive,
                            announced_by: by,
                            ts,
                            control_client: session.client,
                            control_server: server,
                        };
                        self.add_expectation(sid, exp, max_exp);
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
        for (kind, detail) in anomalies {
            self.anomaly(kind, ts, Some(sid), flow, detail);
        }
        if let Some(key) = tls_from_next_byte {
            self.start_tls(key);
        }
        if let Some(key) = clear_after_ccc {
            self.ccc_accepted(key);
        }
        // The virtual greeting entry carries no command; emit it like any other exchange.
        self.emit(Event::Exchange(Exchange {
            session: sid,
            command: done.command,
            replies: done.replies,
        }));
        // After the exchange, so a transfer its final reply completes comes after the command.
        if let Some((tid, reply)) = transfer {
            self.transfer_reply(tid, &reply);
        }
    }

    /// The control connection ended: finish its dialogue and whatever waits on it.
    pub(super) fn end_session(&mut self, sid: SessionId, ts: Timestamp, reason: EndReason) {
        let Some(session) = self.sessions.get_mut(&sid) else {
            return;
        };
        let mut client_lines = Vec::new();
        let mut server_lines = Vec::new();
        if !session.is_protected() {
            session.commands_in.finish(&mut client_lines);
            session.replies_in.finish(&mut server_lines);
        }
        self.control_lines(sid, false, ts, server_lines);
        self.control_lines(sid, true, ts, client_lines);
        let Some(session) = self.sessions.get_mut(&sid) else {
            return;
        };
        if let Some(reply) = session.replies.finish() {
            self.on_reply(sid, reply);
        }
        let Some(mut session) = self.sessions.remove(&sid) else {
            return;
        };
        let pair = host_pair(session.client.ip(), session.server.ip());
        if let Some(n) = self.ftp_host_pairs.get_mut(&pair) {
            *n -= 1;
            if *n == 0 {
                self.ftp_host_pairs.remove(&pair);
            }
        }
        for p in session.pending.drain(..) {
            if p.command.is_some() || !p.replies.is_empty() {
                self.emit(Event::Exchange(Exchange {
                    session: sid,
                    command: p.command,
                    replies: p.replies,
                }));
            }
        }
        for (port, id) in session.expectations.drain(..) {
            self.expectations.remove(port, id);
        }
        // Those waiting on the session first, as ever, then the rest of its transfers.
        let mut waiting: Vec<_> = session
            .awaiting_conn
            .drain(..)
            .chain(session.unclaimed.drain(..))
            .collect();
        let rest: Vec<_> = session
            .in_flight
            .drain(..)
            .filter(|tid| !waiting.contains(tid))
            .collect();
        waiting.extend(rest);
        let end = ts.max(session.last_ts);
        let mut summary = session.summary(end, reason);
        // Its connection is still in the table: a session ends before its connection leaves.
        summary.frames = self.flows.get(&session.flow).map(|c| c.frames);
        self.emit(Event::SessionEnded(summary));
        for tid in waiting {
            self.transfer_control_closed(tid, ts);
        }
    }
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
}
