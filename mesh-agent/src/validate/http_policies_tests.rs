//! Each policy rule of an HTTP rule with a valid and an invalid case.

use super::*;
use crate::resources::HttpRoute;
use crate::validate::finding::table::{lines, spec};

/// The findings of the policies of the rule written in `yaml`.
fn found(yaml: &str) -> Vec<String> {
    let rule: HttpRoute = spec(yaml);
    let mut found = Findings::default();
    if let Some(retry) = &rule.retries {
        retries(&mut found, "r.retries", retry);
    }
    if let Some(f) = &rule.fault {
        fault(&mut found, "r.fault", f);
    }
    if let Some(policy) = &rule.cors_policy {
        cors(&mut found, "r.corsPolicy", policy);
    }
    if let Some(headers) = &rule.headers {
        header_edits(&mut found, "r.headers", headers);
    }
    lines(&found)
}

#[test]
fn valid_policies_pass() {
    let yaml = "retries: {attempts: 3, perTryTimeout: 2s, retryOn: '5xx,connect-failure,503,unavailable,retriable-status-codes'}\n\
                fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 0.0001}}, delay: {fixedDelay: 5s, percentage: {value: 0}}}\n\
                corsPolicy: {allowOrigins: [{exact: 'https://a.example'}, {regex: '.*'}], allowMethods: [GET, POST], allowHeaders: ['*', x-token], maxAge: 24h}\n\
                headers: {request: {set: {':authority': a.example, x-a: 'v\t1'}, remove: [x-b]}, response: {add: {x-c: c}}}\n";
    assert_eq!(found(yaml), Vec::<String>::new());
}

#[test]
fn retry_conditions_come_from_envoy_s_list() {
    let yaml = "retries: {attempts: 2, retryOn: '5xx,bogus-condition, reset,999,'}\n";
    assert_eq!(
        found(yaml),
        [
            "r.retries.retryOn: \"bogus-condition\" is not a valid retryOn condition",
            "r.retries.retryOn: \" reset\" is not a valid retryOn condition",
            "r.retries.retryOn: \"999\" is not a valid retryOn condition",
            "r.retries.retryOn: \"\" is not a valid retryOn condition",
        ]
    );
}

#[test]
fn a_retry_condition_the_mesh_does_not_act_on_is_warned_about_at_load() {
    let yaml = "retries: {attempts: 2, retryOn: '5xx,retriable-headers'}\n";
    assert_eq!(
        found(yaml),
        [format!(
            "r.retries.retryOn: warning: \"retriable-headers\" is not acted on by the mesh: {READ_AS_DEFAULT}"
        )]
    );
    assert_eq!(
        unread_retry_on("5xx, retriable-headers"),
        Some("retriable-headers")
    );
    assert_eq!(unread_retry_on("gateway-error,nonsense"), Some("nonsense"));
    assert_eq!(unread_retry_on(" 503, reset,,unavailable "), None);
}

#[test]
fn retries_need_attempts_and_a_millisecond() {
    let yaml = "retries: {perTryTimeout: 500us, retryOn: 5xx}\n";
    assert_eq!(
        found(yaml),
        [
            "r.retries: retry policy configured while attempts is 0 (retries disabled)",
            "r.retries.perTryTimeout: 500us is shorter than 1ms",
        ]
    );
}

#[test]
fn faults_take_one_kind_of_abort_and_of_delay() {
    let cases = [
        ("fault: {}\n", vec!["r.fault: fault injection must have an abort and/or a delay"]),
        (
            "fault: {abort: {httpStatus: 503, grpcStatus: UNAVAILABLE}}\n",
            vec!["r.fault.abort: set only one of httpStatus, grpcStatus or http2Error"],
        ),
        (
            "fault: {abort: {grpcStatus: NOPE, percentage: {value: 0.00001}}}\n",
            vec![
                "r.fault.abort.percentage.value: 0.00001 is neither 0 nor at least 0.0001",
                "r.fault.abort.grpcStatus: gRPC status \"NOPE\" is not supported (a name such as NOT_FOUND)",
            ],
        ),
        (
            "fault: {abort: {percentage: {value: 1}}}\n",
            vec!["r.fault.abort: warning: abort configured, but error type not set"],
        ),
        (
            "fault: {delay: {fixedDelay: 1s, exponentialDelay: 1s}}\n",
            vec![
                "r.fault.delay: set only one of fixedDelay or exponentialDelay",
                "r.fault.delay.exponentialDelay: exponentialDelay is not supported (Istio)",
            ],
        ),
        (
            "fault: {abort: {http2Error: x}, delay: {fixedDelay: 0s}}\n",
            vec![
                "r.fault.abort.http2Error: HTTP/2 abort fault injection is not supported (Istio)",
                "r.fault.delay.fixedDelay: 0s is shorter than 1ms",
            ],
        ),
    ];
    for (yaml, want) in cases {
        assert_eq!(found(yaml), want, "{yaml}");
    }
}

#[test]
fn cors_policies_name_origins_methods_headers_and_whole_seconds() {
    let yaml = "corsPolicy: {allowOrigins: [{exact: ''}], allowMethods: [get], exposeHeaders: ['x y'], maxAge: 1500ms}\n";
    assert_eq!(
        found(yaml),
        [
            "r.corsPolicy.allowOrigins[0]: an allowed origin needs a non-empty exact, prefix or regex",
            "r.corsPolicy.allowMethods[0]: \"get\" is not a supported HTTP method",
            "r.corsPolicy.exposeHeaders[0]: \"x y\" is not a valid header name",
            "r.corsPolicy.maxAge: maxAge is accurate only to seconds",
        ]
    );
}

#[test]
fn header_edits_leave_pseudo_headers_and_host_alone() {
    let yaml = "headers:\n  request: {add: {':path': /x, x-a: \"a\\nb\"}, remove: [Host, '']}\n  response: {set: {host: h}}\n";
    assert_eq!(
        found(yaml),
        [
            "r.headers.request.add.:path: invalid header \":path\": header cannot have \":\" prefix",
            "r.headers.request.add.x-a: header value has control characters",
            "r.headers.request.remove[0]: invalid header \"Host\": cannot set Host header",
            "r.headers.request.remove[1]: header name cannot be empty",
            "r.headers.response.set.host: invalid header \"host\": cannot set Host header",
        ]
    );
}
