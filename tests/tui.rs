//! The terminal UI: snapshot tests render each view into ratatui's TestBackend for a fixture
//! capture and compare with tests/golden/tui/*.txt (UPDATE_GOLDEN=1 rewrites them), and the
//! keymap's actions are checked through App::update. An end-to-end test drives the real binary
//! in tmux.

// Test code: a failed unwrap is a failed test, said with its place.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/tmux.rs"]
mod tmux;

use ftpscope::capture::{CaptureReader, MergedCapture};
use ftpscope::pipeline::{Output, Pipeline, Record, RunSummary};
use ftpscope::transfers::TransferTracker;
use ftpscope::tui::app::{App, FileJob, Msg, Overlay, Pane};
use ftpscope::tui::keymap::Action;
use ftpscope::tui::render_text;
use ftpscope_core::{Analyzer, DetectedBy, Limits, TimeSpan, Timestamp};
use std::path::{Path, PathBuf};
use tmux::Tmux;

struct Collect(Vec<Record>);

impl Output for Collect {
    fn record(&mut self, r: &Record) -> std::io::Result<()> {
        self.0.push(r.clone());
        Ok(())
    }
    fn finish(&mut self, _: &RunSummary) -> std::io::Result<()> {
        Ok(())
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An App loaded with a capture, as the worker would have fed it.
fn app_for(capture: &Path, extract: &Path) -> App {
    let reader = CaptureReader::open(
        Box::new(std::fs::File::open(capture).unwrap()) as Box<dyn std::io::Read + Send>
    )
    .unwrap();
    let name = capture.file_name().unwrap().to_string_lossy().into_owned();
    let mut merged = MergedCapture::new(vec![(name.clone(), reader)]);
    let mut out = Collect(Vec::new());
    let summary = {
        let root = ftpscope::output::outdir::OutDir::open_or_create(extract).unwrap();
        let tracker = TransferTracker::new(Some(root)).unwrap();
        let mut p = Pipeline {
            analyzer: Analyzer::new(Limits::default()),
            tracker,
            outputs: vec![&mut out],
        };
        p.run(vec![name.clone()], &mut merged, &mut |_| {}).unwrap()
    };
    let mut app = App::new(name, None, false);
    app.update(Action::Resize(80, 24));
    app.apply(Msg::Records(out.0));
    app.apply(Msg::Done(Box::new(summary)));
    app.refresh();
    app
}

/// A fresh, empty folder for one test, removed when the returned guard is dropped.
fn temp(name: &str) -> tempfile::TempDir {
    common::temp_dir("tui-test", name)
}

fn snapshot(name: &str, app: &App, width: u16, height: u16) {
    let text = render_text(app, width, height);
    assert!(!text.contains('\x1b'), "raw escape in the screen");
    let path = root().join("tests/golden/tui").join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} missing: run UPDATE_GOLDEN=1", path.display()));
    assert_eq!(text, want, "{name} differs from {}", path.display());
}

/// Types `text` at the prompt `key` opened.
fn prompt(app: &mut App, key: Action, text: &str) {
    app.update(key);
    assert!(app.prompt.is_some(), "a prompt is open");
    let old = app.prompt.as_ref().unwrap().text.chars().count();
    for _ in 0..old {
        app.update(Action::InputBackspace);
    }
    for c in text.chars() {
        app.update(Action::Input(c));
    }
    app.update(Action::Enter);
}

/// Every view, at 80×24 (complete) and 60×15 (still usable: the tab bar and `?`/`q` shown).
#[test]
fn views_render_as_their_snapshots() {
    for (w, h) in [(80u16, 24u16), (60, 15)] {
        let tmp = temp(&format!("snap-{w}"));
        let dir = tmp.path();
        let mut app = app_for(&root().join("samples/demo.pcap"), dir);
        app.update(Action::Resize(w, h));
        let snap = |name: &str, app: &App| {
            let screen = render_text(app, w, h);
            let title = screen.lines().next().unwrap();
            assert!(
                title.contains("1 Over") && title.contains("4 Anom"),
                "{name}: {title}"
            );
            assert!(title.contains("?help q quit"), "{name}: {title}");
            snapshot(&format!("{name}-{w}x{h}"), app, w, h);
        };
        assert_eq!(app.tab, 0, "the UI opens on the overview");
        snap("overview", &app);
        app.update(Action::Tab(1));
        snap("sessions", &app);
        app.update(Action::Enter);
        assert_eq!(app.pane, Pane::Dialogue);
        for _ in 0..14 {
            app.update(Action::Down);
        }
        snap("dialogue", &app);
        app.update(Action::Enter);
        assert!(
            matches!(app.overlay, Overlay::Detail(_)),
            "Enter on a transfer opens it"
        );
        assert!(app.hex, "binary content opens in hex");
        snap("detail-hex", &app);
        app.update(Action::End);
        snap("detail-hex-end", &app);
        app.update(Action::Back);
        for _ in 0..6 {
            app.update(Action::Up);
        }
        app.update(Action::Enter); // the LIST transfer: parsed entries
        snap("detail-listing", &app);
        app.update(Action::ToggleHex);
        app.update(Action::ToggleHex);
        app.update(Action::Back);
        app.update(Action::Info);
        snap("info", &app);
        app.update(Action::Back);
        app.update(Action::Follow);
        snap("follow", &app);
        app.update(Action::Back);
        app.update(Action::Back); // to the session list
        app.update(Action::Search);
        for c in "user:fxuser".chars() {
            app.update(Action::Input(c));
        }
        snap("filter-prompt", &app);
        app.update(Action::Back);
        app.update(Action::Tab(2));
        snap("transfers", &app);
        app.update(Action::Tab(3));
        snap("anomalies", &app);
        app.update(Action::Help);
        snap("help", &app);
        app.update(Action::Tab(0)); // any key but a scroll closes help
        assert_eq!(app.overlay, Overlay::None);
        for (w, h) in [(40, 10), (20, 6), (10, 3), (200, 60)] {
            let _ = render_text(&app, w, h);
        }
    }
}

/// FTPS: a lock on the session and its transfers, and the TLS facts in the session's facts.
#[test]
fn tls_sessions_show_a_lock_and_their_facts() {
    let tmp = temp("tls");
    let dir = tmp.path();
    let mut app = app_for(
        &root().join("tests/fixtures/ftps/vsftpd-curl-tls13-passive.pcap"),
        dir,
    );
    app.update(Action::Tab(1));
    let screen = render_text(&app, 100, 24);
    assert!(screen.contains("🔒"), "{screen}");
    app.update(Action::Info);
    let screen = render_text(&app, 100, 30);
    assert!(
        screen.contains("TLS 1.3 · TLS_AES_256_GCM_SHA384"),
        "{screen}"
    );
    assert!(screen.contains("not decrypted (no keys)"), "{screen}");
    assert!(screen.contains("server software: vsFTPd"), "{screen}");
    assert!(
        screen.contains("banner: ftpscope FTPS lab (vsftpd) ready."),
        "{screen}"
    );
    snapshot("info-tls-100x30", &app, 100, 30);
}

/// Synthetic sessions from `clients`, each with a user and a RETR.
fn app_with_clients(clients: &[(&str, &str, bool)]) -> App {
    use ftpscope_core::event::{CommandLine, EndReason, LoginState, Reply};
    use ftpscope_core::{Exchange, SessionStart, SessionSummary};
    let mut app = App::new("synthetic".into(), None, false);
    app.update(Action::Resize(100, 30));
    let mut records = Vec::new();
    for (i, (client, user, ok)) in clients.iter().enumerate() {
        let id = i as u64 + 1;
        let ts = Timestamp::from_secs(id as i64);
        let client: std::net::SocketAddr = client.parse().unwrap();
        let server: std::net::SocketAddr = "192.0.2.1:21".parse().unwrap();
        records.push(Record::SessionStarted(SessionStart {
            session: id,
            ts,
            client,
            server,
            detected_by: DetectedBy::Port21,
        }));
        records.push(Record::Exchange(Exchange {
            session: id,
            command: Some(CommandLine {
                ts: ts + TimeSpan::from_nanos(1),
                verb: b"USER".to_vec(),
                arg: user.as_bytes().to_vec(),
                secret: false,
            }),
            replies: vec![Reply {
                ts: ts + TimeSpan::from_nanos(2),
                code: 331,
                text: b"Password".to_vec(),
                lines_dropped: 0,
            }],
        }));
        records.push(Record::SessionEnded(SessionSummary {
            session: id,
            client,
            server,
            start: ts,
            end: ts + TimeSpan::from_nanos(10),
            user: Some(user.as_bytes().to_vec()),
            password: None,
            anonymous: false,
            login: if *ok {
                LoginState::Ok
            } else {
                LoginState::Failed
            },
            login_attempts: if *ok { 1 } else { 3 },
            tls: false,
            tls_info: None,
            commands: 2,
            transfers: 0,
            end_reason: EndReason::Closed,
            frames: None,
        }));
    }
    app.apply(Msg::Records(records));
    app.refresh();
    app
}

fn filtered(app: &mut App, query: &str) -> Vec<u64> {
    prompt(app, Action::Search, query);
    app.order
        .iter()
        .map(|&i| app.store.sessions[i].start.session)
        .collect()
}

#[test]
fn field_searches_match_exactly_and_are_shown() {
    let mut clients = vec![("10.0.11.1:4000", "alice", true)];
    for n in 10..=19 {
        clients.push((
            Box::leak(format!("10.0.11.{n}:4000").into_boxed_str()),
            "bob",
            false,
        ));
    }
    let mut app = app_with_clients(&clients);
    app.update(Action::Tab(1));
    assert_eq!(app.order.len(), 11);
    assert_eq!(filtered(&mut app, "host:10.0.11.1"), vec![1], "not .10-.19");
    assert_eq!(
        filtered(&mut app, "10.0.11.1"),
        vec![1],
        "a bare address too"
    );
    assert_eq!(filtered(&mut app, "host:10.0.11.").len(), 11, "a prefix");
    assert_eq!(
        filtered(&mut app, "host:10.0.11.0/28").len(),
        7,
        "a block: .1, .10-.15"
    );
    assert_eq!(filtered(&mut app, "user:bob").len(), 10);
    assert_eq!(
        filtered(&mut app, "user:bo").len(),
        0,
        "user names are whole"
    );
    assert_eq!(filtered(&mut app, "user:b*").len(), 10);
    assert_eq!(filtered(&mut app, "-user:bob"), vec![1]);
    assert_eq!(filtered(&mut app, "!status:failed"), vec![1]);
    assert_eq!(filtered(&mut app, "status:ok"), vec![1]);
    assert_eq!(filtered(&mut app, "cmd:user port:4000").len(), 11);
    assert_eq!(filtered(&mut app, "user:/^(alice|bob)$/").len(), 11);
    assert_eq!(filtered(&mut app, "host:10.0.11.12 user:bob"), vec![4]);
    let screen = render_text(&app, 100, 30);
    assert!(
        screen.contains("filter: host:10.0.11.12 user:bob"),
        "{screen}"
    );
    assert!(filtered(&mut app, "nobody-here").is_empty());
    let screen = render_text(&app, 100, 30);
    assert!(
        screen.contains("no session matches 'nobody-here'"),
        "{screen}"
    );
    assert!(filtered(&mut app, "colour:red").is_empty() || app.filters[1].error.is_some());
    assert!(render_text(&app, 100, 30).contains("unknown field colour"));
    // Per tab: the Transfers tab has its own, empty filter.
    app.update(Action::Tab(2));
    assert!(app.filters[2].text.is_empty());
    // Brute force on the overview, by the report's rule (20 failed logins from one client
    // within 15 minutes): ten clients, three failures each, are not one client; one client
    // failing often is.
    app.update(Action::Tab(0));
    let screen = render_text(&app, 100, 30);
    assert!(!screen.contains("Brute force ("), "{screen}");
    let mut clients = vec![("10.0.0.5:3", "alice", true)];
    let ports: Vec<String> = (1..=7).map(|p| format!("10.9.9.9:{p}")).collect();
    clients.extend(ports.iter().map(|p| (p.as_str(), "root", false)));
    // Six failing sessions (18 failed logins) are not enough.
    let app = app_with_clients(&clients[..7]);
    assert!(!render_text(&app, 120, 30).contains("Brute force ("));
    let mut app = app_with_clients(&clients);
    let screen = render_text(&app, 120, 30);
    assert!(
        screen.contains("Brute force (20+ failed logins"),
        "{screen}"
    );
    assert!(
        screen.contains("10.9.9.9: 21 failed logins in 7 sessions, 0 ok, on 1 server"),
        "{screen}"
    );
    // Enter on the notice opens the sessions it is about.
    let at = app
        .overview
        .iter()
        .position(|l| l.text.contains("21 failed"))
        .unwrap();
    for _ in 0..at {
        app.update(Action::Down);
    }
    app.update(Action::Enter);
    assert_eq!(app.tab, 1);
    assert_eq!(app.filters[1].text, "host:10.9.9.9 status:failed");
    assert_eq!(app.order.len(), 7);
}

#[test]
fn overview_lines_open_their_lists() {
    let tmp = temp("overview");
    let dir = tmp.path();
    let mut app = app_for(&root().join("tests/fixtures/vsftpd-nat-passive.pcap"), dir);
    let text: Vec<&str> = app.overview.iter().map(|l| l.text.as_str()).collect();
    let joined = text.join("\n");
    for want in [
        "Capture  ",
        "Totals   1 sessions",
        "Users (1)",
        "Clients (1)",
        "Servers (1)",
        "Transfers by verdict",
        "Largest files",
        "Anomalies by kind",
    ] {
        assert!(joined.contains(want), "{want}: {joined}");
    }
    let complete = app
        .overview
        .iter()
        .position(|l| l.text.trim_start().starts_with("complete"))
        .unwrap();
    app.sel[0] = complete;
    app.update(Action::Enter);
    assert_eq!(
        (app.tab, app.filters[2].text.as_str()),
        (2, "status:complete")
    );
    assert!(!app.transfer_list.is_empty());
    app.update(Action::Tab(0));
    let kind = app
        .overview
        .iter()
        .rposition(|l| {
            l.text.starts_with("  ")
                && l.jump
                    .as_ref()
                    .is_some_and(|j| matches!(j, ftpscope::tui::overview::Jump::List(3, _)))
        })
        .unwrap();
    app.sel[0] = kind;
    app.update(Action::Enter);
    assert_eq!(app.tab, 3);
    assert_eq!(app.anomaly_list.len(), 1);
    // Enter on the anomaly: its session.
    app.update(Action::Enter);
    assert_eq!(app.tab, 1);
    assert!(app.selected_session().is_some());
}

#[test]
fn sorting_every_list_both_ways() {
    let tmp = temp("sort");
    let dir = tmp.path();
    let mut app = app_for(&root().join("samples/demo.pcap"), dir);
    app.update(Action::Tab(2));
    let by_start = app.transfer_list.clone();
    while !render_text(&app, 120, 24).contains("sort bytes ↑") {
        app.update(Action::CycleSort);
    }
    let bytes: Vec<u64> = app
        .transfer_list
        .iter()
        .map(|&i| app.store.transfers[i].bytes)
        .collect();
    assert!(bytes.windows(2).all(|w| w[0] <= w[1]), "{bytes:?}");
    app.update(Action::ReverseSort);
    assert!(render_text(&app, 120, 24).contains("sort bytes ↓"));
    let bytes: Vec<u64> = app
        .transfer_list
        .iter()
        .map(|&i| app.store.transfers[i].bytes)
        .collect();
    assert!(bytes.windows(2).all(|w| w[0] >= w[1]), "{bytes:?}");
    assert_ne!(app.transfer_list, by_start);
    app.update(Action::Tab(1));
    app.update(Action::CycleSort);
    assert!(render_text(&app, 120, 24).contains("sort client ↑"));
    app.update(Action::Tab(3));
    app.update(Action::CycleSort);
    assert!(render_text(&app, 120, 24).contains("sort kind ↑"));
}

/// In a file: `G` goes to its end, `:` to an offset, `/` and `n` find text (highlighted).
#[test]
fn file_navigation_end_offset_and_find() {
    let tmp = temp("file-nav");
    let dir = tmp.path();
    let mut app = app_for(&root().join("samples/demo.pcap"), dir);
    app.update(Action::Tab(2));
    // The photo (binary, hex).
    let photo = app
        .transfer_list
        .iter()
        .position(|&i| app.store.transfers[i].path.as_deref() == Some(&b"/pub/photo.jpg"[..]))
        .unwrap();
    app.sel[2] = photo;
    app.update(Action::Enter);
    assert!(app.hex);
    let len = app.detail.file_len;
    app.update(Action::End);
    let rows = app.detail_rows() as u64;
    assert_eq!(
        app.detail.offset,
        ((len - 1) / 16 - (rows - 1)) * 16,
        "the last page"
    );
    assert!(render_text(&app, 80, 24).contains(&format!("{:08x}", (len - 1) / 16 * 16)));
    app.update(Action::Home);
    assert_eq!(app.detail.offset, 0);
    prompt(&mut app, Action::GoTo, "0x100");
    assert_eq!(app.detail.offset, 0x100);
    prompt(&mut app, Action::GoTo, "1000");
    assert_eq!(app.detail.offset, 1000 / 16 * 16);
    app.update(Action::Home);
    // Hex bytes in hex view ("5d" is `]`): the first is at 7.
    prompt(&mut app, Action::Search, "5d");
    // The file is searched off the UI thread: the job's answer comes back as a message.
    assert!(render_text(&app, 80, 24).contains("searching for '5d'"));
    run_file_jobs(&mut app);
    let (first, n) = app.find_hit.expect("found");
    assert_eq!((first, n), (7, 1));
    assert_eq!(app.detail.offset, 0);
    app.update(Action::FindNext);
    run_file_jobs(&mut app);
    let (second, _) = app.find_hit.unwrap();
    assert!(second > first);
    app.update(Action::FindPrev);
    run_file_jobs(&mut app);
    assert_eq!(app.find_hit.unwrap().0, first);
    app.update(Action::CopyHash);
    assert!(app.take_clipboard().is_some_and(|h| h.len() == 64));
    app.update(Action::CopyFilter);
    let filter = app.take_clipboard().unwrap();
    assert!(
        filter.starts_with("ip.addr==10.77.0.") && filter.contains("tcp.port=="),
        "{filter}"
    );
    assert!(filter.contains("frame.number>="), "{filter}");
    assert!(render_text(&app, 100, 40).contains("frames 50–116; wireshark:"));
    // An answer for a file no longer open is dropped.
    app.update(Action::FindNext);
    let job = app.take_file_job().expect("a find job");
    app.update(Action::Back);
    let (hit, message) = (app.find_hit, app.message.clone());
    app.apply(job.run());
    assert!(!matches!(app.overlay, Overlay::Detail(_)));
    assert_eq!((app.find_hit, app.message.clone()), (hit, message));
}

/// Runs the file jobs the UI asked for, as its event loop does on another thread.
fn run_file_jobs(app: &mut App) {
    while let Some(job) = app.take_file_job() {
        app.apply(job.run());
    }
}

/// In a dialogue: Enter on a command that moved data opens its transfer; `/` and `n` find.
#[test]
fn dialogue_enter_opens_the_transfer_and_find_moves() {
    let tmp = temp("dialogue");
    let dir = tmp.path();
    let mut app = app_for(&root().join("samples/demo.pcap"), dir);
    app.update(Action::Tab(1));
    app.update(Action::Enter);
    app.update(Action::Search);
    for c in "RETR photo".chars() {
        app.update(Action::Input(c));
    }
    app.update(Action::Enter);
    let item = app.dialogue()[app.dialogue_sel];
    assert!(
        matches!(item, ftpscope::tui::app::DialogueItem::Exchange(_)),
        "{item:?}"
    );
    assert!(render_text(&app, 100, 40).contains("find 'retr photo'"));
    app.update(Action::Enter);
    match &app.overlay {
        Overlay::Detail(r) => assert_eq!(
            app.store.transfers[*r].path.as_deref(),
            Some(&b"/pub/photo.jpg"[..])
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn filter_sort_and_passwords() {
    let tmp = temp("filter");
    let dir = tmp.path();
    let mut app = app_for(&root().join("tests/fixtures/vsftpd-nat-passive.pcap"), dir);
    app.update(Action::Tab(1));
    assert_eq!(app.order.len(), 1);
    app.update(Action::Search);
    for c in "nomatch".chars() {
        app.update(Action::Input(c));
    }
    assert_eq!(app.order.len(), 0, "filtered as typed");
    app.update(Action::Back);
    assert_eq!(app.order.len(), 1, "Esc clears the filter");
    prompt(&mut app, Action::Search, "firmware");
    assert_eq!(app.order.len(), 1, "a path in the session matches");
    app.update(Action::Tab(2));
    prompt(&mut app, Action::Search, "path:firmware");
    assert_eq!(
        app.transfer_list.len(),
        1,
        "the Transfers tab filters transfers"
    );
    let screen = render_text(&app, 120, 20);
    assert!(screen.contains("filter: path:firmware"), "{screen}");
    app.update(Action::Tab(1));
    app.update(Action::Back);
    app.update(Action::CycleSort);
    assert!(render_text(&app, 100, 24).contains("sort client"));
    app.update(Action::Enter);
    let masked = render_text(&app, 100, 40);
    assert!(masked.contains("PASS ********"), "{masked}");
    app.update(Action::RevealPasswords);
    assert!(render_text(&app, 100, 40).contains("PASS fxpass"));
    app.update(Action::Follow);
    assert!(render_text(&app, 100, 40).contains("→ PASS fxpass"));
}

/// `s` asks for a copy of the open transfer's file; the copy is made off the UI thread (the
/// event loop runs the job) and its outcome comes back as a message. Never over a file.
#[test]
fn saving_is_a_job_done_off_the_ui_thread() {
    let tmp = temp("save-job");
    let dir = tmp.path();
    let mut app = app_for(&root().join("tests/fixtures/vsftpd-nat-passive.pcap"), dir);
    app.update(Action::Tab(2));
    app.update(Action::Enter);
    let source = app.open.as_ref().unwrap().file.clone().unwrap();
    let save_dir = dir.join("saved");
    for round in 1..=2 {
        prompt(&mut app, Action::Save, save_dir.to_str().unwrap());
        assert_eq!(app.message.as_deref(), Some("saving..."));
        let job = app.take_file_job().expect("a save job");
        assert!(app.take_file_job().is_none(), "taken once");
        let FileJob::Save { name, .. } = &job else {
            panic!("{job:?}")
        };
        let name = name.clone();
        app.apply(job.run());
        let message = app.message.clone().unwrap();
        let want = match round {
            1 => save_dir.join(&name),
            _ => {
                let (stem, ext) = name.rsplit_once('.').unwrap();
                save_dir.join(format!("{stem} (2).{ext}"))
            }
        };
        assert_eq!(message, format!("saved to {}", want.display()));
        assert_eq!(
            std::fs::read(&want).unwrap(),
            std::fs::read(&source).unwrap()
        );
    }
    // An error names the folder.
    std::fs::write(dir.join("plain"), b"x").unwrap();
    let bad = dir.join("plain/sub");
    prompt(&mut app, Action::Save, bad.to_str().unwrap());
    let job = app.take_file_job().unwrap();
    app.apply(job.run());
    let message = app.message.clone().unwrap();
    assert!(
        message.starts_with(&format!("could not save to {}: ", bad.display())),
        "{message}"
    );
}

/// `S` saves every file of a session (listings are not files); `e` exports the list as shown.
#[test]
fn save_all_and_export_the_view() {
    let tmp = temp("save-all");
    let dir = tmp.path();
    let mut app = app_for(&root().join("samples/demo.pcap"), dir);
    app.update(Action::Tab(1));
    let out = dir.join("all");
    prompt(&mut app, Action::SaveAll, out.to_str().unwrap());
    let job = app.take_file_job().expect("a job");
    let FileJob::SaveAll { files, .. } = &job else {
        panic!("{job:?}")
    };
    let n = files.len();
    assert!(n >= 2, "{files:?}");
    app.apply(job.run());
    assert_eq!(
        app.message.clone().unwrap(),
        format!("saved {n} files to {}", out.display())
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), n);
    assert!(out.join("photo.jpg").exists());
    app.update(Action::Tab(2));
    prompt(&mut app, Action::Search, "status:complete");
    let shown = app.transfer_list.len();
    let file = dir.join("view.jsonl");
    prompt(&mut app, Action::Export, file.to_str().unwrap());
    let job = app.take_file_job().unwrap();
    app.apply(job.run());
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count(), shown);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["type"], "transfer");
        assert_eq!(v["status"], "complete");
    }
}

#[test]
fn the_ui_reports_damage_as_the_report_does() {
    let tmp = temp("damage");
    let dir = tmp.path();
    let pcap = std::fs::read(root().join("samples/demo.pcap")).unwrap();
    let cut = dir.join("cut.pcap");
    std::fs::write(&cut, &pcap[..pcap.len() - 100]).unwrap();
    let app = app_for(&cut, &dir.join("out"));
    assert!(app.damaged());
    let screen = render_text(&app, 100, 24);
    assert!(screen.contains("DAMAGED  cut.pcap at byte"), "{screen}");
}

#[test]
fn wire_text_cannot_act_on_the_terminal() {
    // A session whose user name and reply carry escape sequences.
    use common::scenario::Wire;
    let mut w = Wire::default();
    let mut c = w.connect("10.0.0.1:40000", "10.0.0.2:21", 1, 2);
    w.server(&mut c, b"220 \x1b]0;owned\x07\x1b[2J hi\r\n");
    w.client(&mut c, b"USER \x1b[31mred\r\n");
    w.server(&mut c, b"331 ok\r\n");
    let tmp = temp("escape");
    let dir = tmp.path();
    let pcap = dir.join("x.pcap");
    std::fs::write(&pcap, w.pcap()).unwrap();
    let mut app = app_for(&pcap, &dir.join("out"));
    app.update(Action::Tab(1));
    app.update(Action::Enter);
    for screen in [
        render_text(&app, 100, 30),
        {
            app.update(Action::Follow);
            render_text(&app, 100, 30)
        },
        {
            app.update(Action::Back);
            app.update(Action::Info);
            render_text(&app, 100, 30)
        },
    ] {
        assert!(!screen.contains('\x1b') && !screen.contains('\x07'));
        assert!(screen.contains("\\x1b]0;owned\\x07\\x1b[2J hi"), "{screen}");
    }
}

#[test]
fn mouse_clicks_select_rows_where_they_were_drawn() {
    let tmp = temp("mouse");
    let dir = tmp.path();
    let mut app = app_for(&root().join("samples/demo.pcap"), dir);
    app.update(Action::Tab(1));
    let layout = app.layout();
    app.update(Action::Click(layout.dialogue_top + 3));
    assert_eq!(app.pane, Pane::Dialogue);
    assert_eq!(app.dialogue_sel, 3);
    app.update(Action::ScrollDown);
    assert_eq!(app.dialogue_sel, 4);
    app.update(Action::Click(layout.list_top));
    assert_eq!(app.pane, Pane::List);
}

/// The real binary in tmux: open the sample, go to a transfer, save it, quit, and check the
/// saved file and that the terminal was restored.
#[test]
fn end_to_end_in_tmux() {
    if !Tmux::available("end_to_end_in_tmux") {
        return;
    }
    let tmp = temp("e2e");
    let save_dir = tmp.path();
    let cmd = format!(
        "{} -r {}; echo EXITED $?; sleep 30",
        env!("CARGO_BIN_EXE_ftpscope"),
        root().join("samples/demo.pcap").display()
    );
    let term = Tmux::start("e2e", &cmd, 100, 30);
    term.wait_for("· done ·");
    term.key("2");
    term.key("Enter");
    for _ in 0..14 {
        term.key("j");
    }
    term.key("Enter");
    term.wait_for("Transfer #2");
    term.key("s");
    term.wait_for("save to folder");
    term.key("BSpace");
    term.type_text(save_dir.to_str().unwrap());
    term.key("Enter");
    term.wait_for("saved to");
    term.key("q");
    let screen = term.wait_for("EXITED 0");
    assert!(!term.alternate_screen_on(), "alternate screen left");
    assert!(!term.mouse_reporting_on(), "mouse reporting left on");
    assert!(
        !screen.contains("Transfer #2"),
        "the UI is gone from the screen:\n{screen}"
    );
    drop(term);
    let saved = save_dir.join("photo.jpg");
    let bytes = std::fs::read(&saved).unwrap_or_else(|e| panic!("{}: {e}", saved.display()));
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("samples/demo.expect.json")).unwrap(),
    )
    .unwrap();
    let want = manifest["transfers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["path"] == "photo.jpg")
        .unwrap();
    assert_eq!(common::sha256_hex(&bytes), want["sha256"].as_str().unwrap());
}

/// The real binary in tmux on the demo capture, its temporary directory (TMPDIR) a folder of
/// the test's own so that the UI's private folder can be found in it.
struct UiInTmux {
    term: Tmux,
    /// The UI's TMPDIR.
    tmp: PathBuf,
    /// Removes `tmp` when dropped, after `term` (fields drop in order: the UI is gone first).
    _tmp_guard: tempfile::TempDir,
    /// The UI's private folder of transferred files.
    folder: PathBuf,
    /// The ftpscope process.
    pid: u32,
}

/// The `ftpscope-tui-*` entries of `tmp`.
fn ui_folders(tmp: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("ftpscope-tui-")
        })
        .collect();
    found.sort();
    found
}

/// The process id of the child of `parent` named `name`, from /proc.
fn child_named(parent: u32, name: &str) -> Option<u32> {
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces, so split at its last ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let ppid = stat[close + 1..].split_whitespace().nth(1);
        if comm == name && ppid == Some(&parent.to_string()) {
            return Some(pid);
        }
    }
    None
}

/// Opens the UI (`tag` names the tmux server and the test's folder), waits until the capture
/// is read, and checks that the terminal is in the UI's modes. `prepare` may put things in the
/// UI's TMPDIR first; what it made is not taken for the UI's folder.
fn open_ui_in_tmux(tag: &str, prepare: impl FnOnce(&Path)) -> UiInTmux {
    let tmp_guard = temp(tag);
    let tmp = tmp_guard.path().to_path_buf();
    prepare(&tmp);
    let already_there = ui_folders(&tmp);
    let cmd = format!(
        "TMPDIR={} {} -r {}; echo EXITED $?; sleep 30",
        tmp.display(),
        env!("CARGO_BIN_EXE_ftpscope"),
        root().join("samples/demo.pcap").display()
    );
    let term = Tmux::start(tag, &cmd, 100, 30);
    term.wait_for("· done ·");
    assert!(
        term.alternate_screen_on(),
        "the UI is on the alternate screen"
    );
    assert!(term.mouse_reporting_on(), "the UI reports the mouse");
    let mut new: Vec<PathBuf> = ui_folders(&tmp)
        .into_iter()
        .filter(|f| !already_there.contains(f))
        .collect();
    assert_eq!(new.len(), 1, "one private folder for the UI: {new:?}");
    let folder = new.remove(0);
    let pid = child_named(term.shell_pid(), "ftpscope").expect("the ftpscope process");
    UiInTmux {
        term,
        tmp,
        _tmp_guard: tmp_guard,
        folder,
        pid,
    }
}

impl UiInTmux {
    fn signal(&self, name: &str) {
        let sent = std::process::Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid.to_string())
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{name} {}", self.pid);
    }

    /// The process ended as after `q` (exit status 0), the terminal is out of the UI's modes
    /// and the UI's folder is gone.
    fn assert_closed_cleanly(&self, how: &str) {
        let screen = self.term.wait_for("EXITED");
        assert!(screen.contains("EXITED 0"), "{how}: exit status:\n{screen}");
        assert!(
            !self.term.alternate_screen_on(),
            "{how}: alternate screen left on"
        );
        assert!(
            !self.term.mouse_reporting_on(),
            "{how}: mouse reporting left on"
        );
        assert!(
            !self.folder.exists(),
            "{how}: {} left behind",
            self.folder.display()
        );
        assert!(
            !screen.contains("Sessions"),
            "{how}: the UI is gone from the screen:\n{screen}"
        );
    }
}

#[test]
fn q_closes_the_ui_and_removes_its_folder() {
    if !Tmux::available("q_closes_the_ui_and_removes_its_folder") {
        return;
    }
    let ui = open_ui_in_tmux("quit-q", |_| {});
    ui.term.key("q");
    ui.assert_closed_cleanly("q");
}

#[test]
fn sigterm_closes_the_ui_as_q_does() {
    if !Tmux::available("sigterm_closes_the_ui_as_q_does") {
        return;
    }
    let ui = open_ui_in_tmux("quit-term", |_| {});
    ui.signal("TERM");
    ui.assert_closed_cleanly("SIGTERM");
}

#[test]
fn sighup_closes_the_ui_as_q_does() {
    if !Tmux::available("sighup_closes_the_ui_as_q_does") {
        return;
    }
    let ui = open_ui_in_tmux("quit-hup", |_| {});
    ui.signal("HUP");
    ui.assert_closed_cleanly("SIGHUP");
}

/// A terminal that goes away (tmux killed, an ssh connection dropped) ends the UI and its
/// folder. crossterm alone would keep reading the dead terminal forever at full CPU, deaf to
/// the SIGHUP that came (see src/tui/terminal_input.rs).
#[test]
fn a_vanished_terminal_ends_the_ui() {
    if !Tmux::available("a_vanished_terminal_ends_the_ui") {
        return;
    }
    let ui = open_ui_in_tmux("vanished", |_| {});
    let proc = PathBuf::from(format!("/proc/{}", ui.pid));
    assert!(proc.exists());
    ui.term.kill_server();
    for _ in 0..100 {
        if !proc.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    if proc.exists() {
        // Do not leave it spinning after the test.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &ui.pid.to_string()])
            .status();
        panic!("the UI outlived its terminal by 10 s");
    }
    assert!(!ui.folder.exists(), "{} left behind", ui.folder.display());
}

/// In raw mode Ctrl-C is a key; SIGINT sent with kill closes the UI all the same.
#[test]
fn sigint_closes_the_ui_as_q_does() {
    if !Tmux::available("sigint_closes_the_ui_as_q_does") {
        return;
    }
    let ui = open_ui_in_tmux("quit-int", |_| {});
    ui.signal("INT");
    ui.assert_closed_cleanly("SIGINT");
}

/// The UI's folder is new, randomly named and 0700; a folder already in the temporary
/// directory under the UI's prefix (as the old predictable name was) is not touched.
#[test]
fn the_ui_folder_is_private_and_others_are_left_alone() {
    use std::os::unix::fs::PermissionsExt;
    if !Tmux::available("the_ui_folder_is_private_and_others_are_left_alone") {
        return;
    }
    let ui = open_ui_in_tmux("private", |tmp| {
        let planted = tmp.join("ftpscope-tui-planted");
        std::fs::create_dir(&planted).unwrap();
        std::fs::write(planted.join("keep.txt"), b"not yours").unwrap();
    });
    let planted = ui.tmp.join("ftpscope-tui-planted");
    assert_ne!(ui.folder, planted);
    assert_ne!(
        ui.folder,
        ui.tmp.join(format!("ftpscope-tui-{}", ui.pid)),
        "not the old predictable name"
    );
    let mode = std::fs::symlink_metadata(&ui.folder)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o7777,
        0o700,
        "{}: mode {mode:o}",
        ui.folder.display()
    );
    assert!(
        std::fs::symlink_metadata(&ui.folder).unwrap().is_dir(),
        "a real folder"
    );
    ui.term.key("q");
    ui.assert_closed_cleanly("q");
    assert_eq!(
        std::fs::read(planted.join("keep.txt")).unwrap(),
        b"not yours",
        "the planted folder is untouched"
    );
}

/// Live capture: the status bar counts packets, their rate and the drops while capturing, and
/// says what was lost once the capture stopped.
#[test]
fn live_status_bar_shows_rate_and_drops() {
    use ftpscope::pipeline::CaptureStats;
    use ftpscope::tui::app::LiveStatus;
    let mut app = App::new("live on eth0".into(), None, false);
    app.update(Action::Resize(100, 24));
    app.apply(Msg::Live(LiveStatus {
        packets: 12_345,
        bytes: 3 << 20,
        packets_per_sec: 678,
        kernel_drops: 0,
        interface_drops: 0,
    }));
    app.refresh();
    let screen = render_text(&app, 100, 24);
    assert!(screen.starts_with(" ftpscope live on eth0"), "{screen}");
    let status = screen.lines().last().unwrap();
    assert_eq!(
        status,
        "live · 12345 packets (678/s) · 3.0 MiB · no drop · 0 sessions · 0 transfers · 0 anomalies"
    );
    app.apply(Msg::Live(LiveStatus {
        packets: 20_000,
        bytes: 4 << 20,
        packets_per_sec: 900,
        kernel_drops: 17,
        interface_drops: 2,
    }));
    let screen = render_text(&app, 100, 24);
    assert!(
        screen.contains("live · 20000 packets (900/s) · 4.0 MiB · DROPPED 17 kernel, 2 interface"),
        "{screen}"
    );
    let mut summary = RunSummary::default();
    summary.stats.frames = 19_990;
    summary.capture = Some(CaptureStats {
        interface: "eth0".into(),
        received: 20_019,
        kernel_drops: 17,
        interface_drops: 2,
        transfers_with_drops: 0,
    });
    app.apply(Msg::Done(Box::new(summary)));
    let screen = render_text(&app, 100, 24);
    assert!(
        screen.contains("19990 frames · 0 B · DROPPED 17 kernel, 2 interface · stopped"),
        "{screen}"
    );
}

/// A multi-line reply is folded behind `[+]`; Enter on it shows its other lines, and Enter
/// again folds it.
#[test]
fn multi_line_replies_unfold_and_fold() {
    use ftpscope_core::event::{CommandLine, Reply};
    use ftpscope_core::{Exchange, SessionStart};
    let mut app = App::new("synthetic".into(), None, false);
    app.update(Action::Resize(100, 24));
    let exchange = |ts: Timestamp, verb: &str, code: u16, text: &str| {
        Record::Exchange(Exchange {
            session: 1,
            command: Some(CommandLine {
                ts,
                verb: verb.into(),
                arg: Vec::new(),
                secret: false,
            }),
            replies: vec![Reply {
                ts: ts + TimeSpan::from_nanos(1000),
                code,
                text: text.into(),
                lines_dropped: 0,
            }],
        })
    };
    app.apply(Msg::Records(vec![
        Record::SessionStarted(SessionStart {
            session: 1,
            ts: Timestamp::from_nanos(0),
            client: "10.0.0.1:40000".parse().unwrap(),
            server: "10.0.0.2:21".parse().unwrap(),
            detected_by: DetectedBy::Port21,
        }),
        exchange(Timestamp::from_nanos(10), "SYST", 215, "UNIX Type: L8"),
        exchange(
            Timestamp::from_nanos(20),
            "FEAT",
            211,
            "Features:\n EPSV\n MLST type*;size*;\x1b[31m\nEnd",
        ),
    ]));
    app.update(Action::Tab(1));
    let screen = render_text(&app, 100, 24);
    assert!(screen.contains("FEAT → 211 Features: [+]"), "{screen}");
    assert!(!screen.contains("EPSV"), "{screen}");
    app.update(Action::Enter); // into the dialogue
    app.update(Action::Down); // FEAT
    app.update(Action::Enter);
    let screen = render_text(&app, 100, 24);
    assert!(screen.contains("FEAT → 211 Features: [-]"), "{screen}");
    assert!(screen.contains("│  EPSV"), "{screen}");
    assert!(
        screen.contains(r"│  MLST type*;size*;\x1b[31m"),
        "escaped: {screen}"
    );
    assert!(screen.contains("│ End"), "{screen}");
    assert!(!screen.contains('\x1b'));
    app.update(Action::Enter);
    let screen = render_text(&app, 100, 24);
    assert!(
        screen.contains("[+]") && !screen.contains("EPSV"),
        "{screen}"
    );
}

/// Past the store's caps sessions and transfers are counted, not listed, and the UI says so;
/// a transfer of a session that was not listed is shown with the orphans.
#[test]
fn sessions_and_transfers_past_the_caps_are_counted_and_said() {
    use ftpscope::store::Store;
    let mut app = App::new("caps".into(), None, false);
    app.store = Store::with_caps(0, 2);
    app.update(Action::Resize(100, 24));
    // The demo's records (one session, five transfers) into the capped store.
    let reader = CaptureReader::open(Box::new(
        std::fs::File::open(root().join("samples/demo.pcap")).unwrap(),
    ) as Box<dyn std::io::Read + Send>)
    .unwrap();
    let mut merged = MergedCapture::new(vec![("demo.pcap".into(), reader)]);
    let mut out = Collect(Vec::new());
    {
        let mut p = Pipeline {
            analyzer: Analyzer::new(Limits::default()),
            tracker: TransferTracker::new(None).unwrap(),
            outputs: vec![&mut out],
        };
        p.run(vec!["demo.pcap".into()], &mut merged, &mut |_| {})
            .unwrap();
    }
    app.apply(Msg::Records(out.0));
    app.refresh();
    assert_eq!(app.store.sessions.len(), 0);
    assert_eq!(app.store.sessions_dropped, 1);
    assert_eq!(app.store.transfers.len(), 2);
    assert_eq!(app.store.transfers_dropped, 3);
    app.update(Action::Tab(1));
    let screen = render_text(&app, 100, 24);
    assert!(
        screen.contains("Sessions 0/0 · 1 more not listed"),
        "{screen}"
    );
    assert!(screen.contains("1 sessions · 5 transfers"), "{screen}");
    app.update(Action::Tab(2));
    let screen = render_text(&app, 100, 24);
    assert!(
        screen.contains("Transfers 2/2 · 3 more not listed"),
        "{screen}"
    );
    assert!(screen.contains("/pub/photo.jpg"), "{screen}");
}

/// The real binary: `ftpscope -r FILE` in a 100×30 tmux, its exit status echoed after it.
fn ui_on(tag: &str, capture: &Path, width: u16, height: u16) -> Tmux {
    let cmd = format!(
        "{} -r {}; echo EXITED $?; sleep 30",
        env!("CARGO_BIN_EXE_ftpscope"),
        capture.display()
    );
    Tmux::start(tag, &cmd, width, height)
}

/// Overview, a field search, `G` in a file and save-all, driven through the real binary.
#[test]
fn overview_search_end_and_save_all_in_tmux() {
    if !Tmux::available("overview_search_end_and_save_all_in_tmux") {
        return;
    }
    let tmp = temp("e2e-cockpit");
    let dir = tmp.path();
    let term = ui_on("cockpit", &root().join("samples/demo.pcap"), 80, 24);
    let screen = term.wait_for("· done ·");
    assert!(screen.contains("Overview · Enter opens"), "{screen}");
    assert!(screen.contains("Largest files"), "{screen}");
    // Enter on the verdict line: the Transfers tab, filtered.
    let complete = screen
        .lines()
        .position(|l| l.contains("complete  "))
        .unwrap();
    let overview_top = screen.lines().position(|l| l.contains("Capture")).unwrap();
    for _ in 0..complete - overview_top {
        term.key("j");
    }
    term.key("Enter");
    let screen = term.wait_for("filter: status:complete");
    assert!(screen.contains("Transfers 4/5"), "{screen}");
    // A field search on the sessions tab, in the title; one that matches nothing says so.
    term.key("2");
    term.key("/");
    term.type_text("host:10.77.0.1 user:fxuser");
    term.key("Enter");
    term.wait_for("Sessions 1/1 · sort start ↑ · filter: host:10.77.0.1 user:fxuser");
    term.key("/");
    for _ in 0.."host:10.77.0.1 user:fxuser".len() {
        term.key("BSpace");
    }
    term.type_text("host:10.77.0.10");
    term.key("Enter");
    term.wait_for("no session matches 'host:10.77.0.10'");
    term.key("Escape");
    term.wait_for("Sessions 1/1 · sort start ↑ ─");
    // G in a file: its last bytes.
    term.key("3");
    term.key("Escape");
    term.wait_for("Transfers 5/5");
    term.key("j");
    term.key("Enter");
    term.wait_for("Transfer #2");
    term.key("G");
    term.wait_for("of 60000");
    let screen = term.wait_for("0000ea50");
    assert!(screen.contains("59824-60000 of 60000"), "{screen}");
    term.key("Escape");
    // Save all of the session's files.
    term.key("2");
    term.key("S");
    term.wait_for("save all files to folder");
    term.key("BSpace");
    term.type_text(dir.to_str().unwrap());
    term.key("Enter");
    let screen = term.wait_for("files to");
    assert!(
        screen.contains(&format!("saved 3 files to {}", dir.display())),
        "{screen}"
    );
    term.key("q");
    term.wait_for("EXITED 0");
    drop(term);
    for name in ["photo.jpg", "report.pdf"] {
        assert!(dir.join(name).exists(), "{name} saved");
    }
    assert_eq!(std::fs::read_dir(dir).unwrap().count(), 3);
}

/// The UI's exit status is the report's: 0 on a whole capture, 3 on a damaged one (whose
/// damage the overview names with its byte offset).
#[test]
fn exit_statuses_follow_the_report_in_tmux() {
    if !Tmux::available("exit_statuses_follow_the_report_in_tmux") {
        return;
    }
    let tmp = temp("e2e-exit");
    let dir = tmp.path();
    let pcap = std::fs::read(root().join("samples/demo.pcap")).unwrap();
    let cut = dir.join("cut.pcap");
    std::fs::write(&cut, &pcap[..pcap.len() - 100]).unwrap();
    let report = std::process::Command::new(env!("CARGO_BIN_EXE_ftpscope"))
        .arg("-r")
        .arg(&cut)
        .output()
        .unwrap();
    assert_eq!(report.status.code(), Some(3), "the report's status");
    for (capture, status) in [(root().join("samples/demo.pcap"), 0), (cut.clone(), 3)] {
        let term = ui_on(&format!("exit{status}"), &capture, 100, 30);
        let screen = term.wait_for("· done ·");
        if status == 3 {
            assert!(screen.contains("cut.pcap at byte 141774"), "{screen}");
            assert!(screen.contains("DAMAGED at byte"), "status bar: {screen}");
        }
        term.key("q");
        term.wait_for(&format!("EXITED {status}"));
    }
}
