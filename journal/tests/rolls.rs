//! J7 (RELIABILITY.md §1.8): roll under load, and crash during roll with the end marker missing.
//!
//! Scaled for CI: each writer mode runs 1.5 s with a forced roll every 20 ms on 64 KiB segments
//! (so size-triggered rolls happen too), and 20 crash-during-roll runs per mode.
//! `CRPBOT_FULL=1` runs the RELIABILITY.md figures: a roll every 300 ms for 15 s per mode (1 MiB
//! segments), and 100 crash runs per mode. Both writer modes are covered: with the background
//! thread (spare segments, pre-faulting) and without it (`prefault_bytes = 0`).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use crpbot_journal::{
    AppendError, FaultHook, FaultPoint, HaltReason, Journal, JournalConfig, Tailer, verify,
    verify_acked,
};
use rand::Rng;

/// Seq a tailer must reach before it stops (`u64::MAX` while the writer is running).
type Target = Arc<AtomicU64>;

/// A tailer thread: reads every record in seq order from 1, checks each payload, and sleeps
/// 1 ms at random (1 record in 200) to play a slow consumer. Returns the records it read.
fn spawn_tailer(dir: &Path, seed: u64, target: Target) -> std::thread::JoinHandle<u64> {
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        let mut rng = rng(seed);
        let mut t = Tailer::open(&dir, 1).unwrap();
        let mut next = 1u64;
        while next <= target.load(Ordering::Acquire) {
            match t.poll() {
                Some(Ok(r)) => {
                    assert_eq!(r.seq, next, "tailer {seed}: gap or duplicate");
                    assert_eq!(r.ts_ns, ts(next), "tailer {seed}: seq {next}");
                    assert_eq!(r.payload, payload(next).as_slice(), "tailer {seed}: seq {next}");
                    next += 1;
                    if rng.random_range(0..200) == 0 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                Some(Err(e)) => panic!("tailer {seed}: {e}"),
                None => std::thread::yield_now(),
            }
        }
        assert!(t.poll().is_none(), "tailer {seed}: record past the last one");
        next - 1
    })
}

fn config(segment_bytes: u64, background: bool) -> JournalConfig {
    let cfg = JournalConfig::with_segment_bytes(segment_bytes);
    if background { cfg } else { cfg.with_prefault_bytes(0) }
}

/// J7: a writer rolls every `roll_every` (and whenever a segment is full) for `run_for`, while 4
/// randomly delayed tailers read everything: each sees 1..=N in order, 0 gaps, 0 duplicates.
fn roll_under_load(background: bool) {
    let (run_for, roll_every, seg) = if full() {
        (Duration::from_secs(15), Duration::from_millis(300), 1 << 20)
    } else {
        (Duration::from_millis(1_500), Duration::from_millis(20), SEG)
    };
    let d = tempfile::tempdir().unwrap();
    let mut w = Journal::open(d.path(), config(seg, background)).unwrap();
    let target: Target = Arc::new(AtomicU64::new(u64::MAX));
    let tailers: Vec<_> = (0..4).map(|i| spawn_tailer(d.path(), 70 + i, target.clone())).collect();
    let start = Instant::now();
    let mut last_roll = start;
    let mut forced_rolls = 0u64;
    let mut n = 0u64;
    while start.elapsed() < run_for {
        // Bursts of 100 records, then a pause: ~100k records/s, so the tailers keep up.
        fill(&mut w, 100);
        n += 100;
        if last_roll.elapsed() >= roll_every {
            w.roll().unwrap();
            forced_rolls += 1;
            last_roll = Instant::now();
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    target.store(n, Ordering::Release);
    for t in tailers {
        assert_eq!(t.join().unwrap(), n);
    }
    let stats = w.background_stats();
    drop(w);
    let v = verify(d.path()).unwrap();
    assert!(v.is_ok(), "{v:?}");
    assert_eq!(v.seq_range, Some((1, n)));
    assert!(v.segments as u64 > forced_rolls, "{} segments, {forced_rolls} rolls", v.segments);
    eprintln!(
        "J7 (background {background}): {n} records, {forced_rolls} forced rolls, {} segments, {stats:?}",
        v.segments
    );
}

#[test]
fn j7_roll_under_load_with_background_thread() {
    roll_under_load(true);
}

#[test]
fn j7_roll_under_load_without_background_thread() {
    roll_under_load(false);
}

/// J7: the writer dies inside a roll after the next segment exists but before END_OF_DATA is
/// written in the current one. Every record stays readable (reader, live tailer, verify), and
/// after recovery the writer and the tailer carry on with no gap.
fn crash_during_roll(background: bool) {
    let runs = count(20, 100);
    let mut rng = rng(77);
    for run in 0..runs {
        let d = tempfile::tempdir().unwrap();
        // Crash at the k-th roll.
        let k = rng.random_range(0..4u64);
        let hook = FaultHook::at_nth(FaultPoint::RollBeforeEndOfData, k);
        let mut w = Journal::open(d.path(), config(SEG, background).with_fault_hook(hook)).unwrap();
        let target: Target = Arc::new(AtomicU64::new(u64::MAX));
        let tailer = spawn_tailer(d.path(), run as u64, target.clone());
        let mut n = 0u64;
        let halt = loop {
            let seq = w.next_seq();
            match w.append((seq % 10 + 1) as u16, 1, ts(seq), &payload(seq)) {
                Ok(s) => n = s,
                Err(AppendError::Halted(r)) => break r,
                Err(e) => panic!("run {run}: {e}"),
            }
        };
        assert_eq!(halt, HaltReason::FaultInjected(FaultPoint::RollBeforeEndOfData));
        drop(w); // the process dies: no END_OF_DATA, the next segment exists (empty)
        // 100 % readable before recovery.
        let (recs, errors) = read_all(d.path());
        assert_eq!(errors, 0, "run {run}");
        assert_prefix(&recs, n);
        let check = verify_acked(d.path(), n).unwrap();
        assert!(check.is_ok(), "run {run}: {check:?}");
        // Recovery continues after the last record; the tailer crosses the missing marker.
        let mut w = Journal::open(d.path(), config(SEG, background)).unwrap();
        assert_eq!(w.recovery_report().last_seq, n, "run {run}");
        assert!(w.recovery_report().quarantined.is_empty());
        fill(&mut w, 500);
        target.store(n + 500, Ordering::Release);
        assert_eq!(tailer.join().unwrap(), n + 500, "run {run}");
        drop(w);
        let (recs, errors) = read_all(d.path());
        assert_eq!(errors, 0, "run {run}");
        assert_prefix(&recs, n + 500);
    }
}

#[test]
fn j7_crash_during_roll_without_end_marker_is_fully_readable() {
    crash_during_roll(true);
    crash_during_roll(false);
}

/// Rolls with the background thread install prepared spares (the test waits until one is
/// ready before each roll); none is left behind, and every segment is readable.
#[test]
fn spare_segments_are_used_and_cleaned_up() {
    let d = tempfile::tempdir().unwrap();
    let mut w = open(d.path());
    w.roll().unwrap(); // no record yet: nothing to roll
    fill(&mut w, 300); // < half a segment: no spare prepared yet
    w.roll().unwrap();
    w.roll().unwrap(); // the new segment is empty: kept
    assert_eq!(w.background_stats().rolls_without_spare, 1);
    for i in 1..=20u64 {
        // After the first roll the thread keeps a spare ready; wait for it.
        while w.background_stats().spares_prepared < i {
            std::thread::yield_now();
        }
        fill(&mut w, 300); // ~19 KiB: no size-triggered roll
        w.roll().unwrap();
        assert_eq!(w.background_stats().rolls_with_spare, i, "{:?}", w.background_stats());
        assert_eq!(w.sync().unwrap(), 300 * (i + 1));
    }
    let stats = w.background_stats();
    assert!(stats.prefaulted_bytes > 0, "{stats:?}");
    assert_eq!(stats.rolls_without_spare, 1, "{stats:?}");
    assert_eq!(w.seal().unwrap(), 6_300);
    for e in std::fs::read_dir(d.path()).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        assert!(
            name.ends_with(".jseg") || name == "durable.wm" || name == "LOCK",
            "left behind: {name}"
        );
    }
    let (recs, errors) = read_all(d.path());
    assert_eq!(errors, 0);
    assert_prefix(&recs, 6_300);
    assert_eq!(verify(d.path()).unwrap().segments, 22);
}
