//! crpbot-journal: a segmented, memory-mapped, append-only event log.
//!
//! What will live here: a single-writer, many-tailer journal of every event (raw frames, market
//! events, signals, order intents, risk verdicts, fills, control events) with CRC-32C framed,
//! salted records, segment roll and crash recovery, specified byte by byte in
//! `journal/FORMAT.md`, and the deterministic replay reader.
#![forbid(unsafe_code)]
