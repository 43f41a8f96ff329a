//! The capture's counters while it runs: a line redrawn in place on a terminal's standard
//! error, or the terminal UI's status bar (packets, packets per second, drops).

use super::{Shared, lock};
use crate::text;
use crate::tui::StatusSender;
use crate::tui::app::{LiveStatus, Msg};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often the status line (a terminal's standard error) is redrawn.
const STATUS_EVERY: Duration = Duration::from_millis(500);

/// Where the capture's counters are shown while it runs.
enum Status {
    /// A line on a terminal's standard error, redrawn in place.
    Stderr { interface: String },
    /// The terminal UI's status bar.
    Ui(StatusSender),
}

/// Where the counters are shown, and when they were last.
pub struct StatusLine {
    to: Status,
    last_draw: Instant,
    /// Packets counted at the last draw, for the rate.
    last_packets: u64,
}

impl StatusLine {
    /// A line on standard error naming `interface` (escaped), first drawn
    /// `STATUS_EVERY` after `since`.
    pub fn stderr(interface: String, since: Instant) -> StatusLine {
        StatusLine {
            to: Status::Stderr { interface },
            last_draw: since,
            last_packets: 0,
        }
    }

    /// The terminal UI's status bar.
    pub fn ui(status: StatusSender) -> StatusLine {
        StatusLine {
            to: Status::Ui(status),
            last_draw: Instant::now(),
            last_packets: 0,
        }
    }

    /// Shows the counters (`packets` and `bytes` so far, the drops in `shared`), at most
    /// every [`STATUS_EVERY`].
    pub(super) fn draw(&mut self, packets: u64, bytes: u64, shared: &Mutex<Shared>) {
        if self.last_draw.elapsed() < STATUS_EVERY {
            return;
        }
        let since = self.last_draw.elapsed().as_secs_f64();
        self.last_draw = Instant::now();
        let drops = lock(shared).drop_counts();
        let (kernel_drops, interface_drops) = (drops.kernel, drops.interface);
        match &self.to {
            Status::Stderr { interface } => crate::say_partial!(
                "\r\x1b[2Klive on {interface}: {} packets, {}, {kernel_drops} dropped  \
                 (Ctrl-C stops)",
                packets,
                text::human_bytes(bytes),
            ),
            Status::Ui(ui) => ui.send(Msg::Live(LiveStatus {
                packets,
                bytes,
                packets_per_sec: ((packets - self.last_packets) as f64 / since) as u64,
                kernel_drops,
                interface_drops,
            })),
        }
        self.last_packets = packets;
    }

    /// The capture is over: a line on standard error is erased.
    pub(super) fn clear(self) {
        if let Status::Stderr { .. } = self.to {
            crate::say_partial!("\r\x1b[2K");
        }
    }
}
