//! The atomics and thread primitives the pipeline's own protocols use, switched to `loom`'s
//! model-checked versions under `--cfg loom` (see the module docs of [`crate::pipeline`]).

#[cfg(not(loom))]
pub(crate) use std::sync::Arc;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU8, Ordering, fence};
#[cfg(not(loom))]
pub(crate) use std::thread::{Thread, park_timeout};

#[cfg(loom)]
pub(crate) use loom::sync::Arc;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU8, Ordering, fence};
#[cfg(loom)]
pub(crate) use loom::thread::Thread;

/// Loom has no timed park; the model parks without a timeout, so a lost wake-up shows up as a
/// deadlock the model checker reports instead of as a delay.
#[cfg(loom)]
pub(crate) fn park_timeout(_timeout: std::time::Duration) {
    loom::thread::park();
}
