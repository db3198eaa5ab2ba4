//! Journal scenarios of RELIABILITY.md §1.8 that need no child process: framing round trips,
//! roll, reopen, J2 truncation sweep, J3 bit flips, J4 garbage, J11 replay determinism, tailers.
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

/// A deterministic market event for seq `seq` (the codec's real layouts, mixed kinds).
fn market_event(seq: u64) -> crpbot_core::MarketEvent {
    use crpbot_core::{Bbo, InstrumentId, LevelUpdate, MarketEvent, Px, Qty, Side, Trade};
    let s = seq as i64;
    let ts = ts(seq);
    let side = if seq.is_multiple_of(2) { Side::Buy } else { Side::Sell };
    let instrument = InstrumentId((seq % 3) as u16);
    match seq % 10 {
        0 => MarketEvent::Bbo(Bbo {
            ts_exch_ns: ts - 900,
            ts_local_ns: ts,
            update_id: seq,
            bid_px: Px(6_500_000 + s % 101),
            bid_qty: Qty(1 + s % 17),
            ask_px: Px(6_500_110 + s % 103),
            ask_qty: Qty(1 + s % 19),
            instrument,
            _pad: [0; 6],
        }),
        1..=3 => MarketEvent::Trade(Trade {
            ts_exch_ns: ts - 700,
            ts_local_ns: ts,
            trade_id: seq * 3,
            px: Px(6_500_000 + s % 211),
            qty: Qty(1 + s % 23),
            instrument,
            aggressor: side,
            _pad: [0; 5],
        }),
        _ => MarketEvent::Level(LevelUpdate {
            ts_exch_ns: ts - 500,
            ts_local_ns: ts,
            update_id: seq,
            px: Px(6_500_000 + s % 307),
            qty: Qty(s % 5),
            instrument,
            side,
            flags: (seq % 2) as u8,
            _pad: 0,
        }),
    }
}

/// Folds one replayed record into a state hash: seq, time and the *decoded* event re-encoded.
fn fold(h: u32, seq: u64, ts_ns: i64, ev: &crpbot_core::MarketEvent) -> u32 {
    let mut buf = [0u8; crpbot_journal::codec::MAX_TYPED_LEN];
    let n = crpbot_journal::codec::encode_market(ev, &mut buf);
    let h = crc32c::crc32c_append(h, &seq.to_le_bytes());
    let h = crc32c::crc32c_append(h, &ts_ns.to_le_bytes());
    crc32c::crc32c_append(h, &buf[..n])
}

/// J11 (replay determinism): a journal of typed market events spread over many segments is
/// replayed 3 times with [`crpbot_journal::Reader`] and once with a [`Tailer`]; every replay
/// decodes each record with the codec and hashes the decoded events, and all hashes equal the
/// hash of the events as written. Scaled: 200,000 events in 1 MiB segments (~16 segments);
/// `CRPBOT_FULL=1`: 10,000,000 events in the default 64 MiB segments (RELIABILITY.md figure).
#[test]
fn j11_replay_is_deterministic() {
    let (n, seg) = if full() { (10_000_000u64, 64 << 20) } else { (200_000u64, 1 << 20) };
    let d = tempfile::tempdir().unwrap();
    let mut w = Journal::open(d.path(), JournalConfig::with_segment_bytes(seg)).unwrap();
    let mut h_write = 0u32;
    let mut buf = [0u8; crpbot_journal::codec::MAX_TYPED_LEN];
    for seq in 1..=n {
        let ev = market_event(seq);
        let len = crpbot_journal::codec::encode_market(&ev, &mut buf);
        assert_eq!(w.append(RecordType::MARKET_EVENT, 1, ts(seq), &buf[..len]).unwrap(), seq);
        h_write = fold(h_write, seq, ts(seq), &ev);
    }
    assert_eq!(w.seal().unwrap(), n);
    let decode = |seq: u64, ty: u16, ver: u16, payload: &[u8]| match crpbot_journal::codec::decode(
        ty, ver, payload,
    )
    .unwrap()
    {
        crpbot_journal::codec::Decoded::Market(ev) => {
            assert_eq!(ev, market_event(seq), "seq {seq}");
            ev
        }
        other => panic!("seq {seq}: {other:?}"),
    };
    let mut hashes = Vec::new();
    for _ in 0..3 {
        let mut r = crpbot_journal::Reader::open(d.path()).unwrap();
        assert!(r.segment_count() > 10 || full(), "{} segments", r.segment_count());
        let (mut h, mut count) = (0u32, 0u64);
        while let Some(rec) = r.next_record() {
            let rec = rec.unwrap();
            count += 1;
            assert_eq!(rec.seq, count);
            let ev = decode(rec.seq, rec.record_type, rec.ver, rec.payload);
            h = fold(h, rec.seq, rec.ts_ns, &ev);
        }
        assert_eq!(count, n);
        hashes.push(h);
    }
    let mut t = Tailer::open(d.path(), 1).unwrap();
    let mut h = 0u32;
    for seq in 1..=n {
        let rec = t.poll().unwrap().unwrap();
        assert_eq!(rec.seq, seq);
        let ev = decode(rec.seq, rec.record_type, rec.ver, rec.payload);
        h = fold(h, rec.seq, rec.ts_ns, &ev);
    }
    assert!(t.poll().is_none());
    hashes.push(h);
    assert_eq!(hashes, vec![h_write; 4]);
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
