//! Command-line options shared by every command that runs the engine.

use clap::{Args, ValueEnum};
use crpbot_core::Registry;
use crpbot_core::pipeline::WaitStrategy;

use crate::engine::{CoreOptions, EngineConfig, JournalOptions, SourceSpec};

pub use crate::engine::Layout as TopologyArg;

/// Spin-then-park as the engine uses it: a few thousand idle rounds, then park up to 1 ms.
const PARK: WaitStrategy =
    WaitStrategy::SpinThenPark { spins: 4096, park: std::time::Duration::from_millis(1) };

/// How idle stage threads wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WaitArg {
    /// Busy-spin (needs a core per thread).
    Spin,
    /// Spin briefly, then park (for shared or small machines).
    SpinThenPark,
    /// Yield to the scheduler.
    Yield,
}

/// `--topology`, `--wait`, `--cores`.
#[derive(Clone, Debug, Args)]
pub struct EngineArgs {
    /// Thread layout: fused (one thread), pair (feed + core | journal: two threads, the 2-core
    /// split) or split (feed | core | journal: three threads).
    #[arg(long, value_enum, default_value = "fused")]
    pub topology: TopologyArg,
    /// Wait strategy of idle threads (default: spin when every thread has its own core in
    /// --cores, else spin-then-park).
    #[arg(long, value_enum)]
    pub wait: Option<WaitArg>,
    /// Cores to pin the stage threads to, in stage order (e.g. 0,1,1 is refused with spin).
    #[arg(long, value_delimiter = ',')]
    pub cores: Vec<usize>,
}

impl EngineArgs {
    /// The thread layout.
    pub fn topology(&self) -> TopologyArg {
        self.topology
    }

    /// The wait strategy (see the flag's default).
    pub fn wait(&self) -> WaitStrategy {
        let threads = self.topology.threads();
        match self.wait {
            Some(WaitArg::Spin) => WaitStrategy::Spin,
            Some(WaitArg::SpinThenPark) => PARK,
            Some(WaitArg::Yield) => WaitStrategy::Yield,
            None if self.cores.len() >= threads => WaitStrategy::Spin,
            None => PARK,
        }
    }

    /// An engine run of `source` laid out as these flags say, with default core, journal and
    /// ring options (callers override the fields they set).
    pub fn config(&self, source: SourceSpec, registry: Registry) -> EngineConfig {
        EngineConfig {
            source,
            registry,
            topology: self.topology(),
            wait: self.wait(),
            cores: self.cores.clone(),
            ring_capacity: EngineConfig::RING_CAPACITY,
            core: CoreOptions::default(),
            journal: JournalOptions::default(),
            max_wall: None,
            swing: None,
            check: None,
        }
    }

    /// "fused", "pair" or "split".
    pub fn topology_name(&self) -> &'static str {
        self.topology.name()
    }
}
