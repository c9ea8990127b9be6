//! Each traffic policy rule with a valid and an invalid case.

use super::*;
use crate::validate::finding::table::{lines, spec};

fn found(yaml: &str) -> Vec<String> {
    let mut found = Findings::default();
    traffic_policy(&mut found, "p", &spec(yaml));
    lines(&found)
}

#[test]
fn tutorial_policies_pass() {
    for good in [
        "loadBalancer: {simple: LEAST_REQUEST, warmupDurationSecs: 10s}",
        "loadBalancer: {consistentHash: {httpCookie: {name: user, ttl: 0s}, ringHash: {minimumRingSize: 1024}}}",
        "loadBalancer: {consistentHash: {useSourceIp: true, maglev: {tableSize: 65537}}}",
        "connectionPool: {tcp: {maxConnections: 1, connectTimeout: 30ms, tcpKeepalive: {time: 7200s}}, http: {idleTimeout: 1s}}",
        "outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 3m}",
        "portLevelSettings: [{port: {number: 80}, loadBalancer: {simple: RANDOM}}]",
    ] {
        assert_eq!(found(good), Vec::<String>::new(), "{good}");
    }
}

#[test]
fn each_malformed_policy_is_named() {
    let cases = [
        ("{}", vec!["p: traffic policy must have at least one field"]),
        (
            "loadBalancer: {simple: RANDOM, consistentHash: {httpHeaderName: x, useSourceIp: true, httpCookie: {ttl: 1s}}}",
            vec![
                "p.loadBalancer: set only one of simple or consistentHash",
                "p.loadBalancer.consistentHash: hash on one key only: httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName",
                "p.loadBalancer.consistentHash.httpCookie.name: name required for httpCookie",
            ],
        ),
        (
            "loadBalancer: {consistentHash: {useSourceIp: true, minimumRingSize: 9000000, maglev: {tableSize: 65536}}}",
            vec![
                "p.loadBalancer.consistentHash.minimumRingSize: warning: deprecated: use ringHash.minimumRingSize",
                "p.loadBalancer.consistentHash.minimumRingSize: set only one of minimumRingSize or ringHash/maglev",
                "p.loadBalancer.consistentHash.minimumRingSize: 9000000 is past Envoy's largest ring (8388608)",
                "p.loadBalancer.consistentHash.maglev.tableSize: tableSize 65536 is not a prime number",
            ],
        ),
        (
            "loadBalancer: {consistentHash: {ringHash: {}, maglev: {}}}",
            vec![
                "p.loadBalancer.consistentHash: set only one of ringHash or maglev",
                "p.loadBalancer.consistentHash.maglev.tableSize: tableSize must be set for maglev",
            ],
        ),
        (
            "connectionPool: {http: {h2UpgradePolicy: UPGRADE, useClientProtocol: true}, tcp: {connectTimeout: 0.1ms}}",
            vec![
                "p.connectionPool.http.useClientProtocol: useClientProtocol must not be true when h2UpgradePolicy is UPGRADE",
                "p.connectionPool.tcp.connectTimeout: 0.1ms is shorter than 1ms",
            ],
        ),
        ("connectionPool: {}", vec!["p.connectionPool: connection pool must have at least one field"]),
        (
            "outlierDetection: {consecutiveLocalOriginFailures: 2, interval: 0s}",
            vec![
                "p.outlierDetection.interval: 0s is shorter than 1ms",
                "p.outlierDetection.consecutiveLocalOriginFailures: consecutiveLocalOriginFailures needs splitExternalLocalOriginErrors: true",
            ],
        ),
        (
            "portLevelSettings: [{loadBalancer: {simple: RANDOM}}, {port: {number: 80}}]",
            vec![
                "p.portLevelSettings[0].port: a port-level policy needs a port",
                "p.portLevelSettings[1]: port traffic policy must have at least one field",
            ],
        ),
        ("tunnel: {targetHost: a, targetPort: 1}\nproxyProtocol: {}", vec!["p: tunnel and proxyProtocol must not be set together"]),
    ];
    for (yaml, want) in cases {
        assert_eq!(found(yaml), want, "{yaml}");
    }
}
