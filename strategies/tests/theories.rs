//! Theories against statsmodels/scipy references on BTC windows, and behavioural checks.
mod common;

use crpbot_strategies::swing::rng::Rng;
use crpbot_strategies::swing::theories::{
    ContextClient, ContextError, ContextSource, HttpContextSource, MonteCarloParams, acf, adfuller,
    bayes_win_rate, hurst, kalman, levene, ljung_box, markov, monte_carlo, pacf, parse_fear_greed,
    parse_global, variance_ratio,
};

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().expect("number")
}

#[test]
fn stat_tests_match_statsmodels_and_scipy() {
    let Some(candles) = common::btc_1h() else { return };
    let fx = common::fixture("stats_btc_1h.json");
    let closes: Vec<f64> = candles.iter().map(|c| c.close).collect();
    let tol = 1e-6;
    let mut worst = 0.0f64;
    let mut track = |a: f64, b: f64| worst = worst.max((a - b).abs() / b.abs().max(1e-300));
    for w in fx["windows"].as_array().expect("windows") {
        let end = w["end"].as_u64().expect("end") as usize;
        let n = w["window"].as_u64().expect("window") as usize;
        let lc: Vec<f64> = closes[end - n..end].iter().map(|c| c.ln()).collect();
        let r: Vec<f64> = lc.windows(2).map(|p| p[1] - p[0]).collect();
        let ctx = format!("window end={end} n={n}");

        let a = adfuller(&lc).expect("adf");
        let e = &w["adf"];
        assert_eq!(a.used_lag as u64, e["used_lag"].as_u64().expect("lag"), "{ctx}");
        assert_eq!(a.nobs as u64, e["nobs"].as_u64().expect("nobs"), "{ctx}");
        assert!(
            common::close(a.statistic, f(&e["statistic"]), tol),
            "{ctx} adf stat {} vs {}",
            a.statistic,
            e["statistic"]
        );
        assert!(
            common::close(a.p_value, f(&e["p_value"]), tol),
            "{ctx} adf p {} vs {}",
            a.p_value,
            e["p_value"]
        );
        assert!(common::close(a.icbest, f(&e["icbest"]), tol), "{ctx} icbest");
        for (k, key) in [("1%", "crit_1"), ("5%", "crit_5"), ("10%", "crit_10")] {
            assert!(common::close(a.critical_values[k], f(&e[key]), 1e-9), "{ctx} crit {k}");
        }

        track(a.statistic, f(&e["statistic"]));
        track(a.p_value, f(&e["p_value"]));
        let ac = acf(&r, 20).expect("acf");
        let pc = pacf(&r, 20).expect("pacf");
        for k in 0..=20 {
            assert!(
                (ac[k] - f(&w["acf"][k])).abs() < tol,
                "{ctx} acf[{k}] {} vs {}",
                ac[k],
                w["acf"][k]
            );
            assert!(
                (pc[k] - f(&w["pacf"][k])).abs() < tol,
                "{ctx} pacf[{k}] {} vs {}",
                pc[k],
                w["pacf"][k]
            );
        }
        let lb = ljung_box(&r, 20).expect("lb");
        assert!(common::close(lb.q, f(&w["ljung_box"]["q"]), tol), "{ctx} lb q");
        assert!(
            common::close(lb.p_value, f(&w["ljung_box"]["p_value"]), tol),
            "{ctx} lb p {} vs {}",
            lb.p_value,
            w["ljung_box"]["p_value"]
        );
        track(lb.q, f(&w["ljung_box"]["q"]));
        track(lb.p_value, f(&w["ljung_box"]["p_value"]));
        let half = r.len() / 2;
        let lv = levene(&r[..half], &r[half..]).expect("levene");
        let e = &w["levene"];
        track(lv.statistic, f(&e["statistic"]));
        track(lv.p_value, f(&e["p_value"]));
        assert!(common::close(lv.statistic, f(&e["statistic"]), tol), "{ctx} levene");
        assert!(common::close(lv.p_value, f(&e["p_value"]), tol), "{ctx} levene p");
        assert!(
            common::close(lv.mean_statistic, f(&e["mean_statistic"]), tol),
            "{ctx} levene mean"
        );
        assert!(common::close(lv.mean_p_value, f(&e["mean_p_value"]), tol), "{ctx} levene mean p");
    }
    eprintln!(
        "max relative difference vs statsmodels/scipy (ADF stat/p, LB q/p, Levene W/p): {worst:.3e}"
    );
}

fn ar1(phi: f64, n: usize, seed: u64) -> Vec<f64> {
    let mut r = Rng::new(seed);
    let mut x = 0.0;
    (0..n)
        .map(|_| {
            x = phi * x + r.normal();
            x
        })
        .collect()
}

#[test]
fn hurst_separates_random_persistent_and_antipersistent() {
    for seed in 1..4 {
        let rw = hurst(&ar1(0.0, 4000, seed)).value;
        assert!((0.4..0.62).contains(&rw), "white-noise increments H={rw}");
        let pers = hurst(&ar1(0.9, 4000, seed)).value;
        assert!(pers > 0.75, "persistent H={pers}");
        let ar = hurst(&ar1(-0.8, 4000, seed)).value;
        assert!(ar < rw, "anti-persistent AR(1) H={ar} not below white noise {rw}");
        // Over-differenced noise: the cumulative sum is bounded, strongly anti-persistent.
        let e = ar1(0.0, 4001, seed);
        let anti: Vec<f64> = e.windows(2).map(|w| w[1] - w[0]).collect();
        let anti = hurst(&anti).value;
        assert!(anti < 0.3, "anti-persistent H={anti}");
    }
}

#[test]
fn kalman_recovers_ramp_slope() {
    let p: Vec<f64> = (0..300).map(|i| 50_000.0 - 3.5 * i as f64).collect();
    let k = kalman(&p, None);
    assert!((k.velocity + 3.5).abs() < 1e-6, "velocity {}", k.velocity);
    assert!(k.acceleration.abs() < 1e-6);
    assert!((k.price - p[299]).abs() < 1e-6);
    assert!(k.signal < -0.99);
}

#[test]
fn monte_carlo_is_deterministic_and_sane() {
    let r: Vec<f64> = ar1(0.0, 199, 9).iter().map(|v| 0.0005 + 0.01 * v).collect();
    let p = MonteCarloParams::default();
    assert_eq!(p.paths, 10_000);
    let a = monte_carlo(&r, p);
    let b = monte_carlo(&r, p);
    assert_eq!(a, b);
    let c = monte_carlo(&r, MonteCarloParams { seed: 43, ..p });
    assert_ne!(a.gbm.prob_profit, c.gbm.prob_profit);
    // GBM P(profit) is Φ(μ√h/σ) for log-return mean μ and sd σ over h = 24 bars.
    let n = r.len() as f64;
    let mu = r.iter().sum::<f64>() / n;
    let sd = (r.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let expect = crpbot_strategies::swing::special::norm_cdf(mu * 24f64.sqrt() / sd);
    assert!((a.gbm.prob_profit - expect).abs() < 0.02, "{} vs {expect}", a.gbm.prob_profit);
    for s in [&a.gbm, &a.bootstrap] {
        assert!((0.2..0.98).contains(&s.prob_profit));
        assert!(s.var95 > 0.0 && s.cvar95 >= s.var95);
        assert!(s.drawdown_p95 >= s.drawdown_p50 && s.drawdown_max >= s.drawdown_p95);
    }
    assert!((-1.0..=1.0).contains(&a.signal));
}

#[test]
fn stat_tests_behave_on_simulated_series() {
    // A random walk is not stationary; an AR(1) with phi 0.5 is.
    let walk: Vec<f64> = ar1(1.0, 500, 3);
    assert!(adfuller(&walk).expect("adf").p_value > 0.05);
    assert!(adfuller(&ar1(0.5, 500, 3)).expect("adf").p_value < 0.01);
    let noise = ar1(0.0, 2000, 5);
    assert!(variance_ratio(&noise, 4).expect("vr").ratio.abs() - 1.0 < 0.1);
    assert!(variance_ratio(&ar1(0.5, 2000, 5), 4).expect("vr").ratio > 1.5);
    let a = ar1(0.0, 100, 1);
    let b: Vec<f64> = ar1(0.0, 100, 2).iter().map(|v| v * 3.0).collect();
    assert!(levene(&a, &b).expect("levene").p_value < 0.001);
    assert!(adfuller(&[1.0; 50]).is_err());
    assert!(acf(&[1.0, 2.0], 20).is_err());
}

#[test]
fn bayes_and_markov() {
    let b = bayes_win_rate(&[], 1.0);
    assert!((b.posterior_mean - 0.5).abs() < 1e-12);
    assert!((b.credible_90.0 - 0.05).abs() < 1e-9 && (b.credible_90.1 - 0.95).abs() < 1e-9);
    let wins: Vec<bool> = (0..100).map(|i| i % 4 != 0).collect();
    let b = bayes_win_rate(&wins, 1.0);
    assert!(b.credible_90.0 < b.posterior_mean && b.posterior_mean < b.credible_90.1);
    assert!(b.signal > 0.9);
    let c: Vec<f64> =
        (0..200).map(|i| 100.0 * (1.0 + 0.01 * (i as f64 * 0.3).sin()) + i as f64 * 0.2).collect();
    let h: Vec<f64> = c.iter().map(|v| v + 0.5).collect();
    let l: Vec<f64> = c.iter().map(|v| v - 0.5).collect();
    let m = markov(&h, &l, &c);
    assert_eq!(m.states.len(), 180);
    for row in &m.transition_matrix {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
    let p: f64 = m.next_state_probabilities.iter().map(|(_, p)| p).sum();
    assert!((p - 1.0).abs() < 1e-12);
}

// Sample bodies from /work/shared/docs/PROTOCOLS.md §5.
const GLOBAL_BODY: &str = r#"{"data": {
  "active_cryptocurrencies": 13690, "upcoming_icos": 0, "ongoing_icos": 49, "ended_icos": 3376, "markets": 1046,
  "total_market_cap": {"btc": 39003738.0847159, "eth": 803832137.207531, "usd": 2721226850772.63},
  "total_volume": {"usd": 81234567890.5},
  "market_cap_percentage": {"btc": 37.53026055852505, "eth": 18.514861036921754, "usdt": 6.6220281889796615, "usdc": 5.128350558454068, "bnb": 4.4340729878837655, "busd": 1.8956768492133416, "xrp": 1.5889825033074363, "ada": 1.4812113297298302, "sol": 1.0726319059476943, "doge": 0.798012928650601},
  "market_cap_change_percentage_24h_usd": -1.348771609207866,
  "updated_at": 1662035545
}}"#;
const FNG_BODY: &str = r#"{
  "name": "Fear and Greed Index",
  "data": [
    {"value": "54", "value_classification": "Neutral", "timestamp": "1713628800", "time_until_update": "3600"}
  ],
  "metadata": {"error": null}
}"#;

#[test]
fn context_parses_documented_bodies() {
    let g = parse_global(GLOBAL_BODY).expect("global");
    assert_eq!(g.btc_dominance_pct, Some(37.53026055852505));
    assert_eq!(g.market_cap_change_24h_pct, Some(-1.348771609207866));
    assert_eq!(g.total_market_cap_usd, Some(2721226850772.63));
    assert_eq!(g.updated_at, Some(1662035545));
    assert_eq!(g.market_cap_percentage.len(), 10);
    let f = parse_fear_greed(FNG_BODY).expect("fng");
    assert_eq!(
        (f.value, f.classification.as_str(), f.timestamp, f.time_until_update),
        (54.0, "Neutral", 1713628800, Some(3600))
    );
    let later = r#"{"data":[{"value":"20","value_classification":"Extreme Fear","timestamp":"1762560000"}],"metadata":{"error":null}}"#;
    assert_eq!(parse_fear_greed(later).expect("fng").time_until_update, None);
    assert!(parse_fear_greed(r#"{"data":[],"metadata":{"error":"boom"}}"#).is_err());
    assert!(parse_global(r#"{"status":{"error_code":429}}"#).is_err());
}

struct Offline;
impl ContextSource for Offline {
    fn get(&self, _url: &str) -> Result<String, ContextError> {
        Err(ContextError::Io(std::io::Error::other("offline")))
    }
}

#[test]
fn context_is_neutral_offline_and_cached_online() {
    let mut c = ContextClient::new(Offline);
    let m = c.get(0);
    assert_eq!(m.source, "neutral_offline");
    assert_eq!(m.signal, 0.0);
    assert_eq!(m.errors.len(), 2);

    // A one-shot mock HTTP server on 127.0.0.1 serving both bodies.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        use std::io::{BufRead, BufReader, Write};
        for _ in 0..2 {
            let (mut s, _) = listener.accept().expect("accept");
            let mut reader = BufReader::new(s.try_clone().expect("clone"));
            let mut line = String::new();
            reader.read_line(&mut line).expect("read");
            let mut header = String::new();
            while reader.read_line(&mut header).expect("read") > 2 {
                header.clear();
            }
            let body = if line.contains("/global") { GLOBAL_BODY } else { FNG_BODY };
            write!(s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}", body.len(), body).expect("write");
        }
    });
    let mut c = ContextClient::with_urls(
        HttpContextSource::default(),
        &format!("http://127.0.0.1:{port}/api/v3/global"),
        &format!("http://127.0.0.1:{port}/fng/?limit=1"),
    );
    let live = c.get(1_000);
    server.join().expect("server");
    assert_eq!(live.source, "live", "{:?}", live.errors);
    assert_eq!(live.fear_greed.as_ref().map(|f| f.value), Some(54.0));
    // (50-54)/50*0.5 + clamp(-1.3488/5)*0.5
    assert!((live.signal - (-0.04 - 0.1348771609207866)).abs() < 1e-12);
    // Within the TTL the cache answers (the server is gone).
    let cached = c.get(1_000 + 60_000);
    assert_eq!(cached.source, "cache");
    assert_eq!(cached.signal, live.signal);
}
