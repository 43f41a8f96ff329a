//! Capture file reading: a pure-Rust, streaming reader for pcap and pcapng files, and a merge
//! of several readers in timestamp order (for rotated captures).
//!
//! Formats and references:
//! - pcap (libpcap "savefile"): draft-ietf-opsawg-pcap. Both byte orders, microsecond
//!   (`a1 b2 c3 d4`) and nanosecond (`a1 b2 3c 4d`) magic, and the "modified" pcap of old Red Hat
//!   tcpdump (`a1 b2 cd 34`, 8 extra bytes per record header). The link type is the low 16 bits
//!   of the header field, as libpcap reads it (the upper bits carry FCS information).
//! - pcapng: draft-ietf-opsawg-pcapng. Several sections (each Section Header Block may switch
//!   byte order), several interfaces per section with their own link type, `if_tsresol` and
//!   `if_tsoffset`; Enhanced, Simple and obsolete Packet Blocks. Every other block is skipped by
//!   its length.
//!
//! Streaming: the input is read through one reusable buffer (1 MiB by default) and records are
//! handed out as slices of it, so nothing is copied per frame, memory does not grow with the
//! file and no seeking is needed (`-r -` reads stdin).
//!
//! Damage policy: the first malformed thing ends the file. [`CaptureReader::next_record`] returns
//! every good frame before it, then one [`Damage`] (byte offset of the bad record or block and
//! what is wrong), then `Ok(None)` forever. Damage is: a record or block cut short by the end of
//! the file (trailing junk included), an absurd length, a pcapng trailing length that differs
//! from the leading one, a packet block naming an interface the section never described, or a
//! read error. Not damage: timestamps going backwards, and a captured length above the original
//! length (the original length is raised to the captured one). Hostile input never panics, never
//! makes the reader allocate more than [`MAX_BLOCK`] plus its buffer, and always makes progress.
//!
//! Simple Packet Blocks carry no timestamp: they get the previous packet's (0 before any), so
//! the analyzer's clock never jumps back to 1970 for them. Malformed IDB options are ignored
//! (the packets stay readable); pcap's `thiszone`/`sigfigs` are ignored as libpcap does.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::io::{self, Read};

use ftpscope_core::{Frame, LinkType, Timestamp};

/// A frame read from a capture; borrows the reader's buffer until the next read. It is the
/// core's [`Frame`], so it goes to the analyzer as it is.
pub type RecordRef<'a> = Frame<'a>;

/// Largest pcap record or pcapng block accepted, whatever the headers say.
pub const MAX_BLOCK: usize = 256 << 20;
/// A pcap record may always hold this much, even when the header's snaplen is smaller
/// (libpcap's own maximum snaplen for most link types).
const PCAP_MIN_RECORD_CAP: u32 = 256 << 10;
/// Default size of the read buffer.
pub const DEFAULT_BUFFER: usize = 1 << 20;
/// Interfaces one pcapng section may describe; more is treated as damage so that a file made of
/// interface blocks cannot grow memory without bound.
const MAX_INTERFACES: usize = 1 << 16;

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const PB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// Where and how a capture file is damaged. Reading stops at the damage; everything before it
/// was returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Byte offset in the file where the bad record or block starts.
    pub offset: u64,
    /// What is wrong, for people.
    pub what: String,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "capture damaged at byte {}: {}", self.offset, self.what)
    }
}

impl std::error::Error for Damage {}

/// Why a capture could not be opened.
#[derive(Debug)]
pub enum OpenError {
    Io(io::Error),
    /// The input has no bytes at all.
    Empty,
    /// The first four bytes are no pcap or pcapng magic.
    NotACapture {
        magic: [u8; 4],
    },
    /// The input ends inside the file header or the first section header block.
    TruncatedHeader,
    /// The file header is complete but makes no sense.
    BadHeader(String),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Io(e) => write!(f, "cannot read capture: {e}"),
            OpenError::Empty => write!(f, "capture file is empty"),
            OpenError::NotACapture { magic } => {
                let [a, b, c, d] = magic;
                write!(
                    f,
                    "not a pcap or pcapng file (starts with {a:02x} {b:02x} {c:02x} {d:02x})"
                )?;
                match magic {
                    [0x1f, 0x8b, ..] => {
                        write!(f, "; it looks gzip-compressed, decompress it first")
                    }
                    [0x28, 0xb5, 0x2f, 0xfd] => {
                        write!(f, "; it looks zstd-compressed, decompress it first")
                    }
                    [0x50, 0x4b, 0x03, 0x04] => write!(f, "; it looks like a zip archive"),
                    _ => Ok(()),
                }
            }
            OpenError::TruncatedHeader => write!(f, "capture file ends inside its file header"),
            OpenError::BadHeader(what) => write!(f, "bad capture file header: {what}"),
        }
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OpenError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// The file format of an open capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcap,
    Pcapng,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endian {
    Little,
    Big,
}

/// Integer readers: the value at `at` in `b`, or 0 past the end of `b` (every caller checks
/// the length first; 0 keeps a missed check harmless).
impl Endian {
    fn u16(self, b: &[u8], at: usize) -> u16 {
        let b = take(b, at).unwrap_or_default();
        match self {
            Endian::Little => u16::from_le_bytes(b),
            Endian::Big => u16::from_be_bytes(b),
        }
    }
    fn u32(self, b: &[u8], at: usize) -> u32 {
        let b = take(b, at).unwrap_or_default();
        match self {
            Endian::Little => u32::from_le_bytes(b),
            Endian::Big => u32::from_be_bytes(b),
        }
    }
    fn i64(self, b: &[u8], at: usize) -> i64 {
        let b = take(b, at).unwrap_or_default();
        match self {
            Endian::Little => i64::from_le_bytes(b),
            Endian::Big => i64::from_be_bytes(b),
        }
    }
}

/// `N` bytes of `b` at `at`, or `None` when `b` is too short.
fn take<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// The buffered input. Unlike `BufReader` it can hold a whole record contiguously and hand it
/// out in place, which is what makes reading copy-free.
struct Input<R> {
    inner: R,
    /// `buf[start..end]` holds bytes read but not yet consumed.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// File offset of `buf[start]`.
    pos: u64,
    /// Target buffer size; the buffer grows past it only for a larger record.
    capacity: usize,
    eof: bool,
}

/// First buffer size: small files never pay for the full buffer.
const FIRST_BUFFER: usize = 32 << 10;

impl<R: Read> Input<R> {
    fn new(inner: R, capacity: usize) -> Self {
        let capacity = capacity.clamp(64, MAX_BLOCK);
        let buf = Vec::new();
        Input {
            inner,
            buf,
            start: 0,
            end: 0,
            pos: 0,
            capacity,
            eof: false,
        }
    }

    /// Makes at least `n` bytes available unless the input ends first; returns how many are.
    fn fill(&mut self, n: usize) -> io::Result<usize> {
        if self.end - self.start >= n {
            return Ok(self.end - self.start);
        }
        if self.start + n > self.buf.len() {
            self.compact(n);
        }
        while self.end - self.start < n && !self.eof {
            if self.end == self.buf.len() {
                // Double rather than jump to `n`: a lying length field then costs at most
                // twice the bytes the file really holds.
                let doubled = self.buf.len().saturating_mul(2).max(FIRST_BUFFER);
                let want = self.start + n;
                self.buf.resize(doubled.min(want.max(self.capacity)), 0);
            }
            let spare = self.buf.get_mut(self.end..).unwrap_or_default();
            let room = spare.len();
            match self.inner.read(spare) {
                Ok(0) => self.eof = true,
                Ok(got) => self.end += got.min(room),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.end - self.start)
    }

    /// Moves the unconsumed bytes to the front. A file that has filled the buffer once gets a
    /// bigger one, up to `capacity`; memory a huge record took is given back.
    fn compact(&mut self, n: usize) {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.buf.len() < self.capacity {
            let grown = self
                .buf
                .len()
                .saturating_mul(2)
                .max(FIRST_BUFFER)
                .min(self.capacity);
            self.buf.resize(grown, 0);
        } else if self.buf.len() > self.capacity && n.max(self.end) <= self.capacity {
            self.buf.truncate(self.capacity);
            self.buf.shrink_to_fit();
        }
    }

    /// The next `len` unconsumed bytes (fewer if fewer are buffered).
    fn peek(&self, len: usize) -> &[u8] {
        let end = self.start.saturating_add(len).min(self.end);
        self.buf.get(self.start..end).unwrap_or_default()
    }

    /// `fill` for the parsers: a read error is damage, like the end of the file.
    fn need(&mut self, n: usize) -> Result<usize, String> {
        self.fill(n).map_err(|e| format!("read error: {e}"))
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.pos += n as u64;
    }
}

/// A frame found by a parser, as a position in the input buffer, so that the reader can hand
/// it out (and hand it out again, for the merge) without holding a borrow while parsing.
#[derive(Debug, Clone, Copy)]
struct Pending {
    ts: Timestamp,
    link: LinkType,
    orig_len: u32,
    /// Absolute index of the data in `Input::buf`, valid until the next `fill`.
    data_at: usize,
    data_len: usize,
}

/// What one record or block turned out to be. Errors are the text of a [`Damage`] at the
/// offset where the record or block starts (nothing is consumed before it is known good).
enum Step {
    End,
    Skipped,
    Frame(Pending),
}

/// State of a classic pcap file: everything is fixed by the file header.
struct PcapState {
    endian: Endian,
    /// Nanoseconds per unit of the record's fraction field (1000 for microsecond files).
    frac_ns: i64,
    link: LinkType,
    /// Largest captured length accepted: the snaplen as a hint, within sane bounds.
    max_caplen: u32,
    /// 16, or 24 for the "modified" pcap format.
    header_len: usize,
}

impl PcapState {
    fn step<R: Read>(&mut self, input: &mut Input<R>) -> Result<Step, String> {
        let hl = self.header_len;
        let have = input.need(hl)?;
        if have == 0 {
            return Ok(Step::End);
        }
        if have < hl {
            return Err(format!(
                "end of file inside a record header: {hl} bytes expected, {have} present"
            ));
        }
        let h = input.peek(hl);
        let word = |i: usize| self.endian.u32(h, i * 4);
        let (sec, frac, caplen, orig_len) = (word(0), word(1), word(2), word(3));
        if caplen > self.max_caplen {
            let max = self.max_caplen;
            return Err(format!(
                "record claims {caplen} captured bytes, more than the {max} allowed"
            ));
        }
        let total = hl + caplen as usize;
        let have = input.need(total)?.saturating_sub(hl);
        if have < caplen as usize {
            return Err(format!(
                "record cut short: {caplen} bytes of data expected, {have} present before end of file"
            ));
        }
        // u32 seconds * 1e9 plus u32 fraction * 1e3 stays far below i64::MAX.
        let ts = i64::from(sec) * 1_000_000_000 + i64::from(frac) * self.frac_ns;
        let (link, orig_len, data_at) = (self.link, orig_len.max(caplen), input.start + hl);
        input.consume(total);
        Ok(Step::Frame(Pending {
            ts,
            link,
            orig_len,
            data_at,
            data_len: caplen as usize,
        }))
    }
}

/// Timestamp unit of a pcapng interface (`if_tsresol`).
#[derive(Debug, Clone, Copy)]
enum Resolution {
    /// 10^-k seconds.
    Pow10(u32),
    /// 2^-k seconds.
    Pow2(u32),
}

#[derive(Debug, Clone, Copy)]
struct Interface {
    link: LinkType,
    snaplen: u32,
    resolution: Resolution,
    /// `if_tsoffset`: seconds added to every timestamp.
    offset_s: i64,
}

impl Interface {
    fn timestamp(&self, units: u64) -> Timestamp {
        let units = i128::from(units);
        let ns = match self.resolution {
            Resolution::Pow10(k) if k <= 9 => units * 10i128.pow(9 - k),
            // Finer than a nanosecond; a divisor beyond i128 makes every timestamp 0.
            Resolution::Pow10(k) => 10i128.checked_pow(k - 9).map_or(0, |d| units / d),
            // units < 2^64, so units * 1e9 < 2^94 and the shift (k < 128) cannot overflow.
            Resolution::Pow2(k) => (units * 1_000_000_000) >> k,
        };
        let total = ns + i128::from(self.offset_s) * 1_000_000_000;
        let clamped = total.clamp(Timestamp::MIN.into(), Timestamp::MAX.into());
        Timestamp::try_from(clamped).unwrap_or_default()
    }
}

/// State of a pcapng file: the current section's byte order and interfaces.
struct PcapngState {
    endian: Endian,
    interfaces: Vec<Interface>,
    /// Timestamp of the last EPB/PB, given to Simple Packet Blocks (which carry none) so that
    /// time never jumps back to 1970 for them.
    last_ts: Timestamp,
}

/// Byte order of a block starting with `head` (at least 12 bytes): a section header carries its
/// own, every other block uses the section's.
fn block_endian(head: &[u8], section: Endian) -> Result<Endian, String> {
    if take::<4>(head, 0) != Some(SHB.to_le_bytes()) {
        return Ok(section);
    }
    let bom = take::<4>(head, 8).unwrap_or_default();
    if u32::from_le_bytes(bom) == BYTE_ORDER_MAGIC {
        Ok(Endian::Little)
    } else if u32::from_be_bytes(bom) == BYTE_ORDER_MAGIC {
        Ok(Endian::Big)
    } else {
        let [a, b, c, d] = bom;
        Err(format!(
            "byte-order magic is {a:02x} {b:02x} {c:02x} {d:02x}, not 1a 2b 3c 4d"
        ))
    }
}

/// Checks a block's leading length; returns it as `usize`.
fn check_block_len(len: u32) -> Result<usize, String> {
    if len < 12 {
        Err(format!("block length {len} is below the minimum of 12"))
    } else if !len.is_multiple_of(4) {
        Err(format!("block length {len} is not a multiple of 4"))
    } else if len as usize > MAX_BLOCK {
        Err(format!(
            "block length {len} is above the cap of {MAX_BLOCK}"
        ))
    } else {
        Ok(len as usize)
    }
}

/// Smallest body (block without its trailing length) of each block type we interpret.
fn min_body(btype: u32) -> (usize, &'static str) {
    match btype {
        SHB => (24, "section header"),
        IDB => (16, "interface description"),
        EPB => (28, "enhanced packet"),
        PB => (28, "packet"),
        SPB => (12, "simple packet"),
        _ => (8, "unknown"),
    }
}

impl PcapngState {
    /// Reads, checks and interprets one block.
    fn step<R: Read>(&mut self, input: &mut Input<R>) -> Result<Step, String> {
        let have = input.need(8)?;
        if have == 0 {
            return Ok(Step::End);
        }
        // 12 bytes for an SHB: its byte-order magic decides how to read its length.
        let is_shb = take::<4>(input.peek(4), 0) == Some(SHB.to_le_bytes());
        let head_len = if is_shb { 12 } else { 8 };
        let have = input.need(head_len)?;
        if have < head_len {
            return Err(format!(
                "end of file inside a block header: {head_len} bytes expected, {have} present"
            ));
        }
        let head = input.peek(head_len);
        let endian = block_endian(head, self.endian)?;
        let btype = endian.u32(head, 0);
        let len = check_block_len(endian.u32(head, 4))?;
        let have = input.need(len)?;
        if have < len {
            return Err(format!(
                "block of {len} bytes cut short: {have} present before end of file"
            ));
        }
        let block = input.peek(len);
        let trailer = endian.u32(block, len - 4);
        if trailer as usize != len {
            return Err(format!(
                "trailing block length {trailer} differs from the leading {len}"
            ));
        }
        // Fields are read from the body only, so a short block can never read its trailer.
        let body = block.get(..len - 4).unwrap_or_default();
        let (min, name) = min_body(btype);
        if body.len() < min {
            return Err(format!("{name} block of {len} bytes is too short"));
        }
        let step = self.block(btype, endian, body, input.start)?;
        input.consume(len);
        Ok(step)
    }

    /// Interprets one block of at least `min_body` bytes, given without its trailing length
    /// (`body` starts at buffer index `base`, with the block type).
    fn block(&mut self, btype: u32, e: Endian, body: &[u8], base: usize) -> Result<Step, String> {
        let u16_at = |i: usize| e.u16(body, i);
        let u32_at = |i: usize| e.u32(body, i);
        match btype {
            SHB => {
                // The section length (bytes 16..24) is for seeking; we never seek.
                let (major, minor) = (u16_at(12), u16_at(14));
                if major != 1 {
                    return Err(format!("unsupported pcapng version {major}.{minor}"));
                }
                self.endian = e;
                self.interfaces.clear();
                Ok(Step::Skipped)
            }
            IDB => {
                if self.interfaces.len() >= MAX_INTERFACES {
                    return Err(format!(
                        "more than {MAX_INTERFACES} interfaces in one section"
                    ));
                }
                let mut iface = Interface {
                    link: LinkType::from_linktype(u16_at(8).into()),
                    snaplen: u32_at(12),
                    resolution: Resolution::Pow10(6),
                    offset_s: 0,
                };
                read_idb_options(body.get(16..).unwrap_or_default(), e, &mut iface);
                self.interfaces.push(iface);
                Ok(Step::Skipped)
            }
            EPB | PB => {
                // EPB: interface u32; PB: interface u16 + drops u16. Then the same fields.
                let id = if btype == PB {
                    u16_at(8).into()
                } else {
                    u32_at(8)
                };
                let (hi, lo, caplen, orig_len) = (u32_at(12), u32_at(16), u32_at(20), u32_at(24));
                let iface = self.interface(id)?;
                let room = body.len().saturating_sub(28);
                if caplen as usize > room {
                    return Err(format!(
                        "captured length {caplen} exceeds the block's room of {room} bytes"
                    ));
                }
                let ts = iface.timestamp((u64::from(hi) << 32) | u64::from(lo));
                self.last_ts = ts;
                let (link, orig_len, data_len) =
                    (iface.link, orig_len.max(caplen), caplen as usize);
                Ok(Step::Frame(Pending {
                    ts,
                    link,
                    orig_len,
                    data_at: base + 28,
                    data_len,
                }))
            }
            SPB => {
                let orig_len = u32_at(8);
                let iface = self.interface(0)?;
                // No captured length in the block: the original one, cut by snaplen and room.
                let mut data_len = (orig_len as usize).min(body.len().saturating_sub(12));
                if iface.snaplen != 0 {
                    data_len = data_len.min(iface.snaplen as usize);
                }
                let (ts, link) = (self.last_ts, iface.link);
                Ok(Step::Frame(Pending {
                    ts,
                    link,
                    orig_len,
                    data_at: base + 12,
                    data_len,
                }))
            }
            // Name resolution, statistics, secrets, custom blocks...: nothing for us.
            _ => Ok(Step::Skipped),
        }
    }

    fn interface(&self, id: u32) -> Result<Interface, String> {
        let known = self.interfaces.len();
        let iface = self.interfaces.get(id as usize).copied();
        iface.ok_or_else(|| {
            format!("packet names interface {id}, but the section describes {known}")
        })
    }
}

/// Applies `if_tsresol` and `if_tsoffset` from an IDB's options. Malformed options end the
/// option list but are not damage: the packets are still readable.
fn read_idb_options(mut opts: &[u8], endian: Endian, iface: &mut Interface) {
    const OPT_ENDOFOPT: u16 = 0;
    const IF_TSRESOL: u16 = 9;
    const IF_TSOFFSET: u16 = 14;
    while opts.len() >= 4 {
        let (code, len) = (endian.u16(opts, 0), usize::from(endian.u16(opts, 2)));
        let Some(value) = opts.get(4..4 + len) else {
            return;
        };
        match (code, value) {
            (OPT_ENDOFOPT, _) => return,
            // High bit clear: 10^-k seconds; set: 2^-k seconds.
            (IF_TSRESOL, &[v]) if v & 0x80 == 0 => iface.resolution = Resolution::Pow10(v.into()),
            (IF_TSRESOL, &[v]) => iface.resolution = Resolution::Pow2((v & 0x7F).into()),
            (IF_TSOFFSET, v) if v.len() == 8 => iface.offset_s = endian.i64(v, 0),
            _ => {}
        }
        let padded = (4 + len).next_multiple_of(4);
        opts = opts.get(padded..).unwrap_or_default();
    }
}

enum State {
    Pcap(PcapState),
    Pcapng(PcapngState),
}

/// A streaming pcap/pcapng reader. See the module documentation for the damage policy.
pub struct CaptureReader<R: Read> {
    input: Input<R>,
    state: State,
    /// The frame returned last, kept so the merge can look at it again without copying.
    current: Option<Pending>,
    /// Set at the clean end or after damage: never read again.
    done: bool,
}

impl<R: Read> CaptureReader<R> {
    /// Reads and checks the file header (pcap) or the first Section Header Block (pcapng).
    pub fn open(reader: R) -> Result<Self, OpenError> {
        Self::open_with_buffer(reader, DEFAULT_BUFFER)
    }

    /// Like [`open`](Self::open) with a chosen buffer size (memory per open reader; the merge
    /// of many files may want less than the default).
    pub fn open_with_buffer(reader: R, buffer: usize) -> Result<Self, OpenError> {
        let mut input = Input::new(reader, buffer);
        let have = input.fill(4).map_err(OpenError::Io)?;
        if have == 0 {
            return Err(OpenError::Empty);
        }
        let Some(magic) = take::<4>(input.peek(4), 0) else {
            return Err(OpenError::TruncatedHeader);
        };
        let state = if magic == SHB.to_le_bytes() {
            State::Pcapng(open_pcapng(&mut input)?)
        } else {
            State::Pcap(open_pcap(&mut input, magic)?)
        };
        Ok(CaptureReader {
            input,
            state,
            current: None,
            done: false,
        })
    }

    /// pcap or pcapng.
    pub fn format(&self) -> Format {
        match self.state {
            State::Pcap(_) => Format::Pcap,
            State::Pcapng(_) => Format::Pcapng,
        }
    }

    /// Next frame, or `Ok(None)` at the clean end of the file. After a damage was returned,
    /// always `Ok(None)`.
    pub fn next_record(&mut self) -> Result<Option<RecordRef<'_>>, Damage> {
        self.advance()?;
        Ok(self.current())
    }

    /// Bytes of the file consumed so far (headers, records and skipped blocks), for progress.
    pub fn bytes_read(&self) -> u64 {
        self.input.pos
    }

    /// Reads the next frame into `current`; `Ok(false)` at the end.
    fn advance(&mut self) -> Result<bool, Damage> {
        self.current = None;
        while !self.done {
            // Nothing of a record or block is consumed until it is known good, so damage is
            // always at the current position.
            let offset = self.input.pos;
            let step = match &mut self.state {
                State::Pcap(p) => p.step(&mut self.input),
                State::Pcapng(p) => p.step(&mut self.input),
            };
            match step {
                Ok(Step::Frame(p)) => {
                    self.current = Some(p);
                    return Ok(true);
                }
                Ok(Step::Skipped) => {}
                Ok(Step::End) => self.done = true,
                Err(what) => {
                    self.done = true;
                    return Err(Damage { offset, what });
                }
            }
        }
        Ok(false)
    }

    /// The frame found by the last `advance`, read again from the buffer.
    fn current(&self) -> Option<RecordRef<'_>> {
        let p = self.current?;
        let data = self
            .input
            .buf
            .get(p.data_at..p.data_at.checked_add(p.data_len)?)?;
        Some(Frame {
            ts: p.ts,
            link: p.link,
            data,
            orig_len: p.orig_len,
        })
    }
}

fn open_pcap<R: Read>(input: &mut Input<R>, magic: [u8; 4]) -> Result<PcapState, OpenError> {
    let (endian, frac_ns, header_len) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (Endian::Little, 1000, 16),
        [0xa1, 0xb2, 0xc3, 0xd4] => (Endian::Big, 1000, 16),
        [0x4d, 0x3c, 0xb2, 0xa1] => (Endian::Little, 1, 16),
        [0xa1, 0xb2, 0x3c, 0x4d] => (Endian::Big, 1, 16),
        [0x34, 0xcd, 0xb2, 0xa1] => (Endian::Little, 1000, 24),
        [0xa1, 0xb2, 0xcd, 0x34] => (Endian::Big, 1000, 24),
        _ => return Err(OpenError::NotACapture { magic }),
    };
    if input.fill(24).map_err(OpenError::Io)? < 24 {
        return Err(OpenError::TruncatedHeader);
    }
    let h = input.peek(24);
    let (major, minor) = (endian.u16(h, 4), endian.u16(h, 6));
    if major != 2 {
        return Err(OpenError::BadHeader(format!(
            "unsupported pcap version {major}.{minor}"
        )));
    }
    // Bytes 8..16 (thiszone, sigfigs) are always 0 in practice and ignored, as libpcap does.
    let snaplen = endian.u32(h, 16);
    let linktype = endian.u32(h, 20);
    // A record may exceed a small snaplen (writers get it wrong) but not MAX_BLOCK.
    let max_caplen = snaplen.max(PCAP_MIN_RECORD_CAP).min(MAX_BLOCK as u32);
    input.consume(24);
    Ok(PcapState {
        endian,
        frac_ns,
        link: LinkType::from_linktype(linktype & 0xFFFF),
        max_caplen,
        header_len,
    })
}

fn open_pcapng<R: Read>(input: &mut Input<R>) -> Result<PcapngState, OpenError> {
    if input.fill(12).map_err(OpenError::Io)? < 12 {
        return Err(OpenError::TruncatedHeader);
    }
    let head = input.peek(12);
    let endian = block_endian(head, Endian::Little).map_err(OpenError::BadHeader)?;
    let len = check_block_len(endian.u32(head, 4)).map_err(OpenError::BadHeader)?;
    if input.fill(len).map_err(OpenError::Io)? < len {
        return Err(OpenError::TruncatedHeader);
    }
    // Let the block parser check the trailer and version, exactly as for later sections.
    let mut state = PcapngState {
        endian,
        interfaces: Vec::new(),
        last_ts: 0,
    };
    state.step(input).map_err(OpenError::BadHeader)?;
    Ok(state)
}

/// A frame from a [`MergedCapture`]: the record and which input it came from.
#[derive(Debug, Clone, Copy)]
pub struct MergedFrame<'a> {
    /// Index of the input in the `Vec` given to [`MergedCapture::new`].
    pub input: usize,
    /// That input's name.
    pub name: &'a str,
    pub record: RecordRef<'a>,
}

/// Damage in one input of a [`MergedCapture`]; that input is dropped, the others go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputDamage {
    pub name: String,
    pub damage: Damage,
}

impl fmt::Display for InputDamage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.damage)
    }
}

impl std::error::Error for InputDamage {}

/// One input of the merge. The reader's current frame is the input's look-ahead: it stays in
/// the reader's buffer, so the merge copies nothing, whatever the number of inputs.
struct MergeInput {
    name: String,
    /// `None` once the input ended or was dropped for damage (its buffer is freed).
    reader: Option<CaptureReader<Box<dyn Read + Send>>>,
    /// Final `bytes_read` of a finished input.
    bytes_done: u64,
}

/// Several captures read as one, in timestamp order (for rotated or per-interface files).
pub struct MergedCapture {
    inputs: Vec<MergeInput>,
    /// Inputs whose look-ahead is loaded, keyed by (timestamp, index): the smallest comes first
    /// and equal timestamps go to the earlier input.
    heads: BinaryHeap<Reverse<(Timestamp, usize)>>,
    /// Inputs that must read their next frame before the next pick: at first all of them, then
    /// the one whose frame was returned last.
    to_advance: Vec<usize>,
}

impl MergedCapture {
    /// Merges `(name, reader)` pairs; names are only used in [`MergedFrame`] and [`InputDamage`].
    /// Each open reader keeps its buffer: with many inputs, open them with a smaller one
    /// ([`CaptureReader::open_with_buffer`]).
    pub fn new(inputs: Vec<(String, CaptureReader<Box<dyn Read + Send>>)>) -> Self {
        let to_advance = (0..inputs.len()).rev().collect();
        let inputs = inputs
            .into_iter()
            .map(|(name, reader)| MergeInput {
                name,
                reader: Some(reader),
                bytes_done: 0,
            })
            .collect();
        MergedCapture {
            inputs,
            heads: BinaryHeap::new(),
            to_advance,
        }
    }

    /// Next frame across all inputs in timestamp order (within one input, file order is kept
    /// even if its time goes backwards). `Some(Err(..))` reports damage in one input, which is
    /// then dropped; call again to go on with the others. `None` when every input is done.
    pub fn next_frame(&mut self) -> Option<Result<MergedFrame<'_>, InputDamage>> {
        while let Some(i) = self.to_advance.pop() {
            let Some(input) = self.inputs.get_mut(i) else {
                continue;
            };
            let Some(reader) = input.reader.as_mut() else {
                continue;
            };
            match reader.advance() {
                Ok(true) => {
                    let ts = reader.current.map_or(0, |p| p.ts);
                    self.heads.push(Reverse((ts, i)));
                }
                Ok(false) => input.finish(),
                Err(damage) => {
                    input.finish();
                    return Some(Err(InputDamage {
                        name: input.name.clone(),
                        damage,
                    }));
                }
            }
        }
        let Reverse((_, i)) = self.heads.pop()?;
        self.to_advance.push(i);
        let input = self.inputs.get(i)?;
        let record = input.reader.as_ref()?.current()?;
        Some(Ok(MergedFrame {
            input: i,
            name: &input.name,
            record,
        }))
    }

    /// Bytes consumed across all inputs, for progress.
    pub fn bytes_read(&self) -> u64 {
        let live = |m: &MergeInput| {
            m.reader
                .as_ref()
                .map_or(m.bytes_done, CaptureReader::bytes_read)
        };
        self.inputs.iter().map(live).sum()
    }
}

impl MergeInput {
    fn finish(&mut self) {
        if let Some(reader) = self.reader.take() {
            self.bytes_done = reader.bytes_read();
        }
    }
}
