//! What tracing and access logs know about a request: the facts read when it arrives and
//! those known when its response ends.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime};

use hyper::header::{HOST, USER_AGENT};
use hyper::http::uri::Authority;
use hyper::{Request, Version};

use super::Reporter;

/// Read from the request as it arrives (before any layer changes it).
#[derive(Clone, Debug)]
pub struct RequestFacts {
    /// When the request arrived.
    pub start: SystemTime,
    /// `GET`, `POST`, …
    pub method: String,
    /// Path and query, as sent.
    pub path: String,
    /// `:authority` or `Host`.
    pub authority: String,
    /// `HTTP/1.1`, `HTTP/2`, …
    pub protocol: &'static str,
    /// `User-Agent`, when sent.
    pub user_agent: Option<String>,
    /// `x-request-id`, as received or generated.
    pub request_id: String,
}

impl RequestFacts {
    /// The facts of `request`, whose id is `request_id`.
    pub fn of<B>(request: &Request<B>, request_id: String) -> Self {
        let header = |name| {
            let value = request.headers().get(name)?.to_str().ok()?;
            Some(value.to_string())
        };
        let authority = request.uri().authority().map(|a| a.to_string());
        Self {
            start: SystemTime::now(),
            method: request.method().to_string(),
            path: request
                .uri()
                .path_and_query()
                .map_or_else(|| "/".into(), |p| p.to_string()),
            authority: authority.or_else(|| header(HOST)).unwrap_or_default(),
            protocol: protocol_name(request.version()),
            user_agent: header(USER_AGENT),
            request_id,
        }
    }

    /// The authority's host and port (80 when it names none).
    pub fn host_and_port(&self) -> (String, u16) {
        match self.authority.parse::<Authority>() {
            Ok(authority) => (authority.host().into(), authority.port_u16().unwrap_or(80)),
            Err(_) => (self.authority.clone(), 80),
        }
    }
}

/// A workload as tracing and logs name it.
#[derive(Clone, Copy, Debug)]
pub struct WorkloadRef<'a> {
    /// Workload (Deployment) name.
    pub name: &'a str,
    /// Namespace.
    pub namespace: &'a str,
    /// Pod name.
    pub pod_name: &'a str,
    /// Istio's canonical service: the `app` label, else the workload name.
    pub canonical_service: &'a str,
}

/// Who talked to whom, and where this proxy sits.
#[derive(Clone, Copy, Debug)]
pub struct HopPeers<'a> {
    /// `source` (outbound side) or `destination` (inbound side).
    pub reporter: Reporter,
    /// The client workload, when known.
    pub source: Option<WorkloadRef<'a>>,
    /// The server workload, when known.
    pub destination: Option<WorkloadRef<'a>>,
    /// The IP of the pod this side serves.
    pub pod_ip: Option<IpAddr>,
    /// The client's address as the proxy saw it.
    pub downstream: Option<SocketAddr>,
}

impl<'a> HopPeers<'a> {
    /// The workload on this proxy's side of the hop.
    pub fn local(&self) -> Option<WorkloadRef<'a>> {
        match self.reporter {
            Reporter::source => self.source,
            Reporter::destination => self.destination,
        }
    }
}

/// Known once the response has ended.
#[derive(Clone, Debug)]
pub struct ResponseFacts<'a> {
    /// Status sent to the client.
    pub response_code: u16,
    /// Envoy's response flags (`-` for none).
    pub response_flags: &'a str,
    /// Why the proxy answered itself (`rbac_access_denied_matched_policy[...]`), when it did.
    pub response_code_details: Option<&'a str>,
    /// Request headers and body, in bytes.
    pub request_bytes: u64,
    /// Response headers and body, in bytes.
    pub response_bytes: u64,
    /// From arrival to the end of the response.
    pub duration: Duration,
    /// The destination Service's hostname, when the request went to one.
    pub service_host: Option<String>,
    /// The endpoint the request was sent to.
    pub upstream_host: Option<SocketAddr>,
}

impl ResponseFacts<'_> {
    /// Whether the request failed: a 5xx or a response flag.
    pub fn failed(&self) -> bool {
        self.response_code >= 500 || self.response_code == 0 || self.response_flags != "-"
    }

    /// Envoy's cluster name for where the request went.
    pub fn upstream_cluster(&self, reporter: Reporter, facts: &RequestFacts) -> String {
        match (reporter, &self.service_host) {
            (Reporter::source, Some(host))
                if host == "PassthroughCluster" || host == "BlackHoleCluster" =>
            {
                host.clone()
            }
            (Reporter::source, Some(host)) => {
                format!("outbound|{}||{host}", facts.host_and_port().1)
            }
            (Reporter::source, None) => "PassthroughCluster".into(),
            (Reporter::destination, _) => {
                let port = self.upstream_host.map_or(0, |a| a.port());
                format!("inbound|{port}||")
            }
        }
    }
}

fn protocol_name(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}
