//! Egress in the lab with real eBPF: under a Sidecar's REGISTRY_ONLY, a ServiceEntry host is
//! reached, another external host is refused in `connect()` itself (curl's connect fails at
//! once, `mesh_ebpf_egress_refused_total` counts it), and a request naming an unregistered host
//! at a registered address is answered 502 (`BlackHoleCluster`); switched to ALLOW_ANY, the other
//! host passes as `PassthroughCluster`. A VirtualService `tcp` route splits 80/20 between
//! subsets.

use crate::mesh_support::{curl, mesh_lab_of, metrics, sum};
use crate::poison::versions;
use crate::support::{stdout, TestLab};
use std::process::Output;
use std::thread::sleep;
use std::time::Duration;

const NODE: &str = "node-1";
const API: &str = "http://api.example.net:9000/";
const OTHER: &str = "http://other.example.net:9000/";

/// `curl` from the client: its exit code and what it printed (the status code with `-w`).
fn client_curl(lab: &TestLab, args: &[&str]) -> (Option<i32>, String) {
    let out: Output = curl(lab, "shop", "client", args);
    (out.status.code(), stdout(&out))
}

fn status_of(lab: &TestLab, extra: &[&str], url: &str) -> (Option<i32>, String) {
    let mut args = vec!["-o", "/dev/null", "-w", "%{http_code}"];
    args.extend_from_slice(extra);
    args.push(url);
    client_curl(lab, &args)
}

/// Polls (bounded) until `check` holds on the answer of `url`.
fn until(lab: &TestLab, what: &str, url: &str, check: impl Fn(&(Option<i32>, String)) -> bool) {
    let mut last = (None, String::new());
    for _ in 0..40 {
        last = status_of(lab, &[], url);
        if check(&last) {
            return;
        }
        sleep(Duration::from_millis(250));
    }
    panic!("{what}: last {last:?}");
}

/// The ServiceEntry for api.example.net at the address the client resolves it to.
fn register_api(lab: &TestLab) {
    let out = lab.exec("shop", "client", &["getent", "hosts", "api.example.net"]);
    let text = stdout(&out);
    let ip = text
        .split_whitespace()
        .next()
        .expect("api.example.net resolves");
    let yaml = format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n\
         metadata: {{name: api, namespace: shop}}\nspec:\n  hosts: [api.example.net]\n\
         \x20 addresses: [{ip}]\n  location: MESH_EXTERNAL\n  resolution: NONE\n\
         \x20 ports: [{{number: 9000, name: http, protocol: HTTP}}]\n"
    );
    let path = std::env::temp_dir().join(format!("t-egress-{}.yaml", std::process::id()));
    std::fs::write(&path, yaml).unwrap();
    let applied = lab.try_apply(&path);
    let _ = std::fs::remove_file(&path);
    applied.expect("lab apply of the ServiceEntry");
}

#[test]
fn registry_only_refuses_in_connect_and_allow_any_passes_through() {
    let Some(lab) = mesh_lab_of("t-egress", 1, "lab-egress.yaml") else {
        return;
    };
    register_api(&lab);
    until(&lab, "api.example.net reached", API, |(_, code)| {
        code == "200"
    });
    // curl exit 7: the connect itself failed (the hook refused it), no HTTP status.
    until(
        &lab,
        "other.example.net refused in connect()",
        OTHER,
        |(exit, code)| *exit == Some(7) && code == "000",
    );
    let refused = sum(&metrics(&lab, NODE), "mesh_ebpf_egress_refused_total", "");
    assert!(refused >= 1, "the hook counted its refusals: {refused}");

    let named_other = status_of(&lab, &["-H", "Host: other.example.net"], API);
    assert_eq!(
        named_other.1, "502",
        "an unregistered host at a registered address"
    );
    let text = metrics(&lab, NODE);
    let black_hole = "destination_service_name=\"BlackHoleCluster\"";
    assert!(
        sum(&text, "istio_requests_total", black_hole) >= 1,
        "counted as BlackHoleCluster"
    );

    lab.kubectl("apply", "lab-egress-allow-any.yaml");
    until(
        &lab,
        "other.example.net passes under ALLOW_ANY",
        OTHER,
        |(_, code)| code == "200",
    );
    let text = metrics(&lab, NODE);
    let passthrough = "destination_service_name=\"PassthroughCluster\"";
    assert!(
        sum(&text, "istio_requests_total", passthrough) >= 1,
        "counted as PassthroughCluster"
    );
}

#[test]
fn tcp_routes_split_80_20_between_subsets() {
    let Some(lab) = mesh_lab_of("t-tcpsplit", 1, "lab-egress.yaml") else {
        return;
    };
    lab.exec_until_ok(
        "shop",
        "client",
        &["curl", "-fsS", "-m", "5", "http://backend/"],
    );
    let seen = versions(&lab, 100);
    eprintln!("100 connections: {seen:?}");
    let v2 = seen.get("v2").copied().unwrap_or(0);
    // Binomial(100, 0.2): 5..=37 holds with probability > 1 - 1e-4; round robin gives ~50.
    assert!((5..=37).contains(&v2), "20% to v2: {seen:?}");
    assert_eq!(
        seen.values().sum::<usize>(),
        100,
        "every connection answered: {seen:?}"
    );
}
