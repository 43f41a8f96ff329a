//! Conversations that drive a transfer through every transition of its state machine
//! (`ftp::transfer::Transfer::on`). Each test names, in a comment, the arms it walks.

mod harness;

use ftpscope_core::{AnomalyKind, DataMode, Direction, Limits, TransferStatus};
use harness::{Conversation, Side};

/// Logged in, in passive mode: the server listens on port 50000.
fn passive() -> Conversation {
    let mut c = Conversation::new();
    c.client("USER alice");
    c.server("331 password please");
    c.client("PASS secret");
    c.server("230 logged in");
    c.client("PASV");
    c.server("227 Entering Passive Mode (192,0,2,21,195,80)");
    c
}

/// Logged in, in active mode: the client listens on port 40000.
fn active() -> Conversation {
    let mut c = Conversation::new();
    c.client("USER alice");
    c.server("331 password please");
    c.client("PASS secret");
    c.server("230 logged in");
    c.client("PORT 192,0,2,10,156,64");
    c.server("200 PORT command successful");
    c
}

// Arms: Command; AwaitingDataConnection + ConnectionOpened; Bytes; Preliminary;
// Open + SenderClosed (sender); Closed + ConnectionEnded (the receiver's FIN closes the
// connection, the session still runs: it waits); Closed + Final.
#[test]
fn retr_in_passive_mode_completes_when_the_226_follows_the_close() {
    let mut c = passive();
    c.client("RETR report.txt");
    let mut data = c.client_connects(50000);
    c.server("150 Opening BINARY mode data connection");
    c.send(&mut data, Side::Server, b"hello, ");
    c.send(&mut data, Side::Server, b"world\n");
    c.fin(&mut data, Side::Server);
    c.fin(&mut data, Side::Client);
    assert!(
        c.ended().is_empty(),
        "closed, but the final reply is still to come"
    );
    c.server("226 Transfer complete");

    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Complete, "{}", t.reason);
    assert_eq!(t.command.as_deref(), Some(&b"RETR"[..]));
    assert_eq!(t.path.as_deref(), Some(&b"report.txt"[..]));
    assert_eq!(t.mode, Some(DataMode::Passive));
    assert_eq!(t.direction, Direction::Download);
    assert_eq!(t.reply_code, Some(226));
    assert_eq!(c.file(t.transfer), b"hello, world\n");
}

// Arms: Open + Final (226 before the FIN waits for the close); Open + SenderClosed ends it.
#[test]
fn a_226_before_the_fin_ends_the_transfer_at_the_senders_fin() {
    let mut c = passive();
    c.client("RETR a.bin");
    c.server("150 here it comes");
    let mut data = c.client_connects(50000);
    c.send(&mut data, Side::Server, b"0123456789");
    c.server("226 done");
    assert!(c.ended().is_empty(), "the data connection is still open");
    c.fin(&mut data, Side::Server);

    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Complete, "{}", t.reason);
    assert_eq!(t.bytes, 10);
}

// Arms: ConnectionOpened before Command (the connection creates the transfer, the command
// claims it); Bytes before the 150; Closed + Final.
#[test]
fn stor_in_active_mode_with_data_before_the_150() {
    let mut c = active();
    c.client("TYPE I");
    c.server("200 Switching to Binary mode");
    c.client("STOR upload.bin");
    let mut data = c.server_connects(40000);
    c.send(&mut data, Side::Client, b"uploaded bytes");
    c.server("150 Ok to send data");
    c.fin(&mut data, Side::Client);
    c.fin(&mut data, Side::Server);
    c.server("226 Transfer complete");

    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Complete, "{}", t.reason);
    assert_eq!(t.mode, Some(DataMode::Active));
    assert_eq!(t.direction, Direction::Upload);
    assert_eq!(t.transfer_type, Some(b'I'));
    assert_eq!(c.file(t.transfer), b"uploaded bytes");
}

// Arms: Open + Abort; Open + Final after ABOR (426); the 226 answers ABOR, not the transfer.
#[test]
fn abor_answered_426_then_226_aborts_the_transfer() {
    let mut c = passive();
    c.client("RETR big.iso");
    let mut data = c.client_connects(50000);
    c.server("150 Opening data connection (1000 bytes)");
    c.send(&mut data, Side::Server, &[7; 100]);
    c.client("ABOR");
    c.reset(&mut data, Side::Server);
    c.server("426 Connection closed; transfer aborted");
    c.server("226 Abort successful");

    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Aborted);
    assert!(
        t.reason.starts_with("aborted by the client (ABOR)"),
        "{}",
        t.reason
    );
    assert_eq!(t.reply_code, Some(426));
    assert_eq!(t.expected_bytes, Some(1000));
    assert_eq!(t.missing_bytes, 900);
}

// Arms: AwaitingDataConnection + Abort (no connection yet); the 426 ends it with none.
#[test]
fn abor_before_any_data_connection_aborts_the_waiting_command() {
    let mut c = passive();
    c.client("RETR slow.bin");
    c.client("ABOR");
    c.server("426 transfer aborted");
    c.server("226 ABOR successful");

    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Aborted, "{}", t.reason);
    assert_eq!(t.data_initiator, None);
}

// Arms: Closed + Abort (the data connection closed, the final reply not yet in).
#[test]
fn abor_after_the_data_closed_but_before_the_final_reply_aborts() {
    let mut c = passive();
    c.client("RETR a.txt");
    let mut data = c.client_connects(50000);
    c.send(&mut data, Side::Server, b"abc");
    c.fin(&mut data, Side::Server);
    c.client("ABOR");
    c.server("226 Transfer complete");
    c.server("225 ABOR command successful");

    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Aborted, "{}", t.reason);
    assert_eq!(t.reply_code, Some(226));
}

// Arms: ABOR with no command bound (an unclaimed connection is not aborted).
#[test]
fn abor_does_not_abort_a_connection_no_command_claimed() {
    let mut c = passive();
    let mut data = c.client_connects(50000);
    c.client("ABOR");
    c.server("225 no transfer to abort");
    c.client("RETR late.txt");
    c.server("150 ok");
    c.send(&mut data, Side::Server, b"late");
    c.fin(&mut data, Side::Server);
    c.server("226 ok");

    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Complete, "{}", t.reason);
}

// Arms: AwaitingDataConnection + Final 425 (ends it: failed).
#[test]
fn a_425_with_no_data_connection_fails_the_transfer() {
    let mut c = passive();
    c.client("RETR a.txt");
    c.server("425 Can't open data connection");

    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Failed);
    assert_eq!(t.reason, "refused by the server (425)");
}

// Arms: AwaitingDataConnection + Final 550.
#[test]
fn a_550_with_no_data_connection_fails_the_transfer() {
    let mut c = passive();
    c.client("RETR missing.txt");
    c.server("550 No such file");

    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Failed);
    assert_eq!(t.reply_code, Some(550));
    assert_eq!(t.bytes, 0);
}

// Arms: Open + ConnectionEnded with a RST (before the sender's FIN), then Closed + Final.
#[test]
fn a_reset_mid_transfer_truncates_it() {
    let mut c = passive();
    c.client("RETR a.bin");
    let mut data = c.client_connects(50000);
    c.server("150 ok");
    c.send(&mut data, Side::Server, b"partial");
    c.reset(&mut data, Side::Client);
    assert!(c.ended().is_empty(), "the final reply is still to come");
    c.server("451 Transfer aborted: connection reset");

    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Truncated);
    assert!(t.reason.contains("data connection reset"), "{}", t.reason);
    assert!(
        t.reason.contains("server reported an error (451)"),
        "{}",
        t.reason
    );
}

// Arms: Gap (bytes the capture missed count as missing).
#[test]
fn bytes_the_capture_missed_truncate_the_transfer() {
    let mut c = passive();
    c.client("RETR a.bin");
    let mut data = c.client_connects(50000);
    c.server("150 ok");
    c.send(&mut data, Side::Server, b"head");
    c.lose(&mut data, Side::Server, 6);
    c.send(&mut data, Side::Server, b"tail");
    c.fin(&mut data, Side::Server);
    c.server("226 ok");

    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Truncated);
    assert_eq!((t.bytes, t.gap_bytes, t.missing_bytes), (8, 6, 6));
    assert_eq!(c.gaps(t.transfer), [6]);
    assert_eq!(c.file(t.transfer), b"headtail");
}

// Arms: Bytes the other way (WrongDirection).
#[test]
fn bytes_in_both_directions_are_reported_and_not_the_files() {
    let mut c = passive();
    c.client("RETR a.txt");
    let mut data = c.client_connects(50000);
    c.send(&mut data, Side::Server, b"file");
    c.send(&mut data, Side::Client, b"noise");
    c.fin(&mut data, Side::Server);
    c.server("226 ok");

    let t = c.the_transfer();
    assert_eq!(t.bytes, 4);
    assert_eq!(c.file(t.transfer), b"file");
    assert!(c.anomalies().contains(&AnomalyKind::DataBothDirections));
}

// Arms: Open + ConnectionEnded by the idle timeout (no FIN). The control connection, idle
// longer, was closed first: with its session gone, the transfer ends there.
#[test]
fn an_idle_data_connection_ends_not_closed_in_the_capture() {
    let mut c = passive();
    c.client("RETR a.txt");
    let mut data = c.client_connects(50000);
    c.send(&mut data, Side::Server, b"some");
    c.idle(2 * 3600);

    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Truncated);
    assert!(
        t.reason
            .contains("data connection not closed in the capture"),
        "{}",
        t.reason
    );
    assert!(c.anomalies().contains(&AnomalyKind::FlowIdleTimeout));
}

// Arms: Open + ConnectionEnded at the capture's end; CaptureEnd ends what is left.
#[test]
fn a_transfer_open_at_the_capture_end_is_truncated() {
    let mut c = passive();
    c.client("RETR a.txt");
    let mut data = c.client_connects(50000);
    c.server("150 Opening BINARY mode data connection for a.txt (10 bytes)");
    c.send(&mut data, Side::Server, b"12345");
    assert!(c.ended().is_empty());
    c.end_capture();

    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Truncated);
    assert_eq!(t.missing_bytes, 5);
    assert!(
        t.reason
            .contains("data connection not closed in the capture"),
        "{}",
        t.reason
    );
}

// Arms: Preliminary with "(N bytes)"; Open + Final (226 before any FIN); Open +
// ConnectionEnded at the capture's end with no FIN: the announced size proves the file whole.
#[test]
fn all_announced_bytes_and_a_226_make_a_file_complete_without_a_fin() {
    let mut c = passive();
    c.client("RETR a.bin");
    let mut data = c.client_connects(50000);
    c.server("150 Opening BINARY mode data connection for a.bin (10 bytes)");
    c.send(&mut data, Side::Server, b"0123456789");
    c.server("226 Transfer complete");
    c.end_capture();

    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Complete, "{}", t.reason);
    assert_eq!((t.expected_bytes, t.missing_bytes), (Some(10), 0));
    assert!(t.reason.contains("no FIN in the capture"), "{}", t.reason);
    assert_eq!(c.file(t.transfer), b"0123456789");
}

// Arms: Command with the size a 213 gave for its path; the rest as above.
#[test]
fn a_size_from_213_proves_a_file_complete_without_a_fin() {
    let mut c = passive();
    c.client("SIZE a.bin");
    c.server("213 10");
    c.client("RETR a.bin");
    let mut data = c.client_connects(50000);
    c.server("150 Opening BINARY mode data connection for a.bin");
    c.send(&mut data, Side::Server, b"0123456789");
    c.server("226 Transfer complete");
    c.end_capture();

    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Complete, "{}", t.reason);
    assert_eq!(t.expected_bytes, Some(10));
}

// Arms: as above, with no size announced: nothing proves the bytes are all there.
#[test]
fn without_a_fin_or_an_announced_size_completeness_is_not_proven() {
    let mut c = passive();
    c.client("RETR a.bin");
    let mut data = c.client_connects(50000);
    c.server("150 Opening BINARY mode data connection for a.bin");
    c.send(&mut data, Side::Server, b"0123456789");
    c.server("226 Transfer complete");
    c.end_capture();

    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Truncated);
    assert_eq!((t.bytes, t.missing_bytes), (10, 0));
    assert!(
        t.reason.contains("completeness not proven") && t.reason.contains("no size announced"),
        "{}",
        t.reason
    );
    assert_eq!(c.file(t.transfer), b"0123456789");
}

// Arms: Bytes that open with a TLS handshake (Encrypted, once); Bytes both ways, all
// ciphertext; the verdict `encrypted`. Here the control connection is clear: the client asked
// for TLS on the data connection only (or CCC came after PROT P).
#[test]
fn a_data_connection_that_opens_with_a_tls_handshake_is_encrypted_data() {
    let mut c = passive();
    c.client("RETR secret.pdf");
    let mut data = c.client_connects(50000);
    c.server("150 Opening BINARY mode data connection for secret.pdf (100 bytes)");
    let client_hello = [22, 3, 1, 0, 4, 1, 0, 0, 0];
    let server_hello = [22, 3, 3, 0, 4, 2, 0, 0, 0];
    let app_data = [23, 3, 3, 0, 3, 0xde, 0xad, 0xbe];
    c.send(&mut data, Side::Client, &client_hello);
    c.send(&mut data, Side::Server, &server_hello);
    c.send(&mut data, Side::Server, &app_data);
    c.send(&mut data, Side::Client, &app_data);
    c.fin(&mut data, Side::Server);
    c.fin(&mut data, Side::Client);
    c.server("226 Transfer complete");

    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Encrypted, "{}", t.reason);
    assert_eq!(t.bytes, 9 + 9 + 8 + 8, "ciphertext both ways");
    assert_eq!(t.missing_bytes, 0, "nothing is known missing");
    assert!(t.reason.contains("ciphertext"), "{}", t.reason);
    assert!(c.file(t.transfer).is_empty(), "no byte of it is the file's");
    let anomalies = c.anomalies();
    let encrypted = anomalies
        .iter()
        .filter(|k| **k == AnomalyKind::DataEncrypted)
        .count();
    assert_eq!(encrypted, 1, "{anomalies:?}");
    assert!(!anomalies.contains(&AnomalyKind::DataBothDirections));
}

// Arms: Bytes that do not open with TLS stay the file's, even if TLS-like bytes come later.
#[test]
fn a_file_that_contains_tls_records_later_is_still_a_file() {
    let mut c = passive();
    c.client("RETR capture.bin");
    let mut data = c.client_connects(50000);
    c.server("150 Opening BINARY mode data connection");
    c.send(&mut data, Side::Server, b"head");
    c.send(&mut data, Side::Server, &[22, 3, 1, 0, 4, 1, 0, 0, 0]);
    c.fin(&mut data, Side::Server);
    c.server("226 Transfer complete");

    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Complete, "{}", t.reason);
    assert_eq!(c.file(t.transfer).len(), 13);
    assert!(!c.anomalies().contains(&AnomalyKind::DataEncrypted));
}

// Reply pairing: a 500 after the LIST's 150 cannot be the LIST's final reply; the LIST keeps
// waiting for its 226, and nothing else was pending, so the 500 answers no command.
#[test]
fn a_500_after_a_150_is_not_the_transfers_final_reply() {
    let mut c = passive();
    c.client("LIST");
    let mut data = c.client_connects(50000);
    c.server("150 Here comes the directory listing");
    c.send(
        &mut data,
        Side::Server,
        b"-rw-r--r-- 1 0 0 5 Jan 01 00:00 a.txt\r\n",
    );
    c.fin(&mut data, Side::Server);
    c.fin(&mut data, Side::Client);
    c.server("500 Unknown command");
    assert!(c.ended().is_empty(), "the 500 did not end the LIST");
    assert!(c.anomalies().contains(&AnomalyKind::UnsolicitedReply));
    c.server("226 Directory send OK");

    let t = c.the_transfer();
    assert_eq!(t.reply_code, Some(226));
    assert_eq!(t.status, TransferStatus::Complete, "{}", t.reason);
}

// Reply pairing: with another command pending behind the transfer, the 500 answers that one.
#[test]
fn a_500_after_a_150_answers_the_next_pending_command() {
    let mut c = passive();
    c.client("RETR a.bin");
    c.client("XYZZY");
    let mut data = c.client_connects(50000);
    c.server("150 Opening BINARY mode data connection");
    c.server("500 Unknown command");
    c.send(&mut data, Side::Server, b"abc");
    c.fin(&mut data, Side::Server);
    c.server("226 Transfer complete");

    let t = c.the_transfer();
    assert_eq!(t.reply_code, Some(226));
    assert_eq!(t.status, TransferStatus::Complete, "{}", t.reason);
    let answered: Vec<(Vec<u8>, Option<u16>)> = c
        .events
        .iter()
        .filter_map(|e| match e {
            ftpscope_core::Event::Exchange(x) => x
                .command
                .as_ref()
                .map(|cmd| (cmd.verb.clone(), x.replies.last().map(|r| r.code))),
            _ => None,
        })
        .collect();
    assert!(
        answered.contains(&(b"XYZZY".to_vec(), Some(500))),
        "{answered:?}"
    );
    assert!(
        answered.contains(&(b"RETR".to_vec(), Some(226))),
        "{answered:?}"
    );
    assert!(!c.anomalies().contains(&AnomalyKind::UnsolicitedReply));
}

// Arms: Command for a listing with options before its path: the path is kept, the options not.
#[test]
fn list_with_options_keeps_its_path() {
    let mut c = passive();
    c.client("CWD /srv");
    c.server("250 Directory successfully changed.");
    c.client("LIST -la pub");
    let mut data = c.client_connects(50000);
    c.server("150 Here comes the directory listing");
    c.send(
        &mut data,
        Side::Server,
        b"-rw-r--r-- 1 0 0 5 Jan 01 00:00 a.txt\r\n",
    );
    c.fin(&mut data, Side::Server);
    c.server("226 Directory send OK");

    let t = c.the_transfer();
    assert_eq!(t.path.as_deref(), Some(&b"pub"[..]));
    assert_eq!(t.full_path.as_deref(), Some(&b"/srv/pub"[..]));
}

// Arms: Command with the REST offset; Preliminary with "(N bytes)".
#[test]
fn rest_places_the_bytes_at_an_offset_and_shortens_what_is_expected() {
    let mut c = passive();
    c.client("REST 4");
    c.server("350 Restarting at 4");
    c.client("RETR a.bin");
    let mut data = c.client_connects(50000);
    c.server("150 Opening BINARY mode data connection for a.bin (10 bytes)");
    c.send(&mut data, Side::Server, b"456789");
    c.fin(&mut data, Side::Server);
    c.server("226 ok");

    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Complete, "{}", t.reason);
    assert_eq!((t.offset, t.expected_bytes), (4, Some(6)));
}

// Arms: Preliminary with "(N bytes)" and fewer bytes crossing.
#[test]
fn fewer_bytes_than_the_150_announced_truncate_the_transfer() {
    let mut c = passive();
    c.client("RETR a.bin");
    let mut data = c.client_connects(50000);
    c.server("150 Opening BINARY mode data connection for a.bin (100 bytes)");
    c.send(&mut data, Side::Server, &[1; 60]);
    c.fin(&mut data, Side::Server);
    c.server("226 ok");

    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Truncated);
    assert_eq!(t.missing_bytes, 40);
    assert_eq!(t.reason, "40 bytes short of the 100 announced");
}

// Arms: Command for a listing (the session's directory, not an option, is the path).
#[test]
fn a_listing_is_marked_and_takes_the_working_directory() {
    let mut c = passive();
    c.client("CWD /pub");
    c.server("250 Directory successfully changed.");
    c.client("LIST -la");
    let mut data = c.client_connects(50000);
    c.server("150 Here comes the directory listing.");
    c.send(
        &mut data,
        Side::Server,
        b"-rw-r--r-- 1 0 0 4 Jan 01 00:00 a.txt\r\n",
    );
    c.fin(&mut data, Side::Server);
    c.server("226 Directory send OK.");

    let t = c.the_transfer();
    assert!(t.listing);
    assert_eq!(t.path, None);
    assert_eq!(t.full_path.as_deref(), Some(&b"/pub"[..]));
    assert_eq!(t.status, TransferStatus::Complete, "{}", t.reason);
}

// Arms: Preliminary and Final name STOU's file.
#[test]
fn stou_takes_the_name_the_server_chose() {
    let mut c = passive();
    c.client("CWD /in");
    c.server("250 ok");
    c.client("STOU");
    let mut data = c.client_connects(50000);
    c.server("150 FILE: upload.1");
    c.send(&mut data, Side::Client, b"x");
    c.fin(&mut data, Side::Client);
    c.server("226 Transfer complete");

    let t = c.the_transfer();
    assert_eq!(t.path.as_deref(), Some(&b"upload.1"[..]));
    assert_eq!(t.full_path.as_deref(), Some(&b"/in/upload.1"[..]));
}

// Arms: AwaitingDataConnection + Final 226 (waits); AnotherCommand ends it.
#[test]
fn a_command_answered_without_a_connection_ends_when_the_next_command_comes() {
    let mut c = passive();
    c.client("RETR first.txt");
    c.server("226 Transfer complete");
    assert!(c.ended().is_empty(), "its connection may still show");
    c.client("RETR second.txt");

    let t = c.the_transfer();
    assert_eq!(t.path.as_deref(), Some(&b"first.txt"[..]));
    assert_eq!(t.status, TransferStatus::Truncated);
    assert_eq!(t.reason, "no data connection in the capture");
}

// Arms: AnotherCommand while the earlier command has no final reply (it keeps waiting).
#[test]
fn a_pipelined_command_leaves_the_earlier_one_waiting() {
    let mut c = passive();
    c.client("RETR first.txt");
    c.client("RETR second.txt");
    assert!(c.ended().is_empty());
    let mut data = c.client_connects(50000);
    c.send(&mut data, Side::Server, b"1");
    c.fin(&mut data, Side::Server);
    c.server("226 first done");

    let t = c.the_transfer();
    assert_eq!(t.path.as_deref(), Some(&b"first.txt"[..]));
    assert_eq!(t.status, TransferStatus::Complete, "{}", t.reason);
}

// Arms: Closed + AnotherConnection (an unclaimed, closed connection ends when the next opens).
#[test]
fn a_closed_connection_no_command_claimed_ends_when_the_next_opens() {
    let mut c = passive();
    let mut first = c.client_connects(50000);
    c.send(&mut first, Side::Server, b"?");
    c.fin(&mut first, Side::Server);
    c.fin(&mut first, Side::Client);
    c.client("PASV");
    c.server("227 Entering Passive Mode (192,0,2,21,195,81)");
    assert!(c.ended().is_empty());
    let _second = c.client_connects(50001);

    let t = c.the_transfer();
    assert_eq!(t.command, None);
    assert!(c.anomalies().contains(&AnomalyKind::DataWithoutCommand));
}

// Arms: AnotherConnection while the earlier unclaimed connection is still open.
#[test]
fn an_open_unclaimed_connection_survives_the_next_one() {
    let mut c = passive();
    c.client("PASV");
    c.server("227 Entering Passive Mode (192,0,2,21,195,81)");
    let mut first = c.client_connects(50000);
    let _second = c.client_connects(50001);
    assert!(c.ended().is_empty());
    c.client("RETR a.txt");
    c.send(&mut first, Side::Server, b"first");
    c.fin(&mut first, Side::Server);
    c.server("226 ok");

    let t = c.the_transfer();
    assert_eq!(c.file(t.transfer), b"first");
    assert_eq!(t.status, TransferStatus::Complete, "{}", t.reason);
}

// Arms: ControlClosed with a command still waiting for its connection.
#[test]
fn the_control_connection_closing_ends_a_command_still_waiting() {
    let mut c = passive();
    c.client("RETR a.txt");
    c.server("150 ok");
    c.close_control();

    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Truncated);
    assert_eq!(t.reason, "no data connection in the capture");
}

// Arms: Open + ControlClosed waits (its bytes may still come); the sender's FIN once the
// control connection is gone ends it.
#[test]
fn a_transfer_still_open_when_its_session_ends_takes_its_last_bytes() {
    let mut c = passive();
    c.client("RETR a.txt");
    let mut data = c.client_connects(50000);
    c.send(&mut data, Side::Server, b"abc");
    c.close_control();
    assert!(c.ended().is_empty(), "its data connection is still open");
    c.send(&mut data, Side::Server, b"def");
    c.fin(&mut data, Side::Server);

    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Complete, "{}", t.reason);
    assert_eq!(t.reply_code, None);
    assert_eq!(c.file(t.transfer), b"abcdef");
}

// Arms: ConnectionOpened with no announcement (an orphan from port 20).
#[test]
fn a_connection_from_port_20_nothing_announced_is_an_orphan() {
    let mut c = Conversation::new();
    let mut data = c.server_connects(40000);
    c.send(&mut data, Side::Server, b"orphan");
    c.fin(&mut data, Side::Server);
    c.fin(&mut data, Side::Client);

    let t = c.the_transfer();
    assert_eq!(t.session, None);
    assert_eq!(t.direction, Direction::Download);
    assert!(c.anomalies().contains(&AnomalyKind::OrphanData));
}

// Arms: SenderClosed from the receiver (says nothing of the file); then the sender's FIN
// closes the connection (Open + ConnectionEnded with its FIN), and Closed + Final ends it.
#[test]
fn the_receivers_fin_first_does_not_end_the_file() {
    let mut c = passive();
    c.client("RETR a.txt");
    let mut data = c.client_connects(50000);
    c.send(&mut data, Side::Server, b"first part");
    c.fin(&mut data, Side::Client);
    c.send(&mut data, Side::Server, b", second part");
    assert!(c.ended().is_empty());
    c.fin(&mut data, Side::Server);
    c.server("226 ok");

    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Complete, "{}", t.reason);
    assert_eq!(c.file(t.transfer), b"first part, second part");
}

// A claimed transfer whose data connection closed before its session ended, with no final
// reply, ends with its session (it used to linger until the capture's end: in a long live
// capture such transfers piled up).
#[test]
fn a_closed_transfer_ends_with_its_session() {
    let mut c = passive();
    c.client("RETR a.txt");
    let mut data = c.client_connects(50000);
    c.send(&mut data, Side::Server, b"abc");
    c.fin(&mut data, Side::Server);
    c.fin(&mut data, Side::Client);
    c.close_control();

    assert_eq!(
        c.ended().len(),
        1,
        "the transfer should end with its session"
    );
    // Ended by the session's end, before the capture's, with the verdict its bytes earn.
    let t = c.the_transfer();
    assert_eq!(t.status, TransferStatus::Complete, "{}", t.reason);
    assert!(t.reason.contains("no final reply captured"), "{}", t.reason);
}

// Reply pairing: a transfer command that got a 150 but never its data connection, then ABOR,
// answered 225 alone (RFC 959: no transfer in progress). The 225 is ABOR's; the later
// commands keep their own replies (as in an FTP bounce through pyftpdlib).
#[test]
fn a_225_after_a_150_answers_the_abor_and_later_replies_stay_paired() {
    let mut c = passive();
    c.client("LIST");
    c.server("150 File status okay. About to open data connection.");
    c.client("ABOR");
    c.server("225 ABOR command successful; data channel closed.");
    c.client("PWD");
    c.server("257 \"/\" is the current directory");
    let answered: Vec<(Vec<u8>, Vec<u16>)> = c
        .events
        .iter()
        .filter_map(|e| match e {
            ftpscope_core::Event::Exchange(x) => x.command.as_ref().map(|cmd| {
                let codes = x.replies.iter().map(|r| r.code).collect();
                (cmd.verb.clone(), codes)
            }),
            _ => None,
        })
        .collect();
    assert!(
        answered.contains(&(b"LIST".to_vec(), vec![150])),
        "{answered:?}"
    );
    assert!(
        answered.contains(&(b"ABOR".to_vec(), vec![225])),
        "{answered:?}"
    );
    assert!(
        answered.contains(&(b"PWD".to_vec(), vec![257])),
        "{answered:?}"
    );
    assert!(!c.anomalies().contains(&AnomalyKind::UnsolicitedReply));
}

// The same 225, longer than the reply limit: it is reported too long once, though it is
// paired twice (first with the LIST it retires, then with the ABOR it answers). Before the
// session read its own replies, the second pairing reported it again.
#[test]
fn a_retiring_reply_too_long_is_reported_once() {
    let limits = Limits {
        max_reply_lines: 2,
        ..Limits::default()
    };
    let mut c = Conversation::with_limits(limits);
    c.client("PASV");
    c.server("227 Entering Passive Mode (192,0,2,21,195,80)");
    c.client("LIST");
    c.server("150 File status okay. About to open data connection.");
    c.client("ABOR");
    for line in ["225-No transfer", "225-to abort", "225-here", "225 done"] {
        c.server(line);
    }
    let too_long = c.anomalies();
    let too_long = too_long.iter().filter(|k| **k == AnomalyKind::ReplyTooLong);
    assert_eq!(too_long.count(), 1, "{:?}", c.anomalies());
    assert!(!c.anomalies().contains(&AnomalyKind::UnsolicitedReply));
}
