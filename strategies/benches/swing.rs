//! Swing-lane benchmarks on the real BTCUSDT 1h recording (read in place; skipped with one
//! line when absent). Targets: `analyze` on a 200-bar window < 50 ms; a full 2018–2025 hourly
//! walk-forward (180d/30d) < 10 s.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use crpbot_strategies::swing::{
    WalkForward, analyze, load_klines, locate_data_dir, swing_backtest,
};

fn benches(c: &mut Criterion) {
    let Some(path) =
        locate_data_dir().map(|d| d.join("klines/BTCUSDT_1h.csv.gz")).filter(|p| p.is_file())
    else {
        eprintln!("SKIP: klines/BTCUSDT_1h.csv.gz not found (set CRPBOT_DATA_DIR)");
        return;
    };
    let candles = load_klines(path).unwrap();
    let last200 = &candles[candles.len() - 200..];
    // CPU time on this thread (Linux schedstat), independent of how loaded the machine is.
    let cpu_ns = || -> Option<u64> {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    let report = |label: &str, reps: u32, f: &dyn Fn()| {
        let (c0, t0) = (cpu_ns(), std::time::Instant::now());
        for _ in 0..reps {
            f();
        }
        let wall = t0.elapsed() / reps;
        match (c0, cpu_ns()) {
            (Some(a), Some(b)) => eprintln!(
                "{label}: wall {wall:?}, on-CPU {:?} per call",
                Duration::from_nanos((b - a) / u64::from(reps))
            ),
            _ => eprintln!("{label}: wall {wall:?} per call"),
        }
    };
    // Only in `cargo bench` (criterion passes --bench), not in `cargo test --benches`.
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let report = |label: &str, reps: u32, f: &dyn Fn()| {
        if bench_mode {
            report(label, reps, f);
        }
    };
    report("analyze 200 bars", 20, &|| {
        black_box(analyze(last200, 200, None).unwrap());
    });
    report("indicators full history", 5, &|| {
        black_box(crpbot_strategies::swing::Indicators::compute(&candles));
    });
    report("analyze full history", 5, &|| {
        black_box(analyze(&candles, 200, None).unwrap());
    });
    for s in ["trend", "meanrev", "theories"] {
        report(&format!("walk-forward {s}"), 3, &|| {
            black_box(swing_backtest(&candles, s, WalkForward::default()).unwrap());
        });
    }
    let mut g = c.benchmark_group("analyze");
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    g.bench_function("window200_on_200_bars", |b| {
        b.iter(|| analyze(black_box(last200), 200, None).unwrap())
    });
    g.bench_function("window200_on_full_history", |b| {
        b.iter(|| analyze(black_box(&candles), 200, None).unwrap())
    });
    g.finish();
    let mut g = c.benchmark_group("walk_forward_btc_1h_2018_2025");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    let wf = WalkForward { train_days: 180, test_days: 30, anchored: false };
    for s in ["trend", "meanrev", "theories"] {
        g.bench_function(s, |b| b.iter(|| swing_backtest(black_box(&candles), s, wf).unwrap()));
    }
    g.finish();
}

criterion_group!(swing, benches);
criterion_main!(swing);
