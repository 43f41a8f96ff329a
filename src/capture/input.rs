//! The buffered input of a capture reader, and the integer readers both formats share.

use super::MAX_BLOCK;
use ftpscope_core::{LinkType, Timestamp};
use std::io::{self, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Endian {
    Little,
    Big,
}

/// Integer readers: the value at `at` in `b`, or 0 past the end of `b` (every caller checks
/// the length first; 0 keeps a missed check harmless).
impl Endian {
    pub(super) fn u16(self, b: &[u8], at: usize) -> u16 {
        let b = take(b, at).unwrap_or_default();
        match self {
            Endian::Little => u16::from_le_bytes(b),
            Endian::Big => u16::from_be_bytes(b),
        }
    }
    pub(super) fn u32(self, b: &[u8], at: usize) -> u32 {
        let b = take(b, at).unwrap_or_default();
        match self {
            Endian::Little => u32::from_le_bytes(b),
            Endian::Big => u32::from_be_bytes(b),
        }
    }
    pub(super) fn i64(self, b: &[u8], at: usize) -> i64 {
        let b = take(b, at).unwrap_or_default();
        match self {
            Endian::Little => i64::from_le_bytes(b),
            Endian::Big => i64::from_be_bytes(b),
        }
    }
}

/// `N` bytes of `b` at `at`, or `None` when `b` is too short.
pub(super) fn take<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// The buffered input. Unlike `BufReader` it can hold a whole record contiguously and hand it
/// out in place, which is what makes reading copy-free.
pub(super) struct Input<R> {
    pub(super) inner: R,
    /// `buf[start..end]` holds bytes read but not yet consumed.
    pub(super) buf: Vec<u8>,
    pub(super) start: usize,
    pub(super) end: usize,
    /// File offset of `buf[start]`.
    pub(super) pos: u64,
    /// Target buffer size; the buffer grows past it only for a larger record.
    pub(super) capacity: usize,
    pub(super) eof: bool,
}

/// First buffer size: small files never pay for the full buffer.
const FIRST_BUFFER: usize = 32 << 10;

impl<R: Read> Input<R> {
    pub(super) fn new(inner: R, capacity: usize) -> Self {
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
    pub(super) fn fill(&mut self, n: usize) -> io::Result<usize> {
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
    pub(super) fn peek(&self, len: usize) -> &[u8] {
        let end = self.start.saturating_add(len).min(self.end);
        self.buf.get(self.start..end).unwrap_or_default()
    }

    /// `fill` for the parsers: a read error is damage, like the end of the file.
    pub(super) fn need(&mut self, n: usize) -> Result<usize, String> {
        self.fill(n).map_err(|e| format!("read error: {e}"))
    }

    pub(super) fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.pos += n as u64;
    }
}

/// A frame found by a parser, as a position in the input buffer, so that the reader can hand
/// it out (and hand it out again, for the merge) without holding a borrow while parsing.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pending {
    pub(super) ts: Timestamp,
    pub(super) link: LinkType,
    pub(super) orig_len: u32,
    /// Absolute index of the data in `Input::buf`, valid until the next `fill`.
    pub(super) data_at: usize,
    pub(super) data_len: usize,
}

/// What one record or block turned out to be. Errors are the text of a [`Damage`] at the
/// offset where the record or block starts (nothing is consumed before it is known good).
pub(super) enum Step {
    End,
    Skipped,
    Frame(Pending),
    /// A TLS key log carried by the capture (pcapng Decryption Secrets Block).
    Secrets(Vec<u8>),
}
