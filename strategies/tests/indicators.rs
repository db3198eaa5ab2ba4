//! Every indicator equals TA-Lib (or the numpy reference for non-TA-Lib ones) on BTCUSDT 1h.
mod common;

use crpbot_strategies::swing::{INDICATOR_NAMES, Indicators};

#[test]
fn indicators_match_talib_on_btc_1h() {
    let Some(candles) = common::btc_1h() else { return };
    let fx = common::fixture("indicators_btc_1h.json");
    assert_eq!(fx["n_bars"].as_u64(), Some(candles.len() as u64));
    let ind = Indicators::compute(&candles);
    let idx: Vec<usize> = fx["indices"]
        .as_array()
        .expect("indices")
        .iter()
        .map(|v| v.as_u64().expect("u64") as usize)
        .collect();
    let mut failures = Vec::new();
    let mut worst = (0.0f64, "");
    for name in INDICATOR_NAMES {
        let exp = fx["series"][name].as_array().unwrap_or_else(|| panic!("fixture lacks {name}"));
        let got = ind.get(name).expect("series");
        let mut checked = 0;
        for (k, &i) in idx.iter().enumerate() {
            match exp[k].as_f64() {
                None => {
                    if !got[i].is_nan() {
                        failures.push(format!("{name}[{i}]: expected warm-up NaN, got {}", got[i]));
                    }
                }
                Some(e) => {
                    checked += 1;
                    let rel = (got[i] - e).abs() / e.abs().max(1e-9);
                    if rel > worst.0 && (got[i] - e).abs() > 1e-9 {
                        worst = (rel, name);
                    }
                    if !common::close(got[i], e, 1e-6) {
                        failures.push(format!("{name}[{i}]: got {} expected {e}", got[i]));
                    }
                }
            }
        }
        assert!(checked > 300, "{name}: only {checked} values checked");
    }
    eprintln!("max relative difference vs TA-Lib/numpy: {:.3e} ({})", worst.0, worst.1);
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures[..failures.len().min(40)].join("\n")
    );
}
