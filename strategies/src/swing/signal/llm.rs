//! The LLM synthesiser ([`LlmSynth`], variant `llm-<model>`): an OpenAI-compatible chat
//! completion (DeepSeek, PROTOCOLS §4) in JSON mode, treated as untrusted advice.
//!
//! Guarantees (RELIABILITY "LLM lane: security"):
//! * one hard deadline for the whole call, retries included; a response-size cap;
//! * retries only on HTTP 429 and 5xx, with exponential backoff, a bounded retry count, and
//!   never past the deadline;
//! * every attempt is priced *before* it is sent at its worst case (every prompt token a
//!   cache miss, every output token used) and refused unless the daily and monthly spend
//!   plus that worst case stay within the caps, and within the per-minute request cap;
//! * a strict schema on the answer: anything else is a HOLD with the reason and the capped
//!   raw response; entry must be near the close and stop/target on the correct sides;
//! * nothing in a response can change a limit: the caps, thresholds and prices live in
//!   [`LlmConfig`] and [`BudgetState`], which the response never reaches;
//! * the API key lives in [`ApiKey`] (redacted `Debug`, no `Display`/`Serialize`), goes
//!   only into the `Authorization` header, and is scrubbed from anything a server could echo
//!   back (raw response, reasoning, key factors, hold reasons);
//! * a circuit breaker: after `breaker_failures` consecutive failed calls, no call for
//!   `breaker_cooldown_ms`.

use std::time::{Duration, Instant};

use super::budget::{BudgetCaps, BudgetState, LlmPrices, LlmUsage, prompt_tokens_upper_bound};
use super::llm_parse::{clean_text, parse_decision_with, parse_envelope};
use super::prompt::{SYSTEM_PROMPT, user_prompt};
use super::transport::{LlmTransport, TransportError};
use super::values::hold_signal;
use super::{Direction, SwingSignal, SynthInput, Synthesizer};

/// An API key. `Debug` prints `ApiKey(<redacted>)`; there is no `Display` or `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl ApiKey {
    /// A key from text (trimmed); `None` when empty or when it has characters outside
    /// printable ASCII (a line break would inject a header).
    ///
    /// # Examples
    /// ```
    /// use crpbot_strategies::swing::signal::ApiKey;
    /// let k = ApiKey::new(" sk-abc ").unwrap();
    /// assert_eq!(format!("{k:?}"), "ApiKey(<redacted>)");
    /// assert!(ApiKey::new("sk\r\nX-Evil: 1").is_none());
    /// assert!(ApiKey::new("  ").is_none());
    /// ```
    #[must_use]
    pub fn new(key: &str) -> Option<Self> {
        let k = key.trim();
        (!k.is_empty() && k.bytes().all(|b| b.is_ascii_graphic())).then(|| Self(k.to_string()))
    }

    /// `CRPBOT_LLM_KEY`, else `DEEPSEEK_API_KEY` (the first that is a valid key).
    #[must_use]
    pub fn from_env() -> Option<Self> {
        ["CRPBOT_LLM_KEY", "DEEPSEEK_API_KEY"]
            .iter()
            .find_map(|v| std::env::var(v).ok().and_then(|k| Self::new(&k)))
    }

    /// Replaces every occurrence of the key in `text` by `[REDACTED]`.
    #[must_use]
    pub fn scrub(&self, text: &str) -> String {
        text.replace(&self.0, "[REDACTED]")
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }
}

/// Configuration of [`LlmSynth`]. Derived `Debug` is safe: the key prints redacted.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// Base URL; requests go to `<base_url>/chat/completions` (default
    /// `https://api.deepseek.com`).
    pub base_url: String,
    /// Model (default `deepseek-flash`).
    pub model: String,
    /// API key; without one every call is a HOLD.
    pub api_key: Option<ApiKey>,
    /// `max_tokens` sent (default 600); also the output side of the worst-case cost.
    pub max_tokens: u32,
    /// Temperature (default 0.2).
    pub temperature: f64,
    /// Send `"thinking": {"type": "disabled"}` (DeepSeek V4; default true).
    pub disable_thinking: bool,
    /// Hard deadline of one `synthesize` call, retries and backoff included (default 20 s,
    /// at most [`MAX_DEADLINE`]).
    pub deadline: Duration,
    /// Response body cap (default 256 KiB).
    pub max_response_bytes: usize,
    /// Retries after the first attempt, only on 429 and 5xx (default 3).
    pub max_retries: u32,
    /// First backoff (default 500 ms); doubles per retry.
    pub backoff_initial: Duration,
    /// Backoff ceiling (default 4 s).
    pub backoff_max: Duration,
    /// Price table.
    pub prices: LlmPrices,
    /// Spend and rate caps (used by [`LlmSynth::new`] to build its [`BudgetState`]).
    pub caps: BudgetCaps,
    /// Longest reasoning kept, characters (default 1000).
    pub max_reasoning_chars: usize,
    /// Longest raw response kept on the signal, characters (default 16384).
    pub max_raw_response_chars: usize,
    /// Largest accepted distance of the answer's entry from the close, percent (default 2).
    pub max_entry_deviation_pct: f64,
    /// Consecutive failed calls that open the circuit breaker (default 5).
    pub breaker_failures: u32,
    /// How long the breaker stays open, ms of the synthesiser's clock (default 5 min).
    pub breaker_cooldown_ms: i64,
    /// Recent outcomes put in the prompt (default 10).
    pub prompt_outcomes: usize,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            base_url: "https://api.deepseek.com".into(),
            model: "deepseek-flash".into(),
            api_key: None,
            max_tokens: 600,
            temperature: 0.2,
            disable_thinking: true,
            deadline: Duration::from_secs(20),
            max_response_bytes: 256 << 10,
            max_retries: 3,
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(4),
            prices: LlmPrices::default(),
            caps: BudgetCaps::default(),
            max_reasoning_chars: 1000,
            max_raw_response_chars: 16 << 10,
            max_entry_deviation_pct: 2.0,
            breaker_failures: 5,
            breaker_cooldown_ms: 300_000,
            prompt_outcomes: 10,
        }
    }
}

impl LlmConfig {
    /// Defaults with the key from the environment ([`ApiKey::from_env`]).
    #[must_use]
    pub fn from_env() -> Self {
        Self { api_key: ApiKey::from_env(), ..Self::default() }
    }

    /// `<base_url>/chat/completions`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("{}/chat/completions", self.base_url.trim_end_matches('/'))
    }
}

/// The LLM synthesiser over a transport `T` (see the module docs for its guarantees).
pub struct LlmSynth<T> {
    cfg: LlmConfig,
    transport: T,
    variant: String,
    budget: BudgetState,
    usage: Vec<LlmUsage>,
    failures: u32,
    open_until_ms: i64,
}

impl<T> std::fmt::Debug for LlmSynth<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmSynth")
            .field("variant", &self.variant)
            .field("cfg", &self.cfg)
            .field("budget", &self.budget)
            .field("pending_usage", &self.usage.len())
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

/// Ceiling on [`LlmConfig::deadline`] (a larger value is cut to it).
pub const MAX_DEADLINE: Duration = Duration::from_secs(600);

/// How one attempt ended.
enum Attempt {
    Done(SwingSignal),
    Retry(String),
}

impl<T: LlmTransport> LlmSynth<T> {
    /// A synthesiser with a fresh budget (seed it with [`LlmSynth::budget_mut`]).
    pub fn new(cfg: LlmConfig, transport: T) -> Self {
        let variant = format!("llm-{}", clean_text(&cfg.model, 64).replace(' ', "_"));
        let budget = BudgetState::new(cfg.caps);
        Self {
            cfg,
            transport,
            variant,
            budget,
            usage: Vec::new(),
            failures: 0,
            open_until_ms: i64::MIN,
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &LlmConfig {
        &self.cfg
    }

    /// The budget (spend so far).
    #[must_use]
    pub fn budget(&self) -> &BudgetState {
        &self.budget
    }

    /// The budget, e.g. to [`BudgetState::seed`] it from stored totals.
    pub fn budget_mut(&mut self) -> &mut BudgetState {
        &mut self.budget
    }

    /// Usage records of the attempts since the last call (for the store).
    pub fn take_usage(&mut self) -> Vec<LlmUsage> {
        std::mem::take(&mut self.usage)
    }

    fn scrub(&self, s: &str) -> String {
        self.cfg.api_key.as_ref().map_or_else(|| s.to_string(), |k| k.scrub(s))
    }

    fn hold(
        &self,
        input: &SynthInput<'_>,
        now_ms: i64,
        reason: &str,
        raw: Option<&[u8]>,
    ) -> SwingSignal {
        let mut s = hold_signal(input, now_ms, &self.variant, &self.scrub(reason));
        s.raw_response = raw.map(|b| self.raw(b));
        s
    }

    /// The body as text, scrubbed of the key, then capped.
    fn raw(&self, body: &[u8]) -> String {
        let text = self.scrub(&String::from_utf8_lossy(body));
        text.chars().take(self.cfg.max_raw_response_chars).collect()
    }

    /// Scrubbed of the key, then cleaned and cut to `n` characters.
    fn clip(&self, s: &str, n: usize) -> String {
        clean_text(&self.scrub(s), n)
    }

    fn record(&mut self, now_ms: i64, tokens: (u64, u64, u64), cost_usd: f64, status: &str) {
        self.budget.charge(now_ms, cost_usd);
        self.usage.push(LlmUsage {
            ts_ms: now_ms,
            model: self.cfg.model.clone(),
            prompt_tokens: tokens.0,
            completion_tokens: tokens.1,
            cache_hit_tokens: tokens.2,
            cost_usd,
            status: status.to_string(),
        });
    }

    fn request_body(&self, input: &SynthInput<'_>) -> Vec<u8> {
        let mut body = serde_json::json!({
            "model": self.cfg.model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": user_prompt(input, self.cfg.prompt_outcomes)},
            ],
            "temperature": self.cfg.temperature,
            "max_tokens": self.cfg.max_tokens,
            "response_format": {"type": "json_object"},
            "stream": false,
        });
        if self.cfg.disable_thinking {
            body["thinking"] = serde_json::json!({"type": "disabled"});
        }
        body.to_string().into_bytes()
    }

    /// One attempt's answer (status 200) into a signal.
    fn answer(
        &mut self,
        input: &SynthInput<'_>,
        now_ms: i64,
        body: &[u8],
        worst: f64,
    ) -> SwingSignal {
        let env = match parse_envelope(body) {
            Ok(e) => e,
            Err(why) => {
                self.record(now_ms, (0, 0, 0), worst, "no_usage");
                return self.hold(input, now_ms, &format!("malformed response: {why}"), Some(body));
            }
        };
        match env.usage {
            Some(u) => {
                let cost = self.cfg.prices.cost(u.cache_hit, u.cache_miss, u.completion);
                let within = cost <= worst * (1.0 + 1e-9);
                let over = !within;
                let status = if over { "usage_over_bound" } else { "ok" };
                self.record(now_ms, (u.prompt, u.completion, u.cache_hit), cost, status);
                if over {
                    let why = format!(
                        "reported usage costs {cost:.6} USD, above the request's bound {worst:.6}"
                    );
                    return self.hold(input, now_ms, &why, Some(body));
                }
            }
            None => self.record(now_ms, (0, 0, 0), worst, "no_usage"),
        }
        let raw = env.content.as_deref().map_or(body, str::as_bytes);
        match env.finish_reason.as_deref() {
            Some("stop") => {}
            other => {
                let why = format!(
                    "finish_reason {:?} (only \"stop\" is accepted)",
                    other.map(|s| self.clip(s, 40))
                );
                return self.hold(input, now_ms, &why, Some(raw));
            }
        }
        let Some(content) = env.content.clone().filter(|c| !c.trim().is_empty()) else {
            return self.hold(input, now_ms, "empty content", Some(body));
        };
        let scrub = |s: &str| self.scrub(s);
        let d = match parse_decision_with(&content, self.cfg.max_reasoning_chars, &scrub) {
            Ok(d) => d,
            Err(why) => return self.hold(input, now_ms, &format!("schema: {why}"), Some(raw)),
        };
        let close = input.analysis.close;
        let mut sig = hold_signal(input, now_ms, &self.variant, "");
        sig.raw_response = Some(self.raw(raw));
        sig.reasoning = d.reasoning;
        sig.key_factors = d.key_factors;
        sig.confidence = d.confidence;
        if d.direction == Direction::Hold {
            sig.hold_reason = Some("the model said HOLD".into());
            return sig;
        }
        let dev = 100.0 * (d.entry - close).abs() / close;
        let (long, e, s, t) = (d.direction == Direction::Long, d.entry, d.stop_loss, d.take_profit);
        let near = dev <= self.cfg.max_entry_deviation_pct; // false for NaN
        let sides_ok = if long { s < e && e < t } else { t < e && e < s };
        let why = if !near {
            Some(format!(
                "entry {e} is {dev:.2}% from the close {close} (max {}%)",
                self.cfg.max_entry_deviation_pct
            ))
        } else if !sides_ok {
            Some(format!(
                "prices on the wrong side for {}: entry {e}, stop {s}, target {t}",
                d.direction.as_str()
            ))
        } else {
            None
        };
        if let Some(why) = why {
            sig.hold_reason = Some(format!("schema: {why}"));
            return sig;
        }
        sig.direction = d.direction;
        sig.entry = e;
        sig.stop_loss = s;
        sig.take_profit = t;
        sig.hold_reason = None;
        sig
    }

    fn attempt(
        &mut self,
        input: &SynthInput<'_>,
        now_ms: i64,
        body: &[u8],
        worst: f64,
        deadline: Instant,
    ) -> Attempt {
        if let Err(e) = self.budget.reserve(now_ms, worst) {
            return Attempt::Done(self.hold(input, now_ms, &e.to_string(), None));
        }
        let url = self.cfg.url();
        let auth = self.cfg.api_key.as_ref().map(ApiKey::bearer).unwrap_or_default();
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
            ("User-Agent", "crpbot"),
        ];
        let max = self.cfg.max_response_bytes;
        match self.transport.post_json(&url, &headers, body, deadline, max) {
            Ok((200, resp)) => {
                self.failures = 0;
                Attempt::Done(self.answer(input, now_ms, &resp, worst))
            }
            Ok((status, resp)) => {
                self.record(now_ms, (0, 0, 0), 0.0, &format!("http_{status}"));
                let why =
                    format!("HTTP {status}: {}", self.clip(&String::from_utf8_lossy(&resp), 200));
                if status == 429 || (500..=599).contains(&status) {
                    Attempt::Retry(why)
                } else {
                    self.failures += 1;
                    Attempt::Done(self.hold(input, now_ms, &why, Some(&resp)))
                }
            }
            Err(e) => {
                let (status, cost) = match e {
                    TransportError::Connect(_) | TransportError::Url(_) => ("connect_error", 0.0),
                    TransportError::Timeout => ("timeout", worst),
                    TransportError::TooLarge(_) => ("too_large", worst),
                    _ => ("transport_error", worst),
                };
                self.record(now_ms, (0, 0, 0), cost, status);
                self.failures += 1;
                Attempt::Done(self.hold(input, now_ms, &format!("transport: {e}"), None))
            }
        }
    }
}

impl<T: LlmTransport> Synthesizer for LlmSynth<T> {
    fn variant(&self) -> &str {
        &self.variant
    }

    fn synthesize(&mut self, input: &SynthInput<'_>, now_ms: i64) -> SwingSignal {
        let start = Instant::now();
        let deadline = start + self.cfg.deadline.min(MAX_DEADLINE);
        if self.cfg.api_key.is_none() {
            return self.hold(input, now_ms, "no API key configured", None);
        }
        if now_ms < self.open_until_ms {
            let why = format!(
                "circuit breaker open until {} ms after {} failures",
                self.open_until_ms, self.failures
            );
            return self.hold(input, now_ms, &why, None);
        }
        let body = self.request_body(input);
        let worst = self
            .cfg
            .prices
            .worst_case(prompt_tokens_upper_bound(body.len()), u64::from(self.cfg.max_tokens));
        let mut backoff = self.cfg.backoff_initial;
        let mut attempt = 0;
        let sig = loop {
            match self.attempt(input, now_ms, &body, worst, deadline) {
                Attempt::Done(s) => break s,
                Attempt::Retry(why) => {
                    let wake = Instant::now().checked_add(backoff);
                    if attempt >= self.cfg.max_retries {
                        self.failures += 1;
                        break self.hold(
                            input,
                            now_ms,
                            &format!("{why} (retry budget of {} spent)", self.cfg.max_retries),
                            None,
                        );
                    }
                    if wake.is_none_or(|w| w >= deadline) {
                        self.failures += 1;
                        break self.hold(
                            input,
                            now_ms,
                            &format!("{why} (deadline reached before the next retry)"),
                            None,
                        );
                    }
                    std::thread::sleep(backoff);
                    backoff = backoff.saturating_mul(2).min(self.cfg.backoff_max);
                    attempt += 1;
                }
            }
        };
        if self.failures >= self.cfg.breaker_failures.max(1) {
            self.open_until_ms = now_ms.saturating_add(self.cfg.breaker_cooldown_ms);
        }
        sig
    }
}
