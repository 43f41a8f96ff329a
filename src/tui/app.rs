//! The TUI's state and its one mutation, [`App::update`]. Everything the user sees is derived
//! from this state by the pure functions in [`crate::tui::view`].

use crate::output::outdir::OutDir;
use crate::pipeline::{Record, RunSummary};
use crate::store::{SessionRow, Store, TransferRow};
use crate::text::escape;
use crate::transfers::{TransferOutcome, final_location};
use crate::tui::keymap::Action;
use ftpscope_core::Exchange;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;

/// What the analysis worker sends the UI.
#[derive(Debug)]
pub enum Msg {
    Records(Vec<Record>),
    /// Bytes of the capture read so far.
    Progress(u64),
    /// Live capture: the counters so far.
    Live(LiveStatus),
    Done(Box<RunSummary>),
    Failed(String),
    /// A [`FileJob::Save`] finished: the file written, or why not.
    Saved(Result<PathBuf, String>),
}

/// File work asked for by [`App::update`] and done off the UI thread (a file may be large):
/// the event loop takes it with [`App::take_file_job`] and sends the outcome back as a
/// [`Msg`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileJob {
    /// Copy `source` into the folder `dir` as `name` (or `stem (n).ext`), beneath a handle on
    /// `dir`, never over a file: [`Msg::Saved`].
    Save {
        source: PathBuf,
        dir: PathBuf,
        name: String,
    },
}

impl FileJob {
    /// Does the work (on whatever thread calls it) and says how it went.
    pub fn run(self) -> Msg {
        match self {
            FileJob::Save { source, dir, name } => {
                let copy = || -> std::io::Result<PathBuf> {
                    let (path, mut out) = OutDir::open_or_create(&dir)?.create_unique(&name)?;
                    std::io::copy(&mut std::fs::File::open(&source)?, &mut out)?;
                    Ok(path)
                };
                Msg::Saved(copy().map_err(|e| e.to_string()))
            }
        }
    }
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Sessions,
    Dialogue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Start,
    User,
    Bytes,
    Transfers,
}

impl SortKey {
    pub fn name(self) -> &'static str {
        match self {
            SortKey::Start => "start",
            SortKey::User => "user",
            SortKey::Bytes => "bytes",
            SortKey::Transfers => "transfers",
        }
    }
}

/// A transfer: an index into `store.transfers`.
pub type TransferRef = usize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    Filter,
    Detail(TransferRef),
    /// The save prompt: the transfer and the folder typed so far.
    Save(TransferRef, String),
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

pub const TAB_NAMES: [&str; 3] = ["Sessions", "Transfers", "Anomalies"];
/// The most bytes of a transfer the detail view reads at once.
const WINDOW: usize = 64 << 10;

pub struct App {
    pub store: Store,
    pub source: String,
    pub tab: usize,
    pub pane: Pane,
    /// Sessions shown, as indices into `store.sessions`, filtered and sorted.
    pub order: Vec<usize>,
    /// The selected session's dialogue.
    pub loaded: LoadedDialogue,
    /// The open transfer's whole outcome (Detail and Save overlays).
    pub open: Option<TransferOutcome>,
    /// All transfers shown in the Transfers tab, filtered.
    pub transfer_list: Vec<TransferRef>,
    /// Selected row and first visible row, per tab.
    pub sel: [usize; 3],
    pub offset: [usize; 3],
    pub dialogue_sel: usize,
    pub dialogue_offset: usize,
    pub sort: SortKey,
    pub filter: String,
    pub overlay: Overlay,
    pub hex: bool,
    pub detail: DetailWindow,
    /// First listing entry shown, for listings.
    pub entry_offset: usize,
    pub reveal_passwords: bool,
    pub bytes_read: u64,
    pub total_bytes: Option<u64>,
    /// Live capture: the latest counters (None when reading files).
    pub live: Option<LiveStatus>,
    pub summary: Option<RunSummary>,
    pub error: Option<String>,
    pub message: Option<String>,
    pub size: (u16, u16),
    pub quit: bool,
    dirty: bool,
    /// File work [`App::update`] asked for, not yet taken by the event loop.
    file_job: Option<FileJob>,
}

/// Rows of the screen each part gets, for a terminal `height` rows high: shared by the view
/// and by mouse handling, so a click lands where the row was drawn.
pub struct Layout {
    /// First row and height of the main list (sessions, transfers or anomalies): below its
    /// border and its header line.
    pub list_top: u16,
    pub list_rows: usize,
    /// First row and height of the dialogue pane (Sessions tab), inside its border.
    pub dialogue_top: u16,
    pub dialogue_rows: usize,
}

pub fn layout(tab: usize, height: u16) -> Layout {
    // Title bar (1), body, status bar (1). Borders take a row above and below each pane.
    let body = height.saturating_sub(2);
    if tab == 0 {
        let list = (body * 2 / 5).max(3);
        let dialogue = body.saturating_sub(list);
        Layout {
            list_top: 3,
            list_rows: usize::from(list.saturating_sub(3)),
            dialogue_top: 1 + list + 1,
            dialogue_rows: usize::from(dialogue.saturating_sub(2)),
        }
    } else {
        Layout {
            list_top: 3,
            list_rows: usize::from(body.saturating_sub(3)),
            dialogue_top: 0,
            dialogue_rows: 0,
        }
    }
}

impl App {
    pub fn new(source: String, total_bytes: Option<u64>, reveal_passwords: bool) -> Self {
        App {
            store: Store::default(),
            source,
            tab: 0,
            pane: Pane::Sessions,
            order: Vec::new(),
            loaded: LoadedDialogue::default(),
            open: None,
            transfer_list: Vec::new(),
            sel: [0; 3],
            offset: [0; 3],
            dialogue_sel: 0,
            dialogue_offset: 0,
            sort: SortKey::Start,
            filter: String::new(),
            overlay: Overlay::None,
            hex: false,
            detail: DetailWindow::default(),
            entry_offset: 0,
            reveal_passwords,
            bytes_read: 0,
            total_bytes,
            live: None,
            summary: None,
            error: None,
            message: None,
            size: (80, 24),
            quit: false,
            dirty: true,
            file_job: None,
        }
    }

    /// Folds what the worker sent into the model.
    pub fn apply(&mut self, msg: Msg) {
        match msg {
            Msg::Records(records) => {
                for r in &records {
                    self.store.apply(r);
                }
                self.dirty = true;
            }
            Msg::Progress(bytes) => self.bytes_read = bytes,
            Msg::Live(status) => self.live = Some(status),
            Msg::Done(summary) => {
                self.summary = Some(*summary);
                self.dirty = true;
            }
            Msg::Failed(e) => self.error = Some(e),
            Msg::Saved(result) => {
                self.message = Some(match result {
                    Ok(path) => format!("saved to {}", escape(path.to_string_lossy().as_bytes())),
                    Err(e) => format!("could not save: {}", escape(e.as_bytes())),
                });
            }
        }
    }

    /// The file work the last updates asked for, to be done off the UI thread.
    pub fn take_file_job(&mut self) -> Option<FileJob> {
        self.file_job.take()
    }

    /// Recomputes the filtered, sorted lists when something changed. Called once per frame,
    /// not per record, so a capture of 100 000 sessions stays responsive while it loads.
    pub fn refresh(&mut self) {
        if self.dirty {
            self.dirty = false;
            self.rebuild_lists();
        }
        self.sync_dialogue();
    }

    fn rebuild_lists(&mut self) {
        let needle = self.filter.to_lowercase();
        let sessions = &self.store.sessions;
        let matches = |s: &SessionRow| needle.is_empty() || s.search.contains(&needle);
        let mut order: Vec<usize> = (0..sessions.len())
            .filter(|&i| sessions.get(i).is_some_and(matches))
            .collect();
        let row = |i: usize| sessions.get(i);
        match self.sort {
            SortKey::Start => {}
            SortKey::User => {
                order.sort_by_cached_key(|&i| row(i).and_then(|s| s.end.as_ref()?.user.clone()))
            }
            SortKey::Bytes => {
                order.sort_by_key(|&i| std::cmp::Reverse(row(i).map_or(0, |s| s.bytes)))
            }
            SortKey::Transfers => {
                order.sort_by_key(|&i| std::cmp::Reverse(row(i).map_or(0, |s| s.transfers.len())))
            }
        }
        // A matching session lists all its transfers (their paths are part of its search text);
        // orphans are matched on their own text.
        let mut list: Vec<TransferRef> = Vec::new();
        for s in sessions.iter().filter(|s| matches(s)) {
            list.extend(&s.transfers);
        }
        for (i, t) in self.store.transfers.iter().enumerate() {
            if let Some(text) = &t.search
                && (needle.is_empty() || text.contains(&needle))
            {
                list.push(i);
            }
        }
        let transfers = &self.store.transfers;
        list.sort_by_key(|&i| transfers.get(i).map(|t| t.start));
        self.order = order;
        self.transfer_list = list;
        let lens = [
            self.order.len(),
            self.transfer_list.len(),
            self.store.anomalies.len(),
        ];
        for (tab, len) in lens.iter().enumerate() {
            self.sel[tab] = self.sel[tab].min(len.saturating_sub(1));
        }
        self.scroll_into_view();
    }

    /// Reads the selected session's dialogue from the store when the selection moved or the
    /// session gained exchanges (a file still being read, live capture).
    fn sync_dialogue(&mut self) {
        let want = self
            .order
            .get(self.sel[0])
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

    pub fn selected_session(&self) -> Option<&SessionRow> {
        let i = *self.order.get(self.sel[0])?;
        self.store.sessions.get(i)
    }

    pub fn transfer(&self, r: TransferRef) -> Option<&TransferRow> {
        self.store.transfers.get(r)
    }

    /// The selected session's dialogue with its transfers placed in time.
    pub fn dialogue(&self) -> Vec<DialogueItem> {
        let Some(s) = self.selected_session() else {
            return Vec::new();
        };
        let mut items: Vec<(i64, usize, DialogueItem)> = Vec::new();
        for (i, e) in self.loaded.exchanges.iter().enumerate() {
            items.push((e.ts().unwrap_or(0), 0, DialogueItem::Exchange(i)));
        }
        for &t in &s.transfers {
            // After the command that caused it: the end of the transfer is its final reply.
            let end = self.transfer(t).map_or(0, |t| t.end);
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

    fn list_len(&self) -> usize {
        match self.tab {
            0 => self.order.len(),
            1 => self.transfer_list.len(),
            _ => self.store.anomalies.len(),
        }
    }

    fn scroll_into_view(&mut self) {
        let l = layout(self.tab, self.size.1);
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
        if let Overlay::Detail(_) = self.overlay {
            self.scroll_detail(delta);
            return;
        }
        let move_by = |value: usize, len: usize| -> usize {
            let v = value as isize + delta;
            v.clamp(0, len.saturating_sub(1) as isize) as usize
        };
        if self.tab == 0 && self.pane == Pane::Dialogue {
            let len = self.dialogue().len();
            self.dialogue_sel = move_by(self.dialogue_sel, len);
        } else {
            let len = self.list_len();
            let before = self.sel[self.tab];
            self.sel[self.tab] = move_by(before, len);
            if self.tab == 0 && self.sel[0] != before {
                self.dialogue_sel = 0;
                self.dialogue_offset = 0;
            }
        }
        self.scroll_into_view();
    }

    fn page(&self) -> isize {
        let l = layout(self.tab, self.size.1);
        let rows = if self.tab == 0 && self.pane == Pane::Dialogue {
            l.dialogue_rows
        } else {
            l.list_rows
        };
        rows.max(1) as isize
    }

    /// The only mutation of the UI state.
    pub fn update(&mut self, action: Action) {
        self.apply_action(action);
        self.sync_dialogue();
    }

    fn apply_action(&mut self, action: Action) {
        self.message = None;
        match (&self.overlay, action) {
            (_, Action::Quit) => self.quit = true,
            (_, Action::Resize(w, h)) => {
                self.size = (w, h);
                self.scroll_into_view();
            }
            (Overlay::Help, _) => self.overlay = Overlay::None,
            (Overlay::Filter, Action::Input(c)) => {
                self.filter.push(c);
                self.dirty = true;
                self.refresh();
            }
            (Overlay::Filter, Action::InputBackspace) => {
                self.filter.pop();
                self.dirty = true;
                self.refresh();
            }
            (Overlay::Filter, Action::Enter) => self.overlay = Overlay::None,
            (Overlay::Filter, Action::Back) => {
                self.filter.clear();
                self.dirty = true;
                self.overlay = Overlay::None;
                self.refresh();
            }
            (Overlay::Filter, _) => {}
            (Overlay::Save(r, dir), Action::Input(c)) => {
                let mut dir = dir.clone();
                dir.push(c);
                self.overlay = Overlay::Save(*r, dir);
            }
            (Overlay::Save(r, dir), Action::InputBackspace) => {
                let mut dir = dir.clone();
                dir.pop();
                self.overlay = Overlay::Save(*r, dir);
            }
            (Overlay::Save(r, dir), Action::Enter) => {
                let (r, dir) = (*r, PathBuf::from(dir));
                self.message = Some(match self.save_job(dir) {
                    Some(job) => {
                        self.file_job = Some(job);
                        "saving...".into()
                    }
                    None => "could not save: no file".into(),
                });
                self.overlay = Overlay::Detail(r);
            }
            (Overlay::Save(r, _), Action::Back) => self.overlay = Overlay::Detail(*r),
            (Overlay::Save(..), _) => {}
            (Overlay::Detail(_), Action::Back) => {
                self.overlay = Overlay::None;
                self.open = None;
            }
            (Overlay::Detail(_), Action::ToggleHex) => {
                self.hex = !self.hex;
                self.load_detail(0);
            }
            (Overlay::Detail(r), Action::Save) => {
                let r = *r;
                match self.open.as_ref() {
                    Some(t) if t.file.is_some() => self.overlay = Overlay::Save(r, ".".into()),
                    Some(TransferOutcome {
                        file_error: Some(e),
                        ..
                    }) => self.message = Some(format!("nothing to save: {}", escape(e.as_bytes()))),
                    _ => {
                        self.message =
                            Some("nothing to save: no byte of this transfer was captured".into())
                    }
                }
            }
            (Overlay::Detail(_), Action::Home) => {
                self.entry_offset = 0;
                self.load_detail(0);
            }
            (_, Action::Up | Action::ScrollUp) => self.step(-1),
            (_, Action::Down | Action::ScrollDown) => self.step(1),
            (_, Action::PageUp) => self.step(-self.page()),
            (_, Action::PageDown) => self.step(self.page()),
            (Overlay::Detail(_), _) => {}
            (_, Action::Home) => self.step(-(isize::MAX / 2)),
            (_, Action::End) => self.step(isize::MAX / 2),
            (_, Action::Help) => self.overlay = Overlay::Help,
            (_, Action::StartFilter) => self.overlay = Overlay::Filter,
            (_, Action::CycleSort) => {
                self.sort = match self.sort {
                    SortKey::Start => SortKey::User,
                    SortKey::User => SortKey::Bytes,
                    SortKey::Bytes => SortKey::Transfers,
                    SortKey::Transfers => SortKey::Start,
                };
                self.dirty = true;
                self.refresh();
            }
            (_, Action::RevealPasswords) => self.reveal_passwords = !self.reveal_passwords,
            (_, Action::NextTab) => self.tab = (self.tab + 1) % 3,
            (_, Action::Tab(t)) => {
                self.tab = t.min(2);
                self.pane = Pane::Sessions;
                self.scroll_into_view();
            }
            (_, Action::NextPane) => {
                if self.tab == 0 {
                    self.pane = if self.pane == Pane::Sessions {
                        Pane::Dialogue
                    } else {
                        Pane::Sessions
                    };
                } else {
                    self.tab = (self.tab + 1) % 3;
                }
            }
            (_, Action::Enter) => self.enter(),
            (_, Action::Back) => {
                if self.pane == Pane::Dialogue {
                    self.pane = Pane::Sessions;
                } else if !self.filter.is_empty() {
                    self.filter.clear();
                    self.dirty = true;
                    self.refresh();
                }
            }
            (_, Action::Click(y)) => self.click(y),
            (_, Action::ToggleHex | Action::Save | Action::Input(_) | Action::InputBackspace) => {}
        }
    }

    fn enter(&mut self) {
        match (self.tab, self.pane) {
            (0, Pane::Sessions) if self.selected_session().is_some() => {
                self.pane = Pane::Dialogue;
            }
            (0, Pane::Dialogue) => {
                match self.dialogue().get(self.dialogue_sel).copied() {
                    Some(DialogueItem::Transfer(t)) => self.open_detail(t),
                    // A multi-line reply unfolds, and folds again.
                    Some(DialogueItem::Exchange(i)) => self.toggle_fold(i),
                    _ => {}
                }
            }
            (1, _) => {
                if let Some(r) = self.transfer_list.get(self.sel[1]).copied() {
                    self.open_detail(r);
                }
            }
            _ => {}
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
        let l = layout(self.tab, self.size.1);
        if y >= l.list_top && usize::from(y - l.list_top) < l.list_rows {
            let row = self.offset[self.tab] + usize::from(y - l.list_top);
            if row < self.list_len() {
                if self.tab == 0 && self.sel[0] != row {
                    self.dialogue_sel = 0;
                    self.dialogue_offset = 0;
                }
                self.sel[self.tab] = row;
                self.pane = Pane::Sessions;
            }
        } else if self.tab == 0
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
            self.entry_offset = (self.entry_offset as isize + lines)
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
            for _ in 0..lines {
                match memchr::memchr(b'\n', rest) {
                    Some(i) if i + 1 < rest.len() => {
                        offset += (i + 1) as u64;
                        rest = &rest[i + 1..];
                    }
                    _ => break,
                }
            }
        } else {
            for _ in 0..lines.unsigned_abs() {
                offset = previous_line_start(self, offset);
            }
        }
        self.load_detail(offset);
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
}

/// The offset where the text line before the one at `offset` starts.
fn previous_line_start(app: &App, offset: u64) -> u64 {
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
    // Skip the LF that ends the previous line, then find the one before it.
    let body = buf.strip_suffix(b"\n").unwrap_or(&buf);
    match memchr::memrchr(b'\n', body) {
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
