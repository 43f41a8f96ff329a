//! Decrypts real TLS byte streams recorded by `tests/streams/record.py` (OpenSSL through
//! Python's ssl module and the openssl commands) and compares the plaintext byte for byte.
// A test that cannot read its fixtures should fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ftpscope_tls::{
    KeyLog, LossReason, Peer, SessionCache, TlsConnection, TlsEvent, TlsInfo, TlsLimits, TlsProblem,
};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

fn dir(case: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/streams")
        .join(case)
}

struct Conn {
    c2s: Vec<u8>,
    s2c: Vec<u8>,
    /// sha256 and length of each direction's plaintext.
    want: [(String, usize); 2],
}

fn load(case: &str) -> (Vec<Conn>, Vec<u8>) {
    let d = dir(case);
    let expect = std::fs::read_to_string(d.join("expect.txt")).unwrap();
    let mut conns = Vec::new();
    for n in 1.. {
        let Ok(c2s) = std::fs::read(d.join(format!("{n}.c2s"))) else {
            break;
        };
        let s2c = std::fs::read(d.join(format!("{n}.s2c"))).unwrap();
        let want = ["c2s", "s2c"].map(|dir| {
            let line = expect
                .lines()
                .find(|l| l.starts_with(&format!("{n} {dir} ")))
                .unwrap();
            let f: Vec<&str> = line.split(' ').collect();
            (f[2].to_string(), f[3].parse().unwrap())
        });
        conns.push(Conn { c2s, s2c, want });
    }
    (conns, std::fs::read(d.join("keylog.txt")).unwrap())
}

fn keylog(text: &[u8]) -> KeyLog {
    let (log, report) = KeyLog::parse(text);
    assert_eq!(report.bad, 0, "{:?}", report.bad_lines);
    log
}

/// How the two streams are pushed.
#[derive(Debug, Clone, Copy)]
enum Order {
    /// Client's whole stream, then the server's.
    ClientFirst,
    /// Server's whole stream, then the client's.
    ServerFirst,
    /// Alternating chunks of this many bytes.
    Chunks(usize),
}

struct Run {
    plain: [Vec<u8>; 2],
    events: Vec<TlsEvent>,
    info: TlsInfo,
}

impl Run {
    fn problems(&self) -> Vec<TlsProblem> {
        self.events
            .iter()
            .filter_map(|e| match e {
                TlsEvent::Problem { kind, .. } => Some(*kind),
                _ => None,
            })
            .collect()
    }

    #[allow(dead_code)]
    fn lost(&self, from: Peer) -> Vec<(Option<u64>, LossReason)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                TlsEvent::Lost { from: f, len, why } if *f == from => Some((*len, *why)),
                _ => None,
            })
            .collect()
    }

    fn count(&self, f: impl Fn(&TlsEvent) -> bool) -> usize {
        self.events.iter().filter(|e| f(e)).count()
    }
}

fn run(conn: &Conn, keys: &KeyLog, cache: &mut SessionCache, order: Order) -> Run {
    run_with(conn, keys, cache, order, TlsLimits::default())
}

fn run_with(
    conn: &Conn,
    keys: &KeyLog,
    cache: &mut SessionCache,
    order: Order,
    limits: TlsLimits,
) -> Run {
    let mut tls = TlsConnection::new(limits);
    let mut events = Vec::new();
    let c = (Peer::Initiator, conn.c2s.as_slice());
    let s = (Peer::Responder, conn.s2c.as_slice());
    match order {
        Order::ClientFirst | Order::ServerFirst => {
            let both = if let Order::ClientFirst = order {
                [c, s]
            } else {
                [s, c]
            };
            for (p, b) in both {
                tls.push(p, b, keys, cache, &mut events);
            }
        }
        Order::Chunks(n) => {
            let (mut a, mut b) = (c.1.chunks(n), s.1.chunks(n));
            loop {
                let x = a.next();
                let y = b.next();
                if let Some(x) = x {
                    tls.push(Peer::Initiator, x, keys, cache, &mut events);
                }
                if let Some(y) = y {
                    tls.push(Peer::Responder, y, keys, cache, &mut events);
                }
                if x.is_none() && y.is_none() {
                    break;
                }
            }
        }
    }
    tls.finish(&mut events);
    let mut plain = [Vec::new(), Vec::new()];
    for e in &events {
        if let TlsEvent::Plaintext { from, data } = e {
            plain[(*from == Peer::Responder) as usize].extend_from_slice(data);
        }
    }
    Run {
        plain,
        events,
        info: tls.info().clone(),
    }
}

fn sha(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn assert_plain(case: &str, conn: &Conn, r: &Run) {
    for (i, name) in ["c2s", "s2c"].iter().enumerate() {
        assert_eq!(
            (sha(&r.plain[i]), r.plain[i].len()),
            conn.want[i],
            "{case} {name}: events {:?}",
            r.events
                .iter()
                .filter(|e| !matches!(e, TlsEvent::Plaintext { .. }))
                .collect::<Vec<_>>()
        );
    }
}

/// Decrypts every connection of a case in several push orders; returns the runs of the
/// capture-like order (chunks of 1460 bytes).
fn decrypts(case: &str) -> Vec<Run> {
    let (conns, text) = load(case);
    let keys = keylog(&text);
    let mut runs = Vec::new();
    for order in [
        Order::ClientFirst,
        Order::ServerFirst,
        Order::Chunks(1),
        Order::Chunks(7),
        Order::Chunks(1460),
    ] {
        let mut cache = SessionCache::default();
        for (n, conn) in conns.iter().enumerate() {
            let r = run(conn, &keys, &mut cache, order);
            assert_plain(&format!("{case} #{} {order:?}", n + 1), conn, &r);
            assert!(
                r.problems().is_empty(),
                "{case} {order:?}: {:?}",
                r.problems()
            );
            assert!(r.info.decrypting);
            assert_eq!(r.count(|e| matches!(e, TlsEvent::Established)), 1);
            assert_eq!(r.count(|e| matches!(e, TlsEvent::KeysMissing)), 0);
            assert_eq!(
                r.count(|e| matches!(e, TlsEvent::CloseNotify { .. })),
                2,
                "{case} {order:?}"
            );
            if let Order::Chunks(1460) = order {
                runs.push(r);
            }
        }
    }
    runs
}

fn info(r: &Run) -> (&str, &str) {
    (
        r.info.version_name().unwrap(),
        r.info.cipher_suite.unwrap().name,
    )
}

#[test]
fn tls12_aes128_gcm_with_ems() {
    let r = decrypts("tls12-aes128gcm");
    assert_eq!(
        info(&r[0]),
        ("TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
    );
    assert!(r[0].info.extended_master_secret);
    assert!(!r[0].info.encrypt_then_mac); // not a CBC suite
    assert_eq!(r[0].info.sni.as_deref(), Some(&b"ftps.test"[..]));
    assert_eq!(r[0].info.client, Some(Peer::Initiator));
    let cert = r[0].info.certificate.as_ref().unwrap();
    assert!(cert.subject.contains("CN=ftps.test"), "{}", cert.subject);
    assert!(cert.not_after > cert.not_before);
}

#[test]
fn tls12_aes256_gcm_sha384_without_ems() {
    let r = decrypts("tls12-aes256gcm-noems");
    assert_eq!(
        info(&r[0]),
        ("TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")
    );
    assert!(!r[0].info.extended_master_secret);
}

#[test]
fn tls12_rsa_key_exchange() {
    let r = decrypts("tls12-rsa-aes128gcm");
    assert_eq!(info(&r[0]), ("TLS 1.2", "TLS_RSA_WITH_AES_128_GCM_SHA256"));
}

#[test]
fn tls12_chacha20_poly1305() {
    let r = decrypts("tls12-chacha20");
    assert_eq!(
        info(&r[0]),
        ("TLS 1.2", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256")
    );
}

#[test]
fn tls12_cbc_encrypt_then_mac_and_mac_then_encrypt() {
    for (case, suite, etm) in [
        (
            "tls12-aes128cbc-sha-etm",
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
            true,
        ),
        (
            "tls12-aes128cbc-sha-mte",
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
            false,
        ),
        (
            "tls12-aes256cbc-sha256-mte",
            "TLS_RSA_WITH_AES_256_CBC_SHA256",
            false,
        ),
        (
            "tls12-aes256cbc-sha384-etm",
            "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
            true,
        ),
        (
            "tls12-aes256cbc-sha384-mte",
            "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
            false,
        ),
    ] {
        let r = decrypts(case);
        assert_eq!(info(&r[0]), ("TLS 1.2", suite), "{case}");
        assert_eq!(r[0].info.encrypt_then_mac, etm, "{case}");
    }
}

#[test]
fn tls13_suites() {
    for (case, suite) in [
        ("tls13-aes256gcm", "TLS_AES_256_GCM_SHA384"),
        ("tls13-aes128gcm", "TLS_AES_128_GCM_SHA256"),
        ("tls13-chacha20", "TLS_CHACHA20_POLY1305_SHA256"),
    ] {
        let r = decrypts(case);
        assert_eq!(info(&r[0]), ("TLS 1.3", suite), "{case}");
        // The certificate is encrypted in TLS 1.3, and read once decrypted.
        assert!(r[0].info.certificate.is_some(), "{case}");
    }
}
