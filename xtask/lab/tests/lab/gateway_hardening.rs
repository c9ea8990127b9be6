//! The ingress gateway hardened, with real eBPF and real processes: Istio's Secure Gateways
//! task serves HTTPS with its Secret in `istio-system` while the Gateway lives in `default`;
//! a Gateway route to a ServiceEntry whose endpoint is the node's own loopback (the agent's
//! port 15021 answers there) is refused — 503 to the visitor, counted on the node.

use std::time::Duration;

use crate::gateway::{make_certificate, status_of, visitor_curl, Scratch, VISITOR};
use crate::mesh_support::{mesh_lab_of, metrics, sum};
use crate::support::{has_command, ok, stdout, TestLab};

/// The gateway's answer to `GET url` with `Host: host`, once its port is open (bounded).
fn status_once_open(lab: &TestLab, host: &str, url: &str) -> String {
    for _ in 0..30 {
        let status = status_of(lab, host, url);
        if status != "000" {
            return status;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    panic!("the gateway never answered {url} for {host}");
}

/// The Secure Gateways task's Secret: `istio-system/httpbin-credential`.
fn credential_yaml(crt: &std::path::Path, key: &std::path::Path) -> String {
    let indent = |path: &std::path::Path| {
        let text = std::fs::read_to_string(path).unwrap();
        text.lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    };
    format!(
        "apiVersion: v1\nkind: Secret\n\
         metadata: {{name: httpbin-credential, namespace: istio-system}}\n\
         type: kubernetes.io/tls\nstringData:\n  tls.crt: |\n{}  tls.key: |\n{}",
        indent(crt),
        indent(key)
    )
}

#[test]
fn secure_gateways_serve_with_the_secret_in_istio_system_and_never_reach_the_node() {
    if !has_command("openssl") {
        eprintln!("skipped: no openssl command");
        return;
    }
    let Some(lab) = mesh_lab_of("edge", 2, "lab-gateway-hardening.yaml") else {
        return;
    };

    // A route to the node's own loopback: refused at the gateway, counted.
    let status = status_once_open(
        &lab,
        "node-local.example.com",
        "http://node-1/healthz/ready",
    );
    assert_eq!(
        status, "503",
        "the agent's own port must not answer through the gateway"
    );
    let text = metrics(&lab, "node-1");
    let refused = sum(
        &text,
        "mesh_gateway_upstream_refused_total",
        "reason=\"loopback\"",
    );
    assert!(refused >= 1, "{text}");

    // The Secure Gateways task: the Secret in istio-system, the Gateway in default.
    let scratch = Scratch(crate::support::lab_dir(&lab.name).join("hardening-test"));
    std::fs::create_dir_all(&scratch.0).unwrap();
    let (crt, key) = make_certificate(&scratch.0, "httpbin.example.com");
    let yaml = scratch.0.join("credential.yaml");
    std::fs::write(&yaml, credential_yaml(&crt, &key)).unwrap();
    lab.try_apply(&yaml)
        .unwrap_or_else(|e| panic!("lab apply {}: {e:#}", yaml.display()));
    let node = stdout(&ok(lab.exec(
        VISITOR.0,
        VISITOR.1,
        &["getent", "hosts", "node-1"],
    )));
    let node_ip = node.split_whitespace().next().expect("node-1 resolves");
    let resolve = format!("httpbin.example.com:443:{node_ip}");
    let cacert = crt.display().to_string();
    let https = [
        "--resolve",
        &resolve,
        "--cacert",
        &cacert,
        "https://httpbin.example.com/",
    ];
    let out = visitor_curl(&lab, &https);
    let body = stdout(&out);
    eprintln!("the Secure Gateways task over HTTPS: {body}");
    assert!(body.contains("\"frontend\""), "{body}");
}
