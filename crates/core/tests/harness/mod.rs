//! A conversation harness for the FTP core, in the spirit of quinn-proto's test `Pair`: a
//! client and a server talk through an [`Analyzer`], one control line or data-connection event
//! at a time, and the test reads the events it queued. Tests speak FTP ("RETR a.txt", "the
//! server connects from port 20", "the client's FIN"); the frames under them are built here with
//! etherparse's `PacketBuilder` and fed through the analyzer's public API.

#![allow(dead_code)] // each test file uses its own part of the harness

use etherparse::PacketBuilder;
use ftpscope_core::ftp::session::SessionState;
use ftpscope_core::{
    Analyzer, AnomalyKind, CommandLine, Event, Frame, Limits, LinkType, SessionStart,
    SessionSummary, TimeSpan, Timestamp, TransferId, TransferRecord,
};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 21);
/// The client's port of the control connection.
const CONTROL_PORT: u16 = 40001;
/// The first port a client uses for a passive-mode data connection.
const FIRST_CLIENT_PORT: u16 = 41000;
/// Time between two events of a conversation.
const STEP: TimeSpan = TimeSpan::from_millis(1);
const SECOND: TimeSpan = TimeSpan::from_secs(1);

/// One TCP connection, from the side that opened it, with both sides' next sequence numbers.
#[derive(Debug, Clone, Copy)]
struct Tcp {
    initiator: SocketAddr,
    responder: SocketAddr,
    initiator_seq: u32,
    responder_seq: u32,
}

/// A data connection between the client and the server, whichever opened it.
#[derive(Debug)]
pub struct DataConn {
    tcp: Tcp,
    client_opened: bool,
}

/// A reply line the server sent and the capture missed, kept to send again.
#[derive(Debug)]
pub struct Unseen {
    seq: u32,
    bytes: Vec<u8>,
}

/// Which end of a connection something comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

pub struct Conversation {
    analyzer: Analyzer,
    now: Timestamp,
    control: Tcp,
    next_client_port: u16,
    /// Every event the analyzer queued, in order.
    pub events: Vec<Event>,
}

fn addr(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(ip), port)
}

impl Conversation {
    /// A control connection to port 21 whose server has greeted the client.
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// The same hosts, with no FTP spoken between them yet: no control connection.
    pub fn without_control() -> Self {
        let control = Tcp {
            initiator: addr(CLIENT_IP, CONTROL_PORT),
            responder: addr(SERVER_IP, 21),
            initiator_seq: 1_000,
            responder_seq: 9_000,
        };
        Conversation {
            analyzer: Analyzer::new(Limits::default()),
            now: Timestamp::from_secs(1_700_000_000),
            control,
            next_client_port: FIRST_CLIENT_PORT,
            events: Vec::new(),
        }
    }

    /// A control connection to port 21, opened (its handshake seen), the server's greeting
    /// still to come.
    pub fn before_greeting() -> Self {
        let mut c = Self::without_control();
        c.control = c.handshake(c.control);
        c
    }

    pub fn with_limits(limits: Limits) -> Self {
        let control = Tcp {
            initiator: addr(CLIENT_IP, CONTROL_PORT),
            responder: addr(SERVER_IP, 21),
            initiator_seq: 1_000,
            responder_seq: 9_000,
        };
        let mut c = Conversation {
            analyzer: Analyzer::new(limits),
            now: Timestamp::from_secs(1_700_000_000),
            control,
            next_client_port: FIRST_CLIENT_PORT,
            events: Vec::new(),
        };
        c.control = c.handshake(control);
        c.server("220 ready");
        c
    }

    /// A command line from the client.
    pub fn client(&mut self, line: &str) {
        let mut control = self.control;
        self.segment(&mut control, true, "A", format!("{line}\r\n").as_bytes());
        self.control = control;
    }

    /// A reply line from the server.
    pub fn server(&mut self, line: &str) {
        let mut control = self.control;
        self.segment(&mut control, false, "A", format!("{line}\r\n").as_bytes());
        self.control = control;
    }

    /// The control connection closes: the server's FIN, then the client's.
    pub fn close_control(&mut self) {
        let mut control = self.control;
        self.segment(&mut control, false, "FA", b"");
        self.segment(&mut control, true, "FA", b"");
        self.control = control;
    }

    /// Passive mode: the client connects to the server's `port`.
    pub fn client_connects(&mut self, port: u16) -> DataConn {
        let client_port = self.next_client_port;
        self.next_client_port += 1;
        let tcp = self.handshake(Tcp {
            initiator: addr(CLIENT_IP, client_port),
            responder: addr(SERVER_IP, port),
            initiator_seq: 20_000,
            responder_seq: 70_000,
        });
        DataConn {
            tcp,
            client_opened: true,
        }
    }

    /// Active mode: the server connects from port 20 to the client's `port`.
    pub fn server_connects(&mut self, port: u16) -> DataConn {
        let tcp = self.handshake(Tcp {
            initiator: addr(SERVER_IP, 20),
            responder: addr(CLIENT_IP, port),
            initiator_seq: 30_000,
            responder_seq: 80_000,
        });
        DataConn {
            tcp,
            client_opened: false,
        }
    }

    /// Any other TCP connection, opened by the client host from `client_port` to the server
    /// host's `port` (SMTP, a shell, SMB...): a [`DataConn`] only in name, the client's side
    /// being the one that opened it.
    pub fn client_opens(&mut self, client_port: u16, port: u16) -> DataConn {
        let tcp = self.handshake(Tcp {
            initiator: addr(CLIENT_IP, client_port),
            responder: addr(SERVER_IP, port),
            initiator_seq: 50_000,
            responder_seq: 90_000,
        });
        DataConn {
            tcp,
            client_opened: true,
        }
    }

    /// The server host connects from `from_port` to `to`:`to_port` (a host of its choosing:
    /// the target of a PORT command); a SYN only, the answer is the test's.
    pub fn server_dials(&mut self, from_port: u16, to: Ipv4Addr, to_port: u16) -> DataConn {
        let tcp = Tcp {
            initiator: addr(SERVER_IP, from_port),
            responder: addr(to, to_port),
            initiator_seq: 60_000,
            responder_seq: 95_000,
        };
        self.frame(tcp.initiator, tcp.responder, tcp.initiator_seq, 0, "S", b"");
        DataConn {
            tcp,
            client_opened: false,
        }
    }

    /// The SYN of a connection opened with [`Conversation::server_dials`] again (a retry).
    pub fn syn_again(&mut self, conn: &DataConn) {
        let tcp = conn.tcp;
        self.frame(tcp.initiator, tcp.responder, tcp.initiator_seq, 0, "S", b"");
    }

    /// The dialled host refuses the connection: RST+ACK to its SYN.
    pub fn refuse(&mut self, conn: &mut DataConn) {
        let tcp = conn.tcp;
        let ack = tcp.initiator_seq.wrapping_add(1);
        self.frame(tcp.responder, tcp.initiator, 0, ack, "RA", b"");
    }

    /// The dialled host accepts: SYN-ACK, then the dialler's ACK.
    pub fn accept(&mut self, conn: &mut DataConn) {
        let mut tcp = conn.tcp;
        tcp.initiator_seq = tcp.initiator_seq.wrapping_add(1);
        self.frame(
            tcp.responder,
            tcp.initiator,
            tcp.responder_seq,
            tcp.initiator_seq,
            "SA",
            b"",
        );
        tcp.responder_seq = tcp.responder_seq.wrapping_add(1);
        self.frame(
            tcp.initiator,
            tcp.responder,
            tcp.initiator_seq,
            tcp.responder_seq,
            "A",
            b"",
        );
        conn.tcp = tcp;
    }

    /// `from` sends one line (CRLF added) on a connection.
    pub fn say(&mut self, conn: &mut DataConn, from: Side, line: &str) {
        self.send(conn, from, format!("{line}\r\n").as_bytes());
    }

    /// `from` sends `bytes` at the sequence number of its own FIN (a TCP keep-alive probe after
    /// the close: RFC 9293 §3.8.4 lets it carry one garbage byte), and the peer acknowledges.
    pub fn keepalive_after_fin(&mut self, conn: &mut DataConn, from: Side, bytes: &[u8]) {
        let from_initiator = conn.sent_by_initiator(from);
        let tcp = conn.tcp;
        let (src, dst, next, ack) = if from_initiator {
            (
                tcp.initiator,
                tcp.responder,
                tcp.initiator_seq,
                tcp.responder_seq,
            )
        } else {
            (
                tcp.responder,
                tcp.initiator,
                tcp.responder_seq,
                tcp.initiator_seq,
            )
        };
        // The FIN took the sequence number `next - 1`.
        self.frame(src, dst, next.wrapping_sub(1), ack, "A", bytes);
    }

    /// The same, on the control connection, from the client.
    pub fn control_keepalive_after_fin(&mut self, bytes: &[u8]) {
        let tcp = self.control;
        self.frame(
            tcp.initiator,
            tcp.responder,
            tcp.initiator_seq.wrapping_sub(1),
            tcp.responder_seq,
            "A",
            bytes,
        );
    }

    /// The server sends a reply line the capture misses: the lines after it wait behind the
    /// hole until it is filled ([`Conversation::server_retransmits`]) or the connection ends.
    pub fn server_unseen(&mut self, line: &str) -> Unseen {
        let bytes = format!("{line}\r\n").into_bytes();
        let unseen = Unseen {
            seq: self.control.responder_seq,
            bytes,
        };
        self.control.responder_seq = self
            .control
            .responder_seq
            .wrapping_add(unseen.bytes.len() as u32);
        unseen
    }

    /// The server sends an unseen line again, and this time the capture has it.
    pub fn server_retransmits(&mut self, unseen: &Unseen) {
        let tcp = self.control;
        self.frame(
            tcp.responder,
            tcp.initiator,
            unseen.seq,
            tcp.initiator_seq,
            "A",
            &unseen.bytes,
        );
    }

    /// The client resets the control connection.
    pub fn client_resets_control(&mut self) {
        let mut control = self.control;
        self.segment(&mut control, true, "R", b"");
        self.control = control;
    }

    /// The capture time of the last frame.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Every reply the analyzer reported, as its code and capture time, in order.
    pub fn replies(&self) -> Vec<(u16, Timestamp)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Exchange(x) => Some(x.replies.iter().map(|r| (r.code, r.ts))),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// The client closes the control connection first (its FIN), the server does not yet.
    pub fn client_closes_control(&mut self) {
        let mut control = self.control;
        self.segment(&mut control, true, "FA", b"");
        self.control = control;
    }

    /// The sessions started so far.
    pub fn sessions(&self) -> Vec<&SessionStart> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::SessionStarted(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    /// Where the dialogue of the one session stands; panics unless exactly one started and it
    /// still runs.
    pub fn session_state(&self) -> SessionState {
        let sessions = self.sessions();
        assert_eq!(sessions.len(), 1, "sessions: {sessions:?}");
        match self.analyzer.session_state(sessions[0].session) {
            Some(state) => state,
            None => panic!("session {} already ended", sessions[0].session),
        }
    }

    /// The summary of the one session that ended; panics unless exactly one did.
    pub fn summary(&self) -> &SessionSummary {
        let ended: Vec<&SessionSummary> = self
            .events
            .iter()
            .filter_map(|e| match e {
                Event::SessionEnded(s) => Some(s),
                _ => None,
            })
            .collect();
        assert_eq!(ended.len(), 1, "sessions ended: {ended:#?}");
        ended[0]
    }

    /// Every command line the analyzer reported, as it reported them (secret or not), in order.
    pub fn command_lines(&self) -> Vec<&CommandLine> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Exchange(x) => x.command.as_ref(),
                _ => None,
            })
            .collect()
    }

    /// Every command line the analyzer reported, as "VERB arg", in order.
    pub fn commands(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Exchange(x) => x.command.as_ref(),
                _ => None,
            })
            .map(|c| {
                let mut line = String::from_utf8_lossy(&c.verb).into_owned();
                if !c.arg.is_empty() {
                    line.push(' ');
                    line.push_str(&String::from_utf8_lossy(&c.arg));
                }
                line
            })
            .collect()
    }

    /// `from` sends `bytes` on the data connection; the other side acknowledges them.
    pub fn send(&mut self, conn: &mut DataConn, from: Side, bytes: &[u8]) {
        let from_initiator = conn.sent_by_initiator(from);
        self.segment(&mut conn.tcp, from_initiator, "A", bytes);
        self.segment(&mut conn.tcp, !from_initiator, "A", b"");
    }

    /// `from` sends `len` bytes that the capture misses; only the next acknowledgement of
    /// bytes sent after them shows they crossed.
    pub fn lose(&mut self, conn: &mut DataConn, from: Side, len: u32) {
        let seq = if conn.sent_by_initiator(from) {
            &mut conn.tcp.initiator_seq
        } else {
            &mut conn.tcp.responder_seq
        };
        *seq = seq.wrapping_add(len);
    }

    /// `from` closes its half of the data connection (FIN).
    pub fn fin(&mut self, conn: &mut DataConn, from: Side) {
        let from_initiator = conn.sent_by_initiator(from);
        self.segment(&mut conn.tcp, from_initiator, "FA", b"");
    }

    /// `from` resets the data connection.
    pub fn reset(&mut self, conn: &mut DataConn, from: Side) {
        let from_initiator = conn.sent_by_initiator(from);
        self.segment(&mut conn.tcp, from_initiator, "R", b"");
    }

    /// `seconds` pass with nothing on the wire (a live capture's timer).
    pub fn idle(&mut self, seconds: i64) {
        self.now += seconds * SECOND;
        self.analyzer.handle_timeout(self.now);
        self.collect();
    }

    /// The capture ends.
    pub fn end_capture(&mut self) {
        self.analyzer.finish();
        self.collect();
    }

    /// The records of the transfers that ended so far, in order.
    pub fn ended(&self) -> Vec<&TransferRecord> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::TransferEnded(record) => Some(&**record),
                _ => None,
            })
            .collect()
    }

    /// The record of the one transfer that ended; panics unless exactly one did.
    pub fn the_transfer(&self) -> &TransferRecord {
        let ended = self.ended();
        assert_eq!(ended.len(), 1, "transfers ended: {ended:#?}");
        ended[0]
    }

    /// The ids of the transfers started so far.
    pub fn started(&self) -> Vec<TransferId> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::TransferStarted(s) => Some(s.transfer),
                _ => None,
            })
            .collect()
    }

    /// The bytes delivered for transfer `id`, gaps left out.
    pub fn file(&self, id: TransferId) -> Vec<u8> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::TransferData { transfer, data } if *transfer == id => Some(data.as_slice()),
                _ => None,
            })
            .flatten()
            .copied()
            .collect()
    }

    /// The gaps delivered for transfer `id`, in order.
    pub fn gaps(&self, id: TransferId) -> Vec<u64> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::TransferGap { transfer, len } if *transfer == id => Some(*len),
                _ => None,
            })
            .collect()
    }

    /// The kinds of the anomalies reported so far, in order.
    pub fn anomalies(&self) -> Vec<AnomalyKind> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Anomaly(a) => Some(a.kind),
                _ => None,
            })
            .collect()
    }

    fn handshake(&mut self, tcp: Tcp) -> Tcp {
        let mut tcp = tcp;
        self.frame(tcp.initiator, tcp.responder, tcp.initiator_seq, 0, "S", b"");
        tcp.initiator_seq = tcp.initiator_seq.wrapping_add(1);
        self.frame(
            tcp.responder,
            tcp.initiator,
            tcp.responder_seq,
            tcp.initiator_seq,
            "SA",
            b"",
        );
        tcp.responder_seq = tcp.responder_seq.wrapping_add(1);
        self.frame(
            tcp.initiator,
            tcp.responder,
            tcp.initiator_seq,
            tcp.responder_seq,
            "A",
            b"",
        );
        tcp
    }

    /// One segment of `tcp`, sequence numbers advanced past its payload (and FIN).
    fn segment(&mut self, tcp: &mut Tcp, from_initiator: bool, flags: &str, payload: &[u8]) {
        let (src, dst, seq, ack) = if from_initiator {
            (
                tcp.initiator,
                tcp.responder,
                tcp.initiator_seq,
                tcp.responder_seq,
            )
        } else {
            (
                tcp.responder,
                tcp.initiator,
                tcp.responder_seq,
                tcp.initiator_seq,
            )
        };
        self.frame(src, dst, seq, ack, flags, payload);
        let advance = payload.len() as u32 + u32::from(flags.contains('F'));
        let next = if from_initiator {
            &mut tcp.initiator_seq
        } else {
            &mut tcp.responder_seq
        };
        *next = next.wrapping_add(advance);
    }

    fn frame(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        seq: u32,
        ack: u32,
        flags: &str,
        payload: &[u8],
    ) {
        let (SocketAddr::V4(s), SocketAddr::V4(d)) = (src, dst) else {
            panic!("the harness speaks IPv4");
        };
        let mut tcp = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4(s.ip().octets(), d.ip().octets(), 64)
            .tcp(src.port(), dst.port(), seq, 65535);
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
        if let Err(e) = tcp.write(&mut bytes, payload) {
            panic!("the harness built a frame etherparse cannot write: {e}");
        }
        self.now += STEP;
        let frame = Frame {
            ts: self.now,
            link: LinkType::Ethernet,
            data: &bytes,
            orig_len: bytes.len() as u32,
            number: 0,
        };
        self.analyzer.handle_frame(&frame);
        self.collect();
    }

    fn collect(&mut self) {
        while let Some(event) = self.analyzer.poll_event() {
            self.events.push(event);
        }
    }
}

impl DataConn {
    fn sent_by_initiator(&self, side: Side) -> bool {
        (side == Side::Client) == self.client_opened
    }
}
