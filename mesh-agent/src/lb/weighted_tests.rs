//! Table tests of weighted endpoints (ServiceEntry `endpoints[].weight`): each algorithm gives
//! an endpoint its share.

use std::collections::BTreeMap;

use super::*;

/// Three endpoints weighing 1, 2 and 7.
fn weighted(yaml: &str) -> ClusterBalancer {
    let lb: LoadBalancer = serde_yaml::from_str(yaml).unwrap();
    let endpoints = (1..=3)
        .map(|i| SocketAddr::from(([10, 0, 0, i], 80)))
        .collect();
    ClusterBalancer::weighted(endpoints, vec![1, 2, 7], Some(&lb), Chance::seeded(9))
}

/// How many of `n` picks (each held until all are made) went to each endpoint, by last octet.
fn shares(balancer: &ClusterBalancer, headers: &HeaderMap, n: usize) -> BTreeMap<u8, usize> {
    let uri: Uri = "/".parse().unwrap();
    let input = PickInput {
        headers,
        uri: &uri,
        source_ip: None,
        original_dst: None,
    };
    let picks: Vec<Pick> = (0..n).map(|_| balancer.pick(&input).unwrap()).collect();
    let mut counts = BTreeMap::new();
    for pick in &picks {
        let SocketAddr::V4(v4) = pick.endpoint else {
            unreachable!()
        };
        *counts.entry(v4.ip().octets()[3]).or_default() += 1;
    }
    counts
}

#[test]
fn round_robin_gives_each_exactly_its_share() {
    let counts = shares(&weighted("{simple: ROUND_ROBIN}"), &HeaderMap::new(), 1000);
    assert_eq!(counts, BTreeMap::from([(1, 100), (2, 200), (3, 700)]));
}

#[test]
fn random_and_least_request_give_each_about_its_share() {
    for lb in ["{simple: RANDOM}", "{simple: LEAST_REQUEST}"] {
        let counts = shares(&weighted(lb), &HeaderMap::new(), 1000);
        let (light, middle, heavy) = (counts[&1], counts[&2], counts[&3]);
        assert!((50..=160).contains(&light), "{lb}: {counts:?}");
        assert!((130..=280).contains(&middle), "{lb}: {counts:?}");
        assert!((600..=800).contains(&heavy), "{lb}: {counts:?}");
    }
}

#[test]
fn consistent_hash_gives_the_heavy_endpoint_most_keys() {
    let balancer = weighted("{consistentHash: {httpHeaderName: x-user}}");
    let mut owners: BTreeMap<u8, usize> = BTreeMap::new();
    for user in 0..400 {
        let mut headers = HeaderMap::new();
        headers.insert("x-user", user.to_string().parse().unwrap());
        let counts = shares(&balancer, &headers, 1);
        for (endpoint, count) in counts {
            *owners.entry(endpoint).or_default() += count;
        }
    }
    assert!(owners[&3] > 200, "{owners:?}");
    assert!(owners[&1] < owners[&3] / 3, "{owners:?}");
}

#[test]
fn even_weights_balance_as_unweighted() {
    let lb: LoadBalancer = serde_yaml::from_str("{}").unwrap();
    let endpoints = (1..=2)
        .map(|i| SocketAddr::from(([10, 0, 0, i], 80)))
        .collect();
    let balancer = ClusterBalancer::weighted(endpoints, vec![5, 5], Some(&lb), Chance::seeded(1));
    let counts = shares(&balancer, &HeaderMap::new(), 10);
    assert_eq!(counts, BTreeMap::from([(1, 5), (2, 5)]));
}
