//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use crpbot_journal::{Journal, JournalConfig, Reader, Writer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// 64 KiB segments: small enough to roll often in tests.
pub const SEG: u64 = 64 << 10;

/// True when `CRPBOT_FULL=1`: run the full RELIABILITY.md §1.8 counts.
pub fn full() -> bool {
    std::env::var("CRPBOT_FULL").is_ok_and(|v| v == "1")
}

/// `scaled` normally, `full_count` with `CRPBOT_FULL=1`.
pub fn count(scaled: usize, full_count: usize) -> usize {
    if full() { full_count } else { scaled }
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Deterministic payload of record `seq`.
pub fn payload(seq: u64) -> Vec<u8> {
    let len = (seq * 7 % 61) as usize + 1;
    (0..len).map(|i| (seq as usize * 31 + i) as u8).collect()
}

pub fn ts(seq: u64) -> i64 {
    1_700_000_000_000_000_000 + seq as i64 * 1000
}

pub fn open(dir: &Path) -> Writer {
    Journal::open(dir, JournalConfig::with_segment_bytes(SEG)).unwrap()
}

/// Appends records `1..=n` with [`payload`] and [`ts`].
pub fn fill(w: &mut Writer, n: u64) {
    for _ in 0..n {
        let seq = w.next_seq();
        assert_eq!(w.append((seq % 10 + 1) as u16, 1, ts(seq), &payload(seq)).unwrap(), seq);
    }
}

/// Every record as `(seq, type, ver, ts, payload)`, and the errors met.
pub type Rec = (u64, u16, u16, i64, Vec<u8>);
pub fn read_all(dir: &Path) -> (Vec<Rec>, usize) {
    let mut r = Reader::open(dir).unwrap();
    let mut out = Vec::new();
    let mut errors = 0;
    while let Some(rec) = r.next_record() {
        match rec {
            Ok(r) => out.push((r.seq, r.record_type, r.ver, r.ts_ns, r.payload.to_vec())),
            Err(_) => errors += 1,
        }
    }
    (out, errors)
}

/// Checks records are exactly seqs `1..=n` with the expected contents.
pub fn assert_prefix(recs: &[Rec], n: u64) {
    assert_eq!(recs.len() as u64, n, "record count");
    for (i, r) in recs.iter().enumerate() {
        let seq = i as u64 + 1;
        assert_eq!(r.0, seq);
        assert_eq!(r.3, ts(seq));
        assert_eq!(r.4, payload(seq));
    }
}

/// The single segment file of a journal directory (the last one when several).
pub fn last_segment(dir: &Path) -> PathBuf {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jseg"))
        .collect();
    v.sort();
    v.pop().unwrap()
}

/// Offsets of each data record in a segment file (the valid prefix), plus the end offset.
pub fn record_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut off = 64;
    let mut v = Vec::new();
    loop {
        let lf = u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap());
        if lf == 0 {
            v.push(off);
            return v;
        }
        v.push(off);
        off += ((lf & 0x3FFF_FFFF) as usize + 7) & !7;
    }
}

/// Random bytes.
pub fn random_bytes(rng: &mut StdRng, n: usize) -> Vec<u8> {
    (0..n).map(|_| rng.random()).collect()
}
