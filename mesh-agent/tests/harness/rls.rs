//! A test rate limit service: Envoy's RLS API (`envoy.service.ratelimit.v3`) written here from
//! the proto on its own (not the agent's messages), served by tonic on loopback. It counts
//! hits per (domain, descriptor) and answers `OVER_LIMIT` past `limit` per descriptor, as
//! Envoy's reference service with one fixed limit per minute would; it can answer slowly.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use tonic::server::{NamedService, UnaryService};
use tonic::{Request, Response, Status};

const PATH: &str = "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit";

#[derive(Clone, PartialEq, prost::Message)]
pub struct RlsRequest {
    #[prost(string, tag = "1")]
    pub domain: String,
    #[prost(message, repeated, tag = "2")]
    pub descriptors: Vec<RlsDescriptor>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RlsDescriptor {
    #[prost(message, repeated, tag = "1")]
    pub entries: Vec<RlsEntry>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RlsEntry {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RlsResponse {
    /// 1 OK, 2 OVER_LIMIT.
    #[prost(int32, tag = "1")]
    pub overall_code: i32,
    #[prost(message, repeated, tag = "2")]
    pub statuses: Vec<RlsStatus>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RlsStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(message, optional, tag = "2")]
    pub current_limit: Option<RlsLimit>,
    #[prost(uint32, tag = "3")]
    pub limit_remaining: u32,
    #[prost(message, optional, tag = "4")]
    pub duration_until_reset: Option<prost_types::Duration>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct RlsLimit {
    #[prost(uint32, tag = "1")]
    pub requests_per_unit: u32,
    /// 2: MINUTE.
    #[prost(int32, tag = "2")]
    pub unit: i32,
}

/// The service: its address and its counts.
#[derive(Clone)]
pub struct RlsServer {
    pub address: SocketAddr,
    limit: u32,
    delay: Duration,
    /// Hits per `domain|key=value,...`.
    counts: Arc<Mutex<HashMap<String, u32>>>,
}

impl RlsServer {
    /// Serves on `ip` (any port), `limit` hits per descriptor, answering after `delay`.
    pub async fn start(ip: &str, limit: u32, delay: Duration) -> Self {
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        let server = Self {
            address: listener.local_addr().unwrap(),
            limit,
            delay,
            counts: Arc::default(),
        };
        let serving = server.clone();
        tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(serving)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                .await
        });
        server
    }

    /// Hits counted for `descriptor` (`domain|key=value,...`).
    pub fn count(&self, descriptor: &str) -> u32 {
        let counts = self.counts.lock().unwrap();
        counts.get(descriptor).copied().unwrap_or(0)
    }

    fn answer(&self, request: &RlsRequest) -> RlsResponse {
        let mut counts = self.counts.lock().unwrap();
        let mut statuses = Vec::new();
        for descriptor in &request.descriptors {
            let entries: Vec<String> = descriptor
                .entries
                .iter()
                .map(|e| format!("{}={}", e.key, e.value))
                .collect();
            let key = format!("{}|{}", request.domain, entries.join(","));
            let count = counts.entry(key).or_default();
            *count += 1;
            let over = *count > self.limit;
            statuses.push(RlsStatus {
                code: if over { 2 } else { 1 },
                current_limit: Some(RlsLimit {
                    requests_per_unit: self.limit,
                    unit: 2,
                }),
                limit_remaining: self.limit.saturating_sub(*count),
                duration_until_reset: Some(prost_types::Duration {
                    seconds: 60,
                    nanos: 0,
                }),
            });
        }
        let over = statuses.iter().any(|s| s.code == 2);
        RlsResponse {
            overall_code: if over { 2 } else { 1 },
            statuses,
        }
    }
}

impl NamedService for RlsServer {
    const NAME: &'static str = "envoy.service.ratelimit.v3.RateLimitService";
}

impl<B> tower::Service<http::Request<B>> for RlsServer
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        assert_eq!(
            request.uri().path(),
            PATH,
            "the agent calls ShouldRateLimit"
        );
        let method = ShouldRateLimit(self.clone());
        Box::pin(async move {
            let codec = tonic_prost::ProstCodec::default();
            Ok(tonic::server::Grpc::new(codec).unary(method, request).await)
        })
    }
}

struct ShouldRateLimit(RlsServer);

impl UnaryService<RlsRequest> for ShouldRateLimit {
    type Response = RlsResponse;
    type Future = BoxFuture<'static, Result<Response<RlsResponse>, Status>>;

    fn call(&mut self, request: Request<RlsRequest>) -> Self::Future {
        let server = self.0.clone();
        Box::pin(async move {
            tokio::time::sleep(server.delay).await;
            Ok(Response::new(server.answer(request.get_ref())))
        })
    }
}
