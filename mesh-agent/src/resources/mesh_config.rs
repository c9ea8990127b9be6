//! Mesh-wide settings, read the way Istio reads them: ConfigMap `istio` in `istio-system`, key
//! `mesh`, holding MeshConfig YAML. What is absent takes Istio's default. MeshConfig carries many
//! control-plane settings the mesh does not use: unknown keys are ignored without warnings.

use serde::{Deserialize, Serialize};

use super::ext_authz::{ExtAuthzGrpc, ExtAuthzHttp};
use super::gateway::OutboundTrafficPolicy;
use super::virtual_service::Retry;

/// The ConfigMap namespace and name that hold the mesh config.
pub const MESH_CONFIG_MAP: (&str, &str) = ("istio-system", "istio");
/// The ConfigMap data key that holds the MeshConfig YAML.
pub const MESH_CONFIG_KEY: &str = "mesh";
/// Istio's default trust domain.
pub const DEFAULT_TRUST_DOMAIN: &str = "cluster.local";

/// The mesh-wide settings the agent uses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MeshConfig {
    pub outbound_traffic_policy: OutboundTrafficPolicy,
    /// Retries for HTTP routes that set none (Istio: 2 attempts on connection failures).
    pub default_http_retry_policy: Retry,
    pub enable_tracing: bool,
    pub default_config: ProxyConfig,
    pub extension_providers: Vec<ExtensionProvider>,
    /// Where access logs go (`/dev/stdout`); empty turns them off.
    pub access_log_file: String,
    pub access_log_encoding: AccessLogEncoding,
    /// Mesh extension (not an Istio field): percent of requests and TCP connections logged when
    /// access logs are on, 0–100 (default 100). Istio itself samples only through a CEL
    /// `accessLogging[].filter` on a Telemetry resource, which the mesh does not evaluate.
    pub access_log_sampling: f64,
    /// The trust domain of the SPIFFE identities telemetry reports (`cluster.local`).
    pub trust_domain: String,
    /// Where mesh-wide resources live (Telemetry, AuthorizationPolicy): `istio-system`.
    pub root_namespace: String,
    /// How request paths are normalized before routing and authorization.
    pub path_normalization: PathNormalizationConfig,
}

/// MeshConfig `pathNormalization`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PathNormalizationConfig {
    pub normalization: PathNormalization,
}

/// Istio's `pathNormalization.normalization`, as Envoy's connection manager applies it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PathNormalization {
    /// The path as sent.
    None,
    /// RFC 3986: `.`/`..` segments resolved, unreserved characters decoded, other escapes
    /// upper-cased, `\` read as `/` (Envoy's `normalize_path`). `DEFAULT` is `BASE`.
    #[default]
    #[serde(alias = "DEFAULT")]
    Base,
    /// `Base`, then `//` merged into `/` (Envoy's `merge_slashes`).
    MergeSlashes,
    /// `%2F` and `%5C` (either case) decoded to `/` first (Envoy's `UNESCAPE_AND_FORWARD`),
    /// then `MergeSlashes`.
    DecodeAndMergeSlashes,
}

/// The part of `defaultConfig` the mesh uses.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProxyConfig {
    pub tracing: Tracing,
    pub gateway_topology: GatewayTopology,
}

/// What stands in front of the gateways.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GatewayTopology {
    /// Proxies in front of the gateways whose `x-forwarded-for` entries (and request id and
    /// trace context) are trusted; 0: the gateway's peer is the client.
    pub num_trusted_proxies: u32,
}

/// Trace sampling.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Tracing {
    /// Percent of requests sampled, 0.0–100.0 (Istio's default: 1.0).
    pub sampling: f64,
}

/// A named extension: a telemetry backend (OpenTelemetry, Zipkin collectors) or an external
/// authorizer (CUSTOM AuthorizationPolicies).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExtensionProvider {
    pub name: String,
    pub opentelemetry: Option<Collector>,
    pub zipkin: Option<Collector>,
    pub envoy_ext_authz_http: Option<ExtAuthzHttp>,
    pub envoy_ext_authz_grpc: Option<ExtAuthzGrpc>,
}

/// A collector's service host and port.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Collector {
    pub service: String,
    pub port: u16,
}

/// Access log format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccessLogEncoding {
    #[default]
    Text,
    Json,
}

impl Default for MeshConfig {
    fn default() -> Self {
        Self {
            outbound_traffic_policy: OutboundTrafficPolicy::default(),
            default_http_retry_policy: Retry {
                attempts: 2,
                retry_on: Some(
                    "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
                        .to_string(),
                ),
                ..Retry::default()
            },
            enable_tracing: true,
            default_config: ProxyConfig::default(),
            extension_providers: Vec::new(),
            access_log_file: String::new(),
            access_log_encoding: AccessLogEncoding::Text,
            access_log_sampling: 100.0,
            trust_domain: DEFAULT_TRUST_DOMAIN.into(),
            root_namespace: MESH_CONFIG_MAP.0.into(),
            path_normalization: PathNormalizationConfig::default(),
        }
    }
}

impl Default for Tracing {
    fn default() -> Self {
        Self { sampling: 1.0 }
    }
}

impl MeshConfig {
    /// Whether access logging is on.
    pub fn access_log_enabled(&self) -> bool {
        !self.access_log_file.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::OutboundMode;

    #[test]
    fn absent_settings_take_istio_defaults() {
        let mesh: MeshConfig = serde_yaml::from_str("accessLogFile: /dev/stdout").unwrap();
        assert_eq!(mesh.outbound_traffic_policy.mode, OutboundMode::AllowAny);
        assert!(mesh.enable_tracing);
        assert_eq!(mesh.default_config.tracing.sampling, 1.0);
        assert_eq!(mesh.default_http_retry_policy.attempts, 2);
        assert!(mesh.access_log_enabled());
        assert_eq!(mesh.access_log_sampling, 100.0);
        assert_eq!(mesh.trust_domain, "cluster.local");
        assert_eq!(mesh.root_namespace, "istio-system");
    }

    #[test]
    fn the_access_log_sampling_extension_and_identity_settings_are_read() {
        let text = "accessLogSampling: 12.5\ntrustDomain: example.org\nrootNamespace: mesh-root\n";
        let mesh: MeshConfig = serde_yaml::from_str(text).unwrap();
        assert_eq!(mesh.access_log_sampling, 12.5);
        assert_eq!(mesh.trust_domain, "example.org");
        assert_eq!(mesh.root_namespace, "mesh-root");
    }

    #[test]
    fn istio_settings_are_read() {
        let text = "outboundTrafficPolicy: {mode: REGISTRY_ONLY}\ndefaultConfig:\n  tracing: {sampling: 100}\n  discoveryAddress: x\nextensionProviders:\n- name: otel\n  opentelemetry: {service: otel.observability.svc.cluster.local, port: 4317}\naccessLogEncoding: JSON\n";
        let mesh: MeshConfig = serde_yaml::from_str(text).unwrap();
        assert_eq!(
            mesh.outbound_traffic_policy.mode,
            OutboundMode::RegistryOnly
        );
        assert_eq!(mesh.default_config.tracing.sampling, 100.0);
        assert_eq!(
            mesh.extension_providers[0]
                .opentelemetry
                .as_ref()
                .unwrap()
                .port,
            4317
        );
        assert_eq!(mesh.access_log_encoding, AccessLogEncoding::Json);
    }
}
