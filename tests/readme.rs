//! The README is part of the interface: its anomaly table names every anomaly the core can
//! raise, and its first command analyses a sample that exists.

// Test code: a failed unwrap is a failed test, said with its place.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use ftpscope_core::AnomalyKind;
use std::path::Path;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

#[test]
fn every_anomaly_kind_is_documented_and_no_other() {
    let text = readme();
    let table: Vec<&str> = text
        .split("### Anomalies")
        .nth(1)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    let kinds: Vec<&str> = AnomalyKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(
        table, kinds,
        "README's anomaly table must list exactly AnomalyKind::ALL, in order"
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
