//! crpbot-book: the exact L2 order book of one instrument.
//!
//! [`Book`] keeps every level it is told about — nothing is ever silently dropped — and answers
//! the reads a strategy needs (touch, top N, mid, microprice, spread, depth imbalance, cumulative
//! size, market-order fill estimate, crossed/locked state) without allocating.
//! [`reference::RefBook`] is the naive `BTreeMap` model it is tested and benchmarked against.
//!
//! Invariant: a [`Book`] never allocates after construction, except when a far store outgrows
//! its configured capacity, which is counted ([`BookStats::far_grows`]).
//! Boundary: no I/O, no threads, no clocks; prices and sizes arrive as integer ticks and lots.
//!
//! # Design
//!
//! Each side is held in *key space*: `key = px` for bids and `key = −px` for asks, so that on
//! both sides a larger key is a better price and one implementation serves both.
//!
//! **Window.** A side owns `window_ticks` slots (a power of two, default 2^18 = 2,621.44 USDT
//! at a 0.01 tick) of sizes, ring-indexed by `key & (window_ticks − 1)`, covering the keys
//! `lo .. lo + window_ticks`. Setting a level inside the window is a store plus a bitmap bit.
//! Because the window is a ring, moving it never copies slots: only the levels that cross its
//! edge move.
//!
//! **Bitmap.** One occupancy bit per slot in `u64` words, plus a summary word level (one bit
//! per non-empty word). The next level below a removed best is found with `leading_zeros` on
//! at most two partial words and the summary (64 words for 2^18 slots), whatever the gap.
//!
//! **Update path.** An in-window update is one load and one store of the size, a branch-free
//! update of the bitmap word, the summary word and the level count, and one compare with the
//! best: nothing branches on the old size, so consecutive updates' cache misses overlap
//! instead of queueing behind mispredicted branches (on BTCUSDT nine in ten in-window updates
//! add or remove a level, so "does the level exist" is a coin toss). Only an update at or
//! above the best (a new best, or the best removed: a few per cent) takes a second, out-of-line
//! step. The far store and re-centring are out of line and `#[cold]`.
//!
//! **Best.** The best key of each side is cached, so [`Book::best_bid`] / [`Book::best_ask`]
//! are O(1). A removal of the best searches the bitmap downwards; a new better level just
//! replaces it.
//!
//! **Walks.** Reads that walk levels ([`Book::top`], [`Book::depth_imbalance`],
//! [`Book::cum_qty_to`], [`Book::market_fill`]) iterate set bits word by word
//! (`leading_zeros`), jump over empty words with the summary, then continue into the far store
//! from its largest key. [`Book::levels`] is the same walk as an external iterator.
//!
//! **Far store.** Levels below the window (`key < lo`: bids under it, asks over it) live in a
//! per-side sorted store of 64-slot blocks (keys and sizes, ascending) with an index of each
//! block's first key: a lookup is two binary searches, an insert or removal shifts at most one
//! block, a full block splits, and two neighbours that fit in one block merge. Its storage is
//! reserved for `far_capacity` levels at construction. A 1000-level snapshot that spans
//! thousands of dollars is therefore kept exactly. Nothing is ever stored *above* the window: a
//! level better than the window's top re-centres the window first. So the far store's largest
//! key is always the level nearest the window, and the walk best → worst is "window by bitmap,
//! then far store downwards".
//!
//! **Re-centring policy.** After any change of the best, if `best − lo` leaves the guard band
//! `[window/8, window − window/16)`, the window is moved so that `best − lo = 3·window/4`
//! (three quarters of the window for depth behind the touch, one quarter of headroom ahead of
//! it). The hysteresis means the touch must move `3·window/16` ticks ahead or `5·window/8`
//! ticks back before the next re-centre (≈ 492 and 1,638 USDT for BTCUSDT with the default
//! window). Moving ahead pushes the levels leaving the bottom of the window onto the top of the
//! far store (in ascending order, so they append); moving back pops the far levels that enter
//! the window from its top. When a side's window empties, its best comes from the far store,
//! which is below the band, so the window re-centres onto it. The cost of a re-centre is
//! proportional to the levels that move, and it is counted in [`BookStats::recentres`] and
//! [`BookStats::migrated_levels`].
//!
//! **Growth accounting.** The far store reserves, at construction, the blocks that
//! `far_capacity` levels can need in any pattern of inserts and removals (the merge rule keeps
//! at most `2n/64 + 1` blocks for `n` levels). Past that the level is still kept — the store
//! grows (an allocation) — and the growth is counted in [`BookStats::far_grows`], so a monitor
//! can raise `far_capacity`. [`Book::clear`] and `Clone` keep all reservations.
//!
//! **Cost.** `BookStats::far_updates` counts updates that took the far-store path. On the
//! BTCUSDT recording about 2 % of level updates do with the default 2^18-tick window (5 %
//! with 2^16; ETHUSDT: almost none). A far update costs several times an in-window one (two
//! dependent binary searches, a mispredicted branch, a short shift), so the window is sized to
//! keep BTCUSDT's busy depth inside it: 2^18 replays BTCUSDT about 20 % faster than 2^16 in
//! the same session (ETHUSDT alike), at 2 MiB of sizes per side that are only touched where
//! levels are (2^19 and wider were slower again). `benches/apply.rs` replays the recordings into `Book` and `RefBook` side
//! by side and prints the median cost per level update.
//!
//! **Validation.** A negative size, a non-positive price or a price above [`MAX_PX`] is
//! refused with a `Copy` [`ApplyError`], the book left unchanged and the refusal counted.
//! Removing a level that is not there is a normal no-op. Crossed and locked books are stored
//! as told and reported by [`Book::cross_state`]; the feed layer decides to resynchronise.
//!
//! # Examples
//! ```
//! use crpbot_book::{Book, BookConfig, Level};
//! use crpbot_core::{Px, Qty, Side};
//!
//! let mut book = Book::new(BookConfig::default());
//! book.set(Side::Buy, Px(6_183_763), Qty(378_826))?;
//! book.set(Side::Sell, Px(6_183_764), Qty(154_698))?;
//! book.set(Side::Buy, Px(5_685_458), Qty(1_000))?; // ~4,983 USDT away: far store
//! let mut top = [Level::default(); 5];
//! assert_eq!(book.top(Side::Buy, &mut top), 2);
//! assert_eq!(book.spread_ticks(), Some(1));
//! assert_eq!(book.stats().far_levels, 1);
//! # Ok::<(), crpbot_book::ApplyError>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod bits;
mod book;
mod far;
mod ladder;
mod math;
pub mod reference;
mod types;

pub use book::{Book, Levels};
pub use types::{ApplyError, BookConfig, BookStats, CrossState, FillEstimate, Level, MAX_PX};
