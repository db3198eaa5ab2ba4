//! One side of a book in *key space*: `key = px` for bids and `key = -px` for asks, so on both
//! sides a larger key is a better price and the best level is the largest key.
//!
//! Storage: a ring-indexed window of `w` slots (`slot = key & (w - 1)`) covering the keys
//! `lo..lo + w`, an occupancy [`Bits`] map over the slots, and a far store of the levels below
//! the window (`key < lo`), kept sorted ascending so that the levels nearest the window sit at
//! the tail of the vectors, where re-centring pushes and pops them.
//!
//! Invariants, after every public operation:
//! 1. every far key is `< lo` (nothing is ever stored above the window);
//! 2. `best` is the largest key stored (`NONE` when empty), and lies inside the window, in the
//!    band `lo + low_guard .. lo + high_guard`, whenever the side is not empty;
//! 3. `qty[slot] != 0` exactly when the slot's bit is set, and `window_count` counts them.

use crate::bits::{Bits, span};

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
    /// Far store, ascending keys, all `< lo`.
    far_keys: Vec<i64>,
    far_qtys: Vec<i64>,
    pub(crate) recentres: u64,
    pub(crate) migrated: u64,
    pub(crate) far_grows: u64,
    pub(crate) far_updates: u64,
}

impl Ladder {
    pub(crate) fn new(window_ticks: u32, far_capacity: u32) -> Ladder {
        let w = i64::from(window_ticks);
        let n = window_ticks as usize;
        let far = far_capacity as usize;
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
            far_keys: Vec::with_capacity(far),
            far_qtys: Vec::with_capacity(far),
            recentres: 0,
            migrated: 0,
            far_grows: 0,
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
        self.window_count + self.far_keys.len()
    }

    #[inline]
    pub(crate) fn far_len(&self) -> usize {
        self.far_keys.len()
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
            match self.far_keys.binary_search(&key) {
                Ok(i) => self.far_qtys.get(i).copied().unwrap_or(0),
                Err(_) => 0,
            }
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

    /// In-window store. The common case, a new size for a level that exists, is one load,
    /// one store and two tests; occupancy changes go to [`Ladder::occupancy_changed`].
    #[inline(always)]
    fn set_in_window(&mut self, key: i64, qty: i64) {
        let slot = self.slot(key);
        let Some(cell) = self.qty.get_mut(slot) else { return };
        let old = std::mem::replace(cell, qty);
        // An existing level keeps its bit, and is at or below the best: nothing else changes.
        if (old == 0) | (qty == 0) {
            self.occupancy_changed(key, slot, old, qty);
        }
    }

    /// A level appeared or disappeared in the window (or a no-op removal).
    #[inline]
    fn occupancy_changed(&mut self, key: i64, slot: usize, old: i64, qty: i64) {
        if qty != 0 {
            // `old == 0`: a new level.
            self.bits.set(slot);
            self.window_count += 1;
            if key > self.best {
                self.best = key;
                // Below the band only when the side was empty.
                let off = key - self.lo;
                if off >= self.high_guard || off < self.low_guard {
                    self.recentre(key);
                }
            }
        } else if old != 0 {
            self.bits.clear(slot);
            self.window_count -= 1;
            if key == self.best {
                self.best = self.best_below(key);
                self.check_band();
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn set_far(&mut self, key: i64, qty: i64) {
        self.far_updates += 1;
        match self.far_keys.binary_search(&key) {
            Ok(i) => {
                if qty != 0 {
                    if let Some(q) = self.far_qtys.get_mut(i) {
                        *q = qty;
                    }
                } else {
                    self.far_keys.remove(i);
                    self.far_qtys.remove(i);
                    if key == self.best {
                        self.best = self.far_keys.last().copied().unwrap_or(NONE);
                        self.check_band();
                    }
                }
            }
            Err(i) => {
                if qty != 0 {
                    self.note_far_growth(1);
                    self.far_keys.insert(i, key);
                    self.far_qtys.insert(i, qty);
                    if key > self.best {
                        // Only possible when the window is empty: pull the window down to it.
                        self.best = key;
                        self.check_band();
                    }
                }
            }
        }
    }

    /// Counts a far-store growth when `extra` more levels do not fit the reserved capacity.
    #[inline]
    fn note_far_growth(&mut self, extra: usize) {
        if self.far_keys.len() + extra > self.far_keys.capacity()
            || self.far_qtys.len() + extra > self.far_qtys.capacity()
        {
            self.far_grows += 1;
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
        self.far_keys.last().copied().unwrap_or(NONE)
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
                self.note_far_growth(1);
                self.far_keys.push(k);
                self.far_qtys.push(q);
                self.migrated += 1;
                from = k + 1;
            }
            self.lo = new_lo;
        } else {
            // Moving down: nothing is stored above the anchor, so nothing leaves the top; far
            // levels at or above the new bottom enter.
            debug_assert!(self.best == NONE || self.best <= anchor);
            self.lo = new_lo;
            while let Some(&k) = self.far_keys.last() {
                if k < new_lo {
                    break;
                }
                let q = self.far_qtys.last().copied().unwrap_or(0);
                self.far_keys.pop();
                self.far_qtys.pop();
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
        self.far_keys.clear();
        self.far_qtys.clear();
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
            far: self.far_keys.len(),
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
        if c.far == 0 {
            return None;
        }
        c.far -= 1;
        Some((self.far_keys.get(c.far).copied()?, self.far_qtys.get(c.far).copied()?))
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
        for (&k, &q) in self.far_keys.iter().zip(self.far_qtys.iter()).rev() {
            if !f(k, q) {
                return;
            }
        }
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
        assert!(self.far_keys.windows(2).all(|p| p[0] < p[1]));
        assert!(self.far_keys.last().is_none_or(|&k| k < self.lo));
        assert!(self.far_qtys.iter().all(|&q| q > 0));
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
    /// Far levels not yet visited: `far_keys[..far]`.
    far: usize,
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
