//! A quick tour of the harness: a short fixed-rate run of the real BTCUSDT depth frames
//! through the decoder and a book on this thread (decode and book stamps only — the full
//! pipeline is `crpbot bench`'s), then the three comparisons, printed as tables and optionally
//! written as JSON.
//!
//! ```sh
//! CRPBOT_DATA_DIR=../shared/data \
//!     cargo run --release -p crpbot-benches --example quick_compare [-- out.json]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use crpbot_benches::compare;
use crpbot_benches::harness::{
    BenchReport, LatencyRecorder, MachineInfo, PaceWait, Pacer, RunResult, Stamps,
    measure_now_ns_cost, now_ns,
};
use crpbot_book::{Book, BookConfig};
use crpbot_core::{Registry, Venue};
use crpbot_feeds::binance::{BinanceDecoder, BinanceMsg, DecoderConfig};
use crpbot_feeds::recording::Recording;

const RATE: u64 = 10_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let json_out = std::env::args().nth(1).map(PathBuf::from);
    let dir = std::env::var_os("CRPBOT_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data"))
    });
    let mut report = BenchReport::new(std::env::args().collect::<Vec<_>>().join(" "));
    let inputs = compare::recordings(&dir, "btcusdt");
    if inputs.is_empty() {
        println!("skipping: no recordings under {} (set CRPBOT_DATA_DIR)", dir.display());
        return Ok(());
    }
    let reg = Registry::with_defaults();
    let clock_ns = measure_now_ns_cost(1_000_000);

    // Untimed: every line of the first day.
    let mut lines = Vec::new();
    let mut rec = Recording::open(&inputs[0])?;
    while let Some(l) = rec.next() {
        if let Ok(l) = l {
            lines.push((l.ts_local_ns, l.payload.to_vec()));
        }
    }
    let mut dec = BinanceDecoder::new(&reg, Venue::BinanceSpot, DecoderConfig::default());
    let mut book = Book::new(BookConfig::default());
    let mut recorder = LatencyRecorder::new()?;
    let mut pacer = Pacer::new(RATE, PaceWait::Spin)?;
    recorder = recorder.with_expected_interval(pacer.interval_ns());
    let mut scratch = Vec::with_capacity(1 << 16);
    let (mut events, t0) = (0u64, Instant::now());
    let btc = reg.lookup(Venue::BinanceSpot, b"BTCUSDT");
    for (ts, line) in &lines {
        pacer.wait_next();
        let mut s = Stamps { ingress: now_ns(), ..Stamps::default() };
        scratch.clear();
        scratch.extend_from_slice(line);
        let msg = dec.decode(&mut scratch, *ts, btc);
        s.decoded = now_ns();
        if let Ok(BinanceMsg::Depth(_) | BinanceMsg::Snapshot(_)) = msg {
            for u in dec.levels() {
                let _ = book.apply(u);
            }
            events += dec.levels().len() as u64;
            s.booked = now_ns();
        } else {
            events += u64::from(msg.is_ok());
        }
        recorder.record(&s);
    }
    let elapsed_s = t0.elapsed().as_secs_f64();
    let mut notes = vec![
        format!("now_ns() costs {clock_ns:.1} ns per call here (mean of 1,000,000)"),
        "decode + book apply on the calling thread, no sync rules (every depth level applied)"
            .to_owned(),
    ];
    notes.extend(pacer.behind_note());
    notes.push(format!("load average at end: {:?}", MachineInfo::load_now()));
    report.runs.push(RunResult {
        topology: "fused".into(),
        wait: "spin".into(),
        input: inputs[0].display().to_string(),
        rate: Some(RATE),
        messages: lines.len() as u64,
        events,
        elapsed_s,
        throughput_msgs_per_s: lines.len() as f64 / elapsed_s,
        stages: recorder.summary(),
        notes,
    });

    let t = Instant::now();
    report.comparisons.push(compare::book_vs_btreemap(&inputs, &reg, compare::SUGGESTED_BUDGET)?);
    report.comparisons.push(compare::hop(compare::SUGGESTED_HOP_MESSAGES, true)?);
    report.comparisons.push(compare::decode(&inputs, &reg, compare::SUGGESTED_BUDGET)?);
    let compare_s = t.elapsed().as_secs_f64();

    report.print_table(&mut std::io::stdout().lock())?;
    println!("\ncomparisons took {compare_s:.1} s; load average now {:?}", MachineInfo::load_now());
    if let Some(path) = json_out {
        std::fs::write(&path, report.to_json_pretty()?)?;
        println!("JSON written to {}", path.display());
    }
    Ok(())
}
