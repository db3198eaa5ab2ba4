//! Binance `depthUpdate` decoding: crpbot's decoder vs simd-json alone vs serde_json into
//! typed structs, per message, on the real frames.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crpbot_core::{LevelUpdate, Px, Qty, Registry, Scale, Side, Venue, level_flags};
use crpbot_feeds::binance::{BinanceDecoder, BinanceMsg, DecoderConfig};
use crpbot_feeds::recording::Recording;
use serde::Deserialize;

use super::samples::{entry_from_samples, ratios};
use super::{CompareError, Comparison, check_inputs};
use crate::harness::measure_now_ns_cost;

/// The combined-stream wrapper, borrowed from the frame.
#[derive(Deserialize)]
struct Wrapper<'a> {
    #[serde(borrow)]
    data: DepthJson<'a>,
}

/// Binance's `depthUpdate` payload, every field typed (the numbers stay text until they are
/// parsed into integer ticks and lots, as the crpbot decoder does).
#[derive(Deserialize)]
#[allow(non_snake_case, dead_code)]
struct DepthJson<'a> {
    e: &'a str,
    E: u64,
    s: &'a str,
    U: u64,
    u: u64,
    #[serde(borrow)]
    b: Vec<[&'a str; 2]>,
    #[serde(borrow)]
    a: Vec<[&'a str; 2]>,
}

/// One depth frame and the scales of its instrument.
struct Frame {
    ts_local_ns: i64,
    bytes: Vec<u8>,
    scales: (Scale, Scale),
}

/// serde_json to the same normalized output as the crpbot decoder: `LevelUpdate`s in integer
/// ticks and lots, into a reused buffer. Returns false if the frame does not parse.
fn serde_decode(frame: &Frame, out: &mut Vec<LevelUpdate>, template: LevelUpdate) -> bool {
    let Ok(w) = serde_json::from_slice::<Wrapper<'_>>(&frame.bytes) else { return false };
    out.clear();
    let d = &w.data;
    let ts_exch_ns = i64::try_from(d.E).unwrap_or(0).saturating_mul(1_000_000);
    let (px, qty) = frame.scales;
    for (side, levels) in [(Side::Buy, &d.b), (Side::Sell, &d.a)] {
        for [p, q] in levels {
            let (Ok(p), Ok(q)) = (px.parse_units(p.as_bytes()), qty.parse_units(q.as_bytes()))
            else {
                return false;
            };
            out.push(LevelUpdate {
                ts_exch_ns,
                ts_local_ns: frame.ts_local_ns,
                update_id: d.u,
                px: Px(p),
                qty: Qty(q),
                side,
                ..template
            });
        }
    }
    if let Some(l) = out.last_mut() {
        l.flags |= level_flags::LAST;
    }
    true
}

/// Reads every line of `inputs` and keeps the frames the crpbot decoder reads as depth
/// updates (snapshots, trades and tickers are skipped).
fn load_depth_frames(
    inputs: &[PathBuf],
    registry: &Registry,
) -> Result<(Vec<Frame>, u64), CompareError> {
    let mut dec = BinanceDecoder::new(registry, Venue::BinanceSpot, DecoderConfig::default());
    let mut frames = Vec::new();
    let mut levels = 0u64;
    let mut scratch = Vec::with_capacity(1 << 16);
    for path in inputs {
        let mut rec = Recording::open(path)
            .map_err(|error| CompareError::Input { path: path.clone(), error })?;
        while let Some(line) = rec.next() {
            let Ok(line) = line else { continue };
            scratch.clear();
            scratch.extend_from_slice(line.payload);
            if let Ok(BinanceMsg::Depth(h)) = dec.decode(&mut scratch, line.ts_local_ns, None) {
                let inst = registry.get(h.instrument);
                levels += dec.levels().len() as u64;
                frames.push(Frame {
                    ts_local_ns: line.ts_local_ns,
                    bytes: line.payload.to_vec(),
                    scales: (inst.price, inst.qty),
                });
            }
        }
    }
    Ok((frames, levels))
}

/// Compares, per Binance `depthUpdate` message of the recordings `inputs`:
/// `crpbot` (the default decoder: the strict single-pass scanner, falling back to simd-json),
/// `simd_json` (the same decoder with the scanner off) and `serde_json` (serde_json into
/// borrowed typed structs, then the same integer parsing into `LevelUpdate`s).
///
/// Setup (untimed): every line is read and the depth frames kept. Timed: each message is
/// decoded by each decoder back to back (the order rotates every pass), each decode timed on
/// its own with `Instant`; passes repeat until `budget` is spent (at least one). The copy of
/// the frame into a scratch buffer that the in-place simd-json parse needs is included for
/// `crpbot` and `simd_json`; serde_json reads the frame where it is. The outputs are checked
/// equal (every level's side, price and size) on the first pass. Ratios: `serde_json/crpbot`,
/// `simd_json/crpbot` (medians).
///
/// # Errors
/// [`CompareError::NoInputs`], [`CompareError::Input`], [`CompareError::NoDepth`].
pub fn decode(
    inputs: &[PathBuf],
    registry: &Registry,
    budget: Duration,
) -> Result<Comparison, CompareError> {
    check_inputs(inputs)?;
    let setup = Instant::now();
    let (frames, n_levels) = load_depth_frames(inputs, registry)?;
    if frames.is_empty() {
        return Err(CompareError::NoDepth);
    }
    let setup_s = setup.elapsed().as_secs_f64();
    let mut fast = BinanceDecoder::new(registry, Venue::BinanceSpot, DecoderConfig::default());
    let mut simd = BinanceDecoder::new(
        registry,
        Venue::BinanceSpot,
        DecoderConfig { fast_depth: false, ..DecoderConfig::default() },
    );
    let template = LevelUpdate {
        ts_exch_ns: 0,
        ts_local_ns: 0,
        update_id: 0,
        px: Px(0),
        qty: Qty(0),
        instrument: crpbot_core::InstrumentId(0),
        side: Side::Buy,
        flags: 0,
        _pad: 0,
    };
    let mut scratch: Vec<u8> = Vec::with_capacity(1 << 16);
    let mut out: Vec<LevelUpdate> = Vec::with_capacity(16_384);
    let mut samples: [Vec<f64>; 3] = std::array::from_fn(|_| Vec::with_capacity(frames.len() * 8));
    let (mut mismatches, mut failures) = (0u64, [0u64; 3]);
    let mut passes = 0usize;
    let start = Instant::now();
    loop {
        for frame in &frames {
            for k in 0..3 {
                let which = (k + passes) % 3;
                let t = Instant::now();
                let ok = match which {
                    0 | 1 => {
                        let dec = if which == 0 { &mut fast } else { &mut simd };
                        scratch.clear();
                        scratch.extend_from_slice(&frame.bytes);
                        dec.decode(&mut scratch, frame.ts_local_ns, None).is_ok()
                    }
                    _ => serde_decode(frame, &mut out, template),
                };
                let ns = t.elapsed().as_nanos();
                samples[which].push(ns as f64);
                failures[which] += u64::from(!ok);
            }
            if passes == 0 {
                // Same frame, just decoded by all three: compare what they produced.
                let same = |a: &[LevelUpdate], b: &[LevelUpdate]| {
                    a.len() == b.len()
                        && a.iter()
                            .zip(b)
                            .all(|(x, y)| (x.side, x.px, x.qty) == (y.side, y.px, y.qty))
                };
                if !same(fast.levels(), &out) || !same(simd.levels(), &out) {
                    mismatches += 1;
                }
            }
        }
        passes += 1;
        if start.elapsed() >= budget {
            break;
        }
    }
    let entries = vec![
        entry_from_samples("crpbot", &mut samples[0], None),
        entry_from_samples("simd_json", &mut samples[1], None),
        entry_from_samples("serde_json", &mut samples[2], None),
    ];
    let ratios = ratios(&entries, &[("serde_json", "crpbot"), ("simd_json", "crpbot")]);
    let mut notes = vec![
        format!(
            "{} depth messages ({:.1} levels per message) from {} file(s); {passes} passes in \
             {:.2} s (setup {:.2} s untimed)",
            frames.len(),
            n_levels as f64 / frames.len() as f64,
            inputs.len(),
            start.elapsed().as_secs_f64(),
            setup_s
        ),
        format!(
            "sample = one message decoded, timed with Instant (one clock read, ≈ {:.0} ns here, \
             included); crpbot and simd_json include the frame copy their in-place parse needs",
            measure_now_ns_cost(100_000)
        ),
    ];
    if mismatches > 0 {
        notes.push(format!("WARNING: {mismatches} messages decoded differently by the decoders"));
    }
    if failures.iter().any(|&f| f > 0) {
        notes.push(format!(
            "decode failures (crpbot, simd_json, serde_json): {failures:?} over {passes} passes"
        ));
    }
    Ok(Comparison {
        name: "decode".to_owned(),
        unit: "ns per depth message".to_owned(),
        entries,
        ratios,
        notes,
    })
}
