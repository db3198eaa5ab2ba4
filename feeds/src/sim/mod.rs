//! The built-in market simulator: the embedded default venue when there is no network.
//!
//! It generates L2 books and trades for several instruments and emits the same normalized
//! [`MarketEvent`] stream as a venue feed, so the same [`crate::books::BookSet`] and pipeline
//! consume it:
//!
//! 1. per instrument, first a [`BookSnapshot`] header, its levels (flagged `SNAPSHOT`, the last
//!    `LAST`) and a [`BookStateChange`] to `Synced`;
//! 2. then one batch per simulated venue message: an optional [`Trade`] that consumes the
//!    current touch (its price is the opposite best of the book as published before the batch,
//!    its size at most the touch size), then the batch's [`LevelUpdate`]s, the last flagged
//!    `LAST`. After every batch the book is uncrossed (best bid < best ask).
//!
//! Model: each instrument has a fair log price moved at every batch by correlated Gaussian
//! shocks (`z = L·ε`, `L` the Cholesky factor of [`SimConfig::correlation`], scaled by
//! `σ·√dt`). Batches arrive as a Poisson process at [`SimConfig::rate_hz`] (× `burst_mult`
//! during bursts); each batch picks an instrument, re-quotes its touch around the fair price
//! with a spread drawn around the median, applies Poisson order arrivals and cancels and keeps
//! `levels` levels a side at the configured spacing, sizes log-normal around the calibrated
//! medians ([`SimInstrument::btc`] names the recording they were measured on). Timestamps come
//! from the simulated clock; `ts_local_ns = ts_exch_ns + latency_ns`.
//!
//! Deterministic: the same seed and configuration give the same stream (ChaCha8). No
//! allocation per batch once constructed (the caller's `Vec` is reused; the books are
//! preallocated).

mod config;
mod run;

pub use config::{SimConfig, SimConfigError, SimInstrument};
pub use run::replay_sim;

use crpbot_book::{Book, BookConfig};
use crpbot_core::{
    BookSnapshot, BookState, BookStateChange, InstrumentId, LevelUpdate, MarketEvent, Px, Qty,
    Registry, Side, StateReason, Trade, Venue, level_flags,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Counters of a [`Simulator`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Batches (venue messages) emitted, snapshots included.
    pub batches: u64,
    /// Level updates emitted, snapshot levels included.
    pub levels: u64,
    /// Trades emitted.
    pub trades: u64,
    /// Bursts started.
    pub bursts: u64,
}

#[derive(Debug)]
struct Inst {
    id: InstrumentId,
    p: SimInstrument,
    /// Tick and lot sizes as floats (for converting the model's figures only).
    tick: f64,
    lot: f64,
    log_fair: f64,
    book: Book,
    seq: u64,
    trade_id: u64,
}

/// The simulator. See the module docs.
///
/// # Examples
/// ```
/// use crpbot_core::{MarketEvent, Registry};
/// use crpbot_feeds::sim::{SimConfig, Simulator};
/// let reg = Registry::with_defaults();
/// let cfg = SimConfig { max_batches: Some(100), ..SimConfig::new(7) };
/// let mut sim = Simulator::new(&reg, cfg).unwrap();
/// let mut batch = Vec::new();
/// let mut n = 0;
/// while let Some(_ts) = sim.next_batch(&mut batch) {
///     n += batch.len();
/// }
/// assert!(n > 100);
/// ```
#[derive(Debug)]
pub struct Simulator {
    cfg: SimConfig,
    chol: Vec<f64>,
    insts: Vec<Inst>,
    rng: ChaCha8Rng,
    eps: Vec<f64>,
    now_ns: i64,
    snapshots_sent: usize,
    burst_left: u32,
    stats: SimStats,
}

impl Simulator {
    /// A simulator of `cfg.instruments`, which must be `sim` instruments of `registry`.
    pub fn new(registry: &Registry, cfg: SimConfig) -> Result<Simulator, SimConfigError> {
        let chol = cfg.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut insts = Vec::with_capacity(cfg.instruments.len());
        for p in &cfg.instruments {
            let id = registry
                .lookup(Venue::Sim, p.symbol.as_bytes())
                .ok_or_else(|| SimConfigError::UnknownInstrument(p.symbol.clone()))?;
            let inst = registry.get(id);
            let book_cfg = BookConfig { window_ticks: 1 << 14, far_capacity: 1024 };
            let mut i = Inst {
                id,
                p: p.clone(),
                tick: inst.price.increment_f64(),
                lot: inst.qty.increment_f64(),
                log_fair: p.start_px.ln(),
                book: Book::new(book_cfg),
                seq: 0,
                trade_id: 0,
            };
            // The initial book, built without events (it is sent as the snapshot).
            let mut none = Emit { out: None, ts: (0, 0), id, seq: 0 };
            requote(&mut i, &mut rng, &mut none);
            insts.push(i);
        }
        let n = insts.len();
        Ok(Simulator {
            now_ns: cfg.start_ts_ns,
            cfg,
            chol,
            insts,
            rng,
            eps: vec![0.0; n],
            snapshots_sent: 0,
            burst_left: 0,
            stats: SimStats::default(),
        })
    }

    /// The simulated instruments, in configuration order.
    pub fn instruments(&self) -> impl Iterator<Item = InstrumentId> + '_ {
        self.insts.iter().map(|i| i.id)
    }

    /// The simulator's own book of an instrument (the truth the events describe).
    pub fn book(&self, id: InstrumentId) -> Option<&Book> {
        self.insts.iter().find(|i| i.id == id).map(|i| &i.book)
    }

    /// The fair price of an instrument (quote units).
    pub fn fair_px(&self, id: InstrumentId) -> Option<f64> {
        self.insts.iter().find(|i| i.id == id).map(|i| i.log_fair.exp())
    }

    /// The simulated clock, ns since the epoch.
    pub fn now_ns(&self) -> i64 {
        self.now_ns
    }

    /// The counters.
    pub fn stats(&self) -> SimStats {
        self.stats
    }

    /// Clears `out` and fills it with the next batch (one venue message); returns its venue
    /// time, or `None` when the configured duration or batch count is reached.
    pub fn next_batch(&mut self, out: &mut Vec<MarketEvent>) -> Option<i64> {
        out.clear();
        if self.snapshots_sent < self.insts.len() {
            let i = &mut self.insts[self.snapshots_sent];
            self.snapshots_sent += 1;
            snapshot(i, (self.now_ns, self.now_ns + self.cfg.latency_ns), out);
            self.count(out);
            return Some(self.now_ns);
        }
        if self.cfg.max_batches.is_some_and(|m| self.stats.batches >= m) {
            return None;
        }
        // Poisson arrivals: exponential gaps at the (burst-scaled) rate.
        let bursting = self.burst_left > 0;
        let mult = if bursting { self.cfg.burst_mult } else { 1.0 };
        let u: f64 = self.rng.random();
        let dt_s = -(1.0 - u).ln() / (self.cfg.rate_hz * mult);
        let dt_ns = ((dt_s * 1e9) as i64).max(1);
        if self.cfg.duration_ns.is_some_and(|d| self.now_ns + dt_ns - self.cfg.start_ts_ns > d) {
            return None;
        }
        self.now_ns += dt_ns;
        if bursting {
            self.burst_left -= 1;
        } else if self.rng.random::<f64>() < self.cfg.burst_prob {
            self.burst_left = self.cfg.burst_batches;
            self.stats.bursts += 1;
        }
        self.shock(dt_s);
        let k = self.rng.random_range(0..self.insts.len());
        let trade_prob = (self.cfg.trade_prob * mult).min(1.0);
        let (adds, cancels) = (self.cfg.adds_per_batch, self.cfg.cancels_per_batch);
        let ts = (self.now_ns, self.now_ns + self.cfg.latency_ns);
        let inst = &mut self.insts[k];
        inst.seq += 1;
        let mut emit = Emit { out: Some(out), ts, id: inst.id, seq: inst.seq };
        step(inst, &mut self.rng, &mut emit, trade_prob, adds, cancels);
        // The last level of the batch ends the message.
        if let Some(MarketEvent::Level(l)) =
            out.iter_mut().rev().find(|e| matches!(e, MarketEvent::Level(_)))
        {
            l.flags |= level_flags::LAST;
        }
        self.count(out);
        Some(self.now_ns)
    }

    fn count(&mut self, out: &[MarketEvent]) {
        self.stats.batches += 1;
        for e in out {
            match e {
                MarketEvent::Level(_) => self.stats.levels += 1,
                MarketEvent::Trade(_) => self.stats.trades += 1,
                _ => {}
            }
        }
    }

    /// Correlated shocks to every fair price over `dt_s` seconds.
    fn shock(&mut self, dt_s: f64) {
        let n = self.insts.len();
        for j in 0..n {
            self.eps[j] = gauss(&mut self.rng);
        }
        let sqrt_dt = dt_s.sqrt();
        for (i, inst) in self.insts.iter_mut().enumerate() {
            let z: f64 = (0..=i).map(|j| self.chol[i * n + j] * self.eps[j]).sum();
            let s = inst.p.vol_per_sqrt_s;
            inst.log_fair += s * sqrt_dt * z - 0.5 * s * s * dt_s;
        }
    }
}

/// Where a batch's events go (`None` while building the initial book).
struct Emit<'a> {
    out: Option<&'a mut Vec<MarketEvent>>,
    ts: (i64, i64),
    id: InstrumentId,
    seq: u64,
}

impl Emit<'_> {
    fn set(&mut self, book: &mut Book, side: Side, px: i64, qty: i64) {
        // Prices are kept >= 1 and sizes >= 0 by construction; a refusal would be a bug and
        // is simply not emitted.
        if book.set(side, Px(px), Qty(qty)).is_err() {
            return;
        }
        if let Some(out) = self.out.as_deref_mut() {
            out.push(MarketEvent::Level(LevelUpdate {
                ts_exch_ns: self.ts.0,
                ts_local_ns: self.ts.1,
                update_id: self.seq,
                px: Px(px),
                qty: Qty(qty),
                instrument: self.id,
                side,
                flags: 0,
                _pad: 0,
            }));
        }
    }
}

fn snapshot(i: &mut Inst, ts: (i64, i64), out: &mut Vec<MarketEvent>) {
    let (n_bids, n_asks) = (i.book.level_count(Side::Buy), i.book.level_count(Side::Sell));
    out.push(MarketEvent::Snapshot(BookSnapshot {
        ts_exch_ns: ts.0,
        ts_local_ns: ts.1,
        update_id: i.seq,
        instrument: i.id,
        _pad: 0,
        n_bids: n_bids as u32,
        n_asks: n_asks as u32,
    }));
    for side in [Side::Buy, Side::Sell] {
        for l in i.book.levels(side) {
            out.push(MarketEvent::Level(LevelUpdate {
                ts_exch_ns: ts.0,
                ts_local_ns: ts.1,
                update_id: i.seq,
                px: l.px,
                qty: l.qty,
                instrument: i.id,
                side,
                flags: level_flags::SNAPSHOT,
                _pad: 0,
            }));
        }
    }
    if let Some(MarketEvent::Level(l)) = out.last_mut() {
        l.flags |= level_flags::LAST;
    }
    out.push(MarketEvent::State(BookStateChange {
        ts_exch_ns: ts.0,
        ts_local_ns: ts.1,
        update_id: i.seq,
        instrument: i.id,
        state: BookState::Synced,
        reason: StateReason::SnapshotApplied,
        _pad: 0,
    }));
}

/// New levels start below the median depth: arrivals then grow them, and this factor makes
/// the steady-state median size behind the touch come out at `depth_qty` (checked by the test
/// `spread_depth_and_rate_are_as_configured`).
const NEW_LEVEL_SCALE: f64 = 0.7;

/// A standard normal draw (Box–Muller).
fn gauss(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A Poisson draw (Knuth; `lambda` ≤ 64, capped at 256).
fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> u32 {
    let limit = (-lambda).exp();
    let mut p = 1.0;
    let mut k = 0;
    while k < 256 {
        p *= rng.random::<f64>();
        if p <= limit {
            break;
        }
        k += 1;
    }
    k
}

/// 1 + a geometric count with mean `mean - 1` (≥ 1, capped at 10 × mean).
fn gap(rng: &mut ChaCha8Rng, mean: f64) -> i64 {
    if mean <= 1.0 {
        return 1;
    }
    let q = 1.0 - 1.0 / mean;
    let u: f64 = 1.0 - rng.random::<f64>();
    let g = (u.ln() / q.ln()).floor();
    1 + (g as i64).clamp(0, (10.0 * mean) as i64)
}

/// A log-normal size around `median` with log-σ `sigma`, in lots (≥ 1).
fn size_lots(rng: &mut ChaCha8Rng, median: f64, sigma: f64, lot: f64) -> i64 {
    let v = median * (sigma * gauss(rng)).exp();
    ((v / lot).round() as i64).clamp(1, 1 << 50)
}

/// Puts the touch around the fair price and keeps `levels` levels a side.
fn requote(i: &mut Inst, rng: &mut ChaCha8Rng, emit: &mut Emit<'_>) {
    let fair_ticks = i.log_fair.exp() / i.tick;
    let mut spread = i64::from(i.p.median_spread_ticks);
    while spread < 50 && rng.random::<f64>() < 0.4 {
        spread += 1;
    }
    let tb = ((fair_ticks - spread as f64 / 2.0).floor() as i64).max(1);
    let ta = tb + spread;
    while let Some(b) = i.book.best_bid().filter(|b| b.px.0 > tb) {
        emit.set(&mut i.book, Side::Buy, b.px.0, 0);
    }
    while let Some(a) = i.book.best_ask().filter(|a| a.px.0 < ta) {
        emit.set(&mut i.book, Side::Sell, a.px.0, 0);
    }
    for (side, px) in [(Side::Buy, tb), (Side::Sell, ta)] {
        if i.book.qty_at(side, Px(px)).is_zero() {
            let q = size_lots(rng, i.p.touch_qty, 0.8, i.lot);
            emit.set(&mut i.book, side, px, q);
        }
    }
    for side in [Side::Buy, Side::Sell] {
        refill(i, rng, emit, side);
    }
}

/// Trims or extends one side to exactly `levels` levels, spacing new ones by `level_gap_ticks`.
fn refill(i: &mut Inst, rng: &mut ChaCha8Rng, emit: &mut Emit<'_>, side: Side) {
    let levels = i.p.levels as usize;
    while i.book.level_count(side) > levels {
        let Some(worst) = i.book.levels(side).last() else { break };
        emit.set(&mut i.book, side, worst.px.0, 0);
    }
    while i.book.level_count(side) < levels {
        let Some(worst) = i.book.levels(side).last() else { break };
        let px = worst.px.0 - side.sign() * gap(rng, i.p.level_gap_ticks);
        if px < 1 {
            break;
        }
        let q = size_lots(rng, i.p.depth_qty * NEW_LEVEL_SCALE, 0.8, i.lot);
        emit.set(&mut i.book, side, px, q);
    }
}

fn step(
    i: &mut Inst,
    rng: &mut ChaCha8Rng,
    emit: &mut Emit<'_>,
    trade_prob: f64,
    adds: f64,
    cancels: f64,
) {
    // A trade against the touch of the book as published.
    if rng.random::<f64>() < trade_prob {
        // Takers lean toward the fair price's side of the mid.
        let mid_ticks = i.book.mid_ticks().unwrap_or(0.0);
        let buy_p = if i.log_fair.exp() / i.tick > mid_ticks { 0.6 } else { 0.4 };
        let aggressor = if rng.random::<f64>() < buy_p { Side::Buy } else { Side::Sell };
        if let Some(touch) = i.book.best(aggressor.opposite()) {
            let want = size_lots(rng, i.p.trade_median_qty, i.p.trade_log_sigma, i.lot);
            let qty = want.min(touch.qty.0);
            i.trade_id += 1;
            if let Some(out) = emit.out.as_deref_mut() {
                out.push(MarketEvent::Trade(Trade {
                    ts_exch_ns: emit.ts.0,
                    ts_local_ns: emit.ts.1,
                    trade_id: i.trade_id,
                    px: touch.px,
                    qty: Qty(qty),
                    instrument: i.id,
                    aggressor,
                    _pad: [0; 5],
                }));
            }
            emit.set(&mut i.book, aggressor.opposite(), touch.px.0, touch.qty.0 - qty);
        }
    }
    // Order arrivals: grow a level, or open a new one between the existing ones.
    for _ in 0..poisson(rng, adds) {
        let side = if rng.random::<bool>() { Side::Buy } else { Side::Sell };
        let n = i.book.level_count(side).max(1);
        let Some(best) = i.book.best(side) else { continue };
        if rng.random::<f64>() < 0.5 {
            let span = (n as f64 * i.p.level_gap_ticks) as i64;
            let px = best.px.0 - side.sign() * rng.random_range(1..=span.max(1));
            if px >= 1 && i.book.qty_at(side, Px(px)).is_zero() {
                let q = size_lots(rng, i.p.depth_qty * NEW_LEVEL_SCALE, 0.8, i.lot);
                emit.set(&mut i.book, side, px, q);
            }
        } else if let Some(l) = i.book.levels(side).nth(rng.random_range(0..n)) {
            let q = size_lots(rng, i.p.depth_qty * 0.1, 0.8, i.lot);
            emit.set(&mut i.book, side, l.px.0, l.qty.0.saturating_add(q));
        }
    }
    // Cancels behind the touch: halve a level or remove it.
    for _ in 0..poisson(rng, cancels) {
        let side = if rng.random::<bool>() { Side::Buy } else { Side::Sell };
        let n = i.book.level_count(side);
        if n < 2 {
            continue;
        }
        if let Some(l) = i.book.levels(side).nth(rng.random_range(1..n)) {
            let q = if rng.random::<bool>() { l.qty.0 / 2 } else { 0 };
            emit.set(&mut i.book, side, l.px.0, q);
        }
    }
    requote(i, rng, emit);
}
