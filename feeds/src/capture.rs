//! Reader of venue captures in the JSONL format of `../shared/data/venue-captures` (v3):
//! zstd-compressed (or plain) text, one JSON record a line. The first record is a header
//! `{"t":"header","exchange":..}`; every later one is
//! `{"t":"http"|"connect"|"send"|"recv","conn":..,"ts":<epoch seconds, float>,"data":"<frame>"}`
//! where `data` is the exact frame text.
//!
//! Records are parsed with simd-json into reused buffers; the frame is unescaped into a frame
//! buffer the caller may parse in place. A line longer than the size cap is skipped without
//! being buffered (counted as [`CaptureError::TooLong`]); a bad record is reported with its
//! line number and skipped; a corrupt or truncated zstd stream ends the file with an error.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use simd_json::prelude::{ValueAsScalar, ValueIntoString};
use simd_json::tape::Tape;

/// Why a record of a capture could not be used.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The stream could not be read further (corrupt or truncated zstd, I/O). The file ends.
    #[error("read error: {0}")]
    Io(#[from] io::Error),
    /// The line is longer than the cap; it was skipped.
    #[error("record longer than {0} bytes")]
    TooLong(usize),
    /// Not a JSON object.
    #[error("record is not valid JSON")]
    Json,
    /// A required field is missing or of the wrong type.
    #[error("missing or mistyped field `{0}`")]
    Field(&'static str),
}

/// The kind of a record (`t`).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// A REST response.
    Http,
    /// A websocket connection was opened (a new sequence starts).
    Connect,
    /// A frame the client sent.
    Send,
    /// A frame the venue sent.
    Recv,
    /// Any other kind (a later header, unknown types).
    Other,
}

/// One record of a capture.
#[derive(Debug)]
pub struct CaptureRecord<'a> {
    /// 1-based line number.
    pub line_no: u64,
    /// The kind.
    pub kind: RecordKind,
    /// The connection name (`COINBASE.ws.2`), empty if absent.
    pub conn: &'a str,
    /// `ts` as nanoseconds since the epoch (the local receive time; 0 if absent).
    pub ts_local_ns: i64,
    /// The frame (`data`, unescaped), mutable so a decoder can parse it in place.
    pub data: &'a mut [u8],
}

/// A record-by-record reader of a capture.
pub struct Capture {
    path: PathBuf,
    reader: Box<dyn BufRead + Send>,
    line: Vec<u8>,
    frame: Vec<u8>,
    conn: String,
    exchange: String,
    buffers: simd_json::Buffers,
    tape: Option<Tape<'static>>,
    max_record_bytes: usize,
    line_no: u64,
    done: bool,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("path", &self.path)
            .field("exchange", &self.exchange)
            .field("line_no", &self.line_no)
            .finish_non_exhaustive()
    }
}

/// Seconds since the epoch as a float to nanoseconds, to the nearest nanosecond of the
/// float's exact value (`None` if not finite or out of range).
fn secs_to_ns(ts: f64) -> Option<i64> {
    if !ts.is_finite() || ts.abs() > 9.2e9 {
        return None;
    }
    let whole = ts.floor();
    let frac_ns = ((ts - whole) * 1e9).round() as i64;
    (whole as i64).checked_mul(1_000_000_000)?.checked_add(frac_ns)
}

/// The nanoseconds of a plain decimal `[-]int[.frac]` number of seconds at the start of `b`
/// (fraction digits past the ninth are dropped); `None` for exponents or other shapes.
fn decimal_secs_to_ns(b: &[u8]) -> Option<i64> {
    let (neg, b) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    let int_len = b.iter().position(|c| !c.is_ascii_digit()).unwrap_or(b.len());
    if int_len == 0 || int_len > 11 {
        return None;
    }
    let mut secs = 0i64;
    for &c in &b[..int_len] {
        secs = secs * 10 + i64::from(c - b'0');
    }
    let mut rest = &b[int_len..];
    let mut nanos = 0i64;
    if rest.first() == Some(&b'.') {
        let frac_len = rest[1..].iter().position(|c| !c.is_ascii_digit()).unwrap_or(rest.len() - 1);
        if frac_len == 0 {
            return None;
        }
        for i in 0..9 {
            nanos = nanos * 10
                + rest.get(1 + i).filter(|_| i < frac_len).map_or(0, |c| i64::from(c - b'0'));
        }
        rest = &rest[1 + frac_len..];
    }
    if matches!(rest.first(), Some(b'e' | b'E')) {
        return None;
    }
    let ns = secs.checked_mul(1_000_000_000)?.checked_add(nanos)?;
    Some(if neg { -ns } else { ns })
}

/// The raw text after the first `"ts":` key of a record line, if any.
fn raw_ts(line: &[u8]) -> Option<&[u8]> {
    let at = line.windows(5).position(|w| w == b"\"ts\":")?;
    let v = &line[at + 5..];
    let skip = v.iter().position(|c| !c.is_ascii_whitespace())?;
    Some(&v[skip..])
}

impl Capture {
    /// Default cap on one record: 64 MiB (the largest Coinbase record is ~5.3 MB).
    pub const DEFAULT_MAX_RECORD_BYTES: usize = 64 << 20;

    /// Opens a capture; zstd is detected by its magic bytes.
    pub fn open(path: &Path) -> io::Result<Capture> {
        let mut file = BufReader::with_capacity(1 << 16, File::open(path)?);
        let zst = file.fill_buf()?.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
        let reader: Box<dyn BufRead + Send> = if zst {
            Box::new(BufReader::with_capacity(1 << 16, zstd::stream::read::Decoder::new(file)?))
        } else {
            Box::new(file)
        };
        Ok(Capture::from_reader(path.to_path_buf(), reader))
    }

    /// A capture over any reader (tests, pipes).
    pub fn from_reader(path: PathBuf, reader: Box<dyn BufRead + Send>) -> Capture {
        Capture {
            path,
            reader,
            line: Vec::with_capacity(1 << 16),
            frame: Vec::with_capacity(1 << 16),
            conn: String::with_capacity(64),
            exchange: String::new(),
            buffers: simd_json::Buffers::new(1 << 16),
            tape: Some(Tape::null().reset()),
            max_record_bytes: Self::DEFAULT_MAX_RECORD_BYTES,
            line_no: 0,
            done: false,
        }
    }

    /// Sets the cap on one record's length in bytes.
    pub fn with_max_record_bytes(mut self, max: usize) -> Capture {
        self.max_record_bytes = max;
        self
    }

    /// The path read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The `exchange` of the header record (empty until it has been read).
    pub fn exchange(&self) -> &str {
        &self.exchange
    }

    /// Lines read so far.
    pub fn line_no(&self) -> u64 {
        self.line_no
    }

    /// Reads one line into `self.line` without buffering more than the cap. `Ok(false)` at
    /// the end; `Ok(true)` with `self.line` empty and `too_long` set for an over-long line.
    fn read_line(&mut self) -> io::Result<Option<bool>> {
        self.line.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                return Ok(any.then_some(too_long));
            }
            any = true;
            let (chunk, found) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (&buf[..i], i + 1),
                None => (buf, 0),
            };
            if !too_long && self.line.len() + chunk.len() > self.max_record_bytes {
                too_long = true;
                self.line.clear();
            }
            if !too_long {
                self.line.extend_from_slice(chunk);
            }
            let consumed = if found > 0 { found } else { chunk.len() };
            self.reader.consume(consumed);
            if found > 0 {
                return Ok(Some(too_long));
            }
        }
    }

    /// The next record, `None` at the end. Blank lines are skipped; the header record is
    /// consumed (see [`Capture::exchange`]). After an `Io` error the file is finished.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Result<CaptureRecord<'_>, CaptureError>> {
        loop {
            if self.done {
                return None;
            }
            let too_long = match self.read_line() {
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Ok(Some(t)) => t,
                Err(e) => {
                    self.done = true;
                    self.line_no += 1;
                    return Some(Err(CaptureError::Io(e)));
                }
            };
            self.line_no += 1;
            if too_long {
                return Some(Err(CaptureError::TooLong(self.max_record_bytes)));
            }
            if self.line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(match self.parse() {
                Ok(None) => continue,
                Ok(Some((kind, ts_local_ns))) => Ok(CaptureRecord {
                    line_no: self.line_no,
                    kind,
                    conn: &self.conn,
                    ts_local_ns,
                    data: &mut self.frame,
                }),
                Err(e) => Err(e),
            });
        }
    }

    /// Parses `self.line`; `None` for the header record.
    fn parse(&mut self) -> Result<Option<(RecordKind, i64)>, CaptureError> {
        // The `ts` number is read exactly from its decimal text (before simd-json parses the
        // line in place); the parsed float is the fallback and the cross-check.
        let exact_ts = raw_ts(&self.line).and_then(decimal_secs_to_ns);
        let mut tape = self.tape.take().unwrap_or_else(|| Tape::null().reset());
        let result = match simd_json::fill_tape(&mut self.line, &mut self.buffers, &mut tape) {
            Err(_) => Err(CaptureError::Json),
            Ok(()) => {
                let root = tape.as_value();
                let (frame, conn, exchange) = (&mut self.frame, &mut self.conn, &mut self.exchange);
                (|| {
                    if !root.is_object() {
                        return Err(CaptureError::Json);
                    }
                    let t = root.get("t").and_then(|v| v.into_string());
                    let kind = match t.ok_or(CaptureError::Field("t"))? {
                        "header" if self.line_no == 1 => {
                            exchange.clear();
                            if let Some(x) = root.get("exchange").and_then(|v| v.into_string()) {
                                exchange.push_str(x);
                            }
                            return Ok(None);
                        }
                        "http" => RecordKind::Http,
                        "connect" => RecordKind::Connect,
                        "send" => RecordKind::Send,
                        "recv" => RecordKind::Recv,
                        _ => RecordKind::Other,
                    };
                    let ts_local_ns = match root.get("ts") {
                        None => 0,
                        Some(v) => {
                            let float = v
                                .cast_f64()
                                .and_then(secs_to_ns)
                                .ok_or(CaptureError::Field("ts"))?;
                            match exact_ts {
                                Some(e) if e.abs_diff(float) < 1_000 => e,
                                _ => float,
                            }
                        }
                    };
                    conn.clear();
                    if let Some(c) = root.get("conn").and_then(|v| v.into_string()) {
                        conn.push_str(c);
                    }
                    frame.clear();
                    match root.get("data") {
                        Some(v) => {
                            frame.extend_from_slice(
                                v.into_string().ok_or(CaptureError::Field("data"))?.as_bytes(),
                            );
                        }
                        None if kind == RecordKind::Recv => {
                            return Err(CaptureError::Field("data"));
                        }
                        None => {}
                    }
                    Ok(Some((kind, ts_local_ns)))
                })()
            }
        };
        self.tape = Some(tape.reset());
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(text: &str) -> Capture {
        Capture::from_reader(
            PathBuf::from("mem"),
            Box::new(io::Cursor::new(text.as_bytes().to_vec())),
        )
    }

    #[test]
    fn reads_header_and_records() {
        let mut c = cap(concat!(
            "{\"t\":\"header\",\"format\":2,\"exchange\":\"COINBASE\"}\n",
            "{\"t\":\"connect\",\"conn\":\"X.ws.2\",\"ts\":1786309548.5}\n",
            "\n",
            "{\"t\":\"recv\",\"conn\":\"X.ws.2\",\"ts\":1786309548.6290078,\"data\":\"{\\\"a\\\":\\\"\\\\u00e9\\\"}\"}\n",
            "not json\n",
            "{\"t\":\"recv\",\"ts\":1}\n",
            "{\"t\":\"send\",\"ts\":\"x\",\"data\":\"\"}\n",
            "{\"t\":\"recv\",\"ts\":2,\"data\":\"z\"}",
        ));
        let r = c.next().unwrap().unwrap();
        assert_eq!(
            (r.line_no, r.kind, r.conn, r.ts_local_ns),
            (2, RecordKind::Connect, "X.ws.2", 1_786_309_548_500_000_000)
        );
        assert_eq!(c.exchange(), "COINBASE");
        let r = c.next().unwrap().unwrap();
        assert_eq!((r.line_no, r.kind), (4, RecordKind::Recv));
        assert_eq!(r.ts_local_ns, 1_786_309_548_629_007_800);
        // One level of escaping is undone: the frame's own `\u00e9` escape stays.
        assert_eq!(std::str::from_utf8(r.data).unwrap(), r#"{"a":"\u00e9"}"#);
        assert!(matches!(c.next(), Some(Err(CaptureError::Json))));
        assert!(matches!(c.next(), Some(Err(CaptureError::Field("data")))));
        assert!(matches!(c.next(), Some(Err(CaptureError::Field("ts")))));
        let r = c.next().unwrap().unwrap();
        assert_eq!((r.line_no, r.ts_local_ns, &r.data[..]), (8, 2_000_000_000, &b"z"[..]));
        assert!(c.next().is_none());
    }

    #[test]
    fn over_long_lines_are_skipped_without_buffering() {
        let long = format!("{{\"t\":\"recv\",\"ts\":1,\"data\":\"{}\"}}\n", "x".repeat(10_000));
        let text = format!("{long}{{\"t\":\"recv\",\"ts\":3,\"data\":\"ok\"}}\n");
        let mut c = cap(&text).with_max_record_bytes(1000);
        assert!(matches!(c.next(), Some(Err(CaptureError::TooLong(1000)))));
        assert!(c.line.capacity() < 1 << 17);
        let r = c.next().unwrap().unwrap();
        assert_eq!(&r.data[..], b"ok");
        assert!(c.next().is_none());
    }

    #[test]
    fn float_seconds_to_nanoseconds() {
        assert_eq!(secs_to_ns(1.5), Some(1_500_000_000));
        assert_eq!(secs_to_ns(-0.25), Some(-250_000_000));
        assert_eq!(secs_to_ns(f64::NAN), None);
        assert_eq!(secs_to_ns(1e300), None);
        assert_eq!(decimal_secs_to_ns(b"1786309548.6290078,"), Some(1_786_309_548_629_007_800));
        assert_eq!(decimal_secs_to_ns(b"1.0000000019}"), Some(1_000_000_001));
        assert_eq!(decimal_secs_to_ns(b"-2.5"), Some(-2_500_000_000));
        assert_eq!(decimal_secs_to_ns(b"12"), Some(12_000_000_000));
        assert_eq!(decimal_secs_to_ns(b"1e5"), None);
        assert_eq!(decimal_secs_to_ns(b"1."), None);
        assert_eq!(decimal_secs_to_ns(b"x"), None);
        assert_eq!(
            raw_ts(br#"{"t":"recv","ts": 5.5,"data":""}"#),
            Some(&b"5.5,\"data\":\"\"}"[..])
        );
    }
}
