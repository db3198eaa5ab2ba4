//! Builder plumbing: how a chain of stages becomes threads.
//!
//! The builder nests to the left (`Then<Then<Root<A>, B>, C>`); [`Chain::assemble`] walks it from
//! the tail, wrapping each stage around its downstream [`Link`]: the next stage itself when the
//! edge is fused (a direct, inlined call), or a ring [`Producer`] when the edge is a thread
//! boundary, in which case the downstream part is spawned on its own thread first. These types
//! are public only because the builder's type names them; integrators never use them directly.

use super::ring::{EdgeKind, Full, Producer};
use super::runtime::{Assembly, BuildError, PipelineReport, StageReport};
use super::stage::{Emit, Progress, Source, Stage};

mod sealed {
    pub trait Sealed {}
}

/// A downstream piece of a thread's fused chain. Sealed.
pub trait Link<T>: Emit<T> + Send + 'static + sealed::Sealed {
    /// Polls every stage of the piece (timers); `Busy` if any did work.
    fn poll_link(&mut self) -> Progress;
    /// Input drained: finish every stage of the piece, in order.
    fn finish_link(&mut self);
    /// Consumes the piece into the report (drops ring producers, waking their consumers).
    fn collect(self, report: &mut PipelineReport);
}

/// A stage wrapped around its downstream.
#[derive(Debug)]
pub struct Hop<S, D> {
    stage: S,
    down: D,
    name: &'static str,
    group: usize,
    items_in: u64,
}

impl<S, D> sealed::Sealed for Hop<S, D> {}

impl<S: Stage, D: Link<S::Out>> Emit<S::In> for Hop<S, D> {
    #[inline]
    fn emit(&mut self, item: S::In) -> Result<(), Full<S::In>> {
        self.items_in += 1;
        self.stage.on_item(item, &mut self.down);
        Ok(())
    }
}

impl<S: Stage, D: Link<S::Out>> Link<S::In> for Hop<S, D> {
    #[inline]
    fn poll_link(&mut self) -> Progress {
        let mine = self.stage.poll(&mut self.down);
        let rest = self.down.poll_link();
        if mine == Progress::Busy || rest == Progress::Busy {
            Progress::Busy
        } else {
            Progress::Idle
        }
    }

    fn finish_link(&mut self) {
        self.stage.finish(&mut self.down);
        self.down.finish_link();
    }

    fn collect(self, report: &mut PipelineReport) {
        report.stages.push(StageReport {
            name: self.name,
            group: self.group,
            items_in: self.items_in,
        });
        self.down.collect(report);
    }
}

/// A ring producer at the end of a thread's chain.
#[derive(Debug)]
pub struct RingOut<T> {
    pub(crate) producer: Producer<T>,
    pub(crate) from: &'static str,
    pub(crate) to: &'static str,
    pub(crate) consumer_group: usize,
}

impl<T> sealed::Sealed for RingOut<T> {}

impl<T: Copy + Send + 'static> Emit<T> for RingOut<T> {
    #[inline]
    fn emit(&mut self, item: T) -> Result<(), Full<T>> {
        self.producer.push(item)
    }
}

impl<T: Copy + Send + 'static> Link<T> for RingOut<T> {
    #[inline]
    fn poll_link(&mut self) -> Progress {
        Progress::Idle
    }

    fn finish_link(&mut self) {}

    fn collect(self, report: &mut PipelineReport) {
        report.edges.push(super::runtime::EdgeReport {
            from: self.from,
            to: self.to,
            kind: self.producer.kind(),
            counters: self.producer.counters(),
            popped: 0,
            consumer_group: self.consumer_group,
        });
    }
}

/// The end of the pipeline: the last stage has `Out = ()`.
#[derive(Debug, Default)]
pub struct Terminal;

impl sealed::Sealed for Terminal {}

impl Emit<()> for Terminal {
    #[inline]
    fn emit(&mut self, _item: ()) -> Result<(), Full<()>> {
        Ok(())
    }
}

impl Link<()> for Terminal {
    #[inline]
    fn poll_link(&mut self) -> Progress {
        Progress::Idle
    }
    fn finish_link(&mut self) {}
    fn collect(self, _report: &mut PipelineReport) {}
}

/// A chain under construction (left-nested). Sealed.
pub trait Chain: Send + 'static + sealed::Sealed {
    /// What its last stage produces.
    type Out: Copy + Send + 'static;
    /// Number of thread-boundary edges (`split` calls).
    fn boundaries(&self) -> usize;
    /// Name of the last stage.
    fn last_name(&self) -> &'static str;
    /// Wraps the chain around `down` and spawns its threads (tail first).
    fn assemble<D: Link<Self::Out>>(
        self,
        down: D,
        asm: &mut Assembly<'_>,
    ) -> Result<(), BuildError>;
}

/// The first element: a source.
#[derive(Debug)]
pub struct Root<S> {
    pub(crate) name: &'static str,
    pub(crate) source: S,
}

impl<S> sealed::Sealed for Root<S> {}

impl<S: Source> Chain for Root<S> {
    type Out = S::Out;

    fn boundaries(&self) -> usize {
        0
    }

    fn last_name(&self) -> &'static str {
        self.name
    }

    fn assemble<D: Link<S::Out>>(self, down: D, asm: &mut Assembly<'_>) -> Result<(), BuildError> {
        let name = self.name;
        let mut source = self.source;
        asm.spawn_group(name, move |env, report| {
            report.stages.push(StageReport { name, group: env.index, items_in: 0 });
            let mut down = down;
            env.run_source(&mut source, &mut down);
            down.collect(report);
        })
        .map(|_| ())
    }
}

/// A stage appended to a chain; `boundary` is the edge into it if it starts a new group.
#[derive(Debug)]
pub struct Then<C, S> {
    pub(crate) prev: C,
    pub(crate) name: &'static str,
    pub(crate) stage: S,
    pub(crate) boundary: Option<EdgeKind>,
}

impl<C, S> sealed::Sealed for Then<C, S> {}

impl<C: Chain, S: Stage<In = C::Out>> Chain for Then<C, S> {
    type Out = S::Out;

    fn boundaries(&self) -> usize {
        self.prev.boundaries() + usize::from(self.boundary.is_some())
    }

    fn last_name(&self) -> &'static str {
        self.name
    }

    fn assemble<D: Link<S::Out>>(self, down: D, asm: &mut Assembly<'_>) -> Result<(), BuildError> {
        let from = self.prev.last_name();
        match self.boundary {
            Some(kind) if asm.split => {
                let group = asm.current_group();
                let hop = Hop { stage: self.stage, down, name: self.name, group, items_in: 0 };
                let (producer, mut consumer) = asm.ring::<S::In>(kind);
                let name = self.name;
                let (thread, slot) = asm.spawn_group(name, move |env, report| {
                    let mut hop = hop;
                    env.run_ring(&mut consumer, &mut hop);
                    env.input_popped = Some(consumer.popped());
                    hop.collect(report);
                })?;
                let mut producer = producer;
                if asm.wait.parks() {
                    producer.set_notifier(slot, thread);
                }
                let out = RingOut { producer, from, to: self.name, consumer_group: group };
                self.prev.assemble(out, asm)
            }
            _ => {
                let group = asm.current_group();
                let hop = Hop { stage: self.stage, down, name: self.name, group, items_in: 0 };
                self.prev.assemble(hop, asm)
            }
        }
    }
}
