//! Handshake messages: reassembly across records and the few messages the engine reads.
//!
//! Handshake messages (RFC 5246 §7.4, RFC 8446 §4) are a 1-byte type and a 3-byte length; a
//! message may span records and a record may hold several. The reader buffers at most
//! `max_message` bytes of one message; a longer one is skipped without being held.
//!
//! Read here: ClientHello and ServerHello (via `tls-parser`, with their extensions walked here:
//! server_name RFC 6066 §3, ALPN RFC 7301, encrypt_then_mac RFC 7366, extended_master_secret
//! RFC 7627, SessionTicket RFC 5077 §3.2, supported_versions / pre_shared_key / early_data
//! RFC 8446 §4.2), the HelloRetryRequest random (RFC 8446 §4.1.3), EncryptedExtensions (ALPN),
//! Certificate (TLS 1.2 §7.4.2 and TLS 1.3 §4.4.2 forms; the leaf is parsed by `x509-parser`),
//! NewSessionTicket (RFC 5077 §3.3) and KeyUpdate (RFC 8446 §4.6.3).

use sha2::{Digest, Sha256};

pub(crate) const HELLO_REQUEST: u8 = 0;
pub(crate) const CLIENT_HELLO: u8 = 1;
pub(crate) const SERVER_HELLO: u8 = 2;
pub(crate) const NEW_SESSION_TICKET: u8 = 4;
pub(crate) const END_OF_EARLY_DATA: u8 = 5;
pub(crate) const ENCRYPTED_EXTENSIONS: u8 = 8;
pub(crate) const CERTIFICATE: u8 = 11;
pub(crate) const SERVER_KEY_EXCHANGE: u8 = 12;
pub(crate) const CERTIFICATE_REQUEST: u8 = 13;
pub(crate) const SERVER_HELLO_DONE: u8 = 14;
pub(crate) const FINISHED: u8 = 20;
pub(crate) const KEY_UPDATE: u8 = 24;

/// SHA-256("HelloRetryRequest"): the random of a HelloRetryRequest (RFC 8446 §4.1.3).
pub(crate) const HRR_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// One direction's handshake byte stream, cut into messages.
#[derive(Debug, Default)]
pub(crate) struct Reader {
    buf: Vec<u8>,
    /// Bytes of an over-long message still to skip.
    skip: usize,
}

/// What the reader gives back.
pub(crate) enum Piece {
    Message(u8, Vec<u8>),
    /// A message longer than the limit was skipped (its type and length).
    TooLong(u8, usize),
}

impl Reader {
    /// Adds decrypted or clear handshake bytes; complete messages are appended to `out`.
    pub(crate) fn feed(&mut self, mut data: &[u8], max_message: usize, out: &mut Vec<Piece>) {
        loop {
            if self.skip > 0 {
                let n = self.skip.min(data.len());
                self.skip -= n;
                data = data.get(n..).unwrap_or_default();
                if self.skip > 0 {
                    return;
                }
            }
            if data.is_empty() && self.buf.len() < 4 {
                return;
            }
            // Header first (it may itself be split).
            if self.buf.len() < 4 {
                let n = (4 - self.buf.len()).min(data.len());
                self.buf
                    .extend_from_slice(data.get(..n).unwrap_or_default());
                data = data.get(n..).unwrap_or_default();
                if self.buf.len() < 4 {
                    return;
                }
            }
            let (typ, len) = match self.buf.get(..4) {
                Some(&[t, a, b, c]) => (t, u32::from_be_bytes([0, a, b, c]) as usize),
                _ => return,
            };
            if len > max_message {
                self.buf.clear();
                self.skip = len;
                out.push(Piece::TooLong(typ, len));
                continue;
            }
            let need = 4 + len - self.buf.len();
            let n = need.min(data.len());
            self.buf
                .extend_from_slice(data.get(..n).unwrap_or_default());
            data = data.get(n..).unwrap_or_default();
            if self.buf.len() < 4 + len {
                return;
            }
            let body = self.buf.get(4..).unwrap_or_default().to_vec();
            self.buf.clear();
            out.push(Piece::Message(typ, body));
        }
    }

    /// Forgets a partial message (after a gap).
    pub(crate) fn reset(&mut self) {
        self.buf.clear();
        self.skip = 0;
    }
}

/// The parts of a ClientHello the engine uses.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientHello {
    pub legacy_version: u16,
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub sni: Option<Vec<u8>>,
    pub alpn: Vec<Vec<u8>>,
    /// A non-empty SessionTicket extension: the client offers a ticket (RFC 5077 §3.2).
    pub ticket: Option<Vec<u8>>,
    pub etm: bool,
    pub ems: bool,
    pub versions: Vec<u16>,
    pub early_data: bool,
    pub psk: bool,
}

/// The parts of a ServerHello the engine uses.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServerHello {
    pub legacy_version: u16,
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub suite: u16,
    /// supported_versions (TLS 1.3 and later).
    pub selected_version: Option<u16>,
    pub alpn: Option<Vec<u8>>,
    pub etm: bool,
    pub ems: bool,
    pub psk: bool,
}

impl ServerHello {
    pub(crate) fn is_retry_request(&self) -> bool {
        self.random == HRR_RANDOM
    }

    pub(crate) fn version(&self) -> u16 {
        self.selected_version.unwrap_or(self.legacy_version)
    }
}

/// Walks an extensions block: (type, data) pairs.
fn extensions(mut ext: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let (&[a, b, c, d], rest) = ext.split_first_chunk::<4>()?;
        let len = u16::from_be_bytes([c, d]) as usize;
        let (data, rest) = rest.split_at_checked(len)?;
        ext = rest;
        Some((u16::from_be_bytes([a, b]), data))
    })
}

/// A list of 1-byte-length strings behind a 2-byte total length (ALPN, RFC 7301 §3.1).
fn alpn_list(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let Some(mut list) = data.get(2..) else {
        return out;
    };
    while let Some((&n, rest)) = list.split_first() {
        let Some((name, rest)) = rest.split_at_checked(n as usize) else {
            break;
        };
        out.push(name.to_vec());
        list = rest;
    }
    out
}

/// The host_name of a server_name extension (RFC 6066 §3).
fn sni(data: &[u8]) -> Option<Vec<u8>> {
    let mut list = data.get(2..)?;
    while let Some((&typ, rest)) = list.split_first() {
        let (len, rest) = rest.split_first_chunk::<2>()?;
        let (name, rest) = rest.split_at_checked(u16::from_be_bytes(*len) as usize)?;
        if typ == 0 {
            return Some(name.to_vec());
        }
        list = rest;
    }
    None
}

pub(crate) fn parse_client_hello(body: &[u8]) -> Option<ClientHello> {
    let (_, ch) = tls_parser::parse_tls_handshake_client_hello(body).ok()?;
    let mut out = ClientHello {
        legacy_version: ch.version.0,
        random: ch.random.try_into().ok()?,
        session_id: ch.session_id.unwrap_or_default().to_vec(),
        ..ClientHello::default()
    };
    for (typ, data) in extensions(ch.ext.unwrap_or_default()) {
        match typ {
            0 => out.sni = sni(data),
            16 => out.alpn = alpn_list(data),
            22 => out.etm = true,
            23 => out.ems = true,
            35 if !data.is_empty() => out.ticket = Some(data.to_vec()),
            41 => out.psk = true,
            42 => out.early_data = true,
            43 => {
                let list = data.get(1..).unwrap_or_default();
                out.versions = list
                    .chunks_exact(2)
                    .map(|v| {
                        u16::from_be_bytes([
                            v.first().copied().unwrap_or(0),
                            v.get(1).copied().unwrap_or(0),
                        ])
                    })
                    .collect();
            }
            _ => {}
        }
    }
    Some(out)
}

pub(crate) fn parse_server_hello(body: &[u8]) -> Option<ServerHello> {
    let (_, sh) = tls_parser::parse_tls_handshake_server_hello(body).ok()?;
    let mut out = ServerHello {
        legacy_version: sh.version.0,
        random: sh.random.try_into().ok()?,
        session_id: sh.session_id.unwrap_or_default().to_vec(),
        suite: sh.cipher.0,
        ..ServerHello::default()
    };
    for (typ, data) in extensions(sh.ext.unwrap_or_default()) {
        match typ {
            16 => out.alpn = alpn_list(data).into_iter().next(),
            22 => out.etm = true,
            23 => out.ems = true,
            41 => out.psk = true,
            43 => {
                if let Some(&[a, b]) = data.get(..2) {
                    out.selected_version = Some(u16::from_be_bytes([a, b]));
                }
            }
            _ => {}
        }
    }
    Some(out)
}

/// The ALPN protocol of an EncryptedExtensions message (TLS 1.3).
pub(crate) fn encrypted_extensions_alpn(body: &[u8]) -> Option<Vec<u8>> {
    let (len, rest) = body.split_first_chunk::<2>()?;
    let block = rest.get(..u16::from_be_bytes(*len) as usize)?;
    extensions(block)
        .find(|(t, _)| *t == 16)
        .and_then(|(_, d)| alpn_list(d).into_iter().next())
}

/// The ticket of a TLS 1.2 NewSessionTicket (RFC 5077 §3.3): lifetime, then a 2-byte length.
pub(crate) fn tls12_ticket(body: &[u8]) -> Option<&[u8]> {
    let rest = body.get(4..)?;
    let (len, rest) = rest.split_first_chunk::<2>()?;
    rest.get(..u16::from_be_bytes(*len) as usize)
}

/// What the server's leaf certificate says (from the clear TLS 1.2 handshake, or the
/// decrypted TLS 1.3 one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// Validity, seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// SHA-256 of the leaf certificate's DER.
    pub sha256: [u8; 32],
}

/// The leaf certificate of a Certificate message; `tls13` selects the TLS 1.3 form, which
/// starts with a request context (RFC 8446 §4.4.2).
pub(crate) fn leaf_certificate(body: &[u8], tls13: bool) -> Option<CertInfo> {
    let der = if tls13 {
        let (&ctx_len, rest) = body.split_first()?;
        let rest = rest.get(ctx_len as usize..)?;
        let list = rest.get(3..)?;
        let (len, rest) = list.split_first_chunk::<3>()?;
        rest.get(..u32::from_be_bytes([0, len[0], len[1], len[2]]) as usize)?
    } else {
        let (_, msg) = tls_parser::parse_tls_handshake_msg_certificate(body).ok()?;
        match msg {
            tls_parser::TlsMessageHandshake::Certificate(c) => c.cert_chain.first()?.data,
            _ => return None,
        }
    };
    let sha256: [u8; 32] = Sha256::digest(der).into();
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrr_random_is_sha256_of_its_name() {
        let h: [u8; 32] = Sha256::digest(b"HelloRetryRequest").into();
        assert_eq!(h, HRR_RANDOM);
    }

    #[test]
    fn messages_split_and_joined() {
        let mut r = Reader::default();
        let mut out = Vec::new();
        let stream = [1u8, 0, 0, 2, 0xaa, 0xbb, 20, 0, 0, 1, 0xcc, 2, 0, 0];
        for b in stream.chunks(1) {
            r.feed(b, 100, &mut out);
        }
        let got: Vec<(u8, Vec<u8>)> = out
            .into_iter()
            .filter_map(|p| match p {
                Piece::Message(t, b) => Some((t, b)),
                Piece::TooLong(..) => None,
            })
            .collect();
        assert_eq!(got, vec![(1, vec![0xaa, 0xbb]), (20, vec![0xcc])]);
        let mut out = Vec::new();
        r.feed(&[0, 11, 0, 1, 0], 3, &mut out);
        assert!(matches!(
            out.as_slice(),
            [Piece::Message(2, _), Piece::TooLong(11, 256)]
        ));
    }
}
