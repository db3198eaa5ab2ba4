//! The latency harness: stage timestamps, per-stage HdrHistograms, fixed-rate pacing, and the
//! report (tables and JSON) with the machine it was measured on.
//!
//! How the pieces fit (the integrator's `crpbot bench` drives them):
//!
//! ```
//! use crpbot_benches::harness::*;
//!
//! let mut pacer = Pacer::new(1_000_000, PaceWait::Spin)?; // 1 M msg/s
//! // All histograms are allocated here; fixed rate: coordinated-omission correction on.
//! let mut rec = LatencyRecorder::new()?.with_expected_interval(pacer.interval_ns());
//! for _ in 0..100 {
//!     pacer.wait_next();                                  // waits until due
//!     let mut s = Stamps { ingress: now_ns(), ..Stamps::default() }; // actual release
//!     s.decoded = now_ns();                          // ... each stage stamps its exit
//!     s.booked = now_ns();
//!     rec.record(&s);                                // no allocation
//! }
//! let mut report = BenchReport::new("doc example");
//! report.runs.push(RunResult {
//!     topology: "fused".into(), wait: "spin".into(), input: "synthetic".into(),
//!     rate: Some(pacer.rate()), messages: 100, events: 100, elapsed_s: 1e-4,
//!     throughput_msgs_per_s: 1e6, stages: rec.summary(),
//!     notes: pacer.behind_note().into_iter().collect(),
//! });
//! let mut out = Vec::new();
//! report.print_table(&mut out)?;
//! assert!(String::from_utf8_lossy(&out).contains("decode"));
//! assert!(report.to_json_pretty()?.contains("\"p99_ns\""));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod clock;
mod machine;
mod pacer;
mod recorder;
mod report;
mod stamps;

pub use clock::{measure_now_ns_cost, now_ns};
pub use machine::{MachineInfo, git_rev, utc_now};
pub use pacer::{PaceWait, Pacer, PacerError, PacerStats};
pub use recorder::{
    LATENCY_MAX_NS, LatencyRecorder, MergeError, RecorderError, SIGNIFICANT_DIGITS, StageSummary,
};
pub use report::{
    BenchReport, Comparison, ComparisonEntry, RunResult, fmt_ns, fmt_ns_f64, fmt_rate,
};
pub use stamps::{StageId, Stamps};
