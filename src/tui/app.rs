//! The TUI's state and its one mutation, [`App::update`]. Everything the user sees is derived
//! from this state by the pure functions in [`crate::tui::view`].

use crate::output::json::{Escapes, TransferFields, write_anomaly, write_session, write_transfer};
use crate::pipeline::{Record, RunSummary};
use crate::store::{SessionRow, Store, TransferRow};
use crate::text::escape;
use crate::transfers::{TransferOutcome, final_location};
pub use crate::tui::actions::{FileJob, Found};
use crate::tui::actions::{expand_tilde, wireshark_filter};
use crate::tui::keymap::Action;
use crate::tui::overview::{self, Jump, Stats};
use crate::tui::search::{Field, Query, Term};
use ftpscope_core::event::TlsFacts;
use ftpscope_core::{Exchange, SessionId, Timestamp};
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::net::SocketAddr;
use std::path::PathBuf;

/// What the analysis worker (and the file jobs) send the UI.
#[derive(Debug)]
pub enum Msg {
    Records(Vec<Record>),
    /// Bytes of the capture read so far.
    Progress(u64),
    /// Live capture: the counters so far.
    Live(LiveStatus),
    Done(Box<RunSummary>),
    Failed(String),
    /// A [`FileJob::Save`] or [`FileJob::Export`] finished: the file written, or why not.
    Saved(Result<PathBuf, String>),
    /// A [`FileJob::SaveAll`] finished: how many files went into which folder, or why not.
    SavedAll(Result<(usize, PathBuf), String>),
    /// A [`FileJob::Find`] finished.
    Found(Found),
}

/// Live capture, for the status bar: what the interface gave and what was lost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveStatus {
    pub packets: u64,
    pub bytes: u64,
    /// Packets per second since the previous status.
    pub packets_per_sec: u64,
    /// Dropped because the kernel's capture buffer was full (ftpscope fell behind).
    pub kernel_drops: u64,
    /// Dropped by the interface or its driver.
    pub interface_drops: u64,
}

pub const OVERVIEW: usize = 0;
pub const SESSIONS: usize = 1;
pub const TRANSFERS: usize = 2;
pub const ANOMALIES: usize = 3;
pub const TAB_NAMES: [&str; 4] = ["Overview", "Sessions", "Transfers", "Anomalies"];
/// The keys each list sorts by, in the order `o` goes through them.
pub const SORT_KEYS: [&[&str]; 4] = [
    &[],
    &[
        "start",
        "client",
        "server",
        "user",
        "login",
        "bytes",
        "transfers",
        "commands",
        "time",
    ],
    &["start", "session", "status", "bytes", "path", "command"],
    &["time", "kind", "session"],
];

/// Where the focus is on the Sessions tab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    List,
    Dialogue,
}

/// A transfer: an index into `store.transfers`.
pub type TransferRef = usize;

/// What covers the tabs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    Detail(TransferRef),
    /// The selected session's facts: banner, software, bytes, logins, TLS.
    Info,
    /// The control connection's dialogue as it crossed the wire.
    Follow,
}

/// A line of text being typed at the bottom of the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    /// The current tab's filter, applied as typed.
    Filter,
    /// Text to find in the dialogue or the open file (`n`/`N`).
    Find,
    /// A folder for the open transfer's file.
    SaveFile,
    /// A folder for every file of the selected session.
    SaveAll,
    /// A file for the current view as JSON Lines.
    Export,
    /// An offset in the open file.
    GoTo,
}

impl PromptKind {
    pub fn label(self) -> &'static str {
        match self {
            PromptKind::Filter => "filter",
            PromptKind::Find => "find",
            PromptKind::SaveFile => "save to folder",
            PromptKind::SaveAll => "save all files to folder",
            PromptKind::Export => "export view to file",
            PromptKind::GoTo => "go to offset",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub text: String,
}

/// One line of a session's dialogue: an exchange (an index into the loaded dialogue) or, at
/// its place in time, a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogueItem {
    Exchange(usize),
    /// Line `1` (counting from 0) of the final reply of exchange `0`, shown when unfolded.
    ReplyLine(usize, usize),
    Transfer(TransferRef),
}

/// The selected session's dialogue, read from the store's spill file when the selection or
/// the session changes.
#[derive(Debug, Default)]
pub struct LoadedDialogue {
    /// The session (index into `store.sessions`) and how many exchanges it had when read.
    pub session: Option<(usize, usize)>,
    pub exchanges: Vec<Exchange>,
    /// Exchanges whose multi-line reply is unfolded.
    pub unfolded: std::collections::BTreeSet<usize>,
}

/// The bytes of the open transfer shown right now: a bounded window of its file.
#[derive(Debug, Default, Clone)]
pub struct DetailWindow {
    pub offset: u64,
    pub bytes: Vec<u8>,
    pub file_len: u64,
}

/// What the records say of a transfer beyond its row: its data connection and its TLS.
#[derive(Debug, Clone, Default)]
pub struct TransferExtra {
    pub data: Option<(SocketAddr, SocketAddr)>,
    pub tls: bool,
}

/// The most bytes of a transfer the detail view reads at once.
const WINDOW: usize = 64 << 10;

pub struct App {
    pub store: Store,
    pub source: String,
    pub tab: usize,
    pub pane: Pane,
    /// Sessions shown, as indices into `store.sessions`, filtered and sorted.
    pub order: Vec<usize>,
    /// Transfers shown (indices into `store.transfers`), filtered and sorted.
    pub transfer_list: Vec<TransferRef>,
    /// Anomalies shown (indices into `store.anomalies`), filtered and sorted.
    pub anomaly_list: Vec<usize>,
    /// The Overview's lines, rebuilt when records arrived and the tab is shown.
    pub overview: Vec<overview::Line>,
    pub stats: Stats,
    /// The selected session's dialogue.
    pub loaded: LoadedDialogue,
    /// The open transfer's whole outcome (Detail overlay).
    pub open: Option<TransferOutcome>,
    /// Selected row and first visible row, per tab.
    pub sel: [usize; 4],
    pub offset: [usize; 4],
    pub dialogue_sel: usize,
    pub dialogue_offset: usize,
    /// Per tab: the sort key (an index into [`SORT_KEYS`]) and whether it is descending.
    pub sort: [(usize, bool); 4],
    /// Per tab: its filter.
    pub filters: [Query; 4],
    pub prompt: Option<Prompt>,
    pub overlay: Overlay,
    /// The help's and the follow view's first line shown.
    pub overlay_offset: usize,
    /// What `n`/`N` look for, lower-cased, and the match found in the open file.
    pub find: String,
    pub find_hit: Option<(u64, usize)>,
    pub hex: bool,
    pub detail: DetailWindow,
    /// First listing entry shown, for listings.
    pub entry_offset: usize,
    pub reveal_passwords: bool,
    /// Times in local time rather than UTC.
    pub local_time: bool,
    pub bytes_read: u64,
    pub total_bytes: Option<u64>,
    /// Live capture: the latest counters (None when reading files).
    pub live: Option<LiveStatus>,
    pub summary: Option<RunSummary>,
    pub error: Option<String>,
    pub message: Option<String>,
    pub size: (u16, u16),
    pub quit: bool,
    /// Session id → index into `store.sessions`.
    pub session_index: HashMap<SessionId, usize>,
    /// TLS facts of the sessions that had them, by index into `store.sessions`.
    pub session_tls: HashMap<usize, Box<TlsFacts>>,
    /// Beside each of `store.transfers`.
    pub transfer_extra: Vec<TransferExtra>,
    /// Lists to rebuild (per tab) and the overview.
    dirty: [bool; 4],
    /// File work [`App::update`] asked for, not yet taken by the event loop.
    file_job: Option<FileJob>,
    /// Text for the terminal's clipboard, not yet taken by the event loop.
    clipboard: Option<String>,
}

/// Rows of the screen each part gets: shared by the view and by mouse handling, so a click
/// lands where the row was drawn.
pub struct Layout {
    /// First row and height of the main list: below its border and its header line.
    pub list_top: u16,
    pub list_rows: usize,
    /// First row and height of the dialogue pane (Sessions tab), inside its border.
    pub dialogue_top: u16,
    pub dialogue_rows: usize,
}

/// The layout of `tab` on a terminal `height` rows high, its list holding `len` rows: the
/// sessions pane takes what its rows need, up to half the body; the dialogue the rest.
pub fn layout(tab: usize, height: u16, len: usize) -> Layout {
    // Title bar (1), body, status bar (1). Borders take a row above and below each pane.
    let body = height.saturating_sub(2);
    if tab == SESSIONS {
        let want = u16::try_from(len)
            .unwrap_or(u16::MAX)
            .saturating_add(3)
            .max(4);
        let list = want.min((body / 2).max(4));
        let dialogue = body.saturating_sub(list);
        Layout {
            list_top: 3,
            list_rows: usize::from(list.saturating_sub(3)),
            dialogue_top: 1 + list + 1,
            dialogue_rows: usize::from(dialogue.saturating_sub(2)),
        }
    } else {
        // Overview: no header line.
        let header = u16::from(tab != OVERVIEW);
        Layout {
            list_top: 2 + header,
            list_rows: usize::from(body.saturating_sub(2 + header)),
            dialogue_top: 0,
            dialogue_rows: 0,
        }
    }
}

const TRANSFER_VERBS: [&[u8]; 9] = [
    b"RETR", b"STOR", b"STOU", b"APPE", b"LIST", b"NLST", b"MLSD", b"MLST", b"STAT",
];

impl App {
    pub fn new(source: String, total_bytes: Option<u64>, reveal_passwords: bool) -> Self {
        App {
            store: Store::default(),
            source,
            tab: OVERVIEW,
            pane: Pane::List,
            order: Vec::new(),
            transfer_list: Vec::new(),
            anomaly_list: Vec::new(),
            overview: Vec::new(),
            stats: Stats::default(),
            loaded: LoadedDialogue::default(),
            open: None,
            sel: [0; 4],
            offset: [0; 4],
            dialogue_sel: 0,
            dialogue_offset: 0,
            sort: [(0, false); 4],
            filters: Default::default(),
            prompt: None,
            overlay: Overlay::None,
            overlay_offset: 0,
            find: String::new(),
            find_hit: None,
            hex: false,
            detail: DetailWindow::default(),
            entry_offset: 0,
            reveal_passwords,
            local_time: false,
            bytes_read: 0,
            total_bytes,
            live: None,
            summary: None,
            error: None,
            message: None,
            size: (80, 24),
            quit: false,
            session_index: HashMap::new(),
            session_tls: HashMap::new(),
            transfer_extra: Vec::new(),
            dirty: [true; 4],
            file_job: None,
            clipboard: None,
        }
    }

    /// Folds what the worker sent into the model.
    pub fn apply(&mut self, msg: Msg) {
        match msg {
            Msg::Records(records) => {
                for r in &records {
                    self.take_in(r);
                }
                self.dirty = [true; 4];
            }
            Msg::Progress(bytes) => self.bytes_read = bytes,
            Msg::Live(status) => self.live = Some(status),
            Msg::Done(summary) => {
                self.summary = Some(*summary);
                self.dirty = [true; 4];
            }
            Msg::Failed(e) => self.error = Some(e),
            Msg::Saved(result) => {
                self.message = Some(match result {
                    Ok(path) => format!("saved to {}", escape(path.to_string_lossy().as_bytes())),
                    Err(e) => format!("could not save to {}", escape(e.as_bytes())),
                });
            }
            Msg::Found(found) => self.found(found),
            Msg::SavedAll(result) => {
                self.message = Some(match result {
                    Ok((n, dir)) => format!(
                        "saved {n} files to {}",
                        escape(dir.to_string_lossy().as_bytes())
                    ),
                    Err(e) => format!("could not save to {}", escape(e.as_bytes())),
                });
            }
        }
    }

    /// One record into the store, the overview's figures and the side tables.
    fn take_in(&mut self, r: &Record) {
        let (sessions, transfers) = (self.store.sessions.len(), self.store.transfers.len());
        self.store.apply(r);
        self.stats.observe(r);
        match r {
            Record::SessionStarted(s) if self.store.sessions.len() > sessions => {
                self.session_index.insert(s.session, sessions);
            }
            Record::SessionEnded(s) => {
                if let (Some(tls), Some(&i)) = (&s.tls_info, self.session_index.get(&s.session)) {
                    self.session_tls.insert(i, tls.clone());
                }
            }
            Record::Transfer(t) if self.store.transfers.len() > transfers => {
                let rec = &t.record;
                self.transfer_extra.push(TransferExtra {
                    data: rec.data_initiator.zip(rec.data_responder),
                    tls: rec.tls.is_some(),
                });
            }
            _ => {}
        }
    }

    /// The file work the last updates asked for, to be done off the UI thread.
    pub fn take_file_job(&mut self) -> Option<FileJob> {
        self.file_job.take()
    }

    /// Text the last updates put on the clipboard, for the event loop to send (OSC 52).
    pub fn take_clipboard(&mut self) -> Option<String> {
        self.clipboard.take()
    }

    /// Whether the capture was damaged (the report would exit with status 3).
    pub fn damaged(&self) -> bool {
        !self.stats.damage.is_empty() || self.summary.as_ref().is_some_and(|s| !s.damage.is_empty())
    }

    /// Recomputes the shown tab's list when something changed (lists of other tabs wait until
    /// they are shown). Called once per frame and after each update, not per record, so a
    /// capture of 100 000 sessions stays responsive while it loads.
    pub fn refresh(&mut self) {
        if self.dirty[self.tab] {
            self.dirty[self.tab] = false;
            match self.tab {
                OVERVIEW => self.rebuild_overview(),
                SESSIONS => self.rebuild_sessions(),
                TRANSFERS => self.rebuild_transfers(),
                _ => self.rebuild_anomalies(),
            }
            let len = self.list_len();
            self.sel[self.tab] = self.sel[self.tab].min(len.saturating_sub(1));
            self.scroll_into_view();
        }
        self.sync_dialogue();
    }

    fn rebuild_overview(&mut self) {
        let time = |ts| crate::tui::view::stamp(self, ts, true);
        self.overview = overview::lines(&self.stats, self.summary.as_ref(), &time);
    }

    fn session_matches(&self, i: usize, term: &Term) -> bool {
        let Some(s) = self.store.sessions.get(i) else {
            return false;
        };
        let text = |t: &Term| t.text().is_some_and(|m| m.matches(&s.search));
        match term.field {
            Field::Any => text(term),
            Field::Host => term.host_matches(s.start.client) || term.host_matches(s.start.server),
            Field::Port => term.host_matches(s.start.client) || term.host_matches(s.start.server),
            Field::User => match (s.end.as_ref().and_then(|e| e.user.as_deref()), term.text()) {
                (Some(u), Some(m)) => m.matches_bytes(u),
                _ => false,
            },
            Field::Status => {
                let Some(m) = term.text() else { return false };
                match &s.end {
                    Some(e) => {
                        m.matches(e.login.as_str())
                            || m.matches(e.reason.as_str())
                            || (e.tls && m.matches("tls"))
                            || (e.login_attempts > u32::from(e.login == ftpscope_core::event::LoginState::Ok)
                                && m.matches("failed"))
                    }
                    None => m.matches("open"),
                }
            }
            Field::Cmd => {
                let Some(m) = term.text() else { return false };
                // The search text has a line per command: its verb is the line's first word.
                s.search.lines().skip(1).any(|line| {
                    m.matches(line.split(' ').next().unwrap_or(""))
                })
            }
            Field::Path => s.transfers.iter().any(|&t| {
                let row = self.store.transfers.get(t);
                matches!((row.and_then(|r| r.path.as_deref()), term.text()), (Some(p), Some(m)) if m.matches_bytes(p))
            }),
            Field::Kind => false,
        }
    }

    fn rebuild_sessions(&mut self) {
        let q = &self.filters[SESSIONS];
        let mut order: Vec<usize> = (0..self.store.sessions.len())
            .filter(|&i| q.matches(|t| self.session_matches(i, t)))
            .collect();
        let sessions = &self.store.sessions;
        let (key, desc) = self.sort[SESSIONS];
        let row = |i: usize| sessions.get(i);
        match SORT_KEYS[SESSIONS].get(key).copied().unwrap_or("start") {
            "client" => order.sort_by_key(|&i| row(i).map(|s| s.start.client)),
            "server" => order.sort_by_key(|&i| row(i).map(|s| s.start.server)),
            "user" => {
                let user = |i: usize| row(i).and_then(|s| s.end.as_ref()?.user.as_deref());
                order.sort_by(|&a, &b| user(a).cmp(&user(b)))
            }
            "login" => order.sort_by_key(|&i| {
                row(i)
                    .and_then(|s| s.end.as_ref())
                    .map(|e| (e.login.as_str(), e.login_attempts))
            }),
            "bytes" => order.sort_by_key(|&i| row(i).map_or(0, |s| s.bytes)),
            "transfers" => order.sort_by_key(|&i| row(i).map_or(0, |s| s.transfers.len())),
            "commands" => order.sort_by_key(|&i| {
                row(i)
                    .and_then(|s| s.end.as_ref())
                    .map_or(0, |e| e.commands)
            }),
            "time" => {
                order.sort_by_key(|&i| row(i).and_then(|s| Some(s.end.as_ref()?.end - s.start.ts)))
            }
            _ => {}
        }
        if desc {
            order.reverse();
        }
        self.order = order;
    }

    fn session_of(&self, id: Option<SessionId>) -> Option<&SessionRow> {
        self.store.sessions.get(*self.session_index.get(&id?)?)
    }

    fn transfer_matches(&self, i: usize, term: &Term) -> bool {
        let Some(t) = self.store.transfers.get(i) else {
            return false;
        };
        let extra = self.transfer_extra.get(i);
        let session = self.session_of(t.session);
        let hosts = || {
            let data = extra
                .and_then(|x| x.data)
                .into_iter()
                .flat_map(|(a, b)| [a, b]);
            let control = session
                .into_iter()
                .flat_map(|s| [s.start.client, s.start.server]);
            data.chain(control)
        };
        let bytes =
            |b: Option<&[u8]>| matches!((b, term.text()), (Some(b), Some(m)) if m.matches_bytes(b));
        match term.field {
            Field::Any => {
                let Some(m) = term.text() else { return false };
                bytes(t.path.as_deref())
                    || bytes(t.command.as_deref())
                    || m.matches(t.status.as_str())
                    || m.matches(&t.sha256_prefix)
                    || (m.could_match_address() && hosts().any(|h| m.matches(&h.to_string())))
                    || session
                        .and_then(|s| s.end.as_ref()?.user.as_deref())
                        .is_some_and(|u| m.matches_bytes(u))
            }
            Field::Host => hosts().any(|h| term.host_matches(h)),
            Field::Port => hosts().any(|h| term.host_matches(h)),
            Field::User => bytes(session.and_then(|s| s.end.as_ref()?.user.as_deref())),
            Field::Status => term.text().is_some_and(|m| {
                m.matches(t.status.as_str()) || (extra.is_some_and(|x| x.tls) && m.matches("tls"))
            }),
            Field::Cmd => bytes(t.command.as_deref()),
            Field::Path => bytes(t.path.as_deref()),
            Field::Kind => term.text().is_some_and(|m| m.matches(t.direction.as_str())),
        }
    }

    fn rebuild_transfers(&mut self) {
        let q = &self.filters[TRANSFERS];
        let mut list: Vec<usize> = (0..self.store.transfers.len())
            .filter(|&i| q.matches(|t| self.transfer_matches(i, t)))
            .collect();
        let transfers = &self.store.transfers;
        let row = |i: usize| transfers.get(i);
        let (key, desc) = self.sort[TRANSFERS];
        match SORT_KEYS[TRANSFERS].get(key).copied().unwrap_or("start") {
            "session" => list.sort_by_key(|&i| row(i).map(|t| (t.session, t.start))),
            "status" => list.sort_by_key(|&i| row(i).map(|t| (t.status.index(), t.start))),
            "bytes" => list.sort_by_key(|&i| row(i).map_or(0, |t| t.bytes)),
            "path" => list.sort_by(|&a, &b| row(a).map(|t| &t.path).cmp(&row(b).map(|t| &t.path))),
            "command" => {
                list.sort_by(|&a, &b| row(a).map(|t| &t.command).cmp(&row(b).map(|t| &t.command)))
            }
            _ => list.sort_by_key(|&i| row(i).map(|t| t.start)),
        }
        if desc {
            list.reverse();
        }
        self.transfer_list = list;
    }

    fn anomaly_matches(&self, i: usize, term: &Term) -> bool {
        let Some(a) = self.store.anomalies.get(i) else {
            return false;
        };
        let hosts = || a.flow.into_iter().flat_map(|(x, y)| [x, y]);
        let m = term.text();
        match term.field {
            Field::Any => {
                m.is_some_and(|m| m.matches(a.kind.as_str()) || m.matches(&a.detail.to_lowercase()))
            }
            Field::Kind | Field::Status => m.is_some_and(|m| m.matches(a.kind.as_str())),
            Field::Host | Field::Port => hosts().any(|h| term.host_matches(h)),
            Field::User => match (
                self.session_of(a.session)
                    .and_then(|s| s.end.as_ref()?.user.as_deref()),
                m,
            ) {
                (Some(u), Some(m)) => m.matches_bytes(u),
                _ => false,
            },
            Field::Cmd | Field::Path => m.is_some_and(|m| m.matches(&a.detail.to_lowercase())),
        }
    }

    fn rebuild_anomalies(&mut self) {
        let q = &self.filters[ANOMALIES];
        let mut list: Vec<usize> = (0..self.store.anomalies.len())
            .filter(|&i| q.matches(|t| self.anomaly_matches(i, t)))
            .collect();
        let all = &self.store.anomalies;
        let (key, desc) = self.sort[ANOMALIES];
        match SORT_KEYS[ANOMALIES].get(key).copied().unwrap_or("time") {
            "kind" => list.sort_by_key(|&i| all.get(i).map(|a| (a.kind.as_str(), a.ts))),
            "session" => list.sort_by_key(|&i| all.get(i).map(|a| (a.session, a.ts))),
            _ => list.sort_by_key(|&i| all.get(i).map(|a| a.ts)),
        }
        if desc {
            list.reverse();
        }
        self.anomaly_list = list;
    }

    /// Reads the selected session's dialogue from the store when the selection moved or the
    /// session gained exchanges (a file still being read, live capture).
    fn sync_dialogue(&mut self) {
        let want = self
            .order
            .get(self.sel[SESSIONS])
            .and_then(|&i| Some((i, self.store.sessions.get(i)?.exchanges)));
        if want == self.loaded.session {
            return;
        }
        // New exchanges of the same session keep what was unfolded.
        let unfolded = match (want, self.loaded.session) {
            (Some((a, _)), Some((b, _))) if a == b => std::mem::take(&mut self.loaded.unfolded),
            _ => Default::default(),
        };
        self.loaded = LoadedDialogue {
            session: want,
            exchanges: want.map_or_else(Vec::new, |(i, _)| self.store.dialogue(i)),
            unfolded,
        };
    }

    /// The selected session's index into `store.sessions`.
    pub fn selected_index(&self) -> Option<usize> {
        self.order.get(self.sel[SESSIONS]).copied()
    }

    pub fn selected_session(&self) -> Option<&SessionRow> {
        self.store.sessions.get(self.selected_index()?)
    }

    pub fn transfer(&self, r: TransferRef) -> Option<&TransferRow> {
        self.store.transfers.get(r)
    }

    /// The selected session's dialogue with its transfers placed in time.
    pub fn dialogue(&self) -> Vec<DialogueItem> {
        let Some(s) = self.selected_session() else {
            return Vec::new();
        };
        let mut items: Vec<(Timestamp, usize, DialogueItem)> = Vec::new();
        for (i, e) in self.loaded.exchanges.iter().enumerate() {
            items.push((
                e.ts().unwrap_or(Timestamp::EPOCH),
                0,
                DialogueItem::Exchange(i),
            ));
        }
        for &t in &s.transfers {
            // After the command that caused it: the end of the transfer is its final reply.
            let end = self.transfer(t).map_or(Timestamp::EPOCH, |t| t.end);
            items.push((end, 1, DialogueItem::Transfer(t)));
        }
        items.sort_by_key(|(ts, kind, _)| (*ts, *kind));
        let mut out = Vec::with_capacity(items.len());
        for (_, _, item) in items {
            out.push(item);
            if let DialogueItem::Exchange(i) = item
                && self.loaded.unfolded.contains(&i)
            {
                let lines = self
                    .loaded
                    .exchanges
                    .get(i)
                    .and_then(folded_reply)
                    .map_or(0, |r| r.text.split(|&b| b == b'\n').count());
                out.extend((1..lines).map(|line| DialogueItem::ReplyLine(i, line)));
            }
        }
        out
    }

    pub fn list_len(&self) -> usize {
        match self.tab {
            OVERVIEW => self.overview.len(),
            SESSIONS => self.order.len(),
            TRANSFERS => self.transfer_list.len(),
            _ => self.anomaly_list.len(),
        }
    }

    pub fn layout(&self) -> Layout {
        layout(self.tab, self.size.1, self.list_len())
    }

    fn scroll_into_view(&mut self) {
        let l = self.layout();
        let tab = self.tab;
        let rows = l.list_rows.max(1);
        if self.sel[tab] < self.offset[tab] {
            self.offset[tab] = self.sel[tab];
        } else if self.sel[tab] >= self.offset[tab] + rows {
            self.offset[tab] = self.sel[tab] + 1 - rows;
        }
        let drows = l.dialogue_rows.max(1);
        if self.dialogue_sel < self.dialogue_offset {
            self.dialogue_offset = self.dialogue_sel;
        } else if self.dialogue_sel >= self.dialogue_offset + drows {
            self.dialogue_offset = self.dialogue_sel + 1 - drows;
        }
    }

    /// Moves the selection of whatever has focus by `delta` rows.
    fn step(&mut self, delta: isize) {
        let move_by = |value: usize, len: usize| -> usize {
            let v = (value as isize).saturating_add(delta);
            v.clamp(0, len.saturating_sub(1) as isize) as usize
        };
        match self.overlay {
            Overlay::Detail(_) => return self.scroll_detail(delta),
            Overlay::Help | Overlay::Follow | Overlay::Info => {
                self.overlay_offset = move_by(self.overlay_offset, self.overlay_len());
                return;
            }
            Overlay::None => {}
        }
        if self.tab == SESSIONS && self.pane == Pane::Dialogue {
            let len = self.dialogue().len();
            self.dialogue_sel = move_by(self.dialogue_sel, len);
        } else {
            let len = self.list_len();
            let before = self.sel[self.tab];
            self.sel[self.tab] = move_by(before, len);
            if self.tab == SESSIONS && self.sel[SESSIONS] != before {
                self.dialogue_sel = 0;
                self.dialogue_offset = 0;
            }
        }
        self.scroll_into_view();
    }

    /// Lines of the help, follow or info overlay (to bound its scrolling).
    fn overlay_len(&self) -> usize {
        match self.overlay {
            Overlay::Help => crate::tui::keymap::KEYMAP.len() + 2,
            Overlay::Follow => crate::tui::view::follow_lines(self).len(),
            Overlay::Info => crate::tui::view::info_lines(self).len(),
            _ => 0,
        }
    }

    fn page(&self) -> isize {
        let l = self.layout();
        let rows = match self.overlay {
            Overlay::Detail(_) => self.detail_rows(),
            Overlay::None if self.tab == SESSIONS && self.pane == Pane::Dialogue => l.dialogue_rows,
            Overlay::None => l.list_rows,
            _ => usize::from(self.size.1.saturating_sub(6)),
        };
        rows.max(1) as isize
    }

    /// Rows of content the open transfer's view shows.
    pub fn detail_rows(&self) -> usize {
        let meta = crate::tui::view::detail_meta(self, self.size.0).len();
        usize::from(self.size.1.saturating_sub(2 + 2 + 1))
            .saturating_sub(meta)
            .max(1)
    }

    /// The only mutation of the UI state.
    pub fn update(&mut self, action: Action) {
        self.apply_action(action);
        self.refresh();
    }

    fn apply_action(&mut self, action: Action) {
        if !matches!(action, Action::Resize(..)) {
            self.message = None;
        }
        if let Some(prompt) = self.prompt.clone() {
            return self.prompt_action(prompt, action);
        }
        match (&self.overlay, action) {
            (_, Action::Quit) => self.quit = true,
            (_, Action::Resize(w, h)) => {
                self.size = (w, h);
                self.scroll_into_view();
            }
            (Overlay::Help, Action::Up | Action::ScrollUp) => self.step(-1),
            (Overlay::Help, Action::Down | Action::ScrollDown) => self.step(1),
            (Overlay::Help, Action::PageUp) => self.step(-self.page()),
            (Overlay::Help, Action::PageDown) => self.step(self.page()),
            (Overlay::Help, _) => self.overlay = Overlay::None,
            (Overlay::Info | Overlay::Follow, Action::Back) => self.overlay = Overlay::None,
            (Overlay::Follow, Action::Follow) | (Overlay::Info, Action::Info) => {
                self.overlay = Overlay::None
            }
            (Overlay::Detail(_), Action::Back) => {
                self.overlay = Overlay::None;
                self.open = None;
                self.find_hit = None;
            }
            (Overlay::Detail(_), Action::ToggleHex) => {
                self.hex = !self.hex;
                let at = if self.hex {
                    self.detail.offset / 16 * 16
                } else {
                    self.detail.offset
                };
                self.load_detail(at);
            }
            (Overlay::Detail(_), Action::Save) => self.ask_save(),
            (Overlay::Detail(_), Action::GoTo) => self.start_prompt(PromptKind::GoTo, ""),
            (Overlay::Detail(_), Action::Search) => self.start_prompt(PromptKind::Find, ""),
            (Overlay::Detail(_), Action::Home) => {
                self.entry_offset = 0;
                self.load_detail(0);
            }
            (Overlay::Detail(_), Action::End) => self.detail_end(),
            (Overlay::Detail(_), Action::FindNext) => self.find_in_file(true),
            (Overlay::Detail(_), Action::FindPrev) => self.find_in_file(false),
            (Overlay::Detail(_), Action::CopyHash) => {
                let hash = self.open.as_ref().and_then(|t| t.digests.sha256.clone());
                self.copy(hash, "sha256");
            }
            (Overlay::Detail(_), Action::CopyPath) => {
                let path = self.open.as_ref().and_then(|t| {
                    let r = &t.record;
                    r.full_path
                        .as_deref()
                        .or(r.path.as_deref())
                        .map(|p| String::from_utf8_lossy(p).into_owned())
                });
                self.copy(path, "path");
            }
            (Overlay::Detail(_), Action::CopyFilter) => {
                let filter = self.open.as_ref().and_then(|t| wireshark_filter(&t.record));
                self.copy(filter, "Wireshark filter");
            }
            (_, Action::Up | Action::ScrollUp) => self.step(-1),
            (_, Action::Down | Action::ScrollDown) => self.step(1),
            (_, Action::PageUp) => self.step(-self.page()),
            (_, Action::PageDown) => self.step(self.page()),
            (_, Action::Home) => self.step(isize::MIN / 2),
            (_, Action::End) => self.step(isize::MAX / 2),
            (Overlay::Detail(_) | Overlay::Info | Overlay::Follow, _) => {}
            (_, Action::Help) => {
                self.overlay = Overlay::Help;
                self.overlay_offset = 0;
            }
            (_, Action::Search) => {
                if self.tab == SESSIONS && self.pane == Pane::Dialogue {
                    self.start_prompt(PromptKind::Find, "");
                } else if self.tab == OVERVIEW {
                    self.message =
                        Some("the overview has no filter: Enter on a line opens its list".into());
                } else {
                    let text = self.filters[self.tab].text.clone();
                    self.start_prompt(PromptKind::Filter, &text);
                }
            }
            (_, Action::FindNext) => self.find_in_dialogue(true),
            (_, Action::FindPrev) => self.find_in_dialogue(false),
            (_, Action::CycleSort) if self.tab != OVERVIEW => {
                let keys = SORT_KEYS[self.tab].len().max(1);
                self.sort[self.tab].0 = (self.sort[self.tab].0 + 1) % keys;
                self.dirty[self.tab] = true;
            }
            (_, Action::ReverseSort) if self.tab != OVERVIEW => {
                self.sort[self.tab].1 = !self.sort[self.tab].1;
                self.dirty[self.tab] = true;
            }
            (_, Action::RevealPasswords) => self.reveal_passwords = !self.reveal_passwords,
            (_, Action::ToggleTime) => {
                self.local_time = !self.local_time;
                self.dirty[OVERVIEW] = true;
            }
            (_, Action::NextTab) => self.switch_tab((self.tab + 1) % TAB_NAMES.len()),
            (_, Action::PrevTab) => {
                self.switch_tab((self.tab + TAB_NAMES.len() - 1) % TAB_NAMES.len())
            }
            (_, Action::Tab(t)) => self.switch_tab(t.min(TAB_NAMES.len() - 1)),
            (_, Action::Enter) => self.enter(),
            (_, Action::Back) => {
                if self.tab == SESSIONS && self.pane == Pane::Dialogue {
                    self.pane = Pane::List;
                } else if !self.filters[self.tab].text.is_empty() {
                    self.filters[self.tab] = Query::default();
                    self.dirty[self.tab] = true;
                }
            }
            (_, Action::Info) if self.selected_session().is_some() && self.tab == SESSIONS => {
                self.overlay = Overlay::Info;
                self.overlay_offset = 0;
            }
            (_, Action::Follow) if self.selected_session().is_some() && self.tab == SESSIONS => {
                self.overlay = Overlay::Follow;
                self.overlay_offset = 0;
            }
            (_, Action::SaveAll) if self.tab == SESSIONS && self.selected_session().is_some() => {
                self.start_prompt(PromptKind::SaveAll, ".")
            }
            (_, Action::Export) if self.tab != OVERVIEW => {
                let name = format!("ftpscope-{}.jsonl", TAB_NAMES[self.tab].to_lowercase());
                self.start_prompt(PromptKind::Export, &name)
            }
            (_, Action::Click(y)) => self.click(y),
            (_, Action::Info | Action::Follow | Action::SaveAll) => {
                self.message = Some("select a session first (tab 2)".into())
            }
            (_, Action::Export | Action::CycleSort | Action::ReverseSort) => {
                self.message = Some("not on the overview: its lines open sorted lists".into())
            }
            (
                _,
                Action::ToggleHex
                | Action::Save
                | Action::GoTo
                | Action::CopyHash
                | Action::CopyPath
                | Action::CopyFilter,
            ) => self.message = Some("open a transfer first (Enter)".into()),
            (_, Action::Input(_) | Action::InputBackspace) => {}
        }
    }

    fn start_prompt(&mut self, kind: PromptKind, text: &str) {
        self.prompt = Some(Prompt {
            kind,
            text: text.to_owned(),
        });
    }

    /// Keys while a prompt takes text.
    fn prompt_action(&mut self, mut prompt: Prompt, action: Action) {
        match action {
            Action::Quit => self.quit = true,
            Action::Resize(w, h) => self.size = (w, h),
            Action::Input(c) => prompt.text.push(c),
            Action::InputBackspace => {
                prompt.text.pop();
            }
            Action::Back => {
                self.prompt = None;
                if prompt.kind == PromptKind::Filter {
                    self.filters[self.tab] = Query::default();
                    self.dirty[self.tab] = true;
                }
                return;
            }
            Action::Enter => {
                self.prompt = None;
                return self.submit(prompt);
            }
            _ => return,
        }
        if prompt.kind == PromptKind::Filter {
            // Filtered as typed.
            self.filters[self.tab] = Query::parse(&prompt.text);
            self.dirty[self.tab] = true;
        }
        self.prompt = Some(prompt);
    }

    fn submit(&mut self, prompt: Prompt) {
        let text = prompt.text.trim().to_owned();
        match prompt.kind {
            PromptKind::Filter => {
                self.filters[self.tab] = Query::parse(&prompt.text);
                self.dirty[self.tab] = true;
            }
            PromptKind::Find => {
                self.find = text.to_lowercase();
                self.find_hit = None;
                if matches!(self.overlay, Overlay::Detail(_)) {
                    self.find_in_file(true);
                } else {
                    self.find_in_dialogue(true);
                }
            }
            PromptKind::GoTo => {
                let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
                    Some(h) => u64::from_str_radix(h, 16).ok(),
                    None => text.parse::<u64>().ok(),
                };
                match parsed {
                    Some(at) => self.go_to(at),
                    None => {
                        self.message = Some(format!(
                            "not an offset: {} (decimal, or 0x hex)",
                            escape(text.as_bytes())
                        ))
                    }
                }
            }
            PromptKind::SaveFile => {
                let dir = expand_tilde(&text);
                self.message = Some(match self.save_job(dir) {
                    Some(job) => {
                        self.file_job = Some(job);
                        "saving...".into()
                    }
                    None => "could not save: no file".into(),
                });
            }
            PromptKind::SaveAll => self.save_all(expand_tilde(&text)),
            PromptKind::Export => self.export(expand_tilde(&text)),
        }
    }

    fn switch_tab(&mut self, tab: usize) {
        self.tab = tab;
        self.pane = Pane::List;
        self.refresh();
        self.scroll_into_view();
    }

    fn copy(&mut self, text: Option<String>, what: &str) {
        match text {
            Some(t) => {
                self.message = Some(format!(
                    "copied the {what} to the clipboard (OSC 52): {}",
                    escape(t.as_bytes())
                ));
                self.clipboard = Some(t);
            }
            None => self.message = Some(format!("no {what} to copy")),
        }
    }

    fn enter(&mut self) {
        match (self.tab, self.pane) {
            (OVERVIEW, _) => {
                let jump = self
                    .overview
                    .get(self.sel[OVERVIEW])
                    .and_then(|l| l.jump.clone());
                match jump {
                    Some(Jump::List(tab, filter)) => {
                        self.filters[tab] = Query::parse(&filter);
                        self.dirty[tab] = true;
                        self.sel[tab] = 0;
                        self.offset[tab] = 0;
                        self.switch_tab(tab);
                    }
                    Some(Jump::Transfer(id)) => {
                        if let Some(r) = self.store.transfers.iter().position(|t| t.transfer == id)
                        {
                            self.open_detail(r);
                        }
                    }
                    None => {}
                }
            }
            (SESSIONS, Pane::List) if self.selected_session().is_some() => {
                self.pane = Pane::Dialogue;
            }
            (SESSIONS, Pane::Dialogue) => {
                let items = self.dialogue();
                match items.get(self.dialogue_sel).copied() {
                    Some(DialogueItem::Transfer(t)) => self.open_detail(t),
                    Some(DialogueItem::Exchange(i)) => {
                        // A command that moved data opens its transfer; a multi-line reply
                        // unfolds, and folds again.
                        match self.transfer_of(&items, self.dialogue_sel, i) {
                            Some(t) => self.open_detail(t),
                            None => self.toggle_fold(i),
                        }
                    }
                    _ => {}
                }
            }
            (TRANSFERS, _) => {
                if let Some(r) = self.transfer_list.get(self.sel[TRANSFERS]).copied() {
                    self.open_detail(r);
                }
            }
            (ANOMALIES, _) => self.open_anomaly(),
            _ => {}
        }
    }

    /// The transfer a dialogue line's command made: the first transfer listed after it,
    /// before the next command that moves data.
    fn transfer_of(
        &self,
        items: &[DialogueItem],
        at: usize,
        exchange: usize,
    ) -> Option<TransferRef> {
        let verb = &self.loaded.exchanges.get(exchange)?.command.as_ref()?.verb;
        if !TRANSFER_VERBS.contains(&verb.to_ascii_uppercase().as_slice()) {
            return None;
        }
        for item in items.get(at + 1..)? {
            match item {
                DialogueItem::Transfer(t) => return Some(*t),
                DialogueItem::Exchange(i) => {
                    let moves = self
                        .loaded
                        .exchanges
                        .get(*i)
                        .and_then(|e| e.command.as_ref())
                        .is_some_and(|c| {
                            TRANSFER_VERBS.contains(&c.verb.to_ascii_uppercase().as_slice())
                        });
                    if moves {
                        return None;
                    }
                }
                DialogueItem::ReplyLine(..) => {}
            }
        }
        None
    }

    /// Enter on an anomaly: its session, else the transfer on its connection.
    fn open_anomaly(&mut self) {
        let Some(a) = self
            .anomaly_list
            .get(self.sel[ANOMALIES])
            .and_then(|&i| self.store.anomalies.get(i))
        else {
            return;
        };
        let (session, flow) = (a.session, a.flow);
        if let Some(&row) = session.and_then(|id| self.session_index.get(&id)) {
            self.show_session(row);
            return;
        }
        let on_flow = flow.and_then(|(x, y)| {
            self.transfer_extra.iter().position(|e| {
                e.data
                    .is_some_and(|(a, b)| (a, b) == (x, y) || (a, b) == (y, x))
            })
        });
        match on_flow {
            Some(t) => self.open_detail(t),
            None => self.message = Some("this anomaly names no listed session or transfer".into()),
        }
    }

    /// Shows the session at `row` (of `store.sessions`) on the Sessions tab, its filter
    /// cleared when it hides it.
    fn show_session(&mut self, row: usize) {
        self.switch_tab(SESSIONS);
        if !self.order.contains(&row) {
            self.filters[SESSIONS] = Query::default();
            self.dirty[SESSIONS] = true;
            self.refresh();
        }
        if let Some(pos) = self.order.iter().position(|&i| i == row) {
            self.sel[SESSIONS] = pos;
            self.dialogue_sel = 0;
            self.dialogue_offset = 0;
            self.scroll_into_view();
        }
    }

    fn toggle_fold(&mut self, exchange: usize) {
        let folds = self
            .loaded
            .exchanges
            .get(exchange)
            .and_then(folded_reply)
            .is_some();
        if folds && !self.loaded.unfolded.remove(&exchange) {
            self.loaded.unfolded.insert(exchange);
        }
    }

    fn click(&mut self, y: u16) {
        let l = self.layout();
        if y >= l.list_top && usize::from(y - l.list_top) < l.list_rows {
            let row = self.offset[self.tab] + usize::from(y - l.list_top);
            if row < self.list_len() {
                if self.tab == SESSIONS && self.sel[SESSIONS] != row {
                    self.dialogue_sel = 0;
                    self.dialogue_offset = 0;
                }
                self.sel[self.tab] = row;
                self.pane = Pane::List;
            }
        } else if self.tab == SESSIONS
            && y >= l.dialogue_top
            && usize::from(y - l.dialogue_top) < l.dialogue_rows
        {
            let row = self.dialogue_offset + usize::from(y - l.dialogue_top);
            if row < self.dialogue().len() {
                self.dialogue_sel = row;
                self.pane = Pane::Dialogue;
            }
        }
    }

    /// `n`/`N` in the dialogue: the next (previous) line holding the text, wrapping around.
    fn find_in_dialogue(&mut self, forward: bool) {
        if self.find.is_empty() {
            self.message = Some("nothing to find: / first".into());
            return;
        }
        if self.tab != SESSIONS {
            return;
        }
        let items = self.dialogue();
        let len = items.len();
        let texts: Vec<String> = items
            .iter()
            .map(|item| crate::tui::view::dialogue_text(self, item).to_lowercase())
            .collect();
        for k in 1..=len {
            let i = if forward {
                (self.dialogue_sel + k) % len
            } else {
                (self.dialogue_sel + len * 2 - k) % len
            };
            if texts.get(i).is_some_and(|t| t.contains(&self.find)) {
                self.pane = Pane::Dialogue;
                self.dialogue_sel = i;
                self.scroll_into_view();
                return;
            }
        }
        self.message = Some(format!(
            "'{}' is not in this dialogue",
            escape(self.find.as_bytes())
        ));
    }

    /// What `n`/`N` look for in a file: hex bytes in hex view (`de ad be ef`), else the text.
    fn find_bytes(&self) -> Vec<u8> {
        let compact: String = self.find.chars().filter(|c| !c.is_whitespace()).collect();
        if self.hex
            && compact.len() >= 2
            && compact.len().is_multiple_of(2)
            && compact.chars().all(|c| c.is_ascii_hexdigit())
        {
            return (0..compact.len() / 2)
                .filter_map(|i| u8::from_str_radix(compact.get(i * 2..i * 2 + 2)?, 16).ok())
                .collect();
        }
        self.find.as_bytes().to_vec()
    }

    /// `n`/`N` in the open file: the next (previous) place the text is, case-insensitive for
    /// text, read a chunk at a time (never the whole file at once).
    fn find_in_file(&mut self, forward: bool) {
        if self.find.is_empty() {
            self.message = Some("nothing to find: / first".into());
            return;
        }
        let listing = self.open.as_ref().and_then(|t| t.listing.as_ref());
        if let (false, Some(listing)) = (self.hex, listing) {
            let len = listing.entries.len();
            let hit = (1..=len)
                .map(|k| {
                    if forward {
                        (self.entry_offset + k) % len
                    } else {
                        (self.entry_offset + len * 2 - k) % len
                    }
                })
                .find(|&i| {
                    listing.entries.get(i).is_some_and(|e| {
                        String::from_utf8_lossy(&e.name)
                            .to_lowercase()
                            .contains(&self.find)
                    })
                });
            match hit {
                Some(i) => self.entry_offset = i,
                None => {
                    self.message = Some(format!(
                        "'{}' is not in this listing",
                        escape(self.find.as_bytes())
                    ))
                }
            }
            return;
        }
        let needle = self.find_bytes();
        let text = !self.hex || needle == self.find.as_bytes();
        let Some(path) = self.open.as_ref().and_then(|t| t.file.clone()) else {
            self.message = Some("no file to search".into());
            return;
        };
        let from = match self.find_hit {
            Some((at, _)) => at,
            None => self.detail.offset,
        };
        // Off the UI thread: a file may be gigabytes (`Msg::Found` brings the answer).
        self.message = Some(format!("searching for '{}'…", escape(self.find.as_bytes())));
        self.file_job = Some(FileJob::Find {
            transfer: self.open.as_ref().map_or(0, |t| t.record.transfer),
            path,
            needle,
            fold: text,
            from,
            forward,
            skip: self.find_hit.is_some(),
        });
    }

    /// The answer of a [`FileJob::Find`], if its file is still the one open.
    fn found(&mut self, found: Found) {
        let open = self.open.as_ref().map(|t| t.record.transfer);
        if !matches!(self.overlay, Overlay::Detail(_)) || open != Some(found.transfer) {
            return;
        }
        self.message = None;
        match found.at {
            Some(at) => {
                self.find_hit = Some((at, found.needle_len));
                self.go_to(at);
            }
            None => {
                self.message = Some(format!(
                    "'{}' not found {}",
                    escape(self.find.as_bytes()),
                    if found.forward { "below" } else { "above" }
                ))
            }
        }
    }

    /// Shows the open file from `at`: its 16-byte row in hex, its line in text.
    fn go_to(&mut self, at: u64) {
        let len = self.detail.file_len;
        let at = at.min(len.saturating_sub(1));
        let listing = self.open.as_ref().is_some_and(|t| t.listing.is_some());
        if listing && !self.hex {
            self.hex = true;
        }
        if self.hex {
            self.load_detail(at / 16 * 16);
        } else {
            let start = line_start(self, at);
            self.load_detail(start);
        }
    }

    /// `G`/End in a file: its last page.
    fn detail_end(&mut self) {
        let rows = self.detail_rows();
        let listing = self.open.as_ref().and_then(|t| t.listing.as_ref());
        if let (false, Some(listing)) = (self.hex, listing) {
            self.entry_offset = listing.entries.len().saturating_sub(rows);
            return;
        }
        let len = self.detail.file_len;
        if self.hex {
            let last_row = len.saturating_sub(1) / 16;
            self.load_detail(last_row.saturating_sub(rows as u64 - 1) * 16);
            return;
        }
        // Text: back from the end, `rows` line starts (a trailing newline ends the last line).
        let mut at = len;
        let body_end = if self.tail_ends_with_newline() {
            len.saturating_sub(1)
        } else {
            len
        };
        at = at.min(body_end);
        for _ in 0..rows {
            if at == 0 {
                break;
            }
            at = line_start(self, at.saturating_sub(1));
        }
        self.load_detail(at);
    }

    fn tail_ends_with_newline(&self) -> bool {
        let Some(path) = self.open.as_ref().and_then(|t| t.file.clone()) else {
            return false;
        };
        let mut b = [0u8; 1];
        std::fs::File::open(path)
            .and_then(|mut f| {
                f.seek(SeekFrom::End(-1))?;
                f.read_exact(&mut b)
            })
            .is_ok()
            && b[0] == b'\n'
    }

    fn open_detail(&mut self, r: TransferRef) {
        self.open = self.store.outcome(r);
        if self.open.is_none() {
            self.message = Some(match &self.store.spill_error {
                Some(e) => format!("cannot show the transfer: {}", escape(e.as_bytes())),
                None => "cannot show the transfer".into(),
            });
            return;
        }
        self.overlay = Overlay::Detail(r);
        self.entry_offset = 0;
        self.find_hit = None;
        self.hex = false;
        self.load_detail(0);
        // Binary content reads better as hex: more than one byte in ten is not text.
        let odd = self
            .detail
            .bytes
            .iter()
            .filter(|&&b| b < 0x09 || (b > 0x0d && b < 0x20) || b == 0x7f)
            .count();
        if odd * 10 > self.detail.bytes.len()
            && self.open.as_ref().is_some_and(|t| t.listing.is_none())
        {
            self.hex = true;
        }
    }

    /// Reads the window of the transfer's file that starts at `offset` (never the whole file).
    fn load_detail(&mut self, offset: u64) {
        let mut window = DetailWindow {
            offset,
            ..DetailWindow::default()
        };
        if let Some(path) = self.open.as_ref().and_then(|t| t.file.clone())
            && let Ok(mut f) = std::fs::File::open(&path)
        {
            window.file_len = f.metadata().map(|m| m.len()).unwrap_or(0);
            let mut buf = Vec::with_capacity(WINDOW);
            if f.seek(SeekFrom::Start(offset)).is_ok() {
                let _ = f.by_ref().take(WINDOW as u64).read_to_end(&mut buf);
            }
            window.bytes = buf;
        }
        self.detail = window;
    }

    /// Scrolls the open transfer by `lines`: 16-byte rows in hex, text lines otherwise, entries
    /// for a parsed listing.
    fn scroll_detail(&mut self, lines: isize) {
        let listing = self.open.as_ref().and_then(|t| t.listing.as_ref());
        if let (false, Some(listing)) = (self.hex, listing) {
            let len = listing.entries.len();
            self.entry_offset = (self.entry_offset as isize)
                .saturating_add(lines)
                .clamp(0, len.saturating_sub(1) as isize) as usize;
            return;
        }
        let mut offset = self.detail.offset;
        if self.hex {
            let target = offset as i128 + lines as i128 * 16;
            offset =
                target.clamp(0, self.detail.file_len.saturating_sub(1) as i128) as u64 / 16 * 16;
        } else if lines > 0 {
            let mut rest = &self.detail.bytes[..];
            for _ in 0..lines.min(WINDOW as isize) {
                match memchr::memchr(b'\n', rest) {
                    Some(i) if i + 1 < rest.len() => {
                        offset += (i + 1) as u64;
                        rest = &rest[i + 1..];
                    }
                    _ => break,
                }
            }
        } else {
            for _ in 0..lines.unsigned_abs().min(WINDOW) {
                if offset == 0 {
                    break;
                }
                offset = line_start(self, offset - 1);
            }
        }
        self.load_detail(offset);
    }

    fn ask_save(&mut self) {
        match self.open.as_ref() {
            Some(t) if t.file.is_some() => self.start_prompt(PromptKind::SaveFile, "."),
            Some(TransferOutcome {
                file_error: Some(e),
                ..
            }) => self.message = Some(format!("nothing to save: {}", escape(e.as_bytes()))),
            _ => {
                self.message = Some("nothing to save: no byte of this transfer was captured".into())
            }
        }
    }

    /// The copy of the open transfer's file into `dir`, named and sanitised as `-x` would.
    fn save_job(&self, dir: PathBuf) -> Option<FileJob> {
        let t = self.open.as_ref()?;
        let (_, name) = final_location(&t.record);
        Some(FileJob::Save {
            source: t.file.clone()?,
            dir,
            name,
        })
    }

    /// Every file of the selected session into `dir`.
    fn save_all(&mut self, dir: PathBuf) {
        let transfers = self
            .selected_session()
            .map(|s| s.transfers.clone())
            .unwrap_or_default();
        let mut files = Vec::new();
        for t in transfers {
            if let Some(o) = self.store.outcome(t)
                && let Some(file) = o.file.clone()
                && o.listing.is_none()
            {
                files.push((file, final_location(&o.record).1));
            }
        }
        if files.is_empty() {
            self.message = Some("this session has no file to save".into());
            return;
        }
        self.message = Some(format!("saving {} files...", files.len()));
        self.file_job = Some(FileJob::SaveAll { files, dir });
    }

    /// The current tab's rows, as filtered and sorted, as JSON Lines into `path`.
    fn export(&mut self, path: PathBuf) {
        let mut out = Vec::new();
        match self.tab {
            SESSIONS => {
                for &i in &self.order.clone() {
                    let context = crate::tui::view::session_context(&self.store.dialogue(i));
                    let Some(s) = self.store.sessions.get(i) else {
                        continue;
                    };
                    let summary = session_summary(s, self.session_tls.get(&i).map(|t| &**t));
                    write_session(
                        &mut out,
                        &summary,
                        Some(s.start.detected_by),
                        Some(&context),
                        false,
                    );
                    out.push(b'\n');
                }
            }
            TRANSFERS => {
                for &i in &self.transfer_list.clone() {
                    if let Some(o) = self.store.outcome(i) {
                        write_transfer(
                            &mut out,
                            &o,
                            &TransferFields::default(),
                            Escapes::TerminalSafe,
                        );
                        out.push(b'\n');
                    }
                }
            }
            ANOMALIES => {
                for &i in &self.anomaly_list {
                    if let Some(a) = self.store.anomalies.get(i) {
                        write_anomaly(&mut out, a);
                        out.push(b'\n');
                    }
                }
            }
            _ => return,
        }
        self.message = Some("exporting...".into());
        self.file_job = Some(FileJob::Export { lines: out, path });
    }
}

/// A session's summary as far as its row knows it (the password is not kept: null).
fn session_summary(s: &SessionRow, tls: Option<&TlsFacts>) -> ftpscope_core::SessionSummary {
    let e = s.end.as_ref();
    ftpscope_core::SessionSummary {
        session: s.start.session,
        client: s.start.client,
        server: s.start.server,
        start: s.start.ts,
        end: e.map_or(s.start.ts, |e| e.end),
        user: e.and_then(|e| e.user.as_deref().map(<[u8]>::to_vec)),
        password: None,
        anonymous: e.is_some_and(|e| e.anonymous),
        login: e.map_or(ftpscope_core::event::LoginState::None, |e| e.login),
        login_attempts: e.map_or(0, |e| e.login_attempts),
        tls: e.is_some_and(|e| e.tls),
        tls_info: tls.map(|t| Box::new(t.clone())),
        commands: e.map_or(s.exchanges as u64, |e| e.commands),
        transfers: s.transfers.len() as u64,
        end_reason: e.map_or(ftpscope_core::event::EndReason::CaptureEnd, |e| e.reason),
        frames: e.and_then(|e| e.frames),
    }
}

/// The offset where the text line holding `offset` starts (looking back at most 4 KiB).
fn line_start(app: &App, offset: u64) -> u64 {
    if offset == 0 {
        return 0;
    }
    let Some(path) = app.open.as_ref().and_then(|t| t.file.clone()) else {
        return 0;
    };
    let from = offset.saturating_sub(4096);
    let mut buf = Vec::new();
    if let Ok(mut f) = std::fs::File::open(path)
        && f.seek(SeekFrom::Start(from)).is_ok()
    {
        let _ = f.take(offset - from).read_to_end(&mut buf);
    }
    match memchr::memrchr(b'\n', &buf) {
        Some(i) => from + i as u64 + 1,
        None => from,
    }
}

/// The reply an exchange's line shows (its final one, else its last), when it has more than
/// one line: those are folded behind `[+]`.
pub fn folded_reply(e: &Exchange) -> Option<&ftpscope_core::Reply> {
    e.final_reply()
        .or(e.replies.last())
        .filter(|r| r.text.contains(&b'\n'))
}
