//! FTPS: what the stream transform ([`crate::stream`]) of a connection gives back, turned into
//! what the analyzer must wire. RFC 4217 §4 (AUTH TLS accepted: the control connection's TLS
//! starts with its next byte), §9 (PROT P: each data connection opens with its own handshake),
//! §12.3 (CCC: the control connection goes back to clear text after its TLS close) and implicit
//! FTPS (TLS from the first byte, port 990).
//!
//! [`FtpsLayer`] owns the keys every connection shares and pushes a connection's bytes through
//! its [`Transform`]; [`FtpsLayer::route`] says what one [`TlsEvent`] means for what the
//! connection is ([`Target`]), as an [`FtpsAction`]. It never touches the analyzer's maps: the
//! analyzer finds the connection, asks, and applies the action (`Analyzer::wire_ftps`).
//!
//! Decrypted bytes take exactly the clear path: control lines go to the line framers, data to
//! the transfer, so records, links, verdicts, digests and extraction are those of clear FTP.
//! Without a key, the control connection's handshake still tells what is visible (version,
//! suite, SNI, the TLS 1.2 certificate); data connections are decrypted only when a key log
//! was given at all, otherwise their ciphertext is counted as before.

use crate::event::{SessionId, TlsFacts, TransferId};
use crate::flow::reassembly::Chunk;
use crate::flow::{Dir, Role};
use crate::frame::Timestamp;
use crate::stream::{self, Keys, Transform};
use ftpscope_tls::{KeyLogReport, LossReason, TlsEvent};

/// What a connection under TLS is to the analyzer, when one of its events is routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// A control connection: its session.
    Session(SessionId),
    /// A data connection: its transfer.
    Transfer(TransferId),
    /// Neither (not classified yet, or its transfer is gone).
    Other,
}

impl Target {
    pub(crate) fn of(role: &Role) -> Target {
        match role {
            Role::Control(sid) => Target::Session(*sid),
            Role::Data(tid) => Target::Transfer(*tid),
            _ => Target::Other,
        }
    }
}

/// What one TLS event asks of the analyzer. Each is applied whole, in order, before the next
/// event is routed (what the connection is may change in between: a transfer can end).
#[derive(Debug)]
pub(crate) enum FtpsAction {
    /// Plaintext of the control connection: a protected session learns that keys open it,
    /// then its framers read the bytes.
    ControlPlaintext {
        sid: SessionId,
        dir: Dir,
        data: Vec<u8>,
    },
    /// Plaintext of a data connection, for its transfer as clear bytes would be.
    DataPlaintext {
        tid: TransferId,
        dir: Dir,
        data: Vec<u8>,
    },
    /// Dialogue that could not be decrypted: a gap for the session's framers (at least one
    /// byte) and a `tls_unreadable` anomaly of the connection.
    ControlLost {
        sid: SessionId,
        dir: Dir,
        len: u64,
        detail: String,
    },
    /// File bytes that could not be decrypted: a gap in the transfer (at least one byte) and a
    /// `tls_unreadable` anomaly of the connection, under the transfer's session.
    DataLost {
        tid: TransferId,
        dir: Dir,
        len: u64,
        detail: String,
    },
    /// The handshake is done: its facts go in the session's or transfer's record, and a
    /// session whose records decrypt reads again.
    Established {
        on: Target,
        facts: Box<TlsFacts>,
        decrypting: bool,
    },
    /// A key log was given but has no key for the connection: a `tls_keys_missing` anomaly,
    /// and a transfer is marked encrypted (sizes, never a file).
    KeysMissing { on: Target, detail: String },
    /// close_notify from `dir`, a TLS close and not a truncation: the record's facts are
    /// refreshed; a control connection's side goes on in clear (RFC 4217 §12.3), a data
    /// connection's sender ended its file as its FIN would.
    CloseNotify {
        on: Target,
        dir: Dir,
        facts: Option<Box<TlsFacts>>,
    },
    /// The TLS could not be read: a `tls_unreadable` anomaly (every time, not once per
    /// connection).
    Unreadable { on: Target, detail: String },
}

/// Bytes pushed through a transform.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pushed {
    /// Ciphertext no key opens: what a data connection's transfer counts, as one read without
    /// a key log does (0 when keys were found).
    pub ciphertext: u64,
}

/// FTPS as the analyzer keeps it: the keys shared by every connection (key log and TLS
/// session cache). Each connection's own TLS is its [`Transform`] (`Conn::tls`).
#[derive(Default)]
pub(crate) struct FtpsLayer {
    keys: Keys,
}

impl FtpsLayer {
    /// Adds NSS key log text. Past [`stream::MAX_KEY_LOG_BYTES`] in all, the rest is dropped
    /// and reported as bad lines. Connections holding records should retry after
    /// ([`FtpsLayer::retry`]).
    pub(crate) fn add_keys(&mut self, text: &[u8]) -> KeyLogReport {
        let keys = &mut self.keys;
        let room = stream::MAX_KEY_LOG_BYTES.saturating_sub(keys.bytes);
        let take = text.get(..room.min(text.len())).unwrap_or_default();
        keys.bytes += take.len();
        let mut report = keys.log.add(take);
        if take.len() < text.len() {
            report.bad += 1;
        }
        let more = keys.log.finish_partial();
        report.lines += more.lines;
        report.added += more.added;
        report.ignored += more.ignored;
        report.bad += more.bad;
        report.bad_lines.extend(more.bad_lines);
        report
    }

    /// The key log may still grow (live capture): records whose keys are missing are held
    /// (bounded) until they come.
    pub(crate) fn keys_may_grow(&mut self, may_grow: bool) {
        self.keys.may_grow = may_grow;
    }

    /// Whether a key log was given (or may still come): only then are data connections
    /// decrypted, and implicit FTPS looked for on ports other than 990.
    pub(crate) fn has_keys(&self) -> bool {
        self.keys.any()
    }

    /// A transform for a connection whose TLS starts with its next byte.
    pub(crate) fn start(&self) -> Box<Transform> {
        Box::new(Transform::new(&self.keys))
    }

    /// Reassembled chunks of a connection under TLS, pushed through its transform. None when
    /// bytes sent in `dir` are clear text (after CCC): the chunks are then the caller's to
    /// deliver.
    pub(crate) fn push_chunks(
        &mut self,
        t: &mut Transform,
        dir: Dir,
        chunks: &[Chunk],
        out: &mut Vec<TlsEvent>,
    ) -> Option<Pushed> {
        if t.is_clear(dir) {
            return None;
        }
        let first = chunks.iter().find_map(|c| match c {
            Chunk::Data(d) => Some(d.as_slice()),
            Chunk::Gap(_) => None,
        });
        if first.is_some_and(|f| t.leaves_tls(dir, f)) {
            return None;
        }
        let mut raw = 0u64;
        for chunk in chunks {
            match chunk {
                Chunk::Data(bytes) => {
                    raw += bytes.len() as u64;
                    t.push(dir, bytes, &mut self.keys, out);
                }
                Chunk::Gap(len) => t.gap(dir, *len, out),
            }
        }
        Some(pushed(t, raw))
    }

    /// Like [`FtpsLayer::push_chunks`] for bytes borrowed from a frame.
    pub(crate) fn push_bytes(
        &mut self,
        t: &mut Transform,
        dir: Dir,
        bytes: &[u8],
        out: &mut Vec<TlsEvent>,
    ) -> Option<Pushed> {
        if t.is_clear(dir) || t.leaves_tls(dir, bytes) {
            return None;
        }
        t.push(dir, bytes, &mut self.keys, out);
        Some(pushed(t, bytes.len() as u64))
    }

    /// Keys came: records the transform held for them decrypt now.
    pub(crate) fn retry(&mut self, t: &mut Transform, out: &mut Vec<TlsEvent>) {
        t.retry(&mut self.keys, out);
    }

    /// The connection ends: a record cut short, or held for keys that never came, is lost.
    pub(crate) fn finish(t: &mut Transform, out: &mut Vec<TlsEvent>) {
        t.finish(out);
    }

    /// What `event` of a connection that is `to` asks of the analyzer; `tls` is the
    /// connection's transform as it is now (its facts, whether it decrypts). None: nothing.
    pub(crate) fn route(
        &self,
        event: TlsEvent,
        to: Target,
        tls: Option<&Transform>,
    ) -> Option<FtpsAction> {
        let decrypting = tls.is_some_and(Transform::decrypting);
        let action = match (event, to) {
            (TlsEvent::Plaintext { from, data }, Target::Session(sid)) => {
                FtpsAction::ControlPlaintext {
                    sid,
                    dir: stream::dir(from),
                    data,
                }
            }
            (TlsEvent::Plaintext { from, data }, Target::Transfer(tid)) => {
                FtpsAction::DataPlaintext {
                    tid,
                    dir: stream::dir(from),
                    data,
                }
            }
            // Lost for want of keys: the control dialogue simply stays unread; a data
            // connection's ciphertext is counted as it comes (`Pushed::ciphertext`), never the
            // file's.
            (
                TlsEvent::Lost {
                    why: LossReason::NoKeys,
                    ..
                },
                _,
            ) => return None,
            // Plaintext that could not be read: a gap in what the session or the file says (at
            // least one byte, so that a loss of unknown length still counts).
            (TlsEvent::Lost { from, len, why }, Target::Session(sid)) if decrypting => {
                let len = len.unwrap_or(1).max(1);
                FtpsAction::ControlLost {
                    sid,
                    dir: stream::dir(from),
                    len,
                    detail: format!("{len} bytes of the dialogue lost: {}", why.as_str()),
                }
            }
            (TlsEvent::Lost { from, len, why }, Target::Transfer(tid)) => {
                let len = len.unwrap_or(1).max(1);
                FtpsAction::DataLost {
                    tid,
                    dir: stream::dir(from),
                    len,
                    detail: format!("transfer {tid}: {len} bytes lost: {}", why.as_str()),
                }
            }
            (TlsEvent::Lost { .. }, _) => return None,
            (TlsEvent::Established, Target::Other) => return None,
            (TlsEvent::Established, on) => FtpsAction::Established {
                on,
                facts: Box::new(tls?.facts()),
                decrypting,
            },
            (TlsEvent::KeysMissing, on) => {
                if !self.keys.any() {
                    return None;
                }
                let detail = match on {
                    Target::Session(_) => "control connection".to_owned(),
                    Target::Transfer(tid) => format!("transfer {tid}"),
                    Target::Other => "connection".to_owned(),
                };
                FtpsAction::KeysMissing { on, detail }
            }
            (TlsEvent::CloseNotify { from }, on) => FtpsAction::CloseNotify {
                on,
                dir: stream::dir(from),
                facts: tls.map(|t| Box::new(t.facts())),
            },
            (TlsEvent::Problem { kind, detail }, on) => FtpsAction::Unreadable {
                on,
                detail: format!("{}: {detail}", kind.as_str()),
            },
            (TlsEvent::Alert { .. }, _) | (TlsEvent::Plaintext { .. }, Target::Other) => {
                return None;
            }
        };
        Some(action)
    }

    /// Whether a connection that opens with a ClientHello greets like an FTP server once its
    /// TLS is decrypted (implicit FTPS on a port other than 990): Some(true) when the server's
    /// first plaintext line is a greeting, Some(false) when it is not (or no key opens it),
    /// None while the held bytes do not tell yet. A trial on a transform of its own, thrown
    /// away after.
    pub(crate) fn greets_inside_tls(
        &mut self,
        chunks: &[(Timestamp, Dir, Vec<u8>)],
    ) -> Option<bool> {
        let keys = &mut self.keys;
        let mut trial = Transform::new(keys);
        let mut out = Vec::new();
        let mut from_server = Vec::new();
        for (_, dir, bytes) in chunks {
            trial.push(*dir, bytes, keys, &mut out);
            for event in out.drain(..) {
                match event {
                    TlsEvent::Plaintext { from, data }
                        if stream::dir(from) == Dir::FromResponder =>
                    {
                        from_server.extend_from_slice(&data);
                    }
                    TlsEvent::KeysMissing => return Some(false),
                    _ => {}
                }
            }
            if let Some(end) = memchr::memchr(b'\n', &from_server) {
                let line = from_server.get(..end).unwrap_or_default();
                return Some(crate::ftp::detect::is_greeting(line));
            }
        }
        None
    }
}

/// What a push leaves for the analyzer: the ciphertext to count when no key opens it.
fn pushed(t: &Transform, raw: u64) -> Pushed {
    Pushed {
        ciphertext: if t.keys_missing { raw } else { 0 },
    }
}
