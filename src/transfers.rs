//! Transfer bytes as they stream out of the analyzer: hashed with SHA-256 as they arrive and,
//! when extracting, written to a temporary file that is renamed to its final name once the
//! transfer's path and verdict are known. No file is ever held whole in memory; only listings
//! keep up to [`LISTING_CAP`] bytes to be parsed into entries.
//!
//! REST resumes: when a transfer starts at offset n > 0 and an earlier transfer of the same
//! path on the same server covered bytes 0..n, a combined file (earlier bytes 0..n, then this
//! transfer's bytes) is written next to it and recorded.
//!
//! SHA-256 and the file writes are the largest costs of a run. With
//! [`TransferTracker::start_threads`] they run on [`Workers`] threads of their own, overlapping
//! parsing: [`TransferTracker::ended`] then returns the outcome with an empty `sha256` (and no
//! file yet), and what the threads did comes back, in the order the transfers ended, from
//! [`TransferTracker::try_done`] / [`TransferTracker::wait_done`], to be filled in with
//! [`TransferTracker::complete`].

use crate::output::extract;
use crate::output::outdir::OutDir;
use ftpscope_core::fasthash::FastState;
use ftpscope_core::ftp::listing::{
    ListingEntry, ListingLines, parse_list_line, parse_mlsd_line, parse_nlst_line,
};
use ftpscope_core::{TransferId, TransferRecord, TransferStatus};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
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
    /// Extracting without threads: the temporary file.
    temp: Option<FileSink>,
    head: Vec<u8>,
    head_full: bool,
    /// Its file went over the disk budget ([`TransferTracker::limit_disk`]) and is not kept.
    over_budget: bool,
    /// Bytes of its file counted against the disk budget.
    written: u64,
}

/// A transfer's temporary file (in the private folder of partial files) while its bytes are
/// written, or why it could not be written.
struct FileSink {
    name: String,
    out: Option<BufWriter<File>>,
    error: Option<String>,
}

impl FileSink {
    fn create(partial: &OutDir, id: TransferId) -> Self {
        let name = format!("transfer-{id}");
        let (out, error) = match partial.create_new(&name, true) {
            Ok(f) => (Some(BufWriter::with_capacity(FILE_BUFFER, f)), None),
            Err(e) => (
                None,
                Some(format!(
                    "cannot write {}: {e}",
                    partial.path().join(&name).display()
                )),
            ),
        };
        FileSink { name, out, error }
    }

    fn write(&mut self, bytes: &[u8]) {
        if let Some(out) = self.out.as_mut()
            && let Err(e) = out.write_all(bytes)
        {
            self.fail(e);
        }
    }

    fn fail(&mut self, e: io::Error) {
        self.error = Some(format!("cannot write {}: {e}", self.name));
        self.out = None;
    }

    /// Closes and removes the file: it is not kept.
    fn discard(self, partial: &OutDir) {
        drop(self.out);
        let _ = partial.remove_file(&self.name);
    }

    /// Flushes and closes the file: its name in `partial`, or why it could not be written (it
    /// is then removed).
    fn finish(mut self, partial: &OutDir) -> Result<String, String> {
        if let Some(mut out) = self.out.take() {
            let flushed = out.flush();
            drop(out);
            if let Err(e) = flushed {
                self.fail(e);
            }
        }
        match self.error {
            Some(e) => {
                let _ = partial.remove_file(&self.name);
                Err(e)
            }
            None => Ok(self.name),
        }
    }
}

/// What the worker threads did with one transfer (see [`TransferTracker::complete`]).
#[derive(Debug)]
pub struct Done {
    pub sha256: String,
    /// When extracting: the file, written, closed and under its final name, or why it could
    /// not be (None: not extracting, or nothing to keep).
    pub file: Option<Result<PathBuf, String>>,
}

/// Where a transfer's finished temporary file goes: decided on the parsing thread when the
/// transfer ends, done by whichever thread wrote the file.
#[derive(Debug)]
enum Placement {
    /// Nothing to keep (a failed transfer that carried no byte): removed.
    Remove,
    /// As `name` in the folder `dir`, relative to the extraction folder ([`final_location`]).
    At(PathBuf, String),
}

impl Placement {
    fn of(r: &TransferRecord) -> Self {
        if r.status == TransferStatus::Failed && r.bytes == 0 {
            return Placement::Remove;
        }
        let (dir, name) = final_location(r);
        Placement::At(dir, name)
    }
}

/// The extraction folder and, inside it, our private folder of partial files.
struct ExtractDirs {
    root: OutDir,
    partial: OutDir,
    /// Folders placed into lately, kept open: opening `session-1/pub/images` one component at
    /// a time costs six system calls per file, a third of `-x`'s system time with many small
    /// files. Holding a folder's handle keeps every guarantee (it is the folder we checked).
    open: std::cell::RefCell<HashMap<PathBuf, OutDir, FastState>>,
}

/// Folders kept open by [`ExtractDirs`] (a descriptor each); past it, all are closed.
const OPEN_FOLDERS: usize = 64;

impl ExtractDirs {
    fn new(root: OutDir, partial: OutDir) -> Self {
        ExtractDirs {
            root,
            partial,
            open: Default::default(),
        }
    }

    fn try_clone(&self) -> io::Result<Self> {
        Ok(ExtractDirs::new(
            self.root.try_clone()?,
            self.partial.try_clone()?,
        ))
    }

    /// Moves the partial file `temp` to `name` in the folder `dir` (relative to the root, made
    /// where missing), through a handle kept open when it was opened lately.
    fn place(&self, temp: &str, dir: &Path, name: &str) -> io::Result<PathBuf> {
        let mut open = self.open.borrow_mut();
        if let Some(folder) = open.get(dir) {
            match folder.place(&self.partial, temp, name) {
                Ok(path) => return Ok(path),
                // Removed or changed meanwhile: opened afresh below.
                Err(_) => {
                    open.remove(dir);
                }
            }
        }
        let folder = self.root.subdir(dir)?;
        let path = folder.place(&self.partial, temp, name)?;
        if open.len() >= OPEN_FOLDERS {
            open.clear();
        }
        open.insert(dir.to_path_buf(), folder);
        Ok(path)
    }
}

/// The name of the private folder of partial files starts with this (a random part follows).
pub const PARTIAL_PREFIX: &str = ".ftpscope-partial-";

/// Closes a transfer's file and places it under the extraction folder: the final path, None
/// when there is nothing to keep, or why it could not be written or placed.
fn finish_file(
    file: FileSink,
    dirs: &ExtractDirs,
    placement: Option<Placement>,
) -> Option<Result<PathBuf, String>> {
    let temp = match file.finish(&dirs.partial) {
        Ok(temp) => temp,
        Err(e) => return Some(Err(e)),
    };
    match placement {
        Some(Placement::At(dir, name)) => match place_or_flatten(dirs, &temp, &dir, &name) {
            Ok(path) => Some(Ok(path)),
            Err(e) => {
                let _ = dirs.partial.remove_file(&temp);
                Some(Err(format!(
                    "cannot place {name} in {}: {e}",
                    dirs.root.path().join(&dir).display()
                )))
            }
        },
        Some(Placement::Remove) | None => {
            let _ = dirs.partial.remove_file(&temp);
            None
        }
    }
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
    /// Extracting: where files go.
    extract: Option<ExtractDirs>,
    resumable: VecDeque<Resumable>,
    /// The first extraction error, reported once.
    pub first_error: Option<String>,
    /// SHA-256 and file writes on threads of their own, when started.
    workers: Option<Workers>,
    /// The server of each transfer the workers have not finished, in the order they ended
    /// (for [`TransferTracker::complete`]'s resume check).
    awaiting: VecDeque<(Option<IpAddr>, bool)>,
    /// Bytes of files kept at most (see [`TransferTracker::limit_disk`]), and kept so far.
    disk_budget: Option<u64>,
    disk_used: u64,
    /// Never start the threads (see [`TransferTracker::keep_hashing_inline`]).
    inline_only: bool,
}

impl TransferTracker {
    /// A tracker that extracts files into `extract_root` when given: their bytes go first to
    /// a private folder of partial files inside it (random name, 0700; removed by
    /// [`TransferTracker::finish`]).
    pub fn new(extract_root: Option<OutDir>) -> io::Result<Self> {
        let extract = match extract_root {
            Some(root) => {
                let partial = root.private_subdir(PARTIAL_PREFIX)?;
                Some(ExtractDirs::new(root, partial))
            }
            None => None,
        };
        Ok(TransferTracker {
            live: HashMap::default(),
            extract,
            resumable: VecDeque::new(),
            first_error: None,
            workers: None,
            awaiting: VecDeque::new(),
            disk_budget: None,
            disk_used: 0,
            inline_only: false,
        })
    }

    /// Hashes, and writes files when extracting, on threads of their own from now on (when the
    /// machine has more than one core): [`TransferTracker::ended`] then leaves `sha256` empty
    /// and the file unplaced, to be completed with what [`TransferTracker::try_done`] or
    /// [`TransferTracker::wait_done`] return, in the order the transfers ended. Call between
    /// transfers (at the start of a run).
    pub fn start_threads(&mut self) {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if self.workers.is_none() && self.live.is_empty() && cores > 1 && !self.inline_only {
            // If a thread cannot start, the work simply stays inline.
            let extract = self
                .extract
                .as_ref()
                .map(ExtractDirs::try_clone)
                .transpose();
            self.workers = extract.and_then(Workers::spawn).ok();
        }
    }

    /// Keeps at most `bytes` of files on disk (the terminal UI's private folder): a transfer
    /// whose bytes would go past it is still hashed and recorded, but its file is dropped and
    /// its record says so in `file_error`.
    pub fn limit_disk(&mut self, bytes: u64) {
        self.disk_budget = Some(bytes);
    }

    /// Hashes and writes on the calling thread always, even when
    /// [`TransferTracker::start_threads`] is asked (what the pipeline does on every run): for
    /// many tiny runs, such as a fuzzer's, where starting threads per run costs more than the
    /// work.
    pub fn keep_hashing_inline(&mut self) {
        self.inline_only = true;
    }

    /// Whether digests and files come from worker threads (see
    /// [`TransferTracker::start_threads`]).
    pub fn on_threads(&self) -> bool {
        self.workers.is_some()
    }

    /// A transfer the threads finished, without waiting.
    pub fn try_done(&mut self) -> Option<Done> {
        self.workers.as_mut()?.try_done()
    }

    /// The next transfer the threads finish, waiting for it; an error if none is pending or a
    /// thread died.
    pub fn wait_done(&mut self) -> io::Result<Done> {
        match self.workers.as_mut() {
            Some(w) => w.wait_done(),
            None => Err(io::Error::other("no transfer is pending")),
        }
    }

    /// Sends the bytes batched so far to the threads if the last batch went more than `age`
    /// ago (so results come back promptly when traffic is slow).
    pub fn flush_threads(&mut self, age: Duration) {
        if let Some(w) = self.workers.as_mut()
            && w.last_flush.elapsed() >= age
        {
            w.flush();
        }
    }

    /// Stops the threads (every result must have been taken); the work is inline again.
    pub fn stop_threads(&mut self) {
        self.workers = None;
    }

    pub fn started(&mut self, id: TransferId) {
        let mut live = Live {
            hasher: Sha256::new(),
            temp: None,
            head: Vec::new(),
            head_full: false,
            over_budget: false,
            written: 0,
        };
        match (self.workers.as_mut(), &self.extract) {
            // The writing thread creates the file.
            (Some(w), _) => w.started(id),
            (None, Some(dirs)) => live.temp = Some(FileSink::create(&dirs.partial, id)),
            (None, None) => {}
        }
        self.live.insert(id, live);
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
        if let Some(budget) = self.disk_budget
            && !live.over_budget
            && self.extract.is_some()
        {
            let used = self.disk_used + data.len() as u64;
            if used > budget {
                // What it wrote so far goes too: a file is kept whole or not at all.
                live.over_budget = true;
                self.disk_used -= live.written;
                match self.workers.as_mut() {
                    Some(w) => w.drop_file(id),
                    None => {
                        if let (Some(temp), Some(dirs)) = (live.temp.take(), &self.extract) {
                            temp.discard(&dirs.partial);
                        }
                    }
                }
            } else {
                self.disk_used = used;
                live.written += data.len() as u64;
            }
        }
        match self.workers.as_mut() {
            Some(w) => w.data(id, data),
            None => {
                live.hasher.update(data);
                if let Some(temp) = live.temp.as_mut() {
                    temp.write(data);
                }
            }
        }
        if !live.head_full {
            let room = LISTING_CAP - live.head.len();
            live.head.extend_from_slice(&data[..data.len().min(room)]);
            live.head_full = data.len() > room;
        }
    }

    /// A gap: the listing buffer cannot be trusted past it; file bytes simply skip it.
    pub fn gap(&mut self, id: TransferId) {
        if let Some(live) = self.live.get_mut(&id) {
            live.head_full = true;
        }
    }

    /// The transfer ended. Without threads the outcome is whole; with them its `sha256` is
    /// empty and its file not placed yet (see [`TransferTracker::complete`]).
    pub fn ended(&mut self, record: TransferRecord, server: Option<IpAddr>) -> TransferOutcome {
        let live = self.live.remove(&record.transfer);
        let (hasher, temp, head, head_full, over_budget) = match live {
            Some(l) => (l.hasher, l.temp, l.head, l.head_full, l.over_budget),
            None => (Sha256::new(), None, Vec::new(), false, false),
        };
        let listing = record
            .listing
            .then(|| parse_listing(&record, &head, head_full));
        let mut outcome = TransferOutcome {
            record,
            sha256: String::new(),
            file: None,
            file_error: None,
            listing,
            resumes: None,
            combined_file: None,
            combined_sha256: None,
            capture_drops: None,
        };
        let placement = self.extract.as_ref().map(|_| match over_budget {
            true => Placement::Remove,
            false => Placement::of(&outcome.record),
        });
        match (self.workers.as_mut(), &self.extract) {
            (Some(w), _) => {
                w.ended(outcome.record.transfer, placement);
                self.awaiting.push_back((server, over_budget));
            }
            (None, dirs) => {
                let file = temp.zip(dirs.as_ref());
                let done = Done {
                    sha256: crate::text::hex(&hasher.finalize()),
                    file: file.and_then(|(temp, dirs)| finish_file(temp, dirs, placement)),
                };
                self.finish_outcome(&mut outcome, done, server, over_budget);
            }
        }
        outcome
    }

    /// Fills in what the threads did for the oldest transfer ended and not completed: its
    /// digest, and its file placed under its final name.
    pub fn complete(&mut self, outcome: &mut TransferOutcome, done: Done) {
        let (server, over_budget) = self.awaiting.pop_front().unwrap_or_default();
        self.finish_outcome(outcome, done, server, over_budget);
    }

    fn finish_outcome(
        &mut self,
        outcome: &mut TransferOutcome,
        done: Done,
        server: Option<IpAddr>,
        over_budget: bool,
    ) {
        outcome.sha256 = done.sha256;
        if over_budget && let Some(budget) = self.disk_budget {
            // Not an extraction failure: a bound the caller chose, said on the record.
            outcome.file_error = Some(format!(
                "not kept: over the {} of files kept here (-x DIR extracts every file)",
                crate::text::human_bytes(budget)
            ));
        }
        match done.file {
            Some(Ok(path)) => outcome.file = Some(path),
            Some(Err(e)) => {
                if self.first_error.is_none() {
                    self.first_error = Some(e.clone());
                }
                outcome.file_error = Some(e);
            }
            None => {}
        }
        self.resume(outcome, server);
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
            if let (Some(prev_file), Some(file), Some(dirs)) =
                (&prev.path, &outcome.file, &self.extract)
            {
                match write_combined(&dirs.root, prev_file, r.offset, file) {
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

    /// Removes the private folder of partial files when extraction ends (with what a
    /// stopped run left in it).
    pub fn finish(&mut self) {
        if let Some(dirs) = self.extract.as_mut()
            && let Ok(partial) = dirs.partial.try_clone()
        {
            let _ = partial.remove_all();
        }
    }
}

/// Places a file at `dir/name`; when that fails (a file already stands where a folder is
/// needed: `RETR /a`, then `RETR /a/b`), tries once more with the folders below the session's
/// own folder flattened into the name (`session-1/a_b`).
fn place_or_flatten(dirs: &ExtractDirs, temp: &str, dir: &Path, name: &str) -> io::Result<PathBuf> {
    let place = |dir: &Path, name: &str| dirs.place(temp, dir, name);
    let first = match place(dir, name) {
        Ok(path) => return Ok(path),
        Err(e) => e,
    };
    let mut parts = dir
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
    place(Path::new(&top), &flat).map_err(|_| first)
}

/// Where a transfer's file goes, relative to the extraction folder: a folder per session named
/// by the remote path; listings, unclaimed data and orphans in their own folders.
pub fn final_location(r: &TransferRecord) -> (PathBuf, String) {
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
        return (PathBuf::from("orphans"), name);
    };
    let session_dir = PathBuf::from(format!("session-{session}"));
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

/// Writes `<file>.combined` next to `file`: the first `offset` bytes of `earlier`, then all of
/// `file` (both extracted files below `root`, read without following a link).
fn write_combined(
    root: &OutDir,
    earlier: &Path,
    offset: u64,
    file: &Path,
) -> io::Result<(PathBuf, String)> {
    let below_root = |path: &Path| path.strip_prefix(root.path()).map(Path::to_path_buf);
    let (earlier, file) = match (below_root(earlier), below_root(file)) {
        (Ok(earlier), Ok(file)) => (earlier, file),
        _ => return Err(io::Error::other("a file outside the extraction folder")),
    };
    let dir = root.existing_subdir(file.parent().unwrap_or(Path::new("")))?;
    let name = format!(
        "{}.combined",
        file.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    );
    let (path, out) = dir.create_unique(&name)?;
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
    copy(&mut root.open_read(&earlier)?, Some(offset))?;
    copy(&mut root.open_read(&file)?, None)?;
    out.flush()?;
    Ok((path, crate::text::hex(&hasher.finalize())))
}

/// Bytes batched before they go to the threads.
const BATCH_BYTES: usize = 256 << 10;
/// Operations batched before they go, whatever their bytes (many tiny transfers).
const BATCH_OPS: usize = 4096;
/// Batches on their way to each thread; beyond them the sender waits for it.
const BATCHES_IN_FLIGHT: usize = 4;

#[derive(Debug, Clone, Copy)]
enum Op {
    Start(TransferId),
    /// The next `len` bytes of the batch belong to the transfer.
    Data(TransferId, usize),
    /// The transfer's file is not kept (over the disk budget): removed, later bytes only hashed.
    DropFile(TransferId),
    End(TransferId),
}

#[derive(Default)]
struct Batch {
    ops: Vec<Op>,
    data: Vec<u8>,
    /// The digests of the batch's `End`s, in order (filled in by the hashing thread).
    digests: VecDeque<String>,
    /// Extracting: where the file of each of the batch's `End`s goes, in order.
    placements: VecDeque<Placement>,
}

impl Batch {
    /// Each operation with its bytes.
    fn each(&self, mut f: impl FnMut(Op, &[u8])) {
        let mut at = 0;
        for &op in &self.ops {
            let bytes = match op {
                Op::Data(_, len) => {
                    let bytes = self.data.get(at..at + len).unwrap_or_default();
                    at += len;
                    bytes
                }
                Op::Start(_) | Op::End(_) | Op::DropFile(_) => &[],
            };
            f(op, bytes);
        }
    }

    fn clear(&mut self) {
        self.ops.clear();
        self.data.clear();
        self.digests.clear();
        self.placements.clear();
    }
}

/// Where the hashing thread sends a batch once hashed.
enum AfterHashing {
    /// Extracting: on to the writing thread.
    Write(SyncSender<Batch>),
    /// Not extracting: every transfer ended in it is done.
    Done(Sender<Done>, Sender<Batch>),
}

/// SHA-256 of every transfer on a thread of its own and, when extracting, the files on
/// another. Bytes and operations go over in batches, in order: the parsing thread copies each
/// data event's bytes into a batch once; the hashing thread hashes it, then hands it to the
/// writing thread, which writes the bytes into each transfer's temporary file and, when the
/// transfer ends, places the file under its final name. Neither the copy into a file buffer,
/// nor the kernel's copy into the page cache, nor any file system call is on the parsing
/// thread. (Creating files on one thread and renaming them on another made both spin on the
/// temporary folder's lock: 115 s of system time instead of 32 s for 200 000 files.)
/// At most `BATCHES_IN_FLIGHT` batches of about `BATCH_BYTES` wait for each thread, so
/// memory stays bounded and a slow thread holds the parser back. What was done for each
/// transfer comes back in the order the transfers ended. Dropping it stops the threads.
pub struct Workers {
    batch: Batch,
    last_flush: Instant,
    /// Transfers ended whose result was not taken yet.
    pending: usize,
    to_hash: Option<SyncSender<Batch>>,
    done: Receiver<Done>,
    spare: Receiver<Batch>,
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Starts the hashing thread and, when `extract` gives the extraction folder and its
    /// folder of partial files, the writing thread.
    fn spawn(extract: Option<ExtractDirs>) -> io::Result<Self> {
        let (to_hash, hash_rx) = sync_channel::<Batch>(BATCHES_IN_FLIGHT);
        let (done_tx, done) = channel();
        let (spare_tx, spare) = channel();
        let mut threads = Vec::new();
        let after = match extract {
            Some(dirs) => {
                let (to_write, write_rx) = sync_channel::<Batch>(BATCHES_IN_FLIGHT);
                threads.push(
                    std::thread::Builder::new()
                        .name("ftpscope-write".into())
                        .spawn(move || write_files(&dirs, write_rx, done_tx, spare_tx))?,
                );
                AfterHashing::Write(to_write)
            }
            None => AfterHashing::Done(done_tx, spare_tx),
        };
        threads.push(
            std::thread::Builder::new()
                .name("ftpscope-sha256".into())
                .spawn(move || hash(hash_rx, after))?,
        );
        Ok(Workers {
            batch: Batch::default(),
            last_flush: Instant::now(),
            pending: 0,
            to_hash: Some(to_hash),
            done,
            spare,
            threads,
        })
    }

    pub fn started(&mut self, id: TransferId) {
        self.push(Op::Start(id));
    }

    pub fn data(&mut self, id: TransferId, bytes: &[u8]) {
        self.batch.data.extend_from_slice(bytes);
        self.push(Op::Data(id, bytes.len()));
    }

    /// The transfer's file is not kept: removed, its later bytes only hashed.
    fn drop_file(&mut self, id: TransferId) {
        self.push(Op::DropFile(id));
    }

    /// The transfer ended: its result will come back after those of transfers ended before.
    /// When extracting, `placement` says where its file goes.
    fn ended(&mut self, id: TransferId, placement: Option<Placement>) {
        self.pending += 1;
        self.batch.placements.extend(placement);
        self.push(Op::End(id));
    }

    fn push(&mut self, op: Op) {
        self.batch.ops.push(op);
        if self.batch.data.len() >= BATCH_BYTES || self.batch.ops.len() >= BATCH_OPS {
            self.flush();
        }
    }

    /// Sends what was batched (waits while the hashing thread is `BATCHES_IN_FLIGHT`
    /// behind).
    pub fn flush(&mut self) {
        self.last_flush = Instant::now();
        if self.batch.ops.is_empty() {
            return;
        }
        let next = self.spare.try_recv().unwrap_or_default();
        let batch = std::mem::replace(&mut self.batch, next);
        if let Some(tx) = &self.to_hash {
            let _ = tx.send(batch);
        }
    }

    pub fn try_done(&mut self) -> Option<Done> {
        let done = self.done.try_recv().ok()?;
        self.pending -= 1;
        Some(done)
    }

    pub fn wait_done(&mut self) -> io::Result<Done> {
        if self.pending == 0 {
            return Err(io::Error::other("no transfer is pending"));
        }
        self.flush();
        let done = self
            .done
            .recv()
            .map_err(|_| io::Error::other("a worker thread stopped"))?;
        self.pending -= 1;
        Ok(done)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        // Closing the channel ends the hashing thread, whose end closes the writing thread's.
        drop(self.to_hash.take());
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// The hashing thread: SHA-256 of every transfer, by batch.
fn hash(batches: Receiver<Batch>, after: AfterHashing) {
    let mut hashers: HashMap<TransferId, Sha256, FastState> = HashMap::default();
    for mut batch in batches {
        let mut digests = std::mem::take(&mut batch.digests);
        batch.each(|op, bytes| match op {
            Op::Start(id) => {
                hashers.insert(id, Sha256::new());
            }
            Op::Data(id, _) => {
                if let Some(h) = hashers.get_mut(&id) {
                    h.update(bytes);
                }
            }
            Op::End(id) => {
                let h = hashers.remove(&id).unwrap_or_default();
                digests.push_back(crate::text::hex(&h.finalize()));
            }
            Op::DropFile(_) => {}
        });
        batch.digests = digests;
        match &after {
            AfterHashing::Write(tx) => {
                if tx.send(batch).is_err() {
                    return;
                }
            }
            AfterHashing::Done(done, spare) => {
                for sha256 in batch.digests.drain(..) {
                    if done.send(Done { sha256, file: None }).is_err() {
                        return;
                    }
                }
                batch.clear();
                let _ = spare.send(batch);
            }
        }
    }
}

/// The writing thread: each transfer's bytes into its temporary file in the partial folder,
/// then the file under its final name below the extraction folder, by batch.
fn write_files(
    dirs: &ExtractDirs,
    batches: Receiver<Batch>,
    done: Sender<Done>,
    spare: Sender<Batch>,
) {
    let mut files: HashMap<TransferId, FileSink, FastState> = HashMap::default();
    for mut batch in batches {
        let mut digests = std::mem::take(&mut batch.digests);
        let mut placements = std::mem::take(&mut batch.placements);
        let mut stopped = false;
        batch.each(|op, bytes| match op {
            Op::Start(id) => {
                files.insert(id, FileSink::create(&dirs.partial, id));
            }
            Op::Data(id, _) => {
                if let Some(f) = files.get_mut(&id) {
                    f.write(bytes);
                }
            }
            Op::DropFile(id) => {
                if let Some(f) = files.remove(&id) {
                    f.discard(&dirs.partial);
                }
            }
            Op::End(id) => {
                let placement = placements.pop_front();
                let file = files
                    .remove(&id)
                    .and_then(|f| finish_file(f, dirs, placement));
                let sha256 = digests.pop_front().unwrap_or_default();
                stopped |= done.send(Done { sha256, file }).is_err();
            }
        });
        if stopped {
            return;
        }
        batch.digests = digests;
        batch.placements = placements;
        batch.clear();
        let _ = spare.send(batch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn sha(bytes: &[u8]) -> String {
        crate::text::hex(&Sha256::digest(bytes))
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ftpscope-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn workers_give_inline_digests_and_files_in_the_order_transfers_ended() {
        let root = temp_dir("workers");
        let temp = root.join(".partial");
        fs::create_dir_all(&temp).unwrap();
        let dirs = || {
            ExtractDirs::new(
                OutDir::open_or_create(&root).unwrap(),
                OutDir::open_or_create(&temp).unwrap(),
            )
        };
        let place = |id: u64| Placement::At(PathBuf::from("out"), format!("f{id}"));
        for extract in [None, Some(dirs())] {
            let extracting = extract.is_some();
            let mut w = Workers::spawn(extract).unwrap();
            // Big enough to cross batches, interleaved with another transfer, plus one
            // without a byte; they end in another order than they started.
            let big: Vec<u8> = (0..1_500_000u32).map(|i| (i % 251) as u8).collect();
            let mut small = Vec::new();
            w.started(1);
            w.started(2);
            w.started(3);
            w.started(5);
            for chunk in big.chunks(1460) {
                w.data(1, chunk);
                if small.len() < 5000 {
                    w.data(2, b"hello");
                    small.extend_from_slice(b"hello");
                }
            }
            for id in [2, 3, 1, 4, 5] {
                // 4 never started: the digest of nothing and no file, as inline; 5 has
                // nothing to keep.
                let placement = match id {
                    5 => Placement::Remove,
                    id => place(id),
                };
                w.ended(id, extracting.then_some(placement));
            }
            for (id, want) in [(2, &small[..]), (3, b""), (1, &big), (4, b""), (5, b"")] {
                let done = w.wait_done().unwrap();
                assert_eq!(done.sha256, sha(want), "transfer {id}");
                match done.file {
                    None => assert!(!extracting || id == 4 || id == 5, "transfer {id}"),
                    Some(Ok(path)) => {
                        assert_eq!(path, root.join("out").join(format!("f{id}")));
                        assert_eq!(fs::read(&path).unwrap(), want, "transfer {id}");
                    }
                    Some(Err(e)) => panic!("transfer {id}: {e}"),
                }
            }
            assert!(w.wait_done().is_err(), "nothing pending");
            assert!(w.try_done().is_none());
        }
        assert_eq!(
            fs::read_dir(&temp).unwrap().count(),
            0,
            "no temporary file left"
        );
        // A file that cannot be created is an error in the result, not a failure: here the
        // partial folder is gone after it was opened.
        let gone = dirs();
        fs::remove_dir(&temp).unwrap();
        let mut w = Workers::spawn(Some(gone)).unwrap();
        w.started(1);
        w.data(1, b"x");
        w.ended(1, Some(place(1)));
        let done = w.wait_done().unwrap();
        assert_eq!(done.sha256, sha(b"x"));
        assert!(matches!(done.file, Some(Err(e)) if e.starts_with("cannot write")));
        fs::remove_dir_all(&root).unwrap();
    }

    fn record(id: TransferId, bytes: u64) -> TransferRecord {
        TransferRecord {
            transfer: id,
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
            bytes,
            expected_bytes: None,
            gap_bytes: 0,
            missing_bytes: 0,
            status: TransferStatus::Complete,
            reason: String::new(),
            reply_code: Some(226),
            listing: false,
        }
    }

    /// The UI's folder holds at most the budget: a file that would go past it is dropped
    /// whole (its bytes still hashed), and files that fit after it are still kept.
    #[test]
    fn files_past_the_disk_budget_are_hashed_but_not_kept() {
        for threads in [false, true] {
            let dir = temp_dir(&format!("budget-{threads}"));
            let mut t = TransferTracker::new(Some(OutDir::open_or_create(&dir).unwrap())).unwrap();
            t.limit_disk(10);
            if threads {
                t.start_threads();
            }
            for id in 1..=3 {
                t.started(id);
            }
            t.data(1, b"aaaaaa");
            t.data(2, b"bbb");
            t.data(2, b"bbbbb"); // 6 + 8 > 10: dropped, its 3 bytes given back
            t.data(3, b"cccc"); // 6 + 4 = 10: kept
            let mut outcomes: Vec<_> = [(1, 6), (2, 8), (3, 4)]
                .into_iter()
                .map(|(id, n)| t.ended(record(id, n), None))
                .collect();
            if t.on_threads() {
                for o in &mut outcomes {
                    let done = t.wait_done().unwrap();
                    t.complete(o, done);
                }
            }
            let [one, two, three] = &outcomes[..] else {
                panic!()
            };
            assert_eq!(fs::read(one.file.as_ref().unwrap()).unwrap(), b"aaaaaa");
            assert_eq!(fs::read(three.file.as_ref().unwrap()).unwrap(), b"cccc");
            assert_eq!(two.file, None);
            assert_eq!(two.sha256, sha(b"bbbbbbbb"), "still hashed whole");
            assert_eq!(
                two.file_error.as_deref(),
                Some("not kept: over the 10 B of files kept here (-x DIR extracts every file)")
            );
            assert_eq!(t.first_error, None, "not an extraction failure");
            t.stop_threads();
            t.finish();
            let left: Vec<_> = fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(left, ["orphans"], "threads {threads}");
            fs::remove_dir_all(&dir).unwrap();
        }
    }

    #[test]
    fn tracker_on_threads_leaves_the_digest_and_the_file_to_come() {
        let dir = temp_dir("tracker-threads");
        let mut t = TransferTracker::new(Some(OutDir::open_or_create(&dir).unwrap())).unwrap();
        t.start_threads();
        if !t.on_threads() {
            return; // one core: the work stays inline
        }
        t.started(7);
        t.data(7, b"abc");
        let mut outcome = t.ended(record(7, 3), None);
        assert!(outcome.sha256.is_empty());
        assert_eq!(outcome.file, None);
        let done = t.wait_done().unwrap();
        t.complete(&mut outcome, done);
        assert_eq!(outcome.sha256, sha(b"abc"));
        let file = outcome.file.as_ref().unwrap();
        assert_eq!(file, &dir.join("orphans/transfer-7-unknown-unknown.bin"));
        assert_eq!(fs::read(file).unwrap(), b"abc");
        t.stop_threads();
        assert!(!t.on_threads());
        t.finish();
        let left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["orphans"], "the private partial folder is removed");
        fs::remove_dir_all(&dir).unwrap();
    }
}
