//! Client commands (RFC 959 §4.1 and §5.3): a verb, a space, an argument.
//!
//! Verbs are case-insensitive and kept upper-cased; the argument is kept as sent. The verbs of
//! RFC 959, 775 (X* directory commands), 1639 (LPRT/LPSV), 2228 (AUTH, ADAT, PROT, PBSZ, CCC,
//! MIC, CONF, ENC), 2389 (FEAT, OPTS), 2428 (EPRT, EPSV), 2640 (LANG), 3659 (MDTM, SIZE, REST
//! STREAM, MLST, MLSD) and common extensions (CLNT, XCRC, HOST, ...) are known; unknown verbs
//! are kept too and only reported when they do not look like a verb at all.

use crate::event::AnnouncedBy;

/// What a command means for the session's state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    /// Opens a data transfer: RETR, STOR, STOU, APPE, LIST, NLST, MLSD.
    Transfer(TransferCommand),
    /// Announces an active-mode endpoint: PORT, EPRT, LPRT.
    ActiveEndpoint(AnnouncedBy),
    /// Asks for a passive endpoint: PASV, EPSV, LPSV (the reply announces it).
    PassiveRequest(AnnouncedBy),
    User,
    Pass,
    Acct,
    Auth,
    Cwd,
    Cdup,
    Pwd,
    Mkd,
    Type,
    Mode,
    Rest,
    Size,
    Abor,
    Quit,
    Rein,
    /// RFC 2228 CCC: clear the command channel (RFC 4217 §12.3).
    Ccc,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferCommand {
    Retr,
    Stor,
    Stou,
    Appe,
    List,
    Nlst,
    Mlsd,
}

impl TransferCommand {
    pub fn is_upload(self) -> bool {
        matches!(
            self,
            TransferCommand::Stor | TransferCommand::Stou | TransferCommand::Appe
        )
    }

    pub fn is_listing(self) -> bool {
        matches!(
            self,
            TransferCommand::List | TransferCommand::Nlst | TransferCommand::Mlsd
        )
    }
}

const KNOWN: &[&[u8]] = &[
    b"ABOR", b"ACCT", b"ADAT", b"ALLO", b"APPE", b"AUTH", b"CCC", b"CDUP", b"CLNT", b"CONF",
    b"CWD", b"DELE", b"ENC", b"EPRT", b"EPSV", b"FEAT", b"HELP", b"HOST", b"LANG", b"LIST",
    b"LPRT", b"LPSV", b"MDTM", b"MFMT", b"MIC", b"MKD", b"MLSD", b"MLST", b"MODE", b"NLST",
    b"NOOP", b"OPTS", b"PASS", b"PASV", b"PBSZ", b"PORT", b"PROT", b"PWD", b"QUIT", b"REIN",
    b"REST", b"RETR", b"RMD", b"RNFR", b"RNTO", b"SITE", b"SIZE", b"SMNT", b"STAT", b"STOR",
    b"STOU", b"STRU", b"SYST", b"TYPE", b"USER", b"XCRC", b"XCUP", b"XCWD", b"XMD5", b"XMKD",
    b"XPWD", b"XRMD", b"XSHA1", b"XSHA256",
];

/// Whether the verb is one the RFCs above define (or a common extension).
pub fn is_known_verb(verb: &[u8]) -> bool {
    KNOWN.contains(&verb)
}

/// A plausible verb: 3 or 4 ASCII letters (XSHA1-style verbs: letters then digits).
pub fn looks_like_verb(verb: &[u8]) -> bool {
    (3..=8).contains(&verb.len())
        && verb.first().is_some_and(u8::is_ascii_alphabetic)
        && verb.iter().all(u8::is_ascii_alphanumeric)
}

/// Splits a command line into its upper-cased verb and its argument.
pub fn split_command(line: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (verb, arg) = match memchr::memchr(b' ', line) {
        Some(i) => (
            line.get(..i).unwrap_or(&[]),
            line.get(i + 1..).unwrap_or(&[]),
        ),
        None => (line, &[][..]),
    };
    (verb.to_ascii_uppercase(), arg.to_vec())
}

pub fn kind_of(verb: &[u8]) -> CommandKind {
    use CommandKind as K;
    use TransferCommand as T;
    match verb {
        b"RETR" => K::Transfer(T::Retr),
        b"STOR" => K::Transfer(T::Stor),
        b"STOU" => K::Transfer(T::Stou),
        b"APPE" => K::Transfer(T::Appe),
        b"LIST" => K::Transfer(T::List),
        b"NLST" => K::Transfer(T::Nlst),
        b"MLSD" => K::Transfer(T::Mlsd),
        b"PORT" => K::ActiveEndpoint(AnnouncedBy::Port),
        b"EPRT" => K::ActiveEndpoint(AnnouncedBy::Eprt),
        b"LPRT" => K::ActiveEndpoint(AnnouncedBy::Lprt),
        b"PASV" => K::PassiveRequest(AnnouncedBy::Pasv),
        b"EPSV" => K::PassiveRequest(AnnouncedBy::Epsv),
        b"LPSV" => K::PassiveRequest(AnnouncedBy::Lpsv),
        b"USER" => K::User,
        b"PASS" => K::Pass,
        b"ACCT" => K::Acct,
        b"AUTH" => K::Auth,
        b"CWD" | b"XCWD" => K::Cwd,
        b"CDUP" | b"XCUP" => K::Cdup,
        b"PWD" | b"XPWD" => K::Pwd,
        b"MKD" | b"XMKD" => K::Mkd,
        b"TYPE" => K::Type,
        b"MODE" => K::Mode,
        b"REST" => K::Rest,
        b"SIZE" => K::Size,
        b"ABOR" => K::Abor,
        b"QUIT" => K::Quit,
        b"REIN" => K::Rein,
        b"CCC" => K::Ccc,
        _ => K::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::type_complexity)]
    fn split_and_classify() {
        let cases: &[(&[u8], &[u8], &[u8], CommandKind)] = &[
            (
                b"retr a b.txt",
                b"RETR",
                b"a b.txt",
                CommandKind::Transfer(TransferCommand::Retr),
            ),
            (
                b"PASV",
                b"PASV",
                b"",
                CommandKind::PassiveRequest(AnnouncedBy::Pasv),
            ),
            (
                b"Eprt |2|::1|5|",
                b"EPRT",
                b"|2|::1|5|",
                CommandKind::ActiveEndpoint(AnnouncedBy::Eprt),
            ),
            (b"XCWD dir", b"XCWD", b"dir", CommandKind::Cwd),
            (b"CWD  two spaces", b"CWD", b" two spaces", CommandKind::Cwd),
            (b"FOO bar", b"FOO", b"bar", CommandKind::Other),
        ];
        for (line, verb, arg, kind) in cases {
            let (v, a) = split_command(line);
            assert_eq!((&v[..], &a[..]), (*verb, *arg));
            assert_eq!(kind_of(&v), *kind);
        }
        assert!(is_known_verb(b"MLSD") && !is_known_verb(b"FOO"));
        assert!(looks_like_verb(b"FOO") && looks_like_verb(b"XSHA1"));
        assert!(
            !looks_like_verb(b"\x16\x03\x01") && !looks_like_verb(b"GET/") && !looks_like_verb(b"")
        );
    }
}
