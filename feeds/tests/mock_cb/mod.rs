//! A Coinbase Advanced Trade mock exchange on 127.0.0.1 (tokio-tungstenite).
//!
//! It waits for the `level2` and `heartbeats` subscriptions, then replays the `recv` frames of
//! `venue-captures/COINBASE.jsonl.zst` with `sequence_num` renumbered from 0 on each
//! connection, keeping a reference book per product from every `l2_data` frame it consumes
//! (sent or not). A later connection starts with an `l2_data` snapshot per product built from
//! that reference book, then carries on with the capture where it was. Faults (first
//! connection only): drop one `l2_data` update (its sequence number is skipped), or go silent
//! after n frames. When the capture is exhausted it sends a heartbeat every 50 ms.
#![allow(dead_code)] // each test binary uses part of it

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crpbot_core::{Registry, Scale, Venue};
use crpbot_feeds::capture::{Capture, RecordKind};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

/// One recorded frame.
pub struct Frame {
    pub text: String,
    pub channel: String,
    pub timestamp: String,
    /// `l2_data` events: product, snapshot?, levels `(bid?, px ticks, qty lots)`.
    pub l2: Vec<L2Event>,
}

/// One `l2_data` event: product, snapshot?, levels `(bid?, px ticks, qty lots)`.
pub type L2Event = (String, bool, Vec<(bool, i64, i64)>);

/// The capture, parsed once.
pub struct Script {
    pub frames: Vec<Frame>,
    pub px: Scale,
    pub qty: Scale,
    pub heartbeat: serde_json::Value,
}

/// The capture file, or `None` after one `skipping:` line.
pub fn data_file() -> Option<PathBuf> {
    let dir = std::env::var_os("CRPBOT_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data"))
    });
    let f = dir.join("venue-captures/COINBASE.jsonl.zst");
    if f.is_file() {
        Some(f)
    } else {
        eprintln!("skipping: real data not found at {} (set CRPBOT_DATA_DIR)", dir.display());
        None
    }
}

/// Loads the capture once per test binary.
pub fn script() -> Option<&'static Script> {
    static S: OnceLock<Option<Script>> = OnceLock::new();
    S.get_or_init(|| data_file().map(|f| load(&f))).as_ref()
}

fn load(path: &std::path::Path) -> Script {
    let reg = Registry::with_defaults();
    let inst = reg.get(reg.lookup(Venue::Coinbase, b"BTC-USD").unwrap());
    let eth = reg.get(reg.lookup(Venue::Coinbase, b"ETH-USD").unwrap());
    assert_eq!((inst.price, inst.qty), (eth.price, eth.qty), "one scale for both products");
    let (px, qty) = (inst.price, inst.qty);
    let mut cap = Capture::open(path).unwrap();
    let mut frames = Vec::new();
    let mut heartbeat = None;
    while let Some(rec) = cap.next() {
        let rec = rec.unwrap();
        if rec.kind != RecordKind::Recv {
            continue;
        }
        let text = String::from_utf8(rec.data.to_vec()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let channel = v["channel"].as_str().unwrap().to_owned();
        let mut l2 = Vec::new();
        if channel == "l2_data" {
            for ev in v["events"].as_array().unwrap() {
                let levels = ev["updates"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|u| {
                        let p = px.parse_units(u["price_level"].as_str().unwrap().as_bytes());
                        let q = qty.parse_units(u["new_quantity"].as_str().unwrap().as_bytes());
                        (u["side"] == "bid", p.unwrap(), q.unwrap())
                    })
                    .collect();
                let product = ev["product_id"].as_str().unwrap().to_owned();
                l2.push((product, ev["type"] == "snapshot", levels));
            }
        }
        if channel == "heartbeats" && heartbeat.is_none() {
            heartbeat = Some(v.clone());
        }
        let timestamp = v["timestamp"].as_str().unwrap().to_owned();
        frames.push(Frame { text, channel, timestamp, l2 });
    }
    Script { frames, px, qty, heartbeat: heartbeat.unwrap() }
}

/// Both sides of a book, best first: `(px, qty)` in ticks and lots.
pub type Side2 = Vec<(i64, i64)>;

/// The mock's reference book of one product.
#[derive(Clone, Debug, Default)]
pub struct RefBook {
    pub bids: BTreeMap<i64, i64>,
    pub asks: BTreeMap<i64, i64>,
}

impl RefBook {
    fn apply(&mut self, snapshot: bool, levels: &[(bool, i64, i64)]) {
        if snapshot {
            self.bids.clear();
            self.asks.clear();
        }
        for &(bid, p, q) in levels {
            let side = if bid { &mut self.bids } else { &mut self.asks };
            if q == 0 {
                side.remove(&p);
            } else {
                side.insert(p, q);
            }
        }
    }

    /// Bids best (highest) first, asks best (lowest) first.
    pub fn sides(&self) -> (Side2, Side2) {
        let bids = self.bids.iter().rev().map(|(&p, &q)| (p, q)).collect();
        let asks = self.asks.iter().map(|(&p, &q)| (p, q)).collect();
        (bids, asks)
    }
}

/// Faults and pacing.
#[derive(Clone, Debug, Default)]
pub struct CbConfig {
    /// First connection: skip the n-th (1-based) `l2_data` update frame.
    pub drop_update: Option<usize>,
    /// First connection: go silent (TCP open) after sending this many frames.
    pub stall_after: Option<usize>,
    /// Pause after each frame.
    pub pace: Duration,
}

/// What the mock did.
#[derive(Debug, Default)]
pub struct State {
    pub pos: usize,
    pub books: BTreeMap<String, RefBook>,
    pub conn_index: usize,
    /// `(connection, skipped sequence number)`.
    pub drops: Vec<(usize, u64)>,
    /// Snapshots the mock built from its reference book for a later connection.
    pub snapshots_built: u64,
    /// Last `l2_data` sequence number per product on the current connection.
    pub last_seq: BTreeMap<String, u64>,
    /// The subscription messages received, in order.
    pub subscribes: Vec<String>,
    /// When the stalled connection sent its last frame.
    pub stalled_at: Option<Instant>,
    /// `(connection, when the client closed it)`.
    pub closed_at: Vec<(usize, Instant)>,
    pub l2_updates: usize,
    pub done: bool,
    pub open: i64,
}

/// A running mock.
pub struct Mock {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
    pub script: &'static Script,
    stop: Arc<tokio::sync::Notify>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Mock {
    pub fn start(script: &'static Script, cfg: CbConfig) -> Mock {
        let state = Arc::new(Mutex::new(State::default()));
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let l = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = l.local_addr().unwrap();
        let stop = Arc::new(tokio::sync::Notify::new());
        let (st, stop2) = (Arc::clone(&state), Arc::clone(&stop));
        let cfg = Arc::new(cfg);
        let thread = std::thread::spawn(move || {
            rt.block_on(async move {
                let accept = tokio::spawn(async move {
                    while let Ok((s, _)) = l.accept().await {
                        tokio::spawn(serve(script, Arc::clone(&cfg), Arc::clone(&st), s));
                    }
                });
                stop2.notified().await;
                accept.abort();
            });
        });
        Mock { addr, state, script, stop, thread: Some(thread) }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    pub fn book(&self, product: &str) -> RefBook {
        self.state.lock().unwrap().books.get(product).cloned().unwrap_or_default()
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.stop.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `text` with its top-level `sequence_num` replaced by `seq`.
fn renumber(text: &str, seq: u64) -> String {
    const KEY: &str = "\"sequence_num\":";
    let at = text.find(KEY).unwrap() + KEY.len();
    let end = at + text[at..].find(|c: char| !c.is_ascii_digit()).unwrap();
    format!("{}{seq}{}", &text[..at], &text[end..])
}

fn snapshot_frame(s: &Script, product: &str, b: &RefBook, seq: u64, ts: &str) -> String {
    let lvl = |side: &str, p: i64, q: i64| {
        serde_json::json!({"side": side, "event_time": ts, "price_level": s.px.format(p),
            "new_quantity": s.qty.format(q)})
    };
    let (bids, asks) = b.sides();
    let updates: Vec<_> = bids
        .iter()
        .map(|&(p, q)| lvl("bid", p, q))
        .chain(asks.iter().map(|&(p, q)| lvl("offer", p, q)))
        .collect();
    serde_json::json!({"channel": "l2_data", "client_id": "", "timestamp": ts,
        "sequence_num": seq,
        "events": [{"type": "snapshot", "product_id": product, "updates": updates}]})
    .to_string()
}

async fn serve(
    s: &'static Script,
    cfg: Arc<CbConfig>,
    st: Arc<Mutex<State>>,
    tcp: tokio::net::TcpStream,
) {
    let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else { return };
    let (mut tx, mut rx) = ws.split();
    let mut channels: Vec<String> = Vec::new();
    while !(channels.iter().any(|c| c == "level2") && channels.iter().any(|c| c == "heartbeats")) {
        let Ok(Some(Ok(Message::Text(t)))) =
            tokio::time::timeout(Duration::from_secs(5), rx.next()).await
        else {
            return;
        };
        let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
        assert_eq!(v["type"], "subscribe", "{t}");
        channels.push(v["channel"].as_str().unwrap().to_owned());
        st.lock().unwrap().subscribes.push(t.as_str().to_owned());
    }
    let conn = {
        let mut g = st.lock().unwrap();
        g.conn_index += 1;
        g.open += 1;
        g.last_seq.clear();
        g.conn_index
    };
    let closed = Arc::new(AtomicBool::new(false));
    let (c2, st2) = (Arc::clone(&closed), Arc::clone(&st));
    let reader = tokio::spawn(async move {
        while let Some(Ok(m)) = rx.next().await {
            match m {
                Message::Close(_) => break,
                Message::Text(t) => st2.lock().unwrap().subscribes.push(t.as_str().to_owned()),
                _ => {}
            }
        }
        c2.store(true, SeqCst);
        st2.lock().unwrap().closed_at.push((conn, Instant::now()));
    });
    let _ = run_conn(s, &cfg, &st, conn, &closed, &mut tx).await;
    // Wait for the client to go (or the mock to stop).
    while !closed.load(SeqCst) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    reader.abort();
    st.lock().unwrap().open -= 1;
}

type Tx = futures_util::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    Message,
>;

async fn run_conn(
    s: &'static Script,
    cfg: &CbConfig,
    st: &Mutex<State>,
    conn: usize,
    closed: &AtomicBool,
    tx: &mut Tx,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let mut seq = 0u64;
    if conn > 1 {
        let frames: Vec<String> = {
            let mut g = st.lock().unwrap();
            let ts = g.pos.checked_sub(1).map_or("", |p| s.frames[p].timestamp.as_str());
            let mut out = Vec::new();
            let products: Vec<String> = g.books.keys().cloned().collect();
            for p in products {
                out.push(snapshot_frame(s, &p, &g.books[&p], seq, ts));
                g.last_seq.insert(p, seq);
                g.snapshots_built += 1;
                seq += 1;
            }
            out
        };
        for f in frames {
            tx.send(Message::text(f)).await?;
        }
    }
    let mut sent = 0usize;
    loop {
        if closed.load(SeqCst) {
            return Ok(());
        }
        let text = {
            let mut g = st.lock().unwrap();
            let Some(f) = s.frames.get(g.pos) else {
                g.done = true;
                break;
            };
            g.pos += 1;
            let mut drop_it = false;
            for (p, snap, levels) in &f.l2 {
                g.books.entry(p.clone()).or_default().apply(*snap, levels);
                if !snap {
                    g.l2_updates += 1;
                    drop_it = conn == 1 && cfg.drop_update == Some(g.l2_updates);
                }
            }
            if drop_it {
                g.drops.push((conn, seq));
                seq += 1;
                continue;
            }
            for (p, ..) in &f.l2 {
                g.last_seq.insert(p.clone(), seq);
            }
            renumber(&f.text, seq)
        };
        seq += 1;
        tx.send(Message::text(text)).await?;
        sent += 1;
        if conn == 1 && cfg.stall_after == Some(sent) {
            st.lock().unwrap().stalled_at = Some(Instant::now());
            return Ok(());
        }
        if !cfg.pace.is_zero() {
            tokio::time::sleep(cfg.pace).await;
        }
    }
    // Capture exhausted: keep the connection alive with heartbeats.
    let mut counter = 1_000_000u64;
    while !closed.load(SeqCst) {
        let mut hb = s.heartbeat.clone();
        hb["sequence_num"] = seq.into();
        hb["events"][0]["heartbeat_counter"] = counter.into();
        tx.send(Message::text(hb.to_string())).await?;
        seq += 1;
        counter += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}
