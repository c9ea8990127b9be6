//! Every source, operation and `when` kind against a peer with and without an identity.

use hyper::header::HeaderValue;
use hyper::HeaderMap;

use super::*;
use crate::authz::snapshot_of;

/// The first rule of an ALLOW policy of namespace `shop` with `rule`.
fn rule_of(rule: &str) -> AuthzRule {
    let yaml = format!(
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n\
         metadata: {{name: p, namespace: shop}}\nspec: {{rules: [{rule}]}}\n"
    );
    let snapshot = snapshot_of(&yaml);
    snapshot.authz_policies("shop")[0].rules[0].clone()
}

fn cart() -> Identity {
    Identity::parse("spiffe://cluster.local/ns/shop/sa/cart").unwrap()
}

fn matches(rule: &str, peer: Option<&Identity>, http: bool) -> bool {
    let mut headers = HeaderMap::new();
    headers.insert("x-team", HeaderValue::from_static("blue"));
    let facts = AuthzFacts {
        peer,
        source_ip: "10.244.2.7".parse().unwrap(),
        remote_ip: "10.244.2.7".parse().unwrap(),
        destination: "10.244.1.5:8080".parse().unwrap(),
        sni: Some("web.shop.svc"),
        http: http.then_some(HttpFacts {
            method: "GET",
            host: "Web.Shop:80",
            path: "/api/v1/items",
            headers: &headers,
            auth: None,
        }),
    };
    rule_matches(&rule_of(rule), AuthzAction::Allow, &facts)
}

#[test]
fn sources_match_the_authenticated_peer_and_addresses() {
    let id = cart();
    let cases = [
        (
            "{from: [{source: {principals: [cluster.local/ns/shop/sa/cart]}}]}",
            true,
            false,
        ),
        (
            "{from: [{source: {principals: ['*/sa/cart']}}]}",
            true,
            false,
        ),
        ("{from: [{source: {principals: ['*']}}]}", true, false),
        ("{from: [{source: {notPrincipals: ['*']}}]}", false, true),
        ("{from: [{source: {namespaces: [shop]}}]}", true, false),
        ("{from: [{source: {namespaces: ['sh*']}}]}", true, false),
        ("{from: [{source: {notNamespaces: [shop]}}]}", false, true),
        ("{from: [{source: {serviceAccounts: [cart]}}]}", true, false),
        (
            "{from: [{source: {serviceAccounts: [bank/cart]}}]}",
            false,
            false,
        ),
        (
            "{from: [{source: {ipBlocks: [10.244.2.0/24]}}]}",
            true,
            true,
        ),
        (
            "{from: [{source: {notIpBlocks: [10.244.2.7]}}]}",
            false,
            false,
        ),
        (
            "{from: [{source: {remoteIpBlocks: [10.244.0.0/16]}}]}",
            true,
            true,
        ),
        (
            "{from: [{source: {requestPrincipals: ['*']}}]}",
            false,
            false,
        ),
        (
            "{from: [{source: {notRequestPrincipals: ['*']}}]}",
            true,
            true,
        ),
        (
            "{from: [{source: {namespaces: [bank]}}, {source: {ipBlocks: [10.0.0.0/8]}}]}",
            true,
            true,
        ),
    ];
    for (rule, with_identity, without) in cases {
        assert_eq!(
            matches(rule, Some(&id), true),
            with_identity,
            "{rule} with identity"
        );
        assert_eq!(
            matches(rule, None, true),
            without,
            "{rule} without identity"
        );
    }
}

#[test]
fn operations_match_the_request() {
    let cases = [
        ("{to: [{operation: {hosts: [web.shop:80]}}]}", true),
        ("{to: [{operation: {hosts: ['WEB.*']}}]}", true),
        ("{to: [{operation: {notHosts: ['*:80']}}]}", false),
        ("{to: [{operation: {ports: ['8080']}}]}", true),
        ("{to: [{operation: {notPorts: ['8080']}}]}", false),
        ("{to: [{operation: {methods: [GET, HEAD]}}]}", true),
        ("{to: [{operation: {methods: [get]}}]}", false),
        ("{to: [{operation: {notMethods: [POST]}}]}", true),
        ("{to: [{operation: {paths: ['/api/{*}/items']}}]}", true),
        (
            "{to: [{operation: {paths: ['/api/*'], notPaths: ['*/items']}}]}",
            false,
        ),
        (
            "{to: [{operation: {ports: ['9090']}}, {operation: {methods: [GET]}}]}",
            true,
        ),
        (
            "{to: [{operation: {ports: ['9090'], methods: [GET]}}]}",
            false,
        ),
    ];
    for (rule, want) in cases {
        assert_eq!(matches(rule, None, true), want, "{rule}");
    }
}

#[test]
fn conditions_test_their_attribute() {
    let id = cart();
    let cases = [
        ("request.headers[x-team]", "values: [blue]", true),
        ("request.headers[x-team]", "values: ['bl*']", true),
        ("request.headers[x-team]", "notValues: [blue]", false),
        ("request.headers[x-other]", "values: ['*']", false),
        ("request.headers[x-other]", "notValues: [x]", true),
        ("source.ip", "values: [10.244.2.0/24]", true),
        ("remote.ip", "notValues: [10.244.2.7]", false),
        ("destination.ip", "values: [10.244.1.5]", true),
        ("destination.port", "values: ['8080']", true),
        ("source.namespace", "values: [shop]", true),
        (
            "source.principal",
            "values: [cluster.local/ns/shop/sa/cart]",
            true,
        ),
        ("source.serviceAccount", "values: [cart]", true),
        ("source.serviceAccount", "values: [bank/cart]", false),
        ("connection.sni", "values: ['*.shop.svc']", true),
        ("request.auth.principal", "values: ['*']", false),
        ("request.auth.claims[groups]", "notValues: [admin]", true),
    ];
    for (key, values, want) in cases {
        let rule = format!("{{when: [{{key: '{key}', {values}}}]}}");
        assert_eq!(matches(&rule, Some(&id), true), want, "{rule}");
    }
}

#[test]
fn an_allow_rule_naming_http_fields_never_matches_tcp() {
    let cases = [
        ("{to: [{operation: {ports: ['8080']}}]}", true),
        (
            "{to: [{operation: {ports: ['8080'], paths: ['/api/*']}}]}",
            false,
        ),
        (
            "{from: [{source: {requestPrincipals: ['*']}}, {source: {ipBlocks: [10.0.0.0/8]}}]}",
            false,
        ),
        (
            "{when: [{key: 'request.headers[x-team]', values: [blue]}]}",
            false,
        ),
        (
            "{when: [{key: connection.sni, values: [web.shop.svc]}]}",
            true,
        ),
    ];
    for (rule, want) in cases {
        assert_eq!(matches(rule, None, false), want, "{rule}");
    }
}

#[test]
fn request_principals_and_request_auth_read_the_verified_token() {
    let auth = RequestAuth {
        principal: "https://issuer.example/alice".into(),
        audiences: vec!["shop".into()],
        presenter: Some("web".into()),
        claims: serde_json::json!({"groups": ["dev", "ops"], "org": {"team": "mesh"}}),
    };
    let headers = HeaderMap::new();
    let with = |auth: Option<&RequestAuth>, rule: &str| {
        let facts = AuthzFacts {
            peer: None,
            source_ip: "10.244.2.7".parse().unwrap(),
            remote_ip: "10.244.2.7".parse().unwrap(),
            destination: "10.244.1.5:8080".parse().unwrap(),
            sni: None,
            http: Some(HttpFacts {
                method: "GET",
                host: "web",
                path: "/",
                headers: &headers,
                auth,
            }),
        };
        rule_matches(&rule_of(rule), AuthzAction::Allow, &facts)
    };
    let cases = [
        (
            "{from: [{source: {requestPrincipals: ['https://issuer.example/*']}}]}",
            true,
            false,
        ),
        (
            "{from: [{source: {notRequestPrincipals: ['*']}}]}",
            false,
            true,
        ),
        (
            "{when: [{key: 'request.auth.claims[groups]', values: [ops]}]}",
            true,
            false,
        ),
        (
            "{when: [{key: 'request.auth.claims[org][team]', values: [mesh]}]}",
            true,
            false,
        ),
        (
            "{when: [{key: request.auth.audiences, values: [shop]}]}",
            true,
            false,
        ),
        (
            "{when: [{key: request.auth.presenter, values: [web]}]}",
            true,
            false,
        ),
        (
            "{when: [{key: 'request.auth.claims[groups]', notValues: [dev]}]}",
            false,
            true,
        ),
    ];
    for (rule, verified, anonymous) in cases {
        assert_eq!(
            (with(Some(&auth), rule), with(None, rule)),
            (verified, anonymous),
            "{rule}"
        );
    }
}
