//! Live capture's run (`-i IFACE`, `-D`), behind the `live` cargo feature because it links
//! libpcap: the capture itself is the library's `ftpscope::capture::live` (its module docs say
//! how the interface is opened, how frames are batched, how the capture stops and how drops
//! are counted); here it is wired to what the binary shows, as capture files are: the outputs
//! (`--json`, `-x`, `--report`) or the terminal UI, then the counters and the exit status.
//!
//! - **Terminal UI**: on a terminal with no `--json`, `-x` or `--report`, the same pipeline
//!   runs as the UI's [`Job`](ftpscope::tui::Job) on its worker thread; the counters go to its
//!   status bar (packets, packets per second, drops) instead of standard error. `q` stops the
//!   capture; so do SIGINT, SIGTERM and SIGHUP, which the UI handles itself (the capture's
//!   handlers are then not installed: signal-hook would call them first, and a second
//!   signal's immediate exit would leave the terminal unrestored). The counters are printed
//!   once the terminal is restored.

use anyhow::Result;
use ftpscope::cli::{Cli, Exit};

#[cfg(feature = "live")]
pub use enabled::run;

/// Without the `live` feature there is no libpcap to capture with: say how to get it.
#[cfg(not(feature = "live"))]
pub fn run(_cli: Cli) -> Result<Exit> {
    ftpscope::say!(
        "ftpscope: built without live capture: rebuild with --features live (needs libpcap-dev)"
    );
    Ok(Exit::Usage)
}

#[cfg(feature = "live")]
mod enabled {
    use super::{Cli, Exit, Result};
    use crate::outputs::{Delivery, Outputs};
    use anyhow::{Context, anyhow, bail};
    use ftpscope::capture::live::{
        CaptureOptions, CaptureThread, DEFAULT_BUFFER_KIB, DEFAULT_FILTER, DEFAULT_SNAPLEN,
        DropMarker, LiveSource, Shared, StatusLine, capture_stats, drop_privileges,
        install_signal_handlers, link_name, list_interfaces, lock, open, open_savefile, wall_now,
    };
    use ftpscope::pipeline::{Pipeline, RunSummary};
    use ftpscope::text::{self, escape};
    use ftpscope::tui::{self, Feed, Job, UiOptions};
    use ftpscope_core::Analyzer;
    use std::io::{self, IsTerminal};
    use std::path::Path;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    /// `-i IFACE` (or `-D`): capture until Ctrl-C, SIGTERM or the interface going away.
    pub fn run(cli: Cli) -> Result<Exit> {
        if cli.list_interfaces {
            return list_interfaces();
        }
        let Some(interface) = cli.interface.clone() else {
            bail!("no interface given (-i IFACE)");
        };
        let filter = cli.filter.as_deref().unwrap_or(DEFAULT_FILTER);
        let snaplen = cli.snaplen.unwrap_or(DEFAULT_SNAPLEN);
        let capture = open(&CaptureOptions {
            interface: &interface,
            filter,
            snaplen,
            buffer_kib: cli.buffer_size.unwrap_or(DEFAULT_BUFFER_KIB),
            promisc: !cli.no_promisc,
        })?;
        let opened_at = (wall_now(), Instant::now());
        let stdout_terminal = io::stdout().is_terminal();
        // On a terminal with nothing else asked for: the TUI, as for capture files.
        let use_tui = cli.wants_ui(stdout_terminal);
        // The UI handles the signals that close it (`tui::run`); until it opens they end the
        // process as usual, with nothing to restore yet.
        if !use_tui {
            install_signal_handlers()?;
        }
        let thread = CaptureThread::spawn().context("cannot start the capture thread")?;
        // Key logs are opened as root, like the interface: -Z USER may not be able to.
        let keylogs = ftpscope::keys::KeyLogs::open(&cli.keylog)?;
        if let Some(user) = &cli.user {
            drop_privileges(user)?;
        }

        // Everything written from here on is created as -Z USER.
        let savefile = match &cli.write {
            Some(path) => Some(open_savefile(&capture, path)?),
            None => None,
        };
        // The outputs (`-x DIR` like -w) are opened before a packet is analysed: an unusable
        // folder fails now.
        let outputs = if use_tui {
            None
        } else {
            Some(Outputs::from_cli(&cli, Delivery::Prompt)?)
        };
        let link_name = link_name(&capture);
        let shown = escape(interface.as_bytes());
        ftpscope::say!(
            "ftpscope: capturing on {shown} (link type {link_name}, snaplen {snaplen}, filter \
             {:?}); {} stops",
            escape(filter.as_bytes()),
            if use_tui { "q" } else { "Ctrl-C" }
        );
        let shared = Arc::new(Mutex::new(Shared::new(opened_at.0)));
        // Not over the TUI, nor over JSON Lines going to the same terminal.
        let quiet = use_tui || cli.no_progress || (cli.json && stdout_terminal);
        let show_status = !quiet && io::stderr().is_terminal();
        let status = show_status.then(|| StatusLine::stderr(shown.clone(), opened_at.1));
        let mut source = LiveSource::start(
            thread,
            capture,
            Arc::clone(&shared),
            savefile,
            status,
            opened_at,
        );
        let analyzer = source.follow_keylogs(&cli, keylogs);
        let summary = if use_tui {
            run_tui(&cli, interface, source, &shared, analyzer)?;
            None
        } else {
            let outputs = outputs.ok_or_else(|| anyhow!("no outputs"))?;
            Some(run_outputs(interface, source, &shared, outputs, analyzer)?)
        };

        let shared = lock(&shared);
        let d = shared.drop_counts();
        let analysed = summary.as_ref().map_or(String::new(), |s| {
            format!("{} packets analysed; ", s.stats.frames)
        });
        ftpscope::say!(
            "ftpscope: {shown}: {analysed}the capture received {}, the kernel dropped {}, the \
             interface dropped {}",
            d.received,
            d.kernel,
            d.interface
        );
        if d.kernel > 0 {
            ftpscope::say!(
                "ftpscope: the capture fell behind and lost {} packets; {} transfers are marked \
                 with capture_drops (a bigger -B or a narrower -f helps)",
                d.kernel,
                d.transfers_marked
            );
        }
        if let Some(e) = shared.write_error() {
            let path = cli.write.as_deref().unwrap_or(Path::new("-w"));
            ftpscope::say!("ftpscope: cannot write {}: {e}", path.display());
            return Ok(Exit::Failure);
        }
        if let Some(e) = shared.error() {
            ftpscope::say!(
                "ftpscope: capture on {shown} failed: {} (what was captured was analysed)",
                escape(e.as_bytes())
            );
            return Ok(Exit::Failure);
        }
        if let Some(e) = summary.as_ref().and_then(|s| s.extract_error.as_ref()) {
            ftpscope::say!(
                "ftpscope: extraction incomplete: {}",
                text::escape(e.as_bytes())
            );
            return Ok(Exit::Extraction);
        }
        Ok(Exit::Success)
    }

    /// Live capture in the terminal UI (files go to the UI's private temporary folder); `q`
    /// stops the capture, as do SIGINT, SIGTERM and SIGHUP (handled by the UI).
    fn run_tui(
        cli: &Cli,
        interface: String,
        mut source: LiveSource,
        shared: &Arc<Mutex<Shared>>,
        analyzer: Analyzer,
    ) -> Result<()> {
        let options = UiOptions {
            source: format!("live on {}", escape(interface.as_bytes())),
            total_bytes: None,
            show_passwords: cli.show_passwords,
        };
        let shared = Arc::clone(shared);
        let job: Job = Box::new(move |feed: Feed<'_>| {
            source.show_status(StatusLine::ui(feed.status.clone()));
            let mut marker =
                DropMarker::new(Arc::clone(&shared), interface.clone(), vec![feed.output]);
            let mut pipeline = Pipeline {
                analyzer,
                tracker: tui::ui_tracker(&feed.files)?,
                outputs: vec![&mut marker],
            };
            let mut summary =
                pipeline.run_until(vec![interface.clone()], &mut source, &mut |_| {}, feed.stop)?;
            summary.capture = Some(capture_stats(&shared, &interface));
            Ok(summary)
        });
        tui::run(options, job).map(drop).context("terminal UI")
    }

    /// Live capture into JSON Lines, `-x DIR` and the report.
    fn run_outputs(
        interface: String,
        mut source: LiveSource,
        shared: &Arc<Mutex<Shared>>,
        mut outputs: Outputs,
        analyzer: Analyzer,
    ) -> Result<RunSummary> {
        let tracker = outputs.take_tracker()?;
        let mut marker = DropMarker::new(Arc::clone(shared), interface.clone(), outputs.chosen());
        let mut pipeline = Pipeline {
            analyzer,
            tracker,
            outputs: vec![&mut marker],
        };
        let summary = pipeline.run(vec![interface], &mut source, &mut |_| {})?;
        drop(pipeline);
        drop(marker);
        source.shut_down();
        Ok(summary)
    }
}
