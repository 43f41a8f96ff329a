//! Hand-built records for what real peers do not send: not TLS at all, headers that lie,
//! records over the size limit, and an unsupported TLS 1.3 suite.
// A failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ftpscope_tls::testing::{
    change_cipher_spec, client_hello, handshake, record, server_hello, tls12_sealers,
};
use ftpscope_tls::{
    KeyLog, LossReason, Peer, SessionCache, TlsConnection, TlsEvent, TlsLimits, TlsProblem,
    looks_like_client_hello,
};

const SUITE: u16 = 0xC02F;
const CR: [u8; 32] = [1; 32];
const SR: [u8; 32] = [2; 32];
const MASTER: [u8; 48] = [7; 48];

fn keys() -> KeyLog {
    let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
    KeyLog::parse(format!("CLIENT_RANDOM {} {}\n", hex(&CR), hex(&MASTER)).as_bytes()).0
}

/// A TLS 1.2 handshake whose both sides are now encrypting; returns the server's sealer.
fn established(
    tls: &mut TlsConnection,
    keys: &KeyLog,
    out: &mut Vec<TlsEvent>,
) -> ftpscope_tls::testing::Sealer {
    let (mut c, mut s) = tls12_sealers(SUITE, &MASTER, &CR, &SR, false).unwrap();
    let fin = handshake(20, &[0; 12]);
    let mut cache = SessionCache::default();
    let mut c2s = client_hello(&CR, &[], &[SUITE], &[]);
    c2s.extend(change_cipher_spec());
    c2s.extend(c.seal(22, &fin));
    let mut s2c = server_hello(&SR, &[], SUITE, &[]);
    s2c.extend(change_cipher_spec());
    s2c.extend(s.seal(22, &fin));
    tls.push(Peer::Initiator, &c2s, keys, &mut cache, out);
    tls.push(Peer::Responder, &s2c, keys, &mut cache, out);
    assert_eq!(out, &vec![TlsEvent::Established]);
    out.clear();
    s
}

fn plaintext(out: &[TlsEvent]) -> Vec<u8> {
    out.iter()
        .filter_map(|e| match e {
            TlsEvent::Plaintext { data, .. } => Some(data.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn the_client_hello_test_is_cheap_and_strict() {
    let ch = client_hello(&CR, &[], &[SUITE], &[]);
    assert!(looks_like_client_hello(&ch));
    assert!(looks_like_client_hello(&ch[..6]));
    assert!(!looks_like_client_hello(&ch[..5]));
    assert!(!looks_like_client_hello(b"220 ProFTPD Server ready.\r\n"));
    assert!(!looks_like_client_hello(&server_hello(
        &SR,
        &[],
        SUITE,
        &[]
    )));
}

#[test]
fn clear_text_is_not_tls() {
    let mut tls = TlsConnection::new(TlsLimits::default());
    let mut out = Vec::new();
    let keys = KeyLog::new();
    let mut cache = SessionCache::default();
    tls.push(
        Peer::Responder,
        b"220 Welcome\r\n",
        &keys,
        &mut cache,
        &mut out,
    );
    tls.push(Peer::Initiator, b"USER a\r\n", &keys, &mut cache, &mut out);
    assert!(matches!(
        out.first(),
        Some(TlsEvent::Problem {
            kind: TlsProblem::NotTls,
            ..
        })
    ));
    assert!(out.iter().skip(1).all(|e| matches!(
        e,
        TlsEvent::Lost {
            why: LossReason::Stopped,
            ..
        }
    )));
}

#[test]
fn a_lying_header_is_skipped_like_a_gap() {
    let keys = keys();
    let mut tls = TlsConnection::new(TlsLimits::default());
    let mut out = Vec::new();
    let mut s = established(&mut tls, &keys, &mut out);
    let mut cache = SessionCache::default();
    let mut s2c = s.seal(23, b"first\r\n");
    // A record longer than 2^14 + 2048, then garbage, then real records again.
    s2c.extend_from_slice(&[23, 3, 3, 0x50, 0x00, 1, 2, 3]);
    s.seal(23, b"lost in the noise"); // a record that never made it
    s2c.extend(s.seal(23, b"second\r\n"));
    s2c.extend(s.seal(23, b"third\r\n"));
    for b in s2c.chunks(3) {
        tls.push(Peer::Responder, b, &keys, &mut cache, &mut out);
    }
    assert_eq!(plaintext(&out), b"first\r\nsecond\r\nthird\r\n");
    assert!(out.iter().any(|e| matches!(
        e,
        TlsEvent::Problem {
            kind: TlsProblem::RecordTooLarge,
            ..
        }
    )));
}

#[test]
fn an_unsupported_tls13_suite_is_named() {
    let keys = KeyLog::new();
    let mut tls = TlsConnection::new(TlsLimits::default());
    let mut out = Vec::new();
    let mut cache = SessionCache::default();
    let ch = client_hello(&CR, &[], &[0x1304], &[(43, vec![2, 3, 4])]);
    let mut sh = server_hello(&SR, &[], 0x1304, &[(43, vec![3, 4])]);
    sh.extend(record(23, &[0; 40]));
    tls.push(Peer::Initiator, &ch, &keys, &mut cache, &mut out);
    tls.push(Peer::Responder, &sh, &keys, &mut cache, &mut out);
    assert_eq!(
        tls.info().cipher_suite.unwrap().name,
        "TLS_AES_128_CCM_SHA256"
    );
    assert!(out.iter().any(|e| matches!(
        e,
        TlsEvent::Problem {
            kind: TlsProblem::UnsupportedCipherSuite,
            ..
        }
    )));
    assert!(out.iter().any(|e| matches!(
        e,
        TlsEvent::Lost {
            why: LossReason::Unsupported,
            ..
        }
    )));
}

#[test]
fn an_alert_in_the_clear_and_a_close_notify() {
    let keys = keys();
    let mut tls = TlsConnection::new(TlsLimits::default());
    let mut out = Vec::new();
    let mut s = established(&mut tls, &keys, &mut out);
    let mut cache = SessionCache::default();
    let mut s2c = s.seal(21, &[2, 40]);
    s2c.extend(s.seal(21, &[1, 0]));
    tls.push(Peer::Responder, &s2c, &keys, &mut cache, &mut out);
    assert_eq!(
        out,
        vec![
            TlsEvent::Alert {
                from: Peer::Responder,
                level: 2,
                description: 40
            },
            TlsEvent::CloseNotify {
                from: Peer::Responder
            }
        ]
    );
}
