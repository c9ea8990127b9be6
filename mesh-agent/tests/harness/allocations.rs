//! Memory counted by the allocator, per thread: a test binary that installs [`Counting`] as its
//! global allocator reads the bytes live on its own thread (a `#[tokio::test]` runtime runs the
//! in-process agent, its upstreams and its clients there), deterministic where RSS and wall time
//! are not.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Size classes counted apart: powers of two up to 2^31 bytes.
const CLASSES: usize = 32;

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static LIVE_BY_CLASS: [Cell<i64>; CLASSES] = const { [const { Cell::new(0) }; CLASSES] };
}

/// The system allocator, counting what each thread allocates and frees.
pub struct Counting;

/// The size class of `size` bytes: `i` for sizes in [2^i, 2^(i+1)).
fn class(size: usize) -> usize {
    (usize::BITS - 1 - size.max(1).leading_zeros()) as usize
}

fn count(bytes: i64, allocations: u64) {
    let _ = LIVE.try_with(|live| live.set(live.get() + bytes));
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + allocations));
}

/// One more (`+1`) or one fewer (`-1`) block of `size` bytes live on this thread.
fn count_block(size: usize, change: i64) {
    let _ = LIVE_BY_CLASS.try_with(|live| {
        let cell = &live[class(size).min(CLASSES - 1)];
        cell.set(cell.get() + change);
    });
}

// SAFETY: every call is passed to `System` unchanged (its caller's guarantees with it);
// counting only reads the layouts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as i64, 1);
        count_block(layout.size(), 1);
        // SAFETY: the caller's guarantees, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as i64, 1);
        count_block(layout.size(), 1);
        // SAFETY: the caller's guarantees, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as i64), 0);
        count_block(layout.size(), -1);
        // SAFETY: the caller's guarantees, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as i64 - layout.size() as i64, 1);
        count_block(layout.size(), -1);
        count_block(new_size, 1);
        // SAFETY: the caller's guarantees, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// What this thread holds now: bytes live (allocated less freed), allocations made, and
/// blocks live by size class (`[i]`: sizes in [2^i, 2^(i+1)) bytes).
#[derive(Clone, Copy, Debug)]
pub struct Held {
    pub live_bytes: i64,
    pub allocations: u64,
    pub live_by_class: [i64; CLASSES],
}

impl Held {
    /// Blocks live now and not at `earlier`, per size class that changed: (`2^i`, blocks).
    pub fn blocks_since(&self, earlier: &Held) -> Vec<(u64, i64)> {
        let changed = self.live_by_class.iter().zip(&earlier.live_by_class);
        changed
            .enumerate()
            .filter(|(_, (now, then))| now != then)
            .map(|(i, (now, then))| (1u64 << i, now - then))
            .collect()
    }
}

/// This thread's figures (zero in a binary without [`Counting`]).
pub fn here() -> Held {
    Held {
        live_bytes: LIVE.with(Cell::get),
        allocations: ALLOCATIONS.with(Cell::get),
        live_by_class: LIVE_BY_CLASS.with(|live| live.each_ref().map(Cell::get)),
    }
}
