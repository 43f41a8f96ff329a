//! ftpscope as a library: the capture readers, the driving pipeline and the outputs, used by
//! the `ftpscope` binary and by the integration tests. The analysis itself is the sans-IO
//! `ftpscope-core` crate.
pub mod capture;
pub mod carve;
pub mod cli;
pub mod keys;
pub mod output;
pub mod pipeline;
pub mod store;
pub mod text;
pub mod transfers;
pub mod tui;
