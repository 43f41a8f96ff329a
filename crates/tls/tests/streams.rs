//! Decrypts real TLS byte streams recorded by `tests/streams/record.py` (OpenSSL through
//! Python's ssl module and the openssl commands) and compares the plaintext byte for byte.
// A test that cannot read its fixtures should fail loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ftpscope_tls::{
    KeyLog, LossReason, Peer, Resumption, SessionCache, TlsConnection, TlsEvent, TlsInfo,
    TlsLimits, TlsProblem,
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

/// The client random of a connection: in its first ClientHello (record header 5, handshake
/// header 4, version 2).
fn client_random_hex(conn: &Conn) -> String {
    conn.c2s[11..43]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The key log lines of one connection only.
fn keylog_of(text: &[u8], conn: &Conn) -> Vec<u8> {
    let cr = client_random_hex(conn);
    String::from_utf8_lossy(text)
        .lines()
        .filter(|l| l.contains(&cr))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        .into_bytes()
}

#[test]
fn tls12_resumption_by_session_id_and_by_ticket() {
    for (case, how) in [
        ("tls12-resume-sessionid", Resumption::SessionId),
        ("tls12-resume-ticket", Resumption::Ticket),
    ] {
        // OpenSSL logs the resumed connection's client random too.
        let r = decrypts(case);
        assert_eq!(r[0].info.resumed, None, "{case}");
        assert_eq!(r[1].info.resumed, Some(how), "{case}");
        // Without it, the master secret comes from the first connection through the cache.
        let (conns, text) = load(case);
        let keys = keylog(&keylog_of(&text, &conns[0]));
        assert_eq!(keys.len(), 1);
        for order in [Order::ClientFirst, Order::ServerFirst, Order::Chunks(1460)] {
            let mut cache = SessionCache::default();
            let r1 = run(&conns[0], &keys, &mut cache, order);
            assert_plain(case, &conns[0], &r1);
            assert!(
                !cache.is_empty(),
                "{case}: the full handshake fills the cache"
            );
            let r2 = run(&conns[1], &keys, &mut cache, order);
            assert_plain(&format!("{case} resumed {order:?}"), &conns[1], &r2);
            assert_eq!(r2.info.resumed, Some(how), "{case}");
            // And without the cache it cannot be read.
            let r3 = run(&conns[1], &keys, &mut SessionCache::default(), order);
            assert_eq!(r3.count(|e| matches!(e, TlsEvent::KeysMissing)), 1);
            assert!(r3.plain[0].is_empty() && r3.plain[1].is_empty());
        }
    }
}

#[test]
fn tls13_psk_resumption() {
    let r = decrypts("tls13-resume-psk");
    assert_eq!(r[0].info.resumed, None);
    assert_eq!(r[1].info.resumed, Some(Resumption::Psk));
    assert!(r[1].info.certificate.is_none());
}

#[test]
fn tls13_hello_retry_request_keeps_the_first_client_random() {
    let r = decrypts("tls13-hrr");
    assert!(r[0].info.hello_retry_request);
    let (conns, _) = load("tls13-hrr");
    assert_eq!(
        r[0].info.client_random.unwrap().to_vec(),
        conns[0].c2s[11..43].to_vec()
    );
}

#[test]
fn tls13_key_update_both_ways() {
    let r = decrypts("tls13-keyupdate");
    // k from the client, k from the server, K from the client (which makes the server update).
    assert_eq!(r[0].info.key_updates, 4);
}

#[test]
fn tls12_renegotiation_stops_cleanly() {
    let (conns, text) = load("tls12-renegotiation");
    let keys = keylog(&text);
    for order in [Order::ClientFirst, Order::Chunks(1), Order::Chunks(1460)] {
        let r = run(&conns[0], &keys, &mut SessionCache::default(), order);
        assert_eq!(r.problems(), vec![TlsProblem::Renegotiation], "{order:?}");
        // What came before the renegotiation is read; nothing after it is.
        assert_eq!(r.plain[0], b"USER anonymous\n");
        assert_eq!(r.plain[1], b"331 Please specify the password.\n");
        assert!(
            r.lost(Peer::Initiator)
                .iter()
                .any(|(_, why)| *why == LossReason::Stopped)
        );
    }
}

#[test]
fn tls10_is_visible_but_not_decrypted() {
    let (conns, text) = load("tls10-aes128cbc");
    let keys = keylog(&text);
    let r = run(
        &conns[0],
        &keys,
        &mut SessionCache::default(),
        Order::Chunks(1460),
    );
    assert_eq!(r.problems(), vec![TlsProblem::UnsupportedVersion]);
    assert_eq!(info(&r), ("TLS 1.0", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"));
    assert!(r.info.certificate.is_some());
    assert!(!r.info.decrypting);
    assert_eq!(r.count(|e| matches!(e, TlsEvent::Established)), 1);
    assert!(r.plain[0].is_empty() && r.plain[1].is_empty());
    assert!(
        r.lost(Peer::Responder)
            .iter()
            .all(|(_, why)| *why == LossReason::Unsupported)
    );
}

#[test]
fn missing_keys_leave_the_visible_information() {
    let empty = KeyLog::new();
    for case in [
        "tls12-aes128gcm",
        "tls13-aes128gcm",
        "tls12-aes128cbc-sha-mte",
    ] {
        let (conns, _) = load(case);
        for hold in [true, false] {
            let limits = TlsLimits {
                hold_when_keys_missing: hold,
                ..TlsLimits::default()
            };
            let r = run_with(
                &conns[0],
                &empty,
                &mut SessionCache::default(),
                Order::Chunks(1460),
                limits,
            );
            assert_eq!(r.count(|e| matches!(e, TlsEvent::KeysMissing)), 1, "{case}");
            assert_eq!(r.count(|e| matches!(e, TlsEvent::Established)), 1, "{case}");
            assert!(r.problems().is_empty(), "{case}: {:?}", r.problems());
            assert!(!r.info.decrypting);
            assert!(r.plain[0].is_empty() && r.plain[1].is_empty());
            assert!(r.info.version.is_some() && r.info.cipher_suite.is_some());
            assert_eq!(r.info.sni.as_deref(), Some(&b"ftps.test"[..]));
            // The certificate is in the clear in TLS 1.2 only.
            assert_eq!(r.info.certificate.is_some(), case.starts_with("tls12"));
            let lost = r.lost(Peer::Responder);
            assert!(!lost.is_empty(), "{case}");
            assert!(
                lost.iter().all(|(_, why)| *why == LossReason::NoKeys),
                "{case} {lost:?}"
            );
            if case == "tls12-aes128gcm" {
                // AEAD record lengths give the exact plaintext length.
                let total: u64 = lost.iter().map(|(l, _)| l.unwrap()).sum();
                assert_eq!(total, conns[0].want[1].1 as u64);
            }
        }
    }
}

#[test]
fn a_key_log_that_grows_later_decrypts_the_held_records() {
    for case in ["tls12-aes128gcm", "tls13-aes256gcm"] {
        let (conns, text) = load(case);
        let conn = &conns[0];
        let mut tls = TlsConnection::new(TlsLimits::default());
        let mut cache = SessionCache::default();
        let mut keys = KeyLog::new();
        let mut events = Vec::new();
        tls.push(Peer::Initiator, &conn.c2s, &keys, &mut cache, &mut events);
        tls.push(Peer::Responder, &conn.s2c, &keys, &mut cache, &mut events);
        assert!(events.contains(&TlsEvent::KeysMissing));
        assert!(tls.held_bytes() > 0);
        keys.add(&text);
        tls.retry(&keys, &mut cache, &mut events);
        assert_eq!(tls.held_bytes(), 0);
        let mut plain = [Vec::new(), Vec::new()];
        for e in &events {
            if let TlsEvent::Plaintext { from, data } = e {
                plain[(*from == Peer::Responder) as usize].extend_from_slice(data);
            }
        }
        assert_eq!(sha(&plain[0]), conn.want[0].0, "{case}");
        assert_eq!(sha(&plain[1]), conn.want[1].0, "{case}");
    }
}

#[test]
fn the_hold_limit_turns_held_records_into_losses() {
    let (conns, _) = load("tls12-aes128gcm");
    let limits = TlsLimits {
        max_held_bytes: 4096,
        ..TlsLimits::default()
    };
    let r = run_with(
        &conns[0],
        &KeyLog::new(),
        &mut SessionCache::default(),
        Order::Chunks(1460),
        limits,
    );
    assert_eq!(r.problems(), vec![TlsProblem::HoldLimit]);
    let lost = r.lost(Peer::Responder);
    assert!(
        lost.iter().any(|(_, why)| *why == LossReason::HoldLimit),
        "{lost:?}"
    );
}

#[test]
fn a_wrong_key_fails_authentication_and_never_gives_garbage() {
    for case in [
        "tls12-aes128gcm",
        "tls12-chacha20",
        "tls12-aes128cbc-sha-mte",
        "tls12-aes128cbc-sha-etm",
        "tls13-aes128gcm",
    ] {
        let (conns, text) = load(case);
        // Flip one bit of every secret.
        let text = String::from_utf8(text).unwrap();
        let wrong: String = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| {
                let mut f: Vec<String> = l.split(' ').map(str::to_string).collect();
                let last = f[2].pop().unwrap();
                let flipped = u8::from_str_radix(&last.to_string(), 16).unwrap() ^ 1;
                f[2].push_str(&format!("{flipped:x}"));
                f.join(" ") + "\n"
            })
            .collect();
        let keys = keylog(wrong.as_bytes());
        let r = run(
            &conns[0],
            &keys,
            &mut SessionCache::default(),
            Order::Chunks(1460),
        );
        assert!(r.problems().contains(&TlsProblem::AuthFailed), "{case}");
        assert!(r.plain[0].is_empty() && r.plain[1].is_empty(), "{case}");
        assert!(
            r.lost(Peer::Responder)
                .iter()
                .any(|(_, why)| *why == LossReason::AuthFailed),
            "{case}"
        );
        assert_eq!(r.count(|e| matches!(e, TlsEvent::Established)), 1, "{case}");
    }
}

#[test]
fn a_damaged_record_is_lost_and_the_next_one_decrypts() {
    let (conns, text) = load("tls12-aes128gcm");
    let keys = keylog(&text);
    let mut conn = Conn {
        c2s: conns[0].c2s.clone(),
        s2c: conns[0].s2c.clone(),
        want: conns[0].want.clone(),
    };
    // A byte in the middle of the server's last big record.
    let at = conn.s2c.len() - 3000;
    conn.s2c[at] ^= 0x40;
    let r = run(
        &conn,
        &keys,
        &mut SessionCache::default(),
        Order::Chunks(1460),
    );
    assert_eq!(r.problems(), vec![TlsProblem::AuthFailed]);
    let want = conns[0].want[1].1;
    let got = r.plain[1].len();
    let lost: u64 = r
        .lost(Peer::Responder)
        .iter()
        .map(|(l, _)| l.unwrap())
        .sum();
    assert_eq!(got as u64 + lost, want as u64);
    assert_eq!(r.count(|e| matches!(e, TlsEvent::CloseNotify { .. })), 2);
}

#[test]
fn a_truncated_stream_reports_the_partial_record() {
    for case in ["tls12-chacha20", "tls13-aes256gcm"] {
        let (conns, text) = load(case);
        let keys = keylog(&text);
        let full = &conns[0];
        let conn = Conn {
            c2s: full.c2s.clone(),
            s2c: full.s2c[..full.s2c.len() - 9000].to_vec(),
            want: full.want.clone(),
        };
        let r = run(
            &conn,
            &keys,
            &mut SessionCache::default(),
            Order::Chunks(1460),
        );
        assert_eq!(sha(&r.plain[0]), full.want[0].0);
        assert!(r.plain[1].len() < full.want[1].1);
        assert_eq!(
            r.lost(Peer::Responder).last(),
            Some(&(None, LossReason::Truncated)),
            "{case}"
        );
        assert!(r.problems().is_empty());
    }
}

/// Pushes `conn` with `drop` bytes of the server stream removed at `at`, reported as a gap.
fn with_gap(conn: &Conn, keys: &KeyLog, at: usize, drop: usize) -> Run {
    let mut tls = TlsConnection::new(TlsLimits::default());
    let mut cache = SessionCache::default();
    let mut events = Vec::new();
    tls.push(Peer::Initiator, &conn.c2s, keys, &mut cache, &mut events);
    for chunk in conn.s2c[..at].chunks(1000) {
        tls.push(Peer::Responder, chunk, keys, &mut cache, &mut events);
    }
    tls.gap(Peer::Responder, drop as u64, &mut events);
    for chunk in conn.s2c[at + drop..].chunks(1000) {
        tls.push(Peer::Responder, chunk, keys, &mut cache, &mut events);
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

#[test]
fn a_gap_loses_its_records_and_decryption_resumes_at_the_next() {
    // Cases whose download spans two records, so something follows the gap.
    for case in [
        "tls12-aes128gcm",
        "tls12-chacha20",
        "tls12-aes128cbc-sha-etm",
        "tls12-aes256cbc-sha384-mte",
        "tls13-aes256gcm",
        "tls13-hrr",
    ] {
        let (conns, text) = load(case);
        let keys = keylog(&text);
        let conn = &conns[0];
        let reference = run(
            conn,
            &keys,
            &mut SessionCache::default(),
            Order::ClientFirst,
        );
        let want = &reference.plain[1];
        // Inside the big download, well after the handshake.
        let at = conn.s2c.len() / 2;
        let r = with_gap(conn, &keys, at, 100);
        assert_eq!(
            r.lost(Peer::Responder).first(),
            Some(&(None, LossReason::Gap)),
            "{case}"
        );
        assert!(r.problems().is_empty(), "{case}: {:?}", r.problems());
        // What came out is the start of the plaintext, then its end: a hole in the middle,
        // never garbage.
        let got = &r.plain[1];
        assert!(got.len() < want.len(), "{case}");
        let mut head = 0;
        while head < got.len() && got[head] == want[head] {
            head += 1;
        }
        let tail = got.len() - head;
        assert!(tail > 0, "{case}: nothing after the gap");
        assert_eq!(&got[head..], &want[want.len() - tail..], "{case}");
        assert_eq!(
            r.count(|e| matches!(e, TlsEvent::CloseNotify { .. })),
            2,
            "{case}"
        );
    }
}

#[test]
fn resync_gives_up_when_nothing_decrypts() {
    let (conns, text) = load("tls12-aes128gcm");
    let keys = keylog(&text);
    let mut conn = Conn {
        c2s: conns[0].c2s.clone(),
        s2c: conns[0].s2c.clone(),
        want: conns[0].want.clone(),
    };
    // Garbage after the gap instead of records.
    let at = conn.s2c.len() / 2;
    for (i, b) in conn.s2c[at..].iter_mut().enumerate() {
        *b = (i * 7 % 251) as u8;
    }
    let mut tls = TlsConnection::new(TlsLimits {
        resync_scan_bytes: 2000,
        ..TlsLimits::default()
    });
    let mut cache = SessionCache::default();
    let mut events = Vec::new();
    tls.push(Peer::Initiator, &conn.c2s, &keys, &mut cache, &mut events);
    tls.push(
        Peer::Responder,
        &conn.s2c[..at],
        &keys,
        &mut cache,
        &mut events,
    );
    tls.gap(Peer::Responder, 10, &mut events);
    tls.push(
        Peer::Responder,
        &conn.s2c[at..],
        &keys,
        &mut cache,
        &mut events,
    );
    assert!(events.iter().any(|e| matches!(
        e,
        TlsEvent::Problem {
            kind: TlsProblem::ResyncFailed,
            ..
        }
    )));
    assert!(events.iter().any(|e| matches!(
        e,
        TlsEvent::Lost {
            why: LossReason::ResyncFailed,
            ..
        }
    )));
}

#[test]
fn every_record_split_byte_by_byte_or_all_at_once_gives_the_same_events() {
    let (conns, text) = load("tls13-keyupdate");
    let keys = keylog(&text);
    let a = run(
        &conns[0],
        &keys,
        &mut SessionCache::default(),
        Order::Chunks(1),
    );
    let b = run(
        &conns[0],
        &keys,
        &mut SessionCache::default(),
        Order::Chunks(1 << 20),
    );
    let per_dir = |r: &Run, p: Peer| -> Vec<TlsEvent> {
        r.events
            .iter()
            .filter(|e| match e {
                TlsEvent::Plaintext { from, .. }
                | TlsEvent::CloseNotify { from }
                | TlsEvent::Lost { from, .. } => *from == p,
                _ => false,
            })
            .cloned()
            .collect()
    };
    for p in Peer::ALL {
        assert_eq!(per_dir(&a, p), per_dir(&b, p));
    }
}
