//! Shared by the fast-lane tests and bench: the data directory, a time-merged replay of the
//! BTCUSDT and ETHUSDT recordings, and a sink that runs a [`FastLane`] with immediate paper
//! fills at the touch.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use crpbot_core::{
    Fill, InstrumentId, Liquidity, MarketEvent, Money, OrderIntent, Registry, Side, Venue,
};
use crpbot_feeds::recording::Recording;
use crpbot_feeds::replay::{BinanceReplay, Published, ReplaySink};
use crpbot_strategies::fast::{FastLane, IntentBuf, reason_name};

/// The data directory (`$CRPBOT_DATA_DIR`, else `<repo>/../shared/data`), or `None` with the
/// one-line skip message printed.
pub fn data_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("CRPBOT_DATA_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data")),
    };
    if dir.join("binance-spot-l2").is_dir() {
        Some(dir)
    } else {
        println!("skipping: ../shared/data not found (set CRPBOT_DATA_DIR)");
        None
    }
}

/// One symbol's files, read line by line, with the next line held.
struct Source {
    files: Vec<PathBuf>,
    next_file: usize,
    rec: Option<Recording>,
    held: Option<(i64, Vec<u8>)>,
    context: InstrumentId,
}

impl Source {
    fn advance(&mut self) {
        self.held = None;
        loop {
            if self.rec.is_none() {
                let Some(path) = self.files.get(self.next_file) else { return };
                self.next_file += 1;
                self.rec = Some(Recording::open(path).unwrap());
            }
            let rec = self.rec.as_mut().unwrap();
            match rec.next() {
                Some(Ok(line)) => {
                    self.held = Some((line.ts_local_ns, line.payload.to_vec()));
                    return;
                }
                Some(Err(e)) => panic!("bad recording line: {e}"),
                None => self.rec = None,
            }
        }
    }
}

/// Replays BTCUSDT and ETHUSDT (both days) merged by local receive time into `sink`.
/// Returns the number of messages fed.
pub fn replay_merged(dir: &std::path::Path, reg: &Registry, sink: &mut impl ReplaySink) -> u64 {
    let mut replay = BinanceReplay::new(reg, Venue::BinanceSpot);
    let l2 = dir.join("binance-spot-l2");
    let mut sources: Vec<Source> = ["btcusdt", "ethusdt"]
        .iter()
        .map(|s| {
            let mut src = Source {
                files: vec![
                    l2.join(format!("{s}_20240808.gz")),
                    l2.join(format!("{s}_20240809.gz")),
                ],
                next_file: 0,
                rec: None,
                held: None,
                context: reg.lookup(Venue::BinanceSpot, s.as_bytes()).unwrap(),
            };
            src.advance();
            src
        })
        .collect();
    let mut n = 0;
    loop {
        let pick = sources
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.held.as_ref().map(|(ts, _)| (*ts, i)))
            .min();
        let Some((ts, i)) = pick else { break };
        let src = &mut sources[i];
        let (_, mut payload) = src.held.take().unwrap();
        let _ = replay.feed(&mut payload, ts, Some(src.context), sink);
        n += 1;
        src.advance();
    }
    n
}

/// Runs a lane on published books and trades; every intent is filled at once, in full, at the
/// touch it would take (trades: at the trade price), and fed back.
pub struct LaneSink {
    pub lane: FastLane,
    pub out: IntentBuf,
    /// (strategy name, reason) → intents.
    pub counts: BTreeMap<(String, String), u64>,
    pub books: u64,
    pub trades: u64,
    pub fill_ts: i64,
    /// Record counts (off for the allocation test, where the map would allocate).
    pub record: bool,
    /// Called around each lane call (the allocation test switches its counter here).
    pub around: fn(bool),
    /// Last (bid, ask) of each instrument, for filling the other leg of a pair.
    pub touch: [Option<(crpbot_core::Px, crpbot_core::Px)>; 64],
}

fn noop(_: bool) {}

impl LaneSink {
    pub fn new(lane: FastLane) -> LaneSink {
        LaneSink {
            lane,
            out: IntentBuf::new(),
            counts: BTreeMap::new(),
            books: 0,
            trades: 0,
            fill_ts: 0,
            record: true,
            around: noop,
            touch: [None; 64],
        }
    }

    fn settle(&mut self, touch: impl Fn(&OrderIntent) -> Option<crpbot_core::Px>, ts: i64) {
        for k in 0..self.out.len() {
            let i = self.out.as_slice()[k];
            if self.record {
                let name = self
                    .lane
                    .strategies()
                    .iter()
                    .find(|s| s.id() == i.strategy)
                    .map_or("?", |s| s.name());
                let reason = reason_name(i.reason).unwrap_or("?");
                *self.counts.entry((name.to_string(), reason.to_string())).or_default() += 1;
            }
            let Some(px) = touch(&i) else { continue };
            let f = Fill {
                ts_ns: ts,
                client_id: i.client_id,
                px,
                qty: i.qty,
                fee: Money::ZERO,
                instrument: i.instrument,
                strategy: i.strategy,
                side: i.side,
                liquidity: Liquidity::Taker,
                last: true,
                _pad: [0; 1],
            };
            (self.around)(true);
            self.lane.on_fill(&f);
            (self.around)(false);
        }
        self.out.clear();
    }

    /// The counts as text, one `strategy reason count` line each, sorted.
    pub fn report(&self) -> String {
        let mut s = String::new();
        for ((name, reason), n) in &self.counts {
            s.push_str(&format!("{name} {reason} {n}\n"));
        }
        s
    }
}

impl ReplaySink for LaneSink {
    fn on_book(&mut self, p: &Published<'_>) {
        self.books += 1;
        let id = p.depth.instrument;
        let ts = p.depth.ts_exch_ns;
        (self.around)(true);
        self.lane.on_book(id, &p.book.book, ts, &mut self.out);
        (self.around)(false);
        let book = &p.book.book;
        if let (Some(b), Some(a), Some(slot)) =
            (book.best_bid(), book.best_ask(), self.touch.get_mut(id.index()))
        {
            *slot = Some((b.px, a.px));
        }
        let touch = self.touch;
        self.settle(
            |i| {
                let (b, a) = touch.get(i.instrument.index()).copied().flatten()?;
                Some(if i.side == Side::Buy { a } else { b })
            },
            ts,
        );
    }

    fn on_event(&mut self, ev: &MarketEvent) {
        if let MarketEvent::Trade(t) = ev {
            self.trades += 1;
            (self.around)(true);
            self.lane.on_trade(t, &mut self.out);
            (self.around)(false);
            let (id, px) = (t.instrument, t.px);
            self.settle(|i| (i.instrument == id).then_some(px), t.ts_exch_ns);
        }
    }
}
