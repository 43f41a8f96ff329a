//! Fuzz targets of the TLS engine (`crates/tls`), apart from `targets.rs` because that file is
//! also compiled by the root package's `tests/adversarial.rs`, which does not depend on
//! `ftpscope-tls`. `plain` and `cargo fuzz` know them like the others.
//!
//! - `tls_record`: a key log and a script of pushes, gaps, retries and the end, both ways, into
//!   one `TlsConnection`. Invariants: no panic; held bytes within the limit after every call;
//!   at most one `Established` and one `KeysMissing`.
//! - `keylog`: key log text fed in pieces must read exactly as the same text fed at once.

use crate::targets::Target;
use ftpscope_tls::testing::{
    change_cipher_spec, client_hello, handshake, server_hello, tls12_sealers, tls13_sealer,
};
use ftpscope_tls::{KeyLog, Peer, SessionCache, TlsConnection, TlsEvent, TlsLimits};

pub const TLS_TARGETS: &[(&str, Target)] = &[("tls_record", tls_record), ("keylog", keylog)];

pub fn target(name: &str) -> Option<Target> {
    TLS_TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
}

/// Script operations (the low bit of an op byte is the direction).
const OP_PUSH: u8 = 0;
const OP_GAP: u8 = 1;
const OP_RETRY: u8 = 2;
const OP_FINISH: u8 = 3;

/// Input: flags (1 byte), key log length (2 bytes) and text, then ops: `op<<1 | dir`, and for
/// a push a 2-byte length and the bytes, for a gap a 2-byte length.
pub fn tls_record(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Some((len, rest)) = rest.split_first_chunk::<2>() else {
        return;
    };
    let n = (u16::from_be_bytes(*len) as usize).min(rest.len());
    let (text, mut script) = rest.split_at(n);
    let limits = TlsLimits {
        hold_when_keys_missing: flags & 1 == 0,
        max_held_bytes: if flags & 2 != 0 { 300 } else { 1 << 20 },
        max_handshake_message: if flags & 4 != 0 { 64 } else { 64 << 10 },
        resync_records: 4,
        resync_scan_bytes: 4096,
    };
    // The key log arrives whole, or half now and half at the first retry.
    let (first, later) = if flags & 8 != 0 {
        text.split_at(text.len() / 2)
    } else {
        (text, &[][..])
    };
    let mut keys = KeyLog::new();
    keys.add(first);
    let mut later = Some(later);
    let mut cache = SessionCache::new(4);
    let mut tls = TlsConnection::new(limits);
    let mut out = Vec::new();
    while let Some((&op, rest)) = script.split_first() {
        script = rest;
        let from = if op & 1 == 0 {
            Peer::Initiator
        } else {
            Peer::Responder
        };
        match (op >> 1) % 4 {
            OP_PUSH => {
                let Some((len, rest)) = script.split_first_chunk::<2>() else {
                    break;
                };
                let n = (u16::from_be_bytes(*len) as usize).min(rest.len());
                let (bytes, rest) = rest.split_at(n);
                script = rest;
                tls.push(from, bytes, &keys, &mut cache, &mut out);
            }
            OP_GAP => {
                let Some((len, rest)) = script.split_first_chunk::<2>() else {
                    break;
                };
                script = rest;
                tls.gap(from, u64::from(u16::from_be_bytes(*len)), &mut out);
            }
            OP_RETRY => {
                if let Some(more) = later.take() {
                    keys.add(more);
                    keys.finish_partial();
                }
                tls.retry(&keys, &mut cache, &mut out);
            }
            _ => tls.finish(&mut out),
        }
        assert!(
            tls.held_bytes() <= limits.max_held_bytes,
            "{} bytes held, limit {}",
            tls.held_bytes(),
            limits.max_held_bytes
        );
    }
    tls.finish(&mut out);
    let count = |f: fn(&TlsEvent) -> bool| out.iter().filter(|e| f(e)).count();
    assert!(count(|e| matches!(e, TlsEvent::Established)) <= 1);
    assert!(count(|e| matches!(e, TlsEvent::KeysMissing)) <= 1);
}

/// Input: a piece size (1 byte), then key log text.
pub fn keylog(data: &[u8]) {
    let Some((&piece, text)) = data.split_first() else {
        return;
    };
    let (whole, whole_report) = KeyLog::parse(text);
    let mut log = KeyLog::new();
    let (mut lines, mut added, mut bad) = (0, 0, 0);
    for chunk in text.chunks(usize::from(piece).max(1)) {
        let r = log.add(chunk);
        assert!(r.bad_lines.len() <= ftpscope_tls::keylog::MAX_REPORTED);
        (lines, added, bad) = (lines + r.lines, added + r.added, bad + r.bad);
    }
    let r = log.finish_partial();
    (lines, added, bad) = (lines + r.lines, added + r.added, bad + r.bad);
    assert_eq!(
        (lines, added, bad, log.len()),
        (
            whole_report.lines,
            whole_report.added,
            whole_report.bad,
            whole.len()
        )
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// Encodes a `tls_record` input.
fn encode(flags: u8, keylog: &str, ops: &[(u8, Peer, Vec<u8>)]) -> Vec<u8> {
    let mut out = vec![flags];
    out.extend_from_slice(&(keylog.len() as u16).to_be_bytes());
    out.extend_from_slice(keylog.as_bytes());
    for (op, from, bytes) in ops {
        out.push(op << 1 | u8::from(*from == Peer::Responder));
        match *op {
            OP_PUSH => {
                out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
                out.extend_from_slice(bytes);
            }
            OP_GAP => out.extend_from_slice(&[0, 100]),
            _ => {}
        }
    }
    out
}

/// Seeds: a TLS 1.2 and a TLS 1.3 connection with their keys, pushed in pieces, with a gap
/// and a late key log; and key log text.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut seeds = Vec::new();
    let (cr, sr, master) = ([1u8; 32], [2u8; 32], [7u8; 48]);
    let finished12 = handshake(20, &[0; 12]);
    let data = b"220 ftpscope\r\n".repeat(20);
    // TLS 1.2, AES-128-GCM, and AES-128-CBC with encrypt-then-MAC.
    for (suite, etm) in [(0xC02Fu16, false), (0xC013, true)] {
        let Some((mut c, mut s)) = tls12_sealers(suite, &master, &cr, &sr, etm) else {
            continue;
        };
        let ext: Vec<(u16, Vec<u8>)> = if etm { vec![(22, vec![])] } else { vec![] };
        let mut c2s = client_hello(&cr, &[9; 32], &[suite], &ext);
        c2s.extend(change_cipher_spec());
        c2s.extend(c.seal(22, &finished12));
        c2s.extend(c.seal(23, b"USER anonymous\r\n"));
        let mut s2c = server_hello(&sr, &[3; 32], suite, &ext);
        s2c.extend(change_cipher_spec());
        s2c.extend(s.seal(22, &finished12));
        for _ in 0..3 {
            s2c.extend(s.seal(23, &data));
        }
        s2c.extend(s.seal(21, &[1, 0]));
        let log = format!("CLIENT_RANDOM {} {}\n", hex(&cr), hex(&master));
        let (a, b) = s2c.split_at(s2c.len() / 2);
        let ops = vec![
            (OP_PUSH, Peer::Initiator, c2s.clone()),
            (OP_PUSH, Peer::Responder, a.to_vec()),
            (OP_PUSH, Peer::Responder, b.to_vec()),
        ];
        seeds.push(("tls_record", encode(0, &log, &ops)));
        seeds.push((
            "tls_record",
            encode(
                8,
                &log,
                &[ops.clone(), vec![(OP_RETRY, Peer::Initiator, vec![])]].concat(),
            ),
        ));
        let cut = c2s.len().min(200);
        let gap = vec![
            (OP_PUSH, Peer::Initiator, c2s.clone()),
            (OP_PUSH, Peer::Responder, s2c[..cut].to_vec()),
            (OP_GAP, Peer::Responder, vec![]),
            (OP_PUSH, Peer::Responder, s2c[cut + 100..].to_vec()),
        ];
        seeds.push(("tls_record", encode(0, &log, &gap)));
    }
    // TLS 1.3, AES-128-GCM.
    let secrets = [[0x11u8; 32], [0x22; 32], [0x33; 32], [0x44; 32]];
    let labels = [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
    ];
    let log: String = labels
        .iter()
        .zip(&secrets)
        .map(|(l, s)| format!("{l} {} {}\n", hex(&cr), hex(s)))
        .collect();
    let sealer = |i: usize| tls13_sealer(0x1301, &secrets[i]);
    if let (Some(mut ch), Some(mut sh), Some(mut ca), Some(mut sa)) =
        (sealer(0), sealer(1), sealer(2), sealer(3))
    {
        let finished = handshake(20, &[0; 32]);
        let mut c2s = client_hello(&cr, &[], &[0x1301], &[(43, vec![2, 3, 4])]);
        c2s.extend(change_cipher_spec());
        c2s.extend(ch.seal(22, &finished));
        c2s.extend(ca.seal(23, b"USER anonymous\r\n"));
        c2s.extend(ca.seal(22, &handshake(24, &[0]))); // KeyUpdate
        let mut s2c = server_hello(&sr, &[], 0x1301, &[(43, vec![3, 4])]);
        s2c.extend(sh.seal(22, &handshake(8, &[0, 0])));
        s2c.extend(sh.seal(22, &finished));
        s2c.extend(sa.seal(23, &data));
        s2c.extend(sa.seal(21, &[1, 0]));
        let ops = vec![
            (OP_PUSH, Peer::Responder, s2c),
            (OP_PUSH, Peer::Initiator, c2s),
            (OP_FINISH, Peer::Initiator, vec![]),
        ];
        seeds.push(("tls_record", encode(0, &log, &ops)));
        seeds.push(("tls_record", encode(3, "", &ops)));
    }
    let mut kl = vec![7u8];
    kl.extend_from_slice(log.as_bytes());
    kl.extend_from_slice(b"# comment\r\n\r\nCLIENT_RANDOM zz 00\nRSA 00 11\nCLIENT_RANDOM ");
    seeds.push(("keylog", kl));
    seeds
}
