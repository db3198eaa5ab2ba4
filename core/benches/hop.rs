//! SPSC hop latency between two pinned threads — rtrb vs crossbeam-channel (bounded) vs std
//! `sync_channel`, in the same run — and the throughput of a 3-stage pipeline, fused vs split.
//!
//! Latency is a ping-pong: the round trip over two queues of the same kind, halved. Both
//! threads spin on `try_*` calls (the way a hot thread uses a queue). Besides criterion's
//! figures (per round trip), each queue's one-way latency is printed as HdrHistogram
//! p50/p99/p99.9/max over `HOPS` round trips.
//!
//! `cargo bench -p crpbot-core --bench hop -- --warm-up-time 1 --measurement-time 3`
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use crpbot_core::pipeline::*;
use hdrhistogram::Histogram;

const HOPS: usize = 200_000;
const STOP: u64 = u64::MAX;

/// The first two cores this process may use, read once before any thread is pinned (pinning
/// narrows what `get_core_ids` reports).
fn cores() -> (Option<usize>, Option<usize>) {
    static CORES: std::sync::OnceLock<(Option<usize>, Option<usize>)> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| {
        let ids = core_affinity::get_core_ids().unwrap_or_default();
        (ids.first().map(|c| c.id), ids.get(1).map(|c| c.id))
    })
}

fn pin(core: Option<usize>) {
    if let Some(id) = core {
        let _ = core_affinity::set_for_current(core_affinity::CoreId { id });
    }
}

/// One direction of a queue, used by spinning threads.
trait Tx: Send + 'static {
    fn send(&mut self, v: u64);
}
trait Rx: Send + 'static {
    fn recv(&mut self) -> u64;
}

impl Tx for rtrb::Producer<u64> {
    fn send(&mut self, mut v: u64) {
        while let Err(rtrb::PushError::Full(b)) = self.push(v) {
            v = b;
            std::hint::spin_loop();
        }
    }
}
impl Rx for rtrb::Consumer<u64> {
    fn recv(&mut self) -> u64 {
        loop {
            if let Ok(v) = self.pop() {
                return v;
            }
            std::hint::spin_loop();
        }
    }
}
impl Tx for crossbeam_channel::Sender<u64> {
    fn send(&mut self, mut v: u64) {
        while let Err(e) = self.try_send(v) {
            v = e.into_inner();
            std::hint::spin_loop();
        }
    }
}
impl Rx for crossbeam_channel::Receiver<u64> {
    fn recv(&mut self) -> u64 {
        loop {
            if let Ok(v) = self.try_recv() {
                return v;
            }
            std::hint::spin_loop();
        }
    }
}
impl Tx for std::sync::mpsc::SyncSender<u64> {
    fn send(&mut self, mut v: u64) {
        while let Err(std::sync::mpsc::TrySendError::Full(b)) = self.try_send(v) {
            v = b;
            std::hint::spin_loop();
        }
    }
}
impl Rx for std::sync::mpsc::Receiver<u64> {
    fn recv(&mut self) -> u64 {
        loop {
            if let Ok(v) = self.try_recv() {
                return v;
            }
            std::hint::spin_loop();
        }
    }
}

/// The pinging side plus the echo thread (pinned to the second core).
struct PingPong<T, R> {
    tx: T,
    rx: R,
    echo: Option<std::thread::JoinHandle<()>>,
}

impl<T: Tx, R: Rx> PingPong<T, R> {
    fn new<T2: Tx, R2: Rx>(
        tx: T,
        rx: R,
        mut echo_tx: T2,
        mut echo_rx: R2,
        core: Option<usize>,
    ) -> Self {
        let echo = std::thread::spawn(move || {
            pin(core);
            loop {
                let v = echo_rx.recv();
                echo_tx.send(v);
                if v == STOP {
                    break;
                }
            }
        });
        PingPong { tx, rx, echo: Some(echo) }
    }

    #[inline]
    fn round_trip(&mut self, v: u64) -> u64 {
        self.tx.send(v);
        self.rx.recv()
    }

    fn histogram(&mut self) -> Histogram<u64> {
        let mut h = Histogram::new_with_bounds(1, 10_000_000_000, 3).unwrap();
        for i in 0..HOPS as u64 {
            let t0 = Instant::now();
            black_box(self.round_trip(i));
            h.saturating_record(
                u64::try_from(t0.elapsed().as_nanos() / 2).unwrap_or(u64::MAX).max(1),
            );
        }
        h
    }
}

impl<T: Tx, R: Rx> PingPong<T, R> {
    fn finish(mut self) {
        self.round_trip(STOP);
        if let Some(e) = self.echo.take() {
            e.join().unwrap();
        }
    }
}

fn report(name: &str, h: &Histogram<u64>) {
    println!(
        "hop one-way {name:<10} p50 {:>6} ns  p99 {:>6} ns  p99.9 {:>7} ns  max {:>9} ns  (n={})",
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max(),
        h.len()
    );
}

fn bench_hop(c: &mut Criterion) {
    let (c0, c1) = cores();
    pin(c0);
    let mut g = c.benchmark_group("hop_round_trip");

    let (a, b) = rtrb::RingBuffer::<u64>::new(1024);
    let (x, y) = rtrb::RingBuffer::<u64>::new(1024);
    let mut pp = PingPong::new(a, y, x, b, c1);
    report("rtrb", &pp.histogram());
    g.bench_function("rtrb", |bch| bch.iter(|| pp.round_trip(black_box(1))));
    pp.finish();

    let (a, b) = crossbeam_channel::bounded::<u64>(1024);
    let (x, y) = crossbeam_channel::bounded::<u64>(1024);
    let mut pp = PingPong::new(a, y, x, b, c1);
    report("crossbeam", &pp.histogram());
    g.bench_function("crossbeam_bounded", |bch| bch.iter(|| pp.round_trip(black_box(1))));
    pp.finish();

    let (a, b) = std::sync::mpsc::sync_channel::<u64>(1024);
    let (x, y) = std::sync::mpsc::sync_channel::<u64>(1024);
    let mut pp = PingPong::new(a, y, x, b, c1);
    report("std_mpsc", &pp.histogram());
    g.bench_function("std_sync_channel", |bch| bch.iter(|| pp.round_trip(black_box(1))));
    pp.finish();
    g.finish();
}

const ITEMS: u64 = 1_000_000;

struct Gen(u64);
impl Source for Gen {
    type Out = u64;
    fn poll<E: Emit<u64>>(&mut self, out: &mut E) -> Progress {
        if self.0 == ITEMS {
            return Progress::Finished;
        }
        if out.emit(self.0).is_ok() {
            self.0 += 1;
        }
        Progress::Busy
    }
}
struct Mix;
impl Stage for Mix {
    type In = u64;
    type Out = u64;
    fn on_item<E: Emit<u64>>(&mut self, x: u64, out: &mut E) {
        let _ = out.emit(x.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17));
    }
}
struct Sink(Arc<AtomicU64>, u64);
impl Stage for Sink {
    type In = u64;
    type Out = ();
    fn on_item<E: Emit<()>>(&mut self, x: u64, _out: &mut E) {
        self.1 ^= x;
    }
    fn finish<E: Emit<()>>(&mut self, _out: &mut E) {
        self.0.store(self.1, Ordering::Relaxed);
    }
}

fn run_pipeline(config: PipelineConfig, two_groups: bool) -> Duration {
    run_pipeline_report(config, two_groups).0
}

fn run_pipeline_report(config: PipelineConfig, two_groups: bool) -> (Duration, PipelineReport) {
    let (halt, _r) = HaltFlag::new();
    let out = Arc::new(AtomicU64::new(0));
    let b = PipelineBuilder::new(config, halt).source("gen", Gen(0));
    let t0 = Instant::now();
    let p = if two_groups {
        b.then("mix", Mix).split("sink", Sink(out.clone(), 0), EdgeKind::Decision).start()
    } else {
        b.split("mix", Mix, EdgeKind::Decision)
            .split("sink", Sink(out.clone(), 0), EdgeKind::Decision)
            .start()
    };
    let report = p.unwrap().join().unwrap();
    let d = t0.elapsed();
    black_box(out.load(Ordering::Relaxed));
    (d, report)
}

fn bench_pipeline(c: &mut Criterion) {
    let (c0, c1) = cores();
    let both: Vec<usize> = c0.into_iter().chain(c1).collect();
    let mut g = c.benchmark_group("pipeline_3_stages_1M");
    g.throughput(Throughput::Elements(ITEMS));
    g.sample_size(10);
    let cases: [(&str, PipelineConfig, bool); 4] = [
        (
            "fused_spin",
            PipelineConfig {
                topology: Topology::Fused,
                cores: both.iter().take(1).copied().collect(),
                ..Default::default()
            },
            false,
        ),
        (
            "split2_spin_pinned",
            PipelineConfig {
                topology: Topology::Split,
                cores: both.clone(),
                ring_capacity: 4096,
                ..Default::default()
            },
            true,
        ),
        (
            "split3_park",
            PipelineConfig {
                topology: Topology::Split,
                wait: WaitStrategy::SpinThenPark { spins: 10_000, park: Duration::from_millis(1) },
                ring_capacity: 4096,
                ..Default::default()
            },
            false,
        ),
        (
            "split3_yield",
            PipelineConfig {
                topology: Topology::Split,
                wait: WaitStrategy::Yield,
                ring_capacity: 4096,
                ..Default::default()
            },
            false,
        ),
    ];
    for (name, config, two) in cases {
        if config.topology == Topology::Split
            && config.wait == WaitStrategy::Spin
            && config.cores.len() < 2
        {
            println!("skipping {name}: needs 2 cores");
            continue;
        }
        let (_, report) = run_pipeline_report(config.clone(), two);
        let pushed: u64 = report.edges.iter().map(|e| e.counters.pushed).sum();
        let unparks: u64 = report.edges.iter().map(|e| e.counters.unparks).sum();
        let parks: u64 = report.groups.iter().map(|g| g.parks).sum();
        let full: u64 = report.edges.iter().map(|e| e.counters.full_events).sum();
        println!(
            "{name}: ring pushes {pushed}, unpark syscalls {unparks}, parks {parks}, full events {full}"
        );
        g.bench_function(name, |bch| {
            bch.iter_custom(|iters| (0..iters).map(|_| run_pipeline(config.clone(), two)).sum())
        });
    }
    g.finish();
}

// The pipeline runs first: the hop bench pins the main thread, which new threads would inherit.
criterion_group!(benches, bench_pipeline, bench_hop);
criterion_main!(benches);
