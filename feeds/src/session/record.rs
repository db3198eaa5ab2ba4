//! Recording raw frames: `<ts_local_ns> <json>` lines, gzip, one file per venue and UTC day
//! (`<venue>_<yyyymmdd>.gz`), the format of `../shared/data/binance-spot-l2`.
//!
//! Websocket frames are written as received. A REST snapshot body carries no symbol, so it is
//! written wrapped as `{"stream":"<symbol>@depthSnapshot","data":<body>}`; the Binance decoder
//! takes the instrument from that stream name, so a multi-symbol recording replays with
//! [`BinanceReplay`](crate::replay::BinanceReplay) exactly like the shared ones. An existing
//! file of the same day is appended to as a new gzip member (readers use a multi-member
//! decoder).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crpbot_core::Venue;
use flate2::Compression;
use flate2::write::GzEncoder;

use super::FrameTap;

/// Counters of a [`DayFileRecorder`], readable from any thread.
#[derive(Debug, Default)]
pub struct RecorderStats {
    /// Lines written.
    pub lines: AtomicU64,
    /// Payload bytes written (before compression).
    pub bytes: AtomicU64,
    /// Write errors (the line is lost; the recorder retries on the next line).
    pub errors: AtomicU64,
    /// Files opened.
    pub files: AtomicU64,
}

/// A [`FrameTap`] that writes a venue's raw feed to daily gzip files.
#[derive(Debug)]
pub struct DayFileRecorder {
    dir: PathBuf,
    venue: Venue,
    day: Option<(i32, u32, u32)>,
    file: Option<GzEncoder<BufWriter<File>>>,
    line: Vec<u8>,
    stats: Arc<RecorderStats>,
    last_flush_ns: i64,
}

/// The UTC civil date of a Unix time in nanoseconds.
///
/// # Examples
/// ```
/// use crpbot_feeds::session::record::utc_date;
/// assert_eq!(utc_date(1_723_161_253_937_085_768), (2024, 8, 8));
/// assert_eq!(utc_date(0), (1970, 1, 1));
/// ```
pub fn utc_date(ts_ns: i64) -> (i32, u32, u32) {
    // Howard Hinnant's civil_from_days.
    let days = ts_ns.div_euclid(86_400_000_000_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
    (y, m, d)
}

impl DayFileRecorder {
    /// A recorder writing into `dir` (created if missing).
    pub fn new(dir: &Path, venue: Venue) -> std::io::Result<DayFileRecorder> {
        std::fs::create_dir_all(dir)?;
        Ok(DayFileRecorder {
            dir: dir.to_path_buf(),
            venue,
            day: None,
            file: None,
            line: Vec::with_capacity(64 << 10),
            stats: Arc::new(RecorderStats::default()),
            last_flush_ns: 0,
        })
    }

    /// The counters (shared: keep a clone before handing the recorder to a session).
    pub fn stats(&self) -> Arc<RecorderStats> {
        Arc::clone(&self.stats)
    }

    /// The file a timestamp's line goes to.
    pub fn path_for(&self, ts_ns: i64) -> PathBuf {
        let (y, m, d) = utc_date(ts_ns);
        self.dir.join(format!("{}_{y:04}{m:02}{d:02}.gz", self.venue.name()))
    }

    fn writer(&mut self, ts_ns: i64) -> std::io::Result<&mut GzEncoder<BufWriter<File>>> {
        let day = utc_date(ts_ns);
        if self.day != Some(day) || self.file.is_none() {
            if let Some(f) = self.file.take() {
                f.finish()?.flush()?;
            }
            let path = self.path_for(ts_ns);
            let file = OpenOptions::new().create(true).append(true).open(&path)?;
            self.stats.files.fetch_add(1, Relaxed);
            self.file =
                Some(GzEncoder::new(BufWriter::with_capacity(1 << 16, file), Compression::fast()));
            self.day = Some(day);
        }
        self.file.as_mut().ok_or_else(|| std::io::Error::other("no file"))
    }

    fn write_line(&mut self, ts_ns: i64) {
        let line = std::mem::take(&mut self.line);
        let res = self.writer(ts_ns).and_then(|w| w.write_all(&line));
        self.line = line;
        match res {
            Ok(()) => {
                self.stats.lines.fetch_add(1, Relaxed);
                self.stats.bytes.fetch_add(self.line.len() as u64, Relaxed);
            }
            Err(_) => {
                self.stats.errors.fetch_add(1, Relaxed);
                // Start a fresh member next time rather than writing into a broken one.
                self.file = None;
            }
        }
        // Make the data readable regularly (a sync flush closes no member).
        if ts_ns - self.last_flush_ns >= 1_000_000_000 {
            self.last_flush_ns = ts_ns;
            if let Some(f) = self.file.as_mut()
                && f.flush().is_err()
            {
                self.stats.errors.fetch_add(1, Relaxed);
                self.file = None;
            }
        }
    }

    fn start_line(&mut self, ts_ns: i64) {
        self.line.clear();
        let _ = write!(self.line, "{ts_ns} ");
    }

    fn push_one_line(&mut self, bytes: &[u8]) {
        // Raw newlines are whitespace in JSON: keep one message per line.
        self.line.extend(bytes.iter().map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b }));
    }
}

impl FrameTap for DayFileRecorder {
    fn frame(&mut self, ts_local_ns: i64, frame: &[u8]) {
        self.start_line(ts_local_ns);
        self.push_one_line(frame);
        self.line.push(b'\n');
        self.write_line(ts_local_ns);
    }

    fn snapshot(&mut self, ts_local_ns: i64, symbol: &str, body: &[u8]) {
        self.start_line(ts_local_ns);
        self.line.extend_from_slice(b"{\"stream\":\"");
        self.line.extend(
            symbol.bytes().filter(u8::is_ascii_alphanumeric).map(|b| b.to_ascii_lowercase()),
        );
        self.line.extend_from_slice(b"@depthSnapshot\",\"data\":");
        self.push_one_line(body);
        self.line.extend_from_slice(b"}\n");
        self.write_line(ts_local_ns);
    }

    fn finish(&mut self) {
        if let Some(f) = self.file.take()
            && f.finish().and_then(|mut w| w.flush()).is_err()
        {
            self.stats.errors.fetch_add(1, Relaxed);
        }
    }
}

impl Drop for DayFileRecorder {
    fn drop(&mut self) {
        FrameTap::finish(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::Recording;

    #[test]
    fn civil_dates() {
        assert_eq!(utc_date(951_782_400_000_000_000), (2000, 2, 29));
        assert_eq!(utc_date(-1), (1969, 12, 31));
        assert_eq!(utc_date(1_735_689_599_999_999_999), (2024, 12, 31));
        assert_eq!(utc_date(1_735_689_600_000_000_000), (2025, 1, 1));
    }

    #[test]
    fn writes_daily_files_that_read_back() {
        let dir = std::env::temp_dir().join(format!("crpbot-rec-day-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut r = DayFileRecorder::new(&dir, Venue::BinanceSpot).unwrap();
        let day1 = 1_723_161_253_937_085_768; // 2024-08-08
        let day2 = day1 + 86_400_000_000_000;
        r.frame(day1, b"{\"a\":\n1}");
        r.snapshot(day1 + 1, "BTCUSDT", b"{\"lastUpdateId\":5,\"bids\":[],\"asks\":[]}");
        r.frame(day2, b"{\"b\":2}");
        FrameTap::finish(&mut r);
        // Appending to an existing day adds a gzip member.
        r.frame(day2 + 5, b"{\"c\":3}");
        drop(r);
        let read = |name: &str| {
            let mut rec = Recording::open(&dir.join(name)).unwrap();
            let mut lines = Vec::new();
            while let Some(l) = rec.next() {
                let l = l.unwrap();
                lines.push((l.ts_local_ns, String::from_utf8(l.payload.to_vec()).unwrap()));
            }
            lines
        };
        assert_eq!(
            read("binance-spot_20240808.gz"),
            [
                (day1, "{\"a\": 1}".to_owned()),
                (
                    day1 + 1,
                    "{\"stream\":\"btcusdt@depthSnapshot\",\"data\":{\"lastUpdateId\":5,\"bids\":[],\"asks\":[]}}"
                        .to_owned()
                ),
            ]
        );
        assert_eq!(
            read("binance-spot_20240809.gz"),
            [(day2, "{\"b\":2}".to_owned()), (day2 + 5, "{\"c\":3}".to_owned())]
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
