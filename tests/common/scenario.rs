//! A small builder for scenario tests that read like the protocol: handshakes, segments and
//! FINs built with etherparse's `PacketBuilder`, written as a pcap in memory. Tests reorder,
//! duplicate, drop or cut the frames on purpose.

use etherparse::PacketBuilder;
use std::net::SocketAddr;

/// One captured frame: time in microseconds and the Ethernet bytes.
#[derive(Clone)]
pub struct Frame {
    pub ts_us: i64,
    pub bytes: Vec<u8>,
    /// Bytes kept by the capture (for snaplen cuts); None keeps all.
    pub caplen: Option<usize>,
}

/// A TCP connection between `client` and `server`, tracking both sequence numbers.
pub struct Conn {
    pub client: SocketAddr,
    pub server: SocketAddr,
    client_seq: u32,
    server_seq: u32,
}

pub struct Wire {
    pub frames: Vec<Frame>,
    clock_us: i64,
}

impl Default for Wire {
    fn default() -> Self {
        Wire {
            frames: Vec::new(),
            clock_us: 1_700_000_000_000_000,
        }
    }
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

impl Wire {
    /// Lets `seconds` pass with nothing on the wire.
    pub fn wait(&mut self, seconds: i64) {
        self.clock_us += seconds * 1_000_000;
    }

    fn tick(&mut self) -> i64 {
        self.clock_us += 1000;
        self.clock_us
    }

    fn segment(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        seq: u32,
        ack: u32,
        flags: &str,
        payload: &[u8],
    ) -> Frame {
        let builder = match (src, dst) {
            (SocketAddr::V4(s), SocketAddr::V4(d)) => PacketBuilder::ethernet2(
                [2, 0, 0, 0, 0, 1],
                [2, 0, 0, 0, 0, 2],
            )
            .ipv4(s.ip().octets(), d.ip().octets(), 64),
            (SocketAddr::V6(s), SocketAddr::V6(d)) => PacketBuilder::ethernet2(
                [2, 0, 0, 0, 0, 1],
                [2, 0, 0, 0, 0, 2],
            )
            .ipv6(s.ip().octets(), d.ip().octets(), 64),
            _ => panic!("mixed address families"),
        };
        let mut tcp = builder.tcp(src.port(), dst.port(), seq, 65535);
        if flags.contains('S') {
            tcp = tcp.syn();
        }
        if flags.contains('A') {
            tcp = tcp.ack(ack);
        }
        if flags.contains('F') {
            tcp = tcp.fin();
        }
        if flags.contains('R') {
            tcp = tcp.rst();
        }
        let mut bytes = Vec::new();
        tcp.write(&mut bytes, payload).unwrap();
        Frame {
            ts_us: self.tick(),
            bytes,
            caplen: None,
        }
    }

    /// SYN, SYN-ACK, ACK.
    pub fn connect(
        &mut self,
        client: &str,
        server: &str,
        client_isn: u32,
        server_isn: u32,
    ) -> Conn {
        let (c, s) = (sa(client), sa(server));
        let f = self.segment(c, s, client_isn, 0, "S", b"");
        self.frames.push(f);
        let f = self.segment(s, c, server_isn, client_isn.wrapping_add(1), "SA", b"");
        self.frames.push(f);
        let f = self.segment(
            c,
            s,
            client_isn.wrapping_add(1),
            server_isn.wrapping_add(1),
            "A",
            b"",
        );
        self.frames.push(f);
        Conn {
            client: c,
            server: s,
            client_seq: client_isn.wrapping_add(1),
            server_seq: server_isn.wrapping_add(1),
        }
    }

    /// A SYN alone: a connection attempt, until something answers it. Call again with the
    /// same arguments for a retransmission.
    pub fn syn(&mut self, client: &str, server: &str, client_isn: u32) -> Conn {
        let (c, s) = (sa(client), sa(server));
        let f = self.segment(c, s, client_isn, 0, "S", b"");
        self.frames.push(f);
        Conn {
            client: c,
            server: s,
            client_seq: client_isn.wrapping_add(1),
            server_seq: 0,
        }
    }

    /// A connection picked up mid-stream (no handshake in the capture).
    pub fn midstream(
        &mut self,
        client: &str,
        server: &str,
        client_seq: u32,
        server_seq: u32,
    ) -> Conn {
        Conn {
            client: sa(client),
            server: sa(server),
            client_seq,
            server_seq,
        }
    }

    /// Builds a data segment without adding it (for reordering); advances the sequence number.
    pub fn make(&mut self, conn: &mut Conn, from_client: bool, payload: &[u8]) -> Frame {
        let (src, dst, seq, ack) = if from_client {
            (conn.client, conn.server, conn.client_seq, conn.server_seq)
        } else {
            (conn.server, conn.client, conn.server_seq, conn.client_seq)
        };
        let f = self.segment(src, dst, seq, ack, "A", payload);
        if from_client {
            conn.client_seq = conn.client_seq.wrapping_add(payload.len() as u32);
        } else {
            conn.server_seq = conn.server_seq.wrapping_add(payload.len() as u32);
        }
        f
    }

    pub fn client(&mut self, conn: &mut Conn, payload: &[u8]) {
        let f = self.make(conn, true, payload);
        self.frames.push(f);
    }

    pub fn server(&mut self, conn: &mut Conn, payload: &[u8]) {
        let f = self.make(conn, false, payload);
        self.frames.push(f);
    }

    /// A pure ACK from one side acknowledging everything the other sent so far.
    pub fn ack(&mut self, conn: &Conn, from_client: bool) {
        let (src, dst, seq, ack) = if from_client {
            (conn.client, conn.server, conn.client_seq, conn.server_seq)
        } else {
            (conn.server, conn.client, conn.server_seq, conn.client_seq)
        };
        let f = self.segment(src, dst, seq, ack, "A", b"");
        self.frames.push(f);
    }

    /// FIN from one side, then the other.
    pub fn close(&mut self, conn: &mut Conn, client_first: bool) {
        for from_client in [client_first, !client_first] {
            let (src, dst, seq, ack) = if from_client {
                (conn.client, conn.server, conn.client_seq, conn.server_seq)
            } else {
                (conn.server, conn.client, conn.server_seq, conn.client_seq)
            };
            let f = self.segment(src, dst, seq, ack, "FA", b"");
            self.frames.push(f);
            if from_client {
                conn.client_seq = conn.client_seq.wrapping_add(1);
            } else {
                conn.server_seq = conn.server_seq.wrapping_add(1);
            }
        }
    }

    pub fn reset(&mut self, conn: &Conn, from_client: bool) {
        let (src, dst, seq) = if from_client {
            (conn.client, conn.server, conn.client_seq)
        } else {
            (conn.server, conn.client, conn.server_seq)
        };
        let f = self.segment(src, dst, seq, 0, "R", b"");
        self.frames.push(f);
    }

    /// The capture as a little-endian microsecond pcap with Ethernet frames.
    pub fn pcap(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&0i32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&262_144u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        for f in &self.frames {
            let keep = f.caplen.unwrap_or(f.bytes.len()).min(f.bytes.len());
            out.extend_from_slice(&((f.ts_us / 1_000_000) as u32).to_le_bytes());
            out.extend_from_slice(&((f.ts_us % 1_000_000) as u32).to_le_bytes());
            out.extend_from_slice(&(keep as u32).to_le_bytes());
            out.extend_from_slice(&(f.bytes.len() as u32).to_le_bytes());
            out.extend_from_slice(&f.bytes[..keep]);
        }
        out
    }
}

/// Content that is easy to check: `len` bytes of a repeating, position-dependent pattern.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8)
        .collect()
}
