//! Authorization of opaque TCP connections at their destination: on the inbound L4 path, and
//! on the same-node fast path for the inbound hop it skips. A refused connection is counted
//! (`response_flags="DENY"`), access-logged with the rule that refused it, and closed before
//! the app is dialled. A CUSTOM policy's external authorizer is asked first
//! ([`custom_refusal`]); its refusal is flagged `UAEX`, as Envoy's network filter does. An
//! allowed one is decided again at every configuration swap while it lasts: one the policies
//! now deny is closed at once, as ztunnel does. The deliveries that skip
//! the CNI (same-node fast path, tunnel) also answer to the pod's ingress NetworkPolicies,
//! decided once when the connection arrives (CNIs leave established connections alone too).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use tokio::net::TcpStream;

use super::connection_log::ConnectionLog;
use super::metrics::ConnectionMetrics;
use super::ProxyInputs;
use crate::authz::{AuthzFacts, Decision};
use crate::http::ext_authz::CheckedConnection;
use crate::identity::Identity;
use crate::network_policy::{self, Verdict};
use crate::pipeline::ConfigState;
use crate::snapshot::{Snapshot, Workload};

/// Who asks for a connection to a workload: the client's address, and its identity when it
/// is known (proven by mTLS, or the agent's own pod on the same-node path).
#[derive(Clone, Copy, Debug)]
pub struct ConnectionPeer<'a> {
    pub address: SocketAddr,
    pub identity: Option<&'a Identity>,
}

/// The policies' decision on a TCP connection from `peer` to `app` (the workload's IP and the
/// port dialled) of `workload`, the pod at `pod_ip`.
pub(super) fn decide_connection(
    inputs: &ProxyInputs,
    snapshot: &Snapshot,
    workload: &Workload,
    pod_ip: IpAddr,
    peer: ConnectionPeer,
    app: SocketAddr,
) -> Decision {
    let facts = AuthzFacts {
        peer: peer.identity,
        source_ip: peer.address.ip(),
        remote_ip: peer.address.ip(),
        destination: app,
        sni: None,
        http: None,
    };
    inputs.http.authz.check(snapshot, workload, pod_ip, &facts)
}

/// Why a CUSTOM policy's external authorizer refuses a TCP connection from `peer` to `app` of
/// `workload` (at `pod_ip`), when one of its rules matches (Envoy's network ext_authz filter,
/// asked before DENY and ALLOW); `None` when none matches or the authorizer allows. The rule
/// match is all a connection without a CUSTOM policy costs.
pub(super) async fn custom_refusal(
    inputs: &ProxyInputs,
    snapshot: &Snapshot,
    workload: &Workload,
    pod_ip: IpAddr,
    peer: ConnectionPeer<'_>,
    app: SocketAddr,
) -> Option<String> {
    let facts = AuthzFacts {
        peer: peer.identity,
        source_ip: peer.address.ip(),
        remote_ip: peer.address.ip(),
        destination: app,
        sni: None,
        http: None,
    };
    let custom = inputs
        .http
        .authz
        .custom(snapshot, workload, pod_ip, &facts)?;
    let connection = CheckedConnection {
        source: peer.address,
        destination: app,
        source_principal: peer.identity.map(ToString::to_string),
    };
    let ext_authz = &inputs.http.ext_authz;
    let asked = ext_authz.check_connection(snapshot, &custom.provider, &connection);
    let denied = asked.await.err()?;
    let (pod, rule, source) = (&workload.pod_name, &custom.rule, peer.address);
    tracing::info!(%source, %app, pod, %rule, details = denied.details, "connection refused by the external authorizer");
    Some(format!("{} {rule}", denied.details))
}

/// The ingress NetworkPolicies of `destination` on a connection from `source_ip` (the pod
/// `source`, when known) to `app`, delivered by `path` (`same_node`, `tunnel`); a refusal is
/// counted (`mesh_network_policy_denied_total`) and logged.
pub(super) fn network_policy_verdict(
    inputs: &ProxyInputs,
    snapshot: &Snapshot,
    destination: &Workload,
    app: SocketAddr,
    source_ip: IpAddr,
    source: Option<&Workload>,
    path: &'static str,
) -> Verdict {
    let verdict = network_policy::decide(snapshot, destination, app.port(), source_ip, source);
    if let Verdict::Denied(policies) = &verdict {
        let metrics = &inputs.metrics.network_policy;
        metrics.denied(path, &destination.namespace, policies);
        let pod = &destination.pod_name;
        tracing::info!(%source_ip, %app, pod, path, ?policies, "connection refused: no ingress rule of the pod's NetworkPolicies allows it");
    }
    verdict
}

/// The pod a tunnel's peer is: the workload at its address, if it runs as the identity the
/// peer's certificate proved (else only `ipBlock` rules can match it).
pub(super) fn tunnel_source<'s>(
    snapshot: &'s Snapshot,
    address: IpAddr,
    identity: Option<&Identity>,
) -> Option<&'s Workload> {
    let workload = snapshot.workload(address)?;
    let identity = identity?;
    let account = workload
        .service_account
        .as_deref()
        .filter(|a| !a.is_empty());
    let same = workload.namespace == identity.namespace
        && account.unwrap_or("default") == identity.service_account;
    same.then_some(workload.as_ref())
}

/// The identity the agent knows a local pod by (from the registry: namespace and service
/// account), for the same-node path where both ends are this node's pods.
pub(super) fn local_identity(snapshot: &Snapshot, pod_ip: IpAddr) -> Option<Identity> {
    let principal = snapshot.workload(pod_ip)?.principal.as_deref()?;
    Identity::parse(principal).ok()
}

/// Closes `client` without touching the app; `metrics` (opened with `flag`: `DENY`, `UAEX`)
/// count it closed and `log` writes its line naming the rule (`details`).
pub(super) fn refuse(
    client: TcpStream,
    metrics: ConnectionMetrics,
    log: Option<ConnectionLog>,
    (details, flag): (&str, &str),
) {
    if let Some(log) = log {
        log.refused(flag, details);
    }
    drop(metrics);
    drop(client);
}

/// Runs `forwarding` to its end, or until a configuration swap makes `decide` deny the
/// connection: then it is dropped, which closes both sockets (its metrics count it closed).
pub(super) async fn while_allowed(
    forwarding: impl Future<Output = ()>,
    config: &ConfigState,
    decide: impl Fn(&Snapshot) -> Decision,
) {
    let mut swaps = config.swaps();
    tokio::pin!(forwarding);
    loop {
        tokio::select! {
            () = &mut forwarding => return,
            changed = swaps.changed() => {
                if changed.is_err() {
                    return forwarding.await;
                }
                let decision = decide(&config.snapshot());
                if let Some(details) = decision.details() {
                    tracing::info!(%details, "open connection closed: the policies now deny it");
                    return;
                }
            }
        }
    }
}
