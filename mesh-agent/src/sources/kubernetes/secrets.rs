//! Which namespaces the source reads Secrets in: only those holding gateway credentials
//! (`--secret-namespaces`, default `istio-system,mesh-system`), one watch each, so RBAC grants
//! them with namespaced Roles instead of a cluster-wide read of every Secret.

use super::kinds::{Selection, WatchedKind};

/// Where gateway credentials live by default: Istio's namespace and the mesh's own.
pub const DEFAULT_SECRET_NAMESPACES: &[&str] = &["istio-system", "mesh-system"];

/// `kinds` with each Secret watch ([`Selection::OfType`]) made one watch per namespace of
/// `namespaces` ([`Selection::OfTypeIn`]), in place. Built once per source; the list and the
/// names are leaked, as the agent keeps its one source for its whole life.
pub fn in_namespaces(kinds: &[WatchedKind], namespaces: &[String]) -> &'static [WatchedKind] {
    let mut expanded = Vec::with_capacity(kinds.len() + namespaces.len());
    for kind in kinds {
        match kind.selection {
            Selection::OfType(type_name) if kind.plural == "secrets" => {
                expanded.extend(namespaces.iter().map(|namespace| WatchedKind {
                    selection: Selection::OfTypeIn {
                        type_name,
                        namespace: Box::leak(namespace.clone().into_boxed_str()),
                    },
                    ..*kind
                }));
            }
            _ => expanded.push(*kind),
        }
    }
    Box::leak(expanded.into_boxed_slice())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::WATCHED_KINDS;

    #[test]
    fn secrets_are_watched_once_per_namespace_and_nowhere_else() {
        let namespaces = ["istio-system".to_string(), "edge".to_string()];
        let kinds = in_namespaces(WATCHED_KINDS, &namespaces);
        let secrets: Vec<Selection> = kinds
            .iter()
            .filter(|k| k.plural == "secrets")
            .map(|k| k.selection)
            .collect();
        let tls = "kubernetes.io/tls";
        assert_eq!(
            secrets,
            [
                Selection::OfTypeIn {
                    type_name: tls,
                    namespace: "istio-system"
                },
                Selection::OfTypeIn {
                    type_name: tls,
                    namespace: "edge"
                },
            ]
        );
        assert_eq!(kinds.len(), WATCHED_KINDS.len() + 1);
        let none = in_namespaces(WATCHED_KINDS, &[]);
        assert!(
            none.iter().all(|k| k.plural != "secrets"),
            "no namespace: no Secrets read"
        );
    }
}
