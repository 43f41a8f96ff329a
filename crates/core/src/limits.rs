//! Every bound the analyzer enforces, in one place.
//!
//! Memory must grow with what is in flight, never with the size of the capture. Each cap has a
//! default and names the anomaly raised when traffic reaches it, so a user can tell what was
//! dropped and why, and raise the cap if they have the memory.

use crate::frame::TimeSpan;

/// One second of packet time.
pub const SECOND: TimeSpan = TimeSpan::from_secs(1);

#[derive(Debug, Clone)]
pub struct Limits {
    /// TCP connections tracked at once. Over it: `flow_table_full`; the oldest sixteenth of the
    /// connections without payload (half-open, closed) is forgotten to make room, or, when every
    /// connection carries payload, the new one is not tracked.
    pub max_flows: usize,
    /// Out-of-order bytes held per direction. Over it: `tcp_ooo_overflow`, the hole is skipped
    /// (counted as a gap) and the buffered bytes are delivered.
    pub max_ooo_bytes_per_direction: usize,
    /// Out-of-order segments held per direction (guards against floods of tiny segments).
    pub max_ooo_segments_per_direction: usize,
    /// Out-of-order bytes held across all flows. Over it: `tcp_ooo_overflow` on the flow that
    /// pushed it over.
    pub max_ooo_bytes_total: usize,
    /// A segment further than this from the next expected byte is out of window:
    /// `tcp_out_of_window`, dropped.
    pub max_seq_distance: u32,
    /// A control line longer than this is cut: `line_too_long`, the rest of it skipped.
    pub max_line_len: usize,
    /// Lines kept of one multi-line reply: `reply_too_long`, the rest counted, not kept.
    pub max_reply_lines: usize,
    /// Commands waiting for their reply per session: `pending_commands_overflow`, oldest dropped.
    pub max_pending_commands: usize,
    /// Announced data endpoints remembered per session: `expectation_overflow`, oldest dropped.
    pub max_expectations_per_session: usize,
    /// An announced endpoint is forgotten after this much packet time.
    pub expectation_ttl: TimeSpan,
    /// The weakest link rule (announced port alone) only applies within this window.
    pub port_only_window: TimeSpan,
    /// Bytes kept per direction of a connection not yet classified (FTP control by its
    /// dialogue, or a data connection). Over it, the connection is given up as not FTP (no
    /// anomaly: on a busy link most such connections are simply other protocols).
    pub max_classify_bytes: usize,
    /// Packet time a connection not yet classified may wait for its dialogue to tell (a greeted
    /// client that has not spoken yet). Over it, the connection is given up as not FTP.
    pub max_classify_wait: TimeSpan,
    /// SIZE answers remembered per session (for expected transfer sizes).
    pub max_size_hints: usize,
    /// A connection with no packets for this long is closed (`flow_idle_timeout`).
    pub idle_timeout: TimeSpan,
    /// A half-open connection (SYN only, no payload) is forgotten after this long.
    pub handshake_timeout: TimeSpan,
    /// IP fragments: bytes held at once, datagrams held at once, and how long a datagram may
    /// wait for its missing fragments (`ip_fragment_overflow`, `ip_fragment_timeout`).
    pub max_fragment_bytes: usize,
    pub max_fragment_datagrams: usize,
    pub fragment_timeout: TimeSpan,
    /// Servers whose connection attempts (SYN never answered, or refused) are counted one by
    /// one, each reported by one `connection_attempts` at the end. Attempts to further servers
    /// are counted together, in one more `connection_attempts` for "other servers".
    pub max_attempt_servers: usize,
    /// After this many events of one anomaly kind, further ones are only counted in stats.
    pub anomaly_events_per_kind: u64,
    /// How often (packet time) idle flows, expectations and fragments are swept.
    pub sweep_interval: TimeSpan,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_flows: 262_144,
            max_ooo_bytes_per_direction: 4 << 20,
            max_ooo_segments_per_direction: 4096,
            max_ooo_bytes_total: 256 << 20,
            max_seq_distance: 1 << 30,
            max_line_len: 16 << 10,
            max_reply_lines: 1000,
            max_pending_commands: 1024,
            max_expectations_per_session: 64,
            expectation_ttl: 600 * SECOND,
            port_only_window: 120 * SECOND,
            max_classify_bytes: 2048,
            max_classify_wait: 60 * SECOND,
            max_size_hints: 256,
            idle_timeout: 1800 * SECOND,
            handshake_timeout: 120 * SECOND,
            max_fragment_bytes: 16 << 20,
            max_fragment_datagrams: 4096,
            fragment_timeout: 60 * SECOND,
            max_attempt_servers: 256,
            anomaly_events_per_kind: 1000,
            sweep_interval: 10 * SECOND,
        }
    }
}
