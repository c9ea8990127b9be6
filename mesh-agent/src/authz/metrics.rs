//! The authorization counters: what dry-run policies would have decided
//! (`mesh_authz_dry_run_total`) and the requests AUDIT policies matched
//! (`mesh_authz_audited_total`). Enforced denials are counted by Istio's own metrics
//! (`response_flags="DENY"`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::decide::Decision;
use crate::resources::AuthzAction;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DryRunLabels {
    /// `DENY` or `ALLOW`: which dry-run policies.
    action: &'static str,
    /// `allowed` or `denied`: what they would have done.
    result: &'static str,
    /// `ns[NS]-policy[NAME]-rule[N]` of the deciding rule, `none` when no rule matched.
    policy: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AuditLabels {
    policy: String,
}

/// Authorization counters. `Default` gives unregistered ones (tests).
#[derive(Clone, Debug, Default)]
pub struct AuthzMetrics {
    dry_run: Family<DryRunLabels, Counter>,
    audited: Family<AuditLabels, Counter>,
}

impl AuthzMetrics {
    /// Registers the counters in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "mesh_authz_dry_run",
            "Connections and requests a dry-run AuthorizationPolicy would have allowed or denied",
            metrics.dry_run.clone(),
        );
        registry.register(
            "mesh_authz_audited",
            "Connections and requests an AUDIT AuthorizationPolicy matched",
            metrics.audited.clone(),
        );
        metrics
    }

    /// Counts what `decision` says beside its verdict.
    pub fn record(&self, decision: &Decision) {
        for shadow in &decision.dry_run {
            let labels = DryRunLabels {
                action: match shadow.action {
                    AuthzAction::Deny => "DENY",
                    _ => "ALLOW",
                },
                result: if shadow.allowed { "allowed" } else { "denied" },
                policy: shadow
                    .rule
                    .as_ref()
                    .map_or_else(|| "none".into(), ToString::to_string),
            };
            self.dry_run.get_or_create(&labels).inc();
        }
        if let Some(rule) = &decision.audited {
            let labels = AuditLabels {
                policy: rule.to_string(),
            };
            self.audited.get_or_create(&labels).inc();
        }
    }
}
