//! Which node agents may obtain a gateway's identity. The mesh's gateways run inside the node
//! agent (no pod of their ServiceAccount on the node), so istiod's rule for ztunnel — a pod of
//! that identity runs on the caller's node — cannot grant them. The cluster says which nodes run
//! which gateway with a Node label, under the prefix the NodeRestriction admission plugin keeps
//! kubelets from setting, so a node cannot promote itself: the ingress gateway's identity
//! (`--gateway-identity`, default Istio's `istio-system/istio-ingressgateway-service-account`)
//! only for a node carrying `--gateway-node-label` (default
//! `node-restriction.kubernetes.io/ingress-gateway=true`), the egress gateway's
//! (`--egress-gateway-identity`, default `istio-system/istio-egressgateway-service-account`)
//! only for one carrying `--egress-gateway-node-label` (default
//! `node-restriction.kubernetes.io/egress-gateway=true`). A node labelled for one gateway gets
//! that gateway's identity only.

use std::collections::BTreeMap;

use crate::identity::Identity;

/// The Node label saying a node runs the ingress gateway, by default.
pub const DEFAULT_GATEWAY_NODE_LABEL: &str = "node-restriction.kubernetes.io/ingress-gateway=true";
/// The gateway identity the CA knows by default: Istio's ingress gateway's ServiceAccount.
pub const DEFAULT_GATEWAY_IDENTITY: &str = "istio-system/istio-ingressgateway-service-account";
/// The Node label saying a node runs the egress gateway, by default.
pub const DEFAULT_EGRESS_GATEWAY_NODE_LABEL: &str =
    "node-restriction.kubernetes.io/egress-gateway=true";
/// Istio's egress gateway's ServiceAccount.
pub const DEFAULT_EGRESS_GATEWAY_IDENTITY: &str =
    "istio-system/istio-egressgateway-service-account";

/// One kind of gateway: its identities and the label of the nodes that run it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayKind {
    /// `ingress` or `egress`, for messages.
    pub kind: &'static str,
    /// (namespace, serviceAccount) of each of its identities.
    pub identities: Vec<(String, String)>,
    /// The Node label (key, value) of the nodes running it.
    pub label: (String, String),
}

/// The gateways the CA knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayNodes {
    pub kinds: Vec<GatewayKind>,
}

impl Default for GatewayNodes {
    fn default() -> Self {
        let ingress = GatewayKind::parse(
            "ingress",
            &[DEFAULT_GATEWAY_IDENTITY.into()],
            DEFAULT_GATEWAY_NODE_LABEL,
        );
        let egress = GatewayKind::parse(
            "egress",
            &[DEFAULT_EGRESS_GATEWAY_IDENTITY.into()],
            DEFAULT_EGRESS_GATEWAY_NODE_LABEL,
        );
        Self {
            kinds: vec![
                ingress.expect("valid defaults"),
                egress.expect("valid defaults"),
            ],
        }
    }
}

impl GatewayKind {
    /// From the `kind`'s identity flags (`namespace/serviceAccount`) and node label flag
    /// (`key=value`); what is wrong names the flag.
    pub fn parse(kind: &'static str, identities: &[String], label: &str) -> Result<Self, String> {
        let prefix = if kind == "egress" { "--egress-" } else { "--" };
        let identities = identities
            .iter()
            .map(|name| match name.split_once('/') {
                Some((ns, sa)) if !ns.is_empty() && !sa.is_empty() && !sa.contains('/') => {
                    Ok((ns.to_owned(), sa.to_owned()))
                }
                _ => Err(format!(
                    "{prefix}gateway-identity `{name}` is not namespace/serviceAccount"
                )),
            })
            .collect::<Result<_, _>>()?;
        let label = match label.split_once('=') {
            Some((key, value)) if !key.is_empty() => (key.to_owned(), value.to_owned()),
            _ => {
                return Err(format!(
                    "{prefix}gateway-node-label `{label}` is not key=value"
                ))
            }
        };
        Ok(Self {
            kind,
            identities,
            label,
        })
    }

    fn names(&self, identity: &Identity) -> bool {
        self.identities
            .iter()
            .any(|(ns, sa)| *ns == identity.namespace && *sa == identity.service_account)
    }
}

impl GatewayNodes {
    /// Whether `identity` is a gateway's.
    pub fn names(&self, identity: &Identity) -> bool {
        self.kinds.iter().any(|kind| kind.names(identity))
    }

    /// Whether `node`, carrying `labels`, runs a gateway whose identity is `identity`.
    pub fn runs_gateway(
        &self,
        identity: &Identity,
        node: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        let kinds = self.kinds.iter().filter(|kind| kind.names(identity));
        let mut missing = Vec::new();
        for GatewayKind { kind, label, .. } in kinds {
            let (key, value) = label;
            if labels.get(key) == Some(value) {
                return Ok(());
            }
            missing.push(format!(
                "{key}={value} of the nodes running the {kind} gateway"
            ));
        }
        Err(format!(
            "node `{node}` does not carry the label {}, and no pod of ServiceAccount {}/{} runs \
             there: its agent may not obtain {identity}",
            missing.join(" nor "),
            identity.namespace,
            identity.service_account
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway() -> Identity {
        Identity::parse(
            "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account",
        )
        .unwrap()
    }

    #[test]
    fn only_a_node_labelled_as_running_the_gateway_gets_its_identity() {
        let nodes = GatewayNodes::default();
        assert!(nodes.names(&gateway()));
        let labelled = BTreeMap::from([(
            "node-restriction.kubernetes.io/ingress-gateway".into(),
            "true".into(),
        )]);
        assert_eq!(nodes.runs_gateway(&gateway(), "node-1", &labelled), Ok(()));
        let other = BTreeMap::from([(
            "node-restriction.kubernetes.io/ingress-gateway".into(),
            "false".into(),
        )]);
        let err = nodes
            .runs_gateway(&gateway(), "node-2", &other)
            .unwrap_err();
        assert!(
            err.contains("node `node-2` does not carry the label node-restriction.kubernetes.io/ingress-gateway=true"),
            "{err}"
        );
        assert!(
            err.contains("istio-ingressgateway-service-account"),
            "{err}"
        );
        let cart = Identity::parse("spiffe://cluster.local/ns/shop/sa/cart").unwrap();
        assert!(!nodes.names(&cart));
    }

    #[test]
    fn a_node_labelled_for_one_gateway_gets_that_gateway_s_identity_only() {
        let nodes = GatewayNodes::default();
        let egress = Identity::parse(
            "spiffe://cluster.local/ns/istio-system/sa/istio-egressgateway-service-account",
        )
        .unwrap();
        assert!(nodes.names(&egress));
        let egress_node = BTreeMap::from([(
            "node-restriction.kubernetes.io/egress-gateway".into(),
            "true".into(),
        )]);
        assert_eq!(nodes.runs_gateway(&egress, "node-2", &egress_node), Ok(()));
        let err = nodes
            .runs_gateway(&gateway(), "node-2", &egress_node)
            .unwrap_err();
        assert!(err.contains("ingress-gateway=true"), "{err}");
        let ingress_node = BTreeMap::from([(
            "node-restriction.kubernetes.io/ingress-gateway".into(),
            "true".into(),
        )]);
        let err = nodes
            .runs_gateway(&egress, "node-1", &ingress_node)
            .unwrap_err();
        assert!(
            err.contains("node `node-1` does not carry the label node-restriction.kubernetes.io/egress-gateway=true of the nodes running the egress gateway"),
            "{err}"
        );
    }

    #[test]
    fn bad_flags_are_named() {
        let err = GatewayKind::parse("ingress", &["gateway".into()], "a=b").unwrap_err();
        assert!(err.contains("--gateway-identity `gateway`"), "{err}");
        let err = GatewayKind::parse("ingress", &["ns/sa".into()], "label").unwrap_err();
        assert!(err.contains("--gateway-node-label `label`"), "{err}");
        let err = GatewayKind::parse("egress", &["ns/sa".into()], "label").unwrap_err();
        assert!(err.contains("--egress-gateway-node-label `label`"), "{err}");
        let kind = GatewayKind::parse("ingress", &["edge/gw".into()], "role=edge").unwrap();
        assert_eq!(kind.identities, [("edge".into(), "gw".into())]);
        assert_eq!(kind.label, ("role".into(), "edge".into()));
    }
}
