//! Freed heap given back to the system. glibc keeps what a wave of connections freed in its
//! arenas (one per runtime thread), so the agent's RSS would stay at its peak after they close;
//! a look every few seconds trims the arenas (`malloc_trim`) once much was freed since the
//! last trim. Elsewhere than glibc this does nothing.

use std::time::Duration;

/// How often the allocator's free memory is looked at.
pub const LOOK_EVERY: Duration = Duration::from_secs(5);
/// Freed memory, beyond what was free after the last trim, that calls for a trim.
pub const TRIM_ABOVE: u64 = 4 * 1024 * 1024;

/// When to trim, from the bytes the allocator holds free at each look.
#[derive(Debug, Default)]
pub struct TrimWhenFreed {
    /// The least free seen since the last trim (what the next trim is measured against).
    least_free: Option<u64>,
}

impl TrimWhenFreed {
    /// Whether to trim now that `free` bytes are held free.
    pub fn should_trim(&mut self, free: u64) -> bool {
        let least = self.least_free.map_or(free, |least| least.min(free));
        let trim = free > least + TRIM_ABOVE;
        self.least_free = Some(if trim { free } else { least });
        trim
    }
}

/// Bytes the allocator holds free in its arenas (`None` where that is not known).
pub fn held_free() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads the allocator's statistics.
        let info = unsafe { libc::mallinfo2() };
        Some(info.fordblks as u64)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    None
}

/// Gives the free pages of every arena back to the system; whether any were.
pub fn trim() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim has no preconditions; it only releases free pages.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

/// Runs for the agent's life: trims whenever [`TrimWhenFreed`] says so.
pub async fn give_back_freed_heap() {
    let mut when = TrimWhenFreed::default();
    let mut looks = tokio::time::interval(LOOK_EVERY);
    looks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        looks.tick().await;
        let Some(free) = held_free() else {
            return std::future::pending().await;
        };
        if when.should_trim(free) {
            let released = tokio::task::spawn_blocking(trim).await.unwrap_or(false);
            tracing::debug!(free, released, "freed heap trimmed");
        }
    }
}

/// When a trim is due (a table), and that a trim gives a fragmented arena's free pages back
/// (the process's RSS, read from `/proc/self/status`).
#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn a_trim_is_due_once_much_was_freed_since_the_least_seen() {
        let mut when = TrimWhenFreed::default();
        let looks = [
            (10 * MIB, false), // the first look sets the base
            (12 * MIB, false), // 2 MiB freed: not enough
            (3 * MIB, false),  // reused: the base falls to 3 MiB
            (8 * MIB, true),   // 5 MiB freed since: trim, the base is now 8 MiB
            (11 * MIB, false),
            (13 * MIB, true),
        ];
        for (free, due) in looks {
            assert_eq!(when.should_trim(free), due, "at {} MiB free", free / MIB);
        }
    }

    fn rss_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_trim_gives_back_the_free_pages_of_a_fragmented_arena() {
        // 64 MiB in connection-sized blocks on a thread of its own (its own arena), then all but
        // every 64th freed: the survivors keep the arena's top, so glibc keeps the free pages
        // until trimmed.
        let (freed_rss, trimmed_rss) = std::thread::spawn(|| {
            let blocks: Vec<Vec<u8>> = (0..4096).map(|_| vec![1u8; 16 * 1024]).collect();
            let kept: Vec<Vec<u8>> = blocks.into_iter().step_by(64).collect();
            let freed = rss_kib();
            assert!(trim(), "a trim released pages");
            let trimmed = rss_kib();
            drop(kept);
            (freed, trimmed)
        })
        .join()
        .unwrap();
        let given_back_mib = freed_rss.saturating_sub(trimmed_rss) / 1024;
        assert!(given_back_mib >= 32, "{given_back_mib} MiB given back");
    }
}
