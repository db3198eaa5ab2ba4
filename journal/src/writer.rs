//! The single writer: open with recovery, append, roll, sync, seal.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::error::{AppendError, HaltReason, IoOp, OpenError, SyncError};
use crate::fault::{FaultHook, FaultPoint};
use crate::format::RecordHeader;
use crate::format::{
    META_END_OF_DATA, META_RECORD_LEN, META_SEAL, META_TYPE_MIN, RECORD_OVERHEAD,
    SEGMENT_HEADER_LEN, SEGMENT_TAIL_RESERVE, align_up,
};
use crate::protocol::{self, InvalidReason};
use crate::segment::{self, ScanEnd, Segment};
use crate::watermark::Watermark;

/// Name of the lock file that keeps a second writer out.
pub const LOCK_FILE: &str = "LOCK";

/// Journal configuration.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct JournalConfig {
    /// Size of each segment file in bytes (multiple of 4096, at least 64 KiB, below 1 GiB).
    pub segment_bytes: u64,
    /// Crash-injection seam for tests; `None` in production.
    pub fault_hook: Option<FaultHook>,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig { segment_bytes: 64 << 20, fault_hook: None }
    }
}

impl JournalConfig {
    /// Config with the given segment size.
    pub fn with_segment_bytes(segment_bytes: u64) -> Self {
        JournalConfig { segment_bytes, ..Default::default() }
    }

    /// Adds a fault hook.
    pub fn with_fault_hook(mut self, hook: FaultHook) -> Self {
        self.fault_hook = Some(hook);
        self
    }
}

/// A segment that recovery found corrupt and set aside (never truncated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuarantinedSegment {
    /// Segment file, left untouched; a `.quarantine` marker sits beside it.
    pub path: PathBuf,
    /// Offset of the first bad record.
    pub offset: u64,
    /// What is wrong with it.
    pub reason: InvalidReason,
    /// Last seq of the valid prefix before it.
    pub last_good_seq: u64,
    /// Highest seq among valid records after it (not delivered by readers).
    pub max_seq_after: u64,
}

/// What [`Journal::open`] found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Segment files found.
    pub segments: usize,
    /// Valid data records in the scanned (last) segment.
    pub records: u64,
    /// Last seq recovered (0 when the journal is empty).
    pub last_seq: u64,
    /// Persisted durable watermark.
    pub durable_seq: u64,
    /// Bytes of torn tail zeroed (in-progress, invalid or garbage bytes past the last record).
    pub torn_tail_bytes: u64,
    /// The last writer closed with [`Writer::seal`].
    pub clean_shutdown: bool,
    /// Segments set aside as corrupt.
    pub quarantined: Vec<QuarantinedSegment>,
}

/// Entry point: `Journal::open(dir, config)` recovers the directory and returns its [`Writer`].
#[derive(Debug)]
pub struct Journal;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    Halted(HaltReason),
}

/// The single writer of a journal directory.
///
/// Once a segment is mapped, [`Writer::append`] performs no allocation and no system call; only a
/// segment roll (every `segment_bytes`) and [`Writer::sync`] do I/O.
#[derive(Debug)]
pub struct Writer {
    dir: PathBuf,
    segment_bytes: u64,
    hook: Option<FaultHook>,
    seg: Segment,
    /// Next write offset in `seg`.
    off: usize,
    /// The current segment has its END_OF_DATA or is full: roll before the next record.
    ended: bool,
    next_seq: u64,
    /// Offset in `seg` up to which `msync` has run.
    synced_off: usize,
    /// Rolled segments not yet `msync`ed.
    unsynced: Vec<Segment>,
    watermark: Watermark,
    state: State,
    report: RecoveryReport,
    _lock: File,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> OpenError + '_ {
    move |source| OpenError::Io { path: path.to_path_buf(), source }
}

impl Journal {
    /// Opens (creating if needed) the journal in `dir` and recovers it:
    /// the last segment is scanned, a torn tail is zeroed, a corrupt segment is quarantined
    /// and writing continues in a fresh segment. See FORMAT.md "Recovery".
    pub fn open(dir: impl AsRef<Path>, config: JournalConfig) -> Result<Writer, OpenError> {
        let dir = dir.as_ref().to_path_buf();
        let sb = config.segment_bytes;
        if !sb.is_multiple_of(4096) || !((64 << 10)..(1 << 30)).contains(&sb) {
            return Err(OpenError::Config(
                "segment_bytes must be a multiple of 4096 in [64 KiB, 1 GiB)",
            ));
        }
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(OpenError::Locked(dir)),
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&lock_path)(e)),
        }
        // Leftovers of an interrupted segment creation.
        for entry in std::fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            if entry.file_name().to_str().is_some_and(|n| n.ends_with(".jseg.tmp")) {
                std::fs::remove_file(entry.path()).map_err(io_err(&entry.path()))?;
            }
        }
        let watermark = Watermark::open(&dir).map_err(io_err(&dir))?;
        let segments = segment::list_segments(&dir).map_err(io_err(&dir))?;
        let mut report = RecoveryReport {
            segments: segments.len(),
            durable_seq: watermark.durable_seq(),
            ..Default::default()
        };

        let Some(last) = segments.last() else {
            let seg = segment::create_segment(&dir, 1, 0, sb).map_err(OpenError::Segment)?;
            return Ok(Writer::new(
                dir,
                config,
                seg,
                SEGMENT_HEADER_LEN,
                false,
                1,
                watermark,
                report,
                lock,
            ));
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&last.path)
            .map_err(io_err(&last.path))?;
        let header = match segment::read_header(&file).map_err(io_err(&last.path))? {
            Ok(h) => h,
            Err(reason) => {
                return Err(OpenError::BadSegmentHeader { path: last.path.clone(), reason });
            }
        };
        // A truncated file is extended back to its size (the cut-off part reads as zeros).
        let len = file.metadata().map_err(io_err(&last.path))?.len();
        if len < header.segment_bytes {
            segment::preallocate(&file, header.segment_bytes).map_err(io_err(&last.path))?;
        }
        let map = crate::mmap::Mapping::map_rw(&file).map_err(io_err(&last.path))?;
        let scan = segment::scan(&map, &header, |_, _| {});
        report.records = scan.records;
        report.last_seq = scan.last_seq;
        report.clean_shutdown = scan.sealed && scan.end == ScanEnd::Clean;
        let seg = Segment { path: last.path.clone(), header, map, file };
        let (seg, off, ended, next_seq) = match scan.end {
            ScanEnd::Corrupt { reason, max_seq_after } => {
                let q = QuarantinedSegment {
                    path: seg.path.clone(),
                    offset: scan.end_off as u64,
                    reason,
                    last_good_seq: scan.last_seq,
                    max_seq_after,
                };
                let marker = segment::quarantine_marker(&q.path);
                std::fs::write(&marker, format!("{q:?}\n")).map_err(io_err(&marker))?;
                report.quarantined.push(q);
                let next = max_seq_after.max(scan.last_seq) + 1;
                let index = header.segment_index + 1;
                let fresh =
                    segment::create_segment(&dir, next, index, sb).map_err(OpenError::Segment)?;
                (fresh, SEGMENT_HEADER_LEN, false, next)
            }
            ScanEnd::Clean | ScanEnd::Torn(_) | ScanEnd::Full | ScanEnd::EndOfData => {
                let dirty = segment::dirty_end(&seg.map, scan.end_off);
                if dirty > scan.end_off {
                    seg.map.zero(scan.end_off, dirty - scan.end_off);
                    seg.map
                        .flush_range(scan.end_off, dirty - scan.end_off)
                        .map_err(io_err(&seg.path))?;
                    report.torn_tail_bytes = (dirty - scan.end_off) as u64;
                }
                let ended = matches!(scan.end, ScanEnd::EndOfData | ScanEnd::Full);
                (seg, scan.end_off, ended, scan.last_seq + 1)
            }
        };
        if report.quarantined.is_empty() && report.last_seq < report.durable_seq {
            return Err(OpenError::DurableRecordsLost {
                durable_seq: report.durable_seq,
                recovered_seq: report.last_seq,
            });
        }
        Ok(Writer::new(dir, config, seg, off, ended, next_seq, watermark, report, lock))
    }
}

impl Writer {
    #[allow(clippy::too_many_arguments)]
    fn new(
        dir: PathBuf,
        config: JournalConfig,
        seg: Segment,
        off: usize,
        ended: bool,
        next_seq: u64,
        watermark: Watermark,
        report: RecoveryReport,
        lock: File,
    ) -> Writer {
        Writer {
            dir,
            segment_bytes: config.segment_bytes,
            hook: config.fault_hook,
            synced_off: off,
            seg,
            off,
            ended,
            next_seq,
            unsynced: Vec::new(),
            watermark,
            state: State::Open,
            report,
            _lock: lock,
        }
    }

    /// What recovery found when this writer was opened.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Seq the next appended record gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Last committed seq (0 when none).
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// Last durable seq (as persisted in the watermark).
    pub fn durable_seq(&self) -> u64 {
        self.watermark.durable_seq()
    }

    /// The halt reason, if the writer is halted.
    pub fn halted(&self) -> Option<HaltReason> {
        match self.state {
            State::Open => None,
            State::Halted(r) => Some(r),
        }
    }

    /// Largest payload a record can carry with this segment size.
    pub fn max_payload(&self) -> usize {
        max_payload(self.segment_bytes)
    }

    #[inline]
    fn fault(&mut self, point: FaultPoint) -> Result<(), HaltReason> {
        if let Some(h) = &self.hook
            && (h.0)(point)
        {
            let r = HaltReason::FaultInjected(point);
            self.state = State::Halted(r);
            return Err(r);
        }
        Ok(())
    }

    fn halt(&mut self, r: HaltReason) -> HaltReason {
        self.state = State::Halted(r);
        r
    }

    /// Appends one record and commits it (visible to tailers, survives `kill -9`; not yet
    /// durable, see [`Writer::sync`]). Returns its seq; seqs are contiguous from 1.
    ///
    /// # Examples
    /// ```
    /// use crpbot_journal::{Journal, JournalConfig, RecordType};
    /// let dir = tempfile::tempdir()?;
    /// let mut w = Journal::open(dir.path(), JournalConfig::with_segment_bytes(1 << 20))?;
    /// assert_eq!(w.append(RecordType::SIGNAL, 1, 1_700_000_000_000_000_000, b"buy")?, 1);
    /// assert_eq!(w.sync()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn append(
        &mut self,
        record_type: u16,
        ver: u16,
        ts_ns: i64,
        payload: &[u8],
    ) -> Result<u64, AppendError> {
        if let State::Halted(r) = self.state {
            return Err(AppendError::Halted(r));
        }
        if record_type >= META_TYPE_MIN {
            return Err(AppendError::ReservedType(record_type));
        }
        let max = self.max_payload();
        if payload.len() > max {
            return Err(AppendError::PayloadTooLarge { len: payload.len(), max });
        }
        let need = align_up(RECORD_OVERHEAD + payload.len());
        if self.ended || self.off + need + SEGMENT_TAIL_RESERVE > self.seg.map.len() {
            self.roll().map_err(AppendError::Halted)?;
        }
        let seq = self.next_seq;
        let header = RecordHeader { record_type, ver, seq, ts_ns };
        let off = self.off;
        let salt = self.seg.header.salt;
        if self.hook.is_some() {
            self.fault(FaultPoint::BeforeAppend).map_err(AppendError::Halted)?;
            protocol::begin(&self.seg.map, off, payload.len(), false);
            self.fault(FaultPoint::AfterBegin).map_err(AppendError::Halted)?;
            protocol::write_body(&self.seg.map, off, &header, payload, salt);
            self.fault(FaultPoint::BeforeCommit).map_err(AppendError::Halted)?;
            protocol::commit(&self.seg.map, off, payload.len(), false);
        } else {
            protocol::publish(&self.seg.map, off, &header, payload, salt, false);
        }
        self.off = off + need;
        self.next_seq = seq + 1;
        Ok(seq)
    }

    /// Appends and makes the record durable ([`Writer::append`] then [`Writer::sync`]).
    pub fn append_durable(
        &mut self,
        record_type: u16,
        ver: u16,
        ts_ns: i64,
        payload: &[u8],
    ) -> Result<u64, AppendError> {
        let seq = self.append(record_type, ver, ts_ns, payload)?;
        self.sync().map_err(|SyncError::Halted(r)| AppendError::Halted(r))?;
        Ok(seq)
    }

    fn write_meta(&mut self, record_type: u16) {
        let header = RecordHeader { record_type, ver: 0, seq: self.next_seq - 1, ts_ns: 0 };
        let n =
            protocol::publish(&self.seg.map, self.off, &header, &[], self.seg.header.salt, true);
        self.off += n;
    }

    /// Ends the current segment with END_OF_DATA and starts the next one.
    fn roll(&mut self) -> Result<(), HaltReason> {
        let next_index = self.seg.header.segment_index + 1;
        let fresh =
            segment::create_segment(&self.dir, self.next_seq, next_index, self.segment_bytes)
                .map_err(|r| self.halt(r))?;
        // The sentinel is written only once the next segment exists, so a tailer that sees it
        // always finds the next file.
        if !self.ended && self.off + META_RECORD_LEN <= self.seg.map.len() {
            self.write_meta(META_END_OF_DATA);
        }
        let old = std::mem::replace(&mut self.seg, fresh);
        if self.synced_off < self.off || !self.unsynced.is_empty() {
            self.unsynced.push(old);
        }
        self.off = SEGMENT_HEADER_LEN;
        self.synced_off = SEGMENT_HEADER_LEN;
        self.ended = false;
        Ok(())
    }

    /// Makes every committed record durable: `msync` of the written ranges, then the durable
    /// watermark is persisted (`fdatasync`). Returns the durable seq. Any error halts the writer;
    /// the call is never retried internally.
    pub fn sync(&mut self) -> Result<u64, SyncError> {
        if let State::Halted(r) = self.state {
            return Err(SyncError::Halted(r));
        }
        self.fault(FaultPoint::BeforeMsync).map_err(SyncError::Halted)?;
        for seg in self.unsynced.drain(..) {
            if let Err(e) = seg.map.flush_range(0, seg.map.len()) {
                let r = HaltReason::io(IoOp::Msync, &e);
                self.state = State::Halted(r);
                return Err(SyncError::Halted(r));
            }
        }
        if self.off > self.synced_off {
            if let Err(e) = self.seg.map.flush_range(self.synced_off, self.off - self.synced_off) {
                return Err(SyncError::Halted(self.halt(HaltReason::io(IoOp::Msync, &e))));
            }
            self.synced_off = self.off;
        }
        self.fault(FaultPoint::AfterMsyncBeforeWatermark).map_err(SyncError::Halted)?;
        let last = self.next_seq - 1;
        if last > self.watermark.durable_seq()
            && let Err(e) = self.watermark.persist(last)
        {
            return Err(SyncError::Halted(self.halt(HaltReason::io(IoOp::Watermark, &e))));
        }
        self.fault(FaultPoint::AfterWatermark).map_err(SyncError::Halted)?;
        Ok(last)
    }

    /// Clean shutdown: writes a SEAL record and syncs. Returns the durable seq.
    pub fn seal(mut self) -> Result<u64, SyncError> {
        if let State::Halted(r) = self.state {
            return Err(SyncError::Halted(r));
        }
        if !self.ended && self.off + SEGMENT_TAIL_RESERVE <= self.seg.map.len() {
            self.write_meta(META_SEAL);
        }
        self.sync()
    }
}

/// Largest payload a record can carry in a segment of `segment_bytes`.
pub fn max_payload(segment_bytes: u64) -> usize {
    (segment_bytes as usize)
        .saturating_sub(SEGMENT_HEADER_LEN + SEGMENT_TAIL_RESERVE + RECORD_OVERHEAD + 7)
        .min(crate::format::LEN_MASK as usize - RECORD_OVERHEAD)
}
