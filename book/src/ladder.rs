//! One side of a book in *key space*: `key = px` for bids and `key = -px` for asks, so on both
//! sides a larger key is a better price and the best level is the largest key.
//!
//! Storage: a ring-indexed window of `w` slots (`slot = key & (w - 1)`) covering the keys
//! `lo..lo + w`, an occupancy [`Bits`] map over the slots, and a [`Far`] store of the levels
//! below the window (`key < lo`), sorted, so that the levels nearest the window are its largest
//! keys, which re-centring pushes and pops.
//!
//! Invariants, after every public operation:
//! 1. every far key is `< lo` (nothing is ever stored above the window);
//! 2. `best` is the largest key stored (`NONE` when empty), and lies inside the window, in the
//!    band `lo + low_guard .. lo + high_guard`, whenever the side is not empty;
//! 3. `qty[slot] != 0` exactly when the slot's bit is set, and `window_count` counts them.

use crate::bits::{Bits, span};
use crate::far::{Far, FarCursor};

/// `best` of an empty side.
pub(crate) const NONE: i64 = i64::MIN;

#[derive(Clone)]
pub(crate) struct Ladder {
    /// Size per slot, 0 when the slot is empty.
    qty: Box<[i64]>,
    bits: Bits,
    /// `w - 1`.
    mask: u64,
    /// Window width in ticks (a power of two).
    w: i64,
    /// The window covers keys `lo..lo + w`.
    lo: i64,
    /// Largest stored key, or [`NONE`].
    best: i64,
    /// Re-centre when `best - lo` falls below this...
    low_guard: i64,
    /// ...or reaches this.
    high_guard: i64,
    /// Where a re-centre puts the best: `best - lo == target`.
    target: i64,
    window_count: usize,
    /// Far store: the levels below the window, all `< lo`.
    far: Far,
    pub(crate) recentres: u64,
    pub(crate) migrated: u64,
    pub(crate) far_updates: u64,
}

impl Ladder {
    pub(crate) fn new(window_ticks: u32, far_capacity: u32) -> Ladder {
        let w = i64::from(window_ticks);
        let n = window_ticks as usize;
        Ladder {
            qty: vec![0; n].into_boxed_slice(),
            bits: Bits::new(n),
            mask: (w - 1) as u64,
            w,
            lo: 0,
            best: NONE,
            low_guard: w / 8,
            high_guard: w - w / 16,
            target: w - w / 4,
            window_count: 0,
            far: Far::new(far_capacity as usize),
            recentres: 0,
            migrated: 0,
            far_updates: 0,
        }
    }

    #[inline(always)]
    fn slot(&self, key: i64) -> usize {
        (key as u64 & self.mask) as usize
    }

    /// True when `key` lies in the window.
    #[inline(always)]
    fn in_window(&self, key: i64) -> bool {
        (key.wrapping_sub(self.lo) as u64) < self.w as u64
    }

    #[inline]
    pub(crate) fn best_key(&self) -> i64 {
        self.best
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.window_count + self.far.len()
    }

    #[inline]
    pub(crate) fn far_len(&self) -> usize {
        self.far.len()
    }

    /// Times the far store grew past its reservation.
    #[inline]
    pub(crate) fn far_grows(&self) -> u64 {
        self.far.grows
    }

    #[inline]
    pub(crate) fn window_len(&self) -> usize {
        self.window_count
    }

    /// Size stored at `key` (0 when none).
    #[inline]
    pub(crate) fn qty_at(&self, key: i64) -> i64 {
        if self.in_window(key) {
            self.qty.get(self.slot(key)).copied().unwrap_or(0)
        } else if key < self.lo {
            self.far.get(key)
        } else {
            0
        }
    }

    /// Sets the size at `key`; `qty == 0` removes the level (a no-op when there is none).
    /// `qty` must not be negative (checked by the caller).
    #[inline]
    pub(crate) fn set(&mut self, key: i64, qty: i64) {
        if self.in_window(key) {
            self.set_in_window(key, qty);
        } else if key < self.lo {
            self.set_far(key, qty);
        } else if qty != 0 {
            // Above the window: a new best (invariant 1 and 2: nothing is stored up there).
            self.recentre(key);
            self.set_in_window(key, qty);
        }
    }

    /// In-window store: one load and one store of the size, a branch-free bitmap and count
    /// update, and one test against the best. Nothing here branches on the old size, so the
    /// load of a cold slot does not stall the next update; only an update at or above the best
    /// (a few per cent on a real feed) leaves this path.
    #[inline(always)]
    fn set_in_window(&mut self, key: i64, qty: i64) {
        let slot = self.slot(key);
        let Some(cell) = self.qty.get_mut(slot) else { return };
        let old = std::mem::replace(cell, qty);
        self.bits.assign(slot, qty != 0);
        self.window_count = self.window_count + usize::from(qty != 0) - usize::from(old != 0);
        if key >= self.best {
            self.touch_changed(key, qty);
        }
    }

    /// After an in-window store at or above the best: a new best, or the best removed.
    #[inline(never)]
    fn touch_changed(&mut self, key: i64, qty: i64) {
        if qty != 0 {
            if key > self.best {
                self.best = key;
                // Below the band only when the side was empty.
                let off = key - self.lo;
                if off >= self.high_guard || off < self.low_guard {
                    self.recentre(key);
                }
            }
        } else if key == self.best {
            // Nothing is stored above the best, so a removal above it was a no-op.
            self.best = self.best_below(key);
            self.check_band();
        }
    }

    #[cold]
    #[inline(never)]
    fn set_far(&mut self, key: i64, qty: i64) {
        self.far_updates += 1;
        self.far.set(key, qty);
        if qty != 0 {
            if key > self.best {
                // Only possible when the window is empty: pull the window down to it.
                self.best = key;
                self.check_band();
            }
        } else if key == self.best {
            self.best = self.far.last().unwrap_or(NONE);
            self.check_band();
        }
    }

    /// The best key strictly below `key`, window first, then the far store.
    #[inline]
    fn best_below(&self, key: i64) -> i64 {
        if self.window_count != 0
            && let Some(k) = self.highest_in_window_upto(key - 1)
        {
            return k;
        }
        self.far.last().unwrap_or(NONE)
    }

    /// Re-centres if the best has left the guard band.
    #[inline]
    fn check_band(&mut self) {
        if self.best != NONE {
            let off = self.best - self.lo;
            if off < self.low_guard || off >= self.high_guard {
                self.recentre(self.best);
            }
        }
    }

    /// Moves the window so that `anchor` (the current best, or a new best above it) sits at
    /// `lo + target`. Levels leaving the window go to the far store's tail; far levels
    /// entering it are popped from the tail. Cost is proportional to the levels that move.
    #[cold]
    #[inline(never)]
    fn recentre(&mut self, anchor: i64) {
        let new_lo = anchor - self.target;
        if new_lo == self.lo {
            return;
        }
        self.recentres += 1;
        if new_lo > self.lo {
            // Moving up: evict keys lo..new_lo (ascending, so pushes keep the far store sorted).
            let end = new_lo.min(self.lo + self.w) - 1;
            let mut from = self.lo;
            while self.window_count != 0 && from <= end {
                let Some(k) = self.lowest_in_window(from, end) else { break };
                let slot = self.slot(k);
                let q = self.qty.get(slot).copied().unwrap_or(0);
                if let Some(cell) = self.qty.get_mut(slot) {
                    *cell = 0;
                }
                self.bits.clear(slot);
                self.window_count -= 1;
                self.far.push_max(k, q);
                self.migrated += 1;
                from = k + 1;
            }
            self.lo = new_lo;
        } else {
            // Moving down: nothing is stored above the anchor, so nothing leaves the top; far
            // levels at or above the new bottom enter.
            debug_assert!(self.best == NONE || self.best <= anchor);
            self.lo = new_lo;
            while self.far.last().is_some_and(|k| k >= new_lo) {
                let Some((k, q)) = self.far.pop_max() else { break };
                let slot = self.slot(k);
                if let Some(cell) = self.qty.get_mut(slot) {
                    *cell = q;
                }
                self.bits.set(slot);
                self.window_count += 1;
                self.migrated += 1;
            }
        }
    }

    /// Highest stored window key in `a..=b` (both inside the window, `a <= b`).
    #[inline]
    fn highest_in_window(&self, a: i64, b: i64) -> Option<i64> {
        let (sa, sb) = (self.slot(a), self.slot(b));
        if sa <= sb {
            self.bits.highest_in(sa, sb).map(|s| b - (sb - s) as i64)
        } else {
            let top = self.mask as usize;
            self.bits
                .highest_in(0, sb)
                .map(|s| b - (sb - s) as i64)
                .or_else(|| self.bits.highest_in(sa, top).map(|s| a + (s - sa) as i64))
        }
    }

    /// Lowest stored window key in `a..=b` (both inside the window, `a <= b`).
    #[inline]
    fn lowest_in_window(&self, a: i64, b: i64) -> Option<i64> {
        let (sa, sb) = (self.slot(a), self.slot(b));
        if sa <= sb {
            self.bits.lowest_in(sa, sb).map(|s| a + (s - sa) as i64)
        } else {
            let top = self.mask as usize;
            self.bits
                .lowest_in(sa, top)
                .map(|s| a + (s - sa) as i64)
                .or_else(|| self.bits.lowest_in(0, sb).map(|s| b - (sb - s) as i64))
        }
    }

    /// Highest stored window key `<= key`.
    #[inline]
    fn highest_in_window_upto(&self, key: i64) -> Option<i64> {
        if key < self.lo {
            return None;
        }
        let b = key.min(self.lo + self.w - 1);
        self.highest_in_window(self.lo, b)
    }

    /// Removes every level, keeping all storage.
    pub(crate) fn clear(&mut self) {
        if self.window_count != 0 {
            let mut from = self.lo + self.w - 1;
            while let Some(k) = self.highest_in_window_upto(from) {
                let slot = self.slot(k);
                if let Some(cell) = self.qty.get_mut(slot) {
                    *cell = 0;
                }
                from = k - 1;
            }
            self.bits.clear_all();
            self.window_count = 0;
        }
        self.far.clear();
        self.best = NONE;
    }

    /// A cursor at the best level.
    #[inline]
    pub(crate) fn cursor(&self) -> Cursor {
        let mut c = Cursor {
            bits: 0,
            word: 0,
            seg_lo: 0,
            delta: 0,
            pending: None,
            far: self.far.cursor(),
            in_window: self.window_count != 0,
        };
        if c.in_window {
            // The window's slots form two runs of consecutive keys: A = slots ls..w (keys
            // from lo) and B = slots 0..ls (the keys above A). Walk down from the best.
            let ls = self.slot(self.lo);
            let s = self.slot(self.best);
            let delta_a = self.lo - ls as i64;
            if s >= ls {
                c.start_segment(&self.bits, ls, s, delta_a);
            } else {
                c.start_segment(&self.bits, 0, s, self.lo + self.w - ls as i64);
                c.pending = Some((ls, self.mask as usize, delta_a));
            }
        }
        c
    }

    /// The level at the cursor, then moves the cursor to the next worse level.
    #[inline]
    pub(crate) fn next_level(&self, c: &mut Cursor) -> Option<(i64, i64)> {
        if c.in_window {
            loop {
                if c.bits != 0 {
                    let b = 63 - c.bits.leading_zeros() as usize;
                    c.bits &= !(1u64 << b);
                    let slot = (c.word << 6) | b;
                    return Some((slot as i64 + c.delta, self.qty.get(slot).copied().unwrap_or(0)));
                }
                let lo_word = c.seg_lo >> 6;
                if c.word > lo_word
                    && let Some(w) = self.bits.highest_word(lo_word, c.word - 1)
                {
                    c.word = w;
                    c.bits = self.bits.leaf_word(w);
                    if w == lo_word {
                        c.bits &= span(c.seg_lo & 63, 63);
                    }
                    continue;
                }
                match c.pending.take() {
                    Some((lo, hi, delta)) => c.start_segment(&self.bits, lo, hi, delta),
                    None => {
                        c.in_window = false;
                        break;
                    }
                }
            }
        }
        self.far.next_down(&mut c.far)
    }

    /// Calls `f(key, qty)` for each level, best first, until it returns `false`. Faster than
    /// a [`Cursor`] walk: the state stays in registers.
    #[inline]
    pub(crate) fn walk(&self, mut f: impl FnMut(i64, i64) -> bool) {
        if self.window_count != 0 {
            let ls = self.slot(self.lo);
            let s = self.slot(self.best);
            let delta_a = self.lo - ls as i64;
            let more = if s < ls {
                self.walk_run(0, s, self.lo + self.w - ls as i64, &mut f)
                    && self.walk_run(ls, self.mask as usize, delta_a, &mut f)
            } else {
                self.walk_run(ls, s, delta_a, &mut f)
            };
            if !more {
                return;
            }
        }
        self.far.walk_down(&mut f);
    }

    /// Walks the run of slots `lo..=hi` downwards (`key = slot + delta`); `false` when `f`
    /// asked to stop.
    #[inline]
    fn walk_run(
        &self,
        lo: usize,
        hi: usize,
        delta: i64,
        f: &mut impl FnMut(i64, i64) -> bool,
    ) -> bool {
        let lo_word = lo >> 6;
        let mut w = hi >> 6;
        let mut bits = self.bits.leaf_word(w) & span(0, hi & 63);
        loop {
            if w == lo_word {
                bits &= span(lo & 63, 63);
            }
            while bits != 0 {
                let b = 63 - bits.leading_zeros() as usize;
                bits ^= 1u64 << b;
                let slot = (w << 6) | b;
                if !f(slot as i64 + delta, self.qty.get(slot).copied().unwrap_or(0)) {
                    return false;
                }
            }
            if w == lo_word {
                return true;
            }
            match self.bits.highest_word(lo_word, w - 1) {
                Some(next) => {
                    w = next;
                    bits = self.bits.leaf_word(w);
                }
                None => return true,
            }
        }
    }

    /// Checks every invariant (tests only; O(levels + window)).
    #[cfg(test)]
    pub(crate) fn check(&self) {
        let mut n = 0;
        for (slot, &q) in self.qty.iter().enumerate() {
            assert_eq!(q != 0, self.bits.highest_in(slot, slot).is_some(), "slot {slot}");
            n += usize::from(q != 0);
        }
        assert_eq!(n, self.window_count);
        self.far.check();
        assert!(self.far.last().is_none_or(|k| k < self.lo));
        if self.len() == 0 {
            assert_eq!(self.best, NONE);
        } else {
            let off = self.best - self.lo;
            assert!(off >= self.low_guard && off < self.high_guard, "best off band: {off}");
            assert!(self.qty_at(self.best) > 0);
        }
    }
}

/// A position in a walk from the best level to the worst: the window's bitmap word by word
/// (one run of consecutive slots at a time), then the far store from its tail.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cursor {
    /// Unvisited set bits of the current leaf word.
    bits: u64,
    /// Current leaf word index.
    word: usize,
    /// Lowest slot of the current run.
    seg_lo: usize,
    /// `key = slot + delta` in the current run.
    delta: i64,
    /// The run still to walk after this one: `(lowest slot, highest slot, delta)`.
    pending: Option<(usize, usize, i64)>,
    /// The far store's part of the walk.
    far: FarCursor,
    /// Still walking the window.
    in_window: bool,
}

impl Cursor {
    /// Starts walking the run of slots `lo..=hi` downwards.
    #[inline]
    fn start_segment(&mut self, bits: &Bits, lo: usize, hi: usize, delta: i64) {
        let (lo_word, hi_word) = (lo >> 6, hi >> 6);
        self.word = hi_word;
        self.seg_lo = lo;
        self.delta = delta;
        self.bits = bits.leaf_word(hi_word) & span(0, hi & 63);
        if lo_word == hi_word {
            self.bits &= span(lo & 63, 63);
        }
    }
}
