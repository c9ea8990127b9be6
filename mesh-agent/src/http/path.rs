//! The request's path normalized once, before routing, as MeshConfig `pathNormalization` says
//! (Envoy's connection manager does it before any filter): routing, authorization and the app
//! all see the same path, so what was matched or authorized is what is served.

use hyper::{Method, Request, Uri};

use crate::authz::{normalize, PathNormalization};

/// Rewrites `request`'s path as `mode` says, keeping its query. Authority-form (`CONNECT`) and
/// asterisk-form (`OPTIONS *`) targets have no path to normalize.
pub(super) fn normalize_path<B>(request: &mut Request<B>, mode: PathNormalization) {
    if request.method() == Method::CONNECT || !request.uri().path().starts_with('/') {
        return;
    }
    let sent = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let path = normalize(sent, mode);
    if path != request.uri().path() {
        set_path(request, &path);
    }
}

/// Replaces the request's path, keeping its query.
fn set_path<B>(request: &mut Request<B>, path: &str) {
    let uri = request.uri();
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    };
    let mut parts = uri.clone().into_parts();
    let Ok(path_and_query) = path_and_query.parse() else {
        return;
    };
    parts.path_and_query = Some(path_and_query);
    if let Ok(uri) = Uri::from_parts(parts) {
        *request.uri_mut() = uri;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(target: &str, mode: PathNormalization) -> String {
        let mut request = Request::get(target).body(()).unwrap();
        normalize_path(&mut request, mode);
        request.uri().to_string()
    }

    #[test]
    fn the_path_is_rewritten_and_the_query_kept() {
        use PathNormalization as N;
        let table = [
            (N::Base, "/public/../admin?a=/../b", "/admin?a=/../b"),
            (N::Base, "http://web.shop/a/./b", "http://web.shop/a/b"),
            (N::Base, "//admin", "//admin"),
            (N::MergeSlashes, "//admin", "/admin"),
            (N::DecodeAndMergeSlashes, "/%2Fadmin?x", "/admin?x"),
            (N::None, "/a/../b", "/a/../b"),
            (N::Base, "*", "*"),
        ];
        for (mode, sent, seen) in table {
            assert_eq!(normalized(sent, mode), seen, "{mode:?} {sent}");
        }
    }

    #[test]
    fn connect_targets_are_left_alone() {
        let mut request = Request::connect("web.shop:443").body(()).unwrap();
        normalize_path(&mut request, PathNormalization::MergeSlashes);
        assert_eq!(request.uri().to_string(), "web.shop:443");
    }
}
