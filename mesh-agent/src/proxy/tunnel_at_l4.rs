//! A tunnelled stream whose requests the source's agent reports (L7 once per request): its
//! CONNECT offered it (`mesh-l7-reporter: source`) and the pod needs no L7 of its own
//! ([`needs_l7`] on this agent's snapshot — the header never makes the pod skip a policy it
//! has). The pod's AuthorizationPolicies decide on the certificate's identity at the CONNECT
//! (401 when denied, the app untouched), the answer accepts the offer, and the stream is
//! carried to the app at L4 (TCP metrics and connection log of the destination side, decided
//! again at every swap) until a configuration swap gives the pod a policy that needs L7: then
//! it is closed, and the source's next connection is parsed here.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use http::StatusCode;

use super::inbound_l4::{
    authorize, carry_allowed, connect_app, count_denied, details, InboundPeer,
};
use super::ProxyInputs;
use crate::inbound_l7::needs_l7;
use crate::net::ProxiedPod;
use crate::pipeline::ConfigState;
use crate::snapshot::Snapshot;
use crate::tunnel::{TunnelAnswer, TunnelRequest, L7_REPORTER, SOURCE_REPORTS};

/// Whether the CONNECT offers that the source reports the stream's requests.
pub(super) fn offered(request: &TunnelRequest) -> bool {
    let offer = request.headers.get(L7_REPORTER);
    offer.is_some_and(|v| v == SOURCE_REPORTS)
}

/// Whether `pod` needs no L7 of its own on `snapshot`.
pub(super) fn at_l4(snapshot: &Snapshot, pod: &ProxiedPod) -> bool {
    let workload = snapshot.pod_workload(pod);
    needs_l7(snapshot, &workload, pod.ip).is_none()
}

/// The answer to an offered CONNECT to `app` of a pod that needs no L7: 401 when its
/// policies deny `peer`, 503 when the app cannot be reached, else 200 accepting the offer.
pub(super) async fn accept(
    pod: Arc<ProxiedPod>,
    inputs: Arc<ProxyInputs>,
    peer: InboundPeer,
    app: SocketAddr,
) -> TunnelAnswer {
    let snapshot = inputs.config.snapshot();
    let decision = authorize(&inputs, &pod, &peer, app, &snapshot);
    if !decision.allowed {
        count_denied(&inputs, &pod, &peer, app, &snapshot, &details(&decision));
        return TunnelAnswer::Refuse(StatusCode::UNAUTHORIZED);
    }
    let upstream = match connect_app(&pod, &inputs, app).await {
        Ok(upstream) => upstream,
        Err(error) => {
            tracing::debug!(pod = %pod.name, %app, %error, "app connect failed; 503");
            return TunnelAnswer::Refuse(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    TunnelAnswer::AcceptAtL4(Box::new(move |stream| {
        Box::pin(async move {
            let snapshot = inputs.config.snapshot();
            let carrying = carry_allowed(stream, upstream, &pod, &inputs, &peer, app, &snapshot);
            let config = inputs.config.clone();
            while_at_l4(carrying, &config, |now| at_l4(now, &pod)).await;
        })
    }))
}

/// Runs `carrying` to its end, or until a configuration swap makes `still` false: then it is
/// dropped, which closes both sockets (its metrics count it closed).
async fn while_at_l4(
    carrying: impl Future<Output = ()>,
    config: &ConfigState,
    still: impl Fn(&Snapshot) -> bool,
) {
    let mut swaps = config.swaps();
    tokio::pin!(carrying);
    loop {
        tokio::select! {
            () = &mut carrying => return,
            changed = swaps.changed() => {
                if changed.is_err() {
                    return carrying.await;
                }
                if !still(&config.snapshot()) {
                    tracing::info!("stream carried at L4 closed: the pod now needs L7");
                    return;
                }
            }
        }
    }
}
