//! crpbot-risk: the inline circuit breaker, the paper venue and performance metrics.
//!
//! * [`RiskEngine`]: every order intent passes [`RiskEngine::check`] before a venue. Per-trade
//!   risk, position notional (counting working orders), open positions, FTMO daily and total
//!   loss floors on equity (Prague-midnight day boundary, [`prague_day`]), an order-rate
//!   [`TokenBucket`], order size and price collars, stale/unsynced/crossed books, duplicate
//!   intents, a correlation guard and a latching kill switch. Every [`Verdict`] carries a
//!   stable [`VerdictCode`]. A halt returns cancel and flatten actions
//!   ([`RiskEngine::take_halt_actions`]) and only an [`OperatorToken`] re-arms it.
//! * [`PositionSizer`] and [`ExitManager`]: fractional Kelly sizing and exit rules.
//! * [`PaperVenue`]: fills accepted orders against the live book with latency, queue position,
//!   fees and slippage, and keeps exact positions, PnL and an equity curve.
//! * [`metrics`]: per-strategy and overall performance statistics, serializable to JSON.
//!
//! Invariant: after construction, `check`, the engine's event methods and the paper venue's
//! event methods do not allocate (tested with a counting allocator).
//! Boundary: depends on crpbot-core and crpbot-book only. crpbot-strategies does not depend on
//! this crate, so no strategy can read or change a limit or clear a halt; re-arming needs the
//! [`OperatorToken`] that [`RiskEngine::new`] hands to the pipeline's builder.
//!
//! # Fail closed
//! Configuration with NaN, infinite, zero or negative values is refused at construction
//! ([`RiskConfigError`]). At check time, zero/negative sizes and prices, a missing mid, a book
//! that is stale, unsynced, crossed or locked, and non-positive equity each reject with their
//! own code. A correlation set to NaN counts as fully correlated.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod bucket;
mod code;
mod config;
mod engine;
mod idmap;
mod ledger;
pub mod metrics;
mod operator;
mod paper;
mod prague;
mod sizing;

pub use bucket::TokenBucket;
pub use code::{HaltCause, Verdict, VerdictCode};
pub use config::{DailyAnchor, DailyBase, RiskConfig, RiskConfigError};
pub use engine::{FLATTEN_ID_BASE, MarketCtx, RiskCounters, RiskEngine, RiskSnapshot};
pub use ledger::Position;
pub use operator::{KillFlag, KillSwitch, OperatorToken, RearmError};
pub use paper::{ClosedTrade, PaperConfig, PaperStats, PaperVenue, SubmitError};
pub use prague::{next_prague_midnight_ns, prague_day, prague_offset_ns};
pub use sizing::{ExitAction, ExitConfig, ExitManager, PositionSizer};
