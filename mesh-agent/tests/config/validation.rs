//! Each validation error with its exact message, and what a rejected resource leaves behind.

use crate::harness::config::{bookinfo, compile_with, documents, fixture, lines, rebuild};
use mesh_agent::document::read_documents;

#[test]
fn each_error_names_file_line_column_resource_field_and_says_why() {
    let (_, problems) = compile_with(read_documents(&fixture("invalid/errors.yaml")).unwrap());
    let file = fixture("invalid/errors.yaml").display().to_string();
    let mut got: Vec<String> = lines(&problems)
        .iter()
        .map(|l| l.replace(&file, "errors.yaml"))
        .collect();
    got.sort();
    let conflict = "is already routed by VirtualService default/reviews-a; the oldest wins (Istio merges VirtualServices only at gateways)";
    let want = [
        "errors.yaml:102:15: VirtualService/default/typo: spec.http[0].retries.attemps: unknown field (a typo?)".to_string(),
        "errors.yaml:14:11: VirtualService/default/unknown-subset: spec.hosts[0]: host reviews.default.svc.cluster.local ".to_string() + conflict,
        "errors.yaml:17:36: VirtualService/default/unknown-subset: spec.http[0].route[0].destination.subset: subset \"v3\" is not defined by DestinationRule default/reviews (subsets: v1, v2)".into(),
        "errors.yaml:26:36: VirtualService/default/no-rule: spec.http[0].route[0].destination.subset: subset \"v1\" needs a DestinationRule for host ratings.default.svc.cluster.local; there is none".into(),
        "errors.yaml:34:5: VirtualService/default/weights: spec.http[0].route: total destination weight = 0: set the weights (they are shares)".into(),
        "errors.yaml:47:13: VirtualService/default/bad-regex: spec.http[0].match[0].uri.regex: invalid regex \"(unclosed\": unclosed group".into(),
        "errors.yaml:57:5: VirtualService/default/bad-duration: spec.http[0].timeout: invalid duration \"10x\": unknown unit (use h, m, s, ms, us or ns)".into(),
        "errors.yaml:67:20: DestinationRule/default/bad-enum: spec.trafficPolicy.loadBalancer.simple: unknown value \"ROUND_ROBBIN\", expected one of \"UNSPECIFIED\", \"LEAST_CONN\", \"RANDOM\", \"PASSTHROUGH\", \"ROUND_ROBIN\", \"LEAST_REQUEST\"".into(),
        "errors.yaml:76:43: VirtualService/default/bad-port: spec.http[0].route[0].destination.port.number: port 9081 is not a port of reviews.default.svc.cluster.local (ports: 9080)".into(),
        "errors.yaml:82:11: VirtualService/default/reviews-b: spec.hosts[0]: host reviews.default.svc.cluster.local ".to_string() + conflict,
    ];
    assert_eq!(got, want);
}

const GOOD: &str = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ratings, namespace: default}\nspec:\n  hosts: [ratings]\n  http:\n  - timeout: 2s\n    route:\n    - destination: {host: ratings}\n";

#[test]
fn a_rejected_resource_never_removes_the_good_ones() {
    let mut extra = documents("good.yaml", GOOD);
    extra.extend(read_documents(&fixture("invalid/errors.yaml")).unwrap());
    let (snapshot, _) = compile_with(extra);
    assert!(snapshot.routes("ratings", 9080, "default").is_some());
    let reviews = snapshot.routes("reviews", 9080, "default").unwrap();
    assert_eq!(
        reviews.virtual_service, "default/reviews-a",
        "the oldest of the conflict serves"
    );
    assert!(
        snapshot.routes("b.example.com", 80, "default").is_none(),
        "bad duration rejected"
    );
    let rejected: Vec<&str> = snapshot
        .rejected()
        .iter()
        .map(|r| r.resource.as_str())
        .collect();
    assert!(
        rejected.contains(&"VirtualService/default/bad-duration"),
        "{rejected:?}"
    );
}

#[test]
fn a_resource_that_turns_bad_keeps_its_last_good_version_until_deleted() {
    let (first, _) = compile_with(documents("vs.yaml", GOOD));
    let bad = GOOD.replace("timeout: 2s", "timeout: 2 seconds");
    let mut set = bookinfo();
    set.extend(documents("vs.yaml", &bad));
    let (second, problems) = rebuild(set, &first);
    assert_eq!(problems.len(), 1, "{:?}", lines(&problems));
    let table = second
        .routes("ratings", 9080, "default")
        .expect("last good version serves");
    assert_eq!(table.http[0].timeout.as_ref().unwrap().value.as_secs(), 2);
    assert!(second.rejected()[0].previous_version_serves);
    let (third, problems) = rebuild(bookinfo(), &second);
    assert!(problems.is_empty());
    assert!(
        third.routes("ratings", 9080, "default").is_none(),
        "deleted means gone"
    );
}

#[test]
fn a_reference_that_breaks_keeps_the_last_good_version() {
    let dr = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ratings, namespace: default}\nspec:\n  host: ratings\n  subsets: [{name: v1, labels: {version: v1}}]\n";
    let vs = GOOD.replace("{host: ratings}", "{host: ratings, subset: v1}");
    let mut first_set = documents("dr.yaml", dr);
    first_set.extend(documents("vs.yaml", &vs));
    let (first, problems) = compile_with(first_set);
    assert!(problems.is_empty(), "{:?}", lines(&problems));
    let vs_v2 = vs.replace("subset: v1", "subset: v2");
    let mut set = bookinfo();
    set.extend(documents("dr.yaml", dr));
    set.extend(documents("vs.yaml", &vs_v2));
    let (second, problems) = rebuild(set, &first);
    assert_eq!(problems.len(), 1, "{:?}", lines(&problems));
    let route = &second.routes("ratings", 9080, "default").unwrap().http[0].route[0];
    assert_eq!(route.destination.subset.as_deref(), Some("v1"));
}

#[test]
fn export_to_dot_hides_routes_from_other_namespaces() {
    let hidden = GOOD.replace("spec:\n", "spec:\n  exportTo: [\".\"]\n");
    let (snapshot, _) = compile_with(documents("vs.yaml", &hidden));
    let host = "ratings.default.svc.cluster.local";
    assert!(snapshot.routes(host, 9080, "default").is_some());
    assert!(snapshot.routes(host, 9080, "other").is_none());
}

#[test]
fn an_unsupported_api_version_is_an_error() {
    let text = GOOD.replace("networking.istio.io/v1", "networking.istio.io/v2");
    let (_, problems) = compile_with(documents("v.yaml", &text));
    assert_eq!(
        lines(&problems),
        ["v.yaml:1:1: VirtualService/default/ratings: apiVersion: unsupported version \"v2\" of networking.istio.io (use v1alpha3, v1beta1, v1)"]
    );
}
