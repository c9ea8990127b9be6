//! Each HTTP rule rule with a valid and an invalid case.

use super::*;
use crate::validate::finding::table::{lines, spec};

fn found(yaml: &str, delegate: bool) -> Vec<String> {
    let rule: HttpRoute = spec(yaml);
    let mut found = Findings::default();
    http_route(&mut found, "r", &rule, delegate);
    lines(&found)
}

#[test]
fn rules_that_route_redirect_or_answer_pass() {
    let good = [
        "route: [{destination: {host: a}, weight: 90}, {destination: {host: b}, weight: 20}]\ntimeout: 2s\n\
         rewrite: {uriRegexRewrite: {match: '^/a(.*)', rewrite: '/b\\1'}}\nmirrors: [{destination: {host: c}}]\n",
        "redirect: {derivePort: FROM_REQUEST_PORT}\n",
        "directResponse: {status: 503, body: {string: down}}\nheaders: {request: {set: {host: x}}}\n",
        "delegate: {name: child}\n",
    ];
    for yaml in good {
        assert_eq!(found(yaml, false), Vec::<String>::new(), "{yaml}");
    }
}

#[test]
fn route_redirect_and_direct_response_exclude_one_another() {
    let cases = [
        ("match: [{uri: {prefix: /}}]\n", vec!["r: a rule needs a route, a redirect or a directResponse"]),
        (
            "redirect: {uri: /b}\nroute: [{destination: {host: a}}]\nfault: {abort: {httpStatus: 500}}\n",
            vec![
                "r.route: a rule cannot set both redirect and route",
                "r.fault: a rule cannot set both redirect and fault",
            ],
        ),
        (
            "redirect: {uri: /b}\ndirectResponse: {status: 200}\n",
            vec!["r.directResponse: a rule cannot set both redirect and directResponse"],
        ),
        (
            "directResponse: {status: 200}\nrewrite: {uri: /}\n",
            vec!["r.rewrite: a rule cannot set both directResponse and rewrite"],
        ),
        (
            "route: [{destination: {host: a}}]\nmirror: {host: b}\nmirrors: [{destination: {host: c}}]\n",
            vec!["r.mirrors: a rule cannot set both mirror and mirrors"],
        ),
        ("delegate: {name: c}\nredirect: {uri: /}\n", vec!["r.redirect: a rule with delegate must not set redirect"]),
    ];
    for (yaml, want) in cases {
        assert_eq!(found(yaml, false), want, "{yaml}");
    }
    assert_eq!(
        found(
            "delegate: {name: c}\nroute: [{destination: {host: a}}]\n",
            true
        ),
        ["r.delegate: a delegate VirtualService's rule cannot delegate again"]
    );
}

#[test]
fn redirects_rewrites_and_bodies() {
    let big = "x".repeat(BODY_MAX + 1);
    let cases = [
        ("redirect: {redirectCode: 301}\n", vec!["r.redirect: a redirect must set uri, authority, scheme or port"]),
        ("redirect: {scheme: ftp}\n", vec!["r.redirect.scheme: invalid redirect scheme \"ftp\": use \"http\" or \"https\""]),
        (
            "route: [{destination: {host: a}}]\nrewrite: {uri: /v2, uriRegexRewrite: {match: '^/v1', rewrite: /v2}}\n",
            vec!["r.rewrite: rewrite may only contain one of uri or uriRegexRewrite"],
        ),
        ("route: [{destination: {host: a}}]\nrewrite: {}\n", vec!["r.rewrite: rewrite must set uri, uriRegexRewrite or authority"]),
        (
            "route: [{destination: {host: a}}]\nrewrite: {uriRegexRewrite: {match: '^/v1'}}\n",
            vec!["r.rewrite.uriRegexRewrite: uriRegexRewrite needs both match and rewrite"],
        ),
        (
            "route: [{destination: {host: a}}]\nrewrite: {authority: b}\nheaders: {request: {set: {':authority': c}}}\n",
            vec!["r.headers.request.set.:authority: the authority is already rewritten: set it in one place only"],
        ),
    ];
    for (yaml, want) in cases {
        assert_eq!(found(yaml, false), want, "{yaml}");
    }
    let body = format!("directResponse: {{status: 200, body: {{string: {big}}}}}\n");
    assert_eq!(
        found(&body, false),
        ["r.directResponse.body: a direct response body must be under 1MB"]
    );
}

#[test]
fn destinations_weights_and_timeouts() {
    let yaml = "route: [{destination: {host: a}}, {destination: {host: '*'}, headers: {response: {remove: [':status']}}}]\n\
                mirror_percent: 5\nmirror: {host: ''}\ntimeout: 0s\n";
    assert_eq!(
        found(yaml, false),
        [
            "r.mirrorPercent: warning: deprecated: use mirrorPercentage",
            "r.mirror.host: destination host is required",
            "r.route[1].destination.host: invalid destination host *",
            "r.route[1].headers.response.remove[0]: invalid header \":status\": header cannot have \":\" prefix",
            "r.route: total destination weight = 0: set the weights (they are shares)",
            "r.timeout: 0s is shorter than 1ms",
        ]
    );
}
