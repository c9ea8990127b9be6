//! A destination that is already a backend pod IP:port — Cilium's socket load balancer
//! translated the ClusterIP in `connect()` before the capture hook ran — is routed as its
//! Service: VirtualService rules, subsets and splits, the request's authority choosing among
//! the Services the pod backs; over TCP the backend the socket LB chose is kept, with the
//! Service in the metrics.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;

use crate::harness::config::web_routes;
use crate::harness::config::{compile, destination_rule, pod, service, sleep, virtual_service};
use crate::harness::metrics;
use crate::harness::proxy::Agent;
use crate::harness::upstream::{echo_server, healthy_on_one_port};
use crate::harness::web::{get, two_versions, Web};

const WEB_SERVICE: &str = "destination_service=\"web.shop.svc.cluster.local\"";

/// `GET /` with `Host: host`.
fn get_host(host: &str) -> Request<Full<Bytes>> {
    let request = Request::get("/").header("host", host);
    request.body(Full::default()).unwrap()
}

#[tokio::test]
async fn a_backend_of_web_is_routed_by_webs_virtual_service() {
    let vs = web_routes("  - route: [{destination: {host: web, subset: v2}}]\n");
    let h = two_versions(&(destination_rule("") + &vs)).await;
    let v1 = h.v1().address.to_string();
    for _ in 0..5 {
        let answer = h.send_to(&v1, get("/", &[])).await;
        assert!(answer.body.starts_with("v2 "), "{answer:?}");
    }
    assert_eq!(
        h.v1().seen(),
        0,
        "the backend dialled is not where web's route goes"
    );
    assert_eq!(
        h.requests_total(&[WEB_SERVICE, "response_code=\"200\""], 5)
            .await,
        5
    );
}

#[tokio::test]
async fn a_canary_split_still_applies_through_a_backend() {
    let vs = web_routes(
        "  - route:\n    - {destination: {host: web, subset: v1}, weight: 50}\n    - {destination: {host: web, subset: v2}, weight: 50}\n",
    );
    let h = two_versions(&(destination_rule("") + &vs)).await;
    let v1 = h.v1().address.to_string();
    let mut to_v2 = 0;
    for _ in 0..200 {
        to_v2 += usize::from(h.send_to(&v1, get("/", &[])).await.body.starts_with("v2 "));
    }
    assert!((60..=140).contains(&to_v2), "{to_v2} of 200 to v2");
}

/// `checkout` (10.96.0.11) selects the same pods as `web`; its routes go to v1, web's to v2.
fn checkout(port: u16) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: checkout, namespace: shop}}\n\
         spec:\n  clusterIP: 10.96.0.11\n  selector: {{app: web}}\n\
         \x20 ports: [{{name: http, port: 80, targetPort: {port}}}]\n---\n"
    ) + &virtual_service(
        "checkout",
        "[checkout]",
        "",
        "  - route: [{destination: {host: web, subset: v1}}]\n",
    )
}

#[tokio::test]
async fn the_authority_picks_the_service_among_those_a_backend_serves() {
    let (port, pods) = healthy_on_one_port(&[("127.0.0.2", "v1"), ("127.0.0.3", "v2")]).await;
    let mut yaml = service("web", "10.96.0.10", "http-web", port) + &sleep() + &checkout(port);
    yaml += &pod("web-0", "app: web, version: v1", "127.0.0.2");
    yaml += &pod("web-1", "app: web, version: v2", "127.0.0.3");
    yaml += &(destination_rule("")
        + &web_routes("  - route: [{destination: {host: web, subset: v2}}]\n"));
    let agent = Agent::new(compile(&yaml));
    let client = agent.sleep().await;
    let h = Web {
        agent,
        client,
        pods,
    };
    let backend = h.v2().address.to_string();
    let by_host = |host: &'static str| {
        let (h, backend) = (&h, backend.clone());
        async move { h.send_to(&backend, get_host(host)).await.body }
    };
    assert!(by_host("web.shop").await.starts_with("v2 "));
    assert!(by_host("checkout.shop:80").await.starts_with("v1 "));
    // Naming neither: the first by namespace/name, checkout.
    assert!(by_host("127.0.0.3").await.starts_with("v1 "));
}

#[tokio::test]
async fn tcp_to_a_backend_keeps_it_and_reports_the_service() {
    let a = echo_server("127.0.0.2:0".parse().unwrap(), "a").await;
    let b = echo_server(SocketAddr::new("127.0.0.3".parse().unwrap(), a.port()), "b").await;
    let yaml = service("web", "10.96.0.10", "tcp-web", a.port())
        + &pod("web-0", "app: web, version: v1", "127.0.0.2")
        + &pod("web-1", "app: web, version: v2", "127.0.0.3")
        + &sleep();
    let agent = Agent::new(compile(&yaml));
    let client = agent.sleep().await;
    for _ in 0..4 {
        let answer = client.exchange(&b.to_string(), b"hi").await.unwrap();
        assert_eq!(answer, b"b:hi", "the backend the socket LB chose is kept");
    }
    let closed = || {
        metrics::sum(
            &agent.metrics(),
            "istio_tcp_connections_closed_total",
            &[WEB_SERVICE],
        )
    };
    crate::harness::wait_until("4 connections closed, to web", || closed() == 4).await;
}
