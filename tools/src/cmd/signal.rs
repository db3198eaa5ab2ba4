//! `crpbot signal`: one swing signal at one bar (LLM or math synthesiser), validated and
//! optionally stored; and the synthesiser plumbing `crpbot signals replay` shares with it
//! (LLM client construction, budget seeding, usage rows, learned math weights).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use anyhow::Context;
use clap::{Args, ValueEnum};
use crpbot_core::Clock as _;
use crpbot_strategies::swing::signal::store::SignalFilter;
use crpbot_strategies::swing::signal::{
    ApiKey, LlmConfig, LlmSynth, LlmTransport, LlmUsage, LlmUsageRow, MATH_VARIANT, MathParams,
    MathSynth, MathWeights, RateLimiter, SignalStore, SwingSignal, SynthInput, Synthesizer,
    TransportError, ValidationConfig, hold_signal, validate_signal,
};
use crpbot_strategies::swing::{self, analyze::DEFAULT_WINDOW};

use super::signals::month_start_ms;

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
    /// Signal store (SQLite): store the signal with its validation outcome and the LLM usage;
    /// the LLM budget is seeded from the stored usage of today and this month, the rate
    /// limits from the signals accepted in the last window, and the math weights are learned
    /// from the stored math results. Without it nothing is stored.
    #[arg(long)]
    db: Option<PathBuf>,
    #[command(flatten)]
    llm: LlmArgs,
}

/// The LLM endpoint options shared by `crpbot signal` and `crpbot signals replay`.
#[derive(Debug, Clone, Args)]
pub struct LlmArgs {
    /// LLM base URL (requests go to `<URL>/chat/completions`); http:// or https://.
    #[arg(long, default_value = "https://api.deepseek.com")]
    pub llm_base_url: String,
    /// LLM model.
    #[arg(long, default_value = "deepseek-flash")]
    pub llm_model: String,
    /// Hard deadline of one LLM call in seconds (retries included).
    #[arg(long, default_value_t = 20)]
    pub llm_timeout_secs: u64,
}

/// The LLM synthesiser of the binary.
pub type CliLlmSynth = LlmSynth<FeedsTransport>;

/// The LLM synthesiser for `args` with `key`, over [`FeedsTransport`] (its own
/// current-thread tokio runtime and the feeds crate's rustls config). Its budget is fresh:
/// seed it with [`seed_budget`] when a store is at hand.
///
/// # Errors
/// The runtime or the TLS configuration cannot be built.
pub fn llm_synth(args: &LlmArgs, key: ApiKey) -> anyhow::Result<CliLlmSynth> {
    let cfg = LlmConfig {
        base_url: args.llm_base_url.clone(),
        model: args.llm_model.clone(),
        api_key: Some(key),
        deadline: std::time::Duration::from_secs(args.llm_timeout_secs.max(1)),
        ..LlmConfig::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let tls = crpbot_feeds::session::tls_config()?;
    Ok(LlmSynth::new(cfg, FeedsTransport { rt, tls }))
}

/// Milliseconds since the epoch, wall clock.
#[must_use]
pub fn wall_ms() -> i64 {
    crpbot_core::LiveClock.now_ns() / 1_000_000
}

/// Seeds `synth`'s budget with the spend stored in `store` for the UTC day and month of
/// `now_ms` (wall time), so the daily and monthly caps hold across invocations.
///
/// # Errors
/// The store cannot be read.
pub fn seed_budget<T: LlmTransport>(
    synth: &mut LlmSynth<T>,
    store: &SignalStore,
    now_ms: i64,
) -> anyhow::Result<()> {
    let day = store.usage_totals(now_ms.div_euclid(86_400_000) * 86_400_000)?.cost_usd;
    let month = store.usage_totals(month_start_ms(now_ms))?.cost_usd;
    synth.budget_mut().seed(now_ms, day, month);
    Ok(())
}

/// The store row of one usage record.
#[must_use]
pub fn usage_row(u: &LlmUsage) -> LlmUsageRow {
    LlmUsageRow {
        ts_ms: u.ts_ms,
        model: u.model.clone(),
        prompt_tokens: u.prompt_tokens,
        completion_tokens: u.completion_tokens,
        cache_hit_tokens: u.cache_hit_tokens,
        cost_usd: u.cost_usd,
        status: u.status.clone(),
    }
}

/// Stores `usage` (one row per attempt).
///
/// # Errors
/// A write fails.
pub fn store_usage(store: &mut SignalStore, usage: &[LlmUsage]) -> anyhow::Result<()> {
    for u in usage {
        store.insert_llm_usage(&usage_row(u)).context("storing LLM usage")?;
    }
    Ok(())
}

/// The math weights learned from `store`: [`MathWeights::update`] applied to every closed
/// `math-v1` result, in the order the results closed (default weights for an empty store).
///
/// # Errors
/// The store cannot be read.
pub fn learned_weights(store: &SignalStore) -> anyhow::Result<MathWeights> {
    let filter =
        SignalFilter { variant: Some(MATH_VARIANT.to_string()), ..SignalFilter::default() };
    let mut closed: Vec<_> = store
        .list(&filter)?
        .into_iter()
        .filter_map(|s| {
            let r = s.result?;
            let (closed_ms, pnl) = (r.closed_ms?, r.pnl_pct?);
            Some((closed_ms, s.id, s.signal, pnl))
        })
        .collect();
    closed.sort_by_key(|(t, id, _, _)| (*t, *id));
    let mut w = MathWeights::default();
    for (_, _, s, pnl) in &closed {
        w.update(&s.theories, s.direction, *pnl);
    }
    Ok(w)
}

/// A rate limiter for `cfg` holding the signals `store` accepted in the window ending at
/// `now_ms`, so the per-symbol and total limits hold across invocations.
///
/// # Errors
/// The store cannot be read.
pub fn seeded_limiter(
    store: &SignalStore,
    cfg: &ValidationConfig,
    now_ms: i64,
) -> anyhow::Result<RateLimiter> {
    let mut limiter = RateLimiter::from_config(cfg);
    let filter = SignalFilter {
        since_ms: Some(now_ms.saturating_sub(cfg.rate_window_ms)),
        ..SignalFilter::default()
    };
    for s in store.list(&filter)? {
        if s.signal.is_actionable() && s.validation.as_deref() == Some("ok") {
            limiter.record(&s.signal.symbol, s.signal.created_ms);
        }
    }
    Ok(limiter)
}

/// [`LlmTransport`] over the feeds crate's HTTP/1.1 client (http and https with rustls).
pub struct FeedsTransport {
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

/// Math weights shared between the replay's learning hook and the math synthesiser.
pub type SharedWeights = Arc<Mutex<MathWeights>>;

/// Locks `m`, taking the value of a poisoned lock (the data is plain numbers).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the LLM synthesiser of a replay spent, and whether storing its usage failed.
#[derive(Debug, Default)]
pub struct LlmLedger {
    /// Usage rows stored.
    pub rows: usize,
    /// Their total cost, USD.
    pub cost_usd: f64,
    /// The first failure to store usage (no LLM call is made after it).
    pub error: Option<String>,
}

/// [`MathSynth`] whose weights are refreshed from the shared, learning weights before
/// every call.
pub struct LearningMath {
    synth: MathSynth,
    weights: SharedWeights,
}

impl LearningMath {
    /// The math synthesiser (default parameters) over `weights`.
    #[must_use]
    pub fn new(weights: SharedWeights) -> Self {
        let synth = MathSynth::new(lock(&weights).clone(), MathParams::default());
        Self { synth, weights }
    }
}

impl Synthesizer for LearningMath {
    fn variant(&self) -> &str {
        self.synth.variant()
    }

    fn synthesize(&mut self, input: &SynthInput<'_>, now_ms: i64) -> SwingSignal {
        self.synth.weights.clone_from(&lock(&self.weights));
        self.synth.synthesize(input, now_ms)
    }
}

/// The LLM synthesiser in a replay. Its budget, circuit breaker and usage records run on the
/// wall clock (the money is spent now, not at the replayed bar), so the daily and monthly
/// caps are real; the signal is stamped with the replay time. Usage is stored after each
/// call; once that fails no further call is made.
pub struct ReplayLlm {
    synth: CliLlmSynth,
    store: Option<SignalStore>,
    ledger: Arc<Mutex<LlmLedger>>,
}

impl ReplayLlm {
    /// `synth`, storing its usage in `store` (if any) and counting it in `ledger`.
    #[must_use]
    pub fn new(
        synth: CliLlmSynth,
        store: Option<SignalStore>,
        ledger: Arc<Mutex<LlmLedger>>,
    ) -> Self {
        Self { synth, store, ledger }
    }
}

impl Synthesizer for ReplayLlm {
    fn variant(&self) -> &str {
        self.synth.variant()
    }

    fn synthesize(&mut self, input: &SynthInput<'_>, now_ms: i64) -> SwingSignal {
        if lock(&self.ledger).error.is_some() {
            let why = "LLM usage could not be stored: no further LLM calls";
            return hold_signal(input, now_ms, self.synth.variant(), why);
        }
        let mut signal = self.synth.synthesize(input, wall_ms());
        signal.created_ms = now_ms;
        let usage = self.synth.take_usage();
        let mut ledger = lock(&self.ledger);
        if let Some(st) = self.store.as_mut() {
            match store_usage(st, &usage) {
                Ok(()) => {
                    ledger.rows += usage.len();
                    ledger.cost_usd += usage.iter().map(|u| u.cost_usd).sum::<f64>();
                }
                Err(e) => ledger.error = Some(format!("{e:#}")),
            }
        }
        signal
    }
}

fn default_symbol(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    name.split(['_', '.']).next().filter(|s| !s.is_empty()).unwrap_or("UNKNOWN").to_string()
}

/// Runs `crpbot signal`.
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
    let mut store = match &args.db {
        Some(p) => Some(SignalStore::open(p).with_context(|| format!("opening {}", p.display()))?),
        None => None,
    };
    let now_ms = wall_ms();
    let input = SynthInput { symbol: &symbol, analysis: &analysis, recent_outcomes: &[] };
    let (signal, usage) = match (kind, key) {
        (SynthKind::Llm, Some(key)) => {
            let mut synth = llm_synth(&args.llm, key)?;
            if let Some(st) = &store {
                seed_budget(&mut synth, st, now_ms)?;
            }
            let s = synth.synthesize(&input, now_ms);
            (s, synth.take_usage())
        }
        _ => {
            let weights = match &store {
                Some(st) => learned_weights(st)?,
                None => MathWeights::default(),
            };
            let mut synth = MathSynth::new(weights, MathParams::default());
            (synth.synthesize(&input, now_ms), Vec::new())
        }
    };
    let vcfg = ValidationConfig::default();
    let mut limiter = match &store {
        Some(st) => seeded_limiter(st, &vcfg, now_ms)?,
        None => RateLimiter::from_config(&vcfg),
    };
    let synthesised = store.is_some().then(|| signal.clone());
    let (signal, outcome) = validate_signal(signal, &vcfg, &mut limiter, now_ms);
    let mut out = serde_json::to_value(&signal)?;
    if let Some(m) = out.as_object_mut() {
        m.insert("validation".into(), serde_json::to_value(&outcome)?);
        m.insert("llm_usage".into(), serde_json::to_value(&usage)?);
    }
    if let (Some(st), Some(original)) = (store.as_mut(), synthesised) {
        // Usage first: money spent is recorded even if the signal cannot be.
        store_usage(st, &usage)?;
        // As `crpbot signals replay` stores them: the synthesiser's signal, `ok` or
        // `rejected: <why>` (a rejected signal keeps its direction, for the record).
        let validation = match (outcome.status, &outcome.reason) {
            ("rejected", Some(why)) => format!("rejected: {why}"),
            _ => "ok".to_string(),
        };
        let id = st.insert_signal(&original, Some(&validation)).context("storing the signal")?;
        if let Some(m) = out.as_object_mut() {
            m.insert("signal_id".into(), id.into());
        }
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
