//! CUSTOM AuthorizationPolicies, in-process: the destination's inbound stack asks the
//! MeshConfig provider's external authorizer first (Envoy's HTTP and gRPC ext_authz
//! protocols); a refusal is the authorizer's answer (flag `UAEX`) and never reaches the app; an
//! allowed request carries the authorizer's headers and still meets the DENY and ALLOW
//! policies; an authorizer that cannot be reached answers `statusOnError` unless `failOpen`.

use std::sync::Arc;

use crate::harness::client::Answer;
use crate::harness::config::{
    authorization_policies as policies, compile, mesh_config, pod, service, sleep,
};
use crate::harness::ext_authz::{grpc_authorizer, http_authorizer, Authorizer};
use crate::harness::inbound::{send_inbound, InboundClient};
use crate::harness::proxy::Agent;
use crate::harness::upstream::Upstream;
use crate::harness::web::get;

const PLAIN: InboundClient = InboundClient {
    address: "127.0.0.1:40000",
    identity: None,
};

const CUSTOM_ON_API: &str =
    "action: CUSTOM, provider: {name: checker}, rules: [{to: [{operation: {paths: ['/api/*']}}]}]";

/// `web-0` (at 127.0.0.2) under `specs`, its authorizer the Service `ext-authz` (pod at
/// 127.0.0.5) as the provider `checker` (`provider`: its YAML fields, flow style, after a kind).
struct Mesh {
    agent: Agent,
    app: Arc<Upstream>,
}

impl Mesh {
    async fn new(authorizer_port: u16, provider: &str, specs: &[&str]) -> Self {
        let app = Upstream::healthy("127.0.0.2:0".parse().unwrap(), "web-0").await;
        let mesh = format!(
            "extensionProviders:\n- name: checker\n  {provider}\n    service: ext-authz.shop.svc.cluster.local\n    port: 80\n"
        );
        let yaml = service("web", "10.96.0.10", "http-web", app.address.port())
            + &service("ext-authz", "10.96.0.20", "http", authorizer_port)
            + &sleep()
            + &pod("web-0", "app: web", "127.0.0.2")
            + &pod("ext-authz-0", "app: ext-authz", "127.0.0.5")
            + &policies(specs)
            + &mesh_config(&mesh);
        Self {
            agent: Agent::new(compile(&yaml)),
            app,
        }
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let at = self.app.address.to_string();
        send_inbound(&self.agent, &at, PLAIN, get(path, headers)).await
    }
}

const HTTP_PROVIDER: &str = "envoyExtAuthzHttp:
    pathPrefix: /check
    includeRequestHeadersInCheck: [x-ext-*]
    headersToUpstreamOnAllow: [x-user]
    headersToDownstreamOnAllow: [x-checked]";

async fn allowed_and_denied(authorizer: &Authorizer, mesh: &Mesh, checked_path: &str) {
    let allowed = mesh.get("/api/items", &[("x-ext-authz", "allow")]).await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    assert_eq!(allowed.headers["echo-x-user"], "alice");
    assert_eq!(allowed.headers["x-checked"], "yes");
    assert!(!allowed.headers.contains_key("x-other"));
    let denied = mesh.get("/api/secret", &[]).await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.headers["x-ext-authz-check-result"], "denied");
    assert_eq!(
        denied.body,
        format!("denied by ext_authz for {checked_path}")
    );
    let not_custom = mesh.get("/public", &[]).await;
    assert_eq!(not_custom.status, 200);
    assert_eq!(authorizer.asked().len(), 2, "{:?}", authorizer.asked());
    assert_eq!(mesh.app.seen(), 2);
    let labels = [r#"response_code="403""#, r#"response_flags="UAEX""#];
    let counted = crate::harness::metrics::requests_total(&mesh.agent.registry, &labels, 1).await;
    assert_eq!(counted, 1);
}

#[tokio::test]
async fn an_http_authorizer_decides_first_with_its_status_headers_and_body() {
    let authorizer = http_authorizer("127.0.0.5").await;
    let mesh = Mesh::new(authorizer.address.port(), HTTP_PROVIDER, &[CUSTOM_ON_API]).await;
    allowed_and_denied(&authorizer, &mesh, "/check/api/secret").await;
    assert_eq!(authorizer.asked()[0], "/check/api/items");
}

#[tokio::test]
async fn a_grpc_authorizer_speaks_envoys_check_protocol() {
    let authorizer = grpc_authorizer("127.0.0.5").await;
    let mesh = Mesh::new(
        authorizer.address.port(),
        "envoyExtAuthzGrpc:",
        &[CUSTOM_ON_API],
    )
    .await;
    allowed_and_denied(&authorizer, &mesh, "/api/secret").await;
    let removed = mesh.get("/api/items", &[("x-ext-authz", "allow")]).await;
    assert!(
        !removed.headers.contains_key("echo-x-ext-authz"),
        "headers_to_remove"
    );
}

#[tokio::test]
async fn allowed_by_the_authorizer_the_request_still_meets_deny_policies() {
    let authorizer = http_authorizer("127.0.0.5").await;
    let deny_items = "action: DENY, rules: [{to: [{operation: {paths: ['/api/items']}}]}]";
    let mesh = Mesh::new(
        authorizer.address.port(),
        HTTP_PROVIDER,
        &[CUSTOM_ON_API, deny_items],
    )
    .await;
    let answer = mesh.get("/api/items", &[("x-ext-authz", "allow")]).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (403, "RBAC: access denied")
    );
    assert_eq!(authorizer.asked().len(), 1);
    assert_eq!(mesh.app.seen(), 0);
}

#[tokio::test]
async fn an_unreachable_authorizer_answers_status_on_error_unless_fail_open() {
    let closed = std::net::TcpListener::bind("127.0.0.5:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let failing = "envoyExtAuthzHttp:\n    statusOnError: '503'";
    let mesh = Mesh::new(port, failing, &[CUSTOM_ON_API]).await;
    assert_eq!(
        mesh.get("/api/items", &[("x-ext-authz", "allow")])
            .await
            .status,
        503
    );
    let default = Mesh::new(
        port,
        "envoyExtAuthzGrpc:\n    timeout: 0.2s",
        &[CUSTOM_ON_API],
    )
    .await;
    assert_eq!(default.get("/api/items", &[]).await.status, 403);
    let open = Mesh::new(
        port,
        "envoyExtAuthzGrpc:\n    failOpen: true",
        &[CUSTOM_ON_API],
    )
    .await;
    assert_eq!(open.get("/api/items", &[]).await.status, 200);
    assert_eq!(open.app.seen(), 1);
}
