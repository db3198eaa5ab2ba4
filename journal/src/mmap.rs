//! The journal's only unsafe code: raw access to a shared file mapping.
//!
//! [`Mapping`] wraps a [`memmap2::MmapRaw`] (which never creates Rust references itself) and
//! exposes exactly four operations: acquire-load and release-store of a `len_flags` word through
//! [`AtomicU32::from_ptr`], a bounds-checked copy into the mapping, and a bounds-checked shared
//! slice of committed bytes. [`Populator`] (safe code only) lets the writer's background thread
//! pre-fault pages of the same mapping with `madvise(MADV_POPULATE_WRITE)`, which maps pages
//! writable without reading or writing their contents.
//!
//! Soundness rests on the journal invariants stated in `journal/FORMAT.md` ("Concurrency"):
//! one writer per journal directory (an exclusive `LOCK` file lock), `len_flags` words touched
//! only atomically, record bodies written only before their final `len_flags` is published and
//! never rewritten afterwards, and bodies read only after an acquire-load observed that final
//! `len_flags` (or with no live writer, during recovery and offline reads). Files are
//! preallocated to their full length before they are mapped, so an in-bounds access never faults
//! with SIGBUS unless another program truncates the file underneath us.
#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]

use std::fs::File;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use memmap2::{Advice, MmapOptions, MmapRaw};

use crate::protocol::RecordBuf;

/// A shared mapping of a whole segment file. The address range stays mapped while the
/// `Mapping` or any [`Populator`] of it is alive.
#[derive(Debug)]
pub struct Mapping {
    raw: Arc<MmapRaw>,
    writable: bool,
}

impl Mapping {
    /// Maps all of `file` read-write (`MAP_SHARED`).
    pub fn map_rw(file: &File) -> io::Result<Mapping> {
        let raw = MmapOptions::new().map_raw(file)?;
        Ok(Mapping { raw: Arc::new(raw), writable: true })
    }

    /// Maps all of `file` read-only (`MAP_SHARED`).
    pub fn map_ro(file: &File) -> io::Result<Mapping> {
        let raw = MmapOptions::new().map_raw_read_only(file)?;
        Ok(Mapping { raw: Arc::new(raw), writable: false })
    }

    /// A handle that pre-faults pages of this (writable) mapping from another thread.
    pub fn populator(&self) -> Populator {
        Populator { raw: Arc::clone(&self.raw) }
    }

    /// Length of the mapping in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// True when the mapping is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.raw.len() == 0
    }

    #[inline]
    fn check(&self, off: usize, len: usize) {
        assert!(off.checked_add(len).is_some_and(|end| end <= self.raw.len()), "mapping bounds");
    }

    #[inline]
    fn word(&self, off: usize) -> &AtomicU32 {
        self.check(off, 4);
        assert!(off.is_multiple_of(4), "len_flags must be 4-aligned");
        // SAFETY: `off + 4 <= len` (checked above) and the mapping base is page-aligned, so the
        // pointer is in bounds, non-null and 4-aligned. The mapping lives as long as `self`, so
        // the returned reference cannot outlive it. Every access to a `len_flags` word goes
        // through this atomic (module invariant), so there is no mixed atomic/non-atomic access.
        unsafe { AtomicU32::from_ptr(self.raw.as_mut_ptr().add(off).cast::<u32>()) }
    }

    /// Shared view of `len` committed bytes at `off`.
    ///
    /// The caller only asks for bytes the writer will not touch again (a record whose final
    /// `len_flags` it acquire-loaded, or any bytes when no writer is live); see the module docs.
    #[inline]
    pub fn bytes(&self, off: usize, len: usize) -> &[u8] {
        self.check(off, len);
        // SAFETY: the range is in bounds (checked above) of a mapping that lives as long as
        // `&self`; by the journal invariants no one writes to these bytes while the slice lives.
        unsafe { std::slice::from_raw_parts(self.raw.as_ptr().add(off), len) }
    }

    /// Writes zeros over `len` bytes at `off` (recovery only: no reader of this range exists).
    pub fn zero(&self, off: usize, len: usize) {
        assert!(self.writable, "write through a read-only mapping");
        self.check(off, len);
        // SAFETY: in bounds (checked), writable mapping (checked); the writer holds the journal
        // lock and recovery runs before any record in this range has been published.
        unsafe { std::ptr::write_bytes(self.raw.as_mut_ptr().add(off), 0, len) }
    }

    /// `msync(MS_SYNC)` of a byte range.
    pub fn flush_range(&self, off: usize, len: usize) -> io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        self.check(off, len);
        self.raw.flush_range(off, len)
    }
}

/// Pre-faults pages of a writable [`Mapping`], typically from the writer's background thread, so
/// the writer's first store to a page does not take a page fault. Only `madvise` is called: the
/// contents are neither read nor written, so no synchronisation with the writer is needed.
#[derive(Clone, Debug)]
pub struct Populator {
    raw: Arc<MmapRaw>,
}

impl Populator {
    /// Length of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// True when the mapping is empty.
    pub fn is_empty(&self) -> bool {
        self.raw.len() == 0
    }

    /// `madvise(MADV_POPULATE_WRITE)` over `len` bytes at `off` (clamped to the mapping): the
    /// pages are allocated in the page cache (zero-filled for preallocated extents) and mapped
    /// writable. Fails with `EINVAL` on kernels before 5.14.
    pub fn populate_write(&self, off: usize, len: usize) -> io::Result<()> {
        let end = off.saturating_add(len).min(self.raw.len());
        if off >= end {
            return Ok(());
        }
        self.raw.advise_range(Advice::PopulateWrite, off, end - off)
    }
}

impl RecordBuf for Mapping {
    #[inline]
    fn capacity(&self) -> usize {
        self.raw.len()
    }

    #[inline]
    fn load_len_flags(&self, off: usize) -> u32 {
        self.word(off).load(Ordering::Acquire)
    }

    #[inline]
    fn store_len_flags(&self, off: usize, value: u32) {
        assert!(self.writable, "write through a read-only mapping");
        self.word(off).store(value, Ordering::Release);
    }

    #[inline]
    fn write_bytes(&self, off: usize, src: &[u8]) {
        assert!(self.writable, "write through a read-only mapping");
        self.check(off, src.len());
        // SAFETY: destination in bounds (checked) of a writable mapping (checked); `src` is a
        // Rust slice and cannot overlap the mapping's unpublished bytes that only the single
        // writer touches; no reader reads them before the release store that publishes them.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), self.raw.as_mut_ptr().add(off), src.len())
        }
    }

    #[inline]
    fn with_bytes<R>(&self, off: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> R {
        f(self.bytes(off, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, SeekFrom};

    fn file(len: u64) -> (tempfile::TempDir, File) {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join("m"))
            .expect("open");
        f.set_len(len).expect("set_len");
        (dir, f)
    }

    // Covers `word` (load and store), `write_bytes`, `bytes`, `zero` and `flush_range`.
    #[test]
    fn every_unsafe_site_round_trips_through_the_file() {
        let (_d, mut f) = file(4096);
        let m = Mapping::map_rw(&f).expect("map");
        assert_eq!(m.len(), 4096);
        m.store_len_flags(8, 0xABCD_0123);
        assert_eq!(m.load_len_flags(8), 0xABCD_0123);
        m.write_bytes(100, b"journal");
        assert_eq!(m.bytes(100, 7), b"journal");
        m.with_bytes(100, 7, |b| assert_eq!(b, b"journal"));
        m.flush_range(0, 4096).expect("msync");
        let mut on_disk = vec![0u8; 4096];
        f.seek(SeekFrom::Start(0)).expect("seek");
        f.read_exact(&mut on_disk).expect("read");
        assert_eq!(&on_disk[100..107], b"journal");
        assert_eq!(&on_disk[8..12], &0xABCD_0123u32.to_le_bytes());
        m.zero(100, 7);
        assert_eq!(m.bytes(100, 7), &[0; 7]);
        let ro = Mapping::map_ro(&f).expect("map ro");
        assert_eq!(ro.load_len_flags(8), 0xABCD_0123);
        assert!(!ro.is_empty());
    }

    #[test]
    fn populate_write_leaves_contents_alone_and_outlives_the_mapping() {
        let (_d, f) = file(4 * 4096);
        let m = Mapping::map_rw(&f).expect("map");
        m.write_bytes(5000, b"kept");
        let p = m.populator();
        assert_eq!(p.len(), 4 * 4096);
        assert!(!p.is_empty());
        p.populate_write(0, 1 << 20).expect("populate (clamped)");
        p.populate_write(1 << 20, 10).expect("past the end: nothing to do");
        assert_eq!(m.bytes(5000, 4), b"kept");
        assert_eq!(m.bytes(0, 8), &[0; 8]);
        drop(m);
        p.populate_write(0, 4096).expect("mapping still alive through the populator");
    }

    #[test]
    #[should_panic(expected = "mapping bounds")]
    fn out_of_bounds_read_panics_instead_of_faulting() {
        let (_d, f) = file(4096);
        let m = Mapping::map_ro(&f).expect("map");
        let _ = m.bytes(4090, 7);
    }

    #[test]
    #[should_panic(expected = "read-only")]
    fn write_through_read_only_mapping_panics() {
        let (_d, f) = file(4096);
        let m = Mapping::map_ro(&f).expect("map");
        m.write_bytes(0, b"x");
    }

    #[test]
    #[should_panic(expected = "4-aligned")]
    fn misaligned_len_flags_panics() {
        let (_d, f) = file(4096);
        let m = Mapping::map_ro(&f).expect("map");
        let _ = m.load_len_flags(2);
    }
}
