//! A load balancer's `localityLbSetting` (Istio's `validateLocalityLbSetting`): `distribute` and
//! `failover` not both, nor `failover` with a topology label in `failoverPriority`; each
//! `distribute` entry's weights in 1..=100 summing to 100; localities with at most one `*`, at
//! their end, none repeated; `failover` between two different regions, without `/` or `*`;
//! failover without outlier detection is warned about (nothing would ever fail over).

use std::collections::BTreeSet;

use super::finding::Findings;
use crate::resources::LocalityLbSetting;

/// The topology labels `failoverPriority` may not name together with `failover`.
const TOPOLOGY_LABELS: [&str; 3] = [
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "topology.istio.io/subzone",
];

/// Problems of the setting at `at`; `outlier`: the same level sets `outlierDetection`.
pub(crate) fn locality_lb_setting(
    found: &mut Findings,
    at: &str,
    setting: &LocalityLbSetting,
    outlier: bool,
) {
    if !setting.distribute.is_empty() && !setting.failover.is_empty() {
        found.error(
            at,
            "can not simultaneously specify 'distribute' and 'failover'",
        );
        return;
    }
    let topology = setting
        .failover_priority
        .iter()
        .find(|label| TOPOLOGY_LABELS.contains(&label.as_str()));
    if let (false, Some(label)) = (setting.failover.is_empty(), topology) {
        found.error(
            format!("{at}.failoverPriority"),
            format!("can not simultaneously set 'failover' and topology label '{label}' in 'failoverPriority'"),
        );
        return;
    }
    distribute(found, at, setting);
    let fails_over = !setting.failover.is_empty() || !setting.failover_priority.is_empty();
    if fails_over && !outlier {
        found.warning(at, "outlier detection policy must be provided for failover");
    }
    for (i, failover) in setting.failover.iter().enumerate() {
        let at = format!("{at}.failover[{i}]");
        if failover.from == failover.to {
            found.error(
                &at,
                "locality lb failover settings must specify different regions",
            );
        }
        if failover.from.contains('/') || failover.to.contains('/') {
            found.error(&at, "locality lb failover only specify region");
        }
        if failover.from.contains('*') || failover.to.contains('*') {
            found.error(
                &at,
                "locality lb failover region should not contain '*' wildcard",
            );
        }
    }
}

fn distribute(found: &mut Findings, at: &str, setting: &LocalityLbSetting) {
    for (i, rule) in setting.distribute.iter().enumerate() {
        let at = format!("{at}.distribute[{i}]");
        if let Some((locality, weight)) = rule.to.iter().find(|(_, w)| !(1..=100).contains(*w)) {
            found.error(
                format!("{at}.to"),
                format!("locality weight must be in range [1, 100], `{locality}` has {weight}"),
            );
            continue;
        }
        let total: u32 = rule.to.values().sum();
        if total != 100 {
            found.error(
                format!("{at}.to"),
                format!("total locality weight {total} != 100"),
            );
            continue;
        }
        localities(found, &format!("{at}.to"), rule.to.keys());
    }
    let sources = setting.distribute.iter().map(|rule| &rule.from);
    localities(found, &format!("{at}.distribute"), sources);
}

/// Istio's `validateLocalities`: `*` at most once and last, no locality given twice.
fn localities<'a>(found: &mut Findings, at: &str, list: impl Iterator<Item = &'a String>) {
    let mut seen = BTreeSet::new();
    for locality in list {
        let stars = locality.matches('*').count();
        if stars > 1 || (stars == 1 && !locality.ends_with('*')) {
            found.error(
                at,
                format!("locality {locality} wildcard '*' number can not exceed 1 and must be in the end"),
            );
        } else if !seen.insert(locality.trim_end_matches(['*', '/'])) {
            found.error(
                at,
                format!("locality {locality} overlap with previous specified ones"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(yaml: &str, outlier: bool) -> Vec<String> {
        let setting: LocalityLbSetting = serde_yaml::from_str(yaml).unwrap();
        let mut found = Findings::default();
        locality_lb_setting(
            &mut found,
            "spec.trafficPolicy.loadBalancer.localityLbSetting",
            &setting,
            outlier,
        );
        let field = |f: &super::super::finding::Finding| format!("{}: {}", f.field, f.message);
        found.0.iter().map(field).collect()
    }

    #[test]
    fn istio_s_locality_rules() {
        let ok = "{distribute: [{from: 'us/a/*', to: {'us/a/*': 80, 'us/b/*': 20}}]}";
        assert!(problems(ok, false).is_empty(), "{:?}", problems(ok, false));
        let both = "{distribute: [{from: us, to: {us: 100}}], failover: [{from: us, to: eu}]}";
        assert!(problems(both, true)[0].contains("'distribute' and 'failover'"));
        let sum = "{distribute: [{from: us, to: {us: 60, eu: 30}}]}";
        assert!(
            problems(sum, true)[0].contains("distribute[0].to: total locality weight 90 != 100")
        );
        let zero = "{distribute: [{from: us, to: {us: 100, eu: 0}}]}";
        assert!(problems(zero, true)[0].contains("must be in range [1, 100], `eu` has 0"));
        let star = "{distribute: [{from: '*/a', to: {us: 100}}]}";
        assert!(problems(star, true)[0].contains("wildcard '*'"));
        let twice = "{distribute: [{from: us, to: {us: 100}}, {from: 'us/*', to: {us: 100}}]}";
        assert!(problems(twice, true)[0].contains("overlap with previous"));
        let same = "{failover: [{from: us, to: us}]}";
        assert!(problems(same, true)[0]
            .contains("failover[0]: locality lb failover settings must specify different regions"));
        let zone = "{failover: [{from: us/a, to: eu}]}";
        assert!(problems(zone, true)[0].contains("only specify region"));
        let label =
            "{failover: [{from: us, to: eu}], failoverPriority: [topology.istio.io/subzone]}";
        assert!(problems(label, true)[0].contains("topology label 'topology.istio.io/subzone'"));
        let alone = "{failover: [{from: us, to: eu}]}";
        assert!(problems(alone, false)[0]
            .contains("outlier detection policy must be provided for failover"));
        assert!(problems(alone, true).is_empty());
    }
}
