//! The endpoints of a Kubernetes Service: from its EndpointSlices, else its Endpoints, else the
//! pods its selector picks (the lab has no endpoints controller); each in the Service's primary
//! family (`families.rs`). Pods are indexed once by name,
//! IP and label, so selecting costs the smallest label posting list, not a scan of every pod.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Endpoints, Pod, Service as KubeService, ServicePort as KubePort};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::families::{endpoint_ip, is_dual_stack, pod_ips, primary_family, Family};
use super::model::{Address, Endpoint, Labels};

/// Namespace and name of a pod.
pub(super) type PodKey<'a> = (&'a str, &'a str);

/// Pods and endpoint objects, indexed for [`EndpointIndex::endpoints_of`].
#[derive(Default)]
pub(crate) struct EndpointIndex<'a> {
    pods: HashMap<PodKey<'a>, (&'a Pod, Arc<Labels>)>,
    by_label: HashMap<(&'a str, &'a str, &'a str), Vec<PodKey<'a>>>,
    slices: HashMap<(&'a str, &'a str), Vec<&'a EndpointSlice>>,
    endpoints: HashMap<(&'a str, &'a str), &'a Endpoints>,
    /// The labels of endpoints without a known pod, shared.
    no_labels: Arc<Labels>,
}

const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

fn ns(namespace: &Option<String>) -> &str {
    namespace.as_deref().unwrap_or("default")
}

impl<'a> EndpointIndex<'a> {
    pub fn add_pod(&mut self, pod: &'a Pod) {
        let (Some(name), namespace) = (pod.metadata.name.as_deref(), ns(&pod.metadata.namespace))
        else {
            return;
        };
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        for (k, v) in pod.metadata.labels.iter().flatten() {
            self.by_label
                .entry((namespace, k, v))
                .or_default()
                .push((namespace, name));
        }
        self.pods.insert((namespace, name), (pod, Arc::new(labels)));
    }

    /// Adds an EndpointSlice; returns the namespace and name of the Service it belongs to.
    pub fn add_slice(&mut self, slice: &'a EndpointSlice) -> Option<(&'a str, &'a str)> {
        let labels = slice.metadata.labels.as_ref();
        let service = labels.and_then(|l| l.get(SERVICE_NAME_LABEL))?;
        let key = (ns(&slice.metadata.namespace), service.as_str());
        self.slices.entry(key).or_default().push(slice);
        Some(key)
    }

    /// Adds an Endpoints object; returns the namespace and name of its Service.
    pub fn add_endpoints(&mut self, endpoints: &'a Endpoints) -> Option<(&'a str, &'a str)> {
        let name = endpoints.metadata.name.as_deref()?;
        let key = (ns(&endpoints.metadata.namespace), name);
        self.endpoints.insert(key, endpoints);
        Some(key)
    }

    /// The pods of `namespace` whose labels hold every one of `selector`'s (a ServiceEntry's
    /// `workloadSelector`), by name: name, IP and labels.
    pub(super) fn selected_pods(
        &self,
        namespace: &str,
        selector: &BTreeMap<String, String>,
    ) -> Vec<(String, IpAddr, Arc<Labels>)> {
        let mut found: Vec<_> = (self.selected(namespace, Some(selector)).into_iter())
            .filter_map(|(pod, labels)| {
                let ip = pod.status.as_ref()?.pod_ip.as_ref()?.parse().ok()?;
                Some((pod.metadata.name.clone()?, ip, labels.clone()))
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
    }

    /// Every indexed pod: namespace, name, the object and its labels.
    pub(super) fn pods(
        &self,
    ) -> impl ExactSizeIterator<Item = (PodKey<'a>, &'a Pod, &Arc<Labels>)> + '_ {
        self.pods
            .iter()
            .map(|(key, (pod, labels))| (*key, *pod, labels))
    }

    /// The endpoints of `service` in its primary family, each with its target port per service
    /// port.
    pub fn endpoints_of(&self, service: &KubeService) -> Vec<Endpoint> {
        self.endpoints_in(service, primary_family(service))
    }

    /// The endpoints of a dual-stack `service` in the family other than its primary one (its
    /// pods' other addresses): recognised as its backends, never balanced to. None for a
    /// single-stack Service (no second pass over its pods).
    pub fn other_family_endpoints_of(&self, service: &KubeService) -> Vec<Endpoint> {
        match primary_family(service).filter(|_| is_dual_stack(service)) {
            Some(primary) => self.endpoints_in(service, Some(primary.other())),
            None => Vec::new(),
        }
    }

    /// The endpoints of `service` in `family` (any when `None`).
    fn endpoints_in(&self, service: &KubeService, family: Option<Family>) -> Vec<Endpoint> {
        let namespace = ns(&service.metadata.namespace);
        let name = service.metadata.name.as_deref().unwrap_or_default();
        let ports = service
            .spec
            .as_ref()
            .and_then(|s| s.ports.as_deref())
            .unwrap_or_default();
        let in_family = |ip: &IpAddr| family.is_none_or(|f| f == Family::of(*ip));
        if let Some(slices) = self.slices.get(&(namespace, name)) {
            return slices
                .iter()
                .filter(|s| family.is_none_or(|f| f.holds(&s.address_type)))
                .flat_map(|s| self.slice_endpoints(namespace, s, ports))
                .collect();
        }
        if let Some(endpoints) = self.endpoints.get(&(namespace, name)) {
            let mut listed = self.listed_endpoints(namespace, endpoints, ports);
            listed.retain(|e| matches!(e.address, Address::Ip(ip) if in_family(&ip)));
            return listed;
        }
        let selector = service.spec.as_ref().and_then(|s| s.selector.as_ref());
        self.selected(namespace, selector)
            .into_iter()
            .filter_map(|(pod, labels)| {
                let ip = endpoint_ip(&pod_ips(pod), family)?;
                let by_port = ports
                    .iter()
                    .filter_map(|p| Some((p.port as u16, target_port(pod, p)?)));
                Some(endpoint(
                    ip,
                    Arc::new(by_port.collect()),
                    labels.clone(),
                    pod.metadata.name.clone(),
                ))
            })
            .collect()
    }

    fn selected(
        &self,
        namespace: &str,
        selector: Option<&BTreeMap<String, String>>,
    ) -> Vec<&(&'a Pod, Arc<Labels>)> {
        let selector = selector.filter(|s| !s.is_empty());
        let candidates = selector.and_then(|s| {
            s.iter()
                .map(|(k, v)| self.by_label.get(&(namespace, k.as_str(), v.as_str())))
                .min_by_key(|list| list.map_or(0, Vec::len))
                .flatten()
        });
        let fits = |labels: &Labels| {
            selector.is_some_and(|s| s.iter().all(|(k, v)| labels.get(k) == Some(v)))
        };
        candidates
            .into_iter()
            .flatten()
            .filter_map(|key| self.pods.get(key))
            .filter(|entry| fits(&entry.1))
            .collect()
    }

    fn labels_of(&self, namespace: &str, pod: Option<&str>) -> Arc<Labels> {
        let found = pod.and_then(|p| self.pods.get(&(namespace, p)));
        let labels = found.map(|(_, labels)| labels);
        labels.unwrap_or(&self.no_labels).clone()
    }

    fn slice_endpoints(
        &self,
        namespace: &str,
        slice: &EndpointSlice,
        ports: &[KubePort],
    ) -> Vec<Endpoint> {
        let named: Vec<(Option<&str>, u16)> = slice
            .ports
            .iter()
            .flatten()
            .filter_map(|p| Some((p.name.as_deref(), p.port? as u16)))
            .collect();
        let by_port = Arc::new(map_ports(ports, &named));
        let ready = |e: &&k8s_openapi::api::discovery::v1::Endpoint| {
            e.conditions.as_ref().and_then(|c| c.ready) != Some(false)
        };
        let mut out = Vec::new();
        for e in slice.endpoints.iter().filter(ready) {
            let pod = e.target_ref.as_ref().and_then(|r| r.name.clone());
            let labels = self.labels_of(namespace, pod.as_deref());
            for ip in e.addresses.iter().filter_map(|a| a.parse().ok()) {
                out.push(endpoint(ip, by_port.clone(), labels.clone(), pod.clone()));
            }
        }
        out
    }

    fn listed_endpoints(
        &self,
        namespace: &str,
        endpoints: &Endpoints,
        ports: &[KubePort],
    ) -> Vec<Endpoint> {
        let mut out = Vec::new();
        for subset in endpoints.subsets.iter().flatten() {
            let named: Vec<(Option<&str>, u16)> = subset
                .ports
                .iter()
                .flatten()
                .map(|p| (p.name.as_deref(), p.port as u16))
                .collect();
            let by_port = Arc::new(map_ports(ports, &named));
            for address in subset.addresses.iter().flatten() {
                let Ok(ip) = address.ip.parse() else { continue };
                let pod = address.target_ref.as_ref().and_then(|r| r.name.clone());
                let labels = self.labels_of(namespace, pod.as_deref());
                out.push(endpoint(ip, by_port.clone(), labels, pod));
            }
        }
        out
    }
}

/// Service port → endpoint port, matched by port name (the only port when unnamed).
fn map_ports(ports: &[KubePort], named: &[(Option<&str>, u16)]) -> BTreeMap<u16, u16> {
    ports
        .iter()
        .filter_map(|p| {
            let name = p.name.as_deref().unwrap_or_default();
            let found = named.iter().find(|(n, _)| n.unwrap_or_default() == name);
            Some((p.port as u16, found?.1))
        })
        .collect()
}

fn endpoint(
    ip: IpAddr,
    ports: Arc<BTreeMap<u16, u16>>,
    labels: Arc<Labels>,
    pod: Option<String>,
) -> Endpoint {
    Endpoint {
        address: Address::Ip(ip),
        ports,
        labels,
        pod,
        weight: 1,
        locality: None,
    }
}

/// The pod port a Service port forwards to: `targetPort` (a number or a container port name),
/// else the Service port itself.
fn target_port(pod: &Pod, port: &KubePort) -> Option<u16> {
    match &port.target_port {
        None => Some(port.port as u16),
        Some(IntOrString::Int(n)) => Some(*n as u16),
        Some(IntOrString::String(name)) => pod
            .spec
            .as_ref()?
            .containers
            .iter()
            .flat_map(|c| c.ports.iter().flatten())
            .find(|p| p.name.as_deref() == Some(name))
            .map(|p| p.container_port as u16),
    }
}
