//! Runtime tests: order and counts in every topology, drain on stop, back-pressure (J10),
//! telemetry, panics and start-up errors. No sleeps wait for threads: tests wait on the
//! conditions themselves (a stalled stage is stalled by a flag the test releases).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use super::*;

/// Emits `0..n` then finishes; with `n == u64::MAX` it never finishes.
struct Count {
    next: u64,
    n: u64,
    emitted: Arc<AtomicU64>,
}

impl Source for Count {
    type Out = u64;
    fn poll<E: Emit<u64>>(&mut self, out: &mut E) -> Progress {
        if self.next == self.n {
            return Progress::Finished;
        }
        match out.emit(self.next) {
            Ok(()) => {
                self.next += 1;
                self.emitted.store(self.next, Ordering::Release);
                Progress::Busy
            }
            Err(Full(_)) => Progress::Idle,
        }
    }
}

/// Emits `2x` and `2x + 1` for each `x`; holds the last item back until `finish` (so finish
/// must run and its emits must reach downstream).
struct Split2 {
    held: Option<u64>,
}

impl Stage for Split2 {
    type In = u64;
    type Out = u64;
    fn on_item<E: Emit<u64>>(&mut self, x: u64, out: &mut E) {
        if let Some(h) = self.held.take() {
            assert!(out.emit(h).is_ok());
        }
        assert!(out.emit(2 * x).is_ok());
        self.held = Some(2 * x + 1);
    }
    fn finish<E: Emit<u64>>(&mut self, out: &mut E) {
        if let Some(h) = self.held.take() {
            assert!(out.emit(h).is_ok());
        }
    }
}

/// Checks the sequence is exactly 0, 1, 2, ...; optionally stalls on the first item until
/// `release` is set.
struct Check {
    expect: u64,
    errors: Arc<AtomicU64>,
    seen: Arc<AtomicU64>,
    release: Option<Arc<AtomicBool>>,
}

impl Stage for Check {
    type In = u64;
    type Out = ();
    fn on_item<E: Emit<()>>(&mut self, x: u64, _out: &mut E) {
        if let Some(r) = &self.release {
            while !r.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
        }
        if x != self.expect {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.expect = x + 1;
        self.seen.store(self.expect, Ordering::Release);
    }
}

struct Probe {
    emitted: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    seen: Arc<AtomicU64>,
}

fn probe() -> Probe {
    Probe {
        emitted: Arc::new(AtomicU64::new(0)),
        errors: Arc::new(AtomicU64::new(0)),
        seen: Arc::new(AtomicU64::new(0)),
    }
}

fn start(
    config: PipelineConfig,
    n: u64,
    p: &Probe,
    edge: EdgeKind,
    release: Option<Arc<AtomicBool>>,
) -> (Pipeline, HaltFlag) {
    let (halt, _reset) = HaltFlag::new();
    let pipeline = PipelineBuilder::new(config, halt.clone())
        .source("count", Count { next: 0, n, emitted: p.emitted.clone() })
        .split("split2", Split2 { held: None }, edge)
        .split(
            "check",
            Check { expect: 0, errors: p.errors.clone(), seen: p.seen.clone(), release },
            edge,
        )
        .start()
        .unwrap();
    (pipeline, halt)
}

fn config(topology: Topology, wait: WaitStrategy, ring_capacity: usize) -> PipelineConfig {
    PipelineConfig { topology, wait, ring_capacity, ..PipelineConfig::default() }
}

fn run_in_order(config: PipelineConfig, groups: usize) {
    let n = 50_000;
    let p = probe();
    let (pipeline, halt) = start(config, n, &p, EdgeKind::Decision, None);
    let report = pipeline.join().unwrap();
    assert_eq!(p.errors.load(Ordering::Relaxed), 0, "out of order");
    assert_eq!(p.seen.load(Ordering::Relaxed), 2 * n);
    assert_eq!(report.groups.len(), groups);
    let names: Vec<_> = report.stages.iter().map(|s| s.name).collect();
    assert_eq!(names, ["count", "split2", "check"]);
    assert_eq!(report.stage("split2").unwrap().items_in, n);
    assert_eq!(report.stage("check").unwrap().items_in, 2 * n);
    assert_eq!(report.edges.len(), groups - 1);
    for e in &report.edges {
        assert_eq!(e.counters.pushed, e.popped, "{e:?}");
        assert_eq!(e.counters.handed_back, 0);
    }
    if groups == 3 {
        assert_eq!(report.edge_into("split2").unwrap().popped, n);
        assert_eq!(report.edge_into("check").unwrap().popped, 2 * n);
        assert_eq!(report.stage("check").unwrap().group, 2);
    }
    // A full decision edge may have latched the halt; it never lost an item either way.
    let _ = halt.is_halted();
}

#[test]
fn fused_runs_three_stages_in_order_on_one_thread() {
    run_in_order(config(Topology::Fused, WaitStrategy::Spin, 64), 1);
}

#[test]
fn split_runs_three_stages_in_order_on_three_threads() {
    run_in_order(config(Topology::Split, WaitStrategy::Yield, 64), 3);
}

#[test]
fn split_with_park_runs_in_order() {
    let wait = WaitStrategy::SpinThenPark { spins: 16, park: Duration::from_millis(50) };
    run_in_order(config(Topology::Split, wait, 64), 3);
}

#[test]
fn auto_fuses_without_enough_cores() {
    run_in_order(config(Topology::Auto, WaitStrategy::Yield, 64), 1);
}

#[test]
fn stop_drains_every_ring() {
    let p = probe();
    let release = Arc::new(AtomicBool::new(false));
    let (pipeline, _halt) = start(
        config(Topology::Split, WaitStrategy::Yield, 4),
        u64::MAX,
        &p,
        EdgeKind::Decision,
        Some(release.clone()),
    );
    // Let the rings fill behind the stalled sink, then stop while items are in flight.
    while p.emitted.load(Ordering::Acquire) < 6 {
        std::thread::yield_now();
    }
    pipeline.stop();
    release.store(true, Ordering::Release);
    let report = pipeline.join().unwrap();
    let emitted = p.emitted.load(Ordering::Relaxed);
    assert!(emitted >= 6);
    assert_eq!(p.seen.load(Ordering::Relaxed), 2 * emitted, "every emitted item arrived");
    assert_eq!(p.errors.load(Ordering::Relaxed), 0);
    for e in &report.edges {
        assert_eq!(e.counters.pushed, e.popped);
    }
}

/// RELIABILITY.md J10: a stalled consumer on decision edges: 0 dropped, halt latched, pushed
/// equals consumed once the stall ends.
#[test]
fn stalled_consumer_halts_instead_of_dropping() {
    let n = 10_000;
    let p = probe();
    let release = Arc::new(AtomicBool::new(false));
    let (pipeline, halt) = start(
        config(Topology::Split, WaitStrategy::Yield, 8),
        n,
        &p,
        EdgeKind::Decision,
        Some(release.clone()),
    );
    while !halt.is_halted() {
        std::thread::yield_now();
    }
    release.store(true, Ordering::Release);
    let report = pipeline.join().unwrap();
    assert!(halt.is_halted());
    assert_eq!(p.seen.load(Ordering::Relaxed), 2 * n, "0 items dropped");
    assert_eq!(p.errors.load(Ordering::Relaxed), 0);
    let into_check = report.edge_into("check").unwrap();
    assert!(into_check.counters.full_events >= 1);
    assert!(into_check.counters.halts_latched >= 1);
    for e in &report.edges {
        assert_eq!(e.counters.handed_back, 0);
        assert_eq!(e.counters.pushed, e.popped);
    }
    assert_eq!(into_check.popped, 2 * n);
}

#[test]
fn data_edge_hands_back_after_its_spins_without_halting() {
    let (halt, _r) = HaltFlag::new();
    let (mut tx, mut rx) = ring::<u32>(
        2,
        EdgeKind::Data { spins: 10 },
        halt.clone(),
        Shutdown::new(),
        WaitStrategy::Spin,
    );
    assert_eq!(tx.push(1), Ok(()));
    assert_eq!(tx.push(2), Ok(()));
    assert_eq!(tx.push(3), Err(Full(3)));
    assert!(!halt.is_halted());
    let c = tx.counters();
    assert_eq!((c.pushed, c.full_events, c.handed_back, c.halts_latched), (2, 1, 1, 0));
    assert_eq!(rx.pop(), Some(1));
    assert_eq!(tx.push(3), Ok(()));
    assert_eq!((rx.pop(), rx.pop(), rx.pop()), (Some(2), Some(3), None));
    assert_eq!(rx.popped(), 3);
}

#[test]
fn decision_push_gives_up_when_the_consumer_is_gone() {
    let (halt, reset) = HaltFlag::new();
    let (mut tx, rx) =
        ring::<u32>(1, EdgeKind::Decision, halt.clone(), Shutdown::new(), WaitStrategy::Spin);
    assert_eq!(tx.push(1), Ok(()));
    drop(rx);
    assert_eq!(tx.push(2), Err(Full(2)));
    assert!(halt.is_halted());
    assert_eq!(tx.counters().handed_back, 1);
    reset.rearm();
    assert!(!halt.is_halted());
}

#[test]
fn decision_push_gives_up_on_abort() {
    let (halt, _r) = HaltFlag::new();
    let shutdown = Shutdown::new();
    let (mut tx, rx) =
        ring::<u32>(1, EdgeKind::Decision, halt.clone(), shutdown.clone(), WaitStrategy::Yield);
    assert_eq!(tx.push(1), Ok(()));
    let blocked = std::thread::spawn(move || (tx.push(2), tx.counters()));
    while !halt.is_halted() {
        std::thread::yield_now();
    }
    shutdown.abort();
    let (result, counters) = blocked.join().unwrap();
    assert_eq!(result, Err(Full(2)));
    assert_eq!((counters.full_events, counters.handed_back), (1, 1));
    drop(rx);
}

/// A stage counting items into its own telemetry sink.
struct Metered {
    sink: TelemetrySink,
}

impl Stage for Metered {
    type In = u64;
    type Out = ();
    fn on_item<E: Emit<()>>(&mut self, x: u64, _out: &mut E) {
        self.sink.record(TelemetryKind::Count, 1, 0);
        self.sink.record(TelemetryKind::Gauge, x, 0);
    }
}

#[test]
fn telemetry_reaches_the_collector() {
    let n = 3_000;
    let (halt, _r) = HaltFlag::new();
    let config = PipelineConfig {
        topology: Topology::Split,
        wait: WaitStrategy::Yield,
        telemetry_capacity: 8192,
        sample_every: 7,
        ..PipelineConfig::default()
    };
    let mut builder = PipelineBuilder::new(config, halt);
    let sink = builder.telemetry_sink("metered").unwrap();
    let emitted = Arc::new(AtomicU64::new(0));
    let mut pipeline = builder
        .source("count", Count { next: 0, n, emitted })
        .split("metered", Metered { sink }, EdgeKind::Decision)
        .start()
        .unwrap();
    let mut collector = pipeline.take_telemetry().unwrap();
    assert!(pipeline.take_telemetry().is_none());
    // Drain concurrently, as a control thread would, until the pipeline is done.
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let control = std::thread::spawn(move || {
        while !d.load(Ordering::Acquire) {
            collector.drain();
            std::thread::yield_now();
        }
        collector.drain();
        collector
    });
    let report = pipeline.join().unwrap();
    done.store(true, Ordering::Release);
    let collector = control.join().unwrap();
    let snap = collector.snapshot();
    let names: Vec<_> = snap.stages.iter().map(|s| s.name).collect();
    assert_eq!(names, ["metered", "metered", "count"], "user sink, then groups tail first");
    // The rings (8192) hold everything even if the control thread never ran: exact figures.
    let user = &snap.stages[0];
    assert_eq!((user.count, user.gauge, user.dropped, user.records), (n, n - 1, 0, 2 * n));
    let group = &snap.stages[1];
    assert_eq!(group.dropped, 0);
    assert_eq!(group.count, report.groups[1].busy_rounds, "runtime counts every busy round");
    assert!(group.latency.samples > 0 && group.latency.samples <= n / 7, "{group:?}");
    assert!(group.latency.p50_ns > 0 && group.latency.p50_ns <= group.latency.max_ns);
    assert!(!snap.to_string().is_empty());
}

struct Boom;

impl Stage for Boom {
    type In = u64;
    type Out = ();
    fn on_item<E: Emit<()>>(&mut self, x: u64, _out: &mut E) {
        assert!(x < 100, "boom");
    }
}

/// Emits `0..n`; gives up (finishes) the first time an item is handed back.
struct GiveUp(u64, u64);

impl Source for GiveUp {
    type Out = u64;
    fn poll<E: Emit<u64>>(&mut self, out: &mut E) -> Progress {
        if self.0 == self.1 || out.emit(self.0).is_err() {
            return Progress::Finished;
        }
        self.0 += 1;
        Progress::Busy
    }
}

#[test]
fn a_panicking_stage_fails_join_without_hanging_the_others() {
    let (halt, _r) = HaltFlag::new();
    // The ring (4) cannot hold the 900 items after the panic at 100: the source's decision
    // push waits, sees the consumer gone, and hands the item back; the source finishes.
    let pipeline =
        PipelineBuilder::new(config(Topology::Split, WaitStrategy::Yield, 4), halt.clone())
            .source("giveup", GiveUp(0, 1_000))
            .split("boom", Boom, EdgeKind::Decision)
            .start()
            .unwrap();
    assert_eq!(pipeline.join(), Err(JoinError::Panicked { group: "boom" }));
    assert!(halt.is_halted());
}

#[test]
fn start_rejects_bad_configs() {
    let try_start = |config: PipelineConfig| {
        let (halt, _r) = HaltFlag::new();
        let emitted = Arc::new(AtomicU64::new(0));
        PipelineBuilder::new(config, halt)
            .source("count", Count { next: 0, n: 10, emitted })
            .split("boom", Boom, EdgeKind::Decision)
            .start()
            .map(|p| p.join())
    };
    assert_eq!(
        try_start(config(Topology::Split, WaitStrategy::Spin, 8)).err(),
        Some(BuildError::SpinOversubscribed { groups: 2, cores: 0 })
    );
    assert_eq!(
        try_start(config(Topology::Fused, WaitStrategy::Spin, 0)).err(),
        Some(BuildError::ZeroCapacity)
    );
    let mut c = config(Topology::Fused, WaitStrategy::Spin, 8);
    c.cores = vec![1 << 20];
    assert_eq!(try_start(c).err(), Some(BuildError::NoSuchCore { core: 1 << 20 }));
    // Fused + Spin needs no cores at all.
    assert!(try_start(config(Topology::Fused, WaitStrategy::Spin, 8)).unwrap().is_ok());
}

#[test]
fn fused_thread_is_pinned_to_the_configured_core() {
    let Some(first) = core_affinity::get_core_ids().and_then(|ids| ids.first().map(|c| c.id))
    else {
        println!("skipping: no core list on this machine");
        return;
    };
    let mut c = config(Topology::Fused, WaitStrategy::Spin, 8);
    c.cores = vec![first];
    let p = probe();
    let (pipeline, _halt) = start(c, 100, &p, EdgeKind::Decision, None);
    let report = pipeline.join().unwrap();
    assert_eq!(report.groups[0].core, Some(first));
    assert!(report.groups[0].pinned);
}

/// The `SpinThenPark` fast path: a push whose consumer has not flagged itself parked makes no
/// `unpark` call (no syscall); one to a flagged consumer makes exactly one.
#[test]
fn notify_unparks_only_a_flagged_consumer() {
    use super::wait::ParkSlot;
    let (halt, _r) = HaltFlag::new();
    let park = WaitStrategy::SpinThenPark { spins: 1, park: Duration::from_millis(1) };
    let (mut tx, mut rx) = ring::<u64>(1024, EdgeKind::Decision, halt, Shutdown::new(), park);
    let slot = ParkSlot::new();
    tx.set_notifier(slot.clone(), std::thread::current());
    for i in 0..1_000 {
        tx.push(i).unwrap();
    }
    assert_eq!(tx.counters().unparks, 0);
    // This thread flags itself parked and re-checks: the ring has items, so it does not park.
    assert!(!slot.park_unless(|| !rx.is_empty(), Duration::from_secs(5)));
    while rx.pop().is_some() {}
    // Flag raised while a push happens: simulated by parking with a `has_work` that pushes
    // (the producer's side runs between the flag and the re-check).
    let parked = slot.park_unless(
        || {
            tx.push(7).unwrap();
            true
        },
        Duration::from_secs(5),
    );
    assert!(!parked);
    assert_eq!(tx.counters().unparks, 1, "the push saw the flag and unparked");
    assert_eq!(rx.pop(), Some(7));
}
