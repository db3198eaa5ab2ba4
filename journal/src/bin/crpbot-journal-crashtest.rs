//! Child process of the J1 kill -9 test: appends typed records to the journal in `argv[1]`
//! forever and writes each acked seq (u64 little-endian) to stdout after `append` returned.
//! The parent kills it with SIGKILL at a random moment, reopens the journal and checks it.
//!
//! Payload of record `seq`: `crashtest_payload(seq)` (deterministic, 1..=64 bytes).
#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use crpbot_journal::{Journal, JournalConfig, RecordType};

fn main() -> ExitCode {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: crpbot-journal-crashtest DIR");
        return ExitCode::from(2);
    };
    let mut w = match Journal::open(&dir, JournalConfig::with_segment_bytes(256 << 10)) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("open failed: {e}");
            return ExitCode::from(1);
        }
    };
    let mut out = std::io::stdout().lock();
    let mut buf = [0u8; 64];
    loop {
        let seq = w.next_seq();
        let len = (seq % 64) as usize + 1;
        for (i, b) in buf[..len].iter_mut().enumerate() {
            *b = (seq as usize).wrapping_mul(131).wrapping_add(i) as u8;
        }
        let t = [RecordType::MARKET_EVENT, RecordType::ORDER_INTENT, RecordType::FILL]
            [seq as usize % 3];
        match w.append(t, 1, seq as i64, &buf[..len]) {
            Ok(s) => {
                if out.write_all(&s.to_le_bytes()).and_then(|()| out.flush()).is_err() {
                    return ExitCode::from(3);
                }
            }
            Err(e) => {
                eprintln!("append failed: {e}");
                return ExitCode::from(1);
            }
        }
    }
}
