//! `crpbot analyze` and `crpbot swing-backtest`: the swing lane's theory engine on candles.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use crpbot_core::Clock as _;
use crpbot_strategies::swing::{self, WalkForward};

/// Arguments of `crpbot analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Binance kline CSV (gzip or plain), e.g. ../shared/data/klines/BTCUSDT_1h.csv.gz.
    #[arg(long)]
    candles: PathBuf,
    /// Bars the theories look at (indicators use all bars up to the one analysed).
    #[arg(long, default_value_t = swing::analyze::DEFAULT_WINDOW)]
    window: usize,
    /// Analyse the bar with this open time (ms since the epoch); default: the last bar.
    #[arg(long = "at")]
    at_open_time_ms: Option<i64>,
    /// Print one JSON object (the only output format; kept for scripts that pass it).
    #[arg(long)]
    json: bool,
    /// Fetch the market context (CoinGecko global, Fear & Greed) over HTTP(S); without it, or
    /// when a fetch fails, the context is the neutral offline result, labelled as such.
    #[arg(long)]
    context: bool,
    /// CoinGecko `/global` URL (with --context).
    #[arg(long, default_value = "https://api.coingecko.com/api/v3/global")]
    coingecko_url: String,
    /// Fear & Greed URL (with --context).
    #[arg(long, default_value = "https://api.alternative.me/fng/?limit=1&format=json")]
    fear_greed_url: String,
}

/// `ContextSource` over the feeds crate's HTTP/1.1 client (http and https with rustls), with a
/// 10 s deadline and a 1 MiB body cap.
struct HttpsContext {
    rt: tokio::runtime::Runtime,
    tls: std::sync::Arc<rustls::ClientConfig>,
}

impl swing::theories::ContextSource for HttpsContext {
    fn get(&self, url: &str) -> Result<String, swing::theories::ContextError> {
        use crpbot_feeds::session::http::{HttpLimits, get};
        let limits =
            HttpLimits { timeout: std::time::Duration::from_secs(10), max_body_bytes: 1 << 20 };
        let body = self
            .rt
            .block_on(get(url, limits, &self.tls))
            .map_err(|e| swing::theories::ContextError::Io(std::io::Error::other(e.to_string())))?;
        String::from_utf8(body).map_err(|e| swing::theories::ContextError::Parse(e.to_string()))
    }
}

/// Arguments of `crpbot swing-backtest`.
#[derive(Debug, Args)]
pub struct SwingBacktestArgs {
    /// Binance kline CSV (gzip or plain).
    #[arg(long)]
    candles: PathBuf,
    /// Strategy: trend, meanrev or theories.
    #[arg(long)]
    strategy: String,
    /// Walk-forward windows as TRAIN/TEST, e.g. 180d/30d.
    #[arg(long, default_value = "180d/30d")]
    walk_forward: String,
    /// Anchored walk-forward (the training window grows) instead of rolling.
    #[arg(long)]
    anchored: bool,
    /// Print one JSON object (the only output format).
    #[arg(long)]
    json: bool,
}

fn days(text: &str) -> anyhow::Result<u32> {
    let n = text.strip_suffix('d').unwrap_or(text);
    n.parse()
        .with_context(|| format!("bad window {text:?}: expected a number of days such as 180d"))
}

fn parse_walk_forward(text: &str, anchored: bool) -> anyhow::Result<WalkForward> {
    let Some((train, test)) = text.split_once('/') else {
        bail!("bad --walk-forward {text:?}: expected TRAIN/TEST such as 180d/30d");
    };
    let (train_days, test_days) = (days(train)?, days(test)?);
    if train_days == 0 || test_days == 0 {
        bail!("walk-forward windows must be at least one day");
    }
    Ok(WalkForward { train_days, test_days, anchored })
}

pub fn analyze(args: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let candles = swing::load_klines(&args.candles)
        .with_context(|| format!("loading {}", args.candles.display()))?;
    let mut opts = swing::AnalyzeOptions::default();
    if args.context {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let tls = crpbot_feeds::session::tls_config()?;
        let mut client = swing::theories::ContextClient::with_urls(
            HttpsContext { rt, tls },
            &args.coingecko_url,
            &args.fear_greed_url,
        );
        let now_ms = crpbot_core::LiveClock.now_ns() / 1_000_000;
        opts.context = Some(client.get(now_ms));
    }
    let analysis = swing::analyze_with(&candles, args.window, args.at_open_time_ms, &opts)?;
    println!("{}", analysis.to_json());
    Ok(ExitCode::SUCCESS)
}

pub fn backtest(args: SwingBacktestArgs) -> anyhow::Result<ExitCode> {
    let wf = parse_walk_forward(&args.walk_forward, args.anchored)?;
    let candles = swing::load_klines(&args.candles)
        .with_context(|| format!("loading {}", args.candles.display()))?;
    let report = swing::swing_backtest(&candles, &args.strategy, wf)?;
    println!("{}", serde_json::to_value(&report)?);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_forward_text() {
        let wf = parse_walk_forward("180d/30d", false).unwrap();
        assert_eq!((wf.train_days, wf.test_days, wf.anchored), (180, 30, false));
        assert!(parse_walk_forward("180d", false).is_err());
        assert!(parse_walk_forward("0d/30d", true).is_err());
        assert!(parse_walk_forward("xd/30d", true).is_err());
    }
}
