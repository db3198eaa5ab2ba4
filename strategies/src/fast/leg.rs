//! What every fast strategy does the same way: resolve its instruments, size an order from a
//! notional, place stops and targets, hand out client ids, track one instrument's position
//! from fills, rate-limit entries and give up on orders that never fill.

use crpbot_core::{
    ClientOrderId, Fill, Instrument, InstrumentId, IntentAction, Money, OrderIntent, OrderType, Px,
    Qty, Registry, Side, StrategyId, Venue,
};

use super::intent::{IntentBuf, StrategyStats};

/// Why a strategy could not be built from its configuration.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A venue name that is not known.
    #[error("unknown venue {0:?}")]
    UnknownVenue(String),
    /// A symbol that is not in the registry for the venue.
    #[error("unknown instrument {0:?}")]
    UnknownInstrument(String),
    /// A parameter out of range (named).
    #[error("invalid parameter {0}")]
    Invalid(&'static str),
}

const MS: i64 = 1_000_000;

/// A percentage (`0.15` = 0.15 %) as parts per million, checked to be finite and in
/// `[0, 100]`.
pub(crate) fn pct_to_ppm(pct: f64, name: &'static str) -> Result<i64, BuildError> {
    if pct.is_finite() && (0.0..=100.0).contains(&pct) {
        Ok((pct * 10_000.0).round() as i64)
    } else {
        Err(BuildError::Invalid(name))
    }
}

/// Milliseconds as nanoseconds, checked to be non-negative.
pub(crate) fn ms_to_ns(ms: i64, name: &'static str) -> Result<i64, BuildError> {
    if ms >= 0 { Ok(ms.saturating_mul(MS)) } else { Err(BuildError::Invalid(name)) }
}

/// Resolves `venue` and `symbols` in the registry.
pub(crate) fn resolve(
    registry: &Registry,
    venue: &str,
    symbols: &[String],
) -> Result<Vec<Instrument>, BuildError> {
    let v: Venue = venue.parse().map_err(|_| BuildError::UnknownVenue(venue.to_string()))?;
    symbols
        .iter()
        .map(|s| {
            registry
                .lookup(v, s.as_bytes())
                .map(|id| *registry.get(id))
                .ok_or_else(|| BuildError::UnknownInstrument(format!("{venue}:{s}")))
        })
        .collect()
}

/// `px ± px × ppm / 1e6` (the offset rounded towards zero), at least one tick.
#[inline]
pub(crate) fn offset_px(px: Px, ppm: i64, up: bool) -> Px {
    let d = (i128::from(px.0) * i128::from(ppm) / 1_000_000) as i64;
    if up { Px(px.0.saturating_add(d)) } else { Px(px.0.saturating_sub(d).max(1)) }
}

/// Lots of `inst` worth at most `notional` at `px`, rounded down to a whole lot:
/// `floor(N · 10^(pd+qd−8) / (px · tick_step · lot_step))` with `N` in 10⁻⁸ quote units and
/// `pd`, `qd` the decimals of the tick and lot. 0 when `px ≤ 0` or on overflow.
///
/// # Examples
/// ```
/// use crpbot_core::{Money, Px, Registry, Venue};
/// use crpbot_strategies::fast::lots_for_notional;
/// let reg = Registry::with_defaults();
/// let btc = reg.get(reg.lookup(Venue::BinanceSpot, b"BTCUSDT").unwrap());
/// // 1000 USDT at 60000.00 = 0.01666666 BTC (lot 1e-8).
/// assert_eq!(lots_for_notional(btc, Px(6_000_000), Money::from_units(1000)), 1_666_666);
/// ```
pub fn lots_for_notional(inst: &Instrument, px: Px, notional: Money) -> i64 {
    if px.0 <= 0 || notional.0 <= 0 {
        return 0;
    }
    let (p, q) = (inst.price, inst.qty);
    let exp = i32::from(p.decimals()) + i32::from(q.decimals()) - 8;
    let den = i128::from(px.0)
        .checked_mul(i128::from(p.step()))
        .and_then(|d| d.checked_mul(i128::from(q.step())));
    let pow = 10i128.checked_pow(exp.unsigned_abs());
    let (num, den) = match (den, pow) {
        (Some(d), Some(pw)) if exp >= 0 => (i128::from(notional.0).checked_mul(pw), Some(d)),
        (Some(d), Some(pw)) => (Some(i128::from(notional.0)), d.checked_mul(pw)),
        _ => (None, None),
    };
    match (num, den) {
        (Some(n), Some(d)) if d > 0 => i64::try_from(n / d).unwrap_or(0),
        _ => 0,
    }
}

/// Hands out client ids `strategy << 48 | seq`: unique per strategy id and run, deterministic.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IdGen {
    sid: StrategyId,
    seq: u64,
}

impl IdGen {
    pub(crate) fn new(sid: StrategyId) -> IdGen {
        IdGen { sid, seq: 0 }
    }

    #[inline]
    pub(crate) fn sid(&self) -> StrategyId {
        self.sid
    }

    #[inline]
    pub(crate) fn next(&mut self) -> ClientOrderId {
        self.seq = (self.seq + 1) & ((1 << 48) - 1);
        ClientOrderId((u64::from(self.sid.0) << 48) | self.seq)
    }
}

/// Execution parameters shared by the strategies (from their configs, validated).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ExecParams {
    pub notional: Money,
    pub cooldown_ns: i64,
    pub pending_timeout_ns: i64,
    /// Price cap of market orders: touch ± this (ppm).
    pub slippage_ppm: i64,
}

impl ExecParams {
    pub(crate) fn new(
        notional: f64,
        cooldown_ms: i64,
        pending_timeout_ms: i64,
        max_slippage_bps: f64,
    ) -> Result<ExecParams, BuildError> {
        let notional =
            Money::from_f64(notional).filter(|m| m.0 > 0).ok_or(BuildError::Invalid("notional"))?;
        Ok(ExecParams {
            notional,
            cooldown_ns: ms_to_ns(cooldown_ms, "cooldown_ms")?,
            pending_timeout_ns: ms_to_ns(pending_timeout_ms, "pending_timeout_ms")?,
            slippage_ppm: pct_to_ppm(max_slippage_bps / 100.0, "max_slippage_bps")?,
        })
    }
}

/// Why a position is closed by its protective levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protect {
    Stop,
    TakeProfit,
    MaxHold,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    id: ClientOrderId,
    since_ns: i64,
}

/// One instrument's position and working order, as one strategy sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Leg {
    pub inst: Instrument,
    /// Signed position in lots (long > 0).
    pub pos: i64,
    pub entry_px: Px,
    pub entry_ts_ns: i64,
    pub stop_px: Px,
    pub tp_px: Px,
    plan_stop: Px,
    plan_tp: Px,
    pending: Option<Pending>,
    last_intent_ns: Option<i64>,
}

impl Leg {
    pub(crate) fn new(inst: Instrument) -> Leg {
        Leg {
            inst,
            pos: 0,
            entry_px: Px(0),
            entry_ts_ns: 0,
            stop_px: Px(0),
            tp_px: Px(0),
            plan_stop: Px(0),
            plan_tp: Px(0),
            pending: None,
            last_intent_ns: None,
        }
    }

    /// Gives up on a working order older than the timeout (risk refused it, or it was lost).
    #[inline]
    pub(crate) fn expire(&mut self, ts_ns: i64, ex: &ExecParams, stats: &mut StrategyStats) {
        if let Some(p) = self.pending
            && ts_ns.saturating_sub(p.since_ns) >= ex.pending_timeout_ns
        {
            self.pending = None;
            stats.pending_timeouts += 1;
        }
    }

    #[inline]
    pub(crate) fn busy(&self) -> bool {
        self.pending.is_some()
    }

    /// Flat, nothing working and out of the cooldown.
    #[inline]
    pub(crate) fn cooled(&self, ts_ns: i64, ex: &ExecParams) -> bool {
        self.last_intent_ns.is_none_or(|t| ts_ns.saturating_sub(t) >= ex.cooldown_ns)
    }

    /// A new position: `qty` lots on `side`, market order capped at `touch ±` slippage.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn entry(
        &mut self,
        ids: &mut IdGen,
        ts_ns: i64,
        side: Side,
        touch: Px,
        qty: i64,
        stop: Px,
        tp: Px,
        reason: u16,
        ex: &ExecParams,
    ) -> OrderIntent {
        let id = ids.next();
        self.pending = Some(Pending { id, since_ns: ts_ns });
        self.last_intent_ns = Some(ts_ns);
        self.plan_stop = stop;
        self.plan_tp = tp;
        OrderIntent {
            ts_ns,
            client_id: id,
            px: offset_px(touch, ex.slippage_ppm, side == Side::Buy),
            qty: Qty(qty),
            stop_px: stop,
            take_profit_px: tp,
            instrument: self.inst.id,
            strategy: ids.sid,
            reason,
            side,
            order_type: OrderType::Market,
            action: IntentAction::New,
            reduce_only: false,
            _pad: [0; 6],
        }
    }

    /// Closes the whole position (reduce-only market order); `None` when flat.
    pub(crate) fn exit(
        &mut self,
        ids: &mut IdGen,
        ts_ns: i64,
        bid: Px,
        ask: Px,
        reason: u16,
        ex: &ExecParams,
    ) -> Option<OrderIntent> {
        if self.pos == 0 {
            return None;
        }
        let side = if self.pos > 0 { Side::Sell } else { Side::Buy };
        let touch = if side == Side::Sell { bid } else { ask };
        let id = ids.next();
        self.pending = Some(Pending { id, since_ns: ts_ns });
        self.last_intent_ns = Some(ts_ns);
        Some(OrderIntent {
            ts_ns,
            client_id: id,
            px: offset_px(touch, ex.slippage_ppm, side == Side::Buy),
            qty: Qty(self.pos.saturating_abs()),
            stop_px: Px(0),
            take_profit_px: Px(0),
            instrument: self.inst.id,
            strategy: ids.sid,
            reason,
            side,
            order_type: OrderType::Market,
            action: IntentAction::New,
            reduce_only: true,
            _pad: [0; 6],
        })
    }

    /// Stop, target or maximum holding time reached (checked against the touch the exit
    /// would trade at).
    #[inline]
    pub(crate) fn protect(
        &self,
        bid: Px,
        ask: Px,
        ts_ns: i64,
        max_hold_ns: i64,
    ) -> Option<Protect> {
        if self.pos == 0 {
            return None;
        }
        let long = self.pos > 0;
        let px = if long { bid } else { ask };
        let stopped =
            self.stop_px.0 > 0 && if long { px <= self.stop_px } else { px >= self.stop_px };
        let target = self.tp_px.0 > 0 && if long { px >= self.tp_px } else { px <= self.tp_px };
        if stopped {
            Some(Protect::Stop)
        } else if target {
            Some(Protect::TakeProfit)
        } else if max_hold_ns > 0 && ts_ns.saturating_sub(self.entry_ts_ns) >= max_hold_ns {
            Some(Protect::MaxHold)
        } else {
            None
        }
    }

    /// Applies a fill of this leg's instrument.
    pub(crate) fn on_fill(&mut self, f: &Fill) {
        if let Some(p) = self.pending
            && p.id == f.client_id
            && f.last
        {
            self.pending = None;
        }
        let before = self.pos;
        let after = before.saturating_add(f.side.sign().saturating_mul(f.qty.0));
        self.pos = after;
        if after == 0 {
            self.stop_px = Px(0);
            self.tp_px = Px(0);
        } else if before == 0 || before.signum() != after.signum() {
            // Opened (or flipped): the entry's stop and target apply from here.
            self.entry_px = f.px;
            self.entry_ts_ns = f.ts_ns;
            let opened = before == 0;
            self.stop_px = if opened { self.plan_stop } else { Px(0) };
            self.tp_px = if opened { self.plan_tp } else { Px(0) };
        }
    }
}

/// Legs indexed by instrument id (`None` for instruments the strategy does not trade).
pub(crate) fn leg_table(instruments: &[Instrument]) -> Vec<Option<Leg>> {
    let n = instruments.iter().map(|i| i.id.index() + 1).max().unwrap_or(0);
    let mut legs = vec![None; n];
    for i in instruments {
        legs[i.id.index()] = Some(Leg::new(*i));
    }
    legs
}

/// The signed position of `id` (0 when not traded).
pub(crate) fn position_of(legs: &[Option<Leg>], id: InstrumentId) -> i64 {
    legs.get(id.index()).and_then(Option::as_ref).map_or(0, |l| l.pos)
}

/// The leg of `id`, if traded.
#[inline]
pub(crate) fn leg_mut(legs: &mut [Option<Leg>], id: InstrumentId) -> Option<&mut Leg> {
    legs.get_mut(id.index()).and_then(Option::as_mut)
}

/// Everything a strategy hands to [`enter`] and [`close`].
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    pub ids: &'a mut IdGen,
    pub ex: &'a ExecParams,
    pub stats: &'a mut StrategyStats,
    pub out: &'a mut IntentBuf,
    pub ts_ns: i64,
    pub bid: Px,
    pub ask: Px,
}

/// Opens a position of `notional` (or the configured notional) on `side` with a stop and a
/// target `stop_ppm` / `tp_ppm` away from the touch, unless cooling down or under one lot.
/// Returns whether an intent was pushed.
#[allow(clippy::too_many_arguments)]
pub(crate) fn enter(
    leg: &mut Leg,
    c: &mut Ctx<'_>,
    side: Side,
    notional: Option<Money>,
    stop_ppm: i64,
    tp_ppm: i64,
    reason: u16,
) -> bool {
    if !leg.cooled(c.ts_ns, c.ex) {
        c.stats.cooled_down += 1;
        return false;
    }
    let long = side == Side::Buy;
    let touch = if long { c.ask } else { c.bid };
    let qty = lots_for_notional(&leg.inst, touch, notional.unwrap_or(c.ex.notional));
    if qty <= 0 {
        c.stats.zero_size += 1;
        return false;
    }
    let stop = if stop_ppm > 0 { offset_px(touch, stop_ppm, !long) } else { Px(0) };
    let tp = if tp_ppm > 0 { offset_px(touch, tp_ppm, long) } else { Px(0) };
    let i = leg.entry(c.ids, c.ts_ns, side, touch, qty, stop, tp, reason, c.ex);
    c.stats.entries += 1;
    if !c.out.push(i) {
        c.stats.buffer_full += 1;
    }
    true
}

/// Closes the leg's position, if any. Returns whether an intent was pushed.
pub(crate) fn close(leg: &mut Leg, c: &mut Ctx<'_>, reason: u16) -> bool {
    let Some(i) = leg.exit(c.ids, c.ts_ns, c.bid, c.ask, reason, c.ex) else { return false };
    c.stats.exits += 1;
    if !c.out.push(i) {
        c.stats.buffer_full += 1;
    }
    true
}
