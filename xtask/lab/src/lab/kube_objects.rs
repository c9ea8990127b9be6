//! The cluster as the agents' discovery reads it: every Service (with its ClusterIP), Pod
//! (labels, annotations, `spec.nodeName`, `spec.serviceAccountName`, `status.podIP`, container ports) and
//! Namespace (labels) of the lab, written as Kubernetes YAML into the config directory and kept in
//! sync on apply and delete; and for each labelled node the host-network pod of the gateway its
//! agent plays (`gateway.rs`).
//! Files are `Service.<ns>.<name>.yaml`, `Pod.<ns>.<name>.yaml`, `Namespace.<name>.yaml`.

use super::gateway::{gateway_labels, gateway_pod_name, GATEWAY_NAMESPACE};
use super::state::{Node, Pod, Service, State};
use anyhow::{Context, Result};
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;
use std::path::Path;

/// The kinds this module owns in the config directory (mesh resources are written elsewhere).
const KINDS: [&str; 3] = ["Service", "Pod", "Namespace"];

/// Makes `config_dir` hold exactly the lab's Services, Pods and Namespaces: changed files are
/// rewritten (temp file + rename, the agents may be reading), stale ones removed. Whether
/// anything changed.
pub fn sync(state: &State, config_dir: &Path) -> Result<bool> {
    let wanted = documents(state)?;
    let mut changed = false;
    for entry in std::fs::read_dir(config_dir)?.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let ours = KINDS.iter().any(|k| file.starts_with(&format!("{k}.")));
        if ours && file.ends_with(".yaml") && !wanted.contains_key(&file) {
            std::fs::remove_file(entry.path())?;
            changed = true;
        }
    }
    for (file, yaml) in &wanted {
        let path = config_dir.join(file);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(yaml.as_str()) {
            let tmp = config_dir.join(format!(".{file}.tmp"));
            std::fs::write(&tmp, yaml)?;
            std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
            changed = true;
        }
    }
    Ok(changed)
}

/// File name → YAML, for every object of the cluster (external hosts are not pods of it).
pub(super) fn documents(state: &State) -> Result<BTreeMap<String, String>> {
    let mut docs = BTreeMap::new();
    for (name, labels) in &state.namespaces {
        let ns = core::Namespace {
            metadata: meta(None, name, labels),
            ..Default::default()
        };
        docs.insert(format!("Namespace.{name}.yaml"), yaml("Namespace", &ns)?);
    }
    for svc in &state.services {
        let file = format!("Service.{}.{}.yaml", svc.namespace, svc.name);
        docs.insert(file, yaml("Service", &service(svc))?);
    }
    for pod in state.pods.iter().filter(|p| p.node.is_some()) {
        let file = format!("Pod.{}.{}.yaml", pod.namespace, pod.name);
        docs.insert(file, yaml("Pod", &pod_object(pod))?);
    }
    for node in state.nodes.iter().filter(|n| !gateway_labels(n).is_empty()) {
        let file = format!("Pod.{GATEWAY_NAMESPACE}.{}.yaml", gateway_pod_name(node));
        docs.insert(file, yaml("Pod", &gateway_pod(node))?);
    }
    Ok(docs)
}

fn meta(namespace: Option<&str>, name: &str, labels: &BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        labels: (!labels.is_empty()).then(|| labels.clone()),
        ..Default::default()
    }
}

fn service(svc: &Service) -> core::Service {
    let ports = svc.ports.iter().map(|p| core::ServicePort {
        name: p.name.clone(),
        port: i32::from(p.port),
        target_port: Some(match p.target_port.parse::<i32>() {
            Ok(n) => IntOrString::Int(n),
            Err(_) => IntOrString::String(p.target_port.clone()),
        }),
        app_protocol: p.app_protocol.clone(),
        protocol: Some(p.protocol.clone()),
        ..Default::default()
    });
    core::Service {
        metadata: meta(Some(&svc.namespace), &svc.name, &BTreeMap::new()),
        spec: Some(core::ServiceSpec {
            cluster_ip: Some(svc.cluster_ips[0].to_string()),
            cluster_ips: Some(svc.cluster_ips.iter().map(ToString::to_string).collect()),
            ip_families: Some(svc.cluster_ips.iter().map(|ip| family_name(*ip)).collect()),
            ip_family_policy: Some(family_policy(&svc.cluster_ips).into()),
            selector: (!svc.selector.is_empty()).then(|| svc.selector.clone()),
            ports: Some(ports.collect()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn pod_object(pod: &Pod) -> core::Pod {
    let containers = pod.containers.iter().map(|c| core::Container {
        name: c.name.clone(),
        ports: Some(
            c.ports
                .iter()
                .map(|(name, port)| core::ContainerPort {
                    name: name.clone(),
                    container_port: i32::from(*port),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    });
    let mut metadata = meta(Some(&pod.namespace), &pod.name, &pod.labels);
    metadata.uid = Some(pod.uid.clone());
    metadata.annotations = (!pod.annotations.is_empty()).then(|| pod.annotations.clone());
    core::Pod {
        metadata,
        spec: Some(core::PodSpec {
            node_name: pod.node.clone(),
            service_account_name: pod.service_account.clone(),
            containers: containers.collect(),
            ..Default::default()
        }),
        status: Some(core::PodStatus {
            phase: Some("Running".into()),
            pod_ip: Some(pod.ips[0].to_string()),
            pod_ips: Some(
                pod.ips
                    .iter()
                    .map(|ip| core::PodIP { ip: ip.to_string() })
                    .collect(),
            ),
            ..Default::default()
        }),
    }
}

/// The gateway workload node `node`'s agent plays: a host-network pod at the node's address.
fn gateway_pod(node: &Node) -> core::Pod {
    let name = gateway_pod_name(node);
    let mut metadata = meta(Some(GATEWAY_NAMESPACE), &name, &gateway_labels(node));
    metadata.uid = Some(format!("{}-{name}", node.netns));
    let container = core::Container {
        name: "gateway".into(),
        ..Default::default()
    };
    core::Pod {
        metadata,
        spec: Some(core::PodSpec {
            node_name: Some(node.name.clone()),
            host_network: Some(true),
            containers: vec![container],
            ..Default::default()
        }),
        status: Some(core::PodStatus {
            phase: Some("Running".into()),
            pod_ip: Some(node.address.to_string()),
            pod_ips: Some(vec![core::PodIP {
                ip: node.address.to_string(),
            }]),
            ..Default::default()
        }),
    }
}

/// `IPv4` or `IPv6`, as `ipFamilies` names them.
fn family_name(ip: std::net::IpAddr) -> String {
    if ip.is_ipv4() { "IPv4" } else { "IPv6" }.into()
}

/// `ipFamilyPolicy` of a Service with `cluster_ips`.
fn family_policy(cluster_ips: &[std::net::IpAddr]) -> &'static str {
    if cluster_ips.len() > 1 {
        "RequireDualStack"
    } else {
        "SingleStack"
    }
}

/// One YAML document with `apiVersion` and `kind` (k8s-openapi leaves them out).
fn yaml<T: serde::Serialize>(kind: &str, object: &T) -> Result<String> {
    let mut value = serde_yaml::to_value(object)?;
    if let serde_yaml::Value::Mapping(map) = &mut value {
        map.insert("apiVersion".into(), "v1".into());
        map.insert("kind".into(), kind.into());
    }
    Ok(serde_yaml::to_string(&value)?)
}
