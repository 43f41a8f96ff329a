//! TCP connections: the flow key, and per-connection state with one reassembler per direction.
//!
//! A connection is keyed by its 4-tuple in canonical order, so both directions find it. The
//! initiator is the side that sent the SYN; for a connection picked up mid-stream it is guessed
//! (the side talking to port 21, else the side with the higher port).

pub mod reassembly;

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

#[derive(Debug)]
pub struct Conn {
    pub initiator: SocketAddr,
    pub responder: SocketAddr,
    /// One reassembler per direction.
    pub dirs: PerDir<Reassembler>,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    /// A SYN (without ACK) from the initiator was seen.
    pub handshake_seen: bool,
    /// The responder's SYN-ACK was seen: the connection attempt was answered.
    pub answered: bool,
    /// Any payload seen in either direction.
    pub has_payload: bool,
    pub reset: bool,
    /// Being closed (FIN both ways, RST, idle or capture end): `Analyzer::close_conn` runs
    /// once, then the connection leaves the table (only its key is remembered a while).
    pub closed: bool,
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
            handshake_seen: false,
            answered: false,
            has_payload: false,
            reset: false,
            closed: false,
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
}

/// A connection that has carried no payload yet: what its handshake and FINs said, and nothing
/// more. A SYN flood holds one of these per SYN, so it is kept small (40 bytes, beside its
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
    /// said replayed into its reassemblers. Its role is decided by the caller.
    pub fn wake(&self, key: FlowKey) -> Conn {
        let (initiator, responder) = self.endpoints(key);
        let mut conn = Conn::new(initiator, responder, self.first_ts);
        conn.last_ts = self.last_ts;
        conn.frames = FrameSpan::at(self.first_frame);
        conn.handshake_seen = self.has(HANDSHAKE_SEEN);
        conn.answered = self.has(*SYN_SEEN.get(Dir::FromResponder));
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
        let mut q = QuietConn::new(key, client, 5, true, true, false);
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
        assert!(conn.handshake_seen && !conn.has_payload);
        assert_eq!(conn.first_ts, 5);
        // The initiator's FIN right after its SYN: that direction is done; the responder's
        // stream starts after its SYN.
        assert!(conn.dirs.get(Dir::FromInitiator).is_finished());
        assert!(conn.dirs.get(Dir::FromResponder).is_started());
        assert!(!conn.dirs.get(Dir::FromResponder).fin_seen());
        q.fin(Dir::FromResponder, 901);
        assert!(q.both_finished());
    }

    #[test]
    fn a_syn_answered_by_nothing_or_from_the_responder_side() {
        let (key, client, server) = key();
        // Picked up at the SYN-ACK: the SYN was not seen, so no attempt can be told.
        let mut q = QuietConn::new(key, client, 0, true, true, false);
        q.syn(Dir::FromResponder, 900, true);
        assert!(!q.is_attempt());
        // The initiator is the key's higher endpoint.
        let q = QuietConn::new(key, server, 0, true, false, true);
        assert_eq!(q.endpoints(key), (server, client));
        assert!(q.is_retry() && !q.to_port_21());
    }
}
