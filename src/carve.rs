//! `-r IN -w OUT`: carving, the packets of FTP sessions copied into a new, small capture.
//!
//! The analyzer decides which connections are FTP as it goes (a dialogue proves a control
//! connection; a data connection is linked when it opens), so carving reads the input twice:
//!
//! 1. the ordinary analysis, with [`FlowCollector`] among its outputs: it gathers the
//!    4-tuples of every session's control connection and of every data connection its
//!    transfers used (or of one session's, `--session N`) into a [`FlowSet`], whose size
//!    grows with the FTP connections, never with the capture;
//! 2. the same frames again (through the same filters), each copied when its TCP
//!    connection is in the set ([`Carver`]), in the order they were read, by [`CarveWriter`].
//!
//! A connection is known by its 4-tuple over the whole capture: another connection that
//! reuses one (the same client port, to the same server port) comes along. IP fragments are
//! carved with their datagram: the first fragment gives the ports; a later fragment seen
//! before its first one is carved when its two addresses are those of a carved connection.
//!
//! The file written: a classic pcap when every input is a pcap of one link type (that link
//! type, microsecond timestamps unless an input had nanoseconds), so a pcap stays a pcap;
//! otherwise a pcapng (one interface per link type met, nanosecond timestamps) that also
//! keeps the TLS key logs the inputs carried (Decryption Secrets Blocks), so FTPS decrypted
//! with them decrypts again from the carved file.

use crate::capture::filter::{Endpoints, FragmentPorts};
use crate::pipeline::{Output, Record, RunSummary};
use ftpscope_core::{Frame, LinkType, SessionId};
use std::collections::{BTreeSet, HashSet};
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};

/// The connections to carve.
#[derive(Debug, Default, Clone)]
pub struct FlowSet {
    /// 4-tuples, the smaller end first.
    connections: HashSet<(SocketAddr, SocketAddr)>,
    /// Their address pairs, the smaller first (for fragments whose ports are not known).
    hosts: HashSet<(IpAddr, IpAddr)>,
}

impl FlowSet {
    pub fn insert(&mut self, a: SocketAddr, b: SocketAddr) {
        self.connections.insert(ordered(a, b));
        self.hosts.insert(ordered(a.ip(), b.ip()));
    }

    /// Connections in the set.
    pub fn len(&self) -> usize {
        self.connections.len()
    }

    pub fn is_empty(&self) -> bool {
        self.connections.is_empty()
    }

    fn contains(&self, endpoints: Endpoints) -> bool {
        match endpoints {
            Endpoints::Tcp(a, b) => self.connections.contains(&ordered(a, b)),
            Endpoints::Addresses(a, b) => self.hosts.contains(&ordered(a, b)),
            Endpoints::None => false,
        }
    }
}

fn ordered<T: Ord>(a: T, b: T) -> (T, T) {
    if a <= b { (a, b) } else { (b, a) }
}

/// The first pass's output: the connections of the sessions to carve.
#[derive(Debug, Default)]
pub struct FlowCollector {
    /// `--session N`: only this one.
    only: Option<SessionId>,
    pub flows: FlowSet,
    /// The sessions carved, and every session seen.
    pub sessions: BTreeSet<SessionId>,
    pub sessions_seen: u64,
    /// Data connections carved.
    pub data_connections: u64,
}

impl FlowCollector {
    pub fn new(only: Option<SessionId>) -> Self {
        FlowCollector {
            only,
            ..FlowCollector::default()
        }
    }

    fn wanted(&self, session: Option<SessionId>) -> bool {
        match self.only {
            None => true,
            Some(n) => session == Some(n),
        }
    }
}

impl Output for FlowCollector {
    fn record(&mut self, record: &Record) -> io::Result<()> {
        match record {
            Record::SessionStarted(s) => {
                self.sessions_seen += 1;
                if self.wanted(Some(s.session)) {
                    self.sessions.insert(s.session);
                    self.flows.insert(s.client, s.server);
                }
            }
            // Every transfer that had a data connection, linked or not (an orphan is a
            // transfer record too, and must come back from the carved file).
            Record::Transfer(t) => {
                let r = &t.record;
                if let (Some(a), Some(b)) = (r.data_initiator, r.data_responder)
                    && self.wanted(r.session)
                {
                    self.data_connections += 1;
                    self.flows.insert(a, b);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(&mut self, _: &RunSummary) -> io::Result<()> {
        Ok(())
    }
}

/// The second pass's choice: whether a frame belongs to a carved connection.
#[derive(Debug)]
pub struct Carver {
    flows: FlowSet,
    fragments: FragmentPorts,
}

impl Carver {
    pub fn new(flows: FlowSet) -> Self {
        Carver {
            flows,
            fragments: FragmentPorts::default(),
        }
    }

    pub fn wants(&mut self, frame: &Frame) -> bool {
        let endpoints = self.fragments.endpoints(frame);
        self.flows.contains(endpoints)
    }
}

/// The format of the carved file (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarveFormat {
    /// Classic pcap: the link type number for the header, and nanosecond timestamps or not.
    Pcap {
        linktype: u32,
        nanosecond: bool,
    },
    Pcapng,
}

impl CarveFormat {
    /// The format for inputs whose `pcap_link` (see
    /// [`CaptureReader::pcap_link`](crate::capture::CaptureReader::pcap_link)) are these.
    pub fn for_inputs(links: &[Option<(u32, bool)>]) -> CarveFormat {
        let Some(Some((linktype, _))) = links.first() else {
            return CarveFormat::Pcapng;
        };
        if links.iter().all(|l| l.is_some_and(|(t, _)| t == *linktype)) {
            CarveFormat::Pcap {
                linktype: *linktype,
                nanosecond: links.iter().any(|l| l.is_some_and(|(_, ns)| ns)),
            }
        } else {
            CarveFormat::Pcapng
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CarveFormat::Pcap { .. } => "pcap",
            CarveFormat::Pcapng => "pcapng",
        }
    }
}

/// Largest captured length written in a pcap header (libpcap's own maximum).
const SNAPLEN: u32 = 262_144;

/// Writes carved frames as pcap or pcapng.
pub struct CarveWriter<W: Write> {
    out: W,
    format: CarveFormat,
    /// pcapng: the link type of each interface described so far, by interface id.
    interfaces: Vec<LinkType>,
    pub packets: u64,
    pub bytes: u64,
}

impl<W: Write> CarveWriter<W> {
    /// Writes the file header (pcap) or section header (pcapng).
    pub fn new(mut out: W, format: CarveFormat) -> io::Result<Self> {
        match format {
            CarveFormat::Pcap {
                linktype,
                nanosecond,
            } => {
                let magic: u32 = if nanosecond { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
                let mut h = Vec::with_capacity(24);
                h.extend_from_slice(&magic.to_le_bytes());
                h.extend_from_slice(&2u16.to_le_bytes());
                h.extend_from_slice(&4u16.to_le_bytes());
                h.extend_from_slice(&[0; 8]); // thiszone, sigfigs
                h.extend_from_slice(&SNAPLEN.to_le_bytes());
                h.extend_from_slice(&linktype.to_le_bytes());
                out.write_all(&h)?;
            }
            CarveFormat::Pcapng => {
                let mut body = Vec::with_capacity(16);
                body.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
                body.extend_from_slice(&1u16.to_le_bytes());
                body.extend_from_slice(&0u16.to_le_bytes());
                body.extend_from_slice(&(-1i64).to_le_bytes()); // section length unknown
                write_block(&mut out, 0x0a0d_0d0a, &body)?;
            }
        }
        Ok(CarveWriter {
            out,
            format,
            interfaces: Vec::new(),
            packets: 0,
            bytes: 0,
        })
    }

    /// Appends one frame.
    pub fn frame(&mut self, frame: &Frame) -> io::Result<()> {
        let caplen = u32::try_from(frame.data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "frame too long"))?;
        let ts = u64::try_from(frame.ts.as_nanos()).unwrap_or(0);
        match self.format {
            CarveFormat::Pcap { nanosecond, .. } => {
                let unit = if nanosecond { 1 } else { 1000 };
                let secs = u32::try_from(ts / 1_000_000_000).unwrap_or(u32::MAX);
                let frac = u32::try_from(ts % 1_000_000_000 / unit).unwrap_or(0);
                let mut h = [0u8; 16];
                for (at, v) in [secs, frac, caplen, frame.orig_len].into_iter().enumerate() {
                    if let Some(slot) = h.get_mut(at * 4..at * 4 + 4) {
                        slot.copy_from_slice(&v.to_le_bytes());
                    }
                }
                self.out.write_all(&h)?;
                self.out.write_all(frame.data)?;
            }
            CarveFormat::Pcapng => {
                let interface = self.interface(frame.link)?;
                let mut body = Vec::with_capacity(20 + frame.data.len() + 3);
                body.extend_from_slice(&interface.to_le_bytes());
                body.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
                body.extend_from_slice(&(ts as u32).to_le_bytes());
                body.extend_from_slice(&caplen.to_le_bytes());
                body.extend_from_slice(&frame.orig_len.to_le_bytes());
                body.extend_from_slice(frame.data);
                write_block(&mut self.out, 6, &body)?;
            }
        }
        self.packets += 1;
        self.bytes += u64::from(caplen);
        Ok(())
    }

    /// Appends a TLS key log (pcapng only: a pcap cannot hold one, and pcap inputs carry none).
    pub fn secrets(&mut self, keylog: &[u8]) -> io::Result<()> {
        if self.format != CarveFormat::Pcapng {
            return Ok(());
        }
        let len = u32::try_from(keylog.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "key log too long"))?;
        let mut body = Vec::with_capacity(8 + keylog.len() + 3);
        body.extend_from_slice(&0x544c_534bu32.to_le_bytes()); // TLS key log
        body.extend_from_slice(&len.to_le_bytes());
        body.extend_from_slice(keylog);
        write_block(&mut self.out, 0x0000_000a, &body)
    }

    /// Flushes and gives the writer back.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }

    /// The pcapng interface id of `link`, described (Interface Description Block) when first
    /// met.
    fn interface(&mut self, link: LinkType) -> io::Result<u32> {
        if let Some(at) = self.interfaces.iter().position(|l| *l == link) {
            return Ok(at as u32);
        }
        let mut body = Vec::with_capacity(20);
        body.extend_from_slice(&(linktype_number(link) as u16).to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes()); // snaplen: no limit
        // if_tsresol = 9: nanoseconds; then opt_endofopt.
        body.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0]);
        body.extend_from_slice(&[0, 0, 0, 0]);
        write_block(&mut self.out, 1, &body)?;
        self.interfaces.push(link);
        Ok(self.interfaces.len() as u32 - 1)
    }
}

/// A pcapng block: type, total length, the body padded to 4 bytes, total length again.
fn write_block<W: Write>(out: &mut W, block_type: u32, body: &[u8]) -> io::Result<()> {
    let pad = (4 - body.len() % 4) % 4;
    let total = u32::try_from(12 + body.len() + pad)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "block too long"))?;
    out.write_all(&block_type.to_le_bytes())?;
    out.write_all(&total.to_le_bytes())?;
    out.write_all(body)?;
    out.write_all(&[0; 3][..pad])?;
    out.write_all(&total.to_le_bytes())
}

/// The LINKTYPE_* number of a link type (raw IP is written as LINKTYPE_RAW, 101).
pub fn linktype_number(link: LinkType) -> u32 {
    match link {
        LinkType::Null => 0,
        LinkType::Ethernet => 1,
        LinkType::RawIp => 101,
        LinkType::Loop => 108,
        LinkType::LinuxSll => 113,
        LinkType::Ipv4 => 228,
        LinkType::Ipv6 => 229,
        LinkType::LinuxSll2 => 276,
        LinkType::Other(n) => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::CaptureReader;
    use ftpscope_core::Timestamp;

    fn frames(link: LinkType) -> Vec<(Timestamp, Vec<u8>, u32)> {
        vec![
            (1_700_000_000_123_456_000, vec![1, 2, 3, 4, 5], 5),
            (1_700_000_001_000_000_000, vec![6; 61], 1514),
            (1_700_000_002_999_999_000, Vec::new(), 0),
        ]
        .into_iter()
        .map(|(ts, d, l)| {
            (
                Timestamp::from_nanos(ts + i64::from(link == LinkType::RawIp)),
                d,
                l,
            )
        })
        .collect()
    }

    fn read_back(bytes: Vec<u8>) -> Vec<(Timestamp, LinkType, Vec<u8>, u32)> {
        let mut r = CaptureReader::open(std::io::Cursor::new(bytes)).unwrap();
        let mut out = Vec::new();
        while let Some(f) = r.next_record().unwrap() {
            out.push((f.ts, f.link, f.data.to_vec(), f.orig_len));
        }
        out
    }

    #[test]
    fn pcap_and_pcapng_read_back_as_written() {
        let ethernet = frames(LinkType::Ethernet);
        let format = CarveFormat::for_inputs(&[Some((1, false)), Some((1, false))]);
        assert_eq!(
            format,
            CarveFormat::Pcap {
                linktype: 1,
                nanosecond: false
            }
        );
        let mut w = CarveWriter::new(Vec::new(), format).unwrap();
        for (ts, data, len) in &ethernet {
            let frame = Frame {
                ts: *ts,
                link: LinkType::Ethernet,
                data,
                orig_len: *len,
                number: 0,
            };
            w.frame(&frame).unwrap();
        }
        assert_eq!(w.packets, 3);
        let back = read_back(w.finish().unwrap());
        let want: Vec<_> = ethernet
            .iter()
            .map(|(ts, d, l)| (*ts, LinkType::Ethernet, d.clone(), *l))
            .collect();
        assert_eq!(back, want);

        // Two link types, nanoseconds and a key log: pcapng.
        let format = CarveFormat::for_inputs(&[Some((1, false)), Some((101, true))]);
        assert_eq!(format, CarveFormat::Pcapng);
        assert_eq!(CarveFormat::for_inputs(&[None]), CarveFormat::Pcapng);
        let mut w = CarveWriter::new(Vec::new(), format).unwrap();
        w.secrets(b"CLIENT_RANDOM 00 11\n").unwrap();
        let mut want = Vec::new();
        for link in [LinkType::Ethernet, LinkType::RawIp] {
            for (ts, data, len) in frames(link) {
                let frame = Frame {
                    ts,
                    link,
                    data: &data,
                    orig_len: len,
                    number: 0,
                };
                w.frame(&frame).unwrap();
                want.push((ts, link, data.clone(), len));
            }
        }
        let bytes = w.finish().unwrap();
        let mut r = CaptureReader::open(std::io::Cursor::new(bytes.clone())).unwrap();
        assert!(r.next_record().unwrap().is_some());
        assert_eq!(r.take_secrets(), [b"CLIENT_RANDOM 00 11\n".to_vec()]);
        assert_eq!(read_back(bytes), want);
    }
}
