//! The terminal the UI reads its keys from, watched with poll(2) before crossterm reads it.
//!
//! crossterm 0.29 never returns from `event::poll` or `event::read` once its terminal hung up:
//! a dead tty stays readable while read(2) gives 0 or EIO, and its read loop retries at once,
//! forever, whatever the timeout (crossterm issue 793). The UI would outlive its terminal
//! (an ssh connection dropped, a tmux pane killed) at full CPU, deaf to the SIGHUP and SIGTERM
//! its loop never gets back to check. Watching the descriptor crossterm reads (standard input
//! when it is a terminal, else `/dev/tty`) for POLLHUP and POLLERR before each crossterm call
//! ends the UI instead. What remains is the moment between this check and crossterm's read.

use std::fs::File;
use std::io::{self, IsTerminal};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

pub struct TerminalInput {
    fd: RawFd,
    /// `/dev/tty`, opened when standard input is not the terminal (kept open for `fd`).
    _tty: Option<File>,
}

impl TerminalInput {
    pub fn open() -> io::Result<TerminalInput> {
        let stdin = io::stdin();
        if stdin.is_terminal() {
            return Ok(TerminalInput {
                fd: stdin.as_raw_fd(),
                _tty: None,
            });
        }
        let tty = File::open("/dev/tty")?;
        Ok(TerminalInput {
            fd: tty.as_raw_fd(),
            _tty: Some(tty),
        })
    }

    /// Waits up to `timeout` for input (a signal ends the wait early); an error once the
    /// terminal is gone.
    pub fn wait(&self, timeout: Duration) -> io::Result<()> {
        let mut watched = libc::pollfd {
            fd: self.fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd, borrowed for the duration of the call.
        let ready = unsafe { libc::poll(&mut watched, 1, ms) };
        if ready < 0 {
            let e = io::Error::last_os_error();
            // SIGWINCH and the closing signals interrupt the wait: the loop goes on to them.
            return match e.kind() {
                io::ErrorKind::Interrupted => Ok(()),
                _ => Err(e),
            };
        }
        if watched.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the terminal went away",
            ));
        }
        Ok(())
    }

    /// Whether crossterm may read the terminal now without hanging: an error once it is gone.
    pub fn check(&self) -> io::Result<()> {
        self.wait(Duration::ZERO)
    }
}
