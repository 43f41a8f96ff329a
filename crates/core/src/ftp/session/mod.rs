//! The state of one FTP control connection: who logged in, where they are, what they asked for
//! and which replies answer which commands.
//!
//! Its state machine is the dialogue's standing: RFC 959 §5.4 "Connection Establishment" (the
//! 120/220/421 greeting) and the §5.4 login sequence of §4.1.1 (USER, then PASS on a 331, ACCT
//! on a 332, 230 or 202 logged in, REIN back to the start, QUIT answered 221), with RFC 2228 §3
//! AUTH and RFC 4217 §4 (a 234 puts the control connection under TLS from the next byte: the
//! rest of the dialogue is ciphertext). [`Session::on`] is the one transition; the analyzer
//! routes each command and each completed reply to it and wires its [`SessionOutput`].
//!
//! Commands may be pipelined, so the commands waiting for a reply are a bounded queue matched
//! in order; a 1xx reply leaves its command waiting, any 2xx-5xx completes it (RFC 959 §4.2).
//! The greeting answers a virtual first entry. Data connections and the endpoints announced
//! for them are the analyzer's (`analyzer/data.rs`, `ftp/expect.rs`).

use crate::event::{
    CommandLine, DataMode, EndReason, LoginState, Reply, SessionId, SessionSummary, TransferId,
};
use crate::flow::{Dir, FlowKey};
use crate::frame::Timestamp;
use crate::ftp::command::{CommandKind, TransferCommand};
use crate::ftp::expect::ExpectationId;
use crate::ftp::line::LineFramer;
use crate::ftp::reply::ReplyAssembler;
use std::collections::VecDeque;
use std::net::SocketAddr;

mod dialogue;

pub use dialogue::{CommandWire, DialogueAction, ReadCommand, SessionEnd, whole_after_gap};

/// Where the control dialogue stands (RFC 959 §5.4, RFC 2228 §3, RFC 4217 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// §5.4 Connection Establishment: the connection opened (its handshake was seen) and the
    /// server's greeting (220, or 120 then 220, or 421) has not come yet.
    AwaitingGreeting,
    /// The dialogue is in clear text; where the §4.1.1 login sequence stands.
    Clear(LoginStage),
    /// RFC 2228 §3: AUTH was sent and awaits its reply; a 234 puts the connection under TLS, a
    /// refusal leaves the dialogue clear and the login where it stood.
    AuthRequested(LoginStage),
    /// RFC 4217 §4: AUTH TLS (or SSL) was accepted with a 234 (or the connection was TLS from
    /// its first byte, implicit FTPS); from the next byte the control connection is TLS, and
    /// until keys decrypt it its dialogue cannot be read. The login stage is where it stood.
    Protected(LoginStage),
    /// §4.1.1 QUIT answered 221, or §5.4 421 "Service not available, closing control
    /// connection": the server closes the connection.
    Closing,
}

/// Where the §4.1.1 login sequence stands (RFC 959 §5.4, "Login" state diagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginStage {
    /// The capture joined an established connection: its greeting, and perhaps its login, came
    /// before the capture did.
    Unknown,
    /// Greeted with 220 (or reinitialized by REIN, or a login refused): awaiting USER.
    AwaitingUser,
    /// USER answered 331 "User name okay, need password": awaiting PASS.
    AwaitingPass,
    /// USER or PASS answered 332 "Need account for login": awaiting ACCT.
    AwaitingAcct,
    /// USER, PASS or ACCT answered 230 (or ACCT 202): logged in.
    LoggedIn,
}

/// What the analyzer routes to a session's state machine.
#[derive(Debug, Clone, Copy)]
pub enum SessionInput<'a> {
    /// The client sent a command (`kind` from its verb, `arg` as sent).
    Command { kind: CommandKind, arg: &'a [u8] },
    /// A final reply (2yz-5yz, §4.2) completed: `to` is the kind of the command it answers,
    /// None for the greeting, a command lost in a gap, or a reply no command asked for.
    Reply { to: Option<CommandKind>, code: u16 },
    /// The control connection's TLS decrypts with keys from a key log: the dialogue is
    /// readable again.
    Decrypting,
}

/// What the analyzer must wire after a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionOutput {
    /// Nothing outside the session changes.
    Nothing,
    /// The command's argument is a secret (PASS, ACCT of a user not anonymous): report it
    /// marked so.
    SecretArgument,
    /// The control connection is TLS from the next byte: no more lines are framed from it
    /// until its keys are found.
    Protected,
}

/// What the login said, for the session's summary: the user and password last given and how
/// the attempts went (a record of what was seen, not the dialogue's state).
#[derive(Debug, Clone)]
struct Credentials {
    user: Option<Vec<u8>>,
    password: Option<Vec<u8>>,
    /// The last USER was `anonymous` or `ftp` (RFC 1635): its password is no secret.
    anonymous: bool,
    /// Ok once a login succeeded (until REIN), Failed when one was refused and none succeeded.
    outcome: LoginState,
    /// Login attempts: a PASS answered 230 or 202, or a PASS or ACCT refused.
    attempts: u32,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials {
            user: None,
            password: None,
            anonymous: false,
            outcome: LoginState::None,
            attempts: 0,
        }
    }
}

/// A command waiting for its final reply (RFC 959 §4.2), or the greeting's place.
#[derive(Debug)]
struct Pending {
    /// None for the virtual entry the greeting answers, or a command lost in a gap.
    command: Option<CommandLine>,
    kind: CommandKind,
    /// Its replies so far (1yz, and the final one when it comes).
    replies: Vec<Reply>,
    /// The transfer a transfer command was bound to, whose replies it forwards.
    transfer: Option<TransferId>,
    /// The command's argument resolved to a full path (CWD, SIZE).
    target: Option<Vec<u8>>,
    /// The command's argument as a number (REST).
    number: Option<u64>,
    /// A transfer command sent before the commands ahead of it were answered (pipelined).
    deferred: Deferred,
}

/// A transfer command runs in the server's state after every command sent before it (RFC 959
/// §4.2: the server answers commands in order). A client that pipelines (`PASV`, `REST n`,
/// `RETR f` in one segment, as lftp does with `ftp:sync-mode off`) sends it before those
/// replies: its endpoint, REST offset and type are known only once they came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deferred {
    /// Bound when it was read (the commands ahead of it were answered), or no transfer command.
    No,
    /// Waits for every command ahead of it to have a reply before it is bound.
    Waiting(TransferCommand),
    /// Bound: the analyzer is given it with this number, and gives its transfer back
    /// ([`Session::bound_deferred`]).
    Binding(u64),
}

/// One FTP control connection. What the dialogue says is private to it: the analyzer reads it
/// through [`Session::read_command`] and [`Session::reply`] and wires what they return.
#[derive(Debug)]
pub struct Session {
    pub(crate) id: SessionId,
    /// The control connection.
    pub(crate) flow: FlowKey,
    pub(crate) client: SocketAddr,
    pub(crate) server: SocketAddr,
    /// Which direction of the control connection carries commands (the other carries replies).
    pub(crate) client_dir: Dir,
    pub(crate) start: Timestamp,
    /// The time of its last command or reply bytes.
    last_ts: Timestamp,
    commands_in: LineFramer,
    replies_in: LineFramer,
    replies: ReplyAssembler,
    /// Commands waiting for their final reply, in the order sent.
    pending: VecDeque<Pending>,
    /// Where the dialogue stands; moved only by [`Session::on`].
    state: SessionState,
    credentials: Credentials,
    /// The working directory, as the server said it or as CWDs built it (None: unknown).
    cwd: Option<Vec<u8>>,
    /// TYPE's first letter (RFC 959 §3.1.1: A, E, I, L).
    transfer_type: Option<u8>,
    /// A REST offset accepted (350) and not yet consumed by a transfer command.
    rest: Option<u64>,
    /// Sizes from SIZE replies, by full path (or path as sent), most recent last.
    size_hints: VecDeque<(Vec<u8>, u64)>,
    /// (port, id) of this session's expectations, oldest first.
    expectations: VecDeque<(u16, ExpectationId)>,
    announced_any: bool,
    /// The mode of the last endpoint announced (PORT/EPRT/LPRT: active, 227/228/229: passive):
    /// which way its next data connection opens.
    last_mode: Option<DataMode>,
    /// An announced address differed from the control peers (reported once).
    mismatch_reported: bool,
    /// Transfers created by a data connection, waiting for the command that claims them.
    pub(crate) unclaimed: VecDeque<TransferId>,
    /// Transfers created by a command, waiting for their data connection.
    pub(crate) awaiting_conn: VecDeque<TransferId>,
    /// Every transfer of this session not ended yet, oldest first, so that the session's end
    /// reaches them all (a transfer whose data connection closed before its final reply
    /// would otherwise outlive its session).
    pub(crate) in_flight: Vec<TransferId>,
    commands: u64,
    /// Transfers counted for the summary.
    pub(crate) transfers: u64,
    /// A reply came: the server's side is in the capture, so a transfer command sent before
    /// the replies ahead of it can wait for them ([`Deferred`]).
    heard_server: bool,
    /// Numbers the deferred transfer commands handed to the analyzer.
    deferred_bound: u64,
    /// AUTH TLS was accepted, or the session was TLS from its first byte.
    under_tls: bool,
    /// What its TLS showed (set when the handshake is done).
    pub(crate) tls_info: Option<Box<crate::event::TlsFacts>>,
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
            pending.push_back(Pending::placeholder());
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
            state: if expect_greeting {
                SessionState::AwaitingGreeting
            } else {
                SessionState::Clear(LoginStage::Unknown)
            },
            credentials: Credentials::default(),
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
            heard_server: false,
            deferred_bound: 0,
            under_tls: false,
            tls_info: None,
        }
    }

    /// The greeting's place is still first in line (implicit FTPS before its greeting).
    fn pending_greeting(&self) -> bool {
        self.pending.front().is_some_and(|p| p.command.is_none())
    }

    /// Where the dialogue stands.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// Whether the control connection is TLS and its dialogue cannot be read (no keys yet).
    pub fn is_protected(&self) -> bool {
        matches!(self.state, SessionState::Protected(_))
    }

    /// Implicit FTPS (TLS from the first byte): protected before the greeting.
    pub fn start_protected(&mut self) {
        self.under_tls = true;
        let stage = match self.state {
            SessionState::Clear(stage) | SessionState::AuthRequested(stage) => stage,
            _ => LoginStage::AwaitingUser,
        };
        self.state = SessionState::Protected(stage);
    }

    /// The one transition: applies a command or a completed reply and says what the analyzer
    /// must wire.
    pub fn on(&mut self, input: SessionInput<'_>) -> SessionOutput {
        use CommandKind::{Acct, Auth, Pass, Quit, Rein, User};
        use LoginStage::{AwaitingAcct, AwaitingPass, AwaitingUser, LoggedIn};
        use SessionInput::{Command, Reply};
        use SessionState::{AuthRequested, AwaitingGreeting, Clear, Closing, Protected};
        match (self.state, input) {
            // Keys decrypt the TLS: the dialogue goes on, readable, where the login stood
            // (after AUTH the client logs in, under TLS). Before the greeting of implicit
            // FTPS, the greeting is still to come.
            (Protected(stage), SessionInput::Decrypting) => {
                self.state = if self.commands == 0 && self.pending_greeting() {
                    AwaitingGreeting
                } else {
                    Clear(stage)
                };
                SessionOutput::Nothing
            }
            (_, SessionInput::Decrypting) => SessionOutput::Nothing,
            // RFC 4217 §4: under TLS the analyzer frames no more lines, so nothing comes here;
            // were it to, nothing read from ciphertext could be trusted.
            (Protected(_), _) => SessionOutput::Nothing,
            // §4.1.1 USER: a user, whatever came before (a logged-in client may change user);
            // its reply moves the login on. Its password is not yet known.
            (_, Command { kind: User, arg }) => {
                let credentials = &mut self.credentials;
                credentials.anonymous = is_anonymous_user(arg);
                credentials.user = Some(arg.to_vec());
                credentials.password = None;
                SessionOutput::Nothing
            }
            // §4.1.1 PASS: the password, a secret unless the user is anonymous (RFC 1635: an
            // e-mail address by convention).
            (_, Command { kind: Pass, arg }) => {
                self.credentials.password = Some(arg.to_vec());
                self.secret_unless_anonymous()
            }
            // §4.1.1 ACCT: the account is as secret as the password.
            (_, Command { kind: Acct, .. }) => self.secret_unless_anonymous(),
            // RFC 2228 §3 AUTH: the reply decides whether the dialogue stays readable.
            (Clear(stage), Command { kind: Auth, .. }) => {
                self.state = AuthRequested(stage);
                SessionOutput::Nothing
            }
            // Every other command (AUTH before the greeting, AUTH again, QUIT awaiting its
            // 221...) leaves the dialogue where it stands: replies move it.
            (_, Command { .. }) => SessionOutput::Nothing,
            // RFC 4217 §4: 234 to AUTH TLS/SSL, TLS from the next byte; the rest of the
            // dialogue is ciphertext. Whatever the session was waiting for, a 234 is a 234.
            (
                _,
                Reply {
                    to: Some(Auth),
                    code: 234,
                },
            ) => {
                let stage = match self.state {
                    Clear(stage) | AuthRequested(stage) => stage,
                    _ => LoginStage::Unknown,
                };
                self.under_tls = true;
                self.state = Protected(stage);
                SessionOutput::Protected
            }
            // §5.4: a login command refused (530 not logged in, 503 bad sequence, 4yz...): back
            // to awaiting USER, or closing on a 421. A login that succeeded earlier still
            // counts as the session's login.
            (
                _,
                Reply {
                    to: Some(kind @ (User | Pass | Acct)),
                    code,
                },
            ) if code >= 400 => {
                let credentials = &mut self.credentials;
                credentials.attempts += u32::from(kind != User);
                if credentials.outcome != LoginState::Ok {
                    credentials.outcome = LoginState::Failed;
                }
                if code == 421 {
                    self.state = Closing;
                } else {
                    self.login_stands(AwaitingUser);
                }
                SessionOutput::Nothing
            }
            // §5.4: 421 to any other command, or as the greeting: the server closes.
            (_, Reply { code: 421, .. }) => {
                self.state = Closing;
                SessionOutput::Nothing
            }
            // RFC 2228 §3: AUTH refused (500/502 unknown, 504 mechanism not supported, 534
            // policy, 431 unavailable) or a 334 asking for ADAT: the dialogue stays clear.
            (AuthRequested(stage), Reply { to: Some(Auth), .. }) => {
                self.state = Clear(stage);
                SessionOutput::Nothing
            }
            // §5.4 Connection Establishment: the greeting (a 120 before it is preliminary and
            // never comes here). A session joined mid-stream learns it was just greeted.
            (
                AwaitingGreeting | Clear(LoginStage::Unknown),
                Reply {
                    to: None,
                    code: 220,
                },
            ) => {
                self.state = Clear(AwaitingUser);
                SessionOutput::Nothing
            }
            // §4.1.1: USER alone was enough (230).
            (
                _,
                Reply {
                    to: Some(User),
                    code: 230,
                },
            ) => {
                self.credentials.outcome = LoginState::Ok;
                self.login_stands(LoggedIn);
                SessionOutput::Nothing
            }
            // §5.4: 331 "User name okay, need password".
            (
                _,
                Reply {
                    to: Some(User),
                    code: 331,
                },
            ) => {
                self.login_stands(AwaitingPass);
                SessionOutput::Nothing
            }
            // §5.4: 332 "Need account for login", to USER or to PASS.
            (
                _,
                Reply {
                    to: Some(User | Pass),
                    code: 332,
                },
            ) => {
                self.login_stands(AwaitingAcct);
                SessionOutput::Nothing
            }
            // §4.1.1: PASS or ACCT answered 230 (ACCT: or 202, "superfluous"): logged in. A
            // PASS answered so is an attempt; an ACCT is not (so PASS 332, ACCT 230 counts
            // none, as it always did: the summaries must not change with this machine).
            (
                _,
                Reply {
                    to: Some(kind @ (Pass | Acct)),
                    code: 230 | 202,
                },
            ) => {
                let credentials = &mut self.credentials;
                credentials.attempts += u32::from(kind == Pass);
                credentials.outcome = LoginState::Ok;
                self.login_stands(LoggedIn);
                SessionOutput::Nothing
            }
            // §4.1.1 REIN: the user is flushed and the server awaits a new USER (220). The
            // attempts already made still count.
            (
                _,
                Reply {
                    to: Some(Rein),
                    code: 200..=299,
                },
            ) => {
                let credentials = &mut self.credentials;
                credentials.outcome = LoginState::None;
                credentials.user = None;
                credentials.password = None;
                self.login_stands(AwaitingUser);
                SessionOutput::Nothing
            }
            // §4.1.1 QUIT: 221, the server closes the control connection.
            (
                _,
                Reply {
                    to: Some(Quit),
                    code: 221,
                },
            ) => {
                self.state = Closing;
                SessionOutput::Nothing
            }
            // Any other reply (to a command that does not move the login, a 5yz to QUIT...)
            // leaves the dialogue where it stands.
            (_, Reply { .. }) => SessionOutput::Nothing,
        }
    }

    /// The login moved on: in clear text, or inside AUTH's wait for a reply to a login command
    /// sent before it (pipelined), which AUTH's own reply then settles.
    fn login_stands(&mut self, stage: LoginStage) {
        self.state = match self.state {
            SessionState::AuthRequested(_) => SessionState::AuthRequested(stage),
            _ => SessionState::Clear(stage),
        };
    }

    fn secret_unless_anonymous(&self) -> SessionOutput {
        if self.credentials.anonymous {
            SessionOutput::Nothing
        } else {
            SessionOutput::SecretArgument
        }
    }

    /// Whether the control connection is under TLS (AUTH TLS accepted, or implicit FTPS),
    /// whether or not keys decrypt it.
    pub fn under_tls(&self) -> bool {
        self.under_tls
    }

    /// The working directory, when known.
    pub fn cwd(&self) -> Option<&[u8]> {
        self.cwd.as_deref()
    }

    /// The mode of the last endpoint announced: which way its next data connection opens.
    pub fn last_mode(&self) -> Option<DataMode> {
        self.last_mode
    }

    fn size_hint(&self, path: &[u8]) -> Option<u64> {
        self.size_hints
            .iter()
            .rev()
            .find(|(p, _)| p == path)
            .map(|(_, s)| *s)
    }

    fn remember_size(&mut self, path: Vec<u8>, size: u64, max: usize) {
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
            user: self.credentials.user.clone(),
            password: self.credentials.password.clone(),
            anonymous: self.credentials.anonymous,
            login: self.credentials.outcome,
            login_attempts: self.credentials.attempts,
            tls: self.under_tls,
            tls_info: self.tls_info.clone(),
            commands: self.commands,
            transfers: self.transfers,
            end_reason,
            frames: None,
        }
    }
}

/// Anonymous FTP (RFC 1635): the password is an e-mail address by convention, not a secret.
pub fn is_anonymous_user(user: &[u8]) -> bool {
    user.eq_ignore_ascii_case(b"anonymous") || user.eq_ignore_ascii_case(b"ftp")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session from 192.0.2.10 to 192.0.2.21:21, seen from its handshake.
    pub(super) fn session() -> Session {
        let client: SocketAddr = ([192, 0, 2, 10], 40001).into();
        let server: SocketAddr = ([192, 0, 2, 21], 21).into();
        let key = FlowKey::new(client, server);
        Session::new(
            1,
            key,
            client,
            server,
            Dir::FromInitiator,
            Timestamp::from_nanos(0),
            512,
            true,
        )
    }

    // The analyzer reads no line of a protected session (the conversation tests cannot reach
    // this arm): were a command or reply routed here, nothing would change.
    #[test]
    fn a_protected_session_takes_no_input() {
        let mut s = session();
        let reply = |to, code| SessionInput::Reply { to, code };
        assert_eq!(s.on(reply(None, 220)), SessionOutput::Nothing);
        let auth = SessionInput::Command {
            kind: CommandKind::Auth,
            arg: b"TLS",
        };
        assert_eq!(s.on(auth), SessionOutput::Nothing);
        assert_eq!(
            s.on(reply(Some(CommandKind::Auth), 234)),
            SessionOutput::Protected
        );
        let pass = SessionInput::Command {
            kind: CommandKind::Pass,
            arg: b"secret",
        };
        assert_eq!(s.on(pass), SessionOutput::Nothing);
        assert_eq!(
            s.on(reply(Some(CommandKind::Pass), 230)),
            SessionOutput::Nothing
        );
        assert_eq!(
            s.on(reply(Some(CommandKind::Quit), 221)),
            SessionOutput::Nothing
        );
        assert_eq!(s.state(), SessionState::Protected(LoginStage::AwaitingUser));
        let summary = s.summary(Timestamp::from_nanos(1), EndReason::Closed);
        assert!(summary.tls);
        assert_eq!((summary.password, summary.login), (None, LoginState::None));
    }
}
