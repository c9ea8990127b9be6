//! Which node agents may obtain an ingress gateway's identity. The mesh's gateway runs inside
//! the node agent (no pod of its ServiceAccount on the node), so istiod's rule for ztunnel — a
//! pod of that identity runs on the caller's node — cannot grant it. The cluster says which
//! nodes run the gateway with a Node label (`--gateway-node-label`, default
//! `node-restriction.kubernetes.io/ingress-gateway=true`: under the prefix the NodeRestriction
//! admission plugin keeps kubelets from setting, so a node cannot promote itself): a node agent
//! gets a gateway identity (`--gateway-identity`, default Istio's
//! `istio-system/istio-ingressgateway-service-account`) only when its own node carries it.

use std::collections::BTreeMap;

use crate::identity::Identity;

/// The Node label saying a node runs the ingress gateway, by default.
pub const DEFAULT_GATEWAY_NODE_LABEL: &str = "node-restriction.kubernetes.io/ingress-gateway=true";
/// The gateway identity the CA knows by default: Istio's ingress gateway's ServiceAccount.
pub const DEFAULT_GATEWAY_IDENTITY: &str = "istio-system/istio-ingressgateway-service-account";

/// The gateways' identities and the label of the nodes that run them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayNodes {
    /// (namespace, serviceAccount) of each gateway identity.
    pub identities: Vec<(String, String)>,
    /// The Node label (key, value) of the nodes running a gateway.
    pub label: (String, String),
}

impl Default for GatewayNodes {
    fn default() -> Self {
        Self::parse(
            &[DEFAULT_GATEWAY_IDENTITY.into()],
            DEFAULT_GATEWAY_NODE_LABEL,
        )
        .expect("valid defaults")
    }
}

impl GatewayNodes {
    /// From `--gateway-identity` values (`namespace/serviceAccount`) and `--gateway-node-label`
    /// (`key=value`); what is wrong names the flag.
    pub fn parse(identities: &[String], label: &str) -> Result<Self, String> {
        let identities = identities
            .iter()
            .map(|name| match name.split_once('/') {
                Some((ns, sa)) if !ns.is_empty() && !sa.is_empty() && !sa.contains('/') => {
                    Ok((ns.to_owned(), sa.to_owned()))
                }
                _ => Err(format!(
                    "--gateway-identity `{name}` is not namespace/serviceAccount"
                )),
            })
            .collect::<Result<_, _>>()?;
        let label = match label.split_once('=') {
            Some((key, value)) if !key.is_empty() => (key.to_owned(), value.to_owned()),
            _ => return Err(format!("--gateway-node-label `{label}` is not key=value")),
        };
        Ok(Self { identities, label })
    }

    /// Whether `identity` is a gateway's.
    pub fn names(&self, identity: &Identity) -> bool {
        self.identities
            .iter()
            .any(|(ns, sa)| *ns == identity.namespace && *sa == identity.service_account)
    }

    /// Whether `node`, carrying `labels`, runs the gateway whose identity is `identity`.
    pub fn runs_gateway(
        &self,
        identity: &Identity,
        node: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), String> {
        let (key, value) = &self.label;
        if labels.get(key) == Some(value) {
            return Ok(());
        }
        Err(format!(
            "node `{node}` does not carry the label {key}={value} of the nodes running the \
             ingress gateway, and no pod of ServiceAccount {}/{} runs there: its agent may not \
             obtain {identity}",
            identity.namespace, identity.service_account
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
    fn bad_flags_are_named() {
        let err = GatewayNodes::parse(&["gateway".into()], "a=b").unwrap_err();
        assert!(err.contains("--gateway-identity `gateway`"), "{err}");
        let err = GatewayNodes::parse(&["ns/sa".into()], "label").unwrap_err();
        assert!(err.contains("--gateway-node-label `label`"), "{err}");
        let nodes = GatewayNodes::parse(&["edge/gw".into()], "role=edge").unwrap();
        assert_eq!(nodes.identities, [("edge".into(), "gw".into())]);
        assert_eq!(nodes.label, ("role".into(), "edge".into()));
    }
}
