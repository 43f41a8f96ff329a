//! `-f FILTER` on capture files: tcpdump's filter language, compiled by libpcap for each link
//! type met (a "dead" capture handle compiles without an interface) and run on each frame
//! with `pcap_offline_filter`, as `tcpdump -r FILE FILTER` does.

use ftpscope_core::{Frame, LinkType};
use pcap::{BpfProgram, Capture, Linktype};

/// A compiled filter per link type.
pub struct Bpf {
    expression: String,
    programs: Vec<(LinkType, BpfProgram)>,
}

impl Bpf {
    /// Compiles `expression` for `link` (Ethernet when not known yet), so that a bad
    /// expression is said before a frame is read.
    pub fn new(expression: &str, link: Option<LinkType>) -> Result<Bpf, String> {
        let mut bpf = Bpf {
            expression: expression.to_owned(),
            programs: Vec::new(),
        };
        bpf.program(link.unwrap_or(LinkType::Ethernet))?;
        Ok(bpf)
    }

    /// Whether the filter accepts `frame`. An error when the expression cannot be compiled
    /// for the frame's link type.
    pub fn matches(&mut self, frame: &Frame) -> Result<bool, String> {
        let program = self.program(frame.link)?;
        let header = PacketHeader {
            ts: libc::timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            caplen: u32::try_from(frame.data.len()).unwrap_or(u32::MAX),
            len: frame.orig_len,
        };
        // SAFETY: `BpfProgram` is `repr(transparent)` over libpcap's `struct bpf_program`,
        // alive for the call; the header is `struct pcap_pkthdr`'s layout and its caplen is
        // the length of `data`, which libpcap reads no further than.
        let accepted = unsafe {
            pcap_offline_filter(
                std::ptr::from_ref(program).cast(),
                &header,
                frame.data.as_ptr(),
            )
        };
        Ok(accepted > 0)
    }

    fn program(&mut self, link: LinkType) -> Result<&BpfProgram, String> {
        let at = match self.programs.iter().position(|(l, _)| *l == link) {
            Some(at) => at,
            None => {
                let program = compile(&self.expression, link)?;
                self.programs.push((link, program));
                self.programs.len() - 1
            }
        };
        self.programs
            .get(at)
            .map(|(_, p)| p)
            .ok_or_else(|| "no filter program".to_owned())
    }
}

/// `struct pcap_pkthdr`: `pcap_offline_filter` reads the captured and the wire length (BPF's
/// `len`, tcpdump's `greater`/`less`), which the pcap crate's own `BpfProgram::filter` sets
/// both to the captured length.
#[repr(C)]
struct PacketHeader {
    ts: libc::timeval,
    caplen: u32,
    len: u32,
}

// libpcap, linked by the pcap crate.
unsafe extern "C" {
    fn pcap_offline_filter(
        program: *const libc::c_void,
        header: *const PacketHeader,
        data: *const u8,
    ) -> libc::c_int;
}

fn compile(expression: &str, link: LinkType) -> Result<BpfProgram, String> {
    let shown = crate::text::escape(expression.as_bytes());
    let dlt = dlt(link);
    let name = dlt
        .get_name()
        .unwrap_or_else(|_| format!("link type {}", dlt.0));
    let dead = Capture::dead(dlt).map_err(|e| format!("cannot compile the filter: {e}"))?;
    dead.compile(expression, true)
        .map_err(|e| format!("invalid capture filter {shown:?} for {name} frames: {e}"))
}

/// The DLT number libpcap compiles for. The numbers differ between systems for raw IP and
/// OpenBSD loopback: libpcap names them.
fn dlt(link: LinkType) -> Linktype {
    let named = |name: &str, fallback: i32| Linktype::from_name(name).unwrap_or(Linktype(fallback));
    match link {
        LinkType::Ethernet => Linktype(1),
        LinkType::Null => Linktype(0),
        LinkType::Loop => named("LOOP", 108),
        LinkType::RawIp => named("RAW", 12),
        LinkType::Ipv4 => Linktype(228),
        LinkType::Ipv6 => Linktype(229),
        LinkType::LinuxSll => Linktype(113),
        LinkType::LinuxSll2 => Linktype(276),
        LinkType::Other(n) => Linktype(i32::try_from(n).unwrap_or(-1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_expression_is_said_at_once() {
        let e = Bpf::new("tcp port", None).err().unwrap_or_default();
        assert!(e.starts_with("invalid capture filter \"tcp port\""), "{e}");
        assert!(Bpf::new("tcp port 21", None).is_ok());
        // `ether` means nothing on raw IP: said when such frames come.
        let mut bpf = Bpf::new("ether host 1:2:3:4:5:6", None).unwrap_or_else(|e| panic!("{e}"));
        let raw = Frame {
            ts: ftpscope_core::Timestamp::EPOCH,
            link: LinkType::RawIp,
            data: &[0x45],
            orig_len: 1,
            number: 0,
        };
        assert!(bpf.matches(&raw).is_err());
    }

    #[test]
    fn len_is_the_wire_length() {
        let mut bpf = Bpf::new("greater 100", None).unwrap_or_else(|e| panic!("{e}"));
        let data = [0u8; 60];
        let mut frame = Frame {
            ts: ftpscope_core::Timestamp::EPOCH,
            link: LinkType::Ethernet,
            data: &data,
            orig_len: 60,
            number: 0,
        };
        assert_eq!(bpf.matches(&frame), Ok(false));
        frame.orig_len = 1500;
        assert_eq!(bpf.matches(&frame), Ok(true));
    }
}
