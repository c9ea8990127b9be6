//! Outlier detection settings that load but do not do what they seem to: the old
//! `consecutiveErrors` alone counts only 502/503/504 (Istio's meaning), so a backend answering
//! 500 is never ejected by it. Said by `mesh-agent check` only: the agent applies Istio's
//! meaning silently.

use crate::document::Problem;
use crate::document::RawResource;
use crate::resources::TrafficPolicy;
use crate::resources::{parse, DestinationRuleSpec, OutlierDetection, Parsed, Resource};

/// The warning for an `outlierDetection` relying on `consecutiveErrors` alone.
pub(crate) const CONSECUTIVE_ERRORS_ONLY: &str = "consecutiveErrors counts only 502/503/504: \
     a backend answering 500 is never ejected; use consecutive5xxErrors";

/// Warnings about `raw`'s outlier detection, when it is a readable DestinationRule.
pub fn outlier_warnings(raw: &RawResource) -> Vec<Problem> {
    let Ok(Parsed {
        resource: Some(Resource::DestinationRule(rule)),
        ..
    }) = parse(raw)
    else {
        return Vec::new();
    };
    let warn = |field| Problem::warning(raw, field, CONSECUTIVE_ERRORS_ONLY);
    consecutive_errors_only(&rule.spec)
        .into_iter()
        .map(warn)
        .collect()
}

/// The fields (dotted paths) of every `outlierDetection` in `spec` that sets
/// `consecutiveErrors` without `consecutive5xxErrors`.
pub(crate) fn consecutive_errors_only(spec: &DestinationRuleSpec) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(policy) = &spec.traffic_policy {
        policy_fields(policy, "spec.trafficPolicy", &mut found);
    }
    for (i, subset) in spec.subsets.iter().enumerate() {
        if let Some(policy) = &subset.traffic_policy {
            policy_fields(
                policy,
                &format!("spec.subsets[{i}].trafficPolicy"),
                &mut found,
            );
        }
    }
    found
}

fn policy_fields(policy: &TrafficPolicy, field: &str, found: &mut Vec<String>) {
    check(policy.outlier_detection.as_ref(), field, found);
    for (i, level) in policy.port_level_settings.iter().enumerate() {
        let field = format!("{field}.portLevelSettings[{i}]");
        check(level.outlier_detection.as_ref(), &field, found);
    }
}

fn check(outlier: Option<&OutlierDetection>, field: &str, found: &mut Vec<String>) {
    let Some(outlier) = outlier else { return };
    if outlier.consecutive_errors.is_some() && outlier.consecutive_5xx_errors.is_none() {
        found.push(format!("{field}.outlierDetection.consecutiveErrors"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> DestinationRuleSpec {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn consecutive_errors_alone_is_found_at_every_level() {
        let rule = spec(
            "host: web\ntrafficPolicy:\n  outlierDetection: {consecutiveErrors: 1}\n\
             \x20 portLevelSettings:\n  - port: {number: 80}\n    outlierDetection: {consecutiveErrors: 2}\n\
             subsets:\n- name: v1\n  trafficPolicy:\n    outlierDetection: {consecutiveErrors: 1}\n",
        );
        assert_eq!(
            consecutive_errors_only(&rule),
            [
                "spec.trafficPolicy.outlierDetection.consecutiveErrors",
                "spec.trafficPolicy.portLevelSettings[0].outlierDetection.consecutiveErrors",
                "spec.subsets[0].trafficPolicy.outlierDetection.consecutiveErrors",
            ]
        );
    }

    #[test]
    fn consecutive_5xx_errors_beside_it_or_alone_is_fine() {
        for yaml in [
            "host: web\ntrafficPolicy:\n  outlierDetection: {consecutiveErrors: 1, consecutive5xxErrors: 1}\n",
            "host: web\ntrafficPolicy:\n  outlierDetection: {consecutive5xxErrors: 1}\n",
            "host: web\n",
        ] {
            assert!(consecutive_errors_only(&spec(yaml)).is_empty(), "{yaml}");
        }
    }
}
