//! Conversations at the boundary of FTP, from captures of real networks (issue 12): what is not
//! FTP stays out, and what FTP announced is what its data connections are judged by.

mod harness;

use ftpscope_core::{AnomalyKind, DetectedBy, TimeSpan, TransferStatus};
use harness::{Conversation, Side};

/// SMTP greets with 220 and, here, does not name itself: the client's EHLO says what it is.
/// None of its lines, the AUTH LOGIN credentials least of all, may become an FTP command.
#[test]
fn a_220_greeting_answered_by_ehlo_is_not_ftp() {
    let mut c = Conversation::without_control();
    let mut smtp = c.client_opens(40100, 25);
    c.say(
        &mut smtp,
        Side::Server,
        "220 163.com Anti-spam GT for Coremail System",
    );
    c.say(&mut smtp, Side::Client, "EHLO client");
    c.say(&mut smtp, Side::Server, "250-mail");
    c.say(&mut smtp, Side::Server, "250 AUTH LOGIN PLAIN");
    c.say(&mut smtp, Side::Client, "AUTH LOGIN");
    c.say(&mut smtp, Side::Server, "334 dXNlcm5hbWU6");
    c.say(&mut smtp, Side::Client, "YWxpY2U=");
    c.fin(&mut smtp, Side::Client);
    c.fin(&mut smtp, Side::Server);
    c.end_capture();
    assert!(c.sessions().is_empty(), "sessions: {:?}", c.sessions());
    assert!(c.commands().is_empty(), "commands: {:?}", c.commands());
}

/// Every SMTP opening a client may send first, each on its own connection.
#[test]
fn no_smtp_opening_makes_a_session() {
    let openings = [
        "HELO client",
        "LHLO client",
        "MAIL FROM:<a@example.org>",
        "STARTTLS",
        "AUTH LOGIN",
        "AUTH PLAIN AGFsaWNlAHNlY3JldA==",
        "RSET",
        "QUIT",
    ];
    let mut c = Conversation::without_control();
    for (i, opening) in openings.iter().enumerate() {
        let mut smtp = c.client_opens(40200 + i as u16, 2525);
        c.say(&mut smtp, Side::Server, "220 mx ready");
        c.say(&mut smtp, Side::Client, opening);
        c.fin(&mut smtp, Side::Client);
        c.fin(&mut smtp, Side::Server);
    }
    c.end_capture();
    assert!(c.sessions().is_empty(), "sessions: {:?}", c.sessions());
    assert!(c.commands().is_empty(), "commands: {:?}", c.commands());
}

/// The FTP side of the same rule: a greeted client whose first line is an FTP verb is FTP, on
/// any port; QUIT, NOOP or HELP (both protocols have them) leave it to the next line.
#[test]
fn a_greeted_client_speaking_ftp_is_ftp_on_any_port() {
    for (port, first) in [
        (2121, vec!["USER alice"]),
        (2122, vec!["AUTH TLS"]),
        (2126, vec!["AUTH GSSAPI"]),
        (2123, vec!["FEAT"]),
        (2124, vec!["NOOP", "SYST"]),
        (2125, vec!["OPTS UTF8 ON"]),
    ] {
        let mut c = Conversation::without_control();
        let mut ftp = c.client_opens(40300, port);
        c.say(&mut ftp, Side::Server, "220 (vsFTPd 3.0.3)");
        for line in &first {
            c.say(&mut ftp, Side::Client, line);
            c.say(&mut ftp, Side::Server, "200 ok");
        }
        c.end_capture();
        let sessions = c.sessions();
        assert_eq!(sessions.len(), 1, "port {port}, {first:?}");
        assert_eq!(sessions[0].detected_by, DetectedBy::Dialogue);
        assert_eq!(sessions[0].server.port(), port);
        let verbs: Vec<String> = c.commands();
        assert_eq!(verbs, first, "port {port}: every line, the first included");
    }
}

/// The stated rule for a client that never speaks: a greeting alone is not a session, neither
/// when the connection ends nor when the wait for the client's first line is over.
#[test]
fn a_client_that_never_speaks_makes_no_session() {
    let mut c = Conversation::without_control();
    let mut silent = c.client_opens(40400, 2121);
    c.say(&mut silent, Side::Server, "220 welcome");
    c.fin(&mut silent, Side::Server);
    c.fin(&mut silent, Side::Client);

    // Past the wait (60 s of packet time), a late FTP line does not revive it either.
    let mut slow = c.client_opens(40401, 2121);
    c.say(&mut slow, Side::Server, "220 welcome");
    c.idle(61);
    c.say(&mut slow, Side::Server, "220 still here");
    c.say(&mut slow, Side::Client, "USER alice");
    c.end_capture();
    assert!(c.sessions().is_empty(), "sessions: {:?}", c.sessions());
    assert!(c.commands().is_empty(), "commands: {:?}", c.commands());
}

/// Port 21 is FTP as before: the first byte makes the session, whatever the greeting says.
#[test]
fn port_21_is_ftp_as_before() {
    let mut c = Conversation::new();
    c.client("USER alice");
    c.end_capture();
    let sessions = c.sessions();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].detected_by, DetectedBy::Port21);
    assert_eq!(c.commands(), ["USER alice"]);
    assert!(!c.anomalies().contains(&AnomalyKind::TcpMidstream));
}

/// A keep-alive probe after the client's FIN carries one byte at the FIN's sequence number: it
/// is not a command (it used to become the command "\u0000"), only an anomaly.
#[test]
fn a_keepalive_byte_after_the_fin_is_not_a_command() {
    let mut c = Conversation::new();
    c.client("USER alice");
    c.server("331 password please");
    c.client("QUIT");
    c.client_closes_control();
    c.control_keepalive_after_fin(b"\0");
    c.server("221 bye");
    c.end_capture();
    assert_eq!(c.commands(), ["USER alice", "QUIT"]);
    let after_fin = c
        .anomalies()
        .iter()
        .filter(|k| **k == AnomalyKind::TcpDataAfterFin)
        .count();
    assert_eq!(after_fin, 1);
}

/// The same on a data connection: the file ends at the sender's FIN.
#[test]
fn a_keepalive_byte_after_a_data_fin_is_not_in_the_file() {
    let mut c = Conversation::new();
    c.client("PASV");
    c.server("227 Entering Passive Mode (192,0,2,21,195,80)");
    c.client("RETR a.txt");
    let mut data = c.client_connects(50000);
    c.server("150 here");
    c.send(&mut data, Side::Server, b"abc");
    c.fin(&mut data, Side::Server);
    c.keepalive_after_fin(&mut data, Side::Server, b"\0");
    c.fin(&mut data, Side::Client);
    c.server("226 done");
    c.end_capture();
    let t = c.the_transfer();
    assert_eq!(c.file(t.transfer), b"abc");
    assert_eq!(t.bytes, 3);
    assert!(c.anomalies().contains(&AnomalyKind::TcpDataAfterFin));
}

/// Bytes the other way on a data connection are reported once per connection, not once per
/// segment: three connections, four stray segments each, three anomalies.
#[test]
fn data_both_directions_is_reported_once_per_connection() {
    let mut c = Conversation::new();
    for n in 0..3u16 {
        c.client("PASV");
        c.server(&format!(
            "227 Entering Passive Mode (192,0,2,21,195,{})",
            80 + n
        ));
        c.client("RETR a.txt");
        let mut data = c.client_connects(50000 + n);
        c.server("150 here");
        c.send(&mut data, Side::Server, b"file bytes");
        for _ in 0..4 {
            c.send(&mut data, Side::Client, b"stray");
        }
        c.fin(&mut data, Side::Server);
        c.fin(&mut data, Side::Client);
        c.server("226 done");
    }
    c.end_capture();
    let both = c
        .anomalies()
        .iter()
        .filter(|k| **k == AnomalyKind::DataBothDirections)
        .count();
    assert_eq!(both, 3);
    assert_eq!(c.ended().len(), 3);
    for t in c.ended() {
        assert_eq!(c.file(t.transfer), b"file bytes");
    }
}

/// The third host of an FTP bounce scan (`nmap -b`): not a party to the control session.
const THIRD: std::net::Ipv4Addr = std::net::Ipv4Addr::new(198, 51, 100, 7);

/// Logged in, and the client has asked the server to connect to port 21 of a third host.
fn bounce() -> Conversation {
    let mut c = Conversation::new();
    c.client("USER anonymous");
    c.server("331 password please");
    c.client("PASS x@");
    c.server("230 logged in");
    c.client("PORT 198,51,100,7,0,21");
    c.server("200 PORT command successful");
    c.client("LIST");
    c
}

/// An announced endpoint outranks port 21: the server's connection to port 21 of the third
/// host is the data connection of the LIST, not a control session of its own, even when the
/// third host's FTP server greets on it.
#[test]
fn a_bounce_to_port_21_is_a_data_connection() {
    let mut c = bounce();
    let mut data = c.server_dials(20, THIRD, 21);
    c.accept(&mut data);
    c.server("150 Here comes the directory listing");
    c.say(&mut data, Side::Client, "220 third host ready");
    c.send(
        &mut data,
        Side::Server,
        b"-rw-r--r-- 1 ftp ftp 3 Jan 1 00:00 a\r\n",
    );
    c.fin(&mut data, Side::Server);
    c.fin(&mut data, Side::Client);
    c.server("226 Directory send OK");
    c.end_capture();
    assert_eq!(c.sessions().len(), 1, "only the control session");
    assert_eq!(c.sessions()[0].server.port(), 21);
    let t = c.the_transfer();
    assert_eq!(t.command.as_deref(), Some(&b"LIST"[..]));
    assert_eq!(t.announced, Some("198.51.100.7:21".parse().unwrap()));
    assert_eq!(t.link, ftpscope_core::LinkRule::Exact);
    assert!(!c.commands().iter().any(|l| l.starts_with("220")));
    // The LIST is known before any byte crosses: its listing flows from the server, and the
    // third host's greeting, which came first the other way, is not the file.
    assert_eq!(
        c.file(t.transfer),
        b"-rw-r--r-- 1 ftp ftp 3 Jan 1 00:00 a\r\n"
    );
    assert!(c.anomalies().contains(&AnomalyKind::DataBothDirections));
}

/// pyftpdlib connects to the announced endpoint when PORT comes, so the third host greets
/// before LIST is sent: the first bytes are held until the command says which way the file
/// flows (recorded in `tests/fixtures/field-ftp-bounce.pcap`).
#[test]
fn bytes_before_the_command_wait_for_it_to_choose_the_file() {
    let mut c = Conversation::new();
    c.client("USER anonymous");
    c.server("331 password please");
    c.client("PASS x@");
    c.server("230 logged in");
    c.client("PORT 198,51,100,7,0,21");
    let mut data = c.server_dials(20, THIRD, 21);
    c.accept(&mut data);
    c.say(&mut data, Side::Client, "220 third host ready");
    c.server("200 PORT command successful");
    c.client("LIST");
    let listing = b"-rw-r--r-- 1 ftp ftp 3 Jan 1 00:00 a\r\n";
    c.send(&mut data, Side::Server, listing);
    c.server("150 Here comes the directory listing");
    c.reset(&mut data, Side::Server);
    c.server("426 Connection closed; transfer aborted");
    c.end_capture();
    let t = c.the_transfer();
    assert_eq!(t.command.as_deref(), Some(&b"LIST"[..]));
    assert_eq!(c.file(t.transfer), listing);
    assert_eq!(t.bytes, listing.len() as u64);
    let anomalies = c.anomalies();
    let both_ways = anomalies
        .iter()
        .filter(|k| **k == AnomalyKind::DataBothDirections);
    assert_eq!(both_ways.count(), 1);
}

/// A data connection whose command never comes (its session gone) still delivers what it
/// held: the first way bytes went is the file's, as before any command could tell.
#[test]
fn held_bytes_without_a_command_go_the_first_way_at_the_end() {
    let mut c = Conversation::new();
    c.client("PASV");
    c.server("227 Entering Passive Mode (192,0,2,2,195,80)");
    let mut data = c.client_connects(50000);
    c.accept(&mut data);
    c.send(&mut data, Side::Server, b"first");
    c.send(&mut data, Side::Client, b"other way");
    c.send(&mut data, Side::Server, b" second");
    c.end_capture();
    let t = c.the_transfer();
    assert_eq!(t.command, None);
    assert_eq!(c.file(t.transfer), b"first second");
    assert!(c.anomalies().contains(&AnomalyKind::DataBothDirections));
}

/// What is held is bounded: past `MAX_HELD_BYTES` the first way is taken without waiting.
#[test]
fn bytes_held_for_a_command_are_bounded() {
    let mut c = Conversation::new();
    c.client("PASV");
    c.server("227 Entering Passive Mode (192,0,2,2,195,80)");
    let mut data = c.client_connects(50000);
    c.accept(&mut data);
    let chunk = vec![b'x'; 16 * 1024];
    for _ in 0..5 {
        c.send(&mut data, Side::Server, &chunk);
    }
    let limit = ftpscope_core::ftp::transfer::MAX_HELD_BYTES;
    let started = c.started();
    assert_eq!(started.len(), 1);
    let delivered = c.file(started[0]).len();
    assert!(
        delivered > limit && delivered <= 5 * chunk.len(),
        "held bytes released past the bound, {delivered}"
    );
}

/// The announced port alone does not outrank port 21: a new session to another FTP server's
/// port 21 is a session, though the bounce announced port 21.
#[test]
fn a_session_to_another_servers_port_21_stays_a_session() {
    let mut c = bounce();
    let other = std::net::Ipv4Addr::new(203, 0, 113, 9);
    let mut session = c.server_dials(40999, other, 21);
    c.accept(&mut session);
    c.say(&mut session, Side::Client, "220 other server");
    c.say(&mut session, Side::Server, "USER bob");
    c.end_capture();
    let servers: Vec<String> = c.sessions().iter().map(|s| s.server.to_string()).collect();
    assert_eq!(servers, ["192.0.2.21:21", "203.0.113.9:21"]);
}

/// A SYN to the announced endpoint answered by a RST (the bounce scan's closed port): the LIST
/// failed, "data connection refused", and no bytes are invented for it.
#[test]
fn a_refused_data_connection_fails_the_transfer() {
    let mut c = bounce();
    let mut data = c.server_dials(20, THIRD, 21);
    c.refuse(&mut data);
    c.server("425 Failed to establish connection.");
    c.end_capture();
    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Failed);
    assert_eq!(t.reason, "data connection refused; server said 425");
    assert_eq!(t.bytes, 0);
    assert_eq!(c.sessions().len(), 1);
}

/// A SYN never answered, retried twice on the same 4-tuple: one attempt, one failed transfer.
#[test]
fn a_data_connection_never_answered_is_one_failed_attempt() {
    let mut c = bounce();
    let data = c.server_dials(20, THIRD, 21);
    c.syn_again(&data);
    c.syn_again(&data);
    c.end_capture();
    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Failed);
    assert_eq!(t.reason, "data connection never answered");
    assert_eq!(c.started().len(), 1);
    assert_eq!(c.sessions().len(), 1);
}

/// A SYN retried after the refusal, on the same 4-tuple, is the same attempt: no second
/// transfer, no session.
#[test]
fn a_syn_retried_after_the_refusal_is_the_same_attempt() {
    let mut c = bounce();
    let mut data = c.server_dials(20, THIRD, 21);
    c.refuse(&mut data);
    c.syn_again(&data);
    c.refuse(&mut data);
    c.server("425 Failed to establish connection.");
    c.end_capture();
    assert_eq!(c.started().len(), 1);
    assert_eq!(c.the_transfer().status, TransferStatus::Failed);
    assert_eq!(c.sessions().len(), 1);
}

/// No evidence, no data connection: a shell on port 6200 and SMB on port 139 between the hosts
/// of an FTP session, with no data command waiting, are not files.
#[test]
fn a_shell_and_smb_between_ftp_hosts_are_not_files() {
    let mut c = Conversation::new();
    c.client("USER alice");
    c.server("331 password please");
    c.client("PASS secret");
    c.server("230 logged in");
    let mut shell = c.client_opens(40500, 6200);
    c.say(&mut shell, Side::Client, "id");
    c.say(&mut shell, Side::Server, "uid=0(root) gid=0(root)");
    c.fin(&mut shell, Side::Client);
    c.fin(&mut shell, Side::Server);
    let mut smb = c.client_opens(40501, 139);
    c.send(
        &mut smb,
        Side::Client,
        b"\x81\x00\x00\x44 CKFDENECFDEFFCFGEFFCCACACACACACA",
    );
    c.send(&mut smb, Side::Server, b"\x82\x00\x00\x00");
    c.fin(&mut smb, Side::Client);
    c.fin(&mut smb, Side::Server);
    c.client("QUIT");
    c.server("221 bye");
    c.end_capture();
    assert!(c.started().is_empty(), "transfers: {:?}", c.ended());
    assert!(!c.anomalies().contains(&AnomalyKind::OrphanData));
}

/// The data command in flight is evidence when the connection opens the way the session's
/// mode says: here active mode (PORT), so the client's own connection to the server's port
/// 6200 while RETR waits is not its data connection.
#[test]
fn a_connection_the_wrong_way_for_the_mode_is_not_the_data_connection() {
    let mut c = Conversation::new();
    c.client("PORT 192,0,2,10,156,64");
    c.server("200 PORT command successful");
    c.client("RETR a.txt");
    let mut shell = c.client_opens(40600, 6200);
    c.say(&mut shell, Side::Client, "cat /etc/passwd");
    c.say(&mut shell, Side::Server, "root:x:0:0:root:/root:/bin/bash");
    c.fin(&mut shell, Side::Client);
    c.fin(&mut shell, Side::Server);
    c.server("425 Failed to establish connection.");
    c.end_capture();
    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Failed);
    assert!(c.file(t.transfer).is_empty());
}

/// With the announcement missed (none seen), a data command waiting, and a connection that
/// opens in time between the session's hosts is its data connection.
#[test]
fn a_data_command_in_flight_is_evidence() {
    let mut c = Conversation::new();
    c.client("RETR a.txt");
    let mut data = c.client_opens(40700, 6001);
    c.server("150 here it comes");
    c.send(&mut data, Side::Server, b"file bytes");
    c.fin(&mut data, Side::Server);
    c.fin(&mut data, Side::Client);
    c.server("226 done");
    c.end_capture();
    let t = c.the_transfer();
    assert_eq!(t.command.as_deref(), Some(&b"RETR"[..]));
    assert_eq!(c.file(t.transfer), b"file bytes");
    assert_eq!(t.status, TransferStatus::Complete, "{}", t.reason);
    assert!(c.anomalies().contains(&AnomalyKind::OrphanData));
}

/// pyftpdlib connects when PORT comes; the client then sends LIST and, with no data, ABOR. The
/// refusal outranks the ABOR: nothing could ever have crossed.
#[test]
fn a_refusal_outranks_an_abor_sent_while_waiting() {
    let mut c = Conversation::new();
    c.client("PORT 198,51,100,7,0,22");
    let mut data = c.server_dials(50669, THIRD, 22);
    c.refuse(&mut data);
    c.server("425 Can't connect to specified address.");
    c.client("LIST");
    c.server("150 File status okay. About to open data connection.");
    c.client("ABOR");
    c.server("225 ABOR command successful; data channel closed.");
    c.end_capture();
    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Failed);
    assert!(
        t.reason
            .starts_with("data connection refused; the client sent ABOR"),
        "{}",
        t.reason
    );
}

/// Under AUTH TLS the data commands and PASV replies are encrypted, so no command can be seen
/// waiting: a connection between the session's hosts that opens with a TLS ClientHello is its
/// PROT P data (encrypted, never a file), while one that does not (a shell) stays nothing.
#[test]
fn under_auth_tls_a_connection_opening_with_tls_is_encrypted_data() {
    let mut c = Conversation::new();
    c.client("AUTH TLS");
    c.server("234 AUTH TLS successful");
    // A TLS record header: handshake (22), version 3.1, 512 bytes; then part of a ClientHello.
    let mut hello = vec![22u8, 3, 1, 0x02, 0x00, 1, 0, 1, 0xfc, 3, 3];
    hello.extend_from_slice(&[0x5a; 64]);
    let mut data = c.client_opens(40700, 40001);
    c.send(&mut data, Side::Client, &hello);
    c.send(&mut data, Side::Server, &[22, 3, 3, 0, 0x40]);
    c.fin(&mut data, Side::Client);
    c.fin(&mut data, Side::Server);
    let mut shell = c.client_opens(40701, 6200);
    c.say(&mut shell, Side::Client, "id");
    c.say(&mut shell, Side::Server, "uid=0(root)");
    c.fin(&mut shell, Side::Client);
    c.fin(&mut shell, Side::Server);
    c.end_capture();
    let ended = c.ended();
    assert_eq!(ended.len(), 1, "only the TLS connection: {ended:?}");
    assert_eq!(
        ended[0].status,
        TransferStatus::Encrypted,
        "{}",
        ended[0].reason
    );
    assert!(c.anomalies().contains(&AnomalyKind::DataEncrypted));
}

/// Replies held behind a hole in the control connection keep the time their packets were
/// captured, not the time of the packet that releases them: here a retransmission that fills
/// the hole a minute later, and then a RST two minutes after that.
#[test]
fn replies_held_behind_a_hole_keep_their_own_times() {
    let mut c = Conversation::new();
    c.client("SYST");
    c.client("PWD");
    c.client("NOOP");
    let lost = c.server_unseen("215 UNIX Type: L8");
    c.server("257 \"/\" is the current directory");
    let pwd_sent = c.now();
    c.idle(60);
    c.server_retransmits(&lost);
    let syst_seen = c.now();
    // The hole is filled: the 257 comes out now, with its own time.
    assert_eq!(
        c.replies(),
        [(220, c.replies()[0].1), (215, syst_seen), (257, pwd_sent)]
    );
    // Behind a hole never filled, released by the connection's end.
    c.server_unseen("250 a line the capture missed");
    c.server("200 NOOP ok");
    let noop_sent = c.now();
    c.idle(120);
    c.client_resets_control();
    assert!(c.now() - noop_sent > TimeSpan::from_nanos(100 * 1_000_000_000));
    c.end_capture();
    let last = c.replies().last().copied();
    assert_eq!(last, Some((200, noop_sent)));
}

/// Active mode with nothing announced and no transfer command waiting: the server's SYN from
/// port 20, refused by the client, is a connection attempt, counted as the others are, and
/// no transfer (it was an orphan transfer, `failed`).
#[test]
fn a_refused_connection_from_port_20_with_nothing_waiting_is_an_attempt() {
    let mut c = Conversation::new();
    c.client("USER anonymous");
    c.server("230 logged in");
    let mut data = c.server_dials(20, harness::CLIENT_IP, 50000);
    c.refuse(&mut data);
    c.end_capture();
    assert_eq!(c.started(), [], "no transfer");
    let anomalies = c.anomalies();
    assert!(
        anomalies.contains(&AnomalyKind::ConnectionAttempts),
        "{anomalies:?}"
    );
    assert!(
        !anomalies.contains(&AnomalyKind::OrphanData),
        "{anomalies:?}"
    );
}

/// Port 20 is still evidence once bytes cross: with nothing announced and nothing waiting, the
/// connection's bytes are a transfer of no session, started when its SYN came.
#[test]
fn a_connection_from_port_20_that_carries_bytes_is_an_orphan_transfer() {
    let mut c = Conversation::new();
    let opened = c.now();
    let mut data = c.server_connects(50001);
    c.send(&mut data, Side::Server, b"orphan bytes");
    c.fin(&mut data, Side::Server);
    c.fin(&mut data, Side::Client);
    c.end_capture();
    let t = c.the_transfer();
    assert_eq!(t.session, None);
    assert_eq!(c.file(t.transfer), b"orphan bytes");
    assert!(t.start > opened && t.start < c.now());
    assert!(c.anomalies().contains(&AnomalyKind::OrphanData));
}

/// With a transfer command waiting (its PORT missed), the refused connection from port 20 is
/// that command's: it fails, "data connection refused", and no other transfer is made.
#[test]
fn a_refused_connection_from_port_20_fails_the_command_waiting() {
    let mut c = Conversation::new();
    c.client("RETR a.txt");
    let mut data = c.server_dials(20, harness::CLIENT_IP, 50002);
    c.refuse(&mut data);
    c.server("425 Failed to establish connection.");
    c.end_capture();
    let t = c.the_transfer();
    assert_eq!(t.command.as_deref(), Some(&b"RETR"[..]));
    assert_eq!(t.status, TransferStatus::Failed);
    assert_eq!(t.reason, "data connection refused; server said 425");
    assert_eq!(c.started().len(), 1);
}
