//! The enrollment API in-process: requests and their error messages, membership decided from
//! the agent's view, waiting for a pod the view does not hold yet, state records, the socket
//! server and the `mesh-agent enroll` client (`enroll_cli.rs`). Pods live in the test's own netns (no root
//! needed), so the agent's own-netns refusal is switched off here (privileged tests check it).

use std::time::Duration;

use mesh_agent::enroll::Response;

use crate::harness::config::{apply, compile};
use crate::harness::enrollment::{add_line, namespace, node_pod, Setup, TestEnrollment};
use crate::harness::proxy::FakePodCapture;
use crate::harness::TempDir;

pub const OWN_NETNS: &str = "/proc/self/ns/net";
/// The address the test's own netns holds.
pub const IP: &str = "127.0.0.1";

pub fn view() -> String {
    [
        namespace("shop", "istio.io/dataplane-mode: ambient"),
        namespace("plain", ""),
        node_pod("shop", "web-0", "app: web", ""),
        node_pod("shop", "web-1", "app: web", ""),
        node_pod("shop", "db-0", "istio.io/dataplane-mode: none", ""),
        node_pod("plain", "tool-0", "app: tool", ""),
    ]
    .concat()
}

pub fn start(state: &TempDir) -> TestEnrollment {
    Setup::in_own_netns(compile(&view()), state).start()
}

async fn error_of(enrollment: &TestEnrollment, line: &str) -> String {
    let response = enrollment.handle(line).await;
    assert!(!response.ok, "{line} should fail");
    response.error.expect("an error message")
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let state = TempDir::new("enroll-bad");
    let enrollment = start(&state);
    assert!(error_of(&enrollment, "{not json")
        .await
        .starts_with("bad JSON"));
    let no_op = error_of(&enrollment, r#"{"name":"x"}"#).await;
    assert!(no_op.contains("missing field `op`"), "{no_op}");
    let missing = error_of(&enrollment, r#"{"op":"add","namespace":"a","name":"b"}"#).await;
    assert_eq!(missing, "bad `add` request: missing field `netns`");
    let bad_ip = add_line("shop", "web-0", OWN_NETNS, "10.0.0.999");
    let bad_ip = error_of(&enrollment, &bad_ip).await;
    assert!(
        bad_ip.starts_with("bad `add` request: field `ips[0]`"),
        "{bad_ip}"
    );
    let absent = add_line("shop", "web-0", "/var/run/netns/absent-mesh-test", IP);
    let absent = error_of(&enrollment, &absent).await;
    assert!(
        absent.starts_with("pod shop/web-0: netns /var/run/netns/absent-mesh-test: No such file"),
        "{absent}"
    );
}

#[tokio::test]
async fn add_enrolls_only_the_pods_the_view_meshes() {
    let state = TempDir::new("enroll-decide");
    let enrollment = start(&state);
    let added = enrollment
        .handle(&add_line("shop", "web-0", OWN_NETNS, IP))
        .await;
    assert!(added.ok && added.enrolled == Some(true), "{added:?}");
    let cookie = added.pod.as_ref().unwrap().netns_cookie;
    assert_eq!(*enrollment.capture.enrolled.lock().unwrap(), [cookie]);

    let opted_out = enrollment
        .handle(&add_line("shop", "db-0", OWN_NETNS, IP))
        .await;
    assert_eq!(
        opted_out,
        Response::not_meshed("the pod is labelled istio.io/dataplane-mode=none")
    );
    let plain = enrollment
        .handle(&add_line("plain", "tool-0", OWN_NETNS, IP))
        .await;
    assert_eq!(
        plain,
        Response::not_meshed("namespace plain is not in the mesh")
    );
    assert_eq!(enrollment.enrolled().await, ["shop/web-0"]);
}

#[tokio::test]
async fn add_again_is_answered_as_it_is_and_remove_is_idempotent() {
    let state = TempDir::new("enroll-again");
    let enrollment = start(&state);
    let line = add_line("shop", "web-0", OWN_NETNS, IP);
    let first = enrollment.handle(&line).await;
    let again = enrollment.handle(&line).await;
    assert!(again.ok, "{again:?}");
    assert_eq!(first.pod, again.pod, "the same enrollment");
    assert_eq!(enrollment.capture.enrolled.lock().unwrap().len(), 1);
    let same_netns = error_of(&enrollment, &add_line("shop", "web-1", OWN_NETNS, IP)).await;
    assert!(
        same_netns.contains("already enrolled as pod shop/web-0"),
        "{same_netns}"
    );

    let check = r#"{"op":"check","namespace":"shop","name":"web-0"}"#;
    assert_eq!(enrollment.handle(check).await.enrolled, Some(true));
    let remove = r#"{"op":"remove","namespace":"shop","name":"web-0","uid":"uid-web-0"}"#;
    assert_eq!(enrollment.handle(remove).await, Response::done());
    assert_eq!(
        enrollment.handle(remove).await,
        Response::done(),
        "idempotent"
    );
    assert!(enrollment.capture.enrolled.lock().unwrap().is_empty());
    let check = error_of(&enrollment, check).await;
    assert_eq!(
        check,
        "pod shop/web-0 should be meshed (namespace shop label istio.io/dataplane-mode=ambient) \
         but is not enrolled"
    );
}

#[tokio::test]
async fn remove_of_another_instance_leaves_the_pod() {
    let state = TempDir::new("enroll-uid");
    let enrollment = start(&state);
    enrollment
        .handle(&add_line("shop", "web-0", OWN_NETNS, IP))
        .await;
    let old = r#"{"op":"remove","namespace":"shop","name":"web-0","uid":"uid-old"}"#;
    assert!(enrollment.handle(old).await.ok);
    assert_eq!(enrollment.enrolled().await, ["shop/web-0"]);
}

#[tokio::test]
async fn add_waits_for_a_pod_the_view_does_not_hold_yet() {
    let state = TempDir::new("enroll-wait");
    let config = compile(&namespace("shop", "istio.io/dataplane-mode: ambient"));
    let mut setup = Setup::in_own_netns(config.clone(), &state);
    setup.pod_wait = Duration::from_secs(10);
    let enrollment = setup.start();
    let line = add_line("shop", "late-0", OWN_NETNS, IP);
    let adding = tokio::spawn(async move { enrollment.handle(&line).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!adding.is_finished(), "waits for the pod");
    let view = [
        namespace("shop", "istio.io/dataplane-mode: ambient"),
        node_pod("shop", "late-0", "", ""),
    ];
    apply(&config, &view.concat());
    let added = adding.await.unwrap();
    assert_eq!(added.enrolled, Some(true), "{added:?}");
}

#[tokio::test]
async fn add_of_a_pod_never_seen_fails_after_the_wait_and_is_counted() {
    let state = TempDir::new("enroll-unseen");
    let enrollment = start(&state);
    let error = error_of(&enrollment, &add_line("shop", "ghost-0", OWN_NETNS, IP)).await;
    assert_eq!(
        error,
        "pod shop/ghost-0 (uid uid-ghost-0) is not in the agent's view of the cluster after 300ms; \
         the agent cannot tell whether it belongs in the mesh (is its Kubernetes source synced?)"
    );
    let metrics = mesh_agent::metrics::encode(&enrollment.registry).unwrap();
    let line = r#"mesh_enrollment_failures_total{reason="not_in_view"} 1"#;
    assert!(metrics.contains(line), "{metrics}");
}

#[tokio::test]
async fn records_follow_the_enrolled_pods() {
    let state = TempDir::new("enroll-records");
    let enrollment = start(&state);
    let record = state.path().join("shop_web-0.json");
    enrollment
        .handle(&add_line("shop", "web-0", OWN_NETNS, IP))
        .await;
    let text = std::fs::read_to_string(&record).unwrap();
    assert!(text.contains(r#""netns": "/proc/self/ns/net""#), "{text}");
    assert!(text.contains(r#""uid": "uid-web-0""#), "{text}");
    enrollment
        .handle(r#"{"op":"remove","namespace":"shop","name":"web-0"}"#)
        .await;
    assert!(!record.exists(), "record removed with the pod");
}

#[tokio::test]
async fn a_dual_stack_pod_gets_an_inbound_listener_per_family() {
    let state = TempDir::new("enroll-dual");
    let enrollment = start(&state);
    let line = r#"{"op":"add","namespace":"shop","name":"web-0","uid":"uid-web-0","netns":"/proc/self/ns/net","ips":["127.0.0.1","::1"],"node_ips":["10.244.1.1","fd00:10:244:1::1"]}"#;
    let added = enrollment.handle(line).await;
    assert_eq!(added.enrolled, Some(true), "{added:?}");
    let ips: Vec<String> = added
        .pod
        .unwrap()
        .ips
        .iter()
        .map(|ip| ip.to_string())
        .collect();
    assert_eq!(ips, ["127.0.0.1", "::1"]);
    let inbound = enrollment.capture.inbound_ips.lock().unwrap().clone();
    assert_eq!(inbound.len(), 2, "{inbound:?}");
    assert!(inbound[1].is_ipv6(), "{inbound:?}");
}

#[tokio::test]
async fn pod_ips_are_one_or_two_of_different_families() {
    let state = TempDir::new("enroll-ips");
    let enrollment = start(&state);
    let with_ips = |ips: &str| {
        format!(
            r#"{{"op":"add","namespace":"shop","name":"web-0","uid":"uid-web-0","netns":"/proc/self/ns/net","ips":{ips}}}"#
        )
    };
    let cases = [
        ("[]", "field `ips` must list at least one pod IP"),
        (
            r#"["127.0.0.1","127.0.0.2"]"#,
            "expected one or two addresses, at most one per family",
        ),
    ];
    for (ips, expected) in cases {
        let error = error_of(&enrollment, &with_ips(ips)).await;
        assert!(error.contains(expected), "{ips}: {error}");
    }
    assert!(enrollment.enrolled().await.is_empty());
}

#[tokio::test]
async fn a_pod_the_capture_layer_refuses_is_not_enrolled() {
    let state = TempDir::new("enroll-refuse");
    let refusing = FakePodCapture {
        refuse: true,
        ..FakePodCapture::default()
    };
    let enrollment = Setup::in_own_netns(compile(&view()), &state).start_with(refusing);
    let error = error_of(&enrollment, &add_line("shop", "web-0", OWN_NETNS, IP)).await;
    assert_eq!(error, "pod shop/web-0: capture: map full");
    assert!(enrollment.enrolled().await.is_empty());
}
