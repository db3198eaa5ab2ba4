//! Journal scenarios of RELIABILITY.md §1.8 that need no child process: framing round trips,
//! roll, reopen, J2 truncation sweep, J3 bit flips, J4 garbage, replay determinism, tailers.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use crpbot_journal::{AppendError, Journal, JournalConfig, ReadError, RecordType, Tailer, verify};
use rand::Rng;

#[test]
fn append_read_round_trip_across_rolls_and_reopen() {
    let d = tempfile::tempdir().unwrap();
    let mut w = open(d.path());
    assert_eq!(w.recovery_report().last_seq, 0);
    fill(&mut w, 5_000); // ~ 5000 * 64 B = 320 KiB: several rolls
    drop(w);
    let (recs, errors) = read_all(d.path());
    assert_eq!(errors, 0);
    assert_prefix(&recs, 5_000);
    let v = verify(d.path()).unwrap();
    assert!(v.is_ok(), "{v:?}");
    assert!(v.segments > 3);
    assert_eq!(v.records, 5_000);
    assert_eq!(v.seq_range, Some((1, 5_000)));

    let mut w = open(d.path());
    let rep = w.recovery_report().clone();
    assert_eq!(rep.last_seq, 5_000);
    assert_eq!(rep.torn_tail_bytes, 0);
    assert!(!rep.clean_shutdown);
    fill(&mut w, 100);
    assert_eq!(w.sync().unwrap(), 5_100);
    assert_eq!(w.seal().unwrap(), 5_100);
    let w = open(d.path());
    assert!(w.recovery_report().clean_shutdown);
    assert_eq!(w.recovery_report().durable_seq, 5_100);
    drop(w);
    let (recs, errors) = read_all(d.path());
    assert_eq!(errors, 0);
    assert_prefix(&recs, 5_100);
    let st = crpbot_journal::stats(d.path()).unwrap();
    assert_eq!(st.records, 5_100);
    assert_eq!(st.per_type.values().sum::<u64>(), 5_100);
    assert_eq!(st.seq_range, Some((1, 5_100)));
    assert_eq!(st.ts_range, Some((ts(1), ts(5_100))));
}

#[test]
fn append_rejects_bad_input_without_halting() {
    let d = tempfile::tempdir().unwrap();
    let mut w = open(d.path());
    assert_eq!(w.append(0xFF01, 0, 0, b""), Err(AppendError::ReservedType(0xFF01)));
    let big = vec![0u8; w.max_payload() + 1];
    assert!(matches!(w.append(1, 0, 0, &big), Err(AppendError::PayloadTooLarge { .. })));
    let max = vec![7u8; w.max_payload()];
    assert_eq!(w.append(1, 0, 0, &max), Ok(1));
    assert_eq!(w.append(RecordType::FILL, 0, 0, b""), Ok(2));
    assert!(w.halted().is_none());
    drop(w);
    let (recs, _) = read_all(d.path());
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].4, max);
}

#[test]
fn second_writer_is_locked_out() {
    let d = tempfile::tempdir().unwrap();
    let _w = open(d.path());
    assert!(matches!(
        Journal::open(d.path(), JournalConfig::with_segment_bytes(SEG)),
        Err(crpbot_journal::OpenError::Locked(_))
    ));
}

#[test]
fn roll_without_end_of_data_keeps_old_prefix() {
    // Crash during roll: the old segment has no END_OF_DATA (RollEOFTest).
    let d = tempfile::tempdir().unwrap();
    let mut w = open(d.path());
    fill(&mut w, 3_000);
    drop(w);
    // Remove every END_OF_DATA sentinel by zeroing it.
    for e in std::fs::read_dir(d.path()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "jseg") {
            continue;
        }
        let mut b = std::fs::read(&p).unwrap();
        let offs = record_offsets(&b);
        let _ = offs;
        let mut off = 64;
        loop {
            let lf = u32::from_le_bytes(b[off..off + 4].try_into().unwrap());
            if lf == 0 {
                break;
            }
            if lf & (1 << 30) != 0 {
                b[off..off + 32].fill(0);
                break;
            }
            off += ((lf & 0x3FFF_FFFF) as usize + 7) & !7;
        }
        std::fs::write(&p, &b).unwrap();
    }
    let (recs, errors) = read_all(d.path());
    assert_eq!(errors, 0);
    assert_prefix(&recs, 3_000);
    assert!(verify(d.path()).unwrap().is_ok());
}

/// J2: every byte offset inside the last 3 records, truncate or zero-fill from there.
#[test]
fn j2_truncation_sweep_yields_exact_complete_prefix() {
    let base = tempfile::tempdir().unwrap();
    let mut w = open(base.path());
    fill(&mut w, 40);
    drop(w);
    let seg = last_segment(base.path());
    let name = seg.file_name().unwrap().to_owned();
    let bytes = std::fs::read(&seg).unwrap();
    let offs = record_offsets(&bytes); // 41 entries: 40 starts + end
    let ends: Vec<usize> =
        (1..=40u64).map(|s| offs[s as usize - 1] + 28 + payload(s).len()).collect();
    let start = offs[37];
    let stop = offs[40];
    let mut cases = 0;
    for cut in start..=stop {
        let complete = ends.iter().filter(|&&e| e <= cut).count() as u64;
        for zero_fill in [false, true] {
            let d = tempfile::tempdir().unwrap();
            let p = d.path().join(&name);
            let mut b = bytes.clone();
            if zero_fill {
                b[cut..].fill(0);
            } else {
                b.truncate(cut);
            }
            std::fs::write(&p, &b).unwrap();
            // Reader on the damaged file, before any recovery.
            let (recs, errors) = read_all(d.path());
            assert_eq!(errors, 0, "cut {cut} zero {zero_fill}");
            assert_prefix(&recs, complete);
            // Recovery, then the writer continues contiguously.
            let mut w = open(d.path());
            assert_eq!(w.recovery_report().last_seq, complete, "cut {cut} zero {zero_fill}");
            assert!(w.recovery_report().quarantined.is_empty());
            fill(&mut w, 1);
            drop(w);
            let (recs, errors) = read_all(d.path());
            assert_eq!(errors, 0);
            assert_eq!(recs.len() as u64, complete + 1);
            assert!(recs.iter().enumerate().all(|(i, r)| r.0 == i as u64 + 1));
            cases += 1;
        }
    }
    assert!(cases > 200, "{cases} cases");
}

/// J3: flip 1–8 random bits inside one record that precedes the tail.
#[test]
fn j3_bit_flips_before_tail_are_detected_and_quarantined() {
    let copies = count(2_000, 10_000);
    let base = tempfile::tempdir().unwrap();
    let mut w = open(base.path());
    fill(&mut w, 30);
    drop(w);
    let seg = last_segment(base.path());
    let name = seg.file_name().unwrap().to_owned();
    let bytes = std::fs::read(&seg).unwrap();
    let offs = record_offsets(&bytes);
    let mut rng = rng(3);
    let d = tempfile::tempdir().unwrap();
    for copy in 0..copies {
        let victim = rng.random_range(0..29usize); // never the last record
        let (lo, hi) = (offs[victim], offs[victim + 1]);
        let mut b = bytes.clone();
        let n_bits = rng.random_range(1..=8);
        let mut flipped = std::collections::BTreeSet::new();
        while flipped.len() < n_bits {
            flipped.insert(rng.random_range(lo * 8..hi * 8));
        }
        for bit in &flipped {
            b[bit / 8] ^= 1 << (bit % 8);
        }
        let dir = d.path().join(format!("c{copy}"));
        std::fs::create_dir(&dir).unwrap();
        let p = dir.join(&name);
        std::fs::write(&p, &b).unwrap();
        let (recs, errors) = read_all(&dir);
        assert_eq!(errors, 1, "copy {copy}: flips {flipped:?} not reported by the reader");
        assert_prefix(&recs, victim as u64);
        let w = open(&dir);
        let rep = w.recovery_report().clone();
        drop(w);
        assert_eq!(rep.quarantined.len(), 1, "copy {copy}: flips {flipped:?} not quarantined");
        assert_eq!(rep.quarantined[0].last_good_seq, victim as u64);
        assert_eq!(rep.quarantined[0].max_seq_after, 30);
        // Never silently truncated: the quarantined file is byte for byte what it was.
        assert_eq!(std::fs::read(&p).unwrap(), b, "copy {copy}: quarantined segment modified");
        assert!(!verify(&dir).unwrap().is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// J4: 1–1024 random bytes appended after the last record of the active segment.
#[test]
fn j4_garbage_appended_recovers_every_record() {
    let mut rng = rng(4);
    for iter in 0..10 {
        let d = tempfile::tempdir().unwrap();
        let mut w = open(d.path());
        fill(&mut w, 200);
        drop(w);
        let p = last_segment(d.path());
        let mut b = std::fs::read(&p).unwrap();
        let end = *record_offsets(&b).last().unwrap();
        let n = rng.random_range(1..=1024);
        let g = random_bytes(&mut rng, n);
        if iter % 2 == 0 {
            b[end..end + n].copy_from_slice(&g); // right after the last record
        } else {
            b.extend_from_slice(&g); // past the end of the file
        }
        std::fs::write(&p, &b).unwrap();
        let (recs, errors) = read_all(d.path());
        assert_eq!(errors, 0);
        assert_eq!(recs.len(), 200);
        let mut w = open(d.path());
        assert_eq!(w.recovery_report().last_seq, 200);
        assert!(w.recovery_report().quarantined.is_empty());
        fill(&mut w, 10);
        drop(w);
        let (recs, errors) = read_all(d.path());
        assert_eq!(errors, 0);
        assert_prefix(&recs, 210);
    }
}

#[test]
fn quarantine_continues_in_a_fresh_segment() {
    let d = tempfile::tempdir().unwrap();
    let mut w = open(d.path());
    fill(&mut w, 50);
    drop(w);
    let p = last_segment(d.path());
    let mut b = std::fs::read(&p).unwrap();
    let offs = record_offsets(&b);
    b[offs[10] + 26] ^= 0x10;
    std::fs::write(&p, &b).unwrap();
    let mut w = open(d.path());
    assert_eq!(w.recovery_report().quarantined.len(), 1);
    assert_eq!(w.next_seq(), 51);
    fill(&mut w, 5);
    drop(w);
    let mut r = crpbot_journal::Reader::open(d.path()).unwrap();
    let mut seqs = Vec::new();
    let mut errs = Vec::new();
    while let Some(x) = r.next_record() {
        match x {
            Ok(rec) => seqs.push(rec.seq),
            Err(e) => errs.push(e),
        }
    }
    assert_eq!(seqs, (1..=10).chain(51..=55).collect::<Vec<_>>());
    assert!(matches!(errs[0], ReadError::Corrupt { offset, .. } if offset == offs[10] as u64));
    assert!(matches!(errs[1], ReadError::SeqGap { expected: 11, found: 51 }));
    assert!(p.with_extension("jseg.quarantine").exists());
}

/// Replay determinism (J11, scaled): three replays hash identically to what was written.
#[test]
fn replay_is_deterministic() {
    let n = count(100_000, 10_000_000) as u64;
    let d = tempfile::tempdir().unwrap();
    let mut w = Journal::open(d.path(), JournalConfig::with_segment_bytes(16 << 20)).unwrap();
    let mut h_write = crc32c::crc32c(b"");
    let mut p = [0u8; 64];
    for seq in 1..=n {
        p[..8].copy_from_slice(&seq.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
        w.append(RecordType::MARKET_EVENT, 1, seq as i64, &p).unwrap();
        h_write = crc32c::crc32c_append(h_write, &seq.to_le_bytes());
        h_write = crc32c::crc32c_append(h_write, &p);
    }
    drop(w);
    let mut hashes = Vec::new();
    for _ in 0..3 {
        let mut r = crpbot_journal::Reader::open(d.path()).unwrap();
        let mut h = crc32c::crc32c(b"");
        let mut count = 0u64;
        while let Some(rec) = r.next_record() {
            let rec = rec.unwrap();
            h = crc32c::crc32c_append(h, &rec.seq.to_le_bytes());
            h = crc32c::crc32c_append(h, rec.payload);
            count += 1;
        }
        assert_eq!(count, n);
        hashes.push(h);
    }
    assert_eq!(hashes, vec![h_write; 3]);
}

/// J7 (scaled): tailers follow a writer through many rolls with 0 gaps and 0 duplicates.
#[test]
fn tailers_follow_a_live_writer_across_rolls() {
    let d = tempfile::tempdir().unwrap();
    let n = 20_000u64;
    let mut w = open(d.path());
    let dir = d.path().to_path_buf();
    let tailers: Vec<_> = (0..3)
        .map(|_| {
            let dir = dir.clone();
            std::thread::spawn(move || {
                let mut t = Tailer::open(&dir, 1).unwrap();
                let mut next = 1u64;
                while next <= n {
                    match t.poll() {
                        Some(Ok(r)) => {
                            assert_eq!(r.seq, next);
                            assert_eq!(r.payload, payload(next).as_slice());
                            next += 1;
                        }
                        Some(Err(e)) => panic!("tailer error {e}"),
                        None => std::thread::yield_now(),
                    }
                }
                assert!(t.poll().is_none());
                next - 1
            })
        })
        .collect();
    fill(&mut w, n);
    for t in tailers {
        assert_eq!(t.join().unwrap(), n);
    }
    // A tailer started late from the middle.
    let mut t = Tailer::open(&dir, 12_345).unwrap();
    assert_eq!(t.poll().unwrap().unwrap().seq, 12_345);
}
