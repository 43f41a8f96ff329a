//! IP fragment reassembly (RFC 791 §3.2 for IPv4, RFC 8200 §4.5 for IPv6), bounded.
//!
//! Datagrams are keyed by (source, destination, identification). A datagram is whole once the
//! last fragment fixed its length and every byte before it arrived; overlapping fragments keep
//! the first copy. Limits cap both the bytes and the datagrams held; a datagram that waits
//! longer than the timeout is dropped and reported.

use crate::decode::Fragment;
use crate::frame::{TimeSpan, Timestamp};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

type Key = (IpAddr, IpAddr, u32);

#[derive(Debug)]
struct Datagram {
    first_ts: Timestamp,
    pieces: BTreeMap<u32, Vec<u8>>,
    total: Option<u32>,
    bytes: usize,
    truncated: bool,
}

/// A datagram made whole: its payload, and whether a snaplen cut left holes in it.
#[derive(Debug)]
pub struct Reassembled {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The contiguous bytes known from offset 0.
    pub payload: Vec<u8>,
    /// The payload's full length on the wire.
    pub wire_len: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub enum DefragOutcome {
    Held,
    /// The fragment was dropped because a limit was reached.
    Overflow,
}

#[derive(Debug, Default)]
pub struct Defragmenter {
    datagrams: HashMap<Key, Datagram>,
    bytes: usize,
}

impl Defragmenter {
    pub fn push(
        &mut self,
        ts: Timestamp,
        frag: &Fragment<'_>,
        max_bytes: usize,
        max_datagrams: usize,
    ) -> Result<Option<Reassembled>, DefragOutcome> {
        let key = (frag.src, frag.dst, frag.id);
        if !self.datagrams.contains_key(&key)
            && (self.datagrams.len() >= max_datagrams
                || self.bytes + frag.payload.len() > max_bytes)
        {
            return Err(DefragOutcome::Overflow);
        }
        if self.bytes + frag.payload.len() > max_bytes {
            return Err(DefragOutcome::Overflow);
        }
        let entry = self.datagrams.entry(key).or_insert_with(|| Datagram {
            first_ts: ts,
            pieces: BTreeMap::new(),
            total: None,
            bytes: 0,
            truncated: false,
        });
        entry.truncated |= frag.truncated;
        if !frag.more {
            entry.total = Some(frag.offset.saturating_add(frag.payload.len() as u32));
        }
        if let std::collections::btree_map::Entry::Vacant(e) = entry.pieces.entry(frag.offset) {
            e.insert(frag.payload.to_vec());
            entry.bytes += frag.payload.len();
            self.bytes += frag.payload.len();
        }
        let Some(total) = entry.total else {
            return Ok(None);
        };
        // Whole when the pieces cover [0, total) without a hole (a truncated fragment leaves
        // one, and so never completes: it times out and is reported).
        let mut cursor = 0u32;
        for (&off, piece) in &entry.pieces {
            if off > cursor {
                return Ok(None);
            }
            cursor = cursor.max(off.saturating_add(piece.len() as u32));
        }
        if cursor < total {
            return Ok(None);
        }
        let Some(dgram) = self.datagrams.remove(&key) else {
            return Ok(None);
        };
        self.bytes -= dgram.bytes;
        let mut payload = Vec::with_capacity(total as usize);
        for (off, piece) in dgram.pieces {
            let have = payload.len() as u32;
            let skip = have.saturating_sub(off) as usize;
            if let Some(rest) = piece.get(skip..) {
                payload.extend_from_slice(rest);
            }
        }
        payload.truncate(total as usize);
        Ok(Some(Reassembled {
            src: frag.src,
            dst: frag.dst,
            payload,
            wire_len: total as usize,
        }))
    }

    /// Drops datagrams older than `timeout`; returns how many.
    pub fn expire(&mut self, now: Timestamp, timeout: TimeSpan) -> usize {
        let before = self.datagrams.len();
        let mut freed = 0;
        self.datagrams.retain(|_, d| {
            let keep = now - d.first_ts <= timeout;
            if !keep {
                freed += d.bytes;
            }
            keep
        });
        self.bytes -= freed;
        before - self.datagrams.len()
    }

    /// Datagrams still waiting for fragments.
    pub fn pending(&self) -> usize {
        self.datagrams.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(offset: u32, more: bool, payload: &[u8]) -> Fragment<'_> {
        Fragment {
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            id: 9,
            offset,
            more,
            payload,
            truncated: false,
        }
    }

    #[test]
    fn reassembles_in_any_order() {
        let mut d = Defragmenter::default();
        assert!(
            d.push(
                Timestamp::from_nanos(0),
                &frag(8, false, b"world"),
                1 << 20,
                10
            )
            .unwrap()
            .is_none()
        );
        let whole = d
            .push(
                Timestamp::from_nanos(0),
                &frag(0, true, b"hello, w"),
                1 << 20,
                10,
            )
            .unwrap()
            .unwrap();
        assert_eq!(whole.payload, b"hello, wworld");
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn limits_and_timeouts() {
        let mut d = Defragmenter::default();
        assert!(
            d.push(
                Timestamp::from_nanos(0),
                &frag(0, true, b"12345678"),
                1 << 20,
                10
            )
            .unwrap()
            .is_none()
        );
        let mut other = frag(0, true, b"x");
        other.id = 10;
        assert_eq!(
            d.push(Timestamp::from_nanos(0), &other, 1 << 20, 1)
                .unwrap_err(),
            DefragOutcome::Overflow
        );
        assert_eq!(
            d.expire(Timestamp::from_nanos(100), TimeSpan::from_nanos(50)),
            1
        );
        assert_eq!(d.pending(), 0);
    }
}
