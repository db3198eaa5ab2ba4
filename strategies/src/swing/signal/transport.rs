//! The LLM transport: one JSON POST under a hard deadline and a response-size cap
//! ([`LlmTransport`]), with a std-only plain-HTTP implementation ([`PlainHttpTransport`])
//! for 127.0.0.1 mocks and local proxies. The binary supplies the HTTPS implementation.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Why a POST failed. Messages never contain request headers (so never the API key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The URL is not supported by this transport.
    #[error("unsupported url {0:?}")]
    Url(String),
    /// Could not connect (nothing was sent).
    #[error("connect failed: {0}")]
    Connect(String),
    /// I/O failure after connecting.
    #[error("i/o: {0}")]
    Io(String),
    /// The deadline passed.
    #[error("deadline passed")]
    Timeout,
    /// The response (headers or body) exceeds the cap.
    #[error("response exceeds {0} bytes")]
    TooLarge(usize),
    /// Not a valid HTTP/1.x response.
    #[error("malformed response: {0}")]
    Malformed(&'static str),
}

/// Sends one JSON POST. Implementations must finish (or fail with
/// [`TransportError::Timeout`]) by `deadline` — connect, write and read included — and must
/// never buffer more than about `max_bytes` of body ([`TransportError::TooLarge`]).
pub trait LlmTransport: Send {
    /// POSTs `body` to `url` with `headers` and returns the status and body of any status.
    ///
    /// # Errors
    /// [`TransportError`] on any failure to obtain a complete response in time.
    fn post_json(
        &mut self,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        deadline: Instant,
        max_bytes: usize,
    ) -> Result<(u16, Vec<u8>), TransportError>;
}

/// A std-only HTTP/1.1 client for `http://host:port/path` (no TLS): for mocks on 127.0.0.1
/// and local proxies. One request per connection; bodies framed by `Content-Length`,
/// `chunked` or close; every socket operation's timeout is the time left to the deadline.
/// Name resolution uses the system resolver (not bounded by the deadline): give addresses
/// or `localhost`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainHttpTransport;

const MAX_HEADER_BYTES: usize = 16 << 10;

fn left(deadline: Instant) -> Result<Duration, TransportError> {
    let d = deadline.saturating_duration_since(Instant::now());
    if d.is_zero() { Err(TransportError::Timeout) } else { Ok(d) }
}

fn io_err(e: &std::io::Error) -> TransportError {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => TransportError::Timeout,
        _ => TransportError::Io(format!("{:?}: {e}", e.kind())),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The framing of a response body.
enum Framing {
    Length(usize),
    Chunked,
    Close,
}

/// Decodes a complete chunked body from `raw`; `Ok(None)` while incomplete.
fn dechunk(raw: &[u8], cap: usize) -> Result<Option<Vec<u8>>, TransportError> {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let Some(i) = find(&raw[pos..], b"\r\n") else {
            return if raw.len() - pos > 1024 {
                Err(TransportError::Malformed("chunk size line"))
            } else {
                Ok(None)
            };
        };
        let line = std::str::from_utf8(&raw[pos..pos + i])
            .map_err(|_| TransportError::Malformed("chunk size"))?;
        let hex = line.split(';').next().unwrap_or("").trim();
        let size =
            usize::from_str_radix(hex, 16).map_err(|_| TransportError::Malformed("chunk size"))?;
        pos += i + 2;
        if size == 0 {
            return Ok(Some(out));
        }
        if out.len().saturating_add(size) > cap {
            return Err(TransportError::TooLarge(cap));
        }
        let end = pos.saturating_add(size);
        if raw.len() < end.saturating_add(2) {
            return Ok(None);
        }
        out.extend_from_slice(&raw[pos..end]);
        if &raw[end..end + 2] != b"\r\n" {
            return Err(TransportError::Malformed("chunk terminator"));
        }
        pos = end + 2;
    }
}

/// Reads the status line and headers from `buf[..end]`.
fn parse_head(head: &[u8]) -> Result<(u16, Framing), TransportError> {
    let head = std::str::from_utf8(head).map_err(|_| TransportError::Malformed("headers"))?;
    let mut lines = head.split("\r\n");
    let mut parts = lines.next().unwrap_or("").splitn(3, ' ');
    if !parts.next().is_some_and(|v| v.starts_with("HTTP/1.")) {
        return Err(TransportError::Malformed("status line"));
    }
    let status: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or(TransportError::Malformed("status code"))?;
    let mut framing = Framing::Close;
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(TransportError::Malformed("header"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let n = value.parse().map_err(|_| TransportError::Malformed("content-length"))?;
            if !matches!(framing, Framing::Chunked) {
                framing = Framing::Length(n);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && value.to_ascii_lowercase().contains("chunked")
        {
            framing = Framing::Chunked;
        }
    }
    Ok((status, framing))
}

impl PlainHttpTransport {
    fn exchange(
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        deadline: Instant,
        max_bytes: usize,
    ) -> Result<(u16, Vec<u8>), TransportError> {
        let bad = || TransportError::Url(url.to_string());
        let rest = url.strip_prefix("http://").ok_or_else(bad)?;
        let (hostport, path) = rest.find('/').map_or((rest, "/"), |i| (&rest[..i], &rest[i..]));
        if hostport.is_empty() || hostport.contains('@') {
            return Err(bad());
        }
        let addr = if hostport.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
            hostport.to_string()
        } else {
            format!("{hostport}:80")
        };
        let sock = addr.to_socket_addrs().map_err(|_| bad())?.next().ok_or_else(bad)?;
        if headers
            .iter()
            .any(|(k, v)| [k, v].iter().any(|x| x.bytes().any(|b| b == b'\r' || b == b'\n')))
        {
            return Err(TransportError::Url("header with a line break".into()));
        }
        let mut s =
            TcpStream::connect_timeout(&sock, left(deadline)?).map_err(|e| match e.kind() {
                ErrorKind::WouldBlock | ErrorKind::TimedOut => TransportError::Timeout,
                k => TransportError::Connect(format!("{k:?}")),
            })?;
        let _ = s.set_nodelay(true);
        let mut req = format!("POST {path} HTTP/1.1\r\nHost: {hostport}\r\n");
        for (k, v) in headers {
            req.push_str(k);
            req.push_str(": ");
            req.push_str(v);
            req.push_str("\r\n");
        }
        req.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
        let mut out = req.into_bytes();
        out.extend_from_slice(body);
        let mut sent = 0;
        while sent < out.len() {
            s.set_write_timeout(Some(left(deadline)?)).map_err(|e| io_err(&e))?;
            match s.write(&out[sent..]) {
                Ok(0) => return Err(TransportError::Io("connection closed while sending".into())),
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(io_err(&e)),
            }
        }
        // Read the head, then the body per its framing, never past the caps.
        let mut buf: Vec<u8> = Vec::with_capacity(8 << 10);
        let mut chunk = vec![0u8; 64 << 10];
        let mut head: Option<(u16, Framing, usize)> = None;
        let raw_cap = max_bytes.saturating_add(MAX_HEADER_BYTES).saturating_add(64 << 10);
        loop {
            if head.is_none()
                && let Some(i) = find(&buf, b"\r\n\r\n")
            {
                let (status, framing) = parse_head(&buf[..i])?;
                if let Framing::Length(n) = framing
                    && n > max_bytes
                {
                    return Err(TransportError::TooLarge(max_bytes));
                }
                head = Some((status, framing, i + 4));
            }
            if let Some((status, framing, start)) = &head {
                let b = &buf[*start..];
                match framing {
                    Framing::Length(n) if b.len() >= *n => return Ok((*status, b[..*n].to_vec())),
                    Framing::Chunked => {
                        if let Some(decoded) = dechunk(b, max_bytes)? {
                            return Ok((*status, decoded));
                        }
                    }
                    _ => {}
                }
                if b.len() > max_bytes && !matches!(framing, Framing::Chunked) {
                    return Err(TransportError::TooLarge(max_bytes));
                }
            } else if buf.len() > MAX_HEADER_BYTES {
                return Err(TransportError::TooLarge(MAX_HEADER_BYTES));
            }
            if buf.len() > raw_cap {
                return Err(TransportError::TooLarge(max_bytes));
            }
            s.set_read_timeout(Some(left(deadline)?)).map_err(|e| io_err(&e))?;
            let n = match s.read(&mut chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err(&e)),
            };
            if n == 0 {
                return match head {
                    Some((status, Framing::Close, start)) => Ok((status, buf.split_off(start))),
                    Some(_) => Err(TransportError::Malformed("connection closed in the body")),
                    None => Err(TransportError::Malformed("connection closed in the headers")),
                };
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    }
}

impl LlmTransport for PlainHttpTransport {
    fn post_json(
        &mut self,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        deadline: Instant,
        max_bytes: usize,
    ) -> Result<(u16, Vec<u8>), TransportError> {
        Self::exchange(url, headers, body, deadline, max_bytes)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::net::TcpListener;

    fn serve(resp: Vec<u8>) -> (String, std::thread::JoinHandle<Vec<u8>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1/chat/completions", l.local_addr().unwrap());
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut req = Vec::new();
            let mut b = [0u8; 4096];
            while !req.ends_with(b"{}") {
                let n = s.read(&mut b).unwrap();
                if n == 0 {
                    break;
                }
                req.extend_from_slice(&b[..n]);
            }
            let _ = s.write_all(&resp);
            req
        });
        (url, h)
    }

    fn post(url: &str, max: usize) -> Result<(u16, Vec<u8>), TransportError> {
        let d = Instant::now() + Duration::from_secs(10);
        PlainHttpTransport.post_json(url, &[("Content-Type", "application/json")], b"{}", d, max)
    }

    #[test]
    fn framings_and_request_shape() {
        let (url, h) = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA".to_vec());
        assert_eq!(post(&url, 64).unwrap(), (200, b"hello".to_vec()));
        let req = String::from_utf8(h.join().unwrap()).unwrap();
        assert!(req.starts_with("POST /v1/chat/completions HTTP/1.1\r\n"), "{req}");
        assert!(
            req.contains("Content-Length: 2\r\n") && req.contains("Content-Type: application/json")
        );
        let chunked = b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4;x\r\ndefg\r\n0\r\n\r\n";
        let (url, _h) = serve(chunked.to_vec());
        assert_eq!(post(&url, 64).unwrap(), (503, b"abcdefg".to_vec()));
        let (url, _h) = serve(b"HTTP/1.0 200 OK\r\n\r\nuntil close".to_vec());
        assert_eq!(post(&url, 64).unwrap(), (200, b"until close".to_vec()));
    }

    #[test]
    fn caps_and_malformed() {
        let (url, _h) = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".to_vec());
        assert_eq!(post(&url, 64), Err(TransportError::TooLarge(64)));
        let (url, _h) = serve(format!("HTTP/1.1 200 OK\r\n\r\n{}", "x".repeat(100)).into_bytes());
        assert_eq!(post(&url, 64), Err(TransportError::TooLarge(64)));
        let big = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n{}\r\n0\r\n\r\n",
            "y".repeat(100)
        );
        let (url, _h) = serve(big.into_bytes());
        assert_eq!(post(&url, 64), Err(TransportError::TooLarge(64)));
        let (url, _h) = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf".to_vec());
        assert!(matches!(post(&url, 64), Err(TransportError::Malformed(_))));
        let (url, _h) = serve(b"garbage\r\n\r\n".to_vec());
        assert!(matches!(post(&url, 64), Err(TransportError::Malformed(_))));
        assert!(matches!(post("https://127.0.0.1/", 64), Err(TransportError::Url(_))));
        let hdr = [("X", "a\r\nInjected: 1")];
        let d = Instant::now() + Duration::from_secs(1);
        let r = PlainHttpTransport.post_json("http://127.0.0.1:9/", &hdr, b"{}", d, 64);
        assert!(matches!(r, Err(TransportError::Url(_))));
    }

    #[test]
    fn past_deadline_fails_fast() {
        let d = Instant::now();
        let r = PlainHttpTransport.post_json("http://127.0.0.1:9/", &[], b"{}", d, 64);
        assert_eq!(r, Err(TransportError::Timeout));
    }
}
