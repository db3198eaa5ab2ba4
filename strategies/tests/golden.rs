//! Golden output: `analyze` of the last BTCUSDT 1h bar and a `trend` walk-forward summary,
//! compared byte for byte with the committed text; regenerate on purpose with
//! `UPDATE_EXPECT=1 cargo test -p crpbot-strategies --test golden`.
mod common;

use crpbot_strategies::swing::{WalkForward, analyze, swing_backtest};

fn check(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name);
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing {name}; run with UPDATE_EXPECT=1"));
    if expected != actual {
        let line = expected.lines().zip(actual.lines()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "{name} differs from the golden file at line {}: expected {:?}, got {:?} (UPDATE_EXPECT=1 to accept)",
            line + 1,
            expected.lines().nth(line),
            actual.lines().nth(line)
        );
    }
}

#[test]
fn golden_analyze_and_walk_forward() {
    let Some(c) = common::btc_1h() else { return };
    let a = analyze(&c, 200, None).expect("analyze");
    let mut j = a.to_json();
    // Keep the golden file small: drop the per-bar regime list.
    if let Some(m) = j.get_mut("markov").and_then(|m| m.as_object_mut()) {
        m.remove("states");
    }
    check(
        "golden_analyze_btc_1h_last.json",
        &(serde_json::to_string_pretty(&j).expect("json") + "\n"),
    );
    let r = swing_backtest(&c, "trend", WalkForward::default()).expect("wf");
    let mut s = serde_json::to_value(&r).expect("json");
    if let Some(o) = s.as_object_mut() {
        o.remove("folds");
    }
    s["n_folds"] = r.folds.len().into();
    check(
        "golden_walk_forward_trend_btc_1h.json",
        &(serde_json::to_string_pretty(&s).expect("json") + "\n"),
    );
}
