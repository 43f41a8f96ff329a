//! Hostile and broken input, each case checked for its outcome, not only for "no panic":
//! broken capture files, hostile TCP, hostile FTP, every bound of `Limits` (with the anomaly it
//! names and the memory it keeps), safe extraction (paths, collisions, a full disk) and safe
//! display (nothing from the wire acts on a terminal). Also replays every input committed
//! under `fuzz/regressions/<target>/` through its fuzz target.
//!
//! Memory is measured, not guessed: a counting allocator keeps each thread's live and peak
//! heap bytes, and the analyzer runs on the test's own thread with frames made one at a time.

// Test code: a failed unwrap is a failed test, said with its place.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[path = "../fuzz/src/targets.rs"]
mod targets;

use common::scenario::{Wire, pattern};
use common::{ftpscope, of_type, run_bytes, sha256_hex};
use ftpscope::capture::CaptureReader;
use ftpscope_core::limits::SECOND;
use ftpscope_core::{
    AnnouncedBy, AnomalyKind, EndReason, Event, Frame, Limits, LinkType, TimeSpan, Timestamp,
    TransferRecord, TransferStatus,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Cursor;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use targets::{ACK, Checker, FIN, RST, SYN, ipv4_tcp};

// ---------------------------------------------------------------------------------------------
// Memory accounting

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| {
            if now > peak.get() {
                peak.set(now);
            }
        });
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; only sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            track(layout.size() as isize);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            track(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        track(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            track(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns its result with the most heap it held at once on this thread.
fn peak_heap<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    let peak = PEAK.with(Cell::get) - base;
    (out, peak.max(0) as usize)
}

const MIB: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Frames fed straight to the analyzer (raw IPv4), one at a time

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// One TCP connection's endpoints and next sequence numbers (0: from the client).
struct Tcp {
    client: SocketAddr,
    server: SocketAddr,
    seq: [u32; 2],
}

struct Net {
    checker: Checker,
    ts: Timestamp,
}

impl Net {
    fn new(limits: Limits) -> Self {
        let mut checker = Checker::new(limits);
        checker.keep = true;
        Net {
            checker,
            ts: Timestamp::from_secs(1_700_000_000),
        }
    }

    fn quiet(limits: Limits) -> Self {
        let mut net = Net::new(limits);
        net.checker.keep = false;
        net
    }

    fn wait(&mut self, span: TimeSpan) {
        self.ts += span;
    }

    fn packet(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        seq: u32,
        ack: u32,
        flags: u8,
        p: &[u8],
    ) {
        self.ts += TimeSpan::from_nanos(1_000_000);
        let bytes = ipv4_tcp(src, dst, seq, ack, flags, p);
        self.checker.frame(&Frame {
            ts: self.ts,
            link: LinkType::RawIp,
            data: &bytes,
            orig_len: bytes.len() as u32,
            number: 0,
        });
    }

    fn connect(&mut self, client: &str, server: &str, isn: u32) -> Tcp {
        let (c, s) = (sa(client), sa(server));
        let sisn = isn.wrapping_add(100_000);
        self.packet(c, s, isn, 0, SYN, b"");
        self.packet(s, c, sisn, isn.wrapping_add(1), SYN | ACK, b"");
        self.packet(c, s, isn.wrapping_add(1), sisn.wrapping_add(1), ACK, b"");
        Tcp {
            client: c,
            server: s,
            seq: [isn.wrapping_add(1), sisn.wrapping_add(1)],
        }
    }

    /// Bytes in order from one side; the sequence number moves on.
    fn send(&mut self, t: &mut Tcp, from_client: bool, payload: &[u8]) {
        let d = usize::from(!from_client);
        self.send_at(t, from_client, t.seq[d], payload);
        t.seq[d] = t.seq[d].wrapping_add(payload.len() as u32);
    }

    /// Bytes at an explicit sequence number (the connection's numbers do not move).
    fn send_at(&mut self, t: &Tcp, from_client: bool, seq: u32, payload: &[u8]) {
        let (src, dst, ack) = if from_client {
            (t.client, t.server, t.seq[1])
        } else {
            (t.server, t.client, t.seq[0])
        };
        self.packet(src, dst, seq, ack, ACK, payload);
    }

    fn client(&mut self, t: &mut Tcp, line: &[u8]) {
        self.send(t, true, line);
    }

    fn server(&mut self, t: &mut Tcp, line: &[u8]) {
        self.send(t, false, line);
    }

    fn close(&mut self, t: &mut Tcp) {
        for from_client in [true, false] {
            let d = usize::from(!from_client);
            let (src, dst) = if from_client {
                (t.client, t.server)
            } else {
                (t.server, t.client)
            };
            self.packet(src, dst, t.seq[d], t.seq[1 - d], FIN | ACK, b"");
            t.seq[d] = t.seq[d].wrapping_add(1);
        }
    }

    fn reset(&mut self, t: &Tcp, from_client: bool) {
        let (src, dst, seq) = if from_client {
            (t.client, t.server, t.seq[0])
        } else {
            (t.server, t.client, t.seq[1])
        };
        self.packet(src, dst, seq, 0, RST, b"");
    }

    /// A control connection to 10.0.0.2:21 with a greeting and a login.
    fn login(&mut self, client: &str) -> Tcp {
        let mut c = self.connect(client, "10.0.0.2:21", 7000);
        self.server(&mut c, b"220 ready\r\n");
        self.client(&mut c, b"USER anonymous\r\n");
        self.server(&mut c, b"331 pw\r\n");
        self.client(&mut c, b"PASS a@b\r\n");
        self.server(&mut c, b"230 ok\r\n");
        c
    }

    /// PASV answered with port `port`, then the client's data connection to it.
    fn passive(&mut self, c: &mut Tcp, port: u16, from: &str) -> Tcp {
        self.client(c, b"PASV\r\n");
        let reply = format!(
            "227 Entering Passive Mode (10,0,0,2,{},{}).\r\n",
            port >> 8,
            port & 0xff
        );
        self.server(c, reply.as_bytes());
        self.connect(from, &format!("10.0.0.2:{port}"), 90_000)
    }

    fn finish(self) -> Outcome {
        let (analyzer, events) = self.checker.finish();
        Outcome {
            events,
            stats: analyzer.stats().clone(),
        }
    }
}

struct Outcome {
    events: Vec<Event>,
    stats: ftpscope_core::Stats,
}

impl Outcome {
    fn anomalies(&self, kind: AnomalyKind) -> Vec<&ftpscope_core::Anomaly> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Anomaly(a) if a.kind == kind => Some(a),
                _ => None,
            })
            .collect()
    }

    fn count(&self, kind: AnomalyKind) -> u64 {
        self.stats.anomaly_count(kind)
    }

    fn transfers(&self) -> Vec<&TransferRecord> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::TransferEnded(r) => Some(&**r),
                _ => None,
            })
            .collect()
    }

    /// The bytes a transfer carried, in order.
    fn data(&self, transfer: u64) -> Vec<u8> {
        let mut out = Vec::new();
        for e in &self.events {
            if let Event::TransferData { transfer: t, data } = e
                && *t == transfer
            {
                out.extend_from_slice(data);
            }
        }
        out
    }

    fn sessions(&self) -> Vec<&ftpscope_core::SessionSummary> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::SessionEnded(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    fn exchanges(&self) -> Vec<&ftpscope_core::Exchange> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Exchange(x) => Some(x),
                _ => None,
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Capture files

fn pcap_header(snaplen: u32) -> Vec<u8> {
    let mut h = 0xa1b2_c3d4u32.to_le_bytes().to_vec();
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&snaplen.to_le_bytes());
    h.extend_from_slice(&1u32.to_le_bytes());
    h
}

fn pcap_record(out: &mut Vec<u8>, ts_s: u32, caplen: u32, orig_len: u32, data: &[u8]) {
    out.extend_from_slice(&ts_s.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&caplen.to_le_bytes());
    out.extend_from_slice(&orig_len.to_le_bytes());
    out.extend_from_slice(data);
}

fn ng_block(btype: u32, body: &[u8]) -> Vec<u8> {
    let len = (12 + body.len()).next_multiple_of(4) as u32;
    let mut b = btype.to_le_bytes().to_vec();
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(body);
    b.resize(len as usize - 4, 0);
    b.extend_from_slice(&len.to_le_bytes());
    b
}

fn ng_shb() -> Vec<u8> {
    let mut body = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&(-1i64).to_le_bytes());
    ng_block(0x0a0d_0d0a, &body)
}

fn ng_idb() -> Vec<u8> {
    let mut body = 1u16.to_le_bytes().to_vec();
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&65535u32.to_le_bytes());
    ng_block(1, &body)
}

fn ng_epb(iface: u32, ts_us: u64, data: &[u8]) -> Vec<u8> {
    let mut body = iface.to_le_bytes().to_vec();
    body.extend_from_slice(&((ts_us >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(ts_us as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(data);
    ng_block(6, &body)
}

fn open_error(bytes: &[u8]) -> String {
    match CaptureReader::open(Cursor::new(bytes.to_vec())) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("opened"),
    }
}

/// Every frame of a capture (captured length each) and the damage that ended it, if any.
fn read_all(bytes: &[u8]) -> (Vec<usize>, Option<(u64, String)>) {
    let mut reader = CaptureReader::open(Cursor::new(bytes.to_vec())).unwrap();
    let mut frames = Vec::new();
    loop {
        match reader.next_record() {
            Ok(Some(f)) => frames.push(f.data.len()),
            Ok(None) => return (frames, None),
            Err(d) => return (frames, Some((d.offset, d.what))),
        }
    }
}

/// A small FTP session with one 3000-byte download (for damage and clock tests).
fn download_session() -> (Wire, Vec<u8>) {
    let mut w = Wire::default();
    let file = pattern(3000, 7);
    let mut c = w.connect("10.0.0.1:40000", "10.0.0.2:21", 1, 2);
    w.server(&mut c, b"220 hi\r\n");
    w.client(&mut c, b"USER anonymous\r\n");
    w.server(&mut c, b"230 ok\r\n");
    w.client(&mut c, b"PASV\r\n");
    w.server(&mut c, b"227 Entering Passive Mode (10,0,0,2,19,137).\r\n");
    let mut d = w.connect("10.0.0.1:40001", "10.0.0.2:5001", 1, 2);
    w.client(&mut c, b"RETR f.bin\r\n");
    w.server(&mut c, b"150 go (3000 bytes)\r\n");
    for part in file.chunks(1000) {
        w.server(&mut d, part);
    }
    w.close(&mut d, false);
    w.server(&mut c, b"226 ok\r\n");
    w.close(&mut c, true);
    (w, file)
}

#[test]
fn file_wrong_magic_empty_and_truncated_headers_are_named() {
    assert_eq!(
        open_error(b"GIF89a\x01\x00"),
        "not a pcap or pcapng file (starts with 47 49 46 38)"
    );
    assert!(
        open_error(b"\x1f\x8b\x08\x00rest")
            .ends_with("it looks gzip-compressed, decompress it first")
    );
    assert_eq!(open_error(b""), "capture file is empty");
    assert_eq!(
        open_error(b"\xd4\xc3"),
        "capture file ends inside its file header"
    );
    assert_eq!(
        open_error(&pcap_header(65535)[..10]),
        "capture file ends inside its file header"
    );
    assert_eq!(
        open_error(&ng_shb()[..20]),
        "capture file ends inside its file header"
    );
    let mut v9 = pcap_header(65535);
    v9[4] = 9;
    assert_eq!(
        open_error(&v9),
        "bad capture file header: unsupported pcap version 9.4"
    );
}

#[test]
fn file_absurd_record_lengths_are_damage_and_allocate_nothing_big() {
    // A 4 GB record after a good one: damage at its header, the good frame kept.
    let mut f = pcap_header(65535);
    pcap_record(&mut f, 1, 60, 60, &[0u8; 60]);
    let at = f.len() as u64;
    pcap_record(&mut f, 2, 0xFFFF_FFF0, 0xFFFF_FFF0, &[0u8; 100]);
    let ((frames, damage), peak) = peak_heap(|| read_all(&f));
    assert_eq!(frames, vec![60]);
    let (offset, what) = damage.unwrap();
    assert_eq!(offset, at);
    assert!(
        what.contains("record claims 4294967280 captured bytes"),
        "{what}"
    );
    assert!(peak < 2 * MIB, "{peak} bytes held for a lying length");

    // A header that allows huge records, and one that claims 200 MB in a 1 KB file.
    let mut f = pcap_header(u32::MAX);
    pcap_record(&mut f, 1, 200_000_000, 200_000_000, &[0u8; 1000]);
    let ((frames, damage), peak) = peak_heap(|| read_all(&f));
    assert!(frames.is_empty());
    let (offset, what) = damage.unwrap();
    assert_eq!(offset, 24);
    assert_eq!(
        what,
        "record cut short: 200000000 bytes of data expected, 1000 present before end of file"
    );
    assert!(peak < 2 * MIB, "{peak} bytes held for a lying length");

    // pcapng: a block claiming 4 GB.
    let mut f = ng_shb();
    f.extend(ng_idb());
    let at = f.len() as u64;
    f.extend_from_slice(&6u32.to_le_bytes());
    f.extend_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    f.extend_from_slice(&[0u8; 64]);
    let ((frames, damage), peak) = peak_heap(|| read_all(&f));
    assert!(frames.is_empty());
    let (offset, what) = damage.unwrap();
    assert_eq!(offset, at);
    assert_eq!(
        what,
        "block length 4294967280 is above the cap of 268435456"
    );
    assert!(peak < 2 * MIB);
}

#[test]
fn file_zero_length_records_are_frames_too_short_to_decode() {
    let mut f = pcap_header(65535);
    for i in 0..5 {
        pcap_record(&mut f, i, 0, 0, &[]);
    }
    let (frames, damage) = read_all(&f);
    assert_eq!((frames, damage), (vec![0; 5], None));
    let (records, summary) = run_bytes(vec![("zero".into(), f)], None, Limits::default());
    assert!(summary.damage.is_empty());
    assert_eq!(summary.stats.frames, 5);
    assert_eq!(summary.stats.anomaly_count(AnomalyKind::FrameMalformed), 5);
    let anomalies = of_type(&records, "anomaly");
    assert!(
        anomalies
            .iter()
            .all(|a| a["detail"] == "ethernet header cut short")
    );
}

#[test]
fn file_timestamps_going_backwards_still_give_whole_stories() {
    let (mut w, file) = download_session();
    let n = w.frames.len() as i64;
    let base = w.frames[0].ts_us;
    for (i, f) in w.frames.iter_mut().enumerate() {
        f.ts_us = base + (n - i as i64) * 1_000_000; // every frame a second before the last
    }
    let (records, summary) = run_bytes(vec![("back".into(), w.pcap())], None, Limits::default());
    assert!(summary.damage.is_empty());
    let t = of_type(&records, "transfer");
    assert_eq!(t.len(), 1);
    assert_eq!(t[0]["status"], "complete");
    assert_eq!(t[0]["sha256"], sha256_hex(&file).as_str());
    for r in of_type(&records, "session").iter().chain(&t) {
        assert!(
            r["end"].as_str().unwrap() >= r["start"].as_str().unwrap(),
            "ends before it starts: {r}"
        );
    }
}

#[test]
fn file_pcapng_unknown_blocks_are_skipped_corrupt_ones_are_damage() {
    let frame = [0u8; 54];
    let mut f = ng_shb();
    f.extend(ng_idb());
    f.extend(ng_epb(0, 1, &frame));
    f.extend(ng_block(0x0000_0BAD, b"custom block nobody knows")); // unknown type
    f.extend(ng_block(4, &[0; 8])); // a name resolution block
    f.extend(ng_block(0x4000_0BAD, &[0xff; 3])); // "custom, copyable"
    f.extend(ng_epb(0, 2, &frame));
    let good = f.len() as u64;
    assert_eq!(read_all(&f), (vec![54, 54], None));

    let mut bad_trailer = f.clone();
    let mut block = ng_epb(0, 3, &frame);
    let n = block.len();
    block[n - 4] ^= 0x40;
    bad_trailer.extend(block);
    let (frames, damage) = read_all(&bad_trailer);
    assert_eq!(frames.len(), 2);
    assert_eq!(
        damage,
        Some((
            good,
            "trailing block length 24 differs from the leading 88".into()
        ))
    );

    let mut bad_iface = f.clone();
    bad_iface.extend(ng_epb(3, 3, &frame));
    assert_eq!(
        read_all(&bad_iface).1,
        Some((
            good,
            "packet names interface 3, but the section describes 1".into()
        ))
    );

    let mut odd_len = f.clone();
    odd_len.extend_from_slice(&6u32.to_le_bytes());
    odd_len.extend_from_slice(&13u32.to_le_bytes());
    odd_len.extend_from_slice(&[0; 9]);
    assert_eq!(
        read_all(&odd_len).1,
        Some((good, "block length 13 is not a multiple of 4".into()))
    );
}

#[test]
fn file_trailing_junk_is_damage_after_a_whole_analysis() {
    let (w, file) = download_session();
    let mut bytes = w.pcap();
    let good = bytes.len() as u64;
    bytes.extend_from_slice(b"JUNKJUN");
    let (records, summary) = run_bytes(vec![("junk".into(), bytes)], None, Limits::default());
    assert_eq!(summary.damage.len(), 1);
    assert_eq!(summary.damage[0].damage.offset, good);
    assert_eq!(
        summary.damage[0].damage.what,
        "end of file inside a record header: 16 bytes expected, 7 present"
    );
    let t = of_type(&records, "transfer");
    assert_eq!(t[0]["status"], "complete");
    assert_eq!(t[0]["sha256"], sha256_hex(&file).as_str());
    let damage = of_type(&records, "damage");
    assert_eq!(damage[0]["offset"], good);
}

// ---------------------------------------------------------------------------------------------
// TCP

/// Login, PASV to 5001, the data connection, RETR and its 150.
fn download_start(net: &mut Net, announced: Option<u64>) -> (Tcp, Tcp) {
    let mut c = net.login("10.0.0.1:40000");
    let d = net.passive(&mut c, 5001, "10.0.0.1:40001");
    net.client(&mut c, b"RETR f.bin\r\n");
    let reply = match announced {
        Some(n) => format!("150 go ({n} bytes)\r\n"),
        None => "150 go\r\n".into(),
    };
    net.server(&mut c, reply.as_bytes());
    (c, d)
}

fn download_end(net: &mut Net, c: &mut Tcp, d: &mut Tcp) {
    net.close(d);
    download_end_control(net, c);
}

fn download_end_control(net: &mut Net, c: &mut Tcp) {
    net.server(c, b"226 ok\r\n");
    net.client(c, b"QUIT\r\n");
    net.server(c, b"221 bye\r\n");
    net.close(c);
}

#[test]
fn tcp_overlap_with_different_bytes_is_reported_and_the_first_copy_kept() {
    let mut net = Net::new(Limits::default());
    let (mut c, mut d) = download_start(&mut net, None);
    let base = d.seq[1];
    net.send_at(&d, false, base.wrapping_add(100), &[b'A'; 100]); // held: a hole before it
    net.send_at(&d, false, base.wrapping_add(150), &[b'B'; 100]); // overlaps 150..200, differs
    net.send_at(&d, false, base, &[b'0'; 100]); // fills the hole
    d.seq[1] = base.wrapping_add(250);
    // A late copy of delivered bytes with other content: delivered bytes are never replaced.
    net.send_at(&d, false, base, &[b'Z'; 50]);
    download_end(&mut net, &mut c, &mut d);
    let out = net.finish();
    let overlaps = out.anomalies(AnomalyKind::TcpOverlapMismatch);
    assert_eq!(overlaps.len(), 1);
    assert!(
        overlaps[0].detail.ends_with("first copy kept"),
        "{}",
        overlaps[0].detail
    );
    let t = out.transfers()[0];
    let want = [&[b'0'; 100][..], &[b'A'; 100], &[b'B'; 50]].concat();
    assert_eq!(out.data(t.transfer), want, "first copy wins");
    assert_eq!(
        (t.status, t.bytes, t.gap_bytes),
        (TransferStatus::Complete, 250, 0)
    );
}

#[test]
fn tcp_the_same_bytes_retransmitted_ten_thousand_times_count_once() {
    let mut net = Net::new(Limits::default());
    let (mut c, mut d) = download_start(&mut net, Some(3000));
    let file = pattern(3000, 3);
    let base = d.seq[1];
    let ((), peak) = peak_heap(|| {
        for _ in 0..10_000 {
            net.send_at(&d, false, base, &file[..1000]); // delivered, then repeated
            net.send_at(&d, false, base.wrapping_add(2000), &file[2000..]); // held, repeated
        }
    });
    net.send_at(&d, false, base.wrapping_add(1000), &file[1000..2000]);
    d.seq[1] = base.wrapping_add(3000);
    download_end(&mut net, &mut c, &mut d);
    let out = net.finish();
    assert_eq!(out.count(AnomalyKind::TcpOverlapMismatch), 0);
    let t = out.transfers()[0];
    assert_eq!(out.data(t.transfer), file);
    assert_eq!((t.status, t.missing_bytes), (TransferStatus::Complete, 0));
    assert!(peak < MIB, "{peak} bytes held for 20 000 copies");
}

#[test]
fn tcp_sequence_wraparound_inside_a_transfer() {
    let mut net = Net::new(Limits::default());
    let mut c = net.login("10.0.0.1:40000");
    net.client(&mut c, b"PASV\r\n");
    net.server(&mut c, b"227 Entering Passive Mode (10,0,0,2,19,137).\r\n");
    // The server's initial sequence number is 256 bytes before the wrap.
    let isn = 0xFFFF_FF00u32.wrapping_sub(100_000);
    let mut d = net.connect("10.0.0.1:40001", "10.0.0.2:5001", isn);
    assert!(d.seq[1] > 0xFFFF_FE00);
    net.client(&mut c, b"RETR wrap.bin\r\n");
    net.server(&mut c, b"150 go (65536 bytes)\r\n");
    let file = pattern(65536, 9);
    // Out of order across the wrap: every second segment first, then the rest.
    let base = d.seq[1];
    for (i, part) in file.chunks(1000).enumerate().filter(|(i, _)| i % 2 == 1) {
        net.send_at(&d, false, base.wrapping_add(i as u32 * 1000), part);
    }
    for (i, part) in file.chunks(1000).enumerate().filter(|(i, _)| i % 2 == 0) {
        net.send_at(&d, false, base.wrapping_add(i as u32 * 1000), part);
    }
    d.seq[1] = base.wrapping_add(65536);
    download_end(&mut net, &mut c, &mut d);
    let out = net.finish();
    let t = out.transfers()[0];
    assert_eq!(out.data(t.transfer), file);
    assert_eq!(t.status, TransferStatus::Complete);
}

/// One SYN of a flood to port 21 from a source made of `i`, a microsecond after the last.
fn flood_syn(net: &mut Net, i: u32) {
    net.ts += TimeSpan::from_nanos(1_000);
    let src = SocketAddr::from((
        [10, 1 + (i >> 24) as u8, (i >> 16) as u8, (i >> 8) as u8],
        1024 + (i & 0xff) as u16,
    ));
    let bytes = ipv4_tcp(src, sa("10.0.0.2:21"), i, 0, SYN, b"");
    net.checker.frame(&Frame {
        ts: net.ts,
        link: LinkType::RawIp,
        data: &bytes,
        orig_len: bytes.len() as u32,
        number: 0,
    });
    assert!(net.checker.analyzer.in_flight().0 <= net.checker.analyzer.limits().max_flows);
}

#[test]
fn tcp_a_million_half_open_flows_stay_within_the_flow_table() {
    let limits = Limits {
        max_flows: 10_000,
        ..Limits::default()
    };
    let mut net = Net::new(limits);
    let ((), peak) = peak_heap(|| {
        for i in 0..700_000 {
            flood_syn(&mut net, i);
            if i % 10_000 == 0 {
                // The test keeps the anomalies only.
                net.checker
                    .events
                    .retain(|e| matches!(e, Event::Anomaly(_)));
            }
        }
    });
    assert!(peak < 64 * MIB, "{peak} bytes for 10 000 flows");
    // A real download in the middle of the flood is followed: half-open flows make room.
    let (mut c, mut d) = download_start(&mut net, Some(7));
    net.server(&mut d, b"payload");
    let mut i = 700_000;
    for step in 0..3 {
        for _ in 0..100_000 {
            flood_syn(&mut net, i);
            i += 1;
        }
        // The test keeps only what it looks at.
        net.checker.events.retain(|e| {
            matches!(
                e,
                Event::TransferEnded(_) | Event::TransferData { .. } | Event::Anomaly(_)
            )
        });
        match step {
            0 => net.close(&mut d),
            1 => download_end_control(&mut net, &mut c),
            _ => {}
        }
    }
    let stats = net.checker.analyzer.stats().clone();
    assert!(stats.anomaly_count(AnomalyKind::FlowTableFull) > 0);
    assert_eq!(i, 1_000_000);
    assert!(
        stats.connections >= 990_000,
        "{} tracked",
        stats.connections
    );
    let out = net.finish();
    let t = out.transfers();
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].status, t[0].bytes), (TransferStatus::Complete, 7));
    let full = out.anomalies(AnomalyKind::FlowTableFull);
    assert!(full.len() <= 1000, "anomaly events are capped per kind");
    assert!(
        full[0]
            .detail
            .ends_with("connections without payload forgotten to make room")
    );
}

/// The attempts counted for one server.
fn attempts_to(stats: &ftpscope_core::Stats, server: &str) -> Option<u64> {
    let server = sa(server);
    stats
        .connection_attempts
        .servers
        .get(&server)
        .map(|c| c.attempts)
}

#[test]
fn tcp_a_million_syns_to_port_21_in_one_second_make_no_session_with_the_default_limits() {
    let mut net = Net::new(Limits::default());
    let ((), peak) = peak_heap(|| {
        for i in 0..1_000_000 {
            flood_syn(&mut net, i);
            if i % 10_000 == 0 {
                // Nothing but anomalies (the table filling up): no session, no transfer.
                let told = net.checker.events.drain(..);
                assert!(told.into_iter().all(|e| matches!(e, Event::Anomaly(_))));
            }
        }
    });
    eprintln!("1 000 000 SYNs to port 21, default limits: peak heap {peak} bytes");
    assert!(peak < 128 * MIB, "{peak} bytes for 1 000 000 SYNs");
    let (flows, sessions, transfers) = net.checker.analyzer.in_flight();
    assert!(flows <= Limits::default().max_flows);
    assert_eq!((sessions, transfers), (0, 0));
    let out = net.finish();
    assert_eq!(out.stats.sessions, 0);
    assert!(out.sessions().is_empty());
    assert_eq!(out.stats.connections, 1_000_000);
    assert_eq!(out.stats.connection_attempts.total, 1_000_000);
    assert_eq!(attempts_to(&out.stats, "10.0.0.2:21"), Some(1_000_000));
    let reported = out.anomalies(AnomalyKind::ConnectionAttempts);
    assert_eq!(reported.len(), 1, "one anomaly for the one server");
    assert_eq!(
        reported[0].detail,
        "1000000 attempts to 10.0.0.2:21: SYN never answered, or refused"
    );
}

#[test]
fn tcp_a_connection_is_a_session_from_its_first_byte_and_attempts_count_once_per_4_tuple() {
    let mut net = Net::new(Limits::default());
    let (c1, c2, s) = (
        sa("10.0.0.1:40001"),
        sa("10.0.0.1:40002"),
        sa("10.0.0.2:21"),
    );
    // A SYN retried twice, then a SYN refused, retried after the RST, refused again: two
    // attempts, no session.
    for _ in 0..3 {
        net.packet(c1, s, 100, 0, SYN, b"");
    }
    for _ in 0..2 {
        net.packet(c2, s, 200, 0, SYN, b"");
        net.packet(s, c2, 0, 201, RST | ACK, b"");
    }
    // Connected, never a byte, closed: no session, not an attempt.
    let mut empty = net.connect("10.0.0.1:40003", "10.0.0.2:21", 300);
    net.close(&mut empty);
    // Only the unanswered SYN is still tracked: quiet, with no session.
    assert_eq!(net.checker.analyzer.in_flight(), (1, 0, 0));
    // A session whose greeting comes a minute after the handshake starts at its SYN.
    let syn_ts = net.ts + TimeSpan::from_nanos(1_000_000);
    let mut c = net.connect("10.0.0.1:40000", "10.0.0.2:21", 7000);
    assert_eq!(net.checker.analyzer.in_flight(), (2, 0, 0));
    net.wait(60 * SECOND);
    net.server(&mut c, b"220 ready\r\n");
    assert_eq!(net.checker.analyzer.in_flight(), (2, 1, 0));
    net.client(&mut c, b"QUIT\r\n");
    net.server(&mut c, b"221 bye\r\n");
    net.close(&mut c);
    let out = net.finish();
    let sessions = out.sessions();
    assert_eq!(sessions.len(), 1);
    assert_eq!((sessions[0].session, sessions[0].start), (1, syn_ts));
    assert_eq!(
        out.exchanges()[0].replies[0].code,
        220,
        "the greeting was expected"
    );
    assert_eq!(out.count(AnomalyKind::TcpMidstream), 0);
    assert_eq!(out.stats.connection_attempts.total, 2);
    assert_eq!(attempts_to(&out.stats, "10.0.0.2:21"), Some(2));
}

#[test]
fn limit_attempt_servers_counts_the_rest_together() {
    let limits = Limits {
        max_attempt_servers: 2,
        ..Limits::default()
    };
    let mut net = Net::new(limits);
    for (i, server) in [
        "10.0.0.2:21",
        "10.0.0.3:21",
        "10.0.0.2:21",
        "10.0.0.4:21",
        "10.0.0.2:2121",
    ]
    .into_iter()
    .enumerate()
    {
        let client = sa(&format!("10.0.0.1:{}", 40000 + i));
        net.packet(client, sa(server), 1, 0, SYN, b"");
    }
    let out = net.finish();
    let attempts = &out.stats.connection_attempts;
    assert_eq!((attempts.total, attempts.other_servers), (5, 2));
    assert_eq!(attempts.servers.len(), 2);
    assert_eq!(attempts_to(&out.stats, "10.0.0.2:21"), Some(2));
    assert_eq!(attempts_to(&out.stats, "10.0.0.3:21"), Some(1));
    let details: Vec<&str> = out
        .anomalies(AnomalyKind::ConnectionAttempts)
        .iter()
        .map(|a| a.detail.as_str())
        .collect();
    assert_eq!(
        details,
        [
            "2 attempts to 10.0.0.2:21: SYN never answered, or refused",
            "1 attempt to 10.0.0.3:21: SYN never answered, or refused",
            "2 attempts to other servers, beyond the first 2 (max_attempt_servers)"
        ]
    );
}

#[test]
fn tcp_a_closed_connection_is_remembered_by_its_key_for_late_segments_only() {
    let limits = Limits {
        sweep_interval: SECOND,
        ..Limits::default()
    };
    let mut net = Net::new(limits);
    let mut c = net.login("10.0.0.1:40000");
    net.client(&mut c, b"QUIT\r\n");
    net.server(&mut c, b"221 bye\r\n");
    net.close(&mut c);
    // Closed: the connection left the table; only its key and time are remembered.
    assert_eq!(net.checker.analyzer.in_flight(), (0, 0, 0));
    // Within 30 s, a retransmitted reply and the last ACK open nothing.
    net.wait(20 * SECOND);
    net.send_at(&c, false, c.seq[1] - 10, b"221 bye\r\n");
    net.send_at(&c, true, c.seq[0], b"");
    net.wait(20 * SECOND);
    net.send_at(&c, false, c.seq[1] - 10, b"221 bye\r\n");
    assert_eq!(net.checker.analyzer.in_flight(), (0, 0, 0));
    // A SYN on the same 4-tuple is a new connection, not a reuse of an open one.
    let mut c = net.login("10.0.0.1:40000");
    net.close(&mut c);
    assert_eq!(net.checker.analyzer.in_flight(), (0, 0, 0));
    // After 30 s of silence the key is forgotten: a retransmission is then picked up as a
    // connection of its own, without its handshake.
    net.wait(31 * SECOND);
    net.send_at(&c, false, c.seq[1] - 10, b"221 bye\r\n");
    assert_eq!(net.checker.analyzer.in_flight().0, 1);
    let out = net.finish();
    assert_eq!(out.sessions().len(), 3);
    assert_eq!(out.count(AnomalyKind::TcpMidstream), 1);
    assert_eq!(out.count(AnomalyKind::TcpPortReuse), 0);
}

#[test]
fn tcp_connections_that_never_close_end_at_capture_end_or_idle() {
    // Capture ends mid-transfer.
    let mut net = Net::new(Limits::default());
    let (_c, mut d) = download_start(&mut net, Some(5000));
    net.server(&mut d, &pattern(2000, 1));
    let out = net.finish();
    let t = out.transfers()[0];
    assert_eq!(
        (t.status, t.bytes, t.missing_bytes),
        (TransferStatus::Truncated, 2000, 3000)
    );
    assert!(
        t.reason.contains("not closed in the capture"),
        "{}",
        t.reason
    );
    assert_eq!(out.sessions()[0].end_reason, EndReason::CaptureEnd);

    // The connections go quiet, and the capture goes on with other traffic.
    let limits = Limits {
        idle_timeout: 60 * SECOND,
        ..Limits::default()
    };
    let mut net = Net::new(limits);
    let (_c, mut d) = download_start(&mut net, None);
    net.server(&mut d, &pattern(2000, 1));
    net.wait(120 * SECOND);
    let mut other = net.connect("10.9.9.9:5555", "10.9.9.8:80", 1);
    net.client(&mut other, b"GET / HTTP/1.0\r\n\r\n");
    let idle_reported = net
        .checker
        .events
        .iter()
        .filter(|e| matches!(e, Event::Anomaly(a) if a.kind == AnomalyKind::FlowIdleTimeout))
        .count();
    assert_eq!(idle_reported, 2, "control and data connection time out");
    assert_eq!(net.checker.analyzer.in_flight().1, 0, "the session ended");
    let out = net.finish();
    assert_eq!(out.sessions()[0].end_reason, EndReason::Idle);
    assert_eq!(out.transfers()[0].status, TransferStatus::Truncated);
}

#[test]
fn tcp_reset_in_mid_transfer_is_a_truncated_transfer() {
    let mut net = Net::new(Limits::default());
    let (mut c, d) = download_start(&mut net, Some(4000));
    let mut d = d;
    net.server(&mut d, &pattern(1500, 4));
    net.reset(&d, false);
    net.server(&mut c, b"426 connection closed; transfer aborted\r\n");
    net.close(&mut c);
    let out = net.finish();
    let t = out.transfers()[0];
    assert_eq!(t.bytes, 1500);
    assert_eq!(t.missing_bytes, 2500);
    assert_eq!(t.status, TransferStatus::Aborted);
    assert!(t.reason.contains("data connection reset"), "{}", t.reason);

    // Reset without a 426: truncated.
    let mut net = Net::new(Limits::default());
    let (mut c, mut d) = download_start(&mut net, None);
    net.server(&mut d, &pattern(1500, 4));
    net.reset(&d, true);
    net.server(&mut c, b"226 ok\r\n");
    net.close(&mut c);
    let out = net.finish();
    let t = out.transfers()[0];
    assert_eq!((t.status, t.bytes), (TransferStatus::Truncated, 1500));
    assert!(t.reason.contains("data connection reset"), "{}", t.reason);
}

// ---------------------------------------------------------------------------------------------
// FTP

#[test]
fn ftp_a_control_line_of_megabytes_without_newline_is_cut_and_costs_no_memory() {
    let mut net = Net::new(Limits::default());
    let mut c = net.login("10.0.0.1:40000");
    let chunk = [b'A'; 1400];
    let ((), peak) = peak_heap(|| {
        for _ in 0..(8 * MIB / chunk.len()) {
            net.client(&mut c, &chunk);
        }
    });
    net.client(&mut c, b"\r\nNOOP\r\n");
    net.server(&mut c, b"500 what?\r\n200 ok\r\n");
    net.close(&mut c);
    let out = net.finish();
    assert!(peak < MIB, "{peak} bytes held for an 8 MiB line");
    assert_eq!(out.count(AnomalyKind::LineTooLong), 1);
    assert_eq!(
        out.anomalies(AnomalyKind::LineTooLong)[0].detail,
        "command line over 16384 bytes"
    );
    let x = out.exchanges();
    let long = x
        .iter()
        .find(|e| {
            e.command
                .as_ref()
                .is_some_and(|c| c.verb.starts_with(b"AAA"))
        })
        .unwrap();
    let cmd = long.command.as_ref().unwrap();
    assert_eq!(
        cmd.verb.len() + cmd.arg.len(),
        16384,
        "the line was cut at the limit"
    );
    assert_eq!(long.final_reply().unwrap().code, 500);
    let noop = x
        .iter()
        .find(|e| e.command.as_ref().is_some_and(|c| c.verb == b"NOOP"))
        .unwrap();
    assert_eq!(
        noop.final_reply().unwrap().code,
        200,
        "replies stay paired after the cut"
    );
}

#[test]
fn ftp_thousands_of_pipelined_commands_overflow_the_queue_not_the_memory() {
    let limits = Limits {
        max_pending_commands: 64,
        ..Limits::default()
    };
    let mut net = Net::quiet(limits);
    let mut c = net.login("10.0.0.1:40000");
    let burst = b"NOOP\r\n".repeat(100);
    let ((), peak) = peak_heap(|| {
        for _ in 0..50 {
            net.client(&mut c, &burst);
        }
    });
    net.server(&mut c, b"200 ok\r\n");
    net.close(&mut c);
    let out = net.finish();
    assert_eq!(out.count(AnomalyKind::PendingCommandsOverflow), 5000 - 64);
    assert!(peak < MIB, "{peak} bytes held for 5000 commands");
}

#[test]
fn ftp_thousands_of_pasv_replies_keep_only_the_latest_endpoints() {
    let limits = Limits {
        max_expectations_per_session: 8,
        ..Limits::default()
    };
    let mut net = Net::new(limits);
    let mut c = net.login("10.0.0.1:40000");
    let ((), peak) = peak_heap(|| {
        for i in 0..5000u16 {
            let port = 10_000 + i;
            net.client(&mut c, b"PASV\r\n");
            let r = format!(
                "227 Entering Passive Mode (10,0,0,2,{},{})\r\n",
                port >> 8,
                port & 0xff
            );
            net.server(&mut c, r.as_bytes());
            net.checker.events.clear(); // the test keeps events; the analyzer must not
        }
    });
    assert!(peak < MIB, "{peak} bytes held for 5000 endpoints");
    // The first announced port was forgotten; the last one still links.
    let mut old = net.connect("10.0.0.1:41000", "10.0.0.2:10000", 1);
    net.server(&mut old, b"old");
    net.close(&mut old);
    let mut new = net.connect("10.0.0.1:41001", "10.0.0.2:14999", 1);
    net.client(&mut c, b"RETR f\r\n");
    net.server(&mut new, b"new");
    net.close(&mut new);
    net.server(&mut c, b"226 ok\r\n");
    net.close(&mut c);
    let out = net.finish();
    assert_eq!(out.count(AnomalyKind::ExpectationOverflow), 5000 - 8);
    let t = out.transfers();
    let linked = t
        .iter()
        .find(|t| t.announced_by == Some(AnnouncedBy::Pasv))
        .unwrap();
    assert_eq!(linked.data_responder, Some(sa("10.0.0.2:14999")));
    assert_eq!(linked.status, TransferStatus::Complete);
    // Forgotten, the announcement is no evidence any more, and no command waited for the
    // connection when it opened: not a data connection (issue 12: no evidence, no data).
    assert!(
        !t.iter()
            .any(|t| t.data_responder == Some(sa("10.0.0.2:10000"))),
        "forgotten: not a transfer"
    );
    assert_eq!(out.count(AnomalyKind::OrphanData), 0);
}

#[test]
fn ftp_replies_without_a_code_or_with_impossible_codes_are_malformed() {
    let mut net = Net::new(Limits::default());
    let mut c = net.login("10.0.0.1:40000");
    net.client(&mut c, b"NOOP\r\n");
    net.server(
        &mut c,
        b"hello\r\n999 nine\r\n099 zero\r\n2000 four digits\r\n20 two\r\n\r\n200x glued\r\n200 ok\r\n",
    );
    net.close(&mut c);
    let out = net.finish();
    let bad: Vec<&str> = out
        .anomalies(AnomalyKind::ReplyMalformed)
        .iter()
        .map(|a| a.detail.as_str())
        .collect();
    assert_eq!(
        bad,
        [
            "\"hello\"",
            "\"999 nine\"",
            "\"099 zero\"",
            "\"2000 four digits\"",
            "\"20 two\"",
            "\"\"",
            "\"200x glued\""
        ]
    );
    let noop = out
        .exchanges()
        .into_iter()
        .find(|e| e.command.as_ref().is_some_and(|c| c.verb == b"NOOP"))
        .unwrap();
    assert_eq!(noop.final_reply().unwrap().code, 200);
}

#[test]
fn ftp_bad_endpoints_are_named_and_odd_delimiters_still_work() {
    let mut net = Net::new(Limits::default());
    let mut c = net.login("10.0.0.1:40000");
    for arg in [
        "PORT 10,0,0,1,300,2",
        "PORT 10,0,0,256,1,2",
        "PORT 10,0,0,1,2",
        "PORT 10,0,0,1,0,0",
        "EPRT |1|10.0.0.1|70000|",
        "EPRT \u{1}1\u{1}10.0.0.1\u{1}5000\u{1}",
        "EPRT |3|10.0.0.1|5000|",
        "EPRT |1|10.0.0.999|5000|",
        "EPRT |2|10.0.0.1|5000|",
        "EPRT |1|10.0.0.1|5000",
        "LPRT 4,4,10,0,0,1,2,19,999",
    ] {
        net.client(&mut c, format!("{arg}\r\n").as_bytes());
        net.server(&mut c, b"501 no\r\n");
    }
    for reply in [
        "227 Entering Passive Mode (10,0,0,2,256,1)",
        "227 Entering Passive Mode (1,2,3)",
        "229 Entering Extended Passive Mode (|||99999|)",
        "229 Entering Extended Passive Mode (|||0|)",
    ] {
        net.client(
            &mut c,
            if reply.starts_with("229") {
                b"EPSV\r\n"
            } else {
                b"PASV\r\n"
            },
        );
        net.server(&mut c, format!("{reply}\r\n").as_bytes());
    }
    // An odd but valid delimiter: the endpoint is used.
    net.client(&mut c, b"EPRT !1!10.0.0.1!5050!\r\n");
    net.server(&mut c, b"200 ok\r\n");
    let mut d = net.connect("10.0.0.2:20", "10.0.0.1:5050", 1);
    net.client(&mut c, b"RETR f\r\n");
    net.server(&mut c, b"150 go\r\n");
    net.server(&mut d, b"data");
    net.close(&mut d);
    net.server(&mut c, b"226 ok\r\n");
    net.close(&mut c);
    let out = net.finish();
    let names: Vec<&str> = out
        .anomalies(AnomalyKind::AddressMalformed)
        .iter()
        .map(|a| a.detail.rsplit(": ").next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "number_out_of_range",
            "number_out_of_range",
            "malformed",
            "port_zero",
            "number_out_of_range",
            "bad_delimiter",
            "unsupported_family",
            "bad_address",
            "bad_address",
            "malformed",
            "number_out_of_range",
            "number_out_of_range",
            "malformed",
            "number_out_of_range",
            "port_zero",
        ]
    );
    let t = out.transfers()[0];
    assert_eq!(
        (t.announced_by, t.status),
        (Some(AnnouncedBy::Eprt), TransferStatus::Complete)
    );
}

#[test]
fn ftp_a_data_connection_matching_two_expectations_goes_to_one_transfer() {
    let mut net = Net::new(Limits::default());
    let mut a = net.login("10.0.0.1:40000");
    let mut b = net.login("10.0.0.1:40100");
    for c in [&mut a, &mut b] {
        net.client(c, b"PASV\r\n");
        net.server(c, b"227 Entering Passive Mode (10,0,0,2,19,137)\r\n");
    }
    let mut d = net.connect("10.0.0.1:40001", "10.0.0.2:5001", 1);
    for c in [&mut a, &mut b] {
        net.client(c, b"RETR same.bin\r\n");
    }
    net.server(&mut d, &pattern(1000, 5));
    net.close(&mut d);
    for c in [&mut a, &mut b] {
        net.server(c, b"226 ok\r\n");
        net.close(c);
    }
    let out = net.finish();
    let t = out.transfers();
    let with_data: Vec<_> = t.iter().filter(|t| t.bytes > 0).collect();
    assert_eq!(with_data.len(), 1, "the bytes are counted once");
    assert_eq!(
        with_data[0].session,
        Some(2),
        "the latest announcement wins"
    );
    assert_eq!(with_data[0].status, TransferStatus::Complete);
    let other = t.iter().find(|t| t.session == Some(1)).unwrap();
    assert_eq!((other.bytes, other.status), (0, TransferStatus::Truncated));
    assert_eq!(other.reason, "no data connection in the capture");
}

#[test]
fn ftp_data_for_a_transfer_whose_command_never_comes_is_kept_and_named() {
    let mut net = Net::new(Limits::default());
    let mut c = net.login("10.0.0.1:40000");
    let mut d = net.passive(&mut c, 5001, "10.0.0.1:40001");
    let bytes = pattern(3000, 8);
    net.server(&mut d, &bytes);
    net.close(&mut d);
    net.client(&mut c, b"QUIT\r\n");
    net.server(&mut c, b"221 bye\r\n");
    net.close(&mut c);
    let out = net.finish();
    let t = out.transfers()[0];
    assert_eq!((t.command.as_ref(), t.session), (None, Some(1)));
    assert_eq!(out.data(t.transfer), bytes, "nothing is lost");
    assert_eq!(out.anomalies(AnomalyKind::DataWithoutCommand).len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Every bound of Limits

#[test]
fn limit_out_of_order_bytes_per_direction_and_segments() {
    // Bytes: 10 segments of 1000 after a hole, 4096 allowed.
    let limits = Limits {
        max_ooo_bytes_per_direction: 4096,
        ..Limits::default()
    };
    let mut net = Net::new(limits);
    let (mut c, mut d) = download_start(&mut net, None);
    let base = d.seq[1];
    let file = pattern(11_000, 2);
    let ((), peak) = peak_heap(|| {
        for i in 1..11u32 {
            let at = i as usize * 1000;
            net.send_at(&d, false, base.wrapping_add(i * 1000), &file[at..at + 1000]);
        }
    });
    assert!(peak < 64 << 10, "{peak} bytes held with a 4 KiB limit");
    d.seq[1] = base.wrapping_add(11_000);
    download_end(&mut net, &mut c, &mut d);
    let out = net.finish();
    assert!(out.count(AnomalyKind::TcpOooOverflow) >= 1);
    let t = out.transfers()[0];
    assert_eq!(
        (t.gap_bytes, t.bytes),
        (1000, 10_000),
        "the hole was skipped"
    );
    assert_eq!(out.data(t.transfer), &file[1000..]);
    assert_eq!(t.status, TransferStatus::Truncated);

    // Segments: 100 one-byte segments, every other byte missing, 16 allowed.
    let limits = Limits {
        max_ooo_segments_per_direction: 16,
        ..Limits::default()
    };
    let mut net = Net::new(limits);
    let (mut c, mut d) = download_start(&mut net, None);
    let base = d.seq[1];
    for i in 0..100u32 {
        net.send_at(&d, false, base.wrapping_add(1 + 2 * i), b"x");
    }
    d.seq[1] = base.wrapping_add(201);
    download_end(&mut net, &mut c, &mut d);
    let out = net.finish();
    assert!(out.count(AnomalyKind::TcpOooOverflow) >= 1);
    let t = out.transfers()[0];
    assert_eq!(t.bytes, 100);
}

#[test]
fn limit_out_of_order_bytes_across_all_flows() {
    let limits = Limits {
        max_ooo_bytes_per_direction: 4096,
        max_ooo_bytes_total: 8000,
        ..Limits::default()
    };
    let mut net = Net::new(limits);
    let mut c = net.login("10.0.0.1:40000");
    let mut data = Vec::new();
    for i in 0..3u16 {
        let mut d = net.passive(&mut c, 5001 + i, &format!("10.0.0.1:{}", 41000 + i));
        net.client(&mut c, b"RETR f\r\n");
        let base = d.seq[1];
        net.send_at(&d, false, base.wrapping_add(100), &[b'x'; 3000]);
        d.seq[1] = base.wrapping_add(3100);
        data.push(d);
    }
    let out_events = &net.checker.events;
    let total = out_events
        .iter()
        .filter(|e| matches!(e, Event::Anomaly(a) if a.kind == AnomalyKind::TcpOooOverflow && a.detail == "total out-of-order limit"))
        .count();
    assert_eq!(total, 1, "the third flow went over 8000 held bytes");
    for mut d in data {
        net.close(&mut d);
    }
    net.close(&mut c);
    net.finish();
}

#[test]
fn limit_sequence_distance_drops_far_segments() {
    let limits = Limits {
        max_seq_distance: 1 << 20,
        ..Limits::default()
    };
    let mut net = Net::new(limits);
    let (mut c, mut d) = download_start(&mut net, None);
    let base = d.seq[1];
    net.send_at(&d, false, base.wrapping_add(1 << 21), b"far away");
    net.server(&mut d, b"near");
    download_end(&mut net, &mut c, &mut d);
    let out = net.finish();
    assert_eq!(out.count(AnomalyKind::TcpOutOfWindow), 1);
    let t = out.transfers()[0];
    assert_eq!(out.data(t.transfer), b"near");
}

#[test]
fn limit_lines_per_multi_line_reply() {
    let limits = Limits {
        max_reply_lines: 8,
        ..Limits::default()
    };
    let mut net = Net::new(limits);
    let mut c = net.login("10.0.0.1:40000");
    net.client(&mut c, b"HELP\r\n");
    let mut reply = b"214-help\r\n".to_vec();
    for i in 0..100 {
        reply.extend_from_slice(format!(" line {i}\r\n").as_bytes());
    }
    reply.extend_from_slice(b"214 end\r\n");
    net.server(&mut c, &reply);
    net.close(&mut c);
    let out = net.finish();
    let a = out.anomalies(AnomalyKind::ReplyTooLong);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].detail, "93 lines not kept");
    let help = out
        .exchanges()
        .into_iter()
        .find(|e| e.command.as_ref().is_some_and(|c| c.verb == b"HELP"))
        .unwrap();
    let r = help.final_reply().unwrap();
    assert_eq!((r.code, r.lines_dropped), (214, 93));
    assert_eq!(r.text.split(|&b| b == b'\n').count(), 9);
}

#[test]
fn limit_expectation_lifetime_and_the_port_only_window() {
    let limits = Limits {
        expectation_ttl: 60 * SECOND,
        port_only_window: 10 * SECOND,
        sweep_interval: SECOND,
        ..Limits::default()
    };
    let mut net = Net::new(limits);
    let mut c = net.login("10.0.0.1:40000");
    // Announced for a NATed address; a stranger connects to the port in time: port_only.
    for (wait, port) in [(5, 5001u16), (30, 5002), (90, 5003)] {
        net.client(&mut c, b"PASV\r\n");
        let r = format!("227 (192,168,1,1,{},{})\r\n", port >> 8, port & 0xff);
        net.server(&mut c, r.as_bytes());
        net.wait(wait * SECOND);
        net.client(&mut c, b"NOOP\r\n"); // time passes on the wire: expectations are swept
        net.server(&mut c, b"200 ok\r\n");
        let mut d = net.connect("10.0.0.77:41000", &format!("10.0.0.2:{port}"), 1);
        net.server(&mut d, b"bytes");
        net.close(&mut d);
    }
    net.close(&mut c);
    let out = net.finish();
    let link = |port: u16| {
        out.transfers()
            .into_iter()
            .find(|t| t.data_responder.map(|a| a.port()) == Some(port))
            .map(|t| t.link)
    };
    assert_eq!(link(5001), Some(ftpscope_core::LinkRule::PortOnly));
    // Too late for the port alone, still remembered: not linked, the stranger is ignored.
    assert_eq!(link(5002), None);
    // Forgotten after the lifetime.
    assert_eq!(link(5003), None);
}

#[test]
fn limit_classify_bytes_gives_up_on_unknown_connections() {
    let limits = Limits {
        max_classify_bytes: 256,
        ..Limits::default()
    };
    let mut net = Net::new(limits);
    let mut t = net.connect("10.0.0.5:40000", "10.0.0.6:8080", 1);
    let ((), peak) = peak_heap(|| {
        for _ in 0..1000 {
            net.client(&mut t, &[0x42; 1000]);
        }
    });
    net.server(&mut t, b"220 too late to look like FTP\r\n");
    net.close(&mut t);
    assert!(peak < 64 << 10, "{peak} bytes held while classifying");
    let out = net.finish();
    assert!(out.sessions().is_empty() && out.transfers().is_empty());
}

#[test]
fn limit_size_hints_remembered_per_session() {
    let limits = Limits {
        max_size_hints: 4,
        ..Limits::default()
    };
    let mut net = Net::new(limits);
    let mut c = net.login("10.0.0.1:40000");
    for i in 0..6 {
        net.client(&mut c, format!("SIZE /f{i}\r\n").as_bytes());
        net.server(&mut c, format!("213 {}\r\n", 100 + i).as_bytes());
    }
    for (i, port) in [(0, 5001u16), (5, 5002)] {
        let mut d = net.passive(&mut c, port, &format!("10.0.0.1:{}", 41000 + i));
        net.client(&mut c, format!("RETR /f{i}\r\n").as_bytes());
        net.server(&mut d, b"x");
        net.close(&mut d);
        net.server(&mut c, b"226 ok\r\n");
    }
    net.close(&mut c);
    let out = net.finish();
    let t = out.transfers();
    assert_eq!(
        t[0].expected_bytes, None,
        "the oldest SIZE answer was forgotten"
    );
    assert_eq!(t[1].expected_bytes, Some(105));
}

#[test]
fn limit_handshake_timeout_forgets_half_open_flows() {
    let limits = Limits {
        handshake_timeout: 5 * SECOND,
        sweep_interval: SECOND,
        ..Limits::default()
    };
    let mut net = Net::new(limits);
    net.packet(sa("10.0.0.1:40000"), sa("10.0.0.2:21"), 1, 0, SYN, b"");
    assert_eq!(net.checker.analyzer.in_flight().0, 1);
    net.wait(6 * SECOND);
    net.packet(sa("10.0.0.3:40000"), sa("10.0.0.4:80"), 1, 0, SYN, b"");
    net.wait(2 * SECOND);
    net.packet(sa("10.0.0.3:40000"), sa("10.0.0.4:80"), 2, 0, ACK, b"x");
    assert_eq!(
        net.checker.analyzer.in_flight().0,
        1,
        "the first SYN was forgotten"
    );
    net.finish();
}

/// An IPv4 fragment of a TCP datagram: `payload` starts at byte `offset` of the datagram.
fn ipv4_fragment(id: u16, offset: usize, more: bool, payload: &[u8]) -> Vec<u8> {
    let total = 20 + payload.len();
    let frag = (offset / 8) as u16 | if more { 0x2000 } else { 0 };
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&frag.to_be_bytes());
    p.extend_from_slice(&[64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    p.extend_from_slice(payload);
    p
}

#[test]
fn limit_ip_fragments_bytes_datagrams_and_timeout() {
    let limits = Limits {
        max_fragment_datagrams: 8,
        max_fragment_bytes: 8192,
        fragment_timeout: 10 * SECOND,
        sweep_interval: SECOND,
        ..Limits::default()
    };
    let mut net = Net::new(limits);
    let feed = |net: &mut Net, bytes: Vec<u8>| {
        net.ts += TimeSpan::from_nanos(1_000_000);
        net.checker.frame(&Frame {
            ts: net.ts,
            link: LinkType::RawIp,
            data: &bytes,
            orig_len: bytes.len() as u32,
            number: 0,
        });
    };
    // 20 datagrams whose first fragment never gets its second: 8 held, 12 dropped.
    let ((), peak) = peak_heap(|| {
        for id in 0..20 {
            feed(&mut net, ipv4_fragment(id, 0, true, &[0u8; 512]));
        }
    });
    assert!(peak < 256 << 10);
    // One datagram of 10 000 bytes in flight: over the byte cap.
    for i in 0..10 {
        feed(&mut net, ipv4_fragment(100, i * 1000, true, &[0u8; 1000]));
    }
    net.wait(11 * SECOND);
    feed(&mut net, ipv4_fragment(200, 0, true, &[0u8; 8]));
    let out = net.finish();
    assert!(out.count(AnomalyKind::IpFragmentOverflow) >= 12);
    assert!(out.count(AnomalyKind::IpFragmentTimeout) >= 1);
}

#[test]
fn limit_anomaly_events_per_kind() {
    let limits = Limits {
        anomaly_events_per_kind: 20,
        ..Limits::default()
    };
    let mut net = Net::new(limits);
    let mut c = net.login("10.0.0.1:40000");
    net.server(&mut c, &b"garbage\r\n".repeat(100));
    net.close(&mut c);
    let out = net.finish();
    assert_eq!(out.anomalies(AnomalyKind::ReplyMalformed).len(), 20);
    assert_eq!(out.count(AnomalyKind::ReplyMalformed), 100);
}

#[test]
fn ftp_a_long_session_does_not_grow_its_working_directory_or_transfer_table() {
    let mut net = Net::quiet(Limits::default());
    let mut c = net.login("10.0.0.1:40000");
    net.client(&mut c, b"PASV\r\n");
    net.server(&mut c, b"227 Entering Passive Mode (10,0,0,2,19,137)\r\n");
    let dir = format!("CWD {}\r\n", "d".repeat(1000));
    let ((), peak) = peak_heap(|| {
        for _ in 0..5000 {
            net.client(&mut c, dir.as_bytes());
            net.server(&mut c, b"250 ok\r\n");
        }
    });
    assert!(peak < 4 * MIB, "{peak} bytes held after 5000 CWDs");
    let ((), peak) = peak_heap(|| {
        for _ in 0..5000 {
            net.client(&mut c, b"RETR never-connected.bin\r\n");
            net.server(&mut c, b"150 go\r\n226 ok\r\n");
        }
    });
    let in_flight = net.checker.analyzer.in_flight().2;
    assert!(in_flight < 100, "{in_flight} transfers in flight");
    assert!(
        peak < 4 * MIB,
        "{peak} bytes held after 5000 transfers without data"
    );
    // Connections no command ever claims.
    let ((), peak) = peak_heap(|| {
        for i in 0..2000u16 {
            let mut d = net.passive(&mut c, 5001, &format!("10.0.0.1:{}", 20_000 + i));
            net.server(&mut d, b"unclaimed");
            net.close(&mut d);
        }
    });
    let in_flight = net.checker.analyzer.in_flight().2;
    assert!(in_flight < 100, "{in_flight} unclaimed transfers in flight");
    assert!(
        peak < 4 * MIB,
        "{peak} bytes held after 2000 unclaimed connections"
    );
    net.close(&mut c);
    net.finish();
}

// ---------------------------------------------------------------------------------------------
// Safe extraction (the real binary)

fn temp(name: &str) -> tempfile::TempDir {
    common::temp_dir("adversarial", name)
}

fn json_records(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8(stdout.to_vec())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// One session downloading each of `names` (content: "file N\n"), in order.
fn downloads(names: &[&[u8]], cwd_reply: Option<&[u8]>) -> Vec<u8> {
    let mut w = Wire::default();
    let mut c = w.connect("10.0.0.1:40000", "10.0.0.2:21", 1, 2);
    w.server(&mut c, b"220 hi\r\n");
    w.client(&mut c, b"USER anonymous\r\n");
    w.server(&mut c, b"230 ok\r\n");
    if let Some(reply) = cwd_reply {
        w.client(&mut c, b"CWD x\r\n");
        w.server(&mut c, reply);
    }
    for (i, name) in names.iter().enumerate() {
        let port = 5000 + i as u16;
        w.client(&mut c, b"PASV\r\n");
        let r = format!(
            "227 Entering Passive Mode (10,0,0,2,{},{}).\r\n",
            port >> 8,
            port & 0xff
        );
        w.server(&mut c, r.as_bytes());
        let mut d = w.connect(
            &format!("10.0.0.1:{}", 41000 + i),
            &format!("10.0.0.2:{port}"),
            1,
            2,
        );
        w.client(&mut c, &[&b"RETR "[..], name, b"\r\n"].concat());
        w.server(&mut d, format!("file {i}\n").as_bytes());
        w.close(&mut d, false);
        w.server(&mut c, b"226 ok\r\n");
    }
    w.close(&mut c, true);
    w.pcap()
}

#[test]
fn extraction_keeps_hostile_names_inside_the_folder_recognisable_and_never_overwrites() {
    let long = vec![b'L'; 300];
    let names: Vec<&[u8]> = vec![
        b"../../etc/passwd",
        b"/etc/shadow",
        b"..\\..\\boot.ini",
        b"a\0b.txt",
        b"cr\rname",
        b"\x1b[2J\x1b]0;owned\x07.txt",
        &long,
        b"CON",
        b"nul.txt",
        "\u{ff0f}etc\u{ff0f}passwd".as_bytes(),
        "\u{2025}/\u{2025}/up".as_bytes(),
        "evil\u{202e}txt.exe".as_bytes(),
        b"/a",
        b"/a/b",
    ];
    let tmp = temp("names");
    let dir = tmp.path();
    let out_dir = dir.join("out");
    // Something already there must survive.
    std::fs::create_dir_all(out_dir.join("session-1/etc")).unwrap();
    std::fs::write(out_dir.join("session-1/etc/shadow"), b"precious").unwrap();
    let pcap = dir.join("in.pcap");
    std::fs::write(&pcap, downloads(&names, None)).unwrap();
    let out = ftpscope(
        &[
            "-r",
            pcap.to_str().unwrap(),
            "--json",
            "-x",
            out_dir.to_str().unwrap(),
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let records = json_records(&out.stdout);
    let transfers = of_type(&records, "transfer");
    assert_eq!(transfers.len(), names.len());
    let root = out_dir.canonicalize().unwrap();
    let mut files = Vec::new();
    for (i, t) in transfers.iter().enumerate() {
        let file = Path::new(t["file"].as_str().unwrap_or_else(|| panic!("no file: {t}")));
        let real = file.canonicalize().unwrap();
        assert!(
            real.starts_with(&root),
            "{} escaped {}",
            real.display(),
            root.display()
        );
        assert_eq!(
            std::fs::read(&real).unwrap(),
            format!("file {i}\n").as_bytes()
        );
        let rel = real
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for part in rel.split('/') {
            assert!(part.len() <= 255 && !part.is_empty());
            assert!(!part.chars().any(|c| c.is_control()), "{part:?}");
        }
        files.push(rel);
    }
    assert_eq!(
        std::fs::read(out_dir.join("session-1/etc/shadow")).unwrap(),
        b"precious",
        "an existing file was overwritten"
    );
    let want = [
        "session-1/etc/passwd",
        "session-1/etc/shadow (2)",
        "session-1/boot.ini",
        "session-1/a%00b.txt",
        "session-1/cr%0Dname",
        "session-1/%1B[2J%1B]0;owned%07.txt",
    ];
    assert_eq!(&files[..want.len()], want);
    assert!(
        files[6].starts_with("session-1/LLLLLLLL") && files[6].contains('~'),
        "{}",
        files[6]
    );
    assert_eq!(files[7], "session-1/_CON");
    assert_eq!(files[8], "session-1/_nul.txt");
    assert_eq!(
        files[9], "session-1/\u{ff0f}etc\u{ff0f}passwd",
        "look-alikes stay one name"
    );
    assert_eq!(files[10], "session-1/\u{2025}/\u{2025}/up");
    assert_eq!(files[11], "session-1/evil%E2%80%AEtxt.exe");
    assert_eq!(files[12], "session-1/a");
    assert_eq!(
        files[13], "session-1/a_b",
        "a file stands where a folder is needed"
    );
}

/// A tmpfs of `kib` KiB mounted at `dir`, or None where mounting is not allowed.
fn tiny_tmpfs(dir: &Path, kib: u32) -> Option<TmpfsGuard> {
    if std::env::var_os("FTPSCOPE_TEST_NO_MOUNT").is_some() {
        return None;
    }
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
        .arg(dir)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| TmpfsGuard(dir.to_path_buf()))
}

struct TmpfsGuard(PathBuf);

impl Drop for TmpfsGuard {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// The disk fills up during a transfer: a tiny tmpfs where this runs as root (CI), else a
/// file size limit (`ulimit -f`, with SIGXFSZ ignored so writes fail with EFBIG instead).
#[test]
fn extraction_on_a_full_disk_fails_clearly_and_keeps_the_report() {
    let big = pattern(400_000, 11);
    let mut w = Wire::default();
    let mut c = w.connect("10.0.0.1:40000", "10.0.0.2:21", 1, 2);
    w.server(&mut c, b"220 hi\r\n");
    w.client(&mut c, b"PASV\r\n");
    w.server(&mut c, b"227 Entering Passive Mode (10,0,0,2,19,137).\r\n");
    let mut d = w.connect("10.0.0.1:40001", "10.0.0.2:5001", 1, 2);
    w.client(&mut c, b"RETR big.bin\r\n");
    for part in big.chunks(1400) {
        w.server(&mut d, part);
    }
    w.close(&mut d, false);
    w.server(&mut c, b"226 ok\r\n");
    w.close(&mut c, true);
    let tmp = temp("full");
    let dir = tmp.path();
    let pcap = dir.join("in.pcap");
    std::fs::write(&pcap, w.pcap()).unwrap();
    let disk = dir.join("disk");
    std::fs::create_dir_all(&disk).unwrap();
    let out_dir = disk.join("out");
    let mounted = tiny_tmpfs(&disk, 128);
    let args = [
        "-r",
        pcap.to_str().unwrap(),
        "--json",
        "-x",
        out_dir.to_str().unwrap(),
    ];
    let out = if mounted.is_some() {
        ftpscope(&args, None)
    } else {
        Command::new("sh")
            .arg("-c")
            .arg("trap '' XFSZ; ulimit -f 128; exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_ftpscope"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("extraction incomplete: cannot write")
            && (stderr.contains("No space left on device") || stderr.contains("File too large")),
        "{stderr}"
    );
    let records = json_records(&out.stdout);
    let t = of_type(&records, "transfer");
    assert_eq!(t.len(), 1, "the report is still written");
    assert_eq!(t[0]["status"], "complete", "the transfer itself was whole");
    assert_eq!(t[0]["sha256"], sha256_hex(&big).as_str());
    assert!(
        t[0]["file"].is_null(),
        "no partial file passed off as the transfer"
    );
    assert!(
        t[0]["file_error"]
            .as_str()
            .unwrap()
            .contains("cannot write")
    );
    assert_eq!(of_type(&records, "summary").len(), 1);
    // Nothing partial is left where a file would be taken for the transfer.
    let leftovers: Vec<_> = walk(&out_dir)
        .into_iter()
        .filter(|p| !p.ends_with("index.jsonl"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    drop(mounted);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// As root, permissions do not stop writes; a folder under /proc can never be created. The
/// folder is checked before the first packet is read: the run fails at once, analyses nothing.
#[test]
fn extraction_into_an_unusable_folder_fails_at_once() {
    let (w, _) = download_session();
    let out = ftpscope(
        &["-r", "-", "--json", "-x", "/proc/ftpscope-cannot-be-here"],
        Some(&w.pcap()),
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert_eq!(
        stderr,
        "ftpscope: cannot extract: cannot create /proc/ftpscope-cannot-be-here: No such file or \
         directory (os error 2)\n"
    );
    assert!(out.stdout.is_empty(), "nothing analysed");
}

// ---------------------------------------------------------------------------------------------
// Safe display (the real binary)

const OSC: &[u8] = b"\x1b]0;owned\x07";
const CLEAR: &[u8] = b"\x1b[2J";

/// Escape sequences in the user name, the password, paths, replies, file names and a
/// directory from a multi-line 250 reply; C1 controls and a bidi override too.
fn hostile_display_capture() -> Vec<u8> {
    let mut w = Wire::default();
    let mut c = w.connect("10.0.0.1:40000", "10.0.0.2:21", 1, 2);
    w.server(&mut c, &[b"220 ", OSC, b"welcome", CLEAR, b"\r\n"].concat());
    w.client(&mut c, &[b"USER ", OSC, b"root", CLEAR, b"\r\n"].concat());
    w.server(&mut c, &[b"331 ", CLEAR, b"\r\n"].concat());
    w.client(&mut c, &[b"PASS ", OSC, b"\r\n"].concat());
    w.server(
        &mut c,
        &[
            b"230-",
            OSC,
            b"\r\n",
            CLEAR,
            b"inner\r\n230 ",
            "\u{9b}31m\u{202e}".as_bytes(),
            b"\r\n",
        ]
        .concat(),
    );
    w.client(&mut c, &[b"CWD ", CLEAR, b"\r\n"].concat());
    w.server(
        &mut c,
        &[b"250-\"/", OSC, b"\r\ndir\" is current\r\n250 ok\r\n"].concat(),
    );
    w.client(&mut c, b"PASV\r\n");
    w.server(
        &mut c,
        &[
            b"227 Entering Passive Mode (10,0,0,2,19,137) ",
            OSC,
            b"\r\n",
        ]
        .concat(),
    );
    let mut d = w.connect("10.0.0.1:40001", "10.0.0.2:5001", 1, 2);
    w.client(&mut c, &[b"RETR ", CLEAR, b"file", OSC, b"\r\n"].concat());
    w.server(&mut c, &[b"150 ", OSC, b"\r\n"].concat());
    w.server(&mut d, &[OSC, CLEAR].concat());
    w.close(&mut d, false);
    w.server(&mut c, &[b"226 ", OSC, b"\r\n"].concat());
    w.client(&mut c, &[b"PORT 1,2,3,", OSC, b"\r\n"].concat()); // address_malformed detail
    w.server(&mut c, &[OSC, b" no code\r\n"].concat()); // reply_malformed detail
    w.client(&mut c, &[CLEAR, b"\r\n"].concat()); // command_malformed detail
    w.close(&mut c, true);
    let mut pcap = w.pcap();
    pcap.extend_from_slice(OSC); // damage at the end
    pcap
}

fn assert_no_raw_controls(bytes: &[u8], what: &str) {
    targets::assert_terminal_safe(bytes, what);
    assert!(!bytes.contains(&0x1b) && !bytes.contains(&0x07), "{what}");
}

#[test]
fn display_nothing_from_the_wire_reaches_the_terminal_raw() {
    let capture = hostile_display_capture();
    let tmp = temp("display");
    let dir = tmp.path();
    let out_dir = dir.join("out");
    for args in [
        vec!["-r", "-"],
        vec!["-r", "-", "--show-passwords"],
        vec!["-r", "-", "--json"],
        vec!["-r", "-", "--json", "--report", "--show-passwords"],
        vec!["-r", "-", "--json", "-x", out_dir.to_str().unwrap()],
    ] {
        let out = ftpscope(&args, Some(&capture));
        assert_eq!(out.status.code(), Some(3), "{args:?}: damaged input");
        assert!(!out.stdout.is_empty());
        assert_no_raw_controls(&out.stdout, &format!("stdout of {args:?}"));
        assert_no_raw_controls(&out.stderr, &format!("stderr of {args:?}"));
    }
    let report = String::from_utf8(ftpscope(&["-r", "-"], Some(&capture)).stdout).unwrap();
    assert!(
        report.contains("\\x1b]0;owned\\x07root\\x1b[2J"),
        "user names shown escaped"
    );
    // JSON keeps the exact text, escaped by JSON itself.
    let json = json_records(&ftpscope(&["-r", "-", "--json"], Some(&capture)).stdout);
    let session = &of_type(&json, "session")[0];
    assert_eq!(session["user"], "\u{1b}]0;owned\u{7}root\u{1b}[2J");
    // Extracted names carry no control character either.
    for f in walk(&out_dir) {
        let name = f.to_string_lossy();
        assert!(!name.chars().any(|c| c.is_control()), "{name:?}");
    }
    // Error messages: names given on the command line are escaped too.
    let missing = ftpscope(&["-r", "/nonexistent/\x1b]0;x\x07.pcap"], None);
    assert_eq!(missing.status.code(), Some(1));
    assert_no_raw_controls(&missing.stderr, "open error");
    assert!(String::from_utf8_lossy(&missing.stderr).contains("\\x1b]0;x\\x07.pcap"));
    let bad_dir = ftpscope(&["-r", "-", "-x", "/proc/\x1b[2J"], Some(&capture));
    assert_no_raw_controls(&bad_dir.stderr, "extraction error");
}

// ---------------------------------------------------------------------------------------------
// Fuzz regressions

/// Every input a fuzz target once crashed on, committed under fuzz/regressions/<target>/,
/// runs clean through the same target.
#[test]
fn fuzz_regressions_replay_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut replayed = 0;
    for dir in std::fs::read_dir(&root).unwrap().flatten() {
        let name = dir.file_name().to_string_lossy().into_owned();
        let target = targets::target(&name).unwrap_or_else(|| panic!("no fuzz target {name}"));
        for file in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let input = std::fs::read(file.path()).unwrap();
            target(&input);
            replayed += 1;
        }
    }
    assert!(replayed >= 3, "{replayed} regressions");
    // And the seeds every target starts from.
    for (name, seed) in targets::DICT_SEEDS {
        targets::target(name).unwrap()(seed);
    }
}
