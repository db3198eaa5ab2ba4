//! `crpbot_book::Book` vs `crpbot_book::reference::RefBook` (the `BTreeMap` book), per level
//! update, on the real recording's synchronised depth updates.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crpbot_book::reference::RefBook;
use crpbot_book::{Book, BookConfig};
use crpbot_core::{LevelUpdate, MarketEvent, Registry, Venue};
use crpbot_feeds::replay::{BinanceReplay, Published, ReplaySink};

use super::samples::{entry_from_samples, ratios};
use super::{CompareError, Comparison, check_inputs};

/// Level updates per timed chunk: long enough that the two clock reads around it (≈ 50 ns)
/// are ≈ 0.3 % of it, short enough to give a few hundred samples per pass.
const CHUNK: usize = 1024;

/// One instrument's updates: the first snapshot's levels and everything after it, in order.
#[derive(Default)]
struct Updates {
    snapshot: Vec<LevelUpdate>,
    diffs: Vec<LevelUpdate>,
    /// Levels of later snapshots (resyncs / a new day's file), replayed as absolute sets.
    resnapshot_levels: usize,
}

/// Collects the level updates a replay applies, per instrument.
struct Collect {
    by_instrument: Vec<Updates>,
}

impl ReplaySink for Collect {
    fn on_book(&mut self, _published: &Published<'_>) {}

    fn on_event(&mut self, event: &MarketEvent) {
        let MarketEvent::Level(u) = event else { return };
        let Some(slot) = self.by_instrument.get_mut(u.instrument.index()) else { return };
        if u.is_snapshot() && slot.diffs.is_empty() {
            slot.snapshot.push(*u);
        } else {
            slot.resnapshot_levels += usize::from(u.is_snapshot());
            slot.diffs.push(*u);
        }
    }
}

/// Which book a timed pass drives.
trait Apply: Clone {
    fn apply_level(&mut self, u: &LevelUpdate);
}
impl Apply for Book {
    #[inline]
    fn apply_level(&mut self, u: &LevelUpdate) {
        let _ = self.apply(black_box(u));
    }
}
impl Apply for RefBook {
    #[inline]
    fn apply_level(&mut self, u: &LevelUpdate) {
        let _ = self.apply(black_box(u));
    }
}

/// One pass over every instrument: clone the start book (untimed), apply the diffs in chunks
/// of [`CHUNK`], each chunk timed on its own. Pushes ns per level update per chunk into
/// `samples`; returns the pass's total timed ns.
fn pass<B: Apply>(starts: &[(B, &[LevelUpdate])], samples: &mut Vec<f64>) -> u128 {
    let mut total = 0u128;
    for (start, diffs) in starts {
        let mut book = start.clone();
        for chunk in diffs.chunks(CHUNK) {
            let t = Instant::now();
            for u in chunk {
                book.apply_level(u);
            }
            let ns = t.elapsed().as_nanos();
            total += ns;
            samples.push(ns as f64 / chunk.len() as f64);
        }
        black_box(&book);
    }
    total
}

/// Compares `Book` with the `BTreeMap` reference book on the depth updates of the Binance
/// spot recordings `inputs` (all of one symbol, or several; each instrument has its own
/// books).
///
/// Setup (untimed): the recordings are replayed once through crpbot's decoder and depth
/// synchroniser; the first snapshot of each instrument builds the start books, and every
/// level update applied after it is kept in order (levels of later snapshots are replayed as
/// plain absolute sets, without clearing the book). Timed: passes over all updates, starting
/// each pass from a fresh clone of the snapshot book; `Book` and `RefBook` passes alternate
/// (A B, B A, …) to cancel drift, until `budget` is spent (at least one pass each).
///
/// Sampling: each chunk of 1,024 consecutive level updates is timed with `Instant`; a sample
/// is that chunk's ns per level update. `median_ns` / `p99_ns` are over chunks, `mean_ns` is
/// total time / total updates. Ratio: `btreemap/crpbot` (medians).
///
/// # Errors
/// [`CompareError::NoInputs`], [`CompareError::Input`] (a file cannot be opened),
/// [`CompareError::NoDepth`] (no synchronised depth update).
pub fn book_vs_btreemap(
    inputs: &[PathBuf],
    registry: &Registry,
    budget: Duration,
) -> Result<Comparison, CompareError> {
    check_inputs(inputs)?;
    let setup = Instant::now();
    let mut replay = BinanceReplay::new(registry, Venue::BinanceSpot);
    let mut collect =
        Collect { by_instrument: (0..registry.len()).map(|_| Updates::default()).collect() };
    let stats = replay.run(inputs, &mut collect);
    let used: Vec<&Updates> = collect
        .by_instrument
        .iter()
        .filter(|u| !u.snapshot.is_empty() && !u.diffs.is_empty())
        .collect();
    let n_updates: usize = used.iter().map(|u| u.diffs.len()).sum();
    if n_updates == 0 {
        return Err(CompareError::NoDepth);
    }

    let mut ours: Vec<(Book, &[LevelUpdate])> = Vec::with_capacity(used.len());
    let mut reference: Vec<(RefBook, &[LevelUpdate])> = Vec::with_capacity(used.len());
    for u in &used {
        let mut b = Book::new(BookConfig::default());
        let mut r = RefBook::new();
        for l in &u.snapshot {
            let _ = b.apply(l);
            let _ = r.apply(l);
        }
        ours.push((b, &u.diffs));
        reference.push((r, &u.diffs));
    }
    let setup_s = setup.elapsed().as_secs_f64();

    let chunks_per_pass: usize = used.iter().map(|u| u.diffs.len().div_ceil(CHUNK)).sum();
    let mut s_ours: Vec<f64> = Vec::with_capacity(chunks_per_pass * 8);
    let mut s_ref: Vec<f64> = Vec::with_capacity(chunks_per_pass * 8);
    let (mut t_ours, mut t_ref, mut passes) = (0u128, 0u128, 0u64);
    let start = Instant::now();
    loop {
        if passes % 2 == 0 {
            t_ours += pass(&ours, &mut s_ours);
            t_ref += pass(&reference, &mut s_ref);
        } else {
            t_ref += pass(&reference, &mut s_ref);
            t_ours += pass(&ours, &mut s_ours);
        }
        passes += 1;
        if start.elapsed() >= budget {
            break;
        }
    }

    let agree = ours.iter().zip(&reference).all(|((b, diffs), (r, _))| {
        let (mut b, mut r) = (b.clone(), r.clone());
        for u in *diffs {
            let _ = b.apply(u);
            let _ = r.apply(u);
        }
        b.best_bid() == r.best_bid() && b.best_ask() == r.best_ask()
    });

    let total_updates = (n_updates as u64 * passes) as f64;
    let entries = vec![
        entry_from_samples("crpbot", &mut s_ours, Some(t_ours as f64 / total_updates)),
        entry_from_samples("btreemap", &mut s_ref, Some(t_ref as f64 / total_updates)),
    ];
    let ratios = ratios(&entries, &[("btreemap", "crpbot")]);
    let resnapshots: usize = used.iter().map(|u| u.resnapshot_levels).sum();
    let mut notes = vec![
        format!(
            "{n_updates} level updates of {} instrument(s) from {} file(s); {passes} alternating \
             passes per book in {:.2} s (setup {:.2} s untimed)",
            used.len(),
            inputs.len(),
            start.elapsed().as_secs_f64(),
            setup_s
        ),
        format!(
            "sample = one chunk of {CHUNK} consecutive level updates timed with Instant, in ns \
             per update; mean = total time / total updates; each pass starts from a clone of \
             the snapshot book (clone untimed)"
        ),
    ];
    if resnapshots > 0 {
        notes.push(format!(
            "{resnapshots} levels of later snapshots replayed as absolute sets (no clear)"
        ));
    }
    if stats.errors > 0 {
        notes.push(format!(
            "{} input issues during setup (first: {:?})",
            stats.errors,
            stats.issues.first()
        ));
    }
    if !agree {
        notes.push("WARNING: Book and RefBook disagree on the final best bid/ask".to_owned());
    }
    Ok(Comparison {
        name: "book_vs_btreemap".to_owned(),
        unit: "ns per level update".to_owned(),
        entries,
        ratios,
        notes,
    })
}
