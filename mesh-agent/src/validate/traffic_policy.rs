//! A DestinationRule's traffic policies (Istio's `validateTrafficPolicy` and what it calls):
//! never empty; load balancing one of simple or consistent hash, hashed on one key, ring or
//! maglev sized within Envoy's bounds; connection pools and outlier detection with durations of
//! at least 1ms; client TLS with the certificates its mode needs; locality settings
//! (`locality.rs`); port-level policies naming a port. (Numbers past their range: [`super::ranges`].)

use super::durations::duration;
use super::finding::Findings;
use crate::resources::{
    ConnectionPool, H2UpgradePolicy, LoadBalancer, OutlierDetection, PortTrafficPolicy,
    TrafficPolicy,
};

/// Envoy's bound on a hash ring (`RingHashLbConfig.minimum_ring_size`).
const RING_MAX: u64 = 8_388_608;
/// Maglev's table size must be a prime below this (Istio's bound).
const MAGLEV_MAX: u64 = 5_000_011;

/// Problems of the traffic policy at `at`.
pub(crate) fn traffic_policy(found: &mut Findings, at: &str, policy: &TrafficPolicy) {
    let set = [
        policy.load_balancer.is_some(),
        policy.connection_pool.is_some(),
        policy.outlier_detection.is_some(),
        policy.tls.is_some(),
        !policy.port_level_settings.is_empty(),
        policy.tunnel.is_some(),
        policy.proxy_protocol.is_some(),
    ];
    if !set.contains(&true) {
        found.error(at, "traffic policy must have at least one field");
    }
    if policy.tunnel.is_some() && policy.proxy_protocol.is_some() {
        found.error(at, "tunnel and proxyProtocol must not be set together");
    }
    settings(found, at, &level_of(policy));
    for (i, level) in policy.port_level_settings.iter().enumerate() {
        let at = format!("{at}.portLevelSettings[{i}]");
        if level.port.is_none() {
            found.error(format!("{at}.port"), "a port-level policy needs a port");
        }
        let PortTrafficPolicy {
            load_balancer,
            connection_pool,
            outlier_detection,
            tls,
            ..
        } = level;
        if [
            load_balancer.is_some(),
            connection_pool.is_some(),
            outlier_detection.is_some(),
            tls.is_some(),
        ] == [false; 4]
        {
            found.error(&at, "port traffic policy must have at least one field");
        }
        settings(found, &at, level);
    }
}

/// The four settings a policy shares with its port-level overrides, as one.
fn level_of(policy: &TrafficPolicy) -> PortTrafficPolicy {
    PortTrafficPolicy {
        port: None,
        load_balancer: policy.load_balancer.clone(),
        connection_pool: policy.connection_pool.clone(),
        outlier_detection: policy.outlier_detection.clone(),
        tls: policy.tls.clone(),
    }
}

fn settings(found: &mut Findings, at: &str, level: &PortTrafficPolicy) {
    if let Some(lb) = &level.load_balancer {
        load_balancer(found, &format!("{at}.loadBalancer"), lb);
        if let Some(setting) = &lb.locality_lb_setting {
            let at = format!("{at}.loadBalancer.localityLbSetting");
            let outlier = level.outlier_detection.is_some();
            super::locality::locality_lb_setting(found, &at, setting, outlier);
        }
    }
    if let Some(pool) = &level.connection_pool {
        connection_pool(found, &format!("{at}.connectionPool"), pool);
    }
    if let Some(outlier) = &level.outlier_detection {
        outlier_detection(found, &format!("{at}.outlierDetection"), outlier);
    }
    if let Some(tls) = &level.tls {
        super::tls::client_tls(found, &format!("{at}.tls"), tls);
    }
}

fn load_balancer(found: &mut Findings, at: &str, lb: &LoadBalancer) {
    if lb.simple.is_some() && lb.consistent_hash.is_some() {
        found.error(at, "set only one of simple or consistentHash");
    }
    duration(
        found,
        format!("{at}.warmupDurationSecs"),
        lb.warmup_duration_secs.as_ref(),
    );
    let Some(hash) = &lb.consistent_hash else {
        return;
    };
    let at = format!("{at}.consistentHash");
    let keys = [
        hash.http_header_name.is_some(),
        hash.http_cookie.is_some(),
        hash.use_source_ip,
        hash.http_query_parameter_name.is_some(),
    ];
    if keys.iter().filter(|k| **k).count() > 1 {
        found.error(&at, "hash on one key only: httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName");
    }
    if hash.http_cookie.as_ref().is_some_and(|c| c.name.is_empty()) {
        found.error(
            format!("{at}.httpCookie.name"),
            "name required for httpCookie",
        );
    }
    if let Some(size) = hash.minimum_ring_size {
        found.warning(
            format!("{at}.minimumRingSize"),
            "deprecated: use ringHash.minimumRingSize",
        );
        if hash.ring_hash.is_some() || hash.maglev.is_some() {
            found.error(
                format!("{at}.minimumRingSize"),
                "set only one of minimumRingSize or ringHash/maglev",
            );
        }
        ring_size(found, &format!("{at}.minimumRingSize"), size);
    }
    if hash.ring_hash.is_some() && hash.maglev.is_some() {
        found.error(&at, "set only one of ringHash or maglev");
    }
    if let Some(size) = hash.ring_hash.as_ref().and_then(|r| r.minimum_ring_size) {
        ring_size(found, &format!("{at}.ringHash.minimumRingSize"), size);
    }
    if let Some(maglev) = &hash.maglev {
        let field = format!("{at}.maglev.tableSize");
        match maglev.table_size.unwrap_or(0) {
            0 => found.error(field, "tableSize must be set for maglev"),
            size if size >= MAGLEV_MAX => {
                found.error(field, format!("tableSize must be less than {MAGLEV_MAX}"))
            }
            size if !is_prime(size) => {
                found.error(field, format!("tableSize {size} is not a prime number"))
            }
            _ => {}
        }
    }
}

fn ring_size(found: &mut Findings, field: &str, size: u64) {
    if size > RING_MAX {
        found.error(
            field,
            format!("{size} is past Envoy's largest ring ({RING_MAX})"),
        );
    }
}

/// Envoy's primality test for maglev tables.
fn is_prime(x: u64) -> bool {
    match x {
        0 => false,
        1..=3 => true,
        _ if x.is_multiple_of(2) => false,
        _ => (3..)
            .step_by(2)
            .take_while(|f| f * f <= x)
            .all(|f| !x.is_multiple_of(f)),
    }
}

fn connection_pool(found: &mut Findings, at: &str, pool: &ConnectionPool) {
    if pool.http.is_none() && pool.tcp.is_none() {
        found.error(at, "connection pool must have at least one field");
    }
    if let Some(http) = &pool.http {
        duration(
            found,
            format!("{at}.http.idleTimeout"),
            http.idle_timeout.as_ref(),
        );
        if http.h2_upgrade_policy == Some(H2UpgradePolicy::Upgrade)
            && http.use_client_protocol == Some(true)
        {
            found.error(
                format!("{at}.http.useClientProtocol"),
                "useClientProtocol must not be true when h2UpgradePolicy is UPGRADE",
            );
        }
    }
    if let Some(tcp) = &pool.tcp {
        let at = format!("{at}.tcp");
        duration(
            found,
            format!("{at}.connectTimeout"),
            tcp.connect_timeout.as_ref(),
        );
        duration(
            found,
            format!("{at}.maxConnectionDuration"),
            tcp.max_connection_duration.as_ref(),
        );
        duration(
            found,
            format!("{at}.idleTimeout"),
            tcp.idle_timeout.as_ref(),
        );
        if let Some(keepalive) = &tcp.tcp_keepalive {
            duration(
                found,
                format!("{at}.tcpKeepalive.time"),
                keepalive.time.as_ref(),
            );
            duration(
                found,
                format!("{at}.tcpKeepalive.interval"),
                keepalive.interval.as_ref(),
            );
        }
    }
}

fn outlier_detection(found: &mut Findings, at: &str, outlier: &OutlierDetection) {
    duration(
        found,
        format!("{at}.baseEjectionTime"),
        outlier.base_ejection_time.as_ref(),
    );
    duration(found, format!("{at}.interval"), outlier.interval.as_ref());
    let local = outlier.consecutive_local_origin_failures.unwrap_or(0) > 0;
    if local && outlier.split_external_local_origin_errors != Some(true) {
        let message = "consecutiveLocalOriginFailures needs splitExternalLocalOriginErrors: true";
        found.error(format!("{at}.consecutiveLocalOriginFailures"), message);
    }
}

#[cfg(test)]
#[path = "traffic_policy_tests.rs"]
mod tests;
