//! Privileged lab tests: a two-node lab where pods reach each other, Services and external
//! hosts resolve, nothing routes out, and `down` leaves nothing behind.

use crate::support::{lab_dir, ok, process_gone, status_line, stdout, TestLab};

/// `--fail`: an answer other than 2xx (the mesh's 503 while the app is still starting) is
/// retried like a refused connection, so a slow start under load does not fail the test.
const CURL_CODE: [&str; 8] = [
    "curl",
    "-fsS",
    "-m",
    "5",
    "-o",
    "/dev/null",
    "-w",
    "%{http_code}",
];

/// The status of a GET of `url` from `ns/pod`, once it is a 2xx (bounded retries).
fn http_code(lab: &TestLab, ns: &str, pod: &str, url: &str) -> String {
    let mut argv = CURL_CODE.to_vec();
    argv.push(url);
    stdout(&lab.exec_until_ok(ns, pod, &argv))
}

fn resolve(lab: &TestLab, ns: &str, pod: &str, name: &str) -> String {
    let out = ok(lab.exec(ns, pod, &["getent", "hosts", name]));
    stdout(&out)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn two_node_lab_wires_pods_services_and_external_hosts() {
    let Some(lab) = TestLab::new("t-net") else {
        return;
    };
    lab.up(2, &["lab-two-nodes.yaml"]);
    pods_are_placed(&lab);
    pods_services_nodes_and_external_hosts_reach_each_other(&lab);
    nothing_routes_out(&lab);
    exec_runs_in_the_pod(&lab);

    // Mesh resources land in the config directory.
    let config = lab_dir("t-net").join("config/VirtualService.shop.web.yaml");
    assert!(config.exists(), "{} missing", config.display());

    let mut pids = lab.pod_pids("node-1", "shop", "web-0");
    pids.extend(lab.pod_pids("node-2", "shop", "web-1"));
    pids.extend(lab.pod_pids("external", "egress", "api"));
    assert!(pids.len() >= 3, "pods have processes: {pids:?}");

    lab.down();
    assert_eq!(lab.leftovers(), Vec::<String>::new());
    assert!(!lab_dir("t-net").exists(), "state dir left");
    let alive: Vec<_> = pids.into_iter().filter(|p| !process_gone(*p)).collect();
    assert!(alive.is_empty(), "processes left: {alive:?}");
    lab.down(); // idempotent
}

/// `lab status` puts each pod on its node with its address; the external host outside the mesh.
fn pods_are_placed(lab: &TestLab) {
    let status = lab.status();
    let columns = |pod: &str| -> Vec<String> {
        status_line(&status, pod)
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    assert_eq!(
        columns("shop/web-0"),
        ["shop/web-0", "node-1", "10.244.1.2", "yes", "running"]
    );
    assert_eq!(
        columns("shop/web-1"),
        ["shop/web-1", "node-2", "10.244.2.2", "yes", "running"]
    );
    assert_eq!(
        columns("egress/api"),
        ["egress/api", "external", "10.250.1.1", "no", "running"]
    );
}

/// Pod to pod across nodes, Service, node and external names, and back.
fn pods_services_nodes_and_external_hosts_reach_each_other(lab: &TestLab) {
    // Pod to pod across nodes, by pod IP: web-1 (node-2) answers web-0 (node-1).
    let url = "http://10.244.2.2:8080/";
    assert_eq!(http_code(lab, "shop", "web-0", url), "200");
    let body = stdout(&ok(lab.exec(
        "shop",
        "web-0",
        &["curl", "-sS", "-m", "5", url],
    )));
    assert!(body.contains(r#""pod":"web-1""#), "{body}");
    // Service names: short (own namespace), svc.ns and the FQDN.
    for name in ["web", "web.shop", "web.shop.svc.cluster.local"] {
        assert_eq!(resolve(lab, "shop", "web-0", name), "10.96.0.10", "{name}");
    }
    // Node names, in pods and on the external segment.
    assert_eq!(resolve(lab, "shop", "web-0", "node-2"), "10.250.0.2");
    assert_eq!(resolve(lab, "egress", "api", "node-1"), "10.250.0.1");
    // The external host resolves in pods and answers them.
    assert_eq!(
        resolve(lab, "shop", "web-1", "api.example.com"),
        "10.250.1.1"
    );
    assert_eq!(
        http_code(lab, "shop", "web-1", "http://api.example.com:9090/"),
        "200"
    );
    // The external host reaches pods back (routes via the nodes).
    assert_eq!(
        http_code(lab, "egress", "api", "http://10.244.1.2:8080/"),
        "200"
    );
}

/// No route out of pods, nodes or external hosts.
fn nothing_routes_out(lab: &TestLab) {
    // No route out of pods, nodes or external hosts (`ip route get` sends nothing).
    for (ns, pod) in [("shop", "web-0"), ("egress", "api")] {
        let out = lab.exec(ns, pod, &["ip", "route", "get", "1.1.1.1"]);
        assert!(
            !out.status.success(),
            "{ns}/{pod} has a route out: {}",
            stdout(&out)
        );
    }
    let node = lab.exec_node("node-1", &["ip", "route", "get", "1.1.1.1"]);
    assert!(!node.status.success(), "node-1 has a route out");
}

/// `lab exec` passes the exit code through and runs in the pod's cgroup.
fn exec_runs_in_the_pod(lab: &TestLab) {
    // exec passes the exit code through and runs in the pod's cgroup.
    assert_eq!(
        lab.exec("shop", "web-0", &["sh", "-c", "exit 7"])
            .status
            .code(),
        Some(7)
    );
    let cgroup = stdout(&ok(lab.exec(
        "shop",
        "web-0",
        &["cat", "/proc/self/cgroup"],
    )));
    assert!(cgroup.contains("t-net-lab/node-1/shop.web-0"), "{cgroup}");
}

#[test]
fn down_cleans_up_after_a_crash() {
    let Some(lab) = TestLab::new("t-crash") else {
        return;
    };
    // Broken state: down finds everything by name.
    lab.up(2, &["lab-status.yaml"]);
    let mut pids = lab.pod_pids("node-2", "default", "sleeper");
    assert!(!pids.is_empty());
    std::fs::write(lab_dir("t-crash").join("state.json"), "{ broken").unwrap();
    assert!(lab.try_status().is_err(), "status accepted broken state");
    lab.down();
    assert_eq!(lab.leftovers(), Vec::<String>::new());

    // No state at all.
    lab.up(1, &["lab-status.yaml"]);
    pids.extend(lab.pod_pids("node-1", "default", "sleeper"));
    std::fs::remove_dir_all(lab_dir("t-crash")).unwrap();
    lab.down();
    assert_eq!(lab.leftovers(), Vec::<String>::new());
    let alive: Vec<_> = pids.into_iter().filter(|p| !process_gone(*p)).collect();
    assert!(alive.is_empty(), "processes left: {alive:?}");
}
