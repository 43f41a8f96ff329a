//! The NSS key log format (SSLKEYLOGFILE; Firefox source docs, "NSS Key Log Format"; also
//! draft-ietf-tls-keylogfile): one `LABEL <client_random hex> <secret hex>` per line.
//!
//! - `CLIENT_RANDOM`: the 48-byte master secret of TLS 1.2 and earlier (RFC 5246 §8.1).
//! - TLS 1.3 traffic secrets (RFC 8446 §7.1): `CLIENT_HANDSHAKE_TRAFFIC_SECRET`,
//!   `SERVER_HANDSHAKE_TRAFFIC_SECRET`, `CLIENT_TRAFFIC_SECRET_0`, `SERVER_TRAFFIC_SECRET_0`;
//!   `CLIENT_EARLY_TRAFFIC_SECRET` and `EXPORTER_SECRET` are kept. Their length is the hash's
//!   (32 or 48 bytes).
//! - Other labels (`RSA`, `EARLY_EXPORTER_SECRET`, ECH secrets...) are counted as ignored.
//!
//! Lines are keyed by the 32-byte client random, which is what a connection shows in the clear.
//! Comments (`#`) and blank lines are skipped, CRLF is accepted, and a bad line is counted and
//! reported with its number and reason — never fatal. The text may arrive in pieces (a file
//! that grows during a live capture): a trailing partial line waits for its newline, and a line
//! longer than [`MAX_LINE`] is reported and skipped without being buffered.

use std::collections::HashMap;

/// Longest line kept: a TLS 1.3 line with a SHA-384 secret is 30 + 1 + 64 + 1 + 96 characters.
pub const MAX_LINE: usize = 1024;
/// How many bad lines a report lists (all are counted).
pub const MAX_REPORTED: usize = 16;

/// The secrets the key log knows for one client random.
#[derive(Debug, Default, Clone)]
pub(crate) struct Secrets {
    pub master: Option<[u8; 48]>,
    pub client_early: Option<Vec<u8>>,
    pub client_handshake: Option<Vec<u8>>,
    pub server_handshake: Option<Vec<u8>>,
    pub client_traffic0: Option<Vec<u8>>,
    pub server_traffic0: Option<Vec<u8>>,
    pub exporter: Option<Vec<u8>>,
}

/// A line that was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line number in the text fed so far.
    pub line: u64,
    pub why: &'static str,
}

/// What one [`KeyLog::add`] or [`KeyLog::finish_partial`] call found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KeyLogReport {
    /// Complete lines read (comments and blank lines included).
    pub lines: u64,
    /// Secrets added or changed.
    pub added: u64,
    /// Lines with a label this crate does not use (`RSA`, ECH...).
    pub ignored: u64,
    /// Lines not understood.
    pub bad: u64,
    /// The first [`MAX_REPORTED`] bad lines, with their line number and why.
    pub bad_lines: Vec<BadLine>,
}

impl KeyLogReport {
    fn bad(&mut self, line: u64, why: &'static str) {
        self.bad += 1;
        if self.bad_lines.len() < MAX_REPORTED {
            self.bad_lines.push(BadLine { line, why });
        }
    }
}

/// An NSS key log, fed as text (see the module doc).
#[derive(Debug, Default, Clone)]
pub struct KeyLog {
    entries: HashMap<[u8; 32], Secrets>,
    /// The current line's bytes until its newline (at most `MAX_LINE`).
    partial: Vec<u8>,
    /// The current line is over `MAX_LINE`: its rest is skipped.
    overlong: bool,
    /// Lines completed so far.
    line_no: u64,
    secrets: usize,
}

impl KeyLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the whole text of a key log (a convenience for a file read at once).
    pub fn parse(text: &[u8]) -> (Self, KeyLogReport) {
        let mut log = KeyLog::new();
        let mut report = log.add(text);
        let end = log.finish_partial();
        merge(&mut report, end);
        (log, report)
    }

    /// Adds text: the bytes that follow what was fed before. A trailing partial line is kept
    /// until its newline arrives (or [`KeyLog::finish_partial`] is called).
    pub fn add(&mut self, text: &[u8]) -> KeyLogReport {
        let mut report = KeyLogReport::default();
        let mut rest = text;
        while !rest.is_empty() {
            let (piece, done) = match rest.iter().position(|&b| b == b'\n') {
                Some(i) => (rest.get(..i).unwrap_or_default(), Some(i + 1)),
                None => (rest, None),
            };
            if !self.overlong {
                if self.partial.len() + piece.len() > MAX_LINE {
                    self.overlong = true;
                    self.partial.clear();
                } else {
                    self.partial.extend_from_slice(piece);
                }
            }
            match done {
                Some(n) => {
                    self.end_line(&mut report);
                    rest = rest.get(n..).unwrap_or_default();
                }
                None => break,
            }
        }
        report
    }

    /// The end of the file: a last line without a newline is read now.
    pub fn finish_partial(&mut self) -> KeyLogReport {
        let mut report = KeyLogReport::default();
        if !self.partial.is_empty() || self.overlong {
            self.end_line(&mut report);
        }
        report
    }

    /// Secrets known (each label of each client random counts once).
    pub fn len(&self) -> usize {
        self.secrets
    }

    pub fn is_empty(&self) -> bool {
        self.secrets == 0
    }

    /// The TLS 1.2 master secret logged for this client random.
    pub fn master_secret(&self, client_random: &[u8; 32]) -> Option<&[u8; 48]> {
        self.entries.get(client_random)?.master.as_ref()
    }

    pub(crate) fn secrets(&self, client_random: &[u8; 32]) -> Option<&Secrets> {
        self.entries.get(client_random)
    }

    fn end_line(&mut self, report: &mut KeyLogReport) {
        self.line_no += 1;
        report.lines += 1;
        let line = std::mem::take(&mut self.partial);
        if std::mem::take(&mut self.overlong) {
            report.bad(self.line_no, "line too long");
            return;
        }
        match self.parse_line(&line) {
            Ok(Parsed::Nothing) => {}
            Ok(Parsed::Ignored) => report.ignored += 1,
            Ok(Parsed::Added(true)) => report.added += 1,
            Ok(Parsed::Added(false)) => {}
            Err(why) => report.bad(self.line_no, why),
        }
        // Keep the allocation for the next line.
        self.partial = line;
        self.partial.clear();
    }

    fn parse_line(&mut self, line: &[u8]) -> Result<Parsed, &'static str> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut fields = line
            .split(|b| *b == b' ' || *b == b'\t')
            .filter(|f| !f.is_empty());
        let Some(label) = fields.next() else {
            return Ok(Parsed::Nothing); // blank
        };
        if label.first() == Some(&b'#') {
            return Ok(Parsed::Nothing);
        }
        let (Some(cr), Some(secret)) = (fields.next(), fields.next()) else {
            return Err("expected: LABEL CLIENT_RANDOM SECRET");
        };
        if fields.next().is_some() {
            return Err("more than three fields");
        }
        let which = match label {
            b"CLIENT_RANDOM" => Which::Master,
            b"CLIENT_EARLY_TRAFFIC_SECRET" => Which::ClientEarly,
            b"CLIENT_HANDSHAKE_TRAFFIC_SECRET" => Which::ClientHandshake,
            b"SERVER_HANDSHAKE_TRAFFIC_SECRET" => Which::ServerHandshake,
            b"CLIENT_TRAFFIC_SECRET_0" => Which::ClientTraffic0,
            b"SERVER_TRAFFIC_SECRET_0" => Which::ServerTraffic0,
            b"EXPORTER_SECRET" => Which::Exporter,
            // Known labels this crate has no use for, and future ones.
            l if l
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_') =>
            {
                return Ok(Parsed::Ignored);
            }
            _ => return Err("label is not a key log label"),
        };
        let cr: [u8; 32] = unhex(cr)
            .ok_or("client random is not hex")?
            .try_into()
            .map_err(|_| "client random is not 32 bytes")?;
        let secret = unhex(secret).ok_or("secret is not hex")?;
        let entry = self.entries.entry(cr).or_default();
        let slot: &mut Option<Vec<u8>> = match which {
            Which::Master => {
                let m: [u8; 48] = secret
                    .try_into()
                    .map_err(|_| "master secret is not 48 bytes")?;
                let new = entry.master.is_none();
                let changed = entry.master != Some(m);
                entry.master = Some(m);
                if new {
                    self.secrets += 1;
                }
                return Ok(Parsed::Added(changed));
            }
            Which::ClientEarly => &mut entry.client_early,
            Which::ClientHandshake => &mut entry.client_handshake,
            Which::ServerHandshake => &mut entry.server_handshake,
            Which::ClientTraffic0 => &mut entry.client_traffic0,
            Which::ServerTraffic0 => &mut entry.server_traffic0,
            Which::Exporter => &mut entry.exporter,
        };
        if secret.len() != 32 && secret.len() != 48 {
            return Err("TLS 1.3 secret is not 32 or 48 bytes");
        }
        let new = slot.is_none();
        let changed = slot.as_deref() != Some(secret.as_slice());
        *slot = Some(secret);
        if new {
            self.secrets += 1;
        }
        Ok(Parsed::Added(changed))
    }
}

enum Parsed {
    Nothing,
    Ignored,
    /// A secret was stored; `true` when it is new or changed.
    Added(bool),
}

enum Which {
    Master,
    ClientEarly,
    ClientHandshake,
    ServerHandshake,
    ClientTraffic0,
    ServerTraffic0,
    Exporter,
}

fn merge(into: &mut KeyLogReport, more: KeyLogReport) {
    into.lines += more.lines;
    into.added += more.added;
    into.ignored += more.ignored;
    into.bad += more.bad;
    for b in more.bad_lines {
        if into.bad_lines.len() < MAX_REPORTED {
            into.bad_lines.push(b);
        }
    }
}

fn unhex(s: &[u8]) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    s.chunks_exact(2)
        .map(|p| {
            let hi = (*p.first()? as char).to_digit(16)?;
            let lo = (*p.get(1)? as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CR: &str = "0101010101010101010101010101010101010101010101010101010101010101";
    fn master_line(cr: &str, byte: u8) -> String {
        format!("CLIENT_RANDOM {cr} {}\n", format!("{byte:02x}").repeat(48))
    }

    #[test]
    fn reads_master_secrets_and_tls13_secrets() {
        let text = format!(
            "# comment\n\n{}CLIENT_HANDSHAKE_TRAFFIC_SECRET {CR} {}\r\nSERVER_TRAFFIC_SECRET_0 {CR} {}\n",
            master_line(CR, 0xaa),
            "11".repeat(32),
            "22".repeat(48)
        );
        let (log, r) = KeyLog::parse(text.as_bytes());
        assert_eq!((r.lines, r.added, r.bad), (5, 3, 0));
        assert_eq!(log.len(), 3);
        let cr = [1u8; 32];
        assert_eq!(log.master_secret(&cr), Some(&[0xaa; 48]));
        let s = log.secrets(&cr).unwrap();
        assert_eq!(s.client_handshake.as_deref(), Some(&[0x11; 32][..]));
        assert_eq!(s.server_traffic0.as_deref(), Some(&[0x22; 48][..]));
    }

    #[test]
    fn bad_lines_are_counted_with_their_number_and_reason() {
        let text = format!(
            "CLIENT_RANDOM zz {}\nCLIENT_RANDOM {CR}\n{}CLIENT_RANDOM {CR} abcd\nRSA 0011 2233\nlower x y\nCLIENT_TRAFFIC_SECRET_0 {CR} 0011\n",
            "00".repeat(48),
            master_line(CR, 1)
        );
        let (log, r) = KeyLog::parse(text.as_bytes());
        assert_eq!(r.lines, 7);
        assert_eq!(r.added, 1);
        assert_eq!(r.ignored, 1);
        assert_eq!(r.bad, 5);
        let got: Vec<(u64, &str)> = r.bad_lines.iter().map(|b| (b.line, b.why)).collect();
        assert_eq!(
            got,
            vec![
                (1, "client random is not hex"),
                (2, "expected: LABEL CLIENT_RANDOM SECRET"),
                (4, "master secret is not 48 bytes"),
                (6, "label is not a key log label"),
                (7, "TLS 1.3 secret is not 32 or 48 bytes"),
            ]
        );
        assert_eq!(log.len(), 1);
    }

    #[test]
    fn a_partial_line_waits_for_its_newline() {
        let line = master_line(CR, 7);
        let (a, b) = line.as_bytes().split_at(40);
        let mut log = KeyLog::new();
        let r = log.add(a);
        assert_eq!((r.lines, r.added), (0, 0));
        assert!(log.is_empty());
        let r = log.add(b);
        assert_eq!((r.lines, r.added), (1, 1));
        assert_eq!(log.master_secret(&[1; 32]), Some(&[7; 48]));
    }

    #[test]
    fn growth_byte_by_byte_and_a_last_line_without_newline() {
        let cr2 = "02".repeat(32);
        let text = format!("{}{}", master_line(CR, 3), master_line(&cr2, 4));
        let text = text.trim_end();
        let mut log = KeyLog::new();
        let mut added = 0;
        for b in text.as_bytes() {
            added += log.add(std::slice::from_ref(b)).added;
        }
        assert_eq!(added, 1);
        let r = log.finish_partial();
        assert_eq!((r.lines, r.added), (1, 1));
        assert_eq!(log.master_secret(&[2; 32]), Some(&[4; 48]));
        // Nothing left: a second call reads nothing.
        assert_eq!(log.finish_partial().lines, 0);
    }

    #[test]
    fn an_overlong_line_is_skipped_not_buffered() {
        let mut log = KeyLog::new();
        let long = vec![b'A'; 5000];
        assert_eq!(log.add(&long).lines, 0);
        assert!(log.partial.len() <= MAX_LINE);
        let r = log.add(format!("\n{}", master_line(CR, 9)).as_bytes());
        assert_eq!(
            r.bad_lines,
            vec![BadLine {
                line: 1,
                why: "line too long"
            }]
        );
        assert_eq!(r.added, 1);
    }

    #[test]
    fn a_repeated_line_adds_nothing() {
        let text = master_line(CR, 5).repeat(2);
        let (log, r) = KeyLog::parse(text.as_bytes());
        assert_eq!((r.lines, r.added, log.len()), (2, 1, 1));
    }
}
