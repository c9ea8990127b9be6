//! The longest durations validation lets through (Go's ~292 years) where resilience meets a clock
//! or multiplies them: outlier `interval` and `baseEjectionTime` × ejections, retry backoff,
//! `perTryTimeout` and the route `timeout`. None panics; each keeps its meaning.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use tokio::time::Instant;
use tower::{service_fn, Layer, ServiceExt};

use super::outlier::{EjectionReason, OutlierMetrics};
use super::retry::{Backoff, RetryMetrics, RetryOn};
use super::*;
use crate::clock;
use crate::errors::BoxError;
use crate::resources::parse_duration;

/// The longest duration a resource may hold.
fn longest() -> Duration {
    parse_duration("2562047h47m16.854775807s").unwrap()
}

fn years(n: u64) -> Duration {
    parse_duration(&format!("{}h", n * 365 * 24)).unwrap()
}

#[test]
fn base_ejection_time_of_centuries_times_three_ejections_ejects_for_that_long() {
    let endpoints: [SocketAddr; 2] = [
        "10.0.0.1:80".parse().unwrap(),
        "10.0.0.2:80".parse().unwrap(),
    ];
    let broken = endpoints[0];
    for base in [years(290), longest()] {
        let policy = OutlierPolicy {
            consecutive_gateway: Some(1),
            consecutive_5xx: None,
            interval: base,
            base_ejection_time: base,
            ..OutlierPolicy::default()
        };
        let metrics = OutlierMetrics::default();
        let mut now = Instant::now();
        let mut detector = OutlierDetector::new(policy, "reviews", &endpoints, metrics, now);
        for ejections in 1..=3 {
            let reason = detector.observe(broken, &Outcome::status(503), now);
            assert_eq!(reason, Some(EjectionReason::ConsecutiveGateway), "{base:?}");
            let state = &detector.snapshot(now)[0];
            assert_eq!(state.ejections, ejections, "{base:?}");
            // base × n, capped at the base (above Envoy's 300 s maximum).
            assert_eq!(state.returns_in, Some(base), "{base:?} × {ejections}");
            now = clock::deadline(now, base);
        }
    }
}

#[test]
fn backoff_from_the_longest_base_stays_within_its_cap() {
    let backoff = Backoff::from_base(longest());
    assert_eq!(backoff.max, longest() * 10);
    let table = [
        (1, 1.0),
        (31, 1.0),
        (u32::MAX, 1.0),
        (u32::MAX, 0.999),
        (3, f64::NAN),
    ];
    for (retry, unit) in table {
        assert!(
            backoff.delay(retry, unit) <= backoff.max,
            "retry {retry}, draw {unit}"
        );
    }
    assert_eq!(backoff.delay(3, f64::NAN), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn the_longest_per_try_and_route_timeouts_let_a_request_finish() {
    let backend = service_fn(|_req: Request<retry::RetryBody<Full<Bytes>>>| async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok::<_, BoxError>(Response::new(()))
    });
    let policy = RetryPolicy::new(2, Some(longest()), RetryOn::mesh_default());
    let retry = RetryLayer::new(policy, RetryMetrics::default());
    let service = RouteTimeoutLayer::new(Some(longest())).layer(retry.layer(backend));
    let started = Instant::now();
    let request = Request::new(Full::new(Bytes::from_static(b"x")));
    service.oneshot(request).await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(1));
}
