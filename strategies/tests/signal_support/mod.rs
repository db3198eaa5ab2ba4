//! Helpers for the swing-signal tests: a controllable [`Analysis`] and a mock
//! OpenAI-compatible server on 127.0.0.1 (std `TcpListener` on an ephemeral port).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crpbot_strategies::swing::{Analysis, Candle, analyze};

/// An analysis of 300 synthetic bars with every theory computed, then pinned: close 100,
/// ATR(14) 2, Markov state `bull_trend` (regime trending).
pub fn analysis() -> Analysis {
    static A: std::sync::OnceLock<Analysis> = std::sync::OnceLock::new();
    A.get_or_init(build).clone()
}

fn build() -> Analysis {
    let c: Vec<Candle> = (0..300)
        .map(|i| {
            let p = 100.0 + (i as f64 * 0.37).sin() * 3.0 + i as f64 * 0.05;
            Candle::new(i * 3_600_000, p, p + 1.0, p - 1.0, p + 0.2, 10.0 + (i % 7) as f64)
        })
        .collect();
    let mut a = analyze(&c, 200, None).unwrap();
    a.close = 100.0;
    a.indicators["atr_14"] = serde_json::json!(2.0);
    a.markov.state = "bull_trend".into();
    a
}

/// Sets every theory signal of `a` (the hand-checked values of `tests/signal_math.rs`).
pub fn pin_signals(a: &mut Analysis, scale: f64) {
    a.entropy.signal = 0.1 * scale;
    a.hurst.signal = 0.4 * scale;
    a.markov.signal = 0.6 * scale;
    a.kalman.signal = 0.8 * scale;
    a.bayes.signal = 0.2 * scale;
    a.monte_carlo.signal = 0.4 * scale;
    a.random_forest = None;
    a.acf.as_mut().unwrap().signal = 0.3 * scale;
    a.pacf.as_mut().unwrap().signal = 0.1 * scale;
    a.ljung_box.as_mut().unwrap().signal = 0.2 * scale;
    a.adf.as_mut().unwrap().signal = -0.5 * scale;
    a.variance.signal = 0.1 * scale;
    a.levene.as_mut().unwrap().signal = -0.3 * scale;
}

/// A request the mock received.
#[derive(Debug, Clone)]
pub struct Request {
    /// Request line and headers.
    pub head: String,
    /// Body.
    pub body: String,
}

/// What the mock does with a request.
pub enum Reply {
    /// Write these bytes and close.
    Raw(Vec<u8>),
    /// Say nothing for this long, then close (a stalled peer).
    Silent(Duration),
    /// A 200 with a body of `bytes` bytes, with or without `Content-Length`.
    Huge { bytes: usize, content_length: bool },
}

/// A running mock.
pub struct Mock {
    /// Base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    /// Requests received so far.
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl Mock {
    /// Requests received so far.
    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

fn read_request(s: &mut std::net::TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut b = [0u8; 8192];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = s.read(&mut b).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&b[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = buf[end + 4..].to_vec();
    while body.len() < len {
        let n = s.read(&mut b).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&b[..n]);
    }
    Some(Request { head, body: String::from_utf8_lossy(&body).to_string() })
}

/// Starts a mock answering request `i` with `handler(i, &request)`, one connection at a
/// time, until the test process ends.
pub fn start(handler: impl Fn(usize, &Request) -> Reply + Send + 'static) -> Mock {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    std::thread::spawn(move || {
        for (i, conn) in l.incoming().enumerate() {
            let Ok(mut s) = conn else { continue };
            let Some(req) = read_request(&mut s) else { continue };
            let reply = handler(i, &req);
            seen.lock().unwrap().push(req);
            match reply {
                Reply::Raw(bytes) => {
                    let _ = s.write_all(&bytes);
                }
                Reply::Silent(d) => std::thread::sleep(d),
                Reply::Huge { bytes, content_length } => {
                    let head = if content_length {
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {bytes}\r\n\r\n")
                    } else {
                        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_string()
                    };
                    let _ = s.write_all(head.as_bytes());
                    let chunk = vec![b'x'; 64 << 10];
                    let mut sent = 0;
                    while sent < bytes {
                        let n = chunk.len().min(bytes - sent);
                        if s.write_all(&chunk[..n]).is_err() {
                            break;
                        }
                        sent += n;
                    }
                }
            }
        }
    });
    Mock { url, requests }
}

/// An HTTP response with `status` and a JSON `body`.
pub fn http(status: u16, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A 200 chat completion whose message content is `content`, with this usage
/// (prompt, completion, cache hit, cache miss).
pub fn completion(content: &str, usage: (u64, u64, u64, u64)) -> Vec<u8> {
    let body = serde_json::json!({
        "id": "x", "object": "chat.completion", "created": 1, "model": "deepseek-flash",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": usage.0, "completion_tokens": usage.1,
                  "prompt_cache_hit_tokens": usage.2, "prompt_cache_miss_tokens": usage.3},
    });
    http(200, &body.to_string())
}

/// A valid LONG answer for close 100 (entry 100, stop 97, target 106) with this confidence
/// and reasoning.
pub fn long_answer(confidence: f64, reasoning: &str) -> String {
    serde_json::json!({
        "direction": "LONG", "confidence": confidence, "entry": 100.0, "stop_loss": 97.0,
        "take_profit": 106.0, "reasoning": reasoning, "key_factors": ["kalman", "hurst"],
    })
    .to_string()
}
