//! Replay over months of real BTCUSDT hourly candles with two small test synthesisers
//! (follow / fade the composite signal, ATR stop and target): signals are stored, paper
//! trades close, and per-theory and per-variant statistics come out consistent with the store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use crpbot_strategies::swing::signal::outcome::ClosedResult;
use crpbot_strategies::swing::signal::store::replay::{ReplayConfig, ReplayHooks, replay};
use crpbot_strategies::swing::signal::store::{SignalFilter, SignalStore};
use crpbot_strategies::swing::signal::{
    Direction, Outcome, Regime, SwingSignal, SynthInput, Synthesizer, THEORY_NAMES, TheoryValues,
};
use crpbot_strategies::swing::{Analysis, load_klines, locate_data_dir};

/// The eleven theory signals of an analysis, keyed by `THEORY_NAMES`.
fn theory_values(a: &Analysis) -> TheoryValues {
    let pairs = [
        ("entropy", Some(a.entropy.signal)),
        ("hurst", Some(a.hurst.signal)),
        ("markov", Some(a.markov.signal)),
        ("kalman", Some(a.kalman.signal)),
        ("bayes", Some(a.bayes.signal)),
        ("monte_carlo", Some(a.monte_carlo.signal)),
        ("random_forest", a.random_forest.as_ref().map(|f| f.signal)),
        ("autocorrelation", a.acf.as_ref().map(|x| x.signal)),
        ("adf", a.adf.as_ref().map(|x| x.signal)),
        ("variance", Some(a.variance.signal)),
        ("market_context", Some(a.context.signal)),
    ];
    pairs
        .into_iter()
        .filter_map(|(k, v)| v.filter(|v| v.is_finite()).map(|v| (k.to_string(), v)))
        .collect()
}

/// Test synthesiser: LONG/SHORT on the sign of the composite signal (or its opposite), stop
/// 1.5 ATR and target 2 ATR away, HOLD inside ±`threshold`.
struct CompositeSign {
    variant: String,
    sign: f64,
    threshold: f64,
}

impl Synthesizer for CompositeSign {
    fn variant(&self) -> &str {
        &self.variant
    }

    fn synthesize(&mut self, input: &SynthInput<'_>, now_ms: i64) -> SwingSignal {
        let a = input.analysis;
        let atr = a.indicators["atr_14"].as_f64().unwrap_or(f64::NAN);
        let c = a.composite_signal * self.sign;
        let direction = if !atr.is_finite() || c.abs() <= self.threshold {
            Direction::Hold
        } else if c > 0.0 {
            Direction::Long
        } else {
            Direction::Short
        };
        let d = if direction == Direction::Short { -1.0 } else { 1.0 };
        let regime = match a.markov.state.as_str() {
            "consolidation" => Regime::Consolidation,
            "low_vol_range" => Regime::Sideways,
            "high_vol_range" => Regime::HighVolatility,
            _ => Regime::Trending,
        };
        SwingSignal {
            symbol: input.symbol.to_string(),
            bar_open_time_ms: a.open_time_ms,
            created_ms: now_ms,
            direction,
            confidence: (50.0 + 50.0 * c.abs()).min(100.0),
            entry: a.close,
            stop_loss: a.close - d * 1.5 * atr.max(0.0),
            take_profit: a.close + d * 2.0 * atr.max(0.0),
            reasoning: format!("composite {:.3} × {}", a.composite_signal, self.sign),
            key_factors: vec!["composite_signal".into()],
            variant: self.variant.clone(),
            regime,
            theories: theory_values(a),
            raw_response: None,
            hold_reason: (direction == Direction::Hold)
                .then(|| "composite inside threshold".into()),
        }
    }
}

fn ms(y: i64, m: i64, d: i64) -> i64 {
    // Days from civil (Howard Hinnant), for the replay range.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * 86_400_000
}

#[test]
fn replay_four_months_of_btc_hourly() {
    let Some(file) =
        locate_data_dir().map(|d| d.join("klines/BTCUSDT_1h.csv.gz")).filter(|p| p.is_file())
    else {
        eprintln!("skipping: klines/BTCUSDT_1h.csv.gz not found (set CRPBOT_DATA_DIR)");
        return;
    };
    let candles = load_klines(&file).unwrap();
    let dir = std::env::temp_dir().join(format!("crpbot-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db: PathBuf = dir.join("signals.sqlite");
    let _ = std::fs::remove_file(&db);
    let mut store = SignalStore::open(&db).unwrap();

    let mut cfg = ReplayConfig::new("BTCUSDT");
    cfg.every = 8;
    cfg.from_ms = Some(ms(2024, 9, 1));
    cfg.to_ms = Some(ms(2024, 12, 31));
    let mut follow = CompositeSign { variant: "test-follow".into(), sign: 1.0, threshold: 0.02 };
    let mut fade = CompositeSign { variant: "test-fade".into(), sign: -1.0, threshold: 0.02 };
    let mut closed_seen: Vec<ClosedResult> = Vec::new();
    let mut on_closed = |r: &ClosedResult| closed_seen.push(r.clone());
    let validate = |s: &SwingSignal| {
        if s.confidence < 53.0 {
            Err(format!("confidence {:.1} < 53", s.confidence))
        } else {
            Ok(())
        }
    };
    let mut hooks =
        ReplayHooks { validate: Some(&validate), on_closed: Some(&mut on_closed), weights: None };
    let rep =
        replay(&candles, &mut [&mut follow, &mut fade], &mut store, &cfg, &mut hooks).unwrap();
    println!("{rep}");

    // ~4 months of hourly bars, one analysis every 8 bars, two synthesisers per analysis.
    assert!(rep.bars > 2_900 && rep.bars < 3_000, "{}", rep.bars);
    assert_eq!(rep.analyses, rep.bars.div_ceil(8));
    assert_eq!(rep.signals, 2 * rep.analyses);
    assert!(rep.actionable > rep.signals / 2, "{rep:?}");
    assert!(rep.closed > 100, "few closed results: {}", rep.closed);
    assert_eq!(rep.closed, closed_seen.len(), "the hook saw every close");
    assert_eq!(
        rep.filled + rep.expired + rep.rejected + rep.untrackable,
        rep.actionable,
        "every actionable signal was filled, expired, rejected or untrackable"
    );
    assert_eq!(rep.filled, rep.closed + rep.unresolved_at_end);

    // The store agrees with the report.
    let all = store.list(&SignalFilter::default()).unwrap();
    assert_eq!(all.len(), rep.signals);
    let closed_db = all
        .iter()
        .filter(|s| s.result.as_ref().is_some_and(|r| r.outcome != Outcome::Open))
        .count();
    assert_eq!(closed_db, rep.closed);
    assert_eq!(all.iter().filter(|s| s.expired_ms.is_some()).count(), rep.expired);
    let rejected = all
        .iter()
        .filter(|s| s.validation.as_deref().is_some_and(|v| v.starts_with("rejected")))
        .count();
    assert!(rejected >= rep.rejected && rep.rejected > 0, "the validator rejected some");
    for s in &all {
        if s.validation.as_deref().is_some_and(|v| v.starts_with("rejected")) {
            assert!(
                s.result.is_none() && s.expired_ms.is_none(),
                "rejected signals are not traded"
            );
        }
    }
    // Follow and fade trade opposite directions on the same bars.
    let follow_dirs: Vec<_> = all
        .iter()
        .filter(|s| s.signal.variant == "test-follow")
        .map(|s| s.signal.direction)
        .collect();
    let fade_dirs: Vec<_> = all
        .iter()
        .filter(|s| s.signal.variant == "test-fade")
        .map(|s| s.signal.direction)
        .collect();
    for (a, b) in follow_dirs.iter().zip(&fade_dirs) {
        match a {
            Direction::Long => assert_eq!(*b, Direction::Short),
            Direction::Short => assert_eq!(*b, Direction::Long),
            Direction::Hold => assert_eq!(*b, Direction::Hold),
        }
    }
    // Every closed result is consistent with its signal's levels.
    for r in &closed_seen {
        let s = &all[usize::try_from(r.signal_id - 1).unwrap()].signal;
        assert_eq!(s.variant, r.variant);
        assert!(r.closed_ms >= r.opened_ms && r.opened_ms >= s.created_ms);
        assert!(r.hold_minutes <= 24.0 * 60.0 + 60.0);
        let d = if s.direction == Direction::Long { 1.0 } else { -1.0 };
        assert!((d * (r.exit - r.entry) / r.entry * 100.0 - r.pnl_pct).abs() < 1e-9);
    }

    // Per-variant statistics: two arms, each with closed results, one comparison.
    assert_eq!(rep.ab.arms.len(), 2);
    assert!(rep.ab.arms.iter().all(|a| a.n > 30), "{:?}", rep.ab.arms);
    assert_eq!(rep.ab.comparisons.len(), 1);
    assert!(rep.ab.comparisons[0].welch.is_some());
    let st = store.stats().unwrap();
    let n_closed: u64 = st.by_variant.iter().map(|g| g.closed.n()).sum();
    assert_eq!(usize::try_from(n_closed).unwrap(), rep.closed);
    for arm in &rep.ab.arms {
        let g = st.by_variant.iter().find(|g| g.key == arm.variant).unwrap();
        assert_eq!(usize::try_from(g.closed.wins).unwrap(), arm.wins);
        let sb = &rep.scoreboard.by_variant[&arm.variant];
        assert_eq!(usize::try_from(sb.n()).unwrap(), arm.n);
    }
    // Per-theory statistics: every theory scored on (nearly) every closed result, in the
    // report and in the store alike.
    assert!(rep.scoreboard.by_theory.len() >= 9, "{:?}", rep.scoreboard.by_theory.keys());
    for name in ["hurst", "kalman", "markov", "monte_carlo", "variance"] {
        assert!(THEORY_NAMES.contains(&name));
        let t = &rep.scoreboard.by_theory[name];
        assert_eq!(usize::try_from(t.n).unwrap(), rep.closed, "{name}");
        let s = st.by_theory.iter().find(|s| s.theory == name).unwrap();
        assert_eq!((s.n, s.correct), (t.n, t.correct));
    }
    let text = rep.to_string();
    assert!(text.contains("per theory") && text.contains("test-fade vs test-follow"), "{text}");
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}
