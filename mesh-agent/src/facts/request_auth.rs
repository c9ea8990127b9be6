//! The end user a request authenticated as: a JWT verified by a RequestAuthentication rule,
//! what authorization's `requestPrincipals` and `request.auth.*` conditions read.

use serde_json::Value;

/// A verified JWT's facts, carried in the request's extensions. A request without one has no
/// request principal.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestAuth {
    /// `<iss>/<sub>` (`request.auth.principal`, `requestPrincipals`).
    pub principal: String,
    /// The token's audiences (`aud`, a string or a list).
    pub audiences: Vec<String>,
    /// The authorized presenter (`azp`), when the token names one.
    pub presenter: Option<String>,
    /// The whole payload (`request.auth.claims[...]`, nested claims by path).
    pub claims: Value,
}

impl RequestAuth {
    /// The claim at `path` (`["groups"]`, `["nested", "key"]`), when present.
    pub fn claim(&self, path: &[&str]) -> Option<&Value> {
        path.iter()
            .try_fold(&self.claims, |value, key| value.get(key))
    }

    /// The claim at `path` as the strings authorization compares: a string, or each string of
    /// a list.
    pub fn claim_strings(&self, path: &[&str]) -> Vec<&str> {
        match self.claim(path) {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_read_by_path_as_strings_or_lists_of_strings() {
        let auth = RequestAuth {
            principal: "issuer.example/alice".into(),
            audiences: vec![],
            presenter: None,
            claims: serde_json::json!({"groups": ["dev", 7, "ops"], "org": {"team": "mesh"}, "n": 3}),
        };
        assert_eq!(auth.claim_strings(&["groups"]), ["dev", "ops"]);
        assert_eq!(auth.claim_strings(&["org", "team"]), ["mesh"]);
        assert!(auth.claim_strings(&["n"]).is_empty());
        assert!(auth.claim(&["org", "missing"]).is_none());
    }
}
