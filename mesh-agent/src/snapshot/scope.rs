//! Which workloads a security policy (AuthorizationPolicy, RequestAuthentication) takes, the
//! walk both kinds share: the policies of the root namespace (mesh-wide; a `selector` there
//! picks workloads in every namespace) and of the workload's own namespace, each when its scope
//! takes the workload — no selector, a `selector` whose labels it carries, or `targetRefs` to a
//! Service of the policy's namespace that the workload backs.

use std::net::IpAddr;

use serde::Serialize;

use super::model::{Address, Labels, Workload};
use super::Snapshot;
use crate::resources::{PolicyTargetRef, WorkloadSelector};

/// Which workloads of its namespace (every namespace's, for the root namespace) a policy
/// applies to.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum PolicyScope {
    /// No selector nor target: every workload.
    All,
    /// `selector.matchLabels`: the workloads carrying all of them.
    Selector(Labels),
    /// `targetRefs` to Services (their names): the workloads those Services select (a target of
    /// another kind, such as a Gateway, selects no workload here).
    Services(Vec<String>),
}

impl PolicyScope {
    /// A policy's scope from its `selector`, `targetRef` and `targetRefs`: a policy with
    /// targets applies to the Services among them only, never to the whole namespace.
    pub fn of(
        selector: Option<&WorkloadSelector>,
        target_ref: Option<&PolicyTargetRef>,
        target_refs: &[PolicyTargetRef],
    ) -> Self {
        let mut refs = target_ref.into_iter().chain(target_refs).peekable();
        let targeted = refs.peek().is_some();
        let services = refs
            .filter(|r| r.kind == "Service")
            .map(|r| r.name.clone())
            .collect();
        match selector {
            _ if targeted => Self::Services(services),
            Some(selector) => Self::Selector(selector.match_labels.clone()),
            None => Self::All,
        }
    }

    /// Whether a policy of `namespace` with this scope takes `workload` (at `pod_ip`).
    pub fn takes(
        &self,
        snapshot: &Snapshot,
        namespace: &str,
        workload: &Workload,
        pod_ip: IpAddr,
    ) -> bool {
        match self {
            Self::All => true,
            Self::Selector(labels) => labels
                .iter()
                .all(|(k, v)| workload.labels.get(k) == Some(v)),
            Self::Services(names) => names.iter().any(|name| {
                snapshot.service(name, namespace).is_some_and(|s| {
                    s.namespace == namespace
                        && s.endpoints.iter().any(|e| e.address == Address::Ip(pod_ip))
                })
            }),
        }
    }
}

/// The namespaces whose policies may take `workload`: the root namespace first, then its own.
pub fn scope_namespaces<'a>(snapshot: &'a Snapshot, workload: &'a Workload) -> Vec<&'a str> {
    let root = snapshot.mesh.root_namespace.as_str();
    let mut namespaces = vec![root];
    if workload.namespace != root {
        namespaces.push(&workload.namespace);
    }
    namespaces
}
