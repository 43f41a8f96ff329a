//! ftpscope-gen: writes a large, deterministic pcap of realistic FTP traffic for the benchmarks
//! (`cargo bench --bench compare`, BENCHMARKS.md), and a manifest with the sha256 of every file
//! and listing it put on the wire.
//!
//! What the capture holds: many FTP sessions running side by side (`--concurrent` at a time),
//! each with a TCP handshake, a login, SYST/PWD/TYPE/CWD, then downloads (RETR, some after SIZE),
//! uploads (STOR) and listings (LIST), each over a data connection announced by PASV/227,
//! EPSV/229 or PORT (active mode: the server connects from port 20), then QUIT and FINs. Frames
//! are Ethernet/IPv4/TCP with valid checksums, data segments of 1460 bytes (1514-byte frames),
//! the receiver acknowledging every second segment; a few segments are swapped with the next
//! (reordering) or sent twice (retransmission). File sizes run from one byte to `--max-file`
//! (hundreds of MiB by default), most of them small, most bytes in the big ones.
//!
//! It streams: memory holds the sessions in flight and one flight of segments, never a file.
//! Everything comes from `--seed`: the same flags give the same bytes.
//!
//! `--ftps [SUITE]` makes every session explicit FTPS (RFC 4217): `AUTH TLS`, `234`, a TLS
//! handshake on the control connection, `PBSZ 0` and `PROT P` after the login, then every data
//! connection opens with a TLS handshake of its own (the FTP client is the TLS client, also in
//! active mode). TLS 1.3 with TLS_AES_128_GCM_SHA256 by default; `tls13-chacha20`,
//! `tls12-aes128-gcm` and `tls12-chacha20` choose another suite. The handshakes are made of the
//! messages real peers send (ClientHello with SNI, key share and supported versions,
//! ServerHello, a certificate, Finished with its real `verify_data`; in TLS 1.3 the server's
//! messages sealed with the handshake keys, a NewSessionTicket after them), and the secrets are
//! chosen by the generator (random, from the seed) instead of agreed by a key exchange. Data
//! goes in full 16 KiB records, control lines one per record, each side sends close_notify
//! before its FIN. The NSS key log of every connection is written beside the capture
//! (`FILE.keys` unless `--keys` says otherwise). With the same seed and size, the files,
//! their contents and the manifest's sha256 are those of the clear capture: the same workload,
//! clear or protected. Sealing uses `ftpscope_tls::testing` (RustCrypto ciphers and the engine's
//! key schedule): nothing cryptographic is written here.
//!
//! `--syn-flood N` writes something else: N unanswered SYNs to port 21, for the memory figure of
//! a SYN flood (docs/security.md, "Hostile input").
//!
//! The manifest (`FILE.manifest.jsonl` unless `--manifest` says otherwise) has one line per
//! file or listing, `{"type":"file", "session", "command", "path", "mode", "announced_by",
//! "bytes", "sha256"}` (`sha256` is the plaintext's, also with `--ftps`), then one
//! `{"type":"summary", ...}` line with the frame and byte counts (and, with `--ftps`, the
//! cipher suite and the key log's path).

use clap::{Parser, ValueEnum};
use ftpscope_tls::testing::{
    self as tls, Sealer, change_cipher_spec, client_hello, handshake, record, server_hello,
};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Writes a deterministic pcap of FTP traffic and a manifest of the sha256 of every file in it.
#[derive(Debug, Parser)]
#[command(name = "ftpscope-gen")]
struct Args {
    /// The capture to write.
    #[arg(short, long, value_name = "FILE")]
    out: PathBuf,
    /// The manifest to write (default: FILE.manifest.jsonl).
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// Approximate capture size: a number with an optional K, M, G or T suffix (powers of 1024).
    #[arg(short, long, default_value = "1G", value_parser = parse_size)]
    size: u64,
    /// Exact number of FTP sessions (default: as many as the size needs). With this flag the
    /// size is approximate: the sessions share it, and files shrink to fit.
    #[arg(long)]
    sessions: Option<u64>,
    /// Sessions in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrent: usize,
    /// Largest file (K, M, G suffixes); never more than an eighth of the capture.
    #[arg(long, default_value = "256M", value_parser = parse_size)]
    max_file: u64,
    /// Data segments (per thousand) swapped with the next one.
    #[arg(long, default_value_t = 2)]
    reorder_permille: u32,
    /// Data segments (per thousand) sent a second time.
    #[arg(long, default_value_t = 1)]
    retransmit_permille: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Instead of FTP traffic: this many SYNs to port 21 of one server, each from its own
    /// source address and port, a microsecond apart, none answered (a SYN flood, for the
    /// memory figure in docs/security.md, "Hostile input"). No manifest is written.
    #[arg(long, value_name = "N")]
    syn_flood: Option<u32>,
    /// Explicit FTPS (AUTH TLS, PROT P) with this TLS version and suite; the NSS key log goes
    /// to FILE.keys.
    #[arg(long, value_enum, value_name = "SUITE", num_args = 0..=1,
          default_missing_value = "tls13-aes128-gcm")]
    ftps: Option<TlsSuite>,
    /// The key log to write with `--ftps` (default: FILE.keys).
    #[arg(long, value_name = "FILE")]
    keys: Option<PathBuf>,
    /// Say nothing on standard error.
    #[arg(short, long)]
    quiet: bool,
}

/// The TLS of `--ftps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TlsSuite {
    /// TLS 1.3, TLS_AES_128_GCM_SHA256.
    Tls13Aes128Gcm,
    /// TLS 1.3, TLS_CHACHA20_POLY1305_SHA256.
    Tls13Chacha20,
    /// TLS 1.2, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256.
    Tls12Aes128Gcm,
    /// TLS 1.2, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256.
    Tls12Chacha20,
}

impl TlsSuite {
    fn id(self) -> u16 {
        match self {
            TlsSuite::Tls13Aes128Gcm => 0x1301,
            TlsSuite::Tls13Chacha20 => 0x1303,
            TlsSuite::Tls12Aes128Gcm => 0xC02B,
            TlsSuite::Tls12Chacha20 => 0xCCA9,
        }
    }

    fn tls13(self) -> bool {
        matches!(self, TlsSuite::Tls13Aes128Gcm | TlsSuite::Tls13Chacha20)
    }
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("unknown size suffix {c:?}")),
            };
            (&s[..i], m)
        }
        _ => (s, 1),
    };
    let n: f64 = num.parse().map_err(|_| format!("not a size: {s:?}"))?;
    if n.is_nan() || n <= 0.0 {
        return Err(format!("size must be positive: {s:?}"));
    }
    Ok((n * mult as f64) as u64)
}

// ---------------------------------------------------------------------------------------------
// Randomness: wyrand, small and fast, fully determined by the seed.

#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut r = Rng(seed ^ 0x5851_f42d_4c95_7f2d);
        r.next();
        r
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.0) * u128::from(self.0 ^ 0xe703_7ed1_a0b4_28db);
        (t as u64) ^ ((t >> 64) as u64)
    }
    /// Uniform in `0..n` (0 when n is 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < u64::from(per_mille)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Log-uniform in `lo..=hi`: as many files of 10-100 bytes as of 10-100 MiB.
    fn log_uniform(&mut self, lo: u64, hi: u64) -> u64 {
        let (l, h) = ((lo.max(1) as f64).ln(), (hi.max(lo).max(1) as f64).ln());
        ((l + (h - l) * self.unit()).exp() as u64).clamp(lo, hi.max(lo))
    }
    fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.next().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        let last = self.next().to_le_bytes();
        let n = rest.len();
        rest.copy_from_slice(&last[..n]);
    }
}

// ---------------------------------------------------------------------------------------------
// Frames: Ethernet + IPv4 + TCP, written as classic pcap records (microsecond timestamps).

const MSS: usize = 1460;
/// Data segments sent per scheduling step of a transfer.
const FLIGHT: usize = 16;
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;
/// 2024-01-01T00:00:00Z: where the capture's clock starts.
const EPOCH_NS: u64 = 1_704_067_200_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ep {
    ip: [u8; 4],
    port: u16,
}

struct Pcap<W: Write> {
    out: W,
    /// Capture clock, in nanoseconds since EPOCH_NS.
    clock: u64,
    frames: u64,
    bytes: u64,
    buf: Vec<u8>,
}

/// Ones' complement sum of `data` as big-endian 16-bit words (odd length padded with zero),
/// added to `acc`; fold with [`fold`].
fn sum_words(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        acc += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
    }
    let rest = chunks.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    acc + u64::from(u32::from_be_bytes(tail))
}

fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

impl<W: Write> Pcap<W> {
    fn new(mut out: W) -> io::Result<Self> {
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        header.extend_from_slice(&2u16.to_le_bytes());
        header.extend_from_slice(&4u16.to_le_bytes());
        header.extend_from_slice(&0i32.to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        header.extend_from_slice(&65535u32.to_le_bytes());
        header.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
        out.write_all(&header)?;
        Ok(Pcap {
            out,
            clock: 0,
            frames: 0,
            bytes: 24,
            buf: Vec::with_capacity(2048),
        })
    }

    /// Lets `ns` of capture time pass (a round trip, a client thinking).
    fn wait(&mut self, ns: u64) {
        self.clock += ns;
    }

    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &mut self,
        src: Ep,
        dst: Ep,
        ip_id: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        payload: &[u8],
    ) -> io::Result<()> {
        let opts: &[u8] = if flags & SYN != 0 {
            &[2, 4, (MSS >> 8) as u8, MSS as u8] // MSS option
        } else {
            &[]
        };
        let tcp_len = 20 + opts.len() + payload.len();
        let ip_len = 20 + tcp_len;
        let frame_len = 14 + ip_len;
        let ts = EPOCH_NS + self.clock;
        let b = &mut self.buf;
        b.clear();
        b.extend_from_slice(&((ts / 1_000_000_000) as u32).to_le_bytes());
        b.extend_from_slice(&((ts % 1_000_000_000 / 1000) as u32).to_le_bytes());
        b.extend_from_slice(&(frame_len as u32).to_le_bytes());
        b.extend_from_slice(&(frame_len as u32).to_le_bytes());
        // Ethernet: locally administered MACs made from the IP addresses.
        b.extend_from_slice(&[0x02, 0x00]);
        b.extend_from_slice(&dst.ip);
        b.extend_from_slice(&[0x02, 0x00]);
        b.extend_from_slice(&src.ip);
        b.extend_from_slice(&[0x08, 0x00]);
        // IPv4, don't fragment, TTL 64.
        let ip_at = b.len();
        b.extend_from_slice(&[0x45, 0]);
        b.extend_from_slice(&(ip_len as u16).to_be_bytes());
        b.extend_from_slice(&ip_id.to_be_bytes());
        b.extend_from_slice(&[0x40, 0, 64, 6, 0, 0]);
        b.extend_from_slice(&src.ip);
        b.extend_from_slice(&dst.ip);
        let csum = fold(sum_words(0, &b[ip_at..ip_at + 20]));
        b[ip_at + 10..ip_at + 12].copy_from_slice(&csum.to_be_bytes());
        // TCP.
        let tcp_at = b.len();
        b.extend_from_slice(&src.port.to_be_bytes());
        b.extend_from_slice(&dst.port.to_be_bytes());
        b.extend_from_slice(&seq.to_be_bytes());
        b.extend_from_slice(&(if flags & ACK != 0 { ack } else { 0 }).to_be_bytes());
        b.extend_from_slice(&[(((20 + opts.len()) / 4) << 4) as u8, flags]);
        b.extend_from_slice(&64240u16.to_be_bytes());
        b.extend_from_slice(&[0, 0, 0, 0]);
        b.extend_from_slice(opts);
        b.extend_from_slice(payload);
        let mut pseudo = [0u8; 12];
        pseudo[..4].copy_from_slice(&src.ip);
        pseudo[4..8].copy_from_slice(&dst.ip);
        pseudo[9] = 6;
        pseudo[10..12].copy_from_slice(&(tcp_len as u16).to_be_bytes());
        let csum = fold(sum_words(sum_words(0, &pseudo), &b[tcp_at..]));
        b[tcp_at + 16..tcp_at + 18].copy_from_slice(&csum.to_be_bytes());
        self.out.write_all(b)?;
        self.frames += 1;
        self.bytes += b.len() as u64;
        // 1 Gbit/s: 8 ns a byte, with preamble, FCS and inter-frame gap.
        self.clock += (frame_len as u64 + 24) * 8;
        Ok(())
    }
}

/// One TCP connection: `a` opened it, `b` accepted.
#[derive(Debug)]
struct Conn {
    a: Ep,
    b: Ep,
    /// Next sequence number each side sends.
    next: [u32; 2],
    ip_id: [u16; 2],
}

const A: usize = 0;
const B: usize = 1;

impl Conn {
    fn new(a: Ep, b: Ep, rng: &mut Rng) -> Self {
        Conn {
            a,
            b,
            next: [rng.next() as u32, rng.next() as u32],
            ip_id: [rng.next() as u16, rng.next() as u16],
        }
    }

    fn ends(&self, from: usize) -> (Ep, Ep) {
        if from == A {
            (self.a, self.b)
        } else {
            (self.b, self.a)
        }
    }

    /// A segment from `from` at sequence number `seq`, acknowledging everything the peer sent.
    fn segment<W: Write>(
        &mut self,
        p: &mut Pcap<W>,
        from: usize,
        seq: u32,
        flags: u8,
        payload: &[u8],
    ) -> io::Result<()> {
        let (src, dst) = self.ends(from);
        let id = self.ip_id[from];
        self.ip_id[from] = id.wrapping_add(1);
        p.tcp(src, dst, id, seq, self.next[1 - from], flags, payload)
    }

    fn open<W: Write>(&mut self, p: &mut Pcap<W>) -> io::Result<()> {
        let (isn_a, isn_b) = (self.next[A], self.next[B]);
        self.segment(p, A, isn_a, SYN, &[])?;
        self.next[A] = isn_a.wrapping_add(1);
        p.wait(60_000);
        self.segment(p, B, isn_b, SYN | ACK, &[])?;
        self.next[B] = isn_b.wrapping_add(1);
        p.wait(60_000);
        self.segment(p, A, self.next[A], ACK, &[])
    }

    fn send<W: Write>(&mut self, p: &mut Pcap<W>, from: usize, payload: &[u8]) -> io::Result<()> {
        let seq = self.next[from];
        self.next[from] = seq.wrapping_add(payload.len() as u32);
        self.segment(p, from, seq, PSH | ACK, payload)
    }

    fn ack<W: Write>(&mut self, p: &mut Pcap<W>, from: usize) -> io::Result<()> {
        self.segment(p, from, self.next[from], ACK, &[])
    }

    /// `first` closes, the peer closes too, `first` acknowledges.
    fn close<W: Write>(&mut self, p: &mut Pcap<W>, first: usize) -> io::Result<()> {
        let seq = self.next[first];
        self.segment(p, first, seq, FIN | ACK, &[])?;
        self.next[first] = seq.wrapping_add(1);
        p.wait(60_000);
        let other = 1 - first;
        let seq = self.next[other];
        self.segment(p, other, seq, FIN | ACK, &[])?;
        self.next[other] = seq.wrapping_add(1);
        p.wait(60_000);
        self.ack(p, first)
    }
}

// ---------------------------------------------------------------------------------------------
// TLS for `--ftps`: handshakes of real messages, records sealed by the engine's test helpers.

/// Plaintext bytes per data record: full records, as OpenSSL writes a large buffer.
const RECORD: usize = 16 << 10;
const APPLICATION_DATA: u8 = 23;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const SNI: &str = "ftp.example.net";

/// The server's certificate: a self-signed P-256 one made once with
/// `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj
/// "/CN=ftp.example.net/O=ftpscope benchmark" -days 3650 -nodes`.
const CERT_PEM: &str = "\
MIIBwjCCAWmgAwIBAgIUAqPTV1p6a0WlyP78U6OgxmG2TecwCgYIKoZIzj0EAwIw\
NzEYMBYGA1UEAwwPZnRwLmV4YW1wbGUubmV0MRswGQYDVQQKDBJmdHBzY29wZSBi\
ZW5jaG1hcmswHhcNMjYxMjA2MDk1MDA2WhcNMzYxMjAzMDk1MDA2WjA3MRgwFgYD\
VQQDDA9mdHAuZXhhbXBsZS5uZXQxGzAZBgNVBAoMEmZ0cHNjb3BlIGJlbmNobWFy\
azBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABEVQCTymJtSCNPLK/c4Qj9hYGNoI\
zx912ytk3zsh/Gd64eiAnUeRhWSBWw3jB6Q5cKojPyE+N1JBom9yCVwaZPWjUzBR\
MB0GA1UdDgQWBBRm4HsAF8Hmw7Mg1hwUUEQWxmLziTAfBgNVHSMEGDAWgBRm4HsA\
F8Hmw7Mg1hwUUEQWxmLziTAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0cA\
MEQCIDRl0KvTAmgLLWwASHfF5IjZZYFJx+v2J3Sgjmcaaq39AiAOh7QV8+ZNaEhn\
h9lt7LXjE4G7LpsrTr6EB3OkG43Qgw==";

fn cert_der() -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(CERT_PEM)
        .unwrap_or_default()
}

fn u16_prefixed(body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

fn u24(n: usize) -> [u8; 3] {
    let b = (n as u32).to_be_bytes();
    [b[1], b[2], b[3]]
}

fn random<const N: usize>(rng: &mut Rng) -> [u8; N] {
    let mut b = [0u8; N];
    rng.fill(&mut b);
    b
}

fn hex_of(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// One connection's handshake, flight by flight, and its application-data sealers.
struct Handshake {
    /// ClientHello.
    client1: Vec<u8>,
    /// TLS 1.3: ServerHello, ChangeCipherSpec, {EncryptedExtensions, Certificate,
    /// CertificateVerify, Finished}. TLS 1.2: ServerHello, Certificate, ServerKeyExchange,
    /// ServerHelloDone.
    server1: Vec<u8>,
    /// TLS 1.3: ChangeCipherSpec, {Finished}. TLS 1.2: ClientKeyExchange, ChangeCipherSpec,
    /// {Finished}.
    client2: Vec<u8>,
    /// TLS 1.3: {NewSessionTicket}. TLS 1.2: ChangeCipherSpec, {Finished}.
    server2: Vec<u8>,
    client: Sealer,
    server: Sealer,
}

/// The handshake message inside a one-message record made by the test helpers.
fn message_of(rec: &[u8]) -> &[u8] {
    &rec[5..]
}

/// Builds a handshake of `suite` with fresh randoms and secrets, and appends its key log lines.
fn tls_handshake(suite: TlsSuite, rng: &mut Rng, keylog: &mut String) -> Option<Handshake> {
    let id = suite.id();
    let (cr, sr) = (random::<32>(rng), random::<32>(rng));
    let session_id = random::<32>(rng);
    let (client_share, server_share) = (random::<32>(rng), random::<32>(rng));
    let der = cert_der();
    let sni = {
        let mut name = vec![0u8];
        name.extend_from_slice(&u16_prefixed(SNI.as_bytes()));
        u16_prefixed(&name)
    };
    // x25519, secp256r1; ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256.
    let groups = u16_prefixed(&[0, 0x1d, 0, 0x17]);
    let sigalgs = u16_prefixed(&[4, 3, 8, 4, 4, 1]);
    // A signature's worth of bytes: nobody checks it (the key log gives the secrets).
    let signature = {
        let mut s = vec![4, 3];
        s.extend_from_slice(&u16_prefixed(&random::<72>(rng)));
        s
    };
    let offered = [0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xCCA9, 0xCCA8];
    if suite.tls13() {
        let key_share = |share: &[u8]| {
            let mut e = vec![0, 0x1d];
            e.extend_from_slice(&u16_prefixed(share));
            e
        };
        let client1 = client_hello(
            &cr,
            &session_id,
            &offered,
            &[
                (0, sni),
                (10, groups),
                (13, sigalgs),
                (43, vec![4, 3, 4, 3, 3]),
                (45, vec![1, 1]),
                (51, u16_prefixed(&key_share(&client_share))),
            ],
        );
        let hello = server_hello(
            &sr,
            &session_id,
            id,
            &[(43, vec![3, 4]), (51, key_share(&server_share))],
        );
        let secrets: [[u8; 32]; 4] = [random(rng), random(rng), random(rng), random(rng)];
        let [chs, shs, cts, sts] = &secrets;
        for (label, secret) in [
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            "CLIENT_TRAFFIC_SECRET_0",
            "SERVER_TRAFFIC_SECRET_0",
        ]
        .iter()
        .zip(&secrets)
        {
            let _ = writeln!(keylog, "{label} {} {}", hex_of(&cr), hex_of(secret));
        }
        let mut transcript = message_of(&client1).to_vec();
        transcript.extend_from_slice(message_of(&hello));
        // EncryptedExtensions (empty), Certificate (RFC 8446 §4.4.2), CertificateVerify.
        let mut flight = handshake(8, &[0, 0]);
        let mut cert = vec![0u8];
        cert.extend_from_slice(&u24(3 + der.len() + 2));
        cert.extend_from_slice(&u24(der.len()));
        cert.extend_from_slice(&der);
        cert.extend_from_slice(&[0, 0]);
        flight.extend(handshake(11, &cert));
        flight.extend(handshake(15, &signature));
        transcript.extend_from_slice(&flight);
        let finished = tls::tls13_finished(id, shs, &transcript).unwrap_or_default();
        let finished = handshake(20, &finished);
        flight.extend_from_slice(&finished);
        transcript.extend_from_slice(&finished);
        let mut server_hs = tls::tls13_sealer(id, shs)?;
        let mut server1 = hello;
        server1.extend(change_cipher_spec());
        server_hs.seal_into(HANDSHAKE, &flight, &mut server1);
        let finished = tls::tls13_finished(id, chs, &transcript).unwrap_or_default();
        let mut client_hs = tls::tls13_sealer(id, chs)?;
        let mut client2 = change_cipher_spec();
        client_hs.seal_into(HANDSHAKE, &handshake(20, &finished), &mut client2);
        let client = tls::tls13_sealer(id, cts)?;
        let mut server = tls::tls13_sealer(id, sts)?;
        // NewSessionTicket (RFC 8446 §4.6.1): lifetime, age_add, nonce, ticket, extensions.
        let mut ticket = 7200u32.to_be_bytes().to_vec();
        ticket.extend_from_slice(&random::<4>(rng));
        ticket.extend_from_slice(&[1, 0]);
        ticket.extend_from_slice(&u16_prefixed(&random::<64>(rng)));
        ticket.extend_from_slice(&[0, 0]);
        let mut server2 = Vec::new();
        server.seal_into(HANDSHAKE, &handshake(4, &ticket), &mut server2);
        Some(Handshake {
            client1,
            server1,
            client2,
            server2,
            client,
            server,
        })
    } else {
        let master = random::<48>(rng);
        let _ = writeln!(keylog, "CLIENT_RANDOM {} {}", hex_of(&cr), hex_of(&master));
        let client1 = client_hello(
            &cr,
            &[],
            &offered,
            &[
                (0, sni),
                (10, groups),
                (11, vec![1, 0]),
                (13, sigalgs),
                (23, Vec::new()),
                (0xff01, vec![0]),
            ],
        );
        let hello = server_hello(
            &sr,
            &session_id,
            id,
            &[(23, Vec::new()), (0xff01, vec![0]), (11, vec![1, 0])],
        );
        let mut transcript = message_of(&client1).to_vec();
        // ServerHello, Certificate (RFC 5246 §7.4.2), ServerKeyExchange (RFC 8422 §5.4: named
        // curve x25519, the share, a signature), ServerHelloDone, in one record.
        let mut flight = message_of(&hello).to_vec();
        let mut cert = u24(3 + der.len()).to_vec();
        cert.extend_from_slice(&u24(der.len()));
        cert.extend_from_slice(&der);
        flight.extend(handshake(11, &cert));
        let mut ske = vec![3, 0, 0x1d, 32];
        ske.extend_from_slice(&server_share);
        ske.extend_from_slice(&signature);
        flight.extend(handshake(12, &ske));
        flight.extend(handshake(14, &[]));
        transcript.extend_from_slice(&flight);
        let server1 = record(HANDSHAKE, &flight);
        let mut cke = vec![32u8];
        cke.extend_from_slice(&client_share);
        let cke = handshake(16, &cke);
        transcript.extend_from_slice(&cke);
        let (mut client, mut server) = tls::tls12_sealers(id, &master, &cr, &sr, false)?;
        let finished =
            tls::tls12_finished(id, &master, b"client finished", &transcript).unwrap_or_default();
        let finished = handshake(20, &finished);
        let mut client2 = record(HANDSHAKE, &cke);
        client2.extend(change_cipher_spec());
        client.seal_into(HANDSHAKE, &finished, &mut client2);
        transcript.extend_from_slice(&finished);
        let finished =
            tls::tls12_finished(id, &master, b"server finished", &transcript).unwrap_or_default();
        let mut server2 = change_cipher_spec();
        server.seal_into(HANDSHAKE, &handshake(20, &finished), &mut server2);
        Some(Handshake {
            client1,
            server1,
            client2,
            server2,
            client,
            server,
        })
    }
}

/// The application-data sealers of a connection under TLS.
struct ConnTls {
    client: Sealer,
    server: Sealer,
}

impl Conn {
    /// Sends `bytes` from `from` in segments of at most [`MSS`].
    fn send_all<W: Write>(&mut self, p: &mut Pcap<W>, from: usize, bytes: &[u8]) -> io::Result<()> {
        for piece in bytes.chunks(MSS) {
            self.send(p, from, piece)?;
        }
        Ok(())
    }

    /// A TLS handshake in which side `client` is the TLS client; appends the key log lines.
    fn tls_handshake<W: Write>(
        &mut self,
        p: &mut Pcap<W>,
        client: usize,
        suite: TlsSuite,
        rng: &mut Rng,
        keylog: &mut String,
    ) -> io::Result<ConnTls> {
        let h = tls_handshake(suite, rng, keylog)
            .ok_or_else(|| io::Error::other("the TLS engine cannot seal this suite"))?;
        let server = 1 - client;
        self.send_all(p, client, &h.client1)?;
        p.wait(rng.range(60_000, 200_000));
        self.send_all(p, server, &h.server1)?;
        p.wait(rng.range(60_000, 200_000));
        self.send_all(p, client, &h.client2)?;
        p.wait(rng.range(20_000, 60_000));
        self.send_all(p, server, &h.server2)?;
        Ok(ConnTls {
            client: h.client,
            server: h.server,
        })
    }
}

/// A close_notify alert (RFC 8446 §6.1), sealed.
fn close_notify(sealer: &mut Sealer) -> Vec<u8> {
    let mut out = Vec::new();
    sealer.seal_into(ALERT, &[1, 0], &mut out);
    out
}

// ---------------------------------------------------------------------------------------------
// Sessions: a plan of steps built when the session starts, run a step at a time.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Retr,
    Stor,
    List,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Announce {
    Pasv,
    Epsv,
    Port,
}

#[derive(Debug)]
struct Xfer {
    kind: Kind,
    path: String,
    size: u64,
    seed: u64,
    announce: Announce,
    /// Initiator and responder of the data connection.
    initiator: Ep,
    responder: Ep,
}

#[derive(Debug)]
enum Step {
    Open,
    /// The control connection's TLS handshake (after `234`).
    ControlTls,
    Client(String),
    Server(String),
    /// Opens the next planned transfer's data connection.
    DataOpen,
    /// Sends one flight of the current transfer; stays at the front until all is sent.
    DataSend,
    DataClose,
    Close,
}

enum Source {
    Random(Rng),
    Bytes(Vec<u8>, usize),
}

impl Source {
    /// The next `buf.len()` bytes of the file.
    fn produce(&mut self, buf: &mut [u8]) {
        match self {
            Source::Random(r) => r.fill(buf),
            Source::Bytes(bytes, pos) => {
                buf.copy_from_slice(&bytes[*pos..*pos + buf.len()]);
                *pos += buf.len();
            }
        }
    }
}

/// A data connection under TLS: the sealers of both sides and the ciphertext not yet sent.
struct DataTls {
    sender: Sealer,
    receiver: Sealer,
    /// Plaintext not yet sealed, and ciphertext not yet sent (`sent` bytes of it went).
    plain: Vec<u8>,
    pending: Vec<u8>,
    sent: usize,
}

struct Active {
    xfer: Xfer,
    conn: Conn,
    /// Which side of `conn` sends the bytes.
    sender: usize,
    source: Source,
    left: u64,
    hasher: Sha256,
    tls: Option<DataTls>,
}

struct Session {
    id: u64,
    ctrl: Conn,
    steps: VecDeque<Step>,
    xfers: VecDeque<Xfer>,
    active: Option<Active>,
    rng: Rng,
    /// `--ftps`: the suite, randomness of its own (the plan and the files do not depend on
    /// it), and the control connection's sealers once its handshake is done.
    ftps: Option<TlsSuite>,
    tls_rng: Rng,
    ctrl_tls: Option<ConnTls>,
}

const SERVERS: [(&str, [u8; 4]); 6] = [
    ("220 (vsFTPd 3.0.3)", [192, 0, 2, 10]),
    (
        "220 ProFTPD Server (Debian) [::ffff:192.0.2.11]",
        [192, 0, 2, 11],
    ),
    (
        "220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------\r\n220-You are user number 3 of 50 allowed.\r\n220 This is a private system - No anonymous login",
        [192, 0, 2, 12],
    ),
    ("220 Microsoft FTP Service", [198, 51, 100, 20]),
    ("220 (vsFTPd 3.0.5)", [198, 51, 100, 21]),
    ("220 FileZilla Server 1.8.0", [203, 0, 113, 30]),
];

/// Capture bytes a session costs besides its transfers (handshake, login, dialogue, FINs),
/// what a transfer costs besides its bytes (announcement, command, replies, its own handshake
/// and FINs), and a listing line: what the planner takes from the size budget.
const SESSION_OVERHEAD: i64 = 2500;
const TRANSFER_OVERHEAD: i64 = 1300;
const LISTING_LINE: u64 = 72;

const WORDS: [&str; 16] = [
    "alpha", "backup", "data", "debian", "firmware", "images", "iso", "logs", "mirror", "photos",
    "release", "reports", "src", "tools", "video", "archive",
];
const EXTS: [&str; 8] = ["bin", "tar.gz", "iso", "zip", "txt", "pdf", "jpg", "deb"];

struct Planner {
    rng: Rng,
    /// Payload bytes still to plan.
    budget: i64,
    /// Largest file.
    max_file: u64,
    /// Sessions still to start when their number is fixed.
    sessions_left: Option<u64>,
    started: u64,
    /// Next passive port per server.
    pasv_port: [u16; SERVERS.len()],
    ftps: Option<TlsSuite>,
}

impl Planner {
    fn more(&self) -> bool {
        match self.sessions_left {
            Some(n) => n > 0,
            None => self.budget > 0,
        }
    }

    /// How big the next file may be: the budget shared among the sessions still to come.
    fn file_size(&mut self, share: u64) -> u64 {
        let cap = self.max_file.min(share.saturating_mul(4).max(4 << 10));
        let remaining = u64::try_from(self.budget).unwrap_or(0);
        let size = if remaining == 0 {
            self.rng.log_uniform(1, 512)
        } else {
            let roll = self.rng.below(100);
            let (lo, hi) = if roll < 80 {
                (1, 256 << 10)
            } else if roll < 95 {
                (256 << 10, 16 << 20)
            } else {
                (16 << 20, cap)
            };
            self.rng
                .log_uniform(lo.min(cap), hi.min(cap))
                .min(remaining.max(1))
        };
        self.budget -= size as i64;
        size
    }

    fn session(&mut self) -> Session {
        self.started += 1;
        if let Some(n) = self.sessions_left.as_mut() {
            *n -= 1;
        }
        let id = self.started;
        let rng = &mut self.rng;
        let server_index = rng.below(SERVERS.len() as u64) as usize;
        let (greeting, server_ip) = SERVERS[server_index];
        // One client address per session (10.0.0.0/8, in order), so 4-tuples never repeat.
        let client_ip = [10, (id >> 16) as u8, (id >> 8) as u8, id as u8];
        let client = Ep {
            ip: client_ip,
            port: rng.range(32768, 60000) as u16,
        };
        let server = Ep {
            ip: server_ip,
            port: 21,
        };
        let seed = rng.next();
        let ctrl = Conn::new(client, server, rng);
        let mut steps = VecDeque::new();
        steps.push_back(Step::Open);
        steps.push_back(Step::Server(format!("{greeting}\r\n")));
        if self.ftps.is_some() {
            // RFC 4217 §4: TLS from the byte after the 234 reply.
            steps.push_back(Step::Client("AUTH TLS\r\n".into()));
            steps.push_back(Step::Server("234 Proceed with negotiation.\r\n".into()));
            steps.push_back(Step::ControlTls);
        }
        let anonymous = rng.chance(600);
        let (user, pass) = if anonymous {
            ("anonymous".to_string(), format!("guest{id}@example.com"))
        } else {
            (format!("user{}", rng.below(50)), format!("secret-{id}"))
        };
        let exchange = |steps: &mut VecDeque<Step>, cmd: String, reply: String| {
            steps.push_back(Step::Client(format!("{cmd}\r\n")));
            steps.push_back(Step::Server(format!("{reply}\r\n")));
        };
        exchange(
            &mut steps,
            format!("USER {user}"),
            "331 Please specify the password.".into(),
        );
        exchange(
            &mut steps,
            format!("PASS {pass}"),
            "230 Login successful.".into(),
        );
        if self.ftps.is_some() {
            // RFC 4217 §8-9: every later data connection under TLS.
            exchange(&mut steps, "PBSZ 0".into(), "200 PBSZ set to 0.".into());
            exchange(&mut steps, "PROT P".into(), "200 PROT now Private.".into());
        }
        exchange(&mut steps, "SYST".into(), "215 UNIX Type: L8".into());
        exchange(
            &mut steps,
            "PWD".into(),
            "257 \"/\" is the current directory".into(),
        );
        let dir = format!("/pub/{}", WORDS[self.rng.below(16) as usize]);
        exchange(
            &mut steps,
            format!("CWD {dir}"),
            "250 Directory successfully changed.".into(),
        );
        exchange(
            &mut steps,
            "TYPE I".into(),
            "200 Switching to Binary mode.".into(),
        );
        self.budget -= SESSION_OVERHEAD;
        let share = match self.sessions_left {
            Some(n) => u64::try_from(self.budget).unwrap_or(0) / (n + 1),
            None => u64::MAX / 128,
        };
        // Many small sessions (a fixed count in a small capture) do less each.
        let count = if share < 256 << 10 {
            self.rng.range(1, 3)
        } else {
            self.rng.range(1, 8)
        };
        let mut xfers = VecDeque::new();
        let mut client_port = client.port.wrapping_add(1).max(1024);
        for i in 0..count {
            let roll = self.rng.below(100);
            let kind = if i == 0 || roll < 15 {
                Kind::List
            } else if roll < 75 {
                Kind::Retr
            } else {
                Kind::Stor
            };
            self.budget -= TRANSFER_OVERHEAD;
            let size = match kind {
                // For a listing: how many entries it has.
                Kind::List => {
                    let most = (share / (LISTING_LINE * 4)).clamp(3, 200);
                    let entries = self.rng.range(3, most);
                    self.budget -= (entries * LISTING_LINE) as i64;
                    entries
                }
                _ => self.file_size(share),
            };
            let rng = &mut self.rng;
            let name = format!(
                "{}-{}-{i}.{}",
                WORDS[rng.below(16) as usize],
                id,
                EXTS[rng.below(8) as usize]
            );
            let path = match kind {
                Kind::List => String::new(),
                Kind::Retr => name,
                Kind::Stor => format!("/incoming/{name}"),
            };
            let roll = rng.below(100);
            let announce = if roll < 40 {
                Announce::Pasv
            } else if roll < 70 {
                Announce::Epsv
            } else {
                Announce::Port
            };
            client_port = if client_port >= 65000 {
                1024
            } else {
                client_port + 1
            };
            let (initiator, responder, cmd, reply) = match announce {
                Announce::Pasv | Announce::Epsv => {
                    let port = &mut self.pasv_port[server_index];
                    *port = if *port >= 60999 { 50000 } else { *port + 1 };
                    let port = *port;
                    let [a, b, c, d] = server_ip;
                    let (cmd, reply) = if announce == Announce::Pasv {
                        (
                            "PASV".to_string(),
                            format!(
                                "227 Entering Passive Mode ({a},{b},{c},{d},{},{}).",
                                port >> 8,
                                port & 255
                            ),
                        )
                    } else {
                        (
                            "EPSV".to_string(),
                            format!("229 Entering Extended Passive Mode (|||{port}|)"),
                        )
                    };
                    let client = Ep {
                        ip: client_ip,
                        port: client_port,
                    };
                    (
                        client,
                        Ep {
                            ip: server_ip,
                            port,
                        },
                        cmd,
                        reply,
                    )
                }
                Announce::Port => {
                    let [a, b, c, d] = client_ip;
                    let cmd = format!(
                        "PORT {a},{b},{c},{d},{},{}",
                        client_port >> 8,
                        client_port & 255
                    );
                    let client = Ep {
                        ip: client_ip,
                        port: client_port,
                    };
                    let server = Ep {
                        ip: server_ip,
                        port: 20,
                    };
                    (
                        server,
                        client,
                        cmd,
                        "200 PORT command successful. Consider using PASV.".to_string(),
                    )
                }
            };
            let passive = announce != Announce::Port;
            exchange(&mut steps, cmd, reply);
            if kind == Kind::Retr && self.rng.chance(500) {
                exchange(&mut steps, format!("SIZE {path}"), format!("213 {size}"));
            }
            let verb = match kind {
                Kind::Retr => format!("RETR {path}"),
                Kind::Stor => format!("STOR {path}"),
                Kind::List => "LIST".to_string(),
            };
            let preliminary = match kind {
                Kind::Retr => {
                    format!("150 Opening BINARY mode data connection for {path} ({size} bytes).")
                }
                Kind::Stor => "150 Ok to send data.".to_string(),
                Kind::List => "150 Here comes the directory listing.".to_string(),
            };
            let done = match kind {
                Kind::List => "226 Directory send OK.",
                _ => "226 Transfer complete.",
            };
            if passive {
                // The client connects before it sends the command.
                steps.push_back(Step::DataOpen);
                steps.push_back(Step::Client(format!("{verb}\r\n")));
            } else {
                // The server connects once the command came.
                steps.push_back(Step::Client(format!("{verb}\r\n")));
                steps.push_back(Step::DataOpen);
            }
            steps.push_back(Step::Server(format!("{preliminary}\r\n")));
            steps.push_back(Step::DataSend);
            steps.push_back(Step::DataClose);
            steps.push_back(Step::Server(format!("{done}\r\n")));
            let seed = self.rng.next();
            xfers.push_back(Xfer {
                kind,
                path: if kind == Kind::List {
                    dir.clone()
                } else {
                    path
                },
                size,
                seed,
                announce,
                initiator,
                responder,
            });
        }
        exchange(&mut steps, "QUIT".into(), "221 Goodbye.".into());
        steps.push_back(Step::Close);
        Session {
            id,
            ctrl,
            steps,
            xfers,
            active: None,
            rng: Rng::new(seed),
            ftps: self.ftps,
            tls_rng: Rng::new(seed ^ 0x7f15_0000_0000_0001),
            ctrl_tls: None,
        }
    }
}

/// An `ls -l` listing of `entries` made-up files, CRLF-terminated.
fn listing(rng: &mut Rng, entries: u64) -> Vec<u8> {
    let mut out = String::new();
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    for i in 0..entries {
        let dir = rng.chance(150);
        let (mode, links, size) = if dir {
            ("drwxr-xr-x", 2, 4096)
        } else {
            ("-rw-r--r--", 1, rng.log_uniform(1, 1 << 31))
        };
        let month = MONTHS[rng.below(12) as usize];
        let day = rng.range(1, 28);
        let when = if rng.chance(500) {
            format!("{:02}:{:02}", rng.below(24), rng.below(60))
        } else {
            format!(" {}", rng.range(2015, 2023))
        };
        let name = WORDS[rng.below(16) as usize];
        let _ = write!(
            out,
            "{mode}    {links} ftp      ftp {size:>12} {month} {day:>2} {when:>5} {name}-{i}{}\r\n",
            if dir { "" } else { ".bin" }
        );
    }
    out.into_bytes()
}

struct Gen<W: Write, M: Write> {
    pcap: Pcap<W>,
    manifest: M,
    flight: Vec<u8>,
    reorder: u32,
    retransmit: u32,
    files: u64,
    file_bytes: u64,
    /// Key log lines not yet written, and where they go (`--ftps`).
    keylog: String,
    keys: Option<BufWriter<File>>,
}

impl Session {
    /// Runs one step; true when the session is over.
    fn step<W: Write, M: Write>(&mut self, g: &mut Gen<W, M>) -> io::Result<bool> {
        let Some(step) = self.steps.pop_front() else {
            return Ok(true);
        };
        let p = &mut g.pcap;
        match step {
            Step::Open => self.ctrl.open(p)?,
            Step::ControlTls => {
                if let Some(suite) = self.ftps {
                    p.wait(self.rng.range(20_000, 100_000));
                    let t =
                        self.ctrl
                            .tls_handshake(p, A, suite, &mut self.tls_rng, &mut g.keylog)?;
                    self.ctrl_tls = Some(t);
                }
            }
            Step::Client(line) => {
                p.wait(self.rng.range(20_000, 400_000));
                match self.ctrl_tls.as_mut() {
                    Some(t) => {
                        let rec = t.client.seal(APPLICATION_DATA, line.as_bytes());
                        self.ctrl.send_all(p, A, &rec)?;
                    }
                    None => self.ctrl.send(p, A, line.as_bytes())?,
                }
            }
            Step::Server(line) => {
                p.wait(self.rng.range(50_000, 200_000));
                match self.ctrl_tls.as_mut() {
                    Some(t) => {
                        let rec = t.server.seal(APPLICATION_DATA, line.as_bytes());
                        self.ctrl.send_all(p, B, &rec)?;
                    }
                    None => self.ctrl.send(p, B, line.as_bytes())?,
                }
                if self.rng.chance(500) {
                    self.ctrl.ack(p, A)?;
                }
            }
            Step::DataOpen => {
                let Some(xfer) = self.xfers.pop_front() else {
                    return Ok(false);
                };
                let mut conn = Conn::new(xfer.initiator, xfer.responder, &mut self.rng);
                conn.open(p)?;
                let server_sends = xfer.kind != Kind::Stor;
                let passive = xfer.announce != Announce::Port;
                // In passive mode the client is the initiator (A); in active mode the server is.
                let sender = if server_sends == passive { B } else { A };
                // PROT P: the FTP client (the initiator in passive mode) is the TLS client.
                let tls = match self.ftps {
                    Some(suite) => {
                        let client = if passive { A } else { B };
                        p.wait(self.rng.range(20_000, 60_000));
                        let t =
                            conn.tls_handshake(p, client, suite, &mut self.tls_rng, &mut g.keylog)?;
                        let (sender_sealer, receiver_sealer) = if sender == client {
                            (t.client, t.server)
                        } else {
                            (t.server, t.client)
                        };
                        Some(DataTls {
                            sender: sender_sealer,
                            receiver: receiver_sealer,
                            plain: Vec::with_capacity(FLIGHT * MSS + RECORD),
                            pending: Vec::with_capacity(FLIGHT * MSS + 2 * RECORD),
                            sent: 0,
                        })
                    }
                    None => None,
                };
                let mut rng = Rng::new(xfer.seed);
                let (source, left) = if xfer.kind == Kind::List {
                    let bytes = listing(&mut rng, xfer.size);
                    let len = bytes.len() as u64;
                    (Source::Bytes(bytes, 0), len)
                } else {
                    (Source::Random(rng), xfer.size)
                };
                self.active = Some(Active {
                    xfer,
                    conn,
                    sender,
                    source,
                    left,
                    hasher: Sha256::new(),
                    tls,
                });
            }
            Step::DataSend => {
                if let Some(active) = self.active.as_mut()
                    && !send_flight(active, g, &mut self.rng)?
                {
                    self.steps.push_front(Step::DataSend);
                }
            }
            Step::DataClose => {
                if let Some(mut a) = self.active.take() {
                    if let Some(t) = a.tls.as_mut() {
                        // Each side's close_notify before its FIN, the sender's first.
                        let rec = close_notify(&mut t.sender);
                        a.conn.send(&mut g.pcap, a.sender, &rec)?;
                        g.pcap.wait(30_000);
                        let rec = close_notify(&mut t.receiver);
                        a.conn.send(&mut g.pcap, 1 - a.sender, &rec)?;
                    }
                    a.conn.close(&mut g.pcap, a.sender)?;
                    let sha = a.hasher.finalize();
                    let mut hex = String::with_capacity(64);
                    for b in sha {
                        let _ = write!(hex, "{b:02x}");
                    }
                    let x = &a.xfer;
                    let (command, mode, by) = (
                        match x.kind {
                            Kind::Retr => "RETR",
                            Kind::Stor => "STOR",
                            Kind::List => "LIST",
                        },
                        if x.announce == Announce::Port {
                            "active"
                        } else {
                            "passive"
                        },
                        match x.announce {
                            Announce::Pasv => "PASV",
                            Announce::Epsv => "EPSV",
                            Announce::Port => "PORT",
                        },
                    );
                    let bytes = match &a.source {
                        Source::Bytes(b, _) => b.len() as u64,
                        Source::Random(_) => x.size,
                    };
                    writeln!(
                        g.manifest,
                        "{{\"type\":\"file\",\"session\":{},\"command\":\"{command}\",\"path\":\"{}\",\"mode\":\"{mode}\",\"announced_by\":\"{by}\",\"bytes\":{bytes},\"sha256\":\"{hex}\"}}",
                        self.id, x.path
                    )?;
                    g.files += 1;
                    g.file_bytes += bytes;
                }
            }
            Step::Close => {
                p.wait(50_000);
                if let Some(t) = self.ctrl_tls.as_mut() {
                    let rec = close_notify(&mut t.client);
                    self.ctrl.send(p, A, &rec)?;
                    let rec = close_notify(&mut t.server);
                    self.ctrl.send(p, B, &rec)?;
                }
                self.ctrl.close(p, A)?;
                return Ok(true);
            }
        }
        Ok(self.steps.is_empty())
    }
}

/// Sends up to [`FLIGHT`] segments of a transfer, some swapped or repeated, the receiver
/// acknowledging every second one. True when every byte was sent.
fn send_flight<W: Write, M: Write>(
    a: &mut Active,
    g: &mut Gen<W, M>,
    rng: &mut Rng,
) -> io::Result<bool> {
    let want = FLIGHT * MSS;
    let total = match a.tls.as_mut() {
        None => {
            let total = a.left.min(want as u64) as usize;
            g.flight.resize(total, 0);
            a.source.produce(&mut g.flight[..total]);
            a.hasher.update(&g.flight[..total]);
            a.left -= total as u64;
            total
        }
        Some(t) => {
            // Whole records are sealed ahead; a flight takes the next bytes of ciphertext.
            t.pending.drain(..t.sent);
            while t.pending.len() < want && (a.left > 0 || !t.plain.is_empty()) {
                if t.plain.len() < RECORD && a.left > 0 {
                    // Plaintext made in the clear path's pieces: the same bytes, clear or not.
                    let n = a.left.min(want as u64) as usize;
                    let start = t.plain.len();
                    t.plain.resize(start + n, 0);
                    a.source.produce(&mut t.plain[start..]);
                    a.hasher.update(&t.plain[start..]);
                    a.left -= n as u64;
                    continue;
                }
                let n = t.plain.len().min(RECORD);
                t.sender
                    .seal_into(APPLICATION_DATA, &t.plain[..n], &mut t.pending);
                t.plain.drain(..n);
            }
            let total = t.pending.len().min(want);
            g.flight.clear();
            g.flight.extend_from_slice(&t.pending[..total]);
            t.sent = total;
            total
        }
    };
    let segments = total.div_ceil(MSS);
    // The order segments go out in: mostly in order, a few swapped, a few sent twice.
    let mut order: Vec<usize> = (0..segments).collect();
    let mut i = 0;
    while i + 1 < order.len() {
        if rng.chance(g.reorder) {
            order.swap(i, i + 1);
            i += 1;
        }
        i += 1;
    }
    let mut with_dups = Vec::with_capacity(order.len() + 2);
    for &s in &order {
        with_dups.push(s);
        if rng.chance(g.retransmit) {
            with_dups.push(s);
        }
    }
    let base = a.conn.next[a.sender];
    let receiver = 1 - a.sender;
    let mut seen = [false; FLIGHT];
    let mut contiguous = 0;
    for (n, &s) in with_dups.iter().enumerate() {
        let from = s * MSS;
        let to = (from + MSS).min(total);
        let seq = base.wrapping_add(from as u32);
        a.conn
            .segment(&mut g.pcap, a.sender, seq, PSH | ACK, &g.flight[from..to])?;
        seen[s] = true;
        while contiguous < segments && seen[contiguous] {
            contiguous += 1;
        }
        if n % 2 == 1 || n + 1 == with_dups.len() {
            // The receiver acknowledges what it has in order, never more.
            let acked = (contiguous * MSS).min(total) as u32;
            let (src, dst) = a.conn.ends(receiver);
            let id = a.conn.ip_id[receiver];
            a.conn.ip_id[receiver] = id.wrapping_add(1);
            let seq = a.conn.next[receiver];
            g.pcap
                .tcp(src, dst, id, seq, base.wrapping_add(acked), ACK, &[])?;
        }
    }
    a.conn.next[a.sender] = base.wrapping_add(total as u32);
    let unsent = a
        .tls
        .as_ref()
        .map_or(0, |t| t.pending.len() - t.sent + t.plain.len());
    Ok(a.left == 0 && unsent == 0)
}

/// `--syn-flood`: `n` SYNs to 10.0.0.2:21, a microsecond apart, from 10.x.y.z:1024-1279.
fn syn_flood(args: &Args, n: u32) -> io::Result<()> {
    let mut pcap = Pcap::new(BufWriter::with_capacity(4 << 20, File::create(&args.out)?))?;
    let server = Ep {
        ip: [10, 0, 0, 2],
        port: 21,
    };
    for i in 0..n {
        pcap.clock = u64::from(i) * 1000;
        let client = Ep {
            ip: [10, 1 + (i >> 24) as u8, (i >> 16) as u8, (i >> 8) as u8],
            port: 1024 + (i & 0xff) as u16,
        };
        pcap.tcp(
            client,
            server,
            i as u16,
            i.wrapping_mul(2_654_435_761),
            0,
            SYN,
            &[],
        )?;
    }
    pcap.out.flush()?;
    if !args.quiet {
        eprintln!(
            "ftpscope-gen: {}: {} SYNs to {}.{}.{}.{}:{}, {:.1} MB",
            args.out.display(),
            pcap.frames,
            server.ip[0],
            server.ip[1],
            server.ip[2],
            server.ip[3],
            server.port,
            pcap.bytes as f64 / 1e6
        );
    }
    Ok(())
}

fn run(args: &Args) -> io::Result<()> {
    if let Some(n) = args.syn_flood {
        return syn_flood(args, n);
    }
    let started = Instant::now();
    let manifest_path = args.manifest.clone().unwrap_or_else(|| {
        let mut p = args.out.clone().into_os_string();
        p.push(".manifest.jsonl");
        p.into()
    });
    let out = BufWriter::with_capacity(4 << 20, File::create(&args.out)?);
    let manifest = BufWriter::new(File::create(&manifest_path)?);
    let keys_path = args.keys.clone().unwrap_or_else(|| {
        let mut p = args.out.clone().into_os_string();
        p.push(".keys");
        p.into()
    });
    let keys = match args.ftps {
        Some(_) => Some(BufWriter::new(File::create(&keys_path)?)),
        None => None,
    };
    let mut g = Gen {
        pcap: Pcap::new(out)?,
        manifest,
        flight: Vec::with_capacity(FLIGHT * MSS),
        reorder: args.reorder_permille,
        retransmit: args.retransmit_permille,
        files: 0,
        file_bytes: 0,
        keylog: String::new(),
        keys,
    };
    // Payload is about 96% of a capture of full-size frames (headers, ACKs, pcap records).
    let budget = (args.size as f64 * 0.955) as i64;
    let max_file = args.max_file.min(args.size / 8).max(1);
    let mut planner = Planner {
        rng: Rng::new(args.seed),
        budget,
        max_file,
        sessions_left: args.sessions,
        started: 0,
        pasv_port: [50000; SERVERS.len()],
        ftps: args.ftps,
    };
    let mut sched = Rng::new(args.seed.wrapping_mul(31).wrapping_add(7));
    let mut active: Vec<Session> = Vec::new();
    let concurrent = args.concurrent.max(1);
    loop {
        while active.len() < concurrent && planner.more() {
            active.push(planner.session());
        }
        if active.is_empty() {
            break;
        }
        let i = sched.below(active.len() as u64) as usize;
        if active[i].step(&mut g)? {
            active.swap_remove(i);
        }
        if let Some(k) = g.keys.as_mut()
            && !g.keylog.is_empty()
        {
            k.write_all(g.keylog.as_bytes())?;
            g.keylog.clear();
        }
    }
    let Gen {
        mut pcap,
        mut manifest,
        files,
        file_bytes,
        keys,
        ..
    } = g;
    pcap.out.flush()?;
    if let Some(mut k) = keys {
        k.flush()?;
    }
    let tls = match args.ftps {
        Some(suite) => format!(
            ",\"ftps\":\"explicit\",\"cipher_suite\":\"{}\",\"keylog\":\"{}\"",
            ftpscope_tls::suite::suite_name(suite.id()),
            keys_path.display()
        ),
        None => String::new(),
    };
    writeln!(
        manifest,
        "{{\"type\":\"summary\",\"seed\":{},\"frames\":{},\"bytes\":{},\"sessions\":{},\"files\":{files},\"file_bytes\":{file_bytes},\"duration_s\":{:.6}{tls}}}",
        args.seed,
        pcap.frames,
        pcap.bytes,
        planner.started,
        pcap.clock as f64 / 1e9
    )?;
    manifest.flush()?;
    if !args.quiet {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "ftpscope-gen: {}: {} frames, {:.1} MB, {} sessions, {files} files and listings ({:.1} MB) in {secs:.2} s ({:.0} MB/s); manifest {}",
            args.out.display(),
            pcap.frames,
            pcap.bytes as f64 / 1e6,
            planner.started,
            file_bytes as f64 / 1e6,
            pcap.bytes as f64 / 1e6 / secs,
            manifest_path.display()
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ftpscope-gen: {e}");
            ExitCode::FAILURE
        }
    }
}
