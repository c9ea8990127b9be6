//! Authorization of opaque TCP connections at their destination: on the inbound L4 path, and
//! on the same-node fast path for the inbound hop it skips. A refused connection is counted
//! (`response_flags="DENY"`), access-logged with the rule that refused it, and closed before
//! the app is dialled. An allowed one is decided again at every configuration swap while it
//! lasts: one the policies now deny is closed at once, as ztunnel does.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use tokio::net::TcpStream;

use super::connection_log::ConnectionLog;
use super::metrics::ConnectionMetrics;
use super::ProxyInputs;
use crate::authz::{AuthzFacts, Decision};
use crate::identity::Identity;
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

/// The identity the agent knows a local pod by (from the registry: namespace and service
/// account), for the same-node path where both ends are this node's pods.
pub(super) fn local_identity(snapshot: &Snapshot, pod_ip: IpAddr) -> Option<Identity> {
    let principal = snapshot.workload(pod_ip)?.principal.as_deref()?;
    Identity::parse(principal).ok()
}

/// Closes `client` without touching the app; `metrics` (opened with `DENY`) count it closed
/// and `log` writes its line naming the rule.
pub(super) fn refuse(
    client: TcpStream,
    metrics: ConnectionMetrics,
    log: Option<ConnectionLog>,
    decision: &Decision,
) {
    let details = decision.details().unwrap_or_default();
    if let Some(log) = log {
        log.denied(&details);
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
