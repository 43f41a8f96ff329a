//! JSON Lines: one record per line, each with a `type` (described in docs/json.md, schema in docs/schema/).
//!
//! Wire bytes become JSON strings when they are UTF-8; otherwise the string is a lossy view
//! and a `<field>_hex` field carries the exact bytes. Passwords are masked unless asked for;
//! anonymous users' passwords (e-mail addresses by convention) are shown.
//!
//! Records are written field by field (`Obj`), not built as `serde_json::Value` maps first:
//! same bytes, several times faster with many small records.

use crate::output::context::{Contexts, SessionContext, server_software};
use crate::output::flow_id::connection_ids;
use crate::pipeline::{Output, Record, RunSummary};
use crate::text::{hex, rfc3339_into};
use crate::transfers::{HashChoice, TransferOutcome};
use ftpscope_core::event::{FrameSpan, TlsFacts};
use ftpscope_core::ftp::listing::ListingEntry;
use ftpscope_core::{
    AnnouncedBy, Anomaly, AnomalyKind, DetectedBy, Exchange, SessionId, SessionSummary, TimeSpan,
    Timestamp, TransferStatus,
};
use std::collections::HashMap;
use std::fmt::Display;
use std::io::{self, Write};
use std::net::SocketAddr;

pub const MASK: &str = "********";

/// How strings are escaped. Both give the same JSON values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escapes {
    /// What serde_json escapes: `"`, `\` and C0 controls.
    Json,
    /// Also DEL, C1 controls (U+0080-U+009F, which some terminals obey as CSI/OSC) and bidi
    /// overrides, as `\uXXXX`, so JSON read on a terminal cannot act on it (`--json`).
    TerminalSafe,
}

/// One JSON object written field by field straight into a buffer: compact, fields in the order
/// they are added, strings escaped as serde_json escapes them (plus [`Escapes::TerminalSafe`]).
/// Building a `serde_json::Value` map per record first cost about 2 µs a line (an allocation
/// per key and value, hashing every key), most of `--json`'s time with many small sessions.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    escapes: Escapes,
    empty: bool,
}

impl<'a> Obj<'a> {
    fn new(out: &'a mut Vec<u8>, escapes: Escapes) -> Self {
        out.push(b'{');
        Obj {
            out,
            escapes,
            empty: true,
        }
    }

    /// Keys are ASCII words of this file: nothing in them needs escaping. Inlined, so a key
    /// written as a literal is copied as a constant (a call to copy a few bytes of unknown
    /// length cost more than the copy, and records have 10 to 40 keys).
    #[inline(always)]
    fn key(&mut self, key: &str) {
        self.key_with_suffix(key, "");
    }

    #[inline(always)]
    fn key_with_suffix(&mut self, key: &str, suffix: &str) {
        let open: &[u8] = if self.empty { b"\"" } else { b",\"" };
        self.empty = false;
        self.out.extend_from_slice(open);
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(suffix.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    #[inline(always)]
    fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        string(self.out, value, self.escapes);
    }

    #[inline(always)]
    fn opt_str(&mut self, key: &str, value: Option<&str>) {
        match value {
            Some(v) => self.str(key, v),
            None => self.null(key),
        }
    }

    #[inline(always)]
    fn null(&mut self, key: &str) {
        self.key(key);
        self.out.extend_from_slice(b"null");
    }

    #[inline(always)]
    fn bool(&mut self, key: &str, value: bool) {
        self.key(key);
        let text: &[u8] = if value { b"true" } else { b"false" };
        self.out.extend_from_slice(text);
    }

    #[inline(always)]
    fn u64(&mut self, key: &str, value: u64) {
        self.key(key);
        number(self.out, value);
    }

    #[inline(always)]
    fn opt_u64(&mut self, key: &str, value: Option<u64>) {
        match value {
            Some(v) => self.u64(key, v),
            None => self.null(key),
        }
    }

    /// A connection's frame numbers (Wireshark's `frame.number`), or nulls.
    fn frames(&mut self, span: Option<FrameSpan>) {
        self.opt_u64("first_frame", span.map(|f| f.first));
        self.opt_u64("last_frame", span.map(|f| f.last));
    }

    /// A value's `Display` as a JSON string (addresses, paths), or null.
    fn display(&mut self, key: &str, value: Option<impl Display>) {
        let Some(value) = value else {
            return self.null(key);
        };
        self.key(key);
        self.out.push(b'"');
        let start = self.out.len();
        let _ = write!(self.out, "{value}");
        let written = self.out.get(start..).unwrap_or_default();
        // Addresses never need escaping: they stay where they were written. Anything else is
        // escaped from a copy.
        match std::str::from_utf8(written) {
            Ok(text) if !needs_escape(text, self.escapes) => self.out.push(b'"'),
            _ => {
                let written = self.out.split_off(start);
                self.out.pop(); // the opening quote; `string` writes its own
                string(self.out, &String::from_utf8_lossy(&written), self.escapes);
            }
        }
    }

    /// An address as `Display` writes it; IPv4 by hand (most records carry two or three).
    fn addr(&mut self, key: &str, addr: Option<SocketAddr>) {
        let Some(SocketAddr::V4(a)) = addr else {
            return self.display(key, addr);
        };
        self.key(key);
        self.out.push(b'"');
        for (i, octet) in a.ip().octets().into_iter().enumerate() {
            if i > 0 {
                self.out.push(b'.');
            }
            number(self.out, u64::from(octet));
        }
        self.out.push(b':');
        number(self.out, u64::from(a.port()));
        self.out.push(b'"');
    }

    fn ts(&mut self, key: &str, ts: Option<Timestamp>) {
        let Some(ts) = ts else {
            return self.null(key);
        };
        self.key(key);
        self.out.push(b'"');
        rfc3339_into(self.out, ts);
        self.out.push(b'"');
    }

    /// Wire bytes: the text when it is UTF-8; otherwise a lossy view, and `<key>_hex` with
    /// the exact bytes.
    fn bytes(&mut self, key: &str, bytes: Option<&[u8]>) {
        let Some(bytes) = bytes else {
            return self.null(key);
        };
        match std::str::from_utf8(bytes) {
            Ok(text) => self.str(key, text),
            Err(_) => {
                self.str(key, &String::from_utf8_lossy(bytes));
                self.key_with_suffix(key, "_hex");
                string(self.out, &hex(bytes), self.escapes);
            }
        }
    }

    /// A span of packet time in seconds, with microseconds (`1.250000`); negative spans
    /// (a capture's clock stepping back) count as 0.
    fn seconds(&mut self, key: &str, span: TimeSpan) {
        self.key(key);
        let micros = u64::try_from(span.clamp_negative().as_nanos() / 1000).unwrap_or(0);
        number(self.out, micros / 1_000_000);
        let frac = micros % 1_000_000;
        let _ = write!(self.out, ".{frac:06}");
    }

    /// What a TLS connection showed (FTPS): an object, or null when there was no TLS.
    fn tls(&mut self, key: &str, under_tls: bool, facts: Option<&TlsFacts>) {
        if !under_tls && facts.is_none() {
            return self.null(key);
        }
        self.key(key);
        let default = TlsFacts::default();
        let t = facts.unwrap_or(&default);
        let mut m = Obj::new(&mut *self.out, self.escapes);
        m.opt_str("version", t.version.as_deref());
        m.opt_str("cipher_suite", t.cipher_suite.as_deref());
        m.bytes("sni", t.sni.as_deref());
        m.bytes("alpn", t.alpn.as_deref());
        m.opt_str("resumed", t.resumed.as_deref());
        m.bool("decrypted", t.decrypted);
        m.bool("close_notify", t.close_notify);
        match &t.certificate {
            Some(c) => {
                m.key("certificate");
                let mut cert = Obj::new(&mut *m.out, m.escapes);
                cert.str("subject", &c.subject);
                cert.str("issuer", &c.issuer);
                cert.ts("not_before", Some(Timestamp::from_secs(c.not_before)));
                cert.ts("not_after", Some(Timestamp::from_secs(c.not_after)));
                cert.str("sha256", &hex(&c.sha256));
                cert.end();
            }
            None => m.null("certificate"),
        }
        m.end();
    }

    fn end(self) {
        self.out.push(b'}');
    }
}

/// `n` in decimal, as serde_json writes it (with serde_json's own formatter, two digits a step).
fn number(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// What a byte of a string becomes, when it is not copied as is: `\"`, `\\`, the short
/// escapes serde_json uses (`\b \t \n \f \r`), or `\u00XX` for other C0 controls (and DEL
/// with [`Escapes::TerminalSafe`]).
fn ascii_escape(b: u8, escapes: Escapes) -> Option<&'static [u8]> {
    const CONTROL: [&[u8]; 32] = [
        b"\\u0000", b"\\u0001", b"\\u0002", b"\\u0003", b"\\u0004", b"\\u0005", b"\\u0006",
        b"\\u0007", b"\\b", b"\\t", b"\\n", b"\\u000b", b"\\f", b"\\r", b"\\u000e", b"\\u000f",
        b"\\u0010", b"\\u0011", b"\\u0012", b"\\u0013", b"\\u0014", b"\\u0015", b"\\u0016",
        b"\\u0017", b"\\u0018", b"\\u0019", b"\\u001a", b"\\u001b", b"\\u001c", b"\\u001d",
        b"\\u001e", b"\\u001f",
    ];
    match b {
        b'"' => Some(b"\\\""),
        b'\\' => Some(b"\\\\"),
        0x7f if escapes == Escapes::TerminalSafe => Some(b"\\u007f"),
        _ => CONTROL.get(usize::from(b)).copied(),
    }
}

/// With [`Escapes::TerminalSafe`], the character starting at `rest[0]` when it is a C1 control
/// or a bidi override, and its UTF-8 length: C1 is `C2 80`-`C2 9F`; U+061C (Arabic Letter
/// Mark) is `D8 9C`; U+200E/F are `E2 80 8E`/`8F`, U+202A-E `E2 80 AA`-`AE`, U+2066-9
/// `E2 81 A6`-`A9`.
fn unsafe_char(rest: &[u8]) -> Option<(u32, usize)> {
    match *rest {
        [0xc2, b @ 0x80..=0x9f, ..] => Some((u32::from(b), 2)),
        [0xd8, 0x9c, ..] => Some((0x061c, 2)),
        [0xe2, 0x80, b @ (0x8e | 0x8f | 0xaa..=0xae), ..] => {
            Some((0x2000 + u32::from(b) - 0x80, 3))
        }
        [0xe2, 0x81, b @ 0xa6..=0xa9, ..] => Some((0x2040 + u32::from(b) - 0x80, 3)),
        _ => None,
    }
}

/// Bytes that may need escaping: C0 controls, `"`, `\`, DEL, and the lead bytes of C1
/// controls (`C2`) and of bidi marks (`D8`, `E2`). Every other byte is copied as is.
const ATTENTION: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] =
            b < 0x20 || b == 0x22 || b == 0x5c || b == 0x7f || b == 0xc2 || b == 0xd8 || b == 0xe2;
        b += 1;
    }
    table
};

fn needs_escape(s: &str, escapes: Escapes) -> bool {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    bytes.iter().any(|&b| ATTENTION[usize::from(b)]) && {
        string(&mut out, s, escapes);
        out.len() != bytes.len() + 2
    }
}

/// `s` as a JSON string. Runs of bytes that need nothing are copied at once.
fn string(out: &mut Vec<u8>, s: &str, escapes: Escapes) {
    let bytes = s.as_bytes();
    out.push(b'"');
    let mut copied = 0;
    let mut i = 0;
    while let Some(at) = next_attention(bytes, i) {
        i = at;
        let b = bytes[i];
        if let Some(e) = ascii_escape(b, escapes) {
            out.extend_from_slice(&bytes[copied..i]);
            out.extend_from_slice(e);
            i += 1;
            copied = i;
        } else if escapes == Escapes::TerminalSafe
            && let Some((code, len)) = unsafe_char(&bytes[i..])
        {
            out.extend_from_slice(&bytes[copied..i]);
            let _ = write!(out, "\\u{code:04x}");
            i += len;
            copied = i;
        } else {
            i += 1;
        }
    }
    out.extend_from_slice(&bytes[copied..]);
    out.push(b'"');
}

/// The first byte at or after `from` that [`ATTENTION`] marks. Eight bytes are tested at once
/// while they are printable ASCII other than `"` and `\` (nearly all of what FTP says); a word
/// that is not is looked at byte by byte.
fn next_attention(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // Nonzero when some byte of `w` is below `n` (n <= 0x80), or has its high bit set.
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) | w;
    let zero_byte = |w: u64| w.wrapping_sub(ONES) & !w;
    let mut at = from;
    while let Some(word) = bytes.get(at..at + 8) {
        let mut eight = [0; 8];
        eight.copy_from_slice(word);
        let w = u64::from_ne_bytes(eight);
        let flagged = below(w, 0x20)
            | zero_byte(w ^ (ONES * 0x22))
            | zero_byte(w ^ (ONES * 0x5c))
            | zero_byte(w ^ (ONES * 0x7f));
        if flagged & HIGH != 0
            && let Some(p) = word.iter().position(|&b| ATTENTION[usize::from(b)])
        {
            return Some(at + p);
        }
        at += 8;
    }
    let rest = bytes.get(at..)?;
    rest.iter()
        .position(|&b| ATTENTION[usize::from(b)])
        .map(|p| at + p)
}

/// The control connection's ids: the stable connection id and the Community ID.
fn ids_fields(m: &mut Obj<'_>, start: Timestamp, ends: Option<(SocketAddr, SocketAddr)>) {
    match ends {
        Some((initiator, responder)) => {
            let (conn_id, community_id) = connection_ids(start, initiator, responder);
            m.str("conn_id", &conn_id);
            m.str("community_id", &community_id);
        }
        None => {
            m.null("conn_id");
            m.null("community_id");
        }
    }
}

pub fn write_session(
    out: &mut Vec<u8>,
    s: &SessionSummary,
    detected_by: Option<DetectedBy>,
    context: Option<&SessionContext>,
    show_passwords: bool,
) {
    let mut m = Obj::new(out, Escapes::TerminalSafe);
    m.str("type", "session");
    m.u64("session", s.session);
    m.addr("client", Some(s.client));
    m.addr("server", Some(s.server));
    m.bytes("user", s.user.as_deref());
    match &s.password {
        Some(p) if show_passwords || s.anonymous => m.bytes("password", Some(p)),
        Some(_) => m.str("password", MASK),
        None => m.null("password"),
    }
    m.str("login", s.login.as_str());
    m.u64("login_attempts", u64::from(s.login_attempts));
    m.tls("tls", s.tls, s.tls_info.as_deref());
    m.ts("start", Some(s.start));
    m.ts("end", Some(s.end));
    m.u64("commands", s.commands);
    m.u64("transfers", s.transfers);
    m.str("end_reason", s.end_reason.as_str());
    m.opt_str("detected_by", detected_by.map(DetectedBy::as_str));
    m.frames(s.frames);
    session_context_fields(&mut m, s, context);
    m.end();
}

/// What a session record adds from the dialogue (see [`SessionContext`]).
fn session_context_fields(m: &mut Obj<'_>, s: &SessionSummary, c: Option<&SessionContext>) {
    match c.and_then(|c| c.conn_id.as_deref().zip(c.community_id.as_deref())) {
        Some((conn_id, community_id)) => {
            m.str("conn_id", conn_id);
            m.str("community_id", community_id);
        }
        None => ids_fields(m, s.start, Some((s.client, s.server))),
    }
    m.seconds("duration", s.end - s.start);
    let banner = c.and_then(|c| c.banner.as_deref());
    m.bytes("banner", banner);
    let software = banner.and_then(server_software);
    m.opt_str("server_software", software.as_ref().map(|(name, _)| *name));
    m.opt_str(
        "server_version",
        software.as_ref().and_then(|(_, v)| v.as_deref()),
    );
    m.bytes("syst", c.and_then(|c| c.syst.as_deref()));
    m.bytes("feat", c.and_then(|c| c.feat.as_deref()));
    m.bytes("clnt", c.and_then(|c| c.clnt.as_deref()));
    m.u64("client_bytes", c.map_or(0, |c| c.client_bytes));
    m.u64("server_bytes", c.map_or(0, |c| c.server_bytes));
}

pub fn write_command(out: &mut Vec<u8>, e: &Exchange, show_passwords: bool) {
    let mut m = Obj::new(out, Escapes::TerminalSafe);
    m.str("type", "command");
    m.u64("session", e.session);
    m.ts("ts", e.ts());
    match &e.command {
        Some(c) => {
            m.bytes("command", Some(&c.verb));
            if c.secret && !show_passwords {
                m.str("arg", MASK);
            } else {
                m.bytes("arg", Some(&c.arg));
            }
        }
        None => {
            m.null("command");
            m.null("arg");
        }
    }
    let last = e.final_reply().or(e.replies.last());
    m.opt_u64("reply_code", last.map(|r| u64::from(r.code)));
    m.bytes("reply_text", last.map(|r| &r.text[..]));
    m.ts("reply_ts", last.map(|r| r.ts));
    let mut prelim = e.replies.iter().filter(|r| r.code < 200).peekable();
    if prelim.peek().is_some() {
        m.key("preliminary");
        m.out.push(b'[');
        for (i, r) in prelim.enumerate() {
            if i > 0 {
                m.out.push(b',');
            }
            number(m.out, u64::from(r.code));
        }
        m.out.push(b']');
    }
    m.end();
}

/// What a transfer record says beyond its outcome: the run's choices and its session's
/// context. (A field for each further thing a record may carry, such as TLS, goes here.)
#[derive(Debug, Clone, Copy, Default)]
pub struct TransferFields<'a> {
    /// The digests `--hash` chose: each has a field (null when the transfer is `encrypted`).
    pub hashes: HashChoice,
    /// Its session as known when the transfer ended (None: an orphan, or not followed).
    pub session: Option<&'a SessionContext>,
}

/// A transfer record: a line of `--json` and of `-x`'s `index.jsonl` (both with
/// [`Escapes::TerminalSafe`]: `cat index.jsonl` must not act on a terminal either).
pub fn write_transfer(
    out: &mut Vec<u8>,
    o: &TransferOutcome,
    fields: &TransferFields<'_>,
    escapes: Escapes,
) {
    let r = &o.record;
    let mut m = Obj::new(out, escapes);
    m.str("type", "transfer");
    m.u64("transfer", r.transfer);
    m.opt_u64("session", r.session);
    m.ts("start", Some(r.start));
    m.ts("end", Some(r.end));
    m.bytes("command", r.command.as_deref());
    m.bytes("path", r.path.as_deref());
    m.bytes("full_path", r.full_path.as_deref());
    m.str("direction", r.direction.as_str());
    m.opt_str("mode", r.mode.map(|x| x.as_str()));
    m.opt_str("announced_by", r.announced_by.map(AnnouncedBy::as_str));
    m.addr("announced", r.announced);
    m.str("link", r.link.as_str());
    m.addr("data_client", r.data_initiator);
    m.addr("data_server", r.data_responder);
    // A byte as the character of the same number (Latin-1), as it always was.
    m.display("type_code", r.transfer_type.map(char::from));
    m.u64("offset", r.offset);
    m.u64("bytes", r.bytes);
    m.opt_u64("expected_bytes", r.expected_bytes);
    m.u64("gap_bytes", r.gap_bytes);
    m.u64("missing_bytes", r.missing_bytes);
    // Ciphertext was neither kept nor hashed: a digest of nothing would pass for the file's.
    let encrypted = r.status == TransferStatus::Encrypted;
    if fields.hashes.sha256 {
        let digest = o.digests.sha256.as_deref().filter(|_| !encrypted);
        m.opt_str("sha256", digest);
    }
    m.str("status", r.status.as_str());
    m.str("reason", &r.reason);
    m.opt_u64("reply_code", r.reply_code.map(u64::from));
    m.frames(r.frames);
    if let Some(tls) = r.tls.as_deref() {
        m.tls("tls", true, Some(tls));
    }
    if let Some(l) = &o.listing {
        m.u64("listing_entries", l.entries.len() as u64);
        if l.truncated {
            m.bool("listing_truncated", true);
        }
    }
    if let Some(f) = &o.file {
        m.display("file", Some(f.display()));
    }
    if let Some(e) = &o.file_error {
        m.str("file_error", e);
    }
    if let Some(prev) = o.resumes {
        m.u64("resumes_transfer", prev);
    }
    if let Some(f) = &o.combined_file {
        m.display("combined_file", Some(f.display()));
    }
    if let Some(h) = &o.combined_sha256 {
        m.str("combined_sha256", h);
    }
    if let Some(n) = o.capture_drops {
        m.u64("capture_drops", n);
    }
    transfer_context_fields(&mut m, o, fields);
    m.end();
}

/// What a transfer record adds for joining and triage: its session's user and control
/// connection, its data connection's ids, duration, throughput, type and further digests.
fn transfer_context_fields(m: &mut Obj<'_>, o: &TransferOutcome, fields: &TransferFields<'_>) {
    let r = &o.record;
    let c = fields.session;
    m.bytes("user", c.and_then(|c| c.user.as_deref()));
    m.addr("control_client", c.and_then(|c| c.client));
    m.addr("control_server", c.and_then(|c| c.server));
    m.opt_str("control_conn_id", c.and_then(|c| c.conn_id.as_deref()));
    ids_fields(m, r.start, r.data_initiator.zip(r.data_responder));
    let span = r.end - r.start;
    m.seconds("duration", span);
    let rate = u64::try_from(span.as_nanos())
        .ok()
        .filter(|&n| n > 0)
        .map(|n| {
            let rate = u128::from(r.bytes) * 1_000_000_000 / u128::from(n);
            u64::try_from(rate).unwrap_or(u64::MAX)
        });
    m.opt_u64("bytes_per_second", rate);
    m.opt_str("mime_type", o.digests.mime_type.as_deref());
    let encrypted = r.status == TransferStatus::Encrypted;
    for (chosen, name, digest) in [
        (fields.hashes.md5, "md5", &o.digests.md5),
        (fields.hashes.sha1, "sha1", &o.digests.sha1),
    ] {
        if chosen {
            m.opt_str(name, digest.as_deref().filter(|_| !encrypted));
        }
    }
}

pub fn write_listing_entry(out: &mut Vec<u8>, o: &TransferOutcome, e: &ListingEntry) {
    let mut m = Obj::new(out, Escapes::TerminalSafe);
    m.str("type", "listing_entry");
    m.u64("transfer", o.record.transfer);
    m.opt_u64("session", o.record.session);
    m.bytes("name", Some(&e.name));
    m.str("kind", e.kind.as_str());
    m.opt_u64("size", e.size);
    m.opt_str("modified", e.modified.as_deref());
    if let Some(t) = &e.link_target {
        m.bytes("link_target", Some(t));
    }
    if let Some(p) = &e.permissions {
        m.str("permissions", p);
    }
    m.end();
}

pub fn write_anomaly(out: &mut Vec<u8>, a: &Anomaly) {
    let mut m = Obj::new(out, Escapes::TerminalSafe);
    m.str("type", "anomaly");
    m.str("kind", a.kind.as_str());
    m.ts("ts", Some(a.ts));
    m.opt_u64("session", a.session);
    m.addr("client", a.flow.map(|f| f.0));
    m.addr("server", a.flow.map(|f| f.1));
    m.str("detail", &a.detail);
    m.end();
}

fn damage_fields(m: &mut Obj<'_>, input: &str, offset: u64, what: &str) {
    m.str("input", input);
    m.u64("offset", offset);
    m.str("what", what);
}

pub fn write_damage(out: &mut Vec<u8>, d: &crate::capture::InputDamage) {
    let mut m = Obj::new(out, Escapes::TerminalSafe);
    m.str("type", "damage");
    damage_fields(&mut m, &d.name, d.damage.offset, &d.damage.what);
    m.end();
}

pub fn write_summary(out: &mut Vec<u8>, s: &RunSummary) {
    let escapes = Escapes::TerminalSafe;
    let mut m = Obj::new(out, escapes);
    m.str("type", "summary");
    m.key("inputs");
    m.out.push(b'[');
    for (i, input) in s.inputs.iter().enumerate() {
        if i > 0 {
            m.out.push(b',');
        }
        string(m.out, input, escapes);
    }
    m.out.push(b']');
    m.u64("frames", s.stats.frames);
    m.u64("bytes", s.stats.wire_bytes);
    m.u64("captured_bytes", s.stats.captured_bytes);
    m.u64("tcp_connections", s.stats.connections);
    m.u64("sessions", s.stats.sessions);
    m.u64("transfers", s.stats.transfers);
    let attempts = &s.stats.connection_attempts;
    if attempts.total > 0 {
        // Present only when there were some: most captures have none.
        m.key("connection_attempts");
        let mut a = Obj::new(m.out, escapes);
        a.u64("total", attempts.total);
        a.key("servers");
        a.out.push(b'[');
        for (i, (server, count)) in attempts.by_count().into_iter().enumerate() {
            if i > 0 {
                a.out.push(b',');
            }
            let mut one = Obj::new(a.out, escapes);
            one.addr("server", Some(server));
            one.u64("attempts", count.attempts);
            one.ts("first", Some(count.first));
            one.ts("last", Some(count.last));
            one.end();
        }
        a.out.push(b']');
        a.u64("other_servers", attempts.other_servers);
        a.end();
    }
    m.key("anomalies");
    let mut anomalies = Obj::new(m.out, escapes);
    for kind in AnomalyKind::ALL {
        let n = s.stats.anomaly_count(*kind);
        if n > 0 {
            anomalies.u64(kind.as_str(), n);
        }
    }
    anomalies.end();
    m.key("damage");
    m.out.push(b'[');
    for (i, d) in s.damage.iter().enumerate() {
        if i > 0 {
            m.out.push(b',');
        }
        let mut one = Obj::new(m.out, escapes);
        damage_fields(&mut one, &d.name, d.damage.offset, &d.damage.what);
        one.end();
    }
    m.out.push(b']');
    if let Some(c) = &s.capture {
        m.str("interface", &c.interface);
        m.u64("received", c.received);
        m.u64("kernel_drops", c.kernel_drops);
        m.u64("interface_drops", c.interface_drops);
        m.u64("transfers_with_drops", c.transfers_with_drops);
    }
    m.ts("first_packet", s.first_ts);
    m.ts("last_packet", s.last_ts);
    m.end();
}

/// Writes every record as one JSON line.
pub struct JsonLines<W: Write> {
    out: W,
    show_passwords: bool,
    hashes: HashChoice,
    detected_by: HashMap<SessionId, DetectedBy>,
    /// Open sessions as their records told so far, for their transfers.
    contexts: Contexts,
    /// One record's JSON, reused from line to line.
    buf: Vec<u8>,
}

impl<W: Write> JsonLines<W> {
    pub fn new(out: W, show_passwords: bool) -> Self {
        JsonLines {
            out,
            show_passwords,
            hashes: HashChoice::default(),
            detected_by: HashMap::new(),
            contexts: Contexts::default(),
            buf: Vec::new(),
        }
    }

    /// The digests each transfer record carries (`--hash`; SHA-256 alone by default). The
    /// tracker must compute them.
    pub fn with_hashes(mut self, hashes: HashChoice) -> Self {
        self.hashes = hashes;
        self
    }

    /// Writes the line `write` puts into the buffer.
    fn line(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        self.buf.clear();
        write(&mut self.buf);
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)
    }
}

impl<W: Write> Output for JsonLines<W> {
    fn record(&mut self, record: &Record) -> io::Result<()> {
        let show_passwords = self.show_passwords;
        self.contexts.observe(record);
        match record {
            Record::SessionStarted(s) => {
                self.detected_by.insert(s.session, s.detected_by);
                Ok(())
            }
            Record::Exchange(e) => self.line(|out| write_command(out, e, show_passwords)),
            Record::SessionEnded(s) => {
                let detected = self.detected_by.remove(&s.session);
                let context = self.contexts.end(s.session);
                self.buf.clear();
                write_session(&mut self.buf, s, detected, context.as_ref(), show_passwords);
                self.buf.push(b'\n');
                self.out.write_all(&self.buf)
            }
            Record::Transfer(t) => {
                let fields = TransferFields {
                    hashes: self.hashes,
                    session: self.contexts.get(t.record.session),
                };
                self.buf.clear();
                write_transfer(&mut self.buf, t, &fields, Escapes::TerminalSafe);
                self.buf.push(b'\n');
                self.out.write_all(&self.buf)?;
                if let Some(listing) = &t.listing {
                    for e in &listing.entries {
                        self.line(|out| write_listing_entry(out, t, e))?;
                    }
                }
                Ok(())
            }
            Record::Anomaly(a) => self.line(|out| write_anomaly(out, a)),
            Record::Damage(d) => self.line(|out| write_damage(out, d)),
        }
    }

    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        self.line(|out| write_summary(out, summary))?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfers::Listing;
    use ftpscope_core::event::{CommandLine, EndReason, LoginState, Reply};
    use ftpscope_core::ftp::listing::{EntryKind, ListingStyle};
    use ftpscope_core::{DataMode, Direction, LinkRule, TransferRecord, TransferStatus};
    use serde_json::Value;

    /// What `--json` wrote before this writer: serde_json's string, then DEL, C1 controls and
    /// bidi overrides as `\uXXXX`.
    fn serde_then_terminal_safe(s: &str) -> String {
        let json = serde_json::to_string(s).unwrap();
        let mut out = String::new();
        for c in json.chars() {
            if matches!(c, '\u{7f}'..='\u{9f}' | '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
            {
                out.push_str(&format!("\\u{:04x}", c as u32));
            } else {
                out.push(c);
            }
        }
        out
    }

    fn escaped(s: &str, escapes: Escapes) -> String {
        let mut out = Vec::new();
        string(&mut out, s, escapes);
        String::from_utf8(out).unwrap()
    }

    /// `s` escaped as serde_json escapes it, and as that plus the terminal-safe escapes.
    fn both_as_expected(s: &str) {
        assert_eq!(escaped(s, Escapes::Json), serde_json::to_string(s).unwrap());
        assert_eq!(
            escaped(s, Escapes::TerminalSafe),
            serde_then_terminal_safe(s)
        );
    }

    #[test]
    fn strings_are_escaped_as_serde_json_and_terminal_safe_escaped_them() {
        let mut chars: Vec<char> = (0..0x3000u32).filter_map(char::from_u32).collect();
        chars.extend(['\u{feff}', '\u{fffd}', '\u{1f600}', '\u{10ffff}']);
        // Each character alone, between others, and doubled.
        for &c in &chars {
            for s in [c.to_string(), format!("a{c}b"), format!("{c}{c}")] {
                both_as_expected(&s);
            }
        }
        // In long runs of plain ASCII, which are tested eight bytes at a time: the character
        // at every offset of a word, and in the tail after the last whole word.
        for &c in &chars {
            let offsets: &[usize] = if u32::from(c) < 0x100 {
                &[0, 1, 7, 8, 9, 15, 16, 17, 21]
            } else {
                &[5, 8, 20]
            };
            for &at in offsets {
                let s = format!("{}{c}{}", "a".repeat(at), "b".repeat(21 - at));
                both_as_expected(&s);
            }
        }
        // Random strings over the characters that matter, so runs and escapes interleave.
        let interesting = [
            'a',
            '"',
            '\\',
            '\n',
            '\u{0}',
            '\u{1b}',
            '\u{7f}',
            '\u{80}',
            '\u{9b}',
            '\u{a0}',
            'é',
            '\u{061c}',
            '\u{061b}',
            '\u{200e}',
            '\u{202e}',
            '\u{2069}',
            '\u{206a}',
            '\u{2028}',
            '€',
            '\u{1f600}',
        ];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            let mut s = String::new();
            for _ in 0..(x % 30) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                s.push(interesting[(x % interesting.len() as u64) as usize]);
            }
            both_as_expected(&s);
        }
    }

    #[test]
    fn addresses_as_display_writes_them() {
        for a in [
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "10.0.0.1:21",
            "[::1]:21",
            "[fe80::1%3]:20",
        ] {
            let a: SocketAddr = a.parse().unwrap();
            let mut out = Vec::new();
            let mut m = Obj::new(&mut out, Escapes::TerminalSafe);
            m.addr("a", Some(a));
            m.addr("b", None);
            m.end();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                format!(r#"{{"a":"{a}","b":null}}"#)
            );
        }
    }

    #[test]
    fn numbers() {
        for n in [
            0,
            1,
            9,
            10,
            99,
            12345,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            number(&mut out, n);
            assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
        }
    }

    const HOSTILE: &[u8] = b"a\"\\\t\x1b]0;x\x07\x7f\xc2\x9b\xe2\x80\xae\xff";

    fn hostile_transfer() -> TransferOutcome {
        TransferOutcome {
            record: TransferRecord {
                transfer: 7,
                session: Some(3),
                start: Timestamp::from_nanos(1_700_000_000_123_456_789),
                end: Timestamp::from_nanos(1_700_000_001_000_000_000),
                command: Some(b"RETR".to_vec()),
                path: Some(HOSTILE.to_vec()),
                full_path: Some("/d\u{202e}txt.exe".into()),
                direction: Direction::Download,
                mode: Some(DataMode::Passive),
                announced_by: Some(AnnouncedBy::Pasv),
                announced: Some("[fe80::1%2]:2121".parse().unwrap()),
                link: LinkRule::NatPeers,
                data_initiator: Some("10.0.0.1:40000".parse().unwrap()),
                data_responder: Some("[2001:db8::2]:2121".parse().unwrap()),
                transfer_type: Some(0x9b),
                offset: 5,
                bytes: u64::MAX,
                expected_bytes: Some(0),
                gap_bytes: 1,
                missing_bytes: 2,
                status: TransferStatus::Truncated,
                reason: "cut \"here\"\n".into(),
                reply_code: Some(226),
                listing: true,
                tls: None,
                frames: Some(FrameSpan {
                    first: 12,
                    last: 40,
                }),
            },
            digests: crate::transfers::Digests {
                sha256: Some("ab".repeat(32)),
                md5: None,
                sha1: None,
                mime_type: Some("text/plain".into()),
            },
            pending: false,
            file: Some("out/session-3/d\u{85}x \u{2066}.txt".into()),
            file_error: Some("cannot write \u{1b}[2J".into()),
            listing: Some(Listing {
                entries: vec![ListingEntry {
                    name: HOSTILE.to_vec(),
                    kind: EntryKind::Symlink,
                    size: Some(12),
                    modified: Some("Mar 22 12:34".into()),
                    link_target: Some(b"\xfe/t\x00".to_vec()),
                    permissions: Some("lrwxrwxrwx".into()),
                    style: ListingStyle::Unix,
                }],
                truncated: true,
            }),
            resumes: Some(6),
            combined_file: Some("out/f.combined".into()),
            combined_sha256: Some("cd".repeat(32)),
            capture_drops: Some(4),
        }
    }

    fn line(write: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        write(&mut out);
        String::from_utf8(out).unwrap()
    }

    /// The expected lines below are, byte for byte, what the serde_json maps wrote before this
    /// writer replaced them (compared when it did); every optional field is present.
    #[test]
    fn hostile_transfer_lines() {
        let t = hostile_transfer();
        let safe =
            line(|o| write_transfer(o, &t, &TransferFields::default(), Escapes::TerminalSafe));
        assert_eq!(
            safe,
            r#"{"type":"transfer","transfer":7,"session":3,"start":"2023-11-14T22:13:20.123456Z","end":"2023-11-14T22:13:21.000000Z","command":"RETR","path":"a\"\\\t\u001b]0;x\u0007\u007f\u009b\u202e�","path_hex":"61225c091b5d303b78077fc29be280aeff","full_path":"/d\u202etxt.exe","direction":"download","mode":"passive","announced_by":"PASV","announced":"[fe80::1%2]:2121","link":"nat_peers","data_client":"10.0.0.1:40000","data_server":"[2001:db8::2]:2121","type_code":"\u009b","offset":5,"bytes":18446744073709551615,"expected_bytes":0,"gap_bytes":1,"missing_bytes":2,"sha256":"abababababababababababababababababababababababababababababababab","status":"truncated","reason":"cut \"here\"\n","reply_code":226,"first_frame":12,"last_frame":40,"listing_entries":1,"listing_truncated":true,"file":"out/session-3/d\u0085x \u2066.txt","file_error":"cannot write \u001b[2J","resumes_transfer":6,"combined_file":"out/f.combined","combined_sha256":"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd","capture_drops":4,"user":null,"control_client":null,"control_server":null,"control_conn_id":null,"conn_id":"CKDfJs0oQw1l","community_id":"1:AU/VwGbDTW1wvBh73G1EXW+xty8=","duration":0.876543,"bytes_per_second":18446744073709551615,"mime_type":"text/plain"}"#
        );
        // index.jsonl: the same, with DEL, C1 and bidi characters left raw (JSON allows them).
        let mut raw = safe.clone();
        for c in ['\u{7f}', '\u{85}', '\u{9b}', '\u{202e}', '\u{2066}'] {
            raw = raw.replace(&format!("\\u{:04x}", c as u32), &c.to_string());
        }
        assert_eq!(
            line(|o| write_transfer(o, &t, &TransferFields::default(), Escapes::Json)),
            raw
        );
        let a: Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(a, serde_json::from_str::<Value>(&raw).unwrap());
        assert_eq!(a["path"], String::from_utf8_lossy(HOSTILE).as_ref());
        assert_eq!(a["path_hex"], hex(HOSTILE));

        let entry = line(|o| write_listing_entry(o, &t, &t.listing.as_ref().unwrap().entries[0]));
        assert_eq!(
            entry,
            r#"{"type":"listing_entry","transfer":7,"session":3,"name":"a\"\\\t\u001b]0;x\u0007\u007f\u009b\u202e�","name_hex":"61225c091b5d303b78077fc29be280aeff","kind":"symlink","size":12,"modified":"Mar 22 12:34","link_target":"�/t\u0000","link_target_hex":"fe2f7400","permissions":"lrwxrwxrwx"}"#
        );

        // Optional fields absent: nulls, and the conditional fields left out.
        let mut t = hostile_transfer();
        t.record.session = None;
        t.record.mode = None;
        t.record.announced = None;
        t.record.transfer_type = None;
        t.record.path = None;
        t.record.expected_bytes = None;
        t.record.reply_code = None;
        (t.listing, t.file, t.file_error, t.resumes) = (None, None, None, None);
        (t.combined_file, t.combined_sha256, t.capture_drops) = (None, None, None);
        assert_eq!(
            line(|o| write_transfer(o, &t, &TransferFields::default(), Escapes::TerminalSafe)),
            r#"{"type":"transfer","transfer":7,"session":null,"start":"2023-11-14T22:13:20.123456Z","end":"2023-11-14T22:13:21.000000Z","command":"RETR","path":null,"full_path":"/d\u202etxt.exe","direction":"download","mode":null,"announced_by":"PASV","announced":null,"link":"nat_peers","data_client":"10.0.0.1:40000","data_server":"[2001:db8::2]:2121","type_code":null,"offset":5,"bytes":18446744073709551615,"expected_bytes":null,"gap_bytes":1,"missing_bytes":2,"sha256":"abababababababababababababababababababababababababababababababab","status":"truncated","reason":"cut \"here\"\n","reply_code":null,"first_frame":12,"last_frame":40,"user":null,"control_client":null,"control_server":null,"control_conn_id":null,"conn_id":"CKDfJs0oQw1l","community_id":"1:AU/VwGbDTW1wvBh73G1EXW+xty8=","duration":0.876543,"bytes_per_second":18446744073709551615,"mime_type":"text/plain"}"#
        );
    }

    /// The session's context and the chosen digests on a transfer; an encrypted transfer has
    /// a null for each chosen digest and no MIME type.
    #[test]
    fn transfer_with_its_session_and_chosen_digests() {
        let mut t = hostile_transfer();
        t.digests.md5 = Some("12".repeat(16));
        let mut context = SessionContext::default();
        context.session = 3;
        context.client = Some("10.0.0.1:40000".parse().unwrap());
        context.server = Some("10.0.0.2:21".parse().unwrap());
        context.conn_id = Some("Cabc".into());
        context.user = Some(b"bob".to_vec());
        let fields = TransferFields {
            hashes: HashChoice::parse("md5,sha1").unwrap(),
            session: Some(&context),
        };
        let v: Value =
            serde_json::from_str(&line(|o| write_transfer(o, &t, &fields, Escapes::Json))).unwrap();
        assert_eq!(v["user"], "bob");
        assert_eq!(v["control_client"], "10.0.0.1:40000");
        assert_eq!(v["control_server"], "10.0.0.2:21");
        assert_eq!(v["control_conn_id"], "Cabc");
        assert!(v.get("sha256").is_none(), "not chosen: not written");
        assert_eq!(v["md5"], "12".repeat(16));
        assert_eq!(v["sha1"], Value::Null, "chosen, not computed here");
        t.record.status = TransferStatus::Encrypted;
        let v: Value =
            serde_json::from_str(&line(|o| write_transfer(o, &t, &fields, Escapes::Json))).unwrap();
        assert_eq!(v["md5"], Value::Null);
    }

    #[test]
    fn hostile_session_command_lines() {
        let (s, e, _) = hostile_others();
        assert_eq!(
            line(|o| write_session(o, &s, None, None, false)),
            r#"{"type":"session","session":3,"client":"10.0.0.1:40000","server":"10.0.0.2:21","user":"a\"\\\t\u001b]0;x\u0007\u007f\u009b\u202e�","user_hex":"61225c091b5d303b78077fc29be280aeff","password":"********","login":"failed","login_attempts":2,"tls":{"version":null,"cipher_suite":null,"sni":null,"alpn":null,"resumed":null,"decrypted":false,"close_notify":false,"certificate":null},"start":"1970-01-01T00:00:00.000000Z","end":"1969-12-31T23:59:59.999999Z","commands":9,"transfers":0,"end_reason":"reset","detected_by":null,"first_frame":null,"last_frame":null,"conn_id":"CBhJP8bFZnlE","community_id":"1:+q0K+Sni1nRQp28rDB9k1ip9G+g=","duration":0.000000,"banner":null,"server_software":null,"server_version":null,"syst":null,"feat":null,"clnt":null,"client_bytes":0,"server_bytes":0}"#
        );
        assert_eq!(
            line(|o| write_session(o, &s, Some(DetectedBy::Dialogue), None, true)),
            r#"{"type":"session","session":3,"client":"10.0.0.1:40000","server":"10.0.0.2:21","user":"a\"\\\t\u001b]0;x\u0007\u007f\u009b\u202e�","user_hex":"61225c091b5d303b78077fc29be280aeff","password":"secret�","password_hex":"736563726574ff","login":"failed","login_attempts":2,"tls":{"version":null,"cipher_suite":null,"sni":null,"alpn":null,"resumed":null,"decrypted":false,"close_notify":false,"certificate":null},"start":"1970-01-01T00:00:00.000000Z","end":"1969-12-31T23:59:59.999999Z","commands":9,"transfers":0,"end_reason":"reset","detected_by":"dialogue","first_frame":null,"last_frame":null,"conn_id":"CBhJP8bFZnlE","community_id":"1:+q0K+Sni1nRQp28rDB9k1ip9G+g=","duration":0.000000,"banner":null,"server_software":null,"server_version":null,"syst":null,"feat":null,"clnt":null,"client_bytes":0,"server_bytes":0}"#
        );
        assert_eq!(
            line(|o| write_command(o, &e, false)),
            r#"{"type":"command","session":3,"ts":"1970-01-01T00:00:00.000000Z","command":"PASS","arg":"********","reply_code":530,"reply_text":"a\"\\\t\u001b]0;x\u0007\u007f\u009b\u202e�","reply_text_hex":"61225c091b5d303b78077fc29be280aeff","reply_ts":"1970-01-01T00:00:00.000000Z","preliminary":[150,125]}"#
        );
        assert_eq!(
            line(|o| write_command(o, &e, true)),
            r#"{"type":"command","session":3,"ts":"1970-01-01T00:00:00.000000Z","command":"PASS","arg":"a\"\\\t\u001b]0;x\u0007\u007f\u009b\u202e�","arg_hex":"61225c091b5d303b78077fc29be280aeff","reply_code":530,"reply_text":"a\"\\\t\u001b]0;x\u0007\u007f\u009b\u202e�","reply_text_hex":"61225c091b5d303b78077fc29be280aeff","reply_ts":"1970-01-01T00:00:00.000000Z","preliminary":[150,125]}"#
        );
        let none = Exchange {
            session: 1,
            command: None,
            replies: vec![],
        };
        assert_eq!(
            line(|o| write_command(o, &none, true)),
            r#"{"type":"command","session":1,"ts":null,"command":null,"arg":null,"reply_code":null,"reply_text":null,"reply_ts":null}"#
        );
    }

    #[test]
    fn anomaly_damage_and_summary_lines() {
        let (_, _, a) = hostile_others();
        let mut summary = RunSummary {
            inputs: vec!["a\u{85}b".into(), "c".into()],
            ..RunSummary::default()
        };
        summary.stats.frames = 5;
        summary.stats.anomalies = vec![0; AnomalyKind::ALL.len()];
        summary.stats.anomalies[AnomalyKind::IpFragmentTimeout.index()] = 2;
        summary.stats.anomalies[AnomalyKind::TcpPortReuse.index()] = 1;
        let damage = crate::capture::InputDamage {
            name: "x\u{202e}".into(),
            damage: crate::capture::Damage {
                offset: 9,
                what: "bad\n".into(),
            },
        };
        summary.damage.push(damage.clone());
        summary.capture = Some(crate::pipeline::CaptureStats {
            interface: "lo".into(),
            received: 1,
            kernel_drops: 2,
            interface_drops: 3,
            transfers_with_drops: 4,
        });
        let mut out = Vec::new();
        let mut lines = JsonLines::new(&mut out, false);
        lines.record(&Record::Anomaly(a)).unwrap();
        lines.record(&Record::Damage(damage)).unwrap();
        lines.finish(&summary).unwrap();
        drop(lines);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            concat!(
                r#"{"type":"anomaly","kind":"line_too_long","ts":"1970-01-01T00:00:00.000000Z","session":null,"client":"10.0.0.1:1","server":"10.0.0.2:21","detail":"\u009b2J"}"#,
                "\n",
                r#"{"type":"damage","input":"x\u202e","offset":9,"what":"bad\n"}"#,
                "\n",
                r#"{"type":"summary","inputs":["a\u0085b","c"],"frames":5,"bytes":0,"captured_bytes":0,"tcp_connections":0,"sessions":0,"transfers":0,"anomalies":{"ip_fragment_timeout":2,"tcp_port_reuse":1},"damage":[{"input":"x\u202e","offset":9,"what":"bad\n"}],"interface":"lo","received":1,"kernel_drops":2,"interface_drops":3,"transfers_with_drops":4,"first_packet":null,"last_packet":null}"#,
                "\n"
            )
        );
    }

    #[test]
    fn summary_counts_connection_attempts_per_server_the_most_attempted_first() {
        use ftpscope_core::AttemptCount;
        let mut summary = RunSummary::default();
        summary.stats.anomalies = vec![0; AnomalyKind::ALL.len()];
        let attempts = &mut summary.stats.connection_attempts;
        for (server, n) in [("10.0.0.2:21", 2), ("[fe80::1]:21", 7)] {
            let count = AttemptCount {
                attempts: n,
                first: Timestamp::from_nanos(1_000),
                last: Timestamp::from_nanos(2_000_000_000),
            };
            attempts.servers.insert(server.parse().unwrap(), count);
        }
        attempts.other_servers = 3;
        attempts.total = 12;
        let mut out = Vec::new();
        write_summary(&mut out, &summary);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            concat!(
                r#"{"type":"summary","inputs":[],"frames":0,"bytes":0,"captured_bytes":0,"tcp_connections":0,"sessions":0,"transfers":0,"#,
                r#""connection_attempts":{"total":12,"servers":["#,
                r#"{"server":"[fe80::1]:21","attempts":7,"first":"1970-01-01T00:00:00.000001Z","last":"1970-01-01T00:00:02.000000Z"},"#,
                r#"{"server":"10.0.0.2:21","attempts":2,"first":"1970-01-01T00:00:00.000001Z","last":"1970-01-01T00:00:02.000000Z"}],"#,
                r#""other_servers":3},"anomalies":{},"damage":[],"first_packet":null,"last_packet":null}"#
            )
        );
    }

    fn hostile_others() -> (SessionSummary, Exchange, Anomaly) {
        let s = SessionSummary {
            session: 3,
            client: "10.0.0.1:40000".parse().unwrap(),
            server: "10.0.0.2:21".parse().unwrap(),
            start: Timestamp::from_nanos(0),
            end: Timestamp::from_nanos(-1),
            user: Some(HOSTILE.to_vec()),
            password: Some(b"secret\xff".to_vec()),
            anonymous: false,
            login: LoginState::Failed,
            login_attempts: 2,
            tls: true,
            tls_info: None,
            commands: 9,
            transfers: 0,
            end_reason: EndReason::Reset,
            frames: None,
        };
        let reply = |ts, code, text: &[u8]| Reply {
            ts,
            code,
            text: text.to_vec(),
            lines_dropped: 0,
        };
        let e = Exchange {
            session: 3,
            command: Some(CommandLine {
                ts: Timestamp::from_nanos(5),
                verb: b"PASS".to_vec(),
                arg: HOSTILE.to_vec(),
                secret: true,
            }),
            replies: vec![
                reply(Timestamp::from_nanos(6), 150, b"x"),
                reply(Timestamp::from_nanos(7), 125, b"y"),
                reply(Timestamp::from_nanos(8), 530, HOSTILE),
            ],
        };
        let a = Anomaly {
            kind: AnomalyKind::LineTooLong,
            ts: Timestamp::from_nanos(1),
            session: None,
            flow: Some((
                "10.0.0.1:1".parse().unwrap(),
                "10.0.0.2:21".parse().unwrap(),
            )),
            detail: "\u{9b}2J".into(),
        };
        (s, e, a)
    }
}
