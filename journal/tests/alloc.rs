//! `Writer::append` allocates nothing (STYLE.md §3): a counting global allocator counts the
//! allocations made by this test's thread while it appends within a mapped segment, with and
//! without the background thread (whose own allocations, on its own thread, are not counted).
// A global allocator is an `unsafe impl`; it only forwards to the system allocator.
#![allow(unsafe_code)]
#![allow(clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use crpbot_journal::{Journal, JournalConfig, RecordType};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; counting
// touches only an atomic and a const-initialised thread-local (no allocation, no reentrancy).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn appends_allocate_nothing(config: JournalConfig) {
    let d = tempfile::tempdir().unwrap();
    let mut w = Journal::open(d.path(), config).unwrap();
    let payload = [7u8; 80];
    w.append(RecordType::MARKET_EVENT, 1, 0, &payload).unwrap(); // warm up
    ALLOCATIONS.store(0, Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    // 20,000 records of 112 bytes: ~2.2 MiB, inside the first 4 MiB segment.
    for i in 1..20_000 {
        let seq = w.append(RecordType::MARKET_EVENT, 1, i, &payload).unwrap();
        assert_eq!(seq, i as u64 + 1);
    }
    COUNTING.with(|c| c.set(false));
    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed), 0, "append allocated");
    assert_eq!(w.sync().unwrap(), 20_000);
}

#[test]
fn append_allocates_nothing() {
    appends_allocate_nothing(JournalConfig::with_segment_bytes(4 << 20));
    appends_allocate_nothing(JournalConfig::with_segment_bytes(4 << 20).with_prefault_bytes(0));
}
