//! The verdict on an ended transfer, and the record that crosses to the binary.
//!
//! The verdict follows what a careful analyst would say: a transfer is `complete` only when
//! the capture proves it; `truncated` when bytes are missing (gaps, fewer bytes than SIZE or
//! the 150 reply announced, a data connection reset) or when nothing proves they are all there;
//! `aborted` after ABOR or a 426 reply ("Connection closed; transfer aborted", RFC 959 §4.2);
//! `failed` when the server refused it (4yz/5yz) and no data crossed, or when its data
//! connection never opened (the SYN refused by a RST, or never answered: an attempt is not a
//! transfer).
//!
//! A data connection under TLS (PROT P, RFC 4217 §9, or any that opens with a TLS handshake)
//! is `encrypted`: without keys its bytes are ciphertext, never the file, never `complete`.
//!
//! Two things prove a file whole. In stream mode the sender's FIN is the end of the file (RFC
//! 959 §3.4.1), so a data connection closed cleanly with no gap is complete. Without the FIN
//! (captures that keep only packets with payload are common; so are captures cut before the
//! close), the size the server announced (`150 ... (N bytes)`, or a `213` reply to SIZE for
//! that path, RFC 3659 §4) is the proof: all of it crossed with no gap, and the server's final
//! reply was positive (2yz, RFC 959 §4.2: 226 "Closing data connection"). With neither, the
//! bytes may all be there, but the verdict stays `truncated` and its reason says what is
//! missing for a proof.

use crate::event::{DataMode, Direction, TransferRecord, TransferStatus};
use crate::frame::Timestamp;
use crate::ftp::transfer::{DataClose, Transfer, TransferState};
use std::net::SocketAddr;

impl Transfer {
    /// Which end was the server: the listener in passive mode, the connector in active mode,
    /// port 20 for an orphan.
    pub fn server_side(&self) -> Option<SocketAddr> {
        match self.mode {
            Some(DataMode::Passive) => self.responder,
            Some(DataMode::Active) => self.initiator,
            None => [self.initiator, self.responder]
                .into_iter()
                .flatten()
                .find(|a| a.port() == 20),
        }
    }

    pub fn direction(&self, server_side: Option<SocketAddr>) -> Direction {
        if let Some(cmd) = &self.command {
            return if cmd.command.is_upload() {
                Direction::Upload
            } else {
                Direction::Download
            };
        }
        // No command and ciphertext: the first bytes are the handshake's, which says nothing of
        // the file's way.
        if self.encrypted {
            return Direction::Unknown;
        }
        // No command: the bytes flowed from the server's side if we know which that is (port 20
        // for an active-mode orphan), else we cannot tell.
        match (self.stream_dir, server_side.and_then(|s| self.dir_from(s))) {
            (Some(sent), Some(from_server)) if sent == from_server => Direction::Download,
            (Some(_), Some(_)) => Direction::Upload,
            _ => Direction::Unknown,
        }
    }

    /// The status, the bytes known missing, and why.
    pub fn verdict(&self) -> (TransferStatus, u64, String) {
        let expected = self.expected_bytes();
        let seen = self.bytes + self.gap_bytes;
        let shortfall = expected.map_or(0, |e| e.saturating_sub(seen));
        let missing = self.gap_bytes + shortfall;
        let (control, close) = match self.state {
            TransferState::AwaitingDataConnection(control) => (control, None),
            // Still open when the verdict is asked for: no FIN was seen.
            TransferState::DataConnectionOpen(control) => (control, Some(DataClose::NoFin)),
            TransferState::DataConnectionClosed(close, control) => (control, Some(close)),
        };
        let reply = control.final_code();
        let refused = reply.is_some_and(|c| c >= 400);
        let positive = reply.is_some_and(|c| (200..300).contains(&c));
        // Every announced byte crossed, none missed, none extra, and the server said so.
        let size_proves_it = expected.is_some_and(|e| e == self.bytes)
            && self.gap_bytes == 0
            && positive
            && !control.aborted();
        if self.encrypted {
            // Ciphertext says nothing of the file: not its bytes, not its size (records and
            // padding), not whether all of it crossed.
            let mut why = format!(
                "TLS data connection, no keys: {} bytes of ciphertext, not the file",
                self.bytes
            );
            if self.gap_bytes > 0 {
                why.push_str(&format!("; {} bytes never captured", self.gap_bytes));
            }
            if let Some(code) = reply {
                why.push_str(&format!("; server said {code}"));
            }
            return (TransferStatus::Encrypted, self.gap_bytes, why);
        }
        let mut reasons: Vec<String> = Vec::new();
        if self.gap_bytes > 0 {
            reasons.push(format!("{} bytes never captured", self.gap_bytes));
        }
        if shortfall > 0 {
            reasons.push(format!(
                "{} bytes short of the {} announced",
                shortfall,
                expected.unwrap_or(0)
            ));
        }
        match close {
            Some(DataClose::Reset) => reasons.push("data connection reset".into()),
            Some(DataClose::NoFin) if size_proves_it => {}
            Some(DataClose::NoFin) => {
                let unproven = match (expected, positive) {
                    // The shortfall said it already.
                    (Some(_), _) if shortfall > 0 => "",
                    (None, _) => {
                        ": completeness not proven (no FIN from the sender, no size announced)"
                    }
                    (Some(_), false) => {
                        ": completeness not proven (no FIN from the sender, no positive final reply)"
                    }
                    // More bytes than announced: the size proves nothing.
                    (Some(_), true) => {
                        ": completeness not proven (no FIN from the sender, more bytes than announced)"
                    }
                };
                reasons.push(format!(
                    "data connection not closed in the capture{unproven}"
                ))
            }
            Some(
                DataClose::Fin
                | DataClose::TlsClose
                | DataClose::Refused
                | DataClose::NeverAnswered,
            )
            | None => {}
        }
        // An attempt is not a transfer: the data connection never opened (issue 12, item 3).
        // Nothing could cross, so this outranks an ABOR sent while waiting for it.
        if let Some(never @ (DataClose::Refused | DataClose::NeverAnswered)) = close {
            let mut why = match never {
                DataClose::Refused => "data connection refused".to_owned(),
                _ => "data connection never answered".to_owned(),
            };
            if control.aborted() {
                why.push_str("; the client sent ABOR");
            }
            if let Some(code) = reply {
                why.push_str(&format!("; server said {code}"));
            }
            return (TransferStatus::Failed, missing, why);
        }
        if control.aborted() || reply == Some(426) {
            let why = if control.aborted() {
                "aborted by the client (ABOR)"
            } else {
                "aborted by the server (426)"
            };
            reasons.insert(0, why.into());
            return (TransferStatus::Aborted, missing, reasons.join("; "));
        }
        if refused && self.bytes == 0 && self.gap_bytes == 0 {
            let code = reply.unwrap_or(0);
            return (
                TransferStatus::Failed,
                missing,
                format!("refused by the server ({code})"),
            );
        }
        if matches!(self.state, TransferState::AwaitingDataConnection(_)) {
            let why = if self.command.is_some() {
                "no data connection in the capture"
            } else {
                "no data"
            };
            return (TransferStatus::Truncated, missing, why.into());
        }
        if refused {
            reasons.push(format!("server reported an error ({})", reply.unwrap_or(0)));
        }
        if reasons.is_empty() {
            let why = match (reply, expected) {
                (Some(code), Some(e)) if close == Some(DataClose::NoFin) => format!(
                    "all {e} announced bytes crossed with no gap; server said {code} (no FIN in the capture)"
                ),
                (Some(code), Some(_)) => format!("all announced bytes crossed; server said {code}"),
                (Some(code), None) if close == Some(DataClose::TlsClose) => {
                    format!("the sender closed its TLS stream (close_notify); server said {code}")
                }
                (Some(code), None) => format!("data connection closed cleanly; server said {code}"),
                (None, _) => "data connection closed cleanly; no final reply captured".into(),
            };
            return (TransferStatus::Complete, 0, why);
        }
        (TransferStatus::Truncated, missing, reasons.join("; "))
    }

    pub fn record(&self, end: Timestamp) -> TransferRecord {
        let (status, missing_bytes, mut reason) = self.verdict();
        // RFC 5246 §7.2.1 / RFC 8446 §6.1: a TLS stream ends with close_notify; without one
        // the plaintext may have been cut by an attacker or a crash, whatever TCP says.
        if self
            .tls
            .as_ref()
            .is_some_and(|t| t.decrypted && !t.close_notify)
        {
            reason.push_str(
                "; decrypted, no TLS close_notify seen (a TLS truncation cannot be ruled out)",
            );
        }
        let cmd = self.command.as_ref();
        TransferRecord {
            transfer: self.id,
            session: self.session,
            start: self.start,
            // Capture time may go backwards: a transfer never ends before it started.
            end: end.max(self.start),
            command: cmd.map(|c| c.verb.clone()),
            path: cmd.and_then(|c| c.path.clone()),
            full_path: cmd.and_then(|c| c.full_path.clone()),
            direction: self.direction(self.server_side()),
            mode: self.mode,
            announced_by: self.announced_by,
            announced: self.announced,
            link: self.link,
            data_initiator: self.initiator,
            data_responder: self.responder,
            transfer_type: cmd.and_then(|c| c.transfer_type),
            offset: self.offset(),
            bytes: self.bytes,
            expected_bytes: self.expected_bytes(),
            gap_bytes: self.gap_bytes,
            missing_bytes,
            status,
            reason,
            reply_code: reply_code(self.state),
            listing: cmd.is_some_and(|c| c.command.is_listing()),
            tls: self.tls.clone(),
            frames: self.frames,
        }
    }
}

fn reply_code(state: TransferState) -> Option<u16> {
    match state {
        TransferState::AwaitingDataConnection(control)
        | TransferState::DataConnectionOpen(control)
        | TransferState::DataConnectionClosed(_, control) => control.final_code(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ftp::command::TransferCommand;
    use crate::ftp::transfer::{BoundCommand, ControlReply};

    /// A RETR transfer in the data-connection state `conn` (None: never opened) whose final
    /// reply was `reply`.
    fn retr(
        bytes: u64,
        gaps: u64,
        expected: Option<u64>,
        conn: Option<DataClose>,
        reply: Option<u16>,
    ) -> Transfer {
        let mut t = Transfer::new(1, Some(1), Timestamp::from_nanos(0));
        t.command = Some(BoundCommand {
            command: TransferCommand::Retr,
            verb: b"RETR".to_vec(),
            path: Some(b"f".to_vec()),
            full_path: None,
            offset: 0,
            transfer_type: Some(b'I'),
        });
        t.bytes = bytes;
        t.gap_bytes = gaps;
        t.expected_total = expected;
        let control = match reply {
            Some(code) => ControlReply::Final {
                code,
                after_abort: false,
            },
            None => ControlReply::Awaiting,
        };
        t.state = match conn {
            None => TransferState::AwaitingDataConnection(control),
            Some(close) => TransferState::DataConnectionClosed(close, control),
        };
        t
    }

    const FIN: Option<DataClose> = Some(DataClose::Fin);
    const NOFIN: Option<DataClose> = Some(DataClose::NoFin);

    #[test]
    fn verdict_table() {
        use TransferStatus::*;
        let cases = [
            (retr(10, 0, Some(10), FIN, Some(226)), Complete, 0),
            (retr(10, 0, None, FIN, Some(226)), Complete, 0),
            (retr(10, 0, None, FIN, None), Complete, 0),
            (retr(8, 2, Some(10), FIN, Some(226)), Truncated, 2),
            (retr(6, 0, Some(10), FIN, Some(226)), Truncated, 4),
            (retr(6, 2, Some(10), FIN, Some(226)), Truncated, 4),
            (
                retr(10, 0, None, Some(DataClose::Reset), Some(226)),
                Truncated,
                0,
            ),
            (
                retr(10, 0, None, Some(DataClose::NoFin), None),
                Truncated,
                0,
            ),
            (retr(5, 0, Some(10), FIN, Some(426)), Aborted, 5),
            (retr(0, 0, None, None, Some(550)), Failed, 0),
            (retr(0, 0, None, FIN, Some(550)), Failed, 0),
            (retr(4, 0, None, FIN, Some(451)), Truncated, 0),
            (retr(0, 0, None, None, Some(226)), Truncated, 0),
            // No FIN: the announced size, all crossed with no gap, and a 2yz prove it whole.
            (retr(10, 0, Some(10), NOFIN, Some(226)), Complete, 0),
            (retr(10, 0, Some(10), NOFIN, Some(250)), Complete, 0),
            (retr(10, 0, None, NOFIN, Some(226)), Truncated, 0),
            (retr(10, 0, Some(10), NOFIN, None), Truncated, 0),
            (retr(10, 0, Some(10), NOFIN, Some(451)), Truncated, 0),
            (retr(12, 0, Some(10), NOFIN, Some(226)), Truncated, 0),
            (retr(8, 2, Some(10), NOFIN, Some(226)), Truncated, 2),
            (retr(6, 0, Some(10), NOFIN, Some(226)), Truncated, 4),
            (retr(10, 0, Some(10), NOFIN, Some(426)), Aborted, 0),
            (
                retr(0, 0, None, Some(DataClose::Refused), Some(425)),
                Failed,
                0,
            ),
            (
                retr(0, 0, None, Some(DataClose::NeverAnswered), None),
                Failed,
                0,
            ),
        ];
        for (i, (t, status, missing)) in cases.iter().enumerate() {
            let (s, m, why) = t.verdict();
            assert_eq!((s, m), (*status, *missing), "case {i}: {why}");
            assert!(!why.is_empty());
        }
        let why = |t: Transfer| t.verdict().2;
        assert_eq!(
            why(retr(10, 0, Some(10), NOFIN, Some(226))),
            "all 10 announced bytes crossed with no gap; server said 226 (no FIN in the capture)"
        );
        assert_eq!(
            why(retr(10, 0, None, NOFIN, Some(226))),
            "data connection not closed in the capture: completeness not proven \
             (no FIN from the sender, no size announced)"
        );
        assert_eq!(
            why(retr(10, 0, Some(10), NOFIN, None)),
            "data connection not closed in the capture: completeness not proven \
             (no FIN from the sender, no positive final reply)"
        );
        assert_eq!(
            why(retr(6, 0, Some(10), NOFIN, Some(226))),
            "4 bytes short of the 10 announced; data connection not closed in the capture"
        );
        let mut resumed = retr(6, 0, Some(10), FIN, Some(226));
        resumed.command.as_mut().unwrap().offset = 4;
        assert_eq!(resumed.verdict().0, Complete);
        assert_eq!(resumed.expected_bytes(), Some(6));
    }
}
