//! The one driving loop, used by every mode (JSON Lines, extraction, the text report and,
//! later, the TUI worker): frames from the capture into the analyzer, events out into the
//! transfer tracker and the outputs.

use crate::capture::{InputDamage, MergedCapture};
use crate::transfers::{TransferOutcome, TransferTracker};
use ftpscope_core::event::DataMode;
use ftpscope_core::{Analyzer, Anomaly, Event, Exchange, SessionStart, SessionSummary, Stats};
use std::io;

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

/// How often (in frames) progress is reported.
const PROGRESS_EVERY: u64 = 8192;

pub struct Pipeline<'a> {
    pub analyzer: Analyzer,
    pub tracker: TransferTracker,
    pub outputs: Vec<&'a mut dyn Output>,
}

impl Pipeline<'_> {
    /// Reads every frame of `capture`, then finishes the analysis. `progress` gets the bytes
    /// read so far now and then.
    pub fn run(
        &mut self,
        inputs: Vec<String>,
        capture: &mut MergedCapture,
        progress: &mut dyn FnMut(u64),
    ) -> io::Result<RunSummary> {
        let mut summary = RunSummary {
            inputs,
            ..RunSummary::default()
        };
        let mut frames = 0u64;
        while let Some(next) = capture.next_frame() {
            match next {
                Ok(frame) => self.analyzer.handle_frame(&frame.record),
                Err(damage) => {
                    summary.damage.push(damage.clone());
                    self.send(&Record::Damage(damage))?;
                }
            }
            self.drain()?;
            frames += 1;
            if frames.is_multiple_of(PROGRESS_EVERY) {
                progress(capture.bytes_read());
            }
        }
        progress(capture.bytes_read());
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
