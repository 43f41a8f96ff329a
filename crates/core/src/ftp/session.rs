//! The state of one FTP control connection (RFC 959 §5.4 sequencing): who logged in, where
//! they are, what they asked for and which replies answer which commands.
//!
//! Commands may be pipelined, so the commands waiting for a reply are a bounded queue matched
//! in order; a 1xx reply leaves its command waiting, any 2xx-5xx completes it (RFC 959 §4.2).
//! The greeting answers a virtual first entry.

use crate::event::{
    CommandLine, DataMode, EndReason, LoginState, Reply, SessionId, SessionSummary, TransferId,
};
use crate::flow::{Dir, FlowKey};
use crate::frame::Timestamp;
use crate::ftp::command::CommandKind;
use crate::ftp::expect::ExpectationId;
use crate::ftp::line::LineFramer;
use crate::ftp::reply::ReplyAssembler;
use std::collections::VecDeque;
use std::net::SocketAddr;

#[derive(Debug)]
pub struct Pending {
    /// None for the virtual entry the greeting answers.
    pub command: Option<CommandLine>,
    pub kind: CommandKind,
    pub replies: Vec<Reply>,
    pub transfer: Option<TransferId>,
    /// The command's argument resolved to a full path (CWD, SIZE) or parsed (REST).
    pub target: Option<Vec<u8>>,
    pub number: Option<u64>,
}

#[derive(Debug)]
pub struct Session {
    pub id: SessionId,
    pub flow: FlowKey,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Which direction of the control connection carries commands (the other carries replies).
    pub client_dir: Dir,
    pub start: Timestamp,
    pub last_ts: Timestamp,
    pub commands_in: LineFramer,
    pub replies_in: LineFramer,
    pub replies: ReplyAssembler,
    pub pending: VecDeque<Pending>,
    pub user: Option<Vec<u8>>,
    pub password: Option<Vec<u8>>,
    pub anonymous: bool,
    pub login: LoginState,
    pub login_attempts: u32,
    pub tls: bool,
    pub cwd: Option<Vec<u8>>,
    pub transfer_type: Option<u8>,
    pub rest: Option<u64>,
    /// Sizes from SIZE replies, by full path (or path as sent), most recent last.
    pub size_hints: VecDeque<(Vec<u8>, u64)>,
    /// (port, id) of this session's expectations, oldest first.
    pub expectations: VecDeque<(u16, ExpectationId)>,
    pub announced_any: bool,
    /// The mode of the last endpoint announced (PORT/EPRT/LPRT: active, 227/228/229: passive):
    /// which way its next data connection opens.
    pub last_mode: Option<DataMode>,
    /// An announced address differed from the control peers (reported once).
    pub mismatch_reported: bool,
    /// Transfers created by a data connection, waiting for the command that claims them.
    pub unclaimed: VecDeque<TransferId>,
    /// Transfers created by a command, waiting for their data connection.
    pub awaiting_conn: VecDeque<TransferId>,
    /// Every transfer of this session not ended yet, oldest first, so that the session's end
    /// reaches them all (a transfer whose data connection closed before its final reply
    /// would otherwise outlive its session).
    pub in_flight: Vec<TransferId>,
    pub commands: u64,
    pub transfers: u64,
}

impl Session {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: SessionId,
        flow: FlowKey,
        client: SocketAddr,
        server: SocketAddr,
        client_dir: Dir,
        ts: Timestamp,
        max_line: usize,
        expect_greeting: bool,
    ) -> Self {
        let mut pending = VecDeque::new();
        if expect_greeting {
            pending.push_back(Pending {
                command: None,
                kind: CommandKind::Other,
                replies: Vec::new(),
                transfer: None,
                target: None,
                number: None,
            });
        }
        Session {
            id,
            flow,
            client,
            server,
            client_dir,
            start: ts,
            last_ts: ts,
            commands_in: LineFramer::new(max_line),
            replies_in: LineFramer::new(max_line),
            replies: ReplyAssembler::default(),
            pending,
            user: None,
            password: None,
            anonymous: false,
            login: LoginState::None,
            login_attempts: 0,
            tls: false,
            cwd: None,
            transfer_type: None,
            rest: None,
            size_hints: VecDeque::new(),
            expectations: VecDeque::new(),
            announced_any: false,
            last_mode: None,
            mismatch_reported: false,
            unclaimed: VecDeque::new(),
            awaiting_conn: VecDeque::new(),
            in_flight: Vec::new(),
            commands: 0,
            transfers: 0,
        }
    }

    pub fn size_hint(&self, path: &[u8]) -> Option<u64> {
        self.size_hints
            .iter()
            .rev()
            .find(|(p, _)| p == path)
            .map(|(_, s)| *s)
    }

    pub fn remember_size(&mut self, path: Vec<u8>, size: u64, max: usize) {
        self.size_hints.retain(|(p, _)| *p != path);
        if self.size_hints.len() >= max {
            self.size_hints.pop_front();
        }
        self.size_hints.push_back((path, size));
    }

    pub fn summary(&self, end: Timestamp, end_reason: EndReason) -> SessionSummary {
        SessionSummary {
            session: self.id,
            client: self.client,
            server: self.server,
            start: self.start,
            // Capture time may go backwards: a session never ends before it started.
            end: end.max(self.start),
            user: self.user.clone(),
            password: self.password.clone(),
            anonymous: self.anonymous,
            login: self.login,
            login_attempts: self.login_attempts,
            tls: self.tls,
            commands: self.commands,
            transfers: self.transfers,
            end_reason,
        }
    }
}

/// Anonymous FTP (RFC 1635): the password is an e-mail address by convention, not a secret.
pub fn is_anonymous_user(user: &[u8]) -> bool {
    user.eq_ignore_ascii_case(b"anonymous") || user.eq_ignore_ascii_case(b"ftp")
}
