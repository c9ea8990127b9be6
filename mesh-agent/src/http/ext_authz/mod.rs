//! CUSTOM AuthorizationPolicies' external authorizers (MeshConfig `extensionProviders`), asked
//! with Envoy's ext_authz protocols: plain HTTP (`envoyExtAuthzHttp`, [`http_check`]) or gRPC
//! `envoy.service.auth.v3.Authorization/Check` (`envoyExtAuthzGrpc`, [`grpc_check`]). An
//! authorizer that cannot be reached, times out or fails (HTTP 5xx) lets the request through
//! only when the provider says `failOpen`; otherwise the client gets `statusOnError` (403).
//! Opaque TCP connections are asked about with Envoy's network filter's attributes
//! ([`network_check`]; gRPC providers only, as Istio).

mod grpc_check;
mod http_check;
mod network_check;
pub mod proto;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{HeaderMap, Method, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tonic::transport::Channel;

use crate::errors::ExtAuthzDenied;
use crate::resources::ExtensionProvider;
use crate::snapshot::{Address, Snapshot};

/// Istio's default check timeout.
pub const CHECK_TIMEOUT: Duration = Duration::from_millis(600);

/// Asks external authorizers; shared by every connection (connections and channels pooled).
#[derive(Clone)]
pub struct ExtAuthz {
    http: Client<HttpConnector, Full<Bytes>>,
    channels: Arc<Mutex<HashMap<SocketAddr, Channel>>>,
}

impl Default for ExtAuthz {
    fn default() -> Self {
        Self {
            http: Client::builder(TokioExecutor::new()).build_http(),
            channels: Arc::default(),
        }
    }
}

/// What the authorizer is told of the request.
pub struct CheckedRequest<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub version: hyper::Version,
    pub source: SocketAddr,
    pub destination: SocketAddr,
    /// The client's proven SPIFFE identity.
    pub source_principal: Option<String>,
}

/// What the authorizer is told of an opaque TCP connection (Envoy's network filter): the
/// peers' addresses and the client's proven SPIFFE identity, no request.
pub struct CheckedConnection {
    pub source: SocketAddr,
    pub destination: SocketAddr,
    pub source_principal: Option<String>,
}

/// An allowed request's header edits.
#[derive(Debug, Default)]
pub struct Allowed {
    /// Set on the request (or appended, when `true`) before it goes on.
    pub upstream: Vec<(HeaderName, HeaderValue, bool)>,
    /// Removed from the request.
    pub remove: Vec<HeaderName>,
    /// Added to the response the client gets.
    pub downstream: Vec<(HeaderName, HeaderValue)>,
}

/// An authorizer's answer; an `Err` of a check is a failure to get one.
pub enum Verdict {
    Allow(Allowed),
    Deny(ExtAuthzDenied),
}

impl ExtAuthz {
    /// Asks `provider` about `request`: its edits when allowed, else the client's answer.
    pub async fn check(
        &self,
        snapshot: &Snapshot,
        provider: &str,
        request: CheckedRequest<'_>,
    ) -> Result<Allowed, ExtAuthzDenied> {
        let providers = &snapshot.mesh.extension_providers;
        let Some(found) = providers.iter().find(|p| p.name == provider) else {
            tracing::warn!(%provider, "CUSTOM policy names an unknown extension provider: denied");
            return Err(failed(StatusCode::FORBIDDEN));
        };
        let Some(settings) = Settings::of(found) else {
            tracing::warn!(%provider, "extension provider is no authorizer: denied");
            return Err(failed(StatusCode::FORBIDDEN));
        };
        let asked = async {
            let address = authorizer_address(snapshot, settings.service, settings.port).await?;
            match (&found.envoy_ext_authz_http, &found.envoy_ext_authz_grpc) {
                (Some(http), _) => http_check::check(&self.http, address, http, &request).await,
                (None, _) => {
                    let asking = grpc_check::check_request(&request);
                    grpc_check::ask(self.channel(address), asking).await
                }
            }
        };
        settle(provider, &settings, asked).await
    }

    /// Asks `provider` about an opaque TCP `connection`, as Envoy's network ext_authz filter
    /// does: only a gRPC provider applies (Istio ignores a CUSTOM policy with an HTTP provider
    /// on TCP, and so does the mesh: `Ok`, logged at debug).
    pub async fn check_connection(
        &self,
        snapshot: &Snapshot,
        provider: &str,
        connection: &CheckedConnection,
    ) -> Result<(), ExtAuthzDenied> {
        let providers = &snapshot.mesh.extension_providers;
        let Some(found) = providers.iter().find(|p| p.name == provider) else {
            tracing::warn!(%provider, "CUSTOM policy names an unknown extension provider: denied");
            return Err(failed(StatusCode::FORBIDDEN));
        };
        let Some(settings) = Settings::of(found) else {
            tracing::warn!(%provider, "extension provider is no authorizer: denied");
            return Err(failed(StatusCode::FORBIDDEN));
        };
        if found.envoy_ext_authz_grpc.is_none() {
            tracing::debug!(%provider, "CUSTOM policy with an HTTP provider ignored on TCP, as Istio does");
            return Ok(());
        }
        let asked = async {
            let address = authorizer_address(snapshot, settings.service, settings.port).await?;
            let asking = network_check::check_request(connection);
            grpc_check::ask(self.channel(address), asking).await
        };
        settle(provider, &settings, asked).await.map(drop)
    }

    /// The gRPC channel to `address`, made once (it reconnects by itself).
    fn channel(&self, address: SocketAddr) -> Channel {
        let mut channels = self.channels.lock().expect("not poisoned");
        channels
            .entry(address)
            .or_insert_with(|| {
                let uri = format!("http://{address}");
                tonic::transport::Endpoint::from_shared(uri)
                    .expect("an address is a URI")
                    .connect_lazy()
            })
            .clone()
    }
}

/// The authorizer's answer within the provider's timeout; a failure to get one allows only
/// when the provider says `failOpen`.
async fn settle(
    provider: &str,
    settings: &Settings<'_>,
    asked: impl std::future::Future<Output = Result<Verdict, String>>,
) -> Result<Allowed, ExtAuthzDenied> {
    let outcome = match tokio::time::timeout(settings.timeout, asked).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!("no answer within {:?}", settings.timeout)),
    };
    match outcome {
        Ok(Verdict::Allow(allowed)) => Ok(allowed),
        Ok(Verdict::Deny(denied)) => Err(denied),
        Err(error) if settings.fail_open => {
            tracing::warn!(%provider, %error, "external authorization failed: allowed (failOpen)");
            Ok(Allowed::default())
        }
        Err(error) => {
            tracing::warn!(%provider, %error, "external authorization failed: denied");
            Err(failed(settings.status_on_error))
        }
    }
}

/// What both kinds of provider say.
struct Settings<'p> {
    service: &'p str,
    port: u16,
    timeout: Duration,
    fail_open: bool,
    status_on_error: StatusCode,
}

impl<'p> Settings<'p> {
    fn of(provider: &'p ExtensionProvider) -> Option<Self> {
        let (service, port, timeout, fail_open, status) = match (
            &provider.envoy_ext_authz_http,
            &provider.envoy_ext_authz_grpc,
        ) {
            (Some(h), _) => (
                &h.service,
                h.port,
                &h.timeout,
                h.fail_open,
                &h.status_on_error,
            ),
            (None, Some(g)) => (
                &g.service,
                g.port,
                &g.timeout,
                g.fail_open,
                &g.status_on_error,
            ),
            (None, None) => return None,
        };
        Some(Self {
            service,
            port,
            timeout: timeout.as_ref().map_or(CHECK_TIMEOUT, |t| t.value),
            fail_open,
            status_on_error: status_on_error(status.as_deref()),
        })
    }
}

/// `statusOnError` (validated), else 403.
pub fn status_on_error(status: Option<&str>) -> StatusCode {
    status
        .and_then(|s| s.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::FORBIDDEN)
}

/// The answer to a check that failed.
fn failed(status: StatusCode) -> ExtAuthzDenied {
    ExtAuthzDenied {
        status,
        headers: HeaderMap::new(),
        body: Bytes::new(),
        details: "ext_authz_error",
    }
}

/// Where the authorizer listens: an address as given; a Service of the registry at one of its
/// endpoints (its target port), as the agent reaches pods; otherwise the name looked up.
async fn authorizer_address(
    snapshot: &Snapshot,
    service: &str,
    port: u16,
) -> Result<SocketAddr, String> {
    let host = service.split_once('/').map_or(service, |(_, host)| host);
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    if let Some(found) = snapshot.service(host, "") {
        let endpoint = found.endpoints.iter().find_map(|e| match e.address {
            Address::Ip(ip) => Some(SocketAddr::new(ip, *e.ports.get(&port).unwrap_or(&port))),
            _ => None,
        });
        return endpoint.ok_or_else(|| format!("{host} has no endpoint"));
    }
    let mut found = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("{host}: {e}"))?;
    found.next().ok_or_else(|| format!("{host}: no address"))
}
