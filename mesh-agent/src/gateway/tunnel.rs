//! The ingress gateway's way into the mesh: an upstream endpoint that is a meshed pod on
//! another node is reached in the mTLS tunnel with the certificate of the gateway's own
//! identity (`identity.rs`), as an Istio gateway pod's would be; the destination's agent sees
//! and reports that principal and applies its PeerAuthentication and policies to it. A meshed
//! pod on this node is dialled directly from the node (the tunnel port of a local pod is not
//! steered to the agent for connections from the node's own address, as kubelet probes are
//! not). When the CA refuses the gateway's identity (its node is not labelled as running the
//! gateway) the connection goes in plain text, as from a client outside the mesh.

use std::net::SocketAddr;
use std::sync::Arc;

use super::identity::{gateway_workload, GatewayServiceAccount};
use super::selection::GatewayLabels;
use crate::http::PoolTunnel;
use crate::identity::Identity;
use crate::pipeline::ConfigState;
use crate::proxy::LocalPods;
use crate::snapshot::Snapshot;
use crate::tunnel::{TunnelHeaders, TunnelPlan, TunnelTarget, Tunnels};

/// What the gateway's tunnel plans from.
#[derive(Clone)]
pub struct GatewayTunnel {
    /// The agent's tunnels (the gateway's identity among the certificates they ask for).
    pub tunnels: Arc<Tunnels>,
    /// The pods of this node: reached directly, not in the tunnel.
    pub local_pods: LocalPods,
}

/// Who the gateway is, to plan its tunnels.
#[derive(Clone)]
pub struct GatewayIdentity {
    pub labels: GatewayLabels,
    pub account: Option<GatewayServiceAccount>,
}

impl GatewayIdentity {
    /// The gateway's SPIFFE identity under `snapshot` (its trust domain, root namespace).
    pub fn identity(&self, snapshot: &Snapshot) -> Option<Identity> {
        let gateway = gateway_workload(snapshot, &self.labels, self.account.as_ref());
        Identity::parse(gateway.principal.as_deref()?).ok()
    }

    /// The plan for an upstream connection to `endpoint`: `None` (plain text) when it is not
    /// a meshed pod of another node.
    pub fn plan(
        &self,
        snapshot: &Snapshot,
        local_pods: &LocalPods,
        endpoint: SocketAddr,
    ) -> Option<TunnelPlan> {
        if local_pods.get(endpoint.ip()).is_some() {
            return None;
        }
        let destination = snapshot.workload(endpoint.ip()).filter(|w| w.meshed)?;
        let gateway = gateway_workload(snapshot, &self.labels, self.account.as_ref());
        let target = TunnelTarget {
            source: Identity::parse(gateway.principal.as_deref()?).ok()?,
            destination: Identity::parse(destination.principal.as_deref()?).ok()?,
            pod: endpoint.ip(),
            authority: endpoint,
        };
        let headers = TunnelHeaders {
            source_ip: None,
            namespace: gateway.namespace.clone(),
            workload: gateway.name.clone(),
            service: gateway.app.clone().unwrap_or_else(|| gateway.name.clone()),
            version: gateway.version.clone().unwrap_or_else(|| "latest".into()),
            offers_l7_report: false,
        };
        Some(TunnelPlan { target, headers })
    }

    /// The gateway pool's tunnel: each endpoint planned against the snapshot in force when
    /// its connection is opened; a refused gateway identity falls back to plain text.
    pub fn pool_tunnel(&self, config: ConfigState, tunnel: GatewayTunnel) -> PoolTunnel {
        let (me, local_pods) = (self.clone(), tunnel.local_pods);
        let planner = move |endpoint| me.plan(&config.snapshot(), &local_pods, endpoint);
        PoolTunnel {
            tunnels: tunnel.tunnels,
            planner: Arc::new(planner),
            plain_when_refused: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{Netns, ProxiedPod};

    fn snapshot(yaml: &str) -> Snapshot {
        let path = std::path::Path::new("t.yaml");
        let documents = crate::document::parse_documents(path, yaml).unwrap();
        let (snapshot, problems) = crate::snapshot::build(&Arc::new(documents), None);
        assert!(problems.iter().all(|p| !p.is_error()), "{problems:?}");
        snapshot
    }

    const YAML: &str = "\
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: shop, labels: {app: web, istio.io/dataplane-mode: ambient}}
spec: {serviceAccountName: web, nodeName: node-2}
status: {podIP: 10.244.2.5}
---
apiVersion: v1
kind: Pod
metadata: {name: plain-0, namespace: shop, labels: {app: plain}}
spec: {nodeName: node-2}
status: {podIP: 10.244.2.6}
";

    fn gateway() -> GatewayIdentity {
        GatewayIdentity {
            labels: GatewayLabels::default(),
            account: None,
        }
    }

    #[test]
    fn a_meshed_pod_of_another_node_is_reached_as_the_gateway_identity() {
        let snapshot = snapshot(YAML);
        let local = LocalPods::default();
        let endpoint = "10.244.2.5:8080".parse().unwrap();
        let plan = gateway().plan(&snapshot, &local, endpoint).unwrap();
        assert_eq!(
            plan.target.source.to_string(),
            "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"
        );
        assert_eq!(
            plan.target.destination.to_string(),
            "spiffe://cluster.local/ns/shop/sa/web"
        );
        assert_eq!(plan.target.authority, endpoint);
        assert_eq!(plan.headers.source_ip, None);
        assert_eq!(plan.headers.workload, "istio-ingressgateway");
        let unmeshed = "10.244.2.6:8080".parse().unwrap();
        assert!(gateway().plan(&snapshot, &local, unmeshed).is_none());
        let ip = "10.244.2.5".parse().unwrap();
        local.insert(Arc::new(ProxiedPod {
            namespace: "shop".into(),
            name: "web-0".into(),
            ip,
            ips: vec![ip],
            netns: Netns::current().unwrap(),
            netns_cookie: 1,
        }));
        assert!(gateway().plan(&snapshot, &local, endpoint).is_none());
    }
}
