//! A pod's inbound request stack, called directly: in-process nothing steers a connection to
//! the inbound listener (that is `sk_lookup`'s job), so a test hands requests to the stack the
//! inbound HTTP path builds, as from a client at an address and with an identity it chooses.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use mesh_agent::facts::Reporter;
use mesh_agent::http::{boxed, request_stack, Direction, Peers, Pool};
use mesh_agent::identity::Identity;
use mesh_agent::net::{Netns, UpstreamSockets};
use tower::ServiceExt;

use super::client::Answer;
use super::proxy::Agent;
use super::GUARD;

/// Who sends the requests: the client's address and the identity it proved (`None`: plain
/// text).
pub struct InboundClient<'a> {
    pub address: &'a str,
    pub identity: Option<&'a str>,
}

/// Sends `request` to the app at `app` (`pod IP:port`) through the pod's inbound stack.
pub async fn send_inbound(
    agent: &Agent,
    app: &str,
    client: InboundClient<'_>,
    request: Request<Full<Bytes>>,
) -> Answer {
    let app: SocketAddr = app.parse().unwrap();
    let downstream: SocketAddr = client.address.parse().unwrap();
    let snapshot = agent.inputs.config.snapshot();
    let peers = Peers {
        reporter: Reporter::destination,
        source: snapshot.workload(downstream.ip()).cloned(),
        destination: snapshot.workload(app.ip()).cloned(),
        pod_ip: Some(app.ip()),
        downstream: Some(downstream),
        peer_identity: client.identity.map(|id| Identity::parse(id).unwrap()),
        security: Default::default(),
    };
    let direction = Direction::Inbound {
        original_dst: app,
        pod_ip: app.ip(),
    };
    let sockets = UpstreamSockets {
        connect_timeout: GUARD,
    };
    let pool = Pool::new(Netns::current().unwrap(), sockets);
    let config = agent.inputs.config.clone();
    let stack = request_stack(&agent.inputs.http, config, peers, direction, pool);
    let request = request.map(boxed);
    let response = tokio::time::timeout(GUARD, stack.oneshot(request))
        .await
        .expect("no hang")
        .unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let body = tokio::time::timeout(GUARD, response.into_body().collect())
        .await
        .expect("no hang")
        .unwrap()
        .to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}
