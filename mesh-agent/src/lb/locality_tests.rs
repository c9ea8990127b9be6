//! Table tests of locality-aware balancing: priorities, failover, distribute, the priority load.

use super::*;
use crate::chance::Chance;
use crate::lb::ClusterBalancer;
use crate::resources::TrafficPolicy;
use crate::snapshot::{Address, Cluster};

fn policy(yaml: &str) -> TrafficPolicy {
    serde_yaml::from_str(yaml).unwrap()
}

fn localities(list: &[&str]) -> Vec<Arc<str>> {
    list.iter().map(|l| Arc::from(*l)).collect()
}

fn own(text: &str) -> Locality {
    text.parse().unwrap()
}

const OUTLIER: &str = "{outlierDetection: {consecutive5xxErrors: 1}}";
const ENDPOINTS: [&str; 5] = ["us/a/r1", "us/a/r2", "us/b", "eu/c", "ap/d"];

#[test]
fn priorities_follow_istio_s_region_zone_subzone_order_only_with_outlier_detection() {
    let here = own("us/a/r1");
    let planned = plan(Some(&here), &localities(&ENDPOINTS), &[], &policy(OUTLIER));
    assert_eq!(planned.priorities, Some(vec![0, 1, 2, 3, 3]));
    assert_eq!(planned.weights, None);
    let without = plan(Some(&here), &localities(&ENDPOINTS), &[], &policy("{}"));
    assert_eq!(without, LocalityPlan::default(), "no outlierDetection");
    let disabled = "{outlierDetection: {consecutive5xxErrors: 1}, \
                    loadBalancer: {localityLbSetting: {enabled: false}}}";
    let off = plan(Some(&here), &localities(&ENDPOINTS), &[], &policy(disabled));
    assert_eq!(off, LocalityPlan::default(), "enabled: false");
    let unknown = plan(None, &localities(&ENDPOINTS), &[], &policy(OUTLIER));
    assert_eq!(
        unknown,
        LocalityPlan::default(),
        "the agent's locality unknown"
    );
    let same = plan(
        Some(&here),
        &localities(&["us/a/r1"; 2]),
        &[],
        &policy(OUTLIER),
    );
    assert_eq!(same.priorities, None, "one priority");
}

#[test]
fn failover_puts_the_named_region_before_the_others() {
    let rule = "{outlierDetection: {consecutive5xxErrors: 1}, loadBalancer: \
                {localityLbSetting: {failover: [{from: us, to: ap}]}}}";
    let planned = plan(
        Some(&own("us/a/r1")),
        &localities(&ENDPOINTS),
        &[],
        &policy(rule),
    );
    assert_eq!(planned.priorities, Some(vec![0, 1, 2, 4, 3]));
    let elsewhere = plan(
        Some(&own("eu/c")),
        &localities(&ENDPOINTS),
        &[],
        &policy(rule),
    );
    assert_eq!(
        elsewhere.priorities,
        Some(vec![3, 3, 3, 0, 3]),
        "from another region"
    );
}

#[test]
fn distribute_shares_each_locality_s_weight_among_its_endpoints() {
    let rule = "{loadBalancer: {localityLbSetting: {distribute: [\
                {from: 'eu/*', to: {'us/*': 50}}, \
                {from: 'us/a/*', to: {'us/a/*': 80, 'eu/*': 20}}]}}}";
    let planned = plan(
        Some(&own("us/a/r1")),
        &localities(&ENDPOINTS),
        &[1, 3, 1, 1, 1],
        &policy(rule),
    );
    // us/a: 80 over weights 1 and 3; eu: 20; us/b and ap in no `to`: no traffic.
    assert_eq!(planned.weights, Some(vec![20_000, 60_000, 0, 20_000, 0]));
    assert_eq!(planned.priorities, None, "distribute, not failover");
    let none = plan(
        Some(&own("ap/d")),
        &localities(&ENDPOINTS),
        &[],
        &policy(rule),
    );
    assert_eq!(none, LocalityPlan::default(), "no `from` matches");
}

#[test]
fn patterns_match_as_istio_s_locality_match() {
    let here = own("us/a/r1");
    for (pattern, expected) in [
        ("us", true),
        ("us/*", true),
        ("us/a/*", true),
        ("us/a/r1", true),
        ("*", true),
        ("us/b", false),
        ("us/a/r2", false),
        ("eu/*", false),
    ] {
        assert_eq!(matches(pattern, &here), expected, "{pattern}");
    }
    assert!("us/a/r1/x".parse::<Locality>().is_err());
    assert!("".parse::<Locality>().is_err());
    assert_eq!(own("us").zone, "");
}

fn addresses(n: u8) -> Vec<SocketAddr> {
    (1..=n)
        .map(|i| SocketAddr::from(([192, 0, 2, i], 80)))
        .collect()
}

#[test]
fn the_priority_load_spills_past_the_overprovisioned_healthy_share() {
    let endpoints = addresses(4);
    let priorities = Priorities::new(&endpoints, &[0, 0, 2, 3]);
    assert_eq!(priorities.loads(&endpoints), [100, 0, 0]);
    // One of two closest ejected: 50 % × 1.4 = 70 % stays, 30 % goes to the next.
    assert_eq!(priorities.loads(&endpoints[1..]), [70, 30, 0]);
    assert_eq!(priorities.loads(&endpoints[2..]), [0, 100, 0]);
    assert_eq!(priorities.loads(&endpoints[3..]), [0, 0, 100]);
    assert_eq!(priorities.loads(&[]), [0, 0, 0]);
    let narrowed = priorities.narrow(endpoints[1..].to_vec(), 69);
    assert_eq!(narrowed, [endpoints[1]]);
    let narrowed = priorities.narrow(endpoints[1..].to_vec(), 70);
    assert_eq!(narrowed, [endpoints[2]]);
}

fn cluster(yaml: &str, localities_of: &[&str]) -> Cluster {
    let n = localities_of.len() as u8;
    Cluster {
        name: "outbound|80||api.example.com".into(),
        hostname: "api.example.com".into(),
        port: 80,
        subset: None,
        endpoints: addresses(n)
            .iter()
            .map(|a| (Address::Ip(a.ip()), 80))
            .collect(),
        weights: Vec::new(),
        localities: localities(localities_of),
        policy: policy(yaml),
        rule_namespace: None,
        resilience: crate::snapshot::Memo::default(),
    }
}

#[test]
fn the_balancer_keeps_to_the_closest_healthy_locality_and_fails_over() {
    let cluster = cluster(OUTLIER, &["eu/c", "us/a", "us/b"]);
    let here = own("us/a");
    let balancer = ClusterBalancer::for_cluster(&cluster, Chance::seeded(3), Some(&here));
    let all = addresses(3);
    for _ in 0..20 {
        assert_eq!(balancer.closest(all.clone()), [all[1]]);
    }
    let without_closest = vec![all[0], all[2]];
    assert_eq!(
        balancer.closest(without_closest),
        [all[2]],
        "same region next"
    );
    assert_eq!(balancer.closest(vec![all[0]]), [all[0]], "then the rest");
    let unknown = ClusterBalancer::for_cluster(&cluster, Chance::seeded(3), None);
    assert_eq!(unknown.closest(all.clone()), all);
}

#[test]
fn a_distributed_balancer_leaves_out_localities_it_gives_nothing() {
    let rule = "{loadBalancer: {localityLbSetting: {distribute: [\
                {from: 'us/*', to: {'us/a': 75, 'eu/c': 25}}]}}}";
    let cluster = cluster(rule, &["eu/c", "us/a", "us/b"]);
    let here = own("us/a");
    let balancer = ClusterBalancer::for_cluster(&cluster, Chance::seeded(3), Some(&here));
    let all = addresses(3);
    assert_eq!(balancer.endpoints(), [all[0], all[1]]);
    let (headers, uri) = (hyper::HeaderMap::new(), hyper::Uri::default());
    let input = crate::lb::PickInput {
        headers: &headers,
        uri: &uri,
        source_ip: None,
        original_dst: None,
    };
    let us = (0..400)
        .filter(|_| balancer.pick(&input).unwrap().endpoint == all[1])
        .count();
    assert_eq!(us, 300, "smooth weighted round robin: exactly 3 of 4");
}

#[test]
fn a_node_s_topology_labels_are_its_locality() {
    let labels = std::collections::BTreeMap::from([
        ("topology.kubernetes.io/region".to_owned(), "us".to_owned()),
        ("topology.kubernetes.io/zone".to_owned(), "us-1a".to_owned()),
        ("topology.istio.io/subzone".to_owned(), "rack-4".to_owned()),
    ]);
    assert_eq!(Locality::of_node(&labels), Some(own("us/us-1a/rack-4")));
    assert_eq!(Locality::of_node(&Default::default()), None);
}
