//! The typed layer: crpbot-core events as journal records.
//!
//! Each type is encoded field by field, little-endian, into a fixed-size payload (no
//! `transmute`, no padding bytes on disk), and decoded back with every enum discriminant
//! checked. Layouts are versioned by the record's `ver`; this is version 1 of each.
//!
//! | record type | payload |
//! |---|---|
//! | `RAW_FRAME` | `u8 venue`, `u16 instrument` (`0xFFFF` = none: the frame names it), then the frame bytes as received |
//! | `MARKET_EVENT` | `u8 kind` (0 snapshot, 1 level, 2 trade, 3 bbo, 4 state, 5 mark price), then the fields |
//! | `ORDER_INTENT` | the `OrderIntent` fields |
//! | `RISK_VERDICT` | the `RiskVerdict` fields |
//! | `FILL` | the `Fill` fields |
//! | `SIGNAL` | the `SignalRecord` fields (the signals an intent was decided on) |
//! | `POSITION` | the `PositionSnapshot` fields (after a fill) |
//! | `EQUITY` | the `EquitySnapshot` fields (after a fill) |
//! | `CONTROL` | `u16 kind`, then UTF-8 text |

use crpbot_core::{
    Bbo, BookSnapshot, BookState, BookStateChange, ClientOrderId, EquitySnapshot, Fill,
    InstrumentId, IntentAction, LevelUpdate, Liquidity, MarkPrice, MarketEvent, Money, OrderIntent,
    OrderType, PositionSnapshot, Px, Qty, RiskVerdict, Side, SignalRecord, StateReason, StrategyId,
    Trade, Venue,
};

use crate::RecordType;

/// Why a payload could not be decoded.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The payload is shorter than its layout.
    #[error("payload too short")]
    Short,
    /// An enum field holds an unknown discriminant.
    #[error("invalid value {value} for {field}")]
    BadValue {
        /// The field.
        field: &'static str,
        /// The stored value.
        value: u64,
    },
    /// The record's version is not one this build reads.
    #[error("unsupported version {0}")]
    Version(u16),
    /// The record type has no typed decoding.
    #[error("record type {0} has no typed decoding")]
    Type(u16),
}

/// Kinds of `CONTROL` records.
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlKind {
    /// The process started (text: command line and configuration summary).
    Start = 1,
    /// Clean shutdown.
    Stop = 2,
    /// The kill switch was engaged (text: by whom).
    KillEngaged = 3,
    /// An operator re-armed trading.
    Rearm = 4,
    /// Configuration in force (text).
    Config = 5,
    /// Trading halted by the core (text: reason).
    Halt = 6,
}

impl ControlKind {
    fn from_u16(v: u16) -> Option<ControlKind> {
        Some(match v {
            1 => ControlKind::Start,
            2 => ControlKind::Stop,
            3 => ControlKind::KillEngaged,
            4 => ControlKind::Rearm,
            5 => ControlKind::Config,
            6 => ControlKind::Halt,
            _ => return None,
        })
    }
}

/// A decoded record payload.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A raw venue frame.
    RawFrame {
        /// The venue.
        venue: Venue,
        /// The instrument the frame belongs to when the frame itself does not say (a REST
        /// snapshot); `None` otherwise.
        instrument: Option<InstrumentId>,
        /// The bytes as received.
        frame: &'a [u8],
    },
    /// A normalized market event.
    Market(MarketEvent),
    /// An order intent.
    Intent(OrderIntent),
    /// A risk verdict.
    Verdict(RiskVerdict),
    /// A fill.
    Fill(Fill),
    /// The signals an intent was decided on.
    Signal(SignalRecord),
    /// A position after a fill.
    Position(PositionSnapshot),
    /// The paper account after a fill.
    Equity(EquitySnapshot),
    /// A control event.
    Control {
        /// What happened.
        kind: ControlKind,
        /// Details.
        text: &'a str,
    },
}

struct Enc<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Enc<'_> {
    fn bytes(&mut self, b: &[u8]) {
        self.buf[self.pos..self.pos + b.len()].copy_from_slice(b);
        self.pos += b.len();
    }
    fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }
    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.bytes(&v.to_le_bytes());
    }
}

struct Dec<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Dec<'a> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.buf.get(self.pos..self.pos + N).ok_or(DecodeError::Short)?;
        self.pos += N;
        s.try_into().map_err(|_| DecodeError::Short)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.take()?))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.take()?))
    }
    fn rest(&mut self) -> &'a [u8] {
        let r = &self.buf[self.pos.min(self.buf.len())..];
        self.pos = self.buf.len();
        r
    }
    fn side(&mut self) -> Result<Side, DecodeError> {
        match self.u8()? {
            0 => Ok(Side::Buy),
            1 => Ok(Side::Sell),
            v => Err(DecodeError::BadValue { field: "side", value: u64::from(v) }),
        }
    }
    fn bool(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(DecodeError::BadValue { field, value: u64::from(v) }),
        }
    }
}

/// The largest typed payload (bytes), for callers sizing a scratch buffer.
pub const MAX_TYPED_LEN: usize = 80;

/// Encodes a market event; returns the payload length.
pub fn encode_market(ev: &MarketEvent, buf: &mut [u8; MAX_TYPED_LEN]) -> usize {
    let mut e = Enc { buf, pos: 0 };
    match ev {
        MarketEvent::Snapshot(s) => {
            e.u8(0);
            e.i64(s.ts_exch_ns);
            e.i64(s.ts_local_ns);
            e.u64(s.update_id);
            e.u16(s.instrument.0);
            e.u32(s.n_bids);
            e.u32(s.n_asks);
        }
        MarketEvent::Level(l) => {
            e.u8(1);
            e.i64(l.ts_exch_ns);
            e.i64(l.ts_local_ns);
            e.u64(l.update_id);
            e.i64(l.px.0);
            e.i64(l.qty.0);
            e.u16(l.instrument.0);
            e.u8(l.side as u8);
            e.u8(l.flags);
        }
        MarketEvent::Trade(t) => {
            e.u8(2);
            e.i64(t.ts_exch_ns);
            e.i64(t.ts_local_ns);
            e.u64(t.trade_id);
            e.i64(t.px.0);
            e.i64(t.qty.0);
            e.u16(t.instrument.0);
            e.u8(t.aggressor as u8);
        }
        MarketEvent::Bbo(b) => {
            e.u8(3);
            e.i64(b.ts_exch_ns);
            e.i64(b.ts_local_ns);
            e.u64(b.update_id);
            e.i64(b.bid_px.0);
            e.i64(b.bid_qty.0);
            e.i64(b.ask_px.0);
            e.i64(b.ask_qty.0);
            e.u16(b.instrument.0);
        }
        MarketEvent::State(c) => {
            e.u8(4);
            e.i64(c.ts_exch_ns);
            e.i64(c.ts_local_ns);
            e.u64(c.update_id);
            e.u16(c.instrument.0);
            e.u8(c.state as u8);
            e.u8(c.reason as u8);
        }
        MarketEvent::Mark(m) => {
            e.u8(5);
            e.i64(m.ts_exch_ns);
            e.i64(m.ts_local_ns);
            e.i64(m.mark_px.0);
            e.i64(m.index_px.0);
            e.i64(m.funding_rate_e12);
            e.i64(m.next_funding_ns);
            e.u16(m.instrument.0);
        }
    }
    e.pos
}

fn book_state(v: u8) -> Result<BookState, DecodeError> {
    Ok(match v {
        0 => BookState::Syncing,
        1 => BookState::Synced,
        2 => BookState::Stale,
        3 => BookState::Resyncing,
        _ => return Err(DecodeError::BadValue { field: "state", value: u64::from(v) }),
    })
}

fn state_reason(v: u8) -> Result<StateReason, DecodeError> {
    Ok(match v {
        0 => StateReason::Start,
        1 => StateReason::SnapshotApplied,
        2 => StateReason::Gap,
        3 => StateReason::Crossed,
        4 => StateReason::Stall,
        5 => StateReason::Disconnect,
        6 => StateReason::StaleSnapshot,
        7 => StateReason::BadLevel,
        _ => return Err(DecodeError::BadValue { field: "reason", value: u64::from(v) }),
    })
}

/// Decodes a `MARKET_EVENT` payload.
pub fn decode_market(payload: &[u8]) -> Result<MarketEvent, DecodeError> {
    let mut d = Dec { buf: payload, pos: 0 };
    Ok(match d.u8()? {
        0 => MarketEvent::Snapshot(BookSnapshot {
            ts_exch_ns: d.i64()?,
            ts_local_ns: d.i64()?,
            update_id: d.u64()?,
            instrument: InstrumentId(d.u16()?),
            _pad: 0,
            n_bids: d.u32()?,
            n_asks: d.u32()?,
        }),
        1 => MarketEvent::Level(LevelUpdate {
            ts_exch_ns: d.i64()?,
            ts_local_ns: d.i64()?,
            update_id: d.u64()?,
            px: Px(d.i64()?),
            qty: Qty(d.i64()?),
            instrument: InstrumentId(d.u16()?),
            side: d.side()?,
            flags: d.u8()?,
            _pad: 0,
        }),
        2 => MarketEvent::Trade(Trade {
            ts_exch_ns: d.i64()?,
            ts_local_ns: d.i64()?,
            trade_id: d.u64()?,
            px: Px(d.i64()?),
            qty: Qty(d.i64()?),
            instrument: InstrumentId(d.u16()?),
            aggressor: d.side()?,
            _pad: [0; 5],
        }),
        3 => MarketEvent::Bbo(Bbo {
            ts_exch_ns: d.i64()?,
            ts_local_ns: d.i64()?,
            update_id: d.u64()?,
            bid_px: Px(d.i64()?),
            bid_qty: Qty(d.i64()?),
            ask_px: Px(d.i64()?),
            ask_qty: Qty(d.i64()?),
            instrument: InstrumentId(d.u16()?),
            _pad: [0; 6],
        }),
        4 => MarketEvent::State(BookStateChange {
            ts_exch_ns: d.i64()?,
            ts_local_ns: d.i64()?,
            update_id: d.u64()?,
            instrument: InstrumentId(d.u16()?),
            state: book_state(d.u8()?)?,
            reason: state_reason(d.u8()?)?,
            _pad: 0,
        }),
        5 => MarketEvent::Mark(MarkPrice {
            ts_exch_ns: d.i64()?,
            ts_local_ns: d.i64()?,
            mark_px: Px(d.i64()?),
            index_px: Px(d.i64()?),
            funding_rate_e12: d.i64()?,
            next_funding_ns: d.i64()?,
            instrument: InstrumentId(d.u16()?),
            _pad: [0; 6],
        }),
        k => return Err(DecodeError::BadValue { field: "kind", value: u64::from(k) }),
    })
}

/// Encodes an order intent; returns the payload length.
pub fn encode_intent(i: &OrderIntent, buf: &mut [u8; MAX_TYPED_LEN]) -> usize {
    let mut e = Enc { buf, pos: 0 };
    e.i64(i.ts_ns);
    e.u64(i.client_id.0);
    e.i64(i.px.0);
    e.i64(i.qty.0);
    e.i64(i.stop_px.0);
    e.i64(i.take_profit_px.0);
    e.u16(i.instrument.0);
    e.u16(i.strategy.0);
    e.u16(i.reason);
    e.u8(i.side as u8);
    e.u8(i.order_type as u8);
    e.u8(i.action as u8);
    e.u8(u8::from(i.reduce_only));
    e.pos
}

/// Decodes an `ORDER_INTENT` payload.
pub fn decode_intent(payload: &[u8]) -> Result<OrderIntent, DecodeError> {
    let mut d = Dec { buf: payload, pos: 0 };
    Ok(OrderIntent {
        ts_ns: d.i64()?,
        client_id: ClientOrderId(d.u64()?),
        px: Px(d.i64()?),
        qty: Qty(d.i64()?),
        stop_px: Px(d.i64()?),
        take_profit_px: Px(d.i64()?),
        instrument: InstrumentId(d.u16()?),
        strategy: StrategyId(d.u16()?),
        reason: d.u16()?,
        side: d.side()?,
        order_type: match d.u8()? {
            0 => OrderType::Market,
            1 => OrderType::Limit,
            v => return Err(DecodeError::BadValue { field: "order_type", value: u64::from(v) }),
        },
        action: match d.u8()? {
            0 => IntentAction::New,
            1 => IntentAction::Modify,
            2 => IntentAction::Cancel,
            v => return Err(DecodeError::BadValue { field: "action", value: u64::from(v) }),
        },
        reduce_only: d.bool("reduce_only")?,
        _pad: [0; 6],
    })
}

/// Encodes a risk verdict; returns the payload length.
pub fn encode_verdict(v: &RiskVerdict, buf: &mut [u8; MAX_TYPED_LEN]) -> usize {
    let mut e = Enc { buf, pos: 0 };
    e.i64(v.ts_ns);
    e.u64(v.client_id.0);
    e.u16(v.instrument.0);
    e.u16(v.strategy.0);
    e.u16(v.code);
    e.u8(u8::from(v.accepted));
    e.pos
}

/// Decodes a `RISK_VERDICT` payload.
pub fn decode_verdict(payload: &[u8]) -> Result<RiskVerdict, DecodeError> {
    let mut d = Dec { buf: payload, pos: 0 };
    Ok(RiskVerdict {
        ts_ns: d.i64()?,
        client_id: ClientOrderId(d.u64()?),
        instrument: InstrumentId(d.u16()?),
        strategy: StrategyId(d.u16()?),
        code: d.u16()?,
        accepted: d.bool("accepted")?,
        _pad: [0; 1],
    })
}

/// Encodes a fill; returns the payload length.
pub fn encode_fill(f: &Fill, buf: &mut [u8; MAX_TYPED_LEN]) -> usize {
    let mut e = Enc { buf, pos: 0 };
    e.i64(f.ts_ns);
    e.u64(f.client_id.0);
    e.i64(f.px.0);
    e.i64(f.qty.0);
    e.i64(f.fee.0);
    e.u16(f.instrument.0);
    e.u16(f.strategy.0);
    e.u8(f.side as u8);
    e.u8(f.liquidity as u8);
    e.u8(u8::from(f.last));
    e.pos
}

/// Decodes a `FILL` payload.
pub fn decode_fill(payload: &[u8]) -> Result<Fill, DecodeError> {
    let mut d = Dec { buf: payload, pos: 0 };
    Ok(Fill {
        ts_ns: d.i64()?,
        client_id: ClientOrderId(d.u64()?),
        px: Px(d.i64()?),
        qty: Qty(d.i64()?),
        fee: Money(d.i64()?),
        instrument: InstrumentId(d.u16()?),
        strategy: StrategyId(d.u16()?),
        side: d.side()?,
        liquidity: match d.u8()? {
            0 => Liquidity::Maker,
            1 => Liquidity::Taker,
            v => return Err(DecodeError::BadValue { field: "liquidity", value: u64::from(v) }),
        },
        last: d.bool("last")?,
        _pad: [0; 1],
    })
}

/// Encodes a signal record; returns the payload length.
pub fn encode_signal(r: &SignalRecord, buf: &mut [u8; MAX_TYPED_LEN]) -> usize {
    let mut e = Enc { buf, pos: 0 };
    e.i64(r.ts_ns);
    e.u64(r.client_id.0);
    e.i64(r.microprice);
    e.i64(r.imbalance);
    e.i64(r.ofi_norm);
    e.i64(r.vwap_dev_bps);
    e.u16(r.instrument.0);
    e.u16(r.strategy.0);
    e.u16(r.reason);
    e.pos
}

/// Decodes a `SIGNAL` payload.
pub fn decode_signal(payload: &[u8]) -> Result<SignalRecord, DecodeError> {
    let mut d = Dec { buf: payload, pos: 0 };
    Ok(SignalRecord {
        ts_ns: d.i64()?,
        client_id: ClientOrderId(d.u64()?),
        microprice: d.i64()?,
        imbalance: d.i64()?,
        ofi_norm: d.i64()?,
        vwap_dev_bps: d.i64()?,
        instrument: InstrumentId(d.u16()?),
        strategy: StrategyId(d.u16()?),
        reason: d.u16()?,
        _pad: [0; 2],
    })
}

/// Encodes a position snapshot; returns the payload length.
pub fn encode_position(p: &PositionSnapshot, buf: &mut [u8; MAX_TYPED_LEN]) -> usize {
    let mut e = Enc { buf, pos: 0 };
    e.i64(p.ts_ns);
    e.i64(p.qty_lots);
    e.i64(p.cost.0);
    e.i64(p.realized.0);
    e.i64(p.fees.0);
    e.u16(p.instrument.0);
    e.u16(p.strategy.0);
    e.pos
}

/// Decodes a `POSITION` payload.
pub fn decode_position(payload: &[u8]) -> Result<PositionSnapshot, DecodeError> {
    let mut d = Dec { buf: payload, pos: 0 };
    Ok(PositionSnapshot {
        ts_ns: d.i64()?,
        qty_lots: d.i64()?,
        cost: Money(d.i64()?),
        realized: Money(d.i64()?),
        fees: Money(d.i64()?),
        instrument: InstrumentId(d.u16()?),
        strategy: StrategyId(d.u16()?),
        _pad: [0; 4],
    })
}

/// Encodes an equity snapshot; returns the payload length.
pub fn encode_equity(q: &EquitySnapshot, buf: &mut [u8; MAX_TYPED_LEN]) -> usize {
    let mut e = Enc { buf, pos: 0 };
    e.i64(q.ts_ns);
    e.i64(q.equity.0);
    e.i64(q.fees.0);
    e.u32(q.closed_trades);
    e.u32(q.open_positions);
    e.u8(u8::from(q.halted));
    e.pos
}

/// Decodes an `EQUITY` payload.
pub fn decode_equity(payload: &[u8]) -> Result<EquitySnapshot, DecodeError> {
    let mut d = Dec { buf: payload, pos: 0 };
    Ok(EquitySnapshot {
        ts_ns: d.i64()?,
        equity: Money(d.i64()?),
        fees: Money(d.i64()?),
        closed_trades: d.u32()?,
        open_positions: d.u32()?,
        halted: d.bool("halted")?,
        _pad: [0; 7],
    })
}

/// Writes a raw-frame payload (`venue`, the context instrument, then the frame) into `out`
/// (cleared first).
pub fn encode_raw_frame(
    venue: Venue,
    instrument: Option<InstrumentId>,
    frame: &[u8],
    out: &mut Vec<u8>,
) {
    out.clear();
    out.push(venue as u8);
    out.extend_from_slice(&instrument.map_or(u16::MAX, |i| i.0).to_le_bytes());
    out.extend_from_slice(frame);
}

/// Writes a control payload into `out` (cleared first).
pub fn encode_control(kind: ControlKind, text: &str, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&(kind as u16).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// Decodes any typed record.
pub fn decode(record_type: u16, ver: u16, payload: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    if ver != 1 {
        return Err(DecodeError::Version(ver));
    }
    Ok(match record_type {
        RecordType::RAW_FRAME => {
            let mut d = Dec { buf: payload, pos: 0 };
            let v = d.u8()?;
            let venue = Venue::from_u8(v)
                .ok_or(DecodeError::BadValue { field: "venue", value: u64::from(v) })?;
            let id = d.u16()?;
            let instrument = (id != u16::MAX).then_some(InstrumentId(id));
            Decoded::RawFrame { venue, instrument, frame: d.rest() }
        }
        RecordType::MARKET_EVENT => Decoded::Market(decode_market(payload)?),
        RecordType::ORDER_INTENT => Decoded::Intent(decode_intent(payload)?),
        RecordType::RISK_VERDICT => Decoded::Verdict(decode_verdict(payload)?),
        RecordType::FILL => Decoded::Fill(decode_fill(payload)?),
        RecordType::SIGNAL => Decoded::Signal(decode_signal(payload)?),
        RecordType::POSITION => Decoded::Position(decode_position(payload)?),
        RecordType::EQUITY => Decoded::Equity(decode_equity(payload)?),
        RecordType::CONTROL => {
            let mut d = Dec { buf: payload, pos: 0 };
            let k = d.u16()?;
            let kind = ControlKind::from_u16(k)
                .ok_or(DecodeError::BadValue { field: "control", value: u64::from(k) })?;
            let text = std::str::from_utf8(d.rest())
                .map_err(|_| DecodeError::BadValue { field: "text", value: 0 })?;
            Decoded::Control { kind, text }
        }
        t => return Err(DecodeError::Type(t)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn side() -> impl Strategy<Value = Side> {
        prop_oneof![Just(Side::Buy), Just(Side::Sell)]
    }

    proptest! {
        #[test]
        fn market_events_round_trip(a in any::<i64>(), b in any::<i64>(), u in any::<u64>(), p in any::<i64>(), q in any::<i64>(), id in any::<u16>(), s in side(), f in any::<u8>(), k in 0u8..6, n in any::<u32>()) {
            let ev = match k {
                0 => MarketEvent::Snapshot(BookSnapshot { ts_exch_ns: a, ts_local_ns: b, update_id: u, instrument: InstrumentId(id), _pad: 0, n_bids: n, n_asks: n / 2 }),
                1 => MarketEvent::Level(LevelUpdate { ts_exch_ns: a, ts_local_ns: b, update_id: u, px: Px(p), qty: Qty(q), instrument: InstrumentId(id), side: s, flags: f, _pad: 0 }),
                2 => MarketEvent::Trade(Trade { ts_exch_ns: a, ts_local_ns: b, trade_id: u, px: Px(p), qty: Qty(q), instrument: InstrumentId(id), aggressor: s, _pad: [0; 5] }),
                3 => MarketEvent::Bbo(Bbo { ts_exch_ns: a, ts_local_ns: b, update_id: u, bid_px: Px(p), bid_qty: Qty(q), ask_px: Px(p ^ 1), ask_qty: Qty(q ^ 2), instrument: InstrumentId(id), _pad: [0; 6] }),
                4 => MarketEvent::State(BookStateChange { ts_exch_ns: a, ts_local_ns: b, update_id: u, instrument: InstrumentId(id), state: BookState::Stale, reason: StateReason::Gap, _pad: 0 }),
                _ => MarketEvent::Mark(MarkPrice { ts_exch_ns: a, ts_local_ns: b, mark_px: Px(p), index_px: Px(q), funding_rate_e12: a ^ b, next_funding_ns: b, instrument: InstrumentId(id), _pad: [0; 6] }),
            };
            let mut buf = [0u8; MAX_TYPED_LEN];
            let n = encode_market(&ev, &mut buf);
            prop_assert_eq!(decode(RecordType::MARKET_EVENT, 1, &buf[..n]), Ok(Decoded::Market(ev)));
            // Every strict prefix is refused, never misread.
            for cut in 0..n {
                prop_assert!(decode_market(&buf[..cut]).is_err());
            }
        }

        #[test]
        fn signals_positions_and_equity_round_trip(a in any::<i64>(), b in any::<i64>(), c in any::<i64>(), u in any::<u64>(), id in any::<u16>(), st in any::<u16>(), n in any::<u32>(), halted in any::<bool>()) {
            let mut buf = [0u8; MAX_TYPED_LEN];
            let sig = SignalRecord { ts_ns: a, client_id: ClientOrderId(u), microprice: b, imbalance: c, ofi_norm: SignalRecord::NONE, vwap_dev_bps: a ^ c, instrument: InstrumentId(id), strategy: StrategyId(st), reason: id ^ st, _pad: [0; 2] };
            let len = encode_signal(&sig, &mut buf);
            prop_assert_eq!(decode(RecordType::SIGNAL, 1, &buf[..len]), Ok(Decoded::Signal(sig)));
            for cut in 0..len {
                prop_assert!(decode_signal(&buf[..cut]).is_err());
            }
            let pos = PositionSnapshot { ts_ns: a, qty_lots: b, cost: Money(c), realized: Money(a ^ b), fees: Money(-c), instrument: InstrumentId(id), strategy: StrategyId(st), _pad: [0; 4] };
            let len = encode_position(&pos, &mut buf);
            prop_assert_eq!(decode(RecordType::POSITION, 1, &buf[..len]), Ok(Decoded::Position(pos)));
            for cut in 0..len {
                prop_assert!(decode_position(&buf[..cut]).is_err());
            }
            let eq = EquitySnapshot { ts_ns: a, equity: Money(b), fees: Money(c), closed_trades: n, open_positions: n / 3, halted, _pad: [0; 7] };
            let len = encode_equity(&eq, &mut buf);
            prop_assert_eq!(decode(RecordType::EQUITY, 1, &buf[..len]), Ok(Decoded::Equity(eq)));
            for cut in 0..len {
                prop_assert!(decode_equity(&buf[..cut]).is_err());
            }
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(t in 0u16..10, bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = decode(t, 1, &bytes);
        }
    }

    #[test]
    fn orders_verdicts_fills_and_control_round_trip() {
        let intent = OrderIntent {
            ts_ns: 5,
            client_id: ClientOrderId(77),
            px: Px(100),
            qty: Qty(3),
            stop_px: Px(90),
            take_profit_px: Px(120),
            instrument: InstrumentId(2),
            strategy: StrategyId(1),
            reason: 9,
            side: Side::Sell,
            order_type: OrderType::Limit,
            action: IntentAction::Modify,
            reduce_only: true,
            _pad: [0; 6],
        };
        let mut buf = [0u8; MAX_TYPED_LEN];
        let n = encode_intent(&intent, &mut buf);
        assert_eq!(decode(RecordType::ORDER_INTENT, 1, &buf[..n]), Ok(Decoded::Intent(intent)));
        let verdict = RiskVerdict {
            ts_ns: 6,
            client_id: ClientOrderId(77),
            instrument: InstrumentId(2),
            strategy: StrategyId(1),
            code: 14,
            accepted: false,
            _pad: [0; 1],
        };
        let n = encode_verdict(&verdict, &mut buf);
        assert_eq!(decode(RecordType::RISK_VERDICT, 1, &buf[..n]), Ok(Decoded::Verdict(verdict)));
        let fill = Fill {
            ts_ns: 7,
            client_id: ClientOrderId(77),
            px: Px(101),
            qty: Qty(1),
            fee: Money(-3),
            instrument: InstrumentId(2),
            strategy: StrategyId(1),
            side: Side::Sell,
            liquidity: Liquidity::Maker,
            last: false,
            _pad: [0; 1],
        };
        let n = encode_fill(&fill, &mut buf);
        assert_eq!(decode(RecordType::FILL, 1, &buf[..n]), Ok(Decoded::Fill(fill)));
        let mut v = Vec::new();
        encode_control(ControlKind::KillEngaged, "crpbot kill", &mut v);
        assert_eq!(
            decode(RecordType::CONTROL, 1, &v),
            Ok(Decoded::Control { kind: ControlKind::KillEngaged, text: "crpbot kill" })
        );
        encode_raw_frame(Venue::BinanceSpot, Some(InstrumentId(3)), b"{}", &mut v);
        assert_eq!(
            decode(RecordType::RAW_FRAME, 1, &v),
            Ok(Decoded::RawFrame {
                venue: Venue::BinanceSpot,
                instrument: Some(InstrumentId(3)),
                frame: b"{}"
            })
        );
        encode_raw_frame(Venue::Coinbase, None, b"x", &mut v);
        assert_eq!(
            decode(RecordType::RAW_FRAME, 1, &v),
            Ok(Decoded::RawFrame { venue: Venue::Coinbase, instrument: None, frame: b"x" })
        );
        assert_eq!(decode(RecordType::FILL, 2, &v), Err(DecodeError::Version(2)));
        assert!(matches!(decode(RecordType::FILL, 1, &buf[..3]), Err(DecodeError::Short)));
    }
}
