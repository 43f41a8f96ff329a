//! Golden tests on the fixtures recorded from real servers and clients (tests/fixtures, see its
//! README): every fixture's JSON Lines are compared with tests/golden/<name>.jsonl, and every
//! transfer its manifest (<name>.expect.json) lists is checked: bytes, sha256 (computed from the
//! capture independently of ftpscope) and verdict. Extraction is checked byte for byte too.
//!
//! `UPDATE_GOLDEN=1 cargo test --test golden` rewrites the goldens; review the diff like code.

// Test code: a failed unwrap is a failed test, said with its place.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{fixtures_dir, of_type, run_bytes, sha256_hex};
use ftpscope_core::Limits;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixtures() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .collect();
    // The README's sample is a fixture too.
    out.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/demo.pcap"));
    out.sort();
    out
}

fn run_fixture(path: &Path, extract: Option<PathBuf>) -> Vec<Value> {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    run_bytes(
        vec![(name, std::fs::read(path).unwrap())],
        extract,
        Limits::default(),
    )
    .0
}

#[test]
fn fixtures_match_their_goldens() {
    let all = fixtures();
    assert!(
        !all.is_empty(),
        "no fixtures in {}",
        fixtures_dir().display()
    );
    let golden_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut stale = Vec::new();
    for path in all {
        let values = run_fixture(&path, None);
        let text: String = values.iter().map(|v| format!("{v}\n")).collect();
        let golden = golden_dir.join(format!(
            "{}.jsonl",
            path.file_stem().unwrap().to_string_lossy()
        ));
        if update {
            std::fs::create_dir_all(&golden_dir).unwrap();
            std::fs::write(&golden, &text).unwrap();
            continue;
        }
        match std::fs::read_to_string(&golden) {
            Ok(want) if want == text => {}
            Ok(want) => {
                let first = want.lines().zip(text.lines()).position(|(a, b)| a != b);
                stale.push(format!(
                    "{}: differs at line {:?}",
                    golden.display(),
                    first.map(|i| i + 1)
                ));
            }
            Err(_) => stale.push(format!("{} is missing", golden.display())),
        }
    }
    assert!(
        stale.is_empty(),
        "run UPDATE_GOLDEN=1 and review:\n{}",
        stale.join("\n")
    );
}

fn manifest(path: &Path) -> Option<Value> {
    let m = path.with_extension("expect.json");
    let text = std::fs::read_to_string(m).ok()?;
    Some(serde_json::from_str(&text).unwrap())
}

#[test]
fn every_manifest_transfer_is_found_with_its_bytes_and_verdict() {
    let mut checked = 0;
    let mut combined_checked = 0;
    for path in fixtures() {
        let Some(manifest) = manifest(&path) else {
            continue;
        };
        let tmp = common::temp_dir("golden", &path.file_stem().unwrap().to_string_lossy());
        let dir = tmp.path();
        let values = run_fixture(&path, Some(dir.to_path_buf()));
        let transfers = of_type(&values, "transfer");
        let name = path.display();
        for want in manifest["transfers"].as_array().unwrap() {
            let found = transfers.iter().find(|t| {
                t["command"] == want["command"]
                    && t["sha256"] == want["sha256"]
                    && (want["path"].is_null()
                        || want["path"] == ""
                        || t["path"] == want["path"]
                        || t["full_path"] == want["path"])
            });
            let Some(t) = found else {
                panic!("{name}: no transfer like {want}\namong {transfers:#?}");
            };
            checked += 1;
            assert_eq!(t["bytes"], want["bytes"], "{name}: {want}");
            assert_eq!(t["status"], want["status"], "{name}: {want}\n{t}");
            for key in ["direction", "mode", "announced_by", "offset"] {
                if !want[key].is_null() {
                    assert_eq!(t[key], want[key], "{name}: {key} of {want}");
                }
            }
            // The extracted file holds exactly the bytes that crossed.
            if let Some(file) = t["file"].as_str() {
                let bytes = std::fs::read(file).unwrap();
                assert_eq!(
                    sha256_hex(&bytes),
                    want["sha256"].as_str().unwrap(),
                    "{name}: {file}"
                );
                assert!(
                    Path::new(file).starts_with(dir),
                    "{file} escaped {}",
                    dir.display()
                );
            } else {
                assert_eq!(
                    t["bytes"], 0,
                    "{name}: a transfer with bytes must be extracted: {t}"
                );
            }
            // A resumed transfer joined to the part it resumes gives back the whole original.
            if let Some(combined) = t["combined_file"].as_str() {
                let whole = sha256_hex(&std::fs::read(combined).unwrap());
                assert_eq!(
                    Some(whole.as_str()),
                    want["original_sha256"].as_str(),
                    "{name}: {combined}"
                );
                combined_checked += 1;
            }
            // A complete transfer from offset 0 is the original file: as is in TYPE I, and with
            // CRLF turned back into LF in TYPE A (the originals are Unix text files).
            let from_start = want["offset"].as_u64().unwrap_or(0) == 0;
            if let (Some(original), true, true) = (
                want["original_sha256"].as_str(),
                want["status"] == "complete",
                from_start,
            ) {
                if t["type_code"] == "A" {
                    let wire = std::fs::read(t["file"].as_str().unwrap()).unwrap();
                    let text = String::from_utf8_lossy(&wire).replace("\r\n", "\n");
                    assert_eq!(sha256_hex(text.as_bytes()), original, "{name}: {want}");
                } else {
                    assert_eq!(
                        want["sha256"], original,
                        "{name}: a complete binary transfer is the original"
                    );
                }
            }
        }
    }
    assert!(checked >= 40, "only {checked} manifest transfers checked");
    assert!(
        combined_checked >= 1,
        "no REST resume was joined to its first part"
    );
}

/// The text report of every fixture, compared with tests/golden/report/<name>.txt: the report
/// reads dialogues and transfers back from the store's spill file, so this checks that what
/// comes back is what went in, in order.
#[test]
fn reports_match_their_goldens() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/report");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for path in fixtures() {
        // Run beside the capture: the report names its input as given.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ftpscope"))
            .args(["--report", "--no-progress", "-r"])
            .arg(path.file_name().unwrap())
            .current_dir(path.parent().unwrap())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", path.display());
        let report = String::from_utf8(out.stdout).unwrap();
        let golden = dir.join(format!(
            "{}.txt",
            path.file_stem().unwrap().to_string_lossy()
        ));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&golden, &report).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&golden)
            .unwrap_or_else(|_| panic!("{} missing: run UPDATE_GOLDEN=1", golden.display()));
        assert_eq!(report, want, "{} differs from its golden", path.display());
    }
}
