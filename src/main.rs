//! ftpscope: the binary. Every side effect lives here: files, standard streams, the terminal.

use anyhow::{Context, Result};
use clap::Parser;
use ftpscope::capture::{CaptureReader, MergedCapture};
use ftpscope::cli::{AsciiEol, Cli};
use ftpscope::output::json::{Escapes, JsonLines, write_transfer};
use ftpscope::output::outdir::OutDir;
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
    /// The extraction folder (for `--ascii-eol local`'s rewrites).
    root: OutDir,
    ascii_eol: AsciiEol,
    /// One record's JSON, reused.
    line: Vec<u8>,
}

impl ExtractIndex {
    /// Creates `root/index.jsonl`, or `index (2).jsonl` ... when a file (or a link) is already
    /// there: nothing is overwritten. With `unbuffered`, each record is on disk (in one
    /// write) as soon as its transfer ends (live capture).
    fn create(root: OutDir, ascii_eol: AsciiEol, unbuffered: bool) -> io::Result<Self> {
        let (path, file) = root.create_unique("index.jsonl")?;
        if path.file_name() != Some("index.jsonl".as_ref()) {
            eprintln!(
                "ftpscope: {} already exists; this run's index is {}",
                text::escape(
                    root.path()
                        .join("index.jsonl")
                        .as_os_str()
                        .as_encoded_bytes()
                ),
                text::escape(path.as_os_str().as_encoded_bytes())
            );
        }
        let capacity = if unbuffered { 0 } else { 8 << 10 };
        Ok(ExtractIndex {
            out: BufWriter::with_capacity(capacity, file),
            root,
            ascii_eol,
            line: Vec::new(),
        })
    }
}

/// `-x DIR` opened for a run: the index and the tracker that writes files beneath the folder.
struct Extraction {
    index: ExtractIndex,
    tracker: TransferTracker,
}

/// The output folder could not be used: exit status 4, said before any packet is read.
#[derive(Debug)]
struct ExtractionUnusable(String);

impl std::fmt::Display for ExtractionUnusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot extract: {}", self.0)
    }
}

impl std::error::Error for ExtractionUnusable {}

/// Opens `-x DIR` (when asked) before the first packet is read: the folder, its index and the
/// tracker's private folder of partial files, all beneath one folder handle.
fn open_extraction(cli: &Cli, unbuffered: bool) -> Result<Option<Extraction>> {
    let Some(dir) = &cli.extract else {
        return Ok(None);
    };
    let unusable = |e: io::Error| anyhow::Error::new(ExtractionUnusable(e.to_string()));
    let root = OutDir::open_or_create(dir).map_err(unusable)?;
    let tracker =
        TransferTracker::new(Some(root.try_clone().map_err(unusable)?)).map_err(unusable)?;
    let index = ExtractIndex::create(root, cli.ascii_eol, unbuffered).map_err(unusable)?;
    Ok(Some(Extraction { index, tracker }))
}

impl Output for ExtractIndex {
    fn record(&mut self, record: &Record) -> io::Result<()> {
        if let Record::Transfer(t) = record {
            if self.ascii_eol == AsciiEol::Local
                && t.record.transfer_type == Some(b'A')
                && let Some(path) = &t.file
            {
                to_local_eol(&self.root, path)?;
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

/// Rewrites an extracted TYPE A file (below `root`) with LF line endings, streaming, beneath
/// the folder's handle: read without following a link, written to a new file that then
/// takes the name.
fn to_local_eol(root: &OutDir, path: &Path) -> io::Result<()> {
    let rel = path
        .strip_prefix(root.path())
        .map_err(|_| io::Error::other("a file outside the extraction folder"))?;
    let (Some(parent), Some(name)) = (rel.parent(), rel.file_name().and_then(|n| n.to_str()))
    else {
        return Err(io::Error::other("not an extracted file"));
    };
    let dir = root.existing_subdir(parent)?;
    let (tmp_path, tmp) = dir.create_unique(&format!("{name}.eol-tmp"))?;
    let tmp_name = tmp_path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let converted = (|| {
        let mut input = io::BufReader::with_capacity(1 << 20, root.open_read(rel)?);
        let mut out = BufWriter::with_capacity(1 << 20, tmp);
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
        out.flush()
    })();
    match converted {
        Ok(()) => dir.replace(&tmp_name, name),
        Err(e) => {
            let _ = dir.remove_file(&tmp_name);
            Err(e)
        }
    }
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
    // An output folder that cannot be used fails at once (exit status 4), before a packet
    // is read.
    let (mut index, tracker) = match open_extraction(&cli, false)? {
        Some(x) => (Some(x.index), x.tracker),
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
    if let Some(e) = summary.extract_error.as_ref() {
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
            if e.downcast_ref::<ExtractionUnusable>().is_some() {
                return ExitCode::from(4);
            }
            ExitCode::FAILURE
        }
    }
}
