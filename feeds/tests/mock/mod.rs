//! A local mock Binance exchange for the session tests: a websocket server and an HTTP
//! snapshot endpoint on 127.0.0.1 (ephemeral ports) that replay the real recording
//! `binance-spot-l2/btcusdt_20240808.gz` and inject faults.
//!
//! The websocket side is written by hand over `TcpStream` (handshake via tungstenite's
//! `derive_accept_key`, unmasked server frames) so faults can cut a frame in the middle or
//! announce a 100 MiB frame. The mock keeps its own reference book (snapshot line of the
//! recording plus every diff it processes, sent or dropped) and serves snapshots at the current
//! stream position, so a client that follows the procedure must end with exactly this book.
#![allow(dead_code, clippy::unwrap_used)]

pub mod consumer;
mod ws;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use crpbot_core::{Px, Qty, Registry, Scale, Side, Venue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub use ws::Fault;

/// One frame of the recording.
#[derive(Clone, Debug)]
pub struct Frame {
    /// The JSON text as recorded.
    pub text: String,
    /// For depth diffs: (U, u, E ms, levels as (side, px ticks, qty lots)).
    pub depth: Option<Depth>,
}

/// A parsed depth diff.
#[derive(Clone, Debug)]
pub struct Depth {
    pub first: u64,
    pub last: u64,
    pub e_ms: u64,
    pub levels: Vec<(Side, i64, i64)>,
}

/// The recording, split into the snapshot and the stream that follows it.
#[derive(Debug)]
pub struct Script {
    pub snapshot_id: u64,
    pub snapshot: Vec<(Side, i64, i64)>,
    pub frames: Vec<Frame>,
    pub px: Scale,
    pub qty: Scale,
}

pub fn data_file() -> Option<PathBuf> {
    let dir = std::env::var_os("CRPBOT_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data"))
    });
    let f = dir.join("binance-spot-l2/btcusdt_20240808.gz");
    if f.is_file() {
        Some(f)
    } else {
        eprintln!("skipping: real data not found at {} (set CRPBOT_DATA_DIR)", dir.display());
        None
    }
}

fn levels(v: &serde_json::Value, side: Side, px: Scale, qty: Scale) -> Vec<(Side, i64, i64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let p = px.parse_units(l[0].as_str().unwrap().as_bytes()).unwrap();
            let q = qty.parse_units(l[1].as_str().unwrap().as_bytes()).unwrap();
            (side, p, q)
        })
        .collect()
}

/// Loads the recording once per test binary (`None`, after one line, if the data is absent).
pub fn script() -> Option<&'static Script> {
    static SCRIPT: OnceLock<Script> = OnceLock::new();
    let path = data_file()?;
    Some(SCRIPT.get_or_init(|| {
        let reg = Registry::with_defaults();
        let inst = reg.get(reg.lookup(Venue::BinanceSpot, b"BTCUSDT").unwrap());
        let (px, qty) = (inst.price, inst.qty);
        let mut rec = crpbot_feeds::recording::Recording::open(&path).unwrap();
        let mut all = Vec::new();
        while let Some(l) = rec.next() {
            all.push(String::from_utf8(l.unwrap().payload.to_vec()).unwrap());
        }
        let snap_at = all.iter().position(|t| t.starts_with("{\"lastUpdateId\"")).unwrap();
        let snap: serde_json::Value = serde_json::from_str(&all[snap_at]).unwrap();
        let snapshot_id = snap["lastUpdateId"].as_u64().unwrap();
        let mut snapshot = levels(&snap["bids"], Side::Buy, px, qty);
        snapshot.extend(levels(&snap["asks"], Side::Sell, px, qty));
        let mut frames = Vec::new();
        for (i, text) in all.into_iter().enumerate() {
            if i == snap_at {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            let d = &v["data"];
            let depth = if d["e"] == "depthUpdate" {
                let last = d["u"].as_u64().unwrap();
                if last <= snapshot_id {
                    continue; // covered by the snapshot
                }
                let mut lv = levels(&d["b"], Side::Buy, px, qty);
                lv.extend(levels(&d["a"], Side::Sell, px, qty));
                Some(Depth {
                    first: d["U"].as_u64().unwrap(),
                    last,
                    e_ms: d["E"].as_u64().unwrap(),
                    levels: lv,
                })
            } else {
                None
            };
            frames.push(Frame { text, depth });
        }
        Script { snapshot_id, snapshot, frames, px, qty }
    }))
}

/// One side of a book, best first.
pub type Side2 = Vec<(Px, Qty)>;

/// The mock's reference book.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RefBook {
    pub update_id: u64,
    pub bids: BTreeMap<i64, i64>,
    pub asks: BTreeMap<i64, i64>,
}

impl RefBook {
    pub fn apply(&mut self, levels: &[(Side, i64, i64)]) {
        for &(side, px, qty) in levels {
            let m = if side == Side::Buy { &mut self.bids } else { &mut self.asks };
            if qty == 0 {
                m.remove(&px);
            } else {
                m.insert(px, qty);
            }
        }
    }

    /// Bids best first, asks best first.
    pub fn sides(&self) -> (Side2, Side2) {
        let bids = self.bids.iter().rev().map(|(&p, &q)| (Px(p), Qty(q))).collect();
        let asks = self.asks.iter().map(|(&p, &q)| (Px(p), Qty(q))).collect();
        (bids, asks)
    }

    fn json(&self, s: &Script, usdm: bool) -> String {
        let side = |it: &mut dyn Iterator<Item = (&i64, &i64)>| {
            it.map(|(p, q)| format!("[\"{}\",\"{}\"]", s.px.format(*p), s.qty.format(*q)))
                .collect::<Vec<_>>()
                .join(",")
        };
        let extra = if usdm { ",\"E\":1723161255000,\"T\":1723161255000" } else { "" };
        format!(
            "{{\"lastUpdateId\":{}{extra},\"bids\":[{}],\"asks\":[{}]}}",
            self.update_id,
            side(&mut self.bids.iter().rev()),
            side(&mut self.asks.iter())
        )
    }
}

/// How the mock behaves.
#[derive(Clone, Debug, Default)]
pub struct MockConfig {
    /// Drop every n-th depth diff (still applied to the reference book).
    pub drop_every: Option<usize>,
    /// After a dropped diff and the next sent one, wait (≤ 5 s) for a snapshot request.
    pub await_snapshot_after_drop: bool,
    /// Stop sending after this many frames of the first connection (TCP stays open).
    pub stall_first_after: Option<usize>,
    /// Faults for the first connections, one per connection, in order.
    pub faults: Vec<Fault>,
    /// Raw frames injected on the first connection after this many frames.
    pub inject_after: usize,
    pub inject: Vec<String>,
    /// On the second connection, after `inject_after` frames: announce a frame of this many
    /// bytes, then stream it.
    pub huge_frame: Option<u64>,
    /// Send a fragmented message of this many 1 MiB fragments after the injections.
    pub fragmented_mib: Option<usize>,
    /// Send a ping every n frames.
    pub ping_every: Option<usize>,
    /// Stop the stream (idle, TCP open) after this many frames in all.
    pub limit_frames: Option<usize>,
    /// USDⓈ-M flavour: `pu` on diffs, `/fapi/v1/depth`, a `markPriceUpdate` every 100 frames.
    pub usdm: bool,
    /// Pause this long every 64 frames (keeps a slow consumer's ring from filling at once).
    pub pace: Option<Duration>,
}

/// Counters and records of the mock.
#[derive(Debug, Default)]
pub struct MockCounters {
    pub ws_accepted: AtomicU64,
    pub http_requests: AtomicU64,
    pub snapshots_served: AtomicU64,
    pub diffs_sent: AtomicU64,
    pub frames_sent: AtomicU64,
    pub pongs_ok: AtomicU64,
    pub pings_sent: AtomicU64,
    pub marks_sent: AtomicU64,
    pub faults_done: AtomicU64,
    pub closed_by_client_after_shutdown: AtomicU64,
    pub huge_bytes_written: AtomicU64,
}

/// Shared mock state.
#[derive(Debug)]
pub struct State {
    pub book: RefBook,
    /// Next frame to process.
    pub pos: usize,
    pub depth_seen: usize,
    /// Last sent diff's u (and the `pu` chain for USDⓈ-M).
    pub last_sent_u: u64,
    pub last_u: u64,
    /// Per dropped diff: (u of the last diff sent before it, E of the next diff sent after it).
    pub drops: Vec<(u64, Option<u64>)>,
    /// Snapshots served: (lastUpdateId, book).
    pub served: Vec<RefBook>,
    pub conn_index: usize,
    /// Set when the current connection must be killed (mid-snapshot fault).
    pub kill_epoch: u64,
    pub done: bool,
}

pub struct Mock {
    pub ws_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub counters: Arc<MockCounters>,
    pub state: Arc<Mutex<State>>,
    /// Open websocket connections, with a condvar to wait for a value.
    pub open: Arc<(Mutex<i64>, Condvar)>,
    pub snapshot_wait: Arc<tokio::sync::Notify>,
    pub cfg: Arc<MockConfig>,
    pub script: &'static Script,
    stop: Arc<AtomicBool>,
    stop_notify: Arc<tokio::sync::Notify>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Mock {
    pub fn start(script: &'static Script, cfg: MockConfig) -> Mock {
        let mut book = RefBook { update_id: script.snapshot_id, ..Default::default() };
        book.apply(&script.snapshot);
        let state = Arc::new(Mutex::new(State {
            book,
            pos: 0,
            depth_seen: 0,
            last_sent_u: script.snapshot_id,
            last_u: script.snapshot_id,
            drops: Vec::new(),
            served: Vec::new(),
            conn_index: 0,
            kill_epoch: 0,
            done: false,
        }));
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let ws_l = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let http_l = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let mut mock = Mock {
            ws_addr: ws_l.local_addr().unwrap(),
            http_addr: http_l.local_addr().unwrap(),
            counters: Arc::default(),
            state,
            open: Arc::new((Mutex::new(0), Condvar::new())),
            snapshot_wait: Arc::default(),
            cfg: Arc::new(cfg),
            script,
            stop: Arc::default(),
            stop_notify: Arc::default(),
            thread: None,
        };
        let ctx = mock.ctx();
        mock.thread = Some(std::thread::spawn(move || {
            rt.block_on(async move {
                let c2 = ctx.clone();
                let ws = tokio::spawn(async move {
                    loop {
                        let Ok((s, _)) = ws_l.accept().await else { break };
                        tokio::spawn(ws::serve(c2.clone(), s));
                    }
                });
                let c3 = ctx.clone();
                let http = tokio::spawn(async move {
                    loop {
                        let Ok((s, _)) = http_l.accept().await else { break };
                        tokio::spawn(serve_http(c3.clone(), s));
                    }
                });
                while !ctx.stop.load(SeqCst) {
                    ctx.stop_notify.notified().await;
                }
                ws.abort();
                http.abort();
            });
            // Dropping the runtime cancels every connection task and closes its socket.
        }));
        mock
    }

    fn ctx(&self) -> Ctx {
        Ctx {
            counters: Arc::clone(&self.counters),
            state: Arc::clone(&self.state),
            open: Arc::clone(&self.open),
            snapshot_wait: Arc::clone(&self.snapshot_wait),
            cfg: Arc::clone(&self.cfg),
            script: self.script,
            stop: Arc::clone(&self.stop),
            stop_notify: Arc::clone(&self.stop_notify),
        }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.ws_addr)
    }

    pub fn rest_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// Waits (condvar, ≤ `timeout`) until the open websocket count satisfies `pred`.
    pub fn wait_open(&self, timeout: Duration, pred: impl Fn(i64) -> bool) -> i64 {
        let (m, cv) = &*self.open;
        let g = m.lock().unwrap();
        let (g, _) = cv.wait_timeout_while(g, timeout, |n| !pred(*n)).unwrap();
        *g
    }

    pub fn book(&self) -> RefBook {
        self.state.lock().unwrap().book.clone()
    }

    pub fn get(&self, c: &AtomicU64) -> u64 {
        c.load(SeqCst)
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.stop.store(true, SeqCst);
        self.stop_notify.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[derive(Clone)]
pub(crate) struct Ctx {
    pub counters: Arc<MockCounters>,
    pub state: Arc<Mutex<State>>,
    pub open: Arc<(Mutex<i64>, Condvar)>,
    pub snapshot_wait: Arc<tokio::sync::Notify>,
    pub cfg: Arc<MockConfig>,
    pub script: &'static Script,
    pub stop: Arc<AtomicBool>,
    pub stop_notify: Arc<tokio::sync::Notify>,
}

async fn serve_http(ctx: Ctx, mut s: tokio::net::TcpStream) {
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
        if req.len() > 16 << 10 {
            return;
        }
    }
    ctx.counters.http_requests.fetch_add(1, SeqCst);
    let text = String::from_utf8_lossy(&req);
    let path = if ctx.cfg.usdm {
        "GET /fapi/v1/depth?symbol=BTCUSDT"
    } else {
        "GET /api/v3/depth?symbol=BTCUSDT"
    };
    if !text.starts_with(path) {
        let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").await;
        return;
    }
    let (body, truncate) = {
        let mut st = ctx.state.lock().unwrap();
        let fault = ws::current_fault(&ctx, &st);
        let truncate = matches!(fault, Some(Fault::MidSnapshot));
        if truncate {
            st.kill_epoch += 1;
        } else {
            let b = st.book.clone();
            st.served.push(b);
        }
        (st.book.json(ctx.script, ctx.cfg.usdm), truncate)
    };
    ctx.snapshot_wait.notify_waiters();
    let n = ctx.counters.snapshots_served.fetch_add(1, SeqCst);
    if truncate {
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
        let _ = s.write_all(head.as_bytes()).await;
        let _ = s.write_all(&body.as_bytes()[..body.len() / 2]).await;
        return;
    }
    if n.is_multiple_of(2) {
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let _ = s.write_all(head.as_bytes()).await;
        let _ = s.write_all(body.as_bytes()).await;
    } else {
        // Chunked, in pieces.
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").await;
        for chunk in body.as_bytes().chunks(7919) {
            let _ = s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await;
            let _ = s.write_all(chunk).await;
            let _ = s.write_all(b"\r\n").await;
        }
        let _ = s.write_all(b"0\r\n\r\n").await;
    }
    let _ = s.shutdown().await;
}
