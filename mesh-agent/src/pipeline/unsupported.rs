//! `mesh_config_unsupported_fields{kind,field}`: how many resources in the set carry each
//! field or kind the mesh does not act on ([`crate::validate::unsupported`]); a series whose
//! count falls to zero is removed. Each version of a resource has its findings logged once,
//! not on every reload that finds it unchanged.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::document::{Problem, RawResource, ResourceKey};
use crate::snapshot::Fingerprints;
use crate::validate::unsupported::{find, may_carry, Finding};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UnsupportedLabels {
    kind: String,
    field: String,
}

/// A resource version and what it carries (maybe nothing).
struct Carried {
    version: u64,
    findings: Arc<Vec<Finding>>,
}

#[derive(Default)]
struct Seen {
    carried: HashMap<ResourceKey, Carried>,
    counts: HashMap<UnsupportedLabels, i64>,
}

/// The gauge and the resource versions already reported.
#[derive(Default)]
pub struct UnsupportedFields {
    gauge: Family<UnsupportedLabels, Gauge>,
    seen: Mutex<Seen>,
}

impl std::fmt::Debug for UnsupportedFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnsupportedFields").finish_non_exhaustive()
    }
}

impl UnsupportedFields {
    /// Registers `mesh_config_unsupported_fields` in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let fields = Self::default();
        registry.register(
            "mesh_config_unsupported_fields",
            "Resources in force carrying a field (or of a kind: field=\"*\") the mesh does not act on",
            fields.gauge.clone(),
        );
        fields
    }

    /// Takes in the set in force: logs what each resource version not seen before carries
    /// (a warning per occurrence) and sets the gauge. Returns the warnings logged.
    pub fn observe(&self, set: &[RawResource]) -> Vec<Problem> {
        let mut seen = self.seen.lock().expect("not poisoned");
        let mut fingerprints = Fingerprints::default();
        let mut carried = HashMap::new();
        let mut logged = Vec::new();
        for raw in set.iter().filter(|raw| may_carry(raw)) {
            let key = ResourceKey::of(raw);
            let version = fingerprints.of(raw);
            let findings = match seen.carried.remove(&key) {
                Some(known) if known.version == version => known.findings,
                _ => {
                    let found = find(raw);
                    logged.extend(found.iter().map(|f| f.problem(raw)));
                    Arc::new(found)
                }
            };
            // Kept even when empty: an unchanged resource is not searched again.
            carried.insert(key, Carried { version, findings });
        }
        for problem in &logged {
            tracing::warn!(%problem, "config field not supported by the mesh");
        }
        let counts = count(&carried);
        for gone in seen.counts.keys().filter(|l| !counts.contains_key(*l)) {
            self.gauge.remove(gone);
        }
        for (labels, resources) in &counts {
            self.gauge.get_or_create(labels).set(*resources);
        }
        *seen = Seen { carried, counts };
        logged
    }
}

/// Resources per (kind, field): a resource setting one field in three places counts once.
fn count(carried: &HashMap<ResourceKey, Carried>) -> HashMap<UnsupportedLabels, i64> {
    let mut counts = HashMap::new();
    for entry in carried.values() {
        let labels: HashSet<UnsupportedLabels> = entry
            .findings
            .iter()
            .map(|f| UnsupportedLabels {
                kind: f.kind.clone(),
                field: f.field.clone(),
            })
            .collect();
        for labels in labels {
            *counts.entry(labels).or_insert(0) += 1;
        }
    }
    counts
}

#[cfg(test)]
#[path = "unsupported_tests.rs"]
mod tests;
