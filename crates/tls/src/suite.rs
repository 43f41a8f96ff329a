//! Cipher suites this crate decrypts, and what each one needs.
//!
//! TLS 1.2 suites (RFC 5246 §6.2.3, RFC 5288 for AES-GCM, RFC 5289 for the ECDHE and SHA-384
//! variants, RFC 7905 for ChaCha20-Poly1305): the bulk cipher, the record MAC (CBC suites only)
//! and the PRF hash (SHA-256, or SHA-384 for the `*_SHA384` suites, RFC 5246 §5).
//! TLS 1.3 suites (RFC 8446 §B.4): the AEAD and the hash of the key schedule.
//!
//! The key exchange (RSA, DHE, ECDHE) does not matter here: the key log gives the master
//! secret or the traffic secrets, which come after it.

/// The bulk cipher of a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bulk {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
    Aes128Cbc,
    Aes256Cbc,
}

impl Bulk {
    pub(crate) fn key_len(self) -> usize {
        match self {
            Bulk::Aes128Gcm | Bulk::Aes128Cbc => 16,
            Bulk::Aes256Gcm | Bulk::Aes256Cbc | Bulk::ChaCha20Poly1305 => 32,
        }
    }

    /// TLS 1.2 `fixed_iv_length` (RFC 5246 §6.3): the GCM salt is 4 bytes (RFC 5288 §3),
    /// ChaCha20's IV is 12 (RFC 7905 §2); CBC in TLS 1.1+ sends its IV in each record.
    pub(crate) fn tls12_fixed_iv_len(self) -> usize {
        match self {
            Bulk::Aes128Gcm | Bulk::Aes256Gcm => 4,
            Bulk::ChaCha20Poly1305 => 12,
            Bulk::Aes128Cbc | Bulk::Aes256Cbc => 0,
        }
    }

    pub(crate) fn is_cbc(self) -> bool {
        matches!(self, Bulk::Aes128Cbc | Bulk::Aes256Cbc)
    }
}

/// The record MAC of a TLS 1.2 CBC suite (RFC 5246 §6.2.3.1); AEAD suites have none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MacAlg {
    None,
    Sha1,
    Sha256,
    Sha384,
}

impl MacAlg {
    pub(crate) fn len(self) -> usize {
        match self {
            MacAlg::None => 0,
            MacAlg::Sha1 => 20,
            MacAlg::Sha256 => 32,
            MacAlg::Sha384 => 48,
        }
    }
}

/// The hash of the TLS 1.2 PRF or of the TLS 1.3 key schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashAlg {
    Sha256,
    Sha384,
}

impl HashAlg {
    pub(crate) fn len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Suite {
    pub id: u16,
    pub tls13: bool,
    pub bulk: Bulk,
    pub mac: MacAlg,
    pub hash: HashAlg,
}

impl Suite {
    /// Plaintext length of a protected TLS 1.2 record of `len` bytes, when it follows from
    /// the length alone (AEAD suites: explicit nonce and tag are fixed; CBC padding is not).
    pub(crate) fn tls12_plaintext_len(&self, len: usize) -> Option<u64> {
        let overhead = match self.bulk {
            Bulk::Aes128Gcm | Bulk::Aes256Gcm => 8 + 16,
            Bulk::ChaCha20Poly1305 => 16,
            Bulk::Aes128Cbc | Bulk::Aes256Cbc => return None,
        };
        len.checked_sub(overhead).map(|n| n as u64)
    }

    /// The smallest protected record this suite can produce (for resynchronisation).
    pub(crate) fn min_record_len(&self) -> usize {
        if self.tls13 {
            // One inner content-type byte and the tag (RFC 8446 §5.2).
            return 17;
        }
        match self.bulk {
            Bulk::Aes128Gcm | Bulk::Aes256Gcm => 24,
            Bulk::ChaCha20Poly1305 => 16,
            // IV and one block holding at least the MAC and the padding length byte.
            Bulk::Aes128Cbc | Bulk::Aes256Cbc => 32,
        }
    }
}

/// What a suite number means to this crate.
pub(crate) enum Lookup {
    Supported(Suite),
    /// Known to IANA but not decrypted here (CCM, CAMELLIA, 3DES, RC4, NULL...).
    Unsupported,
}

pub(crate) fn lookup(id: u16) -> Lookup {
    use Bulk::*;
    use HashAlg::*;
    use MacAlg::{None as NoMac, Sha1 as S1, Sha256 as S256, Sha384 as S384};
    let (tls13, bulk, mac, hash) = match id {
        // TLS 1.3 (RFC 8446 §B.4). TLS_AES_128_CCM_SHA256 (0x1304) and CCM_8 are not here.
        0x1301 => (true, Aes128Gcm, NoMac, Sha256),
        0x1302 => (true, Aes256Gcm, NoMac, Sha384),
        0x1303 => (true, ChaCha20Poly1305, NoMac, Sha256),
        // AES-GCM (RFC 5288, RFC 5289): RSA, DHE_RSA, ECDHE_ECDSA, ECDHE_RSA.
        0x009C | 0x009E | 0xC02B | 0xC02F => (false, Aes128Gcm, NoMac, Sha256),
        0x009D | 0x009F | 0xC02C | 0xC030 => (false, Aes256Gcm, NoMac, Sha384),
        // ChaCha20-Poly1305 (RFC 7905): ECDHE_RSA, ECDHE_ECDSA, DHE_RSA.
        0xCCA8..=0xCCAA => (false, ChaCha20Poly1305, NoMac, Sha256),
        // AES-CBC with HMAC-SHA1: RSA, DHE_RSA, ECDHE_ECDSA, ECDHE_RSA (PRF SHA-256 in 1.2).
        0x002F | 0x0033 | 0xC009 | 0xC013 => (false, Aes128Cbc, S1, Sha256),
        0x0035 | 0x0039 | 0xC00A | 0xC014 => (false, Aes256Cbc, S1, Sha256),
        // AES-CBC with HMAC-SHA256 (RFC 5246 §A.5, RFC 5289).
        0x003C | 0x0067 | 0xC023 | 0xC027 => (false, Aes128Cbc, S256, Sha256),
        0x003D | 0x006B => (false, Aes256Cbc, S256, Sha256),
        // AES-256-CBC with HMAC-SHA384 and the SHA-384 PRF (RFC 5289).
        0xC024 | 0xC028 => (false, Aes256Cbc, S384, Sha384),
        _ => return Lookup::Unsupported,
    };
    Lookup::Supported(Suite {
        id,
        tls13,
        bulk,
        mac,
        hash,
    })
}

/// The IANA name of a cipher suite, or "unknown".
pub fn suite_name(id: u16) -> &'static str {
    tls_parser::TlsCipherSuite::from_id(id)
        .map(|s| s.name)
        .unwrap_or("unknown")
}

/// The name of a protocol version as it appears on the wire.
pub fn version_name(v: u16) -> &'static str {
    match v {
        0x0300 => "SSL 3.0",
        0x0301 => "TLS 1.0",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_from_the_iana_table() {
        assert_eq!(suite_name(0x1301), "TLS_AES_128_GCM_SHA256");
        assert_eq!(suite_name(0xC02F), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
        assert_eq!(suite_name(0xFFFF), "unknown");
    }

    #[test]
    fn sha384_suites_use_the_sha384_prf() {
        for id in [0x1302, 0x009D, 0xC030, 0xC028] {
            let Lookup::Supported(s) = lookup(id) else {
                panic!("{id:#x} unsupported")
            };
            assert_eq!(s.hash, HashAlg::Sha384, "{id:#x}");
        }
        assert!(matches!(lookup(0x1304), Lookup::Unsupported));
    }
}
