//! Normalized market events.
//!
//! Every event is `Copy`, `#[repr(C)]` and fixed-size, so it can cross threads through an SPSC
//! ring and be journaled as bytes. Timestamps are nanoseconds since the Unix epoch:
//! `ts_exch_ns` is the venue's event time, `ts_local_ns` the local receive time.
//!
//! A venue snapshot of arbitrary depth is carried as one [`BookSnapshot`] header followed by its
//! levels as [`LevelUpdate`]s flagged [`level_flags::SNAPSHOT`]; the last level of any venue
//! message carries [`level_flags::LAST`], which is when a book may publish.

use crate::fixed::{Px, Qty};
use crate::instrument::InstrumentId;

/// Order or book side. On a book, `Buy` is the bid side and `Sell` the ask side; on a trade it
/// is the aggressor's (taker's) side.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// Bid side / buyer.
    Buy = 0,
    /// Ask side / seller.
    Sell = 1,
}

impl Side {
    /// The other side.
    #[inline]
    pub const fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// +1 for `Buy`, −1 for `Sell`.
    #[inline]
    pub const fn sign(self) -> i64 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
        }
    }

    /// 0 for `Buy`, 1 for `Sell`: an index into per-side arrays.
    #[inline]
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// Flags of a [`LevelUpdate`].
pub mod level_flags {
    /// The last level of its venue message: the book is consistent after applying it.
    pub const LAST: u8 = 1;
    /// Part of a snapshot announced by a [`crate::BookSnapshot`].
    pub const SNAPSHOT: u8 = 2;
}

/// Start of a full-book snapshot: the book is cleared, then `n_bids + n_asks` snapshot levels
/// follow.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookSnapshot {
    /// Venue time (0 where the venue gives none, as Binance spot's REST snapshot).
    pub ts_exch_ns: i64,
    /// Local receive time.
    pub ts_local_ns: i64,
    /// Venue sequence the snapshot is valid at (`lastUpdateId`, `sequence_num`).
    pub update_id: u64,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Padding, always zero.
    pub _pad: u16,
    /// Bid levels that follow.
    pub n_bids: u32,
    /// Ask levels that follow.
    pub n_asks: u32,
}

/// Set the absolute size of one price level (`qty == 0` removes it).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LevelUpdate {
    /// Venue time.
    pub ts_exch_ns: i64,
    /// Local receive time.
    pub ts_local_ns: i64,
    /// Venue update id of the message carrying it (Binance `u`).
    pub update_id: u64,
    /// Price level.
    pub px: Px,
    /// New absolute size at the level.
    pub qty: Qty,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Book side.
    pub side: Side,
    /// [`level_flags`].
    pub flags: u8,
    /// Padding, always zero.
    pub _pad: u32,
}

impl LevelUpdate {
    /// True when this level ends its venue message.
    #[inline]
    pub const fn is_last(&self) -> bool {
        self.flags & level_flags::LAST != 0
    }

    /// True when this level belongs to a snapshot.
    #[inline]
    pub const fn is_snapshot(&self) -> bool {
        self.flags & level_flags::SNAPSHOT != 0
    }
}

/// A public trade.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trade {
    /// Venue time of the trade.
    pub ts_exch_ns: i64,
    /// Local receive time.
    pub ts_local_ns: i64,
    /// Venue trade id.
    pub trade_id: u64,
    /// Price.
    pub px: Px,
    /// Size.
    pub qty: Qty,
    /// Instrument.
    pub instrument: InstrumentId,
    /// The taker's side.
    pub aggressor: Side,
    /// Padding, always zero.
    pub _pad: [u8; 5],
}

/// The venue's own best bid and offer.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bbo {
    /// Venue time (0 where the venue gives none).
    pub ts_exch_ns: i64,
    /// Local receive time.
    pub ts_local_ns: i64,
    /// Venue update id (Binance `u`).
    pub update_id: u64,
    /// Best bid price.
    pub bid_px: Px,
    /// Size at the best bid.
    pub bid_qty: Qty,
    /// Best ask price.
    pub ask_px: Px,
    /// Size at the best ask.
    pub ask_qty: Qty,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Padding, always zero.
    pub _pad: [u8; 6],
}

/// Perpetual-futures market context: mark price, index price and funding (Binance USDⓈ-M
/// `markPriceUpdate`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarkPrice {
    /// Venue time.
    pub ts_exch_ns: i64,
    /// Local receive time.
    pub ts_local_ns: i64,
    /// Mark price, in ticks of the instrument.
    pub mark_px: Px,
    /// Index price, in ticks of the instrument (off-grid index prices are rounded toward zero).
    pub index_px: Px,
    /// Funding rate per funding interval, in units of 10⁻¹² (`"0.00010000"` is 100,000,000).
    pub funding_rate_e12: i64,
    /// Next funding time (0 where the venue gives none).
    pub next_funding_ns: i64,
    /// Instrument.
    pub instrument: InstrumentId,
    /// Padding, always zero.
    pub _pad: [u8; 6],
}

/// The synchronisation state of one instrument's book. Only `Synced` books are published as
/// valid.
#[repr(u8)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BookState {
    /// Waiting for a snapshot and a bridging update.
    #[default]
    Syncing = 0,
    /// Exact and continuous with the venue's stream.
    Synced = 1,
    /// A gap, stall or crossed book was seen: the book must not be used.
    Stale = 2,
    /// A new snapshot has been requested after being stale.
    Resyncing = 3,
}

/// Why a book changed state.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StateReason {
    /// Session start.
    Start = 0,
    /// A snapshot and a bridging update were applied.
    SnapshotApplied = 1,
    /// A sequence gap.
    Gap = 2,
    /// The book came out crossed or locked.
    Crossed = 3,
    /// No message within the stall deadline.
    Stall = 4,
    /// The connection dropped.
    Disconnect = 5,
    /// The snapshot was older than the buffered stream.
    StaleSnapshot = 6,
    /// A level could not be stored or decoded.
    BadLevel = 7,
}

/// A change of [`BookState`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookStateChange {
    /// Venue time of the triggering message (0 if none).
    pub ts_exch_ns: i64,
    /// Local time of the change.
    pub ts_local_ns: i64,
    /// Last update id applied before the change.
    pub update_id: u64,
    /// Instrument.
    pub instrument: InstrumentId,
    /// New state.
    pub state: BookState,
    /// Why.
    pub reason: StateReason,
    /// Padding, always zero.
    pub _pad: u32,
}

/// Any normalized market event.
///
/// Deliberately exhaustive: every consumer (book, strategies, journal codec) matches all
/// variants, so adding one is a compile error wherever it must be handled.
#[repr(C, u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarketEvent {
    /// Snapshot header; its levels follow.
    Snapshot(BookSnapshot),
    /// One level change.
    Level(LevelUpdate),
    /// A trade.
    Trade(Trade),
    /// Venue best bid/offer.
    Bbo(Bbo),
    /// Book state transition.
    State(BookStateChange),
    /// Mark price and funding (perpetual futures).
    Mark(MarkPrice),
}

impl MarketEvent {
    /// The instrument the event concerns.
    #[inline]
    pub const fn instrument(&self) -> InstrumentId {
        match self {
            MarketEvent::Snapshot(e) => e.instrument,
            MarketEvent::Level(e) => e.instrument,
            MarketEvent::Trade(e) => e.instrument,
            MarketEvent::Bbo(e) => e.instrument,
            MarketEvent::State(e) => e.instrument,
            MarketEvent::Mark(e) => e.instrument,
        }
    }

    /// Local receive time.
    #[inline]
    pub const fn ts_local_ns(&self) -> i64 {
        match self {
            MarketEvent::Snapshot(e) => e.ts_local_ns,
            MarketEvent::Level(e) => e.ts_local_ns,
            MarketEvent::Trade(e) => e.ts_local_ns,
            MarketEvent::Bbo(e) => e.ts_local_ns,
            MarketEvent::State(e) => e.ts_local_ns,
            MarketEvent::Mark(e) => e.ts_local_ns,
        }
    }

    /// Venue time.
    #[inline]
    pub const fn ts_exch_ns(&self) -> i64 {
        match self {
            MarketEvent::Snapshot(e) => e.ts_exch_ns,
            MarketEvent::Level(e) => e.ts_exch_ns,
            MarketEvent::Trade(e) => e.ts_exch_ns,
            MarketEvent::Bbo(e) => e.ts_exch_ns,
            MarketEvent::State(e) => e.ts_exch_ns,
            MarketEvent::Mark(e) => e.ts_exch_ns,
        }
    }
}

// Events cross rings by value: keep their sizes fixed and small (a `Bbo` is one cache line;
// the enum adds its 8-byte tag word).
const _: () = assert!(std::mem::size_of::<MarketEvent>() == 72);
const _: () = assert!(std::mem::size_of::<LevelUpdate>() == 48);
const _: () = assert!(std::mem::size_of::<Bbo>() == 64);

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_copy<T: Copy + Send + 'static>() {}

    #[test]
    fn events_are_copy_and_small() {
        assert_copy::<MarketEvent>();
        assert_eq!(std::mem::size_of::<MarketEvent>(), 72);
        assert_eq!(std::mem::align_of::<MarketEvent>(), 8);
    }

    #[test]
    fn accessors_reach_every_variant() {
        let lvl = LevelUpdate {
            ts_exch_ns: 2,
            ts_local_ns: 3,
            update_id: 9,
            px: Px(100),
            qty: Qty(5),
            instrument: InstrumentId(4),
            side: Side::Sell,
            flags: level_flags::LAST,
            _pad: 0,
        };
        let ev = MarketEvent::Level(lvl);
        assert_eq!(ev.instrument(), InstrumentId(4));
        assert_eq!(ev.ts_exch_ns(), 2);
        assert_eq!(ev.ts_local_ns(), 3);
        assert!(lvl.is_last() && !lvl.is_snapshot());
        assert_eq!(Side::Buy.opposite(), Side::Sell);
        assert_eq!(Side::Sell.sign(), -1);
    }
}
