//! The terminal UI (ratatui + crossterm). A worker thread runs the same pipeline as every other
//! mode and sends batches of records over a bounded channel; the UI thread owns the model and
//! the terminal, applies messages and key presses through [`app::App::update`] (the only
//! mutation), and draws with the pure functions of [`view`]. The terminal is restored, and the
//! UI's private folder of files removed, on `q`, Ctrl-C, SIGINT, SIGTERM, SIGHUP and panic.

pub mod actions;
pub mod app;
pub mod keymap;
pub mod overview;
pub mod search;
mod terminal_input;
pub mod view;

use crate::capture::MergedCapture;
use crate::output::outdir::OutDir;
use crate::pipeline::{Output, Pipeline, Record, RunSummary};
use crate::transfers::TransferTracker;
use app::{App, Msg};
use ftpscope_core::Analyzer;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{
    self, DisableMouseCapture, EnableMouseCapture, Event, KeyEventKind, MouseEventKind,
};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{EnterAlternateScreen, enable_raw_mode};
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
pub fn file_job(names: Vec<String>, mut capture: MergedCapture, analyzer: Analyzer) -> Job {
    Box::new(move |feed: Feed<'_>| {
        let mut pipeline = Pipeline {
            analyzer,
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

/// The worker thread running a [`Job`], and the messages it sends. Dropping it stops the job
/// and waits for it (a panic in the UI included), so nothing is written into the UI's folder
/// once that is being removed.
struct Worker {
    messages: Receiver<Msg>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Our receiver goes (swapped for one whose sender is gone): a worker waiting to send
        // gets a closed channel and ends as on a broken pipe.
        drop(std::mem::replace(&mut self.messages, sync_channel(0).1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts `job` on a worker thread, writing transferred files into `files`.
fn spawn_worker(job: Job, files: PathBuf) -> io::Result<Worker> {
    let (tx, rx) = sync_channel::<Msg>(64);
    let stop = Arc::new(AtomicBool::new(false));
    let worker_stop = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("ftpscope-analysis".into())
        .spawn(move || {
            let mut out = ChannelOutput {
                tx: tx.clone(),
                batch: Vec::new(),
                last: Instant::now(),
            };
            let result = job(Feed {
                output: &mut out,
                stop: &worker_stop,
                status: StatusSender(tx.clone()),
                files,
            });
            let _ = match result {
                Ok(summary) => tx.send(Msg::Done(Box::new(summary))),
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => tx.send(Msg::Failed(e.to_string())),
            };
        })?;
    Ok(Worker {
        messages: rx,
        stop,
        thread: Some(thread),
    })
}

/// How the UI is opened.
pub struct UiOptions {
    /// What is analysed, for the title bar: file names or `live on IFACE`.
    pub source: String,
    /// The size of the capture files, for the progress shown while they are read.
    pub total_bytes: Option<u64>,
    pub show_passwords: bool,
}

/// The signals that close the UI the way `q` does. SIGINT arrives only from `kill` (in raw
/// mode Ctrl-C is a key); SIGHUP means the terminal went away.
const CLOSING_SIGNALS: [i32; 3] = [
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGHUP,
];

/// Runs the UI until the user quits or a closing signal arrives, with `job` on a worker
/// thread. The terminal is restored and the UI's private folder of files removed whatever
/// happens (a panic unwinding through here included).
///
/// While the UI is open these handlers own SIGINT, SIGTERM and SIGHUP: nothing else may handle
/// them, since signal-hook first calls a handler installed before it, and one that exits at
/// once (live capture's second-signal exit) would leave the terminal unrestored; live capture
/// leaves them to the UI. They stay installed afterwards (signal-hook cannot put the default
/// action back), which is harmless: the process ends right after the UI.
pub fn run(options: UiOptions, job: Job) -> io::Result<UiEnd> {
    // Registered before anything needs undoing: from here on a signal only sets the flag.
    let closing = Arc::new(AtomicBool::new(false));
    for signal in CLOSING_SIGNALS {
        signal_hook::flag::register(signal, Arc::clone(&closing))?;
    }
    let files = private_folder()?;
    let result = run_with_files(options, job, files.path().to_path_buf(), &closing);
    // The folder our own mkdir made (it fails on a name that exists): nobody else's files.
    let _ = files.close();
    result
}

/// The UI's folder of transferred files: a fresh, randomly named folder in the temporary
/// directory that only we can enter (0700 from its creation; never one that already exists,
/// so nobody can prepare it for us). Dropping it removes it, also when unwinding.
fn private_folder() -> io::Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    // tempfile's own default for folders is 0777 less the umask (often 0755): ask for 0700.
    tempfile::Builder::new()
        .prefix("ftpscope-tui-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
}

fn run_with_files(
    options: UiOptions,
    job: Job,
    files: PathBuf,
    closing: &AtomicBool,
) -> io::Result<UiEnd> {
    let worker = spawn_worker(job, files)?;
    let mut app = App::new(options.source, options.total_bytes, options.show_passwords);
    let result = UiTerminal::open()
        .and_then(|mut ui| event_loop(&mut ui.terminal, &mut app, &worker.messages, closing));
    // The terminal is back (`ui` is gone); now stop the worker and wait for it.
    drop(worker);
    // What was read by then decides the exit status, as it would the report's.
    let end = UiEnd {
        damaged: app.damaged(),
        failed: app.error.is_some(),
    };
    match result {
        // SIGHUP: the terminal is gone, and with it whatever failed to read or draw on it.
        Err(_) if closing.load(Ordering::Relaxed) => Ok(end),
        result => result.map(|()| end),
    }
}

/// How the UI's run went, for the exit status: as the report's (3 on a damaged capture, 1
/// when the analysis failed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UiEnd {
    pub damaged: bool,
    pub failed: bool,
}

/// The terminal in the UI's modes: raw, on the alternate screen, reporting the mouse. Dropping
/// it puts all three back, also when unwinding from a panic; the panic hook puts them back
/// before the panic message is printed.
///
/// Nothing here prints: once the terminal is gone (SIGHUP), writing to standard error fails,
/// and ratatui's own `restore` (and `init`'s panic hook) print that failure with `eprintln!`,
/// which panics on it, inside a drop or a panic hook: the process would abort and leave the
/// UI's folder behind.
struct UiTerminal {
    terminal: ratatui::DefaultTerminal,
}

impl UiTerminal {
    fn open() -> io::Result<UiTerminal> {
        static RESTORE_ON_PANIC: std::sync::Once = std::sync::Once::new();
        RESTORE_ON_PANIC.call_once(|| {
            let report = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                leave_ui_modes();
                report(info);
            }));
        });
        enable_raw_mode()?;
        let entered = execute!(io::stdout(), EnterAlternateScreen, EnableMouseCapture)
            .and_then(|()| ratatui::Terminal::new(CrosstermBackend::new(io::stdout())));
        match entered {
            Ok(terminal) => Ok(UiTerminal { terminal }),
            Err(e) => {
                leave_ui_modes();
                Err(e)
            }
        }
    }
}

impl Drop for UiTerminal {
    fn drop(&mut self) {
        leave_ui_modes();
    }
}

/// Mouse reporting off, the main screen back, raw mode off; errors ignored (the terminal may
/// be gone).
fn leave_ui_modes() {
    let _ = execute!(io::stdout(), DisableMouseCapture);
    let _ = ratatui::try_restore();
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    rx: &Receiver<Msg>,
    closing: &AtomicBool,
) -> io::Result<()> {
    let input = terminal_input::TerminalInput::open()?;
    let size = terminal.size()?;
    app.update(keymap::Action::Resize(size.width, size.height));
    let (files_done, files_rx) = std::sync::mpsc::channel::<Msg>();
    loop {
        if closing.load(Ordering::Relaxed) {
            return Ok(());
        }
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
        // Never into crossterm with a terminal that hung up (see `terminal_input`): an event
        // it holds is taken at once, else the terminal is waited for, 50 ms at most.
        input.check()?;
        if !event::poll(Duration::ZERO)? {
            input.wait(Duration::from_millis(50))?;
        } else {
            let typing = app.prompt.is_some();
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
        if let Some(job) = app.take_file_job() {
            // Off the UI thread: a file may be gigabytes. The outcome comes back as a message.
            let done = files_done.clone();
            std::thread::Builder::new()
                .name("ftpscope-file".into())
                .spawn(move || {
                    let _ = done.send(job.run());
                })?;
        }
        if let Some(text) = app.take_clipboard() {
            // OSC 52: the terminal (or tmux, or the SSH client's terminal) sets its clipboard.
            use std::io::Write;
            let mut out = io::stdout();
            let _ = out.write_all(actions::osc52(&text).as_bytes());
            let _ = out.flush();
        }
        while let Ok(msg) = files_rx.try_recv() {
            app.apply(msg);
        }
        if app.quit {
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
