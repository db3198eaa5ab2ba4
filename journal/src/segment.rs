//! Segment files: creation with preallocation and a free-space check, header access, listing,
//! and the recovery scan that classifies how a segment's data ends.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{HaltReason, IoOp};
use crate::fault::{self, FaultHook, FaultPoint};
use crate::format::{
    META_END_OF_DATA, META_SEAL, SEGMENT_HEADER_LEN, Salt, SegmentHeader, parse_segment_file_name,
    segment_file_name,
};
use crate::mmap::Mapping;
use crate::protocol::{Frame, InvalidReason, Probe, RecordBuf, probe};

/// A segment file found in a journal directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentEntry {
    /// Base seq parsed from the file name.
    pub base_seq: u64,
    /// Full path.
    pub path: PathBuf,
}

/// Segment files of `dir`, sorted by base seq. Temporary files are ignored.
pub fn list_segments(dir: &Path) -> io::Result<Vec<SegmentEntry>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if let Some(base_seq) = name.to_str().and_then(parse_segment_file_name) {
            out.push(SegmentEntry { base_seq, path: entry.path() });
        }
    }
    out.sort_by_key(|e| e.base_seq);
    Ok(out)
}

/// Path of the quarantine marker of a segment.
pub fn quarantine_marker(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(crate::format::QUARANTINE_SUFFIX);
    PathBuf::from(s)
}

fn io_halt(op: IoOp) -> impl FnOnce(io::Error) -> HaltReason {
    move |e| HaltReason::io(op, &e)
}

/// Bytes available to unprivileged users on the file system holding `dir`.
pub fn available_bytes(dir: &Path) -> Result<u64, HaltReason> {
    let st = rustix::fs::statvfs(dir).map_err(|e| HaltReason::io(IoOp::StatFs, &e.into()))?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// An open, mapped segment.
#[derive(Debug)]
pub struct Segment {
    /// File path.
    pub path: PathBuf,
    /// Validated header.
    pub header: SegmentHeader,
    /// The header's salt with its precomputed CRC state.
    pub salt: Salt,
    /// The mapping of the whole file.
    pub map: Mapping,
    /// Kept open for `fdatasync` where needed.
    pub file: File,
}

impl Segment {
    /// Wraps an opened, mapped segment whose header has been validated.
    pub fn new(path: PathBuf, header: SegmentHeader, map: Mapping, file: File) -> Segment {
        Segment { path, salt: Salt::new(header.salt), header, map, file }
    }
}

/// The roll's free-space rule: refuse when fewer than `2 × segment_bytes` are free.
pub fn check_space(
    dir: &Path,
    segment_bytes: u64,
    hook: Option<&FaultHook>,
) -> Result<(), HaltReason> {
    let required_bytes = segment_bytes.saturating_mul(2);
    let available_bytes =
        if fault::fires(hook, FaultPoint::NoSpace) { 0 } else { available_bytes(dir)? };
    if available_bytes < required_bytes {
        return Err(HaltReason::InsufficientSpace { available_bytes, required_bytes });
    }
    Ok(())
}

/// Creates, preallocates, fsyncs and maps a new segment; refuses when free space is below
/// `2 × segment_bytes`. The file appears under its final name only once complete.
pub fn create_segment(
    dir: &Path,
    base_seq: u64,
    segment_index: u64,
    segment_bytes: u64,
) -> Result<Segment, HaltReason> {
    create_segment_with(dir, base_seq, segment_index, segment_bytes, None)
}

/// [`create_segment`] with a fault hook ([`FaultPoint::NoSpace`],
/// [`FaultPoint::SegmentSyncError`]).
pub fn create_segment_with(
    dir: &Path,
    base_seq: u64,
    segment_index: u64,
    segment_bytes: u64,
    hook: Option<&FaultHook>,
) -> Result<Segment, HaltReason> {
    check_space(dir, segment_bytes, hook)?;
    let name = segment_file_name(base_seq);
    let tmp = dir.join(format!("{name}.tmp"));
    let path = dir.join(&name);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io_halt(IoOp::CreateSegment))?;
    preallocate(&file, segment_bytes).map_err(io_halt(IoOp::Preallocate))?;
    let header = SegmentHeader::fresh(base_seq, segment_bytes, segment_index);
    file.write_all_at(&header.encode(), 0).map_err(io_halt(IoOp::CreateSegment))?;
    fault::io(hook, FaultPoint::SegmentSyncError, || file.sync_all())
        .map_err(io_halt(IoOp::CreateSegment))?;
    std::fs::rename(&tmp, &path).map_err(io_halt(IoOp::CreateSegment))?;
    fault::io(hook, FaultPoint::DirSyncError, || sync_dir(dir)).map_err(io_halt(IoOp::SyncDir))?;
    let map = Mapping::map_rw(&file).map_err(io_halt(IoOp::MapSegment))?;
    Ok(Segment::new(path, header, map, file))
}

/// Suffix of a spare segment file (a `*.jseg.tmp`, deleted by recovery like any other).
pub const SPARE_SUFFIX: &str = ".spare.jseg.tmp";

/// A segment file prepared ahead of a roll by the writer's background thread: preallocated to
/// its full size, its first page written (zeros) so the header write needs no extent
/// conversion, `fsync`ed, and mapped. It has no header and a temporary name until
/// [`install_spare`] gives it both.
#[derive(Debug)]
pub struct Spare {
    path: PathBuf,
    map: Mapping,
    file: File,
}

impl Spare {
    /// The spare's mapping (to pre-fault its first pages before it is installed).
    pub fn map(&self) -> &Mapping {
        &self.map
    }

    /// Deletes the spare file (best effort: recovery deletes `*.jseg.tmp` files anyway).
    pub fn discard(self) {
        let Spare { path, map, file } = self;
        drop(map);
        drop(file);
        let _ = std::fs::remove_file(path);
    }
}

/// Prepares a [`Spare`] named `<id>.spare.jseg.tmp` in `dir` (free-space rule included).
pub fn create_spare(
    dir: &Path,
    id: u64,
    segment_bytes: u64,
    hook: Option<&FaultHook>,
) -> Result<Spare, HaltReason> {
    check_space(dir, segment_bytes, hook)?;
    let path = dir.join(format!("{id:020}{SPARE_SUFFIX}"));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .map_err(io_halt(IoOp::CreateSegment))?;
    let prepared =
        preallocate(&file, segment_bytes).map_err(io_halt(IoOp::Preallocate)).and_then(|()| {
            let page = [0u8; 4096];
            let n = (segment_bytes as usize).min(page.len());
            file.write_all_at(&page[..n], 0).map_err(io_halt(IoOp::CreateSegment))?;
            fault::io(hook, FaultPoint::SegmentSyncError, || file.sync_all())
                .map_err(io_halt(IoOp::CreateSegment))?;
            Mapping::map_rw(&file).map_err(io_halt(IoOp::MapSegment))
        });
    match prepared {
        Ok(map) => Ok(Spare { path, map, file }),
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            Err(e)
        }
    }
}

/// Turns a [`Spare`] into the segment starting at `base_seq`: the free-space rule, then the
/// header is written and `msync`ed, then the file is renamed to its final name. The directory
/// `fsync` that makes the name durable is left to the caller (see FORMAT.md §5): until it has
/// run, records in the segment are committed but must not be declared durable.
pub fn install_spare(
    dir: &Path,
    spare: Spare,
    base_seq: u64,
    segment_index: u64,
    segment_bytes: u64,
    hook: Option<&FaultHook>,
) -> Result<Segment, (HaltReason, Spare)> {
    if let Err(e) = check_space(dir, segment_bytes, hook) {
        return Err((e, spare));
    }
    let header = SegmentHeader::fresh(base_seq, segment_bytes, segment_index);
    spare.map.write_bytes(0, &header.encode());
    let durable = fault::io(hook, FaultPoint::SegmentSyncError, || {
        spare.map.flush_range(0, SEGMENT_HEADER_LEN)
    });
    if let Err(e) = durable {
        return Err((HaltReason::io(IoOp::CreateSegment, &e), spare));
    }
    let path = dir.join(segment_file_name(base_seq));
    if let Err(e) = std::fs::rename(&spare.path, &path) {
        return Err((HaltReason::io(IoOp::CreateSegment, &e), spare));
    }
    let Spare { map, file, .. } = spare;
    Ok(Segment::new(path, header, map, file))
}

/// Reserves `len` bytes of real blocks (`posix_fallocate`), falling back to writing zeros where
/// the file system cannot, then checks the file length.
pub fn preallocate(file: &File, len: u64) -> io::Result<()> {
    match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, len) {
        Ok(()) => {}
        Err(e) if e == rustix::io::Errno::OPNOTSUPP => {
            file.set_len(len)?;
            let zeros = vec![0u8; 1 << 20];
            let mut off = 0u64;
            while off < len {
                let n = (len - off).min(zeros.len() as u64) as usize;
                file.write_all_at(&zeros[..n], off)?;
                off += n as u64;
            }
        }
        Err(e) => return Err(e.into()),
    }
    let actual = file.metadata()?.len();
    if actual < len {
        return Err(io::Error::other(format!("preallocated {actual} of {len} bytes")));
    }
    Ok(())
}

/// `fsync` of a directory, so a created or renamed entry is durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Reads and validates the header of a segment file.
pub fn read_header(file: &File) -> io::Result<Result<SegmentHeader, crate::format::HeaderError>> {
    let mut b = [0u8; SEGMENT_HEADER_LEN];
    let len = file.metadata()?.len();
    if len < SEGMENT_HEADER_LEN as u64 {
        return Ok(Err(crate::format::HeaderError::Short));
    }
    file.read_exact_at(&mut b, 0)?;
    Ok(SegmentHeader::decode(&b))
}

/// How the data of a segment ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanEnd {
    /// A zero `len_flags` with nothing valid after it: the writer's position.
    Clean,
    /// An END_OF_DATA sentinel: the segment was rolled.
    EndOfData,
    /// No room for another record header.
    Full,
    /// An unfinished or invalid record with nothing valid after it: a torn tail.
    Torn(InvalidReason),
    /// An invalid record followed by valid ones: corruption, quarantine the segment.
    Corrupt {
        /// Why the record at `Scan::end_off` is invalid.
        reason: InvalidReason,
        /// Highest seq among the valid records found after the bad one.
        max_seq_after: u64,
    },
}

/// Result of scanning a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scan {
    /// Valid data records in the valid prefix.
    pub records: u64,
    /// Seq of the last valid data record (base − 1 when none).
    pub last_seq: u64,
    /// Offset just past the valid prefix (including metadata records).
    pub end_off: usize,
    /// How the valid prefix ends.
    pub end: ScanEnd,
    /// The valid prefix ends with a SEAL record.
    pub sealed: bool,
}

/// Walks the valid prefix of a segment, calling `on_record(offset, frame)` for each data record,
/// and classifies its end (RELIABILITY.md §1.7 item 3).
pub fn scan<B: RecordBuf + ?Sized>(
    buf: &B,
    header: &SegmentHeader,
    mut on_record: impl FnMut(usize, &Frame),
) -> Scan {
    let salt = Salt::new(header.salt);
    let mut off = SEGMENT_HEADER_LEN;
    let mut expected = header.base_seq;
    let mut records = 0u64;
    let mut sealed = false;
    let bad = loop {
        match probe(buf, off, salt) {
            Probe::EndOfBuffer => {
                return finish(records, expected, off, ScanEnd::Full, sealed);
            }
            Probe::Data(f) if f.header.seq == expected => {
                on_record(off, &f);
                records += 1;
                expected += 1;
                off += f.aligned_len;
                sealed = false;
            }
            Probe::Meta(f) if f.header.seq == expected.wrapping_sub(1) => {
                off += f.aligned_len;
                match f.header.record_type {
                    META_END_OF_DATA => {
                        return finish(records, expected, off, ScanEnd::EndOfData, sealed);
                    }
                    META_SEAL => sealed = true,
                    _ => {}
                }
            }
            Probe::Data(_) | Probe::Meta(_) => break InvalidReason::BadSeq,
            Probe::Empty => break InvalidReason::Zeroed,
            Probe::InProgress => break InvalidReason::InProgress,
            Probe::Invalid(r) => break r,
        }
    };
    let end = match max_valid_seq_after(buf, header, off + crate::format::ALIGN) {
        Some(max_seq_after) => ScanEnd::Corrupt { reason: bad, max_seq_after },
        None if bad == InvalidReason::Zeroed => ScanEnd::Clean,
        None => ScanEnd::Torn(bad),
    };
    finish(records, expected, off, end, sealed)
}

fn finish(records: u64, expected: u64, end_off: usize, end: ScanEnd, sealed: bool) -> Scan {
    Scan { records, last_seq: expected.wrapping_sub(1), end_off, end, sealed }
}

/// Highest seq of any valid record (plausible for this segment) at an 8-aligned offset ≥ `from`.
pub fn max_valid_seq_after<B: RecordBuf + ?Sized>(
    buf: &B,
    header: &SegmentHeader,
    from: usize,
) -> Option<u64> {
    max_valid_seq_in(buf, header, from, usize::MAX)
}

/// [`max_valid_seq_after`] limited to the `window` bytes after `from`.
pub fn max_valid_seq_in<B: RecordBuf + ?Sized>(
    buf: &B,
    header: &SegmentHeader,
    from: usize,
    window: usize,
) -> Option<u64> {
    let cap = buf.capacity().min(from.saturating_add(window));
    let from = crate::format::align_up(from);
    if from + 4 > cap {
        return None;
    }
    // A record needs at least 32 bytes, so a segment holds fewer seqs than this.
    let seq_span = (cap / crate::format::META_RECORD_LEN) as u64 + 1;
    let lo = header.base_seq.saturating_sub(1);
    let hi = header.base_seq.saturating_add(seq_span);
    let mut candidates = Vec::new();
    buf.with_bytes(from, cap - from, |b| {
        for (i, chunk) in b.chunks_exact(8).enumerate() {
            let lf = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            if lf != 0 && lf & crate::format::FLAG_IN_PROGRESS == 0 {
                candidates.push(from + i * 8);
            }
        }
    });
    let salt = Salt::new(header.salt);
    let mut max = None;
    for off in candidates {
        if let Probe::Data(f) | Probe::Meta(f) = probe(buf, off, salt)
            && (lo..hi).contains(&f.header.seq)
        {
            max = max.max(Some(f.header.seq));
        }
    }
    max
}

/// Offset just past the last non-zero byte at or after `from` (`from` when all zero).
pub fn dirty_end<B: RecordBuf + ?Sized>(buf: &B, from: usize) -> usize {
    let cap = buf.capacity();
    if from >= cap {
        return from;
    }
    buf.with_bytes(from, cap - from, |b| match b.iter().rposition(|&x| x != 0) {
        Some(i) => from + i + 1,
        None => from,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{FORMAT_VERSION, RecordHeader};
    use crate::protocol::{VecBuf, publish};

    fn seg(n: usize) -> (VecBuf, SegmentHeader) {
        let h = SegmentHeader {
            version: FORMAT_VERSION,
            base_seq: 10,
            salt: 99,
            segment_bytes: n as u64,
            segment_index: 0,
        };
        let v = VecBuf(core::cell::RefCell::new(vec![0; n]));
        v.write_bytes(0, &h.encode());
        (v, h)
    }

    fn put(b: &VecBuf, h: &SegmentHeader, n: u64) -> Vec<usize> {
        let mut off = SEGMENT_HEADER_LEN;
        let mut offs = Vec::new();
        for i in 0..n {
            let rh = RecordHeader { record_type: 1, ver: 0, seq: h.base_seq + i, ts_ns: 0 };
            offs.push(off);
            off += publish(b, off, &rh, &[i as u8; 13], Salt::new(h.salt), false);
        }
        offs.push(off);
        offs
    }

    #[test]
    fn clean_end() {
        let (b, h) = seg(1024);
        let offs = put(&b, &h, 5);
        let s = scan(&b, &h, |_, _| {});
        assert_eq!(s.records, 5);
        assert_eq!(s.last_seq, 14);
        assert_eq!(s.end, ScanEnd::Clean);
        assert_eq!(s.end_off, offs[5]);
    }

    #[test]
    fn torn_tail_vs_corruption() {
        let (b, h) = seg(1024);
        let offs = put(&b, &h, 5);
        // Flip a payload byte of the last record: torn tail.
        b.0.borrow_mut()[offs[4] + 30] ^= 1;
        let s = scan(&b, &h, |_, _| {});
        assert_eq!((s.records, s.end), (4, ScanEnd::Torn(InvalidReason::BadChecksum)));
        b.0.borrow_mut()[offs[4] + 30] ^= 1;
        // Flip in the second record: corruption, later seqs reported.
        b.0.borrow_mut()[offs[1] + 30] ^= 1;
        let s = scan(&b, &h, |_, _| {});
        assert_eq!(s.records, 1);
        assert_eq!(
            s.end,
            ScanEnd::Corrupt { reason: InvalidReason::BadChecksum, max_seq_after: 14 }
        );
        // A zeroed len_flags with valid records after is corruption too.
        b.0.borrow_mut()[offs[1] + 30] ^= 1;
        b.store_len_flags(offs[2], 0);
        let s = scan(&b, &h, |_, _| {});
        assert_eq!(s.end, ScanEnd::Corrupt { reason: InvalidReason::Zeroed, max_seq_after: 14 });
    }

    #[test]
    fn sentinel_and_seal() {
        let (b, h) = seg(1024);
        let offs = put(&b, &h, 2);
        let seal = RecordHeader { record_type: META_SEAL, ver: 0, seq: 11, ts_ns: 0 };
        let n = publish(&b, offs[2], &seal, &[], Salt::new(h.salt), true);
        let s = scan(&b, &h, |_, _| {});
        assert!(s.sealed);
        assert_eq!(s.end, ScanEnd::Clean);
        let eod = RecordHeader { record_type: META_END_OF_DATA, ..seal };
        publish(&b, offs[2] + n, &eod, &[], Salt::new(h.salt), true);
        let s = scan(&b, &h, |_, _| {});
        assert_eq!((s.records, s.end), (2, ScanEnd::EndOfData));
    }

    #[test]
    fn garbage_after_end_is_torn_not_corrupt() {
        let (b, h) = seg(1024);
        let offs = put(&b, &h, 3);
        for i in 0..200 {
            b.0.borrow_mut()[offs[3] + i] = (i * 37 + 11) as u8;
        }
        let s = scan(&b, &h, |_, _| {});
        assert_eq!(s.records, 3);
        assert!(matches!(s.end, ScanEnd::Torn(_)));
        assert_eq!(dirty_end(&b, s.end_off), offs[3] + 200);
    }
}
