//! Istio's evaluation of the policies in scope: CUSTOM (a matching rule sends the request to
//! its provider, [`custom_check`]; the caller asks it first) → DENY (any match denies) → no ALLOW policy: allow →
//! an ALLOW match allows → otherwise deny. AUDIT matches are noted, never decide. Dry-run
//! policies (`istio.io/dry-run`) are evaluated apart, as Envoy's shadow rules: what they would
//! have decided is reported, never enforced.

use std::fmt;

use super::rules::{rule_matches, AuthzFacts};
use crate::resources::AuthzAction;
use crate::snapshot::AuthzPolicy;

/// A policy's rule, as Envoy names it: `ns[NS]-policy[NAME]-rule[N]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleId {
    pub namespace: String,
    pub policy: String,
    pub rule: usize,
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (ns, name, rule) = (&self.namespace, &self.policy, self.rule);
        write!(f, "ns[{ns}]-policy[{name}]-rule[{rule}]")
    }
}

/// What the policies decided.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// Whether the connection or request goes on.
    pub allowed: bool,
    /// The rule that decided: the DENY rule that matched, or the ALLOW rule; `None` when no
    /// policy applies, no ALLOW rule matched, or no ALLOW policy exists.
    pub rule: Option<RuleId>,
    /// The first AUDIT rule that matched.
    pub audited: Option<RuleId>,
    /// What dry-run policies would have done.
    pub dry_run: Vec<DryRun>,
}

impl Decision {
    /// Envoy's response code details: `rbac_access_denied_matched_policy[...]`, or `None` when
    /// allowed.
    pub fn details(&self) -> Option<String> {
        let policy = self.rule.as_ref().map_or("none".into(), RuleId::to_string);
        (!self.allowed).then(|| format!("rbac_access_denied_matched_policy[{policy}]"))
    }
}

/// The verdict of one dry-run engine (the DENY or the ALLOW dry-run policies in scope).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DryRun {
    /// `Deny` or `Allow`: which dry-run policies.
    pub action: AuthzAction,
    /// Whether they would have let it through.
    pub allowed: bool,
    /// The rule that would have decided.
    pub rule: Option<RuleId>,
}

/// Decides on `facts` with `policies` (those in scope of the destination workload).
pub fn decide(policies: &[&AuthzPolicy], facts: &AuthzFacts) -> Decision {
    let enforced = policies.iter().copied().filter(|p| !p.dry_run);
    let (allowed, rule) = verdict(enforced.clone(), facts);
    let audited = first_match(enforced, AuthzAction::Audit, facts);
    let shadow = policies.iter().copied().filter(|p| p.dry_run);
    let dry_run = [AuthzAction::Deny, AuthzAction::Allow]
        .into_iter()
        .filter_map(|action| dry_run(shadow.clone(), action, facts))
        .collect();
    Decision {
        allowed,
        rule,
        audited,
        dry_run,
    }
}

/// DENY, then ALLOW.
fn verdict<'p>(
    policies: impl Iterator<Item = &'p AuthzPolicy> + Clone,
    facts: &AuthzFacts,
) -> (bool, Option<RuleId>) {
    if let Some(denied) = first_match(policies.clone(), AuthzAction::Deny, facts) {
        return (false, Some(denied));
    }
    let mut allows = policies
        .clone()
        .filter(|p| p.action == AuthzAction::Allow)
        .peekable();
    if allows.peek().is_none() {
        return (true, None);
    }
    match first_match(policies, AuthzAction::Allow, facts) {
        Some(allowed) => (true, Some(allowed)),
        None => (false, None),
    }
}

/// What the dry-run policies of `action` would decide; `None` when there are none.
fn dry_run<'p>(
    policies: impl Iterator<Item = &'p AuthzPolicy> + Clone,
    action: AuthzAction,
    facts: &AuthzFacts,
) -> Option<DryRun> {
    policies.clone().find(|p| p.action == action)?;
    let rule = first_match(policies, action, facts);
    let allowed = match action {
        AuthzAction::Deny => rule.is_none(),
        _ => rule.is_some(),
    };
    Some(DryRun {
        action,
        allowed,
        rule,
    })
}

/// A CUSTOM rule that matched: its policy's provider decides before DENY and ALLOW.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomCheck {
    /// The MeshConfig extension provider's name.
    pub provider: String,
    pub rule: RuleId,
}

/// The first enforced CUSTOM rule that matches `facts`, in policy order (Istio allows one
/// provider per workload).
pub fn custom_check(policies: &[&AuthzPolicy], facts: &AuthzFacts) -> Option<CustomCheck> {
    let enforced = policies.iter().copied().filter(|p| !p.dry_run);
    let rule = first_match(enforced, AuthzAction::Custom, facts)?;
    let policy = policies
        .iter()
        .find(|p| p.namespace == rule.namespace && p.name == rule.policy)?;
    Some(CustomCheck {
        provider: policy.provider.clone().unwrap_or_default(),
        rule,
    })
}

/// The first rule of a policy of `action` that matches, in policy order.
fn first_match<'p>(
    policies: impl Iterator<Item = &'p AuthzPolicy>,
    action: AuthzAction,
    facts: &AuthzFacts,
) -> Option<RuleId> {
    policies.filter(|p| p.action == action).find_map(|p| {
        let rule = p
            .rules
            .iter()
            .position(|r| rule_matches(r, action, facts))?;
        Some(RuleId {
            namespace: p.namespace.clone(),
            policy: p.name.clone(),
            rule,
        })
    })
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
