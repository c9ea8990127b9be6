//! Which JWT rules apply to a workload: every RequestAuthentication of the root namespace and
//! of its own namespace whose scope takes it (the walk AuthorizationPolicy shares:
//! [`crate::snapshot::PolicyScope`]). Unlike PeerAuthentication, all of them apply together:
//! their rules are merged.

use std::net::IpAddr;
use std::sync::Arc;

use crate::snapshot::{scope_namespaces, JwtIssuer, Snapshot, Workload};

/// The JWT rules in scope of `workload` (at `pod_ip`): the root namespace's first.
pub fn issuers_for(
    snapshot: &Snapshot,
    workload: &Workload,
    pod_ip: IpAddr,
) -> Vec<Arc<JwtIssuer>> {
    scope_namespaces(snapshot, workload)
        .into_iter()
        .flat_map(|ns| snapshot.jwt_policies(ns))
        .filter(|p| p.scope.takes(snapshot, &p.namespace, workload, pod_ip))
        .flat_map(|p| p.issuers.iter().cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::authenticate::tests::snapshot_of;

    const POLICIES: &str = "
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: mesh-wide, namespace: istio-system}
spec: {jwtRules: [{issuer: mesh, jwks: '{\"keys\": []}'}]}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: by-service, namespace: shop}
spec: {targetRefs: [{kind: Service, group: '', name: web}], jwtRules: [{issuer: service, jwks: '{\"keys\": []}'}]}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: other-app, namespace: shop}
spec: {selector: {matchLabels: {app: db}}, jwtRules: [{issuer: db, jwks: '{\"keys\": []}'}]}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: web, namespace: shop}
spec: {selector: {matchLabels: {app: web}}, jwtRules: [{issuer: web, jwks: '{\"keys\": []}'}]}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: elsewhere, namespace: bank}
spec: {jwtRules: [{issuer: bank, jwks: '{\"keys\": []}'}]}
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
    fn root_namespace_selector_and_target_service_rules_merge() {
        let snapshot = snapshot_of(POLICIES);
        let ip: IpAddr = "10.244.1.5".parse().unwrap();
        let workload = snapshot.workload(ip).unwrap().clone();
        let issuers: Vec<String> = issuers_for(&snapshot, &workload, ip)
            .iter()
            .map(|i| i.issuer.clone())
            .collect();
        assert_eq!(issuers, ["mesh", "service", "web"]);
    }
}
