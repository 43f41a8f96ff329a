//! The stream transform: the optional layer between TCP reassembly and the FTP layers
//! (reassembly → transform → line framer or transfer). Today it is TLS, for FTPS: RFC 4217 §4
//! (AUTH TLS, then TLS from the next byte of the control connection), §9 (PROT P: every data
//! connection opens with its own handshake) and implicit FTPS (TLS from the first byte, port
//! 990). Decryption itself is the `ftpscope-tls` crate's; this module maps its peers to the
//! core's directions and its facts to the core's records, so the FTP logic never sees TLS.

use crate::event::{TlsCertificate, TlsFacts};
use crate::flow::Dir;
use ftpscope_tls::{KeyLog, Peer, SessionCache, TlsConnection, TlsEvent, TlsInfo, TlsLimits};

/// Key log entries kept, whatever the key logs given say: a hostile capture's Decryption
/// Secrets Blocks must not grow memory without bound.
pub const MAX_KEY_LOG_BYTES: usize = 64 << 20;

/// The keys the analyzer decrypts with, shared by every connection.
pub struct Keys {
    pub log: KeyLog,
    /// TLS 1.2 sessions by ID and ticket, for data connections that resume the control
    /// connection's session (vsftpd's `require_ssl_reuse`).
    pub cache: SessionCache,
    /// Key log bytes read so far (bounded by [`MAX_KEY_LOG_BYTES`]).
    pub bytes: usize,
    /// The key log may still grow (live capture): hold records whose keys are missing.
    pub may_grow: bool,
}

impl Default for Keys {
    fn default() -> Self {
        Keys {
            log: KeyLog::new(),
            cache: SessionCache::new(10_000),
            bytes: 0,
            may_grow: false,
        }
    }
}

impl Keys {
    /// Whether any key was given: without one, data connections are not decrypted (their
    /// ciphertext is counted as before) and only the control connection's handshake is read.
    pub fn any(&self) -> bool {
        !self.log.is_empty() || self.may_grow
    }
}

/// One connection's TLS, seen from the core: directions in, directions out.
pub struct Transform {
    tls: TlsConnection,
    /// Established was reported: the facts are final.
    pub established: bool,
    /// The key log has no key for it.
    pub keys_missing: bool,
    /// close_notify seen from each side.
    pub close_notify: [bool; 2],
    /// Each side's bytes are clear text again (RFC 4217 §12.3, CCC: after its TLS close, a
    /// control connection goes on in clear).
    clear: [bool; 2],
    /// CCC was accepted: each side leaves TLS with its close_notify, or with its first bytes
    /// that are not a TLS record (curl sends its next command in clear without one).
    ccc: bool,
}

impl Transform {
    pub fn new(keys: &Keys) -> Self {
        let limits = TlsLimits {
            hold_when_keys_missing: keys.may_grow,
            ..TlsLimits::default()
        };
        Transform {
            tls: TlsConnection::new(limits),
            established: false,
            keys_missing: false,
            close_notify: [false; 2],
            clear: [false; 2],
            ccc: false,
        }
    }

    pub fn push(&mut self, dir: Dir, bytes: &[u8], keys: &mut Keys, out: &mut Vec<TlsEvent>) {
        self.tls
            .push(peer(dir), bytes, &keys.log, &mut keys.cache, out);
        self.note(out);
    }

    pub fn gap(&mut self, dir: Dir, len: u64, out: &mut Vec<TlsEvent>) {
        self.tls.gap(peer(dir), len, out);
        self.note(out);
    }

    /// The key log grew: records held for their keys may decrypt now.
    pub fn retry(&mut self, keys: &mut Keys, out: &mut Vec<TlsEvent>) {
        self.tls.retry(&keys.log, &mut keys.cache, out);
        self.note(out);
    }

    /// The connection ended: what is held is lost.
    pub fn finish(&mut self, out: &mut Vec<TlsEvent>) {
        self.tls.finish(out);
        self.note(out);
    }

    pub fn info(&self) -> &TlsInfo {
        self.tls.info()
    }

    /// Whether bytes sent in `dir` are clear text again (after CCC and that side's TLS close).
    pub fn is_clear(&self, dir: Dir) -> bool {
        self.clear.get(dir_index(dir)).copied().unwrap_or(false)
    }

    /// CCC was accepted (RFC 4217 §12.3).
    pub fn ccc_accepted(&mut self) {
        self.ccc = true;
    }

    /// After CCC, bytes that do not start a TLS record (content type 20-24, version 3.x) mean
    /// their side has gone back to clear text.
    pub fn leaves_tls(&mut self, dir: Dir, first: &[u8]) -> bool {
        let record = matches!(first, [20..=24, 3, ..]);
        if self.ccc && !first.is_empty() && !record {
            self.set_clear(dir);
        }
        self.is_clear(dir)
    }

    /// From now on, bytes sent in `dir` are clear text.
    pub fn set_clear(&mut self, dir: Dir) {
        if let Some(c) = self.clear.get_mut(dir_index(dir)) {
            *c = true;
        }
    }

    /// Raw bytes held while waiting for keys.
    pub fn held_bytes(&self) -> usize {
        self.tls.held_bytes()
    }

    /// Whether records are being decrypted.
    pub fn decrypting(&self) -> bool {
        self.tls.info().decrypting
    }

    fn note(&mut self, events: &[TlsEvent]) {
        for e in events {
            match e {
                TlsEvent::Established => self.established = true,
                TlsEvent::KeysMissing => self.keys_missing = true,
                TlsEvent::CloseNotify { from } => {
                    let i = usize::from(*from == Peer::Responder);
                    if let Some(seen) = self.close_notify.get_mut(i) {
                        *seen = true;
                    }
                }
                _ => {}
            }
        }
    }

    /// What the connection showed, for the session's or transfer's record.
    pub fn facts(&self) -> TlsFacts {
        let info = self.tls.info();
        TlsFacts {
            version: info.version_name().map(str::to_owned),
            cipher_suite: info.cipher_suite.map(|s| s.name.to_owned()),
            sni: info.sni.clone(),
            alpn: info.alpn.clone(),
            resumed: info.resumed.map(|r| r.as_str().to_owned()),
            decrypted: info.decrypting,
            close_notify: self.close_notify.iter().any(|c| *c),
            certificate: info.certificate.as_ref().map(|c| TlsCertificate {
                subject: c.subject.clone(),
                issuer: c.issuer.clone(),
                not_before: c.not_before,
                not_after: c.not_after,
                sha256: c.sha256,
            }),
        }
    }
}

impl std::fmt::Debug for Transform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transform")
            .field("info", self.tls.info())
            .field("established", &self.established)
            .field("keys_missing", &self.keys_missing)
            .finish()
    }
}

fn dir_index(dir: Dir) -> usize {
    usize::from(dir == Dir::FromResponder)
}

/// The TLS side that sent bytes travelling in `dir`.
pub fn peer(dir: Dir) -> Peer {
    match dir {
        Dir::FromInitiator => Peer::Initiator,
        Dir::FromResponder => Peer::Responder,
    }
}

/// The direction bytes sent by `peer` travel in.
pub fn dir(peer: Peer) -> Dir {
    match peer {
        Peer::Initiator => Dir::FromInitiator,
        Peer::Responder => Dir::FromResponder,
    }
}
