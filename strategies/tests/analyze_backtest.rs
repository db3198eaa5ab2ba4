//! `analyze`, `swing_backtest` and portfolio analytics on the real recordings.
mod common;

use crpbot_strategies::swing::portfolio::{PortfolioParams, aligned_returns, optimize};
use crpbot_strategies::swing::{
    AnalyzeError, AnalyzeOptions, Candle, INDICATOR_NAMES, Indicators, WalkForward, analyze,
    analyze_with, load_klines, swing_backtest,
};

#[test]
fn analyze_reports_every_field() {
    let Some(c) = common::btc_1h() else { return };
    let a = analyze(&c, 200, None).expect("analyze");
    let j = a.to_json();
    for name in INDICATOR_NAMES {
        assert!(j["indicators"][name].is_number(), "indicators.{name}");
    }
    for path in [
        "/adf/statistic",
        "/adf/p_value",
        "/adf/used_lag",
        "/adf/critical_values/5%",
        "/adf/signal",
        "/hurst/value",
        "/hurst/signal",
        "/acf/values/20",
        "/acf/signal",
        "/pacf/values/20",
        "/ljung_box/q",
        "/ljung_box/p_value",
        "/levene/statistic",
        "/levene/p_value",
        "/entropy/value",
        "/entropy/signal",
        "/markov/state",
        "/markov/transition_matrix/5/5",
        "/kalman/velocity",
        "/bayes/posterior_mean",
        "/monte_carlo/gbm/var95",
        "/monte_carlo/bootstrap/cvar95",
        "/random_forest/prob_up",
        "/random_forest/importances/rsi_14",
        "/variance/variance_ratios/1/ratio",
        "/context/source",
        "/composite_signal",
    ] {
        assert!(j.pointer(path).is_some_and(|v| !v.is_null()), "missing {path}");
    }
    assert_eq!(j["context"]["source"], "neutral_offline");
    assert_eq!(j["acf"]["values"].as_array().map(Vec::len), Some(21));
    for path in [
        "/entropy/signal",
        "/hurst/signal",
        "/markov/signal",
        "/kalman/signal",
        "/bayes/signal",
        "/monte_carlo/signal",
        "/random_forest/signal",
        "/acf/signal",
        "/pacf/signal",
        "/ljung_box/signal",
        "/adf/signal",
        "/levene/signal",
        "/variance/signal",
        "/context/signal",
        "/composite_signal",
    ] {
        let s = j.pointer(path).and_then(|v| v.as_f64()).expect(path);
        assert!((-1.0..=1.0).contains(&s), "{path} = {s}");
    }
    // Deterministic.
    assert_eq!(analyze(&c, 200, None).expect("again").to_json(), j);
}

#[test]
fn analyze_at_a_bar_equals_analyze_of_the_prefix() {
    let Some(c) = common::btc_1h() else { return };
    let i = 40_000;
    let at = analyze(&c, 200, Some(c[i].open_time_ms)).expect("at");
    let prefix = analyze(&c[..=i], 200, None).expect("prefix");
    assert_eq!(at.bar_index, i);
    assert_eq!(at.to_json(), prefix.to_json());
}

#[test]
fn analyze_indicators_equal_the_full_history_computation() {
    let Some(c) = common::btc_1h() else { return };
    for end in [c.len() - 1, 40_000, 12_345] {
        let at = Some(c[end].open_time_ms);
        let fast = analyze(&c, 200, at).expect("analyze").to_json();
        let opts = AnalyzeOptions { full_history_indicators: true, ..Default::default() };
        let full = analyze_with(&c, 200, at, &opts).expect("analyze full").to_json();
        let reference = Indicators::compute(&c[..=end]).at_json(end);
        assert_eq!(full["indicators"], reference, "full-history option is the plain computation");
        for name in INDICATOR_NAMES {
            let (a, b) = (
                fast["indicators"][name].as_f64().expect(name),
                reference[name].as_f64().expect(name),
            );
            assert!(common::close(a, b, 1e-9), "{name} at {end}: {a} vs {b}");
        }
    }
}

#[test]
fn analyze_rejects_bad_input() {
    let c: Vec<Candle> = (0..100)
        .map(|i| Candle::new(i * 60_000, 1.0 + i as f64, 2.0 + i as f64, 0.5, 1.5 + i as f64, 1.0))
        .collect();
    assert_eq!(
        analyze(&c, 200, None).expect_err("long"),
        AnalyzeError::WindowTooLong { window: 200, available: 100 }
    );
    assert!(matches!(analyze(&c, 10, None), Err(AnalyzeError::WindowTooShort { .. })));
    assert_eq!(analyze(&c, 60, Some(7)).expect_err("missing"), AnalyzeError::BarNotFound(7));
    assert!(matches!(
        analyze(&c, 60, Some(c[40].open_time_ms)),
        Err(AnalyzeError::WindowTooLong { available: 41, .. })
    ));
    let mut nan = c.clone();
    nan[50].close = f64::NAN;
    assert!(matches!(analyze(&nan, 60, None), Err(AnalyzeError::Candles(_))));
    let mut back = c.clone();
    back.swap(10, 11);
    assert!(analyze(&back, 60, None).expect_err("order").to_string().contains("open time"));
    assert!(matches!(analyze(&[], 60, None), Err(AnalyzeError::Candles(_))));
    // A constant window reports per-field errors instead of failing.
    let flat: Vec<Candle> =
        (0..100).map(|i| Candle::new(i * 60_000, 1.0, 1.0, 1.0, 1.0, 1.0)).collect();
    let a = analyze(&flat, 60, None).expect("flat");
    assert!(a.adf.is_none() && a.errors.contains_key("adf"));
}

#[test]
fn walk_forward_on_btc_hourly() {
    let Some(c) = common::btc_1h() else { return };
    let wf = WalkForward { train_days: 180, test_days: 30, anchored: false };
    for s in ["trend", "meanrev", "theories"] {
        let r = swing_backtest(&c, s, wf).expect(s);
        assert!(r.folds.len() >= 80, "{s}: {} folds", r.folds.len());
        assert!((8700.0..8800.0).contains(&r.bars_per_year));
        let m = r.out_of_sample;
        assert!(m.max_drawdown >= 0.0 && m.max_drawdown <= 1.0);
        assert!(m.sharpe.is_finite());
        for f in &r.folds {
            assert!(f.test_start_ms - f.train_start_ms == 180 * 86_400_000);
            assert!(f.in_sample.sharpe.is_finite());
        }
        let j = serde_json::to_value(&r).expect("json");
        assert!(j["out_of_sample"]["sharpe"].is_number());
        assert_eq!(j["walk_forward_efficiency"].is_number(), r.in_sample_annual_return > 0.0);
    }
    let anchored =
        swing_backtest(&c, "trend", WalkForward { anchored: true, ..wf }).expect("anchored");
    assert!(anchored.folds.iter().all(|f| f.train_start_ms == c[0].open_time_ms));
    assert!(swing_backtest(&c[..24 * 100], "trend", wf).is_err());
    assert!(swing_backtest(&c, "nope", wf).is_err());
}

#[test]
fn portfolio_across_ten_symbols() {
    let syms = ["BTC", "ETH", "SOL", "BNB", "XRP", "ADA", "DOGE", "AVAX", "LINK", "DOT"];
    let mut series = Vec::new();
    for s in syms {
        let Some(p) = common::data_file(&format!("klines/{s}USDT_1h.csv.gz")) else { return };
        series.push(load_klines(p).expect("load"));
    }
    let r = aligned_returns(&series);
    let names: Vec<String> = syms.iter().map(|s| s.to_string()).collect();
    let p = optimize(&names, &r, PortfolioParams::default()).expect("optimize");
    assert!(p.bars > 20_000);
    for a in [&p.max_sharpe, &p.min_volatility, &p.risk_parity] {
        let s: f64 = a.weights.values().sum();
        assert!((s - 1.0).abs() < 1e-9, "sum {s}");
        assert!(a.weights.values().all(|w| *w >= -1e-12 && *w <= 0.3 + 1e-9));
    }
    assert_eq!(p.frontier.len(), 100);
    assert!(
        p.min_volatility.volatility
            <= p.frontier.iter().map(|f| f.volatility).fold(f64::INFINITY, f64::min) + 1e-9
    );
    assert!(
        p.max_sharpe.sharpe
            >= p.frontier.iter().map(|f| f.sharpe).fold(f64::NEG_INFINITY, f64::max) - 1e-9
    );
    for w in p.frontier.windows(2) {
        assert!(w[1].expected_return >= w[0].expected_return - 1e-9);
    }
}
