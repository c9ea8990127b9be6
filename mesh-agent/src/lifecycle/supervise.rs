//! Supervision of the agent's long-running tasks: a task that can be started again is restarted
//! with backoff when it ends or panics; an essential one that cannot (it owns a bound listener or
//! a source's channel) marks the agent unready and not live, so the kubelet restarts it. Either
//! way it is logged and counted (`mesh_agent_task_up{task}`, `mesh_agent_task_restarts_total{task}`).

use std::collections::BTreeSet;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;

/// The first wait before a restart; it doubles up to [`MAX_BACKOFF`] while restarts come fast.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait before a restart.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A task that ran this long before ending is restarted after [`FIRST_BACKOFF`] again.
const STABLE_RUN: Duration = Duration::from_secs(60);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    task: &'static str,
}

/// The essential tasks that have ended; cheap to clone.
#[derive(Clone, Default)]
pub struct TaskHealth {
    ended: Arc<Mutex<BTreeSet<&'static str>>>,
}

impl TaskHealth {
    /// The essential tasks that ended, by name; empty while all run.
    pub fn ended(&self) -> Vec<&'static str> {
        self.ended
            .lock()
            .expect("not poisoned")
            .iter()
            .copied()
            .collect()
    }
}

/// Runs the agent's tasks, watching each.
pub struct Supervisor {
    tasks: JoinSet<()>,
    up: Family<TaskLabels, Gauge>,
    restarts: Family<TaskLabels, Counter>,
    health: TaskHealth,
}

impl Supervisor {
    /// No task yet; registers `mesh_agent_task_up` and `mesh_agent_task_restarts_total`.
    pub fn new(registry: &mut Registry) -> Self {
        let up = Family::<TaskLabels, Gauge>::default();
        let restarts = Family::<TaskLabels, Counter>::default();
        registry.register(
            "mesh_agent_task_up",
            "Whether each of the agent's long-running tasks runs (1) or has ended (0)",
            up.clone(),
        );
        registry.register(
            "mesh_agent_task_restarts",
            "Restarts of each of the agent's long-running tasks after it ended or panicked",
            restarts.clone(),
        );
        Self {
            tasks: JoinSet::new(),
            up,
            restarts,
            health: TaskHealth::default(),
        }
    }

    /// What readiness and liveness read.
    pub fn health(&self) -> TaskHealth {
        self.health.clone()
    }

    /// Runs `task`, which the agent cannot do without and cannot start again: when it ends or
    /// panics the agent is unready and not live.
    /// Aborting the returned handle stops it without marking it ended.
    pub fn essential(
        &mut self,
        name: &'static str,
        task: impl Future<Output = ()> + Send + 'static,
    ) -> AbortHandle {
        let up = self.up.get_or_create(&TaskLabels { task: name }).clone();
        up.set(1);
        let health = self.health.clone();
        self.tasks.spawn(async move {
            let how = ended(task).await;
            up.set(0);
            health.ended.lock().expect("not poisoned").insert(name);
            tracing::error!(
                task = name,
                how,
                "essential task ended: the agent is unready and not live"
            );
        })
    }

    /// Runs the task `start` makes, and a new one after a backoff whenever it ends or panics.
    pub fn restarting<F, Fut>(&mut self, name: &'static str, start: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let labels = TaskLabels { task: name };
        let up = self.up.get_or_create(&labels).clone();
        let restarts = self.restarts.get_or_create(&labels).clone();
        self.tasks.spawn(async move {
            let mut backoff = FIRST_BACKOFF;
            loop {
                up.set(1);
                let started = Instant::now();
                let how = ended(start()).await;
                up.set(0);
                if started.elapsed() >= STABLE_RUN {
                    backoff = FIRST_BACKOFF;
                }
                tracing::warn!(task = name, how, ?backoff, "task ended: restarting it");
                tokio::time::sleep(backoff).await;
                restarts.inc();
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        });
    }

    /// Stops every task.
    pub async fn shutdown(&mut self) {
        self.tasks.shutdown().await;
    }
}

/// Runs `task` to its end: `"returned"` or `"panicked"`.
async fn ended(task: impl Future<Output = ()>) -> &'static str {
    match AssertUnwindSafe(task).catch_unwind().await {
        Ok(()) => "returned",
        Err(_) => "panicked",
    }
}

#[cfg(test)]
#[path = "supervise_tests.rs"]
mod tests;
