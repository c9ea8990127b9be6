//! Who belongs in the mesh, decided from the Pod and its Namespace as Istio decides it:
//!
//! Out, whatever else says in: a pod on the host network (capturing there would capture the
//! node); pod label `istio.io/dataplane-mode: none`; pod annotation
//! `ambient.istio.io/redirection: disabled` (Istio's older ambient opt-out).
//! In: label `istio.io/dataplane-mode: ambient` on the pod or its namespace (ambient mode);
//! namespace label `istio-injection: enabled` unless the pod says `sidecar.istio.io/inject:
//! "false"` (label or annotation); pod label `sidecar.istio.io/inject: "true"` unless the
//! namespace says `istio-injection: disabled` (sidecar mode, as Istio's injection webhooks
//! select: the mesh captures these pods instead of injecting a sidecar).
//! Anything else stays out.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, Pod};

const DATAPLANE_MODE: &str = "istio.io/dataplane-mode";
const REDIRECTION: &str = "ambient.istio.io/redirection";
const INJECTION: &str = "istio-injection";
const INJECT: &str = "sidecar.istio.io/inject";

/// Whether a pod belongs in the mesh, and why (or why not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Membership {
    /// Meshed, by the label named.
    Meshed(String),
    /// Not meshed, for the reason given.
    NotMeshed(String),
}

impl Membership {
    /// Whether the pod is meshed.
    pub fn is_meshed(&self) -> bool {
        matches!(self, Membership::Meshed(_))
    }
}

type Labels = BTreeMap<String, String>;

fn get<'a>(map: Option<&'a Labels>, key: &str) -> Option<&'a str> {
    map.and_then(|m| m.get(key)).map(String::as_str)
}

/// Decides for `pod` in `namespace` (`None`: the Namespace object is not known).
pub fn decide(pod: &Pod, namespace: Option<&Namespace>) -> Membership {
    let ns_name = pod.metadata.namespace.as_deref().unwrap_or("default");
    let labels = pod.metadata.labels.as_ref();
    let annotations = pod.metadata.annotations.as_ref();
    let ns_labels = namespace.and_then(|n| n.metadata.labels.as_ref());
    let host_network = pod.spec.as_ref().and_then(|s| s.host_network) == Some(true);
    if host_network {
        return Membership::NotMeshed("the pod uses the host network".into());
    }
    if get(labels, DATAPLANE_MODE) == Some("none") {
        return Membership::NotMeshed(format!("the pod is labelled {DATAPLANE_MODE}=none"));
    }
    if get(annotations, REDIRECTION) == Some("disabled") {
        return Membership::NotMeshed(format!("the pod is annotated {REDIRECTION}=disabled"));
    }
    let meshed = |why: String| Membership::Meshed(why);
    if get(labels, DATAPLANE_MODE) == Some("ambient") {
        return meshed(format!("pod label {DATAPLANE_MODE}=ambient"));
    }
    if get(ns_labels, DATAPLANE_MODE) == Some("ambient") {
        return meshed(format!(
            "namespace {ns_name} label {DATAPLANE_MODE}=ambient"
        ));
    }
    let pod_inject = get(labels, INJECT).or(get(annotations, INJECT));
    match (get(ns_labels, INJECTION), pod_inject) {
        (Some("enabled"), Some("false")) => Membership::NotMeshed(format!(
            "the pod says {INJECT}=false in namespace {ns_name} ({INJECTION}=enabled)"
        )),
        (Some("enabled"), _) => meshed(format!("namespace {ns_name} label {INJECTION}=enabled")),
        (Some("disabled"), Some("true")) => Membership::NotMeshed(format!(
            "namespace {ns_name} is labelled {INJECTION}=disabled"
        )),
        (_, Some("true")) if get(labels, INJECT) == Some("true") => {
            meshed(format!("pod label {INJECT}=true"))
        }
        _ => Membership::NotMeshed(format!("namespace {ns_name} is not in the mesh")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodSpec;

    fn pairs(list: &[(&str, &str)]) -> Option<Labels> {
        let map: Labels = list
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        (!map.is_empty()).then_some(map)
    }

    fn pod(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> Pod {
        let mut pod = Pod::default();
        pod.metadata.namespace = Some("shop".into());
        pod.metadata.labels = pairs(labels);
        pod.metadata.annotations = pairs(annotations);
        pod
    }

    fn namespace(labels: &[(&str, &str)]) -> Namespace {
        let mut namespace = Namespace::default();
        namespace.metadata.labels = pairs(labels);
        namespace
    }

    fn meshed(pod: &Pod, ns: &[(&str, &str)]) -> bool {
        decide(pod, Some(&namespace(ns))).is_meshed()
    }

    const AMBIENT: (&str, &str) = (DATAPLANE_MODE, "ambient");
    const INJECTED: (&str, &str) = (INJECTION, "enabled");

    #[test]
    fn ambient_label_on_pod_or_namespace_opts_in() {
        assert!(meshed(&pod(&[AMBIENT], &[]), &[]));
        assert!(meshed(&pod(&[], &[]), &[AMBIENT]));
        assert_eq!(
            decide(&pod(&[], &[]), Some(&namespace(&[AMBIENT]))),
            Membership::Meshed("namespace shop label istio.io/dataplane-mode=ambient".into())
        );
    }

    #[test]
    fn injection_labels_opt_in_as_the_webhooks_select() {
        assert!(meshed(&pod(&[], &[]), &[INJECTED]));
        assert!(meshed(&pod(&[(INJECT, "true")], &[]), &[]));
        assert!(!meshed(
            &pod(&[(INJECT, "true")], &[]),
            &[(INJECTION, "disabled")]
        ));
        assert!(!meshed(&pod(&[(INJECT, "false")], &[]), &[INJECTED]));
        assert!(!meshed(&pod(&[], &[(INJECT, "false")]), &[INJECTED]));
        // The annotation alone does not select a pod: the webhook's object selector is a label.
        assert!(!meshed(&pod(&[], &[(INJECT, "true")]), &[]));
    }

    #[test]
    fn opt_outs_win() {
        let none = (DATAPLANE_MODE, "none");
        assert_eq!(
            decide(&pod(&[none], &[]), Some(&namespace(&[AMBIENT]))),
            Membership::NotMeshed("the pod is labelled istio.io/dataplane-mode=none".into())
        );
        assert!(!meshed(&pod(&[], &[(REDIRECTION, "disabled")]), &[AMBIENT]));
        assert!(!meshed(&pod(&[none], &[]), &[INJECTED]));
        let mut host = pod(&[AMBIENT], &[]);
        host.spec = Some(PodSpec {
            host_network: Some(true),
            ..PodSpec::default()
        });
        assert_eq!(
            decide(&host, None),
            Membership::NotMeshed("the pod uses the host network".into())
        );
    }

    #[test]
    fn nothing_said_stays_out() {
        assert_eq!(
            decide(&pod(&[], &[]), None),
            Membership::NotMeshed("namespace shop is not in the mesh".into())
        );
        assert!(!meshed(&pod(&[(DATAPLANE_MODE, "sidecar")], &[]), &[]));
        assert!(!meshed(&pod(&[], &[(REDIRECTION, "enabled")]), &[]));
    }
}
