//! No panic, hang or runaway memory on any corpus capture cut short at arbitrary offsets or
//! with random bytes flipped; damage is reported, and what came before it is still analysed.

// Test code: a failed unwrap is a failed test, said with its place.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{corpus_dir, of_type, run_bytes};
use ftpscope::capture::CaptureReader;
use ftpscope_core::Limits;
use std::io::Cursor;
use std::path::PathBuf;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn corpus_captures() -> Vec<PathBuf> {
    let Some(root) = corpus_dir() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for source in std::fs::read_dir(root).unwrap().flatten() {
        for case in std::fs::read_dir(source.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            for f in std::fs::read_dir(case.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let p = f.path();
                if matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("pcap" | "pcapng")
                ) {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    out
}

/// Runs the pipeline if the header still opens; the result must be sane either way.
fn analyse(name: &str, bytes: Vec<u8>) {
    if CaptureReader::open(Cursor::new(bytes.clone())).is_err() {
        return; // a clear open error, tested by the reader's own tests
    }
    let (values, summary) = run_bytes(vec![(name.to_owned(), bytes)], None, Limits::default());
    // Every line is a record with a type; the summary closes the stream.
    assert!(values.iter().all(|v| v["type"].is_string()));
    assert_eq!(
        values.last().map(|v| v["type"].clone()),
        Some("summary".into())
    );
    // Every transfer that was started is reported once, with a verdict.
    for t in of_type(&values, "transfer") {
        assert!(
            ["complete", "truncated", "aborted", "failed", "encrypted"]
                .contains(&t["status"].as_str().unwrap())
        );
    }
    assert_eq!(
        summary.stats.transfers as usize,
        of_type(&values, "transfer").len(),
        "{name}"
    );
}

#[test]
fn truncated_corpus_captures_are_analysed_up_to_the_cut() {
    let mut rng = Rng(0x5eed_1234);
    for path in corpus_captures() {
        let bytes = std::fs::read(&path).unwrap();
        let name = path.display().to_string();
        for _ in 0..24 {
            let cut = rng.below(bytes.len());
            let cut_bytes = bytes[..cut].to_vec();
            analyse(&format!("{name}@{cut}"), cut_bytes);
        }
    }
}

#[test]
fn corpus_captures_with_flipped_bytes_do_not_break_the_analysis() {
    let mut rng = Rng(0xf1f0_0001 ^ 0x9e37_79b9);
    for path in corpus_captures() {
        let bytes = std::fs::read(&path).unwrap();
        let name = path.display().to_string();
        for round in 0..16 {
            let mut flipped = bytes.clone();
            // Keep the file header so the damage lands in records, where it is interesting.
            for _ in 0..(1 + rng.below(32)) {
                let at = 24 + rng.below(flipped.len().saturating_sub(24));
                if let Some(b) = flipped.get_mut(at) {
                    *b ^= 1 << rng.below(8);
                }
            }
            analyse(&format!("{name}#{round}"), flipped);
        }
    }
}

#[test]
fn a_cut_in_the_middle_of_a_record_is_reported_as_damage() {
    let Some(root) = corpus_dir() else { return };
    let path = root.join("suricata-verify/ftp-download-passive/input.pcap");
    let bytes = std::fs::read(&path).unwrap();
    // 24-byte header + 16-byte record header + 10 bytes of the first frame.
    let (values, summary) = run_bytes(
        vec![("cut".into(), bytes[..50].to_vec())],
        None,
        Limits::default(),
    );
    assert_eq!(summary.damage.len(), 1);
    assert_eq!(summary.damage[0].damage.offset, 24);
    assert_eq!(of_type(&values, "damage").len(), 1);
    // Cut after most of the capture: the sessions before the cut are still there.
    let (values, summary) = run_bytes(
        vec![("cut".into(), bytes[..bytes.len() - 7].to_vec())],
        None,
        Limits::default(),
    );
    assert_eq!(summary.damage.len(), 1);
    assert_eq!(of_type(&values, "session").len(), 1);
    assert!(of_type(&values, "transfer").len() >= 2);
}
