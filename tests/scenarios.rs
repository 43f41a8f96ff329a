//! Scenario tests that read like the protocol: each builds a capture with the scenario builder
//! (reordering, duplicating, dropping or cutting segments on purpose) and checks what ftpscope
//! reports: transfers, verdicts, links, sessions and anomalies.

// Test code: a failed unwrap is a failed test, said with its place.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::scenario::{Conn, Frame, Wire, pattern};

/// Rearranges a transfer's data segments before they go on the wire.
type Order = dyn Fn(Vec<Frame>) -> Vec<Frame>;
use common::{of_type, run_bytes, sha256_hex};
use ftpscope_core::Limits;
use serde_json::Value;

const CLIENT: &str = "10.0.0.1:40000";
const SERVER: &str = "10.0.0.2:21";

fn run(wire: &Wire) -> Vec<Value> {
    run_bytes(
        vec![("scenario".into(), wire.pcap())],
        None,
        Limits::default(),
    )
    .0
}

/// Greeting and anonymous login on a fresh control connection.
fn login(wire: &mut Wire) -> Conn {
    let mut c = wire.connect(CLIENT, SERVER, 1000, 5000);
    wire.server(&mut c, b"220 (vsFTPd 3.0.3)\r\n");
    wire.client(&mut c, b"USER anonymous\r\n");
    wire.server(&mut c, b"331 Please specify the password.\r\n");
    wire.client(&mut c, b"PASS guest@example.org\r\n");
    wire.server(&mut c, b"230 Login successful.\r\n");
    c
}

fn only_transfer(values: &[Value]) -> &Value {
    let t = of_type(values, "transfer");
    assert_eq!(t.len(), 1, "{values:#?}");
    t[0]
}

fn anomaly_kinds(values: &[Value]) -> Vec<String> {
    of_type(values, "anomaly")
        .iter()
        .map(|a| a["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// PASV, RETR of `data` sent as `segments` (reordered by `order`), 226.
fn passive_retr(
    order: &dyn Fn(Vec<common::scenario::Frame>) -> Vec<common::scenario::Frame>,
    data: &[u8],
) -> Vec<Value> {
    let mut w = Wire::default();
    let mut c = login(&mut w);
    w.client(&mut c, b"PASV\r\n");
    w.server(&mut c, b"227 Entering Passive Mode (10,0,0,2,19,137).\r\n");
    let mut d = w.connect("10.0.0.1:40001", "10.0.0.2:5001", 7000, 9000);
    w.client(&mut c, b"RETR pub/file.bin\r\n");
    w.server(
        &mut c,
        format!(
            "150 Opening BINARY mode data connection for pub/file.bin ({} bytes).\r\n",
            data.len()
        )
        .as_bytes(),
    );
    let segments: Vec<_> = data
        .chunks(1000)
        .map(|chunk| w.make(&mut d, false, chunk))
        .collect();
    w.frames.extend(order(segments));
    w.close(&mut d, false);
    w.server(&mut c, b"226 Transfer complete.\r\n");
    w.client(&mut c, b"QUIT\r\n");
    w.server(&mut c, b"221 Goodbye.\r\n");
    w.close(&mut c, true);
    run(&w)
}

#[test]
fn in_order_reordered_and_duplicated_segments_give_the_same_file() {
    let data = pattern(10_500, 7);
    let want = sha256_hex(&data);
    let orders: Vec<Box<Order>> = vec![
        Box::new(|s| s),
        Box::new(|mut s| {
            s.reverse();
            s
        }),
        Box::new(|s| s.iter().flat_map(|f| [f.clone(), f.clone()]).collect()),
        Box::new(|mut s| {
            s.swap(1, 5);
            s.swap(2, 9);
            let again = s[3].clone();
            s.push(again);
            s
        }),
    ];
    for (i, order) in orders.iter().enumerate() {
        let values = passive_retr(order.as_ref(), &data);
        let t = only_transfer(&values);
        assert_eq!(t["sha256"], want.as_str(), "order {i}");
        assert_eq!(t["bytes"], 10_500);
        assert_eq!(t["status"], "complete", "order {i}: {}", t["reason"]);
        assert_eq!(t["expected_bytes"], 10_500);
        assert_eq!(t["path"], "pub/file.bin");
        assert_eq!(t["mode"], "passive");
        assert_eq!(t["announced_by"], "PASV");
        assert_eq!(t["link"], "exact");
        assert_eq!(t["direction"], "download");
    }
}

#[test]
fn a_dropped_segment_is_a_counted_gap_and_the_transfer_is_truncated() {
    let data = pattern(5000, 1);
    let values = passive_retr(
        &|mut s| {
            s.remove(2); // bytes 2000..3000 never captured
            s
        },
        &data,
    );
    let t = only_transfer(&values);
    assert_eq!(t["status"], "truncated");
    assert_eq!(t["bytes"], 4000);
    assert_eq!(t["missing_bytes"], 1000);
    assert!(
        t["reason"]
            .as_str()
            .unwrap()
            .contains("1000 bytes never captured")
    );
}

#[test]
fn data_connection_before_retr_and_data_before_150_still_link() {
    let mut w = Wire::default();
    let mut c = login(&mut w);
    w.client(&mut c, b"EPSV\r\n");
    w.server(&mut c, b"229 Entering Extended Passive Mode (|||6446|)\r\n");
    let mut d = w.connect("10.0.0.1:40002", "10.0.0.2:6446", 1, 2);
    w.client(&mut c, b"SIZE big.iso\r\n");
    w.server(&mut c, b"213 3000\r\n");
    w.client(&mut c, b"RETR big.iso\r\n");
    let data = pattern(3000, 3);
    w.server(&mut d, &data);
    w.server(&mut c, b"150 Here it comes.\r\n");
    w.close(&mut d, false);
    w.server(&mut c, b"226 Done.\r\n");
    let values = run(&w);
    let t = only_transfer(&values);
    assert_eq!(t["sha256"], sha256_hex(&data).as_str());
    assert_eq!(t["expected_bytes"], 3000, "SIZE gives the expected size");
    assert_eq!(t["status"], "complete");
    assert_eq!(t["announced_by"], "EPSV");
    assert_eq!(t["announced"], "10.0.0.2:6446");
}

#[test]
fn server_behind_nat_links_by_control_peers_and_says_so() {
    let mut w = Wire::default();
    let mut c = login(&mut w);
    w.client(&mut c, b"PASV\r\n");
    // The server announces its private address; the client reaches it at 10.0.0.2.
    w.server(
        &mut c,
        b"227 Entering Passive Mode (192,168,77,2,39,16)\r\n",
    );
    let mut d = w.connect("10.0.0.1:40003", "10.0.0.2:10000", 1, 2);
    w.client(&mut c, b"STOR up.txt\r\n");
    w.server(&mut c, b"150 Ok to send data.\r\n");
    w.client(&mut d, b"uploaded bytes");
    w.close(&mut d, true);
    w.server(&mut c, b"226 Transfer complete.\r\n");
    let values = run(&w);
    let t = only_transfer(&values);
    assert_eq!(t["link"], "nat_peers");
    assert_eq!(t["announced"], "192.168.77.2:10000");
    assert_eq!(t["direction"], "upload");
    assert_eq!(t["sha256"], sha256_hex(b"uploaded bytes").as_str());
    assert!(anomaly_kinds(&values).contains(&"address_mismatch".to_owned()));
}

#[test]
fn port_alone_links_within_the_window() {
    let mut w = Wire::default();
    let mut c = login(&mut w);
    w.client(&mut c, b"PASV\r\n");
    w.server(
        &mut c,
        b"227 Entering Passive Mode (192,168,77,2,39,17)\r\n",
    );
    // Both ends differ from the control peers (a proxy in between): only the port matches.
    let mut d = w.connect("172.16.0.9:50000", "172.16.0.10:10001", 1, 2);
    w.client(&mut c, b"RETR x\r\n");
    w.server(&mut d, b"xyz");
    w.close(&mut d, false);
    w.server(&mut c, b"226 ok\r\n");
    let values = run(&w);
    assert_eq!(only_transfer(&values)["link"], "port_only");
}

#[test]
fn active_mode_from_port_20_with_data_before_the_150() {
    let mut w = Wire::default();
    let mut c = login(&mut w);
    w.client(&mut c, b"PORT 10,0,0,1,156,64\r\n");
    w.server(&mut c, b"200 PORT command successful.\r\n");
    w.client(&mut c, b"RETR notes.txt\r\n");
    // Active mode: the FTP server opens the data connection, so it is the TCP client here.
    let mut d = w.connect("10.0.0.2:20", "10.0.0.1:40000", 10, 20);
    let data = b"line one\r\nline two\r\n";
    w.client(&mut d, data);
    w.server(&mut c, b"150 Opening data connection.\r\n");
    w.close(&mut d, true);
    w.server(&mut c, b"226 Transfer complete.\r\n");
    let values = run(&w);
    let t = only_transfer(&values);
    assert_eq!(t["mode"], "active");
    assert_eq!(t["announced_by"], "PORT");
    assert_eq!(t["announced"], "10.0.0.1:40000");
    assert_eq!(t["link"], "exact");
    assert_eq!(t["direction"], "download");
    assert_eq!(t["sha256"], sha256_hex(data).as_str());
}

#[test]
fn eprt_over_ipv6() {
    let mut w = Wire::default();
    let mut c = w.connect("[2001:db8::1]:40000", "[2001:db8::2]:21", 1, 2);
    w.server(&mut c, b"220 ready\r\n");
    w.client(&mut c, b"EPRT |2|2001:db8::1|40100|\r\n");
    w.server(&mut c, b"200 EPRT ok\r\n");
    w.client(&mut c, b"STOR v6.bin\r\n");
    let mut d = w.connect("[2001:db8::2]:20", "[2001:db8::1]:40100", 3, 4);
    w.server(&mut c, b"150 go\r\n");
    // The FTP client uploads; it accepted the data connection, so it is the TCP server.
    w.server(&mut d, b"six");
    w.close(&mut d, false);
    w.server(&mut c, b"226 ok\r\n");
    let values = run(&w);
    let t = only_transfer(&values);
    assert_eq!(t["announced_by"], "EPRT");
    assert_eq!(t["announced"], "[2001:db8::1]:40100");
    assert_eq!(t["link"], "exact");
    assert_eq!(t["direction"], "upload");
    assert_eq!(t["bytes"], 3);
}

#[test]
fn commands_split_over_segments_and_pipelined_commands_pair_with_their_replies() {
    let mut w = Wire::default();
    let mut c = w.connect(CLIENT, SERVER, 1, 2);
    w.server(&mut c, b"220 hi\r\n");
    w.client(&mut c, b"USER al");
    w.client(&mut c, b"ice\r\nPASS se");
    w.client(&mut c, b"cret\r\nSYST\r\nPWD\r\n");
    w.server(&mut c, b"331 pw?\r\n230 in\r\n215 UNIX Type: L8\r\n257 \"/home/alice\" is the current directory\r\n");
    w.client(&mut c, b"\xff\xf4\xff\xf2ABOR\r\n");
    w.server(&mut c, b"225 No transfer to ABOR.\r\n");
    let values = run(&w);
    let cmds: Vec<(String, u64)> = of_type(&values, "command")
        .iter()
        .filter(|c| !c["command"].is_null())
        .map(|c| {
            (
                c["command"].as_str().unwrap().to_owned(),
                c["reply_code"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, u64)> = [
        ("USER", 331),
        ("PASS", 230),
        ("SYST", 215),
        ("PWD", 257),
        ("ABOR", 225),
    ]
    .iter()
    .map(|(c, r)| (c.to_string(), *r))
    .collect();
    assert_eq!(cmds, want);
    let pass = of_type(&values, "command")
        .into_iter()
        .find(|c| c["command"] == "PASS")
        .unwrap();
    assert_eq!(pass["arg"], "********", "a real user's password is masked");
    let session = of_type(&values, "session")[0];
    assert_eq!(session["user"], "alice");
    assert_eq!(session["password"], "********");
    assert_eq!(session["login"], "ok");
}

#[test]
fn multi_line_replies_with_digits_inside_stay_one_reply() {
    let mut w = Wire::default();
    let mut c = w.connect(CLIENT, SERVER, 1, 2);
    w.server(
        &mut c,
        b"220-Welcome\r\n220-2 rules:\r\n123 not a reply\r\n220 ready\r\n",
    );
    w.client(&mut c, b"FEAT\r\n");
    w.server(
        &mut c,
        b"211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n211 End\r\n",
    );
    let values = run(&w);
    let replies: Vec<&str> = of_type(&values, "command")
        .iter()
        .map(|c| c["reply_text"].as_str().unwrap())
        .collect();
    assert_eq!(
        replies,
        [
            "Welcome\n220-2 rules:\n123 not a reply\nready",
            "Features:\n EPRT\n EPSV\n MDTM\nEnd"
        ]
    );
    assert!(anomaly_kinds(&values).is_empty());
}

#[test]
fn abor_gives_an_aborted_transfer_and_refusals_a_failed_one() {
    let mut w = Wire::default();
    let mut c = login(&mut w);
    w.client(&mut c, b"RETR missing.txt\r\n");
    w.server(&mut c, b"550 Failed to open file.\r\n");
    w.client(&mut c, b"PASV\r\n");
    w.server(&mut c, b"227 =10,0,0,2,20,0\r\n");
    let mut d = w.connect("10.0.0.1:40010", "10.0.0.2:5120", 1, 2);
    w.client(&mut c, b"RETR big\r\n");
    w.server(
        &mut c,
        b"150 Opening BINARY mode data connection for big (100000 bytes).\r\n",
    );
    w.server(&mut d, &pattern(3000, 9));
    w.client(&mut c, b"\xff\xf4\xff\xf2ABOR\r\n");
    w.reset(&d, true);
    w.server(
        &mut c,
        b"426 Failure writing network stream.\r\n226 ABOR successful.\r\n",
    );
    let values = run(&w);
    let transfers = of_type(&values, "transfer");
    assert_eq!(transfers.len(), 2);
    let failed = transfers
        .iter()
        .find(|t| t["path"] == "missing.txt")
        .unwrap();
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["reply_code"], 550);
    let aborted = transfers.iter().find(|t| t["path"] == "big").unwrap();
    assert_eq!(aborted["status"], "aborted");
    assert_eq!(aborted["bytes"], 3000);
    assert_eq!(aborted["missing_bytes"], 97000);
    assert_eq!(
        aborted["link"], "exact",
        "227 without parentheses still links"
    );
}

#[test]
fn auth_tls_marks_the_session_encrypted_and_stops_parsing() {
    let mut w = Wire::default();
    let mut c = w.connect(CLIENT, SERVER, 1, 2);
    w.server(&mut c, b"220 hi\r\n");
    w.client(&mut c, b"AUTH TLS\r\n");
    w.server(&mut c, b"234 Proceed with negotiation.\r\n");
    w.client(
        &mut c,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n",
    );
    w.server(&mut c, b"\x16\x03\x03\x00\x5a\x02\x00\x00\x56\r\n");
    let values = run(&w);
    let s = of_type(&values, "session")[0];
    assert_eq!(s["tls"]["decrypted"], false, "{s}");
    assert_eq!(of_type(&values, "command").len(), 2);
    assert!(
        anomaly_kinds(&values).is_empty(),
        "ciphertext is not parsed: {:?}",
        anomaly_kinds(&values)
    );
}

#[test]
fn sequence_numbers_wrapping_inside_a_transfer() {
    let mut w = Wire::default();
    let mut c = login(&mut w);
    w.client(&mut c, b"PASV\r\n");
    w.server(&mut c, b"227 Entering Passive Mode (10,0,0,2,19,138).\r\n");
    let mut d = w.connect("10.0.0.1:40004", "10.0.0.2:5002", 1, u32::MAX - 1500);
    w.client(&mut c, b"RETR wrap\r\n");
    let data = pattern(4000, 5);
    let segs: Vec<_> = data
        .chunks(1000)
        .map(|ch| w.make(&mut d, false, ch))
        .collect();
    w.frames.extend([
        segs[2].clone(),
        segs[0].clone(),
        segs[3].clone(),
        segs[1].clone(),
    ]);
    w.close(&mut d, false);
    w.server(&mut c, b"226 ok\r\n");
    let values = run(&w);
    let t = only_transfer(&values);
    assert_eq!(t["sha256"], sha256_hex(&data).as_str());
    assert_eq!(t["status"], "complete");
}

#[test]
fn frames_cut_by_the_snaplen_taint_the_transfer() {
    let mut w = Wire::default();
    let mut c = login(&mut w);
    w.client(&mut c, b"PASV\r\n");
    w.server(&mut c, b"227 Entering Passive Mode (10,0,0,2,19,139).\r\n");
    let mut d = w.connect("10.0.0.1:40005", "10.0.0.2:5003", 1, 2);
    w.client(&mut c, b"RETR snap\r\n");
    w.server(&mut d, &pattern(1000, 1));
    let mut cut = w.make(&mut d, false, &pattern(1000, 2));
    cut.caplen = Some(cut.bytes.len() - 400);
    w.frames.push(cut);
    w.close(&mut d, false);
    w.server(&mut c, b"226 ok\r\n");
    let values = run(&w);
    let t = only_transfer(&values);
    assert_eq!(t["status"], "truncated");
    assert_eq!(t["bytes"], 1600);
    assert_eq!(t["missing_bytes"], 400);
    assert!(anomaly_kinds(&values).contains(&"snaplen_truncated".to_owned()));
}

#[test]
fn ftp_on_another_port_is_found_by_its_greeting_and_smtp_is_not() {
    let mut w = Wire::default();
    let mut c = w.connect("10.0.0.1:41000", "10.0.0.2:2121", 1, 2);
    w.server(&mut c, b"220 ProFTPD Server ready.\r\n");
    w.client(&mut c, b"USER bob\r\n");
    w.server(&mut c, b"331 Password required\r\n");
    let mut smtp = w.connect("10.0.0.1:41001", "10.0.0.3:25", 1, 2);
    w.server(&mut smtp, b"220 mail.example.org ESMTP Postfix\r\n");
    w.client(&mut smtp, b"EHLO me\r\n");
    let values = run(&w);
    let sessions = of_type(&values, "session");
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["server"], "10.0.0.2:2121");
    assert_eq!(sessions[0]["detected_by"], "dialogue");
}

#[test]
fn listings_are_parsed_into_entries() {
    let mut w = Wire::default();
    let mut c = login(&mut w);
    w.client(&mut c, b"CWD /pub\r\n");
    w.server(&mut c, b"250 Directory successfully changed.\r\n");
    w.client(&mut c, b"PASV\r\n");
    w.server(&mut c, b"227 Entering Passive Mode (10,0,0,2,19,140).\r\n");
    let mut d = w.connect("10.0.0.1:40006", "10.0.0.2:5004", 1, 2);
    w.client(&mut c, b"LIST -la\r\n");
    w.server(&mut c, b"150 Here comes the directory listing.\r\n");
    w.server(
        &mut d,
        b"drwxr-xr-x    2 0        0            4096 Mar 22 12:34 docs\r\n-rw-r--r--    1 0        0          123456 Jan 02  2023 my file.tar.gz\r\nlrwxrwxrwx    1 0        0               4 Mar 22 12:34 latest -> docs\r\n",
    );
    w.close(&mut d, false);
    w.server(&mut c, b"226 Directory send OK.\r\n");
    let values = run(&w);
    let t = only_transfer(&values);
    assert_eq!(t["command"], "LIST");
    assert_eq!(t["full_path"], "/pub");
    assert_eq!(t["listing_entries"], 3);
    let entries = of_type(&values, "listing_entry");
    assert_eq!(entries[1]["name"], "my file.tar.gz");
    assert_eq!(entries[1]["size"], 123456);
    assert_eq!(entries[2]["kind"], "symlink");
    assert_eq!(entries[2]["link_target"], "docs");
}

#[test]
fn paths_follow_the_working_directory() {
    let mut w = Wire::default();
    let mut c = login(&mut w);
    w.client(&mut c, b"PWD\r\n");
    w.server(&mut c, b"257 \"/\" is the current directory\r\n");
    w.client(&mut c, b"CWD data\r\n");
    w.server(&mut c, b"250 ok\r\n");
    w.client(&mut c, b"CWD sub\r\n");
    w.server(&mut c, b"250 ok\r\n");
    w.client(&mut c, b"CDUP\r\n");
    w.server(&mut c, b"250 ok\r\n");
    w.client(&mut c, b"PASV\r\n");
    w.server(&mut c, b"227 Entering Passive Mode (10,0,0,2,19,141).\r\n");
    let mut d = w.connect("10.0.0.1:40007", "10.0.0.2:5005", 1, 2);
    w.client(&mut c, b"RETR ../etc/../data/f.txt\r\n");
    w.server(&mut d, b"f");
    w.close(&mut d, false);
    w.server(&mut c, b"226 ok\r\n");
    let values = run(&w);
    let t = only_transfer(&values);
    assert_eq!(t["path"], "../etc/../data/f.txt");
    assert_eq!(t["full_path"], "/data/f.txt");
}

#[test]
fn a_lost_command_does_not_shift_the_replies_that_follow() {
    let mut w = Wire::default();
    let mut c = login(&mut w);
    let lost = w.make(&mut c, true, b"CWD nowhere\r\n");
    let _ = lost; // never captured
    w.client(&mut c, b"SYST\r\n");
    w.server(&mut c, b"550 No such directory.\r\n");
    w.ack(&c, false); // the server acknowledged the lost bytes too
    w.server(&mut c, b"215 UNIX\r\n");
    let values = run(&w);
    let syst = of_type(&values, "command")
        .into_iter()
        .find(|c| c["command"] == "SYST")
        .unwrap();
    assert_eq!(syst["reply_code"], 215);
    assert!(anomaly_kinds(&values).contains(&"control_gap".to_owned()));
}

#[test]
fn several_captures_are_merged_in_time_order() {
    let mut w = Wire::default();
    let mut c = login(&mut w);
    w.client(&mut c, b"SYST\r\n");
    w.server(&mut c, b"215 UNIX\r\n");
    w.close(&mut c, true);
    // Split the frames alternately over two files, as two capture points would.
    let mut a = Wire::default();
    let mut b = Wire::default();
    for (i, f) in w.frames.iter().enumerate() {
        if i % 2 == 0 {
            a.frames.push(f.clone())
        } else {
            b.frames.push(f.clone())
        }
    }
    let (values, _) = run_bytes(
        vec![("a".into(), a.pcap()), ("b".into(), b.pcap())],
        None,
        Limits::default(),
    );
    let codes: Vec<u64> = of_type(&values, "command")
        .iter()
        .map(|c| c["reply_code"].as_u64().unwrap())
        .collect();
    assert_eq!(codes, [220, 331, 230, 215]);
    assert_eq!(of_type(&values, "session")[0]["end_reason"], "closed");
}

#[test]
fn ip_fragments_are_reassembled() {
    let mut w = Wire::default();
    let mut c = login(&mut w);
    w.client(&mut c, b"LPSV\r\n");
    w.server(
        &mut c,
        b"228 Entering Long Passive Mode (4,4,10,0,0,2,2,19,137)\r\n",
    );
    let mut d = w.connect("10.0.0.1:40001", "10.0.0.2:5001", 1, 2);
    w.client(&mut c, b"RETR frag.bin\r\n");
    let data = pattern(2000, 8);
    let whole = w.make(&mut d, false, &data);
    // Split the IPv4 datagram in two fragments: 14 Ethernet + 20 IP header, payload at 34.
    let (eth_ip, payload) = whole.bytes.split_at(34);
    let cut = 1024; // a multiple of 8
    for (offset, part, more) in [
        (0usize, &payload[..cut], true),
        (cut, &payload[cut..], false),
    ] {
        let mut frame = eth_ip.to_vec();
        let total = (20 + part.len()) as u16;
        frame[16..18].copy_from_slice(&total.to_be_bytes());
        let flags_offset = ((offset / 8) as u16) | if more { 0x2000 } else { 0 };
        frame[20..22].copy_from_slice(&flags_offset.to_be_bytes());
        frame.extend_from_slice(part);
        w.frames.push(common::scenario::Frame {
            ts_us: whole.ts_us,
            bytes: frame,
            caplen: None,
        });
    }
    w.close(&mut d, false);
    w.server(&mut c, b"226 ok\r\n");
    let values = run(&w);
    let t = only_transfer(&values);
    assert_eq!(t["sha256"], sha256_hex(&data).as_str());
    assert_eq!(t["announced_by"], "LPSV");
    assert_eq!(t["status"], "complete");
}

#[test]
fn stou_takes_the_name_the_server_chose() {
    let mut w = Wire::default();
    let mut c = login(&mut w);
    w.client(&mut c, b"LPRT 4,4,10,0,0,1,2,156,64\r\n");
    w.server(&mut c, b"200 LPRT ok\r\n");
    w.client(&mut c, b"STOU\r\n");
    w.server(&mut c, b"150 FILE: upload.0001\r\n");
    let mut d = w.connect("10.0.0.2:20", "10.0.0.1:40000", 1, 2);
    w.client(&mut d, b"unique");
    w.close(&mut d, true);
    w.server(&mut c, b"226 Transfer complete.\r\n");
    let values = run(&w);
    let t = only_transfer(&values);
    assert_eq!(t["command"], "STOU");
    assert_eq!(t["path"], "upload.0001");
    assert_eq!(t["announced_by"], "LPRT");
    assert_eq!(t["direction"], "upload");
}
