//! Counters a session shares with its handle: relaxed atomics written by the feed thread (no
//! locks, no syscalls), read by whoever prints status.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, Ordering::Relaxed};

use crpbot_core::{BookState, InstrumentId};
use tokio::sync::Notify;

/// A plain copy of a session's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Websocket frames received (text, binary, ping, pong).
    pub messages: u64,
    /// Bytes of text and binary frames.
    pub bytes: u64,
    /// Frames the protocol rejected (bad JSON, unknown stream, bad field...).
    pub rejected: u64,
    /// Connections closed because a frame or message exceeded the size cap.
    pub oversize: u64,
    /// Connection attempts.
    pub connect_attempts: u64,
    /// Attempts that failed before the websocket was open.
    pub connect_failures: u64,
    /// Websocket connections opened.
    pub connects: u64,
    /// Connections opened after a previous one ended.
    pub reconnects: u64,
    /// Connections that ended because no message arrived within the stall timeout.
    pub stalls: u64,
    /// `serverShutdown` notices honoured.
    pub server_shutdowns: u64,
    /// Proactive reconnects before the venue's connection age limit.
    pub age_reconnects: u64,
    /// Pings answered.
    pub pings: u64,
    /// Sequence gaps seen (state changes to `Stale` with reason `Gap`, ring overflows excluded).
    pub gaps: u64,
    /// Snapshots applied that restored a lost sync.
    pub resyncs: u64,
    /// Snapshots applied.
    pub snapshots: u64,
    /// Snapshot requests that failed (network, HTTP status, bad body, too old).
    pub snapshot_errors: u64,
    /// Snapshot rounds that gave up after the retry limit (the connection is restarted).
    pub snapshot_give_ups: u64,
    /// Events not delivered because the ring was full.
    pub ring_full: u64,
    /// Books invalidated because the ring was full (back-pressure resyncs).
    pub backpressure_resyncs: u64,
    /// Open sockets (websocket and HTTP) owned by the session now.
    pub open_sockets: u64,
    /// Local time of the last gap (0 if none).
    pub last_gap_ns: i64,
    /// Instrument of the last gap.
    pub last_gap_instrument: u16,
    /// The session thread is running.
    pub running: bool,
}

macro_rules! counters {
    ($($name:ident),* $(,)?) => {
        /// The live counters (see [`SessionStats`] for their meaning).
        #[derive(Debug, Default)]
        pub(crate) struct Counters { $(pub(crate) $name: AtomicU64,)* }
        impl Counters {
            fn load(&self, s: &mut SessionStats) { $(s.$name = self.$name.load(Relaxed);)* }
        }
    };
}

counters!(
    messages,
    bytes,
    rejected,
    oversize,
    connect_attempts,
    connect_failures,
    connects,
    reconnects,
    stalls,
    server_shutdowns,
    age_reconnects,
    pings,
    gaps,
    resyncs,
    snapshots,
    snapshot_errors,
    snapshot_give_ups,
    ring_full,
    backpressure_resyncs,
    open_sockets,
);

/// State shared between a session thread and its handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) counters: Counters,
    pub(crate) stop: AtomicBool,
    pub(crate) running: AtomicBool,
    pub(crate) wake: Notify,
    pub(crate) last_gap_ns: AtomicI64,
    pub(crate) last_gap_instrument: AtomicU64,
    /// Book state as delivered on the ring, by instrument index.
    pub(crate) states: Box<[AtomicU8]>,
    /// Resync requests from the consumer, by instrument index.
    pub(crate) resync: Box<[AtomicBool]>,
}

impl Shared {
    pub(crate) fn new(n_instruments: usize) -> Arc<Shared> {
        Arc::new(Shared {
            counters: Counters::default(),
            stop: AtomicBool::new(false),
            running: AtomicBool::new(true),
            wake: Notify::new(),
            last_gap_ns: AtomicI64::new(0),
            last_gap_instrument: AtomicU64::new(0),
            states: (0..n_instruments).map(|_| AtomicU8::new(BookState::Syncing as u8)).collect(),
            resync: (0..n_instruments).map(|_| AtomicBool::new(false)).collect(),
        })
    }

    pub(crate) fn stats(&self) -> SessionStats {
        let mut s = SessionStats::default();
        self.counters.load(&mut s);
        s.last_gap_ns = self.last_gap_ns.load(Relaxed);
        s.last_gap_instrument = self.last_gap_instrument.load(Relaxed) as u16;
        s.running = self.running.load(Relaxed);
        s
    }

    pub(crate) fn state(&self, id: InstrumentId) -> Option<BookState> {
        let v = self.states.get(id.index())?.load(Relaxed);
        Some(match v {
            1 => BookState::Synced,
            2 => BookState::Stale,
            3 => BookState::Resyncing,
            _ => BookState::Syncing,
        })
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Relaxed)
    }
}

/// Adds one to a counter.
#[inline]
pub(crate) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}

/// Counts an open socket for as long as it lives.
#[derive(Debug)]
pub(crate) struct SocketGuard(pub(crate) Arc<Shared>);

impl SocketGuard {
    pub(crate) fn new(shared: &Arc<Shared>) -> SocketGuard {
        bump(&shared.counters.open_sockets);
        SocketGuard(Arc::clone(shared))
    }
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.0.counters.open_sockets.fetch_sub(1, Relaxed);
    }
}
