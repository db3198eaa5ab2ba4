//! Mutation fuzzing of the decoders and readers with proptest (RELIABILITY.md F1, F8).
//!
//! Seeds are real frames: Binance spot lines from `binance-spot-l2` and Coinbase `recv` frames
//! from `venue-captures/COINBASE.jsonl.zst` (the 5 MB book snapshots cut to their first 30
//! levels), or built-in frames of the same shapes when the data is absent. Each case applies
//! 1–8 mutations — bit flips, truncations, splices with another frame, duplicated and deleted
//! byte runs, huge numbers, deep nesting — and feeds the result to:
//! * `BinanceDecoder` (spot and USDⓈ-M) and `BinanceReplay::feed`;
//! * `CoinbaseDecoder` and `CoinbaseReplay::feed` (decoder + `CoinbaseSync` + books) between
//!   a valid snapshot and a valid update, checking every published book is uncrossed;
//! * the `Capture` reader (the frame wrapped as a capture record line, then mutated) and the
//!   `Recording` reader (`<ts> <frame>` lines, mutated).
//!
//! The property is: no panic, and every refusal is an error value. Cases: 2,000 per target
//! (5 targets, 10,000 in all) in `cargo test`; `CRPBOT_FUZZ_CASES=N` sets N per target.
//! Separately, F8: a 100 MiB frame is refused by the size cap of both decoders, a 100 MiB
//! capture line is skipped without being buffered, and 10,000-deep nesting is refused.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{self, BufRead, Read};
use std::path::PathBuf;
use std::sync::OnceLock;

use crpbot_core::{InstrumentId, Registry, Venue};
use crpbot_feeds::binance::{BinanceDecoder, DecodeError, DecoderConfig};
use crpbot_feeds::capture::{Capture, CaptureError};
use crpbot_feeds::coinbase::{CoinbaseDecoder, CoinbaseReplay};
use crpbot_feeds::recording::Recording;
use crpbot_feeds::replay::{BinanceReplay, Published, ReplaySink};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("CRPBOT_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000)
}

const CB_SNAPSHOT: &str = r#"{"channel":"l2_data","timestamp":"2026-08-09T21:05:48.483587501Z","sequence_num":0,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"2026-08-09T21:05:48.170326Z","price_level":"65083.66","new_quantity":"0.20371215"},{"side":"offer","event_time":"2026-08-09T21:05:48.170326Z","price_level":"65083.67","new_quantity":"0.24290402"}]}]}"#;
const CB_UPDATE: &str = r#"{"channel":"l2_data","timestamp":"2026-08-09T21:05:48.983587501Z","sequence_num":2,"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"2026-08-09T21:05:48.9Z","price_level":"65083.65","new_quantity":"1.5"}]}]}"#;

fn builtin() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let binance = [
        r#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1723161255208,"s":"BTCUSDT","U":7,"u":9,"b":[["61737.63","0.5"]],"a":[["61737.64","0"]]}}"#,
        r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000","q":"0.02000000","T":1723161255342,"m":true,"M":true}}"#,
        r#"{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000","a":"61837.64000000","A":"1.54698000"}}"#,
        r#"{"lastUpdateId":160,"bids":[["61737.62","10"]],"asks":[["61737.64","100"]]}"#,
    ];
    let coinbase = [
        CB_SNAPSHOT,
        CB_UPDATE,
        r#"{"channel":"market_trades","timestamp":"2024-10-08T09:10:52.425044603Z","sequence_num":1,"events":[{"type":"update","trades":[{"product_id":"BTC-USD","trade_id":"699871154","price":"62322.43","size":"0.00005535","time":"2024-10-08T09:10:52.378779Z","side":"BUY"}]}]}"#,
        r#"{"channel":"heartbeats","timestamp":"2023-06-23T20:31:26.122969572Z","sequence_num":1,"events":[{"current_time":"x","heartbeat_counter":"3049"}]}"#,
    ];
    (
        binance.iter().map(|s| s.as_bytes().to_vec()).collect(),
        coinbase.iter().map(|s| s.as_bytes().to_vec()).collect(),
    )
}

/// Cuts an `l2_data` snapshot after `n` levels and closes it.
fn cut_snapshot(frame: &[u8], n: usize) -> Vec<u8> {
    let text = String::from_utf8_lossy(frame);
    let mut end = 0;
    for _ in 0..n {
        match text[end + 1..].find(r#"},{"side""#) {
            Some(i) => end += 1 + i,
            None => return frame.to_vec(),
        }
    }
    format!("{}}}]}}]}}", &text[..end]).into_bytes()
}

/// Seed frames of each decoder.
type Seeds = (Vec<Vec<u8>>, Vec<Vec<u8>>);

/// Seed frames: (binance, coinbase).
fn seeds() -> &'static Seeds {
    static SEEDS: OnceLock<Seeds> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let (mut binance, mut coinbase) = builtin();
        let Some(dir) = common::data_dir() else { return (binance, coinbase) };
        let lines = common::load_lines(&dir.join("binance-spot-l2/btcusdt_20240808.gz"));
        // A mix of kinds: the snapshot (cut), diffs, tickers and trades.
        for (_, l) in lines.iter().take(400) {
            binance.push(if l.len() > 8_192 { l[..8_192].to_vec() } else { l.clone() });
        }
        let mut cap = Capture::open(&dir.join("venue-captures/COINBASE.jsonl.zst")).unwrap();
        while let Some(r) = cap.next() {
            let r = r.unwrap();
            if r.kind != crpbot_feeds::capture::RecordKind::Recv {
                continue;
            }
            let f = r.data.to_vec();
            coinbase.push(if f.len() > 32_768 { cut_snapshot(&f, 30) } else { f });
        }
        (binance, coinbase)
    })
}

#[derive(Clone, Debug)]
enum Mutation {
    BitFlip(usize, u8),
    Truncate(usize),
    Splice(usize, usize, usize),
    Duplicate(usize, usize),
    Delete(usize, usize),
    HugeNumber(usize, u8),
    DeepNest(usize, u16),
    Byte(usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let p = any::<usize>();
    prop_oneof![
        (p, 0u8..8).prop_map(|(a, b)| Mutation::BitFlip(a, b)),
        p.prop_map(Mutation::Truncate),
        (p, p, p).prop_map(|(a, b, c)| Mutation::Splice(a, b, c)),
        (p, 1usize..64).prop_map(|(a, b)| Mutation::Duplicate(a, b)),
        (p, 1usize..64).prop_map(|(a, b)| Mutation::Delete(a, b)),
        (p, 0u8..4).prop_map(|(a, b)| Mutation::HugeNumber(a, b)),
        (p, 1u16..2_000).prop_map(|(a, b)| Mutation::DeepNest(a, b)),
        (p, any::<u8>()).prop_map(|(a, b)| Mutation::Byte(a, b)),
    ]
}

fn apply(frame: &mut Vec<u8>, m: &Mutation, others: &[Vec<u8>]) {
    let at = |p: usize, len: usize| if len == 0 { 0 } else { p % (len + 1) };
    match *m {
        Mutation::BitFlip(p, b) if !frame.is_empty() => {
            let i = p % frame.len();
            frame[i] ^= 1 << b;
        }
        Mutation::BitFlip(..) => {}
        Mutation::Truncate(p) => frame.truncate(at(p, frame.len())),
        Mutation::Splice(p, o, q) => {
            let other = &others[o % others.len()];
            let (i, j) = (at(p, frame.len()), at(q, other.len()));
            frame.truncate(i);
            frame.extend_from_slice(&other[j..]);
        }
        Mutation::Duplicate(p, n) => {
            let i = at(p, frame.len());
            let run: Vec<u8> = frame[i..(i + n).min(frame.len())].to_vec();
            frame.splice(i..i, run);
        }
        Mutation::Delete(p, n) => {
            let i = at(p, frame.len());
            frame.drain(i..(i + n).min(frame.len()));
        }
        Mutation::HugeNumber(p, k) => {
            let huge: &[u8] = match k {
                0 => b"99999999999999999999999999999999",
                1 => b"-9223372036854775809",
                2 => b"1e309",
                _ => b"\"99999999999999999999.99999999999\"",
            };
            let i = at(p, frame.len());
            frame.splice(i..i, huge.iter().copied());
        }
        Mutation::DeepNest(p, d) => {
            let i = at(p, frame.len());
            let d = usize::from(d);
            let nest: Vec<u8> =
                std::iter::repeat_n(b'[', d).chain(std::iter::repeat_n(b']', d)).collect();
            frame.splice(i..i, nest);
        }
        Mutation::Byte(p, b) => {
            let i = at(p, frame.len());
            frame.insert(i, b);
        }
    }
}

fn mutated(pool: &[Vec<u8>], pick: usize, muts: &[Mutation]) -> Vec<u8> {
    let mut f = pool[pick % pool.len()].clone();
    for m in muts {
        apply(&mut f, m, pool);
    }
    f
}

struct Uncrossed;
impl ReplaySink for Uncrossed {
    fn on_book(&mut self, p: &Published<'_>) {
        let b = &p.book.book;
        assert!(b.best_bid().unwrap().px < b.best_ask().unwrap().px, "published a crossed book");
    }
}

/// Decoders and replays are large (preallocated books for every registry instrument): one set
/// per test thread, reused across cases (state carried from case to case is fine — even
/// useful — for fuzzing).
struct Rig {
    spot: BinanceDecoder,
    usdm: BinanceDecoder,
    binance: BinanceReplay,
    coinbase_dec: CoinbaseDecoder,
    coinbase: CoinbaseReplay,
}

thread_local! {
    static RIG: std::cell::RefCell<Rig> = std::cell::RefCell::new({
        let reg = Registry::with_defaults();
        Rig {
            spot: BinanceDecoder::new(&reg, Venue::BinanceSpot, DecoderConfig::default()),
            usdm: BinanceDecoder::new(&reg, Venue::BinanceUsdm, DecoderConfig::default()),
            binance: BinanceReplay::new(&reg, Venue::BinanceSpot),
            coinbase_dec: CoinbaseDecoder::new(&reg, Default::default()),
            coinbase: CoinbaseReplay::new(&reg),
        }
    });
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn binance_decoder_survives_mutations(pick in any::<usize>(), muts in prop::collection::vec(mutation(), 1..8)) {
        let f = mutated(&seeds().0, pick, &muts);
        let ctx = Some(InstrumentId(0)); // BTCUSDT, the first default instrument
        RIG.with_borrow_mut(|rig| {
            let _ = rig.spot.decode(&mut f.clone(), 0, ctx);
            let _ = rig.usdm.decode(&mut f.clone(), 0, ctx);
            let _ = rig.binance.feed(&mut f.clone(), 1, ctx, &mut Uncrossed);
        });
    }

    #[test]
    fn coinbase_decoder_survives_mutations(pick in any::<usize>(), muts in prop::collection::vec(mutation(), 1..8)) {
        let f = mutated(&seeds().1, pick, &muts);
        RIG.with_borrow_mut(|rig| {
            let _ = rig.coinbase_dec.decode(&mut f.clone(), 0);
        });
    }

    #[test]
    fn coinbase_pipeline_survives_mutations(pick in any::<usize>(), muts in prop::collection::vec(mutation(), 1..8)) {
        let f = mutated(&seeds().1, pick, &muts);
        let messages = RIG.with_borrow_mut(|rig| {
            let r = &mut rig.coinbase;
            let before = r.stats().messages;
            // A new connection each case: snapshot, the mutated frame, an update.
            r.on_connect(0, &mut Uncrossed);
            let _ = r.feed(&mut CB_SNAPSHOT.as_bytes().to_vec(), 0, &mut Uncrossed);
            let _ = r.feed(&mut f.clone(), 1, &mut Uncrossed);
            let _ = r.feed(&mut CB_UPDATE.as_bytes().to_vec(), 2, &mut Uncrossed);
            r.stats().messages - before
        });
        prop_assert_eq!(messages, 3);
    }

    #[test]
    fn capture_reader_survives_mutations(pick in any::<usize>(), muts in prop::collection::vec(mutation(), 1..8)) {
        let frame = &seeds().1[pick % seeds().1.len()];
        let data = serde_json::to_string(&String::from_utf8_lossy(frame)).unwrap();
        let mut text = format!(
            "{{\"t\":\"header\",\"exchange\":\"COINBASE\"}}\n{{\"t\":\"recv\",\"conn\":\"c\",\"ts\":1786309548.6290078,\"data\":{data}}}\n"
        ).into_bytes();
        let pool = vec![text.clone()];
        for m in &muts {
            apply(&mut text, m, &pool);
        }
        let mut cap = Capture::from_reader(PathBuf::from("fuzz"), Box::new(io::Cursor::new(text)))
            .with_max_record_bytes(1 << 20);
        let mut n = 0;
        while let Some(r) = cap.next() {
            n += 1;
            prop_assert!(n < 10_000);
            if let Ok(r) = r {
                RIG.with_borrow_mut(|rig| {
                    let _ = rig.coinbase_dec.decode(r.data, r.ts_local_ns);
                });
            }
        }
    }

    #[test]
    fn recording_reader_survives_mutations(pick in any::<usize>(), muts in prop::collection::vec(mutation(), 1..8)) {
        let frame = &seeds().0[pick % seeds().0.len()];
        let mut text = b"1723161253000000000 ".to_vec();
        text.extend_from_slice(frame);
        text.extend_from_slice(b"\n1723161253000000001 {}\n");
        let pool = vec![text.clone()];
        for m in &muts {
            apply(&mut text, m, &pool);
        }
        let mut rec = Recording::from_reader(PathBuf::from("fuzz"), Box::new(io::Cursor::new(text)));
        let mut n = 0;
        while let Some(l) = rec.next() {
            n += 1;
            prop_assert!(n < 10_000);
            let _ = l.map(|l| l.ts_local_ns);
        }
    }
}

/// A reader of `len` bytes of `x` with no newline, generated lazily (no 100 MiB buffer).
struct Endless {
    left: usize,
    buf: [u8; 8192],
}

impl Read for Endless {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = out.len().min(self.left).min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.left -= n;
        Ok(n)
    }
}

#[test]
fn oversize_and_deep_inputs_are_refused() {
    let reg = Registry::with_defaults();
    // 100 MiB frames: refused by the size cap before parsing.
    let mut big = vec![b' '; 100 << 20];
    let mut cb = CoinbaseDecoder::new(&reg, Default::default());
    assert_eq!(cb.decode(&mut big, 0), Err(DecodeError::TooLarge(100 << 20)));
    let mut bn = BinanceDecoder::new(&reg, Venue::BinanceSpot, DecoderConfig::default());
    assert_eq!(bn.decode(&mut big, 0, None), Err(DecodeError::TooLarge(100 << 20)));
    drop(big);
    // 10,000-deep nesting.
    let mut deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes();
    assert!(cb.decode(&mut deep, 0).is_err());
    assert!(bn.decode(&mut deep, 0, None).is_err());
    let mut deep_obj = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000)).into_bytes();
    assert!(cb.decode(&mut deep_obj, 0).is_err());
    // A 100 MiB capture line claim: skipped with TooLong, never buffered whole, and the
    // record after it is read.
    let endless = Endless { left: 100 << 20, buf: [b'x'; 8192] };
    let tail = io::Cursor::new(b"\n{\"t\":\"recv\",\"ts\":1,\"data\":\"ok\"}\n".to_vec());
    let reader: Box<dyn BufRead + Send> =
        Box::new(io::BufReader::with_capacity(1 << 16, endless.chain(tail)));
    let mut cap = Capture::from_reader(PathBuf::from("big"), reader);
    assert!(matches!(cap.next(), Some(Err(CaptureError::TooLong(_)))));
    assert_eq!(&cap.next().unwrap().unwrap().data[..], b"ok");
    assert!(cap.next().is_none());
}

/// The same mutations, deterministically, on every seed frame once: every refusal is an error
/// value (counts printed), and the fuzz harness really exercises both outcomes.
#[test]
fn mutations_produce_both_accepted_and_refused_frames() {
    let reg = Registry::with_defaults();
    let mut d = CoinbaseDecoder::new(&reg, Default::default());
    let (mut ok, mut err) = (0, 0);
    for (i, f) in seeds().1.iter().enumerate() {
        for m in [Mutation::BitFlip(i * 7919, (i % 8) as u8), Mutation::Delete(i * 31, 3)] {
            let mut f = f.clone();
            apply(&mut f, &m, &seeds().1);
            match d.decode(&mut f, 0) {
                Ok(_) => ok += 1,
                Err(_) => err += 1,
            }
        }
    }
    println!("coinbase mutated seeds: {ok} decoded, {err} refused");
    assert!(ok > 0 && err > 0);
}
