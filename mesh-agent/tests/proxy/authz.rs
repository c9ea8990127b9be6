//! AuthorizationPolicies at the destination, in-process: the inbound request stack answers a
//! denied request `403 RBAC: access denied` (counted with `DENY`) and never reaches the app;
//! a DENY rule wins over an ALLOW; principals need a proven identity; the app gets the
//! normalized path. On the same-node fast path a denied TCP connection is closed before the
//! app is dialled and counted `response_flags="DENY"`.

use mesh_agent::access_log::AccessLogEntry;
use mesh_agent::proxy::LocalPods;

use crate::harness::config::{compile, pod, service, sleep};
use crate::harness::inbound::{send_inbound, InboundClient};
use crate::harness::metrics::{has_sample, text};
use crate::harness::proxy::{current_pod, Agent};
use crate::harness::upstream::{echo_server, Upstream};
use crate::harness::web::get;

/// `shop/web` pods carry `app: web`; `policies` are AuthorizationPolicy specs of `shop` named
/// p0, p1, ...
fn policies(specs: &[&str]) -> String {
    specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            format!(
                "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n\
                 metadata: {{name: p{i}, namespace: shop}}\n\
                 spec: {{selector: {{matchLabels: {{app: web}}}}, {spec}}}\n---\n"
            )
        })
        .collect()
}

const PLAIN: InboundClient = InboundClient {
    address: "127.0.0.1:40000",
    identity: None,
};

/// The app `web-0` at 127.0.0.2 (HTTP), `sleep-0` at 127.0.0.1, and `specs`.
async fn web_app(specs: &[&str]) -> (Agent, std::sync::Arc<Upstream>) {
    let app = Upstream::healthy("127.0.0.2:0".parse().unwrap(), "web-0").await;
    let yaml = service("web", "10.96.0.10", "http-web", app.address.port())
        + &sleep()
        + &pod("web-0", "app: web", "127.0.0.2")
        + &policies(specs);
    (Agent::new(compile(&yaml)), app)
}

#[tokio::test]
async fn a_denied_request_is_answered_403_and_never_reaches_the_app() {
    let allow_get = "rules: [{to: [{operation: {methods: [GET], paths: ['/public/*']}}]}]";
    let (agent, app) = web_app(&[allow_get]).await;
    let at = app.address.to_string();
    let allowed = send_inbound(&agent, &at, PLAIN, get("/public/a", &[])).await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    let post = hyper::Request::post("/public/a")
        .header("host", "web.shop")
        .body(Default::default())
        .unwrap();
    let denied = send_inbound(&agent, &at, PLAIN, post).await;
    assert_eq!(
        (denied.status, denied.body.as_str()),
        (403, "RBAC: access denied")
    );
    let other_path = send_inbound(&agent, &at, PLAIN, get("/private", &[])).await;
    assert_eq!(other_path.status, 403);
    assert_eq!(app.seen(), 1);
    let labels = [
        r#"reporter="destination""#,
        r#"response_code="403""#,
        r#"response_flags="DENY""#,
    ];
    assert_eq!(agent_requests(&agent, &labels, 2).await, 2);
}

async fn agent_requests(agent: &Agent, labels: &[&str], want: u64) -> u64 {
    crate::harness::metrics::requests_total(&agent.registry, labels, want).await
}

#[tokio::test]
async fn deny_wins_over_allow_and_normalized_paths_cannot_slip_past() {
    let allow_all = "rules: [{}]";
    let deny_admin = "action: DENY, rules: [{to: [{operation: {paths: ['/admin', '/admin/*']}}]}]";
    let (agent, app) = web_app(&[allow_all, deny_admin]).await;
    let at = app.address.to_string();
    for sneaky in ["/admin", "/public/../admin", "/%61dmin/x", "/./admin/"] {
        let answer = send_inbound(&agent, &at, PLAIN, get(sneaky, &[])).await;
        assert_eq!(answer.status, 403, "{sneaky}");
    }
    let answer = send_inbound(&agent, &at, PLAIN, get("/public/./x/../y?q=1", &[])).await;
    assert_eq!(answer.status, 200);
    assert!(
        answer.body.starts_with("web-0 /public/y?q=1 "),
        "{}",
        answer.body
    );
    assert_eq!(app.seen(), 1);
}

#[tokio::test]
async fn principals_and_namespaces_need_a_proven_identity() {
    let allow_cart = "rules: [{from: [{source: {principals: [cluster.local/ns/shop/sa/cart]}}]}]";
    let allow_ns = "rules: [{from: [{source: {namespaces: [bank]}}]}]";
    let (agent, app) = web_app(&[allow_cart, allow_ns]).await;
    let at = app.address.to_string();
    let send = |identity| {
        let client = InboundClient {
            address: "127.0.0.1:40000",
            identity,
        };
        send_inbound(&agent, &at, client, get("/", &[]))
    };
    assert_eq!(
        send(Some("spiffe://cluster.local/ns/shop/sa/cart"))
            .await
            .status,
        200
    );
    assert_eq!(
        send(Some("spiffe://cluster.local/ns/bank/sa/teller"))
            .await
            .status,
        200
    );
    assert_eq!(
        send(Some("spiffe://cluster.local/ns/shop/sa/web"))
            .await
            .status,
        403
    );
    assert_eq!(send(None).await.status, 403);
}

#[tokio::test]
async fn an_ip_block_rule_keeps_other_clients_out() {
    let allow_block = "rules: [{from: [{source: {ipBlocks: [127.0.0.1/32]}}]}]";
    let (agent, app) = web_app(&[allow_block]).await;
    let at = app.address.to_string();
    let other = InboundClient {
        address: "127.0.0.9:40000",
        identity: None,
    };
    assert_eq!(
        send_inbound(&agent, &at, PLAIN, get("/", &[])).await.status,
        200
    );
    assert_eq!(
        send_inbound(&agent, &at, other, get("/", &[])).await.status,
        403
    );
}

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
    let local: &LocalPods = &agent.inputs.local_pods;
    local.insert(current_pod("shop", "echo-0", "127.0.0.3").await);
    let mut lines = access_log(&agent);
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

/// The access log of `agent`, every line kept.
fn access_log(agent: &Agent) -> tokio::sync::mpsc::Receiver<AccessLogEntry> {
    use mesh_agent::access_log::{AccessLog, AccessLogMetrics};
    let (log, lines) = AccessLog::bounded(16, &AccessLogMetrics::default());
    agent.inputs.http.observers.set_access_log(Some(log));
    lines
}

#[tokio::test]
async fn a_denial_is_access_logged_naming_the_rule() {
    let deny_post = "action: DENY, rules: [{to: [{operation: {ports: ['1']}}]}, {to: [{operation: {methods: [POST]}}]}]";
    let (agent, app) = web_app(&[deny_post]).await;
    let mut lines = access_log(&agent);
    let post = hyper::Request::post("/")
        .header("host", "web.shop")
        .body(Default::default())
        .unwrap();
    let answer = send_inbound(&agent, &app.address.to_string(), PLAIN, post).await;
    assert_eq!(answer.status, 403);
    let entry = tokio::time::timeout(crate::harness::GUARD, lines.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (entry.response_code, entry.response_flags.as_str()),
        (403, "DENY")
    );
    assert_eq!(
        entry.response_code_details.as_deref(),
        Some("rbac_access_denied_matched_policy[ns[shop]-policy[p0]-rule[1]]")
    );
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
