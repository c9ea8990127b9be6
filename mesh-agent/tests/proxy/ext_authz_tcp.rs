//! CUSTOM AuthorizationPolicies on opaque TCP, in-process, on the same-node fast path: a gRPC
//! provider's authorizer is asked with Envoy's network filter's attributes (the client's
//! principal, no request) before the app is dialled; a refusal closes the connection, counted
//! `response_flags="UAEX"`; an allowed connection is carried; an HTTP provider does not apply
//! to TCP (as Istio), so the connection passes unasked.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::harness::config::{
    authorization_policies as policies, compile, mesh_config, pod, service,
};
use crate::harness::ext_authz::{grpc_authorizer, Authorizer};
use crate::harness::metrics::{has_sample, text};
use crate::harness::proxy::{current_pod, Agent};
use crate::harness::upstream::Upstream;

const CUSTOM_ALL: &str = "action: CUSTOM, provider: {name: checker}, rules: [{}]";
const GET: &[u8] = b"GET / HTTP/1.1\r\nhost: web\r\nconnection: close\r\n\r\n";

/// `sleep-0`'s connection to `web-0` (127.0.0.3, port declared TCP, `CUSTOM_ALL` on it) on
/// the same-node path, the provider `checker` of `kind` at `authorizer`: what came back, the
/// app, and the metrics.
async fn same_node_tcp(kind: &str, authorizer: &Authorizer) -> (Vec<u8>, Arc<Upstream>, String) {
    let app = Upstream::healthy("127.0.0.3:0".parse().unwrap(), "web-0").await;
    let mesh = format!(
        "extensionProviders:\n- name: checker\n  {kind}:\n    service: ext-authz.shop.svc.cluster.local\n    port: 80\n"
    );
    let port = authorizer.address.port();
    let yaml = service("web", "10.96.0.10", "tcp-web", app.address.port())
        + &service("ext-authz", "10.96.0.20", "grpc", port)
        + &pod("sleep-0", "app: sleep", "127.0.0.1")
        + &pod("web-0", "app: web", "127.0.0.3")
        + &pod("ext-authz-0", "app: ext-authz", "127.0.0.5")
        + &policies(&[CUSTOM_ALL])
        + &mesh_config(&mesh);
    let agent = Agent::new(compile(&yaml));
    let web = current_pod("shop", "web-0", "127.0.0.3").await;
    agent.inputs.local_pods.insert(web);
    let client = agent.sleep().await;
    let answer = client.exchange(&app.address.to_string(), GET).await;
    (answer.unwrap_or_default(), app, text(&agent.registry))
}

#[tokio::test]
async fn a_tcp_connection_the_authorizer_denies_is_closed_before_the_app() {
    let authorizer = grpc_authorizer("127.0.0.5").await;
    let (answer, app, metrics) = same_node_tcp("envoyExtAuthzGrpc", &authorizer).await;
    assert_eq!(String::from_utf8_lossy(&answer), "");
    assert_eq!(app.accepted(), 0, "the app was dialled");
    let asked = authorizer.asked();
    assert_eq!(
        asked,
        ["tcp from spiffe://cluster.local/ns/shop/sa/default"]
    );
    let opened = "istio_tcp_connections_opened_total";
    let refused = [r#"reporter="destination""#, r#"response_flags="UAEX""#];
    assert!(has_sample(&metrics, opened, &refused, 1), "{metrics}");
}

#[tokio::test]
async fn a_tcp_connection_the_authorizer_allows_is_carried() {
    let authorizer = grpc_authorizer("127.0.0.5").await;
    authorizer.allow_connections.store(true, Ordering::SeqCst);
    let (answer, app, _) = same_node_tcp("envoyExtAuthzGrpc", &authorizer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(app.accepted(), 1);
    assert_eq!(authorizer.asked().len(), 1);
}

#[tokio::test]
async fn an_http_provider_does_not_apply_to_tcp() {
    let authorizer = grpc_authorizer("127.0.0.5").await;
    let (answer, _, _) = same_node_tcp("envoyExtAuthzHttp", &authorizer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(authorizer.asked().is_empty(), "{:?}", authorizer.asked());
}

/// Through the tunnel, a CONNECT to a port declared TCP is asked about before the app is
/// dialled: the authorizer's refusal answers 401; allowed, the stream is carried. The principal
/// is the one the client's certificate proved.
#[tokio::test]
async fn a_tunnel_connect_to_a_tcp_port_meets_the_authorizer() {
    use crate::harness::certificates::{identity, TestCa, TestCertificates};
    use crate::harness::hbone;
    use crate::harness::upstream::echo_server;
    let authorizer = grpc_authorizer("127.0.0.5").await;
    let app = echo_server("127.0.0.47:0".parse().unwrap(), "web").await;
    let ambient = "istio.io/dataplane-mode: ambient";
    let mesh = "extensionProviders:\n- name: checker\n  envoyExtAuthzGrpc:\n    service: ext-authz.shop.svc.cluster.local\n    port: 80\n";
    let yaml = service("web", "10.96.0.10", "tcp-web", app.port())
        + &service("ext-authz", "10.96.0.20", "grpc", authorizer.address.port())
        + &pod("echo-0", &format!("app: web, {ambient}"), "127.0.0.47")
        + &pod("ext-authz-0", "app: ext-authz", "127.0.0.5")
        + &policies(&[CUSTOM_ALL])
        + &mesh_config(mesh);
    let ca = TestCa::new();
    let agent = Agent::with_tunnels(compile(&yaml), TestCertificates::new(ca.clone()));
    let tunnel = agent.tunnel_inbound("echo-0", "127.0.0.47").await;
    let sleep = ca.issue(&identity("shop", "sleep"));
    let mut client = hbone::Client::connect(tunnel, &sleep).await.unwrap();
    assert_eq!(client.exchange(&app.to_string(), b"hello").await.0, 401);
    authorizer.allow_connections.store(true, Ordering::SeqCst);
    let mut client = hbone::Client::connect(tunnel, &sleep).await.unwrap();
    let (status, answer) = client.exchange(&app.to_string(), b"hello").await;
    assert_eq!((status, answer.as_slice()), (200, &b"web:hello"[..]));
    let asked = "tcp from spiffe://cluster.local/ns/shop/sa/sleep";
    assert_eq!(authorizer.asked(), [asked, asked]);
    let metrics = text(&agent.registry);
    let refused = [r#"reporter="destination""#, r#"response_flags="UAEX""#];
    let opened = "istio_tcp_connections_opened_total";
    assert!(has_sample(&metrics, opened, &refused, 1), "{metrics}");
}
