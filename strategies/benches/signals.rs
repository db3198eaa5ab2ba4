//! Per-event cost of the fast lane on the real recordings (BTCUSDT + ETHUSDT, merged).
//!
//! The normalized events of a replay are recorded once, then each benchmark re-applies them to
//! a fresh `BookSet` and, at each published book and each trade, runs: nothing (`books_only`,
//! the baseline), the signal bank (`signals`), the bank plus one strategy
//! (`lane_<name>`), or the bank plus all four (`lane_all`). Intents are filled at once at the
//! touch and fed back. Throughput is per lane event (published books + trades), so the cost of
//! the lane per event is the difference from `books_only`.
#![allow(clippy::unwrap_used)]

#[path = "../tests/fast_common/mod.rs"]
mod fast_common;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use crpbot_book::BookConfig;
use crpbot_core::{Fill, Liquidity, MarketEvent, Money, Registry, Side, StrategyId};
use crpbot_feeds::books::{BookEffect, BookSet};
use crpbot_feeds::replay::{Published, ReplaySink};
use crpbot_strategies::fast::{FastConfig, FastLane, IntentBuf, SignalBank};

#[derive(Default)]
struct Rec(Vec<MarketEvent>);
impl ReplaySink for Rec {
    fn on_book(&mut self, _p: &Published<'_>) {}
    fn on_event(&mut self, ev: &MarketEvent) {
        self.0.push(*ev);
    }
}

enum Mode {
    BooksOnly,
    Signals,
    Lane,
}

fn pass(
    events: &[MarketEvent],
    books: &mut BookSet,
    bank: &mut SignalBank,
    lane: &mut FastLane,
    mode: &Mode,
) -> u64 {
    let mut out = IntentBuf::new();
    let mut n = 0u64;
    for ev in events {
        let eff = books.apply(ev);
        match (ev, mode) {
            (MarketEvent::Level(l), _) if eff == BookEffect::Updated => {
                n += 1;
                let tb = books.get(l.instrument).unwrap();
                match mode {
                    Mode::BooksOnly => {
                        black_box(tb.book.best_bid());
                    }
                    Mode::Signals => {
                        black_box(bank.on_book(l.instrument, &tb.book, l.ts_exch_ns));
                    }
                    Mode::Lane => {
                        lane.on_book(l.instrument, &tb.book, l.ts_exch_ns, &mut out);
                        for i in out.as_slice() {
                            let b = &books.get(i.instrument).unwrap().book;
                            let touch =
                                if i.side == Side::Buy { b.best_ask() } else { b.best_bid() };
                            let Some(touch) = touch else { continue };
                            lane.on_fill(&Fill {
                                ts_ns: l.ts_exch_ns,
                                client_id: i.client_id,
                                px: touch.px,
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
                        out.clear();
                    }
                }
            }
            (MarketEvent::Trade(t), Mode::Signals) => {
                n += 1;
                black_box(bank.on_trade(t));
            }
            (MarketEvent::Trade(t), Mode::Lane) => {
                n += 1;
                lane.on_trade(t, &mut out);
                out.clear();
            }
            (MarketEvent::Trade(_), Mode::BooksOnly) => n += 1,
            _ => {}
        }
    }
    n
}

fn only(name: &str) -> FastConfig {
    let mut c = FastConfig::default();
    c.ofi.enabled = name == "ofi" || name == "all";
    c.scalp.enabled = name == "scalp" || name == "all";
    c.meanrev.enabled = name == "meanrev" || name == "all";
    c.statarb.enabled = name == "statarb" || name == "all";
    c
}

fn benches(c: &mut Criterion) {
    let Some(dir) = fast_common::data_dir() else {
        eprintln!("skipping signals benches: ../shared/data not found (set CRPBOT_DATA_DIR)");
        return;
    };
    let reg = Registry::with_defaults();
    let mut rec = Rec::default();
    fast_common::replay_merged(&dir, &reg, &mut rec);
    let events = rec.0;
    let setup = |name: &str| {
        (
            BookSet::new(reg.len(), BookConfig::default()),
            SignalBank::new(reg.len(), &FastConfig::default().signals),
            FastLane::new(&only(name), &reg, StrategyId(1)).unwrap(),
        )
    };
    let (mut b, mut s, mut l) = setup("none");
    let n_lane_events = pass(&events, &mut b, &mut s, &mut l, &Mode::BooksOnly);
    let mut g = c.benchmark_group("fast_lane");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n_lane_events));
    let cases: [(&str, &str, Mode); 7] = [
        ("books_only", "none", Mode::BooksOnly),
        ("signals", "none", Mode::Signals),
        ("lane_ofi", "ofi", Mode::Lane),
        ("lane_scalp", "scalp", Mode::Lane),
        ("lane_meanrev", "meanrev", Mode::Lane),
        ("lane_statarb", "statarb", Mode::Lane),
        ("lane_all", "all", Mode::Lane),
    ];
    for (label, strat, mode) in &cases {
        g.bench_function(*label, |bch| {
            bch.iter_batched(
                || setup(strat),
                |(mut b, mut s, mut l)| pass(&events, &mut b, &mut s, &mut l, mode),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(fast, benches);
criterion_main!(fast);
