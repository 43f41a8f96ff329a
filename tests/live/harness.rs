//! Shared by `tests/live.rs` and `benches/live_rate.rs`: a private network namespace (its own
//! loopback, so nothing else is captured and no packet leaves the machine), a real FTP server
//! in it (Debian's python3-pyftpdlib), ftpscope capturing in it, and curl as the client.
//!
//! Needs root, iproute2 (`ip netns`), python3-pyftpdlib, curl and a build with `--features
//! live`. Every wait is bounded; every process and the namespace are cleaned up on drop.
#![allow(dead_code)]

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub const USER: &str = "alice";
pub const PASSWORD: &str = "s3cret";
/// Debian's python, which python3-pyftpdlib installs into (a `python3` earlier on PATH may be
/// another one).
pub const PYTHON: &str = "/usr/bin/python3";

/// Why live tests cannot run here, or None when they can.
pub fn missing_prerequisite() -> Option<String> {
    let euid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1);
    if euid != 0 {
        return Some("not running as root (live capture and network namespaces need it)".into());
    }
    for (what, cmd, args) in [
        ("iproute2", "ip", &["-V"][..]),
        ("curl", "curl", &["--version"][..]),
        (
            "python3-pyftpdlib",
            PYTHON,
            &["-c", "import pyftpdlib.servers"][..],
        ),
    ] {
        let ok = Command::new(cmd)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Some(format!("{what} is not installed"));
        }
    }
    None
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn sha256_file(path: &Path) -> String {
    let mut f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Deterministic bytes that do not compress (xorshift), so each file is unique.
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

/// A fresh temporary folder, removed on drop.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = tempfile::Builder::new()
            .prefix(&format!("ftpscope-live-{tag}-"))
            .tempdir()
            .unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

/// A network namespace of our own with its loopback up; deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn create(tag: &str) -> Netns {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "ftpscope-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        run_ok(Command::new("ip").args(["netns", "add", &name]));
        let ns = Netns { name };
        run_ok(Command::new("ip").args(["-n", &ns.name, "link", "set", "lo", "up"]));
        ns
    }

    /// `program` run inside the namespace (`ip netns exec` execs it: the child's pid is the
    /// program's).
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits for a child, killing it after `limit`.
pub fn wait_with_limit(child: &mut Child, limit: Duration, what: &str) -> ExitStatus {
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

const SERVER_PY: &str = r#"
import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
root, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
auth = DummyAuthorizer()
auth.add_user(user, password, root, perm="elradfmwMT")
FTPHandler.authorizer = auth
FTPHandler.passive_ports = range(40000, 40200)
server = FTPServer(("127.0.0.1", port), FTPHandler)
server.max_cons = 256
print("ready", flush=True)
server.serve_forever()
"#;

/// pyftpdlib serving `root` on 127.0.0.1:`port` in the namespace, with one user.
pub struct FtpServer {
    child: Child,
    pub port: u16,
    pub root: PathBuf,
}

impl FtpServer {
    pub fn start(ns: &Netns, root: &Path, port: u16) -> FtpServer {
        let mut child = ns
            .command(PYTHON)
            .args(["-c", SERVER_PY])
            .arg(root)
            .args([&port.to_string(), USER, PASSWORD])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pyftpdlib");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if line.trim() == "ready" => {}
            other => {
                let _ = child.kill();
                panic!("pyftpdlib did not start: {other:?}");
            }
        }
        FtpServer {
            child,
            port,
            root: root.to_path_buf(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("ftp://{USER}:{PASSWORD}@127.0.0.1:{}/{path}", self.port)
    }
}

impl Drop for FtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How curl reaches the data connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataMode {
    /// EPSV (curl's default).
    Epsv,
    /// PASV (`--disable-epsv`).
    Pasv,
    /// EPRT (`-P 127.0.0.1`).
    Eprt,
    /// PORT (`-P 127.0.0.1 --disable-eprt`).
    Port,
}

impl DataMode {
    pub fn announced_by(self) -> &'static str {
        match self {
            DataMode::Epsv => "EPSV",
            DataMode::Pasv => "PASV",
            DataMode::Eprt => "EPRT",
            DataMode::Port => "PORT",
        }
    }

    pub fn mode(self) -> &'static str {
        match self {
            DataMode::Epsv | DataMode::Pasv => "passive",
            DataMode::Eprt | DataMode::Port => "active",
        }
    }

    fn curl_args(self) -> &'static [&'static str] {
        match self {
            DataMode::Epsv => &[],
            DataMode::Pasv => &["--disable-epsv"],
            DataMode::Eprt => &["-P", "127.0.0.1"],
            DataMode::Port => &["-P", "127.0.0.1", "--disable-eprt"],
        }
    }
}

/// A curl command in the namespace: `download` (RETR into `local`) or upload (STOR from it).
pub fn curl(
    ns: &Netns,
    server: &FtpServer,
    mode: DataMode,
    remote: &str,
    local: &Path,
    upload: bool,
    limit_rate: Option<u64>,
) -> Command {
    let mut c = ns.command("curl");
    c.args(["-sS", "--fail", "--max-time", "300"])
        .args(mode.curl_args());
    if let Some(rate) = limit_rate {
        c.args(["--limit-rate", &rate.to_string()]);
    }
    if upload {
        c.arg("-T").arg(local);
    } else {
        c.arg("-o").arg(local);
    }
    c.arg(server.url(remote));
    c.stdin(Stdio::null());
    c
}

pub fn run_curl(mut cmd: Command) {
    let out = cmd.output().expect("run curl");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// ftpscope capturing in the namespace; its JSON Lines are read as they come.
pub struct Ftpscope {
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
    stdout_thread: Option<JoinHandle<()>>,
    stderr_rx: Receiver<String>,
    stderr_thread: Option<JoinHandle<()>>,
    stderr: Arc<Mutex<String>>,
}

impl Ftpscope {
    /// Starts `ftpscope ARGS` (which should include `-i IFACE --json`) and waits until it
    /// says it is capturing.
    pub fn start(ns: &Netns, args: &[&str]) -> Ftpscope {
        let mut child = ns
            .command(env!("CARGO_BIN_EXE_ftpscope"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ftpscope");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let stdout_thread = thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                sink.lock().unwrap().push(v);
            }
        });
        let stderr = child.stderr.take().unwrap();
        let all = Arc::new(Mutex::new(String::new()));
        let all2 = Arc::clone(&all);
        let (tx, stderr_rx) = mpsc::channel();
        let stderr_thread = thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                all2.lock().unwrap().push_str(&line);
                all2.lock().unwrap().push('\n');
                let _ = tx.send(line);
            }
        });
        let mut me = Ftpscope {
            child,
            lines,
            stdout_thread: Some(stdout_thread),
            stderr_rx,
            stderr_thread: Some(stderr_thread),
            stderr: all,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match me.stderr_rx.recv_timeout(left) {
                Ok(line) if line.contains("capturing on") => break,
                Ok(_) => {}
                Err(_) => {
                    let _ = me.child.kill();
                    let _ = me.child.wait();
                    panic!(
                        "ftpscope did not start capturing: {}",
                        me.stderr.lock().unwrap()
                    );
                }
            }
        }
        me
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The JSON records written so far.
    pub fn records(&self) -> Vec<Value> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until `n` transfer records have been written (ftpscope still running).
    pub fn wait_for_transfers(&self, n: usize, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if of_type(&self.records(), "transfer").len() >= n {
                return true;
            }
            thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Sends `signal` (INT or TERM), waits for the exit, and returns everything it wrote.
    pub fn stop(mut self, signal: &str) -> (ExitStatus, Vec<Value>, String) {
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{signal} failed");
        let status = wait_with_limit(&mut self.child, Duration::from_secs(60), "ftpscope");
        if let Some(t) = self.stdout_thread.take() {
            t.join().unwrap();
        }
        if let Some(t) = self.stderr_thread.take() {
            let _ = t.join();
        }
        let stderr = self.stderr.lock().unwrap().clone();
        (status, self.records(), stderr)
    }
}

impl Drop for Ftpscope {
    fn drop(&mut self) {
        if self.stdout_thread.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn of_type<'a>(values: &'a [Value], ty: &str) -> Vec<&'a Value> {
    values.iter().filter(|v| v["type"] == ty).collect()
}

/// ftpscope run on a capture file, as JSON values.
pub fn analyse_file(path: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ftpscope"))
        .arg("-r")
        .arg(path)
        .arg("--json")
        .output()
        .expect("run ftpscope -r")
}
