//! The exchange between the async lane (tokio: REST, config, the swing lane) and the hot lane.
//!
//! The rule: **the hot side only ever calls [`Lane::try_push`] and [`Lane::try_pop`]** — both
//! lock-free, allocation-free and syscall-free, and neither ever waits. The async side uses the
//! same two calls (there is no blocking or async API on purpose, so a hot thread can never be
//! parked by the queue). The async side learns of hot-to-async messages by polling `try_pop` on
//! a timer tick (e.g. a `tokio::time::interval` of a millisecond); the hot side polls its inbound
//! lane from a stage's `poll`. A full lane hands the value back and counts it: the sender
//! decides (the async side retries on its next tick; the hot side drops and counts, or latches
//! the halt for a decision).
//!
//! `Lane` is multi-producer multi-consumer (crossbeam's `ArrayQueue`), so any number of async
//! tasks may feed one hot stage; give each direction its own lane.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_queue::ArrayQueue;
use crossbeam_utils::CachePadded;

/// A bounded, cloneable, never-blocking message queue between the async and hot lanes.
///
/// No memory is allocated after construction.
///
/// # Examples
/// ```
/// use crpbot_core::pipeline::Lane;
/// let to_hot: Lane<u32> = Lane::new(2);
/// let from_async = to_hot.clone();
/// assert_eq!(from_async.try_push(1), Ok(()));
/// assert_eq!(from_async.try_push(2), Ok(()));
/// assert_eq!(from_async.try_push(3), Err(3)); // full: handed back, counted
/// assert_eq!(to_hot.try_pop(), Some(1));
/// assert_eq!(to_hot.full_events(), 1);
/// ```
#[derive(Debug)]
pub struct Lane<T> {
    queue: Arc<ArrayQueue<T>>,
    full: Arc<CachePadded<AtomicU64>>,
}

impl<T> Clone for Lane<T> {
    fn clone(&self) -> Self {
        Lane { queue: self.queue.clone(), full: self.full.clone() }
    }
}

impl<T: Send> Lane<T> {
    /// A lane holding up to `capacity` messages (at least 1).
    pub fn new(capacity: usize) -> Lane<T> {
        Lane {
            queue: Arc::new(ArrayQueue::new(capacity.max(1))),
            full: Arc::new(CachePadded::new(AtomicU64::new(0))),
        }
    }

    /// Enqueues, or hands the value back if the lane is full (counted).
    #[inline]
    pub fn try_push(&self, value: T) -> Result<(), T> {
        self.queue.push(value).inspect_err(|_| {
            self.full.fetch_add(1, Ordering::Relaxed);
        })
    }

    /// The oldest message, if any.
    #[inline]
    pub fn try_pop(&self) -> Option<T> {
        self.queue.pop()
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// True if no message is waiting.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Pushes that found the lane full, over all clones.
    pub fn full_events(&self) -> u64 {
        self.full.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn many_producers_one_hot_consumer_lose_nothing() {
        let lane: Lane<u64> = Lane::new(64);
        let producers: Vec<_> = (0..3u64)
            .map(|p| {
                let l = lane.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000u64 {
                        let mut v = p * 1_000_000 + i;
                        while let Err(back) = l.try_push(v) {
                            v = back;
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let mut last = [None::<u64>; 3];
        let mut got = 0;
        while got < 30_000 {
            if let Some(v) = lane.try_pop() {
                let p = usize::try_from(v / 1_000_000).unwrap();
                let i = v % 1_000_000;
                assert!(last[p].is_none_or(|l| l + 1 == i), "per-producer FIFO");
                last[p] = Some(i);
                got += 1;
            } else {
                std::thread::yield_now();
            }
        }
        for p in producers {
            p.join().unwrap();
        }
        assert!(lane.is_empty());
        assert_eq!(last, [Some(9_999); 3]);
    }
}
