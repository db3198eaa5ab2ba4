//! The signal store: round trip, immutability triggers, migrations (from empty, from a v1
//! file with data, refusal of a newer file), results, usage, stats and CSV export.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)]

use std::path::PathBuf;

use crpbot_strategies::swing::signal::outcome::{ClosedResult, TheoryScore, TrackerEvent};
use crpbot_strategies::swing::signal::store::{
    CSV_HEADER, LlmUsageRow, SignalFilter, SignalStore, StoreError, schema,
};
use crpbot_strategies::swing::signal::{
    Direction, ExitReason, Outcome, Regime, SwingSignal, THEORY_NAMES, TheoryValues,
};
use rusqlite::Connection;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "crpbot-store-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        ));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
    fn db(&self) -> PathBuf {
        self.0.join("signals.sqlite")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sample(i: i64) -> SwingSignal {
    let mut theories = TheoryValues::new();
    for (k, name) in THEORY_NAMES.iter().enumerate() {
        // Awkward floats on purpose: the JSON column must give back the identical bits.
        theories
            .insert((*name).to_string(), ((k as f64 + 1.0) * 0.1 + i as f64 * 1e-7).sin() / 3.0);
    }
    let dir = [Direction::Long, Direction::Short, Direction::Hold][(i % 3) as usize];
    SwingSignal {
        symbol: if i % 2 == 0 { "BTCUSDT" } else { "ETHUSDT" }.into(),
        bar_open_time_ms: 1_700_000_000_000 + i * 3_600_000,
        created_ms: 1_700_000_000_000 + (i + 1) * 3_600_000,
        direction: dir,
        confidence: 61.234_567_890_123 + i as f64,
        entry: 43_210.123_456_789,
        stop_loss: if dir == Direction::Short { 44_000.5 } else { 42_000.25 },
        take_profit: if dir == Direction::Short { 41_000.75 } else { 45_000.125 },
        reasoning: format!(
            "Kalman up, Hurst trending — «test» #{i}, with \"quotes\", commas\nand a newline"
        ),
        key_factors: vec!["kalman".into(), "hurst=0.61".into(), "ünïcode ✓".into()],
        variant: if i % 2 == 0 { "math-v1" } else { "llm-deepseek-chat" }.into(),
        regime: [Regime::Trending, Regime::Consolidation, Regime::Sideways, Regime::HighVolatility]
            [(i % 4) as usize],
        theories,
        raw_response: (i % 2 == 1).then(|| format!("{{\"direction\":\"SHORT\",\"n\":{i}}}")),
        hold_reason: (dir == Direction::Hold).then(|| "confidence below 70 % in sideways".into()),
    }
}

fn closed(id: i64, s: &SwingSignal, pnl: f64, outcome: Outcome) -> ClosedResult {
    ClosedResult {
        signal_id: id,
        symbol: s.symbol.clone(),
        variant: s.variant.clone(),
        direction: s.direction,
        entry: s.entry,
        exit: s.entry * (1.0 + pnl / 100.0),
        pnl_pct: pnl,
        outcome,
        exit_reason: if pnl > 0.0 { ExitReason::TakeProfit } else { ExitReason::StopLoss },
        opened_ms: s.created_ms,
        closed_ms: s.created_ms + 7_200_000,
        hold_minutes: 120.0,
        max_adverse_pct: pnl.min(0.0) - 0.1,
        max_favorable_pct: pnl.max(0.0) + 0.1,
        theories: s.theories.clone(),
        theory_scores: vec![
            TheoryScore {
                theory: "kalman".into(),
                value: 0.4,
                contribution: 0.4,
                correct: pnl > 0.0,
            },
            TheoryScore {
                theory: "hurst".into(),
                value: -0.2,
                contribution: -0.2,
                correct: pnl < 0.0,
            },
        ],
    }
}

#[test]
fn round_trip_every_field() {
    let dir = TempDir::new("rt");
    let mut store = SignalStore::open(dir.db()).unwrap();
    let mut ids = Vec::new();
    for i in 0..12 {
        let v = (i % 3 == 0).then_some("ok");
        ids.push(store.insert_signal(&sample(i), v).unwrap());
    }
    assert_eq!(ids, (1..=12).collect::<Vec<i64>>());
    drop(store);
    // Reopen: everything comes back bit for bit.
    let store = SignalStore::open(dir.db()).unwrap();
    for (i, id) in ids.iter().enumerate() {
        let got = store.get(*id).unwrap().unwrap();
        assert_eq!(got.signal, sample(i as i64));
        for (k, v) in &sample(i as i64).theories {
            assert_eq!(got.signal.theories[k].to_bits(), v.to_bits());
        }
        assert_eq!(got.validation.as_deref(), (i % 3 == 0).then_some("ok"));
        assert_eq!((got.result, got.expired_ms), (None, None));
    }
    assert!(store.get(999).unwrap().is_none());
    // Filters.
    let f = SignalFilter { variant: Some("math-v1".into()), ..Default::default() };
    assert_eq!(store.list(&f).unwrap().len(), 6);
    let f = SignalFilter { direction: Some(Direction::Hold), ..Default::default() };
    assert!(store.list(&f).unwrap().iter().all(|s| s.signal.direction == Direction::Hold));
    let f = SignalFilter { limit: Some(3), newest_first: true, ..Default::default() };
    assert_eq!(store.list(&f).unwrap().iter().map(|s| s.id).collect::<Vec<_>>(), vec![12, 11, 10]);
    let t = sample(5).created_ms;
    let f = SignalFilter {
        since_ms: Some(t),
        until_ms: Some(t + 3_600_000 * 2),
        symbol: Some("ETHUSDT".into()),
        ..Default::default()
    };
    assert_eq!(store.list(&f).unwrap().iter().map(|s| s.id).collect::<Vec<_>>(), vec![6]);
}

#[test]
fn non_finite_values_are_rejected_not_stored_as_null() {
    let dir = TempDir::new("nan");
    let mut store = SignalStore::open(dir.db()).unwrap();
    let mut s = sample(0);
    s.confidence = f64::NAN;
    assert!(matches!(
        store.insert_signal(&s, None),
        Err(StoreError::NonFinite { field: "confidence" })
    ));
    let mut s = sample(0);
    s.theories.insert("adf".into(), f64::INFINITY);
    assert!(matches!(
        store.insert_signal(&s, None),
        Err(StoreError::NonFinite { field: "theories" })
    ));
    assert!(store.list(&SignalFilter::default()).unwrap().is_empty());
}

#[test]
fn signals_are_immutable() {
    let dir = TempDir::new("imm");
    let mut store = SignalStore::open(dir.db()).unwrap();
    let id = store.insert_signal(&sample(0), Some("ok")).unwrap();
    let conn = store.connection();
    for sql in [
        "UPDATE signals SET confidence = 99 WHERE id = ?1",
        "UPDATE signals SET validation = NULL WHERE id = ?1",
        "DELETE FROM signals WHERE id = ?1",
    ] {
        let e = conn.execute(sql, [id]).unwrap_err();
        assert!(e.to_string().contains("signals are immutable"), "{sql}: {e}");
    }
    // A second connection (the sqlite3 shell, another process) is refused the same way.
    let raw = Connection::open(dir.db()).unwrap();
    assert!(raw.execute("UPDATE signals SET entry = 1", []).is_err());
    assert!(raw.execute("DELETE FROM signals", []).is_err());
    assert_eq!(store.get(id).unwrap().unwrap().signal, sample(0));

    // A result may close once; a closed result, an expiry, theory rows never change.
    store.open_result(id, 43_000.0, 1).unwrap();
    assert!(store.open_result(id, 43_000.0, 1).is_err(), "one result per signal");
    let c = closed(id, &sample(0), 1.5, Outcome::Win);
    store.close_result(&c).unwrap();
    assert!(store.close_result(&c).is_err(), "already closed");
    let conn = store.connection();
    let e = conn.execute("UPDATE signal_results SET pnl_pct = 50", []).unwrap_err();
    assert!(e.to_string().contains("closed result is immutable"), "{e}");
    assert!(conn.execute("DELETE FROM signal_results", []).is_err());
    let id2 = store.insert_signal(&sample(3), None).unwrap();
    store.record_expiry(id2, 5).unwrap();
    assert!(store.connection().execute("UPDATE signal_expiries SET expired_ms = 6", []).is_err());
    // Foreign keys: no result for a signal that does not exist.
    assert!(store.open_result(424_242, 1.0, 1).is_err());
    assert!(store.record_expiry(424_242, 1).is_err());
}

#[test]
fn results_theories_usage_stats_and_unresolved() {
    let dir = TempDir::new("res");
    let mut store = SignalStore::open(dir.db()).unwrap();
    let ids: Vec<i64> =
        (0..9).map(|i| store.insert_signal(&sample(i), Some("ok")).unwrap()).collect();
    // 0: LONG win (math), 1: SHORT loss (llm), 3: LONG open (llm), 4: SHORT expired (math),
    // 6: LONG breakeven (math), 7: SHORT untouched (llm); 2, 5, 8 are HOLD.
    let s = |i: usize| sample(i as i64);
    store
        .apply_events(&[
            TrackerEvent::Filled {
                signal_id: ids[0],
                entry: s(0).entry,
                opened_ms: s(0).created_ms,
            },
            TrackerEvent::Closed(closed(ids[0], &s(0), 2.0, Outcome::Win)),
            TrackerEvent::Closed(closed(ids[1], &s(1), -1.0, Outcome::Loss)),
            TrackerEvent::Filled { signal_id: ids[3], entry: 43_000.0, opened_ms: 7 },
            TrackerEvent::Expired { signal_id: ids[4], expired_ms: 99 },
            TrackerEvent::Closed(closed(ids[6], &s(6), 0.01, Outcome::Breakeven)),
        ])
        .unwrap();
    // A failing batch stores nothing: the second event names a missing signal.
    let err = store.apply_events(&[
        TrackerEvent::Expired { signal_id: ids[7], expired_ms: 1 },
        TrackerEvent::Expired { signal_id: 10_000, expired_ms: 1 },
    ]);
    assert!(err.is_err());
    assert_eq!(store.get(ids[7]).unwrap().unwrap().expired_ms, None);

    let r0 = store.get(ids[0]).unwrap().unwrap().result.unwrap();
    assert_eq!(
        (r0.outcome, r0.exit_reason, r0.pnl_pct),
        (Outcome::Win, Some(ExitReason::TakeProfit), Some(2.0))
    );
    assert_eq!(
        (r0.hold_minutes, r0.max_adverse_pct, r0.max_favorable_pct),
        (Some(120.0), Some(-0.1), Some(2.1))
    );
    let r3 = store.get(ids[3]).unwrap().unwrap().result.unwrap();
    assert_eq!((r3.outcome, r3.exit, r3.closed_ms), (Outcome::Open, None, None));
    assert_eq!(store.get(ids[4]).unwrap().unwrap().expired_ms, Some(99));
    // Unresolved: actionable, not closed, not expired → 3 (open) and 7 (pending).
    let u: Vec<i64> = store.unresolved().unwrap().iter().map(|s| s.id).collect();
    assert_eq!(u, vec![ids[3], ids[7]]);

    for (ts, cost, status) in [(1_000, 0.25, "ok"), (2_000, 0.5, "ok"), (3_000, 0.125, "timeout")] {
        let row = LlmUsageRow {
            ts_ms: ts,
            model: "deepseek-chat".into(),
            prompt_tokens: 1_000,
            completion_tokens: 200,
            cache_hit_tokens: 600,
            cost_usd: cost,
            status: status.into(),
        };
        store.insert_llm_usage(&row).unwrap();
    }
    let u = store.usage_totals(2_000).unwrap();
    assert_eq!(
        (u.requests, u.prompt_tokens, u.completion_tokens, u.cache_hit_tokens),
        (2, 2_000, 400, 1_200)
    );
    assert_eq!(u.cost_usd, 0.625);
    let bad = LlmUsageRow {
        ts_ms: 0,
        model: "m".into(),
        prompt_tokens: u64::MAX,
        completion_tokens: 0,
        cache_hit_tokens: 0,
        cost_usd: 0.0,
        status: "ok".into(),
    };
    assert!(matches!(store.insert_llm_usage(&bad), Err(StoreError::TooLarge { .. })));

    let st = store.stats().unwrap();
    assert_eq!((st.schema_version, st.signals, st.usage.requests), (schema::LATEST_VERSION, 9, 3));
    let math = st.by_variant.iter().find(|g| g.key == "math-v1").unwrap();
    // math-v1 = samples 0, 2, 4, 6, 8: actionable 0, 4, 6.
    assert_eq!((math.signals, math.actionable, math.open, math.expired), (5, 3, 0, 1));
    assert_eq!((math.closed.wins, math.closed.losses, math.closed.breakeven), (1, 0, 1));
    assert!((math.mean_pnl_pct.unwrap() - 1.005).abs() < 1e-12);
    assert_eq!((math.win_rate.alpha, math.win_rate.beta), (2.0, 2.0));
    let llm = st.by_variant.iter().find(|g| g.key == "llm-deepseek-chat").unwrap();
    assert_eq!((llm.signals, llm.actionable, llm.open, llm.closed.losses), (4, 3, 1, 1));
    let kalman = st.by_theory.iter().find(|t| t.theory == "kalman").unwrap();
    // Kalman is scored correct on the positive-pnl results 0 (+2 %) and 6 (+0.01 %).
    assert_eq!((kalman.n, kalman.correct), (3, 2));
    assert!((kalman.mean_contribution - 0.4).abs() < 1e-12);
    assert_eq!(st.by_symbol.len(), 2);
    let ab = store.closed_by_variant().unwrap();
    assert_eq!(ab["math-v1"], vec![(Outcome::Win, 2.0), (Outcome::Breakeven, 0.01)]);
    assert_eq!(ab["llm-deepseek-chat"], vec![(Outcome::Loss, -1.0)]);

    // The separate theory-performance call.
    let id = store.insert_signal(&sample(10), None).unwrap();
    let scores =
        vec![TheoryScore { theory: "adf".into(), value: 0.5, contribution: 0.5, correct: true }];
    store.record_theory_performance(id, &scores).unwrap();
    assert!(store.record_theory_performance(id, &scores).is_err(), "once per theory");
}

/// Splits RFC 4180 CSV text into records of fields.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

#[test]
fn csv_export_is_complete_and_quoted() {
    let dir = TempDir::new("csv");
    let mut store = SignalStore::open(dir.db()).unwrap();
    for i in 0..4 {
        store.insert_signal(&sample(i), Some("ok")).unwrap();
    }
    let mut evil = sample(4);
    evil.reasoning = "=HYPERLINK(\"http://x\")".into();
    store.insert_signal(&evil, Some("rejected: confidence")).unwrap();
    store.close_result(&closed(1, &sample(0), 2.5, Outcome::Win)).unwrap();
    let mut out = Vec::new();
    assert_eq!(store.export_csv(&mut out).unwrap(), 5);
    let rows = parse_csv(&String::from_utf8(out).unwrap());
    assert_eq!(rows.len(), 6);
    let header: Vec<&str> = CSV_HEADER.split(',').collect();
    assert_eq!(rows[0], header);
    assert!(rows.iter().all(|r| r.len() == header.len()), "every row has every column");
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    assert_eq!(rows[1][col("reasoning")], sample(0).reasoning);
    assert_eq!(rows[1][col("outcome")], "win");
    assert_eq!(rows[1][col("pnl_pct")], "2.5");
    assert_eq!(rows[1][col("entry")].parse::<f64>().unwrap(), sample(0).entry);
    assert_eq!(rows[2][col("raw_response")], sample(1).raw_response.unwrap());
    assert_eq!(rows[2][col("outcome")], "");
    assert_eq!(rows[5][col("reasoning")], "'=HYPERLINK(\"http://x\")", "formula neutralised");
    assert_eq!(rows[5][col("validation")], "rejected: confidence");
    let k: Vec<String> = serde_json::from_str(&rows[1][col("key_factors")]).unwrap();
    assert_eq!(k, sample(0).key_factors);
}

#[test]
fn migrates_an_empty_file_to_the_latest_schema() {
    let dir = TempDir::new("mig0");
    let store = SignalStore::open(dir.db()).unwrap();
    assert_eq!(store.schema_version().unwrap(), 2);
    let conn = store.connection();
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'index', 'trigger') ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for want in [
        "signals",
        "signal_results",
        "theory_performance",
        "llm_usage",
        "signal_expiries",
        "signals_by_variant",
        "signals_no_update",
        "signals_no_delete",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} missing from {names:?}");
    }
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    let sync: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
    let fk: i64 = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).unwrap();
    assert_eq!((mode.as_str(), sync, fk), ("wal", 2, 1), "WAL, synchronous=FULL, foreign keys");
    drop(store);
    // Opening again is a no-op.
    assert_eq!(SignalStore::open(dir.db()).unwrap().schema_version().unwrap(), 2);
}

#[test]
fn migrates_a_v1_file_with_data_and_keeps_it() {
    let dir = TempDir::new("mig1");
    // Build the previous schema with migration 1 alone and fill it as a v1 build would have.
    {
        let mut conn = Connection::open(dir.db()).unwrap();
        assert_eq!(schema::migrate(&mut conn, 1).unwrap(), 0);
        assert_eq!(schema::version(&conn).unwrap(), 1);
        let no_v2: bool = conn
            .query_row(
                "SELECT COUNT(*) = 0 FROM sqlite_master WHERE name = 'signal_expiries'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(no_v2);
        conn.execute_batch(
            r#"INSERT INTO signals (symbol, bar_open_time_ms, created_ms, direction, confidence,
                   entry, stop_loss, take_profit, reasoning, key_factors, variant, regime,
                   theories, raw_response, hold_reason, validation)
               VALUES ('BTCUSDT', 1000, 3601000, 'LONG', 72.5, 100.0, 98.0, 104.0, 'v1 row',
                   '["kalman"]', 'math-v1', 'trending', '{"kalman":0.25,"hurst":-0.125}',
                   NULL, NULL, 'ok'),
                      ('ETHUSDT', 2000, 3602000, 'SHORT', 80.0, 50.0, 51.0, 48.0, 'second',
                   '[]', 'llm-x', 'high_volatility', '{}', '{"raw":1}', NULL, NULL);
               INSERT INTO signal_results (signal_id, entry, exit, pnl_pct, outcome,
                   exit_reason, hold_minutes, opened_ms, closed_ms)
               VALUES (1, 100.0, 104.0, 4.0, 'win', 'take_profit', 120.0, 3601000, 10801000),
                      (2, 50.0, NULL, NULL, 'open', NULL, NULL, 3602000, NULL);
               INSERT INTO theory_performance VALUES (1, 'kalman', 0.25, 1);
               INSERT INTO llm_usage (ts_ms, model, prompt_tokens, completion_tokens,
                   cache_hit_tokens, cost_usd, status) VALUES (5, 'deepseek-chat', 10, 5, 0, 0.001, 'ok');"#,
        )
        .unwrap();
    }
    let mut store = SignalStore::open(dir.db()).unwrap();
    assert_eq!(store.schema_version().unwrap(), 2);
    let a = store.get(1).unwrap().unwrap();
    assert_eq!(
        (a.signal.symbol.as_str(), a.signal.confidence, a.signal.regime),
        ("BTCUSDT", 72.5, Regime::Trending)
    );
    assert_eq!(a.signal.theories["hurst"], -0.125);
    assert_eq!(a.signal.key_factors, vec!["kalman".to_string()]);
    let r = a.result.unwrap();
    assert_eq!(
        (r.outcome, r.pnl_pct, r.exit_reason),
        (Outcome::Win, Some(4.0), Some(ExitReason::TakeProfit))
    );
    assert_eq!((r.max_adverse_pct, r.max_favorable_pct), (None, None), "new v2 columns are NULL");
    let b = store.get(2).unwrap().unwrap();
    assert_eq!(
        (b.signal.direction, b.signal.raw_response.as_deref()),
        (Direction::Short, Some("{\"raw\":1}"))
    );
    assert_eq!(store.usage_totals(0).unwrap().requests, 1);
    assert_eq!(store.stats().unwrap().by_theory[0].n, 1);
    // The migrated file takes v2 writes and still enforces v1's triggers.
    store.close_result(&closed(2, &b.signal, -2.0, Outcome::Loss)).unwrap();
    assert_eq!(store.get(2).unwrap().unwrap().result.unwrap().max_adverse_pct, Some(-2.1));
    let id = store.insert_signal(&sample(0), None).unwrap();
    store.record_expiry(id, 1).unwrap();
    assert!(store.connection().execute("UPDATE signals SET entry = 1", []).is_err());
}

#[test]
fn refuses_a_newer_schema_and_a_non_database() {
    let dir = TempDir::new("new");
    drop(SignalStore::open(dir.db()).unwrap());
    Connection::open(dir.db()).unwrap().pragma_update(None, "user_version", 99).unwrap();
    match SignalStore::open(dir.db()) {
        Err(StoreError::TooNew { found: 99, supported: 2 }) => {}
        other => panic!("expected TooNew, got {other:?}"),
    }
    let junk = dir.0.join("junk.sqlite");
    std::fs::write(&junk, vec![0x42u8; 8192]).unwrap();
    assert!(matches!(SignalStore::open(&junk), Err(StoreError::Sqlite(_))));
}
