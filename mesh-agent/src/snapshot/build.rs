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

use super::accepted::{last_good, Accepted, AcceptedMap, AcceptedResource};
use super::contain::contain;
use super::fingerprint::Fingerprints;
use super::incremental::{endpoints_only, Changes};
use super::resolved::ResolvedNames;
use super::Snapshot;
use crate::document::ResourceKey;
use crate::document::{namespace_of, Problem};
use crate::document::{Origin, RawResource, ResourceSet};
use crate::resources::{parse, Parsed};
use crate::validate;
use crate::validate::access_log_file::{self, access_log_target, DEFAULT_ACCESS_LOG_DIR};
use crate::validate::tls_files;

pub use super::assemble::compile;

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
    let mut read_afresh = Vec::new();
    for raw in set.iter() {
        let identity = (raw.kind.as_str(), namespace_of(raw), raw.name.as_str());
        if let Some(first) = first_seen.get(&identity) {
            let message = format!("defined twice; the first definition at {first} is used");
            problems.push(Problem::error(raw, "metadata.name", message));
            continue;
        }
        first_seen.insert(identity, &raw.origin);
        let key = ResourceKey::of(raw);
        let fingerprint = match unchanged(previous, &key, raw, &mut fingerprints) {
            Ok(entry) => {
                problems.extend(entry.warnings.iter().cloned());
                accepted.insert(key, entry);
                continue;
            }
            Err(fingerprint) => fingerprint,
        };
        let entry = read(raw, &key, fingerprint, &mut problems, settings);
        if let Some(entry) = entry.or_else(|| last_good(previous, &key)) {
            accepted.insert(key.clone(), entry);
            read_afresh.push(key);
        }
    }
    let mut snapshot = match previous {
        Some(previous) => {
            let changes = Changes {
                removed: removed(&accepted, &read_afresh, previous),
                read: &read_afresh,
            };
            let carried =
                endpoints_only(accepted, &changes, previous, &settings.names, &mut problems);
            carried.unwrap_or_else(|accepted| {
                compile(accepted, Some(previous), &settings.names, &mut problems)
            })
        }
        None => compile(accepted, None, &settings.names, &mut problems),
    };
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
        body: raw.body.clone(),
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
/// The very same body (and origin) is known at once; another body is fingerprinted, and an equal
/// one keeps the typed resource (with that body, known at once next time). Else the fingerprint.
fn unchanged(
    previous: Option<&Snapshot>,
    key: &ResourceKey,
    raw: &RawResource,
    fingerprints: &mut Fingerprints,
) -> Result<Accepted, u64> {
    let entry = previous.and_then(|p| p.accepted.get(key));
    let entry = entry.filter(|e| !e.from_previous);
    if let Some(entry) = entry {
        if Arc::ptr_eq(&entry.body, &raw.body) && entry.origin == raw.origin {
            return Ok(entry.clone());
        }
    }
    let fingerprint = fingerprints.of(raw);
    match entry.filter(|e| e.fingerprint == fingerprint) {
        Some(entry) => Ok(Accepted(Arc::new(AcceptedResource {
            body: raw.body.clone(),
            ..(**entry).clone()
        }))),
        None => Err(fingerprint),
    }
}

/// The keys `previous` had in force that `accepted` has not. Looked for only when the counts
/// say some are gone: every entry of `accepted` not read afresh was one of `previous`'s.
fn removed(
    accepted: &AcceptedMap,
    read_afresh: &[ResourceKey],
    previous: &Snapshot,
) -> Vec<ResourceKey> {
    let replaced = read_afresh
        .iter()
        .filter(|k| previous.accepted.contains_key(*k));
    let kept = accepted.len() - read_afresh.len();
    if previous.accepted.len() == kept + replaced.count() {
        return Vec::new();
    }
    let gone = previous
        .accepted
        .keys()
        .filter(|k| !accepted.contains_key(*k));
    gone.cloned().collect()
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

    #[test]
    fn the_same_body_is_known_unchanged_without_a_fingerprint() {
        let documents = set(
            "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 80}]}\n",
        );
        let (first, _) = build(&documents, None);
        let raw = &documents[0];
        let key = ResourceKey::of(raw);
        let mut fingerprints = Fingerprints::default();
        assert!(unchanged(Some(&first), &key, raw, &mut fingerprints).is_ok());
        assert_eq!(fingerprints.taken, 0);
        let mut copy = raw.clone();
        copy.body = Arc::new(raw.body.as_ref().clone());
        let again = unchanged(Some(&first), &key, &copy, &mut fingerprints).unwrap();
        assert_eq!(fingerprints.taken, 1);
        assert!(Arc::ptr_eq(&again.resource, &first.accepted[&key].resource));
        assert!(
            Arc::ptr_eq(&again.body, &copy.body),
            "known at once next time"
        );
    }
}
