//! The simulator preset ([`FastConfig::for_sim`]) and the time compression it is built with
//! ([`FastConfig::time_compressed`]).

use super::lane::FastConfig;

/// The time compression of [`FastConfig::for_sim`]: 30 simulated seconds stand for 10 minutes
/// of the default configuration's time scale.
pub const SIM_TIME_COMPRESSION: u32 = 20;

/// `ms / k`, rounded to the nearest millisecond, at least 1 unless `ms` is 0 or negative
/// (0 means "none" for a maximum hold; negatives are left for validation to refuse).
fn div_ms(ms: i64, k: u32) -> i64 {
    if ms <= 0 || k <= 1 {
        return ms;
    }
    let k = i64::from(k);
    (ms.saturating_add(k / 2) / k).max(1)
}

impl FastConfig {
    /// The same configuration on a clock `k` times faster: durations ÷ `k`, price distances
    /// measured against a price move over such a duration ÷ `√k`, everything else unchanged.
    /// `k` ≤ 1 returns an unchanged copy. Instruments and `enabled` flags are kept.
    ///
    /// * Durations ÷ `k` (rounded to the nearest ms, at least 1 ms; 0 stays 0): the signal
    ///   windows and buckets (`ofi_window_ms`, `vwap_window_ms`, `vwap_bucket_ms`,
    ///   `flow_window_ms`, `short_window_ms`, `fast_bucket_ms`), every strategy's
    ///   `cooldown_ms` and `max_hold_ms`, the `sample_ms` of meanrev and statarb, statarb's
    ///   `stale_ms`. Windows keep their bucket counts, so each is the same window on a faster
    ///   clock.
    /// * Distances ÷ `√k`: every `stop_pct`, `take_profit_pct`, scalp's `target_min_pct` and
    ///   `target_max_pct`, ofi's `vwap_scale_bps`, `profile_bucket_ticks` (rounded, ≥ 1). Over
    ///   a `k` times shorter horizon a diffusion moves `√k` times less, so each stays the same
    ///   number of standard deviations.
    /// * Unchanged: counts, dimensionless thresholds, weights and execution parameters
    ///   (`notional`, `pending_timeout_ms`, `max_slippage_bps`, `allow_short`).
    ///
    /// # Examples
    /// ```
    /// use crpbot_strategies::fast::FastConfig;
    /// let d = FastConfig::default();
    /// let c = d.time_compressed(20);
    /// assert_eq!((d.meanrev.sample_ms, c.meanrev.sample_ms), (1_000, 50));
    /// assert_eq!(c.meanrev.bb_window, d.meanrev.bb_window); // 20 samples either way
    /// assert!((c.scalp.stop_pct - 0.15 / 20f64.sqrt()).abs() < 1e-12);
    /// assert_eq!(d.time_compressed(1), d);
    /// ```
    pub fn time_compressed(&self, k: u32) -> FastConfig {
        let mut c = self.clone();
        if k <= 1 {
            return c;
        }
        let r = f64::from(k).sqrt();
        let s = &mut c.signals;
        s.ofi_window_ms = div_ms(s.ofi_window_ms, k);
        s.vwap_window_ms = div_ms(s.vwap_window_ms, k);
        s.vwap_bucket_ms = div_ms(s.vwap_bucket_ms, k);
        s.flow_window_ms = div_ms(s.flow_window_ms, k);
        s.short_window_ms = div_ms(s.short_window_ms, k);
        s.fast_bucket_ms = div_ms(s.fast_bucket_ms, k);
        if s.profile_bucket_ticks > 0 {
            s.profile_bucket_ticks = ((s.profile_bucket_ticks as f64 / r).round() as i64).max(1);
        }

        let o = &mut c.ofi;
        o.cooldown_ms = div_ms(o.cooldown_ms, k);
        o.vwap_scale_bps /= r;
        o.stop_pct /= r;
        o.take_profit_pct /= r;
        o.max_hold_ms = div_ms(o.max_hold_ms, k);

        let sc = &mut c.scalp;
        sc.cooldown_ms = div_ms(sc.cooldown_ms, k);
        sc.target_min_pct /= r;
        sc.target_max_pct /= r;
        sc.stop_pct /= r;
        sc.max_hold_ms = div_ms(sc.max_hold_ms, k);

        let m = &mut c.meanrev;
        m.cooldown_ms = div_ms(m.cooldown_ms, k);
        m.sample_ms = div_ms(m.sample_ms, k);
        m.stop_pct /= r;
        m.max_hold_ms = div_ms(m.max_hold_ms, k);

        let a = &mut c.statarb;
        a.cooldown_ms = div_ms(a.cooldown_ms, k);
        a.sample_ms = div_ms(a.sample_ms, k);
        a.stale_ms = div_ms(a.stale_ms, k);
        a.stop_pct /= r;
        a.max_hold_ms = div_ms(a.max_hold_ms, k);
        c
    }

    /// The preset for short sessions on the built-in simulator (`crpbot demo`): the defaults
    /// [`time_compressed`](FastConfig::time_compressed) by [`SIM_TIME_COMPRESSION`] (20: a
    /// 30 s session covers what the defaults see in 10 minutes, about the length of the
    /// Binance recordings on which they emit ~87 intents), all four strategies on venue `sim`
    /// (`BTC-SIM` and `ETH-SIM`; statarb y = `ETH-SIM`, x = `BTC-SIM`). On a 30 s session at
    /// the simulator's default rate (`SimConfig::new(seed)`) every strategy makes several
    /// entries and exits (`tests/fast_sim_preset.rs`). [`crate::fast::FastLane::new`] refuses
    /// it with a registry that lacks the simulator's instruments.
    ///
    /// # Why the defaults never trade on the simulator
    /// 1. **Instruments.** Every default strategy trades `BTCUSDT`/`ETHUSDT` on
    ///    `binance-spot` (statarb: y = `ETHUSDT`, x = `BTCUSDT`). The simulator publishes
    ///    `BTC-SIM`, `ETH-SIM`, `SOL-SIM` and `BNB-SIM` of venue `sim`, which no strategy
    ///    resolves, so every event is ignored, however long the run. This gate alone explains
    ///    the zero intents.
    /// 2. **Warm-ups, cooldowns and distances on the scale of minutes** (instruments remapped
    ///    to the simulator, seed 7, 30 s): `ofi` enters twice (its 30 s cooldown allows one
    ///    entry per instrument); `scalp` enters twice and never exits (its 0.15 % stop and
    ///    0.1–0.3 % targets are 3–5 standard deviations of a 30 s move at ~1 bp/√s, its
    ///    maximum hold is 15 min); `meanrev` needs `bb_window + width_min_history` = 80
    ///    samples of 1 s before its first quiet flag (at 79 s) and then cools down 60 s;
    ///    `statarb` needs `min_samples` = 120 samples of 1 s before its first fit.
    /// 3. **Cointegration.** The simulator's fair prices are correlated geometric random walks
    ///    (BTC/ETH ρ = 0.8), which are not cointegrated: any linear combination of the two log
    ///    prices is itself a random walk when ρ < 1. Over 300 s with the default windows the
    ///    Engle–Granger gate never opens (last fit: ADF t = −1.42 against the 5 % critical
    ///    value −3.36); with the compressed windows it opens only on the test's false
    ///    positives.
    ///
    /// # What the preset changes
    /// Time compression keeps every rule and rescales its units (see
    /// [`FastConfig::time_compressed`]): durations ÷ 20; price distances measured against a
    /// move over such a duration ÷ √20, because the simulator runs at the real market's
    /// volatility and a diffusion moves √20 times less in 20 times less time, so each distance
    /// stays the same number of standard deviations; counts, dimensionless thresholds and
    /// execution parameters unchanged.
    ///
    /// | field | default | preset | the same rule |
    /// |---|---|---|---|
    /// | `signals.ofi_window_ms` | 10 000 | 500 | OFI over 100 buckets of 5 ms, not of 100 ms |
    /// | `signals.vwap_window_ms` | 300 000 | 15 000 | rolling VWAP and long volume window: 300 buckets |
    /// | `signals.vwap_bucket_ms` | 1 000 | 50 | |
    /// | `signals.flow_window_ms` | 30 000 | 1 500 | aggressive and whale flow: 300 buckets |
    /// | `signals.short_window_ms` | 10 000 | 500 | short volume window, still 1/30 of the long one |
    /// | `signals.fast_bucket_ms` | 100 | 5 | |
    /// | `signals.profile_bucket_ticks` | 100 | 22 | value area over as many buckets of the session's range |
    /// | `ofi.cooldown_ms` | 30 000 | 1 500 | |
    /// | `ofi.vwap_scale_bps` | 5.0 | 1.118 | full weight at the same σ of a 20× shorter VWAP |
    /// | `ofi.stop_pct` | 0.3 | 0.0671 | |
    /// | `ofi.take_profit_pct` | 0.6 | 0.1342 | |
    /// | `ofi.max_hold_ms` | 1 800 000 | 90 000 | 30 min → 90 s |
    /// | `scalp.cooldown_ms` | 5 000 | 250 | |
    /// | `scalp.target_min_pct` | 0.1 | 0.02236 | |
    /// | `scalp.target_max_pct` | 0.3 | 0.06708 | |
    /// | `scalp.stop_pct` | 0.15 | 0.03354 | |
    /// | `scalp.max_hold_ms` | 900 000 | 45 000 | 15 min → 45 s |
    /// | `meanrev.cooldown_ms` | 60 000 | 3 000 | |
    /// | `meanrev.sample_ms` | 1 000 | 50 | Bollinger width of 20 samples of 50 ms, ranked among 300 (≥ 60) |
    /// | `meanrev.stop_pct` | 0.5 | 0.1118 | |
    /// | `meanrev.max_hold_ms` | 7 200 000 | 360 000 | 2 h → 6 min |
    /// | `statarb.cooldown_ms` | 60 000 | 3 000 | |
    /// | `statarb.sample_ms` | 1 000 | 50 | OLS and ADF over 300 samples of 50 ms, from 120 on |
    /// | `statarb.stale_ms` | 500 | 25 | |
    /// | `statarb.stop_pct` | 2.0 | 0.4472 | |
    /// | `statarb.max_hold_ms` | 7 200 000 | 360 000 | 2 h → 6 min |
    /// | `statarb.require_cointegration` | true | **false** | **not the same rule** (below) |
    /// | venue, symbols | `binance-spot` BTCUSDT, ETHUSDT | `sim` BTC-SIM, ETH-SIM | |
    ///
    /// Unchanged: every count (`bb_window` 20, `width_history` 300, `width_min_history` 60,
    /// statarb `window` 300 and `min_samples` 120, `whale_min_samples` 50, levels, profile
    /// buckets), every dimensionless threshold (imbalances, score thresholds and weights,
    /// percentile, σ bands, z-scores, volume ratio, whale multiple) and execution (`notional`,
    /// `pending_timeout_ms` — the venue and risk round trip, which the simulator does not
    /// compress — `max_slippage_bps`, `allow_short`).
    ///
    /// **Not the same rule:** `statarb.require_cointegration` is off. The simulator's pair has
    /// no cointegration to find (point 3), so with the gate on statarb trades only on the
    /// Engle–Granger test's false positives, i.e. depending on the seed. Without it statarb
    /// trades the z-score of the rolling OLS residual exactly as it otherwise would, and its
    /// fits (ADF statistic included, [`crate::fast::StatArbStrategy::fit`]) are still computed.
    /// Switch the gate back on for anything but a demonstration.
    ///
    /// # Examples
    /// ```
    /// use crpbot_core::{Registry, StrategyId};
    /// use crpbot_strategies::fast::{FastConfig, FastLane};
    /// let cfg = FastConfig::for_sim();
    /// assert_eq!(cfg.statarb.y_symbol, "ETH-SIM");
    /// let lane = FastLane::new(&cfg, &Registry::with_defaults(), StrategyId(1)).unwrap();
    /// assert_eq!(lane.strategies().len(), 4);
    /// ```
    pub fn for_sim() -> FastConfig {
        let mut c = FastConfig::default().time_compressed(SIM_TIME_COMPRESSION);
        let pair = || vec!["BTC-SIM".to_string(), "ETH-SIM".to_string()];
        c.ofi.venue = "sim".into();
        c.ofi.symbols = pair();
        c.scalp.venue = "sim".into();
        c.scalp.symbols = pair();
        c.meanrev.venue = "sim".into();
        c.meanrev.symbols = pair();
        c.statarb.venue = "sim".into();
        c.statarb.y_symbol = "ETH-SIM".into();
        c.statarb.x_symbol = "BTC-SIM".into();
        c.statarb.require_cointegration = false;
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_to_the_nearest_ms_and_keep_zero_and_negatives() {
        assert_eq!(div_ms(1_000, 20), 50);
        assert_eq!(div_ms(30, 20), 2); // 1.5 rounds up
        assert_eq!(div_ms(5, 20), 1); // never below 1 ms
        assert_eq!(div_ms(0, 20), 0); // "no maximum hold" stays so
        assert_eq!(div_ms(-5, 20), -5); // left for validation
        assert_eq!(div_ms(777, 1), 777);
    }
}
