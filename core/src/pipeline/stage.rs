//! What a stage is: a [`Source`] that produces items when polled, or a [`Stage`] that turns
//! each input item into zero or more output items, emitting them into an [`Emit`].
//!
//! A stage never knows its topology. Its emitter is either the next stage itself (fused: a
//! direct, inlined call) or a ring [`Producer`](super::Producer) (split). The same stage
//! object runs in either.

use super::ring::Full;

/// What a poll achieved, so the thread knows whether to wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Progress {
    /// Nothing to do right now.
    Idle,
    /// Did some work; poll again soon.
    Busy,
    /// A source with nothing more to produce (a replay reached its end). The group drains and
    /// returns.
    Finished,
}

impl Progress {
    /// `Busy` if either did work, `Finished` if `self` is, else `Idle`.
    #[inline]
    #[must_use]
    pub fn and(self, other: Progress) -> Progress {
        match (self, other) {
            (Progress::Finished, _) => Progress::Finished,
            (Progress::Busy, _) | (_, Progress::Busy) => Progress::Busy,
            _ => Progress::Idle,
        }
    }
}

/// Where a stage puts its output.
///
/// `emit` returns [`Full`] only when a ring edge hands the item back (see
/// [`Producer::push`](super::Producer::push)); the event is already counted, and on a decision
/// edge the halt is already latched. The stage decides what to do with the value.
pub trait Emit<T> {
    /// Passes one item downstream.
    fn emit(&mut self, item: T) -> Result<(), Full<T>>;
}

impl<T: Copy + Send> Emit<T> for super::ring::Producer<T> {
    #[inline]
    fn emit(&mut self, item: T) -> Result<(), Full<T>> {
        self.push(item)
    }
}

/// A plain vector collects emitted items (tests, tools; allocates as it grows).
impl<T> Emit<T> for Vec<T> {
    fn emit(&mut self, item: T) -> Result<(), Full<T>> {
        self.push(item);
        Ok(())
    }
}

/// The head of a pipeline: produces items when polled (feed decoder, replay reader).
///
/// Hot-path rules apply: `poll` must not block, sleep, lock or allocate after start-up.
pub trait Source: Send + 'static {
    /// What it produces.
    type Out: Copy + Send + 'static;

    /// Produces what is available now into `out`.
    fn poll<E: Emit<Self::Out>>(&mut self, out: &mut E) -> Progress;
}

/// A processing step: one input item in, zero or more output items out.
///
/// Hot-path rules apply to every method: no blocking, sleeping, locks or allocation after
/// start-up.
pub trait Stage: Send + 'static {
    /// What it consumes.
    type In: Copy + Send + 'static;
    /// What it produces. The last stage of a pipeline has `Out = ()` and emits nothing.
    type Out: Copy + Send + 'static;

    /// Handles one input item.
    fn on_item<E: Emit<Self::Out>>(&mut self, item: Self::In, out: &mut E);

    /// Called on every loop round of its thread, for timers and housekeeping. Default: idle.
    #[inline]
    fn poll<E: Emit<Self::Out>>(&mut self, out: &mut E) -> Progress {
        let _ = out;
        Progress::Idle
    }

    /// Called once after the last input item (the input is drained), before the stages
    /// downstream finish: flush here.
    fn finish<E: Emit<Self::Out>>(&mut self, out: &mut E) {
        let _ = out;
    }
}
