//! Loading the Binance spot L2 recordings in `../shared/data` for tests and benches.
//!
//! A tiny stand-in for the real decoder (which lives in crpbot-feeds): it parses the depth
//! diffs and the REST snapshot with serde_json, applies Binance's sync procedure (buffer the
//! diffs, drop those with `u <= lastUpdateId`, require continuity), and returns normalized
//! [`LevelUpdate`]s. Not for the hot path.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crpbot_core::{InstrumentId, LevelUpdate, Px, Qty, Registry, Scale, Side, Venue, level_flags};
use serde_json::Value;

/// The data directory (`$CRPBOT_DATA_DIR`, else `<repo>/../shared/data`), or `None` with the
/// one-line skip message printed.
pub fn data_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("CRPBOT_DATA_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
    };
    if dir.join("binance-spot-l2").is_dir() {
        Some(dir)
    } else {
        println!("skipping: ../shared/data not found (set CRPBOT_DATA_DIR)");
        None
    }
}

/// One symbol's recording, synced.
pub struct Recording {
    pub symbol: &'static str,
    /// The REST snapshot's levels (flagged `SNAPSHOT`, the last one `LAST`).
    pub snapshot: Vec<LevelUpdate>,
    /// Every level of every diff after the snapshot, in order; the last level of each message
    /// is flagged `LAST`.
    pub diffs: Vec<LevelUpdate>,
    /// Diff messages kept.
    pub n_messages: usize,
    /// Sequence breaks seen after syncing (expected 0).
    pub breaks: usize,
    /// Sizes that are not whole lots of the registry's lot size (kept exactly anyway).
    pub off_lot_qty: usize,
    /// `(U, u)` of each diff message kept, in order (parallel to [`Recording::messages`]).
    pub msg_ids: Vec<(u64, u64)>,
    /// The venue's own best bid/offer stream, in order.
    pub tickers: Vec<Ticker>,
}

/// One `bookTicker`: the venue's best bid and ask after update id `u`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticker {
    pub u: u64,
    pub bid: (Px, Qty),
    pub ask: (Px, Qty),
}

impl Recording {
    /// The latest ticker whose `u` lies in `first..=last` (Binance: the book after that diff).
    pub fn ticker_in(&self, first: u64, last: u64) -> Option<Ticker> {
        let i = self.tickers.partition_point(|t| t.u <= last);
        let t = *self.tickers.get(i.checked_sub(1)?)?;
        (t.u >= first).then_some(t)
    }
}

impl Recording {
    /// The diffs split at message boundaries.
    pub fn messages(&self) -> impl Iterator<Item = &[LevelUpdate]> {
        self.diffs.split_inclusive(|u| u.is_last())
    }
}

/// Sizes are parsed at Binance's wire precision (1e-8), not in registry lots: the recordings
/// hold a few far levels (BTC asks at 74,000-200,000, ETH bids at 5,000) whose sizes are not
/// whole lots (`"25.42618900"` BTC with a 0.00001 lot). They are counted in
/// [`Recording::off_lot_qty`] and kept exactly.
pub const WIRE_QTY: Scale = match Scale::new(8, 1) {
    Ok(s) => s,
    Err(_) => panic!("valid scale"),
};

fn levels(
    out: &mut Vec<LevelUpdate>,
    off_lot: &mut usize,
    v: &Value,
    side: Side,
    (px_scale, lot): (Scale, Scale),
    base: LevelUpdate,
) {
    for pair in v.as_array().unwrap() {
        let px = px_scale.parse_units(pair[0].as_str().unwrap().as_bytes()).unwrap();
        let qty_text = pair[1].as_str().unwrap().as_bytes();
        let qty = WIRE_QTY.parse_units(qty_text).unwrap();
        *off_lot += usize::from(lot.parse_units(qty_text).is_err());
        out.push(LevelUpdate { px: Px(px), qty: Qty(qty), side, ..base });
    }
}

struct Sync {
    rec: Recording,
    last_u: Option<u64>,
}

impl Sync {
    fn push(&mut self, first: u64, u: u64, mut lvls: Vec<LevelUpdate>) {
        match self.last_u {
            None => {}
            Some(prev) if first == prev + 1 => {}
            Some(_) => self.rec.breaks += 1,
        }
        self.last_u = Some(u);
        self.rec.n_messages += 1;
        self.rec.msg_ids.push((first, u));
        if let Some(l) = lvls.last_mut() {
            l.flags |= level_flags::LAST;
            self.rec.diffs.extend_from_slice(&lvls);
        }
    }
}

/// Loads `symbol` (`"btcusdt"` or `"ethusdt"`) from both recorded files, in order.
pub fn load(dir: &Path, symbol: &'static str) -> Recording {
    let reg = Registry::with_defaults();
    let id = reg.lookup(Venue::BinanceSpot, symbol.as_bytes()).unwrap();
    let inst = reg.get(id);
    let scales = (inst.price, inst.qty);
    let rec = Recording {
        symbol,
        snapshot: Vec::new(),
        diffs: Vec::new(),
        n_messages: 0,
        breaks: 0,
        off_lot_qty: 0,
        msg_ids: Vec::new(),
        tickers: Vec::new(),
    };
    let mut sync = Sync { rec, last_u: None };
    let mut buffered: Vec<(u64, u64, Vec<LevelUpdate>)> = Vec::new();
    let mut synced_at: Option<u64> = None;
    let template = LevelUpdate {
        ts_exch_ns: 0,
        ts_local_ns: 0,
        update_id: 0,
        px: Px(0),
        qty: Qty(0),
        instrument: InstrumentId(id.0),
        side: Side::Buy,
        flags: 0,
        _pad: 0,
    };
    for day in ["20240808", "20240809"] {
        let path = dir.join("binance-spot-l2").join(format!("{symbol}_{day}.gz"));
        let file = std::fs::File::open(&path).unwrap();
        let reader = BufReader::new(flate2::read::GzDecoder::new(file));
        for line in reader.lines() {
            let line = line.unwrap();
            let Some((ts, json)) = line.split_once(' ') else { continue };
            let is_snapshot = json.starts_with("{\"lastUpdateId\"");
            if json.contains("@bookTicker") {
                let v: Value = serde_json::from_str(json).unwrap();
                let d = &v["data"];
                let num = |k: &str, scale: Scale| {
                    scale.parse_units(d[k].as_str().unwrap().as_bytes()).unwrap()
                };
                sync.rec.tickers.push(Ticker {
                    u: d["u"].as_u64().unwrap(),
                    bid: (Px(num("b", scales.0)), Qty(num("B", WIRE_QTY))),
                    ask: (Px(num("a", scales.0)), Qty(num("A", WIRE_QTY))),
                });
                continue;
            }
            if !is_snapshot && !json.contains("@depth") {
                continue;
            }
            let base = LevelUpdate { ts_local_ns: ts.parse().unwrap(), ..template };
            let v: Value = serde_json::from_str(json).unwrap();
            if is_snapshot {
                let last_id = v["lastUpdateId"].as_u64().unwrap();
                let base = LevelUpdate { update_id: last_id, flags: level_flags::SNAPSHOT, ..base };
                levels(
                    &mut sync.rec.snapshot,
                    &mut sync.rec.off_lot_qty,
                    &v["bids"],
                    Side::Buy,
                    scales,
                    base,
                );
                levels(
                    &mut sync.rec.snapshot,
                    &mut sync.rec.off_lot_qty,
                    &v["asks"],
                    Side::Sell,
                    scales,
                    base,
                );
                if let Some(l) = sync.rec.snapshot.last_mut() {
                    l.flags |= level_flags::LAST;
                }
                synced_at = Some(last_id);
                for (first, u, lvls) in std::mem::take(&mut buffered) {
                    if u > last_id {
                        assert!(sync.last_u.is_some() || first <= last_id + 1, "snapshot too new");
                        sync.push(first, u, lvls);
                    }
                }
                continue;
            }
            let d = &v["data"];
            let first = d["U"].as_u64().unwrap();
            let u = d["u"].as_u64().unwrap();
            let base = LevelUpdate {
                ts_exch_ns: d["E"].as_i64().unwrap() * 1_000_000,
                update_id: u,
                ..base
            };
            let mut lvls = Vec::new();
            levels(&mut lvls, &mut sync.rec.off_lot_qty, &d["b"], Side::Buy, scales, base);
            levels(&mut lvls, &mut sync.rec.off_lot_qty, &d["a"], Side::Sell, scales, base);
            match synced_at {
                None => buffered.push((first, u, lvls)),
                Some(last_id) if u > last_id => {
                    if sync.last_u.is_none() {
                        assert!(first <= last_id + 1, "snapshot too new");
                    }
                    sync.push(first, u, lvls);
                }
                Some(_) => {}
            }
        }
    }
    assert!(!sync.rec.snapshot.is_empty(), "{symbol}: no snapshot in the recording");
    sync.rec.tickers.sort_by_key(|t| t.u);
    sync.rec
}
