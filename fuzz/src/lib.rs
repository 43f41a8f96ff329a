//! ftpscope's fuzz targets as plain functions (see `targets.rs`), shared by the libFuzzer
//! binaries in `fuzz_targets/` and the plain runner in `examples/plain.rs`.
pub mod targets;
