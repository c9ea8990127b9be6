//! The operator's failure mode, with real eBPF: by default a killed agent lets its pods talk
//! directly (fail open); a `--fail-closed` agent stopped or killed leaves them captured, and
//! their new connections — out of them and into them — are refused at once (not a hang) until
//! an agent is back, while pods outside the mesh and the node go on as before. The next agent
//! replaces the pinned capture and meshes the pods again, an upgrade hands it over; `lab down`
//! leaves no pin behind.

use crate::mesh_support::{
    curl, enrolled_within, mesh_lab, metrics, pin_dir, pod_ip, pods_answering, sum, CLUSTER,
};
use crate::support::{ok, stdout, TestLab};
use std::collections::BTreeSet;
use std::process::Output;
use std::time::{Duration, Instant};

const CLIENT: (&str, &str) = ("mesh", "client");
const OUTSIDER: (&str, &str) = ("plain", "outsider");
/// curl's exit code for "could not connect" (refused or reset at connect).
const COULD_NOT_CONNECT: i32 = 7;
/// A refused connect answers at once; a lost one would wait out curl's 5 s.
const REFUSED_WITHIN: Duration = Duration::from_secs(2);

fn node_1_pods() -> BTreeSet<String> {
    ["mesh/client", "mesh/web-0", "mesh/web-2"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// `http://<pod IP>:8080/` of a pod.
fn pod_url(lab: &TestLab, pod: &str) -> String {
    format!("http://{}:8080/", pod_ip(lab, pod))
}

/// Asserts that `from` cannot connect to `url`, promptly; prints how long the refusal took.
fn refused(lab: &TestLab, from: (&str, &str), url: &str) {
    let started = Instant::now();
    let out: Output = curl(lab, from.0, from.1, &[url]);
    let took = started.elapsed();
    println!("{}/{} -> {url}: refused in {took:?}", from.0, from.1);
    assert_eq!(
        out.status.code(),
        Some(COULD_NOT_CONNECT),
        "{}/{} -> {url} should be refused: {out:?}",
        from.0,
        from.1
    );
    assert!(took < REFUSED_WITHIN, "refused only after {took:?}");
}

/// Asserts that `pod` answers `url` for `from`.
fn answers(lab: &TestLab, from: (&str, &str), url: &str, pod: &str) {
    let out = ok(curl(lab, from.0, from.1, &[url]));
    let body = stdout(&out);
    assert!(body.contains(&format!(r#""pod":"{pod}""#)), "{body}");
}

/// The connections node-1's agent captured outbound so far (eBPF counter).
fn captured(lab: &TestLab) -> u64 {
    sum(
        &metrics(lab, "node-1"),
        "mesh_ebpf_captured_outbound_total",
        "",
    )
}

/// The agents whose links are pinned under node-1's pin directory.
fn pinned_agents(lab: &TestLab) -> usize {
    let links = pin_dir(lab, "node-1").join("links");
    std::fs::read_dir(links).map_or(0, |d| d.flatten().count())
}

#[test]
fn fail_open_lets_pods_go_direct_and_fail_closed_refuses_until_an_agent_is_back() {
    let Some(lab) = mesh_lab("t-failmode") else {
        return;
    };
    pods_answering(&lab, CLIENT, "http://web/", 1);
    let web_0 = pod_url(&lab, "mesh/web-0");

    // Default: a crashed agent leaves nothing attached; the pod reaches web-0 directly.
    lab.kill_agent("node-1");
    answers(&lab, CLIENT, &web_0, "web-0");

    lab.start_agent_failing_closed("node-1");
    enrolled_within(&lab, "node-1", &node_1_pods());
    assert!(lab.status().contains("node-1 ready"), "{}", lab.status());
    assert_eq!(
        pinned_agents(&lab),
        1,
        "the fail-closed agent pins its links"
    );

    lab.kill_agent("node-1");
    // Out of an enrolled pod, and into one from outside the mesh: refused at once.
    refused(&lab, CLIENT, &web_0);
    refused(&lab, CLIENT, &pod_url(&lab, "mesh/far-0"));
    refused(&lab, OUTSIDER, &web_0);
    // Outside the mesh nothing changes: the outsider reaches a pod of a node whose agent runs,
    // and the node reaches the outsider.
    answers(&lab, OUTSIDER, &pod_url(&lab, "mesh/far-0"), "far-0");
    let outsider = pod_url(&lab, "plain/outsider");
    let from_node = ok(lab.exec_node("node-1", &["curl", "-sS", "-m", "5", &outsider]));
    assert!(stdout(&from_node).contains(r#""pod":"outsider""#));

    // The next agent (fail-closed, as recorded for the node) takes the pinned capture over.
    let started = Instant::now();
    lab.start_agent("node-1");
    enrolled_within(&lab, "node-1", &node_1_pods());
    println!("meshed again {:?} after the start", started.elapsed());
    let before = captured(&lab);
    pods_answering(&lab, CLIENT, "http://web/", 1);
    answers(&lab, OUTSIDER, &web_0, "web-0");
    assert!(captured(&lab) > before, "captured again");
    assert_eq!(
        pinned_agents(&lab),
        1,
        "the dead agent's links are replaced"
    );
}

#[test]
fn a_stopped_fail_closed_agent_leaves_its_pods_refusing_and_down_leaves_no_pin() {
    let Some(lab) = TestLab::new("t-closed") else {
        return;
    };
    lab.up_failing_closed(2, &[CLUSTER]);
    pods_answering(&lab, CLIENT, "http://web/", 1);
    let web_0 = pod_url(&lab, "mesh/web-0");

    // An upgrade hands the pinned capture over: the successor pins its own links, the
    // predecessor's go, and the pods are served throughout.
    let successor = lab.try_upgrade_agent("node-1", None);
    successor.unwrap_or_else(|e| panic!("lab agent upgrade: {e:#}"));
    answers(&lab, CLIENT, &web_0, "web-0");
    let deadline = Instant::now() + Duration::from_secs(10);
    while pinned_agents(&lab) != 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        pinned_agents(&lab),
        1,
        "only the successor's links stay pinned"
    );

    lab.stop_agent("node-1");
    assert!(
        lab.status().contains("node-1 stopped fail-closed"),
        "{}",
        lab.status()
    );
    assert!(
        pin_dir(&lab, "node-1").join("links").exists(),
        "its links stay pinned"
    );
    refused(&lab, CLIENT, &web_0);
    refused(&lab, OUTSIDER, &web_0);

    lab.down();
    assert_eq!(lab.leftovers(), Vec::<String>::new());
    assert!(
        !pin_dir(&lab, "node-1").exists(),
        "down removes the pinned links"
    );
}
