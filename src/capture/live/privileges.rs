//! `-Z USER`: live capture drops root once the interface, the capture thread and the key logs
//! are open, before anything is written.

use crate::text::escape;
use anyhow::{Result, anyhow, bail};
use std::ffi::CString;
use std::io;

/// `-Z USER`: becomes USER for good. Supplementary groups are cleared first, then the
/// group, then the user (the order that leaves no way back).
pub fn drop_privileges(user: &str) -> Result<()> {
    let shown = escape(user.as_bytes());
    let name = CString::new(user).map_err(|_| anyhow!("-Z {shown}: not a user name"))?;
    let mut buf: Vec<libc::c_char> = vec![0; 16 * 1024];
    // SAFETY: an all-zero passwd is a valid value to be overwritten by getpwnam_r.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    loop {
        // SAFETY: every pointer is valid for the call; buf's length is passed with it.
        let rc = unsafe {
            libc::getpwnam_r(
                name.as_ptr(),
                &mut pw,
                buf.as_mut_ptr(),
                buf.len(),
                &mut found,
            )
        };
        if rc == libc::ERANGE && buf.len() < (1 << 20) {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 {
            bail!(
                "-Z {shown}: cannot look the user up: {}",
                io::Error::from_raw_os_error(rc)
            );
        }
        break;
    }
    if found.is_null() {
        bail!("-Z {shown}: no such user");
    }
    let (uid, gid) = (pw.pw_uid, pw.pw_gid);
    let fail = |what: &str| {
        let err = io::Error::last_os_error();
        // SAFETY: geteuid cannot fail.
        let euid = unsafe { libc::geteuid() };
        if err.raw_os_error() == Some(libc::EPERM) && euid != 0 {
            anyhow!("-Z {shown} needs root (ftpscope runs as uid {euid}): cannot {what}")
        } else {
            anyhow!("-Z {shown}: cannot {what}: {err}")
        }
    };
    // SAFETY: plain system calls on this process's credentials; a null list with size 0
    // clears the supplementary groups.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(fail("clear the supplementary groups"));
        }
        if libc::setgid(gid) != 0 {
            return Err(fail(&format!("set group id {gid}")));
        }
        if libc::setuid(uid) != 0 {
            return Err(fail(&format!("set user id {uid}")));
        }
    }
    // SAFETY: as above; setuid(0) is expected to fail now.
    let (ruid, euid, rgid, egid, regained) = unsafe {
        (
            libc::getuid(),
            libc::geteuid(),
            libc::getgid(),
            libc::getegid(),
            uid != 0 && libc::setuid(0) == 0,
        )
    };
    if ruid != uid || euid != uid || rgid != gid || egid != gid || regained {
        bail!("-Z {shown}: root privileges could not be dropped");
    }
    Ok(())
}
