//! Frame numbers in the records are Wireshark's `frame.number`: checked against the capture
//! read frame by frame here, on every fixture of real servers. (On `samples/demo.pcap`,
//! tshark 4 with `-Y "tcp.port==55764 && tcp.port==40046"` lists frames 50 to 118; the
//! record says 50–116: the server's FIN ends it, the client's FIN and the last ACK follow.)

// Test code: a failed unwrap is a failed test, said with its place.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use ftpscope::capture::CaptureReader;
use ftpscope_core::decode::{Decoded, decode};
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

/// A connection's frames as the capture holds them: every number, and the last one that
/// carried payload.
#[derive(Debug, Default)]
struct Seen {
    numbers: Vec<u64>,
    last_meaningful: u64,
}

/// The frames of each TCP connection (keyed by its two ends, in order), numbered from 1 in
/// file order, counting every frame, TCP or not.
fn frames_by_connection(path: &Path) -> HashMap<(SocketAddr, SocketAddr), Seen> {
    let file = std::fs::File::open(path).unwrap();
    let mut reader = CaptureReader::open(file).unwrap();
    let mut out: HashMap<_, Seen> = HashMap::new();
    let mut number = 0u64;
    while let Some(frame) = reader.next_record().unwrap() {
        number += 1;
        if let Decoded::Tcp(seg) = decode(frame.link, frame.data) {
            let key = if seg.src <= seg.dst {
                (seg.src, seg.dst)
            } else {
                (seg.dst, seg.src)
            };
            let seen = out.entry(key).or_default();
            seen.numbers.push(number);
            if seg.wire_payload_len > 0 {
                seen.last_meaningful = number;
            }
        }
    }
    out
}

fn ends(record: &Value, a: &str, b: &str) -> Option<(SocketAddr, SocketAddr)> {
    let a: SocketAddr = record[a].as_str()?.parse().unwrap();
    let b: SocketAddr = record[b].as_str()?.parse().unwrap();
    Some(if a <= b { (a, b) } else { (b, a) })
}

/// The record's span starts at the connection's first frame and ends between its last frame
/// with payload and its very last frame (the record is made when the connection closes,
/// perhaps before the last FIN and ACKs).
fn check(record: &Value, conn: &Seen, what: &str) {
    let first = record["first_frame"].as_u64().expect(what);
    let last = record["last_frame"].as_u64().expect(what);
    assert_eq!(Some(&first), conn.numbers.first(), "{what}: first frame");
    assert!(
        last >= conn.last_meaningful && Some(&last) <= conn.numbers.last(),
        "{what}: last frame {last}, capture {:?}..{:?} (last with payload {})",
        conn.numbers.first(),
        conn.numbers.last(),
        conn.last_meaningful
    );
}

#[test]
fn records_carry_the_frame_numbers_wireshark_shows() {
    let mut paths: Vec<_> = std::fs::read_dir(common::fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    paths.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/demo.pcap"));
    paths.sort();
    let mut checked = 0;
    for path in &paths {
        let conns = frames_by_connection(path);
        let (values, _) = common::run_file(path, None);
        let name = path.file_name().unwrap().to_string_lossy();
        for s in common::of_type(&values, "session") {
            let key = ends(s, "client", "server").unwrap();
            check(s, &conns[&key], &format!("{name} session {}", s["session"]));
            checked += 1;
        }
        for t in common::of_type(&values, "transfer") {
            match ends(t, "data_client", "data_server") {
                Some(key) => {
                    check(
                        t,
                        &conns[&key],
                        &format!("{name} transfer {}", t["transfer"]),
                    );
                    checked += 1;
                }
                // No data connection: nothing to number.
                None => assert!(t["first_frame"].is_null() && t["last_frame"].is_null()),
            }
        }
    }
    assert!(checked > 50, "only {checked} records checked");
}

/// With the demo's facts from tshark (see the module's comment).
#[test]
fn the_demo_download_spans_the_frames_tshark_lists() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/demo.pcap");
    let (values, _) = common::run_file(&path, None);
    let photo = common::of_type(&values, "transfer")
        .into_iter()
        .find(|t| t["full_path"] == "/pub/photo.jpg")
        .unwrap();
    assert_eq!(photo["first_frame"], 50);
    assert_eq!(photo["last_frame"], 116);
}
