//! The eleven swing theories, each a pure function of a window of data returning values and
//! a `signal` in [−1, 1]. See the [`crate::swing`] module docs for fields and conventions.

mod basic;
mod context;
mod forest;
mod montecarlo;
mod stattests;

pub use basic::{
    BayesWinRate, Entropy, Hurst, Kalman, Markov, REGIMES, bayes_win_rate, entropy, hurst, kalman,
    markov,
};
pub use context::{
    ContextClient, ContextError, ContextSource, FearGreed, GlobalMarket, HttpContextSource,
    MarketContext, parse_fear_greed, parse_global,
};
pub use forest::{Forest, ForestParams};
pub use montecarlo::{MonteCarlo, MonteCarloParams, PathStats, monte_carlo};
pub use stattests::{
    Adf, Levene, LjungBox, StatError, VarianceRatio, acf, adfuller, levene, ljung_box,
    mackinnon_crit, mackinnon_p, pacf, variance_ratio,
};
