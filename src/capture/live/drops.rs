//! Drops: libpcap's counters accumulated, the windows of wall time in which the kernel
//! dropped packets, and the output wrapper that marks each transfer with the drops it may
//! have suffered (see the module docs of `capture::live`).

use super::{Shared, lock};
use crate::pipeline::{CaptureStats, Output, Record, RunSummary};
use ftpscope_core::Timestamp;
use pcap::Stat;
use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};

/// Drop windows remembered; past this the oldest two are merged (wider, never lost).
const MAX_DROP_WINDOWS: usize = 4096;

/// The drop counters at one moment, as [`Shared::drop_counts`] copies them out: the
/// summary's totals, the status line's drops and the binary's closing message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounts {
    /// Packets the capture received (libpcap's `ps_recv`, accumulated).
    pub received: u64,
    /// Packets the kernel dropped because its ring was full: the capture fell behind.
    pub kernel: u64,
    /// Packets the interface (its driver) dropped.
    pub interface: u64,
    /// Transfers written with drops (`capture_drops` above 0).
    pub transfers_marked: u64,
}

/// What libpcap's counters said, accumulated (they are 32-bit and wrap), and when drops
/// happened. Only libpcap's readings ([`update`](Self::update)) and the transfers marked
/// with drops ([`mark_transfer`](Self::mark_transfer)) change it.
#[derive(Debug)]
pub(super) struct DropLog {
    last: Option<Stat>,
    /// Wall time of the last reading.
    last_at: Timestamp,
    counts: DropCounts,
    /// Windows of wall time in which the kernel dropped packets, oldest first.
    windows: VecDeque<DropWindow>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DropWindow {
    from: Timestamp,
    to: Timestamp,
    packets: u64,
}

impl DropLog {
    /// Nothing counted yet, the capture opened at wall time `now`.
    pub(super) fn new(now: Timestamp) -> Self {
        DropLog {
            last: None,
            last_at: now,
            counts: DropCounts::default(),
            windows: VecDeque::new(),
        }
    }

    /// The counters so far.
    pub(super) fn counts(&self) -> DropCounts {
        self.counts
    }

    /// A reading of the counters taken at wall time `now`.
    pub(super) fn update(&mut self, now: Timestamp, stat: Stat) {
        let base = self.last.unwrap_or(Stat {
            received: 0,
            dropped: 0,
            if_dropped: 0,
        });
        let dropped = u64::from(stat.dropped.wrapping_sub(base.dropped));
        let counts = &mut self.counts;
        counts.received += u64::from(stat.received.wrapping_sub(base.received));
        counts.kernel += dropped;
        counts.interface += u64::from(stat.if_dropped.wrapping_sub(base.if_dropped));
        let now = now.max(self.last_at);
        if dropped > 0 {
            self.windows.push_back(DropWindow {
                from: self.last_at,
                to: now,
                packets: dropped,
            });
            if self.windows.len() > MAX_DROP_WINDOWS
                && let (Some(a), Some(b)) = (self.windows.pop_front(), self.windows.pop_front())
            {
                self.windows.push_front(DropWindow {
                    from: a.from.min(b.from),
                    to: a.to.max(b.to),
                    packets: a.packets + b.packets,
                });
            }
        }
        self.last = Some(stat);
        self.last_at = now;
    }

    /// Packets dropped in the windows that touch [start, end].
    fn during(&self, start: Timestamp, end: Timestamp) -> u64 {
        self.windows
            .iter()
            .filter(|w| w.from <= end && w.to >= start)
            .map(|w| w.packets)
            .sum()
    }

    /// The drops a transfer spanning [start, end] may have suffered (those in the windows
    /// that touch it), counting the transfer in `transfers_marked` when there are any.
    pub(super) fn mark_transfer(&mut self, start: Timestamp, end: Timestamp) -> u64 {
        let n = self.during(start, end);
        if n > 0 {
            self.counts.transfers_marked += 1;
        }
        n
    }
}

/// Sits in front of the real outputs: marks each transfer with the drops it may have
/// suffered, and adds the capture's counters to the summary.
pub struct DropMarker<'a> {
    shared: Arc<Mutex<Shared>>,
    interface: String,
    outputs: Vec<&'a mut dyn Output>,
}

impl<'a> DropMarker<'a> {
    /// In front of `outputs`, with the counters of the capture on `interface`.
    pub fn new(
        shared: Arc<Mutex<Shared>>,
        interface: String,
        outputs: Vec<&'a mut dyn Output>,
    ) -> Self {
        DropMarker {
            shared,
            interface,
            outputs,
        }
    }
}

impl Output for DropMarker<'_> {
    fn record(&mut self, record: &Record) -> io::Result<()> {
        let marked;
        let record = match record {
            Record::Transfer(t) => {
                let drops = lock(&self.shared).mark_transfer(t.record.start, t.record.end);
                let mut t = t.clone();
                t.capture_drops = Some(drops);
                marked = Record::Transfer(t);
                &marked
            }
            other => other,
        };
        for out in self.outputs.iter_mut() {
            out.record(record)?;
        }
        Ok(())
    }

    fn poll(&mut self) -> io::Result<()> {
        for out in self.outputs.iter_mut() {
            out.poll()?;
        }
        Ok(())
    }

    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        let mut summary = summary.clone();
        summary.capture = Some(capture_stats(&self.shared, &self.interface));
        for out in self.outputs.iter_mut() {
            out.finish(&summary)?;
        }
        Ok(())
    }
}

/// The capture's counters so far, for the summary.
pub fn capture_stats(shared: &Mutex<Shared>, interface: &str) -> CaptureStats {
    let d = lock(shared).drop_counts();
    CaptureStats {
        interface: interface.to_string(),
        received: d.received,
        kernel_drops: d.kernel,
        interface_drops: d.interface,
        transfers_with_drops: d.transfers_marked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(received: u32, dropped: u32, if_dropped: u32) -> Stat {
        Stat {
            received,
            dropped,
            if_dropped,
        }
    }

    /// An instant `nanos` after the epoch: these tests count in nanoseconds.
    fn at(nanos: i64) -> Timestamp {
        Timestamp::from_nanos(nanos)
    }

    #[test]
    fn counters_accumulate_across_wraparound() {
        let mut log = DropLog::new(at(0));
        log.update(at(10), stat(u32::MAX - 1, u32::MAX, 3));
        log.update(at(20), stat(5, 2, 4));
        let counts = log.counts();
        assert_eq!(counts.received, u64::from(u32::MAX) + 6);
        assert_eq!(counts.kernel, u64::from(u32::MAX) + 3);
        assert_eq!(counts.interface, 4);
        assert_eq!(counts.transfers_marked, 0);
    }

    #[test]
    fn a_drop_is_a_window_between_two_readings() {
        let mut log = DropLog::new(at(0));
        log.update(at(100), stat(10, 0, 0));
        log.update(at(200), stat(20, 3, 0));
        log.update(at(300), stat(30, 3, 0));
        log.update(at(400), stat(40, 5, 0));
        assert_eq!(
            log.windows,
            VecDeque::from(vec![
                DropWindow {
                    from: at(100),
                    to: at(200),
                    packets: 3
                },
                DropWindow {
                    from: at(300),
                    to: at(400),
                    packets: 2
                },
            ])
        );
        assert_eq!(log.during(at(0), at(99)), 0, "ended before the drops");
        assert_eq!(log.during(at(150), at(160)), 3, "inside the first window");
        assert_eq!(log.during(at(210), at(290)), 0, "between the windows");
        assert_eq!(log.during(at(200), at(300)), 5, "touches both");
        assert_eq!(log.during(at(401), at(500)), 0, "started after");
    }

    #[test]
    fn old_windows_merge_instead_of_growing_without_bound() {
        let mut log = DropLog::new(at(0));
        for i in 1..=(MAX_DROP_WINDOWS as u32 + 10) {
            log.update(at(i64::from(i) * 10), stat(i, i, 0));
        }
        assert_eq!(log.windows.len(), MAX_DROP_WINDOWS);
        assert_eq!(
            log.windows.iter().map(|w| w.packets).sum::<u64>(),
            log.counts().kernel
        );
        assert_eq!(
            log.during(at(0), at(25)),
            11,
            "the merged oldest windows still count"
        );
    }

    #[test]
    fn only_transfers_that_touch_a_drop_are_marked() {
        let mut log = DropLog::new(at(0));
        log.update(at(100), stat(10, 0, 0));
        log.update(at(200), stat(20, 3, 0));
        assert_eq!(log.mark_transfer(at(0), at(99)), 0, "ended before the drop");
        assert_eq!(log.counts().transfers_marked, 0);
        assert_eq!(log.mark_transfer(at(150), at(250)), 3, "spans the drop");
        assert_eq!(log.mark_transfer(at(120), at(130)), 3, "inside the window");
        assert_eq!(log.counts().transfers_marked, 2);
    }

    #[test]
    fn time_never_runs_backwards_in_the_log() {
        let mut log = DropLog::new(at(1000));
        log.update(at(500), stat(1, 1, 0));
        assert_eq!(
            log.windows.front().copied(),
            Some(DropWindow {
                from: at(1000),
                to: at(1000),
                packets: 1
            })
        );
    }
}
