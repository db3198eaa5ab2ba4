//! Loom models of the pipeline's own atomic protocols. Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p crpbot-core --release pipeline::loom`.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use loom::sync::atomic::AtomicU64;

use super::control::{HaltFlag, Shutdown};
use super::sync::{Arc, Ordering};
use super::wait::{Notifier, ParkSlot};

/// The consumer parks only if the re-check after raising the flag finds nothing, and the
/// producer unparks after publishing if it sees the flag: no interleaving loses the wake-up
/// (loom parks without a timeout, so a lost wake-up is a reported deadlock).
#[test]
fn park_handshake_never_loses_a_wakeup() {
    loom::model(|| {
        let slot = ParkSlot::new();
        let items = Arc::new(AtomicU64::new(0));
        let (s, i) = (slot.clone(), items.clone());
        let consumer = loom::thread::spawn(move || {
            let mut seen = 0;
            while seen < 2 {
                let now = i.load(Ordering::Acquire);
                if now > seen {
                    seen = now;
                    continue;
                }
                s.park_unless(|| i.load(Ordering::Acquire) > seen, Duration::from_secs(1));
            }
            seen
        });
        let notifier = Notifier::new(slot, consumer.thread().clone());
        for n in 1..=2 {
            items.store(n, Ordering::Release);
            notifier.notify();
        }
        assert_eq!(consumer.join().unwrap(), 2);
    });
}

/// Whatever the latching thread wrote before `latch` is visible to a thread that sees the
/// halt.
#[test]
fn halt_latch_publishes_prior_writes() {
    loom::model(|| {
        let (halt, reset) = HaltFlag::new();
        let reason = Arc::new(AtomicU64::new(0));
        let (h, r) = (halt.clone(), reason.clone());
        let latcher = loom::thread::spawn(move || {
            r.store(7, Ordering::Relaxed);
            h.latch();
        });
        if halt.is_halted() {
            assert_eq!(reason.load(Ordering::Relaxed), 7);
        }
        latcher.join().unwrap();
        assert!(reset.flag().is_halted());
        reset.rearm();
        assert!(!halt.is_halted());
    });
}

/// `stop` never downgrades a concurrent `abort`.
#[test]
fn stop_never_downgrades_abort() {
    loom::model(|| {
        let s = Shutdown::new();
        let s2 = s.clone();
        let t = loom::thread::spawn(move || s2.stop());
        s.abort();
        t.join().unwrap();
        assert!(s.is_stopping(), "stopping");
        assert!(s.is_aborted(), "aborted");
    });
}
