//! The single writer: append, roll, sync, seal. Opening and recovery live in `open.rs`.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{AppendError, HaltReason, IoOp, SyncError};
use crate::fault::{self, FaultHook, FaultPoint};
use crate::format::{
    META_END_OF_DATA, META_RECORD_LEN, META_SEAL, META_TYPE_MIN, RECORD_OVERHEAD, RecordHeader,
    SEGMENT_HEADER_LEN, SEGMENT_TAIL_RESERVE, align_up,
};
use crate::mmap::Mapping;
use crate::open::{JournalConfig, RecoveryReport};
use crate::prepare::{BackgroundStats, Preparer, cursor_tag};
use crate::protocol;
use crate::segment::{self, Segment};
use crate::watermark::Watermark;

/// Rolled segments whose written range is kept mapped until the next sync; beyond this many the
/// oldest mapping is released and its file is `fdatasync`ed instead.
const MAX_UNSYNCED_MAPPINGS: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    Halted(HaltReason),
}

/// Where recovery left the writer in its segment.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Position {
    /// Next write offset.
    pub(crate) off: usize,
    /// The segment is finished (END_OF_DATA or full): roll before the next record.
    pub(crate) ended: bool,
    /// Seq of the next record.
    pub(crate) next_seq: u64,
}

/// A rolled segment with committed bytes that no `msync` has covered yet.
#[derive(Debug)]
enum Unsynced {
    /// Still mapped: `msync` of `from..to`.
    Mapped { map: Mapping, path: PathBuf, from: usize, to: usize },
    /// Mapping and descriptor released: `fdatasync` of the whole file, reopened by path.
    Path(PathBuf),
}

/// The single writer of a journal directory.
///
/// [`Writer::append`] performs no allocation and no system call once the current segment is
/// mapped: it writes the record into the shared mapping and publishes it with a release store
/// (FORMAT.md §4). With [`JournalConfig::prefault_bytes`] non-zero (the default), a background
/// thread keeps the pages ahead of the cursor mapped writable and prepares the next segment
/// file, so an append does not page-fault either and a roll costs one header `msync` and a
/// `rename`. Only a roll (every `segment_bytes`) and [`Writer::sync`] do I/O on the caller's
/// thread.
#[derive(Debug)]
pub struct Writer {
    // Hot fields first.
    state: State,
    seg: Segment,
    /// Next write offset in `seg`.
    off: usize,
    /// `seg.map.len()`, cached.
    seg_len: usize,
    /// The current segment has its END_OF_DATA or is full: roll before the next record.
    ended: bool,
    next_seq: u64,
    max_payload: usize,
    hook: Option<FaultHook>,
    preparer: Option<Preparer>,
    /// [`cursor_tag`] of the current segment.
    cursor_tag: u64,
    // Cold fields.
    dir: PathBuf,
    segment_bytes: u64,
    /// Offset in `seg` up to which `msync` has run.
    synced_off: usize,
    /// Rolled segments not yet synced.
    unsynced: Vec<Unsynced>,
    /// Index of the newest segment whose name is not yet known durable (directory `fsync`).
    dir_pending: Option<u64>,
    watermark: Watermark,
    report: RecoveryReport,
    _lock: File,
}

impl Writer {
    pub(crate) fn new(
        dir: PathBuf,
        config: JournalConfig,
        seg: Segment,
        at: Position,
        watermark: Watermark,
        report: RecoveryReport,
        lock: File,
    ) -> Writer {
        let index = seg.header.segment_index;
        let preparer = if config.prefault_bytes > 0 {
            // Without the thread everything still works, on the writer's thread.
            Preparer::start(
                dir.clone(),
                config.segment_bytes,
                config.prefault_bytes,
                config.fault_hook.clone(),
                index,
                seg.map.populator(),
            )
            .ok()
        } else {
            None
        };
        let w = Writer {
            state: State::Open,
            seg_len: seg.map.len(),
            seg,
            off: at.off,
            ended: at.ended,
            next_seq: at.next_seq,
            max_payload: max_payload(config.segment_bytes),
            hook: config.fault_hook,
            preparer,
            cursor_tag: cursor_tag(index),
            dir,
            segment_bytes: config.segment_bytes,
            synced_off: at.off,
            unsynced: Vec::with_capacity(MAX_UNSYNCED_MAPPINGS + 1),
            dir_pending: None,
            watermark,
            report,
            _lock: lock,
        };
        w.publish_cursor();
        w
    }

    /// What recovery found and did when this writer was opened.
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
        self.max_payload
    }

    /// Counters of the background thread (all zero when it is disabled).
    pub fn background_stats(&self) -> BackgroundStats {
        self.preparer.as_ref().map(Preparer::stats).unwrap_or_default()
    }

    /// Crash point: `true` from the hook halts the writer here.
    #[inline]
    fn fault(&mut self, point: FaultPoint) -> Result<(), HaltReason> {
        if fault::fires(self.hook.as_ref(), point) {
            return Err(self.halt(HaltReason::FaultInjected(point)));
        }
        Ok(())
    }

    fn halt(&mut self, r: HaltReason) -> HaltReason {
        self.state = State::Halted(r);
        r
    }

    #[inline]
    fn publish_cursor(&self) {
        if let Some(p) = &self.preparer {
            p.set_cursor(self.cursor_tag | self.off as u64);
        }
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
        if payload.len() > self.max_payload {
            return Err(AppendError::PayloadTooLarge { len: payload.len(), max: self.max_payload });
        }
        let need = align_up(RECORD_OVERHEAD + payload.len());
        if self.ended || self.off + need + SEGMENT_TAIL_RESERVE > self.seg_len {
            self.roll_segment().map_err(AppendError::Halted)?;
        }
        let seq = self.next_seq;
        let header = RecordHeader { record_type, ver, seq, ts_ns };
        let off = self.off;
        if self.hook.is_some() {
            self.append_with_hook(off, &header, payload)?;
        } else {
            protocol::publish(&self.seg.map, off, &header, payload, self.seg.salt, false);
        }
        self.off = off + need;
        self.next_seq = seq + 1;
        self.publish_cursor();
        Ok(seq)
    }

    #[cold]
    fn append_with_hook(
        &mut self,
        off: usize,
        header: &RecordHeader,
        payload: &[u8],
    ) -> Result<(), AppendError> {
        self.fault(FaultPoint::BeforeAppend).map_err(AppendError::Halted)?;
        protocol::begin(&self.seg.map, off, payload.len(), false);
        self.fault(FaultPoint::AfterBegin).map_err(AppendError::Halted)?;
        protocol::write_body(&self.seg.map, off, header, payload, self.seg.salt);
        self.fault(FaultPoint::BeforeCommit).map_err(AppendError::Halted)?;
        protocol::commit(&self.seg.map, off, payload.len(), false);
        Ok(())
    }

    /// Appends and makes the record durable ([`Writer::append`] then [`Writer::sync`]): use it
    /// for risk-critical records (order sent, fill, limit breach, kill switch) before the next
    /// order leaves. Costs one `msync` of the pages written since the last sync plus one
    /// watermark `pwrite` + `fdatasync` (see the crate's benches for figures).
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
        let n = protocol::publish(&self.seg.map, self.off, &header, &[], self.seg.salt, true);
        self.off += n;
    }

    /// Ends the current segment now (END_OF_DATA) and starts the next one, e.g. at a session
    /// or day boundary; appends do this by themselves when a segment is full. A segment that
    /// holds no data record yet is kept (the next one would have the same base seq, hence the
    /// same name). A failure halts the writer.
    pub fn roll(&mut self) -> Result<(), AppendError> {
        if let State::Halted(r) = self.state {
            return Err(AppendError::Halted(r));
        }
        if self.seg.header.base_seq == self.next_seq && !self.ended {
            return Ok(());
        }
        self.roll_segment().map_err(AppendError::Halted)
    }

    /// The name of segment `dir_pending` is durable, or the writer halts. If the background
    /// thread has not run the directory `fsync` yet, it runs here (once: whichever of the two
    /// gets there first; a failure is never retried by the other).
    fn ensure_dir_durable(&mut self) -> Result<(), HaltReason> {
        let Some(index) = self.dir_pending else { return Ok(()) };
        let hook = self.hook.as_ref();
        let r = match &self.preparer {
            Some(p) => p.ensure_dir_synced(&self.dir, index, hook),
            None => fault::io(hook, FaultPoint::DirSyncError, || segment::sync_dir(&self.dir))
                .map_err(|e| HaltReason::io(IoOp::SyncDir, &e)),
        };
        r.map_err(|r| self.halt(r))?;
        self.dir_pending = None;
        Ok(())
    }

    /// Ends the current segment with END_OF_DATA and starts the next one.
    #[cold]
    fn roll_segment(&mut self) -> Result<(), HaltReason> {
        // The current segment's name is durable before a later segment exists, so a power loss
        // never leaves a later segment without this one.
        self.ensure_dir_durable()?;
        let next_index = self.seg.header.segment_index + 1;
        let base = self.next_seq;
        let sb = self.segment_bytes;
        let spare = self.preparer.as_mut().and_then(Preparer::take_spare);
        let took_spare = spare.is_some();
        let fresh = match spare {
            Some(spare) => {
                match segment::install_spare(
                    &self.dir,
                    spare,
                    base,
                    next_index,
                    sb,
                    self.hook.as_ref(),
                ) {
                    Ok(seg) => {
                        self.dir_pending = Some(next_index);
                        let queued =
                            self.preparer.as_ref().is_some_and(|p| p.request_dir_sync(next_index));
                        if !queued {
                            self.ensure_dir_durable()?;
                        }
                        seg
                    }
                    Err((r, spare)) => {
                        spare.discard();
                        return Err(self.halt(r));
                    }
                }
            }
            None => {
                segment::create_segment_with(&self.dir, base, next_index, sb, self.hook.as_ref())
                    .map_err(|r| self.halt(r))?
            }
        };
        self.fault(FaultPoint::RollBeforeEndOfData)?;
        // The sentinel is written only once the next segment exists, so a tailer that sees it
        // always finds the next file.
        if !self.ended && self.off + META_RECORD_LEN <= self.seg_len {
            self.write_meta(META_END_OF_DATA);
        }
        let old = std::mem::replace(&mut self.seg, fresh);
        self.retire(old);
        self.off = SEGMENT_HEADER_LEN;
        self.synced_off = SEGMENT_HEADER_LEN;
        self.seg_len = self.seg.map.len();
        self.ended = false;
        self.cursor_tag = cursor_tag(next_index);
        if let Some(p) = &self.preparer {
            p.activate(next_index, self.seg.map.populator(), took_spare);
        }
        Ok(())
    }

    /// Keeps what the next sync needs of a rolled segment and releases the rest.
    fn retire(&mut self, old: Segment) {
        let Segment { path, map, file, .. } = old;
        drop(file); // msync goes through the mapping; a released one is synced by path
        if self.synced_off >= self.off {
            self.release(map);
            return;
        }
        let mapped = self.unsynced.iter().filter(|u| matches!(u, Unsynced::Mapped { .. }));
        if mapped.count() >= MAX_UNSYNCED_MAPPINGS
            && let Some(i) = self.unsynced.iter().position(|u| matches!(u, Unsynced::Mapped { .. }))
            && let Unsynced::Mapped { map: oldest, path: oldest_path, .. } =
                std::mem::replace(&mut self.unsynced[i], Unsynced::Path(PathBuf::new()))
        {
            // A writer that does not sync would otherwise keep every rolled segment mapped: the
            // oldest mapping is released; its file will be fdatasync'ed by path.
            self.unsynced[i] = Unsynced::Path(oldest_path);
            self.release(oldest);
        }
        let (from, to) = (self.synced_off, self.off);
        self.unsynced.push(Unsynced::Mapped { map, path, from, to });
    }

    fn release(&self, map: Mapping) {
        match &self.preparer {
            Some(p) => p.release(map),
            None => drop(map),
        }
    }

    /// Makes every committed record durable: `msync` of the byte ranges written since the last
    /// sync (rolled segments, then the active one from the last synced offset), then the durable
    /// watermark is persisted (`pwrite` + `fdatasync`). Returns the durable seq. Any error halts
    /// the writer (see [`Writer::halted`]); nothing is retried, here or later.
    pub fn sync(&mut self) -> Result<u64, SyncError> {
        if let State::Halted(r) = self.state {
            return Err(SyncError::Halted(r));
        }
        self.fault(FaultPoint::BeforeMsync).map_err(SyncError::Halted)?;
        let mut rolled = std::mem::take(&mut self.unsynced);
        for u in rolled.drain(..) {
            let hook = self.hook.as_ref();
            let r = match &u {
                Unsynced::Mapped { map, from, to, .. } => {
                    fault::io(hook, FaultPoint::MsyncError, || map.flush_range(*from, to - from))
                        .map_err(|e| HaltReason::io(IoOp::Msync, &e))
                }
                Unsynced::Path(p) => {
                    fault::io(hook, FaultPoint::MsyncError, || File::open(p)?.sync_data())
                        .map_err(|e| HaltReason::io(IoOp::Fdatasync, &e))
                }
            };
            if let Err(r) = r {
                return Err(SyncError::Halted(self.halt(r)));
            }
            if let Unsynced::Mapped { map, .. } = u {
                self.release(map);
            }
        }
        self.unsynced = rolled;
        if self.off > self.synced_off {
            let (from, len) = (self.synced_off, self.off - self.synced_off);
            let map = &self.seg.map;
            if let Err(e) =
                fault::io(self.hook.as_ref(), FaultPoint::MsyncError, || map.flush_range(from, len))
            {
                return Err(SyncError::Halted(self.halt(HaltReason::io(IoOp::Msync, &e))));
            }
            self.synced_off = self.off;
        }
        self.fault(FaultPoint::AfterMsyncBeforeWatermark).map_err(SyncError::Halted)?;
        let last = self.next_seq - 1;
        if last > self.watermark.durable_seq() {
            // Records of a segment count as durable only once its name is.
            self.ensure_dir_durable().map_err(SyncError::Halted)?;
            let wm = &mut self.watermark;
            if let Err(e) =
                fault::io(self.hook.as_ref(), FaultPoint::WatermarkError, || wm.persist(last))
            {
                return Err(SyncError::Halted(self.halt(HaltReason::io(IoOp::Watermark, &e))));
            }
        }
        self.fault(FaultPoint::AfterWatermark).map_err(SyncError::Halted)?;
        Ok(last)
    }

    /// Makes every record up to `seq` durable: returns at once, without a system call, when the
    /// watermark already covers `seq`; otherwise [`Writer::sync`] (which covers every committed
    /// record, so a group of records appended together costs one sync). The trading loop calls
    /// it with the seq of its last risk-critical record before an order leaves.
    ///
    /// # Examples
    /// ```
    /// use crpbot_journal::{Journal, JournalConfig, RecordType};
    /// let dir = tempfile::tempdir()?;
    /// let mut w = Journal::open(dir.path(), JournalConfig::with_segment_bytes(1 << 20))?;
    /// let fill = w.append(RecordType::FILL, 1, 0, b"fill")?;
    /// let _tick = w.append(RecordType::MARKET_EVENT, 1, 0, b"tick")?;
    /// assert_eq!(w.sync_to(fill)?, 2); // one msync covers both
    /// assert_eq!(w.sync_to(fill)?, 2); // already durable: no system call
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sync_to(&mut self, seq: u64) -> Result<u64, SyncError> {
        if let State::Halted(r) = self.state {
            return Err(SyncError::Halted(r));
        }
        let durable = self.watermark.durable_seq();
        if seq <= durable {
            return Ok(durable);
        }
        self.sync()
    }

    /// Clean shutdown: writes a SEAL record and syncs. Returns the durable seq.
    pub fn seal(mut self) -> Result<u64, SyncError> {
        if let State::Halted(r) = self.state {
            return Err(SyncError::Halted(r));
        }
        if !self.ended && self.off + SEGMENT_TAIL_RESERVE <= self.seg_len {
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
