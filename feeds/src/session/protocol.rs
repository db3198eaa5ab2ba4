//! What a session needs to know about one venue's wire protocol: the [`VenueProtocol`] trait,
//! and its Binance (spot and USDⓈ-M) implementation.
//!
//! The session owns the connection (connect, reconnect, stall, size caps, pings, snapshot
//! fetching and retries, the ring); a protocol owns everything venue-specific: URLs and
//! subscription messages, decoding a frame and running the book synchronisation, whether an
//! instrument needs a REST snapshot, and the heartbeat rules. The Coinbase protocol
//! ([`super::CoinbaseProtocol`]) implements the same trait: subscribe messages after connect,
//! in-band snapshots so `snapshot_url` returns `None`, the `heartbeats` channel so
//! `client_ping` stays `None`, and [`VenueProtocol::wants_reconnect`] to resync after a gap.

use std::time::Duration;

use crpbot_core::{BookState, InstrumentId, MarketEvent, Registry, StateReason, Venue};

use super::SessionConfig;
use super::out::RingOut;
use crate::binance::{BinanceDecoder, BinanceMsg, DecoderConfig};
use crate::sync::{Continuity, DepthSync, DiffOutcome, SnapshotOutcome};

/// What one frame was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// Market data (decoded and forwarded, possibly only buffered).
    Market,
    /// A control message (subscription reply, heartbeat).
    Control,
    /// The venue announced it will close this connection: reconnect now.
    ServerShutdown,
    /// Not decodable (bad JSON, unknown stream or symbol, bad field): counted, skipped.
    Rejected,
}

/// The result of applying a REST snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotApply {
    /// The book is synced.
    Synced,
    /// Older than the buffered stream: fetch another.
    TooOld,
    /// The body could not be decoded.
    Rejected,
}

/// A venue's wire protocol, driven by a session on its feed thread.
///
/// `on_frame` runs for every message and must not allocate, lock, log or block; everything
/// else is control plane.
pub trait VenueProtocol: Send + 'static {
    /// The venue.
    fn venue(&self) -> Venue;
    /// The session's instruments.
    fn instruments(&self) -> &[InstrumentId];
    /// The venue symbol of an instrument (as the REST API and recordings name it).
    fn symbol(&self, id: InstrumentId) -> &str;
    /// The websocket URL to open (with the stream list where the venue takes it in the URL).
    fn ws_url(&self) -> String;
    /// Text messages to send once connected (subscriptions); empty for Binance.
    fn subscribe_messages(&self) -> Vec<String>;
    /// The REST snapshot URL of an instrument, or `None` if snapshots arrive in-band.
    fn snapshot_url(&self, id: InstrumentId) -> Option<String>;
    /// Interval at which the client must ping (`None`: the server pings and we answer).
    fn client_ping(&self) -> Option<Duration> {
        None
    }
    /// Maximum lifetime of one connection; the session reconnects proactively before it.
    fn max_connection_age(&self) -> Duration;
    /// A new connection is open (subscriptions sent): reset per-connection state.
    fn on_connect(&mut self, _ts_local_ns: i64, _out: &mut RingOut) {}
    /// True when the connection must be replaced to resynchronise (a venue whose snapshots
    /// come with a fresh subscription, such as Coinbase after a sequence gap). Checked after
    /// every frame and every housekeeping tick; cleared by [`VenueProtocol::on_connect`].
    fn wants_reconnect(&self) -> bool {
        false
    }
    /// Decodes one frame (parsed in place) and emits its events.
    fn on_frame(&mut self, frame: &mut [u8], ts_local_ns: i64, out: &mut RingOut) -> FrameKind;
    /// True when the instrument's book needs a REST snapshot now.
    fn wants_snapshot(&self, id: InstrumentId) -> bool;
    /// A snapshot fetch is starting (the book moves `Stale → Resyncing`).
    fn snapshot_requested(&mut self, id: InstrumentId, ts_local_ns: i64, out: &mut RingOut);
    /// Applies a REST snapshot body (parsed in place).
    fn on_snapshot(
        &mut self,
        id: InstrumentId,
        body: &mut [u8],
        ts_local_ns: i64,
        out: &mut RingOut,
    ) -> SnapshotApply;
    /// Marks the book unusable (disconnect, stall, consumer-detected crossing, overflow).
    fn invalidate(
        &mut self,
        id: InstrumentId,
        reason: StateReason,
        ts_local_ns: i64,
        out: &mut RingOut,
    );
    /// The synchronisation state of an instrument.
    fn state(&self, id: InstrumentId) -> BookState;
}

/// Binance spot or USDⓈ-M over combined streams (`/stream?streams=a/b/c`), with REST depth
/// snapshots and the official local-book procedures of [`DepthSync`].
#[derive(Debug)]
pub struct BinanceProtocol {
    venue: Venue,
    ids: Vec<InstrumentId>,
    symbols: Vec<String>,
    /// Indexed by instrument index.
    syncs: Vec<Option<DepthSync>>,
    /// Indexed by instrument index: a diff is buffered since the last invalidation.
    diff_seen: Vec<bool>,
    decoder: BinanceDecoder,
    ws_url: String,
    rest_url: String,
    snapshot_limit: u32,
    streams: super::Streams,
    max_age: Duration,
}

impl BinanceProtocol {
    /// A protocol for `cfg.venue` (`BinanceSpot` or `BinanceUsdm`) and the resolved instruments.
    pub fn new(cfg: &SessionConfig, registry: &Registry, ids: &[InstrumentId]) -> BinanceProtocol {
        let rule =
            if cfg.venue == Venue::BinanceUsdm { Continuity::Usdm } else { Continuity::Spot };
        let mut syncs: Vec<Option<DepthSync>> = (0..registry.len()).map(|_| None).collect();
        for &id in ids {
            syncs[id.index()] = Some(DepthSync::new(id, rule, 4096, 1 << 18));
        }
        let decoder_cfg =
            DecoderConfig { max_frame_bytes: cfg.max_message_bytes, ..DecoderConfig::default() };
        BinanceProtocol {
            venue: cfg.venue,
            ids: ids.to_vec(),
            symbols: ids.iter().map(|&id| registry.get(id).symbol.as_str().to_owned()).collect(),
            syncs,
            diff_seen: vec![false; registry.len()],
            decoder: BinanceDecoder::new(registry, cfg.venue, decoder_cfg),
            ws_url: cfg.ws_url.trim_end_matches('/').to_owned(),
            rest_url: cfg.rest_url.trim_end_matches('/').to_owned(),
            snapshot_limit: cfg.snapshot_limit,
            streams: cfg.streams,
            max_age: cfg.max_connection_age,
        }
    }

    fn sync_mut(&mut self, id: InstrumentId) -> Option<&mut DepthSync> {
        self.syncs.get_mut(id.index()).and_then(Option::as_mut)
    }

    fn depth(&mut self, out: &mut RingOut, h: crate::binance::DepthHeader) {
        let i = h.instrument.index();
        let Some(Some(sync)) = self.syncs.get_mut(i) else { return };
        let levels = self.decoder.levels();
        // A diff goes on the ring whole or not at all (+2: a state change may follow).
        if !out.reserve(h.instrument, levels.len() + 2, h.ts_local_ns) {
            sync.invalidate(StateReason::Gap, h.ts_local_ns, out);
            self.diff_seen[i] = false;
            return;
        }
        if sync.on_diff(&h, levels, out) == DiffOutcome::Gap {
            out.note_gap(h.instrument, h.ts_local_ns);
        }
        if out.is_overflowed(h.instrument) {
            sync.invalidate(StateReason::Gap, h.ts_local_ns, out);
            self.diff_seen[i] = false;
        } else if sync.state() != BookState::Synced {
            self.diff_seen[i] = true;
        }
    }
}

impl VenueProtocol for BinanceProtocol {
    fn venue(&self) -> Venue {
        self.venue
    }

    fn instruments(&self) -> &[InstrumentId] {
        &self.ids
    }

    fn symbol(&self, id: InstrumentId) -> &str {
        self.ids.iter().position(|&i| i == id).map_or("", |k| self.symbols[k].as_str())
    }

    fn ws_url(&self) -> String {
        let usdm = self.venue == Venue::BinanceUsdm;
        let mut streams = Vec::new();
        for s in &self.symbols {
            let s = s.to_ascii_lowercase();
            streams.push(format!("{s}@depth@100ms"));
            if self.streams.trades {
                streams.push(format!("{s}@{}", if usdm { "aggTrade" } else { "trade" }));
            }
            if self.streams.book_ticker {
                streams.push(format!("{s}@bookTicker"));
            }
            if usdm && self.streams.mark_price {
                streams.push(format!("{s}@markPrice@1s"));
            }
        }
        format!("{}/stream?streams={}", self.ws_url, streams.join("/"))
    }

    fn subscribe_messages(&self) -> Vec<String> {
        Vec::new()
    }

    fn snapshot_url(&self, id: InstrumentId) -> Option<String> {
        let path =
            if self.venue == Venue::BinanceUsdm { "/fapi/v1/depth" } else { "/api/v3/depth" };
        Some(format!(
            "{}{path}?symbol={}&limit={}",
            self.rest_url,
            self.symbol(id).to_ascii_uppercase(),
            self.snapshot_limit
        ))
    }

    fn max_connection_age(&self) -> Duration {
        self.max_age
    }

    fn on_frame(&mut self, frame: &mut [u8], ts_local_ns: i64, out: &mut RingOut) -> FrameKind {
        let msg = match self.decoder.decode(frame, ts_local_ns, None) {
            Ok(m) => m,
            Err(_) => return FrameKind::Rejected,
        };
        match msg {
            BinanceMsg::Depth(h) => {
                self.depth(out, h);
                FrameKind::Market
            }
            BinanceMsg::Bbo(b) => {
                out.push(MarketEvent::Bbo(b));
                FrameKind::Market
            }
            BinanceMsg::Trade(t) => {
                out.push(MarketEvent::Trade(t));
                FrameKind::Market
            }
            BinanceMsg::Mark(m) => {
                out.push(MarketEvent::Mark(m));
                FrameKind::Market
            }
            BinanceMsg::ServerShutdown { .. } => FrameKind::ServerShutdown,
            BinanceMsg::Control => FrameKind::Control,
            // A snapshot has no business on the stream.
            _ => FrameKind::Rejected,
        }
    }

    fn wants_snapshot(&self, id: InstrumentId) -> bool {
        let i = id.index();
        matches!(self.syncs.get(i), Some(Some(s)) if s.wants_snapshot())
            && self.diff_seen.get(i).copied().unwrap_or(false)
    }

    fn snapshot_requested(&mut self, id: InstrumentId, ts_local_ns: i64, out: &mut RingOut) {
        if let Some(s) = self.sync_mut(id) {
            s.resync_requested(ts_local_ns, out);
        }
    }

    fn on_snapshot(
        &mut self,
        id: InstrumentId,
        body: &mut [u8],
        ts_local_ns: i64,
        out: &mut RingOut,
    ) -> SnapshotApply {
        let h = match self.decoder.decode(body, ts_local_ns, Some(id)) {
            Ok(BinanceMsg::Snapshot(h)) if h.instrument == id => h,
            _ => return SnapshotApply::Rejected,
        };
        let i = id.index();
        let Some(Some(sync)) = self.syncs.get_mut(i) else { return SnapshotApply::Rejected };
        let levels = self.decoder.levels();
        if !out.reserve(id, levels.len() + 2, ts_local_ns) {
            sync.invalidate(StateReason::Gap, ts_local_ns, out);
            self.diff_seen[i] = false;
            return SnapshotApply::Rejected;
        }
        let resyncs_before = sync.stats().resyncs;
        let gaps_before = sync.stats().gaps;
        let outcome = sync.on_snapshot(&h, levels, out);
        if sync.stats().gaps > gaps_before {
            out.note_gap(id, ts_local_ns);
        }
        if out.is_overflowed(id) {
            sync.invalidate(StateReason::Gap, ts_local_ns, out);
            self.diff_seen[i] = false;
            return SnapshotApply::Rejected;
        }
        match outcome {
            SnapshotOutcome::Synced { .. } => {
                out.note_snapshot(sync.stats().resyncs > resyncs_before);
                if sync.state() == BookState::Synced {
                    SnapshotApply::Synced
                } else {
                    // A gap inside the bridged buffer: another snapshot is needed.
                    SnapshotApply::TooOld
                }
            }
            SnapshotOutcome::TooOld => SnapshotApply::TooOld,
        }
    }

    fn invalidate(
        &mut self,
        id: InstrumentId,
        reason: StateReason,
        ts_local_ns: i64,
        out: &mut RingOut,
    ) {
        if let Some(s) = self.sync_mut(id) {
            s.invalidate(reason, ts_local_ns, out);
        }
        if let Some(d) = self.diff_seen.get_mut(id.index()) {
            *d = false;
        }
    }

    fn state(&self, id: InstrumentId) -> BookState {
        match self.syncs.get(id.index()) {
            Some(Some(s)) => s.state(),
            _ => BookState::Syncing,
        }
    }
}
