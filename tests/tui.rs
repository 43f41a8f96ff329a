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
use ftpscope_core::{Analyzer, DetectedBy, Limits};
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

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ftpscope-tui-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
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

#[test]
fn views_render_as_their_snapshots() {
    let dir = temp("snap");
    let mut app = app_for(&root().join("samples/demo.pcap"), &dir);
    snapshot("sessions", &app, 80, 24);
    app.update(Action::Enter);
    assert_eq!(app.pane, Pane::Dialogue);
    for _ in 0..14 {
        app.update(Action::Down);
    }
    snapshot("dialogue", &app, 80, 24);
    app.update(Action::Enter);
    assert!(
        matches!(app.overlay, Overlay::Detail(_)),
        "Enter on a transfer opens it"
    );
    assert!(app.hex, "binary content opens in hex");
    snapshot("detail-hex", &app, 80, 24);
    app.update(Action::Back);
    for _ in 0..6 {
        app.update(Action::Up);
    }
    app.update(Action::Enter); // the LIST transfer: parsed entries
    snapshot("detail-listing", &app, 80, 24);
    app.update(Action::Back);
    app.update(Action::Tab(1));
    snapshot("transfers", &app, 100, 20);
    app.update(Action::Help);
    snapshot("help", &app, 80, 24);
    app.update(Action::Down); // any key closes help
    assert_eq!(app.overlay, Overlay::None);
    // 80×24 and smaller sizes render without panicking.
    for (w, h) in [(80, 24), (40, 10), (20, 6), (10, 3), (200, 60)] {
        let _ = render_text(&app, w, h);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn filter_sort_and_passwords() {
    let dir = temp("filter");
    let mut app = app_for(&root().join("tests/fixtures/vsftpd-nat-passive.pcap"), &dir);
    assert_eq!(app.order.len(), 1);
    app.update(Action::StartFilter);
    for c in "nomatch".chars() {
        app.update(Action::Input(c));
    }
    assert_eq!(app.order.len(), 0, "filtered as typed");
    app.update(Action::Back);
    assert_eq!(app.order.len(), 1, "Esc clears the filter");
    app.update(Action::StartFilter);
    for c in "firmware".chars() {
        app.update(Action::Input(c));
    }
    app.update(Action::Enter);
    assert_eq!(app.order.len(), 1, "a path in the session matches");
    assert_eq!(app.filter, "firmware");
    app.update(Action::Tab(1));
    assert_eq!(
        app.transfer_list.len(),
        3,
        "the session's transfers stay listed when the session matches"
    );
    let screen = render_text(&app, 120, 20);
    assert!(screen.contains("nat_peers"));
    app.update(Action::Tab(0));
    app.update(Action::CycleSort);
    assert!(render_text(&app, 100, 24).contains("sort user"));
    app.update(Action::Enter);
    let masked = render_text(&app, 100, 40);
    assert!(masked.contains("PASS ********"), "{masked}");
    app.update(Action::RevealPasswords);
    assert!(render_text(&app, 100, 40).contains("PASS fxpass"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `s` asks for a copy of the open transfer's file; the copy is made off the UI thread (the
/// event loop runs the job) and its outcome comes back as a message. Never over a file.
#[test]
fn saving_is_a_job_done_off_the_ui_thread() {
    let dir = temp("save-job");
    let mut app = app_for(&root().join("tests/fixtures/vsftpd-nat-passive.pcap"), &dir);
    app.update(Action::Tab(1));
    app.update(Action::Enter);
    let source = app.open.as_ref().unwrap().file.clone().unwrap();
    let save_dir = dir.join("saved");
    for round in 1..=2 {
        app.update(Action::Save);
        for _ in 0..8 {
            app.update(Action::InputBackspace);
        }
        for c in save_dir.to_str().unwrap().chars() {
            app.update(Action::Input(c));
        }
        app.update(Action::Enter);
        assert_eq!(app.message.as_deref(), Some("saving..."));
        let job = app.take_file_job().expect("a save job");
        assert!(app.take_file_job().is_none(), "taken once");
        let FileJob::Save { name, .. } = &job;
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
    let _ = std::fs::remove_dir_all(&dir);
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
    let dir = temp("escape");
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("x.pcap");
    std::fs::write(&pcap, w.pcap()).unwrap();
    let mut app = app_for(&pcap, &dir.join("out"));
    app.update(Action::Enter);
    let screen = render_text(&app, 100, 30);
    assert!(!screen.contains('\x1b') && !screen.contains('\x07'));
    assert!(screen.contains("\\x1b]0;owned\\x07\\x1b[2J hi"), "{screen}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn mouse_clicks_select_rows_where_they_were_drawn() {
    let dir = temp("mouse");
    let mut app = app_for(&root().join("samples/demo.pcap"), &dir);
    let layout = ftpscope::tui::app::layout(0, 24);
    app.update(Action::Click(layout.dialogue_top + 3));
    assert_eq!(app.pane, Pane::Dialogue);
    assert_eq!(app.dialogue_sel, 3);
    app.update(Action::ScrollDown);
    assert_eq!(app.dialogue_sel, 4);
    app.update(Action::Click(layout.list_top));
    assert_eq!(app.pane, Pane::Sessions);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The real binary in tmux: open the sample, go to a transfer, save it, quit, and check the
/// saved file and that the terminal was restored.
#[test]
fn end_to_end_in_tmux() {
    if !Tmux::available("end_to_end_in_tmux") {
        return;
    }
    let save_dir = temp("e2e");
    std::fs::create_dir_all(&save_dir).unwrap();
    let cmd = format!(
        "{} -r {}; echo EXITED $?; sleep 30",
        env!("CARGO_BIN_EXE_ftpscope"),
        root().join("samples/demo.pcap").display()
    );
    let term = Tmux::start("e2e", &cmd, 100, 30);
    term.wait_for("· done ·");
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
    let _ = std::fs::remove_dir_all(&save_dir);
}

/// The real binary in tmux on the demo capture, its temporary directory (TMPDIR) a folder of
/// the test's own so that the UI's private folder can be found in it.
struct UiInTmux {
    term: Tmux,
    /// The UI's TMPDIR.
    tmp: PathBuf,
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
    let tmp = temp(tag);
    std::fs::create_dir_all(&tmp).unwrap();
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

impl Drop for UiInTmux {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.tmp);
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
    let exchange = |ts: i64, verb: &str, code: u16, text: &str| {
        Record::Exchange(Exchange {
            session: 1,
            command: Some(CommandLine {
                ts,
                verb: verb.into(),
                arg: Vec::new(),
                secret: false,
            }),
            replies: vec![Reply {
                ts: ts + 1000,
                code,
                text: text.into(),
                lines_dropped: 0,
            }],
        })
    };
    app.apply(Msg::Records(vec![
        Record::SessionStarted(SessionStart {
            session: 1,
            ts: 0,
            client: "10.0.0.1:40000".parse().unwrap(),
            server: "10.0.0.2:21".parse().unwrap(),
            detected_by: DetectedBy::Port21,
        }),
        exchange(10, "SYST", 215, "UNIX Type: L8"),
        exchange(
            20,
            "FEAT",
            211,
            "Features:\n EPSV\n MLST type*;size*;\x1b[31m\nEnd",
        ),
    ]));
    app.refresh();
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
    let screen = render_text(&app, 100, 24);
    assert!(
        screen.contains("Sessions 0/0 · 1 more not listed"),
        "{screen}"
    );
    assert!(screen.contains("1 sessions · 5 transfers"), "{screen}");
    app.update(Action::Tab(1));
    let screen = render_text(&app, 100, 24);
    assert!(
        screen.contains("Transfers 2 · 3 more not listed"),
        "{screen}"
    );
    assert!(screen.contains("/pub/photo.jpg"), "{screen}");
}
