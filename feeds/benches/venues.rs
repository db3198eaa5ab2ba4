//! Coinbase decode + book apply on the real capture, and the simulator's event rate.
//!
//! * `coinbase/decode_updates`: `CoinbaseDecoder` alone over every `l2_data` update frame of
//!   `venue-captures/COINBASE.jsonl.zst` (773 frames, 4,859 level updates); throughput per
//!   level update.
//! * `coinbase/decode_sync_apply_updates`: decoder + `CoinbaseSync` + `BookSet` over every frame
//!   after the two book snapshots (the books are built untimed in the setup); throughput per
//!   level update.
//! * `coinbase/replay_all_frames`: all 1,030 frames including the 46,000- and 23,334-level
//!   snapshots; throughput per level (74,193).
//! * `sim/next_batch`: 10,000 simulator batches (default config); throughput per batch (the
//!   events per batch are printed).
//!
//! Frames are copied into a scratch buffer before decoding (simd-json parses in place); the
//! copy is timed. Skips the Coinbase group with one line if the data is absent.

use std::path::PathBuf;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use crpbot_core::Registry;
use crpbot_feeds::capture::{Capture, RecordKind};
use crpbot_feeds::coinbase::{CoinbaseDecoder, CoinbaseMsg, CoinbaseReplay};
use crpbot_feeds::replay::{Published, ReplaySink};
use crpbot_feeds::sim::{SimConfig, Simulator};

fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("CRPBOT_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data"))
    });
    dir.join("venue-captures").is_dir().then_some(dir)
}

struct Nop;
impl ReplaySink for Nop {
    fn on_book(&mut self, p: &Published<'_>) {
        std::hint::black_box(p.book.book.best_bid());
    }
}

fn coinbase(c: &mut Criterion) {
    let Some(dir) = data_dir() else {
        eprintln!("skipping coinbase benches: ../shared/data not found (set CRPBOT_DATA_DIR)");
        return;
    };
    let reg = Registry::with_defaults();
    let mut frames: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut cap = Capture::open(&dir.join("venue-captures/COINBASE.jsonl.zst")).expect("open");
    while let Some(Ok(r)) = cap.next() {
        if r.kind == RecordKind::Recv {
            frames.push((r.ts_local_ns, r.data.to_vec()));
        }
    }
    // Classify: index after the last snapshot; update frames and their level counts.
    let mut dec = CoinbaseDecoder::new(&reg, Default::default());
    let (mut after_snapshots, mut updates, mut update_levels, mut all_levels) = (0, vec![], 0, 0);
    for (i, (ts, f)) in frames.iter().enumerate() {
        let mut b = f.clone();
        if let Ok(CoinbaseMsg::L2(_)) = dec.decode(&mut b, *ts) {
            all_levels += dec.levels().len() as u64;
            if dec.l2_events().iter().any(|e| e.snapshot) {
                after_snapshots = i + 1;
            } else {
                update_levels += dec.levels().len() as u64;
                updates.push((*ts, f.clone()));
            }
        }
    }
    eprintln!(
        "{} frames, {} update frames with {update_levels} levels, {all_levels} levels in all",
        frames.len(),
        updates.len()
    );

    let mut g = c.benchmark_group("coinbase");
    g.throughput(Throughput::Elements(update_levels));
    let mut scratch = Vec::with_capacity(1 << 16);
    g.bench_function("decode_updates", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for (ts, f) in &updates {
                scratch.clear();
                scratch.extend_from_slice(f);
                if dec.decode(&mut scratch, *ts).is_ok() {
                    n += dec.levels().len();
                }
            }
            n
        })
    });
    g.bench_function("decode_sync_apply_updates", |b| {
        b.iter_batched_ref(
            || {
                let mut r = CoinbaseReplay::new(&reg);
                for (ts, f) in &frames[..after_snapshots] {
                    let _ = r.feed(&mut f.clone(), *ts, &mut Nop);
                }
                (r, frames[after_snapshots..].to_vec())
            },
            |(r, rest)| {
                for (ts, f) in rest.iter_mut() {
                    let _ = r.feed(f, *ts, &mut Nop);
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.throughput(Throughput::Elements(all_levels));
    g.bench_function("replay_all_frames", |b| {
        b.iter_batched_ref(
            || (CoinbaseReplay::new(&reg), frames.clone()),
            |(r, all)| {
                for (ts, f) in all.iter_mut() {
                    let _ = r.feed(f, *ts, &mut Nop);
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn sim(c: &mut Criterion) {
    let reg = Registry::with_defaults();
    let mut sim = Simulator::new(&reg, SimConfig::new(1)).expect("default config");
    let mut out = Vec::with_capacity(256);
    let (mut events, n) = (0usize, 100_000);
    for _ in 0..n {
        sim.next_batch(&mut out);
        events += out.len();
    }
    eprintln!("simulator: {:.2} events per batch", events as f64 / n as f64);
    let mut g = c.benchmark_group("sim");
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("next_batch", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for _ in 0..10_000 {
                sim.next_batch(&mut out);
                n += out.len();
            }
            n
        })
    });
    g.finish();
}

criterion_group! {
    name = venues;
    config = Criterion::default().sample_size(10);
    targets = coinbase, sim
}
criterion_main!(venues);
