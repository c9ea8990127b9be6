//! `mesh-agent ca --token-file FILE`: callers and pods from a file instead of the Kubernetes API,
//! for a cluster without an API server (the lab) and tests — like kube-apiserver's static token
//! file. Never used when the API is there. The file is read at every request, so whoever runs
//! the pods (the lab) keeps it current:
//!
//! ```yaml
//! tokens:                        # token → the ServiceAccount it proves, and its pod's node
//! - {token: "s3cr3t", serviceAccount: mesh-system/mesh-agent, node: node-1}
//! pods:                          # the pods running, as a pod list by spec.nodeName answers
//! - {node: node-1, serviceAccount: shop/cart}
//! nodes:                         # Node labels (the nodes running the ingress gateway)
//! - {name: node-1, labels: {node-restriction.kubernetes.io/ingress-gateway: "true"}}
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use tonic::Status;

use super::authz::Caller;

/// The file's contents.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticCallers {
    #[serde(default)]
    pub tokens: Vec<StaticToken>,
    #[serde(default)]
    pub pods: Vec<StaticPod>,
    #[serde(default)]
    pub nodes: Vec<StaticNode>,
}

/// A token and who it proves.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StaticToken {
    pub token: String,
    /// `namespace/name`.
    pub service_account: String,
    /// The node of the pod the token is bound to.
    #[serde(default)]
    pub node: Option<String>,
}

/// A running pod: its node and ServiceAccount (`namespace/name`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StaticPod {
    pub node: String,
    pub service_account: String,
}

/// A node and its labels.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticNode {
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl StaticCallers {
    /// Reads `path`; `UNAVAILABLE` naming the file and what is wrong.
    pub fn read(path: &Path) -> Result<Self, Status> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Status::unavailable(format!("--token-file {}: {e}", path.display())))?;
        serde_yaml::from_str(&text)
            .map_err(|e| Status::unavailable(format!("--token-file {}: {e}", path.display())))
    }

    /// The caller `token` proves; `UNAUTHENTICATED` when no entry has it.
    pub fn review(&self, token: &str) -> Result<Caller, Status> {
        let entry = self
            .tokens
            .iter()
            .find(|entry| same(entry.token.as_bytes(), token.as_bytes()))
            .ok_or_else(|| Status::unauthenticated("the token is not in the CA's --token-file"))?;
        let (namespace, service_account) = split(&entry.service_account).ok_or_else(|| {
            Status::unavailable(format!(
                "--token-file: serviceAccount `{}` is not namespace/name",
                entry.service_account
            ))
        })?;
        Ok(Caller {
            namespace,
            service_account,
            node: entry.node.clone(),
        })
    }

    /// (namespace, serviceAccount) of every pod listed on `node`.
    pub fn pods_on_node(&self, node: &str) -> Vec<(String, String)> {
        self.pods
            .iter()
            .filter(|pod| pod.node == node)
            .filter_map(|pod| split(&pod.service_account))
            .collect()
    }
}

impl StaticCallers {
    /// The labels of node `node` (none when it is not listed).
    pub fn node_labels(&self, node: &str) -> BTreeMap<String, String> {
        let listed = self.nodes.iter().find(|n| n.name == node);
        listed.map(|n| n.labels.clone()).unwrap_or_default()
    }
}

fn split(name: &str) -> Option<(String, String)> {
    match name.split_once('/') {
        Some((ns, sa)) if !ns.is_empty() && !sa.is_empty() => Some((ns.into(), sa.into())),
        _ => None,
    }
}

/// Compares in time independent of where the two differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "tokens:\n\
        - {token: agent-1, serviceAccount: mesh-system/mesh-agent, node: node-1}\n\
        - {token: cart, serviceAccount: shop/cart}\n\
        pods:\n\
        - {node: node-1, serviceAccount: shop/cart}\n\
        - {node: node-2, serviceAccount: shop/payments}\n\
        nodes:\n\
        - {name: node-1, labels: {node-restriction.kubernetes.io/ingress-gateway: \"true\"}}\n";

    #[test]
    fn tokens_prove_service_accounts_and_nodes() {
        let callers: StaticCallers = serde_yaml::from_str(FILE).unwrap();
        let agent = callers.review("agent-1").unwrap();
        assert_eq!(
            (agent.namespace.as_str(), agent.service_account.as_str()),
            ("mesh-system", "mesh-agent")
        );
        assert_eq!(agent.node.as_deref(), Some("node-1"));
        assert_eq!(callers.review("cart").unwrap().node, None);
        let err = callers.review("agent-2").unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
        assert_eq!(
            callers.pods_on_node("node-1"),
            [("shop".into(), "cart".into())]
        );
        assert!(callers.pods_on_node("node-3").is_empty());
        assert_eq!(
            callers.node_labels("node-1")["node-restriction.kubernetes.io/ingress-gateway"],
            "true"
        );
        assert!(callers.node_labels("node-2").is_empty());
    }

    #[test]
    fn a_bad_file_is_named() {
        let dir = std::env::temp_dir().join(format!("mesh-static-callers-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tokens.yaml");
        std::fs::write(&path, "tokens:\n- {token: x, sa: a/b}\n").unwrap();
        let err = StaticCallers::read(&path).unwrap_err();
        assert!(err.message().contains("tokens.yaml"), "{}", err.message());
        assert!(
            err.message().contains("unknown field `sa`"),
            "{}",
            err.message()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
