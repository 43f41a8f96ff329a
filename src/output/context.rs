//! What a session's records have said before it ends, for outputs that write a transfer (or a
//! Zeek log line) while its session goes on: the control connection, the user, the greeting,
//! the SYST and FEAT replies, CLNT, and the bytes of the dialogue each way. Derived from the
//! records the pipeline already sends (`SessionStarted`, `Exchange`), kept per open session
//! and dropped when it ends.

use crate::output::flow_id::connection_ids;
use crate::pipeline::Record;
use ftpscope_core::fasthash::FastState;
use ftpscope_core::{Exchange, SessionId, SessionStart, Timestamp};
use std::collections::HashMap;
use std::net::SocketAddr;

/// Bytes kept of a greeting, SYST or FEAT reply, or CLNT argument (each); longer ones are cut
/// (`*_truncated`), so a hostile server cannot make this grow.
pub const MAX_TEXT: usize = 4096;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionContext {
    pub session: SessionId,
    pub start: Timestamp,
    pub client: Option<SocketAddr>,
    pub server: Option<SocketAddr>,
    /// The control connection's stable id and Community ID (see `flow_id`), made once.
    pub conn_id: Option<String>,
    pub community_id: Option<String>,
    /// The last USER argument (REIN forgets it), as the core's summary keeps it.
    pub user: Option<Vec<u8>>,
    /// The last PASS argument (a secret: the outputs mask it as they always do).
    pub password: Option<Vec<u8>>,
    /// The greeting: the reply before any command (multi-line joined with `\n`).
    pub banner: Option<Vec<u8>>,
    pub syst: Option<Vec<u8>>,
    pub feat: Option<Vec<u8>>,
    pub clnt: Option<Vec<u8>>,
    /// Bytes of the dialogue each way, as decoded (see [`command_bytes`], [`reply_bytes`]).
    pub client_bytes: u64,
    pub server_bytes: u64,
    /// No exchange seen yet: the next one with no command is the greeting.
    seen_exchange: bool,
}

impl SessionContext {
    fn new(s: &SessionStart) -> Self {
        let (conn_id, community_id) = connection_ids(s.ts, s.client, s.server);
        SessionContext {
            session: s.session,
            start: s.ts,
            client: Some(s.client),
            server: Some(s.server),
            conn_id: Some(conn_id),
            community_id: Some(community_id),
            ..SessionContext::default()
        }
    }

    pub fn observe(&mut self, e: &Exchange) {
        let first = !std::mem::replace(&mut self.seen_exchange, true);
        for r in &e.replies {
            self.server_bytes += reply_bytes(r.code, &r.text);
        }
        let Some(c) = &e.command else {
            if first && let Some(r) = e.final_reply() {
                self.banner = Some(capped(&r.text));
            }
            return;
        };
        self.client_bytes += command_bytes(&c.verb, &c.arg);
        let positive = e
            .final_reply()
            .is_some_and(|r| (200..300).contains(&r.code));
        match &c.verb[..] {
            b"USER" => self.user = Some(capped(&c.arg)),
            b"PASS" => self.password = Some(capped(&c.arg)),
            b"REIN" if positive => (self.user, self.password) = (None, None),
            b"CLNT" => self.clnt = Some(capped(&c.arg)),
            b"SYST" if positive => self.syst = e.final_reply().map(|r| capped(&r.text)),
            b"FEAT" if positive => self.feat = e.final_reply().map(|r| capped(&r.text)),
            _ => {}
        }
    }
}

fn capped(bytes: &[u8]) -> Vec<u8> {
    bytes.get(..MAX_TEXT).unwrap_or(bytes).to_vec()
}

/// A command line's bytes: the verb, a space and the argument when there is one, CRLF.
pub fn command_bytes(verb: &[u8], arg: &[u8]) -> u64 {
    let arg = if arg.is_empty() { 0 } else { arg.len() + 1 };
    (verb.len() + arg + 2) as u64
}

/// A reply's bytes: each line with its CRLF, the first and the last with the code and its
/// separator (`230-`, `230 `); a single line `230 text`.
pub fn reply_bytes(_code: u16, text: &[u8]) -> u64 {
    let lines = memchr::memchr_iter(b'\n', text).count() as u64 + 1;
    let code = if lines > 1 { 8 } else { 4 };
    text.len() as u64 + 1 - lines + lines * 2 + code
}

/// Every open session's context, fed with every record.
#[derive(Debug, Default)]
pub struct Contexts {
    open: HashMap<SessionId, SessionContext, FastState>,
}

impl Contexts {
    /// Follows a record: a session's start makes its context, an exchange adds to it. A
    /// session's end is left to [`Contexts::end`], so that its record can still be written
    /// with its context.
    pub fn observe(&mut self, record: &Record) {
        match record {
            Record::SessionStarted(s) => {
                self.open.insert(s.session, SessionContext::new(s));
            }
            Record::Exchange(e) => {
                if let Some(c) = self.open.get_mut(&e.session) {
                    c.observe(e);
                }
            }
            _ => {}
        }
    }

    pub fn get(&self, session: Option<SessionId>) -> Option<&SessionContext> {
        self.open.get(&session?)
    }

    /// The context of a session that ended, no longer kept.
    pub fn end(&mut self, session: SessionId) -> Option<SessionContext> {
        self.open.remove(&session)
    }
}

/// Server software a greeting names, with its version when one follows the name: a small
/// table of the servers seen most, matched case-insensitively.
pub fn server_software(banner: &[u8]) -> Option<(&'static str, Option<String>)> {
    const KNOWN: &[(&str, &str)] = &[
        ("vsftpd", "vsFTPd"),
        ("proftpd", "ProFTPD"),
        ("pure-ftpd", "Pure-FTPd"),
        ("pyftpdlib", "pyftpdlib"),
        ("filezilla server", "FileZilla Server"),
        ("microsoft ftp service", "Microsoft FTP Service"),
        ("serv-u", "Serv-U"),
        ("wu-ftpd", "wu-ftpd"),
        ("wu-", "wu-ftpd"),
        ("glftpd", "glFTPd"),
        ("ncftpd", "NcFTPd"),
        ("bftpd", "bftpd"),
        ("crushftp", "CrushFTP"),
        ("wing ftp server", "Wing FTP Server"),
        ("titan ftp server", "Titan FTP Server"),
        ("cerberus ftp server", "Cerberus FTP Server"),
        ("gene6 ftp server", "Gene6 FTP Server"),
        ("war-ftpd", "War-FTPD"),
        ("zftpserver", "zFTPServer"),
        ("xlight ftp server", "Xlight FTP Server"),
        ("mikrotik ftp server", "MikroTik FTP Server"),
        ("multicraft", "Multicraft"),
        ("twisted", "Twisted"),
    ];
    let lower = banner.to_ascii_lowercase();
    KNOWN.iter().find_map(|(needle, name)| {
        let at = memchr::memmem::find(&lower, needle.as_bytes())?;
        // `wu-` names wu-ftpd only as `wu-2.6.2`.
        let rest = banner.get(at + needle.len()..).unwrap_or_default();
        if *needle == "wu-" && !rest.first().is_some_and(u8::is_ascii_digit) {
            return None;
        }
        Some((*name, version(rest)))
    })
}

/// A version right after a server's name: `3.0.3` of `vsFTPd 3.0.3`, `1.3.5e` of
/// `ProFTPD 1.3.5e Server`, `v15.1` of `Serv-U FTP Server v15.1`.
fn version(rest: &[u8]) -> Option<String> {
    let start = rest
        .iter()
        .position(|&b| !matches!(b, b' ' | b'/' | b'(' | b'-' | b'_'))?;
    let rest = rest.get(start..)?;
    let rest = rest
        .strip_prefix(b"ftp server ")
        .or_else(|| rest.strip_prefix(b"FTP Server "))
        .unwrap_or(rest);
    let digits = usize::from(matches!(rest.first(), Some(b'v' | b'V')));
    if !rest.get(digits).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let len = rest
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_')))
        .unwrap_or(rest.len())
        .min(32);
    let v = String::from_utf8_lossy(rest.get(..len)?)
        .trim_end_matches(['.', '-'])
        .to_owned();
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_named_by_their_greetings() {
        type Named<'a> = Option<(&'a str, Option<&'a str>)>;
        let cases: &[(&[u8], Named<'_>)] = &[
            (b"(vsFTPd 3.0.3)", Some(("vsFTPd", Some("3.0.3")))),
            (b"ftpscope fixture server (vsftpd) ready.", Some(("vsFTPd", None))),
            (
                b"ProFTPD 1.3.5e Server (Debian) [::ffff:10.0.0.2]",
                Some(("ProFTPD", Some("1.3.5e"))),
            ),
            (
                b"---------- Welcome to Pure-FTPd [privsep] [TLS] ----------\nYou are user number 1 of 50 allowed.",
                Some(("Pure-FTPd", None)),
            ),
            (b"pyftpdlib 1.5.7 ready.", Some(("pyftpdlib", Some("1.5.7")))),
            (
                b"FileZilla Server 0.9.60 beta",
                Some(("FileZilla Server", Some("0.9.60"))),
            ),
            (b"Microsoft FTP Service", Some(("Microsoft FTP Service", None))),
            (
                b"Serv-U FTP Server v15.1 ready...",
                Some(("Serv-U", Some("v15.1"))),
            ),
            (
                b"ftp.example.org FTP server (Version wu-2.6.2(1)) ready.",
                Some(("wu-ftpd", Some("2.6.2"))),
            ),
            (b"Welcome to my server", None),
            (b"", None),
        ];
        for (banner, want) in cases {
            let got = server_software(banner);
            let got = got.as_ref().map(|(n, v)| (*n, v.as_deref()));
            assert_eq!(got, *want, "{}", String::from_utf8_lossy(banner));
        }
    }

    #[test]
    fn dialogue_bytes() {
        assert_eq!(command_bytes(b"USER", b"bob"), 10); // USER bob\r\n
        assert_eq!(command_bytes(b"PASV", b""), 6);
        assert_eq!(reply_bytes(230, b"ok"), 8); // 230 ok\r\n
        // 211-Features:\r\n EPSV\r\n211 End\r\n
        assert_eq!(reply_bytes(211, b"Features:\n EPSV\nEnd"), 15 + 7 + 9);
    }
}
