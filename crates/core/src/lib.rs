//! ftpscope-core: a sans-IO FTP analyzer.
//!
//! ```text
//! Frame ─► decode (link → IP → TCP) ─► flow table + reassembly ─► FTP control lines
//!                                                │                     │
//!                                                └─► data connections ◄─ expectations
//!                                                            │
//!                                                         Events
//! ```
//!
//! The analyzer is fed timestamped [`Frame`]s and queues [`Event`]s; it never reads files,
//! sockets or clocks. Packet time is the only time.
//!
//! Guarantees: no input makes it panic (slices are read with `get`); memory is bounded by
//! [`Limits`], never by the size of the capture, and every bound announces itself with a named
//! [`AnomalyKind`]; bytes stay bytes (paths and arguments are not assumed to be UTF-8).
//!
//! Call order: [`Analyzer::handle_frame`] per frame, [`Analyzer::handle_timeout`] when time
//! passes without frames, [`Analyzer::finish`] at the end, and [`Analyzer::poll_event`] after
//! each call until it returns `None`.
// Input never makes the core panic: slices are read with `get`, never indexed.
#![deny(clippy::indexing_slicing)]
pub mod analyzer;
pub mod decode;
pub mod defrag;
pub mod event;
pub mod fasthash;
pub mod flow;
pub mod frame;
pub mod ftp;
pub mod limits;
#[cfg(test)]
mod testing;

pub use analyzer::{Analyzer, Stats};
pub use event::*;
pub use frame::{Frame, LinkType, Timestamp};
pub use limits::Limits;
