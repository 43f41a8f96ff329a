//! Live capture rate: FTP transfers at increasing rates on the loopback of a private network
//! namespace, ftpscope capturing them (`-i lo --json -x DIR`); each step passes when the
//! capture dropped no packet and every transfer is `complete` with every extracted file's
//! sha256 equal to the bytes sent. Prints a table and the highest passing rate.
//!
//! ```sh
//! sudo cargo bench --features live --bench live_rate
//! LIVE_RATE_SECONDS=5 LIVE_RATE_STREAMS=8 LIVE_RATE_ARGS="-B 2048" cargo bench ...
//! ```
//!
//! - `LIVE_RATE_SECONDS` (default 3): how long each rated step lasts.
//! - `LIVE_RATE_STREAMS` (default 4): concurrent transfers per step, half uploads (whose rate
//!   curl's `--limit-rate` holds on the wire) and half downloads (which burst into the
//!   client's socket buffer first, then follow the limit).
//! - `LIVE_RATE_MBPS` (default `100,200,400,600,800,1000,1200`): the aggregate rates, MB/s
//!   (10^6 bytes); a last step runs unlimited (`LIVE_RATE_UNLIMITED_MB` MB per stream,
//!   default 400).
//! - `LIVE_RATE_ARGS`: extra ftpscope arguments (e.g. `-B 2048` for libpcap's default buffer).
//!
//! The server is pyftpdlib (Python) and the client curl, on the same two cores as ftpscope:
//! at the top the rig, not ftpscope, may set the pace; the table shows the rate achieved
//! and ftpscope's CPU time, so a step that could not reach its target says so.

// Benchmark code: a failed unwrap is a failed run, said with its place.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/live/harness.rs"]
mod harness;

use harness::*;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

struct Step {
    achieved_mbps: f64,
    bytes: u64,
    packets: u64,
    kernel_drops: u64,
    exact: usize,
    transfers: usize,
    cpu_seconds: f64,
    wall_seconds: f64,
    passed: bool,
    note: String,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds (user + system) a process has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f
        .get(11..13)
        .map(|x| x.iter().filter_map(|v| v.parse::<f64>().ok()).sum())
        .unwrap_or(0.0);
    ticks / 100.0 // USER_HZ
}

fn rfc3339_seconds(v: &Value) -> f64 {
    // "2026-11-25T10:52:31.708176Z": seconds within the day are enough for a duration.
    let s = v.as_str().unwrap_or("");
    let time = s
        .split('T')
        .nth(1)
        .unwrap_or("0:0:0Z")
        .trim_end_matches('Z');
    let mut parts = time.split(':');
    let h: f64 = parts.next().and_then(|x| x.parse().ok()).unwrap_or(0.0);
    let m: f64 = parts.next().and_then(|x| x.parse().ok()).unwrap_or(0.0);
    let sec: f64 = parts.next().and_then(|x| x.parse().ok()).unwrap_or(0.0);
    h * 3600.0 + m * 60.0 + sec
}

struct Config {
    seconds: u64,
    streams: u64,
    unlimited_mb: u64,
    extra: Vec<String>,
}

fn run_step(
    ns: &Netns,
    server: &FtpServer,
    work: &Path,
    target_mbps: Option<u64>,
    config: &Config,
) -> Step {
    let Config {
        seconds,
        streams,
        unlimited_mb,
        ref extra,
    } = *config;
    let per_stream = match target_mbps {
        Some(r) => r * 1_000_000 * seconds / streams,
        None => unlimited_mb * 1_000_000,
    };
    let rate = target_mbps.map(|r| r * 1_000_000 / streams);
    let content = pseudo_random(per_stream as usize, per_stream);
    let sha = sha256_hex(&content);
    let client = work.join("client");
    let out = work.join("out");
    let _ = std::fs::remove_dir_all(&client);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&client).unwrap();
    let local = client.join("payload.bin");
    std::fs::write(&local, &content).unwrap();
    for i in 0..streams {
        if i % 2 == 1 {
            std::fs::write(server.root.join(format!("down-{i}.bin")), &content).unwrap();
        }
    }
    drop(content);

    let mut args: Vec<&str> = vec!["-i", "lo", "--json", "-x", out.to_str().unwrap()];
    args.extend(extra.iter().map(String::as_str));
    let scope = Ftpscope::start(ns, &args);
    let started = Instant::now();
    let children: Vec<Child> = (0..streams)
        .map(|i| {
            let mode = [
                DataMode::Epsv,
                DataMode::Eprt,
                DataMode::Pasv,
                DataMode::Port,
            ][(i / 2 % 4) as usize];
            let mut cmd = if i % 2 == 0 {
                curl(ns, server, mode, &format!("up-{i}.bin"), &local, true, rate)
            } else {
                curl(
                    ns,
                    server,
                    mode,
                    &format!("down-{i}.bin"),
                    Path::new("/dev/null"),
                    false,
                    rate,
                )
            };
            cmd.spawn().unwrap()
        })
        .collect();
    let mut note = String::new();
    for mut child in children {
        let status = wait_with_limit(&mut child, Duration::from_secs(600), "curl");
        if !status.success() {
            note = format!("curl failed: {status}");
        }
    }
    let wall_seconds = started.elapsed().as_secs_f64();
    let all_in = scope.wait_for_transfers(streams as usize, Duration::from_secs(30));
    if !all_in {
        note = "not every transfer was reported".into();
    }
    let cpu = cpu_seconds(scope.pid());
    let (status, records, stderr) = scope.stop("INT");
    if !status.success() {
        note = format!("ftpscope exit {status}: {stderr}");
    }
    let summary = records
        .iter()
        .rev()
        .find(|r| r["type"] == "summary")
        .cloned()
        .unwrap_or(Value::Null);
    let transfers = of_type(&records, "transfer");
    let mut exact = 0;
    let mut first = f64::MAX;
    let mut last = 0.0f64;
    let mut bytes = 0;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for t in &transfers {
        *seen
            .entry(t["full_path"].as_str().unwrap_or("").to_owned())
            .or_default() += 1;
        bytes += t["bytes"].as_u64().unwrap_or(0);
        first = first.min(rfc3339_seconds(&t["start"]));
        last = last.max(rfc3339_seconds(&t["end"]));
        let ok = t["status"] == "complete"
            && t["bytes"] == per_stream
            && t["sha256"] == sha.as_str()
            && t["capture_drops"] == 0
            && t["file"]
                .as_str()
                .is_some_and(|f| sha256_file(Path::new(f)) == sha);
        if ok {
            exact += 1;
        }
    }
    let kernel_drops = summary["kernel_drops"].as_u64().unwrap_or(u64::MAX);
    let passed = note.is_empty()
        && kernel_drops == 0
        && exact == streams as usize
        && transfers.len() == streams as usize
        && seen.len() == streams as usize;
    for i in 0..streams {
        let _ = std::fs::remove_file(server.root.join(format!("up-{i}.bin")));
        let _ = std::fs::remove_file(server.root.join(format!("down-{i}.bin")));
    }
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(&client);
    let span = (last - first).max(1e-6);
    Step {
        achieved_mbps: bytes as f64 / span / 1e6,
        bytes,
        packets: summary["frames"].as_u64().unwrap_or(0),
        kernel_drops,
        exact,
        transfers: transfers.len(),
        cpu_seconds: cpu,
        wall_seconds,
        passed,
        note,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is ignored too.
    if let Some(why) = missing_prerequisite() {
        eprintln!("live_rate skipped: {why}");
        return;
    }
    let seconds = env_u64("LIVE_RATE_SECONDS", 3).max(1);
    let streams = env_u64("LIVE_RATE_STREAMS", 4).max(1);
    let unlimited_mb = env_u64("LIVE_RATE_UNLIMITED_MB", 400).max(1);
    let rates: Vec<u64> = std::env::var("LIVE_RATE_MBPS")
        .unwrap_or_else(|_| "100,200,400,600,800,1000,1200".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    let extra: Vec<String> = std::env::var("LIVE_RATE_ARGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();

    let config = Config {
        seconds,
        streams,
        unlimited_mb,
        extra: extra.clone(),
    };
    let tmp = TempDir::new("rate");
    let root = tmp.path().join("srv");
    std::fs::create_dir_all(&root).unwrap();
    let ns = Netns::create("rate");
    let server = FtpServer::start(&ns, &root, 2121);
    println!(
        "live_rate: {streams} concurrent transfers per step, {seconds} s each, ftpscope args \
         {:?}",
        extra.join(" ")
    );
    println!(
        "{:>10} {:>10} {:>9} {:>9} {:>7} {:>7} {:>9} {:>7}  result",
        "target", "achieved", "MB", "packets", "drops", "exact", "cpu s", "wall s"
    );
    let mut steps = Vec::new();
    let mut targets: Vec<Option<u64>> = rates.into_iter().map(Some).collect();
    targets.push(None);
    let mut failures = 0;
    for target in targets {
        let step = run_step(&ns, &server, tmp.path(), target, &config);
        println!(
            "{:>10} {:>8.0}/s {:>9.0} {:>9} {:>7} {:>3}/{:<3} {:>9.2} {:>7.2}  {}{}",
            target.map_or("unlimited".to_string(), |t| format!("{t} MB/s")),
            step.achieved_mbps,
            step.bytes as f64 / 1e6,
            step.packets,
            step.kernel_drops,
            step.exact,
            step.transfers,
            step.cpu_seconds,
            step.wall_seconds,
            if step.passed { "ok" } else { "FAIL" },
            if step.note.is_empty() {
                String::new()
            } else {
                format!(" ({})", step.note)
            }
        );
        failures = if step.passed { 0 } else { failures + 1 };
        steps.push(step);
        if failures >= 2 {
            break;
        }
    }
    let best = steps
        .iter()
        .take_while(|s| s.passed)
        .map(|s| s.achieved_mbps)
        .fold(0.0f64, f64::max);
    println!(
        "highest rate with zero drops and every file exact: {best:.0} MB/s achieved \
         ({} of {} steps passed)",
        steps.iter().filter(|s| s.passed).count(),
        steps.len()
    );
}
