//! The durable watermark file `durable.wm`: two 32-byte checksummed slots written alternately,
//! so a torn write of one slot always leaves the other one readable.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// File name of the watermark inside a journal directory.
pub const WATERMARK_FILE: &str = "durable.wm";
/// Slot magic.
pub const WATERMARK_MAGIC: [u8; 4] = *b"CRPW";
/// Bytes per slot.
pub const SLOT_LEN: usize = 32;

/// A decoded watermark slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatermarkSlot {
    /// Incremented at each write; the higher valid slot wins.
    pub generation: u64,
    /// Every data record with `seq <= durable_seq` is on stable storage.
    pub durable_seq: u64,
}

impl WatermarkSlot {
    /// Encodes the slot.
    pub fn encode(&self) -> [u8; SLOT_LEN] {
        let mut b = [0u8; SLOT_LEN];
        b[0..4].copy_from_slice(&WATERMARK_MAGIC);
        b[4..6].copy_from_slice(&1u16.to_le_bytes());
        b[8..16].copy_from_slice(&self.generation.to_le_bytes());
        b[16..24].copy_from_slice(&self.durable_seq.to_le_bytes());
        let crc = crc32c::crc32c(&b[0..28]);
        b[28..32].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes a slot; `None` when it is not a valid slot.
    pub fn decode(b: &[u8]) -> Option<WatermarkSlot> {
        let b = b.get(..SLOT_LEN)?;
        if b[0..4] != WATERMARK_MAGIC
            || crate::format::le_u16(b, 4) != 1
            || crc32c::crc32c(&b[0..28]) != crate::format::le_u32(b, 28)
        {
            return None;
        }
        Some(WatermarkSlot {
            generation: crate::format::le_u64(b, 8),
            durable_seq: crate::format::le_u64(b, 16),
        })
    }
}

/// Reads the current watermark of `dir` (0 when absent or unreadable).
pub fn read_watermark(dir: &Path) -> io::Result<WatermarkSlot> {
    let path = dir.join(WATERMARK_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    Ok(best_slot(&bytes))
}

fn best_slot(bytes: &[u8]) -> WatermarkSlot {
    let a = bytes.get(..SLOT_LEN).and_then(WatermarkSlot::decode);
    let b = bytes.get(SLOT_LEN..).and_then(WatermarkSlot::decode);
    match (a, b) {
        (Some(a), Some(b)) => {
            if a.generation >= b.generation {
                a
            } else {
                b
            }
        }
        (Some(s), None) | (None, Some(s)) => s,
        (None, None) => WatermarkSlot { generation: 0, durable_seq: 0 },
    }
}

/// The open watermark file of a writer.
#[derive(Debug)]
pub struct Watermark {
    file: File,
    current: WatermarkSlot,
}

impl Watermark {
    /// Opens (creating) the watermark file of `dir`.
    pub fn open(dir: &Path) -> io::Result<Watermark> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(WATERMARK_FILE))?;
        let mut bytes = [0u8; 2 * SLOT_LEN];
        let len = file.metadata()?.len() as usize;
        let n = len.min(bytes.len());
        file.read_exact_at(&mut bytes[..n], 0)?;
        Ok(Watermark { file, current: best_slot(&bytes[..n]) })
    }

    /// The last persisted durable seq.
    pub fn durable_seq(&self) -> u64 {
        self.current.durable_seq
    }

    /// Persists `durable_seq`: writes the older slot, then `fdatasync`.
    pub fn persist(&mut self, durable_seq: u64) -> io::Result<()> {
        let next = WatermarkSlot { generation: self.current.generation + 1, durable_seq };
        let slot = next.generation % 2;
        self.file.write_all_at(&next.encode(), slot * SLOT_LEN as u64)?;
        self.file.sync_data()?;
        self.current = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternating_slots_survive_a_torn_slot() {
        let d = tempfile::tempdir().expect("tempdir");
        let mut w = Watermark::open(d.path()).expect("open");
        assert_eq!(w.durable_seq(), 0);
        w.persist(5).expect("persist");
        w.persist(9).expect("persist");
        assert_eq!(read_watermark(d.path()).expect("read").durable_seq, 9);
        // Tear the newest slot (generation 2 lives in slot 0): the older one is used.
        let p = d.path().join(WATERMARK_FILE);
        let mut b = std::fs::read(&p).expect("read");
        b[20] ^= 0xFF;
        std::fs::write(&p, &b).expect("write");
        assert_eq!(read_watermark(d.path()).expect("read").durable_seq, 5);
        let w = Watermark::open(d.path()).expect("reopen");
        assert_eq!(w.durable_seq(), 5);
    }
}
