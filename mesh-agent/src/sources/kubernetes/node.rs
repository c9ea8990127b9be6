//! The agent's own Node, read once at start: its labels say where the node runs
//! (`topology.kubernetes.io/region`, `topology.kubernetes.io/zone`, `topology.istio.io/subzone`),
//! which locality-aware balancing compares endpoints with. RBAC: `get` on `nodes`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;
use kube::{Api, Client};

/// The labels of Node `name` (none when it has none).
pub async fn node_labels(
    client: &Client,
    name: &str,
) -> Result<BTreeMap<String, String>, kube::Error> {
    let api: Api<Node> = Api::all(client.clone());
    Ok(api.get(name).await?.metadata.labels.unwrap_or_default())
}
