//! The fuzz helper that needs no libFuzzer and no nightly features (stable Rust):
//!
//! - `plain seeds OUT FILE...`: makes seed corpora for every target from capture files
//!   (`OUT/<target>/...`): the captures themselves (cut to 64 KiB), their frames, and the
//!   command lines, replies, paths and listings the analyzer finds in them;
//! - `plain run TARGET SECONDS DIR...`: runs TARGET on every file of the DIRs, then on
//!   deterministic mutations of them until SECONDS have passed. A panic, or one input running
//!   longer than 20 s, saves the input under `fuzz/artifacts/TARGET/` and exits with status 1.
//!   This is the fallback of `fuzz/ci.sh` when cargo-fuzz cannot be used.
//!
//! Build it with `--no-default-features` (no libFuzzer):
//! `cargo run --release --no-default-features --manifest-path fuzz/Cargo.toml --example plain`.

use ftpscope::capture::CaptureReader;
use ftpscope_core::{Analyzer, Event, Limits, LinkType, Timestamp};
use ftpscope_fuzz::targets::{self, DICT_SEEDS, encode_frames, link_selector};
use ftpscope_fuzz::tls_targets;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MAX_SEED: usize = 64 << 10;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("seeds") if args.len() >= 2 => seeds(Path::new(&args[1]), &args[2..]),
        Some("run") if args.len() >= 3 => {
            let Some(target) = targets::target(&args[1]).or_else(|| tls_targets::target(&args[1]))
            else {
                eprintln!("unknown target {}", args[1]);
                return ExitCode::from(2);
            };
            let secs: u64 = args[2].parse().unwrap_or(60);
            run(&args[1], target, Duration::from_secs(secs), &args[3..])
        }
        Some("list") => {
            for (name, _) in targets::TARGETS.iter().chain(tls_targets::TLS_TARGETS) {
                println!("{name}");
            }
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "usage: plain seeds OUT FILE... | plain run TARGET SECONDS DIR... | plain list"
            );
            ExitCode::from(2)
        }
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Writes one seed, named by its content (duplicates collapse).
fn put(out: &Path, target: &str, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    let dir = out.join(target);
    let _ = fs::create_dir_all(&dir);
    let bytes = &bytes[..bytes.len().min(MAX_SEED)];
    let _ = fs::write(dir.join(format!("{:016x}", fnv(bytes))), bytes);
}

fn seeds(out: &Path, files: &[String]) -> ExitCode {
    let mut made = 0usize;
    for file in files {
        let Ok(bytes) = fs::read(file) else {
            continue;
        };
        let head = &bytes[..bytes.len().min(MAX_SEED)];
        let Ok(mut reader) = CaptureReader::open(Cursor::new(bytes.clone())) else {
            continue;
        };
        made += 1;
        let format_target = match reader.format() {
            ftpscope::capture::Format::Pcap => "capture_pcap",
            ftpscope::capture::Format::Pcapng => "capture_pcapng",
        };
        put(out, format_target, head);
        put(out, "pipeline", head);

        let mut analyzer = Analyzer::new(Limits::default());
        let mut frames: Vec<(Timestamp, LinkType, Vec<u8>)> = Vec::new();
        let mut frames_len = 0usize;
        let mut decoded = 0usize;
        let mut seen = HashSet::new();
        let mut commands = Vec::new();
        let mut replies = Vec::new();
        let mut control = Vec::new();
        let mut paths = Vec::new();
        let mut listing_data: HashMap<u64, Vec<u8>> = HashMap::new();
        let mut listings = Vec::new();
        let mut handle = |analyzer: &mut Analyzer| {
            while let Some(ev) = analyzer.poll_event() {
                match ev {
                    Event::Exchange(e) => {
                        if let Some(c) = &e.command {
                            let mut line = c.verb.clone();
                            if !c.arg.is_empty() {
                                line.push(b' ');
                                line.extend_from_slice(&c.arg);
                            }
                            commands.extend_from_slice(&line);
                            commands.push(b'\n');
                            control.extend_from_slice(&line);
                            control.extend_from_slice(b"\r\n");
                            if !c.arg.is_empty() {
                                paths.extend_from_slice(b"/pub\0");
                                paths.extend_from_slice(&c.arg);
                                paths.push(b'\n');
                            }
                        }
                        for r in &e.replies {
                            let lines: Vec<&[u8]> = r.text.split(|&b| b == b'\n').collect();
                            let mut text = Vec::new();
                            for (i, l) in lines.iter().enumerate() {
                                let sep = if i + 1 == lines.len() { " " } else { "-" };
                                if i == 0 || i + 1 == lines.len() {
                                    text.extend_from_slice(format!("{}{sep}", r.code).as_bytes());
                                }
                                text.extend_from_slice(l);
                                text.extend_from_slice(b"\r\n");
                            }
                            replies.extend_from_slice(&text);
                            control.extend_from_slice(&text);
                        }
                    }
                    Event::TransferData { transfer, data } => {
                        let buf = listing_data.entry(transfer).or_default();
                        if buf.len() < 16 << 10 {
                            buf.extend_from_slice(&data);
                        }
                    }
                    Event::TransferEnded(r) => {
                        let data = listing_data.remove(&r.transfer).unwrap_or_default();
                        if r.listing && !data.is_empty() {
                            listings.push(data);
                        }
                    }
                    _ => {}
                }
            }
        };
        while let Ok(Some(f)) = reader.next_record() {
            if decoded < 64 && seen.insert(fnv(f.data)) {
                let mut seed = vec![link_selector(f.link)];
                seed.extend_from_slice(&f.data[..f.data.len().min(2048)]);
                put(out, "decode", &seed);
                decoded += 1;
            }
            if frames_len < MAX_SEED {
                frames_len += f.data.len() + 5;
                frames.push((f.ts, f.link, f.data.to_vec()));
            }
            analyzer.handle_frame(&f);
            handle(&mut analyzer);
        }
        analyzer.finish();
        handle(&mut analyzer);
        let refs: Vec<(Timestamp, LinkType, &[u8])> = frames
            .iter()
            .map(|(t, l, d)| (*t, *l, d.as_slice()))
            .collect();
        put(out, "analyzer_frames", &encode_frames(false, &refs));
        put(out, "analyzer_frames", &encode_frames(true, &refs));
        put(out, "command", &commands);
        put(out, "address", &commands);
        put(out, "address", &replies);
        put(out, "reply", &[&[3u8][..], &replies].concat());
        put(out, "reply_info", &replies);
        put(out, "line_framer", &[&[40u8, 5][..], &control].concat());
        put(out, "path", &paths);
        for l in listings {
            put(out, "listing", &[&[255u8][..], &l].concat());
        }
    }
    for (target, seed) in DICT_SEEDS {
        put(out, target, seed);
    }
    for (target, seed) in tls_targets::seeds() {
        put(out, target, &seed);
    }
    eprintln!("seeds: {made} captures read into {}", out.display());
    ExitCode::SUCCESS
}

/// xorshift64*: deterministic, so a run can be repeated.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[u8] = b"\x00\xff\x7f\x80\n\r ,|()-0123456789\x1b";

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    for _ in 0..=rng.below(4) {
        let len = input.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.next() as u8;
            }
            2 if len > 0 => {
                let i = rng.below(len);
                input[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            3 => {
                let at = rng.below(len + 1);
                let n = rng.below(16) + 1;
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                input.splice(at..at, bytes);
            }
            4 if len > 0 => {
                let at = rng.below(len);
                let n = rng.below(len - at) + 1;
                input.drain(at..at + n.min(64));
            }
            5 if len > 0 => {
                let at = rng.below(len);
                let n = (rng.below(len - at) + 1).min(256);
                let copy = input[at..at + n].to_vec();
                let to = rng.below(len + 1);
                input.splice(to..to, copy);
            }
            6 if !corpus.is_empty() => {
                let other = &corpus[rng.below(corpus.len())];
                let at = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                input.truncate(at);
                input.extend_from_slice(&other[from..]);
            }
            7 if len >= 4 => {
                let at = rng.below(len - 3);
                let value: u32 = match rng.below(6) {
                    0 => 0,
                    1 => u32::MAX,
                    2 => 0x7fff_ffff,
                    3 => 0xffff,
                    4 => len as u32,
                    _ => rng.next() as u32,
                };
                let bytes = if rng.below(2) == 0 {
                    value.to_le_bytes()
                } else {
                    value.to_be_bytes()
                };
                input[at..at + 4].copy_from_slice(&bytes);
            }
            8 if len > 0 => input.truncate(rng.below(len)),
            _ => {}
        }
    }
    input.truncate(MAX_SEED);
}

fn files_in(dirs: &[String]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in dirs {
        if let Ok(entries) = fs::read_dir(d) {
            for e in entries.flatten() {
                if e.path().is_file() {
                    out.push(e.path());
                }
            }
        }
    }
    out.sort();
    out
}

fn save(name: &str, kind: &str, input: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("artifacts")
        .join(name);
    let _ = fs::create_dir_all(&dir);
    let path = dir.join(format!("{kind}-{:016x}", fnv(input)));
    let _ = fs::write(&path, input);
    path
}

fn run(name: &str, target: fn(&[u8]), budget: Duration, dirs: &[String]) -> ExitCode {
    let corpus: Vec<Vec<u8>> = files_in(dirs)
        .iter()
        .filter_map(|p| fs::read(p).ok())
        .collect();
    let current: Arc<Mutex<(Instant, Vec<u8>)>> =
        Arc::new(Mutex::new((Instant::now(), Vec::new())));
    {
        // A hang is a finding too: one input may take 20 s at most.
        let current = Arc::clone(&current);
        let name = name.to_owned();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(1));
                let guard = current.lock().unwrap_or_else(|e| e.into_inner());
                if guard.0.elapsed() > Duration::from_secs(20) {
                    let path = save(&name, "timeout", &guard.1);
                    eprintln!(
                        "{name}: one input ran for 20 s: saved as {}",
                        path.display()
                    );
                    std::process::exit(1);
                }
            }
        });
    }
    let start = Instant::now();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ fnv(name.as_bytes()));
    let mut runs = 0u64;
    let mut exec = |input: &[u8]| -> bool {
        {
            let mut guard = current.lock().unwrap_or_else(|e| e.into_inner());
            guard.0 = Instant::now();
            guard.1.clear();
            guard.1.extend_from_slice(input);
        }
        runs += 1;
        if std::panic::catch_unwind(|| target(input)).is_err() {
            let path = save(name, "crash", input);
            eprintln!("{name}: crash saved as {}", path.display());
            return false;
        }
        true
    };
    for input in &corpus {
        if !exec(input) {
            return ExitCode::from(1);
        }
    }
    exec(&[]);
    let mut input = Vec::new();
    while start.elapsed() < budget {
        input.clear();
        if !corpus.is_empty() {
            input.extend_from_slice(&corpus[rng.below(corpus.len())]);
        }
        mutate(&mut rng, &mut input, &corpus);
        if !exec(&input) {
            return ExitCode::from(1);
        }
    }
    println!(
        "{name}: {runs} inputs ({} seeds) in {:.0} s, no crash",
        corpus.len(),
        start.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
