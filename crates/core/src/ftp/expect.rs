//! Data-channel expectations: endpoints announced by PORT/EPRT/LPRT (active) or by the
//! 227/228/229 replies to PASV/LPSV/EPSV (passive), waiting for the connection they announce.
//!
//! A new TCP connection is matched against them by the port it was opened to, then by the
//! strongest rule that holds (see [`LinkRule`]): the exact address; the control connection's
//! own peers (the announced address was rewritten by NAT); the port alone within a window.

use crate::event::{AnnouncedBy, DataMode, LinkRule, SessionId};
use crate::frame::{TimeSpan, Timestamp};
use std::collections::HashMap;
use std::net::SocketAddr;

/// Names an expectation in its table; given by [`ExpectationTable::add`].
pub type ExpectationId = u64;

#[derive(Debug, Clone)]
pub struct Expectation {
    pub session: SessionId,
    pub announced: SocketAddr,
    pub mode: DataMode,
    pub announced_by: AnnouncedBy,
    pub ts: Timestamp,
    /// The control connection's client and server, as seen on the wire.
    pub control_client: SocketAddr,
    pub control_server: SocketAddr,
}

impl Expectation {
    /// The strongest rule by which a connection from `initiator` to `responder` matches.
    fn rule(
        &self,
        initiator: SocketAddr,
        responder: SocketAddr,
        now: Timestamp,
        window: TimeSpan,
    ) -> Option<LinkRule> {
        if responder.port() != self.announced.port() {
            return None;
        }
        if responder == self.announced {
            return Some(LinkRule::Exact);
        }
        // Passive: the client connects to the server. Active: the server connects to the client.
        let (from, to) = match self.mode {
            DataMode::Passive => (self.control_client, self.control_server),
            DataMode::Active => (self.control_server, self.control_client),
        };
        if initiator.ip() == from.ip() && responder.ip() == to.ip() {
            return Some(LinkRule::NatPeers);
        }
        if now - self.ts <= window {
            return Some(LinkRule::PortOnly);
        }
        None
    }
}

fn rank(rule: LinkRule) -> u8 {
    match rule {
        LinkRule::Exact => 3,
        LinkRule::NatPeers => 2,
        LinkRule::PortOnly => 1,
        // Never an expectation's rule: a link made without one.
        LinkRule::TlsPeers | LinkRule::None => 0,
    }
}

/// An expectation a new connection matched, taken out of the table.
#[derive(Debug)]
pub struct Matched {
    pub id: ExpectationId,
    pub expectation: Expectation,
    pub rule: LinkRule,
}

#[derive(Debug, Default)]
pub struct ExpectationTable {
    by_port: HashMap<u16, Vec<(ExpectationId, Expectation)>>,
    next_id: u64,
    len: usize,
}

impl ExpectationTable {
    pub fn add(&mut self, exp: Expectation) -> ExpectationId {
        self.next_id += 1;
        self.by_port
            .entry(exp.announced.port())
            .or_default()
            .push((self.next_id, exp));
        self.len += 1;
        self.next_id
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes one expectation by port and id.
    pub fn remove(&mut self, port: u16, id: ExpectationId) {
        if let Some(list) = self.by_port.get_mut(&port) {
            let before = list.len();
            list.retain(|(eid, _)| *eid != id);
            self.len -= before - list.len();
            if list.is_empty() {
                self.by_port.remove(&port);
            }
        }
    }

    /// Finds and removes the best expectation for a new connection: strongest rule first, then
    /// the most recent announcement.
    pub fn take_match(
        &mut self,
        initiator: SocketAddr,
        responder: SocketAddr,
        now: Timestamp,
        window: TimeSpan,
    ) -> Option<Matched> {
        self.take_match_at_least(initiator, responder, now, window, LinkRule::PortOnly)
    }

    /// [`ExpectationTable::take_match`], with rules weaker than `weakest` left out.
    pub fn take_match_at_least(
        &mut self,
        initiator: SocketAddr,
        responder: SocketAddr,
        now: Timestamp,
        window: TimeSpan,
        weakest: LinkRule,
    ) -> Option<Matched> {
        let list = self.by_port.get_mut(&responder.port())?;
        let mut best: Option<(usize, LinkRule, Timestamp)> = None;
        for (i, (_, e)) in list.iter().enumerate() {
            let found = e
                .rule(initiator, responder, now, window)
                .filter(|r| rank(*r) >= rank(weakest));
            if let Some(rule) = found {
                let better = match best {
                    None => true,
                    Some((_, r, ts)) => (rank(rule), e.ts) > (rank(r), ts),
                };
                if better {
                    best = Some((i, rule, e.ts));
                }
            }
        }
        let (i, rule, _) = best?;
        let (id, expectation) = list.swap_remove(i);
        if list.is_empty() {
            self.by_port.remove(&responder.port());
        }
        self.len -= 1;
        Some(Matched {
            id,
            expectation,
            rule,
        })
    }

    /// Forgets expectations older than `ttl`, and those of sessions for which `gone` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&Expectation) -> bool) {
        let mut removed = 0;
        self.by_port.retain(|_, list| {
            let before = list.len();
            list.retain(|(_, e)| keep(e));
            removed += before - list.len();
            !list.is_empty()
        });
        self.len -= removed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(announced: &str, mode: DataMode, ts: Timestamp) -> Expectation {
        Expectation {
            session: 1,
            announced: announced.parse().unwrap(),
            mode,
            announced_by: AnnouncedBy::Pasv,
            ts,
            control_client: "10.0.0.1:40000".parse().unwrap(),
            control_server: "203.0.113.5:21".parse().unwrap(),
        }
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn rules_in_order_of_strength() {
        let mut t = ExpectationTable::default();
        let first = t.add(exp(
            "203.0.113.5:5000",
            DataMode::Passive,
            Timestamp::from_nanos(0),
        ));
        let matched = t
            .take_match(
                sa("10.0.0.1:40001"),
                sa("203.0.113.5:5000"),
                Timestamp::from_nanos(1),
                TimeSpan::from_nanos(10),
            )
            .unwrap();
        assert_eq!((matched.id, matched.rule), (first, LinkRule::Exact));

        // Server behind NAT announced its private address.
        t.add(exp(
            "192.168.1.10:5001",
            DataMode::Passive,
            Timestamp::from_nanos(0),
        ));
        let rule = t
            .take_match(
                sa("10.0.0.1:40002"),
                sa("203.0.113.5:5001"),
                Timestamp::from_nanos(1),
                TimeSpan::from_nanos(10),
            )
            .unwrap()
            .rule;
        assert_eq!(rule, LinkRule::NatPeers);

        // Active: the server connects to the client's announced port.
        t.add(exp(
            "192.168.0.7:6000",
            DataMode::Active,
            Timestamp::from_nanos(0),
        ));
        let rule = t
            .take_match(
                sa("203.0.113.5:20"),
                sa("10.0.0.1:6000"),
                Timestamp::from_nanos(1),
                TimeSpan::from_nanos(10),
            )
            .unwrap()
            .rule;
        assert_eq!(rule, LinkRule::NatPeers);

        t.add(exp(
            "192.168.1.10:5002",
            DataMode::Passive,
            Timestamp::from_nanos(0),
        ));
        assert!(
            t.take_match(
                sa("9.9.9.9:1"),
                sa("8.8.8.8:5002"),
                Timestamp::from_nanos(100),
                TimeSpan::from_nanos(10)
            )
            .is_none()
        );
        let rule = t
            .take_match(
                sa("9.9.9.9:1"),
                sa("8.8.8.8:5002"),
                Timestamp::from_nanos(5),
                TimeSpan::from_nanos(10),
            )
            .unwrap()
            .rule;
        assert_eq!(rule, LinkRule::PortOnly);
        assert!(t.is_empty());
    }
}
