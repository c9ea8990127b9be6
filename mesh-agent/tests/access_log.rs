//! Access logs through the outbound proxy, in-process: one JSON line per request with Envoy's
//! fields, TEXT when asked, never an authorization header or cookie, and a full channel drops
//! and counts instead of waiting.

mod agent_support;
mod http_support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use agent_support::*;
use http_body_util::{BodyExt, Empty};
use http_support::*;
use hyper::client::conn::http1;
use hyper::Request;
use hyper_util::rt::TokioIo;
use mesh_agent::access_log::{AccessLog, AccessLogEntry, AccessLogMetrics};
use mesh_agent::proxy::Outbound;
use mesh_agent::resources::MeshConfig;
use prometheus_client::registry::Registry;

const WEB: &str = "10.96.0.10:80";
const SECRET_TOKEN: &str = "Bearer s3cr3t-t0ken-never-logged";
const SECRET_COOKIE: &str = "session=c00kie-never-logged";

/// An outbound proxy for `sleep-0` whose access log goes to `file` in `encoding`.
async fn proxy_logging_to(file: &Path, encoding: &str) -> (SocketAddr, Arc<FakeOriginalDsts>, u64) {
    let (a, _) = upstream("127.0.0.2:0".parse().unwrap(), "web-0").await;
    upstream(
        SocketAddr::new("127.0.0.3".parse().unwrap(), a.port()),
        "web-1",
    )
    .await;
    let (inputs, dsts, _registry) = inputs(config(&cluster_yaml(a.port())));
    let yaml = format!(
        "accessLogFile: {}\naccessLogEncoding: {encoding}\n",
        file.display()
    );
    let mesh: MeshConfig = serde_yaml::from_str(&yaml).unwrap();
    inputs.http.observers.apply(&mesh);
    let pod = current_pod("shop", "sleep-0", "127.0.0.1").await;
    let cookie = pod.netns_cookie;
    let outbound = Outbound::new(pod, inputs, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let address = outbound.address();
    tokio::spawn(outbound.run());
    (address, dsts, cookie)
}

async fn call_with_secrets(proxy: SocketAddr, dsts: &FakeOriginalDsts, cookie: u64, path: &str) {
    let stream = captured_connect(proxy, dsts, cookie, WEB.parse().unwrap()).await;
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let request = Request::get(path)
        .header("host", "web.shop")
        .header("user-agent", "curl/8")
        .header("x-request-id", "req-1234")
        .header("authorization", SECRET_TOKEN)
        .header("cookie", SECRET_COOKIE)
        .body(Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = tokio::time::timeout(GUARD, sender.send_request(request))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 200);
    response.into_body().collect().await.unwrap();
}

/// The file's lines once it holds `count` of them (bounded wait).
async fn lines(file: &Path, count: usize) -> Vec<String> {
    let read = || {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        text.lines().map(str::to_string).collect::<Vec<_>>()
    };
    let _ = tokio::time::timeout(GUARD, async {
        while read().len() < count {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    read()
}

#[tokio::test]
async fn each_request_is_one_json_line_with_envoys_fields_and_no_secrets() {
    let dir = TempDir::new("access-log-json");
    let file = dir.path().join("access.log");
    let (proxy, dsts, cookie) = proxy_logging_to(&file, "JSON").await;
    call_with_secrets(proxy, &dsts, cookie, "/one?x=1").await;
    call_with_secrets(proxy, &dsts, cookie, "/two").await;
    let lines = lines(&file, 2).await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    let mut paths = Vec::new();
    for line in &lines {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap();
        for field in [
            "start_time",
            "method",
            "path",
            "protocol",
            "response_code",
            "response_flags",
            "bytes_received",
            "bytes_sent",
            "duration",
            "upstream_host",
            "x_request_id",
            "authority",
            "user_agent",
            "source_workload",
            "destination_workload",
        ] {
            assert!(!entry[field].is_null(), "{field} missing in {line}");
        }
        assert_eq!(entry["method"], "GET");
        assert_eq!(entry["protocol"], "HTTP/1.1");
        assert_eq!(entry["response_code"], 200);
        assert_eq!(entry["response_flags"], "-");
        assert_eq!(entry["x_request_id"], "req-1234");
        assert_eq!(entry["authority"], "web.shop");
        assert_eq!(entry["user_agent"], "curl/8");
        assert_eq!(entry["source_workload"], "sleep");
        assert_eq!(entry["destination_workload"], "web");
        assert_eq!(
            entry["upstream_cluster"],
            "outbound|80||web.shop.svc.cluster.local"
        );
        assert!(entry["bytes_sent"].as_u64().unwrap() > 0);
        assert!(entry["start_time"].as_str().unwrap().ends_with('Z'));
        paths.push(entry["path"].as_str().unwrap().to_string());
    }
    paths.sort();
    assert_eq!(paths, ["/one?x=1", "/two"]);
    let everything = std::fs::read_to_string(&file).unwrap();
    for secret in ["s3cr3t", "c00kie", "authorization", "cookie"] {
        assert!(
            !everything.to_lowercase().contains(secret),
            "{secret} logged"
        );
    }
}

#[tokio::test]
async fn text_encoding_writes_istios_default_line() {
    let dir = TempDir::new("access-log-text");
    let file = dir.path().join("access.log");
    let (proxy, dsts, cookie) = proxy_logging_to(&file, "TEXT").await;
    call_with_secrets(proxy, &dsts, cookie, "/text").await;
    let lines = lines(&file, 1).await;
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert!(line.contains("\"GET /text HTTP/1.1\" 200 - "), "{line}");
    assert!(line.contains("\"req-1234\" \"web.shop\""), "{line}");
    assert!(
        !line.contains("s3cr3t") && !line.contains("c00kie"),
        "{line}"
    );
}

#[tokio::test]
async fn a_full_channel_drops_and_counts() {
    let mut registry = Registry::default();
    let metrics = AccessLogMetrics::register(&mut registry);
    // No writer reads: the channel holds one entry, the next three are dropped.
    let (log, _receiver) = AccessLog::bounded(1, &metrics);
    for _ in 0..4 {
        log.push(AccessLogEntry::default());
    }
    let text = mesh_agent::metrics::encode(&registry).unwrap();
    assert!(text.contains("mesh_access_log_dropped_total 3"), "{text}");
}

#[test]
fn an_empty_access_log_file_turns_logging_off() {
    use mesh_agent::access_log::{AccessLogSettings, AccessLogSink};
    let off = AccessLogSettings::from_mesh(&MeshConfig::default());
    assert_eq!(off.sink, None);
    let parse = |y: &str| serde_yaml::from_str::<MeshConfig>(y).unwrap();
    let stdout = AccessLogSettings::from_mesh(&parse("accessLogFile: /dev/stdout"));
    assert_eq!(stdout.sink, Some(AccessLogSink::Stdout));
    let file = AccessLogSettings::from_mesh(&parse("accessLogFile: /var/log/mesh.log"));
    assert_eq!(
        file.sink,
        Some(AccessLogSink::File("/var/log/mesh.log".into()))
    );
}
