//! The outlier state machine: table tests of ejection, and paused-time tests of return.

use std::time::Duration;

use super::*;
use crate::resilience::outcome::LocalFailure;
use crate::resilience::outlier::SharedDetector;

fn addrs(n: usize) -> Vec<SocketAddr> {
    (1..=n)
        .map(|i| SocketAddr::from(([10, 0, 0, i as u8], 8080)))
        .collect()
}

fn detector(policy: OutlierPolicy, n: usize) -> OutlierDetector {
    OutlierDetector::new(
        policy,
        "reviews",
        &addrs(n),
        OutlierMetrics::default(),
        Instant::now(),
    )
}

const CONNECT: Outcome = Outcome::Failure(LocalFailure::ConnectFailure);
const TIMEOUT: Outcome = Outcome::Failure(LocalFailure::Timeout);
const OVERFLOW: Outcome = Outcome::Failure(LocalFailure::Overflow);

fn s(code: u16) -> Outcome {
    Outcome::status(code)
}

/// One ejection case: its name, the policy, the outcomes seen in a row, the ejection wanted.
type Case = (
    &'static str,
    OutlierPolicy,
    Vec<Outcome>,
    Option<EjectionReason>,
);

fn check_ejections(table: Vec<Case>) {
    for (name, policy, outcomes, want) in table {
        let mut detector = detector(policy, 2);
        let broken = addrs(1)[0];
        let now = Instant::now();
        let got = outcomes
            .iter()
            .find_map(|o| detector.observe(broken, o, now));
        assert_eq!(got, want, "{name}");
        assert_eq!(detector.is_ejected(&broken, now), want.is_some(), "{name}");
    }
}

fn gateway_2() -> OutlierPolicy {
    OutlierPolicy {
        consecutive_gateway: Some(2),
        consecutive_5xx: None,
        ..OutlierPolicy::default()
    }
}

#[test]
fn ejection_follows_the_5xx_and_gateway_counters() {
    let default = OutlierPolicy::default();
    let legacy = default.with_consecutive_errors(1);
    let five_xx_1 = OutlierPolicy {
        consecutive_5xx: Some(1),
        ..default
    };
    check_ejections(vec![
        (
            "5 × 500 by default",
            default,
            vec![s(500); 5],
            Some(EjectionReason::Consecutive5xx),
        ),
        ("4 × 500 is not enough", default, vec![s(500); 4], None),
        (
            "a success breaks the run",
            default,
            [vec![s(500); 4], vec![s(200), s(500)]].concat(),
            None,
        ),
        (
            "a 404 breaks the run",
            default,
            [vec![s(500); 4], vec![s(404), s(500)]].concat(),
            None,
        ),
        (
            "consecutiveErrors: 1 ejects on a 503",
            legacy,
            vec![s(503)],
            Some(EjectionReason::ConsecutiveGateway),
        ),
        (
            "consecutiveErrors ignores 500",
            legacy,
            vec![s(500); 50],
            None,
        ),
        (
            "consecutive5xxErrors: 1 ejects on a 500",
            five_xx_1,
            vec![s(500)],
            Some(EjectionReason::Consecutive5xx),
        ),
        (
            "gateway errors: 502 then 504",
            gateway_2(),
            vec![s(502), s(504)],
            Some(EjectionReason::ConsecutiveGateway),
        ),
        (
            "a 500 breaks a gateway run",
            gateway_2(),
            vec![s(502), s(500), s(503)],
            None,
        ),
    ]);
}

#[test]
fn local_origin_failures_count_as_errors_or_apart() {
    let default = OutlierPolicy::default();
    let split = OutlierPolicy {
        split_external_local_origin_errors: true,
        consecutive_local_origin: Some(2),
        ..default
    };
    let split_no_local = OutlierPolicy {
        consecutive_local_origin: None,
        ..split
    };
    check_ejections(vec![
        (
            "unsplit, connect failures count as 503",
            default,
            vec![CONNECT; 5],
            Some(EjectionReason::Consecutive5xx),
        ),
        (
            "unsplit, a timeout is a gateway error",
            gateway_2(),
            vec![TIMEOUT, s(503)],
            Some(EjectionReason::ConsecutiveGateway),
        ),
        (
            "split, local failures count apart",
            split,
            vec![CONNECT; 2],
            Some(EjectionReason::ConsecutiveLocalOrigin),
        ),
        (
            "split, local failures are not 5xx",
            split,
            [vec![s(500); 4], vec![CONNECT]].concat(),
            None,
        ),
        (
            "split, an answer breaks a local run",
            split,
            vec![CONNECT, s(500), CONNECT],
            None,
        ),
        (
            "a full connection pool is not the endpoint's failure",
            default,
            vec![OVERFLOW; 20],
            None,
        ),
        ("nor when split", split, vec![OVERFLOW; 20], None),
        (
            "split without a local threshold",
            split_no_local,
            vec![CONNECT; 20],
            None,
        ),
    ]);
}

#[tokio::test(start_paused = true)]
async fn an_ejected_endpoint_returns_after_base_time_times_its_ejections() {
    let policy = OutlierPolicy {
        consecutive_5xx: Some(1),
        interval: Duration::from_secs(1),
        ..Default::default()
    };
    let metrics = OutlierMetrics::default();
    let detector = SharedDetector::new(OutlierDetector::new(
        policy,
        "reviews",
        &addrs(2),
        metrics.clone(),
        Instant::now(),
    ));
    let broken = addrs(1)[0];
    for (round, ejection) in [(1, 30), (2, 60), (3, 90)] {
        assert!(detector.observe(broken, &s(500)).is_some(), "round {round}");
        assert_eq!(
            detector.eligible(&addrs(2)),
            addrs(2)[1..],
            "round {round}: no traffic while ejected"
        );
        tokio::time::advance(Duration::from_secs(ejection) - Duration::from_millis(1)).await;
        assert!(
            detector.lock().is_ejected(&broken, Instant::now()),
            "round {round}: still out"
        );
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(
            detector.eligible(&addrs(2)),
            addrs(2),
            "round {round}: back after {ejection}s"
        );
        assert_eq!(metrics.ejections("reviews"), round);
    }
    let state = detector.snapshot();
    assert_eq!((state[0].ejections, state[0].ejected), (3, None));
    assert_eq!(
        metrics.ejected_now("reviews"),
        0,
        "the sweep updated the gauge"
    );
}

#[tokio::test(start_paused = true)]
async fn the_ejection_multiplier_eases_while_the_endpoint_stays_healthy() {
    let policy = OutlierPolicy {
        consecutive_5xx: Some(1),
        interval: Duration::from_secs(10),
        ..Default::default()
    };
    let mut detector = detector(policy, 2);
    let broken = addrs(1)[0];
    detector.observe(broken, &s(500), Instant::now());
    tokio::time::advance(Duration::from_secs(30)).await;
    detector.sweep(Instant::now());
    assert_eq!(
        detector.snapshot(Instant::now())[0].ejections,
        1,
        "returned, multiplier kept"
    );
    tokio::time::advance(Duration::from_secs(10)).await;
    detector.sweep(Instant::now());
    assert_eq!(
        detector.snapshot(Instant::now())[0].ejections,
        0,
        "a healthy interval eases it"
    );
}

#[test]
fn max_ejection_percent_caps_ejections_but_one_always_may_go() {
    // (endpoints, maxEjectionPercent, broken endpoints, ejected)
    let table = [
        (4, 50, 3, 2),
        (4, 100, 4, 4),
        (2, 10, 2, 1),
        (10, 10, 3, 1),
        (10, 0, 3, 1),
        (3, 50, 3, 1),
    ];
    for (n, max, broken, want) in table {
        let policy = OutlierPolicy {
            consecutive_5xx: Some(1),
            max_ejection_percent: max,
            ..Default::default()
        };
        let mut detector = detector(policy, n);
        let now = Instant::now();
        for endpoint in &addrs(n)[..broken] {
            for _ in 0..3 {
                detector.observe(*endpoint, &s(500), now);
            }
        }
        let ejected = addrs(n)
            .iter()
            .filter(|e| detector.is_ejected(e, now))
            .count();
        assert_eq!(ejected, want, "{n} endpoints, {max}%, {broken} broken");
    }
}

#[test]
fn below_min_health_percent_traffic_goes_to_all_endpoints() {
    // (minHealthPercent, eligible endpoints with 2 of 4 ejected)
    for (min_health, eligible) in [(0, 2), (50, 2), (51, 4), (100, 4)] {
        let policy = OutlierPolicy {
            consecutive_5xx: Some(1),
            max_ejection_percent: 50,
            min_health_percent: min_health,
            ..Default::default()
        };
        let mut detector = detector(policy, 4);
        let now = Instant::now();
        for endpoint in &addrs(4)[..2] {
            detector.observe(*endpoint, &s(503), now);
        }
        assert_eq!(
            detector.eligible(&addrs(4), now).len(),
            eligible,
            "minHealthPercent {min_health}"
        );
    }
}

#[test]
fn all_ejected_leaves_no_eligible_endpoint() {
    let policy = OutlierPolicy {
        consecutive_5xx: Some(1),
        max_ejection_percent: 100,
        ..Default::default()
    };
    let mut detector = detector(policy, 1);
    detector.observe(addrs(1)[0], &s(500), Instant::now());
    assert!(detector.eligible(&addrs(1), Instant::now()).is_empty());
}

#[test]
fn endpoints_follow_the_snapshot() {
    let mut detector = detector(
        OutlierPolicy {
            consecutive_5xx: Some(1),
            ..Default::default()
        },
        2,
    );
    let [a, b] = [addrs(2)[0], addrs(2)[1]];
    detector.observe(a, &s(500), Instant::now());
    let c = SocketAddr::from(([10, 0, 0, 9], 8080));
    detector.set_endpoints(&[b, c]);
    let listed: Vec<_> = detector
        .snapshot(Instant::now())
        .iter()
        .map(|e| e.endpoint)
        .collect();
    assert_eq!(listed, [b, c]);
    assert!(
        detector.observe(a, &s(500), Instant::now()).is_none(),
        "a gone endpoint is ignored"
    );
}

#[tokio::test(start_paused = true)]
async fn ejects_none_holds_exactly_while_every_candidate_is_eligible() {
    let mut detector = detector(gateway_2(), 3);
    let all = addrs(3);
    let now = Instant::now();
    assert!(detector.ejects_none(now));
    assert_eq!(detector.eligible(&all, now), all);
    detector.observe(all[0], &s(502), now);
    assert!(
        detector.ejects_none(now),
        "one failure in a row ejects nothing"
    );
    detector.observe(all[0], &s(502), now);
    assert!(!detector.ejects_none(now));
    assert_eq!(detector.eligible(&all, now), &all[1..]);
    let returned = now + gateway_2().base_ejection_time;
    assert!(
        detector.ejects_none(returned),
        "back once its ejection time is over"
    );
    assert_eq!(detector.eligible(&all, returned), all);
}
