//! Time-based rolling windows over preallocated ring buffers of time buckets.
//!
//! A [`BucketWindow`] splits time into buckets of `bucket_ns` (aligned on multiples of
//! `bucket_ns` since the epoch) and keeps the last `n` of them in a ring allocated once at
//! construction. Each bucket holds an accumulator ([`Acc`]); the window also keeps the running
//! sum of its buckets, so adding a value and reading the window are O(1), and moving the
//! window forward costs one subtraction per bucket that expires.
//!
//! The window covers the buckets `head − n + 1 ..= head`, where `head` is the bucket of the
//! newest timestamp seen: its span is between `(n − 1)·bucket_ns` and `n·bucket_ns`. The
//! accumulators used by the signals are integers (lots, tick·lot notionals, counts), added and
//! subtracted with wrapping arithmetic, so the running sum is exact and never drifts.
//!
//! Timestamps may arrive slightly out of order (two venues' clocks, trades vs books): a value
//! whose bucket is still inside the window is added to that bucket; an older one is dropped and
//! counted ([`BucketWindow::late_dropped`]). Time never moves backwards: an older timestamp does
//! not rewind the window.

/// A value that can be summed into a window bucket and taken out again exactly.
pub trait Acc: Copy + Default {
    /// `self += other`.
    fn add(&mut self, other: &Self);
    /// `self -= other` (the inverse of [`Acc::add`]).
    fn sub(&mut self, other: &Self);
}

impl Acc for i64 {
    #[inline]
    fn add(&mut self, other: &i64) {
        *self = self.wrapping_add(*other);
    }
    #[inline]
    fn sub(&mut self, other: &i64) {
        *self = self.wrapping_sub(*other);
    }
}

impl Acc for i128 {
    #[inline]
    fn add(&mut self, other: &i128) {
        *self = self.wrapping_add(*other);
    }
    #[inline]
    fn sub(&mut self, other: &i128) {
        *self = self.wrapping_sub(*other);
    }
}

/// A rolling time window of `n` buckets of `bucket_ns` each.
///
/// **Memory.** The ring is allocated by [`BucketWindow::new`]; nothing is allocated afterwards
/// and every method returns immediately.
///
/// # Examples
/// ```
/// use crpbot_strategies::fast::BucketWindow;
/// // 3 s window in 1 s buckets.
/// let mut w = BucketWindow::<i64>::new(3_000_000_000, 1_000_000_000);
/// w.add(0, 5);
/// w.add(1_500_000_000, 7);
/// assert_eq!(w.sum(), 12);
/// w.advance(3_000_000_000); // bucket 0 expires
/// assert_eq!(w.sum(), 7);
/// w.advance(10_000_000_000);
/// assert_eq!(w.sum(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct BucketWindow<T: Acc> {
    bucket_ns: i64,
    slots: Box<[T]>,
    /// Absolute bucket number (`ts / bucket_ns`) of the newest bucket.
    head: i64,
    started: bool,
    sum: T,
    late_dropped: u64,
}

impl<T: Acc> BucketWindow<T> {
    /// A window spanning `window_ns` in buckets of `bucket_ns` (both clamped to at least 1 ns;
    /// the bucket count is `ceil(window_ns / bucket_ns)`, at least 1).
    pub fn new(window_ns: i64, bucket_ns: i64) -> BucketWindow<T> {
        let bucket_ns = bucket_ns.max(1);
        let window_ns = window_ns.max(1);
        let n = window_ns.div_euclid(bucket_ns) + i64::from(window_ns.rem_euclid(bucket_ns) != 0);
        let n = usize::try_from(n.max(1)).unwrap_or(1);
        BucketWindow {
            bucket_ns,
            slots: vec![T::default(); n].into_boxed_slice(),
            head: 0,
            started: false,
            sum: T::default(),
            late_dropped: 0,
        }
    }

    /// Number of buckets.
    #[inline]
    pub fn n_buckets(&self) -> usize {
        self.slots.len()
    }

    /// Width of one bucket.
    #[inline]
    pub fn bucket_ns(&self) -> i64 {
        self.bucket_ns
    }

    /// Span of the whole window (`n_buckets × bucket_ns`).
    #[inline]
    pub fn span_ns(&self) -> i64 {
        self.bucket_ns.saturating_mul(self.slots.len() as i64)
    }

    #[inline]
    fn slot(&self, bucket: i64) -> usize {
        // rem_euclid of a positive modulus is in 0..n.
        bucket.rem_euclid(self.slots.len() as i64) as usize
    }

    /// Moves the window so that its newest bucket holds `ts_ns`, expiring older buckets.
    #[inline]
    pub fn advance(&mut self, ts_ns: i64) {
        let b = ts_ns.div_euclid(self.bucket_ns);
        if !self.started {
            self.started = true;
            self.head = b;
            return;
        }
        if b <= self.head {
            return;
        }
        self.expire_to(b);
    }

    fn expire_to(&mut self, b: i64) {
        let n = self.slots.len() as i64;
        let steps = b.saturating_sub(self.head);
        if steps >= n {
            self.slots.fill(T::default());
            self.sum = T::default();
        } else {
            for k in 1..=steps {
                let i = self.slot(self.head + k);
                let old = self.slots[i];
                self.sum.sub(&old);
                self.slots[i] = T::default();
            }
        }
        self.head = b;
    }

    /// Adds `v` at time `ts_ns` (advancing the window first). A value older than the window is
    /// dropped and counted.
    #[inline]
    pub fn add(&mut self, ts_ns: i64, v: T) {
        self.advance(ts_ns);
        let b = ts_ns.div_euclid(self.bucket_ns);
        if b <= self.head.saturating_sub(self.slots.len() as i64) {
            self.late_dropped += 1;
            return;
        }
        let i = self.slot(b);
        self.slots[i].add(&v);
        self.sum.add(&v);
    }

    /// The sum of the window as of the newest timestamp seen (call [`BucketWindow::advance`]
    /// first to read it at a later time).
    #[inline]
    pub fn sum(&self) -> T {
        self.sum
    }

    /// Values dropped because they were older than the window.
    #[inline]
    pub fn late_dropped(&self) -> u64 {
        self.late_dropped
    }

    /// Empties the window (keeps its storage).
    pub fn clear(&mut self) {
        self.slots.fill(T::default());
        self.sum = T::default();
        self.started = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_expire_exactly_and_late_values_are_bucketed_or_dropped() {
        let mut w = BucketWindow::<i64>::new(1_000, 100); // 10 buckets
        assert_eq!(w.n_buckets(), 10);
        for t in 0..10 {
            w.add(t * 100, 1);
        }
        assert_eq!(w.sum(), 10);
        w.add(1_000, 5); // bucket 0 expires
        assert_eq!(w.sum(), 14);
        w.add(950, 2); // still inside: bucket 9
        assert_eq!(w.sum(), 16);
        w.add(50, 100); // bucket 0 is gone
        assert_eq!((w.sum(), w.late_dropped()), (16, 1));
        w.advance(1_900); // buckets 1..=9 expire, only bucket 10 remains
        assert_eq!(w.sum(), 5);
        w.advance(100_000);
        assert_eq!(w.sum(), 0);
        assert_eq!(BucketWindow::<i64>::new(1_050, 100).n_buckets(), 11);
    }

    #[test]
    fn negative_times_are_aligned_by_floor() {
        let mut w = BucketWindow::<i128>::new(200, 100);
        w.add(-150, 3); // bucket -2
        w.add(-50, 4); // bucket -1
        assert_eq!(w.sum(), 7);
        w.add(10, 1); // bucket 0: bucket -2 expires
        assert_eq!(w.sum(), 5);
    }
}
