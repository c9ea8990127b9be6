//! EnvoyFilters' local rate limits, compiled: each patch the mesh acts on, with the workloads
//! it selects (its namespace's, every namespace's from the root namespace, narrowed by
//! `workloadSelector.labels`), found per workload and side by [`RateLimitFilters::for_workload`].

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::model::Labels;
use crate::resources::envoy_patch::{read, RateLimitPatch};
use crate::resources::{EnvoyFilterSpec, Istio, PatchContext};

/// One acted-on patch of one EnvoyFilter.
#[derive(Debug, Serialize)]
pub struct RateLimitFilter {
    /// `namespace/name#patch`: what its token buckets are kept under.
    pub id: Arc<str>,
    namespace: String,
    selector: Option<BTreeMap<String, String>>,
    #[serde(skip)]
    priority: i32,
    /// What the patch says.
    #[serde(skip)]
    pub patch: RateLimitPatch,
}

/// Every acted-on patch, in the order they apply (priority, then namespace/name, then patch).
#[derive(Clone, Debug, Default, Serialize)]
pub struct RateLimitFilters(Vec<Arc<RateLimitFilter>>);

impl RateLimitFilters {
    /// Adds the patches of EnvoyFilter `namespace/name` the mesh acts on.
    pub fn add(&mut self, namespace: &str, name: &str, filter: &Istio<EnvoyFilterSpec>) {
        let Ok(readings) = read(&filter.spec) else {
            return;
        };
        let selector = filter.spec.workload_selector.as_ref();
        for (i, reading) in readings.into_iter().enumerate() {
            let Ok(patch) = reading.patch else { continue };
            self.0.push(Arc::new(RateLimitFilter {
                id: format!("{namespace}/{name}#{i}").into(),
                namespace: namespace.to_string(),
                selector: selector.map(|s| s.labels.clone()),
                priority: filter.spec.priority,
                patch,
            }));
        }
        self.0.sort_by_key(|f| f.priority);
    }

    /// The patches that apply to side `side` of a workload in `namespace` with `labels`;
    /// `root` is the mesh's root namespace.
    pub fn for_workload(
        &self,
        root: &str,
        namespace: &str,
        labels: &Labels,
        side: PatchContext,
    ) -> Vec<Arc<RateLimitFilter>> {
        let applies = |f: &&Arc<RateLimitFilter>| {
            (f.namespace == namespace || f.namespace == root)
                && f.patch.context.covers(side)
                && f.selector
                    .as_ref()
                    .is_none_or(|wanted| wanted.iter().all(|(k, v)| labels.get(k) == Some(v)))
        };
        self.0.iter().filter(applies).cloned().collect()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::parse_documents;
    use crate::resources::{parse, Resource};

    fn filter(namespace: &str, selector: &str, context: &str) -> Istio<EnvoyFilterSpec> {
        let yaml = format!(
            "apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata:\n  \
             name: f\n  namespace: {namespace}\nspec:\n{selector}  configPatches:\n  \
             - applyTo: HTTP_FILTER\n    match:\n      context: {context}\n    patch:\n      \
             operation: INSERT_BEFORE\n      value:\n        name: envoy.filters.http.local_ratelimit\n"
        );
        let raw = parse_documents(std::path::Path::new("f.yaml"), &yaml)
            .unwrap()
            .remove(0);
        match parse(&raw).unwrap().resource {
            Some(Resource::EnvoyFilter(f)) => f,
            other => panic!("{other:?}"),
        }
    }

    fn labels(app: &str) -> Labels {
        [("app".to_string(), app.to_string())].into_iter().collect()
    }

    #[test]
    fn patches_select_by_namespace_root_labels_and_side() {
        let mut filters = RateLimitFilters::default();
        let selector = "  workloadSelector:\n    labels:\n      app: productpage\n";
        filters.add(
            "default",
            "f",
            &filter("default", selector, "SIDECAR_INBOUND"),
        );
        filters.add(
            "istio-system",
            "g",
            &filter("istio-system", "", "SIDECAR_OUTBOUND"),
        );
        let find = |ns, app, side| {
            let found = filters.for_workload("istio-system", ns, &labels(app), side);
            found.iter().map(|f| f.id.to_string()).collect::<Vec<_>>()
        };
        let inbound = PatchContext::SidecarInbound;
        let outbound = PatchContext::SidecarOutbound;
        assert_eq!(find("default", "productpage", inbound), ["default/f#0"]);
        assert!(find("default", "reviews", inbound).is_empty());
        assert!(find("other", "productpage", inbound).is_empty());
        assert_eq!(find("other", "reviews", outbound), ["istio-system/g#0"]);
    }
}
