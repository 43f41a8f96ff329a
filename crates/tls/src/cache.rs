//! TLS 1.2 session resumption: master secrets by session ID (RFC 5246 §7.4.1.2, §7.3
//! abbreviated handshake) and by session ticket (RFC 5077 §3.1, §3.4).
//!
//! A resumed connection reuses the master secret of an earlier full handshake. OpenSSL logs a
//! `CLIENT_RANDOM` line for resumed handshakes too, but other software may not, and vsftpd's
//! `require_ssl_reuse` makes every FTPS data connection resume the control connection's
//! session: the engine fills this cache from each full handshake it could decrypt (the server's
//! session ID, and every NewSessionTicket) and looks resumed connections up in it.
//!
//! Bounded: at most `max_entries` entries; the oldest entry goes first. Tickets are stored by
//! their SHA-256 (they can be long and are opaque to us).

use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};

/// Default bound of a [`SessionCache`].
pub const DEFAULT_MAX_SESSIONS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Id(Vec<u8>),
    Ticket([u8; 32]),
}

/// Master secrets of TLS 1.2 sessions, by session ID and by ticket (see the module doc).
#[derive(Debug, Clone)]
pub struct SessionCache {
    max_entries: usize,
    map: HashMap<Key, [u8; 48]>,
    /// Insertion order, for eviction.
    order: VecDeque<Key>,
    /// Entries evicted so far.
    pub evicted: u64,
}

impl Default for SessionCache {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_SESSIONS)
    }
}

impl SessionCache {
    pub fn new(max_entries: usize) -> Self {
        SessionCache {
            max_entries,
            map: HashMap::new(),
            order: VecDeque::new(),
            evicted: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Remembers the master secret of a session ID (empty IDs are not sessions).
    pub fn insert_session_id(&mut self, id: &[u8], master: &[u8; 48]) {
        if !id.is_empty() {
            self.insert(Key::Id(id.to_vec()), master);
        }
    }

    /// Remembers the master secret of a session ticket.
    pub fn insert_ticket(&mut self, ticket: &[u8], master: &[u8; 48]) {
        if !ticket.is_empty() {
            self.insert(Key::Ticket(ticket_key(ticket)), master);
        }
    }

    pub fn by_session_id(&self, id: &[u8]) -> Option<&[u8; 48]> {
        self.map.get(&Key::Id(id.to_vec()))
    }

    pub fn by_ticket(&self, ticket: &[u8]) -> Option<&[u8; 48]> {
        self.map.get(&Key::Ticket(ticket_key(ticket)))
    }

    fn insert(&mut self, key: Key, master: &[u8; 48]) {
        if self.max_entries == 0 {
            return;
        }
        if let Some(v) = self.map.get_mut(&key) {
            *v = *master;
            return;
        }
        while self.map.len() >= self.max_entries {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            self.map.remove(&old);
            self.evicted += 1;
        }
        self.order.push_back(key.clone());
        self.map.insert(key, *master);
    }
}

fn ticket_key(ticket: &[u8]) -> [u8; 32] {
    Sha256::digest(ticket).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_entry_goes_first() {
        let mut c = SessionCache::new(2);
        c.insert_session_id(b"a", &[1; 48]);
        c.insert_ticket(b"ticket", &[2; 48]);
        c.insert_session_id(b"a", &[3; 48]); // update: no new entry
        c.insert_session_id(b"b", &[4; 48]);
        assert_eq!(c.len(), 2);
        assert_eq!(c.by_session_id(b"a"), None);
        assert_eq!(c.by_ticket(b"ticket"), Some(&[2; 48]));
        assert_eq!(c.by_session_id(b"b"), Some(&[4; 48]));
        assert_eq!(c.evicted, 1);
        c.insert_session_id(b"", &[5; 48]);
        assert_eq!(c.len(), 2);
    }
}
