//! Kubernetes Services and their clusters compiled once and carried from build to build.
//!
//! A Service's compiled form depends on its Service document, its EndpointSlices (or
//! Endpoints), the pods (selectors, endpoint labels) and the DestinationRule chosen for it.
//! Unchanged documents keep their typed `Arc`s across builds ([`super::build`] does not parse
//! them again), so when every input is the very same `Arc` as in the previous snapshot, the
//! compiled [`Service`] and its clusters are taken as they are: re-applying one endpoint change
//! recompiles one service, not ten thousand.

use std::collections::HashMap;
use std::sync::Arc;

use super::accepted::{Accepted, AcceptedMap};
use super::endpoints::EndpointIndex;
use super::model::{Cluster, Service};
use super::policy::{clusters_of, rule_for, RulesByHost};
use super::registry::Registry;
use super::resolved::ResolvedNames;
use super::services::EntryInputs;
use super::services::{hostname_of, kube_service};
use super::Snapshot;
use crate::resources::{DestinationRuleSpec, Istio, Resource};

/// One Kubernetes Service as a build compiled it, with what it was compiled from.
#[derive(Clone, Debug)]
pub(crate) struct CompiledService {
    /// Its Service document, then its EndpointSlices or Endpoints (ordered by address).
    pub(super) inputs: Vec<Arc<Resource>>,
    pub(super) service: Arc<Service>,
    /// The DestinationRule its clusters were merged with.
    pub(super) rule: Option<Arc<Resource>>,
    pub(super) clusters: Vec<Arc<Cluster>>,
}

/// Compiled Kubernetes Services by canonical hostname.
pub(crate) type CompiledServices = HashMap<String, CompiledService, foldhash::fast::RandomState>;

/// The registry of `accepted`, reusing `previous`'s compiled services whose inputs are the same.
pub(crate) fn registry(
    accepted: &AcceptedMap,
    previous: Option<&Snapshot>,
    names: &ResolvedNames,
) -> (Registry, CompiledServices) {
    let mut index = EndpointIndex::default();
    let mut sources: HashMap<(&str, &str), Vec<Arc<Resource>>, foldhash::fast::RandomState> =
        HashMap::default();
    for entry in accepted.values() {
        let source = match entry.resource.as_ref() {
            Resource::Pod(pod) => {
                index.add_pod(pod);
                None
            }
            Resource::EndpointSlice(slice) => index.add_slice(slice),
            Resource::Endpoints(endpoints) => index.add_endpoints(endpoints),
            _ => None,
        };
        if let Some(owner) = source {
            sources
                .entry(owner)
                .or_default()
                .push(entry.resource.clone());
        }
    }
    let reusable = previous
        .filter(|p| pods_unchanged(accepted, p))
        .map(|p| &p.compiled);
    let mut kube: Vec<&Accepted> = accepted
        .values()
        .filter(|a| a.key.kind == "Service")
        .collect();
    kube.sort_by(|a, b| a.key.cmp(&b.key));
    let mut registry = Registry::with_capacity(kube.len());
    let mut compiled = CompiledServices::with_capacity_and_hasher(kube.len(), Default::default());
    for entry in kube {
        let Resource::Service(service) = entry.resource.as_ref() else {
            continue;
        };
        let namespace = service.metadata.namespace.as_deref().unwrap_or("default");
        let name = service.metadata.name.as_deref().unwrap_or_default();
        let found = sources.remove(&(namespace, name));
        let mut inputs = found.unwrap_or_default();
        inputs.sort_by_key(Arc::as_ptr);
        inputs.insert(0, entry.resource.clone());
        let hostname = hostname_of(service);
        let same = reusable
            .and_then(|r| r.get(&hostname))
            .filter(|c| same_resources(&c.inputs, &inputs));
        let service = match same {
            Some(c) => c.service.clone(),
            None => {
                let other_family = index.other_family_endpoints_of(service);
                let mut compiled = kube_service(service, index.endpoints_of(service));
                compiled.other_family_endpoints = other_family;
                Arc::new(compiled)
            }
        };
        registry.add_service(service.clone());
        let unit = CompiledService {
            inputs,
            service,
            rule: None,
            clusters: Vec::new(),
        };
        compiled.insert(hostname, unit);
    }
    for entry in by_key(accepted, "ServiceEntry") {
        if let Resource::ServiceEntry(se) = entry.resource.as_ref() {
            let namespace = se.metadata.namespace.as_deref().unwrap_or("default");
            let selector = se.spec.workload_selector.as_ref();
            let pods = selector.map(|s| index.selected_pods(namespace, &s.labels));
            let inputs = EntryInputs {
                names,
                pods: pods.as_deref(),
            };
            se.spec
                .hosts
                .iter()
                .for_each(|host| registry.add_entry_host(se, host, &inputs));
        }
    }
    (registry, compiled)
}

/// The clusters of every service; a Kubernetes Service's are `previous`'s when the service and
/// its DestinationRule are the same as then.
pub(crate) fn clusters(
    registry: &Registry,
    rules: &RulesByHost,
    rule_resources: &HashMap<*const Istio<DestinationRuleSpec>, Arc<Resource>>,
    compiled: &mut CompiledServices,
    previous: Option<&Snapshot>,
) -> HashMap<String, Vec<Arc<Cluster>>> {
    let mut all = HashMap::with_capacity(registry.services().len());
    for service in registry.services() {
        let rule = rule_for(rules, &service.hostname, &service.namespace);
        let own = compiled.get_mut(&service.hostname);
        let Some(unit) = own.filter(|c| Arc::ptr_eq(&c.service, service)) else {
            all.insert(service.hostname.clone(), clusters_of(service, rule));
            continue;
        };
        unit.rule = rule.and_then(|r| rule_resources.get(&std::ptr::from_ref(r)).cloned());
        let before = previous.and_then(|p| p.compiled.get(&service.hostname));
        let same = before
            .filter(|b| Arc::ptr_eq(&b.service, service) && same_resources(&b.rule, &unit.rule));
        unit.clusters = match same {
            Some(b) => b.clusters.clone(),
            None => clusters_of(service, rule),
        };
        all.insert(service.hostname.clone(), unit.clusters.clone());
    }
    all
}

/// The resource behind each accepted DestinationRule, by the address of its typed form.
pub(crate) fn rule_resources<'a>(
    rules: impl Iterator<Item = &'a Accepted>,
) -> HashMap<*const Istio<DestinationRuleSpec>, Arc<Resource>> {
    rules
        .filter_map(|a| match a.resource.as_ref() {
            Resource::DestinationRule(dr) => Some((std::ptr::from_ref(dr), a.resource.clone())),
            _ => None,
        })
        .collect()
}

/// Whether the two lists hold the very same resources (not equal ones: the same `Arc`s).
fn same_resources<'a>(
    a: impl IntoIterator<Item = &'a Arc<Resource>>,
    b: impl IntoIterator<Item = &'a Arc<Resource>>,
) -> bool {
    let (mut a, mut b) = (a.into_iter(), b.into_iter());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if Arc::ptr_eq(x, y) => {}
            _ => return false,
        }
    }
}

/// Whether the pods in force are the very ones `previous` had (endpoints read their labels
/// and, without EndpointSlices, come from selecting pods).
fn pods_unchanged(accepted: &AcceptedMap, previous: &Snapshot) -> bool {
    let pods = |map: &AcceptedMap| map.values().filter(|a| a.key.kind == "Pod").count();
    let mut in_force = accepted.values().filter(|a| a.key.kind == "Pod");
    let same = in_force.all(|a| {
        let before = previous.accepted.get(&a.key);
        before.is_some_and(|b| Arc::ptr_eq(&a.resource, &b.resource))
    });
    same && pods(accepted) == pods(&previous.accepted)
}

/// The entries of `kind`, ordered by key.
fn by_key<'a>(accepted: &'a AcceptedMap, kind: &str) -> Vec<&'a Accepted> {
    let mut list: Vec<&Accepted> = accepted.values().filter(|a| a.key.kind == kind).collect();
    list.sort_by(|a, b| a.key.cmp(&b.key));
    list
}
