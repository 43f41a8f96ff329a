//! Nothing planted on disk steers where ftpscope writes (docs/security.md). Each test plants
//! what a hostile local user could: a symbolic link or a hard link at every name a run
//! creates, a link as the output folder itself, a folder swapped for a link while files are
//! being written; and checks that the file or folder the link points at is untouched.

// Test code: a failed unwrap is a failed test, said with its place.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{ftpscope, temp_dir};
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Every path below `dir`, relative to it, folders before what they hold.
fn walk(dir: &Path) -> Vec<PathBuf> {
    fn go(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            out.push(path.strip_prefix(base).unwrap().to_path_buf());
            if e.file_type().unwrap().is_dir() {
                go(base, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    go(dir, dir, &mut out);
    out
}

/// A folder outside the output folder with one file in it: what a planted link points at.
/// The folder is removed when the victim is dropped.
struct Victim {
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Victim {
    fn new(test: &str) -> Victim {
        let tmp = temp_dir("security", &format!("{test}-victim"));
        let dir = tmp.path().to_path_buf();
        std::fs::write(dir.join("precious"), "precious").unwrap();
        Victim { dir, _tmp: tmp }
    }

    fn file(&self) -> PathBuf {
        self.dir.join("precious")
    }

    fn assert_untouched(&self, what: &str) {
        let names: Vec<_> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            ["precious"],
            "{what}: nothing new in the victim folder"
        );
        assert_eq!(
            std::fs::read_to_string(self.file()).unwrap(),
            "precious",
            "{what}: the victim file is unchanged"
        );
    }
}

/// The runs whose every created name gets a link planted: listings, a REST resume with its
/// combined file, a TYPE A rewrite, several sessions.
const RUNS: &[(&str, &[&str])] = &[
    ("pureftpd-rest-resume.pcap", &[]),
    ("pureftpd-list-mlsd.pcap", &[]),
    ("proftpd-ascii.pcap", &["--ascii-eol", "local"]),
];

fn extract(pcap: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["-r", pcap.to_str().unwrap(), "-x", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push("--json");
    ftpscope(&args, None)
}

#[test]
fn links_planted_at_every_name_a_run_creates_are_never_followed() {
    for (name, extra) in RUNS {
        let pcap = fixture(name);
        let clean_tmp = temp_dir("security", &format!("clean-{name}"));
        let clean = clean_tmp.path();
        let out = extract(&pcap, clean, extra);
        assert_eq!(out.status.code(), Some(0), "{name}");
        let created = walk(clean);
        assert!(created.len() >= 4, "{name}: {created:?}");
        for rel in &created {
            let meta = std::fs::metadata(clean.join(rel)).unwrap();
            if meta.is_file() {
                // What crossed the wire may be secret: the owner's only, from its creation.
                assert_eq!(meta.mode() & 0o777, 0o600, "{name}: {}", rel.display());
            }
        }
        assert!(
            !created
                .iter()
                .any(|p| p.to_string_lossy().contains("partial")),
            "{name}: the partial folder is gone"
        );
        // The old, predictable name of the partial folder is planted too.
        let mut targets = created.clone();
        targets.push(PathBuf::from(".ftpscope-partial"));
        for rel in &targets {
            let is_dir = clean.join(rel).is_dir();
            let kinds: &[&str] = if is_dir {
                &["symlink"]
            } else {
                &["symlink", "hardlink"]
            };
            for kind in kinds {
                let what = format!("{name}: {kind} at {}", rel.display());
                let victim = Victim::new("planted");
                let tmp = temp_dir("security", "planted");
                let dir = tmp.path();
                if let Some(parent) = rel.parent() {
                    std::fs::create_dir_all(dir.join(parent)).unwrap();
                }
                let at = dir.join(rel);
                match (*kind, is_dir) {
                    ("symlink", true) => symlink(&victim.dir, &at).unwrap(),
                    ("symlink", false) => symlink(victim.file(), &at).unwrap(),
                    _ => std::fs::hard_link(victim.file(), &at).unwrap(),
                }
                let out = extract(&pcap, dir, extra);
                let stderr = String::from_utf8_lossy(&out.stderr);
                victim.assert_untouched(&what);
                // The planted entry is still there, still what it was.
                let meta = std::fs::symlink_metadata(&at).unwrap();
                assert_eq!(meta.is_symlink(), *kind == "symlink", "{what}");
                match out.status.code() {
                    // A file in the way: this run's file took another name (a folder in the
                    // way of a listing: the listing went into the session's folder).
                    Some(0) => {}
                    // A folder in the way: said, by name.
                    Some(4) => assert!(
                        stderr.contains("is not a folder (a link or a file is in the way"),
                        "{what}: {stderr}"
                    ),
                    other => panic!("{what}: exit {other:?}: {stderr}"),
                }
            }
        }
    }
}

/// A second run into the same folder adds its records to the index after the first run's:
/// no earlier entry is lost, none is overwritten, and no second index appears.
#[test]
fn a_second_run_adds_to_the_index_and_loses_nothing() {
    let pcap = fixture("pureftpd-list-mlsd.pcap");
    let tmp = temp_dir("security", "second-index");
    let dir = tmp.path();
    assert_eq!(extract(&pcap, dir, &[]).status.code(), Some(0));
    let first = std::fs::read(dir.join("index.jsonl")).unwrap();
    assert!(first.ends_with(b"\n") && !first.is_empty());
    let out = extract(&pcap, dir, &[]);
    assert_eq!(out.status.code(), Some(0));
    let both = std::fs::read(dir.join("index.jsonl")).unwrap();
    assert!(
        both.starts_with(&first),
        "the first run's entries come first, unchanged"
    );
    let second = &both[first.len()..];
    assert_eq!(
        second.split(|&b| b == b'\n').count(),
        first.split(|&b| b == b'\n').count()
    );
    assert!(!dir.join("index (2).jsonl").exists());
    // The second run's files took new names; its records say which.
    let files: Vec<String> = String::from_utf8_lossy(second)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["file"].as_str().map(str::to_owned))
        .collect();
    assert!(
        !files.is_empty() && files.iter().all(|f| f.contains(" (2)")),
        "{files:?}"
    );
    // Modes unchanged: still the owner's only.
    let meta = std::fs::metadata(dir.join("index.jsonl")).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o600);
}

/// An index an earlier run left unfinished (no newline at its end) gets one before this run's
/// first record, so that every line stays a record.
#[test]
fn an_unfinished_index_line_is_ended_before_adding() {
    let pcap = fixture("pureftpd-list-mlsd.pcap");
    let tmp = temp_dir("security", "unfinished-index");
    let dir = tmp.path();
    std::fs::create_dir_all(dir).unwrap();
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dir.join("index.jsonl"))
            .unwrap();
        std::io::Write::write_all(&mut f, b"{\"type\":\"transfer\",\"cut").unwrap();
    }
    assert_eq!(extract(&pcap, dir, &[]).status.code(), Some(0));
    let index = std::fs::read_to_string(dir.join("index.jsonl")).unwrap();
    let mut lines = index.lines();
    assert_eq!(lines.next(), Some("{\"type\":\"transfer\",\"cut"));
    for line in lines {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
}

/// What ftpscope may not add to stays untouched, and this run's index takes a new name, said
/// on standard error: a file of another mode than ftpscope makes (another user's, or one
/// shared), a hard link (the links test above plants links at every name, index.jsonl too).
#[test]
fn an_index_not_ours_is_left_alone() {
    let pcap = fixture("pureftpd-list-mlsd.pcap");
    let tmp = temp_dir("security", "foreign-index");
    let dir = tmp.path();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("index.jsonl"), "theirs\n").unwrap();
    let mut perms = std::fs::metadata(dir.join("index.jsonl"))
        .unwrap()
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o644);
    std::fs::set_permissions(dir.join("index.jsonl"), perms).unwrap();
    let out = extract(&pcap, dir, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(dir.join("index.jsonl")).unwrap(),
        "theirs\n"
    );
    assert!(dir.join("index (2).jsonl").exists());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not a file ftpscope may add to") && stderr.contains("index (2).jsonl"),
        "{stderr}"
    );
}

/// `-x LINK` is refused before any packet is read: the link's target stays untouched.
#[test]
fn an_output_folder_that_is_a_link_is_refused() {
    let victim = Victim::new("root-link");
    let tmp = temp_dir("security", "root-link");
    let dir = tmp.path();
    let link = dir.join("out");
    symlink(&victim.dir, &link).unwrap();
    let out = extract(&fixture("pureftpd-list-mlsd.pcap"), &link, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.starts_with("ftpscope: cannot extract: ") && stderr.contains("is not a folder"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing analysed");
    victim.assert_untouched("-x at a link");
}

/// Sessions' folders are swapped for links to another folder, again and again, while a run
/// writes hundreds of files into them: every write stays below the output folder.
#[test]
fn a_folder_swapped_for_a_link_while_files_are_written_is_never_followed() {
    let tmp = temp_dir("security", "swap");
    let dir = tmp.path();
    let pcap = dir.join("many.pcap");
    let generated = std::process::Command::new(env!("CARGO_BIN_EXE_ftpscope-gen"))
        .args(["-q", "--size", "6M", "--sessions", "60", "--max-file", "8K"])
        .args(["--concurrent", "1", "-o"])
        .arg(&pcap)
        .status()
        .unwrap();
    assert!(generated.success());
    let victim = Victim::new("swap");
    let out = dir.join("out");
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, out, target) = (Arc::clone(&stop), out.clone(), victim.dir.clone());
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            for session in (1..=60).cycle() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let real = out.join(format!("session-{session}"));
                let moved = out.join(format!("session-{session}.real"));
                // The folder moves away and a link takes its name, then back.
                if std::fs::rename(&real, &moved).is_ok() {
                    let _ = symlink(&target, &real);
                    std::thread::yield_now();
                    let _ = std::fs::remove_file(&real);
                    let _ = std::fs::rename(&moved, &real);
                    swaps += 1;
                }
            }
            swaps
        })
    };
    let run = extract(&pcap, &out, &[]);
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    assert!(swaps > 10, "the folder was swapped {swaps} times");
    victim.assert_untouched("swapped folder");
    // Placements that met the link say so; none went through it.
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(matches!(run.status.code(), Some(0 | 4)), "{stderr}");
    let index = std::fs::read_to_string(out.join("index.jsonl")).unwrap();
    let mut files = 0;
    for line in index.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        if let Some(file) = record["file"].as_str() {
            files += 1;
            assert!(Path::new(file).starts_with(&out), "{file}");
        }
    }
    assert!(files > 100, "{files} files written");
}

/// An unusable `-x` fails before the first packet is read: here the capture never ends
/// (standard input stays open), and the run still ends at once with exit status 4.
#[test]
fn an_unusable_output_folder_fails_before_reading() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let tmp = temp_dir("security", "unusable");
    let dir = tmp.path();
    std::fs::write(dir.join("file"), "x").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ftpscope"))
        .args(["-r", "-", "--json", "-x"])
        .arg(dir.join("file"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // A pcap header (Ethernet), then nothing: reading packets would wait forever.
    let mut header = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    header.extend_from_slice(&[0; 8]);
    header.extend_from_slice(&65535u32.to_le_bytes());
    header.extend_from_slice(&1u32.to_le_bytes());
    stdin.write_all(&header).unwrap();
    stdin.flush().unwrap();
    // A guard so a regression fails the test instead of hanging it.
    let pid = child.id();
    let ended = Arc::new(AtomicBool::new(false));
    let guard = {
        let ended = Arc::clone(&ended);
        std::thread::spawn(move || {
            for _ in 0..600 {
                std::thread::sleep(std::time::Duration::from_millis(100));
                if ended.load(Ordering::Relaxed) {
                    return;
                }
            }
            let _ = Command::new("kill").arg(pid.to_string()).status();
        })
    };
    let out = child.wait_with_output().unwrap();
    ended.store(true, Ordering::Relaxed);
    guard.join().unwrap();
    drop(stdin);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.starts_with("ftpscope: cannot extract: ") && stderr.contains("file"),
        "{stderr}"
    );
}
