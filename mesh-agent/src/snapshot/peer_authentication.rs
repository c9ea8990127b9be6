//! PeerAuthentication resolved for one workload and port, as Istio resolves it: a
//! workload-scoped policy (a selector matching the pod's labels, in its namespace) over the
//! namespace's (no selector) over the mesh's (no selector, in the root namespace); among several
//! at one scope the oldest wins (creation time, then namespace/name). `UNSET` (or no mode)
//! inherits from the scope above; a workload policy's `portLevelMtls` entry for the port
//! overrides its own mode. Nothing set anywhere: PERMISSIVE.

use std::sync::Arc;

use serde::Serialize;

use super::model::Labels;
use crate::resources::{Istio, MtlsMode, PeerAuthenticationSpec};

/// What a workload accepts on a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PeerAuthenticationMode {
    /// Plain text and the mTLS tunnel both (Istio's default; DISABLE is read as this: the
    /// mesh's own sources still use the tunnel).
    Permissive,
    /// Only the mTLS tunnel: a plain-text connection is closed before it reaches the app.
    Strict,
}

type Policy = Arc<Istio<PeerAuthenticationSpec>>;

impl super::Snapshot {
    /// The mode of the workload in `namespace` with `labels`, for connections to its `port`.
    pub fn peer_authentication_mode(
        &self,
        namespace: &str,
        labels: &Labels,
        port: u16,
    ) -> PeerAuthenticationMode {
        let root = &self.mesh.root_namespace;
        let mesh = oldest(
            self.peer_authentications(root)
                .iter()
                .filter(|p| unselected(p)),
        );
        let local = self.peer_authentications(namespace);
        let namespace_wide = (namespace != root.as_str())
            .then(|| oldest(local.iter().filter(|p| unselected(p))))
            .flatten();
        let workload = oldest(local.iter().filter(|p| selects(p, labels)));
        let chosen = workload
            .and_then(|p| port_mode(p, port).or_else(|| mode(p.spec.mtls.as_ref()?)))
            .or_else(|| namespace_wide.and_then(|p| mode(p.spec.mtls.as_ref()?)))
            .or_else(|| mesh.and_then(|p| mode(p.spec.mtls.as_ref()?)));
        match chosen {
            Some(MtlsMode::Strict) => PeerAuthenticationMode::Strict,
            _ => PeerAuthenticationMode::Permissive,
        }
    }
}

/// A set mode; `UNSET` is none (inherit).
fn mode(mtls: &crate::resources::Mtls) -> Option<MtlsMode> {
    mtls.mode.filter(|m| *m != MtlsMode::Unset)
}

/// The policy's mode for `port` (`portLevelMtls`, keyed by port number).
fn port_mode(policy: &Policy, port: u16) -> Option<MtlsMode> {
    let levels = &policy.spec.port_level_mtls;
    let (_, mtls) = levels
        .iter()
        .find(|(key, _)| key.parse::<u16>() == Ok(port))?;
    mode(mtls)
}

fn unselected(policy: &Policy) -> bool {
    policy
        .spec
        .selector
        .as_ref()
        .is_none_or(|s| s.match_labels.is_empty())
}

fn selects(policy: &Policy, labels: &Labels) -> bool {
    let Some(selector) = &policy.spec.selector else {
        return false;
    };
    let wanted = &selector.match_labels;
    !wanted.is_empty() && wanted.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The oldest of `policies`: by creation time (none counts as newest), then namespace/name.
fn oldest<'a>(policies: impl Iterator<Item = &'a Policy>) -> Option<&'a Policy> {
    policies.min_by_key(|p| {
        let created = p.metadata.creation_timestamp.as_ref().map(|t| t.0);
        let name = (&p.metadata.namespace, &p.metadata.name);
        (created.is_none(), created, name)
    })
}

#[cfg(test)]
#[path = "peer_authentication_tests.rs"]
mod tests;
