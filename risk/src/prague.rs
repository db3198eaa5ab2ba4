//! Europe/Prague civil time (CET/CEST) from UTC timestamps, without a time-zone database.
//!
//! The EU rule: summer time (CEST, UTC+2) runs from the last Sunday of March 01:00 UTC to the
//! last Sunday of October 01:00 UTC; otherwise CET (UTC+1). FTMO's trading day starts at
//! Prague midnight.

const DAY_S: i64 = 86_400;
const NS: i64 = 1_000_000_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub(crate) const fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year of a day count since 1970-01-01.
const fn year_of_days(z: i64) -> i64 {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400;
    if m <= 2 { y + 1 } else { y }
}

/// Day count of the last Sunday of month `m` (March or October) of year `y`.
const fn last_sunday(y: i64, m: i64) -> i64 {
    let last = days_from_civil(y, m + 1, 1) - 1;
    // 1970-01-01 was a Thursday; with Sunday = 0 its weekday is 4.
    let weekday = (last + 4).rem_euclid(7);
    last - weekday
}

/// Seconds east of UTC in Prague at UTC second `t_s`: 7200 in summer time, else 3600.
pub(crate) const fn offset_s(t_s: i64) -> i64 {
    let y = year_of_days(t_s.div_euclid(DAY_S));
    let start = last_sunday(y, 3) * DAY_S + 3600;
    let end = last_sunday(y, 10) * DAY_S + 3600;
    if t_s >= start && t_s < end { 7200 } else { 3600 }
}

/// The Prague offset from UTC at `ts_ns`, in nanoseconds (1 h in winter, 2 h in summer).
///
/// # Examples
/// ```
/// use crpbot_risk::prague_offset_ns;
/// // 2024-03-31 00:59:59 UTC is still CET; 01:00:00 UTC is CEST.
/// let t = 1_711_846_800 * 1_000_000_000;
/// assert_eq!(prague_offset_ns(t - 1_000_000_000), 3_600_000_000_000);
/// assert_eq!(prague_offset_ns(t), 7_200_000_000_000);
/// ```
pub const fn prague_offset_ns(ts_ns: i64) -> i64 {
    offset_s(ts_ns.div_euclid(NS)) * NS
}

/// The Prague calendar day of `ts_ns`, as days since 1970-01-01 (local).
pub const fn prague_day(ts_ns: i64) -> i64 {
    let t_s = ts_ns.div_euclid(NS);
    (t_s + offset_s(t_s)).div_euclid(DAY_S)
}

/// The UTC instant (ns) of the first Prague midnight strictly after `ts_ns`.
///
/// # Examples
/// ```
/// use crpbot_risk::next_prague_midnight_ns;
/// // 2024-07-01 12:00 UTC → 2024-07-02 00:00 CEST = 2024-07-01 22:00 UTC.
/// let noon = 1_719_835_200 * 1_000_000_000;
/// assert_eq!(next_prague_midnight_ns(noon), (1_719_835_200 + 10 * 3600) * 1_000_000_000);
/// ```
pub const fn next_prague_midnight_ns(ts_ns: i64) -> i64 {
    let local_mid_s = (prague_day(ts_ns) + 1) * DAY_S;
    // Transitions happen at 01:00 UTC, never between 21:00 and 23:00 UTC, so the offset two
    // hours before the local midnight (read as UTC) is the offset at that midnight.
    let off = offset_s(local_mid_s - 7200);
    (local_mid_s - off) * NS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i64, m: i64, d: i64, h: i64) -> i64 {
        (days_from_civil(y, m, d) * DAY_S + h * 3600) * NS
    }

    #[test]
    fn civil_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for z in [-800_000, -1, 0, 59, 60, 10_000, 19_000, 30_000] {
            let y = year_of_days(z);
            assert!(days_from_civil(y, 1, 1) <= z && z < days_from_civil(y + 1, 1, 1));
        }
    }

    #[test]
    fn eu_transitions() {
        // Known last Sundays: 2024-03-31, 2024-10-27, 2025-03-30, 2025-10-26, 2026-03-29.
        assert_eq!(last_sunday(2024, 3), days_from_civil(2024, 3, 31));
        assert_eq!(last_sunday(2024, 10), days_from_civil(2024, 10, 27));
        assert_eq!(last_sunday(2025, 3), days_from_civil(2025, 3, 30));
        assert_eq!(last_sunday(2025, 10), days_from_civil(2025, 10, 26));
        assert_eq!(last_sunday(2026, 3), days_from_civil(2026, 3, 29));
        let h = 3600 * NS;
        assert_eq!(prague_offset_ns(utc(2024, 10, 27, 1) - 1), 2 * h);
        assert_eq!(prague_offset_ns(utc(2024, 10, 27, 1)), h);
        assert_eq!(prague_offset_ns(utc(2024, 1, 15, 12)), h);
        assert_eq!(prague_offset_ns(utc(2024, 7, 15, 12)), 2 * h);
    }

    #[test]
    fn midnights_across_dst() {
        // Spring: Prague midnight of 2024-03-31 is 23:00 UTC the day before (CET), the next
        // one 22:00 UTC on 03-31 (CEST): a 23-hour day.
        let m1 = next_prague_midnight_ns(utc(2024, 3, 30, 12));
        assert_eq!(m1, utc(2024, 3, 30, 23));
        let m2 = next_prague_midnight_ns(m1);
        assert_eq!(m2, utc(2024, 3, 31, 22));
        assert_eq!(m2 - m1, 23 * 3600 * NS);
        // Autumn: a 25-hour day.
        let a1 = next_prague_midnight_ns(utc(2024, 10, 26, 12));
        assert_eq!(a1, utc(2024, 10, 26, 22));
        let a2 = next_prague_midnight_ns(a1);
        assert_eq!(a2, utc(2024, 10, 27, 23));
        assert_eq!(prague_day(a1 - 1) + 1, prague_day(a1));
        assert_eq!(prague_day(a2 - 1) + 1, prague_day(a2));
        // Strictly after: at a midnight, the next one is a day later.
        assert!(next_prague_midnight_ns(a1) > a1);
    }
}
