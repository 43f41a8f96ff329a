//! One captured frame as the analyzer sees it, and the link layers it understands.
//!
//! The core never reads files: the binary's capture readers turn pcap/pcapng records into
//! [`Frame`]s. Time is the capture's time only: instants are [`Timestamp`]s (nanoseconds since
//! the Unix epoch), lengths of time (limits, windows, durations) are [`TimeSpan`]s.

/// An instant of packet time: nanoseconds since the Unix epoch, as the capture's clock gave
/// it. The analyzer's only clock.
///
/// Instants and spans are two types ([`TimeSpan`]), so a limit cannot be passed where a time
/// is meant. The capture's clock may step back: an instant minus a later one is a negative
/// span, never a panic. Arithmetic saturates at the ends of `i64` (a hostile capture may say
/// any time at all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// A length of packet time in nanoseconds: limits, windows, ages, durations. Negative when
/// the capture's clock stepped back between its two instants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeSpan(i64);

impl Timestamp {
    /// 1970-01-01T00:00:00Z.
    pub const EPOCH: Timestamp = Timestamp(0);
    pub const MIN: Timestamp = Timestamp(i64::MIN);
    pub const MAX: Timestamp = Timestamp(i64::MAX);

    pub const fn from_nanos(nanos: i64) -> Self {
        Timestamp(nanos)
    }

    pub const fn from_secs(secs: i64) -> Self {
        Timestamp(secs.saturating_mul(1_000_000_000))
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// How far apart two instants are, whichever comes first.
    pub const fn abs_diff(self, other: Timestamp) -> u64 {
        self.0.abs_diff(other.0)
    }

    /// The span from `earlier` to this instant (negative when `earlier` is later).
    pub const fn since(self, earlier: Timestamp) -> TimeSpan {
        TimeSpan(self.0.saturating_sub(earlier.0))
    }
}

impl TimeSpan {
    pub const ZERO: TimeSpan = TimeSpan(0);
    pub const MAX: TimeSpan = TimeSpan(i64::MAX);

    pub const fn from_nanos(nanos: i64) -> Self {
        TimeSpan(nanos)
    }

    pub const fn from_micros(micros: i64) -> Self {
        TimeSpan(micros.saturating_mul(1_000))
    }

    pub const fn from_millis(millis: i64) -> Self {
        TimeSpan(millis.saturating_mul(1_000_000))
    }

    pub const fn from_secs(secs: i64) -> Self {
        TimeSpan(secs.saturating_mul(1_000_000_000))
    }

    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Whole seconds, rounded toward zero.
    pub const fn as_secs(self) -> i64 {
        self.0 / 1_000_000_000
    }

    /// Seconds as a float, for rates and display.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// The length of the span, whichever way it goes.
    pub const fn unsigned_abs(self) -> u64 {
        self.0.unsigned_abs()
    }

    /// A negative span (the clock stepped back) counted as none.
    pub const fn clamp_negative(self) -> Self {
        if self.0 < 0 { TimeSpan(0) } else { self }
    }
}

impl std::ops::Add<TimeSpan> for Timestamp {
    type Output = Timestamp;
    fn add(self, span: TimeSpan) -> Timestamp {
        Timestamp(self.0.saturating_add(span.0))
    }
}

impl std::ops::AddAssign<TimeSpan> for Timestamp {
    fn add_assign(&mut self, span: TimeSpan) {
        *self = *self + span;
    }
}

impl std::ops::Sub<TimeSpan> for Timestamp {
    type Output = Timestamp;
    fn sub(self, span: TimeSpan) -> Timestamp {
        Timestamp(self.0.saturating_sub(span.0))
    }
}

impl std::ops::Sub for Timestamp {
    type Output = TimeSpan;
    fn sub(self, earlier: Timestamp) -> TimeSpan {
        self.since(earlier)
    }
}

impl std::ops::Add for TimeSpan {
    type Output = TimeSpan;
    fn add(self, other: TimeSpan) -> TimeSpan {
        TimeSpan(self.0.saturating_add(other.0))
    }
}

impl std::ops::Sub for TimeSpan {
    type Output = TimeSpan;
    fn sub(self, other: TimeSpan) -> TimeSpan {
        TimeSpan(self.0.saturating_sub(other.0))
    }
}

impl std::ops::Mul<TimeSpan> for i64 {
    type Output = TimeSpan;
    fn mul(self, span: TimeSpan) -> TimeSpan {
        TimeSpan(self.saturating_mul(span.0))
    }
}

impl std::ops::Mul<i64> for TimeSpan {
    type Output = TimeSpan;
    fn mul(self, n: i64) -> TimeSpan {
        TimeSpan(self.0.saturating_mul(n))
    }
}

/// How many whole `span`s fit in this one (zero for an empty `span`, not a panic).
impl std::ops::Div for TimeSpan {
    type Output = i64;
    fn div(self, span: TimeSpan) -> i64 {
        self.0.checked_div(span.0).unwrap_or(0)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_and_spans_keep_their_kinds_apart() {
        let t = Timestamp::from_secs(1_700_000_000);
        let later = t + TimeSpan::from_millis(1500);
        assert_eq!(later - t, TimeSpan::from_nanos(1_500_000_000));
        assert_eq!(later.since(t).as_secs(), 1);
        assert_eq!(later - TimeSpan::from_micros(1_500_000), t);
        // The capture's clock stepped back: a negative span, counted as none where asked.
        assert_eq!(t - later, TimeSpan::from_nanos(-1_500_000_000));
        assert_eq!((t - later).clamp_negative(), TimeSpan::ZERO);
        assert_eq!((t - later).unsigned_abs(), 1_500_000_000);
        assert_eq!(t.abs_diff(later), 1_500_000_000);
        assert_eq!(TimeSpan::from_secs(900) / TimeSpan::from_secs(60), 15);
        assert_eq!(TimeSpan::from_secs(1) / TimeSpan::ZERO, 0, "no panic");
        assert_eq!(3 * TimeSpan::from_secs(2), TimeSpan::from_secs(6));
    }

    /// A hostile capture may say any time: arithmetic saturates instead of wrapping (or
    /// panicking in a debug build).
    #[test]
    fn arithmetic_saturates_at_the_ends() {
        assert_eq!(Timestamp::MAX + TimeSpan::from_secs(1), Timestamp::MAX);
        assert_eq!(Timestamp::MIN - TimeSpan::from_secs(1), Timestamp::MIN);
        assert_eq!(Timestamp::MAX - Timestamp::MIN, TimeSpan::MAX);
        assert_eq!(Timestamp::from_secs(i64::MAX), Timestamp::MAX);
        assert_eq!(TimeSpan::MAX * 2, TimeSpan::MAX);
        let mut t = Timestamp::MAX;
        t += TimeSpan::MAX;
        assert_eq!(t, Timestamp::MAX);
    }
}
