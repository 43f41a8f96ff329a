//! Pure view functions: the screen is a function of [`App`], nothing here changes it.
//! Everything from the wire goes through [`escape`] before it reaches the terminal.

use crate::output::context::{SessionContext, server_software};
use crate::store::TransferRow;
use crate::text::{escape, hex, human_bytes, rfc3339};
use crate::tui::actions::wireshark_filter;
use crate::tui::app::{
    ANOMALIES, App, DialogueItem, OVERVIEW, Overlay, Pane, PromptKind, SESSIONS, SORT_KEYS,
    TAB_NAMES, TRANSFERS, folded_reply,
};
use crate::tui::keymap::KEYMAP;
use ftpscope_core::event::{Direction, TlsFacts};
use ftpscope_core::{AnnouncedBy, EndReason, Exchange, TimeSpan, Timestamp, TransferStatus};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

const SELECTED: Style = Style::new().add_modifier(Modifier::REVERSED);
const DIM: Style = Style::new().fg(Color::DarkGray);
const HEADER: Style = Style::new().add_modifier(Modifier::BOLD);
const FOUND: Style = Style::new().fg(Color::Black).bg(Color::Yellow);
const LOCK: &str = "🔒";

fn reply_style(code: u16) -> Style {
    match code / 100 {
        1 => Style::new().fg(Color::Cyan),
        2 => Style::new().fg(Color::Green),
        3 => Style::new().fg(Color::Yellow),
        4 => Style::new().fg(Color::Magenta),
        _ => Style::new().fg(Color::Red),
    }
}

fn status_style(status: TransferStatus) -> Style {
    match status {
        TransferStatus::Complete => Style::new().fg(Color::Green),
        TransferStatus::Truncated => Style::new().fg(Color::Yellow),
        TransferStatus::Aborted => Style::new().fg(Color::Magenta),
        TransferStatus::Failed => Style::new().fg(Color::Red),
        TransferStatus::Encrypted => Style::new().fg(Color::Cyan),
    }
}

/// Seconds east of UTC of the local time zone at `ts` (0 in UTC mode).
fn zone_offset(app: &App, ts: Timestamp) -> i64 {
    if !app.local_time {
        return 0;
    }
    let secs = ts.as_nanos().div_euclid(1_000_000_000) as libc::time_t;
    // SAFETY: an all-zero `tm` is a valid value (integers and a null pointer).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: localtime_r reads `secs` and writes only into `tm`, both valid for the call.
    let ok = unsafe { !libc::localtime_r(&secs, &mut tm).is_null() };
    if ok { tm.tm_gmtoff as i64 } else { 0 }
}

/// `2025-11-25T10:15:44.752123Z` in the zone shown (the `Z` dropped for local time).
fn shifted(app: &App, ts: Timestamp) -> String {
    let s = rfc3339(ts + TimeSpan::from_secs(zone_offset(app, ts)));
    if app.local_time {
        s.trim_end_matches('Z').to_owned()
    } else {
        s
    }
}

/// Whether the capture spans more than one day (in the zone shown): times then show dates.
fn spans_days(app: &App) -> bool {
    match (app.stats.first, app.stats.last) {
        (Some(f), Some(l)) => shifted(app, f).get(..10) != shifted(app, l).get(..10),
        _ => false,
    }
}

/// A full time for headings: `2025-11-25 10:15:44.752 UTC` (or `local`).
pub fn stamp(app: &App, ts: Timestamp, _full: bool) -> String {
    let s = shifted(app, ts);
    format!(
        "{} {} {}",
        s.get(..10).unwrap_or(""),
        s.get(11..23).unwrap_or(""),
        if app.local_time { "local" } else { "UTC" }
    )
}

/// A time for list rows: `10:15:44.752`, or `11-25 10:15:44` when the capture spans days.
fn clock(app: &App, ts: Timestamp) -> String {
    cut_clock(app, ts, 19, 23)
}

/// A short list time: `10:15:44` or `11-25 10:15`.
fn short_clock(app: &App, ts: Timestamp) -> String {
    cut_clock(app, ts, 16, 19)
}

/// The RFC 3339 time cut at `days_end` after the month and day when the capture spans days,
/// else at `day_end` without them.
fn cut_clock(app: &App, ts: Timestamp, days_end: usize, day_end: usize) -> String {
    let s = shifted(app, ts);
    if spans_days(app) {
        format!(
            "{} {}",
            s.get(5..10).unwrap_or(""),
            s.get(11..days_end).unwrap_or("")
        )
    } else {
        s.get(11..day_end).unwrap_or("").to_owned()
    }
}

/// Draws the whole screen.
pub fn draw(f: &mut Frame, app: &App) {
    let area = f.area();
    if area.height < 6 || area.width < 20 {
        f.render_widget(Paragraph::new("ftpscope: terminal too small"), area);
        return;
    }
    draw_title(f, app, Rect { height: 1, ..area });
    let body = Rect {
        y: 1,
        height: area.height - 2,
        ..area
    };
    match app.tab {
        OVERVIEW => draw_overview(f, app, body),
        SESSIONS => draw_sessions_tab(f, app, body),
        TRANSFERS => draw_transfers_tab(f, app, body),
        _ => draw_anomalies_tab(f, app, body),
    }
    draw_status(
        f,
        app,
        Rect {
            y: area.height - 1,
            height: 1,
            ..area
        },
    );
    match &app.overlay {
        Overlay::Detail(_) => draw_detail(f, app, body),
        Overlay::Help => draw_help(f, app, body),
        Overlay::Info => {
            draw_text_overlay(f, app, body, " Session facts (Esc back) ", info_lines(app))
        }
        Overlay::Follow => draw_text_overlay(
            f,
            app,
            body,
            " Follow control stream: → client, ← server (Esc back) ",
            follow_lines(app),
        ),
        Overlay::None => {}
    }
}

fn draw_title(f: &mut Frame, app: &App, area: Rect) {
    // The tabs and `?help q quit` always; the source when it fits; short names when the
    // full ones do not.
    let source = escape(app.source.as_bytes());
    let tabs: usize = TAB_NAMES.iter().map(|n| n.chars().count() + 4).sum();
    let fixed = 10 + tabs + 13;
    let narrow = fixed > usize::from(area.width);
    let mut spans = vec![Span::styled(" ftpscope ", HEADER)];
    if fixed + source.chars().count() < usize::from(area.width) {
        spans.push(Span::raw(source));
        spans.push(Span::raw(" "));
    }
    for (i, name) in TAB_NAMES.iter().enumerate() {
        let style = if i == app.tab { SELECTED } else { Style::new() };
        let name = if narrow {
            name.get(..4).unwrap_or(name)
        } else {
            name
        };
        spans.push(Span::styled(format!(" {} {name} ", i + 1), style));
    }
    spans.push(Span::styled(" ?help q quit", DIM));
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn block(title: String, focused: bool) -> Block<'static> {
    let style = if focused {
        Style::new().fg(Color::Cyan)
    } else {
        DIM
    };
    Block::new()
        .borders(Borders::ALL)
        .border_style(style)
        .title(title)
}

/// What a list's title says of its filter and sort.
fn list_title(app: &App, tab: usize, name: &str, shown: usize, total: String) -> String {
    let (key, desc) = app.sort[tab];
    let sort = SORT_KEYS[tab].get(key).copied().unwrap_or("");
    let arrow = if desc { "↓" } else { "↑" };
    let q = &app.filters[tab];
    let filter = match (&q.error, q.text.is_empty()) {
        (Some(e), _) => format!(" · not a query: {}", escape(e.as_bytes())),
        (None, true) => String::new(),
        (None, false) => format!(" · filter: {}", escape(q.text.as_bytes())),
    };
    format!(" {name} {shown}/{total} · sort {sort} {arrow}{filter} ")
}

/// The line shown in an empty list: why it is empty.
fn empty_line(app: &App, tab: usize, what: &str) -> Line<'static> {
    let q = &app.filters[tab];
    let text = match (&q.error, q.text.is_empty()) {
        (Some(e), _) => format!("not a query: {}", escape(e.as_bytes())),
        (None, false) => format!("no {what} matches '{}'", escape(q.text.as_bytes())),
        (None, true) if app.summary.is_some() => format!("no {what} in this capture"),
        (None, true) => "reading…".into(),
    };
    Line::styled(text, DIM)
}

fn draw_overview(f: &mut Frame, app: &App, body: Rect) {
    let l = app.layout();
    let mut lines = Vec::new();
    for (row, line) in app
        .overview
        .iter()
        .enumerate()
        .skip(app.offset[OVERVIEW])
        .take(l.list_rows)
    {
        let style = if row == app.sel[OVERVIEW] {
            SELECTED
        } else if line.heading {
            HEADER
        } else if line.text.starts_with("DAMAGED")
            || line.text.starts_with("  ") && line.text.contains("failed logins")
        {
            Style::new().fg(Color::Red)
        } else {
            Style::new()
        };
        lines.push(Line::styled(line.text.clone(), style));
    }
    let title = " Overview · Enter opens the matching list ".to_string();
    f.render_widget(Paragraph::new(lines).block(block(title, true)), body);
}

/// Session rows' columns, sized to what the visible rows hold.
struct SessionColumns {
    client: usize,
    server: usize,
    user: usize,
}

fn draw_sessions_tab(f: &mut Frame, app: &App, body: Rect) {
    let l = app.layout();
    let list_height = (l.list_rows + 3) as u16;
    let list_area = Rect {
        height: list_height.min(body.height),
        ..body
    };
    let unlisted = match app.store.sessions_dropped {
        0 => String::new(),
        n => format!(" · {n} more not listed"),
    };
    let title = list_title(
        app,
        SESSIONS,
        "Sessions",
        app.order.len(),
        format!("{}{unlisted}", app.store.sessions.len()),
    );
    let visible: Vec<usize> = app
        .order
        .iter()
        .skip(app.offset[SESSIONS])
        .take(l.list_rows)
        .copied()
        .collect();
    let rows = || visible.iter().filter_map(|&i| app.store.sessions.get(i));
    let cols = SessionColumns {
        client: rows()
            .map(|s| s.start.client.to_string().len())
            .max()
            .unwrap_or(6)
            .max(6),
        server: rows()
            .map(|s| s.start.server.to_string().len())
            .max()
            .unwrap_or(6)
            .max(6),
        user: rows()
            .map(|s| {
                s.end
                    .as_ref()
                    .and_then(|e| e.user.as_deref())
                    .map_or(1, |u| escape(u).chars().count())
            })
            .max()
            .unwrap_or(4)
            .clamp(4, 16),
    };
    let mut lines = vec![Line::styled(
        format!(
            "{:>4} {:<cw$} → {:<sw$}    {:<uw$} {:<6} {:>4} {:>9} {:<8} {:>6} {:<7} {:>4}",
            "#",
            "client",
            "server",
            "user",
            "login",
            "xfer",
            "bytes",
            "start",
            "time",
            "end",
            "cmds",
            cw = cols.client,
            sw = cols.server,
            uw = cols.user,
        ),
        HEADER,
    )];
    if app.order.is_empty() {
        lines.push(empty_line(app, SESSIONS, "session"));
    }
    for (row, &i) in app
        .order
        .iter()
        .enumerate()
        .skip(app.offset[SESSIONS])
        .take(l.list_rows)
    {
        let Some(s) = app.store.sessions.get(i) else {
            continue;
        };
        let (user, login, cmds, time, end, tls) = match &s.end {
            Some(e) => (
                e.user.as_deref().map(escape).unwrap_or_else(|| "-".into()),
                e.login.as_str(),
                e.commands.to_string(),
                short_duration(e.end - s.start.ts),
                match e.reason {
                    // Short enough for the column.
                    EndReason::CaptureEnd => "cap.end",
                    other => other.as_str(),
                },
                e.tls,
            ),
            None => (
                "…".into(),
                "…",
                s.exchanges.to_string(),
                "…".into(),
                "open",
                false,
            ),
        };
        let user: String = user.chars().take(cols.user).collect();
        let text = format!(
            "{:>4} {:<cw$} → {:<sw$} {} {:<uw$} {:<6} {:>4} {:>9} {:<8} {:>6} {:<7} {:>4}",
            s.start.session,
            s.start.client.to_string(),
            s.start.server.to_string(),
            if tls { LOCK } else { "  " },
            user,
            login,
            s.transfers.len(),
            human_bytes(s.bytes),
            short_clock(app, s.start.ts),
            time,
            end,
            cmds,
            cw = cols.client,
            sw = cols.server,
            uw = cols.user,
        );
        let style = if row == app.sel[SESSIONS] {
            if app.pane == Pane::List {
                SELECTED
            } else {
                Style::new().add_modifier(Modifier::BOLD)
            }
        } else if s
            .end
            .as_ref()
            .is_some_and(|e| e.login == ftpscope_core::event::LoginState::Failed)
        {
            Style::new().fg(Color::Red)
        } else {
            Style::new()
        };
        lines.push(Line::styled(text, style));
    }
    f.render_widget(
        Paragraph::new(lines).block(block(title, app.pane == Pane::List)),
        list_area,
    );

    let dialogue_area = Rect {
        y: body.y + list_area.height,
        height: body.height.saturating_sub(list_area.height),
        ..body
    };
    let Some(s) = app.selected_session() else {
        f.render_widget(
            Paragraph::new(Line::styled("select a session to see its dialogue", DIM))
                .block(block(" Dialogue ".into(), false)),
            dialogue_area,
        );
        return;
    };
    let tls = s.end.as_ref().is_some_and(|e| e.tls);
    let find = if app.find.is_empty() {
        String::new()
    } else {
        format!(" · find '{}' (n N)", escape(app.find.as_bytes()))
    };
    let title = format!(
        " Session {}: {} → {}{} · i facts · f follow{find} ",
        s.start.session,
        s.start.client,
        s.start.server,
        if tls {
            format!(" {LOCK}")
        } else {
            String::new()
        },
    );
    let mut lines = Vec::new();
    let items = app.dialogue();
    for (row, item) in items
        .iter()
        .enumerate()
        .skip(app.dialogue_offset)
        .take(l.dialogue_rows)
    {
        let mut line = dialogue_line(app, item);
        if !app.find.is_empty() {
            line = highlight(line, &app.find);
        }
        if row == app.dialogue_sel && app.pane == Pane::Dialogue {
            line = line.patch_style(SELECTED);
        }
        lines.push(line);
    }
    if s.exchanges_dropped > 0 && app.dialogue_offset + l.dialogue_rows >= items.len() {
        lines.push(Line::styled(
            format!("… {} more commands not kept", s.exchanges_dropped),
            DIM,
        ));
    }
    f.render_widget(
        Paragraph::new(lines).block(block(title, app.pane == Pane::Dialogue)),
        dialogue_area,
    );
}

fn anonymous(app: &App) -> bool {
    app.selected_session()
        .and_then(|s| s.end.as_ref())
        .is_some_and(|e| e.anonymous)
}

fn dialogue_line(app: &App, item: &DialogueItem) -> Line<'static> {
    match item {
        DialogueItem::Exchange(i) => app.loaded.exchanges.get(*i).map(|e| {
            let unfolded = app.loaded.unfolded.contains(i);
            exchange_line(app, e, app.reveal_passwords || anonymous(app), unfolded)
        }),
        DialogueItem::ReplyLine(e, n) => app
            .loaded
            .exchanges
            .get(*e)
            .and_then(folded_reply)
            .and_then(|r| r.text.split(|&b| b == b'\n').nth(*n))
            .map(|line| {
                Line::from(vec![
                    Span::raw("              │ "),
                    Span::styled(escape(line), DIM),
                ])
            }),
        DialogueItem::Transfer(t) => app
            .transfer(*t)
            .map(|r| transfer_inline(r, app.transfer_extra.get(*t).is_some_and(|x| x.tls))),
    }
    .unwrap_or_default()
}

/// The plain text of a dialogue line (what `n` finds).
pub fn dialogue_text(app: &App, item: &DialogueItem) -> String {
    dialogue_line(app, item)
        .spans
        .iter()
        .map(|s| s.content.as_ref())
        .collect()
}

/// `line` with every case-insensitive occurrence of `needle` marked.
fn highlight(line: Line<'static>, needle: &str) -> Line<'static> {
    let needle = needle.to_ascii_lowercase();
    if needle.is_empty() {
        return line;
    }
    let mut spans = Vec::new();
    for span in line.spans {
        let text = span.content.to_string();
        let lower = text.to_ascii_lowercase();
        let mut at = 0;
        for (i, _) in lower.match_indices(needle.as_str()) {
            if i < at {
                continue;
            }
            if i > at {
                spans.push(Span::styled(text[at..i].to_owned(), span.style));
            }
            spans.push(Span::styled(
                text[i..i + needle.len()].to_owned(),
                span.style.patch(FOUND),
            ));
            at = i + needle.len();
        }
        if at < text.len() {
            spans.push(Span::styled(text[at..].to_owned(), span.style));
        }
    }
    Line::from(spans)
}

/// A duration in at most six characters: `0.3s`, `59.9s`, `14m`, `26h`, `3d`.
fn short_duration(span: TimeSpan) -> String {
    let secs = span.clamp_negative().as_secs_f64();
    if secs < 100.0 {
        format!("{secs:.1}s")
    } else if secs < 6000.0 {
        format!("{:.0}m", secs / 60.0)
    } else if secs < 360_000.0 {
        format!("{:.0}h", secs / 3600.0)
    } else {
        format!("{:.0}d", secs / 86_400.0)
    }
}

/// A duration for people: `0.3 s`, `4 min 12 s`, `2 h 5 min`, `3 d 4 h`.
pub fn long_duration(span: TimeSpan) -> String {
    let span = span.clamp_negative();
    let secs = span.as_secs();
    match secs {
        0..60 => format!("{:.1} s", span.as_secs_f64()),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        3600..86_400 => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
        _ => format!("{} d {} h", secs / 86_400, secs % 86_400 / 3600),
    }
}

fn exchange_line(app: &App, e: &Exchange, show_secret: bool, unfolded: bool) -> Line<'static> {
    let ts = e.ts().unwrap_or(Timestamp::EPOCH);
    let mut spans = vec![Span::styled(format!("{}  ", clock(app, ts)), DIM)];
    if let Some(c) = &e.command {
        let arg = if c.secret && !show_secret {
            "********".to_owned()
        } else {
            escape(&c.arg)
        };
        let arg: String = arg.chars().take(120).collect();
        spans.push(Span::styled(escape(&c.verb), HEADER));
        if !arg.is_empty() {
            spans.push(Span::raw(format!(" {arg}")));
        }
        spans.push(Span::raw(" → "));
    }
    match e.final_reply().or(e.replies.last()) {
        Some(r) => {
            let first = r.text.split(|&b| b == b'\n').next().unwrap_or(&[]);
            let more = match (folded_reply(e).is_some(), unfolded) {
                (false, _) => "",
                (true, false) => " [+]",
                (true, true) => " [-]",
            };
            spans.push(Span::styled(
                format!("{} {}{more}", r.code, escape(first)),
                reply_style(r.code),
            ));
            if let Some(c) = &e.command {
                let ms = (r.ts - c.ts).as_nanos() as f64 / 1e6;
                spans.push(Span::styled(format!("  {ms:.1} ms"), DIM));
            }
        }
        None => spans.push(Span::styled("(no reply)", DIM)),
    }
    Line::from(spans)
}

fn transfer_inline(r: &TransferRow, tls: bool) -> Line<'static> {
    let what = r.path.as_deref().map(escape).unwrap_or_else(|| "-".into());
    Line::from(vec![
        Span::raw("              ⇄ "),
        Span::styled(
            format!(
                "#{} {}",
                r.transfer,
                r.command
                    .as_deref()
                    .map(escape)
                    .unwrap_or_else(|| "data".into())
            ),
            HEADER,
        ),
        Span::raw(format!(
            " {what}  {}{} ",
            human_bytes(r.bytes),
            if tls {
                format!(" {LOCK}")
            } else {
                String::new()
            }
        )),
        Span::styled(r.status.as_str().to_uppercase(), status_style(r.status)),
        Span::styled("  Enter: open", DIM),
    ])
}

fn draw_transfers_tab(f: &mut Frame, app: &App, body: Rect) {
    let l = app.layout();
    let visible: Vec<usize> = app
        .transfer_list
        .iter()
        .skip(app.offset[TRANSFERS])
        .take(l.list_rows)
        .copied()
        .collect();
    let path_width = visible
        .iter()
        .filter_map(|&i| app.transfer(i))
        .map(|t| t.path.as_deref().map_or(1, |p| escape(p).chars().count()))
        .max()
        .unwrap_or(4)
        .clamp(4, usize::from(body.width / 2).max(8));
    let header = format!(
        "{:>5} {:<7} {:<5} {:<pw$}    {:<9} {:>10} {:<8} {:<8} {}",
        "#",
        "session",
        "cmd",
        "path",
        "status",
        "bytes",
        "end",
        "dir",
        "sha256",
        pw = path_width
    );
    let mut lines = vec![Line::styled(header, HEADER)];
    if app.transfer_list.is_empty() {
        lines.push(empty_line(app, TRANSFERS, "transfer"));
    }
    for (row, &r) in app
        .transfer_list
        .iter()
        .enumerate()
        .skip(app.offset[TRANSFERS])
        .take(l.list_rows)
    {
        let Some(t) = app.transfer(r) else { continue };
        let tls = app.transfer_extra.get(r).is_some_and(|x| x.tls);
        let style = if row == app.sel[TRANSFERS] {
            SELECTED
        } else {
            status_style(t.status)
        };
        let path: String = t
            .path
            .as_deref()
            .map(escape)
            .unwrap_or_else(|| "-".into())
            .chars()
            .take(path_width)
            .collect();
        let text = format!(
            "{:>5} {:<7} {:<5} {:<pw$} {} {:<9} {:>10} {:<8} {:<8} {}",
            t.transfer,
            t.session.map_or("orphan".to_owned(), |s| format!("s{s}")),
            t.command
                .as_deref()
                .map(escape)
                .unwrap_or_else(|| "-".into()),
            path,
            if tls { LOCK } else { "  " },
            t.status.as_str(),
            human_bytes(t.bytes),
            short_clock(app, t.end),
            t.direction.as_str(),
            t.sha256_prefix,
            pw = path_width,
        );
        lines.push(Line::styled(text, style));
    }
    let unlisted = match app.store.transfers_dropped {
        0 => String::new(),
        n => format!(" · {n} more not listed"),
    };
    let title = list_title(
        app,
        TRANSFERS,
        "Transfers",
        app.transfer_list.len(),
        format!("{}{unlisted}", app.store.transfers.len()),
    );
    f.render_widget(Paragraph::new(lines).block(block(title, true)), body);
}

fn draw_anomalies_tab(f: &mut Frame, app: &App, body: Rect) {
    let l = app.layout();
    let mut lines = vec![Line::styled(
        format!(
            "{:<12} {:<7} {:<26} {}",
            "time", "session", "kind", "detail"
        ),
        HEADER,
    )];
    if app.anomaly_list.is_empty() {
        lines.push(empty_line(app, ANOMALIES, "anomaly"));
    }
    for (row, a) in app
        .anomaly_list
        .iter()
        .enumerate()
        .skip(app.offset[ANOMALIES])
        .take(l.list_rows)
        .filter_map(|(row, &i)| Some((row, app.store.anomalies.get(i)?)))
    {
        let text = format!(
            "{:<12} {:<7} {:<26} {}",
            clock(app, a.ts),
            a.session.map_or("-".into(), |s| s.to_string()),
            a.kind.as_str(),
            escape(a.detail.as_bytes())
        );
        lines.push(Line::styled(
            text,
            if row == app.sel[ANOMALIES] {
                SELECTED
            } else {
                Style::new()
            },
        ));
    }
    let total = app.store.anomalies.len() as u64 + app.store.anomalies_dropped;
    let title = list_title(
        app,
        ANOMALIES,
        "Anomalies",
        app.anomaly_list.len(),
        total.to_string(),
    );
    f.render_widget(Paragraph::new(lines).block(block(title, true)), body);
}

fn draw_status(f: &mut Frame, app: &App, area: Rect) {
    let text = if let Some(p) = &app.prompt {
        let hint = match p.kind {
            PromptKind::Filter => match &app.filters[app.tab].error {
                Some(e) => format!("  ({})", escape(e.as_bytes())),
                None => "  (Enter keep, Esc clear)".into(),
            },
            _ => "  (Enter, Esc cancel)".into(),
        };
        format!("{}: {}▏{hint}", p.kind.label(), escape(p.text.as_bytes()))
    } else if let Some(m) = &app.message {
        m.clone()
    } else if let Some(e) = app.error.as_ref().or(app.store.spill_error.as_ref()) {
        format!("error: {}", escape(e.as_bytes()))
    } else {
        let anomalies = app.store.anomalies.len() as u64 + app.store.anomalies_dropped;
        let transfers = app.store.transfers.len() as u64 + app.store.transfers_dropped;
        let drops = |kernel: u64, interface: u64| {
            if kernel + interface == 0 {
                "no drop".to_string()
            } else {
                format!("DROPPED {kernel} kernel, {interface} interface")
            }
        };
        let progress = match (&app.summary, app.total_bytes) {
            (Some(s), _) if s.capture.is_some() => {
                let c = s
                    .capture
                    .as_ref()
                    .map_or((0, 0), |c| (c.kernel_drops, c.interface_drops));
                format!(
                    "{} frames · {} · {} · stopped",
                    s.stats.frames,
                    human_bytes(s.stats.wire_bytes),
                    drops(c.0, c.1)
                )
            }
            (Some(s), _) => {
                let damage = match s.damage.first() {
                    None => String::new(),
                    Some(d) => format!(" · DAMAGED at byte {}", d.damage.offset),
                };
                format!(
                    "{} frames · {}{damage} · done",
                    s.stats.frames,
                    human_bytes(s.stats.wire_bytes)
                )
            }
            (None, Some(total)) if total > 0 => {
                format!(
                    "reading {:.0}%",
                    app.bytes_read as f64 * 100.0 / total as f64
                )
            }
            (None, _) => match &app.live {
                Some(l) => format!(
                    "live · {} packets ({}/s) · {} · {}",
                    l.packets,
                    l.packets_per_sec,
                    human_bytes(l.bytes),
                    drops(l.kernel_drops, l.interface_drops)
                ),
                None => format!("reading · {}", human_bytes(app.bytes_read)),
            },
        };
        format!(
            "{progress} · {} sessions · {transfers} transfers · {anomalies} anomalies{}{}",
            app.store.sessions.len() as u64 + app.store.sessions_dropped,
            if app.reveal_passwords {
                " · passwords shown"
            } else {
                ""
            },
            if app.local_time { " · local time" } else { "" }
        )
    };
    f.render_widget(
        Paragraph::new(Line::styled(
            text,
            Style::new().add_modifier(Modifier::REVERSED),
        )),
        area,
    );
}

/// `text` cut into lines of at most `width` characters (at spaces when it can).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut out = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let len = line.chars().count();
        let wlen = word.chars().count();
        if len > 0 && len + 1 + wlen > width {
            out.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
        while line.chars().count() > width {
            let head: String = line.chars().take(width).collect();
            let rest: String = line.chars().skip(width).collect();
            out.push(head);
            line = rest;
        }
    }
    if !line.is_empty() || out.is_empty() {
        out.push(line);
    }
    out
}

fn tls_summary(t: &TlsFacts) -> String {
    let mut parts = vec![format!("{LOCK} {}", t.version.as_deref().unwrap_or("TLS"))];
    if let Some(c) = &t.cipher_suite {
        parts.push(c.clone());
    }
    if let Some(s) = &t.sni {
        parts.push(format!("SNI {}", escape(s)));
    }
    if let Some(a) = &t.alpn {
        parts.push(format!("ALPN {}", escape(a)));
    }
    if let Some(r) = &t.resumed {
        parts.push(format!("resumed ({r})"));
    }
    parts.push(if t.decrypted {
        "decrypted".into()
    } else {
        "not decrypted (no keys)".into()
    });
    parts.push(if t.close_notify {
        "close_notify".into()
    } else {
        "no close_notify".into()
    });
    parts.join(" · ")
}

fn tls_lines(t: &TlsFacts, out: &mut Vec<(String, Style)>) {
    out.push((tls_summary(t), Style::new().fg(Color::Cyan)));
    if let Some(c) = &t.certificate {
        let day = |s: i64| {
            rfc3339(Timestamp::from_secs(s))
                .get(..10)
                .unwrap_or("")
                .to_owned()
        };
        out.push((
            format!("certificate: {}", escape(c.subject.as_bytes())),
            Style::new(),
        ));
        out.push((
            format!("  issuer {}", escape(c.issuer.as_bytes())),
            Style::new(),
        ));
        out.push((
            format!("  valid {} to {}", day(c.not_before), day(c.not_after)),
            Style::new(),
        ));
        out.push((format!("  sha256 {}", hex(&c.sha256)), Style::new()));
    }
}

/// The open transfer's facts above its content, most important first, wrapped to `width`
/// (a short terminal shows the first of them).
pub fn detail_meta(app: &App, width: u16) -> Vec<Line<'static>> {
    let Some(t) = app.open.as_ref() else {
        return Vec::new();
    };
    let rec = &t.record;
    let inner = usize::from(width.saturating_sub(2));
    let opt = |b: Option<&[u8]>| b.map(escape).unwrap_or_else(|| "-".into());
    let addr = |a: Option<std::net::SocketAddr>| a.map_or("-".into(), |a| a.to_string());
    let mut rows: Vec<(String, Style)> = vec![
        (
            format!(
                "{} {}{}",
                opt(rec.command.as_deref()),
                opt(rec.full_path.as_deref().or(rec.path.as_deref())),
                if rec.tls.is_some() {
                    format!(" {LOCK}")
                } else {
                    String::new()
                }
            ),
            HEADER,
        ),
        (
            format!(
                "{} · {} bytes{}{} · missing {} · offset {}",
                rec.status.as_str().to_uppercase(),
                rec.bytes,
                rec.expected_bytes
                    .map_or(String::new(), |e| format!(" of {e}")),
                rec.reply_code
                    .map_or(String::new(), |c| format!(" · reply {c}")),
                rec.missing_bytes,
                rec.offset,
            ),
            status_style(rec.status),
        ),
        (
            format!("why: {}", escape(rec.reason.as_bytes())),
            Style::new(),
        ),
        (
            match &t.digests.sha256 {
                None => "sha256 none (ciphertext is not hashed)".to_owned(),
                Some(sha256) => format!("sha256 {sha256}"),
            },
            Style::new(),
        ),
        (
            format!(
                "{} · {} via {} ({}) · link {} · TYPE {} · data {} → {}",
                rec.direction.as_str(),
                rec.mode.map_or("-", |m| m.as_str()),
                rec.announced_by.map_or("-", AnnouncedBy::as_str),
                addr(rec.announced),
                rec.link.as_str(),
                rec.transfer_type
                    .map_or("-".into(), |c| char::from(c).to_string()),
                addr(rec.data_initiator),
                addr(rec.data_responder),
            ),
            Style::new(),
        ),
    ];
    if let Some(tls) = &rec.tls {
        tls_lines(tls, &mut rows);
    }
    rows.push((
        match (wireshark_filter(rec), rec.frames) {
            (Some(f), Some(span)) => format!("frames {}–{}; wireshark: {f}", span.first, span.last),
            (Some(f), None) => format!("wireshark (4-tuple and time): {f}"),
            (None, _) => "wireshark: no data connection to filter on".into(),
        },
        DIM,
    ));
    let mut out = Vec::new();
    for (text, style) in rows {
        for line in wrap(&text, inner) {
            out.push(Line::styled(line, style));
        }
    }
    // A short terminal keeps at least half its rows for the content.
    let budget = usize::from(app.size.1.saturating_sub(5) / 2).max(3);
    out.truncate(budget);
    out
}

/// The open transfer ([`App::open`]) over the body.
fn draw_detail(f: &mut Frame, app: &App, area: Rect) {
    f.render_widget(Clear, area);
    let Some(t) = app.open.as_ref() else { return };
    let rec = &t.record;
    let mut lines = detail_meta(app, area.width);
    lines.push(Line::styled(
        "─".repeat(usize::from(area.width.saturating_sub(2))),
        DIM,
    ));
    let rows = app.detail_rows();
    let hit = app.find_hit.map(|(at, len)| at..at + len as u64);
    let marked = |at: u64| hit.as_ref().is_some_and(|h| h.contains(&at));
    match (&t.listing, app.hex) {
        (Some(listing), false) => {
            for (i, e) in listing
                .entries
                .iter()
                .enumerate()
                .skip(app.entry_offset)
                .take(rows)
            {
                let kind = e.kind.as_str();
                let line = Line::raw(format!(
                    "{:<9} {:>12} {:<18} {}{}",
                    kind,
                    e.size.map_or("-".into(), |s| s.to_string()),
                    e.modified.clone().unwrap_or_default(),
                    escape(&e.name),
                    e.link_target
                        .as_deref()
                        .map(|t| format!(" -> {}", escape(t)))
                        .unwrap_or_default()
                ));
                let line = if !app.find.is_empty() {
                    highlight(line, &app.find)
                } else {
                    line
                };
                lines.push(if i == app.entry_offset && !app.find.is_empty() {
                    line.patch_style(HEADER)
                } else {
                    line
                });
            }
        }
        _ if t.file.is_none() => lines.push(Line::styled(
            match &t.file_error {
                Some(e) => format!("({})", escape(e.as_bytes())),
                None => "(no byte of this transfer was captured)".into(),
            },
            DIM,
        )),
        (_, true) => {
            let narrow = area.width < 78;
            for (i, chunk) in app.detail.bytes.chunks(16).take(rows).enumerate() {
                let base = app.detail.offset + (i * 16) as u64;
                let mut spans = vec![Span::styled(format!("{base:08x} "), DIM)];
                // Narrow: the sixteen bytes without their characters.
                for (k, b) in chunk.iter().enumerate() {
                    let style = if marked(base + k as u64) {
                        FOUND
                    } else {
                        Style::new()
                    };
                    spans.push(Span::styled(format!(" {b:02x}"), style));
                }
                if narrow {
                    lines.push(Line::from(spans));
                    continue;
                }
                spans.push(Span::raw(" ".repeat(3 * (16 - chunk.len()) + 2)));
                for (k, &b) in chunk.iter().enumerate() {
                    let c = if b.is_ascii_graphic() || b == b' ' {
                        char::from(b)
                    } else {
                        '.'
                    };
                    let style = if marked(base + k as u64) {
                        FOUND
                    } else {
                        Style::new()
                    };
                    spans.push(Span::styled(c.to_string(), style));
                }
                lines.push(Line::from(spans));
            }
        }
        (_, false) => {
            let mut at = app.detail.offset;
            for line in app.detail.bytes.split(|&b| b == b'\n').take(rows) {
                let start = at;
                at += line.len() as u64 + 1;
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let text = escape(line);
                let hit_here = hit
                    .as_ref()
                    .is_some_and(|h| h.start >= start && h.start < start + line.len() as u64);
                let l = Line::raw(text);
                lines.push(if hit_here || !app.find.is_empty() {
                    highlight(l, &app.find)
                } else {
                    l
                });
            }
        }
    }
    let end = app.detail.offset + app.detail.bytes.len() as u64;
    let position = if t.listing.is_some() && !app.hex {
        format!(" entry {} ", app.entry_offset + 1)
    } else {
        format!(" {}-{} of {} ", app.detail.offset, end, app.detail.file_len)
    };
    let footer = if area.width < 72 {
        " x hex · : go · / find · s save · ? keys ".to_string()
    } else {
        " ↑↓ g G · x text/hex · : offset · / n N find · s save · y Y w copy · Esc ".to_string()
    };
    let title = format!(" Transfer #{} ·{position}", rec.transfer);
    let b = block(title, true).title_bottom(footer);
    f.render_widget(Paragraph::new(lines).block(b), area);
}

/// A session's context (banner, SYST, FEAT, CLNT, bytes each way) from its dialogue, as the
/// JSON output derives it.
pub fn session_context(exchanges: &[Exchange]) -> SessionContext {
    let mut c = SessionContext::default();
    for e in exchanges {
        c.observe(e);
    }
    c
}

/// The selected session's facts (the `i` overlay).
pub fn info_lines(app: &App) -> Vec<Line<'static>> {
    let Some(s) = app.selected_session() else {
        return Vec::new();
    };
    let c = session_context(&app.loaded.exchanges);
    let first_line = |b: &[u8]| escape(b.split(|&x| x == b'\n').next().unwrap_or(&[]));
    let mut rows: Vec<(String, Style)> = vec![(
        format!(
            "Session {}: {} → {} (found by {})",
            s.start.session,
            s.start.client,
            s.start.server,
            s.start.detected_by.as_str()
        ),
        HEADER,
    )];
    match &s.end {
        Some(e) => {
            rows.push((
                format!(
                    "{} → {} ({}), ended: {}",
                    stamp(app, s.start.ts, true),
                    stamp(app, e.end, true),
                    long_duration(e.end - s.start.ts),
                    e.reason.as_str()
                ),
                Style::new(),
            ));
            let failed = e
                .login_attempts
                .saturating_sub(u32::from(e.login == ftpscope_core::event::LoginState::Ok));
            rows.push((
                format!(
                    "user {} · login {} · {} login attempts ({} failed){}",
                    e.user.as_deref().map(escape).unwrap_or_else(|| "-".into()),
                    e.login.as_str(),
                    e.login_attempts,
                    failed,
                    if e.anonymous { " · anonymous" } else { "" }
                ),
                if failed > 0 {
                    Style::new().fg(Color::Red)
                } else {
                    Style::new()
                },
            ));
        }
        None => rows.push((
            format!("{} → (still open)", stamp(app, s.start.ts, true)),
            Style::new(),
        )),
    }
    let banner = c.banner.as_deref().map(first_line);
    let software = c
        .banner
        .as_deref()
        .and_then(server_software)
        .map(|(name, v)| match v {
            Some(v) => format!("{name} {v}"),
            None => name.to_owned(),
        });
    rows.push((
        format!("banner: {}", banner.unwrap_or_else(|| "-".into())),
        Style::new(),
    ));
    rows.push((
        format!(
            "server software: {} · SYST {}",
            software.unwrap_or_else(|| "unknown".into()),
            c.syst
                .as_deref()
                .map(first_line)
                .unwrap_or_else(|| "-".into())
        ),
        Style::new(),
    ));
    rows.push((
        format!(
            "client software: {}",
            c.clnt
                .as_deref()
                .map(escape)
                .unwrap_or_else(|| "- (no CLNT)".into())
        ),
        Style::new(),
    ));
    let (mut up, mut down) = (0, 0);
    for t in s.transfers.iter().filter_map(|&t| app.transfer(t)) {
        match t.direction {
            Direction::Upload => up += t.bytes,
            _ => down += t.bytes,
        }
    }
    rows.push((
        format!(
            "bytes: control → {} ← {} · data ↑ {} uploaded ↓ {} downloaded · {} transfers",
            human_bytes(c.client_bytes),
            human_bytes(c.server_bytes),
            human_bytes(up),
            human_bytes(down),
            s.transfers.len()
        ),
        Style::new(),
    ));
    let tls = s.end.as_ref().is_some_and(|e| e.tls);
    match app.selected_index().and_then(|i| app.session_tls.get(&i)) {
        Some(facts) => tls_lines(facts, &mut rows),
        None if tls => rows.push((
            format!("{LOCK} TLS (AUTH TLS or implicit); no further facts"),
            Style::new().fg(Color::Cyan),
        )),
        None => rows.push(("no TLS: the dialogue crossed in clear text".into(), DIM)),
    }
    if let Some(feat) = &c.feat {
        rows.push(("FEAT:".into(), HEADER));
        for line in feat.split(|&b| b == b'\n').skip(1) {
            rows.push((format!("  {}", escape(line)), Style::new()));
        }
    }
    let width = usize::from(app.size.0.saturating_sub(4));
    let mut out = Vec::new();
    for (text, style) in rows {
        for line in wrap(&text, width) {
            out.push(Line::styled(line, style));
        }
    }
    out
}

/// The control connection as it crossed: each command and each reply line, in order.
pub fn follow_lines(app: &App) -> Vec<Line<'static>> {
    let show = app.reveal_passwords || anonymous(app);
    let client = Style::new().fg(Color::Red);
    let server = Style::new().fg(Color::Blue);
    let mut out = Vec::new();
    for e in &app.loaded.exchanges {
        if let Some(c) = &e.command {
            let arg = if c.secret && !show {
                b"********".to_vec()
            } else {
                c.arg.clone()
            };
            let line = if arg.is_empty() {
                escape(&c.verb)
            } else {
                format!("{} {}", escape(&c.verb), escape(&arg))
            };
            out.push(Line::styled(format!("→ {line}"), client));
        }
        for r in &e.replies {
            let lines: Vec<&[u8]> = r.text.split(|&b| b == b'\n').collect();
            let last = lines.len().saturating_sub(1);
            for (i, l) in lines.iter().enumerate() {
                let sep = if i == last { ' ' } else { '-' };
                let text = if i == 0 || i == last {
                    format!("← {}{sep}{}", r.code, escape(l))
                } else {
                    format!("← {}", escape(l))
                };
                out.push(Line::styled(text, server));
            }
        }
    }
    if out.is_empty() {
        out.push(Line::styled("(nothing kept of this dialogue)", DIM));
    }
    out
}

fn draw_text_overlay(f: &mut Frame, app: &App, area: Rect, title: &str, lines: Vec<Line<'static>>) {
    f.render_widget(Clear, area);
    let rows = usize::from(area.height.saturating_sub(2));
    let lines: Vec<Line> = lines
        .into_iter()
        .skip(app.overlay_offset)
        .take(rows)
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(block(title.to_owned(), true)),
        area,
    );
}

fn draw_help(f: &mut Frame, app: &App, area: Rect) {
    let width = 96.min(area.width);
    let height = (KEYMAP.len() as u16 + 4).min(area.height);
    let area = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    f.render_widget(Clear, area);
    let inner = usize::from(width.saturating_sub(2));
    let mut lines: Vec<Line> = Vec::new();
    for (keys, what, _) in KEYMAP {
        let text = format!(" {keys:<13} {what}");
        let mut wrapped = wrap(&text, inner).into_iter();
        if let Some(first) = wrapped.next() {
            lines.push(Line::raw(first));
        }
        lines.extend(wrapped.map(|l| Line::raw(format!("{:15}{l}", ""))));
    }
    lines.push(Line::styled(
        " mouse: click to select, wheel to scroll",
        DIM,
    ));
    lines.push(Line::styled(
        " host:10.0.11.1 is that address only; host:10.0.11. a prefix",
        DIM,
    ));
    let rows = usize::from(height.saturating_sub(2));
    let lines: Vec<Line> = lines
        .into_iter()
        .skip(app.overlay_offset)
        .take(rows)
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(block(
            " Keys (↑↓ scroll, any other key closes) ".into(),
            true,
        )),
        area,
    );
}
