//! Binance local-book synchronisation (PROTOCOLS.md §2.3 for spot, §2.3b for USDⓈ-M).
//!
//! A [`DepthSync`] sits between the decoder and the book. It buffers diffs until a snapshot
//! arrives, drops diffs the snapshot already covers, requires continuity, detects gaps and asks
//! for a new snapshot. It emits normalized [`MarketEvent`]s in the order a book must apply them:
//! a [`BookSnapshot`] header and its levels, then diffs, and [`BookStateChange`]s whenever the
//! state moves. A book fed only by these events is exact whenever the state is `Synced`.
//!
//! Continuity rules:
//! * spot: ignore a diff with `u <= local`; a gap if `U > local + 1`; else apply, `local = u`.
//! * USDⓈ-M: after the first applied diff (`U <= L <= u`, where `L` is the snapshot's
//!   `lastUpdateId`), every diff must have `pu == previous u`; diffs with `u < L` are dropped.

use crpbot_core::{
    BookSnapshot, BookState, BookStateChange, InstrumentId, LevelUpdate, MarketEvent, StateReason,
};

use crate::binance::{DepthHeader, SnapshotHeader};

/// Receives what a [`DepthSync`] emits. Any `FnMut(MarketEvent)` closure is one.
pub trait SyncSink {
    /// A normalized event for the book, in apply order.
    fn event(&mut self, ev: MarketEvent);
    /// A diff's levels have all been emitted (its book state is complete).
    fn applied(&mut self, _header: &DepthHeader) {}
}

impl<F: FnMut(MarketEvent)> SyncSink for F {
    fn event(&mut self, ev: MarketEvent) {
        self(ev)
    }
}

/// Which continuity rule a [`DepthSync`] applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Continuity {
    /// Binance spot: next `U == previous u + 1`.
    Spot,
    /// Binance USDⓈ-M: next `pu == previous u`.
    Usdm,
}

/// What happened to one diff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffOutcome {
    /// Applied: its levels were emitted.
    Applied,
    /// Held until a snapshot arrives.
    Buffered,
    /// Older than the book: dropped, as the procedure says.
    Stale,
    /// A sequence gap: the book is stale until a new snapshot; a snapshot is wanted.
    Gap,
    /// The pre-snapshot buffer is full: it was discarded and a snapshot is wanted.
    Overflow,
}

/// What happened to one snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotOutcome {
    /// The book was rebuilt from it and `bridged` buffered diffs were applied on top.
    Synced {
        /// Buffered diffs applied after the snapshot.
        bridged: u32,
    },
    /// Older than the first buffered diff: fetch another one.
    TooOld,
}

/// Counters of one instrument's synchronisation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Diffs applied to the book.
    pub applied: u64,
    /// Diffs dropped as older than the book.
    pub stale_dropped: u64,
    /// Sequence gaps detected.
    pub gaps: u64,
    /// Snapshots that restored sync after a gap, overflow or crossed book.
    pub resyncs: u64,
    /// Snapshots applied in all.
    pub snapshots: u64,
    /// Snapshots refused as too old.
    pub snapshots_too_old: u64,
    /// Pre-snapshot buffer overflows.
    pub buffer_overflows: u64,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    header: DepthHeader,
    start: u32,
    len: u32,
}

/// Book synchronisation state machine for one instrument.
///
/// The buffers are sized at construction; when the pre-snapshot buffer would exceed its
/// capacity it is discarded (counted as an overflow) rather than grown.
#[derive(Debug)]
pub struct DepthSync {
    instrument: InstrumentId,
    rule: Continuity,
    state: BookState,
    /// Last applied update id (`u`), valid when `Synced`.
    local_id: u64,
    /// Whether any diff has been applied since the snapshot (USDⓈ-M first-event rule).
    applied_since_snapshot: bool,
    /// Set after a loss of sync: the next snapshot counts as a resync.
    lost_sync: bool,
    pending: Vec<Pending>,
    pending_levels: Vec<LevelUpdate>,
    max_pending_msgs: usize,
    max_pending_levels: usize,
    stats: SyncStats,
}

impl DepthSync {
    /// A synchroniser that buffers at most `max_pending_msgs` diffs and `max_pending_levels`
    /// levels while it waits for a snapshot.
    pub fn new(
        instrument: InstrumentId,
        rule: Continuity,
        max_pending_msgs: usize,
        max_pending_levels: usize,
    ) -> DepthSync {
        DepthSync {
            instrument,
            rule,
            state: BookState::Syncing,
            local_id: 0,
            applied_since_snapshot: false,
            lost_sync: false,
            pending: Vec::with_capacity(max_pending_msgs),
            pending_levels: Vec::with_capacity(max_pending_levels),
            max_pending_msgs,
            max_pending_levels,
            stats: SyncStats::default(),
        }
    }

    /// The instrument synchronised.
    pub fn instrument(&self) -> InstrumentId {
        self.instrument
    }

    /// The current state.
    pub fn state(&self) -> BookState {
        self.state
    }

    /// The last applied update id.
    pub fn local_id(&self) -> u64 {
        self.local_id
    }

    /// The counters.
    pub fn stats(&self) -> SyncStats {
        self.stats
    }

    /// True when the next step is to fetch a snapshot.
    pub fn wants_snapshot(&self) -> bool {
        self.state != BookState::Synced
    }

    fn change(
        &mut self,
        state: BookState,
        reason: StateReason,
        ts: (i64, i64),
        out: &mut impl SyncSink,
    ) {
        if self.state == state {
            return;
        }
        self.state = state;
        out.event(MarketEvent::State(BookStateChange {
            ts_exch_ns: ts.0,
            ts_local_ns: ts.1,
            update_id: self.local_id,
            instrument: self.instrument,
            state,
            reason,
            _pad: 0,
        }));
    }

    /// Marks the book unusable from outside (crossed book, stall, disconnect): the state
    /// becomes `Stale` and a new snapshot is wanted. Diffs are buffered from now on.
    pub fn invalidate(&mut self, reason: StateReason, ts_local_ns: i64, out: &mut impl SyncSink) {
        self.lost_sync = true;
        self.pending.clear();
        self.pending_levels.clear();
        self.change(BookState::Stale, reason, (0, ts_local_ns), out);
    }

    /// Marks that a new snapshot has been requested after a loss of sync.
    pub fn resync_requested(&mut self, ts_local_ns: i64, out: &mut impl SyncSink) {
        if self.state == BookState::Stale {
            self.change(BookState::Resyncing, StateReason::Gap, (0, ts_local_ns), out);
        }
    }

    fn emit_levels(levels: &[LevelUpdate], out: &mut impl SyncSink) {
        for l in levels {
            out.event(MarketEvent::Level(*l));
        }
    }

    /// Feeds one diff and its levels.
    pub fn on_diff(
        &mut self,
        h: &DepthHeader,
        levels: &[LevelUpdate],
        out: &mut impl SyncSink,
    ) -> DiffOutcome {
        if self.state != BookState::Synced {
            return self.buffer(h, levels, out);
        }
        match self.check(h) {
            Check::Apply => {
                Self::emit_levels(levels, out);
                self.local_id = h.final_update_id;
                self.applied_since_snapshot = true;
                self.stats.applied += 1;
                out.applied(h);
                DiffOutcome::Applied
            }
            Check::Stale => {
                self.stats.stale_dropped += 1;
                DiffOutcome::Stale
            }
            Check::Gap => {
                self.stats.gaps += 1;
                self.lost_sync = true;
                self.pending.clear();
                self.pending_levels.clear();
                self.change(BookState::Stale, StateReason::Gap, (h.ts_exch_ns, h.ts_local_ns), out);
                // The diff that revealed the gap is the first of the new stream.
                let _ = self.buffer(h, levels, out);
                DiffOutcome::Gap
            }
        }
    }

    fn check(&self, h: &DepthHeader) -> Check {
        match self.rule {
            Continuity::Spot => {
                if h.final_update_id <= self.local_id {
                    Check::Stale
                } else if h.first_update_id > self.local_id + 1 {
                    Check::Gap
                } else {
                    Check::Apply
                }
            }
            Continuity::Usdm => {
                if !self.applied_since_snapshot {
                    // First event after the snapshot: U <= L <= u; older ones are dropped.
                    if h.final_update_id < self.local_id {
                        Check::Stale
                    } else if h.first_update_id <= self.local_id {
                        Check::Apply
                    } else {
                        Check::Gap
                    }
                } else if h.final_update_id <= self.local_id {
                    Check::Stale
                } else if h.prev_final_update_id == Some(self.local_id) {
                    Check::Apply
                } else {
                    Check::Gap
                }
            }
        }
    }

    fn buffer(
        &mut self,
        h: &DepthHeader,
        levels: &[LevelUpdate],
        out: &mut impl SyncSink,
    ) -> DiffOutcome {
        if self.pending.len() >= self.max_pending_msgs
            || self.pending_levels.len() + levels.len() > self.max_pending_levels
        {
            self.stats.buffer_overflows += 1;
            self.pending.clear();
            self.pending_levels.clear();
            self.lost_sync = true;
            self.change(
                BookState::Stale,
                StateReason::BadLevel,
                (h.ts_exch_ns, h.ts_local_ns),
                out,
            );
            return DiffOutcome::Overflow;
        }
        let start = self.pending_levels.len() as u32;
        self.pending_levels.extend_from_slice(levels);
        self.pending.push(Pending { header: *h, start, len: levels.len() as u32 });
        DiffOutcome::Buffered
    }

    /// Feeds a snapshot and its levels (bids then asks, as decoded).
    pub fn on_snapshot(
        &mut self,
        h: &SnapshotHeader,
        levels: &[LevelUpdate],
        out: &mut impl SyncSink,
    ) -> SnapshotOutcome {
        let last = h.last_update_id;
        // Step 4: a snapshot older than the first buffered diff cannot be bridged.
        let first_needed = self.pending.iter().find(|p| p.header.final_update_id > last);
        let too_old = match (self.rule, first_needed) {
            (Continuity::Spot, Some(p)) => p.header.first_update_id > last + 1,
            (Continuity::Usdm, Some(p)) => p.header.first_update_id > last,
            (_, None) => false,
        };
        if too_old {
            self.stats.snapshots_too_old += 1;
            return SnapshotOutcome::TooOld;
        }
        out.event(MarketEvent::Snapshot(BookSnapshot {
            ts_exch_ns: h.ts_exch_ns,
            ts_local_ns: h.ts_local_ns,
            update_id: last,
            instrument: self.instrument,
            _pad: 0,
            n_bids: h.n_bids,
            n_asks: h.n_asks,
        }));
        Self::emit_levels(levels, out);
        self.local_id = last;
        self.applied_since_snapshot = false;
        self.stats.snapshots += 1;
        if self.lost_sync {
            self.stats.resyncs += 1;
            self.lost_sync = false;
        }
        self.change(
            BookState::Synced,
            StateReason::SnapshotApplied,
            (h.ts_exch_ns, h.ts_local_ns),
            out,
        );
        // Steps 5–7: drop what the snapshot covers, apply the rest under the normal rules.
        let pending = std::mem::take(&mut self.pending);
        let pending_levels = std::mem::take(&mut self.pending_levels);
        let mut bridged = 0;
        let mut synced = true;
        for p in &pending {
            let lv = &pending_levels[p.start as usize..(p.start + p.len) as usize];
            if !synced {
                // After a gap inside the buffer, the rest waits for the next snapshot.
                let _ = self.buffer(&p.header, lv, out);
                continue;
            }
            match self.on_diff(&p.header, lv, out) {
                DiffOutcome::Applied => bridged += 1,
                DiffOutcome::Stale => {}
                DiffOutcome::Gap | DiffOutcome::Overflow | DiffOutcome::Buffered => synced = false,
            }
        }
        // Give the (now empty) buffers back so their capacity is reused.
        if self.pending.is_empty() {
            self.pending = pending;
            self.pending.clear();
            self.pending_levels = pending_levels;
            self.pending_levels.clear();
        }
        SnapshotOutcome::Synced { bridged }
    }
}

enum Check {
    Apply,
    Stale,
    Gap,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crpbot_core::{Px, Qty, Side};

    fn hdr(u_first: u64, u_last: u64, pu: Option<u64>) -> DepthHeader {
        DepthHeader {
            instrument: InstrumentId(0),
            first_update_id: u_first,
            final_update_id: u_last,
            prev_final_update_id: pu,
            ts_exch_ns: 0,
            ts_local_ns: 0,
        }
    }

    fn lvl(px: i64, update_id: u64) -> LevelUpdate {
        LevelUpdate {
            ts_exch_ns: 0,
            ts_local_ns: 0,
            update_id,
            px: Px(px),
            qty: Qty(1),
            instrument: InstrumentId(0),
            side: Side::Buy,
            flags: crpbot_core::level_flags::LAST,
            _pad: 0,
        }
    }

    fn snap(last: u64) -> SnapshotHeader {
        SnapshotHeader {
            instrument: InstrumentId(0),
            last_update_id: last,
            ts_exch_ns: 0,
            ts_local_ns: 0,
            n_bids: 1,
            n_asks: 0,
        }
    }

    /// The constructed sequence of PROTOCOLS.md §2.3.
    #[test]
    fn spot_procedure_test_vector() {
        let mut s = DepthSync::new(InstrumentId(0), Continuity::Spot, 16, 64);
        let mut events = Vec::new();
        let mut out = |e| events.push(e);
        assert_eq!(
            s.on_diff(&hdr(150, 155, None), &[lvl(1, 155)], &mut out),
            DiffOutcome::Buffered
        );
        assert_eq!(
            s.on_diff(&hdr(157, 162, None), &[lvl(2, 162)], &mut out),
            DiffOutcome::Buffered
        );
        let r = s.on_snapshot(&snap(160), &[lvl(100, 160)], &mut out);
        assert_eq!(r, SnapshotOutcome::Synced { bridged: 1 });
        assert_eq!(s.local_id(), 162);
        assert_eq!(s.on_diff(&hdr(163, 165, None), &[lvl(3, 165)], &mut out), DiffOutcome::Applied);
        assert_eq!(s.on_diff(&hdr(160, 164, None), &[lvl(4, 164)], &mut out), DiffOutcome::Stale);
        assert_eq!(s.on_diff(&hdr(170, 172, None), &[lvl(5, 172)], &mut out), DiffOutcome::Gap);
        assert_eq!(s.state(), BookState::Stale);
        assert!(s.wants_snapshot());
        let st = s.stats();
        // Stale: A (covered by the snapshot, dropped from the buffer) and D.
        assert_eq!((st.applied, st.stale_dropped, st.gaps, st.snapshots), (2, 2, 1, 1));
        // Emitted: snapshot header, its level, Synced, diff 162, diff 165, Stale.
        let kinds: Vec<_> = events
            .iter()
            .map(|e| match e {
                MarketEvent::Snapshot(_) => "snap".to_string(),
                MarketEvent::Level(l) => format!("lvl{}", l.px.0),
                MarketEvent::State(c) => format!("{:?}", c.state),
                _ => "other".into(),
            })
            .collect();
        assert_eq!(kinds, ["snap", "lvl100", "Synced", "lvl2", "lvl3", "Stale"]);
        // Nothing of the stale (u=155) diff nor of the gapped diff was emitted.
    }

    #[test]
    fn snapshot_older_than_buffer_is_refused() {
        let mut s = DepthSync::new(InstrumentId(0), Continuity::Spot, 16, 64);
        let mut out = |_e| {};
        s.on_diff(&hdr(200, 205, None), &[lvl(1, 205)], &mut out);
        assert_eq!(s.on_snapshot(&snap(160), &[], &mut out), SnapshotOutcome::TooOld);
        assert_eq!(s.state(), BookState::Syncing);
        assert_eq!(
            s.on_snapshot(&snap(201), &[], &mut out),
            SnapshotOutcome::Synced { bridged: 1 }
        );
        assert_eq!(s.local_id(), 205);
    }

    #[test]
    fn resync_after_gap_is_counted() {
        let mut s = DepthSync::new(InstrumentId(0), Continuity::Spot, 16, 64);
        let mut out = |_e| {};
        s.on_snapshot(&snap(10), &[], &mut out);
        s.on_diff(&hdr(11, 12, None), &[], &mut out);
        assert_eq!(s.on_diff(&hdr(20, 21, None), &[lvl(1, 21)], &mut out), DiffOutcome::Gap);
        s.resync_requested(0, &mut out);
        assert_eq!(s.state(), BookState::Resyncing);
        assert_eq!(s.on_diff(&hdr(22, 23, None), &[], &mut out), DiffOutcome::Buffered);
        assert_eq!(s.on_snapshot(&snap(21), &[], &mut out), SnapshotOutcome::Synced { bridged: 1 });
        assert_eq!((s.stats().gaps, s.stats().resyncs), (1, 1));
        assert_eq!(s.state(), BookState::Synced);
    }

    #[test]
    fn buffer_overflow_discards_and_wants_snapshot() {
        let mut s = DepthSync::new(InstrumentId(0), Continuity::Spot, 2, 64);
        let mut out = |_e| {};
        s.on_diff(&hdr(1, 1, None), &[], &mut out);
        s.on_diff(&hdr(2, 2, None), &[], &mut out);
        assert_eq!(s.on_diff(&hdr(3, 3, None), &[], &mut out), DiffOutcome::Overflow);
        assert_eq!(s.stats().buffer_overflows, 1);
        assert!(s.wants_snapshot());
    }

    #[test]
    fn usdm_pu_chaining() {
        let mut s = DepthSync::new(InstrumentId(0), Continuity::Usdm, 16, 64);
        let mut out = |_e| {};
        s.on_diff(&hdr(90, 95, Some(89)), &[], &mut out);
        s.on_diff(&hdr(96, 104, Some(95)), &[], &mut out);
        // L=100: first applied must have U <= 100 <= u.
        assert_eq!(
            s.on_snapshot(&snap(100), &[], &mut out),
            SnapshotOutcome::Synced { bridged: 1 }
        );
        assert_eq!(s.on_diff(&hdr(105, 110, Some(104)), &[], &mut out), DiffOutcome::Applied);
        // U jumps but pu chains: fine on futures.
        assert_eq!(s.on_diff(&hdr(120, 130, Some(110)), &[], &mut out), DiffOutcome::Applied);
        assert_eq!(s.on_diff(&hdr(131, 140, Some(129)), &[], &mut out), DiffOutcome::Gap);
    }
}
