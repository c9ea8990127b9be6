//! The resources in force, as a build accepted them, and those it refused: what a snapshot
//! keeps of its inputs for the next build and for `/config_dump`.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::Snapshot;
use crate::document::{Origin, Problem, ResourceKey, Severity};
use crate::resources::Resource;

/// The resources in force by key (foldhash: every document is looked up on every build).
pub(crate) type AcceptedMap = HashMap<ResourceKey, Accepted, foldhash::fast::RandomState>;

/// A resource in force, shared: cloning it (every unchanged document, on every build) costs
/// a reference count, not the allocations of its origin and key.
#[derive(Clone, Debug)]
pub struct Accepted(pub(super) Arc<AcceptedResource>);

impl std::ops::Deref for Accepted {
    type Target = AcceptedResource;

    fn deref(&self) -> &AcceptedResource {
        &self.0
    }
}

/// A resource in force: where it was read and its typed form.
#[derive(Clone, Debug)]
pub struct AcceptedResource {
    pub origin: Origin,
    pub key: ResourceKey,
    pub resource: Arc<Resource>,
    /// Taken from the previous snapshot because the current version was rejected.
    pub from_previous: bool,
    /// What the document read as: origin and body (see [`Fingerprints`]).
    pub fingerprint: u64,
    /// The body it was read from: the very same `Arc` next time means the same document, known
    /// without fingerprinting it again.
    pub body: Arc<serde_json::Value>,
    /// The warnings reading it raised, repeated when an unchanged document is reused.
    pub warnings: Arc<Vec<Problem>>,
}

/// A resource the last build refused, for `/config_dump`.
#[derive(Clone, Debug, Serialize)]
pub struct Rejected {
    /// `kind/namespace/name`.
    pub resource: String,
    pub origin: Origin,
    /// The reasons, one line each.
    pub reasons: Vec<String>,
    /// Whether its last good version still serves.
    pub previous_version_serves: bool,
}

/// The version of `key` that `previous` had in force, marked as such.
pub(crate) fn last_good(previous: Option<&Snapshot>, key: &ResourceKey) -> Option<Accepted> {
    let entry = previous?.accepted.get(key)?;
    Some(Accepted(Arc::new(AcceptedResource {
        from_previous: true,
        ..(**entry).clone()
    })))
}

/// The `/config_dump` entries for the resources with errors among `problems`.
pub(crate) fn rejected(problems: &[Problem], snapshot: &Snapshot) -> Vec<Rejected> {
    let mut by_key: HashMap<ResourceKey, Rejected> = HashMap::new();
    for problem in problems.iter().filter(|p| p.severity == Severity::Error) {
        let key = ResourceKey {
            kind: problem.kind.clone(),
            namespace: problem.namespace.clone(),
            name: problem.name.clone(),
        };
        let serving = snapshot.accepted.get(&key).is_some_and(|a| a.from_previous);
        let entry = by_key.entry(key.clone()).or_insert_with(|| Rejected {
            resource: key.to_string(),
            origin: problem.origin.clone(),
            reasons: Vec::new(),
            previous_version_serves: serving,
        });
        entry
            .reasons
            .push(format!("{}: {}", problem.field, problem.message));
    }
    let mut rejected: Vec<Rejected> = by_key.into_values().collect();
    rejected.sort_by(|a, b| a.resource.cmp(&b.resource));
    rejected
}
