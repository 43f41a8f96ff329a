//! What the terminal UI and the text report know, folded from the pipeline's records, with
//! memory that does not grow with what sessions say: each session and each transfer keeps a
//! small row in memory (what the lists show, sort and filter on), while the dialogues and the
//! transfers' full details (addresses, reasons, parsed listings) go to a temporary spill file,
//! unlinked as soon as it is created. A session's dialogue and a transfer's outcome are read
//! back when shown.
//!
//! Bounds: a session keeps at most [`MAX_EXCHANGES_PER_SESSION`] exchanges and
//! [`MAX_SEARCH_TEXT`] bytes of search text (commands fill at most half of it, so that the
//! paths of its transfers are still found after a long dialogue); the store lists at most
//! [`MAX_SESSIONS`] sessions, [`MAX_TRANSFERS`] transfers and [`MAX_ANOMALIES`] anomalies; the
//! rest are counted, and the report and the UI say so.

mod codec;

use crate::capture::InputDamage;
use crate::pipeline::Record;
use crate::transfers::TransferOutcome;
use ftpscope_core::event::{
    AnnouncedBy, DataMode, Direction, EndReason, LinkRule, LoginState, TransferStatus,
};
use ftpscope_core::{Anomaly, Exchange, SessionId, SessionStart, SessionSummary, Timestamp};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// Exchanges kept per session; past it they are counted.
pub const MAX_EXCHANGES_PER_SESSION: usize = 500;
/// Anomalies kept (each kind's count is in the run's stats regardless).
pub const MAX_ANOMALIES: usize = 1000;
/// Sessions listed; past it sessions are counted only.
pub const MAX_SESSIONS: usize = 1_000_000;
/// Transfers listed; past it transfers are counted only.
pub const MAX_TRANSFERS: usize = 2_000_000;
/// Bytes of text a session is filtered on: its hosts, user, commands and transfer paths.
pub const MAX_SEARCH_TEXT: usize = 4096;
/// Where a transfer is when the spill file failed before it was written.
const NOWHERE: u64 = u64::MAX;
/// Spilled bytes held in memory before they are written out.
const SPILL_BUFFER: usize = 1 << 20;

/// A session as the lists show it. Its dialogue is on disk.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub start: SessionStart,
    /// Known once the session ended.
    pub end: Option<SessionEnd>,
    /// Exchanges kept (on disk), and those past [`MAX_EXCHANGES_PER_SESSION`].
    pub exchanges: usize,
    pub exchanges_dropped: u64,
    /// Where the newest exchange is in the spill, plus one (0: none yet).
    last_exchange: u64,
    /// Indices into [`Store::transfers`].
    pub transfers: Vec<usize>,
    pub bytes: u64,
    /// Lower-cased text the filter looks in.
    pub search: String,
}

impl TransferRow {
    /// Of no session the store lists: an orphan data connection, or one whose session came
    /// past [`MAX_SESSIONS`].
    pub fn is_orphan(&self) -> bool {
        self.search.is_some()
    }
}

/// What the lists show of a session that ended (from its summary; the password stays out).
#[derive(Debug, Clone)]
pub struct SessionEnd {
    pub end: Timestamp,
    pub user: Option<Box<[u8]>>,
    pub login: LoginState,
    /// The password is an e-mail address, shown as is.
    pub anonymous: bool,
    pub tls: bool,
    /// What its TLS showed (FTPS), when it went under TLS.
    pub tls_info: Option<Box<ftpscope_core::event::TlsFacts>>,
    pub commands: u64,
    pub reason: EndReason,
    /// PASS commands answered.
    pub login_attempts: u32,
    /// The control connection's frames.
    pub frames: Option<ftpscope_core::event::FrameSpan>,
}

impl From<&SessionSummary> for SessionEnd {
    fn from(s: &SessionSummary) -> Self {
        SessionEnd {
            end: s.end,
            user: s.user.as_deref().map(Box::from),
            login: s.login,
            anonymous: s.anonymous,
            tls: s.tls,
            tls_info: s.tls_info.clone(),
            commands: s.commands,
            reason: s.end_reason,
            login_attempts: s.login_attempts,
            frames: s.frames,
        }
    }
}

/// A transfer as the lists show it. The whole outcome is on disk.
#[derive(Debug, Clone)]
pub struct TransferRow {
    pub transfer: u64,
    pub session: Option<SessionId>,
    pub start: Timestamp,
    pub end: Timestamp,
    pub command: Option<Box<[u8]>>,
    /// The full path, else the path as sent.
    pub path: Option<Box<[u8]>>,
    pub direction: Direction,
    pub mode: Option<DataMode>,
    pub announced_by: Option<AnnouncedBy>,
    pub link: LinkRule,
    pub status: TransferStatus,
    pub bytes: u64,
    /// The first 16 hex digits of its sha256.
    pub sha256_prefix: String,
    /// Orphans only (a session's transfers are found through its text): what to filter on.
    pub search: Option<Box<str>>,
    at: u64,
}

pub struct Store {
    pub sessions: Vec<SessionRow>,
    index: HashMap<SessionId, usize>,
    pub transfers: Vec<TransferRow>,
    pub anomalies: Vec<Anomaly>,
    pub anomalies_dropped: u64,
    pub damage: Vec<InputDamage>,
    pub sessions_dropped: u64,
    pub transfers_dropped: u64,
    spill: Option<Spill>,
    /// Where the spill file is created (the system's temporary folder when None).
    spill_dir: Option<std::path::PathBuf>,
    /// [`MAX_SESSIONS`] and [`MAX_TRANSFERS`], unless a test asks for less.
    max_sessions: usize,
    max_transfers: usize,
    /// The spill file failed: dialogues and details are no longer available.
    pub spill_error: Option<String>,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            sessions: Vec::new(),
            index: HashMap::new(),
            transfers: Vec::new(),
            anomalies: Vec::new(),
            anomalies_dropped: 0,
            damage: Vec::new(),
            sessions_dropped: 0,
            transfers_dropped: 0,
            spill: None,
            spill_dir: None,
            max_sessions: MAX_SESSIONS,
            max_transfers: MAX_TRANSFERS,
            spill_error: None,
        }
    }
}

impl Store {
    /// A store that lists fewer sessions and transfers than [`MAX_SESSIONS`] and
    /// [`MAX_TRANSFERS`] (to see what happens past them without a million records).
    pub fn with_caps(sessions: usize, transfers: usize) -> Store {
        Store {
            max_sessions: sessions.min(MAX_SESSIONS),
            max_transfers: transfers.min(MAX_TRANSFERS),
            ..Store::default()
        }
    }

    /// A store whose spill file goes into `dir` rather than the temporary folder.
    pub fn with_spill_dir(dir: std::path::PathBuf) -> Store {
        Store {
            spill_dir: Some(dir),
            ..Store::default()
        }
    }

    pub fn apply(&mut self, record: &Record) {
        match record {
            Record::SessionStarted(s) => {
                if self.sessions.len() >= self.max_sessions {
                    self.sessions_dropped += 1;
                    return;
                }
                self.index.insert(s.session, self.sessions.len());
                let mut search = format!("{} {}\n", s.client, s.server);
                search.shrink_to_fit();
                self.sessions.push(SessionRow {
                    start: s.clone(),
                    end: None,
                    exchanges: 0,
                    exchanges_dropped: 0,
                    last_exchange: 0,
                    transfers: Vec::new(),
                    bytes: 0,
                    search,
                });
            }
            Record::Exchange(e) => self.add_exchange(e),
            Record::SessionEnded(summary) => {
                if let Some(s) = self.session_mut(summary.session) {
                    if let Some(user) = &summary.user {
                        add_search(&mut s.search, &[user], MAX_SEARCH_TEXT);
                    }
                    s.end = Some(SessionEnd::from(summary));
                    // Its text is complete (but for late transfers): give back what growing
                    // it left spare.
                    s.search.shrink_to_fit();
                }
            }
            Record::Transfer(t) => self.add_transfer(t),
            Record::Anomaly(a) => {
                if self.anomalies.len() < MAX_ANOMALIES {
                    self.anomalies.push(a.clone());
                } else {
                    self.anomalies_dropped += 1;
                }
            }
            Record::Damage(d) => self.damage.push(d.clone()),
        }
    }

    fn session_mut(&mut self, id: SessionId) -> Option<&mut SessionRow> {
        let i = *self.index.get(&id)?;
        self.sessions.get_mut(i)
    }

    fn add_exchange(&mut self, e: &Exchange) {
        let Some(&i) = self.index.get(&e.session) else {
            return;
        };
        let Some(s) = self.sessions.get(i) else {
            return;
        };
        // Past the bound, or with no spill file: counted, not kept.
        let at = if s.exchanges < MAX_EXCHANGES_PER_SESSION {
            let mut payload = Vec::new();
            codec::encode_exchange(e, &mut payload);
            self.spill_append(s.last_exchange, &payload)
        } else {
            None
        };
        if let Some(s) = self.sessions.get_mut(i) {
            match at {
                Some(at) => {
                    s.last_exchange = at + 1;
                    s.exchanges += 1;
                }
                None => s.exchanges_dropped += 1,
            }
            if let Some(c) = &e.command {
                // Secrets (PASS of a real user) are not searchable. Commands get half of the
                // text, so that transfer paths still fit after a long dialogue.
                let parts: &[&[u8]] = if c.secret {
                    &[&c.verb]
                } else {
                    &[&c.verb, b" ", &c.arg]
                };
                add_search(&mut s.search, parts, MAX_SEARCH_TEXT / 2);
            }
        }
    }

    fn add_transfer(&mut self, t: &TransferOutcome) {
        if self.transfers.len() >= self.max_transfers {
            self.transfers_dropped += 1;
            return;
        }
        let mut payload = Vec::new();
        codec::encode_transfer(t, &mut payload);
        // Listed even without a spill file; its details are then not available.
        let at = self.spill_append(0, &payload).unwrap_or(NOWHERE);
        let r = &t.record;
        let path = r.full_path.as_deref().or(r.path.as_deref());
        let hosts: Vec<String> = [r.data_initiator, r.data_responder]
            .iter()
            .flatten()
            .map(|a| a.to_string())
            .collect();
        let mut text = String::new();
        for part in [r.path.as_deref(), r.full_path.as_deref()]
            .into_iter()
            .flatten()
        {
            add_search(&mut text, &[part], MAX_SEARCH_TEXT);
        }
        for h in &hosts {
            add_search(&mut text, &[h.as_bytes()], MAX_SEARCH_TEXT);
        }
        let index = self.transfers.len();
        let session = r.session.and_then(|id| self.index.get(&id).copied());
        let search = match session.and_then(|i| self.sessions.get_mut(i)) {
            Some(s) => {
                s.transfers.push(index);
                s.bytes += r.bytes;
                add_search(&mut s.search, &[text.as_bytes()], MAX_SEARCH_TEXT);
                None
            }
            None => {
                if let Some(c) = r.command.as_deref() {
                    add_search(&mut text, &[c], MAX_SEARCH_TEXT);
                }
                Some(text.into_boxed_str())
            }
        };
        self.transfers.push(TransferRow {
            transfer: r.transfer,
            session: r.session,
            start: r.start,
            end: r.end,
            command: r.command.as_deref().map(Box::from),
            path: path.map(Box::from),
            direction: r.direction,
            mode: r.mode,
            announced_by: r.announced_by,
            link: r.link,
            status: r.status,
            bytes: r.bytes,
            sha256_prefix: t
                .digests
                .sha256
                .as_deref()
                .unwrap_or_default()
                .chars()
                .take(16)
                .collect(),
            search,
            at,
        });
    }

    fn spill_append(&mut self, prev: u64, payload: &[u8]) -> Option<u64> {
        if self.spill_error.is_some() {
            return None;
        }
        let result = match self.spill.as_mut() {
            Some(s) => s.append(prev, payload),
            None => Spill::create(self.spill_dir.as_deref())
                .and_then(|s| self.spill.insert(s).append(prev, payload)),
        };
        result.map_err(|e| self.fail(e)).ok()
    }

    fn fail(&mut self, e: io::Error) {
        self.spill_error
            .get_or_insert_with(|| format!("temporary file: {e}"));
        self.spill = None;
    }

    /// The session's dialogue (at most [`MAX_EXCHANGES_PER_SESSION`] exchanges), read back
    /// from the spill, oldest first.
    pub fn dialogue(&mut self, session: usize) -> Vec<Exchange> {
        let Some(mut next) = self.sessions.get(session).map(|s| s.last_exchange) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        // Each record links to the one before it (its offset plus one; 0 ends the chain).
        while next > 0 && out.len() < MAX_EXCHANGES_PER_SESSION {
            let Some(spill) = self.spill.as_mut() else {
                break;
            };
            let read = spill.read(next - 1);
            let (prev, exchange) = match read {
                Ok((prev, payload)) => (prev, codec::decode_exchange(&payload)),
                Err(e) => {
                    self.fail(e);
                    break;
                }
            };
            let Some(exchange) = exchange else {
                self.fail(io::Error::other("a spilled exchange does not decode"));
                break;
            };
            out.push(exchange);
            next = prev;
        }
        out.reverse();
        out
    }

    /// The transfer's whole outcome, read back from the spill.
    pub fn outcome(&mut self, transfer: usize) -> Option<TransferOutcome> {
        let at = self.transfers.get(transfer)?.at;
        if at == NOWHERE {
            return None;
        }
        let read = self.spill.as_mut()?.read(at);
        match read {
            Ok((_, payload)) => {
                let t = codec::decode_transfer(&payload);
                if t.is_none() {
                    self.fail(io::Error::other("a spilled transfer does not decode"));
                }
                t
            }
            Err(e) => {
                self.fail(e);
                None
            }
        }
    }
}

/// Appends `parts` (lower-cased, as one line) to a search text while it is shorter than
/// `limit` bytes, and cuts it there.
fn add_search(text: &mut String, parts: &[&[u8]], limit: usize) {
    if text.len() >= limit {
        return;
    }
    for part in parts {
        text.push_str(&String::from_utf8_lossy(part).to_lowercase());
    }
    text.push('\n');
    if text.len() > limit {
        let mut cut = limit;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
}

/// An append-only file of records `[prev: u64][len: u32][payload]`, where `prev` links a
/// record to an earlier one (a session's exchanges form a chain, newest first). Writes are
/// buffered; a read of a record still in the buffer is served from it.
struct Spill {
    file: File,
    buffer: Vec<u8>,
    /// Bytes already in the file (the buffer starts there).
    flushed: u64,
    /// A window of the file read at once, and where it starts: a chain is walked newest
    /// first and a report reads every session in turn, so nearby records are read together
    /// rather than with two system calls each. The file only grows; a window never goes stale.
    window: Vec<u8>,
    window_at: u64,
}

/// Bytes of the file read at once.
const READ_WINDOW: usize = 64 << 10;

impl Spill {
    /// The spill holds every dialogue, passwords unmasked: an unnamed file (`O_TMPFILE`
    /// where the OS and the file system have it, else a random name made by the `tempfile`
    /// crate and removed at once), mode 0600 from its creation, never an existing file.
    fn create(dir: Option<&std::path::Path>) -> io::Result<Spill> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let dir = dir.map_or_else(std::env::temp_dir, std::path::Path::to_path_buf);
        let unnamed = File::options()
            .read(true)
            .write(true)
            .custom_flags(libc::O_TMPFILE)
            .mode(0o600)
            .open(&dir);
        let file = unnamed
            .or_else(|_| {
                tempfile::Builder::new()
                    .prefix("ftpscope-spill-")
                    .permissions(std::fs::Permissions::from_mode(0o600))
                    .tempfile_in(&dir)
                    .map(tempfile::NamedTempFile::into_file)
            })
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        Ok(Spill {
            file,
            buffer: Vec::with_capacity(SPILL_BUFFER),
            flushed: 0,
            window: Vec::new(),
            window_at: 0,
        })
    }

    fn append(&mut self, prev: u64, payload: &[u8]) -> io::Result<u64> {
        let at = self.flushed + self.buffer.len() as u64;
        let len = u32::try_from(payload.len()).map_err(io::Error::other)?;
        self.buffer.extend_from_slice(&prev.to_le_bytes());
        self.buffer.extend_from_slice(&len.to_le_bytes());
        self.buffer.extend_from_slice(payload);
        if self.buffer.len() >= SPILL_BUFFER {
            self.flush()?;
        }
        Ok(at)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(self.flushed))?;
        self.file.write_all(&self.buffer)?;
        self.flushed += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    /// The record at `at`: its link and its payload.
    fn read(&mut self, at: u64) -> io::Result<(u64, Vec<u8>)> {
        let damaged = || io::Error::other("spill record out of bounds");
        if at >= self.flushed {
            let start = usize::try_from(at - self.flushed).map_err(|_| damaged())?;
            let head = self.buffer.get(start..start + 12).ok_or_else(damaged)?;
            let (prev, len) = split_head(head);
            let body = start + 12;
            let payload = self.buffer.get(body..body + len).ok_or_else(damaged)?;
            return Ok((prev, payload.to_vec()));
        }
        let (prev, len) = split_head(&self.file_bytes(at, 12)?);
        if at + 12 + len as u64 > self.flushed {
            return Err(damaged());
        }
        Ok((prev, self.file_bytes(at + 12, len)?))
    }

    /// `len` bytes of the file at `at` (below `flushed`), through the read window.
    fn file_bytes(&mut self, at: u64, len: usize) -> io::Result<Vec<u8>> {
        let end = at + len as u64;
        let cached = at >= self.window_at && end <= self.window_at + self.window.len() as u64;
        if !cached {
            if len > READ_WINDOW {
                self.file.seek(SeekFrom::Start(at))?;
                let mut out = vec![0u8; len];
                self.file.read_exact(&mut out)?;
                return Ok(out);
            }
            // The window ends just past the record: what comes before it is read next.
            let start = end.saturating_sub(READ_WINDOW as u64);
            let stop = (start + READ_WINDOW as u64).min(self.flushed);
            self.window
                .resize(usize::try_from(stop - start).unwrap_or(0), 0);
            self.file.seek(SeekFrom::Start(start))?;
            self.file.read_exact(&mut self.window)?;
            self.window_at = start;
        }
        let from = usize::try_from(at - self.window_at).unwrap_or(usize::MAX);
        self.window
            .get(from..from.saturating_add(len))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| io::Error::other("spill record out of bounds"))
    }
}

fn split_head(head: &[u8]) -> (u64, usize) {
    let mut prev = [0u8; 8];
    let mut len = [0u8; 4];
    prev.copy_from_slice(head.get(..8).unwrap_or(&[0; 8]));
    len.copy_from_slice(head.get(8..12).unwrap_or(&[0; 4]));
    (u64::from_le_bytes(prev), u32::from_le_bytes(len) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfers::Listing;

    /// The spill holds passwords: no name anyone could open, and 0600 from its creation.
    #[test]
    fn the_spill_file_is_unnamed_and_private() {
        use std::os::unix::fs::MetadataExt;
        let tmp = crate::transfers::testing::temp_dir("spill-mode");
        let dir = tmp.path();
        let spill = Spill::create(Some(dir)).unwrap();
        let meta = spill.file.metadata().unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!(meta.nlink(), 0, "no name in any folder");
        assert_eq!(std::fs::read_dir(dir).unwrap().count(), 0);
    }
    use ftpscope_core::event::{CommandLine, DetectedBy, Reply, TransferRecord};
    use ftpscope_core::ftp::listing::{EntryKind, ListingEntry, ListingStyle};

    fn exchange(session: u64, n: usize, text_len: usize) -> Exchange {
        Exchange {
            session,
            command: (!n.is_multiple_of(7)).then(|| CommandLine {
                ts: Timestamp::from_nanos(n as i64 * 1000 - 5),
                verb: b"RETR".to_vec(),
                arg: [format!("file-{n}").as_bytes(), b"\xff"].concat(),
                secret: n.is_multiple_of(5),
            }),
            replies: (0..n % 3)
                .map(|k| Reply {
                    ts: Timestamp::from_nanos(n as i64 * 1000 + k as i64),
                    code: 150 + 76 * k as u16,
                    text: vec![b'a' + (n % 26) as u8; text_len],
                    lines_dropped: k as u64,
                })
                .collect(),
        }
    }

    fn started(session: u64) -> Record {
        Record::SessionStarted(SessionStart {
            session,
            ts: Timestamp::from_nanos(0),
            client: "10.0.0.1:4000".parse().unwrap(),
            server: "10.0.0.2:21".parse().unwrap(),
            detected_by: DetectedBy::Port21,
        })
    }

    fn outcome(id: u64, session: Option<u64>) -> TransferOutcome {
        TransferOutcome {
            record: TransferRecord {
                transfer: id,
                session,
                start: Timestamp::from_nanos(-3),
                end: Timestamp::MAX,
                command: Some(b"MLSD".to_vec()),
                path: Some(b"dir\x00\xfe".to_vec()),
                full_path: None,
                direction: Direction::Upload,
                mode: Some(DataMode::Active),
                announced_by: Some(AnnouncedBy::Eprt),
                announced: Some("[2001:db8::1]:2121".parse().unwrap()),
                link: LinkRule::NatPeers,
                data_initiator: Some("192.0.2.1:20".parse().unwrap()),
                data_responder: None,
                transfer_type: Some(b'A'),
                offset: 1 << 40,
                bytes: 12_345,
                expected_bytes: None,
                gap_bytes: 7,
                missing_bytes: u64::MAX,
                status: TransferStatus::Aborted,
                reason: "server said 426 — aborted".into(),
                reply_code: Some(426),
                listing: true,
                tls: None,
                frames: Some(ftpscope_core::event::FrameSpan {
                    first: 3,
                    last: u64::MAX,
                }),
            },
            digests: crate::transfers::Digests {
                sha256: Some("ab".repeat(32)),
                md5: Some("12".repeat(16)),
                sha1: None,
                mime_type: Some("image/png".into()),
            },
            pending: false,
            file: Some(std::path::PathBuf::from("/tmp/x/dir")),
            file_error: Some("disk full".into()),
            listing: Some(Listing {
                entries: vec![ListingEntry {
                    name: b"link\x1b".to_vec(),
                    kind: EntryKind::Symlink,
                    size: Some(0),
                    modified: Some("2024-01-01T12:00:00Z".into()),
                    link_target: Some(b"/etc".to_vec()),
                    permissions: None,
                    style: ListingStyle::Mlsd,
                }],
                truncated: true,
            }),
            resumes: Some(3),
            combined_file: None,
            combined_sha256: Some("cd".repeat(32)),
            capture_drops: Some(0),
        }
    }

    #[test]
    fn exchanges_and_transfers_come_back_as_they_went() {
        for n in 0..20 {
            let e = exchange(n, n as usize, n as usize * 3);
            let mut bytes = Vec::new();
            codec::encode_exchange(&e, &mut bytes);
            assert_eq!(codec::decode_exchange(&bytes), Some(e));
            // Cut anywhere, it does not decode (no panic, no half record).
            for cut in 0..bytes.len() {
                assert_eq!(codec::decode_exchange(&bytes[..cut]), None);
            }
        }
        let t = outcome(9, Some(4));
        let mut bytes = Vec::new();
        codec::encode_transfer(&t, &mut bytes);
        let back = codec::decode_transfer(&bytes).unwrap();
        assert_eq!(format!("{back:?}"), format!("{t:?}"));
        for cut in 0..bytes.len() {
            assert!(codec::decode_transfer(&bytes[..cut]).is_none());
        }
    }

    #[test]
    fn every_announcer_comes_back_as_itself() {
        let announcers = AnnouncedBy::ALL.iter().copied().map(Some).chain([None]);
        for by in announcers {
            let mut t = outcome(9, Some(4));
            t.record.announced_by = by;
            let mut bytes = Vec::new();
            codec::encode_transfer(&t, &mut bytes);
            let back = codec::decode_transfer(&bytes).unwrap();
            assert_eq!(back.record.announced_by, by);
        }
    }

    /// Every variant of every enum a transfer carries comes back as itself, and a code past
    /// its enum's list is damage, never another variant.
    #[test]
    fn every_enum_variant_comes_back_and_unknown_codes_are_damage() {
        type Set = fn(&mut TransferOutcome, usize);
        type Get = fn(&TransferOutcome) -> usize;
        let fields: [(&str, usize, Set, Get); 6] = [
            (
                "direction",
                Direction::ALL.len(),
                |t, i| t.record.direction = Direction::ALL[i],
                |t| t.record.direction.index(),
            ),
            (
                "mode",
                DataMode::ALL.len(),
                |t, i| t.record.mode = Some(DataMode::ALL[i]),
                |t| t.record.mode.unwrap().index(),
            ),
            (
                "link",
                LinkRule::ALL.len(),
                |t, i| t.record.link = LinkRule::ALL[i],
                |t| t.record.link.index(),
            ),
            (
                "status",
                TransferStatus::ALL.len(),
                |t, i| t.record.status = TransferStatus::ALL[i],
                |t| t.record.status.index(),
            ),
            (
                "entry kind",
                EntryKind::ALL.len(),
                |t, i| t.listing.as_mut().unwrap().entries[0].kind = EntryKind::ALL[i],
                |t| t.listing.as_ref().unwrap().entries[0].kind.index(),
            ),
            (
                "listing style",
                ListingStyle::ALL.len(),
                |t, i| t.listing.as_mut().unwrap().entries[0].style = ListingStyle::ALL[i],
                |t| t.listing.as_ref().unwrap().entries[0].style.index(),
            ),
        ];
        for (name, len, set, get) in fields {
            let encode = |i| {
                let mut t = outcome(9, Some(4));
                set(&mut t, i);
                let mut bytes = Vec::new();
                codec::encode_transfer(&t, &mut bytes);
                bytes
            };
            for i in 0..len {
                let back = codec::decode_transfer(&encode(i)).unwrap();
                assert_eq!(get(&back), i, "{name} {i}");
            }
            // The one byte that differs between the first two variants is the code.
            let (first, second) = (encode(0), encode(1));
            let differing: Vec<usize> = (0..first.len())
                .filter(|&i| first[i] != second[i])
                .collect();
            assert_eq!(differing.len(), 1, "{name}");
            for unknown in [len as u8, u8::MAX] {
                let mut damaged = first.clone();
                damaged[differing[0]] = unknown;
                assert!(
                    codec::decode_transfer(&damaged).is_none(),
                    "{name}: code {unknown}"
                );
            }
        }
    }

    #[test]
    fn an_announcer_index_past_the_list_is_damage() {
        // Two records that differ only in the announcer differ in its one byte: the index.
        let encode = |by| {
            let mut t = outcome(9, Some(4));
            t.record.announced_by = Some(by);
            let mut bytes = Vec::new();
            codec::encode_transfer(&t, &mut bytes);
            bytes
        };
        let (port, eprt) = (encode(AnnouncedBy::Port), encode(AnnouncedBy::Eprt));
        let differing: Vec<usize> = (0..port.len()).filter(|&i| port[i] != eprt[i]).collect();
        assert_eq!(differing.len(), 1);
        let at = differing[0];
        assert_eq!(port[at], AnnouncedBy::Port.index() as u8);
        for unknown in [AnnouncedBy::ALL.len() as u8, u8::MAX] {
            let mut damaged = port.clone();
            damaged[at] = unknown;
            assert!(
                codec::decode_transfer(&damaged).is_none(),
                "index {unknown}"
            );
        }
    }

    #[test]
    fn dialogues_are_read_back_per_session_from_file_and_buffer() {
        let mut store = Store::default();
        for id in 1..=3 {
            store.apply(&started(id));
        }
        // Interleaved, 2 KiB each: well past the 1 MiB write buffer, so both the file and the
        // buffer are read from. Session 3 goes past its bound.
        let mut sent: [Vec<Exchange>; 3] = Default::default();
        for n in 0..1400 {
            let session = [1, 2, 3, 3][n % 4];
            let e = exchange(session, n, 2048);
            if let Some(kept) = sent.get_mut(session as usize - 1)
                && kept.len() < MAX_EXCHANGES_PER_SESSION
            {
                kept.push(e.clone());
            }
            store.apply(&Record::Exchange(e));
        }
        assert!(store.spill.as_ref().unwrap().flushed > 0);
        for (i, want) in sent.iter().enumerate() {
            assert_eq!(store.dialogue(i), *want, "session {}", i + 1);
            assert_eq!(store.sessions[i].exchanges, want.len());
        }
        assert_eq!(store.sessions[2].exchanges_dropped, 700 - 500);
        assert!(store.spill_error.is_none());

        store.apply(&Record::Transfer(Box::new(outcome(1, Some(2)))));
        store.apply(&Record::Transfer(Box::new(outcome(2, None))));
        assert_eq!(store.sessions[1].transfers, vec![0]);
        assert_eq!(store.sessions[1].bytes, 12_345);
        assert!(store.sessions[1].search.contains("dir"));
        assert!(store.transfers[0].search.is_none());
        let orphan = store.transfers[1].search.as_deref().unwrap();
        assert!(
            orphan.contains("192.0.2.1:20") && orphan.contains("mlsd"),
            "{orphan}"
        );
        let back = store.outcome(1).unwrap();
        assert_eq!(format!("{back:?}"), format!("{:?}", outcome(2, None)));
    }

    #[test]
    fn search_text_stays_within_its_bound_and_hides_secrets() {
        let mut store = Store::default();
        store.apply(&started(1));
        let pass = Exchange {
            session: 1,
            command: Some(CommandLine {
                ts: Timestamp::from_nanos(1),
                verb: b"PASS".to_vec(),
                arg: b"Hunter2".to_vec(),
                secret: true,
            }),
            replies: Vec::new(),
        };
        store.apply(&Record::Exchange(pass));
        for n in 1..400 {
            store.apply(&Record::Exchange(exchange(1, n * 7 + 1, 0)));
        }
        let text = &store.sessions[0].search;
        assert!(text.len() <= MAX_SEARCH_TEXT, "{}", text.len());
        assert!(text.contains("pass\n") && !text.contains("hunter2"));
        assert!(
            text.contains("retr file-8\u{fffd}"),
            "lower-cased, lossy: {text}"
        );
    }

    /// Without a spill file every session and transfer is still listed and counted; only the
    /// dialogues and details are missing, and the store says why.
    #[test]
    fn without_a_spill_file_rows_are_kept_and_the_failure_said() {
        let mut store = Store::with_spill_dir("/nonexistent/ftpscope-spill".into());
        store.apply(&started(1));
        for n in 1..4 {
            store.apply(&Record::Exchange(exchange(1, n, 4)));
        }
        store.apply(&Record::Transfer(Box::new(outcome(7, Some(1)))));
        let s = &store.sessions[0];
        assert_eq!((s.exchanges, s.exchanges_dropped), (0, 3));
        assert!(s.search.contains("retr file-2"), "{}", s.search);
        assert_eq!(s.transfers, vec![0]);
        assert_eq!(store.transfers[0].bytes, 12_345);
        assert!(store.outcome(0).is_none());
        assert!(store.dialogue(0).is_empty());
        let e = store.spill_error.as_deref().unwrap();
        assert!(e.starts_with("temporary file: "), "{e}");
    }
}
