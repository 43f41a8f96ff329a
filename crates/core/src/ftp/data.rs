//! Data connections and transfers driven through the analyzer (RFC 959 §3.2-3.3 and §5.4
//! data-transfer sequencing).
//!
//! The data connection and the command that uses it may come in either order: with PASV the
//! client often connects before it sends RETR, and in active mode the server may connect
//! before the 150 is seen. So a transfer is created by whichever comes first and completed by
//! the other: a linked connection waits in `unclaimed` for a command, a command waits in
//! `awaiting_conn` for a connection. A transfer ends once its data connection closed and its
//! final reply arrived, or when its session ends.

use crate::analyzer::Analyzer;
use crate::event::{AnomalyKind, Event, Reply, SessionId, TransferId, TransferStart};
use crate::flow::reassembly::Chunk;
use crate::flow::{Dir, FlowKey, PerDir, Role};
use crate::frame::Timestamp;
use crate::ftp::command::TransferCommand;
use crate::ftp::expect::Matched;
use crate::ftp::path;
use crate::ftp::reply_info;
use crate::ftp::transfer::{BoundCommand, DataConn, Transfer};
use std::borrow::Cow;
use std::net::SocketAddr;

/// Stream bytes for a transfer: owned when they come out of the reassembly buffer, borrowed
/// from the frame when an in-order segment passes straight through.
pub(crate) enum DataPiece<'a> {
    Bytes(Cow<'a, [u8]>),
    Gap(u64),
}

impl Analyzer {
    fn create_transfer(
        &mut self,
        session: Option<SessionId>,
        ts: Timestamp,
        conn: Option<(FlowKey, SocketAddr, SocketAddr)>,
    ) -> TransferId {
        let tid = self.new_transfer_id();
        let mut t = Transfer::new(tid, session, ts);
        if let Some((key, initiator, responder)) = conn {
            t.conn = Some(key);
            t.initiator = Some(initiator);
            t.responder = Some(responder);
            t.data_conn = DataConn::Open;
        }
        self.transfers.insert(tid, t);
        if let Some(s) = session.and_then(|sid| self.sessions.get_mut(&sid)) {
            s.transfers += 1;
        }
        self.emit(Event::TransferStarted(TransferStart {
            transfer: tid,
            session,
            ts,
            data_initiator: conn.map(|c| c.1),
            data_responder: conn.map(|c| c.2),
        }));
        tid
    }

    /// A new connection matched an announced endpoint.
    pub(crate) fn link_data(
        &mut self,
        key: FlowKey,
        initiator: SocketAddr,
        responder: SocketAddr,
        matched: Matched,
        ts: Timestamp,
    ) -> TransferId {
        let Matched {
            id: exp_id,
            expectation: exp,
            rule,
        } = matched;
        let sid = exp.session;
        let waiting = self.sessions.get_mut(&sid).and_then(|s| {
            s.expectations.retain(|(_, id)| *id != exp_id);
            s.awaiting_conn.pop_front()
        });
        let tid = match waiting {
            Some(tid) if self.transfers.contains_key(&tid) => tid,
            _ => {
                // Transfers are sequential: earlier connections that closed with no command
                // claiming them never will be claimed now. End them, so that a session
                // opening connection after connection does not pile them up.
                self.end_stale(sid, ts, |t| matches!(t.data_conn, DataConn::Closed { .. }));
                let tid = self.create_transfer(Some(sid), ts, Some((key, initiator, responder)));
                if let Some(s) = self.sessions.get_mut(&sid) {
                    s.unclaimed.push_back(tid);
                }
                tid
            }
        };
        if let Some(t) = self.transfers.get_mut(&tid) {
            t.conn = Some(key);
            t.initiator = Some(initiator);
            t.responder = Some(responder);
            t.data_conn = DataConn::Open;
            t.link = rule;
            t.mode = Some(exp.mode);
            t.announced_by = Some(exp.announced_by);
            t.announced = Some(exp.announced);
        }
        tid
    }

    /// A data connection nothing announced (port 20, or between hosts that speak FTP).
    pub(crate) fn orphan_data(
        &mut self,
        key: FlowKey,
        initiator: SocketAddr,
        responder: SocketAddr,
        ts: Timestamp,
    ) -> TransferId {
        let detail = format!("{initiator} → {responder}");
        self.anomaly(
            AnomalyKind::OrphanData,
            ts,
            None,
            Some((initiator, responder)),
            detail,
        );
        self.create_transfer(None, ts, Some((key, initiator, responder)))
    }

    /// RETR, STOR, STOU, APPE, LIST, NLST or MLSD was sent: claim a linked connection or wait
    /// for one. The transfer the command is bound to; None for a session that is gone.
    pub(crate) fn data_command(
        &mut self,
        sid: SessionId,
        command: TransferCommand,
        verb: &[u8],
        arg: &[u8],
        ts: Timestamp,
    ) -> Option<TransferId> {
        let session = self.sessions.get_mut(&sid)?;
        let offset = session.rest.take().unwrap_or(0);
        let (path, full_path) = match (command, arg.is_empty()) {
            // Listing arguments are often options ("-la"); a path only when it does not start with '-'.
            (_, true) => (
                None,
                if command.is_listing() {
                    session.cwd.clone()
                } else {
                    None
                },
            ),
            (c, false) if c.is_listing() && arg.first() == Some(&b'-') => {
                (None, session.cwd.clone())
            }
            _ => (
                Some(arg.to_vec()),
                path::resolve(session.cwd.as_deref(), arg),
            ),
        };
        let hint_key = full_path.clone().or_else(|| path.clone());
        let expected = if command == TransferCommand::Retr {
            hint_key.and_then(|k| session.size_hint(&k))
        } else {
            None
        };
        let bound = BoundCommand {
            command,
            verb: verb.to_vec(),
            path,
            full_path,
            offset,
            transfer_type: session.transfer_type,
        };
        let announced_any = session.announced_any;
        let flow = Some((session.client, session.server));
        let claimed = loop {
            match session.unclaimed.pop_front() {
                Some(tid) if self.transfers.contains_key(&tid) => break Some(tid),
                Some(_) => continue,
                None => break None,
            }
        };
        let tid = match claimed {
            Some(tid) => tid,
            None => {
                // An earlier command that got its final reply and never a data connection
                // will not get one now (the next one would be taken for it). End it, so that
                // commands without connections do not pile up.
                self.end_stale(sid, ts, |t| {
                    t.final_reply.is_some() && t.data_conn == DataConn::None
                });
                if !announced_any {
                    self.anomaly(
                        AnomalyKind::TransferWithoutEndpoint,
                        ts,
                        Some(sid),
                        flow,
                        format!(
                            "{} before any PASV/EPSV/PORT/EPRT",
                            String::from_utf8_lossy(verb)
                        ),
                    );
                }
                let tid = self.create_transfer(Some(sid), ts, None);
                if let Some(s) = self.sessions.get_mut(&sid) {
                    s.awaiting_conn.push_back(tid);
                }
                tid
            }
        };
        if let Some(t) = self.transfers.get_mut(&tid) {
            t.command = Some(bound);
            if t.expected_total.is_none() {
                t.expected_total = expected;
            }
        }
        Some(tid)
    }

    /// Whether a transfer in flight is a listing (LIST, NLST, MLSD): `None` while no command
    /// has claimed its data connection (or once it ended). A transfer's command never changes
    /// once known, so `Some(false)` stays true: its bytes need not be kept for listing parsing.
    pub fn transfer_is_listing(&self, id: TransferId) -> Option<bool> {
        let t = self.transfers.get(&id)?;
        t.command.as_ref().map(|c| c.command.is_listing())
    }

    /// Ends the session's waiting transfers (unclaimed connections and commands awaiting a
    /// connection) for which `stale` holds.
    fn end_stale(&mut self, sid: SessionId, ts: Timestamp, stale: impl Fn(&Transfer) -> bool) {
        let Some(s) = self.sessions.get(&sid) else {
            return;
        };
        let ended: Vec<TransferId> = s
            .unclaimed
            .iter()
            .chain(s.awaiting_conn.iter())
            .copied()
            .filter(|tid| self.transfers.get(tid).is_some_and(&stale))
            .collect();
        for tid in ended {
            self.end_transfer(tid, ts);
        }
    }

    /// ABOR: every transfer of the session still waiting for its final reply is aborted.
    pub(crate) fn abort_transfers(&mut self, sid: SessionId) {
        for t in self.transfers.values_mut() {
            if t.session == Some(sid) && t.command.is_some() && t.final_reply.is_none() {
                t.aborted = true;
            }
        }
    }

    pub(crate) fn transfer_preliminary(&mut self, tid: TransferId, reply: &Reply) {
        let Some(t) = self.transfers.get_mut(&tid) else {
            return;
        };
        if t.expected_total.is_none()
            && t.command
                .as_ref()
                .is_some_and(|c| c.command == TransferCommand::Retr)
        {
            t.expected_total = reply_info::size_from_150(&reply.text);
        }
        self.stou_name(tid, reply);
    }

    pub(crate) fn transfer_final(&mut self, tid: TransferId, reply: &Reply) {
        self.stou_name(tid, reply);
        let Some(t) = self.transfers.get_mut(&tid) else {
            return;
        };
        t.final_reply = Some(reply.code);
        if reply.code >= 400
            && t.data_conn == DataConn::None
            && let Some(s) = t.session.and_then(|sid| self.sessions.get_mut(&sid))
        {
            s.awaiting_conn.retain(|x| *x != tid);
        }
        self.try_finish(tid, reply.ts);
    }

    fn stou_name(&mut self, tid: TransferId, reply: &Reply) {
        let Some(t) = self.transfers.get_mut(&tid) else {
            return;
        };
        let Some(cmd) = t.command.as_mut() else {
            return;
        };
        if cmd.command != TransferCommand::Stou || cmd.path.is_some() {
            return;
        }
        if let Some(name) = reply_info::stou_name(&reply.text) {
            let cwd = t
                .session
                .and_then(|sid| self.sessions.get(&sid))
                .and_then(|s| s.cwd.clone());
            cmd.full_path = path::resolve(cwd.as_deref(), &name);
            cmd.path = Some(name);
        }
    }

    pub(crate) fn data_chunk(&mut self, tid: TransferId, dir: Dir, ts: Timestamp, chunk: Chunk) {
        let piece = match chunk {
            Chunk::Data(data) => DataPiece::Bytes(Cow::Owned(data)),
            Chunk::Gap(len) => DataPiece::Gap(len),
        };
        self.data_piece(tid, dir, ts, piece);
    }

    pub(crate) fn data_piece(
        &mut self,
        tid: TransferId,
        dir: Dir,
        ts: Timestamp,
        piece: DataPiece<'_>,
    ) {
        let Some(t) = self.transfers.get_mut(&tid) else {
            return;
        };
        t.last_ts = ts;
        let stream_dir = *t.stream_dir.get_or_insert(dir);
        if stream_dir != dir {
            let flow = t.initiator.zip(t.responder);
            let session = t.session;
            self.anomaly(
                AnomalyKind::DataBothDirections,
                ts,
                session,
                flow,
                format!("transfer {tid}"),
            );
            return;
        }
        match piece {
            DataPiece::Bytes(data) => {
                t.bytes += data.len() as u64;
                let data = match data {
                    Cow::Owned(data) => data,
                    // Copied once, into a buffer the caller gave back (`Analyzer::recycle`).
                    Cow::Borrowed(bytes) => {
                        let mut data = self.spare_buffers.pop().unwrap_or_default();
                        data.extend_from_slice(bytes);
                        data
                    }
                };
                self.emit(Event::TransferData {
                    transfer: tid,
                    data,
                });
            }
            DataPiece::Gap(len) => {
                t.gap_bytes += len;
                self.emit(Event::TransferGap { transfer: tid, len });
            }
        }
    }

    /// The side sending a transfer's bytes closed its half of the data connection.
    pub(crate) fn data_sender_finished(&mut self, tid: TransferId, dir: Dir, ts: Timestamp) {
        let Some(t) = self.transfers.get_mut(&tid) else {
            return;
        };
        if t.stream_dir.is_none_or(|d| d == dir) && t.data_conn == DataConn::Open {
            t.data_conn = DataConn::Closed {
                fin: true,
                reset: false,
            };
            self.try_finish(tid, ts);
        }
    }

    pub(crate) fn data_conn_closed(
        &mut self,
        tid: TransferId,
        fins: PerDir<bool>,
        reset: bool,
        ts: Timestamp,
    ) {
        let Some(t) = self.transfers.get_mut(&tid) else {
            return;
        };
        if t.data_conn == DataConn::Open {
            let fin = match t.stream_dir {
                Some(d) => *fins.get(d),
                None => fins.iter().any(|(_, f)| *f),
            };
            t.data_conn = DataConn::Closed {
                fin: fin && !reset,
                reset,
            };
        }
        self.try_finish(tid, ts);
    }

    /// Ends the transfer if nothing more can be learnt about it.
    pub(crate) fn try_finish(&mut self, tid: TransferId, ts: Timestamp) {
        let Some(t) = self.transfers.get(&tid) else {
            return;
        };
        let session_gone = t
            .session
            .is_none_or(|sid| !self.sessions.contains_key(&sid));
        let done = match t.data_conn {
            DataConn::None => session_gone || t.final_reply.is_some_and(|c| c >= 400),
            DataConn::Closed { .. } => {
                session_gone || (t.command.is_some() && t.final_reply.is_some())
            }
            DataConn::Open => false,
        };
        if done {
            self.end_transfer(tid, ts);
        }
    }

    pub(crate) fn end_transfer(&mut self, tid: TransferId, ts: Timestamp) {
        let Some(t) = self.transfers.remove(&tid) else {
            return;
        };
        if let Some(s) = t.session.and_then(|sid| self.sessions.get_mut(&sid)) {
            s.unclaimed.retain(|x| *x != tid);
            s.awaiting_conn.retain(|x| *x != tid);
        }
        if let Some(conn) = t.conn.and_then(|key| self.flows.get_mut(&key))
            && matches!(conn.role, Role::Data(x) if x == tid)
        {
            conn.role = Role::Ignored;
        }
        if t.command.is_none() && t.session.is_some() {
            let flow = t.initiator.zip(t.responder);
            self.anomaly(
                AnomalyKind::DataWithoutCommand,
                ts,
                t.session,
                flow,
                format!("transfer {tid}"),
            );
        }
        // Which end was the server: the listener in passive mode, the connector in active mode,
        // port 20 for an orphan.
        let server_side = match t.mode {
            Some(crate::event::DataMode::Passive) => t.responder,
            Some(crate::event::DataMode::Active) => t.initiator,
            None => [t.initiator, t.responder]
                .into_iter()
                .flatten()
                .find(|a| a.port() == 20),
        };
        let end = ts.max(t.last_ts);
        self.emit(Event::TransferEnded(Box::new(t.record(end, server_side))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;

    #[test]
    fn a_transfer_command_without_its_session_binds_no_transfer() {
        let mut analyzer = Analyzer::new(Limits::default());
        let bound = analyzer.data_command(7, TransferCommand::Retr, b"RETR", b"a.txt", 0);
        assert_eq!(bound, None);
        assert_eq!(analyzer.poll_event(), None, "no transfer was started");
    }
}
