//! Live capture, end to end: a real FTP server (pyftpdlib) and a real client (curl) in a
//! network namespace this test creates, ftpscope capturing its loopback with `-i lo`, stopped
//! by a signal. Every transfer record is checked against what the client really sent and
//! received, and every extracted file byte for byte.
//!
//! Needs root (CI runs it as root); elsewhere, without root, the capture tests are skipped
//! with a note. Without the `live` feature only the "rebuild with --features live" message is
//! checked.

// Test code: a failed unwrap is a failed test, said with its place.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(not(feature = "live"))]
#[test]
fn without_the_feature_live_flags_say_how_to_rebuild() {
    for args in [&["-i", "lo"][..], &["-D"][..]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ftpscope"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(
                "built without live capture: rebuild with --features live (needs libpcap-dev)"
            ),
            "{err}"
        );
    }
}

#[cfg(feature = "live")]
#[path = "live/harness.rs"]
mod harness;

#[cfg(feature = "live")]
#[path = "common/tmux.rs"]
mod tmux;

#[cfg(feature = "live")]
mod live {
    use super::harness::*;
    use super::tmux::Tmux;
    use serde_json::Value;
    use std::io::Write;
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::process::CommandExt;
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::thread;
    use std::time::Duration;

    const NOBODY: u32 = 65534;

    /// True when the test can run; false (with a note) when it must be skipped. In CI a
    /// missing prerequisite is a failure, never a skip.
    fn can_run(test: &str) -> bool {
        match missing_prerequisite() {
            None => true,
            Some(why) if std::env::var_os("CI").is_some() => {
                panic!("{test}: {why}; CI must run the live tests as root (see .ci/run)")
            }
            Some(why) => {
                // Straight to the terminal: the test harness hides eprintln! of passing tests.
                let _ = writeln!(std::io::stderr(), "note: {test} skipped: {why}");
                false
            }
        }
    }

    struct Expected {
        command: &'static str,
        full_path: String,
        direction: &'static str,
        mode: DataMode,
        bytes: Vec<u8>,
    }

    fn one<'a>(transfers: &[&'a Value], command: &str, full_path: &str) -> &'a Value {
        let found: Vec<&&Value> = transfers
            .iter()
            .filter(|t| t["command"] == command && t["full_path"] == full_path)
            .collect();
        assert_eq!(found.len(), 1, "{command} {full_path}: {transfers:#?}");
        found[0]
    }

    fn file_of(t: &Value) -> PathBuf {
        PathBuf::from(t["file"].as_str().unwrap_or_else(|| panic!("no file: {t}")))
    }

    #[test]
    fn follows_real_uploads_and_downloads_in_passive_and_active_mode() {
        if !can_run("follows_real_uploads_and_downloads_in_passive_and_active_mode") {
            return;
        }
        let tmp = TempDir::new("modes");
        let root = tmp.path().join("srv");
        let local = tmp.path().join("client");
        // Written by ftpscope after -Z nobody: a folder nobody may write into.
        let work = tmp.path().join("work");
        for d in [&root.join("incoming"), &root.join("pub"), &local, &work] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::os::unix::fs::chown(&work, Some(NOBODY), Some(NOBODY)).unwrap();

        let modes = [
            DataMode::Epsv,
            DataMode::Pasv,
            DataMode::Eprt,
            DataMode::Port,
        ];
        let sizes = [3_000_000usize, 1, 250_000, 0];
        let mut expected = Vec::new();
        for (i, (mode, size)) in modes.iter().zip(sizes).enumerate() {
            let name = format!("{}.bin", mode.announced_by().to_lowercase());
            let down = pseudo_random(size, i as u64 + 1);
            std::fs::write(root.join("pub").join(&name), &down).unwrap();
            expected.push(Expected {
                command: "RETR",
                full_path: format!("/pub/{name}"),
                direction: "download",
                mode: *mode,
                bytes: down,
            });
            let up = pseudo_random(sizes[(i + 1) % sizes.len()] + 17, i as u64 + 100);
            std::fs::write(local.join(format!("up-{name}")), &up).unwrap();
            expected.push(Expected {
                command: "STOR",
                full_path: format!("/incoming/{name}"),
                direction: "upload",
                mode: *mode,
                bytes: up,
            });
        }
        // Two downloads at once, in two sessions.
        for (i, size) in [700_000usize, 900_000].into_iter().enumerate() {
            let name = format!("parallel-{i}.bin");
            let bytes = pseudo_random(size, 1000 + i as u64);
            std::fs::write(root.join("pub").join(&name), &bytes).unwrap();
            expected.push(Expected {
                command: "RETR",
                full_path: format!("/pub/{name}"),
                direction: "download",
                mode: DataMode::Epsv,
                bytes,
            });
        }

        let ns = Netns::create("modes");
        let server = FtpServer::start(&ns, &root, 2121);
        let out_dir = work.join("out");
        let savefile = work.join("live.pcap");
        let scope = Ftpscope::start(
            &ns,
            &[
                "-i",
                "lo",
                "--json",
                "-x",
                out_dir.to_str().unwrap(),
                "-w",
                savefile.to_str().unwrap(),
                "-Z",
                "nobody",
            ],
        );

        let mut sessions = 0;
        for e in expected
            .iter()
            .filter(|e| !e.full_path.contains("parallel"))
        {
            let name = e.full_path.rsplit('/').next().unwrap();
            let (remote, path, upload) = if e.command == "RETR" {
                (
                    format!("pub/{name}"),
                    local.join(format!("got-{name}")),
                    false,
                )
            } else {
                (
                    format!("incoming/{name}"),
                    local.join(format!("up-{name}")),
                    true,
                )
            };
            run_curl(curl(&ns, &server, e.mode, &remote, &path, upload, None));
            sessions += 1;
            if !upload {
                assert_eq!(std::fs::read(&path).unwrap(), e.bytes, "curl got {remote}");
            }
        }
        let parallel: Vec<_> = (0..2)
            .map(|i| {
                let mut c = curl(
                    &ns,
                    &server,
                    DataMode::Epsv,
                    &format!("pub/parallel-{i}.bin"),
                    &local.join(format!("got-parallel-{i}.bin")),
                    false,
                    Some(4_000_000),
                );
                c.spawn().unwrap()
            })
            .collect();
        for mut child in parallel {
            let status = wait_with_limit(&mut child, Duration::from_secs(60), "curl");
            assert!(status.success());
            sessions += 1;
        }
        // A listing of what was uploaded (curl sends LIST for a URL ending in /).
        let listing = local.join("listing.txt");
        run_curl(curl(
            &ns,
            &server,
            DataMode::Epsv,
            "incoming/",
            &listing,
            false,
            None,
        ));
        sessions += 1;
        let listing_text = std::fs::read(&listing).unwrap();

        // Records stream while ftpscope runs: every transfer is out before it is stopped.
        let total = expected.len() + 1;
        assert!(
            scope.wait_for_transfers(total, Duration::from_secs(30)),
            "only {} of {total} transfers reported while capturing",
            of_type(&scope.records(), "transfer").len()
        );
        let (status, records, stderr) = scope.stop("INT");
        assert!(status.success(), "exit {status:?}: {stderr}");
        assert!(
            stderr.contains("the kernel dropped 0, "),
            "drops while capturing: {stderr}"
        );

        let transfers = of_type(&records, "transfer");
        assert_eq!(transfers.len(), total, "{transfers:#?}");
        for e in &expected {
            let t = one(&transfers, e.command, &e.full_path);
            let sha = sha256_hex(&e.bytes);
            let what = format!("{} {}", e.command, e.full_path);
            assert_eq!(t["status"], "complete", "{what}: {t}");
            assert_eq!(t["direction"], e.direction, "{what}");
            assert_eq!(t["mode"], e.mode.mode(), "{what}");
            assert_eq!(t["announced_by"], e.mode.announced_by(), "{what}");
            assert_eq!(t["link"], "exact", "{what}");
            assert_eq!(t["type_code"], "I", "{what}");
            assert_eq!(t["bytes"], e.bytes.len(), "{what}");
            assert_eq!(t["gap_bytes"], 0, "{what}");
            assert_eq!(t["missing_bytes"], 0, "{what}");
            assert_eq!(t["capture_drops"], 0, "{what}");
            assert_eq!(t["sha256"], sha.as_str(), "{what}");
            assert!(t["session"].as_u64().is_some(), "{what}");
            if e.command == "RETR" {
                assert_eq!(t["expected_bytes"], e.bytes.len(), "{what} (from SIZE)");
            } else {
                let stored = server.root.join(e.full_path.trim_start_matches('/'));
                assert_eq!(sha256_file(&stored), sha, "{what}: the server stored it");
            }
            if e.bytes.is_empty() {
                continue; // a transfer of no byte may leave no file
            }
            let file = file_of(t);
            assert!(file.starts_with(&out_dir), "{}", file.display());
            assert_eq!(sha256_file(&file), sha, "{what}: extracted file");
            assert_eq!(
                std::fs::metadata(&file).unwrap().uid(),
                NOBODY,
                "{what}: -Z nobody"
            );
        }
        // curl changes into the folder and lists it with no argument.
        let list = one(&transfers, "LIST", "/incoming");
        assert_eq!(list["status"], "complete", "{list}");
        assert_eq!(list["listing_entries"], 4, "{list}");
        // The listing crossed in TYPE A with CRLF line ends; curl wrote it with LF.
        let wire = std::fs::read(file_of(list)).unwrap();
        assert_eq!(list["sha256"], sha256_hex(&wire).as_str());
        assert_eq!(
            String::from_utf8(wire)
                .unwrap()
                .replace("\r\n", "\n")
                .into_bytes(),
            listing_text,
            "extracted listing"
        );

        let session_records = of_type(&records, "session");
        assert_eq!(session_records.len(), sessions);
        for s in &session_records {
            assert_eq!(s["user"], USER);
            assert_eq!(s["login"], "ok");
            assert_eq!(s["end_reason"], "closed", "{s}");
        }
        let summary = records.last().unwrap();
        assert_eq!(summary["type"], "summary");
        assert_eq!(summary["interface"], "lo");
        assert_eq!(summary["inputs"], serde_json::json!(["lo"]));
        assert_eq!(summary["kernel_drops"], 0, "{summary}");
        assert_eq!(summary["transfers_with_drops"], 0, "{summary}");
        assert_eq!(summary["transfers"], total);
        assert!(summary["received"].as_u64().unwrap() >= summary["frames"].as_u64().unwrap());
        assert_eq!(summary["anomalies"], serde_json::json!({}), "{summary}");

        let index = std::fs::read_to_string(out_dir.join("index.jsonl")).unwrap();
        assert_eq!(index.lines().count(), total);
        let partial_left = std::fs::read_dir(&out_dir).unwrap().any(|e| {
            let name = e.unwrap().file_name();
            name.to_string_lossy()
                .starts_with(ftpscope::transfers::PARTIAL_PREFIX)
        });
        assert!(!partial_left, "temporary folder removed");

        // -w kept every packet: the savefile, read back, tells the same story.
        assert_eq!(std::fs::metadata(&savefile).unwrap().uid(), NOBODY);
        // It holds every password that crossed: its owner's only, from its creation.
        assert_eq!(std::fs::metadata(&savefile).unwrap().mode() & 0o777, 0o600);
        let again = analyse_file(&savefile);
        assert!(again.status.success());
        let again: Vec<Value> = String::from_utf8(again.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let mut live_view: Vec<String> = transfers
            .iter()
            .map(|t| format!("{} {} {}", t["full_path"], t["status"], t["sha256"]))
            .collect();
        let mut file_view: Vec<String> = of_type(&again, "transfer")
            .iter()
            .map(|t| format!("{} {} {}", t["full_path"], t["status"], t["sha256"]))
            .collect();
        live_view.sort();
        file_view.sort();
        assert_eq!(live_view, file_view);
    }

    /// A rate-limited PASV upload in a namespace of its own, 1.5 s under way, with ftpscope
    /// capturing (`args` plus `--json -x DIR`). An upload, because curl's rate limit then holds
    /// the bytes back on the wire (a download would cross at once into the client's socket
    /// buffer). Fields drop in order: the client, ftpscope, the server, the namespace, the files.
    struct SlowUpload {
        client: std::process::Child,
        scope: Ftpscope,
        _server: FtpServer,
        _ns: Netns,
        _tmp: TempDir,
        bytes: Vec<u8>,
    }

    impl SlowUpload {
        fn start(tag: &str, name: &str, size: usize, rate: u64, args: &[&str]) -> SlowUpload {
            let tmp = TempDir::new(tag);
            let root = tmp.path().join("srv");
            std::fs::create_dir_all(&root).unwrap();
            let bytes = pseudo_random(size, size as u64 ^ rate);
            let local = tmp.path().join(name);
            std::fs::write(&local, &bytes).unwrap();
            let ns = Netns::create(tag);
            let server = FtpServer::start(&ns, &root, 2121);
            let out_dir = tmp.path().join("out");
            let mut full_args = args.to_vec();
            full_args.extend(["--json", "-x", out_dir.to_str().unwrap()]);
            let scope = Ftpscope::start(&ns, &full_args);
            let client = curl(&ns, &server, DataMode::Pasv, name, &local, true, Some(rate))
                .spawn()
                .unwrap();
            thread::sleep(Duration::from_millis(1500));
            SlowUpload {
                client,
                scope,
                _server: server,
                _ns: ns,
                _tmp: tmp,
                bytes,
            }
        }
    }

    #[test]
    fn sigterm_mid_transfer_finishes_it_with_an_honest_verdict() {
        if !can_run("sigterm_mid_transfer_finishes_it_with_an_honest_verdict") {
            return;
        }
        let size = 8_000_000;
        // Any interface: Linux cooked capture (and loopback packets seen twice).
        let SlowUpload {
            _tmp,
            _ns,
            _server,
            scope,
            mut client,
            bytes,
        } = SlowUpload::start("term", "slow.bin", size, 2_000_000, &["-i", "any"]);
        let (status, records, stderr) = scope.stop("TERM");
        let _ = client.kill();
        let _ = client.wait();
        assert!(status.success(), "exit {status:?}: {stderr}");

        let transfers = of_type(&records, "transfer");
        assert_eq!(transfers.len(), 1, "{records:#?}");
        let t = transfers[0];
        let got = t["bytes"].as_u64().unwrap() as usize;
        assert!(got > 0 && got < size, "{t}");
        assert_eq!(t["command"], "STOR", "{t}");
        assert_eq!(t["status"], "truncated", "{t}");
        assert_eq!(t["gap_bytes"], 0, "{t}");
        assert_eq!(t["capture_drops"], 0, "{t}");
        // Exactly the bytes that crossed before the stop: the start of the file.
        assert_eq!(t["sha256"], sha256_hex(&bytes[..got]).as_str());
        let file = file_of(t);
        assert!(
            file.to_str().unwrap().ends_with("slow.bin.truncated"),
            "{t}"
        );
        assert_eq!(std::fs::read(&file).unwrap(), &bytes[..got]);
        let sessions = of_type(&records, "session");
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0]["end_reason"], "capture_end");
        let summary = records.last().unwrap();
        assert_eq!(summary["type"], "summary");
        assert_eq!(summary["interface"], "any");
    }

    fn ftpscope_as(uid: Option<u32>, bin: &Path, args: &[&str]) -> (Option<i32>, String, String) {
        let mut c = Command::new(bin);
        c.args(args);
        if let Some(uid) = uid {
            c.uid(uid).gid(uid);
        }
        // A copy of the binary just written may still be open for writing in a child that
        // another test thread forked meanwhile (until that child's exec closes it): exec then
        // fails with ETXTBSY. Try again for a moment; anything else is the test's error.
        let mut tries = 0;
        let out = loop {
            match c.output() {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => break other.unwrap(),
            }
        };
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    #[test]
    fn errors_say_what_to_do() {
        let bin = Path::new(env!("CARGO_BIN_EXE_ftpscope"));
        // Needs no privilege: the interface list is public.
        let (code, _, err) = ftpscope_as(None, bin, &["-i", "nosuch0"]);
        assert_eq!(code, Some(1));
        assert!(
            err.contains("no interface named nosuch0; interfaces: ") && err.contains("lo"),
            "{err}"
        );
        let (code, out, _) = ftpscope_as(None, bin, &["-D"]);
        assert_eq!(code, Some(0));
        assert!(out.lines().any(|l| l.contains(".lo ")), "{out}");

        if !can_run("errors_say_what_to_do (as root)") {
            return;
        }
        // A copy nobody may run, wherever the build lives.
        let tmp = TempDir::new("errors");
        let copy = tmp.path().join("ftpscope");
        std::fs::copy(bin, &copy).unwrap();
        let (code, _, err) = ftpscope_as(Some(NOBODY), &copy, &["-i", "lo"]);
        assert_eq!(code, Some(1), "{err}");
        assert!(
            err.contains("no permission to capture on lo")
                && err.contains("run ftpscope as root")
                && err.contains("CAP_NET_RAW"),
            "{err}"
        );
        let (code, _, err) = ftpscope_as(None, bin, &["-i", "lo", "-f", "tcp port"]);
        assert_eq!(code, Some(1));
        assert!(err.contains("invalid capture filter \"tcp port\""), "{err}");
        let (code, _, err) = ftpscope_as(None, bin, &["-i", "lo", "-Z", "no-such-user-x"]);
        assert_eq!(code, Some(1));
        assert!(err.contains("-Z no-such-user-x: no such user"), "{err}");

        // -w never follows a link nor overwrites a file: a planted link is refused, and what
        // it points at stays as it was.
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let planted = tmp.path().join("planted.pcap");
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        let (code, _, err) = ftpscope_as(None, bin, &["-i", "lo", "-w", planted.to_str().unwrap()]);
        assert_eq!(code, Some(1), "{err}");
        assert!(
            err.contains("planted.pcap: it already exists (ftpscope never overwrites a file"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        // An unusable -x fails before a packet is analysed, with exit status 4.
        let (code, _, err) = ftpscope_as(None, bin, &["-i", "lo", "-x", victim.to_str().unwrap()]);
        assert_eq!(code, Some(4), "{err}");
        assert!(err.contains("ftpscope: cannot extract: "), "{err}");
    }

    /// A connection that goes silent (the client frozen mid-upload, no FIN, no RST) is closed
    /// by `--idle-timeout` while the capture goes on: time advances without packets.
    #[test]
    fn a_silent_connection_ends_by_idle_timeout_while_capturing() {
        if !can_run("a_silent_connection_ends_by_idle_timeout_while_capturing") {
            return;
        }
        let size = 8_000_000;
        let SlowUpload {
            _tmp,
            _ns,
            _server,
            scope,
            mut client,
            bytes,
        } = SlowUpload::start(
            "idle",
            "stalled.bin",
            size,
            1_000_000,
            &["-i", "lo", "--idle-timeout", "2"],
        );
        let frozen = Command::new("kill")
            .args(["-STOP", &client.id().to_string()])
            .status()
            .unwrap();
        assert!(frozen.success());
        // Two seconds of silence, then the next sweep (at most a second later).
        let ended = scope.wait_for_transfers(1, Duration::from_secs(15));
        let while_running = scope.records();
        let _ = client.kill();
        let _ = client.wait();
        assert!(
            ended,
            "no transfer ended by idle timeout: {while_running:#?}"
        );
        let sessions = of_type(&while_running, "session");
        assert_eq!(sessions.len(), 1, "{while_running:#?}");
        assert_eq!(sessions[0]["end_reason"], "idle", "{}", sessions[0]);

        let (status, records, stderr) = scope.stop("INT");
        assert!(status.success(), "exit {status:?}: {stderr}");
        let transfers = of_type(&records, "transfer");
        assert_eq!(transfers.len(), 1, "{records:#?}");
        let t = transfers[0];
        let got = t["bytes"].as_u64().unwrap() as usize;
        assert!(got > 0 && got < size, "{t}");
        assert_eq!(t["status"], "truncated", "{t}");
        assert_eq!(t["sha256"], sha256_hex(&bytes[..got]).as_str());
        assert_eq!(std::fs::read(file_of(t)).unwrap(), &bytes[..got]);
        let summary = records.last().unwrap();
        assert_eq!(summary["anomalies"]["flow_idle_timeout"], 2, "{summary}");
    }

    /// `-i` on a terminal opens the TUI: sessions and transfers appear as they happen, the
    /// status bar counts packets and drops, `q` stops the capture and restores the terminal.
    #[test]
    fn live_capture_in_the_terminal_ui() {
        if !can_run("live_capture_in_the_terminal_ui") {
            return;
        }
        if !Tmux::available("live_capture_in_the_terminal_ui") {
            return;
        }
        let tmp = TempDir::new("tui");
        let root = tmp.path().join("srv");
        std::fs::create_dir_all(&root).unwrap();
        let bytes = pseudo_random(400_000, 21);
        std::fs::write(root.join("shown.bin"), &bytes).unwrap();
        let ns = Netns::create("tui");
        let server = FtpServer::start(&ns, &root, 2121);
        let cmd = format!(
            "ip netns exec {} {} -i lo; echo EXITED $?; sleep 30",
            ns.name,
            env!("CARGO_BIN_EXE_ftpscope")
        );
        let term = Tmux::start("live-tui", &cmd, 110, 30);
        term.wait_for("live on lo");
        term.wait_for("live · ");
        let got = tmp.path().join("got.bin");
        run_curl(curl(
            &ns,
            &server,
            DataMode::Epsv,
            "shown.bin",
            &got,
            false,
            None,
        ));
        assert_eq!(std::fs::read(&got).unwrap(), bytes);
        // The session ends (curl closed it) and its transfer is listed while capturing (the
        // UI opens on its Overview: 2 is Sessions, 3 Transfers).
        term.key("2");
        let screen = term.wait_for(" closed ");
        let row = screen
            .lines()
            .find(|l| l.contains(" closed "))
            .unwrap_or_default();
        assert!(
            row.contains(&format!(" {USER} ")) && row.contains(" ok ") && row.contains(":2121"),
            "session row: {row}"
        );
        assert!(screen.contains("no drop"), "{screen}");
        term.key("3");
        let screen = term.wait_for("complete");
        assert!(screen.contains("/shown.bin"), "{screen}");
        let sha = sha256_hex(&bytes);
        assert!(screen.contains(&sha[..12]), "{sha} not on:\n{screen}");
        term.key("q");
        let screen = term.wait_for("EXITED 0");
        assert!(
            screen.contains("the kernel dropped 0"),
            "the capture's counters after the UI:\n{screen}"
        );
        assert!(!term.alternate_screen_on(), "alternate screen left");
    }
}
