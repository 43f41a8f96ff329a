//! Transfer bytes as they stream out of the analyzer: hashed with SHA-256 as they arrive and,
//! when extracting, written to a temporary file that is renamed to its final name once the
//! transfer's path and verdict are known. No file is ever held whole in memory; only listings
//! keep up to [`LISTING_CAP`] bytes to be parsed into entries.
//!
//! REST resumes: when a transfer starts at offset n > 0 and an earlier transfer of the same
//! path on the same server covered bytes 0..n, a combined file (earlier bytes 0..n, then this
//! transfer's bytes) is written next to it and recorded.
//!
//! SHA-256 is the largest cost of a run. With [`TransferTracker::hash_on_thread`] it runs on a
//! [`HashThread`] of its own, overlapping parsing and file writes: [`TransferTracker::ended`]
//! then returns the outcome with an empty `sha256`, and the digests come back, in the order the
//! transfers ended, from [`TransferTracker::try_digest`] / [`TransferTracker::wait_digest`].

use crate::output::extract;
use ftpscope_core::fasthash::FastState;
use ftpscope_core::ftp::listing::{
    ListingEntry, ListingLines, parse_list_line, parse_mlsd_line, parse_nlst_line,
};
use ftpscope_core::{TransferId, TransferRecord, TransferStatus};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bytes of a listing kept for parsing (a listing bigger than this is parsed up to it).
pub const LISTING_CAP: usize = 4 << 20;
const LISTING_LINE_MAX: usize = 8192;
/// Earlier transfers remembered for REST resumes.
const RESUME_MEMORY: usize = 4096;
/// Write buffer of each file being extracted: every transfer in flight has one, so it is
/// what memory grows with; 256 KiB keeps writes large (4096 per GiB) for a quarter of the
/// memory of 1 MiB, at the same speed (BENCHMARKS.md).
const FILE_BUFFER: usize = 256 << 10;

#[derive(Debug, Clone)]
pub struct Listing {
    pub entries: Vec<ListingEntry>,
    /// The listing was bigger than [`LISTING_CAP`]; only its start was parsed.
    pub truncated: bool,
}

#[derive(Debug, Clone)]
pub struct TransferOutcome {
    pub record: TransferRecord,
    /// SHA-256 of the bytes that crossed (gaps are not hashed).
    pub sha256: String,
    pub file: Option<PathBuf>,
    pub file_error: Option<String>,
    pub listing: Option<Listing>,
    /// The earlier transfer of the same file this one resumes (REST).
    pub resumes: Option<TransferId>,
    pub combined_file: Option<PathBuf>,
    pub combined_sha256: Option<String>,
    /// Live capture only: packets the capture dropped while this transfer may have been open
    /// (None when reading files).
    pub capture_drops: Option<u64>,
}

struct Live {
    hasher: Sha256,
    temp: Option<(PathBuf, BufWriter<File>)>,
    error: Option<String>,
    head: Vec<u8>,
    head_full: bool,
}

/// A finished file a later REST may resume: which bytes of the remote file it holds.
struct Resumable {
    key: (IpAddr, Vec<u8>),
    transfer: TransferId,
    path: Option<PathBuf>,
    /// Bytes 0..covers of the remote file are in `path` (when extracting).
    covers: u64,
}

pub struct TransferTracker {
    live: HashMap<TransferId, Live, FastState>,
    extract_root: Option<PathBuf>,
    partial_dir: Option<PathBuf>,
    resumable: VecDeque<Resumable>,
    /// The first extraction error, reported once.
    pub first_error: Option<String>,
    /// SHA-256 on its own thread, when started.
    hashing: Option<HashThread>,
    /// Never start the hashing thread (see [`TransferTracker::keep_hashing_inline`]).
    inline_only: bool,
}

impl TransferTracker {
    pub fn new(extract_root: Option<PathBuf>) -> io::Result<Self> {
        let partial_dir = match &extract_root {
            Some(root) => {
                fs::create_dir_all(root)?;
                let dir = root.join(".ftpscope-partial");
                fs::create_dir_all(&dir)?;
                Some(dir)
            }
            None => None,
        };
        Ok(TransferTracker {
            live: HashMap::default(),
            extract_root,
            partial_dir,
            resumable: VecDeque::new(),
            first_error: None,
            hashing: None,
            inline_only: false,
        })
    }

    /// Hashes on a thread of its own from now on (when the machine has more than one core):
    /// [`TransferTracker::ended`] then leaves `sha256` empty, to be filled from
    /// [`TransferTracker::try_digest`] or [`TransferTracker::wait_digest`], in the order the
    /// transfers ended. Call between transfers (at the start of a run).
    pub fn hash_on_thread(&mut self) {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if self.hashing.is_none() && self.live.is_empty() && cores > 1 && !self.inline_only {
            // If the thread cannot start, hashing simply stays inline.
            self.hashing = HashThread::spawn().ok();
        }
    }

    /// Hashes on the calling thread always, even when [`TransferTracker::hash_on_thread`] is
    /// asked (what the pipeline does on every run): for many tiny runs, such as a fuzzer's,
    /// where starting a thread per run costs more than the hashing.
    pub fn keep_hashing_inline(&mut self) {
        self.inline_only = true;
    }

    /// Whether digests come from a hashing thread (see [`TransferTracker::hash_on_thread`]).
    pub fn hashes_on_thread(&self) -> bool {
        self.hashing.is_some()
    }

    /// A digest the hashing thread finished, without waiting.
    pub fn try_digest(&mut self) -> Option<String> {
        self.hashing.as_mut()?.try_digest()
    }

    /// The next digest, waiting for it; an error if none is pending or the thread died.
    pub fn wait_digest(&mut self) -> io::Result<String> {
        match self.hashing.as_mut() {
            Some(h) => h.wait_digest(),
            None => Err(io::Error::other("no transfer digest is pending")),
        }
    }

    /// Sends the bytes batched so far to the hashing thread if the last batch went more than
    /// `age` ago (so digests come back promptly when traffic is slow).
    pub fn flush_hashes(&mut self, age: Duration) {
        if let Some(h) = self.hashing.as_mut()
            && h.last_flush.elapsed() >= age
        {
            h.flush();
        }
    }

    /// Stops the hashing thread (every digest must have been taken); hashing is inline again.
    pub fn stop_hash_thread(&mut self) {
        self.hashing = None;
    }

    pub fn started(&mut self, id: TransferId) {
        let mut live = Live {
            hasher: Sha256::new(),
            temp: None,
            error: None,
            head: Vec::new(),
            head_full: false,
        };
        if let Some(h) = self.hashing.as_mut() {
            h.started(id);
        }
        if let Some(dir) = &self.partial_dir {
            let path = dir.join(format!("transfer-{id}"));
            match File::create(&path) {
                Ok(f) => live.temp = Some((path, BufWriter::with_capacity(FILE_BUFFER, f))),
                Err(e) => self.fail(&mut live, &path, e),
            }
        }
        self.live.insert(id, live);
    }

    fn fail(&mut self, live: &mut Live, path: &Path, e: io::Error) {
        let msg = format!("cannot write {}: {e}", path.display());
        if self.first_error.is_none() {
            self.first_error = Some(msg.clone());
        }
        live.error = Some(msg);
        if let Some((p, _)) = live.temp.take() {
            let _ = fs::remove_file(p);
        }
    }

    pub fn data(&mut self, id: TransferId, data: &[u8]) {
        self.data_of(id, data, || None);
    }

    /// Like [`TransferTracker::data`]; `is_listing` says whether the transfer is a listing,
    /// when known (`Analyzer::transfer_is_listing`). It is asked only while the transfer's
    /// first bytes are still kept, and a file's are then dropped: only listings are parsed.
    pub fn data_of(
        &mut self,
        id: TransferId,
        data: &[u8],
        is_listing: impl FnOnce() -> Option<bool>,
    ) {
        let Some(live) = self.live.get_mut(&id) else {
            return;
        };
        if !live.head_full && is_listing() == Some(false) {
            live.head = Vec::new();
            live.head_full = true;
        }
        match self.hashing.as_mut() {
            Some(h) => h.data(id, data),
            None => live.hasher.update(data),
        }
        if !live.head_full {
            let room = LISTING_CAP - live.head.len();
            live.head.extend_from_slice(&data[..data.len().min(room)]);
            live.head_full = data.len() > room;
        }
        if let Some((path, w)) = live.temp.as_mut()
            && let Err(e) = w.write_all(data)
        {
            let path = path.clone();
            if let Some(mut live) = self.live.remove(&id) {
                self.fail(&mut live, &path, e);
                self.live.insert(id, live);
            }
        }
    }

    /// A gap: the listing buffer cannot be trusted past it; file bytes simply skip it.
    pub fn gap(&mut self, id: TransferId) {
        if let Some(live) = self.live.get_mut(&id) {
            live.head_full = true;
        }
    }

    pub fn ended(&mut self, record: TransferRecord, server: Option<IpAddr>) -> TransferOutcome {
        let live = self.live.remove(&record.transfer);
        let (hasher, temp, error, head, head_full) = match live {
            Some(l) => (l.hasher, l.temp, l.error, l.head, l.head_full),
            None => (Sha256::new(), None, None, Vec::new(), false),
        };
        let sha256 = match self.hashing.as_mut() {
            Some(h) => {
                h.ended(record.transfer);
                String::new()
            }
            None => crate::text::hex(&hasher.finalize()),
        };
        let listing = record
            .listing
            .then(|| parse_listing(&record, &head, head_full));
        let mut outcome = TransferOutcome {
            record,
            sha256,
            file: None,
            file_error: error,
            listing,
            resumes: None,
            combined_file: None,
            combined_sha256: None,
            capture_drops: None,
        };
        if let Some((path, mut w)) = temp {
            let flushed = w.flush();
            drop(w);
            match flushed {
                Ok(()) => self.place(&mut outcome, &path),
                Err(e) => {
                    let _ = fs::remove_file(&path);
                    outcome.file_error = Some(format!("cannot write {}: {e}", path.display()));
                    if self.first_error.is_none() {
                        self.first_error = outcome.file_error.clone();
                    }
                }
            }
        }
        self.resume(&mut outcome, server);
        outcome
    }

    /// Renames the temporary file to its final name (or removes it when there is nothing to
    /// keep: a failed transfer that carried no byte).
    fn place(&mut self, outcome: &mut TransferOutcome, temp: &Path) {
        let Some(root) = &self.extract_root else {
            return;
        };
        let r = &outcome.record;
        if r.status == TransferStatus::Failed && r.bytes == 0 {
            let _ = fs::remove_file(temp);
            return;
        }
        let (dir, name) = final_location(root, r);
        match place_or_flatten(root, temp, &dir, &name) {
            Ok(path) => outcome.file = Some(path),
            Err(e) => {
                let msg = format!("cannot place {} in {}: {e}", name, dir.display());
                if self.first_error.is_none() {
                    self.first_error = Some(msg.clone());
                }
                outcome.file_error = Some(msg);
                let _ = fs::remove_file(temp);
            }
        }
    }

    fn resume(&mut self, outcome: &mut TransferOutcome, server: Option<IpAddr>) {
        let r = &outcome.record;
        let (Some(server), Some(path)) = (server, r.full_path.clone().or_else(|| r.path.clone()))
        else {
            return;
        };
        if r.listing
            || r.command.as_deref() != Some(b"RETR") && r.command.as_deref() != Some(b"STOR")
        {
            return;
        }
        let key = (server, path);
        let earlier = if r.offset > 0 {
            self.resumable
                .iter()
                .rev()
                .find(|p| p.key == key && p.covers >= r.offset)
        } else {
            None
        };
        if let Some(prev) = earlier {
            outcome.resumes = Some(prev.transfer);
            if let (Some(prev_file), Some(file)) = (&prev.path, &outcome.file) {
                match write_combined(prev_file, r.offset, file) {
                    Ok((path, sha)) => {
                        outcome.combined_file = Some(path);
                        outcome.combined_sha256 = Some(sha);
                    }
                    Err(e) => {
                        outcome.file_error = Some(format!("cannot write the combined file: {e}"))
                    }
                }
            }
        }
        // Remember what this transfer holds of the remote file, from byte 0, for a later
        // resume: a first part, or a resumed part joined to what it resumed. A gap inside
        // breaks the chain.
        let r = &outcome.record;
        let from_zero = r.offset == 0 || outcome.resumes.is_some();
        if from_zero && r.gap_bytes == 0 && r.bytes > 0 {
            let path = if r.offset == 0 {
                outcome.file.clone()
            } else {
                outcome.combined_file.clone()
            };
            if self.resumable.len() >= RESUME_MEMORY {
                self.resumable.pop_front();
            }
            self.resumable.push_back(Resumable {
                key,
                transfer: r.transfer,
                path,
                covers: r.offset + r.bytes,
            });
        }
    }

    /// Removes the temporary folder when extraction ends.
    pub fn finish(&mut self) {
        if let Some(dir) = &self.partial_dir {
            let _ = fs::remove_dir(dir);
        }
    }
}

/// Places a file at `dir/name`; when that fails (a file already stands where a folder is
/// needed: `RETR /a`, then `RETR /a/b`), tries once more with the folders below the session's
/// own folder flattened into the name (`session-1/a_b`).
fn place_or_flatten(root: &Path, temp: &Path, dir: &Path, name: &str) -> io::Result<PathBuf> {
    let first = match extract::place(temp, dir, name) {
        Ok(path) => return Ok(path),
        Err(e) => e,
    };
    let rel = dir.strip_prefix(root).unwrap_or(Path::new(""));
    let mut parts = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    let Some(top) = parts.next() else {
        return Err(first);
    };
    let mut flat: Vec<String> = parts.collect();
    if flat.is_empty() {
        return Err(first);
    }
    flat.push(name.to_owned());
    let mut flat = flat.join("_");
    if flat.len() > 200 {
        let mut cut = flat.len() - 200;
        while !flat.is_char_boundary(cut) {
            cut += 1;
        }
        flat = flat.split_off(cut);
    }
    extract::place(temp, &root.join(top), &flat).map_err(|_| first)
}

/// Where a transfer's file goes: a folder per session named by the remote path; listings,
/// unclaimed data and orphans in their own folders.
pub fn final_location(root: &Path, r: &TransferRecord) -> (PathBuf, String) {
    let suffix = match r.status {
        TransferStatus::Complete | TransferStatus::Failed => "",
        TransferStatus::Truncated => ".truncated",
        TransferStatus::Aborted => ".aborted",
    };
    let Some(session) = r.session else {
        let ends = |a: Option<std::net::SocketAddr>| {
            a.map_or("unknown".into(), |a| a.to_string().replace(':', "_"))
        };
        let name = format!(
            "transfer-{}-{}-{}.bin{suffix}",
            r.transfer,
            ends(r.data_initiator),
            ends(r.data_responder)
        );
        return (root.join("orphans"), name);
    };
    let session_dir = root.join(format!("session-{session}"));
    let verb = r
        .command
        .as_deref()
        .map(|v| String::from_utf8_lossy(v).into_owned());
    let remote = r.full_path.as_deref().or(r.path.as_deref());
    match (verb, remote) {
        (None, _) => (
            session_dir.join("_unclaimed"),
            format!("transfer-{}.bin{suffix}", r.transfer),
        ),
        (Some(verb), remote) if r.listing => {
            let what = remote
                .map(extract::sanitize_path)
                .map(|p| p.to_string_lossy().replace('/', "_"));
            let name = match what {
                Some(w) if !w.is_empty() => {
                    format!("transfer-{}-{verb}-{w}.txt{suffix}", r.transfer)
                }
                _ => format!("transfer-{}-{verb}.txt{suffix}", r.transfer),
            };
            (session_dir.join("_listings"), name)
        }
        (Some(verb), remote) => {
            let rel = remote.map(extract::sanitize_path).unwrap_or_default();
            let name = rel.file_name().map(|n| n.to_string_lossy().into_owned());
            match name {
                Some(name) => {
                    let dir = rel
                        .parent()
                        .map_or(session_dir.clone(), |p| session_dir.join(p));
                    (dir, format!("{name}{suffix}"))
                }
                None => (
                    session_dir,
                    format!("transfer-{}-{verb}.bin{suffix}", r.transfer),
                ),
            }
        }
    }
}

fn parse_listing(r: &TransferRecord, head: &[u8], truncated: bool) -> Listing {
    let parse: fn(&[u8]) -> Option<ListingEntry> = match r.command.as_deref() {
        Some(b"MLSD") => parse_mlsd_line,
        Some(b"NLST") => parse_nlst_line,
        _ => parse_list_line,
    };
    let mut entries = Vec::new();
    let mut lines = ListingLines::new(LISTING_LINE_MAX);
    let mut take = |line: &[u8]| {
        if let Some(e) = parse(line) {
            entries.push(e);
        }
    };
    lines.push(head, &mut take);
    if !truncated {
        lines.finish(&mut take);
    }
    Listing { entries, truncated }
}

/// Writes `<file>.combined`: the first `offset` bytes of `earlier`, then all of `file`.
fn write_combined(earlier: &Path, offset: u64, file: &Path) -> io::Result<(PathBuf, String)> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let name = format!(
        "{}.combined",
        file.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    );
    let (path, out) = extract::create_unique(dir, &name)?;
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let mut hasher = Sha256::new();
    let mut copy = |reader: &mut dyn Read, limit: Option<u64>| -> io::Result<()> {
        let mut buf = vec![0u8; 1 << 16];
        let mut left = limit.unwrap_or(u64::MAX);
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = reader.read(&mut buf[..want])?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])?;
            left -= n as u64;
        }
        Ok(())
    };
    copy(&mut File::open(earlier)?, Some(offset))?;
    copy(&mut File::open(file)?, None)?;
    out.flush()?;
    Ok((path, crate::text::hex(&hasher.finalize())))
}

/// Bytes batched before they go to the hashing thread.
const HASH_BATCH_BYTES: usize = 256 << 10;
/// Operations batched before they go, whatever their bytes (many tiny transfers).
const HASH_BATCH_OPS: usize = 4096;
/// Batches on their way to the hashing thread; beyond them the parsing thread waits for it.
const HASH_BATCHES_IN_FLIGHT: usize = 4;

enum HashOp {
    Start(TransferId),
    /// The next `len` bytes of the batch belong to the transfer.
    Data(TransferId, usize),
    End(TransferId),
}

#[derive(Default)]
struct HashBatch {
    ops: Vec<HashOp>,
    data: Vec<u8>,
}

/// SHA-256 of every transfer, on a thread of its own. Bytes and operations go over in
/// batches, in order (at most [`HASH_BATCHES_IN_FLIGHT`] batches of about
/// [`HASH_BATCH_BYTES`], so memory stays bounded and a slow hasher holds the parser back);
/// each transfer's digest comes back in the order the transfers ended. Dropping it stops the
/// thread.
pub struct HashThread {
    batch: HashBatch,
    last_flush: Instant,
    /// Transfers ended whose digest was not taken yet.
    pending: usize,
    to_worker: Option<SyncSender<HashBatch>>,
    digests: Receiver<String>,
    spare: Receiver<HashBatch>,
    worker: Option<JoinHandle<()>>,
}

impl HashThread {
    pub fn spawn() -> io::Result<Self> {
        let (to_worker, batches) = sync_channel::<HashBatch>(HASH_BATCHES_IN_FLIGHT);
        let (digest_tx, digests) = channel();
        let (spare_tx, spare) = channel();
        let worker = std::thread::Builder::new()
            .name("ftpscope-sha256".into())
            .spawn(move || {
                let mut hashers: HashMap<TransferId, Sha256, FastState> = HashMap::default();
                for mut batch in batches {
                    let mut at = 0;
                    for op in batch.ops.drain(..) {
                        match op {
                            HashOp::Start(id) => {
                                hashers.insert(id, Sha256::new());
                            }
                            HashOp::Data(id, len) => {
                                let bytes = batch.data.get(at..at + len).unwrap_or_default();
                                at += len;
                                if let Some(h) = hashers.get_mut(&id) {
                                    h.update(bytes);
                                }
                            }
                            HashOp::End(id) => {
                                let h = hashers.remove(&id).unwrap_or_default();
                                if digest_tx.send(crate::text::hex(&h.finalize())).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                    batch.data.clear();
                    let _ = spare_tx.send(batch);
                }
            })?;
        Ok(HashThread {
            batch: HashBatch::default(),
            last_flush: Instant::now(),
            pending: 0,
            to_worker: Some(to_worker),
            digests,
            spare,
            worker: Some(worker),
        })
    }

    pub fn started(&mut self, id: TransferId) {
        self.push(HashOp::Start(id));
    }

    pub fn data(&mut self, id: TransferId, bytes: &[u8]) {
        self.batch.data.extend_from_slice(bytes);
        self.push(HashOp::Data(id, bytes.len()));
    }

    /// The transfer ended: its digest will come back after those of transfers ended before.
    pub fn ended(&mut self, id: TransferId) {
        self.pending += 1;
        self.push(HashOp::End(id));
    }

    fn push(&mut self, op: HashOp) {
        self.batch.ops.push(op);
        if self.batch.data.len() >= HASH_BATCH_BYTES || self.batch.ops.len() >= HASH_BATCH_OPS {
            self.flush();
        }
    }

    /// Sends what was batched (waits while the thread is [`HASH_BATCHES_IN_FLIGHT`] behind).
    pub fn flush(&mut self) {
        self.last_flush = Instant::now();
        if self.batch.ops.is_empty() {
            return;
        }
        let next = self.spare.try_recv().unwrap_or_default();
        let batch = std::mem::replace(&mut self.batch, next);
        if let Some(tx) = &self.to_worker {
            let _ = tx.send(batch);
        }
    }

    pub fn try_digest(&mut self) -> Option<String> {
        let digest = self.digests.try_recv().ok()?;
        self.pending -= 1;
        Some(digest)
    }

    pub fn wait_digest(&mut self) -> io::Result<String> {
        if self.pending == 0 {
            return Err(io::Error::other("no transfer digest is pending"));
        }
        self.flush();
        let digest = self
            .digests
            .recv()
            .map_err(|_| io::Error::other("the hashing thread stopped"))?;
        self.pending -= 1;
        Ok(digest)
    }
}

impl Drop for HashThread {
    fn drop(&mut self) {
        drop(self.to_worker.take());
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(bytes: &[u8]) -> String {
        crate::text::hex(&Sha256::digest(bytes))
    }

    #[test]
    fn hash_thread_gives_inline_digests_in_the_order_transfers_ended() {
        let mut h = HashThread::spawn().unwrap();
        // Big enough to cross batches, interleaved with another transfer, plus one without a
        // byte; they end in another order than they started.
        let big: Vec<u8> = (0..1_500_000u32).map(|i| (i % 251) as u8).collect();
        let mut small = Vec::new();
        h.started(1);
        h.started(2);
        h.started(3);
        for chunk in big.chunks(1460) {
            h.data(1, chunk);
            if small.len() < 5000 {
                h.data(2, b"hello");
                small.extend_from_slice(b"hello");
            }
        }
        h.ended(2);
        h.ended(3);
        h.ended(1);
        h.ended(4); // never started: the digest of nothing, as inline
        assert_eq!(h.wait_digest().unwrap(), sha(&small));
        assert_eq!(h.wait_digest().unwrap(), sha(b""));
        assert_eq!(h.wait_digest().unwrap(), sha(&big));
        assert_eq!(h.wait_digest().unwrap(), sha(b""));
        assert!(h.wait_digest().is_err(), "nothing pending");
        assert!(h.try_digest().is_none());
    }

    #[test]
    fn tracker_on_a_thread_leaves_the_digest_to_come() {
        let mut t = TransferTracker::new(None).unwrap();
        t.hash_on_thread();
        if !t.hashes_on_thread() {
            return; // one core: hashing stays inline
        }
        t.started(7);
        t.data(7, b"abc");
        let record = TransferRecord {
            transfer: 7,
            session: None,
            start: 0,
            end: 0,
            command: Some(b"RETR".to_vec()),
            path: Some(b"f".to_vec()),
            full_path: None,
            direction: ftpscope_core::Direction::Download,
            mode: None,
            announced_by: None,
            announced: None,
            link: ftpscope_core::LinkRule::None,
            data_initiator: None,
            data_responder: None,
            transfer_type: None,
            offset: 0,
            bytes: 3,
            expected_bytes: None,
            gap_bytes: 0,
            missing_bytes: 0,
            status: TransferStatus::Complete,
            reason: String::new(),
            reply_code: Some(226),
            listing: false,
        };
        let outcome = t.ended(record, None);
        assert!(outcome.sha256.is_empty());
        assert_eq!(t.wait_digest().unwrap(), sha(b"abc"));
        t.stop_hash_thread();
        assert!(!t.hashes_on_thread());
    }
}
