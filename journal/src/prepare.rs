//! The writer's background thread: keeps the pages ahead of the write cursor pre-faulted,
//! prepares the next segment file before it is needed, makes a new segment's name durable
//! (directory `fsync`) and releases old mappings, so that none of this runs inside
//! [`crate::Writer::append`].
//!
//! The writer publishes its position in one relaxed atomic store per append and talks to the
//! thread through channels only at a roll or a sync. The thread never writes a byte the writer
//! or a reader can see: pre-faulting is `madvise(MADV_POPULATE_WRITE)`, which leaves contents
//! alone, and a spare segment is a private `*.jseg.tmp` file until the writer installs it.
//! Everything it does is an optimisation with a fallback on the writer's thread, except the
//! directory `fsync`, whose failure halts the writer (never retried).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::{HaltReason, IoOp};
use crate::fault::{self, FaultHook, FaultPoint};
use crate::mmap::{Mapping, Populator};
use crate::segment::{self, Spare};

/// Pages are pre-faulted in chunks of this size.
const CHUNK: usize = 256 << 10;
/// How often the idle thread looks at the writer's position.
const POLL: Duration = Duration::from_millis(2);

/// Counters of the background thread (monotonic since [`crate::Journal::open`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackgroundStats {
    /// Bytes pre-faulted (`MADV_POPULATE_WRITE`) in active and spare segments.
    pub prefaulted_bytes: u64,
    /// Pre-fault calls that failed (the writer then takes the page faults itself).
    pub prefault_errors: u64,
    /// Spare segment files prepared and handed to the writer (counted once ready to take).
    pub spares_prepared: u64,
    /// Spare preparations that failed (the roll then creates the segment itself).
    pub spare_errors: u64,
    /// Rolls that installed a prepared spare.
    pub rolls_with_spare: u64,
    /// Rolls that created the segment on the writer's thread (no spare was ready).
    pub rolls_without_spare: u64,
}

/// The writer's position, alone on its cache line: `(segment_index mod 2^32) << 32 | offset`.
#[repr(align(64))]
#[derive(Debug, Default)]
struct Cursor(AtomicU64);

#[derive(Debug, Default)]
struct DirState {
    /// Highest segment index whose directory entry has been `fsync`ed.
    synced_through: Option<u64>,
    /// A directory `fsync` failed: the writer halts with this reason; none is run again.
    error: Option<HaltReason>,
}

#[derive(Debug, Default)]
struct Shared {
    cursor: Cursor,
    dir: Mutex<DirState>,
    prefaulted_bytes: AtomicU64,
    prefault_errors: AtomicU64,
    spares_prepared: AtomicU64,
    spare_errors: AtomicU64,
}

enum Cmd {
    /// A new active segment (after open or a roll).
    Active { index: u64, populator: Populator, took_spare: bool },
    /// Unmap off the writer's thread.
    Release(Mapping),
    /// Segment `index` got its final name: `fsync` the directory.
    SyncDir(u64),
}

/// Cursor tag of a segment index.
#[inline]
pub(crate) fn cursor_tag(index: u64) -> u64 {
    (index & 0xFFFF_FFFF) << 32
}

/// Handle to the background thread, owned by the writer.
#[derive(Debug)]
pub(crate) struct Preparer {
    shared: Arc<Shared>,
    tx: Option<Sender<Cmd>>,
    spares: Receiver<Spare>,
    thread: Option<JoinHandle<()>>,
    rolls_with_spare: u64,
    rolls_without_spare: u64,
}

impl std::fmt::Debug for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cmd::Active { index, .. } => write!(f, "Active({index})"),
            Cmd::Release(_) => f.write_str("Release"),
            Cmd::SyncDir(i) => write!(f, "SyncDir({i})"),
        }
    }
}

impl Preparer {
    /// Starts the thread for the journal in `dir`, whose active segment is `index`.
    pub(crate) fn start(
        dir: PathBuf,
        segment_bytes: u64,
        ahead: usize,
        hook: Option<FaultHook>,
        index: u64,
        populator: Populator,
    ) -> std::io::Result<Preparer> {
        let shared = Arc::new(Shared::default());
        let (tx, rx) = mpsc::channel();
        let (spare_tx, spares) = mpsc::sync_channel(1);
        let mut worker = Worker {
            dir,
            segment_bytes,
            ahead: ahead.min(segment_bytes as usize),
            hook,
            shared: Arc::clone(&shared),
            rx,
            spare_tx,
            active: None,
            actives_seen: 0,
            spare_out: false,
            spare_failed_at: None,
            next_spare_id: 0,
        };
        worker.activate(index, populator, false);
        let thread = std::thread::Builder::new()
            .name("crpbot-journal-prep".into())
            .spawn(move || worker.run())?;
        Ok(Preparer {
            shared,
            tx: Some(tx),
            spares,
            thread: Some(thread),
            rolls_with_spare: 0,
            rolls_without_spare: 0,
        })
    }

    /// Publishes the writer's position (one relaxed store).
    #[inline]
    pub(crate) fn set_cursor(&self, tagged: u64) {
        self.shared.cursor.0.store(tagged, Ordering::Relaxed);
    }

    /// A prepared spare segment, if one is ready.
    pub(crate) fn take_spare(&mut self) -> Option<Spare> {
        let s = self.spares.try_recv().ok();
        if s.is_some() {
            self.rolls_with_spare += 1;
        } else {
            self.rolls_without_spare += 1;
        }
        s
    }

    fn send(&self, cmd: Cmd) -> Result<(), Cmd> {
        match &self.tx {
            Some(tx) => tx.send(cmd).map_err(|e| e.0),
            None => Err(cmd),
        }
    }

    /// Tells the thread about the new active segment.
    pub(crate) fn activate(&self, index: u64, populator: Populator, took_spare: bool) {
        self.set_cursor(cursor_tag(index));
        // A dead thread only means no more pre-faulting.
        let _ = self.send(Cmd::Active { index, populator, took_spare });
    }

    /// Unmaps `map` on the thread (dropped here if the thread is gone).
    pub(crate) fn release(&self, map: Mapping) {
        if let Err(cmd) = self.send(Cmd::Release(map)) {
            drop(cmd);
        }
    }

    /// Asks for a directory `fsync` for segment `index`. `false` if the thread is gone (the
    /// writer then does it itself when it needs it).
    pub(crate) fn request_dir_sync(&self, index: u64) -> bool {
        self.send(Cmd::SyncDir(index)).is_ok()
    }

    /// Makes segment `index`'s name durable exactly once: returns at once if the thread did
    /// it, waits if the thread is doing it right now, runs the directory `fsync` here otherwise.
    /// A failure (here or on the thread) is reported every time and never retried.
    pub(crate) fn ensure_dir_synced(
        &self,
        dir: &std::path::Path,
        index: u64,
        hook: Option<&FaultHook>,
    ) -> Result<(), HaltReason> {
        dir_sync_once(&self.shared, dir, index, hook)
    }

    /// Counters.
    pub(crate) fn stats(&self) -> BackgroundStats {
        let s = &self.shared;
        BackgroundStats {
            prefaulted_bytes: s.prefaulted_bytes.load(Ordering::Relaxed),
            prefault_errors: s.prefault_errors.load(Ordering::Relaxed),
            spares_prepared: s.spares_prepared.load(Ordering::Relaxed),
            spare_errors: s.spare_errors.load(Ordering::Relaxed),
            rolls_with_spare: self.rolls_with_spare,
            rolls_without_spare: self.rolls_without_spare,
        }
    }
}

impl Drop for Preparer {
    /// Stops and joins the thread, then deletes a spare nobody took.
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        while let Ok(spare) = self.spares.try_recv() {
            spare.discard();
        }
    }
}

struct ActiveSegment {
    index: u64,
    populator: Populator,
    /// Pre-faulted up to here.
    populated: usize,
}

struct Worker {
    dir: PathBuf,
    segment_bytes: u64,
    ahead: usize,
    hook: Option<FaultHook>,
    shared: Arc<Shared>,
    rx: Receiver<Cmd>,
    spare_tx: SyncSender<Spare>,
    active: Option<ActiveSegment>,
    /// Active segments seen; after the first roll a spare is kept ready at all times.
    actives_seen: u64,
    /// A spare is in the channel, not yet taken by the writer.
    spare_out: bool,
    /// Spare preparation failed while this segment was active: do not retry until a roll.
    spare_failed_at: Option<u64>,
    next_spare_id: u64,
}

impl Worker {
    fn run(mut self) {
        loop {
            match self.rx.try_recv() {
                Ok(cmd) => {
                    self.handle(cmd);
                    continue;
                }
                Err(TryRecvError::Disconnected) => return,
                Err(TryRecvError::Empty) => {}
            }
            if self.step() {
                continue;
            }
            match self.rx.recv_timeout(POLL) {
                Ok(cmd) => self.handle(cmd),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn activate(&mut self, index: u64, populator: Populator, took_spare: bool) {
        self.active = Some(ActiveSegment { index, populator, populated: 0 });
        self.actives_seen += 1;
        if took_spare {
            self.spare_out = false;
        }
    }

    fn handle(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Active { index, populator, took_spare } => {
                self.activate(index, populator, took_spare)
            }
            Cmd::Release(map) => drop(map),
            Cmd::SyncDir(index) => {
                // A failure is kept for the writer, which halts on it.
                let _ = dir_sync_once(&self.shared, &self.dir, index, self.hook.as_ref());
            }
        }
    }

    /// One unit of work; `false` when there is nothing to do.
    fn step(&mut self) -> bool {
        let Some(a) = self.active.as_mut() else { return false };
        let cursor = self.shared.cursor.0.load(Ordering::Relaxed);
        if cursor & !0xFFFF_FFFF != cursor_tag(a.index) {
            return false; // the writer has moved on; the Active command is on its way
        }
        let off = (cursor & 0xFFFF_FFFF) as usize;
        let len = a.populator.len();
        // Never behind the writer: pages it already touched need nothing.
        a.populated = a.populated.max(off & !4095);
        let target = off.saturating_add(self.ahead).min(len);
        if a.populated < target {
            let end = (a.populated + CHUNK).min(len);
            if !populate(&self.shared, &a.populator, a.populated, end - a.populated) {
                // Unsupported (kernel < 5.14) or failing: stop trying; the writer faults pages in.
                self.ahead = 0;
            }
            a.populated = end;
            return true;
        }
        let wanted = self.actives_seen > 1 || off >= len / 2;
        if wanted && !self.spare_out && self.spare_failed_at != Some(a.index) {
            let index = a.index;
            self.next_spare_id += 1;
            match segment::create_spare(
                &self.dir,
                self.next_spare_id,
                self.segment_bytes,
                self.hook.as_ref(),
            ) {
                Ok(spare) => {
                    let p = spare.map().populator();
                    populate(&self.shared, &p, 0, self.ahead);
                    match self.spare_tx.try_send(spare) {
                        Ok(()) => {
                            self.spare_out = true;
                            self.shared.spares_prepared.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            let spare = match e {
                                mpsc::TrySendError::Full(s)
                                | mpsc::TrySendError::Disconnected(s) => s,
                            };
                            spare.discard();
                        }
                    }
                }
                Err(_) => {
                    // The roll re-checks space itself and halts if it is really short.
                    self.shared.spare_errors.fetch_add(1, Ordering::Relaxed);
                    self.spare_failed_at = Some(index);
                }
            }
            return true;
        }
        false
    }
}

/// The directory `fsync` for segment `index`, run under the state lock so that the writer and
/// the thread never both run it, and never again after a failure.
fn dir_sync_once(
    shared: &Shared,
    dir: &std::path::Path,
    index: u64,
    hook: Option<&FaultHook>,
) -> Result<(), HaltReason> {
    let mut st = shared.dir.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(e) = st.error {
        return Err(e);
    }
    if st.synced_through.is_some_and(|i| i >= index) {
        return Ok(());
    }
    match fault::io(hook, FaultPoint::DirSyncError, || segment::sync_dir(dir)) {
        Ok(()) => {
            st.synced_through = Some(index);
            Ok(())
        }
        Err(e) => Err(*st.error.insert(HaltReason::io(IoOp::SyncDir, &e))),
    }
}

fn populate(shared: &Shared, p: &Populator, off: usize, len: usize) -> bool {
    if len == 0 {
        return true;
    }
    match p.populate_write(off, len) {
        Ok(()) => {
            shared.prefaulted_bytes.fetch_add(len as u64, Ordering::Relaxed);
            true
        }
        Err(_) => {
            shared.prefault_errors.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}
