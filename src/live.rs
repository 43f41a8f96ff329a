//! Live capture (`-i IFACE`, `-D`), behind the `live` cargo feature because it links libpcap.
//!
//! The interface feeds the same [`Pipeline`](ftpscope::pipeline::Pipeline) as capture files
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
//!   analysis is waiting, else when full or 10 ms old. [`LiveSource`] is the [`FrameSource`]
//!   over those batches; with `-w` it writes each packet to the savefile as it is analysed.
//!   When no packet comes for [`READ_TIMEOUT_MS`], it yields `Idle(now)`: the last packet's
//!   time advanced by the wall time since, so connections, expectations and transfers expire
//!   with no traffic.
//! - **Stopping**: SIGINT and SIGTERM set a flag the capture thread checks at every read (it
//!   waits for packets in `poll()` for at most [`READ_TIMEOUT_MS`]; libpcap's own wait on
//!   Linux would not return without a packet). The thread stops reading; what it read is
//!   still analysed; the analyzer finishes every open transfer with an honest verdict; files
//!   are renamed and flushed; the summary is written. A second signal exits at once.
//! - **Terminal UI**: on a terminal with no `--json`, `-x` or `--report`, the same pipeline
//!   runs as the UI's [`Job`](ftpscope::tui::Job) on its worker thread; the counters go to its
//!   status bar (packets, packets per second, drops) instead of standard error. `q` stops the
//!   capture; so do SIGINT, SIGTERM and SIGHUP, which the UI handles itself (the handlers
//!   above are then not installed: signal-hook would call them first, and a second signal's
//!   immediate exit would leave the terminal unrestored). The counters are printed once the
//!   terminal is restored.
//! - **Drops**: the capture thread reads libpcap's counters (`pcap_stats`) before it hands
//!   over each batch and every [`READ_TIMEOUT_MS`] when idle. Each rise of the kernel drop
//!   counter is a window of wall time (previous reading, this reading]; packet timestamps
//!   are on the same clock. A transfer is written with `capture_drops`: the packets dropped
//!   in the windows its [start, end] touches (0 when none; an upper bound, as a window may
//!   reach outside the transfer). Since the counters are read before the analysis sees a
//!   packet, a drop before a transfer's last packet is always counted. The summary gets the
//!   totals (`received`, `kernel_drops`, `interface_drops`, `transfers_with_drops`).

use anyhow::Result;
use ftpscope::cli::{Cli, Exit};

#[cfg(feature = "live")]
pub use enabled::run;

/// Without the `live` feature there is no libpcap to capture with: say how to get it.
#[cfg(not(feature = "live"))]
pub fn run(_cli: Cli) -> Result<Exit> {
    eprintln!(
        "ftpscope: built without live capture: rebuild with --features live (needs libpcap-dev)"
    );
    Ok(Exit::Usage)
}

#[cfg(feature = "live")]
mod enabled {
    use super::{Cli, Exit, Result};
    use crate::outputs::{Delivery, Outputs};
    use anyhow::{Context, anyhow, bail};
    use ftpscope::output::outdir::create_new_file;
    use ftpscope::pipeline::{
        CaptureStats, FrameSource, Output, Pipeline, Record, RunSummary, SourceItem,
    };
    use ftpscope::text::{self, escape};
    use ftpscope::tui::StatusSender;
    use ftpscope::tui::{self, Feed, Job, UiOptions, app::LiveStatus, app::Msg};
    use ftpscope_core::{Analyzer, Frame, LinkType, TimeSpan, Timestamp};
    use pcap::{Active, Capture, Device, Packet, PacketHeader, Savefile, Stat};
    use std::collections::VecDeque;
    use std::ffi::CString;
    use std::io::{self, IsTerminal};
    use std::os::fd::AsRawFd;
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TryRecvError};
    use std::sync::{Arc, Mutex, MutexGuard};
    use std::thread::JoinHandle;
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    pub const DEFAULT_FILTER: &str = "tcp";
    pub const DEFAULT_SNAPLEN: u32 = 262_144;
    /// Kernel capture buffer, KiB. In immediate mode Linux gives every packet a slot sized for
    /// the interface's largest frame (128 KiB on loopback): libpcap's own default (2 MiB) is
    /// then 16 packets, which one burst of a file transfer overflows.
    pub const DEFAULT_BUFFER_KIB: u32 = 64 * 1024;
    /// How long the source waits for a packet before it yields `Idle`.
    pub const READ_TIMEOUT_MS: i32 = 100;
    const READ_TIMEOUT: Duration = Duration::from_millis(READ_TIMEOUT_MS as u64);
    /// How often the -w file is flushed while packets flow.
    pub const FLUSH_EVERY: Duration = Duration::from_millis(100);
    /// A batch is handed to the analysis when it holds this much, or when libpcap's ring is
    /// empty and either the analysis is waiting or the batch's first packet is [`BATCH_DELAY`]
    /// old: prompt when the analysis keeps up, big batches when it does not.
    const BATCH_BYTES: usize = 1 << 20;
    const BATCH_PACKETS: usize = 4096;
    const BATCH_DELAY: Duration = Duration::from_millis(10);
    /// Batches waiting for the analysis: up to QUEUE_BATCHES x BATCH_BYTES (256 MiB) absorb
    /// the analysis stalling (a disk busy writing extracted files) without a drop.
    const QUEUE_BATCHES: usize = 256;
    /// The capture thread's nice value (when ftpscope starts as root).
    const CAPTURE_NICE: libc::c_int = -10;
    /// How often the status line (a terminal's standard error) is redrawn.
    const STATUS_EVERY: Duration = Duration::from_millis(500);
    /// Drop windows remembered; past this the oldest two are merged (wider, never lost).
    const MAX_DROP_WINDOWS: usize = 4096;

    /// Set by SIGINT/SIGTERM (without the terminal UI); the source ends at its next read.
    static STOP: AtomicBool = AtomicBool::new(false);

    extern "C" fn on_signal(_: libc::c_int) {
        if STOP.swap(true, Ordering::SeqCst) {
            // A second signal: the user does not want to wait for the clean finish.
            // SAFETY: _exit is async-signal-safe.
            unsafe { libc::_exit(130) };
        }
    }

    fn install_signal_handlers() -> Result<()> {
        for sig in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the handler
            // only touches an atomic and _exit, both async-signal-safe. No SA_RESTART: a read
            // blocked in poll() returns at once.
            let rc = unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(sig, &sa, std::ptr::null_mut())
            };
            if rc != 0 {
                bail!(
                    "cannot install a signal handler: {}",
                    io::Error::last_os_error()
                );
            }
        }
        Ok(())
    }

    fn wall_now() -> Timestamp {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(Timestamp::EPOCH, |d| {
                Timestamp::from_nanos(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
            })
    }

    /// A pcap timestamp (microseconds) as packet time. `time_t` and `suseconds_t` are i64 on
    /// 64-bit Linux and narrower on some other systems, hence the conversions.
    #[allow(clippy::useless_conversion)]
    fn packet_time(tv: libc::timeval) -> Timestamp {
        Timestamp::from_secs(i64::from(tv.tv_sec)) + TimeSpan::from_micros(i64::from(tv.tv_usec))
    }

    fn nanos(d: Duration) -> i64 {
        i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
    }

    /// What libpcap's counters said, accumulated (they are 32-bit and wrap), and when drops
    /// happened.
    #[derive(Debug)]
    struct DropLog {
        last: Option<Stat>,
        /// Wall time of the last reading.
        last_at: Timestamp,
        received: u64,
        kernel: u64,
        interface: u64,
        /// Windows of wall time in which the kernel dropped packets, oldest first.
        windows: VecDeque<DropWindow>,
        transfers_marked: u64,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct DropWindow {
        from: Timestamp,
        to: Timestamp,
        packets: u64,
    }

    impl DropLog {
        fn new(now: Timestamp) -> Self {
            DropLog {
                last: None,
                last_at: now,
                received: 0,
                kernel: 0,
                interface: 0,
                windows: VecDeque::new(),
                transfers_marked: 0,
            }
        }

        /// A reading of the counters taken at wall time `now`.
        fn update(&mut self, now: Timestamp, stat: Stat) {
            let base = self.last.unwrap_or(Stat {
                received: 0,
                dropped: 0,
                if_dropped: 0,
            });
            let dropped = u64::from(stat.dropped.wrapping_sub(base.dropped));
            self.received += u64::from(stat.received.wrapping_sub(base.received));
            self.kernel += dropped;
            self.interface += u64::from(stat.if_dropped.wrapping_sub(base.if_dropped));
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
    }

    /// What the capture thread tells the analysis: the counters and any failure.
    struct Shared {
        drops: DropLog,
        /// The capture failed (the interface went away...).
        error: Option<String>,
        /// Writing the -w file failed.
        write_error: Option<String>,
    }

    fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
        shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Packets copied out of libpcap's ring, handed from the capture thread to the analysis.
    #[derive(Default)]
    struct Batch {
        data: Vec<u8>,
        /// Each packet's pcap header and where its bytes start in `data`.
        packets: Vec<(PacketHeader, usize)>,
    }

    impl Batch {
        fn clear(&mut self) {
            self.data.clear();
            self.packets.clear();
        }
    }

    /// The capture thread: drains libpcap's ring as fast as packets come, into batches the
    /// analysis takes from a bounded queue. Returns when the stop flag is set, the analysis
    /// is gone, or the capture fails.
    struct Reader {
        capture: Capture<Active>,
        full: SyncSender<Batch>,
        empty: Receiver<Batch>,
        shared: Arc<Mutex<Shared>>,
        stop: &'static AtomicBool,
        quit: Arc<AtomicBool>,
        /// The analysis is waiting for a batch.
        waiting: Arc<AtomicBool>,
    }

    impl Reader {
        fn stopping(&self) -> bool {
            self.stop.load(Ordering::SeqCst) || self.quit.load(Ordering::SeqCst)
        }

        fn read_counters(&mut self) {
            if let Ok(stat) = self.capture.stats() {
                lock(&self.shared).drops.update(wall_now(), stat);
            }
        }

        /// Hands a batch over. The counters are read first, so every drop before the
        /// batch's last packet is known before the analysis sees that packet. False when
        /// the analysis is gone.
        fn send(&mut self, batch: Batch) -> bool {
            self.read_counters();
            self.full.send(batch).is_ok()
        }

        fn fresh(&self) -> Batch {
            let mut b = self.empty.try_recv().unwrap_or_else(|_| Batch {
                data: Vec::with_capacity(BATCH_BYTES + 65_536),
                packets: Vec::with_capacity(1024),
            });
            b.clear();
            b
        }

        fn run(mut self) {
            let mut batch = self.fresh();
            let mut batch_started = Instant::now();
            let fd = self.capture.as_raw_fd();
            let mut error = None;
            while !self.stopping() {
                let read = match self.capture.next_packet() {
                    Ok(packet) => {
                        batch.packets.push((*packet.header, batch.data.len()));
                        batch.data.extend_from_slice(packet.data);
                        Ok(())
                    }
                    Err(e) => Err(e),
                };
                match read {
                    Ok(()) => {
                        if batch.packets.len() == 1 {
                            batch_started = Instant::now();
                        }
                        if batch.data.len() >= BATCH_BYTES || batch.packets.len() >= BATCH_PACKETS {
                            let full = std::mem::replace(&mut batch, self.fresh());
                            if !self.send(full) {
                                return;
                            }
                        }
                    }
                    // The ring is empty: hand over what was read, then wait for the
                    // descriptor here rather than in libpcap, which on Linux keeps waiting
                    // past its timeout when no packet comes.
                    Err(pcap::Error::TimeoutExpired) => {
                        let age = batch_started.elapsed();
                        if !batch.packets.is_empty()
                            && (self.waiting.load(Ordering::Relaxed) || age >= BATCH_DELAY)
                        {
                            let full = std::mem::replace(&mut batch, self.fresh());
                            if !self.send(full) {
                                return;
                            }
                            continue;
                        }
                        let wait_ms = if batch.packets.is_empty() {
                            READ_TIMEOUT_MS
                        } else {
                            // Until the batch is due (at least 1 ms).
                            i32::try_from(BATCH_DELAY.saturating_sub(age).as_millis())
                                .unwrap_or(1)
                                .max(1)
                        };
                        let mut fds = libc::pollfd {
                            fd,
                            events: libc::POLLIN,
                            revents: 0,
                        };
                        // SAFETY: one valid pollfd, for the duration of the call.
                        if unsafe { libc::poll(&mut fds, 1, wait_ms) } == 0
                            && batch.packets.is_empty()
                        {
                            self.read_counters();
                        }
                    }
                    Err(_) if self.stopping() => break,
                    Err(pcap::Error::NoMorePackets) => break,
                    Err(e) => {
                        error = Some(e.to_string());
                        break;
                    }
                }
            }
            if !batch.packets.is_empty() {
                self.send(batch);
            }
            self.read_counters();
            let mut shared = lock(&self.shared);
            if shared.error.is_none() {
                shared.error = error;
            }
        }
    }

    /// The capture thread, started before root is dropped so that it can ask for a higher
    /// scheduling priority ([`CAPTURE_NICE`]): on a busy machine the thread that empties the
    /// kernel's ring must not wait behind the analysis, the FTP server or a compiler. It then
    /// waits for its [`Reader`].
    struct CaptureThread {
        handle: JoinHandle<()>,
        reader: Sender<Reader>,
    }

    impl CaptureThread {
        fn spawn() -> io::Result<CaptureThread> {
            let (tx, rx) = mpsc::channel::<Reader>();
            let (ready_tx, ready_rx) = mpsc::channel();
            let handle = std::thread::Builder::new()
                .name("ftpscope-capture".into())
                .spawn(move || {
                    // SAFETY: a plain system call; on Linux `who` 0 is the calling thread. Only
                    // root may raise a priority: anyone else keeps the normal one.
                    unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, CAPTURE_NICE) };
                    let _ = ready_tx.send(());
                    if let Ok(reader) = rx.recv() {
                        reader.run();
                    }
                })?;
            // Root is dropped only once the priority is set.
            let _ = ready_rx.recv();
            Ok(CaptureThread { handle, reader: tx })
        }
    }

    /// The live interface as a [`FrameSource`]: frames from the capture thread's batches;
    /// `Idle` when none came for [`READ_TIMEOUT_MS`]; the end once the capture thread stops
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
        keylogs: Option<ftpscope::keys::KeyLogs>,
    }

    /// Where the capture's counters are shown while it runs.
    enum Status {
        /// A line on a terminal's standard error, redrawn in place.
        Stderr { interface: String },
        /// The terminal UI's status bar.
        Ui(StatusSender),
    }

    struct StatusLine {
        to: Status,
        last_draw: Instant,
        /// Packets counted at the last draw, for the rate.
        last_packets: u64,
    }

    impl LiveSource {
        fn start(
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
        fn follow_keylogs(&mut self, cli: &Cli, mut keylogs: ftpscope::keys::KeyLogs) -> Analyzer {
            let mut analyzer = Analyzer::new(cli.limits());
            if !keylogs.is_empty() {
                analyzer.keys_may_grow(true);
                keylogs.load(&mut analyzer, false);
                self.keylogs = Some(keylogs);
            }
            analyzer
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
                lock(&self.shared).write_error.get_or_insert(e.to_string());
            }
        }

        fn draw_status(&mut self) {
            let Some(s) = self.status.as_mut() else {
                return;
            };
            if s.last_draw.elapsed() < STATUS_EVERY {
                return;
            }
            let since = s.last_draw.elapsed().as_secs_f64();
            s.last_draw = Instant::now();
            let (kernel_drops, interface_drops) = {
                let shared = lock(&self.shared);
                (shared.drops.kernel, shared.drops.interface)
            };
            match &s.to {
                Status::Stderr { interface } => eprint!(
                    "\r\x1b[2Klive on {interface}: {} packets, {}, {kernel_drops} dropped  \
                     (Ctrl-C stops)",
                    self.packets,
                    text::human_bytes(self.bytes),
                ),
                Status::Ui(ui) => ui.send(Msg::Live(LiveStatus {
                    packets: self.packets,
                    bytes: self.bytes,
                    packets_per_sec: ((self.packets - s.last_packets) as f64 / since) as u64,
                    kernel_drops,
                    interface_drops,
                })),
            }
            s.last_packets = self.packets;
        }

        /// Stops the capture thread (if still running) and waits for it.
        fn shut_down(&mut self) {
            self.quit.store(true, Ordering::SeqCst);
            // Unblocks a capture thread waiting for room in the queue.
            self.full = None;
            if let Some(h) = self.reader.take() {
                let _ = h.join();
            }
            self.flush_savefile();
            if let Some(StatusLine {
                to: Status::Stderr { .. },
                ..
            }) = self.status.take()
            {
                eprint!("\r\x1b[2K");
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

    /// Sits in front of the real outputs: marks each transfer with the drops it may have
    /// suffered, and adds the capture's counters to the summary.
    struct DropMarker<'a> {
        shared: Arc<Mutex<Shared>>,
        interface: String,
        outputs: Vec<&'a mut dyn Output>,
    }

    impl Output for DropMarker<'_> {
        fn record(&mut self, record: &Record) -> io::Result<()> {
            let marked;
            let record = match record {
                Record::Transfer(t) => {
                    let drops = {
                        let mut shared = lock(&self.shared);
                        let n = shared.drops.during(t.record.start, t.record.end);
                        if n > 0 {
                            shared.drops.transfers_marked += 1;
                        }
                        n
                    };
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
    fn capture_stats(shared: &Mutex<Shared>, interface: &str) -> CaptureStats {
        let shared = lock(shared);
        let d = &shared.drops;
        CaptureStats {
            interface: interface.to_string(),
            received: d.received,
            kernel_drops: d.kernel,
            interface_drops: d.interface,
            transfers_with_drops: d.transfers_marked,
        }
    }

    /// `-D`: the interfaces libpcap can open, numbered (tcpdump's format).
    fn list_interfaces() -> Result<Exit> {
        let devices = Device::list().map_err(|e| anyhow!("cannot list interfaces: {e}"))?;
        for (i, d) in devices.iter().enumerate() {
            let mut flags = Vec::new();
            if d.flags.is_up() {
                flags.push("Up");
            }
            if d.flags.is_running() {
                flags.push("Running");
            }
            if d.flags.is_loopback() {
                flags.push("Loopback");
            }
            if d.flags.is_wireless() {
                flags.push("Wireless");
            }
            let desc = d
                .desc
                .as_deref()
                .map(|s| format!(" ({})", escape(s.as_bytes())))
                .unwrap_or_default();
            println!(
                "{}.{}{desc} [{}]",
                i + 1,
                escape(d.name.as_bytes()),
                flags.join(", ")
            );
        }
        Ok(Exit::Success)
    }

    fn interface_names() -> Option<Vec<String>> {
        Device::list()
            .ok()
            .map(|ds| ds.into_iter().map(|d| d.name).collect())
    }

    fn not_found(iface: &str, names: &[String]) -> anyhow::Error {
        let names: Vec<String> = names.iter().map(|n| escape(n.as_bytes())).collect();
        anyhow!(
            "no interface named {}; interfaces: {} (ftpscope -D describes them)",
            escape(iface.as_bytes()),
            names.join(", ")
        )
    }

    struct CaptureOptions<'a> {
        interface: &'a str,
        filter: &'a str,
        snaplen: u32,
        buffer_kib: u32,
        promisc: bool,
    }

    /// Opens the interface and sets the filter, with errors that say what to do.
    fn open(o: &CaptureOptions) -> Result<Capture<Active>> {
        let names = interface_names();
        if let Some(names) = &names
            && !names.iter().any(|n| n == o.interface)
        {
            return Err(not_found(o.interface, names));
        }
        let iface = escape(o.interface.as_bytes());
        let inactive = Capture::from_device(o.interface)
            .map_err(|e| anyhow!("cannot capture on {iface}: {e}"))?
            .promisc(o.promisc)
            .immediate_mode(true)
            .snaplen(i32::try_from(o.snaplen).unwrap_or(i32::MAX))
            .buffer_size(i32::try_from(u64::from(o.buffer_kib) * 1024).unwrap_or(i32::MAX))
            .timeout(READ_TIMEOUT_MS);
        let mut capture = inactive.open().map_err(|e| {
            let msg = e.to_string();
            let lower = msg.to_lowercase();
            if lower.contains("permission") || lower.contains("not permitted") {
                let exe = std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| "ftpscope".into());
                anyhow!(
                    "no permission to capture on {iface} ({msg}): run ftpscope as root (sudo), \
                     or give it CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode): sudo \
                     setcap cap_net_raw,cap_net_admin=eip {exe}"
                )
            } else if lower.contains("no such device") || lower.contains("doesn't exist") {
                not_found(o.interface, names.as_deref().unwrap_or(&[]))
            } else {
                anyhow!("cannot capture on {iface}: {msg}")
            }
        })?;
        capture.filter(o.filter, true).map_err(|e| {
            anyhow!(
                "invalid capture filter {:?}: {e}",
                escape(o.filter.as_bytes())
            )
        })?;
        capture
            .setnonblock()
            .map_err(|e| anyhow!("cannot capture on {iface}: {e}"))
    }

    /// `-Z USER`: becomes USER for good. Supplementary groups are cleared first, then the
    /// group, then the user (the order that leaves no way back).
    fn drop_privileges(user: &str) -> Result<()> {
        let shown = escape(user.as_bytes());
        let name = CString::new(user).map_err(|_| anyhow!("-Z {shown}: not a user name"))?;
        let mut buf: Vec<libc::c_char> = vec![0; 16 * 1024];
        // SAFETY: an all-zero passwd is a valid value to be overwritten by getpwnam_r.
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        loop {
            // SAFETY: every pointer is valid for the call; buf's length is passed with it.
            let rc = unsafe {
                libc::getpwnam_r(
                    name.as_ptr(),
                    &mut pw,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut found,
                )
            };
            if rc == libc::ERANGE && buf.len() < (1 << 20) {
                buf.resize(buf.len() * 2, 0);
                continue;
            }
            if rc != 0 {
                bail!(
                    "-Z {shown}: cannot look the user up: {}",
                    io::Error::from_raw_os_error(rc)
                );
            }
            break;
        }
        if found.is_null() {
            bail!("-Z {shown}: no such user");
        }
        let (uid, gid) = (pw.pw_uid, pw.pw_gid);
        let fail = |what: &str| {
            let err = io::Error::last_os_error();
            // SAFETY: geteuid cannot fail.
            let euid = unsafe { libc::geteuid() };
            if err.raw_os_error() == Some(libc::EPERM) && euid != 0 {
                anyhow!("-Z {shown} needs root (ftpscope runs as uid {euid}): cannot {what}")
            } else {
                anyhow!("-Z {shown}: cannot {what}: {err}")
            }
        };
        // SAFETY: plain system calls on this process's credentials; a null list with size 0
        // clears the supplementary groups.
        unsafe {
            if libc::setgroups(0, std::ptr::null()) != 0 {
                return Err(fail("clear the supplementary groups"));
            }
            if libc::setgid(gid) != 0 {
                return Err(fail(&format!("set group id {gid}")));
            }
            if libc::setuid(uid) != 0 {
                return Err(fail(&format!("set user id {uid}")));
            }
        }
        // SAFETY: as above; setuid(0) is expected to fail now.
        let (ruid, euid, rgid, egid, regained) = unsafe {
            (
                libc::getuid(),
                libc::geteuid(),
                libc::getgid(),
                libc::getegid(),
                uid != 0 && libc::setuid(0) == 0,
            )
        };
        if ruid != uid || euid != uid || rgid != gid || egid != gid || regained {
            bail!("-Z {shown}: root privileges could not be dropped");
        }
        Ok(())
    }

    /// `-i IFACE` (or `-D`): capture until Ctrl-C, SIGTERM or the interface going away.
    pub fn run(cli: Cli) -> Result<Exit> {
        if cli.list_interfaces {
            return list_interfaces();
        }
        let Some(interface) = cli.interface.clone() else {
            bail!("no interface given (-i IFACE)");
        };
        let filter = cli.filter.as_deref().unwrap_or(DEFAULT_FILTER);
        let snaplen = cli.snaplen.unwrap_or(DEFAULT_SNAPLEN);
        let capture = open(&CaptureOptions {
            interface: &interface,
            filter,
            snaplen,
            buffer_kib: cli.buffer_size.unwrap_or(DEFAULT_BUFFER_KIB),
            promisc: !cli.no_promisc,
        })?;
        let opened_at = (wall_now(), Instant::now());
        let stdout_terminal = io::stdout().is_terminal();
        // On a terminal with nothing else asked for: the TUI, as for capture files.
        let use_tui = cli.wants_ui(stdout_terminal);
        // The UI handles the signals that close it (`tui::run`); until it opens they end the
        // process as usual, with nothing to restore yet.
        if !use_tui {
            install_signal_handlers()?;
        }
        let thread = CaptureThread::spawn().context("cannot start the capture thread")?;
        // Key logs are opened as root, like the interface: -Z USER may not be able to.
        let keylogs = ftpscope::keys::KeyLogs::open(&cli.keylog)?;
        if let Some(user) = &cli.user {
            drop_privileges(user)?;
        }

        // Everything written from here on is created as -Z USER.
        let savefile = match &cli.write {
            Some(path) => Some(open_savefile(&capture, path)?),
            None => None,
        };
        // The outputs (`-x DIR` like -w) are opened before a packet is analysed: an unusable
        // folder fails now.
        let outputs = if use_tui {
            None
        } else {
            Some(Outputs::from_cli(&cli, Delivery::Prompt)?)
        };
        let datalink = capture.get_datalink();
        let link_name = datalink
            .get_name()
            .unwrap_or_else(|_| format!("DLT {}", datalink.0));
        let shown = escape(interface.as_bytes());
        eprintln!(
            "ftpscope: capturing on {shown} (link type {link_name}, snaplen {snaplen}, filter \
             {:?}); {} stops",
            escape(filter.as_bytes()),
            if use_tui { "q" } else { "Ctrl-C" }
        );
        let shared = Arc::new(Mutex::new(Shared {
            drops: DropLog::new(opened_at.0),
            error: None,
            write_error: None,
        }));
        // Not over the TUI, nor over JSON Lines going to the same terminal.
        let quiet = use_tui || cli.no_progress || (cli.json && stdout_terminal);
        let show_status = !quiet && io::stderr().is_terminal();
        let status = show_status.then(|| StatusLine {
            to: Status::Stderr {
                interface: shown.clone(),
            },
            last_draw: opened_at.1,
            last_packets: 0,
        });
        let mut source = LiveSource::start(
            thread,
            capture,
            Arc::clone(&shared),
            savefile,
            status,
            opened_at,
        );
        let analyzer = source.follow_keylogs(&cli, keylogs);
        let summary = if use_tui {
            run_tui(&cli, interface, source, &shared, analyzer)?;
            None
        } else {
            let outputs = outputs.ok_or_else(|| anyhow!("no outputs"))?;
            Some(run_outputs(interface, source, &shared, outputs, analyzer)?)
        };

        let shared = lock(&shared);
        let d = &shared.drops;
        let analysed = summary.as_ref().map_or(String::new(), |s| {
            format!("{} packets analysed; ", s.stats.frames)
        });
        eprintln!(
            "ftpscope: {shown}: {analysed}the capture received {}, the kernel dropped {}, the \
             interface dropped {}",
            d.received, d.kernel, d.interface
        );
        if d.kernel > 0 {
            eprintln!(
                "ftpscope: the capture fell behind and lost {} packets; {} transfers are marked \
                 with capture_drops (a bigger -B or a narrower -f helps)",
                d.kernel, d.transfers_marked
            );
        }
        if let Some(e) = &shared.write_error {
            let path = cli.write.as_deref().unwrap_or(Path::new("-w"));
            eprintln!("ftpscope: cannot write {}: {e}", path.display());
            return Ok(Exit::Failure);
        }
        if let Some(e) = &shared.error {
            eprintln!(
                "ftpscope: capture on {shown} failed: {} (what was captured was analysed)",
                escape(e.as_bytes())
            );
            return Ok(Exit::Failure);
        }
        if let Some(e) = summary.as_ref().and_then(|s| s.extract_error.as_ref()) {
            eprintln!(
                "ftpscope: extraction incomplete: {}",
                text::escape(e.as_bytes())
            );
            return Ok(Exit::Extraction);
        }
        Ok(Exit::Success)
    }

    /// Live capture in the terminal UI (files go to the UI's private temporary folder); `q`
    /// stops the capture, as do SIGINT, SIGTERM and SIGHUP (handled by the UI).
    fn run_tui(
        cli: &Cli,
        interface: String,
        mut source: LiveSource,
        shared: &Arc<Mutex<Shared>>,
        analyzer: Analyzer,
    ) -> Result<()> {
        let options = UiOptions {
            source: format!("live on {}", escape(interface.as_bytes())),
            total_bytes: None,
            show_passwords: cli.show_passwords,
        };
        let shared = Arc::clone(shared);
        let job: Job = Box::new(move |feed: Feed<'_>| {
            source.status = Some(StatusLine {
                to: Status::Ui(feed.status.clone()),
                last_draw: Instant::now(),
                last_packets: 0,
            });
            let mut marker = DropMarker {
                shared: Arc::clone(&shared),
                interface: interface.clone(),
                outputs: vec![feed.output],
            };
            let mut pipeline = Pipeline {
                analyzer,
                tracker: tui::ui_tracker(&feed.files)?,
                outputs: vec![&mut marker],
            };
            let mut summary =
                pipeline.run_until(vec![interface.clone()], &mut source, &mut |_| {}, feed.stop)?;
            summary.capture = Some(capture_stats(&shared, &interface));
            Ok(summary)
        });
        tui::run(options, job).map(drop).context("terminal UI")
    }

    /// Live capture into JSON Lines, `-x DIR` and the report.
    fn run_outputs(
        interface: String,
        mut source: LiveSource,
        shared: &Arc<Mutex<Shared>>,
        mut outputs: Outputs,
        analyzer: Analyzer,
    ) -> Result<RunSummary> {
        let tracker = outputs.take_tracker()?;
        let mut marker = DropMarker {
            shared: Arc::clone(shared),
            interface: interface.clone(),
            outputs: outputs.chosen(),
        };
        let mut pipeline = Pipeline {
            analyzer,
            tracker,
            outputs: vec![&mut marker],
        };
        let summary = pipeline.run(vec![interface], &mut source, &mut |_| {})?;
        drop(pipeline);
        drop(marker);
        source.shut_down();
        Ok(summary)
    }

    /// Creates the `-w` file beneath its folder's handle: a new file, never an existing one nor
    /// through a link (libpcap would follow one and truncate what it points to).
    fn open_savefile(capture: &Capture<Active>, path: &Path) -> Result<Savefile> {
        use std::os::fd::IntoRawFd;
        let (_, _, file) = create_new_file(path).map_err(|e| anyhow!("{e}"))?;
        // SAFETY: the descriptor is ours and open for writing; libpcap takes it over (fdopen)
        // and closes it with the savefile.
        unsafe { capture.savefile_raw_fd(file.into_raw_fd()) }
            .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
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

        #[test]
        fn counters_accumulate_across_wraparound() {
            let mut log = DropLog::new(Timestamp::from_nanos(0));
            log.update(Timestamp::from_nanos(10), stat(u32::MAX - 1, u32::MAX, 3));
            log.update(Timestamp::from_nanos(20), stat(5, 2, 4));
            assert_eq!(log.received, u64::from(u32::MAX) + 6);
            assert_eq!(log.kernel, u64::from(u32::MAX) + 3);
            assert_eq!(log.interface, 4);
        }

        #[test]
        fn a_drop_is_a_window_between_two_readings() {
            let mut log = DropLog::new(Timestamp::from_nanos(0));
            log.update(Timestamp::from_nanos(100), stat(10, 0, 0));
            log.update(Timestamp::from_nanos(200), stat(20, 3, 0));
            log.update(Timestamp::from_nanos(300), stat(30, 3, 0));
            log.update(Timestamp::from_nanos(400), stat(40, 5, 0));
            assert_eq!(
                log.windows,
                VecDeque::from(vec![
                    DropWindow {
                        from: Timestamp::from_nanos(100),
                        to: Timestamp::from_nanos(200),
                        packets: 3
                    },
                    DropWindow {
                        from: Timestamp::from_nanos(300),
                        to: Timestamp::from_nanos(400),
                        packets: 2
                    },
                ])
            );
            assert_eq!(
                log.during(Timestamp::from_nanos(0), Timestamp::from_nanos(99)),
                0,
                "ended before the drops"
            );
            assert_eq!(
                log.during(Timestamp::from_nanos(150), Timestamp::from_nanos(160)),
                3,
                "inside the first window"
            );
            assert_eq!(
                log.during(Timestamp::from_nanos(210), Timestamp::from_nanos(290)),
                0,
                "between the windows"
            );
            assert_eq!(
                log.during(Timestamp::from_nanos(200), Timestamp::from_nanos(300)),
                5,
                "touches both"
            );
            assert_eq!(
                log.during(Timestamp::from_nanos(401), Timestamp::from_nanos(500)),
                0,
                "started after"
            );
        }

        #[test]
        fn old_windows_merge_instead_of_growing_without_bound() {
            let mut log = DropLog::new(Timestamp::from_nanos(0));
            for i in 1..=(MAX_DROP_WINDOWS as u32 + 10) {
                log.update(Timestamp::from_nanos(i64::from(i) * 10), stat(i, i, 0));
            }
            assert_eq!(log.windows.len(), MAX_DROP_WINDOWS);
            assert_eq!(
                log.windows.iter().map(|w| w.packets).sum::<u64>(),
                log.kernel
            );
            assert_eq!(
                log.during(Timestamp::from_nanos(0), Timestamp::from_nanos(25)),
                11,
                "the merged oldest windows still count"
            );
        }

        #[test]
        fn time_never_runs_backwards_in_the_log() {
            let mut log = DropLog::new(Timestamp::from_nanos(1000));
            log.update(Timestamp::from_nanos(500), stat(1, 1, 0));
            assert_eq!(
                log.windows.front().copied(),
                Some(DropWindow {
                    from: Timestamp::from_nanos(1000),
                    to: Timestamp::from_nanos(1000),
                    packets: 1
                })
            );
        }
    }
}
