//! kill -9 during writes: a child process (this test binary re-executed with
//! `CRPBOT_STORE_CRASH_CHILD=<db>`) inserts signals, opens/closes results and records LLM
//! usage, printing each acknowledged id to stdout after its commit returned; the parent
//! SIGKILLs it after a random short delay, then checks `PRAGMA integrity_check` = ok and that
//! every acknowledged write is present, field for field. The same file is reused across
//! iterations, so each child also recovers the previous child's WAL.
//!
//! 20 iterations by default, 200 with `CRPBOT_FULL=1`; `CRPBOT_CRASH_SEED` replays a run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crpbot_strategies::swing::signal::outcome::{ClosedResult, TrackerEvent};
use crpbot_strategies::swing::signal::store::{LlmUsageRow, SignalStore};
use crpbot_strategies::swing::signal::{
    Direction, ExitReason, Outcome, Regime, SwingSignal, THEORY_NAMES, TheoryValues,
};

const CHILD_ENV: &str = "CRPBOT_STORE_CRASH_CHILD";
const ITER_ENV: &str = "CRPBOT_STORE_CRASH_ITER";
const TEST_NAME: &str = "kill9_during_writes_keeps_every_acknowledged_write";

/// The signal with sequence number `seq` (a pure function, so the parent can check it).
fn signal_for(seq: i64) -> SwingSignal {
    let mut theories = TheoryValues::new();
    for (k, name) in THEORY_NAMES.iter().enumerate() {
        theories.insert((*name).to_string(), ((seq * 11 + k as i64) as f64 * 0.37).sin());
    }
    SwingSignal {
        symbol: "BTCUSDT".into(),
        bar_open_time_ms: seq * 3_600_000,
        created_ms: seq * 3_600_000 + 3_600_000,
        direction: if seq % 2 == 0 { Direction::Long } else { Direction::Short },
        confidence: 50.0 + (seq % 50) as f64 * 0.9,
        entry: 60_000.0 + seq as f64 * 0.01,
        stop_loss: if seq % 2 == 0 { 59_000.0 } else { 61_000.0 },
        take_profit: if seq % 2 == 0 { 62_000.0 } else { 58_000.0 },
        reasoning: format!("crash test signal {seq} {}", "x".repeat((seq % 64) as usize * 16)),
        key_factors: vec![format!("seq={seq}")],
        variant: "crash-v1".into(),
        regime: Regime::Trending,
        theories,
        raw_response: Some(format!("{{\"seq\":{seq}}}")),
        hold_reason: None,
    }
}

fn closed_for(id: i64, s: &SwingSignal) -> ClosedResult {
    ClosedResult {
        signal_id: id,
        symbol: s.symbol.clone(),
        variant: s.variant.clone(),
        direction: s.direction,
        entry: s.entry,
        exit: s.entry * 1.01,
        pnl_pct: 1.0,
        outcome: Outcome::Win,
        exit_reason: ExitReason::TakeProfit,
        opened_ms: s.created_ms,
        closed_ms: s.created_ms + 60_000,
        hold_minutes: 1.0,
        max_adverse_pct: -0.2,
        max_favorable_pct: 1.0,
        theories: s.theories.clone(),
        theory_scores: Vec::new(),
    }
}

/// The child: writes until killed (or a generous cap), acknowledging each commit.
fn child(db: PathBuf, iter: i64) {
    let mut store = SignalStore::open(db).unwrap();
    let out = std::io::stdout();
    // libtest has printed `test <name> ... ` without a newline: start our lines afresh.
    writeln!(out.lock()).unwrap();
    for k in 0..100_000i64 {
        let seq = iter * 1_000_000 + k;
        let s = signal_for(seq);
        let id = store.insert_signal(&s, Some("ok")).unwrap();
        writeln!(out.lock(), "ACK {id} {seq}").unwrap();
        if k % 3 == 0 {
            store
                .apply_events(&[
                    TrackerEvent::Filled { signal_id: id, entry: s.entry, opened_ms: s.created_ms },
                    TrackerEvent::Closed(closed_for(id, &s)),
                ])
                .unwrap();
            writeln!(out.lock(), "CLOSED {id}").unwrap();
        } else if k % 3 == 1 {
            store.open_result(id, s.entry, s.created_ms).unwrap();
            writeln!(out.lock(), "OPENED {id}").unwrap();
        }
        let u = LlmUsageRow {
            ts_ms: seq,
            model: "deepseek-chat".into(),
            prompt_tokens: 1000 + k as u64,
            completion_tokens: 200,
            cache_hit_tokens: 0,
            cost_usd: 0.001,
            status: "ok".into(),
        };
        let uid = store.insert_llm_usage(&u).unwrap();
        writeln!(out.lock(), "USAGE {uid} {seq}").unwrap();
    }
}

/// xorshift64* (seeded; the seed is printed so a failing run can be replayed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn kill9_during_writes_keeps_every_acknowledged_write() {
    if let Some(db) = std::env::var_os(CHILD_ENV) {
        let iter = std::env::var(ITER_ENV).unwrap().parse().unwrap();
        child(PathBuf::from(db), iter);
        return;
    }
    let full = std::env::var_os("CRPBOT_FULL").is_some_and(|v| v == "1");
    let iterations = if full { 200 } else { 20 };
    let seed =
        std::env::var("CRPBOT_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
                as u64
                | 1
        });
    eprintln!("kill -9 test: {iterations} iterations, CRPBOT_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let dir = std::env::temp_dir().join(format!("crpbot-crash-{}-{seed}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("signals.sqlite");
    let exe = std::env::current_exe().unwrap();

    // Every acknowledged write over all iterations: signal id → seq, usage id → seq.
    let mut acked: BTreeMap<i64, i64> = BTreeMap::new();
    let mut usage: BTreeMap<i64, i64> = BTreeMap::new();
    let (mut closed_ids, mut opened_ids) = (Vec::new(), Vec::new());
    let mut killed_mid_run = 0;
    for iter in 0..iterations {
        let mut child = Command::new(&exe)
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &db)
            .env(ITER_ENV, iter.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        // Three runs in four: wait for the first acknowledged write so the kill lands in the
        // write loop; otherwise the kill may land while the child opens or migrates the file.
        if !rng.next().is_multiple_of(4) {
            for line in rx.iter() {
                let first = line.starts_with("ACK ");
                lines.push(line);
                if first {
                    break;
                }
            }
        }
        // Random short delay (simulates an arbitrary crash point; not a wait for a thread).
        std::thread::sleep(Duration::from_micros(rng.next() % 30_000));
        let still_running = child.try_wait().unwrap().is_none();
        killed_mid_run += usize::from(still_running);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        lines.extend(rx.try_iter());

        for line in &lines {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.as_slice() {
                ["ACK", id, seq] => {
                    acked.insert(id.parse().unwrap(), seq.parse().unwrap());
                }
                ["CLOSED", id] => closed_ids.push(id.parse::<i64>().unwrap()),
                ["OPENED", id] => opened_ids.push(id.parse::<i64>().unwrap()),
                ["USAGE", id, seq] => {
                    usage.insert(id.parse().unwrap(), seq.parse().unwrap());
                }
                _ => {}
            }
        }

        // Recovery check after every kill.
        let store = SignalStore::open(&db).unwrap();
        let conn = store.connection();
        let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(check, "ok", "iteration {iter} (seed {seed})");
        let fk: i64 = conn
            .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 0);
        for (&id, &seq) in &acked {
            let got = store.get(id).unwrap().unwrap_or_else(|| {
                panic!("acknowledged signal {id} (seq {seq}) lost in iteration {iter}, seed {seed}")
            });
            assert_eq!(got.signal, signal_for(seq), "signal {id} differs");
            assert_eq!(got.validation.as_deref(), Some("ok"));
        }
        // At most one signal committed whose acknowledgement the kill swallowed.
        let n: i64 = conn.query_row("SELECT COUNT(*) FROM signals", [], |r| r.get(0)).unwrap();
        let n = usize::try_from(n).unwrap();
        assert!(
            n >= acked.len() && n <= acked.len() + iter + 1,
            "iteration {iter}: {n} rows, {} acked",
            acked.len()
        );
        for id in &closed_ids {
            let r = store.get(*id).unwrap().unwrap().result.unwrap();
            assert_eq!((r.outcome, r.pnl_pct), (Outcome::Win, Some(1.0)));
        }
        for id in &opened_ids {
            assert!(store.get(*id).unwrap().unwrap().result.is_some(), "opened result {id} lost");
        }
        for (&uid, &seq) in &usage {
            let ts: i64 = conn
                .query_row("SELECT ts_ms FROM llm_usage WHERE id = ?1", [uid], |r| r.get(0))
                .unwrap();
            assert_eq!(ts, seq);
        }
        drop(store);
    }
    eprintln!(
        "kill -9 test: {} acknowledged signals, {} closes, {} usage rows survived; {killed_mid_run}/{iterations} kills hit a running child",
        acked.len(),
        closed_ids.len(),
        usage.len()
    );
    assert!(!acked.is_empty(), "no child ever acknowledged a write");
    assert!(killed_mid_run > 0, "no kill landed while a child was running");
    std::fs::remove_dir_all(&dir).unwrap();
}
