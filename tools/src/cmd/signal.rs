//! `crpbot signal`: one swing signal at one bar (LLM or math synthesiser), validated.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, ValueEnum};
use crpbot_core::Clock as _;
use crpbot_strategies::swing::signal::{
    ApiKey, LlmConfig, LlmSynth, LlmTransport, MathSynth, RateLimiter, SynthInput, Synthesizer,
    TransportError, ValidationConfig, validate_signal,
};
use crpbot_strategies::swing::{self, analyze::DEFAULT_WINDOW};

/// Which synthesiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SynthKind {
    /// OpenAI-compatible chat completions (DeepSeek by default); needs a key.
    Llm,
    /// The deterministic math synthesiser (`math-v1`).
    Math,
}

/// Arguments of `crpbot signal`.
#[derive(Debug, Args)]
pub struct SignalArgs {
    /// Binance kline CSV (gzip or plain), e.g. ../shared/data/klines/BTCUSDT_1h.csv.gz.
    #[arg(long)]
    candles: PathBuf,
    /// Synthesiser; default `llm` when a key is set (`CRPBOT_LLM_KEY` or `DEEPSEEK_API_KEY`),
    /// else `math`. `llm` without a key falls back to `math` (said on stderr).
    #[arg(long, value_enum)]
    synth: Option<SynthKind>,
    /// Symbol recorded on the signal (default: the file name up to the first `_`).
    #[arg(long)]
    symbol: Option<String>,
    /// Signal at the bar with this open time (ms since the epoch); default: the last bar.
    #[arg(long = "at")]
    at_open_time_ms: Option<i64>,
    /// Bars the theories look at.
    #[arg(long, default_value_t = DEFAULT_WINDOW)]
    window: usize,
    /// One compact JSON line (default: the same object pretty-printed).
    #[arg(long)]
    json: bool,
    /// LLM base URL (requests go to `<URL>/chat/completions`); http:// or https://.
    #[arg(long, default_value = "https://api.deepseek.com")]
    llm_base_url: String,
    /// LLM model.
    #[arg(long, default_value = "deepseek-flash")]
    llm_model: String,
    /// Hard deadline of the LLM call in seconds (retries included).
    #[arg(long, default_value_t = 20)]
    llm_timeout_secs: u64,
}

/// [`LlmTransport`] over the feeds crate's HTTP/1.1 client (http and https with rustls).
struct FeedsTransport {
    rt: tokio::runtime::Runtime,
    tls: std::sync::Arc<rustls::ClientConfig>,
}

impl LlmTransport for FeedsTransport {
    fn post_json(
        &mut self,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        deadline: Instant,
        max_bytes: usize,
    ) -> Result<(u16, Vec<u8>), TransportError> {
        use crpbot_feeds::session::http::{HttpError, HttpLimits, post};
        let timeout = deadline.saturating_duration_since(Instant::now());
        if timeout.is_zero() {
            return Err(TransportError::Timeout);
        }
        let limits = HttpLimits { timeout, max_body_bytes: max_bytes };
        self.rt.block_on(post(url, headers, body, limits, &self.tls)).map_err(|e| match e {
            HttpError::Timeout => TransportError::Timeout,
            HttpError::TooLarge(n) => TransportError::TooLarge(n),
            HttpError::Url(u) => TransportError::Url(u),
            HttpError::Malformed(m) => TransportError::Malformed(m),
            other => TransportError::Io(other.to_string()),
        })
    }
}

fn default_symbol(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    name.split(['_', '.']).next().filter(|s| !s.is_empty()).unwrap_or("UNKNOWN").to_string()
}

pub fn run(args: SignalArgs) -> anyhow::Result<ExitCode> {
    let candles = swing::load_klines(&args.candles)
        .with_context(|| format!("loading {}", args.candles.display()))?;
    let analysis = swing::analyze(&candles, args.window, args.at_open_time_ms)?;
    let symbol = args.symbol.clone().unwrap_or_else(|| default_symbol(&args.candles));
    let key = ApiKey::from_env();
    let kind = match (args.synth, key.is_some()) {
        (Some(SynthKind::Llm), false) => {
            eprintln!(
                "crpbot signal: no LLM key (set CRPBOT_LLM_KEY or DEEPSEEK_API_KEY); \
                 falling back to the math synthesiser"
            );
            SynthKind::Math
        }
        (Some(k), _) => k,
        (None, true) => SynthKind::Llm,
        (None, false) => SynthKind::Math,
    };
    let now_ms = crpbot_core::LiveClock.now_ns() / 1_000_000;
    let input = SynthInput { symbol: &symbol, analysis: &analysis, recent_outcomes: &[] };
    let (signal, usage) = match kind {
        SynthKind::Math => (MathSynth::default().synthesize(&input, now_ms), Vec::new()),
        SynthKind::Llm => {
            let cfg = LlmConfig {
                base_url: args.llm_base_url.clone(),
                model: args.llm_model.clone(),
                api_key: key,
                deadline: std::time::Duration::from_secs(args.llm_timeout_secs.max(1)),
                ..LlmConfig::default()
            };
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let tls = crpbot_feeds::session::tls_config()?;
            let mut synth = LlmSynth::new(cfg, FeedsTransport { rt, tls });
            let s = synth.synthesize(&input, now_ms);
            (s, synth.take_usage())
        }
    };
    let vcfg = ValidationConfig::default();
    let mut limiter = RateLimiter::from_config(&vcfg);
    let (signal, outcome) = validate_signal(signal, &vcfg, &mut limiter, now_ms);
    let mut out = serde_json::to_value(&signal)?;
    if let Some(m) = out.as_object_mut() {
        m.insert("validation".into(), serde_json::to_value(&outcome)?);
        m.insert("llm_usage".into(), serde_json::to_value(&usage)?);
    }
    if args.json {
        println!("{out}");
    } else {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbol_from_the_file_name() {
        assert_eq!(default_symbol(Path::new("/d/klines/BTCUSDT_1h.csv.gz")), "BTCUSDT");
        assert_eq!(default_symbol(Path::new("ETHUSDT.csv")), "ETHUSDT");
        assert_eq!(default_symbol(Path::new("/")), "UNKNOWN");
    }
}
