//! Privileged tests of the agents' life in the lab: stopped, pods talk directly
//! (fail open); started again, capture resumes for the running pods; a deleted pod is
//! unenrolled; `down` leaves no agent, pin or socket behind, also after an agent crashed.

use crate::mesh_support::{
    agent_pids, curl, enrolled, enrolled_within, mesh_lab, metrics, pin_dir, pod_ip,
    pods_answering, sum,
};
use crate::support::{lab_dir, ok, process_gone, stdout, TestLab};
use std::collections::BTreeSet;

const CLIENT: (&str, &str) = ("mesh", "client");

fn listeners(lab: &TestLab, ns: &str, pod: &str) -> String {
    stdout(&ok(lab.exec(ns, pod, &["ss", "-ltnH"])))
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_stopped_agent_fails_open_and_a_started_one_captures_again() {
    let Some(lab) = mesh_lab("t-mesh-restart") else {
        return;
    };
    pods_answering(&lab, CLIENT, "http://web/", 1);
    let node_1_pods = set(&["mesh/client", "mesh/web-0", "mesh/web-2"]);
    assert_eq!(enrolled(&lab, "node-1"), node_1_pods);
    assert!(listeners(&lab, "mesh", "web-0").contains(":15006"));

    lab.stop_agent("node-1");
    assert!(agent_pids(&lab, "node-1").is_empty(), "the agent is gone");
    assert!(lab.status().contains("node-1 stopped"), "{}", lab.status());
    assert!(!pin_dir(&lab, "node-1").exists(), "its pins are gone");
    let web_0 = format!("http://{}:8080/", pod_ip(&lab, "mesh/web-0"));
    let direct = ok(curl(&lab, CLIENT.0, CLIENT.1, &[&web_0]));
    assert!(
        stdout(&direct).contains(r#""pod":"web-0""#),
        "pod IPs are reached directly"
    );
    let listening = listeners(&lab, "mesh", "web-0");
    assert!(
        !listening.contains(":15006") && !listening.contains(":15001"),
        "{listening}"
    );
    let via_service = curl(&lab, CLIENT.0, CLIENT.1, &["http://web/"]);
    assert!(
        !via_service.status.success(),
        "no ClusterIP without the agent (no kube-proxy)"
    );

    lab.start_agent("node-1");
    assert!(lab.status().contains("node-1 ready"), "{}", lab.status());
    // The new agent recovers the running pods by itself.
    enrolled_within(&lab, "node-1", &node_1_pods);
    let captured = |lab: &TestLab| {
        sum(
            &metrics(lab, "node-1"),
            "mesh_ebpf_captured_outbound_total",
            "",
        )
    };
    let before = captured(&lab);
    ok(curl(&lab, CLIENT.0, CLIENT.1, &["http://web/"]));
    assert_eq!(captured(&lab) - before, 1, "capture resumed");
}

#[test]
fn a_deleted_pod_is_unenrolled_and_down_removes_the_agents() {
    let Some(lab) = mesh_lab("t-mesh-delete") else {
        return;
    };
    lab.kubectl("apply", "lab-mesh-extra.yaml");
    assert!(enrolled(&lab, "node-1").contains("mesh/extra"));
    let gauge = |lab: &TestLab| sum(&metrics(lab, "node-1"), "mesh_enrolled_pods", "");
    assert_eq!(gauge(&lab), 4);
    lab.kubectl("delete", "lab-mesh-extra.yaml");
    assert!(!enrolled(&lab, "node-1").contains("mesh/extra"));
    assert_eq!(gauge(&lab), 3);
    let config = lab_dir(&lab.name).join("config");
    assert!(
        !config.join("Pod.mesh.extra.yaml").exists(),
        "discovery forgets it"
    );
    assert!(config.join("Pod.mesh.client.yaml").exists());

    // A crashed agent leaves its pins; `down` finds it by its cgroup and removes everything.
    let pids: Vec<i32> = ["node-1", "node-2"]
        .iter()
        .flat_map(|n| agent_pids(&lab, n))
        .collect();
    assert_eq!(pids.len(), 2, "one agent per node: {pids:?}");
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe { libc::kill(agent_pids(&lab, "node-2")[0], libc::SIGKILL) };
    lab.down();
    assert_eq!(lab.leftovers(), Vec::<String>::new());
    for node in ["node-1", "node-2"] {
        assert!(!pin_dir(&lab, node).exists(), "{node}'s pins are left");
    }
    let alive: Vec<_> = pids.into_iter().filter(|p| !process_gone(*p)).collect();
    assert!(alive.is_empty(), "agents left: {alive:?}");
}
