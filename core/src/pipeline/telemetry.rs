//! Telemetry off the hot path: hot threads push fixed-size [`TelemetryRecord`]s into their own
//! SPSC ring through a [`TelemetrySink`]; a control thread drains every ring with a
//! [`TelemetryCollector`], which keeps counters, gauges and HdrHistogram latencies per stage and
//! returns a [`TelemetrySnapshot`] (formatted by `Display`, on the control thread).
//!
//! Telemetry is the one thing that may be dropped: a full sink drops the record and counts it.
//! Histograms are created with bounds when a sink is registered, so recording never allocates
//! (HdrHistogram's per-thread `Recorder` is the model).

use std::fmt;

use crossbeam_utils::CachePadded;
use hdrhistogram::Histogram;

use super::sync::{Arc, Ordering};
use std::sync::atomic::AtomicU64;

/// Latencies above this (one minute) are clamped to it.
pub const LATENCY_MAX_NS: u64 = 60_000_000_000;

/// What a record's `value` means.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TelemetryKind {
    /// Added to the stage's counter.
    Count = 0,
    /// Replaces the stage's gauge (a queue depth, a position).
    Gauge = 1,
    /// A latency in nanoseconds, recorded into the stage's histogram.
    LatencyNs = 2,
}

/// One telemetry record: 24 bytes, `Copy`, no heap.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TelemetryRecord {
    /// When it was taken (nanoseconds since the Unix epoch, from the injected clock; 0 if the
    /// producer has none).
    pub ts_ns: i64,
    /// The measurement.
    pub value: u64,
    /// The stage it belongs to (from [`TelemetrySink::stage_id`]).
    pub stage_id: u16,
    /// How to aggregate `value`.
    pub kind: TelemetryKind,
    /// Padding, always zero.
    pub _pad: [u8; 5],
}

/// A hot thread's telemetry ring. `record` never blocks and never allocates.
#[derive(Debug)]
pub struct TelemetrySink {
    ring: rtrb::Producer<TelemetryRecord>,
    dropped: Arc<CachePadded<AtomicU64>>,
    stage_id: u16,
}

impl TelemetrySink {
    /// The stage id this sink was registered under.
    pub fn stage_id(&self) -> u16 {
        self.stage_id
    }

    /// Pushes one record for this sink's stage; drops and counts it if the ring is full.
    /// Returns false if dropped.
    #[inline]
    pub fn record(&mut self, kind: TelemetryKind, value: u64, ts_ns: i64) -> bool {
        let rec = TelemetryRecord { ts_ns, value, stage_id: self.stage_id, kind, _pad: [0; 5] };
        if self.ring.push(rec).is_ok() {
            true
        } else {
            // Single writer: a load and a store, no read-modify-write.
            let n = self.dropped.load(Ordering::Relaxed);
            self.dropped.store(n + 1, Ordering::Relaxed);
            false
        }
    }
}

#[derive(Debug)]
struct StageAgg {
    name: &'static str,
    count: u64,
    gauge: u64,
    records: u64,
    latency: Histogram<u64>,
}

/// The control-thread side: registers stages (handing out sinks) and drains them.
#[derive(Debug)]
pub struct TelemetryCollector {
    capacity: usize,
    rings: Vec<rtrb::Consumer<TelemetryRecord>>,
    dropped: Vec<Arc<CachePadded<AtomicU64>>>,
    stages: Vec<StageAgg>,
    unknown_stage: u64,
}

/// Registering a telemetry stage failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// More than `u16::MAX` stages.
    #[error("too many telemetry stages")]
    TooManyStages,
    /// The histogram bounds were rejected (cannot happen with the built-in bounds).
    #[error("cannot create the latency histogram")]
    Histogram,
}

impl TelemetryCollector {
    /// A collector whose sinks hold `ring_capacity` records each.
    pub fn new(ring_capacity: usize) -> TelemetryCollector {
        TelemetryCollector {
            capacity: ring_capacity.max(1),
            rings: Vec::new(),
            dropped: Vec::new(),
            stages: Vec::new(),
            unknown_stage: 0,
        }
    }

    /// Registers a stage named `name` and returns its sink (allocates: start-up only).
    pub fn sink(&mut self, name: &'static str) -> Result<TelemetrySink, RegisterError> {
        let stage_id =
            u16::try_from(self.stages.len()).map_err(|_| RegisterError::TooManyStages)?;
        let latency = Histogram::new_with_bounds(1, LATENCY_MAX_NS, 3)
            .map_err(|_| RegisterError::Histogram)?;
        self.stages.push(StageAgg { name, count: 0, gauge: 0, records: 0, latency });
        let (p, c) = rtrb::RingBuffer::new(self.capacity);
        let dropped = Arc::new(CachePadded::new(AtomicU64::new(0)));
        self.rings.push(c);
        self.dropped.push(dropped.clone());
        Ok(TelemetrySink { ring: p, dropped, stage_id })
    }

    /// Drains every sink's ring into the aggregates; returns the number of records taken.
    pub fn drain(&mut self) -> usize {
        let mut n = 0;
        for ring in &mut self.rings {
            while let Ok(rec) = ring.pop() {
                n += 1;
                let Some(agg) = self.stages.get_mut(usize::from(rec.stage_id)) else {
                    self.unknown_stage += 1;
                    continue;
                };
                agg.records += 1;
                match rec.kind {
                    TelemetryKind::Count => agg.count = agg.count.wrapping_add(rec.value),
                    TelemetryKind::Gauge => agg.gauge = rec.value,
                    TelemetryKind::LatencyNs => agg.latency.saturating_record(rec.value.max(1)),
                }
            }
        }
        n
    }

    /// Records dropped by full sinks so far, over all stages.
    pub fn dropped(&self) -> u64 {
        self.dropped.iter().map(|d| d.load(Ordering::Relaxed)).sum()
    }

    /// The aggregates so far (allocates: control thread only).
    pub fn snapshot(&self) -> TelemetrySnapshot {
        let stages = self
            .stages
            .iter()
            .zip(&self.dropped)
            .enumerate()
            .map(|(i, (a, d))| StageTelemetry {
                stage_id: u16::try_from(i).unwrap_or(u16::MAX),
                name: a.name,
                records: a.records,
                count: a.count,
                gauge: a.gauge,
                dropped: d.load(Ordering::Relaxed),
                latency: LatencySummary {
                    samples: a.latency.len(),
                    p50_ns: a.latency.value_at_quantile(0.50),
                    p99_ns: a.latency.value_at_quantile(0.99),
                    p999_ns: a.latency.value_at_quantile(0.999),
                    max_ns: a.latency.max(),
                },
            })
            .collect();
        TelemetrySnapshot { stages, unknown_stage: self.unknown_stage }
    }
}

/// Latency percentiles of one stage (0 where there are no samples).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatencySummary {
    /// Samples recorded.
    pub samples: u64,
    /// Median.
    pub p50_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// 99.9th percentile.
    pub p999_ns: u64,
    /// Largest sample (to the histogram's precision).
    pub max_ns: u64,
}

/// Aggregates of one registered stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageTelemetry {
    /// Its id.
    pub stage_id: u16,
    /// Its name.
    pub name: &'static str,
    /// Records received.
    pub records: u64,
    /// Sum of `Count` records.
    pub count: u64,
    /// Last `Gauge` value.
    pub gauge: u64,
    /// Records its sink dropped.
    pub dropped: u64,
    /// `LatencyNs` percentiles.
    pub latency: LatencySummary,
}

/// Everything the collector knows, in stage-id order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TelemetrySnapshot {
    /// One entry per registered stage.
    pub stages: Vec<StageTelemetry>,
    /// Records naming an unregistered stage id.
    pub unknown_stage: u64,
}

impl fmt::Display for TelemetrySnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<16} {:>12} {:>10} {:>8} {:>9} {:>9} {:>9} {:>9}",
            "stage", "count", "gauge", "dropped", "lat p50", "p99", "p99.9", "max"
        )?;
        for s in &self.stages {
            writeln!(
                f,
                "{:<16} {:>12} {:>10} {:>8} {:>9} {:>9} {:>9} {:>9}",
                s.name,
                s.count,
                s.gauge,
                s.dropped,
                s.latency.p50_ns,
                s.latency.p99_ns,
                s.latency.p999_ns,
                s.latency.max_ns
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_counts_gauges_latencies_and_counts_drops() {
        let mut c = TelemetryCollector::new(4);
        let mut a = c.sink("a").unwrap();
        let mut b = c.sink("b").unwrap();
        assert_eq!((a.stage_id(), b.stage_id()), (0, 1));
        assert!(a.record(TelemetryKind::Count, 3, 1));
        assert!(a.record(TelemetryKind::Count, 4, 2));
        assert!(a.record(TelemetryKind::Gauge, 9, 3));
        assert!(a.record(TelemetryKind::Gauge, 7, 4));
        assert!(!a.record(TelemetryKind::Count, 100, 5), "ring of 4 is full");
        for ns in [100, 200, 300] {
            assert!(b.record(TelemetryKind::LatencyNs, ns, 0));
        }
        assert_eq!(c.drain(), 7);
        let s = c.snapshot();
        assert_eq!(s.stages[0].count, 7);
        assert_eq!(s.stages[0].gauge, 7);
        assert_eq!(s.stages[0].dropped, 1);
        assert_eq!(c.dropped(), 1);
        assert_eq!(s.stages[1].latency.samples, 3);
        assert_eq!(s.stages[1].latency.p50_ns, 200);
        assert!(s.stages[1].latency.max_ns >= 300 && s.stages[1].latency.max_ns < 301);
        let text = s.to_string();
        assert!(text.contains("a ") && text.lines().count() == 3, "{text}");
        // Drained: room again.
        assert!(a.record(TelemetryKind::Count, 1, 6));
    }

    #[test]
    fn huge_latencies_are_clamped_not_lost() {
        let mut c = TelemetryCollector::new(2);
        let mut a = c.sink("a").unwrap();
        assert!(a.record(TelemetryKind::LatencyNs, u64::MAX, 0));
        c.drain();
        let s = c.snapshot();
        assert_eq!(s.stages[0].latency.samples, 1);
        assert!(s.stages[0].latency.max_ns >= LATENCY_MAX_NS / 2);
    }
}
