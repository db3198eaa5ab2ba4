//! Candle loading, resampling and trades → candles on the real recordings and on bad input.
mod common;

use crpbot_strategies::swing::{
    CandleError, Interval, LoadError, PartialPolicy, candles_from_trades, load_klines, load_trades,
    resample, validate_candles,
};

const HEADER: &str = "open_time_ms,open,high,low,close,volume,close_time_ms,quote_volume,trades,taker_buy_base_volume,taker_buy_quote_volume";

fn tmp(name: &str, body: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("crpbot_swing_{}_{name}", std::process::id()));
    std::fs::write(&p, body).expect("write tmp");
    p
}

#[test]
fn bad_kline_files_give_clear_errors() {
    assert!(matches!(load_klines(tmp("empty.csv", "")), Err(LoadError::Empty { .. })));
    assert!(matches!(
        load_klines(tmp("hdr.csv", &format!("{HEADER}\n"))),
        Err(LoadError::Empty { .. })
    ));
    assert!(matches!(load_klines(tmp("badhdr.csv", "a,b\n1,2\n")), Err(LoadError::Header { .. })));
    let nan = format!("{HEADER}\n0,1,NaN,0.5,1,1,3599999,1,1,0,0\n");
    assert!(matches!(
        load_klines(tmp("nan.csv", &nan)),
        Err(LoadError::NonFinite { line: 2, field: "high" })
    ));
    let back =
        format!("{HEADER}\n3600000,1,1,1,1,1,7199999,1,1,0,0\n0,1,1,1,1,1,3599999,1,1,0,0\n");
    let e = load_klines(tmp("back.csv", &back)).expect_err("non-monotonic");
    assert!(matches!(e, LoadError::NonMonotonic { line: 3, .. }), "{e}");
    assert!(e.to_string().contains("not after"));
    let ohlc = format!("{HEADER}\n0,1,0.5,0.9,1,1,3599999,1,1,0,0\n");
    assert!(matches!(
        load_klines(tmp("ohlc.csv", &ohlc)),
        Err(LoadError::Inconsistent { line: 2 })
    ));
    assert!(matches!(load_klines("/nonexistent/x.csv.gz"), Err(LoadError::Io { .. })));
    assert_eq!(validate_candles(&[]), Err(CandleError::Empty));
}

#[test]
fn btc_1h_keeps_gaps_and_short_bars() {
    let Some(c) = common::btc_1h() else { return };
    assert_eq!(c.len(), 64_126);
    let missing: i64 =
        c.windows(2).map(|w| (w[1].open_time_ms - w[0].open_time_ms) / 3_600_000 - 1).sum();
    assert!(missing >= 100, "expected real outages, found {missing} missing hours");
    let short = c.iter().filter(|b| b.close_time_ms != b.open_time_ms + 3_599_999).count();
    assert!(short > 0, "short close_time bars must be kept");
    assert_eq!(c.last().map(|b| b.open_time_ms), Some(1_746_054_000_000)); // 2025-04-30 23:00 UTC
}

#[test]
fn resampling_15m_to_1h_reproduces_binance_1h() {
    let (Some(p15), Some(p1h)) = (
        common::data_file("klines/BTCUSDT_15m.csv.gz"),
        common::data_file("klines/BTCUSDT_1h.csv.gz"),
    ) else {
        return;
    };
    let m15 = load_klines(p15).expect("15m");
    let h1 = load_klines(p1h).expect("1h");
    let ours = resample(&m15, Interval::M15, Interval::H1, PartialPolicy::Flag).expect("resample");
    let by_time: std::collections::HashMap<i64, _> =
        h1.iter().map(|c| (c.open_time_ms, *c)).collect();
    let mut compared = 0;
    for b in ours.iter().filter(|b| b.complete) {
        let Some(r) = by_time.get(&b.open_time_ms) else { continue };
        assert_eq!(
            (b.open, b.high, b.low, b.close),
            (r.open, r.high, r.low, r.close),
            "bar {}",
            b.open_time_ms
        );
        assert!(common::close(b.volume, r.volume, 1e-9), "volume at {}", b.open_time_ms);
        assert_eq!(b.trades, r.trades);
        assert_eq!(b.close_time_ms, b.open_time_ms + 3_599_999);
        compared += 1;
    }
    assert!(compared > 20_000, "compared {compared}");
    // 1h -> 4h -> 1d equals 1h -> 1d, aligned to UTC midnight.
    let d_direct = resample(&h1, Interval::H1, Interval::D1, PartialPolicy::Drop).expect("1d");
    let h4 = resample(&h1, Interval::H1, Interval::H4, PartialPolicy::Flag).expect("4h");
    let d_via = resample(&h4, Interval::H4, Interval::D1, PartialPolicy::Drop).expect("1d via 4h");
    assert_eq!(d_direct.len(), d_via.len());
    for (a, b) in d_direct.iter().zip(&d_via) {
        assert_eq!(
            (a.open_time_ms, a.open, a.high, a.low, a.close, a.trades, a.close_time_ms),
            (b.open_time_ms, b.open, b.high, b.low, b.close, b.trades, b.close_time_ms)
        );
        assert!(common::close(a.volume, b.volume, 1e-12), "volume at {}", a.open_time_ms);
    }
    assert!(d_direct.iter().all(|d| d.open_time_ms % 86_400_000 == 0 && d.complete));
    // Partial days across outages are flagged, not silently merged.
    let flagged = resample(&h1, Interval::H1, Interval::D1, PartialPolicy::Flag).expect("1d");
    assert!(flagged.iter().any(|d| !d.complete));
    assert_eq!(flagged.len() - d_direct.len(), flagged.iter().filter(|d| !d.complete).count());
    // Compare with Binance's own daily bars where the day is complete.
    if let Some(pd) = common::data_file("klines/BTCUSDT_1d.csv.gz") {
        let d1 = load_klines(pd).expect("1d");
        let m: std::collections::HashMap<i64, _> =
            d1.iter().map(|c| (c.open_time_ms, *c)).collect();
        let mut n = 0;
        for d in &d_direct {
            if let Some(r) = m.get(&d.open_time_ms) {
                assert_eq!((d.open, d.high, d.low, d.close), (r.open, r.high, r.low, r.close));
                n += 1;
            }
        }
        assert!(n > 2000);
    }
    assert!(resample(&h1, Interval::H1, Interval(5_400_000), PartialPolicy::Flag).is_err());
}

#[test]
fn trades_build_candles() {
    let Some(p) =
        common::data_file("trades/binance_spot_BTCUSDT_trades_20240808T2354_20240809T0005.csv.gz")
    else {
        return;
    };
    let t = load_trades(p).expect("trades");
    assert_eq!(t.len(), 19_904);
    assert!(t.windows(2).all(|w| w[1].trade_id == w[0].trade_id + 1));
    let m1 = candles_from_trades(&t, Interval::M1);
    assert!((11..=13).contains(&m1.len()), "{} minute bars", m1.len());
    assert!(!m1[0].complete && !m1[m1.len() - 1].complete && m1[1].complete);
    let vol: f64 = t.iter().map(|x| x.qty).sum();
    assert!(common::close(m1.iter().map(|c| c.volume).sum(), vol, 1e-12));
    assert_eq!(m1.iter().map(|c| c.trades).sum::<u64>(), 19_904);
    for c in &m1 {
        assert!(c.low <= c.open && c.open <= c.high && c.low <= c.close && c.close <= c.high);
        assert_eq!(c.open_time_ms % 60_000, 0);
    }
    // 1m -> 5m resample equals 5m straight from trades (OHLCV) for every bucket.
    let m5 = candles_from_trades(&t, Interval::M5);
    let r5 = resample(&m1, Interval::M1, Interval::M5, PartialPolicy::Flag).expect("5m");
    assert_eq!(m5.len(), r5.len());
    for (a, b) in m5.iter().zip(&r5) {
        assert_eq!(
            (a.open_time_ms, a.open, a.high, a.low, a.close, a.trades),
            (b.open_time_ms, b.open, b.high, b.low, b.close, b.trades)
        );
        assert!(common::close(a.volume, b.volume, 1e-12));
    }
}
