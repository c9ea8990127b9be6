use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

use super::*;
use crate::resilience::outcome::Outcome;
use crate::resources::TrafficPolicy;
use crate::snapshot::{Address, Memo};

/// Counts the warnings logged.
struct Warnings(Arc<AtomicUsize>);

impl<S: Subscriber> Layer<S> for Warnings {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if *event.metadata().level() == Level::WARN {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// How many warnings `run` logs.
fn warnings(run: impl FnOnce()) -> usize {
    let count = Arc::new(AtomicUsize::new(0));
    let subscriber = tracing_subscriber::registry().with(Warnings(count.clone()));
    tracing::subscriber::with_default(subscriber, || {
        tracing::callsite::rebuild_interest_cache();
        run();
    });
    count.load(Ordering::SeqCst)
}

fn table(rules: serde_json::Value) -> RouteTable {
    RouteTable {
        virtual_service: "shop/web".into(),
        http: serde_json::from_value(rules).unwrap(),
        ..RouteTable::default()
    }
}

fn cluster(policy: serde_json::Value) -> Cluster {
    let policy: TrafficPolicy = serde_json::from_value(policy).unwrap();
    Cluster {
        name: "outbound|80|v1|web.shop.svc.cluster.local".into(),
        hostname: "web.shop.svc.cluster.local".into(),
        port: 80,
        subset: Some("v1".into()),
        endpoints: vec![(Address::Ip("10.0.0.1".parse().unwrap()), 8080)],
        weights: Vec::new(),
        localities: Vec::new(),
        policy,
        rule_namespace: Some("shop".into()),
        resilience: Memo::default(),
    }
}

#[test]
fn a_rule_retry_on_the_mesh_does_not_act_on_is_warned_about_once_not_per_request() {
    let snapshot = Snapshot::default();
    let table = table(json!([
        {"retries": {"attempts": 3, "retryOn": "5xx,retriable-headers"}},
        {"retries": {"attempts": 1, "retryOn": "reset"}}
    ]));
    let mut policies = Vec::new();
    let warned = warnings(|| {
        for _ in 0..3 {
            policies.push(retry_policy(&snapshot, Some((&table, 0))));
        }
    });
    assert_eq!(warned, 1, "one warning for the table, not one per request");
    assert!(policies.iter().all(|p| *p == policies[0]));
    assert_eq!(policies[0].attempts, 3);
    assert!(
        !policies[0].should_retry(&Outcome::status(500)),
        "the default conditions, as before: 5xx is not among them"
    );
    let reset = retry_policy(&snapshot, Some((&table, 1)));
    assert_eq!(reset.attempts, 1);
}

#[test]
fn a_rule_without_retries_takes_the_mesh_default_compiled_once_per_snapshot() {
    let mut snapshot = Snapshot::default();
    snapshot.mesh.default_http_retry_policy.retry_on = Some("gateway-error,nonsense".into());
    let table = table(json!([{}]));
    let warned = warnings(|| {
        for _ in 0..3 {
            let policy = retry_policy(&snapshot, Some((&table, 0)));
            assert_eq!(policy.attempts, 2, "the mesh's attempts");
            assert_eq!(retry_policy(&snapshot, None), policy, "no rule matched");
        }
    });
    assert_eq!(warned, 1, "the mesh default is compiled once");
    let plain = Snapshot::default();
    assert_eq!(
        warnings(|| assert!(retry_policy(&plain, None).attempts > 0)),
        0
    );
}

#[test]
fn a_cluster_compiles_its_policies_once_and_a_copy_its_own() {
    let cluster = cluster(json!({
        "connectionPool": {"tcp": {"maxConnections": 7}},
        "outlierDetection": {"consecutive5xxErrors": 2}
    }));
    let first = cluster_policies(&cluster);
    assert!(std::ptr::eq(first, cluster_policies(&cluster)), "looked up");
    assert_eq!(first.pool.map(|p| p.max_connections), Some(7));
    assert_eq!(first.outlier.and_then(|o| o.consecutive_5xx), Some(2));
    assert_eq!(&*first.endpoints, ["10.0.0.1:8080".parse().unwrap()]);
    assert_eq!(first.destination.subset.as_deref(), Some("v1"));
    let copy = cluster.clone();
    let theirs = cluster_policies(&copy);
    assert!(
        !Arc::ptr_eq(&first.endpoints, &theirs.endpoints),
        "a copy (to be changed) compiles its own endpoint list"
    );
}
