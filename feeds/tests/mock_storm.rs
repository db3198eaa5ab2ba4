//! F5: a disconnect storm against the local mock — 200 forced disconnects (abrupt close at
//! varying points, mid-frame, mid-snapshot, `serverShutdown`) → 200 reconnects, the book
//! resyncs to the mock's, and nothing leaks (sockets on both sides, the feed thread).
#![allow(clippy::unwrap_used)] // test code

mod mock;

use std::time::Duration;

use crpbot_core::{BookState, Registry, StateReason, Venue};
use crpbot_feeds::session::{LiveBooks, spawn};
use mock::consumer::{Seen, assert_same_book, pump, stop_clean, test_config};
use mock::{Fault, Mock, MockConfig, script};

#[test]
fn two_hundred_forced_disconnects_two_hundred_reconnects_no_leaks() {
    let Some(script) = script() else { return };
    const N: usize = 200;
    // A fixed pseudo-random spread of cut points; four kinds in turn.
    let mut x = 0x2545_f491u32;
    let faults: Vec<Fault> = (0..N)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let at = 1 + (x % 40) as usize;
            match i % 4 {
                0 => Fault::Drop(at),
                1 => Fault::MidFrame(at),
                2 => Fault::ServerShutdown(at),
                _ => Fault::MidSnapshot,
            }
        })
        .collect();
    let cfg = MockConfig { faults, limit_frames: Some(14_000), ..Default::default() };
    let mock = Mock::start(script, cfg);
    let registry = Registry::with_defaults();
    let (handle, mut rx) = spawn(test_config(&mock, Venue::BinanceSpot), &registry, None).unwrap();
    let id = handle.instruments()[0];
    let mut books = LiveBooks::new(&registry, handle.resync_requester());
    let mut seen = Seen::default();
    let mut max_open = 0;
    let ok = pump(&mut rx, &mut books, &mut seen, Duration::from_secs(50), |b, _| {
        max_open = max_open.max(*mock.open.0.lock().unwrap());
        let st = mock.state.lock().unwrap();
        st.conn_index > N
            && st.done
            && b.books().get(id).is_some_and(|t| t.is_valid() && t.update_id >= st.last_u)
    });
    let stats = handle.stats();
    assert!(ok, "{stats:?}");
    println!(
        "storm: {} faults injected, {} connections accepted, {} reconnects, {} serverShutdown \
         notices honoured ({} closed by the client), {} snapshot errors, {} resyncs, max {} open \
         at once on the mock",
        mock.get(&mock.counters.faults_done),
        mock.get(&mock.counters.ws_accepted),
        stats.reconnects,
        stats.server_shutdowns,
        mock.get(&mock.counters.closed_by_client_after_shutdown),
        stats.snapshot_errors,
        stats.resyncs,
        max_open
    );
    assert_eq!(mock.get(&mock.counters.faults_done), N as u64);
    assert_eq!(mock.get(&mock.counters.ws_accepted), N as u64 + 1);
    assert_eq!(stats.reconnects, N as u64);
    assert_eq!(stats.connects, N as u64 + 1);
    assert_eq!(stats.server_shutdowns, (N / 4) as u64);
    assert_eq!(mock.get(&mock.counters.closed_by_client_after_shutdown), (N / 4) as u64);
    assert!(max_open <= 2, "connections piled up on the mock: {max_open}");
    // Every disconnect marked the book stale before anything else.
    let disconnects = seen
        .states
        .iter()
        .filter(|c| c.state == BookState::Stale && c.reason == StateReason::Disconnect)
        .count();
    assert!(disconnects >= N / 2, "{disconnects}");
    assert_eq!(seen.published_unsynced + seen.published_while_stale, 0);
    assert_same_book(books.books().get(id).unwrap(), &mock.book());
    stop_clean(handle, &mock);
}
