//! crpbot-strategies: signals and strategies.
//!
//! * [`fast`]: the fast lane's streaming, allocation-free signals on book and trade events (order-flow
//!   imbalance, microprice, depth imbalance, VWAP, whale detection, volume profile) and the
//!   strategies built on them (order-flow composite, microstructure scalping, mean reversion,
//!   BTC–ETH statistical arbitrage), emitting order intents with reason codes;
//! * [`swing`]: the swing lane — candles, indicators, the eleven statistical theories and swing
//!   backtests.
//!
//! Boundary: depends on crpbot-core (and crpbot-book for reads); it can never reach risk
//! configuration or clear a halt — crpbot-risk is not a dependency.
#![forbid(unsafe_code)]

pub mod fast;
pub mod swing;
