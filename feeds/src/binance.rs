//! Binance decoder (spot and USDⓈ-M): combined-stream frames and REST depth snapshots to
//! normalized events, with simd-json.
//!
//! The decoder owns its parse buffers and a level buffer, both sized at construction and
//! reused: once warmed up, decoding a message allocates nothing. Prices and sizes leave it as
//! integer ticks and lots of the instrument's [`Scale`](crpbot_core::Scale).

use crpbot_core::{
    Bbo, InstrumentId, LevelUpdate, MarkPrice, ParseError, Px, Qty, Registry, Scale, Side, Trade,
    Venue, level_flags,
};
use simd_json::prelude::{ValueAsScalar, ValueIntoString};
use simd_json::tape::{Tape, Value};

mod fast;

/// Why a frame could not be decoded. `Copy` and heap-free: it is counted on the hot path.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not valid JSON (or nested deeper than the limit).
    #[error("invalid JSON")]
    Json,
    /// The frame is larger than the configured cap.
    #[error("frame of {0} bytes exceeds the size cap")]
    TooLarge(usize),
    /// A required field is absent or has the wrong JSON type.
    #[error("missing or mistyped field `{0}`")]
    Field(&'static str),
    /// A price or size field is not a valid number on the instrument's grid.
    #[error("bad number in `{field}`: {err}")]
    Number {
        /// The field.
        field: &'static str,
        /// What was wrong with it.
        err: ParseError,
    },
    /// The symbol is not in the instrument registry for this venue.
    #[error("unknown symbol")]
    UnknownSymbol,
    /// A stream or event type this decoder does not handle.
    #[error("unknown stream or event type")]
    UnknownStream,
    /// A snapshot with no instrument context (REST snapshots carry no symbol).
    #[error("snapshot without an instrument context")]
    NoContext,
    /// More levels in one message than the level buffer holds.
    #[error("too many levels in one message")]
    TooManyLevels,
}

/// Header of a `depthUpdate`; its levels are in [`BinanceDecoder::levels`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepthHeader {
    /// Instrument.
    pub instrument: InstrumentId,
    /// `U`: first update id in the event.
    pub first_update_id: u64,
    /// `u`: final update id in the event.
    pub final_update_id: u64,
    /// `pu` (USDⓈ-M only): final update id of the previous event.
    pub prev_final_update_id: Option<u64>,
    /// `E` in nanoseconds.
    pub ts_exch_ns: i64,
    /// Local receive time.
    pub ts_local_ns: i64,
}

/// Header of a REST depth snapshot; its levels are in [`BinanceDecoder::levels`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotHeader {
    /// Instrument (from the caller's context).
    pub instrument: InstrumentId,
    /// `lastUpdateId`.
    pub last_update_id: u64,
    /// `E` where present (USDⓈ-M), else 0.
    pub ts_exch_ns: i64,
    /// Local receive time.
    pub ts_local_ns: i64,
    /// Bid levels (the first `n_bids` entries of the level buffer).
    pub n_bids: u32,
    /// Ask levels.
    pub n_asks: u32,
}

/// One decoded Binance message.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinanceMsg {
    /// A diff; levels in the decoder's level buffer.
    Depth(DepthHeader),
    /// A REST snapshot; levels in the decoder's level buffer.
    Snapshot(SnapshotHeader),
    /// `bookTicker`.
    Bbo(Bbo),
    /// `trade` or `aggTrade`.
    Trade(Trade),
    /// `markPriceUpdate` (USDⓈ-M): mark price and funding.
    Mark(MarkPrice),
    /// `serverShutdown`: the server will close this connection soon.
    ServerShutdown {
        /// `E` in nanoseconds.
        ts_exch_ns: i64,
    },
    /// A control reply (`{"result":null,"id":1}`) with no market data.
    Control,
}

/// Sizing of a [`BinanceDecoder`].
#[derive(Clone, Copy, Debug)]
pub struct DecoderConfig {
    /// Largest frame accepted, in bytes (default 4 MiB: a 5000-level snapshot is ~300 KiB).
    pub max_frame_bytes: usize,
    /// Levels the level buffer holds without growing (default 10,240: two 5000-level sides).
    pub level_capacity: usize,
    /// Frame size the parse buffers are sized for at construction (default 64 KiB).
    pub typical_frame_bytes: usize,
    /// Try the strict single-pass `depthUpdate` scanner before simd-json (default true). It
    /// accepts only Binance's exact layout and falls back to simd-json for anything else.
    pub fast_depth: bool,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            max_frame_bytes: 4 << 20,
            level_capacity: 10_240,
            typical_frame_bytes: 64 << 10,
            fast_depth: true,
        }
    }
}

/// Decodes Binance frames for one venue (spot or USDⓈ-M) against an instrument registry.
///
/// # Examples
/// ```
/// use crpbot_core::{Registry, Venue};
/// use crpbot_feeds::binance::{BinanceDecoder, BinanceMsg};
/// let reg = Registry::with_defaults();
/// let mut dec = BinanceDecoder::new(&reg, Venue::BinanceSpot, Default::default());
/// let mut frame = br#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161255208,"s":"BTCUSDT","U":7,"u":9,"b":[["61737.63","0.5"]],"a":[]}}"#.to_vec();
/// match dec.decode(&mut frame, 42, None).unwrap() {
///     BinanceMsg::Depth(h) => assert_eq!((h.first_update_id, h.final_update_id), (7, 9)),
///     other => panic!("{other:?}"),
/// }
/// assert_eq!(dec.levels().len(), 1);
/// ```
pub struct BinanceDecoder {
    venue: Venue,
    /// (symbol, id, price scale, qty scale) for this venue, lowercase-insensitive lookup.
    instruments: Vec<(crpbot_core::Symbol, InstrumentId, Scale, Scale)>,
    buffers: simd_json::Buffers,
    tape: Option<Tape<'static>>,
    levels: Vec<LevelUpdate>,
    cfg: DecoderConfig,
    /// Times the level buffer or parse buffers had to grow past their initial size.
    grows: u64,
    /// Frames decoded by the strict `depthUpdate` scanner.
    fast_hits: u64,
}

impl std::fmt::Debug for BinanceDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinanceDecoder")
            .field("venue", &self.venue)
            .field("instruments", &self.instruments.len())
            .field("cfg", &self.cfg)
            .field("grows", &self.grows)
            .finish_non_exhaustive()
    }
}

fn field<'t, 'i>(obj: Value<'t, 'i>, key: &'static str) -> Result<Value<'t, 'i>, DecodeError> {
    obj.get(key).ok_or(DecodeError::Field(key))
}

fn str_field<'i>(obj: Value<'_, 'i>, key: &'static str) -> Result<&'i str, DecodeError> {
    field(obj, key)?.into_string().ok_or(DecodeError::Field(key))
}

fn u64_field(obj: Value<'_, '_>, key: &'static str) -> Result<u64, DecodeError> {
    field(obj, key)?.as_u64().ok_or(DecodeError::Field(key))
}

fn ms_to_ns(ms: u64, key: &'static str) -> Result<i64, DecodeError> {
    i64::try_from(ms).ok().and_then(|v| v.checked_mul(1_000_000)).ok_or(DecodeError::Field(key))
}

fn num(scale: Scale, v: &str, key: &'static str) -> Result<i64, DecodeError> {
    scale.parse_units(v.as_bytes()).map_err(|err| DecodeError::Number { field: key, err })
}

/// Like [`num`], but digits past the scale's decimals are cut (a mark or index price is
/// computed, not quoted, and may carry more decimals than the tick).
fn num_trunc(scale: Scale, v: &str, key: &'static str) -> Result<i64, DecodeError> {
    let keep = match v.find('.') {
        Some(dot) if scale.decimals() == 0 => dot,
        Some(dot) => (dot + 1 + usize::from(scale.decimals())).min(v.len()),
        None => v.len(),
    };
    num(scale, &v[..keep], key)
}

impl BinanceDecoder {
    /// A decoder for `venue`'s instruments in `registry`.
    pub fn new(registry: &Registry, venue: Venue, cfg: DecoderConfig) -> BinanceDecoder {
        let instruments =
            registry.of_venue(venue).map(|i| (i.symbol, i.id, i.price, i.qty)).collect();
        BinanceDecoder {
            venue,
            instruments,
            buffers: simd_json::Buffers::new(cfg.typical_frame_bytes),
            tape: Some(Tape::null().reset()),
            levels: Vec::with_capacity(cfg.level_capacity),
            cfg,
            grows: 0,
            fast_hits: 0,
        }
    }

    /// The venue decoded.
    pub fn venue(&self) -> Venue {
        self.venue
    }

    /// Levels of the last `Depth` or `Snapshot` message (snapshot: bids first, then asks).
    pub fn levels(&self) -> &[LevelUpdate] {
        &self.levels
    }

    /// How often a buffer had to grow past its construction size (0 in steady state).
    pub fn grows(&self) -> u64 {
        self.grows
    }

    /// Frames decoded by the strict `depthUpdate` scanner rather than simd-json.
    pub fn fast_hits(&self) -> u64 {
        self.fast_hits
    }

    /// Resolves a venue symbol (any case) to an instrument of this venue.
    #[inline]
    pub fn instrument(&self, symbol: &[u8]) -> Option<(InstrumentId, Scale, Scale)> {
        self.instruments
            .iter()
            .find(|(s, ..)| s.eq_ignore_case(symbol))
            .map(|&(_, id, px, qty)| (id, px, qty))
    }

    fn scales(&self, id: InstrumentId) -> Option<(Scale, Scale)> {
        self.instruments.iter().find(|(_, i, ..)| *i == id).map(|&(_, _, px, qty)| (px, qty))
    }

    /// Decodes one frame. `frame` is parsed in place (simd-json rewrites it). `context` names
    /// the instrument of a REST snapshot, which carries no symbol.
    pub fn decode(
        &mut self,
        frame: &mut [u8],
        ts_local_ns: i64,
        context: Option<InstrumentId>,
    ) -> Result<BinanceMsg, DecodeError> {
        if frame.len() > self.cfg.max_frame_bytes {
            return Err(DecodeError::TooLarge(frame.len()));
        }
        let levels_cap = self.levels.capacity();
        let max_levels = self.cfg.level_capacity.max(1) * 4;
        if self.cfg.fast_depth {
            let instruments = &self.instruments;
            let resolve = |s: &[u8]| {
                instruments
                    .iter()
                    .find(|(sym, ..)| sym.eq_ignore_case(s))
                    .map(|&(_, id, p, q)| (id, p, q))
            };
            if let Some(h) =
                fast::depth_update(frame, ts_local_ns, &mut self.levels, max_levels, resolve)
            {
                if self.levels.capacity() > levels_cap {
                    self.grows += 1;
                }
                self.fast_hits += 1;
                return Ok(BinanceMsg::Depth(h));
            }
        }
        let mut tape = self.tape.take().unwrap_or_else(|| Tape::null().reset());
        let parsed = simd_json::fill_tape(frame, &mut self.buffers, &mut tape);
        let result = match parsed {
            Ok(()) => {
                let root = tape.as_value();
                self.levels.clear();
                self.dispatch(root, ts_local_ns, context)
            }
            Err(_) => Err(DecodeError::Json),
        };
        if self.levels.capacity() > levels_cap {
            self.grows += 1;
        }
        self.tape = Some(tape.reset());
        result
    }

    fn dispatch(
        &mut self,
        root: Value<'_, '_>,
        ts_local_ns: i64,
        context: Option<InstrumentId>,
    ) -> Result<BinanceMsg, DecodeError> {
        if !root.is_object() {
            return Err(DecodeError::Field("<root object>"));
        }
        // Combined stream wrapper, or a raw payload.
        let data = match root.get("data") {
            Some(d) if root.get("stream").is_some() => d,
            _ => root,
        };
        if data.get("lastUpdateId").is_some() {
            // A recorded snapshot may be wrapped as `{"stream":"<symbol>@depthSnapshot",...}`
            // (multi-symbol recordings): the stream name then gives the instrument.
            let named = root
                .get("stream")
                .and_then(|s| s.into_string())
                .and_then(|s| s.split('@').next())
                .and_then(|sym| self.instrument(sym.as_bytes()))
                .map(|(id, ..)| id);
            return self.snapshot(data, ts_local_ns, named.or(context));
        }
        if let Some(e) = data.get("e") {
            let e = e.into_string().ok_or(DecodeError::Field("e"))?;
            return match e {
                "depthUpdate" => self.depth(data, ts_local_ns),
                "trade" | "aggTrade" => self.trade(data, ts_local_ns, e == "aggTrade"),
                "bookTicker" => self.book_ticker(data, ts_local_ns),
                "markPriceUpdate" => self.mark_price(data, ts_local_ns),
                "serverShutdown" => Ok(BinanceMsg::ServerShutdown {
                    ts_exch_ns: ms_to_ns(u64_field(data, "E")?, "E")?,
                }),
                _ => Err(DecodeError::UnknownStream),
            };
        }
        // Spot bookTicker has no `e`; it is recognised by its fields.
        if data.get("u").is_some() && data.get("b").is_some() && data.get("A").is_some() {
            return self.book_ticker(data, ts_local_ns);
        }
        if root.get("result").is_some() && root.get("id").is_some() {
            return Ok(BinanceMsg::Control);
        }
        Err(DecodeError::UnknownStream)
    }

    fn resolve(&self, data: Value<'_, '_>) -> Result<(InstrumentId, Scale, Scale), DecodeError> {
        let s = str_field(data, "s")?;
        self.instrument(s.as_bytes()).ok_or(DecodeError::UnknownSymbol)
    }

    #[allow(clippy::too_many_arguments)]
    fn push_side(
        &mut self,
        arr: Value<'_, '_>,
        key: &'static str,
        side: Side,
        head: (InstrumentId, Scale, Scale),
        ts: (i64, i64),
        update_id: u64,
        flags: u8,
    ) -> Result<u32, DecodeError> {
        let (instrument, px_scale, qty_scale) = head;
        let arr = arr.as_array().ok_or(DecodeError::Field(key))?;
        let mut n = 0u32;
        for lvl in arr.iter() {
            let pair = lvl.as_array().ok_or(DecodeError::Field(key))?;
            let px = pair.get(0).and_then(|v| v.into_string()).ok_or(DecodeError::Field(key))?;
            let qty = pair.get(1).and_then(|v| v.into_string()).ok_or(DecodeError::Field(key))?;
            if self.levels.len() >= self.cfg.level_capacity.max(1) * 4 {
                return Err(DecodeError::TooManyLevels);
            }
            self.levels.push(LevelUpdate {
                ts_exch_ns: ts.0,
                ts_local_ns: ts.1,
                update_id,
                px: Px(num(px_scale, px, key)?),
                qty: Qty(num(qty_scale, qty, key)?),
                instrument,
                side,
                flags,
                _pad: 0,
            });
            n += 1;
        }
        Ok(n)
    }

    fn mark_last(&mut self) {
        if let Some(l) = self.levels.last_mut() {
            l.flags |= level_flags::LAST;
        }
    }

    fn depth(&mut self, d: Value<'_, '_>, ts_local_ns: i64) -> Result<BinanceMsg, DecodeError> {
        let head = self.resolve(d)?;
        let first_update_id = u64_field(d, "U")?;
        let final_update_id = u64_field(d, "u")?;
        let prev_final_update_id = match d.get("pu") {
            Some(v) => Some(v.as_u64().ok_or(DecodeError::Field("pu"))?),
            None => None,
        };
        if first_update_id > final_update_id {
            return Err(DecodeError::Field("U"));
        }
        let ts_exch_ns = ms_to_ns(u64_field(d, "E")?, "E")?;
        let ts = (ts_exch_ns, ts_local_ns);
        self.push_side(field(d, "b")?, "b", Side::Buy, head, ts, final_update_id, 0)?;
        self.push_side(field(d, "a")?, "a", Side::Sell, head, ts, final_update_id, 0)?;
        self.mark_last();
        Ok(BinanceMsg::Depth(DepthHeader {
            instrument: head.0,
            first_update_id,
            final_update_id,
            prev_final_update_id,
            ts_exch_ns,
            ts_local_ns,
        }))
    }

    fn snapshot(
        &mut self,
        d: Value<'_, '_>,
        ts_local_ns: i64,
        context: Option<InstrumentId>,
    ) -> Result<BinanceMsg, DecodeError> {
        let instrument = context.ok_or(DecodeError::NoContext)?;
        let (px, qty) = self.scales(instrument).ok_or(DecodeError::UnknownSymbol)?;
        let head = (instrument, px, qty);
        let last_update_id = u64_field(d, "lastUpdateId")?;
        let ts_exch_ns = match d.get("E") {
            Some(v) => ms_to_ns(v.as_u64().ok_or(DecodeError::Field("E"))?, "E")?,
            None => 0,
        };
        let ts = (ts_exch_ns, ts_local_ns);
        let flags = level_flags::SNAPSHOT;
        let n_bids =
            self.push_side(field(d, "bids")?, "bids", Side::Buy, head, ts, last_update_id, flags)?;
        let n_asks =
            self.push_side(field(d, "asks")?, "asks", Side::Sell, head, ts, last_update_id, flags)?;
        self.mark_last();
        Ok(BinanceMsg::Snapshot(SnapshotHeader {
            instrument,
            last_update_id,
            ts_exch_ns,
            ts_local_ns,
            n_bids,
            n_asks,
        }))
    }

    fn trade(
        &mut self,
        d: Value<'_, '_>,
        ts_local_ns: i64,
        aggregated: bool,
    ) -> Result<BinanceMsg, DecodeError> {
        let (instrument, px_scale, qty_scale) = self.resolve(d)?;
        let trade_id = u64_field(d, if aggregated { "a" } else { "t" })?;
        let ts_exch_ns = ms_to_ns(u64_field(d, "T")?, "T")?;
        let buyer_is_maker = field(d, "m")?.as_bool().ok_or(DecodeError::Field("m"))?;
        Ok(BinanceMsg::Trade(Trade {
            ts_exch_ns,
            ts_local_ns,
            trade_id,
            px: Px(num(px_scale, str_field(d, "p")?, "p")?),
            qty: Qty(num(qty_scale, str_field(d, "q")?, "q")?),
            instrument,
            // `m`: the buyer was the maker, so the taker sold.
            aggressor: if buyer_is_maker { Side::Sell } else { Side::Buy },
            _pad: [0; 5],
        }))
    }

    fn mark_price(&self, d: Value<'_, '_>, ts_local_ns: i64) -> Result<BinanceMsg, DecodeError> {
        let (instrument, px, _) = self.resolve(d)?;
        let next_funding_ns = match d.get("T") {
            Some(v) => ms_to_ns(v.as_u64().ok_or(DecodeError::Field("T"))?, "T")?,
            None => 0,
        };
        let rate = Scale::new(12, 1).map_err(|_| DecodeError::Field("r"))?;
        let funding_rate_e12 = match d.get("r") {
            // Delivery contracts publish an empty funding rate.
            Some(v) => match v.into_string().ok_or(DecodeError::Field("r"))? {
                "" => 0,
                text => num(rate, text, "r")?,
            },
            None => 0,
        };
        Ok(BinanceMsg::Mark(MarkPrice {
            ts_exch_ns: ms_to_ns(u64_field(d, "E")?, "E")?,
            ts_local_ns,
            mark_px: Px(num_trunc(px, str_field(d, "p")?, "p")?),
            index_px: Px(num_trunc(px, str_field(d, "i")?, "i")?),
            funding_rate_e12,
            next_funding_ns,
            instrument,
            _pad: [0; 6],
        }))
    }

    fn book_ticker(
        &mut self,
        d: Value<'_, '_>,
        ts_local_ns: i64,
    ) -> Result<BinanceMsg, DecodeError> {
        let (instrument, px, qty) = self.resolve(d)?;
        let ts_exch_ns = match d.get("E") {
            Some(v) => ms_to_ns(v.as_u64().ok_or(DecodeError::Field("E"))?, "E")?,
            None => 0,
        };
        Ok(BinanceMsg::Bbo(Bbo {
            ts_exch_ns,
            ts_local_ns,
            update_id: u64_field(d, "u")?,
            bid_px: Px(num(px, str_field(d, "b")?, "b")?),
            bid_qty: Qty(num(qty, str_field(d, "B")?, "B")?),
            ask_px: Px(num(px, str_field(d, "a")?, "a")?),
            ask_qty: Qty(num(qty, str_field(d, "A")?, "A")?),
            instrument,
            _pad: [0; 6],
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec() -> (Registry, BinanceDecoder) {
        let reg = Registry::with_defaults();
        let d = BinanceDecoder::new(&reg, Venue::BinanceSpot, DecoderConfig::default());
        (reg, d)
    }

    fn run(d: &mut BinanceDecoder, text: &str) -> Result<BinanceMsg, DecodeError> {
        let mut buf = text.as_bytes().to_vec();
        d.decode(&mut buf, 5, None)
    }

    #[test]
    fn decodes_depth_update() {
        let (reg, mut d) = dec();
        let msg = run(
            &mut d,
            r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161255208,"s":"BTCUSDT","U":50093239189,"u":50093239202,"b":[["61737.63000000","0.00000000"],["61730.17000000","1.5"]],"a":[["61837.64000000","1.54698000"]]}}"#,
        )
        .unwrap();
        let btc = reg.lookup(Venue::BinanceSpot, b"BTCUSDT").unwrap();
        assert_eq!(
            msg,
            BinanceMsg::Depth(DepthHeader {
                instrument: btc,
                first_update_id: 50093239189,
                final_update_id: 50093239202,
                prev_final_update_id: None,
                ts_exch_ns: 1_723_161_255_208_000_000,
                ts_local_ns: 5,
            })
        );
        let l = d.levels();
        assert_eq!(l.len(), 3);
        assert_eq!((l[0].side, l[0].px, l[0].qty), (Side::Buy, Px(6_173_763), Qty(0)));
        assert_eq!((l[1].px, l[1].qty), (Px(6_173_017), Qty(150_000_000)));
        assert_eq!((l[2].side, l[2].px, l[2].qty), (Side::Sell, Px(6_183_764), Qty(154_698_000)));
        assert!(!l[0].is_last() && !l[1].is_last() && l[2].is_last());
        assert!(l.iter().all(|x| x.update_id == 50093239202 && !x.is_snapshot()));
    }

    #[test]
    fn decodes_snapshot_with_context() {
        let (reg, mut d) = dec();
        let eth = reg.lookup(Venue::BinanceSpot, b"ETHUSDT").unwrap();
        let text = r#"{"lastUpdateId":160,"bids":[["0.0200","10"],["0.0100","1"]],"asks":[["0.0300","100"]]}"#;
        assert_eq!(run(&mut d, text), Err(DecodeError::NoContext));
        let mut buf = text.as_bytes().to_vec();
        let msg = d.decode(&mut buf, 9, Some(eth)).unwrap();
        let BinanceMsg::Snapshot(h) = msg else { panic!("{msg:?}") };
        assert_eq!((h.last_update_id, h.n_bids, h.n_asks), (160, 2, 1));
        assert_eq!(d.levels()[0].px, Px(2));
        assert_eq!(d.levels()[2].qty, Qty(10_000_000_000));
        assert!(d.levels().iter().all(|l| l.is_snapshot()));
        assert!(d.levels()[2].is_last());
    }

    #[test]
    fn decodes_trade_book_ticker_and_control() {
        let (_, mut d) = dec();
        let t = run(&mut d, r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}"#).unwrap();
        let BinanceMsg::Trade(t) = t else { panic!() };
        assert_eq!(
            (t.trade_id, t.px, t.qty, t.aggressor),
            (3735683259, Px(6_183_763), Qty(2_000_000), Side::Sell)
        );
        assert_eq!(t.ts_exch_ns, 1_723_161_255_342_000_000);
        let b = run(&mut d, r#"{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}"#).unwrap();
        let BinanceMsg::Bbo(b) = b else { panic!() };
        assert_eq!(
            (b.update_id, b.bid_px, b.bid_qty, b.ask_px),
            (50093239212, Px(6_183_763), Qty(378_826_000), Px(6_183_764))
        );
        assert_eq!(run(&mut d, r#"{"result":null,"id":1}"#), Ok(BinanceMsg::Control));
        assert_eq!(
            run(
                &mut d,
                r#"{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1770123456789}}"#
            ),
            Ok(BinanceMsg::ServerShutdown { ts_exch_ns: 1_770_123_456_789_000_000 })
        );
    }

    #[test]
    fn decodes_usdm_depth_with_pu() {
        let reg = Registry::with_defaults();
        let mut d = BinanceDecoder::new(&reg, Venue::BinanceUsdm, DecoderConfig::default());
        let msg = run(&mut d, r#"{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":10,"u":12,"pu":9,"b":[["60000.1","0.001"]],"a":[]}"#).unwrap();
        let BinanceMsg::Depth(h) = msg else { panic!() };
        assert_eq!(h.prev_final_update_id, Some(9));
        assert_eq!(d.levels()[0].px, Px(600_001));
    }

    #[test]
    fn decodes_usdm_mark_price_and_funding() {
        let reg = Registry::with_defaults();
        let mut d = BinanceDecoder::new(&reg, Venue::BinanceUsdm, DecoderConfig::default());
        let frame = r#"{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15000000","i":"11784.62659091","P":"11784.25641265","r":"0.00038167","T":1562306400000}}"#;
        let BinanceMsg::Mark(m) = run(&mut d, frame).unwrap() else { panic!() };
        assert_eq!(m.instrument, reg.lookup(Venue::BinanceUsdm, b"BTCUSDT").unwrap());
        // Tick 0.1: the index price's extra decimals are cut.
        assert_eq!((m.mark_px, m.index_px), (Px(117_941), Px(117_846)));
        assert_eq!(m.funding_rate_e12, 381_670_000);
        assert_eq!(m.next_funding_ns, 1_562_306_400_000_000_000);
        assert_eq!(m.ts_exch_ns, 1_562_305_380_000_000_000);
        let bad = r#"{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"x","i":"1","r":"0"}"#;
        assert!(matches!(run(&mut d, bad), Err(DecodeError::Number { field: "p", .. })));
    }

    #[test]
    fn wrapped_snapshot_takes_its_instrument_from_the_stream_name() {
        let (reg, mut d) = dec();
        let eth = reg.lookup(Venue::BinanceSpot, b"ETHUSDT").unwrap();
        let btc = reg.lookup(Venue::BinanceSpot, b"BTCUSDT").unwrap();
        let text = r#"{"stream":"ethusdt@depthSnapshot","data":{"lastUpdateId":7,"bids":[["1.00","1"]],"asks":[]}}"#;
        let mut buf = text.as_bytes().to_vec();
        let BinanceMsg::Snapshot(h) = d.decode(&mut buf, 1, Some(btc)).unwrap() else { panic!() };
        assert_eq!((h.instrument, h.last_update_id), (eth, 7));
    }

    #[test]
    fn rejects_bad_frames_with_clear_errors() {
        let (_, mut d) = dec();
        assert_eq!(run(&mut d, "garbage"), Err(DecodeError::Json));
        assert_eq!(run(&mut d, "[1,2]"), Err(DecodeError::Field("<root object>")));
        assert_eq!(
            run(&mut d, r#"{"stream":"x@kline","data":{"e":"kline"}}"#),
            Err(DecodeError::UnknownStream)
        );
        let unknown_sym = r#"{"e":"depthUpdate","E":1,"s":"FOOBAR","U":1,"u":1,"b":[],"a":[]}"#;
        assert_eq!(run(&mut d, unknown_sym), Err(DecodeError::UnknownSymbol));
        let off_grid =
            r#"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":1,"b":[["1.001","1"]],"a":[]}"#;
        assert_eq!(
            run(&mut d, off_grid),
            Err(DecodeError::Number { field: "b", err: ParseError::OffGrid })
        );
        let num_px =
            r#"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":1,"b":[[1.0,"1"]],"a":[]}"#;
        assert_eq!(run(&mut d, num_px), Err(DecodeError::Field("b")));
        let backwards = r#"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":5,"u":1,"b":[],"a":[]}"#;
        assert_eq!(run(&mut d, backwards), Err(DecodeError::Field("U")));
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        assert!(run(&mut d, &deep).is_err());
        let small = BinanceDecoder::new(
            &Registry::with_defaults(),
            Venue::BinanceSpot,
            DecoderConfig { max_frame_bytes: 10, ..Default::default() },
        );
        let mut small = small;
        assert_eq!(run(&mut small, r#"{"result":null,"id":1}"#), Err(DecodeError::TooLarge(22)));
    }
}
