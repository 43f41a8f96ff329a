//! TCP connections: the flow key, and per-connection state with one reassembler per direction.
//!
//! A connection is keyed by its 4-tuple in canonical order, so both directions find it. The
//! initiator is the side that sent the SYN; for a connection picked up mid-stream it is guessed
//! (the side talking to port 21, else the side with the higher port).

pub mod reassembly;

use crate::decode::TcpFlags;
use crate::event::{FrameSpan, SessionId, TransferId};
use crate::frame::Timestamp;
use reassembly::Reassembler;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;

/// Canonical 4-tuple: the lower endpoint first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowKey {
    pub lo: SocketAddr,
    pub hi: SocketAddr,
}

/// The key is hashed several times per packet, so each endpoint goes in as few words as it
/// can: an IPv4 one as one word (address, port and a tag), an IPv6 one as three. Equal keys
/// hash alike (IPv6 flow info, which equality also compares, is simply left out).
impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        fn endpoint<H: Hasher>(a: &SocketAddr, state: &mut H) {
            match a {
                SocketAddr::V4(a) => state.write_u64(
                    (1 << 63) | (u64::from(a.ip().to_bits()) << 16) | u64::from(a.port()),
                ),
                SocketAddr::V6(a) => {
                    state.write_u128(a.ip().to_bits());
                    state.write_u64((u64::from(a.scope_id()) << 16) | u64::from(a.port()));
                }
            }
        }
        endpoint(&self.lo, state);
        endpoint(&self.hi, state);
    }
}

impl FlowKey {
    pub fn new(a: SocketAddr, b: SocketAddr) -> Self {
        if a <= b {
            FlowKey { lo: a, hi: b }
        } else {
            FlowKey { lo: b, hi: a }
        }
    }
}

/// The way a segment travels on a connection: from the side that opened it (sent the SYN,
/// or was guessed to), or from the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    FromInitiator,
    FromResponder,
}

impl Dir {
    /// Both directions, the initiator's first.
    pub const BOTH: [Dir; 2] = [Dir::FromInitiator, Dir::FromResponder];

    /// The opposite direction.
    pub fn other(self) -> Dir {
        match self {
            Dir::FromInitiator => Dir::FromResponder,
            Dir::FromResponder => Dir::FromInitiator,
        }
    }
}

/// One value per direction. Read through a [`Dir`], so a lookup cannot miss (unlike an array
/// indexed by a number, which the core does not index).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PerDir<T> {
    from_initiator: T,
    from_responder: T,
}

impl<T> PerDir<T> {
    pub const fn new(from_initiator: T, from_responder: T) -> Self {
        PerDir {
            from_initiator,
            from_responder,
        }
    }

    pub fn get(&self, dir: Dir) -> &T {
        match dir {
            Dir::FromInitiator => &self.from_initiator,
            Dir::FromResponder => &self.from_responder,
        }
    }

    pub fn get_mut(&mut self, dir: Dir) -> &mut T {
        match dir {
            Dir::FromInitiator => &mut self.from_initiator,
            Dir::FromResponder => &mut self.from_responder,
        }
    }

    /// Each direction with its value, the initiator's first.
    pub fn iter(&self) -> impl Iterator<Item = (Dir, &T)> {
        Dir::BOTH
            .into_iter()
            .zip([&self.from_initiator, &self.from_responder])
    }

    /// Each direction with its value, the initiator's first.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (Dir, &mut T)> {
        Dir::BOTH
            .into_iter()
            .zip([&mut self.from_initiator, &mut self.from_responder])
    }
}

/// A connection's TCP state as a passive observer of both directions can tell it, named after
/// RFC 9293 §3.3.2. One value instead of flags that could drift apart: it changes only in
/// [`Conn::transition`].
///
/// The observer sees no LISTEN, and the closing states (FIN-WAIT-1 to TIME-WAIT, §3.6) are not
/// kept here: a FIN ends its direction only once every byte before it was delivered, which that
/// direction's reassembler knows ([`Reassembler::is_finished`]); when both are, the analyzer
/// closes the connection ([`TcpEvent::Close`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    /// Followed: how far its opening got, and whether data crossed.
    Open(OpenState),
    /// §3.5.3: a RST was seen, which aborts the connection in any state (§3.10.7.4: its
    /// receiver enters CLOSED); the analyzer closes it right after ([`TcpEvent::Close`]). What it was
    /// when the RST came is kept: a SYN refused by a RST is a connection attempt.
    Reset(OpenState),
    /// §3.3.2 CLOSED: both directions finished, reset, idle, the capture's end, a new SYN on
    /// its 4-tuple or a full table. `Analyzer::close_conn` runs once, then the connection
    /// leaves the table (only its key is remembered a while). `was` is its last open state;
    /// `reset`, whether a RST ended it.
    Closed { was: OpenState, reset: bool },
}

/// How far an open connection got (RFC 9293 §3.5: the three-way handshake), as far as the
/// capture showed it. The third ACK of the handshake is not looked for: data crossing is what
/// tells a connection was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenState {
    /// Picked up after its opening: neither SYN nor SYN-ACK seen, nor payload yet. A
    /// connection starts here and leaves at its first segment (one with a SYN or payload, or
    /// none would have been made), except one woken by a FIN that follows bytes the capture
    /// missed (`QuietFin::AfterMissingBytes`).
    Midstream,
    /// §3.3.2 SYN-SENT: a SYN (without ACK) was seen and no SYN-ACK from the responder, and no
    /// payload: ended here, it is a connection attempt (unanswered, or refused by a RST).
    SynSent,
    /// §3.3.2 SYN-RECEIVED: the responder's SYN-ACK was seen (§3.5, the basic three-way handshake), no
    /// payload yet. `syn_seen`: the SYN it answered was captured too (a capture may start at
    /// the SYN-ACK).
    SynReceived { syn_seen: bool },
    /// §3.3.2 ESTABLISHED, "the normal state for the data transfer phase": payload was seen
    /// in one direction or the other (captured or not). `syn_seen`: its SYN was captured,
    /// else it was picked up mid-stream (or at its SYN-ACK). Whether the SYN was answered no
    /// longer matters once data crossed, so it is not kept.
    Established { syn_seen: bool },
}

impl OpenState {
    /// A SYN without ACK was seen: the connection's start was captured.
    fn syn_seen(self) -> bool {
        match self {
            OpenState::Midstream => false,
            OpenState::SynSent => true,
            OpenState::SynReceived { syn_seen } | OpenState::Established { syn_seen } => syn_seen,
        }
    }
}

/// What changes a [`TcpState`]: the parts of a segment that matter to it, in the order
/// [`Conn::on_segment`] takes them, and the analyzer's close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpEvent {
    /// A segment with SYN and without ACK, from either side.
    Syn,
    /// A segment with SYN and ACK, travelling in this direction.
    SynAck(Dir),
    /// A segment with RST.
    Rst,
    /// A segment carrying payload (counted on the wire: captured or not).
    Payload,
    /// The analyzer closes the connection (`Analyzer::close_conn`).
    Close,
}

#[derive(Debug)]
pub struct Conn {
    pub initiator: SocketAddr,
    pub responder: SocketAddr,
    /// One reassembler per direction.
    pub dirs: PerDir<Reassembler>,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    /// Where the connection stands ([`TcpState`]): changed by [`Conn::on_segment`] and
    /// [`Conn::close`] only, through the one [`Conn::transition`], and read through the
    /// queries ([`Conn::handshake_seen`], [`Conn::has_payload`]...).
    state: TcpState,
    pub role: Role,
    /// Anomaly kinds already reported for this connection, one bit per
    /// [`crate::event::AnomalyKind::index`]: a damaged or odd connection is reported once per
    /// kind, not once per segment.
    pub reported: u64,
    /// The stream transform between reassembly and the FTP layers: TLS, once AUTH TLS was
    /// accepted or a data connection opened with a handshake (see `crate::ftps`).
    pub tls: Option<Box<crate::stream::Transform>>,
    /// Its frames so far, for the records (Wireshark's frame numbers).
    pub frames: FrameSpan,
}

/// What a connection is to the analyzer.
#[derive(Debug)]
pub enum Role {
    /// Not yet known: the first bytes in arrival order (timestamp, direction, bytes), kept up to
    /// a limit, until the dialogue shows whether it is FTP control.
    Unclassified {
        chunks: Vec<(Timestamp, Dir, Vec<u8>)>,
        bytes: usize,
    },
    Control(SessionId),
    Data(TransferId),
    /// Not FTP, or no longer of interest: segments are counted, payload is not kept.
    Ignored,
}

impl Conn {
    pub fn new(initiator: SocketAddr, responder: SocketAddr, ts: Timestamp) -> Self {
        Conn {
            initiator,
            responder,
            dirs: PerDir::new(Reassembler::new(), Reassembler::new()),
            first_ts: ts,
            last_ts: ts,
            state: TcpState::Open(OpenState::Midstream),
            role: Role::Ignored,
            reported: 0,
            tls: None,
            frames: FrameSpan::default(),
        }
    }

    /// Which direction a segment from `src` travels in.
    pub fn dir_from(&self, src: SocketAddr) -> Dir {
        if src == self.initiator {
            Dir::FromInitiator
        } else {
            Dir::FromResponder
        }
    }

    /// Both directions saw their FIN and delivered everything before it.
    pub fn both_finished(&self) -> bool {
        self.dirs.iter().all(|(_, stream)| stream.is_finished())
    }

    pub fn state(&self) -> TcpState {
        self.state
    }

    /// A segment travelling in `dir`, with `flags`, carrying payload or not: its SYN first (a
    /// SYN refused at once still opened), then its RST, which ends the connection whatever
    /// else the segment carries (no payload of a RST counts), else its payload. The analyzer
    /// calls this once per segment of an open connection, before handling its bytes.
    pub fn on_segment(&mut self, dir: Dir, flags: TcpFlags, payload: bool) {
        if flags.syn {
            self.transition(if flags.ack {
                TcpEvent::SynAck(dir)
            } else {
                TcpEvent::Syn
            });
        }
        if flags.rst {
            self.transition(TcpEvent::Rst);
        } else if payload {
            self.transition(TcpEvent::Payload);
        }
    }

    /// The analyzer closes the connection. False when it was already closed: the close work
    /// (`Analyzer::close_conn`) is done once.
    pub fn close(&mut self) -> bool {
        if self.is_closed() {
            return false;
        }
        self.transition(TcpEvent::Close);
        true
    }

    /// The state machine: every change of [`TcpState`] is an arm of this one `match`.
    pub fn transition(&mut self, event: TcpEvent) {
        use Dir::{FromInitiator, FromResponder};
        use OpenState::{Established, Midstream, SynReceived, SynSent};
        use TcpEvent::{Close, Payload, Rst, Syn, SynAck};
        use TcpState::{Closed, Open, Reset};
        self.state = match (self.state, event) {
            // CLOSED is final: the analyzer drops a closed connection's late segments before
            // they come here, and a new SYN on its 4-tuple makes a new connection.
            (Closed { .. }, _) => return,
            // The analyzer's close after a RST: closed, and by a reset.
            (Reset(was), Close) => Closed { was, reset: true },
            // Nothing else follows a RST: the analyzer closes the connection right after it.
            (Reset(_), Syn | SynAck(_) | Rst | Payload) => return,
            // Both directions finished, idle, the capture's end, port reuse or a full table:
            // closed without a reset, in whatever state it had reached.
            (Open(was), Close) => Closed { was, reset: false },
            // §3.5.3: a RST aborts the connection in any state; what it had reached is kept
            // (a SYN refused by a RST is an attempt).
            (Open(was), Rst) => Reset(was),
            // §3.5: the SYN opens the three-way handshake; its start was captured. A SYN
            // without ACK from the responder's side counts as well: a simultaneous open (§3.5,
            // simultaneous connection synchronization) or an initiator guessed wrong.
            (Open(Midstream), Syn) => Open(SynSent),
            // A retransmitted SYN, or the other side's in a simultaneous open: still unanswered.
            (Open(SynSent), Syn) => return,
            // The SYN after its SYN-ACK (reordered, or retransmitted): the start was captured.
            (Open(SynReceived { .. }), Syn) => Open(SynReceived { syn_seen: true }),
            // A SYN of a connection already carrying data, not taken as a new connection (the
            // analyzer reopens only one whose SYN and payload were both seen): its start was
            // captured after all (reordered).
            (Open(Established { .. }), Syn) => Open(Established { syn_seen: true }),
            // §3.5: the responder answers the SYN with its SYN-ACK.
            (Open(SynSent), SynAck(FromResponder)) => Open(SynReceived { syn_seen: true }),
            // Picked up at the SYN-ACK: answered, its SYN never captured.
            (Open(Midstream), SynAck(FromResponder)) => Open(SynReceived { syn_seen: false }),
            // A retransmitted SYN-ACK, or one after data crossed: nothing new.
            (Open(SynReceived { .. } | Established { .. }), SynAck(FromResponder)) => return,
            // A SYN-ACK from the initiator's side (a simultaneous open, §3.5): it
            // answers nothing the responder was asked.
            (Open(_), SynAck(FromInitiator)) => return,
            // §3.3.2 ESTABLISHED: data crossed. Picked up mid-stream: its SYN never seen.
            (Open(Midstream), Payload) => Open(Established { syn_seen: false }),
            // Data after a SYN whose SYN-ACK the capture missed (or data on the SYN itself):
            // data means it was answered, so it is no attempt.
            (Open(SynSent), Payload) => Open(Established { syn_seen: true }),
            // Data after the SYN-ACK: the handshake done. Whether it was answered no longer
            // matters; whether its SYN was seen is kept.
            (Open(SynReceived { syn_seen }), Payload) => Open(Established { syn_seen }),
            // More data: still established.
            (Open(Established { .. }), Payload) => return,
        };
    }

    /// What the connection was before it ended, or is while open.
    fn open_state(&self) -> OpenState {
        match self.state {
            TcpState::Open(open) | TcpState::Reset(open) | TcpState::Closed { was: open, .. } => {
                open
            }
        }
    }

    /// A SYN without ACK was seen: the connection's start was captured (a session made of it
    /// expects the greeting).
    pub fn handshake_seen(&self) -> bool {
        self.open_state().syn_seen()
    }

    /// Payload was seen in either direction (captured or not).
    pub fn has_payload(&self) -> bool {
        matches!(self.open_state(), OpenState::Established { .. })
    }

    /// Its SYN was seen and never answered by a SYN-ACK, and no payload crossed: a connection
    /// attempt, refused (RST) or unanswered, not a connection that carried anything.
    pub fn is_attempt(&self) -> bool {
        self.open_state() == OpenState::SynSent
    }

    /// A RST ended it (or is about to).
    pub fn was_reset(&self) -> bool {
        matches!(
            self.state,
            TcpState::Reset(_) | TcpState::Closed { reset: true, .. }
        )
    }

    /// Closed (`Analyzer::close_conn` ran or is running): its segments are no longer followed.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, TcpState::Closed { .. })
    }
}

/// A connection that has carried no payload yet: what its handshake and FINs said, and nothing
/// more. A SYN flood holds one of these per SYN, so it is kept small (48 bytes, beside its
/// 64-byte key); the reassemblers, and the FTP session of a connection to port 21, are made
/// when the first payload byte comes ([`QuietConn::wake`]), so a connection that never
/// carries any costs no more than this and makes no session.
#[derive(Debug, Clone)]
pub struct QuietConn {
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    /// The number of its first frame: the rest are counted once it wakes.
    pub first_frame: u64,
    /// Sequence number of each direction's SYN, valid where `flags` has its `SYN_SEEN` bit.
    syn_seq: PerDir<u32>,
    /// Sequence number of each direction's FIN, valid where `flags` has its `FIN_SEEN` bit.
    fin_seq: PerDir<u32>,
    flags: u16,
}

/// Bits of [`QuietConn::flags`]: one word instead of nine bools keeps the struct at 48 bytes.
const INITIATOR_IS_LO: u16 = 1;
const SYN_SEEN: PerDir<u16> = PerDir::new(1 << 1, 1 << 2);
const FIN_SEEN: PerDir<u16> = PerDir::new(1 << 3, 1 << 4);
/// A SYN without ACK was seen (from either side): the connection's start was captured.
const HANDSHAKE_SEEN: u16 = 1 << 5;
/// The first segment seen carried SYN: the greeting, if FTP, is still to come.
const OPENED_WITH_SYN: u16 = 1 << 6;
/// The responder is port 21: the first payload byte makes it an FTP control connection.
const TO_PORT_21: u16 = 1 << 7;
/// The previous connection on this 4-tuple was a connection attempt already counted: a
/// retried SYN is the same attempt.
const RETRY: u16 = 1 << 8;

/// What a FIN without payload does to a quiet connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuietFin {
    /// Recorded: it ends the direction (the FIN follows the SYN, or no SYN was seen).
    Recorded,
    /// Before the direction's SYN: ignored, as the reassembler would.
    Ignored,
    /// After bytes the capture never saw: the connection did carry payload.
    AfterMissingBytes,
}

impl QuietConn {
    pub fn new(
        key: FlowKey,
        initiator: SocketAddr,
        ts: Timestamp,
        opened_with_syn: bool,
        to_port_21: bool,
        retry: bool,
    ) -> Self {
        let mut flags = 0;
        for (set, bit) in [
            (key.lo == initiator, INITIATOR_IS_LO),
            (opened_with_syn, OPENED_WITH_SYN),
            (to_port_21, TO_PORT_21),
            (retry, RETRY),
        ] {
            if set {
                flags |= bit;
            }
        }
        QuietConn {
            first_ts: ts,
            last_ts: ts,
            first_frame: 0,
            syn_seq: PerDir::new(0, 0),
            fin_seq: PerDir::new(0, 0),
            flags,
        }
    }

    fn has(&self, bit: u16) -> bool {
        self.flags & bit != 0
    }

    /// (initiator, responder), from the key the connection is stored under.
    pub fn endpoints(&self, key: FlowKey) -> (SocketAddr, SocketAddr) {
        if self.has(INITIATOR_IS_LO) {
            (key.lo, key.hi)
        } else {
            (key.hi, key.lo)
        }
    }

    /// Which direction a segment from `src` travels in.
    pub fn dir_from(&self, key: FlowKey, src: SocketAddr) -> Dir {
        if src == self.endpoints(key).0 {
            Dir::FromInitiator
        } else {
            Dir::FromResponder
        }
    }

    pub fn to_port_21(&self) -> bool {
        self.has(TO_PORT_21)
    }

    pub fn handshake_seen(&self) -> bool {
        self.has(HANDSHAKE_SEEN)
    }

    /// A SYN (with or without ACK) seen in direction `dir`, as [`Reassembler::syn`] takes it.
    pub fn syn(&mut self, dir: Dir, seq: u32, ack: bool) {
        self.flags |= *SYN_SEEN.get(dir);
        *self.syn_seq.get_mut(dir) = seq;
        if !ack {
            self.flags |= HANDSHAKE_SEEN;
        }
    }

    /// A FIN without payload in direction `dir`, at stream sequence number `seq`.
    pub fn fin(&mut self, dir: Dir, seq: u32) -> QuietFin {
        let (syn_bit, fin_bit, isn) = (
            *SYN_SEEN.get(dir),
            *FIN_SEEN.get(dir),
            *self.syn_seq.get(dir),
        );
        if self.has(syn_bit) {
            // Where the reassembler would put it: bytes after the SYN.
            let at = seq.wrapping_sub(isn.wrapping_add(1)) as i32;
            if at < 0 {
                return QuietFin::Ignored;
            }
            if at > 0 {
                return QuietFin::AfterMissingBytes;
            }
        }
        if !self.has(fin_bit) {
            self.flags |= fin_bit;
            *self.fin_seq.get_mut(dir) = seq;
        }
        QuietFin::Recorded
    }

    /// Both directions sent their FIN: the connection ended without a byte of payload.
    pub fn both_finished(&self) -> bool {
        FIN_SEEN.iter().all(|(_, &bit)| self.has(bit))
    }

    /// A connection attempt: the initiator's SYN was seen and the responder never answered with
    /// its own (silence, or a RST). Counted once per 4-tuple: a retried SYN is the same attempt.
    pub fn is_attempt(&self) -> bool {
        self.has(HANDSHAKE_SEEN)
            && self.has(*SYN_SEEN.get(Dir::FromInitiator))
            && !self.has(*SYN_SEEN.get(Dir::FromResponder))
    }

    /// Already counted as an attempt on this 4-tuple.
    pub fn is_retry(&self) -> bool {
        self.has(RETRY)
    }

    /// The first payload byte came: the full connection, with what the handshake and the FINs
    /// said replayed into its state machine and its reassemblers. Its role is decided by the
    /// caller.
    pub fn wake(&self, key: FlowKey) -> Conn {
        let (initiator, responder) = self.endpoints(key);
        let mut conn = Conn::new(initiator, responder, self.first_ts);
        conn.last_ts = self.last_ts;
        conn.frames = FrameSpan::at(self.first_frame);
        // The handshake replayed into the state machine as into the reassemblers: a SYN
        // without ACK (from either side), then the responder's SYN. Which SYN had ACK is not
        // kept (the struct stays small): any SYN from the responder is taken as its answer, as
        // `is_attempt` takes it. The waking segment goes through `on_segment` as any other.
        if self.has(HANDSHAKE_SEEN) {
            conn.transition(TcpEvent::Syn);
        }
        if self.has(*SYN_SEEN.get(Dir::FromResponder)) {
            conn.transition(TcpEvent::SynAck(Dir::FromResponder));
        }
        for (dir, stream) in conn.dirs.iter_mut() {
            if self.has(*SYN_SEEN.get(dir)) {
                stream.syn(*self.syn_seq.get(dir));
            }
            if self.has(*FIN_SEEN.get(dir)) {
                stream.fin(*self.fin_seq.get(dir), 0);
            }
        }
        conn
    }

    pub fn opened_with_syn(&self) -> bool {
        self.has(OPENED_WITH_SYN)
    }
}

/// Guesses who opened a connection from one segment's endpoints, when no SYN says so.
pub fn guess_initiator(src: SocketAddr, dst: SocketAddr) -> (SocketAddr, SocketAddr) {
    let (sp, dp) = (src.port(), dst.port());
    if dp == 21 && sp != 21 {
        (src, dst)
    } else if sp == 21 && dp != 21 {
        (dst, src)
    } else if sp >= dp {
        (src, dst)
    } else {
        (dst, src)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> (FlowKey, SocketAddr, SocketAddr) {
        let client: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let server: SocketAddr = "10.0.0.2:21".parse().unwrap();
        (FlowKey::new(client, server), client, server)
    }

    #[test]
    fn each_direction_has_one_other_and_one_slot() {
        assert_eq!(Dir::FromInitiator.other(), Dir::FromResponder);
        assert_eq!(Dir::FromResponder.other(), Dir::FromInitiator);
        let mut per = PerDir::new("initiator", "responder");
        assert_eq!(*per.get(Dir::FromInitiator), "initiator");
        assert_eq!(*per.get(Dir::FromResponder), "responder");
        *per.get_mut(Dir::FromResponder) = "changed";
        assert_eq!(*per.get(Dir::FromInitiator), "initiator");
        let seen: Vec<(Dir, &str)> = per.iter().map(|(d, v)| (d, *v)).collect();
        assert_eq!(
            seen,
            [
                (Dir::FromInitiator, "initiator"),
                (Dir::FromResponder, "changed")
            ]
        );
        for (dir, v) in per.iter_mut() {
            *v = if dir == Dir::FromInitiator { "i" } else { "r" };
        }
        assert_eq!(per, PerDir::new("i", "r"));
    }

    #[test]
    fn a_quiet_connection_is_a_fraction_of_a_whole_one() {
        // What a SYN flood costs per SYN, beside the 64-byte key.
        assert_eq!(std::mem::size_of::<FlowKey>(), 64);
        assert_eq!(std::mem::size_of::<QuietConn>(), 48);
        assert!(std::mem::size_of::<Conn>() > 200);
    }

    #[test]
    fn a_quiet_connection_wakes_with_its_handshake_and_fins() {
        let (key, client, server) = key();
        let mut q = QuietConn::new(key, client, Timestamp::from_nanos(5), true, true, false);
        assert_eq!(q.endpoints(key), (client, server));
        assert_eq!(q.dir_from(key, server), Dir::FromResponder);
        q.syn(Dir::FromInitiator, 100, false);
        assert!(q.is_attempt(), "a SYN alone is an attempt");
        q.syn(Dir::FromResponder, 900, true);
        assert!(!q.is_attempt(), "a SYN-ACK answered it");
        assert_eq!(q.fin(Dir::FromInitiator, 100), QuietFin::Ignored);
        assert_eq!(q.fin(Dir::FromInitiator, 105), QuietFin::AfterMissingBytes);
        assert_eq!(q.fin(Dir::FromInitiator, 101), QuietFin::Recorded);
        assert!(!q.both_finished());
        let conn = q.wake(key);
        assert_eq!((conn.initiator, conn.responder), (client, server));
        assert!(conn.handshake_seen() && !conn.has_payload());
        assert_eq!(conn.first_ts, Timestamp::from_nanos(5));
        // The initiator's FIN right after its SYN: that direction is done; the responder's
        // stream starts after its SYN.
        assert!(conn.dirs.get(Dir::FromInitiator).is_finished());
        assert!(conn.dirs.get(Dir::FromResponder).is_started());
        assert!(!conn.dirs.get(Dir::FromResponder).fin_seen());
        q.fin(Dir::FromResponder, 901);
        assert!(q.both_finished());
    }

    use OpenState::{Established, Midstream, SynReceived, SynSent};
    use TcpState::{Closed, Open, Reset};

    const I: Dir = Dir::FromInitiator;
    const R: Dir = Dir::FromResponder;
    const SYN: TcpFlags = TcpFlags {
        syn: true,
        ack: false,
        fin: false,
        rst: false,
    };
    const SYN_ACK: TcpFlags = TcpFlags { ack: true, ..SYN };
    const ACK: TcpFlags = TcpFlags {
        syn: false,
        ..SYN_ACK
    };
    const RST: TcpFlags = TcpFlags { rst: true, ..ACK };
    const FIN: TcpFlags = TcpFlags { fin: true, ..ACK };

    fn conn() -> Conn {
        let (_, client, server) = key();
        Conn::new(client, server, Timestamp::from_nanos(0))
    }

    /// A new connection after `steps` (direction, flags, payload), with the state after each.
    fn after(steps: &[(Dir, TcpFlags, bool)]) -> (Conn, Vec<TcpState>) {
        let mut c = conn();
        let states = steps
            .iter()
            .map(|&(dir, flags, payload)| {
                c.on_segment(dir, flags, payload);
                c.state()
            })
            .collect();
        (c, states)
    }

    #[test]
    fn a_new_connection_is_midstream_until_a_segment_says_more() {
        let c = conn();
        assert_eq!(c.state(), Open(Midstream));
        assert!(!c.handshake_seen() && !c.has_payload() && !c.is_attempt());
        assert!(!c.was_reset() && !c.is_closed());
        // A bare ACK, or a FIN, without payload changes nothing (the reassemblers keep FINs).
        let (_, states) = after(&[(I, ACK, false), (R, FIN, false)]);
        assert_eq!(states, [Open(Midstream), Open(Midstream)]);
    }

    #[test]
    fn the_three_way_handshake_then_data() {
        let (c, states) = after(&[
            (I, SYN, false),
            (R, SYN_ACK, false),
            (I, ACK, false),
            (I, ACK, true),
        ]);
        assert_eq!(
            states,
            [
                Open(SynSent),
                Open(SynReceived { syn_seen: true }),
                Open(SynReceived { syn_seen: true }),
                Open(Established { syn_seen: true }),
            ]
        );
        assert!(c.handshake_seen() && c.has_payload() && !c.is_attempt());
    }

    #[test]
    fn a_syn_alone_is_an_attempt_and_retransmissions_change_nothing() {
        let (c, states) = after(&[(I, SYN, false), (I, SYN, false), (R, SYN, false)]);
        assert_eq!(states, [Open(SynSent); 3]);
        assert!(c.handshake_seen() && c.is_attempt() && !c.has_payload());
        // A SYN-ACK from the initiator's side answers nothing.
        let (c, states) = after(&[(I, SYN, false), (I, SYN_ACK, false)]);
        assert_eq!(states, [Open(SynSent); 2]);
        assert!(c.is_attempt());
    }

    #[test]
    fn a_syn_without_ack_from_the_responder_side_also_opens() {
        let (_, states) = after(&[(R, SYN, false)]);
        assert_eq!(states, [Open(SynSent)]);
    }

    #[test]
    fn picked_up_at_the_syn_ack_its_syn_unseen() {
        let (c, states) = after(&[(R, SYN_ACK, false), (R, SYN_ACK, false), (I, ACK, true)]);
        assert_eq!(
            states,
            [
                Open(SynReceived { syn_seen: false }),
                Open(SynReceived { syn_seen: false }),
                Open(Established { syn_seen: false }),
            ]
        );
        assert!(!c.handshake_seen() && !c.is_attempt());
        // The SYN arriving after its SYN-ACK (reordered): the start was captured.
        let (c, states) = after(&[(R, SYN_ACK, false), (I, SYN, false)]);
        assert_eq!(states.last(), Some(&Open(SynReceived { syn_seen: true })));
        assert!(c.handshake_seen() && !c.is_attempt());
    }

    #[test]
    fn payload_establishes_from_every_open_state() {
        let (_, states) = after(&[(R, ACK, true)]);
        assert_eq!(states, [Open(Established { syn_seen: false })]);
        // The SYN-ACK was not captured: data says it was answered.
        let (c, states) = after(&[(I, SYN, false), (I, ACK, true), (R, ACK, true)]);
        assert_eq!(
            states,
            [
                Open(SynSent),
                Open(Established { syn_seen: true }),
                Open(Established { syn_seen: true }),
            ]
        );
        assert!(!c.is_attempt());
        // Data on the SYN itself (TCP Fast Open): the SYN counts first.
        let (_, states) = after(&[(I, SYN, true)]);
        assert_eq!(states, [Open(Established { syn_seen: true })]);
    }

    #[test]
    fn an_established_connection_keeps_what_later_syns_say() {
        // Picked up mid-stream, then a SYN (reordered): its start was captured after all.
        let (c, states) = after(&[(I, ACK, true), (I, SYN, false), (R, SYN_ACK, false)]);
        assert_eq!(
            states,
            [
                Open(Established { syn_seen: false }),
                Open(Established { syn_seen: true }),
                Open(Established { syn_seen: true }),
            ]
        );
        assert!(c.handshake_seen() && c.has_payload());
    }

    #[test]
    fn a_reset_keeps_what_it_aborted_and_ignores_the_rest() {
        let (c, states) = after(&[(I, SYN, false), (R, RST, false)]);
        assert_eq!(states, [Open(SynSent), Reset(SynSent)]);
        assert!(c.was_reset() && !c.is_closed() && c.is_attempt());
        // A RST's payload does not count, and neither does anything after it.
        let (c, states) = after(&[
            (I, ACK, true),
            (R, RST, true),
            (I, SYN, false),
            (R, SYN_ACK, false),
            (I, ACK, true),
            (R, RST, false),
        ]);
        let aborted = Reset(Established { syn_seen: false });
        assert_eq!(states[1..], [aborted; 5]);
        assert!(!c.handshake_seen());
        let (c, states) = after(&[(R, SYN_ACK, false), (I, RST, true)]);
        assert_eq!(states[1], Reset(SynReceived { syn_seen: false }));
        assert!(!c.has_payload() && !c.is_attempt());
        // A SYN and RST in one segment: the SYN counts first.
        let (c, states) = after(&[(I, TcpFlags { rst: true, ..SYN }, false)]);
        assert_eq!(states, [Reset(SynSent)]);
        assert!(c.is_attempt());
    }

    #[test]
    fn close_is_final_and_done_once() {
        // Closed without a reset, from an open state.
        let (mut c, _) = after(&[(I, SYN, false), (R, SYN_ACK, false), (I, ACK, true)]);
        assert!(c.close());
        let closed = Closed {
            was: Established { syn_seen: true },
            reset: false,
        };
        assert_eq!(c.state(), closed);
        assert!(c.is_closed() && !c.was_reset() && c.handshake_seen() && c.has_payload());
        // A second close does nothing, nor do segments.
        assert!(!c.close());
        for (dir, flags, payload) in [(I, SYN, false), (R, RST, false), (I, ACK, true)] {
            c.on_segment(dir, flags, payload);
            assert_eq!(c.state(), closed);
        }
        // Closed after a reset: it remembers both.
        let (mut c, _) = after(&[(I, SYN, false), (R, RST, false)]);
        assert!(c.close());
        assert_eq!(
            c.state(),
            Closed {
                was: SynSent,
                reset: true
            }
        );
        assert!(c.is_closed() && c.was_reset() && c.is_attempt());
        assert!(!c.close());
        c.transition(TcpEvent::Close);
        assert_eq!(
            c.state(),
            Closed {
                was: SynSent,
                reset: true
            }
        );
        // Closed while Midstream (woken by a FIN after missing bytes, then idle).
        let mut c = conn();
        assert!(c.close());
        assert_eq!(
            c.state(),
            Closed {
                was: Midstream,
                reset: false
            }
        );
    }

    #[test]
    fn a_woken_connection_starts_where_its_handshake_left_it() {
        let (key, client, _) = key();
        let woken = |syns: &[(Dir, bool)]| {
            let mut q = QuietConn::new(key, client, Timestamp::from_nanos(0), true, true, false);
            for &(dir, ack) in syns {
                q.syn(dir, 100, ack);
            }
            q.wake(key).state()
        };
        assert_eq!(woken(&[]), Open(Midstream));
        assert_eq!(woken(&[(I, false)]), Open(SynSent));
        assert_eq!(woken(&[(R, true)]), Open(SynReceived { syn_seen: false }));
        assert_eq!(
            woken(&[(I, false), (R, true)]),
            Open(SynReceived { syn_seen: true })
        );
        // A quiet connection keeps no ACK bit per SYN: the responder's bare SYN (simultaneous
        // open) is taken as its answer there, as `QuietConn::is_attempt` takes it.
        assert_eq!(
            woken(&[(I, false), (R, false)]),
            Open(SynReceived { syn_seen: true })
        );
    }

    #[test]
    fn a_syn_answered_by_nothing_or_from_the_responder_side() {
        let (key, client, server) = key();
        // Picked up at the SYN-ACK: the SYN was not seen, so no attempt can be told.
        let mut q = QuietConn::new(key, client, Timestamp::from_nanos(0), true, true, false);
        q.syn(Dir::FromResponder, 900, true);
        assert!(!q.is_attempt());
        // The initiator is the key's higher endpoint.
        let q = QuietConn::new(key, server, Timestamp::from_nanos(0), true, false, true);
        assert_eq!(q.endpoints(key), (server, client));
        assert!(q.is_retry() && !q.to_port_21());
    }
}
