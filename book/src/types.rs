//! Plain value types shared by [`crate::Book`] and [`crate::reference::RefBook`].

use crpbot_core::{Px, Qty};

/// One price level: a price and the total size resting there.
///
/// # Examples
/// ```
/// use crpbot_book::Level;
/// use crpbot_core::{Px, Qty};
/// let l = Level { px: Px(100), qty: Qty(3) };
/// assert_eq!(l, Level::new(Px(100), Qty(3)));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Level {
    /// Price in ticks.
    pub px: Px,
    /// Size in lots (always positive for a stored level).
    pub qty: Qty,
}

impl Level {
    /// A level of `qty` lots at `px`.
    #[inline]
    pub const fn new(px: Px, qty: Qty) -> Level {
        Level { px, qty }
    }
}

/// Sizing of a [`crate::Book`]'s preallocated storage.
///
/// # Examples
/// ```
/// use crpbot_book::BookConfig;
/// let cfg = BookConfig::default();
/// assert_eq!(cfg.window_ticks, 1 << 18);
/// assert_eq!(cfg.far_capacity, 8192);
/// let small = BookConfig { window_ticks: 64, ..BookConfig::default() };
/// assert_eq!(small.normalized().window_ticks, 64);
/// assert_eq!(BookConfig { window_ticks: 100, far_capacity: 0 }.normalized().window_ticks, 128);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BookConfig {
    /// Slots of the tick-indexed window, per side. A power of two in
    /// [`BookConfig::MIN_WINDOW_TICKS`]`..=`[`BookConfig::MAX_WINDOW_TICKS`]; other values are
    /// rounded up to the next power of two and clamped into that range.
    pub window_ticks: u32,
    /// Levels the far store of each side holds, in any pattern of inserts and removals, before
    /// it may have to grow (growth is counted in [`BookStats::far_grows`]). The reservation is
    /// made of whole blocks, so it may hold more. At most [`BookConfig::MAX_FAR_CAPACITY`].
    pub far_capacity: u32,
}

impl BookConfig {
    /// Smallest window (one bitmap word).
    pub const MIN_WINDOW_TICKS: u32 = 64;
    /// Largest window (8 MiB of sizes per side).
    pub const MAX_WINDOW_TICKS: u32 = 1 << 20;
    /// Largest preallocated far store (about 512 MiB of address space per side, touched only
    /// as levels arrive); more levels still fit by growth.
    pub const MAX_FAR_CAPACITY: u32 = 1 << 24;

    /// The configuration a book actually uses: `window_ticks` rounded up to a power of two and
    /// clamped to `[MIN_WINDOW_TICKS, MAX_WINDOW_TICKS]`, `far_capacity` clamped to
    /// `MAX_FAR_CAPACITY`.
    pub const fn normalized(self) -> BookConfig {
        let mut w = self.window_ticks;
        if w < Self::MIN_WINDOW_TICKS {
            w = Self::MIN_WINDOW_TICKS;
        }
        if w > Self::MAX_WINDOW_TICKS {
            w = Self::MAX_WINDOW_TICKS;
        }
        let far = if self.far_capacity > Self::MAX_FAR_CAPACITY {
            Self::MAX_FAR_CAPACITY
        } else {
            self.far_capacity
        };
        BookConfig { window_ticks: w.next_power_of_two(), far_capacity: far }
    }
}

impl Default for BookConfig {
    /// 2^18 ticks (2,621 USDT at BTCUSDT's 0.01 tick: about ±2 % of its price within the
    /// window; 2 MiB of sizes and 32 KiB of bitmap per side) and 8,192 far levels per side.
    fn default() -> BookConfig {
        BookConfig { window_ticks: 1 << 18, far_capacity: 8192 }
    }
}

/// Why a level update was refused. The book is unchanged when this is returned.
///
/// # Examples
/// ```
/// use crpbot_book::{ApplyError, Book, BookConfig};
/// use crpbot_core::{Px, Qty, Side};
/// let mut book = Book::new(BookConfig::default());
/// assert_eq!(book.set(Side::Buy, Px(0), Qty(1)), Err(ApplyError::NonPositivePrice));
/// assert_eq!(book.set(Side::Buy, Px(5), Qty(-1)), Err(ApplyError::NegativeQty));
/// assert_eq!(book.level_count(Side::Buy), 0);
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ApplyError {
    /// The size was below zero.
    #[error("negative level size")]
    NegativeQty,
    /// The price was zero or negative.
    #[error("non-positive level price")]
    NonPositivePrice,
    /// The price was above [`MAX_PX`] (keeps all tick arithmetic free of overflow).
    #[error("level price above the supported range")]
    PriceTooHigh,
}

/// The highest price a book accepts, in ticks (2^60, far above any real instrument).
pub const MAX_PX: Px = Px(1 << 60);

/// Checks a level's price and size the same way for every book implementation.
#[inline(always)]
pub(crate) fn validate(px: Px, qty: Qty) -> Result<(), ApplyError> {
    // One unsigned compare for `1..=MAX_PX` and one sign test on the happy path.
    if ((px.0.wrapping_sub(1) as u64) < MAX_PX.0 as u64) & (qty.0 >= 0) {
        Ok(())
    } else {
        Err(invalid(px, qty))
    }
}

#[cold]
#[inline(never)]
fn invalid(px: Px, qty: Qty) -> ApplyError {
    if qty.0 < 0 {
        ApplyError::NegativeQty
    } else if px.0 <= 0 {
        ApplyError::NonPositivePrice
    } else {
        ApplyError::PriceTooHigh
    }
}

/// Whether the two touches form a publishable book.
///
/// The book stores what it is told, crossed or not; callers check this before publishing and
/// resynchronise on `Locked` or `Crossed`.
///
/// # Examples
/// ```
/// use crpbot_book::CrossState;
/// assert!(CrossState::Normal.is_valid());
/// assert!(!CrossState::Crossed.is_valid());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CrossState {
    /// No level on either side.
    Empty,
    /// Levels on one side only.
    OneSided,
    /// Best bid strictly below best ask.
    Normal,
    /// Best bid equal to best ask.
    Locked,
    /// Best bid above best ask.
    Crossed,
}

impl CrossState {
    /// The state given the two best prices.
    #[inline]
    pub fn of(bid: Option<Px>, ask: Option<Px>) -> CrossState {
        match (bid, ask) {
            (None, None) => CrossState::Empty,
            (Some(_), None) | (None, Some(_)) => CrossState::OneSided,
            (Some(b), Some(a)) if b < a => CrossState::Normal,
            (Some(b), Some(a)) if b == a => CrossState::Locked,
            _ => CrossState::Crossed,
        }
    }

    /// True for `Normal` and `OneSided`: the book may be published as valid.
    #[inline]
    pub const fn is_valid(self) -> bool {
        matches!(self, CrossState::Normal | CrossState::OneSided)
    }
}

/// The outcome of walking one side of the book with a market order.
///
/// # Examples
/// ```
/// use crpbot_book::{Book, BookConfig};
/// use crpbot_core::{Px, Qty, Side};
/// let mut book = Book::new(BookConfig::default());
/// book.set(Side::Sell, Px(100), Qty(2)).unwrap();
/// book.set(Side::Sell, Px(102), Qty(2)).unwrap();
/// let f = book.market_fill(Side::Buy, Qty(3)).unwrap();
/// assert_eq!((f.filled, f.levels, f.worst_px, f.notional), (Qty(3), 2, Px(102), 302));
/// assert!((f.avg_px_ticks - 100.666_666).abs() < 1e-5);
/// assert!((f.slippage_ticks - 0.666_666).abs() < 1e-5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FillEstimate {
    /// Size filled (less than asked when the book is too thin).
    pub filled: Qty,
    /// Levels touched.
    pub levels: u32,
    /// Average fill price in ticks (`notional / filled`).
    pub avg_px_ticks: f64,
    /// Price of the last (worst) level touched.
    pub worst_px: Px,
    /// How much worse than the touch the average is, in ticks (never negative): for a buy
    /// `avg − best_ask`, for a sell `best_bid − avg`.
    pub slippage_ticks: f64,
    /// Σ px × qty over the fill, in tick·lot units (exact).
    pub notional: i128,
}

/// Counters of a [`crate::Book`]'s storage behaviour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BookStats {
    /// Levels currently held in the far stores (both sides).
    pub far_levels: u64,
    /// Levels currently held in the windows (both sides).
    pub window_levels: u64,
    /// Times a window was re-centred.
    pub recentres: u64,
    /// Levels moved between a window and its far store by re-centring.
    pub migrated_levels: u64,
    /// Updates (including removals of absent levels) that landed beyond the window, in a far
    /// store: the slow path, a binary search and possibly a shift of the store.
    pub far_updates: u64,
    /// Times a far store was full and had to grow (each one is an allocation).
    pub far_grows: u64,
    /// Updates refused with an [`ApplyError`].
    pub rejected: u64,
}
