//! Every map the kernel programs use, with its key, value, size and writer.

use aya_ebpf::{macros::map, maps::PerCpuArray};
use mesh_common::{Counter, COUNTER_SLOTS};

/// Per-CPU event counters. Key: `Counter` slot (u32). Value: u64 count. Size: `COUNTER_SLOTS`.
/// Written by every program; read (summed over CPUs) by the agent for `/metrics`.
#[map(name = "COUNTERS")]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(COUNTER_SLOTS, 0);

/// Adds one to a counter on this CPU.
#[inline(always)]
pub fn count(counter: Counter) {
    if let Some(slot) = COUNTERS.get_ptr_mut(counter as u32) {
        // Per-CPU slot: no other writer runs on this CPU while we hold it.
        unsafe { *slot += 1 };
    }
}
