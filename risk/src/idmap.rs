//! A fixed-capacity `u64 → u32` hash map (linear probing, backward-shift deletion) that never
//! allocates after construction. Used for working orders and duplicate memory.

const EMPTY: u32 = u32::MAX;

#[derive(Clone, Debug)]
pub(crate) struct IdMap {
    keys: Vec<u64>,
    vals: Vec<u32>,
    mask: usize,
    len: usize,
}

impl IdMap {
    /// A map for at most `max_entries` keys (table sized to twice that, a power of two).
    pub(crate) fn new(max_entries: usize) -> IdMap {
        let cap = (max_entries.max(4) * 2).next_power_of_two();
        IdMap { keys: vec![0; cap], vals: vec![EMPTY; cap], mask: cap - 1, len: 0 }
    }

    #[inline]
    fn home(&self, key: u64) -> usize {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & self.mask
    }

    #[inline]
    pub(crate) fn get(&self, key: u64) -> Option<u32> {
        let mut i = self.home(key);
        loop {
            let v = self.vals[i];
            if v == EMPTY {
                return None;
            }
            if self.keys[i] == key {
                return Some(v);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Inserts or overwrites; `false` when the table is full (never at half load).
    #[inline]
    pub(crate) fn insert(&mut self, key: u64, val: u32) -> bool {
        debug_assert!(val != EMPTY);
        let mut i = self.home(key);
        loop {
            if self.vals[i] == EMPTY {
                if self.len + 1 >= self.keys.len() {
                    return false;
                }
                self.keys[i] = key;
                self.vals[i] = val;
                self.len += 1;
                return true;
            }
            if self.keys[i] == key {
                self.vals[i] = val;
                return true;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Removes `key`, shifting later entries of its probe run back.
    #[inline]
    pub(crate) fn remove(&mut self, key: u64) -> Option<u32> {
        let mut i = self.home(key);
        loop {
            let v = self.vals[i];
            if v == EMPTY {
                return None;
            }
            if self.keys[i] == key {
                break;
            }
            i = (i + 1) & self.mask;
        }
        let removed = self.vals[i];
        let mut hole = i;
        let mut j = (i + 1) & self.mask;
        while self.vals[j] != EMPTY {
            let home = self.home(self.keys[j]);
            // Move j into the hole unless its home lies cyclically in (hole, j].
            let dist_home = j.wrapping_sub(home) & self.mask;
            let dist_hole = j.wrapping_sub(hole) & self.mask;
            if dist_home >= dist_hole {
                self.keys[hole] = self.keys[j];
                self.vals[hole] = self.vals[j];
                hole = j;
            }
            j = (j + 1) & self.mask;
        }
        self.vals[hole] = EMPTY;
        self.len -= 1;
        Some(removed)
    }

    /// Entries held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        #[test]
        fn matches_hashmap(ops in proptest::collection::vec((0u8..3, 0u64..64, 0u32..1000), 0..400)) {
            let mut m = IdMap::new(64);
            let mut r = HashMap::new();
            for (op, k, v) in ops {
                // Spread keys so probe runs collide and wrap.
                let key = k.wrapping_mul(0x1_0000_0001) ^ (k << 40);
                match op {
                    0 => { prop_assert!(m.insert(key, v)); r.insert(key, v); }
                    1 => prop_assert_eq!(m.remove(key), r.remove(&key)),
                    _ => prop_assert_eq!(m.get(key), r.get(&key).copied()),
                }
                prop_assert_eq!(m.len(), r.len());
            }
            for (k, v) in &r {
                prop_assert_eq!(m.get(*k), Some(*v));
            }
        }
    }
}
