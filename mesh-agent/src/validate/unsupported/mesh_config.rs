//! MeshConfig (ConfigMap `istio-system/istio`, key `mesh`): the settings the mesh acts on are
//! few, so they are listed here and every other key set is reported (Istio has hundreds).

use serde_json::Value;

/// Every MeshConfig field the mesh acts on (DESIGN §6); `[*]` is an item of a list.
const ACTED_ON: &[&str] = &[
    "outboundTrafficPolicy.mode",
    "defaultHttpRetryPolicy.attempts",
    "defaultHttpRetryPolicy.perTryTimeout",
    "defaultHttpRetryPolicy.retryOn",
    "enableTracing",
    "defaultConfig.tracing.sampling",
    "defaultConfig.gatewayTopology.numTrustedProxies",
    "extensionProviders[*].name",
    "extensionProviders[*].opentelemetry.service",
    "extensionProviders[*].opentelemetry.port",
    "extensionProviders[*].envoyExtAuthzHttp.service",
    "extensionProviders[*].envoyExtAuthzHttp.port",
    "extensionProviders[*].envoyExtAuthzHttp.timeout",
    "extensionProviders[*].envoyExtAuthzHttp.pathPrefix",
    "extensionProviders[*].envoyExtAuthzHttp.failOpen",
    "extensionProviders[*].envoyExtAuthzHttp.statusOnError",
    "extensionProviders[*].envoyExtAuthzHttp.includeRequestHeadersInCheck",
    "extensionProviders[*].envoyExtAuthzHttp.includeAdditionalHeadersInCheck",
    "extensionProviders[*].envoyExtAuthzHttp.headersToUpstreamOnAllow",
    "extensionProviders[*].envoyExtAuthzHttp.headersToDownstreamOnDeny",
    "extensionProviders[*].envoyExtAuthzHttp.headersToDownstreamOnAllow",
    "extensionProviders[*].envoyExtAuthzGrpc.service",
    "extensionProviders[*].envoyExtAuthzGrpc.port",
    "extensionProviders[*].envoyExtAuthzGrpc.timeout",
    "extensionProviders[*].envoyExtAuthzGrpc.failOpen",
    "extensionProviders[*].envoyExtAuthzGrpc.statusOnError",
    "accessLogFile",
    "accessLogEncoding",
    "accessLogSampling",
    "trustDomain",
    "rootNamespace",
    "pathNormalization.normalization",
];

/// What happens instead, for the settings tutorials set most.
#[rustfmt::skip]
const WHY: &[(&str, &str)] = &[
    ("extensionProviders[*].zipkin", "spans are exported to an opentelemetry provider only"),
    ("extensionProviders[*].envoyExtAuthzHttp.includeRequestBodyInCheck", "the authorizer is not sent the request body"),
    ("extensionProviders[*].envoyExtAuthzGrpc.includeRequestBodyInCheck", "the authorizer is not sent the request body"),
    ("defaultConfig.tracing.zipkin", "spans are exported to an opentelemetry provider only"),
    ("defaultProviders", "providers come from Telemetry resources and extensionProviders"),
    ("accessLogFormat", "access log lines use the mesh's fixed format (accessLogEncoding)"),
    ("enableAutoMtls", "traffic between agents is always mTLS"),
    ("localityLbSetting", "the mesh-wide setting is not read: DestinationRules' are (locality-aware balancing is on unless one says `enabled: false`)"),
];

const OTHERWISE: &str = "the mesh does not act on this MeshConfig setting";

/// Every key of `mesh` the mesh does not act on: (pattern, path, why), the pattern with `[*]`
/// for list items, the path with indices.
pub fn unacted(mesh: &Value) -> Vec<(String, String, &'static str)> {
    let mut found = Vec::new();
    walk(mesh, "", "", &mut found);
    found
}

fn walk(value: &Value, pattern: &str, at: &str, found: &mut Vec<(String, String, &'static str)>) {
    let Some(object) = value.as_object() else {
        return;
    };
    for (key, child) in object.iter().filter(|(_, v)| !v.is_null()) {
        let (pattern, at) = (join(pattern, key), join(at, key));
        if ACTED_ON.contains(&pattern.as_str()) {
            continue;
        }
        let items = format!("{pattern}[*]");
        match child {
            Value::Array(list) if leads(&items) => {
                for (i, item) in list.iter().enumerate() {
                    walk(item, &items, &format!("{at}[{i}]"), found);
                }
            }
            Value::Object(_) if leads(&format!("{pattern}.")) => walk(child, &pattern, &at, found),
            _ => {
                let why = WHY
                    .iter()
                    .find(|(p, _)| *p == pattern)
                    .map_or(OTHERWISE, |w| w.1);
                found.push((pattern, at, why));
            }
        }
    }
}

/// Whether some acted-on field lies below `prefix`.
fn leads(prefix: &str) -> bool {
    ACTED_ON.iter().any(|p| p.starts_with(prefix))
}

fn join(parent: &str, key: &str) -> String {
    match parent {
        "" => key.to_string(),
        parent => format!("{parent}.{key}"),
    }
}
