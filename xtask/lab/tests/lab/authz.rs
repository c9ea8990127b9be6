//! AuthorizationPolicies in the lab with real eBPF, enforced at the destination agent: an L7
//! rule lets GET under one path through and answers POST `403 RBAC: access denied`; a DENY
//! policy wins over the ALLOW; a dry-run policy only counts; on TCP a namespace rule lets the
//! app's own namespace in (on the same node, where the agent knows both pods) and keeps another
//! namespace's and an unmeshed client out, while an ipBlocks rule lets the other node's pods in;
//! a DENY applied while connections are open cuts them (same node and across nodes).

use crate::mesh_support::{curl, mesh_lab_of, metrics, pod_ip, sum};
use crate::support::{stdout, TestLab};
use mesh_lab::lab::ExecTarget;
use std::process::{Child, Stdio};

const CLUSTER: &str = "lab-authz.yaml";
const NEAR: (&str, &str) = ("authz", "near");
const FAR: (&str, &str) = ("authz", "far");
const STRANGER: (&str, &str) = ("other", "stranger");
const OUTSIDER: (&str, &str) = ("plain", "outsider");

/// `curl` from `client` with `args`: the status code and body (`0` when no answer came).
fn request(lab: &TestLab, client: (&str, &str), args: &[&str]) -> (u16, String) {
    let mut argv = vec!["-w", "\n%{http_code}"];
    argv.extend_from_slice(args);
    let text = stdout(&curl(lab, client.0, client.1, &argv));
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// Whether `tcp-client` from `client` got its echo back from `addr`.
fn echoed(lab: &TestLab, client: (&str, &str), addr: &str) -> bool {
    let argv = ["sample-app", "tcp-client", "--addr", addr];
    lab.exec(client.0, client.1, &argv).status.success()
}

#[test]
fn policies_allow_deny_and_dry_run_at_the_destination() {
    let Some(lab) = mesh_lab_of("t-authz-http", 2, CLUSTER) else {
        return;
    };
    let app = pod_ip(&lab, "authz/app");
    let url = |path: &str| format!("http://{app}:8080{path}");
    lab.exec_until_ok(
        FAR.0,
        FAR.1,
        &["curl", "-fsS", "-m", "5", &url("/public/a")],
    );

    for client in [FAR, NEAR] {
        assert_eq!(
            request(&lab, client, &[&url("/public/a")]).0,
            200,
            "{client:?}"
        );
        let post = request(&lab, client, &["-X", "POST", &url("/public/a")]);
        assert_eq!(post, (403, "RBAC: access denied".into()), "{client:?}");
        assert_eq!(
            request(&lab, client, &[&url("/private")]).0,
            403,
            "{client:?}"
        );
        // DENY wins over the ALLOW rule that matches, also after `..`.
        for secret in ["/public/secret", "/public/x/../secret"] {
            let args = ["--path-as-is", &url(secret)];
            assert_eq!(request(&lab, client, &args).0, 403, "{client:?} {secret}");
        }
    }
    let node_1 = metrics(&lab, "node-1");
    let denied = r#"response_code="403",response_flags="DENY""#;
    let labelled = node_1
        .lines()
        .filter(|l| l.starts_with("istio_requests_total"))
        .any(|l| {
            l.contains(r#"reporter="destination""#) && l.contains("403") && l.contains("DENY")
        });
    assert!(labelled, "no 403 DENY counted ({denied}):\n{node_1}");

    let before = sum(&node_1, "mesh_authz_dry_run_total", r#"result="denied""#);
    assert_eq!(
        request(&lab, FAR, &[&url("/public/dry")]).0,
        200,
        "dry run enforced"
    );
    let after = sum(
        &metrics(&lab, "node-1"),
        "mesh_authz_dry_run_total",
        r#"result="denied""#,
    );
    assert_eq!(after - before, 1, "the dry run is counted once");
}

#[test]
fn namespace_and_ip_block_rules_keep_other_clients_out_of_a_tcp_port() {
    let Some(lab) = mesh_lab_of("t-authz-tcp", 2, CLUSTER) else {
        return;
    };
    let addr = format!("{}:7000", pod_ip(&lab, "authz/app"));
    let argv = ["sample-app", "tcp-client", "--addr", &addr];
    lab.exec_until_ok(NEAR.0, NEAR.1, &argv);
    assert!(echoed(&lab, NEAR, &addr), "the app's namespace, same node");
    assert!(echoed(&lab, FAR, &addr), "node-2's pods by ipBlocks");
    assert!(!echoed(&lab, STRANGER, &addr), "another namespace got in");
    assert!(!echoed(&lab, OUTSIDER, &addr), "an unmeshed client got in");
    let node_1 = metrics(&lab, "node-1");
    let denied = sum(
        &node_1,
        "istio_tcp_connections_opened_total",
        r#"response_flags="DENY""#,
    );
    assert!(
        denied >= 2,
        "denied connections counted: {denied}\n{node_1}"
    );
}

/// A TCP connection from `client` to `addr`: one line echoed, then (after 6 s, while a policy
/// is applied) a second; prints `FIRST` and then `SECOND` or `CUT`.
fn open_connection(lab: &TestLab, client: (&str, &str), addr: &str) -> Child {
    let (host, port) = addr.rsplit_once(':').expect("IP:port");
    let script = format!(
        "exec 3<>/dev/tcp/{host}/{port} || exit 2; echo one >&3; read -r -t 5 got <&3 && echo FIRST; \
         sleep 6; echo two >&3 2>/dev/null; if read -r -t 5 got <&3; then echo SECOND; else echo CUT; fi"
    );
    let target = ExecTarget::Pod {
        namespace: client.0.into(),
        name: client.1.into(),
    };
    let mut cmd = lab.command(&target, &["bash", "-c", &script]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.spawn().expect("starting a client")
}

#[test]
fn a_deny_applied_while_connections_are_open_cuts_them() {
    let Some(lab) = mesh_lab_of("t-authz-live", 2, CLUSTER) else {
        return;
    };
    let addr = format!("{}:7000", pod_ip(&lab, "authz/app"));
    let argv = ["sample-app", "tcp-client", "--addr", &addr];
    lab.exec_until_ok(NEAR.0, NEAR.1, &argv);
    lab.exec_until_ok(FAR.0, FAR.1, &argv);
    let clients = [NEAR, FAR].map(|client| (client, open_connection(&lab, client, &addr)));
    std::thread::sleep(std::time::Duration::from_secs(2));
    lab.kubectl("apply", "lab-authz-deny-open.yaml");
    for (client, child) in clients {
        let out = child.wait_with_output().expect("the client ends");
        let text = stdout(&out);
        assert_eq!(
            text.split_whitespace().collect::<Vec<_>>(),
            ["FIRST", "CUT"],
            "{client:?}"
        );
    }
    assert!(
        !echoed(&lab, NEAR, &addr),
        "a new connection after the DENY"
    );
}
