//! Several capture files read as one, in timestamp order (rotated captures).

use super::filter::FrameFilter;
use super::{CaptureReader, Damage, RecordRef};
use ftpscope_core::Timestamp;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::io::Read;

/// A frame from a [`MergedCapture`]: the record and which input it came from.
#[derive(Debug, Clone, Copy)]
pub struct MergedFrame<'a> {
    /// Index of the input in the `Vec` given to [`MergedCapture::new`].
    pub input: usize,
    /// That input's name.
    pub name: &'a str,
    pub record: RecordRef<'a>,
}

/// Damage in one input of a [`MergedCapture`]; that input is dropped, the others go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputDamage {
    pub name: String,
    pub damage: Damage,
}

impl fmt::Display for InputDamage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.damage)
    }
}

impl std::error::Error for InputDamage {}

/// One input of the merge. The reader's current frame is the input's look-ahead: it stays in
/// the reader's buffer, so the merge copies nothing, whatever the number of inputs.
struct MergeInput {
    name: String,
    /// `None` once the input ended or was dropped for damage (its buffer is freed).
    reader: Option<CaptureReader<Box<dyn Read + Send>>>,
    /// Final `bytes_read` of a finished input.
    bytes_done: u64,
}

/// Several captures read as one, in timestamp order (for rotated or per-interface files).
pub struct MergedCapture {
    inputs: Vec<MergeInput>,
    /// Inputs whose look-ahead is loaded, keyed by (timestamp, index): the smallest comes first
    /// and equal timestamps go to the earlier input.
    heads: BinaryHeap<Reverse<(Timestamp, usize)>>,
    /// Inputs that must read their next frame before the next pick: at first all of them, then
    /// the one whose frame was returned last.
    to_advance: Vec<usize>,
    /// TLS key logs the inputs carried (pcapng Decryption Secrets Blocks), not yet taken.
    secrets: Vec<Vec<u8>>,
    /// `--host`, `--port`, the time window, `-f`: frames it refuses are skipped.
    filter: Option<FrameFilter>,
    /// Frames taken so far, kept by the filter or not: the number of the last one
    /// ([`ftpscope_core::Frame::number`]).
    frames_taken: u64,
}

/// What comes next from a [`MergedCapture`], in the order a reader must take it.
#[derive(Debug)]
pub enum MergeStep<'a> {
    Frame(MergedFrame<'a>),
    /// Damage in one input, which is then dropped.
    Damage(InputDamage),
    /// TLS key logs, before the frames they may decrypt.
    Secrets(Vec<Vec<u8>>),
}

impl MergedCapture {
    /// Merges `(name, reader)` pairs; names are only used in [`MergedFrame`] and [`InputDamage`].
    /// Each open reader keeps its buffer: with many inputs, open them with a smaller one
    /// ([`CaptureReader::open_with_buffer`]).
    pub fn new(inputs: Vec<(String, CaptureReader<Box<dyn Read + Send>>)>) -> Self {
        let to_advance = (0..inputs.len()).rev().collect();
        let inputs = inputs
            .into_iter()
            .map(|(name, reader)| MergeInput {
                name,
                reader: Some(reader),
                bytes_done: 0,
            })
            .collect();
        MergedCapture {
            inputs,
            heads: BinaryHeap::new(),
            to_advance,
            secrets: Vec::new(),
            filter: None,
            frames_taken: 0,
        }
    }

    /// Skips every frame `filter` refuses, from the next frame on.
    pub fn set_filter(&mut self, filter: FrameFilter) {
        self.filter = Some(filter);
    }

    /// The filter, with its counters and its error (see [`FrameFilter::error`]).
    pub fn filter(&self) -> Option<&FrameFilter> {
        self.filter.as_ref()
    }

    /// The next frame the filter keeps, damage or key logs, in the order they must be taken
    /// (key logs before the frames they may decrypt); `None` when every input is done, or
    /// when the filter failed.
    pub fn next_step(&mut self) -> Option<MergeStep<'_>> {
        loop {
            if let Some(damage) = self.advance_inputs() {
                return Some(MergeStep::Damage(damage));
            }
            if !self.secrets.is_empty() {
                return Some(MergeStep::Secrets(self.take_secrets()));
            }
            if let Some(i) = self.pick_kept()? {
                return self.frame_at(i).map(MergeStep::Frame);
            }
        }
    }

    /// Next frame across all inputs in timestamp order (within one input, file order is kept
    /// even if its time goes backwards). `Some(Err(..))` reports damage in one input, which is
    /// then dropped; call again to go on with the others. `None` when every input is done.
    /// Key logs met on the way wait in [`MergedCapture::take_secrets`].
    pub fn next_frame(&mut self) -> Option<Result<MergedFrame<'_>, InputDamage>> {
        loop {
            if let Some(damage) = self.advance_inputs() {
                return Some(Err(damage));
            }
            if let Some(i) = self.pick_kept()? {
                return self.frame_at(i).map(Ok);
            }
        }
    }

    /// Reads the next frame of every input that needs one (first all, then the one whose
    /// frame was returned last), collecting the key logs met on the way. Stops at the first
    /// damage, which drops its input.
    pub fn advance_inputs(&mut self) -> Option<InputDamage> {
        while let Some(i) = self.to_advance.pop() {
            let Some(input) = self.inputs.get_mut(i) else {
                continue;
            };
            let Some(reader) = input.reader.as_mut() else {
                continue;
            };
            let advanced = reader.advance();
            if reader.has_secrets() {
                self.secrets.extend(reader.take_secrets());
            }
            match advanced {
                Ok(true) => {
                    let ts = reader.current.map_or(Timestamp::EPOCH, |p| p.ts);
                    self.heads.push(Reverse((ts, i)));
                }
                Ok(false) => input.finish(),
                Err(damage) => {
                    input.finish();
                    return Some(InputDamage {
                        name: input.name.clone(),
                        damage,
                    });
                }
            }
        }
        None
    }

    /// Takes the earliest frame read ahead (after [`MergedCapture::advance_inputs`]): the
    /// index of its input when the filter keeps it, `Some(None)` when it skips it, `None`
    /// when no input has a frame left or the filter failed.
    fn pick_kept(&mut self) -> Option<Option<usize>> {
        if self.filter.as_ref().is_some_and(|f| f.error().is_some()) {
            return None;
        }
        let Reverse((_, i)) = self.heads.pop()?;
        self.to_advance.push(i);
        self.frames_taken += 1;
        let Some(filter) = self.filter.as_mut() else {
            return Some(Some(i));
        };
        let record = self
            .inputs
            .get(i)
            .and_then(|m| m.reader.as_ref())
            .and_then(|r| r.current());
        Some(record.filter(|r| filter.keep(r)).map(|_| i))
    }

    /// The frame input `i` read ahead.
    fn frame_at(&self, i: usize) -> Option<MergedFrame<'_>> {
        let input = self.inputs.get(i)?;
        let mut record = input.reader.as_ref()?.current()?;
        record.number = self.frames_taken;
        Some(MergedFrame {
            input: i,
            name: &input.name,
            record,
        })
    }

    /// TLS key logs read so far and not yet taken. Call before using the next frame: an
    /// input's secrets come before its packets, and every key log is read before any frame
    /// it could decrypt is returned (each input is read one frame ahead).
    pub fn take_secrets(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.secrets)
    }

    /// Bytes consumed across all inputs, for progress.
    pub fn bytes_read(&self) -> u64 {
        let live = |m: &MergeInput| {
            m.reader
                .as_ref()
                .map_or(m.bytes_done, CaptureReader::bytes_read)
        };
        self.inputs.iter().map(live).sum()
    }
}

impl MergeInput {
    fn finish(&mut self) {
        if let Some(reader) = self.reader.take() {
            self.bytes_done = reader.bytes_read();
        }
    }
}
