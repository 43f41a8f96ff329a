//! Showing wire bytes safely: escaped for terminals, lossless in JSON, and timestamps in
//! RFC 3339.
//!
//! Nothing from the wire reaches a terminal raw: control characters (C0, DEL, C1), and
//! Unicode bidirectional overrides are written as escapes, so a user name like
//! `\x1b]0;owned\x07` cannot retitle the terminal or clear the screen.

use ftpscope_core::Timestamp;
use std::fmt::Write as _;

/// Bytes as text safe for a terminal: printable UTF-8 kept, everything else escaped as `\xNN`
/// or `\u{NNNN}`, backslash doubled.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                '\n' => out.push_str("\\n"),
                c if c.is_control() || is_bidi_control(c) => {
                    let code = c as u32;
                    if code < 0x100 {
                        let _ = write!(out, "\\x{code:02x}");
                    } else {
                        let _ = write!(out, "\\u{{{code:04x}}}");
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// Bidirectional formatting characters can make a name read differently from what it is.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Bytes for a JSON string: the text itself when it is UTF-8 (JSON escapes control characters),
/// else a lossy version; callers add a `_hex` field for the exact bytes.
pub fn json_text(bytes: &[u8]) -> (String, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_owned(), None),
        Err(_) => (
            String::from_utf8_lossy(bytes).into_owned(),
            Some(hex(bytes)),
        ),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        // `write!("{b:02x}")` per byte cost about 250 instructions: a digest is 64 of them.
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// RFC 3339 UTC time with microseconds, e.g. `2010-03-22T12:34:56.123456Z`.
pub fn rfc3339(ts: Timestamp) -> String {
    let mut out = Vec::with_capacity(27);
    rfc3339_into(&mut out, ts);
    // Only ASCII digits and punctuation were written.
    String::from_utf8(out).unwrap_or_default()
}

/// [`rfc3339`] appended to `out` (JSON Lines write two or three per record: no allocation).
pub fn rfc3339_into(out: &mut Vec<u8>, ts: Timestamp) {
    let nanos = ts.as_nanos();
    let secs = nanos.div_euclid(1_000_000_000);
    // 0 <= micros < 10^6.
    let micros = u32::try_from(nanos.rem_euclid(1_000_000_000) / 1000).unwrap_or(0);
    let Some(second) = second_text(secs) else {
        return rfc3339_general(out, secs, micros);
    };
    let mut text = [0u8; 27];
    let (head, tail) = text.split_at_mut(19);
    head.copy_from_slice(&second);
    tail[0] = b'.';
    digits_into(&mut tail[1..7], micros);
    tail[7] = b'Z';
    out.extend_from_slice(&text);
}

thread_local! {
    /// The last second [`second_text`] wrote, and its text: records come in packet time, so
    /// most timestamps fall in the same second as the one before, and the calendar is not
    /// worked out again (it was the most of a timestamp's cost).
    static LAST_SECOND: std::cell::Cell<(i64, [u8; 19])> =
        const { std::cell::Cell::new((i64::MIN, [0; 19])) };
}

/// `YYYY-MM-DDTHH:MM:SS` of a second since the epoch, for the years 0 to 9999.
fn second_text(secs: i64) -> Option<[u8; 19]> {
    if let Some(text) =
        LAST_SECOND.with(|last| Some(last.get()).filter(|(s, _)| *s == secs).map(|(_, t)| t))
    {
        return Some(text);
    }
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let year @ 0..=9999 = u32::try_from(y).ok()? else {
        return None;
    };
    // 0 <= rem < 86 400.
    let rem = u32::try_from(secs.rem_euclid(86_400)).unwrap_or(0);
    let mut text = *b"0000-00-00T00:00:00";
    for (at, width, n) in [
        (0, 4, year),
        (5, 2, m),
        (8, 2, d),
        (11, 2, rem / 3600),
        (14, 2, rem % 3600 / 60),
        (17, 2, rem % 60),
    ] {
        digits_into(&mut text[at..at + width], n);
    }
    LAST_SECOND.with(|last| last.set((secs, text)));
    Some(text)
}

/// Years outside 0-9999 (nanosecond timestamps span 1677-2262: only a damaged clock), written
/// with `Display`.
fn rfc3339_general(out: &mut Vec<u8>, secs: i64, micros: u32) {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    let _ = std::io::Write::write_fmt(
        out,
        format_args!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        ),
    );
}

/// `n` as exactly `slot.len()` decimal digits (n < 10^len).
fn digits_into(slot: &mut [u8], mut n: u32) {
    for digit in slot.iter_mut().rev() {
        *digit = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A byte count for people: `1.2 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS.get(unit).unwrap_or(&"B"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_would_act_on_a_terminal() {
        assert_eq!(escape(b"\x1b]0;x\x07"), "\\x1b]0;x\\x07");
        assert_eq!(escape(b"\x1b[2J"), "\\x1b[2J");
        assert_eq!(escape("caf\u{e9}".as_bytes()), "caf\u{e9}");
        assert_eq!(escape(b"a\xffb"), "a\\xffb");
        assert_eq!(escape("x\u{202e}y".as_bytes()), "x\\u{202e}y");
        // The Arabic Letter Mark reorders text as the other bidi marks do.
        assert_eq!(escape("x\u{61c}y".as_bytes()), "x\\u{061c}y");
        assert_eq!(escape("\u{9b}".as_bytes()), "\\x9b");
        assert_eq!(escape(b"..\\x"), "..\\\\x");
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            rfc3339(Timestamp::from_nanos(0)),
            "1970-01-01T00:00:00.000000Z"
        );
        assert_eq!(
            rfc3339(Timestamp::from_nanos(1_269_261_296_123_456_789)),
            "2010-03-22T12:34:56.123456Z"
        );
        assert_eq!(
            rfc3339(Timestamp::from_nanos(951_782_400_000_000_000)),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(
            rfc3339(Timestamp::from_nanos(-1_000_000_000)),
            "1969-12-31T23:59:59.000000Z"
        );
    }

    /// The digits written by hand are what `format!` wrote before, over the whole i64 range.
    #[test]
    fn timestamps_as_format_wrote_them() {
        let by_format = |ts: i64| {
            let secs = ts.div_euclid(1_000_000_000);
            let nanos = ts.rem_euclid(1_000_000_000);
            let rem = secs.rem_euclid(86_400);
            let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
            format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
                rem / 3600,
                rem % 3600 / 60,
                rem % 60,
                nanos / 1000
            )
        };
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut cases = vec![i64::MIN, i64::MAX, -1, 0, 1, 999, 1_000, 86_399_999_999_999];
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push(x as i64);
            let recent = (x % 4_000_000_000_000_000_000) as i64;
            // The same second again (the cached text), then the next one.
            cases.extend([recent, recent + 1, recent + 1_000_000_000]);
        }
        for ts in cases {
            assert_eq!(rfc3339(Timestamp::from_nanos(ts)), by_format(ts), "{ts}");
        }
    }

    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let by_format: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&all), by_format);
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn json_text_keeps_exact_bytes() {
        assert_eq!(json_text(b"ok"), ("ok".into(), None));
        assert_eq!(
            json_text(b"a\xff"),
            ("a\u{fffd}".into(), Some("61ff".into()))
        );
    }
}
