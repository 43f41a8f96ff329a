//! Builds TLS records for tests, fuzz seeds, the throughput example and the benchmark capture
//! generator (`ftpscope-gen --ftps`): hellos in the clear, protected records, transcript
//! hashes and Finished messages, with the same RustCrypto primitives and key schedule the
//! decryptor uses. Not for talking to real peers (fixed IVs, secrets chosen by the caller
//! rather than agreed by a key exchange).

use crate::crypt::{self, Protector};
use crate::suite::{self, HashAlg, Lookup};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha384};

/// Seals records of one direction, counting sequence numbers.
pub struct Sealer {
    p: Protector,
    seq: u64,
}

impl Sealer {
    /// One protected record: `typ` is the outer type in TLS 1.2, the inner one in TLS 1.3.
    pub fn seal(&mut self, typ: u8, plaintext: &[u8]) -> Vec<u8> {
        let rec = self.p.seal(self.seq, typ, plaintext).unwrap_or_default();
        self.seq += 1;
        rec
    }

    /// Like [`Sealer::seal`], appending the record to `out`.
    pub fn seal_into(&mut self, typ: u8, plaintext: &[u8], out: &mut Vec<u8>) {
        if let Some(rec) = self.p.seal(self.seq, typ, plaintext) {
            out.extend_from_slice(&rec);
        }
        self.seq += 1;
    }
}

fn hash_of(suite_id: u16) -> Option<HashAlg> {
    match suite::lookup(suite_id) {
        Lookup::Supported(s) => Some(s.hash),
        Lookup::Unsupported => None,
    }
}

/// The hash of a suite's key schedule over `messages` (the handshake transcript, RFC 8446
/// §4.4.1; RFC 5246 §7.4.9 `handshake_messages`).
pub fn transcript_hash(suite_id: u16, messages: &[u8]) -> Option<Vec<u8>> {
    Some(match hash_of(suite_id)? {
        HashAlg::Sha256 => Sha256::digest(messages).to_vec(),
        HashAlg::Sha384 => Sha384::digest(messages).to_vec(),
    })
}

/// TLS 1.3 Finished `verify_data` (RFC 8446 §4.4.4): HMAC(finished_key, transcript hash), with
/// `finished_key = HKDF-Expand-Label(base_key, "finished", "", Hash.length)`; `base_key` is the
/// sender's handshake traffic secret.
pub fn tls13_finished(suite_id: u16, base_key: &[u8], transcript: &[u8]) -> Option<Vec<u8>> {
    let hash = hash_of(suite_id)?;
    let mut key = vec![0u8; hash.len()];
    crypt::hkdf_expand_label(hash, base_key, b"finished", &mut key)?;
    let th = transcript_hash(suite_id, transcript)?;
    Some(match hash {
        HashAlg::Sha256 => {
            let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).ok()?;
            m.update(&th);
            m.finalize().into_bytes().to_vec()
        }
        HashAlg::Sha384 => {
            let mut m = <Hmac<Sha384> as KeyInit>::new_from_slice(&key).ok()?;
            m.update(&th);
            m.finalize().into_bytes().to_vec()
        }
    })
}

/// TLS 1.2 Finished `verify_data` (RFC 5246 §7.4.9): `PRF(master_secret, finished_label,
/// Hash(handshake_messages))[0..11]`, `label` being `client finished` or `server finished`.
pub fn tls12_finished(
    suite_id: u16,
    master: &[u8; 48],
    label: &[u8],
    transcript: &[u8],
) -> Option<[u8; 12]> {
    let hash = hash_of(suite_id)?;
    let th = transcript_hash(suite_id, transcript)?;
    let mut out = [0u8; 12];
    crypt::prf(hash, master, label, &th, &mut out);
    Some(out)
}

/// TLS 1.2 sealers (client, server) of a suite from a master secret.
pub fn tls12_sealers(
    suite_id: u16,
    master: &[u8; 48],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
    etm: bool,
) -> Option<(Sealer, Sealer)> {
    let Lookup::Supported(s) = suite::lookup(suite_id) else {
        return None;
    };
    let (c, sv) = Protector::tls12(&s, master, client_random, server_random, etm)?;
    Some((Sealer { p: c, seq: 0 }, Sealer { p: sv, seq: 0 }))
}

/// A TLS 1.3 sealer of a suite from a traffic secret.
pub fn tls13_sealer(suite_id: u16, secret: &[u8]) -> Option<Sealer> {
    let Lookup::Supported(s) = suite::lookup(suite_id) else {
        return None;
    };
    Some(Sealer {
        p: Protector::tls13(&s, secret)?,
        seq: 0,
    })
}

/// A record in the clear.
pub fn record(typ: u8, payload: &[u8]) -> Vec<u8> {
    let mut r = vec![typ, 3, 3];
    r.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    r.extend_from_slice(payload);
    r
}

/// A handshake message: type, 3-byte length, body.
pub fn handshake(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![typ];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}

fn extensions_block(exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut block = Vec::new();
    for (t, d) in exts {
        block.extend_from_slice(&t.to_be_bytes());
        block.extend_from_slice(&(d.len() as u16).to_be_bytes());
        block.extend_from_slice(d);
    }
    let mut out = (block.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(&block);
    out
}

/// A ClientHello record offering `suites`, with extensions (type, data).
pub fn client_hello(
    random: &[u8; 32],
    session_id: &[u8],
    suites: &[u16],
    exts: &[(u16, Vec<u8>)],
) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(random);
    b.push(session_id.len() as u8);
    b.extend_from_slice(session_id);
    b.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        b.extend_from_slice(&s.to_be_bytes());
    }
    b.extend_from_slice(&[1, 0]);
    b.extend_from_slice(&extensions_block(exts));
    record(22, &handshake(1, &b))
}

/// A ServerHello record choosing `suite`, with extensions (type, data).
pub fn server_hello(
    random: &[u8; 32],
    session_id: &[u8],
    suite: u16,
    exts: &[(u16, Vec<u8>)],
) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(random);
    b.push(session_id.len() as u8);
    b.extend_from_slice(session_id);
    b.extend_from_slice(&suite.to_be_bytes());
    b.push(0);
    b.extend_from_slice(&extensions_block(exts));
    record(22, &handshake(2, &b))
}

/// A ChangeCipherSpec record.
pub fn change_cipher_spec() -> Vec<u8> {
    record(20, &[1])
}
