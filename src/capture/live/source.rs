//! The live interface as a [`FrameSource`]: the capture thread's batches taken one frame at a
//! time, written to the `-w` savefile as they are analysed, and `Idle` on the packet clock
//! when no packet comes (see the module docs of `capture::live`).

use super::signals::STOP;
use super::status::StatusLine;
use super::thread::{Batch, CaptureThread, QUEUE_BATCHES, Reader};
use super::{READ_TIMEOUT, Shared, lock};
use crate::cli::Cli;
use crate::pipeline::{FrameSource, SourceItem};
use ftpscope_core::{Analyzer, Frame, LinkType, TimeSpan, Timestamp};
use pcap::{Active, Capture, Packet, Savefile};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the -w file is flushed while packets flow.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// A pcap timestamp (microseconds) as packet time. `time_t` and `suseconds_t` are i64 on
/// 64-bit Linux and narrower on some other systems, hence the conversions.
#[allow(clippy::useless_conversion)]
fn packet_time(tv: libc::timeval) -> Timestamp {
    Timestamp::from_secs(i64::from(tv.tv_sec)) + TimeSpan::from_micros(i64::from(tv.tv_usec))
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// The live interface as a [`FrameSource`]: frames from the capture thread's batches;
/// `Idle` when none came for [`READ_TIMEOUT_MS`](super::READ_TIMEOUT_MS); the end once the capture thread stops
/// (Ctrl-C, SIGTERM, a capture error) and every batch it read has been analysed.
pub struct LiveSource {
    full: Option<Receiver<Batch>>,
    empty: Sender<Batch>,
    reader: Option<JoinHandle<()>>,
    quit: Arc<AtomicBool>,
    waiting: Arc<AtomicBool>,
    shared: Arc<Mutex<Shared>>,
    link: LinkType,
    batch: Batch,
    next: usize,
    savefile: Option<Savefile>,
    /// The packet clock: the latest packet time seen, and when (monotonic) it was seen.
    last_ts: Timestamp,
    last_seen: Instant,
    last_flush: Instant,
    packets: u64,
    bytes: u64,
    status: Option<StatusLine>,
    /// `--keylog` files, followed as clients append to them.
    keylogs: Option<crate::keys::KeyLogs>,
}

impl LiveSource {
    /// Hands `capture` to the capture `thread` and takes its batches; `opened_at` (wall
    /// and monotonic time) starts the packet clock.
    pub fn start(
        thread: CaptureThread,
        capture: Capture<Active>,
        shared: Arc<Mutex<Shared>>,
        savefile: Option<Savefile>,
        status: Option<StatusLine>,
        opened_at: (Timestamp, Instant),
    ) -> LiveSource {
        let datalink = capture.get_datalink();
        let link = LinkType::from_linktype(u32::try_from(datalink.0).unwrap_or(u32::MAX));
        let (full_tx, full_rx) = mpsc::sync_channel(QUEUE_BATCHES);
        let (empty_tx, empty_rx) = mpsc::channel();
        let quit = Arc::new(AtomicBool::new(false));
        let waiting = Arc::new(AtomicBool::new(false));
        let reader = Reader {
            capture,
            full: full_tx,
            empty: empty_rx,
            shared: Arc::clone(&shared),
            stop: &STOP,
            quit: Arc::clone(&quit),
            waiting: Arc::clone(&waiting),
        };
        // The thread is gone only if it panicked; then the source ends at once.
        let _ = thread.reader.send(reader);
        LiveSource {
            full: Some(full_rx),
            empty: empty_tx,
            reader: Some(thread.handle),
            quit,
            waiting,
            shared,
            link,
            batch: Batch::default(),
            next: 0,
            savefile,
            last_ts: opened_at.0,
            last_seen: opened_at.1,
            last_flush: opened_at.1,
            packets: 0,
            bytes: 0,
            status,
            keylogs: None,
        }
    }

    /// The analyzer for this capture, with what the key logs hold now; the source then
    /// hands it what they gain while the capture runs, and TLS records whose keys are
    /// not there yet are held (bounded) until they come.
    pub fn follow_keylogs(&mut self, cli: &Cli, mut keylogs: crate::keys::KeyLogs) -> Analyzer {
        let mut analyzer = Analyzer::new(cli.limits());
        if !keylogs.is_empty() {
            analyzer.keys_may_grow(true);
            keylogs.load(&mut analyzer, false);
            self.keylogs = Some(keylogs);
        }
        analyzer
    }

    /// Shows the counters in `status` from now on (the terminal UI's status bar, which
    /// exists only once the UI runs).
    pub fn show_status(&mut self, status: StatusLine) {
        self.status = Some(status);
    }

    /// Now on the packet clock: the last packet's time plus the wall time since it was
    /// seen (packet times come from the same clock as the wall).
    fn packet_clock(&self) -> Timestamp {
        self.last_ts + TimeSpan::from_nanos(nanos(self.last_seen.elapsed()))
    }

    fn flush_savefile(&mut self) {
        self.last_flush = Instant::now();
        if let Some(w) = self.savefile.as_mut()
            && let Err(e) = w.flush()
        {
            lock(&self.shared).write_failed(e.to_string());
        }
    }

    fn draw_status(&mut self) {
        if let Some(s) = self.status.as_mut() {
            s.draw(self.packets, self.bytes, &self.shared);
        }
    }

    /// Stops the capture thread (if still running) and waits for it.
    pub fn shut_down(&mut self) {
        self.quit.store(true, Ordering::SeqCst);
        // Unblocks a capture thread waiting for room in the queue.
        self.full = None;
        if let Some(h) = self.reader.take() {
            let _ = h.join();
        }
        self.flush_savefile();
        if let Some(status) = self.status.take() {
            status.clear();
        }
    }
}

impl Drop for LiveSource {
    fn drop(&mut self) {
        self.shut_down();
    }
}

impl FrameSource for LiveSource {
    fn next_item(&mut self) -> Option<SourceItem<'_>> {
        // Keys appended to a key log since the last look (every 256 packets at most, and
        // when the capture is idle), before the packets they may decrypt.
        if self.packets.is_multiple_of(256)
            && let Some(text) = self.keylogs.as_mut().and_then(|k| k.poll())
        {
            return Some(SourceItem::Secrets(vec![text]));
        }
        while self.next >= self.batch.packets.len() {
            let done = std::mem::take(&mut self.batch);
            if done.data.capacity() > 0 {
                let _ = self.empty.send(done);
            }
            self.next = 0;
            let wait = READ_TIMEOUT.saturating_sub(self.last_seen.elapsed());
            let full = self.full.as_ref()?;
            let received = match full.try_recv() {
                Err(TryRecvError::Empty) => {
                    self.waiting.store(true, Ordering::Relaxed);
                    let r = full.recv_timeout(wait);
                    self.waiting.store(false, Ordering::Relaxed);
                    r
                }
                Ok(batch) => Ok(batch),
                Err(TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
            };
            match received {
                Ok(batch) => self.batch = batch,
                Err(RecvTimeoutError::Timeout) => {
                    if self.last_flush.elapsed() >= FLUSH_EVERY {
                        self.flush_savefile();
                    }
                    self.draw_status();
                    // Nothing for a while: move the packet clock on.
                    let now = self.packet_clock();
                    self.last_ts = now;
                    self.last_seen = Instant::now();
                    return Some(SourceItem::Idle(now));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.shut_down();
                    return None;
                }
            }
        }
        let (header, start) = *self.batch.packets.get(self.next)?;
        self.next += 1;
        let end = self
            .batch
            .packets
            .get(self.next)
            .map_or(self.batch.data.len(), |p| p.1);
        let ts = packet_time(header.ts);
        if ts >= self.last_ts {
            self.last_ts = ts;
            self.last_seen = Instant::now();
        }
        self.packets += 1;
        self.bytes += u64::from(header.len);
        if self.packets.is_multiple_of(1024) {
            if self.last_flush.elapsed() >= FLUSH_EVERY {
                self.flush_savefile();
            }
            self.draw_status();
        }
        let data = self.batch.data.get(start..end)?;
        if let Some(w) = self.savefile.as_mut() {
            w.write(&Packet {
                header: &header,
                data,
            });
        }
        Some(SourceItem::Frame(Frame {
            ts,
            link: self.link,
            data,
            orig_len: header.len,
            number: 0,
        }))
    }

    fn bytes_read(&self) -> u64 {
        self.bytes
    }
}
