//! AuthorizationPolicies on the same-node fast path, in-process: the destination pod's policies
//! run before the app is dialled; a denied connection is closed at once, counted
//! `response_flags="DENY"` and logged with the rule; the client pod is known by its registry
//! identity; a new DENY cuts a connection already open.

use mesh_agent::access_log::AccessLogEntry;

use crate::harness::config::{authorization_policies as policies, compile, pod, service};
use crate::harness::metrics::{has_sample, text};
use crate::harness::proxy::{current_pod, Agent};
use crate::harness::upstream::echo_server;

/// `echo-0` (TCP, `app: web`) at 127.0.0.3 enrolled on this agent, `sleep-0`'s connection to
/// it on the same-node fast path, with `specs`: what came back, the metrics, and the access
/// log's lines.
async fn same_node_tcp(specs: &[&str]) -> (Vec<u8>, String, Vec<AccessLogEntry>) {
    let echo = echo_server("127.0.0.3:0".parse().unwrap(), "echo").await;
    let yaml = service("web", "10.96.0.10", "tcp-web", echo.port())
        + &pod("sleep-0", "app: sleep", "127.0.0.1")
        + &pod("echo-0", "app: web", "127.0.0.3")
        + &policies(specs);
    let agent = Agent::new(compile(&yaml));
    agent
        .inputs
        .local_pods
        .insert(current_pod("shop", "echo-0", "127.0.0.3").await);
    let mut lines = agent.access_log();
    let client = agent.sleep().await;
    let answer = client.exchange(&echo.to_string(), b"ping").await;
    let mut logged = Vec::new();
    while logged.len() < 2 {
        match tokio::time::timeout(crate::harness::GUARD, lines.recv()).await {
            Ok(Some(entry)) => logged.push(entry),
            _ => break,
        }
    }
    (answer.unwrap_or_default(), text(&agent.registry), logged)
}

#[tokio::test]
async fn a_denied_same_node_connection_is_closed_before_the_app() {
    let deny_port = "action: DENY, rules: [{to: [{operation: {ports: ['1']}}]}, {from: [{source: {notNamespaces: [bank]}}]}]";
    let (answer, metrics, logged) = same_node_tcp(&[deny_port]).await;
    assert_eq!(answer, b"");
    let lines: Vec<(&str, &str, Option<&str>)> = logged
        .iter()
        .map(|e| {
            let details = e.connection_termination_details.as_deref();
            (e.reporter.as_str(), e.response_flags.as_str(), details)
        })
        .collect();
    let rule = "rbac_access_denied_matched_policy[ns[shop]-policy[p0]-rule[1]]";
    assert_eq!(
        lines,
        [("source", "-", None), ("destination", "DENY", Some(rule))]
    );
    let opened = "istio_tcp_connections_opened_total";
    let denied = [r#"reporter="destination""#, r#"response_flags="DENY""#];
    assert!(has_sample(&metrics, opened, &denied, 1), "{metrics}");
    let passing = [r#"reporter="source""#, r#"response_flags="-""#];
    assert!(has_sample(&metrics, opened, &passing, 1), "{metrics}");
}

#[tokio::test]
async fn the_same_node_path_knows_the_client_pod_by_its_registry_identity() {
    let from_shop = "rules: [{from: [{source: {namespaces: [shop]}}]}]";
    assert_eq!(same_node_tcp(&[from_shop]).await.0, b"echo:ping");
    let from_bank = "rules: [{from: [{source: {namespaces: [bank]}}]}]";
    assert_eq!(same_node_tcp(&[from_bank]).await.0, b"echo:ping"[..0]);
}

#[tokio::test]
async fn a_new_deny_cuts_an_open_same_node_connection() {
    use crate::harness::upstream::{echoes, streaming_echo_server};
    use tokio::io::AsyncReadExt;
    let echo = streaming_echo_server("127.0.0.4:0".parse().unwrap()).await;
    let yaml = service("web", "10.96.0.10", "tcp-web", echo.port())
        + &pod("sleep-0", "app: sleep", "127.0.0.1")
        + &pod("echo-0", "app: web", "127.0.0.4");
    let agent = Agent::new(compile(&yaml));
    agent
        .inputs
        .local_pods
        .insert(current_pod("shop", "echo-0", "127.0.0.4").await);
    let client = agent.sleep().await;
    let mut stream = client.connect(&echo.to_string()).await;
    echoes(&mut stream, b"before").await;
    let allow_other = "rules: [{from: [{source: {namespaces: [shop]}}]}]";
    crate::harness::config::apply(
        &agent.inputs.config,
        &(yaml.clone() + &policies(&[allow_other])),
    );
    echoes(&mut stream, b"still allowed").await;
    let deny = "action: DENY, rules: [{from: [{source: {namespaces: [shop]}}]}]";
    crate::harness::config::apply(&agent.inputs.config, &(yaml + &policies(&[deny])));
    let mut rest = Vec::new();
    let read = tokio::time::timeout(crate::harness::GUARD, stream.read_to_end(&mut rest)).await;
    assert!(read.expect("closed, not hanging").map_or(true, |n| n == 0));
}
