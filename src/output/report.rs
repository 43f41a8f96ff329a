//! The readable text report: sessions, logins, the dialogue, transfers with verdicts,
//! anomalies and damage. Everything from the wire is escaped before it is printed.

use crate::output::json::MASK;
use crate::pipeline::{Output, Record, RunSummary};
use crate::store::{Store, TransferRow};
use crate::text::{escape, human_bytes, rfc3339};
use crate::transfers::TransferOutcome;
use ftpscope_core::{AnomalyKind, Exchange, Timestamp, TransferStatus};
use std::io::{self, Write};

pub struct Report<W: Write> {
    out: W,
    /// Sessions and transfers as small rows; dialogues and outcomes in its spill file, read
    /// back one session at a time when the report is written.
    store: Store,
    show_passwords: bool,
}

impl<W: Write> Report<W> {
    pub fn new(out: W, show_passwords: bool) -> Self {
        Report {
            out,
            store: Store::default(),
            show_passwords,
        }
    }
}

/// Servers listed one by one under the connection attempts; the JSON summary has them all.
const ATTEMPT_SERVERS_SHOWN: usize = 20;

fn clock(ts: Timestamp) -> String {
    // HH:MM:SS.mmm of the RFC 3339 form.
    rfc3339(ts).get(11..23).unwrap_or("").to_owned()
}

/// Wire bytes for one report line: escaped, and cut when very long (a 40 KB argument would
/// bury the dialogue); the length says how much there was.
fn short(bytes: &[u8]) -> String {
    const MAX: usize = 160;
    if bytes.len() <= MAX {
        escape(bytes)
    } else {
        format!("{}… ({} bytes)", escape(&bytes[..MAX]), bytes.len())
    }
}

fn secs(from: Timestamp, to: Timestamp) -> String {
    format!("{:.1} s", (to - from) as f64 / 1e9)
}

fn exchange_line(e: &Exchange, anonymous: bool, show_passwords: bool) -> String {
    let mut line = format!("{}  ", clock(e.ts().unwrap_or(0)));
    if let Some(c) = &e.command {
        line.push_str(&escape(&c.verb));
        if !c.arg.is_empty() {
            line.push(' ');
            if c.secret && !show_passwords && !anonymous {
                line.push_str(MASK);
            } else {
                line.push_str(&short(&c.arg));
            }
        }
        line.push_str(" → ");
    }
    match e.final_reply().or(e.replies.last()) {
        Some(r) => {
            let first = r.text.split(|&b| b == b'\n').next().unwrap_or(&[]);
            let more = if r.text.contains(&b'\n') { " …" } else { "" };
            line.push_str(&format!("{} {}{more}", r.code, short(first)));
        }
        None => line.push_str("(no reply)"),
    }
    line
}

/// A transfer whose details could not be read back (see the end of the report): what its
/// row keeps.
fn row_line(r: &TransferRow) -> String {
    format!(
        "#{} {} {}  {}  {} (details not kept)",
        r.transfer,
        r.command
            .as_deref()
            .map(escape)
            .unwrap_or_else(|| "(no command)".into()),
        r.path.as_deref().map(short).unwrap_or_else(|| "-".into()),
        human_bytes(r.bytes),
        r.status.as_str().to_uppercase(),
    )
}

fn transfer_line(t: &TransferOutcome) -> String {
    let r = &t.record;
    let what = r
        .full_path
        .as_deref()
        .or(r.path.as_deref())
        .map(short)
        .unwrap_or_else(|| "-".into());
    let verb = r
        .command
        .as_deref()
        .map(escape)
        .unwrap_or_else(|| "(no command)".into());
    let how = match (r.mode, r.announced_by) {
        (Some(m), Some(by)) => format!(
            "{} via {}, link {}",
            m.as_str(),
            by.as_str(),
            r.link.as_str()
        ),
        _ => format!("link {}", r.link.as_str()),
    };
    let size = match r.expected_bytes {
        Some(e) if e != r.bytes => format!("{} of {}", human_bytes(r.bytes), human_bytes(e)),
        _ => human_bytes(r.bytes),
    };
    let offset = if r.offset > 0 {
        format!(" from offset {}", r.offset)
    } else {
        String::new()
    };
    let mut line = format!(
        "#{} {verb} {what}  {} {how}  {size}{offset}  {}",
        r.transfer,
        r.direction.as_str(),
        r.status.as_str().to_uppercase()
    );
    if r.missing_bytes > 0 {
        line.push_str(&format!(" ({} missing)", human_bytes(r.missing_bytes)));
    }
    if r.status == TransferStatus::Encrypted {
        // The ciphertext was not hashed: no digest would be the file's.
        line.push_str(&format!("\n        {}", r.reason));
    } else {
        let sha256 = t.digests.sha256.as_deref().unwrap_or("-");
        line.push_str(&format!("\n        {}; sha256 {sha256}", r.reason));
    }
    if let Some(l) = &t.listing {
        line.push_str(&format!(
            "\n        listing: {} entries{}",
            l.entries.len(),
            if l.truncated { " (truncated)" } else { "" }
        ));
    }
    if let Some(f) = &t.file {
        line.push_str(&format!(
            "\n        file: {}",
            escape(f.to_string_lossy().as_bytes())
        ));
    }
    if let (Some(prev), Some(f)) = (t.resumes, &t.combined_file) {
        line.push_str(&format!(
            "\n        resumes #{prev}: combined file {}",
            escape(f.to_string_lossy().as_bytes())
        ));
    } else if let Some(prev) = t.resumes {
        line.push_str(&format!("\n        resumes #{prev}"));
    }
    if let Some(e) = &t.file_error {
        line.push_str(&format!("\n        error: {}", escape(e.as_bytes())));
    }
    if let Some(n) = t.capture_drops.filter(|&n| n > 0) {
        line.push_str(&format!(
            "\n        the capture dropped {n} packets while it may have been open"
        ));
    }
    line
}

impl<W: Write> Output for Report<W> {
    fn record(&mut self, record: &Record) -> io::Result<()> {
        self.store.apply(record);
        Ok(())
    }

    fn finish(&mut self, s: &RunSummary) -> io::Result<()> {
        let o = &mut self.out;
        let names: Vec<String> = s.inputs.iter().map(|n| escape(n.as_bytes())).collect();
        writeln!(o, "ftpscope report: {}", names.join(", "))?;
        let anomalies: u64 = s.stats.anomalies.iter().sum();
        writeln!(
            o,
            "{} frames, {}, {} TCP connections, {} FTP sessions, {} transfers, {} anomalies\n",
            s.stats.frames,
            human_bytes(s.stats.wire_bytes),
            s.stats.connections,
            s.stats.sessions,
            s.stats.transfers,
            anomalies
        )?;
        if let Some(c) = &s.capture {
            writeln!(
                o,
                "live capture on {}: {} packets received, {} dropped by the kernel, {} by the \
                 interface; {} transfers touched by drops\n",
                escape(c.interface.as_bytes()),
                c.received,
                c.kernel_drops,
                c.interface_drops,
                c.transfers_with_drops
            )?;
        }
        let attempts = &s.stats.connection_attempts;
        if attempts.total > 0 {
            writeln!(
                o,
                "{} connection attempts (SYN never answered, or refused; no session):",
                attempts.total
            )?;
            let servers = attempts.by_count();
            for (server, count) in servers.iter().take(ATTEMPT_SERVERS_SHOWN) {
                writeln!(o, "  {:>9}  {server}", count.attempts)?;
            }
            if servers.len() > ATTEMPT_SERVERS_SHOWN {
                let more = servers.len() - ATTEMPT_SERVERS_SHOWN;
                writeln!(o, "  … {more} more servers (see --json)")?;
            }
            if attempts.other_servers > 0 {
                writeln!(o, "  {:>9}  other servers", attempts.other_servers)?;
            }
            writeln!(o)?;
        }
        for d in &s.damage {
            writeln!(
                o,
                "DAMAGED INPUT {}: at byte {}: {}\n",
                escape(d.name.as_bytes()),
                d.damage.offset,
                escape(d.damage.what.as_bytes())
            )?;
        }
        let store = &mut self.store;
        for i in 0..store.sessions.len() {
            // What is read back from the spill file first; then the row is only looked at.
            let dialogue = store.dialogue(i);
            let transfer_ids = store
                .sessions
                .get(i)
                .map(|s| s.transfers.clone())
                .unwrap_or_default();
            let transfers: Vec<String> = transfer_ids
                .into_iter()
                .map(|t| match store.outcome(t) {
                    Some(t) => transfer_line(&t),
                    None => store.transfers.get(t).map(row_line).unwrap_or_default(),
                })
                .collect();
            let Some(sv) = store.sessions.get(i) else {
                break;
            };
            let st = &sv.start;
            write!(o, "Session {}  {} → {}", st.session, st.client, st.server)?;
            if let Some(end) = &sv.end {
                let user = end
                    .user
                    .as_deref()
                    .map(escape)
                    .unwrap_or_else(|| "-".into());
                write!(o, "  user {user} (login {})", end.login.as_str())?;
                if end.tls {
                    write!(o, "  TLS")?;
                }
                writeln!(
                    o,
                    "\n  {}  for {}, ended: {}",
                    rfc3339(st.ts),
                    secs(st.ts, end.end),
                    end.reason.as_str()
                )?;
            } else {
                writeln!(o)?;
            }
            let anonymous = sv.end.as_ref().is_some_and(|s| s.anonymous);
            for e in &dialogue {
                writeln!(o, "  {}", exchange_line(e, anonymous, self.show_passwords))?;
            }
            if sv.exchanges_dropped > 0 {
                writeln!(o, "  … {} more commands not shown", sv.exchanges_dropped)?;
            }
            if !transfers.is_empty() {
                writeln!(o, "  Transfers:")?;
                for line in &transfers {
                    writeln!(o, "    {line}")?;
                }
            }
            writeln!(o)?;
        }
        if store.sessions_dropped > 0 {
            writeln!(
                o,
                "… {} more sessions not shown (see --json for every one)\n",
                store.sessions_dropped
            )?;
        }
        let orphans: Vec<usize> = (0..store.transfers.len())
            .filter(|&t| store.transfers.get(t).is_some_and(|r| r.is_orphan()))
            .collect();
        if !orphans.is_empty() {
            writeln!(o, "Data connections no session explains:")?;
            for t in orphans.into_iter().filter_map(|t| store.outcome(t)) {
                let r = &t.record;
                let ends = format!(
                    "{} → {}",
                    r.data_initiator.map_or("?".into(), |a| a.to_string()),
                    r.data_responder.map_or("?".into(), |a| a.to_string())
                );
                writeln!(o, "    {ends}\n    {}", transfer_line(&t))?;
            }
            writeln!(o)?;
        }
        if anomalies > 0 {
            writeln!(o, "Anomalies:")?;
            for kind in AnomalyKind::ALL {
                let n = s.stats.anomaly_count(*kind);
                if n == 0 {
                    continue;
                }
                let example = store.anomalies.iter().find(|a| a.kind == *kind);
                let detail = example
                    .map(|a| escape(a.detail.as_bytes()))
                    .unwrap_or_default();
                writeln!(
                    o,
                    "  {:>6}  {:<26} {}",
                    n,
                    kind.as_str(),
                    kind.description()
                )?;
                if !detail.is_empty() {
                    writeln!(o, "          first: {detail}")?;
                }
            }
        }
        if store.transfers_dropped > 0 {
            writeln!(
                o,
                "\n… {} more transfers not shown (see --json for every one)",
                store.transfers_dropped
            )?;
        }
        if let Some(e) = &store.spill_error {
            writeln!(
                o,
                "\nReport incomplete: dialogues and transfers could not be kept: {}",
                escape(e.as_bytes())
            )?;
        }
        if let Some(e) = &s.extract_error {
            writeln!(o, "\nExtraction error: {}", escape(e.as_bytes()))?;
        }
        o.flush()
    }
}
