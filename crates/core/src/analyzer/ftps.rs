//! FTPS wiring (RFC 4217): the analyzer finds a connection's transform, lets the
//! [`FtpsLayer`] push bytes through it and say what each TLS event means (an [`FtpsAction`]),
//! and applies that to the session or transfer. The TLS logic is `crate::ftps`'s; only the
//! analyzer's maps are touched here.

use super::Analyzer;
use super::data::DataPiece;
use crate::event::{AnomalyKind, SessionId};
use crate::flow::reassembly::Chunk;
use crate::flow::{Dir, FlowKey, Role};
use crate::frame::Timestamp;
use crate::ftp::session::SessionInput;
use crate::ftp::transfer::TransferInput;
use crate::ftps::{FtpsAction, FtpsLayer, Pushed, Target};
use crate::stream::Transform;
use ftpscope_tls::{KeyLogReport, TlsEvent};
use std::borrow::Cow;

impl Analyzer {
    /// Adds NSS key log text (a `--keylog` file, a pcapng Decryption Secrets Block, or what a
    /// growing file gained). Past [`crate::stream::MAX_KEY_LOG_BYTES`] in all, the rest is
    /// dropped and reported as bad lines.
    pub fn add_tls_keys(&mut self, text: &[u8]) -> KeyLogReport {
        let report = self.ftps.add_keys(text);
        self.retry_tls();
        report
    }

    /// The key log may still grow (live capture, where clients append while the capture
    /// runs): records whose keys are missing are held (bounded) until they come.
    pub fn keys_may_grow(&mut self, may_grow: bool) {
        self.ftps.keys_may_grow(may_grow);
    }

    /// Keys came: connections holding records for them decrypt now.
    fn retry_tls(&mut self) {
        let held: Vec<FlowKey> = self
            .flows
            .iter()
            .filter(|(_, c)| c.tls.as_ref().is_some_and(|t| t.held_bytes() > 0))
            .map(|(k, _)| *k)
            .collect();
        let now = self.now();
        for key in held {
            let mut out = Vec::new();
            if let Some(t) = self.flows.get_mut(&key).and_then(|c| c.tls.as_mut()) {
                self.ftps.retry(t, &mut out);
            }
            self.route_tls(key, now, out);
        }
    }

    /// Puts TLS on connection `key` from its next byte.
    pub(super) fn start_tls(&mut self, key: FlowKey) {
        let transform = self.ftps.start();
        if let Some(conn) = self.flows.get_mut(&key) {
            conn.tls = Some(transform);
        }
    }

    /// CCC was accepted on control connection `key`.
    pub(super) fn ccc_accepted(&mut self, key: FlowKey) {
        if let Some(t) = self.flows.get_mut(&key).and_then(|c| c.tls.as_mut()) {
            t.ccc_accepted();
        }
    }

    /// Whether data connections are decrypted: a key log was given (or may still come).
    pub(super) fn decrypts_data(&self) -> bool {
        self.ftps.has_keys()
    }

    /// Routes chunks of a connection under TLS through its transform (the caller saw it has
    /// one). False when its bytes in `dir` are clear: the chunks are then the caller's to
    /// deliver.
    pub(super) fn tls_chunks(
        &mut self,
        key: FlowKey,
        dir: Dir,
        ts: Timestamp,
        chunks: &[Chunk],
    ) -> bool {
        self.tls_push(key, dir, ts, |ftps, t, out| {
            ftps.push_chunks(t, dir, chunks, out)
        })
    }

    /// Like [`Analyzer::tls_chunks`] for bytes borrowed from a frame.
    pub(super) fn tls_bytes(
        &mut self,
        key: FlowKey,
        dir: Dir,
        ts: Timestamp,
        bytes: &[u8],
    ) -> bool {
        self.tls_push(key, dir, ts, |ftps, t, out| {
            ftps.push_bytes(t, dir, bytes, out)
        })
    }

    /// What [`Analyzer::tls_chunks`] and [`Analyzer::tls_bytes`] share: `push` puts the bytes
    /// through the connection's transform; what comes out is routed, and the ciphertext no key
    /// opened is counted.
    fn tls_push(
        &mut self,
        key: FlowKey,
        dir: Dir,
        ts: Timestamp,
        push: impl FnOnce(&mut FtpsLayer, &mut Transform, &mut Vec<TlsEvent>) -> Option<Pushed>,
    ) -> bool {
        // Its callers just saw the connection's transform (or put it there: `route_data`).
        let t = present!(
            self.flows.get_mut(&key).and_then(|c| c.tls.as_mut()),
            "TLS layer",
            return false
        );
        let mut out = Vec::new();
        let Some(pushed) = push(&mut self.ftps, t, &mut out) else {
            return false;
        };
        self.route_tls(key, ts, out);
        self.count_ciphertext(key, dir, ts, pushed);
        true
    }

    /// A data connection no key opens counts its ciphertext, as one read without a key log
    /// does: an `encrypted` transfer has sizes, never a file.
    fn count_ciphertext(&mut self, key: FlowKey, dir: Dir, ts: Timestamp, pushed: Pushed) {
        let len = pushed.ciphertext;
        if let Some(Role::Data(tid)) = self.flows.get(&key).map(|c| &c.role)
            && len > 0
        {
            let tid = *tid;
            self.drive_transfer(tid, ts, TransferInput::Ciphertext { dir, ts, len });
        }
    }

    /// The connection ends: a record cut short, or held for keys that never came, is lost.
    pub(super) fn tls_finish(&mut self, key: FlowKey, ts: Timestamp) {
        // Most connections carry no TLS.
        let Some(t) = self.flows.get_mut(&key).and_then(|c| c.tls.as_mut()) else {
            return;
        };
        let mut out = Vec::new();
        FtpsLayer::finish(t, &mut out);
        self.route_tls(key, ts, out);
    }

    /// Hands what the transform gave to whatever the connection is: each event is asked of
    /// the layer for the connection as it is then, and wired before the next.
    fn route_tls(&mut self, key: FlowKey, ts: Timestamp, events: Vec<TlsEvent>) {
        for event in events {
            // Its callers hold the connection (`retry_tls` took the key from `flows`), and no
            // connection leaves `flows` while bytes are handled.
            let conn = present!(self.flows.get(&key), "connection");
            let to = Target::of(&conn.role);
            if let Some(action) = self.ftps.route(event, to, conn.tls.as_deref()) {
                self.wire_ftps(key, ts, action);
            }
        }
    }

    /// Applies what one TLS event of connection `key` asks.
    fn wire_ftps(&mut self, key: FlowKey, ts: Timestamp, action: FtpsAction) {
        match action {
            FtpsAction::ControlPlaintext { sid, dir, data } => {
                self.session_decrypting(key, sid);
                self.control_chunk(sid, dir, ts, Chunk::Data(data));
            }
            FtpsAction::DataPlaintext { tid, dir, data } => {
                self.data_piece_decrypted(tid, dir, ts, DataPiece::Bytes(Cow::Owned(data)));
            }
            FtpsAction::ControlLost {
                sid,
                dir,
                len,
                detail,
            } => {
                self.control_chunk(sid, dir, ts, Chunk::Gap(len));
                self.conn_anomaly(key, AnomalyKind::TlsUnreadable, ts, Some(sid), detail);
            }
            FtpsAction::DataLost {
                tid,
                dir,
                len,
                detail,
            } => {
                self.data_piece_decrypted(tid, dir, ts, DataPiece::Gap(len));
                let session = self.transfers.get(&tid).and_then(|t| t.session);
                self.conn_anomaly(key, AnomalyKind::TlsUnreadable, ts, session, detail);
            }
            FtpsAction::Established {
                on,
                facts,
                decrypting,
            } => {
                self.record_tls_facts(on, facts);
                if let Target::Session(sid) = on
                    && decrypting
                {
                    self.session_decrypting(key, sid);
                }
            }
            FtpsAction::KeysMissing { on, detail } => {
                let session = match on {
                    Target::Session(sid) => Some(sid),
                    Target::Transfer(tid) => {
                        let session = self.transfers.get(&tid).and_then(|t| t.session);
                        let input = TransferInput::Ciphertext {
                            dir: Dir::FromInitiator,
                            ts,
                            len: 0,
                        };
                        self.drive_transfer(tid, ts, input);
                        session
                    }
                    Target::Other => None,
                };
                self.conn_anomaly(key, AnomalyKind::TlsKeysMissing, ts, session, detail);
            }
            FtpsAction::CloseNotify { on, dir, facts } => {
                if let Some(facts) = facts {
                    self.record_tls_facts(on, facts);
                }
                match on {
                    Target::Session(_) => {
                        if let Some(t) = self.flows.get_mut(&key).and_then(|c| c.tls.as_mut()) {
                            t.set_clear(dir);
                        }
                    }
                    Target::Transfer(tid) => {
                        let control_open = self.control_open(tid);
                        let input = TransferInput::SenderTlsClosed { dir, control_open };
                        self.drive_transfer(tid, ts, input);
                    }
                    Target::Other => {}
                }
            }
            FtpsAction::Unreadable { on, detail } => {
                let session = match on {
                    Target::Session(sid) => Some(sid),
                    Target::Transfer(tid) => self.transfers.get(&tid).and_then(|t| t.session),
                    Target::Other => None,
                };
                let flow = self.flows.get(&key).map(|c| (c.initiator, c.responder));
                self.anomaly(AnomalyKind::TlsUnreadable, ts, session, flow, detail);
            }
        }
    }

    /// The TLS facts go in the session's or the transfer's record.
    fn record_tls_facts(&mut self, on: Target, facts: Box<crate::event::TlsFacts>) {
        match on {
            Target::Session(sid) => {
                if let Some(s) = self.sessions.get_mut(&sid) {
                    s.tls_info = Some(facts);
                }
            }
            Target::Transfer(tid) => {
                if let Some(t) = self.transfers.get_mut(&tid) {
                    t.tls = Some(facts);
                }
            }
            Target::Other => {}
        }
    }

    /// Keys decrypt the control connection: its dialogue is read again.
    fn session_decrypting(&mut self, key: FlowKey, sid: SessionId) {
        let decrypting = self
            .flows
            .get(&key)
            .and_then(|c| c.tls.as_ref())
            .is_some_and(|t| t.decrypting());
        if let Some(s) = self.sessions.get_mut(&sid)
            && decrypting
            && s.is_protected()
        {
            s.on(SessionInput::Decrypting);
        }
    }
}
