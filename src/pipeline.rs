//! The one driving loop, used by every mode (JSON Lines, extraction, the text report, the TUI
//! worker and live capture): frames from a [`FrameSource`] into the analyzer, events out into
//! the transfer tracker and the outputs.

use crate::capture::{InputDamage, MergeStep, MergedCapture};
use crate::transfers::{TransferOutcome, TransferTracker};
use ftpscope_core::event::DataMode;
use ftpscope_core::{Analyzer, Anomaly, Event, Exchange, SessionStart, SessionSummary, Stats};
use ftpscope_core::{Frame, Timestamp};
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What outputs receive, in the order things happened.
#[derive(Debug, Clone)]
pub enum Record {
    SessionStarted(SessionStart),
    Exchange(Exchange),
    SessionEnded(SessionSummary),
    Transfer(Box<TransferOutcome>),
    Anomaly(Anomaly),
    /// An input file is damaged here; frames before it were analysed.
    Damage(InputDamage),
}

/// What the whole run saw.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    pub inputs: Vec<String>,
    pub stats: Stats,
    pub damage: Vec<InputDamage>,
    /// The first error writing extracted files, if any.
    pub extract_error: Option<String>,
    /// Live capture only: what the capture itself saw and lost.
    pub capture: Option<CaptureStats>,
    /// The times of the earliest and the latest frame read (None: no frame).
    pub first_ts: Option<Timestamp>,
    pub last_ts: Option<Timestamp>,
}

/// Live capture: the packet counters libpcap keeps (`pcap_stats`), since the capture opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureStats {
    pub interface: String,
    /// Packets the capture received (after the filter, on most systems).
    pub received: u64,
    /// Packets dropped because the kernel's capture buffer was full (ftpscope fell behind).
    pub kernel_drops: u64,
    /// Packets the interface or its driver dropped (on Linux: the interface's rx_dropped,
    /// counted in promiscuous mode only).
    pub interface_drops: u64,
    /// Transfers marked with `capture_drops` > 0.
    pub transfers_with_drops: u64,
}

pub trait Output {
    fn record(&mut self, record: &Record) -> io::Result<()>;
    fn finish(&mut self, summary: &RunSummary) -> io::Result<()>;
    /// Called every [`POLL_EVERY`] frames and whenever the source is idle, so that an output
    /// holding records back (in a batch) can let them go even when no new record comes.
    fn poll(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What a source of frames yields next.
pub enum SourceItem<'a> {
    Frame(Frame<'a>),
    /// An input is damaged here (that input is done; others may go on).
    Damage(InputDamage),
    /// No frame came for a while (live capture): packet time is now this, so idle flows and
    /// transfers can expire.
    Idle(Timestamp),
    /// TLS key logs the capture carries (pcapng Decryption Secrets Blocks), before the
    /// packets they decrypt.
    Secrets(Vec<Vec<u8>>),
}

/// Where frames come from: capture files (merged) or, with the `live` feature, an interface.
pub trait FrameSource {
    /// The next item, or None when the source is exhausted.
    fn next_item(&mut self) -> Option<SourceItem<'_>>;
    /// Bytes consumed so far (for progress).
    fn bytes_read(&self) -> u64;
}

impl FrameSource for MergedCapture {
    fn next_item(&mut self) -> Option<SourceItem<'_>> {
        Some(match self.next_step()? {
            MergeStep::Frame(frame) => SourceItem::Frame(frame.record),
            MergeStep::Damage(damage) => SourceItem::Damage(damage),
            MergeStep::Secrets(logs) => SourceItem::Secrets(logs),
        })
    }

    fn bytes_read(&self) -> u64 {
        MergedCapture::bytes_read(self)
    }
}

/// How often (in frames) progress is reported.
const PROGRESS_EVERY: u64 = 8192;
/// How often (in frames) outputs are polled.
pub const POLL_EVERY: u64 = 256;
/// Records held back behind a transfer the worker threads have not finished, before the
/// pipeline waits for them.
const MAX_WAITING_RECORDS: usize = 4096;
/// While records wait, bytes batched for the worker threads are sent at least this often.
const WORK_LATENCY: Duration = Duration::from_millis(20);
/// How often (in frames) that latency is checked: a clock read on every frame was 0.8 % of
/// the CPU of `-x` on a capture of many files. A source with no frame for a while says it is
/// idle, which sends the bytes at once.
const LATENCY_CHECK_EVERY: u64 = 16;

pub struct Pipeline<'a> {
    pub analyzer: Analyzer,
    pub tracker: TransferTracker,
    pub outputs: Vec<&'a mut dyn Output>,
}

impl Pipeline<'_> {
    /// Reads every frame of `source`, then finishes the analysis. `progress` gets the bytes
    /// read so far now and then.
    pub fn run(
        &mut self,
        inputs: Vec<String>,
        source: &mut dyn FrameSource,
        progress: &mut dyn FnMut(u64),
    ) -> io::Result<RunSummary> {
        self.run_until(inputs, source, progress, &AtomicBool::new(false))
    }

    /// Like [`Pipeline::run`], but stops reading early once `stop` is set (Ctrl-C in live
    /// capture, quitting the TUI); what was read is still finished with honest verdicts.
    pub fn run_until(
        &mut self,
        inputs: Vec<String>,
        source: &mut dyn FrameSource,
        progress: &mut dyn FnMut(u64),
        stop: &AtomicBool,
    ) -> io::Result<RunSummary> {
        let mut summary = RunSummary {
            inputs,
            ..RunSummary::default()
        };
        // SHA-256 and file writes run beside the parsing; records wait in `outbox` (in order)
        // behind a transfer whose digest and file are not back yet.
        self.tracker.start_threads();
        let mut outbox = VecDeque::new();
        let mut frames = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let Some(item) = source.next_item() else {
                break;
            };
            let mut idle = false;
            match item {
                SourceItem::Frame(frame) => {
                    // Merged inputs come in time order, but a capture's own order may not be.
                    summary.first_ts = Some(summary.first_ts.map_or(frame.ts, |t| t.min(frame.ts)));
                    summary.last_ts = Some(summary.last_ts.map_or(frame.ts, |t| t.max(frame.ts)));
                    self.analyzer.handle_frame(&frame);
                }
                SourceItem::Idle(now) => {
                    self.analyzer.handle_timeout(now);
                    idle = true;
                }
                SourceItem::Secrets(logs) => {
                    for text in logs {
                        self.analyzer.add_tls_keys(&text);
                    }
                }
                SourceItem::Damage(damage) => {
                    summary.damage.push(damage.clone());
                    self.send(&mut outbox, Record::Damage(damage))?;
                }
            }
            self.drain(&mut outbox)?;
            if !outbox.is_empty() {
                if idle {
                    // Nothing else is happening (live capture): show what waits now.
                    self.tracker.flush_threads(Duration::ZERO);
                } else if frames.is_multiple_of(LATENCY_CHECK_EVERY) {
                    self.tracker.flush_threads(WORK_LATENCY);
                }
                self.send_ready(&mut outbox, idle)?;
            }
            frames += 1;
            if idle || frames.is_multiple_of(POLL_EVERY) {
                for out in self.outputs.iter_mut() {
                    out.poll()?;
                }
            }
            if frames.is_multiple_of(PROGRESS_EVERY) {
                progress(source.bytes_read());
            }
        }
        progress(source.bytes_read());
        self.analyzer.finish();
        self.drain(&mut outbox)?;
        self.send_ready(&mut outbox, true)?;
        self.tracker.stop_threads();
        self.tracker.finish();
        summary.stats = self.analyzer.stats().clone();
        summary.extract_error = self.tracker.first_error.clone();
        for out in self.outputs.iter_mut() {
            out.finish(&summary)?;
        }
        Ok(summary)
    }

    fn output(&mut self, record: &Record) -> io::Result<()> {
        for out in self.outputs.iter_mut() {
            out.record(record)?;
        }
        Ok(())
    }

    /// Sends `record` to the outputs, or queues it behind records still waiting in `outbox`.
    fn send(&mut self, outbox: &mut VecDeque<Record>, record: Record) -> io::Result<()> {
        if outbox.is_empty() && !awaits_digest(&record) {
            return self.output(&record);
        }
        outbox.push_back(record);
        self.send_ready(outbox, false)
    }

    /// Sends the records at the front of `outbox` that no longer wait, completing transfers
    /// (digest, file) as the worker threads return them (in the order the transfers ended).
    /// With `wait`, or when too many records wait, waits until every one is sent.
    fn send_ready(&mut self, outbox: &mut VecDeque<Record>, wait: bool) -> io::Result<()> {
        let wait = wait || outbox.len() > MAX_WAITING_RECORDS;
        while let Some(front) = outbox.front_mut() {
            if let Record::Transfer(t) = front
                && t.pending
            {
                let done = if wait {
                    self.tracker.wait_done()?
                } else {
                    match self.tracker.try_done() {
                        Some(done) => done,
                        None => break,
                    }
                };
                self.tracker.complete(t, done);
            }
            if let Some(record) = outbox.pop_front() {
                self.output(&record)?;
            }
        }
        Ok(())
    }

    fn drain(&mut self, outbox: &mut VecDeque<Record>) -> io::Result<()> {
        while let Some(event) = self.analyzer.poll_event() {
            let record = match event {
                Event::SessionStarted(s) => Record::SessionStarted(s),
                Event::Exchange(e) => Record::Exchange(e),
                Event::SessionEnded(s) => Record::SessionEnded(s),
                Event::Anomaly(a) => Record::Anomaly(a),
                Event::TransferStarted(t) => {
                    self.tracker.started(t.transfer);
                    continue;
                }
                Event::TransferData { transfer, data } => {
                    // Only listings are parsed: a file's first bytes are not kept.
                    let analyzer = &self.analyzer;
                    self.tracker
                        .data_of(transfer, &data, || analyzer.transfer_is_listing(transfer));
                    self.analyzer.recycle(data);
                    continue;
                }
                Event::TransferGap { transfer, .. } => {
                    self.tracker.gap(transfer);
                    continue;
                }
                Event::TransferEnded(record) => {
                    // The server's address, for matching a REST resume to the earlier part.
                    let server = match record.mode {
                        Some(DataMode::Passive) => record.data_responder,
                        Some(DataMode::Active) => record.data_initiator,
                        None => None,
                    };
                    Record::Transfer(Box::new(
                        self.tracker.ended(*record, server.map(|a| a.ip())),
                    ))
                }
            };
            self.send(outbox, record)?;
        }
        Ok(())
    }
}

/// A transfer record whose digests (and file) the worker threads have not returned yet.
fn awaits_digest(record: &Record) -> bool {
    matches!(record, Record::Transfer(t) if t.pending)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::CaptureReader;
    use std::io::Read;

    /// Every record, as text, in the order outputs got them.
    struct Collect(Vec<String>);

    impl Output for Collect {
        fn record(&mut self, record: &Record) -> io::Result<()> {
            self.0.push(format!("{record:?}"));
            Ok(())
        }
        fn finish(&mut self, _: &RunSummary) -> io::Result<()> {
            Ok(())
        }
    }

    fn records(path: &str, inline: bool, extract: Option<&std::path::Path>) -> Vec<String> {
        let file = std::fs::File::open(path).unwrap();
        let reader: Box<dyn Read + Send> = Box::new(file);
        let mut source = MergedCapture::new(vec![(
            path.to_string(),
            CaptureReader::open(reader).unwrap(),
        )]);
        let root = extract.map(|d| crate::output::outdir::OutDir::open_or_create(d).unwrap());
        let mut tracker = TransferTracker::new(root).unwrap();
        if inline {
            tracker.keep_hashing_inline();
        }
        let mut out = Collect(Vec::new());
        let mut pipeline = Pipeline {
            analyzer: Analyzer::default(),
            tracker,
            outputs: vec![&mut out],
        };
        pipeline
            .run(vec![path.into()], &mut source, &mut |_| {})
            .unwrap();
        drop(pipeline);
        // The extraction folder differs from run to run.
        let root = extract.map(|d| d.display().to_string());
        out.0
            .into_iter()
            .map(|r| match &root {
                Some(root) => r.replace(root, "ROOT"),
                None => r,
            })
            .collect()
    }

    /// Every file under `dir` (relative path, bytes), sorted.
    fn files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let mut todo = vec![dir.to_path_buf()];
        while let Some(d) = todo.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    todo.push(path);
                } else {
                    let rel = path.strip_prefix(dir).unwrap().display().to_string();
                    out.push((rel, std::fs::read(&path).unwrap()));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn threads_change_nothing_outputs_see() {
        for name in [
            "samples/demo.pcap",
            "tests/fixtures/pureftpd-rest-resume.pcap",
        ] {
            let path = format!("{}/{name}", env!("CARGO_MANIFEST_DIR"));
            let inline = records(&path, true, None);
            assert!(inline.iter().any(|r| r.starts_with("Transfer(")));
            assert_eq!(records(&path, false, None), inline);
            // Extracting: the same records (file paths, REST's combined files too) and the
            // same files, written by the parsing thread or by the writing thread.
            let base = crate::transfers::testing::temp_dir("pipeline");
            let (a, b) = (base.path().join("inline"), base.path().join("threads"));
            let inline = records(&path, true, Some(&a));
            assert!(inline.iter().any(|r| r.contains("file: Some(")));
            assert_eq!(records(&path, false, Some(&b)), inline);
            let written = files(&a);
            assert!(written.len() > 1);
            assert_eq!(files(&b), written);
        }
    }
}
