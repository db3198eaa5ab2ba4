//! The record publication protocol (RELIABILITY.md §1.7 item 2), generic over the byte buffer so
//! that the very same code runs over a memory-mapped segment ([`crate::mmap::Mapping`]) and, under
//! `--cfg loom`, over an in-memory model buffer whose atomics and cells loom checks
//! (`tests/loom.rs`).
//!
//! Writer: (1) release-store `len_flags | IN_PROGRESS`; (2) write header, payload, CRC, padding;
//! (3) release-store the final `len_flags`. Reader: acquire-load `len_flags`; only a final value
//! (bit 31 clear, non-zero) makes the body visible, and the body is then checked against its CRC.

use crate::format::{
    CRC_LEN, FLAG_IN_PROGRESS, FLAG_META, LEN_MASK, META_TYPE_MIN, RECORD_HEADER_LEN,
    RECORD_OVERHEAD, RecordHeader, Salt, align_up,
};

/// A byte buffer the protocol can publish records into and probe them from.
///
/// `len_flags` words (at 8-aligned record offsets) are only ever accessed through
/// [`RecordBuf::load_len_flags`] / [`RecordBuf::store_len_flags`]; all other bytes only through
/// [`RecordBuf::write_bytes`] / [`RecordBuf::with_bytes`].
pub trait RecordBuf {
    /// Size of the buffer in bytes.
    fn capacity(&self) -> usize;
    /// Acquire-load of the `len_flags` word at `off` (4-aligned, in bounds).
    fn load_len_flags(&self, off: usize) -> u32;
    /// Release-store of the `len_flags` word at `off` (4-aligned, in bounds).
    fn store_len_flags(&self, off: usize, value: u32);
    /// Writes `src` at `off` (in bounds, not covering a `len_flags` word of another record).
    fn write_bytes(&self, off: usize, src: &[u8]);
    /// Calls `f` with the `len` bytes at `off` (in bounds).
    fn with_bytes<R>(&self, off: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> R;
}

/// A validated record frame found by [`probe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Decoded header.
    pub header: RecordHeader,
    /// Payload length in bytes.
    pub payload_len: usize,
    /// Bytes the record occupies including padding: the next record starts this far on.
    pub aligned_len: usize,
}

impl Frame {
    /// Offset of the payload relative to the record start.
    pub const PAYLOAD_OFFSET: usize = RECORD_HEADER_LEN;
}

/// Why a record frame is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidReason {
    /// Length below the minimum or running past the segment end.
    BadLength,
    /// CRC mismatch.
    BadChecksum,
    /// Non-zero padding bytes.
    BadPadding,
    /// Metadata flag and record type disagree.
    BadType,
    /// Valid frame whose seq is not the expected one.
    BadSeq,
    /// Bit 31 set: the writer never finished this record.
    InProgress,
    /// `len_flags == 0` where valid records follow.
    Zeroed,
}

impl core::fmt::Display for InvalidReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            InvalidReason::BadLength => "bad record length",
            InvalidReason::BadChecksum => "record checksum mismatch",
            InvalidReason::BadPadding => "non-zero record padding",
            InvalidReason::BadType => "record type does not match its metadata flag",
            InvalidReason::BadSeq => "unexpected record seq",
            InvalidReason::InProgress => "record left in progress",
            InvalidReason::Zeroed => "zeroed record header",
        })
    }
}

/// What a reader finds at a record offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// Fewer than 4 bytes left: the segment is full.
    EndOfBuffer,
    /// `len_flags == 0`: end of data.
    Empty,
    /// Bit 31 set: being written (live) or torn (recovery).
    InProgress,
    /// Not a valid record.
    Invalid(InvalidReason),
    /// A valid data record.
    Data(Frame),
    /// A valid metadata record (END_OF_DATA, SEAL).
    Meta(Frame),
}

/// Step 1: announce a record of `payload_len` bytes at `off` (release store, in-progress bit).
#[inline]
pub fn begin<B: RecordBuf + ?Sized>(buf: &B, off: usize, payload_len: usize, meta: bool) {
    buf.store_len_flags(off, FLAG_IN_PROGRESS | len_flags(payload_len, meta));
}

/// Step 2: write header, payload, CRC and zero padding of the record at `off`.
///
/// The CRC is one pass over the record bytes `4..24+p` as just written (header then payload
/// are contiguous), seeded with the segment's salt ([`Salt::crc_of_body`]).
#[inline]
pub fn write_body<B: RecordBuf + ?Sized>(
    buf: &B,
    off: usize,
    header: &RecordHeader,
    payload: &[u8],
    salt: Salt,
) {
    buf.write_bytes(off + 4, &header.encode());
    buf.write_bytes(off + RECORD_HEADER_LEN, payload);
    let len = RECORD_OVERHEAD + payload.len();
    let crc = buf.with_bytes(off + 4, len - 4 - CRC_LEN, |b| salt.crc_of_body(b));
    let mut tail = [0u8; CRC_LEN + 7];
    tail[..CRC_LEN].copy_from_slice(&crc.to_le_bytes());
    let tail_len = align_up(len) - len + CRC_LEN;
    buf.write_bytes(off + len - CRC_LEN, &tail[..tail_len]);
}

/// Step 3: publish the record at `off` (release store of the final `len_flags`).
#[inline]
pub fn commit<B: RecordBuf + ?Sized>(buf: &B, off: usize, payload_len: usize, meta: bool) {
    buf.store_len_flags(off, len_flags(payload_len, meta));
}

/// All three steps. Returns the aligned length the record occupies.
#[inline]
pub fn publish<B: RecordBuf + ?Sized>(
    buf: &B,
    off: usize,
    header: &RecordHeader,
    payload: &[u8],
    salt: Salt,
    meta: bool,
) -> usize {
    begin(buf, off, payload.len(), meta);
    write_body(buf, off, header, payload, salt);
    commit(buf, off, payload.len(), meta);
    align_up(RECORD_OVERHEAD + payload.len())
}

#[inline]
fn len_flags(payload_len: usize, meta: bool) -> u32 {
    let len = (RECORD_OVERHEAD + payload_len) as u32;
    debug_assert!(len <= LEN_MASK);
    if meta { len | FLAG_META } else { len }
}

/// Reads the record at `off` (8-aligned) and validates length, flags, type, CRC and padding.
/// Seq continuity is the caller's check.
#[inline]
pub fn probe<B: RecordBuf + ?Sized>(buf: &B, off: usize, salt: Salt) -> Probe {
    match frame_extent(buf, off) {
        Ok(e) => buf.with_bytes(off + 4, e.present - 4, |b| validate_body(b, e.len, e.meta, salt)),
        Err(p) => p,
    }
}

/// Where a record's bytes lie, from its `len_flags` alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    /// `len` from `len_flags`: header + payload + CRC.
    pub len: usize,
    /// Bytes present in the buffer: `align8(len)`, or less when the buffer ends first.
    pub present: usize,
    /// The metadata flag.
    pub meta: bool,
}

/// Step one of [`probe`]: acquire-loads `len_flags` at `off` and checks the length against the
/// buffer. `Err` carries the final answer (end of buffer, empty, in progress, bad length).
#[inline]
pub fn frame_extent<B: RecordBuf + ?Sized>(buf: &B, off: usize) -> Result<Extent, Probe> {
    let cap = buf.capacity();
    if off + 4 > cap {
        return Err(Probe::EndOfBuffer);
    }
    let lf = buf.load_len_flags(off);
    if lf == 0 {
        return Err(Probe::Empty);
    }
    if lf & FLAG_IN_PROGRESS != 0 {
        return Err(Probe::InProgress);
    }
    let len = (lf & LEN_MASK) as usize;
    if len < RECORD_OVERHEAD || len > cap - off {
        return Err(Probe::Invalid(InvalidReason::BadLength));
    }
    // Padding past the end of a (truncated) buffer is absent; the record is still complete.
    Ok(Extent { len, present: align_up(len).min(cap - off), meta: lf & FLAG_META != 0 })
}

/// Validates `b` = record bytes `4..aligned_len` (padding possibly cut short by the buffer end)
/// of a record whose `len_flags` announced `len` bytes (`RECORD_OVERHEAD ≤ len`,
/// `len - 4 ≤ b.len()`) and the metadata flag `meta`: CRC (one pass), padding, type/flag
/// agreement. On success the payload is `b[RECORD_HEADER_LEN - 4..][..payload_len]`.
#[inline]
pub fn validate_body(b: &[u8], len: usize, meta: bool, salt: Salt) -> Probe {
    let body_end = len - 4; // relative to b (which starts at record byte 4)
    let (Some(body), Some(stored), Some(padding)) =
        (b.get(..body_end - CRC_LEN), b.get(body_end - CRC_LEN..body_end), b.get(body_end..))
    else {
        return Probe::Invalid(InvalidReason::BadLength);
    };
    let Ok(hdr_bytes) = <&[u8; RECORD_HEADER_LEN - 4]>::try_from(&body[..RECORD_HEADER_LEN - 4])
    else {
        return Probe::Invalid(InvalidReason::BadLength);
    };
    if salt.crc_of_body(body).to_le_bytes() != stored {
        return Probe::Invalid(InvalidReason::BadChecksum);
    }
    if padding.iter().any(|&x| x != 0) {
        return Probe::Invalid(InvalidReason::BadPadding);
    }
    let header = RecordHeader::decode(hdr_bytes);
    let payload_len = len - RECORD_OVERHEAD;
    let is_meta_type = header.record_type >= META_TYPE_MIN;
    if meta != is_meta_type || (meta && payload_len != 0) {
        return Probe::Invalid(InvalidReason::BadType);
    }
    let frame = Frame { header, payload_len, aligned_len: align_up(len) };
    if meta { Probe::Meta(frame) } else { Probe::Data(frame) }
}

/// A plain in-memory buffer (single-threaded use: tests and the page model).
#[derive(Debug)]
pub struct VecBuf(pub core::cell::RefCell<Vec<u8>>);

impl RecordBuf for VecBuf {
    fn capacity(&self) -> usize {
        self.0.borrow().len()
    }
    fn load_len_flags(&self, off: usize) -> u32 {
        crate::format::le_u32(&self.0.borrow(), off)
    }
    fn store_len_flags(&self, off: usize, value: u32) {
        self.0.borrow_mut()[off..off + 4].copy_from_slice(&value.to_le_bytes());
    }
    fn write_bytes(&self, off: usize, src: &[u8]) {
        self.0.borrow_mut()[off..off + src.len()].copy_from_slice(src);
    }
    fn with_bytes<R>(&self, off: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        f(&self.0.borrow()[off..off + len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buf(n: usize) -> VecBuf {
        VecBuf(core::cell::RefCell::new(vec![0; n]))
    }

    #[test]
    fn publish_then_probe() {
        let b = buf(256);
        let h = RecordHeader { record_type: 3, ver: 1, seq: 1, ts_ns: 10 };
        let n = publish(&b, 0, &h, b"hello", Salt::new(7), false);
        assert_eq!(n, 40);
        match probe(&b, 0, Salt::new(7)) {
            Probe::Data(f) => {
                assert_eq!(f.header, h);
                assert_eq!(f.payload_len, 5);
                assert_eq!(f.aligned_len, 40);
            }
            p => panic!("unexpected {p:?}"),
        }
        assert_eq!(probe(&b, 40, Salt::new(7)), Probe::Empty);
        // Wrong salt: stale bytes from another incarnation never validate.
        assert_eq!(probe(&b, 0, Salt::new(8)), Probe::Invalid(InvalidReason::BadChecksum));
        assert_eq!(probe(&b, 254, Salt::new(7)), Probe::EndOfBuffer);
    }

    #[test]
    fn in_progress_is_visible_until_commit() {
        let b = buf(64);
        let h = RecordHeader { record_type: 3, ver: 1, seq: 1, ts_ns: 10 };
        begin(&b, 0, 4, false);
        assert_eq!(probe(&b, 0, Salt::new(1)), Probe::InProgress);
        write_body(&b, 0, &h, b"abcd", Salt::new(1));
        assert_eq!(probe(&b, 0, Salt::new(1)), Probe::InProgress);
        commit(&b, 0, 4, false);
        assert!(matches!(probe(&b, 0, Salt::new(1)), Probe::Data(_)));
    }

    #[test]
    fn meta_type_and_flag_must_agree() {
        let b = buf(64);
        let h = RecordHeader { record_type: 3, ver: 0, seq: 1, ts_ns: 0 };
        publish(&b, 0, &h, b"", Salt::new(1), true);
        assert_eq!(probe(&b, 0, Salt::new(1)), Probe::Invalid(InvalidReason::BadType));
        let h = RecordHeader { record_type: crate::format::META_SEAL, ..h };
        publish(&b, 0, &h, b"", Salt::new(1), true);
        assert!(matches!(probe(&b, 0, Salt::new(1)), Probe::Meta(_)));
        publish(&b, 0, &h, b"", Salt::new(1), false);
        assert_eq!(probe(&b, 0, Salt::new(1)), Probe::Invalid(InvalidReason::BadType));
    }

    #[test]
    fn padding_and_length_checked() {
        let b = buf(64);
        let h = RecordHeader { record_type: 3, ver: 0, seq: 1, ts_ns: 0 };
        publish(&b, 0, &h, b"x", Salt::new(1), false); // len 29, padded to 32
        b.0.borrow_mut()[30] = 1;
        assert_eq!(probe(&b, 0, Salt::new(1)), Probe::Invalid(InvalidReason::BadPadding));
        b.store_len_flags(0, 1000);
        assert_eq!(probe(&b, 0, Salt::new(1)), Probe::Invalid(InvalidReason::BadLength));
        b.store_len_flags(0, 5);
        assert_eq!(probe(&b, 0, Salt::new(1)), Probe::Invalid(InvalidReason::BadLength));
    }
}
