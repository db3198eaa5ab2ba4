//! Market context: CoinGecko `/global` and alternative.me Fear & Greed, fetched through a
//! [`ContextSource`], cached, and replaced by a clearly labelled neutral result when offline.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::basic::clamp1;

/// Why fetching or parsing context failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// The URL is not `http://host[:port]/path`.
    #[error("unsupported url {0:?} (HttpContextSource speaks plain http only)")]
    Url(String),
    /// Network failure.
    #[error("fetch failed: {0}")]
    Io(#[from] std::io::Error),
    /// Non-200 status.
    #[error("http status {0}")]
    Status(u16),
    /// Body is not the documented JSON shape.
    #[error("bad body: {0}")]
    Parse(String),
}

/// Fetches a response body for a URL (injectable for tests and for a TLS client).
pub trait ContextSource {
    /// GET `url`, returning the body.
    ///
    /// # Errors
    /// [`ContextError`] on any failure.
    fn get(&self, url: &str) -> Result<String, ContextError>;
}

/// A tiny std-only HTTP/1.1 GET client for `http://` URLs (e.g. a local caching proxy or a
/// test mock on 127.0.0.1). It does not speak TLS: for the public `https://` endpoints wrap a
/// TLS client in [`ContextSource`].
#[derive(Debug, Clone)]
pub struct HttpContextSource {
    /// Connect/read timeout.
    pub timeout: Duration,
}

impl Default for HttpContextSource {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(5) }
    }
}

impl ContextSource for HttpContextSource {
    fn get(&self, url: &str) -> Result<String, ContextError> {
        let rest = url.strip_prefix("http://").ok_or_else(|| ContextError::Url(url.to_string()))?;
        let (hostport, path) = rest.find('/').map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
        let addr =
            if hostport.contains(':') { hostport.to_string() } else { format!("{hostport}:80") };
        let sock = std::net::ToSocketAddrs::to_socket_addrs(&addr)?
            .next()
            .ok_or_else(|| ContextError::Url(url.to_string()))?;
        let mut s = TcpStream::connect_timeout(&sock, self.timeout)?;
        s.set_read_timeout(Some(self.timeout))?;
        s.set_write_timeout(Some(self.timeout))?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {hostport}\r\nAccept: application/json\r\nUser-Agent: crpbot\r\nConnection: close\r\n\r\n"
        )?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf)?;
        let text = String::from_utf8_lossy(&buf);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| ContextError::Parse("no header end".into()))?;
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| ContextError::Parse("no status".into()))?;
        if status != 200 {
            return Err(ContextError::Status(status));
        }
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
            return dechunk(body);
        }
        Ok(body.to_string())
    }
}

fn dechunk(body: &str) -> Result<String, ContextError> {
    let mut out = String::new();
    let mut rest = body;
    loop {
        let (size, tail) =
            rest.split_once("\r\n").ok_or_else(|| ContextError::Parse("bad chunk".into()))?;
        let n = usize::from_str_radix(size.trim(), 16)
            .map_err(|_| ContextError::Parse("bad chunk size".into()))?;
        if n == 0 {
            return Ok(out);
        }
        let chunk = tail.get(..n).ok_or_else(|| ContextError::Parse("short chunk".into()))?;
        out.push_str(chunk);
        rest = tail.get(n + 2..).unwrap_or("");
    }
}

/// CoinGecko `/global` fields used here (all optional in the API).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct GlobalMarket {
    /// `market_cap_percentage.btc` (percent).
    pub btc_dominance_pct: Option<f64>,
    /// `market_cap_percentage.eth` (percent).
    pub eth_dominance_pct: Option<f64>,
    /// `total_market_cap.usd`.
    pub total_market_cap_usd: Option<f64>,
    /// `total_volume.usd`.
    pub total_volume_usd: Option<f64>,
    /// `market_cap_change_percentage_24h_usd` (percent).
    pub market_cap_change_24h_pct: Option<f64>,
    /// `updated_at` (unix seconds).
    pub updated_at: Option<i64>,
    /// Full `market_cap_percentage` map.
    pub market_cap_percentage: BTreeMap<String, f64>,
}

/// Parse a CoinGecko `/global` body (`{"data": {...}}`).
///
/// # Errors
/// [`ContextError::Parse`] when the body is not JSON or has no `data` object.
/// # Examples
/// ```
/// let g = crpbot_strategies::swing::theories::parse_global(r#"{"data":{"market_cap_percentage":{"btc":58.8}}}"#).unwrap();
/// assert_eq!(g.btc_dominance_pct, Some(58.8));
/// ```
pub fn parse_global(body: &str) -> Result<GlobalMarket, ContextError> {
    let v: Value = serde_json::from_str(body).map_err(|e| ContextError::Parse(e.to_string()))?;
    let d = v
        .get("data")
        .filter(|d| d.is_object())
        .ok_or_else(|| ContextError::Parse("no data".into()))?;
    let pct: BTreeMap<String, f64> = d
        .get("market_cap_percentage")
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| v.as_f64().map(|x| (k.clone(), x))).collect())
        .unwrap_or_default();
    Ok(GlobalMarket {
        btc_dominance_pct: pct.get("btc").copied(),
        eth_dominance_pct: pct.get("eth").copied(),
        total_market_cap_usd: d.pointer("/total_market_cap/usd").and_then(Value::as_f64),
        total_volume_usd: d.pointer("/total_volume/usd").and_then(Value::as_f64),
        market_cap_change_24h_pct: d
            .get("market_cap_change_percentage_24h_usd")
            .and_then(Value::as_f64),
        updated_at: d.get("updated_at").and_then(Value::as_i64),
        market_cap_percentage: pct,
    })
}

/// The newest Fear & Greed reading.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FearGreed {
    /// Index value 0–100.
    pub value: f64,
    /// The API's own classification string.
    pub classification: String,
    /// Unix seconds (00:00 UTC of the day).
    pub timestamp: i64,
    /// Seconds until the next update, when given.
    pub time_until_update: Option<i64>,
}

/// Parse an alternative.me `/fng/` body (values are strings; `data` newest first).
///
/// # Errors
/// [`ContextError::Parse`] on bad JSON, a non-null `metadata.error` or no usable entry.
/// # Examples
/// ```
/// let f = crpbot_strategies::swing::theories::parse_fear_greed(r#"{"data":[{"value":"20","value_classification":"Extreme Fear","timestamp":"1762560000"}],"metadata":{"error":null}}"#).unwrap();
/// assert_eq!((f.value, f.classification.as_str()), (20.0, "Extreme Fear"));
/// ```
pub fn parse_fear_greed(body: &str) -> Result<FearGreed, ContextError> {
    let v: Value = serde_json::from_str(body).map_err(|e| ContextError::Parse(e.to_string()))?;
    if let Some(e) = v.pointer("/metadata/error").filter(|e| !e.is_null()) {
        return Err(ContextError::Parse(format!("api error {e}")));
    }
    let d = v
        .get("data")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .ok_or_else(|| ContextError::Parse("no data".into()))?;
    let num = |k: &str| -> Option<f64> {
        d.get(k).and_then(|x| x.as_str().and_then(|s| s.parse().ok()).or_else(|| x.as_f64()))
    };
    let value = num("value").ok_or_else(|| ContextError::Parse("no value".into()))?;
    Ok(FearGreed {
        value,
        classification: d
            .get("value_classification")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        timestamp: num("timestamp").map_or(0, |t| t as i64),
        time_until_update: num("time_until_update").map(|t| t as i64),
    })
}

/// The market-context theory output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarketContext {
    /// `"live"`, `"cache"`, or `"neutral_offline"` (no data: every field empty, signal 0).
    pub source: String,
    /// CoinGecko global data, if any.
    pub global: Option<GlobalMarket>,
    /// Fear & Greed, if any.
    pub fear_greed: Option<FearGreed>,
    /// Errors met while fetching (empty when live).
    pub errors: Vec<String>,
    /// `0.5·(50 − F&G)/50` (contrarian) `+ 0.5·clamp(mcap_change_24h / 5)`.
    pub signal: f64,
}

impl MarketContext {
    /// The neutral result used offline.
    #[must_use]
    pub fn neutral(errors: Vec<String>) -> Self {
        Self {
            source: "neutral_offline".into(),
            global: None,
            fear_greed: None,
            errors,
            signal: 0.0,
        }
    }

    fn from_parts(
        source: &str,
        g: Option<GlobalMarket>,
        f: Option<FearGreed>,
        errors: Vec<String>,
    ) -> Self {
        let fg = f.as_ref().map_or(0.0, |f| (50.0 - f.value) / 50.0);
        let mc =
            g.as_ref().and_then(|g| g.market_cap_change_24h_pct).map_or(0.0, |c| clamp1(c / 5.0));
        Self {
            source: source.into(),
            global: g,
            fear_greed: f,
            errors,
            signal: clamp1(0.5 * fg + 0.5 * mc),
        }
    }
}

/// Fetches and caches market context (CoinGecko refreshes every 10 min, F&G daily).
#[derive(Debug)]
pub struct ContextClient<S> {
    source: S,
    /// CoinGecko `/global` URL.
    pub global_url: String,
    /// Fear & Greed URL.
    pub fear_greed_url: String,
    /// Cache lifetime in milliseconds.
    pub ttl_ms: i64,
    cache: Option<(i64, Option<GlobalMarket>, Option<FearGreed>)>,
}

impl<S: ContextSource> ContextClient<S> {
    /// A client with the public endpoints and a 10-minute cache.
    pub fn new(source: S) -> Self {
        Self::with_urls(
            source,
            "https://api.coingecko.com/api/v3/global",
            "https://api.alternative.me/fng/?limit=1&format=json",
        )
    }

    /// A client with configurable URLs.
    pub fn with_urls(source: S, global_url: &str, fear_greed_url: &str) -> Self {
        Self {
            source,
            global_url: global_url.into(),
            fear_greed_url: fear_greed_url.into(),
            ttl_ms: 600_000,
            cache: None,
        }
    }

    /// Context at `now_ms` (injected clock): the cache while fresh, else a fetch; anything
    /// that fails falls back to the last cached value, else to the neutral offline result.
    pub fn get(&mut self, now_ms: i64) -> MarketContext {
        if let Some((t, g, f)) = &self.cache
            && now_ms - t < self.ttl_ms
        {
            return MarketContext::from_parts("cache", g.clone(), f.clone(), Vec::new());
        }
        let mut errors = Vec::new();
        let g = self.source.get(&self.global_url).and_then(|b| parse_global(&b));
        let f = self.source.get(&self.fear_greed_url).and_then(|b| parse_fear_greed(&b));
        let g = g.map_err(|e| errors.push(format!("global: {e}"))).ok();
        let f = f.map_err(|e| errors.push(format!("fear_greed: {e}"))).ok();
        if g.is_none() && f.is_none() {
            if let Some((_, cg, cf)) = &self.cache {
                return MarketContext::from_parts("cache", cg.clone(), cf.clone(), errors);
            }
            return MarketContext::neutral(errors);
        }
        self.cache = Some((now_ms, g.clone(), f.clone()));
        MarketContext::from_parts("live", g, f, errors)
    }
}
