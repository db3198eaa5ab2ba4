//! `crpbot signals`: the swing-signal store (`list`, `show`, `stats`, `export --csv`) and
//! `replay` of historical candles through a synthesiser into the store.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use crpbot_strategies::swing;
use crpbot_strategies::swing::signal::ab::{AbConfig, ab_report};
use crpbot_strategies::swing::signal::outcome::TrackerConfig;
use crpbot_strategies::swing::signal::store::replay::{ReplayConfig, ReplayHooks, replay};
use crpbot_strategies::swing::signal::store::{SignalFilter, SignalStore, StoredSignal};
use crpbot_strategies::swing::signal::{
    ApiKey, ClosedResult, Direction, MATH_VARIANT, RateLimiter, SwingSignal, Synthesizer,
    ValidationConfig, validate,
};

use super::signal::{
    LearningMath, LlmArgs, LlmLedger, ReplayLlm, SharedWeights, learned_weights, llm_synth, lock,
    seed_budget, wall_ms,
};

/// Arguments of `crpbot signals`.
#[derive(Debug, Args)]
pub struct SignalsArgs {
    /// Signal store (SQLite file). Default: `$CRPBOT_SIGNALS_DB`, else
    /// `crpbot-signals.sqlite` in the current directory.
    #[arg(long, global = true)]
    db: Option<PathBuf>,
    #[command(subcommand)]
    cmd: SignalsCmd,
}

#[derive(Debug, Subcommand)]
enum SignalsCmd {
    /// List signals, newest first.
    List(ListArgs),
    /// One signal with its result, theories, reasoning and raw response.
    Show {
        /// Signal id.
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Win rates (Beta posterior) per variant, symbol and theory; A/B comparison; LLM usage.
    Stats {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Win-rate difference the A/B sample size is computed for.
        #[arg(long, default_value_t = 0.10)]
        effect: f64,
    },
    /// Every signal with its result as CSV (RFC 4180).
    Export {
        /// CSV output (the only format).
        #[arg(long)]
        csv: bool,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Replay historical candles through a synthesiser: store, paper-trade and score signals.
    Replay(ReplayArgs),
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Only this symbol.
    #[arg(long)]
    symbol: Option<String>,
    /// Only this variant.
    #[arg(long)]
    variant: Option<String>,
    /// Only LONG, SHORT or HOLD.
    #[arg(long)]
    direction: Option<String>,
    /// At most this many (newest first).
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Print a JSON array.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ReplayArgs {
    /// Binance kline CSV (gzip or plain), e.g. ../shared/data/klines/BTCUSDT_1h.csv.gz.
    #[arg(long)]
    candles: PathBuf,
    /// Symbol (default: the file name up to its first `_`).
    #[arg(long)]
    symbol: Option<String>,
    /// Synthesiser; repeat for an A/B replay on the same bars.
    #[arg(long = "synth", default_value = "math")]
    synths: Vec<String>,
    /// Synthesise every N bars.
    #[arg(long, default_value_t = 1)]
    every: usize,
    /// Theory window (bars).
    #[arg(long, default_value_t = swing::analyze::DEFAULT_WINDOW)]
    window: usize,
    /// First bar: YYYY-MM-DD (UTC) or open time in ms.
    #[arg(long)]
    from: Option<String>,
    /// Last bar that may produce a signal: YYYY-MM-DD (UTC, that day's 00:00) or ms.
    #[arg(long)]
    to: Option<String>,
    /// Signal life (hours) before an unfilled signal expires / an open position times out.
    #[arg(long, default_value_t = 24)]
    timeout_hours: i64,
    /// Entry band half-width, percent.
    #[arg(long, default_value_t = 0.5)]
    entry_tolerance_pct: f64,
    /// |pnl| below this percent is breakeven.
    #[arg(long, default_value_t = 0.05)]
    breakeven_pct: f64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    llm: LlmArgs,
}

/// What [`make_synth`] needs besides the name.
#[derive(Debug)]
pub struct SynthEnv<'a> {
    /// LLM endpoint options.
    pub llm: &'a LlmArgs,
    /// The LLM key (`None`: `llm` is refused).
    pub key: Option<ApiKey>,
    /// The signal store: the LLM synthesiser seeds its budget from it and stores its usage
    /// there (over its own connection) right after each call.
    pub store: Option<&'a Path>,
    /// The math synthesiser's weights; the replay's learning hook updates them.
    pub math_weights: SharedWeights,
    /// The LLM synthesiser's spend.
    pub ledger: Arc<Mutex<LlmLedger>>,
}

/// The synthesiser named `name`, for `crpbot signals replay --synth NAME`: `math` (the math
/// synthesiser reading `env.math_weights` at every call) or `llm` (the same synthesiser as
/// `crpbot signal`, needing a key).
///
/// # Errors
/// An unknown name, `llm` without a key, or the LLM client or store cannot be set up.
pub fn make_synth(name: &str, env: &SynthEnv<'_>) -> anyhow::Result<Box<dyn Synthesizer>> {
    match name {
        "math" => Ok(Box::new(LearningMath::new(Arc::clone(&env.math_weights)))),
        "llm" => {
            let Some(key) = env.key.clone() else {
                bail!("--synth llm needs an LLM key (set CRPBOT_LLM_KEY or DEEPSEEK_API_KEY)")
            };
            let mut synth = llm_synth(env.llm, key)?;
            let store = match env.store {
                Some(p) => {
                    let st =
                        SignalStore::open(p).with_context(|| format!("opening {}", p.display()))?;
                    seed_budget(&mut synth, &st, wall_ms())?;
                    Some(st)
                }
                None => None,
            };
            Ok(Box::new(ReplayLlm::new(synth, store, Arc::clone(&env.ledger))))
        }
        other => bail!("unknown synthesiser {other:?} (known: math, llm)"),
    }
}

fn db_path(arg: Option<PathBuf>) -> PathBuf {
    arg.or_else(|| std::env::var_os("CRPBOT_SIGNALS_DB").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("crpbot-signals.sqlite"))
}

/// Opens an existing store (read commands must not create an empty file by accident).
fn open_existing(path: &Path) -> anyhow::Result<SignalStore> {
    if !path.is_file() {
        bail!("no signal store at {} (set --db or CRPBOT_SIGNALS_DB)", path.display());
    }
    SignalStore::open(path).with_context(|| format!("opening {}", path.display()))
}

/// Days since the epoch of a civil date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// `YYYY-MM-DD` (UTC midnight) or milliseconds since the epoch.
fn parse_time(text: &str) -> anyhow::Result<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    let parts: Vec<&str> = text.split('-').collect();
    let bad = || format!("bad time {text:?}: expected YYYY-MM-DD or milliseconds");
    let [y, m, d] = parts.as_slice() else { bail!(bad()) };
    let (y, m, d): (i64, i64, i64) =
        (y.parse().with_context(bad)?, m.parse().with_context(bad)?, d.parse().with_context(bad)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1970..=9999).contains(&y) {
        bail!(bad());
    }
    Ok(days_from_civil(y, m, d) * 86_400_000)
}

/// The civil date `(year, month, day)` of a day since the epoch (Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Midnight UTC (ms) of the first day of the month containing `ms`.
pub(crate) fn month_start_ms(ms: i64) -> i64 {
    let (y, m, _) = civil_from_days(ms.div_euclid(86_400_000));
    days_from_civil(y, m, 1) * 86_400_000
}

/// `YYYY-MM-DD HH:MM` (UTC).
fn fmt_time(ms: i64) -> String {
    let mins = ms.rem_euclid(86_400_000) / 60_000;
    let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", mins / 60, mins % 60)
}

/// Runs `crpbot signals …`.
pub fn run(args: SignalsArgs) -> anyhow::Result<ExitCode> {
    let path = db_path(args.db);
    match args.cmd {
        SignalsCmd::List(a) => list(&path, &a),
        SignalsCmd::Show { id, json } => show(&path, id, json),
        SignalsCmd::Stats { json, effect } => stats(&path, json, effect),
        SignalsCmd::Export { csv, out } => export(&path, csv, out.as_deref()),
        SignalsCmd::Replay(a) => run_replay(&path, &a),
    }
}

fn result_cols(s: &StoredSignal) -> (String, String) {
    match (&s.result, s.expired_ms) {
        (Some(r), _) => (
            serde_json::to_value(r.outcome)
                .map(|v| v.as_str().unwrap_or("").to_string())
                .unwrap_or_default(),
            r.pnl_pct.map_or_else(String::new, |p| format!("{p:.3}")),
        ),
        (None, Some(_)) => ("expired".into(), String::new()),
        (None, None) if s.signal.is_actionable() => ("pending".into(), String::new()),
        (None, None) => (String::new(), String::new()),
    }
}

fn list(path: &Path, a: &ListArgs) -> anyhow::Result<ExitCode> {
    let store = open_existing(path)?;
    let direction = match a.direction.as_deref() {
        None => None,
        Some(d) => Some(
            Direction::parse(&d.to_ascii_uppercase())
                .with_context(|| format!("bad --direction {d:?}: LONG, SHORT or HOLD"))?,
        ),
    };
    let filter = SignalFilter {
        symbol: a.symbol.clone(),
        variant: a.variant.clone(),
        direction,
        limit: Some(a.limit),
        newest_first: true,
        ..SignalFilter::default()
    };
    let rows = store.list(&filter)?;
    let mut out = std::io::stdout().lock();
    if a.json {
        writeln!(out, "{}", serde_json::to_string(&rows)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:>6} {:<16} {:<10} {:<20} {:<5} {:>5} {:>12} {:>12} {:>12} {:<10} {:<9} {:>8}",
        "id",
        "created",
        "symbol",
        "variant",
        "dir",
        "conf",
        "entry",
        "stop",
        "target",
        "valid",
        "outcome",
        "pnl%"
    )?;
    for s in &rows {
        let g = &s.signal;
        let (outcome, pnl) = result_cols(s);
        let valid =
            s.validation.as_deref().map_or("-", |v| if v == "ok" { "ok" } else { "rejected" });
        writeln!(
            out,
            "{:>6} {:<16} {:<10} {:<20} {:<5} {:>5.1} {:>12.2} {:>12.2} {:>12.2} {:<10} {:<9} {:>8}",
            s.id,
            fmt_time(g.created_ms),
            g.symbol,
            g.variant,
            g.direction.as_str(),
            g.confidence,
            g.entry,
            g.stop_loss,
            g.take_profit,
            valid,
            outcome,
            pnl
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn show(path: &Path, id: i64, json: bool) -> anyhow::Result<ExitCode> {
    let store = open_existing(path)?;
    let Some(s) = store.get(id)? else { bail!("no signal with id {id}") };
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&s)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let g = &s.signal;
    writeln!(out, "signal {} — {} {} {}", s.id, g.symbol, g.direction.as_str(), g.variant)?;
    writeln!(out, "bar:        {} (open {} ms)", fmt_time(g.bar_open_time_ms), g.bar_open_time_ms)?;
    writeln!(out, "created:    {} ({} ms)", fmt_time(g.created_ms), g.created_ms)?;
    writeln!(out, "confidence: {}", g.confidence)?;
    writeln!(out, "entry:      {}  stop: {}  target: {}", g.entry, g.stop_loss, g.take_profit)?;
    writeln!(out, "regime:     {}", serde_json::to_value(g.regime)?.as_str().unwrap_or(""))?;
    writeln!(out, "validation: {}", s.validation.as_deref().unwrap_or("(not validated)"))?;
    if let Some(h) = &g.hold_reason {
        writeln!(out, "hold:       {h}")?;
    }
    writeln!(out, "reasoning:  {}", g.reasoning)?;
    writeln!(out, "factors:    {}", g.key_factors.join(", "))?;
    writeln!(out, "theories:")?;
    for (k, v) in &g.theories {
        writeln!(out, "  {k:<18} {v:+.4}")?;
    }
    match (&s.result, s.expired_ms) {
        (Some(r), _) => {
            let name = |v: serde_json::Value| v.as_str().unwrap_or("").to_string();
            let num = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |x| format!("{x:.4}"));
            writeln!(
                out,
                "result:     {} {}, entry {} exit {}, pnl {} %, held {} min",
                name(serde_json::to_value(r.outcome)?),
                r.exit_reason.map(serde_json::to_value).transpose()?.map(name).unwrap_or_default(),
                r.entry,
                r.exit.map_or_else(|| "-".to_string(), |x| x.to_string()),
                num(r.pnl_pct),
                num(r.hold_minutes),
            )?;
            writeln!(
                out,
                "            opened {}, closed {}, excursions {} / {} %",
                fmt_time(r.opened_ms),
                r.closed_ms.map_or_else(|| "-".to_string(), fmt_time),
                num(r.max_adverse_pct),
                num(r.max_favorable_pct),
            )?;
        }
        (None, Some(t)) => writeln!(out, "result:     expired unfilled at {}", fmt_time(t))?,
        (None, None) => writeln!(out, "result:     none")?,
    }
    if let Some(raw) = &g.raw_response {
        writeln!(out, "raw response:\n{raw}")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn stats(path: &Path, json: bool, effect: f64) -> anyhow::Result<ExitCode> {
    let store = open_existing(path)?;
    let st = store.stats()?;
    let ab = ab_report(&store.closed_by_variant()?, AbConfig { effect, ..AbConfig::default() });
    let mut out = std::io::stdout().lock();
    if json {
        let v = serde_json::json!({ "stats": st, "ab": ab });
        writeln!(out, "{v}")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "store {} (schema v{}): {} signals",
        path.display(),
        st.schema_version,
        st.signals
    )?;
    for (title, groups) in [("variant", &st.by_variant), ("symbol", &st.by_symbol)] {
        writeln!(
            out,
            "\nby {title}:\n{:<24} {:>7} {:>7} {:>5} {:>7} {:>5} {:>5} {:>5} {:>22} {:>10}",
            title,
            "signals",
            "action",
            "open",
            "expired",
            "win",
            "loss",
            "even",
            "win_rate_95",
            "mean_pnl%"
        )?;
        for g in groups {
            let p = g.win_rate;
            writeln!(
                out,
                "{:<24} {:>7} {:>7} {:>5} {:>7} {:>5} {:>5} {:>5} {:>22} {:>10}",
                g.key,
                g.signals,
                g.actionable,
                g.open,
                g.expired,
                g.closed.wins,
                g.closed.losses,
                g.closed.breakeven,
                format!("{:.3} [{:.3},{:.3}]", p.mean, p.lower_95, p.upper_95),
                g.mean_pnl_pct.map_or_else(|| "-".to_string(), |m| format!("{m:.3}")),
            )?;
        }
    }
    writeln!(
        out,
        "\nby theory:\n{:<18} {:>6} {:>8} {:>22} {:>12}",
        "theory", "n", "correct", "accuracy_95", "mean_contrib"
    )?;
    for t in &st.by_theory {
        let p = t.accuracy;
        writeln!(
            out,
            "{:<18} {:>6} {:>8} {:>22} {:>12.4}",
            t.theory,
            t.n,
            t.correct,
            format!("{:.3} [{:.3},{:.3}]", p.mean, p.lower_95, p.upper_95),
            t.mean_contribution
        )?;
    }
    writeln!(out, "\nA/B (closed results per variant):\n{ab}")?;
    let u = st.usage;
    writeln!(
        out,
        "LLM usage: {} calls, {} prompt ({} cached) + {} completion tokens, ${:.4}",
        u.requests, u.prompt_tokens, u.cache_hit_tokens, u.completion_tokens, u.cost_usd
    )?;
    Ok(ExitCode::SUCCESS)
}

fn export(path: &Path, csv: bool, out: Option<&Path>) -> anyhow::Result<ExitCode> {
    if !csv {
        bail!("export needs --csv (the only format)");
    }
    let store = open_existing(path)?;
    match out {
        Some(f) => {
            let file =
                std::fs::File::create(f).with_context(|| format!("creating {}", f.display()))?;
            let mut w = std::io::BufWriter::new(file);
            let n = store.export_csv(&mut w)?;
            w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            eprintln!("exported {n} signals to {}", f.display());
        }
        None => {
            store.export_csv(&mut std::io::stdout().lock())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn symbol_of(file: &Path) -> Option<String> {
    let name = file.file_name()?.to_str()?;
    let sym = name.split(['_', '.']).next()?;
    (!sym.is_empty()).then(|| sym.to_ascii_uppercase())
}

fn run_replay(path: &Path, a: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let symbol = match &a.symbol {
        Some(s) => s.clone(),
        None => symbol_of(&a.candles).with_context(|| {
            format!("cannot tell the symbol from {}; pass --symbol", a.candles.display())
        })?,
    };
    if a.every == 0 || a.timeout_hours <= 0 {
        bail!("--every and --timeout-hours must be at least 1");
    }
    let mut store =
        SignalStore::open(path).with_context(|| format!("opening {}", path.display()))?;
    // The math synthesiser starts from what the store's closed math results taught it.
    let initial = learned_weights(&store)?;
    let env = SynthEnv {
        llm: &a.llm,
        key: ApiKey::from_env(),
        store: Some(path),
        math_weights: Arc::new(Mutex::new(initial.clone())),
        ledger: Arc::default(),
    };
    let mut synths: Vec<Box<dyn Synthesizer>> =
        a.synths.iter().map(|n| make_synth(n, &env)).collect::<anyhow::Result<_>>()?;
    let has_math = synths.iter().any(|s| s.variant() == MATH_VARIANT);
    let has_llm = a.synths.iter().any(|n| n == "llm");
    let candles = swing::load_klines(&a.candles)
        .with_context(|| format!("loading {}", a.candles.display()))?;
    let bar_ms = candles
        .windows(2)
        .take(1000)
        .map(|w| w[1].open_time_ms - w[0].open_time_ms)
        .filter(|d| *d > 0)
        .min()
        .context("need at least two candles")?;
    let mut cfg = ReplayConfig::new(&symbol);
    cfg.window = a.window;
    cfg.every = a.every;
    cfg.from_ms = a.from.as_deref().map(parse_time).transpose()?;
    cfg.to_ms = a.to.as_deref().map(parse_time).transpose()?;
    cfg.tracker = TrackerConfig {
        entry_tolerance_pct: a.entry_tolerance_pct,
        timeout_ms: a.timeout_hours * 3_600_000,
        breakeven_band_pct: a.breakeven_pct,
        bar_ms,
    };
    let mut refs: Vec<&mut dyn Synthesizer> = synths.iter_mut().map(|s| &mut **s as _).collect();

    // The real validator, on replay time (a signal's `created_ms` is its bar's close). One
    // rate limiter per variant: each A/B arm is validated as if it ran alone.
    let vcfg = ValidationConfig::default();
    let limiters: RefCell<BTreeMap<String, RateLimiter>> = RefCell::default();
    let validator = |s: &SwingSignal| {
        let mut limiters = limiters.borrow_mut();
        let limiter =
            limiters.entry(s.variant.clone()).or_insert_with(|| RateLimiter::from_config(&vcfg));
        validate(s, &vcfg, limiter, s.created_ms).map_err(|e| e.to_string())
    };
    // Learning: every closed math result updates the weights the synthesiser reads next.
    let mut updates = 0usize;
    let mut learn = |r: &ClosedResult| {
        if r.variant == MATH_VARIANT {
            lock(&env.math_weights).update(&r.theories, r.direction, r.pnl_pct);
            updates += 1;
        }
    };
    let weights_of =
        |v: &str| (v == MATH_VARIANT).then(|| lock(&env.math_weights).as_map().clone());
    let mut hooks = ReplayHooks {
        validate: Some(&validator),
        on_closed: has_math.then_some(&mut learn as &mut dyn FnMut(&ClosedResult)),
        weights: has_math.then_some(&weights_of as _),
    };
    let rep = replay(&candles, &mut refs, &mut store, &cfg, &mut hooks)?;
    let final_weights = lock(&env.math_weights).clone();
    let ledger = std::mem::take(&mut *lock(&env.ledger));
    if let Some(e) = &ledger.error {
        bail!("storing LLM usage failed during the replay (signals so far are stored): {e}");
    }
    if a.json {
        let mut v = serde_json::to_value(&rep)?;
        if has_math {
            v["math"] = serde_json::json!({
                "weights_initial": initial,
                "weights": final_weights,
                "updates": updates,
            });
        }
        if has_llm {
            v["llm_usage"] =
                serde_json::json!({ "rows": ledger.rows, "cost_usd": ledger.cost_usd });
        }
        println!("{v}");
    } else {
        println!("{rep}");
        if has_math {
            println!("math weights after {updates} updates (learned from closed results):");
            for (k, w) in final_weights.as_map() {
                println!("  {k:<18} {w:.4} (was {:.4})", initial.get(k));
            }
        }
        if has_llm {
            println!("LLM usage stored: {} calls, ${:.4}", ledger.rows, ledger.cost_usd);
        }
        println!("store: {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_and_format() {
        assert_eq!(parse_time("2024-05-01").unwrap(), 1_714_521_600_000);
        assert_eq!(parse_time("1714521600000").unwrap(), 1_714_521_600_000);
        assert_eq!(fmt_time(1_714_521_600_000 + 90 * 60_000), "2024-05-01 01:30");
        assert_eq!(fmt_time(parse_time("2000-02-29").unwrap()), "2000-02-29 00:00");
        for bad in ["2024-13-01", "2024-05", "yesterday", "1900-01-01"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn symbols_from_file_names() {
        assert_eq!(symbol_of(Path::new("/x/BTCUSDT_1h.csv.gz")).as_deref(), Some("BTCUSDT"));
        assert_eq!(symbol_of(Path::new("ethusdt.csv")).as_deref(), Some("ETHUSDT"));
    }

    #[test]
    fn synths_by_name() {
        let llm = LlmArgs {
            llm_base_url: "http://127.0.0.1:9".into(),
            llm_model: "m".into(),
            llm_timeout_secs: 1,
        };
        let mut env = SynthEnv {
            llm: &llm,
            key: None,
            store: None,
            math_weights: Arc::default(),
            ledger: Arc::default(),
        };
        assert!(make_synth("nope", &env).is_err());
        assert!(make_synth("test-composite-sign", &env).is_err(), "the fixture is gone");
        assert_eq!(make_synth("math", &env).unwrap().variant(), MATH_VARIANT);
        let e = make_synth("llm", &env).err().unwrap().to_string();
        assert!(e.contains("needs an LLM key"), "{e}");
        env.key = ApiKey::new("sk-unit");
        assert_eq!(make_synth("llm", &env).unwrap().variant(), "llm-m");
    }

    #[test]
    fn month_starts() {
        assert_eq!(month_start_ms(parse_time("2024-05-17").unwrap() + 5), 1_714_521_600_000);
        assert_eq!(month_start_ms(1_714_521_600_000), 1_714_521_600_000);
        assert_eq!(month_start_ms(1_714_521_600_000 - 1), parse_time("2024-04-01").unwrap());
    }
}
