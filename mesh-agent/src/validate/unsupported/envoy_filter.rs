//! The EnvoyFilter patches the mesh does not apply, and the fields of applied ones it does not
//! act on (`envoy_patch` decides both), as findings; the metric's `field` label is the path
//! with its list indexes as `[*]`, so its series stay bounded.

use super::{finding, Finding};
use crate::document::RawResource;
use crate::resources::envoy_patch::read;
use crate::resources::{parse, Resource};

/// Everything of EnvoyFilter `raw` the mesh does not act on; nothing when it does not parse
/// (parsing says why).
pub(super) fn findings(raw: &RawResource) -> Vec<Finding> {
    let Ok(parsed) = parse(raw) else {
        return Vec::new();
    };
    let Some(Resource::EnvoyFilter(filter)) = parsed.resource else {
        return Vec::new();
    };
    let Ok(readings) = read(&filter.spec) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    if !filter.spec.target_refs.is_empty() {
        let why = "the mesh selects EnvoyFilter workloads by workloadSelector only";
        found.push(finding(
            "EnvoyFilter".into(),
            "spec.targetRefs".into(),
            "spec.targetRefs".into(),
            why,
        ));
    }
    for reading in readings {
        let skipped = reading.patch.err().into_iter().chain(reading.ignored);
        found.extend(skipped.map(|s| {
            let field = label(&s.at);
            finding("EnvoyFilter".into(), field, s.at, s.why)
        }));
    }
    found
}

/// `at` with every `[n]` written `[*]`.
fn label(at: &str) -> String {
    let mut out = String::with_capacity(at.len());
    let mut in_index = false;
    for c in at.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push_str("[*]");
            }
            ']' => in_index = false,
            _ if in_index => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn indexes_are_left_out_of_the_label() {
        assert_eq!(
            super::label("spec.configPatches[12].patch.value.route.rateLimits[0]"),
            "spec.configPatches[*].patch.value.route.rateLimits[*]"
        );
    }
}
