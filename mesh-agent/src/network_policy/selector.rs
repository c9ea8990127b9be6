//! Kubernetes label selectors (`matchLabels`, `matchExpressions` with `In`, `NotIn`, `Exists`,
//! `DoesNotExist`) against a pod's or a namespace's labels. An empty selector selects all.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

/// Whether `selector` selects an object carrying `labels`.
pub fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let pairs = selector.match_labels.iter().flatten();
    let by_labels = pairs.into_iter().all(|(k, v)| labels.get(k) == Some(v));
    let mut expressions = selector.match_expressions.iter().flatten();
    by_labels && expressions.all(|e| requirement_holds(e, labels))
}

fn requirement_holds(
    requirement: &LabelSelectorRequirement,
    labels: &BTreeMap<String, String>,
) -> bool {
    let value = labels.get(&requirement.key);
    let values = requirement.values.as_deref().unwrap_or_default();
    match requirement.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        // The API server accepts nothing else; an unknown operator selects nothing.
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selector(yaml: &str) -> LabelSelector {
        serde_yaml::from_str(yaml).expect("a selector")
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_empty_selector_selects_everything() {
        assert!(selects(&selector("{}"), &labels(&[])));
    }

    #[test]
    fn match_labels_and_expressions_must_all_hold() {
        let s = selector(
            "matchLabels: {app: web}\n\
             matchExpressions:\n\
             - {key: tier, operator: In, values: [front, edge]}\n\
             - {key: canary, operator: DoesNotExist}\n\
             - {key: env, operator: NotIn, values: [dev]}\n\
             - {key: team, operator: Exists}",
        );
        let good = [("app", "web"), ("tier", "edge"), ("team", "a")];
        assert!(selects(&s, &labels(&good)));
        let cases: [&[(&str, &str)]; 5] = [
            &[("app", "api"), ("tier", "edge"), ("team", "a")],
            &[("app", "web"), ("tier", "back"), ("team", "a")],
            &[
                ("app", "web"),
                ("tier", "edge"),
                ("team", "a"),
                ("canary", "1"),
            ],
            &[
                ("app", "web"),
                ("tier", "edge"),
                ("team", "a"),
                ("env", "dev"),
            ],
            &[("app", "web"), ("tier", "edge")],
        ];
        for case in cases {
            assert!(!selects(&s, &labels(case)), "{case:?}");
        }
    }
}
