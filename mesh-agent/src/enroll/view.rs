//! The pods as the agent's Kubernetes view holds them: one pod waited for (at CNI ADD the
//! sandbox is created before the agent's watch may have seen the Pod), and the pods of this node
//! that should be meshed now.

use std::net::IpAddr;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;

use super::membership::{decide, Membership};
use crate::pipeline::ConfigState;
use crate::snapshot::{pod_ips, Snapshot};

/// The Pod `namespace/name` (with `uid`: that instance only) and whether it should be meshed.
pub fn membership_of(
    snapshot: &Snapshot,
    namespace: &str,
    name: &str,
    uid: Option<&str>,
) -> Option<Membership> {
    let pod = snapshot.pod(namespace, name)?;
    if uid.is_some_and(|uid| !uid.is_empty() && pod.metadata.uid.as_deref() != Some(uid)) {
        return None;
    }
    Some(decide(pod, snapshot.namespace_object(namespace)))
}

/// Waits (at most `limit`) until the view holds the pod, following the snapshot swaps.
pub async fn wait_for_pod(
    config: &ConfigState,
    namespace: &str,
    name: &str,
    uid: Option<&str>,
    limit: Duration,
) -> Result<Membership, String> {
    let mut swaps = config.swaps();
    let wait = async {
        loop {
            swaps.borrow_and_update();
            if let Some(found) = membership_of(&config.snapshot(), namespace, name, uid) {
                return Some(found);
            }
            swaps.changed().await.ok()?;
        }
    };
    let uid_text = uid.map(|u| format!(" (uid {u})")).unwrap_or_default();
    match tokio::time::timeout(limit, wait).await {
        Ok(Some(found)) => Ok(found),
        _ => Err(format!(
            "pod {namespace}/{name}{uid_text} is not in the agent's view of the cluster after \
             {limit:?}; the agent cannot tell whether it belongs in the mesh (is its Kubernetes \
             source synced?)"
        )),
    }
}

/// A pod of this node that should be meshed, as the view holds it.
#[derive(Clone, Debug)]
pub struct DesiredPod {
    /// Pod namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// Pod UID.
    pub uid: String,
    /// `status.podIPs` (else `status.podIP`).
    pub ips: Vec<IpAddr>,
}

/// The pods with `spec.nodeName == node` that should be meshed and have an IP.
pub fn desired_pods(snapshot: &Snapshot, node: &str) -> Vec<DesiredPod> {
    let on_node = |pod: &&Pod| pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node);
    snapshot
        .pod_objects()
        .filter(on_node)
        .filter(|pod| !finished(pod))
        .filter_map(|pod| {
            let namespace = pod.metadata.namespace.clone().unwrap_or("default".into());
            let meshed = decide(pod, snapshot.namespace_object(&namespace)).is_meshed();
            let ips = pod_ips(pod);
            (meshed && !ips.is_empty()).then(|| DesiredPod {
                name: pod.metadata.name.clone().unwrap_or_default(),
                uid: pod.metadata.uid.clone().unwrap_or_default(),
                namespace,
                ips,
            })
        })
        .collect()
}

fn finished(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    matches!(phase, Some("Succeeded" | "Failed"))
}
