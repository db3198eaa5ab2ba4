//! The fast lane assembled: the signal bank and the four strategies behind one object, built
//! from one configuration.

use crpbot_book::Book;
use crpbot_core::{Fill, InstrumentId, Registry, StrategyId, Trade};
use serde::Deserialize;

use super::composite::{OfiConfig, OfiStrategy};
use super::intent::{IntentBuf, Strategy};
use super::leg::BuildError;
use super::meanrev::{MeanRevConfig, MeanRevStrategy};
use super::scalp::{ScalpConfig, ScalpStrategy};
use super::signals::{SignalBank, SignalConfig};
use super::statarb::{StatArbConfig, StatArbStrategy};

/// The whole fast-lane configuration (serde; TOML tables `[signals]`, `[ofi]`, `[scalp]`,
/// `[meanrev]`, `[statarb]`, each optional).
///
/// # Examples
/// ```
/// use crpbot_strategies::fast::FastConfig;
/// let cfg: FastConfig = toml::from_str(
///     "[scalp]\nimbalance_threshold = 0.4\n[statarb]\nenabled = false\n",
/// ).unwrap();
/// assert_eq!(cfg.scalp.imbalance_threshold, 0.4);
/// assert!(!cfg.statarb.enabled && cfg.ofi.enabled);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FastConfig {
    /// Signal windows and thresholds.
    pub signals: SignalConfig,
    /// Order-flow composite.
    pub ofi: OfiConfig,
    /// Microstructure scalping.
    pub scalp: ScalpConfig,
    /// Mean reversion.
    pub meanrev: MeanRevConfig,
    /// BTC–ETH statistical arbitrage.
    pub statarb: StatArbConfig,
}

/// Strategy ids are `first_id + offset` with these offsets, whether enabled or not.
pub const STRATEGY_OFFSETS: [(&str, u16); 4] =
    [("ofi", 0), ("scalp", 1), ("meanrev", 2), ("statarb", 3)];

/// The signal bank plus the enabled strategies, in a fixed order (ofi, scalp, meanrev,
/// statarb).
///
/// **Memory.** Everything is allocated by [`FastLane::new`]; the `on_*` methods never allocate,
/// lock, log or read a clock.
///
/// # Examples
/// ```
/// use crpbot_book::{Book, BookConfig};
/// use crpbot_core::{Px, Qty, Registry, Side, StrategyId, Venue};
/// use crpbot_strategies::fast::{FastConfig, FastLane, IntentBuf};
/// let reg = Registry::with_defaults();
/// let mut lane = FastLane::new(&FastConfig::default(), &reg, StrategyId(10)).unwrap();
/// let btc = reg.lookup(Venue::BinanceSpot, b"BTCUSDT").unwrap();
/// let mut book = Book::new(BookConfig::default());
/// book.set(Side::Buy, Px(6_000_000), Qty(100_000_000)).unwrap();
/// book.set(Side::Sell, Px(6_000_001), Qty(100_000_000)).unwrap();
/// let mut out = IntentBuf::new();
/// lane.on_book(btc, &book, 1_000_000_000, &mut out);
/// assert!(out.is_empty()); // nothing to say on a first, balanced book
/// assert_eq!(lane.strategies().len(), 4);
/// ```
pub struct FastLane {
    bank: SignalBank,
    strategies: Vec<Box<dyn Strategy + Send>>,
}

impl std::fmt::Debug for FastLane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.strategies.iter().map(|s| s.name()).collect();
        f.debug_struct("FastLane").field("strategies", &names).finish_non_exhaustive()
    }
}

impl FastLane {
    /// Builds the signal bank (one set per registry instrument) and the enabled strategies,
    /// with ids `first_id + `[`STRATEGY_OFFSETS`].
    ///
    /// # Errors
    /// The first strategy's [`BuildError`].
    pub fn new(
        cfg: &FastConfig,
        registry: &Registry,
        first_id: StrategyId,
    ) -> Result<FastLane, BuildError> {
        let id = |off: u16| StrategyId(first_id.0.saturating_add(off));
        let mut strategies: Vec<Box<dyn Strategy + Send>> = Vec::with_capacity(4);
        if cfg.ofi.enabled {
            strategies.push(Box::new(OfiStrategy::new(&cfg.ofi, id(0), registry)?));
        }
        if cfg.scalp.enabled {
            strategies.push(Box::new(ScalpStrategy::new(&cfg.scalp, id(1), registry)?));
        }
        if cfg.meanrev.enabled {
            strategies.push(Box::new(MeanRevStrategy::new(&cfg.meanrev, id(2), registry)?));
        }
        if cfg.statarb.enabled {
            strategies.push(Box::new(StatArbStrategy::new(&cfg.statarb, id(3), registry)?));
        }
        Ok(FastLane { bank: SignalBank::new(registry.len(), &cfg.signals), strategies })
    }

    /// A published, valid book of `id` at `ts_ns` (venue time): updates the signals, then
    /// runs every strategy. Intents are appended to `out`.
    #[inline]
    pub fn on_book(&mut self, id: InstrumentId, book: &Book, ts_ns: i64, out: &mut IntentBuf) {
        let Some(sig) = self.bank.on_book(id, book, ts_ns) else { return };
        let sig = *sig;
        for s in &mut self.strategies {
            s.on_book(id, book, &sig, ts_ns, out);
        }
    }

    /// A public trade: updates the signals, then runs every strategy.
    #[inline]
    pub fn on_trade(&mut self, t: &Trade, out: &mut IntentBuf) {
        let Some(sig) = self.bank.on_trade(t) else { return };
        let sig = *sig;
        for s in &mut self.strategies {
            s.on_trade(t, &sig, out);
        }
    }

    /// A fill: routed to the strategy whose id it carries (others ignore it).
    #[inline]
    pub fn on_fill(&mut self, f: &Fill) {
        for s in &mut self.strategies {
            if s.id() == f.strategy {
                s.on_fill(f);
            }
        }
    }

    /// The strategies, in order.
    pub fn strategies(&self) -> &[Box<dyn Strategy + Send>] {
        &self.strategies
    }

    /// The signal bank.
    pub fn signals(&self) -> &SignalBank {
        &self.bank
    }
}

/// The name of a reason code of any fast strategy (e.g. `201` → `"scalp.long_imbalance"`).
///
/// # Examples
/// ```
/// use crpbot_strategies::fast::reason_name;
/// assert_eq!(reason_name(402), Some("statarb.long_spread"));
/// assert_eq!(reason_name(7), None);
/// ```
pub fn reason_name(code: u16) -> Option<&'static str> {
    Some(match code {
        101 => "ofi.long_score",
        102 => "ofi.short_score",
        110 => "ofi.exit_score",
        111 => "ofi.exit_stop",
        112 => "ofi.exit_take_profit",
        113 => "ofi.exit_max_hold",
        201 => "scalp.long_imbalance",
        202 => "scalp.short_imbalance",
        211 => "scalp.exit_stop",
        212 => "scalp.exit_take_profit",
        213 => "scalp.exit_max_hold",
        301 => "meanrev.above_band",
        302 => "meanrev.below_band",
        310 => "meanrev.exit_at_vwap",
        311 => "meanrev.exit_stop",
        313 => "meanrev.exit_max_hold",
        401 => "statarb.short_spread",
        402 => "statarb.long_spread",
        410 => "statarb.exit_revert",
        411 => "statarb.exit_stop_z",
        412 => "statarb.exit_leg_stop",
        413 => "statarb.exit_max_hold",
        414 => "statarb.exit_unhedged",
        _ => return None,
    })
}
