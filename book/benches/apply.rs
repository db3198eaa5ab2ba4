//! Side-by-side replay of the real Binance recordings into [`Book`] and [`RefBook`].
//!
//! Setup (untimed): load the snapshot and the synced diffs, build each book from the snapshot.
//! Timed: apply every diff level to a fresh clone of the snapshot book; the throughput is one
//! element per level update, so criterion reports time per update. Then a few reads on the
//! book as it stands at the end of the recording.
//!
//! The replay is measured twice: in wall time (`apply/...`) and in this thread's CPU time
//! (`apply_cpu/...`, from `/proc/thread-self/schedstat`), which leaves out the time the thread
//! spent descheduled — on a shared, oversubscribed machine the wall time can be several times
//! the CPU time. Cache pollution by neighbours still shows in both; compare the ratios.
//!
//! Run briefly with `cargo bench -p crpbot-book -- --warm-up-time 1 --measurement-time 3`.
//! `BOOK_WINDOW_TICKS=<n>` replays with another window size (the default is 2^16).
//! Without the recordings the bench prints one `skipping:` line and measures nothing.
#![allow(clippy::unwrap_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use crpbot_book::reference::RefBook;
use crpbot_book::{Book, BookConfig, Level};
use crpbot_core::{Px, Qty, Side};

/// This thread's CPU time in ns (`/proc/thread-self/schedstat`, first field).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|f| f.parse().ok()))
        .unwrap_or(0)
}

/// Criterion measurement of the benchmarking thread's CPU time.
struct ThreadCpu {
    wall: WallTime,
}

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_ns()
    }

    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().saturating_sub(start)
    }

    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}

/// Replays every level update of both recordings into `Book` and `RefBook`.
fn replay_groups<M: Measurement>(c: &mut Criterion<M>, prefix: &str) {
    let Some(dir) = common::data_dir() else { return };
    for symbol in ["btcusdt", "ethusdt"] {
        let rec = common::load(&dir, symbol);
        let window_ticks = std::env::var("BOOK_WINDOW_TICKS")
            .ok()
            .and_then(|w| w.parse().ok())
            .unwrap_or(BookConfig::default().window_ticks);
        let mut start = Book::new(BookConfig { window_ticks, ..BookConfig::default() });
        let mut ref_start = RefBook::new();
        for u in &rec.snapshot {
            start.apply(u).unwrap();
            ref_start.apply(u).unwrap();
        }
        let mut group = c.benchmark_group(format!("{prefix}/{symbol}"));
        group.throughput(Throughput::Elements(rec.diffs.len() as u64));
        group.bench_function("Book", |b| {
            b.iter_batched_ref(
                || start.clone(),
                |book| {
                    for u in &rec.diffs {
                        let _ = book.apply(black_box(u));
                    }
                },
                BatchSize::LargeInput,
            )
        });
        group.bench_function("RefBook", |b| {
            b.iter_batched_ref(
                || ref_start.clone(),
                |book| {
                    for u in &rec.diffs {
                        let _ = book.apply(black_box(u));
                    }
                },
                BatchSize::LargeInput,
            )
        });
        group.finish();
    }
}

fn replay_cpu(c: &mut Criterion<ThreadCpu>) {
    if thread_cpu_ns() == 0 {
        println!("skipping apply_cpu: /proc/thread-self/schedstat not readable");
        return;
    }
    replay_groups(c, "apply_cpu");
}

fn replay(c: &mut Criterion) {
    replay_groups(c, "apply");
    reads(c);
}

fn reads(c: &mut Criterion) {
    let Some(dir) = common::data_dir() else { return };
    for symbol in ["btcusdt", "ethusdt"] {
        let rec = common::load(&dir, symbol);
        let mut start = Book::new(BookConfig::default());
        let mut ref_start = RefBook::new();
        for u in &rec.snapshot {
            start.apply(u).unwrap();
            ref_start.apply(u).unwrap();
        }
        let mut book = start.clone();
        let mut r = ref_start.clone();
        for u in &rec.diffs {
            book.apply(u).unwrap();
            r.apply(u).unwrap();
        }
        let mid = book.mid_x2().unwrap() / 2;
        let mut group = c.benchmark_group(format!("read/{symbol}"));
        let mut top = [Level::default(); 10];
        group.bench_function("Book/best", |b| {
            b.iter(|| (black_box(&book).best_bid(), black_box(&book).best_ask()))
        });
        group.bench_function("RefBook/best", |b| {
            b.iter(|| (black_box(&r).best_bid(), black_box(&r).best_ask()))
        });
        group.bench_function("Book/top10", |b| {
            b.iter(|| black_box(&book).top(Side::Buy, black_box(&mut top)))
        });
        group.bench_function("RefBook/top10", |b| {
            b.iter(|| black_box(&r).top(Side::Buy, black_box(&mut top)))
        });
        group.bench_function("Book/imbalance10", |b| {
            b.iter(|| black_box(&book).depth_imbalance(black_box(10)))
        });
        group.bench_function("RefBook/imbalance10", |b| {
            b.iter(|| black_box(&r).depth_imbalance(black_box(10)))
        });
        // About 2 BTC / 20 ETH of market buy (1e-8 wire units).
        let size = Qty(if symbol == "btcusdt" { 200_000_000 } else { 2_000_000_000 });
        group.bench_function("Book/market_fill", |b| {
            b.iter(|| black_box(&book).market_fill(Side::Buy, black_box(size)))
        });
        group.bench_function("RefBook/market_fill", |b| {
            b.iter(|| black_box(&r).market_fill(Side::Buy, black_box(size)))
        });
        group.bench_function("Book/cum_qty_to_mid-0.1%", |b| {
            b.iter(|| black_box(&book).cum_qty_to(Side::Buy, black_box(Px(mid - mid / 1000))))
        });
        group.finish();
    }
}

criterion_group!(benches, replay);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(ThreadCpu { wall: WallTime });
    targets = replay_cpu
}
criterion_main!(benches, cpu);
