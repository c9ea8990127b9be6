//! Table tests of request matching.

use hyper::{HeaderMap, Method, Uri};

use super::matching::*;
use crate::resources::{HttpMatch, HttpRoute};
use crate::snapshot::Labels;

fn rule(yaml: &str) -> HttpRoute {
    serde_yaml::from_str(yaml).unwrap()
}

fn http_match(yaml: &str) -> HttpMatch {
    serde_yaml::from_str(yaml).unwrap()
}

struct Req {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    labels: Labels,
}

impl Req {
    fn new(method: &str, uri: &str, headers: &[(&str, &str)]) -> Self {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                hyper::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        let labels = [("app", "sleep"), ("version", "v1")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into();
        Self {
            method: method.parse().unwrap(),
            uri: uri.parse().unwrap(),
            headers: map,
            labels,
        }
    }

    fn facts(&self) -> MatchInput<'_> {
        MatchInput {
            method: &self.method,
            uri: &self.uri,
            headers: &self.headers,
            port: 80,
            source_labels: Some(&self.labels),
            source_namespace: Some("shop"),
            gateway: "mesh",
        }
    }
}

fn get(uri: &str) -> Req {
    Req::new("GET", uri, &[("host", "web.shop")])
}

#[test]
fn match_table() {
    let mobile = [
        ("host", "web"),
        ("user-agent", "Mozilla (iPhone) Mobile/15"),
    ];
    let cases: Vec<(&str, Req, bool)> = vec![
        ("{uri: {exact: /a}}", get("/a"), true),
        ("{uri: {exact: /a}}", get("/a/b"), false),
        ("{uri: {exact: /a}}", get("/a?x=1"), true),
        ("{uri: {prefix: /a}}", get("/a/b"), true),
        ("{uri: {prefix: /a}}", get("/b"), false),
        ("{uri: {regex: '/v[0-9]+/.*'}}", get("/v2/x"), true),
        ("{uri: {regex: '/v[0-9]+'}}", get("/v2/x"), false),
        ("{uri: {exact: /A}, ignoreUriCase: true}", get("/a"), true),
        (
            "{uri: {prefix: /API}, ignoreUriCase: true}",
            get("/api/x"),
            true,
        ),
        ("{uri: {exact: /A}}", get("/a"), false),
        ("{method: {exact: POST}}", get("/"), false),
        ("{method: {regex: 'GET|HEAD'}}", get("/"), true),
        ("{authority: {exact: web.shop}}", get("/"), true),
        ("{authority: {prefix: api}}", get("/"), false),
        (
            "{headers: {user-agent: {regex: '.*Mobile.*'}}}",
            Req::new("GET", "/", &mobile),
            true,
        ),
        (
            "{headers: {user-agent: {regex: '.*Mobile.*'}}}",
            get("/"),
            false,
        ),
        (
            "{headers: {end-user: {}}}",
            Req::new("GET", "/", &[("end-user", "x")]),
            true,
        ),
        ("{headers: {end-user: {}}}", get("/"), false),
        (
            "{withoutHeaders: {end-user: {exact: jason}}}",
            get("/"),
            true,
        ),
        (
            "{withoutHeaders: {end-user: {exact: jason}}}",
            Req::new("GET", "/", &[("end-user", "jason")]),
            false,
        ),
        ("{queryParams: {v: {exact: '2'}}}", get("/?a=1&v=2"), true),
        ("{queryParams: {v: {exact: '2'}}}", get("/?v=3"), false),
        ("{queryParams: {v: {regex: '[0-9]'}}}", get("/?v=7"), true),
        ("{queryParams: {v: {}}}", get("/?v"), true),
        ("{port: 80}", get("/"), true),
        ("{port: 8080}", get("/"), false),
        ("{sourceLabels: {app: sleep}}", get("/"), true),
        ("{sourceLabels: {app: sleep, version: v2}}", get("/"), false),
        ("{sourceNamespace: shop}", get("/"), true),
        ("{sourceNamespace: other}", get("/"), false),
        ("{gateways: [mesh]}", get("/"), true),
        ("{gateways: [istio-system/ingress]}", get("/"), false),
        ("{uri: {prefix: /}, method: {exact: GET}}", get("/x"), true),
        ("{uri: {prefix: /}, method: {exact: PUT}}", get("/x"), false),
    ];
    for (yaml, request, want) in cases {
        assert_eq!(matches(&http_match(yaml), &request.facts()), want, "{yaml}");
    }
}

#[test]
fn repeated_headers_match_joined() {
    let request = Req::new("GET", "/", &[("x-tag", "a"), ("x-tag", "b")]);
    assert!(matches(
        &http_match("{headers: {x-tag: {exact: 'a,b'}}}"),
        &request.facts()
    ));
}

#[test]
fn any_match_of_a_rule_and_the_first_rule_win() {
    let rules = [
        rule("{match: [{uri: {exact: /login}}, {uri: {prefix: /auth}}], route: []}"),
        rule("{match: [{uri: {prefix: /}}], route: []}"),
        rule("{route: []}"),
    ];
    assert_eq!(first_match(&rules, &get("/auth/x").facts()), Some(0));
    assert_eq!(first_match(&rules, &get("/login").facts()), Some(0));
    assert_eq!(first_match(&rules, &get("/other").facts()), Some(1));
    assert_eq!(first_match(&rules[..1], &get("/other").facts()), None);
    assert_eq!(first_match(&rules[2..], &get("/x").facts()), Some(0));
}

#[test]
fn http2_authority_comes_from_the_uri() {
    let request = Req::new("GET", "http://api.shop:8080/x", &[]);
    assert_eq!(request.facts().authority(), Some("api.shop:8080"));
}
