//! J1: kill -9 at random points. A child process (`crpbot-journal-crashtest`) appends records and
//! reports every acked seq over a pipe; it is SIGKILLed after U(0, 50 ms); the journal is then
//! reopened and checked. 200 runs here, 1,000 with `CRPBOT_FULL=1`.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::Rng;

fn expected_payload(seq: u64) -> Vec<u8> {
    let len = (seq % 64) as usize + 1;
    (0..len).map(|i| (seq as usize).wrapping_mul(131).wrapping_add(i) as u8).collect()
}

#[test]
fn j1_kill9_recovers_every_acked_record() {
    let runs = common::count(200, 1_000);
    let mut rng = common::rng(1);
    let root = tempfile::tempdir().unwrap();
    let mut total_acked = 0u64;
    let mut worst_recovery = Duration::ZERO;
    for run in 0..runs {
        let dir = root.path().join(format!("r{run}"));
        // Every 4th run reuses the previous directory: recovery after recovery.
        let dir = if run % 4 == 3 { root.path().join(format!("r{}", run - 1)) } else { dir };
        let before = if dir.exists() { common::read_all(&dir).0.len() as u64 } else { 0 };
        let mut child = Command::new(env!("CARGO_BIN_EXE_crpbot-journal-crashtest"))
            .arg(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.random_range(0..50_000)));
        child.kill().unwrap(); // SIGKILL
        let mut acked = Vec::new();
        child.stdout.take().unwrap().read_to_end(&mut acked).unwrap();
        child.wait().unwrap();
        let max_acked = acked
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .max()
            .unwrap_or(before);
        total_acked += (acked.len() / 8) as u64;
        if !dir.exists() {
            continue; // killed before it created anything
        }
        // Before recovery (torn tail in place) ...
        let check = crpbot_journal::verify_acked(&dir, max_acked).unwrap();
        assert!(check.is_ok(), "run {run}: before recovery: {check:?}");
        let t0 = Instant::now();
        let w = crpbot_journal::Journal::open(
            &dir,
            crpbot_journal::JournalConfig::with_segment_bytes(256 << 10),
        );
        let w = match w {
            Ok(w) => w,
            Err(e) => panic!("run {run}: reopen failed: {e}"),
        };
        worst_recovery = worst_recovery.max(t0.elapsed());
        let rep = w.recovery_report().clone();
        drop(w);
        assert!(rep.quarantined.is_empty(), "run {run}: {rep:?}");
        // ... and after.
        let check = crpbot_journal::verify_acked(&dir, max_acked).unwrap();
        assert!(check.is_ok(), "run {run}: after recovery: {check:?}");
        let (recs, errors) = common::read_all(&dir);
        assert_eq!(errors, 0, "run {run}: bad records");
        assert!(
            recs.len() as u64 >= max_acked,
            "run {run}: acked {max_acked}, recovered {}",
            recs.len()
        );
        for (i, r) in recs.iter().enumerate() {
            let seq = i as u64 + 1;
            assert_eq!(r.0, seq, "run {run}: gap or duplicate");
            assert_eq!(r.3, seq as i64);
            assert_eq!(r.4, expected_payload(seq), "run {run}: payload of {seq}");
        }
    }
    eprintln!("J1: {runs} runs, {total_acked} acked appends, worst recovery {worst_recovery:?}");
    assert!(total_acked > 0, "the child never acked anything");
}
