//! The liveness watchdog: a thread of its own (so it still runs when the runtime does not)
//! checks every [`CHECK_EVERY`] that the runtime's workers make progress, two ways:
//!
//! - a probe task spawned onto the runtime must run within the bound (no worker free to run
//!   anything, or a scheduler that no longer polls, fails it);
//! - per worker, from tokio's stable runtime metrics: a worker that is not parked and whose park
//!   count and busy time have not moved for the bound is stuck inside one poll (a blocking call
//!   or a loop on a worker thread). Tokio cannot run a task on a chosen worker, but a worker
//!   publishes its busy time at least every 61 polls and whenever it parks, so only a worker
//!   stuck in one poll (or a handful of very slow ones) stays still that long; the connections
//!   queued on it are stuck with it.
//!
//! `/healthz/live` answers from the last verdict, together with the essential tasks' health.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;

use super::supervise::TaskHealth;

/// How often the watchdog checks.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long a probe task may wait to run, and a worker may stay still, before liveness fails.
pub const STALL_BOUND: Duration = Duration::from_secs(5);

/// Whether the agent is live: workers making progress and no essential task ended.
#[derive(Clone)]
pub struct Liveness {
    verdict: Arc<Mutex<Result<(), String>>>,
    tasks: TaskHealth,
}

impl Liveness {
    /// Starts the watchdog thread over `runtime`, checking every `every` against `bound`; it
    /// stops once every clone of the returned handle is dropped.
    pub fn watch(runtime: Handle, tasks: TaskHealth, every: Duration, bound: Duration) -> Self {
        let verdict = Arc::new(Mutex::new(Ok(())));
        let watched = Arc::downgrade(&verdict);
        std::thread::Builder::new()
            .name("mesh-watchdog".into())
            .spawn(move || watch(&runtime, &watched, every, bound))
            .expect("a thread starts");
        Self { verdict, tasks }
    }

    /// `Ok` while live, else what is wrong.
    pub fn check(&self) -> Result<(), String> {
        let ended = self.tasks.ended();
        if !ended.is_empty() {
            return Err(format!("essential tasks ended: {}", ended.join(", ")));
        }
        self.verdict.lock().expect("not poisoned").clone()
    }
}

/// The watchdog thread's loop.
fn watch(
    runtime: &Handle,
    verdict: &Weak<Mutex<Result<(), String>>>,
    every: Duration,
    bound: Duration,
) {
    let mut workers = Workers::new(runtime);
    loop {
        let probe = probe(runtime, bound);
        let stuck = workers.stuck(runtime, bound);
        let now = match (probe, stuck.is_empty()) {
            (Ok(()), true) => Ok(()),
            (Ok(()), false) => Err(format!(
                "runtime workers {stuck:?} stuck for over {bound:?}"
            )),
            (Err(probe), _) => Err(probe),
        };
        let Some(verdict) = verdict.upgrade() else {
            return;
        };
        if let Err(why) = &now {
            tracing::error!(why, "watchdog: the data path is not making progress");
        }
        *verdict.lock().expect("not poisoned") = now;
        drop(verdict);
        std::thread::sleep(every);
    }
}

/// Spawns a task on `runtime` and waits for it to run, at most `bound`.
fn probe(runtime: &Handle, bound: Duration) -> Result<(), String> {
    let (ran, runs) = std::sync::mpsc::channel();
    runtime.spawn(async move {
        let _ = ran.send(());
    });
    runs.recv_timeout(bound)
        .map_err(|_| format!("a probe task did not run within {bound:?}"))
}

/// What each worker last showed, and since when.
struct Workers {
    last: Vec<(u64, Duration, Instant)>,
}

impl Workers {
    fn new(runtime: &Handle) -> Self {
        let metrics = runtime.metrics();
        let now = Instant::now();
        let last = (0..metrics.num_workers())
            .map(|w| {
                let seen = (
                    metrics.worker_park_unpark_count(w),
                    metrics.worker_total_busy_duration(w),
                );
                (seen.0, seen.1, now)
            })
            .collect();
        Self { last }
    }

    /// The workers neither parked nor seen to move for `bound`.
    fn stuck(&mut self, runtime: &Handle, bound: Duration) -> Vec<usize> {
        let metrics = runtime.metrics();
        let now = Instant::now();
        let mut stuck = Vec::new();
        for (worker, last) in self.last.iter_mut().enumerate() {
            let parks = metrics.worker_park_unpark_count(worker);
            let busy = metrics.worker_total_busy_duration(worker);
            // An odd count: the worker is parked, waiting for work.
            if parks % 2 == 1 || parks != last.0 || busy != last.1 {
                *last = (parks, busy, now);
            } else if now.duration_since(last.2) > bound {
                stuck.push(worker);
            }
        }
        stuck
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime(workers: usize) -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .unwrap()
    }

    fn wait_for(liveness: &Liveness, live: bool) -> Result<(), String> {
        let until = Instant::now() + Duration::from_secs(10);
        while liveness.check().is_ok() != live && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        liveness.check()
    }

    const EVERY: Duration = Duration::from_millis(50);
    const BOUND: Duration = Duration::from_millis(300);

    #[test]
    fn idle_and_busy_workers_are_live() {
        let runtime = runtime(2);
        let liveness = Liveness::watch(
            runtime.handle().clone(),
            TaskHealth::default(),
            EVERY,
            BOUND,
        );
        // Busy with many short polls for longer than the bound: progress, not a stall.
        runtime.spawn(async {
            let until = tokio::time::Instant::now() + Duration::from_secs(1);
            while tokio::time::Instant::now() < until {
                tokio::task::yield_now().await;
            }
        });
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(liveness.check(), Ok(()));
    }

    #[test]
    fn one_blocked_worker_fails_liveness_and_recovers() {
        let runtime = runtime(2);
        let liveness = Liveness::watch(
            runtime.handle().clone(),
            TaskHealth::default(),
            EVERY,
            BOUND,
        );
        assert_eq!(wait_for(&liveness, true), Ok(()));
        // A task blocking its worker thread, as a hung data path would; the other worker is free.
        runtime.spawn(async { std::thread::sleep(Duration::from_secs(2)) });
        let failed = wait_for(&liveness, false).expect_err("a stuck worker fails liveness");
        assert!(failed.contains("stuck"), "{failed}");
        assert_eq!(
            wait_for(&liveness, true),
            Ok(()),
            "live again once the worker moves"
        );
    }

    #[test]
    fn every_worker_blocked_fails_the_probe() {
        let runtime = runtime(1);
        let liveness = Liveness::watch(
            runtime.handle().clone(),
            TaskHealth::default(),
            EVERY,
            BOUND,
        );
        runtime.spawn(async { std::thread::sleep(Duration::from_secs(2)) });
        let failed = wait_for(&liveness, false).expect_err("a blocked runtime fails liveness");
        assert!(
            failed.contains("probe") || failed.contains("stuck"),
            "{failed}"
        );
    }
}
