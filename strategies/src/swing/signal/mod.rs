//! Swing signals: the eleven theories synthesised into a trading signal (direction,
//! confidence, entry, stop, target, reasoning), by an LLM or by the deterministic math
//! synthesiser, validated before anything downstream sees them.
//!
//! This module holds the types every part of the swing-signal path shares (synthesisers,
//! validation, the store, outcome tracking). A signal is *data*: it never reaches an order
//! without passing validation and, in the binary, the same risk engine as the fast lane.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::swing::Analysis;

/// The eleven theories, in a fixed order: the keys of [`TheoryValues`] and of the learned
/// weights, and the `theory` column of the store.
pub const THEORY_NAMES: [&str; 11] = [
    "entropy",
    "hurst",
    "markov",
    "kalman",
    "bayes",
    "monte_carlo",
    "random_forest",
    "autocorrelation",
    "adf",
    "variance",
    "market_context",
];

/// Direction of a swing signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Direction {
    /// Buy.
    Long,
    /// Sell short.
    Short,
    /// Do nothing.
    Hold,
}

impl Direction {
    /// `"LONG"`, `"SHORT"` or `"HOLD"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Direction::Long => "LONG",
            Direction::Short => "SHORT",
            Direction::Hold => "HOLD",
        }
    }

    /// Parses the exact upper-case names of [`Direction::as_str`].
    #[must_use]
    pub fn parse(s: &str) -> Option<Direction> {
        match s {
            "LONG" => Some(Direction::Long),
            "SHORT" => Some(Direction::Short),
            "HOLD" => Some(Direction::Hold),
            _ => None,
        }
    }
}

/// Market regime used by validation's confidence thresholds (0.60 trends, 0.70
/// consolidation, 0.75 sideways, 0.80 high volatility).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    /// Bull or bear trend (Markov `bull_trend`/`bear_trend`, or `breakout`).
    Trending,
    /// Consolidation (Markov `consolidation`).
    Consolidation,
    /// Low-volatility range (Markov `low_vol_range`).
    Sideways,
    /// High-volatility range (Markov `high_vol_range`).
    HighVolatility,
}

/// Each theory's normalized signal in [−1, 1] (absent when the theory could not be computed),
/// keyed by [`THEORY_NAMES`].
pub type TheoryValues = BTreeMap<String, f64>;

/// What a synthesiser is given: one symbol's analysis at one bar, plus recent outcomes.
#[derive(Debug, Clone)]
pub struct SynthInput<'a> {
    /// Venue symbol, e.g. `BTCUSDT`.
    pub symbol: &'a str,
    /// The analysis at the bar (theories, indicators, close).
    pub analysis: &'a Analysis,
    /// Recent closed results of this symbol, newest last (for the prompt / weight context).
    pub recent_outcomes: &'a [OutcomeSummary],
}

/// A closed signal result, as fed back to the synthesisers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeSummary {
    /// Direction of the signal.
    pub direction: Direction,
    /// Outcome.
    pub outcome: Outcome,
    /// Profit or loss in percent of entry.
    pub pnl_pct: f64,
}

/// The outcome of a tracked signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Closed with a profit above the breakeven band.
    Win,
    /// Closed with a loss below the breakeven band.
    Loss,
    /// Closed inside the breakeven band.
    Breakeven,
    /// Not closed yet.
    Open,
}

/// Why a tracked signal's paper position closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitReason {
    /// Target reached.
    TakeProfit,
    /// Stop reached.
    StopLoss,
    /// 24 h (configurable) passed.
    Timeout,
    /// Closed by the operator.
    Manual,
}

/// A synthesised swing signal, before and after validation. Prices are quote-currency
/// floats: the swing lane works on candles; an order derived from a signal is converted to
/// ticks and lots at the risk boundary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwingSignal {
    /// Venue symbol.
    pub symbol: String,
    /// Open time (ms) of the bar the signal was computed at.
    pub bar_open_time_ms: i64,
    /// Wall/replay time (ms) the signal was created.
    pub created_ms: i64,
    /// Direction.
    pub direction: Direction,
    /// Confidence in percent, 0–100.
    pub confidence: f64,
    /// Entry price.
    pub entry: f64,
    /// Stop-loss price.
    pub stop_loss: f64,
    /// Take-profit price.
    pub take_profit: f64,
    /// A reason a person can read.
    pub reasoning: String,
    /// Key factors named by the synthesiser.
    pub key_factors: Vec<String>,
    /// Variant name for A/B tests, e.g. `math-v1`, `llm-deepseek-chat`.
    pub variant: String,
    /// Regime at the bar.
    pub regime: Regime,
    /// The theory signals the synthesiser saw.
    pub theories: TheoryValues,
    /// The raw LLM response body (capped), if an LLM produced the signal.
    pub raw_response: Option<String>,
    /// Set when the signal was forced to HOLD (malformed response, schema violation,
    /// validation failure, budget exhausted, …): why.
    pub hold_reason: Option<String>,
}

impl SwingSignal {
    /// True for LONG and SHORT.
    #[must_use]
    pub fn is_actionable(&self) -> bool {
        self.direction != Direction::Hold
    }
}

/// A swing-signal synthesiser (LLM or math). Infallible by design: every failure — transport,
/// deadline, budget, malformed or out-of-schema output — yields a [`Direction::Hold`] signal
/// whose [`SwingSignal::hold_reason`] says why, so nothing downstream has an error path that
/// could skip validation. Blocking: the binary runs it off the hot lane (async lane,
/// `spawn_blocking`) under a hard deadline.
pub trait Synthesizer: Send {
    /// Variant name recorded on every signal (A/B tests), e.g. `math-v1`.
    fn variant(&self) -> &str;
    /// One signal for `input` at `now_ms` (wall or replay time).
    fn synthesize(&mut self, input: &SynthInput<'_>, now_ms: i64) -> SwingSignal;
}

pub mod budget;
pub mod llm;
pub mod llm_parse;
pub mod math;
pub mod prompt;
pub mod transport;
pub mod validate;
pub mod values;
pub mod weights;

pub use budget::{BudgetCaps, BudgetError, BudgetState, LlmPrices, LlmUsage};
pub use llm::{ApiKey, LlmConfig, LlmSynth};
pub use llm_parse::{LlmDecision, parse_decision, parse_decision_with, parse_envelope};
pub use math::{Composite, MATH_VARIANT, MathParams, MathSynth, TREND_THEORIES, composite};
pub use transport::{LlmTransport, PlainHttpTransport, TransportError};
pub use validate::{
    RateLimiter, Rejection, ValidationConfig, ValidationOutcome, validate, validate_signal,
};
pub use values::{atr_14, hold_signal, indicator, regime, regime_of_state, theory_values};
pub use weights::{MathWeights, WeightsError};
pub mod ab;
pub mod outcome;
pub mod store;

pub use outcome::{ClosedResult, OutcomeTracker, TrackerConfig, TrackerEvent};
pub use store::{LlmUsageRow, SignalStore, StoreError, StoredSignal};
