//! crpbot-benches: the end-to-end latency harness behind `crpbot bench`.
//!
//! * [`harness`]: per-message stage [`Stamps`](harness::Stamps) taken with
//!   [`now_ns`](harness::now_ns), recorded into pre-sized HdrHistograms per stage by a
//!   [`LatencyRecorder`](harness::LatencyRecorder) (no allocation while recording; coordinated-
//!   omission correction for fixed-rate input from a [`Pacer`](harness::Pacer)), and the
//!   [`BenchReport`](harness::BenchReport) (tables and JSON, with the machine and git revision).
//! * [`compare`]: side-by-side comparisons in one run on the same input — our book vs a
//!   `BTreeMap` book, rtrb vs crossbeam vs std mpsc, crpbot's decoder vs simd-json vs
//!   serde_json — quoted as ratios.
//!
//! Criterion micro-benches live in each crate's own `benches/`; this crate measures whole
//! runs. Invariant: recording a message's stamps never allocates, locks or makes a syscall.
//! Boundary: reads recordings and `/proc` files and runs `git`; writes nothing itself.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod compare;
pub mod harness;
