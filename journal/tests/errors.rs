//! J8 and J9 (RELIABILITY.md §1.8): I/O errors halt the writer on the first error, are never
//! retried, and leave no partial record behind.
//!
//! The fault hook's error points make the real system call fail with `EIO` (or the free-space
//! check see 0 bytes) instead of running it, so the writer's own error path runs. Scaled for
//! CI: 20 injections per error point and writer mode; `CRPBOT_FULL=1`: 100.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::*;
use crpbot_journal::{
    AppendError, FaultHook, FaultPoint, HaltReason, IoOp, Journal, JournalConfig, SyncError,
    Writer, verify, verify_acked,
};
use rand::Rng;

/// A hook that fails `point` once armed, counting the calls it fails and every hook call made
/// after the first failure (there must be none at `point`: no retry).
#[derive(Clone, Default)]
struct Injector {
    armed: Arc<AtomicBool>,
    failed: Arc<AtomicU64>,
    calls_after_failure: Arc<AtomicU64>,
}

/// Name of the writer's background thread.
const PREP_THREAD: &str = "crpbot-journal-prep";

fn on_prep_thread() -> bool {
    std::thread::current().name() == Some(PREP_THREAD)
}

impl Injector {
    /// Fails `point` once armed. The background thread also creates files when it prepares a
    /// spare segment; a failure there only makes the roll create the segment itself (tested
    /// below), so for those points only the writer's calls fail here.
    fn hook(&self, point: FaultPoint) -> FaultHook {
        let me = self.clone();
        let writer_only = matches!(point, FaultPoint::NoSpace | FaultPoint::SegmentSyncError);
        FaultHook::new(move |p| {
            if p != point || !me.armed.load(Ordering::SeqCst) || (writer_only && on_prep_thread()) {
                return false;
            }
            if me.failed.fetch_add(1, Ordering::SeqCst) > 0 {
                me.calls_after_failure.fetch_add(1, Ordering::SeqCst);
            }
            true
        })
    }
}

fn config(background: bool, hook: FaultHook) -> JournalConfig {
    let cfg = JournalConfig::with_segment_bytes(SEG).with_fault_hook(hook);
    if background { cfg } else { cfg.with_prefault_bytes(0) }
}

/// What [`provoke`] ran into.
struct Failure {
    reason: HaltReason,
    /// Last seq whose append returned `Ok`.
    last_ok: u64,
    /// Last durable seq a sync returned.
    durable_ok: u64,
}

/// Drives the writer into the armed failure.
fn provoke(w: &mut Writer, point: FaultPoint) -> Failure {
    let mut last_ok = w.last_seq();
    let mut durable_ok = w.durable_seq();
    loop {
        let seq = w.next_seq();
        match w.append((seq % 10 + 1) as u16, 1, ts(seq), &payload(seq)) {
            Ok(s) => last_ok = s,
            Err(AppendError::Halted(reason)) => return Failure { reason, last_ok, durable_ok },
            Err(e) => panic!("{e}"),
        }
        // Msync and watermark errors happen in sync; segment errors at a roll (every ~1,000
        // records here), directory errors at a roll or at the sync after it.
        let sync_now = match point {
            FaultPoint::MsyncError | FaultPoint::WatermarkError => true,
            _ => seq.is_multiple_of(97),
        };
        if sync_now {
            match w.sync() {
                Ok(d) => durable_ok = d,
                Err(SyncError::Halted(reason)) => return Failure { reason, last_ok, durable_ok },
                Err(e) => panic!("{e}"),
            }
        }
    }
}

fn expected_reason(point: FaultPoint, r: HaltReason) -> bool {
    let eio = |want| matches!(r, HaltReason::Io { op, os_code: Some(5), .. } if op == want);
    match point {
        FaultPoint::MsyncError => eio(IoOp::Msync) || eio(IoOp::Fdatasync),
        FaultPoint::WatermarkError => eio(IoOp::Watermark),
        FaultPoint::SegmentSyncError => eio(IoOp::CreateSegment),
        FaultPoint::DirSyncError => eio(IoOp::SyncDir),
        FaultPoint::NoSpace => matches!(r, HaltReason::InsufficientSpace { .. }),
        _ => false,
    }
}

/// J9 (and J8 through `NoSpace`): at each error point, in 100 % of injections the writer halts
/// on the first error, the error is not retried, every later call is refused with the same
/// reason, the durable watermark does not move, and no partial record is visible: readers see
/// exactly the records whose append returned `Ok`, and recovery keeps all of them.
fn inject(point: FaultPoint, background: bool) {
    let runs = count(20, 100);
    let mut rng = rng(9 + point as u64);
    for run in 0..runs {
        let d = tempfile::tempdir().unwrap();
        let inj = Injector::default();
        let mut w = Journal::open(d.path(), config(background, inj.hook(point))).unwrap();
        let k = rng.random_range(1..3_000u64);
        fill(&mut w, k);
        assert_eq!(w.sync().unwrap(), k);
        inj.armed.store(true, Ordering::SeqCst);
        let Failure { reason, last_ok, durable_ok } = provoke(&mut w, point);
        let ctx = format!("{point:?} background {background} run {run}: {reason:?}");
        assert!(expected_reason(point, reason), "{ctx}");
        assert_eq!(inj.failed.load(Ordering::SeqCst), 1, "{ctx}: not halted on the first error");
        assert_eq!(w.halted(), Some(reason), "{ctx}");
        assert_eq!(w.durable_seq(), durable_ok, "{ctx}: watermark moved");
        // Every later call is refused with the same reason and runs no I/O (no retry).
        let refused = AppendError::Halted(reason);
        assert_eq!(w.append(1, 1, 0, b"x"), Err(refused), "{ctx}");
        assert_eq!(w.append_durable(1, 1, 0, b"x"), Err(refused), "{ctx}");
        assert_eq!(w.roll(), Err(refused), "{ctx}");
        assert_eq!(w.sync(), Err(SyncError::Halted(reason)), "{ctx}");
        assert_eq!(w.sync_to(k), Err(SyncError::Halted(reason)), "{ctx}");
        assert_eq!(w.seal(), Err(SyncError::Halted(reason)), "{ctx}");
        assert_eq!(inj.calls_after_failure.load(Ordering::SeqCst), 0, "{ctx}: retried");
        // No partial record: exactly the acknowledged records, before and after recovery.
        let check = verify_acked(d.path(), last_ok).unwrap();
        assert!(check.is_ok(), "{ctx}: {check:?}");
        assert_eq!(check.seq_range, Some((1, last_ok)), "{ctx}");
        let mut w = open(d.path());
        let rep = w.recovery_report().clone();
        assert_eq!((rep.last_seq, rep.durable_seq), (last_ok, durable_ok), "{ctx}: {rep:?}");
        assert!(rep.quarantined.is_empty(), "{ctx}");
        fill(&mut w, 50);
        assert_eq!(w.sync().unwrap(), last_ok + 50, "{ctx}");
        drop(w);
        let (recs, errors) = read_all(d.path());
        assert_eq!(errors, 0, "{ctx}");
        assert_prefix(&recs, last_ok + 50);
        assert!(verify(d.path()).unwrap().is_ok(), "{ctx}");
    }
}

#[test]
fn j9_msync_error_halts_on_first_error() {
    inject(FaultPoint::MsyncError, true);
    inject(FaultPoint::MsyncError, false);
}

#[test]
fn j9_watermark_fdatasync_error_halts_on_first_error() {
    inject(FaultPoint::WatermarkError, true);
    inject(FaultPoint::WatermarkError, false);
}

#[test]
fn j9_segment_fsync_error_halts_on_first_error() {
    inject(FaultPoint::SegmentSyncError, true);
    inject(FaultPoint::SegmentSyncError, false);
}

/// With the background thread the directory `fsync` usually runs there; its failure still
/// halts the writer at its next sync or roll, and is not run again by the writer.
#[test]
fn j9_directory_fsync_error_halts_on_first_error() {
    inject(FaultPoint::DirSyncError, true);
    inject(FaultPoint::DirSyncError, false);
}

/// J8: the disk is full at a roll. The append that needed the roll fails and halts the writer
/// (within 1 event), nothing of it is visible, and nothing is mapped past the free space.
#[test]
fn j8_disk_full_at_roll_halts_with_no_partial_record() {
    inject(FaultPoint::NoSpace, true);
    inject(FaultPoint::NoSpace, false);
}

/// A spare the background thread cannot prepare (no space, `fsync` error) is not an error of
/// the writer: the roll creates the segment itself and carries on.
#[test]
fn spare_preparation_failure_falls_back_to_the_writer() {
    for point in [FaultPoint::NoSpace, FaultPoint::SegmentSyncError] {
        let d = tempfile::tempdir().unwrap();
        let hook = FaultHook::new(move |p| p == point && on_prep_thread());
        let mut w = Journal::open(d.path(), config(true, hook)).unwrap();
        fill(&mut w, 700); // past half the segment: the thread tries to prepare a spare
        while w.background_stats().spare_errors == 0 {
            std::thread::yield_now();
        }
        fill(&mut w, 2_300); // rolls twice
        let stats = w.background_stats();
        assert_eq!(stats.rolls_with_spare, 0, "{point:?}: {stats:?}");
        assert!(stats.rolls_without_spare >= 2, "{point:?}: {stats:?}");
        assert_eq!(w.halted(), None);
        assert_eq!(w.sync().unwrap(), 3_000);
        drop(w);
        assert!(verify_acked(d.path(), 3_000).unwrap().is_ok());
        let left: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(left.is_empty(), "{point:?}: {left:?}");
    }
}
