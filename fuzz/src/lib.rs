//! ftpscope's fuzz targets as plain functions (see `targets.rs`, and `tls_targets.rs` for the
//! TLS engine), shared by the libFuzzer
//! binaries in `fuzz_targets/` and the plain runner in `examples/plain.rs`.
pub mod targets;
pub mod tls_targets;
