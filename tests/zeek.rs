//! `--zeek-logs`: ftp.log and files.log against Zeek's own logs of the same captures (the
//! btest baselines in ../shared/corpus/zeek): the header and columns exactly, and every value
//! ftpscope can know alike (uid and fuid are ftpscope's own stable ids; Zeek's baselines
//! mask most times).

// Test code: a failed unwrap is a failed test, said with its place.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{corpus_dir, ftpscope, temp_dir};
use std::path::{Path, PathBuf};

/// A Zeek TSV log: its header lines by name, and its rows as maps of field to value.
struct ZeekLog {
    fields: Vec<String>,
    types: Vec<String>,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl ZeekLog {
    fn read(path: &Path) -> ZeekLog {
        let text = std::fs::read_to_string(path).unwrap();
        let mut log = ZeekLog {
            fields: vec![],
            types: vec![],
            header: vec![],
            rows: vec![],
        };
        for line in text.lines() {
            if line.starts_with("###") {
                continue; // btest's own line
            }
            if let Some(rest) = line.strip_prefix("#fields\t") {
                log.fields = rest.split('\t').map(str::to_owned).collect();
            } else if let Some(rest) = line.strip_prefix("#types\t") {
                log.types = rest.split('\t').map(str::to_owned).collect();
            }
            if line.starts_with('#') {
                let name = line.split([' ', '\t']).next().unwrap().to_owned();
                log.header.push(name);
            } else {
                log.rows.push(line.split('\t').map(str::to_owned).collect());
            }
        }
        log
    }

    fn column(&self, row: &[String], name: &str) -> String {
        let i = self.fields.iter().position(|f| f == name).unwrap();
        row[i].clone()
    }
}

/// The logs ftpscope writes for `pcap`, into a folder it creates itself; the folder is
/// removed when the returned guard is dropped.
fn zeek_logs(pcap: &Path, name: &str, extra: &[&str]) -> (tempfile::TempDir, ZeekLog, ZeekLog) {
    let tmp = temp_dir("zeek", name);
    let dir = tmp.path().join("logs");
    let mut args = vec![
        "-r",
        pcap.to_str().unwrap(),
        "--json",
        "--zeek-logs",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = ftpscope(&args, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ftp = ZeekLog::read(&dir.join("ftp.log"));
    let files = ZeekLog::read(&dir.join("files.log"));
    (tmp, ftp, files)
}

fn corpus_case(case: &str) -> Option<PathBuf> {
    Some(corpus_dir()?.join("zeek").join(case))
}

/// Rows compared on the columns ftpscope can know as Zeek does.
const FTP_COLUMNS: &[&str] = &[
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "user",
    "password",
    "command",
    "arg",
    "mime_type",
    "file_size",
    "reply_code",
    "reply_msg",
    "data_channel.passive",
    "data_channel.orig_h",
    "data_channel.resp_h",
    "data_channel.resp_p",
];

/// Compares ftpscope's ftp.log of a corpus case with Zeek's, every column strictly but for
/// the reply and the argument: returns the rows (1-based) where those differ, for the caller
/// to judge (where a server's replies come unasked, the two tools pair them differently, and
/// Zeek's working directory follows its pairing).
fn compare_ftp_log(case: &str, baseline: &str) -> Vec<usize> {
    let mut reply_differs = Vec::new();
    let Some(dir) = corpus_case(case) else {
        return reply_differs;
    };
    let pcap = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "pcap"))
        .unwrap();
    let zeek = ZeekLog::read(&dir.join("peer").join(baseline).join("ftp.log"));
    let (_tmp, ours, _) = zeek_logs(&pcap, case, &[]);
    assert_eq!(ours.fields, zeek.fields, "{case}: #fields");
    assert_eq!(ours.types, zeek.types, "{case}: #types");
    assert_eq!(ours.header, zeek.header, "{case}: header lines");
    assert_eq!(ours.rows.len(), zeek.rows.len(), "{case}: rows");
    for (i, (a, b)) in ours.rows.iter().zip(&zeek.rows).enumerate() {
        assert_eq!(
            ours.column(a, "command"),
            zeek.column(b, "command"),
            "{case}: row {}",
            i + 1
        );
        if ours.column(a, "reply_code") != zeek.column(b, "reply_code")
            || ours.column(a, "arg") != zeek.column(b, "arg")
        {
            reply_differs.push(i + 1);
            continue;
        }
        for col in FTP_COLUMNS {
            // Zeek tells a file's type only where its test loads file analysis.
            if *col == "mime_type" && zeek.column(b, col) == "-" {
                continue;
            }
            assert_eq!(
                ours.column(a, col),
                zeek.column(b, col),
                "{case}: row {} column {col}\nours: {a:?}\nzeek: {b:?}",
                i + 1
            );
        }
        // Times where Zeek's baseline keeps them.
        let ts = zeek.column(b, "ts");
        if !ts.starts_with('X') {
            assert_eq!(ours.column(a, "ts"), ts, "{case}: row {} ts", i + 1);
        }
        let uid = ours.column(a, "uid");
        assert!(uid.starts_with('C') && uid.len() > 10, "{uid}");
    }
    reply_differs
}

#[test]
fn ftp_log_matches_zeeks_on_ipv4_active_and_passive() {
    assert_eq!(
        compare_ftp_log("ipv4", "scripts.base.protocols.ftp.ftp-ipv4"),
        Vec::<usize>::new()
    );
}

#[test]
fn ftp_log_matches_zeeks_on_ipv6_epsv_and_eprt() {
    assert_eq!(
        compare_ftp_log("ipv6", "scripts.base.protocols.ftp.ftp-ipv6"),
        Vec::<usize>::new()
    );
}

/// 1375 lines, every command the same and in the same order. At frame 715 the server sends
/// a 150 and a 226 that no command in the capture asked for (tshark shows no RETR before
/// them): ftpscope reports them `unsolicited_reply`, and from there (line 111) Zeek and
/// ftpscope pair later replies differently, so replies (and Zeek's working directory, which
/// follows its pairing) are compared only before it.
#[test]
fn ftp_log_matches_zeeks_across_cwd_navigation() {
    let differs = compare_ftp_log(
        "cwd-navigation",
        "scripts.base.protocols.ftp.cwd-navigation",
    );
    if corpus_dir().is_some() {
        assert!(
            differs.first().is_some_and(|&first| first >= 111),
            "{:?}",
            differs.first()
        );
    }
}

/// files.log: Zeek's header (its default fields with the hash analyzers loaded), and the
/// values of a transfer Zeek saw too.
#[test]
fn files_log_matches_zeeks() {
    let Some(dir) = corpus_case("retr") else {
        return;
    };
    let layout = ZeekLog::read(
        &corpus_case("bigtransfer")
            .unwrap()
            .join("peer/core.tcp.large-file-reassembly/files.log"),
    );
    let zeek = ZeekLog::read(&dir.join("peer/scripts.base.files.extract.limit/files.log"));
    let (_tmp, _, ours) = zeek_logs(
        &dir.join("retr.pcap"),
        "retr",
        &["--hash", "md5,sha1,sha256"],
    );
    assert_eq!(ours.fields, layout.fields, "#fields");
    assert_eq!(ours.types, layout.types, "#types");
    assert_eq!(ours.header, layout.header, "header lines");
    assert_eq!(ours.rows.len(), 1, "{:?}", ours.rows);
    let (a, b) = (&ours.rows[0], &zeek.rows[0]);
    for col in [
        "id.orig_h",
        "id.orig_p",
        "id.resp_h",
        "id.resp_p",
        "source",
        "depth",
        "mime_type",
        "is_orig",
        "seen_bytes",
        "missing_bytes",
        "overflow_bytes",
        "timedout",
        "parent_fuid",
    ] {
        assert_eq!(ours.column(a, col), zeek.column(b, col), "column {col}");
    }
    assert_eq!(ours.column(a, "analyzers"), "MD5,SHA1,SHA256");
    assert_eq!(ours.column(a, "sha256").len(), 64);
    assert!(ours.column(a, "fuid").starts_with('F'));
}

/// The JSON variant: one object per line, Zeek's names, unset fields left out, times as
/// epoch seconds; and the uid of ftp.log is the session's conn_id in --json.
#[test]
fn json_variant_and_ids_shared_with_json_lines() {
    let pcap = common::fixtures_dir().join("vsftpd-passive-retr-stor.pcap");
    let tmp = temp_dir("zeek", "json-variant");
    let dir = tmp.path().join("logs");
    let out = ftpscope(
        &[
            "-r",
            pcap.to_str().unwrap(),
            "--json",
            "--zeek-logs",
            dir.to_str().unwrap(),
            "--zeek-format",
            "json",
        ],
        None,
    );
    assert!(out.status.success());
    let records = common::checked_lines(&String::from_utf8(out.stdout).unwrap());
    let session = records.iter().find(|r| r["type"] == "session").unwrap();
    let ftp = std::fs::read_to_string(dir.join("ftp.log")).unwrap();
    assert!(!ftp.starts_with('#'));
    let mut retr = 0;
    for line in ftp.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["uid"], session["conn_id"]);
        assert!(v["ts"].is_f64());
        assert!(v.get("fuid").is_none() || v["fuid"].as_str().unwrap().starts_with('F'));
        retr += usize::from(v["command"] == "RETR");
    }
    assert!(retr > 0, "{ftp}");
    let files = std::fs::read_to_string(dir.join("files.log")).unwrap();
    let transfers: Vec<_> = records.iter().filter(|r| r["type"] == "transfer").collect();
    for line in files.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(
            transfers
                .iter()
                .any(|t| t["conn_id"] == v["uid"] && t["sha256"] == v["sha256"]),
            "{v}"
        );
        assert!(v.get("local_orig").is_none(), "unset: left out");
    }
}
