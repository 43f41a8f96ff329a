//! Conversations that drive a session through every transition of its state machine
//! (`ftp::session::Session::on`: RFC 959 §5.4 and §4.1.1 login, RFC 2228 §3 and RFC 4217 §4
//! AUTH). Each test names, in a comment, the arms it walks. The arm for a session already under
//! TLS is not reachable from here (no line is read from it): `session.rs` tests it.

mod harness;

use ftpscope_core::LoginState;
use ftpscope_core::ftp::session::LoginStage::{
    AwaitingAcct, AwaitingPass, AwaitingUser, LoggedIn, Unknown,
};
use ftpscope_core::ftp::session::SessionState::{
    AuthRequested, AwaitingGreeting, Clear, Closing, Protected,
};
use harness::Conversation;

/// Whether each command the analyzer reported was marked secret, by verb.
fn secrets(c: &Conversation) -> Vec<(String, bool)> {
    c.command_lines()
        .iter()
        .map(|l| (String::from_utf8_lossy(&l.verb).into_owned(), l.secret))
        .collect()
}

// Arms: greeting (AwaitingGreeting + 220); USER; 331; PASS of an anonymous user (no secret);
// PASS answered 230.
#[test]
fn anonymous_login_keeps_the_password_in_the_clear() {
    let mut c = Conversation::before_greeting();
    c.client("NOOP"); // the handshake alone starts no session: a byte does
    assert_eq!(c.session_state(), AwaitingGreeting);
    c.server("220 FTP server ready");
    assert_eq!(c.session_state(), Clear(AwaitingUser));
    c.server("200 NOOP ok");
    c.client("USER anonymous");
    assert_eq!(c.session_state(), Clear(AwaitingUser), "the reply moves it");
    c.server("331 Please specify the password.");
    assert_eq!(c.session_state(), Clear(AwaitingPass));
    c.client("PASS guest@example.org");
    c.server("230 Login successful.");
    assert_eq!(c.session_state(), Clear(LoggedIn));
    c.end_capture();

    let s = c.summary();
    assert!(s.anonymous);
    assert_eq!(s.user.as_deref(), Some(&b"anonymous"[..]));
    assert_eq!(s.password.as_deref(), Some(&b"guest@example.org"[..]));
    assert_eq!(
        (s.login, s.login_attempts, s.tls),
        (LoginState::Ok, 1, false)
    );
    assert_eq!(
        secrets(&c),
        [
            ("NOOP".into(), false),
            ("USER".into(), false),
            ("PASS".into(), false)
        ]
    );
}

// Arms: USER; 331; PASS of a named user (a secret); PASS answered 230.
#[test]
fn user_331_pass_230_logs_in_with_a_secret_password() {
    let mut c = Conversation::new();
    c.client("USER alice");
    c.server("331 password please");
    assert_eq!(c.session_state(), Clear(AwaitingPass));
    c.client("PASS secret");
    c.server("230 logged in");
    assert_eq!(c.session_state(), Clear(LoggedIn));
    c.end_capture();

    let s = c.summary();
    assert!(!s.anonymous);
    assert_eq!(s.password.as_deref(), Some(&b"secret"[..]));
    assert_eq!((s.login, s.login_attempts), (LoginState::Ok, 1));
    assert_eq!(secrets(&c), [("USER".into(), false), ("PASS".into(), true)]);
}

// Arms: PASS refused (530: back to awaiting USER, the login failed); then a retry that logs in.
#[test]
fn a_530_to_pass_then_a_retry_that_succeeds() {
    let mut c = Conversation::new();
    c.client("USER alice");
    c.server("331 password please");
    c.client("PASS wrong");
    c.server("530 Login incorrect.");
    assert_eq!(c.session_state(), Clear(AwaitingUser));
    c.client("USER alice");
    c.server("331 password please");
    c.client("PASS right");
    c.server("230 logged in");
    assert_eq!(c.session_state(), Clear(LoggedIn));
    c.end_capture();

    let s = c.summary();
    assert_eq!((s.login, s.login_attempts), (LoginState::Ok, 2));
    assert_eq!(s.password.as_deref(), Some(&b"right"[..]));
}

// Arms: login refused to USER (530: no attempt counted, since no password was tried) and to
// PASS; the session's login failed.
#[test]
fn refused_logins_leave_the_login_failed() {
    let mut c = Conversation::new();
    c.client("USER root");
    c.server("530 This FTP server does not allow root.");
    assert_eq!(c.session_state(), Clear(AwaitingUser));
    c.client("USER bob");
    c.server("331 password please");
    c.client("PASS guess");
    c.server("530 Login incorrect.");
    c.end_capture();

    let s = c.summary();
    assert_eq!(s.user.as_deref(), Some(&b"bob"[..]));
    assert_eq!((s.login, s.login_attempts), (LoginState::Failed, 1));
}

// Arms: PASS answered 332 (need an account); ACCT, a secret; ACCT answered 230.
#[test]
fn a_332_asks_for_an_account_and_acct_completes_the_login() {
    let mut c = Conversation::new();
    c.client("USER alice");
    c.server("331 password please");
    c.client("PASS secret");
    c.server("332 Need account for login.");
    assert_eq!(c.session_state(), Clear(AwaitingAcct));
    c.client("ACCT billing");
    c.server("230 logged in");
    assert_eq!(c.session_state(), Clear(LoggedIn));
    c.end_capture();

    let s = c.summary();
    // Only a PASS answered 230/202 or refused counts as an attempt: this one, answered 332,
    // does not, nor does the ACCT (as before the machine; see the arm's comment).
    assert_eq!((s.login, s.login_attempts), (LoginState::Ok, 0));
    assert_eq!(
        secrets(&c),
        [
            ("USER".into(), false),
            ("PASS".into(), true),
            ("ACCT".into(), true)
        ]
    );
}

// Arms: USER answered 332 (an account, no password); ACCT answered 202 (superfluous, still a
// login); USER answered 230 (no password needed) for a second user.
#[test]
fn user_alone_or_with_an_account_logs_in() {
    let mut c = Conversation::new();
    c.client("USER operator");
    c.server("332 Need account.");
    assert_eq!(c.session_state(), Clear(AwaitingAcct));
    c.client("ACCT ops");
    c.server("202 Command not implemented, superfluous at this site.");
    assert_eq!(c.session_state(), Clear(LoggedIn));
    c.client("USER guest");
    c.server("230 Guest login ok, no password needed.");
    assert_eq!(c.session_state(), Clear(LoggedIn));
    c.end_capture();

    let s = c.summary();
    assert_eq!(s.user.as_deref(), Some(&b"guest"[..]));
    assert_eq!(s.password, None);
    // Neither login sent a password: no attempt counted.
    assert_eq!((s.login, s.login_attempts), (LoginState::Ok, 0));
}

// Arms: a session joined mid-stream starts Unknown; PASS (its USER and 331 came before the
// capture) answered 230 logs in; in another, an unsolicited greeting says it was just greeted.
#[test]
fn a_login_picked_up_mid_stream() {
    let mut c = Conversation::without_control();
    c.client("PASS secret");
    assert_eq!(c.session_state(), Clear(Unknown));
    c.server("230 logged in");
    assert_eq!(c.session_state(), Clear(LoggedIn));
    c.end_capture();
    let s = c.summary();
    assert_eq!(s.user, None);
    assert_eq!((s.login, s.login_attempts), (LoginState::Ok, 1));
    assert_eq!(secrets(&c), [("PASS".into(), true)]);

    let mut c = Conversation::without_control();
    c.server("220 FTP server ready");
    assert_eq!(c.session_state(), Clear(AwaitingUser));
    c.client("USER alice");
    c.server("331 password please");
    assert_eq!(c.session_state(), Clear(AwaitingPass));
}

// Arms: AUTH (requested); 234 (protected): the rest of the dialogue is ciphertext and no line
// of it is read, however much it looks like FTP.
#[test]
fn auth_tls_accepted_stops_the_dialogue() {
    let mut c = Conversation::new();
    c.client("AUTH TLS");
    assert_eq!(c.session_state(), AuthRequested(AwaitingUser));
    c.server("234 Proceed with negotiation.");
    assert_eq!(c.session_state(), Protected(AwaitingUser));
    c.client("USER alice");
    c.server("331 password please");
    c.client("PASS secret");
    c.server("230 logged in");
    assert_eq!(c.session_state(), Protected(AwaitingUser));
    c.close_control();

    let s = c.summary();
    assert!(s.tls);
    assert_eq!((s.user.clone(), s.login), (None, LoginState::None));
    assert_eq!(c.commands(), ["AUTH TLS"]);
}

// Arms: AUTH; AUTH refused (500): the dialogue stays clear and the login goes on in it.
#[test]
fn auth_tls_refused_stays_clear() {
    let mut c = Conversation::new();
    c.client("AUTH TLS");
    c.server("500 AUTH not understood");
    assert_eq!(c.session_state(), Clear(AwaitingUser));
    c.client("USER alice");
    c.server("331 password please");
    c.client("PASS secret");
    c.server("230 logged in");
    assert_eq!(c.session_state(), Clear(LoggedIn));
    c.end_capture();

    let s = c.summary();
    assert!(!s.tls);
    assert_eq!(s.login, LoginState::Ok);
    assert_eq!(c.commands(), ["AUTH TLS", "USER alice", "PASS secret"]);
}

// Arms: a reply to a login command pipelined before AUTH moves the login inside AUTH's wait;
// AUTH's refusal then leaves the dialogue clear where that reply left the login.
#[test]
fn a_login_reply_while_auth_waits_is_kept() {
    let mut c = Conversation::new();
    c.client("USER alice");
    c.client("AUTH TLS");
    assert_eq!(c.session_state(), AuthRequested(AwaitingUser));
    c.server("331 password please");
    assert_eq!(c.session_state(), AuthRequested(AwaitingPass));
    c.server("504 Unknown security mechanism");
    assert_eq!(c.session_state(), Clear(AwaitingPass));
}

// Arms: REIN answered 220: the user is flushed, awaiting USER again; the attempts made count.
#[test]
fn rein_flushes_the_user() {
    let mut c = Conversation::new();
    c.client("USER alice");
    c.server("331 password please");
    c.client("PASS secret");
    c.server("230 logged in");
    c.client("REIN");
    c.server("220 Service ready for new user.");
    assert_eq!(c.session_state(), Clear(AwaitingUser));
    c.end_capture();

    let s = c.summary();
    assert_eq!((s.user.clone(), s.password.clone()), (None, None));
    assert_eq!((s.login, s.login_attempts), (LoginState::None, 1));
}

// Arms: other commands and replies leave the dialogue where it stands (QUIT awaiting its
// reply, a refused QUIT); QUIT answered 221: closing.
#[test]
fn quit_answered_221_closes() {
    let mut c = Conversation::new();
    c.client("USER alice");
    c.server("230 logged in");
    c.client("QUIT");
    assert_eq!(
        c.session_state(),
        Clear(LoggedIn),
        "QUIT waits for its reply"
    );
    c.server("500 not now");
    assert_eq!(c.session_state(), Clear(LoggedIn));
    c.client("QUIT");
    c.server("221 Goodbye.");
    assert_eq!(c.session_state(), Closing);
    c.close_control();
    assert_eq!(c.summary().login, LoginState::Ok);
}

// Arms: 421 as the greeting, and 421 to a login command (a failed login, closing).
#[test]
fn a_421_closes_whatever_it_answers() {
    let mut c = Conversation::before_greeting();
    c.server("421 Too many users, try later.");
    assert_eq!(c.session_state(), Closing);

    let mut c = Conversation::new();
    c.client("USER alice");
    c.server("331 password please");
    c.client("PASS secret");
    c.server("421 Timeout.");
    assert_eq!(c.session_state(), Closing);
    c.end_capture();
    let s = c.summary();
    assert_eq!((s.login, s.login_attempts), (LoginState::Failed, 1));
}
