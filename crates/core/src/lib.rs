//! ftpscope-core: a sans-IO FTP analyzer (work in progress).
// Input never makes the core panic: slices are read with `get`, never indexed.
#![deny(clippy::indexing_slicing)]
pub mod frame;
pub mod ftp;
pub use frame::{Frame, LinkType, Timestamp};
