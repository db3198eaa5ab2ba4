//! From an [`Analysis`] to what the synthesisers see: the eleven theory signals
//! ([`theory_values`]) and the regime ([`regime`]).

use crate::swing::Analysis;

use super::{Direction, Regime, SwingSignal, SynthInput, THEORY_NAMES, TheoryValues};

/// The eleven theory signals of `a`, keyed by [`THEORY_NAMES`], each clamped to [−1, 1].
///
/// * `entropy`, `hurst`, `markov`, `kalman`, `bayes`, `monte_carlo`: their `signal`.
/// * `random_forest`, `adf`: their `signal`, absent when the analysis could not compute them.
/// * `autocorrelation`: mean of the `acf`, `pacf` and `ljung_box` signals that were computed
///   (absent when none was).
/// * `variance`: mean of the variance-ratio signal (only when VR(4) was computed — otherwise
///   the analysis reports a placeholder 0) and the `levene` signal (when computed); absent
///   when neither was.
/// * `market_context`: the context signal, absent when the context is the neutral offline
///   placeholder (no data was fetched).
///
/// A non-finite signal is treated as not computed (absent), never as 0.
///
/// # Examples
/// ```
/// use crpbot_strategies::swing::{analyze, Candle};
/// use crpbot_strategies::swing::signal::{theory_values, THEORY_NAMES};
/// let c: Vec<Candle> = (0..300)
///     .map(|i| {
///         let p = 100.0 + (i as f64 * 0.37).sin() * 3.0 + i as f64 * 0.05;
///         Candle::new(i * 3_600_000, p, p + 1.0, p - 1.0, p + 0.2, 10.0 + (i % 7) as f64)
///     })
///     .collect();
/// let a = analyze(&c, 200, None).unwrap();
/// let t = theory_values(&a);
/// assert!(t.keys().all(|k| THEORY_NAMES.contains(&k.as_str())));
/// assert!(t.values().all(|v| (-1.0..=1.0).contains(v)));
/// assert!(!t.contains_key("market_context")); // offline: no context fetched
/// ```
#[must_use]
pub fn theory_values(a: &Analysis) -> TheoryValues {
    let mut out = TheoryValues::new();
    let mut put = |name: &str, v: Option<f64>| {
        if let Some(v) = v.filter(|v| v.is_finite()) {
            out.insert(name.to_string(), v.clamp(-1.0, 1.0));
        }
    };
    put(THEORY_NAMES[0], Some(a.entropy.signal));
    put(THEORY_NAMES[1], Some(a.hurst.signal));
    put(THEORY_NAMES[2], Some(a.markov.signal));
    put(THEORY_NAMES[3], Some(a.kalman.signal));
    put(THEORY_NAMES[4], Some(a.bayes.signal));
    put(THEORY_NAMES[5], Some(a.monte_carlo.signal));
    put(THEORY_NAMES[6], a.random_forest.as_ref().map(|f| f.signal));
    let auto = [
        a.acf.as_ref().map(|x| x.signal),
        a.pacf.as_ref().map(|x| x.signal),
        a.ljung_box.as_ref().map(|x| x.signal),
    ];
    put(THEORY_NAMES[7], mean_present(&auto));
    put(THEORY_NAMES[8], a.adf.as_ref().map(|x| x.signal));
    let vr4_computed = a.variance.variance_ratios.iter().any(|v| v.q == 4);
    let var = [vr4_computed.then_some(a.variance.signal), a.levene.as_ref().map(|l| l.signal)];
    put(THEORY_NAMES[9], mean_present(&var));
    let ctx = (a.context.source != "neutral_offline").then_some(a.context.signal);
    put(THEORY_NAMES[10], ctx);
    out
}

/// Mean of the finite values present, `None` when there are none.
fn mean_present(v: &[Option<f64>]) -> Option<f64> {
    let xs: Vec<f64> = v.iter().flatten().copied().filter(|x| x.is_finite()).collect();
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// The regime of `a`'s Markov state: `bull_trend`, `bear_trend` and `breakout` are
/// [`Regime::Trending`], `consolidation` [`Regime::Consolidation`], `low_vol_range`
/// [`Regime::Sideways`], `high_vol_range` [`Regime::HighVolatility`]. An unknown state (too
/// few bars to classify) maps to [`Regime::HighVolatility`], the regime with the strictest
/// confidence threshold.
#[must_use]
pub fn regime(a: &Analysis) -> Regime {
    regime_of_state(&a.markov.state)
}

/// [`regime`] for a Markov state name.
///
/// # Examples
/// ```
/// use crpbot_strategies::swing::signal::{regime_of_state, Regime};
/// assert_eq!(regime_of_state("breakout"), Regime::Trending);
/// assert_eq!(regime_of_state("low_vol_range"), Regime::Sideways);
/// assert_eq!(regime_of_state("unknown"), Regime::HighVolatility);
/// ```
#[must_use]
pub fn regime_of_state(state: &str) -> Regime {
    match state {
        "bull_trend" | "bear_trend" | "breakout" => Regime::Trending,
        "consolidation" => Regime::Consolidation,
        "low_vol_range" => Regime::Sideways,
        _ => Regime::HighVolatility,
    }
}

/// The ATR(14) at the analysed bar, when finite and positive.
#[must_use]
pub fn atr_14(a: &Analysis) -> Option<f64> {
    indicator(a, "atr_14").filter(|v| *v > 0.0)
}

/// A finite indicator value at the analysed bar.
#[must_use]
pub fn indicator(a: &Analysis, name: &str) -> Option<f64> {
    a.indicators.get(name).and_then(serde_json::Value::as_f64).filter(|v| v.is_finite())
}

/// A [`Direction::Hold`] signal for `input` at `now_ms`: entry, stop and target all at the
/// close, the theories and regime of the analysis, and `reason` as the hold reason and the
/// reasoning.
///
/// [`Direction::Hold`]: super::Direction::Hold
#[must_use]
pub fn hold_signal(
    input: &SynthInput<'_>,
    now_ms: i64,
    variant: &str,
    reason: &str,
) -> SwingSignal {
    let a = input.analysis;
    SwingSignal {
        symbol: input.symbol.to_string(),
        bar_open_time_ms: a.open_time_ms,
        created_ms: now_ms,
        direction: Direction::Hold,
        confidence: 0.0,
        entry: a.close,
        stop_loss: a.close,
        take_profit: a.close,
        reasoning: reason.to_string(),
        key_factors: Vec::new(),
        variant: variant.to_string(),
        regime: regime(a),
        theories: theory_values(a),
        raw_response: None,
        hold_reason: Some(reason.to_string()),
    }
}
