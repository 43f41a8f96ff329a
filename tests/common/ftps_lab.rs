//! FTPS lab: records real FTPS sessions between real servers and real clients, with the key
//! log the client wrote, for tests that check TLS decryption against the plaintext files.
//!
//! As root, for one [`Scenario`]: a fresh network namespace with a unique name (only its
//! loopback, so nothing leaves the machine), a self-signed certificate (openssl), the server's
//! config written and the server started (vsftpd, proftpd + mod_tls, pure-ftpd or pyftpdlib),
//! tcpdump on the namespace's `lo`, the client (curl, lftp or Python's ftplib) run with a key
//! log file (`SSLKEYLOGFILE`, or ftplib's `keylog_filename`), then everything stopped. The
//! result, [`FtpsRecording`], lives in a temporary folder removed on drop; every process,
//! the namespace and the PAM service file are removed on drop too, also when a step panics.
//!
//! Servers come from the installed packages (`/usr/sbin/vsftpd`, python3-pyftpdlib) or, as
//! proftpd and pure-ftpd conflict with vsftpd as Debian packages, from packages unpacked with
//! `apt-get download` + `dpkg -x` into [`servers_dir`] (`.ci/run` does that). Login
//! everywhere: `fxuser` / `fxpass`, a virtual user (no system account is created).
#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashSet};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

pub const USER: &str = "fxuser";
pub const PASSWORD: &str = "fxpass";
/// Debian's python (python3-pyftpdlib and python3-openssl are installed for it).
pub const PYTHON: &str = "/usr/bin/python3";
const NOBODY: u32 = 65534;

/// Where the unpacked proftpd (with mod_tls) and pure-ftpd live: `$FTPS_LAB_SERVERS`, else
/// `/var/cache/ftpscope-lab` (`root-proftpd/`, `root-pure-ftpd/`).
pub fn servers_dir() -> PathBuf {
    std::env::var_os("FTPS_LAB_SERVERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/ftpscope-lab"))
}

/// The FTP server of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// vsftpd 3.0.3, `ssl_enable=YES`; `reuse`: `require_ssl_reuse` (data connections must
    /// resume the control connection's TLS session); `implicit`: `implicit_ssl=YES` on 990.
    Vsftpd { reuse: bool, implicit: bool },
    /// proftpd 1.3.8 with mod_tls (`TLSRequired on`).
    Proftpd,
    /// pure-ftpd 1.0.50 with `-Y 2` (TLS required on control and data).
    PureFtpd,
    /// pyftpdlib's `TLS_FTPHandler` (PROT P not required: PROT C data is allowed).
    Pyftpdlib,
}

/// The FTP client of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    Curl,
    Lftp,
    Ftplib,
}

/// The TLS version and cipher suite the client is made to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsChoice {
    /// TLS 1.3, the library's default suite.
    V13,
    /// TLS 1.3 with ChaCha20-Poly1305 (lftp: GnuTLS priority string).
    V13Chacha,
    /// TLS 1.2 with this OpenSSL suite name (for Python also: encrypt-then-MAC off).
    V12 { suite: &'static str, no_etm: bool },
}

/// How data connections are set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataMode {
    Passive,
    Active,
}

/// Every recorded scenario: server × client × TLS × data mode × implicit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// vsftpd (session reuse required) + curl `--ssl-reqd`, TLS 1.3, EPSV: LIST, RETR, STOR.
    VsftpdCurlTls13Passive,
    /// vsftpd + ftplib TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256, active (PORT): RETR, STOR.
    /// (curl 7.88.1 fails active FTPS: "sa_addr inet_ntop() failed with errno 97".)
    VsftpdFtplibTls12GcmActive,
    /// vsftpd `require_ssl_reuse=NO` + ftplib, TLS 1.2 ECDHE-RSA-AES256-SHA384 (CBC,
    /// encrypt-then-MAC), PASV: NLST, RETR, STOR.
    VsftpdFtplibTls12CbcSha384,
    /// The same with AES128-SHA (RSA key exchange, CBC) and encrypt-then-MAC disabled.
    VsftpdFtplibTls12Aes128ShaNoEtm,
    /// vsftpd `implicit_ssl=YES` on port 990 + curl `ftps://`: RETR.
    VsftpdCurlImplicit,
    /// proftpd mod_tls + lftp (GnuTLS), TLS 1.3 ChaCha20-Poly1305, PASV: mirror of a folder.
    ProftpdLftpTls13ChachaMirror,
    /// pure-ftpd `-Y 2` + curl TLS 1.2 ECDHE-RSA-CHACHA20-POLY1305: a resumed RETR (REST).
    PureftpdCurlTls12ChachaRest,
    /// pyftpdlib TLS_FTPHandler + ftplib, TLS 1.3: RETR under PROT P, then PROT C and a
    /// STOR in clear text, in one session.
    PyftpdlibFtplibProtPThenC,
    /// proftpd mod_tls + curl `--ftp-ssl-ccc`, TLS 1.2: after the login, CCC clears the
    /// control connection (RFC 4217 §12.3); the RETR's data connection stays under TLS.
    ProftpdCurlTls12Ccc,
    /// vsftpd `implicit_ssl=YES` on port 2990 (not 990) + curl `ftps://`: RETR. Found by its
    /// greeting once decrypted.
    VsftpdCurlImplicitOtherPort,
}

/// What a scenario is made of.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub name: &'static str,
    pub server: Server,
    pub client: Client,
    pub tls: TlsChoice,
    pub data: DataMode,
    pub implicit: bool,
    pub port: u16,
}

impl Scenario {
    pub const ALL: [Scenario; 10] = [
        Scenario::VsftpdCurlTls13Passive,
        Scenario::VsftpdFtplibTls12GcmActive,
        Scenario::VsftpdFtplibTls12CbcSha384,
        Scenario::VsftpdFtplibTls12Aes128ShaNoEtm,
        Scenario::VsftpdCurlImplicit,
        Scenario::ProftpdLftpTls13ChachaMirror,
        Scenario::PureftpdCurlTls12ChachaRest,
        Scenario::PyftpdlibFtplibProtPThenC,
        Scenario::ProftpdCurlTls12Ccc,
        Scenario::VsftpdCurlImplicitOtherPort,
    ];

    pub fn spec(self) -> Spec {
        let vs = Server::Vsftpd {
            reuse: true,
            implicit: false,
        };
        let (name, server, client, tls, data, implicit, port) = match self {
            Scenario::VsftpdCurlTls13Passive => (
                "vsftpd-curl-tls13-passive",
                vs,
                Client::Curl,
                TlsChoice::V13,
                DataMode::Passive,
                false,
                21,
            ),
            Scenario::VsftpdFtplibTls12GcmActive => (
                "vsftpd-ftplib-tls12-gcm-active",
                vs,
                Client::Ftplib,
                TlsChoice::V12 {
                    suite: "ECDHE-RSA-AES128-GCM-SHA256",
                    no_etm: false,
                },
                DataMode::Active,
                false,
                21,
            ),
            Scenario::VsftpdFtplibTls12CbcSha384 => (
                "vsftpd-ftplib-tls12-cbc-sha384",
                Server::Vsftpd {
                    reuse: false,
                    implicit: false,
                },
                Client::Ftplib,
                TlsChoice::V12 {
                    suite: "ECDHE-RSA-AES256-SHA384",
                    no_etm: false,
                },
                DataMode::Passive,
                false,
                21,
            ),
            Scenario::VsftpdFtplibTls12Aes128ShaNoEtm => (
                "vsftpd-ftplib-tls12-aes128-sha-noetm",
                Server::Vsftpd {
                    reuse: false,
                    implicit: false,
                },
                Client::Ftplib,
                TlsChoice::V12 {
                    suite: "AES128-SHA",
                    no_etm: true,
                },
                DataMode::Passive,
                false,
                21,
            ),
            Scenario::VsftpdCurlImplicit => (
                "vsftpd-curl-implicit",
                Server::Vsftpd {
                    reuse: true,
                    implicit: true,
                },
                Client::Curl,
                TlsChoice::V13,
                DataMode::Passive,
                true,
                990,
            ),
            Scenario::ProftpdLftpTls13ChachaMirror => (
                "proftpd-lftp-tls13-chacha-mirror",
                Server::Proftpd,
                Client::Lftp,
                TlsChoice::V13Chacha,
                DataMode::Passive,
                false,
                21,
            ),
            Scenario::PureftpdCurlTls12ChachaRest => (
                "pureftpd-curl-tls12-chacha-rest",
                Server::PureFtpd,
                Client::Curl,
                TlsChoice::V12 {
                    suite: "ECDHE-RSA-CHACHA20-POLY1305",
                    no_etm: false,
                },
                DataMode::Passive,
                false,
                21,
            ),
            Scenario::PyftpdlibFtplibProtPThenC => (
                "pyftpdlib-ftplib-tls13-prot-p-then-c",
                Server::Pyftpdlib,
                Client::Ftplib,
                TlsChoice::V13,
                DataMode::Passive,
                false,
                21,
            ),
            Scenario::VsftpdCurlImplicitOtherPort => (
                "vsftpd-curl-implicit-port-2990",
                Server::Vsftpd {
                    reuse: true,
                    implicit: true,
                },
                Client::Curl,
                TlsChoice::V13,
                DataMode::Passive,
                true,
                2990,
            ),
            Scenario::ProftpdCurlTls12Ccc => (
                "proftpd-curl-tls12-ccc",
                Server::Proftpd,
                Client::Curl,
                TlsChoice::V12 {
                    suite: "ECDHE-RSA-AES128-GCM-SHA256",
                    no_etm: false,
                },
                DataMode::Passive,
                false,
                21,
            ),
        };
        Spec {
            name,
            server,
            client,
            tls,
            data,
            implicit,
            port,
        }
    }
}

/// One transfer of a recorded session, in the order the client sent the commands.
#[derive(Debug, Clone)]
pub struct Transfer {
    /// RETR, STOR, LIST, NLST or MLSD.
    pub command: &'static str,
    /// The path as the client named it (relative to the user's root).
    pub remote: String,
    pub upload: bool,
    /// REST offset (0: none).
    pub offset: u64,
    /// Whether the data connection was under TLS (PROT P).
    pub protected: bool,
    /// The whole file before the transfer (None for listings).
    pub original: Option<PathBuf>,
    /// The copy the receiving side stored (client's download / server's upload file).
    pub stored: Option<PathBuf>,
    /// Where the client keeps its copy, relative to its folder.
    pub local: String,
}

/// A finished recording; its folder is removed on drop.
pub struct FtpsRecording {
    pub scenario: Scenario,
    pub pcap: PathBuf,
    /// The NSS key log the client wrote.
    pub keylog: PathBuf,
    /// (remote path, sha256) of every file that crossed, as it was on disk before: the
    /// server's file for a download, the client's local file for an upload.
    pub originals: Vec<(String, [u8; 32])>,
    /// (remote path, sha256) of every copy the receiving side stored.
    pub received: Vec<(String, [u8; 32])>,
    pub transfers: Vec<Transfer>,
    pub client_status: ExitStatus,
    pub client_output: String,
    /// tcpdump's closing lines ("N packets dropped by kernel").
    pub tcpdump_report: String,
    pub server_version: String,
    pub client_version: String,
    pub dir: TempDir,
}

/// Why the lab cannot run here, or None when it can.
pub fn missing_prerequisite(scenario: Scenario) -> Option<String> {
    let euid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1);
    if euid != 0 {
        return Some("not running as root (network namespaces, port 21, PAM)".into());
    }
    let spec = scenario.spec();
    let mut need: Vec<(String, PathBuf)> = vec![
        ("iproute2".into(), "/usr/sbin/ip".into()),
        ("tcpdump".into(), "/usr/bin/tcpdump".into()),
        ("openssl".into(), "/usr/bin/openssl".into()),
    ];
    match spec.server {
        Server::Vsftpd { .. } => need.push(("vsftpd".into(), "/usr/sbin/vsftpd".into())),
        Server::Proftpd => need.push((
            format!("proftpd mod_tls unpacked in {}", servers_dir().display()),
            servers_dir().join("root-proftpd/usr/lib/proftpd/mod_tls.so"),
        )),
        Server::PureFtpd => need.push((
            format!("pure-ftpd unpacked in {}", servers_dir().display()),
            servers_dir().join("root-pure-ftpd/usr/sbin/pure-ftpd"),
        )),
        Server::Pyftpdlib => {}
    }
    match spec.client {
        Client::Curl => need.push(("curl".into(), "/usr/bin/curl".into())),
        Client::Lftp => need.push(("lftp".into(), "/usr/bin/lftp".into())),
        Client::Ftplib => {}
    }
    for (what, path) in need {
        if !path.exists() {
            return Some(format!("{what} is not installed ({})", path.display()));
        }
    }
    let py_mods = match spec.server {
        Server::Pyftpdlib => "import pyftpdlib.handlers, OpenSSL, dbm.ndbm",
        _ => "import dbm.ndbm",
    };
    if !run_status(Command::new(PYTHON).args(["-c", py_mods])) {
        return Some(format!(
            "{PYTHON} cannot `{py_mods}` (python3-pyftpdlib, python3-openssl)"
        ));
    }
    if matches!(spec.server, Server::Vsftpd { .. }) && uid_of("ftp").is_none() {
        return Some("no `ftp` account (the vsftpd package creates it)".into());
    }
    None
}

fn run_status(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn uid_of(user: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.first() == Some(&user) && f.len() > 3 {
            Some((f[2].parse().ok()?, f[3].parse().ok()?))
        } else {
            None
        }
    })
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Deterministic bytes that do not compress (xorshift), different for every seed.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique(tag: &str) -> String {
    format!(
        "{tag}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A temporary folder (0711: the servers' unprivileged users must reach the site in it),
/// removed on drop unless FTPS_LAB_KEEP is set.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let mut dir = tempfile::Builder::new()
            .prefix(&format!("ftpscope-ftpslab-{tag}-"))
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
        dir.disable_cleanup(std::env::var_os("FTPS_LAB_KEEP").is_some());
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

/// A network namespace with only its loopback, up; deleted on drop.
struct Netns(String);

impl Netns {
    fn create() -> Netns {
        let name = unique("ftpslab");
        assert!(run_status(Command::new("ip").args(["netns", "add", &name])));
        let ns = Netns(name);
        assert!(run_status(
            Command::new("ip").args(["-n", &ns.0, "link", "set", "lo", "up"])
        ));
        ns
    }
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0]).arg(program);
        c
    }
    fn listening(&self, port: u16) -> bool {
        self.command("ss")
            .args(["-ltnH", &format!("sport = :{port}")])
            .output()
            .is_ok_and(|o| !o.stdout.is_empty())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// A background process, killed on drop.
struct Proc(Child, &'static str);

impl Proc {
    fn spawn(cmd: &mut Command, what: &'static str) -> Proc {
        Proc(
            cmd.stdin(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("start {what}: {e}")),
            what,
        )
    }
    fn signal(&mut self, sig: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &self.0.id().to_string()])
            .status();
    }
    fn wait(&mut self, limit: Duration) -> ExitStatus {
        wait_with_limit(&mut self.0, limit, self.1)
    }
    fn alive(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_with_limit(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// A file removed on drop (the PAM service file of vsftpd).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn chown_tree(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            chown_tree(&e.unwrap().path(), uid, gid);
        }
    }
}

fn first_line(cmd: &mut Command) -> String {
    cmd.output()
        .map(|o| {
            let s = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&s)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

fn deb_version(deb_dir: &Path, package: &str) -> String {
    // The unpacked package's version, from its changelog folder name is not kept by dpkg -x:
    // ask apt's cache of the .deb instead when there, else dpkg's database.
    let from_deb = std::fs::read_dir(deb_dir).ok().and_then(|rd| {
        rd.filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with(&format!("{package}_")) && n.ends_with(".deb"))
            .and_then(|n| n.split('_').nth(1).map(|v| v.replace("%3a", ":")))
    });
    from_deb.unwrap_or_else(|| {
        first_line(Command::new("dpkg-query").args(["-W", "-f", "${Version}", package]))
    })
}

/// Records `scenario` (see the module doc). Panics, with the server's log and the client's
/// output, when a step fails; the client's exit status is returned, not checked.
pub fn record(scenario: Scenario) -> FtpsRecording {
    // One recording at a time: tcpdump drops packets when several servers, clients and
    // captures share two busy cores (seen: 2 dropped of 204 while the suite ran).
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let spec = scenario.spec();
    let dir = TempDir::new(spec.name);
    let w = dir.path().to_path_buf();
    let site = w.join("site");
    let local = w.join("client");
    for d in [&site, &local, &w.join("empty")] {
        std::fs::create_dir_all(d).unwrap();
    }
    let cert = w.join("cert.pem");
    let key = w.join("key.pem");
    let ok = run_status(Command::new("openssl").args([
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ]));
    assert!(ok, "openssl req failed");

    // The files of the scenario: (remote path, bytes) on the server, (name, bytes) local.
    let seed = scenario as u64 * 100;
    let mut transfers: Vec<Transfer> = Vec::new();
    let put_server = |rel: &str, len: usize, s: u64| {
        write(&site.join(rel), pseudo_random(len, seed + s));
    };
    match scenario {
        Scenario::ProftpdLftpTls13ChachaMirror => {
            put_server("pub/docs/alpha.bin", 24_000, 1);
            put_server("pub/docs/beta.bin", 31_000, 2);
            put_server("pub/docs/gamma.bin", 20_500, 3);
        }
        Scenario::PureftpdCurlTls12ChachaRest => put_server("pub/resume.bin", 60_000, 1),
        Scenario::VsftpdCurlImplicit | Scenario::VsftpdCurlImplicitOtherPort => {
            put_server("pub/implicit.bin", 40_000, 1)
        }
        _ => {
            put_server("pub/report.bin", 50_000, 1);
            put_server("pub/notes.bin", 20_000, 2);
        }
    }
    std::fs::create_dir_all(site.join("incoming")).unwrap();
    let upload = local.join("upload.bin");
    write(&upload, pseudo_random(30_000, seed + 50));
    // Pristine copies of every original, before any transfer changes anything.
    let orig = w.join("orig");
    copy_tree(&site, &orig.join("site"));
    copy_tree(&local, &orig.join("client"));

    let (owner_uid, owner_gid) = match spec.server {
        Server::Vsftpd { .. } => uid_of("ftp").unwrap_or((NOBODY, NOBODY)),
        _ => (NOBODY, NOBODY),
    };
    chown_tree(&site, owner_uid, owner_gid);

    let ns = Netns::create();
    let keylog = w.join(format!("{}.keys", spec.name));
    let pcap = w.join(format!("{}.pcap", spec.name));
    let server_log = w.join("server.log");
    let (server, _pam, server_version) =
        start_server(&ns, &spec, &w, &site, &cert, &key, &server_log);
    let mut server = server;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ns.listening(spec.port) {
        assert!(
            server.alive() && Instant::now() < deadline,
            "{} did not listen on {}: {}",
            spec.name,
            spec.port,
            std::fs::read_to_string(&server_log).unwrap_or_default()
        );
        thread::sleep(Duration::from_millis(50));
    }

    // tcpdump: whole frames, packet-buffered, immediate mode; -Z root so it may write into
    // our folder.
    let tcpdump_err = w.join("tcpdump.log");
    let mut tcpdump = Proc::spawn(
        ns.command("tcpdump")
            .args([
                "-Z",
                "root",
                "-i",
                "lo",
                "-s",
                "0",
                // 64 MiB: loopback frames reach 64 KiB, and a busy machine may leave
                // tcpdump unscheduled for a while.
                "-B",
                "65536",
                "-U",
                "--immediate-mode",
                "-n",
                "-w",
            ])
            .arg(&pcap)
            .arg("tcp")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&tcpdump_err).unwrap()),
        "tcpdump",
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&tcpdump_err)
        .unwrap_or_default()
        .contains("listening on")
    {
        assert!(
            tcpdump.alive() && Instant::now() < deadline,
            "tcpdump did not start: {}",
            std::fs::read_to_string(&tcpdump_err).unwrap_or_default()
        );
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(300));

    let (client_status, client_output, client_version) =
        run_client(&ns, scenario, &spec, &w, &local, &keylog, &mut transfers);

    thread::sleep(Duration::from_millis(800)); // the last FINs and ACKs
    tcpdump.signal("INT");
    tcpdump.wait(Duration::from_secs(20));
    server.signal("TERM");
    let _ = server.0.try_wait();
    drop(server);
    let tcpdump_report = std::fs::read_to_string(&tcpdump_err).unwrap_or_default();

    // Fill in originals and stored copies.
    let mut originals = Vec::new();
    let mut received = Vec::new();
    for t in &mut transfers {
        if matches!(t.command, "LIST" | "NLST" | "MLSD") {
            continue;
        }
        let (o, s) = if t.upload {
            (orig.join("client").join(&t.local), site.join(&t.remote))
        } else {
            (orig.join("site").join(&t.remote), local.join(&t.local))
        };
        if let Ok(b) = std::fs::read(&o) {
            originals.push((t.remote.clone(), sha256(&b)));
        }
        if let Ok(b) = std::fs::read(&s) {
            received.push((t.remote.clone(), sha256(&b)));
        }
        t.original = Some(o);
        t.stored = Some(s);
    }
    if !client_status.success() {
        eprintln!(
            "{}: client failed; server log:\n{}",
            spec.name,
            std::fs::read_to_string(&server_log).unwrap_or_default()
        );
    }
    FtpsRecording {
        scenario,
        pcap,
        keylog,
        originals,
        received,
        transfers,
        client_status,
        client_output,
        tcpdump_report,
        server_version,
        client_version,
        dir,
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_tree(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn start_server(
    ns: &Netns,
    spec: &Spec,
    w: &Path,
    site: &Path,
    cert: &Path,
    key: &Path,
    log: &Path,
) -> (Proc, Option<RemoveOnDrop>, String) {
    let logf = || std::fs::File::create(log).unwrap();
    match spec.server {
        Server::Vsftpd { reuse, implicit } => {
            // A virtual user checked by pam_userdb against a Berkeley DB that Debian's
            // python writes (dbm.ndbm); vsftpd maps it to the `ftp` account (guest_enable).
            let db = w.join("users");
            let ok = run_status(Command::new(PYTHON).args([
                "-c",
                "import dbm.ndbm,sys; d=dbm.ndbm.open(sys.argv[1],'c'); d[sys.argv[2]]=sys.argv[3]; d.close()",
                db.to_str().unwrap(),
                USER,
                PASSWORD,
            ]));
            assert!(ok, "could not write the pam_userdb database");
            let service = unique("ftpscope-lab");
            let pam = PathBuf::from("/etc/pam.d").join(&service);
            write(
                &pam,
                format!(
                    "# ftpscope tests/common/ftps_lab.rs: removed when its test ends\n\
                     auth required pam_userdb.so db={0}\naccount required pam_userdb.so db={0}\n",
                    db.display()
                ),
            );
            let pam = RemoveOnDrop(pam);
            let conf = w.join("vsftpd.conf");
            let mut c = format!(
                "listen=YES\nlisten_address=127.0.0.1\nlisten_port={port}\nbackground=NO\n\
                 anonymous_enable=NO\nlocal_enable=YES\nguest_enable=YES\nguest_username=ftp\n\
                 virtual_use_local_privs=YES\nwrite_enable=YES\nlocal_umask=022\n\
                 local_root={site}\nchroot_local_user=YES\nallow_writeable_chroot=YES\n\
                 pam_service_name={service}\nsecure_chroot_dir={empty}\nseccomp_sandbox=NO\n\
                 dirmessage_enable=NO\nuse_localtime=NO\nxferlog_enable=YES\n\
                 vsftpd_log_file={log}\nconnect_from_port_20=YES\npasv_min_port=40000\n\
                 pasv_max_port=40099\nftpd_banner=ftpscope FTPS lab (vsftpd) ready.\n\
                 ssl_enable=YES\nrsa_cert_file={cert}\nrsa_private_key_file={key}\n\
                 force_local_logins_ssl=YES\nforce_local_data_ssl=YES\nssl_ciphers=HIGH\n\
                 debug_ssl=YES\nrequire_ssl_reuse={reuse}\n",
                port = spec.port,
                site = site.display(),
                empty = w.join("empty").display(),
                log = log.display(),
                cert = cert.display(),
                key = key.display(),
                reuse = if reuse { "YES" } else { "NO" },
            );
            if implicit {
                c.push_str("implicit_ssl=YES\n");
            }
            write(&conf, c);
            let p = Proc::spawn(
                ns.command("/usr/sbin/vsftpd")
                    .arg(&conf)
                    .stdout(Stdio::null())
                    .stderr(logf()),
                "vsftpd",
            );
            (
                p,
                Some(pam),
                format!(
                    "vsftpd {}",
                    deb_version(Path::new("/nonexistent"), "vsftpd")
                ),
            )
        }
        Server::Proftpd => {
            let root = servers_dir().join("root-proftpd");
            let hash = first_line(Command::new("openssl").args(["passwd", "-6", PASSWORD]));
            let users = w.join("proftpd.passwd");
            write(
                &users,
                format!(
                    "{USER}:{hash}:{NOBODY}:{NOBODY}::{}:/bin/sh\n",
                    site.display()
                ),
            );
            std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o600)).unwrap();
            let conf = w.join("proftpd.conf");
            // `TLSRequired on` makes mod_tls refuse CCC (534): the CCC scenario requires TLS
            // for the login and the data only, so the control connection may go back to clear.
            let required = if spec.name.ends_with("-ccc") {
                "auth+data"
            } else {
                "on"
            };
            write(
                &conf,
                format!(
                    "ServerName \"ftpscope FTPS lab (proftpd)\"\nServerType standalone\n\
                     Port {port}\nDefaultAddress 127.0.0.1\nSocketBindTight on\nUseIPv6 off\n\
                     User nobody\nGroup nogroup\nPidFile {w}/proftpd.pid\n\
                     ScoreboardFile {w}/proftpd.scoreboard\nDelayTable none\nControlsEngine off\n\
                     SystemLog {log}\nWtmpLog off\nUseReverseDNS off\n\
                     AuthPAM off\nAuthOrder mod_auth_file.c\nAuthUserFile {users}\n\
                     RequireValidShell off\nDefaultRoot ~\nPassivePorts 40000 40099\n\
                     AllowOverwrite on\nUmask 022\n\
                     ModulePath {root}/usr/lib/proftpd\nLoadModule mod_tls.c\n\
                     <IfModule mod_tls.c>\nTLSEngine on\nTLSLog {w}/proftpd-tls.log\n\
                     TLSProtocol TLSv1.2 TLSv1.3\nTLSRequired {required}\n\
                     TLSRSACertificateFile {cert}\nTLSRSACertificateKeyFile {key}\n\
                     TLSVerifyClient off\nTLSOptions AllowClientRenegotiations\n\
                     </IfModule>\n",
                    port = spec.port,
                    w = w.display(),
                    log = log.display(),
                    users = users.display(),
                    root = root.display(),
                    cert = cert.display(),
                    key = key.display(),
                ),
            );
            let p = Proc::spawn(
                ns.command(root.join("usr/sbin/proftpd"))
                    .args(["-n", "-q", "-c"])
                    .arg(&conf)
                    .stdout(Stdio::null())
                    .stderr(logf()),
                "proftpd",
            );
            (
                p,
                None,
                format!(
                    "proftpd {}",
                    deb_version(&servers_dir().join("debs"), "proftpd-core")
                ),
            )
        }
        Server::PureFtpd => {
            let root = servers_dir().join("root-pure-ftpd");
            let passwd = w.join("pureftpd.passwd");
            let pdb = w.join("pureftpd.pdb");
            let mut child = Command::new(root.join("usr/bin/pure-pw"))
                .args(["useradd", USER, "-u", "65534", "-g", "65534", "-d"])
                .arg(site)
                .arg("-f")
                .arg(&passwd)
                .arg("-F")
                .arg(&pdb)
                .arg("-m")
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("pure-pw");
            let mut stdin = child.stdin.take().unwrap();
            stdin
                .write_all(format!("{PASSWORD}\n{PASSWORD}\n").as_bytes())
                .unwrap();
            drop(stdin);
            assert!(child.wait().unwrap().success(), "pure-pw useradd failed");
            let certfile = w.join("pure-ftpd.pem");
            let mut both = std::fs::read(key).unwrap();
            both.extend(std::fs::read(cert).unwrap());
            write(&certfile, both);
            let mut cmd = ns.command(root.join("usr/sbin/pure-ftpd"));
            cmd.arg("-l")
                .arg(format!("puredb:{}", pdb.display()))
                .args(["-A", "-E", "-H", "-Y", "2", "-p", "40000:40099"])
                .arg("-S")
                .arg(format!("127.0.0.1,{}", spec.port))
                .arg("-2")
                .arg(&certfile);
            if let TlsChoice::V12 { suite, .. } = spec.tls {
                cmd.arg("-J").arg(format!("{suite}:HIGH"));
            }
            let p = Proc::spawn(cmd.stdout(Stdio::null()).stderr(logf()), "pure-ftpd");
            (
                p,
                None,
                format!(
                    "pure-ftpd {}",
                    deb_version(&servers_dir().join("debs"), "pure-ftpd")
                ),
            )
        }
        Server::Pyftpdlib => {
            let script = w.join("server.py");
            write(&script, PYFTPDLIB_TLS);
            let p = Proc::spawn(
                ns.command(PYTHON)
                    .arg(&script)
                    .arg(site)
                    .arg(cert)
                    .arg(key)
                    .arg(spec.port.to_string())
                    .stdout(Stdio::null())
                    .stderr(logf()),
                "pyftpdlib",
            );
            let v = first_line(
                Command::new(PYTHON).args(["-c", "import pyftpdlib; print(pyftpdlib.__ver__)"]),
            );
            (p, None, format!("pyftpdlib {v}"))
        }
    }
}

const PYFTPDLIB_TLS: &str = r#"
import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import TLS_FTPHandler
from pyftpdlib.servers import FTPServer
site, cert, key, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
auth = DummyAuthorizer()
auth.add_user("fxuser", "fxpass", site, perm="elradfmw")
h = TLS_FTPHandler
h.certfile, h.keyfile, h.authorizer = cert, key, auth
h.tls_control_required = True
h.tls_data_required = False       # PROT C data connections are allowed
h.passive_ports = range(40000, 40100)
# OpenSSL resumes a session only with a session id context.
h.get_ssl_context().set_session_id(b"ftpscope-lab")
FTPServer(("127.0.0.1", port), h).serve_forever()
"#;

/// ftplib client: argv = host port keylog maxver(12|13) ciphers no_etm(0|1) script...
/// The script is a list of steps: `nlst:PATH`, `retr:PATH`, `stor:PATH`, `protc`,
/// `active` (PORT instead of PASV), `reuse` (resume the TLS session on data connections).
const FTPLIB_CLIENT: &str = r#"
import ftplib, os, ssl, sys
host, port, keylog, maxver, ciphers, no_etm = sys.argv[1:7]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.keylog_filename = keylog
if maxver == "12":
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
if ciphers:
    ctx.set_ciphers(ciphers)
if no_etm == "1":
    ctx.options |= 0x80000    # SSL_OP_NO_ENCRYPT_THEN_MAC
class Lab(ftplib.FTP_TLS):
    """FTP_TLS that, after the step `reuse`, resumes the control connection's TLS session on
    each protected data connection (vsftpd's require_ssl_reuse asks for it)."""
    reuse = False
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            session = self.sock.session if self.reuse else None
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
        return conn, size
f = Lab(context=ctx)
f.connect(host, int(port))
f.auth()
f.login("fxuser", "fxpass")
f.prot_p()
for step in sys.argv[7:]:
    op, _, path = step.partition(":")
    name = os.path.basename(path)
    if op == "nlst":
        print("\n".join(f.nlst(path)))
    elif op == "retr":
        with open(name, "wb") as out:
            f.retrbinary("RETR " + path, out.write)
    elif op == "stor":
        with open("upload.bin", "rb") as src:
            f.storbinary("STOR " + path, src)
    elif op == "protc":
        f.prot_c()
    elif op == "reuse":
        f.reuse = True
    elif op == "active":
        f.set_pasv(False)
f.quit()
"#;

#[allow(clippy::too_many_arguments)]
fn run_client(
    ns: &Netns,
    scenario: Scenario,
    spec: &Spec,
    w: &Path,
    local: &Path,
    keylog: &Path,
    transfers: &mut Vec<Transfer>,
) -> (ExitStatus, String, String) {
    let t = |command: &'static str, remote: &str, upload: bool, offset: u64, protected: bool| {
        Transfer {
            command,
            remote: remote.to_string(),
            upload,
            offset,
            protected,
            original: None,
            stored: None,
            local: remote.rsplit('/').next().unwrap_or("").to_string(),
        }
    };
    let url = |path: &str| {
        let scheme = if spec.implicit { "ftps" } else { "ftp" };
        format!(
            "{scheme}://{USER}:{PASSWORD}@127.0.0.1:{}/{path}",
            spec.port
        )
    };
    let mut cmd;
    let version;
    match spec.client {
        Client::Curl => {
            version = first_line(Command::new("curl").arg("--version"))
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
            cmd = ns.command("curl");
            cmd.env("SSLKEYLOGFILE", keylog);
            // Options every URL gets (curl resets them at --next).
            let mut common: Vec<String> =
                vec!["-sS".into(), "-k".into(), "--max-time".into(), "60".into()];
            if !spec.implicit {
                common.push("--ssl-reqd".into());
            }
            match spec.tls {
                TlsChoice::V13 | TlsChoice::V13Chacha => common.push("--tlsv1.3".into()),
                TlsChoice::V12 { suite, .. } => {
                    common.extend(["--tls-max".into(), "1.2".into(), "--ciphers".into()]);
                    common.push(suite.into());
                }
            }
            let mut urls: Vec<Vec<String>> = Vec::new();
            match scenario {
                Scenario::VsftpdCurlTls13Passive => {
                    transfers.push(t("LIST", "pub/", false, 0, true));
                    urls.push(vec!["-o".into(), "listing.txt".into(), url("pub/")]);
                    transfers.push(t("RETR", "pub/report.bin", false, 0, true));
                    urls.push(vec![
                        "-o".into(),
                        "report.bin".into(),
                        url("pub/report.bin"),
                    ]);
                    transfers.push(t("STOR", "incoming/upload.bin", true, 0, true));
                    urls.push(vec![
                        "-T".into(),
                        "upload.bin".into(),
                        url("incoming/upload.bin"),
                    ]);
                }
                Scenario::VsftpdCurlImplicit | Scenario::VsftpdCurlImplicitOtherPort => {
                    transfers.push(t("RETR", "pub/implicit.bin", false, 0, true));
                    urls.push(vec![
                        "-o".into(),
                        "implicit.bin".into(),
                        url("pub/implicit.bin"),
                    ]);
                }
                Scenario::PureftpdCurlTls12ChachaRest => {
                    // A partial local copy (the first 22222 bytes), then `-C -`: SIZE, REST.
                    let whole = std::fs::read(w.join("site/pub/resume.bin")).unwrap();
                    write(&local.join("resume.bin"), &whole[..22_222]);
                    transfers.push(t("RETR", "pub/resume.bin", false, 22_222, true));
                    urls.push(vec![
                        "-C".into(),
                        "-".into(),
                        "-o".into(),
                        "resume.bin".into(),
                        url("pub/resume.bin"),
                    ]);
                }
                Scenario::ProftpdCurlTls12Ccc => {
                    common.push("--ftp-ssl-ccc".into());
                    transfers.push(t("RETR", "pub/report.bin", false, 0, true));
                    urls.push(vec![
                        "-o".into(),
                        "report.bin".into(),
                        url("pub/report.bin"),
                    ]);
                }
                other => panic!("{other:?} is not a curl scenario"),
            }
            for (i, u) in urls.into_iter().enumerate() {
                if i > 0 {
                    cmd.arg("--next");
                }
                cmd.args(&common).args(u);
            }
        }
        Client::Lftp => {
            version = format!(
                "lftp {}",
                first_line(Command::new("lftp").arg("--version"))
                    .split('|')
                    .nth(1)
                    .unwrap_or("")
                    .trim()
                    .trim_start_matches("Version ")
            );
            let priority = match spec.tls {
                TlsChoice::V13Chacha => {
                    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305"
                }
                TlsChoice::V13 => "NORMAL:-VERS-ALL:+VERS-TLS1.3",
                TlsChoice::V12 { .. } => "NORMAL:-VERS-ALL:+VERS-TLS1.2",
            };
            let script = w.join("lftp.script");
            write(
                &script,
                format!(
                    "set ftp:ssl-force true\nset ftp:ssl-protect-data true\n\
                     set ftp:ssl-protect-list true\nset ftp:passive-mode true\n\
                     set ftp:prefer-epsv false\nset ssl:verify-certificate no\n\
                     set ssl:priority \"{priority}\"\nset cmd:fail-exit yes\n\
                     set mirror:parallel-transfer-count 1\n\
                     open -u {USER},{PASSWORD} ftp://127.0.0.1:{port}\n\
                     mirror pub/docs docs\nbye\n",
                    port = spec.port
                ),
            );
            for name in ["alpha.bin", "beta.bin", "gamma.bin"] {
                let mut x = t("RETR", &format!("pub/docs/{name}"), false, 0, true);
                x.local = format!("docs/{name}");
                transfers.push(x);
            }
            // mirror lists the folder first (MLSD: proftpd offers it).
            transfers.insert(0, t("MLSD", "pub/docs", false, 0, true));
            cmd = ns.command("lftp");
            cmd.env("SSLKEYLOGFILE", keylog).arg("-f").arg(&script);
        }
        Client::Ftplib => {
            version = format!(
                "python3 ftplib {}",
                first_line(
                    Command::new(PYTHON)
                        .args(["-c", "import platform; print(platform.python_version())"])
                )
            );
            let script = w.join("client.py");
            write(&script, FTPLIB_CLIENT);
            let (maxver, ciphers, no_etm) = match spec.tls {
                TlsChoice::V12 { suite, no_etm } => ("12", suite, no_etm),
                _ => ("13", "", false),
            };
            let steps: Vec<&str> = match scenario {
                Scenario::VsftpdFtplibTls12GcmActive => {
                    transfers.push(t("RETR", "pub/report.bin", false, 0, true));
                    transfers.push(t("STOR", "incoming/upload.bin", true, 0, true));
                    vec![
                        "reuse",
                        "active",
                        "retr:pub/report.bin",
                        "stor:incoming/upload.bin",
                    ]
                }
                Scenario::PyftpdlibFtplibProtPThenC => {
                    transfers.push(t("RETR", "pub/report.bin", false, 0, true));
                    transfers.push(t("STOR", "incoming/upload.bin", true, 0, false));
                    vec![
                        "reuse",
                        "retr:pub/report.bin",
                        "protc",
                        "stor:incoming/upload.bin",
                    ]
                }
                _ => {
                    transfers.push(t("NLST", "pub", false, 0, true));
                    transfers.push(t("RETR", "pub/report.bin", false, 0, true));
                    transfers.push(t("STOR", "incoming/upload.bin", true, 0, true));
                    vec![
                        "nlst:pub",
                        "retr:pub/report.bin",
                        "stor:incoming/upload.bin",
                    ]
                }
            };
            cmd = ns.command(PYTHON);
            cmd.arg(&script)
                .args(["127.0.0.1", &spec.port.to_string()])
                .arg(keylog)
                .args([maxver, ciphers, if no_etm { "1" } else { "0" }])
                .args(steps);
        }
    }
    cmd.current_dir(local)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("start the client");
    let out = wait_output(child, Duration::from_secs(90));
    let text = format!(
        "{:?}\nstdout:\n{}\nstderr:\n{}",
        cmd,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status, text, version)
}

fn wait_output(mut child: Child, limit: Duration) -> std::process::Output {
    use std::io::Read;
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t1 = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t2 = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let status = wait_with_limit(&mut child, limit, "the client");
    std::process::Output {
        status,
        stdout: t1.join().unwrap_or_default(),
        stderr: t2.join().unwrap_or_default(),
    }
}

// ------------------------------------------------------------------ reading the capture

/// A TLS connection seen in a capture: its two ends and the client random of its
/// ClientHello (both ClientHellos share it after a HelloRetryRequest).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TlsConnection {
    pub client: (std::net::Ipv4Addr, u16),
    pub server: (std::net::Ipv4Addr, u16),
    pub client_random: [u8; 32],
    /// How many ClientHellos it sent (2 after a HelloRetryRequest).
    pub client_hellos: usize,
}

/// Every TLS connection of a classic pcap (Ethernet, IPv4, as tcpdump writes on `lo`),
/// found by the ClientHellos at the start of TCP payloads: a small reader of its own so
/// that the check does not need tshark.
pub fn tls_connections(pcap: &[u8]) -> Vec<TlsConnection> {
    let mut out: Vec<TlsConnection> = Vec::new();
    let le = match pcap.get(..4) {
        Some([0xd4, 0xc3, 0xb2, 0xa1]) => true,
        Some([0xa1, 0xb2, 0xc3, 0xd4]) => false,
        _ => panic!("not a classic pcap"),
    };
    let u32at = |b: &[u8], o: usize| {
        let a: [u8; 4] = b[o..o + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let mut off = 24;
    while off + 16 <= pcap.len() {
        let incl = u32at(pcap, off + 8) as usize;
        let frame = &pcap[off + 16..(off + 16 + incl).min(pcap.len())];
        off += 16 + incl;
        if frame.len() < 14 + 20 || frame[12..14] != [0x08, 0x00] {
            continue;
        }
        let ip = &frame[14..];
        let ihl = usize::from(ip[0] & 15) * 4;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        if ip[9] != 6 || ip.len() < total || total < ihl + 20 {
            continue;
        }
        let src = std::net::Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
        let dst = std::net::Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
        let tcp = &ip[ihl..total];
        let sport = u16::from_be_bytes([tcp[0], tcp[1]]);
        let dport = u16::from_be_bytes([tcp[2], tcp[3]]);
        let doff = usize::from(tcp[12] >> 4) * 4;
        let payload = &tcp[doff.min(tcp.len())..];
        // record: 0x16 03 0x; handshake type 1; random at 11..43.
        if payload.len() >= 43 && payload[0] == 0x16 && payload[1] == 3 && payload[5] == 1 {
            let random: [u8; 32] = payload[11..43].try_into().unwrap();
            let client = (src, sport);
            let server = (dst, dport);
            match out
                .iter_mut()
                .find(|c| c.client == client && c.server == server)
            {
                Some(c) => c.client_hellos += 1,
                None => out.push(TlsConnection {
                    client,
                    server,
                    client_random: random,
                    client_hellos: 1,
                }),
            }
        }
    }
    out
}

/// The client randoms that an NSS key log holds traffic secrets for: `CLIENT_RANDOM`
/// (TLS 1.2) or `CLIENT_TRAFFIC_SECRET_0` / `SERVER_TRAFFIC_SECRET_0` (TLS 1.3).
pub fn keylog_randoms(keylog: &str) -> BTreeSet<[u8; 32]> {
    let mut out = BTreeSet::new();
    for line in keylog.lines() {
        let mut f = line.split_whitespace();
        let (Some(label), Some(random)) = (f.next(), f.next()) else {
            continue;
        };
        if !matches!(
            label,
            "CLIENT_RANDOM" | "CLIENT_TRAFFIC_SECRET_0" | "SERVER_TRAFFIC_SECRET_0"
        ) || random.len() != 64
        {
            continue;
        }
        let bytes: Option<Vec<u8>> = (0..32)
            .map(|i| u8::from_str_radix(&random[2 * i..2 * i + 2], 16).ok())
            .collect();
        if let Some(b) = bytes.and_then(|b| <[u8; 32]>::try_from(b).ok()) {
            out.insert(b);
        }
    }
    out
}

/// The labels of an NSS key log line by line (for reports).
pub fn keylog_labels(keylog: &str) -> HashSet<String> {
    keylog
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}
