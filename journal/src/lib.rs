//! crpbot-journal: a segmented, memory-mapped, append-only event journal with one writer and
//! many tailers.
//!
//! Every event of the trading core (raw frames, market events, signals, order intents, risk
//! verdicts, fills, control events) is stored as a typed record
//! `(type: u16, ver: u16, seq: u64, ts_ns: i64, payload)`, framed and checksummed with a salted
//! CRC-32C as specified byte by byte in `journal/FORMAT.md` (RELIABILITY.md §1.7). The crate
//! does not know the layout of payloads; a typed codec for crpbot-core events sits on top.
//!
//! * [`Journal::open`] recovers a directory (torn tail zeroed, corruption quarantined, never
//!   silently truncated) and returns the [`Writer`].
//! * [`Writer::append`] commits a record (visible to tailers, survives `kill -9`; no
//!   allocation, no system call, no page fault once the background thread has pre-faulted the
//!   pages ahead); [`Writer::sync`] / [`Writer::sync_to`] / [`Writer::append_durable`] make
//!   records durable (`msync` of the bytes written since the last sync, then a checksummed
//!   durable watermark). Errors halt the writer ([`Writer::halted`]); they are never retried
//!   and ignored.
//! * A background thread per writer ([`JournalConfig::prefault_bytes`]) pre-faults pages ahead
//!   of the cursor, prepares the next segment file and makes new segment names durable, so a
//!   roll costs one header `msync` and a `rename` on the appending thread.
//! * [`Reader`] replays a journal at rest; [`Tailer`] follows a live writer.
//! * [`verify`] and [`stats`] back `crpbot journal verify` / `stats`; [`verify_acked`] is the
//!   post-crash check of a kill -9 test (0 bad records, every acked seq recovered, seqs
//!   contiguous).
//!
//! # Tests and commands
//! * `cargo test -p crpbot-journal` runs the scaled scenario suite (J1 200 kill -9 runs, J2, J3
//!   2,000 copies, J4, J5 1,000 cuts, J6 20 runs per point, J7 1.5 s of rolls every 20 ms with 4
//!   delayed tailers per writer mode plus 20 crash-during-roll runs per mode, J8/J9 20
//!   injections per error point and writer mode, J11 200,000 typed events, proptest,
//!   an allocation-counting test of `append`).
//! * `CRPBOT_FULL=1 cargo test -p crpbot-journal --release` runs the full RELIABILITY.md §1.8
//!   counts (J1 1,000, J3 10,000, J5 10,000, J6 100 per point, J7 15 s with a roll every
//!   300 ms and 100 crash runs per mode, J8/J9 100 injections, J11 10,000,000 events).
//! * `RUSTFLAGS="--cfg loom" cargo test -p crpbot-journal --release --test loom` model-checks
//!   the publication protocol (J12) with the same [`protocol`] code over a loom buffer.
//! * `cargo bench -p crpbot-journal --bench journal -- --warm-up-time 1 --measurement-time 3`
//!   runs the criterion benches (sustained append incl. rolls, replay, latency histograms of
//!   `append` and `append_durable`; see `benches/journal.rs`).
//!
//! # Status against RELIABILITY.md §1.8
//! Covered: J1 (kill -9, `tests/kill9.rs`, checked with [`verify_acked`] before and after
//! recovery), J2 (truncate and zero-fill sweep over the last 3 records, `tests/scenarios.rs`),
//! J3 (bit flips, quarantine, file left untouched), J4 (garbage after the last record and past
//! the file end), J5 (page-granular power-loss model, `tests/crash.rs`; a page that also holds
//! durable bytes is assumed written atomically, old or new), J6 (crash points through
//! [`FaultHook`], kill model: page cache survives), J7 (`tests/rolls.rs`: forced and
//! size-triggered rolls under 4 randomly delayed tailers, crash inside a roll before
//! END_OF_DATA), J8 (`tests/errors.rs`: the free-space check failing at a roll, injected through
//! [`FaultPoint::NoSpace`]: halt within the event, no partial record, recovery keeps every acked
//! record), J9 (`tests/errors.rs`: `EIO` injected into each `msync`/`fdatasync`/`fsync` of the
//! writer and of its background thread: halt on the first error in 100 % of injections, no
//! retry, later calls refused), J11 (3 decoded replays and a tailer replay hash equal), J12
//! loom (Miri not run).
//! Not done yet: J8 on a real size-limited tmpfs (needs mount privileges; only injected), J10
//! (belongs to the trading core), a cargo-fuzz target.
//! Known limitation: after a power loss, a lost page followed by surviving unsynced pages is
//! reported as corruption (quarantine) rather than as a torn tail; no durable record is lost.
#![deny(unsafe_code)]

mod acked;
pub mod codec;
pub mod error;
pub mod fault;
pub mod format;
pub mod mmap;
mod open;
mod prepare;
pub mod protocol;
mod reader;
pub mod segment;
mod verify;
pub mod watermark;
mod writer;

pub use acked::{AckedReport, verify_acked};
pub use error::{AppendError, HaltReason, IoOp, OpenError, ReadError, ReaderOpenError, SyncError};
pub use fault::{FaultHook, FaultPoint};
pub use open::{
    DEFAULT_PREFAULT_BYTES, Journal, JournalConfig, LOCK_FILE, QuarantinedSegment, RecoveryReport,
};
pub use prepare::BackgroundStats;
pub use reader::{Reader, Record, Tailer, ZEROED_SCAN_WINDOW};
pub use verify::{BadSpot, JournalStats, VerifyReport, stats, verify};
pub use writer::{Writer, max_payload};

/// Registry of record type numbers (`u16`). Types `0xFF00..=0xFFFF` are reserved for journal
/// metadata (END_OF_DATA, SEAL) and rejected by [`Writer::append`].
#[derive(Debug)]
pub struct RecordType;

impl RecordType {
    /// A raw venue frame as received (bytes).
    pub const RAW_FRAME: u16 = 1;
    /// A normalized crpbot-core market event.
    pub const MARKET_EVENT: u16 = 2;
    /// A book state summary (best levels).
    pub const BOOK_STATE: u16 = 3;
    /// A strategy signal.
    pub const SIGNAL: u16 = 4;
    /// An order intent leaving a strategy.
    pub const ORDER_INTENT: u16 = 5;
    /// A risk verdict on an intent.
    pub const RISK_VERDICT: u16 = 6;
    /// A fill.
    pub const FILL: u16 = 7;
    /// A position snapshot.
    pub const POSITION: u16 = 8;
    /// An equity snapshot.
    pub const EQUITY: u16 = 9;
    /// A control event (start, stop, halt, kill switch, config).
    pub const CONTROL: u16 = 10;
    /// A telemetry record.
    pub const TELEMETRY: u16 = 11;

    /// Name of a known type.
    pub const fn name(t: u16) -> Option<&'static str> {
        Some(match t {
            1 => "RAW_FRAME",
            2 => "MARKET_EVENT",
            3 => "BOOK_STATE",
            4 => "SIGNAL",
            5 => "ORDER_INTENT",
            6 => "RISK_VERDICT",
            7 => "FILL",
            8 => "POSITION",
            9 => "EQUITY",
            10 => "CONTROL",
            11 => "TELEMETRY",
            0xFF01 => "END_OF_DATA",
            0xFF02 => "SEAL",
            _ => return None,
        })
    }
}
