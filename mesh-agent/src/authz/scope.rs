//! Which AuthorizationPolicies apply to a workload: those of the root namespace and of its own
//! namespace whose scope takes it (the walk RequestAuthentication shares:
//! [`crate::snapshot::PolicyScope`]).

use std::net::IpAddr;

use crate::snapshot::{scope_namespaces, AuthzPolicy, Snapshot, Workload};

/// The policies in scope of `workload` (at `pod_ip`): the root namespace's first.
pub fn policies_for<'s>(
    snapshot: &'s Snapshot,
    workload: &Workload,
    pod_ip: IpAddr,
) -> Vec<&'s AuthzPolicy> {
    scope_namespaces(snapshot, workload)
        .into_iter()
        .flat_map(|ns| snapshot.authz_policies(ns))
        .map(AsRef::as_ref)
        .filter(|p| p.scope.takes(snapshot, &p.namespace, workload, pod_ip))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::snapshot_of as compile;

    const POLICIES: &str = "
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mesh-wide, namespace: istio-system}
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: root-selected, namespace: istio-system}
spec: {selector: {matchLabels: {app: web}}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: own, namespace: shop}
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: other-app, namespace: shop}
spec: {selector: {matchLabels: {app: db}}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: by-service, namespace: shop}
spec: {targetRefs: [{kind: Service, group: '', name: web}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: gateway-only, namespace: shop}
spec: {targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: web}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: elsewhere, namespace: bank}
spec: {}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {clusterIP: 10.96.0.10, selector: {app: web}, ports: [{port: 80, name: http}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: shop, labels: {app: web}}
status: {podIP: 10.244.1.5}
";

    #[test]
    fn root_namespace_own_namespace_selector_and_target_service() {
        let snapshot = compile(POLICIES);
        let ip: IpAddr = "10.244.1.5".parse().unwrap();
        let workload = snapshot.workload(ip).unwrap().clone();
        let names: Vec<&str> = policies_for(&snapshot, &workload, ip)
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["mesh-wide", "root-selected", "by-service", "own"]);
    }
}
