//! Fixed-point prices and sizes.
//!
//! A [`Scale`] describes an instrument's increment (tick size or lot size) as
//! `step × 10^-decimals`. Decimal text from a venue is parsed straight into a count of
//! increments; text that is not a whole number of increments is an [`ParseError::OffGrid`]
//! error, never rounded. Formatting goes back to exact decimal text.

use std::fmt;

/// A price as a whole number of ticks of its instrument.
///
/// The tick size lives in the instrument's price [`Scale`]; two `Px` of different instruments
/// must not be compared.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Px(pub i64);

/// A size as a whole number of lots of its instrument.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Qty(pub i64);

impl Px {
    /// Ticks as a raw integer.
    #[inline]
    pub const fn ticks(self) -> i64 {
        self.0
    }
}

impl Qty {
    /// The empty size.
    pub const ZERO: Qty = Qty(0);

    /// Lots as a raw integer.
    #[inline]
    pub const fn lots(self) -> i64 {
        self.0
    }

    /// True when the size is zero (a level removal on the wire).
    #[inline]
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

/// Why decimal text could not become a number of increments.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The text was empty (or only a sign or a point).
    #[error("empty number")]
    Empty,
    /// A byte that is not a digit, a leading `-` or a single `.`.
    #[error("invalid character at byte {pos}")]
    InvalidChar {
        /// Byte offset of the offending character.
        pos: u16,
    },
    /// The value does not fit in an `i64` number of increments.
    #[error("number overflows the fixed-point range")]
    Overflow,
    /// The value is not a whole number of increments (e.g. `0.015` with a `0.01` tick).
    #[error("number is not on the instrument's grid")]
    OffGrid,
}

/// Why a [`Scale`] could not be built.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScaleError {
    /// The increment was zero or negative.
    #[error("increment must be positive")]
    NotPositive,
    /// More than [`Scale::MAX_DECIMALS`] decimals.
    #[error("too many decimals (max {})", Scale::MAX_DECIMALS)]
    TooManyDecimals,
    /// The increment text itself was not a number.
    #[error("invalid increment: {0}")]
    Parse(ParseError),
}

const POW10: [u64; 19] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    100_000_000_000,
    1_000_000_000_000,
    10_000_000_000_000,
    100_000_000_000_000,
    1_000_000_000_000_000,
    10_000_000_000_000_000,
    100_000_000_000_000_000,
    1_000_000_000_000_000_000,
];

/// The value of eight ASCII digits (first byte most significant), validated by the caller.
#[inline(always)]
fn swar8(chunk: u64) -> u64 {
    let v = chunk - 0x3030_3030_3030_3030;
    let v = (v * 10) + (v >> 8);
    ((v & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32))
        + ((v >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32)))
        >> 32
}

/// State of one decimal scan.
#[derive(Clone, Copy)]
struct Scan {
    mantissa: u64,
    /// Digits accumulated into the mantissa.
    digits: usize,
    /// Fraction digits accumulated (at most `decimals`).
    used: usize,
    /// Any digit at all.
    seen: bool,
    /// A non-zero digit beyond `decimals`.
    off_grid: bool,
}

#[cold]
fn invalid(pos: usize) -> ParseError {
    ParseError::InvalidChar { pos: pos.min(usize::from(u16::MAX)) as u16 }
}

/// An increment `step × 10^-decimals` (a tick size or a lot size).
///
/// # Examples
/// ```
/// use crpbot_core::Scale;
/// let tick = Scale::parse("0.01").unwrap();
/// assert_eq!(tick.parse_units(b"61837.63000000"), Ok(6_183_763));
/// assert!(tick.parse_units(b"61837.635").is_err()); // off the grid
/// assert_eq!(tick.format(6_183_763), "61837.63");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Scale {
    decimals: u8,
    step: u64,
}

impl Scale {
    /// The most decimals a scale may carry.
    pub const MAX_DECIMALS: u8 = 18;

    /// A scale of `step × 10^-decimals`.
    pub const fn new(decimals: u8, step: u64) -> Result<Scale, ScaleError> {
        if step == 0 {
            return Err(ScaleError::NotPositive);
        }
        if decimals > Self::MAX_DECIMALS {
            return Err(ScaleError::TooManyDecimals);
        }
        Ok(Scale { decimals, step })
    }

    /// Parses an increment such as `"0.01"`, `"0.5"` or `"5"`.
    pub fn parse(text: &str) -> Result<Scale, ScaleError> {
        let bytes = text.as_bytes();
        let decimals = match bytes.iter().position(|&b| b == b'.') {
            Some(dot) => {
                // Trailing zeros carry no information about the increment.
                let frac = &bytes[dot + 1..];
                frac.iter().rposition(|&b| b != b'0').map_or(0, |i| i + 1)
            }
            None => 0,
        };
        if decimals > Self::MAX_DECIMALS as usize {
            return Err(ScaleError::TooManyDecimals);
        }
        let unit = Scale { decimals: decimals as u8, step: 1 };
        let mantissa = unit.parse_units(bytes).map_err(ScaleError::Parse)?;
        if mantissa <= 0 {
            return Err(ScaleError::NotPositive);
        }
        Scale::new(decimals as u8, mantissa as u64)
    }

    /// Number of decimals of the increment.
    pub const fn decimals(self) -> u8 {
        self.decimals
    }

    /// The increment in units of `10^-decimals`.
    pub const fn step(self) -> u64 {
        self.step
    }

    /// Parses decimal text (`[-]digits[.digits]`) into a whole number of increments.
    ///
    /// Extra fractional digits are accepted only when they are zero; a value between two
    /// increments is [`ParseError::OffGrid`]. No float is involved. Syntax errors are reported
    /// before grid errors.
    #[inline]
    pub fn parse_units(self, text: &[u8]) -> Result<i64, ParseError> {
        let (negative, digits) = match text.first() {
            Some(b'-') => (true, &text[1..]),
            _ => (false, text),
        };
        let base = usize::from(negative);
        if let Some(Ok((units, n))) = self.parse_prefix_8(digits)
            && n == digits.len()
        {
            return Ok(if negative { -units } else { units });
        }
        let (scan, consumed) = self.scan(digits);
        if consumed != digits.len() {
            return Err(invalid(base + consumed));
        }
        let units = self.finish(scan, digits)?;
        Ok(if negative { -units } else { units })
    }

    /// Parses an unsigned decimal number at the start of `text` (digits, an optional `.` and
    /// digits) and stops at the first other byte. Returns the increments and the bytes used.
    ///
    /// This is the single-pass form the feed decoders use on a frame, with the closing quote
    /// as the terminator.
    ///
    /// # Examples
    /// ```
    /// use crpbot_core::Scale;
    /// let tick = Scale::parse("0.01").unwrap();
    /// assert_eq!(tick.parse_prefix(b"61837.63000000\",\"1\""), Ok((6_183_763, 14)));
    /// ```
    #[inline]
    pub fn parse_prefix(self, text: &[u8]) -> Result<(i64, usize), ParseError> {
        if let Some(done) = self.parse_prefix_8(text) {
            return done;
        }
        let (scan, consumed) = self.scan(text);
        Ok((self.finish(scan, &text[..consumed])?, consumed))
    }

    /// Fast path for the common wire shape `digits.dddddddd` (exactly eight fraction digits,
    /// as Binance and others send): the fraction is validated and converted eight bytes at a
    /// time (SWAR). `None` when the text has another shape.
    #[inline(always)]
    fn parse_prefix_8(self, text: &[u8]) -> Option<Result<(i64, usize), ParseError>> {
        const ZEROS: u64 = 0x3030_3030_3030_3030;
        let mut int: u64 = 0;
        let mut i = 0;
        while let Some(&b) = text.get(i) {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            int = int * 10 + u64::from(d);
            i += 1;
            if i > 12 {
                return None;
            }
        }
        if i == 0 || text.get(i) != Some(&b'.') {
            return None;
        }
        let chunk = u64::from_le_bytes(text.get(i + 1..i + 9)?.try_into().ok()?);
        if text.get(i + 9).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        // All eight bytes are ASCII digits.
        let high = chunk & 0xF0F0_F0F0_F0F0_F0F0;
        let carry = chunk.wrapping_add(0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0;
        if high != ZEROS || carry != ZEROS {
            return None;
        }
        let consumed = i + 9;
        let d = u32::from(self.decimals);
        let frac_kept = if d >= 8 {
            swar8(chunk) * POW10[(d - 8) as usize]
        } else {
            // Digits beyond the scale (the high bytes, little-endian) must all be '0'.
            if chunk >> (8 * d) != ZEROS >> (8 * d) {
                return Some(Err(ParseError::OffGrid));
            }
            if d == 0 { 0 } else { swar8((chunk << (8 * (8 - d))) | (ZEROS >> (8 * d))) }
        };
        let mantissa =
            match int.checked_mul(POW10[d as usize]).and_then(|m| m.checked_add(frac_kept)) {
                Some(m) => m,
                None => return Some(Err(ParseError::Overflow)),
            };
        let units = if self.step == 1 {
            mantissa
        } else if mantissa % self.step != 0 {
            return Some(Err(ParseError::OffGrid));
        } else {
            mantissa / self.step
        };
        Some(i64::try_from(units).map(|u| (u, consumed)).map_err(|_| ParseError::Overflow))
    }

    /// One pass over `[digits][.digits]`: the mantissa at `decimals` digits (wrapping — only
    /// trusted when `digits <= 19`), and how many bytes were consumed.
    #[inline(always)]
    fn scan(self, text: &[u8]) -> (Scan, usize) {
        let decimals = usize::from(self.decimals);
        let mut s = Scan { mantissa: 0, digits: 0, used: 0, seen: false, off_grid: false };
        let mut i = 0;
        while let Some(&b) = text.get(i) {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            s.mantissa = s.mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
            s.digits += 1;
            i += 1;
        }
        s.seen = i > 0;
        if text.get(i) == Some(&b'.') {
            i += 1;
            while let Some(&b) = text.get(i) {
                let d = b.wrapping_sub(b'0');
                if d > 9 {
                    break;
                }
                s.seen = true;
                if s.used < decimals {
                    s.mantissa = s.mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
                    s.used += 1;
                    s.digits += 1;
                } else if d != 0 {
                    s.off_grid = true;
                }
                i += 1;
            }
        }
        (s, i)
    }

    #[inline(always)]
    fn finish(self, s: Scan, text: &[u8]) -> Result<i64, ParseError> {
        if !s.seen {
            return Err(ParseError::Empty);
        }
        if s.off_grid {
            return Err(ParseError::OffGrid);
        }
        let mantissa =
            if s.digits <= 19 { s.mantissa } else { Self::checked_mantissa(text, s.used)? };
        let mantissa = mantissa
            .checked_mul(POW10[usize::from(self.decimals) - s.used])
            .ok_or(ParseError::Overflow)?;
        let units = if self.step == 1 {
            mantissa
        } else if mantissa % self.step != 0 {
            return Err(ParseError::OffGrid);
        } else {
            mantissa / self.step
        };
        i64::try_from(units).map_err(|_| ParseError::Overflow)
    }

    /// The mantissa of more than 19 kept digits, with overflow checks (rare, cold path).
    #[cold]
    fn checked_mantissa(text: &[u8], used: usize) -> Result<u64, ParseError> {
        let mut m = 0u64;
        let mut frac_left = None;
        for &b in text {
            if b == b'.' {
                frac_left = Some(used);
                continue;
            }
            if let Some(left) = frac_left.as_mut() {
                if *left == 0 {
                    break;
                }
                *left -= 1;
            }
            let d = u64::from(b.wrapping_sub(b'0'));
            m = m.checked_mul(10).and_then(|m| m.checked_add(d)).ok_or(ParseError::Overflow)?;
        }
        Ok(m)
    }

    /// Writes `units` increments as exact decimal text with exactly `decimals` fraction digits.
    pub fn write(self, units: i64, out: &mut impl fmt::Write) -> fmt::Result {
        let mantissa = i128::from(units) * i128::from(self.step);
        let negative = mantissa < 0;
        let abs = mantissa.unsigned_abs();
        let p = u128::from(POW10[usize::from(self.decimals)]);
        let (int, frac) = (abs / p, abs % p);
        if negative {
            out.write_char('-')?;
        }
        if self.decimals == 0 {
            write!(out, "{int}")
        } else {
            write!(out, "{int}.{frac:0width$}", width = usize::from(self.decimals))
        }
    }

    /// `units` increments as exact decimal text (allocates; not for the hot path).
    pub fn format(self, units: i64) -> String {
        let mut s = String::with_capacity(24);
        // Writing into a String cannot fail.
        let _ = self.write(units, &mut s);
        s
    }

    /// The value of `units` increments as an `f64`, for signal math only (never for keys or PnL).
    #[inline]
    pub fn to_f64(self, units: i64) -> f64 {
        units as f64 * self.step as f64 / POW10[usize::from(self.decimals)] as f64
    }

    /// The increment itself as an `f64`.
    #[inline]
    pub fn increment_f64(self) -> f64 {
        self.to_f64(1)
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(1, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(text: &str) -> Scale {
        Scale::parse(text).unwrap()
    }

    #[test]
    fn parses_increments() {
        assert_eq!(s("0.01"), Scale { decimals: 2, step: 1 });
        assert_eq!(s("0.01000000"), Scale { decimals: 2, step: 1 });
        assert_eq!(s("0.5"), Scale { decimals: 1, step: 5 });
        assert_eq!(s("5"), Scale { decimals: 0, step: 5 });
        assert_eq!(s("0.00000001"), Scale { decimals: 8, step: 1 });
        assert_eq!(Scale::parse("0"), Err(ScaleError::NotPositive));
        assert_eq!(Scale::parse("-0.1"), Err(ScaleError::NotPositive));
        assert!(matches!(Scale::parse("abc"), Err(ScaleError::Parse(_))));
    }

    #[test]
    fn parses_prices_on_the_grid() {
        let tick = s("0.01");
        assert_eq!(tick.parse_units(b"61837.63000000"), Ok(6_183_763));
        assert_eq!(tick.parse_units(b"61837.6"), Ok(6_183_760));
        assert_eq!(tick.parse_units(b"61837"), Ok(6_183_700));
        assert_eq!(tick.parse_units(b"61837."), Ok(6_183_700));
        assert_eq!(tick.parse_units(b".5"), Ok(50));
        assert_eq!(tick.parse_units(b"0.00000000"), Ok(0));
        assert_eq!(tick.parse_units(b"-1.25"), Ok(-125));
        let half = s("0.5");
        assert_eq!(half.parse_units(b"10.5"), Ok(21));
        assert_eq!(half.parse_units(b"10.0"), Ok(20));
        assert_eq!(half.parse_units(b"10.2"), Err(ParseError::OffGrid));
    }

    #[test]
    fn rejects_bad_text() {
        let tick = s("0.01");
        assert_eq!(tick.parse_units(b""), Err(ParseError::Empty));
        assert_eq!(tick.parse_units(b"."), Err(ParseError::Empty));
        assert_eq!(tick.parse_units(b"-"), Err(ParseError::Empty));
        assert_eq!(tick.parse_units(b"1.2.3"), Err(ParseError::InvalidChar { pos: 3 }));
        assert_eq!(tick.parse_units(b"1e5"), Err(ParseError::InvalidChar { pos: 1 }));
        assert_eq!(tick.parse_units(b" 1"), Err(ParseError::InvalidChar { pos: 0 }));
        assert_eq!(tick.parse_units(b"+1"), Err(ParseError::InvalidChar { pos: 0 }));
        assert_eq!(tick.parse_units(b"--1"), Err(ParseError::InvalidChar { pos: 1 }));
        assert_eq!(tick.parse_units(b"0.015"), Err(ParseError::OffGrid));
        assert_eq!(tick.parse_units(b"0.0100001"), Err(ParseError::OffGrid));
        assert_eq!(tick.parse_units(b"99999999999999999999"), Err(ParseError::Overflow));
        // Fits u64 mantissa but not i64 units.
        let unit = s("1");
        assert_eq!(unit.parse_units(b"9223372036854775808"), Err(ParseError::Overflow));
        assert_eq!(unit.parse_units(b"9223372036854775807"), Ok(i64::MAX));
    }

    #[test]
    fn formats_exactly() {
        assert_eq!(s("0.01").format(6_183_763), "61837.63");
        assert_eq!(s("0.00001").format(100), "0.00100");
        assert_eq!(s("0.5").format(21), "10.5");
        assert_eq!(s("5").format(3), "15");
        assert_eq!(s("0.01").format(-5), "-0.05");
        assert_eq!(s("0.01").format(0), "0.00");
        assert_eq!(s("0.00000001").to_string(), "0.00000001");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(decimals in 0u8..=12, step in 1u64..1000, units in -1_000_000_000i64..1_000_000_000) {
            let scale = Scale::new(decimals, step).unwrap();
            let text = scale.format(units);
            prop_assert_eq!(scale.parse_units(text.as_bytes()), Ok(units));
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40), decimals in 0u8..=18, step in 1u64..10_000) {
            let scale = Scale::new(decimals, step).unwrap();
            let _ = scale.parse_units(&bytes);
        }

        #[test]
        fn parse_matches_naive_reference(int in "[0-9]{0,24}", frac in "[0-9]{0,12}", dot in any::<bool>(), decimals in 0u8..=8, step in 1u64..20) {
            // Reference: exact rational arithmetic on u128 digit strings.
            let text = if dot { format!("{int}.{frac}") } else { int.clone() };
            let scale = Scale::new(decimals, step).unwrap();
            let got = scale.parse_units(text.as_bytes());
            let frac = if dot { frac } else { String::new() };
            let d = usize::from(decimals);
            let expected = if int.is_empty() && frac.is_empty() {
                Err(ParseError::Empty)
            } else if frac.len() > d && frac[d..].bytes().any(|b| b != b'0') {
                Err(ParseError::OffGrid)
            } else {
                let kept: String = frac.chars().take(d).collect();
                let digits = format!("{int}{kept}{}", "0".repeat(d - kept.len()));
                match digits.trim_start_matches('0').parse::<u128>().or_else(|_| if digits.trim_start_matches('0').is_empty() { Ok(0) } else { Err(()) }) {
                    Ok(m) if m % u128::from(step) != 0 => Err(ParseError::OffGrid),
                    Ok(m) if m / u128::from(step) <= i64::MAX as u128 && m <= u128::from(u64::MAX) => Ok((m / u128::from(step)) as i64),
                    _ => Err(ParseError::Overflow),
                }
            };
            // Overflow may be reported before the grid check; both are refusals.
            match (&got, &expected) {
                (Err(ParseError::Overflow), Err(ParseError::OffGrid)) | (Err(ParseError::OffGrid), Err(ParseError::Overflow)) => {}
                _ => prop_assert_eq!(got, expected, "{}", text),
            }
        }

        #[test]
        fn eight_digit_fast_path_matches_generic_scan(int in 0u64..10_000_000_000, frac in 0u64..100_000_000, decimals in 0u8..=12, step in 1u64..5, tail in "[,\"x]?") {
            let text = format!("{int}.{frac:08}{tail}");
            let scale = Scale::new(decimals, step).unwrap();
            let fast = scale.parse_prefix(text.as_bytes());
            let (scan, n) = scale.scan(text.as_bytes());
            let generic = scale.finish(scan, &text.as_bytes()[..n]).map(|u| (u, n));
            prop_assert_eq!(fast, generic, "{}", text);
        }

        #[test]
        fn parse_matches_integer_reference(int in 0u64..10_000_000, frac in 0u64..100_000_000) {
            // Reference: the value in units of 1e-8, checked against a 0.01 tick by integer math.
            let text = format!("{int}.{frac:08}");
            let value_1e8 = u128::from(int) * 100_000_000 + u128::from(frac);
            let tick = Scale::parse("0.01").unwrap();
            let got = tick.parse_units(text.as_bytes());
            if value_1e8 % 1_000_000 == 0 {
                prop_assert_eq!(got, Ok((value_1e8 / 1_000_000) as i64));
            } else {
                prop_assert_eq!(got, Err(ParseError::OffGrid));
            }
        }
    }
}
