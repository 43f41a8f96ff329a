//! Whether a connection on a port other than 21 carries an FTP control dialogue, from its
//! first lines: the server's greeting (RFC 959 §5.4 "Connection Establishment") and the
//! client's first verbs (RFC 959 §4.1, against SMTP's of RFC 5321 §4.1 and POP3's).

use crate::flow::{Dir, PerDir};
use crate::frame::Timestamp;
use crate::ftp::command;
use crate::ftp::reply;

/// What the first lines of an unclassified connection say.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// FTP control; the client is on this side.
    Ftp {
        client_dir: Dir,
    },
    NotFtp,
    Undecided,
    /// Implicit FTPS: a connection to port 990 that opens with the client's TLS ClientHello.
    ImplicitTls,
}

/// The complete lines of one direction, in order (at most `max` of them).
fn lines_of(chunks: &[(Timestamp, Dir, Vec<u8>)], dir: Dir, max: usize) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    let mut line = Vec::new();
    for (_, _, bytes) in chunks.iter().filter(|(_, d, _)| *d == dir) {
        let mut rest: &[u8] = bytes;
        while let Some(i) = memchr::memchr(b'\n', rest) {
            line.extend_from_slice(rest.get(..i).unwrap_or(&[]));
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            lines.push(std::mem::take(&mut line));
            if lines.len() >= max {
                return lines;
            }
            rest = rest.get(i + 1..).unwrap_or(&[]);
        }
        line.extend_from_slice(rest);
    }
    lines
}

pub(crate) fn is_greeting(line: &[u8]) -> bool {
    let upper = line.to_ascii_uppercase();
    // SMTP also greets with 220; when its greeting names the protocol, that settles it.
    matches!(reply::reply_code(line), Some((120 | 220 | 421, _)))
        && memchr::memmem::find(&upper, b"SMTP").is_none()
}

/// What one client line says of the protocol, after a 220 greeting (which FTP, SMTP and
/// others share).
#[derive(Debug, PartialEq, Eq)]
enum ClientLine {
    Ftp,
    NotFtp,
    /// A verb both protocols have (QUIT, NOOP, HELP): the next line decides.
    Either,
}

/// SMTP (RFC 5321 §4.1, RFC 3207 STARTTLS, RFC 4954 AUTH) and LMTP (RFC 2033) verbs that FTP
/// does not have. AUTH is in both: FTP's names an RFC 2228 mechanism (TLS, SSL, TLS-C, TLS-P
/// of RFC 4217 §4, GSSAPI, KERBEROS_V4), SMTP's a SASL one (LOGIN, PLAIN, CRAM-MD5...). SMTP's
/// AUTH may only follow EHLO (RFC 4954 §4), so a first line AUTH GSSAPI is FTP's.
fn client_line(line: &[u8]) -> ClientLine {
    let (verb, arg) = command::split_command(line);
    match &verb[..] {
        b"QUIT" | b"NOOP" | b"HELP" => ClientLine::Either,
        b"HELO" | b"EHLO" | b"LHLO" | b"MAIL" | b"RCPT" | b"DATA" | b"RSET" | b"VRFY" | b"EXPN"
        | b"TURN" | b"ETRN" | b"BDAT" | b"STARTTLS" => ClientLine::NotFtp,
        b"AUTH" => {
            let mechanism = arg.trim_ascii().to_ascii_uppercase();
            if matches!(
                &mechanism[..],
                b"TLS" | b"SSL" | b"TLS-C" | b"TLS-P" | b"GSSAPI" | b"KERBEROS_V4"
            ) {
                ClientLine::Ftp
            } else {
                ClientLine::NotFtp
            }
        }
        v if command::is_known_verb(v) => ClientLine::Ftp,
        _ => ClientLine::NotFtp,
    }
}

/// Client lines looked at before a greeted connection whose client only says QUIT, NOOP or
/// HELP is given up (it carries no FTP then either).
const MAX_JUDGED_CLIENT_LINES: usize = 4;

/// Decides from the first lines of each side whether a connection on a port other than 21 is
/// FTP control.
///
/// - A greeting (120/220/421, RFC 959 §5.4 "Connection Establishment") is not enough: SMTP
///   greets with 220 too, often without naming itself. The client's first line decides: an FTP
///   verb (USER, AUTH TLS, FEAT, SYST, OPTS...) makes it FTP; an SMTP verb (EHLO, MAIL,
///   AUTH LOGIN...) or anything else does not; QUIT, NOOP and HELP wait for the next line.
///   Until the client speaks the connection is undecided (bounded by the caller: bytes, time,
///   and the connection's end, each of which make it not FTP: a client that never speaks
///   gave nothing to show).
/// - Without a greeting (picked up mid-stream, or a server that did not greet): the client's
///   first line is a known FTP verb other than USER, PASS, QUIT, HELP or NOOP (POP3 has those).
pub fn judge(chunks: &[(Timestamp, Dir, Vec<u8>)]) -> Verdict {
    let lines = PerDir::new(
        lines_of(chunks, Dir::FromInitiator, MAX_JUDGED_CLIENT_LINES),
        lines_of(chunks, Dir::FromResponder, MAX_JUDGED_CLIENT_LINES),
    );
    // The usual way round first: the client opened the connection.
    for client_dir in Dir::BOTH {
        let greeted = lines
            .get(client_dir.other())
            .first()
            .is_some_and(|l| is_greeting(l));
        if !greeted {
            continue;
        }
        let client_lines = lines.get(client_dir);
        for line in client_lines {
            match client_line(line) {
                ClientLine::Ftp => return Verdict::Ftp { client_dir },
                ClientLine::NotFtp => return Verdict::NotFtp,
                ClientLine::Either => {}
            }
        }
        return if client_lines.len() >= MAX_JUDGED_CLIENT_LINES {
            Verdict::NotFtp
        } else {
            Verdict::Undecided
        };
    }
    let Some(client) = lines.get(Dir::FromInitiator).first() else {
        return if lines.iter().any(|(_, l)| !l.is_empty()) {
            Verdict::NotFtp
        } else {
            Verdict::Undecided
        };
    };
    let verb = command::split_command(client).0;
    let server_spoke = !lines.get(Dir::FromResponder).is_empty();
    if command::is_known_verb(&verb)
        && !matches!(&verb[..], b"USER" | b"PASS" | b"QUIT" | b"HELP" | b"NOOP")
        && client_line(client) == ClientLine::Ftp
    {
        return Verdict::Ftp {
            client_dir: Dir::FromInitiator,
        };
    }
    if server_spoke {
        Verdict::NotFtp
    } else {
        Verdict::Undecided
    }
}
