//! Tests of the pcap/pcapng reader in `src/capture/`: captures built byte by byte in memory,
//! cut at every offset and mutated at random; files written by editcap/mergecap; the corpus.

// Test code: a panic is how a failure is reported.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};

use ftpscope::capture::{CaptureReader, Damage, Format, MergedCapture, OpenError};
use ftpscope_core::LinkType;

mod common;
use common::corpus_dir;

/// Remembers the largest single allocation of each thread (so of each test), to check that
/// lying length fields cost nothing.
struct MaxAlloc;

thread_local! {
    // Const-initialised and without destructor: safe to touch from inside the allocator.
    static LARGEST_ALLOC: Cell<usize> = const { Cell::new(0) };
}

fn note_alloc(size: usize) {
    let _ = LARGEST_ALLOC.try_with(|c| c.set(c.get().max(size)));
}

unsafe impl GlobalAlloc for MaxAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_alloc(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: MaxAlloc = MaxAlloc;

// ---------------------------------------------------------------------------------------------
// Builders: they write captures and record what the reader must return.

#[derive(Debug, Clone, PartialEq, Eq)]
struct Expect {
    ts: i64,
    link: LinkType,
    data: Vec<u8>,
    orig_len: u32,
}

/// A capture built in memory, with the offsets where the file header and each block end and
/// each expected frame together with the end offset of its record.
#[derive(Default)]
struct Built {
    bytes: Vec<u8>,
    header_end: usize,
    boundaries: Vec<usize>,
    frames: Vec<(usize, Expect)>,
}

impl Built {
    fn u16(&mut self, be: bool, v: u16) {
        self.bytes
            .extend(if be { v.to_be_bytes() } else { v.to_le_bytes() });
    }
    fn u32(&mut self, be: bool, v: u32) {
        self.bytes
            .extend(if be { v.to_be_bytes() } else { v.to_le_bytes() });
    }
    fn u64(&mut self, be: bool, v: u64) {
        self.bytes
            .extend(if be { v.to_be_bytes() } else { v.to_le_bytes() });
    }
    fn expect(&mut self, ts: i64, link: LinkType, data: &[u8], orig_len: u32) {
        let e = Expect {
            ts,
            link,
            data: data.to_vec(),
            orig_len,
        };
        self.frames.push((self.bytes.len(), e));
    }
    fn expected(&self) -> Vec<Expect> {
        self.frames.iter().map(|(_, e)| e.clone()).collect()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum PcapKind {
    Micro,
    Nano,
    Modified,
}

struct PcapW {
    out: Built,
    be: bool,
    kind: PcapKind,
    link: LinkType,
}

impl PcapW {
    fn new(be: bool, kind: PcapKind, linktype: u32, snaplen: u32) -> Self {
        let mut out = Built::default();
        let magic = match kind {
            PcapKind::Micro => 0xa1b2_c3d4,
            PcapKind::Nano => 0xa1b2_3c4d,
            PcapKind::Modified => 0xa1b2_cd34,
        };
        out.u32(be, magic);
        out.u16(be, 2);
        out.u16(be, 4);
        out.u32(be, 0);
        out.u32(be, 0);
        out.u32(be, snaplen);
        out.u32(be, linktype);
        out.header_end = out.bytes.len();
        let link = LinkType::from_linktype(linktype & 0xFFFF);
        PcapW {
            out,
            be,
            kind,
            link,
        }
    }

    /// A record; `expect_orig` is what the reader must report as the original length.
    fn record(
        &mut self,
        sec: u32,
        frac: u32,
        data: &[u8],
        orig_len: u32,
        expect_ts: i64,
        expect_orig: u32,
    ) -> &mut Self {
        let be = self.be;
        self.out.u32(be, sec);
        self.out.u32(be, frac);
        self.out.u32(be, data.len() as u32);
        self.out.u32(be, orig_len);
        if self.kind == PcapKind::Modified {
            self.out.bytes.extend([0xEE; 8]); // ifindex, protocol, pkt_type, pad
        }
        self.out.bytes.extend(data);
        self.out.expect(expect_ts, self.link, data, expect_orig);
        self.out.boundaries.push(self.out.bytes.len());
        self
    }
}

struct NgW {
    out: Built,
    be: bool,
    links: Vec<LinkType>,
    last_ts: i64,
}

impl NgW {
    fn new(be: bool) -> Self {
        let mut w = NgW {
            out: Built::default(),
            be: true,
            links: Vec::new(),
            last_ts: 0,
        };
        w.shb(be);
        w.out.header_end = w.out.bytes.len();
        w
    }

    /// Writes a block; `body` writes everything between the length fields.
    fn block(&mut self, btype: u32, body: impl FnOnce(&mut Built, bool)) -> &mut Self {
        let start = self.out.bytes.len();
        let be = self.be;
        self.out.u32(be, btype);
        self.out.u32(be, 0);
        body(&mut self.out, be);
        while !self.out.bytes.len().is_multiple_of(4) {
            self.out.bytes.push(0);
        }
        let len = (self.out.bytes.len() - start + 4) as u32;
        self.out.u32(be, len);
        let len_bytes = if be {
            len.to_be_bytes()
        } else {
            len.to_le_bytes()
        };
        self.out.bytes[start + 4..start + 8].copy_from_slice(&len_bytes);
        self.out.boundaries.push(self.out.bytes.len());
        self
    }

    fn shb(&mut self, be: bool) -> &mut Self {
        self.be = be;
        self.links.clear();
        self.block(0x0A0D_0D0A, |o, be| {
            o.u32(be, 0x1A2B_3C4D);
            o.u16(be, 1);
            o.u16(be, 0);
            o.u64(be, u64::MAX); // section length unknown
            option(o, be, 4, b"ftpscope test"); // shb_userappl
            option(o, be, 0, b"");
        })
    }

    fn idb(
        &mut self,
        linktype: u16,
        snaplen: u32,
        tsresol: Option<u8>,
        tsoffset: Option<i64>,
    ) -> &mut Self {
        self.links.push(LinkType::from_linktype(linktype.into()));
        self.block(1, |o, be| {
            o.u16(be, linktype);
            o.u16(be, 0);
            o.u32(be, snaplen);
            option(o, be, 2, b"eth0"); // if_name, before the options that matter
            if let Some(r) = tsresol {
                option(o, be, 9, &[r]);
            }
            if let Some(off) = tsoffset {
                let bytes = if be {
                    off.to_be_bytes()
                } else {
                    off.to_le_bytes()
                };
                option(o, be, 14, &bytes);
            }
            option(o, be, 0, b"");
        })
    }

    fn epb(
        &mut self,
        iface: u32,
        units: u64,
        data: &[u8],
        orig_len: u32,
        expect_ts: i64,
    ) -> &mut Self {
        self.packet(6, iface, units, data, orig_len, expect_ts)
    }

    /// Obsolete Packet Block: 16-bit interface id and a drops count.
    fn pb(
        &mut self,
        iface: u16,
        units: u64,
        data: &[u8],
        orig_len: u32,
        expect_ts: i64,
    ) -> &mut Self {
        self.packet(
            2,
            u32::from(iface) | 0xABCD_0000,
            units,
            data,
            orig_len,
            expect_ts,
        )
    }

    fn packet(
        &mut self,
        btype: u32,
        id: u32,
        units: u64,
        data: &[u8],
        orig_len: u32,
        expect_ts: i64,
    ) -> &mut Self {
        let link = self.links[(id & 0xFFFF) as usize];
        let head_id = if btype == 2 && self.be {
            id.rotate_left(16)
        } else {
            id
        };
        self.block(btype, |o, be| {
            o.u32(be, head_id);
            o.u32(be, (units >> 32) as u32);
            o.u32(be, units as u32);
            o.u32(be, data.len() as u32);
            o.u32(be, orig_len);
            o.bytes.extend(data);
            while !o.bytes.len().is_multiple_of(4) {
                o.bytes.push(0);
            }
            option(o, be, 2, &[0, 0, 0, 1]); // epb_flags: trailing options must be ignored
            option(o, be, 0, b"");
        });
        self.last_ts = expect_ts;
        let end = self.out.bytes.len();
        self.out.frames.push((
            end,
            Expect {
                ts: expect_ts,
                link,
                data: data.to_vec(),
                orig_len: orig_len.max(data.len() as u32),
            },
        ));
        self
    }

    /// Simple Packet Block: interface 0, no timestamp (the reader gives the last one seen).
    fn spb(&mut self, data: &[u8], orig_len: u32, expect_captured: usize) -> &mut Self {
        self.block(3, |o, be| {
            o.u32(be, orig_len);
            o.bytes.extend(data);
        });
        let (ts, link, end) = (self.last_ts, self.links[0], self.out.bytes.len());
        self.out.frames.push((
            end,
            Expect {
                ts,
                link,
                data: data[..expect_captured].to_vec(),
                orig_len,
            },
        ));
        self
    }
}

/// A pcapng option: code, length, value padded to 4 bytes.
fn option(o: &mut Built, be: bool, code: u16, value: &[u8]) {
    o.u16(be, code);
    o.u16(be, value.len() as u16);
    o.bytes.extend(value);
    while !o.bytes.len().is_multiple_of(4) {
        o.bytes.push(0);
    }
}

const SEC: i64 = 1_000_000_000;

fn pcap_le_micro() -> Built {
    let mut w = PcapW::new(false, PcapKind::Micro, 1, 65535);
    w.record(
        1_600_000_000,
        1,
        b"first frame",
        60,
        1_600_000_000 * SEC + 1_000,
        60,
    )
    .record(
        1_600_000_001,
        999_999,
        b"\x00\x01\x02",
        3,
        1_600_000_001 * SEC + 999_999_000,
        3,
    )
    // Time going backwards is not damage.
    .record(
        1_599_999_999,
        0,
        b"back in time",
        1500,
        1_599_999_999 * SEC,
        1500,
    )
    // Captured length above the original: orig_len is raised to it.
    .record(
        1_600_000_002,
        5,
        b"longer than orig",
        4,
        1_600_000_002 * SEC + 5_000,
        16,
    )
    .record(u32::MAX, 0, b"", 0, i64::from(u32::MAX) * SEC, 0);
    w.out
}

fn pcap_be_nano() -> Built {
    // Upper bits of the link type field carry FCS information and must be ignored.
    let mut w = PcapW::new(true, PcapKind::Nano, 0x1400_0065, 0);
    w.record(
        1_700_000_000,
        123_456_789,
        b"raw ip",
        1500,
        1_700_000_000 * SEC + 123_456_789,
        1500,
    )
    .record(
        1_700_000_000,
        999_999_999,
        &[0xAB; 1000],
        1000,
        1_700_000_000 * SEC + 999_999_999,
        1000,
    )
    .record(0, 0, b"epoch", 5, 0, 5);
    w.out
}

fn pcap_modified() -> Built {
    let mut w = PcapW::new(false, PcapKind::Modified, 113, 96);
    w.record(10, 20, b"cooked", 80, 10 * SEC + 20_000, 80)
        .record(11, 0, b"xyz", 3, 11 * SEC, 3);
    w.out
}

/// Two sections of opposite byte order, two interfaces each with their own link type and
/// resolution, EPBs, SPBs, an obsolete PB and blocks the reader must skip.
fn pcapng_sample() -> Built {
    let mut w = NgW::new(false);
    w.idb(1, 65535, None, None) // Ethernet, default microseconds
        .idb(101, 0, Some(9), Some(100)) // raw IP, nanoseconds, +100 s
        .epb(
            0,
            1_600_000_000_000_001,
            b"ether",
            60,
            1_600_000_000 * SEC + 1_000,
        )
        .epb(
            1,
            1_600_000_000_123_456_789,
            b"rawip!!",
            7,
            1_600_000_100 * SEC + 123_456_789,
        )
        .block(0x0000_0BAD, |o, _| o.bytes.extend(b"custom block")) // skipped
        .block(5, |o, be| {
            // Interface Statistics Block: skipped.
            o.u32(be, 0);
            o.u64(be, 42);
        })
        .spb(b"simple", 6, 6)
        .pb(
            1,
            1_600_000_000_999_999_999,
            b"old",
            1500,
            1_600_000_100 * SEC + 999_999_999,
        );
    w.shb(true)
        .idb(113, 4, Some(0x8A), None) // Linux SLL, 2^-10 s, snaplen 4
        .idb(0, 0, Some(3), Some(-1)) // NULL, milliseconds, -1 s
        .epb(
            0,
            (1_700_000_000 << 10) + 512,
            b"cooked frame",
            100,
            1_700_000_000 * SEC + 500_000_000,
        )
        .epb(
            1,
            1_700_000_000_250,
            b"loopback",
            8,
            1_699_999_999 * SEC + 250_000_000,
        )
        .epb(
            1,
            1_700_000_000_251,
            b"more than orig",
            4,
            1_699_999_999 * SEC + 251_000_000,
        )
        .epb(
            1,
            1_700_000_000_252,
            b"",
            0,
            1_699_999_999 * SEC + 252_000_000,
        )
        .pb(
            1,
            1_700_000_000_300,
            b"be pb",
            5,
            1_699_999_999 * SEC + 300_000_000,
        )
        // snaplen 4 of interface 0 cuts the SPB.
        .spb(b"simple two", 10, 4);
    w.out
}

fn samples() -> Vec<(&'static str, Built)> {
    vec![
        ("pcap LE usec", pcap_le_micro()),
        ("pcap BE nsec", pcap_be_nano()),
        ("pcap modified", pcap_modified()),
        ("pcapng", pcapng_sample()),
    ]
}

// ---------------------------------------------------------------------------------------------
// Reading helpers.

struct ReadAll {
    frames: Vec<Expect>,
    damage: Option<Damage>,
    bytes_read: u64,
}

fn read_all<R: Read>(mut r: CaptureReader<R>) -> ReadAll {
    let mut frames = Vec::new();
    let damage = loop {
        match r.next_record() {
            Ok(Some(f)) => frames.push(Expect {
                ts: f.ts.as_nanos(),
                link: f.link,
                data: f.data.to_vec(),
                orig_len: f.orig_len,
            }),
            Ok(None) => break None,
            Err(d) => break Some(d),
        }
    };
    // Whatever happened, the reader stays finished.
    assert!(matches!(r.next_record(), Ok(None)));
    assert!(matches!(r.next_record(), Ok(None)));
    ReadAll {
        frames,
        damage,
        bytes_read: r.bytes_read(),
    }
}

fn read_bytes(bytes: &[u8]) -> ReadAll {
    read_all(CaptureReader::open(bytes).unwrap())
}

/// Hands out 1 to 7 bytes per read and an `Interrupted` now and then, like a slow pipe.
struct Trickle<'a> {
    data: &'a [u8],
    calls: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(5) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = (self.calls % 7 + 1).min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Deterministic xorshift64* generator: fuzzing without the rand crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

// ---------------------------------------------------------------------------------------------
// Well-formed files.

#[test]
fn every_frame_of_every_sample_is_read() {
    for (name, built) in samples() {
        let reader = CaptureReader::open(built.bytes.as_slice()).unwrap();
        let expected_format = if name.starts_with("pcapng") {
            Format::Pcapng
        } else {
            Format::Pcap
        };
        assert_eq!(reader.format(), expected_format, "{name}");
        let got = read_all(reader);
        assert_eq!(got.damage, None, "{name}");
        assert_eq!(got.frames, built.expected(), "{name}");
        assert_eq!(got.bytes_read, built.bytes.len() as u64, "{name}");
    }
}

#[test]
fn pcapng_sample_values_spelled_out() {
    // The builder computes nothing: spot-check a few frames against literal values.
    let got = read_bytes(&pcapng_sample().bytes).frames;
    assert_eq!(got.len(), 10);
    assert_eq!(got[1].link, LinkType::RawIp);
    assert_eq!(got[1].ts, 1_600_000_100_123_456_789);
    // SPB: interface 0 (Ethernet), the previous packet's time.
    assert_eq!(
        (got[2].link, got[2].ts, &got[2].data[..], got[2].orig_len),
        (
            LinkType::Ethernet,
            1_600_000_100_123_456_789,
            &b"simple"[..],
            6
        )
    );
    // Obsolete PB on interface 1.
    assert_eq!(
        (got[3].link, &got[3].data[..], got[3].orig_len),
        (LinkType::RawIp, &b"old"[..], 1500)
    );
    assert_eq!(
        (got[4].link, got[4].ts),
        (LinkType::LinuxSll, 1_700_000_000_500_000_000)
    );
    assert_eq!(
        (got[5].link, got[5].ts),
        (LinkType::Null, 1_699_999_999_250_000_000)
    );
    assert_eq!(got[6].orig_len, 14);
    assert_eq!(
        (got[8].link, &got[8].data[..]),
        (LinkType::Null, &b"be pb"[..])
    );
    assert_eq!(
        (got[9].link, got[9].ts),
        (LinkType::LinuxSll, 1_699_999_999_300_000_000)
    );
    assert_eq!((&got[9].data[..], got[9].orig_len), (&b"simp"[..], 10));
}

#[test]
fn slow_pipe_reads_the_same_frames() {
    for (name, built) in samples() {
        let reader = CaptureReader::open(Trickle {
            data: &built.bytes,
            calls: 0,
        })
        .unwrap();
        let got = read_all(reader);
        assert_eq!(got.damage, None, "{name}");
        assert_eq!(got.frames, built.expected(), "{name}");
    }
}

#[test]
fn records_larger_than_the_buffer_are_read_whole() {
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let mut w = PcapW::new(false, PcapKind::Micro, 1, 262_144);
    w.record(1, 0, &big, 200_000, SEC, 200_000)
        .record(2, 0, b"small", 5, 2 * SEC, 5)
        .record(3, 0, &big[..70_000], 70_000, 3 * SEC, 70_000);
    let got = read_all(CaptureReader::open_with_buffer(w.out.bytes.as_slice(), 4096).unwrap());
    assert_eq!(got.damage, None);
    assert_eq!(got.frames, w.out.expected());
}

// ---------------------------------------------------------------------------------------------
// Damage.

#[test]
fn cut_at_every_offset() {
    for (name, built) in samples() {
        let len = built.bytes.len();
        for cut in 0..=len {
            let bytes = &built.bytes[..cut];
            let reader = match CaptureReader::open(bytes) {
                Ok(r) => r,
                Err(OpenError::Empty) if cut == 0 => continue,
                Err(OpenError::TruncatedHeader) if cut < built.header_end => continue,
                Err(e) => panic!("{name} cut at {cut}: {e}"),
            };
            assert!(
                cut >= built.header_end,
                "{name}: opened a file cut at {cut}"
            );
            let got = read_all(reader);
            let intact: Vec<Expect> = built
                .frames
                .iter()
                .filter(|(end, _)| *end <= cut)
                .map(|(_, e)| e.clone())
                .collect();
            assert_eq!(got.frames, intact, "{name} cut at {cut}");
            let last_boundary = built
                .boundaries
                .iter()
                .copied()
                .filter(|&b| b <= cut)
                .max()
                .unwrap_or(built.header_end)
                .max(built.header_end);
            if last_boundary == cut {
                assert_eq!(got.damage, None, "{name} cut at boundary {cut}");
            } else {
                let d = got
                    .damage
                    .unwrap_or_else(|| panic!("{name} cut at {cut}: no damage"));
                assert_eq!(d.offset, last_boundary as u64, "{name} cut at {cut}: {d}");
                assert!(d.what.contains("present"), "{name} cut at {cut}: {d}");
            }
            assert_eq!(got.bytes_read, last_boundary as u64, "{name} cut at {cut}");
        }
    }
}

#[test]
fn truncation_messages_say_expected_and_present() {
    let built = pcap_le_micro();
    let first_end = built.boundaries[0];
    let got = read_bytes(&built.bytes[..first_end + 5]);
    let d = got.damage.unwrap();
    assert_eq!(d.offset, first_end as u64);
    assert_eq!(
        d.what,
        "end of file inside a record header: 16 bytes expected, 5 present"
    );
    let got = read_bytes(&built.bytes[..first_end + 16 + 2]);
    assert_eq!(
        got.damage.unwrap().what,
        "record cut short: 3 bytes of data expected, 2 present before end of file"
    );
    let ng = pcapng_sample();
    let got = read_bytes(&ng.bytes[..ng.header_end + 10]);
    let d = got.damage.unwrap();
    assert_eq!(d.offset, ng.header_end as u64);
    assert!(
        d.what.starts_with("block of ")
            && d.what.ends_with("cut short: 10 present before end of file"),
        "{d}"
    );
}

#[test]
fn trailing_junk_is_damage_at_its_offset() {
    for (name, built) in samples() {
        for junk in [
            &b"junk"[..],
            &[0u8; 13][..],
            &b"0123456789abcdefghij"[..],
            &[0xFF; 40][..],
        ] {
            let mut bytes = built.bytes.clone();
            bytes.extend(junk);
            let got = read_bytes(&bytes);
            assert_eq!(got.frames, built.expected(), "{name}");
            assert_eq!(
                got.damage.map(|d| d.offset),
                Some(built.bytes.len() as u64),
                "{name} junk {junk:?}"
            );
        }
    }
}

/// Builds a pcapng file from one Ethernet interface and the given extra block bytes.
fn pcapng_with(extra: &[u8]) -> (Vec<u8>, usize) {
    let mut w = NgW::new(false);
    w.idb(1, 0, None, None).epb(0, 1, b"ok", 2, 1_000);
    let at = w.out.bytes.len();
    w.out.bytes.extend(extra);
    (w.out.bytes, at)
}

fn block_bytes(btype: u32, lead: u32, body: &[u8], trail: u32) -> Vec<u8> {
    [
        &btype.to_le_bytes()[..],
        &lead.to_le_bytes(),
        body,
        &trail.to_le_bytes(),
    ]
    .concat()
}

#[test]
fn bad_pcapng_blocks_are_damage() {
    let epb_body = |iface: u32| {
        [
            iface.to_le_bytes(),
            [0; 4],
            [0; 4],
            4u32.to_le_bytes(),
            4u32.to_le_bytes(),
            *b"data",
        ]
        .concat()
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            block_bytes(6, 8, &[], 8),
            "block length 8 is below the minimum of 12",
        ),
        (
            block_bytes(6, 14, &[0, 0], 14),
            "block length 14 is not a multiple of 4",
        ),
        (
            block_bytes(6, 0x1000_0004, &[], 0),
            "block length 268435460 is above the cap of 268435456",
        ),
        (
            block_bytes(6, 36, &epb_body(0), 40),
            "trailing block length 40 differs from the leading 36",
        ),
        (
            block_bytes(6, 36, &epb_body(1), 36),
            "packet names interface 1, but the section describes 1",
        ),
        (
            block_bytes(6, 28, &epb_body(0)[..16], 28),
            "enhanced packet block of 28 bytes is too short",
        ),
        (
            block_bytes(
                6,
                36,
                &[
                    0u32.to_le_bytes(),
                    [0; 4],
                    [0; 4],
                    5u32.to_le_bytes(),
                    4u32.to_le_bytes(),
                    *b"data",
                ]
                .concat(),
                36,
            ),
            "captured length 5 exceeds the block's room of 4 bytes",
        ),
        (
            block_bytes(1, 16, &[1, 0, 0, 0], 16),
            "interface description block of 16 bytes is too short",
        ),
        (
            block_bytes(
                0x0A0D_0D0A,
                28,
                &[0x4D, 0x3C, 0x2B, 0x1A, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                28,
            ),
            "unsupported pcapng version 2.0",
        ),
        (
            block_bytes(
                0x0A0D_0D0A,
                28,
                &[1, 2, 3, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                28,
            ),
            "byte-order magic is 01 02 03 04, not 1a 2b 3c 4d",
        ),
    ];
    for (extra, what) in cases {
        let (bytes, at) = pcapng_with(&extra);
        let got = read_bytes(&bytes);
        assert_eq!(got.frames.len(), 1, "{what}");
        assert_eq!(
            got.damage,
            Some(Damage {
                offset: at as u64,
                what: what.into()
            })
        );
    }
}

#[test]
fn simple_packet_block_needs_interface_zero() {
    let mut w = NgW::new(true);
    let at = w.out.bytes.len();
    w.links.push(LinkType::Ethernet); // the builder needs one; the file has none
    w.spb(b"orphan", 6, 6);
    let got = read_bytes(&w.out.bytes);
    assert_eq!(got.frames, []);
    assert_eq!(
        got.damage,
        Some(Damage {
            offset: at as u64,
            what: "packet names interface 0, but the section describes 0".into()
        })
    );
}

#[test]
fn a_new_section_forgets_the_interfaces() {
    let mut w = NgW::new(false);
    w.idb(1, 0, None, None).epb(0, 1, b"a", 1, 1_000).shb(true);
    let at = w.out.bytes.len();
    w.links.push(LinkType::Ethernet);
    w.epb(0, 2, b"b", 1, 2_000);
    let got = read_bytes(&w.out.bytes);
    assert_eq!(got.frames.len(), 1);
    assert_eq!(got.damage.map(|d| d.offset), Some(at as u64));
}

#[test]
fn absurd_pcap_record_length_is_damage() {
    let mut w = PcapW::new(false, PcapKind::Micro, 1, 65535);
    w.record(1, 0, b"ok", 2, SEC, 2);
    let at = w.out.bytes.len();
    let mut bytes = w.out.bytes.clone();
    for v in [1u32, 0, 300_000, 300_000] {
        bytes.extend(v.to_le_bytes());
    }
    let got = read_bytes(&bytes);
    assert_eq!(got.frames.len(), 1);
    assert_eq!(
        got.damage,
        Some(Damage {
            offset: at as u64,
            what: "record claims 300000 captured bytes, more than the 262144 allowed".into()
        })
    );
    // A large snaplen raises the limit (and the record is then merely cut short here).
    let mut w = PcapW::new(false, PcapKind::Micro, 1, 1 << 20);
    w.out.bytes.extend(
        [1u32, 0, 300_000, 300_000]
            .iter()
            .flat_map(|v| v.to_le_bytes()),
    );
    assert!(
        read_bytes(&w.out.bytes)
            .damage
            .unwrap()
            .what
            .starts_with("record cut short")
    );
}

#[test]
fn lying_lengths_do_not_allocate_what_they_claim() {
    // A 200 MiB block announced in a 100-byte file, and a 200 MiB pcap record in a big file.
    let (ng, _) = pcapng_with(&block_bytes(6, 200 << 20, &[0; 64], 0));
    let mut pcap = PcapW::new(false, PcapKind::Micro, 1, 250 << 20);
    pcap.out.bytes.extend(
        [1u32, 0, 200 << 20, 200 << 20]
            .iter()
            .flat_map(|v| v.to_le_bytes()),
    );
    pcap.out.bytes.extend(vec![0; 3 << 20]);
    for bytes in [ng, pcap.out.bytes] {
        LARGEST_ALLOC.with(|c| c.set(0));
        let got = read_bytes(&bytes);
        let largest = LARGEST_ALLOC.with(Cell::get);
        assert!(got.damage.unwrap().what.contains("cut short"));
        // The buffer grows by doubling as bytes arrive: at most twice what the file holds.
        assert!(
            largest <= 2 * bytes.len().max(1 << 20),
            "largest allocation {largest}"
        );
    }
}

#[test]
fn read_errors_are_damage() {
    struct Failing<'a>(&'a [u8]);
    impl Read for Failing<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let built = pcap_le_micro();
    let cut = built.boundaries[1] + 3;
    let got = read_all(CaptureReader::open(Failing(&built.bytes[..cut])).unwrap());
    assert_eq!(got.frames.len(), 2);
    assert_eq!(
        got.damage,
        Some(Damage {
            offset: built.boundaries[1] as u64,
            what: "read error: disk on fire".into()
        })
    );
}

#[test]
fn open_errors_are_clear() {
    let err = |bytes: &[u8]| CaptureReader::open(bytes).err().unwrap();
    assert!(matches!(err(b""), OpenError::Empty));
    assert_eq!(
        err(b"PK\x03\x04rest").to_string(),
        "not a pcap or pcapng file (starts with 50 4b 03 04); it looks like a zip archive"
    );
    assert_eq!(
        err(b"GET / HTTP/1.1").to_string(),
        "not a pcap or pcapng file (starts with 47 45 54 20)"
    );
    assert!(err(b"\x1f\x8b\x08\x00").to_string().contains("gzip"));
    assert!(matches!(err(b"\xd4\xc3"), OpenError::TruncatedHeader));
    assert!(matches!(
        err(&pcap_le_micro().bytes[..23]),
        OpenError::TruncatedHeader
    ));
    assert!(matches!(
        err(&pcapng_sample().bytes[..11]),
        OpenError::TruncatedHeader
    ));
    let mut v1 = pcap_le_micro().bytes;
    v1[4] = 1;
    assert_eq!(
        err(&v1).to_string(),
        "bad capture file header: unsupported pcap version 1.4"
    );
    let mut ng = pcapng_sample().bytes;
    ng[8] = 0;
    assert!(
        err(&ng)
            .to_string()
            .starts_with("bad capture file header: byte-order magic is 00 3c 2b 1a")
    );
    let mut ng = pcapng_sample().bytes;
    ng[4] = 13;
    assert_eq!(
        err(&ng).to_string(),
        "bad capture file header: block length 13 is not a multiple of 4"
    );
    let io = CaptureReader::open(Failing).err().unwrap();
    assert!(matches!(io, OpenError::Io(_)));
    assert!(std::error::Error::source(&io).is_some());

    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("nope"))
        }
    }
}

#[test]
fn random_mutations_never_panic_or_hang() {
    const INTERESTING: [u32; 8] = [
        0,
        1,
        11,
        12,
        0x7FFF_FFFF,
        0xFFFF_FFFF,
        0x1000_0000,
        0x0A0D_0D0A,
    ];
    let mut rng = Rng(0x5EED_F00D_CAFE_BEEF);
    for (name, built) in samples() {
        // (files opened, frames read, damage reported): the mutations must reach the records.
        let mut seen = (0, 0, 0);
        for round in 0..3000 {
            let mut bytes = built.bytes.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len());
                if rng.below(3) == 0 {
                    // Length and type fields are 4-byte aligned in both formats.
                    let at = at & !3;
                    let v = INTERESTING[rng.below(INTERESTING.len())]
                        .wrapping_add(rng.below(3) as u32 * 4);
                    let end = (at + 4).min(bytes.len());
                    bytes[at..end].copy_from_slice(&v.to_le_bytes()[..end - at]);
                } else {
                    bytes[at] = rng.next() as u8;
                }
            }
            if rng.below(4) == 0 {
                bytes.truncate(rng.below(bytes.len() + 1));
            }
            let Ok(mut reader) = CaptureReader::open(bytes.as_slice()) else {
                continue;
            };
            seen.0 += 1;
            let (mut frames, mut data) = (0usize, 0usize);
            loop {
                match reader.next_record() {
                    Ok(Some(f)) => {
                        frames += 1;
                        data += f.data.len();
                        assert!(f.orig_len as usize >= f.data.len());
                    }
                    Ok(None) => break,
                    Err(d) => {
                        assert!(d.offset <= bytes.len() as u64, "{name} round {round}: {d}");
                        seen.2 += 1;
                        break;
                    }
                }
                assert!(
                    frames <= bytes.len() / 12,
                    "{name} round {round}: too many frames"
                );
            }
            assert!(data <= bytes.len(), "{name} round {round}");
            assert!(reader.bytes_read() <= bytes.len() as u64);
            assert!(matches!(reader.next_record(), Ok(None)));
            seen.1 += frames;
        }
        let (opened, frames, damaged) = seen;
        eprintln!("{name}: {opened} opened, {frames} frames, {damaged} damaged");
        assert!(
            opened > 1500 && frames > 3000 && damaged > 500,
            "{name}: {seen:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Merge.

fn boxed(bytes: Vec<u8>) -> CaptureReader<Box<dyn Read + Send>> {
    CaptureReader::open(Box::new(Cursor::new(bytes)) as Box<dyn Read + Send>).unwrap()
}

fn pcap_at(times: &[(u32, &[u8])]) -> Vec<u8> {
    let mut w = PcapW::new(false, PcapKind::Micro, 1, 65535);
    for &(t, data) in times {
        w.record(
            t,
            0,
            data,
            data.len() as u32,
            i64::from(t) * SEC,
            data.len() as u32,
        );
    }
    w.out.bytes
}

/// (input index, seconds, data) of every merged frame; damage as "name@offset".
/// (input index, seconds, data) of a merged frame.
type Merged = (usize, i64, Vec<u8>);

fn merge_all(m: &mut MergedCapture) -> (Vec<Merged>, Vec<String>) {
    let (mut frames, mut damage) = (Vec::new(), Vec::new());
    while let Some(next) = m.next_frame() {
        match next {
            Ok(f) => {
                assert_eq!(f.name, ["a", "b", "c"][f.input]);
                frames.push((
                    f.input,
                    f.record.ts.as_nanos() / SEC,
                    f.record.data.to_vec(),
                ));
            }
            Err(e) => damage.push(format!("{}@{}", e.name, e.damage.offset)),
        }
    }
    assert!(m.next_frame().is_none());
    (frames, damage)
}

#[test]
fn merge_interleaves_by_timestamp() {
    let a = pcap_at(&[(1, b"a1"), (3, b"a3"), (5, b"a5"), (5, b"a5'")]);
    let b = pcap_at(&[(2, b"b2"), (3, b"b3"), (4, b"b4"), (9, b"b9")]);
    let total = (a.len() + b.len()) as u64;
    let mut m = MergedCapture::new(vec![("a".into(), boxed(a)), ("b".into(), boxed(b))]);
    let (frames, damage) = merge_all(&mut m);
    let order: Vec<&[u8]> = frames.iter().map(|(_, _, d)| d.as_slice()).collect();
    // The tie at 3 s goes to the earlier input; a's two frames at 5 s keep their order.
    assert_eq!(
        order,
        [&b"a1"[..], b"b2", b"a3", b"b3", b"b4", b"a5", b"a5'", b"b9"]
    );
    assert!(damage.is_empty());
    assert_eq!(m.bytes_read(), total);
}

#[test]
fn merge_drops_a_damaged_input_and_goes_on() {
    let a = pcap_at(&[(1, b"a1"), (4, b"a4"), (6, b"a6")]);
    let mut b = pcap_at(&[(2, b"b2"), (3, b"b3")]);
    let b_cut = b.len();
    b.extend(b"junk");
    let c = pcapng_sample().bytes;
    let mut m = MergedCapture::new(vec![
        ("a".into(), boxed(a)),
        ("b".into(), boxed(b)),
        ("c".into(), boxed(c)),
    ]);
    let (frames, damage) = merge_all(&mut m);
    assert_eq!(damage, [format!("b@{b_cut}")]);
    let from: Vec<(usize, i64)> = frames.iter().map(|&(i, s, _)| (i, s)).collect();
    assert_eq!(&from[..5], [(0, 1), (1, 2), (1, 3), (0, 4), (0, 6)]);
    assert_eq!(frames.len(), 5 + 10);
    // c's own time goes backwards (section 2): the merge keeps each input's order.
    assert!(frames[5..].iter().all(|&(i, _, _)| i == 2));
}

#[test]
fn merge_of_one_input_is_the_input() {
    let built = pcapng_sample();
    let mut m = MergedCapture::new(vec![("a".into(), boxed(built.bytes.clone()))]);
    let mut got = Vec::new();
    while let Some(Ok(f)) = m.next_frame() {
        got.push(Expect {
            ts: f.record.ts.as_nanos(),
            link: f.record.link,
            data: f.record.data.to_vec(),
            orig_len: f.record.orig_len,
        });
    }
    assert_eq!(got, built.expected());
    assert!(MergedCapture::new(Vec::new()).next_frame().is_none());
}

// ---------------------------------------------------------------------------------------------
// Files written by other tools.

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/capture")
        .join(name)
}

fn read_file(path: &Path) -> ReadAll {
    read_all(CaptureReader::open(std::fs::File::open(path).unwrap()).unwrap())
}

#[test]
fn editcap_and_mergecap_outputs_match_the_original() {
    // See tests/fixtures/capture/README.md: all four come from the same 18-frame NULL capture.
    let original = read_file(&fixture("null-nsec.pcap"));
    assert_eq!(original.damage, None);
    assert_eq!(original.frames.len(), 18);
    assert!(original.frames.iter().all(|f| f.link == LinkType::Null));
    // Facts from `tshark -T fields -e frame.time_epoch -e frame.cap_len -e frame.len`.
    assert_eq!(original.frames[0].ts, 1_612_510_490_000_000_000);
    assert_eq!(original.frames[17].ts, 1_612_510_490_000_017_000);
    assert_eq!(
        original.frames.iter().map(|f| f.data.len()).sum::<usize>(),
        1218
    );
    for other in ["null-modified.pcap", "null.pcapng"] {
        let got = read_file(&fixture(other));
        assert_eq!(got.damage, None, "{other}");
        assert_eq!(got.frames, original.frames, "{other}");
    }
    // mergecap: NULL frames on interface 0, then 7 Ethernet frames on interface 1.
    let merged = read_file(&fixture("two-interfaces.pcapng"));
    assert_eq!(merged.damage, None);
    assert_eq!(merged.frames[..18], original.frames[..]);
    assert_eq!(merged.frames.len(), 25);
    assert!(
        merged.frames[18..]
            .iter()
            .all(|f| f.link == LinkType::Ethernet)
    );
    assert_eq!(merged.frames[24].ts, 1_692_745_385_512_254_000);
}

/// Facts about every corpus capture, from TShark 4.0.17: for each file
/// `tshark -r F -T fields -e frame.time_epoch -e frame.cap_len -e frame.len`, summed with awk
/// into: path, frames, sum of cap_len, sum of len, first and last frame.time_epoch.
/// TShark reported no file as cut short. All are Ethernet but ftp-port-memcap (NULL), per
/// `capinfos -E`.
const CORPUS: &str = "
arkime/arkime-synthetic/arkime_synthetic.pcap 918 87699 87699 1700000100.010000000 1700009300.200000000
arkime/ftp/ftp.pcap 10 804 804 1454301530.932342000 1454301531.009478000
ndpi/ftp-start-tls/ftp-start-tls.pcap 51 7510 7510 1383123629.078448000 1383123629.412168000
ndpi/ftp/ftp.pcap 209 125574 125574 1552590234.892296000 1552590243.371057000
ndpi/ftp_failed/ftp_failed.pcap 18 1700 1700 1574361625.864342000 1574361633.102738000
ppa/ftp-crack/ftp-crack.pcap 19730 1297246 1297246 1024380731.002335000 1024380775.605088000
ppa/ftp-uploadfailed/ftp-uploadfailed.pcap 1645 1522158 1522158 1146626016.962732000 1146626048.465408000
ppa/ftp/ftp.pcap 38 8521 8521 1166289880.499548000 1166289883.170188000
ppa/ftpclientdenied/ftpclientdenied.pcap 3 186 186 1168115091.528528000 1168115100.508319000
ppa/ftpserverdenied/ftpserverdenied.pcap 3 186 186 1168115970.207345000 1168115979.235078000
ppa/tickedoffdeveloper/tickedoffdeveloper.pcapng 93 26129 26129 1271625829.992909000 1271625837.804034000
ppa/wrongdissector-port137/wrongdissector.pcap 500 468711 468711 993119857.466000000 993119880.463000000
ppa/wrongdissector-port443/wrongdissector.pcapng 52 3434 3434 1258553208.781034000 1258553228.431499000
suricata-verify/bug-3519/input.pcap 40 2814 2814 1371506338.994866000 1371506393.207429000
suricata-verify/bug-4877/input.pcap 408 402540 402540 1385174704.878384000 1385174717.905871000
suricata-verify/bug-8489-01/bug-8489-01.pcap 15 921 921 1776779753.238030000 1776779753.241464000
suricata-verify/bug-8489-02/bug-8489-02.pcap 25 1552 1552 1776779753.580893000 1776779753.586437000
suricata-verify/bug-8489-03/bug-8489-03.pcap 21 1321 1321 1776782412.296438000 1776782412.301316000
suricata-verify/filestore-ftp-active-mode/ftp-active-mode.pcap 47 3717 3717 1582897065.208362000 1582897076.116860000
suricata-verify/filestore-ftp-passive-mode/ftp-passive-mode.pcap 43 3264 3264 1582897314.376038000 1582897324.317901000
suricata-verify/filestore-v2.7-stream-depth/input.pcap 239 172878 172878 1592057339.008602000 1592057357.425307000
suricata-verify/firewall-116-ftp-all-data-ipv4/input.pcap 254 24431 24431 1782168286.668490000 1782168286.674210000
suricata-verify/firewall-117-ftp-all-data-ipv6/input.pcap 262 37413 37413 1782171225.550554000 1782171225.562146000
suricata-verify/firewall-118-ftp-stou-no-filename-active/input.pcap 31 2401 2401 1782185820.575219000 1782185820.576061000
suricata-verify/ftp-active-dynamic-port/ftp-active-dynamic_port.pcap 21 1360 1360 1745074557.547603000 1745074557.552356000
suricata-verify/ftp-bounce/test.pcap 34 2129 2129 1686270062.660785000 1686270062.672308000
suricata-verify/ftp-download-active/input.pcap 63 5026 5026 1781126451.277051000 1781126451.306735000
suricata-verify/ftp-download-passive/input.pcap 63 4957 4957 1781125993.351212000 1781125993.373760000
suricata-verify/ftp-epsv/input.pcap 112 8842 8842 1187379087.247302000 1187379168.110214000
suricata-verify/ftp-ippair-leak-5204/input.pcap 560 50760 50760 1785325470.423879000 1785325470.430832000
suricata-verify/ftp-passive-dynamic-port/ftp-passive-dynamic_port.pcap 29 1825 1825 1745072502.218264000 1745072502.224905000
suricata-verify/ftp-port-memcap/input.pcap 18 1218 1218 1612510490.000000000 1612510490.000017000
suricata-verify/ftp-quit/input.pcap 7 420 420 1692745385.242369000 1692745385.512254000
suricata-verify/ftp-retr-bypass-baseline/input.pcap 32 2086 2086 1780631978.578676000 1780631978.595746000
suricata-verify/ftp-retr-bypass-realserver/input.pcap 26 1626 1626 1780631978.621467000 1780631978.633757000
suricata-verify/ftp-too-long-command-buffered/ftp-too-long-command.pcap 117 48671 48671 1649350022.403342000 1649350022.422960000
suricata-verify/ftp-too-long-command-first/ftp-too-long-command.pcap 35 6275 6275 1650648526.267415000 1650648526.273380000
suricata-verify/ftp-too-long-command-higher-limit/ftp-too-long-command.pcap 33 7074 7074 1649350744.699337000 1649350744.708164000
suricata-verify/ftp-too-long-command/ftp-too-long-command.pcap 33 7074 7074 1650658447.028846000 1650658447.034370000
suricata-verify/ftp-too-long-response/ftp-too-long-response.pcap 255 126750 126750 1649351258.347586000 1649351258.389399000
suricata-verify/ftp-upload-active/input.pcap 63 4982 4982 1781126472.556473000 1781126472.584116000
suricata-verify/ftp-upload-passive/input.pcap 63 4913 4913 1781126486.673203000 1781126486.699907000
suricata-verify/output-eve-ftp-data/input.pcap 1350 168593 168593 1371506299.036212000 1371506397.531737000
zeek/bigtransfer/bigtransfer.pcap 83 30775 30775 1395939399.984671000 1395939569.619222000
zeek/bruteforce/bruteforce.pcap 606 45447 45447 1389721044.820046000 1389721103.938346000
zeek/cwd-navigation/cwd-navigation.pcap 8317 654497 654497 1464385864.999633000 1464386465.930676000
zeek/fake-long-commands/fake-long-commands.pcap 40 3327 3327 1668586098.757907000 1668586098.971328000
zeek/fake-server-delays-all/fake-server-delays-all.pcap 41 3081 3081 1664372187.106411000 1664372187.308568000
zeek/ftp-auth-tls/ftp-auth-tls.pcap 84 9995 9995 1747315305.938386000 1747315329.819705000
zeek/ftp-invalid-reply-code/ftp-invalid-reply-code.pcap 23 1639 1639 1669831843.331626000 1669831853.222762000
zeek/ftp-many-port-expected/ftp-many-port-expected.pcap 1008 66235 66235 1700000000.000000000 1700000001.007000000
zeek/ftp-missing-reply-code/ftp-missing-reply-code.pcap 23 1642 1642 1669831776.991513000 1669831787.853760000
zeek/ftp-missing-space-after-reply-code/ftp-missing-space-after-reply-code.pcap 23 1636 1636 1669831802.928955000 1669831814.634326000
zeek/ftp-password-pass-command/ftp-password-pass-command.pcap 15 1025 1025 1726666629.370125000 1726666644.379502000
zeek/ftp-with-numbers-in-filename/ftp-with-numbers-in-filename.pcap 798 737704 737704 1457455890.667768000 1457455901.030016000
zeek/gridftp-bad-adat-encoding/globus-url-copy-bad-encoding.pcap 61 20556 20556 1348168976.274919000 1348168976.569957000
zeek/gridftp/globus-url-copy.pcap 61 20556 20556 1348168976.274919000 1348168976.569957000
zeek/ipv4/ipv4.pcap 95 10534 10534 1329843161.968492000 1329843200.079930000
zeek/ipv6-multiline-reply/ipv6-multiline-reply.pcap 50 5330 5330 1343424805.375229000 1343424815.298023000
zeek/ipv6-retr-samba/ipv6-retr-samba.pcap 37 3487 3487 1341892459.050645000 1341892527.425438000
zeek/ipv6-violation/ipv6-violation.pcap 19 2546 2546 1343372936.786800000 1343372943.673114000
zeek/ipv6/ipv6.pcap 136 16479 16479 1329327777.822004000 1329327804.589723000
zeek/retr/retr.pcap 67 21668 21668 1363628702.013625000 1363628702.272410000
";

/// "1700000100.010000000" as nanoseconds.
fn epoch_ns(s: &str) -> i64 {
    let (sec, frac) = s.split_once('.').unwrap();
    assert_eq!(frac.len(), 9);
    sec.parse::<i64>().unwrap() * SEC + frac.parse::<i64>().unwrap()
}

#[test]
fn corpus_captures_match_tshark() {
    let Some(dir) = corpus_dir() else { return };
    let mut checked = 0;
    for line in CORPUS.lines().filter(|l| !l.is_empty()) {
        let v: Vec<&str> = line.split(' ').collect();
        let [path, frames, caplen, len, first, last] = v[..] else {
            panic!("bad line {line}")
        };
        let (frames, caplen, len): (usize, u64, u64) = (
            frames.parse().unwrap(),
            caplen.parse().unwrap(),
            len.parse().unwrap(),
        );
        let (first, last) = (epoch_ns(first), epoch_ns(last));
        let file = dir.join(path);
        let got = read_file(&file);
        assert_eq!(got.damage, None, "{path}");
        assert_eq!(
            got.bytes_read,
            std::fs::metadata(&file).unwrap().len(),
            "{path}"
        );
        let f = &got.frames;
        assert_eq!(f.len(), frames, "{path}");
        assert_eq!(
            f.iter().map(|f| f.data.len() as u64).sum::<u64>(),
            caplen,
            "{path}"
        );
        assert_eq!(
            f.iter().map(|f| u64::from(f.orig_len)).sum::<u64>(),
            len,
            "{path}"
        );
        assert_eq!((f[0].ts, f[frames - 1].ts), (first, last), "{path}");
        let link = if path.contains("ftp-port-memcap") {
            LinkType::Null
        } else {
            LinkType::Ethernet
        };
        assert!(f.iter().all(|f| f.link == link), "{path}");
        checked += 1;
    }
    assert_eq!(checked, 63);
}

#[test]
fn corpus_merge_keeps_every_frame_in_order() {
    let Some(dir) = corpus_dir() else { return };
    let names = [
        "ppa/tickedoffdeveloper/tickedoffdeveloper.pcapng",
        "suricata-verify/ftp-port-memcap/input.pcap",
        "zeek/retr/retr.pcap",
    ];
    let inputs = names.iter().map(|n| {
        (
            n.to_string(),
            CaptureReader::open(
                Box::new(std::fs::File::open(dir.join(n)).unwrap()) as Box<dyn Read + Send>
            )
            .unwrap(),
        )
    });
    let mut m = MergedCapture::new(inputs.collect());
    let (mut count, mut prev) = (0, i64::MIN);
    while let Some(next) = m.next_frame() {
        let f = next.unwrap();
        let ts = f.record.ts.as_nanos();
        assert!(ts >= prev, "{} at {ts}", f.name);
        prev = ts;
        count += 1;
    }
    assert_eq!(count, 93 + 18 + 67);
}

/// Throughput, not a pass/fail check: `cargo test --release --test capture_reader -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput() {
    /// A pcap of `records` 1514-byte frames, generated while it is read.
    struct Synthetic {
        header: Vec<u8>,
        record: Vec<u8>,
        pos: usize,
        left: usize,
    }
    impl Read for Synthetic {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let mut n = 0;
            while n < buf.len() {
                let src = if !self.header.is_empty() {
                    &self.header
                } else if self.left > 0 {
                    &self.record
                } else {
                    break;
                };
                let k = (src.len() - self.pos).min(buf.len() - n);
                buf[n..n + k].copy_from_slice(&src[self.pos..self.pos + k]);
                (n, self.pos) = (n + k, self.pos + k);
                if self.pos == src.len() {
                    self.pos = 0;
                    if self.header.is_empty() {
                        self.left -= 1;
                    } else {
                        self.header.clear();
                    }
                }
            }
            Ok(n)
        }
    }
    let w = PcapW::new(false, PcapKind::Micro, 1, 65535);
    let mut record = Vec::new();
    for v in [1u32, 2, 1514, 1514] {
        record.extend(v.to_le_bytes());
    }
    record.extend([0x5A; 1514]);
    let records = 2_000_000;
    let bytes = (24 + records * record.len()) as f64;
    let mut reader = CaptureReader::open(Synthetic {
        header: w.out.bytes,
        record,
        pos: 0,
        left: records,
    })
    .unwrap();
    let start = std::time::Instant::now();
    let mut sum = 0u64;
    while let Some(f) = reader.next_record().unwrap() {
        sum += u64::from(f.data[100]);
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(sum, 0x5A * records as u64);
    let gbps = bytes / secs / 1e9;
    eprintln!(
        "synthetic: {:.0} MB in {secs:.3} s: {gbps:.2} GB/s",
        bytes / 1e6
    );
    // CAPTURE_BENCH_FILE=path also reads a real file (through the kernel, like the binary).
    if let Some(path) = std::env::var_os("CAPTURE_BENCH_FILE") {
        let start = std::time::Instant::now();
        let mut reader = CaptureReader::open(std::fs::File::open(path).unwrap()).unwrap();
        let mut frames = 0u64;
        while reader.next_record().unwrap().is_some() {
            frames += 1;
        }
        let (secs, bytes) = (start.elapsed().as_secs_f64(), reader.bytes_read() as f64);
        let gbps = bytes / secs / 1e9;
        eprintln!(
            "file: {frames} frames, {:.0} MB in {secs:.3} s: {gbps:.2} GB/s",
            bytes / 1e6
        );
    }
}
