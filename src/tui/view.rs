//! Pure view functions: the screen is a function of [`App`], nothing here changes it.
//! Everything from the wire goes through [`escape`] before it reaches the terminal.

use crate::store::TransferRow;
use crate::text::{escape, human_bytes, rfc3339};
use crate::tui::app::{App, DialogueItem, Overlay, Pane, TAB_NAMES, folded_reply, layout};
use crate::tui::keymap::KEYMAP;
use ftpscope_core::{AnnouncedBy, EndReason, Exchange, TransferStatus};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

const SELECTED: Style = Style::new().add_modifier(Modifier::REVERSED);
const DIM: Style = Style::new().fg(Color::DarkGray);
const HEADER: Style = Style::new().add_modifier(Modifier::BOLD);

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

fn clock(ts: i64) -> String {
    rfc3339(ts).get(11..23).unwrap_or("").to_owned()
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
        0 => draw_sessions_tab(f, app, body),
        1 => draw_transfers_tab(f, app, body),
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
        Overlay::Detail(_) | Overlay::Save(..) => draw_detail(f, app, area),
        Overlay::Help => draw_help(f, area),
        Overlay::None | Overlay::Filter => {}
    }
}

fn draw_title(f: &mut Frame, app: &App, area: Rect) {
    let mut spans = vec![
        Span::styled(" ftpscope ", HEADER),
        Span::raw(escape(app.source.as_bytes())),
        Span::raw("  "),
    ];
    for (i, name) in TAB_NAMES.iter().enumerate() {
        let style = if i == app.tab { SELECTED } else { Style::new() };
        spans.push(Span::styled(format!(" {} {name} ", i + 1), style));
    }
    spans.push(Span::styled("  ? help", DIM));
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

fn draw_sessions_tab(f: &mut Frame, app: &App, body: Rect) {
    let l = layout(0, body.height + 2);
    let list_height = (l.list_rows + 3) as u16;
    let list_area = Rect {
        height: list_height.min(body.height),
        ..body
    };
    let filter = if app.filter.is_empty() {
        String::new()
    } else {
        format!(" filter: {}", escape(app.filter.as_bytes()))
    };
    let unlisted = match app.store.sessions_dropped {
        0 => String::new(),
        n => format!(" · {n} more not listed"),
    };
    let title = format!(
        " Sessions {}/{}{unlisted} · sort {}{filter} ",
        app.order.len(),
        app.store.sessions.len(),
        app.sort.name()
    );
    let mut lines = vec![Line::styled(
        format!(
            "{:>4} {:<8} {:<10} {:<6} {:>4} {:>4} {:>9} {:>6} {:<7}  {}",
            "#",
            "start",
            "user",
            "login",
            "cmds",
            "xfer",
            "bytes",
            "time",
            "end",
            "client → server"
        ),
        HEADER,
    )];
    for (row, &i) in app
        .order
        .iter()
        .enumerate()
        .skip(app.offset[0])
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
                if e.tls { " TLS" } else { "" },
            ),
            None => (
                "…".into(),
                "…",
                s.exchanges.to_string(),
                "…".into(),
                "open",
                "",
            ),
        };
        let clock_ts = clock(s.start.ts);
        let text = format!(
            "{:>4} {:<8} {:<10} {:<6} {:>4} {:>4} {:>9} {:>6} {:<7}  {} → {}{tls}",
            s.start.session,
            clock_ts.get(..8).unwrap_or(&clock_ts),
            user.chars().take(10).collect::<String>(),
            login,
            cmds,
            s.transfers.len(),
            human_bytes(s.bytes),
            time,
            end,
            s.start.client,
            s.start.server,
        );
        let style = if row == app.sel[0] {
            if app.pane == Pane::Sessions {
                SELECTED
            } else {
                Style::new().add_modifier(Modifier::BOLD)
            }
        } else {
            Style::new()
        };
        lines.push(Line::styled(text, style));
    }
    f.render_widget(
        Paragraph::new(lines).block(block(title, app.pane == Pane::Sessions)),
        list_area,
    );

    let dialogue_area = Rect {
        y: body.y + list_area.height,
        height: body.height.saturating_sub(list_area.height),
        ..body
    };
    let Some(s) = app.selected_session() else {
        let hint = if app.summary.is_some() {
            "no FTP session found"
        } else {
            "reading…"
        };
        f.render_widget(
            Paragraph::new(hint).block(block(" Dialogue ".into(), false)),
            dialogue_area,
        );
        return;
    };
    let title = format!(
        " Session {}: {} → {} ",
        s.start.session, s.start.client, s.start.server
    );
    let anonymous = s.end.as_ref().is_some_and(|x| x.anonymous);
    let mut lines = Vec::new();
    let items = app.dialogue();
    for (row, item) in items
        .iter()
        .enumerate()
        .skip(app.dialogue_offset)
        .take(l.dialogue_rows)
    {
        let mut line = match item {
            DialogueItem::Exchange(i) => app.loaded.exchanges.get(*i).map(|e| {
                let unfolded = app.loaded.unfolded.contains(i);
                exchange_line(e, app.reveal_passwords || anonymous, unfolded)
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
            DialogueItem::Transfer(t) => app.transfer(*t).map(transfer_inline),
        }
        .unwrap_or_default();
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

/// A duration in at most six characters: `0.3s`, `59.9s`, `14m`, `26h`, `3d`.
fn short_duration(ns: i64) -> String {
    let secs = ns.max(0) as f64 / 1e9;
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

fn exchange_line(e: &Exchange, show_secret: bool, unfolded: bool) -> Line<'static> {
    let ts = e.ts().unwrap_or(0);
    let mut spans = vec![Span::styled(format!("{}  ", clock(ts)), DIM)];
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
                let ms = (r.ts - c.ts) as f64 / 1e6;
                spans.push(Span::styled(format!("  {ms:.1} ms"), DIM));
            }
        }
        None => spans.push(Span::styled("(no reply)", DIM)),
    }
    Line::from(spans)
}

fn transfer_inline(r: &TransferRow) -> Line<'static> {
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
        Span::raw(format!(" {what}  {} ", human_bytes(r.bytes))),
        Span::styled(r.status.as_str().to_uppercase(), status_style(r.status)),
        Span::styled("  Enter: open", DIM),
    ])
}

fn transfer_row(r: &TransferRow) -> String {
    let what = r.path.as_deref().map(escape).unwrap_or_else(|| "-".into());
    let session = r.session.map_or("orphan".to_owned(), |s| format!("s{s}"));
    let how = match (r.mode, r.announced_by) {
        (Some(m), Some(by)) => format!("{}/{}/{}", m.as_str(), by.as_str(), r.link.as_str()),
        _ => "unlinked".into(),
    };
    format!(
        "{:>5} {:<7} {:<5} {:<9} {:>10} {:<8} {:<24} {}  {}",
        r.transfer,
        session,
        r.command
            .as_deref()
            .map(escape)
            .unwrap_or_else(|| "-".into()),
        r.status.as_str(),
        human_bytes(r.bytes),
        r.direction.as_str(),
        how,
        what,
        r.sha256_prefix,
    )
}

fn draw_transfers_tab(f: &mut Frame, app: &App, body: Rect) {
    let l = layout(1, body.height + 2);
    let header = format!(
        "{:>5} {:<7} {:<5} {:<9} {:>10} {:<8} {:<24} {}",
        "#", "session", "cmd", "status", "bytes", "dir", "mode/by/link", "path  sha256"
    );
    let mut lines = vec![Line::styled(header, HEADER)];
    for (row, r) in app
        .transfer_list
        .iter()
        .enumerate()
        .skip(app.offset[1])
        .take(l.list_rows)
    {
        let Some(t) = app.transfer(*r) else { continue };
        let style = if row == app.sel[1] {
            SELECTED
        } else {
            status_style(t.status)
        };
        lines.push(Line::styled(transfer_row(t), style));
    }
    let unlisted = match app.store.transfers_dropped {
        0 => String::new(),
        n => format!(" · {n} more not listed"),
    };
    let title = format!(" Transfers {}{unlisted} ", app.transfer_list.len());
    f.render_widget(Paragraph::new(lines).block(block(title, true)), body);
}

fn draw_anomalies_tab(f: &mut Frame, app: &App, body: Rect) {
    let l = layout(2, body.height + 2);
    let mut lines = vec![Line::styled(
        format!(
            "{:<12} {:<8} {:<26} {}",
            "time", "session", "kind", "detail"
        ),
        HEADER,
    )];
    for (row, a) in app
        .store
        .anomalies
        .iter()
        .enumerate()
        .skip(app.offset[2])
        .take(l.list_rows)
    {
        let text = format!(
            "{:<12} {:<8} {:<26} {}",
            clock(a.ts),
            a.session.map_or("-".into(), |s| s.to_string()),
            a.kind.as_str(),
            escape(a.detail.as_bytes())
        );
        lines.push(Line::styled(
            text,
            if row == app.sel[2] {
                SELECTED
            } else {
                Style::new()
            },
        ));
    }
    let title = format!(
        " Anomalies {} ",
        app.store.anomalies.len() as u64 + app.store.anomalies_dropped
    );
    f.render_widget(Paragraph::new(lines).block(block(title, true)), body);
}

fn draw_status(f: &mut Frame, app: &App, area: Rect) {
    let text = if let Overlay::Filter = app.overlay {
        format!(
            "/ filter: {}▏  (Enter keep, Esc clear)",
            escape(app.filter.as_bytes())
        )
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
                let damage = if s.damage.is_empty() {
                    String::new()
                } else {
                    format!(" · {} DAMAGED input", s.damage.len())
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
            "{progress} · {} sessions · {transfers} transfers · {anomalies} anomalies{}",
            app.store.sessions.len() as u64 + app.store.sessions_dropped,
            if app.reveal_passwords {
                " · passwords shown"
            } else {
                ""
            }
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

/// The open transfer ([`App::open`]) over the body.
fn draw_detail(f: &mut Frame, app: &App, area: Rect) {
    // Over the whole body, so nothing of the panes below shows through.
    let area = Rect {
        y: area.y + 1,
        height: area.height.saturating_sub(2),
        ..area
    };
    f.render_widget(Clear, area);
    let Some(t) = app.open.as_ref() else { return };
    let rec = &t.record;
    let opt = |b: Option<&[u8]>| b.map(escape).unwrap_or_else(|| "-".into());
    let addr = |a: Option<std::net::SocketAddr>| a.map_or("-".into(), |a| a.to_string());
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                format!(
                    "{} {}",
                    opt(rec.command.as_deref()),
                    opt(rec.path.as_deref())
                ),
                HEADER,
            ),
            Span::raw(format!("   full path {}", opt(rec.full_path.as_deref()))),
        ]),
        Line::raw(format!(
            "{} · {} via {} ({}) · link {} · data {} → {} · TYPE {}",
            rec.direction.as_str(),
            rec.mode.map_or("-", |m| m.as_str()),
            rec.announced_by.map_or("-", AnnouncedBy::as_str),
            addr(rec.announced),
            rec.link.as_str(),
            addr(rec.data_initiator),
            addr(rec.data_responder),
            rec.transfer_type
                .map_or("-".into(), |c| char::from(c).to_string()),
        )),
        Line::from(vec![
            Span::styled(rec.status.as_str().to_uppercase(), status_style(rec.status)),
            Span::raw(format!(
                " · {} bytes{}{} · missing {} · offset {} · {}",
                rec.bytes,
                rec.expected_bytes
                    .map_or(String::new(), |e| format!(" of {e}")),
                rec.reply_code
                    .map_or(String::new(), |c| format!(" · reply {c}")),
                rec.missing_bytes,
                rec.offset,
                escape(rec.reason.as_bytes())
            )),
        ]),
        Line::raw(match &t.digests.sha256 {
            None => "sha256 none (ciphertext is not hashed)".to_owned(),
            Some(sha256) => format!("sha256 {sha256}"),
        }),
        Line::styled("─".repeat(usize::from(area.width.saturating_sub(2))), DIM),
    ];
    let rows = usize::from(area.height.saturating_sub(lines.len() as u16 + 3));
    match (&t.listing, app.hex) {
        (Some(listing), false) => {
            for e in listing.entries.iter().skip(app.entry_offset).take(rows) {
                let kind = e.kind.as_str();
                lines.push(Line::raw(format!(
                    "{:<9} {:>12} {:<18} {}{}",
                    kind,
                    e.size.map_or("-".into(), |s| s.to_string()),
                    e.modified.clone().unwrap_or_default(),
                    escape(&e.name),
                    e.link_target
                        .as_deref()
                        .map(|t| format!(" -> {}", escape(t)))
                        .unwrap_or_default()
                )));
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
            for (i, chunk) in app.detail.bytes.chunks(16).take(rows).enumerate() {
                let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
                let ascii: String = chunk
                    .iter()
                    .map(|&b| {
                        if b.is_ascii_graphic() || b == b' ' {
                            char::from(b)
                        } else {
                            '.'
                        }
                    })
                    .collect();
                lines.push(Line::raw(format!(
                    "{:08x}  {:<48} {ascii}",
                    app.detail.offset + (i * 16) as u64,
                    hex.join(" ")
                )));
            }
        }
        (_, false) => {
            for line in app.detail.bytes.split(|&b| b == b'\n').take(rows) {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                lines.push(Line::raw(escape(line)));
            }
        }
    }
    let footer = match &app.overlay {
        Overlay::Save(_, dir) => format!(
            " save to folder: {}▏ (Enter save, Esc cancel) ",
            escape(dir.as_bytes())
        ),
        _ => " ↑↓ scroll · h text/hex · s save · Esc back ".into(),
    };
    let title = format!(" Transfer #{} ", rec.transfer);
    let b = block(title, true).title_bottom(footer);
    f.render_widget(Paragraph::new(lines).block(b), area);
}

fn draw_help(f: &mut Frame, area: Rect) {
    let width = 72.min(area.width);
    let height = (KEYMAP.len() as u16 + 4).min(area.height);
    let area = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    f.render_widget(Clear, area);
    let mut lines: Vec<Line> = KEYMAP
        .iter()
        .map(|(keys, what, _)| Line::raw(format!(" {keys:<16} {what}")))
        .collect();
    lines.push(Line::styled(
        " mouse: click to select, wheel to scroll",
        DIM,
    ));
    f.render_widget(
        Paragraph::new(lines).block(block(" Keys (any key closes) ".into(), true)),
        area,
    );
}
