//! Key calculation and record protection, built on RustCrypto's crates (nothing hand-rolled).
//!
//! - TLS 1.2 PRF, `P_hash` with HMAC-SHA256 or HMAC-SHA384 (RFC 5246 §5), and the key block
//!   (RFC 5246 §6.3): MAC keys, encryption keys, then fixed IVs, client's first.
//! - TLS 1.2 record protection (RFC 5246 §6.2.3): AEAD with the additional data
//!   `seq_num ‖ type ‖ version ‖ length` (§6.2.3.3) — AES-GCM with a 4-byte salt and an 8-byte
//!   explicit nonce (RFC 5288 §3), ChaCha20-Poly1305 with the IV XOR the sequence number and
//!   no explicit nonce (RFC 7905 §2) — and CBC with an explicit IV (§6.2.3.2), the MAC over the
//!   plaintext (MAC-then-encrypt, §6.2.3.1) or over the IV and ciphertext (encrypt-then-MAC,
//!   RFC 7366 §3). Every MAC, tag and padding byte is checked before a plaintext is returned.
//! - TLS 1.3 (RFC 8446): HKDF-Expand-Label (§7.1), traffic keys and IVs (§7.3), the next
//!   generation of a traffic secret after a KeyUpdate (§7.2), the per-record nonce (§5.3) and
//!   the additional data, which is the record header (§5.2).
//!
//! Decryption is out of place: from the record as it lies in the caller's bytes (or in the
//! partial-record buffer) straight into the buffer that becomes the plaintext event, so a
//! record is copied once, by the cipher.

use crate::suite::{Bulk, HashAlg, MacAlg, Suite};
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use chacha20poly1305::ChaCha20Poly1305;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha384};

/// The record failed authentication (tag, MAC or padding): wrong key or damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AuthFailed;

// ---------------------------------------------------------------------------------------------
// TLS 1.2 PRF (RFC 5246 §5)

fn p_hash<M: Mac + KeyInit + Clone>(secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) {
    let Ok(base) = <M as KeyInit>::new_from_slice(secret) else {
        return; // HMAC takes keys of any length: never reached.
    };
    // A(1) = HMAC(secret, label ‖ seed); A(i) = HMAC(secret, A(i-1)).
    let mut a = {
        let mut m = base.clone();
        m.update(label);
        m.update(seed);
        m.finalize().into_bytes()
    };
    let mut filled = 0;
    while filled < out.len() {
        let mut m = base.clone();
        m.update(&a);
        m.update(label);
        m.update(seed);
        let block = m.finalize().into_bytes();
        for (o, b) in out.iter_mut().skip(filled).zip(block.iter()) {
            *o = *b;
        }
        filled += block.len();
        let mut m = base.clone();
        m.update(&a);
        a = m.finalize().into_bytes();
    }
}

pub(crate) fn prf(hash: HashAlg, secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) {
    match hash {
        HashAlg::Sha256 => p_hash::<Hmac<Sha256>>(secret, label, seed, out),
        HashAlg::Sha384 => p_hash::<Hmac<Sha384>>(secret, label, seed, out),
    }
}

// ---------------------------------------------------------------------------------------------
// TLS 1.3 key schedule (RFC 8446 §7.1, §7.2, §7.3)

/// HKDF-Expand-Label(secret, label, "", out.len()). `None` when the secret is shorter than the
/// hash (a key log line of the wrong suite).
pub(crate) fn hkdf_expand_label(
    hash: HashAlg,
    secret: &[u8],
    label: &[u8],
    out: &mut [u8],
) -> Option<()> {
    // struct { uint16 length; opaque label<7..255> = "tls13 " + Label; opaque context<0..255>; }
    let mut info = Vec::with_capacity(4 + 6 + label.len());
    info.extend_from_slice(&u16::try_from(out.len()).ok()?.to_be_bytes());
    info.push(u8::try_from(6 + label.len()).ok()?);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label);
    info.push(0);
    match hash {
        HashAlg::Sha256 => hkdf::Hkdf::<Sha256>::from_prk(secret)
            .ok()?
            .expand(&info, out)
            .ok(),
        HashAlg::Sha384 => hkdf::Hkdf::<Sha384>::from_prk(secret)
            .ok()?
            .expand(&info, out)
            .ok(),
    }
}

/// The traffic secret after a KeyUpdate (RFC 8446 §7.2).
pub(crate) fn next_traffic_secret(hash: HashAlg, secret: &[u8]) -> Option<Vec<u8>> {
    let mut next = vec![0u8; hash.len()];
    hkdf_expand_label(hash, secret, b"traffic upd", &mut next)?;
    Some(next)
}

// ---------------------------------------------------------------------------------------------
// Record protection

enum Aead {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
}

impl Aead {
    fn new(bulk: Bulk, key: &[u8]) -> Option<Aead> {
        Some(match bulk {
            Bulk::Aes128Gcm => Aead::Aes128(Box::new(Aes128Gcm::new_from_slice(key).ok()?)),
            Bulk::Aes256Gcm => Aead::Aes256(Box::new(Aes256Gcm::new_from_slice(key).ok()?)),
            Bulk::ChaCha20Poly1305 => {
                Aead::ChaCha(Box::new(ChaCha20Poly1305::new_from_slice(key).ok()?))
            }
            Bulk::Aes128Cbc | Bulk::Aes256Cbc => return None,
        })
    }

    /// Checks the tag over `ct`, then decrypts `ct` into `out` (same length).
    fn open(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        ct: &[u8],
        tag: &[u8],
        out: &mut [u8],
    ) -> Result<(), AuthFailed> {
        let buf = InOutBuf::new(ct, out).map_err(|_| AuthFailed)?;
        let tag: &[u8; 16] = tag.try_into().map_err(|_| AuthFailed)?;
        let r = match self {
            Aead::Aes128(c) => c.decrypt_inout_detached(&(*nonce).into(), aad, buf, &(*tag).into()),
            Aead::Aes256(c) => c.decrypt_inout_detached(&(*nonce).into(), aad, buf, &(*tag).into()),
            Aead::ChaCha(c) => c.decrypt_inout_detached(&(*nonce).into(), aad, buf, &(*tag).into()),
        };
        r.map_err(|_| AuthFailed)
    }

    /// Encrypts `buf` in place and returns the tag (tests and benchmarks).
    fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> Option<[u8; 16]> {
        let tag = match self {
            Aead::Aes128(c) => c.encrypt_inout_detached(&(*nonce).into(), aad, buf.into()),
            Aead::Aes256(c) => c.encrypt_inout_detached(&(*nonce).into(), aad, buf.into()),
            Aead::ChaCha(c) => c.encrypt_inout_detached(&(*nonce).into(), aad, buf.into()),
        }
        .ok()?;
        Some(tag.into())
    }
}

fn xor_seq(iv: &[u8; 12], seq: u64) -> [u8; 12] {
    let mut nonce = *iv;
    for (n, s) in nonce.iter_mut().skip(4).zip(seq.to_be_bytes()) {
        *n ^= s;
    }
    nonce
}

/// TLS 1.2 additional data / MAC header: seq_num ‖ type ‖ version ‖ length (RFC 5246 §6.2.3).
fn tls12_header(seq: u64, typ: u8, version: u16, len: usize) -> [u8; 13] {
    let mut h = [0u8; 13];
    h[..8].copy_from_slice(&seq.to_be_bytes());
    h[8] = typ;
    h[9..11].copy_from_slice(&version.to_be_bytes());
    h[11..13].copy_from_slice(&(len as u16).to_be_bytes());
    h
}

#[derive(Clone)]
enum MacKey {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha384(Hmac<Sha384>),
}

impl MacKey {
    fn new(alg: MacAlg, key: &[u8]) -> Option<MacKey> {
        Some(match alg {
            MacAlg::None => return None,
            MacAlg::Sha1 => MacKey::Sha1(<Hmac<Sha1> as KeyInit>::new_from_slice(key).ok()?),
            MacAlg::Sha256 => MacKey::Sha256(<Hmac<Sha256> as KeyInit>::new_from_slice(key).ok()?),
            MacAlg::Sha384 => MacKey::Sha384(<Hmac<Sha384> as KeyInit>::new_from_slice(key).ok()?),
        })
    }

    /// HMAC over the concatenation of `parts`, compared with `expected`.
    fn verify(&self, parts: &[&[u8]], expected: &[u8]) -> bool {
        match self {
            MacKey::Sha1(m) => mac_verify(m.clone(), parts, expected),
            MacKey::Sha256(m) => mac_verify(m.clone(), parts, expected),
            MacKey::Sha384(m) => mac_verify(m.clone(), parts, expected),
        }
    }

    fn compute(&self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<M: Mac>(mut m: M, parts: &[&[u8]]) -> Vec<u8> {
            for p in parts {
                m.update(p);
            }
            m.finalize().into_bytes().to_vec()
        }
        match self {
            MacKey::Sha1(m) => run(m.clone(), parts),
            MacKey::Sha256(m) => run(m.clone(), parts),
            MacKey::Sha384(m) => run(m.clone(), parts),
        }
    }
}

fn mac_verify<M: Mac>(mut m: M, parts: &[&[u8]], expected: &[u8]) -> bool {
    for p in parts {
        m.update(p);
    }
    m.verify_slice(expected).is_ok()
}

enum Kind {
    /// TLS 1.2 AES-GCM: 4-byte salt from the key block, 8-byte explicit nonce per record.
    Tls12Gcm { aead: Aead, salt: [u8; 4] },
    /// TLS 1.2 ChaCha20-Poly1305: 12-byte IV XOR the sequence number.
    Tls12ChaCha { aead: Aead, iv: [u8; 12] },
    /// TLS 1.2 AES-CBC with an HMAC, MAC-then-encrypt or encrypt-then-MAC.
    Tls12Cbc {
        key: Vec<u8>,
        mac: MacKey,
        mac_len: usize,
        etm: bool,
    },
    /// TLS 1.3 AEAD: IV XOR the sequence number, the record header as additional data.
    Tls13 { aead: Aead, iv: [u8; 12] },
}

/// One direction's record protection: keys of one epoch.
pub(crate) struct Protector {
    kind: Kind,
}

/// A record opened: the content type (the inner one in TLS 1.3) and the plaintext length
/// written at the start of the output buffer.
pub(crate) struct Opened {
    pub typ: u8,
    pub len: usize,
}

impl Protector {
    /// TLS 1.2 keys of both directions from the master secret (RFC 5246 §6.3):
    /// `key_block = PRF(master, "key expansion", server_random ‖ client_random)`.
    /// Returns (client_write, server_write).
    pub(crate) fn tls12(
        suite: &Suite,
        master: &[u8; 48],
        client_random: &[u8; 32],
        server_random: &[u8; 32],
        etm: bool,
    ) -> Option<(Protector, Protector)> {
        let mac_len = suite.mac.len();
        let key_len = suite.bulk.key_len();
        let iv_len = suite.bulk.tls12_fixed_iv_len();
        let mut block = vec![0u8; 2 * (mac_len + key_len + iv_len)];
        let mut seed = [0u8; 64];
        seed[..32].copy_from_slice(server_random);
        seed[32..].copy_from_slice(client_random);
        prf(suite.hash, master, b"key expansion", &seed, &mut block);
        let mut rest = block.as_slice();
        let mut take = |n: usize| -> Option<Vec<u8>> {
            let (a, b) = rest.split_at_checked(n)?;
            rest = b;
            Some(a.to_vec())
        };
        let (cmac, smac) = (take(mac_len)?, take(mac_len)?);
        let (ckey, skey) = (take(key_len)?, take(key_len)?);
        let (civ, siv) = (take(iv_len)?, take(iv_len)?);
        let make = |mac: Vec<u8>, key: Vec<u8>, iv: Vec<u8>| -> Option<Protector> {
            let kind = match suite.bulk {
                Bulk::Aes128Gcm | Bulk::Aes256Gcm => Kind::Tls12Gcm {
                    aead: Aead::new(suite.bulk, &key)?,
                    salt: iv.as_slice().try_into().ok()?,
                },
                Bulk::ChaCha20Poly1305 => Kind::Tls12ChaCha {
                    aead: Aead::new(suite.bulk, &key)?,
                    iv: iv.as_slice().try_into().ok()?,
                },
                Bulk::Aes128Cbc | Bulk::Aes256Cbc => Kind::Tls12Cbc {
                    key,
                    mac: MacKey::new(suite.mac, &mac)?,
                    mac_len,
                    etm,
                },
            };
            Some(Protector { kind })
        };
        Some((make(cmac, ckey, civ)?, make(smac, skey, siv)?))
    }

    /// TLS 1.3 keys of one direction from a traffic secret (RFC 8446 §7.3).
    pub(crate) fn tls13(suite: &Suite, secret: &[u8]) -> Option<Protector> {
        let mut key = vec![0u8; suite.bulk.key_len()];
        let mut iv = [0u8; 12];
        hkdf_expand_label(suite.hash, secret, b"key", &mut key)?;
        hkdf_expand_label(suite.hash, secret, b"iv", &mut iv)?;
        Some(Protector {
            kind: Kind::Tls13 {
                aead: Aead::new(suite.bulk, &key)?,
                iv,
            },
        })
    }

    /// Opens one record (`header` is its 5 bytes, `payload` the rest) into `out`, which is
    /// resized as needed; its first `Opened::len` bytes are the plaintext.
    pub(crate) fn open(
        &self,
        seq: u64,
        header: &[u8; 5],
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Opened, AuthFailed> {
        let typ = header[0];
        let version = u16::from_be_bytes([header[1], header[2]]);
        match &self.kind {
            Kind::Tls12Gcm { aead, salt } => {
                let (explicit, rest) = payload.split_at_checked(8).ok_or(AuthFailed)?;
                let ct_len = rest.len().checked_sub(16).ok_or(AuthFailed)?;
                let (ct, tag) = rest.split_at(ct_len);
                let mut nonce = [0u8; 12];
                nonce[..4].copy_from_slice(salt);
                nonce[4..].copy_from_slice(explicit);
                let aad = tls12_header(seq, typ, version, ct_len);
                fit(out, ct_len);
                aead.open(
                    &nonce,
                    &aad,
                    ct,
                    tag,
                    out.get_mut(..ct_len).ok_or(AuthFailed)?,
                )?;
                Ok(Opened { typ, len: ct_len })
            }
            Kind::Tls12ChaCha { aead, iv } => {
                let ct_len = payload.len().checked_sub(16).ok_or(AuthFailed)?;
                let (ct, tag) = payload.split_at(ct_len);
                let aad = tls12_header(seq, typ, version, ct_len);
                fit(out, ct_len);
                let nonce = xor_seq(iv, seq);
                aead.open(
                    &nonce,
                    &aad,
                    ct,
                    tag,
                    out.get_mut(..ct_len).ok_or(AuthFailed)?,
                )?;
                Ok(Opened { typ, len: ct_len })
            }
            Kind::Tls13 { aead, iv } => {
                let ct_len = payload.len().checked_sub(16).ok_or(AuthFailed)?;
                let (ct, tag) = payload.split_at(ct_len);
                fit(out, ct_len);
                let nonce = xor_seq(iv, seq);
                aead.open(
                    &nonce,
                    header,
                    ct,
                    tag,
                    out.get_mut(..ct_len).ok_or(AuthFailed)?,
                )?;
                // TLSInnerPlaintext: content ‖ type ‖ zeros (RFC 8446 §5.2, §5.4).
                let plain = out.get(..ct_len).ok_or(AuthFailed)?;
                let end = plain.iter().rposition(|&b| b != 0).ok_or(AuthFailed)?;
                let inner = *plain.get(end).ok_or(AuthFailed)?;
                Ok(Opened {
                    typ: inner,
                    len: end,
                })
            }
            Kind::Tls12Cbc {
                key,
                mac,
                mac_len,
                etm,
            } => open_cbc(key, mac, *mac_len, *etm, seq, typ, version, payload, out),
        }
    }

    /// Builds one protected record (tests and benchmarks). `typ` is the outer type in TLS 1.2,
    /// the inner one in TLS 1.3 (whose outer type is application_data).
    pub(crate) fn seal(&self, seq: u64, typ: u8, plaintext: &[u8]) -> Option<Vec<u8>> {
        let version = 0x0303u16;
        let mut rec = Vec::with_capacity(plaintext.len() + 5 + 64);
        match &self.kind {
            Kind::Tls12Gcm { aead, salt } => {
                let explicit = seq.to_be_bytes();
                let mut nonce = [0u8; 12];
                nonce[..4].copy_from_slice(salt);
                nonce[4..].copy_from_slice(&explicit);
                let aad = tls12_header(seq, typ, version, plaintext.len());
                let mut buf = plaintext.to_vec();
                let tag = aead.seal(&nonce, &aad, &mut buf)?;
                push_header(&mut rec, typ, 8 + buf.len() + 16)?;
                rec.extend_from_slice(&explicit);
                rec.extend_from_slice(&buf);
                rec.extend_from_slice(&tag);
            }
            Kind::Tls12ChaCha { aead, iv } => {
                let aad = tls12_header(seq, typ, version, plaintext.len());
                let mut buf = plaintext.to_vec();
                let tag = aead.seal(&xor_seq(iv, seq), &aad, &mut buf)?;
                push_header(&mut rec, typ, buf.len() + 16)?;
                rec.extend_from_slice(&buf);
                rec.extend_from_slice(&tag);
            }
            Kind::Tls13 { aead, iv } => {
                let mut buf = plaintext.to_vec();
                buf.push(typ);
                push_header(&mut rec, 23, buf.len() + 16)?;
                let header: [u8; 5] = rec.as_slice().try_into().ok()?;
                let tag = aead.seal(&xor_seq(iv, seq), &header, &mut buf)?;
                rec.extend_from_slice(&buf);
                rec.extend_from_slice(&tag);
            }
            Kind::Tls12Cbc {
                key,
                mac,
                mac_len: _,
                etm,
            } => {
                let iv = {
                    let mut iv = [0x5au8; 16];
                    iv[8..].copy_from_slice(&seq.to_be_bytes());
                    iv
                };
                let mut body = plaintext.to_vec();
                if !etm {
                    let h = tls12_header(seq, typ, version, plaintext.len());
                    body.extend_from_slice(&mac.compute(&[&h, plaintext]));
                }
                let pad = 15 - (body.len() % 16);
                body.extend(std::iter::repeat_n(pad as u8, pad + 1));
                let mut ct = vec![0u8; body.len()];
                cbc_encrypt(key, &iv, &body, &mut ct)?;
                let mut payload = iv.to_vec();
                payload.extend_from_slice(&ct);
                if *etm {
                    let h = tls12_header(seq, typ, version, payload.len());
                    let m = mac.compute(&[&h, &payload]);
                    payload.extend_from_slice(&m);
                }
                push_header(&mut rec, typ, payload.len())?;
                rec.extend_from_slice(&payload);
            }
        }
        Some(rec)
    }
}

fn push_header(rec: &mut Vec<u8>, typ: u8, len: usize) -> Option<()> {
    rec.push(typ);
    rec.extend_from_slice(&[3, 3]);
    rec.extend_from_slice(&u16::try_from(len).ok()?.to_be_bytes());
    Some(())
}

/// Makes `out` exactly `len` bytes long, reusing its allocation.
fn fit(out: &mut Vec<u8>, len: usize) {
    // Only the bytes the cipher overwrites are exposed: resize zero-fills new ones.
    out.clear();
    out.resize(len, 0);
}

fn cbc_decrypt(key: &[u8], iv: &[u8], ct: &[u8], out: &mut [u8]) -> Result<(), AuthFailed> {
    let r = match key.len() {
        16 => cbc::Decryptor::<aes::Aes128>::new_from_slices(key, iv)
            .map_err(|_| AuthFailed)?
            .decrypt_padded_b2b::<NoPadding>(ct, out)
            .map(|_| ()),
        32 => cbc::Decryptor::<aes::Aes256>::new_from_slices(key, iv)
            .map_err(|_| AuthFailed)?
            .decrypt_padded_b2b::<NoPadding>(ct, out)
            .map(|_| ()),
        _ => return Err(AuthFailed),
    };
    r.map_err(|_| AuthFailed)
}

fn cbc_encrypt(key: &[u8], iv: &[u8], pt: &[u8], out: &mut [u8]) -> Option<()> {
    match key.len() {
        16 => cbc::Encryptor::<aes::Aes128>::new_from_slices(key, iv)
            .ok()?
            .encrypt_padded_b2b::<NoPadding>(pt, out)
            .ok()
            .map(|_| ()),
        32 => cbc::Encryptor::<aes::Aes256>::new_from_slices(key, iv)
            .ok()?
            .encrypt_padded_b2b::<NoPadding>(pt, out)
            .ok()
            .map(|_| ()),
        _ => None,
    }
}

/// Checks the TLS CBC padding (RFC 5246 §6.2.3.2): `padlen + 1` bytes all equal to `padlen`.
/// Returns the length before the padding.
fn unpad(plain: &[u8]) -> Result<usize, AuthFailed> {
    let padlen = *plain.last().ok_or(AuthFailed)? as usize;
    let start = plain.len().checked_sub(padlen + 1).ok_or(AuthFailed)?;
    let pad = plain.get(start..).ok_or(AuthFailed)?;
    if pad.iter().all(|&b| b as usize == padlen) {
        Ok(start)
    } else {
        Err(AuthFailed)
    }
}

#[allow(clippy::too_many_arguments)]
fn open_cbc(
    key: &[u8],
    mac: &MacKey,
    mac_len: usize,
    etm: bool,
    seq: u64,
    typ: u8,
    version: u16,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> Result<Opened, AuthFailed> {
    if etm {
        // RFC 7366 §3: MAC(seq ‖ type ‖ version ‖ length ‖ IV ‖ ciphertext), checked first.
        let body_len = payload.len().checked_sub(mac_len).ok_or(AuthFailed)?;
        let (body, tag) = payload.split_at(body_len);
        let h = tls12_header(seq, typ, version, body_len);
        if !mac.verify(&[&h, body], tag) {
            return Err(AuthFailed);
        }
        let (iv, ct) = body.split_at_checked(16).ok_or(AuthFailed)?;
        if ct.is_empty() || ct.len() % 16 != 0 {
            return Err(AuthFailed);
        }
        fit(out, ct.len());
        cbc_decrypt(key, iv, ct, out)?;
        let len = unpad(out)?;
        return Ok(Opened { typ, len });
    }
    // MAC-then-encrypt (RFC 5246 §6.2.3.2): decrypt, check padding, then the MAC over
    // seq ‖ type ‖ version ‖ length ‖ content. A passive reader has no padding oracle to fear,
    // so the checks need not be constant-time.
    let (iv, ct) = payload.split_at_checked(16).ok_or(AuthFailed)?;
    if ct.is_empty() || ct.len() % 16 != 0 {
        return Err(AuthFailed);
    }
    fit(out, ct.len());
    cbc_decrypt(key, iv, ct, out)?;
    let unpadded = unpad(out)?;
    let len = unpadded.checked_sub(mac_len).ok_or(AuthFailed)?;
    let content = out.get(..len).ok_or(AuthFailed)?;
    let tag = out.get(len..unpadded).ok_or(AuthFailed)?;
    let h = tls12_header(seq, typ, version, len);
    if !mac.verify(&[&h, content], tag) {
        return Err(AuthFailed);
    }
    Ok(Opened { typ, len })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8448 §3 (simple 1-RTT handshake): the server handshake traffic secret gives the
    /// published key and IV.
    #[test]
    fn hkdf_expand_label_matches_rfc8448() {
        let secret = hex("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38");
        let mut key = [0u8; 16];
        let mut iv = [0u8; 12];
        hkdf_expand_label(HashAlg::Sha256, &secret, b"key", &mut key).unwrap();
        hkdf_expand_label(HashAlg::Sha256, &secret, b"iv", &mut iv).unwrap();
        assert_eq!(key.to_vec(), hex("3fce516009c21727d0f2e4e86ee403bc"));
        assert_eq!(iv.to_vec(), hex("5d313eb2671276ee13000b30"));
    }

    #[test]
    fn padding_is_checked() {
        assert_eq!(unpad(&[1, 2, 3, 1, 1]), Ok(3));
        assert_eq!(unpad(&[1, 2, 3, 2, 1]), Err(AuthFailed));
        assert_eq!(unpad(&[7]), Err(AuthFailed));
        assert_eq!(unpad(&[0]), Ok(0));
    }
}
