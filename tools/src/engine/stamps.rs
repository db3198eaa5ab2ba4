//! Latency stamps carried with each venue message through the stages: the harness's
//! [`Stamps`] and clock, so what `crpbot bench` reports is what the engine stamped.

pub use crpbot_benches::harness::{Stamps, now_ns};

/// Receives each message's completed stamps on the journal thread (the latency harness).
/// Must not allocate or block.
pub trait StampSink: Send {
    /// One message's stamps.
    fn record(&mut self, st: &Stamps);
}
