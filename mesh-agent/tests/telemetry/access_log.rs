//! Access logs through the outbound proxy, in-process: one JSON line per request with Envoy's
//! fields, TEXT when asked, never an authorization header or cookie, and a full channel drops
//! and counts instead of waiting.

use std::path::Path;

use http_body_util::{BodyExt, Empty};
use hyper::Request;
use mesh_agent::access_log::{AccessLog, AccessLogEntry, AccessLogMetrics};
use mesh_agent::resources::MeshConfig;
use prometheus_client::registry::Registry;

use crate::harness::client::read;
use crate::harness::config::{compile, pod, service, sleep};
use crate::harness::proxy::{Agent, Client};
use crate::harness::upstream::healthy_on_one_port;
use crate::harness::{wait_for, TempDir, GUARD};

const WEB: &str = "10.96.0.10:80";
const SECRET_TOKEN: &str = "Bearer s3cr3t-t0ken-never-logged";
const SECRET_COOKIE: &str = "session=c00kie-never-logged";

/// An outbound proxy for `sleep-0` whose access log goes to `file` in `encoding`; `web` over
/// two pods.
async fn proxy_logging_to(file: &Path, encoding: &str) -> Client {
    let (port, _) = healthy_on_one_port(&[("127.0.0.2", "web-0"), ("127.0.0.3", "web-1")]).await;
    let yaml = service("web", "10.96.0.10", "web", port)
        + &pod("web-0", "app: web, version: v1", "127.0.0.2")
        + &pod("web-1", "app: web, version: v2", "127.0.0.3")
        + &sleep();
    let agent = Agent::new(compile(&yaml));
    let mesh = format!(
        "accessLogFile: {}\naccessLogEncoding: {encoding}\n",
        file.display()
    );
    let mesh: MeshConfig = serde_yaml::from_str(&mesh).unwrap();
    agent
        .inputs
        .http
        .observers
        .apply(&mesh, file.parent().unwrap());
    agent.sleep().await
}

async fn call_with_secrets(client: &Client, path: &str) {
    let mut sender = client.http1(WEB).await;
    let request = Request::get(path)
        .header("host", "web.shop")
        .header("user-agent", "curl/8")
        .header("x-request-id", "req-1234")
        .header("authorization", SECRET_TOKEN)
        .header("cookie", SECRET_COOKIE)
        .body(Empty::new().boxed())
        .unwrap();
    let response = tokio::time::timeout(GUARD, sender.send_request(request))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read(response).await.status, 200);
}

/// The file's lines once it holds `count` of them (bounded wait).
async fn lines(file: &Path, count: usize) -> Vec<String> {
    let read = || {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        text.lines().map(str::to_string).collect::<Vec<_>>()
    };
    wait_for(count, || read().len()).await;
    read()
}

#[tokio::test]
async fn each_request_is_one_json_line_with_envoys_fields_and_no_secrets() {
    let dir = TempDir::new("access-log-json");
    let file = dir.path().join("access.log");
    let client = proxy_logging_to(&file, "JSON").await;
    call_with_secrets(&client, "/one?x=1").await;
    call_with_secrets(&client, "/two").await;
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
    let client = proxy_logging_to(&file, "TEXT").await;
    call_with_secrets(&client, "/text").await;
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
    let text = crate::harness::metrics::text(&registry);
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
    let file = AccessLogSettings::from_mesh(&parse("accessLogFile: /var/log/mesh/a.log"));
    let expected = AccessLogSink::File {
        dir: "/var/log/mesh".into(),
        relative: "a.log".into(),
    };
    assert_eq!(file.sink, Some(expected));
    let outside = AccessLogSettings::from_mesh(&parse("accessLogFile: /var/log/mesh.log"));
    assert_eq!(
        outside.sink, None,
        "outside the access log directory: refused"
    );
}
