//! ftpscope as a library: the capture readers, the driving pipeline and the outputs, used by
//! the `ftpscope` binary and by the integration tests. The analysis itself is the sans-IO
//! `ftpscope-core` crate.
/// `eprintln!` that cannot panic: when standard error is gone (a closed pipe, a terminal hung
/// up under an ssh session) the message is dropped and the run goes on to its exit status,
/// where `eprintln!` would panic on the write error.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// [`say!`] without the newline (a progress line redrawn in place).
#[macro_export]
macro_rules! say_partial {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr().lock(), $($arg)*);
    }};
}

pub mod capture;
pub mod carve;
pub mod cli;
pub mod keys;
pub mod output;
pub mod pipeline;
pub mod store;
pub mod text;
pub mod transfers;
pub mod tui;
