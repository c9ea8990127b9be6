//! Access logs in a running proxy, in-process: the pipeline swaps in a MeshConfig (ConfigMap
//! `istio-system/istio`) naming an `accessLogFile`, the observers follow it, and from then on
//! each HTTP request and each TCP connection through the outbound proxy is one JSON line (or the
//! share `accessLogSampling` keeps). A Telemetry resource applied later switches metrics and
//! logs off for the next request, and removing it switches them back on.

use std::path::{Path, PathBuf};

use hyper::Request;

use crate::harness::client::read;
use crate::harness::config::{mesh_config, pod, service, sleep, WatchedDir};
use crate::harness::proxy::{Agent, Client};
use crate::harness::upstream::{echo_server, Upstream};
use crate::harness::{metrics, wait_for, GUARD};

const WEB: &str = "127.0.0.10:80";
const ECHO: &str = "127.0.0.11:80";

/// `web` (HTTP) over 127.0.0.2, `echo` (a `tcp-` port) over 127.0.0.3, the client `sleep-0`.
fn cluster_yaml(web_port: u16, echo_port: u16) -> String {
    [
        service("web", "127.0.0.10", "http-web", web_port),
        service("echo", "127.0.0.11", "tcp-echo", echo_port),
        pod("web-0", "app: web", "127.0.0.2"),
        pod("echo-0", "app: echo", "127.0.0.3"),
        sleep(),
    ]
    .concat()
}

fn mesh_config_yaml(access_log_file: &Path, sampling: u32) -> String {
    mesh_config(&format!(
        "accessLogFile: {}\naccessLogEncoding: JSON\naccessLogSampling: {sampling}",
        access_log_file.display()
    ))
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
    config: WatchedDir,
    agent: Agent,
    client: Client,
}

/// The directory source, the pipeline, the observers following it (as `agent::run` wires
/// them) and an outbound proxy for `sleep-0`; no MeshConfig yet, so logging is off.
async fn harness() -> Harness {
    let web = Upstream::healthy("127.0.0.2:0".parse().unwrap(), "web-0").await;
    let echo = echo_server("127.0.0.3:0".parse().unwrap(), "echo").await;
    let cluster = cluster_yaml(web.address.port(), echo.port());
    let files = [("cluster.yaml", cluster.as_str())];
    let config = WatchedDir::start("access-log-live", &files, &mut Default::default()).await;
    let agent = Agent::new(config.state.clone());
    let observers = agent.inputs.http.observers.clone();
    tokio::spawn(observers.follow(config.state.clone()));
    let client = agent.sleep().await;
    Harness {
        config,
        agent,
        client,
    }
}

impl Harness {
    fn log_file(&self) -> PathBuf {
        self.config.dir.path().join("logs").join("access.log")
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

    /// Writes (or with `None` removes) `file` in the config directory; waits for the reload,
    /// which must reject nothing.
    async fn write(&self, file: &str, yaml: Option<&str>) {
        self.config.write(file, yaml).await;
        let rejected = self.config.state.snapshot().rejected().len();
        assert_eq!(rejected, 0, "{:?}", self.config.state.snapshot().rejected());
    }

    /// The sum of `series` over its label sets.
    fn total(&self, series: &str) -> u64 {
        metrics::sum(&self.agent.metrics(), series, &[])
    }

    async fn get(&self, path: &str) {
        let mut sender = self.client.http1(WEB).await;
        let request = Request::get(path)
            .header("host", "web.shop")
            .body(Default::default())
            .unwrap();
        let response = tokio::time::timeout(GUARD, sender.send_request(request)).await;
        assert_eq!(read(response.unwrap().unwrap()).await.status, 200);
    }

    /// One TCP connection to `echo` sending `input`; returns the answer.
    async fn tcp(&self, input: &[u8]) -> Vec<u8> {
        self.client.exchange(ECHO, input).await.unwrap()
    }

    /// The log's lines once it holds `count` (bounded wait), parsed.
    async fn lines(&self, count: usize) -> Vec<serde_json::Value> {
        let read = || {
            let text = std::fs::read_to_string(self.log_file()).unwrap_or_default();
            let parse = |l: &str| serde_json::from_str(l).unwrap();
            text.lines().map(parse).collect::<Vec<serde_json::Value>>()
        };
        wait_for(count, || read().len()).await;
        read()
    }
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
