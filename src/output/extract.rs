//! Files on disk: where each transfer lands under the output folder, named after its remote
//! path, and never outside it.
//!
//! Remote paths are hostile input. Each component is sanitised on its own: `.` and `..` and
//! empty components are dropped (so nothing climbs out), `/` and `\` both split components,
//! control characters, bidi overrides, `%` and characters Windows forbids become `%XX`, reserved
//! device names (`CON`, `NUL`, `COM1` ...) get a `_` prefix, and components longer than 200
//! bytes are shortened with a hash suffix. Where the names are created, beneath a folder
//! handle and never over an existing file, is [`super::outdir`].

use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::path::PathBuf;

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
}
