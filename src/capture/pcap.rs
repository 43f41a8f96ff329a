//! Classic pcap (libpcap "savefile", draft-ietf-opsawg-pcap): the file header fixes the byte
//! order, the timestamp unit and the link type; records follow.

use super::input::{Endian, Input, Pending, Step};
use super::{MAX_BLOCK, OpenError};
use ftpscope_core::{LinkType, Timestamp};
use std::io::Read;

/// A pcap record may always hold this much, even when the header's snaplen is smaller
/// (libpcap's own maximum snaplen for most link types).
const PCAP_MIN_RECORD_CAP: u32 = 256 << 10;

/// State of a classic pcap file: everything is fixed by the file header.
pub(super) struct PcapState {
    endian: Endian,
    /// Nanoseconds per unit of the record's fraction field (1000 for microsecond files).
    frac_ns: i64,
    link: LinkType,
    /// The header's link type number as written (`link` maps several numbers to one).
    pub(super) linktype: u32,
    /// Largest captured length accepted: the snaplen as a hint, within sane bounds.
    max_caplen: u32,
    /// 16, or 24 for the "modified" pcap format.
    header_len: usize,
}

impl PcapState {
    /// Whether the file's timestamps are in nanoseconds (else microseconds).
    pub(super) fn nanosecond(&self) -> bool {
        self.frac_ns == 1
    }

    pub(super) fn step<R: Read>(&mut self, input: &mut Input<R>) -> Result<Step, String> {
        let hl = self.header_len;
        let have = input.need(hl)?;
        if have == 0 {
            return Ok(Step::End);
        }
        if have < hl {
            return Err(format!(
                "end of file inside a record header: {hl} bytes expected, {have} present"
            ));
        }
        let h = input.peek(hl);
        let word = |i: usize| self.endian.u32(h, i * 4);
        let (sec, frac, caplen, orig_len) = (word(0), word(1), word(2), word(3));
        if caplen > self.max_caplen {
            let max = self.max_caplen;
            return Err(format!(
                "record claims {caplen} captured bytes, more than the {max} allowed"
            ));
        }
        let total = hl + caplen as usize;
        let have = input.need(total)?.saturating_sub(hl);
        if have < caplen as usize {
            return Err(format!(
                "record cut short: {caplen} bytes of data expected, {have} present before end of file"
            ));
        }
        // u32 seconds * 1e9 plus u32 fraction * 1e3 stays far below i64::MAX.
        let ts =
            Timestamp::from_nanos(i64::from(sec) * 1_000_000_000 + i64::from(frac) * self.frac_ns);
        let (link, orig_len, data_at) = (self.link, orig_len.max(caplen), input.start + hl);
        input.consume(total);
        Ok(Step::Frame(Pending {
            ts,
            link,
            orig_len,
            data_at,
            data_len: caplen as usize,
        }))
    }
}

pub(super) fn open_pcap<R: Read>(
    input: &mut Input<R>,
    magic: [u8; 4],
) -> Result<PcapState, OpenError> {
    let (endian, frac_ns, header_len) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (Endian::Little, 1000, 16),
        [0xa1, 0xb2, 0xc3, 0xd4] => (Endian::Big, 1000, 16),
        [0x4d, 0x3c, 0xb2, 0xa1] => (Endian::Little, 1, 16),
        [0xa1, 0xb2, 0x3c, 0x4d] => (Endian::Big, 1, 16),
        [0x34, 0xcd, 0xb2, 0xa1] => (Endian::Little, 1000, 24),
        [0xa1, 0xb2, 0xcd, 0x34] => (Endian::Big, 1000, 24),
        _ => return Err(OpenError::NotACapture { magic }),
    };
    if input.fill(24).map_err(OpenError::Io)? < 24 {
        return Err(OpenError::TruncatedHeader);
    }
    let h = input.peek(24);
    let (major, minor) = (endian.u16(h, 4), endian.u16(h, 6));
    if major != 2 {
        return Err(OpenError::BadHeader(format!(
            "unsupported pcap version {major}.{minor}"
        )));
    }
    // Bytes 8..16 (thiszone, sigfigs) are always 0 in practice and ignored, as libpcap does.
    let snaplen = endian.u32(h, 16);
    let linktype = endian.u32(h, 20);
    // A record may exceed a small snaplen (writers get it wrong) but not MAX_BLOCK.
    let max_caplen = snaplen.max(PCAP_MIN_RECORD_CAP).min(MAX_BLOCK as u32);
    input.consume(24);
    Ok(PcapState {
        endian,
        frac_ns,
        link: LinkType::from_linktype(linktype & 0xFFFF),
        linktype: linktype & 0xFFFF,
        max_caplen,
        header_len,
    })
}
