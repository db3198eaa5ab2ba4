//! An exact RFC 3339 timestamp parser: text to nanoseconds since the Unix epoch, with integer
//! arithmetic only (no float, no allocation, no calendar crate).
//!
//! Accepted: `YYYY-MM-DD(T|t| )HH:MM:SS[.fraction](Z|z|±HH:MM)`. A fraction may have any number
//! of digits; digits past the ninth are checked and dropped (truncation toward the past). A
//! leap second (`:60`) is accepted and lands on the next second's first nanosecond's position,
//! as POSIX time does.

/// Why a timestamp was refused.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Not of the RFC 3339 shape.
    #[error("malformed RFC 3339 timestamp")]
    Malformed,
    /// A field is out of its range (month 13, February 30, hour 24, ...).
    #[error("timestamp field out of range")]
    Range,
    /// The instant does not fit in an `i64` of nanoseconds (before 1677 or after 2262).
    #[error("timestamp outside the i64 nanosecond range")]
    Overflow,
}

#[inline]
fn digits(b: &[u8], at: usize, n: usize) -> Result<i64, TimeError> {
    let s = b.get(at..at + n).ok_or(TimeError::Malformed)?;
    let mut v = 0i64;
    for &c in s {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return Err(TimeError::Malformed);
        }
        v = v * 10 + i64::from(d);
    }
    Ok(v)
}

#[inline]
fn expect(b: &[u8], at: usize, c: u8) -> Result<(), TimeError> {
    if b.get(at) == Some(&c) { Ok(()) } else { Err(TimeError::Malformed) }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
#[inline]
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses an RFC 3339 timestamp into nanoseconds since the Unix epoch.
///
/// # Examples
/// ```
/// use crpbot_feeds::coinbase::parse_rfc3339_ns;
/// assert_eq!(parse_rfc3339_ns(b"1970-01-01T00:00:00Z"), Ok(0));
/// assert_eq!(
///     parse_rfc3339_ns(b"2026-08-09T21:05:48.228568804Z"),
///     Ok(1_786_309_548_228_568_804)
/// );
/// assert_eq!(parse_rfc3339_ns(b"2026-08-09T23:05:48.5+02:00"), Ok(1_786_309_548_500_000_000));
/// assert!(parse_rfc3339_ns(b"2026-02-30T00:00:00Z").is_err());
/// ```
pub fn parse_rfc3339_ns(b: &[u8]) -> Result<i64, TimeError> {
    let year = digits(b, 0, 4)?;
    expect(b, 4, b'-')?;
    let month = digits(b, 5, 2)?;
    expect(b, 7, b'-')?;
    let day = digits(b, 8, 2)?;
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return Err(TimeError::Malformed);
    }
    let hour = digits(b, 11, 2)?;
    expect(b, 13, b':')?;
    let minute = digits(b, 14, 2)?;
    expect(b, 16, b':')?;
    let second = digits(b, 17, 2)?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(TimeError::Range);
    }
    let mut at = 19;
    let mut nanos = 0i64;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while let Some(&c) = b.get(at) {
            if !c.is_ascii_digit() {
                break;
            }
            if at - start < 9 {
                nanos = nanos * 10 + i64::from(c - b'0');
            }
            at += 1;
        }
        let n = at - start;
        if n == 0 {
            return Err(TimeError::Malformed);
        }
        for _ in n..9 {
            nanos *= 10;
        }
    }
    let offset_s = match b.get(at) {
        Some(b'Z' | b'z') => {
            at += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(b, at + 1, 2)?;
            expect(b, at + 3, b':')?;
            let om = digits(b, at + 4, 2)?;
            if oh > 23 || om > 59 {
                return Err(TimeError::Range);
            }
            at += 6;
            let off = oh * 3600 + om * 60;
            if sign == b'+' { off } else { -off }
        }
        _ => return Err(TimeError::Malformed),
    };
    if at != b.len() {
        return Err(TimeError::Malformed);
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    secs.checked_mul(1_000_000_000).and_then(|s| s.checked_add(nanos)).ok_or(TimeError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_instants() {
        assert_eq!(parse_rfc3339_ns(b"1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339_ns(b"1970-01-01T00:00:00.000000001Z"), Ok(1));
        assert_eq!(parse_rfc3339_ns(b"1969-12-31T23:59:59Z"), Ok(-1_000_000_000));
        assert_eq!(parse_rfc3339_ns(b"2000-02-29T00:00:00Z"), Ok(951_782_400_000_000_000));
        assert_eq!(parse_rfc3339_ns(b"2024-08-09T00:00:00.5Z"), Ok(1_723_161_600_500_000_000));
        // More than nine fraction digits: truncated.
        assert_eq!(parse_rfc3339_ns(b"1970-01-01T00:00:00.1234567899Z"), Ok(123_456_789));
        assert_eq!(parse_rfc3339_ns(b"1970-01-01T01:00:00+01:00"), Ok(0));
        assert_eq!(parse_rfc3339_ns(b"1970-01-01T00:00:00-00:30"), Ok(1_800_000_000_000));
    }

    #[test]
    fn refusals() {
        for bad in [
            &b""[..],
            b"2024-08-09",
            b"2024-08-09T00:00:00",
            b"2024-08-09T00:00:00.Z",
            b"2024-08-09T00:00:00ZZ",
            b"2024-08-09X00:00:00Z",
            b"2024-8-09T00:00:00Z",
            b"2024-08-09T00:00:00+0100",
        ] {
            assert_eq!(parse_rfc3339_ns(bad), Err(TimeError::Malformed), "{bad:?}");
        }
        for bad in [
            &b"2023-02-29T00:00:00Z"[..],
            b"2024-13-01T00:00:00Z",
            b"2024-00-01T00:00:00Z",
            b"2024-04-31T00:00:00Z",
            b"2024-01-01T24:00:00Z",
            b"2024-01-01T00:60:00Z",
        ] {
            assert_eq!(parse_rfc3339_ns(bad), Err(TimeError::Range), "{bad:?}");
        }
        assert_eq!(parse_rfc3339_ns(b"9999-01-01T00:00:00Z"), Err(TimeError::Overflow));
    }

    /// Reference: civil date from days by the inverse algorithm, formatted back.
    fn civil_from_days(z: i64) -> (i64, i64, i64) {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        (if m <= 2 { y + 1 } else { y }, m, d)
    }

    proptest! {
        #[test]
        fn round_trips_through_formatting(ns in -5_000_000_000_000_000_000i64..7_000_000_000_000_000_000) {
            let secs = ns.div_euclid(1_000_000_000);
            let frac = ns.rem_euclid(1_000_000_000);
            let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
            let sod = secs.rem_euclid(86_400);
            let text = format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:09}Z",
                sod / 3600, sod / 60 % 60, sod % 60
            );
            prop_assert_eq!(parse_rfc3339_ns(text.as_bytes()), Ok(ns));
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = parse_rfc3339_ns(&bytes);
        }
    }
}
