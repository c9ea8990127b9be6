//! Resilience in the lab with real eBPF, the tutorial's scenarios on one two-node lab: retries
//! (a route's and the mesh default), outlier ejection, a circuit breaker, a route timeout and a
//! killed endpoint, each applied with `lab apply` and removed with `lab delete` as a user would.
//! The clients run on node-1, so node-1's agent is the one that retries, breaks and ejects — for
//! each client pod on its own, as its sidecar would.

use crate::mesh_support::traffic::{
    self, has_policy, kubectl_until, requests, routed_by, steady, sum_of,
};
use crate::mesh_support::{admin, mesh_lab_of, metrics, pod_ip};
use crate::support::{process_gone, stdout, TestLab};
use serde_json::Value;
use std::thread::sleep;
use std::time::Duration;

const CLIENT: (&str, &str) = ("shop", "client");
/// Another client on node-1: its outlier detectors are its own, as its sidecar's would be.
const OTHER_CLIENT: (&str, &str) = ("shop", "other-client");

/// What `sample-app load` from the client counted: `requests` to `url`, `concurrency` at a time.
fn load(lab: &TestLab, url: &str, requests: u64, concurrency: u64) -> traffic::Load {
    traffic::load(lab, CLIENT, url, requests, concurrency)
}

/// A Service of namespace `shop` by its full name.
fn host(name: &str) -> String {
    format!("{name}.shop.svc.cluster.local")
}

#[test]
fn retries_ejection_circuit_breaking_and_timeouts_protect_callers() {
    let Some(lab) = mesh_lab_of("t-resilience", 2, "lab-resilience.yaml") else {
        return;
    };
    lab.exec_until_ok(
        CLIENT.0,
        CLIENT.1,
        &["curl", "-sS", "-m", "5", "http://httpbin/"],
    );
    retries_lift_a_flaky_backend(&lab);
    outlier_detection_ejects_the_broken_pod(&lab);
    a_circuit_breaker_answers_the_overflow_at_once(&lab);
    one_pods_tripped_breaker_leaves_another_pod_served(&lab);
    a_route_timeout_cuts_a_slow_backend(&lab);
    a_killed_endpoint_is_retried_away_from(&lab);
}

/// The mesh default retries a 503 but not a 500; `attempts: 3, retryOn: 5xx` lifts a backend
/// failing half its requests with 500 from about 50% to about 94% (1 − 0.5⁴).
fn retries_lift_a_flaky_backend(lab: &TestLab) {
    let server = load(lab, "http://flaky-server/", 300, 4);
    let gateway = load(lab, "http://flaky-gateway/", 300, 4);
    eprintln!("mesh default, 300 requests: 500 at 50% → {server:?}; 503 at 50% → {gateway:?}");
    assert!((105..=195).contains(&server.ok), "500s retried? {server:?}");
    assert!(
        (240..=290).contains(&gateway.ok),
        "503s not retried? {gateway:?}"
    );

    let file = "lab-resilience-retries.yaml";
    let (flaky, vs) = (host("flaky-server"), "shop/flaky-server");
    kubectl_until(lab, "apply", file, |s| routed_by(s, &flaky, vs));
    let retried = load(lab, "http://flaky-server/", 300, 4);
    eprintln!("attempts: 3, retryOn: 5xx, 300 requests: {retried:?}");
    assert!(retried.ok >= 260, "{retried:?}");

    kubectl_until(lab, "delete", file, |s| !routed_by(s, &flaky, vs));
    let back = load(lab, "http://flaky-server/", 100, 4);
    eprintln!("after lab delete, 100 requests: {back:?}");
    assert!((25..=75).contains(&back.ok), "{back:?}");
}

/// One error ejects the pod answering 503 (`consecutiveErrors`) or 500 (`consecutive5xxErrors`)
/// for 3 minutes: it gets no more requests, while the healthy pods answer every one.
fn outlier_detection_ejects_the_broken_pod(lab: &TestLab) {
    let file = "lab-resilience-outlier.yaml";
    let (gateway, server) = (host("gateway-errors"), host("server-errors"));
    kubectl_until(lab, "apply", file, |s| {
        has_policy(s, &gateway, "outlierDetection") && has_policy(s, &server, "outlierDetection")
    });
    // The reason, as `/clusters` and the `mesh_outlier_ejections_total` label spell it.
    for (service, broken, reason) in [
        ("gateway-errors", "broken-gateway", "consecutive_gateway"),
        ("server-errors", "broken-server", "consecutive_5xx"),
    ] {
        let url = format!("http://{service}/");
        let endpoint = format!("{}:8080", pod_ip(lab, &format!("shop/{broken}")));
        let cluster = format!("outbound|80||{}", host(service));
        let ejected = || ejection(lab, CLIENT, &cluster, &endpoint);
        for _ in 0..20 {
            if ejected().is_some() {
                break;
            }
            load(lab, &url, 6, 1);
        }
        assert_eq!(ejected().as_deref(), Some(reason), "{broken} not ejected");

        let workload = format!("destination_workload=\"{broken}\"");
        // node-1 reports the destination side too: the pods need no L7 at node-2.
        let arrived = || requests(lab, "node-1", &["reporter=\"destination\"", &workload]);
        let before = steady(arrived);
        let after_ejection = load(lab, &url, 60, 1);
        let later = steady(arrived);
        eprintln!("{service}: {broken} ejected ({reason}), then 60 requests: {after_ejection:?}");
        assert_eq!(after_ejection.code("200"), 60, "{after_ejection:?}");
        assert_eq!(after_ejection.by_pod.get(broken), None);
        assert_eq!(
            later, before,
            "{broken} still got requests after its ejection"
        );
        let series = format!("destination=\"{cluster}\",reason=\"{reason}\"");
        let counted = sum_of(
            &metrics(lab, "node-1"),
            "mesh_outlier_ejections_total",
            &[&series],
        );
        assert_eq!(counted, 1, "mesh_outlier_ejections_total for {cluster}");

        // Another pod of the node still reaches the endpoint the client's detector ejected,
        // until its own detector ejects it.
        assert_eq!(ejection(lab, OTHER_CLIENT, &cluster, &endpoint), None);
        let other = traffic::load(lab, OTHER_CLIENT, &url, 6, 1);
        let reached = steady(arrived) - later;
        eprintln!("{service}: other-client's 6 requests: {other:?}, {reached} reached {broken}");
        assert!(
            reached >= 1,
            "{broken} ejected for other-client too: {other:?}"
        );
        assert_eq!(
            ejection(lab, OTHER_CLIENT, &cluster, &endpoint).as_deref(),
            Some(reason),
            "then other-client's own detector ejects it"
        );
    }
    kubectl_until(lab, "delete", file, |s| {
        !has_policy(s, &gateway, "outlierDetection")
    });
}

/// Why `/clusters` on node-1 says `endpoint` of `cluster` is ejected for `client`, if it is
/// (each source pod has its own detector).
fn ejection(lab: &TestLab, client: (&str, &str), cluster: &str, endpoint: &str) -> Option<String> {
    let clusters: Value = serde_json::from_str(&admin(lab, "node-1", "/clusters")).unwrap();
    let view = clusters.as_array()?.iter().find(|c| c["name"] == cluster)?;
    let source = format!("{}/{}", client.0, client.1);
    let mut states = view["outlier"][&source].as_array()?.iter();
    let state = states.find(|e| e["endpoint"] == endpoint)?;
    state["ejected"].as_str().map(String::from)
}

/// `maxConnections: 1, http1MaxPendingRequests: 1, maxRequestsPerConnection: 1` under 20
/// concurrent slow requests: most are answered 503 `UO` by the agent, the others succeed.
fn a_circuit_breaker_answers_the_overflow_at_once(lab: &TestLab) {
    let url = "http://httpbin/delay/200";
    let unlimited = load(lab, url, 20, 20);
    assert_eq!(unlimited.code("200"), 20, "without limits: {unlimited:?}");

    let (file, httpbin) = ("lab-resilience-pool.yaml", host("httpbin"));
    kubectl_until(lab, "apply", file, |s| {
        has_policy(s, &httpbin, "connectionPool")
    });
    let flagged = ["reporter=\"source\"", "response_flags=\"UO\""];
    let overflowed_before = requests(lab, "node-1", &flagged);
    let burst = load(lab, url, 20, 20);
    let overflowed = steady(|| requests(lab, "node-1", &flagged)) - overflowed_before;
    eprintln!("20 concurrent behind a pool of 1: {burst:?}, {overflowed} flagged UO");
    let (served, refused) = (burst.code("200"), burst.code("503"));
    assert_eq!(served + refused, 20, "{burst:?}");
    assert!(served >= 1 && refused >= 10, "{burst:?}");
    assert_eq!(overflowed, refused, "every 503 is an overflow (UO)");
    assert_eq!(
        burst.by_pod.get("httpbin"),
        Some(&served),
        "the 503s are the agent's own replies, not httpbin's"
    );
    kubectl_until(lab, "delete", file, |s| {
        !has_policy(s, &httpbin, "connectionPool")
    });
}

/// The same pool of 1 tripped by the client's 20 concurrent 3-second requests: `other-client`,
/// on the same node, asking while the flood holds the client's pool, is served — its pool is
/// its own, as its sidecar's would be (one pool per node would answer it 503 `UO`).
fn one_pods_tripped_breaker_leaves_another_pod_served(lab: &TestLab) {
    let (file, httpbin) = ("lab-resilience-pool.yaml", host("httpbin"));
    kubectl_until(lab, "apply", file, |s| {
        has_policy(s, &httpbin, "connectionPool")
    });
    let (flood, other) = std::thread::scope(|scope| {
        let flood = scope.spawn(|| load(lab, "http://httpbin/delay/3000", 20, 20));
        sleep(Duration::from_millis(1000));
        let argv = [
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "http://httpbin/delay/200",
        ];
        let other = crate::mesh_support::curl(lab, OTHER_CLIENT.0, OTHER_CLIENT.1, &argv);
        (flood.join().expect("the flood's thread"), stdout(&other))
    });
    eprintln!("client's flood behind a pool of 1: {flood:?}; other-client got {other}");
    assert!(
        flood.code("503") >= 10,
        "the client's breaker tripped: {flood:?}"
    );
    assert_eq!(other.trim(), "200", "other-client's own pool is untouched");
    kubectl_until(lab, "delete", file, |s| {
        !has_policy(s, &httpbin, "connectionPool")
    });
}

/// `timeout: 0.5s` on a route to a backend answering after 2 s: 504 `UT` from the agent.
fn a_route_timeout_cuts_a_slow_backend(lab: &TestLab) {
    let (file, httpbin) = ("lab-resilience-timeout.yaml", host("httpbin"));
    kubectl_until(lab, "apply", file, |s| {
        routed_by(s, &httpbin, "shop/httpbin")
    });
    let flagged = ["reporter=\"source\"", "response_flags=\"UT\""];
    let cut_before = requests(lab, "node-1", &flagged);
    let curl = |path: &str| {
        let url = format!("http://httpbin{path}");
        let argv = [
            "curl",
            "-sS",
            "-m",
            "5",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{time_total}",
        ];
        stdout(&lab.exec(CLIENT.0, CLIENT.1, &[&argv[..], &[url.as_str()]].concat()))
    };
    let (slow, fast) = (curl("/delay/2000"), curl("/delay/100"));
    eprintln!("timeout 0.5s: /delay/2000 → {slow}, /delay/100 → {fast} (code, seconds)");
    assert!(slow.starts_with("504 "), "{slow}");
    assert!(fast.starts_with("200 "), "{fast}");
    let cut = steady(|| requests(lab, "node-1", &flagged)) - cut_before;
    assert_eq!(cut, 1, "one request flagged UT");
    kubectl_until(lab, "delete", file, |s| {
        !routed_by(s, &httpbin, "shop/httpbin")
    });
}

/// A Service's pod crashes (its process killed; its endpoint still listed): the mesh default
/// policy retries the failed tries on the other pod and no client sees an error.
fn a_killed_endpoint_is_retried_away_from(lab: &TestLab) {
    let both = load(lab, "http://pair/", 20, 1);
    assert_eq!(both.by_pod.len(), 2, "{both:?}");
    let dead = format!("{}:8080", pod_ip(lab, "shop/pair-b"));
    crash(lab, "node-2", "pair-b");
    assert!(
        admin(lab, "node-1", "/clusters").contains(&dead),
        "{dead} no longer listed"
    );
    // node-2 carries the streams at L4 (L7 once per request): a try to the dead app fails at
    // its CONNECT (503), which node-1 retries on the other pod.
    let retries = || {
        let text = metrics(lab, "node-1");
        let line = text.lines().find(|l| l.starts_with("mesh_retries_total "));
        line.and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let retries_before = retries();
    let after = load(lab, "http://pair/", 50, 1);
    let retried = steady(retries) - retries_before;
    eprintln!("pair-b killed, 50 requests: {after:?}; {retried} tries retried");
    assert_eq!(after.code("200"), 50, "{after:?}");
    assert!(retried > 0, "the dead endpoint was never tried");
}

/// Kills pod `pod`'s `sample-app` with SIGKILL, as a crash would; the pod stays listed.
fn crash(lab: &TestLab, node: &str, pod: &str) {
    let app = |pid: &i32| {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        comm.trim() == "sample-app"
    };
    let pids: Vec<i32> = lab.pod_pids(node, "shop", pod);
    let pids: Vec<i32> = pids.into_iter().filter(app).collect();
    assert_eq!(pids.len(), 1, "{pod}'s sample-app: {pids:?}");
    // SAFETY: kill has no memory preconditions; the pid is the pod's own process.
    unsafe { libc::kill(pids[0], libc::SIGKILL) };
    for _ in 0..100 {
        if process_gone(pids[0]) {
            return;
        }
        sleep(Duration::from_millis(20));
    }
    panic!("{pod}'s process {} survived SIGKILL", pids[0]);
}
