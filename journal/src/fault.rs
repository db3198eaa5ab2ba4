//! Fault-injection seam for crash and error tests: a hook the writer consults at each step of the
//! append, roll and sync paths.
//!
//! * **Crash points** (J6, J7): returning `true` stops the writer right there, as if the process
//!   had died: nothing after that point is written and the writer stays halted
//!   ([`crate::HaltReason::FaultInjected`]).
//! * **Error points** (`*Error`, `NoSpace`; J8, J9): returning `true` makes that system call fail
//!   with `EIO` (`NoSpace`: the free-space check sees 0 bytes) *instead of running it*, so the
//!   writer's real error path runs: it halts with [`crate::HaltReason::Io`] /
//!   [`crate::HaltReason::InsufficientSpace`], exactly as for a real failure.

use std::sync::Arc;

/// A point in the writer where a crash can be injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FaultPoint {
    /// `append` called, nothing written yet ("before enqueue").
    BeforeAppend,
    /// In-progress `len_flags` stored, body not written ("after enqueue, before write").
    AfterBegin,
    /// Body and CRC written, final `len_flags` not yet stored.
    BeforeCommit,
    /// `sync` called: records committed to the page cache, `msync` not started.
    BeforeMsync,
    /// `msync` returned, durable watermark not yet written.
    AfterMsyncBeforeWatermark,
    /// Watermark written and `fdatasync`ed.
    AfterWatermark,
    /// Roll: the next segment exists under its final name, END_OF_DATA not yet written in the
    /// current one ("crash during roll with the end marker missing", J7).
    RollBeforeEndOfData,
    /// Error point: `msync` of the active segment or `fdatasync` of a rolled one in
    /// [`crate::Writer::sync`].
    MsyncError,
    /// Error point: the durable-watermark `pwrite` + `fdatasync`.
    WatermarkError,
    /// Error point: making a new segment file durable before it gets its name (`fsync` of a
    /// created file or `msync` of a spare's header).
    SegmentSyncError,
    /// Error point: the directory `fsync` that makes a new segment's name durable, on the
    /// writer or on its background thread (run once per segment by whichever gets there first).
    DirSyncError,
    /// Error point: the free-space check before a roll sees 0 bytes available.
    NoSpace,
}

/// The hook: called with each point reached; `true` means crash here.
#[derive(Clone)]
pub struct FaultHook(pub Arc<dyn Fn(FaultPoint) -> bool + Send + Sync>);

impl FaultHook {
    /// Wraps a closure.
    pub fn new(f: impl Fn(FaultPoint) -> bool + Send + Sync + 'static) -> FaultHook {
        FaultHook(Arc::new(f))
    }

    /// Crash at the `n`-th time (0-based) `point` is reached.
    pub fn at_nth(point: FaultPoint, n: u64) -> FaultHook {
        let count = std::sync::atomic::AtomicU64::new(0);
        FaultHook::new(move |p| {
            p == point && count.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == n
        })
    }
}

/// Runs `call` unless `hook` injects an error at `point` (then `EIO`, call not made).
pub(crate) fn io<T>(
    hook: Option<&FaultHook>,
    point: FaultPoint,
    call: impl FnOnce() -> std::io::Result<T>,
) -> std::io::Result<T> {
    if let Some(h) = hook
        && (h.0)(point)
    {
        return Err(std::io::Error::from_raw_os_error(EIO));
    }
    call()
}

/// True when `hook` fires at `point`.
pub(crate) fn fires(hook: Option<&FaultHook>, point: FaultPoint) -> bool {
    hook.is_some_and(|h| (h.0)(point))
}

/// `EIO` on Linux.
pub(crate) const EIO: i32 = 5;

impl std::fmt::Debug for FaultHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaultHook(..)")
    }
}
