//! Error types, one per operation. Hot-path errors ([`AppendError`], [`SyncError`]) are `Copy`
//! and carry no heap data.

use std::io;
use std::path::PathBuf;

use crate::fault::FaultPoint;
use crate::format::HeaderError;

/// The I/O operation behind a [`HaltReason::Io`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IoOp {
    /// `statvfs` of the journal directory.
    StatFs,
    /// Creating, writing the header of, fsyncing or renaming a new segment.
    CreateSegment,
    /// `posix_fallocate` of a new segment.
    Preallocate,
    /// `mmap` of a segment.
    MapSegment,
    /// `msync` of a segment.
    Msync,
    /// `fdatasync` of a rolled segment whose mapping was released before it was synced.
    Fdatasync,
    /// `fsync` of the journal directory after a new segment got its name.
    SyncDir,
    /// Writing or `fdatasync` of the durable watermark file.
    Watermark,
}

/// Why a writer halted. Once halted, every later `append`/`sync` fails with the same reason:
/// errors are never retried and ignored (fsyncgate).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HaltReason {
    /// Free space below two segments: refused to roll rather than risk SIGBUS on a full disk.
    #[error("insufficient space: {available_bytes} bytes free, {required_bytes} required")]
    InsufficientSpace {
        /// Bytes free for unprivileged users.
        available_bytes: u64,
        /// Two segments.
        required_bytes: u64,
    },
    /// An I/O call failed.
    #[error("{op:?} failed: {kind} (os error {os_code:?})")]
    Io {
        /// Which call.
        op: IoOp,
        /// Its error kind.
        kind: io::ErrorKind,
        /// Raw OS error code, when there is one.
        os_code: Option<i32>,
    },
    /// A fault hook stopped the writer at this point (tests).
    #[error("fault injected at {0:?}")]
    FaultInjected(FaultPoint),
}

impl HaltReason {
    /// Builds an [`HaltReason::Io`] from an `io::Error`.
    pub fn io(op: IoOp, e: &io::Error) -> HaltReason {
        HaltReason::Io { op, kind: e.kind(), os_code: e.raw_os_error() }
    }
}

/// Why [`crate::Writer::append`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// The writer is halted (this call or an earlier one hit the reason).
    #[error("journal writer halted: {0}")]
    Halted(HaltReason),
    /// Types `0xFF00..` are reserved for journal metadata.
    #[error("record type {0:#06x} is reserved for journal metadata")]
    ReservedType(u16),
    /// The payload cannot fit in one segment.
    #[error("payload of {len} bytes exceeds the maximum of {max}")]
    PayloadTooLarge {
        /// Payload length.
        len: usize,
        /// Largest payload a segment of this size holds.
        max: usize,
    },
}

/// Why [`crate::Writer::sync`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The writer is halted (this call or an earlier one hit the reason).
    #[error("journal writer halted: {0}")]
    Halted(HaltReason),
}

/// Why [`crate::Journal::open`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Invalid configuration.
    #[error("invalid journal config: {0}")]
    Config(&'static str),
    /// Another writer holds the journal directory.
    #[error("journal {0} is locked by another writer")]
    Locked(PathBuf),
    /// An I/O call failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A segment header is unreadable: not a torn tail, refuse to guess.
    #[error("segment {path}: {reason}")]
    BadSegmentHeader {
        /// Segment file.
        path: PathBuf,
        /// What is wrong.
        reason: HeaderError,
    },
    /// Fewer records were recovered than the durable watermark promises.
    #[error("durable records lost: watermark {durable_seq}, recovered up to {recovered_seq}")]
    DurableRecordsLost {
        /// Persisted durable watermark.
        durable_seq: u64,
        /// Last seq recovered.
        recovered_seq: u64,
    },
    /// Creating the first or next segment failed.
    #[error("cannot create segment: {0}")]
    Segment(HaltReason),
}

/// Why a [`crate::Reader`] or [`crate::Tailer`] could not open a journal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReaderOpenError {
    /// Listing the directory failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// Directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// A problem met while reading records. Reading carries on past it where it can.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// Invalid record followed by valid ones: the rest of this segment is skipped.
    #[error("corrupt record in {segment} at offset {offset}: {reason}")]
    Corrupt {
        /// Segment file.
        segment: PathBuf,
        /// Byte offset of the bad record.
        offset: u64,
        /// What is wrong.
        reason: crate::protocol::InvalidReason,
    },
    /// A segment could not be opened or its header is bad: it is skipped.
    #[error("unreadable segment {segment}: {reason}")]
    BadSegment {
        /// Segment file.
        segment: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The next record's seq is not the expected one (records lost between segments).
    #[error("seq gap: expected {expected}, found {found}")]
    SeqGap {
        /// Expected seq.
        expected: u64,
        /// Seq found.
        found: u64,
    },
}
