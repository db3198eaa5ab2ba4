//! Replay from a journal: the journal stage compares what the engine makes with what the journal
//! holds, record by record, and reports the first divergence of each kind.
//!
//! Market events and decisions are compared as two ordered streams: the core holds a message's
//! market records until its decision, so their interleaving can differ from the journal's (a
//! journal written by another layout or by `crpbot record`), their order within each stream
//! cannot.

use std::sync::{Arc, Mutex};

use crpbot_core::{
    EquitySnapshot, Fill, MarketEvent, OrderIntent, PositionSnapshot, RiskVerdict, SignalRecord,
};
use crpbot_journal::codec;
use serde::Serialize;

use super::Rec;

/// A journaled decision record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// An order intent.
    Intent(OrderIntent),
    /// A risk verdict.
    Verdict(RiskVerdict),
    /// A fill.
    Fill(Fill),
    /// The signals behind an intent.
    Signal(SignalRecord),
    /// A position after a fill.
    Position(PositionSnapshot),
    /// The account after fills.
    Equity(EquitySnapshot),
}

/// What the journal holds, in order.
#[derive(Clone, Debug, Default)]
pub struct Expected {
    /// Market events (without the live-only ones the caller filtered out).
    pub market: Vec<MarketEvent>,
    /// Decision records.
    pub decisions: Vec<Decision>,
}

/// The first divergence of one stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Divergence {
    /// Index in its stream.
    pub index: usize,
    /// What differs.
    pub detail: String,
}

/// The comparison's outcome.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CheckResult {
    /// Market events compared.
    pub events_compared: usize,
    /// FNV-1a hash of the encoded market events the engine made.
    pub events_hash: String,
    /// First market-event divergence.
    pub first_divergence: Option<Divergence>,
    /// Decision records compared.
    pub decisions_compared: usize,
    /// First decision divergence.
    pub first_decision_divergence: Option<Divergence>,
}

/// The result slot, filled when the journal stage finishes.
#[derive(Clone, Debug, Default)]
pub struct CheckHandle(Arc<Mutex<Option<CheckResult>>>);

impl CheckHandle {
    /// Takes the result once the pipeline has joined.
    pub fn take(&self) -> Option<CheckResult> {
        self.0.lock().ok().and_then(|mut g| g.take())
    }
}

/// Compares the engine's records with the expected ones (on the journal thread).
#[derive(Debug)]
pub struct RecordCheck {
    expected: Expected,
    next_market: usize,
    next_decision: usize,
    market_divergence: Option<Divergence>,
    decision_divergence: Option<Divergence>,
    hash: u64,
    result: CheckHandle,
}

fn compare<T: PartialEq + std::fmt::Debug>(
    expected: &[T],
    next: &mut usize,
    made: &T,
    divergence: &mut Option<Divergence>,
) {
    if divergence.is_none() {
        let detail = match expected.get(*next) {
            Some(e) if e == made => None,
            Some(e) => Some(format!("journal has {e:?}, replay made {made:?}")),
            None => Some(format!("replay made an extra record {made:?}")),
        };
        if let Some(detail) = detail {
            *divergence = Some(Divergence { index: *next, detail });
        }
    }
    *next += 1;
}

impl RecordCheck {
    /// A check against `expected`.
    pub fn new(expected: Expected) -> RecordCheck {
        RecordCheck {
            expected,
            next_market: 0,
            next_decision: 0,
            market_divergence: None,
            decision_divergence: None,
            hash: 0xcbf2_9ce4_8422_2325,
            result: CheckHandle::default(),
        }
    }

    /// The result slot.
    pub fn handle(&self) -> CheckHandle {
        self.result.clone()
    }

    /// One record from the core stage.
    pub fn on_rec(&mut self, rec: &Rec) {
        let d = match *rec {
            Rec::Market(ev) => {
                let mut buf = [0u8; codec::MAX_TYPED_LEN];
                let n = codec::encode_market(&ev, &mut buf);
                self.hash = buf[..n]
                    .iter()
                    .fold(self.hash, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
                compare(
                    &self.expected.market,
                    &mut self.next_market,
                    &ev,
                    &mut self.market_divergence,
                );
                return;
            }
            Rec::Intent(i) => Decision::Intent(i),
            Rec::Verdict(v) => Decision::Verdict(v),
            Rec::Fill(f) => Decision::Fill(f),
            Rec::Signal(s) => Decision::Signal(s),
            Rec::Position(p) => Decision::Position(p),
            Rec::Equity(e) => Decision::Equity(e),
            Rec::Raw { .. } | Rec::Done | Rec::Control { .. } => return,
        };
        compare(
            &self.expected.decisions,
            &mut self.next_decision,
            &d,
            &mut self.decision_divergence,
        );
    }

    /// Ends the comparison: a stream the engine made shorter than the journal's diverges where
    /// it ended.
    pub fn finish(&mut self) {
        let (market, decisions) = (self.expected.market.len(), self.expected.decisions.len());
        if self.market_divergence.is_none() && self.next_market != market {
            self.market_divergence = Some(Divergence {
                index: self.next_market,
                detail: format!("journal holds {market} events, replay made {}", self.next_market),
            });
        }
        if self.decision_divergence.is_none() && self.next_decision != decisions {
            self.decision_divergence = Some(Divergence {
                index: self.next_decision,
                detail: format!(
                    "journal holds {decisions} decision records, replay made {}",
                    self.next_decision
                ),
            });
        }
        let result = CheckResult {
            events_compared: self.next_market,
            events_hash: format!("{:016x}", self.hash),
            first_divergence: self.market_divergence.clone(),
            decisions_compared: self.next_decision,
            first_decision_divergence: self.decision_divergence.clone(),
        };
        if let Ok(mut g) = self.result.0.lock() {
            *g = Some(result);
        }
    }
}
