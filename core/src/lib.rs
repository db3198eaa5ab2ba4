//! crpbot-core: the vocabulary every other crpbot crate speaks.
//!
//! * [`Px`] and [`Qty`]: prices in ticks and sizes in lots, as `i64` newtypes. Decimal text is
//!   parsed straight into them by a [`Scale`] (no float on the way) and formatted back exactly.
//! * [`Instrument`] and [`Registry`]: venue, symbol, tick size and lot size, from configuration
//!   with defaults for the recorded symbols.
//! * [`MarketEvent`] and its parts: the normalized, `Copy`, `#[repr(C)]`, fixed-size events that
//!   cross thread boundaries through SPSC rings.
//! * [`OrderIntent`], [`Fill`] and [`Money`]: what strategies ask for and what venues do, with
//!   money as exact integers of 10⁻⁸ quote units.
//! * [`Clock`]: time is injected, with a live and a replay implementation.
//!
//! Invariant: this crate depends on no other workspace crate and performs no I/O.
#![forbid(unsafe_code)]

mod clock;
mod event;
mod fixed;
mod instrument;
mod order;
pub mod pipeline;

pub use clock::{Clock, LiveClock, ReplayClock};
pub use event::{
    Bbo, BookSnapshot, BookState, BookStateChange, LevelUpdate, MarkPrice, MarketEvent, Side,
    StateReason, Trade, level_flags,
};
pub use fixed::{ParseError, Px, Qty, Scale, ScaleError};
pub use instrument::{
    ConfigError, Instrument, InstrumentId, Registry, Symbol, SymbolError, Venue, VenueParseError,
};
pub use order::{
    ClientOrderId, EquitySnapshot, Fill, IntentAction, Liquidity, Money, OrderIntent, OrderType,
    PositionSnapshot, RiskVerdict, SignalRecord, StrategyId,
};
