//! Journal benches: append throughput (64-byte payloads), append latency percentiles
//! (HdrHistogram over 1M appends, printed), and replay rate.
//!
//! `cargo bench -p crpbot-journal --bench journal`
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use crpbot_journal::{Journal, JournalConfig, Reader, RecordType};

const SEGMENT: u64 = 256 << 20;

fn append_throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("journal");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("append_64B", |b| {
        b.iter_custom(|iters| {
            let d = tempfile::tempdir().unwrap();
            let mut w =
                Journal::open(d.path(), JournalConfig::with_segment_bytes(SEGMENT)).unwrap();
            let payload = [7u8; 64];
            let t0 = Instant::now();
            for i in 0..iters {
                black_box(w.append(RecordType::MARKET_EVENT, 1, i as i64, &payload).unwrap());
            }
            t0.elapsed()
        })
    });
    g.finish();
}

fn replay_throughput(c: &mut Criterion) {
    const N: u64 = 1_000_000;
    let d = tempfile::tempdir().unwrap();
    let mut w = Journal::open(d.path(), JournalConfig::with_segment_bytes(SEGMENT)).unwrap();
    for i in 0..N {
        w.append(RecordType::MARKET_EVENT, 1, i as i64, &[i as u8; 64]).unwrap();
    }
    drop(w);
    let mut g = c.benchmark_group("journal");
    g.throughput(Throughput::Elements(N));
    g.sample_size(10);
    g.bench_function("replay_1M_64B", |b| {
        b.iter(|| {
            let mut r = Reader::open(d.path()).unwrap();
            let mut sum = 0u64;
            while let Some(rec) = r.next_record() {
                let rec = rec.unwrap();
                sum = sum.wrapping_add(rec.seq ^ rec.payload[0] as u64);
            }
            black_box(sum)
        })
    });
    g.finish();
}

/// Append latency percentiles over 1M appends (one timestamp pair per append).
fn append_latency(_: &mut Criterion) {
    const N: u64 = 1_000_000;
    let d = tempfile::tempdir().unwrap();
    let mut w = Journal::open(d.path(), JournalConfig::with_segment_bytes(SEGMENT)).unwrap();
    let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 1_000_000_000, 3).unwrap();
    let payload = [7u8; 64];
    for i in 0..N {
        let t0 = Instant::now();
        black_box(w.append(RecordType::MARKET_EVENT, 1, i as i64, &payload).unwrap());
        h.record(t0.elapsed().as_nanos() as u64).unwrap();
    }
    println!(
        "journal/append_latency_64B (1M appends, ns incl. Instant::now overhead): p50 {} p99 {} p99.9 {} max {}",
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max()
    );
    let t0 = Instant::now();
    let durable = w.sync().unwrap();
    println!("journal/sync after 1M appends: {:?} (durable seq {durable})", t0.elapsed());
}

criterion_group!(benches, append_throughput, replay_throughput, append_latency);
criterion_main!(benches);
