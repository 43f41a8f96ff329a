//! One direction of a TCP byte stream, rebuilt from segments (RFC 9293 §3.4 and §3.10.7.4).
//!
//! Sequence numbers are 32-bit and wrap; the stream offset is 64-bit and does not. A segment's
//! offset is found from its signed distance to the next expected sequence number, so wraparound
//! needs no special case.
//!
//! Overlap policy: **first copy wins**. Bytes already delivered are never replaced; an
//! out-of-order segment only fills the parts of the hole that no earlier segment covered. When
//! two buffered copies of the same bytes differ, the caller is told (`overlap_mismatch`), so the
//! anomaly can be named. Bytes the capture never saw are delivered as [`Chunk::Gap`]s: when the
//! out-of-order buffer is full, when the connection ends with a hole, and when a segment was cut
//! by the snaplen.
//!
//! Every chunk comes out with a capture time: bytes with the time of the packet that carried
//! them (bytes held behind a hole keep theirs, not the time of the packet that fills the hole
//! minutes later), gaps with the time of the packet or the end that revealed them.

use crate::frame::Timestamp;
use std::collections::BTreeMap;

/// Stream bytes in order, or a run of bytes that were never captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk {
    Data(Vec<u8>),
    Gap(u64),
}

/// A chunk and its capture time (see the module doc), as the reassembler delivers it.
pub type TimedChunk = (Timestamp, Chunk);

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PushOutcome {
    /// The segment overlapped buffered bytes with different content.
    pub overlap_mismatch: bool,
    /// The segment was too far from the expected sequence number and was dropped.
    pub out_of_window: bool,
    /// The out-of-order buffer overflowed and a hole was skipped.
    pub overflow: bool,
    /// Bytes at or after the direction's FIN, dropped: nothing follows a FIN (RFC 9293
    /// §3.10.7.4), and a keep-alive probe after the close carries one garbage byte at the FIN's
    /// sequence number (§3.8.4).
    pub after_fin: u64,
}

#[derive(Debug)]
struct Held {
    /// Captured bytes; shorter than `wire_len` when the snaplen cut the segment.
    data: Vec<u8>,
    wire_len: u64,
    /// When the packet that carried these bytes was captured: they are delivered with it.
    ts: Timestamp,
}

#[derive(Debug)]
pub struct Reassembler {
    started: bool,
    /// Sequence number of the next byte to deliver.
    next_seq: u32,
    /// Stream offset of the next byte to deliver.
    delivered: u64,
    held: BTreeMap<u64, Held>,
    held_bytes: usize,
    fin_at: Option<u64>,
    /// Bytes skipped as gaps so far.
    pub gap_bytes: u64,
}

/// Caps for one direction's out-of-order buffer.
#[derive(Debug, Clone, Copy)]
pub struct ReassemblyLimits {
    pub max_bytes: usize,
    pub max_segments: usize,
    pub max_distance: u32,
}

impl Default for Reassembler {
    fn default() -> Self {
        Self::new()
    }
}

impl Reassembler {
    pub fn new() -> Self {
        Reassembler {
            started: false,
            next_seq: 0,
            delivered: 0,
            held: BTreeMap::new(),
            held_bytes: 0,
            fin_at: None,
            gap_bytes: 0,
        }
    }

    /// A SYN was seen: data starts at `isn + 1`. Ignored once data has been delivered.
    pub fn syn(&mut self, isn: u32) {
        if !self.started || (self.delivered == 0 && self.held.is_empty()) {
            self.started = true;
            self.next_seq = isn.wrapping_add(1);
        }
    }

    pub fn is_started(&self) -> bool {
        self.started
    }

    /// Bytes held out of order right now.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Stream offset of the next byte to deliver (= bytes delivered, gaps included).
    pub fn offset(&self) -> u64 {
        self.delivered
    }

    /// True once the FIN was seen and every byte before it was delivered or skipped.
    pub fn is_finished(&self) -> bool {
        matches!(self.fin_at, Some(fin) if self.delivered >= fin)
    }

    pub fn fin_seen(&self) -> bool {
        self.fin_at.is_some()
    }

    /// Signed distance from the next expected sequence number, as a stream offset.
    fn offset_of(&self, seq: u32) -> i64 {
        self.delivered as i64 + i64::from(seq.wrapping_sub(self.next_seq) as i32)
    }

    /// Records a FIN whose sequence number is `seq` (the FIN comes after `payload_len` bytes).
    pub fn fin(&mut self, seq: u32, payload_len: u32) {
        if !self.started {
            self.started = true;
            self.next_seq = seq;
        }
        let at = self.offset_of(seq.wrapping_add(payload_len));
        if at >= 0 && self.fin_at.is_none() {
            self.fin_at = Some(at as u64);
        }
    }

    /// The common case of [`Reassembler::push`], without copying: a segment that starts at or
    /// before the next expected byte and ends after it, every byte captured, nothing held out
    /// of order. Its new bytes are delivered at once: returns where they start in `payload`
    /// (what `push` would have appended as one data chunk). `None`, with nothing changed, for
    /// every other segment: give it to `push`.
    pub fn push_in_order(
        &mut self,
        seq: u32,
        payload: &[u8],
        wire_len: u32,
        max_distance: u32,
    ) -> Option<usize> {
        if !self.started
            || !self.held.is_empty()
            || payload.len() != wire_len as usize
            || self.fin_at.is_some()
        {
            return None;
        }
        let distance = seq.wrapping_sub(self.next_seq) as i32;
        if distance > 0 || distance.unsigned_abs() > max_distance {
            return None;
        }
        // Bytes of the segment already delivered (a partial retransmission).
        let skip = distance.unsigned_abs() as usize;
        if skip >= payload.len() || skip as u64 > self.delivered {
            return None;
        }
        let advanced = payload.len() - skip;
        self.delivered += advanced as u64;
        self.next_seq = self.next_seq.wrapping_add(advanced as u32);
        Some(skip)
    }

    /// Takes one segment captured at `ts`; whatever becomes contiguous is appended to `out`.
    pub fn push(
        &mut self,
        seq: u32,
        payload: &[u8],
        wire_len: u32,
        ts: Timestamp,
        limits: ReassemblyLimits,
        out: &mut Vec<TimedChunk>,
    ) -> PushOutcome {
        let mut outcome = PushOutcome::default();
        if wire_len == 0 {
            return outcome;
        }
        if !self.started {
            // Picked up mid-stream: the first byte seen is offset 0.
            self.started = true;
            self.next_seq = seq;
        }
        let distance = seq.wrapping_sub(self.next_seq) as i32;
        if distance.unsigned_abs() > limits.max_distance {
            outcome.out_of_window = true;
            return outcome;
        }
        let start = self.offset_of(seq);
        let mut end = start + i64::from(wire_len);
        let mut payload = payload;
        if let Some(fin) = self.fin_at.map(|f| f as i64)
            && end > fin
        {
            // Past the FIN: not stream bytes (a keep-alive probe, or a broken sender).
            outcome.after_fin = (end - start.max(fin)) as u64;
            if start >= fin {
                return outcome;
            }
            let kept = (fin - start) as usize;
            payload = payload.get(..kept.min(payload.len())).unwrap_or(payload);
            end = fin;
        }
        if end <= self.delivered as i64 {
            return outcome; // a retransmission of bytes already delivered
        }
        let start = start.max(0) as u64;
        let end = end as u64;
        let captured = payload.len() as u64;
        if start <= self.delivered {
            // In order (perhaps overlapping what was delivered): deliver the new part now.
            let skip = self.delivered - start;
            self.emit(payload, skip, captured, end - start, ts, out);
            self.drain(out);
        } else {
            self.hold(start, payload, end - start, ts, &mut outcome);
            if self.held_bytes > limits.max_bytes || self.held.len() > limits.max_segments {
                outcome.overflow = true;
                while self.held_bytes > limits.max_bytes / 2
                    || self.held.len() > limits.max_segments / 2
                {
                    if !self.skip_to_next_held(ts, out) {
                        break;
                    }
                }
            }
        }
        outcome
    }

    /// The peer acknowledged everything before `ack`. If bytes are held beyond a hole that the
    /// acknowledgement covers, the capture missed them (the peer got them): the covered part
    /// of the hole becomes a gap at once instead of waiting for the connection to end. `ts`
    /// is the acknowledgement's capture time, the gap's.
    pub fn ack(&mut self, ack: u32, ts: Timestamp, max_distance: u32, out: &mut Vec<TimedChunk>) {
        if !self.started || self.held.is_empty() {
            return;
        }
        let distance = ack.wrapping_sub(self.next_seq) as i32;
        if distance <= 0 || distance.unsigned_abs() > max_distance {
            return;
        }
        let acked = self.delivered + u64::from(distance.unsigned_abs());
        let Some((&first, _)) = self.held.first_key_value() else {
            return;
        };
        let lost_until = acked.min(first);
        if lost_until > self.delivered {
            self.gap(lost_until - self.delivered, ts, out);
            self.drain(out);
        }
    }

    /// Delivers everything held, skipping holes, then the missing tail before a FIN. Called
    /// when the connection ends, at `ts` (the time of the gaps).
    pub fn flush(&mut self, ts: Timestamp, out: &mut Vec<TimedChunk>) {
        while self.skip_to_next_held(ts, out) {}
        if let Some(fin) = self.fin_at
            && fin > self.delivered
        {
            self.gap(fin - self.delivered, ts, out);
        }
    }

    /// Emits bytes `[from, wire_len)` of a segment captured at `ts` whose first `captured`
    /// bytes are known.
    fn emit(
        &mut self,
        data: &[u8],
        from: u64,
        captured: u64,
        wire_len: u64,
        ts: Timestamp,
        out: &mut Vec<TimedChunk>,
    ) {
        if from < captured {
            let bytes = data.get(from as usize..captured as usize).unwrap_or(&[]);
            push_data(out, ts, bytes);
        }
        let known = captured.max(from);
        if wire_len > known {
            self.gap_bytes += wire_len - known;
            push_gap(out, ts, wire_len - known);
        }
        let advanced = wire_len - from;
        self.delivered += advanced;
        self.next_seq = self.next_seq.wrapping_add(advanced as u32);
    }

    fn gap(&mut self, len: u64, ts: Timestamp, out: &mut Vec<TimedChunk>) {
        self.gap_bytes += len;
        push_gap(out, ts, len);
        self.delivered += len;
        self.next_seq = self.next_seq.wrapping_add(len as u32);
    }

    /// Delivers held segments that are now contiguous, each with its own capture time.
    fn drain(&mut self, out: &mut Vec<TimedChunk>) {
        while let Some(entry) = self.held.first_entry() {
            let start = *entry.key();
            if start > self.delivered {
                break;
            }
            let held = entry.remove();
            self.held_bytes -= held.data.len();
            let end = start + held.wire_len;
            if end <= self.delivered {
                continue;
            }
            let skip = self.delivered - start;
            self.emit(
                &held.data,
                skip,
                held.data.len() as u64,
                held.wire_len,
                held.ts,
                out,
            );
        }
    }

    /// Skips the hole before the first held segment (as a gap at `ts`) and drains. False if
    /// none held.
    fn skip_to_next_held(&mut self, ts: Timestamp, out: &mut Vec<TimedChunk>) -> bool {
        let Some((&start, _)) = self.held.first_key_value() else {
            return false;
        };
        if start > self.delivered {
            self.gap(start - self.delivered, ts, out);
        }
        self.drain(out);
        true
    }

    /// Buffers an out-of-order segment captured at `ts`, keeping only the parts no held
    /// segment covers yet.
    fn hold(
        &mut self,
        start: u64,
        data: &[u8],
        wire_len: u64,
        ts: Timestamp,
        outcome: &mut PushOutcome,
    ) {
        let end = start + wire_len;
        // Held segments that overlap [start, end), in order (at most one starts before `start`).
        let mut covered: Vec<(u64, u64)> = Vec::new();
        let before = self.held.range(..start).next_back();
        let overlapping = before
            .into_iter()
            .chain(self.held.range(start..end))
            .filter(|(s, h)| **s + h.wire_len > start && **s < end);
        for (&s, h) in overlapping {
            let (lo, hi) = (s.max(start), (s + h.wire_len).min(end));
            if differs(h, s, data, start, lo, hi) {
                outcome.overlap_mismatch = true;
            }
            covered.push((lo, hi));
        }
        let mut cursor = start;
        let mut pieces = Vec::new();
        for (lo, hi) in covered {
            if lo > cursor {
                pieces.push((cursor, lo));
            }
            cursor = cursor.max(hi);
        }
        if cursor < end {
            pieces.push((cursor, end));
        }
        for (lo, hi) in pieces {
            let from = (lo - start) as usize;
            let to = ((hi - start) as usize).min(data.len());
            let bytes = data.get(from..to.max(from)).unwrap_or(&[]).to_vec();
            self.held_bytes += bytes.len();
            self.held.insert(
                lo,
                Held {
                    data: bytes,
                    wire_len: hi - lo,
                    ts,
                },
            );
        }
    }
}

/// True when the captured bytes of `held` (at `held_start`) and `data` (at `start`) differ
/// somewhere in `[lo, hi)`.
fn differs(held: &Held, held_start: u64, data: &[u8], start: u64, lo: u64, hi: u64) -> bool {
    let a_end = (held_start + held.data.len() as u64).min(hi);
    let b_end = (start + data.len() as u64).min(hi);
    let common_end = a_end.min(b_end);
    if common_end <= lo {
        return false;
    }
    let a = held
        .data
        .get((lo - held_start) as usize..(common_end - held_start) as usize);
    let b = data.get((lo - start) as usize..(common_end - start) as usize);
    a != b
}

/// Appends bytes captured at `ts`, joined to the last chunk when it holds bytes of that time.
fn push_data(out: &mut Vec<TimedChunk>, ts: Timestamp, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    match out.last_mut() {
        Some((last_ts, Chunk::Data(last))) if *last_ts == ts => last.extend_from_slice(bytes),
        _ => out.push((ts, Chunk::Data(bytes.to_vec()))),
    }
}

/// Appends a gap revealed at `ts`, joined to the last chunk when it is a gap of that time.
fn push_gap(out: &mut Vec<TimedChunk>, ts: Timestamp, len: u64) {
    match out.last_mut() {
        Some((last_ts, Chunk::Gap(last))) if *last_ts == ts => *last += len,
        _ => out.push((ts, Chunk::Gap(len))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ReassemblyLimits = ReassemblyLimits {
        max_bytes: 1 << 20,
        max_segments: 1000,
        max_distance: 1 << 30,
    };

    fn collect(chunks: &[TimedChunk]) -> (Vec<u8>, u64) {
        let mut data = Vec::new();
        let mut gaps = 0;
        for (_, c) in chunks {
            match c {
                Chunk::Data(d) => data.extend_from_slice(d),
                Chunk::Gap(g) => gaps += g,
            }
        }
        (data, gaps)
    }

    fn run(isn: u32, segments: &[(u32, &[u8])]) -> (Vec<u8>, u64, PushOutcome) {
        let mut r = Reassembler::new();
        r.syn(isn);
        let mut out = Vec::new();
        let mut any = PushOutcome::default();
        for (off, data) in segments {
            let o = r.push(
                isn.wrapping_add(1).wrapping_add(*off),
                data,
                data.len() as u32,
                Timestamp::from_nanos(0),
                LIMITS,
                &mut out,
            );
            any.overlap_mismatch |= o.overlap_mismatch;
            any.overflow |= o.overflow;
        }
        r.flush(Timestamp::from_nanos(0), &mut out);
        let (d, g) = collect(&out);
        (d, g, any)
    }

    #[test]
    fn in_order_reordered_and_duplicated_give_the_same_stream() {
        let cases: &[&[(u32, &[u8])]] = &[
            &[(0, b"hello "), (6, b"world")],
            &[(6, b"world"), (0, b"hello ")],
            &[(0, b"hello "), (0, b"hello "), (6, b"world"), (6, b"world")],
            &[(3, b"lo wo"), (0, b"hel"), (8, b"rld")],
            &[(0, b"hello world"), (2, b"llo")],
        ];
        for segs in cases {
            let (data, gaps, o) = run(1000, segs);
            assert_eq!(data, b"hello world", "{segs:?}");
            assert_eq!(gaps, 0);
            assert!(!o.overlap_mismatch);
        }
    }

    #[test]
    fn sequence_wraparound() {
        let isn = u32::MAX - 3;
        let (data, gaps, _) = run(isn, &[(0, b"abcdef"), (6, b"ghij")]);
        assert_eq!(data, b"abcdefghij");
        assert_eq!(gaps, 0);
        let (data, _, _) = run(isn, &[(6, b"ghij"), (0, b"abcdef")]);
        assert_eq!(data, b"abcdefghij");
    }

    #[test]
    fn dropped_segment_becomes_a_counted_gap() {
        let (data, gaps, _) = run(5, &[(0, b"aaaa"), (8, b"cccc")]);
        assert_eq!(data, b"aaaacccc");
        assert_eq!(gaps, 4);
    }

    #[test]
    fn missing_tail_before_fin_is_a_gap() {
        let mut r = Reassembler::new();
        r.syn(0);
        let mut out = Vec::new();
        r.push(1, b"abcd", 4, Timestamp::from_nanos(0), LIMITS, &mut out);
        r.fin(1 + 10, 0); // FIN after 10 bytes, 6 never captured
        r.flush(Timestamp::from_nanos(0), &mut out);
        assert_eq!(collect(&out), (b"abcd".to_vec(), 6));
        assert!(r.is_finished());
    }

    #[test]
    fn nothing_after_the_fin_is_stream_data() {
        let mut r = Reassembler::new();
        r.syn(0);
        let mut out = Vec::new();
        r.push(
            1,
            b"QUIT\r\n",
            6,
            Timestamp::from_nanos(0),
            LIMITS,
            &mut out,
        );
        r.fin(7, 0);
        assert!(r.is_finished());
        // A keep-alive probe: one byte at the FIN's sequence number.
        let outcome = r.push(7, b"\0", 1, Timestamp::from_nanos(0), LIMITS, &mut out);
        assert_eq!(outcome.after_fin, 1);
        // A segment that runs past the FIN keeps only its bytes before it.
        let mut r2 = Reassembler::new();
        r2.syn(0);
        r2.fin(5, 0);
        let mut out2 = Vec::new();
        let outcome = r2.push(1, b"abcdef", 6, Timestamp::from_nanos(0), LIMITS, &mut out2);
        assert_eq!(outcome.after_fin, 2);
        assert_eq!(collect(&out2), (b"abcd".to_vec(), 0));
        assert_eq!(collect(&out), (b"QUIT\r\n".to_vec(), 0));
        assert_eq!(r.offset(), 6);
    }

    #[test]
    fn overlap_with_different_bytes_keeps_first_copy() {
        let (data, _, o) = run(0, &[(4, b"XXXX"), (2, b"yyyyyy"), (0, b"zz")]);
        assert_eq!(data, b"zzyyXXXX");
        assert!(o.overlap_mismatch);
    }

    #[test]
    fn snaplen_cut_segment_counts_missing_bytes() {
        let mut r = Reassembler::new();
        r.syn(0);
        let mut out = Vec::new();
        r.push(1, b"ab", 6, Timestamp::from_nanos(0), LIMITS, &mut out);
        r.push(7, b"cd", 2, Timestamp::from_nanos(0), LIMITS, &mut out);
        assert_eq!(collect(&out), (b"abcd".to_vec(), 4));
    }

    #[test]
    fn overflow_skips_hole_and_stays_bounded() {
        let limits = ReassemblyLimits {
            max_bytes: 100,
            max_segments: 10,
            max_distance: 1 << 30,
        };
        let mut r = Reassembler::new();
        r.syn(0);
        let mut out = Vec::new();
        let mut overflowed = false;
        for i in 0..50u32 {
            let o = r.push(
                1 + 10 + i * 10,
                &[b'x'; 10],
                10,
                Timestamp::from_nanos(0),
                limits,
                &mut out,
            );
            overflowed |= o.overflow;
            assert!(r.held_bytes() <= 110);
        }
        assert!(overflowed);
        r.flush(Timestamp::from_nanos(0), &mut out);
        let (data, gaps) = collect(&out);
        assert_eq!(gaps, 10);
        assert_eq!(data.len(), 500);
    }

    #[test]
    fn ack_past_a_hole_skips_it_at_once() {
        let mut r = Reassembler::new();
        r.syn(0);
        let mut out = Vec::new();
        r.push(1, b"aaaa", 4, Timestamp::from_nanos(0), LIMITS, &mut out);
        r.push(9, b"cccc", 4, Timestamp::from_nanos(0), LIMITS, &mut out);
        r.ack(5, Timestamp::from_nanos(0), 1 << 30, &mut out); // acks only what we have: nothing to do
        assert_eq!(collect(&out), (b"aaaa".to_vec(), 0));
        r.ack(13, Timestamp::from_nanos(0), 1 << 30, &mut out); // the peer got bytes 5..9 we never saw
        assert_eq!(collect(&out), (b"aaaacccc".to_vec(), 4));
        assert_eq!(r.held_bytes(), 0);
    }

    #[test]
    fn bytes_held_behind_a_hole_keep_their_capture_time() {
        let mut r = Reassembler::new();
        r.syn(0);
        let mut out = Vec::new();
        r.push(1, b"aaaa", 4, Timestamp::from_nanos(10), LIMITS, &mut out);
        // Captured at 20 and 30 behind a hole at 5..9; the hole is filled at 40.
        r.push(9, b"cccc", 4, Timestamp::from_nanos(20), LIMITS, &mut out);
        r.push(13, b"dd", 2, Timestamp::from_nanos(30), LIMITS, &mut out);
        r.push(5, b"bbbb", 4, Timestamp::from_nanos(40), LIMITS, &mut out);
        assert_eq!(
            out,
            vec![
                (Timestamp::from_nanos(10), Chunk::Data(b"aaaa".to_vec())),
                (Timestamp::from_nanos(40), Chunk::Data(b"bbbb".to_vec())),
                (Timestamp::from_nanos(20), Chunk::Data(b"cccc".to_vec())),
                (Timestamp::from_nanos(30), Chunk::Data(b"dd".to_vec())),
            ]
        );
        // A hole the capture never fills: the gap takes the time that revealed it (the
        // acknowledgement at 60), the bytes after it keep theirs.
        r.push(19, b"ff", 2, Timestamp::from_nanos(50), LIMITS, &mut out);
        out.clear();
        r.ack(21, Timestamp::from_nanos(60), 1 << 30, &mut out);
        assert_eq!(
            out,
            vec![
                (Timestamp::from_nanos(60), Chunk::Gap(4)),
                (Timestamp::from_nanos(50), Chunk::Data(b"ff".to_vec()))
            ]
        );
    }

    #[test]
    fn midstream_pickup_starts_at_first_segment() {
        let mut r = Reassembler::new();
        let mut out = Vec::new();
        r.push(777, b"abc", 3, Timestamp::from_nanos(0), LIMITS, &mut out);
        r.push(780, b"def", 3, Timestamp::from_nanos(0), LIMITS, &mut out);
        assert_eq!(collect(&out), (b"abcdef".to_vec(), 0));
    }

    /// `push_in_order` first, then `push` when it declines, gives the same stream, gaps and
    /// state as `push` alone, whatever the order, overlaps, duplicates and snaplen cuts.
    #[test]
    fn in_order_fast_path_matches_push() {
        let stream: Vec<u8> = (0..4000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut took_fast = 0;
        for round in 0..300 {
            let isn = if round % 3 == 0 {
                u32::MAX - 1500
            } else {
                next(1 << 32) as u32
            };
            let (mut plain, mut fast) = (Reassembler::new(), Reassembler::new());
            if round % 5 != 0 {
                plain.syn(isn);
                fast.syn(isn);
            }
            let (mut out_plain, mut out_fast) = (Vec::new(), Vec::new());
            let mut cursor = 0usize;
            for _ in 0..60 {
                // Half the rounds run mostly in order (the fast path's case), with some
                // retransmissions; the others jump anywhere.
                let start = if round % 2 == 0 && next(8) != 0 {
                    cursor.saturating_sub(next(3) as usize * 40).min(3900)
                } else {
                    next(3900) as usize
                };
                let len = 1 + next(300) as usize;
                let end = (start + len).min(stream.len());
                let wire = (end - start) as u32;
                // Now and then the snaplen cut the segment.
                let captured = if next(10) == 0 {
                    (end - start) / 2
                } else {
                    end - start
                };
                cursor = cursor.max(end);
                let payload = &stream[start..start + captured];
                let seq = isn.wrapping_add(1).wrapping_add(start as u32);
                plain.push(
                    seq,
                    payload,
                    wire,
                    Timestamp::from_nanos(0),
                    LIMITS,
                    &mut out_plain,
                );
                match fast.push_in_order(seq, payload, wire, LIMITS.max_distance) {
                    Some(skip) => {
                        took_fast += 1;
                        push_data(&mut out_fast, Timestamp::from_nanos(0), &payload[skip..]);
                    }
                    None => {
                        fast.push(
                            seq,
                            payload,
                            wire,
                            Timestamp::from_nanos(0),
                            LIMITS,
                            &mut out_fast,
                        );
                    }
                }
                assert_eq!(collect(&out_plain), collect(&out_fast), "round {round}");
                assert_eq!(plain.offset(), fast.offset());
                assert_eq!(plain.held_bytes(), fast.held_bytes());
                assert_eq!(plain.gap_bytes, fast.gap_bytes);
            }
            plain.flush(Timestamp::from_nanos(0), &mut out_plain);
            fast.flush(Timestamp::from_nanos(0), &mut out_fast);
            assert_eq!(collect(&out_plain), collect(&out_fast), "round {round}");
        }
        assert!(took_fast > 500, "fast path taken {took_fast} times");
    }

    #[test]
    fn in_order_fast_path_takes_the_common_case_only() {
        let mut r = Reassembler::new();
        r.syn(99);
        assert_eq!(r.push_in_order(100, b"abcd", 4, 1 << 30), Some(0));
        assert_eq!(r.push_in_order(102, b"cdef", 4, 1 << 30), Some(2)); // partial overlap
        assert_eq!(r.offset(), 6);
        assert_eq!(r.push_in_order(100, b"abcd", 4, 1 << 30), None); // old retransmission
        assert_eq!(r.push_in_order(110, b"xy", 2, 1 << 30), None); // a hole before it
        assert_eq!(r.push_in_order(106, b"gh", 4, 1 << 30), None); // snaplen cut
        let mut out = Vec::new();
        r.push(110, b"xy", 2, Timestamp::from_nanos(0), LIMITS, &mut out);
        assert_eq!(r.push_in_order(106, b"ghij", 4, 1 << 30), None); // bytes held: push drains
        assert_eq!(r.offset(), 6);
        let mut fresh = Reassembler::new();
        assert_eq!(fresh.push_in_order(5, b"ab", 2, 1 << 30), None); // not started: push decides
    }

    #[test]
    fn far_segment_is_out_of_window() {
        let limits = ReassemblyLimits {
            max_bytes: 100,
            max_segments: 10,
            max_distance: 1000,
        };
        let mut r = Reassembler::new();
        r.syn(0);
        let mut out = Vec::new();
        assert!(
            r.push(
                1_000_000,
                b"x",
                1,
                Timestamp::from_nanos(0),
                limits,
                &mut out
            )
            .out_of_window
        );
        assert!(out.is_empty());
    }
}
