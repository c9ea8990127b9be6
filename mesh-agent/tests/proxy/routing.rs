//! Request routing through the real outbound proxy, in-process on loopback: VirtualService
//! rules choosing subsets by weight, header and uri; rewrite, redirect, direct response and
//! header manipulation; no matching rule answers 404 `NR`.

use crate::harness::config::{destination_rule, web_routes};
use crate::harness::upstream::Upstream;
use crate::harness::web::two_versions;

fn share_of_v2(bodies: &[String]) -> usize {
    bodies.iter().filter(|b| b.starts_with("v2 ")).count()
}

#[tokio::test]
async fn subset_routing_sends_everything_to_v1() {
    let vs = web_routes("  - route: [{destination: {host: web, subset: v1}}]\n");
    let h = two_versions(&(destination_rule("") + &vs)).await;
    for _ in 0..10 {
        let answer = h.get("/", &[]).await;
        assert!(answer.body.starts_with("v1 "), "{answer:?}");
    }
    assert_eq!(h.v2().seen(), 0);
}

#[tokio::test]
async fn a_fifty_fifty_split_lands_near_half() {
    let vs = web_routes(
        "  - route:\n    - {destination: {host: web, subset: v1}, weight: 50}\n    - {destination: {host: web, subset: v2}, weight: 50}\n",
    );
    let h = two_versions(&(destination_rule("") + &vs)).await;
    let mut bodies = Vec::new();
    for _ in 0..400 {
        bodies.push(h.get("/", &[]).await.body);
    }
    let v2 = share_of_v2(&bodies);
    assert!((160..=240).contains(&v2), "{v2} of 400 to v2");
}

#[tokio::test]
async fn a_mobile_user_agent_goes_to_v2_and_others_to_v1() {
    let vs = web_routes(
        "  - match: [{headers: {user-agent: {regex: '.*Mobile.*'}}}]\n    route: [{destination: {host: web, subset: v2}}]\n  - route: [{destination: {host: web, subset: v1}}]\n",
    );
    let h = two_versions(&(destination_rule("") + &vs)).await;
    let mobile = h
        .get("/", &[("user-agent", "Mozilla/5.0 (iPhone) Mobile/15E148")])
        .await;
    let desktop = h
        .get("/", &[("user-agent", "Mozilla/5.0 (X11; Linux)")])
        .await;
    assert!(mobile.body.starts_with("v2 ") && desktop.body.starts_with("v1 "));
}

#[tokio::test]
async fn prefix_and_exact_uris_and_no_match_is_404_nr() {
    let vs = web_routes(
        "  - match: [{uri: {exact: /api}}]\n    route: [{destination: {host: web, subset: v2}}]\n  - match: [{uri: {prefix: /api/}}]\n    route: [{destination: {host: web, subset: v1}}]\n",
    );
    let h = two_versions(&(destination_rule("") + &vs)).await;
    assert!(h.get("/api", &[]).await.body.starts_with("v2 /api "));
    assert!(h
        .get("/api/items", &[])
        .await
        .body
        .starts_with("v1 /api/items "));
    let none = h.get("/other", &[]).await;
    assert_eq!(none.status, 404);
    assert_eq!(
        h.requests_total(&["response_flags=\"NR\"", "response_code=\"404\""], 1)
            .await,
        1
    );
}

#[tokio::test]
async fn rewrite_replaces_the_matched_prefix_and_the_authority() {
    let vs = web_routes(
        "  - match: [{uri: {prefix: /v1/}}]\n    rewrite: {uri: /, authority: backend.shop}\n    route: [{destination: {host: web, subset: v1}}]\n",
    );
    let h = two_versions(&(destination_rule("") + &vs)).await;
    let answer = h.get("/v1/items?x=1", &[]).await;
    assert_eq!(answer.body, "v1 /items?x=1 host=backend.shop");
}

#[tokio::test]
async fn redirect_and_direct_response_answer_without_an_upstream() {
    let vs = web_routes(
        "  - match: [{uri: {exact: /old}}]\n    redirect: {uri: /new, authority: new.shop}\n  - match: [{uri: {prefix: /maintenance}}]\n    directResponse: {status: 503, body: {string: come back later}}\n",
    );
    let h = two_versions(&(destination_rule("") + &vs)).await;
    let moved = h.get("/old", &[]).await;
    assert_eq!(moved.status, 301);
    assert_eq!(moved.headers["location"], "http://new.shop/new");
    let direct = h.get("/maintenance", &[]).await;
    assert_eq!(
        (direct.status, direct.body.as_str()),
        (503, "come back later")
    );
    let seen = |pod: &Upstream| pod.seen();
    assert_eq!(seen(h.v1()) + seen(h.v2()), 0);
}

#[tokio::test]
async fn headers_are_set_added_and_removed_on_request_and_response() {
    let vs = web_routes(
        "  - headers:\n      request: {set: {x-set: rule}, add: {x-added: one}, remove: [x-secret]}\n      response: {set: {x-served-by: mesh}, remove: [echo-x-set]}\n    route:\n    - destination: {host: web, subset: v1}\n      headers: {request: {set: {x-version: v1}}}\n",
    );
    let h = two_versions(&(destination_rule("") + &vs)).await;
    let answer = h.get("/", &[("x-secret", "s"), ("x-added", "zero")]).await;
    let values = |name: &str| -> Vec<String> {
        answer
            .headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(values("echo-x-added"), ["zero", "one"]);
    assert_eq!(values("echo-x-version"), ["v1"]);
    assert!(
        values("echo-x-secret").is_empty(),
        "removed before forwarding"
    );
    assert!(values("echo-x-set").is_empty(), "removed from the response");
    assert_eq!(values("x-served-by"), ["mesh"]);
}

#[tokio::test]
async fn without_a_virtual_service_the_service_routes_to_all_endpoints() {
    let h = two_versions(&destination_rule("")).await;
    let mut bodies = Vec::new();
    for _ in 0..10 {
        bodies.push(h.get("/", &[]).await.body);
    }
    assert_eq!(
        share_of_v2(&bodies),
        5,
        "round robin over both pods: {bodies:?}"
    );
}
