//! A compact binary form of what the UI keeps on disk (see [`crate::store`]): exchanges
//! and transfer outcomes. Private to one run (written and read by the same binary), so it has
//! no version and no compatibility promise; a record that does not decode is reported, never
//! trusted.

use crate::transfers::{Digests, Listing, TransferOutcome};
use ftpscope_core::Timestamp;
use ftpscope_core::event::{
    AnnouncedBy, CommandLine, DataMode, Direction, Exchange, FrameSpan, LinkRule, Reply,
    TlsCertificate, TlsFacts, TransferRecord, TransferStatus,
};
use ftpscope_core::ftp::listing::{EntryKind, ListingEntry, ListingStyle};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// Appends values to a buffer.
pub struct Enc<'a>(pub &'a mut Vec<u8>);

impl Enc<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }
    fn u64(&mut self, v: u64) {
        // LEB128: most numbers here are small.
        let mut v = v;
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn ts(&mut self, t: Timestamp) {
        self.i64(t.as_nanos());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    fn opt<T>(&mut self, v: Option<T>, put: impl FnOnce(&mut Self, T)) {
        match v {
            Some(v) => {
                self.u8(1);
                put(self, v);
            }
            None => self.u8(0),
        }
    }
    /// A variant by its position in its enum's own `ALL` list (`index()`), so that a variant
    /// the core adds gets a code of its own rather than another's. An index past `u8` (no
    /// enum has that many) is written as `u8::MAX`, which no list reaches: it decodes as
    /// damage, never as another variant.
    fn variant(&mut self, index: usize) {
        self.u8(u8::try_from(index).unwrap_or(u8::MAX));
    }
    fn addr(&mut self, a: SocketAddr) {
        match a.ip() {
            IpAddr::V4(ip) => {
                self.u8(4);
                self.0.extend_from_slice(&ip.octets());
            }
            IpAddr::V6(ip) => {
                self.u8(6);
                self.0.extend_from_slice(&ip.octets());
            }
        }
        self.0.extend_from_slice(&a.port().to_le_bytes());
    }
}

/// Reads values back; every read is None past the end or on a value out of range.
pub struct Dec<'a>(pub &'a [u8]);

impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }
    fn bool(&mut self) -> Option<bool> {
        match self.u8()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
    fn u64(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.array()?))
    }
    fn ts(&mut self) -> Option<Timestamp> {
        self.i64().map(Timestamp::from_nanos)
    }
    fn bytes(&mut self) -> Option<Vec<u8>> {
        let n = usize::try_from(self.u64()?).ok()?;
        Some(self.take(n)?.to_vec())
    }
    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?).ok()
    }
    fn opt<T>(&mut self, get: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(get(self)?)),
            _ => None,
        }
    }
    fn addr(&mut self) -> Option<SocketAddr> {
        let ip = match self.u8()? {
            4 => IpAddr::from(self.array::<4>()?),
            6 => IpAddr::from(self.array::<16>()?),
            _ => return None,
        };
        Some(SocketAddr::new(ip, u16::from_le_bytes(self.array()?)))
    }
    /// The entry of `table` (an enum's `ALL`, or a list below) at the position read; None
    /// (damage) past its end.
    fn index<T: Clone>(&mut self, table: &[T]) -> Option<T> {
        table.get(usize::from(self.u8()?)).cloned()
    }
}

pub fn encode_exchange(e: &Exchange, out: &mut Vec<u8>) {
    let mut w = Enc(out);
    w.u64(e.session);
    w.opt(e.command.as_ref(), |w, c| {
        w.ts(c.ts);
        w.bytes(&c.verb);
        w.bytes(&c.arg);
        w.bool(c.secret);
    });
    w.u64(e.replies.len() as u64);
    for r in &e.replies {
        w.ts(r.ts);
        w.u64(u64::from(r.code));
        w.bytes(&r.text);
        w.u64(r.lines_dropped);
    }
}

pub fn decode_exchange(bytes: &[u8]) -> Option<Exchange> {
    let mut r = Dec(bytes);
    let session = r.u64()?;
    let command = r.opt(|r| {
        Some(CommandLine {
            ts: r.ts()?,
            verb: r.bytes()?,
            arg: r.bytes()?,
            secret: r.bool()?,
        })
    })?;
    let n = r.u64()?;
    let mut replies = Vec::new();
    for _ in 0..n {
        replies.push(Reply {
            ts: r.ts()?,
            code: u16::try_from(r.u64()?).ok()?,
            text: r.bytes()?,
            lines_dropped: r.u64()?,
        });
    }
    r.0.is_empty().then_some(Exchange {
        session,
        command,
        replies,
    })
}

pub fn encode_transfer(t: &TransferOutcome, out: &mut Vec<u8>) {
    let mut w = Enc(out);
    let rec = &t.record;
    w.u64(rec.transfer);
    w.opt(rec.session, Enc::u64);
    w.ts(rec.start);
    w.ts(rec.end);
    w.opt(rec.command.as_deref(), Enc::bytes);
    w.opt(rec.path.as_deref(), Enc::bytes);
    w.opt(rec.full_path.as_deref(), Enc::bytes);
    w.variant(rec.direction.index());
    w.opt(rec.mode, |w, m| w.variant(m.index()));
    w.opt(rec.announced_by, |w, by| w.variant(by.index()));
    w.opt(rec.announced, Enc::addr);
    w.variant(rec.link.index());
    w.opt(rec.data_initiator, Enc::addr);
    w.opt(rec.data_responder, Enc::addr);
    w.opt(rec.transfer_type, Enc::u8);
    w.u64(rec.offset);
    w.u64(rec.bytes);
    w.opt(rec.expected_bytes, Enc::u64);
    w.u64(rec.gap_bytes);
    w.u64(rec.missing_bytes);
    w.variant(rec.status.index());
    w.bytes(rec.reason.as_bytes());
    w.opt(rec.reply_code, |w, c| w.u64(u64::from(c)));
    w.bool(rec.listing);
    w.opt(rec.tls.as_deref(), encode_tls);
    w.opt(rec.frames, |w, f| {
        w.u64(f.first);
        w.u64(f.last);
    });
    let d = &t.digests;
    for digest in [&d.sha256, &d.md5, &d.sha1, &d.mime_type] {
        w.opt(digest.as_deref(), |w, s| w.bytes(s.as_bytes()));
    }
    w.opt(t.file.as_ref(), |w, p| {
        w.bytes(p.as_os_str().as_encoded_bytes())
    });
    w.opt(t.file_error.as_deref(), |w, e| w.bytes(e.as_bytes()));
    w.opt(t.listing.as_ref(), |w, l| {
        w.bool(l.truncated);
        w.u64(l.entries.len() as u64);
        for e in &l.entries {
            w.bytes(&e.name);
            w.variant(e.kind.index());
            w.opt(e.size, Enc::u64);
            w.opt(e.modified.as_deref(), |w, m| w.bytes(m.as_bytes()));
            w.opt(e.link_target.as_deref(), Enc::bytes);
            w.opt(e.permissions.as_deref(), |w, p| w.bytes(p.as_bytes()));
            w.variant(e.style.index());
        }
    });
    w.opt(t.resumes, Enc::u64);
    w.opt(t.combined_file.as_ref(), |w, p| {
        w.bytes(p.as_os_str().as_encoded_bytes())
    });
    w.opt(t.combined_sha256.as_deref(), |w, s| w.bytes(s.as_bytes()));
    w.opt(t.capture_drops, Enc::u64);
}

fn encode_tls(w: &mut Enc<'_>, t: &TlsFacts) {
    let text = |w: &mut Enc<'_>, s: &String| w.bytes(s.as_bytes());
    w.opt(t.version.as_ref(), text);
    w.opt(t.cipher_suite.as_ref(), text);
    w.opt(t.sni.as_deref(), Enc::bytes);
    w.opt(t.alpn.as_deref(), Enc::bytes);
    w.opt(t.resumed.as_ref(), text);
    w.bool(t.decrypted);
    w.bool(t.close_notify);
    w.opt(t.certificate.as_ref(), |w, c| {
        w.bytes(c.subject.as_bytes());
        w.bytes(c.issuer.as_bytes());
        w.i64(c.not_before);
        w.i64(c.not_after);
        w.bytes(&c.sha256);
    });
}

fn decode_tls(r: &mut Dec<'_>) -> Option<Box<TlsFacts>> {
    Some(Box::new(TlsFacts {
        version: r.opt(Dec::string)?,
        cipher_suite: r.opt(Dec::string)?,
        sni: r.opt(Dec::bytes)?,
        alpn: r.opt(Dec::bytes)?,
        resumed: r.opt(Dec::string)?,
        decrypted: r.bool()?,
        close_notify: r.bool()?,
        certificate: r.opt(|r| {
            Some(TlsCertificate {
                subject: r.string()?,
                issuer: r.string()?,
                not_before: r.i64()?,
                not_after: r.i64()?,
                sha256: r.bytes()?.try_into().ok()?,
            })
        })?,
    }))
}

fn path(r: &mut Dec<'_>) -> Option<PathBuf> {
    let bytes = r.bytes()?;
    #[cfg(unix)]
    let path =
        PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(bytes));
    #[cfg(not(unix))]
    let path = PathBuf::from(String::from_utf8(bytes).ok()?);
    Some(path)
}

pub fn decode_transfer(bytes: &[u8]) -> Option<TransferOutcome> {
    let mut r = Dec(bytes);
    let record = TransferRecord {
        transfer: r.u64()?,
        session: r.opt(Dec::u64)?,
        start: r.ts()?,
        end: r.ts()?,
        command: r.opt(Dec::bytes)?,
        path: r.opt(Dec::bytes)?,
        full_path: r.opt(Dec::bytes)?,
        direction: r.index(Direction::ALL)?,
        mode: r.opt(|r| r.index(DataMode::ALL))?,
        announced_by: r.opt(|r| r.index(AnnouncedBy::ALL))?,
        announced: r.opt(Dec::addr)?,
        link: r.index(LinkRule::ALL)?,
        data_initiator: r.opt(Dec::addr)?,
        data_responder: r.opt(Dec::addr)?,
        transfer_type: r.opt(Dec::u8)?,
        offset: r.u64()?,
        bytes: r.u64()?,
        expected_bytes: r.opt(Dec::u64)?,
        gap_bytes: r.u64()?,
        missing_bytes: r.u64()?,
        status: r.index(TransferStatus::ALL)?,
        reason: r.string()?,
        reply_code: r.opt(|r| u16::try_from(r.u64()?).ok())?,
        listing: r.bool()?,
        tls: r.opt(decode_tls)?,
        frames: r.opt(|r| {
            Some(FrameSpan {
                first: r.u64()?,
                last: r.u64()?,
            })
        })?,
    };
    let outcome = TransferOutcome {
        record,
        digests: Digests {
            sha256: r.opt(Dec::string)?,
            md5: r.opt(Dec::string)?,
            sha1: r.opt(Dec::string)?,
            mime_type: r.opt(Dec::string)?,
        },
        pending: false,
        file: r.opt(path)?,
        file_error: r.opt(Dec::string)?,
        listing: r.opt(|r| {
            let truncated = r.bool()?;
            let n = r.u64()?;
            let mut entries = Vec::new();
            for _ in 0..n {
                entries.push(ListingEntry {
                    name: r.bytes()?,
                    kind: r.index(EntryKind::ALL)?,
                    size: r.opt(Dec::u64)?,
                    modified: r.opt(Dec::string)?,
                    link_target: r.opt(Dec::bytes)?,
                    permissions: r.opt(Dec::string)?,
                    style: r.index(ListingStyle::ALL)?,
                });
            }
            Some(Listing { entries, truncated })
        })?,
        resumes: r.opt(Dec::u64)?,
        combined_file: r.opt(path)?,
        combined_sha256: r.opt(Dec::string)?,
        capture_drops: r.opt(Dec::u64)?,
    };
    r.0.is_empty().then_some(outcome)
}
