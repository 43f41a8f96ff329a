//! A fast keyed hash for the analyzer's per-packet tables (connections, sessions, transfers).
//!
//! std's SipHash-1-3 hashed every 4-tuple a few times per packet and was the largest cost after
//! SHA-256 (about 45 % of the instructions outside SHA-256 on the benchmark capture; see
//! BENCHMARKS.md). This is the folded multiply of foldhash and aHash's fallback: each word is
//! mixed in as `fold(h ^ word, K)`, where `fold` multiplies to 128 bits and xors the halves.
//!
//! Captures are hostile input, so the hash is keyed: every table draws its key from std's
//! `RandomState` (per-process random keys), and the key enters both the start and the end of
//! the hash. Colliding flows cannot be computed in advance from the capture alone.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

const MUL: u64 = 0x9e37_79b9_7f4a_7c15;

#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a).wrapping_mul(u128::from(b));
    (p as u64) ^ ((p >> 64) as u64)
}

/// Builds [`FastHasher`]s with a random key drawn once per table.
#[derive(Debug, Clone, Copy)]
pub struct FastState {
    seed: u64,
    finish: u64,
}

impl Default for FastState {
    fn default() -> Self {
        let random = RandomState::new();
        let seed = random.hash_one(0x5eed_u64);
        let finish = random.hash_one(0xf1_u64) | 1;
        FastState { seed, finish }
    }
}

impl BuildHasher for FastState {
    type Hasher = FastHasher;

    #[inline]
    fn build_hasher(&self) -> FastHasher {
        FastHasher {
            h: self.seed,
            finish: self.finish,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FastHasher {
    h: u64,
    finish: u64,
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        let mut w = [0u8; 8];
        if let Some(dst) = w.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        // The length goes in with the tail, so "ab" and "ab\0" differ.
        self.write_u64(u64::from_le_bytes(w) ^ ((bytes.len() as u64) << 56));
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }

    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.write_u64(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.h = fold(self.h ^ i, MUL);
    }

    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.write_u64(i as u64);
        self.write_u64((i >> 64) as u64);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        fold(self.h, self.finish)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::FlowKey;
    use std::collections::HashSet;
    use std::net::SocketAddr;

    #[test]
    fn equal_keys_hash_alike_and_neighbours_spread() {
        let state = FastState::default();
        let key = |port: u16| {
            let a: SocketAddr = format!("10.0.0.1:{port}").parse().unwrap();
            let b: SocketAddr = "192.0.2.1:21".parse().unwrap();
            FlowKey::new(a, b)
        };
        assert_eq!(state.hash_one(key(4000)), state.hash_one(key(4000)));
        // Consecutive ports (what a client opens) land in distinct buckets of a small table.
        let buckets: HashSet<u64> = (4000..4256)
            .map(|p| state.hash_one(key(p)) & 1023)
            .collect();
        assert!(buckets.len() > 200, "{} buckets of 256", buckets.len());
        // Top bits too (hashbrown's control bytes use them).
        let tops: HashSet<u64> = (4000..4256).map(|p| state.hash_one(key(p)) >> 57).collect();
        assert!(tops.len() > 64, "{} top values", tops.len());
    }

    #[test]
    fn tables_are_keyed_differently() {
        let (a, b) = (FastState::default(), FastState::default());
        let differs = (0u64..16).any(|i| a.hash_one(i) != b.hash_one(i));
        assert!(differs);
    }

    #[test]
    fn byte_strings_of_different_length_differ() {
        let s = FastState::default();
        assert_ne!(s.hash_one(b"ab".as_slice()), s.hash_one(b"ab\0".as_slice()));
        assert_ne!(s.hash_one(b"".as_slice()), s.hash_one(b"\0".as_slice()));
    }
}
