//! Zeek-style logs (`--zeek-logs DIR`): `ftp.log` and `files.log` with Zeek's field names,
//! order, types and header, in Zeek's TSV or its JSON, so that what reads Zeek's logs
//! (Security Onion, Malcolm, RITA, Splunk's Zeek add-on) reads these without glue.
//!
//! What follows Zeek (base/protocols/ftp, base/files): ftp.log has a line per command of
//! `LOGGED_COMMANDS` when its final reply comes, with the user (`<unknown>` before USER), the
//! password `<hidden>` unless the user is a guest (anonymous, ftp, ftpuser, guest) or
//! `--show-passwords`, RETR/STOR/STOU/APPE arguments as `ftp://server/path` URLs built from the
//! working directory as Zeek follows it (`.` until a PWD or CWD says otherwise), the file
//! size of the `150 ... (N bytes)` reply, the data channel announced by PASV/EPSV/PORT/EPRT,
//! and the transfer's MIME type and file id. files.log has a line per transfer that carried
//! bytes (not ciphertext). What differs: `uid` and `fuid` are ftpscope's stable ids (see
//! `flow_id`), not Zeek's random ones; `filename` is the remote path (Zeek leaves it unset for
//! FTP); `local_orig` is unset (ftpscope knows no local networks).

use crate::output::context::{Contexts, SessionContext};
use crate::output::flow_id::{conn_id, file_id};
use crate::output::outdir::OutDir;
use crate::pipeline::{Output, Record, RunSummary};
use crate::transfers::{HashChoice, TransferOutcome};
use ftpscope_core::{
    DataMode, Direction, Exchange, SessionId, TimeSpan, Timestamp, TransferStatus,
};
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// The commands Zeek's ftp.log logs by default (`FTP::logged_commands`).
pub const LOGGED_COMMANDS: &[&[u8]] = &[
    b"APPE", b"DELE", b"RETR", b"STOR", b"STOU", b"ACCT", b"PORT", b"PASV", b"EPRT", b"EPSV",
];

/// Commands whose argument Zeek logs as a URL, and whose line waits for its transfer.
const FILE_COMMANDS: &[&[u8]] = &[b"RETR", b"STOR", b"STOU", b"APPE"];

/// Users whose password Zeek shows (`FTP::guest_ids`).
const GUEST_IDS: &[&[u8]] = &[b"anonymous", b"ftp", b"ftpuser", b"guest"];

/// Lines of a session held back behind a line that waits for its transfer, at most.
const MAX_HELD_LINES: usize = 1024;
/// Transfers that ended before their command's final reply, kept per session at most.
const MAX_EARLY_TRANSFERS: usize = 64;

pub const FTP_FIELDS: &[(&str, &str)] = &[
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("user", "string"),
    ("password", "string"),
    ("command", "string"),
    ("arg", "string"),
    ("mime_type", "string"),
    ("file_size", "count"),
    ("reply_code", "count"),
    ("reply_msg", "string"),
    ("data_channel.passive", "bool"),
    ("data_channel.orig_h", "addr"),
    ("data_channel.resp_h", "addr"),
    ("data_channel.resp_p", "port"),
    ("fuid", "string"),
];

pub const FILES_FIELDS: &[(&str, &str)] = &[
    ("ts", "time"),
    ("fuid", "string"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("source", "string"),
    ("depth", "count"),
    ("analyzers", "set[string]"),
    ("mime_type", "string"),
    ("filename", "string"),
    ("duration", "interval"),
    ("local_orig", "bool"),
    ("is_orig", "bool"),
    ("seen_bytes", "count"),
    ("total_bytes", "count"),
    ("missing_bytes", "count"),
    ("overflow_bytes", "count"),
    ("timedout", "bool"),
    ("parent_fuid", "string"),
    ("md5", "string"),
    ("sha1", "string"),
    ("sha256", "string"),
    ("extracted", "string"),
    ("extracted_cutoff", "bool"),
    ("extracted_size", "count"),
];

/// How the logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Tsv,
    Json,
}

/// One field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Unset,
    Str(Vec<u8>),
    Count(u64),
    Time(Timestamp),
    Interval(TimeSpan),
    Bool(bool),
    Addr(IpAddr),
    Port(u16),
    Set(Vec<Vec<u8>>),
}

fn str(s: impl AsRef<[u8]>) -> Value {
    Value::Str(s.as_ref().to_vec())
}

fn opt_str(s: Option<impl AsRef<[u8]>>) -> Value {
    s.map_or(Value::Unset, str)
}

/// Seconds with microseconds, as Zeek writes times and intervals.
fn seconds(nanos: i64, out: &mut Vec<u8>) {
    let negative = nanos < 0;
    let micros = (nanos.unsigned_abs() + 500) / 1000;
    let _ = write!(
        out,
        "{}{}.{:06}",
        if negative { "-" } else { "" },
        micros / 1_000_000,
        micros % 1_000_000
    );
}

/// Zeek's TSV escaping: the separators, backslash and every byte that is not printable ASCII
/// as `\xHH` (so nothing from the wire acts on a terminal); a value that reads as the unset
/// or empty marker is escaped too.
fn tsv_str(bytes: &[u8], in_set: bool, out: &mut Vec<u8>) {
    if bytes.is_empty() {
        out.extend_from_slice(b"(empty)");
        return;
    }
    if bytes == b"-" {
        out.extend_from_slice(b"\\x2d");
        return;
    }
    for &b in bytes {
        if b == b'\t' || b == b'\\' || (in_set && b == b',') || !(0x20..0x7f).contains(&b) {
            let _ = write!(out, "\\x{b:02x}");
        } else {
            out.push(b);
        }
    }
}

fn tsv_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Unset => out.push(b'-'),
        Value::Str(s) => tsv_str(s, false, out),
        Value::Count(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Time(ts) => seconds(ts.as_nanos(), out),
        Value::Interval(span) => seconds(span.as_nanos(), out),
        Value::Bool(b) => out.push(if *b { b'T' } else { b'F' }),
        Value::Addr(a) => {
            let _ = write!(out, "{a}");
        }
        Value::Port(p) => {
            let _ = write!(out, "{p}");
        }
        Value::Set(items) if items.is_empty() => out.extend_from_slice(b"(empty)"),
        Value::Set(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                tsv_str(item, true, out);
            }
        }
    }
}

/// Zeek's JSON: times as epoch seconds, unset fields left out, sets as arrays, strings with
/// bytes that are not printable ASCII as `\\xHH` escapes (as Zeek's JSON writes them).
fn json_string(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x20..0x7f => out.push(b),
            _ => {
                let _ = write!(out, "\\\\x{b:02x}");
            }
        }
    }
    out.push(b'"');
}

fn json_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Unset => out.extend_from_slice(b"null"),
        Value::Str(s) => json_string(s, out),
        Value::Count(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Time(ts) => seconds(ts.as_nanos(), out),
        Value::Interval(span) => seconds(span.as_nanos(), out),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Addr(a) => {
            let _ = write!(out, "\"{a}\"");
        }
        Value::Port(p) => {
            let _ = write!(out, "{p}");
        }
        Value::Set(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_string(item, out);
            }
            out.push(b']');
        }
    }
}

/// One log file: its fields, and the lines written so far.
struct Log {
    out: BufWriter<File>,
    path: &'static str,
    fields: &'static [(&'static str, &'static str)],
    format: Format,
    line: Vec<u8>,
}

/// The time as Zeek writes `#open` and `#close`: `%Y-%m-%d-%H-%M-%S` (UTC here).
fn header_time() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(Timestamp::EPOCH, |d| {
            Timestamp::from_nanos(d.as_nanos() as i64)
        });
    let t = crate::text::rfc3339(now);
    // 2024-01-02T03:04:05.123456Z → 2024-01-02-03-04-05
    t.get(..19).unwrap_or("").replace(['T', ':'], "-")
}

impl Log {
    fn create(
        dir: &OutDir,
        name: &str,
        path: &'static str,
        fields: &'static [(&'static str, &'static str)],
        format: Format,
    ) -> io::Result<(PathBuf, Log)> {
        let (file_path, file) = dir.create_unique(name)?;
        let mut log = Log {
            out: BufWriter::with_capacity(64 << 10, file),
            path,
            fields,
            format,
            line: Vec::new(),
        };
        if format == Format::Tsv {
            let names: Vec<&str> = fields.iter().map(|f| f.0).collect();
            let types: Vec<&str> = fields.iter().map(|f| f.1).collect();
            write!(
                log.out,
                "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n\
                 #path\t{}\n#open\t{}\n#fields\t{}\n#types\t{}\n",
                log.path,
                header_time(),
                names.join("\t"),
                types.join("\t")
            )?;
        }
        Ok((file_path, log))
    }

    fn write(&mut self, values: &[Value]) -> io::Result<()> {
        debug_assert_eq!(values.len(), self.fields.len());
        let line = &mut self.line;
        line.clear();
        match self.format {
            Format::Tsv => {
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        line.push(b'\t');
                    }
                    tsv_value(v, line);
                }
            }
            Format::Json => {
                line.push(b'{');
                let mut first = true;
                for ((name, _), v) in self.fields.iter().zip(values) {
                    if *v == Value::Unset {
                        continue;
                    }
                    if !std::mem::take(&mut first) {
                        line.push(b',');
                    }
                    json_string(name.as_bytes(), line);
                    line.push(b':');
                    json_value(v, line);
                }
                line.push(b'}');
            }
        }
        line.push(b'\n');
        self.out.write_all(line)
    }

    fn close(&mut self) -> io::Result<()> {
        if self.format == Format::Tsv {
            writeln!(self.out, "#close\t{}", header_time())?;
        }
        self.out.flush()
    }
}

/// An ftp.log line waiting for its transfer (mime_type, fuid).
struct Held {
    values: Vec<Value>,
    /// The transfer command it waits for (None: a line that waits only behind another).
    waits_for: Option<Vec<u8>>,
}

/// A transfer as ftp.log needs it.
struct TransferInfo {
    command: Vec<u8>,
    mime_type: Option<String>,
    fuid: Option<String>,
}

/// What ftp.log follows of a session: Zeek's working directory and the lines held back.
struct ZeekSession {
    cwd: Vec<u8>,
    held: VecDeque<Held>,
    early: VecDeque<TransferInfo>,
}

impl Default for ZeekSession {
    fn default() -> Self {
        ZeekSession {
            cwd: b".".to_vec(),
            held: VecDeque::new(),
            early: VecDeque::new(),
        }
    }
}

pub struct ZeekLogs {
    ftp: Log,
    files: Log,
    show_passwords: bool,
    hashes: HashChoice,
    contexts: Contexts,
    sessions: HashMap<SessionId, ZeekSession>,
    /// The paths of the two logs, as created.
    pub paths: (PathBuf, PathBuf),
}

impl ZeekLogs {
    /// Creates `ftp.log` and `files.log` in `dir` (new files, beneath the folder's handle; a
    /// name already taken gets ` (2)`).
    pub fn create(
        dir: &OutDir,
        format: Format,
        hashes: HashChoice,
        show_passwords: bool,
    ) -> io::Result<ZeekLogs> {
        let ext = match format {
            Format::Tsv => "log",
            Format::Json => "log",
        };
        let (ftp_path, ftp) = Log::create(dir, &format!("ftp.{ext}"), "ftp", FTP_FIELDS, format)?;
        let (files_path, files) =
            Log::create(dir, &format!("files.{ext}"), "files", FILES_FIELDS, format)?;
        Ok(ZeekLogs {
            ftp,
            files,
            show_passwords,
            hashes,
            contexts: Contexts::default(),
            sessions: HashMap::new(),
            paths: (ftp_path, files_path),
        })
    }

    fn exchange(&mut self, e: &Exchange) -> io::Result<()> {
        let Some(ctx) = self.contexts.get(Some(e.session)) else {
            return Ok(());
        };
        let zs = self.sessions.entry(e.session).or_default();
        let Some(c) = &e.command else {
            return Ok(());
        };
        let final_reply = e.final_reply();
        let positive = final_reply.is_some_and(|r| (200..300).contains(&r.code));
        // Zeek's working directory: PWD's 257 sets it, CWD and CDUP move it.
        match &c.verb[..] {
            b"PWD" | b"XPWD" if final_reply.is_some_and(|r| r.code == 257) => {
                if let Some(dir) = final_reply.and_then(|r| quoted(&r.text)) {
                    zs.cwd = dir;
                }
            }
            b"CWD" | b"XCWD" if positive => zs.cwd = join_path(&zs.cwd, &c.arg),
            b"CDUP" | b"XCUP" if positive => zs.cwd = join_path(&zs.cwd, b".."),
            _ => {}
        }
        if !LOGGED_COMMANDS.contains(&&c.verb[..]) {
            return Ok(());
        }
        let is_file = FILE_COMMANDS.contains(&&c.verb[..]);
        let arg = if is_file {
            let mut url = b"ftp://".to_vec();
            match ctx.server.map(|s| s.ip()) {
                Some(IpAddr::V6(a)) => url.extend_from_slice(format!("[{a}]").as_bytes()),
                Some(a) => url.extend_from_slice(a.to_string().as_bytes()),
                None => {}
            }
            let path = join_path(&zs.cwd, &c.arg);
            if !path.starts_with(b"/") {
                url.push(b'/');
            }
            url.extend_from_slice(&path);
            Value::Str(url)
        } else if c.secret && !self.show_passwords {
            Value::Str(b"<hidden>".to_vec())
        } else if c.arg.is_empty() {
            Value::Unset
        } else {
            str(&c.arg)
        };
        let guest = ctx
            .user
            .as_deref()
            .is_some_and(|u| GUEST_IDS.iter().any(|g| u.eq_ignore_ascii_case(g)));
        // The session's password: shown for a guest (an e-mail address), else `<hidden>`.
        let password = match (&ctx.password, guest || self.show_passwords) {
            (Some(p), true) => str(p),
            (Some(_), false) => Value::Str(b"<hidden>".to_vec()),
            (None, _) => Value::Unset,
        };
        let file_size = e
            .replies
            .iter()
            .find(|r| r.code == 150)
            .and_then(|r| announced_size(&r.text))
            .map_or(Value::Unset, Value::Count);
        let (code, msg) = match final_reply.or(e.replies.last()) {
            Some(r) => {
                let last = r.text.rsplit(|&b| b == b'\n').next().unwrap_or_default();
                (Value::Count(u64::from(r.code)), str(last))
            }
            None => (Value::Unset, Value::Unset),
        };
        let channel = data_channel(&c.verb, &c.arg, final_reply.map(|r| &r.text[..]), ctx);
        let (client, server) = (ctx.client, ctx.server);
        let mut values = vec![
            Value::Time(c.ts),
            opt_str(ctx_uid(ctx)),
            addr(client),
            port(client),
            addr(server),
            port(server),
            Value::Str(ctx.user.clone().unwrap_or_else(|| b"<unknown>".to_vec())),
            password,
            str(&c.verb),
            arg,
            Value::Unset,
            file_size,
            code,
            msg,
        ];
        values.extend(channel);
        values.push(Value::Unset);
        let zs = self.sessions.entry(e.session).or_default();
        let mut held = Held {
            values,
            waits_for: is_file.then(|| c.verb.clone()),
        };
        if is_file && let Some(i) = zs.early.iter().position(|t| t.command == c.verb) {
            if let Some(t) = zs.early.remove(i) {
                fill(&mut held.values, &t);
            }
            held.waits_for = None;
        }
        zs.held.push_back(held);
        self.flush_session(e.session, false)
    }

    /// Writes the session's held lines up to the first that still waits (all of them with
    /// `all`, or when too many wait).
    fn flush_session(&mut self, session: SessionId, all: bool) -> io::Result<()> {
        let Some(zs) = self.sessions.get_mut(&session) else {
            return Ok(());
        };
        let all = all || zs.held.len() > MAX_HELD_LINES;
        while let Some(front) = zs.held.front() {
            if front.waits_for.is_some() && !all {
                break;
            }
            if let Some(h) = zs.held.pop_front() {
                self.ftp.write(&h.values)?;
            }
        }
        Ok(())
    }

    fn transfer(&mut self, t: &TransferOutcome) -> io::Result<()> {
        let r = &t.record;
        let ends = r.data_initiator.zip(r.data_responder);
        let fuid = ends.map(|(i, o)| file_id(r.start, i, o));
        let carried = r.bytes > 0 && r.status != TransferStatus::Encrypted;
        if carried && let Some((initiator, responder)) = ends {
            self.files_line(t, initiator, responder, fuid.clone())?;
        }
        let (Some(session), Some(command)) = (r.session, r.command.clone()) else {
            return Ok(());
        };
        if !FILE_COMMANDS.contains(&&command[..]) {
            return Ok(());
        }
        let info = TransferInfo {
            command,
            mime_type: t.digests.mime_type.clone().filter(|_| carried),
            fuid: fuid.filter(|_| carried),
        };
        let zs = self.sessions.entry(session).or_default();
        match zs
            .held
            .iter_mut()
            .find(|h| h.waits_for.as_deref() == Some(&info.command[..]))
        {
            Some(h) => {
                fill(&mut h.values, &info);
                h.waits_for = None;
            }
            None => {
                if zs.early.len() >= MAX_EARLY_TRANSFERS {
                    zs.early.pop_front();
                }
                zs.early.push_back(info);
            }
        }
        self.flush_session(session, false)
    }

    fn files_line(
        &mut self,
        t: &TransferOutcome,
        initiator: SocketAddr,
        responder: SocketAddr,
        fuid: Option<String>,
    ) -> io::Result<()> {
        let r = &t.record;
        let d = &t.digests;
        let mut analyzers = Vec::new();
        for (chosen, name) in [
            (self.hashes.md5, "MD5"),
            (self.hashes.sha1, "SHA1"),
            (self.hashes.sha256, "SHA256"),
        ] {
            if chosen {
                analyzers.push(name.as_bytes().to_vec());
            }
        }
        if t.file.is_some() {
            analyzers.push(b"EXTRACT".to_vec());
        }
        // The bytes went from the data connection's originator: an upload in passive mode,
        // a download in active mode.
        let is_orig = match (r.direction, r.mode) {
            (Direction::Upload, Some(DataMode::Passive))
            | (Direction::Download, Some(DataMode::Active)) => Value::Bool(true),
            (Direction::Upload, Some(DataMode::Active))
            | (Direction::Download, Some(DataMode::Passive)) => Value::Bool(false),
            _ => Value::Unset,
        };
        let extracted = t
            .file
            .as_ref()
            .map(|f| f.as_os_str().as_encoded_bytes().to_vec());
        let values = vec![
            Value::Time(r.start),
            opt_str(fuid),
            str(conn_id(r.start, initiator, responder)),
            Value::Addr(initiator.ip()),
            Value::Port(initiator.port()),
            Value::Addr(responder.ip()),
            Value::Port(responder.port()),
            str("FTP_DATA"),
            Value::Count(0),
            Value::Set(analyzers),
            opt_str(d.mime_type.as_deref()),
            opt_str(r.full_path.as_deref().or(r.path.as_deref())),
            Value::Interval((r.end - r.start).clamp_negative()),
            Value::Unset,
            is_orig,
            Value::Count(r.bytes),
            r.expected_bytes
                .map_or(Value::Unset, |e| Value::Count(e + r.offset)),
            Value::Count(r.missing_bytes),
            Value::Count(0),
            Value::Bool(false),
            Value::Unset,
            opt_str(d.md5.as_deref()),
            opt_str(d.sha1.as_deref()),
            opt_str(d.sha256.as_deref()),
            opt_str(extracted.as_deref()),
            if t.file.is_some() {
                Value::Bool(false)
            } else {
                Value::Unset
            },
            if t.file.is_some() {
                Value::Count(r.bytes)
            } else {
                Value::Unset
            },
        ];
        self.files.write(&values)
    }
}

fn fill(values: &mut [Value], t: &TransferInfo) {
    if let Some(v) = values.get_mut(10) {
        *v = opt_str(t.mime_type.as_deref());
    }
    if let Some(v) = values.last_mut() {
        *v = opt_str(t.fuid.as_deref());
    }
}

fn ctx_uid(ctx: &SessionContext) -> Option<String> {
    ctx.conn_id.clone()
}

fn addr(a: Option<SocketAddr>) -> Value {
    a.map_or(Value::Unset, |a| Value::Addr(a.ip()))
}

fn port(a: Option<SocketAddr>) -> Value {
    a.map_or(Value::Unset, |a| Value::Port(a.port()))
}

/// `data_channel.*`: the endpoint a PASV/EPSV reply or a PORT/EPRT command announced, with
/// who connects to it (Zeek logs them only when the reply was positive).
fn data_channel(verb: &[u8], arg: &[u8], reply: Option<&[u8]>, ctx: &SessionContext) -> [Value; 4] {
    let unset = [Value::Unset, Value::Unset, Value::Unset, Value::Unset];
    let (Some(client), Some(server)) = (ctx.client, ctx.server) else {
        return unset;
    };
    use ftpscope_core::ftp::address;
    let (passive, announced) = match verb {
        b"PASV" => (true, reply.and_then(|t| address::parse_227_text(t).ok())),
        b"EPSV" => (
            true,
            reply
                .and_then(|t| address::parse_229_text(t).ok())
                .map(|port| SocketAddr::new(server.ip(), port)),
        ),
        b"PORT" => (false, address::parse_port_arg(arg).ok()),
        b"EPRT" => (false, address::parse_eprt_arg(arg).ok()),
        _ => return unset,
    };
    let Some(announced) = announced else {
        return unset;
    };
    // Passive: the client connects to the announced endpoint; active: the server does.
    let orig = if passive { client.ip() } else { server.ip() };
    [
        Value::Bool(passive),
        Value::Addr(orig),
        Value::Addr(announced.ip()),
        Value::Port(announced.port()),
    ]
}

/// The quoted directory of a 257 reply (`"/pub" is the current directory`), `""` as `"`.
fn quoted(text: &[u8]) -> Option<Vec<u8>> {
    let start = text.iter().position(|&b| b == b'"')? + 1;
    let mut out = Vec::new();
    let mut i = start;
    while let Some(&b) = text.get(i) {
        if b == b'"' {
            if text.get(i + 1) == Some(&b'"') {
                out.push(b'"');
                i += 2;
                continue;
            }
            return Some(out);
        }
        out.push(b);
        i += 1;
    }
    None
}

/// `path` from `cwd` as Zeek's `build_path_compressed` makes it: an absolute path replaces
/// the directory, `.` components inside are dropped, `x/..` pairs removed.
pub fn join_path(cwd: &[u8], path: &[u8]) -> Vec<u8> {
    let joined = if path.starts_with(b"/") || cwd.is_empty() {
        path.to_vec()
    } else {
        let mut j = cwd.to_vec();
        if !j.ends_with(b"/") {
            j.push(b'/');
        }
        j.extend_from_slice(path);
        j
    };
    let absolute = joined.starts_with(b"/");
    let mut parts: Vec<&[u8]> = Vec::new();
    for (i, part) in joined.split(|&b| b == b'/').enumerate() {
        match part {
            b"" => {}
            b"." if i > 0 || absolute => {}
            b".." if parts.last().is_some_and(|p| *p != b".." && *p != b".") => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    let mut out = Vec::new();
    if absolute {
        out.push(b'/');
    }
    out.extend_from_slice(&parts.join(&b'/'));
    out
}

/// N of a `150 ... (N bytes)` reply.
fn announced_size(text: &[u8]) -> Option<u64> {
    let open = text.iter().rposition(|&b| b == b'(')?;
    let rest = text.get(open + 1..)?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || !rest.get(digits..)?.starts_with(b" bytes") {
        return None;
    }
    std::str::from_utf8(rest.get(..digits)?).ok()?.parse().ok()
}

impl Output for ZeekLogs {
    fn record(&mut self, record: &Record) -> io::Result<()> {
        self.contexts.observe(record);
        match record {
            Record::Exchange(e) => self.exchange(e),
            Record::Transfer(t) => self.transfer(t),
            Record::SessionEnded(s) => {
                self.flush_session(s.session, true)?;
                self.sessions.remove(&s.session);
                self.contexts.end(s.session);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn finish(&mut self, _: &RunSummary) -> io::Result<()> {
        let open: Vec<SessionId> = self.sessions.keys().copied().collect();
        for s in open {
            self.flush_session(s, true)?;
        }
        self.ftp.close()?;
        self.files.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_as_zeek_compresses_them() {
        assert_eq!(join_path(b".", b"robots.txt"), b"./robots.txt");
        assert_eq!(join_path(b"/", b"robots.txt"), b"/robots.txt");
        assert_eq!(join_path(b"/pub", b"../etc/x"), b"/etc/x");
        assert_eq!(join_path(b"/pub/a", b"/abs"), b"/abs");
        assert_eq!(join_path(b".", b"pub/data"), b"./pub/data");
        assert_eq!(join_path(b"./pub/./data", b"f"), b"./pub/data/f");
    }

    #[test]
    fn sizes_and_quotes() {
        assert_eq!(
            announced_size(b"Opening BINARY mode data connection for robots.txt (77 bytes)."),
            Some(77)
        );
        assert_eq!(announced_size(b"Here comes the directory listing."), None);
        assert_eq!(
            quoted(b"\"/a \"\"b\"\"\" is the current directory"),
            Some(b"/a \"b\"".to_vec())
        );
    }

    #[test]
    fn tsv_escapes() {
        let mut out = Vec::new();
        tsv_value(&str("a\tb\\c\x1b\u{e9}"), &mut out);
        assert_eq!(out, b"a\\x09b\\x5cc\\x1b\\xc3\\xa9");
        out.clear();
        tsv_value(&str("-"), &mut out);
        assert_eq!(out, b"\\x2d");
        out.clear();
        tsv_value(&str(""), &mut out);
        assert_eq!(out, b"(empty)");
        out.clear();
        tsv_value(&Value::Set(vec![b"A,B".to_vec(), b"C".to_vec()]), &mut out);
        assert_eq!(out, b"A\\x2cB,C");
        out.clear();
        tsv_value(
            &Value::Time(Timestamp::from_nanos(1_329_843_175_680_248_000)),
            &mut out,
        );
        assert_eq!(out, b"1329843175.680248");
    }
}
