//! Fault decisions (table) and the layer on paused time with a mock inner service.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tower::service_fn;

use super::*;
use crate::http::body::empty;
use crate::http::rescue::status_and_flags;
use crate::routing::MatchedRule;
use crate::snapshot::RouteTable;

fn fault(yaml: &str) -> Fault {
    serde_yaml::from_str(yaml).unwrap()
}

#[test]
fn policy_table() {
    let ms = Duration::from_millis;
    let cases = [
        (
            "{delay: {fixedDelay: 1s, percentage: {value: 30}}}",
            Some((ms(1000), 30.0)),
            None,
        ),
        ("{delay: {fixedDelay: 5ms}}", Some((ms(5), 100.0)), None),
        (
            "{abort: {httpStatus: 500, percentage: {value: 30}}}",
            None,
            Some((AbortWith::Http(StatusCode::INTERNAL_SERVER_ERROR), 30.0)),
        ),
        (
            "{abort: {grpcStatus: UNAVAILABLE}}",
            None,
            Some((AbortWith::Grpc(14), 100.0)),
        ),
        (
            "{abort: {grpcStatus: '7'}}",
            None,
            Some((AbortWith::Grpc(7), 100.0)),
        ),
        ("{abort: {grpcStatus: NOPE}}", None, None),
        ("{abort: {percentage: {value: 10}}}", None, None),
    ];
    for (yaml, delay, abort) in cases {
        assert_eq!(
            FaultPolicy::from_fault(&fault(yaml)),
            FaultPolicy { delay, abort },
            "{yaml}"
        );
    }
}

#[test]
fn a_thirty_percent_abort_hits_about_thirty_percent() {
    let policy = FaultPolicy::from_fault(&fault(
        "{abort: {httpStatus: 500, percentage: {value: 30}}}",
    ));
    let chance = Chance::seeded(11);
    let hits = (0..1000)
        .filter(|_| policy.decide(&chance).abort.is_some())
        .count();
    assert!((250..350).contains(&hits), "{hits} of 1000");
}

fn request_with(fault_yaml: &str) -> Request<Body> {
    let rule = format!("[{{route: [{{destination: {{host: web}}}}], fault: {fault_yaml}}}]");
    let table = RouteTable {
        http: serde_yaml::from_str(&rule).unwrap(),
        ..Default::default()
    };
    let mut request = Request::new(empty());
    request
        .extensions_mut()
        .insert(MatchedRule::new(Arc::new(table), 0, Some(0)));
    request
}

type Inner = tower::util::BoxCloneSyncService<Request<Body>, Response<Body>, BoxError>;

fn counting_ok(calls: Arc<AtomicUsize>) -> Inner {
    tower::util::BoxCloneSyncService::new(service_fn(move |_| {
        calls.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, BoxError>(Response::new(empty())) }
    }))
}

fn flags(response: &Response<Body>) -> String {
    let flags = response.extensions().get::<ResponseFlags>().copied();
    flags.unwrap_or_default().to_string()
}

#[tokio::test(start_paused = true)]
async fn a_delay_waits_on_the_clock_then_forwards_with_di() {
    let calls = Arc::new(AtomicUsize::new(0));
    let service = FaultLayer::new(Chance::seeded(1)).layer(counting_ok(calls.clone()));
    let start = tokio::time::Instant::now();
    let response = service
        .oneshot(request_with("{delay: {fixedDelay: 7s}}"))
        .await
        .unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(7));
    assert_eq!(
        (calls.load(Ordering::SeqCst), flags(&response)),
        (1, "DI".to_string())
    );
}

#[tokio::test(start_paused = true)]
async fn an_abort_never_reaches_the_upstream() {
    let calls = Arc::new(AtomicUsize::new(0));
    let service = FaultLayer::new(Chance::seeded(1)).layer(counting_ok(calls.clone()));
    let error = service
        .oneshot(request_with("{abort: {httpStatus: 503}}"))
        .await
        .unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let (status, flags) = status_and_flags(&*error);
    assert_eq!((status.as_u16(), flags.to_string().as_str()), (503, "FI"));
}

#[tokio::test(start_paused = true)]
async fn delay_and_abort_together_carry_both_flags() {
    let service = FaultLayer::new(Chance::seeded(1)).layer(counting_ok(Default::default()));
    let request = request_with("{delay: {fixedDelay: 1s}, abort: {grpcStatus: UNAVAILABLE}}");
    let error = service.oneshot(request).await.unwrap_err();
    let (status, flags) = status_and_flags(&*error);
    assert_eq!(
        (status.as_u16(), flags.to_string().as_str()),
        (200, "DI,FI")
    );
}

#[tokio::test(start_paused = true)]
async fn requests_without_a_fault_pass_untouched() {
    let calls = Arc::new(AtomicUsize::new(0));
    let service = FaultLayer::new(Chance::seeded(1)).layer(counting_ok(calls.clone()));
    let response = service.oneshot(Request::new(empty())).await.unwrap();
    assert_eq!(
        (calls.load(Ordering::SeqCst), flags(&response)),
        (1, "-".to_string())
    );
}
