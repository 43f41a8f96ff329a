//! FTPS in the analyzer: where the stream transform ([`crate::stream`]) is put on a
//! connection, and where what it gives back goes. RFC 4217 §4 (AUTH TLS accepted: the control
//! connection's TLS starts with its next byte), §9 (PROT P: each data connection opens with its
//! own handshake) and implicit FTPS (TLS from the first byte, port 990).
//!
//! Decrypted bytes take exactly the clear path: control lines go to the line framers, data to
//! the transfer, so records, links, verdicts, digests and extraction are those of clear FTP.
//! Without a key, the control connection's handshake still tells what is visible (version,
//! suite, SNI, the TLS 1.2 certificate); data connections are decrypted only when a key log
//! was given at all, otherwise their ciphertext is counted as before.

use crate::analyzer::Analyzer;
use crate::event::AnomalyKind;
use crate::flow::reassembly::Chunk;
use crate::flow::{Dir, FlowKey, Role};
use crate::frame::Timestamp;
use crate::ftp::data::DataPiece;
use crate::ftp::session::SessionInput;
use crate::ftp::transfer::TransferInput;
use crate::stream::{self, Transform};
use ftpscope_tls::{KeyLogReport, LossReason, TlsEvent};
use std::borrow::Cow;

impl Analyzer {
    /// Adds NSS key log text (a `--keylog` file, a pcapng Decryption Secrets Block, or what a
    /// growing file gained). Past [`stream::MAX_KEY_LOG_BYTES`] in all, the rest is dropped and
    /// reported as bad lines.
    pub fn add_tls_keys(&mut self, text: &[u8]) -> KeyLogReport {
        let room = stream::MAX_KEY_LOG_BYTES.saturating_sub(self.keys.bytes);
        let take = text.get(..room.min(text.len())).unwrap_or_default();
        self.keys.bytes += take.len();
        let mut report = self.keys.log.add(take);
        if take.len() < text.len() {
            report.bad += 1;
        }
        let more = self.keys.log.finish_partial();
        report.lines += more.lines;
        report.added += more.added;
        report.ignored += more.ignored;
        report.bad += more.bad;
        report.bad_lines.extend(more.bad_lines);
        self.retry_tls();
        report
    }

    /// The key log may still grow (live capture, where clients append while the capture
    /// runs): records whose keys are missing are held (bounded) until they come.
    pub fn keys_may_grow(&mut self, may_grow: bool) {
        self.keys.may_grow = may_grow;
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
                t.retry(&mut self.keys, &mut out);
            }
            self.tls_route(key, now, out);
        }
    }

    /// Puts TLS on connection `key` from its next byte.
    pub(crate) fn start_tls(&mut self, key: FlowKey) {
        let transform = Box::new(Transform::new(&self.keys));
        if let Some(conn) = self.flows.get_mut(&key) {
            conn.tls = Some(transform);
        }
    }

    /// CCC was accepted on control connection `key`.
    pub(crate) fn ccc_accepted(&mut self, key: FlowKey) {
        if let Some(t) = self.flows.get_mut(&key).and_then(|c| c.tls.as_mut()) {
            t.ccc_accepted();
        }
    }

    /// Whether data connections are decrypted: a key log was given (or may still come).
    pub(crate) fn decrypts_data(&self) -> bool {
        self.keys.any()
    }

    /// Routes chunks of a connection under TLS through its transform. False when the
    /// connection has none (the chunks are then the caller's to deliver).
    pub(crate) fn tls_chunks(
        &mut self,
        key: FlowKey,
        dir: Dir,
        ts: Timestamp,
        chunks: &[Chunk],
    ) -> bool {
        let Some(conn) = self.flows.get_mut(&key) else {
            return false;
        };
        let first = chunks.iter().find_map(|c| match c {
            Chunk::Data(d) => Some(d.as_slice()),
            Chunk::Gap(_) => None,
        });
        let Some(t) = conn.tls.as_mut().filter(|t| !t.is_clear(dir)) else {
            return false;
        };
        if first.is_some_and(|f| t.leaves_tls(dir, f)) {
            return false;
        }
        let mut out = Vec::new();
        let mut raw = 0u64;
        for chunk in chunks {
            match chunk {
                Chunk::Data(bytes) => {
                    raw += bytes.len() as u64;
                    t.push(dir, bytes, &mut self.keys, &mut out);
                }
                Chunk::Gap(len) => t.gap(dir, *len, &mut out),
            }
        }
        self.tls_route(key, ts, out);
        self.count_ciphertext(key, dir, ts, raw);
        true
    }

    /// A data connection no key opens counts its ciphertext, as one read without a key log
    /// does: an `encrypted` transfer has sizes, never a file.
    fn count_ciphertext(&mut self, key: FlowKey, dir: Dir, ts: Timestamp, len: u64) {
        let Some(conn) = self.flows.get(&key) else {
            return;
        };
        let keys_missing = conn.tls.as_ref().is_some_and(|t| t.keys_missing);
        let Role::Data(tid) = conn.role else {
            return;
        };
        if keys_missing && len > 0 {
            self.drive_transfer(tid, ts, TransferInput::Ciphertext { dir, ts, len });
        }
    }

    /// Like [`Analyzer::tls_chunks`] for bytes borrowed from a frame.
    pub(crate) fn tls_bytes(
        &mut self,
        key: FlowKey,
        dir: Dir,
        ts: Timestamp,
        bytes: &[u8],
    ) -> bool {
        let Some(t) = self
            .flows
            .get_mut(&key)
            .and_then(|c| c.tls.as_mut())
            .filter(|t| !t.is_clear(dir))
        else {
            return false;
        };
        if t.leaves_tls(dir, bytes) {
            return false;
        }
        let mut out = Vec::new();
        t.push(dir, bytes, &mut self.keys, &mut out);
        self.tls_route(key, ts, out);
        self.count_ciphertext(key, dir, ts, bytes.len() as u64);
        true
    }

    /// The connection ends: a record cut short, or held for keys that never came, is lost.
    pub(crate) fn tls_finish(&mut self, key: FlowKey, ts: Timestamp) {
        let Some(t) = self.flows.get_mut(&key).and_then(|c| c.tls.as_mut()) else {
            return;
        };
        let mut out = Vec::new();
        t.finish(&mut out);
        self.tls_route(key, ts, out);
    }

    /// Hands what the transform gave to whatever the connection is.
    fn tls_route(&mut self, key: FlowKey, ts: Timestamp, events: Vec<TlsEvent>) {
        for event in events {
            let Some(conn) = self.flows.get(&key) else {
                return;
            };
            let role = match conn.role {
                Role::Control(sid) => Target::Session(sid),
                Role::Data(tid) => Target::Transfer(tid),
                _ => Target::None,
            };
            let flow = Some((conn.initiator, conn.responder));
            let decrypting = conn.tls.as_ref().is_some_and(|t| t.decrypting());
            match (event, role) {
                (TlsEvent::Plaintext { from, data }, Target::Session(sid)) => {
                    self.session_decrypting(key, sid);
                    self.control_chunk(sid, stream::dir(from), ts, Chunk::Data(data));
                }
                (TlsEvent::Plaintext { from, data }, Target::Transfer(tid)) => {
                    let piece = DataPiece::Bytes(Cow::Owned(data));
                    self.data_piece_decrypted(tid, stream::dir(from), ts, piece);
                }
                // Lost for want of keys: the control dialogue simply stays unread; a data
                // connection's ciphertext is counted, never the file's.
                // (its ciphertext is counted as it comes: `count_ciphertext`).
                (
                    TlsEvent::Lost {
                        why: LossReason::NoKeys,
                        ..
                    },
                    _,
                ) => {}
                // Plaintext that could not be read: a gap in what the session or the file
                // says (at least one byte, so that a loss of unknown length still counts).
                (TlsEvent::Lost { from, len, why }, Target::Session(sid)) if decrypting => {
                    let len = len.unwrap_or(1).max(1);
                    self.control_chunk(sid, stream::dir(from), ts, Chunk::Gap(len));
                    let detail = format!("{len} bytes of the dialogue lost: {}", why.as_str());
                    self.conn_anomaly(key, AnomalyKind::TlsUnreadable, ts, Some(sid), detail);
                }
                (TlsEvent::Lost { from, len, why }, Target::Transfer(tid)) => {
                    let len = len.unwrap_or(1).max(1);
                    let piece = DataPiece::Gap(len);
                    self.data_piece_decrypted(tid, stream::dir(from), ts, piece);
                    let session = self.transfers.get(&tid).and_then(|t| t.session);
                    let detail = format!("transfer {tid}: {len} bytes lost: {}", why.as_str());
                    self.conn_anomaly(key, AnomalyKind::TlsUnreadable, ts, session, detail);
                }
                (TlsEvent::Lost { .. }, _) => {}
                (TlsEvent::Established, target) => {
                    let Some(facts) = conn.tls.as_ref().map(|t| Box::new(t.facts())) else {
                        continue;
                    };
                    match target {
                        Target::Session(sid) => {
                            if let Some(s) = self.sessions.get_mut(&sid) {
                                s.tls_info = Some(facts);
                            }
                            if decrypting {
                                self.session_decrypting(key, sid);
                            }
                        }
                        Target::Transfer(tid) => {
                            if let Some(t) = self.transfers.get_mut(&tid) {
                                t.tls = Some(facts);
                            }
                        }
                        Target::None => {}
                    }
                }
                (TlsEvent::KeysMissing, target) => {
                    if !self.keys.any() {
                        continue;
                    }
                    let (session, what) = match target {
                        Target::Session(sid) => (Some(sid), "control connection".to_owned()),
                        Target::Transfer(tid) => {
                            let session = self.transfers.get(&tid).and_then(|t| t.session);
                            let input = TransferInput::Ciphertext {
                                dir: Dir::FromInitiator,
                                ts,
                                len: 0,
                            };
                            self.drive_transfer(tid, ts, input);
                            (session, format!("transfer {tid}"))
                        }
                        Target::None => (None, "connection".to_owned()),
                    };
                    self.conn_anomaly(key, AnomalyKind::TlsKeysMissing, ts, session, what);
                }
                // A TLS close, not a truncation: the facts say so, and the sender's ends the
                // file as its FIN would.
                (TlsEvent::CloseNotify { from }, target) => {
                    self.refresh_tls_facts(key);
                    // RFC 4217 §12.3: a control connection that goes on after its TLS close
                    // does so in clear text (CCC); nothing else may follow a close_notify.
                    if let Target::Session(_) = target
                        && let Some(t) = self.flows.get_mut(&key).and_then(|c| c.tls.as_mut())
                    {
                        t.set_clear(stream::dir(from));
                    }
                    if let Target::Transfer(tid) = target {
                        let control_open = self.control_open(tid);
                        let dir = stream::dir(from);
                        let input = TransferInput::SenderTlsClosed { dir, control_open };
                        self.drive_transfer(tid, ts, input);
                    }
                }
                (TlsEvent::Problem { kind, detail }, target) => {
                    let session = match target {
                        Target::Session(sid) => Some(sid),
                        Target::Transfer(tid) => self.transfers.get(&tid).and_then(|t| t.session),
                        Target::None => None,
                    };
                    let detail = format!("{}: {detail}", kind.as_str());
                    self.anomaly(AnomalyKind::TlsUnreadable, ts, session, flow, detail);
                }
                (TlsEvent::Alert { .. }, _) | (TlsEvent::Plaintext { .. }, Target::None) => {}
            }
        }
    }

    /// The session's or transfer's TLS facts follow the transform (close_notify came).
    fn refresh_tls_facts(&mut self, key: FlowKey) {
        let Some(conn) = self.flows.get(&key) else {
            return;
        };
        let Some(facts) = conn.tls.as_ref().map(|t| Box::new(t.facts())) else {
            return;
        };
        match conn.role {
            Role::Control(sid) => {
                if let Some(s) = self.sessions.get_mut(&sid) {
                    s.tls_info = Some(facts);
                }
            }
            Role::Data(tid) => {
                if let Some(t) = self.transfers.get_mut(&tid) {
                    t.tls = Some(facts);
                }
            }
            _ => {}
        }
    }

    /// Keys decrypt the control connection: its dialogue is read again.
    fn session_decrypting(&mut self, key: FlowKey, sid: crate::event::SessionId) {
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

/// Whether a connection that opens with a ClientHello greets like an FTP server once its TLS
/// is decrypted (implicit FTPS on a port other than 990): Some(true) when the server's first
/// plaintext line is a greeting, Some(false) when it is not (or no key opens it), None while
/// the held bytes do not tell yet. A trial on a transform of its own, thrown away after.
pub(crate) fn greets_inside_tls(
    chunks: &[(Timestamp, Dir, Vec<u8>)],
    keys: &mut stream::Keys,
) -> Option<bool> {
    let mut trial = Transform::new(keys);
    let mut out = Vec::new();
    let mut from_server = Vec::new();
    for (_, dir, bytes) in chunks {
        trial.push(*dir, bytes, keys, &mut out);
        for event in out.drain(..) {
            match event {
                TlsEvent::Plaintext { from, data } if stream::dir(from) == Dir::FromResponder => {
                    from_server.extend_from_slice(&data);
                }
                TlsEvent::KeysMissing => return Some(false),
                _ => {}
            }
        }
        if let Some(end) = memchr::memchr(b'\n', &from_server) {
            let line = from_server.get(..end).unwrap_or_default();
            return Some(crate::ftp::control::is_greeting(line));
        }
    }
    None
}

/// What a connection under TLS is to the analyzer.
#[derive(Clone, Copy)]
enum Target {
    Session(crate::event::SessionId),
    Transfer(crate::event::TransferId),
    None,
}
