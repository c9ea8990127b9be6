//! A DestinationRule as Istio's `ValidateDestinationRule` reads it: the host (a domain, wildcard
//! allowed), subsets (DNS-label names, well-formed labels, their own policies), `exportTo`
//! (with a workload selector: this namespace only) and the workload selector. The traffic
//! policies themselves: [`super::traffic_policy`]. (Duplicate subset names are found by the
//! snapshot's reference checks.)

use super::destinations::subset_name;
use super::export_to::export_to;
use super::finding::Findings;
use super::labels::{label_map, selector_labels};
use super::names::wildcard_domain;
use super::traffic_policy::traffic_policy;
use crate::resources::DestinationRuleSpec;

/// Problems of the DestinationRule `spec` in `namespace`.
pub(crate) fn destination_rule(found: &mut Findings, spec: &DestinationRuleSpec, namespace: &str) {
    match spec.host.as_str() {
        "" => found.error("spec.host", "host is required"),
        host => found.error_if("spec.host", wildcard_domain(host)),
    }
    if let Some(policy) = &spec.traffic_policy {
        traffic_policy(found, "spec.trafficPolicy", policy);
    }
    for (i, subset) in spec.subsets.iter().enumerate() {
        let at = format!("spec.subsets[{i}]");
        found.error_if(format!("{at}.name"), subset_name(&subset.name));
        label_map(found, &format!("{at}.labels"), &subset.labels);
        if let Some(policy) = &subset.traffic_policy {
            traffic_policy(found, &format!("{at}.trafficPolicy"), policy);
        }
    }
    export_to(found, "spec.exportTo", namespace, &spec.export_to, false);
    if let Some(selector) = &spec.workload_selector {
        selector_labels(
            found,
            "spec.workloadSelector.matchLabels",
            &selector.match_labels,
        );
        let beyond = spec.export_to.iter().any(|e| e != "." && e != namespace);
        if beyond || spec.export_to.len() > 1 {
            let message =
                "a DestinationRule with a workload selector is exported to its own namespace only";
            found.error("spec.exportTo", message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::finding::table::{lines, spec};

    fn found(yaml: &str) -> Vec<String> {
        let mut found = Findings::default();
        destination_rule(&mut found, &spec(yaml), "shop");
        lines(&found)
    }

    #[test]
    fn hosts_subsets_export_and_selectors() {
        let good = "host: reviews\nsubsets: [{name: v1, labels: {version: v1}}, {name: all}]\nexportTo: ['.']\n\
                    workloadSelector: {matchLabels: {app: web}}\n";
        assert_eq!(found(good), Vec::<String>::new());
        let bad = "host: ''\nsubsets: [{name: V_1, labels: {version: 'a b'}}]\nexportTo: [other]\n\
                   workloadSelector: {matchLabels: {}}\n";
        assert_eq!(
            found(bad),
            [
                "spec.host: host is required",
                "spec.subsets[0].name: subset name \"V_1\" is invalid (a DNS-1123 label)",
                "spec.subsets[0].labels.version: invalid label value: \"a b\"",
                "spec.workloadSelector.matchLabels: warning: workload selector specified without labels: applies to every workload of the namespace",
                "spec.exportTo: a DestinationRule with a workload selector is exported to its own namespace only",
            ]
        );
    }
}
