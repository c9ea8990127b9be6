//! The retry layer with request bodies that arrive over time (client streaming, uploads), on
//! paused time: the first try starts at once and streams the body; a copy is kept for retries.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use futures::channel::mpsc;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use tokio::time::Instant;
use tower::{service_fn, Layer, ServiceExt};

use super::*;
use crate::resilience::retry::metrics::SkipReason;
use crate::resilience::retry::policy::RetryOn;

// An infallible client body: with `BoxError` rustc cannot prove the mock's future `Send`.
type Client = StreamBody<mpsc::UnboundedReceiver<Result<http_body::Frame<Bytes>, Infallible>>>;
type Try = Request<RetryBody<Client>>;

const GAP: Duration = Duration::from_secs(1);

/// A request whose body's `parts` the client sends one per [`GAP`], ending one gap after the last.
fn streamed(parts: &'static [&'static str]) -> Request<Client> {
    let (tx, rx) = mpsc::unbounded();
    tokio::spawn(async move {
        for part in parts {
            let frame = http_body::Frame::data(Bytes::from_static(part.as_bytes()));
            tx.unbounded_send(Ok(frame)).unwrap();
            tokio::time::sleep(GAP).await;
        }
    });
    Request::new(StreamBody::new(rx))
}

/// What the upstream saw of one try: when its first byte and its end arrived, and the bytes.
#[derive(Debug)]
struct Seen {
    first_byte: Duration,
    end: Duration,
    body: Bytes,
}

/// An upstream that reads every try's body, then answers the next of `statuses` (the last one
/// repeated).
fn upstream(
    statuses: &'static [u16],
) -> (
    impl Service<Try, Response = Response<()>, Error = BoxError, Future: Send> + Clone + Send + 'static,
    Arc<Mutex<Vec<Seen>>>,
) {
    let started = Instant::now();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let service = service_fn(move |req: Try| {
        let record = record.clone();
        async move {
            let mut body = req.into_body();
            let first = body.frame().await.expect("a first chunk").unwrap();
            let first = first.into_data().unwrap();
            let first_byte = started.elapsed();
            let rest = body.collect().await.unwrap().to_bytes();
            let mut seen = record.lock().unwrap();
            seen.push(Seen {
                first_byte,
                end: started.elapsed(),
                body: [first, rest].concat().into(),
            });
            let status = statuses[(seen.len() - 1).min(statuses.len() - 1)];
            Ok::<_, BoxError>(Response::builder().status(status).body(()).unwrap())
        }
    });
    (service, seen)
}

fn retrying(limit: usize, metrics: &RetryMetrics) -> RetryLayer {
    let policy = RetryPolicy::new(2, None, RetryOn::default().with_status(503));
    RetryLayer::new(policy, metrics.clone())
        .with_buffer_limit(limit)
        .with_jitter_seed(5)
}

#[tokio::test(start_paused = true)]
async fn the_first_try_gets_the_body_as_it_arrives_under_the_mesh_default() {
    let (backend, seen) = upstream(&[200]);
    let retry = RetryLayer::new(RetryPolicy::mesh_default(), RetryMetrics::default());
    let response = retry
        .layer(backend)
        .oneshot(streamed(&["a", "b", "c"]))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].first_byte,
        Duration::ZERO,
        "not held back for the rest"
    );
    assert_eq!(seen[0].end, GAP * 3);
    assert_eq!(seen[0].body, "abc");
}

#[tokio::test(start_paused = true)]
async fn a_body_within_the_bound_is_replayed_whole_to_the_retry() {
    let (backend, seen) = upstream(&[503, 200]);
    let metrics = RetryMetrics::default();
    let response = retrying(8, &metrics)
        .layer(backend)
        .oneshot(streamed(&["ab", "cd"]))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = seen.lock().unwrap();
    let bodies: Vec<_> = seen.iter().map(|s| s.body.clone()).collect();
    assert_eq!(bodies, ["abcd", "abcd"]);
    assert_eq!(metrics.retries(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_body_past_the_bound_reaches_the_first_try_whole_and_is_not_retried() {
    let (backend, seen) = upstream(&[503, 200]);
    let metrics = RetryMetrics::default();
    let response = retrying(3, &metrics)
        .layer(backend)
        .oneshot(streamed(&["ab", "cd", "ef"]))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.extensions().get::<RetryLimitReached>().is_none());
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "no retry once the body overflowed");
    assert_eq!(seen[0].body, "abcdef");
    assert_eq!(seen[0].first_byte, Duration::ZERO);
    assert_eq!(metrics.skipped_count(SkipReason::body_too_large), 1);
    assert_eq!(metrics.retries(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_try_failing_mid_body_is_retried_with_the_copy_and_the_rest() {
    // The first try answers 503 after one chunk, while the client is still sending.
    let tries = Arc::new(Mutex::new(Vec::<Bytes>::new()));
    let record = tries.clone();
    let backend = service_fn(move |req: Try| {
        let record = record.clone();
        async move {
            let mut body = req.into_body();
            if record.lock().unwrap().is_empty() {
                let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
                record.lock().unwrap().push(first);
                return Ok::<_, BoxError>(Response::builder().status(503).body(()).unwrap());
            }
            let whole = body.collect().await.unwrap().to_bytes();
            record.lock().unwrap().push(whole);
            Ok(Response::builder().status(200).body(()).unwrap())
        }
    });
    let response = retrying(16, &RetryMetrics::default())
        .layer(backend)
        .oneshot(streamed(&["ab", "cd", "ef"]))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(*tries.lock().unwrap(), ["ab", "abcdef"]);
}
