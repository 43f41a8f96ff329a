//! The Overview tab's figures, folded from the records as they arrive (constant work per
//! record, so the tab costs nothing to show on a capture of a million sessions), and the lines
//! it shows, each with where Enter leads.

use crate::capture::InputDamage;
use crate::output::bruteforce::{self, Bruteforce, failed_logins};
use crate::pipeline::Record;
use crate::text::{escape, human_bytes};
use ftpscope_core::event::{Direction, LoginState, TransferStatus};
use ftpscope_core::{AnomalyKind, Timestamp};
use std::collections::HashMap;
use std::net::IpAddr;

/// Rows shown per table (users, clients, servers, largest files).
const TOP: usize = 8;

#[derive(Debug, Clone, Default)]
pub struct Logins {
    pub sessions: u64,
    pub ok: u64,
    pub failed: u64,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    pub sessions: u64,
    pub transfers: u64,
    pub anomalies: u64,
    pub tls_sessions: u64,
    pub users: HashMap<Box<[u8]>, Logins>,
    pub clients: HashMap<IpAddr, Logins>,
    pub servers: HashMap<IpAddr, Logins>,
    pub by_status: [u64; 5],
    pub uploaded: u64,
    pub downloaded: u64,
    /// The largest files: (bytes, transfer id, path).
    pub largest: Vec<(u64, u64, String)>,
    pub anomaly_kinds: HashMap<AnomalyKind, u64>,
    pub damage: Vec<InputDamage>,
    /// Failed logins per client, for the notices the report gives too.
    pub bruteforce: Bruteforce,
}

impl Stats {
    fn seen(&mut self, ts: Timestamp) {
        self.first = Some(self.first.map_or(ts, |f| f.min(ts)));
        self.last = Some(self.last.map_or(ts, |l| l.max(ts)));
    }

    pub fn observe(&mut self, record: &Record) {
        match record {
            Record::SessionStarted(s) => {
                self.seen(s.ts);
                self.sessions += 1;
            }
            Record::Exchange(_) => {}
            Record::SessionEnded(s) => {
                self.seen(s.end);
                if s.tls {
                    self.tls_sessions += 1;
                }
                let ok = u64::from(s.login == LoginState::Ok);
                let failed = failed_logins(s.login, s.login_attempts);
                let (client, server) = (s.client.ip(), s.server.ip());
                self.bruteforce.session(client, server, s.start, failed);
                let add = |l: &mut Logins| {
                    l.sessions += 1;
                    l.ok += ok;
                    l.failed += failed;
                };
                add(self.clients.entry(s.client.ip()).or_default());
                add(self.servers.entry(s.server.ip()).or_default());
                if let Some(u) = &s.user {
                    add(self.users.entry(u.as_slice().into()).or_default());
                }
            }
            Record::Transfer(t) => {
                let r = &t.record;
                self.seen(r.end);
                self.transfers += 1;
                if let Some(slot) = self.by_status.get_mut(r.status.index()) {
                    *slot += 1;
                }
                match r.direction {
                    Direction::Upload => self.uploaded += r.bytes,
                    _ => self.downloaded += r.bytes,
                }
                if !r.listing && r.bytes > 0 {
                    let smallest = self.largest.last().map_or(0, |l| l.0);
                    if self.largest.len() < TOP || r.bytes > smallest {
                        let path = r.full_path.as_deref().or(r.path.as_deref());
                        let path = path.map(escape).unwrap_or_else(|| "-".into());
                        self.largest.push((r.bytes, r.transfer, path));
                        self.largest
                            .sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
                        self.largest.truncate(TOP);
                    }
                }
            }
            Record::Anomaly(a) => {
                self.seen(a.ts);
                self.anomalies += 1;
                *self.anomaly_kinds.entry(a.kind).or_default() += 1;
            }
            Record::Damage(d) => self.damage.push(d.clone()),
        }
    }
}

/// Where Enter on an overview line leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Jump {
    /// A tab, with this filter.
    List(usize, String),
    /// A transfer's detail, by its id.
    Transfer(u64),
}

#[derive(Debug, Clone)]
pub struct Line {
    pub text: String,
    /// A heading (bold, not selectable by itself).
    pub heading: bool,
    pub jump: Option<Jump>,
}

fn heading(text: impl Into<String>) -> Line {
    Line {
        text: text.into(),
        heading: true,
        jump: None,
    }
}

fn row(text: String, jump: Option<Jump>) -> Line {
    Line {
        text,
        heading: false,
        jump,
    }
}

/// A value for a filter: quoted when it holds a space.
fn value(v: &str) -> String {
    if v.contains(' ') || v.is_empty() {
        format!("\"{v}\"")
    } else {
        v.to_owned()
    }
}

/// The rows of a table, most sessions first; only the first `limit` are named and sorted
/// (a capture of a million clients costs a selection, not a sort). The count is the map's.
fn top<K: Clone>(
    map: &HashMap<K, Logins>,
    limit: usize,
    key: impl Fn(&K) -> String,
) -> Vec<(String, Logins)> {
    let mut rows: Vec<(&K, &Logins)> = map.iter().collect();
    let rank = |l: &Logins| std::cmp::Reverse((l.sessions, l.failed));
    if rows.len() > limit {
        rows.select_nth_unstable_by_key(limit, |r| rank(r.1));
        rows.truncate(limit);
    }
    let mut named: Vec<(String, Logins)> =
        rows.into_iter().map(|(k, v)| (key(k), v.clone())).collect();
    named.sort_by(|a, b| rank(&a.1).cmp(&rank(&b.1)).then(a.0.cmp(&b.0)));
    named
}

/// The lines of the Overview tab. `time` formats a timestamp as the UI shows times.
pub fn lines(
    stats: &Stats,
    finished: Option<&crate::pipeline::RunSummary>,
    time: &dyn Fn(Timestamp) -> String,
) -> Vec<Line> {
    let mut out = Vec::new();
    let first = finished.and_then(|s| s.first_ts).or(stats.first);
    let last = finished.and_then(|s| s.last_ts).or(stats.last);
    match (first, last) {
        (Some(f), Some(l)) => {
            let (from, to) = (time(f), time(l));
            // One day: its date and zone once.
            let to = match (from.split_once(' '), to.split_once(' ')) {
                (Some((d1, _)), Some((d2, rest))) if d1 == d2 => rest.to_owned(),
                _ => to,
            };
            let from = if to.len() < from.len() {
                from.rsplit_once(' ')
                    .map_or(from.clone(), |(t, _)| t.to_owned())
            } else {
                from
            };
            out.push(row(
                format!(
                    "Capture  {from} → {to} ({})",
                    crate::tui::view::long_duration(l - f)
                ),
                None,
            ))
        }
        _ => out.push(row("Capture  (no packet yet)".into(), None)),
    }
    out.push(row(
        format!(
            "Totals   {} sessions ({} TLS) · {} transfers · {} anomalies",
            stats.sessions, stats.tls_sessions, stats.transfers, stats.anomalies,
        ),
        Some(Jump::List(1, String::new())),
    ));
    if stats.damage.is_empty() {
        if finished.is_some() {
            out.push(row(
                "Damage   none: every input was read to its end".into(),
                None,
            ));
        }
    } else {
        for d in &stats.damage {
            out.push(row(
                format!(
                    "DAMAGED  {} at byte {}: {} (analysed up to there)",
                    escape(d.name.as_bytes()),
                    d.damage.offset,
                    escape(d.damage.what.as_bytes())
                ),
                Some(Jump::List(3, String::new())),
            ));
        }
    }

    let notices = stats.bruteforce.notices();
    if !notices.is_empty() {
        out.push(heading(format!(
            "Brute force ({}+ failed logins from one client within {} min, as the report)",
            bruteforce::THRESHOLD,
            bruteforce::WINDOW / ftpscope_core::TimeSpan::from_secs(60)
        )));
        for n in notices {
            let ip = n.client;
            let l = stats.clients.get(&ip).cloned().unwrap_or_default();
            out.push(row(
                format!(
                    "  {ip}: {} failed logins in {} sessions, {} ok, on {} server{}",
                    n.failed,
                    l.sessions,
                    l.ok,
                    n.servers,
                    if n.servers == 1 { "" } else { "s" }
                ),
                Some(Jump::List(1, format!("host:{ip} status:failed"))),
            ));
        }
    }

    let table = |out: &mut Vec<Line>,
                 title: &str,
                 field: &str,
                 total: usize,
                 rows: Vec<(String, Logins)>| {
        if rows.is_empty() {
            return;
        }
        let title = format!("{title} ({total})");
        let width = rows
            .iter()
            .take(TOP)
            .map(|r| r.0.chars().count() + 2)
            .max()
            .unwrap_or(0)
            .max(title.chars().count());
        out.push(heading(format!(
            "{title:<width$}  {:>8}  {:>4}  {:>6}",
            "sessions", "ok", "failed"
        )));
        for (name, l) in rows.iter().take(TOP) {
            let shown = format!("  {name}");
            out.push(row(
                format!(
                    "{shown:<width$}  {:>8}  {:>4}  {:>6}",
                    l.sessions, l.ok, l.failed
                ),
                Some(Jump::List(1, format!("{field}:{}", value(name)))),
            ));
        }
        if total > TOP {
            out.push(row(format!("  … {} more", total - TOP), None));
        }
    };
    table(
        &mut out,
        "Users",
        "user",
        stats.users.len(),
        top(&stats.users, TOP, |u| escape(u)),
    );
    table(
        &mut out,
        "Clients",
        "host",
        stats.clients.len(),
        top(&stats.clients, TOP, |ip| ip.to_string()),
    );
    table(
        &mut out,
        "Servers",
        "host",
        stats.servers.len(),
        top(&stats.servers, TOP, |ip| ip.to_string()),
    );

    if stats.transfers > 0 {
        out.push(heading("Transfers by verdict"));
        for status in TransferStatus::ALL {
            let n = stats.by_status.get(status.index()).copied().unwrap_or(0);
            if n > 0 {
                out.push(row(
                    format!("  {:<10} {n:>8}", status.as_str()),
                    Some(Jump::List(2, format!("status:{}", status.as_str()))),
                ));
            }
        }
        out.push(row(
            format!(
                "  bytes      ↓ {} downloaded · ↑ {} uploaded",
                human_bytes(stats.downloaded),
                human_bytes(stats.uploaded)
            ),
            Some(Jump::List(2, String::new())),
        ));
    }
    if !stats.largest.is_empty() {
        out.push(heading("Largest files"));
        for (bytes, id, path) in &stats.largest {
            out.push(row(
                format!("  {:>10}  #{id} {path}", human_bytes(*bytes)),
                Some(Jump::Transfer(*id)),
            ));
        }
    }
    if !stats.anomaly_kinds.is_empty() {
        out.push(heading("Anomalies by kind"));
        let mut kinds: Vec<(&AnomalyKind, &u64)> = stats.anomaly_kinds.iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (kind, n) in kinds {
            out.push(row(
                format!("  {:<28} {n:>6}", kind.as_str()),
                Some(Jump::List(3, format!("kind:{}", kind.as_str()))),
            ));
        }
    }
    out
}
