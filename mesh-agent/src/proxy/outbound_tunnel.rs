//! The outbound side of the mTLS tunnel: a connection whose endpoint is a meshed pod (the
//! snapshot says so from its labels and its Namespace's) goes in an HBONE stream to that pod's
//! tunnel port, with the source pod's certificate, accepting only the destination pod's
//! identity (its ServiceAccount in the snapshot). The same-node fast path is taken before this.

use std::net::SocketAddr;
use std::sync::Arc;

use super::ProxyInputs;
use crate::http::PoolTunnel;
use crate::identity::Identity;
use crate::inbound_l7::needs_l7;
use crate::net::{ProxiedPod, UpstreamSockets};
use crate::snapshot::{Snapshot, Workload};
use crate::tunnel::{TunnelError, TunnelHeaders, TunnelPlan, TunnelStream, TunnelTarget};

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
        source_ip: Some(pod.ip),
        namespace: source.namespace.clone(),
        workload: source.name.clone(),
        service: source.app.clone().unwrap_or_else(|| source.name.clone()),
        version: source.version.clone().unwrap_or_else(|| "latest".into()),
        offers_l7_report: false,
    };
    Some(TunnelPlan { target, headers })
}

/// The tunnel of `pod`'s HTTP pool: each endpoint planned as the L4 path plans it, against
/// the snapshot in force when the connection is opened (same-node endpoints too: the HTTP
/// path has no fast path). Its CONNECT offers to report the requests' destination side when
/// the destination pod needs no L7 of its own ([`needs_l7`], L7 once per request).
pub(super) fn pool_tunnel(inputs: &Arc<ProxyInputs>, pod: &Arc<ProxiedPod>) -> Option<PoolTunnel> {
    let tunnels = inputs.tunnels.clone()?;
    let offers = tunnels.offers_l7_report();
    let (inputs, pod) = (inputs.clone(), pod.clone());
    let planner = move |endpoint: SocketAddr| {
        let snapshot = inputs.config.snapshot();
        let mut plan = plan(&inputs, &snapshot, &pod, endpoint)?;
        let destination = snapshot.workload(endpoint.ip());
        let l4 = destination.is_some_and(|w| needs_l7(&snapshot, w, endpoint.ip()).is_none());
        plan.headers.offers_l7_report = offers && l4;
        Some(plan)
    };
    Some(PoolTunnel {
        tunnels,
        planner: Arc::new(planner),
        plain_when_refused: false,
    })
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
    tunnels.open(&pod.netns, sockets, plan).await
}
