//! Where the analysis goes: JSON Lines, files on disk, the text report.
pub mod extract;
pub mod json;
pub mod outdir;
pub mod report;
