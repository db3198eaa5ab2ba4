//! Live Coinbase sessions against the local Coinbase mock (127.0.0.1) replaying the real
//! capture: a dropped `l2_data` update is detected on the next message, the session reconnects,
//! the mock's fresh snapshot resyncs both books, and they end equal to the mock's reference
//! books; a silent connection is detected as a stall and recovered the same way.
#![allow(clippy::unwrap_used)] // test code

mod mock_cb;

use std::time::{Duration, Instant};

use crpbot_core::{BookState, BookStateChange, MarketEvent, Registry, Side, StateReason, Venue};
use crpbot_feeds::books::TrackedBook;
use crpbot_feeds::replay::{Published, ReplaySink};
use crpbot_feeds::session::{LiveBooks, SessionConfig, SessionHandle, spawn};
use mock_cb::{CbConfig, Mock, RefBook, script};

const PRODUCTS: [&str; 2] = ["BTC-USD", "ETH-USD"];

#[derive(Default)]
struct Seen {
    states: Vec<BookStateChange>,
    snapshots: u64,
    trades: u64,
    bbos: u64,
    published: u64,
    /// Publications of a book whose last state change was not `Synced`.
    published_while_unsynced: u64,
    state: std::collections::HashMap<u16, BookState>,
}

impl ReplaySink for Seen {
    fn on_book(&mut self, p: &Published<'_>) {
        self.published += 1;
        let i = p.depth.instrument.0;
        if !p.book.is_valid() || self.state.get(&i) != Some(&BookState::Synced) {
            self.published_while_unsynced += 1;
        }
    }

    fn on_event(&mut self, e: &MarketEvent) {
        match e {
            MarketEvent::State(c) => {
                self.states.push(*c);
                self.state.insert(c.instrument.0, c.state);
            }
            MarketEvent::Snapshot(_) => self.snapshots += 1,
            MarketEvent::Trade(_) => self.trades += 1,
            MarketEvent::Bbo(_) => self.bbos += 1,
            _ => {}
        }
    }
}

fn config(mock: &Mock) -> SessionConfig {
    let mut cfg = SessionConfig::new(Venue::Coinbase, &PRODUCTS);
    cfg.ws_url = mock.ws_url();
    cfg.backoff_initial = Duration::from_millis(1);
    cfg.backoff_max = Duration::from_millis(4);
    cfg.connect_timeout = Duration::from_secs(5);
    cfg.tick = Duration::from_millis(5);
    cfg
}

fn sides(b: &TrackedBook) -> (mock_cb::Side2, mock_cb::Side2) {
    let side = |s| b.book.levels(s).map(|l| (l.px.0, l.qty.0)).collect::<Vec<_>>();
    (side(Side::Buy), side(Side::Sell))
}

/// Full compare of both sides; returns the number of levels compared.
fn assert_same_book(product: &str, b: &TrackedBook, m: &RefBook) -> usize {
    let (bids, asks) = sides(b);
    let (mb, ma) = m.sides();
    assert_eq!((bids.len(), asks.len()), (mb.len(), ma.len()), "{product}: level counts");
    assert!(bids == mb, "{product}: bids differ");
    assert!(asks == ma, "{product}: asks differ");
    bids.len() + asks.len()
}

/// Drains until the mock has sent its whole capture and both books are valid at the mock's
/// last `l2_data` sequence number of the current connection; false after 20 s.
fn run_to_end(
    mock: &Mock,
    handle: &SessionHandle,
    rx: &mut rtrb::Consumer<MarketEvent>,
) -> (LiveBooks, Seen, bool) {
    let registry = Registry::with_defaults();
    let mut books = LiveBooks::new(&registry, handle.resync_requester());
    let mut seen = Seen::default();
    let deadline = Instant::now() + Duration::from_secs(20);
    let ids = handle.instruments().to_vec();
    let ok = loop {
        books.drain(rx, &mut seen);
        let st = mock.state.lock().unwrap();
        let at_end = st.done
            && PRODUCTS.iter().zip(&ids).all(|(p, &id)| {
                let want = st.last_seq.get(*p).copied();
                books.books().get(id).is_some_and(|b| b.is_valid() && Some(b.update_id) == want)
            });
        drop(st);
        if at_end {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::yield_now();
    };
    (books, seen, ok)
}

fn compare_all(mock: &Mock, handle: &SessionHandle, books: &LiveBooks) -> usize {
    PRODUCTS
        .iter()
        .zip(handle.instruments())
        .map(|(p, &id)| assert_same_book(p, books.books().get(id).unwrap(), &mock.book(p)))
        .sum()
}

/// The tests of this file run one at a time (each runs a mock exchange and a feed thread; on two
/// loaded cores parallel runs starve each other into extra, real stalls).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn dropped_update_is_detected_reconnected_and_books_end_equal_to_the_mock() {
    let _serial = serial();
    let Some(script) = script() else { return };
    let cfg =
        CbConfig { drop_update: Some(300), pace: Duration::from_micros(500), ..Default::default() };
    let mock = Mock::start(script, cfg);
    let registry = Registry::with_defaults();
    let (handle, mut rx) = spawn(config(&mock), &registry, None).unwrap();
    let (books, seen, ok) = run_to_end(&mock, &handle, &mut rx);
    let stats = handle.stats();
    assert!(ok, "books never reached the end of the capture: {stats:?}");
    let st = mock.state.lock().unwrap();
    let drops = st.drops.clone();
    let (conns, built, subscribes) = (st.conn_index, st.snapshots_built, st.subscribes.clone());
    drop(st);
    assert_eq!(drops.len(), 1, "{drops:?}");
    let dropped_seq = drops[0].1;
    let gap_changes: Vec<_> = seen
        .states
        .iter()
        .filter(|c| c.state == BookState::Stale && c.reason == StateReason::Gap)
        .collect();
    // Both books go stale on the very next message (whose sequence number the change carries).
    assert_eq!(gap_changes.len(), 2, "{:?}", seen.states);
    assert!(gap_changes.iter().all(|c| c.update_id == dropped_seq + 1), "{gap_changes:?}");
    assert_eq!(stats.gaps, 1);
    assert_eq!(stats.reconnects, 1, "{stats:?}");
    assert_eq!(conns, 2);
    assert_eq!(built, 2, "one reference snapshot per product on the new connection");
    assert_eq!(seen.snapshots, 4, "2 from the capture, 2 rebuilt by the mock");
    assert_eq!(stats.resyncs, 2, "{stats:?}");
    assert_eq!(seen.published_while_unsynced, 0);
    assert!(seen.trades > 0 && seen.bbos > 0, "trades and tickers flow too");
    for ch in ["level2", "heartbeats", "market_trades", "ticker"] {
        let want = format!(
            r#"{{"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channel":"{ch}"}}"#
        );
        assert_eq!(subscribes.iter().filter(|s| **s == want).count(), 2, "{ch}: {subscribes:?}");
    }
    let n = compare_all(&mock, &handle, &books);
    println!(
        "coinbase: dropped l2_data seq {dropped_seq} on connection 1; gap detected on the next \
         message (seq {}), {} reconnect, {} snapshots built by the mock, {} resyncs; final \
         books equal to the mock's on all {n} levels (both products); {} publications, \
         {} trades, {} tickers",
        dropped_seq + 1,
        stats.reconnects,
        built,
        stats.resyncs,
        seen.published,
        seen.trades,
        seen.bbos
    );
    let s = handle.join();
    assert!(!s.running);
    assert_eq!(s.open_sockets, 0);
}

#[test]
fn silent_connection_is_a_stall_within_the_timeout_and_recovers() {
    let _serial = serial();
    let Some(script) = script() else { return };
    let cfg = CbConfig { stall_after: Some(400), ..Default::default() };
    let mock = Mock::start(script, cfg);
    let registry = Registry::with_defaults();
    let mut scfg = config(&mock);
    let timeout = Duration::from_millis(400);
    scfg.stall_timeout = timeout;
    let (handle, mut rx) = spawn(scfg, &registry, None).unwrap();
    let (books, seen, ok) = run_to_end(&mock, &handle, &mut rx);
    let stats = handle.stats();
    assert!(ok, "books never reached the end of the capture: {stats:?}");
    let st = mock.state.lock().unwrap();
    let stalled_at = st.stalled_at.unwrap();
    let closed = st.closed_at.iter().find(|(c, _)| *c == 1).unwrap().1;
    drop(st);
    let detect = closed - stalled_at;
    // Connection 1 stalls on purpose. The mock also goes quiet once the capture is over, so on
    // a slow run the session may (correctly) report a second stall on the last connection.
    assert!(stats.stalls >= 1, "{stats:?}");
    assert_eq!(stats.gaps, 0);
    assert!(stats.reconnects >= 1);
    let stall_changes = seen
        .states
        .iter()
        .filter(|c| c.reason == StateReason::Stall && c.state == BookState::Stale);
    // Both books go stale on the stall, together. On a loaded machine the reconnect may be slow
    // enough to count as a further stall (again of both books), which is correct behaviour.
    let n_stall = stall_changes.count();
    assert!(n_stall >= 2 && n_stall % 2 == 0, "both books stale on the stall: {:?}", seen.states);
    assert!(detect >= timeout, "closed before the timeout: {detect:?}");
    assert!(detect < timeout + Duration::from_secs(5), "not detected: {detect:?}");
    assert_eq!(seen.published_while_unsynced, 0);
    let n = compare_all(&mock, &handle, &books);
    println!(
        "coinbase: silent after 400 frames; connection closed {detect:?} after the last frame \
         (stall timeout {timeout:?}); resynced, final books equal on all {n} levels"
    );
}
