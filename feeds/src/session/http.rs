//! A minimal HTTP/1.1 GET client for REST snapshots, over tokio and rustls.
//!
//! One request per connection (`Connection: close`), `http://` and `https://`, bodies framed by
//! `Content-Length`, `chunked` or connection close, a hard cap on header and body size, and one
//! deadline for the whole exchange. It is control-plane code: it allocates freely.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Why a GET failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The URL is not `http[s]://host[:port][/path]`.
    #[error("bad URL {0:?}")]
    Url(String),
    /// Connect, TLS or I/O failure.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The deadline passed.
    #[error("timed out")]
    Timeout,
    /// The response is not valid HTTP/1.x.
    #[error("malformed response: {0}")]
    Malformed(&'static str),
    /// The headers or the body exceed the cap.
    #[error("response exceeds {0} bytes")]
    TooLarge(usize),
    /// A status other than 200 (Binance: 429/418 mean back off).
    #[error("HTTP status {0}")]
    Status(u16),
}

/// Limits of one GET.
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    /// Deadline for connect, request and the whole response.
    pub timeout: Duration,
    /// Largest body accepted.
    pub max_body_bytes: usize,
}

/// The parts of an `http[s]://host[:port]/path?query` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `https` (TLS) or `http`.
    pub tls: bool,
    /// Host name or address (without brackets for IPv6).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Endpoint {
    /// Parses an absolute `http://` or `https://` URL.
    ///
    /// # Examples
    /// ```
    /// use crpbot_feeds::session::http::Endpoint;
    /// let e = Endpoint::parse("https://api.binance.com/api/v3/depth?symbol=BTCUSDT").unwrap();
    /// assert_eq!((e.tls, e.host.as_str(), e.port), (true, "api.binance.com", 443));
    /// assert_eq!(e.path, "/api/v3/depth?symbol=BTCUSDT");
    /// assert_eq!(Endpoint::parse("http://127.0.0.1:8080").unwrap().path, "/");
    /// ```
    pub fn parse(url: &str) -> Result<Endpoint, HttpError> {
        let bad = || HttpError::Url(url.to_owned());
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(bad());
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_owned()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_owned()),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(bad());
        }
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6.find(']').ok_or_else(bad)?;
            let port = match &v6[end + 1..] {
                "" => default_port,
                p => p.strip_prefix(':').and_then(|p| p.parse().ok()).ok_or_else(bad)?,
            };
            (v6[..end].to_owned(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| bad())?),
                None => (authority.to_owned(), default_port),
            }
        };
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Endpoint { tls, host, port, path })
    }
}

/// GETs `url` and returns the body of a 200 response.
pub async fn get(
    url: &str,
    limits: HttpLimits,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<Vec<u8>, HttpError> {
    let ep = Endpoint::parse(url)?;
    match tokio::time::timeout(limits.timeout, exchange(&ep, limits, tls)).await {
        Ok(r) => r,
        Err(_) => Err(HttpError::Timeout),
    }
}

async fn exchange(
    ep: &Endpoint,
    limits: HttpLimits,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<Vec<u8>, HttpError> {
    let tcp = TcpStream::connect((ep.host.as_str(), ep.port)).await?;
    tcp.set_nodelay(true)?;
    if ep.tls {
        let name = rustls::pki_types::ServerName::try_from(ep.host.clone())
            .map_err(|_| HttpError::Url(ep.host.clone()))?;
        let stream = tokio_rustls::TlsConnector::from(Arc::clone(tls)).connect(name, tcp).await?;
        request(stream, ep, limits).await
    } else {
        request(tcp, ep, limits).await
    }
}

const MAX_HEADER_BYTES: usize = 16 << 10;

async fn request<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    ep: &Endpoint,
    limits: HttpLimits,
) -> Result<Vec<u8>, HttpError> {
    let host = if ep.host.contains(':') { format!("[{}]", ep.host) } else { ep.host.clone() };
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: crpbot\r\nAccept: application/json\r\n\
         Accept-Encoding: identity\r\nConnection: close\r\n\r\n",
        ep.path
    );
    s.write_all(req.as_bytes()).await?;
    s.flush().await?;

    // Headers.
    let mut buf = Vec::with_capacity(8 << 10);
    let header_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEADER_BYTES {
            return Err(HttpError::TooLarge(MAX_HEADER_BYTES));
        }
        if read_some(&mut s, &mut buf, MAX_HEADER_BYTES + 4).await? == 0 {
            return Err(HttpError::Malformed("connection closed in the headers"));
        }
    };
    let head = std::str::from_utf8(&buf[..header_end])
        .map_err(|_| HttpError::Malformed("non-UTF-8 headers"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    if !parts.next().is_some_and(|v| v.starts_with("HTTP/1.")) {
        return Err(HttpError::Malformed("status line"));
    }
    let status: u16 =
        parts.next().and_then(|c| c.parse().ok()).ok_or(HttpError::Malformed("status code"))?;
    let (mut length, mut chunked) = (None, false);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(HttpError::Malformed("header line"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| HttpError::Malformed("length"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    let mut body = buf.split_off(header_end + 4);
    let cap = limits.max_body_bytes;
    if chunked {
        body = read_chunked(&mut s, body, cap).await?;
    } else if let Some(n) = length {
        if n > cap {
            return Err(HttpError::TooLarge(cap));
        }
        while body.len() < n {
            if read_some(&mut s, &mut body, n).await? == 0 {
                return Err(HttpError::Malformed("body shorter than Content-Length"));
            }
        }
        body.truncate(n);
    } else {
        // Delimited by close.
        while body.len() <= cap && read_some(&mut s, &mut body, cap + 1).await? > 0 {}
        if body.len() > cap {
            return Err(HttpError::TooLarge(cap));
        }
    }
    if status != 200 {
        return Err(HttpError::Status(status));
    }
    Ok(body)
}

/// POSTs `body` to `url` with the extra `headers` (e.g. `Authorization`, `Content-Type`) and
/// returns the status and body of *any* status (the caller decides what to retry), under
/// the same deadline and caps as [`get`]. Header names and values with line breaks are
/// refused ([`HttpError::Url`]) rather than sent. Errors never include the headers.
pub async fn post(
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    limits: HttpLimits,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<(u16, Vec<u8>), HttpError> {
    let ep = Endpoint::parse(url)?;
    if headers.iter().any(|(k, v)| format!("{k}{v}").contains(['\r', '\n'])) {
        return Err(HttpError::Url("header with a line break".to_owned()));
    }
    let fut = async {
        let tcp = TcpStream::connect((ep.host.as_str(), ep.port)).await?;
        tcp.set_nodelay(true)?;
        if ep.tls {
            let name = rustls::pki_types::ServerName::try_from(ep.host.clone())
                .map_err(|_| HttpError::Url(ep.host.clone()))?;
            let stream =
                tokio_rustls::TlsConnector::from(Arc::clone(tls)).connect(name, tcp).await?;
            post_request(stream, &ep, headers, body, limits).await
        } else {
            post_request(tcp, &ep, headers, body, limits).await
        }
    };
    match tokio::time::timeout(limits.timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(HttpError::Timeout),
    }
}

async fn post_request<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    ep: &Endpoint,
    headers: &[(&str, &str)],
    body: &[u8],
    limits: HttpLimits,
) -> Result<(u16, Vec<u8>), HttpError> {
    let host = if ep.host.contains(':') { format!("[{}]", ep.host) } else { ep.host.clone() };
    let mut req = format!("POST {} HTTP/1.1\r\nHost: {host}\r\n", ep.path);
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!(
        "Accept-Encoding: identity\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    s.write_all(req.as_bytes()).await?;
    s.write_all(body).await?;
    s.flush().await?;

    let mut buf = Vec::with_capacity(8 << 10);
    let header_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEADER_BYTES {
            return Err(HttpError::TooLarge(MAX_HEADER_BYTES));
        }
        if read_some(&mut s, &mut buf, MAX_HEADER_BYTES + 4).await? == 0 {
            return Err(HttpError::Malformed("connection closed in the headers"));
        }
    };
    let head = std::str::from_utf8(&buf[..header_end])
        .map_err(|_| HttpError::Malformed("non-UTF-8 headers"))?;
    let mut lines = head.split("\r\n");
    let mut parts = lines.next().unwrap_or("").splitn(3, ' ');
    if !parts.next().is_some_and(|v| v.starts_with("HTTP/1.")) {
        return Err(HttpError::Malformed("status line"));
    }
    let status: u16 =
        parts.next().and_then(|c| c.parse().ok()).ok_or(HttpError::Malformed("status code"))?;
    let (mut length, mut chunked) = (None, false);
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(HttpError::Malformed("header line"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.parse::<usize>().map_err(|_| HttpError::Malformed("length"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        }
    }
    let mut out = buf.split_off(header_end + 4);
    let cap = limits.max_body_bytes;
    if chunked {
        out = read_chunked(&mut s, out, cap).await?;
    } else if let Some(n) = length {
        if n > cap {
            return Err(HttpError::TooLarge(cap));
        }
        while out.len() < n {
            if read_some(&mut s, &mut out, n).await? == 0 {
                return Err(HttpError::Malformed("body shorter than Content-Length"));
            }
        }
        out.truncate(n);
    } else {
        while out.len() <= cap && read_some(&mut s, &mut out, cap + 1).await? > 0 {}
        if out.len() > cap {
            return Err(HttpError::TooLarge(cap));
        }
    }
    Ok((status, out))
}

/// Reads once into the spare capacity of `buf`, never past `limit` bytes in all.
async fn read_some<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut Vec<u8>,
    limit: usize,
) -> Result<usize, HttpError> {
    let room = limit.saturating_sub(buf.len()).clamp(1, 64 << 10);
    let start = buf.len();
    buf.resize(start + room, 0);
    let n = s.read(&mut buf[start..]).await;
    buf.truncate(start + *n.as_ref().unwrap_or(&0));
    Ok(n?)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Decodes a chunked body; `raw` holds what was read after the headers.
async fn read_chunked<S: AsyncRead + Unpin>(
    s: &mut S,
    mut raw: Vec<u8>,
    cap: usize,
) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    let mut pos = 0;
    let raw_cap = cap.saturating_add(64 << 10);
    loop {
        // Chunk size line.
        let line_end = loop {
            if let Some(i) = find(&raw[pos..], b"\r\n") {
                break pos + i;
            }
            if raw.len() - pos > 1024 {
                return Err(HttpError::Malformed("chunk size line"));
            }
            if read_some(s, &mut raw, raw_cap).await? == 0 {
                return Err(HttpError::Malformed("connection closed in a chunk size"));
            }
        };
        let line = std::str::from_utf8(&raw[pos..line_end])
            .map_err(|_| HttpError::Malformed("chunk size"))?;
        let hex = line.split(';').next().unwrap_or("").trim();
        let size =
            usize::from_str_radix(hex, 16).map_err(|_| HttpError::Malformed("chunk size"))?;
        pos = line_end + 2;
        if size == 0 {
            return Ok(body);
        }
        if body.len() + size > cap {
            return Err(HttpError::TooLarge(cap));
        }
        while raw.len() < pos + size + 2 {
            if read_some(s, &mut raw, raw_cap).await? == 0 {
                return Err(HttpError::Malformed("connection closed in a chunk"));
            }
        }
        body.extend_from_slice(&raw[pos..pos + size]);
        if &raw[pos + size..pos + size + 2] != b"\r\n" {
            return Err(HttpError::Malformed("chunk terminator"));
        }
        pos += size + 2;
        // Keep the raw buffer small.
        raw.drain(..pos);
        pos = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn serve(response: Vec<u8>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut req = vec![0u8; 4096];
            let _ = s.read(&mut req).await;
            let _ = s.write_all(&response).await;
        });
        format!("http://{addr}/api/v3/depth?symbol=BTCUSDT")
    }

    fn limits() -> HttpLimits {
        HttpLimits { timeout: Duration::from_secs(5), max_body_bytes: 64 }
    }

    fn tls() -> Arc<rustls::ClientConfig> {
        super::super::tls_config().unwrap()
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    #[test]
    fn content_length_chunked_and_close_delimited_bodies() {
        rt().block_on(async {
            let url = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA".to_vec()).await;
            assert_eq!(get(&url, limits(), &tls()).await.unwrap(), b"hello");
            let chunked =
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\n\r\n";
            let url = serve(chunked.to_vec()).await;
            assert_eq!(get(&url, limits(), &tls()).await.unwrap(), b"abcdefg");
            let url = serve(b"HTTP/1.0 200 OK\r\n\r\nuntil close".to_vec()).await;
            assert_eq!(get(&url, limits(), &tls()).await.unwrap(), b"until close");
        });
    }

    #[test]
    fn errors_are_clear() {
        rt().block_on(async {
            let url = serve(b"HTTP/1.1 429 Too Many\r\nContent-Length: 0\r\n\r\n".to_vec()).await;
            assert!(matches!(get(&url, limits(), &tls()).await, Err(HttpError::Status(429))));
            let url = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".to_vec()).await;
            assert!(matches!(get(&url, limits(), &tls()).await, Err(HttpError::TooLarge(64))));
            let url = serve(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf".to_vec()).await;
            assert!(matches!(get(&url, limits(), &tls()).await, Err(HttpError::Malformed(_))));
            let big = format!("HTTP/1.1 200 OK\r\n\r\n{}", "x".repeat(100));
            let url = serve(big.into_bytes()).await;
            assert!(matches!(get(&url, limits(), &tls()).await, Err(HttpError::TooLarge(64))));
            let url = serve(b"garbage\r\n\r\n".to_vec()).await;
            assert!(matches!(get(&url, limits(), &tls()).await, Err(HttpError::Malformed(_))));
            assert!(matches!(get("ftp://x/", limits(), &tls()).await, Err(HttpError::Url(_))));
        });
    }

    #[test]
    fn deadline_covers_a_silent_server() {
        rt().block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/", listener.local_addr().unwrap());
            let hold = tokio::spawn(async move { listener.accept().await });
            let l = HttpLimits { timeout: Duration::from_millis(100), max_body_bytes: 64 };
            assert!(matches!(get(&url, l, &tls()).await, Err(HttpError::Timeout)));
            hold.abort();
        });
    }

    #[test]
    fn post_sends_headers_and_body_and_returns_any_status() {
        rt().block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/chat/completions", listener.local_addr().unwrap());
            let server = tokio::spawn(async move {
                let mut seen = Vec::new();
                for resp in [
                    &b"HTTP/1.1 429 Slow\r\nContent-Length: 2\r\n\r\n{}"[..],
                    &b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"[..],
                ] {
                    let (mut s, _) = listener.accept().await.unwrap();
                    let mut req = Vec::new();
                    while !req.ends_with(b"{\"a\":1}") {
                        let mut b = [0u8; 1024];
                        let n = s.read(&mut b).await.unwrap();
                        req.extend_from_slice(&b[..n]);
                    }
                    seen.push(String::from_utf8(req).unwrap());
                    s.write_all(resp).await.unwrap();
                }
                seen
            });
            let h = [("Authorization", "Bearer k"), ("Content-Type", "application/json")];
            let r = post(&url, &h, b"{\"a\":1}", limits(), &tls()).await.unwrap();
            assert_eq!(r, (429, b"{}".to_vec()));
            assert!(matches!(
                post(&url, &h, b"{\"a\":1}", limits(), &tls()).await,
                Err(HttpError::TooLarge(64))
            ));
            let seen = server.await.unwrap();
            assert!(seen[0].starts_with("POST /chat/completions HTTP/1.1\r\n"));
            assert!(
                seen[0].contains("Authorization: Bearer k\r\n")
                    && seen[0].contains("Content-Length: 7\r\n")
            );
            let bad = [("X", "a\r\nY: b")];
            assert!(matches!(
                post(&url, &bad, b"", limits(), &tls()).await,
                Err(HttpError::Url(_))
            ));
        });
    }

    #[test]
    fn post_deadline_covers_a_silent_server() {
        rt().block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/", listener.local_addr().unwrap());
            let hold = tokio::spawn(async move { listener.accept().await });
            let l = HttpLimits { timeout: Duration::from_millis(100), max_body_bytes: 64 };
            assert!(matches!(post(&url, &[], b"{}", l, &tls()).await, Err(HttpError::Timeout)));
            hold.abort();
        });
    }

    #[test]
    fn endpoint_parsing() {
        let e = Endpoint::parse("http://[::1]:9000/x").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.path.as_str()), ("::1", 9000, "/x"));
        let e = Endpoint::parse("https://h?q=1").unwrap();
        assert_eq!(e.path, "/?q=1");
        assert!(Endpoint::parse("http://:80/").is_err());
        assert!(Endpoint::parse("http://h:notaport/").is_err());
    }
}
