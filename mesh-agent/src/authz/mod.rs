//! Authorization at the destination: the AuthorizationPolicies in scope of the workload a
//! connection or request is for ([`policies_for`]), decided on what is known of it
//! ([`AuthzFacts`]: the authenticated peer, addresses, the HTTP request) as Istio decides
//! ([`decide`]). Plain decisions, no sockets: the inbound HTTP layer and the L4 paths call
//! [`Authorizer::check`] and turn a denial into a 403 or a closed connection.

mod certain;
mod decide;
mod metrics;
mod paths;
mod rules;
mod scope;

use std::net::IpAddr;

use prometheus_client::registry::Registry;

pub use certain::surely_denied;
pub use decide::{custom_check, decide, CustomCheck, Decision, DryRun, RuleId};
pub use metrics::AuthzMetrics;
pub use paths::{normalize, path_matches, PathNormalization};
pub use rules::{names_http, rule_matches, string_matches, AuthzFacts, HttpFacts};
pub use scope::policies_for;

use crate::snapshot::{AuthzPolicy, Snapshot, Workload};

/// Decides, logs and counts; shared by every connection. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Authorizer {
    metrics: AuthzMetrics,
}

impl Authorizer {
    /// An authorizer whose counters are registered in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        Self {
            metrics: AuthzMetrics::register(registry),
        }
    }

    /// The CUSTOM rule in scope of `workload` (at `pod_ip`) that matches `facts`: its provider
    /// is asked before the DENY and ALLOW policies decide.
    pub fn custom(
        &self,
        snapshot: &Snapshot,
        workload: &Workload,
        pod_ip: IpAddr,
        facts: &AuthzFacts,
    ) -> Option<CustomCheck> {
        let policies = policies_for(snapshot, workload, pod_ip);
        custom_check(&policies, facts)
    }

    /// Whether the policies in scope of `workload` (at `pod_ip`) let `facts` through. Dry-run
    /// verdicts and AUDIT matches are logged and counted; a denial is logged (debug) with the
    /// rule that made it.
    pub fn check(
        &self,
        snapshot: &Snapshot,
        workload: &Workload,
        pod_ip: IpAddr,
        facts: &AuthzFacts,
    ) -> Decision {
        let policies = policies_for(snapshot, workload, pod_ip);
        self.check_policies(&policies, workload, facts)
    }

    /// [`Self::check`] over `policies`, those already found in scope of `workload` (one scope
    /// walk per request when the caller also looks for a CUSTOM rule).
    pub fn check_policies(
        &self,
        policies: &[&AuthzPolicy],
        workload: &Workload,
        facts: &AuthzFacts,
    ) -> Decision {
        if policies.is_empty() {
            return Decision {
                allowed: true,
                ..Decision::default()
            };
        }
        let decision = decide(policies, facts);
        self.metrics.record(&decision);
        log(&decision, workload, facts);
        decision
    }
}

fn log(decision: &Decision, workload: &Workload, facts: &AuthzFacts) {
    let (ns, pod, source) = (&workload.namespace, &workload.pod_name, facts.source_ip);
    let peer = facts.peer.map(ToString::to_string);
    let peer = peer.as_deref().unwrap_or("none");
    if let Some(details) = decision.details() {
        tracing::debug!(namespace = %ns, %pod, %source, %peer, %details, "authorization denied");
    }
    for shadow in &decision.dry_run {
        let rule = shadow
            .rule
            .as_ref()
            .map_or("none".into(), RuleId::to_string);
        let verdict = if shadow.allowed { "allow" } else { "deny" };
        tracing::info!(namespace = %ns, %pod, %source, %peer, %rule, "dry-run authorization would {verdict}");
    }
    if let Some(rule) = &decision.audited {
        tracing::info!(namespace = %ns, %pod, %source, %peer, %rule, "authorization audit");
    }
}

/// The snapshot of `yaml`, which must compile without errors (tests).
#[cfg(test)]
pub(crate) fn snapshot_of(yaml: &str) -> Snapshot {
    let path = std::path::Path::new("t.yaml");
    let documents = crate::document::parse_documents(path, yaml).unwrap();
    let (snapshot, problems) = crate::snapshot::build(&std::sync::Arc::new(documents), None);
    assert!(problems.iter().all(|p| !p.is_error()), "{problems:?}");
    snapshot
}
