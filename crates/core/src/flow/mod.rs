//! TCP connections: the flow key, and per-connection state with one reassembler per direction.
//!
//! A connection is keyed by its 4-tuple in canonical order, so both directions find it. The
//! initiator is the side that sent the SYN; for a connection picked up mid-stream it is guessed
//! (the side talking to port 21, else the side with the higher port).

pub mod reassembly;

use crate::event::{SessionId, TransferId};
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

/// Index of a direction: from the initiator, or from the responder.
pub const FROM_INITIATOR: usize = 0;
pub const FROM_RESPONDER: usize = 1;

#[derive(Debug)]
pub struct Conn {
    pub initiator: SocketAddr,
    pub responder: SocketAddr,
    /// `dirs[FROM_INITIATOR]` and `dirs[FROM_RESPONDER]`.
    pub dirs: [Reassembler; 2],
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    /// A SYN (without ACK) from the initiator was seen.
    pub handshake_seen: bool,
    /// Any payload seen in either direction.
    pub has_payload: bool,
    pub reset: bool,
    /// Being closed (FIN both ways, RST, idle or capture end): `Analyzer::close_conn` runs
    /// once, then the connection leaves the table (only its key is remembered a while).
    pub closed: bool,
    pub role: Role,
}

/// What a connection is to the analyzer.
#[derive(Debug)]
pub enum Role {
    /// Not yet known: the first bytes in arrival order (timestamp, direction, bytes), kept up to
    /// a limit, until the dialogue shows whether it is FTP control.
    Unclassified {
        chunks: Vec<(Timestamp, usize, Vec<u8>)>,
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
            dirs: [Reassembler::new(), Reassembler::new()],
            first_ts: ts,
            last_ts: ts,
            handshake_seen: false,
            has_payload: false,
            reset: false,
            closed: false,
            role: Role::Ignored,
        }
    }

    /// Which direction a segment from `src` travels in.
    pub fn dir_from(&self, src: SocketAddr) -> usize {
        if src == self.initiator {
            FROM_INITIATOR
        } else {
            FROM_RESPONDER
        }
    }

    /// Both directions saw their FIN and delivered everything before it.
    pub fn both_finished(&self) -> bool {
        self.dirs.iter().all(Reassembler::is_finished)
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
