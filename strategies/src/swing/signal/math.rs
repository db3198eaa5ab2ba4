//! The deterministic math synthesiser ([`MathSynth`], variant `math-v1`).
//!
//! # The composite
//!
//! With `sᵢ` the theory signals present ([`theory_values`]) and `wᵢ` their [`MathWeights`]:
//!
//! * `base = Σ wᵢ sᵢ / Σ wᵢ` over the present theories (absent theories drop out and the
//!   others are re-weighted); `contributionᵢ = wᵢ sᵢ / Σ wᵢ`.
//! * Interaction — *trend agreement × Hurst persistence*: over the trend theories present
//!   ([`TREND_THEORIES`]) `m` = their mean signal and `agreement = |Σ sign(sᵢ)| / n` (1 when
//!   they all point the same way); `persistence = max(0, hurst · sign(m))` (the Hurst signal
//!   is `2(H − ½)·sign(drift)`, so this is positive only when the series is persistent, H > ½,
//!   in the trend's direction). `interaction = agreement · persistence · m`; 0 when Hurst or
//!   every trend theory is absent.
//! * `score = clamp(base + λ · interaction, −1, 1)` with λ = [`MathParams::interaction_weight`].
//!
//! Direction: LONG when `score ≥ θ`, SHORT when `score ≤ −θ`, else HOLD (θ =
//! [`MathParams::entry_threshold`]). Confidence `= 50 + 50·|score|` (so 60, 70, 75 and 80 —
//! the validation thresholds by regime — need |score| ≥ 0.2, 0.4, 0.5 and 0.6). Entry = the
//! close; stop `= entry ∓ k_s·ATR(14)`, target `= entry ± k_t·ATR(14)` with `k_t ≥ 1.5·k_s`,
//! so reward/risk ≥ 1.5.

use std::cmp::Ordering;

use super::values::{atr_14, hold_signal, regime, theory_values};
use super::{Direction, MathWeights, SwingSignal, SynthInput, Synthesizer, TheoryValues};

/// Variant name of [`MathSynth`].
pub const MATH_VARIANT: &str = "math-v1";

/// Trend theories whose agreement drives the interaction term.
pub const TREND_THEORIES: [&str; 4] = ["kalman", "markov", "monte_carlo", "bayes"];

/// Smallest reward/risk the math synthesiser emits.
pub const MIN_MATH_REWARD_RISK: f64 = 1.5;

/// Parameters of [`MathSynth`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MathParams {
    /// |score| needed for LONG/SHORT (default 0.2, i.e. confidence 60).
    pub entry_threshold: f64,
    /// λ, the weight of the interaction term (default 0.5).
    pub interaction_weight: f64,
    /// Stop distance in ATRs (default 1.5).
    pub stop_atr: f64,
    /// Target distance in ATRs (default 3.0; raised to 1.5 × `stop_atr` if below).
    pub target_atr: f64,
}

impl Default for MathParams {
    fn default() -> Self {
        Self { entry_threshold: 0.2, interaction_weight: 0.5, stop_atr: 1.5, target_atr: 3.0 }
    }
}

/// The composite score and its parts (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Composite {
    /// `clamp(base + λ·interaction)`, in [−1, 1].
    pub score: f64,
    /// Weighted mean of the present theory signals.
    pub base: f64,
    /// `agreement · persistence · trend`.
    pub interaction: f64,
    /// Mean signal of the trend theories present.
    pub trend: f64,
    /// `|Σ sign| / n` over the trend theories present.
    pub agreement: f64,
    /// `max(0, hurst · sign(trend))`.
    pub persistence: f64,
    /// `wᵢ sᵢ / Σ wᵢ` per present theory, sorted by |contribution| descending (ties by name).
    pub contributions: Vec<(String, f64)>,
}

fn sign(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// The composite of `theories` under `weights` with interaction weight `lambda`; `None` when
/// no theory has a finite signal with a weight.
///
/// # Examples
/// ```
/// use crpbot_strategies::swing::signal::{composite, MathWeights, TheoryValues};
/// let t: TheoryValues = [("kalman".to_string(), 0.6), ("hurst".to_string(), 0.2)].into();
/// let c = composite(&t, &MathWeights::default(), 0.5).unwrap();
/// // base = (0.6 + 0.2) / 2; one trend theory: agreement 1, persistence 0.2, trend 0.6
/// assert!((c.base - 0.4).abs() < 1e-12);
/// assert!((c.interaction - 0.12).abs() < 1e-12);
/// assert!((c.score - 0.46).abs() < 1e-12);
/// ```
#[must_use]
pub fn composite(theories: &TheoryValues, weights: &MathWeights, lambda: f64) -> Option<Composite> {
    let present: Vec<(&str, f64, f64)> = theories
        .iter()
        .filter(|(_, s)| s.is_finite())
        .map(|(k, s)| (k.as_str(), s.clamp(-1.0, 1.0), weights.get(k)))
        .filter(|(_, _, w)| *w > 0.0)
        .collect();
    let wsum: f64 = present.iter().map(|(_, _, w)| w).sum();
    if present.is_empty() || wsum <= 0.0 {
        return None;
    }
    let mut contributions: Vec<(String, f64)> =
        present.iter().map(|(k, s, w)| ((*k).to_string(), w * s / wsum)).collect();
    let base: f64 = contributions.iter().map(|(_, c)| c).sum();
    contributions.sort_by(|a, b| {
        b.1.abs().partial_cmp(&a.1.abs()).unwrap_or(Ordering::Equal).then_with(|| a.0.cmp(&b.0))
    });
    let trend_sigs: Vec<f64> =
        present.iter().filter(|(k, _, _)| TREND_THEORIES.contains(k)).map(|(_, s, _)| *s).collect();
    let hurst = present.iter().find(|(k, _, _)| *k == "hurst").map(|(_, s, _)| *s);
    let (trend, agreement, persistence) = match hurst {
        Some(h) if !trend_sigs.is_empty() => {
            let n = trend_sigs.len() as f64;
            let m = trend_sigs.iter().sum::<f64>() / n;
            let agree = trend_sigs.iter().map(|s| sign(*s)).sum::<f64>().abs() / n;
            (m, agree, (h * sign(m)).max(0.0))
        }
        _ => (0.0, 0.0, 0.0),
    };
    let interaction = agreement * persistence * trend;
    let lambda = if lambda.is_finite() { lambda } else { 0.0 };
    let score = (base + lambda * interaction).clamp(-1.0, 1.0);
    Some(Composite { score, base, interaction, trend, agreement, persistence, contributions })
}

/// The deterministic math synthesiser: a weighted composite of the theory signals plus the
/// trend-agreement × Hurst-persistence interaction (module docs), ATR stops and targets.
/// Same input, same weights → the same signal.
#[derive(Debug, Clone, Default)]
pub struct MathSynth {
    /// Per-theory weights (learned by the outcome tracker through [`MathWeights::update`]).
    pub weights: MathWeights,
    /// Thresholds and ATR multiples.
    pub params: MathParams,
}

impl MathSynth {
    /// A synthesiser with these weights and parameters.
    #[must_use]
    pub fn new(weights: MathWeights, params: MathParams) -> Self {
        Self { weights, params }
    }
}

impl Synthesizer for MathSynth {
    fn variant(&self) -> &str {
        MATH_VARIANT
    }

    fn synthesize(&mut self, input: &SynthInput<'_>, now_ms: i64) -> SwingSignal {
        let a = input.analysis;
        let theories = theory_values(a);
        let p = self.params;
        let Some(c) = composite(&theories, &self.weights, p.interaction_weight) else {
            return hold_signal(input, now_ms, MATH_VARIANT, "no theory signal was computed");
        };
        let top: Vec<String> =
            c.contributions.iter().take(3).map(|(k, v)| format!("{k} {v:+.3}")).collect();
        let threshold = if p.entry_threshold.is_finite() { p.entry_threshold.abs() } else { 1.0 };
        let direction = if c.score >= threshold && threshold > 0.0 {
            Direction::Long
        } else if c.score <= -threshold && threshold > 0.0 {
            Direction::Short
        } else {
            Direction::Hold
        };
        let confidence = 50.0 + 50.0 * c.score.abs();
        let explain = format!(
            "{MATH_VARIANT}: composite {:+.3} = base {:+.3} + {:.2} x interaction {:+.3} \
             (trend agreement {:.2} x Hurst persistence {:.2} x trend {:+.3}); regime {:?}; \
             top contributors: {}",
            c.score,
            c.base,
            p.interaction_weight,
            c.interaction,
            c.agreement,
            c.persistence,
            c.trend,
            regime(a),
            top.join(", ")
        );
        let mut sig = hold_signal(input, now_ms, MATH_VARIANT, "");
        sig.theories = theories;
        sig.confidence = confidence;
        sig.key_factors = top;
        if direction == Direction::Hold {
            sig.hold_reason =
                Some(format!("|composite| {:.3} below {threshold:.3}", c.score.abs()));
            sig.reasoning = format!("{explain} -> HOLD");
            return sig;
        }
        let entry = a.close;
        let Some(atr) = atr_14(a) else {
            sig.hold_reason = Some("no ATR(14) at the bar".into());
            sig.reasoning = format!("{explain} -> HOLD (no ATR)");
            return sig;
        };
        let ks = if p.stop_atr.is_finite() && p.stop_atr > 0.0 { p.stop_atr } else { 1.5 };
        let kt_asked = if p.target_atr.is_finite() { p.target_atr } else { 0.0 };
        let kt = kt_asked.max(MIN_MATH_REWARD_RISK * ks);
        let d = sign(c.score);
        let (stop, target) = (entry - d * ks * atr, entry + d * kt * atr);
        if !(stop > 0.0 && target > 0.0) {
            sig.hold_reason = Some(format!("ATR {atr} puts the stop or target at or below 0"));
            sig.reasoning = format!("{explain} -> HOLD");
            return sig;
        }
        sig.direction = direction;
        sig.stop_loss = stop;
        sig.take_profit = target;
        sig.hold_reason = None;
        sig.reasoning = format!(
            "{explain} -> {}; entry {entry} (close), stop {ks} ATR, target {kt} ATR (ATR {atr:.6})",
            direction.as_str()
        );
        sig
    }
}
