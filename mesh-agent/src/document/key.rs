//! The identity of a resource in a set (kind, namespace, name), namespaces defaulted as
//! Kubernetes does.

use serde::Serialize;

use super::RawResource;

/// Identity of a resource in a set: kind, namespace, name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ResourceKey {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ResourceKey {
    /// The key of a raw document (namespace defaulted like [`namespace_of`]).
    pub fn of(raw: &RawResource) -> Self {
        Self {
            kind: raw.kind.clone(),
            namespace: namespace_of(raw).to_string(),
            name: raw.name.clone(),
        }
    }
}

impl std::fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
    }
}

/// The namespace of `raw`, `default` when absent (cluster-scoped kinds keep an empty one).
pub fn namespace_of(raw: &RawResource) -> &str {
    match (&raw.namespace, raw.kind.as_str()) {
        (Some(ns), _) => ns,
        (None, "Namespace") => "",
        (None, _) => "default",
    }
}
