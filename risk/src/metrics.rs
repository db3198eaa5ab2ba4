//! Performance metrics per strategy and overall, serializable to JSON (`--report OUT.json`).
//!
//! Definitions (money in quote units as `f64`, fractions as `f64`):
//! * a **trade** is a [`ClosedTrade`] round trip; it is a win when `net > 0`, a loss when
//!   `net < 0` (break-even trades count in `trades` only);
//! * `avg_win` / `avg_loss` are mean net win and mean |net loss|; `profit_factor` = Σ wins /
//!   Σ |losses|; `expectancy` = mean net per trade;
//! * the **return** of trade k is `net_k / equity before it`, on the equity path
//!   `initial + cumulative net` (per strategy: the strategy's own path from the same
//!   initial equity);
//! * `sharpe` = mean / sample standard deviation (n − 1) of the returns, `sortino` = mean /
//!   downside deviation `sqrt(Σ min(r, 0)² / n)`, both per trade (not annualized); `omega` =
//!   Σ max(r, 0) / Σ max(−r, 0) (threshold 0);
//! * `max_drawdown` is the largest fall from a running peak of the equity path (peak includes
//!   the initial equity), in money and as a fraction of the peak; its duration runs from the
//!   peak to the recovery to that peak (or to the last point if never recovered), in ns of
//!   trade close times; `calmar` = total return / max drawdown fraction;
//! * `var95` / `cvar95`: historical, on the returns, as positive loss fractions: the
//!   ⌈5 % · n⌉-th worst return and the mean of the returns up to it.
//!
//! Ratios with a zero denominator (or fewer than two returns for `sharpe`) are `None`
//! (`null` in JSON).

use serde::Serialize;

use crate::paper::ClosedTrade;

const UNIT: f64 = 100_000_000.0;

/// Statistics of a set of round trips.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TradeStats {
    /// Strategy id (`None` for overall).
    pub strategy: Option<u16>,
    /// Round trips.
    pub trades: u64,
    /// Trades with net > 0.
    pub wins: u64,
    /// Trades with net < 0.
    pub losses: u64,
    /// wins / trades.
    pub win_rate: f64,
    /// Mean net of wins.
    pub avg_win: f64,
    /// Mean |net| of losses.
    pub avg_loss: f64,
    /// Σ wins / Σ |losses|.
    pub profit_factor: Option<f64>,
    /// Mean net per trade.
    pub expectancy: f64,
    /// Σ gross PnL.
    pub gross_pnl: f64,
    /// Σ fees.
    pub fees: f64,
    /// Σ net PnL.
    pub net_pnl: f64,
    /// Per-trade Sharpe ratio.
    pub sharpe: Option<f64>,
    /// Per-trade Sortino ratio.
    pub sortino: Option<f64>,
    /// Total return / max drawdown fraction.
    pub calmar: Option<f64>,
    /// Omega ratio at threshold 0.
    pub omega: Option<f64>,
    /// Largest peak-to-trough fall of equity, in money.
    pub max_drawdown: f64,
    /// The same as a fraction of the peak.
    pub max_drawdown_frac: f64,
    /// Peak to recovery (or last point), in ns.
    pub max_drawdown_duration_ns: i64,
    /// Historical 95 % value at risk per trade (loss fraction).
    pub var95: Option<f64>,
    /// Historical 95 % conditional value at risk per trade.
    pub cvar95: Option<f64>,
}

/// Statistics of a sampled equity curve.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CurveStats {
    /// Samples.
    pub samples: u64,
    /// Last / first − 1.
    pub total_return: f64,
    /// Sharpe of sample returns, annualized by √(samples per year) from the mean spacing.
    pub sharpe_annualized: Option<f64>,
    /// Largest fall from a running peak, as a fraction of the peak.
    pub max_drawdown_frac: f64,
    /// Peak to recovery (or last sample), in ns.
    pub max_drawdown_duration_ns: i64,
    /// Historical 95 % VaR of sample returns.
    pub var95: Option<f64>,
    /// Historical 95 % CVaR of sample returns.
    pub cvar95: Option<f64>,
}

/// A full report: overall, per strategy (ascending id) and the equity curve.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    /// All trades.
    pub overall: TradeStats,
    /// One entry per strategy that traded.
    pub strategies: Vec<TradeStats>,
    /// Equity curve statistics, when a curve was given.
    pub curve: Option<CurveStats>,
}

impl Report {
    /// The report of `trades` (any order; sorted by close time here) from `initial` equity (in
    /// 10⁻⁸ quote units), with an optional sampled equity curve.
    ///
    /// # Examples
    /// ```
    /// use crpbot_risk::metrics::Report;
    /// let r = Report::new(&[], 100_000_00000000, &[]);
    /// assert_eq!(r.overall.trades, 0);
    /// assert!(r.curve.is_none());
    /// ```
    pub fn new(
        trades: &[ClosedTrade],
        initial: i64,
        curve: &[(i64, crpbot_core::Money)],
    ) -> Report {
        let mut sorted = trades.to_vec();
        sorted.sort_by_key(|t| (t.close_ts_ns, t.strategy, t.instrument));
        let mut ids: Vec<u16> = sorted.iter().map(|t| t.strategy).collect();
        ids.sort_unstable();
        ids.dedup();
        let strategies = ids
            .iter()
            .map(|&s| {
                let mine: Vec<ClosedTrade> =
                    sorted.iter().filter(|t| t.strategy == s).copied().collect();
                TradeStats { strategy: Some(s), ..trade_stats(&mine, initial) }
            })
            .collect();
        Report {
            overall: trade_stats(&sorted, initial),
            strategies,
            curve: (curve.len() >= 2).then(|| curve_stats(curve)),
        }
    }
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b != 0.0 && a.is_finite() && b.is_finite()).then(|| a / b)
}

/// (max drawdown money, as fraction, duration ns) of a path of (ts, equity) points.
fn drawdown(path: &[(i64, f64)]) -> (f64, f64, i64) {
    let (mut peak, mut peak_ts) = (f64::MIN, 0i64);
    let (mut dd, mut dd_frac, mut dur) = (0.0f64, 0.0f64, 0i64);
    let mut in_dd_since: Option<i64> = None;
    for &(ts, eq) in path {
        if eq >= peak {
            if let Some(start) = in_dd_since.take() {
                dur = dur.max(ts - start);
            }
            peak = eq;
            peak_ts = ts;
        } else {
            in_dd_since.get_or_insert(peak_ts);
            if peak - eq > dd {
                dd = peak - eq;
                dd_frac = dd / peak;
            }
        }
    }
    if let (Some(start), Some(&(last, _))) = (in_dd_since, path.last()) {
        dur = dur.max(last - start);
    }
    (dd, dd_frac, dur)
}

fn var_cvar(returns: &[f64]) -> (Option<f64>, Option<f64>) {
    if returns.is_empty() {
        return (None, None);
    }
    let mut s = returns.to_vec();
    s.sort_by(f64::total_cmp);
    let k = ((0.05 * s.len() as f64).ceil() as usize).max(1) - 1;
    let tail = &s[..=k];
    (Some(-s[k]), Some(-tail.iter().sum::<f64>() / tail.len() as f64))
}

fn mean_sd(r: &[f64]) -> (f64, Option<f64>) {
    let n = r.len() as f64;
    let mean = r.iter().sum::<f64>() / n;
    let sd = (r.len() >= 2)
        .then(|| (r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
    (mean, sd)
}

fn trade_stats(trades: &[ClosedTrade], initial: i64) -> TradeStats {
    let mut st = TradeStats { trades: trades.len() as u64, ..TradeStats::default() };
    if trades.is_empty() {
        return st;
    }
    let init = initial as f64 / UNIT;
    let (mut sum_win, mut sum_loss) = (0.0, 0.0);
    let mut eq = init;
    let mut returns = Vec::with_capacity(trades.len());
    let mut path = Vec::with_capacity(trades.len() + 1);
    path.push((trades[0].open_ts_ns, init));
    for t in trades {
        let net = t.net as f64 / UNIT;
        st.gross_pnl += t.gross as f64 / UNIT;
        st.fees += t.fees as f64 / UNIT;
        st.net_pnl += net;
        if t.net > 0 {
            st.wins += 1;
            sum_win += net;
        } else if t.net < 0 {
            st.losses += 1;
            sum_loss -= net;
        }
        returns.push(net / eq);
        eq += net;
        path.push((t.close_ts_ns, eq));
    }
    let n = trades.len() as f64;
    st.win_rate = st.wins as f64 / n;
    st.avg_win = if st.wins > 0 { sum_win / st.wins as f64 } else { 0.0 };
    st.avg_loss = if st.losses > 0 { sum_loss / st.losses as f64 } else { 0.0 };
    st.profit_factor = ratio(sum_win, sum_loss);
    st.expectancy = st.net_pnl / n;
    let (mean, sd) = mean_sd(&returns);
    st.sharpe = sd.and_then(|sd| ratio(mean, sd));
    let down = (returns.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / n).sqrt();
    st.sortino = ratio(mean, down);
    let up: f64 = returns.iter().map(|r| r.max(0.0)).sum();
    let dn: f64 = returns.iter().map(|r| (-r).max(0.0)).sum();
    st.omega = ratio(up, dn);
    let (dd, dd_frac, dur) = drawdown(&path);
    st.max_drawdown = dd;
    st.max_drawdown_frac = dd_frac;
    st.max_drawdown_duration_ns = dur;
    st.calmar = ratio(st.net_pnl / init, dd_frac);
    (st.var95, st.cvar95) = var_cvar(&returns);
    st
}

fn curve_stats(curve: &[(i64, crpbot_core::Money)]) -> CurveStats {
    let path: Vec<(i64, f64)> = curve.iter().map(|&(t, m)| (t, m.to_f64())).collect();
    let returns: Vec<f64> = path.windows(2).map(|w| w[1].1 / w[0].1 - 1.0).collect();
    let (first, last) = (path[0], path[path.len() - 1]);
    let spacing = (last.0 - first.0) as f64 / (path.len() - 1) as f64;
    let per_year = 365.25 * 86_400e9 / spacing;
    let (mean, sd) = mean_sd(&returns);
    let (_, dd_frac, dur) = drawdown(&path);
    let (var95, cvar95) = var_cvar(&returns);
    CurveStats {
        samples: path.len() as u64,
        total_return: last.1 / first.1 - 1.0,
        sharpe_annualized: sd.and_then(|sd| ratio(mean, sd)).map(|s| s * per_year.sqrt()),
        max_drawdown_frac: dd_frac,
        max_drawdown_duration_ns: dur,
        var95,
        cvar95,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crpbot_core::Money;

    const U: i64 = 100_000_000;

    fn t(strategy: u16, close: i64, net: i64, fees: i64) -> ClosedTrade {
        ClosedTrade {
            strategy,
            instrument: 0,
            direction: 1,
            open_ts_ns: close - 5,
            close_ts_ns: close,
            gross: (net + fees) * U,
            fees: fees * U,
            net: net * U,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn hand_computed_small_trade_list() {
        // Nets +100, −50, +200, −100 from 10,000: path 10000, 10100, 10050, 10250, 10150.
        let trades = [t(0, 10, 100, 1), t(0, 20, -50, 1), t(1, 30, 200, 2), t(1, 40, -100, 2)];
        let r = Report::new(&trades, 10_000 * U, &[]);
        let o = &r.overall;
        assert_eq!((o.trades, o.wins, o.losses), (4, 2, 2));
        assert_eq!((o.win_rate, o.avg_win, o.avg_loss), (0.5, 150.0, 75.0));
        assert_eq!((o.profit_factor, o.expectancy), (Some(2.0), 37.5));
        assert_eq!((o.gross_pnl, o.fees, o.net_pnl), (156.0, 6.0, 150.0));
        // Returns 0.01, −50/10100, 200/10050, −100/10250.
        assert!(close(o.sharpe.unwrap(), 0.278_516_553_233_435_8));
        assert!(close(o.sortino.unwrap(), 0.694_404_581_721_770_6));
        assert!(close(o.omega.unwrap(), 2.033_135_635_451_641_7));
        assert_eq!(o.max_drawdown, 100.0);
        assert!(close(o.max_drawdown_frac, 100.0 / 10_250.0));
        assert!(close(o.calmar.unwrap(), 1.5375));
        // Peak at t=30 (10250), never recovered by t=40: 10 ns. The first dip (t=10 → 20,
        // recovered at 30) lasted 20 ns.
        assert_eq!(o.max_drawdown_duration_ns, 20);
        // ⌈0.05 × 4⌉ = 1: the worst return.
        assert!(close(o.var95.unwrap(), 100.0 / 10_250.0));
        assert!(close(o.cvar95.unwrap(), 100.0 / 10_250.0));
        // Per strategy: strategy 0 has +100, −50 from its own 10,000.
        assert_eq!(r.strategies.len(), 2);
        let s0 = &r.strategies[0];
        assert_eq!((s0.strategy, s0.trades, s0.net_pnl, s0.max_drawdown), (Some(0), 2, 50.0, 50.0));
        assert_eq!(s0.profit_factor, Some(2.0));
        let s1 = &r.strategies[1];
        assert_eq!((s1.strategy, s1.net_pnl, s1.win_rate), (Some(1), 100.0, 0.5));
    }

    #[test]
    fn no_losses_gives_null_ratios_and_json_serializes() {
        let r = Report::new(
            &[t(2, 10, 10, 0)],
            1_000 * U,
            &[(0, Money(1_000 * U)), (10, Money(990 * U)), (20, Money(1_010 * U))],
        );
        assert_eq!(r.overall.profit_factor, None);
        assert_eq!(r.overall.sharpe, None);
        let c = r.curve.as_ref().unwrap();
        assert_eq!(c.samples, 3);
        assert!(close(c.total_return, 0.01));
        assert!(close(c.max_drawdown_frac, 0.01));
        assert_eq!(c.max_drawdown_duration_ns, 20);
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"profit_factor\":null"), "{json}");
        assert!(json.contains("\"strategy\":2"));
    }
}
