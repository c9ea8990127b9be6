//! The Kubernetes objects of the snapshot as the node's enrollment reads them: Pods by name,
//! Namespaces by name, every Pod.

use k8s_openapi::api::core::v1::{Namespace, Pod};

use crate::document::ResourceKey;
use crate::resources::Resource;

impl super::Snapshot {
    /// The Pod `namespace/name` in force.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<&Pod> {
        match self
            .accepted
            .get(&key("Pod", namespace, name))?
            .resource
            .as_ref()
        {
            Resource::Pod(pod) => Some(pod),
            _ => None,
        }
    }

    /// The Namespace `name` in force.
    pub fn namespace_object(&self, name: &str) -> Option<&Namespace> {
        match self
            .accepted
            .get(&key("Namespace", "", name))?
            .resource
            .as_ref()
        {
            Resource::Namespace(namespace) => Some(namespace),
            _ => None,
        }
    }

    /// Every Pod in force.
    pub fn pod_objects(&self) -> impl Iterator<Item = &Pod> {
        self.accepted
            .values()
            .filter(|a| a.key.kind == "Pod")
            .filter_map(|a| match a.resource.as_ref() {
                Resource::Pod(pod) => Some(pod),
                _ => None,
            })
    }
}

fn key(kind: &str, namespace: &str, name: &str) -> ResourceKey {
    ResourceKey {
        kind: kind.into(),
        namespace: namespace.into(),
        name: name.into(),
    }
}
