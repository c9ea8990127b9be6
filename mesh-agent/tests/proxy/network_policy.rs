//! Kubernetes NetworkPolicy on the same-node fast path, in-process: the agent delivers the
//! connection inside the destination pod, where the CNI never sees it, so the pod's ingress
//! rules decide before the app is dialled — the allowed client's bytes reach it, the other
//! client's connection is closed, counted (`response_flags="DENY"`,
//! `mesh_network_policy_denied_total`) and logged naming the policies.

use crate::harness::config::{compile, pod, service};
use crate::harness::metrics::{has_sample, text};
use crate::harness::proxy::{current_pod, Agent};
use crate::harness::upstream::echo_server;

/// Only `app: sleep` pods may reach `app: web` pods, on any port.
const WEB_INGRESS: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n\
metadata: {name: web-ingress, namespace: shop}\n\
spec:\n  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Ingress]\n  ingress:\n\
\x20 - from: [{podSelector: {matchLabels: {app: sleep}}}]\n---\n";

#[tokio::test]
async fn a_network_policy_lets_the_selected_client_in_and_keeps_another_out() {
    let echo = echo_server("127.0.0.3:0".parse().unwrap(), "echo").await;
    let yaml = service("web", "10.96.0.10", "tcp-web", echo.port())
        + &pod("sleep-0", "app: sleep", "127.0.0.1")
        + &pod("other-0", "app: other", "127.0.0.9")
        + &pod("echo-0", "app: web", "127.0.0.3")
        + WEB_INGRESS;
    let agent = Agent::new(compile(&yaml));
    let web = current_pod("shop", "echo-0", "127.0.0.3").await;
    agent.inputs.local_pods.insert(web);
    let mut lines = agent.access_log();

    let allowed = agent
        .sleep()
        .await
        .exchange(&echo.to_string(), b"ping")
        .await;
    assert_eq!(allowed.unwrap_or_default(), b"echo:ping");
    let other = agent.outbound("other-0", "127.0.0.9").await;
    let refused = other.exchange(&echo.to_string(), b"ping").await;
    assert_eq!(refused.unwrap_or_default(), b"", "closed before the app");

    let metrics = text(&agent.registry);
    let denied = [
        r#"path="same_node""#,
        r#"namespace="shop""#,
        r#"policy="shop/web-ingress""#,
    ];
    let counter = "mesh_network_policy_denied_total";
    assert!(has_sample(&metrics, counter, &denied, 1), "{metrics}");
    let opened = "istio_tcp_connections_opened_total";
    let flagged = [r#"reporter="destination""#, r#"response_flags="DENY""#];
    assert!(has_sample(&metrics, opened, &flagged, 1), "{metrics}");
    let mut details = Vec::new();
    while let Ok(Some(entry)) = tokio::time::timeout(crate::harness::GUARD, lines.recv()).await {
        details.extend(entry.connection_termination_details);
        if !details.is_empty() {
            break;
        }
    }
    assert_eq!(details, ["network_policy_denied[shop/web-ingress]"]);
}

#[tokio::test]
async fn without_a_policy_selecting_the_pod_every_client_gets_in() {
    let echo = echo_server("127.0.0.3:0".parse().unwrap(), "echo").await;
    let other_pods = WEB_INGRESS.replace("app: web}}\n  policyTypes", "app: db}}\n  policyTypes");
    let yaml = service("web", "10.96.0.10", "tcp-web", echo.port())
        + &pod("other-0", "app: other", "127.0.0.9")
        + &pod("echo-0", "app: web", "127.0.0.3")
        + &other_pods;
    let agent = Agent::new(compile(&yaml));
    let web = current_pod("shop", "echo-0", "127.0.0.3").await;
    agent.inputs.local_pods.insert(web);
    let other = agent.outbound("other-0", "127.0.0.9").await;
    let answer = other.exchange(&echo.to_string(), b"ping").await;
    assert_eq!(answer.unwrap_or_default(), b"echo:ping");
}

/// Through the tunnel the app is dialled inside its pod too: the CONNECT answers to the pod's
/// ingress rules, the source being the pod at the peer's address only if it runs as the
/// identity the peer's certificate proved.
#[tokio::test]
async fn a_tunnel_connect_answers_to_the_pods_ingress_rules_by_its_authenticated_source() {
    use crate::harness::certificates::{identity, TestCa, TestCertificates};
    use crate::harness::hbone;
    let ambient = "istio.io/dataplane-mode: ambient";
    let yaml = pod("sleep-0", &format!("app: sleep, {ambient}"), "127.0.0.1")
        + &pod("echo-0", &format!("app: web, {ambient}"), "127.0.0.26")
        + WEB_INGRESS;
    let ca = TestCa::new();
    let agent = Agent::with_tunnels(compile(&yaml), TestCertificates::new(ca.clone()));
    let tunnel = agent.tunnel_inbound("echo-0", "127.0.0.26").await;
    let app = echo_server("127.0.0.26:0".parse().unwrap(), "web").await;
    // sleep-0 runs as shop/default: its certificate makes it the policy's `app: sleep` peer.
    let sleep = ca.issue(&identity("shop", "default"));
    let mut client = hbone::Client::connect(tunnel, &sleep).await.unwrap();
    let (status, answer) = client.exchange(&app.to_string(), b"hello").await;
    assert_eq!((status, answer.as_slice()), (200, &b"web:hello"[..]));
    // Another identity from the same address is not that pod: no rule admits it.
    let other = ca.issue(&identity("shop", "intruder"));
    let mut client = hbone::Client::connect(tunnel, &other).await.unwrap();
    assert_eq!(client.exchange(&app.to_string(), b"hello").await.0, 401);
    let metrics = text(&agent.registry);
    let denied = [r#"path="tunnel""#, r#"policy="shop/web-ingress""#];
    let counter = "mesh_network_policy_denied_total";
    assert!(has_sample(&metrics, counter, &denied, 1), "{metrics}");
}
