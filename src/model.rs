//! A pure fold of records into what the report (and the TUI) shows: sessions with their
//! dialogue and transfers, orphan transfers, anomalies and damage. Bounded: a session keeps
//! at most [`MAX_EXCHANGES_PER_SESSION`] exchanges and the model at most [`MAX_ANOMALIES`]
//! anomalies; the rest are counted.

use crate::capture::InputDamage;
use crate::pipeline::Record;
use crate::transfers::TransferOutcome;
use ftpscope_core::{Anomaly, Exchange, SessionId, SessionStart, SessionSummary};
use std::collections::HashMap;

pub const MAX_EXCHANGES_PER_SESSION: usize = 500;
pub const MAX_ANOMALIES: usize = 1000;

#[derive(Debug, Clone)]
pub struct SessionView {
    pub start: SessionStart,
    pub summary: Option<SessionSummary>,
    pub exchanges: Vec<Exchange>,
    pub exchanges_dropped: u64,
    pub transfers: Vec<TransferOutcome>,
}

#[derive(Debug, Default)]
pub struct Model {
    pub sessions: Vec<SessionView>,
    index: HashMap<SessionId, usize>,
    pub orphans: Vec<TransferOutcome>,
    pub anomalies: Vec<Anomaly>,
    pub anomalies_dropped: u64,
    pub damage: Vec<InputDamage>,
}

impl Model {
    pub fn apply(&mut self, record: &Record) {
        match record {
            Record::SessionStarted(s) => {
                self.index.insert(s.session, self.sessions.len());
                self.sessions.push(SessionView {
                    start: s.clone(),
                    summary: None,
                    exchanges: Vec::new(),
                    exchanges_dropped: 0,
                    transfers: Vec::new(),
                });
            }
            Record::Exchange(e) => {
                if let Some(s) = self.session_mut(e.session) {
                    if s.exchanges.len() < MAX_EXCHANGES_PER_SESSION {
                        s.exchanges.push(e.clone());
                    } else {
                        s.exchanges_dropped += 1;
                    }
                }
            }
            Record::SessionEnded(summary) => {
                if let Some(s) = self.session_mut(summary.session) {
                    s.summary = Some(summary.clone());
                }
            }
            Record::Transfer(t) => match t
                .record
                .session
                .and_then(|sid| self.index.get(&sid).copied())
            {
                Some(i) => {
                    if let Some(s) = self.sessions.get_mut(i) {
                        s.transfers.push((**t).clone());
                    }
                }
                None => self.orphans.push((**t).clone()),
            },
            Record::Anomaly(a) => {
                if self.anomalies.len() < MAX_ANOMALIES {
                    self.anomalies.push(a.clone());
                } else {
                    self.anomalies_dropped += 1;
                }
            }
            Record::Damage(d) => self.damage.push(d.clone()),
        }
    }

    fn session_mut(&mut self, id: SessionId) -> Option<&mut SessionView> {
        let i = *self.index.get(&id)?;
        self.sessions.get_mut(i)
    }
}
