//! Access logs in a running proxy, in-process: the pipeline swaps in a MeshConfig (ConfigMap
//! `istio-system/istio`) naming an `accessLogFile`, the observers follow it, and from then on
//! each HTTP request and each TCP connection through the outbound proxy is one JSON line (or the
//! share `accessLogSampling` keeps). A Telemetry resource applied later switches metrics and
//! logs off for the next request, and removing it switches them back on.

mod agent_support;
mod http_support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use agent_support::*;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper::Request;
use hyper_util::rt::TokioIo;
use mesh_agent::pipeline::{self, ConfigMetrics, ConfigState};
use mesh_agent::proxy::Outbound;
use mesh_agent::sources::DirectorySource;
use prometheus_client::registry::Registry;
use tokio::time::timeout;

const WEB: &str = "127.0.0.10:80";
const ECHO: &str = "127.0.0.11:80";

/// `web` (HTTP) over 127.0.0.2, `echo` (a `tcp-` port) over 127.0.0.3, the client `sleep-0`.
fn cluster_yaml(web_port: u16, echo_port: u16) -> String {
    let service = |name: &str, ip: &str, port_name: &str, target: u16| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: shop}}\n\
             spec: {{clusterIP: {ip}, selector: {{app: {name}}}, \
             ports: [{{name: {port_name}, port: 80, targetPort: {target}}}]}}\n---\n"
        )
    };
    let pod = |name: &str, app: &str, ip: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: shop, \
             labels: {{app: {app}}}}}\nstatus: {{podIP: {ip}}}\n---\n"
        )
    };
    [
        service("web", "127.0.0.10", "http-web", web_port),
        service("echo", "127.0.0.11", "tcp-echo", echo_port),
        pod("web-0", "web", "127.0.0.2"),
        pod("echo-0", "echo", "127.0.0.3"),
        pod("sleep-0", "sleep", "127.0.0.1"),
    ]
    .concat()
}

fn mesh_config_yaml(access_log_file: &Path, sampling: u32) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: istio, namespace: istio-system}}\n\
         data:\n  mesh: |\n    accessLogFile: {}\n    accessLogEncoding: JSON\n\
         \x20   accessLogSampling: {sampling}\n",
        access_log_file.display()
    )
}

/// The Telemetry another engineer's benchmark applies to turn telemetry off, verbatim.
const TELEMETRY_OFF: &str = "apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  metrics: [{providers: [{name: prometheus}], overrides: [{disabled: true}]}]
  tracing: [{randomSamplingPercentage: 0}]
  accessLogging: [{disabled: true}]
";

struct Harness {
    dir: TempDir,
    state: ConfigState,
    proxy: SocketAddr,
    dsts: Arc<FakeOriginalDsts>,
    cookie: u64,
    registry: Registry,
}

/// The directory source, the pipeline, the observers following it (as `agent::run` wires
/// them) and an outbound proxy for `sleep-0`; no MeshConfig yet, so logging is off.
async fn harness() -> Harness {
    let (web, _) = http_support::upstream("127.0.0.2:0".parse().unwrap(), "web-0").await;
    let echo = echo_server("127.0.0.3:0".parse().unwrap(), "echo").await;
    let dir = TempDir::new("access-log-live");
    let cluster = cluster_yaml(web.port(), echo.port());
    std::fs::write(dir.path().join("cluster.yaml"), cluster).unwrap();
    let source = DirectorySource::new(dir.path());
    let state = ConfigState::default();
    let metrics = ConfigMetrics::register(&mut Registry::default());
    tokio::spawn(pipeline::run(source.subscribe(), state.clone(), metrics));
    tokio::spawn(source.run());
    wait_until("first snapshot", || state.is_loaded()).await;
    let (inputs, dsts, registry) = inputs(state.clone());
    tokio::spawn(inputs.http.observers.clone().follow(state.clone()));
    let pod = current_pod("shop", "sleep-0", "127.0.0.1").await;
    let cookie = pod.netns_cookie;
    let outbound = Outbound::new(pod, inputs, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let proxy = outbound.address();
    tokio::spawn(outbound.run());
    Harness {
        dir,
        state,
        proxy,
        dsts,
        cookie,
        registry,
    }
}

impl Harness {
    fn log_file(&self) -> PathBuf {
        self.dir.path().join("logs").join("access.log")
    }

    /// Swaps in the MeshConfig that logs to [`Self::log_file`] and waits for the reload.
    async fn turn_access_logs_on(&self) {
        self.log_sampled(100).await;
    }

    /// Like [`Self::turn_access_logs_on`], keeping `percent` of the entries.
    async fn log_sampled(&self, percent: u32) {
        std::fs::create_dir_all(self.log_file().parent().unwrap()).unwrap();
        let yaml = mesh_config_yaml(&self.log_file(), percent);
        self.write("mesh.yaml", Some(&yaml)).await;
    }

    /// Writes (or with `None` removes) `file` in the config directory; waits for the reload.
    async fn write(&self, file: &str, yaml: Option<&str>) {
        let before = self.state.generation();
        let path = self.dir.path().join(file);
        match yaml {
            Some(yaml) => std::fs::write(path, yaml).unwrap(),
            None => std::fs::remove_file(path).unwrap(),
        }
        wait_until("reload", || self.state.generation() > before).await;
        let rejected = self.state.snapshot().rejected().len();
        assert_eq!(rejected, 0, "{:?}", self.state.snapshot().rejected());
    }

    /// The sum of `series` over its label sets.
    fn total(&self, series: &str) -> u64 {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).unwrap();
        let samples = text
            .lines()
            .filter(|l| l.starts_with(&format!("{series}{{")));
        samples
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    async fn get(&self, path: &str) {
        let dst = WEB.parse().unwrap();
        let stream = captured_connect(self.proxy, &self.dsts, self.cookie, dst).await;
        let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(connection);
        let request = Request::get(path)
            .header("host", "web.shop")
            .body(Empty::<bytes::Bytes>::new())
            .unwrap();
        let response = timeout(GUARD, sender.send_request(request))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(response.status(), 200);
        response.into_body().collect().await.unwrap();
    }

    /// One TCP connection to `echo` sending `input`; returns the answer.
    async fn tcp(&self, input: &[u8]) -> Vec<u8> {
        let dst = ECHO.parse().unwrap();
        let stream = captured_connect(self.proxy, &self.dsts, self.cookie, dst).await;
        timeout(GUARD, exchange(stream, input))
            .await
            .unwrap()
            .unwrap()
    }

    /// The log's lines once it holds `count` (bounded wait), parsed.
    async fn lines(&self, count: usize) -> Vec<serde_json::Value> {
        let read = || {
            let text = std::fs::read_to_string(self.log_file()).unwrap_or_default();
            let parse = |l: &str| serde_json::from_str(l).unwrap();
            text.lines().map(parse).collect::<Vec<serde_json::Value>>()
        };
        let _ = timeout(GUARD, async {
            while read().len() < count {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        read()
    }
}

async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let poll = async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    timeout(GUARD, poll)
        .await
        .unwrap_or_else(|_| panic!("{what}"));
}

#[tokio::test]
async fn a_mesh_config_change_turns_access_logs_on_in_a_running_proxy() {
    let h = harness().await;
    h.get("/before").await;
    assert!(
        !h.log_file().exists(),
        "logging is off without a MeshConfig"
    );
    h.turn_access_logs_on().await;
    h.get("/after").await;
    let lines = h.lines(1).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["path"], "/after");
    assert_eq!(lines[0]["response_code"], 200);
    assert_eq!(lines[0]["reporter"], "source");
    assert_eq!(lines[0]["source_workload"], "sleep");
    assert_eq!(lines[0]["destination_workload"], "web");
}

#[tokio::test]
async fn each_tcp_connection_is_one_line_with_its_bytes() {
    let h = harness().await;
    h.turn_access_logs_on().await;
    assert_eq!(h.tcp(b"hello").await, b"echo:hello");
    assert_eq!(h.tcp(b"0123456789").await, b"echo:0123456789");
    let mut lines = h.lines(2).await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    lines.sort_by_key(|l| l["bytes_received"].as_u64());
    for (line, (received, sent)) in lines.iter().zip([(5, 10), (10, 15)]) {
        assert_eq!(line["protocol"], "TCP", "{line}");
        assert_eq!(line["method"], serde_json::Value::Null, "{line}");
        assert_eq!(line["bytes_received"], received, "{line}");
        assert_eq!(line["bytes_sent"], sent, "{line}");
        assert_eq!(line["response_flags"], "-", "{line}");
        assert_eq!(line["reporter"], "source", "{line}");
        assert_eq!(line["source_workload"], "sleep", "{line}");
        assert_eq!(line["destination_workload"], "echo", "{line}");
        assert!(line["upstream_host"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.3:"));
    }
}

#[tokio::test]
async fn access_log_sampling_keeps_the_share_of_entries_the_mesh_config_names() {
    let h = harness().await;
    h.log_sampled(0).await;
    for _ in 0..5 {
        h.get("/unsampled").await;
    }
    h.log_sampled(100).await;
    h.get("/sampled").await;
    let lines = h.lines(1).await;
    let paths: Vec<&str> = lines.iter().map(|l| l["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["/sampled"], "accessLogSampling: 0 keeps nothing");
}

#[tokio::test]
async fn a_telemetry_resource_switches_metrics_and_logs_off_until_it_is_removed() {
    let h = harness().await;
    h.turn_access_logs_on().await;
    h.get("/before").await;
    assert_eq!(h.tcp(b"a").await, b"echo:a");
    assert_eq!(h.lines(2).await.len(), 2);
    assert_eq!(h.total("istio_requests_total"), 1);
    assert_eq!(h.total("istio_tcp_connections_opened_total"), 1);

    h.write("telemetry.yaml", Some(TELEMETRY_OFF)).await;
    h.get("/off").await;
    assert_eq!(h.tcp(b"b").await, b"echo:b");
    assert_eq!(
        h.total("istio_requests_total"),
        1,
        "no request metric while off"
    );
    assert_eq!(h.total("istio_tcp_connections_opened_total"), 1);

    h.write("telemetry.yaml", None).await;
    h.get("/again").await;
    let lines = h.lines(3).await;
    let paths: Vec<&str> = lines.iter().filter_map(|l| l["path"].as_str()).collect();
    assert_eq!(paths, ["/before", "/again"], "nothing logged while off");
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(h.total("istio_requests_total"), 2);
}
