//! Live venue sessions: one feed thread per venue connection, pushing normalized events into an
//! SPSC ring.
//!
//! ```text
//!            feed thread (tokio current-thread runtime)                 consumer thread
//! websocket ─► frame ─► [FrameTap] ─► VenueProtocol::on_frame ─► RingOut ══ring══► LiveBooks
//! REST GET  ─► snapshot body ───────► VenueProtocol::on_snapshot ─┘            └► BookSet, sinks
//! ```
//!
//! A session connects (websocket with frame and message size caps, TLS by rustls with the
//! webpki roots), keeps each book's state `Syncing → Synced → Stale → Resyncing → Synced` with
//! the venue's procedure, fetches REST snapshots with retries (≤ 5, backoff 250 ms → 3 s),
//! answers pings, detects stalls (no message within [`SessionConfig::stall_timeout`]),
//! reconnects with jittered exponential backoff inside the venue's connection-attempt limit,
//! and reconnects proactively on `serverShutdown` and before the 24 h connection limit. On
//! every disconnect and stall, all its books are marked `Stale` first. Tracing covers the
//! control plane only (connect, snapshot, resync, shutdown), never the per-message path.
//!
//! # Examples
//! ```no_run
//! use crpbot_core::{Registry, Venue};
//! use crpbot_feeds::session::{LiveBooks, SessionConfig, spawn};
//! let registry = Registry::with_defaults();
//! let cfg = SessionConfig::new(Venue::BinanceSpot, &["BTCUSDT"]);
//! let (handle, mut rx) = spawn(cfg, &registry, None).unwrap();
//! let mut books = LiveBooks::new(&registry, handle.resync_requester());
//! // On the consumer thread, spin: books.drain(&mut rx, &mut sink) ...
//! handle.stop();
//! handle.join();
//! ```

pub mod backoff;
mod coinbase;
pub mod http;
mod live;
mod out;
mod protocol;
pub mod record;
mod runner;
mod stats;

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::thread::JoinHandle;
use std::time::Duration;

use crpbot_core::{BookState, InstrumentId, MarketEvent, Registry, Venue};

pub use coinbase::CoinbaseProtocol;
pub use live::{LiveBooks, ResyncRequester};
pub use out::RingOut;
pub use protocol::{BinanceProtocol, FrameKind, SnapshotApply, VenueProtocol};
pub use stats::SessionStats;

/// Optional streams besides depth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Streams {
    /// Trades (`@trade` on spot, `@aggTrade` on USDⓈ-M).
    pub trades: bool,
    /// The venue's best bid/offer (`@bookTicker`).
    pub book_ticker: bool,
    /// Mark price and funding (`@markPrice@1s`, USDⓈ-M only).
    pub mark_price: bool,
}

impl Default for Streams {
    fn default() -> Self {
        Streams { trades: true, book_ticker: true, mark_price: true }
    }
}

/// Configuration of one session. [`SessionConfig::new`] gives the venue's real endpoints and
/// production limits; tests point the URLs at 127.0.0.1 and shrink the timings.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Venue.
    pub venue: Venue,
    /// Venue symbols (`BTCUSDT`).
    pub symbols: Vec<String>,
    /// Websocket base URL (`wss://stream.binance.com:9443`; `ws://` works too): the protocol
    /// appends its path (`/stream?streams=...`).
    pub ws_url: String,
    /// REST base URL (`https://api.binance.com`; `http://` works too).
    pub rest_url: String,
    /// Streams besides depth.
    pub streams: Streams,
    /// Levels per side requested in REST snapshots.
    pub snapshot_limit: u32,
    /// No message for this long: the connection is stalled (books `Stale`, reconnect).
    pub stall_timeout: Duration,
    /// Deadline for opening a websocket (TCP, TLS and handshake).
    pub connect_timeout: Duration,
    /// First reconnect delay (doubled each failure, with jitter).
    pub backoff_initial: Duration,
    /// Largest reconnect delay.
    pub backoff_max: Duration,
    /// Connection attempts allowed per [`SessionConfig::connect_window`].
    pub max_connects_per_window: u32,
    /// Window of the connection-attempt limit.
    pub connect_window: Duration,
    /// Proactive reconnect after this connection age (the venue's limit is 24 h).
    pub max_connection_age: Duration,
    /// Largest websocket message (and REST-decoded frame) accepted.
    pub max_message_bytes: usize,
    /// Largest websocket frame accepted.
    pub max_frame_bytes: usize,
    /// Snapshot attempts per round before the connection is restarted.
    pub snapshot_retries: u32,
    /// First delay between snapshot attempts.
    pub snapshot_backoff_initial: Duration,
    /// Largest delay between snapshot attempts.
    pub snapshot_backoff_max: Duration,
    /// Deadline of one snapshot GET.
    pub snapshot_timeout: Duration,
    /// Largest snapshot body accepted.
    pub max_snapshot_bytes: usize,
    /// Capacity of the event ring (a 1000-level snapshot is ~2000 events).
    pub ring_capacity: usize,
    /// How often the session runs its housekeeping (ring debts, resync requests, timers).
    pub tick: Duration,
    /// Seed of the backoff jitter.
    pub jitter_seed: u64,
}

impl SessionConfig {
    /// The production configuration for `venue` and `symbols`.
    pub fn new(venue: Venue, symbols: &[&str]) -> SessionConfig {
        let (ws_url, rest_url) = match venue {
            Venue::BinanceUsdm => ("wss://fstream.binance.com", "https://fapi.binance.com"),
            Venue::Coinbase => ("wss://advanced-trade-ws.coinbase.com", "https://api.coinbase.com"),
            _ => ("wss://stream.binance.com:9443", "https://api.binance.com"),
        };
        let mut cfg = SessionConfig {
            venue,
            symbols: symbols.iter().map(|s| (*s).to_owned()).collect(),
            ws_url: ws_url.to_owned(),
            rest_url: rest_url.to_owned(),
            streams: Streams::default(),
            snapshot_limit: 1000,
            stall_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            backoff_initial: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            max_connects_per_window: 300,
            connect_window: Duration::from_secs(300),
            max_connection_age: Duration::from_secs(23 * 3600 + 50 * 60),
            max_message_bytes: 4 << 20,
            max_frame_bytes: 4 << 20,
            snapshot_retries: 5,
            snapshot_backoff_initial: Duration::from_millis(250),
            snapshot_backoff_max: Duration::from_secs(3),
            snapshot_timeout: Duration::from_secs(10),
            max_snapshot_bytes: 4 << 20,
            ring_capacity: 1 << 16,
            tick: Duration::from_millis(20),
            jitter_seed: 0x5eed,
        };
        if venue == Venue::Coinbase {
            // In-band snapshots: the BTC-USD `l2_data` snapshot is ~46,000 levels, 5.1 MB.
            cfg.max_message_bytes = 16 << 20;
            cfg.max_frame_bytes = 16 << 20;
            cfg.ring_capacity = 1 << 18;
        }
        cfg
    }
}

/// Why a session could not start.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// A symbol is not in the registry for the venue.
    #[error("unknown symbol {symbol:?} on {venue}")]
    UnknownSymbol {
        /// Venue.
        venue: Venue,
        /// Symbol.
        symbol: String,
    },
    /// No symbols given.
    #[error("no symbols")]
    NoSymbols,
    /// No protocol for this venue yet.
    #[error("live sessions for {0} are not supported yet")]
    Unsupported(Venue),
    /// TLS set-up failed.
    #[error("TLS configuration: {0}")]
    Tls(String),
    /// The feed thread could not be started.
    #[error("cannot start the feed thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// Receives every raw frame and REST snapshot body, on the feed thread, before decoding
/// (the recorder). Called on the per-message path: keep it cheap.
pub trait FrameTap: Send + 'static {
    /// A websocket text (or binary) frame received at `ts_local_ns`.
    fn frame(&mut self, ts_local_ns: i64, frame: &[u8]);
    /// A REST snapshot body for `symbol` received at `ts_local_ns`.
    fn snapshot(&mut self, ts_local_ns: i64, symbol: &str, body: &[u8]);
    /// The session is ending: flush.
    fn finish(&mut self) {}
}

/// Controls a running session. Dropping it stops the session and joins its thread.
#[derive(Debug)]
pub struct SessionHandle {
    shared: Arc<stats::Shared>,
    thread: Option<JoinHandle<()>>,
    instruments: Vec<InstrumentId>,
}

impl SessionHandle {
    /// Asks the session to stop (returns at once; the thread closes its sockets, marks its
    /// books `Stale` and exits).
    pub fn stop(&self) {
        self.shared.stop.store(true, Relaxed);
        self.shared.wake.notify_one();
    }

    /// Stops the session, waits for the feed thread to end and returns the final counters.
    pub fn join(mut self) -> SessionStats {
        self.stop_and_join();
        self.shared.stats()
    }

    fn stop_and_join(&mut self) {
        self.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// The counters now.
    pub fn stats(&self) -> SessionStats {
        self.shared.stats()
    }

    /// The instruments of the session.
    pub fn instruments(&self) -> &[InstrumentId] {
        &self.instruments
    }

    /// The state of an instrument's book as last delivered on the ring.
    pub fn book_state(&self, id: InstrumentId) -> Option<BookState> {
        self.shared.state(id)
    }

    /// A handle the consumer uses to ask for a resync (a crossed book, a rejected level).
    pub fn resync_requester(&self) -> ResyncRequester {
        ResyncRequester::new(Arc::clone(&self.shared))
    }

    /// True while the feed thread runs.
    pub fn is_running(&self) -> bool {
        self.shared.running.load(Relaxed)
    }
}

impl Drop for SessionHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// The rustls client configuration: ring crypto, webpki roots, TLS 1.2 and 1.3.
pub fn tls_config() -> Result<Arc<rustls::ClientConfig>, SpawnError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SpawnError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// Starts a session for `cfg.venue` with its built-in protocol. Returns the handle and the
/// consumer end of the event ring.
pub fn spawn(
    cfg: SessionConfig,
    registry: &Registry,
    tap: Option<Box<dyn FrameTap>>,
) -> Result<(SessionHandle, rtrb::Consumer<MarketEvent>), SpawnError> {
    let ids = resolve(&cfg, registry)?;
    match cfg.venue {
        Venue::BinanceSpot | Venue::BinanceUsdm => {
            let proto = BinanceProtocol::new(&cfg, registry, &ids);
            spawn_with(cfg, registry, proto, tap)
        }
        Venue::Coinbase => {
            let proto = CoinbaseProtocol::new(&cfg, registry, &ids);
            spawn_with(cfg, registry, proto, tap)
        }
        v => Err(SpawnError::Unsupported(v)),
    }
}

/// The instruments of `cfg.symbols` on `cfg.venue`.
pub fn resolve(cfg: &SessionConfig, registry: &Registry) -> Result<Vec<InstrumentId>, SpawnError> {
    if cfg.symbols.is_empty() {
        return Err(SpawnError::NoSymbols);
    }
    cfg.symbols
        .iter()
        .map(|s| {
            registry
                .lookup(cfg.venue, s.as_bytes())
                .ok_or_else(|| SpawnError::UnknownSymbol { venue: cfg.venue, symbol: s.clone() })
        })
        .collect()
}

/// Starts a session with a given protocol (how a new venue plugs in).
pub fn spawn_with<P: VenueProtocol>(
    cfg: SessionConfig,
    registry: &Registry,
    proto: P,
    tap: Option<Box<dyn FrameTap>>,
) -> Result<(SessionHandle, rtrb::Consumer<MarketEvent>), SpawnError> {
    let tls = tls_config()?;
    let shared = stats::Shared::new(registry.len());
    let (tx, rx) = rtrb::RingBuffer::new(cfg.ring_capacity.max(16));
    let out = RingOut::new(tx, Arc::clone(&shared), registry.len());
    let instruments = proto.instruments().to_vec();
    let session = runner::Session::new(cfg, proto, out, Arc::clone(&shared), tls, tap);
    let name = format!("feed-{}", session.venue_name());
    let thread = std::thread::Builder::new().name(name).spawn(move || session.run_blocking())?;
    Ok((SessionHandle { shared, thread: Some(thread), instruments }, rx))
}
