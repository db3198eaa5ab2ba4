//! `crpbot replay --from-journal DIR`: re-decode a journal's raw frames, re-run the strategies its
//! start record names (or the `--strategies` given), and check that the same market events and
//! decisions come out; `--report` writes the strategies' metrics report.
//!
//! The journal runs through the engine (feed | core | journal in the `--topology` asked for,
//! the replay clock being the frames' receive times): the feed decodes and synchronises the
//! journal's Binance or Coinbase frames, the core re-runs the strategies, and the journal stage
//! compares every record with the journal's instead of writing one.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use crpbot_core::{BookState, BookStateChange, MarketEvent, Registry, StateReason, Venue};
use crpbot_journal::Reader;
use crpbot_journal::codec::{self, ControlKind, Decoded};
use serde_json::{Value, json};

use super::engine_args::EngineArgs;
use crate::engine::{
    self, CheckResult, Controls, CoreOptions, EngineConfig, Expected, JournalOptions, Rec,
    SourceSpec,
};

/// What a replay from a journal writes besides its summary.
#[derive(Clone, Copy, Debug)]
pub struct Outputs<'a> {
    /// The BBO CSV.
    pub bbo_out: Option<&'a Path>,
    /// Strategies to run instead of the journal's (empty: the journal's).
    pub strategies: &'a [String],
    /// Where the strategies' metrics report goes (stderr without).
    pub report: Option<&'a Path>,
}

/// What the journal holds for the comparison.
struct Journaled {
    expected: Expected,
    strategies: Vec<String>,
    live_only: u64,
    /// False when other strategies than the journal's run: their decisions are not compared.
    decisions_checked: bool,
}

/// Session-side events a replay of the frames cannot make, so not compared: a live Binance
/// session marks the moment it requested a snapshot (`Resyncing`; a replay has the snapshot in
/// its input and requests nothing), and a live session marks its books stale on a stall, a
/// dropped connection and at its end.
fn live_only_state(s: &BookStateChange) -> bool {
    s.state == BookState::Resyncing
        || (s.state == BookState::Stale
            && matches!(s.reason, StateReason::Stall | StateReason::Disconnect))
}

fn read_journal(dir: &Path, venue: Venue) -> anyhow::Result<Journaled> {
    let binance = matches!(venue, Venue::BinanceSpot | Venue::BinanceUsdm);
    let mut j = Journaled {
        expected: Expected::default(),
        strategies: Vec::new(),
        live_only: 0,
        decisions_checked: true,
    };
    let mut reader =
        Reader::open(dir).with_context(|| format!("opening journal {}", dir.display()))?;
    while let Some(rec) = reader.next_record() {
        let rec = rec.with_context(|| format!("reading journal {}", dir.display()))?;
        let d = &mut j.expected.decisions;
        match codec::decode(rec.record_type, rec.ver, rec.payload)? {
            Decoded::Market(MarketEvent::State(s)) if binance && live_only_state(&s) => {
                j.live_only += 1;
            }
            Decoded::Market(ev) => j.expected.market.push(ev),
            Decoded::Intent(i) => d.push(Rec::Intent(i)),
            Decoded::Verdict(v) => d.push(Rec::Verdict(v)),
            Decoded::Fill(f) => d.push(Rec::Fill(f)),
            Decoded::Signal(s) => d.push(Rec::Signal(s)),
            Decoded::Position(p) => d.push(Rec::Position(p)),
            Decoded::Equity(e) => d.push(Rec::Equity(e)),
            // The run's start record names its strategies: replay them to check decisions.
            Decoded::Control { kind: ControlKind::Start, text } => {
                if let Some(list) =
                    text.split_whitespace().find_map(|w| w.strip_prefix("strategies="))
                {
                    j.strategies =
                        list.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect();
                }
            }
            _ => {}
        }
    }
    Ok(j)
}

/// The comparison's fields of the printed summary.
fn insert_check(out: &mut Value, check: &CheckResult, j: &Journaled) {
    let Some(o) = out.as_object_mut() else { return };
    o.insert("events_compared".into(), check.events_compared.into());
    o.insert("live_only_events".into(), j.live_only.into());
    o.insert("events_hash".into(), check.events_hash.clone().into());
    o.insert("strategies".into(), j.strategies.join(",").into());
    o.insert("decisions_checked".into(), j.decisions_checked.into());
    o.insert("decisions_compared".into(), check.decisions_compared.into());
    o.insert(
        "first_decision_divergence".into(),
        check
            .first_decision_divergence
            .as_ref()
            .map_or(Value::Null, |d| json!({"decision_index": d.index, "detail": d.detail})),
    );
    o.insert(
        "first_divergence".into(),
        check
            .first_divergence
            .as_ref()
            .map_or(Value::Null, |d| json!({"event_index": d.index, "detail": d.detail})),
    );
}

/// Replays a journal and prints the summary; exit 1 on a divergence.
pub fn run(
    dir: &Path,
    registry: Registry,
    venue: Venue,
    outputs: Outputs<'_>,
    engine_args: &EngineArgs,
) -> anyhow::Result<ExitCode> {
    let mut j = read_journal(dir, venue)?;
    if !outputs.strategies.is_empty() && outputs.strategies != j.strategies.as_slice() {
        // Other strategies than the journal's: their decisions are new, not checked.
        j.strategies = outputs.strategies.to_vec();
        j.expected.decisions.clear();
        j.expected.skip_decisions = true;
        j.decisions_checked = false;
    }
    if outputs.report.is_some() && j.strategies.is_empty() {
        bail!("--report needs strategies: the journal names none; give --strategies");
    }
    let bbo_out = outputs.bbo_out;
    let (mut out, check, read_error, trading) = match venue {
        Venue::BinanceSpot | Venue::BinanceUsdm | Venue::Coinbase => {
            via_engine(dir, registry, venue, bbo_out, engine_args, &j)?
        }
        other => bail!(
            "replay from a journal of {other} frames is not supported (binance-spot, binance-usdm, coinbase)"
        ),
    };
    insert_check(&mut out, &check, &j);
    if let Some(t) = trading {
        match outputs.report {
            Some(path) => std::fs::write(path, serde_json::to_vec_pretty(&t)?)
                .with_context(|| format!("writing {}", path.display()))?,
            None => eprintln!("{t}"),
        }
    }
    println!("{out}");
    if let Some(e) = read_error {
        eprintln!("crpbot replay: journal {}: {e}", dir.display());
        return Ok(ExitCode::FAILURE);
    }
    let same = check.first_divergence.is_none() && check.first_decision_divergence.is_none();
    Ok(if same { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn via_engine(
    dir: &Path,
    registry: Registry,
    venue: Venue,
    bbo_out: Option<&Path>,
    engine_args: &EngineArgs,
    j: &Journaled,
) -> anyhow::Result<(Value, CheckResult, Option<String>, Option<Value>)> {
    let cfg = EngineConfig {
        core: CoreOptions {
            strategies: j.strategies.clone(),
            bbo_out: bbo_out.map(Path::to_path_buf),
            start_ns: 0,
            status_ids: Vec::new(),
            sim_preset: false,
        },
        journal: JournalOptions::default(),
        check: Some(j.expected.clone()),
        ..engine_args.config(SourceSpec::Journal { venue, dir: dir.to_path_buf() }, registry)
    };
    let controls = Controls::default();
    crate::shutdown::install(&controls)?;
    let report = engine::run(cfg, &controls, None, |_, _| true)?;
    let check = report.check.clone().context("the journal stage did not report its comparison")?;
    let mut out = report.feed.clone();
    let read_error = out.get("journal_read_error").and_then(Value::as_str).map(str::to_owned);
    if let Some(o) = out.as_object_mut() {
        o.remove("journal_read_error");
        o.insert("crossed".into(), report.books["crossed"].clone());
        o.insert("levels_applied".into(), report.books["levels_applied"].clone());
        o.insert("elapsed_s".into(), report.elapsed_s.into());
        o.insert("topology".into(), report.topology.clone().into());
    }
    Ok((out, check, read_error, report.trading.clone()))
}
