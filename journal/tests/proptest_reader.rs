//! Fuzz-ish property tests: the reader, verify and recovery never panic on arbitrary bytes.
#![allow(clippy::unwrap_used)]

mod common;

use crpbot_journal::format::{FORMAT_VERSION, SegmentHeader, segment_file_name};
use crpbot_journal::{Journal, JournalConfig, Reader, verify};
use proptest::prelude::*;

fn run_all(dir: &std::path::Path) {
    let mut r = Reader::open(dir).unwrap();
    let mut last = 0;
    let mut guard = 0;
    while let Some(rec) = r.next_record() {
        if let Ok(rec) = rec {
            assert!(rec.seq > last);
            last = rec.seq;
        }
        guard += 1;
        assert!(guard < 100_000);
    }
    let _ = verify(dir).unwrap();
    let _ = crpbot_journal::stats(dir).unwrap();
    let _ = Journal::open(dir, JournalConfig::with_segment_bytes(common::SEG));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary bytes after a valid header.
    #[test]
    fn arbitrary_body_never_panics(body in proptest::collection::vec(any::<u8>(), 0..4096), salt: u64) {
        let d = tempfile::tempdir().unwrap();
        let h = SegmentHeader { version: FORMAT_VERSION, base_seq: 1, salt, segment_bytes: common::SEG, segment_index: 0 };
        let mut b = h.encode().to_vec();
        b.extend_from_slice(&body);
        std::fs::write(d.path().join(segment_file_name(1)), &b).unwrap();
        run_all(d.path());
    }

    /// A valid journal with arbitrary byte overwrites.
    #[test]
    fn mutated_journal_never_panics(edits in proptest::collection::vec((0usize..8192, any::<u8>()), 1..16)) {
        let d = tempfile::tempdir().unwrap();
        let mut w = common::open(d.path());
        common::fill(&mut w, 100);
        drop(w);
        let p = common::last_segment(d.path());
        let mut b = std::fs::read(&p).unwrap();
        for (off, v) in edits {
            b[off] = v;
        }
        std::fs::write(&p, &b).unwrap();
        run_all(d.path());
    }

    /// Completely arbitrary segment files, header included.
    #[test]
    fn arbitrary_file_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(segment_file_name(1)), &bytes).unwrap();
        run_all(d.path());
    }
}
