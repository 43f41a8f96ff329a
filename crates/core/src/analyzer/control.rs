//! The control dialogue's routing: bytes of a control connection are framed into lines by its
//! session, each line goes to the session as a command or a reply, and what the session says
//! is wired here: endpoints expected, transfers bound and told their replies, TLS started or
//! stopped, anomalies and exchanges emitted. What a command or reply means is the session's
//! ([`crate::ftp::session`], RFC 959 §4-5, RFC 2228, RFC 2428, RFC 1639, RFC 3659, RFC 4217).

use super::{Analyzer, host_pair};
use crate::event::{AnomalyKind, EndReason, Event, Reply, SessionId};
use crate::flow::Dir;
use crate::flow::reassembly::Chunk;
use crate::frame::Timestamp;
use crate::ftp::expect::Expectation;
use crate::ftp::line::FramedLine;
use crate::ftp::session::{CommandWire, DialogueAction, SessionEnd, whole_after_gap};
use crate::ftp::transfer::TransferInput;

// The session lookups below cannot fail. A session leaves `sessions` only in `end_session`,
// called by `close_conn` once it took the connection's `Role::Control` away, and by `finish`;
// nothing a line, a reply or a transfer does leads there. So the `sid` of a connection's role
// names a live session, and a session held stays live while its lines are handled.
impl Analyzer {
    /// Bytes of the control connection of session `sid` (its `Role::Control`).
    pub(super) fn control_chunk(&mut self, sid: SessionId, dir: Dir, ts: Timestamp, chunk: Chunk) {
        let session = present!(self.sessions.get_mut(&sid), "session");
        if session.is_protected() {
            return;
        }
        let from_client = dir == session.client_dir;
        let lines = match chunk {
            Chunk::Data(bytes) => session.frame(from_client, ts, &bytes),
            Chunk::Gap(len) => {
                let flow = Some((session.client, session.server));
                let mut out = std::mem::take(&mut self.dialogue);
                let max_pending = self.limits.max_pending_commands;
                let cut_reply = session.gap(from_client, ts, max_pending, &mut out);
                let side = if from_client { "client" } else { "server" };
                let detail = format!("{len} bytes missing from the {side}");
                self.anomaly(AnomalyKind::ControlGap, ts, Some(sid), flow, detail);
                self.apply_dialogue(sid, ts, out);
                if let Some(reply) = cut_reply {
                    self.on_reply(sid, reply);
                }
                Vec::new()
            }
        };
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
            let session = present!(self.sessions.get(&sid), "session");
            if session.is_protected() {
                return;
            }
            if line.cut {
                let flow = Some((session.client, session.server));
                let side = if from_client { "command" } else { "reply" };
                let detail = format!("{side} line over {} bytes", self.limits.max_line_len);
                self.anomaly(AnomalyKind::LineTooLong, ts, Some(sid), flow, detail);
            }
            if line.after_gap && !whole_after_gap(from_client, &line.bytes) {
                continue;
            }
            if from_client {
                self.on_command(sid, ts, &line.bytes);
            } else {
                self.on_reply_line(sid, ts, &line.bytes);
            }
        }
    }

    /// A command: the session applies it, the analyzer wires what it asks (an endpoint to
    /// expect, transfers to abort, a transfer to bind), then the session queues it.
    fn on_command(&mut self, sid: SessionId, ts: Timestamp, line: &[u8]) {
        let session = present!(self.sessions.get_mut(&sid), "session");
        let (mut read, wire) = session.read_command(ts, line);
        let transfer = match wire {
            CommandWire::Nothing => None,
            CommandWire::Announce(exp) => {
                self.add_expectation(sid, exp);
                None
            }
            CommandWire::AbortTransfers => {
                self.abort_transfers(sid);
                None
            }
            CommandWire::Transfer {
                bound,
                expected,
                announced_any,
            } => Some(self.data_command(sid, bound, expected, announced_any, ts)),
        };
        read.bind(transfer);
        let session = present!(self.sessions.get_mut(&sid), "session");
        let mut out = std::mem::take(&mut self.dialogue);
        session.queue_command(read, self.limits.max_pending_commands, &mut out);
        self.apply_dialogue(sid, ts, out);
    }

    /// Expects an endpoint session `sid` announced; its waiting transfers learn of it.
    fn add_expectation(&mut self, sid: SessionId, exp: Expectation) {
        let port = exp.announced.port();
        let id = self.expectations.add(exp);
        let now = self.now();
        self.notify_waiting(sid, now, || TransferInput::AnotherAnnouncement);
        let max = self.limits.max_expectations_per_session;
        let session = present!(self.sessions.get_mut(&sid), "session");
        if let Some((old_port, old_id)) = session.remember_expectation(port, id, max) {
            let flow = Some((session.client, session.server));
            self.expectations.remove(old_port, old_id);
            let detail = format!("{max} endpoints");
            self.anomaly(
                AnomalyKind::ExpectationOverflow,
                now,
                Some(sid),
                flow,
                detail,
            );
        }
    }

    fn on_reply_line(&mut self, sid: SessionId, ts: Timestamp, line: &[u8]) {
        let session = present!(self.sessions.get_mut(&sid), "session");
        let mut out = std::mem::take(&mut self.dialogue);
        let reply = session.reply_line(ts, line, self.limits.max_reply_lines, &mut out);
        self.apply_dialogue(sid, ts, out);
        if let Some(reply) = reply {
            self.on_reply(sid, reply);
        }
    }

    /// A complete reply: the session pairs it with its command and says what to do.
    fn on_reply(&mut self, sid: SessionId, reply: Reply) {
        let session = present!(self.sessions.get_mut(&sid), "session");
        let ts = reply.ts;
        let mut out = std::mem::take(&mut self.dialogue);
        session.reply(reply, &self.limits, &mut out);
        self.apply_dialogue(sid, ts, out);
    }

    /// Does what session `sid` said, in its order, and keeps the emptied list for the next.
    fn apply_dialogue(&mut self, sid: SessionId, ts: Timestamp, mut actions: Vec<DialogueAction>) {
        if actions.is_empty() {
            self.dialogue = actions;
            return;
        }
        let session = present!(self.sessions.get(&sid), "session", {
            actions.clear();
            self.dialogue = actions;
            return;
        });
        let (flow, key) = (Some((session.client, session.server)), session.flow);
        for action in actions.drain(..) {
            match action {
                DialogueAction::Anomaly(kind, detail) => {
                    self.anomaly(kind, ts, Some(sid), flow, detail);
                }
                DialogueAction::Exchange(exchange) => self.emit(Event::Exchange(exchange)),
                DialogueAction::Announce(exp) => self.add_expectation(sid, exp),
                DialogueAction::StartTls => self.start_tls(key),
                DialogueAction::ClearAfterCcc => self.ccc_accepted(key),
                DialogueAction::TransferReply(tid, reply) => self.transfer_reply(tid, &reply),
                DialogueAction::BindTransfer {
                    number,
                    bound,
                    expected,
                    announced_any,
                    sent,
                } => {
                    let tid = self.data_command(sid, bound, expected, announced_any, sent);
                    present!(self.sessions.get_mut(&sid), "session", continue)
                        .bound_deferred(number, tid);
                }
            }
        }
        self.dialogue = actions;
    }

    /// The control connection ended: finish its dialogue and whatever waits on it.
    pub(super) fn end_session(&mut self, sid: SessionId, ts: Timestamp, reason: EndReason) {
        let session = present!(self.sessions.get_mut(&sid), "ending session");
        let (client_lines, server_lines) = session.finish_lines();
        self.control_lines(sid, false, ts, server_lines);
        self.control_lines(sid, true, ts, client_lines);
        if let Some(reply) = self.sessions.get_mut(&sid).and_then(|s| s.finish_reply()) {
            self.on_reply(sid, reply);
        }
        // Pipelined transfer commands whose turn never came still get their transfers.
        let mut out = std::mem::take(&mut self.dialogue);
        present!(self.sessions.get_mut(&sid), "ending session").bind_deferred_at_end(&mut out);
        self.apply_dialogue(sid, ts, out);
        let session = present!(self.sessions.remove(&sid), "ending session");
        let pair = host_pair(session.client.ip(), session.server.ip());
        if let Some(n) = self.ftp_host_pairs.get_mut(&pair) {
            *n -= 1;
            if *n == 0 {
                self.ftp_host_pairs.remove(&pair);
            }
        }
        let flow = session.flow;
        let SessionEnd {
            exchanges,
            expectations,
            transfers,
            mut summary,
        } = session.end(ts, reason);
        for exchange in exchanges {
            self.emit(Event::Exchange(exchange));
        }
        for (port, id) in expectations {
            self.expectations.remove(port, id);
        }
        // Its connection is still in the table: a session ends before its connection leaves.
        summary.frames = self.flows.get(&flow).map(|c| c.frames);
        self.emit(Event::SessionEnded(summary));
        for tid in transfers {
            self.transfer_control_closed(tid, ts);
        }
    }
}
