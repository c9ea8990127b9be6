//! Picks kept to some of a cluster's endpoints (those outlier detection has not ejected, and for
//! a retry those not tried yet), and the pick of an opaque TCP connection, which goes through
//! the same balancer as a request.

use std::net::{IpAddr, SocketAddr};

use hyper::{HeaderMap, Uri};

use super::{ClusterBalancer, Pick, PickInput};

/// The balancer's `pick` when `allowed` holds it (or it is none of the cluster's `all`); else
/// the first of at most `all.len()` more picks that `allowed` holds; else one of `allowed` at
/// random. `None` when nothing is allowed or the balancer has no endpoint.
pub fn pick_within(
    mut pick: impl FnMut() -> Option<Pick>,
    all: &[SocketAddr],
    allowed: &[SocketAddr],
) -> Option<Pick> {
    if allowed.is_empty() {
        return None;
    }
    let first = pick()?;
    if allowed.contains(&first.endpoint) || !all.contains(&first.endpoint) {
        return Some(first);
    }
    for _ in 0..all.len() {
        let again = pick()?;
        if allowed.contains(&again.endpoint) {
            return Some(again);
        }
    }
    Some(Pick::at(allowed[fastrand::usize(..allowed.len())]))
}

/// The endpoint of an opaque TCP connection from `source_ip` that dialled `original_dst`: the
/// cluster balancer's pick (a connection has no headers or cookies to hash on), kept to
/// `eligible` when outlier detection restricts the cluster. LEAST_REQUEST counts the
/// connection in flight for as long as the pick is held.
pub fn for_connection(
    balancer: &ClusterBalancer,
    source_ip: IpAddr,
    original_dst: SocketAddr,
    eligible: Option<&[SocketAddr]>,
) -> Option<Pick> {
    let (headers, uri) = (HeaderMap::new(), Uri::default());
    let input = PickInput {
        headers: &headers,
        uri: &uri,
        source_ip: Some(source_ip),
        original_dst: Some(original_dst),
    };
    let pick = || balancer.pick(&input);
    match eligible {
        Some(allowed) => pick_within(pick, balancer.endpoints(), allowed),
        None => pick(),
    }
}
