//! How the terminal UI copes with a capture of 100 000 sessions: time to take in the records,
//! to refresh the lists, to draw a screen, to filter as a user types and to scroll, and the
//! memory it holds. Run with `cargo bench --bench tui_sessions`; figures are printed, not
//! asserted (speed is measured by benchmarks, never by timed tests).

// Benchmark code: a failed unwrap is a failed run, said with its place.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ftpscope::pipeline::Record;
use ftpscope::transfers::TransferTracker;
use ftpscope::tui::app::{App, Msg};
use ftpscope::tui::keymap::Action;
use ftpscope::tui::render_text;
use ftpscope_core::event::{
    AnnouncedBy, CommandLine, DataMode, DetectedBy, Direction, EndReason, Exchange, FrameSpan,
    LinkRule, LoginState, Reply, SessionStart, SessionSummary, TransferRecord, TransferStatus,
};
use ftpscope_core::{TimeSpan, Timestamp};
use std::net::SocketAddr;
use std::time::Instant;

const SESSIONS: u64 = 100_000;

fn exchange(session: u64, ts: Timestamp, verb: &str, arg: &str, code: u16, text: &str) -> Record {
    Record::Exchange(Exchange {
        session,
        command: Some(CommandLine {
            ts,
            verb: verb.into(),
            arg: arg.into(),
            secret: verb == "PASS",
        }),
        replies: vec![Reply {
            ts: ts + TimeSpan::from_nanos(1_000_000),
            code,
            text: text.into(),
            lines_dropped: 0,
        }],
    })
}

fn records_for(i: u64, tracker: &mut TransferTracker) -> Vec<Record> {
    let ts = Timestamp::from_nanos(1_700_000_000_000_000_000 + i as i64 * 1_000_000_000);
    let client: SocketAddr = format!(
        "10.{}.{}.{}:{}",
        (i >> 16) & 255,
        (i >> 8) & 255,
        i & 255,
        40000 + i % 20000
    )
    .parse()
    .unwrap();
    let server: SocketAddr = "192.0.2.10:21".parse().unwrap();
    let path = format!("/data/run-{i}/file-{}.bin", i % 97);
    let mut out = vec![Record::SessionStarted(SessionStart {
        session: i,
        ts,
        client,
        server,
        detected_by: DetectedBy::Port21,
    })];
    out.push(exchange(
        i,
        ts,
        "USER",
        &format!("user{}", i % 1000),
        331,
        "Password required",
    ));
    out.push(exchange(
        i,
        ts + TimeSpan::from_nanos(2),
        "PASS",
        "secret",
        230,
        "Logged in",
    ));
    out.push(exchange(
        i,
        ts + TimeSpan::from_nanos(3),
        "PASV",
        "",
        227,
        "Entering Passive Mode (192,0,2,10,195,80)",
    ));
    out.push(exchange(
        i,
        ts + TimeSpan::from_nanos(4),
        "RETR",
        &path,
        226,
        "Transfer complete",
    ));
    out.push(exchange(
        i,
        ts + TimeSpan::from_nanos(5),
        "QUIT",
        "",
        221,
        "Goodbye",
    ));
    // Through a real tracker, as the pipeline would make it (nothing is written: no extract dir).
    let record = TransferRecord {
        transfer: i,
        session: Some(i),
        start: ts + TimeSpan::from_nanos(4),
        end: ts + TimeSpan::from_nanos(5),
        command: Some(b"RETR".to_vec()),
        path: Some(path.clone().into_bytes()),
        full_path: Some(path.into_bytes()),
        direction: Direction::Download,
        mode: Some(DataMode::Passive),
        announced_by: Some(AnnouncedBy::Pasv),
        announced: Some("192.0.2.10:50000".parse().unwrap()),
        link: LinkRule::Exact,
        data_initiator: Some(client),
        data_responder: Some("192.0.2.10:50000".parse().unwrap()),
        transfer_type: Some(b'I'),
        offset: 0,
        bytes: 1000 + i,
        expected_bytes: Some(1000 + i),
        gap_bytes: 0,
        missing_bytes: 0,
        status: TransferStatus::Complete,
        reason: "all announced bytes crossed; server said 226".into(),
        reply_code: Some(226),
        listing: false,
        tls: None,
        frames: Some(FrameSpan {
            first: 10 * i + 4,
            last: 10 * i + 8,
        }),
    };
    tracker.started(i);
    out.push(Record::Transfer(Box::new(tracker.ended(record, None))));
    out.push(Record::SessionEnded(SessionSummary {
        session: i,
        client,
        server,
        start: ts,
        end: ts + TimeSpan::from_nanos(6),
        user: Some(format!("user{}", i % 1000).into_bytes()),
        password: Some(b"secret".to_vec()),
        anonymous: false,
        login: LoginState::Ok,
        login_attempts: 1,
        tls: false,
        tls_info: None,
        commands: 5,
        transfers: 1,
        end_reason: EndReason::Closed,
        frames: Some(FrameSpan {
            first: 10 * i,
            last: 10 * i + 9,
        }),
    }));
    out
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    println!(
        "{what:<48} {:>10.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    out
}

/// Keystrokes, each applied and the screen drawn, as the UI does; the slowest is kept.
struct Keys {
    slowest: (f64, String),
}

impl Keys {
    /// One key press (update + redraw), timed.
    fn press(&mut self, app: &mut App, what: &str, action: Action) -> f64 {
        let start = Instant::now();
        app.update(action);
        let _ = render_text(app, 120, 40);
        let ms = start.elapsed().as_secs_f64() * 1e3;
        if ms > self.slowest.0 {
            self.slowest = (ms, what.to_owned());
        }
        ms
    }

    /// Several presses: their slowest is printed.
    fn presses(&mut self, app: &mut App, what: &str, actions: Vec<Action>) {
        let mut worst: f64 = 0.0;
        for a in actions {
            let shown = format!("{a:?}");
            let ms = self.press(app, what, a);
            if ms >= 50.0 {
                println!("  over 50 ms: {shown} {ms:.1} ms");
            }
            worst = worst.max(ms);
        }
        println!("{what:<48} {worst:>10.1} ms  (slowest key)");
    }

    /// `/` and `text`, after Esc has cleared the list's filter when `clear`.
    fn typed(&mut self, app: &mut App, text: &str, clear: bool) {
        if clear {
            app.update(Action::Back);
        }
        let actions: Vec<Action> = std::iter::once(Action::Search)
            .chain(text.chars().map(Action::Input))
            .chain([Action::Enter])
            .collect();
        self.presses(app, &format!("type /{text}"), actions);
    }
}

fn main() {
    let mut tracker = TransferTracker::new(None).expect("tracker without extraction");
    let mut app = App::new("synthetic".into(), None, false);
    app.update(Action::Resize(120, 40));
    timed(
        "take in 100 000 sessions (batches of 512, refresh each 20)",
        || {
            let mut batch = Vec::new();
            for i in 1..=SESSIONS {
                batch.extend(records_for(i, &mut tracker));
                if i % 512 == 0 {
                    app.apply(Msg::Records(std::mem::take(&mut batch)));
                    // The UI refreshes once per frame, not per batch: about every 20 batches at load.
                    if i % (512 * 20) == 0 {
                        app.refresh();
                    }
                }
            }
            app.apply(Msg::Records(batch));
            app.refresh();
        },
    );
    timed("draw the overview (120×40)", || render_text(&app, 120, 40));
    let mut keys = Keys {
        slowest: (0.0, String::new()),
    };
    keys.presses(
        &mut app,
        "2: the Sessions tab (first list build)",
        vec![Action::Tab(1)],
    );
    assert_eq!(app.order.len() as u64, SESSIONS);
    keys.presses(&mut app, "200 × PageDown", vec![Action::PageDown; 200]);
    keys.presses(
        &mut app,
        "G, g: last and first session",
        vec![Action::End, Action::Home],
    );
    keys.typed(&mut app, "file-42", true);
    println!("  sessions matching: {}", app.order.len());
    keys.typed(&mut app, "user:user42 host:10.0.4. -status:failed", true);
    println!("  sessions matching: {}", app.order.len());
    keys.typed(&mut app, "path:/run-4\\d*/ port:40000-40100", true);
    println!("  sessions matching: {}", app.order.len());
    keys.presses(&mut app, "Esc: clear the filter", vec![Action::Back]);
    keys.presses(
        &mut app,
        "o × 8, O: every sort key, then reversed",
        [vec![Action::CycleSort; 8], vec![Action::ReverseSort]].concat(),
    );
    keys.presses(
        &mut app,
        "Enter, /RETR, n: find in a dialogue",
        vec![Action::Enter],
    );
    keys.typed(&mut app, "retr", false);
    keys.presses(&mut app, "n", vec![Action::FindNext]);
    keys.presses(
        &mut app,
        "3: the Transfers tab (first list build)",
        vec![Action::Tab(2)],
    );
    keys.typed(&mut app, "status:complete cmd:retr", true);
    keys.presses(
        &mut app,
        "o, O on transfers",
        vec![Action::CycleSort, Action::ReverseSort],
    );
    keys.presses(
        &mut app,
        "4, 1: Anomalies, Overview",
        vec![Action::Tab(3), Action::Tab(0)],
    );
    keys.presses(
        &mut app,
        "Tab × 4: every tab again",
        vec![Action::NextTab; 4],
    );
    println!(
        "slowest keystroke: {:.1} ms ({}){}",
        keys.slowest.0,
        keys.slowest.1,
        if keys.slowest.0 < 50.0 {
            ""
        } else {
            "  OVER 50 ms"
        }
    );
    println!("peak RSS {:.1} MiB", peak_rss_kib() as f64 / 1024.0);
}
