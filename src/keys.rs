//! `--keylog FILE`: TLS secrets for FTPS. The files are NSS key logs (`SSLKEYLOGFILE` of curl,
//! Firefox, OpenSSL-based programs, GnuTLS (lftp), Go, rustls; Python's `keylog_filename`).
//! They are opened before the first packet (and, live, before privileges are dropped); for
//! capture files they are read whole, live they are followed as clients append to them.
//! pcapng Decryption Secrets Blocks reach the analyzer through the pipeline instead.

use crate::cli::Cli;
use anyhow::{Context, Result, bail};
use ftpscope_core::Analyzer;
use ftpscope_core::stream::MAX_KEY_LOG_BYTES;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A key log line is far shorter (label, 64 hex digits, up to 96 more): a "line" longer than
/// this, met while following a file, is dropped.
const MAX_LINE: usize = 4096;
/// How often followed key logs are looked at.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// The analyzer for a run over capture files, with the key logs of the command line read
/// whole.
pub fn analyzer(cli: &Cli) -> Result<Analyzer> {
    let mut analyzer = Analyzer::new(cli.limits());
    KeyLogs::open(&cli.keylog)?.load(&mut analyzer, true);
    Ok(analyzer)
}

/// The key logs given with `--keylog`, open.
pub struct KeyLogs {
    files: Vec<Followed>,
    /// Bytes read from all of them (bounded by [`MAX_KEY_LOG_BYTES`]).
    read: usize,
    last_poll: Instant,
}

struct Followed {
    path: PathBuf,
    file: File,
    /// The last line, until its newline comes.
    partial: Vec<u8>,
}

impl KeyLogs {
    /// Opens every key log: one that cannot be opened is an error that names it.
    pub fn open(paths: &[PathBuf]) -> Result<Self> {
        let mut files = Vec::new();
        for path in paths {
            let file =
                File::open(path).with_context(|| format!("cannot open key log {}", shown(path)))?;
            files.push(Followed {
                path: path.clone(),
                file,
                partial: Vec::new(),
            });
        }
        Ok(KeyLogs {
            files,
            read: 0,
            last_poll: Instant::now(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Reads what every key log holds now into the analyzer, and says on standard error what
    /// was not understood. `whole`: the files are complete, so a last line without its
    /// newline counts (capture files); otherwise it waits for the rest (live).
    pub fn load(&mut self, analyzer: &mut Analyzer, whole: bool) {
        for i in 0..self.files.len() {
            let text = match self.read_new(i, whole) {
                Ok(text) => text,
                Err(e) => {
                    crate::say!("ftpscope: {e:#}");
                    continue;
                }
            };
            let report = analyzer.add_tls_keys(&text);
            let Some(f) = self.files.get(i) else {
                continue;
            };
            let name = shown(&f.path);
            if report.bad > 0 {
                let first = report
                    .bad_lines
                    .first()
                    .map(|b| format!(" (line {}: {})", b.line, b.why))
                    .unwrap_or_default();
                crate::say!(
                    "ftpscope: key log {name}: {} lines not understood{first}",
                    report.bad
                );
            }
            if report.added == 0 && whole {
                crate::say!(
                    "ftpscope: key log {name} holds no TLS secret (CLIENT_RANDOM or \
                     *_TRAFFIC_SECRET lines): nothing will be decrypted with it"
                );
            }
        }
    }

    /// The complete lines appended since the last look (live capture: clients write their
    /// keys while the capture runs), at most every `POLL_EVERY` (250 ms); None when there are
    /// none.
    pub fn poll(&mut self) -> Option<Vec<u8>> {
        if self.files.is_empty() || self.last_poll.elapsed() < POLL_EVERY {
            return None;
        }
        self.last_poll = Instant::now();
        let mut text = Vec::new();
        for i in 0..self.files.len() {
            // A key log that cannot be read any more keeps the keys it gave.
            if let Ok(new) = self.read_new(i, false) {
                text.extend_from_slice(&new);
            }
        }
        (!text.is_empty()).then_some(text)
    }

    /// The complete lines of file `i` not read yet (with the partial last one when `whole`).
    fn read_new(&mut self, i: usize, whole: bool) -> Result<Vec<u8>> {
        let room = MAX_KEY_LOG_BYTES.saturating_sub(self.read);
        let Some(f) = self.files.get_mut(i) else {
            return Ok(Vec::new());
        };
        let mut new = Vec::new();
        (&f.file)
            .take(room as u64 + 1)
            .read_to_end(&mut new)
            .with_context(|| format!("cannot read key log {}", shown(&f.path)))?;
        if new.len() > room {
            bail!(
                "key logs larger than {} MiB in all: not key logs? ({} ignored from there on)",
                MAX_KEY_LOG_BYTES >> 20,
                shown(&f.path)
            );
        }
        self.read += new.len();
        let mut text = std::mem::take(&mut f.partial);
        text.extend_from_slice(&new);
        if !whole {
            let complete = text
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |at| at + 1);
            f.partial = text.split_off(complete);
            if f.partial.len() > MAX_LINE {
                f.partial.clear();
            }
        }
        Ok(text)
    }
}

fn shown(path: &Path) -> String {
    crate::text::escape(path.as_os_str().as_encoded_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    // A followed key log hands over complete lines only, each once, as the client appends.
    #[test]
    fn a_growing_key_log_gives_complete_lines_once() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("keys.log");
        let mut file = File::create(&path).unwrap_or_else(|e| panic!("{e}"));
        file.write_all(b"# a comment\nCLIENT_RANDOM aa")
            .unwrap_or_else(|e| panic!("{e}"));
        let mut logs = KeyLogs::open(std::slice::from_ref(&path)).unwrap_or_else(|e| panic!("{e}"));
        let mut analyzer = Analyzer::new(ftpscope_core::Limits::default());
        logs.load(&mut analyzer, false);
        std::thread::sleep(POLL_EVERY);
        assert_eq!(logs.poll(), None, "nothing new: the partial line waits");
        file.write_all(b"bb 11\nCLIENT_RANDOM cc")
            .unwrap_or_else(|e| panic!("{e}"));
        std::thread::sleep(POLL_EVERY);
        assert_eq!(
            logs.poll().as_deref(),
            Some(&b"CLIENT_RANDOM aabb 11\n"[..])
        );
        std::thread::sleep(POLL_EVERY);
        assert_eq!(logs.poll(), None);
    }
}
