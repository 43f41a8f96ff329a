//! The session reading its own control dialogue, driven directly (no frames, no analyzer):
//! command lines go to [`Session::read_command`] and [`Session::queue_command`], replies to
//! [`Session::reply`], and each test reads what the session says the analyzer must wire
//! ([`CommandWire`], [`DialogueAction`]s in order) and where the dialogue stands.
//!
//! - RFC 959 §4.1 commands (CWD, PWD, TYPE, PORT, the transfer commands, ABOR) and §4.2
//!   replies: pipelined commands are answered in order, a 1yz leaves its command waiting, a
//!   pipelined transfer command is bound once the commands before it are answered;
//!   §5.4 the greeting and the replies a transfer command may get.
//! - RFC 2428 §2-3: EPRT and the 229 reply to EPSV (the host is the control server).
//! - RFC 1639: LPRT and the 228 reply to LPSV.
//! - RFC 3659 §4-5: SIZE (213) gives the expected size, REST (350) the next transfer's offset.
//! - RFC 4217 §4: a 234 to AUTH TLS puts the control connection under TLS from the next byte;
//!   §12.3: a 200 to CCC takes it back out.

use ftpscope_core::flow::{Dir, FlowKey};
use ftpscope_core::ftp::command::TransferCommand;
use ftpscope_core::ftp::session::{
    CommandWire, DialogueAction, LoginStage, Session, SessionInput, SessionState,
};
use ftpscope_core::{
    AnnouncedBy, AnomalyKind, DataMode, EndReason, Limits, LoginState, Reply, Timestamp, TransferId,
};
use std::net::SocketAddr;

const SESSION: u64 = 9;

fn client() -> SocketAddr {
    ([192, 0, 2, 10], 40001).into()
}

fn server() -> SocketAddr {
    ([192, 0, 2, 21], 21).into()
}

fn addr(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|e| panic!("{s} is no socket address: {e}"))
}

fn ms(n: i64) -> Timestamp {
    Timestamp::from_nanos(n * 1_000_000)
}

/// A reply as the assembler would give it.
fn reply_at(ts: Timestamp, code: u16, text: &str) -> Reply {
    Reply {
        ts,
        code,
        text: text.as_bytes().to_vec(),
        lines_dropped: 0,
    }
}

/// One action in a word or two, so a test can compare a whole list at once.
fn shown(action: &DialogueAction) -> String {
    match action {
        DialogueAction::Anomaly(kind, _) => format!("anomaly {}", kind.as_str()),
        DialogueAction::Exchange(x) => {
            assert_eq!(x.session, SESSION, "an exchange names its session");
            let verb = x
                .command
                .as_ref()
                .map_or("-".to_string(), |c| String::from_utf8_lossy(&c.verb).into());
            let codes: Vec<String> = x.replies.iter().map(|r| r.code.to_string()).collect();
            format!("exchange {verb} [{}]", codes.join(" "))
        }
        DialogueAction::Announce(e) => format!(
            "announce {} {} {}",
            e.mode.as_str(),
            e.announced_by.as_str(),
            e.announced
        ),
        DialogueAction::StartTls => "start_tls".into(),
        DialogueAction::ClearAfterCcc => "clear_after_ccc".into(),
        DialogueAction::TransferReply(tid, r) => format!("transfer {tid} {}", r.code),
        DialogueAction::BindTransfer { number, bound, .. } => format!(
            "bind {number} {} offset {}",
            String::from_utf8_lossy(&bound.verb),
            bound.offset
        ),
    }
}

fn all_shown(actions: &[DialogueAction]) -> Vec<String> {
    actions.iter().map(shown).collect()
}

fn wire_shown(wire: &CommandWire) -> String {
    match wire {
        CommandWire::Nothing => "nothing".into(),
        CommandWire::Announce(e) => format!(
            "announce {} {} {}",
            e.mode.as_str(),
            e.announced_by.as_str(),
            e.announced
        ),
        CommandWire::AbortTransfers => "abort_transfers".into(),
        CommandWire::Transfer { bound, .. } => {
            format!("transfer {}", String::from_utf8_lossy(&bound.verb))
        }
    }
}

/// A session between [`client`] and [`server`], and a clock that moves 1 ms per line.
struct Dialogue {
    s: Session,
    limits: Limits,
    now: Timestamp,
}

impl Dialogue {
    /// A session seen from its handshake: the greeting is still to come.
    fn new() -> Self {
        Self::starting(true)
    }

    fn starting(expect_greeting: bool) -> Self {
        let now = ms(1000);
        let s = Session::new(
            SESSION,
            FlowKey::new(client(), server()),
            client(),
            server(),
            Dir::FromInitiator,
            now,
            512,
            expect_greeting,
        );
        Dialogue {
            s,
            limits: Limits::default(),
            now,
        }
    }

    fn tick(&mut self) -> Timestamp {
        self.now = Timestamp::from_nanos(self.now.as_nanos() + 1_000_000);
        self.now
    }

    /// The client sends `line`; no transfer is bound to it.
    fn command(&mut self, line: &str) -> (CommandWire, Vec<DialogueAction>) {
        self.command_bound(line, None)
    }

    /// The client sends `line`; the analyzer binds it to `transfer`.
    fn command_bound(
        &mut self,
        line: &str,
        transfer: Option<TransferId>,
    ) -> (CommandWire, Vec<DialogueAction>) {
        let ts = self.tick();
        let (mut read, wire) = self.s.read_command(ts, line.as_bytes());
        read.bind(transfer);
        let mut out = Vec::new();
        let max = self.limits.max_pending_commands;
        self.s.queue_command(read, max, &mut out);
        (wire, out)
    }

    /// The server's complete reply.
    fn reply(&mut self, code: u16, text: &str) -> Vec<DialogueAction> {
        let ts = self.tick();
        self.reply_value(reply_at(ts, code, text))
    }

    fn reply_value(&mut self, reply: Reply) -> Vec<DialogueAction> {
        let mut out = Vec::new();
        self.s.reply(reply, &self.limits, &mut out);
        out
    }

    /// A command and its single reply, which must make one exchange and nothing else.
    fn exchange(&mut self, line: &str, code: u16, text: &str) {
        let (_, queued) = self.command(line);
        assert!(queued.is_empty(), "{line}: {:?}", all_shown(&queued));
        let verb = line.split(' ').next().unwrap_or(line).to_ascii_uppercase();
        assert_eq!(
            all_shown(&self.reply(code, text)),
            [format!("exchange {verb} [{code}]")],
            "{line} answered {code}"
        );
    }
}

/// Greeted and logged in as alice.
fn logged_in() -> Dialogue {
    let mut d = Dialogue::new();
    assert_eq!(all_shown(&d.reply(220, "ready")), ["exchange - [220]"]);
    d.exchange("USER alice", 331, "password please");
    d.exchange("PASS secret", 230, "logged in");
    assert_eq!(d.s.state(), SessionState::Clear(LoginStage::LoggedIn));
    d
}

fn the_announcement(wire: CommandWire) -> ftpscope_core::ftp::expect::Expectation {
    match wire {
        CommandWire::Announce(e) => e,
        other => panic!("expected an announcement, got {}", wire_shown(&other)),
    }
}

fn the_transfer(
    wire: CommandWire,
) -> (
    ftpscope_core::ftp::transfer::BoundCommand,
    Option<u64>,
    bool,
) {
    match wire {
        CommandWire::Transfer {
            bound,
            expected,
            announced_any,
        } => (bound, expected, announced_any),
        other => panic!("expected a transfer command, got {}", wire_shown(&other)),
    }
}

// ---- Active endpoints: PORT, EPRT, LPRT --------------------------------------------------

#[test]
fn port_announces_an_active_endpoint_at_the_address_it_names() {
    let mut d = logged_in();
    assert_eq!(d.s.last_mode(), None);
    let (wire, queued) = d.command("PORT 192,0,2,10,156,64");
    let e = the_announcement(wire);
    assert_eq!(e.announced, addr("192.0.2.10:40000"));
    assert_eq!(e.mode, DataMode::Active);
    assert_eq!(e.announced_by, AnnouncedBy::Port);
    assert_eq!(e.session, SESSION);
    assert_eq!(e.ts, d.now, "announced when the command was sent");
    assert_eq!((e.control_client, e.control_server), (client(), server()));
    assert!(queued.is_empty(), "the client's own address: no anomaly");
    assert_eq!(d.s.last_mode(), Some(DataMode::Active));
    assert_eq!(all_shown(&d.reply(200, "PORT ok")), ["exchange PORT [200]"]);
}

#[test]
fn eprt_and_lprt_announce_active_endpoints_too() {
    let mut d = logged_in();
    let (wire, queued) = d.command("EPRT |1|192.0.2.10|40002|");
    let e = the_announcement(wire);
    assert_eq!(
        (e.announced, e.mode, e.announced_by),
        (
            addr("192.0.2.10:40002"),
            DataMode::Active,
            AnnouncedBy::Eprt
        )
    );
    assert!(queued.is_empty());
    d.reply(200, "EPRT ok");

    // RFC 1639: af 4, 4 address bytes, 2 port bytes (156 * 256 + 67 = 40003).
    let (wire, queued) = d.command("LPRT 4,4,192,0,2,10,2,156,67");
    let e = the_announcement(wire);
    assert_eq!(
        (e.announced, e.mode, e.announced_by),
        (
            addr("192.0.2.10:40003"),
            DataMode::Active,
            AnnouncedBy::Lprt
        )
    );
    assert!(queued.is_empty());
    assert_eq!(all_shown(&d.reply(200, "LPRT ok")), ["exchange LPRT [200]"]);
}

#[test]
fn a_malformed_port_is_reported_when_queued_and_announces_nothing() {
    let mut d = logged_in();
    let ts = d.tick();
    let (read, wire) = d.s.read_command(ts, b"PORT 192,0,2,10,300,1");
    assert!(
        matches!(wire, CommandWire::Nothing),
        "{}",
        wire_shown(&wire)
    );
    assert_eq!(d.s.last_mode(), None, "nothing was announced");
    let mut out = Vec::new();
    d.s.queue_command(read, 16, &mut out);
    let [DialogueAction::Anomaly(AnomalyKind::AddressMalformed, detail)] = &out[..] else {
        panic!("one address_malformed: {:?}", all_shown(&out))
    };
    assert!(detail.starts_with("PORT 192,0,2,10,300,1"), "{detail}");
    // The command is queued all the same: its 501 answers it.
    assert_eq!(
        all_shown(&d.reply(501, "bad PORT")),
        ["exchange PORT [501]"]
    );
    let (_, _, announced_any) = the_transfer(d.command("RETR a").0);
    assert!(
        !announced_any,
        "a PORT that did not parse announced nothing"
    );
}

#[test]
fn an_address_other_than_the_clients_is_a_mismatch_reported_once_per_session() {
    let mut d = logged_in();
    let (wire, queued) = d.command("PORT 10,0,0,5,156,64");
    assert_eq!(the_announcement(wire).announced, addr("10.0.0.5:40000"));
    assert_eq!(all_shown(&queued), ["anomaly address_mismatch"]);
    d.reply(200, "ok");

    let (wire, queued) = d.command("EPRT |1|10.0.0.6|40001|");
    assert_eq!(the_announcement(wire).announced, addr("10.0.0.6:40001"));
    assert!(
        queued.is_empty(),
        "once a session: {:?}",
        all_shown(&queued)
    );
    d.reply(200, "ok");

    // Nor does a passive endpoint elsewhere than the server say it again.
    d.command("PASV");
    assert_eq!(
        all_shown(&d.reply(227, "Entering Passive Mode (10,9,9,9,195,80)")),
        [
            "announce passive PASV 10.9.9.9:50000",
            "exchange PASV [227]"
        ]
    );
}

// ---- Passive endpoints: 227, 229, 228 -----------------------------------------------------

#[test]
fn a_227_to_pasv_announces_the_passive_endpoint_it_names() {
    let mut d = logged_in();
    let (wire, queued) = d.command("PASV");
    assert!(matches!(wire, CommandWire::Nothing) && queued.is_empty());
    assert_eq!(d.s.last_mode(), None, "PASV alone announces nothing");
    let out = d.reply(227, "Entering Passive Mode (192,0,2,21,195,80).");
    assert_eq!(
        all_shown(&out),
        [
            "announce passive PASV 192.0.2.21:50000",
            "exchange PASV [227]"
        ]
    );
    let DialogueAction::Announce(e) = &out[0] else {
        unreachable!()
    };
    assert_eq!(e.ts, d.now, "announced when the reply came");
    assert_eq!((e.control_client, e.control_server), (client(), server()));
    assert_eq!(d.s.last_mode(), Some(DataMode::Passive));
}

#[test]
fn a_229_names_a_port_on_the_control_servers_address() {
    let mut d = logged_in();
    d.command("EPSV");
    assert_eq!(
        all_shown(&d.reply(229, "Entering Extended Passive Mode (|||50001|)")),
        [
            "announce passive EPSV 192.0.2.21:50001",
            "exchange EPSV [229]"
        ]
    );
    assert_eq!(d.s.last_mode(), Some(DataMode::Passive));
}

#[test]
fn a_228_to_lpsv_announces_the_long_address() {
    let mut d = logged_in();
    d.command("LPSV");
    assert_eq!(
        all_shown(&d.reply(228, "Entering Long Passive Mode (4,4,192,0,2,21,2,195,82)")),
        [
            "announce passive LPSV 192.0.2.21:50002",
            "exchange LPSV [228]"
        ]
    );
}

#[test]
fn a_passive_address_other_than_the_servers_is_a_mismatch_reported_once() {
    let mut d = logged_in();
    d.command("PASV");
    assert_eq!(
        all_shown(&d.reply(227, "Entering Passive Mode (10,1,1,1,195,80)")),
        [
            "announce passive PASV 10.1.1.1:50000",
            "anomaly address_mismatch",
            "exchange PASV [227]"
        ]
    );
    d.command("PASV");
    assert_eq!(
        all_shown(&d.reply(227, "Entering Passive Mode (10,1,1,2,195,81)")),
        [
            "announce passive PASV 10.1.1.2:50001",
            "exchange PASV [227]"
        ]
    );
    // Nor does an active endpoint elsewhere than the client.
    let (_, queued) = d.command("PORT 10,0,0,5,156,64");
    assert!(queued.is_empty(), "still once: {:?}", all_shown(&queued));
}

#[test]
fn a_227_that_does_not_parse_is_reported_and_announces_nothing() {
    let mut d = logged_in();
    d.command("PASV");
    assert_eq!(
        all_shown(&d.reply(227, "Entering Passive Mode (192,0,2,21,999,80)")),
        ["anomaly address_malformed", "exchange PASV [227]"]
    );
    assert_eq!(d.s.last_mode(), None);
}

// ---- Transfer commands ------------------------------------------------------------------

#[test]
fn a_retr_is_bound_with_the_directory_offset_size_and_type_the_dialogue_set() {
    let mut d = logged_in();
    d.exchange("PWD", 257, "\"/\" is the current directory");
    assert_eq!(d.s.cwd(), Some(&b"/"[..]));
    d.exchange("CWD pub", 250, "Directory successfully changed.");
    assert_eq!(d.s.cwd(), Some(&b"/pub"[..]), "resolved against the PWD");
    d.exchange("REST 100", 350, "Restart position accepted (100).");
    d.exchange("SIZE file.bin", 213, "4096");
    d.exchange("TYPE I", 200, "Switching to Binary mode.");
    d.command("PASV");
    d.reply(227, "Entering Passive Mode (192,0,2,21,195,80)");

    let (bound, expected, announced_any) =
        the_transfer(d.command_bound("RETR file.bin", Some(7)).0);
    assert_eq!(bound.command, TransferCommand::Retr);
    assert_eq!(bound.verb, b"RETR");
    assert_eq!(bound.path.as_deref(), Some(&b"file.bin"[..]));
    assert_eq!(bound.full_path.as_deref(), Some(&b"/pub/file.bin"[..]));
    assert_eq!(bound.offset, 100);
    assert_eq!(bound.transfer_type, Some(b'I'));
    assert_eq!(
        expected,
        Some(4096),
        "from the 213 to SIZE of the same file"
    );
    assert!(announced_any);
    d.reply(226, "done");

    // The offset is the next transfer's only (RFC 3659 §5.5); the size and type stand.
    let (bound, expected, _) = the_transfer(d.command("RETR /pub/file.bin").0);
    assert_eq!(bound.offset, 0, "REST is consumed once");
    assert_eq!(bound.full_path.as_deref(), Some(&b"/pub/file.bin"[..]));
    assert_eq!(expected, Some(4096));
    assert_eq!(bound.transfer_type, Some(b'I'));
}

#[test]
fn a_refused_cwd_rest_or_type_changes_nothing() {
    let mut d = logged_in();
    d.exchange("CWD /pub", 250, "\"/pub\" is the current directory");
    assert_eq!(d.s.cwd(), Some(&b"/pub"[..]));
    d.exchange("CWD /secret", 550, "No such directory");
    assert_eq!(d.s.cwd(), Some(&b"/pub"[..]));
    d.exchange("REST 100", 502, "REST not implemented");
    d.exchange("TYPE X", 504, "bad type");
    d.exchange("SIZE a", 550, "no size");
    let (bound, expected, _) = the_transfer(d.command("RETR a").0);
    assert_eq!(
        (bound.offset, bound.transfer_type, expected),
        (0, None, None)
    );
    d.reply(226, "done");
    d.exchange("CDUP", 250, "ok");
    assert_eq!(d.s.cwd(), Some(&b"/"[..]));
}

#[test]
fn a_listings_options_are_not_its_path_and_without_one_it_lists_the_directory() {
    let mut d = logged_in();
    let (bound, expected, _) = the_transfer(d.command("LIST -la pub").0);
    assert_eq!(bound.command, TransferCommand::List);
    assert_eq!(bound.path.as_deref(), Some(&b"pub"[..]));
    assert_eq!(
        bound.full_path, None,
        "a relative path with no known directory"
    );
    assert_eq!(expected, None);
    d.reply(226, "done");

    d.exchange("CWD /home/alice", 250, "ok");
    let (bound, _, _) = the_transfer(d.command("LIST -la pub").0);
    assert_eq!(bound.path.as_deref(), Some(&b"pub"[..]));
    assert_eq!(bound.full_path.as_deref(), Some(&b"/home/alice/pub"[..]));
    d.reply(226, "done");

    for line in ["LIST", "NLST -la", "MLSD"] {
        let (bound, _, _) = the_transfer(d.command(line).0);
        assert_eq!(bound.path, None, "{line}");
        assert_eq!(
            bound.full_path.as_deref(),
            Some(&b"/home/alice"[..]),
            "{line} lists the working directory"
        );
        d.reply(226, "done");
    }

    // A RETR with no argument names no file, not the directory.
    let (bound, _, _) = the_transfer(d.command("RETR").0);
    assert_eq!((bound.path, bound.full_path), (None, None));
}

#[test]
fn a_transfer_knows_whether_any_endpoint_was_announced_before_it() {
    let mut d = logged_in();
    let (_, _, announced_any) = the_transfer(d.command("STOR up.txt").0);
    assert!(!announced_any);
    d.reply(425, "Use PORT or PASV first.");
    d.command("EPSV");
    d.reply(229, "Entering Extended Passive Mode (|||50001|)");
    let (bound, expected, announced_any) = the_transfer(d.command("STOR up.txt").0);
    assert!(announced_any);
    assert!(bound.command.is_upload());
    assert_eq!(expected, None, "only a RETR expects a size");
}

#[test]
fn abor_asks_for_the_sessions_transfers_to_be_aborted() {
    let mut d = logged_in();
    let (wire, queued) = d.command("ABOR");
    assert!(matches!(wire, CommandWire::AbortTransfers));
    assert!(queued.is_empty());
}

// ---- Reply pairing ----------------------------------------------------------------------

#[test]
fn pipelined_commands_are_answered_in_order() {
    let mut d = Dialogue::new();
    d.reply(220, "ready");
    for line in ["USER alice", "PASS secret", "SYST", "CWD /pub"] {
        let (_, queued) = d.command(line);
        assert!(queued.is_empty());
    }
    assert_eq!(
        all_shown(&d.reply(331, "password")),
        ["exchange USER [331]"]
    );
    let out = d.reply(230, "logged in");
    assert_eq!(all_shown(&out), ["exchange PASS [230]"]);
    let DialogueAction::Exchange(x) = &out[0] else {
        unreachable!()
    };
    let pass = x.command.as_ref().unwrap();
    assert_eq!(pass.arg, b"secret");
    assert!(pass.secret, "alice's password is a secret");
    assert_eq!(all_shown(&d.reply(215, "UNIX")), ["exchange SYST [215]"]);
    assert_eq!(all_shown(&d.reply(250, "\"/pub\"")), ["exchange CWD [250]"]);
    assert_eq!(d.s.state(), SessionState::Clear(LoginStage::LoggedIn));
    assert_eq!(d.s.cwd(), Some(&b"/pub"[..]));
}

/// The `BindTransfer` among `actions`: its number, command, expected size, whether an
/// endpoint was announced before it, and when it was sent.
fn the_binding(
    actions: &[DialogueAction],
) -> (
    u64,
    &ftpscope_core::ftp::transfer::BoundCommand,
    Option<u64>,
    bool,
    Timestamp,
) {
    actions
        .iter()
        .find_map(|a| match a {
            DialogueAction::BindTransfer {
                number,
                bound,
                expected,
                announced_any,
                sent,
            } => Some((*number, bound, *expected, *announced_any, *sent)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no binding in {:?}", all_shown(actions)))
}

#[test]
fn a_pipelined_transfer_command_is_bound_once_the_commands_before_it_are_answered() {
    // lftp with `ftp:sync-mode off`: TYPE, SIZE, PASV, REST and RETR in one segment.
    let mut d = logged_in();
    d.exchange("PWD", 257, "\"/\" is the current directory.");
    let mut sent = Vec::new();
    for line in ["TYPE I", "SIZE f.bin", "PASV", "REST 50000", "RETR f.bin"] {
        let (wire, queued) = d.command(line);
        assert_eq!(wire_shown(&wire), "nothing", "{line}");
        assert!(queued.is_empty(), "{line}: {:?}", all_shown(&queued));
        sent.push(d.now);
    }
    assert_eq!(all_shown(&d.reply(200, "Binary")), ["exchange TYPE [200]"]);
    assert_eq!(all_shown(&d.reply(213, "200000")), ["exchange SIZE [213]"]);
    assert_eq!(
        all_shown(&d.reply(227, "Entering passive mode (192,0,2,21,117,48)")),
        [
            "announce passive PASV 192.0.2.21:30000",
            "exchange PASV [227]"
        ]
    );
    // RETR's turn comes with REST's reply: the server runs it with the offset, the type, the
    // size and the endpoint those replies gave.
    let out = d.reply(350, "Restarting at position 50000.");
    assert_eq!(
        all_shown(&out),
        ["exchange REST [350]", "bind 1 RETR offset 50000"]
    );
    let (number, bound, expected, announced_any, at) = the_binding(&out);
    assert_eq!(bound.command, TransferCommand::Retr);
    assert_eq!(bound.full_path.as_deref(), Some(&b"/f.bin"[..]));
    assert_eq!(bound.transfer_type, Some(b'I'));
    assert_eq!(expected, Some(200_000));
    assert!(announced_any, "PASV was answered before it");
    assert_eq!(at, sent[4], "the transfer starts when RETR was sent");
    // The analyzer gives the transfer back: RETR's replies go to it.
    d.s.bound_deferred(number, 7);
    assert_eq!(all_shown(&d.reply(150, "here")), ["transfer 7 150"]);
    assert_eq!(
        all_shown(&d.reply(226, "done")),
        ["exchange RETR [150 226]", "transfer 7 226"]
    );
}

#[test]
fn a_pipelined_rest_refused_leaves_the_offset_at_zero_and_transfers_wait_their_turn() {
    let mut d = logged_in();
    for line in ["REST 100", "RETR a", "RETR b"] {
        assert_eq!(wire_shown(&d.command(line).0), "nothing", "{line}");
    }
    let out = d.reply(502, "REST not implemented");
    assert_eq!(
        all_shown(&out),
        ["exchange REST [502]", "bind 1 RETR offset 0"]
    );
    d.s.bound_deferred(1, 7);
    // b runs after a: it is bound when a is answered (its 150), not before.
    let out = d.reply(150, "a comes");
    assert_eq!(all_shown(&out), ["transfer 7 150", "bind 2 RETR offset 0"]);
    let (_, bound, ..) = the_binding(&out);
    assert_eq!(bound.path.as_deref(), Some(&b"b"[..]));
    d.s.bound_deferred(2, 8);
    assert_eq!(
        all_shown(&d.reply(226, "a done")),
        ["exchange RETR [150 226]", "transfer 7 226"]
    );
    assert_eq!(all_shown(&d.reply(150, "b comes")), ["transfer 8 150"]);
}

#[test]
fn without_a_reply_heard_a_transfer_command_is_bound_when_read() {
    // Only the client's side in the capture: no reply will ever come to wait for.
    let mut d = Dialogue::starting(false);
    d.command("USER alice");
    d.command("PASV");
    let (wire, _) = d.command("RETR a");
    assert_eq!(wire_shown(&wire), "transfer RETR");
}

#[test]
fn a_transfer_command_still_waiting_at_the_end_or_given_up_is_bound_then() {
    let mut d = logged_in();
    d.command("PASV");
    d.command("RETR a");
    let mut out = Vec::new();
    d.s.bind_deferred_at_end(&mut out);
    assert_eq!(all_shown(&out), ["bind 1 RETR offset 0"]);
    out.clear();
    d.s.bind_deferred_at_end(&mut out);
    assert!(out.is_empty(), "bound once");

    // Given up past `max_pending` before its turn: bound as it goes.
    let mut d = logged_in();
    let max = 2;
    for line in ["PASV", "RETR a", "NOOP"] {
        let ts = d.tick();
        let (read, _) = d.s.read_command(ts, line.as_bytes());
        let mut out = Vec::new();
        d.s.queue_command(read, max, &mut out);
        let want: &[&str] = match line {
            "NOOP" => &["exchange PASV []", "anomaly pending_commands_overflow"],
            _ => &[],
        };
        assert_eq!(all_shown(&out), want, "{line}");
    }
    let ts = d.tick();
    let (read, _) = d.s.read_command(ts, b"SYST");
    let mut out = Vec::new();
    d.s.queue_command(read, max, &mut out);
    assert_eq!(
        all_shown(&out),
        [
            "bind 1 RETR offset 0",
            "exchange RETR []",
            "anomaly pending_commands_overflow"
        ]
    );
    // Its number is no command's any more: giving its transfer back changes nothing.
    d.s.bound_deferred(1, 7);
    assert_eq!(all_shown(&d.reply(200, "noop")), ["exchange NOOP [200]"]);
}

#[test]
fn a_bound_transfer_command_forwards_its_replies_the_final_one_after_its_exchange() {
    let mut d = logged_in();
    d.command_bound("RETR a.txt", Some(7));
    assert_eq!(
        all_shown(&d.reply(150, "Opening BINARY mode (12 bytes)")),
        ["transfer 7 150"],
        "a 1yz leaves the command waiting"
    );
    let out = d.reply(226, "Transfer complete");
    assert_eq!(
        all_shown(&out),
        ["exchange RETR [150 226]", "transfer 7 226"]
    );
    let DialogueAction::TransferReply(_, r) = &out[1] else {
        unreachable!()
    };
    assert_eq!(r.text, b"Transfer complete");
    // Nothing waits any more: a further reply is one no command asked for.
    assert_eq!(
        all_shown(&d.reply(226, "again")),
        ["anomaly unsolicited_reply", "exchange - [226]"]
    );
}

#[test]
fn an_unbound_command_forwards_nothing() {
    let mut d = logged_in();
    d.command("RETR a.txt");
    assert!(d.reply(150, "here it comes").is_empty());
    assert_eq!(
        all_shown(&d.reply(226, "done")),
        ["exchange RETR [150 226]"]
    );
}

#[test]
fn a_500_after_a_150_answers_the_command_after_the_transfer() {
    let mut d = logged_in();
    d.command_bound("RETR a.txt", Some(7));
    d.reply(150, "Opening data connection");
    d.command("FOO");
    assert_eq!(
        all_shown(&d.reply(500, "Unknown command")),
        ["exchange FOO [500]"],
        "the 500 is FOO's, not the transfer's"
    );
    assert_eq!(
        all_shown(&d.reply(226, "Transfer complete")),
        ["exchange RETR [150 226]", "transfer 7 226"]
    );
}

#[test]
fn a_502_after_a_150_with_nothing_after_it_is_unsolicited() {
    let mut d = logged_in();
    d.command_bound("RETR a.txt", Some(7));
    d.reply(150, "Opening data connection");
    assert_eq!(
        all_shown(&d.reply(502, "Not implemented")),
        ["anomaly unsolicited_reply", "exchange - [502]"]
    );
    // The transfer command still waits for its own final reply.
    assert_eq!(
        all_shown(&d.reply(226, "Transfer complete")),
        ["exchange RETR [150 226]", "transfer 7 226"]
    );
}

#[test]
fn a_225_after_a_150_with_abor_next_retires_the_transfer_command_and_answers_abor() {
    let mut d = logged_in();
    d.command_bound("RETR a.txt", Some(7));
    assert_eq!(all_shown(&d.reply(150, "ok")), ["transfer 7 150"]);
    let (wire, _) = d.command("ABOR");
    assert!(matches!(wire, CommandWire::AbortTransfers));
    assert_eq!(
        all_shown(&d.reply(225, "No transfer to ABOR")),
        ["exchange RETR [150]", "exchange ABOR [225]"],
        "the transfer is not told of ABOR's reply"
    );
    assert_eq!(
        all_shown(&d.reply(200, "late")),
        ["anomaly unsolicited_reply", "exchange - [200]"],
        "nothing waits"
    );
}

#[test]
fn abor_during_a_transfer_gets_426_for_the_transfer_then_226_for_itself() {
    let mut d = logged_in();
    d.command_bound("RETR a.txt", Some(7));
    d.reply(150, "ok");
    d.command("ABOR");
    assert_eq!(
        all_shown(&d.reply(426, "Connection closed; transfer aborted")),
        ["exchange RETR [150 426]", "transfer 7 426"]
    );
    assert_eq!(
        all_shown(&d.reply(226, "ABOR command successful")),
        ["exchange ABOR [226]"]
    );
}

#[test]
fn a_greeting_to_a_session_joined_before_any_command_is_no_anomaly() {
    let mut d = Dialogue::starting(false);
    assert_eq!(d.s.state(), SessionState::Clear(LoginStage::Unknown));
    assert_eq!(all_shown(&d.reply(220, "ready")), ["exchange - [220]"]);
    assert_eq!(d.s.state(), SessionState::Clear(LoginStage::AwaitingUser));
}

#[test]
fn a_reply_nothing_asked_for_after_commands_is_unsolicited_but_a_421_is_not() {
    let mut d = Dialogue::starting(false);
    d.exchange("NOOP", 200, "ok");
    assert_eq!(
        all_shown(&d.reply(200, "again")),
        ["anomaly unsolicited_reply", "exchange - [200]"]
    );
    assert_eq!(
        all_shown(&d.reply(421, "Timeout")),
        ["exchange - [421]"],
        "the server may always say it is closing"
    );
    assert_eq!(d.s.state(), SessionState::Closing);
}

#[test]
fn a_reply_with_lines_dropped_is_reported_once_before_anything_else() {
    let mut d = logged_in();
    d.command("PASV");
    let mut r = reply_at(d.tick(), 227, "Entering Passive Mode (192,0,2,21,195,80)");
    r.lines_dropped = 3;
    let out = d.reply_value(r);
    assert_eq!(
        all_shown(&out),
        [
            "anomaly reply_too_long",
            "announce passive PASV 192.0.2.21:50000",
            "exchange PASV [227]"
        ]
    );
    let DialogueAction::Anomaly(_, detail) = &out[0] else {
        unreachable!()
    };
    assert!(detail.contains('3'), "{detail}");
}

#[test]
fn a_multi_line_reply_is_one_reply_once_its_last_line_came() {
    let mut d = logged_in();
    d.command("FEAT");
    let mut out = Vec::new();
    let mut lines = ["211-Features:", " MDTM", " SIZE", " UTF8", "211 End"].into_iter();
    let ts = d.tick();
    for line in lines.by_ref().take(4) {
        assert!(
            d.s.reply_line(ts, line.as_bytes(), 3, &mut out).is_none(),
            "{line}"
        );
    }
    let reply =
        d.s.reply_line(ts, lines.next().unwrap().as_bytes(), 3, &mut out)
            .unwrap();
    assert!(out.is_empty(), "{:?}", all_shown(&out));
    assert_eq!(reply.code, 211);
    assert_eq!(reply.text, b"Features:\n MDTM\n SIZE\nEnd");
    assert_eq!(
        reply.lines_dropped, 1,
        "three lines kept, the fourth counted"
    );
    assert_eq!(
        all_shown(&d.reply_value(reply)),
        ["anomaly reply_too_long", "exchange FEAT [211]"]
    );

    // A line that is no reply is reported, and read as nothing.
    assert!(d.s.reply_line(ts, b"hello", 3, &mut out).is_none());
    assert_eq!(all_shown(&out), ["anomaly reply_malformed"]);
}

// ---- TLS on the control connection --------------------------------------------------------

#[test]
fn auth_tls_answered_234_puts_the_control_connection_under_tls() {
    let mut d = Dialogue::new();
    d.reply(220, "ready");
    d.command("AUTH TLS");
    assert_eq!(
        d.s.state(),
        SessionState::AuthRequested(LoginStage::AwaitingUser)
    );
    assert_eq!(
        all_shown(&d.reply(234, "Proceed with negotiation.")),
        ["start_tls", "exchange AUTH [234]"]
    );
    assert_eq!(
        d.s.state(),
        SessionState::Protected(LoginStage::AwaitingUser)
    );
    assert!(d.s.is_protected() && d.s.under_tls());
    // Nothing it held or will hold is clear text.
    d.s.frame(true, d.now, b"\x16\x03\x01 not a line");
    assert_eq!(d.s.finish_lines(), (Vec::new(), Vec::new()));
    let summary = d.s.end(d.now, EndReason::Closed).summary;
    assert!(summary.tls);
}

#[test]
fn auth_refused_leaves_the_dialogue_clear() {
    let mut d = Dialogue::new();
    d.reply(220, "ready");
    d.command("AUTH TLS");
    assert_eq!(
        all_shown(&d.reply(534, "Policy requires SSL")),
        ["exchange AUTH [534]"]
    );
    assert_eq!(d.s.state(), SessionState::Clear(LoginStage::AwaitingUser));
    assert!(!d.s.under_tls());
}

#[test]
fn ccc_answered_200_returns_the_control_connection_to_clear_text() {
    let mut d = Dialogue::new();
    d.reply(220, "ready");
    d.command("AUTH TLS");
    d.reply(234, "go");
    // Keys decrypt it: the dialogue is readable again, where the login stood.
    d.s.on(SessionInput::Decrypting);
    assert_eq!(d.s.state(), SessionState::Clear(LoginStage::AwaitingUser));
    d.exchange("USER alice", 331, "password");
    d.exchange("PASS secret", 230, "ok");
    d.command("CCC");
    assert_eq!(
        all_shown(&d.reply(200, "CCC ok")),
        ["clear_after_ccc", "exchange CCC [200]"]
    );
    d.command("CCC");
    assert_eq!(
        all_shown(&d.reply(533, "refused")),
        ["exchange CCC [533]"],
        "a refused CCC leaves TLS on"
    );
}

// ---- Bounds and gaps -------------------------------------------------------------------

#[test]
fn past_max_pending_the_oldest_command_is_given_up_before_the_anomalies() {
    let mut d = Dialogue::starting(false);
    let max = 2;
    for line in ["NOOP", "SYST"] {
        let ts = d.tick();
        let (read, _) = d.s.read_command(ts, line.as_bytes());
        let mut out = Vec::new();
        d.s.queue_command(read, max, &mut out);
        assert!(out.is_empty(), "{line}");
    }
    let ts = d.tick();
    let (read, _) = d.s.read_command(ts, b"X!Y arg");
    let mut out = Vec::new();
    d.s.queue_command(read, max, &mut out);
    assert_eq!(
        all_shown(&out),
        [
            "exchange NOOP []",
            "anomaly command_malformed",
            "anomaly pending_commands_overflow"
        ]
    );
    // The queue goes on from SYST: the replies pair with what is left.
    assert_eq!(all_shown(&d.reply(215, "UNIX")), ["exchange SYST [215]"]);
    assert_eq!(all_shown(&d.reply(500, "what?")), ["exchange X!Y [500]"]);
}

#[test]
fn a_gap_in_the_clients_bytes_holds_a_place_for_the_lost_command() {
    let mut d = logged_in();
    d.command("NOOP");
    let ts = d.tick();
    let mut out = Vec::new();
    assert!(
        d.s.gap(true, ts, 16, &mut out).is_none(),
        "a client's gap cuts no reply"
    );
    assert!(out.is_empty(), "{:?}", all_shown(&out));
    d.command("SYST");
    assert_eq!(all_shown(&d.reply(200, "NOOP ok")), ["exchange NOOP [200]"]);
    let out = d.reply(250, "the lost command's reply");
    assert_eq!(
        all_shown(&out),
        ["exchange - [250]"],
        "paired with the lost command, no anomaly"
    );
    assert_eq!(
        all_shown(&d.reply(215, "UNIX")),
        ["exchange SYST [215]"],
        "and the next reply still meets its own command"
    );
}

// A capture with a hole in every client segment, and a server that never answers: the
// places held for the lost commands are bounded like the commands themselves. Before, each
// gap held one more, without limit. A place that got no reply is no exchange when it goes.
#[test]
fn the_places_held_for_lost_commands_are_bounded_like_commands() {
    let mut d = logged_in();
    d.command("NOOP");
    let mut out = Vec::new();
    for _ in 0..3 {
        let ts = d.tick();
        assert!(d.s.gap(true, ts, 2, &mut out).is_none());
    }
    assert_eq!(
        all_shown(&out),
        [
            "exchange NOOP []",
            "anomaly pending_commands_overflow",
            "anomaly pending_commands_overflow"
        ],
        "the NOOP is given up as it stands, the empty place silently"
    );
    // Two places are left, and the replies pair with them.
    assert_eq!(all_shown(&d.reply(200, "a")), ["exchange - [200]"]);
    assert_eq!(all_shown(&d.reply(200, "b")), ["exchange - [200]"]);
    assert_eq!(
        all_shown(&d.reply(200, "c")),
        ["anomaly unsolicited_reply", "exchange - [200]"]
    );
}

#[test]
fn a_gap_in_the_servers_bytes_returns_the_multi_line_reply_it_cut_short() {
    let mut d = logged_in();
    let mut out = Vec::new();
    let ts = d.tick();
    assert!(
        d.s.reply_line(ts, b"211-Features:", 100, &mut out)
            .is_none()
    );
    assert!(d.s.reply_line(ts, b" MDTM", 100, &mut out).is_none());
    let cut =
        d.s.gap(false, d.now, 16, &mut out)
            .expect("the half-read reply");
    assert_eq!((cut.code, cut.ts), (211, ts));
    assert_eq!(cut.text, b"Features:\n MDTM");
    assert!(
        d.s.gap(false, d.now, 16, &mut out).is_none(),
        "returned once"
    );
    assert!(out.is_empty());
}

#[test]
fn the_end_of_the_connection_returns_a_reply_it_cut_short() {
    let mut d = logged_in();
    let mut out = Vec::new();
    let ts = d.tick();
    assert!(d.s.reply_line(ts, b"150-Opening", 100, &mut out).is_none());
    assert_eq!(d.s.finish_reply().map(|r| r.code), Some(150));
    assert!(d.s.finish_reply().is_none());
    // Clear text held without its line end is returned by the framers.
    d.s.frame(true, d.now, b"QUIT");
    let (client_lines, server_lines) = d.s.finish_lines();
    assert_eq!(client_lines.len(), 1);
    assert_eq!(client_lines[0].bytes, b"QUIT");
    assert!(server_lines.is_empty());
}

// ---- The session's end --------------------------------------------------------------------

#[test]
fn the_end_returns_unanswered_commands_and_the_expectations_never_matched() {
    let mut d = logged_in();
    let max = d.limits.max_expectations_per_session;
    d.command("PASV");
    d.reply(227, "Entering Passive Mode (192,0,2,21,195,80)");
    assert_eq!(d.s.remember_expectation(50000, 1, max), None);
    d.command("EPSV");
    d.reply(229, "Entering Extended Passive Mode (|||50001|)");
    assert_eq!(d.s.remember_expectation(50001, 2, max), None);
    d.s.expectation_matched(1);
    d.command_bound("RETR a.txt", Some(7));
    d.reply(150, "ok");
    d.command("QUIT");

    let end = d.s.end(ms(5000), EndReason::Reset);
    let shown: Vec<String> = end
        .exchanges
        .into_iter()
        .map(|x| shown(&DialogueAction::Exchange(x)))
        .collect();
    assert_eq!(shown, ["exchange RETR [150]", "exchange QUIT []"]);
    assert_eq!(
        end.expectations,
        [(50001, 2)],
        "the matched one is forgotten"
    );
    assert!(
        end.transfers.is_empty(),
        "the analyzer tied none to the session"
    );
    let summary = end.summary;
    assert_eq!(summary.session, SESSION);
    assert_eq!((summary.client, summary.server), (client(), server()));
    assert_eq!((summary.start, summary.end), (ms(1000), ms(5000)));
    assert_eq!(summary.end_reason, EndReason::Reset);
    assert_eq!(summary.user.as_deref(), Some(&b"alice"[..]));
    assert_eq!(summary.login, LoginState::Ok);
    assert_eq!(summary.login_attempts, 1);
    assert_eq!(summary.commands, 6, "USER PASS PASV EPSV RETR QUIT");
    assert!(!summary.tls);
}

#[test]
fn the_greetings_place_unanswered_is_no_exchange_at_the_end() {
    let d = Dialogue::new();
    let end = d.s.end(ms(2000), EndReason::CaptureEnd);
    assert!(end.exchanges.is_empty());
    assert!(end.expectations.is_empty());
    assert_eq!(end.summary.login, LoginState::None);
    assert_eq!(end.summary.commands, 0);
}

#[test]
fn past_its_bound_the_oldest_expectation_is_given_back_to_be_forgotten() {
    let mut d = logged_in();
    assert_eq!(d.s.remember_expectation(50000, 1, 2), None);
    assert_eq!(d.s.remember_expectation(50001, 2, 2), None);
    assert_eq!(d.s.remember_expectation(50002, 3, 2), Some((50000, 1)));
    d.s.expectation_matched(2);
    let end = d.s.end(ms(2000), EndReason::Closed);
    assert_eq!(end.expectations, [(50002, 3)]);
}

#[test]
fn a_session_never_ends_before_it_started_nor_before_its_last_bytes() {
    let d = Dialogue::new();
    let summary = d.s.end(ms(10), EndReason::Closed).summary;
    assert_eq!(summary.start, ms(1000));
    assert_eq!(summary.end, ms(1000), "the capture's clock stepped back");

    let mut d = Dialogue::new();
    d.s.frame(false, ms(3000), b"220 ready\r\n");
    let summary = d.s.end(ms(2000), EndReason::Idle).summary;
    assert_eq!(summary.end, ms(3000), "its last bytes came at 3 s");
}
