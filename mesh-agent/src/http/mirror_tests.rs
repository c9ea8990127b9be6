//! The mirror decisions and the layer with a mock inner service: one copy per primary, the
//! client sees only the primary, a hanging mirror does not hold the primary, big bodies skip.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use tower::service_fn;

use super::*;
use crate::http::body::full;
use crate::http::shadow::ShadowSlots;

#[derive(Clone, Debug, PartialEq)]
struct Tag(&'static str);

#[test]
fn shadow_authority_table() {
    let cases = [
        ("web.shop", "web.shop-shadow"),
        ("web.shop:80", "web.shop-shadow:80"),
        ("10.96.0.10:8080", "10.96.0.10-shadow:8080"),
    ];
    for (authority, want) in cases {
        assert_eq!(shadow_authority(authority), want);
    }
}

#[test]
fn mirror_percentages_draw_per_mirror() {
    let chance = Chance::seeded(4);
    let shadows = [
        Shadow {
            target: Tag("all"),
            percentage: 100.0,
        },
        Shadow {
            target: Tag("none"),
            percentage: 0.0,
        },
        Shadow {
            target: Tag("half"),
            percentage: 50.0,
        },
    ];
    let mut half = 0;
    for _ in 0..400 {
        let drawn = drawn(&shadows, &chance);
        assert_eq!(drawn[0], &Tag("all"));
        assert!(!drawn.contains(&&Tag("none")));
        half += usize::from(drawn.contains(&&Tag("half")));
    }
    assert!((160..=240).contains(&half), "{half} of 400");
}

/// What the mirror target saw: (authority, body).
type Seen = Arc<Mutex<Vec<(String, Bytes)>>>;

type Inner = tower::util::BoxCloneSyncService<Request<Body>, Response<Body>, BoxError>;

/// Primary requests (tag `primary`) echo their body; shadows (tag `mirror`) are recorded and,
/// when `hang`, never answered.
fn upstreams(seen: Seen, hang: bool) -> Inner {
    tower::util::BoxCloneSyncService::new(service_fn(move |request: Request<Body>| {
        let seen = seen.clone();
        async move {
            let tag = request.extensions().get::<Tag>().cloned();
            let host = request
                .headers()
                .get(HOST)
                .map(|h| h.to_str().unwrap().to_string());
            let body = request.into_body().collect().await?.to_bytes();
            if tag == Some(Tag("mirror")) {
                seen.lock().unwrap().push((host.unwrap_or_default(), body));
                if hang {
                    std::future::pending::<()>().await;
                }
                return Ok(Response::new(full("from the mirror")));
            }
            Ok::<_, BoxError>(Response::new(full(body)))
        }
    }))
}

fn mirrored(body: &'static str, percentage: f64) -> Request<Body> {
    let mut request = Request::post("/items")
        .header(HOST, "web.shop:80")
        .body(full(body))
        .unwrap();
    let shadows = Shadows(vec![Shadow {
        target: Tag("mirror"),
        percentage,
    }]);
    request.extensions_mut().insert(Tag("primary"));
    request.extensions_mut().insert(shadows);
    request
}

async fn text(response: Response<Body>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Lets spawned shadows run (paused time: no wall clock involved).
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn every_primary_is_mirrored_once_and_the_client_sees_the_primary() {
    let seen = Seen::default();
    let metrics = MirrorMetrics::default();
    let layer = MirrorLayer::<Tag>::new(Chance::seeded(1), metrics.clone(), 1024);
    let service = layer.layer(upstreams(seen.clone(), false));
    for n in 0..20 {
        let response = service
            .clone()
            .oneshot(mirrored("hello", 100.0))
            .await
            .unwrap();
        assert_eq!(text(response).await, "hello", "request {n}");
    }
    settle().await;
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 20);
    assert!(seen
        .iter()
        .all(|(host, body)| host == "web.shop-shadow:80" && body == "hello"));
    assert_eq!((metrics.sent(), metrics.skipped()), (20, 0));
}

#[tokio::test(start_paused = true)]
async fn past_the_shadows_in_flight_mirrors_are_dropped_and_counted() {
    let seen = Seen::default();
    let metrics = MirrorMetrics {
        slots: ShadowSlots::new(2),
        ..MirrorMetrics::default()
    };
    let layer = MirrorLayer::<Tag>::new(Chance::seeded(1), metrics.clone(), 1024);
    let service = layer.layer(upstreams(seen.clone(), true));
    for _ in 0..5 {
        let response = service.clone().oneshot(mirrored("x", 100.0)).await.unwrap();
        assert_eq!(text(response).await, "x");
    }
    settle().await;
    assert_eq!((metrics.sent(), metrics.overflow()), (2, 3));
    tokio::time::sleep(SHADOW_DEADLINE).await;
    settle().await;
    assert_eq!(
        metrics.slots.in_flight(),
        0,
        "hanging shadows give their place back"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hanging_mirror_does_not_hold_the_primary() {
    let seen = Seen::default();
    let layer = MirrorLayer::<Tag>::new(Chance::seeded(1), MirrorMetrics::default(), 1024);
    let service = layer.layer(upstreams(seen.clone(), true));
    let mut answered = 0;
    for _ in 0..5 {
        // Paused time: if the primary waited on the mirror, the guard would fire at once.
        let response = tokio::time::timeout(
            Duration::from_secs(1),
            service.clone().oneshot(mirrored("x", 100.0)),
        );
        let response = response.await.expect("the primary answered").unwrap();
        answered += usize::from(text(response).await == "x");
    }
    settle().await;
    assert_eq!((answered, seen.lock().unwrap().len()), (5, 5));
}

#[tokio::test(start_paused = true)]
async fn a_body_past_the_bound_skips_the_mirror_and_reaches_the_primary_whole() {
    let seen = Seen::default();
    let metrics = MirrorMetrics::default();
    let layer = MirrorLayer::<Tag>::new(Chance::seeded(1), metrics.clone(), 4);
    let service = layer.layer(upstreams(seen.clone(), false));
    let response = service
        .clone()
        .oneshot(mirrored("much too long", 100.0))
        .await
        .unwrap();
    assert_eq!(text(response).await, "much too long");
    let mut declared = mirrored("also too long", 100.0);
    declared
        .headers_mut()
        .insert("content-length", "13".parse().unwrap());
    let response = service.oneshot(declared).await.unwrap();
    assert_eq!(text(response).await, "also too long");
    settle().await;
    assert_eq!(seen.lock().unwrap().len(), 0);
    assert_eq!((metrics.sent(), metrics.skipped()), (0, 2));
}

#[tokio::test(start_paused = true)]
async fn requests_without_mirrors_pass_untouched() {
    let seen = Seen::default();
    let layer = MirrorLayer::<Tag>::new(Chance::seeded(1), MirrorMetrics::default(), 1024);
    let service = layer.layer(upstreams(seen.clone(), false));
    let response = service.clone().oneshot(mirrored("a", 0.0)).await.unwrap();
    assert_eq!(text(response).await, "a");
    let plain = Request::post("/").body(full("b")).unwrap();
    assert_eq!(text(service.oneshot(plain).await.unwrap()).await, "b");
    settle().await;
    assert!(seen.lock().unwrap().is_empty());
}
