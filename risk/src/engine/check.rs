//! [`RiskEngine::check`]: the pre-trade checks, in a fixed documented order.

use crpbot_core::{BookState, IntentAction, Money, OrderIntent, OrderType, Px, Qty, Side};

use super::{MarketCtx, Recent, RiskEngine, Working};
use crate::code::{Verdict, VerdictCode as C};
use crate::ledger::{frac_ppm, mul_div_round};

/// The content key of an intent for the same-content duplicate check.
#[inline]
fn content_key(it: &OrderIntent) -> u64 {
    let mut h = 0xCBF2_9CE4_8422_2325u64;
    for v in [
        u64::from(it.strategy.0),
        u64::from(it.instrument.0),
        it.side as u64,
        it.qty.0 as u64,
        it.px.0 as u64,
    ] {
        h = (h ^ v).wrapping_mul(0x0000_0100_0000_01B3).rotate_left(29);
    }
    h
}

/// Working-qty exclusion for a modify: the old order's size.
#[derive(Clone, Copy)]
struct Excl {
    qty: i64,
}

impl RiskEngine {
    /// Checks one intent. Accepting records it (a new order becomes working, a modify
    /// replaces the working order's price and size, a cancel marks it cancel-pending); a
    /// rejection changes nothing but counters. Never allocates.
    ///
    /// Order of checks for a new order (the first failure is the verdict):
    /// 1. fields: timestamps > 0, known instrument and strategy, qty > 0, prices ≥ 0, a limit
    ///    price for limit orders, stop and take-profit ≥ 0;
    /// 2. the client id was not used before (working, or among the last `dup_id_memory`);
    /// 3. reduce-only orders go to the reduce-only path (below);
    /// 4. not halted (kill switch read here);
    /// 5. book: synced, fresh (`now − book_ts ≤ stale_ns`), both sides, not crossed/locked;
    ///    the touch becomes the instrument's mark and the loss floors are checked (a breach
    ///    halts and rejects);
    /// 6. equity > 0;
    /// 7. price collar: `|px − mid| ≤ collar_bps × mid` on the effective price (limit price,
    ///    else market price cap, else the touch);
    /// 8. no same strategy/instrument/side/qty/price accepted within `dup_window_ns`;
    /// 9. qty ≤ max order qty, notional ≤ max order notional;
    /// 10. stop on the right side; risk = loss to the stop (or the default distance) + fees
    ///     on entry and exit ≤ per-trade fraction of equity (fast strategies: the fast one);
    /// 11. risk ≤ equity − max(daily floor, total floor);
    /// 12. `|net position + working qty on the order's side + qty|` × price ≤ position
    ///     fraction of equity (account-wide, per instrument);
    /// 13. a strategy opening a new slot stays within its max open positions;
    /// 14. no same-side exposure in another instrument correlated above the threshold;
    /// 15. room in the working-order table; a token in the rate bucket.
    ///
    /// Reduce-only orders (allowed when halted) check only fields, duplicate id, that they
    /// reduce (`qty + working reduce-only qty on that side ≤ |position|`), max qty, table
    /// room and rate. A modify names a working order, must keep its instrument, strategy and
    /// side, and runs the same checks with the old order's size removed (skipping 2, 8 and
    /// 13). A cancel of a working order is always accepted (it takes a rate token if one is
    /// available).
    pub fn check(&mut self, it: &OrderIntent, ctx: &MarketCtx) -> Verdict {
        let v = self.check_inner(it, ctx);
        self.counters.by_code[super::RiskCounters::slot(v.code)] += 1;
        v
    }

    #[inline]
    fn check_inner(&mut self, it: &OrderIntent, ctx: &MarketCtx) -> Verdict {
        let id = it.client_id;
        if it.action == IntentAction::Cancel {
            return match self.by_id.get(id.0) {
                Some(idx) if !self.orders[idx as usize].cancel_pending => {
                    self.orders[idx as usize].cancel_pending = true;
                    let _ = self.bucket.try_take(ctx.now_ns);
                    Verdict::new(id, C::Accepted)
                }
                _ => Verdict::new(id, C::UnknownOrder),
            };
        }
        if let Some(code) = self.validate(it, ctx) {
            return Verdict::new(id, code);
        }
        self.roll_day(ctx.now_ns);
        let s = usize::from(it.strategy.0) * self.n_inst + it.instrument.index();
        let (excl, reduce_only, order_idx) = if it.action == IntentAction::Modify {
            let Some(idx) = self.by_id.get(id.0) else {
                return Verdict::new(id, C::UnknownOrder);
            };
            let o = self.orders[idx as usize];
            if o.cancel_pending || o.flatten {
                return Verdict::new(id, C::UnknownOrder);
            }
            if o.slot as usize != s || o.side != it.side {
                return Verdict::new(id, C::ModifyMismatch);
            }
            (Some(Excl { qty: o.qty }), o.reduce_only, Some(idx))
        } else {
            if self.seen_ids.get(id.0).is_some() || self.by_id.get(id.0).is_some() {
                return Verdict::new(id, C::DuplicateClientId);
            }
            (None, it.reduce_only, None)
        };
        let v = if reduce_only {
            self.check_reduce(it, ctx, s, excl)
        } else {
            self.check_open(it, ctx, s, excl)
        };
        if !v.is_accepted() {
            return v;
        }
        self.bucket.try_take(ctx.now_ns);
        match order_idx {
            Some(idx) => {
                let o = self.orders[idx as usize];
                self.adjust_work(s, o.side, it.qty.0 - o.qty, o.reduce_only, false);
                self.orders[idx as usize].qty = it.qty.0;
                self.orders[idx as usize].px = it.px;
                self.refresh_open(s);
            }
            None => {
                let o = Working {
                    client_id: id.0,
                    px: it.px,
                    qty: it.qty.0,
                    slot: s as u32,
                    side: it.side,
                    reduce_only,
                    flatten: false,
                    cancel_pending: false,
                    used: true,
                };
                // Room was checked; insertion cannot fail here.
                let _ = self.insert_order(o);
                self.remember(Recent {
                    client_id: id.0,
                    key: content_key(it),
                    ts_ns: ctx.now_ns,
                    px: it.px,
                    qty: it.qty.0,
                    instrument: it.instrument.0,
                    strategy: it.strategy.0,
                    side: it.side as u8,
                    used: true,
                });
            }
        }
        v
    }

    /// Step 1: malformed intents, each with its own code.
    #[inline]
    fn validate(&self, it: &OrderIntent, ctx: &MarketCtx) -> Option<C> {
        if it.ts_ns <= 0 || ctx.now_ns <= 0 {
            return Some(C::InvalidTimestamp);
        }
        if it.instrument.index() >= self.n_inst {
            return Some(C::UnknownInstrument);
        }
        if usize::from(it.strategy.0) >= self.n_strat {
            return Some(C::UnknownStrategy);
        }
        if it.qty.0 == 0 {
            return Some(C::ZeroQty);
        }
        if it.qty.0 < 0 {
            return Some(C::NegativeQty);
        }
        if it.px.0 < 0 {
            return Some(C::NegativePrice);
        }
        if it.order_type == OrderType::Limit && it.px.0 == 0 {
            return Some(C::ZeroPrice);
        }
        if it.stop_px.0 < 0 || it.take_profit_px.0 < 0 {
            return Some(C::NegativeStop);
        }
        None
    }

    /// The reduce-only path.
    #[inline]
    fn check_reduce(
        &mut self,
        it: &OrderIntent,
        ctx: &MarketCtx,
        s: usize,
        excl: Option<Excl>,
    ) -> Verdict {
        let id = it.client_id;
        let slot = &self.slots[s];
        let pos = slot.pos.qty;
        let mut working = match it.side {
            Side::Buy => slot.reduce_buy,
            Side::Sell => slot.reduce_sell,
        };
        if let Some(e) = excl {
            working -= e.qty;
        }
        if pos == 0 || it.side.sign() * pos > 0 {
            return Verdict::limit(id, C::NotReducing, it.qty.0, 0);
        }
        if it.qty.0 + working > pos.abs() {
            return Verdict::limit(id, C::NotReducing, it.qty.0 + working, pos.abs());
        }
        let max_qty = self.max_qty[it.instrument.index()];
        if it.qty.0 > max_qty {
            return Verdict::limit(id, C::OrderQty, it.qty.0, max_qty);
        }
        if excl.is_none() && !self.has_order_room() {
            return Verdict::new(id, C::WorkingOrders);
        }
        if !self.bucket.peek(ctx.now_ns) {
            return Verdict::new(id, C::RateLimited);
        }
        Verdict::new(id, C::Accepted)
    }

    /// The opening path (steps 4–15).
    #[inline]
    fn check_open(
        &mut self,
        it: &OrderIntent,
        ctx: &MarketCtx,
        s: usize,
        excl: Option<Excl>,
    ) -> Verdict {
        let id = it.client_id;
        let i = it.instrument.index();
        let breach = self.breach_check();
        if let Some(h) = self.halt {
            let _ = breach;
            return Verdict::new(id, h.code());
        }
        // 5. Book.
        if ctx.state != BookState::Synced {
            return Verdict::new(id, C::BookNotSynced);
        }
        if ctx.book_ts_ns <= 0 || ctx.now_ns.saturating_sub(ctx.book_ts_ns) > self.lim.stale_ns {
            return Verdict::limit(
                id,
                C::StaleBook,
                ctx.now_ns.saturating_sub(ctx.book_ts_ns),
                self.lim.stale_ns,
            );
        }
        let (bid, ask) = (ctx.bid, ctx.ask);
        if bid.0 <= 0 || ask.0 <= 0 {
            return Verdict::new(id, C::NoMid);
        }
        if bid.0 >= ask.0 {
            return Verdict::new(id, C::CrossedBook);
        }
        if self.insts[i].bid != bid || self.insts[i].ask != ask {
            self.insts[i].bid = bid;
            self.insts[i].ask = ask;
            self.refresh_unreal(i);
            if let Some(h) = self.breach_check() {
                return Verdict::new(id, h.code());
            }
        }
        // 6. Equity.
        let equity = self.equity();
        if equity.0 <= 0 {
            return Verdict::limit(id, C::NonPositiveEquity, equity.0, 0);
        }
        // 7. Collar on the effective price.
        let eff = match it.order_type {
            OrderType::Limit => it.px,
            OrderType::Market if it.px.0 > 0 => it.px,
            OrderType::Market => match it.side {
                Side::Buy => ask,
                Side::Sell => bid,
            },
        };
        let mid_x2 = i128::from(bid.0) + i128::from(ask.0);
        let dev = (2 * i128::from(eff.0) - mid_x2).abs() * 10_000;
        let band = i128::from(self.lim.collar_bps) * mid_x2;
        if dev > band {
            return Verdict::limit(id, C::PriceCollar, eff.0, (mid_x2 / 2) as i64);
        }
        // 8. Same-content duplicate.
        if excl.is_none()
            && let Some(r) = self.seen_keys.get(content_key(it))
        {
            let r = self.ring[r as usize];
            if r.used
                && r.strategy == it.strategy.0
                && r.instrument == it.instrument.0
                && r.side == it.side as u8
                && r.qty == it.qty.0
                && r.px == it.px
                && ctx.now_ns.saturating_sub(r.ts_ns) <= self.lim.dup_window_ns
            {
                return Verdict::new(id, C::DuplicateIntent);
            }
        }
        // 9. Order size.
        let inst = self.instruments[i];
        let q = it.qty.0;
        let max_qty = self.max_qty[i];
        if q > max_qty {
            return Verdict::limit(id, C::OrderQty, q, max_qty);
        }
        let Some(notional) = Money::notional(&inst, eff, it.qty) else {
            return Verdict::new(id, C::Overflow);
        };
        if notional > self.lim.max_order_notional {
            return Verdict::limit(id, C::OrderNotional, notional.0, self.lim.max_order_notional.0);
        }
        // 10. Per-trade risk.
        let dist = if it.stop_px.0 > 0 {
            let d = it.side.sign() * (eff.0 - it.stop_px.0);
            if d <= 0 {
                return Verdict::limit(id, C::InvalidStop, it.stop_px.0, eff.0);
            }
            d
        } else {
            // ceil(eff × bps / 10⁴), at least one tick.
            ((i128::from(eff.0) * i128::from(self.lim.default_stop_bps) + 9_999) / 10_000).max(1)
                as i64
        };
        let stop = Px(eff.0 - it.side.sign() * dist);
        let risk = (|| {
            let loss = Money::notional(&inst, Px(dist), it.qty)?;
            let exit = Money::notional(&inst, stop, it.qty)?;
            let fees = mul_div_round(notional.0, self.lim.fee_ppm, 1_000_000)?
                .checked_add(mul_div_round(exit.0.abs(), self.lim.fee_ppm, 1_000_000)?)?;
            loss.0.checked_add(fees)
        })();
        let Some(risk) = risk else { return Verdict::new(id, C::Overflow) };
        let strat = usize::from(it.strategy.0);
        let trade_ppm = if self.fast[strat] { self.lim.fast_trade_ppm } else { self.lim.trade_ppm };
        let trade_limit = frac_ppm(equity, trade_ppm);
        if risk > trade_limit.0 {
            return Verdict::limit(id, C::TradeRisk, risk, trade_limit.0);
        }
        // 11. Room above the loss floors.
        let room = equity.0 - self.daily_floor.0.max(self.lim.total_floor.0);
        if risk > room {
            return Verdict::limit(id, C::LossRoom, risk, room);
        }
        // 12. Position incl. working orders on the order's side.
        let st = &self.insts[i];
        let (mut work, dir) = match it.side {
            Side::Buy => (st.work_buy, 1),
            Side::Sell => (st.work_sell, -1),
        };
        if let Some(e) = excl {
            work -= e.qty;
        }
        let worst = (st.net + dir * (work + q)).abs();
        let Some(pos_notional) = Money::notional(&inst, eff, Qty(worst)) else {
            return Verdict::new(id, C::Overflow);
        };
        let pos_limit = frac_ppm(equity, self.lim.position_ppm);
        if pos_notional > pos_limit {
            return Verdict::limit(id, C::PositionNotional, pos_notional.0, pos_limit.0);
        }
        // 13. Open positions.
        if excl.is_none() && !self.slots[s].open {
            let max = if self.fast[strat] { self.lim.fast_max_open } else { self.lim.max_open };
            let n = self.open_count[strat];
            if n >= max {
                return Verdict::limit(id, C::OpenPositions, i64::from(n) + 1, i64::from(max));
            }
        }
        // 14. Correlation.
        let row = &self.corr[i * self.n_inst..(i + 1) * self.n_inst];
        for (j, (&rho, o)) in row.iter().zip(&self.insts).enumerate() {
            if j == i || rho <= self.lim.corr_ppm {
                continue;
            }
            let exposed = match it.side {
                Side::Buy => o.long_qty > 0 || o.open_buy > 0,
                Side::Sell => o.short_qty > 0 || o.open_sell > 0,
            };
            if exposed {
                return Verdict::limit(id, C::Correlation, i64::from(rho), j as i64);
            }
        }
        // 15. Table room and rate.
        if excl.is_none() && !self.has_order_room() {
            return Verdict::new(id, C::WorkingOrders);
        }
        if !self.bucket.peek(ctx.now_ns) {
            return Verdict::new(id, C::RateLimited);
        }
        Verdict::new(id, C::Accepted)
    }
}
