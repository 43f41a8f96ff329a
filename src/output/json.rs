//! JSON Lines: one record per line, each with a `type` (schema in the README).
//!
//! Wire bytes become JSON strings when they are UTF-8; otherwise the string is a lossy view
//! and a `<field>_hex` field carries the exact bytes. Passwords are masked unless asked for;
//! anonymous users' passwords (e-mail addresses by convention) are shown.

use crate::pipeline::{Output, Record, RunSummary};
use crate::text::{json_text, rfc3339};
use crate::transfers::TransferOutcome;
use ftpscope_core::{AnomalyKind, Exchange, SessionId, SessionSummary};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::io::{self, Write};

pub const MASK: &str = "********";

fn put_bytes(map: &mut Map<String, Value>, key: &str, bytes: Option<&[u8]>) {
    match bytes {
        None => {
            map.insert(key.into(), Value::Null);
        }
        Some(b) => {
            let (text, hex) = json_text(b);
            map.insert(key.into(), Value::String(text));
            if let Some(hex) = hex {
                map.insert(format!("{key}_hex"), Value::String(hex));
            }
        }
    }
}

pub fn session_json(s: &SessionSummary, detected_by: Option<&str>, show_passwords: bool) -> Value {
    let mut m = Map::with_capacity(16);
    m.insert("type".into(), "session".into());
    m.insert("session".into(), s.session.into());
    m.insert("client".into(), s.client.to_string().into());
    m.insert("server".into(), s.server.to_string().into());
    put_bytes(&mut m, "user", s.user.as_deref());
    match &s.password {
        Some(p) if show_passwords || s.anonymous => put_bytes(&mut m, "password", Some(p)),
        Some(_) => {
            m.insert("password".into(), MASK.into());
        }
        None => {
            m.insert("password".into(), Value::Null);
        }
    }
    m.insert("login".into(), s.login.as_str().into());
    m.insert("login_attempts".into(), s.login_attempts.into());
    m.insert("tls".into(), s.tls.into());
    m.insert("start".into(), rfc3339(s.start).into());
    m.insert("end".into(), rfc3339(s.end).into());
    m.insert("commands".into(), s.commands.into());
    m.insert("transfers".into(), s.transfers.into());
    m.insert("end_reason".into(), s.end_reason.into());
    m.insert(
        "detected_by".into(),
        detected_by.map_or(Value::Null, Value::from),
    );
    Value::Object(m)
}

pub fn command_json(e: &Exchange, show_passwords: bool) -> Value {
    let mut m = Map::with_capacity(12);
    m.insert("type".into(), "command".into());
    m.insert("session".into(), e.session.into());
    let ts = e
        .command
        .as_ref()
        .map(|c| c.ts)
        .or_else(|| e.replies.first().map(|r| r.ts));
    m.insert("ts".into(), ts.map_or(Value::Null, |t| rfc3339(t).into()));
    match &e.command {
        Some(c) => {
            put_bytes(&mut m, "command", Some(&c.verb));
            if c.secret && !show_passwords {
                m.insert("arg".into(), MASK.into());
            } else {
                put_bytes(&mut m, "arg", Some(&c.arg));
            }
        }
        None => {
            m.insert("command".into(), Value::Null);
            m.insert("arg".into(), Value::Null);
        }
    }
    let last = e.final_reply().or(e.replies.last());
    m.insert(
        "reply_code".into(),
        last.map_or(Value::Null, |r| r.code.into()),
    );
    put_bytes(&mut m, "reply_text", last.map(|r| &r.text[..]));
    m.insert(
        "reply_ts".into(),
        last.map_or(Value::Null, |r| rfc3339(r.ts).into()),
    );
    let prelim: Vec<Value> = e
        .replies
        .iter()
        .filter(|r| r.code < 200)
        .map(|r| r.code.into())
        .collect();
    if !prelim.is_empty() {
        m.insert("preliminary".into(), Value::Array(prelim));
    }
    Value::Object(m)
}

pub fn transfer_json(o: &TransferOutcome) -> Value {
    let r = &o.record;
    let mut m = Map::with_capacity(32);
    m.insert("type".into(), "transfer".into());
    m.insert("transfer".into(), r.transfer.into());
    m.insert("session".into(), r.session.map_or(Value::Null, Value::from));
    m.insert("start".into(), rfc3339(r.start).into());
    m.insert("end".into(), rfc3339(r.end).into());
    put_bytes(&mut m, "command", r.command.as_deref());
    put_bytes(&mut m, "path", r.path.as_deref());
    put_bytes(&mut m, "full_path", r.full_path.as_deref());
    m.insert("direction".into(), r.direction.as_str().into());
    m.insert(
        "mode".into(),
        r.mode.map_or(Value::Null, |x| x.as_str().into()),
    );
    m.insert(
        "announced_by".into(),
        r.announced_by.map_or(Value::Null, Value::from),
    );
    m.insert(
        "announced".into(),
        r.announced.map_or(Value::Null, |a| a.to_string().into()),
    );
    m.insert("link".into(), r.link.as_str().into());
    m.insert(
        "data_client".into(),
        r.data_initiator
            .map_or(Value::Null, |a| a.to_string().into()),
    );
    m.insert(
        "data_server".into(),
        r.data_responder
            .map_or(Value::Null, |a| a.to_string().into()),
    );
    m.insert(
        "type_code".into(),
        r.transfer_type
            .map_or(Value::Null, |t| char::from(t).to_string().into()),
    );
    m.insert("offset".into(), r.offset.into());
    m.insert("bytes".into(), r.bytes.into());
    m.insert(
        "expected_bytes".into(),
        r.expected_bytes.map_or(Value::Null, Value::from),
    );
    m.insert("gap_bytes".into(), r.gap_bytes.into());
    m.insert("missing_bytes".into(), r.missing_bytes.into());
    m.insert("sha256".into(), o.sha256.clone().into());
    m.insert("status".into(), r.status.as_str().into());
    m.insert("reason".into(), r.reason.clone().into());
    m.insert(
        "reply_code".into(),
        r.reply_code.map_or(Value::Null, Value::from),
    );
    if let Some(l) = &o.listing {
        m.insert("listing_entries".into(), l.entries.len().into());
        if l.truncated {
            m.insert("listing_truncated".into(), true.into());
        }
    }
    if let Some(f) = &o.file {
        m.insert("file".into(), f.display().to_string().into());
    }
    if let Some(e) = &o.file_error {
        m.insert("file_error".into(), e.clone().into());
    }
    if let Some(prev) = o.resumes {
        m.insert("resumes_transfer".into(), prev.into());
    }
    if let Some(f) = &o.combined_file {
        m.insert("combined_file".into(), f.display().to_string().into());
    }
    if let Some(h) = &o.combined_sha256 {
        m.insert("combined_sha256".into(), h.clone().into());
    }
    if let Some(n) = o.capture_drops {
        m.insert("capture_drops".into(), n.into());
    }
    Value::Object(m)
}

pub fn listing_entries_json(o: &TransferOutcome) -> Vec<Value> {
    let Some(listing) = &o.listing else {
        return Vec::new();
    };
    listing
        .entries
        .iter()
        .map(|e| {
            let mut m = Map::with_capacity(12);
            m.insert("type".into(), "listing_entry".into());
            m.insert("transfer".into(), o.record.transfer.into());
            m.insert(
                "session".into(),
                o.record.session.map_or(Value::Null, Value::from),
            );
            put_bytes(&mut m, "name", Some(&e.name));
            m.insert("kind".into(), format!("{:?}", e.kind).to_lowercase().into());
            m.insert("size".into(), e.size.map_or(Value::Null, Value::from));
            m.insert(
                "modified".into(),
                e.modified.clone().map_or(Value::Null, Value::from),
            );
            if let Some(t) = &e.link_target {
                put_bytes(&mut m, "link_target", Some(t));
            }
            if let Some(p) = &e.permissions {
                m.insert("permissions".into(), p.clone().into());
            }
            Value::Object(m)
        })
        .collect()
}

pub fn summary_json(s: &RunSummary) -> Value {
    let mut anomalies = Map::new();
    for kind in AnomalyKind::ALL {
        let n = s.stats.anomaly_count(*kind);
        if n > 0 {
            anomalies.insert(kind.as_str().into(), n.into());
        }
    }
    let damage: Vec<Value> = s
        .damage
        .iter()
        .map(|d| json!({"input": d.name, "offset": d.damage.offset, "what": d.damage.what}))
        .collect();
    let mut v = json!({
        "type": "summary",
        "inputs": s.inputs,
        "frames": s.stats.frames,
        "bytes": s.stats.wire_bytes,
        "captured_bytes": s.stats.captured_bytes,
        "tcp_connections": s.stats.connections,
        "sessions": s.stats.sessions,
        "transfers": s.stats.transfers,
        "anomalies": anomalies,
        "damage": damage,
    });
    if let (Some(c), Value::Object(m)) = (&s.capture, &mut v) {
        m.insert("interface".into(), c.interface.clone().into());
        m.insert("received".into(), c.received.into());
        m.insert("kernel_drops".into(), c.kernel_drops.into());
        m.insert("interface_drops".into(), c.interface_drops.into());
        m.insert("transfers_with_drops".into(), c.transfers_with_drops.into());
    }
    v
}

/// Writes every record as one JSON line.
pub struct JsonLines<W: Write> {
    out: W,
    show_passwords: bool,
    detected_by: HashMap<SessionId, &'static str>,
    /// One record's JSON, reused from line to line.
    buf: Vec<u8>,
}

impl<W: Write> JsonLines<W> {
    pub fn new(out: W, show_passwords: bool) -> Self {
        JsonLines {
            out,
            show_passwords,
            detected_by: HashMap::new(),
            buf: Vec::new(),
        }
    }

    fn line(&mut self, v: &Value) -> io::Result<()> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, v)?;
        // serde_json writes UTF-8; the check is a fast scan.
        let text = std::str::from_utf8(&self.buf).map_err(io::Error::other)?;
        self.out.write_all(terminal_safe(text).as_bytes())?;
        self.out.write_all(b"\n")
    }
}

/// serde_json escapes C0 controls but leaves DEL, C1 controls (U+0080-U+009F, which some
/// terminals obey as CSI/OSC) and bidi overrides raw inside strings. They become `\uXXXX`
/// escapes: the JSON value is the same, and JSON read on a terminal cannot act on it.
pub fn terminal_safe(json: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| matches!(c, '\u{7f}'..='\u{9f}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if json.bytes().all(|b| b < 0x7f) {
        return json.into();
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out.into()
}

impl<W: Write> Output for JsonLines<W> {
    fn record(&mut self, record: &Record) -> io::Result<()> {
        match record {
            Record::SessionStarted(s) => {
                self.detected_by.insert(s.session, s.detected_by);
                Ok(())
            }
            Record::Exchange(e) => {
                let v = command_json(e, self.show_passwords);
                self.line(&v)
            }
            Record::SessionEnded(s) => {
                let detected = self.detected_by.remove(&s.session);
                let v = session_json(s, detected, self.show_passwords);
                self.line(&v)
            }
            Record::Transfer(t) => {
                self.line(&transfer_json(t))?;
                for v in listing_entries_json(t) {
                    self.line(&v)?;
                }
                Ok(())
            }
            Record::Anomaly(a) => {
                let v = json!({
                    "type": "anomaly",
                    "kind": a.kind.as_str(),
                    "ts": rfc3339(a.ts),
                    "session": a.session,
                    "client": a.flow.map(|f| f.0.to_string()),
                    "server": a.flow.map(|f| f.1.to_string()),
                    "detail": a.detail,
                });
                self.line(&v)
            }
            Record::Damage(d) => {
                let v = json!({"type": "damage", "input": d.name, "offset": d.damage.offset, "what": d.damage.what});
                self.line(&v)
            }
        }
    }

    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        let v = summary_json(summary);
        self.line(&v)?;
        self.out.flush()
    }
}
