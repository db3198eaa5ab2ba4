//! Replay: walk historical candles, synthesise a signal every N bars, store it, paper-trade it
//! on the following candles and report per-variant and per-theory statistics.
//!
//! At each bar `i` of the range (`from_ms ≤ open_time ≤ to_ms`, at least `window` bars of
//! history): the tracker first sees candle `i` (fills and exits of earlier signals), then —
//! every `every` bars — [`analyze_with`] runs on the candles up to `i` and every synthesiser
//! is asked for a signal at `now = open_time(i) + bar_ms` (the bar's close). Each signal is
//! stored (with its validation outcome when a validator is given) and, when actionable and
//! valid, tracked. After the range, candles keep flowing to the tracker (no new signals) until
//! the last signal's timeout or the end of the data, so late signals can close. Tracker events
//! of one candle are written in one transaction.

use std::collections::VecDeque;
use std::fmt;

use serde::Serialize;

use super::{SignalStore, StoreError};
use crate::swing::signal::ab::{AbConfig, AbReport, ab_report};
use crate::swing::signal::outcome::{
    ClosedResult, OutcomeTracker, Scoreboard, TrackerConfig, TrackerEvent,
};
use crate::swing::signal::{OutcomeSummary, SwingSignal, SynthInput, Synthesizer, TheoryValues};
use crate::swing::{AnalyzeError, AnalyzeOptions, Candle, analyze_with};

/// Replay settings.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// Symbol recorded on the signals' input.
    pub symbol: String,
    /// Theory window (bars).
    pub window: usize,
    /// Synthesise every this many bars (≥ 1).
    pub every: usize,
    /// First bar considered (open time, ms).
    pub from_ms: Option<i64>,
    /// Last bar that may produce a signal (open time, ms).
    pub to_ms: Option<i64>,
    /// Paper-trading rules.
    pub tracker: TrackerConfig,
    /// Options for `analyze` (Monte Carlo settings, context).
    pub analyze: AnalyzeOptions,
    /// Recent closed results handed to the synthesisers (newest last).
    pub recent_outcomes: usize,
    /// A/B sizing.
    pub ab: AbConfig,
}

impl ReplayConfig {
    /// Defaults for `symbol`: window 200, every bar, whole file, default tracker, 20 recent
    /// outcomes.
    #[must_use]
    pub fn new(symbol: &str) -> Self {
        Self {
            symbol: symbol.to_string(),
            window: crate::swing::analyze::DEFAULT_WINDOW,
            every: 1,
            from_ms: None,
            to_ms: None,
            tracker: TrackerConfig::default(),
            analyze: AnalyzeOptions::default(),
            recent_outcomes: 20,
            ab: AbConfig::default(),
        }
    }
}

/// Validates a signal: `Ok` or why it is rejected (stored as `rejected: <why>`).
pub type Validator<'a> = &'a dyn Fn(&SwingSignal) -> Result<(), String>;

/// The current learned weights of a variant (theory → weight), if it has any.
pub type WeightsOf<'a> = &'a dyn Fn(&str) -> Option<TheoryValues>;

/// Optional callbacks of [`replay`].
#[derive(Default)]
pub struct ReplayHooks<'a> {
    /// Validation before tracking; `None` stores `validation = NULL` and tracks every
    /// actionable signal with consistent levels.
    pub validate: Option<Validator<'a>>,
    /// Called with each closed result (e.g. to feed `MathWeights::update`).
    pub on_closed: Option<&'a mut dyn FnMut(&ClosedResult)>,
    /// The current weights of a variant, for theory contributions (`None` = direction sign).
    pub weights: Option<WeightsOf<'a>>,
}

impl fmt::Debug for ReplayHooks<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayHooks")
            .field("validate", &self.validate.is_some())
            .field("on_closed", &self.on_closed.is_some())
            .field("weights", &self.weights.is_some())
            .finish()
    }
}

/// Why a replay failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// A store write failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `analyze` rejected the candles (bad series).
    #[error(transparent)]
    Analyze(#[from] AnalyzeError),
    /// No bar of the range has `window` bars of history.
    #[error("no bar in the range has {window} bars of history")]
    NoBars {
        /// The window.
        window: usize,
    },
    /// `every` is zero or there are no synthesisers.
    #[error("bad replay config: {0}")]
    Config(&'static str),
}

/// What a replay did.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayReport {
    /// Symbol.
    pub symbol: String,
    /// First and last decision bar (open time, ms).
    pub range_ms: (i64, i64),
    /// Bars walked in the range.
    pub bars: usize,
    /// `analyze` calls.
    pub analyses: usize,
    /// Signals stored.
    pub signals: usize,
    /// LONG/SHORT signals.
    pub actionable: usize,
    /// Rejected by the validator (stored, not tracked).
    pub rejected: usize,
    /// Actionable and valid but with inconsistent levels (stored, not tracked).
    pub untrackable: usize,
    /// Filled.
    pub filled: usize,
    /// Closed.
    pub closed: usize,
    /// Expired unfilled.
    pub expired: usize,
    /// Still open or pending when the data ended.
    pub unresolved_at_end: usize,
    /// Win rates per variant and symbol, per-theory accuracy.
    pub scoreboard: Scoreboard,
    /// Per-variant A/B statistics of this replay's closed results.
    pub ab: AbReport,
}

/// Replays `candles` through `synths` into `store`; see the module docs.
///
/// # Errors
/// [`ReplayError`]: store writes, bad candles, an empty range, a bad config.
pub fn replay(
    candles: &[Candle],
    synths: &mut [&mut dyn Synthesizer],
    store: &mut SignalStore,
    cfg: &ReplayConfig,
    hooks: &mut ReplayHooks<'_>,
) -> Result<ReplayReport, ReplayError> {
    if cfg.every == 0 {
        return Err(ReplayError::Config("every must be at least 1"));
    }
    if synths.is_empty() {
        return Err(ReplayError::Config("no synthesiser"));
    }
    let window = cfg.window;
    let in_range = |c: &Candle| {
        cfg.from_ms.is_none_or(|t| c.open_time_ms >= t)
            && cfg.to_ms.is_none_or(|t| c.open_time_ms <= t)
    };
    let first = candles
        .iter()
        .enumerate()
        .position(|(i, c)| i + 1 >= window && in_range(c))
        .ok_or(ReplayError::NoBars { window })?;
    let last = candles
        .iter()
        .rposition(in_range)
        .filter(|&l| l >= first)
        .ok_or(ReplayError::NoBars { window })?;
    let tail_end_ms =
        candles[last].open_time_ms.saturating_add(cfg.tracker.timeout_ms + cfg.tracker.bar_ms);

    let mut tracker = OutcomeTracker::new(cfg.tracker);
    let mut recent: VecDeque<OutcomeSummary> = VecDeque::new();
    let mut rep = ReplayReport {
        symbol: cfg.symbol.clone(),
        range_ms: (candles[first].open_time_ms, candles[last].open_time_ms),
        bars: last - first + 1,
        analyses: 0,
        signals: 0,
        actionable: 0,
        rejected: 0,
        untrackable: 0,
        filled: 0,
        closed: 0,
        expired: 0,
        unresolved_at_end: 0,
        scoreboard: Scoreboard::default(),
        ab: ab_report(&Default::default(), cfg.ab),
    };
    let mut closed_all: std::collections::BTreeMap<String, Vec<_>> = Default::default();
    for (i, c) in candles.iter().enumerate().skip(first) {
        if i > last
            && (c.open_time_ms > tail_end_ms || tracker.pending() + tracker.open_positions() == 0)
        {
            break;
        }
        let events = tracker.on_candle(&cfg.symbol, c);
        store.apply_events(&events)?;
        for e in &events {
            match e {
                TrackerEvent::Filled { .. } => rep.filled += 1,
                TrackerEvent::Expired { .. } => rep.expired += 1,
                TrackerEvent::Closed(r) => {
                    rep.closed += 1;
                    recent.push_back(r.summary());
                    while recent.len() > cfg.recent_outcomes {
                        recent.pop_front();
                    }
                    closed_all.entry(r.variant.clone()).or_default().push((r.outcome, r.pnl_pct));
                    if let Some(cb) = hooks.on_closed.as_mut() {
                        cb(r);
                    }
                }
            }
        }
        if i > last || (i - first) % cfg.every != 0 {
            continue;
        }
        let analysis = analyze_with(&candles[..=i], window, None, &cfg.analyze)?;
        rep.analyses += 1;
        let now_ms = c.open_time_ms.saturating_add(cfg.tracker.bar_ms);
        let recent_slice: Vec<OutcomeSummary> = recent.iter().cloned().collect();
        let input =
            SynthInput { symbol: &cfg.symbol, analysis: &analysis, recent_outcomes: &recent_slice };
        for synth in synths.iter_mut() {
            let signal = synth.synthesize(&input, now_ms);
            let verdict = hooks.validate.map(|v| v(&signal));
            let validation = verdict.as_ref().map(|v| match v {
                Ok(()) => "ok".to_string(),
                Err(why) => format!("rejected: {why}"),
            });
            let id = store.insert_signal(&signal, validation.as_deref())?;
            rep.signals += 1;
            if !signal.is_actionable() {
                continue;
            }
            rep.actionable += 1;
            if matches!(verdict, Some(Err(_))) {
                rep.rejected += 1;
                continue;
            }
            if let Some(w) = hooks.weights.and_then(|f| f(&signal.variant)) {
                tracker.set_weights(&signal.variant, w);
            }
            if tracker.track(id, &signal).is_err() {
                rep.untrackable += 1;
            }
        }
    }
    rep.unresolved_at_end = tracker.pending() + tracker.open_positions();
    rep.scoreboard = tracker.scoreboard().clone();
    rep.ab = ab_report(&closed_all, cfg.ab);
    Ok(rep)
}

fn ms_to_day(ms: i64) -> String {
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = ms.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

impl fmt::Display for ReplayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "replay {} {} .. {}: {} bars, {} analyses, {} signals ({} actionable, {} rejected, \
             {} untrackable), {} filled, {} closed, {} expired unfilled, {} unresolved at end",
            self.symbol,
            ms_to_day(self.range_ms.0),
            ms_to_day(self.range_ms.1),
            self.bars,
            self.analyses,
            self.signals,
            self.actionable,
            self.rejected,
            self.untrackable,
            self.filled,
            self.closed,
            self.expired,
            self.unresolved_at_end
        )?;
        writeln!(
            f,
            "\nper variant (Beta(1,1) posterior of the win rate, 95 % credible interval):"
        )?;
        write!(f, "{}", self.ab)?;
        writeln!(
            f,
            "\nper theory (correct = sign of the theory = sign of the realised move; a zero \
             signal, e.g. an offline market context, counts as not correct):"
        )?;
        writeln!(
            f,
            "{:<18} {:>6} {:>8} {:>22} {:>12}",
            "theory", "n", "correct", "accuracy_95", "mean_contrib"
        )?;
        for (name, t) in &self.scoreboard.by_theory {
            let p = t.posterior();
            writeln!(
                f,
                "{:<18} {:>6} {:>8} {:>22} {:>12.4}",
                name,
                t.n,
                t.correct,
                format!("{:.3} [{:.3},{:.3}]", p.mean, p.lower_95, p.upper_95),
                if t.n == 0 { 0.0 } else { t.sum_contribution / t.n as f64 }
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::ms_to_day;

    #[test]
    fn civil_dates() {
        assert_eq!(ms_to_day(0), "1970-01-01");
        assert_eq!(ms_to_day(1_714_521_600_000), "2024-05-01");
        assert_eq!(ms_to_day(951_782_400_000), "2000-02-29");
        assert_eq!(ms_to_day(-86_400_000), "1969-12-31");
    }
}
