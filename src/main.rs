//! ftpscope: the binary. Every side effect lives here: files, standard streams, the terminal.

use anyhow::{Context, Result, anyhow};
use ftpscope::capture::filter::FrameFilter;
use ftpscope::capture::{CaptureReader, MergeStep, MergedCapture, decompressing};
use ftpscope::carve::{CarveFormat, CarveWriter, Carver, FlowCollector};
use ftpscope::cli::{Cli, Exit};
use ftpscope::output::outdir::create_new_file;
use ftpscope::pipeline::Pipeline;
use ftpscope::text;
use ftpscope_core::LinkType;
use outputs::{Delivery, ExtractionUnusable, Outputs};
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;

mod live;
mod outputs;

/// What a capture's header says of its link type: `(link type number, nanoseconds)` for a
/// pcap, `None` for a pcapng (see [`CaptureReader::pcap_link`]).
type PcapLink = Option<(u32, bool)>;

/// A capture opened for reading, and its size when known (for the progress bar).
type OpenedInput = (CaptureReader<Box<dyn Read + Send>>, Option<u64>);

/// Opens a capture file (`-` is standard input), decompressing it when its first bytes say
/// it is gzip or zstd.
fn open_input(name: &str) -> Result<OpenedInput> {
    let shown = || text::escape(name.as_bytes());
    let (reader, size): (Box<dyn Read + Send>, Option<u64>) = if name == "-" {
        (Box::new(io::stdin()), None)
    } else {
        let file = File::open(name).with_context(|| format!("cannot open {}", shown()))?;
        let size = file.metadata().ok().map(|m| m.len());
        (Box::new(file), size)
    };
    let (reader, compression) =
        decompressing(reader).with_context(|| format!("cannot read {}", shown()))?;
    // The progress counts decompressed bytes: the file's size would not measure them.
    let size = size.filter(|_| compression.is_none());
    let capture = CaptureReader::open(reader).with_context(|| match compression {
        Some(c) => format!("cannot read {} ({c} decompressed)", shown()),
        None => format!("cannot read {}", shown()),
    })?;
    Ok((capture, size))
}

/// A one-line progress bar on standard error, redrawn at most a few times a second.
fn progress_bar(total: Option<u64>) -> impl FnMut(u64) {
    let mut last = std::time::Instant::now();
    move |done: u64| {
        if last.elapsed().as_millis() < 200 {
            return;
        }
        last = std::time::Instant::now();
        let line = match total {
            Some(t) if t > 0 => {
                let pct = (done as f64 / t as f64 * 100.0).min(100.0);
                let filled = (pct / 5.0) as usize;
                format!(
                    "[{}{}] {pct:5.1}%  {}",
                    "#".repeat(filled),
                    ".".repeat(20 - filled),
                    text::human_bytes(done)
                )
            }
            _ => format!("{} read", text::human_bytes(done)),
        };
        ftpscope::say_partial!("\r\x1b[2K{line}");
    }
}

fn run(cli: Cli) -> Result<Exit> {
    if let Some(what) = cli.generate {
        let mut out = io::stdout().lock();
        what.write(&mut out)
            .context("cannot write to standard output")?;
        out.flush().context("cannot write to standard output")?;
        return Ok(Exit::Success);
    }
    if cli.interface.is_some() || cli.list_interfaces {
        return live::run(cli);
    }
    let (mut capture, total, links) = open_inputs(&cli.read)?;
    let filter_options = cli.filter_options();
    if !filter_options.is_empty() {
        match FrameFilter::new(filter_options, first_link(&links)) {
            Ok(filter) => capture.set_filter(filter),
            Err(e) => {
                ftpscope::say!("ftpscope: {}", printable(&e));
                return Ok(Exit::Usage);
            }
        }
    }
    let names = cli.read.clone();

    // On a terminal with nothing else asked for: the TUI. Files go to its private temporary
    // folder so the transfer view can show them and `s` can save them; it is removed when the
    // UI closes.
    if cli.wants_ui(io::stdout().is_terminal()) {
        let options = ftpscope::tui::UiOptions {
            source: names.join(", "),
            total_bytes: total,
            show_passwords: cli.show_passwords,
        };
        let job = ftpscope::tui::file_job(names, capture, ftpscope::keys::analyzer(&cli)?);
        let end = ftpscope::tui::run(options, job).context("terminal UI")?;
        // As the report's: 1 when the analysis failed, 3 on a damaged capture.
        return Ok(if end.failed {
            Exit::Failure
        } else if end.damaged {
            Exit::Damaged
        } else {
            Exit::Success
        });
    }

    // `-w FILE` is made first, before a packet is read: an existing file fails at once.
    let carve_file = match &cli.write {
        Some(path) if cli.carving() => Some(create_new_file(path).map_err(|e| anyhow!("{e}"))?),
        _ => None,
    };
    // An output folder that cannot be used fails here (exit status 4), before a packet is
    // read.
    let mut outputs = match Outputs::from_cli(&cli, Delivery::Batched) {
        Ok(outputs) => outputs,
        Err(e) => {
            // An empty -w file would only stand in the way of the next run.
            if let Some((dir, name, _)) = &carve_file {
                let _ = dir.remove_file(name);
            }
            return Err(e);
        }
    };
    let tracker = outputs.take_tracker()?;
    let mut collector = FlowCollector::new(cli.session);
    let mut chosen = outputs.chosen();
    if carve_file.is_some() {
        chosen.push(&mut collector);
    }
    let mut pipeline = Pipeline {
        analyzer: ftpscope::keys::analyzer(&cli)?,
        tracker,
        outputs: chosen,
    };
    let show_progress = !cli.no_progress && io::stderr().is_terminal();
    let mut bar = progress_bar(total);
    let mut progress = |done: u64| {
        if show_progress {
            bar(done)
        }
    };
    let summary = pipeline.run(names, &mut capture, &mut progress)?;
    drop(pipeline);
    if show_progress {
        ftpscope::say_partial!("\r\x1b[2K");
    }
    if let Some(e) = capture.filter().and_then(|f| f.error()) {
        ftpscope::say!(
            "ftpscope: {} (the frames before it were analysed)",
            printable(e)
        );
        return Ok(Exit::Usage);
    }
    for d in &summary.damage {
        ftpscope::say!(
            "ftpscope: {} is damaged at byte {}: {} (analysed up to there)",
            text::escape(d.name.as_bytes()),
            d.damage.offset,
            text::escape(d.damage.what.as_bytes())
        );
    }
    if let Some((dir, name, file)) = carve_file {
        let path = cli.write.as_deref().unwrap_or(Path::new("-w"));
        if let Some(n) = cli.session
            && collector.sessions.is_empty()
        {
            let _ = dir.remove_file(&name);
            ftpscope::say!(
                "ftpscope: no session {n} in the capture ({} sessions); nothing written to {}",
                collector.sessions_seen,
                printable(&path.display().to_string())
            );
            return Ok(Exit::Failure);
        }
        carve(&cli, &links, collector, file, &mut progress)
            .with_context(|| format!("cannot write {}", path.display()))?;
        if show_progress {
            ftpscope::say_partial!("\r\x1b[2K");
        }
    }
    if let Some(e) = summary.extract_error.as_ref() {
        ftpscope::say!(
            "ftpscope: extraction incomplete: {}",
            text::escape(e.as_bytes())
        );
        return Ok(Exit::Extraction);
    }
    Ok(if summary.damage.is_empty() {
        Exit::Success
    } else {
        Exit::Damaged
    })
}

/// The captures `names` (`-` is standard input) merged in time order, their total size when
/// known (for the progress bar), and what each says of its link type (see
/// [`CaptureReader::pcap_link`]).
fn open_inputs(names: &[String]) -> Result<(MergedCapture, Option<u64>, Vec<PcapLink>)> {
    let mut inputs = Vec::new();
    let mut links = Vec::new();
    let mut total: Option<u64> = Some(0);
    for name in names {
        let (capture, size) = open_input(name)?;
        total = total.zip(size).map(|(a, b)| a + b);
        links.push(capture.pcap_link());
        inputs.push((name.clone(), capture));
    }
    Ok((MergedCapture::new(inputs), total, links))
}

/// The first input's link type, when its header says it (pcap): `-f` is compiled for it
/// before a frame is read.
fn first_link(links: &[PcapLink]) -> Option<LinkType> {
    links
        .first()
        .copied()
        .flatten()
        .map(|(linktype, _)| LinkType::from_linktype(linktype))
}

/// `-r IN -w OUT`, second pass: the inputs read again through the same filters, and the
/// frames of the connections the first pass found written to `file`.
fn carve(
    cli: &Cli,
    links: &[PcapLink],
    collector: FlowCollector,
    file: File,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let (mut capture, _, _) = open_inputs(&cli.read)?;
    let filter_options = cli.filter_options();
    if !filter_options.is_empty() {
        capture.set_filter(
            FrameFilter::new(filter_options, first_link(links)).map_err(|e| anyhow!(e))?,
        );
    }
    let format = CarveFormat::for_inputs(links);
    let mut writer = CarveWriter::new(io::BufWriter::with_capacity(1 << 20, file), format)?;
    let (sessions, connections) = (collector.sessions.len(), collector.flows.len());
    let mut carver = Carver::new(collector.flows);
    let mut steps = 0u64;
    while let Some(step) = capture.next_step() {
        match step {
            MergeStep::Frame(frame) => {
                if carver.wants(&frame.record) {
                    writer.frame(&frame.record)?;
                }
            }
            MergeStep::Secrets(logs) => {
                for log in logs {
                    writer.secrets(&log)?;
                }
            }
            // Said after the first pass.
            MergeStep::Damage(_) => {}
        }
        steps += 1;
        if steps.is_multiple_of(8192) {
            progress(capture.bytes_read());
        }
    }
    let (packets, bytes) = (writer.packets, writer.bytes);
    writer.finish()?;
    let path = cli.write.as_deref().unwrap_or(Path::new("-w"));
    let what = match cli.session {
        Some(n) => format!("session {n}"),
        None if sessions == 1 => "1 session".to_owned(),
        None => format!("{sessions} sessions"),
    };
    ftpscope::say!(
        "ftpscope: carved {what} ({connections} connections): {packets} packets, {} into {} ({})",
        text::human_bytes(bytes),
        printable(&path.display().to_string()),
        format.name()
    );
    Ok(())
}

/// An error message with its control characters escaped: paths in it may hold anything (wire
/// bytes in it were escaped where the message was made, so backslashes are left alone).
fn printable(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for c in message.chars() {
        match c {
            '\\' => out.push(c),
            c => out.push_str(&text::escape(c.encode_utf8(&mut [0; 4]).as_bytes())),
        }
    }
    out
}

fn main() -> ExitCode {
    let cli = Cli::parse_checked();
    match run(cli) {
        Ok(exit) => exit.into(),
        Err(e) => {
            // A closed pipe (`ftpscope ... | head`) is not a failure.
            if e.chain().any(|c| {
                c.downcast_ref::<io::Error>()
                    .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            }) {
                return Exit::Success.into();
            }
            ftpscope::say!("ftpscope: {}", printable(&format!("{e:#}")));
            if e.downcast_ref::<ExtractionUnusable>().is_some() {
                return Exit::Extraction.into();
            }
            Exit::Failure.into()
        }
    }
}
