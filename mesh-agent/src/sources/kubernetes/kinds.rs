//! Exactly what the Kubernetes source reads from the API server. The deploy manifests' ClusterRole
//! is checked against [`WATCHED_KINDS`], so read-only RBAC grants this list and nothing more.

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
    /// Every object of one `type` (field selector `type=<type>`), e.g. TLS Secrets only.
    OfType(&'static str),
}

/// One watch the source runs: a kind, which of its objects, and why the mesh needs them.
#[derive(Clone, Copy, Debug)]
pub struct WatchedKind {
    /// API group; empty for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// The resource name in URLs and RBAC rules.
    pub plural: &'static str,
    pub selection: Selection,
    /// What the mesh uses the objects for.
    pub purpose: &'static str,
}

impl WatchedKind {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        match self.group {
            "" => self.version.to_owned(),
            group => format!("{group}/{}", self.version),
        }
    }

    /// The kube-rs description of the kind, for dynamic APIs.
    pub fn api_resource(&self) -> ApiResource {
        let gvk = GroupVersionKind::gvk(self.group, self.version, self.kind);
        ApiResource::from_gvk_with_plural(&gvk, self.plural)
    }

    /// The field selector of this watch on `node`, if any.
    pub fn field_selector(&self, node: &str) -> Option<String> {
        match self.selection {
            Selection::OwnNode => Some(format!("spec.nodeName={node}")),
            Selection::Named { name, .. } => Some(format!("metadata.name={name}")),
            Selection::OfType(kind) => Some(format!("type={kind}")),
            Selection::All | Selection::MetadataOnly => None,
        }
    }
}

const fn core(kind: &'static str, plural: &'static str, selection: Selection) -> WatchedKind {
    kind_in("", "v1", kind, plural, selection, "")
}

const fn istio(group: &'static str, kind: &'static str, plural: &'static str) -> WatchedKind {
    kind_in(
        group,
        "v1",
        kind,
        plural,
        Selection::All,
        "Istio configuration",
    )
}

const fn kind_in(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    selection: Selection,
    purpose: &'static str,
) -> WatchedKind {
    WatchedKind {
        group,
        version,
        kind,
        plural,
        selection,
        purpose,
    }
}

const fn with_purpose(kind: WatchedKind, purpose: &'static str) -> WatchedKind {
    WatchedKind { purpose, ..kind }
}

const NETWORKING: &str = "networking.istio.io";
const SECURITY: &str = "security.istio.io";
const TELEMETRY: &str = "telemetry.istio.io";

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
            "v1",
            "EndpointSlice",
            "endpointslices",
            Selection::All,
            "",
        ),
        "endpoints of a Service, with their pod (targetRef)",
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
    istio(NETWORKING, "VirtualService", "virtualservices"),
    istio(NETWORKING, "DestinationRule", "destinationrules"),
    istio(NETWORKING, "Gateway", "gateways"),
    istio(NETWORKING, "ServiceEntry", "serviceentries"),
    istio(NETWORKING, "Sidecar", "sidecars"),
    istio(SECURITY, "AuthorizationPolicy", "authorizationpolicies"),
    istio(SECURITY, "PeerAuthentication", "peerauthentications"),
    istio(SECURITY, "RequestAuthentication", "requestauthentications"),
    istio(TELEMETRY, "Telemetry", "telemetries"),
];
