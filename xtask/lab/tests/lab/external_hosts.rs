//! External hosts as a cluster sees them, with real eBPF: names answered by the lab's DNS to
//! pods and agents alike, so a DNS ServiceEntry is resolved by the agent's own resolver and
//! follows a changed address; an HTTPS host (certificate from the lab's external-host root)
//! reached by SNI passthrough and by TLS origination (the app calls `http://`, the agent speaks
//! TLS checked against that root, given as a Secret's `ca.crt`); a plain TCP host matched by
//! the address the agent resolved.

use crate::mesh_support::{curl, mesh_lab_of, metrics, sum};
use crate::support::{stdout, TestLab};
use std::net::IpAddr;
use std::thread::sleep;
use std::time::Duration;

const CLUSTER: &str = "lab-external.yaml";

/// The address of external host `outside/<pod>`.
fn address(lab: &TestLab, pod: &str) -> IpAddr {
    lab.open()
        .pod("outside", pod)
        .expect("the host exists")
        .ip()
}

/// Writes `yaml` to a file and applies it.
fn apply(lab: &TestLab, what: &str, yaml: &str) {
    let path =
        std::env::temp_dir().join(format!("{}-{what}-{}.yaml", lab.name, std::process::id()));
    std::fs::write(&path, yaml).unwrap();
    let applied = lab.try_apply(&path);
    let _ = std::fs::remove_file(&path);
    applied.unwrap_or_else(|err| panic!("lab apply of {what}: {err:#}"));
}

/// The `service` that answered `curl ARGS` from the client ("" when none did).
fn answered_by(lab: &TestLab, args: &[&str]) -> String {
    let text = stdout(&curl(lab, "shop", "client", args));
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    answer["service"].as_str().unwrap_or_default().to_string()
}

/// Polls (bounded, ~10 s) until `service` answers `curl ARGS`.
fn until_answered_by(lab: &TestLab, service: &str, args: &[&str]) {
    let mut last = String::new();
    for _ in 0..40 {
        last = answered_by(lab, args);
        if last == service {
            return;
        }
        sleep(Duration::from_millis(250));
    }
    panic!("{service} did not answer curl {args:?}; last answer from {last:?}");
}

#[test]
fn a_dns_service_entry_follows_a_changed_address() {
    let Some(lab) = mesh_lab_of("t-dnsmove", 1, CLUSTER) else {
        return;
    };
    let (alpha, beta) = (address(&lab, "alpha"), address(&lab, "beta"));
    lab.set_dns_name("moving.example.net", &[alpha]);
    apply(
        &lab,
        "moving",
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n\
         metadata: {name: moving, namespace: shop}\nspec:\n  hosts: [moving.example.net]\n\
         \x20 location: MESH_EXTERNAL\n  resolution: DNS\n\
         \x20 ports: [{number: 80, name: http, protocol: HTTP}]\n",
    );
    // The client resolves the name through the lab's DNS too (it is in no hosts file).
    until_answered_by(&lab, "alpha", &["http://moving.example.net/"]);

    lab.set_dns_name("moving.example.net", &[beta]);
    // The app still dials alpha's address: only the agent's resolver can send it to beta.
    let pinned = format!("moving.example.net:80:{alpha}");
    until_answered_by(
        &lab,
        "beta",
        &["--resolve", &pinned, "http://moving.example.net/"],
    );
}

#[test]
fn an_https_external_host_by_sni_passthrough_and_by_tls_origination() {
    let Some(lab) = mesh_lab_of("t-https", 1, CLUSTER) else {
        return;
    };
    let root_pem = lab
        .open()
        .external_ca_root()
        .expect("the external hosts' root");
    let root_file = lab.open().external_ca_root_file();
    let root_file = root_file.to_str().expect("a UTF-8 path");
    apply(&lab, "secure", &secure_resources(&root_pem));

    // Passthrough: dialled at alpha's address (no port 443 there), routed by the SNI alone.
    let pinned = format!("secure.example.net:443:{}", address(&lab, "alpha"));
    let https = [
        "--cacert",
        root_file,
        "--resolve",
        &pinned,
        "https://secure.example.net/",
    ];
    until_answered_by(&lab, "secure", &https);

    // Origination: plain HTTP to port 80, TLS to 443 verified against the Secret's root.
    until_answered_by(&lab, "secure", &["http://secure.example.net/"]);
    let out = curl(
        &lab,
        "shop",
        "client",
        &[
            "-sS",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "http://secure.example.net/",
        ],
    );
    assert!(stdout(&out).starts_with("HTTP/1.1 200"), "{}", stdout(&out));
}

#[test]
fn a_plain_tcp_external_host_by_its_resolved_address() {
    let Some(lab) = mesh_lab_of("t-xtcp", 1, CLUSTER) else {
        return;
    };
    apply(
        &lab,
        "echo",
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n\
         metadata: {name: echo, namespace: shop}\nspec:\n  hosts: [echo.example.net]\n\
         \x20 location: MESH_EXTERNAL\n  resolution: DNS\n\
         \x20 ports: [{number: 7000, name: tcp, protocol: TCP}]\n",
    );
    let echo = "destination_service_name=\"echo.example.net\"";
    let client = [
        "sample-app",
        "tcp-client",
        "--addr",
        "echo.example.net:7000",
    ];
    // Bounded: until the agent has resolved the name, the address is nobody's (passthrough).
    for _ in 0..40 {
        let out = lab.exec("shop", "client", &client);
        assert!(out.status.success(), "the echo answered: {}", stdout(&out));
        let text = metrics(&lab, "node-1");
        if sum(&text, "istio_tcp_connections_opened_total", echo) >= 1 {
            return;
        }
        sleep(Duration::from_millis(250));
    }
    panic!("no TCP connection was counted for echo.example.net");
}

/// Istio's TLS origination task for secure.example.net (port 80 to targetPort 443 with TLS
/// SIMPLE; 443 passed through), the root as the Secret `secure-ca`'s `ca.crt`.
fn secure_resources(root_pem: &str) -> String {
    use base64::Engine as _;
    let ca = base64::engine::general_purpose::STANDARD.encode(root_pem);
    format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n\
         metadata: {{name: secure, namespace: shop}}\nspec:\n  hosts: [secure.example.net]\n\
         \x20 location: MESH_EXTERNAL\n  resolution: DNS\n  ports:\n\
         \x20 - {{number: 80, name: http-port, protocol: HTTP, targetPort: 443}}\n\
         \x20 - {{number: 443, name: https-port, protocol: HTTPS}}\n---\n\
         apiVersion: networking.istio.io/v1\nkind: DestinationRule\n\
         metadata: {{name: secure, namespace: shop}}\nspec:\n  host: secure.example.net\n\
         \x20 trafficPolicy:\n    portLevelSettings:\n    - port: {{number: 80}}\n\
         \x20     tls: {{mode: SIMPLE, credentialName: secure-ca}}\n---\n\
         apiVersion: v1\nkind: Secret\nmetadata: {{name: secure-ca, namespace: shop}}\n\
         data: {{ca.crt: {ca}}}\n"
    )
}
