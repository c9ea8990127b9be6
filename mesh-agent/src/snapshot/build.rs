//! The pipeline: raw documents → typed resources → validation → one [`Snapshot`].
//!
//! Nothing is lost on bad input: a rejected resource never removes the good ones; a resource
//! that is rejected now but was accepted in `previous` keeps serving its last good version
//! (re-checked against the new configuration: if that fails too, the resource is dropped).
//! A resource deleted from the set is gone, whatever `previous` held.
//!
//! Conflicts: two VirtualServices bound to the mesh for one host in one namespace are not
//! merged (Istio merges only at gateways): the oldest by `creationTimestamp`, then by name,
//! wins and the other is rejected. At a gateway, VirtualServices for one host are merged in
//! that same order. Two DestinationRules for one host in one namespace: likewise the first wins.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::Snapshot;
use crate::resources::{parse, Resource, ResourceKey};
use crate::sources::{Origin, RawResource, ResourceSet};
use crate::validate::{Problem, Severity};

pub use super::assemble::compile;

/// A resource in force: where it was read and its typed form.
#[derive(Clone, Debug)]
pub struct Accepted {
    pub origin: Origin,
    pub key: ResourceKey,
    pub resource: Arc<Resource>,
    /// Taken from the previous snapshot because the current version was rejected.
    pub from_previous: bool,
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

/// Compiles `set` into a snapshot, reporting every problem (errors and warnings). See the
/// module doc for what happens to rejected resources.
pub fn build(set: &ResourceSet, previous: Option<&Snapshot>) -> (Snapshot, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut accepted: HashMap<ResourceKey, Accepted> = HashMap::with_capacity(set.len());
    let mut first_seen: HashMap<ResourceKey, &Origin> = HashMap::with_capacity(set.len());
    for raw in set.iter() {
        let key = ResourceKey::of(raw);
        if let Some(first) = first_seen.get(&key) {
            let message = format!("defined twice; the first definition at {first} is used");
            problems.push(Problem::error(raw, "metadata.name", message));
            continue;
        }
        first_seen.insert(key.clone(), &raw.origin);
        match read(raw, &key, &mut problems) {
            Some(entry) => drop(accepted.insert(key, entry)),
            None => {
                if let Some(entry) = last_good(previous, &key) {
                    accepted.insert(key, entry);
                }
            }
        }
    }
    let snapshot = compile(accepted, previous, &mut problems);
    (snapshot, problems)
}

fn read(raw: &RawResource, key: &ResourceKey, problems: &mut Vec<Problem>) -> Option<Accepted> {
    match parse(raw) {
        Ok(parsed) => {
            problems.extend(parsed.warnings);
            Some(Accepted {
                origin: raw.origin.clone(),
                key: key.clone(),
                resource: Arc::new(parsed.resource?),
                from_previous: false,
            })
        }
        Err(problem) => {
            problems.push(problem);
            None
        }
    }
}

/// The version of `key` that `previous` had in force, marked as such.
pub(crate) fn last_good(previous: Option<&Snapshot>, key: &ResourceKey) -> Option<Accepted> {
    let entry = previous?.accepted.get(key)?;
    Some(Accepted {
        from_previous: true,
        ..entry.clone()
    })
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
