//! Stopping live capture: SIGINT and SIGTERM set the [`STOP`] flag the capture thread checks
//! at every read; a second signal exits at once (see the module docs of `capture::live`).

use anyhow::{Result, bail};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by SIGINT/SIGTERM (without the terminal UI); the source ends at its next read.
pub(super) static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    if STOP.swap(true, Ordering::SeqCst) {
        // A second signal: the user does not want to wait for the clean finish.
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(130) };
    }
}

/// Installs the handlers of SIGINT and SIGTERM (not under the terminal UI, which handles them
/// itself).
pub fn install_signal_handlers() -> Result<()> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the handler
        // only touches an atomic and _exit, both async-signal-safe. No SA_RESTART: a read
        // blocked in poll() returns at once.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            bail!(
                "cannot install a signal handler: {}",
                io::Error::last_os_error()
            );
        }
    }
    Ok(())
}
