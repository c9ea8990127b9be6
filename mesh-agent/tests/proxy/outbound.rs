//! The outbound proxy in-process, on loopback, with a fake capture layer: round robin over a
//! Service's endpoints, its DestinationRule's load balancer, half-close, resets, and Istio's TCP metrics.

use std::net::SocketAddr;

use tokio::io::AsyncReadExt;
use tokio::time::timeout;

use crate::harness::config::{compile, pod, service, sleep};
use crate::harness::metrics;
use crate::harness::proxy::{Agent, Client};
use crate::harness::upstream::echo_server;
use crate::harness::GUARD;

const CLUSTER_IP: &str = "10.96.0.10:80";

/// Two `web` pods (127.0.0.2 and 127.0.0.3, same port) behind a Service (undeclared port),
/// the client pod and a ConfigMap the proxy ignores.
fn cluster_yaml(port: u16) -> String {
    service("web", "10.96.0.10", "", port)
        + &pod("web-0", "app: web, version: v1", "127.0.0.2")
        + &pod("web-1", "app: web, version: v2", "127.0.0.3")
        + &sleep()
        + "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ignored}\n"
}

/// Echo servers for both `web` pods (`a` and `b`) and an outbound listener for `sleep-0`.
async fn harness() -> (Agent, Client) {
    let a = echo_server("127.0.0.2:0".parse().unwrap(), "a").await;
    echo_server(SocketAddr::new("127.0.0.3".parse().unwrap(), a.port()), "b").await;
    let agent = Agent::new(compile(&cluster_yaml(a.port())));
    let client = agent.sleep().await;
    (agent, client)
}

#[tokio::test]
async fn cluster_ip_is_balanced_round_robin_over_both_endpoints() {
    let (_agent, h) = harness().await;
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(String::from_utf8(h.exchange(CLUSTER_IP, b"hi").await.unwrap()).unwrap());
    }
    answers.sort();
    assert_eq!(answers, ["a:hi", "a:hi", "b:hi", "b:hi"]);
    assert_eq!(h.dsts.len(), 0, "every original destination was taken");
}

#[tokio::test]
async fn tcp_is_balanced_by_the_destination_rule_load_balancer() {
    // Consistent hash on the source IP: every connection of `sleep-0` goes to one endpoint,
    // where round robin would alternate.
    let a = echo_server("127.0.0.2:0".parse().unwrap(), "a").await;
    echo_server(SocketAddr::new("127.0.0.3".parse().unwrap(), a.port()), "b").await;
    let rule = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n\
                metadata: {name: web, namespace: shop}\nspec:\n  host: web.shop.svc.cluster.local\n\
                \x20 trafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true}}}\n";
    let agent = Agent::new(compile(&format!("{}---\n{rule}", cluster_yaml(a.port()))));
    let h = agent.sleep().await;
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(String::from_utf8(h.exchange(CLUSTER_IP, b"hi").await.unwrap()).unwrap());
    }
    answers.dedup();
    assert_eq!(answers.len(), 1, "one endpoint for one source: {answers:?}");
}

#[tokio::test]
async fn half_close_still_delivers_the_answer() {
    let (_agent, h) = harness().await;
    // The echo server answers only after it read the client's end of stream.
    let answer = h.exchange(CLUSTER_IP, b"the whole request").await.unwrap();
    assert!(answer.ends_with(b":the whole request"), "{answer:?}");
}

#[tokio::test]
async fn a_non_service_destination_is_passed_through() {
    let (_agent, h) = harness().await;
    let direct = echo_server("127.0.0.1:0".parse().unwrap(), "direct").await;
    let answer = h.exchange(&direct.to_string(), b"x").await.unwrap();
    assert_eq!(answer, b"direct:x");
}

#[tokio::test]
async fn refused_endpoint_resets_the_client() {
    let (_agent, h) = harness().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut stream = h.connect(&closed.to_string()).await;
    let mut buf = [0u8; 16];
    let read = timeout(GUARD, stream.read(&mut buf))
        .await
        .expect("no hang");
    match read {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
        Ok(n) => assert_eq!(n, 0, "no data from a refused endpoint"),
    }
}

#[tokio::test]
async fn uncaptured_connection_is_reset() {
    let (_agent, h) = harness().await;
    let mut stream = tokio::net::TcpStream::connect(h.proxy).await.unwrap();
    let mut buf = [0u8; 16];
    let read = timeout(GUARD, stream.read(&mut buf))
        .await
        .expect("no hang");
    assert_eq!(
        read.unwrap_err().kind(),
        std::io::ErrorKind::ConnectionReset
    );
}

#[tokio::test]
async fn tcp_metrics_carry_istio_labels_and_byte_counts() {
    let (agent, h) = harness().await;
    h.exchange(CLUSTER_IP, b"hello").await.unwrap();
    let closed_line =
        metrics::recorded(&agent.registry, "istio_tcp_connections_closed_total{").await;
    let labels = closed_line
        .split_once('{')
        .unwrap()
        .1
        .split_once('}')
        .unwrap()
        .0;
    for label in [
        r#"reporter="source""#,
        r#"source_workload="sleep""#,
        r#"source_workload_namespace="shop""#,
        r#"source_app="sleep""#,
        r#"source_version="v1""#,
        r#"destination_workload="web""#,
        r#"destination_workload_namespace="shop""#,
        r#"destination_service="web.shop.svc.cluster.local""#,
        r#"destination_service_name="web""#,
        r#"destination_service_namespace="shop""#,
        r#"destination_app="web""#,
        r#"request_protocol="tcp""#,
        r#"connection_security_policy="none""#,
    ] {
        assert!(labels.contains(label), "{label} missing in {labels}");
    }
    let text = agent.metrics();
    let value = |name: &str| {
        let line = text
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {text}"));
        line.rsplit(' ').next().unwrap().to_string()
    };
    assert_eq!(value("istio_tcp_connections_opened_total{"), "1");
    assert_eq!(value("istio_tcp_connections_closed_total{"), "1");
    assert_eq!(
        value("istio_tcp_received_bytes_total{"),
        "5",
        "client sent `hello`"
    );
    assert_eq!(
        value("istio_tcp_sent_bytes_total{"),
        "7",
        "client got `a:hello` or `b:hello`"
    );
}
