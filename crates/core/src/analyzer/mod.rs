//! The analyzer: frames in, events out. It owns the flow table and every FTP session and
//! transfer, and it never reads a clock: packet time is the only time.
//!
//! Call order: [`Analyzer::handle_frame`] for each frame (timestamps may go backwards; the
//! clock only moves forward), [`Analyzer::handle_timeout`] when time passes with no frames (live
//! capture), [`Analyzer::finish`] once at the end, and [`Analyzer::poll_event`] after each call
//! until it returns `None`.

use crate::decode::{Decoded, TcpSegment, decode, decode_tcp};
use crate::defrag::Defragmenter;
use crate::event::{
    Anomaly, AnomalyKind, AttemptCount, ConnectionAttempts, EndReason, Event, FrameSpan, SessionId,
    TransferId,
};
use crate::fasthash::FastState;
use crate::flow::reassembly::{Chunk, ReassemblyLimits, TimedChunk};
use crate::flow::{Conn, Dir, FlowKey, PerDir, QuietConn, QuietFin, Role, guess_initiator};
use crate::frame::{Frame, TimeSpan, Timestamp};
use crate::ftp::expect::ExpectationTable;
use crate::ftp::session::{DialogueAction, Session, SessionState};
use crate::ftp::transfer::Transfer;
use crate::ftps::FtpsLayer;
use crate::limits::{Limits, SECOND};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

/// A lookup that cannot fail unless the analyzer has a bug (the entry is held by the caller, or
/// nothing since it was could have removed it): its value, or else a failed `debug_assert!`,
/// loud in debug builds, tests and fuzzing, and in release the quiet `fallback` (`return` when
/// none is given), as before. Lookups that may fail by design say why beside their `else`.
macro_rules! present {
    ($lookup:expr, $what:literal) => {
        present!($lookup, $what, return)
    };
    ($lookup:expr, $what:literal, $fallback:expr) => {
        match $lookup {
            Some(found) => found,
            None => {
                debug_assert!(
                    false,
                    concat!($what, " vanished: an analyzer invariant broke")
                );
                $fallback
            }
        }
    };
}

mod classify;
mod control;
mod data;
mod ftps;

use data::DataPiece;

/// Counters for the summary and the status bar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub frames: u64,
    /// Bytes on the wire (orig_len) and bytes captured.
    pub wire_bytes: u64,
    pub captured_bytes: u64,
    pub tcp_segments: u64,
    pub not_tcp: u64,
    pub connections: u64,
    pub sessions: u64,
    pub transfers: u64,
    /// Connection attempts (SYNs never answered, or refused), per server.
    pub connection_attempts: ConnectionAttempts,
    /// Per [`AnomalyKind::index`]: how many happened (events may have been capped).
    pub anomalies: Vec<u64>,
}

impl Stats {
    pub fn anomaly_count(&self, kind: AnomalyKind) -> u64 {
        self.anomalies.get(kind.index()).copied().unwrap_or(0)
    }
}

pub struct Analyzer {
    limits: Limits,
    /// Connections that carried payload, and data connections (linked when they open). One
    /// leaves only through `remove_conn` (from `admit`, `close_conn`, `evict_empty`, `sweep`)
    /// and `finish`, never while bytes, lines or TLS events are handled.
    flows: HashMap<FlowKey, Conn, FastState>,
    /// Connections that have carried no payload yet, in 48 bytes each instead of a `Conn`'s
    /// 296 (two reassemblers, both endpoints): a SYN flood fills this table, not `flows`. The
    /// first payload byte moves a connection to `flows` ([`Analyzer::wake`]), and only then does
    /// a connection to port 21 become an FTP session. Never shares a key with `flows`.
    quiet: HashMap<FlowKey, QuietConn, FastState>,
    /// Closed connections, remembered for [`CLOSED_LINGER`] by key and last packet time only:
    /// enough to drop their late ACKs and retransmissions instead of opening a new connection,
    /// and to take a SYN on the same 4-tuple as a new one (or as the same attempt, see
    /// [`Closed::attempt`]). A busy capture closes hundreds of connections a second, so no more
    /// than that is kept. Counted with `flows` and `quiet` against `Limits::max_flows`.
    closed: HashMap<FlowKey, Closed, FastState>,
    /// One leaves only in `end_session`: from `close_conn`, once its connection is no longer
    /// `Role::Control`, and from `finish`.
    sessions: HashMap<SessionId, Session, FastState>,
    /// One leaves only in `end_transfer`, which feeding it almost anything may reach.
    transfers: HashMap<TransferId, Transfer, FastState>,
    /// Live sessions per pair of host addresses (lower address first), so a connection that is
    /// not FTP can be judged a data connection between FTP hosts without scanning every session.
    ftp_host_pairs: HashMap<(IpAddr, IpAddr), u32, FastState>,
    expectations: ExpectationTable,
    defrag: Defragmenter,
    events: VecDeque<Event>,
    stats: Stats,
    now: Option<Timestamp>,
    /// The number of the frame being handled ([`Frame::number`], or the analyzer's count).
    frame_number: u64,
    last_sweep: Timestamp,
    next_session: SessionId,
    next_transfer: TransferId,
    ooo_total: usize,
    finished: bool,
    /// Emptied `TransferData` buffers given back by [`Analyzer::recycle`], reused for the next
    /// in-order segments instead of allocating.
    spare_buffers: Vec<Vec<u8>>,
    /// What a session said for its last command or reply, applied and emptied at once: kept to
    /// reuse its room, as every line of every session passes through it.
    dialogue: Vec<DialogueAction>,
    /// FTPS: the keys every connection's TLS shares (`crate::ftps::FtpsLayer`); what its
    /// events ask is wired by `Analyzer::wire_ftps`.
    ftps: FtpsLayer,
}

/// What is remembered of a closed connection.
#[derive(Debug, Clone, Copy)]
struct Closed {
    last_ts: Timestamp,
    /// It was a connection attempt, counted: a SYN retried on the same 4-tuple is the same
    /// attempt, not another.
    attempt: bool,
}

/// Buffers kept by [`Analyzer::recycle`], and the largest one kept.
const SPARE_BUFFERS: usize = 16;
const SPARE_BUFFER_MAX: usize = 64 << 10;

/// How long a closed connection is remembered, so its last ACKs do not open a new one.
const CLOSED_LINGER: TimeSpan = TimeSpan::from_secs(30);

/// The key of [`Analyzer::ftp_host_pairs`]: two hosts, in either order.
fn host_pair(a: IpAddr, b: IpAddr) -> (IpAddr, IpAddr) {
    if a <= b { (a, b) } else { (b, a) }
}

impl Default for Analyzer {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl Analyzer {
    pub fn new(limits: Limits) -> Self {
        Analyzer {
            limits,
            flows: HashMap::default(),
            quiet: HashMap::default(),
            closed: HashMap::default(),
            sessions: HashMap::default(),
            transfers: HashMap::default(),
            ftp_host_pairs: HashMap::default(),
            expectations: ExpectationTable::default(),
            defrag: Defragmenter::default(),
            events: VecDeque::new(),
            stats: Stats {
                anomalies: vec![0; AnomalyKind::ALL.len()],
                ..Stats::default()
            },
            now: None,
            frame_number: 0,
            last_sweep: Timestamp::EPOCH,
            next_session: 0,
            next_transfer: 0,
            ooo_total: 0,
            finished: false,
            spare_buffers: Vec::new(),
            dialogue: Vec::new(),
            ftps: FtpsLayer::default(),
        }
    }

    /// Gives back the buffer of an [`Event::TransferData`] once its bytes were used: the next
    /// in-order segment is copied into it instead of a new allocation. Optional; at most
    /// `SPARE_BUFFERS` small buffers are kept.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.spare_buffers.len() < SPARE_BUFFERS && buf.capacity() <= SPARE_BUFFER_MAX {
            buf.clear();
            self.spare_buffers.push(buf);
        }
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Connections, sessions and transfers in flight (for memory checks and the status bar).
    pub fn in_flight(&self) -> (usize, usize, usize) {
        (
            self.flows.len() + self.quiet.len(),
            self.sessions.len(),
            self.transfers.len(),
        )
    }

    /// Where the dialogue of session `id` stands, while it runs (None once it ended): what a
    /// status line may show, and what the conversation tests check each transition by.
    pub fn session_state(&self, id: SessionId) -> Option<SessionState> {
        self.sessions.get(&id).map(Session::state)
    }

    fn emit(&mut self, event: Event) {
        self.events.push_back(event);
    }

    fn anomaly(
        &mut self,
        kind: AnomalyKind,
        ts: Timestamp,
        session: Option<SessionId>,
        flow: Option<(SocketAddr, SocketAddr)>,
        detail: String,
    ) {
        let count = match self.stats.anomalies.get_mut(kind.index()) {
            Some(c) => {
                *c += 1;
                *c
            }
            None => return,
        };
        if count <= self.limits.anomaly_events_per_kind {
            self.emit(Event::Anomaly(Anomaly {
                kind,
                ts,
                session,
                flow,
                detail,
            }));
        }
    }

    /// An anomaly of connection `key`, reported the first time its kind happens on it only
    /// (issue 12: `data_both_directions` fired once per segment, 13 times for 3 connections).
    /// Counted once per connection as well: the count says how many connections had it.
    fn conn_anomaly(
        &mut self,
        key: FlowKey,
        kind: AnomalyKind,
        ts: Timestamp,
        session: Option<SessionId>,
        detail: String,
    ) {
        // Its callers hold the connection (reassembly, a TLS event being routed), and no
        // connection leaves `flows` while bytes are handled.
        let conn = present!(self.flows.get_mut(&key), "connection");
        let bit = 1u64.checked_shl(kind.index() as u32).unwrap_or(0);
        if conn.reported & bit != 0 {
            return;
        }
        conn.reported |= bit;
        let flow = Some((conn.initiator, conn.responder));
        self.anomaly(kind, ts, session, flow, detail);
    }

    fn new_session_id(&mut self) -> SessionId {
        self.next_session += 1;
        self.stats.sessions += 1;
        self.next_session
    }

    fn new_transfer_id(&mut self) -> TransferId {
        self.next_transfer += 1;
        self.stats.transfers += 1;
        self.next_transfer
    }

    fn advance_clock(&mut self, ts: Timestamp) {
        let now = match self.now {
            Some(now) if now >= ts => now,
            _ => ts,
        };
        if self.now.is_none() {
            self.last_sweep = now;
        }
        self.now = Some(now);
        if now - self.last_sweep >= self.limits.sweep_interval {
            self.last_sweep = now;
            self.sweep(now);
        }
    }

    pub fn handle_frame(&mut self, frame: &Frame<'_>) {
        if self.finished {
            return;
        }
        self.stats.frames += 1;
        self.frame_number = match frame.number {
            0 => self.stats.frames,
            n => n,
        };
        self.stats.wire_bytes += u64::from(frame.orig_len);
        self.stats.captured_bytes += frame.data.len() as u64;
        self.advance_clock(frame.ts);
        let ts = frame.ts;
        match decode(frame.link, frame.data) {
            Decoded::Tcp(seg) => self.handle_segment(ts, &seg),
            Decoded::Fragment(frag) => {
                let (max_bytes, max_datagrams) = (
                    self.limits.max_fragment_bytes,
                    self.limits.max_fragment_datagrams,
                );
                match self.defrag.push(ts, &frag, max_bytes, max_datagrams) {
                    Ok(Some(whole)) => {
                        match decode_tcp(whole.src, whole.dst, &whole.payload, whole.wire_len) {
                            Decoded::Tcp(seg) => self.handle_segment(ts, &seg),
                            Decoded::Malformed(what) => self.anomaly(
                                AnomalyKind::FrameMalformed,
                                ts,
                                None,
                                None,
                                format!("reassembled datagram: {what}"),
                            ),
                            _ => {}
                        }
                    }
                    Ok(None) => {}
                    Err(_) => self.anomaly(
                        AnomalyKind::IpFragmentOverflow,
                        ts,
                        None,
                        None,
                        format!("fragment of {} → {} dropped", frag.src, frag.dst),
                    ),
                }
            }
            Decoded::NotTcp => self.stats.not_tcp += 1,
            Decoded::UnsupportedLink => self.anomaly(
                AnomalyKind::LinkUnsupported,
                ts,
                None,
                None,
                format!("{:?}", frame.link),
            ),
            Decoded::Malformed(what) => self.anomaly(
                AnomalyKind::FrameMalformed,
                ts,
                None,
                None,
                what.to_string(),
            ),
        }
    }

    /// Time passed with no frames (live capture): expire what is idle.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if !self.finished {
            self.advance_clock(now);
        }
    }

    fn reassembly_limits(&self) -> ReassemblyLimits {
        ReassemblyLimits {
            max_bytes: self.limits.max_ooo_bytes_per_direction,
            max_segments: self.limits.max_ooo_segments_per_direction,
            max_distance: self.limits.max_seq_distance,
        }
    }

    fn handle_segment(&mut self, ts: Timestamp, seg: &TcpSegment<'_>) {
        self.stats.tcp_segments += 1;
        let key = FlowKey::new(seg.src, seg.dst);
        if !self.admit(key, ts, seg) {
            return;
        }
        let limits = self.reassembly_limits();
        // `admit` is true only with the connection in `flows`.
        let conn = present!(self.flows.get_mut(&key), "admitted connection");
        conn.last_ts = ts;
        conn.frames.extend(self.frame_number);
        if conn.is_closed() {
            return;
        }
        let dir = conn.dir_from(seg.src);
        // What the segment does to the connection's TCP state (its SYN, RST and payload), taken
        // at once before its bytes are handled: handling them reads only whether the SYN was
        // seen, which the payload does not change.
        conn.on_segment(dir, seg.flags, seg.wire_payload_len > 0);
        if seg.flags.syn {
            conn.dirs.get_mut(dir).syn(seg.seq);
        }
        if seg.flags.rst {
            self.close_conn(key, ts, EndReason::Reset);
            return;
        }
        let follow = !matches!(conn.role, Role::Ignored);
        if seg.flags.ack && follow {
            // What the peer acknowledged tells us which bytes of the other direction were
            // sent but never captured.
            let other = dir.other();
            let mut acked = Vec::new();
            let stream = conn.dirs.get_mut(other);
            let before = stream.held_bytes();
            stream.ack(seg.ack, ts, limits.max_distance, &mut acked);
            self.ooo_total = self.ooo_total.saturating_sub(before - stream.held_bytes());
            self.deliver_timed(key, other, acked);
        }
        let data_seq = if seg.flags.syn {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        let mut chunks = Vec::new();
        if seg.wire_payload_len > 0 && follow {
            // The common case: in order, nothing held, every byte captured. The new bytes go
            // on as a slice of the frame, not copied into a chunk; nothing else can happen
            // (no anomaly, nothing held), so the rest of this function reduces to this.
            if let Some(skip) = self.in_order(key, dir, seg, data_seq, limits) {
                self.deliver_bytes(key, dir, ts, seg.payload.get(skip..).unwrap_or_default());
                self.after_segment(key, dir, ts);
                return;
            }
            self.reassemble(key, dir, ts, seg, data_seq, limits, &mut chunks);
        }
        if seg.flags.fin
            && let Some(stream) = self.flows.get_mut(&key).map(|c| c.dirs.get_mut(dir))
        {
            stream.fin(data_seq, seg.wire_payload_len);
        }
        self.deliver_timed(key, dir, chunks);
        self.after_segment(key, dir, ts);
    }

    /// Finds or opens the connection of a segment. False when the segment opens nothing to
    /// follow: a stray ACK or RST, a late segment of a closed connection, or one that stays
    /// quiet.
    fn admit(&mut self, key: FlowKey, ts: Timestamp, seg: &TcpSegment<'_>) -> bool {
        let opening = seg.flags.syn && !seg.flags.ack;
        let mut retry = false;
        match self.flows.get(&key) {
            Some(conn) if opening && conn.handshake_seen() && conn.has_payload() => {
                // A new connection on the 4-tuple of one that never closed.
                let flow = Some((conn.initiator, conn.responder));
                self.anomaly(AnomalyKind::TcpPortReuse, ts, None, flow, String::new());
                self.close_conn(key, ts, EndReason::Closed);
                self.remove_conn(key);
            }
            Some(_) => return true,
            // Only a connection not in `flows` may be a quiet or a closed one (the tables never
            // share a key).
            None if self.quiet.contains_key(&key) => {
                if !self.quiet_segment(key, ts, seg) {
                    return false;
                }
            }
            None => {
                if let Some(closed) = self.closed.get_mut(&key) {
                    if !opening {
                        // A late segment of a closed connection: it only keeps the memory
                        // alive.
                        closed.last_ts = ts;
                        return false;
                    }
                    // A new connection on the 4-tuple of a closed one.
                    retry = closed.attempt;
                    self.closed.remove(&key);
                }
            }
        }
        if self.flows.contains_key(&key) {
            return true;
        }
        if seg.flags.rst || (!seg.flags.syn && seg.wire_payload_len == 0) {
            return false; // nothing to follow: stray ACKs and resets of connections we never saw
        }
        if !self.open_conn(key, ts, seg, opening, retry) {
            return false;
        }
        !self.quiet.contains_key(&key) || self.quiet_segment(key, ts, seg)
    }

    /// The segment's payload comes in order with nothing held and every byte captured (its
    /// FIN, if any, taken too): how many of its bytes were already delivered, the rest to
    /// deliver from the frame. None when it must go through reassembly.
    #[inline]
    fn in_order(
        &mut self,
        key: FlowKey,
        dir: Dir,
        seg: &TcpSegment<'_>,
        data_seq: u32,
        limits: ReassemblyLimits,
    ) -> Option<usize> {
        if self.ooo_total > self.limits.max_ooo_bytes_total {
            return None;
        }
        let stream = self.flows.get_mut(&key)?.dirs.get_mut(dir);
        let skip = stream.push_in_order(
            data_seq,
            seg.payload,
            seg.wire_payload_len,
            limits.max_distance,
        )?;
        if seg.flags.fin {
            stream.fin(data_seq, seg.wire_payload_len);
        }
        Some(skip)
    }

    /// Puts the segment's payload through its direction's reassembly; what comes out in order
    /// goes to `chunks`, and what went wrong (overlaps, window, bytes after FIN, snaplen, the
    /// out-of-order limits) is reported.
    #[allow(clippy::too_many_arguments)]
    fn reassemble(
        &mut self,
        key: FlowKey,
        dir: Dir,
        ts: Timestamp,
        seg: &TcpSegment<'_>,
        data_seq: u32,
        limits: ReassemblyLimits,
        chunks: &mut Vec<TimedChunk>,
    ) {
        let conn = present!(self.flows.get_mut(&key), "connection");
        let stream = conn.dirs.get_mut(dir);
        let before = stream.held_bytes();
        let outcome = stream.push(
            data_seq,
            seg.payload,
            seg.wire_payload_len,
            ts,
            limits,
            chunks,
        );
        let after = stream.held_bytes();
        self.ooo_total = (self.ooo_total + after).saturating_sub(before);
        if self.ooo_total > self.limits.max_ooo_bytes_total {
            // Too much held across all flows: give up on this direction's hole.
            stream.flush(ts, chunks);
            self.ooo_total = self.ooo_total.saturating_sub(after);
            let detail = "total out-of-order limit".into();
            self.conn_anomaly(key, AnomalyKind::TcpOooOverflow, ts, None, detail);
        }
        let mut report = |kind, detail| self.conn_anomaly(key, kind, ts, None, detail);
        if outcome.overflow {
            report(AnomalyKind::TcpOooOverflow, String::new());
        }
        if outcome.overlap_mismatch {
            let detail = format!("seq {}: first copy kept", seg.seq);
            report(AnomalyKind::TcpOverlapMismatch, detail);
        }
        if outcome.out_of_window {
            report(AnomalyKind::TcpOutOfWindow, format!("seq {}", seg.seq));
        }
        if outcome.after_fin > 0 {
            let detail = format!("{} bytes at seq {}", outcome.after_fin, seg.seq);
            report(AnomalyKind::TcpDataAfterFin, detail);
        }
        let captured = seg.payload.len() as u64;
        if captured < u64::from(seg.wire_payload_len) {
            let missing = u64::from(seg.wire_payload_len) - captured;
            let detail = format!("{missing} payload bytes not captured");
            report(AnomalyKind::SnaplenTruncated, detail);
        }
    }

    /// A segment of a quiet connection (no payload yet). True when it carries the first
    /// payload: the connection woke up (it is in `flows` now) and the segment goes on there.
    fn quiet_segment(&mut self, key: FlowKey, ts: Timestamp, seg: &TcpSegment<'_>) -> bool {
        let Some(quiet) = self.quiet.get_mut(&key) else {
            return false;
        };
        quiet.last_ts = ts;
        let dir = quiet.dir_from(key, seg.src);
        if seg.flags.syn {
            quiet.syn(dir, seg.seq, seg.flags.ack);
        }
        if seg.flags.rst {
            // Refused, or given up: a connection attempt if the SYN was never answered.
            self.end_quiet(key, true);
            return false;
        }
        if seg.wire_payload_len > 0 {
            self.wake(key);
            return true;
        }
        if seg.flags.fin {
            let data_seq = if seg.flags.syn {
                seg.seq.wrapping_add(1)
            } else {
                seg.seq
            };
            match quiet.fin(dir, data_seq) {
                QuietFin::Recorded if quiet.both_finished() => self.end_quiet(key, true),
                QuietFin::Recorded | QuietFin::Ignored => {}
                QuietFin::AfterMissingBytes => {
                    // Payload crossed that the capture missed: the reassembler counts it.
                    self.wake(key);
                    return true;
                }
            }
        }
        false
    }

    /// The first payload byte of a quiet connection: it becomes a whole connection, and a
    /// connection to port 21 an FTP session that starts when its SYN came.
    fn wake(&mut self, key: FlowKey) {
        let Some(quiet) = self.quiet.remove(&key) else {
            return;
        };
        self.flows.insert(key, quiet.wake(key));
        let role = self.wake_role(key, &quiet);
        if let Some(conn) = self.flows.get_mut(&key) {
            conn.role = role;
        }
    }

    /// A quiet connection ends without having carried payload: no session, no transfer; only a
    /// connection attempt is counted (see [`QuietConn::is_attempt`]). `remember` keeps its key
    /// for late segments, as for any closed connection.
    fn end_quiet(&mut self, key: FlowKey, remember: bool) {
        let Some(quiet) = self.quiet.remove(&key) else {
            return;
        };
        let attempt = quiet.is_attempt();
        if attempt && !quiet.is_retry() {
            self.count_attempt(quiet.endpoints(key).1, quiet.first_ts);
        }
        if remember {
            let closed = Closed {
                last_ts: quiet.last_ts,
                attempt,
            };
            self.closed.insert(key, closed);
        }
    }

    /// One more connection attempt to `server`, counted in the run's stats; the anomaly that
    /// reports them comes once per server, at the end ([`Analyzer::report_attempts`]).
    fn count_attempt(&mut self, server: SocketAddr, ts: Timestamp) {
        let max_servers = self.limits.max_attempt_servers;
        let attempts = &mut self.stats.connection_attempts;
        attempts.total += 1;
        if let Some(count) = attempts.servers.get_mut(&server) {
            count.attempts += 1;
            count.last = ts.max(count.last);
        } else if attempts.servers.len() < max_servers {
            let count = AttemptCount {
                attempts: 1,
                first: ts,
                last: ts,
            };
            attempts.servers.insert(server, count);
        } else {
            attempts.other_servers += 1;
        }
    }

    /// One `connection_attempts` anomaly per server, the most attempted first, then one for
    /// the servers beyond `Limits::max_attempt_servers` together.
    fn report_attempts(&mut self) {
        for (server, count) in self.stats.connection_attempts.by_count() {
            let n = count.attempts;
            let attempts = if n == 1 { "attempt" } else { "attempts" };
            let detail = format!("{n} {attempts} to {server}: SYN never answered, or refused");
            self.anomaly(
                AnomalyKind::ConnectionAttempts,
                count.first,
                None,
                None,
                detail,
            );
        }
        let other = self.stats.connection_attempts.other_servers;
        if other > 0 {
            let detail = format!(
                "{other} attempts to other servers, beyond the first {} (max_attempt_servers)",
                self.limits.max_attempt_servers
            );
            let ts = self.now();
            self.anomaly(AnomalyKind::ConnectionAttempts, ts, None, None, detail);
        }
    }

    /// Creates a connection and decides what it is. False when the table is full.
    fn open_conn(
        &mut self,
        key: FlowKey,
        ts: Timestamp,
        seg: &TcpSegment<'_>,
        opening: bool,
        retry: bool,
    ) -> bool {
        if self.tracked() >= self.limits.max_flows {
            let now = self.now.unwrap_or(ts);
            // A full table is swept at most once per second of packet time: in a SYN flood,
            // sweeping for every new SYN would scan the whole table per frame.
            if now - self.last_sweep >= SECOND.min(self.limits.sweep_interval) {
                self.last_sweep = now;
                self.sweep(now);
            }
            if self.tracked() >= self.limits.max_flows {
                let evicted = self.evict_empty(now);
                let flow = Some((seg.src, seg.dst));
                let detail = if evicted > 0 {
                    format!("{evicted} connections without payload forgotten to make room")
                } else {
                    format!("{} connections", self.tracked())
                };
                self.anomaly(AnomalyKind::FlowTableFull, ts, None, flow, detail);
                if evicted == 0 {
                    return false;
                }
            }
        }
        let (initiator, responder) = if opening {
            (seg.src, seg.dst)
        } else if seg.flags.syn {
            (seg.dst, seg.src) // a SYN-ACK comes from the responder
        } else {
            guess_initiator(seg.src, seg.dst)
        };
        self.stats.connections += 1;
        match self.classify_new(key, initiator, responder, ts, seg.flags.syn) {
            Some(role) => {
                let mut conn = Conn::new(initiator, responder, ts);
                conn.role = role;
                conn.frames = FrameSpan::at(self.frame_number);
                self.flows.insert(key, conn);
            }
            None => {
                let to_port_21 = responder.port() == 21;
                let mut quiet =
                    QuietConn::new(key, initiator, ts, seg.flags.syn, to_port_21, retry);
                quiet.first_frame = self.frame_number;
                self.quiet.insert(key, quiet);
            }
        }
        true
    }

    /// Like [`Analyzer::deliver`] for the new bytes of one in-order segment, borrowed from the
    /// frame: a data connection's bytes are copied once, into their event.
    fn deliver_bytes(&mut self, key: FlowKey, dir: Dir, ts: Timestamp, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        // One lookup on the hot path. TLS that leaves the bytes clear (false) changed nothing,
        // so the role read before it still holds.
        let conn = present!(self.flows.get(&key), "connection");
        let data = match conn.role {
            Role::Data(tid) => Some(tid),
            _ => None,
        };
        if conn.tls.is_some() && self.tls_bytes(key, dir, ts, bytes) {
            return;
        }
        match data {
            Some(tid) => self.data_piece(tid, dir, ts, DataPiece::Bytes(bytes.into())),
            None => self.deliver(key, dir, ts, vec![Chunk::Data(bytes.to_vec())]),
        }
    }

    /// Hands reassembled chunks of one direction to whatever the connection is, each run of
    /// chunks with its own capture time: bytes released by a later packet (the one that filled
    /// the hole before them) keep the time they were captured.
    fn deliver_timed(&mut self, key: FlowKey, dir: Dir, chunks: Vec<TimedChunk>) {
        let mut run: Vec<Chunk> = Vec::new();
        let mut run_ts = None;
        for (ts, chunk) in chunks {
            if let Some(prev) = run_ts
                && prev != ts
            {
                self.deliver(key, dir, prev, std::mem::take(&mut run));
            }
            run_ts = Some(ts);
            run.push(chunk);
        }
        if let Some(ts) = run_ts {
            self.deliver(key, dir, ts, run);
        }
    }

    /// Hands reassembled chunks of one direction, all of one time, to whatever the connection
    /// is.
    fn deliver(&mut self, key: FlowKey, dir: Dir, ts: Timestamp, chunks: Vec<Chunk>) {
        if chunks.is_empty() {
            return;
        }
        // Its callers hold the connection, and none leaves `flows` while bytes are handled.
        let mut conn = present!(self.flows.get_mut(&key), "connection");
        // One lookup on the hot path: TLS is the exception.
        if conn.tls.is_some() {
            if self.tls_chunks(key, dir, ts, &chunks) {
                return;
            }
            // Clear text again (CCC): TLS left the chunks to us and changed nothing.
            conn = present!(self.flows.get_mut(&key), "connection");
        }
        match &mut conn.role {
            Role::Control(sid) => {
                let sid = *sid;
                for chunk in chunks {
                    self.control_chunk(sid, dir, ts, chunk);
                }
            }
            Role::Data(tid) => {
                let tid = *tid;
                for chunk in chunks {
                    self.data_chunk(tid, dir, ts, chunk);
                }
            }
            Role::Unclassified {
                chunks: held,
                bytes,
            } => {
                for chunk in chunks {
                    if let Chunk::Data(d) = chunk {
                        *bytes += d.len();
                        held.push((ts, dir, d));
                    }
                }
                self.try_classify(key, ts, false);
            }
            Role::Ignored => {}
        }
    }

    /// Closes connections whose both directions are done, and data streams whose sender is.
    fn after_segment(&mut self, key: FlowKey, dir: Dir, ts: Timestamp) {
        // `handle_segment` held it, and delivering its bytes removed no connection.
        let conn = present!(self.flows.get(&key), "connection");
        if conn.is_closed() {
            return;
        }
        if conn.both_finished() {
            self.close_conn(key, ts, EndReason::Closed);
            return;
        }
        if let Role::Data(tid) = conn.role
            && conn.dirs.get(dir).is_finished()
        {
            self.data_sender_finished(tid, dir, ts);
        }
    }

    /// Ends a connection: delivers what is held, then tells its session or transfer.
    fn close_conn(&mut self, key: FlowKey, ts: Timestamp, reason: EndReason) {
        // `evict_empty` passes closed connections too, remembered in `closed` only.
        let Some(conn) = self.flows.get_mut(&key) else {
            return;
        };
        if !conn.close() {
            return; // already closed: the work below is done once
        }
        let mut flushed: Vec<(Dir, Vec<TimedChunk>)> = Vec::new();
        for (dir, stream) in conn.dirs.iter_mut() {
            let held = stream.held_bytes();
            let mut chunks = Vec::new();
            stream.flush(ts, &mut chunks);
            self.ooo_total = self.ooo_total.saturating_sub(held);
            flushed.push((dir, chunks));
        }
        for (dir, chunks) in flushed {
            self.deliver_timed(key, dir, chunks);
        }
        if matches!(
            self.flows.get(&key).map(|c| &c.role),
            Some(Role::Unclassified { .. })
        ) {
            self.try_classify(key, ts, true);
        }
        self.tls_finish(key, ts);
        // Delivering, classifying and finishing TLS remove no connection (only `remove_conn`
        // does, below and in `admit`, `evict_empty` and `sweep`).
        let conn = present!(self.flows.get_mut(&key), "closing connection");
        let role = std::mem::replace(&mut conn.role, Role::Ignored);
        let fins = PerDir::new(
            conn.dirs.get(Dir::FromInitiator).fin_seen(),
            conn.dirs.get(Dir::FromResponder).fin_seen(),
        );
        let reset = conn.was_reset();
        let frames = conn.frames;
        // Its SYN was seen and never answered by a SYN-ACK: an attempt, refused (RST) or
        // unanswered, not a connection that carried anything.
        let attempt = conn.is_attempt();
        match role {
            Role::Control(sid) => self.end_session(sid, ts, reason),
            Role::Data(tid) => self.data_conn_closed(tid, fins, reset, !attempt, frames, ts),
            Role::Unclassified { .. } | Role::Ignored => {}
        }
        // From here on only its key and time are remembered (`closed`): a SYN retried on the
        // 4-tuple of a failed attempt is the same attempt.
        if let Some(conn) = self.flows.get(&key) {
            let closed = Closed {
                last_ts: conn.last_ts,
                attempt,
            };
            self.remove_conn(key);
            self.closed.insert(key, closed);
        }
    }

    /// Connections counted against `Limits::max_flows`: open ones (quiet or not) and closed
    /// ones remembered.
    fn tracked(&self) -> usize {
        self.flows.len() + self.quiet.len() + self.closed.len()
    }

    /// The table is full: forgets the oldest sixteenth of the connections that carry no
    /// payload (half-open ones, closed ones kept for late ACKs), so that a SYN flood cannot
    /// blind the analyzer to new connections. Connections with payload are never forgotten
    /// here. Returns how many were forgotten.
    fn evict_empty(&mut self, now: Timestamp) -> usize {
        let mut empty: Vec<(Timestamp, FlowKey)> = self
            .flows
            .iter()
            .filter(|(_, c)| !c.has_payload())
            .map(|(k, c)| (c.last_ts, *k))
            .chain(self.quiet.iter().map(|(k, q)| (q.last_ts, *k)))
            .chain(self.closed.iter().map(|(k, c)| (c.last_ts, *k)))
            .collect();
        let want = (self.limits.max_flows / 16).max(1);
        if empty.len() > want {
            empty.select_nth_unstable(want);
            empty.truncate(want);
        }
        empty.sort_unstable();
        let evicted = empty.len();
        for (_, key) in empty {
            if self.quiet.contains_key(&key) {
                self.end_quiet(key, false);
                continue;
            }
            self.close_conn(key, now, EndReason::Idle);
            self.remove_conn(key);
        }
        evicted
    }

    /// Forgets a connection, open or closed (a quiet one ends with [`Analyzer::end_quiet`]).
    fn remove_conn(&mut self, key: FlowKey) {
        self.closed.remove(&key);
        if let Some(conn) = self.flows.remove(&key) {
            let held: usize = conn.dirs.iter().map(|(_, d)| d.held_bytes()).sum();
            self.ooo_total = self.ooo_total.saturating_sub(held);
        }
    }

    /// Expires idle connections, old expectations and stale fragments.
    fn sweep(&mut self, now: Timestamp) {
        self.closed.retain(|_, c| now - c.last_ts <= CLOSED_LINGER);
        let handshake_timeout = self.limits.handshake_timeout;
        let mut expired_quiet: Vec<(Timestamp, FlowKey)> = self
            .quiet
            .iter()
            .filter(|(_, q)| now - q.last_ts > handshake_timeout)
            .map(|(key, q)| (q.last_ts, *key))
            .collect();
        // Sorted, so that which servers get counted one by one does not depend on the hash.
        expired_quiet.sort_unstable();
        for (_, key) in expired_quiet {
            self.end_quiet(key, false);
        }
        let mut expired: Vec<(Timestamp, FlowKey, bool)> = self
            .flows
            .iter()
            .filter_map(|(key, c)| {
                let idle = now - c.last_ts;
                let gone = if !c.has_payload() {
                    idle > self.limits.handshake_timeout
                } else {
                    idle > self.limits.idle_timeout
                };
                gone.then_some((c.last_ts, *key, c.has_payload()))
            })
            .collect();
        expired.sort_unstable();
        for (_, key, report) in expired {
            let ftp = self
                .flows
                .get(&key)
                .is_some_and(|c| matches!(c.role, Role::Control(_) | Role::Data(_)));
            if report && ftp {
                let flow = self.flows.get(&key).map(|c| (c.initiator, c.responder));
                self.anomaly(AnomalyKind::FlowIdleTimeout, now, None, flow, String::new());
            }
            self.close_conn(key, now, EndReason::Idle);
            self.remove_conn(key);
        }
        let ttl = self.limits.expectation_ttl;
        let sessions = &self.sessions;
        self.expectations
            .retain(|e| now - e.ts <= ttl && sessions.contains_key(&e.session));
        let dropped = self.defrag.expire(now, self.limits.fragment_timeout);
        if dropped > 0 {
            self.anomaly(
                AnomalyKind::IpFragmentTimeout,
                now,
                None,
                None,
                format!("{dropped} datagrams"),
            );
        }
    }

    /// The capture ended: every connection, session and transfer is finished with what is
    /// known, in a deterministic order.
    pub fn finish(&mut self) {
        if self.finished {
            return;
        }
        let now = self.now.unwrap_or(Timestamp::EPOCH);
        let mut open: Vec<(Timestamp, FlowKey)> = self
            .flows
            .iter()
            .filter(|(_, c)| !c.is_closed())
            .map(|(k, c)| (c.first_ts, *k))
            .collect();
        open.sort_unstable();
        // Control connections last, so their transfers see the data connections end first.
        let (control, other): (Vec<_>, Vec<_>) = open.into_iter().partition(|(_, k)| {
            matches!(self.flows.get(k).map(|c| &c.role), Some(Role::Control(_)))
        });
        for (_, key) in other.into_iter().chain(control) {
            self.close_conn(key, now, EndReason::CaptureEnd);
        }
        let mut quiet: Vec<(Timestamp, FlowKey)> =
            self.quiet.iter().map(|(k, q)| (q.first_ts, *k)).collect();
        quiet.sort_unstable();
        for (_, key) in quiet {
            self.end_quiet(key, false);
        }
        let mut sessions: Vec<SessionId> = self.sessions.keys().copied().collect();
        sessions.sort_unstable();
        for sid in sessions {
            self.end_session(sid, now, EndReason::CaptureEnd);
        }
        let mut transfers: Vec<TransferId> = self.transfers.keys().copied().collect();
        transfers.sort_unstable();
        for tid in transfers {
            self.transfer_capture_end(tid, now);
        }
        self.report_attempts();
        self.flows.clear();
        self.closed.clear();
        self.finished = true;
    }

    fn now(&self) -> Timestamp {
        self.now.unwrap_or(Timestamp::EPOCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{OpenState, TcpState};
    use crate::frame::LinkType;
    use etherparse::PacketBuilder;

    const CLIENT: ([u8; 4], u16) = ([10, 0, 0, 1], 40000);
    const SERVER: ([u8; 4], u16) = ([10, 0, 0, 2], 21);

    /// One Ethernet frame from `src` to `dst` with `flags` ("S", "SA", "A", "R"...).
    fn segment(
        a: &mut Analyzer,
        ts: Timestamp,
        src: ([u8; 4], u16),
        dst: ([u8; 4], u16),
        seq: u32,
        flags: &str,
        payload: &[u8],
    ) {
        let mut tcp = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4(src.0, dst.0, 64)
            .tcp(src.1, dst.1, seq, 8192);
        if flags.contains('S') {
            tcp = tcp.syn();
        }
        if flags.contains('A') {
            tcp = tcp.ack(1);
        }
        if flags.contains('R') {
            tcp = tcp.rst();
        }
        let mut data = Vec::new();
        tcp.write(&mut data, payload).unwrap();
        let frame = Frame {
            ts,
            link: LinkType::Ethernet,
            data: &data,
            orig_len: data.len() as u32,
            number: 0,
        };
        a.handle_frame(&frame);
    }

    fn key() -> FlowKey {
        let addr = |(ip, port): ([u8; 4], u16)| SocketAddr::from((ip, port));
        FlowKey::new(addr(CLIENT), addr(SERVER))
    }

    fn state(a: &Analyzer) -> Option<TcpState> {
        a.flows.get(&key()).map(Conn::state)
    }

    // The analyzer drives the connection's machine: a handshake kept by the quiet connection,
    // handed over when the greeting wakes it, then a RST closes it.
    #[test]
    fn the_analyzer_moves_a_connection_through_its_states() {
        let mut a = Analyzer::default();
        segment(
            &mut a,
            Timestamp::from_nanos(1),
            CLIENT,
            SERVER,
            100,
            "S",
            b"",
        );
        segment(
            &mut a,
            Timestamp::from_nanos(2),
            SERVER,
            CLIENT,
            900,
            "SA",
            b"",
        );
        assert_eq!(state(&a), None, "no payload yet: a quiet connection");
        segment(
            &mut a,
            Timestamp::from_nanos(3),
            SERVER,
            CLIENT,
            901,
            "A",
            b"220 ready\r\n",
        );
        let established = TcpState::Open(OpenState::Established { syn_seen: true });
        assert_eq!(state(&a), Some(established));
        segment(
            &mut a,
            Timestamp::from_nanos(4),
            CLIENT,
            SERVER,
            101,
            "R",
            b"",
        );
        assert_eq!(state(&a), None, "closed and gone from the table");
        assert!(a.closed.get(&key()).is_some_and(|c| !c.attempt));
    }

    // Picked up mid-stream: established, its SYN never seen.
    #[test]
    fn a_connection_picked_up_mid_stream_is_established_without_its_syn() {
        let mut a = Analyzer::default();
        segment(
            &mut a,
            Timestamp::from_nanos(1),
            SERVER,
            CLIENT,
            901,
            "A",
            b"220 ready\r\n",
        );
        let midstream = TcpState::Open(OpenState::Established { syn_seen: false });
        assert_eq!(state(&a), Some(midstream));
    }
}
