//! The interface: opened with the options of the command line (`-i`, `-p`, `-s`, `-B`,
//! `-f`) and errors that say what to do, its `-w` savefile, and `-D`, the list of the
//! interfaces libpcap can open.

use super::READ_TIMEOUT_MS;
use crate::cli::Exit;
use crate::output::outdir::create_new_file;
use crate::text::escape;
use anyhow::{Result, anyhow};
use pcap::{Active, Capture, Device, Savefile};
use std::path::Path;

/// `-D`: the interfaces libpcap can open, numbered (tcpdump's format).
pub fn list_interfaces() -> Result<Exit> {
    let devices = Device::list().map_err(|e| anyhow!("cannot list interfaces: {e}"))?;
    for (i, d) in devices.iter().enumerate() {
        let mut flags = Vec::new();
        if d.flags.is_up() {
            flags.push("Up");
        }
        if d.flags.is_running() {
            flags.push("Running");
        }
        if d.flags.is_loopback() {
            flags.push("Loopback");
        }
        if d.flags.is_wireless() {
            flags.push("Wireless");
        }
        let desc = d
            .desc
            .as_deref()
            .map(|s| format!(" ({})", escape(s.as_bytes())))
            .unwrap_or_default();
        println!(
            "{}.{}{desc} [{}]",
            i + 1,
            escape(d.name.as_bytes()),
            flags.join(", ")
        );
    }
    Ok(Exit::Success)
}

fn interface_names() -> Option<Vec<String>> {
    Device::list()
        .ok()
        .map(|ds| ds.into_iter().map(|d| d.name).collect())
}

fn not_found(iface: &str, names: &[String]) -> anyhow::Error {
    let names: Vec<String> = names.iter().map(|n| escape(n.as_bytes())).collect();
    anyhow!(
        "no interface named {}; interfaces: {} (ftpscope -D describes them)",
        escape(iface.as_bytes()),
        names.join(", ")
    )
}

/// How to open the interface: `-i`, `-f`, `-s`, `-B` and not `-p`.
pub struct CaptureOptions<'a> {
    pub interface: &'a str,
    pub filter: &'a str,
    pub snaplen: u32,
    pub buffer_kib: u32,
    pub promisc: bool,
}

/// Opens the interface and sets the filter, with errors that say what to do.
pub fn open(o: &CaptureOptions) -> Result<Capture<Active>> {
    let names = interface_names();
    if let Some(names) = &names
        && !names.iter().any(|n| n == o.interface)
    {
        return Err(not_found(o.interface, names));
    }
    let iface = escape(o.interface.as_bytes());
    let inactive = Capture::from_device(o.interface)
        .map_err(|e| anyhow!("cannot capture on {iface}: {e}"))?
        .promisc(o.promisc)
        .immediate_mode(true)
        .snaplen(i32::try_from(o.snaplen).unwrap_or(i32::MAX))
        .buffer_size(i32::try_from(u64::from(o.buffer_kib) * 1024).unwrap_or(i32::MAX))
        .timeout(READ_TIMEOUT_MS);
    let mut capture = inactive.open().map_err(|e| {
        let msg = e.to_string();
        let lower = msg.to_lowercase();
        if lower.contains("permission") || lower.contains("not permitted") {
            let exe = std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "ftpscope".into());
            anyhow!(
                "no permission to capture on {iface} ({msg}): run ftpscope as root (sudo), \
                 or give it CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode): sudo \
                 setcap cap_net_raw,cap_net_admin=eip {exe}"
            )
        } else if lower.contains("no such device") || lower.contains("doesn't exist") {
            not_found(o.interface, names.as_deref().unwrap_or(&[]))
        } else {
            anyhow!("cannot capture on {iface}: {msg}")
        }
    })?;
    capture.filter(o.filter, true).map_err(|e| {
        anyhow!(
            "invalid capture filter {:?}: {e}",
            escape(o.filter.as_bytes())
        )
    })?;
    capture
        .setnonblock()
        .map_err(|e| anyhow!("cannot capture on {iface}: {e}"))
}

/// Creates the `-w` file beneath its folder's handle: a new file, never an existing one nor
/// through a link (libpcap would follow one and truncate what it points to).
pub fn open_savefile(capture: &Capture<Active>, path: &Path) -> Result<Savefile> {
    use std::os::fd::IntoRawFd;
    let (_, _, file) = create_new_file(path).map_err(|e| anyhow!("{e}"))?;
    // SAFETY: the descriptor is ours and open for writing; libpcap takes it over (fdopen)
    // and closes it with the savefile.
    unsafe { capture.savefile_raw_fd(file.into_raw_fd()) }
        .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
}

/// The name of the capture's link type (`EN10MB`...), or its number when libpcap has none.
pub fn link_name(capture: &Capture<Active>) -> String {
    let datalink = capture.get_datalink();
    datalink
        .get_name()
        .unwrap_or_else(|_| format!("DLT {}", datalink.0))
}
