//! Decryption speed through `TlsConnection::push`:
//! `cargo run --release -p ftpscope-tls --example throughput [MB]` (default 200 MB).
//!
//! Builds one synthetic connection per suite (hellos, ChangeCipherSpec, Finished, then full
//! 16 KiB application-data records, sealed with the same RustCrypto ciphers), then pushes the
//! server's stream in 64 KiB pieces (loopback-sized segments) and in 1448-byte pieces
//! (Ethernet-sized), and prints plaintext MB/s. A plain copy of the same bytes gives the
//! clear-text reference.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ftpscope_tls::testing::{
    change_cipher_spec, client_hello, handshake, server_hello, tls12_sealers, tls13_sealer,
};
use ftpscope_tls::{KeyLog, Peer, SessionCache, TlsConnection, TlsEvent, TlsLimits};
use std::time::Instant;

const RECORD: usize = 16384;

/// Builds a connection: (name, suite, plaintext bytes).
type Build = fn(&'static str, u16, usize) -> Conn;

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

struct Conn {
    name: &'static str,
    keys: KeyLog,
    c2s: Vec<u8>,
    s2c: Vec<u8>,
    plain: usize,
}

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

fn tls12(name: &'static str, suite: u16, total: usize) -> Conn {
    let (cr, sr, master) = ([1u8; 32], [2u8; 32], [7u8; 48]);
    let (mut c, mut s) = tls12_sealers(suite, &master, &cr, &sr, false).unwrap();
    let finished = handshake(20, &[0; 12]);
    let mut c2s = client_hello(&cr, &[], &[suite], &[]);
    c2s.extend(change_cipher_spec());
    c2s.extend(c.seal(22, &finished));
    let mut s2c = server_hello(&sr, &[3; 32], suite, &[]);
    s2c.extend(change_cipher_spec());
    s2c.extend(s.seal(22, &finished));
    let data = payload(RECORD);
    for _ in 0..total / RECORD {
        s2c.extend(s.seal(23, &data));
    }
    let (keys, _) =
        KeyLog::parse(format!("CLIENT_RANDOM {} {}\n", hex(&cr), hex(&master)).as_bytes());
    Conn {
        name,
        keys,
        c2s,
        s2c,
        plain: total / RECORD * RECORD,
    }
}

fn tls13(name: &'static str, suite: u16, total: usize) -> Conn {
    let (cr, sr) = ([1u8; 32], [2u8; 32]);
    let len = if suite == 0x1302 { 48 } else { 32 };
    let secrets = [[0x11u8; 48], [0x22; 48], [0x33; 48], [0x44; 48]].map(|s| s[..len].to_vec());
    let labels = [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
    ];
    let text: String = labels
        .iter()
        .zip(&secrets)
        .map(|(l, s)| format!("{l} {} {}\n", hex(&cr), hex(s)))
        .collect();
    let (keys, _) = KeyLog::parse(text.as_bytes());
    let finished = handshake(20, &[0; 32]);
    let mut c2s = client_hello(&cr, &[], &[suite], &[(43, vec![2, 3, 4])]);
    c2s.extend(change_cipher_spec());
    c2s.extend(
        tls13_sealer(suite, &secrets[0])
            .unwrap()
            .seal(22, &finished),
    );
    let mut s2c = server_hello(&sr, &[], suite, &[(43, vec![3, 4])]);
    s2c.extend(change_cipher_spec());
    s2c.extend(
        tls13_sealer(suite, &secrets[1])
            .unwrap()
            .seal(22, &finished),
    );
    let mut app = tls13_sealer(suite, &secrets[3]).unwrap();
    // TLS 1.3 carries at most 2^14 bytes of plaintext including the content type.
    let data = payload(RECORD - 1);
    for _ in 0..total / RECORD {
        s2c.extend(app.seal(23, &data));
    }
    Conn {
        name,
        keys,
        c2s,
        s2c,
        plain: total / RECORD * (RECORD - 1),
    }
}

fn measure(conn: &Conn, piece: usize) -> f64 {
    let mut tls = TlsConnection::new(TlsLimits::default());
    let mut cache = SessionCache::default();
    let mut events = Vec::new();
    tls.push(
        Peer::Initiator,
        &conn.c2s,
        &conn.keys,
        &mut cache,
        &mut events,
    );
    let start = Instant::now();
    let mut got = 0usize;
    for chunk in conn.s2c.chunks(piece) {
        tls.push(Peer::Responder, chunk, &conn.keys, &mut cache, &mut events);
        // The integrator drains events after each push; so do we.
        for e in events.drain(..) {
            match e {
                TlsEvent::Plaintext { data, .. } => got += data.len(),
                TlsEvent::Established => {}
                other => panic!("{}: unexpected {other:?}", conn.name),
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(got, conn.plain, "{}", conn.name);
    got as f64 / secs / 1e6
}

fn main() {
    let mb: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let total = mb << 20;
    // Clear-text reference: copying the same bytes in 64 KiB pieces into owned buffers.
    let clear = payload(total);
    let start = Instant::now();
    let mut sink = 0usize;
    for chunk in clear.chunks(64 << 10) {
        sink += std::hint::black_box(chunk.to_vec()).len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "copy (clear-text reference)     {:8.0} MB/s",
        sink as f64 / secs / 1e6
    );
    drop(clear);
    let builders: [(&'static str, Build, u16); 4] = [
        ("TLS 1.2 AES-128-GCM", tls12, 0xC02F),
        ("TLS 1.2 ChaCha20-Poly1305", tls12, 0xCCA8),
        ("TLS 1.3 AES-128-GCM", tls13, 0x1301),
        ("TLS 1.3 ChaCha20-Poly1305", tls13, 0x1303),
    ];
    for (name, build, suite) in builders {
        let conn = build(name, suite, total);
        let big = measure(&conn, 64 << 10);
        let small = measure(&conn, 1448);
        println!("{name:<26} 64 KiB pieces {big:6.0} MB/s   1448 B pieces {small:6.0} MB/s");
    }
}
