//! The `connect()` hook's egress policies kept in step with the configuration and the enrolled
//! pods: each namespace whose pods REGISTRY_ONLY limits gets a policy holding the addresses
//! they may reach ([`Snapshot::egress_allowed`]), and its enrolled pods point at it; the plan
//! is handed to the capture layer on every snapshot swap and enrollment change.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::capture::{EgressPlan, EgressPolicies};
use crate::pipeline::ConfigState;
use crate::pods::{EnrolledPod, EnrolledPods};
use crate::snapshot::Snapshot;

/// How often enrollment changes are looked for between snapshot swaps.
const ENROLLMENT_CHECK: Duration = Duration::from_secs(1);

/// The plan for `pods` under `snapshot`: one policy per limited namespace, numbered from 1 in
/// namespace order.
pub fn plan(snapshot: &Snapshot, pods: &[EnrolledPod]) -> EgressPlan {
    let mut by_namespace: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for pod in pods {
        by_namespace
            .entry(&pod.namespace)
            .or_default()
            .push(pod.netns_cookie);
    }
    let mut plan = EgressPlan::default();
    let limited = by_namespace
        .into_iter()
        .filter_map(|(namespace, cookies)| Some((snapshot.egress_allowed(namespace)?, cookies)));
    for (id, (allowed, cookies)) in (1u32..).zip(limited) {
        plan.allowed.insert(id, allowed);
        plan.pods
            .extend(cookies.into_iter().map(|cookie| (cookie, id)));
    }
    plan
}

/// Applies the plan whenever it changes, until the pipeline is gone.
pub async fn run(state: ConfigState, pods: Arc<EnrolledPods>, policies: Arc<dyn EgressPolicies>) {
    let mut swaps = state.swaps();
    let mut in_force = EgressPlan::default();
    loop {
        let next = plan(&state.snapshot(), &pods.list().await);
        if next != in_force {
            match policies.apply(&next) {
                Ok(()) => {
                    tracing::info!(
                        pods = next.pods.len(),
                        policies = next.allowed.len(),
                        "egress policies in force"
                    );
                    in_force = next;
                }
                Err(error) => tracing::warn!(
                    error = format!("{error:#}"),
                    "egress policies not written; retrying"
                ),
            }
        }
        tokio::select! {
            changed = swaps.changed() => if changed.is_err() { return },
            () = tokio::time::sleep(ENROLLMENT_CHECK) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn snapshot(yaml: &str) -> Snapshot {
        let documents = crate::document::parse_documents(Path::new("t.yaml"), yaml).unwrap();
        let (snapshot, problems) = crate::snapshot::build(&Arc::new(documents), None);
        assert!(problems.iter().all(|p| !p.is_error()), "{problems:?}");
        snapshot
    }

    fn pod(namespace: &str, cookie: u64) -> EnrolledPod {
        let json = serde_json::json!({
            "namespace": namespace, "name": "p", "uid": "u", "ip": "10.244.0.9",
            "ips": ["10.244.0.9"], "node_ips": [], "netns": "/x", "netns_cookie": cookie,
        });
        serde_json::from_value(json).unwrap()
    }

    const BASE: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n\
spec: {clusterIP: 10.96.0.10, selector: {app: web}, ports: [{port: 80}]}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: web-0, namespace: shop, labels: {app: web}}\n\
status: {podIP: 10.244.0.5}\n---\n\
apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: legacy, namespace: shop}\n\
spec: {hosts: [legacy.example.com], addresses: [203.0.113.0/24], resolution: STATIC,\n\
\x20 endpoints: [{address: 198.51.100.7}], ports: [{number: 3306, name: tcp, protocol: TCP}]}\n---\n\
apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: default, namespace: shop}\n\
spec: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}\n---\n";

    #[test]
    fn registry_only_namespaces_get_a_policy_of_every_address_they_may_reach() {
        let plan = plan(
            &snapshot(BASE),
            &[pod("shop", 11), pod("other", 12), pod("shop", 13)],
        );
        let want: Vec<ipnet::IpNet> = [
            "10.96.0.10/32",
            "10.244.0.5/32",
            "198.51.100.7/32",
            "203.0.113.0/24",
        ]
        .iter()
        .map(|n| n.parse().unwrap())
        .collect();
        let mut allowed = plan.allowed[&1].clone();
        allowed.sort_by_key(|n| n.to_string());
        let mut want = want;
        want.sort_by_key(|n| n.to_string());
        assert_eq!(allowed, want);
        assert_eq!(
            plan.pods,
            [(11, 1), (13, 1)].into_iter().collect(),
            "ALLOW_ANY's pod is free"
        );
    }

    #[test]
    fn a_host_that_could_be_anywhere_leaves_the_namespace_unlimited() {
        for entry in [
            "spec: {hosts: ['*.example.org'], resolution: NONE, ports: [{number: 443, name: tls, protocol: TLS}]}\n",
            "spec: {hosts: [api.example.org], resolution: DNS, ports: [{number: 443, name: tls, protocol: TLS}]}\n",
        ] {
            let yaml = format!(
                "{BASE}apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n\
                 metadata: {{name: any, namespace: shop}}\n{entry}---\n"
            );
            let plan = plan(&snapshot(&yaml), &[pod("shop", 11)]);
            assert!(plan.pods.is_empty(), "{entry}");
        }
    }
}
