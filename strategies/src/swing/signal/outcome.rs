//! Outcome tracking: paper-trades each actionable signal on the candles (or prices) that
//! follow it and scores the result. Pure: no clock, no I/O; the caller feeds market data and
//! writes the returned events to the store.
//!
//! # Rules
//!
//! * Only candles opening at or after the signal's `created_ms` are considered; candles of
//!   other symbols are ignored.
//! * **Entry**: the first candle whose range reaches the band `entry · (1 ± tolerance)`
//!   ([`TrackerConfig::entry_tolerance_pct`], default 0.5 %). The fill price is the candle's
//!   open when the open is inside the band (the position is taken as the bar opens),
//!   otherwise the signal's entry clamped to the candle's range. A signal not filled by
//!   `created_ms + timeout` expires unfilled ([`TrackerEvent::Expired`]).
//! * **Exit** (LONG; SHORT mirrored): stop when `low ≤ stop`, target when `high ≥ target`.
//!   When both lie inside one candle the stop is assumed first (conservative: the path inside
//!   a candle is unknown). In the fill candle the stop always counts but the target only when
//!   the fill was at the open (otherwise the target may have traded before the fill). A stop
//!   exits at the stop price, or at the open when the candle opens beyond it (a gap); a target
//!   exits at the target price.
//! * **Timeout** ([`TrackerConfig::timeout_ms`], default 24 h, counted from `created_ms`): a
//!   filled position still open at the end of the candle reaching the deadline closes at that
//!   candle's close; if the data jumps past the deadline (an outage), at the last close seen.
//! * Times: a candle spans `[open_time, open_time + bar_ms)`; fills are stamped with the
//!   candle's open time, exits with its end. `hold_minutes = (closed − opened) / 60 000`.
//! * `pnl_pct = ±(exit − entry) / entry · 100` (+ LONG, − SHORT), no fees. The outcome is
//!   breakeven when `|pnl_pct| <` [`TrackerConfig::breakeven_band_pct`] (default 0.05),
//!   else win or loss by sign.
//! * Excursions `max_adverse_pct` / `max_favorable_pct`: worst and best `pnl_pct` over the
//!   candles the position was open in (fill and exit candles included, each candle's range
//!   clamped to the stop/target levels, so only a gap can take it past them).
//! * **Theory scoring**: a theory's contribution is its signal × the variant's learned weight
//!   (when set with [`OutcomeTracker::set_weights`]) or × the direction sign (+1 LONG,
//!   −1 SHORT); it was correct when `sign(theory signal) = sign(exit − entry)` (a zero signal
//!   or a flat move is not correct).
//!
//! Each closed result updates the [`Scoreboard`] (Bayesian win rate per variant and per
//! symbol, per-theory accuracy) and is returned as a [`ClosedResult`], which the caller feeds
//! to the math synthesiser's weight learning.

use std::collections::BTreeMap;

use serde::Serialize;

use super::ab::BetaPosterior;
use super::{Direction, ExitReason, Outcome, OutcomeSummary, SwingSignal, TheoryValues};
use crate::swing::Candle;

/// Tracking parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TrackerConfig {
    /// Entry band half-width in percent of the entry price (default 0.5).
    pub entry_tolerance_pct: f64,
    /// Life of a signal from its creation, ms (default 24 h).
    pub timeout_ms: i64,
    /// `|pnl_pct|` below this is breakeven (default 0.05).
    pub breakeven_band_pct: f64,
    /// Candle length, ms (default 1 h).
    pub bar_ms: i64,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            entry_tolerance_pct: 0.5,
            timeout_ms: 24 * 3_600_000,
            breakeven_band_pct: 0.05,
            bar_ms: 3_600_000,
        }
    }
}

/// Why a signal cannot be tracked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrackError {
    /// HOLD signals are not traded.
    #[error("signal is not actionable (HOLD)")]
    NotActionable,
    /// Prices not finite and positive, or not ordered `stop < entry < target` (LONG) /
    /// `target < entry < stop` (SHORT).
    #[error("stop, entry and target are not consistent with the direction")]
    BadLevels,
    /// The signal id is already tracked.
    #[error("signal {0} is already tracked")]
    Duplicate(i64),
}

/// One theory's score on a closed result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TheoryScore {
    /// Theory name.
    pub theory: String,
    /// Its signal at the bar.
    pub value: f64,
    /// `value × weight` (or × direction sign).
    pub contribution: f64,
    /// `sign(value) = sign(exit − entry)`.
    pub correct: bool,
}

/// A closed paper trade.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClosedResult {
    /// Store id of the signal.
    pub signal_id: i64,
    /// Symbol.
    pub symbol: String,
    /// Variant.
    pub variant: String,
    /// Direction (LONG or SHORT).
    pub direction: Direction,
    /// Fill price.
    pub entry: f64,
    /// Exit price.
    pub exit: f64,
    /// Profit or loss in percent of entry.
    pub pnl_pct: f64,
    /// Win, loss or breakeven.
    pub outcome: Outcome,
    /// Why it closed.
    pub exit_reason: ExitReason,
    /// Fill time.
    pub opened_ms: i64,
    /// Exit time.
    pub closed_ms: i64,
    /// `(closed − opened) / 60 000`.
    pub hold_minutes: f64,
    /// Worst `pnl_pct` while open.
    pub max_adverse_pct: f64,
    /// Best `pnl_pct` while open.
    pub max_favorable_pct: f64,
    /// The theory signals of the signal.
    pub theories: TheoryValues,
    /// Per-theory scores.
    pub theory_scores: Vec<TheoryScore>,
}

impl ClosedResult {
    /// The summary fed back to synthesisers as recent outcomes.
    #[must_use]
    pub fn summary(&self) -> OutcomeSummary {
        OutcomeSummary { direction: self.direction, outcome: self.outcome, pnl_pct: self.pnl_pct }
    }
}

/// What a candle or price did to the tracked signals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum TrackerEvent {
    /// The entry was reached.
    Filled {
        /// Store id.
        signal_id: i64,
        /// Fill price.
        entry: f64,
        /// Fill time.
        opened_ms: i64,
    },
    /// The position closed.
    Closed(ClosedResult),
    /// The entry was never reached before the timeout.
    Expired {
        /// Store id.
        signal_id: i64,
        /// `created_ms + timeout`.
        expired_ms: i64,
    },
}

impl TrackerEvent {
    /// The closed result, for [`TrackerEvent::Closed`] (the learning hook's input).
    #[must_use]
    pub fn closed_result(&self) -> Option<&ClosedResult> {
        match self {
            TrackerEvent::Closed(r) => Some(r),
            _ => None,
        }
    }
}

/// Win/loss counts of closed results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct WinCounts {
    /// Wins.
    pub wins: u64,
    /// Losses.
    pub losses: u64,
    /// Breakevens.
    pub breakeven: u64,
    /// Sum of `pnl_pct`.
    pub sum_pnl_pct: f64,
}

impl WinCounts {
    /// Closed results counted.
    #[must_use]
    pub fn n(&self) -> u64 {
        self.wins + self.losses + self.breakeven
    }

    /// Beta(1, 1) posterior of the win rate (breakeven counts as not a win).
    #[must_use]
    pub fn posterior(&self) -> BetaPosterior {
        BetaPosterior::from_counts(self.wins, self.losses + self.breakeven)
    }
}

/// Per-theory counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct TheoryCounts {
    /// Closed results that carried this theory.
    pub n: u64,
    /// Of which the theory's sign matched the move.
    pub correct: u64,
    /// Sum of contributions.
    pub sum_contribution: f64,
}

impl TheoryCounts {
    /// Beta(1, 1) posterior of the theory's directional accuracy.
    #[must_use]
    pub fn posterior(&self) -> BetaPosterior {
        BetaPosterior::from_counts(self.correct, self.n.saturating_sub(self.correct))
    }
}

/// Running performance of closed results.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Scoreboard {
    /// By variant.
    pub by_variant: BTreeMap<String, WinCounts>,
    /// By symbol.
    pub by_symbol: BTreeMap<String, WinCounts>,
    /// By theory.
    pub by_theory: BTreeMap<String, TheoryCounts>,
}

impl Scoreboard {
    /// Adds one closed result.
    pub fn record(&mut self, r: &ClosedResult) {
        for key in [
            self.by_variant.entry(r.variant.clone()).or_default(),
            self.by_symbol.entry(r.symbol.clone()).or_default(),
        ] {
            match r.outcome {
                Outcome::Win => key.wins += 1,
                Outcome::Loss => key.losses += 1,
                // A closed result is never `Open`; were one recorded, it is no win.
                Outcome::Breakeven | Outcome::Open => key.breakeven += 1,
            }
            key.sum_pnl_pct += r.pnl_pct;
        }
        for s in &r.theory_scores {
            let t = self.by_theory.entry(s.theory.clone()).or_default();
            t.n += 1;
            t.correct += u64::from(s.correct);
            t.sum_contribution += s.contribution;
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Fill {
    entry: f64,
    opened_ms: i64,
    last_close: f64,
    mae: f64,
    mfe: f64,
}

#[derive(Debug, Clone)]
struct Tracked {
    id: i64,
    symbol: String,
    variant: String,
    dir: Direction,
    entry: f64,
    stop: f64,
    target: f64,
    created_ms: i64,
    deadline_ms: i64,
    theories: TheoryValues,
    fill: Option<Fill>,
}

impl Tracked {
    fn sign(&self) -> f64 {
        if self.dir == Direction::Short { -1.0 } else { 1.0 }
    }
    fn pnl_at(&self, entry: f64, px: f64) -> f64 {
        self.sign() * (px - entry) / entry * 100.0
    }
}

/// One bar of market data for [`OutcomeTracker`].
#[derive(Debug, Clone, Copy)]
struct Bar {
    open_ms: i64,
    end_ms: i64,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
}

/// Paper-trades signals; see the module docs for the rules.
#[derive(Debug, Clone, Default)]
pub struct OutcomeTracker {
    cfg: TrackerConfig,
    live: Vec<Tracked>,
    weights: BTreeMap<String, TheoryValues>,
    scoreboard: Scoreboard,
}

fn sign(v: f64) -> i8 {
    if v > 0.0 {
        1
    } else if v < 0.0 {
        -1
    } else {
        0
    }
}

impl OutcomeTracker {
    /// A tracker with `cfg`.
    #[must_use]
    pub fn new(cfg: TrackerConfig) -> Self {
        Self { cfg, ..Self::default() }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &TrackerConfig {
        &self.cfg
    }

    /// Sets the synthesiser weights of `variant` (theory name → weight) used for theory
    /// contributions from now on.
    pub fn set_weights(&mut self, variant: &str, weights: TheoryValues) {
        self.weights.insert(variant.to_string(), weights);
    }

    /// Performance of everything closed so far.
    #[must_use]
    pub fn scoreboard(&self) -> &Scoreboard {
        &self.scoreboard
    }

    /// Signals waiting for their entry.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.live.iter().filter(|t| t.fill.is_none()).count()
    }

    /// Filled positions not closed yet.
    #[must_use]
    pub fn open_positions(&self) -> usize {
        self.live.iter().filter(|t| t.fill.is_some()).count()
    }

    /// Starts tracking stored signal `signal_id`.
    ///
    /// # Errors
    /// [`TrackError`] for HOLD, inconsistent levels or a duplicate id.
    pub fn track(&mut self, signal_id: i64, s: &SwingSignal) -> Result<(), TrackError> {
        if !s.is_actionable() {
            return Err(TrackError::NotActionable);
        }
        let ok = [s.entry, s.stop_loss, s.take_profit].iter().all(|v| v.is_finite() && *v > 0.0)
            && match s.direction {
                Direction::Long => s.stop_loss < s.entry && s.entry < s.take_profit,
                Direction::Short => s.take_profit < s.entry && s.entry < s.stop_loss,
                Direction::Hold => false,
            };
        if !ok {
            return Err(TrackError::BadLevels);
        }
        if self.live.iter().any(|t| t.id == signal_id) {
            return Err(TrackError::Duplicate(signal_id));
        }
        self.live.push(Tracked {
            id: signal_id,
            symbol: s.symbol.clone(),
            variant: s.variant.clone(),
            dir: s.direction,
            entry: s.entry,
            stop: s.stop_loss,
            target: s.take_profit,
            created_ms: s.created_ms,
            deadline_ms: s.created_ms.saturating_add(self.cfg.timeout_ms),
            theories: s.theories.clone(),
            fill: None,
        });
        Ok(())
    }

    /// Resumes a position already filled at `entry` at `opened_ms` (after a restart, from
    /// the store's open results).
    ///
    /// # Errors
    /// As [`OutcomeTracker::track`].
    pub fn resume_filled(
        &mut self,
        signal_id: i64,
        s: &SwingSignal,
        entry: f64,
        opened_ms: i64,
    ) -> Result<(), TrackError> {
        self.track(signal_id, s)?;
        if let Some(t) = self.live.last_mut() {
            t.fill = Some(Fill { entry, opened_ms, last_close: entry, mae: 0.0, mfe: 0.0 });
        }
        Ok(())
    }

    /// Feeds one candle of `symbol` (its span is `[open_time, open_time + bar_ms)`).
    pub fn on_candle(&mut self, symbol: &str, c: &Candle) -> Vec<TrackerEvent> {
        let bar = Bar {
            open_ms: c.open_time_ms,
            end_ms: c.open_time_ms.saturating_add(self.cfg.bar_ms),
            open: c.open,
            high: c.high,
            low: c.low,
            close: c.close,
        };
        self.step(symbol, &bar)
    }

    /// Feeds one traded price of `symbol` at `ts_ms` (a zero-length bar).
    pub fn on_price(&mut self, symbol: &str, ts_ms: i64, price: f64) -> Vec<TrackerEvent> {
        let bar = Bar {
            open_ms: ts_ms,
            end_ms: ts_ms,
            open: price,
            high: price,
            low: price,
            close: price,
        };
        self.step(symbol, &bar)
    }

    /// Closes an open position at `price` by hand (`ExitReason::Manual`); `None` if the
    /// signal is not an open position. A pending signal is simply dropped (`None`).
    pub fn close_manual(&mut self, signal_id: i64, price: f64, ts_ms: i64) -> Option<ClosedResult> {
        let i = self.live.iter().position(|t| t.id == signal_id)?;
        let t = self.live.remove(i);
        let f = t.fill?;
        let r = self.close(&t, f, price, ExitReason::Manual, ts_ms);
        self.scoreboard.record(&r);
        Some(r)
    }

    fn step(&mut self, symbol: &str, bar: &Bar) -> Vec<TrackerEvent> {
        if ![bar.open, bar.high, bar.low, bar.close].iter().all(|v| v.is_finite()) {
            return Vec::new();
        }
        let mut events = Vec::new();
        let mut i = 0;
        while i < self.live.len() {
            let t = &self.live[i];
            if t.symbol != symbol || bar.open_ms < t.created_ms {
                i += 1;
                continue;
            }
            match self.advance(i, bar, &mut events) {
                true => {
                    self.live.remove(i);
                }
                false => i += 1,
            }
        }
        for e in &events {
            if let TrackerEvent::Closed(r) = e {
                self.scoreboard.record(r);
            }
        }
        events
    }

    /// Moves signal `i` through `bar`; true when it is finished (closed or expired).
    fn advance(&mut self, i: usize, bar: &Bar, events: &mut Vec<TrackerEvent>) -> bool {
        let t = &self.live[i];
        let mut at_open = true;
        let f = match t.fill {
            Some(f) => f,
            None => {
                if bar.open_ms >= t.deadline_ms {
                    events
                        .push(TrackerEvent::Expired { signal_id: t.id, expired_ms: t.deadline_ms });
                    return true;
                }
                let tol = self.cfg.entry_tolerance_pct / 100.0;
                let (lo, hi) = (t.entry * (1.0 - tol), t.entry * (1.0 + tol));
                if bar.high < lo || bar.low > hi {
                    if bar.end_ms >= t.deadline_ms {
                        events.push(TrackerEvent::Expired {
                            signal_id: t.id,
                            expired_ms: t.deadline_ms,
                        });
                        return true;
                    }
                    return false;
                }
                at_open = (lo..=hi).contains(&bar.open);
                let px = if at_open { bar.open } else { t.entry.clamp(bar.low, bar.high) };
                events.push(TrackerEvent::Filled {
                    signal_id: t.id,
                    entry: px,
                    opened_ms: bar.open_ms,
                });
                Fill { entry: px, opened_ms: bar.open_ms, last_close: px, mae: 0.0, mfe: 0.0 }
            }
        };
        if bar.open_ms >= t.deadline_ms {
            // The data jumped past the deadline: close at the last price seen before it.
            let r = self.close(t, f, f.last_close, ExitReason::Timeout, t.deadline_ms);
            events.push(TrackerEvent::Closed(r));
            return true;
        }
        let long = t.dir == Direction::Long;
        let (worst, best) = if long { (bar.low, bar.high) } else { (bar.high, bar.low) };
        let stop_hit = if long { bar.low <= t.stop } else { bar.high >= t.stop };
        let target_hit = at_open && if long { bar.high >= t.target } else { bar.low <= t.target };
        let mut f = f;
        let (p_stop, p_target) = (t.pnl_at(f.entry, t.stop), t.pnl_at(f.entry, t.target));
        f.mae = f.mae.min(t.pnl_at(f.entry, worst).max(p_stop));
        f.mfe = f.mfe.max(t.pnl_at(f.entry, best).min(p_target));
        f.last_close = bar.close;
        let exit = if stop_hit {
            let gap = if long { bar.open <= t.stop } else { bar.open >= t.stop };
            Some((if gap && at_open { bar.open } else { t.stop }, ExitReason::StopLoss))
        } else if target_hit {
            Some((t.target, ExitReason::TakeProfit))
        } else if bar.end_ms >= t.deadline_ms {
            Some((bar.close, ExitReason::Timeout))
        } else {
            None
        };
        match exit {
            Some((px, why)) => {
                let r = self.close(t, f, px, why, bar.end_ms);
                events.push(TrackerEvent::Closed(r));
                true
            }
            None => {
                self.live[i].fill = Some(f);
                false
            }
        }
    }

    fn close(
        &self,
        t: &Tracked,
        f: Fill,
        exit: f64,
        why: ExitReason,
        closed_ms: i64,
    ) -> ClosedResult {
        let pnl_pct = t.pnl_at(f.entry, exit);
        let outcome = if pnl_pct.abs() < self.cfg.breakeven_band_pct {
            Outcome::Breakeven
        } else if pnl_pct > 0.0 {
            Outcome::Win
        } else {
            Outcome::Loss
        };
        let weights = self.weights.get(&t.variant);
        let moved = sign(exit - f.entry);
        let theory_scores = t
            .theories
            .iter()
            .map(|(name, &value)| {
                let w = weights.and_then(|w| w.get(name)).copied().unwrap_or_else(|| t.sign());
                let s = sign(value);
                TheoryScore {
                    theory: name.clone(),
                    value,
                    contribution: value * w,
                    correct: s != 0 && s == moved,
                }
            })
            .collect();
        ClosedResult {
            signal_id: t.id,
            symbol: t.symbol.clone(),
            variant: t.variant.clone(),
            direction: t.dir,
            entry: f.entry,
            exit,
            pnl_pct,
            outcome,
            exit_reason: why,
            opened_ms: f.opened_ms,
            closed_ms,
            hold_minutes: (closed_ms - f.opened_ms) as f64 / 60_000.0,
            max_adverse_pct: f.mae.min(pnl_pct),
            max_favorable_pct: f.mfe.max(pnl_pct),
            theories: t.theories.clone(),
            theory_scores,
        }
    }
}
