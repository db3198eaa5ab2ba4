//! Strict parsing of untrusted LLM output: the chat-completions envelope ([`parse_envelope`])
//! and the signal object inside it ([`parse_decision`]). Anything outside the schema is an
//! error (the synthesiser turns it into HOLD); nothing here can panic on any input.

use serde_json::Value;

use super::Direction;

/// Token usage reported by the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenUsage {
    /// `prompt_tokens`.
    pub prompt: u64,
    /// `completion_tokens` (reasoning tokens included).
    pub completion: u64,
    /// `prompt_cache_hit_tokens` (else `prompt_tokens_details.cached_tokens`, else 0).
    pub cache_hit: u64,
    /// `prompt_cache_miss_tokens` (else `prompt − cache_hit`).
    pub cache_miss: u64,
}

/// The parts of a chat-completions response the synthesiser uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// `choices[0].message.content`, when a string.
    pub content: Option<String>,
    /// `choices[0].finish_reason`, when a string.
    pub finish_reason: Option<String>,
    /// `usage`, when well formed.
    pub usage: Option<TokenUsage>,
}

/// Parses a chat-completions body (leading blank lines — DeepSeek's keep-alives — skipped).
/// `usage` is read even when `choices` is unusable, so a malformed answer is still billed.
///
/// # Errors
/// A short reason when the body is not a JSON object.
pub fn parse_envelope(body: &[u8]) -> Result<Envelope, String> {
    let text = std::str::from_utf8(body).map_err(|_| "response is not UTF-8".to_string())?;
    let v: Value = serde_json::from_str(text.trim_start())
        .map_err(|e| format!("response is not JSON: {e}"))?;
    if !v.is_object() {
        return Err("response is not a JSON object".into());
    }
    let usage = v.get("usage").and_then(|u| {
        let n = |k: &str| u.get(k).and_then(Value::as_u64);
        let prompt = n("prompt_tokens")?;
        let completion = n("completion_tokens")?;
        let cache_hit = n("prompt_cache_hit_tokens")
            .or_else(|| u.pointer("/prompt_tokens_details/cached_tokens").and_then(Value::as_u64))
            .unwrap_or(0);
        let cache_miss = n("prompt_cache_miss_tokens").unwrap_or(prompt.saturating_sub(cache_hit));
        Some(TokenUsage { prompt, completion, cache_hit, cache_miss })
    });
    let choice = v.pointer("/choices/0");
    Ok(Envelope {
        content: choice
            .and_then(|c| c.pointer("/message/content"))
            .and_then(Value::as_str)
            .map(str::to_string),
        finish_reason: choice
            .and_then(|c| c.get("finish_reason"))
            .and_then(Value::as_str)
            .map(str::to_string),
        usage,
    })
}

/// A schema-valid LLM signal (prices not yet checked against the market).
#[derive(Debug, Clone, PartialEq)]
pub struct LlmDecision {
    /// Direction.
    pub direction: Direction,
    /// Confidence 0–100.
    pub confidence: f64,
    /// Entry price.
    pub entry: f64,
    /// Stop-loss price.
    pub stop_loss: f64,
    /// Take-profit price.
    pub take_profit: f64,
    /// Reasoning, control characters replaced, capped.
    pub reasoning: String,
    /// Key factors, each control-free and capped.
    pub key_factors: Vec<String>,
}

/// The exact keys of the signal object.
pub const DECISION_KEYS: [&str; 7] =
    ["direction", "confidence", "entry", "stop_loss", "take_profit", "reasoning", "key_factors"];

/// Most key factors accepted.
pub const MAX_KEY_FACTORS: usize = 12;
/// Longest key factor kept (characters; longer ones are cut).
pub const MAX_KEY_FACTOR_CHARS: usize = 120;

/// Replaces control characters (terminal escapes, line breaks) by spaces and keeps at most
/// `max_chars` characters (a cut is marked with `…`).
#[must_use]
pub fn clean_text(s: &str, max_chars: usize) -> String {
    let mut out: String =
        s.chars().take(max_chars).map(|c| if c.is_control() { ' ' } else { c }).collect();
    if s.chars().nth(max_chars).is_some() {
        out.push('…');
    }
    out
}

/// Parses the signal object strictly: a JSON object with exactly [`DECISION_KEYS`];
/// `direction` one of `"LONG"`, `"SHORT"`, `"HOLD"`; `confidence` a number in 0–100;
/// `entry`, `stop_loss`, `take_profit` finite positive numbers; `reasoning` a string (cut to
/// `max_reasoning_chars`); `key_factors` an array of at most [`MAX_KEY_FACTORS`] strings.
///
/// # Errors
/// The first violation, as a short reason.
///
/// # Examples
/// ```
/// use crpbot_strategies::swing::signal::parse_decision;
/// let ok = r#"{"direction":"LONG","confidence":72,"entry":100,"stop_loss":95,"take_profit":110,
///             "reasoning":"trend","key_factors":["kalman"]}"#;
/// assert_eq!(parse_decision(ok, 500).unwrap().confidence, 72.0);
/// assert!(parse_decision(&ok.replace("72", "250"), 500).is_err());
/// assert!(parse_decision(&ok.replace("\"trend\"", "\"trend\",\"x\":1"), 500).is_err());
/// ```
pub fn parse_decision(content: &str, max_reasoning_chars: usize) -> Result<LlmDecision, String> {
    parse_decision_with(content, max_reasoning_chars, &|s: &str| s.to_string())
}

/// [`parse_decision`] with `scrub` applied to every string taken from the content (reasoning,
/// key factors, names quoted in errors) *before* it is cut to length, so a secret echoed by
/// the server cannot survive half-cut.
///
/// # Errors
/// As [`parse_decision`].
pub fn parse_decision_with(
    content: &str,
    max_reasoning_chars: usize,
    scrub: &dyn Fn(&str) -> String,
) -> Result<LlmDecision, String> {
    let clean = |s: &str, n: usize| clean_text(&scrub(s), n);
    let v: Value =
        serde_json::from_str(content.trim()).map_err(|e| format!("content is not JSON: {e}"))?;
    let obj = v.as_object().ok_or("content is not a JSON object")?;
    if let Some(k) = obj.keys().find(|k| !DECISION_KEYS.contains(&k.as_str())) {
        return Err(format!("unexpected field {:?}", clean(k, 40)));
    }
    if let Some(k) = DECISION_KEYS.iter().find(|k| !obj.contains_key(**k)) {
        return Err(format!("missing field {k:?}"));
    }
    let dir = obj["direction"].as_str().ok_or("direction is not a string")?;
    let direction = Direction::parse(dir)
        .ok_or_else(|| format!("direction {:?} is not LONG/SHORT/HOLD", clean(dir, 20)))?;
    let num = |k: &str| -> Result<f64, String> {
        let x = obj[k].as_f64().ok_or_else(|| format!("{k} is not a number"))?;
        if x.is_finite() { Ok(x) } else { Err(format!("{k} is not finite")) }
    };
    let confidence = num("confidence")?;
    if !(0.0..=100.0).contains(&confidence) {
        return Err(format!("confidence {confidence} is outside 0-100"));
    }
    let (entry, stop_loss, take_profit) = (num("entry")?, num("stop_loss")?, num("take_profit")?);
    for (k, p) in [("entry", entry), ("stop_loss", stop_loss), ("take_profit", take_profit)] {
        if p <= 0.0 {
            return Err(format!("{k} {p} is not positive"));
        }
    }
    let reasoning = obj["reasoning"].as_str().ok_or("reasoning is not a string")?;
    let factors = obj["key_factors"].as_array().ok_or("key_factors is not an array")?;
    if factors.len() > MAX_KEY_FACTORS {
        return Err(format!("{} key_factors (at most {MAX_KEY_FACTORS})", factors.len()));
    }
    let key_factors = factors
        .iter()
        .map(|f| f.as_str().map(|s| clean(s, MAX_KEY_FACTOR_CHARS)))
        .collect::<Option<Vec<_>>>()
        .ok_or("key_factors has a non-string item")?;
    Ok(LlmDecision {
        direction,
        confidence,
        entry,
        stop_loss,
        take_profit,
        reasoning: clean(reasoning, max_reasoning_chars),
        key_factors,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const OK: &str = r#"{"direction":"SHORT","confidence":81.5,"entry":100.0,"stop_loss":104,
        "take_profit":92,"reasoning":"bear\u001b[2J","key_factors":["markov","adf"]}"#;

    #[test]
    fn accepts_the_schema_and_cleans_text() {
        let d = parse_decision(OK, 3).unwrap();
        assert_eq!(d.direction, Direction::Short);
        assert_eq!((d.confidence, d.entry, d.stop_loss, d.take_profit), (81.5, 100.0, 104.0, 92.0));
        assert_eq!(d.reasoning, "bea…");
        assert_eq!(d.key_factors, ["markov", "adf"]);
        assert_eq!(parse_decision(OK, 100).unwrap().reasoning, "bear [2J");
    }

    #[test]
    fn rejects_every_schema_violation() {
        let cases = [
            ("", "not JSON"),
            ("[]", "not a JSON object"),
            (r#"{"direction":"LONG"}"#, "missing field"),
            (&OK.replace("\"SHORT\"", "\"BUY\""), "not LONG/SHORT/HOLD"),
            (&OK.replace("\"SHORT\"", "\"short\""), "not LONG/SHORT/HOLD"),
            (&OK.replace("\"SHORT\"", "1"), "direction is not a string"),
            (&OK.replace("81.5", "\"81.5\""), "confidence is not a number"),
            (&OK.replace("81.5", "250"), "outside 0-100"),
            (&OK.replace("81.5", "-1"), "outside 0-100"),
            (&OK.replace("81.5", "NaN"), "not JSON"),
            (&OK.replace("81.5", "1e999"), "not JSON"),
            (&OK.replace("100.0", "0"), "not positive"),
            (&OK.replace("100.0", "null"), "entry is not a number"),
            (&OK.replace("\"bear\\u001b[2J\"", "7"), "reasoning is not a string"),
            (&OK.replace("[\"markov\",\"adf\"]", "\"markov\""), "not an array"),
            (&OK.replace("[\"markov\",\"adf\"]", "[1]"), "non-string"),
            (&OK.replace("\"adf\"]", "\"adf\"],\"limits\":\"off\""), "unexpected field"),
            (
                &OK.replace("[\"markov\",\"adf\"]", &format!("[{}]", vec!["\"x\""; 13].join(","))),
                "key_factors",
            ),
        ];
        for (body, why) in cases {
            let e = parse_decision(body, 100).unwrap_err();
            assert!(e.contains(why), "{body}: {e}");
        }
    }

    #[test]
    fn envelope_usage_and_blank_line_prefix() {
        let body =
            b"\n\n{\"choices\":[{\"message\":{\"content\":\"{}\"},\"finish_reason\":\"stop\"}],\
            \"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"prompt_cache_hit_tokens\":4,\
            \"prompt_cache_miss_tokens\":6}}";
        let e = parse_envelope(body).unwrap();
        assert_eq!(e.content.as_deref(), Some("{}"));
        assert_eq!(e.finish_reason.as_deref(), Some("stop"));
        assert_eq!(
            e.usage,
            Some(TokenUsage { prompt: 10, completion: 5, cache_hit: 4, cache_miss: 6 })
        );
        let e = parse_envelope(br#"{"usage":{"prompt_tokens":10,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":3}}}"#).unwrap();
        assert_eq!((e.content, e.usage.map(|u| (u.cache_hit, u.cache_miss))), (None, Some((3, 7))));
        assert_eq!(parse_envelope(br#"{"usage":{"prompt_tokens":-1}}"#).unwrap().usage, None);
        assert!(parse_envelope(b"\xff").is_err());
        assert!(parse_envelope(b"[1]").is_err());
    }
}
