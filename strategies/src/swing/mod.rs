//! Swing lane: candles, indicators, the eleven statistical theories, portfolio analytics and
//! walk-forward swing backtests. Everything here is a pure function of its inputs (seeded
//! randomness, no clock, no I/O except the kline/trade loaders and the optional
//! [`theories::HttpContextSource`]).
//!
//! # Entry points for the CLI
//!
//! * `crpbot analyze --candles FILE [--window N] [--at OPEN_TIME_MS] --json`:
//!   [`load_klines`]`(FILE)?` then [`analyze()`]`(&candles, N /* default 200 */, at)?` and
//!   print [`Analysis::to_json`]. [`analyze_with`] also takes a [`theories::MarketContext`]
//!   fetched through a [`theories::ContextClient`].
//! * `crpbot swing-backtest --candles FILE --strategy NAME --walk-forward 180d/30d --json`:
//!   [`swing_backtest`]`(&candles, NAME, WalkForward { train_days: 180, test_days: 30,
//!   anchored: false })?` and print `serde_json::to_value(&report)`.
//!
//! Errors: [`LoadError`] (file), [`AnalyzeError`] (empty/NaN/non-monotonic candles, unknown
//! bar, window longer than the data or below 50), [`BacktestError`].
//!
//! # Candles
//!
//! [`load_klines`] reads Binance kline CSVs (gzip or plain) and keeps outage gaps as gaps and
//! short-`close_time` bars unchanged. [`candles_from_trades`] buckets trades into UTC-aligned
//! bars (first/last bucket flagged `complete = false`). [`resample`] aggregates to a multiple
//! of the source interval on UTC boundaries (open of first, max high, min low, close of last,
//! summed volumes/trades); a bar missing any source bar is flagged (`complete = false`,
//! `close_time_ms` of its last source bar) or dropped per [`PartialPolicy`]. Tested: 15m→1h
//! reproduces Binance's own 1h bars and 1h→1d its 1d bars, exactly in OHLC.
//!
//! # Indicators (`indicators.<name>`)
//!
//! [`Indicators::compute`] follows TA-Lib 0.8.2 over the same series (default compatibility,
//! unstable period 0, Wilder smoothing where TA-Lib uses it, TA-Lib's running sums); `null`
//! during warm-up. Tested equal to TA-Lib on BTCUSDT 1h to 1e-6 relative (observed max
//! 2.5e-10). `analyze` evaluates them over the candles up to and including the analysed
//! bar, limited to the last `window + 5000` bars ([`analyze::INDICATOR_TAIL`]: every
//! recursive indicator has forgotten its start by then, and OBV/A-D are still summed over
//! the full history) — equal to the full-series values to 1e-9 relative (tested), or exactly
//! with [`AnalyzeOptions::full_history_indicators`].
//!
//! | name | definition | first bar |
//! |---|---|---|
//! | `rsi_14`, `rsi_28` | `TA_RSI` (Wilder) | 14, 28 |
//! | `macd`, `macd_signal`, `macd_hist` | `TA_MACD(12, 26, 9)`; fast EMA seeded at bar 25 as TA-Lib does | 33 |
//! | `stoch_k`, `stoch_d` | `TA_STOCH(14, 3 SMA, 3 SMA)` slow %K and %D | 17 |
//! | `willr_14` | `TA_WILLR(14)` | 13 |
//! | `roc_12` | `TA_ROC(12)`, percent | 12 |
//! | `cmo_14` | `TA_CMO(14)` (TA-Lib's Wilder-smoothed variant) | 14 |
//! | `atr_14` | `TA_ATR(14)` | 14 |
//! | `bb_upper`, `bb_middle`, `bb_lower` | `TA_BBANDS(20, 2, 2, SMA)` (population σ) | 19 |
//! | `bb_width` | `(upper − lower) / middle` | 19 |
//! | `kc_upper`, `kc_middle`, `kc_lower` | `TA_EMA(20) ± 2·TA_ATR(20)` | 20 |
//! | `dc_upper`, `dc_middle`, `dc_lower` | `TA_MAX(high, 20)`, midpoint, `TA_MIN(low, 20)` | 19 |
//! | `adx_14`, `plus_di_14`, `minus_di_14` | `TA_ADX`, `TA_PLUS_DI`, `TA_MINUS_DI` (14) | 27, 14, 14 |
//! | `supertrend`, `supertrend_dir` | `hl2 ± 3·TA_ATR(10)` final bands (standard carry-over rules), direction +1/−1, starting up at bar 10 | 10 |
//! | `trix_15` | `TA_TRIX(15)` | 43 |
//! | `obv` | `TA_OBV` (starts at the first bar's volume) | 0 |
//! | `vwap` | VWAP of `(h+l+c)/3`, reset at 00:00 UTC each day | 0 |
//! | `mfi_14` | `TA_MFI(14)` | 14 |
//! | `ad` | `TA_AD` (Chaikin A/D line) | 0 |
//! | `cmf_20` | Chaikin money flow `Σ mfm·v / Σ v` over 20 bars | 19 |
//! | `zscore_20` | `(close − mean₂₀) / σ₂₀` (population σ) | 19 |
//! | `pct_rank_100` | `100 · #{last 100 closes ≤ close} / 100` | 99 |
//! | `linreg_slope_20` | `TA_LINEARREG_SLOPE(20)` | 19 |
//!
//! The non-TA-Lib rows are checked against the numpy definitions in
//! `strategies/fixtures/make_fixtures.py`.
//!
//! # Theories (one object each, every one with `signal` ∈ [−1, 1])
//!
//! Over the last `window` bars (default 200) ending at the analysed bar. `r` = log returns of
//! the window's closes (window − 1 values), `lc` = log closes.
//!
//! * `entropy` — `value` (Shannon entropy of `r` in 10 equal-width bins / ln 10), `bins`;
//!   signal `(1 − value)·sign(Σr)`.
//! * `hurst` — `value` (rescaled-range slope over chunk sizes 8·1.5ᵏ ≤ n/2), `sizes`, `rs`;
//!   signal `2(H − ½)·sign(Σr)`. ≈ 0.5 on white-noise increments (tested), > 0.75 for AR(1)
//!   φ = 0.9, < 0.3 for over-differenced noise.
//! * `markov` — six regimes (`bull_trend`, `bear_trend`, `high_vol_range`, `low_vol_range`,
//!   `breakout`, `consolidation`; rules in [`theories::markov`]), `state`, `states`,
//!   `transition_matrix` (row-stochastic, empirical), `next_state_probabilities`,
//!   `breakout_direction`; signal `P(bull) − P(bear) + dir·P(breakout)`.
//! * `kalman` — constant-acceleration filter on closes: `price`, `velocity`, `acceleration`,
//!   `q`, `r`; signal `tanh(velocity / σ(Δclose))`. Recovers a noiseless ramp's slope.
//! * `bayes` — up-closes as wins, prior Beta(1, 1) (50 %): `wins`, `losses`,
//!   `posterior_mean`, `credible_90` (5 %/95 % quantiles), `log_evidence`; signal
//!   `(mean − ½)/(half-width of the interval)`.
//! * `monte_carlo` — 10,000 seeded paths (seed 42) of 24 bars, GBM (`gbm`, sample mean/σ of
//!   `r`) and i.i.d. bootstrap of `r` (`bootstrap`), each with `prob_profit`,
//!   `prob_tp_before_sl` (TP `2σ√24`, SL `σ√24` unless set), `var95`, `cvar95`,
//!   `mean_return`, `drawdown_mean/p50/p95/max`; signal from P(profit) and P(TP first) vs its
//!   break-even.
//! * `random_forest` — 40 seeded Gini trees (depth 5) on 18 scale-free indicator features
//!   ([`analyze::FOREST_FEATURES`]) predicting next-bar up/down: `prob_up`, `oos_accuracy`
//!   (train on the first 70 % of the window, test on the rest), `n_train`, `n_test`,
//!   `importances` (mean impurity decrease, sums to 1); signal `2·prob_up − 1`.
//! * `acf`, `pacf` — `values` at lags 0–20 of `r` (statsmodels `acf`; `pacf` default
//!   Yule–Walker adjusted); signal `clamp(ρ₁√n/3)·sign(last 5 returns)`.
//! * `ljung_box` — `lags` (20), `q`, `p_value` (χ²₂₀); signal `acf.signal·(1 − p)`.
//! * `adf` — on `lc`: `statistic`, `p_value` (MacKinnon 1994), `used_lag` (AIC, max
//!   `ceil(12·(n/100)^¼)`), `nobs`, `critical_values` (`1%`, `5%`, `10%`, MacKinnon 2010),
//!   `icbest` — statsmodels `adfuller` defaults; signal `−clamp(z/2)·(1 − p)` with `z` the
//!   last log close's z-score in the window (mean reversion when stationary).
//! * `levene` — halves of `r`: `statistic`/`p_value` (Brown–Forsythe, scipy's default
//!   `center='median'`) and `mean_statistic`/`mean_p_value` (classic Levene); signal
//!   `−½·sign(σ₂² − σ₁²)·(1 − p)` (rising variance is risk-off).
//! * `variance` — `variance_ratios` (Lo–MacKinlay at q = 2, 4, 8, 16 with `ratio`, `z`,
//!   `z_robust`, `p_value`), `rolling_variance` (20-bar), `rolling_variance_percentile`,
//!   `regime` (`high`/`normal`/`low`); signal `clamp(2(VR(4) − 1))·sign(Σr)`.
//! * `context` — CoinGecko `/global` and Fear & Greed through [`theories::ContextSource`],
//!   cached 10 min; `source` is `live`, `cache` or `neutral_offline` (clearly labelled, signal
//!   0, `errors` say why); signal `½·(50 − F&G)/50 + ½·clamp(mcap_change_24h/5)`.
//! * `composite_signal` — mean of the theory signals; `errors` maps a field to why it is
//!   missing (e.g. a constant window makes ADF singular) instead of failing the call.
//!
//! Reference tolerances: ADF statistic/p-value/lag/critical values, ACF/PACF, Ljung–Box and
//! Levene equal statsmodels 0.15 / scipy 1.17 to 1e-6 on nine BTC 1h windows (200–1000
//! bars); see `tests/theories.rs` and `fixtures/stats_btc_1h.json`.
//!
//! # Backtest and portfolio
//!
//! [`backtest`]: positions decided at a bar's close earn the next bar's close-to-close return;
//! each change of position costs 0.1 % fee + 0.05 % slippage per side times the size traded.
//! [`swing_backtest`] runs walk-forward folds (train 180 days, test 30, rolling or anchored):
//! per fold the strategy's grid entry with the best training Sharpe is evaluated on the test
//! span; a flat `stand_aside` candidate is always in the grid, so a fold only trades when
//! some parameter set had a positive training Sharpe. Report: per-fold params and IS/OOS [`Metrics`] (Sharpe, annual return, max drawdown,
//! trade win rate, profit factor, Calmar, Omega, trades, exposure), mean IS Sharpe, metrics of
//! the concatenated OOS returns, walk-forward efficiency (OOS annual return / mean IS annual
//! return) and Sharpe efficiency. Strategies: `trend`, `meanrev`, `theories`
//! ([`backtest::StrategySet::new`]). [`portfolio::optimize`]: max Sharpe, min volatility,
//! 100-point efficient frontier and risk parity, long-only, weights ≤ 30 %.

pub mod analyze;
pub mod backtest;
pub mod candles;
pub mod indicators;
pub mod linalg;
pub mod portfolio;
pub mod rng;
pub mod signal;
pub mod special;
pub mod ta;
pub mod theories;

pub use analyze::{Analysis, AnalyzeError, AnalyzeOptions, analyze, analyze_with};
pub use backtest::{BacktestError, Costs, Metrics, Report, WalkForward, swing_backtest};
pub use candles::{
    Candle, CandleError, Interval, LoadError, PartialPolicy, ResampleError, Trade,
    candles_from_trades, load_klines, load_trades, locate_data_dir, resample, validate_candles,
};
pub use indicators::{INDICATOR_NAMES, Indicators};
