//! The ingress gateway hardened, in-process on loopback: its upstream connections never reach a
//! node-local address (refused `UF`, logged and counted, the upstream never dialled).

use crate::harness::config::{gateway, http_server, pod, service, virtual_service};
use crate::harness::gateway::{free_port, Gateway};
use crate::harness::metrics::has_sample;
use crate::harness::upstream::Upstream;

const INGRESS: &str = "istio: ingressgateway";

#[tokio::test]
async fn a_gateway_route_to_a_loopback_endpoint_is_refused_and_counted() {
    let port = free_port().await;
    // Something answers on the node's loopback: without the guard the route would reach it.
    let local = Upstream::healthy("127.0.0.1:0".parse().unwrap(), "node-local").await;
    let target = local.address.port();
    let rules = "  - route: [{destination: {host: sneaky}}]\n";
    let h = Gateway::new(|_| {
        service("sneaky", "10.96.0.40", "http", target)
            + &pod("sneaky-0", "app: sneaky", "127.0.0.1")
            + &gateway(INGRESS, &http_server(port, "[\"*\"]"))
            + &virtual_service("in", "[\"*\"]", "[web]", rules)
    })
    .await;
    let answer = h.get(port, "shop.example.com", "/").await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(local.accepted(), 0, "the node-local upstream was dialled");
    let metrics = h.metrics();
    // The first try and the mesh's default two retries on connect-failure: each refused.
    let refused = ["reason=\"loopback\""];
    assert!(
        has_sample(&metrics, "mesh_gateway_upstream_refused_total", &refused, 3),
        "{metrics}"
    );
    let flagged = ["response_code=\"503\"", "response_flags=\"UF,URX\""];
    assert!(
        has_sample(&metrics, "istio_requests_total", &flagged, 1),
        "{metrics}"
    );
}
