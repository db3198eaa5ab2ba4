//! [`Journal::open`]: configuration, locking and recovery (FORMAT.md §6).

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use crate::error::OpenError;
use crate::fault::FaultHook;
use crate::format::SEGMENT_HEADER_LEN;
use crate::protocol::InvalidReason;
use crate::segment::{self, ScanEnd, Segment};
use crate::watermark::Watermark;
use crate::writer::{Position, Writer};

/// Name of the lock file that keeps a second writer out.
pub const LOCK_FILE: &str = "LOCK";

/// Default of [`JournalConfig::prefault_bytes`]: 16 MiB.
pub const DEFAULT_PREFAULT_BYTES: usize = 16 << 20;

/// Journal configuration.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct JournalConfig {
    /// Size of each segment file in bytes (multiple of 4096, at least 64 KiB, below 1 GiB).
    pub segment_bytes: u64,
    /// Crash- and error-injection seam for tests; `None` in production.
    pub fault_hook: Option<FaultHook>,
    /// How far ahead of the write cursor the writer's background thread keeps pages mapped
    /// writable (clamped to the segment size). Non-zero also lets that thread prepare the next
    /// segment file, make a new segment's name durable and release old mappings, so that
    /// [`Writer::append`] neither page-faults nor waits on a file creation at a roll.
    /// `0` runs no thread: the writer faults pages in itself and creates each segment at the
    /// roll (two `fsync`s on the appending thread).
    pub prefault_bytes: usize,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            segment_bytes: 64 << 20,
            fault_hook: None,
            prefault_bytes: DEFAULT_PREFAULT_BYTES,
        }
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

    /// Sets [`JournalConfig::prefault_bytes`] (`0`: no background thread).
    pub fn with_prefault_bytes(mut self, bytes: usize) -> Self {
        self.prefault_bytes = bytes;
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
            let at = Position { off: SEGMENT_HEADER_LEN, ended: false, next_seq: 1 };
            return Ok(Writer::new(dir, config, seg, at, watermark, report, lock));
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
        let seg = Segment::new(last.path.clone(), header, map, file);
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
        let at = Position { off, ended, next_seq };
        Ok(Writer::new(dir, config, seg, at, watermark, report, lock))
    }
}
