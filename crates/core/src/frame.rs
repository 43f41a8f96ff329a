//! One captured frame as the analyzer sees it, and the link layers it understands.
//!
//! The core never reads files: the binary's capture readers turn pcap/pcapng records into
//! [`Frame`]s. Time is the capture's time only ([`Timestamp`], nanoseconds since the Unix epoch).

/// Packet time in nanoseconds since the Unix epoch. The analyzer's only clock.
pub type Timestamp = i64;

/// Link-layer framing of a frame, mapped from the pcap LINKTYPE_* registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// LINKTYPE_ETHERNET (1), with optional 802.1Q / 802.1ad (QinQ) tags.
    Ethernet,
    /// LINKTYPE_NULL (0): BSD loopback, 4-byte address family in the capturing host's byte order.
    Null,
    /// LINKTYPE_LOOP (108): OpenBSD loopback, 4-byte address family in network byte order.
    Loop,
    /// LINKTYPE_RAW (101, also DLT 12/14): a bare IPv4 or IPv6 packet.
    RawIp,
    /// LINKTYPE_IPV4 (228).
    Ipv4,
    /// LINKTYPE_IPV6 (229).
    Ipv6,
    /// LINKTYPE_LINUX_SLL (113): Linux "cooked" capture, 16-byte header.
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276): Linux "cooked" capture v2, 20-byte header.
    LinuxSll2,
    /// Anything else: frames are counted and reported, not decoded.
    Other(u32),
}

impl LinkType {
    /// Maps a pcap/pcapng link-type number (LINKTYPE_* or the DLT_* aliases seen in the wild).
    pub fn from_linktype(value: u32) -> Self {
        match value {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            // DLT_RAW is 12 on most BSDs and 14 on OpenBSD; LINKTYPE_RAW is 101.
            12 | 14 | 101 => LinkType::RawIp,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            276 => LinkType::LinuxSll2,
            other => LinkType::Other(other),
        }
    }
}

/// One captured frame. `data` may be shorter than `orig_len` when the capture's snaplen cut it.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub ts: Timestamp,
    pub link: LinkType,
    pub data: &'a [u8],
    /// Length of the frame on the wire (the pcap `orig_len`).
    pub orig_len: u32,
    /// Its number in the capture as Wireshark shows it (`frame.number`): 1 for the first
    /// frame read, counting every frame, kept by the filters or not; merged inputs are
    /// numbered in the merged time order, as `mergecap` would write them. 0 when the source
    /// does not number its frames: the analyzer then numbers the frames it is given.
    pub number: u64,
}

impl Frame<'_> {
    /// True when the capture kept fewer bytes than were on the wire.
    pub fn is_truncated(&self) -> bool {
        (self.data.len() as u64) < u64::from(self.orig_len)
    }
}
