//! Address families of pods and Services: a pod's IPs (`status.podIPs`, one per family) and the
//! family a Service's endpoints are taken in (its primary one, as kube-proxy balances each
//! ClusterIP to endpoints of its own family; the mesh dials whichever family from the client's
//! netns, so one endpoint per pod keeps the balancers' counts per pod).

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Pod, Service as KubeService};

/// An IP family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The family of `ip`.
    pub(super) fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// The other family.
    pub(super) fn other(self) -> Self {
        match self {
            Family::V4 => Family::V6,
            Family::V6 => Family::V4,
        }
    }

    /// As Kubernetes names it in `ipFamilies` and EndpointSlice `addressType`.
    fn named(name: &str) -> Option<Self> {
        match name {
            "IPv4" => Some(Family::V4),
            "IPv6" => Some(Family::V6),
            _ => None,
        }
    }

    /// Whether an EndpointSlice of `address_type` holds addresses of this family.
    pub(super) fn holds(self, address_type: &str) -> bool {
        Family::named(address_type) == Some(self)
    }
}

/// A pod's IPs: `status.podIPs`, else `status.podIP`; unparsable ones left out.
pub(super) fn pod_ips(pod: &Pod) -> Vec<IpAddr> {
    let Some(status) = pod.status.as_ref() else {
        return Vec::new();
    };
    let listed = status.pod_ips.iter().flatten().map(|p| p.ip.as_str());
    let mut ips: Vec<IpAddr> = listed.filter_map(|ip| ip.parse().ok()).collect();
    if ips.is_empty() {
        ips.extend(
            status
                .pod_ip
                .as_deref()
                .and_then(|ip| ip.parse::<IpAddr>().ok()),
        );
    }
    ips
}

/// The family a Service's endpoints are taken in: its first `ipFamilies` entry, else its
/// ClusterIP's; `None` (any, the pod's first IP) for a headless Service with neither.
pub(super) fn primary_family(service: &KubeService) -> Option<Family> {
    let spec = service.spec.as_ref()?;
    let declared = spec.ip_families.iter().flatten().next();
    declared.and_then(|f| Family::named(f)).or_else(|| {
        let cluster_ip = spec.cluster_ip.as_deref()?.parse().ok()?;
        Some(Family::of(cluster_ip))
    })
}

/// Whether `service` has both families (two `ipFamilies` or two ClusterIPs).
pub(super) fn is_dual_stack(service: &KubeService) -> bool {
    let Some(spec) = service.spec.as_ref() else {
        return false;
    };
    let families = spec.ip_families.as_ref().map_or(0, Vec::len);
    let cluster_ips = spec.cluster_ips.as_ref().map_or(0, Vec::len);
    families.max(cluster_ips) > 1
}

/// The IP of `ips` a Service in `family` reaches the pod on: the one of that family (none when
/// the pod lacks it), or the first when the family is not known.
pub(super) fn endpoint_ip(ips: &[IpAddr], family: Option<Family>) -> Option<IpAddr> {
    match family {
        Some(family) => ips.iter().copied().find(|ip| Family::of(*ip) == family),
        None => ips.first().copied(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "web-0"}, "status": status})).unwrap()
    }

    fn service(spec: serde_json::Value) -> KubeService {
        serde_json::from_value(json!({"metadata": {"name": "web"}, "spec": spec})).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_pods_ips_are_its_pod_ips_else_its_pod_ip() {
        let dual = pod(json!({"podIP": "10.244.1.5",
            "podIPs": [{"ip": "10.244.1.5"}, {"ip": "fd00:10:244:1::5"}]}));
        assert_eq!(pod_ips(&dual), [ip("10.244.1.5"), ip("fd00:10:244:1::5")]);
        let old = pod(json!({"podIP": "fd00:10:244:1::5"}));
        assert_eq!(pod_ips(&old), [ip("fd00:10:244:1::5")]);
        assert!(pod_ips(&pod(json!({}))).is_empty());
    }

    #[test]
    fn a_services_family_is_its_first_ip_family_else_its_cluster_ips() {
        let v6_first = service(json!({"ipFamilies": ["IPv6", "IPv4"],
            "clusterIP": "fd00:10:96::a", "clusterIPs": ["fd00:10:96::a", "10.96.0.10"]}));
        assert_eq!(primary_family(&v6_first), Some(Family::V6));
        let v4 = service(json!({"clusterIP": "10.96.0.10"}));
        assert_eq!(primary_family(&v4), Some(Family::V4));
        let headless = service(json!({"clusterIP": "None"}));
        assert_eq!(primary_family(&headless), None);
        assert!(is_dual_stack(&v6_first) && !is_dual_stack(&v4) && !is_dual_stack(&headless));
    }

    #[test]
    fn the_endpoint_ip_is_the_pods_ip_of_the_services_family() {
        let ips = [ip("10.244.1.5"), ip("fd00:10:244:1::5")];
        assert_eq!(endpoint_ip(&ips, Some(Family::V6)), Some(ips[1]));
        assert_eq!(endpoint_ip(&ips, Some(Family::V4)), Some(ips[0]));
        assert_eq!(endpoint_ip(&ips, None), Some(ips[0]));
        assert_eq!(endpoint_ip(&ips[..1], Some(Family::V6)), None);
        assert!(Family::V6.holds("IPv6") && !Family::V6.holds("FQDN"));
    }
}
