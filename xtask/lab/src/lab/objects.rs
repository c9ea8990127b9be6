//! One document → one typed object, through the real k8s-openapi types; every error is a plain
//! message that the caller prefixes with the file, document and object.

use super::family::is_cluster_ip6;
use super::gateway::NodeLabel;
use super::manifest::Document;
use super::plan::{MeshResource, Placement, PodPlan, ServicePlan, MESH_GROUPS};
use super::state::{Container, Labels, ServicePort};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{self as core, Namespace, Node, Pod, PodSpec, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::de::DeserializeOwned;
use std::net::IpAddr;

/// The annotation that puts a pod on the external segment under a hostname.
pub const EXTERNAL_HOST_ANNOTATION: &str = "lab.mesh/external-host";

/// `apiVersion`, `kind` and `metadata.name` are present and the name is usable.
pub fn check_identity(doc: &Document) -> Result<(), String> {
    if doc.api_version().is_empty() {
        return Err("no apiVersion".into());
    }
    if doc.kind().is_empty() {
        return Err("no kind".into());
    }
    let name = doc.name();
    if name.is_empty() {
        return Err("no metadata.name".into());
    }
    if super::plan::is_mesh_resource(doc) {
        let usable = !name.contains('/') && !name.starts_with('.');
        return if usable {
            Ok(())
        } else {
            Err(format!("bad name {name:?}"))
        };
    }
    check_dns_label("metadata.name", name)?;
    check_dns_label("metadata.namespace", doc.namespace())
}

/// The error for a kind the lab does not know.
pub fn unknown_kind(doc: &Document) -> String {
    format!(
        "unknown kind {} ({}): the lab takes Namespace, Node (labels, at `lab up`), Pod, \
         Deployment, Service, ServiceAccount, ConfigMap, Secret and {} resources",
        doc.kind(),
        doc.api_version(),
        MESH_GROUPS.join(", ")
    )
}

/// A Namespace and its labels.
pub fn namespace(doc: &Document) -> Result<(String, Labels), String> {
    let ns: Namespace = typed(doc)?;
    Ok((
        doc.name().to_string(),
        ns.metadata.labels.unwrap_or_default(),
    ))
}

/// A Node's labels (`metadata.labels`), as `lab up --node-label` gives them.
pub fn node_labels(doc: &Document) -> Result<Vec<NodeLabel>, String> {
    let node: Node = typed(doc)?;
    let labels = node.metadata.labels.unwrap_or_default();
    Ok(labels
        .into_iter()
        .map(|(key, value)| NodeLabel {
            node: doc.name().to_string(),
            key,
            value,
        })
        .collect())
}

/// A bare Pod.
pub fn pod(doc: &Document) -> Result<PodPlan, String> {
    let pod: Pod = typed(doc)?;
    let spec = pod.spec.ok_or("no spec")?;
    let placement = spec
        .node_name
        .clone()
        .map_or(Placement::Any, Placement::Node);
    pod_plan(doc, doc.name(), &pod.metadata, &spec, placement, None)
}

/// A Deployment's pods: `<name>-0 … <name>-(replicas-1)`.
pub fn deployment(doc: &Document) -> Result<Vec<PodPlan>, String> {
    let deployment: Deployment = typed(doc)?;
    let spec = deployment.spec.ok_or("no spec")?;
    let replicas = usize::try_from(spec.replicas.unwrap_or(1)).map_err(|_| "negative replicas")?;
    let meta = spec.template.metadata.unwrap_or_default();
    let pod_spec = spec.template.spec.ok_or("no spec.template.spec")?;
    let name = doc.name();
    (0..replicas)
        .map(|i| {
            let placement = match &pod_spec.node_name {
                Some(node) => Placement::Node(node.clone()),
                None => Placement::Replica(i),
            };
            let pod_name = format!("{name}-{i}");
            pod_plan(doc, &pod_name, &meta, &pod_spec, placement, Some(name))
        })
        .collect()
}

fn pod_plan(
    doc: &Document,
    name: &str,
    meta: &ObjectMeta,
    spec: &PodSpec,
    placement: Placement,
    deployment: Option<&str>,
) -> Result<PodPlan, String> {
    if spec.containers.is_empty() {
        return Err("no containers".into());
    }
    let annotations = meta.annotations.clone().unwrap_or_default();
    let external_host = annotations.get(EXTERNAL_HOST_ANNOTATION).cloned();
    if let Some(host) = &external_host {
        check_hostname(host)?;
    }
    Ok(PodPlan {
        origin: doc.place(),
        namespace: doc.namespace().to_string(),
        name: name.to_string(),
        labels: meta.labels.clone().unwrap_or_default(),
        placement,
        external_host,
        deployment: deployment.map(str::to_string),
        service_account: spec.service_account_name.clone(),
        annotations,
        containers: spec
            .containers
            .iter()
            .map(container)
            .collect::<Result<_, _>>()?,
    })
}

fn container(c: &core::Container) -> Result<Container, String> {
    let command = c.command.clone().unwrap_or_default();
    if command.is_empty() {
        return Err(format!(
            "container {:?} has no command (the lab runs command + args as a host process; \
             the image is ignored)",
            c.name
        ));
    }
    let mut env = Vec::new();
    for var in c.env.iter().flatten() {
        if var.value_from.is_some() {
            return Err(format!(
                "container {:?}: env {}: valueFrom is not supported by the lab",
                c.name, var.name
            ));
        }
        env.push((var.name.clone(), var.value.clone().unwrap_or_default()));
    }
    let argv = command
        .into_iter()
        .chain(c.args.clone().unwrap_or_default())
        .collect();
    let ports = c
        .ports
        .iter()
        .flatten()
        .filter_map(|p| Some((p.name.clone(), u16::try_from(p.container_port).ok()?)))
        .collect();
    Ok(Container {
        name: c.name.clone(),
        argv,
        env,
        ports,
    })
}

/// A Service (a ClusterIP one: headless and ExternalName Services are not supported).
pub fn service(doc: &Document) -> Result<ServicePlan, String> {
    let svc: Service = typed(doc)?;
    let spec = svc.spec.unwrap_or_default();
    if let Some(kind) = spec.type_.as_deref().filter(|t| *t == "ExternalName") {
        return Err(format!("spec.type {kind} is not supported by the lab"));
    }
    Ok(ServicePlan {
        origin: doc.place(),
        namespace: doc.namespace().to_string(),
        name: doc.name().to_string(),
        cluster_ip: cluster_ip(spec.cluster_ip.as_deref())?,
        selector: spec.selector.unwrap_or_default(),
        ports: spec
            .ports
            .iter()
            .flatten()
            .map(service_port)
            .collect::<Result<_, _>>()?,
    })
}

fn cluster_ip(given: Option<&str>) -> Result<Option<IpAddr>, String> {
    match given {
        None | Some("") => Ok(None),
        Some("None") => {
            Err("headless Services (clusterIP: None) are not supported by the lab".into())
        }
        Some(text) => {
            let ip: IpAddr = text
                .parse()
                .map_err(|_| format!("spec.clusterIP {text:?} is not an IP address"))?;
            match ip {
                IpAddr::V4(v4) if v4.octets()[..2] != [10, 96] => Err(format!(
                    "spec.clusterIP {ip} is outside the lab's 10.96.0.0/16"
                )),
                IpAddr::V6(v6) if !is_cluster_ip6(v6) => Err(format!(
                    "spec.clusterIP {ip} is outside the lab's fd00:10:96::/112"
                )),
                _ => Ok(Some(ip)),
            }
        }
    }
}

fn service_port(p: &core::ServicePort) -> Result<ServicePort, String> {
    let port = u16::try_from(p.port).map_err(|_| format!("port {} is out of range", p.port))?;
    let target_port = match &p.target_port {
        Some(IntOrString::Int(n)) => n.to_string(),
        Some(IntOrString::String(s)) => s.clone(),
        None => port.to_string(),
    };
    Ok(ServicePort {
        name: p.name.clone(),
        port,
        target_port,
        app_protocol: p.app_protocol.clone(),
        protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
    })
}

/// A mesh resource, re-serialized as one YAML document.
pub fn mesh_resource(doc: &Document) -> Result<MeshResource, String> {
    Ok(MeshResource {
        kind: doc.kind().to_string(),
        namespace: doc.namespace().to_string(),
        name: doc.name().to_string(),
        yaml: serde_yaml::to_string(&doc.value).map_err(|e| e.to_string())?,
    })
}

fn typed<T: DeserializeOwned>(doc: &Document) -> Result<T, String> {
    serde_yaml::from_value(doc.value.clone()).map_err(|e| e.to_string())
}

fn check_dns_label(field: &str, name: &str) -> Result<(), String> {
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let ends_ok = !name.starts_with('-') && !name.ends_with('-');
    if name.is_empty() || name.len() > 63 || !chars_ok || !ends_ok {
        return Err(format!(
            "{field} {name:?} is not a DNS label (a-z, 0-9, '-', at most 63)"
        ));
    }
    Ok(())
}

fn check_hostname(host: &str) -> Result<(), String> {
    let ok = host
        .split('.')
        .all(|label| check_dns_label("", label).is_ok());
    if !ok {
        return Err(format!(
            "annotation {EXTERNAL_HOST_ANNOTATION}: {host:?} is not a hostname"
        ));
    }
    Ok(())
}
