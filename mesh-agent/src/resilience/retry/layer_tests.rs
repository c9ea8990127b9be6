//! The retry layer on paused time with mock backends.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tokio::time::Instant;
use tower::{service_fn, Layer, ServiceExt};

use super::*;
use crate::errors::ConnectFailed;
use crate::resilience::retry::metrics::SkipReason;
use crate::resilience::retry::policy::{Backoff, RetryOn};
use crate::resilience::timeout::{RouteTimeoutLayer, Timeout, TimeoutScope};

type Try = Request<RetryBody<Full<Bytes>>>;

fn on(retry_on: &str) -> RetryOn {
    RetryPolicy::parse_retry_on(retry_on).unwrap()
}

fn layer(attempts: u32, per_try: Option<Duration>, retry_on: &str) -> RetryLayer {
    RetryLayer::new(
        RetryPolicy::new(attempts, per_try, on(retry_on)),
        RetryMetrics::default(),
    )
}

fn request(id: usize) -> Request<Full<Bytes>> {
    Request::builder()
        .header("x-id", id)
        .body(Full::new(Bytes::from_static(b"payload")))
        .unwrap()
}

fn answer(status: u16) -> Result<Response<()>, BoxError> {
    Ok(Response::builder().status(status).body(()).unwrap())
}

/// A backend that reads the body, answers `status` and records when each try arrived.
fn recording(
    status: u16,
) -> (
    impl Service<Try, Response = Response<()>, Error = BoxError, Future: Send> + Clone + Send + 'static,
    Arc<Mutex<Vec<Instant>>>,
) {
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let seen = arrivals.clone();
    let service = service_fn(move |req: Try| {
        seen.lock().unwrap().push(Instant::now());
        async move {
            let _ = req.into_body().collect().await;
            answer(status)
        }
    });
    (service, arrivals)
}

#[tokio::test(start_paused = true)]
async fn backoff_waits_the_jittered_exponential_delays() {
    let (backend, arrivals) = recording(503);
    let service = layer(3, None, "5xx").with_jitter_seed(7).layer(backend);
    let response = service.oneshot(request(0)).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let arrivals = arrivals.lock().unwrap();
    assert_eq!(arrivals.len(), 4, "attempts: 3 means 4 tries");
    let mut jitter = fastrand::Rng::with_seed(7);
    for retry in 1..=3u32 {
        let want = Backoff::default().delay(retry, jitter.f64());
        let gap = arrivals[retry as usize] - arrivals[retry as usize - 1];
        // tokio's timer wheel ticks in milliseconds: a sleep ends on the next tick.
        assert!(
            gap >= want && gap <= want + Duration::from_millis(1),
            "retry {retry}: {gap:?} vs {want:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn exhausted_retries_pass_the_last_answer_on_flagged_urx() {
    let (backend, _) = recording(503);
    let response = layer(2, None, "5xx")
        .layer(backend)
        .oneshot(request(0))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response.extensions().get::<RetryLimitReached>(),
        Some(&RetryLimitReached { tries: 3 })
    );
}

#[tokio::test(start_paused = true)]
async fn exhausted_retries_on_failures_give_a_urx_error() {
    let tries = Arc::new(Mutex::new(0));
    let counted = tries.clone();
    let backend = service_fn(move |_req: Try| {
        *counted.lock().unwrap() += 1;
        async { Err::<Response<()>, BoxError>(ConnectFailed("refused".into()).into()) }
    });
    let metrics = RetryMetrics::default();
    let policy = RetryPolicy::new(2, None, on("connect-failure"));
    let service = RetryLayer::new(policy, metrics.clone()).layer(backend);
    let error = service.oneshot(request(0)).await.unwrap_err();
    let exhausted = error
        .downcast_ref::<RetriesExhausted>()
        .expect("RetriesExhausted");
    assert_eq!(exhausted.tries, 3);
    assert!(exhausted.last.is::<ConnectFailed>());
    assert_eq!(RetriesExhausted::RESPONSE_FLAG, "URX");
    assert_eq!(
        (
            *tries.lock().unwrap(),
            metrics.retries(),
            metrics.exhausted_count()
        ),
        (3, 2, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn the_mesh_default_retries_a_503_but_not_a_500() {
    for (status, tries) in [(503, 3), (500, 1)] {
        let (backend, arrivals) = recording(status);
        let service =
            RetryLayer::new(RetryPolicy::mesh_default(), RetryMetrics::default()).layer(backend);
        service.oneshot(request(0)).await.unwrap();
        assert_eq!(arrivals.lock().unwrap().len(), tries, "status {status}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_retry_goes_to_an_endpoint_not_yet_tried() {
    let endpoints: [SocketAddr; 2] = [
        "10.0.0.1:80".parse().unwrap(),
        "10.0.0.2:80".parse().unwrap(),
    ];
    let broken = endpoints[0];
    // A balancer that always takes the first candidate: without the tried set it would send
    // every try to the broken endpoint.
    let balancer = service_fn(move |req: Try| {
        let tried = req
            .extensions()
            .get::<TriedEndpoints>()
            .expect("the retry layer sets it")
            .clone();
        let pick = tried.untried(&endpoints)[0];
        tried.record(pick);
        async move { answer(if pick == broken { 503 } else { 200 }) }
    });
    let mut plain = request(0);
    let tried = TriedEndpoints::default();
    plain.extensions_mut().insert(tried.clone());
    let response = layer(2, None, "5xx")
        .layer(balancer)
        .oneshot(plain)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(tried.list(), endpoints.to_vec());
}

#[tokio::test(start_paused = true)]
async fn per_try_timeout_bounds_each_try_and_the_route_timeout_bounds_all() {
    let slow = service_fn(|_req: Try| async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        answer(200)
    });
    let retry = layer(2, Some(Duration::from_secs(1)), "5xx").with_jitter_seed(1);

    let started = Instant::now();
    let error = retry.layer(slow).oneshot(request(0)).await.unwrap_err();
    let exhausted = error
        .downcast_ref::<RetriesExhausted>()
        .expect("retries ran out");
    let last = exhausted
        .last
        .downcast_ref::<Timeout>()
        .expect("per-try timeout");
    assert_eq!((exhausted.tries, last.scope), (3, TimeoutScope::PerTry));
    let tries_alone = Duration::from_secs(3);
    let backoffs = Duration::from_millis(25 + 75 + 2);
    assert!(started.elapsed() >= tries_alone && started.elapsed() <= tries_alone + backoffs);

    let started = Instant::now();
    let route = RouteTimeoutLayer::new(Some(Duration::from_millis(2500)));
    let error = route
        .layer(retry.layer(slow))
        .oneshot(request(0))
        .await
        .unwrap_err();
    assert_eq!(
        error
            .downcast_ref::<Timeout>()
            .expect("route timeout")
            .scope,
        TimeoutScope::Route
    );
    assert_eq!(started.elapsed(), Duration::from_millis(2500));
}

#[tokio::test(start_paused = true)]
async fn max_retries_caps_concurrent_retries_per_destination() {
    // Each request's first try fails at once; its retry takes a second and succeeds.
    let tries: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let backend = service_fn(move |req: Try| {
        let id = req.headers()["x-id"].to_str().unwrap().to_string();
        let n = *tries
            .lock()
            .unwrap()
            .entry(id)
            .and_modify(|n| *n += 1)
            .or_insert(1);
        async move {
            if n == 1 {
                return answer(503);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            answer(200)
        }
    });
    let metrics = RetryMetrics::default();
    let budget = RetryBudget::new(1);
    let policy = RetryPolicy::new(2, None, on("5xx"));
    let service = RetryLayer::new(policy, metrics.clone())
        .with_budget(budget.clone())
        .layer(backend);
    let (a, b) = tokio::join!(
        service.clone().oneshot(request(1)),
        service.oneshot(request(2))
    );
    let mut statuses = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 503], "one retried, the other capped");
    assert_eq!(metrics.skipped_count(SkipReason::budget_exhausted), 1);
    assert_eq!(budget.active(), 0, "permits come back");
}

#[tokio::test(start_paused = true)]
async fn a_body_over_the_bound_is_sent_once_and_counted() {
    let (backend, arrivals) = recording(503);
    let metrics = RetryMetrics::default();
    let policy = RetryPolicy::new(2, None, on("5xx"));
    let service = RetryLayer::new(policy, metrics.clone())
        .with_buffer_limit(4)
        .layer(backend);
    let response = service.oneshot(request(0)).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(arrivals.lock().unwrap().len(), 1);
    assert_eq!(metrics.skipped_count(SkipReason::body_too_large), 1);
}

#[tokio::test(start_paused = true)]
async fn three_retries_on_5xx_lift_a_half_broken_backend_to_about_94_percent() {
    let coin = Arc::new(Mutex::new(fastrand::Rng::with_seed(2024)));
    let backend = service_fn(move |_req: Try| {
        let fails = coin.lock().unwrap().bool();
        async move { answer(if fails { 500 } else { 200 }) }
    });
    let service = layer(3, None, "5xx").with_jitter_seed(3).layer(backend);
    let total = 2_000;
    let mut ok = 0;
    for id in 0..total {
        let response = service.clone().oneshot(request(id)).await.unwrap();
        ok += usize::from(response.status() == StatusCode::OK);
    }
    let rate = ok as f64 / total as f64;
    assert!(
        (0.9..=0.97).contains(&rate),
        "success rate {rate}, expected ≈ 1 − 0.5⁴ = 0.9375"
    );
}
