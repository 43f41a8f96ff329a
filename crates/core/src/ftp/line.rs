//! Control-connection line framing (RFC 959 §4.1.3 and §4.2: Telnet lines ending in CRLF).
//!
//! Real peers also end lines with a bare LF, send Telnet IAC sequences (IAC IP, IAC DM before
//! ABOR, option negotiation) and sometimes NUL bytes. The framer strips IAC sequences (IAC IAC
//! is a literal 0xFF), ends a line at LF (dropping a CR before it), and cuts lines longer than
//! the limit: the part kept is returned marked `cut`, the rest of that line is skipped. After a
//! gap in the stream the partial line is dropped; the first line after it is returned marked
//! `after_gap`, since only its content can tell whether the gap ended on a line boundary.

const IAC: u8 = 0xFF;
const SB: u8 = 250;
const SE: u8 = 240;
const WILL: u8 = 251;
const DONT: u8 = 254;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramedLine {
    /// The line without its CRLF/LF and with Telnet sequences removed.
    pub bytes: Vec<u8>,
    /// The line was longer than the limit; `bytes` holds its start.
    pub cut: bool,
    /// The first line after a gap: it may be the tail of a line whose start was lost.
    pub after_gap: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Telnet {
    Data,
    /// After IAC.
    Command,
    /// After IAC WILL/WONT/DO/DONT: one option byte follows.
    Option,
    /// Inside IAC SB ... IAC SE.
    Sub,
    SubIac,
}

#[derive(Debug)]
pub struct LineFramer {
    buf: Vec<u8>,
    max_line: usize,
    /// Skipping the rest of a cut line.
    skipping: bool,
    /// A gap came since the last line ended.
    after_gap: bool,
    telnet: Telnet,
}

impl LineFramer {
    pub fn new(max_line: usize) -> Self {
        LineFramer {
            buf: Vec::new(),
            max_line,
            skipping: false,
            after_gap: false,
            telnet: Telnet::Data,
        }
    }

    /// Feeds bytes; complete lines are appended to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<FramedLine>) {
        while !data.is_empty() {
            if self.telnet == Telnet::Data {
                // Fast path: copy up to the next LF or IAC in one go.
                let stop = memchr::memchr2(b'\n', IAC, data).unwrap_or(data.len());
                let (head, rest) = data.split_at(stop);
                self.take_bytes(head, out);
                match rest.first() {
                    Some(b'\n') => self.end_line(out),
                    Some(_) => self.telnet = Telnet::Command,
                    None => {}
                }
                data = rest.get(1..).unwrap_or(&[]);
                continue;
            }
            let Some((&byte, rest)) = data.split_first() else {
                break;
            };
            data = rest;
            self.telnet = match (self.telnet, byte) {
                // IAC IAC is a data byte 0xFF.
                (Telnet::Command, IAC) => {
                    self.take_bytes(&[IAC], out);
                    Telnet::Data
                }
                (Telnet::Command, WILL..=DONT) => Telnet::Option,
                (Telnet::Command, SB) => Telnet::Sub,
                // IAC IP, IAC DM, IAC NOP ...: two-byte commands, dropped.
                (Telnet::Command, _) => Telnet::Data,
                (Telnet::Option, _) => Telnet::Data,
                (Telnet::Sub, IAC) => Telnet::SubIac,
                (Telnet::Sub, _) => Telnet::Sub,
                (Telnet::SubIac, SE) => Telnet::Data,
                (Telnet::SubIac, _) => Telnet::Sub,
                (Telnet::Data, _) => Telnet::Data,
            };
        }
    }

    fn take_bytes(&mut self, bytes: &[u8], out: &mut Vec<FramedLine>) {
        if self.skipping || bytes.is_empty() {
            return;
        }
        let room = self.max_line.saturating_sub(self.buf.len());
        if bytes.len() > room {
            self.buf.extend_from_slice(bytes.get(..room).unwrap_or(&[]));
            let line = std::mem::take(&mut self.buf);
            out.push(FramedLine {
                bytes: line,
                cut: true,
                after_gap: std::mem::take(&mut self.after_gap),
            });
            self.skipping = true;
        } else {
            self.buf.extend_from_slice(bytes);
        }
    }

    fn end_line(&mut self, out: &mut Vec<FramedLine>) {
        if self.skipping {
            self.skipping = false;
            self.buf.clear();
            return;
        }
        let mut line = std::mem::take(&mut self.buf);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        out.push(FramedLine {
            bytes: line,
            cut: false,
            after_gap: std::mem::take(&mut self.after_gap),
        });
    }

    /// Bytes were lost: drop the partial line; the next line is marked `after_gap`.
    pub fn gap(&mut self) {
        self.buf.clear();
        self.skipping = false;
        self.after_gap = true;
        self.telnet = Telnet::Data;
    }

    /// The stream ended: a last line without its LF is still a line.
    pub fn finish(&mut self, out: &mut Vec<FramedLine>) {
        if !self.skipping && !self.buf.is_empty() {
            self.end_line(out);
        }
        self.buf.clear();
        self.skipping = false;
    }

    /// Bytes of a partial line waiting for its end.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(chunks: &[&[u8]], max: usize) -> Vec<(Vec<u8>, bool)> {
        let mut f = LineFramer::new(max);
        let mut out = Vec::new();
        for c in chunks {
            f.push(c, &mut out);
        }
        f.finish(&mut out);
        out.into_iter().map(|l| (l.bytes, l.cut)).collect()
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn table() {
        let l = |s: &str| (s.as_bytes().to_vec(), false);
        let cases: Vec<(Vec<&[u8]>, Vec<(Vec<u8>, bool)>)> = vec![
            (
                vec![b"USER a\r\nPASS b\r\n"],
                vec![l("USER a"), l("PASS b")],
            ),
            (vec![b"USER a\nPASS b\n"], vec![l("USER a"), l("PASS b")]),
            (vec![b"RE", b"TR f", b"ile\r", b"\n"], vec![l("RETR file")]),
            (vec![b"\xff\xf4\xff\xf2ABOR\r\n"], vec![l("ABOR")]),
            (vec![b"\xff\xfb\x01X\r\n"], vec![l("X")]),
            (vec![b"a\xff\xffb\r\n"], vec![(b"a\xffb".to_vec(), false)]),
            (vec![b"\xff\xfa\x18\x01\xff\xf0NOOP\r\n"], vec![l("NOOP")]),
            (vec![b"CWD a\0b\r\n"], vec![(b"CWD a\0b".to_vec(), false)]),
            (vec![b"QUIT"], vec![l("QUIT")]),
            (vec![b"\r\n"], vec![l("")]),
        ];
        for (input, want) in cases {
            assert_eq!(frame(&input, 100), want, "{input:?}");
        }
    }

    #[test]
    fn long_line_is_cut_and_rest_skipped() {
        let long = vec![b'A'; 50];
        let got = frame(&[&long, &long, b"\r\nNOOP\r\n"], 10);
        assert_eq!(got, vec![(vec![b'A'; 10], true), (b"NOOP".to_vec(), false)]);
    }

    #[test]
    fn gap_drops_the_partial_line_and_marks_the_next() {
        let mut f = LineFramer::new(100);
        let mut out = Vec::new();
        f.push(b"RETR par", &mut out);
        f.gap();
        f.push(b"tial\r\nNOOP\r\n", &mut out);
        let got: Vec<(&[u8], bool)> = out.iter().map(|l| (&l.bytes[..], l.after_gap)).collect();
        assert_eq!(got, vec![(&b"tial"[..], true), (&b"NOOP"[..], false)]);
    }
}
