//! The decision on the Istio global task's EnvoyFilters: who asks, with which descriptors;
//! what an answer, a failure and `failure_mode_deny` mean; the `x-ratelimit-*` headers.

use std::path::Path;

use hyper::{HeaderMap, Method, Uri};

use super::*;
use crate::document::parse_documents;
use crate::ratelimit::rls_proto::RateLimit;
use crate::resources::{parse, PatchContext, Resource};
use crate::snapshot::RateLimitFilters;

const TASK: &str = include_str!("../../tests/data/config/rate_limit/istio-global-task.yaml");

fn gateway_filters(yaml: &str) -> Vec<Arc<RateLimitFilter>> {
    let mut filters = RateLimitFilters::default();
    for raw in parse_documents(Path::new("f.yaml"), yaml).unwrap() {
        if let Some(Resource::EnvoyFilter(f)) = parse(&raw).unwrap().resource {
            filters.add(&f.metadata.namespace.clone().unwrap(), &raw.name, &f);
        }
    }
    let labels = [("istio".to_string(), "ingressgateway".to_string())];
    let labels = labels.into_iter().collect();
    filters.for_workload(
        "istio-system",
        "istio-system",
        &labels,
        PatchContext::Gateway,
    )
}

fn checks(filters: &[Arc<RateLimitFilter>], path: &str) -> Vec<GlobalCheck> {
    let headers = HeaderMap::new();
    let uri: Uri = path.parse().unwrap();
    let facts = RequestFacts {
        headers: &headers,
        remote: None,
        method: Some(&Method::GET),
        uri: Some(&uri),
    };
    let place = RequestPlace {
        port: 8080,
        vhost: Some("*:80"),
        route: None,
    };
    global_checks(filters, &place, facts)
}

#[test]
fn the_task_asks_its_domain_about_the_path() {
    let filters = gateway_filters(TASK);
    let found = checks(&filters, "/productpage");
    assert_eq!(found.len(), 1);
    let config = found[0].config();
    assert_eq!(
        config.cluster_name(),
        Some("outbound|8081||ratelimit.default.svc.cluster.local")
    );
    assert!(config.failure_mode_deny);
    assert_eq!(config.timeout(), std::time::Duration::from_secs(10));
    let request = &found[0].request;
    assert_eq!(request.domain, "ratelimit");
    let entries = &request.descriptors[0].entries;
    assert_eq!(
        (entries[0].key.as_str(), entries[0].value.as_str()),
        ("PATH", "/productpage")
    );
}

#[test]
fn no_descriptor_made_means_no_question() {
    let filter_only: String = TASK.split("---").next().unwrap().to_string();
    assert!(checks(&gateway_filters(&filter_only), "/").is_empty());
}

fn status(remaining: u32, per_unit: u32, unit: Unit, name: &str) -> DescriptorStatus {
    DescriptorStatus {
        code: Code::Ok as i32,
        current_limit: Some(RateLimit {
            requests_per_unit: per_unit,
            unit: unit as i32,
            name: name.into(),
        }),
        limit_remaining: remaining,
        duration_until_reset: Some(prost_types::Duration {
            seconds: 42,
            nanos: 0,
        }),
    }
}

fn config(yaml: &str) -> GlobalRateLimitConfig {
    serde_yaml::from_str(yaml).unwrap()
}

#[test]
fn over_limit_is_refused_with_x_envoy_ratelimited_and_the_draft_headers() {
    let config = config("{domain: d, enableXRatelimitHeaders: DRAFT_VERSION_03}");
    let response = RateLimitResponse {
        overall_code: Code::OverLimit as i32,
        statuses: vec![
            status(5, 100, Unit::Hour, ""),
            status(0, 10, Unit::Minute, "per-path"),
        ],
        ..RateLimitResponse::default()
    };
    let GlobalVerdict::OverLimit(headers) = verdict::<()>(&config, Ok(response)) else {
        panic!("not refused");
    };
    let text: Vec<String> = headers
        .iter()
        .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap()))
        .collect();
    assert_eq!(
        text,
        [
            "x-ratelimit-limit: 10, 100;w=3600, 10;w=60;name=\"per-path\"",
            "x-ratelimit-remaining: 0",
            "x-ratelimit-reset: 42",
            "x-envoy-ratelimited: true",
        ]
    );
}

#[test]
fn an_ok_answer_passes_with_the_services_headers_and_none_of_the_draft_unless_enabled() {
    let response = RateLimitResponse {
        overall_code: Code::Ok as i32,
        statuses: vec![status(3, 10, Unit::Second, "")],
        request_headers_to_add: vec![super::super::rls_proto::HeaderValue {
            key: "x-quota".into(),
            value: "gold".into(),
            raw_value: Vec::new(),
        }],
        ..RateLimitResponse::default()
    };
    let GlobalVerdict::Allowed(added) = verdict::<()>(&config("{domain: d}"), Ok(response)) else {
        panic!("not allowed");
    };
    assert_eq!(added.request.len(), 1);
    assert!(added.response.is_empty());
}

#[test]
fn a_failed_service_lets_requests_through_unless_failure_mode_deny() {
    assert_eq!(
        verdict(&config("{domain: d}"), Err::<RateLimitResponse, _>("down")),
        GlobalVerdict::FailedOpen
    );
    let deny = config("{domain: d, failureModeDeny: true}");
    assert_eq!(
        verdict(&deny, Err::<RateLimitResponse, _>("timeout")),
        GlobalVerdict::FailedClosed
    );
}
