//! Transfer bytes as they stream out of the analyzer: hashed with SHA-256 as they arrive and,
//! when extracting, written to a temporary file that is renamed to its final name once the
//! transfer's path and verdict are known. No file is ever held whole in memory; only listings
//! keep up to [`LISTING_CAP`] bytes to be parsed into entries.
//!
//! REST resumes: when a transfer starts at offset n > 0 and an earlier transfer of the same
//! path on the same server covered bytes 0..n, a combined file (earlier bytes 0..n, then this
//! transfer's bytes) is written next to it and recorded.

use crate::output::extract;
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

/// Bytes of a listing kept for parsing (a listing bigger than this is parsed up to it).
pub const LISTING_CAP: usize = 4 << 20;
const LISTING_LINE_MAX: usize = 8192;
/// Earlier transfers remembered for REST resumes.
const RESUME_MEMORY: usize = 4096;

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
    live: HashMap<TransferId, Live>,
    extract_root: Option<PathBuf>,
    partial_dir: Option<PathBuf>,
    resumable: VecDeque<Resumable>,
    /// The first extraction error, reported once.
    pub first_error: Option<String>,
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
            live: HashMap::new(),
            extract_root,
            partial_dir,
            resumable: VecDeque::new(),
            first_error: None,
        })
    }

    pub fn started(&mut self, id: TransferId) {
        let mut live = Live {
            hasher: Sha256::new(),
            temp: None,
            error: None,
            head: Vec::new(),
            head_full: false,
        };
        if let Some(dir) = &self.partial_dir {
            let path = dir.join(format!("transfer-{id}"));
            match File::create(&path) {
                Ok(f) => live.temp = Some((path, BufWriter::with_capacity(1 << 20, f))),
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
        let Some(mut live) = self.live.remove(&id) else {
            return;
        };
        live.hasher.update(data);
        if !live.head_full {
            let room = LISTING_CAP - live.head.len();
            live.head.extend_from_slice(&data[..data.len().min(room)]);
            live.head_full = data.len() > room;
        }
        if let Some((path, w)) = live.temp.as_mut()
            && let Err(e) = w.write_all(data)
        {
            let path = path.clone();
            self.fail(&mut live, &path, e);
        }
        self.live.insert(id, live);
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
        let sha256 = crate::text::hex(&hasher.finalize());
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
        match extract::place(temp, &dir, &name) {
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
