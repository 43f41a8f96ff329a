//! Transfer bytes as they stream out of the analyzer: hashed (the digests `--hash` chose; its
//! first bytes kept to tell its MIME type) as they arrive and,
//! when extracting, written to a temporary file that is renamed to its final name once the
//! transfer's path and verdict are known. No file is ever held whole in memory; only listings
//! keep up to [`LISTING_CAP`] bytes to be parsed into entries.
//!
//! REST resumes are in `resume`; the hashing and writing threads in `workers`, and the
//! aligned writes of each file in `aligned`; where each file goes in
//! [`crate::output::extract`].
//!
//! SHA-256 and the file writes are the largest costs of a run. With
//! [`TransferTracker::start_threads`] they run on `Workers` threads of their own, overlapping
//! parsing: [`TransferTracker::ended`] then returns the outcome `pending`, without its digests (and no
//! file yet), and what the threads did comes back, in the order the transfers ended, from
//! [`TransferTracker::try_done`] / [`TransferTracker::wait_done`], to be filled in with
//! [`TransferTracker::complete`].

mod aligned;
mod digest;
mod resume;
mod workers;

use crate::output::extract::{ExtractDirs, Placement};
pub use crate::output::extract::{PARTIAL_PREFIX, final_location};
use crate::output::outdir::OutDir;
use digest::Digester;
pub use digest::{Digests, HashChoice, mime_type};
use ftpscope_core::fasthash::FastState;
use ftpscope_core::ftp::listing::{
    ListingEntry, ListingLines, parse_list_line, parse_mlsd_line, parse_nlst_line,
};
use ftpscope_core::{TransferId, TransferRecord};
use resume::Resumes;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;
use workers::{FileSink, Workers, finish_file};

/// Bytes of a listing kept for parsing (a listing bigger than this is parsed up to it).
pub const LISTING_CAP: usize = 4 << 20;
const LISTING_LINE_MAX: usize = 8192;

#[derive(Debug, Clone)]
pub struct Listing {
    pub entries: Vec<ListingEntry>,
    /// The listing was bigger than [`LISTING_CAP`]; only its start was parsed.
    pub truncated: bool,
}

#[derive(Debug, Clone)]
pub struct TransferOutcome {
    pub record: TransferRecord,
    /// The digests `--hash` chose, of the bytes that crossed (gaps are not hashed), and the
    /// MIME type of the first bytes; none of them for an `encrypted` transfer.
    pub digests: Digests,
    /// The worker threads have not returned the digests (and the file) yet: see
    /// [`TransferTracker::complete`].
    pub pending: bool,
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
    hasher: Digester,
    /// Extracting without threads: the temporary file.
    temp: Option<FileSink>,
    head: Vec<u8>,
    head_full: bool,
    /// Its file went over the disk budget ([`TransferTracker::limit_disk`]) and is not kept.
    over_budget: bool,
    /// Bytes of its file counted against the disk budget.
    written: u64,
}

/// What the worker threads did with one transfer (see [`TransferTracker::complete`]).
#[derive(Debug)]
pub struct Done {
    pub digests: Digests,
    /// When extracting: the file, written, closed and under its final name, or why it could
    /// not be (None: not extracting, or nothing to keep).
    pub file: Option<Result<PathBuf, String>>,
}

pub struct TransferTracker {
    live: HashMap<TransferId, Live, FastState>,
    /// Extracting: where files go.
    extract: Option<ExtractDirs>,
    resumes: Resumes,
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
    /// The digests computed (`--hash`).
    hashes: HashChoice,
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
            resumes: Resumes::default(),
            first_error: None,
            workers: None,
            awaiting: VecDeque::new(),
            disk_budget: None,
            disk_used: 0,
            inline_only: false,
            hashes: HashChoice::default(),
        })
    }

    /// Hashes, and writes files when extracting, on threads of their own from now on (when the
    /// machine has more than one core): [`TransferTracker::ended`] then leaves the digests out
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
            let hashes = self.hashes;
            self.workers = extract
                .and_then(|extract| Workers::spawn(extract, hashes))
                .ok();
        }
    }

    /// Computes these digests of every transfer (SHA-256 alone by default). Call before
    /// [`TransferTracker::start_threads`].
    pub fn set_hashes(&mut self, hashes: HashChoice) {
        self.hashes = hashes;
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
            hasher: Digester::new(self.hashes),
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

    /// The transfer ended. Without threads the outcome is whole; with them it is `pending`:
    /// its digests are not computed and its file not placed yet (see [`TransferTracker::complete`]).
    pub fn ended(&mut self, record: TransferRecord, server: Option<IpAddr>) -> TransferOutcome {
        let live = self.live.remove(&record.transfer);
        let (hasher, temp, head, head_full, over_budget) = match live {
            Some(l) => (l.hasher, l.temp, l.head, l.head_full, l.over_budget),
            None => (Digester::new(self.hashes), None, Vec::new(), false, false),
        };
        let listing = record
            .listing
            .then(|| parse_listing(&record, &head, head_full));
        let mut outcome = TransferOutcome {
            record,
            digests: Digests::default(),
            pending: false,
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
                outcome.pending = true;
                self.awaiting.push_back((server, over_budget));
            }
            (None, dirs) => {
                let file = temp.zip(dirs.as_ref());
                let done = Done {
                    digests: hasher.finish(),
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
        outcome.pending = false;
        outcome.digests = done.digests;
        if outcome.record.status == ftpscope_core::TransferStatus::Encrypted {
            // No ciphertext reached the hasher: the digest of nothing is no one's, and the
            // type of ciphertext is no file's.
            outcome.digests = Digests::default();
        }
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
        let root = self.extract.as_ref().map(|dirs| &dirs.root);
        self.resumes.resume(outcome, server, root);
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

/// Helpers for the tests of this module and its children, and for the crate's other unit
/// tests that need a temporary folder.
#[cfg(test)]
pub(crate) mod testing {
    use sha2::{Digest, Sha256};

    pub fn sha(bytes: &[u8]) -> String {
        crate::text::hex(&Sha256::digest(bytes))
    }

    /// A fresh, empty folder, removed with all it holds when the returned guard is dropped:
    /// keep it bound for as long as its path is used.
    pub fn temp_dir(name: &str) -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix(&format!("ftpscope-{name}-"))
            .tempdir()
            .unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{sha, temp_dir};
    use super::*;
    use ftpscope_core::{Timestamp, TransferStatus};
    use std::fs;

    fn record(id: TransferId, bytes: u64) -> TransferRecord {
        TransferRecord {
            transfer: id,
            session: None,
            start: Timestamp::from_nanos(0),
            end: Timestamp::from_nanos(0),
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
            tls: None,
            frames: None,
        }
    }

    /// The UI's folder holds at most the budget: a file that would go past it is dropped
    /// whole (its bytes still hashed), and files that fit after it are still kept.
    #[test]
    fn files_past_the_disk_budget_are_hashed_but_not_kept() {
        for threads in [false, true] {
            let tmp = temp_dir(&format!("budget-{threads}"));
            let dir = tmp.path();
            let mut t = TransferTracker::new(Some(OutDir::open_or_create(dir).unwrap())).unwrap();
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
            assert_eq!(
                two.digests.sha256.as_deref(),
                Some(sha(b"bbbbbbbb").as_str()),
                "still hashed whole"
            );
            assert_eq!(
                two.file_error.as_deref(),
                Some("not kept: over the 10 B of files kept here (-x DIR extracts every file)")
            );
            assert_eq!(t.first_error, None, "not an extraction failure");
            t.stop_threads();
            t.finish();
            let left: Vec<_> = fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(left, ["orphans"], "threads {threads}");
        }
    }

    #[test]
    fn tracker_on_threads_leaves_the_digest_and_the_file_to_come() {
        let tmp = temp_dir("tracker-threads");
        let dir = tmp.path();
        let mut t = TransferTracker::new(Some(OutDir::open_or_create(dir).unwrap())).unwrap();
        t.start_threads();
        if !t.on_threads() {
            return; // one core: the work stays inline
        }
        t.started(7);
        t.data(7, b"abc");
        let mut outcome = t.ended(record(7, 3), None);
        assert!(outcome.pending);
        assert_eq!(outcome.digests, Digests::default());
        assert_eq!(outcome.file, None);
        let done = t.wait_done().unwrap();
        t.complete(&mut outcome, done);
        assert!(!outcome.pending);
        assert_eq!(
            outcome.digests.sha256.as_deref(),
            Some(sha(b"abc").as_str())
        );
        assert_eq!(outcome.digests.mime_type.as_deref(), Some("text/plain"));
        let file = outcome.file.as_ref().unwrap();
        assert_eq!(file, &dir.join("orphans/transfer-7-unknown-unknown.bin"));
        assert_eq!(fs::read(file).unwrap(), b"abc");
        t.stop_threads();
        assert!(!t.on_threads());
        t.finish();
        let left: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["orphans"], "the private partial folder is removed");
    }
}
