//! One immutable view of the cluster: for each ClusterIP:port the Service and its endpoints, and
//! for each pod IP the workload behind it.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, Service as KubeService, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The cluster as discovery last read it.
#[derive(Debug, Default)]
pub struct Snapshot {
    services: HashMap<SocketAddr, Arc<Service>>,
    workloads: HashMap<IpAddr, Arc<Workload>>,
}

/// One port of a Service, reached at its ClusterIP.
#[derive(Debug)]
pub struct Service {
    /// Service name.
    pub name: String,
    /// Service namespace.
    pub namespace: String,
    /// The port's `appProtocol`, when declared.
    pub app_protocol: Option<String>,
    /// The port's name (`http-web`, `grpc-api`, …): declares the protocol when `appProtocol` does not.
    pub port_name: Option<String>,
    /// The ready pods behind the port: pod IP and target port, sorted.
    pub endpoints: Vec<SocketAddr>,
    next: AtomicUsize,
}

/// The workload a pod belongs to, as telemetry names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    /// The Deployment name: see [`workload_name`].
    pub name: String,
    /// Namespace of the pod.
    pub namespace: String,
    /// Pod name.
    pub pod_name: String,
    /// `app` label.
    pub app: Option<String>,
    /// `version` label.
    pub version: Option<String>,
}

impl Snapshot {
    /// Builds the snapshot from Services and Pods.
    pub fn build(services: &[KubeService], pods: &[Pod]) -> Self {
        let mut snapshot = Self::default();
        for pod in pods {
            if let (Some(ip), Some(workload)) = (pod_ip(pod), Workload::of_pod(pod)) {
                snapshot.workloads.insert(ip, Arc::new(workload));
            }
        }
        for service in services {
            snapshot.add_service(service, pods);
        }
        snapshot
    }

    /// The Service port at `addr` when `addr` is a ClusterIP:port.
    pub fn service(&self, addr: SocketAddr) -> Option<Arc<Service>> {
        self.services.get(&addr).cloned()
    }

    /// The workload of the pod with IP `ip`.
    pub fn workload(&self, ip: IpAddr) -> Option<Arc<Workload>> {
        self.workloads.get(&ip).cloned()
    }

    /// A Service that has `endpoint` among its endpoints (the first by name, for determinism).
    pub fn service_of_endpoint(&self, endpoint: SocketAddr) -> Option<Arc<Service>> {
        let mut matches: Vec<_> = self
            .services
            .values()
            .filter(|service| service.endpoints.contains(&endpoint))
            .collect();
        matches.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        matches.first().map(|service| Arc::clone(service))
    }

    /// Number of ClusterIP:port entries.
    pub fn service_count(&self) -> usize {
        self.services.len()
    }

    fn add_service(&mut self, service: &KubeService, pods: &[Pod]) {
        let Some(spec) = &service.spec else { return };
        let name = service.metadata.name.clone().unwrap_or_default();
        let namespace = namespace_of(&service.metadata.namespace);
        let backends = selected_pods(pods, &namespace, spec.selector.as_ref());
        for ip in cluster_ips(spec) {
            for port in spec.ports.iter().flatten().filter(|p| is_tcp(p)) {
                let endpoints = endpoints(&backends, port);
                let entry = Service {
                    name: name.clone(),
                    namespace: namespace.clone(),
                    app_protocol: port.app_protocol.clone(),
                    port_name: port.name.clone(),
                    endpoints,
                    next: AtomicUsize::new(0),
                };
                let key = SocketAddr::new(ip, port.port as u16);
                self.services.insert(key, Arc::new(entry));
            }
        }
    }
}

impl Service {
    /// The next endpoint in round-robin order; `None` when the Service has none.
    pub fn pick(&self) -> Option<SocketAddr> {
        if self.endpoints.is_empty() {
            return None;
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        Some(self.endpoints[n % self.endpoints.len()])
    }

    /// `name.namespace.svc.cluster.local`, as Istio's `destination_service`.
    pub fn hostname(&self) -> String {
        format!("{}.{}.svc.cluster.local", self.name, self.namespace)
    }
}

impl Workload {
    fn of_pod(pod: &Pod) -> Option<Self> {
        let pod_name = pod.metadata.name.clone()?;
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        let app = labels.get("app").cloned();
        Some(Self {
            name: workload_name(&pod_name, app.as_deref()),
            namespace: namespace_of(&pod.metadata.namespace),
            pod_name,
            app,
            version: labels.get("version").cloned(),
        })
    }
}

/// The Deployment a pod belongs to: the pod name without the lab's `-<n>` replica suffix; when
/// there is none, the `app` label; else the pod name itself.
pub fn workload_name(pod_name: &str, app: Option<&str>) -> String {
    match pod_name.rsplit_once('-') {
        Some((base, n))
            if !base.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) =>
        {
            base.to_string()
        }
        _ => app.unwrap_or(pod_name).to_string(),
    }
}

fn namespace_of(namespace: &Option<String>) -> String {
    namespace.clone().unwrap_or_else(|| "default".to_string())
}

fn pod_ip(pod: &Pod) -> Option<IpAddr> {
    pod.status.as_ref()?.pod_ip.as_ref()?.parse().ok()
}

fn cluster_ips(spec: &k8s_openapi::api::core::v1::ServiceSpec) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = spec
        .cluster_ips
        .iter()
        .flatten()
        .chain(spec.cluster_ip.iter())
        .filter_map(|ip| ip.parse().ok())
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

fn is_tcp(port: &ServicePort) -> bool {
    port.protocol.as_deref().is_none_or(|p| p == "TCP")
}

/// Pods of `namespace` whose labels carry every selector entry; none for an empty selector
/// (such a Service's endpoints are managed by hand in Kubernetes).
fn selected_pods<'a>(
    pods: &'a [Pod],
    namespace: &str,
    selector: Option<&BTreeMap<String, String>>,
) -> Vec<&'a Pod> {
    let Some(selector) = selector.filter(|s| !s.is_empty()) else {
        return Vec::new();
    };
    pods.iter()
        .filter(|pod| namespace_of(&pod.metadata.namespace) == namespace)
        .filter(|pod| {
            let labels = pod.metadata.labels.as_ref();
            selector
                .iter()
                .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        })
        .collect()
}

fn endpoints(pods: &[&Pod], port: &ServicePort) -> Vec<SocketAddr> {
    let mut endpoints: Vec<SocketAddr> = pods
        .iter()
        .filter_map(|pod| Some(SocketAddr::new(pod_ip(pod)?, target_port(pod, port)?)))
        .collect();
    endpoints.sort();
    endpoints
}

/// The pod port a Service port forwards to: `targetPort` (a number, or a container port name),
/// else the Service port itself.
fn target_port(pod: &Pod, port: &ServicePort) -> Option<u16> {
    match &port.target_port {
        None => Some(port.port as u16),
        Some(IntOrString::Int(n)) => Some(*n as u16),
        Some(IntOrString::String(name)) => named_port(pod, name),
    }
}

fn named_port(pod: &Pod, name: &str) -> Option<u16> {
    let containers = &pod.spec.as_ref()?.containers;
    containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| p.name.as_deref() == Some(name))
        .map(|p| p.container_port as u16)
}
