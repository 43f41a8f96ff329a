//! Field captures (`../shared/corpus/field/*/`, see its README): captures from real networks,
//! labs and CTFs, each with the facts an independent checker found (`facts.json`). Every case
//! is checked against those facts (the FTP control sessions; per transfer its data connection,
//! bytes and sha256) and against what the field README asks of its verdicts.
//!
//! The corpus lives beside the checkout; without it these tests fail: a field check that
//! silently passes on a machine without the captures would prove nothing.

// Test code: a failed unwrap is a failed test, said with its place.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{of_type, run_file};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn field_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/field");
    assert!(
        dir.is_dir(),
        "{} is missing: the field captures are needed (see issue 12)",
        dir.display()
    );
    dir
}

/// The case's facts and ftpscope's JSON Lines for its capture.
fn run_case(name: &str) -> (Value, Vec<Value>) {
    let dir = field_dir().join(name);
    let facts: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("facts.json")).unwrap()).unwrap();
    assert_eq!(facts["schema"], "field-capture/1", "{name}");
    let (values, summary) = run_file(&dir.join(facts["pcap"].as_str().unwrap()), None);
    assert!(summary.damage.is_empty(), "{name}: {:?}", summary.damage);
    let counted = &of_type(&values, "summary")[0]["tcp_connections"];
    assert_eq!(*counted, facts["independent"]["tcp_connections"], "{name}");
    (facts, values)
}

/// The independent checker's control sessions are exactly ours: same endpoints, user, login
/// and number of commands.
fn sessions_match(name: &str, facts: &Value, values: &[Value]) {
    let ours = of_type(values, "session");
    let theirs = facts["independent"]["ftp_control_sessions"]
        .as_array()
        .unwrap();
    assert_eq!(ours.len(), theirs.len(), "{name}: sessions {ours:#?}");
    for want in theirs {
        let found = ours
            .iter()
            .find(|s| s["client"] == want["client"] && s["server"] == want["server"])
            .unwrap_or_else(|| panic!("{name}: no session {want} among {ours:#?}"));
        assert_eq!(found["user"], want["user"], "{name}: {found}");
        assert_eq!(found["login"], want["login"], "{name}: {found}");
        assert_eq!(found["commands"], want["commands"], "{name}: {found}");
    }
}

/// Each transfer the checker found is ours, on the same data connection, with the same
/// command, bytes and sha256. Returns ours, in the facts' order.
fn transfers_match<'a>(name: &str, facts: &Value, values: &'a [Value]) -> Vec<&'a Value> {
    let ours = of_type(values, "transfer");
    let mut matched = Vec::new();
    for want in facts["independent"]["transfers"].as_array().unwrap() {
        let conn = want["data_connection"].as_str().unwrap();
        let (initiator, responder) = conn.split_once("->").unwrap();
        let t = ours
            .iter()
            .find(|t| t["data_client"] == initiator && t["data_server"] == responder)
            .unwrap_or_else(|| panic!("{name}: no transfer on {conn} among {ours:#?}"));
        assert_eq!(t["command"], want["command"], "{name}: {t}");
        assert_eq!(t["path"], want["arg"], "{name}: {t}");
        assert_eq!(t["bytes"], want["bytes"], "{name}: {t}");
        assert_eq!(t["gap_bytes"], want["gap_bytes"], "{name}: {t}");
        assert_eq!(t["sha256"], want["sha256"], "{name}: {t}");
        matched.push(*t);
    }
    matched
}

#[test]
fn smtp_with_a_banner_without_smtp_is_not_ftp() {
    let name = "smtp-banner-without-smtp";
    let (facts, values) = run_case(name);
    sessions_match(name, &facts, &values);
    assert!(of_type(&values, "session").is_empty());
    assert!(of_type(&values, "transfer").is_empty());
    assert!(of_type(&values, "command").is_empty());
}

#[test]
fn a_payload_only_capture_keeps_every_byte_but_proves_no_completeness() {
    let name = "iis-payload-only";
    let (facts, values) = run_case(name);
    sessions_match(name, &facts, &values);
    let ours = transfers_match(name, &facts, &values);
    assert_eq!(ours.len(), of_type(&values, "transfer").len(), "{name}");
    for t in ours {
        // No FIN, no handshake, no size announced (125, no SIZE): the bytes are all there, as
        // far as anyone can tell, but nothing proves it.
        assert!(t["expected_bytes"].is_null(), "{name}: {t}");
        assert_eq!(t["status"], "truncated", "{name}: {t}");
        assert_eq!(t["missing_bytes"], 0, "{name}: {t}");
        let reason = t["reason"].as_str().unwrap();
        assert!(
            reason.contains("completeness not proven"),
            "{name}: {reason}"
        );
        assert!(reason.contains("no FIN"), "{name}: {reason}");
        assert!(reason.contains("no size announced"), "{name}: {reason}");
    }
}

#[test]
fn ftps_with_prot_p_has_encrypted_data_and_no_files() {
    let name = "ftps-prot-p";
    let (facts, values) = run_case(name);
    sessions_match(name, &facts, &values);
    assert!(transfers_match(name, &facts, &values).is_empty());
    let session = of_type(&values, "session")[0];
    // Under TLS, no keys: the handshake still shows (vsFTPd negotiated TLS 1.3).
    assert_eq!(session["tls"]["version"], "TLS 1.3", "{name}: {session}");
    assert_eq!(session["tls"]["decrypted"], false, "{name}: {session}");
    // Its three data connections: encrypted data, never a file of ciphertext.
    let data = of_type(&values, "transfer");
    assert_eq!(data.len(), 3, "{name}: {data:#?}");
    for t in &data {
        assert_eq!(t["status"], "encrypted", "{name}: {t}");
        assert!(
            t["sha256"].is_null(),
            "{name}: no digest of ciphertext: {t}"
        );
        assert!(t["bytes"].as_u64().unwrap() > 0, "{name}: {t}");
        // Linked to the session by what TLS lets be seen: its hosts, its time, a handshake.
        assert_eq!(t["session"], 1, "{name}: {t}");
        assert_eq!(t["link"], "tls_peers", "{name}: {t}");
        assert_eq!(t["direction"], "unknown", "{name}: {t}");
    }
    let anomalies = of_type(&values, "anomaly");
    let encrypted = anomalies
        .iter()
        .filter(|a| a["kind"] == "data_encrypted")
        .count();
    assert_eq!(encrypted, 3, "{name}: one per connection: {anomalies:#?}");
    assert!(
        !anomalies
            .iter()
            .any(|a| a["kind"] == "data_both_directions"),
        "{name}: a TLS conversation speaks both ways: {anomalies:#?}"
    );
    // Extracted, ciphertext leaves no file (this pipeline writes no index: nothing at all).
    let tmp = common::temp_dir("field", "ftps-prot-p");
    let out = tmp.path();
    let pcap = field_dir().join(name).join(facts["pcap"].as_str().unwrap());
    let (values, _) = run_file(&pcap, Some(out.to_path_buf()));
    for t in of_type(&values, "transfer") {
        assert!(t["file"].is_null(), "{name}: {t}");
    }
    let written: Vec<std::ffi::OsString> = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(written.is_empty(), "{name}: {written:?}");
}
