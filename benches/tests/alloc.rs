//! Recording never allocates: stamps with every stage reached or not, clamped values,
//! backwards stamps, coordinated-omission correction, direct stage records, merges, the clock
//! and the pacer — counted by a global allocator. One test in this binary, so no other test
//! thread allocates while counting.
#![allow(clippy::unwrap_used)]

mod counting;

use std::sync::atomic::Ordering;

use counting::{ALLOCS, COUNTING};
use crpbot_benches::harness::{
    LATENCY_MAX_NS, LatencyRecorder, PaceWait, Pacer, StageId, Stamps, now_ns,
};

#[test]
fn recording_allocates_nothing() {
    // Construction allocates (histograms, the clock's epoch): before counting.
    let mut rec = LatencyRecorder::new().unwrap();
    let mut fixed = LatencyRecorder::new().unwrap().with_expected_interval(10_000);
    let mut other = LatencyRecorder::new().unwrap();
    let mut pacer = Pacer::new(10_000_000, PaceWait::Spin).unwrap();
    let _ = now_ns();
    other.record(&Stamps { ingress: 1, decoded: 5, ..Stamps::default() });

    COUNTING.store(true, Ordering::SeqCst);
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..200_000u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let base = now_ns();
        let step = |k: u64| base + ((x >> (k * 8)) & 0xFFFF) * (k + 1);
        let mut s = Stamps {
            ingress: base,
            decoded: step(1),
            booked: step(2),
            signalled: step(3),
            verdict: step(4),
            journaled: step(5),
        };
        match i % 5 {
            0 => s.signalled = 0,
            1 => s.verdict = 0,
            2 => s.decoded = u64::MAX, // clamped
            3 => s.booked = 1,         // runs backwards
            _ => {}
        }
        rec.record(&s);
        if i % 5 != 2 {
            // Corrected: up to ~40 synthetic samples per message (a clamped 60 s would add
            // 6 million, which is correct but slow).
            fixed.record(&s);
        }
    }
    // A long stall in fixed-rate mode adds 999 synthetic samples, still without allocating.
    fixed.record_stage(StageId::TickToDecision, 10_000_000);
    rec.record_stage(StageId::Journal, LATENCY_MAX_NS * 2);
    rec.merge(&other).unwrap();
    for _ in 0..1_000 {
        let _ = pacer.wait_next();
    }
    COUNTING.store(false, Ordering::SeqCst);
    let allocs = ALLOCS.swap(0, Ordering::SeqCst);

    let t2d = fixed.stage_summary(StageId::TickToDecision);
    assert!(t2d.corrected >= 999, "{t2d:?}");
    assert_eq!(rec.stage_summary(StageId::Decode).clamped, 40_000);
    assert_eq!(rec.stage_summary(StageId::Journal).clamped, 1);
    assert!(rec.stage_summary(StageId::Book).negative > 0);
    assert_eq!(rec.messages(), 200_001);
    assert_eq!(pacer.stats().released, 1_000);
    assert_eq!(allocs, 0, "recording allocated {allocs} times");
}
