//! Facts carried in the free text of FTP replies.
//!
//! - Expected transfer sizes: `150 ... (N bytes)` (a widespread convention, not an RFC) and
//!   the `213 N` reply to `SIZE` (RFC 3659 §4).
//! - Directory names: the `257 "PATHNAME"` reply to `MKD`/`PWD` (RFC 959 §4.2 and Appendix II,
//!   where a doubled quote inside the name stands for one quote), and the same quoting in the
//!   `250` reply some servers (proftpd) send for `CWD`.
//! - The file name chosen by the server for `STOU` (RFC 1123 §4.1.2.9: `150 FILE: pppp`).
//! - The `213 YYYYMMDDHHMMSS[.sss]` reply to `MDTM` (RFC 3659 §2.3 `time-val`, §3).
//!
//! Inputs are the reply text after the code and its separator, as raw bytes. Every function
//! returns `None` rather than guessing; numbers use checked arithmetic, so a 40-digit size is
//! `None`, never a wrapped value. Nothing here panics or allocates beyond its result.

/// Longest fraction of a second accepted in a `time-val` (nanoseconds).
const MAX_FRACTION_DIGITS: usize = 9;

/// `150 Opening BINARY mode data connection for f (1234 bytes).` → `Some(1234)`.
///
/// Looks for `(N bytes)` (also `(N byte)`), case-insensitively, blanks tolerated inside the
/// parentheses. Other parenthesised text (an address, a file name) is skipped.
pub fn size_from_150(text: &[u8]) -> Option<u64> {
    let mut rest = text;
    while let Some(open) = memchr::memchr(b'(', rest) {
        rest = rest.get(open + 1..)?;
        if let Some(size) = size_in_parens(rest) {
            return Some(size);
        }
    }
    None
}

/// `213 1234` (text `1234`) → `Some(1234)`: the whole text, blanks around, must be digits.
pub fn size_from_213(text: &[u8]) -> Option<u64> {
    parse_u64(text.trim_ascii())
}

/// `257 "/usr/dm" created.` → `Some(b"/usr/dm")` (RFC 959 Appendix II): the first quoted
/// string, with `""` inside meaning one `"`. When the text holds no quote at all and its first
/// word starts with `/` (some embedded servers), that word is returned. An empty or
/// unterminated quoted name is `None`.
pub fn path_from_257(text: &[u8]) -> Option<Vec<u8>> {
    if memchr::memchr(b'"', text).is_none() {
        let word = text
            .trim_ascii_start()
            .split(|b| b.is_ascii_whitespace())
            .next()?;
        return word.starts_with(b"/").then(|| word.to_vec());
    }
    quoted_path(text)
}

/// `250 CWD command successful. "/pub" is current directory.` → `Some(b"/pub")`, with the
/// RFC 959 Appendix II quoting rule; `None` when the text holds no quoted path.
pub fn path_from_250(text: &[u8]) -> Option<Vec<u8>> {
    quoted_path(text)
}

/// The name the server chose for `STOU`, when the reply states it clearly:
/// `FILE: name` (RFC 1123 §4.1.2.9; proftpd, pure-ftpd) anywhere in the text, or
/// `(unique file name: name)`. Surrounding quotes are removed. `150 Ok to send data.` → `None`.
pub fn stou_name(text: &[u8]) -> Option<Vec<u8>> {
    if let Some(at) = find_marker(text, b"file:") {
        let after = text.get(at + b"file:".len()..)?;
        let in_parens = at
            .checked_sub(1)
            .and_then(|p| text.get(p))
            .is_some_and(|&b| b == b'(');
        let name = if in_parens {
            after.split(|&b| b == b')').next()?
        } else {
            after
        };
        return clean_name(name);
    }
    let at = find_ci(text, b"unique file name")?;
    let after = text
        .get(at + b"unique file name".len()..)?
        .trim_ascii_start();
    let after = after.strip_prefix(b":").unwrap_or(after);
    let name = after.split(|&b| b == b')').next()?;
    clean_name(name)
}

/// MDTM `213 YYYYMMDDHHMMSS[.sss]` → `"YYYY-MM-DDTHH:MM:SS[.sss]Z"` (RFC 3659 §2.3: UTC,
/// Gregorian calendar). The date and time must be valid (leap years checked, second 60
/// accepted for a leap second); the fraction (1 to 9 digits) is kept as sent.
pub fn time_from_213(text: &[u8]) -> Option<String> {
    let text = text.trim_ascii();
    let (main, fraction) = match memchr::memchr(b'.', text) {
        Some(dot) => (text.get(..dot)?, Some(text.get(dot + 1..)?)),
        None => (text, None),
    };
    let digits: &[u8; 14] = main.try_into().ok()?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if let Some(f) = fraction
        && (f.is_empty() || f.len() > MAX_FRACTION_DIGITS || !f.iter().all(u8::is_ascii_digit))
    {
        return None;
    }
    let [y1, y2, y3, y4, mo1, mo2, d1, d2, h1, h2, mi1, mi2, s1, s2] = digits.map(|d| d - b'0');
    let year = u32::from(y1) * 1000 + u32::from(y2) * 100 + u32::from(y3) * 10 + u32::from(y4);
    let month = mo1 * 10 + mo2;
    let day = d1 * 10 + d2;
    let (hour, minute, second) = (h1 * 10 + h2, mi1 * 10 + mi2, s1 * 10 + s2);
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut out = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
    if let Some(f) = fraction {
        out.push('.');
        // Digits only, checked above.
        out.extend(f.iter().map(|&b| char::from(b)));
    }
    out.push('Z');
    Some(out)
}

fn days_in_month(year: u32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

/// After a `(`: blanks, digits, blanks, `byte`/`bytes`, blanks, `)`.
fn size_in_parens(after_open: &[u8]) -> Option<u64> {
    let s = after_open.trim_ascii_start();
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    let value = parse_u64(s.get(..digits)?)?;
    let s = s.get(digits..)?.trim_ascii_start();
    let word = s.get(..4)?;
    if !word.eq_ignore_ascii_case(b"byte") {
        return None;
    }
    let s = s.get(4..)?;
    let s = match s.first() {
        Some(b's' | b'S') => s.get(1..)?,
        _ => s,
    };
    (s.trim_ascii_start().first() == Some(&b')')).then_some(value)
}

/// The first `"..."` in `text`, `""` inside standing for `"`. `None` if unterminated or empty.
fn quoted_path(text: &[u8]) -> Option<Vec<u8>> {
    let start = memchr::memchr(b'"', text)?;
    let mut bytes = text.get(start + 1..)?.iter().peekable();
    let mut out = Vec::new();
    loop {
        match bytes.next()? {
            b'"' if bytes.peek() == Some(&&b'"') => {
                bytes.next();
                out.push(b'"');
            }
            b'"' => break,
            &b => out.push(b),
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Position of `marker` (case-insensitive) at the start of `text` or after a blank or `(`.
fn find_marker(text: &[u8], marker: &[u8]) -> Option<usize> {
    let mut from = 0usize;
    while let Some(rel) = find_ci(text.get(from..)?, marker) {
        let at = from + rel;
        let before = at.checked_sub(1).and_then(|p| text.get(p));
        if before.is_none_or(|&b| b.is_ascii_whitespace() || b == b'(') {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Trims blanks, removes one pair of surrounding double quotes; `None` when nothing is left.
fn clean_name(name: &[u8]) -> Option<Vec<u8>> {
    let name = name.trim_ascii();
    let name = name
        .strip_prefix(b"\"")
        .and_then(|n| n.strip_suffix(b"\""))
        .unwrap_or(name);
    (!name.is_empty()).then(|| name.to_vec())
}

/// Case-insensitive (ASCII) search for `needle` in `hay`.
pub(crate) fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// Decimal digits only, non-empty, no overflow.
pub(crate) fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &d| {
        if !d.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    #[test]
    fn size_from_150_table() {
        let cases: &[(&[u8], Option<u64>)] = &[
            (
                b"Opening BINARY mode data connection for f (1234 bytes).",
                Some(1234),
            ),
            (
                b"Opening BINARY mode data connection for f (1234 bytes)",
                Some(1234),
            ),
            (
                b"Opening ASCII mode data connection for /bin/ls (0 bytes).",
                Some(0),
            ),
            (b"Opening data connection for x (1 byte)", Some(1)),
            (b"Opening data connection for x (  42   BYTES  )", Some(42)),
            (b"Opening data connection for x (42Bytes)", Some(42)),
            (
                b"Opening BINARY mode data connection for a (b).txt (77 bytes).",
                Some(77),
            ),
            (
                b"Opening data connection (10,0,0,1,4,1) for x (18446744073709551615 bytes)",
                Some(u64::MAX),
            ),
            (
                b"Opening data connection for x (18446744073709551616 bytes)",
                None,
            ),
            (
                b"Opening data connection for x (1234567890123456789012345678901234567890 bytes)",
                None,
            ),
            (b"Ok to send data.", None),
            (b"Here comes the directory listing.", None),
            (b"Opening BINARY mode data connection for f (1234)", None),
            (
                b"Opening BINARY mode data connection for f (1234 bytes",
                None,
            ),
            (
                b"Opening BINARY mode data connection for f (1234 kbytes)",
                None,
            ),
            (
                b"Opening BINARY mode data connection for f (-1 bytes)",
                None,
            ),
            (b"Opening BINARY mode data connection for f ( bytes)", None),
            (
                b"Opening BINARY mode data connection for f (12 34 bytes)",
                None,
            ),
            (b"(1234 bytes)", Some(1234)),
            (b"((((", None),
            (b"", None),
            (b"\xff\xfe (5 bytes)", Some(5)),
        ];
        for (input, want) in cases {
            assert_eq!(size_from_150(input), *want, "{}", show(input));
        }
    }

    #[test]
    fn size_from_213_table() {
        let cases: &[(&[u8], Option<u64>)] = &[
            (b"1234", Some(1234)),
            (b"0", Some(0)),
            (b"  1234 \r\n", Some(1234)),
            (b"18446744073709551615", Some(u64::MAX)),
            (b"18446744073709551616", None),
            (b"1234567890123456789012345678901234567890", None),
            (b"", None),
            (b"   ", None),
            (b"-1", None),
            (b"+1", None),
            (b"12 34", None),
            (b"1234 bytes", None),
            (b"0x10", None),
            (b"File not found", None),
            (b"\xff1", None),
        ];
        for (input, want) in cases {
            assert_eq!(size_from_213(input), *want, "{}", show(input));
        }
    }

    #[test]
    fn path_from_257_table() {
        let cases: &[(&[u8], Option<&[u8]>)] = &[
            // RFC 959 Appendix II examples.
            (b"\"/usr/dm\" created.", Some(b"/usr/dm")),
            (b"\"/usr/dm/pathname\" created.", Some(b"/usr/dm/pathname")),
            (
                b"\"/usr/dm/\"\"quote\"\"\" created.",
                Some(b"/usr/dm/\"quote\""),
            ),
            (b"\"/\" is the current directory", Some(b"/")),
            (b"\"/home/ftp\" is current directory.", Some(b"/home/ftp")),
            (b"\"/with space/dir\" created", Some(b"/with space/dir")),
            (b"\"\"\"\"", Some(b"\"")),
            (b"\"/caf\xe9\" created", Some(b"/caf\xe9")),
            (b"MKD command successful: \"/x\"", Some(b"/x")),
            (b"/home/user is current directory", Some(b"/home/user")),
            (b"/", Some(b"/")),
            (b"\"\" is current directory", None),
            (b"\"/unterminated created", None),
            (b"\"", None),
            (b"current directory unknown", None),
            (b"", None),
            (b"   ", None),
        ];
        for (input, want) in cases {
            assert_eq!(path_from_257(input).as_deref(), *want, "{}", show(input));
        }
    }

    #[test]
    fn path_from_250_table() {
        let cases: &[(&[u8], Option<&[u8]>)] = &[
            (
                b"CWD command successful. \"/pub\" is current directory.",
                Some(b"/pub"),
            ),
            (b"\"/a \"\"b\"\"\" is current directory.", Some(b"/a \"b\"")),
            (b"CWD command successful", None),
            (b"Directory successfully changed.", None),
            (b"/pub", None),
            (b"\"/pub", None),
            (b"", None),
        ];
        for (input, want) in cases {
            assert_eq!(path_from_250(input).as_deref(), *want, "{}", show(input));
        }
    }

    #[test]
    fn stou_name_table() {
        let cases: &[(&[u8], Option<&[u8]>)] = &[
            (b"FILE: pppp", Some(b"pppp")),
            (b"FILE: /home/ftp/ftp.AbC123", Some(b"/home/ftp/ftp.AbC123")),
            (b"file:name.1", Some(b"name.1")),
            (b"FILE: \"with space\"", Some(b"with space")),
            (b"FILE: with space  \r\n", Some(b"with space")),
            (b"Opening data connection (FILE: x.1)", Some(b"x.1")),
            (b"Transfer complete (unique file name:x)", Some(b"x")),
            (b"Transfer complete (unique file name: x.2).", Some(b"x.2")),
            (b"Transfer complete (Unique File Name : y)", Some(b"y")),
            (b"FILE: \xff\xfe", Some(b"\xff\xfe")),
            (b"Ok to send data.", None),
            (b"Opening BINARY mode data connection for foo", None),
            (b"PROFILE: x", None),
            (b"FILE:", None),
            (b"FILE:    ", None),
            (b"FILE: \"\"", None),
            (b"Transfer complete (unique file name)", None),
            (b"", None),
        ];
        for (input, want) in cases {
            assert_eq!(stou_name(input).as_deref(), *want, "{}", show(input));
        }
    }

    #[test]
    fn time_from_213_table() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (b"20240101120000", Some("2024-01-01T12:00:00Z")),
            (b"19980630235960", Some("1998-06-30T23:59:60Z")),
            (b"20240229000000", Some("2024-02-29T00:00:00Z")),
            (b"20000229000000", Some("2000-02-29T00:00:00Z")),
            (b"20240101120000.123", Some("2024-01-01T12:00:00.123Z")),
            (b"20240101120000.5", Some("2024-01-01T12:00:00.5Z")),
            (
                b"20240101120000.123456789",
                Some("2024-01-01T12:00:00.123456789Z"),
            ),
            (b" 20241231235959 \r\n", Some("2024-12-31T23:59:59Z")),
            (b"19700101000000", Some("1970-01-01T00:00:00Z")),
            (b"20230229000000", None),
            (b"19000229000000", None),
            (b"20240431000000", None),
            (b"20241301000000", None),
            (b"20240001000000", None),
            (b"20240100000000", None),
            (b"20240101240000", None),
            (b"20240101126000", None),
            (b"20240101120061", None),
            (b"191240101120000", None), // the Y2K "19" + "124" bug
            (b"2024010112000", None),
            (b"20240101120000.", None),
            (b"20240101120000.1234567890", None),
            (b"20240101120000.12a", None),
            (b"20240101120000.1.2", None),
            (b"2024-01-01 12:00", None),
            (b"2024010112000x", None),
            (b"", None),
            (b"Could not get file modification time.", None),
        ];
        for (input, want) in cases {
            assert_eq!(time_from_213(input).as_deref(), *want, "{}", show(input));
        }
    }

    #[test]
    fn long_inputs_do_not_panic() {
        let nines = b"9".repeat(100_000);
        assert_eq!(size_from_213(&nines), None);
        assert_eq!(time_from_213(&nines), None);
        let parens = b"(9".repeat(50_000);
        assert_eq!(size_from_150(&parens), None);
        // An opening quote, 49_999 doubled quotes, and the closing one.
        let quotes = b"\"\"".repeat(50_000);
        assert_eq!(path_from_257(&quotes).map(|p| p.len()), Some(49_999));
        assert!(path_from_257(&quotes).unwrap().iter().all(|&b| b == b'"'));
        let mut name = b"FILE: ".to_vec();
        name.extend(b"x".repeat(100_000));
        assert_eq!(stou_name(&name).map(|n| n.len()), Some(100_000));
    }

    #[test]
    fn pseudo_random_inputs_never_panic() {
        for input in crate::testing::pseudo_random_inputs(b"0123456789 ()\"bytesFILE:.", 20_000) {
            let _ = size_from_150(&input);
            let _ = size_from_213(&input);
            let _ = path_from_257(&input);
            let _ = path_from_250(&input);
            let _ = stou_name(&input);
            let _ = time_from_213(&input);
        }
    }
}
