//! The pipeline: raw documents → typed resources → validation → one [`Snapshot`].
//!
//! Nothing is lost on bad input: a rejected resource never removes the good ones; a resource
//! that is rejected now but was accepted in `previous` keeps serving its last good version
//! (re-checked against the new configuration: if that fails too, the resource is dropped).
//! A resource whose reading or checking panics is rejected the same way, alone ([`contain`]).
//! A resource deleted from the set is gone, whatever `previous` held.
//!
//! Conflicts: two VirtualServices bound to the mesh for one host in one namespace are not
//! merged (Istio merges only at gateways): the oldest by `creationTimestamp`, then by name,
//! wins and the other is rejected. At a gateway, VirtualServices for one host are merged in
//! that same order. Two DestinationRules for one host in one namespace: likewise the first wins.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::contain::contain;
use super::fingerprint::Fingerprints;
use super::resolved::ResolvedNames;
use super::Snapshot;
use crate::document::ResourceKey;
use crate::document::{namespace_of, Problem, Severity};
use crate::document::{Origin, RawResource, ResourceSet};
use crate::resources::{parse, Parsed, Resource};
use crate::validate;
use crate::validate::access_log_file::{self, access_log_target, DEFAULT_ACCESS_LOG_DIR};
use crate::validate::tls_files;

pub use super::assemble::compile;

/// The resources in force by key (foldhash: every document is looked up on every build).
pub(crate) type AcceptedMap = HashMap<ResourceKey, Accepted, foldhash::fast::RandomState>;

/// A resource in force, shared: cloning it (every unchanged document, on every build) costs
/// a reference count, not the allocations of its origin and key.
#[derive(Clone, Debug)]
pub struct Accepted(Arc<AcceptedResource>);

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

/// What a build reads besides the resources: the agent's own settings, and the addresses it
/// resolved for DNS ServiceEntries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadSettings {
    /// The only directory `accessLogFile` may name a file in (`--access-log-dir`).
    pub access_log_dir: std::path::PathBuf,
    /// The only directory DestinationRule certificate files may be in (`--tls-file-dir`).
    pub tls_file_dir: std::path::PathBuf,
    /// What the agent's resolver answered for the DNS names of ServiceEntries.
    pub names: Arc<ResolvedNames>,
}

impl Default for LoadSettings {
    fn default() -> Self {
        Self {
            access_log_dir: DEFAULT_ACCESS_LOG_DIR.into(),
            tls_file_dir: tls_files::DEFAULT_TLS_FILE_DIR.into(),
            names: Arc::default(),
        }
    }
}

/// [`build_with`] the default [`LoadSettings`].
pub fn build(set: &ResourceSet, previous: Option<&Snapshot>) -> (Snapshot, Vec<Problem>) {
    build_with(set, previous, &LoadSettings::default())
}

/// Compiles `set` into a snapshot, reporting every problem (errors and warnings). See the
/// module doc for what happens to rejected resources.
pub fn build_with(
    set: &ResourceSet,
    previous: Option<&Snapshot>,
    settings: &LoadSettings,
) -> (Snapshot, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut accepted = AcceptedMap::with_capacity_and_hasher(set.len(), Default::default());
    let mut first_seen: HashMap<(&str, &str, &str), &Origin, foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(set.len(), Default::default());
    let mut fingerprints = Fingerprints::default();
    for raw in set.iter() {
        let identity = (raw.kind.as_str(), namespace_of(raw), raw.name.as_str());
        if let Some(first) = first_seen.get(&identity) {
            let message = format!("defined twice; the first definition at {first} is used");
            problems.push(Problem::error(raw, "metadata.name", message));
            continue;
        }
        first_seen.insert(identity, &raw.origin);
        let key = ResourceKey::of(raw);
        let fingerprint = fingerprints.of(raw);
        if let Some(entry) = unchanged(previous, &key, fingerprint) {
            problems.extend(entry.warnings.iter().cloned());
            accepted.insert(key, entry);
            continue;
        }
        match read(raw, &key, fingerprint, &mut problems, settings) {
            Some(entry) => drop(accepted.insert(key, entry)),
            None => {
                if let Some(entry) = last_good(previous, &key) {
                    accepted.insert(key, entry);
                }
            }
        }
    }
    let mut snapshot = compile(accepted, previous, &settings.names, &mut problems);
    let access_log = access_log_target(&snapshot.mesh.access_log_file, &settings.access_log_dir);
    snapshot.access_log = access_log.unwrap_or_default();
    snapshot.tls_file_dir.clone_from(&settings.tls_file_dir);
    (snapshot, problems)
}

fn read(
    raw: &RawResource,
    key: &ResourceKey,
    fingerprint: u64,
    problems: &mut Vec<Problem>,
    settings: &LoadSettings,
) -> Option<Accepted> {
    let parsed = match contain(&raw.origin, key, || checked(raw, settings)) {
        Ok(Ok(parsed)) => parsed,
        Ok(Err(found)) => {
            problems.extend(found);
            return None;
        }
        Err(panicked) => {
            problems.push(panicked);
            return None;
        }
    };
    problems.extend(parsed.warnings.iter().cloned());
    Some(Accepted(Arc::new(AcceptedResource {
        origin: raw.origin.clone(),
        key: key.clone(),
        resource: Arc::new(parsed.resource?),
        from_previous: false,
        fingerprint,
        warnings: Arc::new(parsed.warnings),
    })))
}

/// `raw` typed and valid (Istio's rules, numbers in range, `accessLogFile` within its
/// directory), with the warnings reading and validating it raised; else every problem that
/// rejects it (with those warnings).
fn checked(raw: &RawResource, settings: &LoadSettings) -> Result<Parsed, Vec<Problem>> {
    let mut parsed = parse(raw).map_err(|problem| vec![problem])?;
    let found = match &parsed.resource {
        Some(resource) => {
            let mut found = validate::check(raw, resource);
            found.extend(access_log_file::check(
                raw,
                resource,
                &settings.access_log_dir,
            ));
            found.extend(tls_files::check(raw, resource, &settings.tls_file_dir));
            found
        }
        None => Vec::new(),
    };
    let (errors, warnings): (Vec<Problem>, Vec<Problem>) =
        found.into_iter().partition(Problem::is_error);
    parsed.warnings.extend(warnings);
    match errors.is_empty() {
        true => Ok(parsed),
        false => Err(parsed.warnings.into_iter().chain(errors).collect()),
    }
}

/// `previous`'s typed resource for `key` when the document is unchanged: not parsed again.
fn unchanged(previous: Option<&Snapshot>, key: &ResourceKey, fingerprint: u64) -> Option<Accepted> {
    let entry = previous?.accepted.get(key)?;
    (!entry.from_previous && entry.fingerprint == fingerprint).then(|| entry.clone())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::parse_documents;

    fn set(yaml: &str) -> ResourceSet {
        Arc::new(parse_documents(std::path::Path::new("t.yaml"), yaml).unwrap())
    }

    #[test]
    fn an_unchanged_document_is_reused_and_a_changed_one_read_again() {
        let service =
            "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 80}]}\n";
        let pod = |ip: &str| {
            format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nstatus: {{podIP: {ip}}}\n")
        };
        let (first, _) = build(&set(&format!("{service}---\n{}", pod("10.0.0.1"))), None);
        let (next, _) = build(
            &set(&format!("{service}---\n{}", pod("10.0.0.2"))),
            Some(&first),
        );
        let resource = |s: &Snapshot, kind: &str, name: &str| {
            let key = ResourceKey {
                kind: kind.into(),
                namespace: "default".into(),
                name: name.into(),
            };
            s.accepted[&key].resource.clone()
        };
        assert!(Arc::ptr_eq(
            &resource(&first, "Service", "a"),
            &resource(&next, "Service", "a")
        ));
        assert!(!Arc::ptr_eq(
            &resource(&first, "Pod", "p"),
            &resource(&next, "Pod", "p")
        ));
        assert!(next.workload("10.0.0.2".parse().unwrap()).is_some());
    }
}
