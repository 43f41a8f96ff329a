//! ftpscope-core: a sans-IO FTP analyzer (work in progress).
pub mod frame;
pub use frame::{Frame, LinkType, Timestamp};
