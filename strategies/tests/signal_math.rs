//! Theory extraction, regime, the math synthesiser (hand-checked composite, determinism,
//! ATR stops) and its weights, on pinned synthetic analyses and on real BTC 1h candles.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod signal_support;

use crpbot_strategies::swing::analyze;
use crpbot_strategies::swing::signal::{
    Direction, MathParams, MathSynth, MathWeights, RateLimiter, Regime, SynthInput, Synthesizer,
    THEORY_NAMES, ValidationConfig, composite, regime, theory_values, validate_signal,
};
use signal_support::{analysis, pin_signals};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn theory_values_combine_autocorrelation_and_variance() {
    let mut a = analysis();
    pin_signals(&mut a, 1.0);
    let t = theory_values(&a);
    // random_forest absent (None), market_context absent (neutral offline).
    assert_eq!(t.len(), 9, "{t:?}");
    assert!(!t.contains_key("random_forest") && !t.contains_key("market_context"));
    assert!(close(t["autocorrelation"], (0.3 + 0.1 + 0.2) / 3.0));
    assert!(close(t["variance"], (0.1 - 0.3) / 2.0));
    assert!(close(t["kalman"], 0.8) && close(t["adf"], -0.5));
    // Only PACF left: autocorrelation is its signal; no Levene: the variance ratio alone.
    a.acf = None;
    a.ljung_box = None;
    a.levene = None;
    a.kalman.signal = f64::NAN;
    a.markov.signal = 7.0;
    let t = theory_values(&a);
    assert!(close(t["autocorrelation"], 0.1) && close(t["variance"], 0.1));
    assert!(!t.contains_key("kalman"), "NaN is absent, not 0");
    assert!(close(t["markov"], 1.0), "clamped");
    a.pacf = None;
    a.variance.variance_ratios.clear();
    let t = theory_values(&a);
    assert!(!t.contains_key("autocorrelation") && !t.contains_key("variance"));
}

#[test]
fn regime_follows_the_markov_state() {
    let mut a = analysis();
    for (state, r) in [
        ("bull_trend", Regime::Trending),
        ("bear_trend", Regime::Trending),
        ("breakout", Regime::Trending),
        ("consolidation", Regime::Consolidation),
        ("low_vol_range", Regime::Sideways),
        ("high_vol_range", Regime::HighVolatility),
        ("unknown", Regime::HighVolatility),
    ] {
        a.markov.state = state.into();
        assert_eq!(regime(&a), r, "{state}");
    }
}

#[test]
fn composite_is_the_hand_computed_value() {
    let mut a = analysis();
    pin_signals(&mut a, 1.0);
    let t = theory_values(&a);
    let c = composite(&t, &MathWeights::default(), 0.5).unwrap();
    // Nine theories, equal weights: base = (0.1+0.4+0.6+0.8+0.2+0.4+0.2-0.5-0.1)/9 = 2.1/9.
    assert!(close(c.base, 2.1 / 9.0));
    // Trend theories kalman .8, markov .6, monte_carlo .4, bayes .2: mean .5, all agree;
    // persistence = hurst .4 in the trend's direction: interaction = 1 · 0.4 · 0.5 = 0.2.
    assert!(close(c.trend, 0.5) && close(c.agreement, 1.0) && close(c.persistence, 0.4));
    assert!(close(c.interaction, 0.2));
    assert!(close(c.score, 2.1 / 9.0 + 0.1));
    assert_eq!(c.contributions[0].0, "kalman");
    assert!(close(c.contributions[0].1, 0.8 / 9.0));
    assert_eq!(c.contributions[2].0, "adf");
    // Disagreeing trend theories and anti-persistent Hurst kill the interaction.
    let mut t2 = t.clone();
    t2.insert("bayes".into(), -0.2);
    let c2 = composite(&t2, &MathWeights::default(), 0.5).unwrap();
    assert!(close(c2.agreement, 0.5) && close(c2.interaction, 0.5 * 0.4 * 0.4));
    t2.insert("hurst".into(), -0.4);
    assert!(close(composite(&t2, &MathWeights::default(), 0.5).unwrap().interaction, 0.0));
    assert!(composite(&Default::default(), &MathWeights::default(), 0.5).is_none());
}

#[test]
fn math_signal_long_short_hold_and_determinism() {
    let mut a = analysis();
    pin_signals(&mut a, 1.0);
    let input = SynthInput { symbol: "BTCUSDT", analysis: &a, recent_outcomes: &[] };
    let mut synth = MathSynth::default();
    let s = synth.synthesize(&input, 42);
    assert_eq!(s.direction, Direction::Long);
    assert_eq!(s.variant, "math-v1");
    assert!(close(s.confidence, 50.0 + 50.0 * (2.1 / 9.0 + 0.1)));
    assert_eq!((s.entry, s.stop_loss, s.take_profit), (100.0, 97.0, 106.0));
    assert!((s.take_profit - s.entry) / (s.entry - s.stop_loss) >= 1.5);
    assert_eq!(s.key_factors, ["kalman +0.089", "markov +0.067", "adf -0.056"]);
    assert!(s.reasoning.contains("top contributors: kalman +0.089"), "{}", s.reasoning);
    assert_eq!(s.hold_reason, None);
    assert_eq!(
        (s.created_ms, s.bar_open_time_ms, s.regime),
        (42, a.open_time_ms, Regime::Trending)
    );
    assert_eq!(s, MathSynth::default().synthesize(&input, 42), "deterministic");

    let mut b = analysis();
    pin_signals(&mut b, -1.0);
    let s =
        synth.synthesize(&SynthInput { symbol: "BTCUSDT", analysis: &b, recent_outcomes: &[] }, 0);
    assert_eq!(s.direction, Direction::Short);
    assert_eq!((s.stop_loss, s.take_profit), (103.0, 94.0));

    pin_signals(&mut b, 0.3);
    let s =
        synth.synthesize(&SynthInput { symbol: "BTCUSDT", analysis: &b, recent_outcomes: &[] }, 0);
    assert_eq!(s.direction, Direction::Hold);
    assert!(s.hold_reason.unwrap().contains("below 0.200"));

    a.indicators["atr_14"] = serde_json::Value::Null;
    let s = synth.synthesize(&input_of(&a), 0);
    assert_eq!(s.direction, Direction::Hold);
    assert_eq!(s.hold_reason.as_deref(), Some("no ATR(14) at the bar"));
    a.indicators["atr_14"] = serde_json::json!(80.0); // stop would be below 0
    assert_eq!(synth.synthesize(&input_of(&a), 0).direction, Direction::Hold);
}

fn input_of(a: &crpbot_strategies::swing::Analysis) -> SynthInput<'_> {
    SynthInput { symbol: "BTCUSDT", analysis: a, recent_outcomes: &[] }
}

#[test]
fn params_keep_reward_risk_at_least_one_and_a_half() {
    let mut a = analysis();
    pin_signals(&mut a, 1.0);
    let p = MathParams { stop_atr: 2.0, target_atr: 1.0, ..MathParams::default() };
    let s = MathSynth::new(MathWeights::default(), p).synthesize(&input_of(&a), 0);
    assert_eq!((s.stop_loss, s.take_profit), (96.0, 106.0));
}

#[test]
fn learned_weights_change_the_composite() {
    let mut a = analysis();
    pin_signals(&mut a, 1.0);
    let t = theory_values(&a);
    let mut w = MathWeights::default();
    let before = composite(&t, &w, 0.5).unwrap().base;
    // LONG losses: the price fell, every bullish theory was wrong, adf/variance right.
    for _ in 0..20 {
        w.update(&t, Direction::Long, -1.5);
    }
    assert!(w.get("kalman") < w.get("random_forest") && w.get("adf") > w.get("random_forest"));
    let after = composite(&t, &w, 0.5).unwrap().base;
    assert!(after < before, "{after} < {before}");
    let mut synth = MathSynth::new(w.clone(), MathParams::default());
    assert_eq!(synth.weights, w);
    let _ = synth.synthesize(&input_of(&a), 0);
}

#[test]
fn real_btc_bars_give_complete_validated_math_signals() {
    let Some(candles) = common::btc_1h() else { return };
    let cfg = ValidationConfig::default();
    let mut limiter = RateLimiter::from_config(&cfg);
    let mut synth = MathSynth::default();
    let mut directions = [0usize; 3];
    let n = candles.len();
    for (k, end) in (0..24).map(|k| (k, n - 1 - k * 500)) {
        let a = analyze(&candles[..=end], 200, None).unwrap();
        let t = theory_values(&a);
        assert!(t.len() >= 9, "{t:?}");
        assert!(t.keys().all(|k| THEORY_NAMES.contains(&k.as_str())));
        assert!(t.values().all(|v| (-1.0..=1.0).contains(v)));
        let s = synth.synthesize(&input_of(&a), k as i64);
        assert_eq!(s.theories, t);
        assert!(s.confidence.is_finite() && (50.0..=100.0).contains(&s.confidence));
        assert!(!s.reasoning.is_empty() && s.key_factors.len() == 3);
        if s.is_actionable() {
            let side = if s.direction == Direction::Long { 1.0 } else { -1.0 };
            assert!(side * (s.entry - s.stop_loss) > 0.0 && side * (s.take_profit - s.entry) > 0.0);
            assert!((s.take_profit - s.entry).abs() / (s.entry - s.stop_loss).abs() >= 1.5 - 1e-12);
        }
        let (v, outcome) = validate_signal(s, &cfg, &mut limiter, k as i64 * 3_600_000);
        if outcome.status == "accepted" {
            assert!(v.confidence >= cfg.min_confidence(v.regime));
        } else {
            assert_eq!(v.direction, Direction::Hold);
        }
        directions[match v.direction {
            Direction::Long => 0,
            Direction::Short => 1,
            Direction::Hold => 2,
        }] += 1;
    }
    eprintln!("24 real bars after validation: long/short/hold = {directions:?}");
}
