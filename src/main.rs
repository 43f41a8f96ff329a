//! ftpscope: the binary. Every side effect lives here: files, standard streams, the terminal.

use anyhow::{Context, Result};
use clap::Parser;
use ftpscope::capture::{CaptureReader, MergedCapture};
use ftpscope::cli::{AsciiEol, Cli};
use ftpscope::output::json::{Escapes, JsonLines, write_transfer};
use ftpscope::output::report::Report;
use ftpscope::pipeline::{Output, Pipeline, Record, RunSummary};
use ftpscope::text;
use ftpscope::transfers::TransferTracker;
use ftpscope_core::Analyzer;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;

mod live;

/// Writes every transfer record to DIR/index.jsonl.
struct ExtractIndex {
    out: BufWriter<File>,
    ascii_eol: AsciiEol,
    /// One record's JSON, reused.
    line: Vec<u8>,
}

impl ExtractIndex {
    /// Creates `dir` (when missing) and `dir/index.jsonl`. With `unbuffered`, each record is on
    /// disk (in one write) as soon as its transfer ends (live capture).
    fn create(dir: &Path, ascii_eol: AsciiEol, unbuffered: bool) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join("index.jsonl");
        let file =
            File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
        let capacity = if unbuffered { 0 } else { 8 << 10 };
        Ok(ExtractIndex {
            out: BufWriter::with_capacity(capacity, file),
            ascii_eol,
            line: Vec::new(),
        })
    }
}

impl Output for ExtractIndex {
    fn record(&mut self, record: &Record) -> io::Result<()> {
        if let Record::Transfer(t) = record {
            if self.ascii_eol == AsciiEol::Local
                && t.record.transfer_type == Some(b'A')
                && let Some(path) = &t.file
            {
                to_local_eol(path)?;
            }
            // Escaped as JSON only, as it always was (`--json` also escapes what a terminal
            // would obey).
            self.line.clear();
            write_transfer(&mut self.line, t, Escapes::TerminalSafe);
            self.line.push(b'\n');
            self.out.write_all(&self.line)?;
        }
        Ok(())
    }

    fn finish(&mut self, _: &RunSummary) -> io::Result<()> {
        self.out.flush()
    }
}

/// The outputs asked for, in the order given (JSON Lines, the extraction index, the report).
fn chosen_outputs<const N: usize>(outputs: [Option<&mut dyn Output>; N]) -> Vec<&mut dyn Output> {
    outputs.into_iter().flatten().collect()
}

/// Rewrites an extracted TYPE A file with LF line endings, streaming.
fn to_local_eol(path: &Path) -> io::Result<()> {
    let tmp = path.with_extension("eol-tmp");
    {
        let mut input = io::BufReader::with_capacity(1 << 20, File::open(path)?);
        let mut out = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        let mut buf = vec![0u8; 1 << 16];
        let mut pending_cr = false;
        loop {
            let n = input.read(&mut buf)?;
            if n == 0 {
                break;
            }
            for &b in &buf[..n] {
                if pending_cr && b != b'\n' {
                    out.write_all(b"\r")?;
                }
                pending_cr = b == b'\r';
                if !pending_cr {
                    out.write_all(&[b])?;
                }
            }
        }
        if pending_cr {
            out.write_all(b"\r")?;
        }
        out.flush()?;
    }
    std::fs::rename(&tmp, path)
}

/// A capture opened for reading, and its size when known (for the progress bar).
type OpenedInput = (CaptureReader<Box<dyn Read + Send>>, Option<u64>);

fn open_input(name: &str) -> Result<OpenedInput> {
    let (reader, size): (Box<dyn Read + Send>, Option<u64>) = if name == "-" {
        (Box::new(io::stdin()), None)
    } else {
        let file = File::open(name)
            .with_context(|| format!("cannot open {}", text::escape(name.as_bytes())))?;
        let size = file.metadata().ok().map(|m| m.len());
        (Box::new(file), size)
    };
    let capture = CaptureReader::open(reader)
        .with_context(|| format!("cannot read {}", text::escape(name.as_bytes())))?;
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

fn run(cli: Cli) -> Result<ExitCode> {
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
        let job = ftpscope::tui::file_job(names, capture, cli.limits());
        ftpscope::tui::run(options, job).context("terminal UI")?;
        return Ok(ExitCode::SUCCESS);
    }

    let stdout = io::stdout();
    let mut json = cli.json.then(|| {
        JsonLines::new(
            BufWriter::with_capacity(1 << 16, stdout.lock()),
            cli.show_passwords,
        )
    });
    let want_report = cli.report || !cli.json;
    let mut report =
        want_report.then(|| Report::new(BufWriter::new(io::stdout()), cli.show_passwords));
    // An output folder that cannot be used fails the extraction (exit status 4), not the
    // analysis: the report is still written.
    let mut setup_error: Option<String> = None;
    let index_and_tracker = cli.extract.as_ref().map(|dir| -> Result<_> {
        let index = ExtractIndex::create(dir, cli.ascii_eol, false)?;
        let tracker = TransferTracker::new(Some(dir.clone()))
            .with_context(|| format!("cannot write into {}", dir.display()))?;
        Ok((index, tracker))
    });
    let (mut index, tracker) = match index_and_tracker {
        Some(Ok((index, tracker))) => (Some(index), tracker),
        Some(Err(e)) => {
            setup_error = Some(format!("{e:#}"));
            (None, TransferTracker::new(None)?)
        }
        None => (None, TransferTracker::new(None)?),
    };

    let outputs = chosen_outputs([
        json.as_mut().map(|o| o as &mut dyn Output),
        index.as_mut().map(|o| o as &mut dyn Output),
        report.as_mut().map(|o| o as &mut dyn Output),
    ]);
    let mut pipeline = Pipeline {
        analyzer: Analyzer::new(cli.limits()),
        tracker,
        outputs,
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
    if let Some(e) = setup_error.as_ref().or(summary.extract_error.as_ref()) {
        eprintln!(
            "ftpscope: extraction incomplete: {}",
            text::escape(e.as_bytes())
        );
        return Ok(ExitCode::from(4));
    }
    Ok(if summary.damage.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
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
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // A closed pipe (`ftpscope ... | head`) is not a failure.
            if e.chain().any(|c| {
                c.downcast_ref::<io::Error>()
                    .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("ftpscope: {}", printable(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}
