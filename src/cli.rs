//! Command-line arguments.

use clap::{Parser, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AsciiEol {
    /// Keep TYPE A transfers as they crossed the wire (CRLF line endings).
    Wire,
    /// Write TYPE A transfers with this system's line endings (LF); `sha256` stays of the wire bytes.
    Local,
}

/// Turns packet captures into FTP stories: sessions, commands, replies, and every file that
/// crossed a data connection, byte for byte, with a verdict on its completeness.
#[derive(Debug, Parser)]
#[command(name = "ftpscope", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Capture to read (pcap or pcapng); `-` reads standard input. Repeat to merge several
    /// captures in timestamp order (rotated files).
    #[arg(short = 'r', long = "read", value_name = "FILE", required = true)]
    pub read: Vec<String>,

    /// Write JSON Lines to standard output (one record per line; schema in the README).
    #[arg(long)]
    pub json: bool,

    /// Extract every transfer and listing into DIR (a folder per session, named by remote
    /// path; DIR/index.jsonl lists them).
    #[arg(short = 'x', long = "extract", value_name = "DIR")]
    pub extract: Option<PathBuf>,

    /// Print the text report even when JSON or extraction is asked for.
    #[arg(long)]
    pub report: bool,

    /// Show passwords instead of masking them (anonymous users' e-mail addresses are always shown).
    #[arg(long)]
    pub show_passwords: bool,

    /// How extracted TYPE A (ASCII) files are written.
    #[arg(long, value_enum, default_value_t = AsciiEol::Wire, value_name = "EOL")]
    pub ascii_eol: AsciiEol,

    /// Never show the progress bar on standard error.
    #[arg(long)]
    pub no_progress: bool,
}

const AFTER_HELP: &str = "\
Examples:
  ftpscope -r samples/demo.pcap                 text report
  ftpscope -r capture.pcapng --json > out.jsonl JSON Lines
  ftpscope -r capture.pcap -x files/            extract every file (and print the report)
  ftpscope -r part1.pcap -r part2.pcap --json   merge rotated captures

Exit status: 0 success; 1 an input could not be read or an output written; 2 bad arguments;
3 an input is damaged (it was analysed up to the damage); 4 some files could not be extracted.";
