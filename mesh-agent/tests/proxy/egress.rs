//! Egress in-process: ServiceEntry hosts found by HTTP Host and TLS SNI, REGISTRY_ONLY's black
//! hole (HTTP 502, TCP closed, counted as `BlackHoleCluster`), ALLOW_ANY's passthrough
//! (`PassthroughCluster`), a Sidecar narrowing what a namespace may reach, and VirtualService
//! `tcp` routes splitting connections by weight between subsets.

use std::net::SocketAddr;

use crate::harness::client::get_over;
use crate::harness::config::{compile, destination_rule, mesh_config, pod, service, sleep};
use crate::harness::metrics;
use crate::harness::proxy::{Agent, Client};
use crate::harness::upstream::{echo_server, Upstream};

/// An HTTP ServiceEntry for `host` on `port`, resolution NONE (the address the app dialled),
/// in namespace `ns`.
fn http_entry(ns: &str, host: &str, port: u16) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n\
         metadata: {{name: {host}, namespace: {ns}}}\nspec:\n  hosts: [{host}]\n\
         \x20 location: MESH_EXTERNAL\n  resolution: NONE\n\
         \x20 ports: [{{number: {port}, name: http, protocol: HTTP}}]\n---\n"
    )
}

fn registry_only() -> String {
    mesh_config("outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n") + "---\n"
}

/// An external HTTP server at 127.0.0.40 and the client `sleep-0` with `yaml` (given the
/// server's port) in force.
async fn external(
    yaml: impl Fn(u16) -> String,
) -> (Agent, Client, std::sync::Arc<Upstream>, String) {
    let upstream = Upstream::healthy("127.0.0.40:0".parse().unwrap(), "external").await;
    let port = upstream.address.port();
    let agent = Agent::new(compile(&(yaml(port) + &sleep())));
    let client = agent.sleep().await;
    (agent, client, upstream, format!("127.0.0.40:{port}"))
}

async fn get(client: &Client, dst: &str, host: &str) -> u16 {
    get_over(client.connect(dst).await, host, "/").await.status
}

#[tokio::test]
async fn registry_only_answers_502_to_an_unknown_host_and_lets_a_service_entry_host_through() {
    let (agent, client, upstream, dst) =
        external(|port| registry_only() + &http_entry("shop", "api.example.test", port)).await;
    assert_eq!(get(&client, &dst, "api.example.test").await, 200);
    assert_eq!(get(&client, &dst, "other.example.test").await, 502);
    assert_eq!(upstream.seen(), 1, "the refused request never left");
    let name = |n: &str| format!("destination_service_name=\"{n}\"");
    let known = [name("api.example.test").as_str(), "response_code=\"200\""].map(String::from);
    let refused = [name("BlackHoleCluster").as_str(), "response_code=\"502\""].map(String::from);
    for labels in [known, refused] {
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        assert_eq!(
            metrics::requests_total(&agent.registry, &labels, 1).await,
            1,
            "{labels:?}"
        );
    }
}

#[tokio::test]
async fn allow_any_passes_an_unknown_host_through_as_passthrough_cluster() {
    let (agent, client, upstream, dst) = external(|_| String::new()).await;
    assert_eq!(get(&client, &dst, "other.example.test").await, 200);
    assert_eq!(upstream.seen(), 1);
    let labels = ["destination_service_name=\"PassthroughCluster\""];
    assert_eq!(
        metrics::requests_total(&agent.registry, &labels, 1).await,
        1
    );
}

#[tokio::test]
async fn a_sidecar_narrows_what_its_namespace_reaches() {
    let sidecar = "apiVersion: networking.istio.io/v1\nkind: Sidecar\n\
                   metadata: {name: default, namespace: shop}\nspec:\n\
                   \x20 outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n\
                   \x20 egress: [{hosts: [./*, istio-system/*]}]\n---\n";
    let (_agent, client, upstream, dst) = external(|port| {
        http_entry("ext", "api.example.test", port)
            + &http_entry("shop", "own.example.test", port)
            + sidecar
    })
    .await;
    assert_eq!(get(&client, &dst, "own.example.test").await, 200);
    assert_eq!(
        get(&client, &dst, "api.example.test").await,
        502,
        "namespace ext not listed"
    );
    assert_eq!(upstream.seen(), 1);
}

#[tokio::test]
async fn registry_only_closes_tcp_to_an_unknown_address_and_counts_it() {
    let echo = echo_server("127.0.0.43:0".parse().unwrap(), "echo").await;
    let agent = Agent::new(compile(&(registry_only() + &sleep())));
    let client = agent.sleep().await;
    let answer = client.exchange(&echo.to_string(), b"hi").await;
    assert!(
        answer.map_or(true, |a| a.is_empty()),
        "closed without an answer"
    );
    let opened = "istio_tcp_connections_opened_total";
    let labels = ["destination_service_name=\"BlackHoleCluster\""];
    let text = agent.metrics();
    assert_eq!(metrics::sum(&text, opened, &labels), 1, "{text}");
}

/// A TLS ServiceEntry `name` (STATIC, its endpoint at `ip`) on `port`.
fn tls_entry(name: &str, ip: &str, port: u16) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n\
         metadata: {{name: {name}, namespace: shop}}\nspec:\n  hosts: [{name}.example.test]\n\
         \x20 location: MESH_EXTERNAL\n  resolution: STATIC\n  endpoints: [{{address: {ip}}}]\n\
         \x20 ports: [{{number: {port}, name: tls, protocol: TLS}}]\n---\n"
    )
}

#[tokio::test]
async fn tls_goes_to_the_entry_its_sni_names_bytes_untouched() {
    let a = echo_server("127.0.0.41:0".parse().unwrap(), "a").await;
    let port = a.port();
    echo_server(SocketAddr::new("127.0.0.42".parse().unwrap(), port), "b").await;
    let yaml =
        registry_only() + &tls_entry("a", "127.0.0.41", port) + &tls_entry("b", "127.0.0.42", port);
    let agent = Agent::new(compile(&(yaml + &sleep())));
    let client = agent.sleep().await;
    let hello = client_hello("b.example.test");
    let answer = client
        .exchange(&format!("127.0.0.49:{port}"), &hello)
        .await
        .unwrap();
    assert_eq!(&answer[..2], b"b:");
    assert_eq!(
        &answer[2..],
        hello.as_slice(),
        "the ClientHello went through untouched"
    );
}

/// The first flight of a TLS client asking for `name`.
fn client_hello(name: &str) -> Vec<u8> {
    use std::sync::Arc;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let name = name.to_string().try_into().unwrap();
    let mut tls = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut out = Vec::new();
    tls.write_tls(&mut out).unwrap();
    out
}

#[tokio::test]
async fn tcp_routes_split_connections_by_weight_between_subsets() {
    let a = echo_server("127.0.0.2:0".parse().unwrap(), "v1").await;
    echo_server(
        SocketAddr::new("127.0.0.3".parse().unwrap(), a.port()),
        "v2",
    )
    .await;
    let routes = "apiVersion: networking.istio.io/v1\nkind: VirtualService\n\
                  metadata: {name: web, namespace: shop}\nspec:\n  hosts: [web]\n  tcp:\n\
                  \x20 - match: [{port: 80}]\n    route:\n\
                  \x20   - {destination: {host: web, subset: v1}, weight: 80}\n\
                  \x20   - {destination: {host: web, subset: v2}, weight: 20}\n---\n";
    let yaml = service("web", "10.96.0.10", "tcp", a.port())
        + &pod("web-0", "app: web, version: v1", "127.0.0.2")
        + &pod("web-1", "app: web, version: v2", "127.0.0.3")
        + &destination_rule("")
        + routes
        + &sleep();
    let agent = Agent::new(compile(&yaml));
    let client = agent.sleep().await;
    let mut to_v2 = 0;
    for _ in 0..100 {
        let answer = client.exchange("10.96.0.10:80", b"hi").await.unwrap();
        to_v2 += usize::from(answer == b"v2:hi");
    }
    // Binomial(100, 0.2): 5..=35 holds with probability 1 - 1e-5; round robin would give 50.
    assert!((5..=35).contains(&to_v2), "20% to v2: {to_v2}");
}

#[tokio::test]
async fn a_host_the_entry_at_that_address_does_not_list_is_not_that_entry() {
    let entry = |port: u16| {
        registry_only()
            + &format!(
                "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n\
                 metadata: {{name: api, namespace: shop}}\nspec:\n  hosts: [api.example.test]\n\
                 \x20 addresses: [127.0.0.40]\n  resolution: NONE\n\
                 \x20 ports: [{{number: {port}, name: http, protocol: HTTP}}]\n---\n"
            )
    };
    let (_agent, client, upstream, dst) = external(entry).await;
    assert_eq!(get(&client, &dst, "api.example.test").await, 200);
    assert_eq!(
        get(&client, &dst, "127.0.0.40").await,
        200,
        "its address names it too"
    );
    assert_eq!(get(&client, &dst, "other.example.test").await, 502);
    assert_eq!(upstream.seen(), 2);
}
