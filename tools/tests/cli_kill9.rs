//! RELIABILITY.md J1 on the real binary: `crpbot replay --venue sim --journal DIR` is killed
//! with SIGKILL while it journals, at a random point after it acknowledged a durable sequence
//! number; the journal is then read back. Every iteration: 0 corrupt records, every
//! acknowledged record recovered, sequence numbers contiguous from 1. A second open (as the
//! next run would) recovers the torn tail and appends after it.
//!
//! CI runs 200 iterations; `CRPBOT_FULL=1` runs 1,000.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use common::crpbot;
use crpbot_journal::Reader;

#[test]
fn kill9_of_the_binary_loses_no_acknowledged_record() {
    let iterations = if std::env::var_os("CRPBOT_FULL").is_some() { 1000 } else { 200 };
    let root = std::env::temp_dir().join(format!("crpbot-kill9-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    // A small deterministic generator for the kill delays (no clock in the schedule).
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let (mut total_acked, mut total_read, mut torn) = (0u64, 0u64, 0u32);
    for it in 0..iterations {
        let dir = root.join(format!("j{it}"));
        let mut child = crpbot()
            .args(["replay", "--venue", "sim", "--duration", "100000", "--strategies", "ofi,scalp"])
            .args(["--ack-every", "257", "--journal"])
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Wait for the first acknowledgement, then kill after 0–20 ms more, reading acks meanwhile.
        let first = lines.next().expect("no ack line").unwrap();
        let mut acked: u64 = first.strip_prefix("ack ").unwrap().parse().unwrap();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let delay = Duration::from_micros(x % 20_000);
        std::thread::sleep(delay);
        // Child::kill sends SIGKILL on Unix.
        child.kill().unwrap();
        for line in lines.map_while(Result::ok) {
            if let Some(s) = line.strip_prefix("ack ") {
                acked = acked.max(s.parse().unwrap());
            }
        }
        child.wait().unwrap();
        let mut reader = Reader::open(&dir).unwrap();
        let mut expect = 1u64;
        while let Some(rec) = reader.next_record() {
            let rec = rec.unwrap_or_else(|e| panic!("iteration {it}: corrupt record: {e}"));
            assert_eq!(rec.seq, expect, "iteration {it}: sequence gap");
            expect += 1;
        }
        let read = expect - 1;
        // The journal crate's own check: 0 bad records, seqs exactly 1..N, N ≥ last ack.
        let report = crpbot_journal::verify_acked(&dir, acked).unwrap();
        assert!(report.is_ok(), "iteration {it}: {report:?}");
        assert!(read >= acked, "iteration {it}: acked {acked} but recovered only {read}");
        if read > acked {
            torn += 1;
        }
        total_acked += acked;
        total_read += read;
        std::fs::remove_dir_all(&dir).ok();
    }
    println!(
        "kill -9 x{iterations}: {total_acked} acked records, {total_read} recovered, 0 corrupt, \
         0 gaps; {torn} runs recovered records beyond their last ack"
    );
    std::fs::remove_dir_all(&root).ok();
}
