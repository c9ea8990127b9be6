//! One legacy Policy scope as the v1beta1 resources Istio's migration guide writes for it:
//! `peers[].mtls` → PeerAuthentication (STRICT unless PERMISSIVE or `peerIsOptional`; no peers:
//! DISABLE), `origins[].jwt` → RequestAuthentication, and unless `originIsOptional` an
//! AuthorizationPolicy DENY for requests without a verified token (`notRequestPrincipals: ["*"]`)
//! on the paths the `triggerRules` name and the ports of the target.

use std::collections::BTreeMap;

use super::scope::Scope;
use super::Notes;
use crate::resources::{
    AuthenticationPolicySpec, AuthorizationPolicySpec, AuthzAction, JwtHeader, JwtRule, LegacyJwt,
    LegacyMtlsMode, LegacyStringMatch, Mtls, MtlsMode, Operation, PeerAuthenticationSpec,
    RequestAuthenticationSpec, Rule, RuleFrom, RuleTo, Source, TriggerRule,
};

/// The peer authentication `spec` asks for on `scope`.
pub fn peer_authentication(
    spec: &AuthenticationPolicySpec,
    scope: &Scope,
    notes: &mut Notes,
) -> PeerAuthenticationSpec {
    for (i, peer) in spec.peers.iter().enumerate() {
        if peer.jwt.is_some() {
            notes.push(
                format!("spec.peers[{i}].jwt"),
                "a peer JWT has no equivalent: not applied",
            );
        }
        if peer.mtls.as_ref().is_some_and(|m| m.allow_tls) {
            notes.push(
                format!("spec.peers[{i}].mtls.allowTls"),
                "no equivalent: not applied",
            );
        }
    }
    let mtls = spec.peers.iter().find_map(|p| p.mtls.as_ref());
    let mode = match mtls.map(|m| m.mode.unwrap_or(LegacyMtlsMode::Strict)) {
        None => MtlsMode::Disable,
        Some(LegacyMtlsMode::Strict) if spec.peer_is_optional => {
            notes.push(
                "spec.peerIsOptional",
                "a peer that may skip mTLS: PERMISSIVE",
            );
            MtlsMode::Permissive
        }
        Some(LegacyMtlsMode::Strict) => MtlsMode::Strict,
        Some(LegacyMtlsMode::Permissive) => MtlsMode::Permissive,
    };
    let setting = Mtls { mode: Some(mode) };
    let by_port: BTreeMap<String, Mtls> = scope
        .ports
        .iter()
        .map(|p| (p.to_string(), setting.clone()))
        .collect();
    PeerAuthenticationSpec {
        selector: scope.selector.clone(),
        mtls: by_port.is_empty().then_some(setting),
        port_level_mtls: by_port,
    }
}

/// The JWT issuers of `spec`'s origins, `None` without origins.
pub fn request_authentication(
    spec: &AuthenticationPolicySpec,
    scope: &Scope,
    notes: &mut Notes,
) -> Option<RequestAuthenticationSpec> {
    if spec.origins.is_empty() {
        return None;
    }
    if !scope.ports.is_empty() {
        notes.push("spec.targets", "a RequestAuthentication has no ports: tokens are verified on every port of the workload");
    }
    let rules = spec.origins.iter().map(|o| jwt_rule(&o.jwt)).collect();
    Some(RequestAuthenticationSpec {
        selector: scope.selector.clone(),
        jwt_rules: rules,
        ..RequestAuthenticationSpec::default()
    })
}

fn jwt_rule(jwt: &LegacyJwt) -> JwtRule {
    let headers = jwt.jwt_headers.iter().map(|name| JwtHeader {
        name: name.clone(),
        prefix: None,
    });
    JwtRule {
        issuer: jwt.issuer.clone(),
        audiences: jwt.audiences.clone(),
        jwks_uri: jwt.jwks_uri.clone(),
        jwks: jwt.jwks.clone(),
        from_headers: headers.collect(),
        from_params: jwt.jwt_params.clone(),
        ..JwtRule::default()
    }
}

/// The DENY policy requiring a token where an origin is required, `None` when none is.
pub fn authorization_policy(
    spec: &AuthenticationPolicySpec,
    scope: &Scope,
    notes: &mut Notes,
) -> Option<AuthorizationPolicySpec> {
    if spec.origins.is_empty() || spec.origin_is_optional {
        return None;
    }
    let no_token = RuleFrom {
        source: Source {
            not_request_principals: vec!["*".into()],
            ..Source::default()
        },
    };
    let ports: Vec<String> = scope.ports.iter().map(u16::to_string).collect();
    let mut rules = Vec::new();
    for (i, origin) in spec.origins.iter().enumerate() {
        let at = format!("spec.origins[{i}].jwt.triggerRules");
        if !origin.jwt.trigger_rules.is_empty() {
            notes.push(&at, "triggerRules now only decide where a token is required: a token sent elsewhere is still verified");
        }
        let triggers = match origin.jwt.trigger_rules.as_slice() {
            [] => vec![TriggerRule::default()],
            some => some.to_vec(),
        };
        for (j, trigger) in triggers.iter().enumerate() {
            let operation = Operation {
                ports: ports.clone(),
                paths: paths(
                    &trigger.included_paths,
                    &format!("{at}[{j}].includedPaths"),
                    true,
                    notes,
                ),
                not_paths: paths(
                    &trigger.excluded_paths,
                    &format!("{at}[{j}].excludedPaths"),
                    false,
                    notes,
                ),
                ..Operation::default()
            };
            let constrained = operation != Operation::default();
            let to = constrained
                .then_some(RuleTo { operation })
                .into_iter()
                .collect();
            rules.push(Rule {
                from: vec![no_token.clone()],
                to,
                when: Vec::new(),
            });
        }
    }
    Some(AuthorizationPolicySpec {
        selector: scope.selector.clone(),
        action: Some(AuthzAction::Deny),
        rules,
        ..AuthorizationPolicySpec::default()
    })
}

/// `exact` → `/p`, `prefix` → `/p*`, `suffix` → `*p`. A `regex` has no equivalent in
/// AuthorizationPolicy paths: the conversion stays on the strict side — an excluded regex is
/// left out (the token is required there too), an included one makes the rule cover every path.
fn paths(
    matches: &[LegacyStringMatch],
    at: &str,
    included: bool,
    notes: &mut Notes,
) -> Vec<String> {
    if included && matches.iter().any(|m| m.regex.is_some()) {
        let message = "a regex has no equivalent in AuthorizationPolicy paths: the token is required on every path of this rule";
        notes.push(at, message);
        return Vec::new();
    }
    let mut found = Vec::new();
    for (k, m) in matches.iter().enumerate() {
        match (&m.exact, &m.prefix, &m.suffix, &m.regex) {
            (Some(exact), ..) => found.push(exact.clone()),
            (_, Some(prefix), ..) => found.push(format!("{prefix}*")),
            (_, _, Some(suffix), _) => found.push(format!("*{suffix}")),
            (.., Some(_)) => notes.push(format!("{at}[{k}].regex"), "a regex has no equivalent in AuthorizationPolicy paths: left out, so the token is required on those paths too"),
            _ => {}
        }
    }
    found
}
