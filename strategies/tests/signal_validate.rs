//! Validation: confidence thresholds by regime and reward/risk at their boundaries, price
//! sanity, the sliding-window rate limiter, and HOLD conversion that keeps the record.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crpbot_strategies::swing::signal::{
    Direction, RateLimiter, Regime, Rejection, SwingSignal, TheoryValues, ValidationConfig,
    validate, validate_signal,
};

fn signal(
    direction: Direction,
    confidence: f64,
    entry: f64,
    stop: f64,
    target: f64,
) -> SwingSignal {
    SwingSignal {
        symbol: "BTCUSDT".into(),
        bar_open_time_ms: 0,
        created_ms: 0,
        direction,
        confidence,
        entry,
        stop_loss: stop,
        take_profit: target,
        reasoning: "r".into(),
        key_factors: vec![],
        variant: "math-v1".into(),
        regime: Regime::Trending,
        theories: TheoryValues::new(),
        raw_response: None,
        hold_reason: None,
    }
}

fn check(s: &SwingSignal) -> Result<(), Rejection> {
    let cfg = ValidationConfig::default();
    validate(s, &cfg, &mut RateLimiter::from_config(&cfg), 0)
}

#[test]
fn confidence_threshold_table() {
    const EPS: f64 = 1e-9;
    for (regime, t) in [
        (Regime::Trending, 60.0),
        (Regime::Consolidation, 70.0),
        (Regime::Sideways, 75.0),
        (Regime::HighVolatility, 80.0),
    ] {
        for (c, ok) in [(t - EPS, false), (t, true), (t + EPS, true)] {
            for dir in [Direction::Long, Direction::Short] {
                let mut s = if dir == Direction::Long {
                    signal(dir, c, 100.0, 95.0, 110.0)
                } else {
                    signal(dir, c, 100.0, 105.0, 90.0)
                };
                s.regime = regime;
                let r = check(&s);
                assert_eq!(r.is_ok(), ok, "{regime:?} {dir:?} confidence {c}: {r:?}");
                if !ok {
                    assert_eq!(
                        r,
                        Err(Rejection::LowConfidence { confidence: c, threshold: t, regime })
                    );
                }
            }
        }
    }
}

#[test]
fn reward_risk_table() {
    // entry 100, stop 90: risk 10. Target 110 → exactly 1; 110 − ε → below 1.
    let eps = 1e-9;
    let cases = [(110.0 - eps, false), (110.0, true), (110.0 + eps, true), (130.0, true)];
    for (target, ok) in cases {
        let r = check(&signal(Direction::Long, 90.0, 100.0, 90.0, target));
        assert_eq!(r.is_ok(), ok, "long target {target}: {r:?}");
        let r = check(&signal(Direction::Short, 90.0, 100.0, 110.0, 200.0 - target));
        assert_eq!(r.is_ok(), ok, "short target {}: {r:?}", 200.0 - target);
        if !ok {
            assert!(matches!(r, Err(Rejection::RewardRisk { .. })));
        }
    }
}

#[test]
fn price_and_confidence_sanity() {
    let bad = [
        (signal(Direction::Long, 90.0, 100.0, 100.0, 110.0), "stop"),
        (signal(Direction::Long, 90.0, 100.0, 101.0, 110.0), "stop"),
        (signal(Direction::Short, 90.0, 100.0, 99.0, 90.0), "stop"),
        (signal(Direction::Long, 90.0, 100.0, 95.0, 100.0), "target"),
        (signal(Direction::Short, 90.0, 100.0, 105.0, 101.0), "target"),
        (signal(Direction::Long, 90.0, f64::NAN, 95.0, 110.0), "price"),
        (signal(Direction::Long, 90.0, 100.0, -5.0, 110.0), "price"),
        (signal(Direction::Short, 90.0, 100.0, f64::INFINITY, 90.0), "price"),
        (signal(Direction::Short, 90.0, 100.0, 105.0, 0.0), "price"),
        (signal(Direction::Long, 250.0, 100.0, 95.0, 110.0), "confidence"),
        (signal(Direction::Long, -1.0, 100.0, 95.0, 110.0), "confidence"),
        (signal(Direction::Long, f64::NAN, 100.0, 95.0, 110.0), "confidence"),
    ];
    for (s, what) in bad {
        let r = check(&s).unwrap_err();
        let ok = match what {
            "stop" => matches!(r, Rejection::StopWrongSide { .. }),
            "target" => matches!(r, Rejection::TargetWrongSide { .. }),
            "price" => matches!(r, Rejection::BadPrice { .. }),
            _ => matches!(r, Rejection::ConfidenceOutOfRange(_)),
        };
        assert!(ok, "{what}: {r:?}");
    }
    // A HOLD passes untouched, whatever its fields.
    assert_eq!(check(&signal(Direction::Hold, f64::NAN, -1.0, 0.0, 0.0)), Ok(()));
}

#[test]
fn rate_limits_per_symbol_and_total_sliding_window() {
    let cfg = ValidationConfig::default();
    let mut rl = RateLimiter::from_config(&cfg);
    let hour = 3_600_000;
    let mut s = signal(Direction::Long, 90.0, 100.0, 95.0, 110.0);
    for t in [0, 1_000, 2_000] {
        assert_eq!(validate(&s, &cfg, &mut rl, t), Ok(()));
    }
    assert_eq!(
        validate(&s, &cfg, &mut rl, 3_000),
        Err(Rejection::SymbolRate { symbol: "BTCUSDT".into(), limit: 3 })
    );
    // Rejections are not counted: at hour − 1 the three are still in the window.
    assert!(validate(&s, &cfg, &mut rl, hour - 1).is_err());
    assert_eq!(validate(&s, &cfg, &mut rl, hour), Ok(())); // t = 0 left the window
    // Total: 10 per hour over symbols (3 BTC in the window now: 1000, 2000, hour).
    let mut accepted = 3;
    for sym in ["A", "B", "C"] {
        s.symbol = sym.into();
        while validate(&s, &cfg, &mut rl, hour + 10).is_ok() {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 10);
    s.symbol = "D".into();
    assert_eq!(validate(&s, &cfg, &mut rl, hour + 10), Err(Rejection::TotalRate { limit: 10 }));
    assert_eq!(rl.count("A", hour + 10), 3);
    assert_eq!(rl.count("A", 2 * hour + 10), 0);
    assert_eq!(validate(&s, &cfg, &mut rl, 2 * hour + 10), Ok(()));
}

#[test]
fn rate_limiter_matches_a_naive_model() {
    // Deterministic pseudo-random sequence against a brute-force count over all accepted times.
    let (per, total, w) = (3usize, 5usize, 100i64);
    let mut rl = RateLimiter::new(per, total, w);
    let mut accepted: Vec<(String, i64)> = Vec::new();
    let mut x: u64 = 12345;
    let mut t = 0i64;
    for _ in 0..5000 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        t += (x >> 60) as i64; // 0..15 ms steps
        let sym = ["A", "B", "C"][(x >> 20) as usize % 3];
        let in_win =
            |f: &dyn Fn(&str) -> bool| accepted.iter().filter(|(s, at)| f(s) && t - at < w).count();
        let expect = in_win(&|s| s == sym) < per && in_win(&|_| true) < total;
        let got = rl.check(sym, t).is_ok();
        assert_eq!(got, expect, "t {t} {sym}");
        if got {
            rl.record(sym, t);
            accepted.push((sym.to_string(), t));
        }
    }
    assert!(accepted.len() > 100);
}

#[test]
fn rejected_signal_becomes_hold_and_keeps_its_fields() {
    let cfg = ValidationConfig::default();
    let mut rl = RateLimiter::from_config(&cfg);
    let s = signal(Direction::Short, 55.0, 100.0, 105.0, 90.0);
    let (v, o) = validate_signal(s.clone(), &cfg, &mut rl, 0);
    assert_eq!(o.status, "rejected");
    assert_eq!(v.direction, Direction::Hold);
    let why = v.hold_reason.clone().unwrap();
    assert!(why.starts_with("validation rejected SHORT: confidence 55 is below 60"), "{why}");
    assert_eq!(o.reason.as_deref(), Some(why.as_str()));
    assert_eq!((v.confidence, v.entry, v.stop_loss, v.take_profit), (55.0, 100.0, 105.0, 90.0));
    assert_eq!(v.reasoning, s.reasoning);
    let (v, o) =
        validate_signal(signal(Direction::Long, 61.0, 100.0, 95.0, 110.0), &cfg, &mut rl, 0);
    assert_eq!((o.status, v.direction, o.reason), ("accepted", Direction::Long, None));
    let mut h = signal(Direction::Hold, 0.0, 100.0, 100.0, 100.0);
    h.hold_reason = Some("budget exhausted".into());
    let (_, o) = validate_signal(h, &cfg, &mut rl, 0);
    assert_eq!((o.status, o.reason.as_deref()), ("hold", Some("budget exhausted")));
}
