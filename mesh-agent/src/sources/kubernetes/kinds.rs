//! Exactly what the Kubernetes source reads from the API server, and at which API versions. The
//! deploy manifests' ClusterRole is checked against [`WATCHED_KINDS`], so read-only RBAC grants
//! this list and nothing more.

use kube::core::{ApiResource, GroupVersionKind};

/// Which objects of a kind are watched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Every object in every namespace.
    All,
    /// Only the pods scheduled on the agent's node (field selector `spec.nodeName=<node>`).
    OwnNode,
    /// Every object, metadata only (name, namespace, labels) — the cheap cluster-wide view.
    MetadataOnly,
    /// One named object (field selector `metadata.name=<name>` in `namespace`).
    Named {
        namespace: &'static str,
        name: &'static str,
    },
    /// Every object of one `type` (field selector `type=<type>`), e.g. TLS Secrets only; for
    /// Secrets, a template the source turns into one [`Selection::OfTypeIn`] per namespace
    /// holding gateway credentials (`secrets.rs`).
    OfType(&'static str),
    /// The objects of one `type` in one namespace (field selector `type=<type>`).
    OfTypeIn {
        type_name: &'static str,
        namespace: &'static str,
    },
}

/// One watch the source runs: a kind, which of its objects, and why the mesh needs them.
#[derive(Clone, Copy, Debug)]
pub struct WatchedKind {
    /// API group; empty for the core group.
    pub group: &'static str,
    /// The versions the mesh reads, preferred first; the source watches the first one the API
    /// server serves (see `discovery.rs`).
    pub versions: &'static [&'static str],
    pub kind: &'static str,
    /// The resource name in URLs and RBAC rules.
    pub plural: &'static str,
    pub selection: Selection,
    /// What the mesh uses the objects for.
    pub purpose: &'static str,
    /// For a kind a CRD brings (Istio's), what the mesh does while the API server does not serve
    /// it; `None` for Kubernetes' own kinds, which every supported API server serves.
    pub when_missing: Option<&'static str>,
}

impl WatchedKind {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self, version: &str) -> String {
        match self.group {
            "" => version.to_owned(),
            group => format!("{group}/{version}"),
        }
    }

    /// The kube-rs description of the kind at `version`, for dynamic APIs.
    pub fn api_resource(&self, version: &str) -> ApiResource {
        let gvk = GroupVersionKind::gvk(self.group, version, self.kind);
        ApiResource::from_gvk_with_plural(&gvk, self.plural)
    }

    /// The version to watch when discovery is not asked: the preferred one.
    pub fn preferred_version(&self) -> &'static str {
        self.versions[0]
    }

    /// The field selector of this watch on `node`, if any.
    pub fn field_selector(&self, node: &str) -> Option<String> {
        match self.selection {
            Selection::OwnNode => Some(format!("spec.nodeName={node}")),
            Selection::Named { name, .. } => Some(format!("metadata.name={name}")),
            Selection::OfType(kind)
            | Selection::OfTypeIn {
                type_name: kind, ..
            } => Some(format!("type={kind}")),
            Selection::All | Selection::MetadataOnly => None,
        }
    }
}

const fn core(kind: &'static str, plural: &'static str, selection: Selection) -> WatchedKind {
    kind_in("", kind, plural, selection)
}

const fn kind_in(
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    selection: Selection,
) -> WatchedKind {
    WatchedKind {
        group,
        versions: &["v1"],
        kind,
        plural,
        selection,
        purpose: "",
        when_missing: None,
    }
}

/// An Istio API group and the versions Istio has served its kinds at, newest first
/// (`resources/parse.rs` accepts them all).
struct IstioGroup {
    name: &'static str,
    versions: &'static [&'static str],
}

/// An Istio kind, read at the newest version the API server serves.
const fn istio(
    group: IstioGroup,
    kind: &'static str,
    plural: &'static str,
    when_missing: &'static str,
) -> WatchedKind {
    WatchedKind {
        versions: group.versions,
        purpose: "Istio configuration",
        when_missing: Some(when_missing),
        ..kind_in(group.name, kind, plural, Selection::All)
    }
}

const fn with_purpose(kind: WatchedKind, purpose: &'static str) -> WatchedKind {
    WatchedKind { purpose, ..kind }
}

const NETWORKING: IstioGroup = IstioGroup {
    name: "networking.istio.io",
    versions: &["v1", "v1beta1", "v1alpha3"],
};
/// EnvoyFilter exists at v1alpha3 only.
const ENVOY_FILTERS: IstioGroup = IstioGroup {
    name: "networking.istio.io",
    versions: &["v1alpha3"],
};
const SECURITY: IstioGroup = IstioGroup {
    name: "security.istio.io",
    versions: &["v1", "v1beta1"],
};
const TELEMETRY: IstioGroup = IstioGroup {
    name: "telemetry.istio.io",
    versions: &["v1", "v1alpha1"],
};

/// Every watch of the Kubernetes source. Secrets: TLS ones only, as Istio's ingress gateway reads.
pub const WATCHED_KINDS: &[WatchedKind] = &[
    with_purpose(
        core("Namespace", "namespaces", Selection::All),
        "mesh labels, exportTo",
    ),
    with_purpose(
        core("Service", "services", Selection::All),
        "hostnames, ports, protocols",
    ),
    with_purpose(
        core("Endpoints", "endpoints", Selection::All),
        "endpoints of a Service",
    ),
    with_purpose(
        kind_in(
            "discovery.k8s.io",
            "EndpointSlice",
            "endpointslices",
            Selection::All,
        ),
        "endpoints of a Service, with their pod (targetRef)",
    ),
    with_purpose(
        kind_in(
            "networking.k8s.io",
            "NetworkPolicy",
            "networkpolicies",
            Selection::All,
        ),
        "ingress rules for the connections the agent delivers inside pods (same-node, tunnel)",
    ),
    with_purpose(
        core("Pod", "pods", Selection::OwnNode),
        "the workloads this agent captures: identity, IP, labels, annotations",
    ),
    with_purpose(
        core("Pod", "pods", Selection::MetadataOnly),
        "labels of every pod, joined to endpoints by targetRef, for DestinationRule subsets",
    ),
    with_purpose(
        core(
            "ConfigMap",
            "configmaps",
            Selection::Named {
                namespace: "istio-system",
                name: "istio",
            },
        ),
        "mesh-wide settings (data key `mesh`)",
    ),
    with_purpose(
        core("Secret", "secrets", Selection::OfType("kubernetes.io/tls")),
        "certificates of HTTPS gateway servers (`credentialName`: tls.crt, tls.key)",
    ),
    istio(
        NETWORKING,
        "VirtualService",
        "virtualservices",
        "no routing rules: requests go to their Service's endpoints",
    ),
    istio(
        NETWORKING,
        "DestinationRule",
        "destinationrules",
        "no subsets or traffic policies: defaults apply",
    ),
    istio(
        NETWORKING,
        "Gateway",
        "gateways",
        "no ingress gateway servers",
    ),
    istio(
        NETWORKING,
        "ServiceEntry",
        "serviceentries",
        "no hosts outside the cluster's Services",
    ),
    istio(
        NETWORKING,
        "Sidecar",
        "sidecars",
        "no per-namespace egress or outbound traffic policy: the mesh config's applies",
    ),
    istio(
        ENVOY_FILTERS,
        "EnvoyFilter",
        "envoyfilters",
        "no local rate limits",
    ),
    istio(
        SECURITY,
        "AuthorizationPolicy",
        "authorizationpolicies",
        "no authorization policies: every request is allowed",
    ),
    istio(
        SECURITY,
        "PeerAuthentication",
        "peerauthentications",
        "no peer authentication policies: the mesh default applies",
    ),
    istio(
        SECURITY,
        "RequestAuthentication",
        "requestauthentications",
        "no request authentication (JWT) policies",
    ),
    istio(
        TELEMETRY,
        "Telemetry",
        "telemetries",
        "telemetry settings come from the mesh config only",
    ),
];
