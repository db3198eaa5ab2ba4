//! LLM cost accounting: the price table ([`LlmPrices`]), per-call usage records
//! ([`LlmUsage`]) and the daily/monthly spend and request-rate caps ([`BudgetState`]).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Prices in USD per one million tokens (PROTOCOLS §4.4). Configuration, not code: the
/// defaults are DeepSeek `deepseek-flash` at the *peak* rate of the 2026-11-15 price page
/// (cache hit $0.006, miss $0.30, output $1.20), the higher of its two rates, so the
/// budget errs on the side of stopping early.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LlmPrices {
    /// Input tokens served from the provider's context cache.
    pub input_cache_hit_per_mtok: f64,
    /// Input tokens not in the cache.
    pub input_cache_miss_per_mtok: f64,
    /// Output tokens (including any reasoning tokens).
    pub output_per_mtok: f64,
}

impl Default for LlmPrices {
    fn default() -> Self {
        Self {
            input_cache_hit_per_mtok: 0.006,
            input_cache_miss_per_mtok: 0.30,
            output_per_mtok: 1.20,
        }
    }
}

impl LlmPrices {
    /// Cost of a call that used these tokens.
    ///
    /// # Examples
    /// ```
    /// use crpbot_strategies::swing::signal::LlmPrices;
    /// let p = LlmPrices { input_cache_hit_per_mtok: 0.1, input_cache_miss_per_mtok: 1.0, output_per_mtok: 2.0 };
    /// assert!((p.cost(1_000_000, 500_000, 250_000) - (0.1 + 0.5 + 0.5)).abs() < 1e-12);
    /// ```
    #[must_use]
    pub fn cost(
        &self,
        cache_hit_tokens: u64,
        cache_miss_tokens: u64,
        completion_tokens: u64,
    ) -> f64 {
        (cache_hit_tokens as f64 * self.input_cache_hit_per_mtok
            + cache_miss_tokens as f64 * self.input_cache_miss_per_mtok
            + completion_tokens as f64 * self.output_per_mtok)
            / 1e6
    }

    /// The most a call can cost: every prompt token a cache miss, every output token used.
    #[must_use]
    pub fn worst_case(&self, prompt_tokens_upper: u64, max_tokens: u64) -> f64 {
        let input = self.input_cache_miss_per_mtok.max(self.input_cache_hit_per_mtok);
        (prompt_tokens_upper as f64 * input + max_tokens as f64 * self.output_per_mtok) / 1e6
    }
}

/// Upper bound on the prompt tokens of a request body of `body_bytes` bytes: a BPE token
/// covers at least one byte, plus a margin for the chat template's special tokens.
#[must_use]
pub fn prompt_tokens_upper_bound(body_bytes: usize) -> u64 {
    body_bytes as u64 + 256
}

/// One LLM request attempt, for the store (`llm_usage` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmUsage {
    /// When (the synthesiser's `now_ms`).
    pub ts_ms: i64,
    /// Model name sent.
    pub model: String,
    /// Prompt tokens reported by the provider (0 when unknown).
    pub prompt_tokens: u64,
    /// Completion tokens reported (0 when unknown).
    pub completion_tokens: u64,
    /// Prompt tokens served from the provider's cache.
    pub cache_hit_tokens: u64,
    /// Cost charged to the budget in USD: the reported usage priced by [`LlmPrices`], or the
    /// worst-case estimate when the outcome is unknown (timeout, oversized or unparseable
    /// body after the request was sent), 0 when nothing was sent or an error status came back.
    pub cost_usd: f64,
    /// `ok`, `http_<status>`, `timeout`, `too_large`, `transport_error`, `connect_error`,
    /// `no_usage` (200 without a usable `usage`), `usage_over_bound` (usage above what the
    /// request allows).
    pub status: String,
}

/// Spend and rate caps.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BudgetCaps {
    /// USD per UTC day (default 5).
    pub daily_usd: f64,
    /// USD per UTC calendar month (default 150).
    pub monthly_usd: f64,
    /// Requests (attempts, retries included) per rolling minute (default 30).
    pub max_requests_per_minute: usize,
}

impl Default for BudgetCaps {
    fn default() -> Self {
        Self { daily_usd: 5.0, monthly_usd: 150.0, max_requests_per_minute: 30 }
    }
}

/// Why the budget refused a request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BudgetError {
    /// The day's spend plus the call's worst case would pass the daily cap.
    #[error("budget exhausted: daily spend {spent:.6} USD + worst case {worst:.6} > cap {cap} USD")]
    Daily {
        /// Spent today.
        spent: f64,
        /// Worst-case cost of the refused call.
        worst: f64,
        /// Cap.
        cap: f64,
    },
    /// Same for the month.
    #[error(
        "budget exhausted: monthly spend {spent:.6} USD + worst case {worst:.6} > cap {cap} USD"
    )]
    Monthly {
        /// Spent this month.
        spent: f64,
        /// Worst-case cost of the refused call.
        worst: f64,
        /// Cap.
        cap: f64,
    },
    /// Too many requests in the last minute.
    #[error("budget exhausted: {limit} requests per minute reached")]
    RequestRate {
        /// Limit.
        limit: usize,
    },
}

/// Spend so far this UTC day and month, and request times of the last minute. A request is
/// allowed only when `spent + worst_case ≤ cap` for both the day and the month, so honest
/// usage can never push the spend past a cap. Seed it from the store at start-up
/// ([`BudgetState::seed`]).
///
/// # Examples
/// ```
/// use crpbot_strategies::swing::signal::{BudgetCaps, BudgetState};
/// let mut b = BudgetState::new(BudgetCaps { daily_usd: 1.0, monthly_usd: 10.0, max_requests_per_minute: 100 });
/// b.seed(0, 0.9, 0.9);
/// assert!(b.reserve(0, 0.1).is_ok());
/// b.charge(0, 0.1);
/// assert!(b.reserve(1, 0.01).is_err()); // 1.0 + 0.01 > 1.0
/// assert!(b.reserve(86_400_000, 0.5).is_ok()); // next UTC day
/// ```
#[derive(Debug, Clone)]
pub struct BudgetState {
    caps: BudgetCaps,
    day: i64,
    day_usd: f64,
    month: i64,
    month_usd: f64,
    minute: VecDeque<i64>,
}

const DAY_MS: i64 = 86_400_000;

/// Months since 1970-01 of the UTC day `days` since the epoch (Hinnant's civil-from-days).
fn month_index(days: i64) -> i64 {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y - 1970) * 12 + (m - 1)
}

impl BudgetState {
    /// Nothing spent yet.
    #[must_use]
    pub fn new(caps: BudgetCaps) -> Self {
        Self {
            caps,
            day: i64::MIN,
            day_usd: 0.0,
            month: i64::MIN,
            month_usd: 0.0,
            minute: VecDeque::new(),
        }
    }

    /// The caps.
    #[must_use]
    pub fn caps(&self) -> BudgetCaps {
        self.caps
    }

    /// Sets the spend of the UTC day and month containing `now_ms` (e.g. summed from the
    /// store's usage records). Negative or non-finite totals count as the cap (closed).
    pub fn seed(&mut self, now_ms: i64, day_total_usd: f64, month_total_usd: f64) {
        let ok = |v: f64, cap: f64| if v.is_finite() && v >= 0.0 { v } else { cap };
        self.day = now_ms.div_euclid(DAY_MS);
        self.month = month_index(self.day);
        self.day_usd = ok(day_total_usd, self.caps.daily_usd);
        self.month_usd = ok(month_total_usd, self.caps.monthly_usd);
    }

    fn roll(&mut self, now_ms: i64) {
        let day = now_ms.div_euclid(DAY_MS);
        if day != self.day {
            self.day = day;
            self.day_usd = 0.0;
            let month = month_index(day);
            if month != self.month {
                self.month = month;
                self.month_usd = 0.0;
            }
        }
        while self.minute.front().is_some_and(|t| now_ms.saturating_sub(*t) >= 60_000) {
            self.minute.pop_front();
        }
    }

    /// Allows one request whose cost is at most `worst_case_usd`, counting it against the
    /// per-minute cap.
    ///
    /// # Errors
    /// [`BudgetError`] when a cap would be passed (a non-finite worst case is refused as
    /// passing the daily cap).
    pub fn reserve(&mut self, now_ms: i64, worst_case_usd: f64) -> Result<(), BudgetError> {
        self.roll(now_ms);
        let worst =
            if worst_case_usd.is_finite() { worst_case_usd.max(0.0) } else { f64::INFINITY };
        if self.minute.len() >= self.caps.max_requests_per_minute {
            return Err(BudgetError::RequestRate { limit: self.caps.max_requests_per_minute });
        }
        // `<=` is false for NaN: a NaN spend or cap refuses.
        let fits = |spent: f64, cap: f64| spent + worst <= cap;
        if !fits(self.day_usd, self.caps.daily_usd) {
            return Err(BudgetError::Daily {
                spent: self.day_usd,
                worst,
                cap: self.caps.daily_usd,
            });
        }
        if !fits(self.month_usd, self.caps.monthly_usd) {
            return Err(BudgetError::Monthly {
                spent: self.month_usd,
                worst,
                cap: self.caps.monthly_usd,
            });
        }
        self.minute.push_back(now_ms);
        Ok(())
    }

    /// Adds a call's cost to the day and the month of `now_ms` (non-finite or negative costs
    /// are charged as the daily cap: unknown cost, stop).
    pub fn charge(&mut self, now_ms: i64, cost_usd: f64) {
        self.roll(now_ms);
        let c =
            if cost_usd.is_finite() && cost_usd >= 0.0 { cost_usd } else { self.caps.daily_usd };
        self.day_usd += c;
        self.month_usd += c;
    }

    /// Spent in the current UTC day.
    #[must_use]
    pub fn day_spent_usd(&self) -> f64 {
        self.day_usd
    }

    /// Spent in the current UTC month.
    #[must_use]
    pub fn month_spent_usd(&self) -> f64 {
        self.month_usd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_index_matches_the_calendar() {
        // 1970-01-01, 2024-02-29, 2024-03-01, 2026-11-21 (days since the epoch).
        assert_eq!(month_index(0), 0);
        assert_eq!(month_index(19_782), 54 * 12 + 1);
        assert_eq!(month_index(19_783), 54 * 12 + 2);
        assert_eq!(month_index(20_778), 56 * 12 + 10);
        assert_eq!(month_index(-1), -1); // 1969-12-31
    }

    #[test]
    fn month_cap_and_rollover() {
        let caps = BudgetCaps { daily_usd: 5.0, monthly_usd: 6.0, max_requests_per_minute: 1000 };
        let mut b = BudgetState::new(caps);
        b.charge(0, 4.0);
        b.charge(DAY_MS, 1.9); // next day, same month (January 1970)
        assert!(matches!(b.reserve(DAY_MS, 0.2), Err(BudgetError::Monthly { .. })));
        assert!(b.reserve(DAY_MS, 0.1).is_ok());
        assert!(b.reserve(31 * DAY_MS, 4.9).is_ok()); // February: month reset
        b.charge(2 * DAY_MS, f64::NAN);
        assert!((b.day_spent_usd() - 5.0).abs() < 1e-12);
        assert!(b.reserve(2 * DAY_MS, 0.0).is_ok());
        assert!(b.reserve(2 * DAY_MS, f64::INFINITY).is_err());
    }

    #[test]
    fn requests_per_minute() {
        let mut b =
            BudgetState::new(BudgetCaps { max_requests_per_minute: 2, ..BudgetCaps::default() });
        assert!(b.reserve(0, 0.0).is_ok());
        assert!(b.reserve(1, 0.0).is_ok());
        assert_eq!(b.reserve(59_999, 0.0), Err(BudgetError::RequestRate { limit: 2 }));
        assert!(b.reserve(60_000, 0.0).is_ok());
    }
}
