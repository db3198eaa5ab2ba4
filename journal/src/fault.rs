//! Fault-injection seam for crash tests (J6): a hook the writer consults at each step of the
//! append and sync paths. Returning `true` stops the writer right there, as if the process had
//! died: nothing after that point is written and the writer stays halted.

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

impl std::fmt::Debug for FaultHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaultHook(..)")
    }
}
