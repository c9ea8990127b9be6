//! The circuit-breaker layer on paused time with a slow mock backend.

use std::time::Duration;

use bytes::Bytes;
use futures::future::join_all;
use http_body_util::{BodyExt, Full};
use tokio::time::Instant;
use tower::{service_fn, ServiceExt};

use super::*;
use crate::resilience::breaker::limits::PoolStats;
use crate::resilience::breaker::{ConnectionPoolPolicy, Overflow, UpstreamProtocol};

fn slow_backend(
) -> impl Service<Request<()>, Response = Response<Full<Bytes>>, Error = BoxError, Future: Send>
       + Clone
       + Send
       + 'static {
    service_fn(|_req: Request<()>| async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
    })
}

fn tight_pool() -> DestinationPool {
    let policy = ConnectionPoolPolicy {
        max_connections: 1,
        max_pending_requests: 1,
        max_requests_per_connection: Some(1),
        ..Default::default()
    };
    DestinationPool::new(policy, UpstreamProtocol::Http1)
}

#[tokio::test(start_paused = true)]
async fn overflow_is_answered_at_once_while_the_admitted_succeed() {
    let pool = tight_pool();
    let service = CircuitBreakerLayer::new(pool.clone()).layer(slow_backend());
    let started = Instant::now();
    let clients = (0..20).map(|_| {
        let service = service.clone();
        async move {
            let result = service.oneshot(Request::new(())).await;
            let answered_after = started.elapsed();
            let result = match result {
                Ok(response) => Ok(response.into_body().collect().await.unwrap().to_bytes()),
                Err(error) => Err(*error.downcast::<Overflow>().expect("an Overflow")),
            };
            (result, answered_after)
        }
    });
    let results = join_all(clients).await;
    let overflowed: Vec<_> = results.iter().filter(|(r, _)| r.is_err()).collect();
    assert_eq!(
        overflowed.len(),
        18,
        "one in flight, one pending, the rest overflow"
    );
    assert!(
        overflowed.iter().all(|(_, after)| after.is_zero()),
        "overflow never waits"
    );
    let served: Vec<_> = results
        .iter()
        .filter(|(r, _)| r.is_ok())
        .map(|(_, after)| *after)
        .collect();
    assert_eq!(served, [Duration::from_secs(1), Duration::from_secs(2)]);
    assert_eq!(Overflow::RESPONSE_FLAG, "UO");
    assert_eq!(pool.stats(), PoolStats::default());
}

#[tokio::test(start_paused = true)]
async fn accounting_returns_to_zero_after_responses_drops_and_cancellations() {
    let pool = DestinationPool::new(ConnectionPoolPolicy::default(), UpstreamProtocol::Http2);
    let service = CircuitBreakerLayer::new(pool.clone()).layer(slow_backend());

    let unread = service.clone().oneshot(Request::new(())).await.unwrap();
    assert_eq!(
        pool.stats().requests,
        1,
        "held while the response body is unread"
    );
    let read = service.clone().oneshot(Request::new(())).await.unwrap();
    read.into_body().collect().await.unwrap();
    assert_eq!(pool.stats().requests, 1, "a read body gives its place back");
    drop(unread);
    assert_eq!(pool.stats().requests, 0, "a dropped body too");

    let cancelled = tokio::time::timeout(
        Duration::from_millis(500),
        service.oneshot(Request::new(())),
    )
    .await;
    assert!(cancelled.is_err());
    assert_eq!(
        pool.stats(),
        PoolStats::default(),
        "a cancelled request leaves nothing held"
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_is_accounted_in_the_pool_it_carries() {
    let layer_pool = DestinationPool::new(ConnectionPoolPolicy::default(), UpstreamProtocol::Http1);
    let routed = tight_pool();
    let service = CircuitBreakerLayer::new(layer_pool.clone()).layer(slow_backend());
    let mut request = Request::new(());
    request.extensions_mut().insert(routed.clone());
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(
        (routed.stats().requests, layer_pool.stats().requests),
        (1, 0)
    );
    drop(response);
}
