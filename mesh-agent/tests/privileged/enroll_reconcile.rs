//! Privileged: the agent reconciles its pods with its view. A namespace labelled later gets its
//! running pod enrolled (found by scanning the node's netns) and released when the label goes;
//! a restarted agent re-enrolls its pods from its state records; a pod with no record and no
//! named netns is found through `/proc/<pid>/ns/net`. Fake capture layer, real netns.

use std::process::{Child, Command, Stdio};

use mesh_agent::pods::EnrolledPod;
use prometheus_client::registry::Registry;

use crate::harness::config::{compile, WatchedDir};
use crate::harness::enrollment::{namespace, node_pod, Setup, TestEnrollment};
use crate::harness::namespaced::netns::TestNetns;
use crate::harness::namespaced::{running_as_root_for, unique_name};
use crate::harness::proxy::FakePodCapture;
use crate::harness::{wait_until, TempDir};

const AMBIENT: &str = "istio.io/dataplane-mode: ambient";

fn pod_netns(tag: &str, ip: &str) -> TestNetns {
    let netns = TestNetns::new(&unique_name(tag));
    netns.ip(&["addr", "add", &format!("{ip}/32"), "dev", "lo"]);
    netns
}

fn enrolled_count(enrollment: &TestEnrollment) -> usize {
    enrollment.capture.enrolled.lock().unwrap().len()
}

#[tokio::test]
async fn a_namespace_labelled_later_is_enrolled_live_and_released_when_unlabelled() {
    if !running_as_root_for("(ip netns add, setns)") {
        return;
    }
    let ip = "10.253.2.5";
    let netns = pod_netns("mesh-relabel", ip);
    let pod = node_pod("late", "web-0", "app: web", ip);
    let mut registry = Registry::default();
    let unlabelled = namespace("late", "");
    let files = [("ns.yaml", unlabelled.as_str()), ("pod.yaml", pod.as_str())];
    let dir = WatchedDir::start("enroll-relabel", &files, &mut registry).await;
    let state = TempDir::new("enroll-relabel-state");
    let enrollment = Setup::new(dir.state.clone(), &state).start();
    let following = tokio::spawn(enrollment.enrollment.clone().follow());
    assert!(enrollment.enrollment.reconcile().await.enrolled.is_empty());

    dir.write("ns.yaml", Some(&namespace("late", AMBIENT)))
        .await;
    wait_until("enrolled after the label", || {
        enrolled_count(&enrollment) == 1
    })
    .await;
    let listed = enrollment.enrollment.pods().list().await;
    assert_eq!(listed[0].netns.display().to_string(), netns.path());
    assert!(netns.listening().contains("127.0.0.1:15001"));
    assert!(state.path().join("late_web-0.json").exists());

    dir.write("ns.yaml", Some(&namespace("late", ""))).await;
    wait_until("released after the label went", || {
        enrolled_count(&enrollment) == 0
    })
    .await;
    assert!(!netns.listening().contains(":15001"), "listeners closed");
    assert!(
        !state.path().join("late_web-0.json").exists(),
        "record gone"
    );
    following.abort();
}

#[tokio::test]
async fn a_restarted_agent_re_enrolls_its_pods_from_the_records() {
    if !running_as_root_for("(ip netns add, setns)") {
        return;
    }
    let ip = "10.253.2.6";
    let netns = pod_netns("mesh-restart", ip);
    let view = [
        namespace("shop", AMBIENT),
        node_pod("shop", "web-0", "", ip),
    ]
    .concat();
    let state = TempDir::new("enroll-restart");
    let first = Setup::new(compile(&view), &state).start();
    let add = format!(
        r#"{{"op":"add","namespace":"shop","name":"web-0","uid":"uid-web-0","container_id":"c-1","netns":"{}","ips":["{ip}"],"node_ips":["10.244.1.1"]}}"#,
        netns.path()
    );
    assert_eq!(first.handle(&add).await.enrolled, Some(true));
    // The agent dies: its listeners close, its records stay.
    first.enrollment.pods().remove_all().await;
    drop(first);
    assert!(!netns.listening().contains(":15001"));

    let restarted = Setup::new(compile(&view), &state).start();
    let pass = restarted.enrollment.reconcile().await;
    assert_eq!(pass.enrolled, ["shop/web-0"], "{pass:?}");
    let pod: EnrolledPod = restarted.enrollment.pods().list().await.remove(0);
    assert_eq!(pod.container_id.as_deref(), Some("c-1"), "from the record");
    assert_eq!(
        pod.node_ips,
        ["10.244.1.1".parse::<std::net::IpAddr>().unwrap()]
    );
    assert!(netns.listening().contains("127.0.0.1:15001"));
    restarted.enrollment.pods().remove_all().await;
}

#[tokio::test]
async fn a_pod_unmeshed_while_a_fail_closed_agent_was_gone_is_released_by_the_next() {
    if !running_as_root_for("(ip netns add, setns)") {
        return;
    }
    let ip = "10.253.2.8";
    let netns = pod_netns("mesh-unmeshed", ip);
    let meshed = [
        namespace("shop", AMBIENT),
        node_pod("shop", "web-0", "", ip),
    ]
    .concat();
    let state = TempDir::new("enroll-unmeshed");
    let first = Setup::new(compile(&meshed), &state).start();
    let add = format!(
        r#"{{"op":"add","namespace":"shop","name":"web-0","uid":"uid-web-0","netns":"{}","ips":["{ip}"]}}"#,
        netns.path()
    );
    assert_eq!(first.handle(&add).await.enrolled, Some(true));
    let cookie = first.capture.enrolled.lock().unwrap()[0];
    // A fail-closed agent stops: listeners closed, the pod left captured, its record kept.
    first.enrollment.pods().release_all().await;
    drop(first);

    // Unlabelled meanwhile; the next agent shares the maps still holding the pod's entry.
    let unmeshed = [namespace("shop", ""), node_pod("shop", "web-0", "", ip)].concat();
    let left = FakePodCapture {
        enrolled: std::sync::Mutex::new(vec![cookie]),
        ..FakePodCapture::default()
    };
    let next = Setup::new(compile(&unmeshed), &state).start_with(left);
    let pass = next.enrollment.reconcile().await;
    assert!(pass.enrolled.is_empty(), "{pass:?}");
    assert!(
        next.capture.enrolled.lock().unwrap().is_empty(),
        "what the predecessor left for the pod is removed: it talks directly again"
    );
    assert!(
        !state.path().join("shop_web-0.json").exists(),
        "record gone"
    );
}

/// A process in a netns of its own holding `ip` on `lo`, with no name under /var/run/netns.
fn unnamed_netns_process(ip: &str) -> Child {
    let script = format!("ip link set lo up && ip addr add {ip}/32 dev lo && exec sleep 60");
    Command::new("unshare")
        .args(["--net", "sh", "-c", &script])
        .stdin(Stdio::null())
        .spawn()
        .expect("unshare --net")
}

#[tokio::test]
async fn a_pod_with_no_record_is_found_through_proc() {
    if !running_as_root_for("(unshare, setns)") {
        return;
    }
    let ip = "10.253.2.7";
    let mut process = unnamed_netns_process(ip);
    let view = [
        namespace("shop", AMBIENT),
        node_pod("shop", "old-0", "", ip),
    ]
    .concat();
    let state = TempDir::new("enroll-proc");
    let enrollment = Setup::new(compile(&view), &state).start();
    let following = tokio::spawn(enrollment.enrollment.clone().follow());
    wait_until("found by the scan", || enrolled_count(&enrollment) == 1).await;
    let pod = enrollment.enrollment.pods().list().await.remove(0);
    let path = pod.netns.display().to_string();
    assert!(
        path.starts_with("/proc/") && path.ends_with("/ns/net"),
        "{path}"
    );
    following.abort();
    enrollment.enrollment.pods().remove_all().await;
    process.kill().unwrap();
    process.wait().unwrap();
}
