//! Test fixtures: three instruments with tick 0.01 and lot 1 (so 1 lot at 100.00 is 100 quote
//! units), a loose configuration to isolate one limit at a time, and intent builders.
#![allow(dead_code, clippy::unwrap_used)]

use crpbot_core::{
    BookState, ClientOrderId, Fill, Instrument, InstrumentId, IntentAction, Liquidity, Money,
    OrderIntent, OrderType, Px, Qty, Registry, Scale, Side, StrategyId, Symbol, Venue,
};
use crpbot_risk::{MarketCtx, OperatorToken, RiskConfig, RiskEngine, Verdict, VerdictCode};

/// 2024-03-30 12:00:00 UTC.
pub const T0: i64 = 1_711_800_000 * 1_000_000_000;
pub const SEC: i64 = 1_000_000_000;

pub fn instruments(n: usize) -> Vec<Instrument> {
    let mut reg = Registry::new();
    for k in 0..n {
        let sym = Symbol::new(&format!("I{k}")).unwrap();
        reg.insert(Venue::Sim, sym, Scale::new(2, 1).unwrap(), Scale::new(0, 1).unwrap()).unwrap();
    }
    reg.iter().copied().collect()
}

/// Every limit far away, fees zero: tests tighten the one they exercise.
pub fn loose() -> RiskConfig {
    RiskConfig {
        initial_equity: 100_000.0,
        n_strategies: 4,
        fast_strategies: vec![3],
        trade_risk_frac: 1.0,
        fast_trade_risk_frac: 1.0,
        fee_ppm: 0,
        position_notional_frac: 10.0,
        max_open_positions: 100,
        fast_max_open_positions: 100,
        daily_loss_frac: 0.045,
        total_loss_frac: 0.09,
        rate_burst: 1_000_000,
        rate_per_sec: 1e6,
        max_order_notional: 1e10,
        collar_bps: 10_000,
        ..RiskConfig::default()
    }
}

pub struct Fx {
    pub eng: RiskEngine,
    pub token: OperatorToken,
    pub ctx: MarketCtx,
    pub next_id: u64,
}

impl Fx {
    pub fn new(cfg: RiskConfig) -> Fx {
        Fx::with_n(cfg, 3)
    }

    pub fn with_n(cfg: RiskConfig, n: usize) -> Fx {
        let (eng, token) = RiskEngine::new(&cfg, &instruments(n), T0).unwrap();
        let ctx = MarketCtx {
            now_ns: T0,
            book_ts_ns: T0,
            bid: Px(9_999),
            ask: Px(10_001),
            state: BookState::Synced,
        };
        Fx { eng, token, ctx, next_id: 1 }
    }

    pub fn id(&mut self) -> ClientOrderId {
        self.next_id += 1;
        ClientOrderId(self.next_id)
    }

    /// A new limit order from strategy 0.
    pub fn limit(&mut self, inst: u16, side: Side, px: i64, qty: i64) -> OrderIntent {
        let id = self.id();
        intent(id, InstrumentId(inst), StrategyId(0), side, OrderType::Limit, px, qty)
    }

    pub fn check(&mut self, it: &OrderIntent) -> Verdict {
        let ctx = self.ctx;
        self.eng.check(it, &ctx)
    }

    pub fn code(&mut self, it: &OrderIntent) -> VerdictCode {
        self.check(it).code
    }

    /// Fills a working order completely at its price.
    pub fn fill(&mut self, it: &OrderIntent, px: i64, qty: i64, last: bool) {
        self.eng.on_fill(&fill(it, px, qty, last, Money::ZERO));
    }
}

pub fn intent(
    id: ClientOrderId,
    instrument: InstrumentId,
    strategy: StrategyId,
    side: Side,
    order_type: OrderType,
    px: i64,
    qty: i64,
) -> OrderIntent {
    OrderIntent {
        ts_ns: T0,
        client_id: id,
        px: Px(px),
        qty: Qty(qty),
        stop_px: Px(0),
        take_profit_px: Px(0),
        instrument,
        strategy,
        reason: 0,
        side,
        order_type,
        action: IntentAction::New,
        reduce_only: false,
        _pad: [0; 6],
    }
}

pub fn modify(of: &OrderIntent, px: i64, qty: i64) -> OrderIntent {
    OrderIntent { action: IntentAction::Modify, px: Px(px), qty: Qty(qty), ..*of }
}

pub fn cancel(of: &OrderIntent) -> OrderIntent {
    OrderIntent { action: IntentAction::Cancel, ..*of }
}

pub fn fill(it: &OrderIntent, px: i64, qty: i64, last: bool, fee: Money) -> Fill {
    Fill {
        ts_ns: it.ts_ns,
        client_id: it.client_id,
        px: Px(px),
        qty: Qty(qty),
        fee,
        instrument: it.instrument,
        strategy: it.strategy,
        side: it.side,
        liquidity: Liquidity::Taker,
        last,
        _pad: [0; 1],
    }
}
