//! Golden replay of the real Binance spot recordings (both symbols, both days, in order).
//!
//! Checks the facts a correct replay reproduces (../shared/data/README.md): no sequence gap,
//! never crossed, and the rebuilt best bid/ask equals the exchange's own `bookTicker` — the
//! latest one whose `u` lies inside the diff's `[U, u]` — for at least 99.9 % of the diffs
//! where one exists. The BBO CSV is compared with `tests/golden/binance_spot_bbo.expect`
//! (row count, FNV-1a digest, first and last rows); regenerate on purpose with
//! `UPDATE_EXPECT=1 cargo test -p crpbot-feeds --test golden_binance`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use crpbot_core::{InstrumentId, MarketEvent, Px, Qty, Registry, Venue};
use crpbot_feeds::replay::{BboCsv, BinanceReplay, Published, ReplaySink};

/// (u, bid px, bid qty, ask px, ask qty).
type Ticker = (u64, Px, Qty, Px, Qty);
/// (U, u, bid px, bid qty, ask px, ask qty).
type Top = (u64, u64, Px, Qty, Px, Qty);

#[derive(Default)]
struct Collect {
    /// Per instrument: (u, bid px, bid qty, ask px, ask qty) of every bookTicker.
    tickers: HashMap<InstrumentId, Vec<Ticker>>,
    /// Per instrument: (U, u, bid px, bid qty, ask px, ask qty) after every published diff.
    books: HashMap<InstrumentId, Vec<Top>>,
}

impl ReplaySink for Collect {
    fn on_book(&mut self, p: &Published<'_>) {
        let (b, a) = (p.book.book.best_bid().unwrap(), p.book.book.best_ask().unwrap());
        assert!(b.px < a.px, "published a crossed book");
        self.books.entry(p.depth.instrument).or_default().push((
            p.depth.first_update_id,
            p.depth.final_update_id,
            b.px,
            b.qty,
            a.px,
            a.qty,
        ));
    }
    fn on_event(&mut self, e: &MarketEvent) {
        if let MarketEvent::Bbo(t) = e {
            self.tickers.entry(t.instrument).or_default().push((
                t.update_id,
                t.bid_px,
                t.bid_qty,
                t.ask_px,
                t.ask_qty,
            ));
        }
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[test]
fn binance_spot_golden_replay() {
    let Some(dir) = common::data_dir() else { return };
    let reg = Registry::with_defaults();
    let files = common::binance_spot_files(&dir);

    let mut collect = Collect::default();
    let stats = BinanceReplay::new(&reg, Venue::BinanceSpot).run(&files, &mut collect);
    println!("{}", serde_json::to_string(&stats).unwrap());
    assert_eq!(stats.errors, 0, "{:?}", stats.issues);
    assert_eq!(stats.gaps, 0);
    assert_eq!(stats.crossed, 0);
    assert_eq!(stats.resyncs, 0);
    assert_eq!(stats.snapshots, 2);
    // Counts from ../shared/data/README.md.
    assert_eq!(stats.trades, 9_757 + 10_147 + 6_106 + 8_409);
    assert_eq!(stats.bbo, 28_040 + 45_134 + 24_077 + 34_681);
    let diffs = 3_451 + 3_044 + 3_434 + 3_036;
    assert_eq!(stats.book_updates_applied + stats.stale_dropped, diffs);
    assert!(stats.stale_dropped <= 6, "only the pre-snapshot diffs may be stale");

    for (symbol, min_rows) in [("BTCUSDT", 6_400), ("ETHUSDT", 6_400)] {
        let id = reg.lookup(Venue::BinanceSpot, symbol.as_bytes()).unwrap();
        let mut tickers = collect.tickers.remove(&id).unwrap();
        tickers.sort_by_key(|t| t.0);
        let books = &collect.books[&id];
        assert!(books.len() >= min_rows, "{symbol}: {} published", books.len());
        let (mut compared, mut px_equal, mut full_equal) = (0u64, 0u64, 0u64);
        for &(first, last, bp, bq, ap, aq) in books {
            // The latest ticker with u in [first, last].
            let idx = tickers.partition_point(|t| t.0 <= last);
            if idx == 0 || tickers[idx - 1].0 < first {
                continue;
            }
            let t = tickers[idx - 1];
            compared += 1;
            if (t.1, t.3) == (bp, ap) {
                px_equal += 1;
                if (t.2, t.4) == (bq, aq) {
                    full_equal += 1;
                }
            }
        }
        let pct = |n: u64| 100.0 * n as f64 / compared as f64;
        println!(
            "{symbol}: {} diffs published, {compared} with a bookTicker inside [U,u]; best bid/ask \
             prices agree {:.3} %, prices and sizes agree {:.3} %",
            books.len(),
            pct(px_equal),
            pct(full_equal)
        );
        assert!(compared > 1_000);
        assert!(pct(full_equal) >= 99.9, "{symbol}: agreement {:.3} % < 99.9 %", pct(full_equal));
    }
}

#[test]
fn binance_spot_bbo_csv_is_golden() {
    let Some(dir) = common::data_dir() else { return };
    let reg = Registry::with_defaults();
    let files = common::binance_spot_files(&dir);
    let mut csv = BboCsv::new(Vec::new(), &reg).unwrap();
    let stats = BinanceReplay::new(&reg, Venue::BinanceSpot).run(&files, &mut csv);
    let rows = csv.rows();
    assert_eq!(rows, stats.book_updates_applied, "one row per applied diff");
    let text = String::from_utf8(csv.finish().unwrap()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut summary = format!("rows {}\nfnv1a {:016x}\n", lines.len() - 1, fnv1a(text.as_bytes()));
    for l in lines.iter().take(4).chain(lines.iter().rev().take(3).rev()) {
        summary.push_str(l);
        summary.push('\n');
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/binance_spot_bbo.expect");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(path, &summary).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    assert_eq!(summary, expected, "BBO CSV changed; if on purpose, rerun with UPDATE_EXPECT=1");
}
