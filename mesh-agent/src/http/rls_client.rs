//! The rate limit service's client: `ShouldRateLimit` over gRPC (plain HTTP/2, from the agent's
//! own network namespace) to an endpoint of the cluster a global filter names
//! (`outbound|PORT|SUBSET|HOST` of the snapshot, one endpoint at random) with the filter's
//! `authority`, within its timeout. One channel per endpoint, reconnected by tonic, at most [`CHANNEL_BOUND`] kept.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use crate::lb::ip_endpoints;
use crate::ratelimit::rls_proto::{RateLimitRequest, RateLimitResponse, SHOULD_RATE_LIMIT};
use crate::snapshot::Snapshot;

/// Channels kept before all are dropped (endpoints of rate limit services are few).
pub const CHANNEL_BOUND: usize = 64;

/// Why the service gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum RlsError {
    #[error("no cluster {0} in the mesh's configuration")]
    NoCluster(String),
    #[error("cluster {0} has no endpoint")]
    NoEndpoint(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Status(#[from] tonic::Status),
}

/// A channel per (endpoint, `:authority`).
type Channels = HashMap<(SocketAddr, Option<String>), Channel>;

/// The node's channels to rate limit services. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct RateLimitServiceClient {
    channels: Arc<Mutex<Channels>>,
}

impl RateLimitServiceClient {
    /// Asks the service behind `cluster` (of `snapshot`) about `request` within `timeout`,
    /// with `:authority` `authority` (else the endpoint's address).
    pub async fn should_rate_limit(
        &self,
        snapshot: &Snapshot,
        (cluster, authority): (&str, Option<&str>),
        request: RateLimitRequest,
        timeout: Duration,
    ) -> Result<RateLimitResponse, RlsError> {
        let found = snapshot.clusters().find(|c| c.name == cluster);
        let found = found.ok_or_else(|| RlsError::NoCluster(cluster.to_string()))?;
        let endpoints = ip_endpoints(found);
        let endpoint = fastrand::choice(&endpoints)
            .copied()
            .ok_or_else(|| RlsError::NoEndpoint(cluster.to_string()))?;
        let channel = self.channel(endpoint, authority, timeout);
        let call = ask(channel, request);
        match tokio::time::timeout(timeout, call).await {
            Ok(answer) => answer,
            Err(_) => Err(RlsError::Timeout(timeout)),
        }
    }

    fn channel(&self, endpoint: SocketAddr, authority: Option<&str>, timeout: Duration) -> Channel {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let key = (endpoint, authority.map(str::to_string));
        if let Some(channel) = channels.get(&key) {
            return channel.clone();
        }
        if channels.len() >= CHANNEL_BOUND {
            channels.clear();
        }
        let mut dial = Endpoint::from_shared(format!("http://{endpoint}"))
            .expect("an address is a URI")
            .connect_timeout(timeout)
            .tcp_nodelay(true);
        let origin = authority.and_then(|a| format!("http://{a}").parse().ok());
        if let Some(origin) = origin {
            dial = dial.origin(origin);
        }
        let channel = dial.connect_lazy();
        channels.insert(key, channel.clone());
        channel
    }
}

async fn ask(channel: Channel, request: RateLimitRequest) -> Result<RateLimitResponse, RlsError> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(format!("not ready: {e}")))?;
    let path = http::uri::PathAndQuery::from_static(SHOULD_RATE_LIMIT);
    let codec = tonic_prost::ProstCodec::default();
    let answer = grpc
        .unary(tonic::Request::new(request), path, codec)
        .await?;
    Ok(answer.into_inner())
}
