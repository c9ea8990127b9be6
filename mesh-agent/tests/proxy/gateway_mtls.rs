//! The ingress gateway as a workload of the mesh, in-process: with tunnels it reaches a meshed
//! pod served by another agent through the mTLS tunnel, presenting the certificate of its own
//! identity, so a STRICT workload answers it and both sides report `mutual_tls` with the
//! gateway's principal.

use std::sync::Arc;

use mesh_agent::gateway::GatewayTunnel;
use mesh_agent::proxy::LocalPods;
use mesh_agent::tunnel::{TunnelSettings, Tunnels};

use crate::harness::certificates::{TestCa, TestCertificates};
use crate::harness::config::{gateway, http_server, virtual_service};
use crate::harness::gateway::{free_port, Gateway};
use crate::harness::metrics;
use crate::harness::proxy::Agent;

const GATEWAY_PRINCIPAL: &str =
    "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account";

/// Namespace `shop` in the mesh, every workload of it STRICT.
const STRICT_SHOP: &str = "\
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: shop}
spec: {mtls: {mode: STRICT}}
---
";

#[tokio::test]
async fn the_gateway_reaches_a_strict_workload_in_the_tunnel_as_its_own_identity() {
    let ca = TestCa::new();
    let tunnels = Tunnels::new(TestCertificates::new(ca.clone()), TunnelSettings::default());
    let tunnel = GatewayTunnel {
        tunnels: Arc::new(tunnels),
        local_pods: LocalPods::default(),
    };
    let port = free_port().await;
    let h = Gateway::with_tunnel(
        |_| {
            STRICT_SHOP.to_string()
                + &gateway(
                    "istio: ingressgateway",
                    &http_server(port, "[shop.example.com]"),
                )
                + &virtual_service(
                    "front",
                    "[shop.example.com]",
                    "[web]",
                    "  - route: [{destination: {host: frontend}}]\n",
                )
        },
        Some(tunnel),
    )
    .await;
    let destination = Agent::with_tunnels(h.config.clone(), TestCertificates::new(ca));
    destination.tunnel_inbound("frontend-0", "127.0.0.2").await;
    for _ in 0..2 {
        let answer = h.get(port, "shop.example.com", "/").await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.body, "frontend / host=shop.example.com");
    }
    let principal = format!("source_principal=\"{GATEWAY_PRINCIPAL}\"");
    let tunnelled = [
        r#"connection_security_policy="mutual_tls""#,
        principal.as_str(),
        r#"destination_principal="spiffe://cluster.local/ns/shop/sa/default""#,
    ];
    let received = [&tunnelled[..], &[r#"reporter="destination""#]].concat();
    let counted = metrics::requests_total(&destination.registry, &received, 2).await;
    assert_eq!(counted, 2, "{}", destination.metrics());
    let sent = [&tunnelled[..], &[r#"reporter="source""#]].concat();
    let counted = metrics::requests_total(&h.registry, &sent, 2).await;
    assert_eq!(counted, 2, "{}", h.metrics());
}
