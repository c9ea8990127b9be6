//! The decision on the Istio task's EnvoyFilters: the filter's bucket, a route's bucket and
//! descriptors per header value, enabled and enforced fractions.

use std::path::Path;

use hyper::HeaderMap;

use super::*;
use crate::chance::Chance;
use crate::document::parse_documents;
use crate::resources::{parse, PatchContext, Resource};
use crate::snapshot::RateLimitFilters;

const TASK: &str = include_str!("../../tests/data/config/rate_limit/istio-task.yaml");

fn limits(yaml: &str, app: &str) -> LocalRateLimits {
    let mut filters = RateLimitFilters::default();
    for raw in parse_documents(Path::new("f.yaml"), yaml).unwrap() {
        if let Some(Resource::EnvoyFilter(f)) = parse(&raw).unwrap().resource {
            filters.add(&f.metadata.namespace.clone().unwrap(), &raw.name, &f);
        }
    }
    let labels = [("app".to_string(), app.to_string())].into_iter().collect();
    let side = PatchContext::SidecarInbound;
    LocalRateLimits {
        instance: format!("default/{app}-0").into(),
        filters: filters.for_workload("istio-system", "default", &labels, side),
    }
}

fn place() -> RequestPlace<'static> {
    RequestPlace {
        port: 9080,
        vhost: Some("inbound|http|9080"),
        route: None,
    }
}

/// How many of `n` requests with `headers` pass.
fn passed(limits: &LocalRateLimits, buckets: &Buckets, n: usize, user: Option<&str>) -> usize {
    let mut headers = HeaderMap::new();
    if let Some(user) = user {
        headers.insert("x-user", user.parse().unwrap());
    }
    let facts = RequestFacts {
        headers: &headers,
        remote: None,
        method: None,
        uri: None,
    };
    let chance = Chance::seeded(1);
    let refused = |v: &Verdict| matches!(v, Verdict::Limited(l) if l.enforced);
    (0..n)
        .filter(|_| {
            !limits
                .check(&place(), facts, buckets, &chance)
                .iter()
                .any(refused)
        })
        .count()
}

#[tokio::test(start_paused = true)]
async fn the_task_s_filter_passes_four_a_minute_per_pod() {
    let productpage = limits(TASK, "productpage");
    let buckets = Buckets::default();
    assert_eq!(passed(&productpage, &buckets, 10, None), 4);
    let headers = HeaderMap::new();
    let facts = RequestFacts {
        headers: &headers,
        remote: None,
        method: None,
        uri: None,
    };
    let verdicts = productpage.check(&place(), facts, &buckets, &Chance::seeded(1));
    let Some(Verdict::Limited(limited)) = verdicts.first() else {
        panic!("{verdicts:?}")
    };
    assert_eq!(limited.status, 429);
    assert_eq!(limited.response_headers[0].0, "x-local-rate-limit");
    let other_pod = LocalRateLimits {
        instance: "default/productpage-1".into(),
        ..productpage.clone()
    };
    assert_eq!(
        passed(&other_pod, &buckets, 10, None),
        4,
        "a bucket per pod"
    );
    tokio::time::advance(std::time::Duration::from_secs(60)).await;
    assert_eq!(
        passed(&productpage, &buckets, 10, None),
        4,
        "refilled after fill_interval"
    );
    assert!(limits(TASK, "ratings").is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_route_s_descriptor_limits_one_header_value_and_the_route_bucket_the_rest() {
    let reviews = limits(TASK, "reviews");
    let buckets = Buckets::default();
    assert_eq!(
        passed(&reviews, &buckets, 5, Some("alice")),
        2,
        "alice's descriptor"
    );
    assert_eq!(
        passed(&reviews, &buckets, 20, Some("bob")),
        8,
        "10 in the route's bucket"
    );
    let elsewhere = RequestPlace {
        vhost: Some("inbound|http|8080"),
        port: 8080,
        route: None,
    };
    let headers = HeaderMap::new();
    let facts = RequestFacts {
        headers: &headers,
        remote: None,
        method: None,
        uri: None,
    };
    let verdicts = reviews.check(&elsewhere, facts, &buckets, &Chance::seeded(1));
    assert!(
        verdicts.is_empty(),
        "the filter alone has no bucket: {verdicts:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn without_filter_enabled_nothing_is_checked_and_not_enforced_only_counts() {
    let not_enabled = TASK.replace(
        "numerator: 100\n                  denominator: HUNDRED\n              filter_enforced",
        "numerator: 0\n                  denominator: HUNDRED\n              filter_enforced",
    );
    let buckets = Buckets::default();
    assert_eq!(
        passed(&limits(&not_enabled, "productpage"), &buckets, 10, None),
        10
    );
    let not_enforced = TASK.replace("runtime_key: local_rate_limit_enforced\n                default_value:\n                  numerator: 100", "runtime_key: local_rate_limit_enforced\n                default_value:\n                  numerator: 0");
    let limits = limits(&not_enforced, "productpage");
    assert_eq!(passed(&limits, &buckets, 10, None), 10);
    let headers = HeaderMap::new();
    let facts = RequestFacts {
        headers: &headers,
        remote: None,
        method: None,
        uri: None,
    };
    let verdicts = limits.check(&place(), facts, &buckets, &Chance::seeded(1));
    assert!(
        matches!(&verdicts[..], [Verdict::Limited(l)] if !l.enforced),
        "{verdicts:?}"
    );
}
