//! The inbound side of the mTLS tunnel: a connection to the pod's tunnel port (steered to the
//! pod's inbound listener like any other) is served as HBONE with the pod's certificate. Each
//! CONNECT must name this pod; the app is dialled first and only then is the stream answered
//! 200 (503 when the app cannot be reached), then carried as the L4 path carries it, with the
//! peer's proven identity ([`InboundPeer`]).

use std::net::SocketAddr;
use std::sync::Arc;

use http::StatusCode;

use super::inbound_l4::{carry, connect_app, InboundPeer};
use super::listener::Connection;
use super::outbound_tunnel::identity;
use super::ProxyInputs;
use crate::net::{reset, ProxiedPod};
use crate::tunnel::{self, server_config, TunnelAnswer, TunnelRequest};

/// Serves `connection` (to the pod's tunnel port) as HBONE.
pub(super) async fn serve(connection: Connection) {
    let Connection {
        client,
        peer,
        pod,
        inputs,
        ..
    } = connection;
    let Some(tunnels) = inputs.tunnels.clone() else {
        return reset(client);
    };
    let snapshot = inputs.config.snapshot();
    let Some(own) = identity(&snapshot.pod_workload(&pod)) else {
        tracing::warn!(pod = %pod.name, %peer, "tunnel to a pod without identity; resetting");
        return reset(client);
    };
    let config = match tunnels.certificates().certificate(&own).await {
        Ok(certificate) => server_config(&certificate),
        Err(error) => Err(error.into()),
    };
    let config = match config {
        Ok(config) => config,
        Err(error) => {
            tracing::warn!(pod = %pod.name, %peer, %error, "no tunnel certificate; resetting");
            return reset(client);
        }
    };
    let on_connect = move |request: TunnelRequest| {
        let (pod, inputs) = (pod.clone(), inputs.clone());
        async move { answer(pod, inputs, peer, request).await }
    };
    if let Err(error) = tunnel::serve(client, config, &own.trust_domain, on_connect).await {
        tracing::debug!(%peer, %error, "tunnel connection refused or failed");
    }
}

/// One CONNECT: addressed to this pod, the app reached, then 200 and the stream carried.
async fn answer(
    pod: Arc<ProxiedPod>,
    inputs: Arc<ProxyInputs>,
    downstream: SocketAddr,
    request: TunnelRequest,
) -> TunnelAnswer {
    let app = request.authority;
    if !pod.ips.contains(&app.ip()) {
        tracing::debug!(pod = %pod.name, %app, "CONNECT names another pod");
        return TunnelAnswer::Refuse(StatusCode::BAD_REQUEST);
    }
    let peer = InboundPeer {
        address: downstream,
        identity: Some(request.peer),
    };
    // Inbound policy (AuthorizationPolicy) decides here on `peer`: a denial answers 401.
    let upstream = match connect_app(&pod, &inputs, app).await {
        Ok(upstream) => upstream,
        Err(error) => {
            tracing::debug!(pod = %pod.name, %app, %error, "app connect failed; 503");
            return TunnelAnswer::Refuse(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    TunnelAnswer::Accept(Box::new(move |stream| {
        Box::pin(async move {
            let snapshot = inputs.config.snapshot();
            carry(stream, upstream, &pod, &inputs, &peer, app, &snapshot).await
        })
    }))
}
