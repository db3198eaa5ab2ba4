//! Per-message stage timestamps and the stage intervals derived from them.

/// When one message reached each hot-lane stage, in [`now_ns`](super::now_ns) nanoseconds.
///
/// `0` means the stage was not reached for this message (a trade that never touches risk, a
/// message dropped by the book). `Copy`, `#[repr(C)]`, 48 bytes: it travels with the message
/// through the rings of a split topology.
///
/// # Examples
/// ```
/// use crpbot_benches::harness::{StageId, Stamps};
/// let s = Stamps { ingress: 100, decoded: 350, booked: 400, ..Stamps::default() };
/// assert_eq!(StageId::Decode.interval(&s), Some(250));
/// assert_eq!(StageId::Risk.interval(&s), None); // never reached
/// assert_eq!(StageId::EndToEnd.interval(&s), Some(300));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Stamps {
    /// The frame was taken off the wire (or out of the recording / simulator).
    pub ingress: u64,
    /// The decoder produced its normalized events.
    pub decoded: u64,
    /// The book applied them.
    pub booked: u64,
    /// The signals / strategies ran.
    pub signalled: u64,
    /// Risk returned its verdict.
    pub verdict: u64,
    /// The journal appended the record.
    pub journaled: u64,
}

/// A measured interval between two [`Stamps`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StageId {
    /// `decoded − ingress`.
    Decode,
    /// `booked − decoded`.
    Book,
    /// `signalled − booked`.
    Signals,
    /// `verdict − signalled`.
    Risk,
    /// `journaled −` the latest earlier stamp that is set (in pipeline order).
    Journal,
    /// `verdict − ingress`.
    TickToDecision,
    /// The largest stamp `− ingress`.
    EndToEnd,
}

/// Why a stage interval could not be computed although both stamps are set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Interval {
    /// One of the stamps is 0: the stage was not reached.
    NotReached,
    /// The later stamp is earlier than the earlier one (a stamping bug; counted, not recorded).
    Negative,
    /// The interval in nanoseconds.
    Ns(u64),
}

impl StageId {
    /// Every stage, in report order.
    pub const ALL: [StageId; 7] = [
        StageId::Decode,
        StageId::Book,
        StageId::Signals,
        StageId::Risk,
        StageId::Journal,
        StageId::TickToDecision,
        StageId::EndToEnd,
    ];

    /// The stable name used in reports and JSON: `decode`, `book`, `signals`, `risk`,
    /// `journal`, `tick_to_decision`, `end_to_end`.
    pub const fn name(self) -> &'static str {
        match self {
            StageId::Decode => "decode",
            StageId::Book => "book",
            StageId::Signals => "signals",
            StageId::Risk => "risk",
            StageId::Journal => "journal",
            StageId::TickToDecision => "tick_to_decision",
            StageId::EndToEnd => "end_to_end",
        }
    }

    /// The stage with this [`name`](StageId::name).
    pub fn from_name(name: &str) -> Option<StageId> {
        StageId::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Position in [`StageId::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// True for the intervals measured from ingress (corrected for coordinated omission in
    /// fixed-rate runs).
    pub const fn from_ingress(self) -> bool {
        matches!(self, StageId::TickToDecision | StageId::EndToEnd)
    }

    /// The interval in nanoseconds, or `None` if a stamp it needs is 0 or the stamps run
    /// backwards.
    pub fn interval(self, s: &Stamps) -> Option<u64> {
        match self.measure(s) {
            Interval::Ns(ns) => Some(ns),
            Interval::NotReached | Interval::Negative => None,
        }
    }

    #[inline]
    pub(crate) fn measure(self, s: &Stamps) -> Interval {
        let (from, to) = match self {
            StageId::Decode => (s.ingress, s.decoded),
            StageId::Book => (s.decoded, s.booked),
            StageId::Signals => (s.booked, s.signalled),
            StageId::Risk => (s.signalled, s.verdict),
            StageId::Journal => {
                let earlier = [s.verdict, s.signalled, s.booked, s.decoded, s.ingress];
                let from = earlier.into_iter().find(|&t| t != 0).unwrap_or(0);
                (from, s.journaled)
            }
            StageId::TickToDecision => (s.ingress, s.verdict),
            StageId::EndToEnd => {
                let last = s.decoded.max(s.booked).max(s.signalled).max(s.verdict).max(s.journaled);
                (s.ingress, last)
            }
        };
        if from == 0 || to == 0 {
            Interval::NotReached
        } else if to < from {
            Interval::Negative
        } else {
            Interval::Ns(to - from)
        }
    }
}

impl std::fmt::Display for StageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_follow_the_definitions() {
        let s = Stamps {
            ingress: 1_000,
            decoded: 1_500,
            booked: 1_600,
            signalled: 2_000,
            verdict: 2_100,
            journaled: 2_400,
        };
        let got: Vec<_> = StageId::ALL.iter().map(|st| st.interval(&s)).collect();
        assert_eq!(
            got,
            [Some(500), Some(100), Some(400), Some(100), Some(300), Some(1_100), Some(1_400)]
        );
    }

    #[test]
    fn journal_measures_from_the_latest_stamp_reached() {
        // A trade that only reaches the book, then is journaled.
        let s = Stamps { ingress: 10, decoded: 20, booked: 35, journaled: 50, ..Stamps::default() };
        assert_eq!(StageId::Journal.interval(&s), Some(15));
        assert_eq!(StageId::Signals.interval(&s), None);
        assert_eq!(StageId::TickToDecision.interval(&s), None);
        assert_eq!(StageId::EndToEnd.interval(&s), Some(40));
    }

    #[test]
    fn missing_ingress_or_backwards_stamps_are_not_intervals() {
        let s = Stamps { decoded: 20, booked: 35, ..Stamps::default() };
        assert_eq!(StageId::EndToEnd.measure(&s), Interval::NotReached);
        assert_eq!(StageId::Book.interval(&s), Some(15));
        let back = Stamps { ingress: 50, decoded: 40, ..Stamps::default() };
        assert_eq!(StageId::Decode.measure(&back), Interval::Negative);
    }

    #[test]
    fn names_round_trip() {
        for s in StageId::ALL {
            assert_eq!(StageId::from_name(s.name()), Some(s));
            assert_eq!(StageId::ALL[s.index()], s);
        }
        assert_eq!(StageId::from_name("nope"), None);
        assert_eq!(std::mem::size_of::<Stamps>(), 48);
    }
}
