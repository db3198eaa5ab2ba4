//! A two-level occupancy bitmap over `n` slots (`n` a power of two, at least 64).
//!
//! `leaf` has one bit per slot; `summary` has one bit per leaf word, set iff that word is not
//! zero. A search for the highest or lowest set slot in a range looks at most at two partial
//! leaf words plus the summary words covering the range (16 summary words for 2^16 slots), so
//! finding the next level across a wide empty gap costs a handful of `leading_zeros` /
//! `trailing_zeros`, not a walk over every word.

#[derive(Clone)]
pub(crate) struct Bits {
    leaf: Box<[u64]>,
    summary: Box<[u64]>,
}

/// Bits `lo..=hi` of a word set (`lo <= hi < 64`).
#[inline]
pub(crate) const fn span(lo: usize, hi: usize) -> u64 {
    (u64::MAX >> (63 - hi)) & (u64::MAX << lo)
}

impl Bits {
    /// All clear, `n` slots.
    pub(crate) fn new(n: usize) -> Bits {
        let words = n.div_ceil(64).max(1);
        Bits {
            leaf: vec![0; words].into_boxed_slice(),
            summary: vec![0; words.div_ceil(64)].into_boxed_slice(),
        }
    }

    #[inline]
    pub(crate) fn set(&mut self, i: usize) {
        let w = i >> 6;
        if let Some(word) = self.leaf.get_mut(w) {
            *word |= 1 << (i & 63);
            if let Some(s) = self.summary.get_mut(w >> 6) {
                *s |= 1 << (w & 63);
            }
        }
    }

    #[inline]
    pub(crate) fn clear(&mut self, i: usize) {
        let w = i >> 6;
        if let Some(word) = self.leaf.get_mut(w) {
            *word &= !(1 << (i & 63));
            if *word == 0
                && let Some(s) = self.summary.get_mut(w >> 6)
            {
                *s &= !(1 << (w & 63));
            }
        }
    }

    /// Sets bit `i` to `on` without branching on its old value (one store to its leaf word
    /// and one to its summary word).
    #[inline(always)]
    pub(crate) fn assign(&mut self, i: usize, on: bool) {
        let w = i >> 6;
        if let Some(word) = self.leaf.get_mut(w) {
            let v = (*word & !(1 << (i & 63))) | (u64::from(on) << (i & 63));
            *word = v;
            if let Some(s) = self.summary.get_mut(w >> 6) {
                *s = (*s & !(1 << (w & 63))) | (u64::from(v != 0) << (w & 63));
            }
        }
    }

    /// Clears every bit, touching only the non-zero words.
    pub(crate) fn clear_all(&mut self) {
        for (si, s) in self.summary.iter_mut().enumerate() {
            let mut m = *s;
            while m != 0 {
                let w = (si << 6) | m.trailing_zeros() as usize;
                m &= m - 1;
                if let Some(word) = self.leaf.get_mut(w) {
                    *word = 0;
                }
            }
            *s = 0;
        }
    }

    /// Leaf word `w` (0 past the end).
    #[inline]
    pub(crate) fn leaf_word(&self, w: usize) -> u64 {
        self.leaf.get(w).copied().unwrap_or(0)
    }

    /// Highest non-zero leaf word index in `wa..=wb`, via the summary.
    #[inline]
    pub(crate) fn highest_word(&self, wa: usize, wb: usize) -> Option<usize> {
        let (sa, sb) = (wa >> 6, wb >> 6);
        let mut s = sb;
        loop {
            let lo = if s == sa { wa & 63 } else { 0 };
            let hi = if s == sb { wb & 63 } else { 63 };
            let m = self.summary.get(s).copied().unwrap_or(0) & span(lo, hi);
            if m != 0 {
                return Some((s << 6) | (63 - m.leading_zeros() as usize));
            }
            if s == sa {
                return None;
            }
            s -= 1;
        }
    }

    /// Lowest non-zero leaf word index in `wa..=wb`, via the summary.
    #[inline]
    fn lowest_word(&self, wa: usize, wb: usize) -> Option<usize> {
        let (sa, sb) = (wa >> 6, wb >> 6);
        let mut s = sa;
        loop {
            let lo = if s == sa { wa & 63 } else { 0 };
            let hi = if s == sb { wb & 63 } else { 63 };
            let m = self.summary.get(s).copied().unwrap_or(0) & span(lo, hi);
            if m != 0 {
                return Some((s << 6) | m.trailing_zeros() as usize);
            }
            if s == sb {
                return None;
            }
            s += 1;
        }
    }

    /// Highest set slot in `a..=b` (`a <= b < n`).
    #[inline]
    pub(crate) fn highest_in(&self, a: usize, b: usize) -> Option<usize> {
        let (wa, wb) = (a >> 6, b >> 6);
        if wa == wb {
            let m = self.leaf_word(wb) & span(a & 63, b & 63);
            return (m != 0).then(|| (wb << 6) | (63 - m.leading_zeros() as usize));
        }
        let m = self.leaf_word(wb) & span(0, b & 63);
        if m != 0 {
            return Some((wb << 6) | (63 - m.leading_zeros() as usize));
        }
        if wb - wa >= 2
            && let Some(w) = self.highest_word(wa + 1, wb - 1)
        {
            let m = self.leaf_word(w);
            return Some((w << 6) | (63 - m.leading_zeros() as usize));
        }
        let m = self.leaf_word(wa) & span(a & 63, 63);
        (m != 0).then(|| (wa << 6) | (63 - m.leading_zeros() as usize))
    }

    /// Lowest set slot in `a..=b` (`a <= b < n`).
    #[inline]
    pub(crate) fn lowest_in(&self, a: usize, b: usize) -> Option<usize> {
        let (wa, wb) = (a >> 6, b >> 6);
        if wa == wb {
            let m = self.leaf_word(wa) & span(a & 63, b & 63);
            return (m != 0).then(|| (wa << 6) | m.trailing_zeros() as usize);
        }
        let m = self.leaf_word(wa) & span(a & 63, 63);
        if m != 0 {
            return Some((wa << 6) | m.trailing_zeros() as usize);
        }
        if wb - wa >= 2
            && let Some(w) = self.lowest_word(wa + 1, wb - 1)
        {
            let m = self.leaf_word(w);
            return Some((w << 6) | m.trailing_zeros() as usize);
        }
        let m = self.leaf_word(wb) & span(0, b & 63);
        (m != 0).then(|| (wb << 6) | m.trailing_zeros() as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn span_masks() {
        assert_eq!(span(0, 63), u64::MAX);
        assert_eq!(span(0, 0), 1);
        assert_eq!(span(63, 63), 1 << 63);
        assert_eq!(span(2, 4), 0b11100);
    }

    #[test]
    fn finds_across_words_and_summary_words() {
        let mut b = Bits::new(1 << 14);
        assert_eq!(b.highest_in(0, (1 << 14) - 1), None);
        b.set(5);
        b.set(9000);
        assert_eq!(b.highest_in(0, (1 << 14) - 1), Some(9000));
        assert_eq!(b.highest_in(0, 8999), Some(5));
        assert_eq!(b.lowest_in(6, (1 << 14) - 1), Some(9000));
        assert_eq!(b.lowest_in(0, 5), Some(5));
        assert_eq!(b.lowest_in(6, 8999), None);
        b.clear(9000);
        assert_eq!(b.lowest_in(6, (1 << 14) - 1), None);
        b.clear_all();
        assert_eq!(b.lowest_in(0, (1 << 14) - 1), None);
    }

    proptest! {
        #[test]
        fn matches_a_bool_vector(
            log_n in 6u32..14,
            ops in proptest::collection::vec((any::<bool>(), any::<u16>()), 0..200),
            queries in proptest::collection::vec((any::<u16>(), any::<u16>()), 1..50),
        ) {
            let n = 1usize << log_n;
            let mut bits = Bits::new(n);
            let mut naive = vec![false; n];
            for (on, i) in ops {
                let i = usize::from(i) % n;
                if on { bits.set(i) } else { bits.clear(i) }
                naive[i] = on;
            }
            for (a, b) in queries {
                let (a, b) = (usize::from(a) % n, usize::from(b) % n);
                let (a, b) = (a.min(b), a.max(b));
                let hi = (a..=b).rev().find(|&i| naive[i]);
                let lo = (a..=b).find(|&i| naive[i]);
                prop_assert_eq!(bits.highest_in(a, b), hi);
                prop_assert_eq!(bits.lowest_in(a, b), lo);
            }
        }
    }
}
