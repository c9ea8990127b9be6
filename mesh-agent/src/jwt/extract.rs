//! Where the tokens are: each rule's locations read from the request — a header after its
//! prefix, a query parameter, a cookie — one entry per distinct token with the rules that look
//! there.

use std::sync::Arc;

use hyper::header::COOKIE;
use hyper::{HeaderMap, Uri};

use crate::snapshot::{JwtIssuer, TokenLocation};

/// A token found, where, and the rules whose locations include that place.
#[derive(Debug)]
pub struct FoundToken {
    pub token: String,
    pub location: TokenLocation,
    pub issuers: Vec<Arc<JwtIssuer>>,
}

/// Every token the rules' locations hold, in the order first found.
pub fn find_tokens(issuers: &[Arc<JwtIssuer>], headers: &HeaderMap, uri: &Uri) -> Vec<FoundToken> {
    let mut found: Vec<FoundToken> = Vec::new();
    for issuer in issuers {
        for location in &issuer.locations {
            let Some(token) = read(location, headers, uri) else {
                continue;
            };
            match found
                .iter_mut()
                .find(|f| f.token == token && f.location == *location)
            {
                Some(entry) => entry.issuers.push(issuer.clone()),
                None => found.push(FoundToken {
                    token,
                    location: location.clone(),
                    issuers: vec![issuer.clone()],
                }),
            }
        }
    }
    found
}

/// The token at `location`, when there is a non-empty one.
fn read(location: &TokenLocation, headers: &HeaderMap, uri: &Uri) -> Option<String> {
    let token = match location {
        TokenLocation::Header { name, prefix } => headers
            .get_all(name.as_str())
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix(prefix.as_str()))
            .map(str::trim),
        TokenLocation::Param(name) => uri
            .query()
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find_map(|pair| pair.strip_prefix(name.as_str())?.strip_prefix('=')),
        TokenLocation::Cookie(name) => headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|c| c.trim().strip_prefix(name.as_str())?.strip_prefix('='))
            .map(|v| v.trim_matches('"')),
    };
    token.filter(|t| !t.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::authenticate::tests::issuer_with;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                hyper::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    fn tokens(issuer: &Arc<JwtIssuer>, headers: &HeaderMap, uri: &str) -> Vec<String> {
        let uri: Uri = uri.parse().unwrap();
        find_tokens(std::slice::from_ref(issuer), headers, &uri)
            .into_iter()
            .map(|f| f.token)
            .collect()
    }

    #[test]
    fn default_locations_are_the_bearer_header_then_access_token() {
        let issuer = issuer_with("{issuer: a, jwks: '{\"keys\": []}'}");
        let bearer = headers(&[("authorization", "Bearer abc.def.ghi")]);
        assert_eq!(tokens(&issuer, &bearer, "/"), ["abc.def.ghi"]);
        let basic = headers(&[("authorization", "Basic dXNlcg==")]);
        assert!(tokens(&issuer, &basic, "/").is_empty());
        assert_eq!(
            tokens(&issuer, &basic, "/p?x=1&access_token=t.o.k"),
            ["t.o.k"]
        );
    }

    #[test]
    fn named_headers_with_prefix_params_and_cookies() {
        let rule =
            "{issuer: a, jwks: '{\"keys\": []}', fromHeaders: [{name: X-Jwt, prefix: 'Token '}], \
                    fromParams: [jwt], fromCookies: [session]}";
        let issuer = issuer_with(rule);
        let none = HeaderMap::new();
        let header = headers(&[("x-jwt", "Token h.e.ader")]);
        assert_eq!(tokens(&issuer, &header, "/"), ["h.e.ader"]);
        let wrong_prefix = headers(&[("x-jwt", "Bearer h.e.ader")]);
        assert!(tokens(&issuer, &wrong_prefix, "/").is_empty());
        assert_eq!(tokens(&issuer, &none, "/?jwt=p.a.ram"), ["p.a.ram"]);
        assert!(tokens(&issuer, &none, "/?jwtx=p.a.ram&access_token=d.e.f").is_empty());
        let cookie = headers(&[("cookie", "theme=dark; session=c.o.okie")]);
        assert_eq!(tokens(&issuer, &cookie, "/"), ["c.o.okie"]);
        let bearer = headers(&[("authorization", "Bearer abc.def.ghi")]);
        assert!(
            tokens(&issuer, &bearer, "/").is_empty(),
            "named locations replace the defaults"
        );
    }
}
