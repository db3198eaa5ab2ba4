//! The far store of one side: the levels beyond the window, ascending by key, in blocks.
//!
//! Levels live in fixed blocks of [`BLOCK`] slots, each holding a sorted run of keys (and the
//! sizes beside them). `order` lists the blocks in key order and `firsts` their first keys, so a
//! lookup is a binary search over `firsts` (a few dozen entries) and then over one block. An
//! insert or a removal shifts at most one block's tail, never the whole store: the cost of an
//! update is bounded by the block size whatever the number of far levels, where a single sorted
//! `Vec` shifted on average 240 levels per insert or removal on the BTCUSDT recording (2^16-tick
//! window).
//!
//! Balance: any two neighbouring blocks together hold more than [`BLOCK`] levels (a pair that
//! would fit in one block is merged), so `m` blocks hold at least `(m − 1) · BLOCK / 2` levels
//! and `n` levels never need more than `2n / BLOCK + 1` blocks. A full block is split in two
//! halves before an insert. Blocks are recycled through a free list; the slot arrays are
//! reserved for `capacity` levels at construction and only grow (counted in [`Far::grows`])
//! past that.
//!
//! Invariants, after every public operation (checked by `Far::check` in tests):
//! 1. the blocks in `order`, concatenated, hold strictly ascending keys with positive sizes;
//! 2. every block in `order` is non-empty, `firsts[o]` is the first key of `order[o]`;
//! 3. neighbouring blocks in `order` hold more than `BLOCK` levels together;
//! 4. every allocated block is either in `order` or in `free` (then empty), never both.

/// Slots per block: a shift moves at most this many keys and sizes.
pub(crate) const BLOCK: usize = 64;

/// Blocks preallocated for `capacity` levels: `2n / BLOCK + 1` by the balance rule, plus the
/// one a split takes before its halves are rebalanced.
#[inline]
fn blocks_for(capacity: usize) -> usize {
    (2 * capacity).div_ceil(BLOCK) + 2
}

pub(crate) struct Far {
    /// Block `b` holds `keys[b * BLOCK..b * BLOCK + lens[b]]`, ascending.
    keys: Vec<i64>,
    /// Sizes beside `keys`.
    qtys: Vec<i64>,
    /// Levels held by each allocated block.
    lens: Vec<u32>,
    /// The non-empty blocks in key order.
    order: Vec<u32>,
    /// `firsts[o]` is the first key of block `order[o]`.
    firsts: Vec<i64>,
    /// Allocated blocks not in use.
    free: Vec<u32>,
    /// Levels held.
    len: usize,
    /// Times the slot arrays had to grow past their reservation (each allocates).
    pub(crate) grows: u64,
}

/// A position in a walk from the largest far key down.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FarCursor {
    /// Blocks not yet entered: `order[..blocks]`.
    blocks: usize,
    /// Block being walked.
    block: usize,
    /// Levels of `block` not yet visited: its first `left`.
    left: usize,
}

impl Clone for Far {
    /// A copy with the same reservations, so that the copy does not allocate either.
    fn clone(&self) -> Far {
        fn copy<T: Copy>(v: &Vec<T>) -> Vec<T> {
            let mut out = Vec::with_capacity(v.capacity());
            out.extend_from_slice(v);
            out
        }
        Far {
            keys: copy(&self.keys),
            qtys: copy(&self.qtys),
            lens: copy(&self.lens),
            order: copy(&self.order),
            firsts: copy(&self.firsts),
            free: copy(&self.free),
            len: self.len,
            grows: self.grows,
        }
    }
}

/// Moves `n` items from `from..` to `to..` within `v` (ranges may overlap); a no-op if either
/// range is out of bounds, which the callers' invariants rule out.
#[inline]
fn move_run(v: &mut [i64], from: usize, to: usize, n: usize) {
    if from.max(to) + n <= v.len() {
        v.copy_within(from..from + n, to);
    }
}

impl Far {
    /// An empty store with room for `capacity` levels without allocating.
    pub(crate) fn new(capacity: usize) -> Far {
        let blocks = blocks_for(capacity);
        Far {
            keys: Vec::with_capacity(blocks * BLOCK),
            qtys: Vec::with_capacity(blocks * BLOCK),
            lens: Vec::with_capacity(blocks),
            order: Vec::with_capacity(blocks),
            firsts: Vec::with_capacity(blocks),
            free: Vec::with_capacity(blocks),
            len: 0,
            grows: 0,
        }
    }

    /// Levels held.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Levels in block `b`.
    #[inline]
    fn blen(&self, b: usize) -> usize {
        self.lens.get(b).map_or(0, |&n| n as usize)
    }

    /// The block at position `o` of `order`.
    #[inline]
    fn block_at(&self, o: usize) -> usize {
        self.order.get(o).map_or(0, |&b| b as usize)
    }

    #[inline]
    fn set_len(&mut self, b: usize, n: usize) {
        if let Some(l) = self.lens.get_mut(b) {
            *l = n as u32;
        }
    }

    /// The keys of block `b`.
    #[inline]
    fn block_keys(&self, b: usize) -> &[i64] {
        let s = b * BLOCK;
        self.keys.get(s..s + self.blen(b)).unwrap_or(&[])
    }

    /// Position in `order` of the block where `key` is or belongs: the last block whose first
    /// key is `<= key`, or the first block.
    #[inline]
    fn find_block(&self, key: i64) -> usize {
        // Far updates cluster just below the window, in the last block: no search there.
        match self.firsts.last() {
            Some(&f) if f <= key => self.firsts.len() - 1,
            _ => self.firsts.partition_point(|&f| f <= key).saturating_sub(1),
        }
    }

    /// Re-reads `firsts[o]` from its block.
    #[inline]
    fn refresh_first(&mut self, o: usize) {
        let k = self.keys.get(self.block_at(o) * BLOCK).copied();
        if let (Some(f), Some(k)) = (self.firsts.get_mut(o), k) {
            *f = k;
        }
    }

    /// Size at `key` (0 when absent).
    #[inline]
    pub(crate) fn get(&self, key: i64) -> i64 {
        if self.order.is_empty() {
            return 0;
        }
        let b = self.block_at(self.find_block(key));
        match self.block_keys(b).binary_search(&key) {
            Ok(i) => self.qtys.get(b * BLOCK + i).copied().unwrap_or(0),
            Err(_) => 0,
        }
    }

    /// The largest key held.
    #[inline]
    pub(crate) fn last(&self) -> Option<i64> {
        let b = *self.order.last()? as usize;
        let n = self.blen(b).checked_sub(1)?;
        self.keys.get(b * BLOCK + n).copied()
    }

    /// Sets the size at `key`; `qty == 0` removes the level (a no-op when absent).
    pub(crate) fn set(&mut self, key: i64, qty: i64) {
        if self.order.is_empty() {
            if qty != 0 {
                self.push_max(key, qty);
            }
            return;
        }
        let o = self.find_block(key);
        let b = self.block_at(o);
        match self.block_keys(b).binary_search(&key) {
            Ok(i) => {
                if qty != 0 {
                    if let Some(q) = self.qtys.get_mut(b * BLOCK + i) {
                        *q = qty;
                    }
                } else {
                    self.remove_at(o, i);
                }
            }
            Err(i) => {
                if qty != 0 {
                    self.insert_at(o, i, key, qty);
                }
            }
        }
    }

    /// Appends a level above every key held (`key > last()`).
    pub(crate) fn push_max(&mut self, key: i64, qty: i64) {
        debug_assert!(self.last().is_none_or(|k| k < key));
        let m = self.order.len();
        if m != 0 && self.blen(self.block_at(m - 1)) < BLOCK {
            let n = self.blen(self.block_at(m - 1));
            self.insert_in_block(m - 1, n, key, qty);
        } else {
            // A new last block of one level: with a full block before it, the pair still
            // holds more than BLOCK levels.
            let b = self.alloc_block();
            self.order.push(b as u32);
            self.firsts.push(key);
            self.insert_in_block(m, 0, key, qty);
        }
    }

    /// Removes and returns the level with the largest key.
    pub(crate) fn pop_max(&mut self) -> Option<(i64, i64)> {
        let o = self.order.len().checked_sub(1)?;
        let b = self.block_at(o);
        let i = self.blen(b).checked_sub(1)?;
        let level =
            (self.keys.get(b * BLOCK + i).copied()?, self.qtys.get(b * BLOCK + i).copied()?);
        self.remove_at(o, i);
        Some(level)
    }

    /// Removes every level, keeping the reservations.
    pub(crate) fn clear(&mut self) {
        self.keys.clear();
        self.qtys.clear();
        self.lens.clear();
        self.order.clear();
        self.firsts.clear();
        self.free.clear();
        self.len = 0;
    }

    /// Inserts at position `i` of the block at `order[o]`, splitting it first when full.
    fn insert_at(&mut self, o: usize, i: usize, key: i64, qty: i64) {
        if self.blen(self.block_at(o)) < BLOCK {
            self.insert_in_block(o, i, key, qty);
            return;
        }
        self.split(o);
        const HALF: usize = BLOCK / 2;
        if i > HALF {
            self.insert_in_block(o + 1, i - HALF, key, qty);
        } else {
            self.insert_in_block(o, i, key, qty);
        }
        // The halves hold BLOCK + 1 together; each may now fit with its outer neighbour.
        self.rebalance(o + 1);
        self.rebalance(o);
    }

    /// Inserts into a block with room.
    #[inline]
    fn insert_in_block(&mut self, o: usize, i: usize, key: i64, qty: i64) {
        let b = self.block_at(o);
        let (s, n) = (b * BLOCK, self.blen(b));
        if n >= BLOCK || i > n || s + BLOCK > self.keys.len() {
            debug_assert!(false, "insert into a full or missing block");
            return;
        }
        move_run(&mut self.keys, s + i, s + i + 1, n - i);
        move_run(&mut self.qtys, s + i, s + i + 1, n - i);
        if let (Some(k), Some(q)) = (self.keys.get_mut(s + i), self.qtys.get_mut(s + i)) {
            *k = key;
            *q = qty;
        }
        self.set_len(b, n + 1);
        self.len += 1;
        if i == 0 {
            self.refresh_first(o);
        }
    }

    /// Removes position `i` of the block at `order[o]`.
    fn remove_at(&mut self, o: usize, i: usize) {
        let b = self.block_at(o);
        let (s, n) = (b * BLOCK, self.blen(b));
        if i >= n {
            return;
        }
        move_run(&mut self.keys, s + i + 1, s + i, n - i - 1);
        move_run(&mut self.qtys, s + i + 1, s + i, n - i - 1);
        self.set_len(b, n - 1);
        self.len -= 1;
        if n == 1 && self.order.len() == 1 {
            self.order.clear();
            self.firsts.clear();
            self.free.push(b as u32);
            return;
        }
        if i == 0 && n > 1 {
            self.refresh_first(o);
        }
        // An emptied block always fits with a neighbour, so it is merged away here.
        self.rebalance(o);
    }

    /// Restores the balance rule around the block at `order[o]` (its two pairs).
    fn rebalance(&mut self, o: usize) {
        let len_at = |me: &Far, o: usize| me.blen(me.block_at(o));
        if o + 1 < self.order.len() && len_at(self, o) + len_at(self, o + 1) <= BLOCK {
            self.merge(o);
        }
        if o >= 1 && o < self.order.len() && len_at(self, o - 1) + len_at(self, o) <= BLOCK {
            self.merge(o - 1);
        }
    }

    /// Appends the block at `order[o + 1]` to the one at `order[o]` and frees it.
    fn merge(&mut self, o: usize) {
        let (a, b) = (self.block_at(o), self.block_at(o + 1));
        let (na, nb) = (self.blen(a), self.blen(b));
        move_run(&mut self.keys, b * BLOCK, a * BLOCK + na, nb);
        move_run(&mut self.qtys, b * BLOCK, a * BLOCK + na, nb);
        self.set_len(a, na + nb);
        self.set_len(b, 0);
        self.free.push(b as u32);
        self.order.remove(o + 1);
        self.firsts.remove(o + 1);
        self.refresh_first(o);
    }

    /// Moves the upper half of the full block at `order[o]` into a new block after it.
    fn split(&mut self, o: usize) {
        const HALF: usize = BLOCK / 2;
        let nb = self.alloc_block();
        let b = self.block_at(o);
        move_run(&mut self.keys, b * BLOCK + HALF, nb * BLOCK, BLOCK - HALF);
        move_run(&mut self.qtys, b * BLOCK + HALF, nb * BLOCK, BLOCK - HALF);
        self.set_len(b, HALF);
        self.set_len(nb, BLOCK - HALF);
        self.order.insert(o + 1, nb as u32);
        self.firsts.insert(o + 1, 0);
        self.refresh_first(o + 1);
    }

    /// A free block, from the free list or new; growth past the reservation is counted.
    fn alloc_block(&mut self) -> usize {
        if let Some(b) = self.free.pop() {
            return b as usize;
        }
        let b = self.lens.len();
        let need = self.keys.len() + BLOCK;
        if need > self.keys.capacity() || need > self.qtys.capacity() {
            self.grows += 1;
            self.keys.reserve(BLOCK);
            self.qtys.reserve(BLOCK);
            // Keep the block-indexed vectors able to index every block the slots can hold, so
            // that they never allocate between two counted growths.
            let blocks = self.keys.capacity().min(self.qtys.capacity()) / BLOCK;
            for v in [&mut self.order, &mut self.free, &mut self.lens] {
                v.reserve(blocks.saturating_sub(v.len()));
            }
            self.firsts.reserve(blocks.saturating_sub(self.firsts.len()));
        }
        self.keys.resize(need, 0);
        self.qtys.resize(need, 0);
        self.lens.push(0);
        b
    }

    /// A cursor at the largest key.
    #[inline]
    pub(crate) fn cursor(&self) -> FarCursor {
        FarCursor { blocks: self.order.len(), block: 0, left: 0 }
    }

    /// The level at the cursor, then moves the cursor to the next smaller key.
    #[inline]
    pub(crate) fn next_down(&self, c: &mut FarCursor) -> Option<(i64, i64)> {
        while c.left == 0 {
            c.blocks = c.blocks.checked_sub(1)?;
            c.block = self.block_at(c.blocks);
            c.left = self.blen(c.block);
        }
        c.left -= 1;
        let i = c.block * BLOCK + c.left;
        Some((self.keys.get(i).copied()?, self.qtys.get(i).copied()?))
    }

    /// Calls `f(key, qty)` from the largest key down until it returns `false`; `false` when
    /// `f` asked to stop.
    #[inline]
    pub(crate) fn walk_down(&self, f: &mut impl FnMut(i64, i64) -> bool) -> bool {
        for &b in self.order.iter().rev() {
            let (s, n) = (b as usize * BLOCK, self.blen(b as usize));
            let (Some(ks), Some(qs)) = (self.keys.get(s..s + n), self.qtys.get(s..s + n)) else {
                continue;
            };
            for (&k, &q) in ks.iter().zip(qs).rev() {
                if !f(k, q) {
                    return false;
                }
            }
        }
        true
    }

    /// Checks every invariant (tests only).
    #[cfg(test)]
    pub(crate) fn check(&self) {
        let hw = self.lens.len();
        assert_eq!(self.keys.len(), hw * BLOCK);
        assert_eq!(self.qtys.len(), hw * BLOCK);
        assert_eq!(self.order.len(), self.firsts.len());
        let mut seen = vec![false; hw];
        for &b in self.order.iter().chain(&self.free) {
            assert!(!std::mem::replace(&mut seen[b as usize], true), "block {b} twice");
        }
        assert!(seen.iter().all(|&s| s), "a block is neither used nor free");
        assert!(self.free.iter().all(|&b| self.blen(b as usize) == 0));
        let mut prev = None;
        let mut total = 0;
        for (o, &b) in self.order.iter().enumerate() {
            let b = b as usize;
            let n = self.blen(b);
            assert!((1..=BLOCK).contains(&n), "block of {n}");
            assert_eq!(self.firsts[o], self.keys[b * BLOCK]);
            for i in 0..n {
                let k = self.keys[b * BLOCK + i];
                assert!(prev.is_none_or(|p| p < k), "keys out of order");
                assert!(self.qtys[b * BLOCK + i] > 0);
                prev = Some(k);
            }
            if o > 0 {
                let pair = n + self.blen(self.block_at(o - 1));
                assert!(pair > BLOCK, "neighbours hold only {pair}");
            }
            total += n;
        }
        assert_eq!(total, self.len);
        assert!(self.order.len() <= 2 * self.len / BLOCK + 1);
    }
}

impl std::fmt::Debug for Far {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Far").field("len", &self.len).field("blocks", &self.order.len()).finish()
    }
}

#[cfg(test)]
mod tests;
