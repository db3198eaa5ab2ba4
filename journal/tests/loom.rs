//! J12: loom model of the record publication protocol. The writer and reader run the crate's own
//! `protocol::publish` / `protocol::probe` over a buffer whose `len_flags` words are loom atomics
//! and whose other bytes are loom cells, so a missing happens-before edge is reported as a race.
//!
//! `RUSTFLAGS="--cfg loom" cargo test -p crpbot-journal --release --test loom`
//! (`LOOM_MAX_PREEMPTIONS=3` for a deeper search).
#![cfg(loom)]
// Loom's cells hand out raw pointers; each dereference is checked by loom itself.
#![allow(unsafe_code)]
#![allow(clippy::unwrap_used)]

use crpbot_journal::format::{RecordHeader, Salt};
use crpbot_journal::protocol::{Probe, RecordBuf, probe, publish};
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicU32, Ordering};

struct LoomBuf {
    words: Vec<AtomicU32>,
    bytes: Vec<UnsafeCell<u8>>,
}

impl LoomBuf {
    fn new(n: usize) -> Self {
        LoomBuf {
            words: (0..n / 8).map(|_| AtomicU32::new(0)).collect(),
            bytes: (0..n).map(|_| UnsafeCell::new(0)).collect(),
        }
    }
}

impl RecordBuf for LoomBuf {
    fn capacity(&self) -> usize {
        self.bytes.len()
    }
    fn load_len_flags(&self, off: usize) -> u32 {
        self.words[off / 8].load(Ordering::Acquire)
    }
    fn store_len_flags(&self, off: usize, value: u32) {
        self.words[off / 8].store(value, Ordering::Release)
    }
    fn write_bytes(&self, off: usize, src: &[u8]) {
        for (i, &b) in src.iter().enumerate() {
            // SAFETY: loom checks that no other thread accesses this cell concurrently.
            self.bytes[off + i].with_mut(|p| unsafe { *p = b });
        }
    }
    fn with_bytes<R>(&self, off: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        // SAFETY: loom checks that no other thread writes this cell concurrently.
        let v: Vec<u8> = (off..off + len).map(|i| self.bytes[i].with(|p| unsafe { *p })).collect();
        f(&v)
    }
}

#[test]
fn reader_never_sees_a_published_record_half_written() {
    loom::model(|| {
        let buf = Arc::new(LoomBuf::new(96));
        let w = buf.clone();
        let writer = loom::thread::spawn(move || {
            let mut off = 0;
            for seq in 1..=2u64 {
                let h = RecordHeader { record_type: 2, ver: 1, seq, ts_ns: seq as i64 };
                off += publish(&*w, off, &h, &[seq as u8; 4], Salt::new(7), false);
            }
        });
        // Reader: follow the records it can see, once each.
        let mut off = 0;
        let mut next = 1u64;
        for _ in 0..2 {
            match probe(&*buf, off, Salt::new(7)) {
                Probe::Data(f) => {
                    assert_eq!(f.header.seq, next);
                    assert_eq!(f.payload_len, 4);
                    buf.with_bytes(off + 24, 4, |p| assert_eq!(p, &[next as u8; 4]));
                    off += f.aligned_len;
                    next += 1;
                }
                Probe::Empty | Probe::InProgress => break,
                other => panic!("reader saw {other:?}"),
            }
        }
        writer.join().unwrap();
        // After the writer is done, everything is visible.
        for seq in next..=2 {
            match probe(&*buf, off, Salt::new(7)) {
                Probe::Data(f) => {
                    assert_eq!(f.header.seq, seq);
                    off += f.aligned_len;
                }
                other => panic!("after join: {other:?}"),
            }
        }
    });
}
