//! From documents to what the lab will create — pods (Deployments expanded), Services, mesh
//! resources, namespaces — validated as a whole before anything is created.

use super::gateway::NodeLabel;
use super::manifest::{Document, Problems};
use super::objects;
use super::state::{Container, Labels, ServicePort, State};
use anyhow::Result;
use std::collections::BTreeSet;
use std::net::IpAddr;

/// API groups whose resources are configuration for the mesh (copied to `config/`).
pub const MESH_GROUPS: [&str; 6] = [
    "networking.istio.io",
    "security.istio.io",
    "telemetry.istio.io",
    "gateway.networking.k8s.io",
    // Istio 1.5's Policy and MeshPolicy (the agent applies their replacements).
    "authentication.istio.io",
    // NetworkPolicy (the agent enforces ingress rules where it delivers inside a pod).
    "networking.k8s.io",
];

/// What one `up` or `apply` will create.
#[derive(Debug, Default)]
pub struct Plan {
    pub namespaces: Vec<(String, Labels)>,
    pub pods: Vec<PodPlan>,
    pub services: Vec<ServicePlan>,
    pub mesh_resources: Vec<MeshResource>,
    /// Labels of `Node` documents (taken at `lab up` only: they name the agents' gateways).
    pub node_labels: Vec<NodeLabel>,
}

/// A pod to create.
#[derive(Debug)]
pub struct PodPlan {
    /// Where it came from (`file: document N (line L)`), for errors found later.
    pub origin: String,
    pub namespace: String,
    pub name: String,
    pub labels: Labels,
    pub placement: Placement,
    pub external_host: Option<String>,
    pub deployment: Option<String>,
    /// `spec.serviceAccountName` (the pod's SPIFFE identity); `None` means `default`.
    pub service_account: Option<String>,
    /// `metadata.annotations`, passed to the agents' config (the mesh reads some).
    pub annotations: Labels,
    pub containers: Vec<Container>,
}

/// Which node a pod goes to.
#[derive(Debug)]
pub enum Placement {
    /// `spec.nodeName`.
    Node(String),
    /// Replica `i` of a Deployment: node `i mod N`.
    Replica(usize),
    /// The next node, round robin.
    Any,
}

/// A Service to create.
#[derive(Debug)]
pub struct ServicePlan {
    pub origin: String,
    pub namespace: String,
    pub name: String,
    pub cluster_ip: Option<IpAddr>,
    pub selector: Labels,
    pub ports: Vec<ServicePort>,
}

/// A mesh resource: copied verbatim to the config directory.
#[derive(Debug)]
pub struct MeshResource {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub yaml: String,
}

impl MeshResource {
    /// `<kind>.<namespace>.<name>.yaml`.
    pub fn file_name(&self) -> String {
        config_file_name(&self.kind, &self.namespace, &self.name)
    }
}

/// The config file name of a mesh resource.
pub fn config_file_name(kind: &str, namespace: &str, name: &str) -> String {
    format!("{kind}.{namespace}.{name}.yaml")
}

/// Core kinds the agents read as configuration (a gateway's certificates live in Secrets).
pub const MESH_CORE_KINDS: [&str; 2] = ["ConfigMap", "Secret"];

/// Whether a document is a mesh resource rather than something the lab builds.
pub fn is_mesh_resource(doc: &Document) -> bool {
    MESH_GROUPS.contains(&doc.group())
        || (doc.group().is_empty() && MESH_CORE_KINDS.contains(&doc.kind()))
}

impl Plan {
    /// Builds and validates the plan for `docs` against the running lab `state`.
    pub fn build(docs: &[Document], state: &State) -> Result<Plan> {
        let mut plan = Plan::default();
        let mut problems = Problems::default();
        for doc in docs {
            if let Err(message) = plan.add(doc) {
                problems.push(doc.problem(message));
            }
        }
        plan.check_against(state, &mut problems);
        problems.into_result()?;
        Ok(plan)
    }

    fn add(&mut self, doc: &Document) -> Result<(), String> {
        objects::check_identity(doc)?;
        match (doc.group(), doc.kind()) {
            _ if is_mesh_resource(doc) => self.mesh_resources.push(objects::mesh_resource(doc)?),
            ("", "Namespace") => self.namespaces.push(objects::namespace(doc)?),
            ("", "Pod") => self.pods.push(objects::pod(doc)?),
            // Accepted as a cluster accepts them; a pod's identity is its serviceAccountName.
            ("", "ServiceAccount") => {}
            ("apps", "Deployment") => self.pods.extend(objects::deployment(doc)?),
            ("", "Service") => self.services.push(objects::service(doc)?),
            ("", "Node") => self.node_labels.extend(objects::node_labels(doc)?),
            _ => return Err(objects::unknown_kind(doc)),
        }
        Ok(())
    }

    /// Duplicates (within the input and against the lab), unknown nodes, clashing addresses.
    fn check_against(&self, state: &State, problems: &mut Problems) {
        let mut pods = BTreeSet::new();
        let mut hosts: BTreeSet<&str> = state
            .pods
            .iter()
            .filter_map(|p| p.external_host())
            .collect();
        for pod in &self.pods {
            let key = (pod.namespace.as_str(), pod.name.as_str());
            if !pods.insert(key) || state.pod(key.0, key.1).is_some() {
                problems.push(pod.problem(format!("pod {}/{} already exists", key.0, key.1)));
            }
            if let Placement::Node(node) = &pod.placement {
                if state.node(node).is_none() {
                    problems.push(pod.problem(format!("spec.nodeName: no node {node:?}")));
                }
            }
            if let Some(host) = pod.external_host.as_deref() {
                if !hosts.insert(host) {
                    problems.push(pod.problem(format!("external host {host:?} already exists")));
                }
            }
        }
        let mut services = BTreeSet::new();
        let mut ips: BTreeSet<IpAddr> = state
            .services
            .iter()
            .flat_map(|s| s.cluster_ips.iter().copied())
            .collect();
        let family = state.ip_family;
        for svc in &self.services {
            let key = (svc.namespace.as_str(), svc.name.as_str());
            if !services.insert(key) || state.service(key.0, key.1).is_some() {
                problems.push(svc.problem(format!("service {}/{} already exists", key.0, key.1)));
            }
            if let Some(ip) = svc.cluster_ip.filter(|ip| !ips.insert(*ip)) {
                problems.push(svc.problem(format!("spec.clusterIP {ip} is already in use")));
            }
            let in_lab = |ip: &IpAddr| {
                if ip.is_ipv4() {
                    family.has_v4()
                } else {
                    family.has_v6()
                }
            };
            if let Some(ip) = svc.cluster_ip.filter(|ip| !in_lab(ip)) {
                let lab = format!("{family:?}").to_lowercase();
                problems.push(svc.problem(format!(
                    "spec.clusterIP {ip} is not of the lab's ip family {lab}"
                )));
            }
        }
    }
}

impl PodPlan {
    fn problem(&self, message: String) -> String {
        format!(
            "{}: Pod/{}/{}: {message}",
            self.origin, self.namespace, self.name
        )
    }
}

impl ServicePlan {
    fn problem(&self, message: String) -> String {
        format!(
            "{}: Service/{}/{}: {message}",
            self.origin, self.namespace, self.name
        )
    }
}
