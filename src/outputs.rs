//! The outputs of a run, built once from the command line for capture files and live capture
//! alike: JSON Lines, the `-x` folder (its index and the tracker that writes files beneath
//! it) and the report. The terminal UI is the other way a run is shown (`ftpscope::tui`).

use anyhow::{Result, anyhow};
use ftpscope::cli::{AsciiEol, Cli, ReportDestination, ZeekFormat};
use ftpscope::output::context::Contexts;
use ftpscope::output::json::{Escapes, JsonLines, TransferFields, write_transfer};
use ftpscope::output::outdir::OutDir;
use ftpscope::output::report::Report;
use ftpscope::output::zeek::{self, ZeekLogs};
use ftpscope::pipeline::{Output, Record, RunSummary};
use ftpscope::text;
use ftpscope::transfers::{HashChoice, TransferTracker};
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Read, Seek, SeekFrom, StdoutLock, Write};
use std::path::Path;

/// How a run's records reach their readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Capture files: written in large blocks.
    Batched,
    /// Live capture: each record is out (JSON line, index line) as soon as it is made.
    Prompt,
}

/// What `--json`, `-x DIR` and `--report` asked for, opened.
pub struct Outputs {
    json: Option<JsonLines<BufWriter<StdoutLock<'static>>>>,
    index: Option<ExtractIndex>,
    report: Option<Report<BufWriter<Box<dyn Write + Send>>>>,
    zeek: Option<ZeekLogs>,
    /// Hashes every transfer, and writes files when extracting; taken by the pipeline.
    tracker: Option<TransferTracker>,
}

impl Outputs {
    /// Opens what the command line asks for. `-x DIR` is opened here, before the first packet
    /// is read: an unusable folder is an [`ExtractionUnusable`] error (exit status 4).
    pub fn from_cli(cli: &Cli, delivery: Delivery) -> Result<Outputs> {
        let prompt = delivery == Delivery::Prompt;
        let json_buffer = if prompt { 0 } else { 1 << 16 };
        let json = cli.json.then(|| {
            JsonLines::new(
                BufWriter::with_capacity(json_buffer, io::stdout().lock()),
                cli.show_passwords,
            )
            .with_hashes(cli.hash)
        });
        // The report file is made first: when it cannot be, nothing else was created. It is
        // remembered to be removed if the run cannot start.
        let mut report_file: Option<(OutDir, String)> = None;
        let report_out: Option<Box<dyn Write + Send>> = match cli.report_destination() {
            None => None,
            Some(ReportDestination::Stdout) => Some(Box::new(io::stdout())),
            Some(ReportDestination::Stderr) => Some(Box::new(AfterStatusLine::new(io::stderr()))),
            Some(ReportDestination::File(path)) => {
                let (dir, name, file) = create_report_file(&path)?;
                report_file = Some((dir, name));
                Some(Box::new(file))
            }
        };
        let report = report_out.map(|out| Report::new(BufWriter::new(out), cli.show_passwords));
        let opened = open_extraction(cli, prompt).and_then(|extraction| {
            let zeek = open_zeek_logs(cli)?;
            Ok((extraction, zeek))
        });
        let (index, mut tracker, zeek) = match opened {
            Ok((Some((index, tracker)), zeek)) => (Some(index), tracker, zeek),
            Ok((None, zeek)) => (None, TransferTracker::new(None)?, zeek),
            Err(e) => {
                // An empty report file would only stand in the way of the next run.
                if let Some((dir, name)) = &report_file {
                    let _ = dir.remove_file(name);
                }
                return Err(e);
            }
        };
        tracker.set_hashes(cli.hash);
        Ok(Outputs {
            json,
            index,
            report,
            zeek,
            tracker: Some(tracker),
        })
    }

    /// The tracker, for the pipeline (once).
    pub fn take_tracker(&mut self) -> Result<TransferTracker> {
        match self.tracker.take() {
            Some(tracker) => Ok(tracker),
            None => Ok(TransferTracker::new(None)?),
        }
    }

    /// The outputs asked for, in the order given: JSON Lines, the extraction index, the Zeek
    /// logs, the report.
    pub fn chosen(&mut self) -> Vec<&mut dyn Output> {
        [
            self.json.as_mut().map(|o| o as &mut dyn Output),
            self.index.as_mut().map(|o| o as &mut dyn Output),
            self.zeek.as_mut().map(|o| o as &mut dyn Output),
            self.report.as_mut().map(|o| o as &mut dyn Output),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// Creates the file `--report FILE` names, as every file we write is made: beneath a handle
/// on its folder, never through a link, never over an existing file (an error, exit status
/// 1, before any packet is read). Private (0600): the report may show what crossed the wire.
/// Returns the folder and the name too, to remove the file if the run cannot start.
fn create_report_file(path: &Path) -> Result<(OutDir, String, File)> {
    let shown = text::escape(path.as_os_str().as_encoded_bytes());
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow!("--report {shown}: not a file name ftpscope can create"))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let created = OutDir::open_or_create(parent).and_then(|dir| {
        let file = dir.create_new(name, true)?;
        Ok((dir, file))
    });
    match created {
        Ok((dir, file)) => Ok((dir, name.to_owned(), file)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(anyhow!(
            "--report {shown}: the file already exists (ftpscope never overwrites a file nor \
             writes through a link)"
        )),
        Err(e) => Err(anyhow!("--report {shown}: cannot create the report: {e}")),
    }
}

/// Standard error for the report: a progress bar or a live status line may be standing on
/// the terminal's last line, so on a terminal the line is cleared before the report starts.
struct AfterStatusLine {
    out: io::Stderr,
    clear_first: bool,
}

impl AfterStatusLine {
    fn new(out: io::Stderr) -> Self {
        let clear_first = out.is_terminal();
        AfterStatusLine { out, clear_first }
    }
}

impl Write for AfterStatusLine {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if std::mem::take(&mut self.clear_first) {
            self.out.write_all(b"\r\x1b[2K")?;
        }
        self.out.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Writes every transfer record to DIR/index.jsonl.
struct ExtractIndex {
    out: BufWriter<File>,
    /// The extraction folder (for `--ascii-eol local`'s rewrites).
    root: OutDir,
    ascii_eol: AsciiEol,
    hashes: HashChoice,
    /// Open sessions, for the user and control connection of their transfers.
    contexts: Contexts,
    /// One record's JSON, reused.
    line: Vec<u8>,
}

impl ExtractIndex {
    /// Opens `root/index.jsonl` to add this run's records after an earlier run's, when the
    /// file there is one we may add to (a regular file of ours, private, with one name: see
    /// [`OutDir::open_append`]); creates it when there is none. When something else stands
    /// there (a link, a file of another user, a hard link), nothing of it is touched: this
    /// run's index is `index (2).jsonl` ... and the run says so. With `unbuffered`, each
    /// record is on disk (in one write) as soon as its transfer ends (live capture).
    fn create(
        root: OutDir,
        ascii_eol: AsciiEol,
        hashes: HashChoice,
        unbuffered: bool,
    ) -> io::Result<Self> {
        let shown = |p: &Path| text::escape(p.as_os_str().as_encoded_bytes());
        let file = match root.open_append("index.jsonl")? {
            Some(mut file) => {
                // An earlier run cut short may have left its last line unfinished: this
                // run's first record starts on a line of its own.
                let len = file.metadata()?.len();
                if len > 0 {
                    let mut last = [0u8; 1];
                    file.seek(SeekFrom::Start(len - 1))?;
                    file.read_exact(&mut last)?;
                    if last != *b"\n" {
                        file.write_all(b"\n")?;
                    }
                }
                file
            }
            None => {
                let (path, file) = root.create_unique("index.jsonl")?;
                if path.file_name() != Some("index.jsonl".as_ref()) {
                    ftpscope::say!(
                        "ftpscope: {} is not a file ftpscope may add to (a link, another \
                         user's file, or a file with other names); this run's index is {}",
                        shown(&root.path().join("index.jsonl")),
                        shown(&path)
                    );
                }
                file
            }
        };
        let capacity = if unbuffered { 0 } else { 8 << 10 };
        Ok(ExtractIndex {
            out: BufWriter::with_capacity(capacity, file),
            root,
            ascii_eol,
            hashes,
            contexts: Contexts::default(),
            line: Vec::new(),
        })
    }
}

/// Opens `--zeek-logs DIR` (when asked) before the first packet is read: `ftp.log` and
/// `files.log`, new files beneath a handle on DIR (an unusable folder: exit status 1).
fn open_zeek_logs(cli: &Cli) -> Result<Option<ZeekLogs>> {
    let Some(dir) = &cli.zeek_logs else {
        return Ok(None);
    };
    let shown = text::escape(dir.as_os_str().as_encoded_bytes());
    let format = match cli.zeek_format {
        ZeekFormat::Tsv => zeek::Format::Tsv,
        ZeekFormat::Json => zeek::Format::Json,
    };
    let logs = OutDir::open_or_create(dir)
        .and_then(|root| ZeekLogs::create(&root, format, cli.hash, cli.show_passwords))
        .map_err(|e| anyhow!("--zeek-logs {shown}: cannot write the logs: {e}"))?;
    Ok(Some(logs))
}

/// The output folder could not be used: exit status 4, said before any packet is read.
#[derive(Debug)]
pub struct ExtractionUnusable(String);

impl std::fmt::Display for ExtractionUnusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot extract: {}", self.0)
    }
}

impl std::error::Error for ExtractionUnusable {}

/// Opens `-x DIR` (when asked) before the first packet is read: the folder, its index and the
/// tracker's private folder of partial files, all beneath one folder handle.
fn open_extraction(cli: &Cli, unbuffered: bool) -> Result<Option<(ExtractIndex, TransferTracker)>> {
    let Some(dir) = &cli.extract else {
        return Ok(None);
    };
    let unusable = |e: io::Error| anyhow::Error::new(ExtractionUnusable(e.to_string()));
    let root = OutDir::open_or_create(dir).map_err(unusable)?;
    let tracker =
        TransferTracker::new(Some(root.try_clone().map_err(unusable)?)).map_err(unusable)?;
    let index =
        ExtractIndex::create(root, cli.ascii_eol, cli.hash, unbuffered).map_err(unusable)?;
    Ok(Some((index, tracker)))
}

impl Output for ExtractIndex {
    fn record(&mut self, record: &Record) -> io::Result<()> {
        self.contexts.observe(record);
        if let Record::SessionEnded(s) = record {
            self.contexts.end(s.session);
        }
        if let Record::Transfer(t) = record {
            if self.ascii_eol == AsciiEol::Local
                && t.record.transfer_type == Some(b'A')
                && let Some(path) = &t.file
            {
                to_local_eol(&self.root, path)?;
            }
            let fields = TransferFields {
                hashes: self.hashes,
                session: self.contexts.get(t.record.session),
            };
            self.line.clear();
            write_transfer(&mut self.line, t, &fields, Escapes::TerminalSafe);
            self.line.push(b'\n');
            self.out.write_all(&self.line)?;
        }
        Ok(())
    }

    fn finish(&mut self, _: &RunSummary) -> io::Result<()> {
        self.out.flush()
    }
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
