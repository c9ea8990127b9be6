//! The pool accounting: limits, waiting, and permits coming back.

use std::time::Duration;

use futures::FutureExt;

use super::*;
use crate::resilience::breaker::{DestinationPools, UNLIMITED};

fn pool(max_connections: u32, max_pending: u32, max_requests: u32) -> DestinationPool {
    let policy = ConnectionPoolPolicy {
        max_connections,
        max_pending_requests: max_pending,
        max_requests,
        ..Default::default()
    };
    DestinationPool::new(policy, UpstreamProtocol::Http1)
}

#[tokio::test]
async fn each_limit_overflows_with_its_own_name() {
    // (connections, pending, requests, admitted at once, the overflowing limit)
    let table = [
        (10, 10, 2, 2, PoolLimit::Requests),
        (1, 0, 10, 1, PoolLimit::PendingRequests),
        (3, 0, 10, 3, PoolLimit::PendingRequests),
    ];
    for (connections, pending, requests, admitted, limit) in table {
        let pool = pool(connections, pending, requests);
        let mut held = Vec::new();
        for _ in 0..admitted {
            held.push(
                pool.admit()
                    .now_or_never()
                    .expect("admitted at once")
                    .unwrap(),
            );
        }
        let overflow = pool
            .admit()
            .now_or_never()
            .expect("answered at once")
            .unwrap_err();
        assert_eq!(overflow.limit, limit, "{connections}/{pending}/{requests}");
        drop(held);
        assert_eq!(pool.stats(), PoolStats::default());
    }
}

#[tokio::test(start_paused = true)]
async fn a_pending_request_waits_for_a_slot_and_a_cancelled_one_leaves_no_trace() {
    let pool = pool(1, 1, UNLIMITED);
    let first = pool.admit().await.unwrap();
    let waiting = tokio::spawn({
        let pool = pool.clone();
        async move { pool.admit().await.map(|_permit| ()) }
    });
    tokio::task::yield_now().await;
    assert_eq!(pool.stats().pending, 1);
    assert_eq!(
        pool.admit().await.unwrap_err().limit,
        PoolLimit::PendingRequests
    );
    drop(first);
    waiting
        .await
        .unwrap()
        .expect("admitted when the slot freed");

    let first = pool.admit().await.unwrap();
    let cancelled = tokio::time::timeout(Duration::from_secs(1), pool.admit()).await;
    assert!(cancelled.is_err(), "still waiting when cancelled");
    assert_eq!(
        pool.stats(),
        PoolStats {
            requests: 1,
            pending: 0,
            connections: 0
        }
    );
    drop(first);
    assert_eq!(pool.stats(), PoolStats::default());
}

#[test]
fn connections_are_capped() {
    let pool = pool(2, 0, UNLIMITED);
    let a = pool.open_connection().unwrap();
    let _b = pool.open_connection().unwrap();
    assert_eq!(
        pool.open_connection().unwrap_err(),
        Overflow {
            limit: PoolLimit::Connections,
            max: 2
        }
    );
    drop(a);
    assert!(pool.open_connection().is_ok());
}

#[tokio::test(start_paused = true)]
async fn an_http_socket_waits_for_a_closing_one_but_not_forever() {
    let pool = pool(1, 0, UNLIMITED);
    let held = pool.open_connection().unwrap();
    let second = Duration::from_secs(1);
    let waiting = tokio::spawn({
        let pool = pool.clone();
        async move { pool.wait_for_connection(second).await.is_ok() }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(pool.stats().connections, 1);
    drop(held);
    assert!(waiting.await.unwrap(), "the closed socket's place is taken");

    let _held = pool.open_connection().unwrap();
    let started = tokio::time::Instant::now();
    let overflow = pool.wait_for_connection(second).await.unwrap_err();
    assert_eq!(overflow.limit, PoolLimit::Connections);
    assert_eq!(started.elapsed(), second, "no longer than the bound");
}

#[test]
fn a_destination_shares_its_accounting_until_its_policy_changes() {
    let pools = DestinationPools::default();
    let reviews = Destination {
        host: "reviews.default.svc.cluster.local".into(),
        subset: Some("v1".into()),
    };
    let policy = ConnectionPoolPolicy {
        max_connections: 1,
        ..Default::default()
    };
    let pod: Arc<str> = "shop/sleep-0".into();
    let a = pools.pool(&pod, &reviews, &policy, UpstreamProtocol::Http1);
    let held = a.open_connection().unwrap();
    let b = pools.pool(&pod, &reviews, &policy, UpstreamProtocol::Http1);
    assert!(a.same(&b) && b.destination() == &reviews);
    assert!(
        b.open_connection().is_err(),
        "the same accounting for the same pod"
    );
    let other: Arc<str> = "shop/sleep-1".into();
    let others = pools.pool(&other, &reviews, &policy, UpstreamProtocol::Http1);
    assert!(
        !others.same(&a),
        "another pod has its own, as its sidecar would"
    );
    assert!(others.open_connection().is_ok());
    let wider = ConnectionPoolPolicy {
        max_connections: 2,
        ..policy
    };
    assert_eq!(
        pools
            .pool(&pod, &reviews, &wider, UpstreamProtocol::Http1)
            .stats(),
        PoolStats::default()
    );
    drop(held);
    assert_eq!(a.retry_budget().max(), UNLIMITED);
}
