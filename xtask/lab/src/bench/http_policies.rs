//! The inbound policies `bench http` puts on the server: (g) 20 AuthorizationPolicies of 100
//! rules (path templates, source and header conditions, a request-principal rule) beside the
//! RequestAuthentication of `http-authz-jwt.yaml`; (h) and the accuracy run: the local rate
//! limit of Istio's task, as an EnvoyFilter on the server's inbound side.

use super::release::target_dir;
use super::topology::MESH_NS;
use anyhow::Result;
use std::path::PathBuf;

/// The token the (g) load sends: signed by the key of `http-authz-jwt.yaml` (issuer
/// `bench-issuer`, subject `bench-user`, audience `bench`, valid until 2100).
pub const TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImJlbmNoIiwidHlwIjoiSldUIn0.eyJpc3MiOiJiZW5jaC1pc3N1ZXIiLCJzdWIiOiJiZW5jaC11c2VyIiwiYXVkIjoiYmVuY2giLCJpYXQiOjE3NjQ1NDcyMDAsImV4cCI6NDEwMjQ0NDgwMH0.WlzhagcQFq_aAs0vXKEfR6YcyTFnPJ3Y-p6dRT0-KDldjzHA0GBDFel3gfck--CCSke2NjcPGRLwRbeaG6KYbh9ogGQ93Tw8itaP8Lx-OhtJml0Lkh58R4Ls0BaUhcxIRlQAG8ALUP5K5XPGlCH-WAhFhOnaPU3IQw4_EHbk7MFJ7xaE8o7cy9GetZL67HJNtiMig1QJz5fg_CZhmTcy8iq4xG-TPM0l_dTh_TTLugvzYDXZPCwv5z_m1_-3hxSkW88OnrjhAvri8K1bK_VpQSAXslK9svlwpXv-CTv_Uw1f3_nDS8WCpGOdTgrwCLnbAWWplXsvzHGdU_vcbNsIwg";
/// Policies and rules per policy: 10 DENY and 10 ALLOW, 5 rules each.
const POLICIES: usize = 20;
const RULES: usize = 5;

/// `target/bench/<name>` holding `text`.
fn write(name: &str, text: &str) -> Result<PathBuf> {
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    Ok(path)
}

/// (g)'s AuthorizationPolicies, written to `target/bench/http-authz.yaml`.
pub fn authorization_policies() -> Result<PathBuf> {
    write("http-authz.yaml", &authz_yaml())
}

/// A local rate limit of `tokens` per second on the server's inbound side, written to
/// `target/bench/http-rate-limit.yaml`.
pub fn rate_limit(tokens: u64) -> Result<PathBuf> {
    write("http-rate-limit.yaml", &rate_limit_yaml(tokens))
}

/// 10 DENY policies whose rules name other methods, paths and sources, then 10 ALLOW
/// policies: none of their rules matches the load's GET but the last rule of the last policy,
/// which allows the token's principal — so every rule is looked at for every request.
fn authz_yaml() -> String {
    let policies = (0..POLICIES).map(|p| {
        let action = if p < POLICIES / 2 { "DENY" } else { "ALLOW" };
        let rules: String = (0..RULES).map(|r| rule(p, r)).collect();
        format!(
            "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: \
             bench-{p:02}\n  namespace: {MESH_NS}\nspec:\n  selector:\n    matchLabels: {{app: \
             server}}\n  action: {action}\n  rules:\n{rules}"
        )
    });
    policies.collect::<Vec<_>>().join("---\n")
}

/// Rule `r` of policy `p` (the last of all: the token's principal, any path).
fn rule(p: usize, r: usize) -> String {
    if p == POLICIES - 1 && r == RULES - 1 {
        return "    - from: [{source: {requestPrincipals: [bench-issuer/bench-user]}}]\n      \
                to: [{operation: {methods: [GET]}}]\n"
            .into();
    }
    match r % 3 {
        0 => format!(
            "    - to: [{{operation: {{methods: [POST, DELETE], paths: [\"/api/v{p}/items/{{*}}/r{r}\", \
             \"/admin/{{**}}\"]}}}}]\n"
        ),
        1 => format!(
            "    - from: [{{source: {{principals: [cluster.local/ns/other-{p}/sa/caller-{r}]}}}}]\n      \
             to: [{{operation: {{paths: [\"/orders/{{*}}/p{p}r{r}\"]}}}}]\n"
        ),
        _ => format!(
            "    - when: [{{key: \"request.headers[x-tenant]\", values: [\"tenant-{p}-{r}\"]}}]\n      \
             to: [{{operation: {{notPaths: [\"/health\"], methods: [PUT]}}}}]\n"
        ),
    }
}

/// Istio's task EnvoyFilter (`envoy.filters.http.local_ratelimit`, SIDECAR_INBOUND) for the
/// server: a bucket of `tokens`, refilled with `tokens` every second.
fn rate_limit_yaml(tokens: u64) -> String {
    format!(
        "apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: bench-local-ratelimit
  namespace: {MESH_NS}
spec:
  workloadSelector:
    labels: {{app: server}}
  configPatches:
    - applyTo: HTTP_FILTER
      match:
        context: SIDECAR_INBOUND
        listener:
          filterChain:
            filter:
              name: envoy.filters.network.http_connection_manager
      patch:
        operation: INSERT_BEFORE
        value:
          name: envoy.filters.http.local_ratelimit
          typed_config:
            \"@type\": type.googleapis.com/udpa.type.v1.TypedStruct
            type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
            value:
              stat_prefix: http_local_rate_limiter
              token_bucket: {{max_tokens: {tokens}, tokens_per_fill: {tokens}, fill_interval: 1s}}
              filter_enabled:
                runtime_key: local_rate_limit_enabled
                default_value: {{numerator: 100, denominator: HUNDRED}}
              filter_enforced:
                runtime_key: local_rate_limit_enforced
                default_value: {{numerator: 100, denominator: HUNDRED}}
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn documents(text: &str) -> Vec<serde_yaml::Value> {
        serde_yaml::Deserializer::from_str(text)
            .map(|d| serde_yaml::Value::deserialize(d).unwrap())
            .collect()
    }

    #[test]
    fn twenty_policies_of_a_hundred_rules_one_allowing_the_token() {
        let docs = documents(&authz_yaml());
        assert_eq!(docs.len(), 20);
        let rules: usize = docs
            .iter()
            .map(|d| d["spec"]["rules"].as_sequence().unwrap().len())
            .sum();
        assert_eq!(rules, 100);
        let principals = serde_yaml::to_string(&docs[19]["spec"]["rules"][4]).unwrap();
        assert!(
            principals.contains("bench-issuer/bench-user"),
            "{principals}"
        );
        let denies = docs
            .iter()
            .filter(|d| d["spec"]["action"] == "DENY")
            .count();
        assert_eq!(denies, 10);
    }

    #[test]
    fn the_token_is_signed_by_the_key_set_of_the_request_authentication() {
        let path = crate::build_ebpf::workspace_root().join("xtask/bench/http-authz-jwt.yaml");
        let docs = documents(&std::fs::read_to_string(path).unwrap());
        let jwks = docs[0]["spec"]["jwtRules"][0]["jwks"].as_str().unwrap();
        let jwks: serde_json::Value = serde_json::from_str(jwks).unwrap();
        let key = &jwks["keys"][0];
        let decoding = jsonwebtoken::DecodingKey::from_rsa_components(
            key["n"].as_str().unwrap(),
            key["e"].as_str().unwrap(),
        )
        .unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&["bench"]);
        validation.set_issuer(&["bench-issuer"]);
        let token =
            jsonwebtoken::decode::<serde_json::Value>(TOKEN, &decoding, &validation).unwrap();
        assert_eq!(token.claims["sub"], "bench-user");
    }

    #[test]
    fn the_rate_limit_is_the_task_s_filter_with_the_bucket_asked() {
        let docs = documents(&rate_limit_yaml(200));
        let value = &docs[0]["spec"]["configPatches"][0]["patch"]["value"];
        assert_eq!(value["name"], "envoy.filters.http.local_ratelimit");
        let bucket = &value["typed_config"]["value"]["token_bucket"];
        assert_eq!(bucket["max_tokens"], 200);
        assert_eq!(bucket["fill_interval"], "1s");
    }
}
