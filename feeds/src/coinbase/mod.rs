//! Coinbase Advanced Trade market data: decoder, per-connection sequencing and replay.
//!
//! * [`CoinbaseDecoder`]: one websocket frame (simd-json tape, reused buffers, no allocation
//!   once warm) to integer-tick events: `l2_data` snapshots and updates (`side` `bid`/`offer`,
//!   `new_quantity` is the absolute size, `"0"` removes), `market_trades`, `ticker` (→ [`Bbo`]),
//!   `heartbeats` (counter as a number or a string), `subscriptions`; `candles`, `ticker_batch`,
//!   `status` and unknown channels are only sequenced and counted; `{"type":"error"}` is counted.
//!   Timestamps are RFC 3339 with nanoseconds, parsed exactly by [`parse_rfc3339_ns`].
//! * [`CoinbaseSync`]: PROTOCOLS.md §1.7 — one `last_seq` per connection across all channels;
//!   duplicates dropped, a gap makes every book of the connection `Stale` and is not applied;
//!   each `snapshot` event rebuilds its product's book.
//! * [`CoinbaseReplay`] / [`replay_coinbase`]: capture files (see [`crate::capture`]) through
//!   both into a [`crate::books::BookSet`] and a [`crate::replay::ReplaySink`].
//!
//! # Trade aggressor
//!
//! Coinbase documents `market_trades.side` as the **maker's** side; some third-party clients
//! treat it as the taker's. Measured on `venue-captures/COINBASE.jsonl.zst` (test
//! `coinbase_trade_side_is_the_makers` in `tests/golden_coinbase.rs`): of the 79 live trades,
//! every one that printed at the touch of the book rebuilt at that moment did so on the side
//! the documented meaning predicts — `SELL` trades at the best ask (48 of 48: a resting
//! seller was lifted, the taker bought) and `BUY` trades at the best bid (23 of 23), none the
//! other way round; of the other 8, 7 printed inside the spread (the touch had already been
//! updated away) and 1 came before the first book snapshot. So `side` is the
//! maker side, and [`Trade::aggressor`](crpbot_core::Trade) is its opposite:
//! `"BUY"` → `Side::Sell`, `"SELL"` → `Side::Buy`.
//!
//! [`Bbo`]: crpbot_core::Bbo

mod decode;
mod replay;
mod sync;
mod time;

pub use decode::{Channel, CoinbaseDecoder, CoinbaseDecoderConfig, CoinbaseMsg, Envelope, L2Event};
pub use replay::{CoinbaseFrames, CoinbaseReplay, replay_coinbase, starts_connection};
pub use sync::{CoinbaseSync, CoinbaseSyncStats, MsgOutcome};
pub use time::{TimeError, parse_rfc3339_ns};
