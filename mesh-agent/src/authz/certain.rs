//! Denials decided before a connection exists ([`surely_denied`]): whether the policies in scope
//! of a workload deny a source for sure on what the source's agent knows — the source's identity
//! and the address and port dialled — whatever the rest (the source address as seen there, the
//! HTTP request, a token, the SNI) turns out to be. Rules are read three-valued: a field those
//! facts do not settle makes its part "maybe"; only a DENY rule that surely matches, or ALLOW
//! policies none of whose rules can match, deny for sure. CUSTOM policies can only deny more,
//! AUDIT and dry-run ones never decide: none of them can turn a sure denial into an allow.

use super::decide::{Decision, RuleId};
use super::rules::{rule_matches, AuthzFacts};
use crate::resources::AuthzAction;
use crate::snapshot::{AuthzPolicy, AuthzRule, ConditionMatch, OperationMatch, SourceMatch};

/// `when` keys the source's agent knows for sure: the destination and the source's identity.
const CERTAIN_KEYS: [&str; 5] = [
    "destination.ip",
    "destination.port",
    "source.namespace",
    "source.principal",
    "source.serviceAccount",
];

/// Whether a rule (or a part of it) matches: ordered so that `min` is "and", `max` is "or".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Match {
    No,
    Maybe,
    Yes,
}

impl Match {
    fn of(matches: bool) -> Self {
        if matches {
            Self::Yes
        } else {
            Self::No
        }
    }

    /// A part whose settled fields give `settled` and that has unsettled fields when `unsettled`.
    fn part(settled: bool, unsettled: bool) -> Self {
        match (settled, unsettled) {
            (false, _) => Self::No,
            (true, true) => Self::Maybe,
            (true, false) => Self::Yes,
        }
    }
}

/// The denial of `facts` (the peer's identity and the destination; `http` and `sni` unknown,
/// the addresses unknown) that holds whatever else is true of the connection or its requests;
/// `None` when the policies may let it through. The decision names the DENY rule that surely
/// matches, or no rule when no ALLOW rule can match.
pub fn surely_denied(policies: &[&AuthzPolicy], facts: &AuthzFacts) -> Option<Decision> {
    let enforced = policies.iter().copied().filter(|p| !p.dry_run);
    let denies = enforced.clone().filter(|p| p.action == AuthzAction::Deny);
    for policy in denies {
        let rules = policy.rules.iter();
        if let Some(rule) = rules
            .map(|r| rule_match(r, facts))
            .position(|m| m == Match::Yes)
        {
            let (namespace, policy) = (policy.namespace.clone(), policy.name.clone());
            let rule = RuleId {
                namespace,
                policy,
                rule,
            };
            return Some(denied(Some(rule)));
        }
    }
    let mut allows = enforced
        .filter(|p| p.action == AuthzAction::Allow)
        .peekable();
    allows.peek()?;
    let mut rules = allows.flat_map(|p| p.rules.iter());
    rules
        .all(|r| rule_match(r, facts) == Match::No)
        .then(|| denied(None))
}

fn denied(rule: Option<RuleId>) -> Decision {
    Decision {
        allowed: false,
        rule,
        ..Decision::default()
    }
}

/// Any `from`, any `to`, every `when`.
fn rule_match(rule: &AuthzRule, facts: &AuthzFacts) -> Match {
    let any = |parts: Vec<Match>| parts.into_iter().max().unwrap_or(Match::Yes);
    let from = any(rule.from.iter().map(|s| source(s, facts)).collect());
    let to = any(rule.to.iter().map(|o| operation(o, facts)).collect());
    let when = rule.when.iter().map(|c| condition(c, facts)).min();
    from.min(to).min(when.unwrap_or(Match::Yes))
}

/// Decides one settled part with the destination's own matcher.
fn settled(rule: AuthzRule, facts: &AuthzFacts) -> bool {
    rule_matches(&rule, AuthzAction::Deny, facts)
}

fn source(s: &SourceMatch, facts: &AuthzFacts) -> Match {
    let known = SourceMatch {
        principals: s.principals.clone(),
        namespaces: s.namespaces.clone(),
        service_accounts: s.service_accounts.clone(),
        ..SourceMatch::default()
    };
    let unsettled =
        s.ip_blocks.is_set() || s.remote_ip_blocks.is_set() || s.request_principals.is_set();
    let rule = AuthzRule {
        from: vec![known],
        ..AuthzRule::default()
    };
    Match::part(settled(rule, facts), unsettled)
}

fn operation(o: &OperationMatch, facts: &AuthzFacts) -> Match {
    let known = OperationMatch {
        ports: o.ports.clone(),
        ..OperationMatch::default()
    };
    let unsettled = o.hosts.is_set() || o.methods.is_set() || o.paths.is_set();
    let rule = AuthzRule {
        to: vec![known],
        ..AuthzRule::default()
    };
    Match::part(settled(rule, facts), unsettled)
}

fn condition(c: &ConditionMatch, facts: &AuthzFacts) -> Match {
    if !CERTAIN_KEYS.contains(&c.key.as_str()) {
        return Match::Maybe;
    }
    let rule = AuthzRule {
        when: vec![c.clone()],
        ..AuthzRule::default()
    };
    Match::of(settled(rule, facts))
}

#[cfg(test)]
#[path = "certain_tests.rs"]
mod tests;
