//! Drives a real terminal for end-to-end UI tests: a command runs in a detached tmux session on
//! a server of its own (`tmux -S`, its socket in a temporary folder of its own), keys are sent
//! and the screen is read back. The server is killed on drop, and its socket removed with the
//! folder (tmux leaves it behind, and `-L` put it in /tmp/tmux-UID where each run left one).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

pub struct Tmux {
    socket: PathBuf,
    /// The folder holding `socket`, removed when dropped, after the server is killed.
    _folder: tempfile::TempDir,
}

impl Tmux {
    /// False (with a note) when tmux is missing; in CI, which installs it, that is a failure.
    pub fn available(test: &str) -> bool {
        if Command::new("tmux").arg("-V").output().is_ok() {
            return true;
        }
        assert!(std::env::var_os("CI").is_none(), "CI must install tmux");
        eprintln!("note: tmux not installed; {test} skipped");
        false
    }

    /// Runs the shell command `cmd` in a `width`×`height` terminal. Its TMPDIR is a folder
    /// inside the server's own, so whatever the program makes there (the UI's private folder)
    /// goes with it, even when the program is killed before it cleans up.
    pub fn start(tag: &str, cmd: &str, width: u16, height: u16) -> Tmux {
        let folder = tempfile::Builder::new()
            .prefix(&format!("ftpscope-tmux-{tag}-"))
            .tempdir()
            .unwrap();
        let tmpdir = folder.path().join("tmp");
        std::fs::create_dir(&tmpdir).unwrap();
        let tmux = Tmux {
            socket: folder.path().join("socket"),
            _folder: folder,
        };
        let (w, h) = (width.to_string(), height.to_string());
        let env = format!("TMPDIR={}", tmpdir.display());
        tmux.run(&[
            "new-session",
            "-d",
            "-e",
            &env,
            "-s",
            "t",
            "-x",
            &w,
            "-y",
            &h,
            cmd,
        ]);
        tmux
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "t"])
    }

    /// Waits (up to 20 s) until `what` is on the screen, and returns the screen.
    pub fn wait_for(&self, what: &str) -> String {
        for _ in 0..200 {
            let screen = self.screen();
            if screen.contains(what) {
                return screen;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("never saw {what:?} on:\n{}", self.screen());
    }

    /// A key by its tmux name (`Enter`, `BSpace`, `j`), then a moment for the UI to redraw.
    pub fn key(&self, key: &str) {
        self.run(&["send-keys", "-t", "t", key]);
        std::thread::sleep(Duration::from_millis(150));
    }

    /// Text typed as is.
    pub fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "t", "-l", text]);
    }

    /// Whether the program left the terminal on its alternate screen.
    pub fn alternate_screen_on(&self) -> bool {
        self.flag("#{alternate_on}")
    }

    /// Whether the terminal reports the mouse (any mode) to the program.
    pub fn mouse_reporting_on(&self) -> bool {
        self.flag("#{mouse_any_flag}")
    }

    fn flag(&self, format: &str) -> bool {
        self.run(&["display-message", "-p", "-t", "t", format])
            .trim()
            == "1"
    }

    /// Kills the tmux server: the terminal goes away under whatever runs in it.
    pub fn kill_server(&self) {
        self.run(&["kill-server"]);
    }

    /// The process id of the pane's shell (the one running the command given to `start`).
    pub fn shell_pid(&self) -> u32 {
        let pid = self.run(&["display-message", "-p", "-t", "t", "#{pane_pid}"]);
        pid.trim()
            .parse()
            .unwrap_or_else(|_| panic!("no pane pid: {pid:?}"))
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}
