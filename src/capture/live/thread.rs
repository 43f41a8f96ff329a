//! The capture thread and its batches: packets copied out of libpcap's ring as they come and
//! handed to the analysis over a bounded queue (see the module docs of `capture::live`).

use super::{READ_TIMEOUT_MS, Shared, lock, wall_now};
use pcap::{Active, Capture, PacketHeader};
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A batch is handed to the analysis when it holds this much, or when libpcap's ring is
/// empty and either the analysis is waiting or the batch's first packet is [`BATCH_DELAY`]
/// old: prompt when the analysis keeps up, big batches when it does not.
const BATCH_BYTES: usize = 1 << 20;
const BATCH_PACKETS: usize = 4096;
const BATCH_DELAY: Duration = Duration::from_millis(10);
/// Batches waiting for the analysis: up to QUEUE_BATCHES x BATCH_BYTES (256 MiB) absorb
/// the analysis stalling (a disk busy writing extracted files) without a drop.
pub(super) const QUEUE_BATCHES: usize = 256;
/// The capture thread's nice value (when ftpscope starts as root).
const CAPTURE_NICE: libc::c_int = -10;

/// Packets copied out of libpcap's ring, handed from the capture thread to the analysis.
#[derive(Default)]
pub(super) struct Batch {
    pub(super) data: Vec<u8>,
    /// Each packet's pcap header and where its bytes start in `data`.
    pub(super) packets: Vec<(PacketHeader, usize)>,
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
pub(super) struct Reader {
    pub(super) capture: Capture<Active>,
    pub(super) full: SyncSender<Batch>,
    pub(super) empty: Receiver<Batch>,
    pub(super) shared: Arc<Mutex<Shared>>,
    pub(super) stop: &'static AtomicBool,
    pub(super) quit: Arc<AtomicBool>,
    /// The analysis is waiting for a batch.
    pub(super) waiting: Arc<AtomicBool>,
}

impl Reader {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.quit.load(Ordering::SeqCst)
    }

    fn read_counters(&mut self) {
        if let Ok(stat) = self.capture.stats() {
            lock(&self.shared).read_stats(wall_now(), stat);
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
                    if unsafe { libc::poll(&mut fds, 1, wait_ms) } == 0 && batch.packets.is_empty()
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
        if let Some(e) = error {
            lock(&self.shared).capture_failed(e);
        }
    }
}

/// The capture thread, started before root is dropped so that it can ask for a higher
/// scheduling priority (`CAPTURE_NICE`): on a busy machine the thread that empties the
/// kernel's ring must not wait behind the analysis, the FTP server or a compiler. It then
/// waits for its `Reader`.
pub struct CaptureThread {
    pub(super) handle: JoinHandle<()>,
    pub(super) reader: Sender<Reader>,
}

impl CaptureThread {
    pub fn spawn() -> io::Result<CaptureThread> {
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
