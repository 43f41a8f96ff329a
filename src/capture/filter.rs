//! Which frames of capture files are analysed: `--host`, `--port`, `--from`/`--until` (pure
//! Rust, every build) and `-f FILTER` (BPF compiled by libpcap, with the `live` feature).
//!
//! The filter sits in front of the analyzer, inside [`MergedCapture`](super::MergedCapture):
//! a frame it refuses is as if the capture never held it. Decisions, for frames the filters
//! cannot read in full:
//!
//! - **The time window** (`--from` inclusive, `--until` exclusive, as editcap's `-A`/`-B`)
//!   applies to every frame by its capture time. A session crossing an edge is seen in part:
//!   its transfers get honest verdicts (`truncated`), as with a capture started late.
//! - **`--host` / `--port`** read the frame's TCP segment (link → IP → TCP, the core's own
//!   [`decode`]). A connection matches when either end does: `--host A` keeps frames from or
//!   to A, `--port N` frames from or to port N; several `--host` (or `--port`) are
//!   alternatives; `--host` and `--port` together must both match. Frames that carry no TCP
//!   (ARP, UDP, ICMP), malformed ones and those of link types ftpscope does not decode never
//!   match: the analyzer would do nothing with them but count them.
//! - **IP fragments**: the first fragment of a TCP datagram carries its ports; the later ones
//!   carry only addresses. A later fragment follows its datagram's first fragment (matched by
//!   addresses and IP identification, remembered for the last [`FRAGMENTS_REMEMBERED`]
//!   datagrams); one that comes before its first fragment is judged by its addresses only
//!   (`--host`), and passes `--port`: dropping it would cut a datagram the port filter wants.
//! - **`-f`** is tcpdump's: the expression is compiled by libpcap for each link type met and
//!   run on the whole frame with its captured and wire lengths, so it keeps exactly what
//!   `tcpdump -r FILE -w OUT FILTER` would (`port 21` drops later fragments there too).

use ftpscope_core::decode::{Decoded, decode};
use ftpscope_core::{Frame, Timestamp};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

/// Datagrams whose first fragment's ports are remembered for their later fragments.
pub const FRAGMENTS_REMEMBERED: usize = 4096;

/// The two ends of a frame's TCP segment, as far as the frame tells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoints {
    /// A segment, or a fragment whose datagram's ports are known: source, destination.
    Tcp(SocketAddr, SocketAddr),
    /// A fragment whose datagram's first fragment has not been seen: addresses only.
    Addresses(IpAddr, IpAddr),
    /// No TCP here (not IP, not TCP, malformed, an unknown link type).
    None,
}

/// Ports of fragmented datagrams, from their first fragment, for the fragments that follow.
/// Bounded: the oldest datagram is forgotten first.
#[derive(Debug, Default)]
pub struct FragmentPorts {
    ports: HashMap<(IpAddr, IpAddr, u32), (u16, u16)>,
    order: VecDeque<(IpAddr, IpAddr, u32)>,
}

impl FragmentPorts {
    /// The endpoints of `frame`'s TCP segment (see [`Endpoints`]).
    pub fn endpoints(&mut self, frame: &Frame) -> Endpoints {
        match decode(frame.link, frame.data) {
            Decoded::Tcp(seg) => Endpoints::Tcp(seg.src, seg.dst),
            Decoded::Fragment(f) => {
                let key = (f.src, f.dst, f.id);
                if f.offset == 0 {
                    let port = |at: usize| {
                        let b = f.payload.get(at..at + 2)?;
                        Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
                    };
                    if let (Some(sport), Some(dport)) = (port(0), port(2)) {
                        self.remember(key, (sport, dport));
                        return Endpoints::Tcp(
                            SocketAddr::new(f.src, sport),
                            SocketAddr::new(f.dst, dport),
                        );
                    }
                }
                match self.ports.get(&key) {
                    Some(&(sport, dport)) => {
                        Endpoints::Tcp(SocketAddr::new(f.src, sport), SocketAddr::new(f.dst, dport))
                    }
                    None => Endpoints::Addresses(f.src, f.dst),
                }
            }
            Decoded::NotTcp | Decoded::UnsupportedLink | Decoded::Malformed(_) => Endpoints::None,
        }
    }

    fn remember(&mut self, key: (IpAddr, IpAddr, u32), ports: (u16, u16)) {
        if self.ports.insert(key, ports).is_none() {
            self.order.push_back(key);
            if self.order.len() > FRAGMENTS_REMEMBERED
                && let Some(old) = self.order.pop_front()
            {
                self.ports.remove(&old);
            }
        }
    }
}

/// What the command line asks of the frames; see the module documentation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterOptions {
    pub hosts: Vec<IpAddr>,
    pub ports: Vec<u16>,
    /// First time kept (inclusive), nanoseconds since the Unix epoch.
    pub from: Option<Timestamp>,
    /// First time no longer kept (exclusive).
    pub until: Option<Timestamp>,
    /// `-f`: a BPF expression (only with the `live` feature).
    pub bpf: Option<String>,
}

impl FilterOptions {
    /// Whether any frame could be refused.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
            && self.ports.is_empty()
            && self.from.is_none()
            && self.until.is_none()
            && self.bpf.is_none()
    }
}

/// The frame filter of a run over capture files.
pub struct FrameFilter {
    options: FilterOptions,
    fragments: FragmentPorts,
    #[cfg(feature = "live")]
    bpf: Option<super::bpf::Bpf>,
    /// Why filtering had to stop (`-f` cannot be compiled for a link type met later).
    error: Option<String>,
    /// Frames looked at, and frames kept.
    pub seen: u64,
    pub kept: u64,
}

impl FrameFilter {
    /// The filter `options` describe. `-f` is compiled here (for `first_link`, the link type
    /// of the first input when known): a bad expression is an error before a frame is read.
    pub fn new(
        options: FilterOptions,
        first_link: Option<ftpscope_core::LinkType>,
    ) -> Result<FrameFilter, String> {
        #[cfg(feature = "live")]
        let bpf = match &options.bpf {
            Some(expression) => Some(super::bpf::Bpf::new(expression, first_link)?),
            None => None,
        };
        #[cfg(not(feature = "live"))]
        {
            let _ = first_link;
            if options.bpf.is_some() {
                return Err(NO_BPF.to_owned());
            }
        }
        Ok(FrameFilter {
            options,
            fragments: FragmentPorts::default(),
            #[cfg(feature = "live")]
            bpf,
            error: None,
            seen: 0,
            kept: 0,
        })
    }

    /// Why the filter stopped the run, if it did: the frames after it were not read.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Whether `frame` is analysed.
    pub fn keep(&mut self, frame: &Frame) -> bool {
        self.seen += 1;
        let keep = self.decide(frame);
        self.kept += u64::from(keep);
        keep
    }

    fn decide(&mut self, frame: &Frame) -> bool {
        let o = &self.options;
        if o.from.is_some_and(|from| frame.ts < from) || o.until.is_some_and(|u| frame.ts >= u) {
            return false;
        }
        #[cfg(feature = "live")]
        if let Some(bpf) = self.bpf.as_mut() {
            match bpf.matches(frame) {
                Ok(true) => {}
                Ok(false) => return false,
                Err(e) => {
                    self.error.get_or_insert(e);
                    return false;
                }
            }
        }
        if o.hosts.is_empty() && o.ports.is_empty() {
            return true;
        }
        let host =
            |a: IpAddr, b: IpAddr| o.hosts.is_empty() || o.hosts.iter().any(|h| *h == a || *h == b);
        let port =
            |a: u16, b: u16| o.ports.is_empty() || o.ports.iter().any(|p| *p == a || *p == b);
        match self.fragments.endpoints(frame) {
            Endpoints::Tcp(src, dst) => host(src.ip(), dst.ip()) && port(src.port(), dst.port()),
            Endpoints::Addresses(src, dst) => host(src, dst),
            Endpoints::None => false,
        }
    }
}

/// `-f` on capture files without libpcap.
pub const NO_BPF: &str = "-f FILTER on capture files needs libpcap to compile the filter: \
     rebuild with --features live (needs libpcap-dev); --host, --port, --from and --until \
     work in every build";

/// `--from` and `--until`: RFC 3339 (`2024-05-01T10:00:00Z`, `2024-05-01 12:00:00.5+02:00`)
/// or Unix seconds (`1714557600`, `1714557600.25`), as nanoseconds since the Unix epoch.
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    let bad = || {
        format!(
            "{text:?} is not a time: give RFC 3339 (2024-05-01T10:00:00Z, \
             2024-05-01T12:00:00.5+02:00) or Unix seconds (1714557600)"
        )
    };
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
        let secs: i64 = secs.parse().map_err(|_| bad())?;
        return secs
            .checked_mul(1_000_000_000)
            .and_then(|ns| ns.checked_add(fraction(frac).ok_or_else(bad).ok()?))
            .map(Timestamp::from_nanos)
            .ok_or_else(bad);
    }
    rfc3339(text.as_bytes()).ok_or_else(bad)
}

/// Nanoseconds in a decimal fraction's digits (`"25"` is 0.25 s); at most 9 digits.
fn fraction(digits: &str) -> Option<i64> {
    if digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let padded = format!("{digits:0<9}");
    padded.parse().ok()
}

/// `YYYY-MM-DD(T|t| )HH:MM:SS[.frac](Z|z|±HH:MM)`, years 1970 to 2261 (what nanoseconds in
/// an i64 hold).
fn rfc3339(t: &[u8]) -> Option<Timestamp> {
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = t.get(from..from + len)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    let sep = |at: usize, allowed: &[u8]| t.get(at).is_some_and(|b| allowed.contains(b));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1970..=2261).contains(&year)
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut at = 19;
    let mut nanos = 0;
    if t.get(at) == Some(&b'.') {
        let digits = t
            .get(at + 1..)?
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        nanos = fraction(std::str::from_utf8(t.get(at + 1..at + 1 + digits)?).ok()?)?;
        if digits == 0 {
            return None;
        }
        at += 1 + digits;
    }
    let offset_secs = match t.get(at..)? {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (num(at + 1, 2)?, num(at + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let offset = h * 3600 + m * 60;
            if *sign == b'+' { offset } else { -offset }
        }
        _ => return None,
    };
    let days: i64 = (1970..year)
        .map(|y| 365 + i64::from(is_leap(y)))
        .sum::<i64>()
        + (1..month).map(|m| days_in_month(year, m)).sum::<i64>()
        + day
        - 1;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    secs.checked_mul(1_000_000_000)?
        .checked_add(nanos)
        .map(Timestamp::from_nanos)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ftpscope_core::LinkType;

    #[test]
    fn times_are_rfc3339_or_unix_seconds() {
        let s = 1_000_000_000;
        for (text, want) in [
            ("0", Timestamp::EPOCH),
            ("1714557600", Timestamp::from_nanos(1_714_557_600 * s)),
            (
                "1714557600.25",
                Timestamp::from_nanos(1_714_557_600 * s + 250_000_000),
            ),
            ("1970-01-01T00:00:00Z", Timestamp::EPOCH),
            (
                "2024-05-01T10:00:00Z",
                Timestamp::from_nanos(1_714_557_600 * s),
            ),
            (
                "2024-05-01t10:00:00z",
                Timestamp::from_nanos(1_714_557_600 * s),
            ),
            (
                "2024-05-01 12:00:00+02:00",
                Timestamp::from_nanos(1_714_557_600 * s),
            ),
            (
                "2024-05-01T09:30:00-00:30",
                Timestamp::from_nanos(1_714_557_600 * s),
            ),
            (
                "2024-05-01T10:00:00.000000001Z",
                Timestamp::from_nanos(1_714_557_600 * s + 1),
            ),
            (
                "2000-02-29T00:00:00Z",
                Timestamp::from_nanos(951_782_400 * s),
            ),
            (
                "2023-11-14T22:13:20.5Z",
                Timestamp::from_nanos(1_700_000_000 * s + 500_000_000),
            ),
        ] {
            assert_eq!(parse_time(text), Ok(want), "{text}");
        }
        for text in [
            "",
            "yesterday",
            "2024-05-01",
            "2024-05-01T10:00:00",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T10:00:00.Z",
            "2024-05-01T10:00:00.1234567891Z",
            "2024-05-01T10:00:00+2:00",
            "1969-12-31T23:59:59Z",
            "1.2.3",
            "99999999999999999999",
        ] {
            assert!(parse_time(text).is_err(), "{text}");
        }
    }

    /// An Ethernet frame with an IPv4 header (`frag`: flags and offset field) and `payload`.
    fn ipv4(src: [u8; 4], dst: [u8; 4], id: u16, frag: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        let total = (20 + payload.len()) as u16;
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&id.to_be_bytes());
        f.extend_from_slice(&frag.to_be_bytes());
        f.extend_from_slice(&[64, 6, 0, 0]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(payload);
        f
    }

    fn frame(ts: Timestamp, data: &[u8]) -> Frame<'_> {
        Frame {
            ts,
            link: LinkType::Ethernet,
            data,
            orig_len: data.len() as u32,
            number: 0,
        }
    }

    #[test]
    fn later_fragments_follow_their_first_one() {
        let (a, b, c) = ([10, 0, 0, 1], [10, 0, 0, 2], [10, 0, 0, 3]);
        // A TCP header's first 16 bytes: ports 40000 → 21, then the rest of a first fragment.
        let mut tcp = Vec::new();
        tcp.extend_from_slice(&40000u16.to_be_bytes());
        tcp.extend_from_slice(&21u16.to_be_bytes());
        tcp.resize(24, 0);
        let more = 0x2000;
        let first = ipv4(a, b, 7, more, &tcp);
        let later = ipv4(a, b, 7, 3, &[0; 8]);
        let early = ipv4(a, c, 9, 3, &[0; 8]);
        let other = ipv4(c, b, 8, 3, &[0; 8]);
        let options = FilterOptions {
            ports: vec![21],
            ..FilterOptions::default()
        };
        let mut f = FrameFilter::new(options, None).unwrap();
        assert!(f.keep(&frame(Timestamp::from_nanos(0), &first)));
        assert!(f.keep(&frame(Timestamp::from_nanos(0), &later)));
        // Its first fragment not seen: the port filter cannot tell, and lets it through.
        assert!(f.keep(&frame(Timestamp::from_nanos(0), &early)));
        let options = FilterOptions {
            hosts: vec![IpAddr::from(a)],
            ..FilterOptions::default()
        };
        let mut f = FrameFilter::new(options, None).unwrap();
        assert!(f.keep(&frame(Timestamp::from_nanos(0), &later)));
        assert!(!f.keep(&frame(Timestamp::from_nanos(0), &other)));
        // Not TCP at all (ARP): never matches a host or a port.
        let mut arp = vec![0u8; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.resize(42, 0);
        assert!(!f.keep(&frame(Timestamp::from_nanos(0), &arp)));
        assert_eq!((f.seen, f.kept), (3, 1));
        // The time window alone keeps every frame inside it, TCP or not.
        let options = FilterOptions {
            from: Some(Timestamp::from_nanos(10)),
            until: Some(Timestamp::from_nanos(20)),
            ..FilterOptions::default()
        };
        let mut f = FrameFilter::new(options, None).unwrap();
        let kept: Vec<bool> = [9, 10, 19, 20]
            .map(|ts| f.keep(&frame(Timestamp::from_nanos(ts), &arp)))
            .into();
        assert_eq!(kept, [false, true, true, false]);
    }

    #[test]
    fn the_fragment_table_is_bounded() {
        let mut t = FragmentPorts::default();
        for id in 0..(FRAGMENTS_REMEMBERED as u32 + 10) {
            let ip = IpAddr::from([10, 0, 0, 1]);
            t.remember((ip, ip, id), (1, 2));
        }
        assert_eq!(t.ports.len(), FRAGMENTS_REMEMBERED);
        assert_eq!(t.order.len(), FRAGMENTS_REMEMBERED);
    }
}
