//! Who may obtain which identity, decided as istiod decides for ztunnel: any workload its own
//! identity; a node agent also the identity of a pod running on its own node, never another's.

use crate::identity::Identity;

/// An authenticated caller, from its ServiceAccount token's review.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub namespace: String,
    pub service_account: String,
    /// The node of the pod the token is bound to (`authentication.kubernetes.io/node-name`).
    pub node: Option<String>,
}

/// What the CA must still check before signing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grant {
    /// The caller's own identity: sign.
    Own(Identity),
    /// A node agent asks for a pod's identity: sign only if a pod of it runs on `node`.
    OnNode { identity: Identity, node: String },
}

/// The first decision, from the caller and the identity asked for (`None`: its own).
pub fn decide(
    caller: &Caller,
    requested: Option<&str>,
    trust_domain: &str,
    node_agents: &[(String, String)],
) -> Result<Grant, String> {
    let own = Identity {
        trust_domain: trust_domain.to_owned(),
        namespace: caller.namespace.clone(),
        service_account: caller.service_account.clone(),
    };
    let Some(requested) = requested else {
        return Ok(Grant::Own(own));
    };
    let identity = Identity::parse(requested)?;
    if identity.trust_domain != trust_domain {
        return Err(format!(
            "identity {identity} is outside this CA's trust domain `{trust_domain}`"
        ));
    }
    if identity == own {
        return Ok(Grant::Own(own));
    }
    let is_node_agent = node_agents
        .iter()
        .any(|(ns, sa)| *ns == caller.namespace && *sa == caller.service_account);
    if !is_node_agent {
        return Err(format!(
            "{own} may obtain only its own identity, not {identity} (it is not a node agent)"
        ));
    }
    let Some(node) = caller.node.clone() else {
        return Err(format!(
            "node agent {own} asks for {identity} with a token bound to no node \
             (a projected token of its pod carries the node's name)"
        ));
    };
    Ok(Grant::OnNode { identity, node })
}

/// The second decision for [`Grant::OnNode`]: `pods` are the (namespace, serviceAccount) of the
/// pods running on the node.
pub fn on_node(identity: &Identity, node: &str, pods: &[(String, String)]) -> Result<(), String> {
    let runs_here = pods
        .iter()
        .any(|(ns, sa)| *ns == identity.namespace && *sa == identity.service_account);
    if runs_here {
        Ok(())
    } else {
        Err(format!(
            "no pod of ServiceAccount {}/{} runs on node `{node}`: its agent may not obtain {identity}",
            identity.namespace, identity.service_account
        ))
    }
}

#[cfg(test)]
mod tests;
