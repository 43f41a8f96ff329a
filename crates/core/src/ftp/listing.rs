//! Directory listings carried on data connections.
//!
//! - `LIST` (RFC 959 §4.1.3) has no defined format; servers send either Unix `ls -l` lines
//!   (vsftpd, proftpd, pure-ftpd, FileZilla Server, IIS in Unix mode) or DOS/IIS lines.
//!   [`parse_list_line`] recognises both and keeps the date text as sent.
//! - `MLSD`/`MLST` entries (RFC 3659 §7.2 grammar, §7.5 facts `type`, `size`, `modify`,
//!   `perm`; `sizd` and `UNIX.mode` as common extensions), parsed by [`parse_mlsd_line`].
//! - `NLST` (RFC 959 §4.1.3): one name per line, [`parse_nlst_line`].
//! - [`ListingLines`] splits a listing that arrives in chunks into lines (CRLF or LF), with a
//!   length cap that cuts and counts over-long lines instead of growing.
//!
//! Names stay bytes (they are often not UTF-8). Parsers return `None` for lines they cannot
//! read with confidence; they never panic, and allocate only the entry they return.

use super::reply_info::{parse_u64, time_from_213};
use crate::event::named_enum;

named_enum! {
    /// What a listing entry names.
    pub enum EntryKind {
        /// A regular file (`-`, `type=file`, or a DOS line with a size).
        File => "file",
        /// A directory (`d`, `type=dir|cdir|pdir`, `<DIR>`).
        Directory => "directory",
        /// A symbolic link (`l`, `type=OS.unix=slink`, `<SYMLINK>`, `<JUNCTION>`).
        Symlink => "symlink",
        /// Something else: device, pipe, socket, or an unknown MLSD type.
        Other => "other",
        /// The listing does not say (NLST, MLSD without `type`).
        Unknown => "unknown",
    }
}

named_enum! {
    /// Which format a line was read as.
    pub enum ListingStyle {
        /// `ls -l` style LIST line.
        Unix => "unix",
        /// DOS/IIS style LIST line.
        Dos => "dos",
        /// MLSD/MLST fact line (RFC 3659).
        Mlsd => "mlsd",
        /// NLST name line.
        Names => "names",
    }
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingEntry {
    /// The entry's name as sent (for symlinks, without ` -> target`).
    pub name: Vec<u8>,
    pub kind: EntryKind,
    /// Size in bytes, when given and representable.
    pub size: Option<u64>,
    /// Unix/DOS: the date columns joined by single spaces (`Mar 22 12:34`,
    /// `03-22-10 12:34PM`); MLSD: ISO 8601 UTC (`2024-01-01T12:00:00Z`).
    pub modified: Option<String>,
    /// Unix `name -> target`, or MLSD `type=OS.unix=slink:target`.
    pub link_target: Option<Vec<u8>>,
    /// Unix mode string (`drwxr-xr-x`), or MLSD `perm` (falling back to `UNIX.mode`).
    pub permissions: Option<String>,
    pub style: ListingStyle,
}

impl ListingEntry {
    fn new(name: &[u8], kind: EntryKind, style: ListingStyle) -> Self {
        ListingEntry {
            name: name.to_vec(),
            kind,
            size: None,
            modified: None,
            link_target: None,
            permissions: None,
            style,
        }
    }
}

/// How many leading columns are examined before the name (the date is found among them).
const MAX_COLUMNS: usize = 12;

const MONTHS: [&[u8; 3]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];

/// One LIST line (without its line ending). `None` for `total N`, blank lines and lines that
/// look like neither the Unix nor the DOS style.
pub fn parse_list_line(line: &[u8]) -> Option<ListingEntry> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.trim_ascii().is_empty() {
        return None;
    }
    parse_unix(line).or_else(|| parse_dos(line))
}

/// One MLSD entry line (or MLST line with its leading space): `fact=value;...; name`.
/// Fact names are case-insensitive. `cdir`/`pdir` entries are returned as directories with
/// their name as sent. `None` when the facts are malformed or the name is blank.
pub fn parse_mlsd_line(line: &[u8]) -> Option<ListingEntry> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    // MLST puts one space before the facts; MLSD does not.
    let line = match line.strip_prefix(b" ") {
        Some(rest) if split_facts(rest).is_some_and(|(facts, _)| !facts.is_empty()) => rest,
        _ => line,
    };
    let (facts, name) = split_facts(line)?;
    if name.trim_ascii().is_empty() {
        return None;
    }
    let mut entry = ListingEntry::new(name, EntryKind::Unknown, ListingStyle::Mlsd);
    let mut sizd = None;
    let mut unix_mode = None;
    for fact in facts.split(|&b| b == b';').filter(|f| !f.is_empty()) {
        let eq = memchr::memchr(b'=', fact)?;
        let (key, value) = (fact.get(..eq)?, fact.get(eq + 1..)?);
        if key.is_empty() {
            return None;
        }
        if key.eq_ignore_ascii_case(b"type") {
            (entry.kind, entry.link_target) = mlsd_type(value);
        } else if key.eq_ignore_ascii_case(b"size") {
            entry.size = parse_u64(value);
        } else if key.eq_ignore_ascii_case(b"sizd") {
            sizd = parse_u64(value);
        } else if key.eq_ignore_ascii_case(b"modify") {
            entry.modified = time_from_213(value);
        } else if key.eq_ignore_ascii_case(b"perm") {
            entry.permissions = ascii_string(value);
        } else if key.eq_ignore_ascii_case(b"unix.mode") {
            unix_mode = ascii_string(value);
        }
    }
    entry.size = entry.size.or(sizd);
    entry.permissions = entry.permissions.or(unix_mode);
    Some(entry)
}

/// One NLST line: the name as sent (kind unknown). `None` for blank lines.
pub fn parse_nlst_line(line: &[u8]) -> Option<ListingEntry> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.trim_ascii().is_empty() {
        return None;
    }
    Some(ListingEntry::new(
        line,
        EntryKind::Unknown,
        ListingStyle::Names,
    ))
}

/// Splits a listing stream arriving in chunks into lines (LF or CRLF, stripped). A line longer
/// than `max_line` bytes is delivered cut to `max_line` bytes, the rest of it is skipped, and
/// it is counted in [`ListingLines::cut_lines`]. Memory is bounded by `max_line + 1`.
#[derive(Debug)]
pub struct ListingLines {
    max_line: usize,
    buf: Vec<u8>,
    skipping: bool,
    cut: u64,
}

impl ListingLines {
    pub fn new(max_line: usize) -> Self {
        ListingLines {
            max_line,
            buf: Vec::new(),
            skipping: false,
            cut: 0,
        }
    }

    /// Feeds a chunk; `out` receives each complete line.
    pub fn push(&mut self, chunk: &[u8], out: &mut dyn FnMut(&[u8])) {
        let mut rest = chunk;
        while let Some(nl) = memchr::memchr(b'\n', rest) {
            let (Some(segment), Some(after)) = (rest.get(..nl), rest.get(nl + 1..)) else {
                return;
            };
            self.segment(segment, true, out);
            rest = after;
        }
        self.segment(rest, false, out);
    }

    /// Ends the stream: an unterminated last line is delivered.
    pub fn finish(&mut self, out: &mut dyn FnMut(&[u8])) {
        if !self.skipping && !self.buf.is_empty() {
            let buf = std::mem::take(&mut self.buf);
            self.emit(&buf, out);
        }
        self.buf.clear();
        self.skipping = false;
    }

    /// How many lines were cut because they exceeded `max_line`.
    pub fn cut_lines(&self) -> u64 {
        self.cut
    }

    fn segment(&mut self, seg: &[u8], terminated: bool, out: &mut dyn FnMut(&[u8])) {
        if self.skipping {
            self.skipping = !terminated;
            return;
        }
        // One extra byte of room for a CR that may turn out to precede the LF.
        let room = self
            .max_line
            .saturating_add(1)
            .saturating_sub(self.buf.len());
        if terminated && self.buf.is_empty() {
            // Fast path: the whole line is in this chunk.
            self.emit(seg, out);
        } else if terminated {
            self.buf.extend(seg.iter().take(room));
            let buf = std::mem::take(&mut self.buf);
            // Bytes beyond the room make the line too long even if the kept part is short.
            if seg.len() > room {
                self.cut_emit(&buf, out);
            } else {
                self.emit(&buf, out);
            }
            self.buf = buf;
            self.buf.clear();
        } else if seg.len() <= room {
            self.buf.extend_from_slice(seg);
        } else {
            self.buf.extend(seg.iter().take(room));
            let buf = std::mem::take(&mut self.buf);
            self.cut_emit(&buf, out);
            self.buf = buf;
            self.buf.clear();
            self.skipping = true;
        }
    }

    /// Delivers a complete line: strips one trailing CR, cuts it if still too long.
    fn emit(&mut self, line: &[u8], out: &mut dyn FnMut(&[u8])) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > self.max_line {
            self.cut_emit(line, out);
        } else {
            out(line);
        }
    }

    fn cut_emit(&mut self, line: &[u8], out: &mut dyn FnMut(&[u8])) {
        self.cut = self.cut.saturating_add(1);
        out(line.get(..self.max_line).unwrap_or(line));
    }
}

/// Byte ranges of the first `MAX_COLUMNS` blank-separated columns, and how many there are.
fn columns(line: &[u8]) -> ([(usize, usize); MAX_COLUMNS], usize) {
    let mut cols = [(0usize, 0usize); MAX_COLUMNS];
    let mut count = 0usize;
    let mut start = None;
    for (i, &b) in line.iter().enumerate() {
        let blank = b == b' ' || b == b'\t';
        match (start, blank) {
            (None, false) => start = Some(i),
            (Some(s), true) => {
                let Some(slot) = cols.get_mut(count) else {
                    return (cols, count);
                };
                *slot = (s, i);
                count += 1;
                start = None;
            }
            _ => {}
        }
    }
    if let (Some(s), Some(slot)) = (start, cols.get_mut(count)) {
        *slot = (s, line.len());
        count += 1;
    }
    (cols, count)
}

/// `drwxr-xr-x    2 0   0   4096 Mar 22 12:34 name`, with the variants in the module doc.
fn parse_unix(line: &[u8]) -> Option<ListingEntry> {
    let (cols, count) = columns(line);
    let col = |i: usize| {
        cols.get(i)
            .filter(|_| i < count)
            .and_then(|&(s, e)| line.get(s..e))
    };
    let mode = col(0)?;
    let kind = unix_kind(mode)?;
    // The date is the first place where "size date..." fits; the name follows it.
    for i in 2..count {
        let Some((date_cols, date_text)) = unix_date(&col, i) else {
            continue;
        };
        let Some(size) = unix_size(&col, i) else {
            continue;
        };
        let &(_, date_end) = cols.get(i + date_cols - 1)?;
        let rest = line.get(date_end..)?;
        // ls separates the name from the date by one blank; further blanks belong to the name.
        let name = rest.get(1..).unwrap_or_default();
        if name.is_empty() {
            return None;
        }
        let mut entry = ListingEntry::new(name, kind, ListingStyle::Unix);
        if entry.kind == EntryKind::Symlink
            && let Some(arrow) = memchr::memmem::find(name, b" -> ")
        {
            entry.name = name.get(..arrow)?.to_vec();
            entry.link_target = Some(name.get(arrow + 4..)?.to_vec());
            if entry.name.is_empty() {
                return None; // ` -> target` with no name before it
            }
        }
        entry.size = size;
        entry.modified = Some(date_text);
        entry.permissions = ascii_string(mode);
        return Some(entry);
    }
    None
}

/// Kind from a mode column like `drwxr-xr-x`, `-rw-r--r--+`, `lrwxrwxrwx.`; `None` otherwise.
fn unix_kind(mode: &[u8]) -> Option<EntryKind> {
    let body = match mode.len() {
        10 => mode,
        11 if matches!(mode.last(), Some(b'+' | b'.' | b'@')) => mode.get(..10)?,
        _ => return None,
    };
    let (&kind, bits) = body.split_first()?;
    if !bits.iter().all(|b| b"-rwxsStTlL".contains(b)) {
        return None;
    }
    Some(match kind {
        b'-' => EntryKind::File,
        b'd' => EntryKind::Directory,
        b'l' => EntryKind::Symlink,
        b'b' | b'c' | b'p' | b's' | b'D' | b'n' => EntryKind::Other,
        _ => return None,
    })
}

/// At column `i`: `Mon DD HH:MM`, `Mon DD YYYY` (3 columns) or `YYYY-MM-DD HH:MM` (2).
fn unix_date<'a>(col: &dyn Fn(usize) -> Option<&'a [u8]>, i: usize) -> Option<(usize, String)> {
    let first = col(i)?;
    let second = col(i + 1)?;
    if is_month(first) {
        let third = col(i + 2)?;
        if is_day(second) && (is_hh_mm(third) || is_year(third)) {
            return Some((3, join_ascii(&[first, second, third])));
        }
    } else if is_iso_date(first) && is_hh_mm(second) {
        return Some((2, join_ascii(&[first, second])));
    }
    None
}

/// The size column just before the date at `i`: `Some(Some(n))`, `Some(None)` for device
/// numbers (`1, 3` or `1,3`) and sizes too large for u64, `None` if it is not a size column.
fn unix_size<'a>(col: &dyn Fn(usize) -> Option<&'a [u8]>, i: usize) -> Option<Option<u64>> {
    let size = col(i.checked_sub(1)?)?;
    if size.iter().all(u8::is_ascii_digit) {
        let device = i.checked_sub(2).and_then(col).is_some_and(|c| {
            c.len() > 1 && c.ends_with(b",") && c.iter().rev().skip(1).all(u8::is_ascii_digit)
        });
        return Some(if device { None } else { parse_u64(size) });
    }
    let is_device = size.iter().all(|b| b.is_ascii_digit() || *b == b',') && size.contains(&b',');
    is_device.then_some(None)
}

/// `03-22-10  12:34PM  <DIR>  name` and `03-22-2010  12:34  1234 name` (IIS, Windows servers).
fn parse_dos(line: &[u8]) -> Option<ListingEntry> {
    let (cols, count) = columns(line);
    let col = |i: usize| {
        cols.get(i)
            .filter(|_| i < count)
            .and_then(|&(s, e)| line.get(s..e))
    };
    let (date, time) = (col(0)?, col(1)?);
    if !is_dos_date(date) || !is_dos_time(time) {
        return None;
    }
    // "12:34 PM" written as two columns.
    let ampm = col(2).filter(|c| c.eq_ignore_ascii_case(b"am") || c.eq_ignore_ascii_case(b"pm"));
    let size_at = if ampm.is_some() { 3 } else { 2 };
    if count <= size_at + 1 {
        return None;
    }
    let size_col = col(size_at)?;
    let (kind, size) = dos_kind_size(size_col)?;
    let &(_, size_end) = cols.get(size_at)?;
    let name = line.get(size_end..)?.trim_ascii_start();
    if name.is_empty() {
        return None;
    }
    let mut entry = ListingEntry::new(name, kind, ListingStyle::Dos);
    entry.size = size;
    entry.modified = Some(match ampm {
        Some(ap) => join_ascii(&[date, time, ap]),
        None => join_ascii(&[date, time]),
    });
    Some(entry)
}

fn dos_kind_size(col: &[u8]) -> Option<(EntryKind, Option<u64>)> {
    if let Some(tag) = col.strip_prefix(b"<").and_then(|c| c.strip_suffix(b">")) {
        let kind = if tag.eq_ignore_ascii_case(b"dir") {
            EntryKind::Directory
        } else if tag.eq_ignore_ascii_case(b"junction")
            || tag.eq_ignore_ascii_case(b"symlink")
            || tag.eq_ignore_ascii_case(b"symlinkd")
        {
            EntryKind::Symlink
        } else {
            EntryKind::Other
        };
        return Some((kind, None));
    }
    // Sizes may carry thousands separators ("1,234").
    if !col.first()?.is_ascii_digit() || !col.iter().all(|b| b.is_ascii_digit() || *b == b',') {
        return None;
    }
    let size = col
        .iter()
        .filter(|b| b.is_ascii_digit())
        .try_fold(0u64, |acc, &d| {
            acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        });
    Some((EntryKind::File, size))
}

/// `MM-DD-YY`, `MM-DD-YYYY` (also with `/`), month and day in range.
fn is_dos_date(c: &[u8]) -> bool {
    let sep = match c.get(2) {
        Some(&s @ (b'-' | b'/')) => s,
        _ => return false,
    };
    let mut parts = c.split(|&b| b == sep);
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(d), Some(y), None) => {
            in_range(m, 2, 1, 12) && in_range(d, 2, 1, 31) && matches!(y.len(), 2 | 4) && digits(y)
        }
        _ => false,
    }
}

/// `HH:MM` optionally followed directly by `AM`/`PM`.
fn is_dos_time(c: &[u8]) -> bool {
    let hm = match c.len().checked_sub(2).and_then(|n| c.split_at_checked(n)) {
        Some((hm, ap)) if ap.eq_ignore_ascii_case(b"am") || ap.eq_ignore_ascii_case(b"pm") => hm,
        _ => c,
    };
    is_hh_mm(hm)
}

fn is_month(c: &[u8]) -> bool {
    MONTHS.iter().any(|m| c.eq_ignore_ascii_case(*m))
}

fn is_day(c: &[u8]) -> bool {
    matches!(c.len(), 1 | 2) && in_range(c, c.len(), 1, 31)
}

fn is_year(c: &[u8]) -> bool {
    c.len() == 4 && digits(c)
}

/// `H:MM` or `HH:MM`, hour 0..=23, minute 0..=59.
fn is_hh_mm(c: &[u8]) -> bool {
    let Some(colon) = memchr::memchr(b':', c) else {
        return false;
    };
    match (c.get(..colon), c.get(colon + 1..)) {
        (Some(h), Some(m)) => {
            matches!(h.len(), 1 | 2) && in_range(h, h.len(), 0, 23) && in_range(m, 2, 0, 59)
        }
        _ => false,
    }
}

/// `YYYY-MM-DD` (ls --time-style=long-iso).
fn is_iso_date(c: &[u8]) -> bool {
    let mut parts = c.split(|&b| b == b'-');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(y), Some(m), Some(d), None) => {
            is_year(y) && in_range(m, 2, 1, 12) && in_range(d, 2, 1, 31)
        }
        _ => false,
    }
}

/// Exactly `len` digits whose value lies in `lo..=hi`.
fn in_range(c: &[u8], len: usize, lo: u64, hi: u64) -> bool {
    c.len() == len && parse_u64(c).is_some_and(|v| (lo..=hi).contains(&v))
}

fn digits(c: &[u8]) -> bool {
    !c.is_empty() && c.iter().all(u8::is_ascii_digit)
}

/// Joins columns already checked to be ASCII with single spaces.
fn join_ascii(parts: &[&[u8]]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for (n, part) in parts.iter().enumerate() {
        if n > 0 {
            out.push(' ');
        }
        latin1_into(&mut out, part);
    }
    out
}

/// Bytes as Latin-1 characters; ASCII (what the callers checked for) is copied at once, where
/// pushing it a character at a time was a tenth of a listing line's parse.
fn latin1_into(out: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) if text.is_ascii() => out.push_str(text),
        _ => out.extend(bytes.iter().map(|&b| char::from(b))),
    }
}

/// Printable ASCII as a String; `None` otherwise.
fn ascii_string(value: &[u8]) -> Option<String> {
    let printable = !value.is_empty() && value.iter().all(|b| (0x21..=0x7e).contains(b));
    printable.then(|| {
        let mut out = String::with_capacity(value.len());
        latin1_into(&mut out, value);
        out
    })
}

/// Splits an MLSD line into its facts (`a=b;c=d;`) and the name after the single space.
fn split_facts(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let space = memchr::memchr(b' ', line)?;
    let facts = line.get(..space)?;
    if !facts.is_empty() && (!facts.ends_with(b";") || !facts.contains(&b'=')) {
        return None;
    }
    Some((facts, line.get(space + 1..)?))
}

/// Kind (and symlink target) from an MLSD `type` value.
fn mlsd_type(value: &[u8]) -> (EntryKind, Option<Vec<u8>>) {
    const SLINK: &[u8] = b"os.unix=slink";
    const SYMLINK: &[u8] = b"os.unix=symlink";
    if value.eq_ignore_ascii_case(b"file") {
        (EntryKind::File, None)
    } else if [&b"dir"[..], b"cdir", b"pdir"]
        .iter()
        .any(|t| value.eq_ignore_ascii_case(t))
    {
        (EntryKind::Directory, None)
    } else if let Some(rest) =
        strip_prefix_ci(value, SLINK).or_else(|| strip_prefix_ci(value, SYMLINK))
    {
        let target = rest.strip_prefix(b":").filter(|t| !t.is_empty());
        (EntryKind::Symlink, target.map(<[u8]>::to_vec))
    } else {
        (EntryKind::Other, None)
    }
}

fn strip_prefix_ci<'a>(value: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| value.get(prefix.len()..))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use EntryKind::*;

    /// (line, name, kind, size, modified, link target, permissions)
    type Want<'a> = (
        &'a [u8],
        EntryKind,
        Option<u64>,
        Option<&'a str>,
        Option<&'a [u8]>,
        Option<&'a str>,
    );

    fn check(line: &[u8], got: Option<ListingEntry>, want: Option<Want>, style: ListingStyle) {
        let show = String::from_utf8_lossy(line);
        let Some((name, kind, size, modified, target, perms)) = want else {
            assert_eq!(got, None, "{show}");
            return;
        };
        let got = got.unwrap_or_else(|| panic!("no entry for {show}"));
        assert_eq!(got.name, name, "name of {show}");
        assert_eq!(got.kind, kind, "kind of {show}");
        assert_eq!(got.size, size, "size of {show}");
        assert_eq!(got.modified.as_deref(), modified, "modified of {show}");
        assert_eq!(got.link_target.as_deref(), target, "target of {show}");
        assert_eq!(got.permissions.as_deref(), perms, "permissions of {show}");
        assert_eq!(got.style, style, "style of {show}");
    }

    #[test]
    fn unix_list_lines() {
        let cases: &[(&[u8], Option<Want>)] = &[
            // vsftpd (numeric owner/group)
            (
                b"drwxr-xr-x    2 0        0            4096 Mar 22 12:34 pub",
                Some((
                    b"pub",
                    Directory,
                    Some(4096),
                    Some("Mar 22 12:34"),
                    None,
                    Some("drwxr-xr-x"),
                )),
            ),
            (
                b"-rw-r--r--    1 1000     1000      1048576 Jan  2  2023 big.iso",
                Some((
                    b"big.iso",
                    File,
                    Some(1048576),
                    Some("Jan 2 2023"),
                    None,
                    Some("-rw-r--r--"),
                )),
            ),
            // proftpd
            (
                b"-rw-r--r--   1 ftp      ftp          1234 Mar 22 12:34 file with  spaces.txt",
                Some((
                    b"file with  spaces.txt",
                    File,
                    Some(1234),
                    Some("Mar 22 12:34"),
                    None,
                    Some("-rw-r--r--"),
                )),
            ),
            (
                b"lrwxrwxrwx   1 root     root            7 Mar 22 12:34 bin -> usr/bin",
                Some((
                    b"bin",
                    Symlink,
                    Some(7),
                    Some("Mar 22 12:34"),
                    Some(b"usr/bin"),
                    Some("lrwxrwxrwx"),
                )),
            ),
            // pure-ftpd
            (
                b"-rw-r--r--    1 1000       1000             1234 Dec 31 23:59 f.txt",
                Some((
                    b"f.txt",
                    File,
                    Some(1234),
                    Some("Dec 31 23:59"),
                    None,
                    Some("-rw-r--r--"),
                )),
            ),
            // FileZilla Server
            (
                b"-rw-r--r-- 1 ftp ftp            1234 Mar 22  2010 report.pdf",
                Some((
                    b"report.pdf",
                    File,
                    Some(1234),
                    Some("Mar 22 2010"),
                    None,
                    Some("-rw-r--r--"),
                )),
            ),
            // IIS in Unix mode
            (
                b"-r-xr-xr-x   1 owner    group          1234 Mar 22 12:34 default.htm",
                Some((
                    b"default.htm",
                    File,
                    Some(1234),
                    Some("Mar 22 12:34"),
                    None,
                    Some("-r-xr-xr-x"),
                )),
            ),
            // ACL, SELinux and macOS markers
            (
                b"drwxr-xr-x+  3 a b 4096 Mar 22 12:34 acl",
                Some((
                    b"acl",
                    Directory,
                    Some(4096),
                    Some("Mar 22 12:34"),
                    None,
                    Some("drwxr-xr-x+"),
                )),
            ),
            (
                b"-rw-r--r--. 1 a b 5 Mar 22 12:34 se",
                Some((
                    b"se",
                    File,
                    Some(5),
                    Some("Mar 22 12:34"),
                    None,
                    Some("-rw-r--r--."),
                )),
            ),
            (
                b"-rw-r--r--@ 1 a staff 5 Mar 22 12:34 mac",
                Some((
                    b"mac",
                    File,
                    Some(5),
                    Some("Mar 22 12:34"),
                    None,
                    Some("-rw-r--r--@"),
                )),
            ),
            // missing group column
            (
                b"-rw-r--r--   1 owner   1234 Mar 22 12:34 nogroup",
                Some((
                    b"nogroup",
                    File,
                    Some(1234),
                    Some("Mar 22 12:34"),
                    None,
                    Some("-rw-r--r--"),
                )),
            ),
            // device files: "major, minor" instead of a size
            (
                b"crw-rw-rw-   1 root     root       1,   3 Mar 22 12:34 null",
                Some((
                    b"null",
                    Other,
                    None,
                    Some("Mar 22 12:34"),
                    None,
                    Some("crw-rw-rw-"),
                )),
            ),
            (
                b"brw-rw----   1 root     disk       8,0 Mar 22 12:34 sda",
                Some((
                    b"sda",
                    Other,
                    None,
                    Some("Mar 22 12:34"),
                    None,
                    Some("brw-rw----"),
                )),
            ),
            // sticky/setuid bits, pipes, sockets
            (
                b"drwxrwxrwt   9 0 0 4096 Mar 22 12:34 tmp",
                Some((
                    b"tmp",
                    Directory,
                    Some(4096),
                    Some("Mar 22 12:34"),
                    None,
                    Some("drwxrwxrwt"),
                )),
            ),
            (
                b"-rwsr-xr-x   1 0 0 63736 Mar 22 12:34 passwd",
                Some((
                    b"passwd",
                    File,
                    Some(63736),
                    Some("Mar 22 12:34"),
                    None,
                    Some("-rwsr-xr-x"),
                )),
            ),
            (
                b"prw-r--r--   1 0 0 0 Mar 22 12:34 fifo",
                Some((
                    b"fifo",
                    Other,
                    Some(0),
                    Some("Mar 22 12:34"),
                    None,
                    Some("prw-r--r--"),
                )),
            ),
            // long-iso time style
            (
                b"-rw-r--r-- 1 a b 10 2024-03-22 12:34 iso.txt",
                Some((
                    b"iso.txt",
                    File,
                    Some(10),
                    Some("2024-03-22 12:34"),
                    None,
                    Some("-rw-r--r--"),
                )),
            ),
            // owner and group that look like dates do not fool the date search
            (
                b"-rw-r--r-- 1 mar 22 5 Mar 22 12:34 tricky",
                Some((
                    b"tricky",
                    File,
                    Some(5),
                    Some("Mar 22 12:34"),
                    None,
                    Some("-rw-r--r--"),
                )),
            ),
            // name containing what looks like a date, and a leading space kept
            (
                b"-rw-r--r-- 1 a b 5 Mar 22 12:34  Mar 22 12:34 x",
                Some((
                    b" Mar 22 12:34 x",
                    File,
                    Some(5),
                    Some("Mar 22 12:34"),
                    None,
                    Some("-rw-r--r--"),
                )),
            ),
            // non-UTF-8 name, tab separators
            (
                b"-rw-r--r--\t1\ta\tb\t5\tMar\t22\t12:34\tcaf\xe9",
                Some((
                    b"caf\xe9",
                    File,
                    Some(5),
                    Some("Mar 22 12:34"),
                    None,
                    Some("-rw-r--r--"),
                )),
            ),
            // trailing CR tolerated
            (
                b"-rw-r--r-- 1 a b 5 Mar 22 12:34 cr.txt\r",
                Some((
                    b"cr.txt",
                    File,
                    Some(5),
                    Some("Mar 22 12:34"),
                    None,
                    Some("-rw-r--r--"),
                )),
            ),
            // huge size: entry kept, size unknown
            (
                b"-rw-r--r-- 1 a b 99999999999999999999999999 Mar 22 12:34 huge",
                Some((
                    b"huge",
                    File,
                    None,
                    Some("Mar 22 12:34"),
                    None,
                    Some("-rw-r--r--"),
                )),
            ),
            // symlink without arrow, arrow in a file name
            (
                b"lrwxrwxrwx 1 a b 5 Mar 22 12:34 dangling",
                Some((
                    b"dangling",
                    Symlink,
                    Some(5),
                    Some("Mar 22 12:34"),
                    None,
                    Some("lrwxrwxrwx"),
                )),
            ),
            (
                b"-rw-r--r-- 1 a b 5 Mar 22 12:34 a -> b",
                Some((
                    b"a -> b",
                    File,
                    Some(5),
                    Some("Mar 22 12:34"),
                    None,
                    Some("-rw-r--r--"),
                )),
            ),
            (b"total 1234", None),
            (b"total 0", None),
            (b"", None),
            (b"      ", None),
            (b"\r", None),
            (b"-rw-r--r-- 1 a b 5 Mar 22 12:34", None),
            (b"-rw-r--r-- 1 a b 5 Mar 22 12:34 ", None),
            (b"-rw-r--r-- 1 a b 5 Mar 32 12:34 bad-day", None),
            (b"-rw-r--r-- 1 a b 5 Mar 22 24:00 bad-hour", None),
            (b"-rw-r--r-- 1 a b 5 Mar 22 12:60 bad-minute", None),
            (b"-rw-r--r-- 1 a b 5 Foo 22 12:34 bad-month", None),
            (b"-rw-r--r-- 1 a b five Mar 22 12:34 bad-size", None),
            (b"-rw-r--r-- Mar 22 12:34 no-size", None),
            (b"-rw-r--r--", None),
            (b"xrw-r--r-- 1 a b 5 Mar 22 12:34 bad-type", None),
            (b"-rw-r--r-Z 1 a b 5 Mar 22 12:34 bad-bits", None),
            (b"-rw-r--r--- 1 a b 5 Mar 22 12:34 too-long-mode", None),
            (b"hello world", None),
            (b"\xff\xfe\xfd", None),
        ];
        for (line, want) in cases {
            check(line, parse_list_line(line), *want, ListingStyle::Unix);
        }
    }

    #[test]
    fn dos_list_lines() {
        let cases: &[(&[u8], Option<Want>)] = &[
            (
                b"03-22-10  12:34PM       <DIR>          backup",
                Some((
                    b"backup",
                    Directory,
                    None,
                    Some("03-22-10 12:34PM"),
                    None,
                    None,
                )),
            ),
            (
                b"03-22-10  12:34PM                 1234 file.txt",
                Some((
                    b"file.txt",
                    File,
                    Some(1234),
                    Some("03-22-10 12:34PM"),
                    None,
                    None,
                )),
            ),
            (
                b"03-22-2010  09:05AM                 1234 name with spaces.txt",
                Some((
                    b"name with spaces.txt",
                    File,
                    Some(1234),
                    Some("03-22-2010 09:05AM"),
                    None,
                    None,
                )),
            ),
            (
                b"12-31-2023  23:59                    0 empty",
                Some((
                    b"empty",
                    File,
                    Some(0),
                    Some("12-31-2023 23:59"),
                    None,
                    None,
                )),
            ),
            (
                b"01/02/2024  10:00 PM    <DIR>          spaced ampm",
                Some((
                    b"spaced ampm",
                    Directory,
                    None,
                    Some("01/02/2024 10:00 PM"),
                    None,
                    None,
                )),
            ),
            (
                b"01-02-24  10:00am       1,234,567 commas.bin",
                Some((
                    b"commas.bin",
                    File,
                    Some(1234567),
                    Some("01-02-24 10:00am"),
                    None,
                    None,
                )),
            ),
            (
                b"01-02-24  10:00AM    <JUNCTION>     link",
                Some((b"link", Symlink, None, Some("01-02-24 10:00AM"), None, None)),
            ),
            (
                b"01-02-24  10:00AM    <WEIRD>     thing",
                Some((b"thing", Other, None, Some("01-02-24 10:00AM"), None, None)),
            ),
            (
                b"01-02-24  10:00AM    99999999999999999999999 huge",
                Some((b"huge", File, None, Some("01-02-24 10:00AM"), None, None)),
            ),
            (
                b"01-02-24  10:00AM    5 \xe9t\xe9.txt",
                Some((
                    b"\xe9t\xe9.txt",
                    File,
                    Some(5),
                    Some("01-02-24 10:00AM"),
                    None,
                    None,
                )),
            ),
            (b"13-22-10  12:34PM       <DIR>          badmonth", None),
            (b"03-32-10  12:34PM       <DIR>          badday", None),
            (b"03-22-100  12:34PM       <DIR>          badyear", None),
            (b"03-22-10  25:34PM       <DIR>          badhour", None),
            (b"03-22-10  12:34XM       <DIR>          badsuffix", None),
            (b"03-22-10  12:34PM       <DIR>", None),
            (b"03-22-10  12:34PM       <DIR>          ", None),
            (b"03-22-10  12:34PM       -5 negative", None),
            (b"03-22-10  12:34PM       ,5 comma", None),
            (b"03-22-10", None),
            (b"03.22.10  12:34PM  5 dots", None),
        ];
        for (line, want) in cases {
            check(line, parse_list_line(line), *want, ListingStyle::Dos);
        }
    }

    #[test]
    fn mlsd_lines() {
        let cases: &[(&[u8], Option<Want>)] = &[
            (
                b"type=file;size=1024;modify=20240101120000; name with spaces.txt",
                Some((
                    b"name with spaces.txt",
                    File,
                    Some(1024),
                    Some("2024-01-01T12:00:00Z"),
                    None,
                    None,
                )),
            ),
            // RFC 3659 §7.7.4 style, mixed-case facts
            (
                b"Type=cdir;Modify=19981107085215;Perm=el; /tmp",
                Some((
                    b"/tmp",
                    Directory,
                    None,
                    Some("1998-11-07T08:52:15Z"),
                    None,
                    Some("el"),
                )),
            ),
            (
                b"type=cdir;perm=el; .",
                Some((b".", Directory, None, None, None, Some("el"))),
            ),
            (
                b"type=pdir;perm=e; ..",
                Some((b"..", Directory, None, None, None, Some("e"))),
            ),
            (
                b"type=dir;sizd=4096;modify=20240101120000.5;perm=flcdmpe;UNIX.mode=0755; sub",
                Some((
                    b"sub",
                    Directory,
                    Some(4096),
                    Some("2024-01-01T12:00:00.5Z"),
                    None,
                    Some("flcdmpe"),
                )),
            ),
            (
                b"type=file;UNIX.mode=0644;unique=803U1; nomperm",
                Some((b"nomperm", File, None, None, None, Some("0644"))),
            ),
            (
                b"type=OS.unix=slink:/usr/bin;size=7; bin",
                Some((b"bin", Symlink, Some(7), None, Some(b"/usr/bin"), None)),
            ),
            (
                b"type=OS.unix=symlink; l",
                Some((b"l", Symlink, None, None, None, None)),
            ),
            (
                b"type=OS.unix=blkdev; sda",
                Some((b"sda", Other, None, None, None, None)),
            ),
            (
                b"size=5; notype",
                Some((b"notype", Unknown, Some(5), None, None, None)),
            ),
            (
                b" nofacts",
                Some((b"nofacts", Unknown, None, None, None, None)),
            ),
            // MLST form: one leading space
            (
                b" type=file;size=3; /pub/f",
                Some((b"/pub/f", File, Some(3), None, None, None)),
            ),
            (b"type=file;size=2;\r; x", None),
            (
                b"type=file;size=99999999999999999999999;modify=20241301000000; bad values",
                Some((b"bad values", File, None, None, None, None)),
            ),
            (
                b"type=file; \xff\xfe",
                Some((b"\xff\xfe", File, None, None, None, None)),
            ),
            (
                b"type=file;size=1;  two spaces",
                Some((b" two spaces", File, Some(1), None, None, None)),
            ),
            (b"type=file;size=1", None),
            (b"type=file;size=1 name", None),
            (b"type=file;size=1; ", None),
            (b"typefile; x", None),
            (b"=file; x", None),
            (b"hello world", None),
            (b"", None),
            (b"   ", None),
        ];
        for (line, want) in cases {
            check(line, parse_mlsd_line(line), *want, ListingStyle::Mlsd);
        }
    }

    #[test]
    fn nlst_lines() {
        let cases: &[(&[u8], Option<Want>)] = &[
            (
                b"file.txt",
                Some((b"file.txt", Unknown, None, None, None, None)),
            ),
            (
                b"dir/sub file",
                Some((b"dir/sub file", Unknown, None, None, None, None)),
            ),
            (b"name\r", Some((b"name", Unknown, None, None, None, None))),
            (
                b" leading",
                Some((b" leading", Unknown, None, None, None, None)),
            ),
            (
                b"\xff\xfe",
                Some((b"\xff\xfe", Unknown, None, None, None, None)),
            ),
            (b"", None),
            (b"  \t ", None),
            (b"\r", None),
        ];
        for (line, want) in cases {
            check(line, parse_nlst_line(line), *want, ListingStyle::Names);
        }
    }

    fn split(max: usize, chunks: &[&[u8]]) -> (Vec<Vec<u8>>, u64) {
        let mut lines = ListingLines::new(max);
        let mut got = Vec::new();
        for chunk in chunks {
            lines.push(chunk, &mut |l| got.push(l.to_vec()));
        }
        lines.finish(&mut |l| got.push(l.to_vec()));
        (got, lines.cut_lines())
    }

    #[test]
    fn listing_lines_table() {
        type Case<'a> = (usize, &'a [&'a [u8]], &'a [&'a [u8]], u64);
        let cases: &[Case] = &[
            (80, &[b"a\r\nb\nc\r\n"], &[b"a", b"b", b"c"], 0),
            (80, &[b"a\r", b"\nb", b"c\n"], &[b"a", b"bc"], 0),
            (80, &[b"no newline"], &[b"no newline"], 0),
            (80, &[b"cr at end\r"], &[b"cr at end"], 0),
            (80, &[b"\n\r\n"], &[b"", b""], 0),
            (80, &[b"in\rside\n"], &[b"in\rside"], 0),
            (80, &[], &[], 0),
            (80, &[b"", b""], &[], 0),
            // exactly max bytes, with CRLF split across chunks
            (4, &[b"abcd\r", b"\n"], &[b"abcd"], 0),
            (4, &[b"ab", b"cd\r\n"], &[b"abcd"], 0),
            (4, &[b"abcd\r\nefgh\n"], &[b"abcd", b"efgh"], 0),
            // over-long lines: cut, rest skipped, counted
            (4, &[b"abcde\nfg\n"], &[b"abcd", b"fg"], 1),
            (
                4,
                &[b"abcdefghij", b"klmno", b"pq\nok\n"],
                &[b"abcd", b"ok"],
                1,
            ),
            (4, &[b"ab", b"cdef", b"gh\r\nok"], &[b"abcd", b"ok"], 1),
            (4, &[b"abcd", b"\r", b"x\n"], &[b"abcd"], 1),
            (4, &[b"abcd\rx\n"], &[b"abcd"], 1),
            (4, &[b"abcde"], &[b"abcd"], 1),
            (4, &[b"abcd", b"e"], &[b"abcd"], 1),
            (4, &[b"abc", b"de"], &[b"abcd"], 1),
            (4, &[b"abcde\nabcdef\nxy"], &[b"abcd", b"abcd", b"xy"], 2),
            (0, &[b"a\n\nb"], &[b"", b"", b""], 2),
        ];
        for (max, chunks, want, cut) in cases {
            let (got, got_cut) = split(*max, chunks);
            let want: Vec<Vec<u8>> = want.iter().map(|l| l.to_vec()).collect();
            assert_eq!(got, want, "max {max} chunks {chunks:?}");
            assert_eq!(got_cut, *cut, "cut count, max {max} chunks {chunks:?}");
        }
    }

    #[test]
    fn listing_lines_byte_by_byte_matches_whole() {
        let data: &[u8] =
            b"-rw-r--r-- 1 a b 5 Mar 22 12:34 x\r\nway too long line here\nshort\r\n\nlast";
        let whole = split(16, &[data]);
        let pieces: Vec<&[u8]> = data.chunks(1).collect();
        assert_eq!(split(16, &pieces), whole);
        for size in 2..8 {
            let pieces: Vec<&[u8]> = data.chunks(size).collect();
            assert_eq!(split(16, &pieces), whole, "chunk size {size}");
        }
        assert_eq!(whole.1, 2);
    }

    #[test]
    fn listing_lines_memory_is_bounded() {
        let mut lines = ListingLines::new(64);
        let mut count = 0usize;
        let big = vec![b'x'; 1 << 20];
        for _ in 0..8 {
            lines.push(&big, &mut |l| {
                assert_eq!(l.len(), 64);
                count += 1;
            });
        }
        assert!(lines.buf.capacity() <= 256);
        lines.push(b"\nok\n", &mut |_| count += 1);
        assert_eq!((count, lines.cut_lines()), (2, 1));
    }

    #[test]
    fn hostile_lines_do_not_panic() {
        let mut inputs: Vec<Vec<u8>> = vec![
            b" ".repeat(100_000),
            b"-rw-r--r-- ".repeat(10_000),
            b"Mar 22 12:34 ".repeat(10_000),
            b";".repeat(100_000),
            b"=;".repeat(50_000),
            (0u8..=255).collect(),
        ];
        let mut long_name = b"-rw-r--r-- 1 a b 5 Mar 22 12:34 ".to_vec();
        long_name.extend(b"n".repeat(100_000));
        inputs.push(long_name);
        for input in &inputs {
            let _ = parse_list_line(input);
            let _ = parse_mlsd_line(input);
            let _ = parse_nlst_line(input);
        }
        let entry = parse_list_line(inputs.last().unwrap()).unwrap();
        assert_eq!(entry.name.len(), 100_000);
    }

    #[test]
    fn pseudo_random_inputs_never_panic() {
        let alphabet = b"-drwxl 0123456789:,Mar<DIR>PM=;type=file\r\n";
        for input in crate::testing::pseudo_random_inputs(alphabet, 20_000) {
            let _ = parse_list_line(&input);
            let _ = parse_mlsd_line(&input);
            let _ = parse_nlst_line(&input);
            let (got, _) = split(8, &[&input]);
            assert!(got.iter().all(|l| l.len() <= 8));
        }
    }
}
