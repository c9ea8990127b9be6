//! Node labels and the gateways the lab's agents play. A node carries labels
//! (`lab up --node-label node-2:istio=egressgateway`); its agent then plays the gateway workload
//! those labels describe (`--gateway-labels`, matched against Gateway selectors) instead of
//! Istio's ingress gateway, and the agents' discovery sees that workload as a host-network pod
//! `istio-system/gateway-<node>` at the node's address, so a Service selecting it (Istio's
//! `istio-egressgateway`) has the node as its endpoint — mesh traffic routed to that Service
//! reaches the node's agent, and leaves the cluster from that node. Topology labels
//! (`topology.kubernetes.io/region`, `topology.kubernetes.io/zone`, `topology.istio.io/subzone`)
//! say where the node runs instead: its agent gets them as `--locality region/zone/subzone`, as
//! a cluster's agent reads them from its Node, and they describe no gateway.

use super::state::{Labels, Node};
use anyhow::{bail, Result};
use std::str::FromStr;

/// Where the gateway workloads' pods are (Istio's root namespace).
pub const GATEWAY_NAMESPACE: &str = "istio-system";

/// `NODE:KEY=VALUE`: one label of one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeLabel {
    pub node: String,
    pub key: String,
    pub value: String,
}

impl FromStr for NodeLabel {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not NODE:KEY=VALUE (e.g. node-2:istio=egressgateway)");
        let (node, label) = text.split_once(':').ok_or_else(bad)?;
        let (key, value) = label.split_once('=').ok_or_else(bad)?;
        if node.is_empty() || key.is_empty() {
            return Err(bad());
        }
        Ok(NodeLabel {
            node: node.into(),
            key: key.into(),
            value: value.into(),
        })
    }
}

/// Puts each label on its node; a label naming no node of the lab is an error naming it.
pub fn label_nodes(nodes: &mut [Node], labels: &[NodeLabel]) -> Result<()> {
    for label in labels {
        let Some(node) = nodes.iter_mut().find(|n| n.name == label.node) else {
            let last = nodes.len();
            bail!(
                "--node-label {}:{}={}: no node {:?} (nodes are node-1 … node-{last})",
                label.node,
                label.key,
                label.value,
                label.node
            );
        };
        node.labels.insert(label.key.clone(), label.value.clone());
    }
    Ok(())
}

/// The Node labels saying where a node runs: region, zone, subzone.
const TOPOLOGY: [&str; 3] = [
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "topology.istio.io/subzone",
];

/// The labels of the gateway node `node`'s agent plays (empty: Istio's ingress gateway).
pub fn gateway_labels(node: &Node) -> Labels {
    let mut labels = node.labels.clone();
    labels.retain(|key, _| !TOPOLOGY.contains(&key.as_str()));
    labels
}

/// Whether node `node`'s agent plays Istio's egress gateway (`istio: egressgateway`).
pub fn plays_egress(node: &Node) -> bool {
    let labels = gateway_labels(node);
    labels.get("istio").is_some_and(|v| v == "egressgateway")
        || labels
            .get("app")
            .is_some_and(|v| v == "istio-egressgateway")
}

/// The flags naming the gateway a labelled node's agent plays (none: Istio's ingress gateway)
/// and where the node runs (`--locality`, when it has a region).
pub fn agent_args(node: &Node) -> Vec<String> {
    let mut args = Vec::new();
    let gateway = gateway_labels(node);
    if !gateway.is_empty() {
        args.extend(["--gateway-labels".into(), render(&gateway)]);
    }
    let [region, zone, subzone] = TOPOLOGY.map(|key| node.labels.get(key).cloned());
    if let Some(region) = region {
        let (zone, subzone) = (zone.unwrap_or_default(), subzone.unwrap_or_default());
        let locality = format!("{region}/{zone}/{subzone}");
        args.extend(["--locality".into(), locality.trim_end_matches('/').into()]);
    }
    args
}

/// `k=v,k2=v2`.
fn render(labels: &Labels) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join(",")
}

/// The name of the pod standing for node `node`'s gateway workload.
pub fn gateway_pod_name(node: &Node) -> String {
    format!("gateway-{}", node.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str) -> Node {
        serde_json::from_value(serde_json::json!({
            "name": name, "index": 2, "netns": "t-node-2", "address": "10.250.0.2",
            "cgroup": "/sys/fs/cgroup/t-lab/node-2"
        }))
        .unwrap()
    }

    #[test]
    fn a_node_label_reads_node_key_and_value() {
        let label: NodeLabel = "node-2:istio=egressgateway".parse().unwrap();
        assert_eq!(
            (
                label.node.as_str(),
                label.key.as_str(),
                label.value.as_str()
            ),
            ("node-2", "istio", "egressgateway")
        );
        for bad in [
            "node-2=istio-egressgateway",
            "node-2:istio",
            ":a=b",
            "node-2:=b",
        ] {
            let err = bad.parse::<NodeLabel>().unwrap_err();
            assert!(err.contains("NODE:KEY=VALUE"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_labelled_node_plays_the_gateway_its_labels_describe() {
        let mut nodes = vec![node("node-1"), node("node-2")];
        let labels = [
            "node-2:istio=egressgateway",
            "node-2:app=istio-egressgateway",
        ];
        let labels: Vec<NodeLabel> = labels.iter().map(|l| l.parse().unwrap()).collect();
        label_nodes(&mut nodes, &labels).unwrap();
        assert!(
            agent_args(&nodes[0]).is_empty(),
            "unlabelled: the ingress gateway"
        );
        assert_eq!(
            agent_args(&nodes[1]),
            [
                "--gateway-labels",
                "app=istio-egressgateway,istio=egressgateway"
            ]
        );
        assert!(plays_egress(&nodes[1]) && !plays_egress(&nodes[0]));
        let unknown = label_nodes(&mut nodes, &["node-3:a=b".parse().unwrap()]).unwrap_err();
        assert!(
            unknown.to_string().contains("no node \"node-3\""),
            "{unknown}"
        );
    }

    #[test]
    fn topology_labels_are_the_agent_s_locality_not_a_gateway() {
        let mut nodes = vec![node("node-1"), node("node-2")];
        let labels = [
            "node-1:topology.kubernetes.io/region=us",
            "node-1:topology.kubernetes.io/zone=a",
            "node-2:topology.kubernetes.io/region=eu",
            "node-2:istio=egressgateway",
        ];
        let labels: Vec<NodeLabel> = labels.iter().map(|l| l.parse().unwrap()).collect();
        label_nodes(&mut nodes, &labels).unwrap();
        assert_eq!(agent_args(&nodes[0]), ["--locality", "us/a"]);
        assert!(gateway_labels(&nodes[0]).is_empty());
        assert_eq!(
            agent_args(&nodes[1]),
            [
                "--gateway-labels",
                "istio=egressgateway",
                "--locality",
                "eu"
            ]
        );
    }
}
