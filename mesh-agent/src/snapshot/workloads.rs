//! The pods the snapshot knows, as workloads: the Deployment they belong to, their SPIFFE
//! principal (service account in the mesh's trust domain) and their Telemetry settings.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, Pod};

use super::endpoints::EndpointIndex;
use super::families::pod_ips;
use super::membership::decide;
use super::model::{spiffe_id, Labels, Workload};
use super::telemetry::{resolve, TelemetryByNamespace};
use crate::net::ProxiedPod;
use crate::resources::pod_limits::PodLimits;
use crate::resources::MeshConfig;

impl EndpointIndex<'_> {
    /// Every pod with an IP, as a workload under each of its IPs: its principal in `mesh`'s
    /// trust domain, its telemetry resolved from `telemetry`, whether it is meshed (with its
    /// Namespace object from `namespaces`).
    pub fn workloads<'n>(
        &self,
        mesh: &MeshConfig,
        telemetry: &TelemetryByNamespace,
        namespaces: impl Fn(&str) -> Option<&'n Namespace>,
    ) -> HashMap<IpAddr, Arc<Workload>> {
        let mut workloads = HashMap::with_capacity(self.pods().len());
        for ((namespace, name), pod, labels) in self.pods() {
            let ips = pod_ips(pod);
            if ips.is_empty() {
                continue;
            }
            let mut workload = workload(namespace, name, pod, labels);
            let account = workload.service_account.as_deref();
            workload.principal = Some(spiffe_id(&mesh.trust_domain, namespace, account));
            workload.meshed = decide(pod, namespaces(namespace)).is_meshed();
            let root = &mesh.root_namespace;
            workload.telemetry = resolve(telemetry, root, namespace, labels);
            let workload = Arc::new(workload);
            for ip in ips {
                workloads.insert(ip, workload.clone());
            }
        }
        workloads
    }
}

fn workload(namespace: &str, name: &str, pod: &Pod, labels: &Arc<Labels>) -> Workload {
    let app = labels.get("app").cloned();
    Workload {
        name: workload_name(name, app.as_deref()),
        namespace: namespace.to_string(),
        pod_name: name.to_string(),
        app,
        version: labels.get("version").cloned(),
        service_account: pod
            .spec
            .as_ref()
            .and_then(|s| s.service_account_name.clone()),
        labels: labels.clone(),
        principal: None,
        meshed: false,
        telemetry: Default::default(),
        limits: PodLimits::read(pod.metadata.annotations.as_ref()).0,
    }
}

/// The Deployment a pod belongs to: the pod name without a `-<n>` replica suffix (the lab's
/// naming); when there is none, the `app` label; else the pod name itself.
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

impl super::Snapshot {
    /// The workload of a captured pod: the snapshot's when it knows the pod, else one derived
    /// from the pod's name.
    pub fn pod_workload(&self, pod: &ProxiedPod) -> Arc<Workload> {
        self.workload(pod.ip).cloned().unwrap_or_else(|| {
            Arc::new(Workload {
                name: workload_name(&pod.name, None),
                namespace: pod.namespace.clone(),
                pod_name: pod.name.clone(),
                app: None,
                version: None,
                service_account: None,
                labels: Default::default(),
                principal: None,
                meshed: false,
                telemetry: self.telemetry_for(&pod.namespace, &Default::default()),
                limits: PodLimits::default(),
            })
        })
    }
}
