//! Byte layout constants and pure encode/decode helpers (no I/O). `journal/FORMAT.md` is the
//! normative description; every number here is named there.

/// Segment file magic, bytes 0..8 of every segment.
pub const SEGMENT_MAGIC: [u8; 8] = *b"CRPBJRNL";
/// On-disk format version written by this crate.
pub const FORMAT_VERSION: u16 = 1;
/// Length of the segment header; the first record starts here.
pub const SEGMENT_HEADER_LEN: usize = 64;
/// Record alignment.
pub const ALIGN: usize = 8;
/// Bytes of a record before its payload: `len_flags, type, ver, seq, ts_ns`.
pub const RECORD_HEADER_LEN: usize = 24;
/// Bytes of the trailing CRC.
pub const CRC_LEN: usize = 4;
/// Framing overhead of a record (header + CRC), before padding.
pub const RECORD_OVERHEAD: usize = RECORD_HEADER_LEN + CRC_LEN;
/// Aligned size of a metadata record (END_OF_DATA, SEAL): no payload.
pub const META_RECORD_LEN: usize = align_up(RECORD_OVERHEAD);
/// Space every segment keeps free after its last data record: one SEAL plus one END_OF_DATA.
pub const SEGMENT_TAIL_RESERVE: usize = 2 * META_RECORD_LEN;

/// `len_flags` bit 31: the record is being written.
pub const FLAG_IN_PROGRESS: u32 = 1 << 31;
/// `len_flags` bit 30: padding/metadata record (not delivered to readers as data).
pub const FLAG_META: u32 = 1 << 30;
/// `len_flags` bits 0..30: record length in bytes, header + payload + CRC, without padding.
pub const LEN_MASK: u32 = (1 << 30) - 1;

/// Record types at or above this value are reserved for journal metadata.
pub const META_TYPE_MIN: u16 = 0xFF00;
/// Metadata type: end of this segment; the next segment's base seq is `seq + 1`.
pub const META_END_OF_DATA: u16 = 0xFF01;
/// Metadata type: clean shutdown by [`crate::Writer::seal`].
pub const META_SEAL: u16 = 0xFF02;

/// Segment file name suffix.
pub const SEGMENT_SUFFIX: &str = ".jseg";
/// Suffix of a quarantine marker written beside a corrupt segment.
pub const QUARANTINE_SUFFIX: &str = ".quarantine";

/// Rounds `n` up to a multiple of [`ALIGN`].
#[inline]
pub const fn align_up(n: usize) -> usize {
    (n + (ALIGN - 1)) & !(ALIGN - 1)
}

/// File name of the segment whose first record has `base_seq`.
pub fn segment_file_name(base_seq: u64) -> String {
    format!("{base_seq:020}{SEGMENT_SUFFIX}")
}

/// Parses a segment file name back into its base seq.
pub fn parse_segment_file_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(SEGMENT_SUFFIX)?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// The decoded, validated segment header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Format version.
    pub version: u16,
    /// Seq of the first data record in the segment.
    pub base_seq: u64,
    /// Random salt mixed into every record CRC of this segment.
    pub salt: u64,
    /// Segment size in bytes, including the header.
    pub segment_bytes: u64,
    /// Ordinal of the segment in the journal (0-based, informational).
    pub segment_index: u64,
}

/// Why a segment header is rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// Fewer than [`SEGMENT_HEADER_LEN`] bytes.
    #[error("segment shorter than its header")]
    Short,
    /// Wrong magic.
    #[error("bad segment magic")]
    BadMagic,
    /// Header CRC mismatch.
    #[error("segment header checksum mismatch")]
    BadChecksum,
    /// Version this crate cannot read.
    #[error("unsupported format version {0}")]
    UnsupportedVersion(u16),
    /// Header length or segment size out of range.
    #[error("segment header fields out of range")]
    BadGeometry,
}

impl SegmentHeader {
    /// The header of a new segment of the current format, with a fresh random salt.
    pub fn fresh(base_seq: u64, segment_bytes: u64, segment_index: u64) -> SegmentHeader {
        SegmentHeader {
            version: FORMAT_VERSION,
            base_seq,
            salt: rand::random(),
            segment_bytes,
            segment_index,
        }
    }

    /// Encodes the header into its 64 bytes.
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_LEN] {
        let mut b = [0u8; SEGMENT_HEADER_LEN];
        b[0..8].copy_from_slice(&SEGMENT_MAGIC);
        b[8..10].copy_from_slice(&self.version.to_le_bytes());
        b[10..12].copy_from_slice(&(SEGMENT_HEADER_LEN as u16).to_le_bytes());
        // 12..16 flags: reserved, zero.
        b[16..24].copy_from_slice(&self.base_seq.to_le_bytes());
        b[24..32].copy_from_slice(&self.salt.to_le_bytes());
        b[32..40].copy_from_slice(&self.segment_bytes.to_le_bytes());
        b[40..48].copy_from_slice(&self.segment_index.to_le_bytes());
        // 48..60 reserved, zero.
        let crc = crc32c::crc32c(&b[0..60]);
        b[60..64].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes and validates a header from the first bytes of a segment.
    pub fn decode(bytes: &[u8]) -> Result<SegmentHeader, HeaderError> {
        let b = bytes.get(..SEGMENT_HEADER_LEN).ok_or(HeaderError::Short)?;
        if b[0..8] != SEGMENT_MAGIC {
            return Err(HeaderError::BadMagic);
        }
        if crc32c::crc32c(&b[0..60]) != le_u32(b, 60) {
            return Err(HeaderError::BadChecksum);
        }
        let version = le_u16(b, 8);
        if version != FORMAT_VERSION {
            return Err(HeaderError::UnsupportedVersion(version));
        }
        let header_len = le_u16(b, 10) as usize;
        let segment_bytes = le_u64(b, 32);
        if header_len != SEGMENT_HEADER_LEN
            || segment_bytes < (SEGMENT_HEADER_LEN + SEGMENT_TAIL_RESERVE) as u64
            || !segment_bytes.is_multiple_of(ALIGN as u64)
        {
            return Err(HeaderError::BadGeometry);
        }
        Ok(SegmentHeader {
            version,
            base_seq: le_u64(b, 16),
            salt: le_u64(b, 24),
            segment_bytes,
            segment_index: le_u64(b, 40),
        })
    }
}

/// The fixed fields of a record header after `len_flags`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// Record type ([`crate::RecordType`] or a metadata type).
    pub record_type: u16,
    /// Payload schema version of that type.
    pub ver: u16,
    /// Sequence number (data records: contiguous from 1).
    pub seq: u64,
    /// Event time in nanoseconds since the Unix epoch.
    pub ts_ns: i64,
}

impl RecordHeader {
    /// Encodes bytes 4..24 of the record (everything but `len_flags`).
    #[inline]
    pub fn encode(&self) -> [u8; RECORD_HEADER_LEN - 4] {
        let mut b = [0u8; RECORD_HEADER_LEN - 4];
        b[0..2].copy_from_slice(&self.record_type.to_le_bytes());
        b[2..4].copy_from_slice(&self.ver.to_le_bytes());
        b[4..12].copy_from_slice(&self.seq.to_le_bytes());
        b[12..20].copy_from_slice(&self.ts_ns.to_le_bytes());
        b
    }

    /// Decodes bytes 4..24 of a record.
    #[inline]
    pub fn decode(b: &[u8; RECORD_HEADER_LEN - 4]) -> RecordHeader {
        RecordHeader {
            record_type: le_u16(b, 0),
            ver: le_u16(b, 2),
            seq: le_u64(b, 4),
            ts_ns: le_u64(b, 12) as i64,
        }
    }
}

/// A segment's salt together with the CRC-32C state after it, so each record CRC is a single
/// `crc32c_append` over the record's contiguous bytes `4..24+p` (header then payload).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Salt {
    value: u64,
    seed: u32,
}

impl Salt {
    /// The salt `value` (segment header field) and its precomputed CRC state.
    #[inline]
    pub fn new(value: u64) -> Salt {
        Salt { value, seed: crc32c::crc32c(&value.to_le_bytes()) }
    }

    /// The salt as stored in the segment header.
    #[inline]
    pub fn value(self) -> u64 {
        self.value
    }

    /// CRC-32C of `salt ‖ bytes`, where `bytes` are record bytes `4..24+p` (header then payload).
    #[inline]
    pub fn crc_of_body(self, bytes: &[u8]) -> u32 {
        crc32c::crc32c_append(self.seed, bytes)
    }
}

impl From<u64> for Salt {
    fn from(value: u64) -> Salt {
        Salt::new(value)
    }
}

/// CRC-32C of `salt ‖ header bytes 4..24 ‖ payload` (the record CRC, FORMAT.md §3).
#[inline]
pub fn record_crc(salt: Salt, header: &[u8], payload: &[u8]) -> u32 {
    crc32c::crc32c_append(salt.crc_of_body(header), payload)
}

/// Little-endian u16 at `off` (caller guarantees bounds).
#[inline]
pub fn le_u16(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

/// Little-endian u32 at `off` (caller guarantees bounds).
#[inline]
pub fn le_u32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Little-endian u64 at `off` (caller guarantees bounds).
#[inline]
pub fn le_u64(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_rejects_flips() {
        let h = SegmentHeader {
            version: FORMAT_VERSION,
            base_seq: 42,
            salt: 0xDEAD_BEEF_1234_5678,
            segment_bytes: 1 << 20,
            segment_index: 3,
        };
        let b = h.encode();
        assert_eq!(SegmentHeader::decode(&b), Ok(h));
        for bit in 0..(SEGMENT_HEADER_LEN * 8) {
            let mut c = b;
            c[bit / 8] ^= 1 << (bit % 8);
            assert!(SegmentHeader::decode(&c).is_err(), "flip of bit {bit} accepted");
        }
        assert_eq!(SegmentHeader::decode(&b[..10]), Err(HeaderError::Short));
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(segment_file_name(1), "00000000000000000001.jseg");
        assert_eq!(parse_segment_file_name(&segment_file_name(987_654)), Some(987_654));
        assert_eq!(parse_segment_file_name("x.jseg"), None);
        assert_eq!(parse_segment_file_name("00000000000000000001.tmp"), None);
    }

    #[test]
    fn salted_crc_is_one_pass_over_header_and_payload() {
        let salt = Salt::new(0x0123_4567_89AB_CDEF);
        let mut all = salt.value().to_le_bytes().to_vec();
        all.extend_from_slice(&[1u8; 20]);
        all.extend_from_slice(b"payload");
        let mut body = [1u8; 20].to_vec();
        body.extend_from_slice(b"payload");
        assert_eq!(salt.crc_of_body(&body), crc32c::crc32c(&all));
        assert_eq!(record_crc(salt, &[1u8; 20], b"payload"), crc32c::crc32c(&all));
    }

    #[test]
    fn record_header_round_trip() {
        let h = RecordHeader { record_type: 7, ver: 2, seq: 99, ts_ns: -5 };
        assert_eq!(RecordHeader::decode(&h.encode()), h);
        assert_eq!(align_up(29), 32);
        assert_eq!(META_RECORD_LEN, 32);
    }
}
