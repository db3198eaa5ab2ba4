//! The mock's websocket side, by hand over TCP.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;

use super::{Ctx, State};

/// A fault for one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Close the TCP connection abruptly after n frames.
    Drop(usize),
    /// After n frames, write the first bytes of a frame, then close.
    MidFrame(usize),
    /// After n frames send `serverShutdown`, then wait (≤ 5 s) for the client to close.
    ServerShutdown(usize),
    /// On the next snapshot request: kill this connection and truncate the snapshot body.
    MidSnapshot,
}

/// The fault of the connection being served now.
pub(crate) fn current_fault(ctx: &Ctx, st: &State) -> Option<Fault> {
    st.conn_index.checked_sub(1).and_then(|i| ctx.cfg.faults.get(i).copied())
}

/// One unmasked server frame header.
fn header(opcode: u8, fin: bool, len: u64) -> Vec<u8> {
    let mut h = vec![if fin { 0x80 } else { 0 } | opcode];
    if len < 126 {
        h.push(len as u8);
    } else if len <= u64::from(u16::MAX) {
        h.push(126);
        h.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        h.push(127);
        h.extend_from_slice(&len.to_be_bytes());
    }
    h
}

async fn send(w: &mut OwnedWriteHalf, opcode: u8, payload: &[u8]) -> std::io::Result<()> {
    let mut f = header(opcode, true, payload.len() as u64);
    f.extend_from_slice(payload);
    w.write_all(&f).await
}

async fn handshake(s: &mut TcpStream) -> Option<()> {
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).await.ok()?;
        if n == 0 || req.len() > 16 << 10 {
            return None;
        }
        req.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&req);
    let key = text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("sec-websocket-key").then(|| v.trim().to_owned())
    })?;
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let resp = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    s.write_all(resp.as_bytes()).await.ok()
}

/// Reads client frames: counts pongs that echo our ping payload; returns at close or EOF.
async fn read_client(ctx: Ctx, mut r: impl AsyncRead + Unpin) {
    let mut hdr = [0u8; 2];
    loop {
        if r.read_exact(&mut hdr).await.is_err() {
            return;
        }
        let opcode = hdr[0] & 0x0f;
        let mut len = u64::from(hdr[1] & 0x7f);
        if len == 126 {
            let mut b = [0u8; 2];
            if r.read_exact(&mut b).await.is_err() {
                return;
            }
            len = u64::from(u16::from_be_bytes(b));
        } else if len == 127 {
            let mut b = [0u8; 8];
            if r.read_exact(&mut b).await.is_err() {
                return;
            }
            len = u64::from_be_bytes(b);
        }
        if len > 1 << 20 {
            return;
        }
        let mut mask = [0u8; 4];
        if hdr[1] & 0x80 != 0 && r.read_exact(&mut mask).await.is_err() {
            return;
        }
        let mut payload = vec![0u8; len as usize];
        if r.read_exact(&mut payload).await.is_err() {
            return;
        }
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
        match opcode {
            0xA if payload.starts_with(b"mock-ping-") => {
                ctx.counters.pongs_ok.fetch_add(1, SeqCst);
            }
            0x8 => return,
            _ => {}
        }
    }
}

struct OpenGuard(Ctx);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        let (m, cv) = &*self.0.open;
        *m.lock().unwrap() -= 1;
        cv.notify_all();
    }
}

enum Next {
    Send(String, Option<u64>),
    Skip,
    End,
}

/// Takes the next frame of the global stream, updating the reference book.
fn next_frame(ctx: &Ctx, st: &mut State) -> Next {
    if st.pos >= ctx.script.frames.len() || ctx.cfg.limit_frames.is_some_and(|l| st.pos >= l) {
        st.done = true;
        return Next::End;
    }
    let f = &ctx.script.frames[st.pos];
    st.pos += 1;
    let Some(d) = &f.depth else { return Next::Send(f.text.clone(), None) };
    st.depth_seen += 1;
    st.book.apply(&d.levels);
    st.book.update_id = d.last;
    // USDⓈ-M: a snapshot at the boundary must lie inside the next event's [U, u].
    if ctx.cfg.usdm {
        st.book.update_id = d.last + 1;
    }
    let prev_u = st.last_u;
    st.last_u = d.last;
    // Drops count only once a client has a snapshot (before that they are invisible).
    if !st.served.is_empty() && ctx.cfg.drop_every.is_some_and(|n| st.depth_seen.is_multiple_of(n))
    {
        st.drops.push((st.last_sent_u, None));
        return Next::Skip;
    }
    if let Some(last) = st.drops.last_mut()
        && last.1.is_none()
    {
        last.1 = Some(d.e_ms);
    }
    st.last_sent_u = d.last;
    let text = if ctx.cfg.usdm {
        f.text.replacen("\"U\":", &format!("\"pu\":{prev_u},\"U\":"), 1)
    } else {
        f.text.clone()
    };
    Next::Send(text, Some(d.last))
}

pub(crate) async fn serve(ctx: Ctx, mut s: TcpStream) {
    if handshake(&mut s).await.is_none() {
        return;
    }
    let _ = s.set_nodelay(true);
    let (idx, fault, epoch) = {
        let mut st = ctx.state.lock().unwrap();
        st.conn_index += 1;
        (st.conn_index, current_fault(&ctx, &st), st.kill_epoch)
    };
    ctx.counters.ws_accepted.fetch_add(1, SeqCst);
    *ctx.open.0.lock().unwrap() += 1;
    let _guard = OpenGuard(ctx.clone());
    let (r, mut w) = s.into_split();
    let closed = Arc::new(AtomicBool::new(false));
    let closed_notify = Arc::new(tokio::sync::Notify::new());
    let reader = {
        let (ctx, closed, n) = (ctx.clone(), Arc::clone(&closed), Arc::clone(&closed_notify));
        tokio::spawn(async move {
            read_client(ctx, r).await;
            closed.store(true, SeqCst);
            n.notify_waiters();
        })
    };
    let first = idx == 1;
    let mut sent = 0usize;
    let mut injected = false;
    let cfg = Arc::clone(&ctx.cfg);
    'frames: loop {
        if ctx.stop.load(SeqCst) || closed.load(SeqCst) {
            break;
        }
        if ctx.state.lock().unwrap().kill_epoch != epoch {
            ctx.counters.faults_done.fetch_add(1, SeqCst);
            break;
        }
        match fault {
            Some(Fault::Drop(n)) if sent >= n => {
                ctx.counters.faults_done.fetch_add(1, SeqCst);
                break;
            }
            Some(Fault::MidFrame(n)) if sent >= n => {
                let mut h = header(0x1, true, 5000);
                h.extend_from_slice(b"{\"stream\":\"btcusdt@dep");
                let _ = w.write_all(&h).await;
                ctx.counters.faults_done.fetch_add(1, SeqCst);
                break;
            }
            Some(Fault::ServerShutdown(n)) if sent >= n => {
                let msg = br#"{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1770123456789}}"#;
                let _ = send(&mut w, 0x1, msg).await;
                ctx.counters.faults_done.fetch_add(1, SeqCst);
                let waited = tokio::time::timeout(Duration::from_secs(5), async {
                    while !closed.load(SeqCst) {
                        let _ = tokio::time::timeout(
                            Duration::from_millis(5),
                            closed_notify.notified(),
                        )
                        .await;
                    }
                })
                .await;
                if waited.is_ok() {
                    ctx.counters.closed_by_client_after_shutdown.fetch_add(1, SeqCst);
                }
                break;
            }
            _ => {}
        }
        if first && cfg.stall_first_after.is_some_and(|n| sent >= n) {
            // Silent stall: TCP open, nothing sent, until the client gives up.
            while !closed.load(SeqCst) && !ctx.stop.load(SeqCst) {
                let _ =
                    tokio::time::timeout(Duration::from_millis(5), closed_notify.notified()).await;
            }
            break;
        }
        if idx == 2
            && sent >= cfg.inject_after
            && let Some(len) = cfg.huge_frame
        {
            // Announce it, then stream the payload from a small reused buffer.
            let _ = w.write_all(&header(0x1, true, len)).await;
            let chunk = vec![b' '; 64 << 10];
            let mut written = 0u64;
            while written < len {
                if w.write_all(&chunk).await.is_err() {
                    break;
                }
                written += chunk.len() as u64;
                ctx.counters.huge_bytes_written.fetch_add(chunk.len() as u64, SeqCst);
            }
            break 'frames;
        }
        if first
            && !injected
            && sent >= cfg.inject_after
            && (!cfg.inject.is_empty() || cfg.fragmented_mib.is_some())
        {
            injected = true;
            for text in &cfg.inject {
                if send(&mut w, 0x1, text.as_bytes()).await.is_err() {
                    break 'frames;
                }
            }
            if let Some(mib) = cfg.fragmented_mib {
                // A message over the cap in fragments each under it.
                // 256 KiB fragments from one reused buffer.
                let chunk = vec![b' '; 256 << 10];
                let n = mib * 4;
                for i in 0..n {
                    let (op, fin) = if i == 0 { (0x1, false) } else { (0x0, i + 1 == n) };
                    let h = header(op, fin, chunk.len() as u64);
                    if w.write_all(&h).await.is_err() || w.write_all(&chunk).await.is_err() {
                        break 'frames;
                    }
                }
            }
        }
        if cfg.ping_every.is_some_and(|n| sent > 0 && sent.is_multiple_of(n)) {
            let payload = format!("mock-ping-{sent}");
            ctx.counters.pings_sent.fetch_add(1, SeqCst);
            if send(&mut w, 0x9, payload.as_bytes()).await.is_err() {
                break;
            }
        }
        if cfg.usdm && sent > 0 && sent.is_multiple_of(100) {
            let mark = r#"{"stream":"btcusdt@markPrice@1s","data":{"e":"markPriceUpdate","E":1723161255000,"s":"BTCUSDT","p":"61837.63000000","i":"61830.12345678","P":"61830.00000000","r":"0.00010000","T":1723190400000}}"#;
            ctx.counters.marks_sent.fetch_add(1, SeqCst);
            if send(&mut w, 0x1, mark.as_bytes()).await.is_err() {
                break;
            }
        }
        let (next, waiting_before) = {
            let mut st = ctx.state.lock().unwrap();
            let awaiting =
                cfg.await_snapshot_after_drop && st.drops.last().is_some_and(|d| d.1.is_none());
            let before = ctx.counters.snapshots_served.load(SeqCst);
            (next_frame(&ctx, &mut st), awaiting.then_some(before))
        };
        match next {
            Next::End => {
                // Idle with TCP open until the client leaves or the mock stops.
                while !closed.load(SeqCst) && !ctx.stop.load(SeqCst) {
                    let _ =
                        tokio::time::timeout(Duration::from_millis(5), closed_notify.notified())
                            .await;
                    if ctx.state.lock().unwrap().kill_epoch != epoch {
                        break;
                    }
                }
                break;
            }
            Next::Skip => continue,
            Next::Send(text, depth) => {
                if send(&mut w, 0x1, text.as_bytes()).await.is_err() {
                    break;
                }
                sent += 1;
                ctx.counters.frames_sent.fetch_add(1, SeqCst);
                // Let the snapshot endpoint run between frames (one runtime thread).
                tokio::task::yield_now().await;
                if depth.is_some() {
                    ctx.counters.diffs_sent.fetch_add(1, SeqCst);
                    if fault == Some(Fault::MidSnapshot) {
                        // Hold the stream until the client asks for its snapshot (≤ 5 s); the
                        // request then kills this connection.
                        let _ = tokio::time::timeout(Duration::from_secs(5), async {
                            while ctx.state.lock().unwrap().kill_epoch == epoch {
                                let _ = tokio::time::timeout(
                                    Duration::from_millis(2),
                                    ctx.snapshot_wait.notified(),
                                )
                                .await;
                            }
                        })
                        .await;
                    }
                    if let Some(before) = waiting_before {
                        // The gap-revealing diff is out: wait for the client's snapshot.
                        let _ = tokio::time::timeout(Duration::from_secs(5), async {
                            while ctx.counters.snapshots_served.load(SeqCst) <= before {
                                let _ = tokio::time::timeout(
                                    Duration::from_millis(2),
                                    ctx.snapshot_wait.notified(),
                                )
                                .await;
                            }
                        })
                        .await;
                    }
                }
                if let Some(p) = cfg.pace
                    && sent.is_multiple_of(64)
                {
                    tokio::time::sleep(p).await;
                }
            }
        }
    }
    reader.abort();
    let _ = w.shutdown().await;
}
