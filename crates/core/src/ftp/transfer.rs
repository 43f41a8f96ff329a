//! A transfer: one data connection and the command that caused it, and the verdict on it.
//!
//! The verdict follows what a careful analyst would say: a transfer is `complete` only when
//! nothing says otherwise; `truncated` when bytes are missing (gaps, fewer bytes than SIZE or
//! the 150 reply announced, a data connection reset or never closed); `aborted` after ABOR or a
//! 426 reply; `failed` when the server refused it (4xx/5xx) and no data crossed.

use crate::event::{
    AnnouncedBy, DataMode, Direction, LinkRule, SessionId, TransferId, TransferRecord,
    TransferStatus,
};
use crate::flow::{Dir, FlowKey};
use crate::frame::Timestamp;
use crate::ftp::command::TransferCommand;
use std::net::SocketAddr;

#[derive(Debug, Clone)]
pub struct BoundCommand {
    pub command: TransferCommand,
    pub verb: Vec<u8>,
    pub path: Option<Vec<u8>>,
    pub full_path: Option<Vec<u8>>,
    pub offset: u64,
    pub transfer_type: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataConn {
    /// No data connection yet (a command waiting for one).
    None,
    Open,
    /// Closed: `fin` when the sending side closed with a FIN, not a reset or the capture's end.
    Closed {
        fin: bool,
        reset: bool,
    },
}

#[derive(Debug, Clone)]
pub struct Transfer {
    pub id: TransferId,
    pub session: Option<SessionId>,
    pub start: Timestamp,
    pub last_ts: Timestamp,
    pub command: Option<BoundCommand>,
    pub conn: Option<FlowKey>,
    pub initiator: Option<SocketAddr>,
    pub responder: Option<SocketAddr>,
    pub link: LinkRule,
    pub mode: Option<DataMode>,
    pub announced_by: Option<AnnouncedBy>,
    pub announced: Option<SocketAddr>,
    /// Which direction of the data connection carries the bytes (the first that did).
    pub stream_dir: Option<Dir>,
    pub bytes: u64,
    pub gap_bytes: u64,
    pub data_conn: DataConn,
    pub final_reply: Option<u16>,
    pub aborted: bool,
    pub expected_total: Option<u64>,
}

impl Transfer {
    pub fn new(id: TransferId, session: Option<SessionId>, ts: Timestamp) -> Self {
        Transfer {
            id,
            session,
            start: ts,
            last_ts: ts,
            command: None,
            conn: None,
            initiator: None,
            responder: None,
            link: LinkRule::None,
            mode: None,
            announced_by: None,
            announced: None,
            stream_dir: None,
            bytes: 0,
            gap_bytes: 0,
            data_conn: DataConn::None,
            final_reply: None,
            aborted: false,
            expected_total: None,
        }
    }

    pub fn offset(&self) -> u64 {
        self.command.as_ref().map_or(0, |c| c.offset)
    }

    /// Bytes expected on the wire: the announced size less the REST offset.
    pub fn expected_bytes(&self) -> Option<u64> {
        self.expected_total.map(|t| t.saturating_sub(self.offset()))
    }

    pub fn direction(&self, server_side: Option<SocketAddr>) -> Direction {
        if let Some(cmd) = &self.command {
            return if cmd.command.is_upload() {
                Direction::Upload
            } else {
                Direction::Download
            };
        }
        // No command: the bytes flowed from the server's side if we know which that is (port 20
        // for an active-mode orphan), else we cannot tell.
        let sender = match self.stream_dir {
            Some(Dir::FromInitiator) => self.initiator,
            Some(Dir::FromResponder) => self.responder,
            None => None,
        };
        match (sender, server_side) {
            (Some(s), Some(server)) if s == server => Direction::Download,
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
        let reply = self.final_reply;
        let refused = reply.is_some_and(|c| c >= 400);
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
        match self.data_conn {
            DataConn::Closed { reset: true, .. } => reasons.push("data connection reset".into()),
            DataConn::Closed { fin: false, .. } => {
                reasons.push("data connection not closed in the capture".into())
            }
            _ => {}
        }
        if self.aborted || reply == Some(426) {
            let why = if self.aborted {
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
        if self.data_conn == DataConn::None {
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
                (Some(code), Some(_)) => format!("all announced bytes crossed; server said {code}"),
                (Some(code), None) => format!("data connection closed cleanly; server said {code}"),
                (None, _) => "data connection closed cleanly; no final reply captured".into(),
            };
            return (TransferStatus::Complete, 0, why);
        }
        (TransferStatus::Truncated, missing, reasons.join("; "))
    }

    pub fn record(&self, end: Timestamp, server_side: Option<SocketAddr>) -> TransferRecord {
        let (status, missing_bytes, reason) = self.verdict();
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
            direction: self.direction(server_side),
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
            reply_code: self.final_reply,
            listing: cmd.is_some_and(|c| c.command.is_listing()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retr(
        bytes: u64,
        gaps: u64,
        expected: Option<u64>,
        conn: DataConn,
        reply: Option<u16>,
    ) -> Transfer {
        let mut t = Transfer::new(1, Some(1), 0);
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
        t.data_conn = conn;
        t.final_reply = reply;
        t
    }

    const FIN: DataConn = DataConn::Closed {
        fin: true,
        reset: false,
    };

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
                retr(
                    10,
                    0,
                    None,
                    DataConn::Closed {
                        fin: false,
                        reset: true,
                    },
                    Some(226),
                ),
                Truncated,
                0,
            ),
            (
                retr(
                    10,
                    0,
                    None,
                    DataConn::Closed {
                        fin: false,
                        reset: false,
                    },
                    None,
                ),
                Truncated,
                0,
            ),
            (retr(5, 0, Some(10), FIN, Some(426)), Aborted, 5),
            (retr(0, 0, None, DataConn::None, Some(550)), Failed, 0),
            (retr(0, 0, None, FIN, Some(550)), Failed, 0),
            (retr(4, 0, None, FIN, Some(451)), Truncated, 0),
            (retr(0, 0, None, DataConn::None, Some(226)), Truncated, 0),
        ];
        for (i, (t, status, missing)) in cases.iter().enumerate() {
            let (s, m, why) = t.verdict();
            assert_eq!((s, m), (*status, *missing), "case {i}: {why}");
            assert!(!why.is_empty());
        }
        let mut resumed = retr(6, 0, Some(10), FIN, Some(226));
        resumed.command.as_mut().unwrap().offset = 4;
        assert_eq!(resumed.verdict().0, Complete);
        assert_eq!(resumed.expected_bytes(), Some(6));
    }
}
