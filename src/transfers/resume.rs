//! REST resumes: when a transfer starts at offset n > 0 and an earlier transfer of the same
//! path on the same server covered bytes 0..n, a combined file (earlier bytes 0..n, then this
//! transfer's bytes) is written next to it and recorded.

use super::TransferOutcome;
use crate::output::outdir::OutDir;
use ftpscope_core::TransferId;
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::io::{self, BufWriter, Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Earlier transfers remembered for REST resumes.
const RESUME_MEMORY: usize = 4096;

/// A finished file a later REST may resume: which bytes of the remote file it holds.
struct Resumable {
    key: (IpAddr, Vec<u8>),
    transfer: TransferId,
    path: Option<PathBuf>,
    /// Bytes 0..covers of the remote file are in `path` (when extracting).
    covers: u64,
}

/// The finished transfers a later REST may resume, newest last, at most [`RESUME_MEMORY`].
#[derive(Default)]
pub(super) struct Resumes {
    resumable: VecDeque<Resumable>,
}

impl Resumes {
    /// Links `outcome` to the earlier transfer it resumes (and writes the combined file when
    /// extracting below `root`), then remembers what it holds for a later resume.
    pub(super) fn resume(
        &mut self,
        outcome: &mut TransferOutcome,
        server: Option<IpAddr>,
        root: Option<&OutDir>,
    ) {
        let r = &outcome.record;
        let (Some(server), Some(path)) = (server, r.full_path.clone().or_else(|| r.path.clone()))
        else {
            return;
        };
        if r.listing
            || r.command.as_deref() != Some(b"RETR") && r.command.as_deref() != Some(b"STOR")
        {
            return;
        }
        let key = (server, path);
        let earlier = if r.offset > 0 {
            self.resumable
                .iter()
                .rev()
                .find(|p| p.key == key && p.covers >= r.offset)
        } else {
            None
        };
        if let Some(prev) = earlier {
            outcome.resumes = Some(prev.transfer);
            if let (Some(prev_file), Some(file), Some(root)) = (&prev.path, &outcome.file, root) {
                match write_combined(root, prev_file, r.offset, file) {
                    Ok((path, sha)) => {
                        outcome.combined_file = Some(path);
                        outcome.combined_sha256 = Some(sha);
                    }
                    Err(e) => {
                        outcome.file_error = Some(format!("cannot write the combined file: {e}"))
                    }
                }
            }
        }
        // Remember what this transfer holds of the remote file, from byte 0, for a later
        // resume: a first part, or a resumed part joined to what it resumed. A gap inside
        // breaks the chain.
        let r = &outcome.record;
        let from_zero = r.offset == 0 || outcome.resumes.is_some();
        if from_zero && r.gap_bytes == 0 && r.bytes > 0 {
            let path = if r.offset == 0 {
                outcome.file.clone()
            } else {
                outcome.combined_file.clone()
            };
            if self.resumable.len() >= RESUME_MEMORY {
                self.resumable.pop_front();
            }
            self.resumable.push_back(Resumable {
                key,
                transfer: r.transfer,
                path,
                covers: r.offset + r.bytes,
            });
        }
    }
}

/// Writes the combined file next to `file` (`movie.bin.from-2500` → `movie.bin.combined`): the
/// first `offset` bytes of `earlier`, then all of `file` (both extracted files below `root`, read
/// without following a link).
fn write_combined(
    root: &OutDir,
    earlier: &Path,
    offset: u64,
    file: &Path,
) -> io::Result<(PathBuf, String)> {
    let below_root = |path: &Path| path.strip_prefix(root.path()).map(Path::to_path_buf);
    let (earlier, file) = match (below_root(earlier), below_root(file)) {
        (Ok(earlier), Ok(file)) => (earlier, file),
        _ => return Err(io::Error::other("a file outside the extraction folder")),
    };
    let dir = root.existing_subdir(file.parent().unwrap_or(Path::new("")))?;
    let part_name = file
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let name = crate::output::extract::combined_name(&part_name, offset);
    let (path, out) = dir.create_unique(&name)?;
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let mut hasher = Sha256::new();
    let mut copy = |reader: &mut dyn Read, limit: Option<u64>| -> io::Result<()> {
        let mut buf = vec![0u8; 1 << 16];
        let mut left = limit.unwrap_or(u64::MAX);
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = reader.read(&mut buf[..want])?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])?;
            left -= n as u64;
        }
        Ok(())
    };
    copy(&mut root.open_read(&earlier)?, Some(offset))?;
    copy(&mut root.open_read(&file)?, None)?;
    out.flush()?;
    Ok((path, crate::text::hex(&hasher.finalize())))
}
