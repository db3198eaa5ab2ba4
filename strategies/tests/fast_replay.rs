//! Real data: the four fast strategies over the Binance BTCUSDT + ETHUSDT recordings (both
//! days, merged by receive time), with immediate paper fills. Prints the intents per strategy
//! and reason, and checks the run is deterministic.
#![allow(clippy::unwrap_used)]

mod fast_common;

use crpbot_core::{Registry, StrategyId};
use crpbot_strategies::fast::{FastConfig, FastLane};
use fast_common::{LaneSink, data_dir, replay_merged};

fn run(dir: &std::path::Path) -> (String, u64, u64, u64) {
    let reg = Registry::with_defaults();
    let lane = FastLane::new(&FastConfig::default(), &reg, StrategyId(1)).unwrap();
    let mut sink = LaneSink::new(lane);
    let msgs = replay_merged(dir, &reg, &mut sink);
    let mut report = sink.report();
    for s in sink.lane.strategies() {
        let st = s.stats();
        report.push_str(&format!(
            "{} stats entries={} exits={} fills={} zero_size={} timeouts={} cooled={} full={}\n",
            s.name(),
            st.entries,
            st.exits,
            st.fills,
            st.zero_size,
            st.pending_timeouts,
            st.cooled_down,
            st.buffer_full
        ));
    }
    (report, msgs, sink.books, sink.trades)
}

#[test]
fn four_strategies_over_the_btc_eth_recording_are_deterministic() {
    let Some(dir) = data_dir() else { return };
    let (a, msgs, books, trades) = run(&dir);
    println!("messages={msgs} books={books} trades={trades}\n{a}");
    // The recording's trade count (README: 9,757 + 10,147 BTC, 6,106 + 8,409 ETH).
    assert_eq!(trades, 9_757 + 10_147 + 6_106 + 8_409);
    assert!(books > 12_000, "{books}");
    let (b, ..) = run(&dir);
    assert_eq!(a, b, "two runs differ");
    // Every strategy line is accounted for and nothing was lost for lack of room.
    assert!(a.contains("full=0\n"));
    assert!(!a.contains(" ? "), "unknown reason code:\n{a}");
}
