//! Server replies (RFC 959 §4.2): `NNN text` or a multi-line `NNN-` ... `NNN text`.
//!
//! Inside a multi-line reply, lines may start with anything, digits included; only a line that
//! starts with the opening code followed by a space (or the bare code) closes it. Codes outside
//! 100-699 are malformed (RFC 959 §4.2.1 defines first digits 1-5; RFC 2228 §4 adds 6yz for
//! protected replies).

use crate::event::Reply;
use crate::frame::Timestamp;

#[derive(Debug, PartialEq, Eq)]
pub enum ReplyStep {
    /// A whole reply.
    Complete(Reply),
    /// Inside a multi-line reply.
    Continues,
    /// A line that is not a reply; ignored.
    Malformed,
}

#[derive(Debug)]
struct Open {
    code: u16,
    ts: Timestamp,
    text: Vec<u8>,
    lines: usize,
    dropped: u64,
}

#[derive(Debug, Default)]
pub struct ReplyAssembler {
    open: Option<Open>,
}

/// The code at the start of a line, when it is a valid reply code, and the separator after it.
pub fn reply_code(line: &[u8]) -> Option<(u16, Option<u8>)> {
    let digits = line.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = digits
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    if !(100..700).contains(&code) {
        return None;
    }
    let sep = line.get(3).copied();
    match sep {
        None | Some(b' ') | Some(b'-') => Some((code, sep)),
        _ => None,
    }
}

impl ReplyAssembler {
    pub fn push_line(&mut self, ts: Timestamp, line: &[u8], max_lines: usize) -> ReplyStep {
        if let Some(open) = self.open.as_mut() {
            let closes = matches!(reply_code(line), Some((code, sep)) if code == open.code && sep != Some(b'-'));
            if closes {
                let text = line.get(4..).unwrap_or(&[]);
                open.text.push(b'\n');
                open.text.extend_from_slice(text);
                let Some(done) = self.open.take() else {
                    return ReplyStep::Continues;
                };
                return ReplyStep::Complete(Reply {
                    ts: done.ts,
                    code: done.code,
                    text: done.text,
                    lines_dropped: done.dropped,
                });
            }
            if open.lines < max_lines {
                open.text.push(b'\n');
                open.text.extend_from_slice(line);
                open.lines += 1;
            } else {
                open.dropped += 1;
            }
            return ReplyStep::Continues;
        }
        match reply_code(line) {
            Some((code, Some(b'-'))) => {
                let text = line.get(4..).unwrap_or(&[]).to_vec();
                self.open = Some(Open {
                    code,
                    ts,
                    text,
                    lines: 1,
                    dropped: 0,
                });
                ReplyStep::Continues
            }
            Some((code, _)) => ReplyStep::Complete(Reply {
                ts,
                code,
                text: line.get(4..).unwrap_or(&[]).to_vec(),
                lines_dropped: 0,
            }),
            None => ReplyStep::Malformed,
        }
    }

    /// The stream ended inside a multi-line reply: return what there is.
    pub fn finish(&mut self) -> Option<Reply> {
        self.open.take().map(|o| Reply {
            ts: o.ts,
            code: o.code,
            text: o.text,
            lines_dropped: o.dropped,
        })
    }

    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// After a gap, a half-read multi-line reply cannot be trusted: close it as it is.
    pub fn gap(&mut self) -> Option<Reply> {
        self.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(lines: &[&str]) -> Vec<Result<(u16, String), ()>> {
        let mut a = ReplyAssembler::default();
        let mut out = Vec::new();
        for l in lines {
            match a.push_line(Timestamp::from_nanos(0), l.as_bytes(), 3) {
                ReplyStep::Complete(r) => {
                    out.push(Ok((r.code, String::from_utf8(r.text).unwrap())))
                }
                ReplyStep::Malformed => out.push(Err(())),
                ReplyStep::Continues => {}
            }
        }
        out
    }

    #[test]
    fn table() {
        assert_eq!(feed(&["220 ready"]), vec![Ok((220, "ready".into()))]);
        assert_eq!(feed(&["220"]), vec![Ok((220, "".into()))]);
        assert_eq!(
            feed(&["211-Features:", " MDTM", "211 End"]),
            vec![Ok((211, "Features:\n MDTM\nEnd".into()))]
        );
        // Inner lines that start with digits, even another code, do not close it.
        assert_eq!(
            feed(&["230-Welcome", "230-second", "123 not a close", "230 done"]),
            vec![Ok((
                230,
                "Welcome\n230-second\n123 not a close\ndone".into()
            ))]
        );
        assert_eq!(feed(&["hello"]), vec![Err(())]);
        assert_eq!(feed(&["999 nope"]), vec![Err(())]);
        assert_eq!(
            feed(&["631 protected"]),
            vec![Ok((631, "protected".into()))]
        );
        assert_eq!(feed(&["099 nope"]), vec![Err(())]);
        assert_eq!(feed(&["22x"]), vec![Err(())]);
        assert_eq!(feed(&["220x"]), vec![Err(())]);
    }

    #[test]
    fn too_many_lines_are_counted_not_kept() {
        let mut a = ReplyAssembler::default();
        for l in ["214-help", "a", "b", "c", "d", "e"] {
            assert_eq!(
                a.push_line(Timestamp::from_nanos(0), l.as_bytes(), 3),
                ReplyStep::Continues
            );
        }
        let ReplyStep::Complete(r) = a.push_line(Timestamp::from_nanos(0), b"214 end", 3) else {
            panic!()
        };
        assert_eq!(r.lines_dropped, 3);
        assert_eq!(r.text, b"help\na\nb\nend");
    }
}
