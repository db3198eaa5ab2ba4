//! The session's event loop: connect, read, snapshot, stall and age timers, reconnect.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use crpbot_core::{Clock, InstrumentId, LiveClock, StateReason};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, sleep_until};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use tracing::{debug, info, warn};

use super::backoff::{Backoff, ConnectLimiter};
use super::http::{self, HttpError, HttpLimits};
use super::out::RingOut;
use super::protocol::{FrameKind, SnapshotApply, VenueProtocol};
use super::stats::{Shared, SocketGuard, bump};
use super::{FrameTap, SessionConfig};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type SnapFuture = Pin<Box<dyn Future<Output = Result<Vec<u8>, HttpError>> + Send>>;

/// Why a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Stop,
    Closed,
    Error,
    Oversize,
    Stall,
    ServerShutdown,
    MaxAge,
    SnapshotGaveUp,
    /// The protocol asked for a new connection to resynchronise its books.
    Resync,
}

struct SnapJob {
    id: InstrumentId,
    fut: SnapFuture,
}

pub(crate) struct Session<P: VenueProtocol> {
    cfg: SessionConfig,
    proto: P,
    out: RingOut,
    shared: Arc<Shared>,
    tls: Arc<rustls::ClientConfig>,
    tap: Option<Box<dyn FrameTap>>,
    clock: LiveClock,
    /// Reused copy of each frame (the decoder parses in place).
    buf: Vec<u8>,
    /// Snapshot attempts in the current round, and its backoff.
    snap_attempts: u32,
    snap_backoff: Backoff,
    /// Round-robin cursor over instruments for snapshot fetching.
    snap_cursor: usize,
}

impl<P: VenueProtocol> Session<P> {
    pub(crate) fn new(
        cfg: SessionConfig,
        proto: P,
        out: RingOut,
        shared: Arc<Shared>,
        tls: Arc<rustls::ClientConfig>,
        tap: Option<Box<dyn FrameTap>>,
    ) -> Session<P> {
        let snap_backoff = Backoff::new(
            cfg.snapshot_backoff_initial,
            cfg.snapshot_backoff_max,
            cfg.jitter_seed ^ 0x9e37_79b9,
        );
        Session {
            buf: Vec::with_capacity(64 << 10),
            cfg,
            proto,
            out,
            shared,
            tls,
            tap,
            clock: LiveClock,
            snap_attempts: 0,
            snap_backoff,
            snap_cursor: 0,
        }
    }

    pub(crate) fn venue_name(&self) -> &'static str {
        self.proto.venue().name()
    }

    pub(crate) fn run_blocking(mut self) {
        let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                warn!(error = %e, "Cannot build the feed runtime");
                self.shared.running.store(false, Relaxed);
                return;
            }
        };
        rt.block_on(self.run());
        if let Some(tap) = self.tap.as_mut() {
            tap.finish();
        }
        self.shared.running.store(false, Relaxed);
    }

    async fn run(&mut self) {
        let venue = self.proto.venue();
        let mut backoff =
            Backoff::new(self.cfg.backoff_initial, self.cfg.backoff_max, self.cfg.jitter_seed);
        let mut limiter =
            ConnectLimiter::new(self.cfg.max_connects_per_window, self.cfg.connect_window);
        let mut delay = None;
        let mut connected_before = false;
        while !self.shared.stopping() {
            if let Some(d) = delay.take()
                && self.pause_until(Instant::now() + d).await
            {
                break;
            }
            if let Some(t) = limiter.wait_until(Instant::now()) {
                warn!(%venue, "Connection attempt limit reached, waiting");
                if self.pause_until(t).await {
                    break;
                }
            }
            limiter.record(Instant::now());
            bump(&self.shared.counters.connect_attempts);
            let ws = match self.connect().await {
                Ok(ws) => ws,
                Err(e) => {
                    bump(&self.shared.counters.connect_failures);
                    warn!(%venue, error = %e, "Connect failed");
                    delay = Some(backoff.next_delay());
                    continue;
                }
            };
            bump(&self.shared.counters.connects);
            if connected_before {
                bump(&self.shared.counters.reconnects);
            }
            connected_before = true;
            info!(%venue, "Connected");
            let (end, healthy) = self.connection(ws).await;
            self.invalidate_all(StateReason::Disconnect);
            info!(%venue, reason = ?end, "Disconnected");
            if healthy {
                backoff.reset();
            }
            delay = match end {
                End::Stop => break,
                End::ServerShutdown | End::MaxAge => None,
                _ => Some(backoff.next_delay()),
            };
        }
        self.invalidate_all(StateReason::Disconnect);
        let _ = self.out.flush();
        info!(%venue, "Session stopped");
    }

    /// Sleeps until `t` or a stop request; true if stopping.
    async fn pause_until(&self, t: Instant) -> bool {
        tokio::select! {
            _ = sleep_until(t) => {}
            _ = self.shared.wake.notified() => {}
        }
        self.shared.stopping()
    }

    async fn connect(&self) -> Result<Ws, WsError> {
        let url = self.proto.ws_url();
        let ws_cfg = WebSocketConfig::default()
            .max_message_size(Some(self.cfg.max_message_bytes))
            .max_frame_size(Some(self.cfg.max_frame_bytes));
        let connector = Connector::Rustls(Arc::clone(&self.tls));
        let fut = tokio_tungstenite::connect_async_tls_with_config(
            url.as_str(),
            Some(ws_cfg),
            true,
            Some(connector),
        );
        match tokio::time::timeout(self.cfg.connect_timeout, fut).await {
            Ok(r) => r.map(|(ws, _resp)| ws),
            Err(_) => Err(WsError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connect timed out",
            ))),
        }
    }

    fn invalidate_all(&mut self, reason: StateReason) {
        let now = self.clock.now_ns();
        for k in 0..self.proto.instruments().len() {
            let id = self.proto.instruments()[k];
            self.proto.invalidate(id, reason, now, &mut self.out);
        }
        let _ = self.out.flush();
    }

    /// Runs one connection; returns why it ended and whether it delivered market data.
    async fn connection(&mut self, mut ws: Ws) -> (End, bool) {
        let _socket = SocketGuard::new(&self.shared);
        let venue = self.proto.venue();
        for m in self.proto.subscribe_messages() {
            if ws.send(Message::text(m)).await.is_err() {
                return (End::Error, false);
            }
        }
        self.proto.on_connect(self.clock.now_ns(), &mut self.out);
        self.snap_attempts = 0;
        self.snap_backoff.reset();
        let stall = self.cfg.stall_timeout;
        let mut last_msg = Instant::now();
        let age_deadline = last_msg + self.proto.max_connection_age();
        let stall_timer = sleep_until(last_msg + stall);
        tokio::pin!(stall_timer);
        let mut tick = tokio::time::interval(self.cfg.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut snap: Option<SnapJob> = None;
        let mut healthy = false;
        let age_timer = sleep_until(age_deadline);
        tokio::pin!(age_timer);
        let end = loop {
            // Housekeeping branches first: under a flood of frames they must still run.
            tokio::select! {
                biased;
                _ = self.shared.wake.notified() => {
                    if self.shared.stopping() {
                        break End::Stop;
                    }
                }
                res = snapshot_done(&mut snap) => {
                    let Some(job) = snap.take() else { continue };
                    if let Err(end) = self.on_snapshot_result(job.id, res) {
                        break end;
                    }
                    snap = self.next_snapshot();
                }
                () = &mut stall_timer => {
                    let due = last_msg + stall;
                    if Instant::now() >= due {
                        bump(&self.shared.counters.stalls);
                        warn!(%venue, timeout_ms = stall.as_millis() as u64, "Stall: no message, books stale");
                        self.invalidate_all(StateReason::Stall);
                        break End::Stall;
                    }
                    stall_timer.as_mut().reset(due);
                }
                () = &mut age_timer => {
                    bump(&self.shared.counters.age_reconnects);
                    info!(%venue, "Connection age limit, reconnecting");
                    break End::MaxAge;
                }
                _ = tick.tick() => {
                    if self.shared.stopping() {
                        break End::Stop;
                    }
                    let _ = self.out.flush();
                    self.take_resync_requests();
                    if self.proto.wants_reconnect() {
                        info!(%venue, "Resynchronising on a new connection");
                        break End::Resync;
                    }
                    if snap.is_none() {
                        snap = self.next_snapshot();
                    }
                }
                msg = ws.next() => {
                    last_msg = Instant::now();
                    match self.on_message(msg) {
                        Ok(Some(FrameKind::ServerShutdown)) => {
                            bump(&self.shared.counters.server_shutdowns);
                            info!(%venue, "Server shutdown notice, reconnecting");
                            break End::ServerShutdown;
                        }
                        Ok(Some(FrameKind::Market)) => healthy = true,
                        Ok(Some(_)) => {}
                        Ok(None) => {
                            // A ping: tungstenite queued the pong; send it now.
                            bump(&self.shared.counters.pings);
                            if ws.flush().await.is_err() {
                                break End::Error;
                            }
                        }
                        Err(end) => break end,
                    }
                    if self.proto.wants_reconnect() {
                        info!(%venue, "Resynchronising on a new connection");
                        break End::Resync;
                    }
                    if snap.is_none() {
                        snap = self.next_snapshot();
                    }
                }
            }
        };
        drop(snap);
        if end == End::Stop {
            let _ = tokio::time::timeout(self.cfg.tick * 5, ws.close(None)).await;
        }
        (end, healthy)
    }

    /// Handles one websocket item. `Ok(None)` is a ping.
    fn on_message(
        &mut self,
        msg: Option<Result<Message, WsError>>,
    ) -> Result<Option<FrameKind>, End> {
        let c = &self.shared.counters;
        let frame: &[u8] = match &msg {
            None => return Err(End::Closed),
            Some(Err(WsError::Capacity(CapacityError::MessageTooLong { .. }))) => {
                bump(&c.oversize);
                bump(&c.rejected);
                return Err(End::Oversize);
            }
            Some(Err(WsError::Capacity(_))) => {
                bump(&c.rejected);
                return Err(End::Oversize);
            }
            Some(Err(_)) => return Err(End::Error),
            Some(Ok(Message::Text(t))) => t.as_bytes(),
            Some(Ok(Message::Binary(b))) => b.as_ref(),
            Some(Ok(Message::Ping(_))) => {
                bump(&c.messages);
                return Ok(None);
            }
            Some(Ok(Message::Pong(_) | Message::Frame(_))) => {
                bump(&c.messages);
                return Ok(Some(FrameKind::Control));
            }
            Some(Ok(Message::Close(_))) => return Err(End::Closed),
        };
        bump(&c.messages);
        c.bytes.fetch_add(frame.len() as u64, Relaxed);
        let ts = self.clock.now_ns();
        if let Some(tap) = self.tap.as_mut() {
            tap.frame(ts, frame);
        }
        self.buf.clear();
        self.buf.extend_from_slice(frame);
        let kind = self.proto.on_frame(&mut self.buf, ts, &mut self.out);
        if kind == FrameKind::Rejected {
            bump(&self.shared.counters.rejected);
        }
        Ok(Some(kind))
    }

    fn take_resync_requests(&mut self) {
        let now = self.clock.now_ns();
        for k in 0..self.proto.instruments().len() {
            let id = self.proto.instruments()[k];
            let requested =
                self.shared.resync.get(id.index()).is_some_and(|f| f.swap(false, Relaxed));
            if requested {
                info!(venue = %self.proto.venue(), instrument = id.0, "Resync requested by the consumer");
                self.proto.invalidate(id, StateReason::Crossed, now, &mut self.out);
            }
        }
    }

    /// Starts the next snapshot fetch if an instrument needs one.
    fn next_snapshot(&mut self) -> Option<SnapJob> {
        let ids = self.proto.instruments();
        let n = ids.len();
        let id = (0..n)
            .map(|k| ids[(self.snap_cursor + k) % n])
            .find(|&id| !self.out.is_overflowed(id) && self.proto.wants_snapshot(id))?;
        self.snap_cursor = (self.snap_cursor + 1) % n.max(1);
        let url = self.proto.snapshot_url(id)?;
        let delay = if self.snap_attempts == 0 {
            self.proto.snapshot_requested(id, self.clock.now_ns(), &mut self.out);
            info!(venue = %self.proto.venue(), symbol = self.proto.symbol(id), "Fetching snapshot");
            std::time::Duration::ZERO
        } else {
            self.snap_backoff.next_delay()
        };
        let limits = HttpLimits {
            timeout: self.cfg.snapshot_timeout,
            max_body_bytes: self.cfg.max_snapshot_bytes,
        };
        let tls = Arc::clone(&self.tls);
        let shared = Arc::clone(&self.shared);
        let fut: SnapFuture = Box::pin(async move {
            if !delay.is_zero() {
                sleep(delay).await;
            }
            let _socket = SocketGuard::new(&shared);
            http::get(&url, limits, &tls).await
        });
        Some(SnapJob { id, fut })
    }

    fn on_snapshot_result(
        &mut self,
        id: InstrumentId,
        res: Result<Vec<u8>, HttpError>,
    ) -> Result<(), End> {
        let venue = self.proto.venue();
        let outcome = match res {
            Ok(mut body) => {
                let ts = self.clock.now_ns();
                if let Some(tap) = self.tap.as_mut() {
                    tap.snapshot(ts, self.proto.symbol(id), &body);
                }
                self.proto.on_snapshot(id, &mut body, ts, &mut self.out)
            }
            Err(e) => {
                warn!(%venue, symbol = self.proto.symbol(id), error = %e, "Snapshot request failed");
                SnapshotApply::Rejected
            }
        };
        if outcome == SnapshotApply::Synced {
            info!(%venue, symbol = self.proto.symbol(id), "Snapshot applied, book synced");
            self.snap_attempts = 0;
            self.snap_backoff.reset();
            return Ok(());
        }
        bump(&self.shared.counters.snapshot_errors);
        self.snap_attempts += 1;
        debug!(%venue, attempt = self.snap_attempts, outcome = ?outcome, "Snapshot not applied");
        if self.snap_attempts >= self.cfg.snapshot_retries.max(1) {
            bump(&self.shared.counters.snapshot_give_ups);
            warn!(%venue, symbol = self.proto.symbol(id), "Snapshot retries exhausted, reconnecting");
            return Err(End::SnapshotGaveUp);
        }
        Ok(())
    }
}

/// Waits for the snapshot job if there is one, else forever.
async fn snapshot_done(job: &mut Option<SnapJob>) -> Result<Vec<u8>, HttpError> {
    match job {
        Some(j) => (&mut j.fut).await,
        None => std::future::pending().await,
    }
}
