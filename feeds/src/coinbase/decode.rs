//! The Coinbase Advanced Trade frame decoder (simd-json tape, reused buffers).

use crpbot_core::{
    Bbo, InstrumentId, LevelUpdate, Px, Qty, Registry, Scale, Side, Trade, Venue, level_flags,
};
use simd_json::prelude::{ValueAsScalar, ValueIntoString};
use simd_json::tape::{Tape, Value};

use super::time::parse_rfc3339_ns;
use crate::binance::DecodeError;

/// The channel a message came on (`channel` of the envelope).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// `l2_data` (subscribed as `level2`).
    L2Data,
    /// `market_trades`.
    MarketTrades,
    /// `ticker`.
    Ticker,
    /// `ticker_batch` (no best bid/ask: counted, not decoded).
    TickerBatch,
    /// `heartbeats`.
    Heartbeats,
    /// `subscriptions` (acks).
    Subscriptions,
    /// `candles` (counted, not decoded).
    Candles,
    /// `status` (counted, not decoded).
    Status,
    /// Any other channel: clients must ignore unknown types, but it still carries a sequence.
    Other,
}

impl Channel {
    fn of(name: &str) -> Channel {
        match name {
            "l2_data" => Channel::L2Data,
            "market_trades" => Channel::MarketTrades,
            "ticker" => Channel::Ticker,
            "ticker_batch" => Channel::TickerBatch,
            "heartbeats" => Channel::Heartbeats,
            "subscriptions" => Channel::Subscriptions,
            "candles" => Channel::Candles,
            "status" => Channel::Status,
            _ => Channel::Other,
        }
    }
}

/// The envelope every sequenced message has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// Channel.
    pub channel: Channel,
    /// `sequence_num`: per connection, contiguous across channels (PROTOCOLS.md §1.7).
    pub seq: u64,
    /// `timestamp` (the message's send time) in nanoseconds.
    pub ts_exch_ns: i64,
    /// Local receive time.
    pub ts_local_ns: i64,
}

/// One product's part of an `l2_data` message; its levels are
/// `decoder.levels()[start .. start + n_bids + n_asks]`, in wire order, the last one flagged
/// [`level_flags::LAST`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L2Event {
    /// Product.
    pub instrument: InstrumentId,
    /// `snapshot` (the whole book, flagged [`level_flags::SNAPSHOT`]) or `update`.
    pub snapshot: bool,
    /// First level's index in the level buffer.
    pub start: u32,
    /// Bid entries.
    pub n_bids: u32,
    /// Offer entries.
    pub n_asks: u32,
}

impl L2Event {
    /// The index range of its levels in [`CoinbaseDecoder::levels`].
    #[inline]
    pub fn range(&self) -> std::ops::Range<usize> {
        let start = self.start as usize;
        start..start + self.n_bids as usize + self.n_asks as usize
    }
}

/// One decoded Coinbase message. The variable-size parts stay in the decoder's buffers.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoinbaseMsg {
    /// `l2_data`: events in [`CoinbaseDecoder::l2_events`].
    L2(Envelope),
    /// `market_trades`: [`CoinbaseDecoder::trades`] (from `update` events) and
    /// [`CoinbaseDecoder::snapshot_trades`] (the recent history sent first).
    Trades(Envelope),
    /// `ticker`: one [`Bbo`] per ticker in [`CoinbaseDecoder::tickers`].
    Ticker(Envelope),
    /// `heartbeats` with its `heartbeat_counter`.
    Heartbeat {
        /// Envelope.
        env: Envelope,
        /// `heartbeat_counter` (a number or a string on the wire).
        counter: u64,
    },
    /// `subscriptions` ack.
    Subscriptions(Envelope),
    /// `candles`, `ticker_batch`, `status` or an unknown channel: only sequenced.
    Ignored(Envelope),
    /// `{"type":"error",...}`: a venue error, carrying no sequence number.
    VenueError,
}

impl CoinbaseMsg {
    /// The envelope, except for a venue error.
    pub fn envelope(&self) -> Option<Envelope> {
        match *self {
            CoinbaseMsg::L2(e)
            | CoinbaseMsg::Trades(e)
            | CoinbaseMsg::Ticker(e)
            | CoinbaseMsg::Subscriptions(e)
            | CoinbaseMsg::Ignored(e) => Some(e),
            CoinbaseMsg::Heartbeat { env, .. } => Some(env),
            CoinbaseMsg::VenueError => None,
        }
    }
}

/// Sizing of a [`CoinbaseDecoder`].
#[derive(Clone, Copy, Debug)]
pub struct CoinbaseDecoderConfig {
    /// Largest frame accepted, in bytes (default 16 MiB: the BTC-USD `l2_data` snapshot of the
    /// capture, 46,000 levels, is 5.1 MB).
    pub max_frame_bytes: usize,
    /// Levels the level buffer holds without growing (default 65,536).
    pub level_capacity: usize,
    /// Most levels accepted in one message (default 1,048,576).
    pub max_levels: usize,
    /// Most trades or tickers accepted in one message (default 4,096).
    pub max_items: usize,
    /// Frame size the parse buffers are sized for at construction (default 64 KiB).
    pub typical_frame_bytes: usize,
}

impl Default for CoinbaseDecoderConfig {
    fn default() -> Self {
        CoinbaseDecoderConfig {
            max_frame_bytes: 16 << 20,
            level_capacity: 1 << 16,
            max_levels: 1 << 20,
            max_items: 4096,
            typical_frame_bytes: 64 << 10,
        }
    }
}

type Inst = (InstrumentId, Scale, Scale);

/// Decodes Coinbase Advanced Trade market-data frames against an instrument registry.
///
/// Owns its parse buffers and output buffers, sized at construction and reused: once warm,
/// decoding allocates nothing. `client_id` may be absent or `""` (it is not read).
///
/// # Examples
/// ```
/// use crpbot_core::Registry;
/// use crpbot_feeds::coinbase::{CoinbaseDecoder, CoinbaseMsg};
/// let reg = Registry::with_defaults();
/// let mut dec = CoinbaseDecoder::new(&reg, Default::default());
/// let mut frame = br#"{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":7,"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"offer","event_time":"2023-02-09T20:32:50.7Z","price_level":"21921.73","new_quantity":"0"}]}]}"#.to_vec();
/// let CoinbaseMsg::L2(env) = dec.decode(&mut frame, 42).unwrap() else { panic!() };
/// assert_eq!(env.seq, 7);
/// assert_eq!(dec.l2_events().len(), 1);
/// assert!(dec.levels()[0].qty.is_zero() && dec.levels()[0].is_last());
/// ```
pub struct CoinbaseDecoder {
    instruments: Vec<(crpbot_core::Symbol, InstrumentId, Scale, Scale)>,
    buffers: simd_json::Buffers,
    tape: Option<Tape<'static>>,
    levels: Vec<LevelUpdate>,
    l2_events: Vec<L2Event>,
    trades: Vec<Trade>,
    snapshot_trades: Vec<Trade>,
    tickers: Vec<Bbo>,
    envelope: Option<Envelope>,
    cfg: CoinbaseDecoderConfig,
    grows: u64,
    unknown_products: u64,
}

impl std::fmt::Debug for CoinbaseDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoinbaseDecoder")
            .field("instruments", &self.instruments.len())
            .field("cfg", &self.cfg)
            .field("grows", &self.grows)
            .field("unknown_products", &self.unknown_products)
            .finish_non_exhaustive()
    }
}

fn field<'t, 'i>(obj: Value<'t, 'i>, key: &'static str) -> Result<Value<'t, 'i>, DecodeError> {
    obj.get(key).ok_or(DecodeError::Field(key))
}

fn str_field<'i>(obj: Value<'_, 'i>, key: &'static str) -> Result<&'i str, DecodeError> {
    field(obj, key)?.into_string().ok_or(DecodeError::Field(key))
}

fn num(scale: Scale, v: &str, key: &'static str) -> Result<i64, DecodeError> {
    scale.parse_units(v.as_bytes()).map_err(|err| DecodeError::Number { field: key, err })
}

fn ts(v: &str, key: &'static str) -> Result<i64, DecodeError> {
    parse_rfc3339_ns(v.as_bytes()).map_err(|_| DecodeError::Field(key))
}

/// A decimal integer carried as a JSON number or a string (`trade_id`, `heartbeat_counter`).
fn uint(v: Value<'_, '_>, key: &'static str) -> Result<u64, DecodeError> {
    if let Some(n) = v.as_u64() {
        return Ok(n);
    }
    let s = v.into_string().ok_or(DecodeError::Field(key))?;
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecodeError::Field(key));
    }
    Ok(s.bytes().fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0')))
}

impl CoinbaseDecoder {
    /// A decoder for the Coinbase instruments of `registry`.
    pub fn new(registry: &Registry, cfg: CoinbaseDecoderConfig) -> CoinbaseDecoder {
        let instruments =
            registry.of_venue(Venue::Coinbase).map(|i| (i.symbol, i.id, i.price, i.qty)).collect();
        CoinbaseDecoder {
            instruments,
            buffers: simd_json::Buffers::new(cfg.typical_frame_bytes),
            tape: Some(Tape::null().reset()),
            levels: Vec::with_capacity(cfg.level_capacity),
            l2_events: Vec::with_capacity(64),
            trades: Vec::with_capacity(1024),
            snapshot_trades: Vec::with_capacity(1024),
            tickers: Vec::with_capacity(64),
            envelope: None,
            cfg,
            grows: 0,
            unknown_products: 0,
        }
    }

    /// Levels of the last `l2_data` message, all events, in wire order.
    pub fn levels(&self) -> &[LevelUpdate] {
        &self.levels
    }

    /// Per-product events of the last `l2_data` message.
    pub fn l2_events(&self) -> &[L2Event] {
        &self.l2_events
    }

    /// Trades of the `update` events of the last `market_trades` message.
    pub fn trades(&self) -> &[Trade] {
        &self.trades
    }

    /// Trades of the `snapshot` events (recent history) of the last `market_trades` message.
    pub fn snapshot_trades(&self) -> &[Trade] {
        &self.snapshot_trades
    }

    /// Best bid/offers of the last `ticker` message.
    pub fn tickers(&self) -> &[Bbo] {
        &self.tickers
    }

    /// The envelope of the last frame, if it could be read — also when its body could not be
    /// decoded, so the sequence can still be accounted for.
    pub fn envelope(&self) -> Option<Envelope> {
        self.envelope
    }

    /// How often a buffer had to grow past its construction size.
    pub fn grows(&self) -> u64 {
        self.grows
    }

    /// Events, trades and tickers skipped because their product is not in the registry.
    pub fn unknown_products(&self) -> u64 {
        self.unknown_products
    }

    /// Resolves a product id (any case) to an instrument.
    #[inline]
    pub fn instrument(&self, product: &[u8]) -> Option<InstrumentId> {
        self.lookup(product).map(|i| i.0)
    }

    #[inline]
    fn lookup(&self, product: &[u8]) -> Option<Inst> {
        self.instruments
            .iter()
            .find(|(s, ..)| s.eq_ignore_case(product))
            .map(|&(_, id, px, qty)| (id, px, qty))
    }

    /// Decodes one frame (parsed in place: simd-json rewrites it).
    pub fn decode(
        &mut self,
        frame: &mut [u8],
        ts_local_ns: i64,
    ) -> Result<CoinbaseMsg, DecodeError> {
        self.envelope = None;
        self.levels.clear();
        self.l2_events.clear();
        self.trades.clear();
        self.snapshot_trades.clear();
        self.tickers.clear();
        if frame.len() > self.cfg.max_frame_bytes {
            return Err(DecodeError::TooLarge(frame.len()));
        }
        let caps = (self.levels.capacity(), self.trades.capacity() + self.tickers.capacity());
        let mut tape = self.tape.take().unwrap_or_else(|| Tape::null().reset());
        let result = match simd_json::fill_tape(frame, &mut self.buffers, &mut tape) {
            Ok(()) => self.dispatch(tape.as_value(), ts_local_ns),
            Err(_) => Err(DecodeError::Json),
        };
        if self.levels.capacity() > caps.0
            || self.trades.capacity() + self.tickers.capacity() > caps.1
        {
            self.grows += 1;
        }
        self.tape = Some(tape.reset());
        result
    }

    fn dispatch(
        &mut self,
        root: Value<'_, '_>,
        ts_local_ns: i64,
    ) -> Result<CoinbaseMsg, DecodeError> {
        if !root.is_object() {
            return Err(DecodeError::Field("<root object>"));
        }
        if root.get("type").and_then(|t| t.into_string()) == Some("error") {
            return Ok(CoinbaseMsg::VenueError);
        }
        let channel = Channel::of(str_field(root, "channel")?);
        let seq =
            field(root, "sequence_num")?.as_u64().ok_or(DecodeError::Field("sequence_num"))?;
        let ts_exch_ns = ts(str_field(root, "timestamp")?, "timestamp")?;
        let env = Envelope { channel, seq, ts_exch_ns, ts_local_ns };
        self.envelope = Some(env);
        let events = field(root, "events")?.as_array().ok_or(DecodeError::Field("events"))?;
        match channel {
            Channel::L2Data => {
                for ev in events.iter() {
                    self.l2_event(ev, env)?;
                }
                Ok(CoinbaseMsg::L2(env))
            }
            Channel::MarketTrades => {
                for ev in events.iter() {
                    self.trade_event(ev, ts_local_ns)?;
                }
                Ok(CoinbaseMsg::Trades(env))
            }
            Channel::Ticker => {
                for ev in events.iter() {
                    self.ticker_event(ev, env)?;
                }
                Ok(CoinbaseMsg::Ticker(env))
            }
            Channel::Heartbeats => {
                let ev = events.get(0).ok_or(DecodeError::Field("events"))?;
                let counter = uint(field(ev, "heartbeat_counter")?, "heartbeat_counter")?;
                Ok(CoinbaseMsg::Heartbeat { env, counter })
            }
            Channel::Subscriptions => Ok(CoinbaseMsg::Subscriptions(env)),
            Channel::TickerBatch | Channel::Candles | Channel::Status | Channel::Other => {
                Ok(CoinbaseMsg::Ignored(env))
            }
        }
    }

    fn is_snapshot(ev: Value<'_, '_>) -> Result<bool, DecodeError> {
        match str_field(ev, "type")? {
            "snapshot" => Ok(true),
            "update" => Ok(false),
            _ => Err(DecodeError::Field("type")),
        }
    }

    fn l2_event(&mut self, ev: Value<'_, '_>, env: Envelope) -> Result<(), DecodeError> {
        let snapshot = Self::is_snapshot(ev)?;
        let product = str_field(ev, "product_id")?;
        let updates = field(ev, "updates")?.as_array().ok_or(DecodeError::Field("updates"))?;
        let Some((instrument, px_scale, qty_scale)) = self.lookup(product.as_bytes()) else {
            self.unknown_products += 1;
            return Ok(());
        };
        if self.l2_events.len() >= self.cfg.max_items {
            return Err(DecodeError::TooManyLevels);
        }
        if self.levels.len() + updates.len() > self.cfg.max_levels {
            return Err(DecodeError::TooManyLevels);
        }
        let start = self.levels.len();
        let flags = if snapshot { level_flags::SNAPSHOT } else { 0 };
        let (mut n_bids, mut n_asks) = (0u32, 0u32);
        for u in updates.iter() {
            let obj = u.as_object().ok_or(DecodeError::Field("updates"))?;
            let (mut side, mut px, mut qty, mut time) = (None, None, None, None);
            for (k, v) in obj.iter() {
                match k {
                    "side" => side = v.into_string(),
                    "price_level" => px = v.into_string(),
                    "new_quantity" => qty = v.into_string(),
                    "event_time" => time = v.into_string(),
                    _ => {}
                }
            }
            let side = match side {
                Some("bid") => Side::Buy,
                Some("offer") => Side::Sell,
                _ => return Err(DecodeError::Field("side")),
            };
            let px = num(px_scale, px.ok_or(DecodeError::Field("price_level"))?, "price_level")?;
            let qty =
                num(qty_scale, qty.ok_or(DecodeError::Field("new_quantity"))?, "new_quantity")?;
            // Updates carry the matching engine's time; snapshot entries may carry the epoch,
            // so a snapshot (and an absent or epoch time) takes the message's time.
            let ts_exch_ns = match time {
                Some(t) if !snapshot => match ts(t, "event_time")? {
                    0 => env.ts_exch_ns,
                    t => t,
                },
                _ => env.ts_exch_ns,
            };
            match side {
                Side::Buy => n_bids += 1,
                Side::Sell => n_asks += 1,
            }
            self.levels.push(LevelUpdate {
                ts_exch_ns,
                ts_local_ns: env.ts_local_ns,
                update_id: env.seq,
                px: Px(px),
                qty: Qty(qty),
                instrument,
                side,
                flags,
                _pad: 0,
            });
        }
        let end = self.levels.len();
        if let Some(l) = self.levels.last_mut().filter(|_| end > start) {
            l.flags |= level_flags::LAST;
        }
        self.l2_events.push(L2Event { instrument, snapshot, start: start as u32, n_bids, n_asks });
        Ok(())
    }

    fn trade_event(&mut self, ev: Value<'_, '_>, ts_local_ns: i64) -> Result<(), DecodeError> {
        let snapshot = Self::is_snapshot(ev)?;
        let trades = field(ev, "trades")?.as_array().ok_or(DecodeError::Field("trades"))?;
        for t in trades.iter() {
            let product = str_field(t, "product_id")?;
            let Some((instrument, px_scale, qty_scale)) = self.lookup(product.as_bytes()) else {
                self.unknown_products += 1;
                continue;
            };
            // `side` is the MAKER's side (documented, and confirmed on the capture: see the
            // module docs), so the aggressor is the other side.
            let aggressor = match str_field(t, "side")? {
                "BUY" => Side::Sell,
                "SELL" => Side::Buy,
                _ => return Err(DecodeError::Field("side")),
            };
            let trade = Trade {
                ts_exch_ns: ts(str_field(t, "time")?, "time")?,
                ts_local_ns,
                trade_id: uint(field(t, "trade_id")?, "trade_id")?,
                px: Px(num(px_scale, str_field(t, "price")?, "price")?),
                qty: Qty(num(qty_scale, str_field(t, "size")?, "size")?),
                instrument,
                aggressor,
                _pad: [0; 5],
            };
            let out = if snapshot { &mut self.snapshot_trades } else { &mut self.trades };
            if out.len() >= self.cfg.max_items {
                return Err(DecodeError::TooManyLevels);
            }
            out.push(trade);
        }
        Ok(())
    }

    fn ticker_event(&mut self, ev: Value<'_, '_>, env: Envelope) -> Result<(), DecodeError> {
        let tickers = field(ev, "tickers")?.as_array().ok_or(DecodeError::Field("tickers"))?;
        for t in tickers.iter() {
            let product = str_field(t, "product_id")?;
            let Some((instrument, px, qty)) = self.lookup(product.as_bytes()) else {
                self.unknown_products += 1;
                continue;
            };
            if self.tickers.len() >= self.cfg.max_items {
                return Err(DecodeError::TooManyLevels);
            }
            self.tickers.push(Bbo {
                ts_exch_ns: env.ts_exch_ns,
                ts_local_ns: env.ts_local_ns,
                update_id: env.seq,
                bid_px: Px(num(px, str_field(t, "best_bid")?, "best_bid")?),
                bid_qty: Qty(num(qty, str_field(t, "best_bid_quantity")?, "best_bid_quantity")?),
                ask_px: Px(num(px, str_field(t, "best_ask")?, "best_ask")?),
                ask_qty: Qty(num(qty, str_field(t, "best_ask_quantity")?, "best_ask_quantity")?),
                instrument,
                _pad: [0; 6],
            });
        }
        Ok(())
    }
}
