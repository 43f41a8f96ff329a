//! FTPS with key logs, on the committed captures of real servers and clients
//! (tests/fixtures/ftps/, see its README): every file decrypted byte for byte (the manifests'
//! sha256 were checked against the originals when they were recorded), the dialogue read, the
//! TLS facts shown; keys in a pcapng Decryption Secrets Block; a key log missing one
//! connection's lines; and no key log at all.
//!
//! tests/ftps_lab.rs does the same on sessions recorded at test time (as root, in CI).

// Test code: a failed unwrap is a failed test, said with its place.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{fixtures_dir, ftpscope, temp_dir};
use serde_json::Value;
use std::path::PathBuf;

fn ftps_dir() -> PathBuf {
    fixtures_dir().join("ftps")
}

fn run(args: &[&str]) -> Vec<Value> {
    let out = ftpscope(args, None);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn of<'a>(records: &'a [Value], ty: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["type"] == ty).collect()
}

fn manifest(name: &str) -> Value {
    let text = std::fs::read_to_string(ftps_dir().join(format!("{name}.expect.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

const FIXTURES: &[&str] = &[
    "vsftpd-curl-tls13-passive",
    "vsftpd-ftplib-tls12-gcm-active",
    "vsftpd-ftplib-tls12-cbc-sha384",
    "vsftpd-ftplib-tls12-aes128-sha-noetm",
    "vsftpd-curl-implicit",
    "proftpd-lftp-tls13-chacha-mirror",
    "pureftpd-curl-tls12-chacha-rest",
    "pyftpdlib-ftplib-tls13-prot-p-then-c",
];

/// Every transfer of the manifest, in order, with its command, path, size and plaintext
/// sha256; the session logged in as the client did and says how its TLS went.
fn check_decrypted(name: &str, records: &[Value]) {
    let expected = manifest(name);
    let want = expected["transfers"].as_array().unwrap();
    let got = of(records, "transfer");
    assert_eq!(got.len(), want.len(), "{name}: {records:#?}");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g["command"], w["command"], "{name}: {g}");
        // The manifest says "" for a command sent without an argument; the record, null.
        let path = w["path"].as_str().filter(|p| !p.is_empty());
        assert_eq!(g["path"].as_str(), path, "{name}: {g}");
        assert_eq!(g["bytes"], w["bytes"], "{name}: {g}");
        assert_eq!(g["sha256"], w["sha256"], "{name}: {g}");
        assert_eq!(g["status"], "complete", "{name}: {g}");
        assert_eq!(g["offset"], w["offset"], "{name}: {g}");
        if let Some(tls) = w.get("tls").filter(|_| w["protected"] == true) {
            assert_eq!(g["tls"]["version"], tls["version"], "{name}: {g}");
            assert_eq!(g["tls"]["cipher_suite"], tls["cipher_suite"], "{name}: {g}");
            assert_eq!(
                g["tls"]["resumed"].is_string(),
                tls["resumed"] == true,
                "{name}: {g}"
            );
            assert_eq!(g["tls"]["decrypted"], true, "{name}: {g}");
        }
    }
    let sessions = of(records, "session");
    assert_eq!(sessions.len(), 1, "{name}");
    let s = sessions[0];
    assert_eq!(s["user"], "fxuser", "{name}: {s}");
    assert_eq!(s["login"], "ok", "{name}: {s}");
    assert_eq!(s["tls"]["decrypted"], true, "{name}: {s}");
    let control = &expected["control"]["tls"];
    assert_eq!(s["tls"]["version"], control["version"], "{name}: {s}");
    assert_eq!(
        s["tls"]["cipher_suite"], control["cipher_suite"],
        "{name}: {s}"
    );
    let anomalies: Vec<&str> = of(records, "anomaly")
        .iter()
        .filter_map(|a| a["kind"].as_str())
        .filter(|k| k.starts_with("tls_") || *k == "data_encrypted")
        .collect();
    assert!(anomalies.is_empty(), "{name}: {anomalies:?}");
}

#[test]
fn every_ftps_fixture_decrypts_with_its_key_log() {
    for name in FIXTURES {
        let dir = ftps_dir();
        let pcap = dir.join(format!("{name}.pcap"));
        let keys = dir.join(format!("{name}.keys"));
        let records = run(&[
            "-r",
            pcap.to_str().unwrap(),
            "--keylog",
            keys.to_str().unwrap(),
            "--json",
        ]);
        check_decrypted(name, &records);
    }
}

/// Extraction of decrypted files is the clear path's: files on disk with the plaintext.
#[test]
fn decrypted_files_are_extracted() {
    let name = "vsftpd-curl-tls13-passive";
    let dir = ftps_dir();
    let tmp = temp_dir("ftps", "extract");
    let out = tmp.path().join("out");
    let args = [
        "-r",
        &dir.join(format!("{name}.pcap")).display().to_string(),
        "--keylog",
        &dir.join(format!("{name}.keys")).display().to_string(),
        "-x",
        &out.display().to_string(),
    ]
    .map(String::from);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let status = ftpscope(&argv, None);
    assert!(status.status.success(), "{status:?}");
    let expected = manifest(name);
    for t in expected["transfers"].as_array().unwrap() {
        if t["command"] == "LIST" {
            continue;
        }
        // Named by the full remote path (curl CWDs first).
        let path = t["path"].as_str().unwrap();
        let file = ["pub", "incoming"]
            .iter()
            .map(|dir| out.join("session-1").join(dir).join(path))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{path} not extracted"));
        let bytes = std::fs::read(file).unwrap();
        assert_eq!(common::sha256_hex(&bytes), t["sha256"].as_str().unwrap());
    }
}

/// `editcap --inject-secrets`: the keys travel in the pcapng, no --keylog needed.
#[test]
fn keys_embedded_in_a_pcapng_decrypt() {
    let pcapng = ftps_dir().join("vsftpd-curl-tls13-passive-dsb.pcapng");
    let records = run(&["-r", pcapng.to_str().unwrap(), "--json"]);
    check_decrypted("vsftpd-curl-tls13-passive", &records);
}

/// A key log without the RETR's data connection: that transfer stays encrypted (never a
/// file, said once), the others decrypt.
#[test]
fn a_connection_missing_from_the_key_log_stays_encrypted() {
    let dir = ftps_dir();
    let pcap = dir.join("vsftpd-curl-tls13-passive.pcap");
    let keys = dir.join("vsftpd-curl-tls13-passive-partial.keys");
    let records = run(&[
        "-r",
        pcap.to_str().unwrap(),
        "--keylog",
        keys.to_str().unwrap(),
        "--json",
    ]);
    let transfers = of(&records, "transfer");
    let status: Vec<(&str, &str)> = transfers
        .iter()
        .map(|t| {
            (
                t["command"].as_str().unwrap(),
                t["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        status,
        [
            ("LIST", "complete"),
            ("RETR", "encrypted"),
            ("STOR", "complete")
        ]
    );
    let retr = transfers[1];
    assert_eq!(retr["sha256"], Value::Null);
    // Its size is its ciphertext's: more than the 50 000-byte file, never the file.
    assert!(retr["bytes"].as_u64().unwrap() > 50_000, "{retr}");
    assert_eq!(retr["tls"]["decrypted"], false);
    let missing = of(&records, "anomaly")
        .iter()
        .filter(|a| a["kind"] == "tls_keys_missing")
        .count();
    assert_eq!(missing, 1);
}

/// Without keys the session still says what its TLS showed, and its dialogue stays unread.
#[test]
fn without_keys_the_handshake_is_still_shown() {
    let pcap = ftps_dir().join("vsftpd-ftplib-tls12-gcm-active.pcap");
    let records = run(&["-r", pcap.to_str().unwrap(), "--json"]);
    let sessions = of(&records, "session");
    let s = sessions[0];
    assert_eq!(s["tls"]["version"], "TLS 1.2", "{s}");
    assert_eq!(
        s["tls"]["cipher_suite"], "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "{s}"
    );
    assert_eq!(s["tls"]["decrypted"], false, "{s}");
    // TLS 1.2 sends the server's certificate in the clear.
    let cert = &s["tls"]["certificate"];
    assert!(
        cert["subject"].as_str().is_some_and(|x| !x.is_empty()),
        "{s}"
    );
    assert_eq!(cert["sha256"].as_str().map(str::len), Some(64), "{s}");
    assert_eq!(s["user"], Value::Null, "{s}");
    for t in of(&records, "transfer") {
        assert_eq!(t["status"], "encrypted", "{t}");
        assert_eq!(t["sha256"], Value::Null, "{t}");
    }
}

/// A key log that cannot be read is an error that names it; one with no secret is said.
#[test]
fn bad_key_logs_are_said() {
    let pcap = ftps_dir().join("vsftpd-curl-implicit.pcap");
    let out = ftpscope(
        &[
            "-r",
            pcap.to_str().unwrap(),
            "--keylog",
            "/nonexistent/keys.log",
            "--json",
        ],
        None,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot open key log /nonexistent/keys.log"),
        "{err}"
    );

    let tmp = temp_dir("ftps", "junk");
    let junk = tmp.path().join("junk.keys");
    std::fs::write(&junk, "not a key log\n").unwrap();
    let out = ftpscope(
        &[
            "-r",
            pcap.to_str().unwrap(),
            "--keylog",
            junk.to_str().unwrap(),
            "--json",
        ],
        None,
    );
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("1 lines not understood (line 1"), "{err}");
    assert!(err.contains("holds no TLS secret"), "{err}");
}

/// The report says what the session's TLS was, and whether the key log opened it.
#[test]
fn the_report_shows_the_tls_facts() {
    let dir = ftps_dir();
    let pcap = dir.join("vsftpd-ftplib-tls12-gcm-active.pcap");
    let keys = dir.join("vsftpd-ftplib-tls12-gcm-active.keys");
    let report = |extra: &[&str]| {
        let mut args = vec!["-r", pcap.to_str().unwrap(), "--report"];
        args.extend_from_slice(extra);
        let out = ftpscope(&args, None);
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap()
    };
    let with_keys = report(&["--keylog", keys.to_str().unwrap()]);
    assert!(
        with_keys.contains(
            "TLS: TLS 1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, decrypted with the key log"
        ),
        "{with_keys}"
    );
    assert!(with_keys.contains("certificate: CN=127.0.0.1 issued by CN=127.0.0.1"));
    assert!(
        with_keys.contains("RETR pub/report.bin → 226"),
        "{with_keys}"
    );
    let without = report(&[]);
    assert!(
        without.contains("not decrypted (no key for it"),
        "{without}"
    );
    assert!(!without.contains("RETR pub/report.bin"), "{without}");
}

/// Live capture: the client writes its keys while the capture runs, so records can come
/// before their keys. The analyzer holds them (keys_may_grow) and decrypts them when the key
/// log grows: here the keys come after the control connection's handshake and login.
#[test]
fn records_held_for_keys_that_come_later_decrypt_whole() {
    use ftpscope::capture::CaptureReader;
    use ftpscope_core::{Analyzer, Event, Limits};
    use std::collections::HashMap;

    let name = "vsftpd-curl-tls13-passive";
    let dir = ftps_dir();
    let file = std::fs::File::open(dir.join(format!("{name}.pcap"))).unwrap();
    let mut reader = CaptureReader::open(file).unwrap();
    let mut analyzer = Analyzer::new(Limits::default());
    analyzer.keys_may_grow(true);
    let mut files: HashMap<u64, Vec<u8>> = HashMap::new();
    let mut ended = Vec::new();
    let mut users = Vec::new();
    let mut drain = |a: &mut Analyzer, files: &mut HashMap<u64, Vec<u8>>| {
        while let Some(e) = a.poll_event() {
            match e {
                Event::TransferData { transfer, data } => {
                    files.entry(transfer).or_default().extend_from_slice(&data)
                }
                Event::TransferEnded(r) => ended.push(*r),
                Event::SessionEnded(s) => users.push(s.user),
                _ => {}
            }
        }
    };
    let keys = std::fs::read(dir.join(format!("{name}.keys"))).unwrap();
    let mut frames = 0;
    let mut added = false;
    while let Some(frame) = reader.next_record().unwrap() {
        analyzer.handle_frame(&frame);
        drain(&mut analyzer, &mut files);
        frames += 1;
        // The control connection's handshake, AUTH, USER and PASS are in the first 30.
        if frames == 30 {
            assert!(files.is_empty(), "nothing decrypts before the keys come");
            assert!(analyzer.add_tls_keys(&keys).added > 0);
            added = true;
        }
    }
    assert!(added);
    analyzer.finish();
    drain(&mut analyzer, &mut files);
    // The login, sent before the keys came, was held and read when they did.
    assert_eq!(users, vec![Some(b"fxuser".to_vec())]);
    let expected = manifest(name);
    for t in expected["transfers"].as_array().unwrap() {
        let want = t["sha256"].as_str().unwrap();
        assert!(
            files.values().any(|f| common::sha256_hex(f) == want),
            "{} {} not decrypted after the keys came",
            t["command"],
            t["path"]
        );
    }
}

/// The benchmark's FTPS captures (`ftpscope-gen --ftps`, every suite it offers) decrypt with
/// their key log: every file of the manifest comes out with its plaintext sha256, on disk and
/// in the records, with no TLS anomaly; without the key log none does.
#[test]
fn generated_ftps_captures_decrypt_every_file() {
    for suite in [
        "tls13-aes128-gcm",
        "tls13-chacha20",
        "tls12-aes128-gcm",
        "tls12-chacha20",
    ] {
        let tmp = temp_dir("ftps", &format!("gen-{suite}"));
        let dir = tmp.path();
        let pcap = dir.join("gen.pcap");
        let generated = std::process::Command::new(env!("CARGO_BIN_EXE_ftpscope-gen"))
            .args([
                "-q",
                "--size",
                "3M",
                "--max-file",
                "512K",
                "--ftps",
                suite,
                "-o",
            ])
            .arg(&pcap)
            .status()
            .unwrap();
        assert!(generated.success(), "{suite}");
        let manifest = std::fs::read_to_string(dir.join("gen.pcap.manifest.jsonl")).unwrap();
        let mut want: Vec<String> = manifest
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|v| v["type"] == "file")
            .map(|v| v["sha256"].as_str().unwrap().to_owned())
            .collect();
        want.sort();
        assert!(want.len() > 5, "{suite}: {} files", want.len());
        let keys = dir.join("gen.pcap.keys");
        let out = dir.join("out");
        let records = run(&[
            "-r",
            pcap.to_str().unwrap(),
            "--keylog",
            keys.to_str().unwrap(),
            "-x",
            out.to_str().unwrap(),
            "--json",
        ]);
        let mut got: Vec<String> = of(&records, "transfer")
            .iter()
            .filter(|t| t["status"] == "complete")
            .map(|t| t["sha256"].as_str().unwrap().to_owned())
            .collect();
        got.sort();
        assert_eq!(got, want, "{suite}");
        let index = std::fs::read_to_string(out.join("index.jsonl")).unwrap();
        let mut on_disk: Vec<String> = index
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter_map(|v| v["file"].as_str().map(|f| std::fs::read(f).unwrap()))
            .map(|bytes| common::sha256_hex(&bytes))
            .collect();
        on_disk.sort();
        assert_eq!(on_disk, want, "{suite}");
        let tls_anomalies: Vec<&Value> = of(&records, "anomaly")
            .into_iter()
            .filter(|a| a["kind"].as_str().is_some_and(|k| k.starts_with("tls_")))
            .collect();
        assert!(tls_anomalies.is_empty(), "{suite}: {tls_anomalies:?}");
        for s in of(&records, "session") {
            assert_eq!(s["tls"]["decrypted"], true, "{suite}: {s}");
            assert_eq!(s["tls"]["sni"], "ftp.example.net", "{suite}: {s}");
        }
        // Without keys: the dialogue and the files stay encrypted.
        let records = run(&["-r", pcap.to_str().unwrap(), "--json"]);
        assert!(
            of(&records, "transfer")
                .iter()
                .all(|t| t["status"] != "complete"),
            "{suite}"
        );
    }
}
