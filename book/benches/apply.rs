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
//! Criterion's headline `time` for a replay is the mean over its samples. The figure the targets
//! are stated in is the *median* cost per level update; criterion keeps it in its
//! `estimates.json`, and the last group here (`summary`) prints it directly: for each symbol,
//! 35 whole-recording replays of each book, in rounds that alternate the two so that both see
//! the same machine, with the median wall time per level update and the ratio of the two books
//! from that same run. (Thread CPU time is not in the summary: `schedstat` advances in
//! scheduler ticks, 4 ms here, longer than one replay; the `apply_cpu` samples span many.)
//!
//! Run briefly with `cargo bench -p crpbot-book -- --warm-up-time 1 --measurement-time 3`.
//! `BOOK_WINDOW_TICKS=<n>` replays with another window size (the default is
//! `BookConfig::default().window_ticks`).
//! Without the recordings the bench prints one `skipping:` line and measures nothing.
#![allow(clippy::unwrap_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::Instant;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use crpbot_book::reference::RefBook;
use crpbot_book::{Book, BookConfig, Level};
use crpbot_core::{LevelUpdate, Px, Qty, Side};

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

/// Both books built from the recording's snapshot (`BOOK_WINDOW_TICKS` sets the window).
fn snapshot_books(rec: &common::Recording) -> (Book, RefBook) {
    let window_ticks = std::env::var("BOOK_WINDOW_TICKS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(BookConfig::default().window_ticks);
    let mut book = Book::new(BookConfig { window_ticks, ..BookConfig::default() });
    let mut r = RefBook::new();
    for u in &rec.snapshot {
        book.apply(u).unwrap();
        r.apply(u).unwrap();
    }
    (book, r)
}

/// Replays every level update of both recordings into `Book` and `RefBook`.
fn replay_groups<M: Measurement>(c: &mut Criterion<M>, prefix: &str) {
    let Some(dir) = common::data_dir() else { return };
    for symbol in ["btcusdt", "ethusdt"] {
        let rec = common::load(&dir, symbol);
        let (start, ref_start) = snapshot_books(&rec);
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
        let (start, ref_start) = snapshot_books(&rec);
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

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Wall time of `runs` replays of the diffs, each on a fresh clone of `start` (the clone is not
/// timed), pushed to `out` in ns per level update.
fn replays<B: Clone + ApplyUpdate>(
    start: &B,
    rec: &common::Recording,
    runs: usize,
    out: &mut Vec<f64>,
) {
    for _ in 0..runs {
        let mut book = start.clone();
        let t = Instant::now();
        for u in &rec.diffs {
            book.apply_update(black_box(u));
        }
        out.push(t.elapsed().as_nanos() as f64 / rec.diffs.len() as f64);
        black_box(&book);
    }
}

/// The one call both books share.
trait ApplyUpdate {
    fn apply_update(&mut self, u: &LevelUpdate);
}

impl ApplyUpdate for Book {
    #[inline]
    fn apply_update(&mut self, u: &LevelUpdate) {
        let _ = self.apply(u);
    }
}

impl ApplyUpdate for RefBook {
    #[inline]
    fn apply_update(&mut self, u: &LevelUpdate) {
        let _ = self.apply(u);
    }
}

/// The median wall time per level update of whole-recording replays (see the module docs):
/// rounds of consecutive `Book` replays then consecutive `RefBook` replays, so that machine
/// noise falls on both books alike while each runs in a hot loop as under criterion.
fn summary(_c: &mut Criterion) {
    const ROUNDS: usize = 5;
    const RUNS: usize = 7;
    let Some(dir) = common::data_dir() else { return };
    for symbol in ["btcusdt", "ethusdt"] {
        let rec = common::load(&dir, symbol);
        let (start, ref_start) = snapshot_books(&rec);
        let (mut book, mut reference) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            replays(&start, &rec, RUNS, &mut book);
            replays(&ref_start, &rec, RUNS, &mut reference);
        }
        let (b, r) = (median(&mut book), median(&mut reference));
        println!(
            "summary/{symbol}: median wall time per level update over {} replays of {} \
             updates: Book {b:.2} ns, RefBook {r:.2} ns, RefBook/Book {:.2}x (window {} ticks)",
            book.len(),
            rec.diffs.len(),
            r / b,
            start.config().window_ticks,
        );
    }
}

criterion_group!(benches, replay, summary);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(ThreadCpu { wall: WallTime });
    targets = replay_cpu
}
criterion_main!(benches, cpu);
