//! Where the analysis goes: JSON Lines, files on disk, the text report, Zeek-style logs.
pub mod bruteforce;
pub mod context;
pub mod extract;
pub mod flow_id;
pub mod json;
pub mod outdir;
pub mod report;
pub mod zeek;
