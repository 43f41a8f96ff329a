//! The readable text report: sessions, logins, the dialogue, transfers with verdicts,
//! anomalies and damage. Everything from the wire is escaped before it is printed.

use crate::output::bruteforce;
use crate::output::json::MASK;
use crate::pipeline::{Output, Record, RunSummary};
use crate::store::{Store, TransferRow};
use crate::text::{escape, human_bytes, rfc3339};
use crate::transfers::TransferOutcome;
use ftpscope_core::event::{LoginState, TlsFacts};
use ftpscope_core::limits::SECOND;
use ftpscope_core::{AnomalyKind, Exchange, TimeSpan, Timestamp, TransferStatus};
use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::net::IpAddr;

/// Rows of each table by user, client and server; the rest are summed on one line.
const TABLE_ROWS: usize = 20;

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
    format!("{:.1} s", (to - from).as_secs_f64())
}

fn exchange_line(e: &Exchange, anonymous: bool, show_passwords: bool) -> String {
    let mut line = format!("{}  ", clock(e.ts().unwrap_or(Timestamp::EPOCH)));
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
        // A greeting (no command) is shown whole: banners name the server and often say
        // more on their later lines.
        Some(r) if e.command.is_none() => {
            let mut lines = r.text.split(|&b| b == b'\n');
            let first = lines.next().unwrap_or(&[]);
            line.push_str(&format!("{} {}", r.code, short(first)));
            for more in lines.take(BANNER_LINES) {
                line.push_str(&format!("\n                    {}", short(more)));
            }
            let n = r.text.split(|&b| b == b'\n').count();
            if n > BANNER_LINES + 1 {
                line.push_str(&format!(
                    "\n                    … {} more lines",
                    n - BANNER_LINES - 1
                ));
            }
        }
        Some(r) => {
            let first = r.text.split(|&b| b == b'\n').next().unwrap_or(&[]);
            let more = if r.text.contains(&b'\n') { " …" } else { "" };
            line.push_str(&format!("{} {}{more}", r.code, short(first)));
        }
        None => line.push_str("(no reply)"),
    }
    line
}

/// Lines of a greeting shown after its first.
const BANNER_LINES: usize = 40;

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

/// What a session's TLS showed (FTPS): version, suite, SNI, resumption, whether keys
/// decrypted it, and the server's certificate when it was seen.
fn tls_lines(facts: Option<&TlsFacts>) -> Vec<String> {
    let Some(t) = facts else {
        return vec!["TLS: no handshake seen".into()];
    };
    let mut first = format!(
        "TLS: {} {}",
        t.version.as_deref().unwrap_or("version unknown"),
        t.cipher_suite.as_deref().unwrap_or("suite unknown")
    );
    if let Some(sni) = &t.sni {
        first.push_str(&format!(", SNI {}", escape(sni)));
    }
    if let Some(alpn) = &t.alpn {
        first.push_str(&format!(", ALPN {}", escape(alpn)));
    }
    if let Some(how) = &t.resumed {
        first.push_str(&format!(", resumed ({how})"));
    }
    first.push_str(if t.decrypted {
        ", decrypted with the key log"
    } else {
        ", not decrypted (no key for it: the dialogue and its files stay unread)"
    });
    let mut lines = vec![first];
    if let Some(c) = &t.certificate {
        lines.push(format!(
            "certificate: {} issued by {}, valid {} to {}, sha256 {}",
            escape(c.subject.as_bytes()),
            escape(c.issuer.as_bytes()),
            rfc3339(Timestamp::from_secs(c.not_before)),
            rfc3339(Timestamp::from_secs(c.not_after)),
            crate::text::hex(&c.sha256)
        ));
    }
    lines
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
    if r.status == TransferStatus::Encrypted || r.bytes == 0 {
        // The ciphertext was not hashed: no digest would be the file's. And the digest of
        // no byte is no file's either.
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

/// Failed logins of a session: PASS commands refused (a 530 to USER counts once).
fn failed_logins(end: &crate::store::SessionEnd) -> u64 {
    bruteforce::failed_logins(end.login, end.login_attempts)
}

/// Sessions, logins that succeeded and logins that failed, for one user, client or server.
#[derive(Default, Clone, Copy)]
struct Tally {
    sessions: u64,
    ok: u64,
    failed: u64,
}

fn table(o: &mut dyn Write, title: &str, rows: HashMap<String, Tally>) -> io::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut rows: Vec<(String, Tally)> = rows.into_iter().collect();
    rows.sort_by(|a, b| {
        (b.1.sessions, b.1.failed)
            .cmp(&(a.1.sessions, a.1.failed))
            .then_with(|| a.0.cmp(&b.0))
    });
    let width = rows
        .iter()
        .take(TABLE_ROWS)
        .map(|r| r.0.chars().count())
        .max()
        .unwrap_or(0)
        .max(title.len());
    writeln!(o, "  {title:<width$}  sessions  logins ok  failed logins")?;
    for (name, t) in rows.iter().take(TABLE_ROWS) {
        writeln!(
            o,
            "  {name:<width$}  {:>8}  {:>9}  {:>13}",
            t.sessions, t.ok, t.failed
        )?;
    }
    if rows.len() > TABLE_ROWS {
        let rest = rows
            .iter()
            .skip(TABLE_ROWS)
            .fold(Tally::default(), |a, r| Tally {
                sessions: a.sessions + r.1.sessions,
                ok: a.ok + r.1.ok,
                failed: a.failed + r.1.failed,
            });
        let label = format!("… {} more", rows.len() - TABLE_ROWS);
        writeln!(
            o,
            "  {label:<width$}  {:>8}  {:>9}  {:>13}",
            rest.sessions, rest.ok, rest.failed
        )?;
    }
    writeln!(o)
}

/// The clients whose failed logins make a notice (see [`bruteforce`]).
fn bruteforcers(store: &Store) -> Vec<bruteforce::Notice> {
    let mut folded = bruteforce::Bruteforce::default();
    for s in &store.sessions {
        if let Some(end) = &s.end {
            let (client, server) = (s.start.client.ip(), s.start.server.ip());
            folded.session(client, server, s.start.ts, failed_logins(end));
        }
    }
    folded.notices()
}

fn span(span: TimeSpan) -> String {
    let span = span.clamp_negative();
    let secs = span / SECOND;
    match secs {
        0..60 => format!("{:.1} s", span.as_secs_f64()),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m{:02}s", secs / 3600, secs % 3600 / 60, secs % 60),
    }
}

fn is_listing(command: Option<&[u8]>) -> bool {
    matches!(command, Some(b"LIST" | b"NLST" | b"MLSD"))
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
        if let (Some(first), Some(last)) = (s.first_ts, s.last_ts) {
            writeln!(
                o,
                "capture: {} → {} ({})",
                rfc3339(first),
                rfc3339(last),
                span(last - first)
            )?;
        }
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
        let store = &mut self.store;
        let (mut ok, mut failed) = (0u64, 0u64);
        let (mut by_user, mut by_client, mut by_server) =
            (HashMap::new(), HashMap::new(), HashMap::new());
        for sv in &store.sessions {
            let Some(end) = &sv.end else { continue };
            let t = Tally {
                sessions: 1,
                ok: u64::from(end.login == LoginState::Ok),
                failed: failed_logins(end),
            };
            ok += t.ok;
            failed += t.failed;
            let user = end.user.as_deref().map_or_else(|| "-".to_owned(), short);
            for (map, key) in [
                (&mut by_user, user),
                (&mut by_client, sv.start.client.ip().to_string()),
                (&mut by_server, sv.start.server.to_string()),
            ] {
                let e: &mut Tally = map.entry(key).or_default();
                e.sessions += 1;
                e.ok += t.ok;
                e.failed += t.failed;
            }
        }
        let (mut files, mut file_bytes, mut listings) = (0u64, 0u64, 0u64);
        for t in &store.transfers {
            if is_listing(t.command.as_deref()) {
                listings += 1;
            } else if t.bytes > 0 {
                files += 1;
                file_bytes += t.bytes;
            }
        }
        writeln!(
            o,
            "{ok} logins ok, {failed} failed; {files} files with bytes ({}) and {listings} listings\n",
            human_bytes(file_bytes)
        )?;
        let brute = bruteforcers(store);
        let folded: HashSet<IpAddr> = brute.iter().map(|b| b.client).collect();
        if !brute.is_empty() {
            writeln!(
                o,
                "Notices ({} or more failed logins from one client within {}, as \
                 Zeek's FTP::Bruteforcing):",
                bruteforce::THRESHOLD,
                span(bruteforce::WINDOW)
            )?;
            for b in &brute {
                writeln!(
                    o,
                    "  FTP bruteforcing: {} had {} failed logins on {} FTP server{} in {} (from {}); \
                     its failed sessions without transfers are not listed one by one",
                    b.client,
                    b.failed,
                    b.servers,
                    if b.servers == 1 { "" } else { "s" },
                    span(b.last - b.first),
                    rfc3339(b.first)
                )?;
            }
            writeln!(o)?;
        }
        if !store.sessions.is_empty() {
            table(o, "user", by_user)?;
            table(o, "client", by_client)?;
            table(o, "server", by_server)?;
        }
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
        let mut folded_sessions = 0u64;
        for i in 0..store.sessions.len() {
            // A bruteforcing client's failed sessions that moved nothing are in its notice.
            let fold = store.sessions.get(i).is_some_and(|sv| {
                folded.contains(&sv.start.client.ip())
                    && sv.transfers.is_empty()
                    && sv.end.as_ref().is_some_and(|e| e.login != LoginState::Ok)
            });
            if fold {
                folded_sessions += 1;
                continue;
            }
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
                if end.tls {
                    for line in tls_lines(end.tls_info.as_deref()) {
                        writeln!(o, "  {line}")?;
                    }
                }
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
        if folded_sessions > 0 {
            writeln!(
                o,
                "… {folded_sessions} failed sessions of bruteforcing clients not shown one by one \
                 (see the notices above; --json has every one)\n"
            )?;
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
        let file_rows: Vec<usize> = (0..store.transfers.len())
            .filter(|&t| {
                store
                    .transfers
                    .get(t)
                    .is_some_and(|r| !is_listing(r.command.as_deref()) && r.command.is_some())
            })
            .collect();
        if !file_rows.is_empty() {
            writeln!(o, "\nFiles (path, verdict, size, sha256, file on disk):")?;
            for t in file_rows {
                let Some(row) = store.transfers.get(t).cloned() else {
                    continue;
                };
                let outcome = store.outcome(t);
                let path = row.path.as_deref().map_or_else(|| "-".into(), short);
                let sha256 = match &outcome {
                    Some(t) if t.record.bytes > 0 => t.digests.sha256.clone(),
                    _ => None,
                };
                let file = outcome
                    .as_ref()
                    .and_then(|t| t.file.as_ref())
                    .map_or_else(|| "-".into(), |f| escape(f.as_os_str().as_encoded_bytes()));
                writeln!(
                    o,
                    "  #{:<4} {path}  {}  {}  {}  {file}",
                    row.transfer,
                    row.status.as_str(),
                    human_bytes(row.bytes),
                    sha256.as_deref().unwrap_or("-"),
                )?;
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
