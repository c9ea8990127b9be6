//! One reload: a source's set compiled against the snapshot in force, its problems logged,
//! and the task that reloads on every update a source publishes.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::watch;

use super::{ConfigMetrics, ConfigState, ReloadResult};
use crate::document::Problem;
use crate::document::{SourceProblem, SourceUpdate};
use crate::snapshot::{build_with, LoadSettings, Snapshot};

/// What a reload found besides the snapshot: every problem of the resources (errors and
/// warnings) and what the source could not read.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Reload {
    /// Resource problems, `file:line:column: kind/ns/name: field: message`.
    pub problems: Vec<Problem>,
    /// Files or objects the source could not read; their previous documents stay in force.
    pub source_problems: Vec<SourceProblem>,
}

impl Reload {
    /// Resources refused by this reload (errors only) plus the documents the source could not
    /// read: what `mesh_config_rejected_resources` reports.
    pub fn rejected(&self, snapshot: &Snapshot) -> usize {
        snapshot.rejected().len() + self.source_problems.len()
    }

    /// How the reload went, for `mesh_config_reloads_total{result}`.
    pub fn result(&self) -> ReloadResult {
        if self.problems.iter().any(Problem::is_error) {
            ReloadResult::RejectedResources
        } else if !self.source_problems.is_empty() {
            ReloadResult::SourceErrors
        } else {
            ReloadResult::Success
        }
    }
}

/// Compiles `update` with `previous` in force; logs every problem.
pub(super) fn compile(
    update: &SourceUpdate,
    previous: &Snapshot,
    load: &LoadSettings,
) -> (Snapshot, Reload) {
    let (snapshot, problems) = build_with(&update.resources, Some(previous), load);
    let reload = Reload {
        problems,
        source_problems: update.problems.as_ref().clone(),
    };
    log(&reload, &snapshot);
    (snapshot, reload)
}

fn log(reload: &Reload, snapshot: &Snapshot) {
    for problem in &reload.source_problems {
        tracing::warn!(%problem, "config document not read; its previous version stays");
    }
    for problem in &reload.problems {
        match problem.is_error() {
            true => tracing::warn!(%problem, "config resource rejected"),
            false => tracing::info!(%problem, "config warning"),
        }
    }
    tracing::info!(
        resources = snapshot.resource_count(),
        services = snapshot.registry().services().len(),
        rejected = reload.rejected(snapshot),
        "config snapshot swapped in"
    );
}

/// Reloads `state` on every update published on `updates`, until the source is gone; what the
/// set carries that the mesh does not act on is logged once per resource version and counted.
/// Subscribe before the source publishes its first set: the value current at subscription is
/// taken as seen. A build that panics is counted as `failed` and the old snapshot keeps serving.
pub async fn run(
    mut updates: watch::Receiver<SourceUpdate>,
    state: ConfigState,
    metrics: Arc<ConfigMetrics>,
) {
    while updates.changed().await.is_ok() {
        let update = updates.borrow_and_update().clone();
        let (target, observer) = (state.clone(), metrics.clone());
        // Counted before the swap: whoever sees the new generation sees its counts too.
        let reload = move || {
            observer.unsupported.observe(&update.resources);
            target.apply_then(&update, |reload, snapshot| {
                observer.record(reload.result(), reload.rejected(snapshot));
            })
        };
        if let Err(error) = tokio::task::spawn_blocking(reload).await {
            tracing::error!(%error, "config build failed; the previous snapshot keeps serving");
            metrics.record_failure();
        }
    }
    tracing::info!("config source closed; the last snapshot keeps serving");
}
