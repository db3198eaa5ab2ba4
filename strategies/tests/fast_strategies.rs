//! Scripted entry/exit rules of the four fast strategies: each script of books, trades and
//! fills must produce exactly the expected intents, and a quiet script none.
#![allow(clippy::unwrap_used)]

use crpbot_book::{Book, BookConfig};
use crpbot_core::{
    Fill, InstrumentId, IntentAction, Liquidity, Money, OrderIntent, OrderType, Px, Qty, Registry,
    Side, StrategyId, Trade, Venue,
};
use crpbot_strategies::fast::{
    IntentBuf, MeanRevConfig, MeanRevStrategy, OfiConfig, OfiStrategy, ScalpConfig, ScalpStrategy,
    SignalBank, SignalConfig, StatArbConfig, StatArbStrategy, Strategy,
};

const S: i64 = 1_000_000_000;
const BTC_LOT: i64 = 100_000_000; // 1 BTC in lots

struct Harness {
    reg: Registry,
    bank: SignalBank,
    books: Vec<Book>,
}

impl Harness {
    fn new(sig: SignalConfig) -> Harness {
        let reg = Registry::with_defaults();
        let bank = SignalBank::new(reg.len(), &sig);
        let books = (0..2).map(|_| Book::new(BookConfig::default())).collect();
        Harness { reg, bank, books }
    }

    fn id(&self, sym: &str) -> InstrumentId {
        self.reg.lookup(Venue::BinanceSpot, sym.as_bytes()).unwrap()
    }

    /// Sets the book of `sym` (slot 0 BTC, 1 ETH) and runs the strategy on it.
    fn book(
        &mut self,
        s: &mut dyn Strategy,
        sym: &str,
        ts: i64,
        bids: &[(i64, i64)],
        asks: &[(i64, i64)],
    ) -> Vec<OrderIntent> {
        let id = self.id(sym);
        let slot = usize::from(sym == "ETHUSDT");
        let b = &mut self.books[slot];
        b.clear();
        for &(p, q) in bids {
            b.set(Side::Buy, Px(p), Qty(q)).unwrap();
        }
        for &(p, q) in asks {
            b.set(Side::Sell, Px(p), Qty(q)).unwrap();
        }
        let sig = *self.bank.on_book(id, b, ts).unwrap();
        let mut out = IntentBuf::new();
        s.on_book(id, b, &sig, ts, &mut out);
        out.as_slice().to_vec()
    }

    fn trade(&mut self, s: &mut dyn Strategy, sym: &str, ts: i64, px: i64, qty: i64, side: Side) {
        let t = Trade {
            ts_exch_ns: ts,
            ts_local_ns: ts,
            trade_id: 0,
            px: Px(px),
            qty: Qty(qty),
            instrument: self.id(sym),
            aggressor: side,
            _pad: [0; 5],
        };
        let sig = *self.bank.on_trade(&t).unwrap();
        let mut out = IntentBuf::new();
        s.on_trade(&t, &sig, &mut out);
        assert!(out.is_empty());
    }
}

/// The whole order filled at `px`.
fn fill(s: &mut dyn Strategy, i: &OrderIntent, px: i64, ts: i64) {
    s.on_fill(&Fill {
        ts_ns: ts,
        client_id: i.client_id,
        px: Px(px),
        qty: i.qty,
        fee: Money::ZERO,
        instrument: i.instrument,
        strategy: i.strategy,
        side: i.side,
        liquidity: Liquidity::Taker,
        last: true,
        _pad: [0; 1],
    });
}

#[allow(clippy::too_many_arguments)]
fn check(
    i: &OrderIntent,
    sid: u16,
    seq: u64,
    side: Side,
    qty: i64,
    px: i64,
    stop: i64,
    tp: i64,
    reason: u16,
    reduce_only: bool,
) {
    assert_eq!(i.strategy, StrategyId(sid));
    assert_eq!(i.client_id.0, (u64::from(sid) << 48) | seq, "client id");
    assert_eq!(
        (i.side, i.qty, i.px, i.stop_px, i.take_profit_px, i.reason, i.reduce_only),
        (side, Qty(qty), Px(px), Px(stop), Px(tp), reason, reduce_only)
    );
    assert_eq!((i.order_type, i.action), (OrderType::Market, IntentAction::New));
}

#[test]
fn scalp_enters_on_imbalance_with_ofi_and_volume_and_exits_at_target() {
    let mut h = Harness::new(SignalConfig::default());
    let cfg = ScalpConfig { symbols: vec!["BTCUSDT".into()], ..Default::default() };
    let mut s = ScalpStrategy::new(&cfg, StrategyId(2), &h.reg).unwrap();
    let (bid, ask) = (6_000_000, 6_000_001);
    // Volume: 1 lot at 0 s, 5 BTC at 20 s → short rate 0.5/s over long 6/21 per s: ratio 1.75.
    h.trade(&mut s, "BTCUSDT", 0, bid, BTC_LOT, Side::Buy);
    h.trade(&mut s, "BTCUSDT", 20 * S, ask, 5 * BTC_LOT, Side::Buy);
    // Balanced first book: nothing.
    assert!(h.book(&mut s, "BTCUSDT", 20 * S, &[(bid, BTC_LOT)], &[(ask, BTC_LOT)]).is_empty());
    // Bid grows 1 → 3 BTC: imbalance 0.5, OFI +2 BTC → long.
    let out = h.book(&mut s, "BTCUSDT", 20 * S + S / 10, &[(bid, 3 * BTC_LOT)], &[(ask, BTC_LOT)]);
    assert_eq!(out.len(), 1);
    // qty = floor(1000e8 · 10^2 / 6000001) = 1 666 666; cap = ask + 5 bps (3000 ticks);
    // stop = ask − 0.15 % (9000); target 0.1 + (0.5−0.3)/0.7·0.2 = 0.15714 % → 1571 ppm → 9426.
    check(&out[0], 2, 1, Side::Buy, 1_666_666, 6_003_001, 5_991_001, 6_009_427, 201, false);
    // Pending: the same book again says nothing.
    assert!(
        h.book(&mut s, "BTCUSDT", 20 * S + S / 5, &[(bid, 3 * BTC_LOT)], &[(ask, BTC_LOT)])
            .is_empty()
    );
    fill(&mut s, &out[0], ask, 20 * S + S / 4);
    assert_eq!(s.position(out[0].instrument), 1_666_666);
    // Under the target: nothing. At the target (bid ≥ 6 009 427): exit, reduce-only.
    assert!(
        h.book(&mut s, "BTCUSDT", 21 * S, &[(6_009_000, BTC_LOT)], &[(6_009_001, BTC_LOT)])
            .is_empty()
    );
    let out = h.book(&mut s, "BTCUSDT", 22 * S, &[(6_009_500, BTC_LOT)], &[(6_009_501, BTC_LOT)]);
    assert_eq!(out.len(), 1);
    // Cap = bid − 5 bps = 6 009 500 − 3004.
    check(&out[0], 2, 2, Side::Sell, 1_666_666, 6_006_496, 0, 0, 212, true);
    fill(&mut s, &out[0], 6_009_500, 22 * S + 1);
    assert_eq!(s.position(out[0].instrument), 0);
    let st = s.stats();
    assert_eq!((st.entries, st.exits, st.fills), (1, 1, 2));
}

#[test]
fn scalp_stays_out_without_volume_or_against_ofi() {
    let (bid, ask) = (6_000_000, 6_000_001);
    // (a) Imbalance and OFI, but a quiet tape: 1 BTC a second until 20 s, books at 29 s:
    // short rate 0.1/s vs long 21/30 per s.
    let mut h = Harness::new(SignalConfig::default());
    let mut s = ScalpStrategy::new(&ScalpConfig::default(), StrategyId(2), &h.reg).unwrap();
    for k in 0..=20 {
        h.trade(&mut s, "BTCUSDT", k * S, bid, BTC_LOT, Side::Buy);
    }
    let mut none = h.book(&mut s, "BTCUSDT", 29 * S, &[(bid, BTC_LOT)], &[(ask, BTC_LOT)]);
    none.extend(h.book(&mut s, "BTCUSDT", 29 * S + 1, &[(bid, 3 * BTC_LOT)], &[(ask, BTC_LOT)]));
    // (b) Busy tape and a bid-heavy book, but the OFI is negative: bid 3 → 2 (−1), ask
    // 1 → 0.2 (+0.8).
    let mut h = Harness::new(SignalConfig::default());
    let mut s = ScalpStrategy::new(&ScalpConfig::default(), StrategyId(2), &h.reg).unwrap();
    h.trade(&mut s, "BTCUSDT", 0, bid, BTC_LOT, Side::Buy);
    h.trade(&mut s, "BTCUSDT", 20 * S, ask, 5 * BTC_LOT, Side::Buy);
    none.extend(h.book(&mut s, "BTCUSDT", 20 * S, &[(bid, 3 * BTC_LOT)], &[(ask, BTC_LOT)]));
    none.extend(h.book(
        &mut s,
        "BTCUSDT",
        20 * S + 1,
        &[(bid, 2 * BTC_LOT)],
        &[(ask, BTC_LOT / 5)],
    ));
    assert!(none.is_empty(), "{none:?}");
}

#[test]
fn ofi_composite_long_above_threshold_and_exit_when_score_turns() {
    let mut h = Harness::new(SignalConfig::default());
    let cfg = OfiConfig { symbols: vec!["BTCUSDT".into()], ..Default::default() };
    let mut s = OfiStrategy::new(&cfg, StrategyId(1), &h.reg).unwrap();
    let (bid, ask) = (6_000_000, 6_000_001);
    assert!(h.book(&mut s, "BTCUSDT", S, &[(bid, BTC_LOT)], &[(ask, BTC_LOT)]).is_empty());
    // Bid 1 → 4 BTC: imbalance 0.6 (+0.20), OFI norm 1 (+0.15), depth 0.6 (+0.06) = 0.41.
    let out = h.book(&mut s, "BTCUSDT", 2 * S, &[(bid, 4 * BTC_LOT)], &[(ask, BTC_LOT)]);
    assert_eq!(out.len(), 1);
    // cap ask + 10 bps (6000), stop −0.3 % (18000), target +0.6 % (36000).
    check(&out[0], 1, 1, Side::Buy, 1_666_666, 6_006_001, 5_982_001, 6_036_001, 101, false);
    fill(&mut s, &out[0], ask, 2 * S + 1);
    // Flip: bid 4 → 1, ask 1 → 4: imbalance −0.6 (−0.20), OFI window (3 − 6)/9 (−0.05),
    // depth −0.06: −0.31 < 0 → exit.
    let out = h.book(&mut s, "BTCUSDT", 3 * S, &[(bid, BTC_LOT)], &[(ask, 4 * BTC_LOT)]);
    assert_eq!(out.len(), 1);
    check(&out[0], 1, 2, Side::Sell, 1_666_666, 5_994_000, 0, 0, 110, true);
}

#[test]
fn ofi_composite_quiet_book_emits_nothing() {
    let mut h = Harness::new(SignalConfig::default());
    let mut s = OfiStrategy::new(&OfiConfig::default(), StrategyId(1), &h.reg).unwrap();
    let mut all = Vec::new();
    for k in 0..50 {
        // Small symmetric size changes: |score| stays well under 0.4.
        let q = BTC_LOT + (k % 3) * 1_000;
        all.extend(h.book(&mut s, "BTCUSDT", k * S, &[(6_000_000, q)], &[(6_000_001, q)]));
        h.trade(
            &mut s,
            "BTCUSDT",
            k * S,
            6_000_000 + k % 2,
            1_000,
            if k % 2 == 0 { Side::Buy } else { Side::Sell },
        );
    }
    assert!(all.is_empty(), "{all:?}");
}

/// Books with a 2-tick spread around `mid` (relative to 6 000 000) at `t` seconds.
fn mr_book(h: &mut Harness, s: &mut dyn Strategy, t: i64, rel: i64) -> Vec<OrderIntent> {
    let m = 6_000_000 + rel;
    h.book(s, "BTCUSDT", t * S, &[(m - 1, BTC_LOT)], &[(m + 1, BTC_LOT)])
}

fn mr_cfg() -> MeanRevConfig {
    MeanRevConfig {
        symbols: vec!["BTCUSDT".into()],
        bb_window: 3,
        width_history: 5,
        width_min_history: 3,
        ..Default::default()
    }
}

#[test]
fn meanrev_sells_above_the_band_in_a_squeeze_and_exits_at_vwap() {
    let mut h = Harness::new(SignalConfig::default());
    let mut s = MeanRevStrategy::new(&mr_cfg(), StrategyId(3), &h.reg).unwrap();
    // VWAP = 6 000 000 from one trade.
    h.trade(&mut s, "BTCUSDT", 0, 6_000_000, BTC_LOT, Side::Buy);
    // Bollinger widths of 3-sample windows shrink: σ 141, 125, 94, 82 (quiet from here:
    // no earlier width is smaller), 41, 27, then {40, 45, 50} σ 4.08: mid 50 > VWAP + 8.2.
    let mut out = Vec::new();
    for (t, rel) in [(1, 0), (2, 300), (3, 0), (4, 200), (5, 0), (6, 100), (7, 40), (8, 45)] {
        out.extend(mr_book(&mut h, &mut s, t, rel));
    }
    assert!(out.is_empty(), "{out:?}");
    let out = mr_book(&mut h, &mut s, 9, 50);
    assert_eq!(out.len(), 1);
    // Short at bid 6 000 049: cap −10 bps (6000), stop +0.5 % (30000),
    // target the VWAP: 49 ticks = 8 ppm → 48 ticks → 6 000 001.
    check(&out[0], 3, 1, Side::Sell, 1_666_653, 5_994_049, 6_030_049, 6_000_001, 301, false);
    fill(&mut s, &out[0], 6_000_049, 9 * S + 1);
    // Mid back to the VWAP: buy back.
    let out = mr_book(&mut h, &mut s, 10, 0);
    assert_eq!(out.len(), 1);
    check(&out[0], 3, 2, Side::Buy, 1_666_653, 6_006_001, 0, 0, 310, true);
}

#[test]
fn meanrev_no_trade_when_bands_widen() {
    let mut h = Harness::new(SignalConfig::default());
    let mut s = MeanRevStrategy::new(&mr_cfg(), StrategyId(3), &h.reg).unwrap();
    h.trade(&mut s, "BTCUSDT", 0, 6_000_000, BTC_LOT, Side::Buy);
    let mut out = Vec::new();
    // Widening swings: every new width is the largest, never quiet, though far from VWAP.
    for (t, rel) in (1..12).map(|t| (t, if t % 2 == 0 { 100 * t } else { -100 * t })) {
        out.extend(mr_book(&mut h, &mut s, t, rel));
    }
    assert!(out.is_empty(), "{out:?}");
}

/// Residual of the pair at sample `t`: deterministic i.i.d.-looking noise, uniform ±2e-4.
fn noise(t: i64) -> f64 {
    let h = (t as u64).wrapping_mul(2_654_435_761) % 1_000;
    (h as f64 / 1_000.0 - 0.5) * 4e-4
}

/// One second of the pair: ETH = 0.05 · BTC · e^(noise + extra), BTC on a deterministic walk.
fn pair_second(h: &mut Harness, s: &mut dyn Strategy, t: i64, extra: f64) -> Vec<OrderIntent> {
    let x = 6_000_000 + 3_000 * ((t * 37) % 11 - 5) + 500 * t;
    let y = (0.05 * x as f64 * (noise(t) + extra).exp()).round() as i64;
    let mut out = h.book(s, "BTCUSDT", t * S, &[(x - 1, BTC_LOT)], &[(x + 1, BTC_LOT)]);
    out.extend(h.book(
        s,
        "ETHUSDT",
        t * S + S / 10,
        &[(y - 1, 10 * BTC_LOT)],
        &[(y + 1, 10 * BTC_LOT)],
    ));
    out
}

fn sa_cfg() -> StatArbConfig {
    StatArbConfig { window: 40, min_samples: 40, ..Default::default() }
}

#[test]
fn statarb_sells_the_rich_spread_as_a_pair_and_exits_on_reversion() {
    let mut h = Harness::new(SignalConfig::default());
    let mut s = StatArbStrategy::new(&sa_cfg(), StrategyId(4), &h.reg).unwrap();
    let mut out = Vec::new();
    for t in 1..=45 {
        out.extend(pair_second(&mut h, &mut s, t, 0.0));
    }
    assert!(out.is_empty(), "{out:?}");
    let f = s.fit().unwrap();
    assert!(f.cointegrated && (f.b - 1.0).abs() < 0.05, "{f:?}");
    // ETH rich: residual 4.5e-4 (≈ 3.5 σ), z between 2 and the stop 4 → sell ETH, buy BTC.
    let out = pair_second(&mut h, &mut s, 46, 4.5e-4 - noise(46));
    assert_eq!(out.len(), 2, "{out:?} z={:?} fit={:?}", s.z(), s.fit());
    let eth = h.id("ETHUSDT");
    let btc = h.id("BTCUSDT");
    assert_eq!((out[0].instrument, out[0].side, out[0].reason), (eth, Side::Sell, 401));
    assert_eq!((out[1].instrument, out[1].side, out[1].reason), (btc, Side::Buy, 401));
    assert!(out.iter().all(|i| i.stop_px.0 > 0 && !i.reduce_only && i.qty.0 > 0));
    // y notional 1000 USDT at the ETH bid.
    let y_bid = out[0].px.0 + out[0].px.0 / 1000; // cap is bid − 10 bps (approximately)
    assert!((out[0].qty.0 - 100_000_000_000 * 100 / y_bid).abs() < 2_000, "{:?}", out[0].qty);
    for i in &out {
        fill(&mut s, i, i.px.0, 46 * S + S / 10 + 1);
    }
    assert_eq!(s.position(eth), -out[0].qty.0);
    assert_eq!(s.position(btc), out[1].qty.0);
    // Back to normal: |z| ≤ 0.5 → both legs closed, reduce-only.
    let mut out2 = Vec::new();
    for t in 47..=60 {
        out2.extend(pair_second(&mut h, &mut s, t, 0.0));
        if !out2.is_empty() {
            break;
        }
    }
    assert_eq!(out2.len(), 2, "{out2:?}");
    assert!(out2.iter().all(|i| i.reduce_only && i.reason == 410));
    assert_eq!((out2[0].instrument, out2[0].side, out2[0].qty), (eth, Side::Buy, out[0].qty));
    assert_eq!((out2[1].instrument, out2[1].side, out2[1].qty), (btc, Side::Sell, out[1].qty));
}

#[test]
fn statarb_no_trade_without_a_dislocation() {
    let mut h = Harness::new(SignalConfig::default());
    let mut s = StatArbStrategy::new(&sa_cfg(), StrategyId(4), &h.reg).unwrap();
    let mut out = Vec::new();
    for t in 1..=120 {
        out.extend(pair_second(&mut h, &mut s, t, 0.0));
    }
    assert!(out.is_empty(), "{out:?}");
    assert!(s.fit().is_some());
}
