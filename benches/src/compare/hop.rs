//! One-way hop latency between two threads: rtrb vs crossbeam-channel (bounded) vs
//! `std::sync::mpsc::sync_channel`.

use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};

use hdrhistogram::Histogram;

use super::samples::{entry_from_histogram, ratios};
use super::{CompareError, Comparison};
use crate::harness::{LATENCY_MAX_NS, SIGNIFICANT_DIGITS, measure_now_ns_cost, now_ns};

/// Queue capacity of every queue compared.
const CAPACITY: usize = 1024;
/// Empty or full polls a waiter spins through before it starts yielding (only matters when
/// the two threads share a core).
const SPINS_BEFORE_YIELD: u32 = 1 << 12;
/// The stop message's sequence number.
const STOP: u64 = u64::MAX;

/// What crosses the queue: a sequence number and the sender's [`now_ns`] at the send.
#[derive(Clone, Copy, Debug)]
struct Msg {
    seq: u64,
    sent_ns: u64,
}

/// Spin, then yield: a waiter that cannot livelock a shared core.
struct Spinner(u32);
impl Spinner {
    #[inline]
    fn wait(&mut self) {
        if self.0 < SPINS_BEFORE_YIELD {
            self.0 += 1;
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// The sending end of one queue kind, polled with `try_*`. `false`: the other side is gone.
trait Tx: Send + 'static {
    fn send(&mut self, m: Msg) -> bool;
}
/// The receiving end. `None`: the other side is gone and the queue is empty.
trait Rx: Send + 'static {
    fn recv(&mut self) -> Option<Msg>;
}

impl Tx for rtrb::Producer<Msg> {
    #[inline]
    fn send(&mut self, mut m: Msg) -> bool {
        let mut s = Spinner(0);
        loop {
            match self.push(m) {
                Ok(()) => return true,
                Err(rtrb::PushError::Full(back)) => {
                    if self.is_abandoned() {
                        return false;
                    }
                    m = back;
                    s.wait();
                }
            }
        }
    }
}
impl Rx for rtrb::Consumer<Msg> {
    #[inline]
    fn recv(&mut self) -> Option<Msg> {
        let mut s = Spinner(0);
        loop {
            if let Ok(m) = self.pop() {
                return Some(m);
            }
            if self.is_abandoned() && self.is_empty() {
                return None;
            }
            s.wait();
        }
    }
}
impl Tx for crossbeam_channel::Sender<Msg> {
    #[inline]
    fn send(&mut self, mut m: Msg) -> bool {
        let mut s = Spinner(0);
        loop {
            match self.try_send(m) {
                Ok(()) => return true,
                Err(crossbeam_channel::TrySendError::Full(back)) => {
                    m = back;
                    s.wait();
                }
                Err(crossbeam_channel::TrySendError::Disconnected(_)) => return false,
            }
        }
    }
}
impl Rx for crossbeam_channel::Receiver<Msg> {
    #[inline]
    fn recv(&mut self) -> Option<Msg> {
        let mut s = Spinner(0);
        loop {
            match self.try_recv() {
                Ok(m) => return Some(m),
                Err(crossbeam_channel::TryRecvError::Empty) => s.wait(),
                Err(crossbeam_channel::TryRecvError::Disconnected) => return None,
            }
        }
    }
}
impl Tx for SyncSender<Msg> {
    #[inline]
    fn send(&mut self, mut m: Msg) -> bool {
        let mut s = Spinner(0);
        loop {
            match self.try_send(m) {
                Ok(()) => return true,
                Err(TrySendError::Full(back)) => {
                    m = back;
                    s.wait();
                }
                Err(TrySendError::Disconnected(_)) => return false,
            }
        }
    }
}
impl Rx for Receiver<Msg> {
    #[inline]
    fn recv(&mut self) -> Option<Msg> {
        let mut s = Spinner(0);
        loop {
            match self.try_recv() {
                Ok(m) => return Some(m),
                Err(TryRecvError::Empty) => s.wait(),
                Err(TryRecvError::Disconnected) => return None,
            }
        }
    }
}

fn histogram() -> Result<Histogram<u64>, CompareError> {
    Histogram::new_with_bounds(1, LATENCY_MAX_NS, SIGNIFICANT_DIGITS)
        .map_err(|_| CompareError::Recorder(crate::harness::RecorderError::Histogram))
}

fn pin(core: Option<core_affinity::CoreId>) -> bool {
    core.is_some_and(core_affinity::set_for_current)
}

/// Runs one queue kind: returns (one-way histogram, round-trip histogram, both pinned).
fn run_pair<T: Tx, R: Rx>(
    name: &str,
    (mut tx, mut rx): (T, R),
    (mut back_tx, mut back_rx): (T, R),
    messages: usize,
    warmup: usize,
    cores: (Option<core_affinity::CoreId>, Option<core_affinity::CoreId>),
) -> Result<(Histogram<u64>, Histogram<u64>, bool), CompareError> {
    let mut one_way = histogram()?;
    let mut rtt = histogram()?;
    let receiver = std::thread::Builder::new()
        .name(format!("hop-rx-{name}"))
        .spawn(move || {
            let pinned = pin(cores.1);
            let mut seen = 0usize;
            while let Some(m) = rx.recv() {
                let now = now_ns();
                if m.seq == STOP {
                    break;
                }
                if seen >= warmup {
                    one_way.saturating_record(now.saturating_sub(m.sent_ns));
                }
                seen += 1;
                if !back_tx.send(m) {
                    break;
                }
            }
            (one_way, pinned)
        })
        .map_err(CompareError::Spawn)?;
    // If this spawn fails, `tx` is dropped with the closure and the receiver sees a disconnect.
    let sender = std::thread::Builder::new()
        .name(format!("hop-tx-{name}"))
        .spawn(move || {
            let pinned = pin(cores.0);
            for i in 0..(warmup + messages) as u64 {
                let sent_ns = now_ns();
                if !tx.send(Msg { seq: i, sent_ns }) {
                    break;
                }
                // One message in flight at a time: no queueing in the measurement.
                let Some(_echo) = back_rx.recv() else { break };
                if i >= warmup as u64 {
                    rtt.saturating_record(now_ns().saturating_sub(sent_ns));
                }
            }
            let _ = tx.send(Msg { seq: STOP, sent_ns: 0 });
            (rtt, pinned)
        })
        .map_err(CompareError::Spawn)?;
    let (rtt, tx_pinned) = sender.join().map_err(|_| CompareError::Panicked)?;
    let (one_way, rx_pinned) = receiver.join().map_err(|_| CompareError::Panicked)?;
    Ok((one_way, rtt, tx_pinned && rx_pinned))
}

/// One-way latency of a message between two threads over three bounded queues of capacity
/// 1,024: `rtrb` (SPSC ring), `crossbeam` (`crossbeam_channel::bounded`) and `std_mpsc`
/// (`std::sync::mpsc::sync_channel`), `messages` timed messages each (plus a 10 % warm-up,
/// at most 1,000, not recorded).
///
/// Method: **one-way with the same clock**. The sender writes [`now_ns`] into the message, the
/// receiver subtracts it from its own [`now_ns`] on arrival (both read the same monotonic
/// clock, which is consistent across cores). The receiver echoes each message back on a
/// second queue of the same kind and the sender waits for the echo before sending the next, so
/// exactly one message is in flight and no queueing is measured. Both threads poll with
/// `try_*` and spin (yielding after 4,096 empty polls, which only happens when they share a
/// core). With `pin` and at least two available cores the sender runs on the first and the
/// receiver on the second; the caller's thread is never pinned. Round trip / 2 is given in the
/// notes as a cross-check. Ratios: `crossbeam/rtrb`, `std_mpsc/rtrb` (medians).
///
/// # Errors
/// [`CompareError::Spawn`] or [`CompareError::Panicked`] for a measuring thread.
pub fn hop(messages: usize, pin: bool) -> Result<Comparison, CompareError> {
    let messages = messages.max(1);
    let warmup = (messages / 10).min(1_000);
    let ids = core_affinity::get_core_ids().unwrap_or_default();
    let cores = if pin && ids.len() >= 2 {
        (ids.first().copied(), ids.get(1).copied())
    } else {
        (None, None)
    };

    let mut runs = Vec::with_capacity(3);
    let (a, b) = rtrb::RingBuffer::<Msg>::new(CAPACITY);
    let (c, d) = rtrb::RingBuffer::<Msg>::new(CAPACITY);
    runs.push(("rtrb", run_pair("rtrb", (a, b), (c, d), messages, warmup, cores)?));
    let ab = crossbeam_channel::bounded::<Msg>(CAPACITY);
    let cd = crossbeam_channel::bounded::<Msg>(CAPACITY);
    runs.push(("crossbeam", run_pair("crossbeam", ab, cd, messages, warmup, cores)?));
    let (a, b) = sync_channel::<Msg>(CAPACITY);
    let (c, d) = sync_channel::<Msg>(CAPACITY);
    runs.push(("std_mpsc", run_pair("std_mpsc", (a, b), (c, d), messages, warmup, cores)?));

    let entries: Vec<_> = runs.iter().map(|(n, (h, _, _))| entry_from_histogram(n, h)).collect();
    let ratios = ratios(&entries, &[("crossbeam", "rtrb"), ("std_mpsc", "rtrb")]);
    let pinned_all = runs.iter().all(|(_, (_, _, p))| *p);
    let half_rtt: Vec<String> = runs
        .iter()
        .map(|(n, (_, rtt, _))| format!("{n} {:.0} ns", rtt.value_at_quantile(0.5) as f64 / 2.0))
        .collect();
    let placement = match (pin, cores.0.is_some(), pinned_all) {
        (false, _, _) => "threads not pinned (pin = false)".to_owned(),
        (true, false, _) => {
            format!("threads not pinned: {} core(s) available, 2 needed", ids.len())
        }
        (true, true, true) => format!(
            "sender pinned to core {}, receiver to core {}",
            cores.0.map_or(0, |c| c.id),
            cores.1.map_or(0, |c| c.id)
        ),
        (true, true, false) => "pinning requested but the OS refused it for some thread".to_owned(),
    };
    let notes = vec![
        format!(
            "one-way with the same clock: sender stamps now_ns(), receiver subtracts from its own \
             now_ns(); one message in flight (echoed back before the next); {messages} messages \
             per queue after {warmup} warm-up; capacity {CAPACITY}"
        ),
        placement,
        format!("cross-check, round trip / 2 (median): {}", half_rtt.join(", ")),
        format!(
            "each sample includes one now_ns() call ({:.0} ns mean on this machine)",
            measure_now_ns_cost(100_000)
        ),
    ];
    Ok(Comparison {
        name: "hop".to_owned(),
        unit: "ns one-way per message".to_owned(),
        entries,
        ratios,
        notes,
    })
}
