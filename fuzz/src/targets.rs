//! The fuzz targets as plain functions: each takes arbitrary bytes, runs one part of ftpscope on
//! them and panics when an invariant breaks (a panic inside ftpscope is a finding too).
//!
//! The same file is compiled three ways: by `cargo fuzz` (one libFuzzer binary per target in
//! `fuzz/fuzz_targets/`), by the plain mutation runner (`fuzz/examples/plain.rs`, no libFuzzer,
//! stable Rust), and by `tests/adversarial.rs`, which replays every input committed under
//! `fuzz/regressions/<target>/`. It only uses `ftpscope` and `ftpscope_core`.
#![allow(dead_code)]

use ftpscope::capture::CaptureReader;
use ftpscope::output::extract;
use ftpscope::output::json::JsonLines;
use ftpscope::output::report::Report;
use ftpscope::pipeline::{FrameSource, Pipeline, SourceItem};
use ftpscope::transfers::TransferTracker;
use ftpscope_core::decode::{Decoded, decode};
use ftpscope_core::ftp::line::{FramedLine, LineFramer};
use ftpscope_core::ftp::listing::{
    ListingLines, parse_list_line, parse_mlsd_line, parse_nlst_line,
};
use ftpscope_core::ftp::reply::{ReplyAssembler, ReplyStep, reply_code};
use ftpscope_core::ftp::{address, command, path, reply_info};
use ftpscope_core::limits::SECOND;
use ftpscope_core::{Analyzer, Event, Frame, Limits, LinkType, TimeSpan, Timestamp};
use std::collections::{HashMap, HashSet};
use std::io::{self, Cursor, Read};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// A fuzz target: panics when an invariant breaks.
pub type Target = fn(&[u8]);

/// Every target by name, as `cargo fuzz` and the runners know them.
pub const TARGETS: &[(&str, Target)] = &[
    ("capture_pcap", capture_pcap),
    ("capture_pcapng", capture_pcapng),
    ("decode", decode_frame),
    ("line_framer", line_framer),
    ("reply", reply),
    ("command", command_split),
    ("address", address_parsers),
    ("reply_info", reply_info_parsers),
    ("listing", listing),
    ("path", paths),
    ("analyzer_frames", analyzer_frames),
    ("analyzer_tcp", analyzer_tcp),
    ("pipeline", pipeline),
];

pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

// ---------------------------------------------------------------------------------------------
// Capture readers

const PCAP_MAGICS: [[u8; 4]; 6] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x34, 0xcd, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xcd, 0x34],
];
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// The pcap reader: input without a pcap magic gets one, so mutations stay in the pcap parser.
pub fn capture_pcap(data: &[u8]) {
    if PCAP_MAGICS.iter().any(|m| data.starts_with(m)) {
        capture(data);
    } else {
        let mut with = PCAP_MAGICS[0].to_vec();
        with.extend_from_slice(data);
        capture(&with);
    }
}

/// The pcapng reader: input without the section header magic gets it.
pub fn capture_pcapng(data: &[u8]) {
    if data.starts_with(&PCAPNG_MAGIC) {
        capture(data);
    } else {
        let mut with = PCAPNG_MAGIC.to_vec();
        with.extend_from_slice(data);
        capture(&with);
    }
}

/// A reader that hands out its bytes a few at a time (1 to 7), as a pipe may.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.step = self.step % 7 + 1;
        let n = self.step.min(buf.len()).min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        buf[..n].copy_from_slice(head);
        self.data = rest;
        Ok(n)
    }
}

#[derive(Debug, PartialEq, Eq)]
struct ReadOutcome {
    /// (ts, link, orig_len, captured length, FNV-1a of the captured bytes) per frame.
    frames: Vec<(Timestamp, LinkType, u32, usize, u64)>,
    /// Damage offset and text, or the open error.
    end: Option<String>,
    bytes_read: u64,
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn read_capture<R: Read>(reader: R, buffer: usize, len: usize) -> ReadOutcome {
    let mut out = ReadOutcome {
        frames: Vec::new(),
        end: None,
        bytes_read: 0,
    };
    let mut capture = match CaptureReader::open_with_buffer(reader, buffer) {
        Ok(c) => c,
        Err(e) => {
            out.end = Some(format!("open: {e}"));
            return out;
        }
    };
    // Every record or block takes at least 12 bytes: more frames than that is a loop.
    let max_frames = len / 12 + 1;
    loop {
        match capture.next_record() {
            Ok(Some(f)) => {
                assert!(
                    f.data.len() as u64 <= u64::from(f.orig_len),
                    "captured {} > orig_len {}",
                    f.data.len(),
                    f.orig_len
                );
                out.frames
                    .push((f.ts, f.link, f.orig_len, f.data.len(), fnv(f.data)));
                assert!(out.frames.len() <= max_frames, "reader makes no progress");
            }
            Ok(None) => break,
            Err(d) => {
                assert!(d.offset <= len as u64, "damage offset past the end");
                out.end = Some(format!("damage at {}: {}", d.offset, d.what));
                break;
            }
        }
    }
    // Done is done: never another frame or damage.
    assert!(matches!(capture.next_record(), Ok(None)));
    assert!(matches!(capture.next_record(), Ok(None)));
    out.bytes_read = capture.bytes_read();
    assert!(out.bytes_read <= len as u64, "read past the end");
    out
}

/// Reading the whole input at once and reading it a few bytes at a time through a tiny
/// buffer must give the same frames, the same damage and the same offsets.
fn capture(data: &[u8]) {
    let whole = read_capture(Cursor::new(data), 1 << 20, data.len());
    let trickled = read_capture(Trickle { data, step: 0 }, 64, data.len());
    assert_eq!(whole, trickled, "frames depend on how the input arrives");
}

// ---------------------------------------------------------------------------------------------
// Decode

const LINKS: [LinkType; 9] = [
    LinkType::Ethernet,
    LinkType::Null,
    LinkType::Loop,
    LinkType::RawIp,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Other(147),
];

fn link_of(selector: u8) -> LinkType {
    LINKS[usize::from(selector) % LINKS.len()]
}

/// Selector byte for a link type (the inverse of `link_of`, for seed makers).
pub fn link_selector(link: LinkType) -> u8 {
    LINKS.iter().position(|l| *l == link).unwrap_or(8) as u8
}

fn within(inner: &[u8], outer: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len())
}

/// First byte: the link type; the rest: one frame.
pub fn decode_frame(data: &[u8]) {
    let Some((&sel, frame)) = data.split_first() else {
        return;
    };
    match decode(link_of(sel), frame) {
        Decoded::Tcp(seg) => {
            assert!(seg.payload.len() as u64 <= u64::from(seg.wire_payload_len));
            assert!(within(seg.payload, frame), "payload outside the frame");
        }
        Decoded::Fragment(f) => assert!(within(f.payload, frame), "fragment outside the frame"),
        Decoded::NotTcp | Decoded::UnsupportedLink | Decoded::Malformed(_) => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Control lines, replies, commands

fn frame_lines(
    framer: &mut LineFramer,
    pieces: &[&[u8]],
    gap_at: Option<usize>,
) -> Vec<FramedLine> {
    let mut out = Vec::new();
    for (i, p) in pieces.iter().enumerate() {
        if gap_at == Some(i) {
            framer.gap();
        }
        framer.push(p, &mut out);
    }
    framer.finish(&mut out);
    out
}

/// Byte 0: the line limit (1..=64); byte 1: how the stream is cut into pushes. Framing must not
/// depend on how the bytes were cut, and no line may exceed the limit.
pub fn line_framer(data: &[u8]) {
    let [max, cut, stream @ ..] = data else {
        return;
    };
    let max_line = usize::from(*max % 64) + 1;
    let whole = frame_lines(&mut LineFramer::new(max_line), &[stream], None);
    let size = usize::from(*cut % 13) + 1;
    let pieces: Vec<&[u8]> = stream.chunks(size).collect();
    let mut framer = LineFramer::new(max_line);
    let chunked = frame_lines(&mut framer, &pieces, None);
    assert_eq!(whole, chunked, "framing depends on segment boundaries");
    for line in &whole {
        assert!(line.bytes.len() <= max_line, "line over the limit");
        assert!(!line.bytes.contains(&b'\n'));
    }
    assert_eq!(framer.buffered(), 0);
    // A gap in the middle: still bounded, and the framer recovers.
    let mut framer = LineFramer::new(max_line);
    for line in frame_lines(&mut framer, &pieces, Some(pieces.len() / 2)) {
        assert!(line.bytes.len() <= max_line);
    }
}

/// Byte 0: the multi-line limit (1..=8); the rest: server lines split at LF.
pub fn reply(data: &[u8]) {
    let Some((&max, text)) = data.split_first() else {
        return;
    };
    let max_lines = usize::from(max % 8) + 1;
    let mut assembler = ReplyAssembler::default();
    let check = |r: &ftpscope_core::Reply| {
        assert!((100..700).contains(&r.code), "impossible code {}", r.code);
        let lines = r.text.split(|&b| b == b'\n').count();
        assert!(
            lines <= max_lines + 1,
            "{lines} lines kept, limit {max_lines}"
        );
    };
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let open = assembler.is_open();
        match assembler.push_line(Timestamp::from_nanos(i as i64), line, max_lines) {
            ReplyStep::Complete(r) => check(&r),
            ReplyStep::Continues => {}
            ReplyStep::Malformed => {
                assert!(
                    !open && reply_code(line).is_none(),
                    "a valid line was refused"
                );
            }
        }
        if i % 5 == 4
            && let Some(r) = assembler.gap()
        {
            check(&r);
        }
    }
    if let Some(r) = assembler.finish() {
        check(&r);
    }
    assert!(!assembler.is_open());
}

/// Every line of the input through the command splitter.
pub fn command_split(data: &[u8]) {
    for line in data.split(|&b| b == b'\n') {
        let (verb, arg) = command::split_command(line);
        assert!(
            !verb.iter().any(u8::is_ascii_lowercase),
            "verb not upper-cased"
        );
        match line.iter().position(|&b| b == b' ') {
            Some(i) => {
                assert_eq!(verb, line[..i].to_ascii_uppercase());
                assert_eq!(arg, &line[i + 1..]);
            }
            None => assert!(verb.len() == line.len() && arg.is_empty()),
        }
        let _ = command::kind_of(&verb);
        if command::looks_like_verb(&verb) {
            assert!((3..=8).contains(&verb.len()));
        }
        if command::is_known_verb(&verb) {
            assert!(
                command::looks_like_verb(&verb),
                "known verb {verb:?} looks wrong"
            );
        }
    }
}

/// Every address parser on every line; then endpoints built from the input must parse back.
pub fn address_parsers(data: &[u8]) {
    for line in data.split(|&b| b == b'\n') {
        let _ = address::parse_port_arg(line);
        let _ = address::parse_eprt_arg(line);
        let _ = address::parse_lprt_arg(line);
        let _ = address::parse_227_text(line);
        let _ = address::parse_228_text(line);
        if let Ok(port) = address::parse_229_text(line) {
            assert_ne!(port, 0, "229 port 0 accepted");
        }
        for parsed in [
            address::parse_port_arg(line),
            address::parse_eprt_arg(line),
            address::parse_lprt_arg(line),
            address::parse_227_text(line),
            address::parse_228_text(line),
        ]
        .into_iter()
        .flatten()
        {
            assert_ne!(parsed.port(), 0, "port 0 accepted from {line:?}");
        }
    }
    let Some(&[h1, h2, h3, h4, p1, p2]) = data.get(..6) else {
        return;
    };
    let port = u16::from_be_bytes([p1, p2]);
    let want = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(h1, h2, h3, h4)), port);
    let args = format!("{h1},{h2},{h3},{h4},{p1},{p2}");
    let reply227 = format!("Entering Passive Mode ({args}).");
    let eprt = format!("|1|{h1}.{h2}.{h3}.{h4}|{port}|");
    let lprt = format!("4,4,{h1},{h2},{h3},{h4},2,{p1},{p2}");
    let reply229 = format!("Entering Extended Passive Mode (|||{port}|)");
    if port == 0 {
        assert!(address::parse_port_arg(args.as_bytes()).is_err());
        return;
    }
    assert_eq!(address::parse_port_arg(args.as_bytes()), Ok(want));
    assert_eq!(address::parse_227_text(reply227.as_bytes()), Ok(want));
    assert_eq!(address::parse_eprt_arg(eprt.as_bytes()), Ok(want));
    assert_eq!(address::parse_lprt_arg(lprt.as_bytes()), Ok(want));
    assert_eq!(
        address::parse_228_text(format!("({lprt})").as_bytes()),
        Ok(want)
    );
    assert_eq!(address::parse_229_text(reply229.as_bytes()), Ok(port));
}

/// Every reply-text parser on every line.
pub fn reply_info_parsers(data: &[u8]) {
    for line in data.split(|&b| b == b'\n') {
        let _ = reply_info::size_from_150(line);
        let _ = reply_info::size_from_213(line);
        if let Some(p) = reply_info::path_from_257(line) {
            assert!(p.len() <= line.len() && !p.is_empty());
        }
        if let Some(p) = reply_info::path_from_250(line) {
            assert!(p.len() <= line.len() && !p.is_empty());
        }
        if let Some(n) = reply_info::stou_name(line) {
            assert!(n.len() <= line.len());
        }
        if let Some(t) = reply_info::time_from_213(line) {
            assert!(t.ends_with('Z') && t.len() <= 30, "{t}");
        }
    }
}

/// Byte 0: the line limit and how the listing is cut; the rest: listing bytes. Line splitting
/// must not depend on the cuts; every line goes through the three parsers.
pub fn listing(data: &[u8]) {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let max_line = usize::from(sel % 32) * 8 + 1;
    let collect = |pieces: &mut dyn Iterator<Item = &[u8]>| {
        let mut lines = ListingLines::new(max_line);
        let mut got: Vec<Vec<u8>> = Vec::new();
        for p in pieces {
            lines.push(p, &mut |l| got.push(l.to_vec()));
        }
        lines.finish(&mut |l| got.push(l.to_vec()));
        (got, lines.cut_lines())
    };
    let whole = collect(&mut std::iter::once(body));
    let chunked = collect(&mut body.chunks(usize::from(sel / 32) + 1));
    assert_eq!(whole, chunked, "listing lines depend on segment boundaries");
    for line in &whole.0 {
        assert!(line.len() <= max_line + 1, "listing line over the limit");
    }
    for line in body.split(|&b| b == b'\n') {
        for e in [
            parse_list_line(line),
            parse_mlsd_line(line),
            parse_nlst_line(line),
        ]
        .into_iter()
        .flatten()
        {
            assert!(!e.name.is_empty() && e.name.len() <= line.len());
        }
    }
}

/// Remote paths: resolution against a working directory (byte 0 splits cwd from path) and
/// the extraction sanitiser, which must give a relative path of safe, short components.
pub fn paths(data: &[u8]) {
    let (cwd, p) = match data.iter().position(|&b| b == 0) {
        Some(i) => (Some(&data[..i]), &data[i + 1..]),
        None => (None, data),
    };
    if let Some(r) = path::resolve(cwd, p) {
        assert_eq!(path::normalize(&r), r, "normalize is not idempotent");
        if r.first() == Some(&b'/') {
            for part in r.split(|&b| b == b'/').skip(1) {
                assert!(part != b".." && part != b".", "{r:?} still climbs");
            }
        }
    }
    let parent = path::parent(p);
    assert_eq!(path::normalize(&parent), parent);
    check_sanitized(data);
    if let Some(c) = cwd {
        check_sanitized(c);
    }
}

fn check_sanitized(remote: &[u8]) {
    use std::path::Component;
    let rel = extract::sanitize_path(remote);
    for c in rel.components() {
        let Component::Normal(name) = c else {
            panic!("{rel:?} has a {c:?} component (from {remote:?})");
        };
        let name = name.to_str().expect("sanitised names are UTF-8");
        assert!(!name.is_empty() && name != "." && name != "..");
        assert!(name.len() <= 200, "component of {} bytes", name.len());
        assert!(
            !name
                .chars()
                .any(|c| c.is_control() || matches!(c, '/' | '\\' | ':' | '\u{202e}')),
            "unsafe character kept in {name:?}"
        );
        assert!(!name.ends_with('.') && !name.ends_with(' '));
        let stem = name.split('.').next().unwrap_or("").to_ascii_uppercase();
        assert!(
            !matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
                && !(stem.len() == 4
                    && (stem.starts_with("COM") || stem.starts_with("LPT"))
                    && stem.as_bytes()[3].is_ascii_digit()
                    && stem.as_bytes()[3] != b'0'),
            "reserved name {name:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The analyzer

/// Small limits, so that fuzzing reaches every bound quickly.
pub fn small_limits() -> Limits {
    Limits {
        max_flows: 16,
        max_ooo_bytes_per_direction: 4096,
        max_ooo_segments_per_direction: 16,
        max_ooo_bytes_total: 16384,
        max_seq_distance: 1 << 20,
        max_line_len: 64,
        max_reply_lines: 8,
        max_pending_commands: 8,
        max_expectations_per_session: 4,
        expectation_ttl: 60 * SECOND,
        port_only_window: 10 * SECOND,
        max_classify_bytes: 256,
        max_classify_wait: 10 * SECOND,
        max_size_hints: 4,
        idle_timeout: 120 * SECOND,
        handshake_timeout: 30 * SECOND,
        max_fragment_bytes: 8192,
        max_fragment_datagrams: 8,
        fragment_timeout: 10 * SECOND,
        max_attempt_servers: 4,
        anomaly_events_per_kind: 20,
        sweep_interval: SECOND,
    }
}

/// Checks the event stream of one analyzer run: every session and transfer that starts ends
/// exactly once, a transfer's bytes and gaps add up to its record, verdicts are coherent, the
/// anomaly cap holds, memory stays within the limits, and nothing is left after `finish`.
pub struct Checker {
    pub analyzer: Analyzer,
    /// Every event seen, when `keep` is set (tests look at them).
    pub events: Vec<Event>,
    pub keep: bool,
    sessions: HashSet<u64>,
    transfers: HashMap<u64, (u64, u64)>,
    anomalies: HashMap<&'static str, u64>,
}

impl Checker {
    pub fn new(limits: Limits) -> Self {
        Checker {
            analyzer: Analyzer::new(limits),
            events: Vec::new(),
            keep: false,
            sessions: HashSet::new(),
            transfers: HashMap::new(),
            anomalies: HashMap::new(),
        }
    }

    pub fn frame(&mut self, frame: &Frame<'_>) {
        self.analyzer.handle_frame(frame);
        self.drain();
        let (flows, _, _) = self.analyzer.in_flight();
        assert!(flows <= self.analyzer.limits().max_flows, "{flows} flows");
    }

    fn drain(&mut self) {
        let cap = self.analyzer.limits().anomaly_events_per_kind;
        while let Some(ev) = self.analyzer.poll_event() {
            match &ev {
                Event::SessionStarted(s) => assert!(self.sessions.insert(s.session)),
                Event::SessionEnded(s) => {
                    assert!(self.sessions.remove(&s.session), "session ended twice");
                    assert!(s.end >= s.start, "session ends before it starts");
                }
                Event::Exchange(e) => {
                    assert!(self.sessions.contains(&e.session), "exchange of no session");
                }
                Event::TransferStarted(t) => {
                    assert!(self.transfers.insert(t.transfer, (0, 0)).is_none());
                }
                Event::TransferData { transfer, data } => {
                    let t = self
                        .transfers
                        .get_mut(transfer)
                        .expect("data of no transfer");
                    assert!(!data.is_empty());
                    t.0 += data.len() as u64;
                }
                Event::TransferGap { transfer, len } => {
                    let t = self
                        .transfers
                        .get_mut(transfer)
                        .expect("gap of no transfer");
                    assert!(*len > 0);
                    t.1 += len;
                }
                Event::TransferEnded(r) => {
                    let (bytes, gaps) = self
                        .transfers
                        .remove(&r.transfer)
                        .expect("transfer ended twice");
                    if r.status == ftpscope_core::TransferStatus::Encrypted {
                        // Ciphertext is counted, never handed over as the file's bytes.
                        assert_eq!((bytes, gaps), (0, 0), "{r:?}");
                    } else {
                        assert_eq!((r.bytes, r.gap_bytes), (bytes, gaps), "{r:?}");
                    }
                    assert!(r.end >= r.start, "transfer ends before it starts");
                    assert!(r.missing_bytes >= r.gap_bytes);
                    if r.status == ftpscope_core::TransferStatus::Complete {
                        assert_eq!(r.missing_bytes, 0, "complete but missing bytes: {r:?}");
                    }
                }
                Event::Anomaly(a) => {
                    let n = self.anomalies.entry(a.kind.as_str()).or_default();
                    *n += 1;
                    assert!(*n <= cap, "anomaly cap broken for {}", a.kind.as_str());
                }
            }
            if self.keep {
                self.events.push(ev);
            }
        }
    }

    /// Ends the run and checks nothing was left behind.
    pub fn finish(mut self) -> (Analyzer, Vec<Event>) {
        self.analyzer.finish();
        self.drain();
        assert!(self.sessions.is_empty(), "sessions never ended");
        assert!(self.transfers.is_empty(), "transfers never ended");
        assert_eq!(self.analyzer.in_flight(), (0, 0, 0));
        (self.analyzer, self.events)
    }
}

/// Frames in a compact form: per frame a header byte (low nibble: link type; bit 4: the
/// timestamp goes back instead of forward), a little-endian u16 time step in milliseconds, a
/// u16 length, then the bytes. The first byte picks default or small limits.
pub fn analyzer_frames(data: &[u8]) {
    let Some((&sel, mut rest)) = data.split_first() else {
        return;
    };
    let limits = if sel & 1 == 0 {
        small_limits()
    } else {
        Limits::default()
    };
    let mut checker = Checker::new(limits);
    let mut ts = Timestamp::from_secs(1_700_000_000);
    while let [h, t0, t1, l0, l1, tail @ ..] = rest {
        let step = TimeSpan::from_millis(i64::from(u16::from_le_bytes([*t0, *t1])));
        ts = if h & 0x10 != 0 { ts - step } else { ts + step };
        let len = usize::from(u16::from_le_bytes([*l0, *l1])).min(tail.len());
        let (bytes, after) = tail.split_at(len);
        let orig_len = if h & 0x20 != 0 {
            len as u32 + u32::from(*l1)
        } else {
            len as u32
        };
        checker.frame(&Frame {
            ts,
            link: link_of(h & 0x0f),
            data: bytes,
            orig_len,
            number: 0,
        });
        rest = after;
    }
    checker.finish();
}

/// Encodes frames for [`analyzer_frames`] (for seed makers and tests).
pub fn encode_frames(small: bool, frames: &[(Timestamp, LinkType, &[u8])]) -> Vec<u8> {
    let mut out = vec![u8::from(!small)];
    let mut prev = frames.first().map_or(Timestamp::EPOCH, |f| f.0);
    for (ts, link, bytes) in frames {
        let delta = (*ts - prev).as_nanos();
        prev = *ts;
        let back = delta < 0;
        let ms = (delta.unsigned_abs() / 1_000_000).min(u64::from(u16::MAX)) as u16;
        let len = bytes.len().min(usize::from(u16::MAX));
        out.push(link_selector(*link) | if back { 0x10 } else { 0 });
        out.extend_from_slice(&ms.to_le_bytes());
        out.extend_from_slice(&(len as u16).to_le_bytes());
        out.extend_from_slice(&bytes[..len]);
    }
    out
}

/// Control and data lines the structured target draws from, so that mutations talk FTP.
const DICTIONARY: &[&[u8]] = &[
    b"220 ready\r\n",
    b"USER anonymous\r\n",
    b"331 password\r\n",
    b"PASS a@b\r\n",
    b"230 ok\r\n",
    b"PASV\r\n",
    b"227 Entering Passive Mode (10,0,0,2,19,137).\r\n",
    b"227 (10,0,0,2,19,138)\r\n",
    b"EPSV\r\n",
    b"229 Entering Extended Passive Mode (|||5001|)\r\n",
    b"PORT 10,0,0,1,19,140\r\n",
    b"EPRT |1|10.0.0.1|5004|\r\n",
    b"200 ok\r\n",
    b"RETR /pub/f.bin\r\n",
    b"STOR up.bin\r\n",
    b"LIST\r\n",
    b"MLSD\r\n",
    b"150 Opening BINARY mode data connection for f.bin (64 bytes).\r\n",
    b"226 done\r\n",
    b"426 aborted\r\n",
    b"ABOR\r\n",
    b"REST 10\r\n",
    b"350 restarting\r\n",
    b"SIZE f.bin\r\n",
    b"213 64\r\n",
    b"CWD ../x\r\n",
    b"250 \"/pub\" ok\r\n",
    b"PWD\r\n",
    b"257 \"/\"\r\n",
    b"TYPE A\r\n",
    b"MODE B\r\n",
    b"AUTH TLS\r\n",
    b"234 go\r\n",
    b"230-multi\r\n",
    b"230 end\r\n",
    b"drwxr-xr-x 2 0 0 4096 Mar 22 12:34 dir\r\n",
    b"type=file;size=3; a\r\n",
    b"QUIT\r\n",
    b"221 bye\r\n",
    b"\xff\xf4\xff\xf2",
    b"\x1b]0;x\x07\r\n",
];

/// The endpoints of the structured target: the control connection, data connections to the
/// ports the dictionary announces, an active-mode connection from port 20 and a stranger.
const ENDPOINTS: [(&str, &str); 8] = [
    ("10.0.0.1:40000", "10.0.0.2:21"),
    ("10.0.0.1:40001", "10.0.0.2:5001"),
    ("10.0.0.1:40002", "10.0.0.2:5002"),
    ("10.0.0.2:20", "10.0.0.1:5004"),
    ("10.0.0.2:20", "10.0.0.1:5005"),
    ("10.0.0.1:40003", "10.0.0.2:2121"),
    ("10.0.0.9:40004", "10.0.0.2:5001"),
    ("10.0.0.1:40005", "10.0.0.2:21"),
];

/// One IPv4 + TCP packet for `LinkType::RawIp`.
pub fn ipv4_tcp(
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (src.ip(), dst.ip()) else {
        return Vec::new();
    };
    let total = 40 + payload.len();
    let mut p = Vec::with_capacity(total);
    p.extend_from_slice(&[0x45, 0]);
    p.extend_from_slice(&(total.min(65535) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
    p.extend_from_slice(&s.octets());
    p.extend_from_slice(&d.octets());
    p.extend_from_slice(&src.port().to_be_bytes());
    p.extend_from_slice(&dst.port().to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ack.to_be_bytes());
    p.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    p.extend_from_slice(payload);
    p
}

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const ACK: u8 = 0x10;

/// A structured analyzer target: each op is 3 bytes (endpoint and direction; flags and how
/// the sequence number moves; payload choice) and maybe raw payload bytes. Sequence numbers
/// are tracked per direction so most segments are in order and mutations make holes,
/// overlaps, retransmissions and resets on purpose.
pub fn analyzer_tcp(data: &[u8]) {
    let Some((&sel, mut rest)) = data.split_first() else {
        return;
    };
    let limits = if sel & 1 == 0 {
        small_limits()
    } else {
        Limits::default()
    };
    let mut checker = Checker::new(limits);
    let mut seqs = [[1000u32, 5000u32]; ENDPOINTS.len()];
    let mut ts = Timestamp::from_secs(1_700_000_000);
    while let [a, b, c, tail @ ..] = rest {
        rest = tail;
        let conn = usize::from(a & 7);
        let from_client = a & 8 == 0;
        ts += TimeSpan::from_nanos(i64::from(a >> 4) * i64::from(a >> 4) * 50_000_000);
        let (client, server) = ENDPOINTS[conn];
        let (client, server): (SocketAddr, SocketAddr) =
            (client.parse().unwrap(), server.parse().unwrap());
        let (src, dst, dir) = if from_client {
            (client, server, 0)
        } else {
            (server, client, 1)
        };
        let flags = match b & 7 {
            0..=3 => ACK,
            4 => SYN,
            5 => SYN | ACK,
            6 => FIN | ACK,
            _ => RST,
        };
        // How the sequence number moves: in order, back (retransmit/overlap), forward (hole).
        let shift: i64 = match b >> 3 {
            0..=23 => 0,
            24..=27 => -i64::from(b & 7) * 8,
            _ => i64::from(b & 7) * 64 + 1,
        };
        let payload: Vec<u8> = if c & 0x80 != 0 {
            DICTIONARY[usize::from(c & 0x7f) % DICTIONARY.len()].to_vec()
        } else {
            let n = usize::from(*c).min(rest.len());
            let (p, after) = rest.split_at(n);
            rest = after;
            p.to_vec()
        };
        let payload = if flags & (SYN | RST) != 0 {
            Vec::new()
        } else {
            payload
        };
        let seq = seqs[conn][dir].wrapping_add(shift as u32);
        let ack = seqs[conn][1 - dir];
        let packet = ipv4_tcp(src, dst, seq, ack, flags, &payload);
        checker.frame(&Frame {
            ts,
            link: LinkType::RawIp,
            data: &packet,
            orig_len: packet.len() as u32,
            number: 0,
        });
        let advance = payload.len() as u32 + u32::from(flags & (SYN | FIN) != 0);
        seqs[conn][dir] = seq.wrapping_add(advance);
    }
    checker.finish();
}

// ---------------------------------------------------------------------------------------------
// The whole binary pipeline

/// A capture file through the real pipeline (readers, analyzer, transfer tracker, JSON Lines
/// and the text report, default limits). The report and the JSON must carry no raw control
/// character: nothing from the wire may act on a terminal.
pub fn pipeline(data: &[u8]) {
    let Ok(reader) =
        CaptureReader::open(Box::new(Cursor::new(data.to_vec())) as Box<dyn Read + Send>)
    else {
        return;
    };
    let mut capture = ftpscope::capture::MergedCapture::new(vec![("fuzz".into(), reader)]);
    let mut json_out = Vec::new();
    let mut report_out = Vec::new();
    {
        let mut json = JsonLines::new(&mut json_out, false);
        let mut report = Report::new(&mut report_out, false);
        let mut pipeline = Pipeline {
            analyzer: Analyzer::new(Limits::default()),
            tracker: TransferTracker::new(None).expect("no extraction"),
            outputs: vec![&mut json, &mut report],
        };
        let mut source = CountingSource {
            inner: &mut capture,
            frames: 0,
        };
        pipeline
            .run(vec!["fuzz".into()], &mut source, &mut |_| {})
            .expect("writing to memory cannot fail");
    }
    assert_terminal_safe(&json_out, "JSON");
    assert_terminal_safe(&report_out, "report");
    for line in json_out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let text = std::str::from_utf8(line).expect("JSON Lines are UTF-8");
        assert!(text.starts_with("{\"type\":"), "not a JSON record: {text}");
    }
}

/// Wraps a source to make sure the pipeline asks for frames in a bounded loop.
struct CountingSource<'a> {
    inner: &'a mut dyn FrameSource,
    frames: u64,
}

impl FrameSource for CountingSource<'_> {
    fn next_item(&mut self) -> Option<SourceItem<'_>> {
        self.frames += 1;
        assert!(self.frames < 10_000_000, "source never ends");
        self.inner.next_item()
    }

    fn bytes_read(&self) -> u64 {
        self.inner.bytes_read()
    }
}

/// No C0 control byte but LF, no DEL, no C1 control and no bidi override in text meant for a
/// terminal.
pub fn assert_terminal_safe(out: &[u8], what: &str) {
    let text = String::from_utf8_lossy(out);
    for (i, c) in text.char_indices() {
        let bad = (c.is_control() && c != '\n')
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if bad {
            let around: String = text[i..].chars().take(40).collect();
            panic!("{what} carries raw {c:?} at byte {i}: {around:?}");
        }
    }
}

/// A whole passive download and an active-mode upload in the structured target's ops.
const TCP_SESSION: &[u8] = &[
    0, // small limits
    0x10, 4, 0, 0x18, 5, 0, 0x10, 0, 0, // control handshake
    0x18, 0, 0x80, 0x10, 0, 0x81, 0x18, 0, 0x82, 0x10, 0, 0x83, 0x18, 0, 0x84, // login
    0x10, 0, 0x85, 0x18, 0, 0x86, // PASV, 227 port 5001
    0x11, 4, 0, 0x19, 5, 0, 0x11, 0, 0, // data handshake
    0x10, 0, 0x8d, 0x18, 0, 0x91, // RETR, 150
    0x19, 0, 5, b'h', b'e', b'l', b'l', b'o', // file bytes
    0x19, 6, 0, 0x11, 6, 0, 0x18, 0, 0x92, // FINs, 226
    0x10, 0, 0x8a, 0x18, 0, 0x8c, // PORT 5004, 200
    0x13, 4, 0, 0x1b, 5, 0, 0x13, 0, 0, // server connects from port 20
    0x10, 0, 0x8e, 0x18, 0, 0x91, 0x1b, 0, 3, b'u', b'p', b'!', // STOR, 150, bytes
    0x1b, 6, 0, 0x13, 6, 0, 0x18, 0, 0x92, // FINs, 226
    0x10, 0, 0xa5, 0x18, 0, 0xa6, 0x10, 6, 0, 0x18, 6, 0, // QUIT, 221, FINs
];

/// Hand-made seeds for what captures do not seed well (`plain seeds` writes them too).
pub const DICT_SEEDS: &[(&str, &[u8])] = &[
    ("analyzer_tcp", TCP_SESSION),
    (
        "address",
        b"10,0,0,1,300,1\n|1|1.2.3.4|65536|\n(|||0|)\n!2!::1!21!\n6,16,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,2,0,21\n",
    ),
    ("reply", b"\x03220-a\n1\n220-b\n220 c\n999 x\n12\n"),
    ("line_framer", b"\x10\x03USER a\r\nPASS \xff\xff\r\n\xff\xf4\xff\xf2ABOR\n\xff\xfa\x18x\xff\xf0LIST\r\n"),
    ("path", b"/a/b\0../../etc/passwd\n"),
    ("path", b"/\0CON\\..\\x/\x1b[2J/nul.txt. "),
    (
        "listing",
        b"\x41-rw-r--r-- 1 ftp ftp 12 Mar 22 12:34 a b.txt\r\n03-22-10 12:34PM <DIR> d\r\ntype=file;size=3;modify=20240101120000; x\r\nlrwxrwxrwx 1 0 0 3 Jan 1 2020 l -> t\r\n",
    ),
    ("reply_info", b"Opening (123 bytes)\n\"/a\"\"b\" created\n20240229235960.5\nFILE: x\n"),
    ("command", b"retr a b\nPORT 1,2,3,4,5,6\n\x16\x03\x01\n"),
];
