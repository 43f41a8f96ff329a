//! Capture reading, the first stage of the pipeline:
//! - **file**: a pure-Rust, streaming reader for pcap and pcapng files ([`CaptureReader`],
//!   this file and the ones it names below);
//! - **merge**: several readers merged in timestamp order, for rotated captures
//!   ([`MergedCapture`], `merge.rs`);
//! - **live**: capture on an interface with libpcap (`-i`, `-D`), only compiled with the
//!   `live` cargo feature (`live/`, whose module docs say how it opens, batches, stops and
//!   counts drops).
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
//!
//! Compressed captures (gzip, zstd) are decompressed in front of the reader by
//! [`decompressing`] (`compressed.rs`): the offsets of their damage count decompressed bytes.
//!
//! The reader is [`CaptureReader`] (this file); its buffered input is `input.rs`, the two
//! formats `pcap.rs` and `pcapng.rs`, the merge [`MergedCapture`] `merge.rs`, the frame
//! filter the merge applies (`--host`, `--port`, `--from`/`--until`) `filter.rs`, and `-f`'s
//! BPF (libpcap, `live` feature) `bpf.rs`; live capture is `live/`.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[cfg(feature = "live")]
mod bpf;
mod compressed;
pub mod filter;
mod input;
#[cfg(feature = "live")]
pub mod live;
mod merge;
mod pcap;
mod pcapng;

use std::fmt;
use std::io::{self, Read};

pub use compressed::{Compression, decompressing};
use ftpscope_core::Frame;
use input::{Input, Pending, Step, take};
pub use merge::{InputDamage, MergeStep, MergedCapture, MergedFrame};
use pcap::{PcapState, open_pcap};
use pcapng::{PcapngState, SHB, open_pcapng};

/// A frame read from a capture; borrows the reader's buffer until the next read. It is the
/// core's [`Frame`], so it goes to the analyzer as it is.
pub type RecordRef<'a> = Frame<'a>;

/// Largest pcap record or pcapng block accepted, whatever the headers say.
pub const MAX_BLOCK: usize = 256 << 20;
/// Default size of the read buffer.
pub const DEFAULT_BUFFER: usize = 1 << 20;

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
    /// TLS key logs read from Decryption Secrets Blocks and not yet taken: they come before
    /// the packets they decrypt, so the caller takes them before using the next frame.
    secrets: Vec<Vec<u8>>,
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
            secrets: Vec::new(),
        })
    }

    /// pcap or pcapng.
    pub fn format(&self) -> Format {
        match self.state {
            State::Pcap(_) => Format::Pcap,
            State::Pcapng(_) => Format::Pcapng,
        }
    }

    /// A classic pcap file's link type number (as its header has it) and whether its
    /// timestamps are in nanoseconds; `None` for pcapng, whose interfaces each say their own.
    pub fn pcap_link(&self) -> Option<(u32, bool)> {
        match &self.state {
            State::Pcap(p) => Some((p.linktype, p.nanosecond())),
            State::Pcapng(_) => None,
        }
    }

    /// Next frame, or `Ok(None)` at the clean end of the file. After a damage was returned,
    /// always `Ok(None)`.
    pub fn next_record(&mut self) -> Result<Option<RecordRef<'_>>, Damage> {
        self.advance()?;
        Ok(self.current())
    }

    /// TLS key logs found since the last call (pcapng Decryption Secrets Blocks), in file
    /// order: they belong to the analyzer before the frame just read.
    pub fn take_secrets(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.secrets)
    }

    /// Whether [`CaptureReader::take_secrets`] has anything (checked per frame by the merge,
    /// which then moves nothing).
    pub fn has_secrets(&self) -> bool {
        !self.secrets.is_empty()
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
                Ok(Step::Secrets(text)) => self.secrets.push(text),
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
            // The merge numbers the frames it takes from its inputs.
            number: 0,
        })
    }
}
