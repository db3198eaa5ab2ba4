//! Simulator configuration and its defaults (calibrated on the Binance spot recording).

/// Why a [`SimConfig`] was refused.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SimConfigError {
    /// No instruments.
    #[error("the simulator needs at least one instrument")]
    NoInstruments,
    /// An instrument symbol is not a `sim` instrument of the registry.
    #[error("unknown sim instrument {0}")]
    UnknownInstrument(String),
    /// The correlation matrix is not n×n, symmetric with a unit diagonal and entries in
    /// [-1, 1], or not positive definite (no Cholesky factor).
    #[error("correlation matrix is not a valid positive-definite correlation matrix")]
    Correlation,
    /// A parameter is out of range (named).
    #[error("bad simulator parameter `{0}`")]
    Param(&'static str),
}

/// One simulated instrument's market parameters. Sizes are in base units, prices in quote
/// units: the simulator converts them to the registry's lots and ticks.
#[derive(Clone, Debug, PartialEq)]
pub struct SimInstrument {
    /// A `sim` venue symbol of the registry (`BTC-SIM`).
    pub symbol: String,
    /// Starting mid price.
    pub start_px: f64,
    /// Volatility of the log mid price per √second (1e-4 = 1 bp/√s ≈ 2.9 % a day).
    pub vol_per_sqrt_s: f64,
    /// Median spread in ticks (the spread is this plus a geometric extra that is 0 with
    /// probability 0.6, so the median is exactly this).
    pub median_spread_ticks: u32,
    /// Median size at the touch (log-normal, σ = 0.8).
    pub touch_qty: f64,
    /// Median size of a level behind the touch (log-normal, σ = 0.8).
    pub depth_qty: f64,
    /// Mean distance in ticks between consecutive levels behind the touch (geometric, ≥ 1).
    pub level_gap_ticks: f64,
    /// Levels kept on each side (the book is refilled to this depth).
    pub levels: u32,
    /// Median trade size (log-normal).
    pub trade_median_qty: f64,
    /// σ of the log trade size.
    pub trade_log_sigma: f64,
}

impl SimInstrument {
    /// BTC-like defaults, measured on `binance-spot-l2/btcusdt_2024080{8,9}.gz` (2024-08-08
    /// 23:54 → 08-09 00:05 UTC) by the test `sim_defaults_match_the_recording` in
    /// `tests/sim.rs`, which samples the rebuilt book after every 5th published diff (1,298
    /// samples, both sides pooled) and takes all 19,904 trades: median spread 1 tick; median
    /// size 1.97 BTC at the touch and 0.065 BTC at levels 2–20; levels 36.5 ticks apart (median
    /// distance of the 20th level / 19); trade size median 0.00067 BTC, σ(ln size) 2.60.
    /// Volatility (not measurable on 11 minutes): ~1 bp/√s.
    pub fn btc() -> SimInstrument {
        SimInstrument {
            symbol: sym("BTC-SIM"),
            start_px: 60_000.0,
            vol_per_sqrt_s: 1.0e-4,
            median_spread_ticks: 1,
            touch_qty: 1.97,
            depth_qty: 0.065,
            level_gap_ticks: 36.5,
            levels: 20,
            trade_median_qty: 0.00067,
            trade_log_sigma: 2.6,
        }
    }

    /// ETH-like defaults from `ethusdt_2024080{8,9}.gz`, measured the same way (1,293 book
    /// samples, 14,515 trades): median spread 1 tick; touch 9.8 ETH, behind it 1.72 ETH; levels
    /// 2.74 ticks apart; trade size median 0.0078 ETH, σ(ln size) 2.52.
    pub fn eth() -> SimInstrument {
        SimInstrument {
            symbol: sym("ETH-SIM"),
            start_px: 2_600.0,
            vol_per_sqrt_s: 1.3e-4,
            median_spread_ticks: 1,
            touch_qty: 9.8,
            depth_qty: 1.72,
            level_gap_ticks: 2.74,
            levels: 20,
            trade_median_qty: 0.0078,
            trade_log_sigma: 2.52,
        }
    }

    /// SOL-like: no recording of its book here; the ETH profile scaled by price (sizes × 17).
    pub fn sol() -> SimInstrument {
        SimInstrument {
            symbol: sym("SOL-SIM"),
            start_px: 150.0,
            vol_per_sqrt_s: 1.8e-4,
            touch_qty: 167.0,
            depth_qty: 29.0,
            trade_median_qty: 0.13,
            level_gap_ticks: 1.5,
            ..SimInstrument::eth()
        }
    }

    /// BNB-like: the ETH profile scaled by price (sizes × 4.7).
    pub fn bnb() -> SimInstrument {
        SimInstrument {
            symbol: sym("BNB-SIM"),
            start_px: 550.0,
            vol_per_sqrt_s: 1.2e-4,
            touch_qty: 46.0,
            depth_qty: 8.1,
            trade_median_qty: 0.037,
            level_gap_ticks: 2.0,
            ..SimInstrument::eth()
        }
    }
}

fn sym(s: &str) -> String {
    s.to_owned()
}

/// Simulator configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// RNG seed: the same seed and configuration give the same event stream.
    pub seed: u64,
    /// Instruments, in the order of the correlation matrix.
    pub instruments: Vec<SimInstrument>,
    /// Correlation of the instruments' mid-price shocks, row-major n×n.
    pub correlation: Vec<f64>,
    /// Venue messages (event batches) per simulated second over all instruments, outside
    /// bursts (Poisson arrivals).
    pub rate_hz: f64,
    /// Probability that a batch starts a burst.
    pub burst_prob: f64,
    /// Rate (and trade probability) multiplier during a burst.
    pub burst_mult: f64,
    /// Batches a burst lasts.
    pub burst_batches: u32,
    /// Probability that a batch carries a trade (outside bursts).
    pub trade_prob: f64,
    /// Mean order arrivals per batch (Poisson).
    pub adds_per_batch: f64,
    /// Mean cancels per batch (Poisson).
    pub cancels_per_batch: f64,
    /// Simulated clock start, ns since the epoch.
    pub start_ts_ns: i64,
    /// Venue-to-local latency added to `ts_local_ns`, ns.
    pub latency_ns: i64,
    /// Stop after this much simulated time (`None`: never).
    pub duration_ns: Option<i64>,
    /// Stop after this many batches (`None`: never).
    pub max_batches: Option<u64>,
}

impl SimConfig {
    /// BTC-SIM, ETH-SIM, SOL-SIM and BNB-SIM with BTC/ETH correlation 0.8 (SOL 0.7 and BNB
    /// 0.6 with the others), 1,000 batches a second, bursts of 200 batches at 5× with
    /// probability 1/2,000 per batch, no end.
    pub fn new(seed: u64) -> SimConfig {
        SimConfig {
            seed,
            instruments: vec![
                SimInstrument::btc(),
                SimInstrument::eth(),
                SimInstrument::sol(),
                SimInstrument::bnb(),
            ],
            #[rustfmt::skip]
            correlation: vec![
                1.0, 0.8, 0.7, 0.6,
                0.8, 1.0, 0.7, 0.6,
                0.7, 0.7, 1.0, 0.6,
                0.6, 0.6, 0.6, 1.0,
            ],
            rate_hz: 1_000.0,
            burst_prob: 1.0 / 2_000.0,
            burst_mult: 5.0,
            burst_batches: 200,
            trade_prob: 0.15,
            adds_per_batch: 1.5,
            cancels_per_batch: 1.5,
            start_ts_ns: 1_767_225_600_000_000_000, // 2026-01-01T00:00:00Z
            latency_ns: 500_000,
            duration_ns: None,
            max_batches: None,
        }
    }

    /// Sets the BTC/ETH correlation (entries (0,1) and (1,0)).
    pub fn with_btc_eth_correlation(mut self, rho: f64) -> SimConfig {
        let n = self.instruments.len();
        if n >= 2 && self.correlation.len() == n * n {
            self.correlation[1] = rho;
            self.correlation[n] = rho;
        }
        self
    }

    pub(crate) fn validate(&self) -> Result<Vec<f64>, SimConfigError> {
        let n = self.instruments.len();
        if n == 0 {
            return Err(SimConfigError::NoInstruments);
        }
        let ok = |v: f64| v.is_finite() && v > 0.0;
        let in_range = |v: f64, lo: f64, hi: f64| (lo..=hi).contains(&v);
        if !ok(self.rate_hz) {
            return Err(SimConfigError::Param("rate_hz"));
        }
        if !in_range(self.burst_prob, 0.0, 1.0) || !in_range(self.burst_mult, 1.0, 1e6) {
            return Err(SimConfigError::Param("burst"));
        }
        if !in_range(self.trade_prob, 0.0, 1.0) {
            return Err(SimConfigError::Param("trade_prob"));
        }
        if !in_range(self.adds_per_batch, 0.0, 64.0) || !in_range(self.cancels_per_batch, 0.0, 64.0)
        {
            return Err(SimConfigError::Param("adds/cancels_per_batch"));
        }
        if self.latency_ns < 0 {
            return Err(SimConfigError::Param("latency_ns"));
        }
        for i in &self.instruments {
            let valid = ok(i.start_px)
                && in_range(i.vol_per_sqrt_s, 0.0, 1.0)
                && i.median_spread_ticks > 0
                && ok(i.touch_qty)
                && ok(i.depth_qty)
                && in_range(i.level_gap_ticks, 1.0, 1e6)
                && (1..=1000).contains(&i.levels)
                && ok(i.trade_median_qty)
                && in_range(i.trade_log_sigma, 0.0, 10.0);
            if !valid {
                return Err(SimConfigError::Param("instrument"));
            }
        }
        cholesky(&self.correlation, n).ok_or(SimConfigError::Correlation)
    }
}

/// The lower Cholesky factor `L` (row-major) of a correlation matrix, `None` if it is not one.
pub(crate) fn cholesky(c: &[f64], n: usize) -> Option<Vec<f64>> {
    if c.len() != n * n {
        return None;
    }
    for i in 0..n {
        if (c[i * n + i] - 1.0).abs() > 1e-12 {
            return None;
        }
        for j in 0..n {
            let v = c[i * n + j];
            if !v.is_finite() || v.abs() > 1.0 || (v - c[j * n + i]).abs() > 1e-12 {
                return None;
            }
        }
    }
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                let d = c[i * n + i] - s;
                if d <= 1e-12 {
                    return None;
                }
                l[i * n + j] = d.sqrt();
            } else {
                l[i * n + j] = (c[i * n + j] - s) / l[j * n + j];
            }
        }
    }
    Some(l)
}
