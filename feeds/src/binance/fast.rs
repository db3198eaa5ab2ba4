//! A strict single-pass scanner for the hot message, `depthUpdate`.
//!
//! It accepts exactly the byte layout Binance sends — the combined-stream wrapper (or the raw
//! payload), keys in Binance's order, no whitespace, no escapes — and extracts the header and
//! the levels in one pass without building a JSON tape. Anything else (another key order,
//! whitespace, an escape, a bad number, an unknown symbol, a truncated frame) makes it return
//! `None`, and the caller decodes the frame with simd-json, which reports the precise error.
//! Because it only accepts a strict subset of JSON and produces the same output, it is tested
//! differentially against the simd-json path on real and mutated frames.

use crpbot_core::{InstrumentId, LevelUpdate, Px, Qty, Scale, Side, level_flags};

use super::DepthHeader;

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn lit(&mut self, lit: &[u8]) -> Option<()> {
        let end = self.i.checked_add(lit.len())?;
        (self.b.get(self.i..end)? == lit).then(|| self.i = end)
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// A JSON unsigned integer (no sign, no fraction, no exponent, no leading zero).
    #[inline]
    fn uint(&mut self) -> Option<u64> {
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(&c) = self.b.get(self.i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            v = v.checked_mul(10)?.checked_add(u64::from(d))?;
            self.i += 1;
        }
        let n = self.i - start;
        if n == 0 || (n > 1 && self.b[start] == b'0') {
            return None;
        }
        // A JSON number may continue with `.`/`e`: not ours.
        matches!(self.peek(), Some(b',' | b'}' | b']')).then_some(v)
    }

    /// An ASCII string without escapes or control characters; returns its contents. (Non-ASCII
    /// goes to the simd-json path, which validates UTF-8.)
    #[inline]
    fn string(&mut self) -> Option<&'a [u8]> {
        self.lit(b"\"")?;
        let start = self.i;
        let rest = self.b.get(start..)?;
        let len =
            rest.iter().position(|&c| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c))?;
        if rest[len] != b'"' {
            return None;
        }
        self.i = start + len + 1;
        Some(&rest[..len])
    }
}

impl Cursor<'_> {
    /// A quoted decimal number parsed in one pass into increments of `scale`.
    #[inline]
    fn number(&mut self, scale: Scale) -> Option<i64> {
        self.lit(b"\"")?;
        let (v, n) = scale.parse_prefix(self.b.get(self.i..)?).ok()?;
        self.i += n;
        self.lit(b"\"")?;
        Some(v)
    }
}

/// Levels pushed into `out` (which has room reserved by the caller's capacity policy).
#[allow(clippy::too_many_arguments)]
#[inline]
fn levels(
    c: &mut Cursor<'_>,
    out: &mut Vec<LevelUpdate>,
    max_levels: usize,
    side: Side,
    scales: (Scale, Scale),
    instrument: InstrumentId,
    ts: (i64, i64),
    update_id: u64,
) -> Option<()> {
    c.lit(b"[")?;
    if c.peek()? == b']' {
        c.i += 1;
        return Some(());
    }
    loop {
        c.lit(b"[")?;
        let px = c.number(scales.0)?;
        c.lit(b",")?;
        let qty = c.number(scales.1)?;
        c.lit(b"]")?;
        if out.len() >= max_levels {
            return None;
        }
        out.push(LevelUpdate {
            ts_exch_ns: ts.0,
            ts_local_ns: ts.1,
            update_id,
            px: Px(px),
            qty: Qty(qty),
            instrument,
            side,
            flags: 0,
            _pad: 0,
        });
        match c.peek()? {
            b',' => c.i += 1,
            b']' => {
                c.i += 1;
                return Some(());
            }
            _ => return None,
        }
    }
}

/// Scans a `depthUpdate` frame. `resolve` maps a symbol to its instrument and scales.
/// On success the levels are in `out` (cleared first) with the last one flagged `LAST`.
pub(super) fn depth_update(
    frame: &[u8],
    ts_local_ns: i64,
    out: &mut Vec<LevelUpdate>,
    max_levels: usize,
    resolve: impl Fn(&[u8]) -> Option<(InstrumentId, Scale, Scale)>,
) -> Option<DepthHeader> {
    let mut c = Cursor { b: frame, i: 0 };
    let wrapped = c.lit(b"{\"stream\":").is_some();
    if wrapped {
        c.string()?;
        c.lit(b",\"data\":")?;
    }
    c.lit(b"{\"e\":\"depthUpdate\",\"E\":")?;
    let e_ms = c.uint()?;
    let ts_exch_ns = i64::try_from(e_ms).ok()?.checked_mul(1_000_000)?;
    if c.lit(b",\"T\":").is_some() {
        c.uint()?;
    }
    c.lit(b",\"s\":")?;
    let symbol = c.string()?;
    let (instrument, px_scale, qty_scale) = resolve(symbol)?;
    c.lit(b",\"U\":")?;
    let first_update_id = c.uint()?;
    c.lit(b",\"u\":")?;
    let final_update_id = c.uint()?;
    if first_update_id > final_update_id {
        return None;
    }
    let prev_final_update_id = if c.lit(b",\"pu\":").is_some() { Some(c.uint()?) } else { None };
    out.clear();
    let ts = (ts_exch_ns, ts_local_ns);
    let scales = (px_scale, qty_scale);
    c.lit(b",\"b\":")?;
    levels(&mut c, out, max_levels, Side::Buy, scales, instrument, ts, final_update_id)?;
    c.lit(b",\"a\":")?;
    levels(&mut c, out, max_levels, Side::Sell, scales, instrument, ts, final_update_id)?;
    c.lit(b"}")?;
    if wrapped {
        c.lit(b"}")?;
    }
    if c.i != frame.len() {
        return None;
    }
    if let Some(l) = out.last_mut() {
        l.flags |= level_flags::LAST;
    }
    Some(DepthHeader {
        instrument,
        first_update_id,
        final_update_id,
        prev_final_update_id,
        ts_exch_ns,
        ts_local_ns,
    })
}
