//! `crpbot signals list|show|stats|export|replay` on a store filled through the library, and
//! their errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::crpbot;
use crpbot_strategies::swing::signal::outcome::{ClosedResult, TheoryScore};
use crpbot_strategies::swing::signal::store::{CSV_HEADER, LlmUsageRow, SignalStore};
use crpbot_strategies::swing::signal::{
    Direction, ExitReason, Outcome, Regime, SwingSignal, TheoryValues,
};

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "crpbot-cli-signals-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        ));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn signal(i: i64) -> SwingSignal {
    let mut theories = TheoryValues::new();
    theories.insert("kalman".into(), 0.5 - i as f64 * 0.1);
    theories.insert("hurst".into(), -0.25);
    let dir = [Direction::Long, Direction::Short, Direction::Hold][(i % 3) as usize];
    SwingSignal {
        symbol: "BTCUSDT".into(),
        bar_open_time_ms: 1_714_521_600_000 + i * 3_600_000,
        created_ms: 1_714_525_200_000 + i * 3_600_000,
        direction: dir,
        confidence: 70.0 + i as f64,
        entry: 60_000.0,
        stop_loss: if dir == Direction::Short { 61_000.0 } else { 59_000.0 },
        take_profit: if dir == Direction::Short { 58_000.0 } else { 62_000.0 },
        reasoning: format!("reason {i}, with a comma"),
        key_factors: vec!["kalman".into()],
        variant: if i % 2 == 0 { "math-v1" } else { "llm-test" }.into(),
        regime: Regime::Trending,
        theories,
        raw_response: Some(format!("RAW-RESPONSE-{i}")),
        hold_reason: None,
    }
}

/// A store with 6 signals: 1 (LONG, math) won, 2 (SHORT, llm) lost, 4 (LONG, llm) open.
fn fill(db: &Path) {
    let mut store = SignalStore::open(db).unwrap();
    for i in 0..6 {
        store
            .insert_signal(&signal(i), Some(if i == 5 { "rejected: test" } else { "ok" }))
            .unwrap();
    }
    let close = |id: i64, pnl: f64, outcome| {
        let s = signal(id - 1);
        ClosedResult {
            signal_id: id,
            symbol: s.symbol.clone(),
            variant: s.variant.clone(),
            direction: s.direction,
            entry: 60_000.0,
            exit: 60_000.0 * (1.0 + pnl / 100.0),
            pnl_pct: pnl,
            outcome,
            exit_reason: if pnl > 0.0 { ExitReason::TakeProfit } else { ExitReason::StopLoss },
            opened_ms: s.created_ms,
            closed_ms: s.created_ms + 3_600_000,
            hold_minutes: 60.0,
            max_adverse_pct: -0.5,
            max_favorable_pct: 3.0,
            theories: s.theories.clone(),
            theory_scores: vec![TheoryScore {
                theory: "kalman".into(),
                value: 0.5,
                contribution: 0.5,
                correct: pnl > 0.0,
            }],
        }
    };
    store.close_result(&close(1, 3.3, Outcome::Win)).unwrap();
    store.close_result(&close(2, -1.7, Outcome::Loss)).unwrap();
    store.open_result(4, 60_010.0, signal(3).created_ms).unwrap();
    store
        .insert_llm_usage(&LlmUsageRow {
            ts_ms: 1,
            model: "deepseek-chat".into(),
            prompt_tokens: 1234,
            completion_tokens: 56,
            cache_hit_tokens: 1000,
            cost_usd: 0.0042,
            status: "ok".into(),
        })
        .unwrap();
}

fn run_ok(args: &[&str]) -> String {
    let out = crpbot().args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn run_err(args: &[&str]) -> String {
    let out = crpbot().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn list_and_show() {
    let dir = TempDir::new("list");
    let db = dir.0.join("s.sqlite");
    fill(&db);
    let db = db.to_str().unwrap();
    let text = run_ok(&["signals", "--db", db, "list"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 7, "header + 6 rows:\n{text}");
    assert!(lines[0].contains("variant") && lines[0].contains("pnl%"));
    assert!(lines[1].trim_start().starts_with('6'), "newest first:\n{text}");
    let row1 = lines.iter().find(|l| l.trim_start().starts_with("1 ")).unwrap();
    assert!(row1.contains("win") && row1.contains("3.300") && row1.contains("math-v1"), "{row1}");
    let row4 = lines.iter().find(|l| l.trim_start().starts_with("4 ")).unwrap();
    assert!(row4.contains("open"), "{row4}");
    let row5 = lines.iter().find(|l| l.trim_start().starts_with("5 ")).unwrap();
    assert!(row5.contains("SHORT") && row5.contains("pending"), "{row5}");
    assert!(lines[1].contains("rejected"), "{}", lines[1]);

    // --db after the subcommand, filters, JSON.
    let json = run_ok(&["signals", "list", "--db", db, "--variant", "llm-test", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let ids: Vec<i64> = v.as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![6, 4, 2]);
    let json =
        run_ok(&["signals", "--db", db, "list", "--direction", "long", "--limit", "1", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["signal"]["direction"], "LONG");
    assert!(run_err(&["signals", "--db", db, "list", "--direction", "up"]).contains("--direction"));

    let text = run_ok(&["signals", "--db", db, "show", "1"]);
    for want in [
        "signal 1",
        "LONG",
        "math-v1",
        "reason 0, with a comma",
        "RAW-RESPONSE-0",
        "kalman",
        "win take_profit",
        "pnl 3.3000 %",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    let json = run_ok(&["signals", "--db", db, "show", "2", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["signal"]["direction"], "SHORT");
    assert_eq!(v["result"]["outcome"], "loss");
    assert_eq!(v["result"]["pnl_pct"], -1.7);
    assert_eq!(v["signal"]["theories"]["hurst"], -0.25);
    assert!(run_err(&["signals", "--db", db, "show", "99"]).contains("no signal with id 99"));
}

#[test]
fn stats_text_and_json() {
    let dir = TempDir::new("stats");
    let db = dir.0.join("s.sqlite");
    fill(&db);
    // The default path comes from CRPBOT_SIGNALS_DB.
    let out = crpbot().args(["signals", "stats"]).env("CRPBOT_SIGNALS_DB", &db).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "6 signals",
        "by variant",
        "math-v1",
        "llm-test",
        "by theory",
        "kalman",
        "A/B",
        "UNDERPOWERED",
        "1 calls",
        "$0.0042",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    let db = db.to_str().unwrap();
    let v: serde_json::Value = serde_json::from_str(&run_ok(&[
        "signals", "--db", db, "stats", "--json", "--effect", "0.2",
    ]))
    .unwrap();
    assert_eq!(v["stats"]["signals"], 6);
    let math = v["stats"]["by_variant"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "math-v1")
        .unwrap();
    assert_eq!((math["signals"].as_i64(), math["closed"]["wins"].as_i64()), (Some(3), Some(1)));
    // One win from a Beta(1,1) prior: Beta(2,1), mean 2/3.
    assert!((math["win_rate"]["mean"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12);
    let llm = v["stats"]["by_variant"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == "llm-test")
        .unwrap();
    assert_eq!((llm["open"].as_i64(), llm["closed"]["losses"].as_i64()), (Some(1), Some(1)));
    assert_eq!(v["ab"]["arms"].as_array().unwrap().len(), 2);
    assert_eq!(v["ab"]["config"]["effect"], 0.2);
    // 0.5 vs 0.7: (1.959964·√(2·0.6·0.4) + 0.841621·√(0.25+0.21))² / 0.04 = 92.998 → 93.
    assert_eq!(v["ab"]["comparisons"][0]["required_n_per_arm"], 93);
    assert_eq!(v["stats"]["usage"]["prompt_tokens"], 1234);
}

#[test]
fn export_csv_to_file_and_stdout() {
    let dir = TempDir::new("export");
    let db = dir.0.join("s.sqlite");
    fill(&db);
    let db = db.to_str().unwrap();
    let f = dir.0.join("out.csv");
    let out = crpbot()
        .args(["signals", "--db", db, "export", "--csv", "--out"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exported 6 signals"));
    let text = std::fs::read_to_string(&f).unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 7);
    assert_eq!(lines[0], CSV_HEADER);
    assert!(lines[1].starts_with("1,BTCUSDT,") && lines[1].contains("\"reason 0, with a comma\""));
    assert!(lines[1].contains(",win,take_profit,"), "{}", lines[1]);
    assert_eq!(run_ok(&["signals", "--db", db, "export", "--csv"]), text, "stdout = file");
    assert!(run_err(&["signals", "--db", db, "export"]).contains("--csv"));
}

#[test]
fn missing_store_and_unknown_synth_are_errors() {
    let dir = TempDir::new("err");
    let db = dir.0.join("absent.sqlite");
    let e = run_err(&["signals", "--db", db.to_str().unwrap(), "list"]);
    assert!(e.contains("no signal store at"), "{e}");
    assert!(!db.exists(), "a read command must not create the file");
    let e = run_err(&[
        "signals",
        "--db",
        db.to_str().unwrap(),
        "replay",
        "--candles",
        "x.csv",
        "--synth",
        "nope",
    ]);
    assert!(e.contains("unknown synthesiser"), "{e}");
}

fn btc_hourly() -> Option<PathBuf> {
    let data = std::env::var_os("CRPBOT_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data"))
    });
    let file = data.join("klines/BTCUSDT_1h.csv.gz");
    if file.is_file() {
        Some(file)
    } else {
        eprintln!("skipping: {} not found (set CRPBOT_DATA_DIR)", file.display());
        None
    }
}

/// `crpbot signals --db DB replay --candles FILE --synth math --every 24 ARGS…` without an
/// LLM key in the environment.
fn replay_math(db: &str, file: &Path, args: &[&str]) -> String {
    let out = crpbot()
        .env_remove("CRPBOT_LLM_KEY")
        .env_remove("DEEPSEEK_API_KEY")
        .args(["signals", "--db", db, "replay", "--synth", "math", "--every", "24", "--candles"])
        .arg(file)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn by_key<'a>(groups: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    groups.as_array().unwrap().iter().find(|g| g["key"] == key).unwrap()
}

/// Four months of BTC hourly candles through the math synthesiser (no key): signals are
/// stored, validated, closed; the per-variant and per-theory statistics agree with
/// `crpbot signals stats`; the weights learn from the closed results, and a later replay
/// into the same store starts from them.
#[test]
fn replay_math_months_learns_and_matches_stats() {
    let Some(file) = btc_hourly() else { return };
    let dir = TempDir::new("replay");
    let db = dir.0.join("r.sqlite");
    let db = db.to_str().unwrap();
    let json = replay_math(db, &file, &["--from", "2024-01-01", "--to", "2024-05-01", "--json"]);
    let rep: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(rep["symbol"], "BTCUSDT");
    // 2024-01-01 00:00 .. 2024-05-01 00:00: 121 days + 1 hour of bars, one analysis a day.
    assert_eq!(rep["bars"], 121 * 24 + 1);
    assert_eq!(rep["analyses"], 122);
    assert_eq!(rep["signals"], 122);
    let n = |k: &str| rep[k].as_u64().unwrap();
    let closed = n("closed");
    assert!(n("actionable") > 0 && closed > 0, "{rep}");
    // Every tracked signal closed, expired or is still unresolved.
    let tracked = n("actionable") - n("rejected") - n("untrackable");
    assert_eq!(tracked, closed + n("expired") + n("unresolved_at_end"), "{rep}");
    assert!(closed <= n("filled"), "{rep}");

    // Per variant: the scoreboard, the A/B arm and the store agree.
    let board = &rep["scoreboard"]["by_variant"]["math-v1"];
    let (wins, losses, even) = (
        board["wins"].as_u64().unwrap(),
        board["losses"].as_u64().unwrap(),
        board["breakeven"].as_u64().unwrap(),
    );
    assert_eq!(wins + losses + even, closed);
    let arms = rep["ab"]["arms"].as_array().unwrap();
    assert_eq!(arms.len(), 1);
    assert_eq!(
        (arms[0]["variant"].as_str(), arms[0]["n"].as_u64()),
        (Some("math-v1"), Some(closed))
    );
    assert_eq!(arms[0]["wins"].as_u64(), Some(wins));
    let st: serde_json::Value =
        serde_json::from_str(&run_ok(&["signals", "--db", db, "stats", "--json"])).unwrap();
    let g = by_key(&st["stats"]["by_variant"], "math-v1");
    assert_eq!(g["signals"].as_u64(), Some(n("signals")));
    assert_eq!(g["actionable"].as_u64(), Some(n("actionable")));
    assert_eq!(g["expired"].as_u64(), Some(n("expired")));
    assert_eq!(
        (g["closed"]["wins"].as_u64(), g["closed"]["losses"].as_u64()),
        (Some(wins), Some(losses))
    );
    assert_eq!(g["closed"]["breakeven"].as_u64(), Some(even));
    assert_eq!(st["ab"]["arms"][0]["n"].as_u64(), Some(closed));
    // Per theory: non-empty, and the same counts in the report and the store.
    let theories = rep["scoreboard"]["by_theory"].as_object().unwrap();
    assert!(theories.len() >= 9, "{rep}");
    let stored = st["stats"]["by_theory"].as_array().unwrap();
    assert_eq!(stored.len(), theories.len());
    for t in stored {
        let r = &theories[t["theory"].as_str().unwrap()];
        assert_eq!(
            (t["n"].as_u64(), t["correct"].as_u64()),
            (r["n"].as_u64(), r["correct"].as_u64())
        );
        assert!(t["n"].as_u64().unwrap() <= closed);
    }
    // Validation ran: every stored signal has a verdict, and the rejections match.
    let listed: serde_json::Value = serde_json::from_str(&run_ok(&[
        "signals", "--db", db, "list", "--limit", "1000", "--json",
    ]))
    .unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len() as u64, n("signals"));
    let rejected = listed
        .iter()
        .filter(|s| s["validation"].as_str().unwrap().starts_with("rejected: "))
        .count() as u64;
    assert_eq!(rejected, n("rejected"));
    assert!(listed.iter().all(|s| s["signal"]["variant"] == "math-v1"));

    // Learning: one update per closed result, and the weights moved off the default.
    let math = &rep["math"];
    assert_eq!(math["updates"].as_u64(), Some(closed));
    let w = math["weights"].as_object().unwrap();
    assert_eq!(w.len(), 11);
    let equal = 1.0 / 11.0;
    assert!(
        math["weights_initial"]
            .as_object()
            .unwrap()
            .values()
            .all(|v| (v.as_f64().unwrap() - equal).abs() < 1e-12)
    );
    let moved = w.values().map(|v| (v.as_f64().unwrap() - equal).abs()).fold(0.0, f64::max);
    assert!(moved > 1e-3, "weights did not learn: {w:?}");
    assert!((w.values().map(|v| v.as_f64().unwrap()).sum::<f64>() - 1.0).abs() < 1e-9);

    // The next replay into this store starts from the learned weights (pretty output).
    let json = replay_math(db, &file, &["--from", "2024-05-02", "--to", "2024-05-03", "--json"]);
    let next: serde_json::Value = serde_json::from_str(&json).unwrap();
    for (k, v) in w {
        let again = next["math"]["weights_initial"][k].as_f64().unwrap();
        assert!((again - v.as_f64().unwrap()).abs() < 1e-12, "{k}: {again} vs {v}");
    }
    let text = replay_math(db, &file, &["--from", "2024-05-04", "--to", "2024-05-04"]);
    for want in ["per variant", "per theory", "math weights after 0 updates", "kalman", "store: "] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
}

#[test]
fn llm_replay_without_a_key_is_an_error() {
    let dir = TempDir::new("nokey");
    let db = dir.0.join("r.sqlite");
    let out = crpbot()
        .env_remove("CRPBOT_LLM_KEY")
        .env_remove("DEEPSEEK_API_KEY")
        .args(["signals", "--db", db.to_str().unwrap(), "replay", "--candles", "x.csv"])
        .args(["--synth", "math", "--synth", "llm"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("--synth llm needs an LLM key"), "{e}");
}
