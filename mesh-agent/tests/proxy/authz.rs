//! AuthorizationPolicies at the destination, in-process: the inbound request stack answers a
//! denied request `403 RBAC: access denied` (counted with `DENY`) and never reaches the app;
//! a DENY rule wins over an ALLOW; principals need a proven identity; the app gets the
//! normalized path; a denial is access-logged naming the rule. (The same-node path:
//! `authz_l4.rs`.)

use crate::harness::config::{authorization_policies as policies, compile, pod, service, sleep};
use crate::harness::inbound::{send_inbound, InboundClient};
use crate::harness::proxy::Agent;
use crate::harness::upstream::Upstream;
use crate::harness::web::get;

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

#[tokio::test]
async fn a_denial_is_access_logged_naming_the_rule() {
    let deny_post = "action: DENY, rules: [{to: [{operation: {ports: ['1']}}]}, {to: [{operation: {methods: [POST]}}]}]";
    let (agent, app) = web_app(&[deny_post]).await;
    let mut lines = agent.access_log();
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
