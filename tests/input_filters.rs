//! Files as input: `--host`, `--port`, `--from`/`--until` and `-f` choose the frames analysed;
//! `-r IN -w OUT` carves the FTP sessions into a small capture that tells the same story.

// Test code: a failed unwrap is a failed test, said with its place.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{checked_lines, ftpscope, of_type};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn temp(name: &str) -> tempfile::TempDir {
    common::temp_dir("input-filters", name)
}

fn fixture(name: &str) -> String {
    common::fixtures_dir().join(name).display().to_string()
}

/// `ftpscope ARGS --json`, which must succeed: its records.
fn json(args: &[&str]) -> Vec<Value> {
    let mut all = args.to_vec();
    all.push("--json");
    let out = ftpscope(&all, None);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    checked_lines(&String::from_utf8(out.stdout).unwrap())
}

/// The records of the given types, in order.
fn records(values: &[Value], types: &[&str]) -> Vec<Value> {
    values
        .iter()
        .filter(|v| types.iter().any(|t| v["type"] == *t))
        .cloned()
        .collect()
}

/// Sessions, transfers and listing entries: the story of a capture, to compare two runs.
/// Frame numbers are left out: they are places in one capture file, which carving or
/// reading a part of the inputs changes ([`frame_numbers`] compares them).
fn story(values: &[Value]) -> Vec<Value> {
    let mut story = records(
        values,
        &["session", "transfer", "listing_entry", "exchange"],
    );
    for v in &mut story {
        if let Some(record) = v.as_object_mut() {
            record.remove("first_frame");
            record.remove("last_frame");
        }
    }
    story
}

/// `(type, id, first_frame, last_frame)` of every session and transfer.
fn frame_numbers(values: &[Value]) -> Vec<(String, u64, Value, Value)> {
    records(values, &["session", "transfer"])
        .iter()
        .map(|v| {
            let t = v["type"].as_str().unwrap().to_owned();
            let id = v[t.as_str()].as_u64().unwrap();
            (t, id, v["first_frame"].clone(), v["last_frame"].clone())
        })
        .collect()
}

#[cfg(feature = "live")]
/// Every record, with what differs between a capture read through a filter and the file that
/// filter wrote taken out: the summary's input names, and the frame numbers (`-f` keeps the
/// numbers of the file it reads, as Wireshark shows them; the written file numbers its own
/// frames from 1).
fn without_input_names(mut values: Vec<Value>) -> Vec<Value> {
    for v in &mut values {
        if v["type"] == "summary" {
            v["inputs"] = Value::Null;
        }
        if let Some(record) = v.as_object_mut() {
            record.remove("first_frame");
            record.remove("last_frame");
        }
    }
    values
}

/// `(client, server)` of every session.
fn sessions(values: &[Value]) -> Vec<(String, String)> {
    of_type(values, "session")
        .iter()
        .map(|s| {
            (
                s["client"].as_str().unwrap().to_owned(),
                s["server"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

// Four captures of four sessions, between different hosts, at different times (2026-11-25):
// A 10:15:03 (10.77.0.1 → 10.77.0.2), B 10:15:08 (IPv6, fd77::1 → fd77::2),
// C 10:15:32 (10.77.1.2 → 10.77.1.1), D 10:15:41 (127.0.0.1 → 127.0.0.1:2121).
const A: &str = "vsftpd-passive-retr-stor.pcap";
const B: &str = "proftpd-epsv-eprt-ipv6.pcap";
const C: &str = "vsftpd-nat-passive.pcap";
const D: &str = "pyftpdlib-nonstandard-port.pcap";

fn all_four() -> Vec<String> {
    [A, B, C, D].iter().map(|f| fixture(f)).collect()
}

/// `-r` for each of `inputs`, then `more`.
fn args<'a>(inputs: &'a [String], more: &[&'a str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    for i in inputs {
        out.extend(["-r", i.as_str()]);
    }
    out.extend_from_slice(more);
    out
}

#[test]
fn host_port_and_time_keep_the_matching_sessions_only() {
    let inputs = all_four();
    let alone = |name: &str| story(&json(&["-r", &fixture(name)]));
    let merged = json(&args(&inputs, &[]));
    assert_eq!(of_type(&merged, "session").len(), 4);

    // One host: A's session, told exactly as A alone tells it.
    let host = json(&args(&inputs, &["--host", "10.77.0.2"]));
    assert_eq!(story(&host), alone(A));
    // Its frames keep their numbers in the whole (merged) capture: the filter skips frames,
    // it does not renumber them, so a Wireshark filter on them finds the same packets.
    let kept = frame_numbers(&host);
    assert!(!kept.is_empty() && kept.iter().all(|(_, _, f, _)| f.as_u64() > Some(0)));
    let whole = frame_numbers(&merged);
    assert!(
        kept.iter().all(|k| whole.contains(k)),
        "{kept:?} in {whole:?}"
    );
    // Either end matches: the client's address keeps the same session.
    let client = json(&args(&inputs, &["--host", "10.77.0.1"]));
    assert_eq!(story(&client), alone(A));
    // Several hosts are alternatives, IPv6 too.
    let two = json(&args(
        &inputs,
        &["--host", "fd77::1", "--host", "10.77.1.1"],
    ));
    let mut want = alone(B);
    want.extend(alone(C));
    assert_eq!(story(&two).len(), want.len());
    assert_eq!(
        sessions(&two),
        [
            ("[fd77::1]:50056".into(), "[fd77::2]:21".into()),
            ("10.77.1.2:51166".into(), "10.77.1.1:21".into())
        ]
    );
    // No such host: nothing.
    let none = json(&args(&inputs, &["--host", "192.0.2.1"]));
    assert!(of_type(&none, "session").is_empty());

    // A port keeps its connections only: D's control connection on 2121, without the data
    // connections on other ports.
    let port = json(&args(&inputs, &["--port", "2121"]));
    assert_eq!(
        sessions(&port),
        [("127.0.0.1:53576".into(), "127.0.0.1:2121".into())]
    );
    assert!(
        of_type(&port, "transfer")
            .iter()
            .all(|t| t["sha256"].is_null() || t["bytes"] == 0),
        "no data connection passed --port 2121"
    );
    // --host and --port together: both must match.
    let both = json(&args(&inputs, &["--host", "10.77.0.2", "--port", "2121"]));
    assert!(of_type(&both, "session").is_empty());

    // The time window: B and C, in RFC 3339 or in Unix seconds.
    let window = json(&args(
        &inputs,
        &[
            "--from",
            "2026-11-25T10:15:05Z",
            "--until",
            "2026-11-25T11:15:35+01:00",
        ],
    ));
    assert_eq!(
        story(&window),
        story(&json(&args(&[fixture(B), fixture(C)], &[])))
    );
    let from = ftpscope_time("2026-11-25T10:15:05Z");
    let until = ftpscope_time("2026-11-25T10:15:35Z");
    let unix = json(&args(&inputs, &["--from", &from, "--until", &until]));
    assert_eq!(story(&unix), story(&window));
    // --from is inclusive: a window starting at A's first frame keeps it whole.
    let summary = of_type(&merged, "summary")[0].clone();
    let first = summary["first_packet"].as_str().unwrap();
    let from_first = json(&args(&inputs, &["--from", first, "--until", &from]));
    assert_eq!(story(&from_first), alone(A));
}

/// Unix seconds of an RFC 3339 time with a `Z`, through `date`-free arithmetic: the days
/// since 1970 of 2026-11-25 are fixed, so only the time of day is read.
fn ftpscope_time(rfc3339: &str) -> String {
    // 2026-11-25T00:00:00Z is 1795564800.
    let time = rfc3339
        .strip_prefix("2026-11-25T")
        .unwrap()
        .trim_end_matches('Z');
    let mut parts = time.split(':').map(|p| p.parse::<u64>().unwrap());
    let (h, m, s) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    (1_795_564_800 + h * 3600 + m * 60 + s).to_string()
}

#[test]
fn bad_filters_and_bad_combinations_are_exit_status_2() {
    let a = fixture(A);
    let tmp = temp("bad");
    let dir = tmp.path();
    let out = dir.join("out.pcap");
    let out = out.to_str().unwrap();
    for (args, said) in [
        (vec!["-r", &a, "--from", "yesterday"], "is not a time"),
        (
            vec!["-r", &a, "--from", "1714557600", "--until", "1714557600"],
            "--from must come before --until",
        ),
        (vec!["-r", &a, "--host", "ftp.example.com"], "--host"),
        (vec!["-r", &a, "--port", "70000"], "--port"),
        (
            vec!["-r", &a, "-w", "-"],
            "-w -: packets are written to a file only",
        ),
        (
            vec!["-r", "-", "-w", out],
            "-w with -r -: carving reads the capture twice",
        ),
        (vec!["-r", &a, "--session", "1"], "--write"),
        (vec!["-i", "lo", "--host", "10.0.0.1"], "--interface"),
        (vec!["-i", "lo", "-w", out, "--session", "1"], "--interface"),
    ] {
        let run = ftpscope(&args, Some(b""));
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(said), "{args:?}: {err}");
    }
    assert!(!Path::new(out).exists());
}

#[cfg(not(feature = "live"))]
#[test]
fn bpf_on_files_needs_the_live_feature() {
    let run = ftpscope(&["-r", &fixture(A), "-f", "tcp port 21"], None);
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(err.contains("--features live"), "{err}");
    assert!(run.stdout.is_empty());
}

/// Whether tcpdump is here; in CI it must be.
fn have_tcpdump() -> bool {
    let here = std::process::Command::new("tcpdump")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !here {
        assert!(std::env::var_os("CI").is_none(), "tcpdump is missing in CI");
        eprintln!("note: tcpdump not found; the comparison with it is skipped");
    }
    here
}

#[cfg(feature = "live")]
/// `tcpdump -r IN -w OUT FILTER`.
fn tcpdump_filter(input: &str, output: &Path, filter: &str) {
    let run = std::process::Command::new("tcpdump")
        .args(["-r", input, "-w"])
        .arg(output)
        .arg(filter)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "tcpdump {filter}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// `capture` (a pcap of Ethernet frames) as raw IP (LINKTYPE_RAW, 101): each frame without
/// its 14-byte Ethernet header.
fn as_raw_ip(capture: &[u8]) -> Vec<u8> {
    let mut out = capture[..24].to_vec();
    out[20..24].copy_from_slice(&101u32.to_le_bytes());
    let mut at = 24;
    while at + 16 <= capture.len() {
        let word = |i: usize| u32::from_le_bytes(capture[at + i..at + i + 4].try_into().unwrap());
        let (caplen, len) = (word(8) as usize, word(12));
        out.extend_from_slice(&capture[at..at + 8]);
        out.extend_from_slice(&(caplen as u32 - 14).to_le_bytes());
        out.extend_from_slice(&(len - 14).to_le_bytes());
        out.extend_from_slice(&capture[at + 16 + 14..at + 16 + caplen]);
        at += 16 + caplen;
    }
    out
}

#[cfg(feature = "live")]
#[test]
fn bpf_on_files_keeps_what_tcpdump_keeps() {
    if !have_tcpdump() {
        return;
    }
    let tmp = temp("bpf");
    let dir = tmp.path();
    let raw = dir.join("raw-ip.pcap");
    std::fs::write(&raw, as_raw_ip(&std::fs::read(fixture(A)).unwrap())).unwrap();
    let raw = raw.display().to_string();
    let cases = [
        (fixture(A), "host 10.77.0.1 and greater 80"),
        (fixture(A), "tcp port 21"),
        (fixture(A), "not (tcp[tcpflags] & tcp-syn != 0)"),
        (fixture(B), "ip6 and tcp"),
        (fixture("field-smtp-beside-ftp.pcap"), "not port 25"),
        (fixture("field-smtp-beside-ftp.pcap"), "port 25"),
        (raw.clone(), "src host 10.77.0.2"),
    ];
    for (n, (input, filter)) in cases.iter().enumerate() {
        let filtered = dir.join(format!("tcpdump-{n}.pcap"));
        tcpdump_filter(input, &filtered, filter);
        let ours = json(&["-r", input, "-f", filter]);
        let theirs = json(&["-r", filtered.to_str().unwrap()]);
        assert_eq!(
            without_input_names(ours.clone()),
            without_input_names(theirs),
            "{input} -f {filter:?}"
        );
        let summary = of_type(&ours, "summary")[0];
        assert!(summary["frames"].as_u64().unwrap() > 0, "{filter}");
    }
    // The first input's link type checks the expression at once; a bad one is exit status 2.
    let run = ftpscope(&["-r", &fixture(A), "-f", "tcp port"], None);
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(err.contains("invalid capture filter \"tcp port\""), "{err}");
    assert!(run.stdout.is_empty());
    // An expression libpcap cannot compile for a link type met later stops the run.
    let run = ftpscope(
        &["-r", &raw, "-f", "ether host 1:2:3:4:5:6", "--json"],
        None,
    );
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(err.contains("invalid capture filter"), "{err}");
}

/// Carves `inputs` (with `more` arguments) into DIR/NAME: its path and standard error.
fn carve(inputs: &[String], more: &[&str], dir: &Path, name: &str) -> (PathBuf, String) {
    let out = dir.join(name);
    let mut all = args(inputs, more);
    all.extend(["-w", out.to_str().unwrap()]);
    let run = ftpscope(&all, None);
    let err = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(run.status.success(), "{all:?}: {err}");
    assert!(
        run.stdout.is_empty(),
        "-w alone prints nothing on standard output"
    );
    (out, err)
}

#[test]
fn a_carved_capture_tells_the_same_story() {
    let tmp = temp("carve");
    let dir = tmp.path();
    let plain = [
        "vsftpd-passive-retr-stor.pcap",
        "vsftpd-active-port.pcap",
        "vsftpd-nat-active-alg-client-side.pcap",
        "proftpd-epsv-eprt-ipv6.pcap",
        "proftpd-abor.pcap",
        "pureftpd-rest-resume.pcap",
        "pureftpd-list-mlsd.pcap",
        "pureftpd-nat-active-refused.pcap",
        "pyftpdlib-nonstandard-port.pcap",
        "field-ftp-bounce.pcap",
        "field-shell-beside-ftp.pcap",
        "field-smtp-beside-ftp.pcap",
        "pyftpdlib-ftps-prot-p.pcap",
    ];
    let with_keys = [
        "ftps/vsftpd-curl-tls13-passive",
        "ftps/vsftpd-ftplib-tls12-gcm-active",
        "ftps/pureftpd-curl-tls12-chacha-rest",
        "ftps/proftpd-lftp-tls13-chacha-mirror",
        "ftps/vsftpd-curl-implicit",
    ];
    let mut cases: Vec<(String, Vec<String>)> =
        plain.iter().map(|f| (fixture(f), Vec::new())).collect();
    for f in with_keys {
        let keys = vec!["--keylog".to_owned(), fixture(&format!("{f}.keys"))];
        cases.push((fixture(&format!("{f}.pcap")), keys));
    }
    // Keys embedded in a pcapng: the carved pcapng keeps them.
    cases.push((
        fixture("ftps/vsftpd-curl-tls13-passive-dsb.pcapng"),
        Vec::new(),
    ));
    for (n, (input, keys)) in cases.iter().enumerate() {
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let (carved, err) = carve(
            std::slice::from_ref(input),
            &keys,
            dir,
            &format!("{n}.pcap"),
        );
        assert!(err.starts_with("ftpscope: carved 1 session ("), "{err}");
        let want_format = if input.ends_with(".pcapng") {
            "(pcapng)"
        } else {
            "(pcap)"
        };
        assert!(err.trim_end().ends_with(want_format), "{err}");
        let mut original = vec!["-r", input.as_str()];
        original.extend(&keys);
        let original = json(&original);
        let mut again = vec!["-r", carved.to_str().unwrap()];
        again.extend(&keys);
        let again = json(&again);
        assert_eq!(story(&again), story(&original), "{input}");
        let transfers = of_type(&again, "transfer");
        assert!(!transfers.is_empty(), "{input}");
        // (PROT P without keys: ciphertext, no file.)
        assert!(
            input.contains("prot-p")
                || transfers
                    .iter()
                    .any(|t| t["sha256"].is_string() && t["bytes"] != 0),
            "{input}: a file crossed"
        );
        let (size, carved_size) = (
            std::fs::metadata(input).unwrap().len(),
            std::fs::metadata(&carved).unwrap().len(),
        );
        assert!(carved_size <= size, "{input}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&carved).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        if input.contains("beside") {
            // The SMTP session and the shell are not carved.
            let connections = |v: &[Value]| of_type(v, "summary")[0]["tcp_connections"].clone();
            assert!(
                connections(&again).as_u64() < connections(&original).as_u64(),
                "{input}"
            );
            assert!(carved_size < size, "{input}");
        }
        if have_tcpdump() {
            let run = std::process::Command::new("tcpdump")
                .arg("-nr")
                .arg(&carved)
                .output()
                .unwrap();
            assert!(
                run.status.success(),
                "tcpdump reads {}: {}",
                carved.display(),
                String::from_utf8_lossy(&run.stderr)
            );
            let packets = String::from_utf8_lossy(&run.stdout).lines().count() as u64;
            let frames = of_type(&again, "summary")[0]["frames"].as_u64().unwrap();
            assert_eq!(packets, frames, "{input}");
        }
    }
}

#[test]
fn carving_merged_inputs_of_two_link_types_writes_pcapng() {
    let tmp = temp("carve-merged");
    let dir = tmp.path();
    let raw = dir.join("raw-ip.pcap");
    std::fs::write(&raw, as_raw_ip(&std::fs::read(fixture(C)).unwrap())).unwrap();
    let inputs = vec![
        fixture(A),
        raw.display().to_string(),
        fixture("field-smtp-beside-ftp.pcap"),
    ];
    let (carved, err) = carve(&inputs, &[], dir, "merged.pcapng");
    assert!(err.contains("carved 3 sessions ("), "{err}");
    assert!(err.trim_end().ends_with("(pcapng)"), "{err}");
    let again = json(&["-r", carved.to_str().unwrap()]);
    assert_eq!(story(&again), story(&json(&args(&inputs, &[]))));

    // Filters apply to the carving too: one host, one session.
    let (carved, err) = carve(&inputs, &["--host", "10.77.1.1"], dir, "one-host.pcap");
    assert!(err.contains("carved 1 session ("), "{err}");
    let again = json(&["-r", carved.to_str().unwrap()]);
    assert_eq!(
        sessions(&again),
        [("10.77.1.2:51166".into(), "10.77.1.1:21".into())]
    );
    assert_eq!(story(&again), story(&json(&["-r", raw.to_str().unwrap()])));
}

/// What identifies a transfer across runs whose numbering differs.
fn transfer_facts(values: &[Value]) -> Vec<Value> {
    of_type(values, "transfer")
        .iter()
        .map(|t| {
            let keep = [
                "command",
                "full_path",
                "bytes",
                "sha256",
                "status",
                "data_client",
            ];
            Value::Object(
                keep.iter()
                    .map(|k| ((*k).to_owned(), t[*k].clone()))
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn session_carves_one_session_with_its_data_connections() {
    let tmp = temp("carve-session");
    let dir = tmp.path();
    let inputs = vec![fixture(A), fixture(C), fixture("pureftpd-list-mlsd.pcap")];
    let merged = json(&args(&inputs, &[]));
    let second = of_type(&merged, "session")[1].clone();
    let n = second["session"].to_string();
    let (carved, err) = carve(&inputs, &["--session", &n], dir, "one.pcap");
    assert!(
        err.starts_with(&format!("ftpscope: carved session {n} (")),
        "{err}"
    );
    let again = json(&["-r", carved.to_str().unwrap()]);
    assert_eq!(
        sessions(&again),
        [(
            second["client"].as_str().unwrap().to_owned(),
            second["server"].as_str().unwrap().to_owned()
        )]
    );
    let theirs: Vec<Value> = transfer_facts(&merged)
        .into_iter()
        .zip(of_type(&merged, "transfer"))
        .filter(|(_, t)| t["session"] == second["session"])
        .map(|(f, _)| f)
        .collect();
    assert!(!theirs.is_empty());
    assert_eq!(transfer_facts(&again), theirs);

    // With --json too: the first pass is the ordinary analysis.
    let out = dir.join("two.pcap");
    let mut all = args(&inputs, &["--json", "--session", "1", "-w"]);
    all.push(out.to_str().unwrap());
    let run = ftpscope(&all, None);
    assert!(run.status.success());
    let lines = checked_lines(&String::from_utf8(run.stdout).unwrap());
    assert_eq!(story(&lines), story(&merged));

    // A session the capture does not hold: exit status 1, no file left.
    let missing = dir.join("missing.pcap");
    let mut all = args(&inputs, &["--session", "99", "-w"]);
    all.push(missing.to_str().unwrap());
    let run = ftpscope(&all, None);
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(
        err.contains("no session 99 in the capture (3 sessions)"),
        "{err}"
    );
    assert!(!missing.exists());
}

#[test]
fn the_carved_file_is_new_never_an_existing_one_nor_through_a_link() {
    let tmp = temp("carve-exists");
    let dir = tmp.path();
    let a = fixture(A);
    let existing = dir.join("existing.pcap");
    std::fs::write(&existing, "precious").unwrap();
    let victim = dir.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let link = dir.join("link.pcap");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    for target in [&existing, &link] {
        let run = ftpscope(&["-r", &a, "-w", target.to_str().unwrap()], None);
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{err}");
        assert!(
            err.contains("it already exists (ftpscope never overwrites a file"),
            "{err}"
        );
        assert!(run.stdout.is_empty());
    }
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "precious");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    // An unusable -x folder (exit status 4) leaves no empty -w file behind.
    let out = dir.join("out.pcap");
    let x = victim.to_str().unwrap();
    let run = ftpscope(&["-r", &a, "-w", out.to_str().unwrap(), "-x", x], None);
    assert_eq!(run.status.code(), Some(4));
    assert!(!out.exists());
}
