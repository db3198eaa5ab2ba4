//! The Coinbase Advanced Trade protocol of a live session (PROTOCOLS.md §1).
//!
//! One websocket to `wss://advanced-trade-ws.coinbase.com`; after connecting, one subscribe
//! message per channel (`level2`, `market_trades`, `ticker`, `heartbeats`) for all products.
//! Book snapshots arrive in-band on `l2_data` (so [`VenueProtocol::snapshot_url`] is `None`).
//! One `sequence_num` runs per connection across all channels ([`CoinbaseSync`]); a gap makes
//! every book of the connection `Stale`, and the protocol then asks the session for a new
//! connection ([`VenueProtocol::wants_reconnect`]), whose fresh subscription brings new
//! snapshots. `heartbeats` keeps the connection talking once a second, which is what the
//! session's stall timer watches.

use std::time::Duration;

use crpbot_core::{BookState, InstrumentId, Registry, StateReason, Venue};

use super::SessionConfig;
use super::out::RingOut;
use super::protocol::{FrameKind, SnapshotApply, VenueProtocol};
use crate::coinbase::{
    CoinbaseDecoder, CoinbaseDecoderConfig, CoinbaseMsg, CoinbaseSync, MsgOutcome,
};

/// Coinbase Advanced Trade over one websocket with in-band `l2_data` snapshots and the
/// per-connection sequencing of [`CoinbaseSync`].
#[derive(Debug)]
pub struct CoinbaseProtocol {
    ids: Vec<InstrumentId>,
    symbols: Vec<String>,
    decoder: CoinbaseDecoder,
    sync: CoinbaseSync,
    ws_url: String,
    streams: super::Streams,
    max_age: Duration,
    /// The books of this connection cannot be trusted any more: start a new one.
    reconnect: bool,
}

impl CoinbaseProtocol {
    /// A protocol for the resolved Coinbase instruments `ids` of `registry`.
    pub fn new(cfg: &SessionConfig, registry: &Registry, ids: &[InstrumentId]) -> CoinbaseProtocol {
        let dec_cfg = CoinbaseDecoderConfig {
            max_frame_bytes: cfg.max_message_bytes,
            ..CoinbaseDecoderConfig::default()
        };
        CoinbaseProtocol {
            ids: ids.to_vec(),
            symbols: ids.iter().map(|&id| registry.get(id).symbol.as_str().to_owned()).collect(),
            decoder: CoinbaseDecoder::new(registry, dec_cfg),
            sync: CoinbaseSync::new(registry),
            ws_url: cfg.ws_url.clone(),
            streams: cfg.streams,
            max_age: cfg.max_connection_age,
            reconnect: false,
        }
    }

    /// The sequencing counters (gaps, duplicates, snapshots, heartbeats...).
    pub fn sync_stats(&self) -> crate::coinbase::CoinbaseSyncStats {
        self.sync.stats()
    }

    fn subscribe(&self, channel: &str) -> String {
        let products: Vec<String> = self.symbols.iter().map(|s| format!("\"{s}\"")).collect();
        format!(
            r#"{{"type":"subscribe","product_ids":[{}],"channel":"{channel}"}}"#,
            products.join(",")
        )
    }

    /// Puts every instrument whose ring overflowed back to `Stale` in the synchroniser.
    fn settle_overflow(&mut self, ts_local_ns: i64, out: &mut RingOut) {
        for k in 0..self.ids.len() {
            let id = self.ids[k];
            if out.is_overflowed(id) {
                self.sync.invalidate(id, StateReason::Gap, ts_local_ns, out);
                self.reconnect = true;
            }
        }
    }

    fn market(&mut self, msg: &CoinbaseMsg, ts_local_ns: i64, out: &mut RingOut) -> FrameKind {
        if let CoinbaseMsg::L2(_) = msg {
            // A book message goes on the ring whole or not at all (+3 per product event: the
            // snapshot header and a state change or two).
            let n = self.decoder.levels().len() + 3 * self.decoder.l2_events().len();
            let first = self.decoder.l2_events().first().map(|e| e.instrument);
            if let Some(id) = first
                && !out.reserve(id, n, ts_local_ns)
            {
                self.settle_overflow(ts_local_ns, out);
                self.reconnect = true;
                return FrameKind::Market;
            }
        }
        let before = self.sync.stats();
        let outcome = self.sync.on_message(msg, &self.decoder, out);
        let after = self.sync.stats();
        for _ in before.snapshots..after.snapshots {
            out.note_snapshot(after.resyncs > before.resyncs);
        }
        if let MsgOutcome::Gap { .. } = outcome {
            if let Some(&id) = self.ids.first() {
                out.note_gap(id, ts_local_ns);
            }
            self.reconnect = true;
        }
        self.settle_overflow(ts_local_ns, out);
        match outcome {
            MsgOutcome::VenueError => FrameKind::Rejected,
            _ => match msg {
                CoinbaseMsg::Heartbeat { .. }
                | CoinbaseMsg::Subscriptions(_)
                | CoinbaseMsg::Ignored(_) => FrameKind::Control,
                _ => FrameKind::Market,
            },
        }
    }
}

impl VenueProtocol for CoinbaseProtocol {
    fn venue(&self) -> Venue {
        Venue::Coinbase
    }

    fn instruments(&self) -> &[InstrumentId] {
        &self.ids
    }

    fn symbol(&self, id: InstrumentId) -> &str {
        self.ids.iter().position(|&i| i == id).map_or("", |k| self.symbols[k].as_str())
    }

    fn ws_url(&self) -> String {
        self.ws_url.clone()
    }

    fn subscribe_messages(&self) -> Vec<String> {
        let mut m = vec![self.subscribe("heartbeats"), self.subscribe("level2")];
        if self.streams.trades {
            m.push(self.subscribe("market_trades"));
        }
        if self.streams.book_ticker {
            m.push(self.subscribe("ticker"));
        }
        m
    }

    fn snapshot_url(&self, _id: InstrumentId) -> Option<String> {
        None
    }

    fn max_connection_age(&self) -> Duration {
        self.max_age
    }

    fn on_connect(&mut self, ts_local_ns: i64, out: &mut RingOut) {
        self.sync.reset_connection(ts_local_ns, out);
        // The fresh subscription brings a snapshot per product: `Stale` books are resyncing.
        self.sync.resubscribe_requested(ts_local_ns, out);
        self.reconnect = false;
    }

    fn on_frame(&mut self, frame: &mut [u8], ts_local_ns: i64, out: &mut RingOut) -> FrameKind {
        match self.decoder.decode(frame, ts_local_ns) {
            Ok(msg) => self.market(&msg, ts_local_ns, out),
            Err(_) => {
                let env = self.decoder.envelope();
                let stale_before = self.sync.wants_resubscribe();
                if let Some(MsgOutcome::Gap { .. }) = self.sync.on_undecodable(env, out)
                    && let Some(&id) = self.ids.first()
                {
                    out.note_gap(id, ts_local_ns);
                }
                if self.sync.wants_resubscribe() && !stale_before {
                    self.reconnect = true;
                }
                FrameKind::Rejected
            }
        }
    }

    fn wants_reconnect(&self) -> bool {
        self.reconnect
    }

    fn wants_snapshot(&self, _id: InstrumentId) -> bool {
        false
    }

    fn snapshot_requested(&mut self, _id: InstrumentId, _ts_local_ns: i64, _out: &mut RingOut) {}

    fn on_snapshot(
        &mut self,
        _id: InstrumentId,
        _body: &mut [u8],
        _ts_local_ns: i64,
        _out: &mut RingOut,
    ) -> SnapshotApply {
        SnapshotApply::Rejected
    }

    fn invalidate(
        &mut self,
        id: InstrumentId,
        reason: StateReason,
        ts_local_ns: i64,
        out: &mut RingOut,
    ) {
        if self.sync.state(id) == Some(BookState::Synced) {
            // Only a new subscription brings a new snapshot.
            self.reconnect = true;
        }
        self.sync.invalidate(id, reason, ts_local_ns, out);
    }

    fn state(&self, id: InstrumentId) -> BookState {
        self.sync.state(id).unwrap_or(BookState::Syncing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::stats::Shared;

    fn l2(seq: u64, kind: &str, px: &str) -> Vec<u8> {
        format!(
            r#"{{"channel":"l2_data","client_id":"","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":{seq},"events":[{{"type":"{kind}","product_id":"BTC-USD","updates":[{{"side":"bid","event_time":"2023-02-09T20:32:50.7Z","price_level":"{px}","new_quantity":"1.5"}},{{"side":"offer","event_time":"2023-02-09T20:32:50.7Z","price_level":"30000.00","new_quantity":"2"}}]}}]}}"#
        )
        .into_bytes()
    }

    fn setup() -> (CoinbaseProtocol, RingOut, rtrb::Consumer<crpbot_core::MarketEvent>) {
        let registry = Registry::with_defaults();
        let cfg = SessionConfig::new(Venue::Coinbase, &["BTC-USD", "ETH-USD"]);
        let ids = super::super::resolve(&cfg, &registry).unwrap();
        let (tx, rx) = rtrb::RingBuffer::new(1024);
        let out = RingOut::new(tx, Shared::new(registry.len()), registry.len());
        (CoinbaseProtocol::new(&cfg, &registry, &ids), out, rx)
    }

    #[test]
    fn subscribes_one_channel_per_message_and_has_no_rest_snapshots() {
        let (p, ..) = setup();
        let subs = p.subscribe_messages();
        assert_eq!(subs.len(), 4);
        for ch in ["heartbeats", "level2", "market_trades", "ticker"] {
            let want = format!(
                r#"{{"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channel":"{ch}"}}"#
            );
            assert!(subs.contains(&want), "{subs:?}");
        }
        assert_eq!(p.snapshot_url(p.instruments()[0]), None);
        assert!(!p.wants_snapshot(p.instruments()[0]));
        assert_eq!(p.ws_url(), "wss://advanced-trade-ws.coinbase.com");
    }

    #[test]
    fn gap_wants_a_reconnect_and_a_new_connection_clears_it() {
        let (mut p, mut out, mut rx) = setup();
        let btc = p.instruments()[0];
        p.on_connect(1, &mut out);
        assert_eq!(p.on_frame(&mut l2(0, "snapshot", "29999.99"), 2, &mut out), FrameKind::Market);
        assert_eq!(p.state(btc), BookState::Synced);
        assert_eq!(p.on_frame(&mut l2(1, "update", "29999.98"), 3, &mut out), FrameKind::Market);
        assert!(!p.wants_reconnect());
        // Sequence 2 lost.
        p.on_frame(&mut l2(3, "update", "29999.97"), 4, &mut out);
        assert!(p.wants_reconnect());
        assert_eq!(p.state(btc), BookState::Stale);
        p.on_connect(5, &mut out);
        assert!(!p.wants_reconnect());
        assert_eq!(p.state(btc), BookState::Resyncing);
        p.on_frame(&mut l2(0, "snapshot", "29999.99"), 6, &mut out);
        assert_eq!(p.state(btc), BookState::Synced);
        assert_eq!(p.sync_stats().gaps, 1);
        assert_eq!(p.sync_stats().resyncs, 1);
        let states: Vec<_> = std::iter::from_fn(|| rx.pop().ok())
            .filter_map(|e| match e {
                crpbot_core::MarketEvent::State(c) => Some(c.state),
                _ => None,
            })
            .collect();
        use BookState::*;
        assert_eq!(states, [Synced, Stale, Resyncing, Synced]);
    }

    #[test]
    fn consumer_invalidation_of_a_synced_book_wants_a_reconnect() {
        let (mut p, mut out, _rx) = setup();
        let btc = p.instruments()[0];
        p.on_connect(1, &mut out);
        p.invalidate(btc, StateReason::Crossed, 2, &mut out);
        assert!(!p.wants_reconnect(), "nothing synced yet: the coming snapshot suffices");
        p.on_frame(&mut l2(0, "snapshot", "29999.99"), 3, &mut out);
        p.invalidate(btc, StateReason::Crossed, 4, &mut out);
        assert!(p.wants_reconnect());
    }
}
