//! State updates of [`RiskEngine`]: marks, fills, order lifecycle, halts and the duplicate
//! memory. Nothing here allocates: tables are sized at construction.

use crpbot_core::{
    ClientOrderId, Fill, InstrumentId, IntentAction, Money, OrderIntent, OrderType, Px, Qty, Side,
    StrategyId,
};

use super::{FLATTEN_ID_BASE, Recent, RiskEngine, Working};
use crate::code::HaltCause;

impl RiskEngine {
    pub(super) fn halt_with(&mut self, cause: HaltCause) {
        if self.halt.is_none() {
            self.halt = Some(cause);
            self.counters.halts += 1;
        }
    }

    /// Latches a halt when equity is below a floor (total first). Strict `<`, as FTMO words it.
    #[inline]
    pub(super) fn breach_check(&mut self) -> Option<HaltCause> {
        if self.kill.is_engaged() && self.halt.is_none() {
            self.halt_with(HaltCause::Kill);
            return self.halt;
        }
        let eq = self.equity();
        let cause = if eq < self.lim.total_floor {
            HaltCause::TotalLoss
        } else if eq < self.daily_floor {
            HaltCause::DailyLoss
        } else {
            return None;
        };
        let was = self.halt.is_some();
        self.halt_with(cause);
        (!was).then_some(cause)
    }

    /// Recomputes the open PnL of instrument `i` from its aggregates and marks.
    #[inline]
    pub(super) fn refresh_unreal(&mut self, i: usize) {
        let inst = &self.instruments[i];
        let st = &self.insts[i];
        let mut u = Money::ZERO;
        if st.long_qty > 0 && st.bid.0 > 0 {
            let v = Money::notional(inst, st.bid, Qty(st.long_qty)).unwrap_or(Money::ZERO);
            u.0 += v.0 - st.long_cost.0;
        }
        if st.short_qty > 0 && st.ask.0 > 0 {
            // Fail closed on overflow: value the short at twice its cost.
            let v = Money::notional(inst, st.ask, Qty(st.short_qty))
                .unwrap_or(Money(st.short_cost.0.saturating_mul(2)));
            u.0 += st.short_cost.0 - v.0;
        }
        let old = self.insts[i].unreal;
        self.insts[i].unreal = u;
        self.unreal_total.0 = self.unreal_total.0 - old.0 + u.0;
    }

    /// New marks for an instrument (best bid and ask; zero or crossed marks are ignored) at
    /// `now_ns`: rolls the day, revalues open positions and checks the floors. Returns the
    /// halt cause if this latched a halt.
    pub fn on_mark(
        &mut self,
        instrument: InstrumentId,
        bid: Px,
        ask: Px,
        now_ns: i64,
    ) -> Option<HaltCause> {
        let i = instrument.index();
        if i < self.n_inst && bid.0 > 0 && ask.0 > bid.0 {
            self.insts[i].bid = bid;
            self.insts[i].ask = ask;
            self.refresh_unreal(i);
        }
        self.on_clock(now_ns)
    }

    /// A fill from the venue: updates the position, balance and working order, then checks
    /// the floors. Returns the halt cause if this latched a halt. Fills of unknown
    /// instruments or strategies are counted in `bad_fills` and ignored.
    pub fn on_fill(&mut self, fill: &Fill) -> Option<HaltCause> {
        let Some(s) = self.slot_index(fill.strategy, fill.instrument) else {
            self.counters.bad_fills += 1;
            return None;
        };
        let i = fill.instrument.index();
        if let Some(idx) = self.by_id.get(fill.client_id.0) {
            let o = self.orders[idx as usize];
            let done = fill.qty.0.clamp(0, o.qty);
            self.adjust_work(o.slot as usize, o.side, -done, o.reduce_only, o.flatten);
            self.orders[idx as usize].qty -= done;
            if fill.last || o.qty - done <= 0 {
                if fill.last && o.qty - done > 0 {
                    self.adjust_work(
                        o.slot as usize,
                        o.side,
                        done - o.qty,
                        o.reduce_only,
                        o.flatten,
                    );
                }
                self.remove_order(fill.client_id.0);
            }
            self.refresh_open(o.slot as usize);
        }
        let inst = self.instruments[i];
        let before = self.slots[s].pos;
        let mut after = before;
        let Some(pnl) = after.apply(&inst, fill.side, fill.px, fill.qty, fill.fee) else {
            self.counters.bad_fills += 1;
            return None;
        };
        self.account_position(i, &before, -1);
        self.slots[s].pos = after;
        self.account_position(i, &after, 1);
        self.balance.0 += pnl.0 - fill.fee.0;
        self.refresh_unreal(i);
        self.refresh_open(s);
        self.breach_check()
    }

    /// Adds (`sign = 1`) or removes (`-1`) a slot position from its instrument's aggregates.
    fn account_position(&mut self, i: usize, p: &crate::Position, sign: i64) {
        let st = &mut self.insts[i];
        st.net += sign * p.qty;
        if p.qty > 0 {
            st.long_qty += sign * p.qty;
            st.long_cost.0 += sign * p.cost.0;
        } else if p.qty < 0 {
            st.short_qty -= sign * p.qty;
            st.short_cost.0 += sign * p.cost.0;
        }
    }

    /// The venue reports the order done without (further) fills: cancelled, rejected or
    /// expired. Returns whether it was working.
    pub fn on_order_closed(&mut self, id: ClientOrderId) -> bool {
        let Some(idx) = self.by_id.get(id.0) else { return false };
        let o = self.orders[idx as usize];
        self.adjust_work(o.slot as usize, o.side, -o.qty, o.reduce_only, o.flatten);
        self.remove_order(id.0);
        self.refresh_open(o.slot as usize);
        true
    }

    /// Adds `delta` lots of working qty on `side` to a slot and its instrument.
    #[inline]
    pub(super) fn adjust_work(
        &mut self,
        s: usize,
        side: Side,
        delta: i64,
        reduce: bool,
        flatten: bool,
    ) {
        let i = s % self.n_inst;
        let slot = &mut self.slots[s];
        let st = &mut self.insts[i];
        match side {
            Side::Buy => {
                slot.work_buy += delta;
                st.work_buy += delta;
                if reduce {
                    slot.reduce_buy += delta;
                } else {
                    st.open_buy += delta;
                }
            }
            Side::Sell => {
                slot.work_sell += delta;
                st.work_sell += delta;
                if reduce {
                    slot.reduce_sell += delta;
                } else {
                    st.open_sell += delta;
                }
            }
        }
        if flatten {
            slot.flatten += delta;
        }
    }

    /// Recomputes whether a slot is open and the strategy's open count.
    #[inline]
    pub(super) fn refresh_open(&mut self, s: usize) {
        let slot = &mut self.slots[s];
        let open = slot.pos.qty != 0
            || slot.work_buy - slot.reduce_buy > 0
            || slot.work_sell - slot.reduce_sell > 0;
        if open != slot.open {
            slot.open = open;
            let c = &mut self.open_count[s / self.n_inst];
            if open { *c += 1 } else { *c = c.saturating_sub(1) }
        }
    }

    /// Stores a working order; `false` when the table is full.
    pub(super) fn insert_order(&mut self, o: Working) -> bool {
        let idx = if let Some(idx) = self.free.pop() {
            self.orders[idx as usize] = o;
            idx
        } else if self.orders.len() < self.max_working() {
            self.orders.push(o);
            (self.orders.len() - 1) as u32
        } else {
            return false;
        };
        if !self.by_id.insert(o.client_id, idx) {
            self.orders[idx as usize].used = false;
            self.free.push(idx);
            return false;
        }
        self.adjust_work(o.slot as usize, o.side, o.qty, o.reduce_only, o.flatten);
        self.refresh_open(o.slot as usize);
        true
    }

    pub(super) fn remove_order(&mut self, id: u64) {
        if let Some(idx) = self.by_id.remove(id) {
            self.orders[idx as usize].used = false;
            self.free.push(idx);
        }
    }

    /// True when the working-order table has room.
    #[inline]
    pub(super) fn has_order_room(&self) -> bool {
        !self.free.is_empty() || self.orders.len() < self.max_working()
    }

    /// Remembers an accepted new order for duplicate detection, evicting the oldest.
    pub(super) fn remember(&mut self, r: Recent) {
        let at = self.ring_next;
        let old = self.ring[at];
        if old.used {
            if self.seen_ids.get(old.client_id) == Some(at as u32) {
                self.seen_ids.remove(old.client_id);
            }
            if self.seen_keys.get(old.key) == Some(at as u32) {
                self.seen_keys.remove(old.key);
            }
        }
        self.ring[at] = r;
        self.seen_ids.insert(r.client_id, at as u32);
        self.seen_keys.insert(r.key, at as u32);
        self.ring_next = (at + 1) % self.ring.len();
    }

    /// After a halt: appends to `out` a cancel for every working order not already being
    /// cancelled, and a reduce-only market order flattening every position not already being
    /// flattened (client ids from [`FLATTEN_ID_BASE`], registered as working). Idempotent;
    /// appends nothing when not halted. Returns how many intents were appended. With
    /// `out.capacity()` ≥ working orders + strategies × instruments, it does not allocate.
    pub fn take_halt_actions(&mut self, now_ns: i64, out: &mut Vec<OrderIntent>) -> usize {
        if self.halt.is_none() {
            return 0;
        }
        let start = out.len();
        for idx in 0..self.orders.len() {
            let o = self.orders[idx];
            if !o.used || o.flatten || o.cancel_pending {
                continue;
            }
            self.orders[idx].cancel_pending = true;
            let s = o.slot as usize;
            let mut cancel = intent(now_ns, o.client_id, s, self.n_inst, o.side, Qty(o.qty), false);
            cancel.action = IntentAction::Cancel;
            cancel.px = o.px;
            out.push(cancel);
        }
        for s in 0..self.slots.len() {
            let slot = self.slots[s];
            let need = slot.pos.qty.abs() - slot.flatten;
            if slot.pos.qty == 0 || need <= 0 {
                continue;
            }
            let side = if slot.pos.qty > 0 { Side::Sell } else { Side::Buy };
            self.flatten_seq += 1;
            let id = FLATTEN_ID_BASE | self.flatten_seq;
            let o = Working {
                client_id: id,
                px: Px(0),
                qty: need,
                slot: s as u32,
                side,
                reduce_only: true,
                flatten: true,
                cancel_pending: false,
                used: true,
            };
            // When the table is full the flatten still goes out, untracked (its fills still
            // update the position).
            let _ = self.insert_order(o);
            out.push(intent(now_ns, id, s, self.n_inst, side, Qty(need), true));
        }
        out.len() - start
    }
}

fn intent(
    ts_ns: i64,
    id: u64,
    s: usize,
    n_inst: usize,
    side: Side,
    qty: Qty,
    reduce_only: bool,
) -> OrderIntent {
    OrderIntent {
        ts_ns,
        client_id: ClientOrderId(id),
        px: Px(0),
        qty,
        stop_px: Px(0),
        take_profit_px: Px(0),
        instrument: InstrumentId((s % n_inst) as u16),
        strategy: StrategyId((s / n_inst) as u16),
        reason: 0,
        side,
        order_type: OrderType::Market,
        action: IntentAction::New,
        reduce_only,
        _pad: [0; 6],
    }
}
