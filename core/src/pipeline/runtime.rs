//! Configuration, start-up, the per-thread loops, and join.

use std::sync::Arc as StdArc;
use std::thread::{JoinHandle, Thread};
use std::time::Instant;

use super::chain::{Chain, Link, Root, Terminal, Then};
use super::control::{HaltFlag, Shutdown};
use super::ring::{Consumer, EdgeCounters, EdgeKind, Producer, ring};
use super::stage::{Progress, Source, Stage};
use super::sync::Arc;
use super::telemetry::{RegisterError, TelemetryCollector, TelemetryKind, TelemetrySink};
use super::wait::{ParkSlot, WaitStrategy, Waiter};
use crate::clock::{Clock, LiveClock};

/// How stage groups map onto threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topology {
    /// Every stage on one thread, each hand-off a direct call (no ring). The 2-core default:
    /// one core for the hot lane, one for everything else.
    Fused,
    /// One thread per group (a group starts at each `split`), rings between them, thread `i`
    /// pinned to `cores[i]`.
    Split,
    /// `Split` if `cores` has a core for every group, else `Fused`.
    Auto,
}

/// Pipeline start-up configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineConfig {
    /// Thread layout.
    pub topology: Topology,
    /// Cores to pin group threads to, in group order (empty: no pinning). `Fused` uses the first.
    pub cores: Vec<usize>,
    /// How idle threads wait.
    pub wait: WaitStrategy,
    /// Items per ring between groups.
    pub ring_capacity: usize,
    /// Records per telemetry ring.
    pub telemetry_capacity: usize,
    /// Time one item's pass through a group's chain every `sample_every` items (0: never).
    pub sample_every: u32,
    /// Items popped per round before the group's stages are polled.
    pub pop_batch: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            topology: Topology::Fused,
            cores: Vec::new(),
            wait: WaitStrategy::Spin,
            ring_capacity: 4096,
            telemetry_capacity: 1024,
            sample_every: 0,
            pop_batch: 64,
        }
    }
}

/// Starting a pipeline failed. Threads already started are stopped and joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// `ring_capacity` or `pop_batch` is 0.
    #[error("ring_capacity and pop_batch must be at least 1")]
    ZeroCapacity,
    /// A configured core is not available to this process.
    #[error("core {core} is not available to this process")]
    NoSuchCore {
        /// The core id.
        core: usize,
    },
    /// The available cores could not be listed.
    #[error("cannot list the available cores")]
    CoresUnknown,
    /// `Split` with `Spin` needs a dedicated core per group (fuse instead).
    #[error("split topology with spin waiting needs {groups} cores, {cores} configured")]
    SpinOversubscribed {
        /// Groups to run.
        groups: usize,
        /// Cores configured.
        cores: usize,
    },
    /// A thread could not be spawned.
    #[error("cannot spawn a stage thread: {0:?}")]
    Spawn(std::io::ErrorKind),
    /// Telemetry registration failed.
    #[error(transparent)]
    Telemetry(#[from] RegisterError),
}

/// Joining failed: a stage thread panicked (its rings were closed, so the others finished).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoinError {
    /// The named group's thread panicked.
    #[error("stage group {group} panicked")]
    Panicked {
        /// The group (its first stage's name).
        group: &'static str,
    },
}

/// Per-stage counters returned by [`Pipeline::join`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageReport {
    /// Stage name.
    pub name: &'static str,
    /// Index of the group (thread) it ran on.
    pub group: usize,
    /// Items it was handed (0 for the source).
    pub items_in: u64,
}

/// Per-ring counters returned by [`Pipeline::join`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdgeReport {
    /// Producing stage.
    pub from: &'static str,
    /// Consuming stage.
    pub to: &'static str,
    /// Edge kind.
    pub kind: EdgeKind,
    /// The producer's counters.
    pub counters: EdgeCounters,
    /// Items the consumer popped.
    pub popped: u64,
    /// Index of the consuming group.
    pub consumer_group: usize,
}

/// Per-thread counters returned by [`Pipeline::join`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupReport {
    /// Group index (0 = the source's group).
    pub index: usize,
    /// Its first stage's name.
    pub name: &'static str,
    /// Core it was to be pinned to.
    pub core: Option<usize>,
    /// True if pinning succeeded.
    pub pinned: bool,
    /// Loop rounds that did work.
    pub busy_rounds: u64,
    /// Loop rounds that found nothing.
    pub idle_rounds: u64,
    /// Times the thread parked.
    pub parks: u64,
    /// Items popped from its input ring (0 for the source's group).
    pub popped: u64,
}

/// Everything [`Pipeline::join`] returns, in pipeline order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PipelineReport {
    /// One per thread.
    pub groups: Vec<GroupReport>,
    /// One per stage, source first.
    pub stages: Vec<StageReport>,
    /// One per ring edge.
    pub edges: Vec<EdgeReport>,
}

impl PipelineReport {
    /// The stage named `name`.
    pub fn stage(&self, name: &str) -> Option<&StageReport> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// The edge into the stage named `to`.
    pub fn edge_into(&self, to: &str) -> Option<&EdgeReport> {
        self.edges.iter().find(|e| e.to == to)
    }
}

/// Collects configuration and handles before the stages are given.
#[derive(Debug)]
pub struct PipelineBuilder {
    config: PipelineConfig,
    halt: HaltFlag,
    shutdown: Shutdown,
    telemetry: TelemetryCollector,
    clock: ClockHandle,
}

/// The injected clock, shared by the group threads.
#[derive(Clone)]
struct ClockHandle(StdArc<dyn Clock>);

impl std::fmt::Debug for ClockHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClockHandle")
    }
}

impl ClockHandle {
    #[inline]
    fn now_ns(&self) -> i64 {
        self.0.now_ns()
    }
}

impl PipelineBuilder {
    /// A builder; full decision edges latch `halt`.
    pub fn new(config: PipelineConfig, halt: HaltFlag) -> PipelineBuilder {
        let telemetry = TelemetryCollector::new(config.telemetry_capacity);
        PipelineBuilder {
            config,
            halt,
            shutdown: Shutdown::new(),
            telemetry,
            clock: ClockHandle(StdArc::new(LiveClock)),
        }
    }

    /// Timestamps of the runtime's telemetry records come from `clock` (default: [`LiveClock`]).
    #[must_use]
    pub fn clock(mut self, clock: StdArc<dyn Clock>) -> PipelineBuilder {
        self.clock = ClockHandle(clock);
        self
    }

    /// The pipeline's stop token (for stages or the control plane that must see it).
    pub fn shutdown(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// The halt latch full decision edges set.
    pub fn halt_flag(&self) -> HaltFlag {
        self.halt.clone()
    }

    /// Registers a telemetry stage and returns its sink, to be moved into a stage object.
    pub fn telemetry_sink(&mut self, name: &'static str) -> Result<TelemetrySink, BuildError> {
        Ok(self.telemetry.sink(name)?)
    }

    /// Starts the chain with its source.
    pub fn source<S: Source>(self, name: &'static str, source: S) -> ChainBuilder<Root<S>> {
        ChainBuilder { builder: self, chain: Root { name, source } }
    }
}

/// A pipeline being described: add stages, then [`ChainBuilder::start`].
#[derive(Debug)]
pub struct ChainBuilder<C> {
    builder: PipelineBuilder,
    chain: C,
}

impl<C: Chain> ChainBuilder<C> {
    /// Appends a stage in the same group as the previous one (always a direct call).
    pub fn then<S: Stage<In = C::Out>>(
        self,
        name: &'static str,
        stage: S,
    ) -> ChainBuilder<Then<C, S>> {
        ChainBuilder {
            builder: self.builder,
            chain: Then { prev: self.chain, name, stage, boundary: None },
        }
    }

    /// Appends a stage that starts a new group: under `Split` a thread boundary with a ring
    /// whose full rule is `kind`; under `Fused` a direct call like [`ChainBuilder::then`].
    pub fn split<S: Stage<In = C::Out>>(
        self,
        name: &'static str,
        stage: S,
        kind: EdgeKind,
    ) -> ChainBuilder<Then<C, S>> {
        ChainBuilder {
            builder: self.builder,
            chain: Then { prev: self.chain, name, stage, boundary: Some(kind) },
        }
    }
}

impl<C: Chain<Out = ()>> ChainBuilder<C> {
    /// Validates the configuration, resolves the topology and starts the threads (tail group
    /// first). On error every thread already started is joined before returning.
    pub fn start(self) -> Result<Pipeline, BuildError> {
        let ChainBuilder { builder, chain } = self;
        let PipelineBuilder { config, halt, shutdown, mut telemetry, clock } = builder;
        if config.ring_capacity == 0 || config.pop_batch == 0 {
            return Err(BuildError::ZeroCapacity);
        }
        if !config.cores.is_empty() {
            let ids = core_affinity::get_core_ids().ok_or(BuildError::CoresUnknown)?;
            if let Some(&core) = config.cores.iter().find(|c| !ids.iter().any(|i| i.id == **c)) {
                return Err(BuildError::NoSuchCore { core });
            }
        }
        let groups = chain.boundaries() + 1;
        let split = match config.topology {
            Topology::Fused => false,
            Topology::Split => groups > 1,
            Topology::Auto => groups > 1 && config.cores.len() >= groups,
        };
        let n_groups = if split { groups } else { 1 };
        if split && config.wait == WaitStrategy::Spin && config.cores.len() < n_groups {
            return Err(BuildError::SpinOversubscribed {
                groups: n_groups,
                cores: config.cores.len(),
            });
        }
        let mut asm = Assembly {
            split,
            wait: config.wait,
            group: n_groups - 1,
            halt,
            shutdown: shutdown.clone(),
            config,
            telemetry: &mut telemetry,
            clock,
            spawned: Vec::new(),
        };
        let result = chain.assemble(Terminal, &mut asm);
        let threads = std::mem::take(&mut asm.spawned);
        let pipeline = Pipeline { threads, shutdown, telemetry: Some(telemetry) };
        match result {
            Ok(()) => Ok(pipeline),
            Err(e) => {
                pipeline.shutdown.abort();
                let _ = pipeline.join();
                Err(e)
            }
        }
    }
}

/// Start-up state while the chain is assembled (tail first).
#[derive(Debug)]
pub struct Assembly<'a> {
    pub(crate) split: bool,
    pub(crate) wait: WaitStrategy,
    group: usize,
    halt: HaltFlag,
    shutdown: Shutdown,
    config: PipelineConfig,
    telemetry: &'a mut TelemetryCollector,
    clock: ClockHandle,
    spawned: Vec<(&'static str, Thread, JoinHandle<PipelineReport>)>,
}

impl Assembly<'_> {
    /// Index of the group being assembled.
    pub(crate) fn current_group(&self) -> usize {
        self.group
    }

    /// A ring for an edge of `kind`.
    pub(crate) fn ring<T: Copy + Send>(&self, kind: EdgeKind) -> (Producer<T>, Consumer<T>) {
        ring(self.config.ring_capacity, kind, self.halt.clone(), self.shutdown.clone(), self.wait)
    }

    /// Spawns the current group's thread running `body`, then moves on to the previous group.
    pub(crate) fn spawn_group<F>(
        &mut self,
        name: &'static str,
        body: F,
    ) -> Result<(Thread, Arc<ParkSlot>), BuildError>
    where
        F: FnOnce(&mut GroupEnv, &mut PipelineReport) + Send + 'static,
    {
        let index = self.group;
        let core = match self.config.cores.len() {
            0 => None,
            n => self.config.cores.get(index % n).copied(),
        };
        let slot = ParkSlot::new();
        let sink = self.telemetry.sink(name)?;
        let env = GroupEnv {
            index,
            waiter: Waiter::new(self.wait, slot.clone()),
            shutdown: self.shutdown.clone(),
            sink,
            clock: self.clock.clone(),
            sample_every: self.config.sample_every,
            pop_batch: self.config.pop_batch,
            busy_rounds: 0,
            idle_rounds: 0,
            input_popped: None,
        };
        let handle = std::thread::Builder::new()
            .name(format!("crpbot-{name}"))
            .spawn(move || {
                let pinned = core
                    .is_some_and(|id| core_affinity::set_for_current(core_affinity::CoreId { id }));
                let mut env = env;
                let mut report = PipelineReport::default();
                body(&mut env, &mut report);
                env.flush_telemetry();
                report.groups.push(GroupReport {
                    index,
                    name,
                    core,
                    pinned,
                    busy_rounds: env.busy_rounds,
                    idle_rounds: env.idle_rounds,
                    parks: env.waiter.parks,
                    popped: env.input_popped.unwrap_or(0),
                });
                report
            })
            .map_err(|e| BuildError::Spawn(e.kind()))?;
        let thread = handle.thread().clone();
        self.spawned.push((name, thread.clone(), handle));
        self.group = self.group.saturating_sub(1);
        Ok((thread, slot))
    }
}

/// Busy rounds between the runtime's telemetry count records.
const TELEMETRY_EVERY: u64 = 4096;

/// One group thread's loop state.
#[derive(Debug)]
pub struct GroupEnv {
    pub(crate) index: usize,
    waiter: Waiter,
    shutdown: Shutdown,
    sink: TelemetrySink,
    clock: ClockHandle,
    sample_every: u32,
    pop_batch: usize,
    busy_rounds: u64,
    idle_rounds: u64,
    pub(crate) input_popped: Option<u64>,
}

impl GroupEnv {
    /// Sends the busy rounds not yet reported (the periodic records carry `TELEMETRY_EVERY`).
    fn flush_telemetry(&mut self) {
        let now = self.clock.now_ns();
        self.sink.record(TelemetryKind::Count, self.busy_rounds % TELEMETRY_EVERY, now);
    }

    #[inline]
    fn busy(&mut self) {
        self.busy_rounds += 1;
        self.waiter.reset();
        if self.busy_rounds.is_multiple_of(TELEMETRY_EVERY) {
            let now = self.clock.now_ns();
            self.sink.record(TelemetryKind::Count, TELEMETRY_EVERY, now);
        }
    }

    /// The source group's loop: poll until the source finishes or a stop is requested.
    pub(crate) fn run_source<S: Source, D: Link<S::Out>>(&mut self, source: &mut S, down: &mut D) {
        loop {
            if self.shutdown.is_stopping() {
                break;
            }
            let sample = self.sample_every != 0
                && (self.busy_rounds + 1).is_multiple_of(u64::from(self.sample_every));
            let t0 = sample.then(Instant::now);
            let p = source.poll(down);
            if let (Some(t0), Progress::Busy) = (t0, p) {
                let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
                let now = self.clock.now_ns();
                self.sink.record(TelemetryKind::LatencyNs, ns, now);
            }
            let rest = down.poll_link();
            match (p, rest) {
                (Progress::Finished, _) => break,
                (Progress::Busy, _) | (_, Progress::Busy) => self.busy(),
                _ => {
                    self.idle_rounds += 1;
                    self.waiter.idle(|| false);
                }
            }
        }
        down.finish_link();
    }

    /// A ring-fed group's loop: pop and process until the upstream thread has finished and the
    /// ring is drained (or the pipeline is aborted).
    pub(crate) fn run_ring<T: Copy + Send + 'static, L: Link<T>>(
        &mut self,
        input: &mut Consumer<T>,
        chain: &mut L,
    ) {
        let sample_every = u64::from(self.sample_every);
        let mut items: u64 = 0;
        loop {
            let mut n = 0;
            while n < self.pop_batch {
                let Some(v) = input.pop() else { break };
                n += 1;
                items += 1;
                if sample_every != 0 && items.is_multiple_of(sample_every) {
                    let t0 = Instant::now();
                    let _ = chain.emit(v);
                    let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    let now = self.clock.now_ns();
                    self.sink.record(TelemetryKind::LatencyNs, ns, now);
                } else {
                    let _ = chain.emit(v);
                }
            }
            let p = chain.poll_link();
            if n > 0 || p == Progress::Busy {
                self.busy();
                continue;
            }
            if self.shutdown.is_aborted() {
                break;
            }
            // Abandoned first: after that no push can follow, so an empty ring is final.
            if input.is_abandoned() && input.is_empty() {
                break;
            }
            self.idle_rounds += 1;
            self.waiter.idle(|| !input.is_empty() || input.is_abandoned());
        }
        chain.finish_link();
    }
}

/// A running pipeline.
#[derive(Debug)]
pub struct Pipeline {
    threads: Vec<(&'static str, Thread, JoinHandle<PipelineReport>)>,
    shutdown: Shutdown,
    telemetry: Option<TelemetryCollector>,
}

impl Pipeline {
    /// Takes the telemetry collector, to drain on a control thread (once).
    pub fn take_telemetry(&mut self) -> Option<TelemetryCollector> {
        self.telemetry.take()
    }

    /// The stop token.
    pub fn shutdown(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Graceful stop: sources stop, every group drains and returns. Wakes parked threads.
    pub fn stop(&self) {
        self.shutdown.stop();
        self.threads.iter().for_each(|(_, t, _)| t.unpark());
    }

    /// Hard stop: no draining; producers blocked on full decision edges hand their item back.
    pub fn abort(&self) {
        self.shutdown.abort();
        self.threads.iter().for_each(|(_, t, _)| t.unpark());
    }

    /// Waits for every thread (until the sources finish or [`Pipeline::stop`] is called) and
    /// returns the counters in pipeline order.
    pub fn join(self) -> Result<PipelineReport, JoinError> {
        let mut all = PipelineReport::default();
        let mut failed = None;
        for (name, _, handle) in self.threads {
            match handle.join() {
                Ok(r) => {
                    all.groups.extend(r.groups);
                    all.stages.extend(r.stages);
                    all.edges.extend(r.edges);
                }
                Err(_) => failed = Some(name),
            }
        }
        if let Some(group) = failed {
            return Err(JoinError::Panicked { group });
        }
        all.groups.sort_by_key(|g| g.index);
        all.stages.sort_by_key(|s| s.group);
        for e in &mut all.edges {
            if let Some(g) = all.groups.iter().find(|g| g.index == e.consumer_group) {
                e.popped = g.popped;
            }
        }
        all.edges.sort_by_key(|e| e.consumer_group);
        Ok(all)
    }
}
