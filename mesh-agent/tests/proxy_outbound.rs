//! The outbound proxy in-process, on loopback, with a fake capture layer: round robin over a
//! Service's endpoints, half-close, resets, and Istio's TCP metrics.

mod agent_support;

use std::net::SocketAddr;
use std::sync::Arc;

use agent_support::*;
use mesh_agent::proxy::Outbound;
use tokio::io::AsyncReadExt;
use tokio::time::timeout;

const CLUSTER_IP: &str = "10.96.0.10:80";

/// Two `web` pods (127.0.0.2 and 127.0.0.3, same port) behind a Service, and the client pod.
fn cluster_yaml(port: u16) -> String {
    format!(
        r#"
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: shop}}
spec:
  clusterIP: 10.96.0.10
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: {port}}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: web-0, namespace: shop, labels: {{app: web, version: v1}}}}
status: {{podIP: 127.0.0.2}}
---
apiVersion: v1
kind: Pod
metadata: {{name: web-1, namespace: shop, labels: {{app: web, version: v2}}}}
status: {{podIP: 127.0.0.3}}
---
apiVersion: v1
kind: Pod
metadata: {{name: sleep-0, namespace: shop, labels: {{app: sleep, version: v1}}}}
status: {{podIP: 127.0.0.1}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: ignored}}
"#
    )
}

struct Harness {
    proxy: SocketAddr,
    dsts: Arc<FakeOriginalDsts>,
    cookie: u64,
    registry: prometheus_client::registry::Registry,
}

/// Echo servers for both `web` pods and an outbound listener for `sleep-0`.
async fn harness() -> Harness {
    harness_with("").await
}

/// The same, with `extra` resources (a DestinationRule) in the configuration.
async fn harness_with(extra: &str) -> Harness {
    let a = echo_server("127.0.0.2:0".parse().unwrap(), "a").await;
    echo_server(SocketAddr::new("127.0.0.3".parse().unwrap(), a.port()), "b").await;
    let yaml = format!("{}---\n{extra}", cluster_yaml(a.port()));
    let (inputs, dsts, registry) = inputs(config(&yaml));
    let pod = current_pod("shop", "sleep-0", "127.0.0.1").await;
    let cookie = pod.netns_cookie;
    let outbound = Outbound::new(pod, inputs, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let proxy = outbound.address();
    tokio::spawn(outbound.run());
    Harness {
        proxy,
        dsts,
        cookie,
        registry,
    }
}

impl Harness {
    async fn call(&self, dst: &str, input: &[u8]) -> std::io::Result<Vec<u8>> {
        let dst = dst.parse().unwrap();
        let stream = captured_connect(self.proxy, &self.dsts, self.cookie, dst).await;
        timeout(GUARD, exchange(stream, input))
            .await
            .expect("no hang")
    }

    fn metrics(&self) -> String {
        mesh_agent::metrics::encode(&self.registry).unwrap()
    }
}

#[tokio::test]
async fn cluster_ip_is_balanced_round_robin_over_both_endpoints() {
    let h = harness().await;
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(String::from_utf8(h.call(CLUSTER_IP, b"hi").await.unwrap()).unwrap());
    }
    answers.sort();
    assert_eq!(answers, ["a:hi", "a:hi", "b:hi", "b:hi"]);
    assert_eq!(h.dsts.len(), 0, "every original destination was taken");
}

#[tokio::test]
async fn tcp_is_balanced_by_the_destination_rule_load_balancer() {
    // Consistent hash on the source IP: every connection of `sleep-0` goes to one endpoint,
    // where round robin would alternate.
    let h = harness_with(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n\
         metadata: {name: web, namespace: shop}\nspec:\n  host: web.shop.svc.cluster.local\n\
         \x20 trafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true}}}\n",
    )
    .await;
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(String::from_utf8(h.call(CLUSTER_IP, b"hi").await.unwrap()).unwrap());
    }
    answers.dedup();
    assert_eq!(answers.len(), 1, "one endpoint for one source: {answers:?}");
}

#[tokio::test]
async fn half_close_still_delivers_the_answer() {
    let h = harness().await;
    // The echo server answers only after it read the client's end of stream.
    let answer = h.call(CLUSTER_IP, b"the whole request").await.unwrap();
    assert!(answer.ends_with(b":the whole request"), "{answer:?}");
}

#[tokio::test]
async fn a_non_service_destination_is_passed_through() {
    let h = harness().await;
    let direct = echo_server("127.0.0.1:0".parse().unwrap(), "direct").await;
    let answer = h.call(&direct.to_string(), b"x").await.unwrap();
    assert_eq!(answer, b"direct:x");
}

#[tokio::test]
async fn refused_endpoint_resets_the_client() {
    let h = harness().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let stream = captured_connect(h.proxy, &h.dsts, h.cookie, closed).await;
    let mut stream = stream;
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
    let h = harness().await;
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
    let h = harness().await;
    h.call(CLUSTER_IP, b"hello").await.unwrap();
    let closed_line = wait_for(&h, "istio_tcp_connections_closed_total{").await;
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
    let text = h.metrics();
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

/// The first metrics line starting with `prefix`, once the proxy has recorded it.
async fn wait_for(h: &Harness, prefix: &str) -> String {
    let found = async {
        loop {
            if let Some(line) = h.metrics().lines().find(|l| l.starts_with(prefix)) {
                return line.to_string();
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    timeout(GUARD, found).await.expect("metric recorded")
}
