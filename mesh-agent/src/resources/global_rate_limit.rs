//! Envoy's global rate limit filter configuration as EnvoyFilters carry it
//! (`envoy.extensions.filters.http.ratelimit.v3.RateLimit`, fields by their JSON names): the
//! `domain` asked about, the rate limit service (a gRPC cluster named the way Istio names its
//! clusters, `outbound|PORT|SUBSET|HOST`), its `timeout`, `failure_mode_deny` and
//! `enable_x_ratelimit_headers`. Checked as Envoy checks it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Duration;

/// The type URL of Envoy's HTTP rate limit (global) configuration.
pub const RATE_LIMIT_TYPE: &str =
    "type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit";
/// The filter's name in an HTTP filter chain.
pub const RATE_LIMIT_FILTER: &str = "envoy.filters.http.ratelimit";
/// Envoy's wait for the service when `timeout` is not set.
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(20);

/// The filter's configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GlobalRateLimitConfig {
    pub domain: String,
    pub stage: Option<u32>,
    pub request_type: Option<String>,
    pub timeout: Option<Duration>,
    pub failure_mode_deny: bool,
    pub rate_limit_service: RateLimitServiceConfig,
    pub enable_x_ratelimit_headers: Option<XRateLimitHeaders>,
    /// Read, not acted on: reported by [`GlobalRateLimitConfig::not_acted_on`].
    pub rate_limited_as_resource_exhausted: Option<Value>,
    pub disable_x_envoy_ratelimited_header: Option<Value>,
    pub rate_limited_status: Option<Value>,
    pub response_headers_to_add: Option<Value>,
    pub status_on_error: Option<Value>,
    pub stat_prefix: Option<Value>,
    pub failure_mode_deny_percent: Option<Value>,
    pub filter_enabled: Option<Value>,
    pub filter_enforced: Option<Value>,
}

/// `x-ratelimit-*` headers: none, or the IETF draft 03's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum XRateLimitHeaders {
    #[default]
    Off,
    #[serde(rename = "DRAFT_VERSION_03")]
    DraftVersion03,
}

/// Where the rate limit service is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RateLimitServiceConfig {
    pub grpc_service: GrpcService,
    pub transport_api_version: Option<String>,
}

/// A gRPC service: the mesh reads `envoy_grpc` only.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GrpcService {
    pub envoy_grpc: Option<EnvoyGrpc>,
    pub timeout: Option<Duration>,
    pub google_grpc: Option<Value>,
    pub initial_metadata: Option<Value>,
    pub retry_policy: Option<Value>,
}

/// An Envoy cluster, by name, and the `:authority` to send.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EnvoyGrpc {
    pub cluster_name: String,
    pub authority: Option<String>,
    pub max_receive_message_length: Option<Value>,
    pub skip_envoy_headers: Option<Value>,
}

impl GlobalRateLimitConfig {
    /// The cluster the service is asked through.
    pub fn cluster_name(&self) -> Option<&str> {
        let grpc = self.rate_limit_service.grpc_service.envoy_grpc.as_ref()?;
        Some(grpc.cluster_name.as_str()).filter(|n| !n.is_empty())
    }

    /// The `:authority` to send the service, when set.
    pub fn authority(&self) -> Option<&str> {
        let grpc = self.rate_limit_service.grpc_service.envoy_grpc.as_ref()?;
        grpc.authority.as_deref().filter(|a| !a.is_empty())
    }

    /// How long the service is waited for: `timeout`, else the gRPC service's, else 20 ms.
    pub fn timeout(&self) -> std::time::Duration {
        let service = self.rate_limit_service.grpc_service.timeout.as_ref();
        let set = self.timeout.as_ref().or(service);
        set.map_or(DEFAULT_TIMEOUT, |t| t.value)
    }

    /// Whether `x-ratelimit-*` headers are added.
    pub fn x_ratelimit_headers(&self) -> bool {
        self.enable_x_ratelimit_headers == Some(XRateLimitHeaders::DraftVersion03)
    }

    /// What Envoy refuses: `(field, message)`.
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if self.domain.is_empty() {
            return Some(("domain", "must not be empty".into()));
        }
        if self.rate_limit_service.grpc_service.google_grpc.is_some() {
            let message = "the mesh asks the service through envoy_grpc only".into();
            return Some(("rateLimitService.grpcService.googleGrpc", message));
        }
        if self.cluster_name().is_none() {
            let message = "must name the service's cluster (outbound|PORT||HOST)".into();
            return Some((
                "rateLimitService.grpcService.envoyGrpc.clusterName",
                message,
            ));
        }
        let version = self.rate_limit_service.transport_api_version.as_deref();
        if version.is_some_and(|v| v != "V3") {
            let message = format!("{version:?}: Envoy speaks V3 only");
            return Some(("rateLimitService.transportApiVersion", message));
        }
        None
    }

    /// The fields set that the mesh reads and does not act on, by JSON name.
    pub fn not_acted_on(&self) -> Vec<&'static str> {
        let grpc = &self.rate_limit_service.grpc_service;
        let envoy = grpc.envoy_grpc.clone().unwrap_or_default();
        let fields = [
            ("requestType", self.request_type.is_some()),
            (
                "rateLimitedAsResourceExhausted",
                self.rate_limited_as_resource_exhausted.is_some(),
            ),
            (
                "disableXEnvoyRatelimitedHeader",
                self.disable_x_envoy_ratelimited_header.is_some(),
            ),
            ("rateLimitedStatus", self.rate_limited_status.is_some()),
            (
                "responseHeadersToAdd",
                self.response_headers_to_add.is_some(),
            ),
            ("statusOnError", self.status_on_error.is_some()),
            ("statPrefix", self.stat_prefix.is_some()),
            (
                "failureModeDenyPercent",
                self.failure_mode_deny_percent.is_some(),
            ),
            ("filterEnabled", self.filter_enabled.is_some()),
            ("filterEnforced", self.filter_enforced.is_some()),
            (
                "rateLimitService.grpcService.initialMetadata",
                grpc.initial_metadata.is_some(),
            ),
            (
                "rateLimitService.grpcService.retryPolicy",
                grpc.retry_policy.is_some(),
            ),
            (
                "rateLimitService.grpcService.envoyGrpc.maxReceiveMessageLength",
                envoy.max_receive_message_length.is_some(),
            ),
            (
                "rateLimitService.grpcService.envoyGrpc.skipEnvoyHeaders",
                envoy.skip_envoy_headers.is_some(),
            ),
        ];
        fields.iter().filter(|f| f.1).map(|f| f.0).collect()
    }
}
