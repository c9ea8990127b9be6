//! Label maps (subset labels, source labels, workload labels) and workload selectors, as
//! Istio's `labels.Instance.Validate` and `validateWorkloadSelector` read them: Kubernetes
//! qualified keys with an optional DNS prefix, values of at most 63 letters, digits, `-`, `_`
//! and `.`; a selector's labels without `*`, and not empty.

use std::collections::BTreeMap;

use super::finding::Findings;
use super::names::is_label;
use crate::resources::{PolicyTargetRef, WorkloadSelector};

/// The longest label name and value.
const NAME_MAX: usize = 63;
/// The longest DNS prefix of a label key.
const PREFIX_MAX: usize = 253;

/// Letters and digits at both ends, `-`, `_` and `.` within (Kubernetes' qualified name).
fn is_qualified_name(name: &str) -> bool {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    alnum(name.chars().next())
        && alnum(name.chars().last())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn key_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| p.len() <= PREFIX_MAX && p.split('.').all(is_label));
    let name_ok = name.len() <= NAME_MAX && is_qualified_name(name);
    (!prefix_ok || !name_ok).then(|| format!("invalid label key: {key:?}"))
}

fn value_problem(value: &str) -> Option<String> {
    let ok = value.is_empty() || (value.len() <= NAME_MAX && is_qualified_name(value));
    (!ok).then(|| format!("invalid label value: {value:?}"))
}

/// Errors for each malformed key or value of `labels`, at `at.<key>`.
pub(crate) fn label_map(found: &mut Findings, at: &str, labels: &BTreeMap<String, String>) {
    for (key, value) in labels {
        for message in [key_problem(key), value_problem(value)]
            .into_iter()
            .flatten()
        {
            found.error(format!("{at}.{key}"), message);
        }
    }
}

/// A `selector.matchLabels` (or `workloadSelector.labels`): no empty key, no `*`; empty labels
/// select every workload of the namespace, most likely by mistake (a warning).
pub(crate) fn selector_labels(found: &mut Findings, at: &str, labels: &BTreeMap<String, String>) {
    for (key, value) in labels {
        let field = format!("{at}.{key}");
        if key.is_empty() {
            found.error(
                field.clone(),
                format!("empty key is not supported in selector: \"{key}={value}\""),
            );
        }
        if key.contains('*') || value.contains('*') {
            found.error(
                field,
                format!("wildcard is not supported in selector: \"{key}={value}\""),
            );
        }
    }
    if labels.is_empty() {
        found.warning(at, "workload selector specified without labels: applies to every workload of the namespace");
    }
}

/// How a security or telemetry policy picks its workloads: at most one of `selector`,
/// `targetRef` and `targetRefs` (Istio's `validateOneOfSelectorType`), each well formed.
pub(crate) fn policy_targets(
    found: &mut Findings,
    selector: Option<&WorkloadSelector>,
    target_ref: Option<&PolicyTargetRef>,
    target_refs: &[PolicyTargetRef],
) {
    let kinds = [
        selector.is_some(),
        target_ref.is_some(),
        !target_refs.is_empty(),
    ];
    if kinds.iter().filter(|set| **set).count() > 1 {
        found.error(
            "spec",
            "only one of selector, targetRef or targetRefs can be set",
        );
    }
    if let Some(selector) = selector {
        selector_labels(found, "spec.selector.matchLabels", &selector.match_labels);
    }
    if let Some(target) = target_ref {
        target_problems(found, "spec.targetRef", target);
    }
    for (i, target) in target_refs.iter().enumerate() {
        target_problems(found, &format!("spec.targetRefs[{i}]"), target);
    }
}

/// A target: named, in the policy's namespace, a Service, ServiceEntry or Gateway API Gateway.
fn target_problems(found: &mut Findings, at: &str, target: &PolicyTargetRef) {
    if target.name.is_empty() {
        found.error(format!("{at}.name"), "targetRef name must be set");
    }
    if !target.namespace.is_empty() {
        found.error(
            format!("{at}.namespace"),
            "targetRef namespace must not be set (no cross-namespace references)",
        );
    }
    let allowed = [
        ("", "Service"),
        ("networking.istio.io", "ServiceEntry"),
        ("gateway.networking.k8s.io", "Gateway"),
    ];
    if !allowed.contains(&(target.group.as_str(), target.kind.as_str())) {
        let message = format!("targetRef must be a Service, a ServiceEntry or a gateway.networking.k8s.io Gateway, not {}/{}", target.group, target.kind);
        found.error(at, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::finding::table::lines;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_keys_and_values() {
        let mut found = Findings::default();
        let good = map(&[
            ("app", "reviews"),
            ("app.kubernetes.io/version", "v1.2_b"),
            ("empty", ""),
        ]);
        label_map(&mut found, "spec.subsets[0].labels", &good);
        assert!(found.0.is_empty(), "{found:?}");
        let bad = map(&[("-app", "x"), ("v", "a b"), ("x/", "1")]);
        label_map(&mut found, "labels", &bad);
        assert_eq!(
            lines(&found),
            [
                "labels.-app: invalid label key: \"-app\"",
                "labels.v: invalid label value: \"a b\"",
                "labels.x/: invalid label key: \"x/\"",
            ]
        );
    }

    #[test]
    fn selectors_refuse_wildcards_and_warn_when_empty() {
        let mut found = Findings::default();
        selector_labels(
            &mut found,
            "spec.selector.matchLabels",
            &map(&[("app", "web")]),
        );
        assert!(found.0.is_empty());
        selector_labels(&mut found, "s", &map(&[("app", "*")]));
        selector_labels(&mut found, "t", &map(&[]));
        let selector = WorkloadSelector {
            match_labels: map(&[("app", "web")]),
        };
        let target = PolicyTargetRef {
            kind: "Service".into(),
            name: "web".into(),
            ..Default::default()
        };
        policy_targets(
            &mut found,
            Some(&selector),
            None,
            std::slice::from_ref(&target),
        );
        policy_targets(&mut found, None, Some(&target), &[]);
        let stranger = PolicyTargetRef {
            kind: "Pod".into(),
            namespace: "other".into(),
            ..Default::default()
        };
        policy_targets(&mut found, None, Some(&stranger), &[]);
        assert_eq!(
            lines(&found),
            [
                "s.app: wildcard is not supported in selector: \"app=*\"",
                "t: warning: workload selector specified without labels: applies to every workload of the namespace",
                "spec: only one of selector, targetRef or targetRefs can be set",
                "spec.targetRef.name: targetRef name must be set",
                "spec.targetRef.namespace: targetRef namespace must not be set (no cross-namespace references)",
                "spec.targetRef: targetRef must be a Service, a ServiceEntry or a gateway.networking.k8s.io Gateway, not /Pod",
            ]
        );
    }
}
