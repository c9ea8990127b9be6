//! The values an AuthorizationPolicy names (Istio's `pkg/config/security`): IP addresses and
//! CIDR blocks, ports, path templates (`{*}`, `{**}` last), and the attributes a `when`
//! condition may test.

use super::finding::Findings;
use super::names::is_cidr;

/// Attributes tested by value; `[name]` attributes are [`KEYED`].
const PLAIN: [&str; 9] = [
    "source.ip",
    "remote.ip",
    "source.namespace",
    "source.serviceAccount",
    "source.principal",
    "request.auth.principal",
    "request.auth.audiences",
    "request.auth.presenter",
    "destination.ip",
];
/// Attributes of the form `prefix[name]`.
const KEYED: [&str; 4] = [
    "request.headers",
    "request.experimental.inline.headers",
    "request.auth.claims",
    "experimental.envoy.filters.",
];

/// Whether `key` is an attribute a `when` condition may test.
pub(crate) fn attribute_key(key: &str) -> Result<(), String> {
    match key {
        "destination.port" | "connection.sni" => Ok(()),
        _ if PLAIN.contains(&key) => Ok(()),
        _ if KEYED.iter().any(|prefix| key.starts_with(prefix)) => map_key(key),
        "destination.namespace" => Err(format!(
            "{key} is replaced by the policy's namespace (metadata.namespace)"
        )),
        _ if key.starts_with("destination.labels") => {
            Err(format!("{key} is replaced by the workload selector"))
        }
        "destination.name" | "destination.user" => {
            Err(format!("{key} is only in v1alpha1 (deprecated)"))
        }
        _ => Err(format!("unknown attribute: {key}")),
    }
}

/// Whether `values` are right for the (known) `when` attribute `key`.
pub(crate) fn attribute(key: &str, values: &[String]) -> Result<(), String> {
    if values.iter().any(String::is_empty) {
        return Err(format!("empty value not allowed for {key}"));
    }
    match key {
        "source.ip" | "remote.ip" | "destination.ip" => first_error(values, ip_or_block),
        "destination.port" => first_error(values, port),
        "source.serviceAccount" => service_accounts(values),
        _ => Ok(()),
    }
}

fn first_error(values: &[String], check: fn(&str) -> Result<(), String>) -> Result<(), String> {
    values.iter().try_for_each(|v| check(v))
}

/// `a[b]`, with something between the brackets.
fn map_key(key: &str) -> Result<(), String> {
    let open = key.find('[');
    match open.is_some_and(|open| open > 0 && key.ends_with(']') && open < key.len() - 2) {
        true => Ok(()),
        false => Err(format!("bad key {key:?}: should have format a[b]")),
    }
}

fn service_accounts(values: &[String]) -> Result<(), String> {
    if values.len() > 16 {
        return Err("may not have more than 16 service accounts".into());
    }
    for value in values {
        let parts: Vec<&str> = value.split('/').collect();
        if value.contains('*')
            || parts.len() > 2
            || parts.iter().any(|p| p.is_empty())
            || value.len() > 320
        {
            return Err(format!(
                "{value:?} is not serviceAccount or namespace/serviceAccount"
            ));
        }
    }
    Ok(())
}

fn ip_or_block(value: &str) -> Result<(), String> {
    match value.contains('/') {
        true if is_cidr(value) => Ok(()),
        true => Err(format!("bad CIDR range ({value})")),
        false if value.parse::<std::net::IpAddr>().is_ok() => Ok(()),
        false => Err(format!("bad IP address ({value})")),
    }
}

fn port(value: &str) -> Result<(), String> {
    match value.parse::<u32>() {
        Ok(p) if p <= 65535 => Ok(()),
        _ => Err(format!("bad port ({value})")),
    }
}

/// IP addresses and CIDR blocks at `at`.
pub(crate) fn ip_blocks(found: &mut Findings, at: &str, values: &[String]) {
    for (i, value) in values.iter().enumerate().filter(|(_, v)| !v.is_empty()) {
        found.error_if(format!("{at}[{i}]"), ip_or_block(value));
    }
}

/// Port numbers at `at`.
pub(crate) fn ports(found: &mut Findings, at: &str, values: &[String]) {
    for (i, value) in values.iter().enumerate().filter(|(_, v)| !v.is_empty()) {
        found.error_if(format!("{at}[{i}]"), port(value));
    }
}

/// Paths at `at`: `{*}` and `{**}` as whole segments, `{**}` last; with a template, every other
/// segment of URI path characters.
pub(crate) fn path_templates(found: &mut Findings, at: &str, paths: &[String]) {
    for (i, path) in paths.iter().enumerate() {
        found.error_if(format!("{at}[{i}]"), path_template(path));
    }
}

fn path_template(path: &str) -> Result<(), String> {
    let templated = path.contains("{*}") || path.contains("{**}");
    let mut any_seen = false;
    for segment in path.trim_matches('/').split('/') {
        match segment {
            "{*}" | "{**}" if any_seen => {
                return Err(format!(
                    "invalid path {path:?}: {{**}} must be the last operator"
                ))
            }
            "{**}" => any_seen = true,
            "{*}" => {}
            _ if segment.contains(['{', '}']) => {
                return Err(format!(
                    "invalid path {path:?}: '{{' or '}}' beyond a supported path template"
                ))
            }
            _ if templated && !is_literal(segment) => {
                return Err(format!(
                    "invalid path {path:?}: segment {segment:?} is not a valid literal"
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// RFC 3986 path characters (Envoy's rule for literal segments beside a template).
fn is_literal(segment: &str) -> bool {
    !segment.is_empty()
        && segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~%!$&'()+,;:@=".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::finding::table::lines;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn when_attributes_are_istio_s() {
        let good = [
            ("request.headers[x-token]", &["a"][..]),
            ("source.ip", &["10.0.0.1", "10.0.0.0/8"]),
            ("destination.port", &["8080"]),
            ("request.auth.claims[groups]", &["admin"]),
            ("source.serviceAccount", &["shop/web", "web"]),
            ("connection.sni", &["a.example"]),
        ];
        for (key, values) in good {
            assert_eq!(attribute_key(key), Ok(()), "{key}");
            assert_eq!(attribute(key, &strings(values)), Ok(()), "{key}");
        }
        let bad = [
            (
                "request.headers",
                &["a"][..],
                "bad key \"request.headers\": should have format a[b]",
            ),
            ("source.ip", &["10.0.0.300"], "bad IP address (10.0.0.300)"),
            ("destination.port", &["70000"], "bad port (70000)"),
            (
                "destination.labels[app]",
                &["x"],
                "destination.labels[app] is replaced by the workload selector",
            ),
            ("source.user", &["x"], "unknown attribute: source.user"),
            (
                "source.namespace",
                &[""],
                "empty value not allowed for source.namespace",
            ),
        ];
        for (key, values, want) in bad {
            let found = attribute_key(key).and_then(|()| attribute(key, &strings(values)));
            assert_eq!(found, Err(want.into()), "{key}");
        }
    }

    #[test]
    fn blocks_ports_and_path_templates() {
        let mut found = Findings::default();
        ip_blocks(&mut found, "b", &strings(&["10.0.0.0/8", "::1"]));
        ports(&mut found, "p", &strings(&["80"]));
        path_templates(
            &mut found,
            "t",
            &strings(&["/api/{*}/x", "/static/{**}", "/plain{"]),
        );
        assert_eq!(
            lines(&found),
            ["t[2]: invalid path \"/plain{\": '{' or '}' beyond a supported path template"]
        );
        let mut found = Findings::default();
        ip_blocks(&mut found, "b", &strings(&["10.0.0.0/99"]));
        ports(&mut found, "p", &strings(&["http"]));
        path_templates(&mut found, "t", &strings(&["/{**}/x/{*}", "/a b/{*}"]));
        assert_eq!(
            lines(&found),
            [
                "b[0]: bad CIDR range (10.0.0.0/99)",
                "p[0]: bad port (http)",
                "t[0]: invalid path \"/{**}/x/{*}\": {**} must be the last operator",
                "t[1]: invalid path \"/a b/{*}\": segment \"a b\" is not a valid literal",
            ]
        );
    }
}
