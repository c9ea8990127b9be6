//! MeshConfig `pathNormalization`, in-process: the path is normalized once, before routing, so
//! a VirtualService and an AuthorizationPolicy see the same path as the app; each mode stops
//! the tricks Istio says it stops (the full table: `authz/paths_tests.rs`).

use crate::harness::config::{
    authorization_policies as policies, compile, destination_rule, mesh_config, pod, service,
    sleep, web_routes,
};
use crate::harness::inbound::{send_inbound, InboundClient};
use crate::harness::proxy::Agent;
use crate::harness::upstream::Upstream;
use crate::harness::web::{get, two_versions};

const PLAIN: InboundClient = InboundClient {
    address: "127.0.0.1:40000",
    identity: None,
};

fn normalization(mode: &str) -> String {
    mesh_config(&format!("pathNormalization: {{normalization: {mode}}}"))
}

/// The status of each of `paths` sent to `web-0`, whose policies allow all but deny
/// `/admin` and `/admin/*`, under `mode`; and what the app saw of the allowed ones.
async fn statuses(mode: &str, paths: &[&str]) -> (Vec<u16>, Vec<String>) {
    let app = Upstream::healthy("127.0.0.2:0".parse().unwrap(), "web-0").await;
    let deny_admin = "action: DENY, rules: [{to: [{operation: {paths: ['/admin', '/admin/*']}}]}]";
    let yaml = service("web", "10.96.0.10", "http-web", app.address.port())
        + &sleep()
        + &pod("web-0", "app: web", "127.0.0.2")
        + &policies(&[deny_admin])
        + &normalization(mode);
    let agent = Agent::new(compile(&yaml));
    let at = app.address.to_string();
    let (mut codes, mut served) = (Vec::new(), Vec::new());
    for path in paths {
        let answer = send_inbound(&agent, &at, PLAIN, get(path, &[])).await;
        codes.push(answer.status);
        if answer.status == 200 {
            served.push(
                answer
                    .body
                    .split(' ')
                    .nth(1)
                    .unwrap_or_default()
                    .to_string(),
            );
        }
    }
    (codes, served)
}

#[tokio::test]
async fn each_mode_denies_the_tricks_it_normalizes_and_serves_what_it_authorized() {
    let tricks = ["/public/../admin", "//admin", "/%2fadmin"];
    let (codes, served) = statuses("NONE", &tricks).await;
    assert_eq!(codes, [200, 200, 200]);
    assert_eq!(served, ["/public/../admin", "//admin", "/%2fadmin"]);
    let (codes, served) = statuses("BASE", &tricks).await;
    assert_eq!(codes, [403, 200, 200]);
    assert_eq!(served, ["//admin", "/%2Fadmin"]);
    let (codes, served) = statuses("MERGE_SLASHES", &tricks).await;
    assert_eq!(
        (codes, served),
        (vec![403, 403, 200], vec!["/%2Fadmin".into()])
    );
    let (codes, _) = statuses("DECODE_AND_MERGE_SLASHES", &tricks).await;
    assert_eq!(codes, [403, 403, 403]);
}

#[tokio::test]
async fn routing_matches_the_normalized_path() {
    let vs = web_routes(
        "  - match: [{uri: {exact: /admin}}]\n    route: [{destination: {host: web, subset: v2}}]\n  - route: [{destination: {host: web, subset: v1}}]\n",
    );
    let merge = normalization("MERGE_SLASHES");
    let h = two_versions(&(destination_rule("") + &vs + &merge)).await;
    for path in ["/public/../admin", "//admin", "/./admin"] {
        let answer = h.get(path, &[]).await;
        assert!(answer.body.starts_with("v2 /admin "), "{path}: {answer:?}");
    }
    let answer = h.get("/%2Fadmin", &[]).await;
    assert!(answer.body.starts_with("v1 /%2Fadmin "), "{answer:?}");
}
