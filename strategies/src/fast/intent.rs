//! The strategy interface: a fixed-capacity intent buffer, the [`Strategy`] trait and the
//! per-strategy telemetry record.

use crpbot_book::Book;
use crpbot_core::{
    ClientOrderId, Fill, InstrumentId, IntentAction, OrderIntent, OrderType, Px, Qty, Side,
    StrategyId, Trade,
};

use super::signals::Signals;

/// Intents one event can produce at most (a pair trade emits two; exits of every leg fit).
pub const INTENT_CAPACITY: usize = 16;

/// A blank intent (all zero, `Buy`, `Market`, `New`).
pub const EMPTY_INTENT: OrderIntent = OrderIntent {
    ts_ns: 0,
    client_id: ClientOrderId(0),
    px: Px(0),
    qty: Qty(0),
    stop_px: Px(0),
    take_profit_px: Px(0),
    instrument: InstrumentId(0),
    strategy: StrategyId(0),
    reason: 0,
    side: Side::Buy,
    order_type: OrderType::Market,
    action: IntentAction::New,
    reduce_only: false,
    _pad: [0; 6],
};

/// A fixed-capacity buffer of intents, filled by strategies and drained by the caller after
/// each event. Never allocates; a push beyond [`INTENT_CAPACITY`] is refused and counted.
///
/// # Examples
/// ```
/// use crpbot_strategies::fast::{IntentBuf, EMPTY_INTENT};
/// let mut buf = IntentBuf::new();
/// assert!(buf.push(EMPTY_INTENT));
/// assert_eq!(buf.as_slice().len(), 1);
/// buf.clear();
/// assert!(buf.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct IntentBuf {
    items: [OrderIntent; INTENT_CAPACITY],
    len: usize,
    overflow: u64,
}

impl Default for IntentBuf {
    fn default() -> IntentBuf {
        IntentBuf::new()
    }
}

impl IntentBuf {
    /// An empty buffer.
    pub const fn new() -> IntentBuf {
        IntentBuf { items: [EMPTY_INTENT; INTENT_CAPACITY], len: 0, overflow: 0 }
    }

    /// Appends an intent; `false` (and counted) when full.
    #[inline]
    pub fn push(&mut self, intent: OrderIntent) -> bool {
        match self.items.get_mut(self.len) {
            Some(slot) => {
                *slot = intent;
                self.len += 1;
                true
            }
            None => {
                self.overflow += 1;
                false
            }
        }
    }

    /// Room left.
    #[inline]
    pub fn remaining(&self) -> usize {
        INTENT_CAPACITY - self.len
    }

    /// The intents, in emission order.
    #[inline]
    pub fn as_slice(&self) -> &[OrderIntent] {
        &self.items[..self.len]
    }

    /// Number of intents.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Empties the buffer (the overflow count is kept).
    #[inline]
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Intents refused because the buffer was full.
    pub fn overflow(&self) -> u64 {
        self.overflow
    }
}

/// A fast-lane strategy.
///
/// The caller folds each event into the [`super::SignalBank`] first and passes the
/// instrument's fresh [`Signals`] along; the strategy appends intents to `out` (it never
/// clears it). Fills of the strategy's orders come back through [`Strategy::on_fill`], which is
/// how it knows its position and emits exits. Strategies never allocate, lock, log or read a
/// clock after construction: time is the event's timestamp.
pub trait Strategy {
    /// A published, valid book of `id` at `ts_ns` (venue time), with its signals.
    fn on_book(
        &mut self,
        id: InstrumentId,
        book: &Book,
        sig: &Signals,
        ts_ns: i64,
        out: &mut IntentBuf,
    );
    /// A public trade, with its instrument's signals.
    fn on_trade(&mut self, t: &Trade, sig: &Signals, out: &mut IntentBuf);
    /// A fill of one of this strategy's orders (fills of other strategies are ignored).
    fn on_fill(&mut self, f: &Fill);
    /// Short name (`"ofi"`, `"scalp"`, `"meanrev"`, `"statarb"`).
    fn name(&self) -> &'static str;
    /// The id stamped on its intents.
    fn id(&self) -> StrategyId;
    /// Counters.
    fn stats(&self) -> StrategyStats;
    /// Signed position in lots of `id` as known from fills (long > 0; 0 if not traded).
    fn position(&self, id: InstrumentId) -> i64;
}

/// Counters of one strategy (fixed-size telemetry, formatted off the hot path).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StrategyStats {
    /// Entry intents emitted.
    pub entries: u64,
    /// Exit intents emitted.
    pub exits: u64,
    /// Fills received.
    pub fills: u64,
    /// Entries skipped because the notional came to less than one lot.
    pub zero_size: u64,
    /// Pending orders given up after the pending timeout (no fill came back).
    pub pending_timeouts: u64,
    /// Signals ignored because of the cooldown.
    pub cooled_down: u64,
    /// Intents lost because the buffer was full.
    pub buffer_full: u64,
}
