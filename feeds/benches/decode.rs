//! Binance `depthUpdate` decoding and decode + book apply, on the real recording.
//!
//! Compares, in one run and on the same messages:
//! * `crpbot_decoder`: crpbot's decoder as configured by default — the strict single-pass
//!   `depthUpdate` scanner, falling back to simd-json for anything else;
//! * `simd_json_only`: the same decoder with the scanner off (simd-json tape → integer-tick
//!   `LevelUpdate`s);
//! * `serde_json_to_events`: serde_json into borrowed structs, then the same integer parsing —
//!   the same output, the other JSON parser;
//! * `decode_sync_apply`: decoder + DepthSync + BookSet, i.e. a whole message into the book.
//!
//! Each iteration processes every BTCUSDT depth message of both days; throughput is reported
//! per message. The frame is copied into a scratch buffer before decoding (simd-json parses in
//! place); that copy is included in the time. Skips with one line if the data is absent.

use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use crpbot_core::{Px, Qty, Registry, Venue};
use crpbot_feeds::binance::{BinanceDecoder, DecoderConfig};
use crpbot_feeds::recording::Recording;
use crpbot_feeds::replay::{BinanceReplay, Published, ReplaySink};

fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("CRPBOT_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data"))
    });
    dir.join("binance-spot-l2").is_dir().then_some(dir)
}

fn load(dir: &std::path::Path, symbol: &str) -> Vec<(i64, Vec<u8>)> {
    let mut out = Vec::new();
    for day in ["20240808", "20240809"] {
        let mut rec =
            Recording::open(&dir.join(format!("binance-spot-l2/{symbol}_{day}.gz"))).expect("open");
        while let Some(Ok(l)) = rec.next() {
            out.push((l.ts_local_ns, l.payload.to_vec()));
        }
    }
    out
}

#[derive(serde::Deserialize)]
struct Wrapper<'a> {
    #[serde(borrow)]
    data: DepthJson<'a>,
}

#[derive(serde::Deserialize)]
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

struct Nop;
impl ReplaySink for Nop {
    fn on_book(&mut self, p: &Published<'_>) {
        std::hint::black_box(p.book.book.best_bid());
    }
}

fn benches(c: &mut Criterion) {
    let Some(dir) = data_dir() else {
        eprintln!("skipping decode benches: ../shared/data not found (set CRPBOT_DATA_DIR)");
        return;
    };
    let reg = Registry::with_defaults();
    let lines = load(&dir, "btcusdt");
    let depth: Vec<&(i64, Vec<u8>)> =
        lines.iter().filter(|(_, l)| l.starts_with(br#"{"stream":"btcusdt@depth"#)).collect();
    let n = depth.len() as u64;
    let levels: usize = {
        let mut d = BinanceDecoder::new(&reg, Venue::BinanceSpot, DecoderConfig::default());
        depth
            .iter()
            .map(|(ts, l)| {
                let mut b = l.clone();
                d.decode(&mut b, *ts, None).map(|_| d.levels().len()).unwrap_or(0)
            })
            .sum()
    };
    eprintln!(
        "{n} BTCUSDT depth messages, {levels} level updates ({:.1} per message)",
        levels as f64 / n as f64
    );

    per_message_percentiles(&reg, &depth);

    let mut g = c.benchmark_group("binance_depth_decode");
    g.throughput(Throughput::Elements(n));
    let mut scratch = Vec::with_capacity(1 << 16);
    for (name, fast_depth) in [("crpbot_decoder", true), ("simd_json_only", false)] {
        let mut dec = BinanceDecoder::new(
            &reg,
            Venue::BinanceSpot,
            DecoderConfig { fast_depth, ..Default::default() },
        );
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut sum = 0i64;
                for (ts, line) in &depth {
                    scratch.clear();
                    scratch.extend_from_slice(line);
                    if dec.decode(&mut scratch, *ts, None).is_ok() {
                        sum = sum.wrapping_add(dec.levels().len() as i64);
                    }
                }
                sum
            })
        });
    }
    let btc = reg.get(reg.lookup(Venue::BinanceSpot, b"BTCUSDT").expect("BTCUSDT"));
    let (px, qty) = (btc.price, btc.qty);
    let mut out: Vec<(Px, Qty)> = Vec::with_capacity(4096);
    g.bench_function("serde_json_to_events", |b| {
        b.iter(|| {
            let mut sum = 0i64;
            for (_, line) in &depth {
                let Ok(w) = serde_json::from_slice::<Wrapper<'_>>(line) else { continue };
                out.clear();
                for [p, q] in w.data.b.iter().chain(w.data.a.iter()) {
                    if let (Ok(p), Ok(q)) =
                        (px.parse_units(p.as_bytes()), qty.parse_units(q.as_bytes()))
                    {
                        out.push((Px(p), Qty(q)));
                    }
                }
                sum = sum.wrapping_add(out.len() as i64);
            }
            sum
        })
    });
    g.finish();

    // Whole message into the book: every line (diffs, tickers, trades, the snapshot) in order,
    // so the book is real; throughput counted per line.
    let mut g = c.benchmark_group("binance_decode_sync_apply");
    g.throughput(Throughput::Elements(lines.len() as u64));
    let ctx = reg.lookup(Venue::BinanceSpot, b"BTCUSDT");
    g.bench_function("all_lines_btcusdt", |b| {
        b.iter_batched_ref(
            || (BinanceReplay::new(&reg, Venue::BinanceSpot), lines.clone()),
            |(replay, lines)| {
                for (ts, l) in lines.iter_mut() {
                    let _ = replay.feed(l, *ts, ctx, &mut Nop);
                }
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// Times every depth message individually (Instant around one decode, 20 passes) and prints
/// the per-message p50/p90/p99 for both decoders: the issue's target is a median per message.
fn per_message_percentiles(reg: &Registry, depth: &[&(i64, Vec<u8>)]) {
    use std::time::Instant;
    let btc = reg.get(reg.lookup(Venue::BinanceSpot, b"BTCUSDT").expect("BTCUSDT"));
    let (px, qty) = (btc.price, btc.qty);
    let mut fast = BinanceDecoder::new(reg, Venue::BinanceSpot, DecoderConfig::default());
    let mut simd = BinanceDecoder::new(
        reg,
        Venue::BinanceSpot,
        DecoderConfig { fast_depth: false, ..Default::default() },
    );
    let mut scratch = Vec::with_capacity(1 << 16);
    let mut out: Vec<(Px, Qty)> = Vec::with_capacity(4096);
    let mut times: [Vec<u64>; 3] = std::array::from_fn(|_| Vec::with_capacity(depth.len() * 20));
    for _ in 0..20 {
        for (ts, line) in depth {
            for (k, dec) in [&mut fast, &mut simd].into_iter().enumerate() {
                scratch.clear();
                scratch.extend_from_slice(line);
                let t = Instant::now();
                let ok = dec.decode(&mut scratch, *ts, None).is_ok();
                times[k].push(t.elapsed().as_nanos() as u64);
                std::hint::black_box((ok, dec.levels().len()));
            }
            let t = Instant::now();
            if let Ok(w) = serde_json::from_slice::<Wrapper<'_>>(line) {
                out.clear();
                for [p, q] in w.data.b.iter().chain(w.data.a.iter()) {
                    if let (Ok(p), Ok(q)) =
                        (px.parse_units(p.as_bytes()), qty.parse_units(q.as_bytes()))
                    {
                        out.push((Px(p), Qty(q)));
                    }
                }
            }
            times[2].push(t.elapsed().as_nanos() as u64);
            std::hint::black_box(out.len());
        }
    }
    let mut medians = [0u64; 3];
    for (k, name) in ["crpbot_decoder", "simd_json_only", "serde_json"].into_iter().enumerate() {
        let v = &mut times[k];
        v.sort_unstable();
        let p = |q: f64| v[((v.len() - 1) as f64 * q) as usize];
        medians[k] = p(0.5);
        eprintln!(
            "per-message {name:15} (frame copy included): p50 {} ns, p90 {} ns, p99 {} ns",
            p(0.5),
            p(0.9),
            p(0.99)
        );
    }
    eprintln!(
        "per-message median ratios: simd_json_only / crpbot_decoder {:.2}, serde_json / crpbot_decoder {:.2}, serde_json / simd_json_only {:.2}",
        medians[1] as f64 / medians[0] as f64,
        medians[2] as f64 / medians[0] as f64,
        medians[2] as f64 / medians[1] as f64
    );
}

criterion_group! {
    name = decode;
    config = Criterion::default().sample_size(20);
    targets = benches
}
criterion_main!(decode);
