//! The `connect()` hook's authorization denials kept in step with the configuration and the
//! enrolled pods: each enrolled pod gets the destinations whose AuthorizationPolicies deny it
//! for sure on its registry identity ([`surely_denied`]) — meshed pods behind a Kubernetes
//! Service, on their target ports and on the ports their policies name, and a Service's
//! ClusterIP port when every endpoint behind it denies. The destination still decides on its
//! own; a denial here only spares the handshake and the hop. At most
//! `CONNECT_DENIED_CAPACITY` pairs: past it, the destinations decide alone.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use mesh_common::CONNECT_DENIED_CAPACITY;

use crate::authz::{policies_for, surely_denied, AuthzFacts};
use crate::capture::{ConnectDenials, DeniedConnects};
use crate::identity::Identity;
use crate::pipeline::ConfigState;
use crate::pods::{EnrolledPod, EnrolledPods};
use crate::snapshot::{Address, Snapshot};

/// How often enrollment changes are looked for between snapshot swaps.
const ENROLLMENT_CHECK: Duration = Duration::from_secs(1);

/// A Kubernetes Service port: its ClusterIP addresses and the pod endpoints behind it.
struct ServiceTarget {
    fronts: Vec<SocketAddr>,
    backends: Vec<SocketAddr>,
}

/// The pairs `connect()` refuses for `pods` under `snapshot`. With `identity_proven` (the node
/// has workload certificates, so the tunnel proves the pods' identities to every destination)
/// a pair is denied when its identity is; without, it must also be denied to a peer of no
/// identity (plain text, as a destination on another node sees it).
pub fn plan(snapshot: &Snapshot, pods: &[EnrolledPod], identity_proven: bool) -> ConnectDenials {
    let (targets, backends) = destinations(snapshot);
    let mut by_identity: HashMap<String, Vec<SocketAddr>> = HashMap::new();
    let mut denials = ConnectDenials::new();
    for pod in pods {
        let Some(principal) = snapshot.workload(pod.ip).and_then(|w| w.principal.clone()) else {
            continue;
        };
        let Ok(identity) = Identity::parse(&principal) else {
            continue;
        };
        let denied = by_identity.entry(principal).or_insert_with(|| {
            let check = |addr: &SocketAddr| denies(snapshot, &identity, *addr, identity_proven);
            denied_destinations(&targets, &backends, check)
        });
        for destination in denied.iter() {
            if denials.len() >= CONNECT_DENIED_CAPACITY as usize {
                tracing::warn!(
                    capacity = CONNECT_DENIED_CAPACITY,
                    "too many connect-time denials: the rest are left to the destinations"
                );
                return denials;
            }
            denials.insert((pod.netns_cookie, *destination));
        }
    }
    denials
}

/// Every Kubernetes Service port with its pod endpoints, and every pod endpoint (IP, port) to
/// decide: the Services' target ports and the ports the pod's policies name.
fn destinations(snapshot: &Snapshot) -> (Vec<ServiceTarget>, BTreeSet<SocketAddr>) {
    let mut targets = Vec::new();
    let mut backends = BTreeSet::new();
    let services = snapshot.registry().services().iter();
    for service in services.filter(|s| !s.from_entry) {
        for port in &service.ports {
            let pods = service.endpoints.iter().filter_map(|e| match e.address {
                Address::Ip(ip) => Some(SocketAddr::new(ip, *e.ports.get(&port.port)?)),
                Address::Dns(_) => None,
            });
            let pods: Vec<SocketAddr> = pods.collect();
            backends.extend(pods.iter().copied());
            let fronts = service.addresses.iter();
            let fronts = fronts.map(|ip| SocketAddr::new(*ip, port.port)).collect();
            targets.push(ServiceTarget {
                fronts,
                backends: pods,
            });
        }
    }
    let pod_ips: BTreeSet<IpAddr> = backends.iter().map(SocketAddr::ip).collect();
    for ip in pod_ips {
        backends.extend(policy_ports(snapshot, ip).map(|port| SocketAddr::new(ip, port)));
    }
    (targets, backends)
}

/// The ports the policies in scope of the pod at `ip` name in `to.operation.ports`.
fn policy_ports(snapshot: &Snapshot, ip: IpAddr) -> impl Iterator<Item = u16> + '_ {
    let policies = match snapshot.workload(ip) {
        Some(workload) => policies_for(snapshot, workload, ip),
        None => Vec::new(),
    };
    let rules = policies.into_iter().flat_map(|p| p.rules.iter());
    rules
        .flat_map(|r| r.to.iter())
        .flat_map(|o| o.ports.any.iter().copied())
}

/// The pod endpoints `check` denies, and the fronts of the Services all of whose (one or more)
/// endpoints it denies.
fn denied_destinations(
    targets: &[ServiceTarget],
    backends: &BTreeSet<SocketAddr>,
    check: impl Fn(&SocketAddr) -> bool,
) -> Vec<SocketAddr> {
    let denied: BTreeSet<SocketAddr> = backends.iter().copied().filter(check).collect();
    let fronts = targets
        .iter()
        .filter(|t| !t.backends.is_empty() && t.backends.iter().all(|b| denied.contains(b)))
        .flat_map(|t| t.fronts.iter().copied());
    let mut all: Vec<SocketAddr> = fronts.collect();
    all.extend(denied);
    all
}

/// Whether the meshed pod at `destination` denies `identity` for sure on that port.
fn denies(snapshot: &Snapshot, identity: &Identity, destination: SocketAddr, proven: bool) -> bool {
    let Some(workload) = snapshot.workload(destination.ip()).filter(|w| w.meshed) else {
        return false;
    };
    let policies = policies_for(snapshot, workload, destination.ip());
    if policies.is_empty() {
        return false;
    }
    let peers = [Some(identity), None];
    let peers = &peers[..if proven { 1 } else { 2 }];
    peers.iter().all(|peer| {
        let unknown = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let facts = AuthzFacts {
            peer: *peer,
            source_ip: unknown,
            remote_ip: unknown,
            destination,
            sni: None,
            http: None,
        };
        surely_denied(&policies, &facts).is_some()
    })
}

/// Applies the plan whenever it changes, until the pipeline is gone.
pub async fn run(
    state: ConfigState,
    pods: Arc<EnrolledPods>,
    denied: Arc<dyn DeniedConnects>,
    identity_proven: bool,
) {
    let mut swaps = state.swaps();
    let mut in_force = ConnectDenials::new();
    loop {
        let next = plan(&state.snapshot(), &pods.list().await, identity_proven);
        if next != in_force {
            match denied.apply(&next) {
                Ok(()) => {
                    tracing::info!(pairs = next.len(), "connect-time denials in force");
                    in_force = next;
                }
                Err(error) => tracing::warn!(
                    error = format!("{error:#}"),
                    "connect-time denials not written; retrying"
                ),
            }
        }
        tokio::select! {
            changed = swaps.changed() => if changed.is_err() { return },
            () = tokio::time::sleep(ENROLLMENT_CHECK) => {}
        }
    }
}

#[cfg(test)]
mod tests;
