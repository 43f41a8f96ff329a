//! A write buffer for extracted files whose writes are all whole, aligned chunks.
//!
//! `BufWriter` writes when its buffer cannot take the next piece, so with segments of about
//! 1 448 bytes each write was a little under 256 KiB and every one after the first started in the
//! middle of a page, and the kernel took longer for the same bytes: on this machine's ext4,
//! `dd` writing 1.35 GB took 0.66 s of system time with writes of 261 000 bytes against
//! 0.46-0.55 s with writes of 256 KiB. [`AlignedFile`] writes when it has at least a whole
//! [`CHUNK`], and then as many whole chunks as it has: what its buffer holds and the caller's
//! bytes up to the last chunk boundary, in one `writev`. Every write but the file's last starts
//! and ends on a chunk boundary of the file, and a long run of bytes is not copied into the
//! buffer first (BENCHMARKS.md).

use std::fs::File;
use std::io::{self, IoSlice, Write};

/// Size and alignment of every write but the last: large enough that a write is cheap per
/// byte (4 096 writes per GiB), small enough for one buffer per transfer in flight.
pub(super) const CHUNK: usize = 256 << 10;

/// `write_all` for several slices at once (`Write::write_all_vectored` is not stable yet): one
/// `writev` when the file takes everything, as a regular file does.
fn write_all_vectored<W: Write>(out: &mut W, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        match out.write_vectored(bufs) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A file written in whole, aligned chunks of [`CHUNK`] bytes (see the module docs).
pub(super) struct AlignedFile<W = File> {
    out: W,
    /// Bytes not written yet; the file holds a whole number of chunks before them.
    buf: Vec<u8>,
}

impl<W: Write> AlignedFile<W> {
    pub(super) fn new(out: W) -> Self {
        AlignedFile {
            out,
            buf: Vec::new(),
        }
    }

    pub(super) fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        let held = self.buf.len();
        let total = held + bytes.len();
        if total < CHUNK {
            self.hold(bytes);
            return Ok(());
        }
        // What the buffer holds and the caller's bytes up to the last chunk boundary, in one
        // write: only the bytes after that boundary are copied, so a long run is not copied
        // into the buffer first.
        let (now, rest) = bytes.split_at(total - total % CHUNK - held);
        write_all_vectored(
            &mut self.out,
            &mut [IoSlice::new(&self.buf), IoSlice::new(now)],
        )?;
        self.buf.clear();
        self.hold(rest);
        Ok(())
    }

    /// Keeps `bytes` (less than a chunk with what is held) for the next write. The buffer is
    /// made once, a chunk large, when the file first has bytes to keep.
    fn hold(&mut self, bytes: &[u8]) {
        if self.buf.capacity() == 0 && !bytes.is_empty() {
            self.buf.reserve_exact(CHUNK);
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Writes what the buffer holds (the file's last, short write) and hands the file back.
    pub(super) fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&self.buf)?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records every write the file gets.
    #[derive(Default)]
    struct Writes(Vec<Vec<u8>>);

    impl Write for Writes {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.push(bytes.to_vec());
            Ok(bytes.len())
        }
        /// Like `writev` on a regular file: every slice, in one write.
        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            let all: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            self.0.push(all.clone());
            Ok(all.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_write_but_the_last_is_whole_chunks_at_a_chunk_boundary() {
        let bytes: Vec<u8> = (0..CHUNK * 7 + 123).map(|i| (i % 251) as u8).collect();
        // Segment-sized pieces, runs of several chunks arriving with the buffer part full and
        // empty, a piece ending exactly on a chunk boundary, and single bytes.
        let mut pieces = Vec::new();
        let mut at = 0;
        for len in [
            1448,
            1448,
            3 * CHUNK + 10,
            5,
            CHUNK - 1448 * 2 - 15,
            2 * CHUNK + 1,
        ] {
            pieces.push(&bytes[at..at + len]);
            at += len;
        }
        pieces.extend(bytes[at..].chunks(1));
        let mut file = AlignedFile::new(Writes::default());
        for piece in pieces {
            file.write_all(piece).unwrap();
        }
        let writes = file.finish().unwrap().0;
        let (last, whole) = writes.split_last().unwrap();
        assert!(whole.iter().all(|w| w.len() % CHUNK == 0 && !w.is_empty()));
        assert!(last.len() < CHUNK);
        assert_eq!(writes.concat(), bytes);
        // A long run went in one write of several chunks, with what the buffer held before it.
        assert_eq!(whole[0].len(), 3 * CHUNK);
    }

    /// Takes at most 1 000 bytes per call, of the first slice only.
    struct Trickle(Vec<u8>);

    impl Write for Trickle {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let n = bytes.len().min(1000);
            self.0.extend_from_slice(&bytes[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn short_writes_lose_nothing_and_a_stuck_file_is_an_error() {
        let bytes: Vec<u8> = (0..CHUNK * 3 + 77).map(|i| (i % 241) as u8).collect();
        let mut file = AlignedFile::new(Trickle(Vec::new()));
        for piece in bytes.chunks(CHUNK / 3 + 1) {
            file.write_all(piece).unwrap();
        }
        assert_eq!(file.finish().unwrap().0, bytes);

        struct Stuck;
        impl Write for Stuck {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Ok(0)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut file = AlignedFile::new(Stuck);
        let e = file.write_all(&bytes).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WriteZero);
    }

    #[test]
    fn a_short_file_is_one_write_and_an_empty_one_none() {
        let empty = AlignedFile::new(Writes::default()).finish().unwrap().0;
        assert!(empty.is_empty());
        let mut file = AlignedFile::new(Writes::default());
        file.write_all(b"hello ").unwrap();
        file.write_all(b"world").unwrap();
        assert_eq!(file.finish().unwrap().0, [b"hello world".to_vec()]);
    }
}
