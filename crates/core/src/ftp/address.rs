//! Data-channel endpoints announced on the control connection.
//!
//! Implements the argument and reply grammars of:
//!
//! - RFC 959 §4.1.2 (`PORT h1,h2,h3,h4,p1,p2`) and §4.2 / Appendix II reply 227 (`PASV`);
//! - RFC 2428 §2 (`EPRT |af|addr|port|`) and §3 reply 229 (`EPSV`, `(|||port|)`);
//! - RFC 1639 §2 (`LPRT af,hal,h1,...,pal,p1,...`) and reply 228 (`LPSV`).
//!
//! Every parser takes raw bytes (arguments are not always UTF-8), allocates nothing and
//! never panics: hostile input becomes an [`AddressError`] whose [`AddressError::name`] is a
//! stable snake_case string suitable for anomaly events.
//!
//! Leniency, chosen after real servers: spaces and tabs around numbers are tolerated, and the
//! 227/228 reply texts are searched for the first run of comma-separated numbers of the right
//! length, with or without parentheses. A port of 0 is never a usable endpoint and is reported
//! as [`AddressError::PortZero`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why an announced data endpoint could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressError {
    /// Wrong shape: missing or extra fields, non-digits, empty numbers, no endpoint found.
    Malformed,
    /// A number does not fit its field (a byte > 255, a port > 65535, too many digits).
    NumberOutOfRange,
    /// The EPRT/EPSV delimiter is not printable ASCII (RFC 2428: 33..=126) or is inconsistent.
    BadDelimiter,
    /// An address family other than IPv4 or IPv6 (EPRT 1/2, LPRT 4/6).
    UnsupportedFamily,
    /// The address text does not parse for the announced family.
    BadAddress,
    /// The endpoint's port is 0.
    PortZero,
}

impl AddressError {
    /// Stable snake_case name, used in anomaly events and counters.
    pub fn name(self) -> &'static str {
        match self {
            AddressError::Malformed => "malformed",
            AddressError::NumberOutOfRange => "number_out_of_range",
            AddressError::BadDelimiter => "bad_delimiter",
            AddressError::UnsupportedFamily => "unsupported_family",
            AddressError::BadAddress => "bad_address",
            AddressError::PortZero => "port_zero",
        }
    }
}

impl std::fmt::Display for AddressError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::error::Error for AddressError {}

/// Longest textual address accepted in EPRT (an IPv6 address with an embedded IPv4 is 45).
const MAX_ADDR_TEXT: usize = 64;

/// Longest `af|addr|port|` body accepted inside the parentheses of a 229 reply.
const MAX_229_BODY: usize = 3 + 2 + MAX_ADDR_TEXT + 5 + 8;

/// Most numbers an LPRT argument can hold: af, hal, 16 address bytes, pal, 2 port bytes.
const MAX_LPRT_NUMBERS: usize = 21;

/// PORT argument `h1,h2,h3,h4,p1,p2` (RFC 959 §4.1.2): six decimal numbers 0..=255, each at
/// most 3 digits; spaces around numbers are tolerated.
pub fn parse_port_arg(arg: &[u8]) -> Result<SocketAddr, AddressError> {
    let mut n = [0u8; 6];
    let mut count = 0usize;
    for field in trim(arg).split(|&b| b == b',') {
        let slot = n.get_mut(count).ok_or(AddressError::Malformed)?;
        *slot = parse_byte(field)?;
        count += 1;
    }
    if count != n.len() {
        return Err(AddressError::Malformed);
    }
    let [h1, h2, h3, h4, p1, p2] = n;
    let port = u16::from_be_bytes([p1, p2]);
    endpoint(IpAddr::V4(Ipv4Addr::new(h1, h2, h3, h4)), port)
}

/// EPRT argument `<d><af><d><addr><d><port><d>` (RFC 2428 §2). The first byte is the
/// delimiter (any ASCII 33..=126, usually `|`); af 1 is IPv4, 2 is IPv6.
pub fn parse_eprt_arg(arg: &[u8]) -> Result<SocketAddr, AddressError> {
    let arg = trim(arg);
    let (&delim, rest) = arg.split_first().ok_or(AddressError::Malformed)?;
    if !(33..=126).contains(&delim) {
        return Err(AddressError::BadDelimiter);
    }
    // Fields after the opening delimiter: af, addr, port, and an empty tail after the last one.
    let mut fields = rest.split(|&b| b == delim);
    let (af, addr, port, tail) = match (fields.next(), fields.next(), fields.next(), fields.next())
    {
        (Some(af), Some(addr), Some(port), Some(tail)) => (af, addr, port, tail),
        _ => return Err(AddressError::Malformed),
    };
    if !tail.is_empty() || fields.next().is_some() {
        return Err(AddressError::Malformed);
    }
    let af = trim(af);
    if af.is_empty() || !af.iter().all(u8::is_ascii_digit) {
        return Err(AddressError::Malformed);
    }
    let addr = trim(addr);
    if addr.is_empty() || addr.len() > MAX_ADDR_TEXT {
        return Err(AddressError::BadAddress);
    }
    let text = std::str::from_utf8(addr).map_err(|_| AddressError::BadAddress)?;
    let ip = match af {
        b"1" => IpAddr::V4(
            text.parse::<Ipv4Addr>()
                .map_err(|_| AddressError::BadAddress)?,
        ),
        b"2" => IpAddr::V6(
            text.parse::<Ipv6Addr>()
                .map_err(|_| AddressError::BadAddress)?,
        ),
        _ => return Err(AddressError::UnsupportedFamily),
    };
    endpoint(ip, parse_port_decimal(port)?)
}

/// LPRT argument `af,hal,h1,...,pal,p1,p2` (RFC 1639 §2): af 4 with hal 4, or af 6 with
/// hal 16; pal 2. All numbers are decimal bytes.
pub fn parse_lprt_arg(arg: &[u8]) -> Result<SocketAddr, AddressError> {
    let mut n = [0u8; MAX_LPRT_NUMBERS];
    let mut count = 0usize;
    for field in trim(arg).split(|&b| b == b',') {
        let slot = n.get_mut(count).ok_or(AddressError::Malformed)?;
        *slot = parse_byte(field)?;
        count += 1;
    }
    let numbers = n.get(..count).ok_or(AddressError::Malformed)?;
    let (&af, rest) = numbers.split_first().ok_or(AddressError::Malformed)?;
    let (&hal, rest) = rest.split_first().ok_or(AddressError::Malformed)?;
    let expected_hal = match af {
        4 => 4,
        6 => 16,
        _ => return Err(AddressError::UnsupportedFamily),
    };
    if usize::from(hal) != expected_hal {
        return Err(AddressError::Malformed);
    }
    let (host, rest) = rest
        .split_at_checked(expected_hal)
        .ok_or(AddressError::Malformed)?;
    let port = match rest {
        [2, p1, p2] => u16::from_be_bytes([*p1, *p2]),
        _ => return Err(AddressError::Malformed),
    };
    let ip = if let Ok(v4) = <[u8; 4]>::try_from(host) {
        IpAddr::V4(Ipv4Addr::from(v4))
    } else {
        let v6 = <[u8; 16]>::try_from(host).map_err(|_| AddressError::Malformed)?;
        IpAddr::V6(Ipv6Addr::from(v6))
    };
    endpoint(ip, port)
}

/// Text of a 227 reply (after `227 `): the first run of six comma-separated numbers anywhere
/// in it, with or without parentheses (RFC 959 §4.2 leaves the format open; RFC 1123 §4.1.2.6
/// asks clients to scan for the numbers).
pub fn parse_227_text(text: &[u8]) -> Result<SocketAddr, AddressError> {
    let run = find_number_run(text, 6).ok_or(AddressError::Malformed)?;
    parse_port_arg(run)
}

/// Text of a 229 reply: `Entering Extended Passive Mode (|||6446|)` (RFC 2428 §3). The
/// delimiter is the byte after `(`; the port is returned alone since the host is the
/// control connection's server. The long form `(|af|addr|port|)` is tolerated.
pub fn parse_229_text(text: &[u8]) -> Result<u16, AddressError> {
    let mut first_error = None;
    let mut rest = text;
    while let Some(open) = memchr::memchr(b'(', rest) {
        let inner = rest.get(open + 1..).unwrap_or_default();
        match parse_229_inner(inner) {
            Ok(port) => return Ok(port),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
        rest = inner;
    }
    Err(first_error.unwrap_or(AddressError::Malformed))
}

/// Text of a 228 reply: `Entering Long Passive Mode (4,4,h1,h2,h3,h4,2,p1,p2)` or the af 6
/// form (RFC 1639 §2); the first run of at least nine comma-separated numbers is parsed as
/// an LPRT argument.
pub fn parse_228_text(text: &[u8]) -> Result<SocketAddr, AddressError> {
    let run = find_number_run(text, 9).ok_or(AddressError::Malformed)?;
    parse_lprt_arg(run)
}

/// Parses what follows a `(` in a 229 reply: `<d><d><d><port><d>)` (or `<d>af<d>addr<d>...`).
fn parse_229_inner(inner: &[u8]) -> Result<u16, AddressError> {
    let (&delim, body) = inner.split_first().ok_or(AddressError::Malformed)?;
    if !(33..=126).contains(&delim) || delim.is_ascii_digit() || delim == b')' {
        return Err(AddressError::BadDelimiter);
    }
    // The parenthesised part is short; bounding the search keeps many '(' linear.
    let window = body.get(..body.len().min(MAX_229_BODY)).unwrap_or(body);
    let close = memchr::memchr(b')', window).ok_or(AddressError::Malformed)?;
    let body = body.get(..close).ok_or(AddressError::Malformed)?;
    // body = af <d> addr <d> port <d>; af and addr are normally empty.
    let mut fields = body.split(|&b| b == delim);
    let (port, tail) = match (fields.next(), fields.next(), fields.next(), fields.next()) {
        (Some(_af), Some(_addr), Some(port), Some(tail)) => (port, tail),
        _ => return Err(AddressError::BadDelimiter),
    };
    if !tail.is_empty() || fields.next().is_some() {
        return Err(AddressError::Malformed);
    }
    let port = parse_port_decimal(port)?;
    if port == 0 {
        return Err(AddressError::PortZero);
    }
    Ok(port)
}

/// Finds the first maximal run `N (sp* , sp* N)*` with at least `min` numbers that is not
/// preceded by a digit or `-` (a negative number never starts a valid run), and returns it.
fn find_number_run(text: &[u8], min: usize) -> Option<&[u8]> {
    let mut i = 0usize;
    while i < text.len() {
        let before = i.checked_sub(1).and_then(|p| text.get(p));
        let continues_number = before.is_some_and(|b| b.is_ascii_digit() || *b == b'-');
        if continues_number || !text.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
            continue;
        }
        let (end, count) = scan_run(text, i);
        if count >= min {
            return text.get(i..end);
        }
        // Resume after this run; `end` is always past `i`.
        i = end.max(i + 1);
    }
    None
}

/// From a digit at `start`, scans comma-separated numbers; returns (end, number count).
fn scan_run(text: &[u8], start: usize) -> (usize, usize) {
    let mut pos = start;
    let mut count = 0usize;
    let mut end = start;
    loop {
        let digits = text
            .get(pos..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            return (end, count);
        }
        pos += digits;
        end = pos;
        count += 1;
        // Optional blanks, a comma, optional blanks, then the next number must follow.
        let mut next = pos;
        next += blanks_at(text, next);
        if text.get(next) != Some(&b',') {
            return (end, count);
        }
        next += 1;
        next += blanks_at(text, next);
        if !text.get(next).is_some_and(u8::is_ascii_digit) {
            return (end, count);
        }
        pos = next;
    }
}

fn blanks_at(text: &[u8], pos: usize) -> usize {
    text.get(pos..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count()
}

/// One decimal byte field: blanks around, 1..=3 digits, value <= 255.
fn parse_byte(field: &[u8]) -> Result<u8, AddressError> {
    let digits = trim(field);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(AddressError::Malformed);
    }
    if digits.len() > 3 {
        return Err(AddressError::NumberOutOfRange);
    }
    let value = digits
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    u8::try_from(value).map_err(|_| AddressError::NumberOutOfRange)
}

/// A decimal TCP port field (EPRT/EPSV): blanks around, digits only, value <= 65535.
/// Port 0 is returned as is; callers decide.
fn parse_port_decimal(field: &[u8]) -> Result<u16, AddressError> {
    let digits = trim(field);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(AddressError::Malformed);
    }
    let mut value: u16 = 0;
    for d in digits {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u16::from(d - b'0')))
            .ok_or(AddressError::NumberOutOfRange)?;
    }
    Ok(value)
}

fn endpoint(ip: IpAddr, port: u16) -> Result<SocketAddr, AddressError> {
    if port == 0 {
        return Err(AddressError::PortZero);
    }
    Ok(SocketAddr::new(ip, port))
}

/// Strips ASCII blanks, CR and LF on both sides.
fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;
    use AddressError::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn port_arg_table() {
        let cases: &[(&[u8], Result<SocketAddr, AddressError>)] = &[
            (b"192,168,1,2,19,137", Ok(sa("192.168.1.2:5001"))),
            (b"10,0,0,1,4,1", Ok(sa("10.0.0.1:1025"))),
            (b"127,0,0,1,255,255", Ok(sa("127.0.0.1:65535"))),
            (b"0,0,0,0,0,1", Ok(sa("0.0.0.0:1"))),
            (b" 192, 168 ,1 ,2,19 , 137 ", Ok(sa("192.168.1.2:5001"))),
            (b"192,168,1,2,19,137\r\n", Ok(sa("192.168.1.2:5001"))),
            (b"\t1,2,3,4,5,6\t", Ok(sa("1.2.3.4:1286"))),
            (b"001,002,003,004,000,021", Ok(sa("1.2.3.4:21"))),
            (b"256,168,1,2,19,137", Err(NumberOutOfRange)),
            (b"192,168,1,2,19,999", Err(NumberOutOfRange)),
            (b"1000,1,1,1,1,1", Err(NumberOutOfRange)),
            (b"0001,1,1,1,1,1", Err(NumberOutOfRange)),
            (
                b"99999999999999999999999999,1,1,1,1,1",
                Err(NumberOutOfRange),
            ),
            (b"192,168,1,2,0,0", Err(PortZero)),
            (b"192,168,1,2,19", Err(Malformed)),
            (b"192,168,1,2,19,137,1", Err(Malformed)),
            (b"192,168,1,2,19,137,", Err(Malformed)),
            (b",192,168,1,2,19,137", Err(Malformed)),
            (b"192,,1,2,19,137", Err(Malformed)),
            (b"-1,168,1,2,19,137", Err(Malformed)),
            (b"192,168,1,2,19,+1", Err(Malformed)),
            (b"192.168.1.2,19,137", Err(Malformed)),
            (b"a,b,c,d,e,f", Err(Malformed)),
            (b"1 2,3,4,5,6,7", Err(Malformed)),
            (b"", Err(Malformed)),
            (b"   ", Err(Malformed)),
            (b",,,,,", Err(Malformed)),
            (b"\xff\xfe,1,1,1,1,1", Err(Malformed)),
            (b"\x001,1,1,1,1,1", Err(Malformed)),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_port_arg(input),
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn eprt_arg_table() {
        let cases: &[(&[u8], Result<SocketAddr, AddressError>)] = &[
            // RFC 2428 §2 examples.
            (b"|1|132.235.1.2|6275|", Ok(sa("132.235.1.2:6275"))),
            (
                b"|2|1080::8:800:200C:417A|5282|",
                Ok(sa("[1080::8:800:200C:417A]:5282")),
            ),
            (b"|2|::1|5282|", Ok(sa("[::1]:5282"))),
            (b"|2|::ffff:1.2.3.4|80|", Ok(sa("[::ffff:1.2.3.4]:80"))),
            (b"!1!1.2.3.4!5!", Ok(sa("1.2.3.4:5"))),
            (b"#1#1.2.3.4#65535#", Ok(sa("1.2.3.4:65535"))),
            (b"~2~fe80::1~2121~", Ok(sa("[fe80::1]:2121"))),
            (b"| 1 | 10.0.0.1 | 21 |", Ok(sa("10.0.0.1:21"))),
            (b"|1|10.0.0.1|21|\r\n", Ok(sa("10.0.0.1:21"))),
            (b"|1|10.0.0.1|0|", Err(PortZero)),
            (b"|1|10.0.0.1|65536|", Err(NumberOutOfRange)),
            (b"|1|10.0.0.1|99999999999999999999|", Err(NumberOutOfRange)),
            (b"|1|10.0.0.1|-1|", Err(Malformed)),
            (b"|1|10.0.0.1||", Err(Malformed)),
            (b"|1|10.0.0.1|21", Err(Malformed)),
            (b"|1|10.0.0.1|21|x", Err(Malformed)),
            (b"|1|10.0.0.1|21||", Err(Malformed)),
            (b"|1|10.0.0.1|", Err(Malformed)),
            (b"|3|10.0.0.1|21|", Err(UnsupportedFamily)),
            (b"|0|10.0.0.1|21|", Err(UnsupportedFamily)),
            (b"|x|10.0.0.1|21|", Err(Malformed)),
            (b"||10.0.0.1|21|", Err(Malformed)),
            (b"|1|::1|21|", Err(BadAddress)),
            (b"|2|10.0.0.1|21|", Err(BadAddress)),
            (b"|2|::g|21|", Err(BadAddress)),
            (b"|2|1:2:3:4:5:6:7:8:9|21|", Err(BadAddress)),
            (b"|2|fe80::1%eth0|21|", Err(BadAddress)),
            (b"|2|[::1]|21|", Err(BadAddress)),
            (b"|1|256.0.0.1|21|", Err(BadAddress)),
            (b"|1|1.2.3|21|", Err(BadAddress)),
            (b"|1||21|", Err(BadAddress)),
            (b"|1|\xff\xfe|21|", Err(BadAddress)),
            (b" 1 10.0.0.1 21 ", Err(Malformed)), // trimmed: delimiter would be '1'
            (b"\x7f1\x7f10.0.0.1\x7f21\x7f", Err(BadDelimiter)),
            (b"\xc3\xa91\xc3\xa9", Err(BadDelimiter)),
            (b"", Err(Malformed)),
            (b"|", Err(Malformed)),
            (b"||||", Err(Malformed)),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_eprt_arg(input),
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn lprt_arg_table() {
        let cases: &[(&[u8], Result<SocketAddr, AddressError>)] = &[
            (b"4,4,132,235,1,2,2,24,131", Ok(sa("132.235.1.2:6275"))),
            (b" 4, 4, 10,0,0,1, 2, 0,21 ", Ok(sa("10.0.0.1:21"))),
            (
                b"6,16,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,2,20,162",
                Ok(sa("[::1]:5282")),
            ),
            (b"4,4,10,0,0,1,2,0,0", Err(PortZero)),
            (b"4,4,10,0,0,1,2,0", Err(Malformed)),
            (b"4,4,10,0,0,1,2,0,21,1", Err(Malformed)),
            (b"4,4,10,0,0,1,1,21", Err(Malformed)),
            (b"4,4,10,0,0,1,3,0,0,21", Err(Malformed)),
            (b"4,16,10,0,0,1,2,0,21", Err(Malformed)),
            (b"6,4,10,0,0,1,2,0,21", Err(Malformed)),
            (b"5,4,10,0,0,1,2,0,21", Err(UnsupportedFamily)),
            (b"4,4,300,0,0,1,2,0,21", Err(NumberOutOfRange)),
            (b"4,4,10,0,0", Err(Malformed)),
            (b"4", Err(Malformed)),
            (b"", Err(Malformed)),
            (
                b"6,16,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,2,1,1,1,1,1,1,1",
                Err(Malformed),
            ),
            (b"4,4,a,0,0,1,2,0,21", Err(Malformed)),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_lprt_arg(input),
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn reply_227_table() {
        let cases: &[(&[u8], Result<SocketAddr, AddressError>)] = &[
            (
                b"Entering Passive Mode (192,168,1,2,19,137).",
                Ok(sa("192.168.1.2:5001")),
            ),
            (b"=192,168,1,2,19,137", Ok(sa("192.168.1.2:5001"))),
            (
                b"Entering Passive Mode 192,168,1,2,19,137",
                Ok(sa("192.168.1.2:5001")),
            ),
            (
                b"Entering Passive Mode (10,0,0,1,4,1) 2 attempts",
                Ok(sa("10.0.0.1:1025")),
            ),
            (
                b"Entering Passive Mode 1,2,3 then (10,0,0,1,4,1)",
                Ok(sa("10.0.0.1:1025")),
            ),
            (
                b"Entering Passive Mode (192, 168, 1, 2, 19, 137)",
                Ok(sa("192.168.1.2:5001")),
            ),
            (b"Mode 2024 (10,0,0,1,4,1)", Ok(sa("10.0.0.1:1025"))),
            (b"(10,0,0,1,4,1)\r\n", Ok(sa("10.0.0.1:1025"))),
            (b"Entering Passive Mode (10,0,0,1,0,0)", Err(PortZero)),
            (
                b"Entering Passive Mode (300,0,0,1,4,1)",
                Err(NumberOutOfRange),
            ),
            (b"Entering Passive Mode (10,0,0,1,4,1,7)", Err(Malformed)),
            (b"Entering Passive Mode (10,0,0,1,4)", Err(Malformed)),
            (b"Entering Passive Mode (-10,0,0,1,4,1)", Err(Malformed)),
            (b"Entering Passive Mode (10,0,0,-1,4,1)", Err(Malformed)),
            (b"Entering Passive Mode", Err(Malformed)),
            (b"", Err(Malformed)),
            (b",,,,,,", Err(Malformed)),
            (b"\xff\xfe(10,0,0,1,4,1)\xff", Ok(sa("10.0.0.1:1025"))),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_227_text(input),
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn reply_229_table() {
        let cases: &[(&[u8], Result<u16, AddressError>)] = &[
            (b"Entering Extended Passive Mode (|||6446|)", Ok(6446)),
            (b"Entering Extended Passive Mode (!!!6446!)", Ok(6446)),
            (b"Entering Extended Passive Mode (|||6446|).", Ok(6446)),
            (b"EPSV ok (|||65535|)", Ok(65535)),
            (
                b"(EPSV) Entering Extended Passive Mode (|||6446|)",
                Ok(6446),
            ),
            (
                b"Entering Extended Passive Mode (|1|10.0.0.1|6446|)",
                Ok(6446),
            ),
            (b"Entering Extended Passive Mode (|||0|)", Err(PortZero)),
            (
                b"Entering Extended Passive Mode (|||65536|)",
                Err(NumberOutOfRange),
            ),
            (
                b"Entering Extended Passive Mode (|||999999999999999999999999|)",
                Err(NumberOutOfRange),
            ),
            (b"Entering Extended Passive Mode (||||)", Err(Malformed)),
            (
                b"Entering Extended Passive Mode (|||6446)",
                Err(BadDelimiter),
            ),
            (b"Entering Extended Passive Mode (|||6446|", Err(Malformed)),
            (b"Entering Extended Passive Mode (|||64x6|)", Err(Malformed)),
            (
                b"Entering Extended Passive Mode (|!|6446|)",
                Err(BadDelimiter),
            ),
            (
                b"Entering Extended Passive Mode (\x01\x01\x016446\x01)",
                Err(BadDelimiter),
            ),
            (
                b"Entering Extended Passive Mode (|||6446|||)",
                Err(Malformed),
            ),
            (b"Entering Extended Passive Mode |||6446|", Err(Malformed)),
            (b"Entering Extended Passive Mode (", Err(Malformed)),
            (b"", Err(Malformed)),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_229_text(input),
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn reply_228_table() {
        let cases: &[(&[u8], Result<SocketAddr, AddressError>)] = &[
            (
                b"Entering Long Passive Mode (4,4,132,235,1,2,2,24,131)",
                Ok(sa("132.235.1.2:6275")),
            ),
            (
                b"Entering Long Passive Mode 4,4,10,0,0,1,2,0,21",
                Ok(sa("10.0.0.1:21")),
            ),
            (
                b"Entering Long Passive Mode (6,16,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,2,20,162)",
                Ok(sa("[::1]:5282")),
            ),
            (
                b"Long Passive (1,2,3) (4,4,10,0,0,1,2,0,21)",
                Ok(sa("10.0.0.1:21")),
            ),
            (
                b"Entering Long Passive Mode (4,4,10,0,0,1,2,0,0)",
                Err(PortZero),
            ),
            (
                b"Entering Long Passive Mode (5,4,10,0,0,1,2,0,21)",
                Err(UnsupportedFamily),
            ),
            (
                b"Entering Long Passive Mode (4,4,10,0,0,1,2,0,21,9)",
                Err(Malformed),
            ),
            (b"Entering Long Passive Mode (4,4,10,0,0,1)", Err(Malformed)),
            (b"", Err(Malformed)),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_228_text(input),
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn very_long_inputs_do_not_panic() {
        let mut long = b"Entering Passive Mode ".to_vec();
        long.extend(std::iter::repeat_n(b'9', 100_000));
        long.extend(b" (10,0,0,1,4,1)");
        assert_eq!(parse_227_text(&long), Ok(sa("10.0.0.1:1025")));

        let commas: Vec<u8> = b"1,".repeat(50_000);
        assert_eq!(parse_227_text(&commas), Err(Malformed));
        assert_eq!(parse_228_text(&commas), Err(Malformed));
        assert_eq!(parse_port_arg(&commas), Err(Malformed));
        assert_eq!(parse_lprt_arg(&commas), Err(Malformed));

        let parens: Vec<u8> = b"(|||".repeat(50_000);
        assert_eq!(parse_229_text(&parens), Err(Malformed));

        let mut eprt = b"|2|".to_vec();
        eprt.extend(b":".repeat(10_000));
        eprt.extend(b"|21|");
        assert_eq!(parse_eprt_arg(&eprt), Err(BadAddress));

        let pipes = b"|".repeat(100_000);
        assert_eq!(parse_eprt_arg(&pipes), Err(Malformed));
    }

    #[test]
    fn error_names_are_stable() {
        let names: Vec<&str> = [
            Malformed,
            NumberOutOfRange,
            BadDelimiter,
            UnsupportedFamily,
            BadAddress,
            PortZero,
        ]
        .iter()
        .map(|e| e.name())
        .collect();
        assert_eq!(
            names,
            [
                "malformed",
                "number_out_of_range",
                "bad_delimiter",
                "unsupported_family",
                "bad_address",
                "port_zero"
            ]
        );
        assert_eq!(PortZero.to_string(), "port_zero");
    }

    #[test]
    fn pseudo_random_inputs_never_panic() {
        for input in crate::testing::pseudo_random_inputs(b"0123456789,|!() .:-abcdef229", 20_000) {
            let _ = parse_port_arg(&input);
            let _ = parse_eprt_arg(&input);
            let _ = parse_lprt_arg(&input);
            let _ = parse_227_text(&input);
            let _ = parse_229_text(&input);
            let _ = parse_228_text(&input);
        }
    }
}
