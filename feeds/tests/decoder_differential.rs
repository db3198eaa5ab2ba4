//! The strict `depthUpdate` scanner against the simd-json path: identical output on every real
//! frame, and on mutated frames either identical output or a fallback to simd-json (so the
//! result, error included, is identical by construction).
//!
//! Cases: every frame of both recordings (~180,000), plus `CRPBOT_FUZZ_CASES` (default 3,000)
//! proptest mutations of real depth frames.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use crpbot_core::{Registry, Venue};
use crpbot_feeds::binance::{BinanceDecoder, DecoderConfig};
use proptest::prelude::*;

fn decoders(reg: &Registry) -> (BinanceDecoder, BinanceDecoder) {
    let fast = BinanceDecoder::new(reg, Venue::BinanceSpot, DecoderConfig::default());
    let slow = BinanceDecoder::new(
        reg,
        Venue::BinanceSpot,
        DecoderConfig { fast_depth: false, ..Default::default() },
    );
    (fast, slow)
}

fn same(
    fast: &mut BinanceDecoder,
    slow: &mut BinanceDecoder,
    frame: &[u8],
    ctx: Option<crpbot_core::InstrumentId>,
) -> Result<(), String> {
    let (mut a, mut b) = (frame.to_vec(), frame.to_vec());
    let ra = fast.decode(&mut a, 7, ctx);
    let rb = slow.decode(&mut b, 7, ctx);
    if ra != rb {
        return Err(format!(
            "results differ: {ra:?} vs {rb:?} on {}",
            String::from_utf8_lossy(frame)
        ));
    }
    if ra.is_ok() && fast.levels() != slow.levels() {
        return Err(format!("levels differ on {}", String::from_utf8_lossy(frame)));
    }
    Ok(())
}

#[test]
fn scanner_equals_simd_json_on_every_real_frame() {
    let Some(dir) = common::data_dir() else { return };
    let reg = Registry::with_defaults();
    let (mut fast, mut slow) = decoders(&reg);
    let mut n = 0;
    for file in common::binance_spot_files(&dir) {
        let ctx =
            reg.lookup(Venue::BinanceSpot, &file.file_name().unwrap().as_encoded_bytes()[..7]);
        for (_, frame) in common::load_lines(&file) {
            same(&mut fast, &mut slow, &frame, ctx).unwrap();
            n += 1;
        }
    }
    println!("{n} frames identical; {} depth frames took the fast path", fast.fast_hits());
    assert_eq!(
        fast.fast_hits(),
        3_451 + 3_044 + 3_434 + 3_036,
        "every real diff takes the fast path"
    );
}

fn real_depth_frames() -> Vec<Vec<u8>> {
    let Some(dir) = common::data_dir() else { return Vec::new() };
    let file = &common::binance_spot_files(&dir)[0];
    common::load_lines(file)
        .into_iter()
        .map(|(_, f)| f)
        .filter(|f| f.starts_with(br#"{"stream":"btcusdt@depth"#))
        .take(400)
        .collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Delete(usize),
    Splice(usize, usize),
}

fn apply(frame: &[u8], m: &Mutation) -> Vec<u8> {
    let mut f = frame.to_vec();
    if f.is_empty() {
        return f;
    }
    let len = f.len();
    match *m {
        Mutation::Flip(i, bit) => f[i % len] ^= 1 << (bit % 8),
        Mutation::Truncate(i) => f.truncate(i % len),
        Mutation::Insert(i, b) => f.insert(i % len, b),
        Mutation::Delete(i) => {
            f.remove(i % len);
        }
        Mutation::Splice(i, j) => {
            let (a, b) = ((i % len).min(j % len), (i % len).max(j % len));
            let chunk = f[a..b].to_vec();
            f.splice(a..a, chunk);
        }
    }
    f
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), prop::sample::select(b"0123456789.,\"[]{}-e \\x".to_vec()))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Mutation::Splice(i, j)),
    ]
}

#[test]
fn scanner_never_diverges_on_mutated_frames() {
    let frames = real_depth_frames();
    if frames.is_empty() {
        return;
    }
    let cases =
        std::env::var("CRPBOT_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(3_000);
    let reg = Registry::with_defaults();
    let decs = std::cell::RefCell::new(decoders(&reg));
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&(0..frames.len(), prop::collection::vec(mutation(), 1..4)), |(idx, muts)| {
            let mut f = frames[idx].clone();
            for m in &muts {
                f = apply(&f, m);
            }
            let (fast, slow) = &mut *decs.borrow_mut();
            same(fast, slow, &f, None).map_err(TestCaseError::fail)
        })
        .unwrap();
}
