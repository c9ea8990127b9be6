//! Tracing through the proxy, in-process on loopback: a frontend pod calls the backend Service
//! through the outbound side, the backend's inbound side serves it, and a test OTLP collector
//! receives the spans. One call gives one trace whose client span parents the server span;
//! incoming W3C and B3 contexts are continued; an unsampled request records nothing.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Empty};
use hyper::Request;
use mesh_agent::http::Pool;
use mesh_agent::proxy::{serve, Captured, Connection};
use mesh_agent::resources::MeshConfig;
use tokio::net::TcpListener;

use crate::harness::client::read;
use crate::harness::collector::{Collector, Received};
use crate::harness::config::{compile, pod, service};
use crate::harness::proxy::{current_pod, Agent, Client, ProxyInputs};
use crate::harness::upstream::Upstream;
use crate::harness::GUARD;

const BACKEND_SERVICE: &str = "10.96.0.20:80";
const BACKEND_POD: &str = "127.0.0.7";
/// Where the backend app listens: the pod IP as seen from inside its netns. In-process there
/// is no `sk_lookup` to steer the caller's connections to `BACKEND_POD` away from the app, so
/// the inbound side listens on the pod IP and the app on this other loopback address.
const BACKEND_APP: &str = "127.0.0.8";
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN: &str = "00f067aa0ba902b7";

struct Mesh {
    client: Client,
    collector: Collector,
    _agent: Agent,
}

fn cluster(port: u16, collector: SocketAddr) -> String {
    service("backend", "10.96.0.20", "http", port)
        + &pod("backend-0", "app: backend, version: v1", BACKEND_POD)
        + &pod("frontend-0", "app: frontend, version: v1", "127.0.0.1")
        + &format!("# collector {collector}\n")
}

/// The mesh config: 100% (or `sampling`%) tracing to the test collector.
fn mesh_config(sampling: f64, collector: SocketAddr) -> MeshConfig {
    let yaml = format!(
        "enableTracing: true\ndefaultConfig: {{tracing: {{sampling: {sampling}}}}}\n\
         extensionProviders:\n- name: otel\n  opentelemetry: {{service: \"{}\", port: {}}}\n",
        collector.ip(),
        collector.port()
    );
    serde_yaml::from_str(&yaml).unwrap()
}

/// The backend pod's inbound side: what `sk_lookup` would steer to it, served here from a
/// listener on the pod IP at the app's port; the inbound hop dials the app on the pod's own IP,
/// [`BACKEND_APP`] here.
async fn inbound_side(inputs: Arc<ProxyInputs>, port: u16) {
    let pod = current_pod("shop", "backend-0", BACKEND_APP).await;
    let addr: SocketAddr = format!("{BACKEND_POD}:{port}").parse().unwrap();
    let listener = TcpListener::bind(addr).await.unwrap();
    let pool = Arc::new(Pool::new(pod.netns.clone(), inputs.sockets.clone()));
    tokio::spawn(async move {
        while let Ok((client, peer)) = listener.accept().await {
            let connection = Connection {
                client,
                peer,
                pod: pod.clone(),
                inputs: inputs.clone(),
                http_pool: pool.clone(),
                permit: inputs
                    .caps
                    .admit(&Arc::from("shop/backend-0"), None)
                    .unwrap(),
            };
            let captured = Captured::Inbound { original_dst: addr };
            tokio::spawn(serve(connection, captured));
        }
    });
}

async fn mesh(sampling: f64) -> Mesh {
    let collector = Collector::start().await;
    let app = Upstream::healthy(format!("{BACKEND_APP}:0").parse().unwrap(), "backend-0").await;
    let port = app.address.port();
    let agent = Agent::new(compile(&cluster(port, collector.address)));
    let observers = &agent.inputs.http.observers;
    let logs = mesh_agent::config::DEFAULT_ACCESS_LOG_DIR.as_ref();
    observers.apply(&mesh_config(sampling, collector.address), logs);
    inbound_side(agent.inputs.clone(), port).await;
    let client = agent.outbound("frontend-0", "127.0.0.1").await;
    Mesh {
        client,
        collector,
        _agent: agent,
    }
}

impl Mesh {
    /// The frontend calls `http://backend.shop/` with `headers`; returns what the app saw.
    async fn call(&self, headers: &[(&str, &str)]) -> HashMap<String, String> {
        let mut sender = self.client.http1(BACKEND_SERVICE).await;
        let mut request = Request::get("/items?id=7").header("host", "backend.shop");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Empty::new().boxed()).unwrap();
        let response = tokio::time::timeout(GUARD, sender.send_request(request))
            .await
            .unwrap()
            .unwrap();
        let answer = read(response).await;
        assert_eq!(answer.status, 200);
        let echoed = answer.headers.iter().filter_map(|(name, value)| {
            let name = name.as_str().strip_prefix("echo-")?;
            Some((name.to_string(), value.to_str().unwrap().to_string()))
        });
        echoed.collect()
    }

    /// The client and server spans of one call, once both arrived.
    async fn hop(&self, total: usize, trace_id: &str) -> (Received, Received) {
        let spans = self.collector.wait_for(total, GUARD).await;
        let of_trace: Vec<&Received> = spans.iter().filter(|s| s.trace_id() == trace_id).collect();
        assert_eq!(
            of_trace.len(),
            2,
            "one client and one server span: {spans:#?}"
        );
        let kind = |k: i32| (*of_trace.iter().find(|s| s.span.kind == k).unwrap()).clone();
        (kind(3), kind(2))
    }
}

fn traceparent_of(seen: &HashMap<String, String>) -> (String, String, String) {
    let tp = &seen["traceparent"];
    let parts: Vec<&str> = tp.split('-').collect();
    (parts[1].into(), parts[2].into(), parts[3].into())
}

#[tokio::test]
async fn a_frontend_to_backend_call_gives_one_trace_with_parented_spans() {
    let mesh = mesh(100.0).await;
    let seen = mesh.call(&[("user-agent", "curl/8")]).await;
    let (trace_id, app_parent, flags) = traceparent_of(&seen);
    assert_eq!(flags, "01");
    let (client, server) = mesh.hop(2, &trace_id).await;

    // The client span starts the trace; the server span is its child; the app is told the
    // server span is its parent, so its own calls continue the same trace.
    assert_eq!(client.parent_id(), "");
    assert_eq!(server.parent_id(), client.span_id());
    assert_eq!(app_parent, server.span_id());

    assert_eq!(client.service, "frontend.shop");
    assert_eq!(server.service, "backend.shop");
    assert_eq!(client.span.name, "backend.shop.svc.cluster.local:80/*");
    let request_id = &seen["x-request-id"];
    for (span, canonical) in [(&client, "frontend"), (&server, "backend")] {
        let attr = |k: &str| {
            span.attribute(k)
                .unwrap_or_else(|| panic!("{k} on {span:#?}"))
        };
        assert_eq!(attr("istio.canonical_service"), canonical);
        assert_eq!(attr("istio.namespace"), "shop");
        assert_eq!(attr("istio.mesh_id"), "cluster.local");
        assert_eq!(attr("guid:x-request-id"), *request_id);
        assert_eq!(attr("http.method"), "GET");
        assert_eq!(attr("http.url"), "http://backend.shop/items?id=7");
        assert_eq!(attr("http.status_code"), "200");
        assert_eq!(attr("response_flags"), "-");
        assert_eq!(attr("component"), "proxy");
        assert_eq!(attr("downstream_cluster"), "-");
        assert_eq!(attr("user_agent"), "curl/8");
        assert!(attr("node_id").contains(&format!("{canonical}-0.shop")));
        assert!(attr("peer.address").starts_with("127.0.0."));
        assert!(attr("response_size").parse::<u64>().unwrap() > 0);
        attr("request_size").parse::<u64>().unwrap();
    }
    let cluster = client.attribute("upstream_cluster").unwrap();
    assert_eq!(cluster, "outbound|80||backend.shop.svc.cluster.local");
    assert!(server
        .attribute("upstream_cluster")
        .unwrap()
        .starts_with("inbound|"));
}

#[tokio::test]
async fn an_incoming_w3c_context_is_continued() {
    let mesh = mesh(0.0).await;
    let incoming = format!("00-{TRACE}-{SPAN}-01");
    let seen = mesh
        .call(&[("traceparent", &incoming), ("tracestate", "vendor=x")])
        .await;
    let (trace_id, app_parent, _) = traceparent_of(&seen);
    assert_eq!(trace_id, TRACE);
    assert_eq!(seen["tracestate"], "vendor=x");
    let (client, server) = mesh.hop(2, TRACE).await;
    assert_eq!(client.parent_id(), SPAN);
    assert_eq!(server.parent_id(), client.span_id());
    assert_eq!(app_parent, server.span_id());
}

#[tokio::test]
async fn an_incoming_b3_context_is_continued() {
    let mesh = mesh(0.0).await;
    let seen = mesh
        .call(&[
            ("x-b3-traceid", TRACE),
            ("x-b3-spanid", SPAN),
            ("x-b3-sampled", "1"),
        ])
        .await;
    assert_eq!(seen["x-b3-traceid"], TRACE);
    let (client, server) = mesh.hop(2, TRACE).await;
    assert_eq!(client.parent_id(), SPAN);
    assert_eq!(server.parent_id(), client.span_id());
    assert_eq!(seen["x-b3-spanid"], server.span_id());
    assert_eq!(seen["x-b3-parentspanid"], client.span_id());
    assert_eq!(seen["x-b3-sampled"], "1");
}

#[tokio::test]
async fn an_incoming_b3_single_header_is_continued() {
    let mesh = mesh(0.0).await;
    let seen = mesh.call(&[("b3", &format!("{TRACE}-{SPAN}-1"))]).await;
    let (client, server) = mesh.hop(2, TRACE).await;
    assert_eq!(client.parent_id(), SPAN);
    let expected = format!("{TRACE}-{}-1-{}", server.span_id(), client.span_id());
    assert_eq!(seen["b3"], expected);
}

#[tokio::test]
async fn an_unsampled_incoming_request_records_no_spans() {
    let mesh = mesh(100.0).await;
    let declined = format!("00-{TRACE}-{SPAN}-00");
    let seen = mesh.call(&[("traceparent", &declined)]).await;
    let (trace_id, _, flags) = traceparent_of(&seen);
    assert_eq!((trace_id.as_str(), flags.as_str()), (TRACE, "00"));
    // A sampled call after it: once its spans are in, the unsampled one would be too.
    let seen = mesh.call(&[]).await;
    let (sampled_trace, _, _) = traceparent_of(&seen);
    mesh.hop(2, &sampled_trace).await;
    let spans = mesh.collector.spans();
    assert!(spans.iter().all(|s| s.trace_id() != TRACE), "{spans:#?}");
    assert_eq!(spans.len(), 2);
}
