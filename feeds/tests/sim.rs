//! The market simulator: determinism, book invariants through the real `BookSet`, trades
//! consistent with the book, the configured correlation, spread, depth and rate, and the
//! defaults against the Binance recording they were calibrated on.
#![allow(clippy::unwrap_used)]

mod common;

use crpbot_book::BookConfig;
use crpbot_core::{BookState, InstrumentId, MarketEvent, Registry, Side, Venue};
use crpbot_feeds::books::{BookEffect, BookSet};
use crpbot_feeds::replay::{BinanceReplay, Published, ReplaySink};
use crpbot_feeds::sim::{SimConfig, SimConfigError, SimInstrument, Simulator};

fn fnv(h: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn stream_hash(seed: u64, batches: u64) -> (u64, u64) {
    let reg = Registry::with_defaults();
    let cfg = SimConfig { max_batches: Some(batches), ..SimConfig::new(seed) };
    let mut sim = Simulator::new(&reg, cfg).unwrap();
    let mut out = Vec::new();
    let (mut h, mut n) = (0xcbf2_9ce4_8422_2325u64, 0u64);
    while let Some(ts) = sim.next_batch(&mut out) {
        h = fnv(h, &ts.to_le_bytes());
        for e in &out {
            h = fnv(h, format!("{e:?}").as_bytes());
            n += 1;
        }
    }
    (h, n)
}

#[test]
fn same_seed_same_stream_other_seed_other_stream() {
    let a = stream_hash(42, 20_000);
    assert_eq!(a, stream_hash(42, 20_000));
    assert_ne!(a.0, stream_hash(43, 20_000).0);
    assert!(a.1 > 100_000, "{} events", a.1);
}

#[test]
fn books_are_never_crossed_and_trades_hit_the_touch() {
    let reg = Registry::with_defaults();
    let cfg = SimConfig { max_batches: Some(200_000), ..SimConfig::new(1) };
    let mut sim = Simulator::new(&reg, cfg).unwrap();
    let mut books = BookSet::new(reg.len(), BookConfig::default());
    let mut out = Vec::new();
    let (mut published, mut trades, mut last_ts) = (0u64, 0u64, 0i64);
    let mut synced = std::collections::HashSet::new();
    while let Some(ts) = sim.next_batch(&mut out) {
        assert!(ts >= last_ts, "simulated clock went back");
        last_ts = ts;
        let lasts =
            out.iter().filter(|e| matches!(e, MarketEvent::Level(l) if l.is_last())).count();
        assert!(lasts <= 1, "one LAST per batch");
        for e in &out {
            assert_eq!(e.ts_exch_ns(), ts);
            if let MarketEvent::Trade(t) = e {
                let tb = books.get(t.instrument).unwrap();
                assert!(tb.is_valid());
                let touch = tb.book.best(t.aggressor.opposite()).unwrap();
                assert_eq!(t.px, touch.px, "a trade prints at the touch");
                assert!(t.qty.0 > 0 && t.qty <= touch.qty);
                trades += 1;
            }
            if let MarketEvent::Level(l) = e {
                assert!(
                    l.is_snapshot() || synced.contains(&l.instrument),
                    "levels before snapshot"
                );
            }
            if let MarketEvent::State(s) = e {
                assert_eq!(s.state, BookState::Synced);
                synced.insert(s.instrument);
            }
            match books.apply(e) {
                BookEffect::Updated => published += 1,
                BookEffect::None => {}
                // Only the snapshot's last level, before its Synced.
                BookEffect::Unpublishable => {
                    assert!(matches!(e, MarketEvent::Level(l) if l.is_snapshot()))
                }
                bad => panic!("{bad:?} after {e:?}"),
            }
        }
    }
    assert_eq!(synced.len(), 4);
    assert_eq!(books.stats().crossed, 0);
    assert!(published > 150_000 && trades > 20_000, "{published} {trades}");
    // The event stream describes the simulator's own book exactly.
    for id in sim.instruments() {
        let (a, b) = (&books.get(id).unwrap().book, sim.book(id).unwrap());
        for side in [Side::Buy, Side::Sell] {
            assert!(a.levels(side).eq(b.levels(side)), "{id:?} {side:?}");
            assert_eq!(a.level_count(side), 20);
        }
    }
}

/// Pearson correlation of two equally long series.
fn corr(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    cov / (vx * vy).sqrt()
}

/// BTC and ETH mid log returns sampled every simulated second over 2,000 s.
fn mid_returns(rho: f64, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let reg = Registry::with_defaults();
    let cfg = SimConfig {
        instruments: vec![SimInstrument::btc(), SimInstrument::eth()],
        correlation: vec![1.0, rho, rho, 1.0],
        rate_hz: 200.0,
        duration_ns: Some(2_000_000_000_000),
        ..SimConfig::new(seed)
    };
    let ids = [b"BTC-SIM", b"ETH-SIM"].map(|s| reg.lookup(Venue::Sim, s).unwrap());
    let mut sim = Simulator::new(&reg, cfg).unwrap();
    let start = sim.now_ns();
    let mut books = BookSet::new(reg.len(), BookConfig::default());
    let mut out = Vec::new();
    let (mut rx, mut ry, mut prev) = (Vec::new(), Vec::new(), None::<(f64, f64)>);
    let mut next_sample = start + 1_000_000_000;
    while let Some(ts) = sim.next_batch(&mut out) {
        while ts >= next_sample {
            let mid = |id: InstrumentId| books.get(id).unwrap().book.mid_ticks().unwrap().ln();
            let now = (mid(ids[0]), mid(ids[1]));
            if let Some(p) = prev {
                rx.push(now.0 - p.0);
                ry.push(now.1 - p.1);
            }
            prev = Some(now);
            next_sample += 1_000_000_000;
        }
        for e in &out {
            books.apply(e);
        }
    }
    (rx, ry)
}

#[test]
fn btc_eth_mid_returns_have_the_configured_correlation() {
    for rho in [0.8, 0.3] {
        let (x, y) = mid_returns(rho, 9);
        let c = corr(&x, &y);
        println!("configured {rho}: measured {c:.3} over {} one-second returns", x.len());
        assert!(x.len() > 1_900);
        assert!((c - rho).abs() < 0.06, "configured {rho}, measured {c}");
    }
}

#[test]
fn spread_depth_and_rate_are_as_configured() {
    let reg = Registry::with_defaults();
    let cfg =
        SimConfig { burst_prob: 0.0, duration_ns: Some(100_000_000_000), ..SimConfig::new(5) };
    let btc = reg.lookup(Venue::Sim, b"BTC-SIM").unwrap();
    let lot = reg.get(btc).qty.increment_f64();
    let p = SimInstrument::btc();
    let mut sim = Simulator::new(&reg, cfg).unwrap();
    let mut out = Vec::new();
    let (mut spreads, mut touch, mut deep, mut dist19) = (vec![], vec![], vec![], vec![]);
    let mut batches = 0u64;
    while sim.next_batch(&mut out).is_some() {
        batches += 1;
        if !batches.is_multiple_of(10) {
            continue;
        }
        let b = sim.book(btc).unwrap();
        spreads.push(b.spread_ticks().unwrap());
        let bids: Vec<_> = b.levels(Side::Buy).collect();
        touch.push(bids[0].qty.0 as f64 * lot);
        deep.extend(bids[1..].iter().map(|l| l.qty.0 as f64 * lot));
        dist19.push((bids[0].px.0 - bids[19].px.0) as f64);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    spreads.sort();
    let (t, d, g) = (median(&mut touch), median(&mut deep), median(&mut dist19) / 19.0);
    println!(
        "batches {batches}; median spread {} ticks; touch {t:.3}, depth {d:.4}, gap {g:.1} ticks",
        spreads[spreads.len() / 2]
    );
    // 1,000 batches/s for 100 s (Poisson: ±1 %), plus the four snapshots.
    assert!((99_000..=101_000).contains(&batches), "{batches}");
    assert_eq!(spreads[spreads.len() / 2], i64::from(p.median_spread_ticks));
    let near = |got: f64, want: f64| (got / want - 1.0).abs() <= 0.15;
    assert!(near(t, p.touch_qty), "touch {t} vs {}", p.touch_qty);
    assert!(near(d, p.depth_qty), "depth {d} vs {}", p.depth_qty);
    assert!(near(g, p.level_gap_ticks), "gap {g} vs {}", p.level_gap_ticks);
}

#[test]
fn bad_configs_are_refused() {
    let reg = Registry::with_defaults();
    let bad_corr = SimConfig::new(1).with_btc_eth_correlation(1.5);
    assert_eq!(Simulator::new(&reg, bad_corr).unwrap_err(), SimConfigError::Correlation);
    let not_pd = SimConfig {
        instruments: vec![SimInstrument::btc(), SimInstrument::eth(), SimInstrument::sol()],
        correlation: vec![1.0, 0.9, -0.9, 0.9, 1.0, 0.9, -0.9, 0.9, 1.0],
        ..SimConfig::new(1)
    };
    assert_eq!(Simulator::new(&reg, not_pd).unwrap_err(), SimConfigError::Correlation);
    let unknown = SimConfig {
        instruments: vec![SimInstrument { symbol: "BTCUSDT".into(), ..SimInstrument::btc() }],
        correlation: vec![1.0],
        ..SimConfig::new(1)
    };
    assert!(matches!(Simulator::new(&reg, unknown), Err(SimConfigError::UnknownInstrument(_))));
    let zero_rate = SimConfig { rate_hz: 0.0, ..SimConfig::new(1) };
    assert_eq!(Simulator::new(&reg, zero_rate).unwrap_err(), SimConfigError::Param("rate_hz"));
    let none = SimConfig { instruments: vec![], correlation: vec![], ..SimConfig::new(1) };
    assert_eq!(Simulator::new(&reg, none).unwrap_err(), SimConfigError::NoInstruments);
}

/// Samples every 5th published book and every trade of a Binance recording.
#[derive(Default)]
struct Calib {
    n: u64,
    spreads: Vec<i64>,
    touch: Vec<f64>,
    deep: Vec<f64>,
    gap: Vec<f64>,
    trades: Vec<f64>,
    lot: f64,
}

impl ReplaySink for Calib {
    fn on_book(&mut self, p: &Published<'_>) {
        self.n += 1;
        if !self.n.is_multiple_of(5) {
            return;
        }
        let b = &p.book.book;
        self.spreads.push(b.spread_ticks().unwrap());
        // Both sides pooled.
        for side in [Side::Buy, Side::Sell] {
            let lv: Vec<_> = b.levels(side).take(20).collect();
            self.touch.push(lv[0].qty.0 as f64 * self.lot);
            self.deep.extend(lv[1..].iter().map(|l| l.qty.0 as f64 * self.lot));
            self.gap.push((lv[0].px.0 - lv[19].px.0).abs() as f64 / 19.0);
        }
    }
    fn on_event(&mut self, e: &MarketEvent) {
        if let MarketEvent::Trade(t) = e {
            self.trades.push(t.qty.0 as f64 * self.lot);
        }
    }
}

/// The sim defaults are the figures measured on the recording (within rounding).
#[test]
fn sim_defaults_match_the_recording() {
    let Some(dir) = common::data_dir() else { return };
    let reg = Registry::with_defaults();
    for (symbol, p) in [("btcusdt", SimInstrument::btc()), ("ethusdt", SimInstrument::eth())] {
        let files: Vec<_> = ["20240808", "20240809"]
            .iter()
            .map(|d| dir.join(format!("binance-spot-l2/{symbol}_{d}.gz")))
            .collect();
        let mut c = Calib { lot: 1e-8, ..Calib::default() };
        BinanceReplay::new(&reg, Venue::BinanceSpot).run(&files, &mut c);
        let med = |v: &mut Vec<f64>| {
            v.sort_by(|a, b| a.total_cmp(b));
            v[v.len() / 2]
        };
        c.spreads.sort();
        let spread = c.spreads[c.spreads.len() / 2];
        let (t, d, g, tr) =
            (med(&mut c.touch), med(&mut c.deep), med(&mut c.gap), med(&mut c.trades));
        let ln: Vec<f64> = c.trades.iter().map(|q| q.ln()).collect();
        let m = ln.iter().sum::<f64>() / ln.len() as f64;
        let sigma = (ln.iter().map(|x| (x - m).powi(2)).sum::<f64>() / ln.len() as f64).sqrt();
        println!(
            "{symbol}: {} samples, median spread {spread}, touch {t:.4}, depth {d:.4}, gap {g:.2}, \
             trade median {tr:.5}, log sigma {sigma:.2}",
            c.spreads.len()
        );
        let near = |got: f64, want: f64, tol: f64| (got / want - 1.0).abs() <= tol;
        assert_eq!(spread, i64::from(p.median_spread_ticks));
        assert!(near(t, p.touch_qty, 0.05), "{symbol} touch {t} vs {}", p.touch_qty);
        assert!(near(d, p.depth_qty, 0.05), "{symbol} depth {d} vs {}", p.depth_qty);
        assert!(near(g, p.level_gap_ticks, 0.05), "{symbol} gap {g} vs {}", p.level_gap_ticks);
        assert!(near(tr, p.trade_median_qty, 0.05), "{symbol} trade {tr}");
        assert!(near(sigma, p.trade_log_sigma, 0.05), "{symbol} sigma {sigma}");
    }
}
