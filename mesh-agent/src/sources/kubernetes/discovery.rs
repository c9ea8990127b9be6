//! Which API version of each watched kind the API server serves: kube-rs discovery of the groups
//! whose kinds a CRD brings (Istio's), and per kind the first of its versions that is served
//! with `list` and `watch`.

use std::collections::BTreeSet;

use kube::discovery::{verbs, Discovery};
use kube::Client;

use super::kinds::WatchedKind;

/// The version to watch of each kind, by its index in the source's kind list; `None` when the
/// API server serves none of the kind's versions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServedVersions(pub Vec<Option<&'static str>>);

/// Asks the API server (`/apis`, then `/apis/<group>/<version>` for each served version of the
/// groups a CRD brings) which versions of `kinds` it serves. Kubernetes' own kinds are not asked
/// about: every supported API server serves them at `v1`.
pub async fn discover(
    client: &Client,
    kinds: &[WatchedKind],
) -> Result<ServedVersions, kube::Error> {
    let groups: BTreeSet<&str> = kinds
        .iter()
        .filter(|kind| kind.when_missing.is_some())
        .map(|kind| kind.group)
        .collect();
    let groups: Vec<&str> = groups.into_iter().collect();
    let discovery = Discovery::new(client.clone()).filter(&groups).run().await?;
    let versions = kinds
        .iter()
        .map(|kind| version_to_watch(kind, |version| serves(&discovery, kind, version)))
        .collect();
    Ok(ServedVersions(versions))
}

/// The first of `kind`'s versions that `served` says is there; Kubernetes' own kinds at their
/// preferred version.
fn version_to_watch(kind: &WatchedKind, served: impl Fn(&str) -> bool) -> Option<&'static str> {
    if kind.when_missing.is_none() {
        return Some(kind.preferred_version());
    }
    kind.versions
        .iter()
        .copied()
        .find(|version| served(version))
}

/// Whether discovery found `kind` at `version`, listable and watchable.
fn serves(discovery: &Discovery, kind: &WatchedKind, version: &str) -> bool {
    let Some(group) = discovery.get(kind.group) else {
        return false;
    };
    group
        .versioned_resources(version)
        .iter()
        .any(|(resource, capabilities)| {
            resource.plural == kind.plural
                && capabilities.supports_operation(verbs::LIST)
                && capabilities.supports_operation(verbs::WATCH)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::WATCHED_KINDS;

    fn kind(name: &str) -> &'static WatchedKind {
        WATCHED_KINDS.iter().find(|k| k.kind == name).unwrap()
    }

    #[test]
    fn the_newest_served_version_is_watched() {
        let vs = kind("VirtualService");
        assert_eq!(version_to_watch(vs, |_| true), Some("v1"));
        let old_istio = |v: &str| v == "v1beta1" || v == "v1alpha3";
        assert_eq!(version_to_watch(vs, old_istio), Some("v1beta1"));
        assert_eq!(version_to_watch(vs, |v| v == "v1alpha3"), Some("v1alpha3"));
        let telemetry = kind("Telemetry");
        assert_eq!(
            version_to_watch(telemetry, |v| v == "v1alpha1"),
            Some("v1alpha1")
        );
        let authz = kind("AuthorizationPolicy");
        assert_eq!(
            version_to_watch(authz, |v| v == "v1alpha3"),
            None,
            "not a security version"
        );
    }

    #[test]
    fn a_kind_served_at_none_of_our_versions_is_missing_but_kubernetes_kinds_never_are() {
        assert_eq!(version_to_watch(kind("Sidecar"), |_| false), None);
        assert_eq!(version_to_watch(kind("Service"), |_| false), Some("v1"));
        assert_eq!(
            version_to_watch(kind("EndpointSlice"), |_| false),
            Some("v1")
        );
    }

    #[test]
    fn every_watched_version_is_one_the_parser_accepts() {
        use crate::document::{Origin, RawResource};
        for kind in WATCHED_KINDS.iter().filter(|k| k.when_missing.is_some()) {
            for version in kind.versions {
                let api_version = kind.api_version(version);
                let raw = RawResource {
                    origin: Origin::Cluster {
                        resource_version: "1".into(),
                    },
                    api_version: api_version.clone(),
                    kind: kind.kind.to_owned(),
                    namespace: Some("default".into()),
                    name: "x".into(),
                    body: serde_json::json!({"apiVersion": api_version, "kind": kind.kind,
                        "metadata": {"name": "x", "namespace": "default"}, "spec": {}})
                    .into(),
                };
                let parsed = crate::resources::parse(&raw);
                assert!(
                    parsed.is_ok(),
                    "{api_version} {}: {:?}",
                    kind.kind,
                    parsed.err()
                );
            }
        }
    }
}
