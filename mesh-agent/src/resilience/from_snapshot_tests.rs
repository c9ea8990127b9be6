use serde_json::json;

use super::*;
use crate::resilience::outcome::Outcome;
use crate::resources::MeshConfig;

fn outlier(spec: serde_json::Value) -> OutlierPolicy {
    outlier_policy(&serde_json::from_value(spec).unwrap())
}

fn route(spec: serde_json::Value) -> HttpRoute {
    serde_json::from_value(spec).unwrap()
}

#[test]
fn consecutive_errors_counts_gateway_errors_only() {
    let table = [
        (json!({"consecutiveErrors": 1}), None, Some(1)),
        (json!({"consecutive5xxErrors": 2}), Some(2), None),
        (
            json!({"consecutiveErrors": 1, "consecutive5xxErrors": 3}),
            Some(3),
            Some(1),
        ),
        (json!({"consecutiveGatewayErrors": 4}), Some(5), Some(4)),
        (json!({"consecutive5xxErrors": 0}), None, None),
        (json!({}), Some(5), None),
    ];
    for (spec, five, gateway) in table {
        let policy = outlier(spec.clone());
        assert_eq!(
            (policy.consecutive_5xx, policy.consecutive_gateway),
            (five, gateway),
            "{spec}"
        );
    }
}

#[test]
fn outlier_times_and_percentages_are_read() {
    let policy = outlier(json!({"interval": "1s", "baseEjectionTime": "3m",
        "maxEjectionPercent": 50, "minHealthPercent": 20,
        "splitExternalLocalOriginErrors": true, "consecutiveLocalOriginFailures": 2}));
    assert_eq!(policy.interval, Duration::from_secs(1));
    assert_eq!(policy.base_ejection_time, Duration::from_secs(180));
    assert_eq!(
        (policy.max_ejection_percent, policy.min_health_percent),
        (50, 20)
    );
    assert!(policy.split_external_local_origin_errors);
    assert_eq!(policy.consecutive_local_origin, Some(2));
}

#[test]
fn route_retries_override_the_mesh_default() {
    let mesh = MeshConfig::default().default_http_retry_policy;
    let none = retry_policy(Some(&route(json!({}))), &mesh);
    assert_eq!(none.attempts, 2);
    assert!(none.should_retry(&Outcome::status(503)));
    assert!(!none.should_retry(&Outcome::status(500)));
    let set = route(json!({"retries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx"}}));
    let policy = retry_policy(Some(&set), &mesh);
    assert_eq!(policy.attempts, 3);
    assert_eq!(policy.per_try_timeout, Some(Duration::from_secs(2)));
    assert!(policy.should_retry(&Outcome::status(500)));
    let off = route(json!({"retries": {"attempts": 0}}));
    assert_eq!(retry_policy(Some(&off), &mesh).attempts, 0);
    assert_eq!(retry_policy(None, &mesh), none);
}

#[test]
fn attempts_without_retry_on_use_the_default_conditions() {
    let policy = compile_retry(&serde_json::from_value(json!({"attempts": 4})).unwrap());
    assert_eq!(policy.retry_on, RetryOn::mesh_default());
    assert_eq!(policy.attempts, 4);
}

#[test]
fn the_route_timeout_is_its_deadline_and_zero_is_none() {
    let table = [
        (
            json!({"timeout": "1.5s"}),
            Some(Duration::from_millis(1500)),
        ),
        (json!({"timeout": "0s"}), None),
        (json!({}), None),
    ];
    for (spec, want) in table {
        assert_eq!(route_deadline(&route(spec.clone())), want, "{spec}");
    }
}

#[test]
fn connection_pool_limits_are_read() {
    let pool: ConnectionPool = serde_json::from_value(json!({
        "tcp": {"maxConnections": 1, "connectTimeout": "250ms", "idleTimeout": "5m",
                "maxConnectionDuration": "30s"},
        "http": {"http1MaxPendingRequests": 1, "maxRequestsPerConnection": 1, "maxRetries": 3}
    }))
    .unwrap();
    let policy = pool_policy(&pool);
    assert_eq!(policy.max_connections, 1);
    assert_eq!(policy.connect_timeout, Some(Duration::from_millis(250)));
    assert_eq!(policy.tcp_idle_timeout, Duration::from_secs(300));
    assert_eq!(
        policy.max_connection_duration,
        Some(Duration::from_secs(30))
    );
    assert_eq!(policy.max_pending_requests, 1);
    assert_eq!(policy.max_requests_per_connection, Some(1));
    assert_eq!(policy.max_retries, 3);
    assert_eq!(
        pool_policy(&ConnectionPool::default()),
        ConnectionPoolPolicy::default()
    );
}
