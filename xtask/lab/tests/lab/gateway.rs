//! The ingress gateway in the lab, with real eBPF and real processes: an external host (outside
//! every node) calls `http://node-1/` with `Host: shop.example.com`; node-1's agent serves the
//! Gateway's port, routes to the frontend (on node-2) by the VirtualService bound to the
//! Gateway, and the frontend's own call to the backend follows the backend's VirtualService
//! (subset v2 only). Then HTTPS: a certificate made here with the openssl CLI, put in the Secret
//! the Gateway's `credentialName` names — in `istio-system`, the gateway workload's namespace —
//! checked with `curl --resolve … --cacert …`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::mesh_support::{mesh_lab_of, metrics, sum};
use crate::support::{has_command, ok, stdout, TestLab};

pub(crate) const VISITOR: (&str, &str) = ("outside", "visitor");

/// A scratch directory, removed when dropped.
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `curl ARGS...` from the external host, retried (bounded) until it answers 2xx.
pub(crate) fn visitor_curl(lab: &TestLab, args: &[&str]) -> Output {
    let mut argv = vec!["curl", "-sS", "-f", "-m", "5"];
    argv.extend_from_slice(args);
    lab.exec_until_ok(VISITOR.0, VISITOR.1, &argv)
}

/// The backend version at the end of the frontend's answer, checking who answered first.
fn backend_version(out: &Output) -> String {
    let body = stdout(out);
    let answer: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    assert_eq!(answer["service"], "frontend", "{body}");
    let version = answer.pointer("/upstream/0/answer/version");
    version
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

/// The status code of `GET url` with `Host: host` from the external host.
pub(crate) fn status_of(lab: &TestLab, host: &str, url: &str) -> String {
    let host = format!("Host: {host}");
    let argv = [
        "curl",
        "-sS",
        "-m",
        "5",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        &host,
        url,
    ];
    stdout(&ok(lab.exec(VISITOR.0, VISITOR.1, &argv)))
}

/// A self-signed certificate for `host` in `dir`: (`tls.crt`, `tls.key`).
pub(crate) fn make_certificate(dir: &Path, host: &str) -> (PathBuf, PathBuf) {
    let (crt, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "1", "-subj", &format!("/CN={host}")])
        .args(["-addext", &format!("subjectAltName=DNS:{host}")])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .output()
        .expect("openssl");
    ok(out);
    (crt, key)
}

/// The Secret holding the certificate and an HTTPS server on 443 for `host`, bound like port 80.
fn https_yaml(host: &str, crt: &Path, key: &Path) -> String {
    let indent = |path: &Path| {
        let text = std::fs::read_to_string(path).unwrap();
        text.lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    };
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: shop-cert, namespace: istio-system}}\n\
         type: kubernetes.io/tls\nstringData:\n  tls.crt: |\n{}  tls.key: |\n{}---\n\
         apiVersion: networking.istio.io/v1\nkind: Gateway\n\
         metadata: {{name: web, namespace: shop}}\nspec:\n  selector: {{istio: ingressgateway}}\n\
         \x20 servers:\n\
         \x20 - port: {{number: 80, name: http, protocol: HTTP}}\n    hosts: [{host}]\n\
         \x20 - port: {{number: 443, name: https, protocol: HTTPS}}\n    hosts: [{host}]\n\
         \x20   tls: {{mode: SIMPLE, credentialName: shop-cert}}\n",
        indent(crt),
        indent(key)
    )
}

#[test]
fn an_external_host_reaches_the_frontend_through_the_ingress_gateway_over_http_and_https() {
    if !has_command("openssl") {
        eprintln!("skipped: no openssl command");
        return;
    }
    let Some(lab) = mesh_lab_of("gw", 2, "lab-gateway.yaml") else {
        return;
    };

    // HTTP: through node-1's gateway to the frontend (node-2), whose backend call goes to v2.
    let host_header = "Host: shop.example.com";
    let first = visitor_curl(&lab, &["-H", host_header, "http://node-1/"]);
    eprintln!("through the gateway: {}", stdout(&first));
    assert_eq!(backend_version(&first), "v2");
    for _ in 0..10 {
        let out = visitor_curl(&lab, &["-H", host_header, "http://node-1/"]);
        assert_eq!(
            backend_version(&out),
            "v2",
            "the backend's VirtualService sends all to v2"
        );
    }
    assert_eq!(
        status_of(&lab, "unknown.example.com", "http://node-1/"),
        "404"
    );
    let text = metrics(&lab, "node-1");
    let through_gateway = "destination_service_name=\"frontend\"";
    assert!(
        sum(&text, "istio_requests_total", through_gateway) >= 11,
        "{text}"
    );

    // HTTPS: a certificate made here, in a Secret the Gateway's HTTPS server names.
    let scratch = Scratch(crate::support::lab_dir(&lab.name).join("gateway-test"));
    std::fs::create_dir_all(&scratch.0).unwrap();
    let (crt, key) = make_certificate(&scratch.0, "shop.example.com");
    let yaml = scratch.0.join("https.yaml");
    std::fs::write(&yaml, https_yaml("shop.example.com", &crt, &key)).unwrap();
    lab.try_apply(&yaml)
        .unwrap_or_else(|e| panic!("lab apply {}: {e:#}", yaml.display()));
    let node = stdout(&ok(lab.exec(
        VISITOR.0,
        VISITOR.1,
        &["getent", "hosts", "node-1"],
    )));
    let node_ip = node
        .split_whitespace()
        .next()
        .expect("node-1 resolves")
        .to_string();
    let resolve = format!("shop.example.com:443:{node_ip}");
    let cacert = crt.display().to_string();
    let https = [
        "--resolve",
        &resolve,
        "--cacert",
        &cacert,
        "https://shop.example.com/",
    ];
    let out = visitor_curl(&lab, &https);
    eprintln!("through the gateway over HTTPS: {}", stdout(&out));
    assert_eq!(backend_version(&out), "v2");
    let http2 = [&["--http2"][..], &https[..]].concat();
    let out = visitor_curl(&lab, &http2);
    assert_eq!(backend_version(&out), "v2");
}
