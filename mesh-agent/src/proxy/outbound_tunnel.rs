//! The outbound side of the mTLS tunnel: a connection whose endpoint is a meshed pod (the
//! snapshot says so from its labels and its Namespace's) goes in an HBONE stream to that pod's
//! tunnel port, with the source pod's certificate, accepting only the destination pod's
//! identity (its ServiceAccount in the snapshot). The same-node fast path is taken before this.

use std::net::SocketAddr;

use super::ProxyInputs;
use crate::identity::Identity;
use crate::net::{ProxiedPod, UpstreamSockets};
use crate::snapshot::{Snapshot, Workload};
use crate::tunnel::{TunnelError, TunnelHeaders, TunnelStream, TunnelTarget};

/// A connection's way through the tunnel: where, as whom, and what the CONNECT says.
pub(super) struct TunnelPlan {
    pub(super) target: TunnelTarget,
    headers: TunnelHeaders,
}

/// The plan for a connection from `pod` to `endpoint`: `None` (plain text) when the agent has
/// no tunnels, the endpoint is not a meshed pod, or either side has no identity.
pub(super) fn plan(
    inputs: &ProxyInputs,
    snapshot: &Snapshot,
    pod: &ProxiedPod,
    endpoint: SocketAddr,
) -> Option<TunnelPlan> {
    inputs.tunnels.as_ref()?;
    let destination = snapshot.workload(endpoint.ip()).filter(|w| w.meshed)?;
    let source = snapshot.pod_workload(pod);
    let target = TunnelTarget {
        source: identity(&source)?,
        destination: identity(destination)?,
        pod: endpoint.ip(),
        authority: endpoint,
    };
    let headers = TunnelHeaders {
        source_ip: pod.ip,
        namespace: source.namespace.clone(),
        workload: source.name.clone(),
        service: source.app.clone().unwrap_or_else(|| source.name.clone()),
        version: source.version.clone().unwrap_or_else(|| "latest".into()),
    };
    Some(TunnelPlan { target, headers })
}

/// A workload's SPIFFE identity, when the snapshot knows its principal.
pub(super) fn identity(workload: &Workload) -> Option<Identity> {
    Identity::parse(workload.principal.as_deref()?).ok()
}

/// Opens the stream `plan` says, its socket from `pod`'s netns.
pub(super) async fn open(
    inputs: &ProxyInputs,
    pod: &ProxiedPod,
    sockets: &UpstreamSockets,
    plan: &TunnelPlan,
) -> Result<TunnelStream, TunnelError> {
    let tunnels = inputs
        .tunnels
        .as_ref()
        .expect("a tunnel is planned only when the agent has tunnels");
    tunnels
        .open(&pod.netns, sockets, &plan.target, &plan.headers)
        .await
}
