//! Command-line arguments.

use crate::capture::filter::{FilterOptions, parse_time};
use crate::transfers::HashChoice;
use clap::error::ErrorKind;
use clap::{ArgGroup, CommandFactory, Parser, ValueEnum, ValueHint};
use ftpscope_core::TimeSpan;
use ftpscope_core::{Limits, Timestamp};
use std::net::IpAddr;
use std::path::PathBuf;

/// How `--zeek-logs` writes its logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ZeekFormat {
    /// Tab-separated, with Zeek's #separator, #fields, #types ... headers.
    Tsv,
    /// One JSON object per line.
    Json,
}

fn parse_hashes(list: &str) -> Result<HashChoice, String> {
    HashChoice::parse(list)
}

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
#[command(name = "ftpscope", version = VERSION, after_help = AFTER_HELP)]
// Files and live capture exclude each other; that one of them is given at all is checked
// by `Cli::check`, which can say more than clap would (see `--report FILE`).
#[command(group(ArgGroup::new("source").multiple(true).args(["read", "files", "interface", "list_interfaces"])))]
pub struct Cli {
    /// Capture to read: pcap or pcapng, as it is or compressed with gzip or zstd (told by its
    /// first bytes); `-` reads standard input. Repeat to merge several captures in timestamp
    /// order (rotated files).
    #[arg(short = 'r', long = "read", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub read: Vec<String>,

    /// Captures to read, as with -r (`ftpscope capture.pcap`).
    // Moved into `read` by `Cli::try_parse_checked_from`: nothing else looks at it.
    #[arg(value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub files: Vec<String>,

    /// Capture live on IFACE (`any`: every interface) until Ctrl-C. Needs root or CAP_NET_RAW,
    /// and a build with `--features live`.
    #[arg(short = 'i', long = "interface", value_name = "IFACE",
          conflicts_with_all = ["read", "files", "list_interfaces"])]
    pub interface: Option<String>,

    /// List the interfaces live capture can use, then exit.
    #[arg(short = 'D', long = "list-interfaces", conflicts_with_all = ["read", "files"])]
    pub list_interfaces: bool,

    /// BPF filter, in tcpdump's language. Live: what the kernel keeps [default: tcp] (data
    /// connections use ports no one knows in advance: keep every TCP port unless you know
    /// better). With -r: only the frames it accepts are analysed, as `tcpdump -r FILE FILTER`
    /// would keep them (needs a build with --features live).
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filter: Option<String>,

    /// Capture files: analyse only frames from or to ADDR (IPv4 or IPv6; a connection matches
    /// when either end does). Repeat for several hosts. Frames without TCP never match.
    #[arg(long = "host", value_name = "ADDR", conflicts_with = "interface")]
    pub hosts: Vec<IpAddr>,

    /// Capture files: analyse only frames from or to TCP port PORT (either end). Repeat for
    /// several ports. Data connections use other ports: `--port 21` alone keeps the control
    /// connections only; --host keeps a server's sessions whole.
    #[arg(long = "port", value_name = "PORT", conflicts_with = "interface")]
    pub ports: Vec<u16>,

    /// Capture files: analyse only frames captured at or after TIME: RFC 3339
    /// (2024-05-01T10:00:00Z, 2024-05-01T12:00:00+02:00) or Unix seconds (1714557600).
    #[arg(long, value_name = "TIME", value_parser = parse_time, conflicts_with = "interface")]
    pub from: Option<Timestamp>,

    /// Capture files: analyse only frames captured before TIME (same forms as --from).
    #[arg(long, value_name = "TIME", value_parser = parse_time, conflicts_with = "interface")]
    pub until: Option<Timestamp>,

    /// Live capture: bytes kept of each packet [default: 262144]; a shorter snaplen leaves
    /// transfers truncated.
    #[arg(short = 's', long = "snaplen", value_name = "BYTES", requires = "interface",
          value_parser = clap::value_parser!(u32).range(1..=262_144))]
    pub snaplen: Option<u32>,

    /// Live capture: kernel buffer in KiB [default: 65536]; a bigger buffer rides out bursts
    /// without drops.
    #[arg(short = 'B', long = "buffer-size", value_name = "KiB", requires = "interface",
          value_parser = clap::value_parser!(u32).range(64..=1_048_576))]
    pub buffer_size: Option<u32>,

    /// Live capture: do not put the interface into promiscuous mode (see only this host's
    /// traffic).
    #[arg(short = 'p', long = "no-promisc", requires = "interface")]
    pub no_promisc: bool,

    /// Write packets to FILE, a new file (0600; an existing one is an error, never
    /// overwritten). Live: every captured packet (pcap). With -r: carve, keeping only the
    /// packets of FTP sessions (control and data connections) for Wireshark: a pcap with the
    /// input's link type, or a pcapng when an input is one. The input is read twice, so not
    /// from standard input.
    #[arg(
        short = 'w',
        long = "write",
        value_name = "FILE",
        value_hint = ValueHint::FilePath,
    )]
    pub write: Option<PathBuf>,

    /// With -r and -w: carve only session N (its `session` number in --json), with its data
    /// connections.
    #[arg(
        long,
        value_name = "N",
        requires = "write",
        conflicts_with = "interface"
    )]
    pub session: Option<u64>,

    /// Live capture: drop root privileges to USER right after the interface is opened
    /// (supplementary groups cleared); -w and -x files are then created as USER.
    #[arg(
        short = 'Z',
        long = "relinquish-privileges",
        value_name = "USER",
        requires = "interface"
    )]
    pub user: Option<String>,

    /// Write JSON Lines to standard output (one record per line; see docs/json.md).
    #[arg(long)]
    pub json: bool,

    /// Extract every transfer and listing into DIR (a folder per session, named by remote
    /// path; DIR/index.jsonl lists them).
    #[arg(short = 'x', long = "extract", value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub extract: Option<PathBuf>,

    /// Print the text report: on a terminal instead of the UI, or alongside -x. With --json
    /// it goes to standard error, so that standard output stays JSON Lines only. With FILE
    /// it is written to FILE, a new file (an existing one is an error, never overwritten).
    #[arg(long, value_name = "FILE", num_args = 0..=1, value_hint = ValueHint::FilePath)]
    pub report: Option<Option<PathBuf>>,

    /// Digests of every transfer, a comma-separated list of sha256, md5 and sha1: each chosen
    /// one is a field of the transfer records (JSON Lines, index.jsonl, files.log), and only
    /// those are computed. A bad name is an error (exit status 2).
    #[arg(long, value_name = "LIST", default_value = "sha256", value_parser = parse_hashes)]
    pub hash: HashChoice,

    /// Write Zeek-style logs into DIR: ftp.log and files.log, with Zeek's field names, order
    /// and header, for tools that read Zeek's logs (Security Onion, Malcolm, RITA, Splunk's
    /// Zeek add-on). New files only: a name already taken gets ` (2)`.
    #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub zeek_logs: Option<PathBuf>,

    /// The format of --zeek-logs: tsv (Zeek's default, with its #-headers) or json (one
    /// object per line, as Zeek's `LogAscii::use_json`).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = ZeekFormat::Tsv,
          requires = "zeek_logs")]
    pub zeek_format: ZeekFormat,

    /// Decrypt FTPS with the TLS secrets in FILE, an NSS key log (what SSLKEYLOGFILE makes
    /// curl, lftp, OpenSSL-based programs and browsers write; Python's keylog_filename).
    /// Repeatable. Keys embedded in a pcapng (editcap --inject-secrets) are used as well.
    #[arg(long = "keylog", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub keylog: Vec<PathBuf>,

    /// Show passwords instead of masking them (anonymous users' e-mail addresses are always shown).
    #[arg(long)]
    pub show_passwords: bool,

    /// How extracted TYPE A (ASCII) files are written.
    #[arg(long, value_enum, default_value_t = AsciiEol::Wire, value_name = "EOL")]
    pub ascii_eol: AsciiEol,

    /// Write the man page (man) or a completion script (bash, zsh, fish) to standard output,
    /// then exit: `ftpscope --generate man > ftpscope.1`.
    #[arg(long, value_enum, value_name = "WHAT", exclusive = true)]
    pub generate: Option<Generate>,

    /// Never show the progress bar on standard error.
    #[arg(long)]
    pub no_progress: bool,

    /// Close a connection after SECS seconds without a packet: its transfer ends
    /// (truncated) and its session ends with end_reason "idle". In live capture, time runs on
    /// without packets, so this is how a dead connection gets its verdict.
    #[arg(long, value_name = "SECS", default_value_t = 1800,
          value_parser = clap::value_parser!(u64).range(1..=31_536_000))]
    pub idle_timeout: u64,
}

/// `--version`: the version, and whether this build can capture live (the `live` feature
/// links libpcap; without it, -i and -D only say how to get it).
#[cfg(feature = "live")]
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (live capture: built in)");
#[cfg(not(feature = "live"))]
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (live capture: not built; cargo build --features live)"
);

/// What `--generate` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    /// The man page (roff), for `man -l` or a `man1` folder.
    Man,
    /// Completions for bash.
    Bash,
    /// Completions for zsh.
    Zsh,
    /// Completions for fish.
    Fish,
}

impl Generate {
    /// Writes the man page or the completion script, made from the parser's own definition so
    /// that they never disagree with it.
    pub fn write(self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let mut command = Cli::command();
        let name = command.get_name().to_owned();
        let shell = match self {
            Generate::Man => return clap_mangen::Man::new(command).render(out),
            Generate::Bash => clap_complete::Shell::Bash,
            Generate::Zsh => clap_complete::Shell::Zsh,
            Generate::Fish => clap_complete::Shell::Fish,
        };
        clap_complete::generate(shell, &mut command, name, out);
        Ok(())
    }
}

/// Where `--report` writes the text report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportDestination {
    Stdout,
    /// `--json --report`: standard output carries JSON Lines only.
    Stderr,
    /// `--report FILE`: a new file, created beneath its folder's handle.
    File(PathBuf),
}

impl Cli {
    /// The command line of this process, checked: on a mistake, clap's message and exit
    /// status 2.
    pub fn parse_checked() -> Cli {
        Cli::try_parse_checked_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// `args` (the program's name first) parsed and checked; positional captures are moved
    /// into `read`, where they mean what `-r FILE` means.
    pub fn try_parse_checked_from<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let mut cli = Cli::try_parse_from(args)?;
        cli.read.append(&mut cli.files);
        cli.check()?;
        Ok(cli)
    }

    /// What clap's declarations cannot say.
    fn check(&self) -> Result<(), clap::Error> {
        let error = |kind, message: String| Err(Cli::command().error(kind, message));
        let has_source = !self.read.is_empty() || self.interface.is_some() || self.list_interfaces;
        if !has_source && self.generate.is_none() {
            // `--report FILE` takes the next word: `ftpscope --report capture.pcap` makes the
            // capture the report's name.
            if let Some(Some(file)) = &self.report
                && file.exists()
            {
                return error(
                    ErrorKind::MissingRequiredArgument,
                    format!(
                        "no capture to read: --report took {} as the report's file name; put \
                         the capture first (`ftpscope {0} --report`) or give it with -r",
                        crate::text::escape(file.as_os_str().as_encoded_bytes())
                    ),
                );
            }
            return error(
                ErrorKind::MissingRequiredArgument,
                "no capture to read: give a FILE (or -r FILE; `-` is standard input), \
                 -i IFACE for live capture, or -D"
                    .to_owned(),
            );
        }
        if self.read.iter().filter(|name| *name == "-").count() > 1 {
            return error(
                ErrorKind::ArgumentConflict,
                "standard input (`-`) can be read only once".to_owned(),
            );
        }
        if self.write.as_deref() == Some(std::path::Path::new("-")) {
            return error(
                ErrorKind::InvalidValue,
                "-w -: packets are written to a file only (standard output carries JSON Lines \
                 or the report); give a file name"
                    .to_owned(),
            );
        }
        if self.carving() && self.read.iter().any(|name| name == "-") {
            return error(
                ErrorKind::ArgumentConflict,
                "-w with -r -: carving reads the capture twice, and standard input can be read \
                 only once; save it to a file first"
                    .to_owned(),
            );
        }
        #[cfg(not(feature = "live"))]
        if self.filter.is_some() && self.interface.is_none() {
            return error(
                ErrorKind::ArgumentConflict,
                crate::capture::filter::NO_BPF.to_owned(),
            );
        }
        if let (Some(from), Some(until)) = (self.from, self.until)
            && from >= until
        {
            return error(
                ErrorKind::ArgumentConflict,
                "--from must come before --until: no frame could be analysed".to_owned(),
            );
        }
        Ok(())
    }

    /// `-r IN -w OUT`: the packets of FTP sessions are carved into OUT.
    pub fn carving(&self) -> bool {
        self.write.is_some() && self.interface.is_none() && !self.list_interfaces
    }

    /// What the command line asks of the frames of capture files.
    pub fn filter_options(&self) -> FilterOptions {
        FilterOptions {
            hosts: self.hosts.clone(),
            ports: self.ports.clone(),
            from: self.from,
            until: self.until,
            bpf: self.filter.clone().filter(|_| self.interface.is_none()),
        }
    }

    /// The terminal UI: on a terminal, when no other output was asked for.
    pub fn wants_ui(&self, stdout_is_terminal: bool) -> bool {
        stdout_is_terminal
            && !self.json
            && self.extract.is_none()
            && self.report.is_none()
            && self.zeek_logs.is_none()
            && !self.carving()
    }

    /// Where the text report goes, if anywhere: standard output unless that carries JSON
    /// Lines (then standard error), or the file `--report FILE` names. Without `--report`,
    /// a run with no `--json` still prints it (`-x` alone, or no terminal).
    pub fn report_destination(&self) -> Option<ReportDestination> {
        match &self.report {
            Some(Some(file)) => Some(ReportDestination::File(file.clone())),
            Some(None) if self.json => Some(ReportDestination::Stderr),
            Some(None) => Some(ReportDestination::Stdout),
            // Carving alone prints one line on standard error, not the report.
            None if self.json || self.carving() => None,
            None => Some(ReportDestination::Stdout),
        }
    }

    /// The analyzer's limits: the defaults, with the timeouts given on the command line.
    pub fn limits(&self) -> Limits {
        let defaults = Limits::default();
        let idle_timeout =
            TimeSpan::from_secs(i64::try_from(self.idle_timeout).unwrap_or(i64::MAX));
        Limits {
            idle_timeout,
            // Idle connections are looked for at least twice per timeout.
            sweep_interval: defaults
                .sweep_interval
                .min(TimeSpan::from_nanos(idle_timeout.as_nanos() / 2)),
            ..defaults
        }
    }
}

// One example or exit status per line, its command indented below what it does, so that
// wrapping to a narrow terminal keeps each readable.
const AFTER_HELP: &str = "\
Examples:
  The terminal UI (the text report when standard output is not a terminal):
    ftpscope capture.pcap
  JSON Lines only on standard output; the report to a new file; every file extracted:
    ftpscope capture.pcapng.gz --json --report report.txt -x files/
  Rotated captures merged in time order, gzip or zstd read as they are:
    ftpscope part1.pcap.zst part2.pcap.zst --json > out.jsonl
  Standard input; with --json the report goes to standard error:
    ssh sensor cat ftp.pcap | ftpscope - --json --report 2> report.txt
  Only the sessions of one host, in one hour (pure Rust, every build):
    ftpscope capture.pcap --host 10.0.0.5 --from 2024-05-01T10:00:00Z --until 1714561200
  tcpdump's filter language on a file (a build with --features live):
    ftpscope capture.pcap -f 'net 10.0.0.0/8' --json > out.jsonl
  Carve the FTP sessions out of a big capture, for Wireshark (session 3 only):
    ftpscope big.pcap -w ftp.pcap; ftpscope big.pcap -w session3.pcap --session 3
  Follow FTP live in the terminal UI (q stops; needs a build with --features live):
    sudo ftpscope -i eth0 -Z nobody
  MD5 and SHA-1 besides SHA-256; Zeek's ftp.log and files.log too:
    ftpscope capture.pcap --json --hash sha256,md5,sha1 --zeek-logs zeek/ > out.jsonl
  JSON Lines and files live, until Ctrl-C:
    sudo ftpscope -i eth0 -Z nobody --json -x /tmp/ftp
  The man page, shell completions:
    ftpscope --generate man > ftpscope.1; ftpscope --generate bash > ftpscope.bash

Exit status:
  0  success (a closed pipe included)
  1  an input could not be read or an output written
  2  bad arguments
  3  an input is damaged (it was analysed up to the damage)
  4  some files could not be extracted";

/// The exit statuses ftpscope documents (README, "Exit status"), for every mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: done (a closed pipe included).
    Success,
    /// 1: an input could not be read or an output written; live capture failed.
    Failure,
    /// 2: bad arguments, or live capture asked of a build without it.
    Usage,
    /// 3: an input is damaged; it was analysed up to the damage.
    Damaged,
    /// 4: files could not be extracted (the `-x` folder is unusable, or writing failed).
    Extraction,
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(match exit {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
            Exit::Damaged => 3,
            Exit::Extraction => 4,
        })
    }
}
