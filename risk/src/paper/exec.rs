//! Order activation, book walking and queue-position fills.

use crpbot_book::Book;
use crpbot_core::{Fill, InstrumentId, Liquidity, OrderType, Px, Qty, Side, Trade};

use super::{PaperOrder, PaperVenue, Stage, side_sign};

impl PaperVenue {
    /// A book update of `instrument` at `ts_ns`: activates pending orders that are due
    /// (taking or resting against this book), updates queue positions, fills resting orders
    /// the touch has crossed, revalues positions and samples equity. Appends fills to `fills`
    /// and returns how many.
    pub fn on_book(
        &mut self,
        book: &Book,
        instrument: InstrumentId,
        ts_ns: i64,
        fills: &mut Vec<Fill>,
    ) -> usize {
        let start = fills.len();
        let i = instrument.index();
        if i >= self.n_inst {
            return 0;
        }
        let bid = book.best_bid().map_or(Px(0), |l| l.px);
        let ask = book.best_ask().map_or(Px(0), |l| l.px);
        self.marks[i] = (bid, ask);
        let mut k = 0;
        while k < self.orders.len() {
            let o = self.orders[k];
            if o.it.instrument != instrument {
                k += 1;
                continue;
            }
            let remaining = match o.stage {
                Stage::Pending if ts_ns >= o.live_ts_ns => self.activate(k, book, ts_ns, fills),
                Stage::Pending => o.remaining,
                Stage::Resting => self.requeue(k, book, ts_ns, fills),
            };
            if remaining <= 0 {
                self.orders.swap_remove(k);
            } else {
                k += 1;
            }
        }
        self.sample(ts_ns);
        fills.len() - start
    }

    /// A public trade: resting orders on the passive side at the trade price move up the
    /// queue and fill with the volume beyond the size ahead; orders at better prices (traded
    /// through) fill completely. Appends fills and returns how many.
    pub fn on_trade(&mut self, trade: &Trade, fills: &mut Vec<Fill>) -> usize {
        let start = fills.len();
        // Aggressor sells hit resting buys, and vice versa.
        let passive = trade.aggressor.opposite();
        let mut left = trade.qty.0;
        let mut k = 0;
        while k < self.orders.len() {
            let o = self.orders[k];
            let hit = o.it.instrument == trade.instrument
                && o.stage == Stage::Resting
                && o.it.side == passive;
            let mut remaining = o.remaining;
            if hit {
                // Positive when the trade is through our price (better for us to fill).
                let through = side_sign(passive) * (o.it.px.0 - trade.px.0);
                let qty = if through > 0 {
                    remaining
                } else if through == 0 {
                    let avail = left - o.queue_ahead;
                    self.orders[k].queue_ahead = (o.queue_ahead - left).max(0);
                    avail.clamp(0, remaining)
                } else {
                    0
                };
                if qty > 0 {
                    if through == 0 {
                        left -= qty;
                    }
                    remaining =
                        self.fill(k, o.it.px, qty, Liquidity::Maker, trade.ts_local_ns, fills);
                }
            }
            if remaining <= 0 {
                self.orders.swap_remove(k);
            } else {
                k += 1;
            }
        }
        fills.len() - start
    }

    /// Goes live: takes what is marketable, then rests (limit) or cancels the rest (market).
    fn activate(&mut self, k: usize, book: &Book, ts_ns: i64, fills: &mut Vec<Fill>) -> i64 {
        let o = self.orders[k];
        let cap = o.it.px;
        let taker = o.it.side;
        let mut remaining = o.remaining;
        let marketable = match (o.it.order_type, book.best(taker.opposite())) {
            (_, None) => false,
            (OrderType::Market, Some(_)) => true,
            (OrderType::Limit, Some(l)) => side_sign(taker) * (cap.0 - l.px.0) >= 0,
        };
        if marketable {
            remaining = self.walk(k, book, ts_ns, fills);
        }
        if remaining > 0 {
            match o.it.order_type {
                OrderType::Market => {
                    self.stats.ioc_cancelled += 1;
                    if self.closed.len() == self.closed.capacity() {
                        self.stats.grows += 1;
                    }
                    self.closed.push(o.it.client_id);
                    return 0;
                }
                OrderType::Limit => {
                    self.orders[k].stage = Stage::Resting;
                    self.orders[k].queue_ahead = book.qty_at(taker, cap).0;
                }
            }
        }
        remaining
    }

    /// Walks the opposite side with order `k`, one fill per level; returns what is left.
    fn walk(&mut self, k: usize, book: &Book, ts_ns: i64, fills: &mut Vec<Fill>) -> i64 {
        let o = self.orders[k];
        let side = o.it.side;
        let cap = o.it.px;
        let mut remaining = o.remaining;
        for level in book.levels(side.opposite()) {
            if remaining <= 0 {
                break;
            }
            if cap.0 > 0 && side_sign(side) * (level.px.0 - cap.0) > 0 {
                break;
            }
            let take = remaining.min(level.qty.0);
            let px = self.slipped(side, level.px);
            remaining = self.fill(k, px, take, Liquidity::Taker, ts_ns, fills);
        }
        remaining
    }

    /// Queue update of resting order `k` against the new book; fills it if the touch crossed.
    fn requeue(&mut self, k: usize, book: &Book, ts_ns: i64, fills: &mut Vec<Fill>) -> i64 {
        let o = self.orders[k];
        let level = book.qty_at(o.it.side, o.it.px).0;
        if level < o.queue_ahead {
            self.orders[k].queue_ahead = level;
        }
        let crossed = book
            .best(o.it.side.opposite())
            .is_some_and(|l| side_sign(o.it.side) * (o.it.px.0 - l.px.0) >= 0);
        if crossed {
            return self.fill(k, o.it.px, o.remaining, Liquidity::Maker, ts_ns, fills);
        }
        o.remaining
    }

    /// The taker price after slippage, rounded to the worse tick.
    fn slipped(&self, side: Side, px: Px) -> Px {
        let bps = self.cfg.slippage_bps;
        if bps == 0 {
            return px;
        }
        let n = i128::from(px.0) * i128::from(10_000 + side_sign(side) * bps);
        let q = match side {
            Side::Buy => (n + 9_999).div_euclid(10_000),
            Side::Sell => n.div_euclid(10_000),
        };
        Px(q as i64)
    }

    /// Fills `qty` of order `k` at `px`; returns the order's remaining size.
    fn fill(
        &mut self,
        k: usize,
        px: Px,
        qty: i64,
        liq: Liquidity,
        ts_ns: i64,
        fills: &mut Vec<Fill>,
    ) -> i64 {
        let o: PaperOrder = self.orders[k];
        let inst = self.instruments[o.it.instrument.index()];
        let ppm = match liq {
            Liquidity::Maker => self.cfg.maker_fee_ppm,
            Liquidity::Taker => self.cfg.taker_fee_ppm,
        };
        let remaining = o.remaining - qty;
        self.orders[k].remaining = remaining;
        let f = Fill {
            ts_ns,
            client_id: o.it.client_id,
            px,
            qty: Qty(qty),
            fee: self.fee(&inst, px, qty, ppm),
            instrument: o.it.instrument,
            strategy: o.it.strategy,
            side: o.it.side,
            liquidity: liq,
            last: remaining <= 0,
            _pad: [0; 1],
        };
        self.book_fill(f, fills);
        remaining
    }
}
