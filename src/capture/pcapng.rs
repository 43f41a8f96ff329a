//! pcapng (draft-ietf-opsawg-pcapng): sections (each may switch byte order), interfaces with
//! their own link type, `if_tsresol` and `if_tsoffset`; Enhanced, Simple and obsolete Packet
//! Blocks. Every other block is skipped by its length.

use super::input::{Endian, Input, Pending, Step, take};
use super::{MAX_BLOCK, OpenError};
use ftpscope_core::{LinkType, Timestamp};
use std::io::Read;

/// Interfaces one pcapng section may describe; more is treated as damage so that a file made of
/// interface blocks cannot grow memory without bound.
const MAX_INTERFACES: usize = 1 << 16;

pub(super) const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const PB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;
/// Decryption Secrets Block (pcapng draft §4.7), as `editcap --inject-secrets` writes it.
const DSB: u32 = 0x0A;
/// Its secrets type for a TLS key log (NSS key log text): "TLSK".
const DSB_TLS_KEY_LOG: u32 = 0x544C_534B;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// Timestamp unit of a pcapng interface (`if_tsresol`).
#[derive(Debug, Clone, Copy)]
enum Resolution {
    /// 10^-k seconds.
    Pow10(u32),
    /// 2^-k seconds.
    Pow2(u32),
}

#[derive(Debug, Clone, Copy)]
struct Interface {
    link: LinkType,
    snaplen: u32,
    resolution: Resolution,
    /// `if_tsoffset`: seconds added to every timestamp.
    offset_s: i64,
}

impl Interface {
    fn timestamp(&self, units: u64) -> Timestamp {
        let units = i128::from(units);
        let ns = match self.resolution {
            Resolution::Pow10(k) if k <= 9 => units * 10i128.pow(9 - k),
            // Finer than a nanosecond; a divisor beyond i128 makes every timestamp 0.
            Resolution::Pow10(k) => 10i128.checked_pow(k - 9).map_or(0, |d| units / d),
            // units < 2^64, so units * 1e9 < 2^94 and the shift (k < 128) cannot overflow.
            Resolution::Pow2(k) => (units * 1_000_000_000) >> k,
        };
        let total = ns + i128::from(self.offset_s) * 1_000_000_000;
        let clamped = total.clamp(i64::MIN.into(), i64::MAX.into());
        Timestamp::from_nanos(i64::try_from(clamped).unwrap_or_default())
    }
}

/// State of a pcapng file: the current section's byte order and interfaces.
pub(super) struct PcapngState {
    endian: Endian,
    interfaces: Vec<Interface>,
    /// Timestamp of the last EPB/PB, given to Simple Packet Blocks (which carry none) so that
    /// time never jumps back to 1970 for them.
    last_ts: Timestamp,
}

/// Byte order of a block starting with `head` (at least 12 bytes): a section header carries its
/// own, every other block uses the section's.
fn block_endian(head: &[u8], section: Endian) -> Result<Endian, String> {
    if take::<4>(head, 0) != Some(SHB.to_le_bytes()) {
        return Ok(section);
    }
    let bom = take::<4>(head, 8).unwrap_or_default();
    if u32::from_le_bytes(bom) == BYTE_ORDER_MAGIC {
        Ok(Endian::Little)
    } else if u32::from_be_bytes(bom) == BYTE_ORDER_MAGIC {
        Ok(Endian::Big)
    } else {
        let [a, b, c, d] = bom;
        Err(format!(
            "byte-order magic is {a:02x} {b:02x} {c:02x} {d:02x}, not 1a 2b 3c 4d"
        ))
    }
}

/// Checks a block's leading length; returns it as `usize`.
fn check_block_len(len: u32) -> Result<usize, String> {
    if len < 12 {
        Err(format!("block length {len} is below the minimum of 12"))
    } else if !len.is_multiple_of(4) {
        Err(format!("block length {len} is not a multiple of 4"))
    } else if len as usize > MAX_BLOCK {
        Err(format!(
            "block length {len} is above the cap of {MAX_BLOCK}"
        ))
    } else {
        Ok(len as usize)
    }
}

/// Smallest body (block without its trailing length) of each block type we interpret.
fn min_body(btype: u32) -> (usize, &'static str) {
    match btype {
        SHB => (24, "section header"),
        IDB => (16, "interface description"),
        EPB => (28, "enhanced packet"),
        PB => (28, "packet"),
        SPB => (12, "simple packet"),
        DSB => (16, "decryption secrets"),
        _ => (8, "unknown"),
    }
}

impl PcapngState {
    /// Reads, checks and interprets one block.
    pub(super) fn step<R: Read>(&mut self, input: &mut Input<R>) -> Result<Step, String> {
        let have = input.need(8)?;
        if have == 0 {
            return Ok(Step::End);
        }
        // 12 bytes for an SHB: its byte-order magic decides how to read its length.
        let is_shb = take::<4>(input.peek(4), 0) == Some(SHB.to_le_bytes());
        let head_len = if is_shb { 12 } else { 8 };
        let have = input.need(head_len)?;
        if have < head_len {
            return Err(format!(
                "end of file inside a block header: {head_len} bytes expected, {have} present"
            ));
        }
        let head = input.peek(head_len);
        let endian = block_endian(head, self.endian)?;
        let btype = endian.u32(head, 0);
        let len = check_block_len(endian.u32(head, 4))?;
        let have = input.need(len)?;
        if have < len {
            return Err(format!(
                "block of {len} bytes cut short: {have} present before end of file"
            ));
        }
        let block = input.peek(len);
        let trailer = endian.u32(block, len - 4);
        if trailer as usize != len {
            return Err(format!(
                "trailing block length {trailer} differs from the leading {len}"
            ));
        }
        // Fields are read from the body only, so a short block can never read its trailer.
        let body = block.get(..len - 4).unwrap_or_default();
        let (min, name) = min_body(btype);
        if body.len() < min {
            return Err(format!("{name} block of {len} bytes is too short"));
        }
        let step = self.block(btype, endian, body, input.start)?;
        input.consume(len);
        Ok(step)
    }

    /// Interprets one block of at least `min_body` bytes, given without its trailing length
    /// (`body` starts at buffer index `base`, with the block type).
    fn block(&mut self, btype: u32, e: Endian, body: &[u8], base: usize) -> Result<Step, String> {
        let u16_at = |i: usize| e.u16(body, i);
        let u32_at = |i: usize| e.u32(body, i);
        match btype {
            SHB => {
                // The section length (bytes 16..24) is for seeking; we never seek.
                let (major, minor) = (u16_at(12), u16_at(14));
                if major != 1 {
                    return Err(format!("unsupported pcapng version {major}.{minor}"));
                }
                self.endian = e;
                self.interfaces.clear();
                Ok(Step::Skipped)
            }
            IDB => {
                if self.interfaces.len() >= MAX_INTERFACES {
                    return Err(format!(
                        "more than {MAX_INTERFACES} interfaces in one section"
                    ));
                }
                let mut iface = Interface {
                    link: LinkType::from_linktype(u16_at(8).into()),
                    snaplen: u32_at(12),
                    resolution: Resolution::Pow10(6),
                    offset_s: 0,
                };
                read_idb_options(body.get(16..).unwrap_or_default(), e, &mut iface);
                self.interfaces.push(iface);
                Ok(Step::Skipped)
            }
            EPB | PB => {
                // EPB: interface u32; PB: interface u16 + drops u16. Then the same fields.
                let id = if btype == PB {
                    u16_at(8).into()
                } else {
                    u32_at(8)
                };
                let (hi, lo, caplen, orig_len) = (u32_at(12), u32_at(16), u32_at(20), u32_at(24));
                let iface = self.interface(id)?;
                let room = body.len().saturating_sub(28);
                if caplen as usize > room {
                    return Err(format!(
                        "captured length {caplen} exceeds the block's room of {room} bytes"
                    ));
                }
                let ts = iface.timestamp((u64::from(hi) << 32) | u64::from(lo));
                self.last_ts = ts;
                let (link, orig_len, data_len) =
                    (iface.link, orig_len.max(caplen), caplen as usize);
                Ok(Step::Frame(Pending {
                    ts,
                    link,
                    orig_len,
                    data_at: base + 28,
                    data_len,
                }))
            }
            SPB => {
                let orig_len = u32_at(8);
                let iface = self.interface(0)?;
                // No captured length in the block: the original one, cut by snaplen and room.
                let mut data_len = (orig_len as usize).min(body.len().saturating_sub(12));
                if iface.snaplen != 0 {
                    data_len = data_len.min(iface.snaplen as usize);
                }
                let (ts, link) = (self.last_ts, iface.link);
                Ok(Step::Frame(Pending {
                    ts,
                    link,
                    orig_len,
                    data_at: base + 12,
                    data_len,
                }))
            }
            DSB => {
                let (kind, len) = (u32_at(8), u32_at(12) as usize);
                let room = body.len().saturating_sub(16);
                if len > room {
                    return Err(format!(
                        "secrets of {len} bytes exceed the block's room of {room} bytes"
                    ));
                }
                // Other kinds (WireGuard, ZigBee, SSH...) are not ours to use.
                if kind != DSB_TLS_KEY_LOG {
                    return Ok(Step::Skipped);
                }
                let secrets = body.get(16..16 + len).unwrap_or_default();
                Ok(Step::Secrets(secrets.to_vec()))
            }
            // Name resolution, statistics, custom blocks...: nothing for us.
            _ => Ok(Step::Skipped),
        }
    }

    fn interface(&self, id: u32) -> Result<Interface, String> {
        let known = self.interfaces.len();
        let iface = self.interfaces.get(id as usize).copied();
        iface.ok_or_else(|| {
            format!("packet names interface {id}, but the section describes {known}")
        })
    }
}

/// Applies `if_tsresol` and `if_tsoffset` from an IDB's options. Malformed options end the
/// option list but are not damage: the packets are still readable.
fn read_idb_options(mut opts: &[u8], endian: Endian, iface: &mut Interface) {
    const OPT_ENDOFOPT: u16 = 0;
    const IF_TSRESOL: u16 = 9;
    const IF_TSOFFSET: u16 = 14;
    while opts.len() >= 4 {
        let (code, len) = (endian.u16(opts, 0), usize::from(endian.u16(opts, 2)));
        let Some(value) = opts.get(4..4 + len) else {
            return;
        };
        match (code, value) {
            (OPT_ENDOFOPT, _) => return,
            // High bit clear: 10^-k seconds; set: 2^-k seconds.
            (IF_TSRESOL, &[v]) if v & 0x80 == 0 => iface.resolution = Resolution::Pow10(v.into()),
            (IF_TSRESOL, &[v]) => iface.resolution = Resolution::Pow2((v & 0x7F).into()),
            (IF_TSOFFSET, v) if v.len() == 8 => iface.offset_s = endian.i64(v, 0),
            _ => {}
        }
        let padded = (4 + len).next_multiple_of(4);
        opts = opts.get(padded..).unwrap_or_default();
    }
}

pub(super) fn open_pcapng<R: Read>(input: &mut Input<R>) -> Result<PcapngState, OpenError> {
    if input.fill(12).map_err(OpenError::Io)? < 12 {
        return Err(OpenError::TruncatedHeader);
    }
    let head = input.peek(12);
    let endian = block_endian(head, Endian::Little).map_err(OpenError::BadHeader)?;
    let len = check_block_len(endian.u32(head, 4)).map_err(OpenError::BadHeader)?;
    if input.fill(len).map_err(OpenError::Io)? < len {
        return Err(OpenError::TruncatedHeader);
    }
    // Let the block parser check the trailer and version, exactly as for later sections.
    let mut state = PcapngState {
        endian,
        interfaces: Vec::new(),
        last_ts: Timestamp::from_nanos(0),
    };
    state.step(input).map_err(OpenError::BadHeader)?;
    Ok(state)
}
