//! The inbound side of the mTLS tunnel: a connection to the pod's tunnel port (steered to the
//! pod's inbound listener like any other) is served as HBONE with the pod's certificate. Each
//! CONNECT must name this pod; the app is dialled first and only then is the stream answered
//! 200 (503 when the app cannot be reached), then served as HTTP through the pod's inbound
//! request stack or carried as the L4 path carries it, with the peer's proven identity
//! ([`InboundPeer`]); a stream whose source reports its requests, to a pod that needs no L7,
//! is carried at L4 whatever its protocol (`tunnel_at_l4.rs`).

use std::net::SocketAddr;
use std::sync::Arc;

use http::StatusCode;

use tokio::net::TcpStream;

use super::authorize::{network_policy_verdict, tunnel_source};
use super::connection::declared_protocol;
use super::handshakes::HandshakeListener;
use super::inbound_l4::{
    authorize, carry, connect_app, count_denied, count_refused, custom_refused, details,
    InboundPeer,
};
use super::listener::Connection;
use super::outbound_tunnel::identity;
use super::protocol::{self, Declared, Protocol};
use super::tunnel_at_l4;
use super::ProxyInputs;
use crate::facts::Reporter;
use crate::http::{request_stack, Direction, PeerSecurity, Peers, Pool};
use crate::identity::Identity;
use crate::net::{reset, ProxiedPod};
use crate::snapshot::Snapshot;
use crate::tunnel::{self, server_config, TunnelAnswer, TunnelRequest, TunnelStream};

/// Serves `connection` (to the pod's tunnel port) as HBONE.
pub(super) async fn serve(connection: Connection) {
    let Connection {
        client,
        peer,
        pod,
        inputs,
        http_pool,
        permit: _permit,
    } = connection;
    let Some(tunnels) = inputs.tunnels.clone() else {
        return reset(client);
    };
    let snapshot = inputs.config.snapshot();
    let workload = snapshot.pod_workload(&pod);
    // Before the handshake, the expensive part: a pod past its handshakes per second is reset.
    let key = format!("{}/{}", pod.namespace, pod.name);
    let own_rate = workload.limits.max_handshakes_per_second;
    if !inputs
        .caps
        .handshakes
        .allow(&key, own_rate, HandshakeListener::tunnel)
    {
        return reset(client);
    }
    let Some(own) = identity(&workload) else {
        tracing::warn!(pod = %pod.name, %peer, "tunnel to a pod without identity; resetting");
        return reset(client);
    };
    let config = match tunnels.certificates().certificate(&own).await {
        Ok(certificate) => server_config(&certificate),
        Err(error) => Err(error.into()),
    };
    let own_domain = own.trust_domain.clone();
    let config = match config {
        Ok(config) => config,
        Err(error) => {
            tracing::warn!(pod = %pod.name, %peer, %error, "no tunnel certificate; resetting");
            return reset(client);
        }
    };
    let drain = inputs.http.drain.clone();
    let (at, trust_domain) = (
        Arc::new(Arrival {
            pod,
            inputs,
            http_pool,
            own,
        }),
        own_domain,
    );
    let on_connect = move |request: TunnelRequest| {
        let at = at.clone();
        async move { answer(at, peer, request).await }
    };
    if let Err(error) = tunnel::serve(client, config, &trust_domain, &drain, on_connect).await {
        tracing::debug!(%peer, %error, "tunnel connection refused or failed");
    }
}

/// Where the tunnel's streams arrive: the pod, its identity, its inbound HTTP pool.
struct Arrival {
    pod: Arc<ProxiedPod>,
    inputs: Arc<ProxyInputs>,
    http_pool: Arc<Pool>,
    own: Identity,
}

/// One CONNECT: addressed to this pod, the app reached, then 200 and the stream carried.
async fn answer(at: Arc<Arrival>, downstream: SocketAddr, request: TunnelRequest) -> TunnelAnswer {
    let (app, offered) = (request.authority, tunnel_at_l4::offered(&request));
    let pod = &at.pod;
    if !pod.ips.contains(&app.ip()) {
        tracing::debug!(pod = %pod.name, %app, "CONNECT names another pod");
        return TunnelAnswer::Refuse(StatusCode::BAD_REQUEST);
    }
    let peer = InboundPeer {
        address: downstream,
        identity: Some(request.peer),
    };
    // A port declared TCP is decided at the CONNECT (a denial answers 401, the app untouched);
    // HTTP is decided per request by the request stack, detected TCP before it is carried.
    if let Some(denied) = network_policy_denied(&at, &peer, app) {
        return denied;
    }
    // L7 once per request: the source offered to report, and this pod needs no L7 here.
    if offered && tunnel_at_l4::at_l4(&at.inputs.config.snapshot(), pod) {
        return tunnel_at_l4::accept(pod.clone(), at.inputs.clone(), peer, app).await;
    }
    if let Some(denied) = denied_at_connect(&at, &peer, app).await {
        return denied;
    }
    let upstream = match connect_app(pod, &at.inputs, app).await {
        Ok(upstream) => upstream,
        Err(error) => {
            tracing::debug!(pod = %pod.name, %app, %error, "app connect failed; 503");
            return TunnelAnswer::Refuse(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    TunnelAnswer::Accept(Box::new(move |stream| {
        Box::pin(async move { arrive(&at, stream, upstream, peer, app).await })
    }))
}

/// `401` when the pod's ingress NetworkPolicies refuse the peer, whatever the protocol: the CNI
/// never sees what the tunnel delivers inside the pod. Counted and logged, the app untouched.
fn network_policy_denied(
    at: &Arrival,
    peer: &InboundPeer,
    app: SocketAddr,
) -> Option<TunnelAnswer> {
    let snapshot = at.inputs.config.snapshot();
    let destination = snapshot.pod_workload(&at.pod);
    let (address, identity) = (peer.address.ip(), peer.identity.as_ref());
    let source = tunnel_source(&snapshot, address, identity);
    let verdict = network_policy_verdict(
        &at.inputs,
        &snapshot,
        &destination,
        app,
        address,
        source,
        "tunnel",
    );
    let details = verdict.details()?;
    count_denied(&at.inputs, &at.pod, peer, app, &snapshot, &details);
    Some(TunnelAnswer::Refuse(StatusCode::UNAUTHORIZED))
}

/// `401` when `app`'s port is declared TCP and the policies deny `peer`: its CUSTOM policy's
/// external authorizer (`UAEX`), then DENY and ALLOW (`DENY`); counted, logged.
async fn denied_at_connect(
    at: &Arrival,
    peer: &InboundPeer,
    app: SocketAddr,
) -> Option<TunnelAnswer> {
    let snapshot = at.inputs.config.snapshot();
    let direction = Direction::Inbound {
        original_dst: app,
        pod_ip: app.ip(),
    };
    if declared_protocol(&snapshot, direction) != Some(Declared::Tcp) {
        return None;
    }
    if let Some(details) = custom_refused(&at.inputs, &at.pod, peer, app, &snapshot).await {
        count_refused(
            &at.inputs,
            &at.pod,
            peer,
            app,
            &snapshot,
            (&details, "UAEX"),
        );
        return Some(TunnelAnswer::Refuse(StatusCode::UNAUTHORIZED));
    }
    let decision = authorize(&at.inputs, &at.pod, peer, app, &snapshot);
    if decision.allowed {
        return None;
    }
    count_denied(
        &at.inputs,
        &at.pod,
        peer,
        app,
        &snapshot,
        &details(&decision),
    );
    Some(TunnelAnswer::Refuse(StatusCode::UNAUTHORIZED))
}

/// An accepted stream: HTTP (declared or detected) through the pod's inbound request stack,
/// with both identities; anything else carried to the app at L4.
async fn arrive(
    at: &Arrival,
    mut stream: TunnelStream,
    upstream: TcpStream,
    peer: InboundPeer,
    app: SocketAddr,
) {
    let (pod, inputs) = (&at.pod, &at.inputs);
    let snapshot = inputs.config.snapshot();
    let direction = Direction::Inbound {
        original_dst: app,
        pod_ip: app.ip(),
    };
    let declared = declared_protocol(&snapshot, direction);
    let protocol = match declared {
        Some(Declared::Tcp) => Protocol::Tcp,
        Some(Declared::Http) => Protocol::Http1,
        Some(Declared::Http2 | Declared::Grpc) => Protocol::Http2,
        None => {
            let window = inputs.http.detect_window;
            let detecting = Box::pin(protocol::detect_by_reading(&mut stream, window));
            let (detected, read) = detecting.await;
            stream.unread(read);
            detected
        }
    };
    if protocol == Protocol::Tcp {
        // Detected TCP meets its CUSTOM policy here (declared TCP met it at the CONNECT).
        if declared.is_none() {
            let refused = Box::pin(custom_refused(inputs, pod, &peer, app, &snapshot)).await;
            if let Some(details) = refused {
                return count_refused(inputs, pod, &peer, app, &snapshot, (&details, "UAEX"));
            }
        }
        // Boxed, as the HTTP path below: a stream holds the state of the path it takes only.
        return Box::pin(carry(stream, upstream, pod, inputs, &peer, app, &snapshot)).await;
    }
    // The request stack dials the app through the pod's pool.
    drop(upstream);
    Box::pin(serve_requests(at, stream, peer, direction, &snapshot)).await;
}

/// An HTTP stream: through the pod's inbound request stack, with both identities (boxed by
/// [`arrive`], so a stream carried at L4 does not hold the request stack's room).
async fn serve_requests(
    at: &Arrival,
    stream: TunnelStream,
    peer: InboundPeer,
    direction: Direction,
    snapshot: &Snapshot,
) {
    let (pod, inputs) = (&at.pod, &at.inputs);
    let source = peer
        .identity
        .clone()
        .expect("a tunnel peer has an identity");
    let peers = Peers {
        reporter: Reporter::destination,
        source: snapshot.workload(peer.address.ip()).cloned(),
        destination: Some(snapshot.pod_workload(pod)),
        pod_ip: Some(pod.ip),
        downstream: Some(peer.address),
        peer_identity: Some(source.clone()),
        security: PeerSecurity::Tunnelled {
            source,
            destination: at.own.clone(),
        },
    };
    let config = inputs.config.clone();
    let stack = request_stack(
        &inputs.http,
        config,
        peers,
        direction,
        Pool::clone(&at.http_pool),
    );
    let timeouts = inputs.http.downstream;
    crate::http::serve_stream(stream, stack, &inputs.http.drain, timeouts).await;
}
