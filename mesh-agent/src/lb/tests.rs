//! Table tests of the cluster balancer: each algorithm's choices.

use super::*;

fn endpoints(n: u8) -> Vec<SocketAddr> {
    (1..=n)
        .map(|i| SocketAddr::from(([10, 0, 0, i], 80)))
        .collect()
}

fn balancer(yaml: &str, n: u8) -> ClusterBalancer {
    let lb: LoadBalancer = serde_yaml::from_str(yaml).unwrap();
    ClusterBalancer::new(endpoints(n), Some(&lb), Chance::seeded(5))
}

fn picks(balancer: &ClusterBalancer, headers: &HeaderMap, n: usize) -> Vec<SocketAddr> {
    let uri: Uri = "/".parse().unwrap();
    let input = PickInput {
        headers,
        uri: &uri,
        source_ip: Some([10, 1, 0, 1].into()),
        original_dst: Some("10.96.0.1:80".parse().unwrap()),
    };
    (0..n)
        .map(|_| balancer.pick(&input).unwrap().endpoint)
        .collect()
}

fn spread(picked: &[SocketAddr]) -> std::collections::BTreeMap<SocketAddr, usize> {
    let mut counts = std::collections::BTreeMap::new();
    picked
        .iter()
        .for_each(|e| *counts.entry(*e).or_default() += 1);
    counts
}

#[test]
fn round_robin_is_even_and_the_default() {
    for lb in ["{simple: ROUND_ROBIN}", "{}"] {
        let counts = spread(&picks(&balancer(lb, 3), &HeaderMap::new(), 300));
        assert_eq!(
            counts.values().copied().collect::<Vec<_>>(),
            [100, 100, 100],
            "{lb}"
        );
    }
}

#[test]
fn random_reaches_every_endpoint() {
    let counts = spread(&picks(
        &balancer("{simple: RANDOM}", 3),
        &HeaderMap::new(),
        300,
    ));
    assert_eq!(counts.len(), 3);
    assert!(counts.values().all(|c| (60..140).contains(c)), "{counts:?}");
}

#[test]
fn passthrough_goes_where_the_client_dialled() {
    let picked = picks(&balancer("{simple: PASSTHROUGH}", 0), &HeaderMap::new(), 2);
    assert_eq!(picked, ["10.96.0.1:80".parse::<SocketAddr>().unwrap(); 2]);
}

#[test]
fn least_request_avoids_the_busy_endpoint() {
    let balancer = balancer("{simple: LEAST_REQUEST}", 2);
    let (headers, uri) = (HeaderMap::new(), "/".parse::<Uri>().unwrap());
    let input = PickInput {
        headers: &headers,
        uri: &uri,
        source_ip: None,
        original_dst: None,
    };
    let slow = balancer.pick(&input).unwrap();
    let held: Vec<Pick> = (0..10).map(|_| balancer.pick(&input).unwrap()).collect();
    // With one request parked on the first pick, the next ones alternate only while loads tie.
    let to_slow = held.iter().filter(|p| p.endpoint == slow.endpoint).count();
    assert!(to_slow <= 5, "{to_slow} of 10 went to the busy endpoint");
    drop(held);
    let idle = endpoints(2)
        .into_iter()
        .find(|e| *e != slow.endpoint)
        .unwrap();
    assert!(picks(&balancer, &headers, 5).iter().all(|e| *e == idle));
}

#[test]
fn consistent_hash_on_a_header_pins_a_client() {
    let balancer = balancer("{consistentHash: {httpHeaderName: x-user}}", 4);
    let mut pinned = std::collections::BTreeSet::new();
    for user in ["alice", "bob", "carol", "dave", "erin", "frank"] {
        let mut headers = HeaderMap::new();
        headers.insert("x-user", user.parse().unwrap());
        let counts = spread(&picks(&balancer, &headers, 20));
        assert_eq!(counts.len(), 1, "{user} moved: {counts:?}");
        pinned.extend(counts.keys().copied());
    }
    assert!(pinned.len() > 1, "every user on one endpoint");
}

#[test]
fn an_empty_cluster_has_no_pick() {
    let balancer = balancer("{}", 0);
    let (headers, uri) = (HeaderMap::new(), "/".parse::<Uri>().unwrap());
    let input = PickInput {
        headers: &headers,
        uri: &uri,
        source_ip: None,
        original_dst: None,
    };
    assert!(balancer.pick(&input).is_none());
}
