//! Privileged tests of enrollment through `mesh-cni`, the lab playing the container runtime:
//! pods enrolled at creation by the agent's decision; a namespace labelled or unlabelled live;
//! a pod created while its agent is stopped captured once it is back; a killed agent's
//! successor recapturing every pod with no help from the lab.

use crate::mesh_support::pod_ip;
use crate::mesh_support::{curl, enrolled, enrolled_within, mesh_lab, metrics, sum};
use crate::support::{built, lab_dir, ok, output_within, stdout, TestLab};
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;

const CLIENT: (&str, &str) = ("mesh", "client");
const OUTSIDER: (&str, &str) = ("plain", "outsider");
const NODE_1_MESHED: [&str; 3] = ["mesh/client", "mesh/web-0", "mesh/web-2"];

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// Connections node-1's agent captured outbound so far.
fn captured(lab: &TestLab) -> u64 {
    sum(
        &metrics(lab, "node-1"),
        "mesh_ebpf_captured_outbound_total",
        "",
    )
}

/// `GET http://web.mesh/` from `pod` (only answered through the mesh: there is no kube-proxy) is
/// captured by node-1's agent.
fn reaches_web_through_the_mesh(lab: &TestLab, pod: (&str, &str)) {
    let before = captured(lab);
    ok(curl(lab, pod.0, pod.1, &["-f", "http://web.mesh/"]));
    assert_eq!(captured(lab) - before, 1, "{}/{} captured", pod.0, pod.1);
}

fn cni_log(lab: &TestLab) -> String {
    std::fs::read_to_string(lab_dir(&lab.name).join("logs/cni-node-1.log")).unwrap_or_default()
}

#[test]
fn mesh_cni_enrolls_at_creation_and_a_namespace_label_applies_live() {
    let Some(lab) = mesh_lab("t-cni-live") else {
        return;
    };
    // Every pod on the node went through mesh-cni; the agent meshed only those labelled.
    assert_eq!(enrolled(&lab, "node-1"), set(&NODE_1_MESHED));
    let log = cni_log(&lab);
    for pod in NODE_1_MESHED {
        assert!(
            log.contains(&format!("ADD pod {pod}: enrolled")),
            "{pod}:\n{log}"
        );
    }
    assert!(log.contains("ADD pod plain/outsider: not meshed"), "{log}");
    reaches_web_through_the_mesh(&lab, CLIENT);
    let direct = curl(&lab, OUTSIDER.0, OUTSIDER.1, &["http://web.mesh/"]);
    assert!(!direct.status.success(), "the outsider is not captured yet");

    lab.kubectl("apply", "lab-cni-plain-ambient.yaml");
    let mut with_outsider = set(&NODE_1_MESHED);
    with_outsider.insert("plain/outsider".into());
    enrolled_within(&lab, "node-1", &with_outsider);
    reaches_web_through_the_mesh(&lab, OUTSIDER);

    lab.kubectl("apply", "lab-cni-plain.yaml");
    enrolled_within(&lab, "node-1", &set(&NODE_1_MESHED));
    let released = curl(&lab, OUTSIDER.0, OUTSIDER.1, &["http://web.mesh/"]);
    assert!(!released.status.success(), "the outsider is released");
    assert!(lab.status().contains("plain/outsider"));
}

#[test]
fn agents_recover_their_pods_after_a_stop_and_after_a_kill() {
    let Some(lab) = mesh_lab("t-cni-recover") else {
        return;
    };
    assert_eq!(enrolled(&lab, "node-1"), set(&NODE_1_MESHED));

    // Created while its agent is stopped: ADD fails, the pod starts, the agent catches up.
    lab.stop_agent("node-1");
    lab.kubectl("apply", "lab-mesh-extra.yaml");
    let log = cni_log(&lab);
    assert!(
        log.lines()
            .any(|l| l.contains("failed") && l.contains("mesh/extra")),
        "{log}"
    );
    lab.start_agent("node-1");
    let mut with_extra = set(&NODE_1_MESHED);
    with_extra.insert("mesh/extra".into());
    enrolled_within(&lab, "node-1", &with_extra);
    reaches_web_through_the_mesh(&lab, ("mesh", "extra"));

    // Killed: pins, socket and state left behind; the next agent recaptures every pod alone.
    let adds_before = cni_log(&lab).lines().count();
    lab.kill_agent("node-1");
    lab.start_agent("node-1");
    enrolled_within(&lab, "node-1", &with_extra);
    assert_eq!(
        cni_log(&lab).lines().count(),
        adds_before,
        "the lab ran no CNI call"
    );
    reaches_web_through_the_mesh(&lab, CLIENT);
    reaches_web_through_the_mesh(&lab, ("mesh", "extra"));
    let status = lab.status();
    assert!(
        status.contains("node-1 enrolled: mesh/client mesh/extra"),
        "{status}"
    );
}

/// `mesh-agent enroll --socket <node-1's socket> ARGS...`, run by `uid` (0: as the test).
fn enroll_as(lab: &TestLab, uid: u32, args: &[&str]) -> std::process::Output {
    let socket = lab_dir(&lab.name).join("agents/node-1.sock");
    let agent = built("mesh-agent");
    let mut cmd = std::process::Command::new("setpriv");
    let id = uid.to_string();
    cmd.args(["--reuid", &id, "--regid", &id, "--clear-groups"])
        .arg(agent)
        .args(["enroll", "--socket"])
        .arg(socket)
        .args(args);
    output_within(cmd)
}

#[test]
fn the_enrollment_socket_refuses_a_non_root_peer_and_a_foreign_netns() {
    let Some(lab) = mesh_lab("t-cni-guard") else {
        return;
    };
    let socket = lab_dir(&lab.name).join("agents/node-1.sock");
    // Even with the file opened to everyone, the agent asks the kernel who is calling.
    let mode = std::fs::Permissions::from_mode(0o666);
    std::fs::set_permissions(&socket, mode).expect("chmod the socket");
    let nobody = enroll_as(&lab, 65534, &["list"]);
    assert!(!nobody.status.success(), "a non-root peer is refused");
    assert!(
        stdout(&nobody).contains("is not root"),
        "{}",
        stdout(&nobody)
    );

    // The client's name and IP with web-0's netns: the netns does not hold the IP.
    let client_ip = pod_ip(&lab, "mesh/client");
    let foreign = format!("/var/run/netns/{}-mesh-web-0", lab.name);
    assert!(std::path::Path::new(&foreign).exists(), "{foreign}");
    let args = ["add", "--namespace", "mesh", "--name", "client"];
    let hijack = enroll_as(
        &lab,
        0,
        &[&args[..], &["--netns", &foreign, "--ip", &client_ip]].concat(),
    );
    assert!(!hijack.status.success(), "a foreign netns is refused");
    let answer = stdout(&hijack);
    assert!(answer.contains("holds none of"), "{answer}");
    // The refusal changed nothing: the client is still enrolled, and captured.
    assert_eq!(enrolled(&lab, "node-1"), set(&NODE_1_MESHED));
    reaches_web_through_the_mesh(&lab, CLIENT);
}
