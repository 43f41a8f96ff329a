//! Names for a TCP connection that other tools share or that stay the same from run to run:
//! the Community ID (v1, as Zeek, Suricata and Arkime compute it), and ftpscope's connection
//! id (a `C` and base62, shaped like Zeek's `uid`, but derived from the connection itself so
//! that the same capture always gives the same id). One SHA-1 gives both.
//!
//! Community ID v1 (corelight/community-id-spec): SHA-1 over the seed (2 bytes, big-endian),
//! the two addresses and ports ordered so that the smaller endpoint (address, then port) comes
//! first, the protocol number and a zero byte of padding; the digest in base64 after `1:`.
//! The layout is: seed, source address, destination address, protocol, padding, source port,
//! destination port.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ftpscope_core::Timestamp;
use sha1::{Digest, Sha1};

use std::net::{IpAddr, SocketAddr};

const TCP: u8 = 6;

fn ip_bytes(ip: IpAddr, out: &mut Vec<u8>) {
    match ip {
        IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
    }
}

/// The Community ID v1 of the TCP connection between `a` and `b` (either way round: both give
/// the same id), with seed 0 as every tool uses by default. An IPv4 and an IPv6 endpoint
/// together (which no TCP connection has) are hashed as they come.
pub fn community_id(a: SocketAddr, b: SocketAddr) -> String {
    community_id_seeded(0, a, b)
}

pub fn community_id_seeded(seed: u16, a: SocketAddr, b: SocketAddr) -> String {
    community_digest(seed, a, b).0
}

/// The Community ID, and the first 64 bits of its digest (for [`connection_ids`]).
fn community_digest(seed: u16, a: SocketAddr, b: SocketAddr) -> (String, u64) {
    let (a_ip, b_ip) = (unmapped(a.ip()), unmapped(b.ip()));
    // The smaller endpoint first: address bytes, then port.
    let a_key = (ip_key(a_ip), a.port());
    let b_key = (ip_key(b_ip), b.port());
    let ((src, sport), (dst, dport)) = if a_key <= b_key {
        ((a_ip, a.port()), (b_ip, b.port()))
    } else {
        ((b_ip, b.port()), (a_ip, a.port()))
    };
    let mut input = Vec::with_capacity(2 + 32 + 6);
    input.extend_from_slice(&seed.to_be_bytes());
    ip_bytes(src, &mut input);
    ip_bytes(dst, &mut input);
    input.push(TCP);
    input.push(0);
    input.extend_from_slice(&sport.to_be_bytes());
    input.extend_from_slice(&dport.to_be_bytes());
    let digest = Sha1::digest(&input);
    let mut out = String::with_capacity(30);
    out.push_str("1:");
    STANDARD.encode_string(digest, &mut out);
    let mut first = [0u8; 8];
    first.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
    (out, u64::from_be_bytes(first))
}

/// The address as it is on the wire: an IPv4 address never comes as `::ffff:a.b.c.d` here,
/// but stay safe if it ever does.
fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Addresses compared as their bytes (the spec compares the raw addresses); IPv4 first.
fn ip_key(ip: IpAddr) -> (u8, u128) {
    match ip {
        IpAddr::V4(a) => (4, u128::from(u32::from(a))),
        IpAddr::V6(a) => (6, u128::from(a)),
    }
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The connection from `initiator` to `responder` that opened at `start`: its stable id and
/// its Community ID, from one SHA-1. The id is `C` and 11 base62 digits of 64 bits mixed from
/// the Community ID's digest, the start time and which side opened it, so the same capture
/// gives the same ids on every run; they join records of several runs and several outputs
/// (JSON Lines, index, Zeek logs), and are not Zeek's own uids.
pub fn connection_ids(
    start: Timestamp,
    initiator: SocketAddr,
    responder: SocketAddr,
) -> (String, String) {
    let (community, digest) = community_digest(0, initiator, responder);
    let ordered =
        (ip_key(initiator.ip()), initiator.port()) <= (ip_key(responder.ip()), responder.port());
    (uid(b'C', mix(digest, start, ordered)), community)
}

/// The stable id alone (see [`connection_ids`]).
pub fn conn_id(start: Timestamp, initiator: SocketAddr, responder: SocketAddr) -> String {
    connection_ids(start, initiator, responder).0
}

/// A file's id, shaped like Zeek's `fuid` (`F` and base62), from its data connection.
pub fn file_id(start: Timestamp, initiator: SocketAddr, responder: SocketAddr) -> String {
    let (_, digest) = community_digest(0, initiator, responder);
    let ordered =
        (ip_key(initiator.ip()), initiator.port()) <= (ip_key(responder.ip()), responder.port());
    uid(b'F', mix(digest, start, !ordered))
}

/// 64 bits of the digest, the start time and the direction, mixed (splitmix64's finalizer).
fn mix(digest: u64, start: Timestamp, ordered: bool) -> u64 {
    let mut z = digest ^ (start.as_nanos() as u64).rotate_left(17) ^ u64::from(ordered);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `prefix` and `n` in 11 base62 digits.
fn uid(prefix: u8, mut n: u64) -> String {
    let mut digits = [b'0'; 11];
    for d in digits.iter_mut().rev() {
        *d = BASE62[(n % 62) as usize];
        n /= 62;
    }
    let mut out = String::with_capacity(12);
    out.push(char::from(prefix));
    out.extend(digits.iter().map(|&d| char::from(d)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ip: &str, port: u16) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), port)
    }

    /// The TCP rows of the spec's baseline (baseline/baseline_deflt.json and
    /// baseline_seed1.json), both ways round.
    #[test]
    fn spec_test_vectors() {
        let cases = [
            (
                at("128.232.110.120", 34855),
                at("66.35.250.204", 80),
                "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
                "1:3V71V58M3Ksw/yuFALMcW0LAHvc=",
            ),
            (
                at("2001:470:e5bf:dead:4957:2174:e82c:4887", 63943),
                at("2607:f8b0:400c:c03::1a", 25),
                "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
                "1:eJYTW6AOzFLlSUoESovMjnu7rMw=",
            ),
        ];
        for (a, b, seed0, seed1) in cases {
            assert_eq!(community_id(a, b), seed0);
            assert_eq!(community_id(b, a), seed0);
            assert_eq!(community_id_seeded(1, a, b), seed1);
            assert_eq!(community_id_seeded(1, b, a), seed1);
        }
    }

    /// Arkime's session of its `ftp.pcap` test capture states the Community ID of the control
    /// connection (../shared/corpus/arkime/ftp/peer/ftp.test).
    #[test]
    fn arkime_test_capture() {
        assert_eq!(
            community_id(at("10.10.30.26", 43958), at("129.21.171.72", 21)),
            "1:Y6I3JhgebNYJ7cm/dvZaIvCLNoU="
        );
    }

    #[test]
    fn connection_ids_are_stable_and_distinct() {
        let (a, b) = (at("10.0.0.1", 40000), at("10.0.0.2", 21));
        let id = conn_id(Timestamp::from_nanos(5), a, b);
        assert_eq!(id, conn_id(Timestamp::from_nanos(5), a, b));
        assert!(
            id.starts_with('C') && id.len() <= 18 && id.len() > 10,
            "{id}"
        );
        assert!(id[1..].bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(id, conn_id(Timestamp::from_nanos(6), a, b));
        assert_ne!(id, conn_id(Timestamp::from_nanos(5), b, a));
        assert!(file_id(Timestamp::from_nanos(5), a, b).starts_with('F'));
    }
}
