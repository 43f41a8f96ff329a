//! Telling what a new connection is: a data connection an announcement or port 20 explains,
//! an FTP session (port 21 from its first byte, or another port once its dialogue says so,
//! [`crate::ftp::detect`]), implicit FTPS (RFC 4217 §2: TLS from the first byte), or nothing
//! of ours.

use super::{Analyzer, host_pair};
use crate::event::{AnomalyKind, DetectedBy, Event, LinkRule, SessionId, SessionStart};
use crate::flow::reassembly::Chunk;
use crate::flow::{Dir, FlowKey, QuietConn, Role};
use crate::frame::Timestamp;
use crate::ftp::detect::{Verdict, judge};
use crate::ftp::session::Session;
use crate::ftp::transfer::opens_tls;
use std::net::SocketAddr;

/// Bytes held of a connection that opens with a ClientHello, while a key log may show an
/// implicit FTPS greeting behind its handshake.
const MAX_TLS_CLASSIFY_BYTES: usize = 16 * 1024;

/// Implicit FTPS's port (IANA "ftps").
const IMPLICIT_FTPS_PORT: u16 = 990;

impl Analyzer {
    /// Decides what a new connection is, before any payload: a data connection (announced, or
    /// to or from port 20), or None when only its bytes can tell. Such a connection stays quiet
    /// (no session, no buffers) until its first payload byte ([`Analyzer::wake_role`]).
    pub(super) fn classify_new(
        &mut self,
        key: FlowKey,
        initiator: SocketAddr,
        responder: SocketAddr,
        ts: Timestamp,
        syn: bool,
    ) -> Option<Role> {
        let window = self.limits.port_only_window;
        if responder.port() == 21 {
            // An announced endpoint outranks the port: in an FTP bounce (`PORT h,0,21`, then
            // LIST) the server's connections to port 21 of a third host are the data
            // connections of those LISTs. The announced port alone is no evidence here (any
            // new session to any FTP server would match it), the address or the peers are.
            let matched = self.expectations.take_match_at_least(
                initiator,
                responder,
                ts,
                window,
                LinkRule::NatPeers,
            );
            if let Some(matched) = matched {
                let tid = self.link_data(key, initiator, responder, initiator, matched, ts);
                return Some(Role::Data(tid));
            }
            // FTP control, once it carries a byte.
            return None;
        }
        let mut found = self
            .expectations
            .take_match(initiator, responder, ts, window);
        if found.is_none() && !syn {
            // Picked up mid-stream, the guess of who opened it may be wrong.
            found = self
                .expectations
                .take_match(responder, initiator, ts, window);
            if let Some(matched) = found {
                let tid = self.link_data(key, responder, initiator, initiator, matched, ts);
                return Some(Role::Data(tid));
            }
        }
        if let Some(matched) = found {
            let tid = self.link_data(key, initiator, responder, initiator, matched, ts);
            return Some(Role::Data(tid));
        }
        if initiator.port() == 20 || responder.port() == 20 {
            return self.port_20_opened(key, initiator, responder, ts);
        }
        None
    }

    /// What a quiet connection is once its first payload byte comes: a connection to port 21
    /// is an FTP session from then on, started when the connection opened; any other waits for
    /// its dialogue to tell.
    pub(super) fn wake_role(&mut self, key: FlowKey, quiet: &QuietConn) -> Role {
        if !quiet.to_port_21() {
            let (initiator, responder) = quiet.endpoints(key);
            if initiator.port() == 20 || responder.port() == 20 {
                return Role::Data(self.port_20_data(key, initiator, responder, quiet.first_ts));
            }
            return Role::Unclassified {
                chunks: Vec::new(),
                bytes: 0,
            };
        }
        let (client, server) = quiet.endpoints(key);
        let sid = self.start_session(
            key,
            client,
            server,
            Dir::FromInitiator,
            quiet.first_ts,
            DetectedBy::Port21,
            quiet.opened_with_syn(),
        );
        Role::Control(sid)
    }

    /// Looks at an unclassified connection's first bytes; `closing` forces a decision.
    pub(super) fn try_classify(&mut self, key: FlowKey, ts: Timestamp, closing: bool) {
        // Its callers (`deliver`, `close_conn`) just held the connection.
        let conn = present!(self.flows.get(&key), "connection");
        let Role::Unclassified { chunks, bytes } = &conn.role else {
            return;
        };
        let mut verdict = judge(chunks);
        let opens_with_tls = chunks
            .first()
            .is_some_and(|(_, _, bytes)| opens_tls(bytes, false));
        let client_hello_first = chunks.first().is_some_and(|(_, dir, bytes)| {
            *dir == Dir::FromInitiator && ftpscope_tls::looks_like_client_hello(bytes)
        });
        if client_hello_first && conn.responder.port() == IMPLICIT_FTPS_PORT {
            verdict = Verdict::ImplicitTls;
        } else if client_hello_first && self.ftps.has_keys() {
            // Implicit FTPS on another port: TLS from the first byte, and once decrypted the
            // server's first words are an FTP greeting. Tried on what is held (bounded).
            match self.ftps.greets_inside_tls(chunks) {
                Some(true) => verdict = Verdict::ImplicitTls,
                Some(false) => {}
                None => verdict = Verdict::Undecided,
            }
        }
        // The bounds on waiting for the dialogue to tell: its end, its bytes, its time.
        let first_ts = chunks.first().map_or(ts, |(first, _, _)| *first);
        let waited = ts - first_ts;
        // A TLS handshake (certificates included) comes before an implicit FTPS greeting.
        let max_bytes = if client_hello_first && self.ftps.has_keys() {
            self.limits.max_classify_bytes.max(MAX_TLS_CLASSIFY_BYTES)
        } else {
            self.limits.max_classify_bytes
        };
        if verdict == Verdict::Undecided
            && (closing || *bytes > max_bytes || waited > self.limits.max_classify_wait)
        {
            verdict = Verdict::NotFtp;
        }
        let (initiator, responder, syn) = (conn.initiator, conn.responder, conn.handshake_seen());
        let role = match verdict {
            Verdict::Undecided => return,
            // TLS from the first byte (the FTPS of before RFC 4217, still served on 990): a
            // session whose whole dialogue, greeting included, is inside TLS.
            Verdict::ImplicitTls => {
                let sid = self.start_session(
                    key,
                    initiator,
                    responder,
                    Dir::FromInitiator,
                    first_ts,
                    DetectedBy::ImplicitTls,
                    syn,
                );
                if let Some(s) = self.sessions.get_mut(&sid) {
                    s.start_protected();
                }
                self.start_tls(key);
                Role::Control(sid)
            }
            Verdict::Ftp { client_dir } => {
                let (client, server) = if client_dir == Dir::FromInitiator {
                    (initiator, responder)
                } else {
                    (responder, initiator)
                };
                // The session starts with its first line (the greeting), not with the line
                // that told it was FTP.
                Role::Control(self.start_session(
                    key,
                    client,
                    server,
                    client_dir,
                    first_ts,
                    DetectedBy::Dialogue,
                    syn,
                ))
            }
            Verdict::NotFtp => {
                // Not FTP control. Between hosts that speak FTP it is a data connection only
                // with evidence (no announcement matched it, nor port 20, or it would not be
                // here): a data command waiting for its connection, sent in time, of a
                // session whose data connections open this way. Otherwise a shell on port
                // 6200 or SMB on port 139 between the same hosts would become a file.
                let first = self.flows.get(&key).map_or(ts, |c| c.first_ts);
                match self.data_command_waiting(initiator, responder, first) {
                    Some((sid, tid)) => {
                        Role::Data(self.claim_waiting(key, initiator, responder, sid, tid, ts))
                    }
                    // Under AUTH TLS the data commands and the PASV replies are encrypted, so
                    // none can be waiting: a connection between the hosts of a session under
                    // TLS that opens with a TLS handshake is its PROT P data, encrypted data
                    // with no command (a shell would not open with a TLS ClientHello).
                    None if opens_with_tls => {
                        match self.tls_session_between(initiator, responder) {
                            Some(sid) => {
                                Role::Data(self.tls_peer_data(key, initiator, responder, sid, ts))
                            }
                            None => Role::Ignored,
                        }
                    }
                    None => Role::Ignored,
                }
            }
        };
        // Starting a session or a transfer, or TLS, removes no connection.
        let conn = present!(self.flows.get_mut(&key), "connection");
        let Role::Unclassified { chunks, .. } = std::mem::replace(&mut conn.role, role) else {
            return;
        };
        for (chunk_ts, dir, bytes) in chunks {
            self.deliver(key, dir, chunk_ts, vec![Chunk::Data(bytes)]);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn start_session(
        &mut self,
        key: FlowKey,
        client: SocketAddr,
        server: SocketAddr,
        client_dir: Dir,
        ts: Timestamp,
        detected_by: DetectedBy,
        expect_greeting: bool,
    ) -> SessionId {
        let sid = self.new_session_id();
        let session = Session::new(
            sid,
            key,
            client,
            server,
            client_dir,
            ts,
            self.limits.max_line_len,
            expect_greeting,
        );
        self.sessions.insert(sid, session);
        *self
            .ftp_host_pairs
            .entry(host_pair(client.ip(), server.ip()))
            .or_insert(0) += 1;
        self.emit(Event::SessionStarted(SessionStart {
            session: sid,
            ts,
            client,
            server,
            detected_by,
        }));
        if !expect_greeting {
            // No handshake: the greeting and perhaps the login happened before the capture.
            self.anomaly(
                AnomalyKind::TcpMidstream,
                ts,
                Some(sid),
                Some((client, server)),
                "control connection".into(),
            );
        }
        sid
    }
}
