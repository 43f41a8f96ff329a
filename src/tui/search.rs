//! The search language of the `/` filter, parsed once per keystroke and matched against every
//! row of a list. A query is words, all of which must hold:
//!
//! - `word`: anywhere in the row's text (case-insensitive); an address (`10.0.11.1`, or with a
//!   port) matches only that address, never `10.0.11.10`;
//! - `field:value` with `user:`, `host:`, `port:`, `status:`, `cmd:`, `path:`, `kind:`;
//! - `-word` or `!word`: must not hold;
//! - a value between slashes is a regular expression (`path:/\.(zip|rar)$/`); `*` in a value
//!   is a wildcard (`user:adm*`).
//!
//! `host:` takes an exact address (`10.0.11.1`), a prefix ending in `.` or `:` (`10.0.11.`),
//! or a CIDR block (`10.0.11.0/24`). `port:` takes a number or a range (`20-21`).

use std::net::{IpAddr, SocketAddr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Any,
    User,
    Host,
    Port,
    Status,
    Cmd,
    Path,
    Kind,
}

impl Field {
    fn parse(name: &str) -> Option<Field> {
        Some(match name {
            "user" | "u" => Field::User,
            "host" | "ip" | "h" => Field::Host,
            "port" => Field::Port,
            "status" | "verdict" | "s" => Field::Status,
            "cmd" | "command" | "c" => Field::Cmd,
            "path" | "file" | "p" => Field::Path,
            "kind" | "k" => Field::Kind,
            _ => return None,
        })
    }
}

/// How a text value is matched.
#[derive(Debug, Clone)]
pub enum Text {
    /// Somewhere in the text (lower-cased).
    Contains(String),
    /// The whole text (lower-cased).
    Exact(String),
    /// The whole text, with `*` wildcards (lower-cased).
    Glob(Regex),
    Regex(Regex),
}

impl Text {
    fn new(value: &str, whole: bool) -> Result<Text, String> {
        let lower = value.to_lowercase();
        if lower.len() >= 2 && lower.starts_with('/') && lower.ends_with('/') {
            return Regex::new(&lower[1..lower.len() - 1]).map(Text::Regex);
        }
        if whole && !lower.contains('*') {
            return Ok(Text::Exact(lower));
        }
        if lower.contains('*') {
            let mut pattern = String::from("^");
            for c in lower.chars() {
                match c {
                    '*' => pattern.push_str(".*"),
                    c if c.is_ascii_alphanumeric() || !c.is_ascii() => pattern.push(c),
                    c => {
                        pattern.push('\\');
                        pattern.push(c);
                    }
                }
            }
            if whole || !lower.ends_with('*') {
                pattern.push('$');
            }
            if !whole && !lower.starts_with('*') {
                // A wildcard in a free word: anywhere.
                pattern.remove(0);
            }
            return Regex::new(&pattern).map(Text::Glob);
        }
        Ok(Text::Contains(lower))
    }

    /// Matches `text`, which the caller lower-cased.
    pub fn matches(&self, text: &str) -> bool {
        match self {
            Text::Contains(s) => text.contains(s.as_str()),
            Text::Exact(s) => text == s,
            Text::Glob(r) | Text::Regex(r) => r.is_match(text.as_bytes()),
        }
    }

    /// Whether the text of an address (digits, hex, `.`, `:`, brackets) could match: when
    /// not, addresses need not be formatted to be tried.
    pub fn could_match_address(&self) -> bool {
        match self {
            Text::Contains(s) | Text::Exact(s) => s
                .chars()
                .all(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']')),
            Text::Glob(_) | Text::Regex(_) => true,
        }
    }

    /// Matches raw bytes (lower-cased here when needed).
    pub fn matches_bytes(&self, bytes: &[u8]) -> bool {
        // Most names are lower-case ASCII already: no copy for them.
        match std::str::from_utf8(bytes) {
            Ok(s) if s.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) => self.matches(s),
            _ => self.matches(&String::from_utf8_lossy(bytes).to_lowercase()),
        }
    }
}

/// How an address is matched.
#[derive(Debug, Clone)]
pub enum Host {
    Exact(IpAddr),
    Socket(SocketAddr),
    /// A CIDR block.
    Block(IpAddr, u8),
    /// A textual prefix of the address (`10.0.11.`).
    Prefix(String),
    Text(Text),
}

impl Host {
    fn new(value: &str) -> Result<Host, String> {
        if let Ok(ip) = value.parse::<IpAddr>() {
            return Ok(Host::Exact(ip));
        }
        if let Ok(sa) = value.parse::<SocketAddr>() {
            return Ok(Host::Socket(sa));
        }
        if let Some((ip, bits)) = value.split_once('/')
            && let (Ok(ip), Ok(bits)) = (ip.parse::<IpAddr>(), bits.parse::<u8>())
        {
            return Ok(Host::Block(ip, bits));
        }
        if value.ends_with('.') || value.ends_with(':') {
            return Ok(Host::Prefix(value.to_lowercase()));
        }
        Text::new(value, true).map(Host::Text)
    }

    pub fn matches(&self, addr: SocketAddr) -> bool {
        match self {
            Host::Exact(ip) => canonical(addr.ip()) == canonical(*ip),
            Host::Socket(sa) => {
                canonical(sa.ip()) == canonical(addr.ip()) && sa.port() == addr.port()
            }
            Host::Block(net, bits) => in_block(canonical(addr.ip()), canonical(*net), *bits),
            Host::Prefix(p) => canonical(addr.ip()).to_string().starts_with(p.as_str()),
            Host::Text(t) => t.matches(&canonical(addr.ip()).to_string()),
        }
    }
}

/// IPv4-mapped IPv6 addresses compare as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn in_block(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) if bits <= 32 => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) if bits <= 128 => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

#[derive(Debug, Clone)]
pub enum Matcher {
    Text(Text),
    Host(Host),
    Port(u16, u16),
}

/// One word of a query.
#[derive(Debug, Clone)]
pub struct Term {
    pub negate: bool,
    pub field: Field,
    pub matcher: Matcher,
}

impl Term {
    /// The text matcher of a text field (None for hosts and ports).
    pub fn text(&self) -> Option<&Text> {
        match &self.matcher {
            Matcher::Text(t) => Some(t),
            _ => None,
        }
    }

    pub fn host_matches(&self, addr: SocketAddr) -> bool {
        match &self.matcher {
            Matcher::Host(h) => h.matches(addr),
            Matcher::Port(lo, hi) => (*lo..=*hi).contains(&addr.port()),
            Matcher::Text(t) => t.matches(&addr.to_string()),
        }
    }
}

/// A parsed query: the text typed and its terms (all must hold).
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub text: String,
    pub terms: Vec<Term>,
    /// Why the text is not a query (an unknown field, a bad regex): nothing is filtered then.
    pub error: Option<String>,
}

impl Query {
    pub fn parse(text: &str) -> Query {
        let mut q = Query {
            text: text.to_owned(),
            ..Query::default()
        };
        for word in split_words(text) {
            match parse_term(&word) {
                Ok(Some(t)) => q.terms.push(t),
                Ok(None) => {}
                Err(e) => {
                    q.error = Some(e);
                    q.terms.clear();
                    return q;
                }
            }
        }
        q
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether a row holds every term; `test` says whether one (not negated) term holds.
    pub fn matches(&self, mut test: impl FnMut(&Term) -> bool) -> bool {
        self.terms.iter().all(|t| test(t) != t.negate)
    }
}

/// Words split at spaces, a double-quoted part keeping its spaces.
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

fn parse_term(word: &str) -> Result<Option<Term>, String> {
    let (negate, word) = match word.strip_prefix(['-', '!']) {
        Some(rest) => (true, rest),
        None => (false, word),
    };
    if word.is_empty() {
        return Ok(None);
    }
    // `name:value`, unless what precedes the colon is no field (an IPv6 address, a time).
    let (field, value) = match word.split_once(':') {
        Some((name, value))
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphabetic()) =>
        {
            match Field::parse(&name.to_ascii_lowercase()) {
                Some(f) => (f, value),
                None if word.parse::<IpAddr>().is_ok() => (Field::Any, word),
                None => {
                    return Err(format!(
                        "unknown field {name}: (user host port status cmd path kind)"
                    ));
                }
            }
        }
        _ => (Field::Any, word),
    };
    if value.is_empty() {
        return Ok(None);
    }
    let matcher = match field {
        Field::Host => Matcher::Host(Host::new(value)?),
        Field::Port => {
            let (lo, hi) = value.split_once('-').unwrap_or((value, value));
            match (lo.parse::<u16>(), hi.parse::<u16>()) {
                (Ok(lo), Ok(hi)) => Matcher::Port(lo, hi),
                _ => return Err(format!("port:{value} is not a port or a range")),
            }
        }
        // A free word that is an address is matched as one: never as a substring.
        Field::Any if value.parse::<IpAddr>().is_ok() || value.parse::<SocketAddr>().is_ok() => {
            return Ok(Some(Term {
                negate,
                field: Field::Host,
                matcher: Matcher::Host(Host::new(value)?),
            }));
        }
        Field::User | Field::Status | Field::Cmd | Field::Kind => {
            Matcher::Text(Text::new(value, true)?)
        }
        Field::Path | Field::Any => Matcher::Text(Text::new(value, false)?),
    };
    Ok(Some(Term {
        negate,
        field,
        matcher,
    }))
}

/// A regular expression of the `regex` crate: matched in time linear in the text whatever
/// the pattern (no backtracking blow-up on hostile text), and its compiled size is bounded.
#[derive(Debug, Clone)]
pub struct Regex(regex::bytes::Regex);

/// Compiled size a pattern may take: a bound on hostile patterns.
const MAX_REGEX_SIZE: usize = 1 << 20;

impl Regex {
    pub fn new(pattern: &str) -> Result<Regex, String> {
        regex::bytes::RegexBuilder::new(pattern)
            // `^` and `$` at every line of a dialogue or a file, not only at its ends.
            .multi_line(true)
            .size_limit(MAX_REGEX_SIZE)
            .build()
            .map(Regex)
            .map_err(|e| format!("bad regex /{pattern}/: {e}"))
    }

    pub fn is_match(&self, text: &[u8]) -> bool {
        self.0.is_match(text)
    }

    /// The first match at or after `start`, as (start, end).
    pub fn find_at(&self, text: &[u8], start: usize) -> Option<(usize, usize)> {
        self.0.find_at(text, start).map(|m| (m.start(), m.end()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(p: &str, t: &str) -> Option<(usize, usize)> {
        Regex::new(p).unwrap().find_at(t.as_bytes(), 0)
    }

    #[test]
    fn regexes_find_the_first_match() {
        assert_eq!(re("abc", "xxabcx"), Some((2, 5)));
        assert_eq!(re("a.c", "abc"), Some((0, 3)));
        assert_eq!(re("^b", "ab"), None);
        assert_eq!(re("^b", "a\nb"), Some((2, 3)));
        assert_eq!(re("b$", "ab"), Some((1, 2)));
        assert_eq!(re("a+", "baaa"), Some((1, 4)));
        assert_eq!(re("colou?r", "color"), Some((0, 5)));
        assert_eq!(re(r"\.(zip|rar)$", "x.rar"), Some((1, 5)));
        assert_eq!(re("[0-9]+", "ab123c"), Some((2, 5)));
        assert_eq!(re("[^a-z]", "abc1"), Some((3, 4)));
        assert_eq!(re(r"\d\d", "a1b22"), Some((3, 5)));
        assert_eq!(re("x*", "abc"), Some((0, 0)));
        assert_eq!(re(r"run-4\d*", "/data/run-4/file-4.bin"), Some((6, 11)));
        let q = Query::parse(r"path:/run-4\d*/ port:40000-40100");
        assert!(q.error.is_none(), "{:?}", q.error);
        assert!(
            q.terms[0]
                .text()
                .unwrap()
                .matches_bytes(b"/data/run-4/file-4.bin")
        );
        assert!(Regex::new("(a").is_err());
        assert!(Regex::new("*a").is_err());
        // Linear time: a pattern that backtracking engines take forever on.
        let hostile = "a".repeat(5000);
        assert_eq!(re("(a*)*b", &hostile), None);
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn host_term(q: &str) -> Term {
        let q = Query::parse(q);
        assert!(q.error.is_none(), "{:?}", q.error);
        q.terms[0].clone()
    }

    #[test]
    fn an_address_matches_itself_not_its_longer_neighbours() {
        for q in ["host:10.0.11.1", "10.0.11.1"] {
            let t = host_term(q);
            assert!(t.host_matches(addr("10.0.11.1:21")), "{q}");
            for n in 10..=19 {
                assert!(
                    !t.host_matches(addr(&format!("10.0.11.{n}:21"))),
                    "{q} .{n}"
                );
            }
        }
        let prefix = host_term("host:10.0.11.");
        assert!(prefix.host_matches(addr("10.0.11.17:1")));
        assert!(!prefix.host_matches(addr("10.0.110.1:1")));
        let block = host_term("host:10.0.0.0/8");
        assert!(block.host_matches(addr("10.200.1.1:1")));
        assert!(!block.host_matches(addr("11.0.0.1:1")));
        let mapped = host_term("host:10.0.0.1");
        assert!(mapped.host_matches(addr("[::ffff:10.0.0.1]:21")));
        let port = host_term("port:20-21");
        assert!(port.host_matches(addr("1.2.3.4:20")));
        assert!(!port.host_matches(addr("1.2.3.4:22")));
        let sock = host_term("10.0.0.1:21");
        assert!(sock.host_matches(addr("10.0.0.1:21")));
        assert!(!sock.host_matches(addr("10.0.0.1:2121")));
    }

    #[test]
    fn words_fields_negation_and_errors() {
        let q = Query::parse(r#"user:adm* -cmd:retr !path:/\.zip$/ "two words""#);
        assert!(q.error.is_none());
        assert_eq!(q.terms.len(), 4);
        assert_eq!(q.terms[0].field, Field::User);
        assert!(q.terms[0].text().unwrap().matches("admin"));
        assert!(!q.terms[0].text().unwrap().matches("sysadmin"));
        assert!(q.terms[1].negate && q.terms[1].field == Field::Cmd);
        assert!(q.terms[2].negate);
        assert!(q.terms[2].text().unwrap().matches("/x/a.zip"));
        assert!(q.terms[3].text().unwrap().matches("some two words here"));
        assert!(Query::parse("colour:red").error.is_some());
        assert!(Query::parse("path:/(/").error.is_some());
        assert!(Query::parse("port:x").error.is_some());
        // User names are whole: `bob` is not `bobby`.
        assert!(!host_term("user:bob").text().unwrap().matches("bobby"));
        assert!(host_term("user:BOB").text().unwrap().matches("bob"));
        // An IPv6 address is a word, not a field.
        assert_eq!(host_term("fe80::1").field, Field::Host);
    }
}
