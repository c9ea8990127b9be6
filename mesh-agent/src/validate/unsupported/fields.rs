//! THE list: every field of an Istio kind the mesh reads but does not act on, with what happens
//! instead. A path names the field as written in YAML; `[*]` walks every item of a list.

/// Which values of a field make it unsupported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Values {
    /// Any value: the field being there is enough.
    Any,
    /// Only these (strings, compared without case); other values are acted on.
    OneOf(&'static [&'static str]),
    /// Every value but these (strings, compared without case).
    Except(&'static [&'static str]),
}

/// One field the mesh parses and ignores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsupportedField {
    /// The kind carrying it: `DestinationRule`, ...
    pub kind: &'static str,
    /// `spec.http[*].corsPolicy`: also the `field` label of `mesh_config_unsupported_fields`.
    pub path: String,
    pub values: Values,
    /// What the mesh does instead, in a few words.
    pub why: &'static str,
}

const DR: &str = "DestinationRule";
const VS: &str = "VirtualService";
const GW: &str = "Gateway";
const SE: &str = "ServiceEntry";
const SC: &str = "Sidecar";
const PA: &str = "PeerAuthentication";
const TM: &str = "Telemetry";
const AP: &str = "AuthorizationPolicy";
const RA: &str = "RequestAuthentication";

/// Fields of a kind, whatever their values: (kind, path, why).
#[rustfmt::skip]
const FIELDS: &[(&str, &str, &str)] = &[
    (VS, "spec.http[*].corsPolicy", "no CORS handling: preflight requests go to the destination like any request"),
    (VS, "spec.http[*].delegate", "delegate VirtualServices are not followed: the rule routes nowhere"),
    (VS, "spec.http[*].retries.retryRemoteLocalities", "no localities: retries pick any endpoint"),
    (VS, "spec.http[*].fault.abort.http2Error", "aborts answer with httpStatus or grpcStatus only"),
    (GW, "spec.servers[*].tls.httpsRedirect", "no HTTPS redirect yet: the server is not served"),
    (GW, "spec.servers[*].tls.serverCertificate", "certificates come from credentialName (a TLS Secret) only"),
    (GW, "spec.servers[*].tls.privateKey", "certificates come from credentialName (a TLS Secret) only"),
    (GW, "spec.servers[*].tls.caCertificates", "no client certificate checks (MUTUAL is not supported)"),
    (GW, "spec.servers[*].tls.subjectAltNames", "no client certificate checks (MUTUAL is not supported)"),
    (GW, "spec.servers[*].tls.minProtocolVersion", "TLS versions are rustls's defaults (1.2 and 1.3)"),
    (GW, "spec.servers[*].tls.maxProtocolVersion", "TLS versions are rustls's defaults (1.2 and 1.3)"),
    (GW, "spec.servers[*].tls.cipherSuites", "cipher suites are rustls's defaults"),
    (GW, "spec.servers[*].bind", "servers listen on the node address"),
    (GW, "spec.servers[*].defaultEndpoint", "requests go to the routed destination"),
    (GW, "spec.servers[*].port.targetPort", "servers listen on port.number"),
    (SE, "spec.subjectAltNames", "no TLS origination: the identity is not checked"),
    (SE, "spec.endpoints[*].network", "one network: every endpoint is dialled directly"),
    (SE, "spec.endpoints[*].serviceAccount", "the endpoint's identity is not checked"),
    (SC, "spec.workloadSelector", "a Sidecar with a workloadSelector is ignored whole"),
    (SC, "spec.ingress", "inbound listeners are the mesh's own (15006)"),
    (SC, "spec.egress[*].port", "the listed hosts are reachable on every port"),
    (SC, "spec.egress[*].bind", "outbound connections are captured whatever address they bind"),
    (SC, "spec.egress[*].captureMode", "outbound connections are captured by the connect hook"),
    (SC, "spec.inboundConnectionPool", "no inbound connection limits"),
    (SC, "spec.outboundTrafficPolicy.egressProxy", "unknown destinations go out directly (ALLOW_ANY)"),
    (TM, "spec.targetRef", "Telemetry applies by selector only: this one applies to its whole namespace"),
    (TM, "spec.targetRefs", "Telemetry applies by selector only: this one applies to its whole namespace"),
    (TM, "spec.tracing[*].providers", "spans go to MeshConfig's first opentelemetry provider"),
    (TM, "spec.tracing[*].customTags", "spans carry the mesh's own attributes only"),
    (TM, "spec.tracing[*].disableSpanReporting", "spans are reported when sampled"),
    (TM, "spec.tracing[*].useRequestIdForTraceSampling", "sampling draws at random"),
    (TM, "spec.metrics[*].reportingInterval", "metrics are current at every scrape"),
    (TM, "spec.metrics[*].overrides[*].tagOverrides", "Istio's standard labels, unchanged"),
    (TM, "spec.metrics[*].overrides[*].match.customMetric", "only ALL_METRICS can be switched on or off"),
    (TM, "spec.accessLogging[*].filter", "filter expressions are not evaluated: every entry is logged (sample with MeshConfig accessLogSampling)"),
];

/// Fields that are unsupported with some values only: (kind, path, values, why).
#[rustfmt::skip]
const VALUES: &[(&str, &str, Values, &str)] = &[
    (GW, "spec.servers[*].tls.mode", Values::Except(&["SIMPLE"]), "only SIMPLE TLS is served: the server is not served"),
    (GW, "spec.servers[*].port.protocol", Values::Except(&["HTTP", "HTTP2", "GRPC", "HTTPS"]), "only HTTP, HTTP2, GRPC and HTTPS servers are served: the server is not served"),
    (TM, "spec.tracing[*].match.mode", Values::OneOf(&["CLIENT", "SERVER"]), "sampling applies to both sides in the mesh"),
    (TM, "spec.metrics[*].providers[*].name", Values::Except(&["prometheus"]), "metrics are served for Prometheus only"),
    (TM, "spec.metrics[*].overrides[*].match.metric", Values::Except(&["ALL_METRICS"]), "only ALL_METRICS can be switched on or off"),
    (TM, "spec.accessLogging[*].providers[*].name", Values::Except(&["envoy"]), "access logs go to MeshConfig accessLogFile"),
    (RA, "spec.targetRef.kind", Values::Except(&["Service"]), "there is no waypoint nor Gateway API gateway: only Service targets select workloads; this target selects none"),
    (RA, "spec.targetRefs[*].kind", Values::Except(&["Service"]), "there is no waypoint nor Gateway API gateway: only Service targets select workloads; this target selects none"),
    (PA, "spec.mtls.mode", Values::OneOf(&["DISABLE"]), "DISABLE is read as PERMISSIVE: plain text is accepted, meshed sources still use the tunnel"),
    (AP, "spec.targetRef.kind", Values::Except(&["Service"]), "there is no waypoint nor Gateway API gateway: only Service targets select workloads; this target selects none"),
    (AP, "spec.targetRefs[*].kind", Values::Except(&["Service"]), "there is no waypoint nor Gateway API gateway: only Service targets select workloads; this target selects none"),
];

/// Where a DestinationRule carries a traffic policy, and the fields it may set there.
const POLICY_PLACES: &[&str] = &[
    "spec.trafficPolicy",
    "spec.trafficPolicy.portLevelSettings[*]",
    "spec.subsets[*].trafficPolicy",
    "spec.subsets[*].trafficPolicy.portLevelSettings[*]",
];

/// Fields of every traffic policy: (path below the policy, why).
#[rustfmt::skip]
const POLICY_FIELDS: &[(&str, &str)] = &[
    ("tls.caCrl", "no certificate revocation check: the CRL is not read"),
    ("loadBalancer.localityLbSetting.failoverPriority", "endpoints are ordered by locality only, not by labels"),
    ("loadBalancer.warmupDurationSecs", "new endpoints take their full share at once"),
    ("loadBalancer.consistentHash.maglev", "consistent hashing uses a ring hash"),
    ("loadBalancer.consistentHash.httpCookie.attributes", "the generated cookie carries name, path and TTL only"),
    ("connectionPool.tcp.tcpKeepalive", "upstream sockets use the system's keepalive"),
    ("connectionPool.http.h2UpgradePolicy", "HTTP/1.1 requests stay HTTP/1.1 upstream"),
    ("connectionPool.http.useClientProtocol", "the upstream protocol follows the port's protocol"),
    ("tunnel", "no tunnelling: connections go to the destination directly"),
    ("proxyProtocol", "no PROXY protocol header is sent"),
];

/// Values of every traffic policy the mesh does not act on: (path below the policy, why).
#[rustfmt::skip]
const POLICY_VALUES: &[(&str, Values, &str)] = &[
    ("tls.mode", Values::Except(&["DISABLE", "SIMPLE", "MUTUAL"]), "ISTIO_MUTUAL is the mesh's own tunnel between agents: the rule originates no TLS itself"),
];

/// Fields of a DestinationRule itself.
const RULE_FIELDS: &[(&str, &str)] = &[(
    "spec.workloadSelector",
    "the rule applies to every client that sees it",
)];

/// The whole list, built once.
pub fn unsupported_fields() -> &'static [UnsupportedField] {
    static LIST: std::sync::LazyLock<Vec<UnsupportedField>> = std::sync::LazyLock::new(build);
    &LIST
}

fn build() -> Vec<UnsupportedField> {
    let field = |kind, path: String, values, why| UnsupportedField {
        kind,
        path,
        values,
        why,
    };
    let fields = FIELDS
        .iter()
        .map(|&(kind, path, why)| field(kind, path.into(), Values::Any, why));
    let valued = VALUES
        .iter()
        .map(|&(kind, path, values, why)| field(kind, path.into(), values, why));
    let rule = RULE_FIELDS
        .iter()
        .map(|&(path, why)| field(DR, path.into(), Values::Any, why));
    let policies = POLICY_PLACES.iter().flat_map(|place| {
        POLICY_FIELDS
            .iter()
            .filter(move |(path, _)| !place.ends_with("[*]") || !is_whole_policy_only(path))
            .map(move |&(path, why)| field(DR, format!("{place}.{path}"), Values::Any, why))
    });
    let policy_values = POLICY_PLACES.iter().flat_map(|place| {
        let at = move |&(path, values, why): &(&str, Values, &'static str)| {
            field(DR, format!("{place}.{path}"), values, why)
        };
        POLICY_VALUES.iter().map(at)
    });
    let policies = policies.chain(policy_values);
    fields.chain(valued).chain(rule).chain(policies).collect()
}

/// Port-level settings carry no `tunnel` nor `proxyProtocol`.
fn is_whole_policy_only(path: &str) -> bool {
    matches!(path, "tunnel" | "proxyProtocol")
}

/// Kinds the mesh reads but does not enforce yet, reported whole (field `spec`).
#[rustfmt::skip]
pub const UNENFORCED_KINDS: &[(&str, &str)] = &[
];
