//! Instruments: venue, symbol, tick size and lot size.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use crate::fixed::{Scale, ScaleError};

/// A trading venue (or the simulator).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Venue {
    /// Binance spot (`stream.binance.com`).
    BinanceSpot = 1,
    /// Binance USDⓈ-M perpetual futures (`fstream.binance.com`).
    BinanceUsdm = 2,
    /// Coinbase Advanced Trade.
    Coinbase = 3,
    /// crpbot's built-in market simulator.
    Sim = 4,
}

impl Venue {
    /// All venues, in declaration order.
    pub const ALL: [Venue; 4] =
        [Venue::BinanceSpot, Venue::BinanceUsdm, Venue::Coinbase, Venue::Sim];

    /// The name used on the command line and in configuration (`binance-spot`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Venue::BinanceSpot => "binance-spot",
            Venue::BinanceUsdm => "binance-usdm",
            Venue::Coinbase => "coinbase",
            Venue::Sim => "sim",
        }
    }

    /// The venue for a raw discriminant (as stored in the journal).
    pub const fn from_u8(v: u8) -> Option<Venue> {
        match v {
            1 => Some(Venue::BinanceSpot),
            2 => Some(Venue::BinanceUsdm),
            3 => Some(Venue::Coinbase),
            4 => Some(Venue::Sim),
            _ => None,
        }
    }
}

impl fmt::Display for Venue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown venue name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown venue {0:?} (expected binance-spot, binance-usdm, coinbase or sim)")]
pub struct VenueParseError(pub String);

impl FromStr for Venue {
    type Err = VenueParseError;
    fn from_str(s: &str) -> Result<Venue, VenueParseError> {
        Venue::ALL
            .into_iter()
            .find(|v| v.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| VenueParseError(s.to_owned()))
    }
}

/// A symbol of at most 23 ASCII bytes, stored inline so events and instruments stay `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Symbol {
    len: u8,
    bytes: [u8; Symbol::CAPACITY],
}

/// A symbol that is empty, too long or not printable ASCII.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid symbol {0:?}: 1 to 23 printable ASCII bytes")]
pub struct SymbolError(pub String);

impl Symbol {
    /// Longest symbol accepted.
    pub const CAPACITY: usize = 23;

    /// A symbol from ASCII text, as given (case is kept).
    pub fn new(text: &str) -> Result<Symbol, SymbolError> {
        let b = text.as_bytes();
        if b.is_empty() || b.len() > Self::CAPACITY || !b.iter().all(|c| c.is_ascii_graphic()) {
            return Err(SymbolError(text.to_owned()));
        }
        let mut bytes = [0u8; Self::CAPACITY];
        bytes[..b.len()].copy_from_slice(b);
        Ok(Symbol { len: b.len() as u8, bytes })
    }

    /// The symbol's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The symbol as text.
    pub fn as_str(&self) -> &str {
        // Constructed from validated ASCII only.
        std::str::from_utf8(self.as_bytes()).unwrap_or("?")
    }

    /// ASCII case-insensitive comparison with raw bytes (Binance streams use lower case).
    #[inline]
    pub fn eq_ignore_case(&self, other: &[u8]) -> bool {
        self.as_bytes().eq_ignore_ascii_case(other)
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Symbol({:?})", self.as_str())
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Dense index of an instrument in its [`Registry`].
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstrumentId(pub u16);

impl InstrumentId {
    /// The index as a `usize`, for dense per-instrument arrays.
    #[inline]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// One tradable instrument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instrument {
    /// Its index in the registry.
    pub id: InstrumentId,
    /// Where it trades.
    pub venue: Venue,
    /// The venue's symbol (`BTCUSDT`, `BTC-USD`).
    pub symbol: Symbol,
    /// Tick size: prices are whole numbers of it.
    pub price: Scale,
    /// Lot size: sizes are whole numbers of it.
    pub qty: Scale,
}

/// Why instrument configuration was refused.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML text did not parse.
    #[error("instrument config: {0}")]
    Toml(#[from] toml::de::Error),
    /// An unknown venue name.
    #[error(transparent)]
    Venue(#[from] VenueParseError),
    /// A bad symbol.
    #[error(transparent)]
    Symbol(#[from] SymbolError),
    /// A bad tick or lot size.
    #[error("instrument {symbol}: {which} size: {err}")]
    Scale {
        /// The symbol concerned.
        symbol: String,
        /// `tick` or `lot`.
        which: &'static str,
        /// What was wrong.
        err: ScaleError,
    },
    /// The same venue and symbol twice.
    #[error("instrument {0} is configured twice")]
    Duplicate(String),
    /// More instruments than an [`InstrumentId`] can index.
    #[error("too many instruments")]
    TooMany,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InstrumentConfig {
    venue: String,
    symbol: String,
    tick: String,
    lot: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryConfig {
    #[serde(default)]
    instrument: Vec<InstrumentConfig>,
}

/// The instruments a process knows, indexed densely by [`InstrumentId`].
///
/// # Examples
/// ```
/// use crpbot_core::{Registry, Venue};
/// let reg = Registry::with_defaults();
/// let id = reg.lookup(Venue::BinanceSpot, b"btcusdt").unwrap();
/// assert_eq!(reg.get(id).price.to_string(), "0.01");
/// ```
#[derive(Clone, Debug, Default)]
pub struct Registry {
    instruments: Vec<Instrument>,
}

/// (venue, symbol, tick, lot) for the recorded and simulated symbols.
const DEFAULTS: &[(Venue, &str, &str, &str)] = &[
    // Binance spot: tick = exchangeInfo PRICE_FILTER tickSize; sizes are kept at the wire's
    // 8-decimal precision, because book levels can hold legacy orders finer than today's
    // LOT_SIZE step (the 2024-08-08 BTCUSDT recording has 25.426189 BTC at 200000.00 with a
    // 0.00001 step).
    (Venue::BinanceSpot, "BTCUSDT", "0.01", "0.00000001"),
    (Venue::BinanceSpot, "ETHUSDT", "0.01", "0.00000001"),
    (Venue::BinanceSpot, "SOLUSDT", "0.01", "0.00000001"),
    (Venue::BinanceSpot, "BNBUSDT", "0.01", "0.00000001"),
    (Venue::BinanceSpot, "XRPUSDT", "0.0001", "0.00000001"),
    (Venue::BinanceSpot, "ADAUSDT", "0.0001", "0.00000001"),
    (Venue::BinanceSpot, "DOGEUSDT", "0.00001", "0.00000001"),
    (Venue::BinanceSpot, "AVAXUSDT", "0.01", "0.00000001"),
    (Venue::BinanceSpot, "LINKUSDT", "0.01", "0.00000001"),
    (Venue::BinanceSpot, "DOTUSDT", "0.001", "0.00000001"),
    // Binance USDⓈ-M perpetuals (sizes at the contract's quantity precision).
    (Venue::BinanceUsdm, "BTCUSDT", "0.1", "0.001"),
    (Venue::BinanceUsdm, "ETHUSDT", "0.01", "0.001"),
    (Venue::BinanceUsdm, "SOLUSDT", "0.01", "1"),
    // Coinbase Advanced Trade (quote_increment / base_increment).
    (Venue::Coinbase, "BTC-USD", "0.01", "0.00000001"),
    (Venue::Coinbase, "ETH-USD", "0.01", "0.00000001"),
    (Venue::Coinbase, "SOL-USD", "0.01", "0.00000001"),
    // The built-in simulator.
    (Venue::Sim, "BTC-SIM", "0.01", "0.00001"),
    (Venue::Sim, "ETH-SIM", "0.01", "0.0001"),
    (Venue::Sim, "SOL-SIM", "0.01", "0.001"),
    (Venue::Sim, "BNB-SIM", "0.01", "0.001"),
];

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// The default instruments: the recorded Binance and Coinbase symbols and the simulator's.
    pub fn with_defaults() -> Registry {
        let mut reg = Registry::new();
        for &(venue, symbol, tick, lot) in DEFAULTS {
            // The table above is static and valid; a failure here is a programming error
            // caught by the `defaults_are_valid` test.
            let _ = reg.insert_text(venue, symbol, tick, lot);
        }
        reg
    }

    /// Defaults overlaid with `[[instrument]]` tables from TOML text:
    ///
    /// ```toml
    /// [[instrument]]
    /// venue = "binance-spot"
    /// symbol = "PEPEUSDT"
    /// tick = "0.00000001"
    /// lot = "1"
    /// ```
    ///
    /// A configured instrument replaces the default of the same venue and symbol.
    pub fn from_toml(text: &str) -> Result<Registry, ConfigError> {
        let cfg: RegistryConfig = toml::from_str(text)?;
        let mut reg = Registry::with_defaults();
        let mut seen = Vec::new();
        for ic in cfg.instrument {
            let venue: Venue = ic.venue.parse()?;
            let key = (venue, ic.symbol.to_ascii_uppercase());
            if seen.contains(&key) {
                return Err(ConfigError::Duplicate(format!("{venue}:{}", ic.symbol)));
            }
            seen.push(key);
            reg.insert_text(venue, &ic.symbol, &ic.tick, &ic.lot)?;
        }
        Ok(reg)
    }

    fn insert_text(
        &mut self,
        venue: Venue,
        symbol: &str,
        tick: &str,
        lot: &str,
    ) -> Result<InstrumentId, ConfigError> {
        let scale = |which, text: &str| {
            Scale::parse(text).map_err(|err| ConfigError::Scale {
                symbol: symbol.to_owned(),
                which,
                err,
            })
        };
        let (price, qty) = (scale("tick", tick)?, scale("lot", lot)?);
        self.insert(venue, Symbol::new(symbol)?, price, qty)
    }

    /// Adds an instrument, or replaces the tick and lot of an existing one with the same venue
    /// and symbol (its id is kept).
    pub fn insert(
        &mut self,
        venue: Venue,
        symbol: Symbol,
        price: Scale,
        qty: Scale,
    ) -> Result<InstrumentId, ConfigError> {
        if let Some(id) = self.lookup(venue, symbol.as_bytes()) {
            let inst = &mut self.instruments[id.index()];
            inst.price = price;
            inst.qty = qty;
            return Ok(id);
        }
        let id = u16::try_from(self.instruments.len()).map_err(|_| ConfigError::TooMany)?;
        let id = InstrumentId(id);
        self.instruments.push(Instrument { id, venue, symbol, price, qty });
        Ok(id)
    }

    /// The instrument of `venue` whose symbol equals `symbol` ignoring ASCII case.
    #[inline]
    pub fn lookup(&self, venue: Venue, symbol: &[u8]) -> Option<InstrumentId> {
        self.instruments
            .iter()
            .find(|i| i.venue == venue && i.symbol.eq_ignore_case(symbol))
            .map(|i| i.id)
    }

    /// The instrument with this id.
    ///
    /// # Panics
    /// If the id did not come from this registry.
    #[inline]
    pub fn get(&self, id: InstrumentId) -> &Instrument {
        &self.instruments[id.index()]
    }

    /// The instrument with this id, if any.
    #[inline]
    pub fn try_get(&self, id: InstrumentId) -> Option<&Instrument> {
        self.instruments.get(id.index())
    }

    /// All instruments in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Instrument> {
        self.instruments.iter()
    }

    /// All instruments of one venue, in id order.
    pub fn of_venue(&self, venue: Venue) -> impl Iterator<Item = &Instrument> {
        self.instruments.iter().filter(move |i| i.venue == venue)
    }

    /// How many instruments there are.
    pub fn len(&self) -> usize {
        self.instruments.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.instruments.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let reg = Registry::with_defaults();
        assert_eq!(reg.len(), DEFAULTS.len());
        for (i, inst) in reg.iter().enumerate() {
            assert_eq!(inst.id.index(), i);
        }
        let btc = reg.lookup(Venue::BinanceSpot, b"BTCUSDT").unwrap();
        let btc_fut = reg.lookup(Venue::BinanceUsdm, b"btcusdt").unwrap();
        assert_ne!(btc, btc_fut);
        assert_eq!(reg.get(btc_fut).price.to_string(), "0.1");
        assert!(reg.lookup(Venue::Coinbase, b"BTCUSDT").is_none());
    }

    #[test]
    fn config_overrides_and_adds() {
        let reg = Registry::from_toml(
            r#"
            [[instrument]]
            venue = "binance-spot"
            symbol = "BTCUSDT"
            tick = "0.1"
            lot = "0.001"
            [[instrument]]
            venue = "coinbase"
            symbol = "DOGE-USD"
            tick = "0.00001"
            lot = "0.1"
            "#,
        )
        .unwrap();
        let btc = reg.lookup(Venue::BinanceSpot, b"BTCUSDT").unwrap();
        assert_eq!(btc.index(), 0, "override keeps the id");
        assert_eq!(reg.get(btc).price.to_string(), "0.1");
        let doge = reg.lookup(Venue::Coinbase, b"doge-usd").unwrap();
        assert_eq!(reg.get(doge).qty.to_string(), "0.1");
    }

    #[test]
    fn config_errors_are_clear() {
        let bad_venue = "[[instrument]]\nvenue='kraken'\nsymbol='X'\ntick='1'\nlot='1'";
        assert!(matches!(Registry::from_toml(bad_venue), Err(ConfigError::Venue(_))));
        let bad_tick = "[[instrument]]\nvenue='sim'\nsymbol='X'\ntick='0'\nlot='1'";
        assert!(matches!(
            Registry::from_toml(bad_tick),
            Err(ConfigError::Scale { which: "tick", .. })
        ));
        let dup = "[[instrument]]\nvenue='sim'\nsymbol='X'\ntick='1'\nlot='1'\n[[instrument]]\nvenue='sim'\nsymbol='x'\ntick='1'\nlot='1'";
        assert!(matches!(Registry::from_toml(dup), Err(ConfigError::Duplicate(_))));
        let unknown = "[[instrument]]\nvenue='sim'\nsymbol='X'\ntick='1'\nlot='1'\nfoo=1";
        assert!(matches!(Registry::from_toml(unknown), Err(ConfigError::Toml(_))));
    }

    #[test]
    fn symbols_are_validated() {
        assert!(Symbol::new("").is_err());
        assert!(Symbol::new("BTC USD").is_err());
        assert!(Symbol::new(&"X".repeat(24)).is_err());
        assert_eq!(Symbol::new("BTC-USD").unwrap().as_str(), "BTC-USD");
        assert_eq!("BINANCE-SPOT".parse::<Venue>().unwrap(), Venue::BinanceSpot);
        assert!("nyse".parse::<Venue>().is_err());
    }
}
