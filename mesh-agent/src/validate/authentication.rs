//! PeerAuthentication and RequestAuthentication as Istio validates them: port-level mTLS only
//! for selected workloads (and real ports); JWT rules with an issuer, an http(s) `jwksUri`,
//! JSON `jwks`, named token locations and claim headers, durations of at least 1ms.

use super::durations::duration;
use super::finding::Findings;
use super::http_match::header_name;
use super::labels::{policy_targets, selector_labels};
use crate::resources::{JwtRule, PeerAuthenticationSpec, RequestAuthenticationSpec};

/// Problems of the PeerAuthentication `spec`.
pub(crate) fn peer_authentication(found: &mut Findings, spec: &PeerAuthenticationSpec) {
    let selected = spec
        .selector
        .as_ref()
        .is_some_and(|s| !s.match_labels.is_empty());
    if !selected && !spec.port_level_mtls.is_empty() {
        found.error(
            "spec.portLevelMtls",
            "port-level mTLS needs a selector with labels (not for a whole mesh or namespace)",
        );
    }
    for port in spec.port_level_mtls.keys() {
        if !port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p)) {
            found.error(
                format!("spec.portLevelMtls.{port}"),
                format!("{port:?} is not a port number (1 to 65535)"),
            );
        }
    }
    if let Some(selector) = &spec.selector {
        selector_labels(found, "spec.selector.matchLabels", &selector.match_labels);
    }
}

/// Problems of the RequestAuthentication `spec`.
pub(crate) fn request_authentication(found: &mut Findings, spec: &RequestAuthenticationSpec) {
    policy_targets(
        found,
        spec.selector.as_ref(),
        spec.target_ref.as_ref(),
        &spec.target_refs,
    );
    for (i, rule) in spec.jwt_rules.iter().enumerate() {
        jwt_rule(found, &format!("spec.jwtRules[{i}]"), rule);
    }
}

fn jwt_rule(found: &mut Findings, at: &str, rule: &JwtRule) {
    if rule.issuer.is_empty() {
        found.error(format!("{at}.issuer"), "issuer must be set");
    }
    let empties = [
        ("audiences", &rule.audiences),
        ("fromParams", &rule.from_params),
        ("fromCookies", &rule.from_cookies),
    ];
    for (name, values) in empties {
        for (i, _) in values.iter().enumerate().filter(|(_, v)| v.is_empty()) {
            found.error(format!("{at}.{name}[{i}]"), "must be a non-empty string");
        }
    }
    if let Some(uri) = rule.jwks_uri.as_deref().filter(|u| !u.is_empty()) {
        found.error_if(format!("{at}.jwksUri"), jwks_uri(uri));
    }
    if let Some(jwks) = rule.jwks.as_deref().filter(|j| !j.is_empty()) {
        let parsed = serde_json::from_str::<serde_json::Value>(jwks);
        if !parsed.is_ok_and(|v| v.is_object()) {
            found.error(
                format!("{at}.jwks"),
                "jwks is not a JSON Web Key Set (a JSON object)",
            );
        }
    }
    for (i, _) in rule
        .from_headers
        .iter()
        .enumerate()
        .filter(|(_, h)| h.name.is_empty())
    {
        found.error(
            format!("{at}.fromHeaders[{i}].name"),
            "header name must be a non-empty string",
        );
    }
    for (i, copy) in rule.output_claim_to_headers.iter().enumerate() {
        let field = format!("{at}.outputClaimToHeaders[{i}]");
        if copy.claim.is_empty() || copy.header.is_empty() {
            found.error(field, "header and claim must be non-empty strings");
        } else {
            found.error_if(format!("{field}.header"), header_name(&copy.header));
        }
    }
    duration(found, format!("{at}.timeout"), rule.timeout.as_ref());
}

/// An `http://` or `https://` URL with a host.
fn jwks_uri(uri: &str) -> Result<(), String> {
    let parsed: http::Uri = uri
        .parse()
        .map_err(|e| format!("jwksUri {uri:?} is not a URL: {e}"))?;
    match parsed.scheme_str() {
        Some("http" | "https") if parsed.host().is_some() => Ok(()),
        Some("http" | "https") => Err(format!("jwksUri {uri:?} has no host")),
        scheme => Err(format!(
            "URI scheme {:?} is not supported (use http or https)",
            scheme.unwrap_or("")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::finding::table::{lines, spec};

    #[test]
    fn port_level_mtls_needs_a_selector_and_ports() {
        let mut found = Findings::default();
        peer_authentication(&mut found, &spec("selector: {matchLabels: {app: db}}\nmtls: {mode: STRICT}\nportLevelMtls: {'5432': {mode: DISABLE}}\n"));
        peer_authentication(&mut found, &spec("mtls: {mode: PERMISSIVE}\n"));
        assert!(found.0.is_empty(), "{found:?}");
        peer_authentication(&mut found, &spec("portLevelMtls: {'0': {mode: DISABLE}}\n"));
        assert_eq!(
            lines(&found),
            [
                "spec.portLevelMtls: port-level mTLS needs a selector with labels (not for a whole mesh or namespace)",
                "spec.portLevelMtls.0: \"0\" is not a port number (1 to 65535)",
            ]
        );
    }

    #[test]
    fn jwt_rules_name_an_issuer_and_where_keys_and_tokens_are() {
        let mut found = Findings::default();
        let good = "jwtRules: [{issuer: 'https://accounts.example', jwksUri: 'https://accounts.example/jwks.json', \
                    fromHeaders: [{name: x-jwt, prefix: 'Bearer '}], outputClaimToHeaders: [{header: x-sub, claim: sub}], timeout: 5s}]\n";
        request_authentication(&mut found, &spec(good));
        assert!(found.0.is_empty(), "{found:?}");
        let bad = "jwtRules: [{audiences: [''], jwksUri: 'ftp://keys.example/jwks', jwks: 'not json', fromHeaders: [{prefix: x}], \
                   outputClaimToHeaders: [{header: 'x y', claim: sub}, {claim: sub}], timeout: 0s}]\n";
        request_authentication(&mut found, &spec(bad));
        assert_eq!(
            lines(&found),
            [
                "spec.jwtRules[0].issuer: issuer must be set",
                "spec.jwtRules[0].audiences[0]: must be a non-empty string",
                "spec.jwtRules[0].jwksUri: URI scheme \"ftp\" is not supported (use http or https)",
                "spec.jwtRules[0].jwks: jwks is not a JSON Web Key Set (a JSON object)",
                "spec.jwtRules[0].fromHeaders[0].name: header name must be a non-empty string",
                "spec.jwtRules[0].outputClaimToHeaders[0].header: header name \"x y\" is not a valid header name",
                "spec.jwtRules[0].outputClaimToHeaders[1]: header and claim must be non-empty strings",
                "spec.jwtRules[0].timeout: 0s is shorter than 1ms",
            ]
        );
    }
}
