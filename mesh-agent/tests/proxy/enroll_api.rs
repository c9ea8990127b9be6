//! The enrollment API in-process: requests, error messages, the socket server and the
//! `mesh-agent enroll` client. Pods are enrolled in the test's own netns (no root needed).

use std::sync::Arc;

use mesh_agent::enroll::{self, handle, EnrollServer, Request, Response};
use prometheus_client::registry::Registry;

use crate::harness::config::compile;
use crate::harness::proxy::{Agent, EnrolledPods, FakePodCapture, ListenAddrs};
use crate::harness::TempDir;

const OWN_NETNS: &str = "/proc/self/ns/net";

fn pods_with(capture: FakePodCapture) -> (Arc<EnrolledPods>, Arc<FakePodCapture>, Registry) {
    let mut agent = Agent::new(compile(""));
    let capture = Arc::new(capture);
    let listen = ListenAddrs {
        outbound: "127.0.0.1:0".parse().unwrap(),
        inbound: "127.0.0.1:0".parse().unwrap(),
        outbound6: "[::1]:0".parse().unwrap(),
        inbound6: "[::1]:0".parse().unwrap(),
    };
    let pods = agent.enrolled_pods(capture.clone(), listen);
    (Arc::new(pods), capture, agent.registry)
}

fn add_line(name: &str, netns: &str) -> String {
    format!(
        r#"{{"op":"add","namespace":"shop","name":"{name}","uid":"u1","netns":"{netns}","ips":["10.244.1.5"],"node_ips":["10.244.1.1"]}}"#
    )
}

async fn error_of(pods: &EnrolledPods, line: &str) -> String {
    let response = handle(pods, line).await;
    assert!(!response.ok, "{line} should fail");
    response.error.expect("an error message")
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let (pods, _, _) = pods_with(FakePodCapture::default());
    assert!(error_of(&pods, "{not json").await.starts_with("bad JSON"));
    assert!(error_of(&pods, r#"{"name":"x"}"#)
        .await
        .contains("missing field `op`"));
    let unknown = error_of(&pods, r#"{"op":"explode"}"#).await;
    assert_eq!(
        unknown,
        "unknown op `explode` (expected add, remove or list)"
    );
    let missing = error_of(&pods, r#"{"op":"add","namespace":"a","name":"b"}"#).await;
    assert!(
        missing.starts_with("bad `add` request") && missing.contains("netns"),
        "{missing}"
    );
    let no_netns = error_of(&pods, &add_line("web-0", "/var/run/netns/absent-mesh-test")).await;
    assert!(
        no_netns.contains("netns /var/run/netns/absent-mesh-test")
            && no_netns.contains("No such file"),
        "{no_netns}"
    );
    let remove = r#"{"op":"remove","namespace":"shop","name":"ghost"}"#;
    assert_eq!(
        error_of(&pods, remove).await,
        "pod shop/ghost is not enrolled"
    );
}

#[tokio::test]
async fn add_list_remove_and_duplicates() {
    let (pods, capture, registry) = pods_with(FakePodCapture::default());
    let added = handle(&pods, &add_line("web-0", OWN_NETNS)).await;
    assert!(added.ok, "{added:?}");
    let cookie = added.pod.as_ref().unwrap().netns_cookie;
    assert_eq!(*capture.enrolled.lock().unwrap(), [cookie]);
    let metrics = mesh_agent::metrics::encode(&registry).unwrap();
    assert!(metrics.contains("mesh_enrolled_pods 1"), "{metrics}");

    let again = error_of(&pods, &add_line("web-0", OWN_NETNS)).await;
    assert_eq!(again, "pod shop/web-0 is already enrolled");
    let same_netns = error_of(&pods, &add_line("web-1", OWN_NETNS)).await;
    assert!(
        same_netns.contains("already enrolled as pod shop/web-0"),
        "{same_netns}"
    );

    let list = handle(&pods, r#"{"op":"list"}"#).await;
    let names: Vec<_> = list.pods.unwrap().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["web-0"]);

    let removed = handle(
        &pods,
        r#"{"op":"remove","namespace":"shop","name":"web-0"}"#,
    )
    .await;
    assert_eq!(
        removed,
        Response {
            ok: true,
            ..Response::default()
        }
    );
    assert!(capture.enrolled.lock().unwrap().is_empty(), "unenrolled");
    assert!(pods.list().await.is_empty());
}

#[tokio::test]
async fn a_dual_stack_pod_gets_an_inbound_listener_per_family() {
    let (pods, capture, _) = pods_with(FakePodCapture::default());
    let line = r#"{"op":"add","namespace":"shop","name":"web-0","netns":"/proc/self/ns/net","ips":["10.244.1.5","fd00:10:244:1::5"],"node_ips":["10.244.1.1","fd00:10:244:1::1"]}"#;
    let added = handle(&pods, line).await;
    assert!(added.ok, "{added:?}");
    let ips: Vec<String> = added
        .pod
        .unwrap()
        .ips
        .iter()
        .map(|ip| ip.to_string())
        .collect();
    assert_eq!(ips, ["10.244.1.5", "fd00:10:244:1::5"]);
    let inbound = capture.inbound_ips.lock().unwrap().clone();
    assert_eq!(inbound.len(), 2, "{inbound:?}");
    assert!(inbound[1].is_ipv6(), "{inbound:?}");
}

#[tokio::test]
async fn pod_ips_are_one_or_two_of_different_families() {
    let (pods, _, _) = pods_with(FakePodCapture::default());
    let with_ips = |ips: &str| {
        format!(
            r#"{{"op":"add","namespace":"shop","name":"web-0","netns":"/proc/self/ns/net","ips":{ips}}}"#
        )
    };
    for ips in ["[]", r#"["10.244.1.5","10.244.1.6"]"#] {
        let error = error_of(&pods, &with_ips(ips)).await;
        assert!(
            error.contains("expected one or two addresses, at most one per family"),
            "{ips}: {error}"
        );
    }
    assert!(pods.list().await.is_empty());
}

#[tokio::test]
async fn a_pod_the_capture_layer_refuses_is_not_enrolled() {
    let refusing = FakePodCapture {
        refuse: true,
        ..FakePodCapture::default()
    };
    let (pods, _, _) = pods_with(refusing);
    assert_eq!(
        error_of(&pods, &add_line("web-0", OWN_NETNS)).await,
        "capture: map full"
    );
    assert!(pods.list().await.is_empty());
}

#[tokio::test]
async fn socket_server_answers_the_client_and_the_cli() {
    let (pods, _, _) = pods_with(FakePodCapture::default());
    let dir = TempDir::new("enroll");
    let socket = dir.path().join("agent.sock");
    let server = EnrollServer::new(&socket).unwrap();
    let serving = tokio::spawn(server.run(pods.clone()));

    let listed = enroll::request(&socket, &Request::List).await.unwrap();
    assert_eq!(listed.pods, Some(vec![]));

    let socket_arg = socket.to_str().unwrap().to_string();
    let add = [
        "enroll",
        "--socket",
        &socket_arg,
        "add",
        "--namespace",
        "shop",
        "--name",
        "web-0",
        "--netns",
        OWN_NETNS,
        "--ip",
        "10.244.1.5",
    ];
    let output = cli(&add).await;
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).starts_with(r#"{"ok":true"#));
    let output = cli(&add).await;
    assert!(!output.status.success(), "a refused request fails the CLI");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(r#""error":"pod shop/web-0 is already enrolled""#),
        "{stdout}"
    );
    assert_eq!(pods.list().await.len(), 1);

    serving.abort();
    let _ = serving.await;
    assert!(!socket.exists(), "socket file removed with the server");
}

async fn cli(args: &[&str]) -> std::process::Output {
    let binary = env!("CARGO_BIN_EXE_mesh-agent");
    tokio::process::Command::new(binary)
        .args(args)
        .output()
        .await
        .unwrap()
}
