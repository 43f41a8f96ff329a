//! Live capture (`-i IFACE`, `-D`), only compiled with the `live` cargo feature because it
//! links libpcap. The binary's `src/live.rs` wires it to the outputs and the terminal UI.
//!
//! The interface feeds the same [`Pipeline`](crate::pipeline::Pipeline) as capture files
//! do, so live output is exactly what the same packets read from a file would give.
//!
//! - **Opening**: promiscuous (unless `-p`), immediate mode (packets are delivered as they
//!   arrive, not when a buffer fills), snaplen `-s`, kernel buffer `-B`, BPF filter `-f`
//!   (default `tcp`: data connections use ports no one knows in advance). Then `-Z USER` drops
//!   root: supplementary groups cleared, setgid, setuid, and a check that root cannot be
//!   regained. Only after that are `-w FILE` and `-x DIR` created, as USER.
//! - **Frames**: a capture thread drains libpcap's ring as packets come (copying them into
//!   batches of up to 1 MiB) and hands the batches to the analysis over a bounded queue (up
//!   to 256 MiB), so a stall in the analysis (a disk busy with extracted files) is absorbed
//!   in memory instead of overflowing the kernel's ring. A batch goes out at once when the
//!   analysis is waiting, else when full or 10 ms old. [`LiveSource`] is the
//!   [`FrameSource`](crate::pipeline::FrameSource) over those batches; with `-w` it writes
//!   each packet to the savefile as it is analysed. When no packet comes for
//!   [`READ_TIMEOUT_MS`], it yields `Idle(now)`: the last packet's time advanced by the wall
//!   time since, so connections, expectations and transfers expire with no traffic.
//! - **Stopping**: SIGINT and SIGTERM set a flag the capture thread checks at every read (it
//!   waits for packets in `poll()` for at most [`READ_TIMEOUT_MS`]; libpcap's own wait on
//!   Linux would not return without a packet). The thread stops reading; what it read is
//!   still analysed; the analyzer finishes every open transfer with an honest verdict; files
//!   are renamed and flushed; the summary is written. A second signal exits at once. Under
//!   the terminal UI these handlers are not installed: the UI handles the signals that close
//!   it (see the binary's `src/live.rs`).
//! - **Drops**: the capture thread reads libpcap's counters (`pcap_stats`) before it hands
//!   over each batch and every [`READ_TIMEOUT_MS`] when idle. Each rise of the kernel drop
//!   counter is a window of wall time (previous reading, this reading]; packet timestamps
//!   are on the same clock. A transfer is written with `capture_drops`: the packets dropped
//!   in the windows its [start, end] touches (0 when none; an upper bound, as a window may
//!   reach outside the transfer). Since the counters are read before the analysis sees a
//!   packet, a drop before a transfer's last packet is always counted. The summary gets the
//!   totals (`received`, `kernel_drops`, `interface_drops`, `transfers_with_drops`).
//!
//! The files, one concern each: `interface.rs` opens the interface (and the `-w` savefile)
//! with errors that say what to do, and lists the interfaces (`-D`); `privileges.rs` is
//! `-Z USER`; `signals.rs` the stop flag and its handlers; `thread.rs` the capture thread and
//! its batches; `drops.rs` the drop counters (read as [`DropCounts`]), their windows and the
//! output wrapper that marks transfers with them; `source.rs` the [`LiveSource`]; `status.rs`
//! the counters shown while the capture runs (a status line on standard error, or the
//! terminal UI's status bar). The order the binary calls them in is the order above: open,
//! signals, [`CaptureThread::spawn`], `-Z`, the savefile, then [`LiveSource::start`].

mod drops;
mod interface;
mod privileges;
mod signals;
mod source;
mod status;
mod thread;

use ftpscope_core::Timestamp;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use drops::DropLog;
pub use drops::{DropCounts, DropMarker, capture_stats};
pub use interface::{CaptureOptions, link_name, list_interfaces, open, open_savefile};
pub use privileges::drop_privileges;
pub use signals::install_signal_handlers;
pub use source::LiveSource;
pub use status::StatusLine;
pub use thread::CaptureThread;

pub const DEFAULT_FILTER: &str = "tcp";
pub const DEFAULT_SNAPLEN: u32 = 262_144;
/// Kernel capture buffer, KiB. In immediate mode Linux gives every packet a slot sized for
/// the interface's largest frame (128 KiB on loopback): libpcap's own default (2 MiB) is
/// then 16 packets, which one burst of a file transfer overflows.
pub const DEFAULT_BUFFER_KIB: u32 = 64 * 1024;
/// How long the source waits for a packet before it yields `Idle`.
pub const READ_TIMEOUT_MS: i32 = 100;
const READ_TIMEOUT: Duration = Duration::from_millis(READ_TIMEOUT_MS as u64);

/// What the capture thread tells the analysis: the counters and any failure. Whoever holds
/// the [`lock`] reads it ([`drop_counts`](Shared::drop_counts), [`error`](Shared::error),
/// [`write_error`](Shared::write_error)); only this module's files change it, through its
/// private methods: the capture thread (libpcap's counters, a failed capture), the source (a
/// failed -w write) and the [`DropMarker`] (transfers marked with drops).
pub struct Shared {
    drops: DropLog,
    /// The capture failed (the interface went away...).
    error: Option<String>,
    /// Writing the -w file failed.
    write_error: Option<String>,
}

impl Shared {
    /// Nothing counted yet, the capture opened at wall time `opened_at`.
    pub fn new(opened_at: Timestamp) -> Shared {
        Shared {
            drops: DropLog::new(opened_at),
            error: None,
            write_error: None,
        }
    }

    /// The drop counters so far.
    pub fn drop_counts(&self) -> DropCounts {
        self.drops.counts()
    }

    /// Why the capture failed (the interface went away...), if it did.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Why writing the -w file failed, if it did (the first failure).
    pub fn write_error(&self) -> Option<&str> {
        self.write_error.as_deref()
    }

    /// The capture thread read libpcap's counters, `stat`, at wall time `now`.
    fn read_stats(&mut self, now: Timestamp, stat: pcap::Stat) {
        self.drops.update(now, stat);
    }

    /// The drops a transfer spanning [start, end] may have suffered; a transfer with any is
    /// counted in [`DropCounts::transfers_marked`].
    fn mark_transfer(&mut self, start: Timestamp, end: Timestamp) -> u64 {
        self.drops.mark_transfer(start, end)
    }

    /// The capture failed with `error`; the first failure is the one kept.
    fn capture_failed(&mut self, error: String) {
        self.error.get_or_insert(error);
    }

    /// Writing the -w file failed with `error`; the first failure is the one kept.
    fn write_failed(&mut self, error: String) {
        self.write_error.get_or_insert(error);
    }
}

/// The shared state, even when a thread panicked holding it (the counters stay readable).
pub fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// Now on the wall clock, the clock packet timestamps are on.
pub fn wall_now() -> Timestamp {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(Timestamp::EPOCH, |d| {
            Timestamp::from_nanos(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failure_is_the_one_kept() {
        let mut shared = Shared::new(Timestamp::EPOCH);
        assert_eq!((shared.error(), shared.write_error()), (None, None));
        shared.capture_failed("interface gone".into());
        shared.capture_failed("later".into());
        shared.write_failed("disk full".into());
        shared.write_failed("later".into());
        assert_eq!(shared.error(), Some("interface gone"));
        assert_eq!(shared.write_error(), Some("disk full"));
        assert_eq!(shared.drop_counts(), DropCounts::default());
    }
}
