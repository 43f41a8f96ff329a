//! The FTPS lab (tests/common/ftps_lab.rs): every scenario recorded for real, and checked
//! for what can be checked without decrypting: the client succeeded, the capture is not
//! empty and tcpdump dropped nothing, every TLS connection in the capture (found by its
//! ClientHello) has its traffic secrets in the client's key log, and every file the receiving
//! side stored is the original, byte for byte (sha256).
//!
//! Needs root (CI runs it as root); elsewhere it is skipped with a note, but under CI a
//! missing prerequisite fails.
//!
//! `record_fixtures` (ignored) re-records the committed fixtures of tests/fixtures/ftps/:
//! `sudo cargo test --test ftps_lab -- --ignored record_fixtures` (see the README there).

// Test code: a failed unwrap is a failed test, said with its place.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/ftps_lab.rs"]
mod ftps_lab;

use ftps_lab::*;
use std::io::Write;
use std::path::{Path, PathBuf};

/// True when the scenario can run; false (with a note) when it must be skipped. In CI a
/// missing prerequisite is a failure, never a skip.
fn can_run(scenario: Scenario) -> bool {
    match missing_prerequisite(scenario) {
        None => true,
        Some(why) if std::env::var_os("CI").is_some() => {
            panic!("{scenario:?}: {why}; CI must run the FTPS lab as root (see .ci/run)")
        }
        Some(why) => {
            let _ = writeln!(std::io::stderr(), "note: {scenario:?} skipped: {why}");
            false
        }
    }
}

fn check(scenario: Scenario) {
    if !can_run(scenario) {
        return;
    }
    let rec = record(scenario);
    let name = scenario.spec().name;
    assert!(rec.client_status.success(), "{name}: {}", rec.client_output);
    assert!(
        rec.tcpdump_report.contains("\n0 packets dropped by kernel"),
        "{name}: {}",
        rec.tcpdump_report
    );
    let pcap = std::fs::read(&rec.pcap).unwrap();
    assert!(pcap.len() > 24, "{name}: empty capture");
    let keylog = std::fs::read_to_string(&rec.keylog).unwrap();
    let randoms = keylog_randoms(&keylog);
    let conns = tls_connections(&pcap);
    let protected = rec.transfers.iter().filter(|t| t.protected).count();
    // The control connection and one per protected data connection.
    assert_eq!(conns.len(), 1 + protected, "{name}: {conns:#?}");
    for c in &conns {
        assert!(
            randoms.contains(&c.client_random),
            "{name}: no traffic secret for {c:?} in the key log:\n{keylog}"
        );
    }
    // Every file crossed intact.
    let files = rec
        .transfers
        .iter()
        .filter(|t| t.original.is_some())
        .count();
    assert_eq!(rec.originals.len(), files, "{name}: {:?}", rec.transfers);
    assert_eq!(rec.received, rec.originals, "{name}: a copy differs");
    assert!(!rec.originals.is_empty(), "{name}: no file crossed");
    decrypts_every_file(&rec);
}

/// ftpscope, given the client's key log, extracts every file of the recording byte for byte:
/// the plaintext of each transfer (from the REST offset on) is the original's.
fn decrypts_every_file(rec: &FtpsRecording) {
    let name = rec.scenario.spec().name;
    let out = ftpscope_bin(&[
        "-r",
        rec.pcap.to_str().unwrap(),
        "--keylog",
        rec.keylog.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let records: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let decrypted: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["type"] == "transfer" && r["status"] == "complete")
        .collect();
    for t in rec.transfers.iter().filter(|t| t.original.is_some()) {
        let original = std::fs::read(t.original.as_ref().unwrap()).unwrap();
        let part = original.get(t.offset as usize..).unwrap();
        let want = sha256_hex(part);
        assert!(
            decrypted.iter().any(|r| r["sha256"] == want.as_str()),
            "{name}: {} {} not decrypted whole (sha256 {want}):\n{stdout}",
            t.command,
            t.remote
        );
    }
    let session = records.iter().find(|r| r["type"] == "session").unwrap();
    assert_eq!(session["tls"]["decrypted"], true, "{name}: {session}");
    assert_eq!(session["user"], "fxuser", "{name}: {session}");
}

fn ftpscope_bin(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_ftpscope"))
        .args(args)
        .output()
        .unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn vsftpd_curl_tls13_passive() {
    check(Scenario::VsftpdCurlTls13Passive);
}

#[test]
fn vsftpd_ftplib_tls12_gcm_active() {
    check(Scenario::VsftpdFtplibTls12GcmActive);
}

#[test]
fn vsftpd_ftplib_tls12_cbc_sha384() {
    check(Scenario::VsftpdFtplibTls12CbcSha384);
}

#[test]
fn vsftpd_ftplib_tls12_aes128_sha_no_etm() {
    check(Scenario::VsftpdFtplibTls12Aes128ShaNoEtm);
}

#[test]
fn vsftpd_curl_implicit() {
    check(Scenario::VsftpdCurlImplicit);
}

#[test]
fn proftpd_lftp_tls13_chacha_mirror() {
    check(Scenario::ProftpdLftpTls13ChachaMirror);
}

#[test]
fn pureftpd_curl_tls12_chacha_rest() {
    check(Scenario::PureftpdCurlTls12ChachaRest);
}

#[test]
fn pyftpdlib_ftplib_prot_p_then_c() {
    check(Scenario::PyftpdlibFtplibProtPThenC);
}

#[test]
fn proftpd_curl_tls12_ccc() {
    check(Scenario::ProftpdCurlTls12Ccc);
}

#[test]
fn vsftpd_curl_implicit_other_port() {
    check(Scenario::VsftpdCurlImplicitOtherPort);
}

/// Re-records tests/fixtures/ftps/ (or `$FTPS_LAB_SAVE`): each scenario's pcap and key log,
/// then `mkexpect_ftps.py` writes its manifest (decrypting with tshark) and the derived
/// fixtures (pcapng with embedded secrets, partial key log). `$FTPS_LAB_ONLY` = a
/// comma-separated list of scenario names limits it.
#[test]
#[ignore = "rewrites the committed FTPS fixtures; run by hand as root"]
fn record_fixtures() {
    let out: PathBuf = std::env::var_os("FTPS_LAB_SAVE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ftps"));
    let only: Vec<String> = std::env::var("FTPS_LAB_ONLY")
        .map(|s| s.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    std::fs::create_dir_all(&out).unwrap();
    for scenario in Scenario::ALL {
        let spec = scenario.spec();
        if !only.is_empty() && !only.iter().any(|o| o == spec.name) {
            continue;
        }
        assert!(can_run(scenario), "{scenario:?} cannot run here");
        let rec = record(scenario);
        assert!(rec.client_status.success(), "{}", rec.client_output);
        let pcap = out.join(format!("{}.pcap", spec.name));
        let keys = out.join(format!("{}.keys", spec.name));
        std::fs::copy(&rec.pcap, &pcap).unwrap();
        std::fs::copy(&rec.keylog, &keys).unwrap();
        let transfers: Vec<serde_json::Value> = rec
            .transfers
            .iter()
            .map(|t| {
                serde_json::json!({
                    "command": t.command, "remote": t.remote, "upload": t.upload,
                    "offset": t.offset, "protected": t.protected,
                    "original": t.original, "stored": t.stored,
                })
            })
            .collect();
        let spec_json = serde_json::json!({
            "pcap": pcap, "keys": keys, "fixture": pcap.file_name().unwrap().to_str(),
            "scenario": spec.name, "server": rec.server_version, "client": rec.client_version,
            "control_port": spec.port, "implicit": spec.implicit,
            "tcpdump": rec.tcpdump_report, "transfers": transfers,
        });
        let spec_path = rec.dir.path().join("spec.json");
        std::fs::write(&spec_path, spec_json.to_string()).unwrap();
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ftps/mkexpect_ftps.py");
        let status = std::process::Command::new(PYTHON)
            .arg(&script)
            .arg(&spec_path)
            .status()
            .unwrap();
        assert!(
            status.success(),
            "mkexpect_ftps.py failed for {}",
            spec.name
        );
    }
}
