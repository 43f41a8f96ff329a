//! The real binary: its exit statuses, error messages, standard input, extraction on disk and
//! what reaches a terminal.

// Test code: a failed unwrap is a failed test, said with its place.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::scenario::{Wire, pattern};
use common::{ftpscope, sha256_hex};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn temp(name: &str) -> tempfile::TempDir {
    common::temp_dir("cli", name)
}

/// A session with a hostile user name, a hostile path and a REST resume in a second session.
fn hostile_and_resumed_capture() -> Vec<u8> {
    let mut w = Wire::default();
    let whole = pattern(6000, 42);
    let mut c = w.connect("10.0.0.1:40000", "10.0.0.2:21", 1, 2);
    w.server(&mut c, b"220 \x1b]0;owned\x07ready\r\n");
    w.client(&mut c, b"USER \x1b[2Jmallory\r\n");
    w.server(&mut c, b"331 pw\r\n");
    w.client(&mut c, b"PASS s3cret\r\n");
    w.server(&mut c, b"230 ok\r\n");
    w.client(&mut c, b"PASV\r\n");
    w.server(&mut c, b"227 Entering Passive Mode (10,0,0,2,19,137).\r\n");
    let mut d = w.connect("10.0.0.1:40001", "10.0.0.2:5001", 1, 2);
    w.client(&mut c, b"RETR ../../etc/passwd\r\n");
    w.server(&mut d, b"root:x:0:0\n");
    w.close(&mut d, false);
    w.server(&mut c, b"226 ok\r\n");
    // First part of a file, then the client gives up.
    w.client(&mut c, b"PASV\r\n");
    w.server(&mut c, b"227 Entering Passive Mode (10,0,0,2,19,138).\r\n");
    let mut d = w.connect("10.0.0.1:40002", "10.0.0.2:5002", 1, 2);
    w.client(&mut c, b"RETR /pub/big.bin\r\n");
    w.server(
        &mut c,
        b"150 Opening BINARY mode data connection for /pub/big.bin (6000 bytes).\r\n",
    );
    w.server(&mut d, &whole[..2500]);
    w.client(&mut c, b"ABOR\r\n");
    w.close(&mut d, true);
    w.server(&mut c, b"426 aborted\r\n226 ABOR ok\r\n");
    w.close(&mut c, true);
    // A second session resumes it.
    let mut c = w.connect("10.0.0.1:40010", "10.0.0.2:21", 1, 2);
    w.server(&mut c, b"220 hi\r\n");
    w.client(&mut c, b"USER anonymous\r\n");
    w.server(&mut c, b"230 ok\r\n");
    w.client(&mut c, b"REST 2500\r\n");
    w.server(&mut c, b"350 Restarting at 2500\r\n");
    w.client(&mut c, b"PASV\r\n");
    w.server(&mut c, b"227 Entering Passive Mode (10,0,0,2,19,139).\r\n");
    let mut d = w.connect("10.0.0.1:40011", "10.0.0.2:5003", 1, 2);
    w.client(&mut c, b"RETR /pub/big.bin\r\n");
    w.server(
        &mut c,
        b"150 Opening BINARY mode data connection for /pub/big.bin (6000 bytes).\r\n",
    );
    w.server(&mut d, &whole[2500..]);
    w.close(&mut d, false);
    w.server(&mut c, b"226 ok\r\n");
    w.close(&mut c, true);
    w.pcap()
}

#[test]
fn extraction_stays_inside_the_folder_and_joins_resumed_parts() {
    let tmp = temp("extract");
    let dir = tmp.path();
    let pcap = dir.join("in.pcap");
    std::fs::write(&pcap, hostile_and_resumed_capture()).unwrap();
    let out_dir = dir.join("out");
    let out = ftpscope(
        &[
            "-r",
            pcap.to_str().unwrap(),
            "--json",
            "-x",
            out_dir.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let transfers: Vec<_> = records.iter().filter(|r| r["type"] == "transfer").collect();
    assert_eq!(transfers.len(), 3);
    let canonical = out_dir.canonicalize().unwrap();
    for t in &transfers {
        let file = Path::new(t["file"].as_str().unwrap())
            .canonicalize()
            .unwrap();
        assert!(file.starts_with(&canonical), "{} escaped", file.display());
        assert_eq!(
            sha256_hex(&std::fs::read(&file).unwrap()),
            t["sha256"].as_str().unwrap()
        );
    }
    assert!(
        transfers[0]["file"]
            .as_str()
            .unwrap()
            .ends_with("session-1/etc/passwd")
    );
    assert!(
        transfers[1]["file"]
            .as_str()
            .unwrap()
            .ends_with("session-1/pub/big.bin.aborted")
    );
    let resumed = transfers[2];
    assert_eq!(resumed["offset"], 2500);
    assert_eq!(resumed["status"], "complete");
    // The part holds bytes 2500.. of the remote file and says so; the combined file beside it
    // is the whole file and takes the plain name with `.combined`.
    let part = resumed["file"].as_str().unwrap();
    assert!(part.ends_with("session-2/pub/big.bin.from-2500"), "{part}");
    assert_eq!(std::fs::read(part).unwrap(), &pattern(6000, 42)[2500..]);
    assert!(
        resumed["combined_file"]
            .as_str()
            .unwrap()
            .ends_with("session-2/pub/big.bin.combined")
    );
    assert_eq!(resumed["resumes_transfer"], transfers[1]["transfer"]);
    let combined = std::fs::read(resumed["combined_file"].as_str().unwrap()).unwrap();
    assert_eq!(
        combined,
        pattern(6000, 42),
        "the combined file is the whole original"
    );
    assert_eq!(resumed["combined_sha256"], sha256_hex(&combined).as_str());
    // The index lists the same transfer records.
    let index = std::fs::read_to_string(out_dir.join("index.jsonl")).unwrap();
    assert_eq!(index.lines().count(), 3);
    assert!(
        !common::partial_folder_left(&out_dir),
        "temporary folder removed"
    );
    // Running again never overwrites: new names are chosen.
    let again = ftpscope(
        &[
            "-r",
            pcap.to_str().unwrap(),
            "-x",
            out_dir.to_str().unwrap(),
        ],
        None,
    );
    assert!(again.status.success());
    assert!(
        out_dir.join("session-1/etc/passwd (2)").exists(),
        "a second run picks a new name"
    );
    assert_eq!(
        std::fs::read(out_dir.join("session-1/etc/passwd")).unwrap(),
        b"root:x:0:0\n"
    );
}

#[test]
fn the_report_escapes_what_would_act_on_a_terminal_and_masks_passwords() {
    let out = ftpscope(&["-r", "-"], Some(&hostile_and_resumed_capture()));
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !text.contains('\x1b') && !text.contains('\x07'),
        "raw escape reached the terminal"
    );
    assert!(text.contains("\\x1b[2Jmallory"));
    assert!(text.contains("\\x1b]0;owned\\x07ready"));
    assert!(!text.contains("s3cret"));
    assert!(text.contains("PASS ********"));
    let shown = ftpscope(
        &["-r", "-", "--show-passwords"],
        Some(&hostile_and_resumed_capture()),
    );
    assert!(
        String::from_utf8(shown.stdout)
            .unwrap()
            .contains("PASS s3cret")
    );
}

#[test]
fn errors_are_clear_and_exit_statuses_say_what_happened() {
    let missing = ftpscope(&["-r", "/nonexistent/x.pcap"], None);
    assert_eq!(missing.status.code(), Some(1));
    let err = String::from_utf8(missing.stderr).unwrap();
    assert!(
        err.starts_with("ftpscope: cannot open /nonexistent/x.pcap"),
        "{err}"
    );

    let not_capture = ftpscope(&["-r", "-"], Some(b"PK\x03\x04 this is a zip file"));
    assert_eq!(not_capture.status.code(), Some(1));
    assert!(
        String::from_utf8(not_capture.stderr)
            .unwrap()
            .contains("not a pcap or pcapng file")
    );

    let mut damaged = hostile_and_resumed_capture();
    damaged.truncate(damaged.len() - 10);
    let out = ftpscope(&["-r", "-", "--json"], Some(&damaged));
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("is damaged at byte") && err.contains("analysed up to there"),
        "{err}"
    );
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("\"type\":\"damage\"")
    );

    let usage = ftpscope(&[], None);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ftpscope"))
        .args(["-r", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let capture = hostile_and_resumed_capture();
    let mut stdin = child.stdin.take().unwrap();
    drop(child.stdout.take()); // the reader went away
    let _ = stdin.write_all(&capture);
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ascii_transfers_can_be_written_with_local_line_endings() {
    let mut w = Wire::default();
    let mut c = w.connect("10.0.0.1:40000", "10.0.0.2:21", 1, 2);
    w.server(&mut c, b"220 hi\r\n");
    w.client(&mut c, b"TYPE A\r\n");
    w.server(&mut c, b"200 ascii\r\n");
    w.client(&mut c, b"PASV\r\n");
    w.server(&mut c, b"227 Entering Passive Mode (10,0,0,2,19,137).\r\n");
    let mut d = w.connect("10.0.0.1:40001", "10.0.0.2:5001", 1, 2);
    w.client(&mut c, b"RETR notes.txt\r\n");
    w.server(&mut d, b"one\r\ntwo\r\n");
    w.close(&mut d, false);
    w.server(&mut c, b"226 ok\r\n");
    let tmp = temp("eol");
    let dir = tmp.path();
    let pcap = dir.join("in.pcap");
    std::fs::write(&pcap, w.pcap()).unwrap();
    for (eol, want) in [
        ("wire", &b"one\r\ntwo\r\n"[..]),
        ("local", &b"one\ntwo\n"[..]),
    ] {
        let out_dir = dir.join(eol);
        let out = ftpscope(
            &[
                "-r",
                pcap.to_str().unwrap(),
                "-x",
                out_dir.to_str().unwrap(),
                "--ascii-eol",
                eol,
            ],
            None,
        );
        assert!(out.status.success());
        assert_eq!(
            std::fs::read(out_dir.join("session-1/notes.txt")).unwrap(),
            want,
            "{eol}"
        );
    }
}

/// `--idle-timeout`: a session silent for longer than it ends as `idle` when later packets
/// move time on (by default, 30 minutes, it lasts to the end of the capture). Zero is refused.
#[test]
fn idle_timeout_ends_silent_sessions() {
    let mut w = Wire::default();
    let mut c = w.connect("10.0.0.1:40000", "10.0.0.2:21", 1, 2);
    w.server(&mut c, b"220 ready\r\n");
    w.client(&mut c, b"USER anna\r\n");
    w.server(&mut c, b"331 pw\r\n");
    w.wait(90);
    let mut other = w.connect("10.0.0.3:40000", "10.0.0.4:80", 7, 9);
    w.client(&mut other, b"GET / HTTP/1.0\r\n\r\n");
    let capture = w.pcap();
    let end_reason = |args: &[&str]| -> String {
        let out = ftpscope(args, Some(&capture));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let session = stdout
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|v| v["type"] == "session")
            .expect("a session record");
        session["end_reason"].as_str().unwrap().to_string()
    };
    assert_eq!(end_reason(&["-r", "-", "--json"]), "capture_end");
    assert_eq!(
        end_reason(&["-r", "-", "--json", "--idle-timeout", "60"]),
        "idle"
    );
    assert_eq!(
        end_reason(&["-r", "-", "--json", "--idle-timeout", "100"]),
        "capture_end"
    );
    let out = ftpscope(&["-r", "-", "--idle-timeout", "0"], Some(&capture));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--idle-timeout"), "{err}");
}

/// Connections that never carry a byte (SYNs unanswered or refused, a handshake closed at
/// once) make no session: the attempts are counted per server in the summary and the report,
/// with one anomaly per server; a real session beside them is told as always.
#[test]
fn connections_without_payload_are_counted_per_server_not_told_as_sessions() {
    let mut w = Wire::default();
    // Unanswered, and retried on the same 4-tuple: one attempt.
    w.syn("10.0.0.1:40001", "10.0.0.2:21", 100);
    w.wait(1);
    w.syn("10.0.0.1:40001", "10.0.0.2:21", 100);
    // Refused.
    let refused = w.syn("10.0.0.1:40002", "10.0.0.2:21", 200);
    w.reset(&refused, false);
    w.syn("10.0.0.1:40003", "10.0.0.2:21", 300);
    w.syn("10.0.0.1:40004", "10.0.0.9:21", 400);
    // Connected and closed without a byte: no session, and not an attempt either.
    let mut empty = w.connect("10.0.0.1:40005", "10.0.0.2:21", 500, 600);
    w.close(&mut empty, true);
    let mut c = w.connect("10.0.0.1:40000", "10.0.0.2:21", 1, 2);
    w.server(&mut c, b"220 ready\r\n");
    w.client(&mut c, b"QUIT\r\n");
    w.server(&mut c, b"221 bye\r\n");
    w.close(&mut c, true);
    let capture = w.pcap();

    let out = ftpscope(&["-r", "-", "--json"], Some(&capture));
    assert!(out.status.success());
    let records: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of = |ty: &str| -> Vec<&serde_json::Value> {
        records.iter().filter(|r| r["type"] == ty).collect()
    };
    let sessions = of("session");
    assert_eq!(sessions.len(), 1);
    assert_eq!(
        (&sessions[0]["session"], &sessions[0]["client"]),
        (&serde_json::json!(1), &serde_json::json!("10.0.0.1:40000"))
    );
    let summary = of("summary")[0];
    assert_eq!(
        (&summary["sessions"], &summary["tcp_connections"]),
        (&serde_json::json!(1), &serde_json::json!(6))
    );
    let attempts = &summary["connection_attempts"];
    assert_eq!(attempts["total"], 4);
    assert_eq!(attempts["other_servers"], 0);
    let servers: Vec<(&str, u64)> = attempts["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["server"].as_str().unwrap(),
                s["attempts"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(servers, [("10.0.0.2:21", 3), ("10.0.0.9:21", 1)]);
    let details: Vec<&str> = of("anomaly")
        .iter()
        .filter(|a| a["kind"] == "connection_attempts")
        .map(|a| a["detail"].as_str().unwrap())
        .collect();
    assert_eq!(
        details,
        [
            "3 attempts to 10.0.0.2:21: SYN never answered, or refused",
            "1 attempt to 10.0.0.9:21: SYN never answered, or refused"
        ]
    );
    assert_eq!(summary["anomalies"]["connection_attempts"], 2);

    let out = ftpscope(&["-r", "-", "--report"], Some(&capture));
    assert!(out.status.success());
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(
        report.contains(
            "4 connection attempts (SYN never answered, or refused; no session):\n          3  10.0.0.2:21\n          1  10.0.0.9:21\n\n"
        ),
        "{report}"
    );
    assert!(
        report.contains("6 TCP connections, 1 FTP sessions"),
        "{report}"
    );
    assert_eq!(report.matches("\nSession ").count(), 1, "{report}");
}

/// With no usable temporary folder the report still lists every session and transfer from
/// what it keeps in memory, and says what is missing and why.
#[test]
fn report_without_a_temporary_folder_says_what_is_missing() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/demo.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_ftpscope"))
        .args(["--report", "--no-progress", "-r"])
        .arg(&demo)
        .env("TMPDIR", "/nonexistent/ftpscope-tmp")
        .output()
        .unwrap();
    assert!(out.status.success());
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(report.contains("… 27 more commands not shown"), "{report}");
    assert!(
        report.contains("#2 RETR /pub/photo.jpg  58.6 KiB  COMPLETE (details not kept)"),
        "{report}"
    );
    assert!(
        report.contains(
            "Report incomplete: dialogues and transfers could not be kept: temporary file: \
             /nonexistent/ftpscope-tmp: No such file or directory"
        ),
        "{report}"
    );
}

/// `index.jsonl` is as safe to `cat` as `--json`: DEL, C1 controls and bidi overrides in a
/// remote name are written as `\uXXXX`, and the values read back are the names as sent.
#[test]
fn index_jsonl_cannot_act_on_a_terminal() {
    let mut w = Wire::default();
    let mut c = w.connect("10.0.0.1:40000", "10.0.0.2:21", 1, 2);
    w.server(&mut c, b"220 ready\r\n");
    w.client(&mut c, b"USER anonymous\r\n");
    w.server(&mut c, b"230 ok\r\n");
    w.client(&mut c, b"PASV\r\n");
    w.server(&mut c, b"227 Entering Passive Mode (10,0,0,2,19,137).\r\n");
    let mut d = w.connect("10.0.0.1:40001", "10.0.0.2:5001", 1, 2);
    let name = "in\u{202e}voice\u{9b}1m\u{7f}.txt";
    w.client(&mut c, format!("RETR {name}\r\n").as_bytes());
    w.server(&mut d, b"data\n");
    w.close(&mut d, false);
    w.server(&mut c, b"226 ok\r\n");
    w.close(&mut c, true);
    let tmp = temp("index-safe");
    let dir = tmp.path();
    let out_dir = dir.join("out");
    let out = ftpscope(
        &["-r", "-", "-x", out_dir.to_str().unwrap()],
        Some(&w.pcap()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let index = std::fs::read_to_string(out_dir.join("index.jsonl")).unwrap();
    for raw in ['\u{202e}', '\u{9b}', '\u{7f}'] {
        assert!(!index.contains(raw), "raw {raw:?} in {index}");
    }
    assert!(
        index.contains(r"in\u202evoice\u009b1m\u007f.txt"),
        "{index}"
    );
    let record: serde_json::Value = serde_json::from_str(index.trim_end()).unwrap();
    assert_eq!(record["path"], name);
}

/// Every line of `stdout` parsed as JSON, to the end: the output is JSON Lines and nothing
/// else.
fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    let text = std::str::from_utf8(stdout).expect("JSON Lines are UTF-8");
    text.lines()
        .enumerate()
        .map(|(n, line)| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("line {} is not JSON ({e}): {line}", n + 1))
        })
        .collect()
}

/// `--json --report`: standard output stays JSON Lines to its last line (`jq` reads it all);
/// the report goes to standard error, or to the new file `--report FILE` names.
#[test]
fn with_json_the_report_goes_to_standard_error_or_its_own_file() {
    let capture = hostile_and_resumed_capture();
    let out = ftpscope(&["-r", "-", "--json", "--report"], Some(&capture));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = json_lines(&out.stdout);
    assert_eq!(records.last().unwrap()["type"], "summary");
    assert_eq!(
        records.iter().filter(|r| r["type"] == "transfer").count(),
        3
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("ftpscope report: -"), "{stderr}");
    assert!(stderr.contains("RETR /pub/big.bin"), "{stderr}");

    // `--report` alone still prints the report on standard output.
    let alone = ftpscope(&["-r", "-", "--report"], Some(&capture));
    assert!(alone.status.success());
    assert!(
        String::from_utf8(alone.stdout)
            .unwrap()
            .starts_with("ftpscope report: -")
    );

    let tmp = temp("report-file");
    let dir = tmp.path();
    let report = dir.join("new/report.txt");
    let to_file = ftpscope(
        &["-r", "-", "--json", "--report", report.to_str().unwrap()],
        Some(&capture),
    );
    assert!(
        to_file.status.success(),
        "{}",
        String::from_utf8_lossy(&to_file.stderr)
    );
    assert_eq!(json_lines(&to_file.stdout), records);
    assert!(to_file.stderr.is_empty());
    let written = std::fs::read_to_string(&report).unwrap();
    assert!(written.starts_with("ftpscope report: -"), "{written}");
    assert!(written.contains("RETR /pub/big.bin"), "{written}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&report).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the report may show secrets");

    // An existing file, or a link, is never written: an error before any packet is read.
    let victim = dir.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let link = dir.join("link.txt");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    for target in [&report, &victim, &link] {
        let refused = ftpscope(
            &["-r", "-", "--json", "--report", target.to_str().unwrap()],
            Some(&capture),
        );
        assert_eq!(refused.status.code(), Some(1), "{}", target.display());
        assert!(refused.stdout.is_empty(), "no record before the error");
        let err = String::from_utf8(refused.stderr).unwrap();
        assert!(
            err.contains("--report") && err.contains("already exists"),
            "{err}"
        );
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(std::fs::read_to_string(&report).unwrap(), written);
}

/// `records` with the input names taken out (the summary's `inputs`, each damage's `input`),
/// to compare runs on differently named copies of one capture.
fn without_input_names(mut records: Vec<serde_json::Value>) -> Vec<serde_json::Value> {
    for record in &mut records {
        if record["type"] == "summary" {
            record["inputs"] = serde_json::Value::Null;
            for damage in record["damage"].as_array_mut().unwrap() {
                damage["input"] = serde_json::Value::Null;
            }
        }
    }
    records
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn zstd(bytes: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(bytes, ruzstd::encoding::CompressionLevel::Fastest)
}

/// gzip and zstd captures are read as they are, told by their first bytes (the files here have
/// no extension), from a file or standard input; several gzip members or zstd frames (`cat
/// a.gz b.gz`) are read whole. The JSON Lines are those of the plain capture.
#[test]
fn compressed_captures_read_as_they_are() {
    let fixture = common::fixtures_dir().join("proftpd-abor.pcap");
    let plain = std::fs::read(&fixture).unwrap();
    let expected = ftpscope(&["-r", fixture.to_str().unwrap(), "--json"], None);
    assert!(expected.status.success());
    let expected = without_input_names(json_lines(&expected.stdout));
    assert!(expected.iter().any(|r| r["type"] == "transfer"));

    let (front, back) = plain.split_at(plain.len() / 3);
    let tmp = temp("compressed");
    let dir = tmp.path();
    for (kind, compressed) in [
        ("gzip", gzip(&plain)),
        ("zstd", zstd(&plain)),
        ("gzip members", [gzip(front), gzip(back)].concat()),
        ("zstd frames", [zstd(front), zstd(back)].concat()),
    ] {
        let file = dir.join(kind.replace(' ', "-"));
        std::fs::write(&file, &compressed).unwrap();
        for (args, stdin) in [
            (vec!["-r", file.to_str().unwrap(), "--json"], None),
            (vec!["-r", "-", "--json"], Some(&compressed[..])),
        ] {
            let out = ftpscope(&args, stdin);
            assert!(
                out.status.success(),
                "{kind} {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                without_input_names(json_lines(&out.stdout)),
                expected,
                "{kind} {args:?}"
            );
        }
    }
}

/// Where each record of a little-endian, microsecond pcap starts.
fn pcap_record_starts(pcap: &[u8]) -> Vec<u64> {
    let mut starts = Vec::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        starts.push(at as u64);
        let caplen = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap());
        at += 16 + caplen as usize;
    }
    starts
}

/// A compressed capture cut short: the frames before the cut are analysed, then the damage is
/// said at its offset in the decompressed capture, naming the compression (exit status 3).
#[test]
fn a_truncated_compressed_capture_is_damage_after_the_frames_before_it() {
    let plain = hostile_and_resumed_capture();
    let whole = ftpscope(&["-r", "-", "--json"], Some(&plain));
    let whole_frames = json_lines(&whole.stdout).last().unwrap()["frames"]
        .as_u64()
        .unwrap();
    let compressed = gzip(&plain);
    let cut = &compressed[..compressed.len() * 2 / 3];
    let out = ftpscope(&["-r", "-", "--json"], Some(cut));
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = json_lines(&out.stdout);
    let summary = records.last().unwrap();
    let frames = summary["frames"].as_u64().unwrap();
    assert!(
        frames > 0 && frames < whole_frames,
        "{frames} of {whole_frames} frames"
    );
    assert!(records.iter().any(|r| r["type"] == "session"));
    let damage = &summary["damage"][0];
    let offset = damage["offset"].as_u64().unwrap();
    // The offset counts decompressed bytes: it is where the record after the last frame read
    // starts in the plain capture.
    assert_eq!(
        pcap_record_starts(&plain).get(frames as usize),
        Some(&offset),
        "damage at {offset} after {frames} frames"
    );
    assert!(
        damage["what"]
            .as_str()
            .unwrap()
            .contains("the gzip stream is damaged"),
        "{damage}"
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(&format!("- is damaged at byte {offset}: ")) && err.contains("gzip"),
        "{err}"
    );
}

/// A capture named without -r is read as with -r; standard input cannot be read twice; with
/// no capture at all the message says what to give (exit status 2).
#[test]
fn a_positional_file_means_read_it() {
    let fixture = common::fixtures_dir().join("proftpd-abor.pcap");
    let fixture = fixture.to_str().unwrap();
    let with_r = ftpscope(&["-r", fixture, "--json"], None);
    let positional = ftpscope(&[fixture, "--json"], None);
    assert!(positional.status.success());
    assert_eq!(json_lines(&positional.stdout), json_lines(&with_r.stdout));

    let twice = ftpscope(&["-r", "-", "-r", "-", "--json"], Some(b""));
    assert_eq!(twice.status.code(), Some(2));
    let err = String::from_utf8(twice.stderr).unwrap();
    assert!(
        err.contains("standard input (`-`) can be read only once"),
        "{err}"
    );
    assert!(twice.stdout.is_empty());

    let none = ftpscope(&["--json"], None);
    assert_eq!(none.status.code(), Some(2));
    let err = String::from_utf8(none.stderr).unwrap();
    assert!(err.contains("no capture to read"), "{err}");

    // `--report FILE` takes the next word: a capture there is named as the likely mistake.
    let swallowed = ftpscope(&["--report", fixture], None);
    assert_eq!(swallowed.status.code(), Some(2));
    let err = String::from_utf8(swallowed.stderr).unwrap();
    assert!(
        err.contains("--report took") && err.contains("put the capture first"),
        "{err}"
    );
}

/// `--generate` writes the man page and each shell's completions, made from the parser: they
/// name the program and its flags. Nothing else may be asked with it.
#[test]
fn generate_writes_the_man_page_and_completions() {
    for (what, must_name) in [
        (
            "man",
            &[
                ".TH ftpscope 1",
                "\\-\\-json",
                "\\-\\-report",
                "\\-\\-generate",
            ][..],
        ),
        ("bash", &["ftpscope", "--json", "--report", "--extract"][..]),
        (
            "zsh",
            &["#compdef ftpscope", "--json", "--report", "--extract"][..],
        ),
        (
            "fish",
            &["complete -c ftpscope", "-l json", "-l report", "-l extract"][..],
        ),
    ] {
        let out = ftpscope(&["--generate", what], None);
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        for needle in must_name {
            assert!(text.contains(needle), "{what} lacks {needle:?}:\n{text}");
        }
    }
    let mixed = ftpscope(&["--generate", "bash", "-r", "-"], Some(b""));
    assert_eq!(mixed.status.code(), Some(2));
    let unknown = ftpscope(&["--generate", "powershell7"], None);
    assert_eq!(unknown.status.code(), Some(2));
}

/// `--version` says whether this build can capture live, and how to get it when it cannot.
#[test]
fn version_says_whether_live_capture_is_built_in() {
    let out = ftpscope(&["--version"], None);
    assert!(out.status.success());
    let version = String::from_utf8(out.stdout).unwrap();
    let expected = if cfg!(feature = "live") {
        "(live capture: built in)"
    } else {
        "(live capture: not built; cargo build --features live)"
    };
    assert_eq!(
        version,
        format!("ftpscope {} {expected}\n", env!("CARGO_PKG_VERSION"))
    );
}

/// `--help` wraps to the terminal's width (clap reads `COLUMNS` when standard output is not
/// a terminal): no line is wider than 60 columns on a 60-column terminal, and the wider
/// terminal gets longer lines.
#[test]
fn help_wraps_to_the_terminal_width() {
    let widest_line = |columns: &str| -> usize {
        let out = Command::new(env!("CARGO_BIN_EXE_ftpscope"))
            .arg("--help")
            .env("COLUMNS", columns)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success());
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(help.contains("--report [<FILE>]"), "{help}");
        help.lines().map(|l| l.chars().count()).max().unwrap()
    };
    assert!(widest_line("60") <= 60);
    assert!(widest_line("100") > 60);
}

/// `--hash` chooses the digests: each chosen one is a field, only those; a bad name is a
/// clear error with exit status 2.
#[test]
fn hash_chooses_the_digests_and_refuses_unknown_ones() {
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/demo.pcap");
    let pcap = pcap.to_str().unwrap();
    let out = ftpscope(&["-r", pcap, "--json", "--hash", "md5,sha1"], None);
    assert!(out.status.success());
    let records = json_lines(&out.stdout);
    let transfers: Vec<_> = records.iter().filter(|r| r["type"] == "transfer").collect();
    assert!(!transfers.is_empty());
    for t in &transfers {
        assert!(t.get("sha256").is_none(), "{t}");
        assert_eq!(t["md5"].as_str().unwrap().len(), 32, "{t}");
        assert_eq!(t["sha1"].as_str().unwrap().len(), 40, "{t}");
    }
    for bad in ["foo", "sha256,", "md4"] {
        let out = ftpscope(&["-r", pcap, "--json", "--hash", bad], None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(
            stderr.contains("--hash") && stderr.contains("sha256, md5, sha1"),
            "{bad}: {stderr}"
        );
        assert!(out.stdout.is_empty());
    }
}

/// The schema is exact: a field it does not list, or a value of the wrong kind, fails.
#[test]
fn the_schema_refuses_what_it_does_not_describe() {
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/demo.pcap");
    let out = ftpscope(&["-r", pcap.to_str().unwrap(), "--json"], None);
    let records = json_lines(&out.stdout);
    let session = records.iter().find(|r| r["type"] == "session").unwrap();
    common::check_schema(session);
    let mut extra = session.clone();
    extra["undocumented"] = 1.into();
    let mut wrong = session.clone();
    wrong["community_id"] = "2:abc".into();
    for bad in [extra, wrong] {
        let caught = std::panic::catch_unwind(|| common::check_schema(&bad));
        assert!(caught.is_err(), "{bad}");
    }
}

/// Standard error gone (its reader closed: an ssh session dropped, `2>&1 | head` done): the
/// error message cannot be written, and the exit status still says what happened, where
/// `eprintln!` panicked (status 101).
#[test]
fn a_closed_standard_error_does_not_change_the_exit_status() {
    use std::os::fd::{FromRawFd, OwnedFd};
    let tmp = temp("closed-stderr");
    let missing = tmp.path().join("no-such.pcap");
    let bin = env!("CARGO_BIN_EXE_ftpscope");
    let said = Command::new(bin).arg("-r").arg(&missing).output().unwrap();
    assert!(!said.stderr.is_empty(), "the error is said when it can be");
    let mut ends = [0; 2];
    // SAFETY: `pipe` fills both descriptors on success, each owned once below.
    assert_eq!(unsafe { libc::pipe(ends.as_mut_ptr()) }, 0);
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1])) };
    drop(read_end);
    let status = Command::new(bin)
        .arg("-r")
        .arg(&missing)
        .stderr(Stdio::from(write_end))
        .status()
        .unwrap();
    assert_eq!(status.code(), said.status.code());
    assert_ne!(status.code(), Some(101), "no panic");
}
