//! ftpscope: the binary. Every side effect lives here: files, standard streams, the terminal.

use anyhow::{Context, Result};
use ftpscope::capture::{CaptureReader, MergedCapture, decompressing};
use ftpscope::cli::{Cli, Exit};
use ftpscope::pipeline::Pipeline;
use ftpscope::text;
use outputs::{Delivery, ExtractionUnusable, Outputs};
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::process::ExitCode;

mod live;
mod outputs;

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
        eprint!("\r\x1b[2K{line}");
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
    let mut inputs = Vec::new();
    let mut total: Option<u64> = Some(0);
    for name in &cli.read {
        let (capture, size) = open_input(name)?;
        total = total.zip(size).map(|(a, b)| a + b);
        inputs.push((name.clone(), capture));
    }
    let names: Vec<String> = inputs.iter().map(|(n, _)| n.clone()).collect();
    let mut capture = MergedCapture::new(inputs);

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

    // An output folder that cannot be used fails here (exit status 4), before a packet is
    // read.
    let mut outputs = Outputs::from_cli(&cli, Delivery::Batched)?;
    let mut pipeline = Pipeline {
        analyzer: ftpscope::keys::analyzer(&cli)?,
        tracker: outputs.take_tracker()?,
        outputs: outputs.chosen(),
    };
    let show_progress = !cli.no_progress && io::stderr().is_terminal();
    let mut bar = progress_bar(total);
    let mut progress = |done: u64| {
        if show_progress {
            bar(done)
        }
    };
    let summary = pipeline.run(names, &mut capture, &mut progress)?;
    if show_progress {
        eprint!("\r\x1b[2K");
    }
    for d in &summary.damage {
        eprintln!(
            "ftpscope: {} is damaged at byte {}: {} (analysed up to there)",
            text::escape(d.name.as_bytes()),
            d.damage.offset,
            text::escape(d.damage.what.as_bytes())
        );
    }
    if let Some(e) = summary.extract_error.as_ref() {
        eprintln!(
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
            eprintln!("ftpscope: {}", printable(&format!("{e:#}")));
            if e.downcast_ref::<ExtractionUnusable>().is_some() {
                return Exit::Extraction.into();
            }
            Exit::Failure.into()
        }
    }
}
