//! Decodes every Binance depth message of a recording `passes` times, for profilers:
//! `valgrind --tool=callgrind target/release/examples/decode_profile FILE [passes]` counts
//! instructions per message independently of machine load.

use std::path::PathBuf;

use crpbot_core::{Registry, Venue};
use crpbot_feeds::binance::{BinanceDecoder, DecoderConfig};
use crpbot_feeds::recording::Recording;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next().map(PathBuf::from) else {
        eprintln!("usage: decode_profile FILE [passes]");
        std::process::exit(2);
    };
    let passes: usize = args.next().and_then(|p| p.parse().ok()).unwrap_or(1);
    let mut rec = Recording::open(&path).unwrap_or_else(|e| {
        eprintln!("decode_profile: {}: {e}", path.display());
        std::process::exit(1)
    });
    let mut depth = Vec::new();
    while let Some(Ok(l)) = rec.next() {
        if l.payload.windows(7).any(|w| w == b"@depth@") {
            depth.push((l.ts_local_ns, l.payload.to_vec()));
        }
    }
    let reg = Registry::with_defaults();
    let mut dec = BinanceDecoder::new(&reg, Venue::BinanceSpot, DecoderConfig::default());
    let mut scratch = Vec::with_capacity(1 << 16);
    let (mut ok, mut levels) = (0u64, 0u64);
    for _ in 0..passes {
        for (ts, line) in &depth {
            scratch.clear();
            scratch.extend_from_slice(line);
            if dec.decode(&mut scratch, *ts, None).is_ok() {
                ok += 1;
                levels += dec.levels().len() as u64;
            }
        }
    }
    println!("{} messages decoded, {levels} levels", ok);
}
