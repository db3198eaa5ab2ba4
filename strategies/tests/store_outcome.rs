//! Outcome tracker on hand-computed candle sequences; Bayesian posteriors, Welch's t-test and
//! the A/B sample size against hand-computed values.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)]

use std::collections::BTreeMap;

use crpbot_strategies::swing::Candle;
use crpbot_strategies::swing::signal::ab::{
    AbConfig, ArmStats, BetaPosterior, ab_report, min_sample_size_per_arm, welch_t_test,
};
use crpbot_strategies::swing::signal::outcome::{
    ClosedResult, OutcomeTracker, TrackError, TrackerConfig, TrackerEvent,
};
use crpbot_strategies::swing::signal::{
    Direction, ExitReason, Outcome, Regime, SwingSignal, TheoryValues,
};

const H: i64 = 3_600_000;
const T0: i64 = 1_000 * H;

fn signal(dir: Direction, entry: f64, stop: f64, target: f64) -> SwingSignal {
    let mut theories = TheoryValues::new();
    theories.insert("a".into(), 0.5);
    theories.insert("b".into(), -0.3);
    theories.insert("c".into(), 0.0);
    SwingSignal {
        symbol: "BTCUSDT".into(),
        bar_open_time_ms: T0 - H,
        created_ms: T0,
        direction: dir,
        confidence: 70.0,
        entry,
        stop_loss: stop,
        take_profit: target,
        reasoning: "test".into(),
        key_factors: vec![],
        variant: "v1".into(),
        regime: Regime::Trending,
        theories,
        raw_response: None,
        hold_reason: None,
    }
}

fn long() -> SwingSignal {
    signal(Direction::Long, 100.0, 98.0, 104.0)
}

/// Candle `k` hours after T0.
fn bar(k: i64, o: f64, h: f64, l: f64, c: f64) -> Candle {
    Candle::new(T0 + k * H, o, h, l, c, 1.0)
}

/// Feeds the bars in order; returns every event.
fn run(t: &mut OutcomeTracker, bars: &[Candle]) -> Vec<TrackerEvent> {
    bars.iter().flat_map(|b| t.on_candle("BTCUSDT", b)).collect()
}

fn closed(ev: &[TrackerEvent]) -> ClosedResult {
    let c: Vec<&ClosedResult> = ev.iter().filter_map(TrackerEvent::closed_result).collect();
    assert_eq!(c.len(), 1, "{ev:?}");
    c[0].clone()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn target_hit() {
    let mut t = OutcomeTracker::new(TrackerConfig::default());
    t.track(1, &long()).unwrap();
    // Fill at the open (100, inside the ±0.5 % band); next bar's high 104.5 reaches 104.
    let ev = run(&mut t, &[bar(0, 100.0, 101.0, 99.5, 100.5), bar(1, 100.5, 104.5, 100.2, 104.0)]);
    assert_eq!(ev[0], TrackerEvent::Filled { signal_id: 1, entry: 100.0, opened_ms: T0 });
    let r = closed(&ev);
    assert_eq!((r.entry, r.exit), (100.0, 104.0));
    assert!(close(r.pnl_pct, 4.0));
    assert_eq!((r.outcome, r.exit_reason), (Outcome::Win, ExitReason::TakeProfit));
    assert_eq!((r.opened_ms, r.closed_ms), (T0, T0 + 2 * H));
    assert_eq!(r.hold_minutes, 120.0);
    // Excursions: low 99.5 → −0.5 %; high 104.5 clamped to the target → +4 %.
    assert!(close(r.max_adverse_pct, -0.5) && close(r.max_favorable_pct, 4.0));
    assert_eq!((t.pending(), t.open_positions()), (0, 0));
    // Theory scores: the move was up; a (+0.5) right, b (−0.3) wrong, c (0) abstains = wrong.
    let s: BTreeMap<&str, (f64, bool)> =
        r.theory_scores.iter().map(|s| (s.theory.as_str(), (s.contribution, s.correct))).collect();
    assert_eq!(s["a"], (0.5, true));
    assert_eq!(s["b"], (-0.3, false));
    assert_eq!(s["c"], (0.0, false));
    let sb = t.scoreboard();
    assert_eq!((sb.by_variant["v1"].wins, sb.by_symbol["BTCUSDT"].wins), (1, 1));
    assert_eq!(
        (sb.by_theory["a"].correct, sb.by_theory["b"].correct, sb.by_theory["b"].n),
        (1, 0, 1)
    );
    assert_eq!(r.summary().outcome, Outcome::Win);
}

#[test]
fn stop_hit_and_gap_through_stop() {
    let mut t = OutcomeTracker::new(TrackerConfig::default());
    t.track(1, &long()).unwrap();
    let r =
        closed(&run(&mut t, &[bar(0, 100.0, 101.0, 99.5, 100.5), bar(1, 99.8, 100.0, 97.5, 97.9)]));
    assert_eq!((r.exit, r.outcome, r.exit_reason), (98.0, Outcome::Loss, ExitReason::StopLoss));
    assert!(
        close(r.pnl_pct, -2.0) && close(r.max_adverse_pct, -2.0) && close(r.max_favorable_pct, 1.0)
    );
    // The move was down: b (−0.3) was right.
    assert!(r.theory_scores.iter().any(|s| s.theory == "b" && s.correct));

    // Gap: the bar opens at 97, below the stop: exit at the open, −3 %.
    let mut t = OutcomeTracker::new(TrackerConfig::default());
    t.track(2, &long()).unwrap();
    let r =
        closed(&run(&mut t, &[bar(0, 100.0, 101.0, 99.5, 100.5), bar(1, 97.0, 97.5, 96.0, 97.2)]));
    assert_eq!((r.exit, r.exit_reason), (97.0, ExitReason::StopLoss));
    assert!(close(r.pnl_pct, -3.0) && close(r.max_adverse_pct, -3.0));
}

#[test]
fn stop_and_target_in_one_candle_assumes_stop_first() {
    let mut t = OutcomeTracker::new(TrackerConfig::default());
    t.track(1, &long()).unwrap();
    let r = closed(&run(
        &mut t,
        &[bar(0, 100.0, 101.0, 99.5, 100.5), bar(1, 100.0, 105.0, 97.0, 104.0)],
    ));
    assert_eq!((r.exit, r.exit_reason, r.outcome), (98.0, ExitReason::StopLoss, Outcome::Loss));
    // Same in the fill candle itself (filled at its open).
    let mut t = OutcomeTracker::new(TrackerConfig::default());
    t.track(1, &long()).unwrap();
    let ev = run(&mut t, &[bar(0, 100.0, 105.0, 97.0, 100.0)]);
    assert_eq!(closed(&ev).exit_reason, ExitReason::StopLoss);
    assert_eq!(closed(&ev).hold_minutes, 60.0);
}

#[test]
fn fill_inside_a_candle_does_not_count_that_candles_target() {
    let mut t = OutcomeTracker::new(TrackerConfig::default());
    t.track(1, &long()).unwrap();
    // Opens at 101 (outside the band 99.5–100.5), trades down to 99.9: filled at 100, but the
    // 104.5 high may have come before the fill, so the target does not count in this candle.
    let ev = run(&mut t, &[bar(0, 101.0, 104.5, 99.9, 101.0)]);
    assert_eq!(ev, vec![TrackerEvent::Filled { signal_id: 1, entry: 100.0, opened_ms: T0 }]);
    assert_eq!(t.open_positions(), 1);
    let r = closed(&run(&mut t, &[bar(1, 101.0, 104.2, 100.8, 103.0)]));
    assert_eq!((r.exit, r.exit_reason), (104.0, ExitReason::TakeProfit));
    // Entry band edge: a candle entirely above the entry but reaching within 0.5 % fills at
    // the nearest traded price (its low).
    let mut t = OutcomeTracker::new(TrackerConfig::default());
    t.track(2, &long()).unwrap();
    let ev = run(&mut t, &[bar(0, 101.0, 101.2, 100.4, 101.0)]);
    assert_eq!(ev, vec![TrackerEvent::Filled { signal_id: 2, entry: 100.4, opened_ms: T0 }]);
}

#[test]
fn timeout_win_and_breakeven() {
    // 24 quiet bars; the 24th ends at the deadline (T0 + 24 h) and closes the position.
    let quiet = |last_close: f64| -> Vec<Candle> {
        (0..24)
            .map(|k| bar(k, 100.0, 101.0, 99.5, if k == 23 { last_close } else { 100.2 }))
            .collect()
    };
    let mut t = OutcomeTracker::new(TrackerConfig::default());
    t.track(1, &long()).unwrap();
    let bars = quiet(100.6);
    let ev = run(&mut t, &bars[..23]);
    assert_eq!(ev.len(), 1, "only the fill before the deadline");
    let r = closed(&run(&mut t, &bars[23..]));
    assert_eq!((r.exit, r.exit_reason, r.outcome), (100.6, ExitReason::Timeout, Outcome::Win));
    assert!(close(r.pnl_pct, 0.6));
    assert_eq!((r.closed_ms, r.hold_minutes), (T0 + 24 * H, 1440.0));

    // |0.03 %| < 0.05 % band: breakeven.
    let mut t = OutcomeTracker::new(TrackerConfig::default());
    t.track(1, &long()).unwrap();
    let r = closed(&run(&mut t, &quiet(100.03)));
    assert_eq!(r.outcome, Outcome::Breakeven);
    assert!(close(r.pnl_pct, 0.03));
    assert_eq!(t.scoreboard().by_variant["v1"].breakeven, 1);
    // A wider band (configurable) turns a 0.6 % close into breakeven too.
    let cfg = TrackerConfig { breakeven_band_pct: 1.0, ..TrackerConfig::default() };
    let mut t = OutcomeTracker::new(cfg);
    t.track(1, &long()).unwrap();
    assert_eq!(closed(&run(&mut t, &quiet(100.6))).outcome, Outcome::Breakeven);
}

#[test]
fn data_gap_past_the_deadline_closes_at_the_last_close() {
    let mut t = OutcomeTracker::new(TrackerConfig::default());
    t.track(1, &long()).unwrap();
    run(&mut t, &[bar(0, 100.0, 101.0, 99.5, 100.7)]);
    let r = closed(&run(&mut t, &[bar(30, 90.0, 91.0, 89.0, 90.0)]));
    assert_eq!((r.exit, r.exit_reason, r.closed_ms), (100.7, ExitReason::Timeout, T0 + 24 * H));
}

#[test]
fn never_filled_expires_at_the_timeout() {
    let mut t = OutcomeTracker::new(TrackerConfig::default());
    t.track(1, &long()).unwrap();
    // Always 1 %+ above the entry: the band's top (100.5) is never reached.
    let bars: Vec<Candle> = (0..30).map(|k| bar(k, 102.0, 103.0, 101.0, 102.0)).collect();
    let ev = run(&mut t, &bars[..23]);
    assert!(ev.is_empty());
    assert_eq!(t.pending(), 1);
    let ev = run(&mut t, &bars[23..]);
    assert_eq!(ev, vec![TrackerEvent::Expired { signal_id: 1, expired_ms: T0 + 24 * H }]);
    assert_eq!((t.pending(), t.scoreboard().by_variant.len()), (0, 0));
    // A shorter configurable timeout expires earlier.
    let mut t = OutcomeTracker::new(TrackerConfig { timeout_ms: 2 * H, ..Default::default() });
    t.track(1, &long()).unwrap();
    let ev = run(&mut t, &bars[..2]);
    assert_eq!(ev, vec![TrackerEvent::Expired { signal_id: 1, expired_ms: T0 + 2 * H }]);
}

#[test]
fn short_signals_mirror_long_ones() {
    let mut t = OutcomeTracker::new(TrackerConfig::default());
    t.track(1, &signal(Direction::Short, 100.0, 102.0, 96.0)).unwrap();
    let r = closed(&run(&mut t, &[bar(0, 100.0, 100.3, 95.5, 96.2)]));
    assert_eq!((r.exit, r.exit_reason, r.outcome), (96.0, ExitReason::TakeProfit, Outcome::Win));
    assert!(close(r.pnl_pct, 4.0) && close(r.max_adverse_pct, -0.3));
    // Price fell: b (−0.3) right, a (+0.5) wrong; contributions are value × (−1).
    let s: BTreeMap<&str, (f64, bool)> =
        r.theory_scores.iter().map(|s| (s.theory.as_str(), (s.contribution, s.correct))).collect();
    assert_eq!((s["a"], s["b"]), ((-0.5, false), (0.3, true)));

    let mut t = OutcomeTracker::new(TrackerConfig::default());
    t.track(1, &signal(Direction::Short, 100.0, 102.0, 96.0)).unwrap();
    let r = closed(&run(&mut t, &[bar(0, 100.0, 102.5, 99.0, 102.0)]));
    assert_eq!((r.exit, r.exit_reason), (102.0, ExitReason::StopLoss));
    assert!(close(r.pnl_pct, -2.0));
}

#[test]
fn learned_weights_set_contributions() {
    let mut t = OutcomeTracker::new(TrackerConfig::default());
    let mut w = TheoryValues::new();
    w.insert("a".into(), 2.0);
    t.set_weights("v1", w);
    t.track(1, &long()).unwrap();
    let r = closed(&run(
        &mut t,
        &[bar(0, 100.0, 101.0, 99.5, 100.5), bar(1, 100.5, 104.5, 100.2, 104.0)],
    ));
    let s: BTreeMap<&str, f64> =
        r.theory_scores.iter().map(|s| (s.theory.as_str(), s.contribution)).collect();
    assert_eq!((s["a"], s["b"]), (1.0, -0.3), "a uses its weight, b the direction sign");
}

#[test]
fn ignores_earlier_candles_other_symbols_and_bad_signals() {
    let mut t = OutcomeTracker::new(TrackerConfig::default());
    t.track(1, &long()).unwrap();
    assert!(run(&mut t, &[bar(-1, 100.0, 101.0, 99.0, 100.0)]).is_empty(), "before creation");
    assert!(t.on_candle("ETHUSDT", &bar(0, 100.0, 101.0, 99.0, 100.0)).is_empty());
    assert!(t.on_candle("BTCUSDT", &bar(0, f64::NAN, 1.0, 1.0, 1.0)).is_empty());
    assert_eq!(t.track(1, &long()), Err(TrackError::Duplicate(1)));
    assert_eq!(
        t.track(2, &signal(Direction::Hold, 100.0, 98.0, 104.0)),
        Err(TrackError::NotActionable)
    );
    assert_eq!(
        t.track(3, &signal(Direction::Long, 100.0, 101.0, 104.0)),
        Err(TrackError::BadLevels)
    );
    assert_eq!(
        t.track(4, &signal(Direction::Short, 100.0, 98.0, 104.0)),
        Err(TrackError::BadLevels)
    );
    assert_eq!(
        t.track(5, &signal(Direction::Long, f64::NAN, 98.0, 104.0)),
        Err(TrackError::BadLevels)
    );
}

#[test]
fn prices_manual_close_and_resume() {
    let mut t = OutcomeTracker::new(TrackerConfig::default());
    t.track(1, &long()).unwrap();
    assert_eq!(t.on_price("BTCUSDT", T0 + 60_000, 100.2).len(), 1);
    assert!(t.on_price("BTCUSDT", T0 + 120_000, 101.0).is_empty());
    let r = t.close_manual(1, 101.5, T0 + 30 * 60_000).unwrap();
    assert_eq!((r.entry, r.exit, r.exit_reason), (100.2, 101.5, ExitReason::Manual));
    assert_eq!(r.hold_minutes, 29.0);
    assert!(t.close_manual(1, 1.0, 0).is_none());
    // After a restart: a tick through the stop closes at that tick (the stop fills at market).
    let mut t = OutcomeTracker::new(TrackerConfig::default());
    t.resume_filled(7, &long(), 100.0, T0).unwrap();
    let r = closed(&t.on_price("BTCUSDT", T0 + 5 * 60_000, 97.9));
    assert_eq!((r.signal_id, r.exit, r.hold_minutes), (7, 97.9, 5.0));
}

#[test]
fn beta_posteriors_match_closed_forms() {
    // Beta(1,1) = uniform.
    let p = BetaPosterior::from_counts(0, 0);
    assert!(
        close(p.mean, 0.5)
            && (p.lower_95 - 0.025).abs() < 1e-9
            && (p.upper_95 - 0.975).abs() < 1e-9
    );
    // 3 wins, 0 losses: Beta(4,1), CDF x⁴ → quantiles q^(1/4); mean 4/5.
    let p = BetaPosterior::from_counts(3, 0);
    assert_eq!((p.alpha, p.beta), (4.0, 1.0));
    assert!(close(p.mean, 0.8));
    assert!((p.lower_95 - 0.025f64.powf(0.25)).abs() < 1e-9);
    assert!((p.upper_95 - 0.975f64.powf(0.25)).abs() < 1e-9);
    // 0 wins, 3 losses: Beta(1,4), the mirror image.
    let q = BetaPosterior::from_counts(0, 3);
    assert!(
        (q.lower_95 - (1.0 - p.upper_95)).abs() < 1e-9
            && (q.upper_95 - (1.0 - p.lower_95)).abs() < 1e-9
    );
    // Beta(2,2): CDF 3x² − 2x³ = 0.025 at x = 0.0942993 (root of the cubic, by bisection).
    let p = BetaPosterior::from_counts(1, 1);
    let cdf = |x: f64| 3.0 * x * x - 2.0 * x * x * x;
    assert!((cdf(p.lower_95) - 0.025).abs() < 1e-9 && (cdf(p.upper_95) - 0.975).abs() < 1e-9);
    assert!((p.lower_95 - 0.094_299_3).abs() < 1e-6);
    // Beta(8,4) (7 wins, 3 losses): mean 2/3; quantiles 0.390257 / 0.890737 (scipy 1.17).
    let p = BetaPosterior::from_counts(7, 3);
    assert!(close(p.mean, 2.0 / 3.0));
    assert!((p.lower_95 - 0.390_257_44).abs() < 1e-6 && (p.upper_95 - 0.890_736_56).abs() < 1e-6);
}

#[test]
fn welch_t_test_matches_hand_computation() {
    // a: mean 2.5, s² = 5/3; b: mean 6, s² = 10. s²/n: 5/12 and 2; se² = 29/12.
    // t = −3.5 / √(29/12) = −2.2514363; df = (29/12)² / ((5/12)²/3 + 2²/4) = 2523/457.
    let w = welch_t_test(&[1.0, 2.0, 3.0, 4.0], &[2.0, 4.0, 6.0, 8.0, 10.0]).unwrap();
    assert!((w.t - (-3.5 / (29.0f64 / 12.0).sqrt())).abs() < 1e-12);
    assert!((w.df - 2523.0 / 457.0).abs() < 1e-12);
    // p = 2·P(T_5.5208 > 2.2514) = 0.0691336 (scipy.stats.ttest_ind(equal_var=False)).
    assert!((w.p_two_sided - 0.069_133_593).abs() < 1e-7, "{w:?}");
    // Symmetric: swapping the samples flips t only.
    let v = welch_t_test(&[2.0, 4.0, 6.0, 8.0, 10.0], &[1.0, 2.0, 3.0, 4.0]).unwrap();
    assert_eq!((v.t, v.df, v.p_two_sided), (-w.t, w.df, w.p_two_sided));
    assert!(welch_t_test(&[1.0], &[1.0, 2.0]).is_none());
    assert!(welch_t_test(&[1.0, 1.0], &[2.0, 2.0]).is_none());
}

#[test]
fn sample_size_formula() {
    // (1.959964·√(2·0.55·0.45) + 0.841621·√(0.25 + 0.24))² / 0.01 = 387.3 → 388.
    assert_eq!(min_sample_size_per_arm(0.5, 0.6, 0.05, 0.8), Some(388));
    // 0.45 vs 0.55: p̄ = 0.5 → (1.959964·√0.5 + 0.841621·√0.495)² / 0.01 = 391.2 → 392.
    assert_eq!(min_sample_size_per_arm(0.45, 0.55, 0.05, 0.8), Some(392));
    assert_eq!(min_sample_size_per_arm(0.5, 0.5, 0.05, 0.8), None);
    assert_eq!(min_sample_size_per_arm(0.5, 1.0, 0.05, 0.8), None);
}

#[test]
fn ab_report_flags_small_samples() {
    let mut r: BTreeMap<String, Vec<(Outcome, f64)>> = BTreeMap::new();
    r.insert(
        "a".into(),
        vec![(Outcome::Win, 2.0), (Outcome::Loss, -1.0), (Outcome::Win, 3.0), (Outcome::Open, 0.0)],
    );
    r.insert(
        "b".into(),
        vec![(Outcome::Loss, -2.0), (Outcome::Breakeven, 0.01), (Outcome::Win, 1.0)],
    );
    let rep = ab_report(&r, AbConfig::default());
    let a = &rep.arms[0];
    assert_eq!((a.n, a.wins, a.losses), (3, 2, 1), "open rows are ignored");
    assert!(close(a.mean_pnl_pct, 4.0 / 3.0));
    // sd of (2, −1, 3): mean 4/3, squared deviations 4/9 + 49/9 + 25/9 = 78/9, /2 → √(13/3).
    assert!(close(a.sd_pnl_pct.unwrap(), (13.0f64 / 3.0).sqrt()));
    assert!(close(a.sharpe.unwrap(), (4.0 / 3.0) / (13.0f64 / 3.0).sqrt()));
    assert_eq!(a.posterior, BetaPosterior::from_counts(2, 1));
    let c = &rep.comparisons[0];
    assert_eq!((c.a.as_str(), c.b.as_str()), ("a", "b"));
    assert!(close(c.win_rate_diff, 2.0 / 3.0 - 1.0 / 3.0));
    assert_eq!(c.required_n_per_arm, Some(388));
    assert!(c.underpowered);
    let w = welch_t_test(&[2.0, -1.0, 3.0], &[-2.0, 0.01, 1.0]).unwrap();
    assert_eq!(c.welch, Some(w));
    let text = rep.to_string();
    assert!(text.contains("UNDERPOWERED") && text.contains("need 388 per arm"), "{text}");
    // Enough results per arm: not underpowered.
    let many: Vec<(Outcome, f64)> = (0..400)
        .map(|i| (if i % 2 == 0 { Outcome::Win } else { Outcome::Loss }, (i % 7) as f64 - 3.0))
        .collect();
    let mut r = BTreeMap::new();
    r.insert("x".to_string(), many.clone());
    r.insert("y".to_string(), many);
    let rep = ab_report(&r, AbConfig::default());
    assert!(!rep.comparisons[0].underpowered);
    assert_eq!(ArmStats::from_results("z", &[]).sharpe, None);
}
