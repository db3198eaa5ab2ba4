//! The bench report: runs, comparisons, the machine; printed as tables or written as JSON.
//!
//! # JSON schema (stable field names)
//!
//! ```text
//! {
//!   "machine": { "cpu_model": str, "cores": int, "kernel": str, "os": str, "arch": str,
//!                "rustc": str, "load_avg": [f64; 3] | null },
//!   "git_rev": str,                       // short hash, "-dirty" suffix, or "unknown"
//!   "started_utc": str,                   // RFC 3339, "2026-11-21T15:05:00Z"
//!   "command": str,
//!   "runs": [ { "topology": str, "wait": str, "input": str, "rate": int | null,
//!               "messages": int, "events": int, "elapsed_s": f64,
//!               "throughput_msgs_per_s": f64,
//!               "stages": [ { "stage": str, "count": int, "p50_ns": int, "p90_ns": int,
//!                             "p99_ns": int, "p999_ns": int, "max_ns": int, "mean_ns": f64,
//!                             "clamped": int, "negative": int, "corrected": int } ],
//!               "notes": [str] } ],
//!   "comparisons": [ { "name": str, "unit": str,
//!                      "entries": [ { "name": str, "median_ns": f64, "p99_ns": f64,
//!                                     "mean_ns": f64, "samples": int } ],
//!                      "ratios": [ [str, f64] ],   // e.g. ["btreemap/crpbot", 5.0]
//!                      "notes": [str] } ]
//! }
//! ```
//!
//! Stage names are those of [`StageId::name`](super::StageId::name); all seven are present in
//! every run, with zeros for stages a run did not reach.

use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use super::machine::{MachineInfo, git_rev, utc_now};
use super::recorder::StageSummary;

/// One measured pipeline run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// `fused` or `split` (as the pipeline was configured).
    pub topology: String,
    /// Wait strategy of the stage threads (`spin`, `spin_then_park`, `yield`).
    pub wait: String,
    /// What was fed in (a recording path, `sim`, ...).
    pub input: String,
    /// Fixed input rate in messages per second, `None` for as-fast-as-possible.
    pub rate: Option<u64>,
    /// Input messages (frames) processed.
    pub messages: u64,
    /// Normalized events they produced.
    pub events: u64,
    /// Wall time of the run, seconds.
    pub elapsed_s: f64,
    /// `messages / elapsed_s`.
    pub throughput_msgs_per_s: f64,
    /// Per-stage percentiles ([`LatencyRecorder::summary`](super::LatencyRecorder::summary)).
    pub stages: Vec<StageSummary>,
    /// Anything a reader must know (pacer fell behind, drops, load, clock cost).
    pub notes: Vec<String>,
}

/// One side of a [`Comparison`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComparisonEntry {
    /// What was measured (`crpbot`, `btreemap`, `rtrb`, `serde_json`, ...).
    pub name: String,
    /// Median of the samples, ns (per the comparison's `unit`).
    pub median_ns: f64,
    /// 99th percentile of the samples, ns.
    pub p99_ns: f64,
    /// Mean, ns.
    pub mean_ns: f64,
    /// Samples taken.
    pub samples: u64,
}

/// Several implementations measured in one process on the same input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// `book_vs_btreemap`, `hop`, `decode`.
    pub name: String,
    /// What one sample is, e.g. `ns per level update`.
    pub unit: String,
    /// One per implementation.
    pub entries: Vec<ComparisonEntry>,
    /// Median ratios `"slower/faster"`, e.g. `("btreemap/crpbot", 5.0)`.
    pub ratios: Vec<(String, f64)>,
    /// How it was sampled, input sizes, caveats.
    pub notes: Vec<String>,
}

impl Comparison {
    /// The entry named `name`.
    pub fn entry(&self, name: &str) -> Option<&ComparisonEntry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// The ratio named `name` (e.g. `"btreemap/crpbot"`).
    pub fn ratio(&self, name: &str) -> Option<f64> {
        self.ratios.iter().find(|(n, _)| n == name).map(|&(_, r)| r)
    }
}

/// Everything one `crpbot bench` invocation measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    /// The machine.
    pub machine: MachineInfo,
    /// [`git_rev`] at start.
    pub git_rev: String,
    /// Start time, RFC 3339 UTC.
    pub started_utc: String,
    /// The command line (or a description of it).
    pub command: String,
    /// Pipeline runs.
    pub runs: Vec<RunResult>,
    /// Side-by-side comparisons.
    pub comparisons: Vec<Comparison>,
}

impl BenchReport {
    /// An empty report stamped with this machine, the git revision and the time now.
    pub fn new(command: impl Into<String>) -> BenchReport {
        BenchReport {
            machine: MachineInfo::detect(),
            git_rev: git_rev(),
            started_utc: utc_now(),
            command: command.into(),
            runs: Vec::new(),
            comparisons: Vec::new(),
        }
    }

    /// Pretty JSON (schema in the module docs).
    ///
    /// # Errors
    /// As `serde_json::to_string_pretty` (not expected: every field is serialisable; a NaN
    /// float is written as `null`).
    pub fn to_json_pretty(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    /// Parses a report written by [`BenchReport::to_json_pretty`].
    ///
    /// # Errors
    /// Malformed JSON or a missing field.
    pub fn from_json(text: &str) -> Result<BenchReport, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Human-readable tables: the machine, then one table per run (stage, count, p50, p90, p99,
    /// p99.9, max, and the throughput), then one per comparison.
    ///
    /// # Errors
    /// Errors of `w`.
    pub fn print_table(&self, w: &mut impl Write) -> io::Result<()> {
        let m = &self.machine;
        writeln!(w, "command: {}", self.command)?;
        writeln!(
            w,
            "machine: {} | {} cores | {} {} {} | {}",
            m.cpu_model, m.cores, m.os, m.arch, m.kernel, m.rustc
        )?;
        let load = m
            .load_avg
            .map(|l| format!("{:.2} {:.2} {:.2}", l[0], l[1], l[2]))
            .unwrap_or_else(|| "unknown".to_owned());
        writeln!(
            w,
            "git: {} | started: {} | load average at start: {load}",
            self.git_rev, self.started_utc
        )?;
        for (i, run) in self.runs.iter().enumerate() {
            writeln!(w)?;
            print_run(w, i + 1, run)?;
        }
        for c in &self.comparisons {
            writeln!(w)?;
            print_comparison(w, c)?;
        }
        Ok(())
    }
}

fn print_run(w: &mut impl Write, n: usize, run: &RunResult) -> io::Result<()> {
    let rate = run.rate.map(|r| format!("{} msg/s", fmt_count(r))).unwrap_or_else(|| "max".into());
    writeln!(
        w,
        "run {n}: topology {} | wait {} | input {} | rate {rate}",
        run.topology, run.wait, run.input
    )?;
    writeln!(
        w,
        "  {} messages, {} events in {:.3} s: throughput {}",
        fmt_count(run.messages),
        fmt_count(run.events),
        run.elapsed_s,
        fmt_rate(run.throughput_msgs_per_s)
    )?;
    writeln!(
        w,
        "  {:<17} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "stage", "count", "p50", "p90", "p99", "p99.9", "max"
    )?;
    let mut not_reached = Vec::new();
    for s in &run.stages {
        if s.count == 0 {
            not_reached.push(s.stage.as_str());
            continue;
        }
        writeln!(
            w,
            "  {:<17} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9}",
            s.stage,
            s.count,
            fmt_ns(s.p50_ns),
            fmt_ns(s.p90_ns),
            fmt_ns(s.p99_ns),
            fmt_ns(s.p999_ns),
            fmt_ns(s.max_ns)
        )?;
        if s.clamped + s.negative + s.corrected > 0 {
            writeln!(
                w,
                "  {:<17} clamped {} | negative {} | synthetic (CO-corrected) {}",
                "", s.clamped, s.negative, s.corrected
            )?;
        }
    }
    if !not_reached.is_empty() {
        writeln!(w, "  not reached: {}", not_reached.join(", "))?;
    }
    for note in &run.notes {
        writeln!(w, "  note: {note}")?;
    }
    Ok(())
}

fn print_comparison(w: &mut impl Write, c: &Comparison) -> io::Result<()> {
    writeln!(w, "comparison {} ({})", c.name, c.unit)?;
    writeln!(
        w,
        "  {:<20} {:>10} {:>10} {:>10} {:>11}",
        "entry", "median", "p99", "mean", "samples"
    )?;
    for e in &c.entries {
        writeln!(
            w,
            "  {:<20} {:>10} {:>10} {:>10} {:>11}",
            e.name,
            fmt_ns_f64(e.median_ns),
            fmt_ns_f64(e.p99_ns),
            fmt_ns_f64(e.mean_ns),
            e.samples
        )?;
    }
    for (name, r) in &c.ratios {
        writeln!(w, "  ratio {name}: {r:.2}x")?;
    }
    for note in &c.notes {
        writeln!(w, "  note: {note}")?;
    }
    Ok(())
}

/// Nanoseconds in a human unit with three significant digits: `944 ns`, `3.36 µs`, `12.4 ms`,
/// `1.50 s`.
///
/// # Examples
/// ```
/// use crpbot_benches::harness::fmt_ns;
/// assert_eq!(fmt_ns(944), "944 ns");
/// assert_eq!(fmt_ns(3_357), "3.36 µs");
/// assert_eq!(fmt_ns(12_372_000), "12.4 ms");
/// ```
pub fn fmt_ns(ns: u64) -> String {
    fmt_ns_f64(ns as f64)
}

/// [`fmt_ns`] for fractional values (`16.0 ns`).
pub fn fmt_ns_f64(ns: f64) -> String {
    if !ns.is_finite() {
        return "-".to_owned();
    }
    let (v, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    if unit == "ns" && (ns >= 100.0 || ns.fract() == 0.0) {
        format!("{ns:.0} ns")
    } else if v < 10.0 {
        format!("{v:.2} {unit}")
    } else if v < 100.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.0} {unit}")
    }
}

/// A rate in messages per second: `670 msg/s`, `52.7 k msg/s`, `1.55 M msg/s`.
pub fn fmt_rate(per_s: f64) -> String {
    if !per_s.is_finite() {
        return "-".to_owned();
    }
    let (v, unit) = if per_s < 1e3 {
        return format!("{per_s:.0} msg/s");
    } else if per_s < 1e6 {
        (per_s / 1e3, "k")
    } else {
        (per_s / 1e6, "M")
    };
    if v < 10.0 {
        format!("{v:.2} {unit} msg/s")
    } else if v < 100.0 {
        format!("{v:.1} {unit} msg/s")
    } else {
        format!("{v:.0} {unit} msg/s")
    }
}

/// An integer with thousands separators: `1,234,567`.
fn fmt_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(fmt_ns(0), "0 ns");
        assert_eq!(fmt_ns(999), "999 ns");
        assert_eq!(fmt_ns(1_000), "1.00 µs");
        assert_eq!(fmt_ns(44_924), "44.9 µs");
        assert_eq!(fmt_ns(123_456), "123 µs");
        assert_eq!(fmt_ns(1_500_000_000), "1.50 s");
        assert_eq!(fmt_ns(60_000_000_000), "60.0 s");
        assert_eq!(fmt_ns_f64(16.04), "16.0 ns");
        assert_eq!(fmt_ns_f64(7.5), "7.50 ns");
        assert_eq!(fmt_ns_f64(79.8), "79.8 ns");
        assert_eq!(fmt_ns_f64(f64::NAN), "-");
        assert_eq!(fmt_rate(670_000.0), "670 k msg/s");
        assert_eq!(fmt_rate(1_550_000.0), "1.55 M msg/s");
        assert_eq!(fmt_rate(52_700.0), "52.7 k msg/s");
        assert_eq!(fmt_rate(12.0), "12 msg/s");
        assert_eq!(fmt_count(0), "0");
        assert_eq!(fmt_count(999), "999");
        assert_eq!(fmt_count(1_234_567), "1,234,567");
    }
}
