//! Verdicts and their stable reason codes.

use crpbot_core::ClientOrderId;

/// Why an intent was accepted or rejected: a stable numeric code fit to be journaled.
///
/// Codes are grouped by hundreds: `0` accepted, `1xx` malformed intent (fail closed), `2xx`
/// market data or account state unusable (fail closed), `3xx` halted, `4xx` a limit, `5xx`
/// duplicates and order state. A code, once published, never changes meaning.
///
/// # Examples
/// ```
/// use crpbot_risk::VerdictCode;
/// assert_eq!(VerdictCode::StaleBook as u16, 201);
/// assert_eq!(VerdictCode::StaleBook.name(), "stale_book");
/// assert_eq!(VerdictCode::from_u16(201), Some(VerdictCode::StaleBook));
/// ```
#[repr(u16)]
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VerdictCode {
    /// Passed every check.
    Accepted = 0,
    /// `ts_ns` is zero or negative.
    InvalidTimestamp = 100,
    /// `qty` is zero.
    ZeroQty = 101,
    /// `qty` is negative.
    NegativeQty = 102,
    /// A limit order with price zero.
    ZeroPrice = 103,
    /// A negative limit price or price cap.
    NegativePrice = 104,
    /// A negative stop or take-profit price.
    NegativeStop = 105,
    /// The instrument is not configured.
    UnknownInstrument = 106,
    /// The strategy is not configured.
    UnknownStrategy = 107,
    /// The stop is on the wrong side of the entry price.
    InvalidStop = 108,
    /// A value overflowed while computing a notional.
    Overflow = 109,
    /// The book has no bid or no ask (no mid), or a non-positive touch price.
    NoMid = 200,
    /// The book is older than the staleness threshold (or its timestamp is missing).
    StaleBook = 201,
    /// The book is not synchronised with the venue.
    BookNotSynced = 202,
    /// The book is crossed or locked.
    CrossedBook = 203,
    /// Equity is zero or negative.
    NonPositiveEquity = 204,
    /// Halted by an operator kill (API, file flag or signal).
    HaltedKill = 300,
    /// Halted by the daily loss limit.
    HaltedDailyLoss = 301,
    /// Halted by the total loss limit.
    HaltedTotalLoss = 302,
    /// Halted by a feed failure reported by the caller.
    HaltedFeed = 303,
    /// Worst-case loss to the stop plus fees exceeds the per-trade risk limit.
    TradeRisk = 400,
    /// `|position + worst-case working qty|` would exceed the position notional limit.
    PositionNotional = 401,
    /// The strategy already has its maximum number of open positions.
    OpenPositions = 402,
    /// Order size above the maximum quantity.
    OrderQty = 403,
    /// Order notional above the maximum.
    OrderNotional = 404,
    /// Price outside the collar around the mid.
    PriceCollar = 405,
    /// The order-rate token bucket is empty.
    RateLimited = 406,
    /// A same-side position is open in a correlated instrument.
    Correlation = 407,
    /// Worst-case loss exceeds the room left above the daily or total loss floor.
    LossRoom = 408,
    /// The working-order table is full.
    WorkingOrders = 409,
    /// The client order id was already used.
    DuplicateClientId = 500,
    /// The same strategy/instrument/side/qty/price within the duplicate window.
    DuplicateIntent = 501,
    /// Modify or cancel of an order that is not working.
    UnknownOrder = 502,
    /// A modify that changes the instrument, strategy or side of the order.
    ModifyMismatch = 503,
    /// A reduce-only order that would not reduce the position.
    NotReducing = 504,
}

impl VerdictCode {
    /// Every code, for tables and tests.
    pub const ALL: [VerdictCode; 35] = {
        use VerdictCode::*;
        [
            Accepted,
            InvalidTimestamp,
            ZeroQty,
            NegativeQty,
            ZeroPrice,
            NegativePrice,
            NegativeStop,
            UnknownInstrument,
            UnknownStrategy,
            InvalidStop,
            Overflow,
            NoMid,
            StaleBook,
            BookNotSynced,
            CrossedBook,
            NonPositiveEquity,
            HaltedKill,
            HaltedDailyLoss,
            HaltedTotalLoss,
            HaltedFeed,
            TradeRisk,
            PositionNotional,
            OpenPositions,
            OrderQty,
            OrderNotional,
            PriceCollar,
            RateLimited,
            Correlation,
            LossRoom,
            WorkingOrders,
            DuplicateClientId,
            DuplicateIntent,
            UnknownOrder,
            ModifyMismatch,
            NotReducing,
        ]
    };

    /// The stable snake-case name.
    pub const fn name(self) -> &'static str {
        use VerdictCode::*;
        match self {
            Accepted => "accepted",
            InvalidTimestamp => "invalid_timestamp",
            ZeroQty => "zero_qty",
            NegativeQty => "negative_qty",
            ZeroPrice => "zero_price",
            NegativePrice => "negative_price",
            NegativeStop => "negative_stop",
            UnknownInstrument => "unknown_instrument",
            UnknownStrategy => "unknown_strategy",
            InvalidStop => "invalid_stop",
            Overflow => "overflow",
            NoMid => "no_mid",
            StaleBook => "stale_book",
            BookNotSynced => "book_not_synced",
            CrossedBook => "crossed_book",
            NonPositiveEquity => "non_positive_equity",
            HaltedKill => "halted_kill",
            HaltedDailyLoss => "halted_daily_loss",
            HaltedTotalLoss => "halted_total_loss",
            HaltedFeed => "halted_feed",
            TradeRisk => "trade_risk",
            PositionNotional => "position_notional",
            OpenPositions => "open_positions",
            OrderQty => "order_qty",
            OrderNotional => "order_notional",
            PriceCollar => "price_collar",
            RateLimited => "rate_limited",
            Correlation => "correlation",
            LossRoom => "loss_room",
            WorkingOrders => "working_orders",
            DuplicateClientId => "duplicate_client_id",
            DuplicateIntent => "duplicate_intent",
            UnknownOrder => "unknown_order",
            ModifyMismatch => "modify_mismatch",
            NotReducing => "not_reducing",
        }
    }

    /// The code for a journaled number.
    pub fn from_u16(v: u16) -> Option<VerdictCode> {
        Self::ALL.into_iter().find(|c| *c as u16 == v)
    }
}

/// Why the breaker halted.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HaltCause {
    /// An operator kill (API, file flag, signal).
    Kill = 1,
    /// Equity fell below the daily floor.
    DailyLoss = 2,
    /// Equity fell below the total floor.
    TotalLoss = 3,
    /// The caller reported a feed failure (stale or lost book).
    Feed = 4,
}

impl HaltCause {
    /// The verdict code orders are rejected with while halted for this cause.
    pub const fn code(self) -> VerdictCode {
        match self {
            HaltCause::Kill => VerdictCode::HaltedKill,
            HaltCause::DailyLoss => VerdictCode::HaltedDailyLoss,
            HaltCause::TotalLoss => VerdictCode::HaltedTotalLoss,
            HaltCause::Feed => VerdictCode::HaltedFeed,
        }
    }
}

/// The breaker's answer for one intent: `Copy`, fixed-size, fit to be journaled.
///
/// `observed` and `limit` carry the numbers behind a limit rejection (money in 10⁻⁸ units,
/// sizes in lots, counts, ...; zero when not meaningful).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The intent's client order id.
    pub client_id: ClientOrderId,
    /// The value that was checked.
    pub observed: i64,
    /// The limit it was checked against.
    pub limit: i64,
    /// Accepted or why not.
    pub code: VerdictCode,
}

impl Verdict {
    /// True when the intent may go to the venue.
    #[inline]
    pub const fn is_accepted(&self) -> bool {
        matches!(self.code, VerdictCode::Accepted)
    }

    #[inline]
    pub(crate) const fn new(client_id: ClientOrderId, code: VerdictCode) -> Verdict {
        Verdict { client_id, observed: 0, limit: 0, code }
    }

    #[inline]
    pub(crate) const fn limit(
        client_id: ClientOrderId,
        code: VerdictCode,
        observed: i64,
        limit: i64,
    ) -> Verdict {
        Verdict { client_id, observed, limit, code }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for c in &VerdictCode::ALL {
            assert!(seen.insert(*c as u16), "{c:?} duplicated");
            assert_eq!(VerdictCode::from_u16(*c as u16), Some(*c));
            assert!(!c.name().is_empty());
        }
        assert_eq!(VerdictCode::from_u16(999), None);
    }
}
