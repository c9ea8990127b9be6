//! The tutorial's scenario on paused time: a pod that always answers 503 among healthy ones.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tower::{service_fn, ServiceBuilder, ServiceExt};

use super::*;
use crate::resilience::outlier::{OutlierDetector, OutlierMetrics, OutlierPolicy};
use std::net::SocketAddr;

type Hits = Arc<Mutex<HashMap<SocketAddr, u32>>>;

/// One endpoint's service: counts its hits, answers `status`, observed by the detector.
fn endpoint(
    detector: &SharedDetector,
    addr: SocketAddr,
    status: u16,
    hits: Hits,
) -> impl Service<Request<()>, Response = Response<()>, Error = BoxError> + Clone {
    let backend = service_fn(move |_req: Request<()>| {
        *hits.lock().unwrap().entry(addr).or_default() += 1;
        async move { Ok::<_, BoxError>(Response::builder().status(status).body(()).unwrap()) }
    });
    // As the balancer above leaves them: the destination's detector and the endpoint picked.
    let detector = detector.clone();
    ServiceBuilder::new()
        .map_request(move |mut request: Request<()>| {
            request.extensions_mut().insert(detector.clone());
            request.extensions_mut().insert(Endpoint(addr));
            request
        })
        .layer(OutlierReportLayer)
        .service(backend)
}

#[tokio::test(start_paused = true)]
async fn a_pod_answering_503_stops_receiving_traffic_until_it_returns() {
    let addrs: Vec<SocketAddr> = (1..=4)
        .map(|i| SocketAddr::from(([10, 0, 0, i], 80)))
        .collect();
    let policy = OutlierPolicy {
        interval: Duration::from_secs(1),
        base_ejection_time: Duration::from_secs(180),
        max_ejection_percent: 50,
        ..OutlierPolicy::default().with_consecutive_errors(1)
    };
    let detector = SharedDetector::new(OutlierDetector::new(
        policy,
        "web",
        &addrs,
        OutlierMetrics::default(),
        Instant::now(),
    ));
    let hits: Hits = Arc::default();
    let broken = addrs[0];
    let services: HashMap<_, _> = addrs
        .iter()
        .map(|a| {
            (
                *a,
                endpoint(
                    &detector,
                    *a,
                    if *a == broken { 503 } else { 200 },
                    hits.clone(),
                ),
            )
        })
        .collect();
    // A round-robin balancer over the endpoints the detector allows.
    let send = |i: usize| {
        let eligible = detector.eligible(&addrs);
        let pick = eligible[i % eligible.len()];
        services[&pick].clone().oneshot(Request::new(()))
    };
    let mut failures = 0;
    for i in 0..100 {
        failures += usize::from(send(i).await.unwrap().status() != 200);
        tokio::time::advance(Duration::from_millis(100)).await;
    }
    assert_eq!(failures, 1, "only the first request reached the broken pod");
    assert_eq!(hits.lock().unwrap()[&broken], 1);

    tokio::time::advance(Duration::from_secs(180)).await;
    for i in 0..8 {
        send(i).await.unwrap();
    }
    assert_eq!(
        hits.lock().unwrap()[&broken],
        2,
        "back after baseEjectionTime, and out again at once"
    );
}
