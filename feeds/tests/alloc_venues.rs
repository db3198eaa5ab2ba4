//! No allocation once warm: the Coinbase update path (decode, `CoinbaseSync`, book apply) over
//! the real capture after its two book snapshots, and the simulator's `next_batch`.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;

use crpbot_core::Registry;
use crpbot_feeds::capture::{Capture, RecordKind};
use crpbot_feeds::coinbase::CoinbaseReplay;
use crpbot_feeds::replay::{Published, ReplaySink};
use crpbot_feeds::sim::{SimConfig, Simulator};

mod counting;
use counting::{ALLOCS, COUNTING};

struct Touch(u64);
impl ReplaySink for Touch {
    fn on_book(&mut self, p: &Published<'_>) {
        if let Some(b) = p.book.book.best_bid() {
            self.0 = self.0.wrapping_add(b.px.0 as u64);
        }
    }
}

/// Both tests share the counter: run them one after the other.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn coinbase_update_path_allocates_nothing_after_warm_up() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(dir) = common::data_dir() else { return };
    let reg = Registry::with_defaults();
    let mut frames = Vec::new();
    let mut cap = Capture::open(&dir.join("venue-captures/COINBASE.jsonl.zst")).unwrap();
    while let Some(r) = cap.next() {
        let r = r.unwrap();
        if r.kind == RecordKind::Recv {
            frames.push((r.ts_local_ns, r.data.to_vec()));
        }
    }
    let mut replay = CoinbaseReplay::new(&reg);
    let mut sink = Touch(0);
    // Warm up on everything up to and including the second book snapshot (and 50 more).
    let warm = frames
        .iter()
        .enumerate()
        .filter(|(_, (_, f))| f.starts_with(br#"{"channel":"l2_data""#) && f.len() > 1 << 20)
        .map(|(i, _)| i + 50)
        .max()
        .unwrap();
    ALLOCS.store(0, Ordering::SeqCst);
    for (i, (ts, f)) in frames.iter_mut().enumerate() {
        if i == warm {
            COUNTING.store(true, Ordering::SeqCst);
        }
        replay.feed(f, *ts, &mut sink).unwrap();
    }
    COUNTING.store(false, Ordering::SeqCst);
    let allocs = ALLOCS.swap(0, Ordering::SeqCst);
    let stats = replay.stats();
    println!("{} frames after warm-up, {allocs} allocations", frames.len() - warm);
    assert_eq!(stats.gaps, 0);
    assert!(frames.len() - warm > 800);
    assert_eq!(allocs, 0, "the Coinbase update path allocated {allocs} times");
}

#[test]
fn simulator_allocates_nothing_after_warm_up() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let reg = Registry::with_defaults();
    let mut sim = Simulator::new(&reg, SimConfig::new(3)).unwrap();
    let mut out = Vec::with_capacity(1024);
    for _ in 0..10_000 {
        sim.next_batch(&mut out);
    }
    ALLOCS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let mut events = 0;
    for _ in 0..200_000 {
        sim.next_batch(&mut out);
        events += out.len();
    }
    COUNTING.store(false, Ordering::SeqCst);
    let allocs = ALLOCS.swap(0, Ordering::SeqCst);
    println!("simulator: {events} events in 200,000 batches, {allocs} allocations");
    assert!(events > 1_000_000);
    assert_eq!(allocs, 0);
}
