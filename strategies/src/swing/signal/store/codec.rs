//! Text forms of the signal types as the store writes them, the exact theory-value JSON codec
//! and CSV field quoting.

use std::fmt::Write as _;

use crate::swing::signal::{Direction, ExitReason, Outcome, Regime, TheoryValues};

/// `trending`, `consolidation`, `sideways`, `high_volatility` (the serde names).
#[must_use]
pub const fn regime_str(r: Regime) -> &'static str {
    match r {
        Regime::Trending => "trending",
        Regime::Consolidation => "consolidation",
        Regime::Sideways => "sideways",
        Regime::HighVolatility => "high_volatility",
    }
}

/// Inverse of [`regime_str`].
#[must_use]
pub fn parse_regime(s: &str) -> Option<Regime> {
    match s {
        "trending" => Some(Regime::Trending),
        "consolidation" => Some(Regime::Consolidation),
        "sideways" => Some(Regime::Sideways),
        "high_volatility" => Some(Regime::HighVolatility),
        _ => None,
    }
}

/// `win`, `loss`, `breakeven`, `open` (the serde names).
#[must_use]
pub const fn outcome_str(o: Outcome) -> &'static str {
    match o {
        Outcome::Win => "win",
        Outcome::Loss => "loss",
        Outcome::Breakeven => "breakeven",
        Outcome::Open => "open",
    }
}

/// Inverse of [`outcome_str`].
#[must_use]
pub fn parse_outcome(s: &str) -> Option<Outcome> {
    match s {
        "win" => Some(Outcome::Win),
        "loss" => Some(Outcome::Loss),
        "breakeven" => Some(Outcome::Breakeven),
        "open" => Some(Outcome::Open),
        _ => None,
    }
}

/// `take_profit`, `stop_loss`, `timeout`, `manual` (the serde names).
#[must_use]
pub const fn exit_reason_str(e: ExitReason) -> &'static str {
    match e {
        ExitReason::TakeProfit => "take_profit",
        ExitReason::StopLoss => "stop_loss",
        ExitReason::Timeout => "timeout",
        ExitReason::Manual => "manual",
    }
}

/// Inverse of [`exit_reason_str`].
#[must_use]
pub fn parse_exit_reason(s: &str) -> Option<ExitReason> {
    match s {
        "take_profit" => Some(ExitReason::TakeProfit),
        "stop_loss" => Some(ExitReason::StopLoss),
        "timeout" => Some(ExitReason::Timeout),
        "manual" => Some(ExitReason::Manual),
        _ => None,
    }
}

/// Parses a direction (re-exported for symmetry with the other codecs).
#[must_use]
pub fn parse_direction(s: &str) -> Option<Direction> {
    Direction::parse(s)
}

/// Theory values as a JSON object (`{"adf":-0.25,"hurst":0.1}`), numbers in Rust's shortest
/// round-trip form so [`theories_from_json`] gives back the identical bits. `None` when a
/// value is not finite (JSON has no NaN).
#[must_use]
pub fn theories_to_json(t: &TheoryValues) -> Option<String> {
    let mut out = String::with_capacity(24 * t.len() + 2);
    out.push('{');
    for (i, (k, v)) in t.iter().enumerate() {
        if !v.is_finite() {
            return None;
        }
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::Value::String(k.clone()).to_string());
        // `{:?}` is the shortest representation that parses back to the same f64, and always
        // has a digit before any `.` or `e`: valid JSON for finite values.
        let _ = write!(out, ":{v:?}");
    }
    out.push('}');
    Some(out)
}

/// Parses what [`theories_to_json`] wrote (any flat JSON object of numbers), exactly: each
/// number goes through `str::parse::<f64>` (correctly rounded) rather than a JSON library's
/// fast path. `None` for anything else.
#[must_use]
pub fn theories_from_json(s: &str) -> Option<TheoryValues> {
    let b = s.as_bytes();
    let mut i = 0;
    let ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    let mut out = TheoryValues::new();
    ws(&mut i);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    ws(&mut i);
    if b.get(i) == Some(&b'}') {
        i += 1;
        ws(&mut i);
        return (i == b.len()).then_some(out);
    }
    loop {
        ws(&mut i);
        // Key: a JSON string; find its closing quote (skipping escapes), decode with serde_json.
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let start = i;
        i += 1;
        while i < b.len() && b[i] != b'"' {
            i += if b[i] == b'\\' { 2 } else { 1 };
        }
        if i >= b.len() {
            return None;
        }
        i += 1;
        let key: String = serde_json::from_str(s.get(start..i)?).ok()?;
        ws(&mut i);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i += 1;
        ws(&mut i);
        let n0 = i;
        while i < b.len() && matches!(b[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
            i += 1;
        }
        let v: f64 = s.get(n0..i)?.parse().ok()?;
        if !v.is_finite() {
            return None;
        }
        out.insert(key, v);
        ws(&mut i);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => {
                i += 1;
                ws(&mut i);
                return (i == b.len()).then_some(out);
            }
            _ => return None,
        }
    }
}

/// Appends one CSV field, quoted (RFC 4180) when it holds a comma, quote or line break.
/// Text that a spreadsheet would run as a formula (leading `=`, `+`, `-`, `@`, tab or CR) is
/// prefixed with `'` when `text` is true — reasoning and LLM output are untrusted.
pub fn csv_field(out: &mut String, value: &str, text: bool) {
    let guard =
        text && matches!(value.as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'));
    let quote = value.contains([',', '"', '\n', '\r']);
    if quote {
        out.push('"');
    }
    if guard {
        out.push('\'');
    }
    for ch in value.chars() {
        if ch == '"' {
            out.push('"');
        }
        out.push(ch);
    }
    if quote {
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn enum_names_round_trip_and_match_serde() {
        for r in [Regime::Trending, Regime::Consolidation, Regime::Sideways, Regime::HighVolatility]
        {
            assert_eq!(parse_regime(regime_str(r)), Some(r));
            assert_eq!(serde_json::to_value(r).unwrap(), regime_str(r));
        }
        for o in [Outcome::Win, Outcome::Loss, Outcome::Breakeven, Outcome::Open] {
            assert_eq!(parse_outcome(outcome_str(o)), Some(o));
            assert_eq!(serde_json::to_value(o).unwrap(), outcome_str(o));
        }
        for e in
            [ExitReason::TakeProfit, ExitReason::StopLoss, ExitReason::Timeout, ExitReason::Manual]
        {
            assert_eq!(parse_exit_reason(exit_reason_str(e)), Some(e));
            assert_eq!(serde_json::to_value(e).unwrap(), exit_reason_str(e));
        }
        assert_eq!(parse_regime("TRENDING"), None);
        assert_eq!(parse_outcome(""), None);
        assert_eq!(parse_exit_reason("stop"), None);
        assert_eq!(parse_direction("LONG"), Some(Direction::Long));
    }

    #[test]
    fn theory_json_is_valid_json_and_rejects_garbage() {
        let mut t = TheoryValues::new();
        t.insert("adf".into(), -0.25);
        t.insert("we\"ird\\key".into(), 1e-300);
        t.insert("hurst".into(), 3.0);
        let s = theories_to_json(&t).unwrap();
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["adf"], -0.25);
        assert_eq!(theories_from_json(&s).unwrap(), t);
        assert_eq!(theories_from_json(" { } ").unwrap(), TheoryValues::new());
        assert_eq!(theories_from_json(r#"{"a": 1 , "b" : -2.5e3}"#).unwrap().len(), 2);
        for bad in ["", "{", "[]", r#"{"a":}"#, r#"{"a":1,}"#, r#"{"a":"x"}"#, r#"{"a":1} x"#] {
            assert_eq!(theories_from_json(bad), None, "{bad}");
        }
        t.insert("nan".into(), f64::NAN);
        assert_eq!(theories_to_json(&t), None);
    }

    #[test]
    fn csv_quoting_and_formula_guard() {
        let mut s = String::new();
        csv_field(&mut s, "plain", true);
        s.push('|');
        csv_field(&mut s, "a,\"b\"\nc", true);
        s.push('|');
        csv_field(&mut s, "=cmd()", true);
        s.push('|');
        csv_field(&mut s, "-1.5", false);
        assert_eq!(s, "plain|\"a,\"\"b\"\"\nc\"|'=cmd()|-1.5");
    }

    proptest! {
        #[test]
        fn theory_json_round_trips_every_finite_f64(
            vals in prop::collection::btree_map("[a-z_\"\\\\]{1,12}", any::<f64>(), 0..12)
        ) {
            let t: TheoryValues = vals.into_iter().filter(|(_, v)| v.is_finite()).collect();
            let s = theories_to_json(&t).unwrap();
            let back = theories_from_json(&s).unwrap();
            prop_assert_eq!(back.len(), t.len());
            for (k, v) in &t {
                prop_assert_eq!(back[k].to_bits(), v.to_bits());
            }
        }
    }
}
