//! crpbot-benches: the end-to-end latency harness behind `crpbot bench`.
//!
//! What will live here: per-stage timestamps (decode, book apply, signals, risk verdict,
//! journal append) recorded into pre-sized HdrHistograms, fixed-rate load from the simulator
//! with coordinated-omission correction, and side-by-side comparisons (book vs `BTreeMap`,
//! rtrb vs crossbeam vs std mpsc, simd-json vs serde_json). Criterion micro-benches live in
//! each crate's own `benches/`.
#![forbid(unsafe_code)]
