//! Readers for recorded feeds.
//!
//! The Binance recording format (`../shared/data/binance-spot-l2`): gzip (or plain) text, one
//! message a line, `<local_receive_ts_ns> <json>`. Bad lines are reported with their line
//! number and skipped; a truncated or corrupt gzip stream ends the file with an error.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

/// Why a line of a recording could not be used.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// The stream could not be read further (truncated or corrupt gzip, I/O error). The file
    /// ends here.
    #[error("read error: {0}")]
    Io(#[from] io::Error),
    /// The line does not start with a decimal nanosecond timestamp and a space.
    #[error("no `<ts_ns> ` prefix")]
    BadTimestamp,
    /// The line has a timestamp but no message.
    #[error("empty message")]
    Empty,
}

/// One line of a recording.
#[derive(Debug)]
pub struct RecLine<'a> {
    /// 1-based line number.
    pub line_no: u64,
    /// Local receive time.
    pub ts_local_ns: i64,
    /// The message bytes, mutable so a decoder can parse in place.
    pub payload: &'a mut [u8],
}

/// A line-by-line reader of a `<ts_ns> <json>` recording.
pub struct Recording {
    path: PathBuf,
    reader: Box<dyn BufRead + Send>,
    line: Vec<u8>,
    line_no: u64,
    done: bool,
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recording")
            .field("path", &self.path)
            .field("line_no", &self.line_no)
            .finish()
    }
}

impl Recording {
    /// Opens a recording; gzip is detected by its magic bytes.
    pub fn open(path: &Path) -> io::Result<Recording> {
        let mut file = BufReader::with_capacity(1 << 16, File::open(path)?);
        let gz = file.fill_buf()?.starts_with(&[0x1f, 0x8b]);
        let reader: Box<dyn BufRead + Send> = if gz {
            Box::new(BufReader::with_capacity(1 << 16, MultiGzDecoder::new(file)))
        } else {
            Box::new(file)
        };
        Ok(Recording::from_reader(path.to_path_buf(), reader))
    }

    /// A recording over any reader (tests, pipes).
    pub fn from_reader(path: PathBuf, reader: Box<dyn BufRead + Send>) -> Recording {
        Recording { path, reader, line: Vec::with_capacity(1 << 16), line_no: 0, done: false }
    }

    /// The path it reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lines read so far.
    pub fn line_no(&self) -> u64 {
        self.line_no
    }

    /// The next line, `None` at the end. After an `Io` error the file is finished.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Result<RecLine<'_>, LineError>> {
        if self.done {
            return None;
        }
        self.line.clear();
        match self.reader.read_until(b'\n', &mut self.line) {
            Ok(0) => {
                self.done = true;
                return None;
            }
            Ok(_) => {}
            Err(e) => {
                self.done = true;
                self.line_no += 1;
                return Some(Err(LineError::Io(e)));
            }
        }
        self.line_no += 1;
        let mut end = self.line.len();
        while end > 0 && matches!(self.line[end - 1], b'\n' | b'\r') {
            end -= 1;
        }
        let line = &mut self.line[..end];
        let Some(space) = line.iter().position(|&b| b == b' ') else {
            return Some(Err(LineError::BadTimestamp));
        };
        let ts = &line[..space];
        if ts.is_empty() || ts.len() > 19 || !ts.iter().all(u8::is_ascii_digit) {
            return Some(Err(LineError::BadTimestamp));
        }
        let ts_local_ns = ts
            .iter()
            .fold(0i64, |acc, &d| acc.saturating_mul(10).saturating_add(i64::from(d - b'0')));
        let payload = &mut line[space + 1..];
        if payload.is_empty() {
            return Some(Err(LineError::Empty));
        }
        Some(Ok(RecLine { line_no: self.line_no, ts_local_ns, payload }))
    }

    /// Reads and discards everything (for tests of truncated input).
    pub fn drain(mut self) -> io::Result<()> {
        let mut sink = Vec::new();
        self.reader.read_to_end(&mut sink).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn rec(bytes: Vec<u8>) -> Recording {
        Recording::from_reader(PathBuf::from("mem"), Box::new(io::Cursor::new(bytes)))
    }

    #[test]
    fn splits_timestamp_and_payload() {
        let mut r = rec(b"123 {\"a\":1}\r\n\nxx {}\n456 \n789 {}".to_vec());
        let l = r.next().unwrap().unwrap();
        assert_eq!((l.line_no, l.ts_local_ns, &l.payload[..]), (1, 123, &b"{\"a\":1}"[..]));
        assert!(matches!(r.next(), Some(Err(LineError::BadTimestamp))));
        assert!(matches!(r.next(), Some(Err(LineError::BadTimestamp))));
        assert!(matches!(r.next(), Some(Err(LineError::Empty))));
        let l = r.next().unwrap().unwrap();
        assert_eq!((l.line_no, l.ts_local_ns), (5, 789));
        assert!(r.next().is_none());
    }

    #[test]
    fn truncated_gzip_is_an_error_not_a_panic() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for i in 0..2000 {
            writeln!(enc, "{i} {{\"k\":{i}}}").unwrap();
        }
        let gz = enc.finish().unwrap();
        let dir = std::env::temp_dir().join(format!("crpbot-rec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("trunc.gz");
        std::fs::write(&path, &gz[..gz.len() / 2]).unwrap();
        let mut r = Recording::open(&path).unwrap();
        let (mut ok, mut err) = (0, 0);
        while let Some(l) = r.next() {
            match l {
                Ok(_) => ok += 1,
                Err(LineError::Io(_)) => err += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(ok > 0 && ok < 2000, "{ok}");
        assert_eq!(err, 1);
        std::fs::remove_dir_all(&dir).ok();
    }
}
