//! Data connections and transfers routed through the analyzer (RFC 959 §3.2-3.3 and §5.4
//! data-transfer sequencing). The transfer's own state and transitions are in
//! [`crate::ftp::transfer`]; here the analyzer finds the transfer, feeds it, and wires its output.
//!
//! The data connection and the command that uses it may come in either order: with PASV the
//! client often connects before it sends RETR, and in active mode the server may connect
//! before the 150 is seen. So a transfer is created by whichever comes first and completed by
//! the other: a linked connection waits in `unclaimed` for a command, a command waits in
//! `awaiting_conn` for a connection.

use super::{Analyzer, host_pair};
use crate::event::{
    AnomalyKind, DataMode, Event, FrameSpan, LinkRule, Reply, SessionId, TransferId, TransferStart,
};
use crate::flow::reassembly::Chunk;
use crate::flow::{Dir, FlowKey, PerDir, Role};
use crate::frame::Timestamp;
use crate::ftp::expect::Matched;
use crate::ftp::transfer::{
    Announcement, BoundCommand, DataConnection, HeldPiece, Transfer, TransferInput, TransferOutput,
};
use std::borrow::Cow;
use std::net::SocketAddr;

/// Stream bytes for a transfer: owned when they come out of the reassembly buffer, borrowed
/// from the frame when an in-order segment passes straight through.
pub(super) enum DataPiece<'a> {
    Bytes(Cow<'a, [u8]>),
    Gap(u64),
}

impl Analyzer {
    /// A new transfer, in its session's count, announced by `TransferStarted`; `conn` is the
    /// data connection that created it, if one did.
    fn create_transfer(
        &mut self,
        session: Option<SessionId>,
        ts: Timestamp,
        conn: Option<DataConnection>,
    ) -> TransferId {
        let tid = self.new_transfer_id();
        self.transfers.insert(tid, Transfer::new(tid, session, ts));
        if let Some(s) = session.and_then(|sid| self.sessions.get_mut(&sid)) {
            s.transfers += 1;
            s.in_flight.push(tid);
        }
        self.emit(Event::TransferStarted(TransferStart {
            transfer: tid,
            session,
            ts,
            data_initiator: conn.map(|c| c.initiator),
            data_responder: conn.map(|c| c.responder),
        }));
        tid
    }

    /// Feeds `input` to transfer `tid` and wires what it asks for, except delivering bytes
    /// (the data path does that itself). The transfer's output, None if it is gone.
    pub(super) fn drive_transfer(
        &mut self,
        tid: TransferId,
        ts: Timestamp,
        input: TransferInput<'_>,
    ) -> Option<TransferOutput> {
        let output = self.transfers.get_mut(&tid)?.on(input);
        self.wire_transfer(tid, ts, output);
        Some(output)
    }

    /// Wires `output`, which transfer `tid` just gave (every caller held it to feed it).
    fn wire_transfer(&mut self, tid: TransferId, ts: Timestamp, output: TransferOutput) {
        match output {
            TransferOutput::Nothing | TransferOutput::Deliver => {}
            TransferOutput::WrongDirection => {
                let t = present!(self.transfers.get(&tid), "transfer");
                let (session, flow) = (t.session, t.initiator.zip(t.responder));
                let detail = format!("transfer {tid}");
                let kind = AnomalyKind::DataBothDirections;
                self.anomaly(kind, ts, session, flow, detail);
            }
            TransferOutput::Encrypted => {
                let t = present!(self.transfers.get(&tid), "transfer");
                let (session, flow) = (t.session, t.initiator.zip(t.responder));
                let detail = format!("transfer {tid}: TLS, no keys");
                self.anomaly(AnomalyKind::DataEncrypted, ts, session, flow, detail);
            }
            TransferOutput::Release => self.release_held(tid),
            TransferOutput::End => self.end_transfer(tid, ts),
        }
    }

    /// Routes again what transfer `tid` held before its command was known.
    fn release_held(&mut self, tid: TransferId) {
        // Called by `wire_transfer` and at the start of `end_transfer`, which only
        // `wire_transfer` calls: right after the transfer was fed.
        let t = present!(self.transfers.get_mut(&tid), "transfer");
        for piece in t.take_held() {
            match piece {
                HeldPiece::Bytes { dir, ts, data } => {
                    self.data_piece(tid, dir, ts, DataPiece::Bytes(Cow::Owned(data)));
                }
                HeldPiece::Gap { dir, ts, len } => {
                    self.data_piece(tid, dir, ts, DataPiece::Gap(len));
                }
            }
        }
    }

    /// Whether the control connection of transfer `tid` still runs.
    pub(super) fn control_open(&self, tid: TransferId) -> bool {
        self.transfers
            .get(&tid)
            .and_then(|t| t.session)
            .is_some_and(|sid| self.sessions.contains_key(&sid))
    }

    /// A new connection matched an announced endpoint.
    pub(super) fn link_data(
        &mut self,
        key: FlowKey,
        initiator: SocketAddr,
        responder: SocketAddr,
        sends_from_initiator: SocketAddr,
        matched: Matched,
        ts: Timestamp,
    ) -> TransferId {
        let Matched {
            id: exp_id,
            expectation: exp,
            rule,
        } = matched;
        let sid = exp.session;
        let conn = DataConnection {
            key,
            initiator,
            responder,
            sends_from_initiator,
        };
        let waiting = self.sessions.get_mut(&sid).and_then(|s| {
            s.expectation_matched(exp_id);
            s.awaiting_conn.pop_front()
        });
        let tid = match waiting {
            Some(tid) if self.transfers.contains_key(&tid) => tid,
            _ => {
                self.notify_waiting(sid, ts, || TransferInput::AnotherConnection);
                let tid = self.create_transfer(Some(sid), ts, Some(conn));
                if let Some(s) = self.sessions.get_mut(&sid) {
                    s.unclaimed.push_back(tid);
                }
                tid
            }
        };
        let announcement = Announcement {
            rule,
            mode: exp.mode,
            announced_by: exp.announced_by,
            announced: exp.announced,
        };
        let opened = TransferInput::ConnectionOpened {
            conn,
            announcement: Some(announcement),
        };
        self.drive_transfer(tid, ts, opened);
        tid
    }

    /// The evidence that makes an unannounced connection between FTP hosts a data connection
    /// (DESIGN.md, "a connection between FTP hosts is data only with evidence"): a session
    /// between the same two hosts has a transfer command waiting for its connection, sent
    /// within `Limits::port_only_window` of the connection's opening, and the connection
    /// opens the way the session's last announced mode says (active: from the server's host;
    /// passive: from the client's; either when nothing was announced, as when the control
    /// connection was picked up mid-stream). The session and the waiting transfer.
    pub(super) fn data_command_waiting(
        &self,
        initiator: SocketAddr,
        responder: SocketAddr,
        opened: Timestamp,
    ) -> Option<(SessionId, TransferId)> {
        let pair = host_pair(initiator.ip(), responder.ip());
        if !self.ftp_host_pairs.contains_key(&pair) {
            return None;
        }
        let window = self.limits.port_only_window;
        let mut found: Option<(SessionId, TransferId)> = None;
        for (sid, s) in &self.sessions {
            let from_client = initiator.ip() == s.client.ip() && responder.ip() == s.server.ip();
            let from_server = initiator.ip() == s.server.ip() && responder.ip() == s.client.ip();
            let way = match s.last_mode() {
                Some(crate::event::DataMode::Passive) => from_client,
                Some(crate::event::DataMode::Active) => from_server,
                None => from_client || from_server,
            };
            if !way {
                continue;
            }
            let Some(&tid) = s.awaiting_conn.front() else {
                continue;
            };
            let in_time = self
                .transfers
                .get(&tid)
                .is_some_and(|t| t.start.abs_diff(opened) <= window.unsigned_abs());
            // The lowest session id wins, so the choice does not depend on the hash order.
            if in_time && found.is_none_or(|(best, _)| *sid < best) {
                found = Some((*sid, tid));
            }
        }
        found
    }

    /// Whether a session between these two hosts (either way) is under TLS (AUTH TLS): its
    /// data commands and announcements are then encrypted, so none can be seen waiting.
    pub(super) fn tls_session_between(&self, a: SocketAddr, b: SocketAddr) -> Option<SessionId> {
        let pair = host_pair(a.ip(), b.ip());
        if !self.ftp_host_pairs.contains_key(&pair) {
            return None;
        }
        // The latest one: a client that reconnects runs its transfers on its new session.
        self.sessions
            .values()
            .filter(|s| s.is_protected() && host_pair(s.client.ip(), s.server.ip()) == pair)
            .max_by_key(|s| (s.start, s.id))
            .map(|s| s.id)
    }

    /// A connection between the hosts of session `sid`, under TLS without keys, that opens
    /// with a TLS handshake: its encrypted data, linked by what can be seen (`tls_peers`).
    pub(super) fn tls_peer_data(
        &mut self,
        key: FlowKey,
        initiator: SocketAddr,
        responder: SocketAddr,
        sid: SessionId,
        ts: Timestamp,
    ) -> TransferId {
        let conn = DataConnection {
            key,
            initiator,
            responder,
            sends_from_initiator: initiator,
        };
        let tid = self.create_transfer(Some(sid), ts, Some(conn));
        let session_server = self.sessions.get(&sid).map(|s| s.server.ip());
        // Passive mode when the client opened it to the server, active otherwise.
        let mode = if session_server == Some(responder.ip()) {
            DataMode::Passive
        } else {
            DataMode::Active
        };
        let opened = TransferInput::ConnectionOpened {
            conn,
            announcement: None,
        };
        self.drive_transfer(tid, ts, opened);
        if let Some(t) = self.transfers.get_mut(&tid) {
            t.link = LinkRule::TlsPeers;
            t.mode = Some(mode);
        }
        tid
    }

    /// An unannounced connection taken by the transfer command `tid` of session `sid`, waiting
    /// for it ([`Analyzer::data_command_waiting`]); reported as `orphan_data`, since no
    /// announcement explains it.
    pub(super) fn claim_waiting(
        &mut self,
        key: FlowKey,
        initiator: SocketAddr,
        responder: SocketAddr,
        sid: SessionId,
        tid: TransferId,
        ts: Timestamp,
    ) -> TransferId {
        if let Some(s) = self.sessions.get_mut(&sid) {
            s.awaiting_conn.retain(|x| *x != tid);
        }
        let detail =
            format!("{initiator} → {responder}, taken by the command waiting in session {sid}");
        let conn = self.open_unannounced(key, initiator, responder, Some(sid), detail, ts);
        self.connection_opened(tid, conn, ts);
        tid
    }

    /// A data connection nothing announced (to or from port 20, or TLS data between the hosts
    /// of a session under TLS): a transfer of no session.
    pub(super) fn orphan_data(
        &mut self,
        key: FlowKey,
        initiator: SocketAddr,
        responder: SocketAddr,
        ts: Timestamp,
    ) -> TransferId {
        let detail = format!("{initiator} → {responder}");
        let conn = self.open_unannounced(key, initiator, responder, None, detail, ts);
        let tid = self.create_transfer(None, ts, Some(conn));
        self.connection_opened(tid, conn, ts);
        tid
    }

    /// A connection to or from port 20 that no announcement matched, at its first segment:
    /// the data connection of a transfer command waiting for one, if a session has one (a
    /// refusal then fails that command, as for an announced endpoint); otherwise None, and it
    /// waits quietly for its first byte ([`Analyzer::port_20_data`]), since a SYN refused or
    /// never answered is a connection attempt, counted as such, not a transfer.
    pub(super) fn port_20_opened(
        &mut self,
        key: FlowKey,
        initiator: SocketAddr,
        responder: SocketAddr,
        ts: Timestamp,
    ) -> Option<Role> {
        let (sid, tid) = self.data_command_waiting(initiator, responder, ts)?;
        Some(Role::Data(
            self.claim_waiting(key, initiator, responder, sid, tid, ts),
        ))
    }

    /// A connection to or from port 20, opened at `opened` with no announcement, carries its
    /// first byte: port 20 is the evidence that it is data. A transfer command waiting by
    /// then takes it; otherwise it is a transfer of no session.
    pub(super) fn port_20_data(
        &mut self,
        key: FlowKey,
        initiator: SocketAddr,
        responder: SocketAddr,
        opened: Timestamp,
    ) -> TransferId {
        match self.data_command_waiting(initiator, responder, opened) {
            Some((sid, tid)) => self.claim_waiting(key, initiator, responder, sid, tid, opened),
            None => self.orphan_data(key, initiator, responder, opened),
        }
    }

    /// A data connection no announcement explains: said (`orphan_data`, once), and described.
    fn open_unannounced(
        &mut self,
        key: FlowKey,
        initiator: SocketAddr,
        responder: SocketAddr,
        session: Option<SessionId>,
        detail: String,
        ts: Timestamp,
    ) -> DataConnection {
        let flow = Some((initiator, responder));
        self.anomaly(AnomalyKind::OrphanData, ts, session, flow, detail);
        DataConnection {
            key,
            initiator,
            responder,
            sends_from_initiator: initiator,
        }
    }

    /// The transfer `tid` has its data connection, opened without an announcement.
    fn connection_opened(&mut self, tid: TransferId, conn: DataConnection, ts: Timestamp) {
        let opened = TransferInput::ConnectionOpened {
            conn,
            announcement: None,
        };
        self.drive_transfer(tid, ts, opened);
    }

    /// RETR, STOR, STOU, APPE, LIST, NLST or MLSD was sent, bound by its session: claim a
    /// linked connection or wait for one. The transfer the command is bound to.
    pub(super) fn data_command(
        &mut self,
        sid: SessionId,
        bound: BoundCommand,
        expected: Option<u64>,
        announced_any: bool,
        ts: Timestamp,
    ) -> TransferId {
        let claimed = self.sessions.get_mut(&sid).and_then(|session| {
            loop {
                match session.unclaimed.pop_front() {
                    Some(tid) if self.transfers.contains_key(&tid) => break Some(tid),
                    Some(_) => continue,
                    None => break None,
                }
            }
        });
        let tid = match claimed {
            Some(tid) => {
                // A pipelined command, bound once the replies before it came, may claim a
                // connection opened after it was sent: the transfer began with the command.
                if let Some(t) = self.transfers.get_mut(&tid) {
                    t.start = t.start.min(ts);
                }
                tid
            }
            None => {
                self.notify_waiting(sid, ts, || TransferInput::AnotherCommand);
                if !announced_any {
                    let flow = self.sessions.get(&sid).map(|s| (s.client, s.server));
                    let detail = format!(
                        "{} before any PASV/EPSV/PORT/EPRT",
                        String::from_utf8_lossy(&bound.verb)
                    );
                    let kind = AnomalyKind::TransferWithoutEndpoint;
                    self.anomaly(kind, ts, Some(sid), flow, detail);
                }
                let tid = self.create_transfer(Some(sid), ts, None);
                if let Some(s) = self.sessions.get_mut(&sid) {
                    s.awaiting_conn.push_back(tid);
                }
                tid
            }
        };
        self.drive_transfer(tid, ts, TransferInput::Command { bound, expected });
        tid
    }

    /// Whether a transfer in flight is a listing (LIST, NLST, MLSD): `None` while no command
    /// has claimed its data connection (or once it ended). A transfer's command never changes
    /// once known, so `Some(false)` stays true: its bytes need not be kept for listing parsing.
    pub fn transfer_is_listing(&self, id: TransferId) -> Option<bool> {
        let t = self.transfers.get(&id)?;
        t.command.as_ref().map(|c| c.command.is_listing())
    }

    /// Tells the session's waiting transfers (unclaimed connections, then commands awaiting a
    /// connection) that another connection or command came; the stale ones end.
    pub(super) fn notify_waiting(
        &mut self,
        sid: SessionId,
        ts: Timestamp,
        input: impl Fn() -> TransferInput<'static>,
    ) {
        // From `link_data`, `sid` is a matched expectation's, not a session the caller holds.
        let Some(s) = self.sessions.get(&sid) else {
            return;
        };
        let waiting: Vec<TransferId> = s
            .unclaimed
            .iter()
            .chain(s.awaiting_conn.iter())
            .copied()
            .collect();
        for tid in waiting {
            self.drive_transfer(tid, ts, input());
        }
    }

    /// ABOR: every transfer of the session still waiting for its final reply is aborted.
    pub(super) fn abort_transfers(&mut self, sid: SessionId) {
        for t in self.transfers.values_mut() {
            if t.session == Some(sid) {
                // ABOR changes a transfer's state only: the output is always `Nothing`.
                t.on(TransferInput::Abort);
            }
        }
    }

    /// A reply to a transfer's command: preliminary (1yz) or final.
    pub(super) fn transfer_reply(&mut self, tid: TransferId, reply: &Reply) {
        // The transfer may have ended before this reply (its connection closed, or an earlier
        // reply ended it).
        let Some(t) = self.transfers.get_mut(&tid) else {
            return;
        };
        let cwd = t
            .session
            .and_then(|sid| self.sessions.get(&sid))
            .and_then(|s| s.cwd());
        let input = if reply.code < 200 {
            TransferInput::Preliminary { reply, cwd }
        } else {
            TransferInput::Final { reply, cwd }
        };
        let output = t.on(input);
        self.wire_transfer(tid, reply.ts, output);
    }

    pub(super) fn data_chunk(&mut self, tid: TransferId, dir: Dir, ts: Timestamp, chunk: Chunk) {
        let piece = match chunk {
            Chunk::Data(data) => DataPiece::Bytes(Cow::Owned(data)),
            Chunk::Gap(len) => DataPiece::Gap(len),
        };
        self.data_piece(tid, dir, ts, piece);
    }

    pub(super) fn data_piece(
        &mut self,
        tid: TransferId,
        dir: Dir,
        ts: Timestamp,
        piece: DataPiece<'_>,
    ) {
        self.route_data(tid, dir, ts, piece, false);
    }

    /// Plaintext of a data connection under TLS, decrypted ([`crate::ftps`]).
    pub(super) fn data_piece_decrypted(
        &mut self,
        tid: TransferId,
        dir: Dir,
        ts: Timestamp,
        piece: DataPiece<'_>,
    ) {
        self.route_data(tid, dir, ts, piece, true);
    }

    fn route_data(
        &mut self,
        tid: TransferId,
        dir: Dir,
        ts: Timestamp,
        piece: DataPiece<'_>,
        decrypted: bool,
    ) {
        let control_tls = !decrypted
            && self
                .transfers
                .get(&tid)
                .and_then(|t| t.session)
                .and_then(|sid| self.sessions.get(&sid))
                .is_some_and(|s| s.under_tls());
        // RFC 4217 §9, PROT P: a data connection that opens with a TLS handshake is decrypted
        // from its first byte when a key log was given; its plaintext comes back through
        // `data_piece_decrypted`.
        if !decrypted
            && self.decrypts_data()
            && let DataPiece::Bytes(data) = &piece
            && let Some(key) = self
                .transfers
                .get(&tid)
                .filter(|t| t.opens_tls_here(data, control_tls))
                .and_then(|t| t.conn)
            && self.flows.get(&key).is_some_and(|c| c.tls.is_none())
        {
            self.start_tls(key);
            self.tls_bytes(key, dir, ts, data);
            return;
        }
        // An earlier chunk of the same delivery, or a held piece released before this one, may
        // have ended the transfer.
        let Some(t) = self.transfers.get_mut(&tid) else {
            return;
        };
        let output = match &piece {
            DataPiece::Bytes(data) => t.on(TransferInput::Bytes {
                dir,
                ts,
                data,
                control_tls,
            }),
            DataPiece::Gap(len) => t.on(TransferInput::Gap { dir, ts, len: *len }),
        };
        if output != TransferOutput::Deliver {
            self.wire_transfer(tid, ts, output);
            return;
        }
        let event = match piece {
            DataPiece::Bytes(data) => {
                let data = match data {
                    Cow::Owned(data) => data,
                    // Copied once, into a buffer the caller gave back (`Analyzer::recycle`).
                    Cow::Borrowed(bytes) => {
                        let mut data = self.spare_buffers.pop().unwrap_or_default();
                        data.extend_from_slice(bytes);
                        data
                    }
                };
                Event::TransferData {
                    transfer: tid,
                    data,
                }
            }
            DataPiece::Gap(len) => Event::TransferGap { transfer: tid, len },
        };
        self.emit(event);
    }

    /// The side sending in `dir` closed its half of the data connection.
    pub(super) fn data_sender_finished(&mut self, tid: TransferId, dir: Dir, ts: Timestamp) {
        let control_open = self.control_open(tid);
        self.drive_transfer(tid, ts, TransferInput::SenderClosed { dir, control_open });
    }

    /// The data connection ended (both FINs, a RST, idle, or the capture's end); `answered`
    /// is false when its SYN never got a SYN-ACK (refused or never answered); `frames` are
    /// the connection's, for the record.
    pub(super) fn data_conn_closed(
        &mut self,
        tid: TransferId,
        fins: PerDir<bool>,
        reset: bool,
        answered: bool,
        frames: FrameSpan,
        ts: Timestamp,
    ) {
        if let Some(t) = self.transfers.get_mut(&tid) {
            t.frames = Some(frames);
        }
        let control_open = self.control_open(tid);
        let ended = TransferInput::ConnectionEnded {
            fins,
            reset,
            answered,
            control_open,
        };
        self.drive_transfer(tid, ts, ended);
    }

    /// The session ended: its waiting transfers learn that nothing more will be said.
    pub(super) fn transfer_control_closed(&mut self, tid: TransferId, ts: Timestamp) {
        self.drive_transfer(tid, ts, TransferInput::ControlClosed);
    }

    /// The capture ended with the transfer still in flight.
    pub(super) fn transfer_capture_end(&mut self, tid: TransferId, ts: Timestamp) {
        self.drive_transfer(tid, ts, TransferInput::CaptureEnd);
    }

    /// Copies the frames of the transfer's data connection, while it is open.
    fn note_data_frames(&mut self, tid: TransferId) {
        // A held piece `end_transfer` released just before may have ended the transfer.
        let Some(t) = self.transfers.get_mut(&tid) else {
            return;
        };
        if let Some(conn) = t.conn.and_then(|key| self.flows.get(&key))
            && matches!(conn.role, Role::Data(x) if x == tid)
        {
            t.frames = Some(conn.frames);
        }
    }

    /// Removes the transfer, unties it from its session and connection, and emits its record.
    fn end_transfer(&mut self, tid: TransferId, ts: Timestamp) {
        // Bytes still held never learnt their command: the first way they went decides.
        self.release_held(tid);
        self.note_data_frames(tid);
        // A held piece released above may have ended it already (in a nested `end_transfer`).
        let Some(t) = self.transfers.remove(&tid) else {
            return;
        };
        if let Some(s) = t.session.and_then(|sid| self.sessions.get_mut(&sid)) {
            s.unclaimed.retain(|x| *x != tid);
            s.awaiting_conn.retain(|x| *x != tid);
            s.in_flight.retain(|x| *x != tid);
        }
        if let Some(conn) = t.conn.and_then(|key| self.flows.get_mut(&key))
            && matches!(conn.role, Role::Data(x) if x == tid)
        {
            conn.role = Role::Ignored;
        }
        // Without keys the command of encrypted data is unreadable: no anomaly in that.
        if t.command.is_none() && t.session.is_some() && !t.encrypted {
            let flow = t.initiator.zip(t.responder);
            self.anomaly(
                AnomalyKind::DataWithoutCommand,
                ts,
                t.session,
                flow,
                format!("transfer {tid}"),
            );
        }
        let end = ts.max(t.last_ts);
        self.emit(Event::TransferEnded(Box::new(t.record(end))));
    }
}
