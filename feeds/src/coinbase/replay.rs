//! Replay of Coinbase captures through the decoder, [`CoinbaseSync`] and the books.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crpbot_book::BookConfig;
use crpbot_core::{InstrumentId, MarketEvent, Registry, StateReason, Venue};

use super::decode::{CoinbaseDecoder, CoinbaseDecoderConfig};
use super::sync::{CoinbaseSync, MsgOutcome};
use crate::binance::{DecodeError, DepthHeader};
use crate::books::{BookEffect, BookSet};
use crate::capture::{Capture, CaptureError, RecordKind};
use crate::recording::{LineError, Recording};
use crate::replay::{InputIssue, Published, ReplaySink, ReplayStats};
use crate::sync::SyncSink;

/// Replays Coinbase Advanced Trade captures (`recv` frames; a `connect` record resets the
/// connection's sequence).
///
/// # Examples
/// ```no_run
/// use crpbot_core::Registry;
/// use crpbot_feeds::coinbase::CoinbaseReplay;
/// use crpbot_feeds::replay::BboCsv;
/// let reg = Registry::with_defaults();
/// let mut csv = BboCsv::new(std::io::stdout().lock(), &reg).unwrap();
/// let stats = CoinbaseReplay::new(&reg).run(&["COINBASE.jsonl.zst".into()], &mut csv);
/// println!("{}", stats.gaps);
/// ```
#[derive(Debug)]
pub struct CoinbaseReplay {
    decoder: CoinbaseDecoder,
    sync: CoinbaseSync,
    books: BookSet,
    tracked: Vec<InstrumentId>,
    stats: ReplayStats,
}

/// Replays `inputs` in order into `sink` and returns the summary (the entry point behind
/// `crpbot replay --venue coinbase`).
pub fn replay_coinbase(
    registry: &Registry,
    inputs: &[PathBuf],
    sink: &mut impl ReplaySink,
) -> ReplayStats {
    CoinbaseReplay::new(registry).run(inputs, sink)
}

impl CoinbaseReplay {
    /// A replay of the Coinbase instruments of `registry`. Books hold 64 Ki levels per side in
    /// their far store (the capture's BTC-USD snapshot has 27,236 offers).
    pub fn new(registry: &Registry) -> CoinbaseReplay {
        let cfg = BookConfig { far_capacity: 1 << 16, ..BookConfig::default() };
        CoinbaseReplay {
            decoder: CoinbaseDecoder::new(registry, CoinbaseDecoderConfig::default()),
            sync: CoinbaseSync::new(registry),
            // Full books (64 Ki far levels a side) for the Coinbase instruments only.
            books: BookSet::with_active(
                registry.len(),
                &registry.of_venue(Venue::Coinbase).map(|i| i.id).collect::<Vec<_>>(),
                cfg,
            ),
            tracked: registry.of_venue(Venue::Coinbase).map(|i| i.id).collect(),
            stats: ReplayStats::default(),
        }
    }

    /// The books.
    pub fn books(&self) -> &BookSet {
        &self.books
    }

    /// The connection's synchroniser.
    pub fn sync(&self) -> &CoinbaseSync {
        &self.sync
    }

    /// The decoder.
    pub fn decoder(&self) -> &CoinbaseDecoder {
        &self.decoder
    }

    /// Replays the files in order and returns the summary.
    pub fn run(&mut self, inputs: &[PathBuf], sink: &mut impl ReplaySink) -> ReplayStats {
        let start = Instant::now();
        let mut frames = self.open_frames(inputs);
        while self.feed_next(&mut frames, sink) {}
        let mut s = self.stats();
        s.elapsed_s = start.elapsed().as_secs_f64();
        s
    }

    /// The summary so far (`elapsed_s` 0).
    pub fn stats(&self) -> ReplayStats {
        let mut s = self.stats.clone();
        let st = self.sync.stats();
        s.book_updates_applied = st.updates_applied;
        s.stale_dropped = st.duplicates + st.updates_unsynced;
        s.gaps = st.gaps;
        s.resyncs = st.resyncs;
        s.snapshots = st.snapshots;
        s.bbo = st.tickers;
        s.trades = st.trades;
        s.control = st.heartbeats + st.control + st.venue_errors;
        let bs = self.books.stats();
        s.levels_applied = bs.levels;
        s.crossed = bs.crossed;
        s.elapsed_s = 0.0;
        s
    }

    fn issue(&mut self, file: &Path, line: u64, error: String) {
        self.stats.errors += 1;
        if self.stats.issues.len() < ReplayStats::MAX_ISSUES {
            self.stats.issues.push(InputIssue { file: file.display().to_string(), line, error });
        }
    }

    /// The inputs as a stream of frames for [`CoinbaseReplay::feed_next`] (the stepping form of
    /// [`CoinbaseReplay::run`], for a pipeline's feed stage).
    pub fn open_frames(&self, inputs: &[PathBuf]) -> CoinbaseFrames {
        CoinbaseFrames { inputs: inputs.to_vec(), next: 0, cur: None }
    }

    /// Decodes and applies the next frame of `frames` (raw frame to `sink.on_raw` first; a
    /// capture's connect record resets the connection), exactly as [`CoinbaseReplay::run`] would;
    /// false when every input is exhausted. Bad input is counted with its file and line.
    pub fn feed_next(&mut self, frames: &mut CoinbaseFrames, sink: &mut impl ReplaySink) -> bool {
        loop {
            if frames.cur.is_none() {
                let Some(path) = frames.inputs.get(frames.next).cloned() else { return false };
                frames.next += 1;
                let opened = match is_recording(&path) {
                    Ok(true) => Recording::open(&path).map(FrameSource::Recording),
                    Ok(false) => Capture::open(&path).map(|c| FrameSource::Capture(Box::new(c))),
                    Err(e) => Err(e),
                };
                match opened {
                    Ok(src) => frames.cur = Some((src, path)),
                    Err(e) => self.issue(&path, 0, format!("cannot open: {e}")),
                }
                continue;
            }
            let Some((src, path)) = frames.cur.as_mut() else { continue };
            match src {
                FrameSource::Capture(cap) => match cap.next() {
                    None => frames.cur = None,
                    Some(Err(e)) => {
                        let fatal = matches!(e, CaptureError::Io(_));
                        let line = cap.line_no();
                        let path = path.clone();
                        self.issue(&path, line, e.to_string());
                        if fatal {
                            frames.cur = None;
                        }
                    }
                    Some(Ok(rec)) => {
                        let (line, ts) = (rec.line_no, rec.ts_local_ns);
                        match rec.kind {
                            RecordKind::Connect => {
                                self.on_connect(ts, sink);
                                return true;
                            }
                            RecordKind::Recv => {
                                sink.on_raw(ts, rec.data, None);
                                if let Err(e) = self.feed(rec.data, ts, sink) {
                                    let path = path.clone();
                                    self.issue(&path, line, e.to_string());
                                }
                                return true;
                            }
                            _ => {}
                        }
                    }
                },
                FrameSource::Recording(rec) => match rec.next() {
                    None => frames.cur = None,
                    Some(Err(e)) => {
                        let fatal = matches!(e, LineError::Io(_));
                        let n = rec.line_no();
                        let path = path.clone();
                        self.issue(&path, n, e.to_string());
                        if fatal {
                            frames.cur = None;
                        }
                    }
                    Some(Ok(line)) => {
                        let (n, ts) = (line.line_no, line.ts_local_ns);
                        if starts_connection(line.payload) {
                            self.on_connect(ts, sink);
                        }
                        sink.on_raw(ts, line.payload, None);
                        if let Err(e) = self.feed(line.payload, ts, sink) {
                            let path = path.clone();
                            self.issue(&path, n, e.to_string());
                        }
                        return true;
                    }
                },
            }
        }
    }

    /// A new connection: every synced book is stale and the sequence restarts.
    pub fn on_connect(&mut self, ts_local_ns: i64, sink: &mut impl ReplaySink) {
        let mut apply = Apply { books: &mut self.books, sink, effect: BookEffect::None };
        self.sync.reset_connection(ts_local_ns, &mut apply);
    }

    /// Decodes and applies one frame (parsed in place). Allocation-free once warm.
    pub fn feed(
        &mut self,
        frame: &mut [u8],
        ts_local_ns: i64,
        sink: &mut impl ReplaySink,
    ) -> Result<MsgOutcome, DecodeError> {
        self.stats.messages += 1;
        let decoded = self.decoder.decode(frame, ts_local_ns);
        let mut apply = Apply { books: &mut self.books, sink, effect: BookEffect::None };
        let outcome = match decoded {
            Ok(msg) => self.sync.on_message(&msg, &self.decoder, &mut apply),
            Err(e) => {
                self.sync.on_undecodable(self.decoder.envelope(), &mut apply);
                return Err(e);
            }
        };
        // A crossed or rejected result: that book is stale until its next snapshot.
        let reason = match apply.effect {
            BookEffect::Crossed => StateReason::Crossed,
            BookEffect::Rejected => StateReason::BadLevel,
            _ => return Ok(outcome),
        };
        for &id in &self.tracked {
            let book_stale =
                self.books.get(id).is_some_and(|b| b.state == crpbot_core::BookState::Stale);
            if book_stale && self.sync.state(id) == Some(crpbot_core::BookState::Synced) {
                let mut apply = Apply { books: &mut self.books, sink, effect: BookEffect::None };
                self.sync.invalidate(id, reason, ts_local_ns, &mut apply);
            }
        }
        Ok(outcome)
    }
}

/// Applies the synchroniser's output to the books and publishes each whole, valid update.
struct Apply<'a, S: ReplaySink> {
    books: &'a mut BookSet,
    sink: &'a mut S,
    /// Crossed or rejected if any event of the message had that effect, else the effect of
    /// the current product event.
    effect: BookEffect,
}

impl<S: ReplaySink> SyncSink for Apply<'_, S> {
    fn event(&mut self, ev: MarketEvent) {
        self.sink.on_event(&ev);
        let effect = self.books.apply(&ev);
        let sticky = matches!(self.effect, BookEffect::Crossed | BookEffect::Rejected);
        if sticky {
            return;
        }
        self.effect = match ev {
            MarketEvent::State(_) => BookEffect::None,
            MarketEvent::Level(_) | MarketEvent::Snapshot(_) => match effect {
                BookEffect::None => self.effect,
                e => e,
            },
            _ => self.effect,
        };
    }

    fn applied(&mut self, header: &DepthHeader) {
        if self.effect == BookEffect::Updated {
            if let Some(book) = self.books.get(header.instrument) {
                self.sink.on_book(&Published { depth: header, book });
            }
            self.effect = BookEffect::None;
        }
        if self.effect == BookEffect::Unpublishable {
            self.effect = BookEffect::None;
        }
    }
}

/// True when `path` is a `<ts_ns> <json>` recording (gzip, or plain text starting with a digit)
/// rather than a JSONL capture (zstd, or plain text starting with `{`).
/// Coinbase inputs read one frame at a time ([`CoinbaseReplay::open_frames`]).
pub struct CoinbaseFrames {
    inputs: Vec<PathBuf>,
    next: usize,
    cur: Option<(FrameSource, PathBuf)>,
}

impl std::fmt::Debug for CoinbaseFrames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoinbaseFrames").field("next", &self.next).finish_non_exhaustive()
    }
}

enum FrameSource {
    Capture(Box<Capture>),
    Recording(Recording),
}

/// Whether a frame is the first message of a Coinbase connection (Coinbase numbers every
/// connection from 0): how a stream without connection markers — a recording, a journal —
/// shows a reconnect, after which [`CoinbaseReplay::on_connect`] resets the sequence.
pub fn starts_connection(frame: &[u8]) -> bool {
    frame.windows(17).any(|w| w == b"\"sequence_num\":0,")
}

fn is_recording(path: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    let mut head = [0u8; 4];
    let n = std::fs::File::open(path)?.read(&mut head)?;
    Ok(match &head[..n] {
        [0x1f, 0x8b, ..] => true,
        [0x28, 0xb5, 0x2f, 0xfd] => false,
        [b, ..] => b.is_ascii_digit(),
        [] => false,
    })
}
