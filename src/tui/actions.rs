//! What the UI does beyond showing: file work done off the UI thread (saving one file or all
//! of a session's, exporting a view), the clipboard (OSC 52), a prompt's `~`, and the
//! Wireshark display filter that isolates a transfer.

use crate::output::outdir::OutDir;
use crate::tui::app::Msg;
use ftpscope_core::{Timestamp, TransferRecord};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// File work asked for by [`crate::tui::app::App::update`] and done off the UI thread (a
/// file may be large): the event loop takes it with
/// [`crate::tui::app::App::take_file_job`] and sends the outcome back as a [`Msg`]. Every
/// file is created beneath a handle on its folder, never through a link, never over a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileJob {
    /// Copy `source` into the folder `dir` as `name` (or `stem (n).ext`): [`Msg::Saved`].
    Save {
        source: PathBuf,
        dir: PathBuf,
        name: String,
    },
    /// Copy each (source, name) into `dir`: [`Msg::Saved`] with the folder.
    SaveAll {
        files: Vec<(PathBuf, String)>,
        dir: PathBuf,
    },
    /// Write `lines` (JSON Lines) as the file `path`: [`Msg::Saved`].
    Export { lines: Vec<u8>, path: PathBuf },
    /// Find `needle` in the file at `path` of the open transfer, from `from` (past it when
    /// `skip`); `fold`: ASCII letters in either case. [`Msg::Found`].
    Find {
        transfer: u64,
        path: PathBuf,
        needle: Vec<u8>,
        fold: bool,
        from: u64,
        forward: bool,
        skip: bool,
    },
}

/// Where a [`FileJob::Find`] found its needle (None: not in the file that way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub transfer: u64,
    pub at: Option<u64>,
    pub needle_len: usize,
    pub forward: bool,
}

impl FileJob {
    /// Does the work (on whatever thread calls it) and says how it went; an error names the
    /// path it was about.
    pub fn run(self) -> Msg {
        let named = |path: &Path, e: std::io::Error| format!("{}: {e}", path.display());
        match self {
            FileJob::Save { source, dir, name } => {
                let copy = || -> std::io::Result<PathBuf> {
                    let (path, mut out) = OutDir::open_or_create(&dir)?.create_unique(&name)?;
                    std::io::copy(&mut std::fs::File::open(&source)?, &mut out)?;
                    Ok(path)
                };
                Msg::Saved(copy().map_err(|e| named(&dir, e)))
            }
            FileJob::SaveAll { files, dir } => {
                let copy = || -> std::io::Result<usize> {
                    let out_dir = OutDir::open_or_create(&dir)?;
                    for (source, name) in &files {
                        let (_, mut out) = out_dir.create_unique(name)?;
                        std::io::copy(&mut std::fs::File::open(source)?, &mut out)?;
                    }
                    Ok(files.len())
                };
                match copy() {
                    Ok(n) => Msg::SavedAll(Ok((n, dir))),
                    Err(e) => Msg::SavedAll(Err(named(&dir, e))),
                }
            }
            FileJob::Export { lines, path } => {
                let write = || -> std::io::Result<PathBuf> {
                    let dir = match path.parent() {
                        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                        _ => PathBuf::from("."),
                    };
                    let name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .ok_or_else(|| std::io::Error::other("no file name"))?;
                    let (written, mut out) = OutDir::open_or_create(&dir)?.create_unique(&name)?;
                    out.write_all(&lines)?;
                    Ok(written)
                };
                Msg::Saved(write().map_err(|e| named(&path, e)))
            }
            FileJob::Find {
                transfer,
                path,
                needle,
                fold,
                from,
                forward,
                skip,
            } => {
                let at = std::fs::File::open(&path).ok().and_then(|mut f| {
                    let len = f.metadata().ok()?.len();
                    search_file(&mut f, len, &needle, fold, from, forward, skip)
                });
                Msg::Found(Found {
                    transfer,
                    at,
                    needle_len: needle.len(),
                    forward,
                })
            }
        }
    }
}
/// Bytes read at a time when finding text in a file.
const FIND_CHUNK: usize = 1 << 20;

/// Finds `needle` in the file from `from` (past it when `skip`), forward or backward, a chunk
/// at a time; `fold` compares ASCII letters case-insensitively.
fn search_file(
    f: &mut std::fs::File,
    len: u64,
    needle: &[u8],
    fold: bool,
    from: u64,
    forward: bool,
    skip: bool,
) -> Option<u64> {
    if needle.is_empty() {
        return None;
    }
    let norm = |b: &[u8]| {
        if fold {
            b.to_ascii_lowercase()
        } else {
            b.to_vec()
        }
    };
    let needle = norm(needle);
    let overlap = needle.len() as u64 - 1;
    let mut read = |at: u64, n: u64| -> Option<Vec<u8>> {
        f.seek(SeekFrom::Start(at)).ok()?;
        let mut buf = Vec::new();
        Read::by_ref(f).take(n).read_to_end(&mut buf).ok()?;
        Some(norm(&buf))
    };
    if forward {
        let mut at = if skip { from + 1 } else { from };
        while at < len {
            let chunk = read(at, FIND_CHUNK as u64 + overlap)?;
            if let Some(i) = memchr::memmem::find(&chunk, &needle) {
                return Some(at + i as u64);
            }
            at += FIND_CHUNK as u64;
        }
    } else {
        // Matches that start before `from`.
        let mut end = from;
        while end > 0 {
            let start = end.saturating_sub(FIND_CHUNK as u64);
            let chunk = read(start, end - start + overlap)?;
            let found =
                memchr::memmem::rfind_iter(&chunk, &needle).find(|&i| start + (i as u64) < from);
            if let Some(i) = found {
                return Some(start + i as u64);
            }
            end = start;
        }
    }
    None
}

/// A path typed at a prompt: `~` and `~/…` are the home folder.
pub fn expand_tilde(typed: &str) -> PathBuf {
    let home = || std::env::var_os("HOME").map(PathBuf::from);
    if typed == "~" {
        return home().unwrap_or_else(|| PathBuf::from(typed));
    }
    match (typed.strip_prefix("~/"), home()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(typed),
    }
}

/// The OSC 52 sequence that puts `text` on the terminal's clipboard (through tmux and SSH
/// too, where the terminal allows it).
pub fn osc52(text: &str) -> String {
    use base64::Engine;
    format!(
        "\x1b]52;c;{}\x07",
        base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
    )
}

/// Wireshark's display filter for a transfer's data connection: its 4-tuple and its frame
/// numbers (`frame.number`, as Wireshark numbers the capture; several inputs are numbered in
/// their merged order, as `mergecap` writes them), else the time it was open, a little wider
/// for clock rounding.
pub fn wireshark_filter(r: &TransferRecord) -> Option<String> {
    let (a, b) = (r.data_initiator?, r.data_responder?);
    let ip = |s: SocketAddr| match s {
        SocketAddr::V4(v) => format!("ip.addr=={}", v.ip()),
        SocketAddr::V6(v) => format!("ipv6.addr=={}", v.ip()),
    };
    let conn = format!(
        "{} && {} && tcp.port=={} && tcp.port=={}",
        ip(a),
        ip(b),
        a.port(),
        b.port()
    );
    if let Some(f) = r.frames {
        return Some(format!(
            "{conn} && frame.number>={} && frame.number<={}",
            f.first, f.last
        ));
    }
    let secs = |ts: Timestamp, round_up: bool| {
        let s = ts.as_nanos().div_euclid(1_000_000_000);
        s + i64::from(round_up)
    };
    Some(format!(
        "{conn} && frame.time_epoch>={} && frame.time_epoch<={}",
        secs(r.start, false) - 1,
        secs(r.end, true) + 1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilde_is_home() {
        let home = std::env::var("HOME").unwrap_or_default();
        if home.is_empty() {
            return;
        }
        assert_eq!(expand_tilde("~/x"), Path::new(&home).join("x"));
        assert_eq!(expand_tilde("~"), PathBuf::from(&home));
        assert_eq!(expand_tilde("a/~"), PathBuf::from("a/~"));
    }

    #[test]
    fn osc52_carries_base64() {
        assert_eq!(osc52("hi"), "\x1b]52;c;aGk=\x07");
    }
}
