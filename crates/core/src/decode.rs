//! Link → IP → TCP, for every link type in [`LinkType`].
//!
//! Headers are read with etherparse's header slices; what etherparse does not cover (Linux SLL2,
//! BSD NULL/LOOP, the IPv6 extension-header walk with a fragment header) is read here with `get`.
//! A frame cut by the snaplen still decodes: the TCP payload is what was captured, and
//! `wire_payload_len` says how much was on the wire, so the reassembler can count the rest as a
//! gap. IP fragments are returned as [`Decoded::Fragment`] for [`crate::defrag`] to reassemble.

use crate::frame::LinkType;
use etherparse::{Ipv4HeaderSlice, Ipv6HeaderSlice, TcpHeaderSlice};
use std::net::{IpAddr, SocketAddr};

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86DD;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88A8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const IPPROTO_TCP: u8 = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

/// One TCP segment.
#[derive(Debug, Clone, Copy)]
pub struct TcpSegment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    /// The payload bytes that were captured.
    pub payload: &'a [u8],
    /// The payload's length on the wire (≥ `payload.len()`; larger when the snaplen cut it).
    pub wire_payload_len: u32,
}

/// A fragment of an IP datagram carrying TCP.
#[derive(Debug, Clone, Copy)]
pub struct Fragment<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 identification or IPv6 fragment identification.
    pub id: u32,
    /// Byte offset of this fragment in the datagram's payload.
    pub offset: u32,
    pub more: bool,
    pub payload: &'a [u8],
    /// True when the snaplen cut this fragment: the datagram can never be whole.
    pub truncated: bool,
}

#[derive(Debug, Clone, Copy)]
pub enum Decoded<'a> {
    Tcp(TcpSegment<'a>),
    Fragment(Fragment<'a>),
    /// IP but not TCP, or not IP at all: nothing for us.
    NotTcp,
    /// A link type we do not decode.
    UnsupportedLink,
    /// Headers cut short or invalid; the string says which.
    Malformed(&'static str),
}

/// Decodes one frame down to its TCP segment (or fragment).
pub fn decode(link: LinkType, data: &[u8]) -> Decoded<'_> {
    match link {
        LinkType::Ethernet => decode_ethernet(data),
        LinkType::Null => decode_bsd_loopback(data, false),
        LinkType::Loop => decode_bsd_loopback(data, true),
        LinkType::RawIp => decode_ip(data),
        LinkType::Ipv4 | LinkType::Ipv6 => decode_ip(data),
        LinkType::LinuxSll => match (be16(data, 14), data.get(16..)) {
            (Some(proto), Some(rest)) => decode_ethertype(proto, rest),
            _ => Decoded::Malformed("linux_sll header cut short"),
        },
        LinkType::LinuxSll2 => match (be16(data, 0), data.get(20..)) {
            (Some(proto), Some(rest)) => decode_ethertype(proto, rest),
            _ => Decoded::Malformed("linux_sll2 header cut short"),
        },
        LinkType::Other(_) => Decoded::UnsupportedLink,
    }
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at + 2)?;
    Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
}

fn decode_ethernet(data: &[u8]) -> Decoded<'_> {
    let Some(mut ethertype) = be16(data, 12) else {
        return Decoded::Malformed("ethernet header cut short");
    };
    let mut at = 14;
    // 802.1Q and 802.1ad (QinQ) tags: 4 bytes each, as many as there are.
    while matches!(
        ethertype,
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
    ) {
        match be16(data, at + 2) {
            Some(inner) => ethertype = inner,
            None => return Decoded::Malformed("vlan tag cut short"),
        }
        at += 4;
    }
    match data.get(at..) {
        Some(rest) => decode_ethertype(ethertype, rest),
        None => Decoded::Malformed("ethernet header cut short"),
    }
}

fn decode_ethertype(ethertype: u16, rest: &[u8]) -> Decoded<'_> {
    match ethertype {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => decode_ip(rest),
        _ => Decoded::NotTcp,
    }
}

/// BSD NULL (host byte order, so either) and LOOP (network byte order) address families.
fn decode_bsd_loopback(data: &[u8], network_order: bool) -> Decoded<'_> {
    let (Some(bytes), Some(rest)) = (
        data.get(..4).and_then(|h| <[u8; 4]>::try_from(h).ok()),
        data.get(4..),
    ) else {
        return Decoded::Malformed("loopback header cut short");
    };
    let be = u32::from_be_bytes(bytes);
    let le = u32::from_le_bytes(bytes);
    let family = if network_order { be } else { be.min(le) };
    match family {
        // AF_INET everywhere; AF_INET6 is 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS), 10 (Linux).
        2 | 24 | 28 | 30 | 10 => decode_ip(rest),
        _ => Decoded::NotTcp,
    }
}

fn decode_ip(data: &[u8]) -> Decoded<'_> {
    match data.first().map(|b| b >> 4) {
        Some(4) => decode_ipv4(data),
        Some(6) => decode_ipv6(data),
        Some(_) => Decoded::NotTcp,
        None => Decoded::Malformed("empty IP packet"),
    }
}

fn decode_ipv4(data: &[u8]) -> Decoded<'_> {
    let Ok(header) = Ipv4HeaderSlice::from_slice(data) else {
        return Decoded::Malformed("ipv4 header cut short or invalid");
    };
    if header.protocol().0 != IPPROTO_TCP {
        return Decoded::NotTcp;
    }
    let header_len = usize::from(header.ihl()) * 4;
    let total_len = usize::from(header.total_len());
    if total_len < header_len {
        return Decoded::Malformed("ipv4 total length shorter than its header");
    }
    let wire_payload_len = total_len - header_len;
    // Ethernet pads short frames: the IP length, not the frame length, says where payload ends.
    let captured_end = data.len().min(total_len);
    let payload = data.get(header_len..captured_end).unwrap_or(&[]);
    let src = IpAddr::V4(header.source_addr());
    let dst = IpAddr::V4(header.destination_addr());
    let offset = u32::from(header.fragments_offset().value()) * 8;
    if header.more_fragments() || offset > 0 {
        return Decoded::Fragment(Fragment {
            src,
            dst,
            id: u32::from(header.identification()),
            offset,
            more: header.more_fragments(),
            payload,
            truncated: payload.len() < wire_payload_len,
        });
    }
    decode_tcp(src, dst, payload, wire_payload_len)
}

fn decode_ipv6(data: &[u8]) -> Decoded<'_> {
    let Ok(header) = Ipv6HeaderSlice::from_slice(data) else {
        return Decoded::Malformed("ipv6 header cut short or invalid");
    };
    let src = IpAddr::V6(header.source_addr());
    let dst = IpAddr::V6(header.destination_addr());
    let mut wire_len = usize::from(header.payload_length());
    if wire_len == 0 {
        // Jumbogram (RFC 2675) or a bogus length: trust what was captured.
        wire_len = data.len().saturating_sub(40);
    }
    let end = data.len().min(40 + wire_len);
    let mut next = header.next_header().0;
    let mut at = 40usize;
    let mut fragment: Option<(u32, u32, bool)> = None;
    // Walk extension headers (RFC 8200 §4) until TCP or something else.
    loop {
        match next {
            IPPROTO_TCP => break,
            // Hop-by-hop, routing, destination options: length in 8-octet units, not counting the first 8.
            0 | 43 | 60 => {
                let (Some(&nh), Some(&len)) = (data.get(at), data.get(at + 1)) else {
                    return Decoded::Malformed("ipv6 extension header cut short");
                };
                next = nh;
                at += (usize::from(len) + 1) * 8;
            }
            // Authentication header: length in 4-octet units, minus 2.
            51 => {
                let (Some(&nh), Some(&len)) = (data.get(at), data.get(at + 1)) else {
                    return Decoded::Malformed("ipv6 authentication header cut short");
                };
                next = nh;
                at += (usize::from(len) + 2) * 4;
            }
            44 => {
                let Some(frag) = data.get(at..at + 8) else {
                    return Decoded::Malformed("ipv6 fragment header cut short");
                };
                let nh = frag.first().copied().unwrap_or(0);
                let off_flags = u16::from_be_bytes([
                    frag.get(2).copied().unwrap_or(0),
                    frag.get(3).copied().unwrap_or(0),
                ]);
                let id = frag
                    .get(4..8)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map(u32::from_be_bytes)
                    .unwrap_or(0);
                fragment = Some((id, u32::from(off_flags >> 3) * 8, off_flags & 1 == 1));
                next = nh;
                at += 8;
            }
            _ => return Decoded::NotTcp,
        }
        if at > 40 + wire_len {
            return Decoded::Malformed("ipv6 extension headers longer than the payload");
        }
    }
    let wire_payload_len = (40 + wire_len).saturating_sub(at);
    let payload = data.get(at..end.max(at)).unwrap_or(&[]);
    if let Some((id, offset, more)) = fragment
        && (more || offset > 0)
    {
        return Decoded::Fragment(Fragment {
            src,
            dst,
            id,
            offset,
            more,
            payload,
            truncated: payload.len() < wire_payload_len,
        });
    }
    decode_tcp(src, dst, payload, wire_payload_len)
}

/// Decodes the TCP header at the start of an IP payload. `wire_len` is the IP payload's length
/// on the wire; `data` may be shorter when the snaplen cut it.
pub fn decode_tcp(src: IpAddr, dst: IpAddr, data: &[u8], wire_len: usize) -> Decoded<'_> {
    let Ok(tcp) = TcpHeaderSlice::from_slice(data) else {
        return Decoded::Malformed("tcp header cut short or invalid");
    };
    let header_len = usize::from(tcp.data_offset()) * 4;
    let payload = data.get(header_len..).unwrap_or(&[]);
    let wire_payload_len = wire_len.saturating_sub(header_len).max(payload.len());
    Decoded::Tcp(TcpSegment {
        src: SocketAddr::new(src, tcp.source_port()),
        dst: SocketAddr::new(dst, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: TcpFlags {
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
        },
        payload,
        wire_payload_len: u32::try_from(wire_payload_len).unwrap_or(u32::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn tcp_frame(payload: &[u8]) -> Vec<u8> {
        let builder = PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 21, 1000, 8192);
        let mut out = Vec::new();
        builder.write(&mut out, payload).unwrap();
        out
    }

    #[test]
    fn ethernet_ipv4_tcp() {
        let frame = tcp_frame(b"USER x\r\n");
        let Decoded::Tcp(seg) = decode(LinkType::Ethernet, &frame) else {
            panic!("not tcp")
        };
        assert_eq!(seg.src, "10.0.0.1:40000".parse().unwrap());
        assert_eq!(seg.dst, "10.0.0.2:21".parse().unwrap());
        assert_eq!(seg.seq, 1000);
        assert_eq!(seg.payload, b"USER x\r\n");
        assert_eq!(seg.wire_payload_len, 8);
    }

    #[test]
    fn snaplen_cut_keeps_wire_length() {
        let frame = tcp_frame(b"0123456789");
        let cut = &frame[..frame.len() - 4];
        let Decoded::Tcp(seg) = decode(LinkType::Ethernet, cut) else {
            panic!("not tcp")
        };
        assert_eq!(seg.payload, b"012345");
        assert_eq!(seg.wire_payload_len, 10);
    }

    #[test]
    fn vlan_qinq_and_cooked_headers() {
        let frame = tcp_frame(b"x");
        let mut qinq = frame[..12].to_vec();
        qinq.extend_from_slice(&[0x88, 0xA8, 0, 1, 0x81, 0x00, 0, 2]);
        qinq.extend_from_slice(&frame[12..]);
        assert!(matches!(decode(LinkType::Ethernet, &qinq), Decoded::Tcp(s) if s.payload == b"x"));

        let ip = &frame[14..];
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(ip);
        assert!(matches!(decode(LinkType::LinuxSll, &sll), Decoded::Tcp(_)));
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(ip);
        assert!(matches!(
            decode(LinkType::LinuxSll2, &sll2),
            Decoded::Tcp(_)
        ));
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend_from_slice(ip);
        assert!(matches!(decode(LinkType::Null, &null), Decoded::Tcp(_)));
        let mut lo = 2u32.to_be_bytes().to_vec();
        lo.extend_from_slice(ip);
        assert!(matches!(decode(LinkType::Loop, &lo), Decoded::Tcp(_)));
        assert!(matches!(decode(LinkType::RawIp, ip), Decoded::Tcp(_)));
    }

    #[test]
    fn ipv6_with_extension_header() {
        let builder = PacketBuilder::ipv6([1; 16], [2; 16], 64).tcp(1, 2, 3, 4);
        let mut pkt = Vec::new();
        builder.write(&mut pkt, b"hi").unwrap();
        // Insert an 8-byte destination-options header (next header = TCP).
        let mut with_ext = pkt[..40].to_vec();
        with_ext[6] = 60;
        let plen = u16::from_be_bytes([pkt[4], pkt[5]]) + 8;
        with_ext[4..6].copy_from_slice(&plen.to_be_bytes());
        with_ext.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]);
        with_ext.extend_from_slice(&pkt[40..]);
        let Decoded::Tcp(seg) = decode(LinkType::RawIp, &with_ext) else {
            panic!("not tcp")
        };
        assert_eq!(seg.payload, b"hi");
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        let frame = tcp_frame(b"hello");
        for cut in 0..frame.len() {
            for link in [
                LinkType::Ethernet,
                LinkType::RawIp,
                LinkType::LinuxSll2,
                LinkType::Null,
            ] {
                let _ = decode(link, &frame[..cut]);
            }
        }
        let mut seed = 7u32;
        for _ in 0..2000 {
            let mut f = frame.clone();
            for _ in 0..4 {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let i = (seed as usize >> 8) % f.len();
                f[i] ^= (seed >> 3) as u8;
            }
            let _ = decode(LinkType::Ethernet, &f);
        }
    }
}
