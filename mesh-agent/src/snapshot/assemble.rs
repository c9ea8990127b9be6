//! From the accepted typed resources to the snapshot's indexes: registry, DestinationRules,
//! VirtualServices (validated against both, last good version kept), clusters, routes,
//! gateways, security policies. Everything is a hash-map pass: no step scans all services for
//! each resource.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::accepted::{last_good, rejected, Accepted, AcceptedMap};
use super::compiled;
use super::contain::contain;
use super::endpoints::EndpointIndex;
use super::policy::RulesByHost;
use super::references::{self, Context};
use super::registry::Registry;
use super::resolved::ResolvedNames;
use super::routes::MESH_GATEWAY;
use super::tables::{add_policies, add_routes};
use super::Snapshot;
use crate::document::Problem;
use crate::document::ResourceKey;
use crate::resources::Resource;

/// Compiles accepted resources; semantic problems are added to `problems`.
pub fn compile(
    mut accepted: AcceptedMap,
    previous: Option<&Snapshot>,
    names: &Arc<ResolvedNames>,
    problems: &mut Vec<Problem>,
) -> Snapshot {
    let found_before = problems.len();
    let (registry, mut compiled) = compiled::registry(&accepted, previous, names);
    let (rules_kept, dropped_rules) = checked_rules(&accepted, &registry, previous, problems);
    let mut snapshot = {
        let gateways: HashSet<String> = by_kind(&accepted, "Gateway")
            .map(|a| a.key.namespace.clone() + "/" + &a.key.name)
            .collect();
        let rules = rules_by_host(&rules_kept, &registry);
        let ctx = Context {
            registry: &registry,
            rules: &rules,
            gateways: &gateways,
        };
        let (services, dropped_vs) = checked_virtual_services(&accepted, &ctx, previous, problems);
        let rule_resources = compiled::rule_resources(rules_kept.iter().map(|(_, a)| a));
        let clusters =
            compiled::clusters(&registry, &rules, &rule_resources, &mut compiled, previous);
        let mut snapshot = Snapshot {
            clusters,
            ..Snapshot::default()
        };
        add_routes(&mut snapshot, &services, &accepted, &registry);
        for key in dropped_rules.into_iter().chain(dropped_vs) {
            accepted.remove(&key);
        }
        for (key, entry) in rules_kept.into_iter().chain(services) {
            accepted.insert(key, entry);
        }
        snapshot
    };
    add_policies(&mut snapshot, &accepted, problems);
    problems.extend(unknown_providers(&accepted, &snapshot.mesh));
    snapshot.workloads = workloads(&accepted, &snapshot);
    snapshot.registry = registry;
    snapshot.compiled = compiled;
    snapshot.accepted = accepted;
    snapshot.rejected = rejected(problems, &snapshot);
    snapshot.names = names.clone();
    snapshot.compile_problems = problems[found_before..].to_vec();
    snapshot
}

/// CUSTOM AuthorizationPolicies whose provider is no authorizer of MeshConfig
/// `extensionProviders` (Istio: the provider must be defined).
fn unknown_providers(accepted: &AcceptedMap, mesh: &crate::resources::MeshConfig) -> Vec<Problem> {
    let policies = by_kind(accepted, "AuthorizationPolicy");
    let policies = policies.filter_map(|entry| match entry.resource.as_ref() {
        Resource::AuthorizationPolicy(p) => {
            Some((entry, super::authz::unknown_provider(&p.spec, mesh)?))
        }
        _ => None,
    });
    policies
        .map(|(entry, message)| {
            let severity = crate::document::Severity::Error;
            let field = "spec.provider.name".to_string();
            Problem::about(&entry.origin, &entry.key, severity, field, message)
        })
        .collect()
}

fn by_kind<'a>(accepted: &'a AcceptedMap, kind: &'a str) -> impl Iterator<Item = &'a Accepted> {
    accepted.values().filter(move |a| a.key.kind == kind)
}

fn workloads(
    accepted: &AcceptedMap,
    snapshot: &Snapshot,
) -> HashMap<std::net::IpAddr, Arc<super::Workload>> {
    let mut index = EndpointIndex::default();
    for entry in by_kind(accepted, "Pod") {
        if let Resource::Pod(pod) = entry.resource.as_ref() {
            index.add_pod(pod);
        }
    }
    let namespaces: HashMap<&str, &k8s_openapi::api::core::v1::Namespace> =
        by_kind(accepted, "Namespace")
            .filter_map(|a| match a.resource.as_ref() {
                Resource::Namespace(namespace) => Some((a.key.name.as_str(), namespace)),
                _ => None,
            })
            .collect();
    let namespace = |name: &str| namespaces.get(name).copied();
    index.workloads(&snapshot.mesh, &snapshot.telemetry, namespace)
}

/// Oldest first (`creationTimestamp`, then namespace/name): the order conflicts resolve in.
fn by_age<'a>(accepted: &'a AcceptedMap, kind: &'a str) -> Vec<&'a Accepted> {
    let mut list: Vec<&Accepted> = by_kind(accepted, kind).collect();
    let created = |a: &Accepted| match a.resource.as_ref() {
        Resource::VirtualService(r) => r.metadata.creation_timestamp.as_ref().map(|t| t.0),
        Resource::DestinationRule(r) => r.metadata.creation_timestamp.as_ref().map(|t| t.0),
        _ => None,
    };
    list.sort_by(|a, b| (created(a), &a.key).cmp(&(created(b), &b.key)));
    list
}

type Checked = (Vec<(ResourceKey, Accepted)>, Vec<ResourceKey>);

/// DestinationRules that pass their checks (or whose last good version does).
fn checked_rules(
    accepted: &AcceptedMap,
    registry: &Registry,
    previous: Option<&Snapshot>,
    problems: &mut Vec<Problem>,
) -> Checked {
    let check = |entry: &Accepted, problems: &mut Vec<Problem>| {
        let Resource::DestinationRule(dr) = entry.resource.as_ref() else {
            return false;
        };
        let found = references::destination_rule(dr, registry, &entry.origin, &entry.key);
        let ok = !found.iter().any(Problem::is_error);
        problems.extend(found);
        ok
    };
    keep_good(
        by_age(accepted, "DestinationRule"),
        previous,
        problems,
        check,
    )
}

/// VirtualServices that pass their checks and conflict with no older one.
fn checked_virtual_services(
    accepted: &AcceptedMap,
    ctx: &Context,
    previous: Option<&Snapshot>,
    problems: &mut Vec<Problem>,
) -> Checked {
    let mut claimed: HashMap<(String, String), String> = HashMap::new();
    let check = |entry: &Accepted, problems: &mut Vec<Problem>| {
        let Resource::VirtualService(vs) = entry.resource.as_ref() else {
            return false;
        };
        let mut found = references::virtual_service(vs, ctx, &entry.origin, &entry.key);
        let ns = &entry.key.namespace;
        let on_mesh =
            vs.spec.gateways.is_empty() || vs.spec.gateways.iter().any(|g| g == MESH_GATEWAY);
        let hosts: Vec<String> = vs
            .spec
            .hosts
            .iter()
            .map(|h| ctx.registry.canonical(h, ns))
            .collect();
        for (i, host) in hosts.iter().enumerate().filter(|_| on_mesh) {
            if let Some(owner) = claimed
                .get(&(ns.clone(), host.clone()))
                .filter(|o| **o != entry.key.name)
            {
                let message = format!("host {host} is already routed by VirtualService {ns}/{owner}; the oldest wins (Istio merges VirtualServices only at gateways)");
                found.push(Problem::about(
                    &entry.origin,
                    &entry.key,
                    crate::document::Severity::Error,
                    format!("spec.hosts[{i}]"),
                    message,
                ));
            }
        }
        let ok = !found.iter().any(Problem::is_error);
        if ok && on_mesh {
            for host in hosts {
                claimed
                    .entry((ns.clone(), host))
                    .or_insert_with(|| entry.key.name.clone());
            }
        }
        problems.extend(found);
        ok
    };
    keep_good(
        by_age(accepted, "VirtualService"),
        previous,
        problems,
        check,
    )
}

/// Each entry that `check` passes; else its previous version if that passes (its problems then
/// not repeated); else it is dropped. A check that panics fails its entry alone.
fn keep_good(
    list: Vec<&Accepted>,
    previous: Option<&Snapshot>,
    problems: &mut Vec<Problem>,
    mut check: impl FnMut(&Accepted, &mut Vec<Problem>) -> bool,
) -> Checked {
    let mut check = |entry: &Accepted, problems: &mut Vec<Problem>| {
        let checked = contain(&entry.origin, &entry.key, || check(entry, problems));
        checked.unwrap_or_else(|panicked| {
            problems.push(panicked);
            false
        })
    };
    let (mut kept, mut dropped) = (Vec::new(), Vec::new());
    for entry in list {
        if check(entry, problems) {
            kept.push((entry.key.clone(), entry.clone()));
            continue;
        }
        let fallback =
            last_good(previous, &entry.key).filter(|p| !Arc::ptr_eq(&p.resource, &entry.resource));
        match fallback.filter(|p| check(p, &mut Vec::new())) {
            Some(good) => kept.push((entry.key.clone(), good)),
            None => dropped.push(entry.key.clone()),
        }
    }
    (kept, dropped)
}

fn rules_by_host<'a>(rules: &'a [(ResourceKey, Accepted)], registry: &Registry) -> RulesByHost<'a> {
    let mut by_host: RulesByHost = HashMap::new();
    for (key, entry) in rules {
        if let Resource::DestinationRule(dr) = entry.resource.as_ref() {
            let host = registry.canonical(&dr.spec.host, &key.namespace);
            by_host.entry(host).or_default().push(dr);
        }
    }
    by_host
}
