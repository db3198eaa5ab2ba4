//! Order-flow imbalance (OFI) over the top N levels.
//!
//! Definition (Cont, Kukanov & Stoikov, "The Price Impact of Order Book Events", Journal of
//! Financial Econometrics 12(1), 2014, eq. 2 for the best level; extended level by level as
//! the multi-level OFI of Xu, Gould & Howison, "Multi-Level Order-Flow Imbalance in a Limit
//! Order Book", 2018). Between two successive book states `n − 1` and `n`, with `P^b, q^b` the
//! price and size of the i-th best bid and `P^a, q^a` those of the i-th best ask:
//!
//! ```text
//! e_i(n) = 1{P^b_n ≥ P^b_{n−1}}·q^b_n − 1{P^b_n ≤ P^b_{n−1}}·q^b_{n−1}
//!        − 1{P^a_n ≤ P^a_{n−1}}·q^a_n + 1{P^a_n ≥ P^a_{n−1}}·q^a_{n−1}
//! OFI(n) = Σ_{i=1..N} e_i(n)
//! ```
//!
//! A positive OFI is net buying pressure (bids growing or improving, asks shrinking or
//! retreating). Sizes are in lots and the sum is exact (`i128`).
//!
//! **Missing levels.** When the i-th level of a side exists in only one of the two states, the
//! missing one counts as size 0 at the same price as the present one, so both indicators are
//! 1: a level that appears contributes `+q_n` (bid) / `−q_n` (ask), one that disappears
//! `−q_{n−1}` (bid) / `+q_{n−1}` (ask). Absent in both, it contributes 0.
//!
//! **One-sided or empty books** produce no OFI, and the next two-sided book starts afresh
//! (there is no meaningful previous state to difference against).

use crpbot_book::{Book, Level};
use crpbot_core::Side;

use super::window::{Acc, BucketWindow};

/// Most levels an OFI tracker can follow.
pub const MAX_OFI_LEVELS: usize = 20;

/// The contribution `e` of one side's i-th level between two states: `prev`/`cur` are `None`
/// when the level is absent. `side` is the book side (bids add, asks subtract).
#[inline]
pub fn ofi_level_side(side: Side, prev: Option<Level>, cur: Option<Level>) -> i128 {
    let (p0, q0, p1, q1) = match (prev, cur) {
        (None, None) => return 0,
        (Some(a), None) => (a.px.0, a.qty.0, a.px.0, 0),
        (None, Some(b)) => (b.px.0, 0, b.px.0, b.qty.0),
        (Some(a), Some(b)) => (a.px.0, a.qty.0, b.px.0, b.qty.0),
    };
    let (q0, q1) = (i128::from(q0), i128::from(q1));
    match side {
        Side::Buy => i128::from(p1 >= p0) * q1 - i128::from(p1 <= p0) * q0,
        Side::Sell => -i128::from(p1 <= p0) * q1 + i128::from(p1 >= p0) * q0,
    }
}

/// Multi-level OFI between two states given as the top levels of each side (best first):
/// writes `e_i` into `per_level[i]` (for `i < per_level.len()`) and returns `Σ e_i` over
/// `n_levels` levels.
///
/// # Examples
/// ```
/// use crpbot_book::Level;
/// use crpbot_core::{Px, Qty};
/// use crpbot_strategies::fast::ofi_between;
/// let l = |p, q| Level::new(Px(p), Qty(q));
/// // Bid size grows 5 → 8 at the same price, ask unchanged: e = 8 − 5 = 3.
/// let mut e = [0i128; 1];
/// let ofi = ofi_between(1, &[l(100, 5)], &[l(101, 4)], &[l(100, 8)], &[l(101, 4)], &mut e);
/// assert_eq!((ofi, e[0]), (3, 3));
/// ```
pub fn ofi_between(
    n_levels: usize,
    prev_bid: &[Level],
    prev_ask: &[Level],
    cur_bid: &[Level],
    cur_ask: &[Level],
    per_level: &mut [i128],
) -> i128 {
    let mut total: i128 = 0;
    for i in 0..n_levels {
        let e = ofi_level_side(Side::Buy, prev_bid.get(i).copied(), cur_bid.get(i).copied())
            + ofi_level_side(Side::Sell, prev_ask.get(i).copied(), cur_ask.get(i).copied());
        if let Some(slot) = per_level.get_mut(i) {
            *slot = e;
        }
        total = total.wrapping_add(e);
    }
    total
}

/// What an OFI window accumulates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OfiAcc {
    /// Σ OFI.
    pub sum: i128,
    /// Σ |OFI| (normalises the sum into `[-1, 1]`).
    pub abs_sum: i128,
    /// Book events.
    pub events: i64,
}

impl Acc for OfiAcc {
    #[inline]
    fn add(&mut self, o: &OfiAcc) {
        self.sum = self.sum.wrapping_add(o.sum);
        self.abs_sum = self.abs_sum.wrapping_add(o.abs_sum);
        self.events = self.events.wrapping_add(o.events);
    }
    #[inline]
    fn sub(&mut self, o: &OfiAcc) {
        self.sum = self.sum.wrapping_sub(o.sum);
        self.abs_sum = self.abs_sum.wrapping_sub(o.abs_sum);
        self.events = self.events.wrapping_sub(o.events);
    }
}

/// Streaming multi-level OFI of one instrument: per book event and over a rolling time window.
///
/// **Memory.** Fixed arrays plus one window allocated at construction; no allocation after.
///
/// # Examples
/// ```
/// use crpbot_book::{Book, BookConfig};
/// use crpbot_core::{Px, Qty, Side};
/// use crpbot_strategies::fast::OfiTracker;
/// let mut book = Book::new(BookConfig { window_ticks: 64, far_capacity: 8 });
/// book.set(Side::Buy, Px(100), Qty(5)).unwrap();
/// book.set(Side::Sell, Px(101), Qty(4)).unwrap();
/// let mut ofi = OfiTracker::new(1, 10_000_000_000, 100_000_000);
/// assert_eq!(ofi.update(&book, 0), None); // first state: nothing to difference
/// book.set(Side::Sell, Px(101), Qty(1)).unwrap(); // ask shrinks by 3: buying pressure
/// assert_eq!(ofi.update(&book, 1), Some(3));
/// assert_eq!(ofi.window().sum, 3);
/// ```
#[derive(Clone, Debug)]
pub struct OfiTracker {
    n_levels: usize,
    prev_bid: [Level; MAX_OFI_LEVELS],
    prev_ask: [Level; MAX_OFI_LEVELS],
    n_prev_bid: usize,
    n_prev_ask: usize,
    has_prev: bool,
    per_level: [i128; MAX_OFI_LEVELS],
    window: BucketWindow<OfiAcc>,
}

impl OfiTracker {
    /// A tracker over the top `n_levels` (clamped to `1..=MAX_OFI_LEVELS`) with a rolling
    /// window of `window_ns` in buckets of `bucket_ns`.
    pub fn new(n_levels: usize, window_ns: i64, bucket_ns: i64) -> OfiTracker {
        OfiTracker {
            n_levels: n_levels.clamp(1, MAX_OFI_LEVELS),
            prev_bid: [Level::default(); MAX_OFI_LEVELS],
            prev_ask: [Level::default(); MAX_OFI_LEVELS],
            n_prev_bid: 0,
            n_prev_ask: 0,
            has_prev: false,
            per_level: [0; MAX_OFI_LEVELS],
            window: BucketWindow::new(window_ns, bucket_ns),
        }
    }

    /// Levels followed.
    pub fn n_levels(&self) -> usize {
        self.n_levels
    }

    /// Takes the book's new state at `ts_ns`; returns this event's OFI, or `None` for the first
    /// two-sided state and for one-sided or empty books (which also reset the tracker).
    pub fn update(&mut self, book: &Book, ts_ns: i64) -> Option<i128> {
        let n = self.n_levels;
        let mut bid = [Level::default(); MAX_OFI_LEVELS];
        let mut ask = [Level::default(); MAX_OFI_LEVELS];
        let nb = book.top(Side::Buy, &mut bid[..n]);
        let na = book.top(Side::Sell, &mut ask[..n]);
        self.window.advance(ts_ns);
        if nb == 0 || na == 0 {
            self.has_prev = false;
            return None;
        }
        let out = self.has_prev.then(|| {
            ofi_between(
                n,
                &self.prev_bid[..self.n_prev_bid],
                &self.prev_ask[..self.n_prev_ask],
                &bid[..nb],
                &ask[..na],
                &mut self.per_level,
            )
        });
        self.prev_bid = bid;
        self.prev_ask = ask;
        self.n_prev_bid = nb;
        self.n_prev_ask = na;
        self.has_prev = true;
        if let Some(e) = out {
            self.window.add(ts_ns, OfiAcc { sum: e, abs_sum: e.wrapping_abs(), events: 1 });
        }
        out
    }

    /// `e_i` of the last event, level by level (best first; `n_levels` entries).
    pub fn per_level(&self) -> &[i128] {
        &self.per_level[..self.n_levels]
    }

    /// The rolling window's sums (as of the last update).
    pub fn window(&self) -> OfiAcc {
        self.window.sum()
    }

    /// Window OFI normalised by Σ|OFI|, in `[-1, 1]`; `None` when the window holds no flow.
    pub fn window_norm(&self) -> Option<f64> {
        let w = self.window.sum();
        (w.abs_sum > 0).then(|| (w.sum as f64 / w.abs_sum as f64).clamp(-1.0, 1.0))
    }

    /// Forgets the previous state and the window.
    pub fn reset(&mut self) {
        self.has_prev = false;
        self.window.clear();
    }
}
