//! [`LatencyRecorder`]: one pre-sized HdrHistogram per [`StageId`].

use std::borrow::Cow;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::stamps::{Interval, StageId, Stamps};

/// Largest latency recorded (60 s); larger values are recorded as this and counted as clamped.
pub const LATENCY_MAX_NS: u64 = 60_000_000_000;

/// Significant decimal digits kept by every histogram (values are exact to 1 part in 1,000).
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// Creating a recorder failed (cannot happen with the built-in bounds; kept so construction
/// never panics).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecorderError {
    /// HdrHistogram refused the bounds.
    #[error("cannot create a latency histogram")]
    Histogram,
}

/// Merging two recorders failed (cannot happen between recorders built by
/// [`LatencyRecorder::new`], which share bounds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    /// The other recorder's histogram holds values this one cannot.
    #[error("histogram bounds differ; cannot merge stage {0}")]
    Bounds(StageId),
}

/// Stalls shorter than this many expected intervals are corrected as they are recorded
/// (`record_correct`); longer ones when the percentiles are read.
pub const ONLINE_CORRECTION_STEPS: u64 = 64;

#[derive(Clone, Debug)]
struct StageHist {
    /// Every sample, with the synthetic samples of the short stalls.
    hist: Histogram<u64>,
    /// The long stalls (also in `hist`), whose synthetic samples are added on reading.
    stalls: Histogram<u64>,
    clamped: u64,
    negative: u64,
    /// Synthetic samples already in `hist`.
    corrected: u64,
}

/// Per-stage latency histograms fed from [`Stamps`].
///
/// Every histogram is created by [`LatencyRecorder::new`] with fixed bounds (1 ns … 60 s,
/// 3 significant digits, about 30 KiB each): recording never allocates, never blocks and never
/// panics. Values above 60 s are recorded as 60 s and counted in
/// [`StageSummary::clamped`]; stamps that run backwards are not recorded and are counted in
/// [`StageSummary::negative`].
///
/// In fixed-rate runs ([`LatencyRecorder::with_expected_interval`]) the intervals measured from
/// ingress (`tick_to_decision`, `end_to_end`) are corrected for coordinated omission: a sample
/// of `v` ns stands also for the synthetic samples `v − i, v − 2i, …` (while `≥ i`) of the
/// messages a stalled pipeline kept waiting. A sample under [`ONLINE_CORRECTION_STEPS`]
/// intervals is recorded with HdrHistogram's `record_correct` (at most that many steps); a longer
/// stall is recorded as measured and its synthetic samples are added when a summary or
/// [`LatencyRecorder::histogram`] is asked for, a whole histogram bucket at a time.
/// (`record_correct` costs `v / i` steps per sample: with it alone, a pipeline that fell
/// behind spent its time recording the backlog, fell further behind and never recovered — a
/// 100k msg/s run once collapsed to 72 msg/s that way.) The per-stage intervals are never
/// corrected.
///
/// # Examples
/// ```
/// use crpbot_benches::harness::{LatencyRecorder, Stamps};
/// let mut rec = LatencyRecorder::new()?;
/// for i in 1..=100u64 {
///     rec.record(&Stamps { ingress: 1_000, decoded: 1_000 + i * 10, ..Stamps::default() });
/// }
/// let decode = &rec.summary()[0];
/// assert_eq!((decode.stage.as_str(), decode.count), ("decode", 100));
/// assert_eq!(decode.p50_ns, 500);
/// # Ok::<(), crpbot_benches::harness::RecorderError>(())
/// ```
#[derive(Clone, Debug)]
pub struct LatencyRecorder {
    stages: [StageHist; 7],
    expected_interval_ns: u64,
    messages: u64,
}

impl LatencyRecorder {
    /// A recorder with all its histograms allocated, without coordinated-omission correction.
    pub fn new() -> Result<LatencyRecorder, RecorderError> {
        let mk = || -> Result<StageHist, RecorderError> {
            let new = || {
                Histogram::new_with_bounds(1, LATENCY_MAX_NS, SIGNIFICANT_DIGITS)
                    .map_err(|_| RecorderError::Histogram)
            };
            Ok(StageHist { hist: new()?, stalls: new()?, clamped: 0, negative: 0, corrected: 0 })
        };
        Ok(LatencyRecorder {
            stages: [mk()?, mk()?, mk()?, mk()?, mk()?, mk()?, mk()?],
            expected_interval_ns: 0,
            messages: 0,
        })
    }

    /// Fixed-rate mode: messages are due every `interval_ns` (`1e9 / rate`), so the intervals
    /// from ingress are corrected for coordinated omission. `0` turns the correction off.
    pub fn with_expected_interval(mut self, interval_ns: u64) -> LatencyRecorder {
        self.expected_interval_ns = interval_ns;
        self
    }

    /// The expected interval in ns (0: no correction).
    pub fn expected_interval_ns(&self) -> u64 {
        self.expected_interval_ns
    }

    /// Records every interval `s` defines (stages not reached are skipped). Never allocates.
    #[inline]
    pub fn record(&mut self, s: &Stamps) {
        self.messages += 1;
        for stage in StageId::ALL {
            match stage.measure(s) {
                Interval::NotReached => {}
                Interval::Negative => self.stages[stage.index()].negative += 1,
                Interval::Ns(ns) => self.record_stage(stage, ns),
            }
        }
    }

    /// Records one interval of `stage` directly (with the same clamping and, for the intervals
    /// from ingress, the same correction as [`LatencyRecorder::record`]). Never allocates.
    #[inline]
    pub fn record_stage(&mut self, stage: StageId, ns: u64) {
        let interval = self.expected_interval_ns;
        let h = &mut self.stages[stage.index()];
        let v = if ns > LATENCY_MAX_NS {
            h.clamped += 1;
            LATENCY_MAX_NS
        } else {
            ns
        };
        if interval > 0 && stage.from_ingress() {
            if v < ONLINE_CORRECTION_STEPS * interval {
                let before = h.hist.len();
                if h.hist.record_correct(v, interval).is_err() {
                    // Unreachable with `v` clamped into range; never lose the sample.
                    h.hist.saturating_record(v);
                }
                h.corrected += (h.hist.len() - before).saturating_sub(1);
            } else {
                h.hist.saturating_record(v);
                h.stalls.saturating_record(v);
            }
        } else {
            h.hist.saturating_record(v);
        }
    }

    /// Adds `other`'s samples and counters to this recorder (e.g. per-thread recorders into one).
    ///
    /// # Errors
    /// [`MergeError::Bounds`] if `other` holds values outside this recorder's range (never for
    /// recorders from [`LatencyRecorder::new`]); stages before the failing one are merged.
    pub fn merge(&mut self, other: &LatencyRecorder) -> Result<(), MergeError> {
        for stage in StageId::ALL {
            let (me, them) = (&mut self.stages[stage.index()], &other.stages[stage.index()]);
            me.hist.add(&them.hist).map_err(|_| MergeError::Bounds(stage))?;
            me.clamped += them.clamped;
            me.stalls.add(&them.stalls).map_err(|_| MergeError::Bounds(stage))?;
            me.negative += them.negative;
            me.corrected += them.corrected;
        }
        self.messages += other.messages;
        Ok(())
    }

    /// Calls to [`LatencyRecorder::record`] so far (and merged in).
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// The histogram of one stage (for custom percentiles or export), corrected for coordinated
    /// omission where [`LatencyRecorder::record`] says so (then a new histogram: allocates, call
    /// it off the hot path).
    pub fn histogram(&self, stage: StageId) -> Cow<'_, Histogram<u64>> {
        let h = &self.stages[stage.index()];
        if h.stalls.is_empty() {
            Cow::Borrowed(&h.hist)
        } else {
            let mut out = h.hist.clone();
            add_synthetic(&mut out, &h.stalls, self.expected_interval_ns);
            Cow::Owned(out)
        }
    }

    /// Forgets every sample and counter (keeps the storage).
    pub fn reset(&mut self) {
        for h in &mut self.stages {
            h.hist.reset();
            h.clamped = 0;
            h.stalls.reset();
            h.negative = 0;
            h.corrected = 0;
        }
        self.messages = 0;
    }

    /// One summary per stage, in [`StageId::ALL`] order, stages without samples included (with
    /// zeros). Allocates: call it off the hot path.
    pub fn summary(&self) -> Vec<StageSummary> {
        StageId::ALL.iter().map(|&s| self.stage_summary(s)).collect()
    }

    /// The summary of one stage.
    pub fn stage_summary(&self, stage: StageId) -> StageSummary {
        let h = &self.stages[stage.index()];
        let hist = self.histogram(stage);
        let hist: &Histogram<u64> = &hist;
        let empty = hist.is_empty();
        let q = |q: f64| if empty { 0 } else { hist.value_at_quantile(q) };
        StageSummary {
            stage: stage.name().to_owned(),
            count: hist.len(),
            p50_ns: q(0.50),
            p90_ns: q(0.90),
            p99_ns: q(0.99),
            p999_ns: q(0.999),
            max_ns: if empty { 0 } else { hist.max() },
            mean_ns: if empty { 0.0 } else { hist.mean() },
            clamped: h.clamped,
            negative: h.negative,
            corrected: h.corrected + (hist.len() - h.hist.len()),
        }
    }
}

/// Percentiles of one stage, as printed and written to JSON.
///
/// Values are HdrHistogram's: within 0.1 % of the true sample (3 significant digits), reported
/// as the highest value equivalent to the sample's bucket. Empty stages have every field 0.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StageSummary {
    /// Stage name ([`StageId::name`]).
    pub stage: String,
    /// Samples, including the synthetic ones added by coordinated-omission correction.
    pub count: u64,
    /// Median, ns.
    pub p50_ns: u64,
    /// 90th percentile, ns.
    pub p90_ns: u64,
    /// 99th percentile, ns.
    pub p99_ns: u64,
    /// 99.9th percentile, ns.
    pub p999_ns: u64,
    /// Largest sample, ns.
    pub max_ns: u64,
    /// Mean, ns.
    pub mean_ns: f64,
    /// Samples above [`LATENCY_MAX_NS`], recorded as that.
    #[serde(default)]
    pub clamped: u64,
    /// Stamp pairs that ran backwards (not recorded).
    #[serde(default)]
    pub negative: u64,
    /// Synthetic samples added by coordinated-omission correction (included in `count`).
    #[serde(default)]
    pub corrected: u64,
}

/// Adds to `out`, for every sample `v` of `stalls`, the synthetic samples `v − i, v − 2i, …`
/// (while `≥ i`): what `record_correct` would have added.
///
/// Works a bucket at a time: the synthetic values that share a bucket with `x` are the ones
/// down to the bucket's lowest equivalent value, so they are added in one `record_n`. The cost
/// is the number of buckets between `i` and `v` (about 2,000 plus 1,024 per doubling), not
/// `v / i`. A raw bucket's samples are taken at its highest equivalent value (HdrHistogram's
/// own iteration value), so a synthetic value is off by at most that bucket's width: 0.1 % of
/// the stall it derives from.
fn add_synthetic(out: &mut Histogram<u64>, stalls: &Histogram<u64>, interval: u64) {
    if interval == 0 {
        return;
    }
    for bucket in stalls.iter_recorded() {
        let (v, n) = (bucket.value_iterated_to(), bucket.count_since_last_iteration());
        let mut x = match v.checked_sub(interval) {
            Some(x) => x,
            None => continue,
        };
        while x >= interval {
            let lo = out.lowest_equivalent(x).max(interval);
            // Synthetic values x, x − i, … down to `lo`, all in x's bucket.
            let m = (x - lo) / interval + 1;
            out.saturating_record_n(x, n.saturating_mul(m));
            match x.checked_sub(m * interval) {
                Some(next) => x = next,
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_only(ns: u64) -> Stamps {
        Stamps { ingress: 1, decoded: 1 + ns, ..Stamps::default() }
    }

    #[test]
    fn percentiles_of_one_to_ten_thousand() {
        let mut r = LatencyRecorder::new().unwrap();
        for ns in 1..=10_000 {
            r.record(&decode_only(ns));
        }
        let s = r.stage_summary(StageId::Decode);
        assert_eq!(s.count, 10_000);
        // Exact below 2048 (3 significant digits: unit buckets up to 2^11), within 0.1 % above.
        let near = |got: u64, want: u64| got.abs_diff(want) * 1000 <= want;
        assert!(near(s.p50_ns, 5_000), "{s:?}");
        assert!(near(s.p90_ns, 9_000), "{s:?}");
        assert!(near(s.p99_ns, 9_900), "{s:?}");
        assert!(near(s.p999_ns, 9_990), "{s:?}");
        assert!(near(s.max_ns, 10_000), "{s:?}");
        assert!((s.mean_ns - 5_000.5).abs() < 5.0, "{s:?}");
        assert_eq!(r.messages(), 10_000);
        // Only decode (and end-to-end, = decode here) were reached.
        assert_eq!(r.stage_summary(StageId::EndToEnd).count, 10_000);
        assert_eq!(
            r.stage_summary(StageId::Book),
            StageSummary { stage: "book".into(), ..Default::default() }
        );
    }

    #[test]
    fn small_values_are_exact() {
        let mut r = LatencyRecorder::new().unwrap();
        for ns in [0, 7, 7, 9, 1_000] {
            r.record_stage(StageId::Risk, ns);
        }
        let s = r.stage_summary(StageId::Risk);
        assert_eq!((s.count, s.p50_ns, s.max_ns), (5, 7, 1_000));
        assert_eq!(r.histogram(StageId::Risk).min(), 0);
    }

    #[test]
    fn huge_values_are_clamped_and_counted() {
        let mut r = LatencyRecorder::new().unwrap();
        r.record(&Stamps { ingress: 1, decoded: u64::MAX, ..Stamps::default() });
        r.record(&decode_only(100));
        let s = r.stage_summary(StageId::Decode);
        assert_eq!((s.count, s.clamped), (2, 1));
        assert!(s.max_ns >= LATENCY_MAX_NS && s.max_ns <= LATENCY_MAX_NS + LATENCY_MAX_NS / 1000);
        assert_eq!(r.stage_summary(StageId::EndToEnd).clamped, 1);
    }

    #[test]
    fn backwards_stamps_are_counted_not_recorded() {
        let mut r = LatencyRecorder::new().unwrap();
        r.record(&Stamps { ingress: 500, decoded: 400, booked: 450, ..Stamps::default() });
        assert_eq!(r.stage_summary(StageId::Decode).negative, 1);
        assert_eq!(r.stage_summary(StageId::Decode).count, 0);
        assert_eq!(r.stage_summary(StageId::Book).count, 1);
        // end_to_end = max(400, 450) − 500 < 0
        assert_eq!(r.stage_summary(StageId::EndToEnd).negative, 1);
    }

    #[test]
    fn coordinated_omission_adds_the_missing_samples() {
        // Due every 1 ms; 99 messages take 100 µs, then one stalls for 10 ms.
        let mut r = LatencyRecorder::new().unwrap().with_expected_interval(1_000_000);
        for _ in 0..99 {
            r.record(&Stamps { ingress: 1, verdict: 100_001, ..Stamps::default() });
        }
        r.record(&Stamps { ingress: 1, verdict: 10_000_001, ..Stamps::default() });
        let t2d = r.stage_summary(StageId::TickToDecision);
        // 10 ms at a 1 ms interval: 9 ms, 8 ms, … 1 ms were also waiting.
        assert_eq!(t2d.corrected, 9);
        assert_eq!(t2d.count, 109);
        let h = r.histogram(StageId::TickToDecision);
        // One sample near each whole millisecond: within the stall's bucket width (0.1 % of
        // 10 ms), the resolution the correction works at.
        for k in 1..=10u64 {
            let ms = k * 1_000_000;
            assert_eq!(h.count_between(ms - 10_000, ms + 10_000), 1, "{k} ms");
        }
        // Without correction the p95 would be 100 µs; with it, it is in the stall.
        assert!(h.value_at_quantile(0.95) >= 5_000_000);
        // Per-stage intervals are not corrected.
        let uncorrected = LatencyRecorder::new().unwrap();
        assert_eq!(uncorrected.expected_interval_ns(), 0);
        assert_eq!(r.stage_summary(StageId::Risk).count, 0);
    }

    #[test]
    fn correction_of_huge_stalls_matches_the_sample_by_sample_definition() {
        // 60 s at 10 µs would be 6 million steps per sample with `record_correct`; the bucket
        // walk gives the same histogram to within its resolution.
        let interval = 10_000;
        let mut r = LatencyRecorder::new().unwrap().with_expected_interval(interval);
        let stalls = [25_000u64, 1_000_000, 123_456_789, 59_000_000_000];
        for v in stalls {
            r.record_stage(StageId::EndToEnd, v);
        }
        let h = r.histogram(StageId::EndToEnd);
        let mut reference = Histogram::<u64>::new_with_bounds(1, LATENCY_MAX_NS, 3).unwrap();
        for v in stalls {
            // The raw bucket's value, as the bucket walk uses it.
            let v = reference.highest_equivalent(v);
            reference.record_correct(v, interval).unwrap();
        }
        assert_eq!(h.len(), reference.len());
        for q in [0.1, 0.5, 0.9, 0.99, 0.999] {
            let (got, want) = (h.value_at_quantile(q), reference.value_at_quantile(q));
            assert!(got.abs_diff(want) * 1000 <= want, "q {q}: {got} vs {want}");
        }
        let s = r.stage_summary(StageId::EndToEnd);
        assert_eq!(s.corrected, h.len() - 4);
    }

    #[test]
    fn stall_shorter_than_the_interval_adds_nothing() {
        let mut r = LatencyRecorder::new().unwrap().with_expected_interval(1_000);
        r.record_stage(StageId::EndToEnd, 999);
        r.record_stage(StageId::EndToEnd, 1_999);
        r.record_stage(StageId::Decode, 50_000);
        assert_eq!(r.stage_summary(StageId::EndToEnd).corrected, 0);
        assert_eq!(r.stage_summary(StageId::EndToEnd).count, 2);
        assert_eq!(r.stage_summary(StageId::Decode).count, 1);
    }

    #[test]
    fn merge_adds_samples_and_counters() {
        let mut a = LatencyRecorder::new().unwrap();
        let mut b = LatencyRecorder::new().unwrap();
        for ns in 1..=50 {
            a.record(&decode_only(ns));
        }
        for ns in 51..=100 {
            b.record(&decode_only(ns));
        }
        b.record(&Stamps { ingress: 1, decoded: u64::MAX, ..Stamps::default() });
        a.merge(&b).unwrap();
        let s = a.stage_summary(StageId::Decode);
        assert_eq!((s.count, s.clamped, a.messages()), (101, 1, 101));
        assert_eq!(s.p50_ns, 51);
        a.reset();
        assert_eq!(a.stage_summary(StageId::Decode).count, 0);
        assert_eq!(a.messages(), 0);
    }
}
