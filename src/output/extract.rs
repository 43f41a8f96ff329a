//! Files on disk: where each transfer lands under the output folder, named after its remote
//! path, and never outside it.
//!
//! Remote paths are hostile input. Each component is sanitised on its own: `.` and `..` and
//! empty components are dropped (so nothing climbs out), `/` and `\` both split components,
//! control characters, bidi overrides, `%` and characters Windows forbids become `%XX`, reserved
//! device names (`CON`, `NUL`, `COM1` ...) get a `_` prefix, and components longer than 200
//! bytes are shortened with a hash suffix. [`final_location`] names each transfer's file and
//! folder; `ExtractDirs` places finished files there, beneath a folder handle and never over
//! an existing file ([`super::outdir`]).

use super::outdir::OutDir;
use ftpscope_core::fasthash::FastState;
use ftpscope_core::{TransferRecord, TransferStatus};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

const MAX_COMPONENT: usize = 200;
const RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// One path component made safe, or None when nothing of it may be kept (`.`, `..`, empty).
pub fn sanitize_component(raw: &[u8]) -> Option<String> {
    if raw.is_empty() || raw == b"." || raw == b".." {
        return None;
    }
    let mut out = String::with_capacity(raw.len());
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            let unsafe_char = c.is_control()
                || matches!(
                    c,
                    '%' | '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|'
                )
                || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
            if unsafe_char {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "%{b:02X}");
                }
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "%{b:02X}");
        }
    }
    // Windows drops trailing dots and spaces; keep names the same everywhere.
    while out.ends_with('.') || out.ends_with(' ') {
        let last = out.pop().map_or(0, |c| c as u32);
        let _ = write!(out, "%{last:02X}");
        if out.len() > MAX_COMPONENT * 2 {
            break;
        }
    }
    let stem = out.split('.').next().unwrap_or("").to_ascii_uppercase();
    if RESERVED.contains(&stem.as_str()) {
        out.insert(0, '_');
    }
    if out.len() > MAX_COMPONENT {
        let digest = Sha256::digest(raw);
        let mut cut = MAX_COMPONENT - 10;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        let _ = write!(
            out,
            "~{:02x}{:02x}{:02x}{:02x}",
            digest[0], digest[1], digest[2], digest[3]
        );
    }
    Some(out)
}

/// A remote path as a relative path of sanitised components (may be empty).
pub fn sanitize_path(remote: &[u8]) -> PathBuf {
    remote
        .split(|&b| b == b'/' || b == b'\\')
        .filter_map(sanitize_component)
        .collect()
}

/// Where a transfer's finished temporary file goes: decided on the parsing thread when the
/// transfer ends, done by whichever thread wrote the file.
#[derive(Debug)]
pub(crate) enum Placement {
    /// Nothing to keep (a failed transfer that carried no byte, an encrypted one): removed.
    Remove,
    /// As `name` in the folder `dir`, relative to the extraction folder ([`final_location`]).
    At(PathBuf, String),
}

impl Placement {
    pub(crate) fn of(r: &TransferRecord) -> Self {
        if r.status == TransferStatus::Failed && r.bytes == 0 {
            return Placement::Remove;
        }
        // Ciphertext is not the file, and a file beside the others would pass for it; no
        // bytes of it reach the writer anyway (the core never hands them over).
        if r.status == TransferStatus::Encrypted {
            return Placement::Remove;
        }
        let (dir, name) = final_location(r);
        Placement::At(dir, name)
    }
}

/// The extraction folder and, inside it, our private folder of partial files.
pub(crate) struct ExtractDirs {
    pub(crate) root: OutDir,
    pub(crate) partial: OutDir,
    /// Folders placed into lately, kept open: opening `session-1/pub/images` one component at
    /// a time costs six system calls per file, a third of `-x`'s system time with many small
    /// files. Holding a folder's handle keeps every guarantee (it is the folder we checked).
    open: std::cell::RefCell<HashMap<PathBuf, OutDir, FastState>>,
}

/// Folders kept open by [`ExtractDirs`] (a descriptor each); past it, all are closed.
const OPEN_FOLDERS: usize = 64;

impl ExtractDirs {
    pub(crate) fn new(root: OutDir, partial: OutDir) -> Self {
        ExtractDirs {
            root,
            partial,
            open: Default::default(),
        }
    }

    pub(crate) fn try_clone(&self) -> io::Result<Self> {
        Ok(ExtractDirs::new(
            self.root.try_clone()?,
            self.partial.try_clone()?,
        ))
    }

    /// Moves the partial file `temp` to `name` in the folder `dir` (relative to the root, made
    /// where missing), through a handle kept open when it was opened lately.
    fn place(&self, temp: &str, dir: &Path, name: &str) -> io::Result<PathBuf> {
        let mut open = self.open.borrow_mut();
        if let Some(folder) = open.get(dir) {
            match folder.place(&self.partial, temp, name) {
                Ok(path) => return Ok(path),
                // Removed or changed meanwhile: opened afresh below.
                Err(_) => {
                    open.remove(dir);
                }
            }
        }
        let folder = self.root.subdir(dir)?;
        let path = folder.place(&self.partial, temp, name)?;
        if open.len() >= OPEN_FOLDERS {
            open.clear();
        }
        open.insert(dir.to_path_buf(), folder);
        Ok(path)
    }
}

/// The name of the private folder of partial files starts with this (a random part follows).
pub const PARTIAL_PREFIX: &str = ".ftpscope-partial-";

/// Places a file at `dir/name`; when that fails (a file already stands where a folder is
/// needed: `RETR /a`, then `RETR /a/b`), tries once more with the folders below the session's
/// own folder flattened into the name (`session-1/a_b`).
pub(crate) fn place_or_flatten(
    dirs: &ExtractDirs,
    temp: &str,
    dir: &Path,
    name: &str,
) -> io::Result<PathBuf> {
    let place = |dir: &Path, name: &str| dirs.place(temp, dir, name);
    let first = match place(dir, name) {
        Ok(path) => return Ok(path),
        Err(e) => e,
    };
    let mut parts = dir
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    let Some(top) = parts.next() else {
        return Err(first);
    };
    let mut flat: Vec<String> = parts.collect();
    if flat.is_empty() {
        return Err(first);
    }
    flat.push(name.to_owned());
    let mut flat = flat.join("_");
    if flat.len() > 200 {
        let mut cut = flat.len() - 200;
        while !flat.is_char_boundary(cut) {
            cut += 1;
        }
        flat = flat.split_off(cut);
    }
    place(Path::new(&top), &flat).map_err(|_| first)
}

/// Where a transfer's file goes, relative to the extraction folder: a folder per session named
/// by the remote path; listings, unclaimed data and orphans in their own folders.
pub fn final_location(r: &TransferRecord) -> (PathBuf, String) {
    let suffix = match r.status {
        // An encrypted transfer is never placed (`Placement::of`); its name is for the record.
        TransferStatus::Complete | TransferStatus::Failed | TransferStatus::Encrypted => "",
        TransferStatus::Truncated => ".truncated",
        TransferStatus::Aborted => ".aborted",
    };
    let Some(session) = r.session else {
        let ends = |a: Option<std::net::SocketAddr>| {
            a.map_or("unknown".into(), |a| a.to_string().replace(':', "_"))
        };
        let name = format!(
            "transfer-{}-{}-{}.bin{suffix}",
            r.transfer,
            ends(r.data_initiator),
            ends(r.data_responder)
        );
        return (PathBuf::from("orphans"), name);
    };
    let session_dir = PathBuf::from(format!("session-{session}"));
    let verb = r
        .command
        .as_deref()
        .map(|v| String::from_utf8_lossy(v).into_owned());
    let remote = r.full_path.as_deref().or(r.path.as_deref());
    match (verb, remote) {
        (None, _) => (
            session_dir.join("_unclaimed"),
            format!("transfer-{}.bin{suffix}", r.transfer),
        ),
        (Some(verb), remote) if r.listing => {
            let what = remote
                .map(sanitize_path)
                .map(|p| p.to_string_lossy().replace('/', "_"));
            let name = match what {
                Some(w) if !w.is_empty() => {
                    format!("transfer-{}-{verb}-{w}.txt{suffix}", r.transfer)
                }
                _ => format!("transfer-{}-{verb}.txt{suffix}", r.transfer),
            };
            (session_dir.join("_listings"), name)
        }
        (Some(verb), remote) => {
            let rel = remote.map(sanitize_path).unwrap_or_default();
            let name = rel.file_name().map(|n| n.to_string_lossy().into_owned());
            // A transfer after `REST n` holds the remote file from byte n on, not the file:
            // its name says where it starts, so it never passes for the whole file (the
            // combined file beside it, `<name>.combined`, is the whole one).
            let part = part_suffix(r.offset);
            match name {
                Some(name) => {
                    let dir = rel
                        .parent()
                        .map_or(session_dir.clone(), |p| session_dir.join(p));
                    (dir, format!("{name}{part}{suffix}"))
                }
                None => (
                    session_dir,
                    format!("transfer-{}-{verb}.bin{part}{suffix}", r.transfer),
                ),
            }
        }
    }
}

/// What the name of a file that starts at byte `offset` of the remote file carries
/// (`.from-1048576`); nothing for a file that starts at its beginning.
pub(crate) fn part_suffix(offset: u64) -> String {
    if offset == 0 {
        String::new()
    } else {
        format!(".from-{offset}")
    }
}

/// The name of the combined file beside a part file named `part_name` that starts at byte
/// `offset`: the part's name without its `.from-<offset>`, then `.combined` (`movie.bin.from-2500`
/// → `movie.bin.combined`), since the combined file starts at byte 0.
pub(crate) fn combined_name(part_name: &str, offset: u64) -> String {
    let part = part_suffix(offset);
    let base = match part_name.rfind(part.as_str()) {
        Some(at) if !part.is_empty() => {
            let (head, tail) = part_name.split_at(at);
            format!("{head}{}", tail.get(part.len()..).unwrap_or(""))
        }
        _ => part_name.to_owned(),
    };
    format!("{base}.combined")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_paths_stay_inside() {
        let cases: &[(&[u8], &str)] = &[
            (b"../../etc/passwd", "etc/passwd"),
            (b"/etc/shadow", "etc/shadow"),
            (b"..\\..\\boot.ini", "boot.ini"),
            (b"a\0b", "a%00b"),
            ("a\u{61c}b".as_bytes(), "a%D8%9Cb"),
            (b"new\nline", "new%0Aline"),
            (b"\x1b[2Jx", "%1B[2Jx"),
            (b"CON", "_CON"),
            (b"nul.txt", "_nul.txt"),
            (b"dir/./f", "dir/f"),
            (b"trailing. ", "trailing.%20"),
            (b"dots..", "dots.%2E"),
            (b"100%", "100%25"),
            (b"caf\xe9", "caf%E9"),
            (b"", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(sanitize_path(raw), PathBuf::from(want), "{raw:?}");
        }
        let long = vec![b'a'; 300];
        let c = sanitize_component(&long).unwrap();
        assert!(c.len() <= MAX_COMPONENT && c.contains('~'));
    }

    #[test]
    fn a_part_file_says_where_it_starts_and_its_combined_file_does_not() {
        assert_eq!(part_suffix(0), "");
        assert_eq!(part_suffix(1048576), ".from-1048576");
        let cases = [
            ("movie.bin.from-2500", 2500, "movie.bin.combined"),
            (
                "movie.bin.from-2500.truncated",
                2500,
                "movie.bin.truncated.combined",
            ),
            // Placed under a new name beside an earlier file, or flattened: the rest stays.
            ("movie.bin.from-2500 (2)", 2500, "movie.bin (2).combined"),
            ("pub_movie.bin.from-2500", 2500, "pub_movie.bin.combined"),
            // A name that lacks the suffix (written by hand) only gains `.combined`.
            ("movie.bin", 2500, "movie.bin.combined"),
        ];
        for (part, offset, want) in cases {
            assert_eq!(combined_name(part, offset), want, "{part}");
        }
    }
}
