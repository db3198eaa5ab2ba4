//! F8 and malformed input against the local mock: bad JSON, unknown streams, unknown fields,
//! 10,000-deep nesting, a message over the cap in fragments, and a 100 MiB frame. Every bad
//! frame is counted and rejected, nothing panics, the session resyncs, and memory stays
//! bounded (this test runs alone in its binary so the process RSS is its own).
#![allow(clippy::unwrap_used)] // test code

mod mock;

use std::time::Duration;

use crpbot_core::{Registry, Venue};
use crpbot_feeds::session::{LiveBooks, spawn};
use mock::consumer::{Seen, assert_same_book, pump, stop_clean, test_config};
use mock::{Mock, MockConfig, script};

fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = s.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    pages * 4096
}

#[test]
fn malformed_deep_and_oversize_frames_are_counted_and_rejected() {
    let Some(script) = script() else { return };
    let depth = |extra: &str| {
        format!(
            r#"{{"stream":"btcusdt@depth@100ms","data":{{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":1,{extra}"b":[],"a":[]}}}}"#
        )
    };
    let inject = vec![
        "{not json".to_owned(),
        "".to_owned(),
        r#"{"stream":"btcusdt@kline_1m","data":{"e":"kline","E":1}}"#.to_owned(),
        r#"{"stream":"foobarusdt@trade","data":{"e":"trade","E":1,"s":"FOOBARUSDT","t":1,"p":"1","q":"1","T":1,"m":true}}"#.to_owned(),
        depth(r#""zz":"#).replace("\"zz\":", "\"zz\":,"), // invalid: missing value
        format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)),
        format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000)),
        r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"1.001","q":"1","T":1,"m":true}}"#.to_owned(),
    ];
    let n_bad = inject.len() as u64;
    // Unknown extra fields in a known message are accepted (Binance adds fields over time).
    let mut inject = inject;
    inject.push(
        r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":1,"p":"61000.00","q":"0.5","T":1,"m":true,"M":true,"newField":{"x":[1,2,3]}}}"#
            .to_owned(),
    );
    let huge: u64 = 100 << 20;
    let cfg = MockConfig {
        inject_after: 2_000,
        pace: Some(Duration::from_millis(2)),
        inject,
        fragmented_mib: Some(6),
        huge_frame: Some(huge),
        limit_frames: Some(6_000),
        ..Default::default()
    };
    let mock = Mock::start(script, cfg);
    let registry = Registry::with_defaults();
    let scfg = test_config(&mock, Venue::BinanceSpot);
    let cap = scfg.max_message_bytes as u64;
    let (handle, mut rx) = spawn(scfg, &registry, None).unwrap();
    let id = handle.instruments()[0];
    let mut books = LiveBooks::new(&registry, handle.resync_requester());
    let mut seen = Seen::default();
    // Baseline once the first book is live (start-up allocations done), before the injections.
    let ok = pump(&mut rx, &mut books, &mut seen, Duration::from_secs(40), |b, _| {
        b.books().get(id).is_some_and(|t| t.is_valid())
    });
    assert!(ok && mock.get(&mock.counters.frames_sent) < 2_000, "synced before the injections");
    let before = rss_bytes();
    let mut peak = before;
    let ok = pump(&mut rx, &mut books, &mut seen, Duration::from_secs(40), |b, _| {
        peak = peak.max(rss_bytes());
        let st = mock.state.lock().unwrap();
        st.done && b.books().get(id).is_some_and(|t| t.is_valid() && t.update_id >= st.last_u)
    });
    let stats = handle.stats();
    assert!(ok, "{stats:?}");
    let growth = peak.saturating_sub(before);
    println!(
        "malformed: {} frames rejected ({} bad injected), {} oversize connections closed, \
         {} MiB of the 100 MiB frame written before the client hung up, RSS growth {} KiB \
         (cap {} MiB)",
        stats.rejected,
        n_bad,
        stats.oversize,
        mock.get(&mock.counters.huge_bytes_written) >> 20,
        growth >> 10,
        cap >> 20
    );
    // The bad text frames, the fragmented message and the huge frame.
    assert_eq!(stats.rejected, n_bad + 2);
    assert_eq!(stats.oversize, 2);
    assert!(seen.trades > 0);
    assert!(handle.is_running(), "the session survived");
    assert!(stats.reconnects >= 2);
    assert!(mock.get(&mock.counters.huge_bytes_written) < huge, "the client read it all");
    assert!(growth < 2 * cap, "RSS grew by {growth} bytes");
    assert_same_book(books.books().get(id).unwrap(), &mock.book());
    stop_clean(handle, &mock);
}
