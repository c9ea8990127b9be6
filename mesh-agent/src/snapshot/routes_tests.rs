//! Table tests of which rules bind where: match-level `gateways` written as short names resolve
//! in the VirtualService's namespace, `mesh` means the mesh's own clients.

use std::path::Path;
use std::sync::Arc;

use crate::snapshot::{build, RouteTable, Snapshot};

const GATEWAY: &str = "apiVersion: networking.istio.io/v1\nkind: Gateway\n\
metadata: {name: ingress, namespace: edge}\nspec:\n  selector: {istio: ingressgateway}\n\
\x20 servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n---\n";

fn snapshot(rules: &str) -> Snapshot {
    let vs = format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\n\
         metadata: {{name: app, namespace: edge}}\nspec:\n  hosts: [app.example.com]\n\
         \x20 gateways: [ingress, mesh]\n  http:\n{rules}"
    );
    let yaml = format!("{GATEWAY}{vs}");
    let documents = crate::document::parse_documents(Path::new("t.yaml"), &yaml).unwrap();
    build(&Arc::new(documents), None).0
}

fn rule(name: &str, gateways: &str) -> String {
    format!(
        "  - name: {name}\n    match: [{{gateways: {gateways}}}]\n\
         \x20   route: [{{destination: {{host: {name}.edge.svc.cluster.local}}}}]\n"
    )
}

fn names(table: Option<&Arc<RouteTable>>) -> Vec<String> {
    let rules = table.map(|t| t.http.clone()).unwrap_or_default();
    rules.into_iter().filter_map(|r| r.name).collect()
}

#[test]
fn match_level_gateways_bind_by_short_name_full_name_and_mesh() {
    let rules = rule("short", "[ingress]")
        + &rule("full", "[edge/ingress]")
        + &rule("mesh", "[mesh]")
        + &rule("elsewhere", "[other/ingress]")
        + &rule("both", "[ingress, mesh]");
    let snapshot = snapshot(&rules);
    let at_gateway = snapshot.gateway_routes("edge/ingress", "app.example.com", 80);
    assert_eq!(names(at_gateway), ["short", "full", "both"]);
    let in_mesh = snapshot.routes("app.example.com", 80, "edge");
    assert_eq!(names(in_mesh), ["mesh", "both"]);
}

#[test]
fn match_level_short_names_are_kept_resolved_for_request_matching() {
    let snapshot = snapshot(&rule("short", "[ingress]"));
    let table = snapshot.gateway_routes("edge/ingress", "app.example.com", 80);
    let rule = &table.expect("gateway routes").http[0];
    // Request-time matching compares with the gateway key the request came through.
    assert_eq!(rule.matches[0].gateways, ["edge/ingress"]);
}
