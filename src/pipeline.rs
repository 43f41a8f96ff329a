//! The one driving loop, used by every mode (JSON Lines, extraction, the text report, the TUI
//! worker and live capture): frames from a [`FrameSource`] into the analyzer, events out into
//! the transfer tracker and the outputs.

use crate::capture::{InputDamage, MergedCapture};
use crate::transfers::{TransferOutcome, TransferTracker};
use ftpscope_core::event::DataMode;
use ftpscope_core::{Analyzer, Anomaly, Event, Exchange, SessionStart, SessionSummary, Stats};
use ftpscope_core::{Frame, Timestamp};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

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
}

pub trait Output {
    fn record(&mut self, record: &Record) -> io::Result<()>;
    fn finish(&mut self, summary: &RunSummary) -> io::Result<()>;
}

/// What a source of frames yields next.
pub enum SourceItem<'a> {
    Frame(Frame<'a>),
    /// An input is damaged here (that input is done; others may go on).
    Damage(InputDamage),
    /// No frame came for a while (live capture): packet time is now this, so idle flows and
    /// transfers can expire.
    Idle(Timestamp),
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
        Some(match self.next_frame()? {
            Ok(frame) => SourceItem::Frame(frame.record),
            Err(damage) => SourceItem::Damage(damage),
        })
    }

    fn bytes_read(&self) -> u64 {
        MergedCapture::bytes_read(self)
    }
}

/// How often (in frames) progress is reported.
const PROGRESS_EVERY: u64 = 8192;

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
        let mut frames = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let Some(item) = source.next_item() else {
                break;
            };
            match item {
                SourceItem::Frame(frame) => self.analyzer.handle_frame(&frame),
                SourceItem::Idle(now) => self.analyzer.handle_timeout(now),
                SourceItem::Damage(damage) => {
                    summary.damage.push(damage.clone());
                    self.send(&Record::Damage(damage))?;
                }
            }
            self.drain()?;
            frames += 1;
            if frames.is_multiple_of(PROGRESS_EVERY) {
                progress(source.bytes_read());
            }
        }
        progress(source.bytes_read());
        self.analyzer.finish();
        self.drain()?;
        self.tracker.finish();
        summary.stats = self.analyzer.stats().clone();
        summary.extract_error = self.tracker.first_error.clone();
        for out in self.outputs.iter_mut() {
            out.finish(&summary)?;
        }
        Ok(summary)
    }

    fn send(&mut self, record: &Record) -> io::Result<()> {
        for out in self.outputs.iter_mut() {
            out.record(record)?;
        }
        Ok(())
    }

    fn drain(&mut self) -> io::Result<()> {
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
                    self.tracker.data(transfer, &data);
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
            self.send(&record)?;
        }
        Ok(())
    }
}
