//! Helpers shared by the integration tests: run the real pipeline in-process on capture files
//! and get its JSON Lines back as values.
#![allow(dead_code)]

use ftpscope::capture::{CaptureReader, MergedCapture};
use ftpscope::output::json::JsonLines;
use ftpscope::output::outdir::OutDir;
use ftpscope::pipeline::{Pipeline, RunSummary};
use ftpscope::transfers::TransferTracker;
use ftpscope_core::{Analyzer, Limits};
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The JSON Schema of every record (docs/schema/ftpscope.schema.json), compiled once.
fn schema() -> &'static jsonschema::Validator {
    static SCHEMA: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema/ftpscope.schema.json");
        let text = std::fs::read_to_string(&path).expect("the schema");
        let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
        jsonschema::draft202012::new(&schema).expect("the schema compiles")
    })
}

/// Panics unless `record` (one JSON Lines record) is valid against the schema.
pub fn check_schema(record: &Value) {
    let errors: Vec<String> = schema()
        .iter_errors(record)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "record not valid against docs/schema/ftpscope.schema.json:\n{record}\n{}",
        errors.join("\n")
    );
}

/// Every line of JSON Lines output, parsed and checked against the schema.
pub fn checked_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("valid json line");
            check_schema(&v);
            v
        })
        .collect()
}

/// `../shared/corpus`, beside the checkout. Without it the corpus tests fail loudly (a check
/// that passes on nothing proves nothing), unless FTPSCOPE_SKIP_CORPUS=1 says the skip is
/// known and wanted; then each says it was skipped.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("FTPSCOPE_SKIP_CORPUS").is_some_and(|v| v == "1"),
        "{} is missing: the corpus tests need it beside the checkout \
         (FTPSCOPE_SKIP_CORPUS=1 skips them knowingly)",
        dir.display()
    );
    eprintln!("note: ../shared/corpus not found; corpus checks skipped (FTPSCOPE_SKIP_CORPUS=1)");
    None
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Runs the pipeline on in-memory capture bytes (several inputs are merged).
pub fn run_bytes(
    inputs: Vec<(String, Vec<u8>)>,
    extract: Option<PathBuf>,
    limits: Limits,
) -> (Vec<Value>, RunSummary) {
    let mut readers = Vec::new();
    let mut names = Vec::new();
    for (name, bytes) in inputs {
        let reader: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(bytes));
        match CaptureReader::open(reader) {
            Ok(r) => {
                names.push(name.clone());
                readers.push((name, r));
            }
            Err(e) => panic!("{name}: {e}"),
        }
    }
    let mut capture = MergedCapture::new(readers);
    let mut out = Vec::new();
    let summary = {
        let mut json = JsonLines::new(&mut out, false);
        let root = extract.map(|d| OutDir::open_or_create(&d).expect("extract dir"));
        let tracker = TransferTracker::new(root).expect("extract dir");
        let mut pipeline = Pipeline {
            analyzer: Analyzer::new(limits),
            tracker,
            outputs: vec![&mut json],
        };
        pipeline
            .run(names, &mut capture, &mut |_| {})
            .expect("pipeline")
    };
    let values = checked_lines(&String::from_utf8(out).expect("utf-8 json"));
    (values, summary)
}

pub fn run_file(path: &Path, extract: Option<PathBuf>) -> (Vec<Value>, RunSummary) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    run_bytes(
        vec![(path.display().to_string(), bytes)],
        extract,
        Limits::default(),
    )
}

pub fn of_type<'a>(values: &'a [Value], ty: &str) -> Vec<&'a Value> {
    values.iter().filter(|v| v["type"] == ty).collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
pub mod scenario;

/// Runs the real `ftpscope` binary with `args`, feeding `stdin` when given.
pub fn ftpscope(args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_ftpscope"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        // A child that refuses its arguments exits without reading: that is the outcome the
        // test checks, not a failure to feed it.
        match input.write_all(bytes) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.unwrap(),
        }
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    // Whatever the binary writes as JSON Lines follows the schema.
    if args.contains(&"--json") && out.status.success() {
        checked_lines(&String::from_utf8_lossy(&out.stdout));
    }
    out
}

/// A fresh, empty folder for one test (`kind` names the test file, `name` the test), removed
/// with all it holds when the returned guard is dropped: keep it bound (`let tmp = ...`, never
/// `let _ = ...`) for as long as its path is used, runs of the binary included.
pub fn temp_dir(kind: &str, name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("ftpscope-{kind}-{name}-"))
        .tempdir()
        .unwrap()
}

/// Whether a run left its private folder of partial files in `dir` (it must not).
pub fn partial_folder_left(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().any(|e| {
        let name = e.unwrap().file_name();
        name.to_string_lossy()
            .starts_with(ftpscope::transfers::PARTIAL_PREFIX)
    })
}
