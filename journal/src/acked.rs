//! [`verify_acked`]: the post-crash check of a kill -9 test (RELIABILITY.md §1.8 J1), for a parent
//! process that learned acknowledged seqs from a child journaling process and then killed it.

use std::path::Path;

use crate::error::ReaderOpenError;
use crate::reader::Reader;
use crate::verify::{VerifyReport, verify};

/// Result of [`verify_acked`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AckedReport {
    /// The highest seq the killed process acknowledged (the caller's input; 0 = none).
    pub last_acked: u64,
    /// Data records delivered by a full [`Reader`] replay.
    pub records: u64,
    /// First and last seq delivered.
    pub seq_range: Option<(u64, u64)>,
    /// Problems the replay met ([`crate::ReadError`]: corrupt records, unreadable segments,
    /// seq gaps between segments). Every delivered record passed its CRC, so a non-zero count
    /// is the only way a bad record shows up.
    pub read_errors: u64,
    /// Places where a delivered seq skipped ahead of the previous one + 1.
    pub gaps: u64,
    /// Delivered seqs not above the previous one (duplicates or reordering).
    pub duplicates: u64,
    /// The first delivered seq is 1 and the last is at least `last_acked`: with no gaps and no
    /// duplicates, every acknowledged record was recovered.
    pub all_acked_recovered: bool,
    /// The framing check of every segment ([`verify`]); a torn tail in the last segment is
    /// normal after a kill and not a failure.
    pub verify: VerifyReport,
}

impl AckedReport {
    /// 0 bad records, 0 gaps, 0 duplicates, every acked seq recovered, no corruption and no
    /// quarantined segment.
    pub fn is_ok(&self) -> bool {
        self.read_errors == 0
            && self.gaps == 0
            && self.duplicates == 0
            && self.all_acked_recovered
            && self.verify.is_ok()
            && self.verify.quarantined.is_empty()
    }
}

/// Checks the journal in `dir` after the process writing it was killed, given the highest seq
/// it acknowledged (`append`/`append_durable`/`sync` had returned it): replays every record
/// and checks 0 bad records, seqs exactly `1..=N` with no gap or duplicate, `N ≥ last_acked`,
/// and runs [`verify`]. Read-only: it can run before recovery (torn tail in place) and again
/// after [`crate::Journal::open`] has recovered the directory; both must pass.
///
/// # Examples
/// ```
/// use crpbot_journal::{Journal, JournalConfig, verify_acked};
/// let dir = tempfile::tempdir()?;
/// let mut w = Journal::open(dir.path(), JournalConfig::with_segment_bytes(1 << 20))?;
/// let acked = w.append(1, 0, 0, b"x")?;
/// drop(w); // stands for the kill
/// let r = verify_acked(dir.path(), acked)?;
/// assert!(r.is_ok(), "{r:?}");
/// assert!(!verify_acked(dir.path(), acked + 1)?.is_ok()); // an acked record is missing
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_acked(
    dir: impl AsRef<Path>,
    last_acked: u64,
) -> Result<AckedReport, ReaderOpenError> {
    let dir = dir.as_ref();
    let mut rep = AckedReport { last_acked, ..Default::default() };
    let mut r = Reader::open(dir)?;
    let mut prev: Option<u64> = None;
    while let Some(rec) = r.next_record() {
        let rec = match rec {
            Ok(rec) => rec,
            Err(_) => {
                rep.read_errors += 1;
                continue;
            }
        };
        match prev {
            Some(p) if rec.seq <= p => rep.duplicates += 1,
            Some(p) if rec.seq != p + 1 => rep.gaps += 1,
            _ => {}
        }
        prev = Some(prev.map_or(rec.seq, |p| p.max(rec.seq)));
        rep.records += 1;
        rep.seq_range = Some((rep.seq_range.map_or(rec.seq, |s| s.0), rec.seq));
    }
    rep.all_acked_recovered = match rep.seq_range {
        Some((first, last)) => first == 1 && last >= last_acked,
        None => last_acked == 0,
    };
    rep.verify = verify(dir)?;
    Ok(rep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Journal, JournalConfig};

    #[test]
    fn empty_and_missing_records() {
        let d = tempfile::tempdir().expect("tempdir");
        let r = verify_acked(d.path(), 0).expect("check");
        assert!(r.is_ok(), "{r:?}");
        assert!(!verify_acked(d.path(), 1).expect("check").is_ok());
        let mut w =
            Journal::open(d.path(), JournalConfig::with_segment_bytes(64 << 10)).expect("open");
        for i in 0..3_000u64 {
            w.append(1, 0, i as i64, &[i as u8; 40]).expect("append");
        }
        drop(w);
        let r = verify_acked(d.path(), 3_000).expect("check");
        assert!(r.is_ok(), "{r:?}");
        assert_eq!((r.records, r.seq_range), (3_000, Some((1, 3_000))));
        assert!(r.verify.segments > 1);
    }
}
