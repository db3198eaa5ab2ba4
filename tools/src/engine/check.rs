//! Replay from a journal: the journal stage compares what the engine makes with what the journal
//! holds, record by record, and reports the first divergence of each kind.
//!
//! Market events and decisions are compared as two ordered streams: the core holds a message's
//! market records until its decision, so their interleaving can differ from the journal's (a
//! journal written by another layout or by `crpbot record`), their order within each stream
//! cannot.

use std::sync::{Arc, Mutex};

use crpbot_core::MarketEvent;
use crpbot_journal::codec;
use serde::Serialize;

use super::Rec;

/// What the journal holds, in order.
#[derive(Clone, Debug, Default)]
pub struct Expected {
    /// Market events (without the live-only ones the caller filtered out).
    pub market: Vec<MarketEvent>,
    /// Decision records (intents, verdicts, fills, signals, positions, equity), as the core
    /// stage emits them.
    pub decisions: Vec<Rec>,
    /// Count the decisions the run makes but do not compare them (other strategies than the
    /// journal's ran).
    pub skip_decisions: bool,
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
        match *rec {
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
            Rec::Raw { .. } | Rec::Done | Rec::Control { .. } => return,
            Rec::Intent(_)
            | Rec::Verdict(_)
            | Rec::Fill(_)
            | Rec::Signal(_)
            | Rec::Position(_)
            | Rec::Equity(_) => {}
        }
        if self.expected.skip_decisions {
            self.next_decision += 1;
            return;
        }
        compare(
            &self.expected.decisions,
            &mut self.next_decision,
            rec,
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
        if !self.expected.skip_decisions
            && self.decision_divergence.is_none()
            && self.next_decision != decisions
        {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crpbot_core::{ClientOrderId, InstrumentId, Px, Qty, RiskVerdict, Side, StrategyId, Trade};

    fn trade(id: u64) -> MarketEvent {
        MarketEvent::Trade(Trade {
            ts_exch_ns: 1,
            ts_local_ns: 2,
            trade_id: id,
            px: Px(100),
            qty: Qty(1),
            instrument: InstrumentId(0),
            aggressor: Side::Buy,
            _pad: [0; 5],
        })
    }

    fn verdict(id: u64) -> RiskVerdict {
        RiskVerdict {
            ts_ns: 3,
            client_id: ClientOrderId(id),
            instrument: InstrumentId(0),
            strategy: StrategyId(0),
            code: 0,
            accepted: true,
            _pad: [0; 1],
        }
    }

    fn run(expected: Expected, recs: &[Rec]) -> CheckResult {
        let mut c = RecordCheck::new(expected);
        let h = c.handle();
        recs.iter().for_each(|r| c.on_rec(r));
        c.finish();
        h.take().unwrap()
    }

    #[test]
    fn streams_are_compared_separately_and_in_order() {
        let expected = Expected {
            market: vec![trade(1), trade(2)],
            decisions: vec![Rec::Verdict(verdict(7))],
            skip_decisions: false,
        };
        // Interleaving differs from the journal's; each stream's order is the same.
        let same = run(
            expected.clone(),
            &[Rec::Market(trade(1)), Rec::Verdict(verdict(7)), Rec::Market(trade(2)), Rec::Done],
        );
        assert_eq!((same.first_divergence, same.first_decision_divergence), (None, None));
        assert_eq!((same.events_compared, same.decisions_compared), (2, 1));

        let swapped = run(expected.clone(), &[Rec::Market(trade(2)), Rec::Market(trade(1))]);
        assert_eq!(swapped.first_divergence.unwrap().index, 0);
        let short = swapped.first_decision_divergence.unwrap();
        assert_eq!(short.index, 0);
        assert!(short.detail.contains("journal holds 1 decision records, replay made 0"));

        let extra = run(
            expected,
            &[
                Rec::Market(trade(1)),
                Rec::Market(trade(2)),
                Rec::Verdict(verdict(7)),
                Rec::Verdict(verdict(8)),
            ],
        );
        assert_eq!(extra.first_divergence, None);
        assert!(extra.first_decision_divergence.unwrap().detail.contains("extra record"));
    }

    #[test]
    fn skipped_decisions_are_counted_not_compared() {
        let expected = Expected { market: vec![], decisions: vec![], skip_decisions: true };
        let r = run(expected, &[Rec::Verdict(verdict(1)), Rec::Verdict(verdict(2))]);
        assert_eq!((r.decisions_compared, r.first_decision_divergence), (2, None));
    }

    #[test]
    fn the_hash_depends_on_the_events() {
        let e = Expected::default();
        let a = run(e.clone(), &[Rec::Market(trade(1))]).events_hash;
        let b = run(e.clone(), &[Rec::Market(trade(1))]).events_hash;
        let c = run(e, &[Rec::Market(trade(2))]).events_hash;
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
