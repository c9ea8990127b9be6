//! Envoy's local rate limit configuration as EnvoyFilters carry it
//! (`envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit`, fields by their JSON
//! names) and the route's `rate_limits` actions that make its descriptors. Read from a patch's
//! `typed_config` (inline or in a `TypedStruct`), checked as Envoy checks them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Duration;

/// The type URL of Envoy's HTTP local rate limit configuration.
pub const LOCAL_RATE_LIMIT_TYPE: &str =
    "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";
/// The filter's name in an HTTP filter chain and in `typed_per_filter_config`.
pub const LOCAL_RATE_LIMIT_FILTER: &str = "envoy.filters.http.local_ratelimit";
/// Envoy refuses refills more often than this.
pub const MIN_FILL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(50);

/// The filter's configuration (or a route's, which replaces it for that route).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LocalRateLimitConfig {
    pub stat_prefix: String,
    pub status: Option<HttpStatus>,
    pub token_bucket: Option<TokenBucketConfig>,
    pub filter_enabled: Option<RuntimeFraction>,
    pub filter_enforced: Option<RuntimeFraction>,
    pub response_headers_to_add: Vec<HeaderValueOption>,
    pub request_headers_to_add_when_not_enforced: Vec<HeaderValueOption>,
    pub descriptors: Vec<LocalDescriptor>,
    pub always_consume_default_token_bucket: Option<bool>,
    /// Read, not acted on: reported by [`LocalRateLimitConfig::not_acted_on`].
    pub stage: Option<Value>,
    pub local_rate_limit_per_downstream_connection: Option<Value>,
    pub enable_x_ratelimit_headers: Option<Value>,
    pub vh_rate_limits: Option<Value>,
    pub rate_limited_as_resource_exhausted: Option<Value>,
    pub local_cluster_rate_limit: Option<Value>,
    pub rate_limits: Option<Value>,
    pub max_dynamic_descriptors: Option<Value>,
}

/// The status answered instead of 429.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpStatus {
    pub code: u16,
}

/// `max_tokens` to start with and at most; `tokens_per_fill` added every `fill_interval`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TokenBucketConfig {
    pub max_tokens: u32,
    pub tokens_per_fill: Option<u32>,
    pub fill_interval: Option<Duration>,
}

/// A share of requests (`runtime_key` names an Envoy runtime value; the default is used).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RuntimeFraction {
    pub runtime_key: String,
    pub default_value: FractionalPercent,
}

/// `numerator` out of `denominator`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FractionalPercent {
    pub numerator: u32,
    pub denominator: Denominator,
}

impl FractionalPercent {
    /// As a percentage, at most 100.
    pub fn percent(&self) -> f64 {
        let whole = match self.denominator {
            Denominator::Hundred => 100.0,
            Denominator::TenThousand => 10_000.0,
            Denominator::Million => 1_000_000.0,
        };
        (f64::from(self.numerator) * 100.0 / whole).min(100.0)
    }
}

/// Envoy's denominators.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Denominator {
    #[default]
    Hundred,
    TenThousand,
    Million,
}

/// A header added to a response (or request).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HeaderValueOption {
    pub header: HeaderValue,
    pub append: Option<bool>,
    pub append_action: Option<String>,
    pub keep_empty_value: Option<bool>,
}

/// One header.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HeaderValue {
    pub key: String,
    pub value: String,
}

/// A bucket of its own for requests whose descriptor is exactly `entries`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LocalDescriptor {
    pub entries: Vec<DescriptorEntry>,
    pub token_bucket: Option<TokenBucketConfig>,
}

/// One `key`/`value` pair of a descriptor.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(default)]
pub struct DescriptorEntry {
    pub key: String,
    pub value: String,
}

/// A route's `rate_limits` entry: its actions make one descriptor.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RouteRateLimit {
    pub stage: Option<u32>,
    pub disable_key: Option<String>,
    pub actions: Vec<RateLimitAction>,
    pub limit: Option<Value>,
}

/// One action; exactly one of its fields is set. The first three are acted on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RateLimitAction {
    pub request_headers: Option<RequestHeadersAction>,
    pub remote_address: Option<Value>,
    pub generic_key: Option<GenericKeyAction>,
    pub source_cluster: Option<Value>,
    pub destination_cluster: Option<Value>,
    pub header_value_match: Option<Value>,
    pub dynamic_metadata: Option<Value>,
    pub metadata: Option<Value>,
    pub extension: Option<Value>,
    pub masked_remote_address: Option<Value>,
    pub query_parameter_value_match: Option<Value>,
    pub query_parameters: Option<Value>,
}

/// The value of header `header_name` under `descriptor_key`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestHeadersAction {
    pub header_name: String,
    pub descriptor_key: String,
    pub skip_if_absent: bool,
}

/// A fixed `descriptor_value` under `descriptor_key` (`generic_key` when empty).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GenericKeyAction {
    pub descriptor_value: String,
    pub descriptor_key: Option<String>,
}

impl LocalRateLimitConfig {
    /// The fields set that the mesh reads and does not act on, by JSON name.
    pub fn not_acted_on(&self) -> Vec<&'static str> {
        let fields = [
            ("stage", self.stage.is_some()),
            (
                "localRateLimitPerDownstreamConnection",
                self.local_rate_limit_per_downstream_connection.is_some(),
            ),
            (
                "enableXRatelimitHeaders",
                self.enable_x_ratelimit_headers.is_some(),
            ),
            ("vhRateLimits", self.vh_rate_limits.is_some()),
            (
                "rateLimitedAsResourceExhausted",
                self.rate_limited_as_resource_exhausted.is_some(),
            ),
            (
                "localClusterRateLimit",
                self.local_cluster_rate_limit.is_some(),
            ),
            ("rateLimits", self.rate_limits.is_some()),
            (
                "maxDynamicDescriptors",
                self.max_dynamic_descriptors.is_some(),
            ),
        ];
        fields
            .iter()
            .filter(|(_, set)| *set)
            .map(|(f, _)| *f)
            .collect()
    }
}

impl RateLimitAction {
    /// The name of the first action kind set that the mesh does not act on.
    pub fn not_acted_on(&self) -> Option<&'static str> {
        let kinds = [
            ("sourceCluster", self.source_cluster.is_some()),
            ("destinationCluster", self.destination_cluster.is_some()),
            ("headerValueMatch", self.header_value_match.is_some()),
            ("dynamicMetadata", self.dynamic_metadata.is_some()),
            ("metadata", self.metadata.is_some()),
            ("extension", self.extension.is_some()),
            ("maskedRemoteAddress", self.masked_remote_address.is_some()),
            (
                "queryParameterValueMatch",
                self.query_parameter_value_match.is_some(),
            ),
            ("queryParameters", self.query_parameters.is_some()),
        ];
        kinds.iter().find(|(_, set)| *set).map(|(k, _)| *k)
    }
}
