//! The documentation is part of the interface: the anomaly table in docs/json.md names every
//! anomaly the core can raise, and the README's first command analyses a sample that exists.

// Test code: a failed unwrap is a failed test, said with its place.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use ftpscope_core::AnomalyKind;
use std::path::Path;

fn read_doc(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn readme() -> String {
    read_doc("README.md")
}

/// docs/json.md: the JSON Lines records, and the anomaly table under "### Anomalies".
fn json_doc() -> String {
    read_doc("docs/json.md")
}

#[test]
fn every_anomaly_kind_is_documented_and_no_other() {
    let text = json_doc();
    let mut sections = text.split("\n### Anomalies\n");
    let section = sections
        .nth(1)
        .expect("docs/json.md has a \"### Anomalies\" heading");
    assert!(
        sections.next().is_none(),
        "docs/json.md has one \"### Anomalies\" heading"
    );
    // The table ends where the next heading starts.
    let table: Vec<&str> = section
        .lines()
        .take_while(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    let kinds: Vec<&str> = AnomalyKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(
        table, kinds,
        "the anomaly table in docs/json.md must list exactly AnomalyKind::ALL, in order"
    );
}

#[test]
fn the_first_command_analyses_the_bundled_sample() {
    let text = readme();
    let first = text.lines().find(|l| l.starts_with("cargo run")).unwrap();
    let sample = first
        .split_whitespace()
        .skip_while(|w| *w != "-r")
        .nth(1)
        .unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(sample);
    let (values, summary) = common::run_file(&path, None);
    assert!(summary.damage.is_empty());
    assert!(!common::of_type(&values, "session").is_empty());
    assert!(!common::of_type(&values, "transfer").is_empty());
}
