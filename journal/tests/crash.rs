//! J5 (simulated power loss, page model) and J6 (crash-point matrix through the fault hook).
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::*;
use crpbot_journal::{FaultHook, FaultPoint, HaltReason, Journal, JournalConfig, watermark};
use rand::Rng;

const PAGE: usize = 4096;

/// J5: after the last msync, every page written later is independently kept, left as it was
/// (never written), zeroed or filled with random bytes. A page that also holds durable bytes is
/// assumed to be written atomically (kept or old): the device's atomic-page assumption, see
/// FORMAT.md §5.
#[test]
fn j5_power_loss_page_model() {
    let cuts = count(1_000, 10_000);
    // One journal: 150 records, sync (watermark 150), then 250 more (never synced).
    let base = tempfile::tempdir().unwrap();
    let mut w = open(base.path());
    fill(&mut w, 150);
    assert_eq!(w.sync().unwrap(), 150);
    let seg = last_segment(base.path());
    let synced = std::fs::read(&seg).unwrap();
    fill(&mut w, 250);
    drop(w);
    let full = std::fs::read(&seg).unwrap();
    let offs = record_offsets(&full);
    let durable_end = offs[150];
    let wm = std::fs::read(base.path().join(watermark::WATERMARK_FILE)).unwrap();
    let name = seg.file_name().unwrap().to_owned();

    let mut rng = rng(5);
    let mut quarantines = 0;
    let d = tempfile::tempdir().unwrap();
    for cut in 0..cuts {
        // Records written before the power loss: 150 + k.
        let k = rng.random_range(0..=250usize);
        let mut img = synced.clone();
        let end = offs[150 + k];
        img[durable_end..end].copy_from_slice(&full[durable_end..end]);
        for p in (durable_end / PAGE)..end.div_ceil(PAGE) {
            let (lo, hi) = (p * PAGE, (p + 1) * PAGE);
            let fate =
                if lo < durable_end { rng.random_range(0..2) } else { rng.random_range(0..4) };
            match fate {
                0 => {}                                                                              // kept
                1 => img[lo.max(durable_end)..hi].copy_from_slice(&synced[lo.max(durable_end)..hi]), // never written
                2 => img[lo..hi].fill(0), // zeroed
                _ => img[lo..hi].copy_from_slice(&random_bytes(&mut rng, PAGE)), // garbage
            }
        }
        let dir = d.path().join(format!("c{cut}"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join(&name), &img).unwrap();
        std::fs::write(dir.join(watermark::WATERMARK_FILE), &wm).unwrap();
        let w = match Journal::open(&dir, JournalConfig::with_segment_bytes(SEG)) {
            Ok(w) => w,
            Err(e) => panic!("cut {cut}: open failed: {e}"),
        };
        let rep = w.recovery_report().clone();
        drop(w);
        assert_eq!(rep.durable_seq, 150);
        assert!(rep.last_seq >= 150, "cut {cut}: durable records lost: {rep:?}");
        quarantines += usize::from(!rep.quarantined.is_empty());
        // Every delivered record is a correct record; they form the prefix 1..=M, M >= 150.
        let (recs, errors) = read_all(&dir);
        assert!(recs.len() >= 150, "cut {cut}");
        assert!(recs.len() <= 150 + k, "cut {cut}");
        assert_prefix(&recs, recs.len() as u64);
        if rep.quarantined.is_empty() {
            assert_eq!(errors, 0, "cut {cut}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
    eprintln!("J5: {cuts} cuts, {quarantines} quarantined (valid records after a lost page)");
}

fn armed_hook(point: FaultPoint) -> (FaultHook, Arc<AtomicBool>) {
    let armed = Arc::new(AtomicBool::new(false));
    let a = armed.clone();
    (FaultHook::new(move |p| p == point && a.load(Ordering::Relaxed)), armed)
}

/// J6: crash at each point of append + sync; recovered watermark and contents as expected.
#[test]
fn j6_crash_point_matrix() {
    let runs = count(20, 100);
    let points = [
        (FaultPoint::BeforeAppend, false, false),
        (FaultPoint::AfterBegin, false, false),
        (FaultPoint::BeforeCommit, false, false),
        (FaultPoint::BeforeMsync, true, false),
        (FaultPoint::AfterMsyncBeforeWatermark, true, false),
        (FaultPoint::AfterWatermark, true, true),
    ];
    let mut rng = rng(6);
    for (point, present, durable) in points {
        for run in 0..runs {
            let d = tempfile::tempdir().unwrap();
            let (hook, armed) = armed_hook(point);
            let cfg = JournalConfig::with_segment_bytes(SEG).with_fault_hook(hook);
            let mut w = Journal::open(d.path(), cfg).unwrap();
            let k = rng.random_range(1..400u64);
            fill(&mut w, k);
            assert_eq!(w.sync().unwrap(), k);
            armed.store(true, Ordering::Relaxed);
            let seq = w.next_seq();
            let crashed = match w.append(1, 1, ts(seq), &payload(seq)) {
                Err(e) => Some(e.to_string()),
                Ok(_) => w.sync().err().map(|e| e.to_string()),
            };
            assert!(crashed.is_some(), "{point:?} run {run}: no crash");
            assert_eq!(w.halted(), Some(HaltReason::FaultInjected(point)));
            assert!(w.append(1, 1, 0, b"x").is_err(), "halted writer accepted an append");
            drop(w); // the process "dies": no seal, page cache as it is
            let w = open(d.path());
            let rep = w.recovery_report().clone();
            drop(w);
            let n = k + u64::from(present);
            assert_eq!(rep.last_seq, n, "{point:?} run {run}: {rep:?}");
            assert_eq!(rep.durable_seq, if durable { k + 1 } else { k }, "{point:?} run {run}");
            assert!(rep.quarantined.is_empty());
            let (recs, errors) = read_all(d.path());
            assert_eq!(errors, 0);
            assert_prefix(&recs, n);
        }
    }
}

/// J8 (partial): the free-space check refuses a segment larger than the file system's free
/// space with an error that halts, before anything is mapped.
#[test]
fn j8_insufficient_space_halts_instead_of_sigbus() {
    let d = tempfile::tempdir().unwrap();
    let free = crpbot_journal::segment::available_bytes(d.path()).unwrap();
    let r = crpbot_journal::segment::create_segment(d.path(), 1, 0, free / 2 + 4096);
    assert!(matches!(r, Err(HaltReason::InsufficientSpace { .. })), "{r:?}");
    assert_eq!(crpbot_journal::segment::list_segments(d.path()).unwrap(), vec![]);
}
