//! Compressed captures (`.pcap.gz`, `.pcapng.zst`), read as they are: the compression is
//! recognised by the first bytes, never by the name, so standard input works too, and the
//! stream is decompressed as it is read (nothing is written out, memory stays bounded).
//!
//! Both decoders are pure Rust (flate2 over miniz_oxide, ruzstd): offline analysis needs no
//! system library. gzip files of several members (`cat a.gz b.gz`) and zstd files of several
//! frames, skippable frames included, are read whole, as `gzip -d` and `zstd -d` read them.
//!
//! Damage inside the compressed stream (a truncated file, a corrupt block, a wrong zstd
//! checksum) is a read error of the decompressed stream: the capture reader returns every
//! frame before it, then a [`Damage`](super::Damage) at the decompressed offset of the record
//! it was reading, whose text names the compression.

use flate2::read::MultiGzDecoder;
use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};
use std::io::{self, BufRead, BufReader, Cursor, Read};

/// How a capture was compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Compression {
    fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    /// The compression the first bytes of a file announce, if any.
    pub fn detect(magic: &[u8]) -> Option<Compression> {
        match magic {
            [0x1f, 0x8b, ..] => Some(Compression::Gzip),
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(Compression::Zstd),
            // A zstd skippable frame (magic 0x184D2A50 to 0x184D2A5F) may open a zstd file.
            [low, 0x2a, 0x4d, 0x18, ..] if low & 0xf0 == 0x50 => Some(Compression::Zstd),
            _ => None,
        }
    }
}

/// Compressed input read through this buffer (the decoders read in small pieces).
const COMPRESSED_BUFFER: usize = 64 << 10;

/// `source`, decompressed when its first bytes say it is gzip or zstd, and which compression
/// that was. The bytes looked at are not lost: they are read again from the front.
pub fn decompressing(
    mut source: Box<dyn Read + Send>,
) -> io::Result<(Box<dyn Read + Send>, Option<Compression>)> {
    let mut magic = Vec::with_capacity(4);
    (&mut source).take(4).read_to_end(&mut magic)?;
    let compression = Compression::detect(&magic);
    let whole = Cursor::new(magic).chain(source);
    let reader: Box<dyn Read + Send> = match compression {
        None => Box::new(whole),
        Some(Compression::Gzip) => Box::new(Damaged {
            inner: MultiGzDecoder::new(BufReader::with_capacity(COMPRESSED_BUFFER, whole)),
            compression: Compression::Gzip,
        }),
        Some(Compression::Zstd) => Box::new(Damaged {
            inner: ZstdFrames {
                source: BufReader::with_capacity(COMPRESSED_BUFFER, whole),
                frame: FrameDecoder::new(),
                in_frame: false,
            },
            compression: Compression::Zstd,
        }),
    };
    Ok((reader, compression))
}

/// A decoder whose errors say that the compressed stream is damaged, and where the offsets
/// in the message count from.
struct Damaged<R> {
    inner: R,
    compression: Compression,
}

impl<R: Read> Read for Damaged<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::Interrupted {
                return e;
            }
            io::Error::new(
                e.kind(),
                format!(
                    "the {} stream is damaged ({e}); byte offsets count in the decompressed \
                     capture",
                    self.compression.name()
                ),
            )
        })
    }
}

/// Every zstd frame of `source` in turn, decompressed; skippable frames are skipped.
/// (ruzstd's `StreamingDecoder` reads one frame only.)
struct ZstdFrames<R> {
    source: R,
    /// Reused from frame to frame; its window is capped by ruzstd (128 MiB by default), so a
    /// hostile header cannot make it allocate more.
    frame: FrameDecoder,
    /// A frame header was read and the frame's content is not all out yet.
    in_frame: bool,
}

fn zstd_error(e: FrameDecoderError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if !self.in_frame {
                // A clean end is only ever between frames.
                if self.source.fill_buf()?.is_empty() {
                    return Ok(0);
                }
                match self.frame.reset(&mut self.source) {
                    Ok(()) => self.in_frame = true,
                    Err(FrameDecoderError::ReadFrameHeaderError(
                        ReadFrameHeaderError::SkipFrame { length, .. },
                    )) => {
                        let skipped =
                            io::copy(&mut (&mut self.source).take(length.into()), &mut io::sink())?;
                        if skipped < u64::from(length) {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "the input ends inside a skippable frame",
                            ));
                        }
                    }
                    Err(e) => return Err(zstd_error(e)),
                }
                continue;
            }
            if self.frame.can_collect() == 0 && !self.frame.is_finished() {
                self.frame
                    .decode_blocks(&mut self.source, BlockDecodingStrategy::UptoBlocks(1))
                    .map_err(zstd_error)?;
                continue;
            }
            let n = self.frame.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            // The frame is finished and all of it was read out: its checksum, when it has one,
            // must match what came out.
            if let (Some(stored), Some(computed)) = (
                self.frame.get_checksum_from_data(),
                self.frame.get_calculated_checksum(),
            ) && stored != computed
            {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("frame checksum {stored:08x} but the content's is {computed:08x}"),
                ));
            }
            self.in_frame = false;
        }
    }
}
