//! A build's shortcut for endpoint changes: when the only documents that changed since the
//! previous snapshot are EndpointSlices and Endpoints, the previous snapshot is carried over as
//! it is and only the Services those documents belong to are compiled again — their endpoints,
//! their place in the registry's endpoint index, their clusters. Routes, gateways, policies and
//! workloads do not read endpoints, and the problems the previous compile found are found again.
//! Anything else changed (or a Service left with neither EndpointSlices nor Endpoints, whose
//! endpoints come from selecting pods): the full compile runs.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::accepted::{rejected, Accepted, AcceptedMap};
use super::compiled::CompiledService;
use super::endpoints::EndpointIndex;
use super::policy::clusters_of;
use super::resolved::ResolvedNames;
use super::services::{hostname_of, kube_service};
use super::Snapshot;
use crate::document::{Problem, ResourceKey};
use crate::resources::Resource;

const ENDPOINT_KINDS: [&str; 2] = ["EndpointSlice", "Endpoints"];

/// What changed between the previous snapshot's resources and this build's.
pub(crate) struct Changes<'a> {
    /// Keys read afresh (new or changed documents, or a last good version put back).
    pub read: &'a [ResourceKey],
    /// Keys the previous snapshot had in force that this build has not.
    pub removed: Vec<ResourceKey>,
}

impl Changes<'_> {
    fn endpoints_only(&self) -> bool {
        let keys = self.read.iter().chain(&self.removed);
        keys.into_iter()
            .all(|k| ENDPOINT_KINDS.contains(&k.kind.as_str()))
    }
}

/// `previous` with the Services whose endpoint documents changed compiled again, when
/// endpoint documents are all that changed; otherwise `accepted` back, for the full compile.
pub(crate) fn endpoints_only(
    accepted: AcceptedMap,
    changes: &Changes,
    previous: &Snapshot,
    names: &Arc<ResolvedNames>,
    problems: &mut Vec<Problem>,
) -> Result<Snapshot, AcceptedMap> {
    let same_names = Arc::ptr_eq(names, &previous.names) || **names == *previous.names;
    if !same_names || !changes.endpoints_only() {
        return Err(accepted);
    }
    let mut owners = BTreeSet::new();
    for key in changes.read.iter().chain(&changes.removed) {
        let versions = [accepted.get(key), previous.accepted.get(key)];
        owners.extend(versions.into_iter().flatten().filter_map(owner));
    }
    let mut recompiled = Vec::with_capacity(owners.len());
    for (namespace, name) in &owners {
        match recompile(&accepted, changes, previous, namespace, name) {
            Some(Some(unit)) => recompiled.push(unit),
            Some(None) => {}
            None => return Err(accepted),
        }
    }
    let mut next = carried(previous, accepted);
    for unit in recompiled {
        let hostname = unit.service.hostname.clone();
        if !next.registry.replace_service(unit.service.clone()) {
            return Err(next.accepted);
        }
        next.clusters
            .insert(hostname.clone(), unit.clusters.clone());
        next.compiled.insert(hostname, unit);
    }
    problems.extend(previous.compile_problems.iter().cloned());
    next.rejected = rejected(problems, &next);
    Ok(next)
}

/// The Service (namespace, name) an endpoint document belongs to.
fn owner(entry: &Accepted) -> Option<(String, String)> {
    let namespace = entry.key.namespace.clone();
    match entry.resource.as_ref() {
        Resource::EndpointSlice(slice) => {
            let labels = slice.metadata.labels.as_ref()?;
            Some((namespace, labels.get("kubernetes.io/service-name")?.clone()))
        }
        Resource::Endpoints(_) => Some((namespace, entry.key.name.clone())),
        _ => None,
    }
}

/// Service `namespace/name` compiled with its endpoint documents as they are now: `Some(None)`
/// when no such Service is in force (nothing reads its endpoints), `None` when this shortcut
/// cannot compile it.
fn recompile(
    accepted: &AcceptedMap,
    changes: &Changes,
    previous: &Snapshot,
    namespace: &str,
    name: &str,
) -> Option<Option<CompiledService>> {
    let key = ResourceKey {
        kind: "Service".into(),
        namespace: namespace.into(),
        name: name.into(),
    };
    let Some(entry) = accepted.get(&key) else {
        return Some(None);
    };
    let Resource::Service(service) = entry.resource.as_ref() else {
        return None;
    };
    let before = previous.compiled.get(&hostname_of(service))?;
    let owner = (entry.resource.clone(), namespace, name);
    let inputs = inputs_now(accepted, changes, previous, before, owner);
    let mut index = EndpointIndex::default();
    let mut documents = 0;
    for input in &inputs[1..] {
        let added = match input.as_ref() {
            Resource::EndpointSlice(slice) => index.add_slice(slice),
            Resource::Endpoints(endpoints) => index.add_endpoints(endpoints),
            _ => None,
        };
        documents += usize::from(added.is_some());
    }
    if documents == 0 {
        return None;
    }
    let pods: Vec<&Accepted> = target_pods(&inputs[1..])
        .filter_map(|pod| accepted.get(&pod_key(namespace, pod)))
        .collect();
    for pod in &pods {
        if let Resource::Pod(pod) = pod.resource.as_ref() {
            index.add_pod(pod);
        }
    }
    let mut compiled = kube_service(service, index.endpoints_of(service));
    compiled.other_family_endpoints = index.other_family_endpoints_of(service);
    let compiled = Arc::new(compiled);
    let rule = before.rule.as_deref().and_then(|r| match r {
        Resource::DestinationRule(dr) => Some(dr),
        _ => None,
    });
    Some(Some(CompiledService {
        clusters: clusters_of(&compiled, rule),
        inputs,
        service: compiled,
        rule: before.rule.clone(),
    }))
}

/// The Service document, then its endpoint documents now: those it was compiled from that did
/// not change, and the changed ones that belong to it (ordered as a full build orders them).
fn inputs_now(
    accepted: &AcceptedMap,
    changes: &Changes,
    previous: &Snapshot,
    before: &CompiledService,
    (service, namespace, name): (Arc<Resource>, &str, &str),
) -> Vec<Arc<Resource>> {
    let changed = changes.read.iter().chain(&changes.removed);
    let replaced: Vec<&Arc<Resource>> = changed
        .clone()
        .filter_map(|k| previous.accepted.get(k))
        .map(|a| &a.resource)
        .collect();
    let kept = before.inputs[1..]
        .iter()
        .filter(|input| !replaced.iter().any(|r| Arc::ptr_eq(r, input)));
    let mine = |entry: &&Accepted| owner(entry).is_some_and(|(ns, n)| ns == namespace && n == name);
    let added = changes
        .read
        .iter()
        .filter_map(|k| accepted.get(k))
        .filter(mine);
    let mut inputs: Vec<Arc<Resource>> = kept.cloned().collect();
    inputs.extend(added.map(|a| a.resource.clone()));
    inputs.sort_by_key(Arc::as_ptr);
    inputs.insert(0, service);
    inputs
}

/// The names of the pods the endpoint documents point at.
fn target_pods(inputs: &[Arc<Resource>]) -> impl Iterator<Item = &str> {
    inputs.iter().flat_map(|input| {
        let names: Vec<&str> = match input.as_ref() {
            Resource::EndpointSlice(slice) => (slice.endpoints.iter())
                .filter_map(|e| e.target_ref.as_ref()?.name.as_deref())
                .collect(),
            Resource::Endpoints(endpoints) => (endpoints.subsets.iter().flatten())
                .flat_map(|s| s.addresses.iter().flatten())
                .filter_map(|a| a.target_ref.as_ref()?.name.as_deref())
                .collect(),
            _ => Vec::new(),
        };
        names
    })
}

fn pod_key(namespace: &str, name: &str) -> ResourceKey {
    ResourceKey {
        kind: "Pod".into(),
        namespace: namespace.into(),
        name: name.into(),
    }
}

/// Everything of `previous`, with this build's resources in force.
fn carried(previous: &Snapshot, accepted: AcceptedMap) -> Snapshot {
    Snapshot {
        mesh: previous.mesh.clone(),
        access_log: previous.access_log.clone(),
        tls_file_dir: previous.tls_file_dir.clone(),
        registry: previous.registry.clone(),
        clusters: previous.clusters.clone(),
        routes: previous.routes.clone(),
        gateways: previous.gateways.clone(),
        workloads: previous.workloads.clone(),
        authorization: previous.authorization.clone(),
        authz: previous.authz.clone(),
        peer_authentication: previous.peer_authentication.clone(),
        request_authentication: previous.request_authentication.clone(),
        network_policies: previous.network_policies.clone(),
        jwt: previous.jwt.clone(),
        outbound: previous.outbound.clone(),
        sidecar_hosts: previous.sidecar_hosts.clone(),
        telemetry: previous.telemetry.clone(),
        rate_limits: previous.rate_limits.clone(),
        rejected: Vec::new(),
        accepted,
        compiled: previous.compiled.clone(),
        names: previous.names.clone(),
        compile_problems: previous.compile_problems.clone(),
        default_retries: super::Memo::default(),
    }
}
