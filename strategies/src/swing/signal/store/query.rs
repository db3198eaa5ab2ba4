//! Read side of the store: row decoding, listing, statistics and CSV export.

use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Write as _;

use rusqlite::{Connection, Row, params_from_iter, types::Value};
use serde::Serialize;

use super::codec::{
    csv_field, exit_reason_str, outcome_str, parse_exit_reason, parse_outcome, parse_regime,
    regime_str, theories_from_json,
};
use super::{SignalResult, StoreError, StoredSignal};
use crate::swing::signal::ab::BetaPosterior;
use crate::swing::signal::outcome::WinCounts;
use crate::swing::signal::{Direction, Outcome, SwingSignal};

pub(super) const SELECT_SIGNALS: &str = "SELECT s.id, s.symbol, s.bar_open_time_ms,
    s.created_ms, s.direction, s.confidence, s.entry, s.stop_loss, s.take_profit, s.reasoning,
    s.key_factors, s.variant, s.regime, s.theories, s.raw_response, s.hold_reason, s.validation,
    r.entry, r.exit, r.pnl_pct, r.outcome, r.exit_reason, r.hold_minutes, r.opened_ms,
    r.closed_ms, r.max_adverse_pct, r.max_favorable_pct, e.expired_ms
    FROM signals s
    LEFT JOIN signal_results r ON r.signal_id = s.id
    LEFT JOIN signal_expiries e ON e.signal_id = s.id";

/// The undecoded columns of [`SELECT_SIGNALS`].
pub(super) struct RawRow {
    id: i64,
    symbol: String,
    bar_open_time_ms: i64,
    created_ms: i64,
    direction: String,
    confidence: f64,
    entry: f64,
    stop_loss: f64,
    take_profit: f64,
    reasoning: String,
    key_factors: String,
    variant: String,
    regime: String,
    theories: String,
    raw_response: Option<String>,
    hold_reason: Option<String>,
    validation: Option<String>,
    r_entry: Option<f64>,
    r_exit: Option<f64>,
    r_pnl: Option<f64>,
    r_outcome: Option<String>,
    r_reason: Option<String>,
    r_hold: Option<f64>,
    r_opened: Option<i64>,
    r_closed: Option<i64>,
    r_mae: Option<f64>,
    r_mfe: Option<f64>,
    expired_ms: Option<i64>,
}

impl RawRow {
    pub(super) fn read(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            symbol: r.get(1)?,
            bar_open_time_ms: r.get(2)?,
            created_ms: r.get(3)?,
            direction: r.get(4)?,
            confidence: r.get(5)?,
            entry: r.get(6)?,
            stop_loss: r.get(7)?,
            take_profit: r.get(8)?,
            reasoning: r.get(9)?,
            key_factors: r.get(10)?,
            variant: r.get(11)?,
            regime: r.get(12)?,
            theories: r.get(13)?,
            raw_response: r.get(14)?,
            hold_reason: r.get(15)?,
            validation: r.get(16)?,
            r_entry: r.get(17)?,
            r_exit: r.get(18)?,
            r_pnl: r.get(19)?,
            r_outcome: r.get(20)?,
            r_reason: r.get(21)?,
            r_hold: r.get(22)?,
            r_opened: r.get(23)?,
            r_closed: r.get(24)?,
            r_mae: r.get(25)?,
            r_mfe: r.get(26)?,
            expired_ms: r.get(27)?,
        })
    }

    pub(super) fn decode(self) -> Result<StoredSignal, StoreError> {
        let id = self.id;
        let bad = |what: String| StoreError::Corrupt { id, what };
        let direction = Direction::parse(&self.direction)
            .ok_or_else(|| bad(format!("direction {:?}", self.direction)))?;
        let regime =
            parse_regime(&self.regime).ok_or_else(|| bad(format!("regime {:?}", self.regime)))?;
        let theories = theories_from_json(&self.theories)
            .ok_or_else(|| bad(format!("theories {:?}", self.theories)))?;
        let key_factors: Vec<String> = serde_json::from_str(&self.key_factors)
            .map_err(|e| bad(format!("key_factors: {e}")))?;
        let result = match (self.r_entry, self.r_outcome, self.r_opened) {
            (Some(entry), Some(o), Some(opened_ms)) => Some(SignalResult {
                entry,
                exit: self.r_exit,
                pnl_pct: self.r_pnl,
                outcome: parse_outcome(&o).ok_or_else(|| bad(format!("outcome {o:?}")))?,
                exit_reason: match self.r_reason {
                    None => None,
                    Some(e) => {
                        Some(parse_exit_reason(&e).ok_or_else(|| bad(format!("exit {e:?}")))?)
                    }
                },
                hold_minutes: self.r_hold,
                opened_ms,
                closed_ms: self.r_closed,
                max_adverse_pct: self.r_mae,
                max_favorable_pct: self.r_mfe,
            }),
            _ => None,
        };
        Ok(StoredSignal {
            id,
            signal: SwingSignal {
                symbol: self.symbol,
                bar_open_time_ms: self.bar_open_time_ms,
                created_ms: self.created_ms,
                direction,
                confidence: self.confidence,
                entry: self.entry,
                stop_loss: self.stop_loss,
                take_profit: self.take_profit,
                reasoning: self.reasoning,
                key_factors,
                variant: self.variant,
                regime,
                theories,
                raw_response: self.raw_response,
                hold_reason: self.hold_reason,
            },
            validation: self.validation,
            result,
            expired_ms: self.expired_ms,
        })
    }
}

/// Which signals [`super::SignalStore::list`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignalFilter {
    /// Only this symbol.
    pub symbol: Option<String>,
    /// Only this variant.
    pub variant: Option<String>,
    /// Only this direction.
    pub direction: Option<Direction>,
    /// `created_ms >= since_ms`.
    pub since_ms: Option<i64>,
    /// `created_ms < until_ms`.
    pub until_ms: Option<i64>,
    /// At most this many rows.
    pub limit: Option<usize>,
    /// Highest id first.
    pub newest_first: bool,
}

fn collect(
    conn: &Connection,
    sql: &str,
    args: Vec<Value>,
) -> Result<Vec<StoredSignal>, StoreError> {
    let mut st = conn.prepare(sql)?;
    let raws = st.query_map(params_from_iter(args), RawRow::read)?;
    let mut out = Vec::new();
    for raw in raws {
        out.push(raw?.decode()?);
    }
    Ok(out)
}

pub(super) fn list(conn: &Connection, f: &SignalFilter) -> Result<Vec<StoredSignal>, StoreError> {
    let mut sql = format!("{SELECT_SIGNALS} WHERE 1 = 1");
    let mut args: Vec<Value> = Vec::new();
    let mut add = |clause: &str, v: Value| {
        args.push(v);
        let _ = write!(sql, " AND {clause} ?{}", args.len());
    };
    if let Some(s) = &f.symbol {
        add("s.symbol =", Value::Text(s.clone()));
    }
    if let Some(v) = &f.variant {
        add("s.variant =", Value::Text(v.clone()));
    }
    if let Some(d) = f.direction {
        add("s.direction =", Value::Text(d.as_str().to_string()));
    }
    if let Some(t) = f.since_ms {
        add("s.created_ms >=", Value::Integer(t));
    }
    if let Some(t) = f.until_ms {
        add("s.created_ms <", Value::Integer(t));
    }
    sql.push_str(if f.newest_first { " ORDER BY s.id DESC" } else { " ORDER BY s.id" });
    if let Some(n) = f.limit {
        let _ = write!(sql, " LIMIT {}", i64::try_from(n).unwrap_or(i64::MAX));
    }
    collect(conn, &sql, args)
}

pub(super) fn unresolved(conn: &Connection) -> Result<Vec<StoredSignal>, StoreError> {
    let sql = format!(
        "{SELECT_SIGNALS} WHERE s.direction <> 'HOLD' AND e.signal_id IS NULL
         AND (r.signal_id IS NULL OR r.outcome = 'open') ORDER BY s.id"
    );
    collect(conn, &sql, Vec::new())
}

/// LLM usage summed over a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct UsageTotals {
    /// Calls.
    pub requests: u64,
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Cached prompt tokens.
    pub cache_hit_tokens: u64,
    /// US dollars.
    pub cost_usd: f64,
}

pub(super) fn usage_totals(conn: &Connection, since_ms: i64) -> Result<UsageTotals, StoreError> {
    let u = conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0),
            COALESCE(SUM(cache_hit_tokens), 0), TOTAL(cost_usd)
         FROM llm_usage WHERE ts_ms >= ?1",
        [since_ms],
        |r| {
            let n = |i: usize| r.get::<_, i64>(i).map(|v| u64::try_from(v).unwrap_or(0));
            Ok(UsageTotals {
                requests: n(0)?,
                prompt_tokens: n(1)?,
                completion_tokens: n(2)?,
                cache_hit_tokens: n(3)?,
                cost_usd: r.get(4)?,
            })
        },
    )?;
    Ok(u)
}

/// Counts for one variant or symbol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupStats {
    /// Variant or symbol.
    pub key: String,
    /// Signals stored.
    pub signals: u64,
    /// LONG or SHORT.
    pub actionable: u64,
    /// Results still open.
    pub open: u64,
    /// Expired unfilled.
    pub expired: u64,
    /// Closed results.
    pub closed: WinCounts,
    /// Beta(1, 1) posterior of the win rate.
    pub win_rate: BetaPosterior,
    /// Mean `pnl_pct` of closed results.
    pub mean_pnl_pct: Option<f64>,
}

/// Accuracy of one theory over closed results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TheoryStats {
    /// Theory name.
    pub theory: String,
    /// Closed results scored.
    pub n: u64,
    /// Of which correct.
    pub correct: u64,
    /// Beta(1, 1) posterior of the accuracy.
    pub accuracy: BetaPosterior,
    /// Mean contribution.
    pub mean_contribution: f64,
}

/// Everything `crpbot signals stats` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoreStats {
    /// Schema version.
    pub schema_version: u32,
    /// Signals stored.
    pub signals: u64,
    /// Per variant.
    pub by_variant: Vec<GroupStats>,
    /// Per symbol.
    pub by_symbol: Vec<GroupStats>,
    /// Per theory.
    pub by_theory: Vec<TheoryStats>,
    /// All LLM usage.
    pub usage: UsageTotals,
}

fn group_stats(conn: &Connection, column: &str) -> Result<Vec<GroupStats>, StoreError> {
    let sql = format!(
        "SELECT s.{column}, COUNT(*), COALESCE(SUM(s.direction <> 'HOLD'), 0),
            COALESCE(SUM(r.outcome = 'open'), 0), COUNT(e.signal_id),
            COALESCE(SUM(r.outcome = 'win'), 0), COALESCE(SUM(r.outcome = 'loss'), 0),
            COALESCE(SUM(r.outcome = 'breakeven'), 0),
            TOTAL(CASE WHEN r.outcome <> 'open' THEN r.pnl_pct END)
         FROM signals s
         LEFT JOIN signal_results r ON r.signal_id = s.id
         LEFT JOIN signal_expiries e ON e.signal_id = s.id
         GROUP BY s.{column} ORDER BY s.{column}"
    );
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map([], |r| {
        let n = |i: usize| r.get::<_, i64>(i).map(|v| u64::try_from(v).unwrap_or(0));
        let closed =
            WinCounts { wins: n(5)?, losses: n(6)?, breakeven: n(7)?, sum_pnl_pct: r.get(8)? };
        let k = closed.n();
        Ok(GroupStats {
            key: r.get(0)?,
            signals: n(1)?,
            actionable: n(2)?,
            open: n(3)?,
            expired: n(4)?,
            closed,
            win_rate: closed.posterior(),
            mean_pnl_pct: (k > 0).then(|| closed.sum_pnl_pct / k as f64),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn stats(conn: &Connection) -> Result<StoreStats, StoreError> {
    let mut st = conn.prepare(
        "SELECT theory, COUNT(*), SUM(correct), TOTAL(contribution)
         FROM theory_performance GROUP BY theory ORDER BY theory",
    )?;
    let by_theory = st
        .query_map([], |r| {
            let n = u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0);
            let correct = u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0);
            let sum: f64 = r.get(3)?;
            Ok(TheoryStats {
                theory: r.get(0)?,
                n,
                correct,
                accuracy: BetaPosterior::from_counts(correct, n.saturating_sub(correct)),
                mean_contribution: if n == 0 { 0.0 } else { sum / n as f64 },
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let signals: i64 = conn.query_row("SELECT COUNT(*) FROM signals", [], |r| r.get(0))?;
    Ok(StoreStats {
        schema_version: super::schema::version(conn)?,
        signals: u64::try_from(signals).unwrap_or(0),
        by_variant: group_stats(conn, "variant")?,
        by_symbol: group_stats(conn, "symbol")?,
        by_theory,
        usage: usage_totals(conn, i64::MIN)?,
    })
}

pub(super) fn closed_by_variant(
    conn: &Connection,
) -> Result<BTreeMap<String, Vec<(Outcome, f64)>>, StoreError> {
    let mut st = conn.prepare(
        "SELECT s.id, s.variant, r.outcome, r.pnl_pct FROM signals s
         JOIN signal_results r ON r.signal_id = s.id
         WHERE r.outcome <> 'open' ORDER BY s.id",
    )?;
    let rows = st.query_map([], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get(3)?))
    })?;
    let mut out: BTreeMap<String, Vec<(Outcome, f64)>> = BTreeMap::new();
    for row in rows {
        let (id, variant, o, pnl): (i64, String, String, Option<f64>) = row?;
        let outcome = parse_outcome(&o)
            .ok_or_else(|| StoreError::Corrupt { id, what: format!("outcome {o:?}") })?;
        let pnl =
            pnl.ok_or_else(|| StoreError::Corrupt { id, what: "closed without pnl".into() })?;
        out.entry(variant).or_default().push((outcome, pnl));
    }
    Ok(out)
}

/// The export's columns, in order.
pub const CSV_HEADER: &str = "id,symbol,bar_open_time_ms,created_ms,direction,confidence,entry,\
stop_loss,take_profit,variant,regime,validation,hold_reason,reasoning,key_factors,theories,\
fill_entry,exit,pnl_pct,outcome,exit_reason,hold_minutes,opened_ms,closed_ms,max_adverse_pct,\
max_favorable_pct,expired_ms,raw_response";

struct Opt<T>(Option<T>);

impl<T: fmt::Display> fmt::Display for Opt<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(v) => v.fmt(f),
            None => Ok(()),
        }
    }
}

fn csv_row(s: &StoredSignal) -> String {
    let g = &s.signal;
    let mut line = String::with_capacity(512);
    let _ = write!(line, "{},", s.id);
    csv_field(&mut line, &g.symbol, true);
    let _ = write!(
        line,
        ",{},{},{},{:?},{:?},{:?},{:?},",
        g.bar_open_time_ms,
        g.created_ms,
        g.direction.as_str(),
        g.confidence,
        g.entry,
        g.stop_loss,
        g.take_profit
    );
    for (v, text) in [
        (g.variant.as_str(), true),
        (regime_str(g.regime), false),
        (s.validation.as_deref().unwrap_or(""), true),
        (g.hold_reason.as_deref().unwrap_or(""), true),
        (g.reasoning.as_str(), true),
    ] {
        csv_field(&mut line, v, text);
        line.push(',');
    }
    csv_field(&mut line, &serde_json::Value::from(g.key_factors.clone()).to_string(), true);
    line.push(',');
    csv_field(&mut line, &super::codec::theories_to_json(&g.theories).unwrap_or_default(), false);
    line.push(',');
    let r = s.result.as_ref();
    let _ = write!(
        line,
        "{},{},{},{},{},{},{},{},{},{},{},",
        Opt(r.map(|r| r.entry)),
        Opt(r.and_then(|r| r.exit)),
        Opt(r.and_then(|r| r.pnl_pct)),
        Opt(r.map(|r| outcome_str(r.outcome))),
        Opt(r.and_then(|r| r.exit_reason.map(exit_reason_str))),
        Opt(r.and_then(|r| r.hold_minutes)),
        Opt(r.map(|r| r.opened_ms)),
        Opt(r.and_then(|r| r.closed_ms)),
        Opt(r.and_then(|r| r.max_adverse_pct)),
        Opt(r.and_then(|r| r.max_favorable_pct)),
        Opt(s.expired_ms),
    );
    csv_field(&mut line, g.raw_response.as_deref().unwrap_or(""), true);
    line.push_str("\r\n");
    line
}

pub(super) fn export_csv(
    conn: &Connection,
    out: &mut dyn std::io::Write,
) -> Result<usize, StoreError> {
    out.write_all(CSV_HEADER.as_bytes())?;
    out.write_all(b"\r\n")?;
    let mut st = conn.prepare(&format!("{SELECT_SIGNALS} ORDER BY s.id"))?;
    let raws = st.query_map([], RawRow::read)?;
    let mut n = 0;
    for raw in raws {
        out.write_all(csv_row(&raw?.decode()?).as_bytes())?;
        n += 1;
    }
    out.flush()?;
    Ok(n)
}
