//! The speed and memory benchmark: ftpscope against tshark and tcpflow on the same capture.
//!
//! ```sh
//! cargo bench --bench compare                          # 1 GiB capture, every tool installed
//! cargo bench --bench compare -- --size 4G --tools json,extract
//! cargo bench --bench compare -- --sizes 100M,1G,4G --tools json,extract   # memory series
//! cargo bench --bench compare -- --size 1G --sessions 100000 --tools json,extract
//! cargo bench --bench compare -- --size 1G --max-file 4M             # many files (~3 400)
//! cargo bench --bench compare -- --capture some.pcap   # a capture of your own (no manifest: no exactness column)
//! cargo bench --bench compare -- --ftps --size 512M     # FTPS against clear, same workload
//! ```
//!
//! With `--ftps [SUITE]` it compares decryption with the clear path instead: the same workload
//! (same seed and size: the same files, byte for byte) generated clear and as explicit FTPS
//! with its key log (`ftpscope-gen --ftps`), then `ftpscope -x` on the clear capture and
//! `ftpscope --keylog KEYS -x` on the FTPS one, runs alternating, and the ratio of the two; and
//! `tshark -o tls.keylog_file:KEYS --export-objects ftp-data,DIR` on the FTPS capture.
//!
//! For each capture it runs, one after the other: `ftpscope --json` (standard output to
//! /dev/null), `ftpscope -x DIR`, `tshark -q -r FILE --export-objects ftp-data,DIR` and
//! `tcpflow -r FILE -o DIR` (the last two when installed), each `--runs` times, and prints for
//! the fastest run: wall time, MB/s of capture, packets/s, CPU time, peak RSS (from `wait4` of the
//! child), and how many of the files in the generator's manifest came out with the right sha256.
//! Captures are made by `ftpscope-gen` (src/bin/ftpscope-gen.rs) in `--data-dir` and reused when
//! they exist. Nothing here is a test: it measures and prints. See BENCHMARKS.md.

// Benchmark code: a failed unwrap is a failed run, said with its place.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const FTPSCOPE: &str = env!("CARGO_BIN_EXE_ftpscope");
const GENERATOR: &str = env!("CARGO_BIN_EXE_ftpscope-gen");

const USAGE: &str = "\
usage: cargo bench --bench compare -- [options]
  --size SIZE          capture to generate (K/M/G suffixes, powers of 1024; default 1G)
  --sizes A,B,...      several captures, one after the other (a memory series)
  --sessions N         sessions in the generated capture (default: as many as the size needs)
  --concurrent N       sessions in flight at once in the generated capture (default 32)
  --max-file SIZE      largest file in the generated capture (default: the generator's);
                       small values make many-files captures (4M: ~3 400 files per GiB)
  --seed N             generator seed (default 1)
  --capture FILE       benchmark this capture instead (FILE.manifest.jsonl, when present, gives
                       the expected sha256 of every file)
  --data-dir DIR       where captures and outputs go (default $FTPSCOPE_BENCH_DIR, else
                       /work/bench-data when it exists, else the temp dir)
  --tools LIST         any of json,extract,tshark,tcpflow (default: all; missing ones skipped)
  --runs N             runs of each ftpscope mode; the fastest is reported (default 3)
  --other-runs N       runs of tshark and tcpflow (default 1)
  --nice N             run every measured command under `nice -n N` (e.g. -10 as root, so
                       that other work on the machine disturbs the measurements less)
  --keep               keep the extraction outputs (every run writes a folder of its own;
                       without --keep they are removed once the capture's runs are done)
  --ftps [SUITE]       FTPS against clear on the same workload (SUITE: tls13-aes128-gcm, the
                       default, tls13-chacha20, tls12-aes128-gcm, tls12-chacha20); tools: json,
                       extract, tshark (default extract,tshark)";

const SUITES: [&str; 4] = [
    "tls13-aes128-gcm",
    "tls13-chacha20",
    "tls12-aes128-gcm",
    "tls12-chacha20",
];

struct Options {
    sizes: Vec<String>,
    sessions: Option<String>,
    concurrent: Option<String>,
    max_file: Option<String>,
    seed: String,
    capture: Option<PathBuf>,
    data_dir: PathBuf,
    tools: Vec<String>,
    runs: usize,
    other_runs: usize,
    nice: Option<String>,
    keep: bool,
    ftps: Option<String>,
}

fn parse_args() -> Result<Options, String> {
    let default_dir = std::env::var_os("FTPSCOPE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let work = Path::new("/work/bench-data");
            if work.is_dir() {
                work.to_path_buf()
            } else {
                std::env::temp_dir().join("ftpscope-bench")
            }
        });
    let mut o = Options {
        sizes: vec!["1G".into()],
        sessions: None,
        concurrent: None,
        max_file: None,
        seed: "1".into(),
        capture: None,
        data_dir: default_dir,
        tools: ["json", "extract", "tshark", "tcpflow"]
            .map(String::from)
            .to_vec(),
        runs: 3,
        other_runs: 1,
        nice: None,
        keep: false,
        ftps: None,
    };
    let mut tools_given = false;
    let args = std::env::args().skip(1);
    let mut args = args.peekable();
    while let Some(a) = args.next() {
        if a == "--ftps" {
            let suite = match args.peek() {
                Some(v) if !v.starts_with('-') => args.next().unwrap_or_default(),
                _ => SUITES[0].to_string(),
            };
            if !SUITES.contains(&suite.as_str()) {
                return Err(format!("unknown suite {suite}\n{USAGE}"));
            }
            o.ftps = Some(suite);
            continue;
        }
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--bench" => {} // added by `cargo bench`
            "--size" => o.sizes = vec![value()?],
            "--sizes" => o.sizes = value()?.split(',').map(String::from).collect(),
            "--sessions" => o.sessions = Some(value()?),
            "--concurrent" => o.concurrent = Some(value()?),
            "--max-file" => o.max_file = Some(value()?),
            "--seed" => o.seed = value()?,
            "--capture" => o.capture = Some(PathBuf::from(value()?)),
            "--data-dir" => o.data_dir = PathBuf::from(value()?),
            "--tools" => {
                o.tools = value()?.split(',').map(String::from).collect();
                tools_given = true;
            }
            "--runs" => o.runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--other-runs" => {
                o.other_runs = value()?.parse().map_err(|e| format!("--other-runs: {e}"))?
            }
            "--nice" => o.nice = Some(value()?),
            "--keep" => o.keep = true,
            "-h" | "--help" => return Err(USAGE.into()),
            _ => return Err(format!("unknown argument {a}\n{USAGE}")),
        }
    }
    for t in &o.tools {
        if !["json", "extract", "tshark", "tcpflow"].contains(&t.as_str()) {
            return Err(format!("unknown tool {t}\n{USAGE}"));
        }
    }
    if o.ftps.is_some() && !tools_given {
        o.tools = vec!["extract".into(), "tshark".into()];
    }
    Ok(o)
}

// ---------------------------------------------------------------------------------------------
// Running a child and measuring it.

#[derive(Debug, Clone, Copy)]
struct Usage {
    wall: Duration,
    user: Duration,
    sys: Duration,
    max_rss_kib: u64,
    exit: i32,
}

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
mod sys {
    //! `wait4(2)`: the child's own peak RSS and CPU time (std's `Child::wait` drops them).
    #[repr(C)]
    pub struct Timeval {
        pub sec: i64,
        pub usec: i64,
    }
    #[repr(C)]
    pub struct Rusage {
        pub utime: Timeval,
        pub stime: Timeval,
        /// Peak resident set size, KiB.
        pub maxrss: i64,
        pub rest: [i64; 13],
    }
    unsafe extern "C" {
        pub fn wait4(pid: i32, status: *mut i32, options: i32, rusage: *mut Rusage) -> i32;
    }

    /// Reaps `pid`: (exit code or 128 + signal, user and system CPU time, peak RSS in KiB).
    pub fn reap(pid: u32) -> std::io::Result<(i32, std::time::Duration, std::time::Duration, u64)> {
        let mut status = 0i32;
        let mut ru = Rusage {
            utime: Timeval { sec: 0, usec: 0 },
            stime: Timeval { sec: 0, usec: 0 },
            maxrss: 0,
            rest: [0; 13],
        };
        loop {
            // SAFETY: `status` and `ru` are valid for writes and laid out as Linux expects on
            // 64-bit targets (timeval is two longs, then fourteen longs).
            let r = unsafe { wait4(pid as i32, &mut status, 0, &mut ru) };
            if r == pid as i32 {
                break;
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        let code = if status & 0x7f == 0 {
            (status >> 8) & 0xff
        } else {
            128 + (status & 0x7f)
        };
        let t = |tv: &Timeval| {
            std::time::Duration::from_micros((tv.sec * 1_000_000 + tv.usec).max(0) as u64)
        };
        Ok((code, t(&ru.utime), t(&ru.stime), ru.maxrss.max(0) as u64))
    }
}

fn run_measured(cmd: &mut Command) -> io::Result<Usage> {
    let start = Instant::now();
    let child = cmd.spawn()?;
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    {
        let (exit, user, sys, max_rss_kib) = sys::reap(child.id())?;
        let wall = start.elapsed();
        // Already reaped: dropping `child` closes its pipes and neither waits nor kills.
        drop(child);
        Ok(Usage {
            wall,
            user,
            sys,
            max_rss_kib,
            exit,
        })
    }
    #[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
    {
        let mut child = child;
        let status = child.wait()?;
        Ok(Usage {
            wall: start.elapsed(),
            user: Duration::ZERO,
            sys: Duration::ZERO,
            max_rss_kib: 0,
            exit: status.code().unwrap_or(-1),
        })
    }
}

/// The kernel's switch: writing 1 drops the clean page cache (root only).
const DROP_CACHES: &str = "/proc/sys/vm/drop_caches";

/// Runs the measured commands from a small process of its own. A child's peak RSS counts its
/// parent's memory until `exec` (Linux keeps the larger of the two), and this harness holds
/// the manifest (tens of MB for 100 000 sessions): measured directly, every tool would seem
/// to use at least that much. The runner is this same program started with `--runner` while
/// it is still small; it reads one command per line (JSON argv), runs it with standard output
/// and error to /dev/null, and answers with what `wait4` said.
struct Runner {
    child: std::process::Child,
    to: std::process::ChildStdin,
    from: BufReader<std::process::ChildStdout>,
    /// The captures the runs read, read again into the page cache after it is dropped
    /// ([`Runner::settle`]).
    warm: Vec<PathBuf>,
    /// Whether this process may drop the page cache (root).
    drops_cache: bool,
}

impl Runner {
    fn start() -> io::Result<Runner> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("--runner")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let (Some(to), Some(from)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(io::Error::other("runner without pipes"));
        };
        Ok(Runner {
            child,
            to,
            from: BufReader::new(from),
            warm: Vec::new(),
            drops_cache: fs::OpenOptions::new().write(true).open(DROP_CACHES).is_ok(),
        })
    }

    /// The captures the next runs read.
    fn keep_warm(&mut self, captures: &[&Path]) {
        self.warm = captures.iter().map(|c| c.to_path_buf()).collect();
    }

    /// Before a run: the dirty pages the run before left are written out, so that no run
    /// pays for another's writeback; then, when the harness may (root), the clean page cache
    /// is dropped and the captures read back into it. Each run writes a capture's worth of
    /// files: with the memory full of the runs before, the kernel reclaimed pages while the
    /// next run wrote, which cost it up to twice the system time.
    fn settle(&self) {
        let _ = Command::new("sync").status();
        if self.drops_cache && fs::write(DROP_CACHES, "1").is_ok() {
            for capture in &self.warm {
                if let Ok(mut f) = File::open(capture) {
                    let _ = io::copy(&mut f, &mut io::sink());
                }
            }
        }
    }

    fn run(&mut self, cmd: &Command) -> io::Result<Usage> {
        use std::io::Write as _;
        let mut argv = vec![cmd.get_program().to_string_lossy().into_owned()];
        argv.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
        writeln!(self.to, "{}", serde_json::to_string(&argv)?)?;
        self.to.flush()?;
        let mut line = String::new();
        self.from.read_line(&mut line)?;
        let v: Vec<u64> = serde_json::from_str(&line)?;
        let [wall, user, sys, rss, exit] = v[..] else {
            return Err(io::Error::other(format!("runner said {line:?}")));
        };
        Ok(Usage {
            wall: Duration::from_nanos(wall),
            user: Duration::from_nanos(user),
            sys: Duration::from_nanos(sys),
            max_rss_kib: rss,
            exit: exit as i32,
        })
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The runner's side (see [`Runner`]).
fn runner_main() -> ExitCode {
    use std::io::Write as _;
    let mut out = io::stdout().lock();
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else {
            break;
        };
        let Ok(argv) = serde_json::from_str::<Vec<String>>(&line) else {
            return ExitCode::FAILURE;
        };
        let Some((program, args)) = argv.split_first() else {
            return ExitCode::FAILURE;
        };
        let mut cmd = Command::new(program);
        cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
        let answer = match run_measured(&mut cmd) {
            Ok(u) => [
                u.wall.as_nanos() as u64,
                u.user.as_nanos() as u64,
                u.sys.as_nanos() as u64,
                u.max_rss_kib,
                u.exit as u64,
            ],
            Err(_) => [0, 0, 0, 0, 127],
        };
        let Ok(text) = serde_json::to_string(&answer) else {
            return ExitCode::FAILURE;
        };
        if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// A command to measure: `program`, under `nice` when asked (`nice` execs it: same process,
/// so `wait4` still measures the program itself).
fn measured(o: &Options, program: &str) -> Command {
    match &o.nice {
        Some(n) => {
            let mut c = Command::new("nice");
            c.args(["-n", n, program]);
            c
        }
        None => Command::new(program),
    }
}

fn installed(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
        || Command::new(tool)
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
}

fn first_line(cmd: &str, arg: &str) -> String {
    Command::new(cmd)
        .arg(arg)
        .output()
        .ok()
        .map(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn cpu_model() -> String {
    let model = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().next().and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<u64>().ok())
            })
        })
        .map_or("?".into(), |kib| {
            format!("{:.0} GiB", kib as f64 / 1048576.0)
        });
    format!("{model}, {cores} cores, {mem}")
}

// ---------------------------------------------------------------------------------------------
// Captures, manifests and checking outputs.

/// The sha256 of every file the generator put on the wire, with how many times each occurs.
#[derive(Default)]
struct Manifest {
    files: HashMap<String, u64>,
    total: u64,
    frames: Option<u64>,
    /// Bytes of every file and listing together (the plaintext).
    file_bytes: Option<u64>,
}

fn read_manifest(path: &Path) -> io::Result<Manifest> {
    let mut m = Manifest::default();
    for line in BufReader::new(File::open(path)?).lines() {
        let v: serde_json::Value = serde_json::from_str(&line?)?;
        match v["type"].as_str() {
            Some("file") => {
                if let Some(sha) = v["sha256"].as_str() {
                    *m.files.entry(sha.to_string()).or_default() += 1;
                    m.total += 1;
                }
            }
            Some("summary") => {
                m.frames = v["frames"].as_u64();
                m.file_bytes = v["file_bytes"].as_u64();
            }
            _ => {}
        }
    }
    Ok(m)
}

/// How many manifest entries are matched by `found` (each found file matches at most one).
fn matched(manifest: &Manifest, found: &HashMap<String, u64>) -> u64 {
    manifest
        .files
        .iter()
        .map(|(sha, n)| (*n).min(found.get(sha).copied().unwrap_or(0)))
        .sum()
}

fn sha256_file(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// sha256 of every regular file under `dir` (recursively), except `skip` names.
fn hash_tree(dir: &Path, skip: &[&str], out: &mut HashMap<String, u64>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            hash_tree(&path, skip, out)?;
        } else if kind.is_file() {
            let name = entry.file_name();
            if skip.iter().any(|s| name.to_str() == Some(*s)) {
                continue;
            }
            *out.entry(sha256_file(&path)?).or_default() += 1;
        }
    }
    Ok(())
}

/// ftpscope's JSON Lines: sha256 of every `complete` transfer record.
fn json_found(path: &Path) -> io::Result<HashMap<String, u64>> {
    let mut found = HashMap::new();
    for line in BufReader::new(File::open(path)?).lines() {
        let v: serde_json::Value = serde_json::from_str(&line?)?;
        if v["type"] == "transfer"
            && v["status"] == "complete"
            && let Some(sha) = v["sha256"].as_str()
        {
            *found.entry(sha.to_string()).or_default() += 1;
        }
    }
    Ok(found)
}

/// `-x DIR`: every file named in DIR/index.jsonl, hashed on disk; also checks that the
/// record's sha256 is the file's.
fn extract_found(dir: &Path) -> io::Result<(HashMap<String, u64>, u64)> {
    let mut found = HashMap::new();
    let mut disagree = 0;
    for line in BufReader::new(File::open(dir.join("index.jsonl"))?).lines() {
        let v: serde_json::Value = serde_json::from_str(&line?)?;
        if v["status"] != "complete" {
            continue;
        }
        if let Some(file) = v["file"].as_str() {
            let sha = sha256_file(Path::new(file))?;
            if v["sha256"].as_str() != Some(sha.as_str()) {
                disagree += 1;
            }
            *found.entry(sha).or_default() += 1;
        }
    }
    Ok((found, disagree))
}

fn remove_dir(dir: &Path) {
    if dir.exists() {
        let _ = fs::remove_dir_all(dir);
    }
}

/// The output folders of measured runs (`bench-out` in the data folder). Each run writes into
/// a new folder, and none is removed before the capture's runs are all done: on ext4 without
/// a journal, inodes freed in the last 30 s (3 min while their inode table is not written yet)
/// are passed over, an inode-table lookup each, whenever a new inode is allocated (the
/// kernel's `recently_deleted`), so a run started right after the previous run's thousands of
/// files were deleted measured the file system's memory of them (2-3 times the system time),
/// not the tool. Before each run, [`Runner::settle`] writes out and drops what the run before
/// left in the page cache.
struct Scratch {
    dir: PathBuf,
    made: Vec<PathBuf>,
    keep: bool,
}

impl Scratch {
    fn new(o: &Options) -> io::Result<Scratch> {
        let dir = o.data_dir.join("bench-out");
        fs::create_dir_all(&dir)?;
        Ok(Scratch {
            dir,
            made: Vec::new(),
            keep: o.keep,
        })
    }

    /// A new output folder's path, named after `name`, where nothing stands yet.
    fn folder(&mut self, name: &str) -> PathBuf {
        let mut n = self.made.len();
        loop {
            n += 1;
            let path = self.dir.join(format!("{name}-{n}"));
            if !path.exists() {
                self.made.push(path.clone());
                return path;
            }
        }
    }
}

impl Drop for Scratch {
    /// The capture's runs are done: their outputs go (unless `--keep`).
    fn drop(&mut self) {
        if !self.keep {
            for dir in self.made.drain(..) {
                remove_dir(&dir);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The comparison.

struct Row {
    tool: &'static str,
    command: String,
    usage: Usage,
    runs: usize,
    exact: Option<u64>,
    note: String,
}

fn capture_for(o: &Options, size: &str) -> io::Result<PathBuf> {
    if let Some(c) = &o.capture {
        return Ok(c.clone());
    }
    fs::create_dir_all(&o.data_dir)?;
    let mut name = format!("ftp-{size}-seed{}", o.seed);
    if let Some(s) = &o.sessions {
        let _ = write!(name, "-s{s}");
    }
    if let Some(c) = &o.concurrent {
        let _ = write!(name, "-c{c}");
    }
    if let Some(m) = &o.max_file {
        let _ = write!(name, "-m{m}");
    }
    let path = o.data_dir.join(format!("{name}.pcap"));
    let manifest = manifest_path(&path);
    if path.exists() && manifest.exists() {
        return Ok(path);
    }
    let mut cmd = Command::new(GENERATOR);
    cmd.args(["--out".as_ref(), path.as_os_str()])
        .args(["--size", size, "--seed", &o.seed]);
    if let Some(s) = &o.sessions {
        cmd.args(["--sessions", s]);
    }
    if let Some(c) = &o.concurrent {
        cmd.args(["--concurrent", c]);
    }
    if let Some(m) = &o.max_file {
        cmd.args(["--max-file", m]);
    }
    eprintln!("generating {} ...", path.display());
    let u = run_measured(&mut cmd)?;
    if u.exit != 0 {
        return Err(io::Error::other(format!(
            "ftpscope-gen exited with {}",
            u.exit
        )));
    }
    Ok(path)
}

fn manifest_path(capture: &Path) -> PathBuf {
    let mut p = capture.as_os_str().to_owned();
    p.push(".manifest.jsonl");
    PathBuf::from(p)
}

/// Runs `make()` `runs` times, each after [`Runner::settle`], and keeps the fastest.
fn best_of(
    runner: &mut Runner,
    runs: usize,
    mut make: impl FnMut() -> Command,
) -> io::Result<Usage> {
    let mut best: Option<Usage> = None;
    for _ in 0..runs.max(1) {
        runner.settle();
        let u = runner.run(&make())?;
        if best.is_none_or(|b| u.wall < b.wall) {
            best = Some(u);
        }
    }
    Ok(best.unwrap_or(NOT_RUN))
}

/// Like [`best_of`] for a command that writes into a folder: each run gets a new one from
/// `scratch`, named after `name` ([`Scratch`]). Returns the last run's folder too.
fn best_of_into(
    runner: &mut Runner,
    runs: usize,
    scratch: &mut Scratch,
    name: &str,
    mut make: impl FnMut(&Path) -> Command,
) -> io::Result<(Usage, PathBuf)> {
    let mut last = PathBuf::new();
    let usage = best_of(runner, runs, || {
        last = scratch.folder(name);
        make(&last)
    })?;
    Ok((usage, last))
}

/// The usage of a command that never ran.
const NOT_RUN: Usage = Usage {
    wall: Duration::ZERO,
    user: Duration::ZERO,
    sys: Duration::ZERO,
    max_rss_kib: 0,
    exit: -1,
};

fn bench_capture(o: &Options, runner: &mut Runner, capture: &Path) -> io::Result<Vec<Row>> {
    let bytes = fs::metadata(capture)?.len();
    let manifest = match read_manifest(&manifest_path(capture)) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    // Warm the page cache (and measure how fast the file reads from it).
    runner.keep_warm(&[capture]);
    let mut rows = Vec::new();
    let cat = best_of(runner, 2, || {
        let mut c = measured(o, "cat");
        c.arg(capture).stdout(Stdio::null());
        c
    })?;
    rows.push(Row {
        tool: "cat (read only)",
        command: format!("cat {} > /dev/null", capture.display()),
        usage: cat,
        runs: 2,
        exact: None,
        note: String::new(),
    });
    let mut scratch = Scratch::new(o)?;
    let tmp = scratch.dir.clone();
    let want = |t: &str| o.tools.iter().any(|x| x == t);

    if want("json") {
        let usage = best_of(runner, o.runs, || {
            let mut c = measured(o, FTPSCOPE);
            c.args(["--no-progress", "--json", "-r"])
                .arg(capture)
                .stdout(Stdio::null());
            c
        })?;
        // One more run, into a file, to check the records against the manifest.
        let json = tmp.join("ftpscope.jsonl");
        let exact = match &manifest {
            Some(m) => {
                let out = File::create(&json)?;
                Command::new(FTPSCOPE)
                    .args(["--no-progress", "--json", "-r"])
                    .arg(capture)
                    .stdout(out)
                    .status()?;
                let found = json_found(&json)?;
                let _ = fs::remove_file(&json);
                Some(matched(m, &found))
            }
            None => None,
        };
        rows.push(Row {
            tool: "ftpscope --json",
            command: format!("ftpscope --json -r {} > /dev/null", capture.display()),
            usage,
            runs: o.runs,
            exact,
            note: String::new(),
        });
    }
    if want("extract") {
        let (usage, dir) = best_of_into(runner, o.runs, &mut scratch, "ftpscope-x", |dir| {
            let mut c = measured(o, FTPSCOPE);
            c.args(["--no-progress", "--json", "-r"])
                .arg(capture)
                .arg("-x")
                .arg(dir)
                .stdout(Stdio::null());
            c
        })?;
        let (exact, note) = match &manifest {
            Some(m) => {
                let (found, disagree) = extract_found(&dir)?;
                let note = if disagree > 0 {
                    format!("{disagree} records whose sha256 is not their file's")
                } else {
                    String::new()
                };
                (Some(matched(m, &found)), note)
            }
            None => (None, String::new()),
        };
        rows.push(Row {
            tool: "ftpscope -x",
            command: format!(
                "ftpscope --json -r {} -x {} > /dev/null",
                capture.display(),
                dir.display()
            ),
            usage,
            runs: o.runs,
            exact,
            note,
        });
    }
    if want("tshark") && installed("tshark") {
        let (usage, dir) = best_of_into(runner, o.other_runs, &mut scratch, "tshark", |dir| {
            let mut c = measured(o, "tshark");
            c.arg("-q")
                .arg("-r")
                .arg(capture)
                .arg("--export-objects")
                .arg(format!("ftp-data,{}", dir.display()))
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            c
        })?;
        let exact = match &manifest {
            Some(m) if dir.exists() => {
                let mut found = HashMap::new();
                hash_tree(&dir, &[], &mut found)?;
                Some(matched(m, &found))
            }
            Some(_) => Some(0),
            None => None,
        };
        rows.push(Row {
            tool: "tshark --export-objects",
            command: format!(
                "tshark -q -r {} --export-objects ftp-data,{}",
                capture.display(),
                dir.display()
            ),
            usage,
            runs: o.other_runs,
            exact,
            note: String::new(),
        });
    }
    if want("tcpflow") && installed("tcpflow") {
        let (usage, dir) = best_of_into(runner, o.other_runs, &mut scratch, "tcpflow", |dir| {
            let mut c = measured(o, "tcpflow");
            c.arg("-r")
                .arg(capture)
                .arg("-o")
                .arg(dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            c
        })?;
        let exact = match &manifest {
            Some(m) if dir.exists() => {
                let mut found = HashMap::new();
                hash_tree(&dir, &["report.xml"], &mut found)?;
                Some(matched(m, &found))
            }
            Some(_) => Some(0),
            None => None,
        };
        rows.push(Row {
            tool: "tcpflow",
            command: format!("tcpflow -r {} -o {}", capture.display(), dir.display()),
            usage,
            runs: o.other_runs,
            exact,
            note: "TCP streams only: every flow direction as a file, no FTP".into(),
        });
    }
    print_rows(capture, bytes, manifest.as_ref(), &rows);
    Ok(rows)
}

fn print_rows(capture: &Path, bytes: u64, manifest: Option<&Manifest>, rows: &[Row]) {
    let frames = manifest.and_then(|m| m.frames);
    println!();
    println!(
        "capture {}: {:.1} MB{}{}",
        capture.display(),
        bytes as f64 / 1e6,
        frames.map_or(String::new(), |f| format!(", {f} frames")),
        manifest.map_or(String::new(), |m| format!(
            ", {} files and listings in the manifest",
            m.total
        ))
    );
    println!(
        "| tool | wall s | MB/s | Mpackets/s | user s | sys s | peak RSS MiB | files exact | vs tshark | vs tcpflow | exit |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let rate = |u: &Usage| bytes as f64 / 1e6 / u.wall.as_secs_f64().max(1e-9);
    let find = |name: &str| {
        rows.iter()
            .find(|r| r.tool.starts_with(name))
            .map(|r| rate(&r.usage))
    };
    let (tshark, tcpflow) = (find("tshark"), find("tcpflow"));
    for r in rows {
        let u = &r.usage;
        let mbs = rate(u);
        let pps = frames.map_or("-".into(), |f| {
            format!("{:.2}", f as f64 / 1e6 / u.wall.as_secs_f64().max(1e-9))
        });
        let exact = match (r.exact, manifest) {
            (Some(e), Some(m)) => format!("{e}/{}", m.total),
            _ => "-".into(),
        };
        let ratio = |other: Option<f64>| match other {
            Some(o) if o > 0.0 && !r.tool.starts_with("cat") => format!("{:.1}×", mbs / o),
            _ => "-".into(),
        };
        println!(
            "| {} | {:.2} | {:.0} | {pps} | {:.2} | {:.2} | {:.1} | {exact} | {} | {} | {} |",
            r.tool,
            u.wall.as_secs_f64(),
            mbs,
            u.user.as_secs_f64(),
            u.sys.as_secs_f64(),
            u.max_rss_kib as f64 / 1024.0,
            ratio(tshark),
            ratio(tcpflow),
            u.exit,
        );
    }
    println!();
    for r in rows {
        let runs = if r.runs > 1 {
            format!(" (fastest of {})", r.runs)
        } else {
            String::new()
        };
        let note = if r.note.is_empty() {
            String::new()
        } else {
            format!("  [{}]", r.note)
        };
        println!("  {}{runs}: {}{note}", r.tool, r.command);
    }
}

// ---------------------------------------------------------------------------------------------
// FTPS against clear text (`--ftps`).

/// The FTPS twin of the clear capture of `size`: same seed, same plan, same files.
fn ftps_capture_for(o: &Options, size: &str, suite: &str) -> io::Result<(PathBuf, PathBuf)> {
    fs::create_dir_all(&o.data_dir)?;
    let mut name = format!("ftps-{suite}-{size}-seed{}", o.seed);
    if let Some(s) = &o.sessions {
        let _ = write!(name, "-s{s}");
    }
    if let Some(c) = &o.concurrent {
        let _ = write!(name, "-c{c}");
    }
    if let Some(m) = &o.max_file {
        let _ = write!(name, "-m{m}");
    }
    let path = o.data_dir.join(format!("{name}.pcap"));
    let mut keys = path.as_os_str().to_owned();
    keys.push(".keys");
    let keys = PathBuf::from(keys);
    if path.exists() && manifest_path(&path).exists() && keys.exists() {
        return Ok((path, keys));
    }
    let mut cmd = Command::new(GENERATOR);
    cmd.args(["--out".as_ref(), path.as_os_str()])
        .args(["--size", size, "--seed", &o.seed, "--ftps", suite]);
    if let Some(s) = &o.sessions {
        cmd.args(["--sessions", s]);
    }
    if let Some(c) = &o.concurrent {
        cmd.args(["--concurrent", c]);
    }
    if let Some(m) = &o.max_file {
        cmd.args(["--max-file", m]);
    }
    eprintln!("generating {} ...", path.display());
    let u = run_measured(&mut cmd)?;
    if u.exit != 0 {
        return Err(io::Error::other(format!(
            "ftpscope-gen --ftps exited with {}",
            u.exit
        )));
    }
    Ok((path, keys))
}

/// One measured command of the FTPS comparison.
struct FtpsRow {
    tool: String,
    capture_bytes: u64,
    usage: Usage,
    runs: usize,
    exact: Option<u64>,
    written: Option<u64>,
    command: String,
}

fn bench_ftps(o: &Options, runner: &mut Runner, size: &str, suite: &str) -> io::Result<()> {
    let clear = capture_for(o, size)?;
    let (ftps, keys) = ftps_capture_for(o, size, suite)?;
    let clear_manifest = read_manifest(&manifest_path(&clear))?;
    let ftps_manifest = read_manifest(&manifest_path(&ftps))?;
    let same = clear_manifest.files == ftps_manifest.files;
    let m = &ftps_manifest;
    let (clear_bytes, ftps_bytes) = (fs::metadata(&clear)?.len(), fs::metadata(&ftps)?.len());
    let mut scratch = Scratch::new(o)?;
    let tmp = scratch.dir.clone();
    let want = |t: &str| o.tools.iter().any(|x| x == t);
    runner.keep_warm(&[clear.as_path(), ftps.as_path(), keys.as_path()]);
    let mut rows = Vec::new();
    for (name, path, bytes) in [("clear", &clear, clear_bytes), ("FTPS", &ftps, ftps_bytes)] {
        let usage = best_of(runner, 2, || {
            let mut c = measured(o, "cat");
            c.arg(path).stdout(Stdio::null());
            c
        })?;
        rows.push(FtpsRow {
            tool: format!("cat {name} (read only)"),
            capture_bytes: bytes,
            usage,
            runs: 2,
            exact: None,
            written: None,
            command: format!("cat {} > /dev/null", path.display()),
        });
    }
    // The two ftpscope commands of a mode, run alternately so that a change of load on the
    // machine touches both alike; the fastest run of each is kept.
    let ftpscope = |capture: &Path, with_keys: bool, out: Option<&Path>| {
        let mut c = measured(o, FTPSCOPE);
        c.args(["--no-progress", "--json", "-r"]).arg(capture);
        if with_keys {
            c.arg("--keylog").arg(&keys);
        }
        if let Some(d) = out {
            c.arg("-x").arg(d);
        }
        c.stdout(Stdio::null());
        c
    };
    let describe = |c: &Command| {
        let mut s = String::from("ftpscope");
        for a in c.get_args().skip(if o.nice.is_some() { 3 } else { 0 }) {
            let a = a.to_string_lossy();
            s.push(' ');
            s.push_str(&a);
        }
        s + " > /dev/null"
    };
    let mut pair = |extract: bool| -> io::Result<[FtpsRow; 2]> {
        let mut dirs = [PathBuf::new(), PathBuf::new()];
        let mut best: [Option<Usage>; 2] = [None, None];
        for _ in 0..o.runs.max(1) {
            for (i, (capture, with_keys)) in [(&clear, false), (&ftps, true)].iter().enumerate() {
                if extract {
                    dirs[i] = scratch.folder(["clear-x", "ftps-x"][i]);
                }
                runner.settle();
                let out = extract.then_some(dirs[i].as_path());
                let u = runner.run(&ftpscope(capture, *with_keys, out))?;
                if best[i].is_none_or(|b| u.wall < b.wall) {
                    best[i] = Some(u);
                }
            }
        }
        let mut rows = Vec::new();
        for (i, (name, capture, bytes, with_keys)) in [
            ("clear", &clear, clear_bytes, false),
            ("FTPS", &ftps, ftps_bytes, true),
        ]
        .into_iter()
        .enumerate()
        {
            let (exact, written) = if extract {
                let (found, _) = extract_found(&dirs[i])?;
                let n = found.values().sum();
                (Some(matched(m, &found)), Some(n))
            } else {
                let json = tmp.join("ftpscope.jsonl");
                let mut c = Command::new(FTPSCOPE);
                c.args(["--no-progress", "--json", "-r"]).arg(capture);
                if with_keys {
                    c.arg("--keylog").arg(&keys);
                }
                c.stdout(File::create(&json)?).status()?;
                let found = json_found(&json)?;
                let _ = fs::remove_file(&json);
                (Some(matched(m, &found)), None)
            };
            let mode = if extract { "-x" } else { "--json" };
            rows.push(FtpsRow {
                tool: format!("ftpscope {mode}, {name}"),
                capture_bytes: bytes,
                usage: best[i].unwrap_or(NOT_RUN),
                runs: o.runs.max(1),
                exact,
                written,
                command: describe(&ftpscope(capture, with_keys, extract.then_some(&dirs[i]))),
            });
        }
        let [a, b]: [FtpsRow; 2] = rows.try_into().map_err(|_| io::Error::other("rows"))?;
        Ok([a, b])
    };
    let mut ratios = Vec::new();
    for (tool, extract) in [("json", false), ("extract", true)] {
        if want(tool) {
            let [c, f] = pair(extract)?;
            ratios.push((c.tool.clone(), f.tool.clone(), c.usage, f.usage));
            rows.push(c);
            rows.push(f);
        }
    }
    if want("tshark") && installed("tshark") {
        let (usage, dir) =
            best_of_into(runner, o.other_runs, &mut scratch, "tshark-ftps", |dir| {
                let mut c = measured(o, "tshark");
                c.arg("-q")
                    .arg("-r")
                    .arg(&ftps)
                    .arg("-o")
                    .arg(format!("tls.keylog_file:{}", keys.display()))
                    .arg("--export-objects")
                    .arg(format!("ftp-data,{}", dir.display()))
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                c
            })?;
        let mut found = HashMap::new();
        if dir.exists() {
            hash_tree(&dir, &[], &mut found)?;
        }
        rows.push(FtpsRow {
            tool: "tshark --export-objects, FTPS + keys".into(),
            capture_bytes: ftps_bytes,
            usage,
            runs: o.other_runs,
            exact: Some(matched(m, &found)),
            written: Some(found.values().sum()),
            command: format!(
                "tshark -q -r {} -o tls.keylog_file:{} --export-objects ftp-data,{}",
                ftps.display(),
                keys.display(),
                dir.display()
            ),
        });
    }

    println!();
    println!(
        "clear {}: {:.1} MB{}; FTPS ({suite}) {}: {:.1} MB{}, key log {}",
        clear.display(),
        clear_bytes as f64 / 1e6,
        clear_manifest
            .frames
            .map_or(String::new(), |f| format!(", {f} frames")),
        ftps.display(),
        ftps_bytes as f64 / 1e6,
        m.frames.map_or(String::new(), |f| format!(", {f} frames")),
        keys.display()
    );
    println!(
        "the same workload: {} files and listings, {:.1} MB of plaintext{}",
        m.total,
        m.file_bytes.unwrap_or(0) as f64 / 1e6,
        if same {
            ", identical sha256 in both manifests"
        } else {
            " (THE MANIFESTS DIFFER)"
        }
    );
    println!(
        "| run | wall s | capture MB/s | plaintext MB/s | user s | sys s | peak RSS MiB | files exact | files written | exit |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let plain = m.file_bytes.unwrap_or(0) as f64 / 1e6;
    for r in &rows {
        let u = &r.usage;
        let secs = u.wall.as_secs_f64().max(1e-9);
        let plain_rate = if r.tool.starts_with("cat") {
            "-".to_string()
        } else {
            format!("{:.0}", plain / secs)
        };
        println!(
            "| {} | {:.2} | {:.0} | {plain_rate} | {:.2} | {:.2} | {:.1} | {} | {} | {} |",
            r.tool,
            u.wall.as_secs_f64(),
            r.capture_bytes as f64 / 1e6 / secs,
            u.user.as_secs_f64(),
            u.sys.as_secs_f64(),
            u.max_rss_kib as f64 / 1024.0,
            r.exact.map_or("-".into(), |e| format!("{e}/{}", m.total)),
            r.written.map_or("-".into(), |w| w.to_string()),
            u.exit,
        );
    }
    println!();
    for (c, f, cu, fu) in &ratios {
        let capture_ratio = (ftps_bytes as f64 / fu.wall.as_secs_f64().max(1e-9))
            / (clear_bytes as f64 / cu.wall.as_secs_f64().max(1e-9));
        let time_ratio = cu.wall.as_secs_f64() / fu.wall.as_secs_f64().max(1e-9);
        println!(
            "ratio {f} / {c}: {:.0} % in capture MB/s, {:.0} % in plaintext MB/s (wall {:.2} s / {:.2} s)",
            capture_ratio * 100.0,
            time_ratio * 100.0,
            cu.wall.as_secs_f64(),
            fu.wall.as_secs_f64(),
        );
    }
    println!();
    for r in &rows {
        let runs = if r.runs > 1 {
            format!(" (fastest of {})", r.runs)
        } else {
            String::new()
        };
        println!("  {}{runs}: {}", r.tool, r.command);
    }
    if rows.iter().any(|r| r.tool.starts_with("tshark")) {
        println!(
            "  tshark decrypts the control connection with the key log (it names the files from \
             RETR/STOR) but writes each data connection's bytes as they are on the wire: TLS \
             records, not the file"
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("--runner") {
        return runner_main();
    }
    // Started first, while this process is small (see `Runner`).
    let mut runner = match Runner::start() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the measuring process: {e}");
            return ExitCode::FAILURE;
        }
    };
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    println!("machine: {}", cpu_model());
    println!(
        "load average before: {} (other work on the machine slows every tool alike; rerun when it is near 0)",
        load_average()
    );
    if let Some(n) = &o.nice {
        // With autogroup scheduling (Linux), niceness only counts inside a session; the
        // session's own weight against other sessions is its autogroup's nice.
        let group = fs::write("/proc/self/autogroup", n.as_bytes()).is_ok();
        println!(
            "measured commands run under nice -n {n}{}",
            if group {
                " (and so does this session's autogroup)"
            } else {
                ""
            }
        );
    }
    println!(
        "{}",
        if runner.drops_cache {
            "before each run: sync, the clean page cache dropped, the capture read back in"
        } else {
            "before each run: sync (not root: the page cache is not dropped, so a run may pay \
             for reclaiming the pages of the runs before)"
        }
    );
    let tools: Vec<String> = ["tshark", "tcpflow"]
        .iter()
        .filter(|t| o.tools.iter().any(|x| x == *t))
        .map(|t| {
            let v = first_line(t, if *t == "tcpflow" { "-V" } else { "--version" });
            if v.is_empty() {
                format!("{t}: not installed, skipped")
            } else {
                v
            }
        })
        .collect();
    if !tools.is_empty() {
        println!("tools: {}", tools.join("; "));
    }
    let sizes = if o.capture.is_some() {
        vec![String::new()]
    } else {
        o.sizes.clone()
    };
    for size in &sizes {
        if let Some(suite) = &o.ftps {
            if let Err(e) = bench_ftps(&o, &mut runner, size, suite) {
                eprintln!("benchmark failed: {e}");
                return ExitCode::FAILURE;
            }
            continue;
        }
        let result = capture_for(&o, size).and_then(|c| bench_capture(&o, &mut runner, &c));
        if let Err(e) = result {
            eprintln!("benchmark failed: {e}");
            return ExitCode::FAILURE;
        }
    }
    println!("load average after: {}", load_average());
    ExitCode::SUCCESS
}
