//! Golden replay of the real Coinbase Advanced Trade capture (`venue-captures/COINBASE.jsonl.zst`,
//! BTC-USD and ETH-USD, 24.8 s) through the capture reader, the decoder, `CoinbaseSync` and the
//! books, checked against the facts in `../shared/data/README.md` and against an independent
//! rebuild (serde_json + `RefBook`, no simd-json, no `CoinbaseSync`).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use crpbot_book::reference::RefBook;
use crpbot_core::{InstrumentId, MarketEvent, Registry, Side, Venue};
use crpbot_feeds::coinbase::{CoinbaseReplay, replay_coinbase};
use crpbot_feeds::replay::{BboCsv, Published, ReplaySink};

fn capture(dir: &Path) -> PathBuf {
    dir.join("venue-captures/COINBASE.jsonl.zst")
}

/// Rebuilds books from the normalized event stream and checks every published book.
#[derive(Default)]
struct Collect {
    books: HashMap<InstrumentId, RefBook>,
    published: u64,
    /// (maker side on the wire → our aggressor, where it printed): counts.
    trade_at: HashMap<(Side, &'static str), u64>,
}

impl ReplaySink for Collect {
    fn on_book(&mut self, p: &Published<'_>) {
        let (b, a) = (p.book.book.best_bid().unwrap(), p.book.book.best_ask().unwrap());
        assert!(b.px < a.px, "published a crossed book");
        let r = &self.books[&p.depth.instrument];
        assert_eq!((r.best_bid(), r.best_ask()), (Some(b), Some(a)), "event stream ≠ book");
        self.published += 1;
    }
    fn on_event(&mut self, e: &MarketEvent) {
        match e {
            MarketEvent::Snapshot(s) => self.books.entry(s.instrument).or_default().clear(),
            MarketEvent::Level(l) => {
                self.books.entry(l.instrument).or_default().apply(l).unwrap();
            }
            MarketEvent::Trade(t) => {
                let Some(r) = self.books.get(&t.instrument) else { return };
                let (b, a) = (r.best_bid().unwrap().px, r.best_ask().unwrap().px);
                let at = if t.px >= a {
                    "ask"
                } else if t.px <= b {
                    "bid"
                } else {
                    "inside"
                };
                *self.trade_at.entry((t.aggressor, at)).or_default() += 1;
            }
            _ => {}
        }
    }
}

/// Independent rebuild: zstd + serde_json, l2_data only.
fn rebuild(path: &Path, reg: &Registry) -> HashMap<String, RefBook> {
    let file = std::fs::File::open(path).unwrap();
    let reader = std::io::BufReader::new(zstd::stream::read::Decoder::new(file).unwrap());
    let mut books: HashMap<String, RefBook> = HashMap::new();
    let mut last_seq: Option<u64> = None;
    for line in reader.lines() {
        let rec: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if rec["t"] != "recv" {
            continue;
        }
        let msg: serde_json::Value = serde_json::from_str(rec["data"].as_str().unwrap()).unwrap();
        let seq = msg["sequence_num"].as_u64().unwrap();
        assert_eq!(seq, last_seq.map_or(0, |s| s + 1), "capture sequence is contiguous");
        last_seq = Some(seq);
        if msg["channel"] != "l2_data" {
            continue;
        }
        for ev in msg["events"].as_array().unwrap() {
            let product = ev["product_id"].as_str().unwrap();
            let inst = reg.get(reg.lookup(Venue::Coinbase, product.as_bytes()).unwrap());
            let book = books.entry(product.to_owned()).or_default();
            if ev["type"] == "snapshot" {
                book.clear();
            }
            for u in ev["updates"].as_array().unwrap() {
                let side = if u["side"] == "bid" { Side::Buy } else { Side::Sell };
                let px = inst.price.parse_units(u["price_level"].as_str().unwrap().as_bytes());
                let qty = inst.qty.parse_units(u["new_quantity"].as_str().unwrap().as_bytes());
                book.set(side, crpbot_core::Px(px.unwrap()), crpbot_core::Qty(qty.unwrap()))
                    .unwrap();
            }
        }
    }
    books
}

#[test]
fn coinbase_golden_replay() {
    let Some(dir) = common::data_dir() else { return };
    let reg = Registry::with_defaults();
    let path = capture(&dir);
    let mut collect = Collect::default();
    let mut replay = CoinbaseReplay::new(&reg);
    let stats = replay.run(std::slice::from_ref(&path), &mut collect);
    println!("{}", serde_json::to_string(&stats).unwrap());
    let sync = replay.sync().stats();
    println!("{sync:?}");
    assert_eq!(stats.errors, 0, "{:?}", stats.issues);
    assert_eq!(stats.messages, 1_030);
    assert_eq!(replay.sync().last_seq(), Some(1_029));
    assert_eq!((stats.gaps, sync.duplicates, stats.crossed, stats.resyncs), (0, 0, 0, 0));
    assert_eq!(stats.snapshots, 2);
    // README: 2 snapshots, then 74,193 level changes (snapshot levels included).
    assert_eq!(stats.levels_applied, 74_193);
    assert_eq!(stats.book_updates_applied, 773);
    assert_eq!(sync.updates_unsynced, 0);
    // 279 trades: 200 historical in the two snapshots, 79 live.
    assert_eq!((stats.trades, sync.snapshot_trades), (79, 200));
    assert_eq!((sync.heartbeats, sync.heartbeat_skips), (25, 0));
    assert_eq!(stats.bbo, 160);
    assert_eq!(replay.decoder().unknown_products(), 0);
    assert!(collect.published > 700, "{}", collect.published);

    let model = rebuild(&path, &reg);
    for (product, bid, ask) in
        [("BTC-USD", "65083.66", "65083.67"), ("ETH-USD", "1919.28", "1919.38")]
    {
        let id = reg.lookup(Venue::Coinbase, product.as_bytes()).unwrap();
        let inst = reg.get(id);
        let tb = replay.books().get(id).unwrap();
        assert!(tb.is_valid());
        let (b, a) = (tb.book.best_bid().unwrap(), tb.book.best_ask().unwrap());
        assert_eq!(
            (inst.price.format(b.px.0), inst.price.format(a.px.0)),
            (bid.into(), ask.into())
        );
        let m = &model[product];
        for side in [Side::Buy, Side::Sell] {
            assert_eq!(tb.book.level_count(side), m.level_count(side), "{product} {side:?}");
            assert!(tb.book.levels(side).eq(m.levels(side)), "{product} {side:?} levels differ");
        }
        println!(
            "{product}: {bid}/{ask}, {} bids, {} asks",
            m.level_count(Side::Buy),
            m.level_count(Side::Sell)
        );
    }
}

/// `side` on `market_trades` is the maker's: a trade whose wire side is `SELL` (aggressor
/// `Buy` after our mapping) prints at the ask, `BUY` (aggressor `Sell`) at the bid.
#[test]
fn coinbase_trade_side_is_the_makers() {
    let Some(dir) = common::data_dir() else { return };
    let reg = Registry::with_defaults();
    let mut collect = Collect::default();
    replay_coinbase(&reg, &[capture(&dir)], &mut collect);
    let n = |s, at| collect.trade_at.get(&(s, at)).copied().unwrap_or(0);
    println!("{:?}", collect.trade_at);
    let (agree, disagree) =
        (n(Side::Buy, "ask") + n(Side::Sell, "bid"), n(Side::Buy, "bid") + n(Side::Sell, "ask"));
    assert_eq!((agree, disagree), (71, 0));
    // The rest printed inside the spread (the touch had already been updated away), and one
    // trade came before the first book snapshot.
    assert_eq!(n(Side::Buy, "inside") + n(Side::Sell, "inside"), 7);
}

#[test]
fn coinbase_bbo_csv_has_one_row_per_published_update() {
    let Some(dir) = common::data_dir() else { return };
    let reg = Registry::with_defaults();
    let mut csv = BboCsv::new(Vec::new(), &reg).unwrap();
    let stats = replay_coinbase(&reg, &[capture(&dir)], &mut csv);
    let rows = csv.rows();
    let text = String::from_utf8(csv.finish().unwrap()).unwrap();
    assert!(rows > 700 && rows <= stats.book_updates_applied);
    let last_btc = text.lines().rev().find(|l| l.contains(",BTC-USD,")).unwrap();
    assert!(last_btc.contains(",65083.66,") && last_btc.contains(",65083.67,"), "{last_btc}");
    let last_eth = text.lines().rev().find(|l| l.contains(",ETH-USD,")).unwrap();
    assert!(last_eth.contains(",1919.28,") && last_eth.contains(",1919.38,"), "{last_eth}");
}
