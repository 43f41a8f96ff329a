//! Every capture in ../shared/corpus: each file whose sha256 another tool states comes out of
//! ftpscope with that sha256, sessions are found where tshark finds them (and on ports tshark
//! needs to be told about), and the cases where ftpscope finds more than tshark are shown.

// Test code: a failed unwrap is a failed test, said with its place.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{corpus_dir, of_type, run_file};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

struct Case {
    name: String,
    pcap: PathBuf,
    expected: Value,
}

fn cases(root: &Path) -> Vec<Case> {
    let mut out = Vec::new();
    for source in std::fs::read_dir(root).unwrap().flatten() {
        if !source.path().is_dir() {
            continue;
        }
        for case in std::fs::read_dir(source.path()).unwrap().flatten() {
            let exp = case.path().join("expected.json");
            let Ok(text) = std::fs::read_to_string(&exp) else {
                continue;
            };
            let expected: Value = serde_json::from_str(&text).unwrap();
            let pcap = case.path().join(expected["pcap"].as_str().unwrap());
            out.push(Case {
                name: expected["case"].as_str().unwrap().to_owned(),
                pcap,
                expected,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// (name, sha256, who says so) for every file another tool states a hash for.
fn stated_files(expected: &Value) -> Vec<(String, String, &'static str)> {
    let mut files = Vec::new();
    for f in expected["tshark"]["exported_files"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let name = f["name"].as_str().unwrap_or("?").to_owned();
        if let Some(instead) = f.get("expected_instead") {
            if let Some(sha) = instead["sha256"].as_str() {
                let who = match instead["status"].as_str() {
                    Some("truncated") => "tshark, corrected; truncated",
                    _ => "tshark, corrected",
                };
                files.push((name, sha.to_owned(), who));
            }
        } else if f.get("known_wrong").is_none() {
            files.push((name, f["sha256"].as_str().unwrap().to_owned(), "tshark"));
        }
    }
    let peer = &expected["peer"];
    for key in ["files", "extracted_files"] {
        for f in peer[key].as_array().into_iter().flatten() {
            if let Some(sha) = f["sha256"].as_str() {
                let name = f["name"]
                    .as_str()
                    .or(f["to"].as_str())
                    .unwrap_or("?")
                    .to_owned();
                files.push((name, sha.to_owned(), "peer"));
            }
        }
    }
    files
}

#[test]
fn every_stated_file_comes_out_with_its_sha256() {
    let Some(root) = corpus_dir() else { return };
    let all = cases(&root);
    assert!(all.len() >= 60, "corpus has {} cases", all.len());
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in &all {
        let (values, summary) = run_file(&case.pcap, None);
        assert!(
            summary.damage.is_empty(),
            "{}: damaged? {:?}",
            case.name,
            summary.damage
        );
        let transfers = of_type(&values, "transfer");
        for (name, sha, who) in stated_files(&case.expected) {
            checked += 1;
            match transfers.iter().find(|t| t["sha256"] == sha.as_str()) {
                None => failures.push(format!(
                    "{}: {name} ({who}) sha256 {sha} not found",
                    case.name
                )),
                Some(t) if who.ends_with("truncated") && t["status"] != "truncated" => {
                    failures.push(format!("{}: {name} should be truncated: {t}", case.name))
                }
                Some(_) => {}
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 30, "only {checked} stated files");
}

#[test]
fn sessions_are_found_wherever_tshark_finds_them_even_on_other_ports() {
    let Some(root) = corpus_dir() else { return };
    for case in cases(&root) {
        let (values, _) = run_file(&case.pcap, None);
        let ours: BTreeSet<(String, String)> = of_type(&values, "session")
            .iter()
            .map(|s| {
                (
                    s["client"].as_str().unwrap().to_owned(),
                    s["server"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        for s in case.expected["tshark"]["ftp_control_session_list"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let want = (
                s["client"].as_str().unwrap().to_owned(),
                s["server"].as_str().unwrap().to_owned(),
            );
            // tshark names IPv6 endpoints without brackets; normalise ours the same way.
            let found = ours.iter().any(|(c, v)| {
                let strip = |a: &str| a.replace(['[', ']'], "");
                strip(c) == strip(&want.0) && strip(v) == strip(&want.1)
            });
            assert!(
                found,
                "{}: tshark's session {:?} not found among {:?}",
                case.name, want, ours
            );
        }
    }
}

fn transfer<'a>(values: &'a [Value], command: &str, path_suffix: &str) -> &'a Value {
    of_type(values, "transfer")
        .into_iter()
        .find(|t| {
            t["command"] == command && t["path"].as_str().is_some_and(|p| p.ends_with(path_suffix))
        })
        .unwrap_or_else(|| panic!("no {command} {path_suffix} in {values:#?}"))
}

#[test]
fn data_connection_opened_before_retr_is_linked_where_tshark_exports_nothing() {
    let Some(root) = corpus_dir() else { return };
    let (values, _) = run_file(&root.join("zeek/retr/retr.pcap"), None);
    let t = transfer(&values, "RETR", "README");
    assert_eq!(t["bytes"], 16557);
    assert_eq!(t["status"], "complete");
    assert_eq!(t["announced_by"], "EPSV");
    assert_eq!(t["link"], "exact");
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("zeek/retr/expected.json")).unwrap(),
    )
    .unwrap();
    assert!(
        expected["tshark"]["exported_files"]
            .as_array()
            .is_none_or(|a| a.is_empty())
    );
}

#[test]
fn ftp_on_non_standard_ports_is_found_by_its_dialogue() {
    let Some(root) = corpus_dir() else { return };
    for (case, port) in [
        ("ppa/wrongdissector-port137", 137),
        ("ppa/wrongdissector-port443", 443),
    ] {
        let dir = root.join(case);
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap())
                .unwrap();
        let (values, _) = run_file(&dir.join(expected["pcap"].as_str().unwrap()), None);
        let sessions = of_type(&values, "session");
        assert_eq!(sessions.len(), 1, "{case}");
        assert!(
            sessions[0]["server"]
                .as_str()
                .unwrap()
                .ends_with(&format!(":{port}"))
        );
        assert_eq!(sessions[0]["detected_by"], "dialogue");
        assert!(
            !of_type(&values, "transfer").is_empty(),
            "{case}: its transfers are followed too"
        );
    }
}

#[test]
fn nat_rewritten_227_is_reported_and_eprt_over_ipv6_links() {
    let Some(root) = corpus_dir() else { return };
    // A server behind NAT announces its public address on a private network.
    let (values, _) = run_file(
        &root.join("zeek/cwd-navigation").join("cwd-navigation.pcap"),
        None,
    );
    let mismatch = of_type(&values, "anomaly")
        .into_iter()
        .find(|a| a["kind"] == "address_mismatch");
    assert!(mismatch.is_some(), "NAT-rewritten 227 must be reported");
    // IPv6 EPRT (active) and EPSV transfers all link exactly.
    let (values, _) = run_file(
        &root.join("suricata-verify/firewall-117-ftp-all-data-ipv6/input.pcap"),
        None,
    );
    let transfers = of_type(&values, "transfer");
    assert!(
        transfers
            .iter()
            .any(|t| t["announced_by"] == "EPRT" && t["link"] == "exact")
    );
    assert!(
        transfers
            .iter()
            .any(|t| t["announced_by"] == "EPSV" && t["link"] == "exact")
    );
}

#[test]
fn incomplete_captures_get_honest_verdicts() {
    let Some(root) = corpus_dir() else { return };
    // The capture ends after 5808 of 4980924 announced bytes.
    let (values, _) = run_file(&root.join("ppa/ftp/ftp.pcap"), None);
    let t = transfer(&values, "RETR", "Music.mp3");
    assert_eq!(t["status"], "truncated");
    assert_eq!(t["expected_bytes"], 4980924);
    assert_eq!(
        t["missing_bytes"].as_u64().unwrap(),
        4980924 - t["bytes"].as_u64().unwrap()
    );
    // Gigabytes of gaps and sequence wraparound: truncated, every missing byte counted.
    let (values, _) = run_file(&root.join("zeek/bigtransfer/bigtransfer.pcap"), None);
    let t = transfer(&values, "RETR", "rand.txt");
    assert_eq!(t["status"], "truncated");
    assert_eq!(t["expected_bytes"], 5416666670u64);
    assert_eq!(
        t["missing_bytes"].as_u64().unwrap() + t["bytes"].as_u64().unwrap(),
        5416666670
    );
    // Only the data connection was captured: an orphan, still extracted, direction known from port 20.
    let (values, _) = run_file(
        &root.join("ppa/ftp-uploadfailed/ftp-uploadfailed.pcap"),
        None,
    );
    let orphans = of_type(&values, "transfer");
    assert_eq!(orphans.len(), 1);
    assert!(orphans[0]["session"].is_null());
    assert_eq!(orphans[0]["direction"], "upload");
    assert!(orphans[0]["bytes"].as_u64().unwrap() > 1_000_000);
}

#[test]
fn a_command_split_over_many_segments_stays_one_command() {
    let Some(root) = corpus_dir() else { return };
    let dir = root.join("suricata-verify/ftp-too-long-command-buffered");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    // tshark takes every segment of the 40 KB RETR line for a command of its own.
    let tshark_commands = expected["tshark"]["commands"].as_array().unwrap().len();
    assert!(
        tshark_commands > 20,
        "tshark saw {tshark_commands} commands"
    );
    let (values, _) = run_file(&dir.join("ftp-too-long-command.pcap"), None);
    let verbs: Vec<&str> = of_type(&values, "command")
        .iter()
        .filter_map(|c| c["command"].as_str())
        .collect();
    assert_eq!(
        verbs,
        ["USER", "PASS", "SYST", "TYPE", "PASV", "RETR", "RETR"]
    );
    let long = of_type(&values, "anomaly")
        .into_iter()
        .find(|a| a["kind"] == "line_too_long");
    assert!(long.is_some(), "the over-long line is reported");
}

/// `field/`: captures from real networks, with the facts an independent checker found
/// (`facts.json`). The SMTP one is a negative control: 31 sessions of SMTP whose 220 banner
/// does not say SMTP; none is FTP, and none of its lines (AUTH LOGIN's base64 credentials
/// among them) may be shown as an FTP command.
#[test]
fn field_smtp_with_a_banner_without_smtp_is_no_ftp() {
    let Some(root) = corpus_dir() else { return };
    let dir = root.join("field/smtp-banner-without-smtp");
    let facts: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("facts.json")).unwrap()).unwrap();
    let expected_sessions = facts["independent"]["ftp_control_sessions"]
        .as_array()
        .unwrap()
        .len();
    let expected_transfers = facts["independent"]["transfers"].as_array().unwrap().len();
    assert_eq!((expected_sessions, expected_transfers), (0, 0));
    let (values, _) = run_file(&dir.join(facts["pcap"].as_str().unwrap()), None);
    assert_eq!(of_type(&values, "session").len(), expected_sessions);
    assert_eq!(of_type(&values, "transfer").len(), expected_transfers);
    assert!(of_type(&values, "command").is_empty());
    let summary = of_type(&values, "summary");
    assert_eq!(
        summary[0]["tcp_connections"],
        facts["independent"]["tcp_connections"]
    );
}

/// Zeek's own baseline for its bruteforce trace raises one FTP::Bruteforcing notice
/// ("192.168.56.1 had 20 failed logins on 1 FTP server in 0m37s"): the report rolls the same
/// client's failures into one notice, and so does the UI's overview (same rule, see
/// `src/output/bruteforce.rs`).
#[test]
fn many_failed_logins_from_one_client_make_one_notice_as_zeek_says() {
    let Some(root) = corpus_dir() else { return };
    let case = root.join("zeek/bruteforce");
    let notice = std::fs::read_to_string(
        case.join("peer/scripts.policy.protocols.ftp.bruteforce/notice.log"),
    )
    .unwrap();
    assert!(
        notice.contains("FTP::Bruteforcing\t192.168.56.1 had 20 failed logins on 1 FTP server")
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ftpscope"))
        .arg("-r")
        .arg(case.join("bruteforce.pcap"))
        .arg("--report")
        .output()
        .unwrap();
    let report = String::from_utf8(out.stdout).unwrap();
    let notices: Vec<&str> = report
        .lines()
        .filter(|l| l.contains("FTP bruteforcing:"))
        .collect();
    assert_eq!(notices.len(), 1, "{report}");
    assert!(
        notices[0].contains("192.168.56.1 had ") && notices[0].contains(" on 1 FTP server "),
        "{}",
        notices[0]
    );
}
