//! What is computed over a transfer's bytes as they stream, in one pass: the digests chosen
//! with `--hash` (only those) and the MIME type of its first bytes. It runs where SHA-256
//! always ran: on the hashing thread, or inline without threads.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Bytes of a transfer's start kept to tell its type: enough for every signature `infer`
/// looks at but ISO 9660's (at 32 KiB) and for the names of an Office document's first zip
/// entries.
pub const HEAD_BYTES: usize = 8192;

/// The digests `--hash` asks for (SHA-256 alone by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashChoice {
    pub sha256: bool,
    pub md5: bool,
    pub sha1: bool,
}

impl Default for HashChoice {
    fn default() -> Self {
        HashChoice {
            sha256: true,
            md5: false,
            sha1: false,
        }
    }
}

impl HashChoice {
    /// The names `--hash` takes, in the order the records list them.
    pub const NAMES: [&'static str; 3] = ["sha256", "md5", "sha1"];

    /// `sha256,md5,sha1` (any of them, any order, at least one; case-insensitive).
    pub fn parse(list: &str) -> Result<HashChoice, String> {
        let mut choice = HashChoice {
            sha256: false,
            md5: false,
            sha1: false,
        };
        for name in list.split(',').map(str::trim) {
            match name.to_ascii_lowercase().as_str() {
                "sha256" | "sha-256" => choice.sha256 = true,
                "md5" => choice.md5 = true,
                "sha1" | "sha-1" => choice.sha1 = true,
                "" => return Err("an empty name in the list (expected sha256, md5, sha1)".into()),
                _ => {
                    return Err(format!(
                        "unknown digest {name:?} (expected a comma-separated list of sha256, md5, sha1)"
                    ));
                }
            }
        }
        Ok(choice)
    }

    /// Whether `name` (one of [`HashChoice::NAMES`]) is chosen.
    pub fn has(self, name: &str) -> bool {
        match name {
            "sha256" => self.sha256,
            "md5" => self.md5,
            "sha1" => self.sha1,
            _ => false,
        }
    }
}

/// What was computed over a transfer's bytes: the chosen digests (hex; None when not chosen)
/// and the MIME type of its first bytes (None when nothing told).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digests {
    pub sha256: Option<String>,
    pub md5: Option<String>,
    pub sha1: Option<String>,
    pub mime_type: Option<String>,
}

impl Digests {
    /// The digest named `name` (one of [`HashChoice::NAMES`]).
    pub fn get(&self, name: &str) -> Option<&str> {
        match name {
            "sha256" => self.sha256.as_deref(),
            "md5" => self.md5.as_deref(),
            "sha1" => self.sha1.as_deref(),
            _ => None,
        }
    }
}

/// The running digests of one transfer, and its first [`HEAD_BYTES`].
#[derive(Clone)]
pub struct Digester {
    sha256: Option<Sha256>,
    md5: Option<Md5>,
    sha1: Option<Sha1>,
    head: Vec<u8>,
}

impl Digester {
    pub fn new(choice: HashChoice) -> Self {
        Digester {
            sha256: choice.sha256.then(Sha256::new),
            md5: choice.md5.then(Md5::new),
            sha1: choice.sha1.then(Sha1::new),
            head: Vec::new(),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        if let Some(h) = self.sha256.as_mut() {
            h.update(bytes);
        }
        if let Some(h) = self.md5.as_mut() {
            h.update(bytes);
        }
        if let Some(h) = self.sha1.as_mut() {
            h.update(bytes);
        }
        let room = HEAD_BYTES - self.head.len();
        if room > 0 {
            self.head
                .extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
        }
    }

    pub fn finish(self) -> Digests {
        Digests {
            sha256: self.sha256.map(|h| crate::text::hex(&h.finalize())),
            md5: self.md5.map(|h| crate::text::hex(&h.finalize())),
            sha1: self.sha1.map(|h| crate::text::hex(&h.finalize())),
            mime_type: mime_type(&self.head).map(str::to_owned),
        }
    }
}

/// The MIME type the first bytes of a file say: a signature `infer` knows, else `text/plain`
/// for bytes that read as text (UTF-8, no control character but tab, CR, LF and form feed),
/// else nothing. Nothing for no bytes.
pub fn mime_type(head: &[u8]) -> Option<&'static str> {
    if head.is_empty() {
        return None;
    }
    if let Some(t) = infer::get(head) {
        return Some(t.mime_type());
    }
    looks_like_text(head).then_some("text/plain")
}

/// Bytes looked at to tell text: enough to tell, little enough to cost nothing per transfer.
const TEXT_PROBE: usize = 1024;

fn looks_like_text(head: &[u8]) -> bool {
    let probe = head.get(..TEXT_PROBE).unwrap_or(head);
    let valid = match std::str::from_utf8(probe) {
        Ok(_) => probe.len(),
        // A character cut by the end of the probe (or of the bytes) is still text.
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        Err(_) => return false,
    };
    let text = probe.get(..valid).unwrap_or_default();
    // No C0 control but tab, LF, FF and CR; no DEL. (Bytes of other characters are UTF-8.)
    !text.is_empty()
        && text
            .iter()
            .all(|&b| b >= 0x20 && b != 0x7f || matches!(b, b'\t' | b'\n' | b'\r' | 0x0c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_lists() {
        assert_eq!(HashChoice::parse("sha256").unwrap(), HashChoice::default());
        let all = HashChoice::parse("MD5, sha1,sha256").unwrap();
        assert!(all.sha256 && all.md5 && all.sha1);
        let md5 = HashChoice::parse("md5").unwrap();
        assert!(md5.md5 && !md5.sha256 && !md5.sha1);
        assert!(HashChoice::parse("foo").unwrap_err().contains("\"foo\""));
        assert!(HashChoice::parse("sha256,").is_err());
        assert!(HashChoice::parse("").is_err());
    }

    #[test]
    fn only_the_chosen_digests_are_computed() {
        let mut d = Digester::new(HashChoice::parse("md5,sha1").unwrap());
        d.update(b"ab");
        d.update(b"c");
        let out = d.finish();
        assert_eq!(out.sha256, None);
        // RFC 1321 and RFC 3174 test vectors.
        assert_eq!(out.md5.as_deref(), Some("900150983cd24fb0d6963f7d28e17f72"));
        assert_eq!(
            out.sha1.as_deref(),
            Some("a9993e364706816aba3e25717850c26c9cd0d89d")
        );
        assert_eq!(out.mime_type.as_deref(), Some("text/plain"));
    }

    #[test]
    fn mime_types_from_first_bytes() {
        assert_eq!(mime_type(b""), None);
        assert_eq!(
            mime_type(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some("image/png")
        );
        assert_eq!(mime_type(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(
            mime_type(b"\x1f\x8b\x08\0\0\0\0\0"),
            Some("application/gzip")
        );
        assert_eq!(
            mime_type(b"drwxr-xr-x 2 0 0 4096 Jan 1 pub\r\n"),
            Some("text/plain")
        );
        assert_eq!(mime_type("caf\u{e9}\n".as_bytes()), Some("text/plain"));
        assert_eq!(mime_type(b"\x00\x01\x02\xff"), None);
        // Only the first HEAD_BYTES count, so a text cut mid-character is still text.
        let long = format!("a{}", "\u{e9}".repeat(HEAD_BYTES)).into_bytes();
        let mut d = Digester::new(HashChoice::default());
        d.update(&long);
        assert_eq!(d.finish().mime_type.as_deref(), Some("text/plain"));
    }
}
