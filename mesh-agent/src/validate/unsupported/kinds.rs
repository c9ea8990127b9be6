//! Kinds the mesh does not read at all: any group but Kubernetes' own built-in ones (whose
//! workloads, RBAC, storage... configure nothing in the mesh) is reported, never dropped silently.

/// Kubernetes' built-in groups: their kinds are not mesh configuration (Ingress aside).
const KUBERNETES_GROUPS: &[&str] = &[
    "",
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "apiextensions.k8s.io",
    "apiregistration.k8s.io",
    "admissionregistration.k8s.io",
    "coordination.k8s.io",
    "scheduling.k8s.io",
    "node.k8s.io",
    "certificates.k8s.io",
    "discovery.k8s.io",
    "events.k8s.io",
    "flowcontrol.apiserver.k8s.io",
    "networking.k8s.io",
    "resource.k8s.io",
];

/// What happens instead, for kinds tutorials use: (group, kind or `*`, why).
#[rustfmt::skip]
const KNOWN: &[(&str, &str, &str)] = &[
    ("rbac.istio.io", "*", "removed in Istio 1.6: use AuthorizationPolicy"),
    ("networking.istio.io", "WorkloadEntry", "VM workloads are not supported: list endpoints in a ServiceEntry"),
    ("networking.istio.io", "WorkloadGroup", "VM workloads are not supported"),
    ("networking.istio.io", "ProxyConfig", "the agent takes its settings from its flags"),
    ("extensions.istio.io", "WasmPlugin", "there is no Envoy in this mesh: no Wasm plugins"),
    ("gateway.networking.k8s.io", "*", "the Kubernetes Gateway API is not supported yet: use Istio's Gateway and VirtualService"),
    ("networking.k8s.io", "Ingress", "Kubernetes Ingress is not served: use Istio's Gateway and VirtualService"),
];

/// Kinds the mesh reads and applies as their replacements, but warns about: (group, kind, why).
#[rustfmt::skip]
const DEPRECATED: &[(&str, &str, &str)] = &[
    ("authentication.istio.io", "Policy", "removed in Istio 1.6; applied as the PeerAuthentication, RequestAuthentication and AuthorizationPolicy it stands for (the replacement YAML is in the warning at `spec`): apply those instead"),
    ("authentication.istio.io", "MeshPolicy", "removed in Istio 1.6; applied as the root namespace's PeerAuthentication (and RequestAuthentication, AuthorizationPolicy) it stands for (the replacement YAML is in the warning at `spec`): apply those instead"),
];

/// Why `kind` of `group` is deprecated, when the mesh reads it only for compatibility.
pub fn deprecated_kind(group: &str, kind: &str) -> Option<&'static str> {
    let found = DEPRECATED
        .iter()
        .find(|(g, k, _)| *g == group && *k == kind);
    found.map(|(.., why)| *why)
}

/// Kinds the mesh reads, by group (`parse` types them).
const READ: &[(&str, &[&str])] = &[
    (
        "networking.istio.io",
        &[
            "VirtualService",
            "DestinationRule",
            "Gateway",
            "ServiceEntry",
            "Sidecar",
            "EnvoyFilter",
        ],
    ),
    (
        "security.istio.io",
        &[
            "AuthorizationPolicy",
            "PeerAuthentication",
            "RequestAuthentication",
        ],
    ),
    ("telemetry.istio.io", &["Telemetry"]),
    ("authentication.istio.io", &["Policy", "MeshPolicy"]),
];

/// Why `kind` of `group` is not read, or `None` when the mesh reads it or it is not mesh
/// configuration (a Deployment, a ServiceAccount, ...).
pub fn unsupported_kind(group: &str, kind: &str) -> Option<&'static str> {
    let read = READ
        .iter()
        .any(|(g, kinds)| *g == group && kinds.contains(&kind));
    let known = KNOWN
        .iter()
        .find(|(g, k, _)| *g == group && (*k == kind || *k == "*"));
    match (read, known) {
        (true, _) => None,
        (false, Some((.., why))) => Some(why),
        (false, None) if KUBERNETES_GROUPS.contains(&group) => None,
        (false, None) => Some("the mesh does not read this kind"),
    }
}
