//! Where a legacy Policy applies: the whole namespace (no `targets`), or per target the pods of
//! the named Service (its `spec.selector`, refined by the target's `labels`) on the workload
//! ports behind the listed Service ports. A target whose Service or ports cannot be found applies
//! to nothing, as in Istio 1.5, and is warned about.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Notes;
use crate::resources::WorkloadSelector;
use crate::resources::{AuthenticationPolicySpec, LegacyPortSelector, LegacyTargetSelector};

/// One set of converted resources: their name, selector (none: namespace-wide) and ports
/// (none: every port).
#[derive(Clone, Debug, PartialEq)]
pub struct Scope {
    pub name: String,
    pub selector: Option<WorkloadSelector>,
    pub ports: Vec<u16>,
}

/// The scopes of `spec` (a policy named `name`); `service` finds a Service of its namespace.
pub fn scopes<'s>(
    spec: &AuthenticationPolicySpec,
    name: &str,
    service: &dyn Fn(&str) -> Option<&'s Service>,
    notes: &mut Notes,
) -> Vec<Scope> {
    if spec.targets.is_empty() {
        let whole = Scope {
            name: name.to_owned(),
            selector: None,
            ports: Vec::new(),
        };
        return vec![whole];
    }
    let single = spec.targets.len() == 1;
    let targets = spec.targets.iter().enumerate();
    targets
        .filter_map(|(i, target)| {
            let at = format!("spec.targets[{i}]");
            let scope_name = match single {
                true => name.to_owned(),
                false => format!("{name}-{}", target.name),
            };
            target_scope(target, scope_name, service(&target.name), &at, notes)
        })
        .collect()
}

fn target_scope(
    target: &LegacyTargetSelector,
    name: String,
    service: Option<&Service>,
    at: &str,
    notes: &mut Notes,
) -> Option<Scope> {
    let Some(service) = service else {
        let message = format!(
            "Service {:?} not found in the policy's namespace: this target applies to no workload",
            target.name
        );
        notes.push(format!("{at}.name"), message);
        return None;
    };
    let spec = service.spec.as_ref();
    let Some(selector) = spec
        .and_then(|s| s.selector.clone())
        .filter(|s| !s.is_empty())
    else {
        let message = format!(
            "Service {:?} selects no pods: this target applies to no workload",
            target.name
        );
        notes.push(format!("{at}.name"), message);
        return None;
    };
    let mut match_labels: BTreeMap<String, String> = selector;
    match_labels.extend(target.labels.clone());
    let service_ports = spec.and_then(|s| s.ports.as_deref()).unwrap_or_default();
    let ports = target.ports.iter().enumerate();
    let ports: Vec<u16> = ports
        .filter_map(|(j, p)| workload_port(p, service_ports, &format!("{at}.ports[{j}]"), notes))
        .collect();
    if ports.is_empty() && !target.ports.is_empty() {
        return None;
    }
    Some(Scope {
        name,
        selector: Some(WorkloadSelector { match_labels }),
        ports,
    })
}

/// The pod port behind the Service port `selector` names (its numeric `targetPort`, else the
/// port's own number).
fn workload_port(
    selector: &LegacyPortSelector,
    ports: &[ServicePort],
    at: &str,
    notes: &mut Notes,
) -> Option<u16> {
    let found = ports
        .iter()
        .find(|p| match (&selector.number, &selector.name) {
            (Some(number), _) => u32::try_from(p.port).is_ok_and(|port| port == *number),
            (None, Some(name)) => p.name.as_ref() == Some(name),
            (None, None) => false,
        });
    let Some(port) = found else {
        notes.push(at, "no such port on the Service: left out (a target none of whose ports exist applies to no workload)");
        return None;
    };
    match &port.target_port {
        Some(IntOrString::Int(target)) => u16::try_from(*target).ok(),
        Some(IntOrString::String(named)) => {
            let message = format!("the Service port's targetPort is the named port {named:?}: port {} is used, as if it were numbered alike", port.port);
            notes.push(at, message);
            u16::try_from(port.port).ok()
        }
        None => u16::try_from(port.port).ok(),
    }
}
