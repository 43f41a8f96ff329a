//! Many failed logins from one client rolled into one notice, as Zeek's FTP::Bruteforcing
//! does (`FTP::bruteforce_threshold` 20 within `FTP::bruteforce_measurement_interval` 15
//! minutes). The report and the TUI's overview both use it, so they name the same clients.
//!
//! Sessions are folded as they end, in any order; each failing session counts at its start.

use ftpscope_core::event::LoginState;
use ftpscope_core::{TimeSpan, Timestamp};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// Failed logins from one client within [`WINDOW`] that make a notice.
pub const THRESHOLD: u64 = 20;
pub const WINDOW: TimeSpan = TimeSpan::from_secs(15 * 60);

/// Failed login attempts of a session: every answered PASS but the one that succeeded (a
/// refused session with no PASS answered still failed once).
pub fn failed_logins(login: LoginState, attempts: u32) -> u64 {
    let attempts = u64::from(attempts);
    match login {
        LoginState::Ok => attempts.saturating_sub(1),
        LoginState::Failed => attempts.max(1),
        LoginState::None => attempts,
    }
}

/// A client whose failed logins reached [`THRESHOLD`] within [`WINDOW`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub client: IpAddr,
    /// Failed logins in all, not only those of the window.
    pub failed: u64,
    /// FTP servers it failed on.
    pub servers: usize,
    /// Start of its first and last failing session.
    pub first: Timestamp,
    pub last: Timestamp,
}

#[derive(Debug, Default)]
struct Client {
    /// Failing sessions by start, while the threshold is not reached: then no window of
    /// [`WINDOW`] holds [`THRESHOLD`] failures, so a window holds fewer than that many
    /// sessions and each check is short. Emptied once reached.
    fails: Vec<(Timestamp, u64)>,
    servers: HashSet<IpAddr>,
    failed: u64,
    first: Timestamp,
    last: Timestamp,
    reached: bool,
}

/// Failed logins per client, folded session by session.
#[derive(Debug, Default)]
pub struct Bruteforce {
    clients: HashMap<IpAddr, Client>,
}

impl Bruteforce {
    /// A session of `client` with `server`, started at `start`, failed `failed` logins.
    pub fn session(&mut self, client: IpAddr, server: IpAddr, start: Timestamp, failed: u64) {
        if failed == 0 {
            return;
        }
        let c = self.clients.entry(client).or_default();
        if c.failed == 0 {
            (c.first, c.last) = (start, start);
        }
        c.failed += failed;
        c.first = c.first.min(start);
        c.last = c.last.max(start);
        c.servers.insert(server);
        if c.reached {
            return;
        }
        let at = c.fails.partition_point(|f| f.0 <= start);
        c.fails.insert(at, (start, failed));
        // Every window that holds the new session lies within WINDOW of its start.
        let lo = c.fails.partition_point(|f| f.0 < (start - WINDOW));
        let hi = c.fails.partition_point(|f| f.0 <= (start + WINDOW));
        let near = c.fails.get(lo..hi).unwrap_or_default();
        let (mut from, mut sum) = (0, 0);
        for (to, &(ts, n)) in near.iter().enumerate() {
            sum += n;
            while from < to && near.get(from).is_some_and(|f| ts - f.0 > WINDOW) {
                sum -= near.get(from).map_or(0, |f| f.1);
                from += 1;
            }
            if sum >= THRESHOLD {
                c.reached = true;
                c.fails = Vec::new();
                return;
            }
        }
    }

    /// The clients that reached the threshold, most failures first.
    pub fn notices(&self) -> Vec<Notice> {
        let mut out: Vec<Notice> = self
            .clients
            .iter()
            .filter(|(_, c)| c.reached)
            .map(|(ip, c)| Notice {
                client: *ip,
                failed: c.failed,
                servers: c.servers.len(),
                first: c.first,
                last: c.last,
            })
            .collect();
        out.sort_by(|a, b| b.failed.cmp(&a.failed).then(a.client.cmp(&b.client)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ftpscope_core::limits::SECOND;

    /// An instant `span` after the epoch.
    fn t(span: TimeSpan) -> Timestamp {
        Timestamp::EPOCH + span
    }

    const CLIENT: [u8; 4] = [10, 0, 0, 9];

    fn fold(sessions: &[(Timestamp, u64)]) -> Vec<Notice> {
        let mut b = Bruteforce::default();
        for (i, &(start, failed)) in sessions.iter().enumerate() {
            let server = IpAddr::from([10, 0, 0, (i % 2) as u8 + 1]);
            b.session(CLIENT.into(), server, start, failed);
        }
        b.notices()
    }

    #[test]
    fn twenty_failures_within_fifteen_minutes_make_a_notice() {
        // 19 failures: not yet.
        assert!(fold(&[(Timestamp::from_nanos(0), 10), (t(SECOND), 9)]).is_empty());
        let got = fold(&[
            (Timestamp::from_nanos(0), 10),
            (t(SECOND), 9),
            (t(2 * SECOND), 1),
        ]);
        assert_eq!(
            got,
            [Notice {
                client: CLIENT.into(),
                failed: 20,
                servers: 2,
                first: Timestamp::from_nanos(0),
                last: t(2 * SECOND),
            }]
        );
        // The same failures spread wider than the window: no notice.
        assert!(
            fold(&[
                (Timestamp::from_nanos(0), 10),
                (t(WINDOW + TimeSpan::from_nanos(1)), 10)
            ])
            .is_empty()
        );
        // Exactly the window apart still counts.
        assert_eq!(
            fold(&[(Timestamp::from_nanos(0), 10), (t(WINDOW), 10)]).len(),
            1
        );
    }

    #[test]
    fn sessions_may_end_in_any_order() {
        // Failures inserted before ones already seen still close a window.
        let got = fold(&[
            (t(10 * WINDOW), 5),
            (t(WINDOW), 5),
            (t(WINDOW + SECOND), 15),
        ]);
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].failed, got[0].first), (25, t(WINDOW)));
        // One failure a minute for a day never reaches 20 in 15 minutes.
        let slow: Vec<_> = (0..1440).map(|m| (t(m * 60 * SECOND), 1)).collect();
        assert!(fold(&slow).is_empty());
    }

    #[test]
    fn failed_logins_count_every_refused_pass() {
        assert_eq!(failed_logins(LoginState::Ok, 3), 2);
        assert_eq!(failed_logins(LoginState::Ok, 0), 0);
        assert_eq!(failed_logins(LoginState::Failed, 0), 1);
        assert_eq!(failed_logins(LoginState::Failed, 4), 4);
        assert_eq!(failed_logins(LoginState::None, 2), 2);
    }
}
