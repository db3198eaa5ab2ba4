//! The hot-lane runtime: stages connected by bounded SPSC rings or fused into direct calls,
//! threads pinned and waiting by a chosen strategy, back-pressure that halts instead of
//! dropping, telemetry through rings to a control thread, and a graceful drain on shutdown.
//!
//! # Building a hot lane
//!
//! Stages implement [`Source`] (the head: polled) or [`Stage`] (one item in, any number out,
//! emitted into an [`Emit`]). The same stage objects run fused or split, chosen at start-up:
//!
//! ```
//! use crpbot_core::pipeline::*;
//!
//! struct Numbers(u64);
//! impl Source for Numbers {
//!     type Out = u64;
//!     fn poll<E: Emit<u64>>(&mut self, out: &mut E) -> Progress {
//!         if self.0 == 0 { return Progress::Finished; }
//!         self.0 -= 1;
//!         let _ = out.emit(self.0);
//!         Progress::Busy
//!     }
//! }
//! struct Double;
//! impl Stage for Double {
//!     type In = u64;
//!     type Out = u64;
//!     fn on_item<E: Emit<u64>>(&mut self, x: u64, out: &mut E) {
//!         if let Err(Full(_dropped)) = out.emit(2 * x) { /* counted; decide here */ }
//!     }
//! }
//! struct Sum(std::sync::Arc<std::sync::atomic::AtomicU64>);
//! impl Stage for Sum {
//!     type In = u64;
//!     type Out = ();
//!     fn on_item<E: Emit<()>>(&mut self, x: u64, _out: &mut E) {
//!         self.0.fetch_add(x, std::sync::atomic::Ordering::Relaxed);
//!     }
//! }
//!
//! let total = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
//! let (halt, _reset) = HaltFlag::new();
//! let config = PipelineConfig { topology: Topology::Split, wait: WaitStrategy::Yield, ..Default::default() };
//! let pipeline = PipelineBuilder::new(config, halt)
//!     .source("numbers", Numbers(100))
//!     .split("double", Double, EdgeKind::Data { spins: 1_000 })
//!     .split("sum", Sum(total.clone()), EdgeKind::Decision)
//!     .start()?;
//! let report = pipeline.join()?; // the source finishes; every group drains and returns
//! assert_eq!(total.load(std::sync::atomic::Ordering::Relaxed), 2 * (0..100).sum::<u64>());
//! assert_eq!(report.stage("sum").map(|s| s.items_in), Some(100));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Rules
//!
//! * Rings: rtrb, bounded, allocated at start-up. A full ring hands the value back
//!   ([`Full`]) after counting it; a [`EdgeKind::Decision`] edge also latches the [`HaltFlag`]
//!   and waits for room instead of dropping (RELIABILITY.md J10). See [`ring`](mod@ring).
//! * Threads: `Split` pins group `i` to `cores[i]` (core_affinity). Pinned threads wait with
//!   [`WaitStrategy::Spin`]; with fewer cores than groups use `Fused` (or `Auto`), never
//!   oversubscribed spinners — `start` refuses `Split` + `Spin` without a core per group.
//!   See [`wait`](mod@wait) for which strategy suits which topology.
//! * Telemetry: [`TelemetrySink`] per hot thread (drop-and-count), [`TelemetryCollector`] on the
//!   control thread.
//! * Async lane ↔ hot lane: [`Lane`]; the hot side only `try_push`/`try_pop`.
//! * Shutdown: [`Pipeline::stop`] drains; [`Pipeline::join`] returns per-stage counters.
//!
//! # Loom
//!
//! The park/unpark hand-shake and the latches are model-checked:
//! `RUSTFLAGS="--cfg loom" cargo test -p crpbot-core --release pipeline::loom`.
//! Under `cfg(loom)` only those protocol modules are compiled (through the `sync` shim).

#[cfg_attr(loom, allow(dead_code))]
mod control;
#[cfg_attr(loom, allow(dead_code))]
mod sync;
#[cfg_attr(loom, allow(dead_code))]
pub mod wait;

#[cfg(not(loom))]
mod chain;
#[cfg(not(loom))]
mod lane;
#[cfg(not(loom))]
pub mod ring;
#[cfg(not(loom))]
mod runtime;
#[cfg(not(loom))]
mod stage;
#[cfg(not(loom))]
mod telemetry;

#[cfg(all(loom, test))]
mod loom;
#[cfg(all(test, not(loom)))]
mod tests;

pub use control::{HaltFlag, HaltReset, Shutdown};
pub use wait::WaitStrategy;

#[cfg(not(loom))]
pub use chain::{Chain, Hop, Link, RingOut, Root, Terminal, Then};
#[cfg(not(loom))]
pub use lane::Lane;
#[cfg(not(loom))]
pub use ring::{Consumer, EdgeCounters, EdgeKind, Full, Producer, ring};
#[cfg(not(loom))]
pub use runtime::{
    Assembly, BuildError, ChainBuilder, EdgeReport, GroupEnv, GroupReport, JoinError, Pipeline,
    PipelineBuilder, PipelineConfig, PipelineReport, StageReport, Topology,
};
#[cfg(not(loom))]
pub use stage::{Emit, Progress, Source, Stage};
#[cfg(not(loom))]
pub use telemetry::{
    LATENCY_MAX_NS, LatencySummary, RegisterError, StageTelemetry, TelemetryCollector,
    TelemetryKind, TelemetryRecord, TelemetrySink, TelemetrySnapshot,
};
