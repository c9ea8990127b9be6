//! Header manipulation of a rule and of its chosen destination (`headers.request` before the
//! request is forwarded, `headers.response` on the answer): as Envoy does, `remove` first, then
//! `set` (overwrite or add) and `add` (append).

use hyper::header::{HeaderName, HeaderValue};
use hyper::HeaderMap;

use crate::resources::{HeaderEdits, Headers};

/// Which side of an exchange an edit applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Request,
    Response,
}

/// Applies the `side` edits of each of `layers` (rule first, then destination) to `headers`.
pub fn edit(headers: &mut HeaderMap, side: Side, layers: &[Option<&Headers>]) {
    for layer in layers.iter().flatten() {
        let edits = match side {
            Side::Request => layer.request.as_ref(),
            Side::Response => layer.response.as_ref(),
        };
        if let Some(edits) = edits {
            apply(headers, edits);
        }
    }
}

/// Remove, then set, then add.
pub fn apply(headers: &mut HeaderMap, edits: &HeaderEdits) {
    for name in &edits.remove {
        headers.remove(name.as_str());
    }
    for (name, value) in &edits.set {
        if let Some((name, value)) = parsed(name, value) {
            headers.insert(name, value);
        }
    }
    for (name, value) in &edits.add {
        if let Some((name, value)) = parsed(name, value) {
            headers.append(name, value);
        }
    }
}

fn parsed(name: &str, value: &str) -> Option<(HeaderName, HeaderValue)> {
    let name = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).ok()?;
    Some((name, HeaderValue::from_str(value).ok()?))
}

/// Whether any of `layers` edits the response (so the route layer must wait to apply them).
pub fn edits_response(layers: &[Option<&Headers>]) -> bool {
    layers.iter().flatten().any(|h| h.response.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(headers: &HeaderMap, name: &str) -> Vec<String> {
        let all = headers.get_all(name).iter();
        all.map(|v| v.to_str().unwrap().to_string()).collect()
    }

    #[test]
    fn remove_then_set_then_add() {
        let rule: Headers = serde_yaml::from_str(
            "request: {set: {x-set: new, X-Case: up}, add: {x-add: two}, remove: [x-gone, x-set]}",
        )
        .unwrap();
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("x-set", "old"),
            ("x-add", "one"),
            ("x-gone", "g"),
            ("x-kept", "k"),
        ] {
            headers.insert(name, value.parse().unwrap());
        }
        edit(&mut headers, Side::Request, &[Some(&rule)]);
        assert_eq!(values(&headers, "x-set"), ["new"]);
        assert_eq!(values(&headers, "x-case"), ["up"]);
        assert_eq!(values(&headers, "x-add"), ["one", "two"]);
        assert!(values(&headers, "x-gone").is_empty());
        assert_eq!(values(&headers, "x-kept"), ["k"]);
    }

    #[test]
    fn destination_edits_follow_the_rules_and_sides_stay_apart() {
        let rule: Headers = serde_yaml::from_str("response: {set: {x-who: rule}}").unwrap();
        let destination: Headers =
            serde_yaml::from_str("response: {set: {x-who: v2}}\nrequest: {set: {x-req: r}}")
                .unwrap();
        let layers = [Some(&rule), Some(&destination)];
        let mut response = HeaderMap::new();
        edit(&mut response, Side::Response, &layers);
        assert_eq!(values(&response, "x-who"), ["v2"]);
        assert!(values(&response, "x-req").is_empty());
        assert!(edits_response(&layers));
        assert!(!edits_response(&[None]));
    }
}
