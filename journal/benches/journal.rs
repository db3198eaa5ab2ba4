//! Journal benches (criterion), all with 64 MiB segments (the default) so rolls are included:
//!
//! * `journal_append/sustained_{64B,market}`: one iteration = 4 Mi appends into a fresh journal
//!   (~400 MB of records for 64 B payloads, ~330 MB for the market mix, 5–6 segment rolls).
//! * `journal_replay/{64B,market}`: one iteration = [`Reader`] replay of a 4 Mi-record journal,
//!   touching every payload.
//! * `journal_roll/{with_spare,without_background_thread}`: time of `Writer::roll` on the
//!   appending thread (criterion mean plus printed histogram), 1 MiB segments.
//! * `journal_latency/{append,append_durable}_{64B,market}`: per-append latency; criterion's mean
//!   plus a printed HdrHistogram (p50/p90/p99/p99.9/p99.99/max) over every timed append of one
//!   continuous journal (the plain append stream crosses several segment rolls), and the
//!   `Instant::now` pair overhead that every figure includes.
//!
//! Durable figures are the device's `msync` + watermark `fdatasync` round trips. On the shared
//! 2-core Firecracker VM used for BENCHMARKS.md, a thread blocked in I/O on an otherwise idle
//! vCPU is often woken only at the next 4 ms tick, so `append_durable` shows 4/8 ms modes; keep a
//! CPU busy beside the bench (as the trading process's spinning threads do) to measure the
//! device: `sh -c 'while :; do :; done' & cargo bench ... journal_latency/append_durable`.
//!
//! Payloads: `64B` is a fixed 64-byte payload (96-byte records). `market` is the codec's real
//! encoding (`codec::encode_market`) of a market-data mix: 70 % `LevelUpdate` (45-byte payload,
//! 80-byte record), 25 % `Trade` (44 B, 72 B), 5 % `Bbo` (59 B, 88 B).
//!
//! `cargo bench -p crpbot-journal --bench journal -- --warm-up-time 1 --measurement-time 3`
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use crpbot_core::{Bbo, InstrumentId, LevelUpdate, MarketEvent, Px, Qty, Side, Trade};
use crpbot_journal::codec::{MAX_TYPED_LEN, encode_market};
use crpbot_journal::{Journal, JournalConfig, Reader, RecordType, Writer};

/// Appends per sustained-throughput iteration and records per replayed journal.
const N: usize = 1 << 22;
/// Default segment size (64 MiB).
const SEGMENT: u64 = 64 << 20;

/// A ring of encoded payloads appended in turn.
struct Payloads {
    bytes: Vec<[u8; MAX_TYPED_LEN]>,
    lens: Vec<usize>,
}

impl Payloads {
    fn fixed64() -> Payloads {
        let mut b = [0u8; MAX_TYPED_LEN];
        b[..64].copy_from_slice(&[7u8; 64]);
        Payloads { bytes: vec![b], lens: vec![64] }
    }

    /// 4,096 market events in the 70/25/5 mix, encoded by the codec.
    fn market() -> Payloads {
        let mut bytes = Vec::new();
        let mut lens = Vec::new();
        for i in 0..4096i64 {
            let ts = 1_700_000_000_000_000_000 + i * 1_000;
            let ev = match i % 20 {
                0 => MarketEvent::Bbo(Bbo {
                    ts_exch_ns: ts,
                    ts_local_ns: ts + 500,
                    update_id: i as u64,
                    bid_px: Px(6_500_000 + i),
                    bid_qty: Qty(12 + i),
                    ask_px: Px(6_500_010 + i),
                    ask_qty: Qty(3 + i),
                    instrument: InstrumentId(1),
                    _pad: [0; 6],
                }),
                1..=5 => MarketEvent::Trade(Trade {
                    ts_exch_ns: ts,
                    ts_local_ns: ts + 500,
                    trade_id: i as u64,
                    px: Px(6_500_000 + i % 97),
                    qty: Qty(1 + i % 13),
                    instrument: InstrumentId(1),
                    aggressor: if i % 2 == 0 { Side::Buy } else { Side::Sell },
                    _pad: [0; 5],
                }),
                _ => MarketEvent::Level(LevelUpdate {
                    ts_exch_ns: ts,
                    ts_local_ns: ts + 500,
                    update_id: i as u64,
                    px: Px(6_500_000 + i % 211),
                    qty: Qty(i % 7),
                    instrument: InstrumentId(1),
                    side: if i % 3 == 0 { Side::Buy } else { Side::Sell },
                    flags: 0,
                    _pad: 0,
                }),
            };
            let mut b = [0u8; MAX_TYPED_LEN];
            lens.push(encode_market(&ev, &mut b));
            bytes.push(b);
        }
        Payloads { bytes, lens }
    }

    #[inline]
    fn get(&self, i: usize) -> &[u8] {
        let k = i % self.lens.len();
        &self.bytes[k][..self.lens[k]]
    }
}

/// `CRPBOT_BENCH_PREFAULT=0` turns the writer's background thread off (where the build has it),
/// to see what pre-faulting and spare segments contribute.
fn open(dir: &Path) -> Writer {
    let mut cfg = JournalConfig::with_segment_bytes(SEGMENT);
    if std::env::var("CRPBOT_BENCH_PREFAULT").is_ok_and(|v| v == "0") {
        cfg = cfg.with_prefault_bytes(0);
    }
    Journal::open(dir, cfg).unwrap()
}

fn kinds() -> [(&'static str, Payloads); 2] {
    [("64B", Payloads::fixed64()), ("market", Payloads::market())]
}

fn append_sustained(c: &mut Criterion) {
    let mut g = c.benchmark_group("journal_append");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10);
    for (name, p) in kinds() {
        g.bench_function(format!("sustained_{name}"), |b| {
            b.iter_batched(
                || {
                    let d = tempfile::tempdir().unwrap();
                    let w = open(d.path());
                    (d, w)
                },
                |(d, mut w)| {
                    for i in 0..N {
                        black_box(
                            w.append(RecordType::MARKET_EVENT, 1, i as i64, p.get(i)).unwrap(),
                        );
                    }
                    (d, w) // dropped (files deleted) outside the timing
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

fn replay(c: &mut Criterion) {
    let mut g = c.benchmark_group("journal_replay");
    g.throughput(Throughput::Elements(N as u64));
    g.sample_size(10);
    for (name, p) in kinds() {
        let d = tempfile::tempdir().unwrap();
        let mut w = open(d.path());
        for i in 0..N {
            w.append(RecordType::MARKET_EVENT, 1, i as i64, p.get(i)).unwrap();
        }
        drop(w);
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut r = Reader::open(d.path()).unwrap();
                let mut sum = 0u64;
                let mut n = 0usize;
                while let Some(rec) = r.next_record() {
                    let rec = rec.unwrap();
                    sum = sum
                        .wrapping_add(rec.seq ^ u64::from(rec.payload[rec.payload.len() - 1]))
                        .wrapping_add(rec.payload.len() as u64);
                    n += 1;
                }
                assert_eq!(n, N);
                black_box(sum)
            })
        });
    }
    g.finish();
}

fn histogram() -> hdrhistogram::Histogram<u64> {
    hdrhistogram::Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).unwrap()
}

fn print(label: &str, h: &hdrhistogram::Histogram<u64>) {
    if h.is_empty() {
        return; // filtered out
    }
    println!(
        "{label}: n {} p50 {} p90 {} p99 {} p99.9 {} p99.99 {} max {} (ns)",
        h.len(),
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.9),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.value_at_quantile(0.9999),
        h.max()
    );
}

/// Per-append latency histograms. One journal per payload kind lives across all of criterion's
/// samples, so the stream is continuous and crosses segment rolls; every append is timed with
/// one `Instant::now` pair (its overhead, printed first, is included in the figures).
fn latency(c: &mut Criterion) {
    let mut h = histogram();
    for _ in 0..1_000_000 {
        let t0 = Instant::now();
        h.record(black_box(t0).elapsed().as_nanos() as u64).unwrap();
    }
    print("journal_latency/instant_pair_overhead", &h);
    for durable in [false, true] {
        let mut g = c.benchmark_group("journal_latency");
        g.sample_size(10);
        if !durable {
            // ~8 M appends (~800 MB, a dozen rolls) are plenty for the histogram.
            g.measurement_time(std::time::Duration::from_secs(1));
        }
        for (name, p) in kinds() {
            let d = tempfile::tempdir().unwrap();
            let mut w = open(d.path());
            let mut h = histogram();
            let mut i = 0usize;
            let label = if durable { "append_durable" } else { "append" };
            g.bench_function(format!("{label}_{name}"), |b| {
                b.iter_custom(|iters| {
                    let mut total = std::time::Duration::ZERO;
                    for _ in 0..iters {
                        let payload = p.get(i);
                        let t0 = Instant::now();
                        let seq = if durable {
                            w.append_durable(RecordType::FILL, 1, i as i64, payload)
                        } else {
                            w.append(RecordType::MARKET_EVENT, 1, i as i64, payload)
                        };
                        let dt = t0.elapsed();
                        black_box(seq.unwrap());
                        h.record(dt.as_nanos() as u64).unwrap();
                        total += dt;
                        i += 1;
                    }
                    total
                })
            });
            print(&format!("journal_latency/{label}_{name} ({} segments)", segments(d.path())), &h);
            if !h.is_empty() {
                println!(
                    "journal_latency/{label}_{name}: {} appends > 100 us, {} > 1 ms; {:?}",
                    h.count_between(100_000, u64::MAX),
                    h.count_between(1_000_000, u64::MAX),
                    w.background_stats()
                );
            }
        }
        g.finish();
    }
}

/// Cost of a roll on the appending thread: `Writer::roll` after 10,000 records of 64 B have
/// (almost) filled a 1 MiB segment, with a spare prepared by the background thread (the bench
/// waits, untimed, until one is ready) and with the background thread off (the segment is
/// created at the roll).
fn roll(c: &mut Criterion) {
    let mut g = c.benchmark_group("journal_roll");
    g.sample_size(10);
    g.measurement_time(std::time::Duration::from_secs(2));
    let payload = [7u8; 64];
    for background in [true, false] {
        let d = tempfile::tempdir().unwrap();
        let mut cfg = JournalConfig::with_segment_bytes(1 << 20);
        if !background {
            cfg = cfg.with_prefault_bytes(0);
        }
        let mut w = Journal::open(d.path(), cfg).unwrap();
        let mut h = histogram();
        let name = if background { "with_spare" } else { "without_background_thread" };
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = std::time::Duration::ZERO;
                for _ in 0..iters {
                    for i in 0..10_000 {
                        w.append(RecordType::MARKET_EVENT, 1, i, &payload).unwrap();
                    }
                    if background {
                        let s = w.background_stats();
                        if s.rolls_with_spare + s.rolls_without_spare > 0 {
                            while w.background_stats().spares_prepared <= s.rolls_with_spare {
                                std::thread::yield_now();
                            }
                        }
                    }
                    let t0 = Instant::now();
                    w.roll().unwrap();
                    let dt = t0.elapsed();
                    h.record(dt.as_nanos() as u64).unwrap();
                    total += dt;
                }
                total
            })
        });
        print(&format!("journal_roll/{name}"), &h);
        if !h.is_empty() {
            println!("journal_roll/{name}: {:?}", w.background_stats());
        }
    }
    g.finish();
}

fn segments(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".jseg"))
        .count()
}

criterion_group!(benches, append_sustained, replay, latency, roll);
criterion_main!(benches);
