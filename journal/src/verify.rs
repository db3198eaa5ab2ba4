//! Offline checks: [`verify`] (for `crpbot journal verify`) and [`stats`].

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::ReaderOpenError;
use crate::mmap::Mapping;
use crate::protocol::InvalidReason;
use crate::reader::Reader;
use crate::segment::{self, ScanEnd};

/// The first problem [`verify`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadSpot {
    /// Segment file.
    pub segment: PathBuf,
    /// Byte offset in it.
    pub offset: u64,
    /// What is wrong.
    pub reason: String,
}

/// Result of [`verify`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Segment files checked.
    pub segments: usize,
    /// Valid data records.
    pub records: u64,
    /// First and last seq of the valid records.
    pub seq_range: Option<(u64, u64)>,
    /// A torn tail in the last segment (normal after a crash, before the writer reopens).
    pub torn_tail: Option<BadSpot>,
    /// Segments that carry a quarantine marker.
    pub quarantined: Vec<PathBuf>,
    /// First corruption: bad header, invalid record followed by valid ones, a torn non-last
    /// segment, or a seq gap between segments.
    pub first_bad: Option<BadSpot>,
}

impl VerifyReport {
    /// True when no corruption was found.
    pub fn is_ok(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// Scans every record of every segment and checks framing, CRCs and seq continuity.
///
/// # Examples
/// ```
/// use crpbot_journal::{Journal, JournalConfig, verify};
/// let dir = tempfile::tempdir()?;
/// let mut w = Journal::open(dir.path(), JournalConfig::with_segment_bytes(1 << 20))?;
/// w.append(1, 0, 0, b"x")?;
/// drop(w);
/// let r = verify(dir.path())?;
/// assert!(r.is_ok());
/// assert_eq!(r.records, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify(dir: impl AsRef<Path>) -> Result<VerifyReport, ReaderOpenError> {
    let dir = dir.as_ref();
    let io = |source| ReaderOpenError::Io { path: dir.to_path_buf(), source };
    let entries = segment::list_segments(dir).map_err(io)?;
    let mut rep = VerifyReport { segments: entries.len(), ..Default::default() };
    let mut expected: Option<u64> = None;
    let n = entries.len();
    for (i, e) in entries.iter().enumerate() {
        let is_last = i + 1 == n;
        let bad = |offset: u64, reason: String| BadSpot { segment: e.path.clone(), offset, reason };
        if segment::quarantine_marker(&e.path).exists() {
            rep.quarantined.push(e.path.clone());
        }
        let opened = File::open(&e.path).and_then(|f| {
            let h = segment::read_header(&f)?;
            Ok((Mapping::map_ro(&f)?, h))
        });
        let (map, header) = match opened {
            Ok((m, Ok(h))) => (m, h),
            Ok((_, Err(h))) => {
                rep.first_bad.get_or_insert(bad(0, h.to_string()));
                continue;
            }
            Err(err) => {
                rep.first_bad.get_or_insert(bad(0, err.to_string()));
                continue;
            }
        };
        if let Some(x) = expected
            && x != header.base_seq
        {
            rep.first_bad.get_or_insert(bad(
                0,
                format!("seq gap: expected {x}, segment starts at {}", header.base_seq),
            ));
        }
        let s = segment::scan(&map, &header, |_, _| {});
        rep.records += s.records;
        if s.records > 0 {
            let first = header.base_seq;
            rep.seq_range = Some((rep.seq_range.map_or(first, |r| r.0), s.last_seq));
        }
        expected = Some(s.last_seq + 1);
        match s.end {
            ScanEnd::Clean | ScanEnd::EndOfData | ScanEnd::Full => {}
            ScanEnd::Torn(r) if is_last => {
                rep.torn_tail = Some(bad(s.end_off as u64, r.to_string()))
            }
            ScanEnd::Torn(r) => {
                // A non-last segment without END_OF_DATA: its valid prefix is final (roll crash).
                if r != InvalidReason::InProgress {
                    rep.torn_tail.get_or_insert(bad(s.end_off as u64, r.to_string()));
                }
            }
            ScanEnd::Corrupt { reason, max_seq_after } => {
                rep.first_bad.get_or_insert(bad(
                    s.end_off as u64,
                    format!("{reason}; valid records up to seq {max_seq_after} follow"),
                ));
                expected = Some(max_seq_after + 1);
            }
        }
    }
    Ok(rep)
}

/// Result of [`stats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JournalStats {
    /// Data records read.
    pub records: u64,
    /// Records per type.
    pub per_type: BTreeMap<u16, u64>,
    /// Payload bytes.
    pub payload_bytes: u64,
    /// Bytes of segment files on disk (preallocated size).
    pub file_bytes: u64,
    /// First and last seq.
    pub seq_range: Option<(u64, u64)>,
    /// Smallest and largest `ts_ns`.
    pub ts_range: Option<(i64, i64)>,
    /// Read problems met (corruption, gaps).
    pub read_errors: u64,
}

/// Counts records per type, bytes, seq and time ranges.
pub fn stats(dir: impl AsRef<Path>) -> Result<JournalStats, ReaderOpenError> {
    let dir = dir.as_ref();
    let mut st = JournalStats::default();
    for e in segment::list_segments(dir)
        .map_err(|source| ReaderOpenError::Io { path: dir.to_path_buf(), source })?
    {
        st.file_bytes += std::fs::metadata(&e.path).map(|m| m.len()).unwrap_or(0);
    }
    let mut r = Reader::open(dir)?;
    while let Some(rec) = r.next_record() {
        match rec {
            Ok(rec) => {
                st.records += 1;
                *st.per_type.entry(rec.record_type).or_default() += 1;
                st.payload_bytes += rec.payload.len() as u64;
                st.seq_range = Some((st.seq_range.map_or(rec.seq, |s| s.0), rec.seq));
                st.ts_range = Some(match st.ts_range {
                    None => (rec.ts_ns, rec.ts_ns),
                    Some((lo, hi)) => (lo.min(rec.ts_ns), hi.max(rec.ts_ns)),
                });
            }
            Err(_) => st.read_errors += 1,
        }
    }
    Ok(st)
}
