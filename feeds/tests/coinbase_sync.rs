//! Coinbase decoder and sequencing on constructed messages (PROTOCOLS.md §1.2–§1.7), and the
//! Binance USDⓈ-M replay path on a synthetic futures recording.
#![allow(clippy::unwrap_used)]

use std::io::Write;

use crpbot_core::{BookState, MarketEvent, Px, Qty, Registry, Side, StateReason, Venue};
use crpbot_feeds::coinbase::{CoinbaseDecoder, CoinbaseMsg, CoinbaseSync, MsgOutcome};
use crpbot_feeds::replay::{BinanceReplay, Published, ReplaySink};

fn l2(seq: u64, kind: &str, product: &str, levels: &[(&str, &str, &str)]) -> String {
    let ups: Vec<String> = levels
        .iter()
        .map(|(side, px, q)| {
            format!(
                r#"{{"side":"{side}","event_time":"2023-02-09T20:32:50.1Z","price_level":"{px}","new_quantity":"{q}"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"channel":"l2_data","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":{seq},"events":[{{"type":"{kind}","product_id":"{product}","updates":[{}]}}]}}"#,
        ups.join(",")
    )
}

fn hb(seq: u64, counter: &str) -> String {
    format!(
        r#"{{"channel":"heartbeats","client_id":"","timestamp":"2023-06-23T20:31:26.122969572Z","sequence_num":{seq},"events":[{{"current_time":"x","heartbeat_counter":{counter}}}]}}"#
    )
}

fn subs(seq: u64) -> String {
    format!(
        r#"{{"channel":"subscriptions","timestamp":"2026-04-07T14:30:00.000000Z","sequence_num":{seq},"events":[{{"subscriptions":{{"level2":["BTC-USD"]}}}}]}}"#
    )
}

struct Harness {
    dec: CoinbaseDecoder,
    sync: CoinbaseSync,
    events: Vec<MarketEvent>,
}

impl Harness {
    fn new() -> Harness {
        let reg = Registry::with_defaults();
        Harness {
            dec: CoinbaseDecoder::new(&reg, Default::default()),
            sync: CoinbaseSync::new(&reg),
            events: Vec::new(),
        }
    }
    fn feed(&mut self, text: &str) -> MsgOutcome {
        let mut buf = text.as_bytes().to_vec();
        let msg = self.dec.decode(&mut buf, 1).unwrap();
        let events = &mut self.events;
        self.sync.on_message(&msg, &self.dec, &mut |e| events.push(e))
    }
}

/// The constructed gap scenario of PROTOCOLS.md §1.7: 0 subscriptions, 1 BTC-USD snapshot,
/// 2 heartbeat, 4 update ⇒ gap at 4 (expected 3), BTC-USD stale, update 4 not applied.
#[test]
fn gap_scenario_marks_books_stale_and_drops_the_message() {
    let reg = Registry::with_defaults();
    let btc = reg.lookup(Venue::Coinbase, b"BTC-USD").unwrap();
    let mut h = Harness::new();
    assert_eq!(h.feed(&subs(0)), MsgOutcome::Applied);
    let snap = l2(1, "snapshot", "BTC-USD", &[("bid", "100.00", "1"), ("offer", "100.5", "2")]);
    assert_eq!(h.feed(&snap), MsgOutcome::Applied);
    assert_eq!(h.sync.state(btc), Some(BookState::Synced));
    assert_eq!(h.feed(&hb(2, "\"3049\"")), MsgOutcome::Applied);
    let n_before = h.events.len();
    let upd = l2(4, "update", "BTC-USD", &[("bid", "100.01", "5")]);
    assert_eq!(h.feed(&upd), MsgOutcome::Gap { expected: 3, got: 4 });
    assert_eq!(h.sync.state(btc), Some(BookState::Stale));
    assert!(h.sync.wants_resubscribe());
    let new: Vec<_> = h.events[n_before..].to_vec();
    assert_eq!(new.len(), 1, "only the state change, no level: {new:?}");
    assert!(
        matches!(new[0], MarketEvent::State(c) if c.state == BookState::Stale && c.reason == StateReason::Gap)
    );
    // Duplicates are dropped; updates of a stale book are not emitted.
    assert_eq!(h.feed(&hb(4, "3050")), MsgOutcome::Duplicate);
    assert_eq!(h.feed(&l2(5, "update", "BTC-USD", &[("bid", "99", "1")])), MsgOutcome::Applied);
    assert_eq!(h.events.len(), n_before + 1);
    h.sync.resubscribe_requested(9, &mut |e| h.events.push(e));
    assert_eq!(h.sync.state(btc), Some(BookState::Resyncing));
    // A fresh snapshot restores sync.
    let snap = l2(6, "snapshot", "BTC-USD", &[("bid", "101", "1"), ("offer", "102", "1")]);
    assert_eq!(h.feed(&snap), MsgOutcome::Applied);
    assert_eq!(h.sync.state(btc), Some(BookState::Synced));
    let st = h.sync.stats();
    assert_eq!((st.gaps, st.duplicates, st.resyncs, st.snapshots), (1, 1, 1, 2));
    assert_eq!((st.updates_applied, st.updates_unsynced, st.heartbeats), (0, 1, 1));
    // Reconnect: all synced books stale, the sequence restarts at anything.
    h.sync.reset_connection(10, &mut |e| h.events.push(e));
    assert_eq!(h.sync.state(btc), Some(BookState::Stale));
    assert_eq!(h.feed(&subs(0)), MsgOutcome::Applied);
}

#[test]
fn decodes_every_channel_shape() {
    let reg = Registry::with_defaults();
    let (btc, eth) = (
        reg.lookup(Venue::Coinbase, b"BTC-USD").unwrap(),
        reg.lookup(Venue::Coinbase, b"ETH-USD").unwrap(),
    );
    let mut d = CoinbaseDecoder::new(&reg, Default::default());
    let mut run = |t: &str| d.decode(&mut t.as_bytes().to_vec(), 7);
    // Snapshot: side offer, trailing zeros, "0" quantity, epoch event_time → message time.
    let m = run(&l2(
        3,
        "snapshot",
        "BTC-USD",
        &[("bid", "21921.30", "0.06317902"), ("offer", "21922", "0")],
    ));
    assert!(
        matches!(m, Ok(CoinbaseMsg::L2(e)) if e.seq == 3 && e.ts_exch_ns == 1_675_974_770_714_964_855)
    );
    // market_trades: side is the maker's; trade_id as string; client_id "".
    let t = r#"{"channel":"market_trades","client_id":"","timestamp":"2024-10-08T09:10:52.425044603Z","sequence_num":328,"events":[{"type":"update","trades":[{"product_id":"BTC-USD","trade_id":"699871154","price":"62322.43","size":"0.00005535","time":"2024-10-08T09:10:52.378779Z","side":"BUY"}]},{"type":"snapshot","trades":[{"product_id":"ETH-USD","trade_id":"1","price":"1260.01","size":"0.3","side":"SELL","time":"2019-08-14T20:42:27.265Z"}]}]}"#;
    assert!(matches!(run(t), Ok(CoinbaseMsg::Trades(e)) if e.seq == 328));
    let tk = r#"{"channel":"ticker","client_id":"","timestamp":"2023-02-09T20:30:37.167359596Z","sequence_num":0,"events":[{"type":"snapshot","tickers":[{"type":"ticker","product_id":"ETH-USD","price":"21932.98","volume_24_h":"1","best_bid":"21931.98","best_bid_quantity":"8000.21","best_ask":"21933.98","best_ask_quantity":"8038.07770938"}]}]}"#;
    assert!(matches!(run(tk), Ok(CoinbaseMsg::Ticker(_))));
    assert!(matches!(run(&hb(9, "42")), Ok(CoinbaseMsg::Heartbeat { counter: 42, .. })));
    assert!(matches!(run(&hb(9, "\"3049\"")), Ok(CoinbaseMsg::Heartbeat { counter: 3049, .. })));
    assert!(matches!(run(r#"{"type":"error","message":"bad"}"#), Ok(CoinbaseMsg::VenueError)));
    let candles =
        r#"{"channel":"candles","timestamp":"2026-08-09T21:05:48Z","sequence_num":3,"events":[]}"#;
    assert!(matches!(run(candles), Ok(CoinbaseMsg::Ignored(_))));
    // Refusals are clear errors.
    assert!(run(&l2(1, "update", "BTC-USD", &[("ask", "1", "1")])).is_err());
    assert!(run(&l2(1, "update", "BTC-USD", &[("bid", "1.001", "1")])).is_err());
    assert!(run(&l2(1, "bogus", "BTC-USD", &[])).is_err());
    assert!(run(r#"{"channel":"l2_data","timestamp":"x","sequence_num":1,"events":[]}"#).is_err());
    assert!(run(&hb(1, "\"-1\"")).is_err());
    // Unknown products are skipped and counted.
    let mut buf = l2(1, "update", "DOGE-USD", &[("bid", "1", "1")]).into_bytes();
    assert!(matches!(d.decode(&mut buf, 0), Ok(CoinbaseMsg::L2(_))));
    assert_eq!((d.l2_events().len(), d.unknown_products()), (0, 1));
    // Buffers of the trade message.
    d.decode(&mut t.as_bytes().to_vec(), 7).unwrap();
    let (live, hist) = (d.trades()[0], d.snapshot_trades()[0]);
    assert_eq!(
        (live.instrument, live.aggressor, live.px, live.qty),
        (btc, Side::Sell, Px(6_232_243), Qty(5535))
    );
    assert_eq!((live.trade_id, live.ts_exch_ns), (699_871_154, 1_728_378_652_378_779_000));
    assert_eq!((hist.instrument, hist.aggressor), (eth, Side::Buy));
    d.decode(&mut tk.as_bytes().to_vec(), 7).unwrap();
    let b = d.tickers()[0];
    assert_eq!((b.bid_px, b.ask_qty, b.update_id), (Px(2_193_198), Qty(803_807_770_938), 0));
}

/// Two products in one message, a crossed update: only that book goes stale.
#[test]
fn crossed_update_invalidates_its_product_in_replay() {
    use crpbot_feeds::coinbase::CoinbaseReplay;
    struct Count(u64);
    impl ReplaySink for Count {
        fn on_book(&mut self, _: &Published<'_>) {
            self.0 += 1;
        }
    }
    let reg = Registry::with_defaults();
    let (btc, eth) = (
        reg.lookup(Venue::Coinbase, b"BTC-USD").unwrap(),
        reg.lookup(Venue::Coinbase, b"ETH-USD").unwrap(),
    );
    let mut r = CoinbaseReplay::new(&reg);
    let mut sink = Count(0);
    for m in [
        l2(0, "snapshot", "BTC-USD", &[("bid", "100", "1"), ("offer", "101", "1")]),
        l2(1, "snapshot", "ETH-USD", &[("bid", "10", "1"), ("offer", "11", "1")]),
        l2(2, "update", "ETH-USD", &[("bid", "10.5", "1")]),
        l2(3, "update", "BTC-USD", &[("bid", "102", "1")]),
    ] {
        r.feed(&mut m.into_bytes(), 0, &mut sink).unwrap();
    }
    assert_eq!(sink.0, 1, "the ETH update published, the crossed BTC one not");
    assert_eq!(r.sync().state(btc), Some(BookState::Stale));
    assert_eq!(r.sync().state(eth), Some(BookState::Synced));
    assert_eq!(r.stats().crossed, 1);
}

/// A synthetic USDⓈ-M recording: snapshot, `pu`-chained diffs (with `U` jumps that are fine on
/// futures), then a broken `pu` chain (a gap), replayed through `BinanceReplay`.
#[test]
fn binance_usdm_replay_chains_pu_and_detects_gaps() {
    struct Books(Vec<(u64, i64, i64)>);
    impl ReplaySink for Books {
        fn on_book(&mut self, p: &Published<'_>) {
            let b = &p.book.book;
            self.0.push((
                p.depth.final_update_id,
                b.best_bid().unwrap().px.0,
                b.best_ask().unwrap().px.0,
            ));
        }
    }
    let diff = |first: u64, last: u64, pu: u64, bid: &str| {
        format!(
            r#"{{"stream":"btcusdt@depth@100ms","data":{{"e":"depthUpdate","E":1723161255208,"T":1723161255207,"s":"BTCUSDT","U":{first},"u":{last},"pu":{pu},"b":[["{bid}","1.000"]],"a":[]}}}}"#
        )
    };
    let lines = [
        diff(90, 95, 89, "59999.0"),
        r#"{"lastUpdateId":100,"E":1723161255000,"T":1723161255000,"bids":[["60000.0","2.000"]],"asks":[["60000.5","1.000"]]}"#.to_owned(),
        diff(96, 104, 95, "60000.1"),
        diff(105, 110, 104, "60000.2"),
        diff(120, 130, 110, "60000.3"),
        diff(131, 140, 129, "60000.4"),
        diff(141, 150, 140, "60000.4"),
    ];
    let dir = std::env::temp_dir().join(format!("crpbot-usdm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("btcusdt_usdm.txt");
    let mut f = std::fs::File::create(&path).unwrap();
    for (i, l) in lines.iter().enumerate() {
        writeln!(f, "{} {l}", 1_000 + i).unwrap();
    }
    drop(f);
    let reg = Registry::with_defaults();
    let mut sink = Books(Vec::new());
    let stats = BinanceReplay::new(&reg, Venue::BinanceUsdm).run(&[path], &mut sink);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(stats.errors, 0, "{:?}", stats.issues);
    assert_eq!((stats.snapshots, stats.gaps, stats.stale_dropped), (1, 1, 1));
    assert_eq!(stats.book_updates_applied, 3);
    // Prices on the futures tick (0.1): 60000.1 = 600001 ticks.
    assert_eq!(
        sink.0,
        vec![(104, 600_001, 600_005), (110, 600_002, 600_005), (130, 600_003, 600_005)]
    );
}
