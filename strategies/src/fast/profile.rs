//! A trade-built volume profile over fixed price buckets.
//!
//! Buckets are `bucket_ticks` wide and aligned on multiples of it; bucket `i` covers the prices
//! `base + i·w ..= base + (i+1)·w − 1`. The `n_buckets` counters are allocated at construction
//! and the range is centred on the first trade's bucket; a trade outside the range is counted
//! in [`VolumeProfile::out_of_range`] and left out (never silently). Every price this module
//! reports is a bucket's **lower edge** in ticks.
//!
//! * **POC** (point of control): the bucket with the most volume (the lowest one on ties),
//!   maintained incrementally as volumes only grow.
//! * **Value area**: starting from the POC, repeatedly add the neighbouring bucket (above or
//!   below) with more volume — the one above on ties — until the area holds at least
//!   `value_area_pct` (70 %) of all volume (the CBOT Market Profile procedure, one bucket at a
//!   time). VAL/VAH are its lowest and highest buckets.
//! * **High/low volume nodes**: local maxima with volume ≥ `hvn_ratio ×` the mean volume of
//!   the non-empty buckets, and local minima (inside the traded range, empty buckets included)
//!   with volume ≤ `lvn_ratio ×` that mean. A plateau counts once, at its lowest bucket.

use crpbot_core::Px;

/// POC and value area of a [`VolumeProfile`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueArea {
    /// Point of control (bucket lower edge, ticks).
    pub poc: Px,
    /// Value area low (lower edge of its lowest bucket).
    pub val: Px,
    /// Value area high (lower edge of its highest bucket).
    pub vah: Px,
    /// Volume at the POC (lots).
    pub poc_qty: i64,
    /// Volume inside the value area (lots).
    pub area_qty: i128,
    /// Total volume in the profile (lots).
    pub total_qty: i128,
    /// Bucket width (ticks).
    pub bucket_ticks: i64,
}

/// A session volume profile with preallocated buckets.
///
/// **Memory.** Allocated by [`VolumeProfile::new`]; nothing afterwards.
///
/// # Examples
/// ```
/// use crpbot_core::Px;
/// use crpbot_strategies::fast::VolumeProfile;
/// let mut vp = VolumeProfile::new(1, 64, 0.70, 1.5, 0.5);
/// for (px, q) in [(100, 2), (101, 5), (102, 3)] {
///     vp.add(Px(px), q);
/// }
/// let va = vp.value_area().unwrap();
/// assert_eq!((va.poc, va.val, va.vah), (Px(101), Px(101), Px(102)));
/// ```
#[derive(Clone, Debug)]
pub struct VolumeProfile {
    bucket_ticks: i64,
    vol: Box<[i64]>,
    /// Bucket number (`px / bucket_ticks`) of slot 0; `None` before the first trade.
    base: Option<i64>,
    lo: usize,
    hi: usize,
    total: i128,
    poc: usize,
    out_of_range: u64,
    va_pct: f64,
    hvn_ratio: f64,
    lvn_ratio: f64,
    cached: Option<ValueArea>,
    dirty: bool,
}

impl VolumeProfile {
    /// A profile of `n_buckets` (at least 3) buckets `bucket_ticks` wide (at least 1).
    pub fn new(
        bucket_ticks: i64,
        n_buckets: usize,
        value_area_pct: f64,
        hvn_ratio: f64,
        lvn_ratio: f64,
    ) -> VolumeProfile {
        let va_pct = if value_area_pct.is_finite() { value_area_pct.clamp(0.0, 1.0) } else { 0.70 };
        VolumeProfile {
            bucket_ticks: bucket_ticks.max(1),
            vol: vec![0; n_buckets.max(3)].into_boxed_slice(),
            base: None,
            lo: 0,
            hi: 0,
            total: 0,
            poc: 0,
            out_of_range: 0,
            va_pct,
            hvn_ratio,
            lvn_ratio,
            cached: None,
            dirty: false,
        }
    }

    /// Adds `qty` lots traded at `px`. Returns `false` (and counts it) when `px` is outside the
    /// profile's range; non-positive sizes are ignored.
    pub fn add(&mut self, px: Px, qty: i64) -> bool {
        if qty <= 0 {
            return true;
        }
        let b = px.0.div_euclid(self.bucket_ticks);
        let n = self.vol.len();
        let base = *self.base.get_or_insert(b - (n / 2) as i64);
        let Some(i) = b.checked_sub(base).and_then(|d| usize::try_from(d).ok()).filter(|&i| i < n)
        else {
            self.out_of_range += 1;
            return false;
        };
        if self.total == 0 {
            self.lo = i;
            self.hi = i;
            self.poc = i;
        }
        self.vol[i] = self.vol[i].saturating_add(qty);
        self.total = self.total.saturating_add(i128::from(qty));
        self.lo = self.lo.min(i);
        self.hi = self.hi.max(i);
        let (v, pv) = (self.vol[i], self.vol[self.poc]);
        if v > pv || (v == pv && i < self.poc) {
            self.poc = i;
        }
        self.dirty = true;
        true
    }

    #[inline]
    fn px_of(&self, i: usize) -> Px {
        let base = self.base.unwrap_or(0);
        Px((base + i as i64).saturating_mul(self.bucket_ticks))
    }

    /// POC and value area; `None` before any volume. Recomputed only after new volume
    /// (cost: the width of the value area, in buckets).
    pub fn value_area(&mut self) -> Option<ValueArea> {
        if self.dirty {
            self.cached = self.compute();
            self.dirty = false;
        }
        self.cached
    }

    /// The last computed value area, without recomputing.
    pub fn cached_value_area(&self) -> Option<ValueArea> {
        self.cached
    }

    fn compute(&self) -> Option<ValueArea> {
        if self.total <= 0 {
            return None;
        }
        let target = (self.total as f64 * self.va_pct).ceil() as i128;
        let (mut lo, mut hi) = (self.poc, self.poc);
        let mut acc = i128::from(self.vol[self.poc]);
        while acc < target && (lo > self.lo || hi < self.hi) {
            let up = (hi < self.hi).then(|| self.vol[hi + 1]);
            let down = (lo > self.lo).then(|| self.vol[lo - 1]);
            match (up, down) {
                (Some(u), Some(d)) if u >= d => {
                    hi += 1;
                    acc += i128::from(u);
                }
                (_, Some(d)) => {
                    lo -= 1;
                    acc += i128::from(d);
                }
                (Some(u), None) => {
                    hi += 1;
                    acc += i128::from(u);
                }
                (None, None) => break,
            }
        }
        Some(ValueArea {
            poc: self.px_of(self.poc),
            val: self.px_of(lo),
            vah: self.px_of(hi),
            poc_qty: self.vol[self.poc],
            area_qty: acc,
            total_qty: self.total,
            bucket_ticks: self.bucket_ticks,
        })
    }

    /// Writes the high-volume nodes into `hvn` and the low-volume nodes into `lvn` (lower
    /// edges, ascending, as many as fit) and returns how many of each were found (possibly more
    /// than fit). Cost: the traded range, in buckets.
    pub fn nodes(&self, hvn: &mut [Px], lvn: &mut [Px]) -> (usize, usize) {
        if self.total <= 0 {
            return (0, 0);
        }
        let range = &self.vol[self.lo..=self.hi];
        let nonzero = range.iter().filter(|&&v| v > 0).count().max(1);
        let mean = self.total as f64 / nonzero as f64;
        let (mut nh, mut nl) = (0usize, 0usize);
        let len = range.len();
        let mut i = 0;
        while i < len {
            // The plateau of equal volumes starting at i.
            let mut j = i;
            while j + 1 < len && range[j + 1] == range[i] {
                j += 1;
            }
            let v = range[i];
            let left = (i > 0).then(|| range[i - 1]);
            let right = (j + 1 < len).then(|| range[j + 1]);
            let is_max = left.is_none_or(|l| l < v) && right.is_none_or(|r| r < v);
            let inside = left.is_some() && right.is_some();
            let is_min = inside && left.is_some_and(|l| l > v) && right.is_some_and(|r| r > v);
            if is_max && v as f64 >= self.hvn_ratio * mean {
                if let Some(slot) = hvn.get_mut(nh) {
                    *slot = self.px_of(self.lo + i);
                }
                nh += 1;
            }
            if is_min && v as f64 <= self.lvn_ratio * mean {
                if let Some(slot) = lvn.get_mut(nl) {
                    *slot = self.px_of(self.lo + i);
                }
                nl += 1;
            }
            i = j + 1;
        }
        (nh, nl)
    }

    /// Volume (lots) of the bucket holding `px` (0 outside the range).
    pub fn qty_at(&self, px: Px) -> i64 {
        let Some(base) = self.base else { return 0 };
        let b = px.0.div_euclid(self.bucket_ticks);
        b.checked_sub(base)
            .and_then(|d| usize::try_from(d).ok())
            .and_then(|i| self.vol.get(i).copied())
            .unwrap_or(0)
    }

    /// Total volume (lots).
    pub fn total_qty(&self) -> i128 {
        self.total
    }

    /// Trades that fell outside the range.
    pub fn out_of_range(&self) -> u64 {
        self.out_of_range
    }

    /// Bucket width in ticks.
    pub fn bucket_ticks(&self) -> i64 {
        self.bucket_ticks
    }

    /// Empties the profile (a new session); the next trade re-centres it.
    pub fn reset(&mut self) {
        self.vol.fill(0);
        self.base = None;
        self.total = 0;
        self.cached = None;
        self.dirty = false;
    }
}
