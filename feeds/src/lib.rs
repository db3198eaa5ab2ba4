//! crpbot-feeds: venue decoders, book synchronisation and recorded-feed readers.
//!
//! Data flow for one venue message:
//! `frame bytes → decoder (simd-json, integer ticks/lots) → DepthSync (sequence rules) →
//! MarketEvent stream → BookSet (books + published state)`.
//!
//! * [`binance`]: Binance spot and USDⓈ-M combined-stream frames and REST snapshots.
//! * [`sync`]: the official local-book procedures (buffer, bridge, continuity, gaps).
//! * [`books`]: per-instrument books and the rule that only synced, uncrossed books publish.
//! * [`recording`]: `<ts_ns> <json>` (gzip) recordings.
//! * [`replay`]: recordings through all of the above, with a summary.
//! * [`coinbase`]: Coinbase Advanced Trade decoder, per-connection sequencing and replay.
//! * [`capture`]: zstd JSONL venue captures (`{"t":"recv","ts":..,"data":..}`).
//! * [`sim`]: the built-in market simulator (same event stream as a venue).
//! * [`session`]: live venue sessions (websocket, REST snapshots, reconnects) into SPSC rings.
//!
//! Invariant: prices and sizes leave this crate as integers; a book that is not `Synced` and
//! uncrossed is never published as valid. Boundary: this crate (with the journal writer and
//! the tools binary) is the only one that touches files and sockets.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod binance;
pub mod books;
pub mod capture;
pub mod coinbase;
pub mod recording;
pub mod replay;
pub mod session;
pub mod sim;
pub mod sync;
