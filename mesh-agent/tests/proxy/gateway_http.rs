//! The ingress gateway over plain HTTP, in-process on loopback: a Gateway selecting the agent
//! opens its server ports; requests are bound by Host and routed by the VirtualServices bound
//! to the Gateway (the mesh's own routing rules); unknown hosts get 404 `NR`; listeners follow
//! the configuration (removed ports close, remaining ones keep serving).

use crate::harness::client::get_over;
use crate::harness::config::{self, apply, gateway, http_server, virtual_service};
use crate::harness::gateway::{cluster_yaml, free_port, Gateway};
use crate::harness::metrics::has_sample;

const INGRESS: &str = "istio: ingressgateway";

fn to_frontend() -> &'static str {
    "  - route: [{destination: {host: frontend}}]\n"
}

#[tokio::test]
async fn a_request_for_a_gateway_host_reaches_the_frontend() {
    let port = free_port().await;
    let h = Gateway::new(|_| {
        gateway(INGRESS, &http_server(port, "[shop.example.com]"))
            + &virtual_service("front", "[shop.example.com]", "[web]", to_frontend())
    })
    .await;
    assert_eq!(h.ports().keys().copied().collect::<Vec<_>>(), [port]);
    let answer = h.get(port, "shop.example.com", "/").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body, "frontend / host=shop.example.com");
    let metrics = h.metrics();
    let labels = [
        "response_code=\"200\"",
        "destination_service_name=\"frontend\"",
    ];
    assert!(
        has_sample(&metrics, "istio_requests_total", &labels, 1),
        "{metrics}"
    );
    // The gateway reports itself as the source, as Istio's ingress gateway does.
    let gateway = [
        "reporter=\"source\"",
        "source_workload=\"istio-ingressgateway\"",
        "source_workload_namespace=\"istio-system\"",
        "source_app=\"istio-ingressgateway\"",
        "source_principal=\"spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account\"",
    ];
    assert!(
        has_sample(&metrics, "istio_requests_total", &gateway, 1),
        "{metrics}"
    );
}

#[tokio::test]
async fn gateway_rules_route_by_uri_with_the_mesh_rules_engine() {
    let port = free_port().await;
    let rules = "  - match: [{uri: {prefix: /api/}}]\n    rewrite: {uri: /}\n    \
                 route: [{destination: {host: backend.shop.svc.cluster.local, port: {number: 80}}}]\n\
                 \x20 - route: [{destination: {host: frontend}}]\n";
    let h = Gateway::new(|_| {
        gateway(INGRESS, &http_server(port, "[\"*\"]"))
            + &virtual_service("front", "[\"*\"]", "[shop/web]", rules)
    })
    .await;
    let api = h.get(port, "anything.example.com", "/api/items").await;
    assert_eq!(
        api.body, "backend /items host=anything.example.com",
        "{api:?}"
    );
    let page = h.get(port, "anything.example.com", "/index.html").await;
    assert!(page.body.starts_with("frontend /index.html"), "{page:?}");
}

#[tokio::test]
async fn an_unknown_host_gets_404_nr() {
    let port = free_port().await;
    let h = Gateway::new(|_| {
        gateway(INGRESS, &http_server(port, "[shop.example.com]"))
            + &virtual_service("front", "[shop.example.com]", "[web]", to_frontend())
    })
    .await;
    let answer = h.get(port, "other.example.com", "/").await;
    assert_eq!(answer.status, 404, "{answer:?}");
    let metrics = h.metrics();
    let labels = ["response_code=\"404\"", "response_flags=\"NR\""];
    assert!(
        has_sample(&metrics, "istio_requests_total", &labels, 1),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_host_without_a_virtual_service_bound_to_the_gateway_gets_404() {
    let port = free_port().await;
    let h = Gateway::new(|_| {
        let mesh_only = "apiVersion: networking.istio.io/v1\nkind: VirtualService\n\
                         metadata: {name: mesh, namespace: shop}\nspec:\n  hosts: [shop.example.com]\n\
                         \x20 http:\n  - route: [{destination: {host: frontend}}]\n---\n";
        gateway(INGRESS, &http_server(port, "[\"*\"]")) + mesh_only
    })
    .await;
    assert_eq!(h.get(port, "shop.example.com", "/").await.status, 404);
}

#[tokio::test]
async fn a_gateway_that_selects_other_workloads_opens_nothing() {
    let port = free_port().await;
    let h = Gateway::new(|_| {
        gateway("istio: egressgateway", &http_server(port, "[\"*\"]"))
            + &virtual_service("front", "[\"*\"]", "[web]", to_frontend())
    })
    .await;
    assert!(h.ports().is_empty());
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err());
}

#[tokio::test]
async fn a_port_removed_from_the_gateway_closes_and_the_others_keep_serving() {
    let (kept, removed, added) = (free_port().await, free_port().await, free_port().await);
    let vs = virtual_service("front", "[\"*\"]", "[web]", to_frontend());
    let servers = http_server(kept, "[\"*\"]") + &http_server(removed, "[\"*\"]");
    let mut h = Gateway::new(|_| gateway(INGRESS, &servers) + &vs).await;
    assert_eq!(h.ports().len(), 2);
    let before = h.ports()[&kept];
    let open = tokio::net::TcpStream::connect(("127.0.0.1", kept))
        .await
        .unwrap();

    let servers = http_server(kept, "[\"*\"]") + &http_server(added, "[\"*\"]");
    h.reconfigure(&(gateway(INGRESS, &servers) + &vs)).await;

    let ports: Vec<u16> = h.ports().keys().copied().collect();
    let mut want = vec![kept, added];
    want.sort();
    assert_eq!(ports, want);
    assert_eq!(h.ports()[&kept], before);
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", removed))
        .await
        .is_err());
    let answer = get_over(open, "shop.example.com", "/").await;
    assert!(answer.body.starts_with("frontend /"), "{answer:?}");
    assert!(h.get(added, "x", "/").await.body.starts_with("frontend /"));
}

#[tokio::test]
async fn the_gateway_follows_new_snapshots_on_its_own() {
    let port = free_port().await;
    let h = Gateway::new(|_| String::new()).await;
    assert!(h.ports().is_empty());
    let Gateway {
        gateway,
        config,
        pod_port,
        ..
    } = h;
    let task = tokio::spawn(gateway.run(std::time::Duration::from_millis(10)));
    let yaml = config::gateway(INGRESS, &http_server(port, "[\"*\"]"))
        + &virtual_service("front", "[\"*\"]", "[web]", to_frontend());
    apply(&config, &cluster_yaml(pod_port, &yaml));
    let mut opened = false;
    for _ in 0..500 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            opened = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(opened, "the port never opened");
    task.abort();
    let _ = task.await;
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err());
}

#[test]
fn gateway_labels_parse_as_key_value_pairs() {
    use mesh_agent::gateway::GatewayLabels;
    let labels: GatewayLabels = "istio=ingressgateway, app = edge".parse().unwrap();
    assert_eq!(
        labels.0.get("istio").map(String::as_str),
        Some("ingressgateway")
    );
    assert!("istio".parse::<GatewayLabels>().is_err());
    assert_eq!(
        GatewayLabels::default(),
        "istio=ingressgateway".parse().unwrap()
    );
}
