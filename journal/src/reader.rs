//! Readers: [`Reader`] replays a journal at rest; [`Tailer`] follows a live writer.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{ReadError, ReaderOpenError};
use crate::format::{
    META_END_OF_DATA, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN, Salt, SegmentHeader, segment_file_name,
};
use crate::mmap::Mapping;
use crate::protocol::{Frame, InvalidReason, Probe, frame_extent, validate_body};
use crate::segment::{self, SegmentEntry};

/// How far past a zero `len_flags` [`Reader`] looks for valid records (corruption detection).
pub const ZEROED_SCAN_WINDOW: usize = 1 << 20;

/// One data record, borrowed from the mapped segment (zero copy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// Sequence number.
    pub seq: u64,
    /// Record type ([`crate::RecordType`]).
    pub record_type: u16,
    /// Payload schema version.
    pub ver: u16,
    /// Event time, ns since the Unix epoch.
    pub ts_ns: i64,
    /// Payload bytes.
    pub payload: &'a [u8],
}

#[derive(Debug)]
struct OpenSegment {
    path: PathBuf,
    header: SegmentHeader,
    salt: Salt,
    map: Mapping,
    off: usize,
}

impl OpenSegment {
    /// Opens and maps a segment.
    fn open(path: &Path) -> Result<OpenSegment, String> {
        let file = File::open(path).map_err(|e| e.to_string())?;
        let header =
            segment::read_header(&file).map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
        let map = Mapping::map_ro(&file).map_err(|e| e.to_string())?;
        if map.len() < SEGMENT_HEADER_LEN {
            return Err("segment shorter than its header".into());
        }
        Ok(OpenSegment {
            path: path.to_path_buf(),
            salt: Salt::new(header.salt),
            header,
            map,
            off: SEGMENT_HEADER_LEN,
        })
    }

    /// Validates the record at `off` in one pass (length, CRC, padding, type).
    #[inline]
    fn probe(&self, off: usize) -> Probe {
        match frame_extent(&self.map, off) {
            Ok(e) => {
                validate_body(self.map.bytes(off + 4, e.present - 4), e.len, e.meta, self.salt)
            }
            Err(p) => p,
        }
    }

    /// The data record `f` found at `off` by [`OpenSegment::probe`], borrowed from the mapping.
    #[inline]
    fn record(&self, off: usize, f: &Frame) -> Record<'_> {
        Record {
            seq: f.header.seq,
            record_type: f.header.record_type,
            ver: f.header.ver,
            ts_ns: f.header.ts_ns,
            payload: self.map.bytes(off + RECORD_HEADER_LEN, f.payload_len),
        }
    }
}

/// Replays every data record of a journal at rest, in seq order, across segments.
///
/// A torn tail ends its segment silently (it was never committed); an invalid record with
/// valid ones after it is reported once as [`ReadError::Corrupt`] and the rest of that segment is
/// skipped. Use [`Tailer`] to follow a journal that a writer in this process is appending to.
///
/// # Examples
/// ```
/// use crpbot_journal::{Journal, JournalConfig, Reader};
/// let dir = tempfile::tempdir()?;
/// let mut w = Journal::open(dir.path(), JournalConfig::with_segment_bytes(1 << 20))?;
/// w.append(1, 0, 5, b"a")?;
/// w.append(2, 0, 6, b"b")?;
/// drop(w);
/// let mut r = Reader::open(dir.path())?;
/// let mut seqs = Vec::new();
/// while let Some(rec) = r.next_record() {
///     seqs.push(rec?.seq);
/// }
/// assert_eq!(seqs, [1, 2]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Reader {
    segments: Vec<SegmentEntry>,
    next_index: usize,
    cur: Option<OpenSegment>,
    expected_seq: Option<u64>,
}

impl Reader {
    /// Opens the journal in `dir` (the set of segments is fixed at this call).
    pub fn open(dir: impl AsRef<Path>) -> Result<Reader, ReaderOpenError> {
        let dir = dir.as_ref();
        let segments = segment::list_segments(dir)
            .map_err(|source| ReaderOpenError::Io { path: dir.to_path_buf(), source })?;
        Ok(Reader { segments, next_index: 0, cur: None, expected_seq: None })
    }

    /// Number of segment files.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The next record, a problem met on the way, or `None` at the end of the journal.
    #[allow(clippy::should_implement_trait)]
    pub fn next_record(&mut self) -> Option<Result<Record<'_>, ReadError>> {
        loop {
            if self.cur.is_none() {
                let entry = self.segments.get(self.next_index)?;
                self.next_index += 1;
                match OpenSegment::open(&entry.path) {
                    Ok(s) => self.cur = Some(s),
                    Err(reason) => {
                        return Some(Err(ReadError::BadSegment {
                            segment: entry.path.clone(),
                            reason,
                        }));
                    }
                }
            }
            let Some(seg) = self.cur.as_mut() else { continue };
            let expected = *self.expected_seq.get_or_insert(seg.header.base_seq);
            if seg.off == SEGMENT_HEADER_LEN && seg.header.base_seq != expected {
                // Records were lost between segments (or skipped after a quarantine).
                let found = seg.header.base_seq;
                self.expected_seq = Some(found);
                return Some(Err(ReadError::SeqGap { expected, found }));
            }
            let off = seg.off;
            let bad = match seg.probe(off) {
                Probe::Data(f) if f.header.seq == expected => {
                    seg.off += f.aligned_len;
                    self.expected_seq = Some(expected + 1);
                    let seg = self.cur.as_ref()?;
                    return Some(Ok(seg.record(off, &f)));
                }
                Probe::Meta(f) if f.header.seq.wrapping_add(1) == expected => {
                    seg.off += f.aligned_len;
                    if f.header.record_type == META_END_OF_DATA {
                        self.cur = None;
                    }
                    continue;
                }
                Probe::EndOfBuffer => {
                    self.cur = None;
                    continue;
                }
                Probe::Data(_) | Probe::Meta(_) => InvalidReason::BadSeq,
                Probe::Empty => InvalidReason::Zeroed,
                Probe::InProgress => InvalidReason::InProgress,
                Probe::Invalid(r) => r,
            };
            // A zero header is the normal end of data: look for valid records hidden behind it
            // only within a window (recovery and `verify` scan the whole segment). Any other
            // invalid record gets the full scan.
            let window = if bad == InvalidReason::Zeroed { ZEROED_SCAN_WINDOW } else { usize::MAX };
            let after = segment::max_valid_seq_in(&seg.map, &seg.header, off + 8, window);
            let segment = seg.path.clone();
            self.cur = None;
            if after.is_some() {
                return Some(Err(ReadError::Corrupt { segment, offset: off as u64, reason: bad }));
            }
            // End of data or torn tail: this segment's valid prefix is final.
        }
    }
}

/// Follows a live writer: [`Tailer::poll`] returns the next committed record, or `None` when it
/// has caught up (call again later). Crosses segment rolls by END_OF_DATA, or by finding the
/// next segment file when the sentinel is missing.
///
/// # Examples
/// ```
/// use crpbot_journal::{Journal, JournalConfig, Tailer};
/// let dir = tempfile::tempdir()?;
/// let mut w = Journal::open(dir.path(), JournalConfig::with_segment_bytes(1 << 20))?;
/// let mut t = Tailer::open(dir.path(), 1)?;
/// assert!(t.poll().is_none());
/// w.append(1, 0, 5, b"a")?;
/// assert_eq!(t.poll().transpose()?.map(|r| r.seq), Some(1));
/// assert!(t.poll().is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Tailer {
    dir: PathBuf,
    cur: Option<OpenSegment>,
    /// Next seq to deliver.
    next_seq: u64,
    /// The current segment is known corrupt: wait for the next one.
    skip_current: bool,
}

impl Tailer {
    /// Follows the journal in `dir` starting at `from_seq` (1 = from the beginning).
    pub fn open(dir: impl AsRef<Path>, from_seq: u64) -> Result<Tailer, ReaderOpenError> {
        let dir = dir.as_ref().to_path_buf();
        if let Err(source) = std::fs::metadata(&dir) {
            return Err(ReaderOpenError::Io { path: dir, source });
        }
        Ok(Tailer { dir, cur: None, next_seq: from_seq.max(1), skip_current: false })
    }

    /// Seq of the next record this tailer will deliver.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Opens the segment holding `next_seq`: the one with the largest base ≤ `next_seq`, or else
    /// the first one above it (after a gap). `false` when there is none yet.
    fn open_segment(&mut self, after: Option<u64>) -> Result<bool, ReadError> {
        let entries = match segment::list_segments(&self.dir) {
            Ok(e) => e,
            Err(e) => {
                return Err(ReadError::BadSegment {
                    segment: self.dir.clone(),
                    reason: e.to_string(),
                });
            }
        };
        let pick = match after {
            Some(base) => entries.iter().find(|e| e.base_seq > base),
            None => entries
                .iter()
                .rev()
                .find(|e| e.base_seq <= self.next_seq)
                .or_else(|| entries.first()),
        };
        let Some(entry) = pick else { return Ok(false) };
        let seg = OpenSegment::open(&entry.path)
            .map_err(|reason| ReadError::BadSegment { segment: entry.path.clone(), reason })?;
        if seg.header.base_seq > self.next_seq {
            let expected = self.next_seq;
            self.next_seq = seg.header.base_seq;
            self.cur = Some(seg);
            return Err(ReadError::SeqGap { expected, found: self.next_seq });
        }
        self.cur = Some(seg);
        Ok(true)
    }

    /// The next committed record, a problem met on the way, or `None` when caught up.
    pub fn poll(&mut self) -> Option<Result<Record<'_>, ReadError>> {
        loop {
            if self.skip_current {
                let base = self.cur.as_ref().map(|s| s.header.base_seq);
                match self.open_segment(base) {
                    Ok(true) => self.skip_current = false,
                    Ok(false) => return None,
                    Err(e) => {
                        self.skip_current = false;
                        return Some(Err(e));
                    }
                }
            }
            if self.cur.is_none() {
                match self.open_segment(None) {
                    Ok(true) => {}
                    Ok(false) => return None,
                    Err(e) => return Some(Err(e)),
                }
            }
            let seg = self.cur.as_mut()?;
            let off = seg.off;
            match seg.probe(off) {
                Probe::Data(f) if f.header.seq == self.next_seq => {
                    seg.off += f.aligned_len;
                    self.next_seq += 1;
                    let seg = self.cur.as_ref()?;
                    return Some(Ok(seg.record(off, &f)));
                }
                Probe::Data(f) if f.header.seq < self.next_seq => seg.off += f.aligned_len,
                Probe::Meta(f) => {
                    seg.off += f.aligned_len;
                    if f.header.record_type == META_END_OF_DATA {
                        self.cur = None;
                    }
                }
                Probe::InProgress => return None,
                Probe::Empty | Probe::EndOfBuffer => {
                    // The next segment's base is `next_seq`; the current one cannot be it.
                    if seg.header.base_seq >= self.next_seq
                        || !self.dir.join(segment_file_name(self.next_seq)).exists()
                    {
                        return None;
                    }
                    // The writer created the next segment; re-check once, then the valid
                    // prefix of this one is final.
                    if matches!(seg.probe(off), Probe::Empty | Probe::EndOfBuffer) {
                        self.cur = None;
                    }
                }
                Probe::Data(_) => {
                    let segment = seg.path.clone();
                    self.skip_current = true;
                    return Some(Err(ReadError::Corrupt {
                        segment,
                        offset: off as u64,
                        reason: InvalidReason::BadSeq,
                    }));
                }
                Probe::Invalid(reason) => {
                    let segment = seg.path.clone();
                    self.skip_current = true;
                    return Some(Err(ReadError::Corrupt { segment, offset: off as u64, reason }));
                }
            }
        }
    }
}
