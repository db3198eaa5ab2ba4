//! The fast lane: streaming, allocation-free signals on book and trade events, and the
//! strategies built on them.
//!
//! # Signals
//! * [`OfiTracker`]: multi-level order-flow imbalance (Cont–Kukanov–Stoikov), per event and
//!   over a rolling window;
//! * [`TradeFlow`]: session and rolling VWAP, aggressive buy/sell pressure, volume rates and
//!   whale trades; [`LevelWhales`]: whale orders resting in the book;
//! * [`VolumeProfile`]: POC, value area, high/low volume nodes over fixed price buckets;
//! * [`price_impact`]: the cost of a market order of a given size;
//! * microprice, spread and depth imbalance straight from [`crpbot_book::Book`];
//! * [`InstrumentSignals`] / [`SignalBank`] tie them together into a `Copy` [`Signals`]
//!   snapshot per instrument.
//!
//! # Strategies
//! Four strategies implement [`Strategy`]: [`OfiStrategy`] (`ofi`, order-flow composite),
//! [`ScalpStrategy`] (`scalp`), [`MeanRevStrategy`] (`meanrev`) and [`StatArbStrategy`]
//! (`statarb`, BTC–ETH pair). Each is built from a serde config with the product defaults,
//! emits [`crpbot_core::OrderIntent`]s into a fixed-capacity [`IntentBuf`] with a reason code
//! from its `#[repr(u16)]` reason enum (ofi 1xx, scalp 2xx, meanrev 3xx, statarb 4xx), tracks
//! its own position from fills, sizes entries from a notional (rounded down to the lot) and
//! sets `stop_px` / `take_profit_px` on entries. Entries are market orders capped at the touch
//! ± `max_slippage_bps`; exits are reduce-only. One order per instrument works at a time; an
//! order with no fill after `pending_timeout_ms` is given up (risk refused it). Entries are
//! rate-limited per instrument by `cooldown_ms`. [`FastLane`] runs the bank and the four.
//! [`FastConfig::for_sim`] is the preset for short sessions on the built-in simulator (the
//! defaults trade Binance symbols and warm up over minutes; see its docs).
//!
//! Every rolling window is a [`BucketWindow`]: a ring of time buckets allocated at
//! construction, with exact integer sums.
//!
//! Invariant: after construction nothing here allocates, locks, logs or reads a clock; time
//! comes from event timestamps. Boundary: reads books and trades, emits order intents; never
//! reaches risk configuration.

mod composite;
mod flow;
mod intent;
mod lane;
mod leg;
mod meanrev;
mod ofi;
mod preset;
mod profile;
mod scalp;
mod signals;
mod statarb;
mod stats;
mod window;

pub use composite::{CompositeScore, OfiConfig, OfiReason, OfiStrategy};
pub use intent::{EMPTY_INTENT, INTENT_CAPACITY, IntentBuf, Strategy, StrategyStats};
pub use lane::{FastConfig, FastLane, STRATEGY_OFFSETS, reason_name};
pub use leg::{BuildError, lots_for_notional};
pub use meanrev::{MeanRevConfig, MeanRevReason, MeanRevStrategy};
pub use preset::SIM_TIME_COMPRESSION;
pub use scalp::{ScalpConfig, ScalpReason, ScalpStrategy};
pub use statarb::{PairFit, StatArbConfig, StatArbReason, StatArbStrategy};
pub use stats::{MAX_ADF_LAG, Ring, adf_t, eg_critical_5pct, ols};

pub use flow::{FlowAcc, LevelWhales, TradeFlow, TradeFlowParams, VolAcc};
pub use ofi::{MAX_OFI_LEVELS, OfiAcc, OfiTracker, ofi_between, ofi_level_side};
pub use profile::{ValueArea, VolumeProfile};
pub use signals::{
    InstrumentSignals, PriceImpact, SignalBank, SignalConfig, Signals, price_impact,
};
pub use window::{Acc, BucketWindow};
