//! The terminal UI (ratatui + crossterm). A worker thread runs the same pipeline as every other
//! mode and sends batches of records over a bounded channel; the UI thread owns the model and
//! the terminal, applies messages and key presses through [`app::App::update`] (the only
//! mutation), and draws with the pure functions of [`view`]. The terminal is restored on exit,
//! on Ctrl-C and on panic.

pub mod app;
pub mod keymap;
pub mod view;

use crate::capture::MergedCapture;
use crate::output::outdir::OutDir;
use crate::pipeline::{Output, Pipeline, Record, RunSummary};
use crate::transfers::TransferTracker;
use app::{App, Msg};
use ftpscope_core::{Analyzer, Limits};
use ratatui::crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, Event, KeyEventKind, MouseEventKind,
};
use ratatui::crossterm::execute;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

/// Records are sent in batches of at most this many, or every [`BATCH_EVERY`].
const BATCH: usize = 512;
const BATCH_EVERY: Duration = Duration::from_millis(50);

/// The worker's output: batches records onto the channel. A closed channel (the UI quit) ends
/// the run as a broken pipe would.
struct ChannelOutput {
    tx: SyncSender<Msg>,
    batch: Vec<Record>,
    last: Instant,
}

impl ChannelOutput {
    fn flush(&mut self) -> io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.last = Instant::now();
        self.tx
            .send(Msg::Records(batch))
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }
}

impl Output for ChannelOutput {
    fn record(&mut self, record: &Record) -> io::Result<()> {
        self.batch.push(record.clone());
        if self.batch.len() >= BATCH || self.last.elapsed() >= BATCH_EVERY {
            self.flush()?;
        }
        Ok(())
    }

    fn finish(&mut self, _: &RunSummary) -> io::Result<()> {
        self.flush()
    }

    /// Live capture: the last records of a burst go out even when nothing follows them.
    fn poll(&mut self) -> io::Result<()> {
        if self.last.elapsed() >= BATCH_EVERY {
            self.flush()?;
        }
        Ok(())
    }
}

/// What the worker thread runs: the pipeline over some source (capture files, a live
/// interface), feeding [`Feed::output`] and stopping early once [`Feed::stop`] is set.
pub type Job = Box<dyn FnOnce(Feed<'_>) -> io::Result<RunSummary> + Send>;

/// What a [`Job`] is given to report to the UI.
pub struct Feed<'a> {
    /// Where records go (batched onto the channel).
    pub output: &'a mut dyn Output,
    /// Set when the user quits: read no more, finish.
    pub stop: &'a AtomicBool,
    /// Progress and capture counters for the status bar.
    pub status: StatusSender,
    /// Where transferred files go (the UI's own temporary folder, removed when it closes), so
    /// the transfer view can show them and `s` can save them.
    pub files: PathBuf,
}

/// Sends status messages (progress, live capture counters) to the UI. They are advisory:
/// dropped rather than waited for when the UI is busy.
#[derive(Clone)]
pub struct StatusSender(SyncSender<Msg>);

impl StatusSender {
    pub fn send(&self, msg: Msg) {
        let _ = self.0.try_send(msg);
    }
}

/// Bytes of transferred files the UI keeps in its private folder, to show and save them: past
/// this, a transfer is still analysed and hashed but its file is not kept (`-x` keeps all).
pub const FILES_KEPT: u64 = 1 << 30;

/// The tracker of a UI job: files into the UI's private folder, at most [`FILES_KEPT`] bytes.
pub fn ui_tracker(files: &std::path::Path) -> io::Result<TransferTracker> {
    let mut tracker = TransferTracker::new(Some(OutDir::open_or_create(files)?))?;
    tracker.limit_disk(FILES_KEPT);
    Ok(tracker)
}

/// The usual job: capture files read through the pipeline.
pub fn file_job(names: Vec<String>, mut capture: MergedCapture, limits: Limits) -> Job {
    Box::new(move |feed: Feed<'_>| {
        let mut pipeline = Pipeline {
            analyzer: Analyzer::new(limits),
            tracker: ui_tracker(&feed.files)?,
            outputs: vec![feed.output],
        };
        let status = feed.status;
        pipeline.run_until(
            names,
            &mut capture,
            &mut |bytes| status.send(Msg::Progress(bytes)),
            feed.stop,
        )
    })
}

/// Starts `job` on a worker thread; messages arrive on the returned receiver.
pub fn spawn_worker(
    job: Job,
    files: PathBuf,
    stop: Arc<AtomicBool>,
) -> io::Result<(Receiver<Msg>, std::thread::JoinHandle<()>)> {
    let (tx, rx) = sync_channel::<Msg>(64);
    let handle = std::thread::Builder::new()
        .name("ftpscope-analysis".into())
        .spawn(move || {
            let mut out = ChannelOutput {
                tx: tx.clone(),
                batch: Vec::new(),
                last: Instant::now(),
            };
            let result = job(Feed {
                output: &mut out,
                stop: &stop,
                status: StatusSender(tx.clone()),
                files,
            });
            let _ = match result {
                Ok(summary) => tx.send(Msg::Done(Box::new(summary))),
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => tx.send(Msg::Failed(e.to_string())),
            };
        })?;
    Ok((rx, handle))
}

/// How the UI is opened.
pub struct UiOptions {
    /// What is analysed, for the title bar: file names or `live on IFACE`.
    pub source: String,
    /// The size of the capture files, for the progress shown while they are read.
    pub total_bytes: Option<u64>,
    pub show_passwords: bool,
    /// Set from outside (SIGTERM in live capture): the UI closes as if `q` was pressed.
    pub close_when: Option<&'static AtomicBool>,
}

/// Runs the UI until the user quits (or [`UiOptions::close_when`] is set), with `job` on a
/// worker thread. The terminal is restored and the UI's folder of files removed whatever
/// happens.
pub fn run(options: UiOptions, job: Job) -> io::Result<()> {
    let files = std::env::temp_dir().join(format!("ftpscope-tui-{}", std::process::id()));
    let result = run_with_files(options, job, files.clone());
    let _ = std::fs::remove_dir_all(&files);
    result
}

fn run_with_files(options: UiOptions, job: Job, files: PathBuf) -> io::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let (rx, worker) = spawn_worker(job, files, Arc::clone(&stop))?;
    let mut app = App::new(options.source, options.total_bytes, options.show_passwords);
    let mut terminal = ratatui::try_init()?;
    let _ = execute!(io::stdout(), EnableMouseCapture);
    let result = event_loop(&mut terminal, &mut app, &rx, options.close_when);
    let _ = execute!(io::stdout(), DisableMouseCapture);
    ratatui::restore();
    stop.store(true, Ordering::Relaxed);
    drop(rx); // unblocks a worker waiting to send
    let _ = worker.join();
    result
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    rx: &Receiver<Msg>,
    close_when: Option<&'static AtomicBool>,
) -> io::Result<()> {
    let size = terminal.size()?;
    app.update(keymap::Action::Resize(size.width, size.height));
    loop {
        // Apply what the worker sent, bounded per frame so keys stay responsive.
        let deadline = Instant::now() + Duration::from_millis(30);
        while Instant::now() < deadline {
            match rx.try_recv() {
                Ok(msg) => app.apply(msg),
                Err(_) => break,
            }
        }
        app.refresh();
        terminal.draw(|f| view::draw(f, app))?;
        if event::poll(Duration::from_millis(50))? {
            let typing = matches!(app.overlay, app::Overlay::Filter | app::Overlay::Save(..));
            let action = match event::read()? {
                Event::Key(k) if k.kind == KeyEventKind::Press => keymap::action_for(k, typing),
                Event::Mouse(m) => match m.kind {
                    MouseEventKind::Down(_) => Some(keymap::Action::Click(m.row)),
                    MouseEventKind::ScrollUp => Some(keymap::Action::ScrollUp),
                    MouseEventKind::ScrollDown => Some(keymap::Action::ScrollDown),
                    _ => None,
                },
                Event::Resize(w, h) => Some(keymap::Action::Resize(w, h)),
                _ => None,
            };
            if let Some(action) = action {
                app.update(action);
            }
        }
        if app.quit || close_when.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Ok(());
        }
    }
}

/// Renders the app into a plain-text screen (for snapshot tests and benchmarks).
pub fn render_text(app: &App, width: u16, height: u16) -> String {
    let backend = ratatui::backend::TestBackend::new(width, height);
    let Ok(mut terminal) = ratatui::Terminal::new(backend);
    let _ = terminal.draw(|f| view::draw(f, app));
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..height {
        let mut line = String::new();
        for x in 0..width {
            line.push_str(buffer[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
