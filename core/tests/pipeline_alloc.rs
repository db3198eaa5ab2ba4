//! Allocation test: once a pipeline is warm, items flowing through it (ring push and pop, stage
//! calls, waiting, runtime telemetry) allocate nothing, in the fused and the split topology.
//!
//! The counter is global (the pipeline runs on its own threads), so this binary holds a single
//! test that runs the topologies one after the other.
#![cfg(not(loom))]
#![allow(unsafe_code, clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crpbot_core::pipeline::*;

struct Counting;

static ENABLED: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);

fn note() {
    if ENABLED.load(Ordering::Relaxed) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to `System` unchanged; the bookkeeping touches only statics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: as `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract, passed on as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note();
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract, passed on as is.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Emits items while the test-controlled budget allows.
struct Budgeted {
    next: u64,
    budget: Arc<AtomicU64>,
}

impl Source for Budgeted {
    type Out = [u64; 4];
    fn poll<E: Emit<[u64; 4]>>(&mut self, out: &mut E) -> Progress {
        if self.next >= self.budget.load(Ordering::Acquire) {
            return Progress::Idle;
        }
        match out.emit([self.next; 4]) {
            Ok(()) => {
                self.next += 1;
                Progress::Busy
            }
            Err(Full(_)) => Progress::Idle,
        }
    }
}

struct Fold;

impl Stage for Fold {
    type In = [u64; 4];
    type Out = u64;
    fn on_item<E: Emit<u64>>(&mut self, x: [u64; 4], out: &mut E) {
        let _ = out.emit(x.iter().sum::<u64>() / 4);
    }
}

struct Last {
    seen: Arc<AtomicU64>,
    sink: TelemetrySink,
}

impl Stage for Last {
    type In = u64;
    type Out = ();
    fn on_item<E: Emit<()>>(&mut self, x: u64, _out: &mut E) {
        self.sink.record(TelemetryKind::LatencyNs, x + 1, 0);
        self.seen.store(x + 1, Ordering::Release);
    }
}

fn wait_for(seen: &AtomicU64, n: u64) {
    while seen.load(Ordering::Acquire) < n {
        std::thread::yield_now();
    }
}

fn steady_state_allocations(topology: Topology, wait: WaitStrategy) -> u64 {
    let (halt, _reset) = HaltFlag::new();
    let config = PipelineConfig {
        topology,
        wait,
        ring_capacity: 256,
        telemetry_capacity: 64,
        sample_every: 16,
        ..PipelineConfig::default()
    };
    let budget = Arc::new(AtomicU64::new(1_000));
    let seen = Arc::new(AtomicU64::new(0));
    let mut builder = PipelineBuilder::new(config, halt);
    let sink = builder.telemetry_sink("last").unwrap();
    let mut pipeline = builder
        .source("budgeted", Budgeted { next: 0, budget: budget.clone() })
        .split("fold", Fold, EdgeKind::Decision)
        .split("last", Last { seen: seen.clone(), sink }, EdgeKind::Decision)
        .start()
        .unwrap();
    let mut telemetry = pipeline.take_telemetry().unwrap();
    wait_for(&seen, 1_000);
    telemetry.drain();

    ALLOCS.store(0, Ordering::SeqCst);
    ENABLED.store(true, Ordering::SeqCst);
    for round in 1..=20u64 {
        budget.store(1_000 + round * 10_000, Ordering::Release);
        wait_for(&seen, 1_000 + round * 10_000);
        telemetry.drain(); // the control side's aggregation is allocation-free too
    }
    ENABLED.store(false, Ordering::SeqCst);
    let allocs = ALLOCS.load(Ordering::SeqCst);

    pipeline.stop();
    let report = pipeline.join().unwrap();
    assert_eq!(report.stage("last").unwrap().items_in, 201_000);
    allocs
}

#[test]
fn warmed_pipeline_allocates_nothing_per_item() {
    assert_eq!(steady_state_allocations(Topology::Fused, WaitStrategy::Yield), 0, "fused");
    assert_eq!(steady_state_allocations(Topology::Split, WaitStrategy::Yield), 0, "split/yield");
    let park = WaitStrategy::SpinThenPark { spins: 64, park: Duration::from_millis(20) };
    assert_eq!(steady_state_allocations(Topology::Split, park), 0, "split/park");
}
