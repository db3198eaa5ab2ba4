//! The test side of a session's ring: live books plus a record of what arrived.

use std::time::{Duration, Instant};

use crpbot_core::{BookState, BookStateChange, MarketEvent, Registry, Side, Venue};
use crpbot_feeds::books::TrackedBook;
use crpbot_feeds::replay::{Published, ReplaySink};
use crpbot_feeds::session::{LiveBooks, SessionConfig, SessionHandle};

use super::{Mock, RefBook};

/// Everything the consumer saw.
#[derive(Debug, Default)]
pub struct Seen {
    pub states: Vec<BookStateChange>,
    pub snapshots: Vec<u64>,
    pub published: u64,
    pub published_unsynced: u64,
    pub marks: u64,
    pub trades: u64,
    pub bbos: u64,
    /// Local time of the last event that came from a websocket frame.
    pub last_data_ns: i64,
    pub state: BookState,
    /// `last_data_ns` when the first `Stall` state change arrived.
    pub data_ns_at_first_stall: Option<i64>,
    /// Publications after a `Stale` and before the next `Synced`.
    pub published_while_stale: u64,
}

impl ReplaySink for Seen {
    fn on_book(&mut self, p: &Published<'_>) {
        self.published += 1;
        if !p.book.is_valid() {
            self.published_unsynced += 1;
        }
        if self.state != BookState::Synced {
            self.published_while_stale += 1;
        }
        let (b, a) = (p.book.book.best_bid().unwrap(), p.book.book.best_ask().unwrap());
        assert!(b.px < a.px, "published a crossed book");
    }

    fn on_event(&mut self, e: &MarketEvent) {
        match e {
            MarketEvent::State(c) => {
                if c.reason == crpbot_core::StateReason::Stall
                    && self.data_ns_at_first_stall.is_none()
                {
                    self.data_ns_at_first_stall = Some(self.last_data_ns);
                }
                self.state = c.state;
                self.states.push(*c);
            }
            MarketEvent::Snapshot(s) => self.snapshots.push(s.update_id),
            MarketEvent::Mark(_) => self.marks += 1,
            MarketEvent::Trade(_) => self.trades += 1,
            MarketEvent::Bbo(_) => self.bbos += 1,
            _ => {}
        }
        // Websocket-frame events only (a snapshot arrives over HTTP).
        let from_ws = match e {
            MarketEvent::State(_) | MarketEvent::Snapshot(_) => false,
            MarketEvent::Level(l) => !l.is_snapshot(),
            _ => true,
        };
        if from_ws {
            self.last_data_ns = self.last_data_ns.max(e.ts_local_ns());
        }
    }
}

/// A session against the mock with short, test-sized timings.
pub fn test_config(mock: &Mock, venue: Venue) -> SessionConfig {
    let mut cfg = SessionConfig::new(venue, &["BTCUSDT"]);
    cfg.ws_url = mock.ws_url();
    cfg.rest_url = mock.rest_url();
    cfg.backoff_initial = Duration::from_millis(1);
    cfg.backoff_max = Duration::from_millis(4);
    cfg.snapshot_backoff_initial = Duration::from_millis(1);
    cfg.snapshot_backoff_max = Duration::from_millis(4);
    cfg.snapshot_timeout = Duration::from_secs(5);
    cfg.connect_timeout = Duration::from_secs(5);
    cfg.max_connects_per_window = 10_000;
    cfg.tick = Duration::from_millis(5);
    cfg
}

/// Registry for the USDⓈ-M flavour of the (spot) recording: the spot tick and lot.
pub fn usdm_registry() -> Registry {
    Registry::from_toml(
        r#"
        [[instrument]]
        venue = "binance-usdm"
        symbol = "BTCUSDT"
        tick = "0.01"
        lot = "0.00000001"
        "#,
    )
    .unwrap()
}

/// The consumer loop: drain, check `done`, yield; false at the deadline.
pub fn pump(
    rx: &mut rtrb::Consumer<MarketEvent>,
    books: &mut LiveBooks,
    seen: &mut Seen,
    timeout: Duration,
    mut done: impl FnMut(&LiveBooks, &Seen) -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        books.drain(rx, seen);
        if done(books, seen) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::yield_now();
    }
}

/// Both sides of a book, best first.
pub fn sides(b: &TrackedBook) -> (super::Side2, super::Side2) {
    let side = |s| b.book.levels(s).map(|l| (l.px, l.qty)).collect::<Vec<_>>();
    (side(Side::Buy), side(Side::Sell))
}

/// Full compare of both sides with the mock's book; returns the number of levels compared.
pub fn assert_same_book(b: &TrackedBook, m: &RefBook) -> usize {
    let (bids, asks) = sides(b);
    let (mb, ma) = m.sides();
    assert_eq!(bids.len(), mb.len(), "bid level count");
    assert_eq!(asks.len(), ma.len(), "ask level count");
    assert!(bids == mb, "bids differ");
    assert!(asks == ma, "asks differ");
    bids.len() + asks.len()
}

/// Stops the session and checks it released everything.
pub fn stop_clean(handle: SessionHandle, mock: &Mock) {
    let s = handle.join();
    assert!(!s.running, "the feed thread ended");
    assert_eq!(s.open_sockets, 0, "the session still owns sockets");
    let open = mock.wait_open(Duration::from_secs(5), |n| n == 0);
    assert_eq!(open, 0, "the mock still sees open websocket connections");
}
