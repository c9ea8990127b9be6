//! Where an EnvoyFilter patch applies, as the mesh reads it: the listener's `portNumber` and
//! the HTTP connection manager filter (for `HTTP_FILTER`), a route configuration's
//! `portNumber`, `vhost.name` and `vhost.route.name` with action ANY or ROUTE (for
//! `HTTP_ROUTE`); any other key makes the match one the mesh does not read (`None`).

use serde_json::{Map, Value};

use super::parse::deserialize;

/// Which requests a patch covers.
/// A patch the mesh does not apply (or a field it does not act on), where, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub at: String,
    pub why: &'static str,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PatchScope {
    /// `true` for the filter itself, `false` for a route's configuration.
    pub filter: bool,
    /// `portNumber`: the listener's (inbound: the pod's port; outbound: the Service's).
    pub port: Option<u16>,
    /// `vhost.name`: `inbound|http|9080` or `host:port`.
    pub vhost: Option<String>,
    /// `vhost.route.name`: the VirtualService route's `name`.
    pub route: Option<String>,
}

/// Whether `value` is an object with a key other than `allowed`.
pub(super) fn keys_beyond(value: &Value, allowed: &[&str]) -> bool {
    let keys = value.as_object().into_iter().flat_map(Map::keys);
    keys.clone().any(|k| !allowed.contains(&k.as_str()))
}

/// The listener's `portNumber` (`Some(None)`: any port) when the match is one the mesh reads.
pub(super) fn listener_port(listener: Option<&Value>) -> Option<Option<u16>> {
    let Some(listener) = listener else {
        return Some(None);
    };
    if keys_beyond(listener, &["portNumber", "filterChain"]) {
        return None;
    }
    if let Some(chain) = listener.get("filterChain") {
        let filter = chain.get("filter");
        let manager = filter.and_then(|f| f.get("name")).and_then(Value::as_str);
        let known = manager.is_none_or(|n| n == "envoy.filters.network.http_connection_manager");
        let beyond = filter.is_some_and(|f| keys_beyond(f, &["name", "subFilter"]));
        if keys_beyond(chain, &["filter"]) || !known || beyond {
            return None;
        }
    }
    port_number(listener)
}

fn port_number(value: &Value) -> Option<Option<u16>> {
    match value.get("portNumber") {
        None => Some(None),
        Some(port) => Some(Some(u16::try_from(port.as_u64()?).ok()?)),
    }
}

/// The routes a `routeConfiguration` match picks, when it is one the mesh reads.
pub(super) fn route_scope(configuration: Option<&Value>) -> Option<PatchScope> {
    let Some(configuration) = configuration else {
        return Some(PatchScope::default());
    };
    if keys_beyond(configuration, &["portNumber", "vhost"]) {
        return None;
    }
    let vhost = configuration.get("vhost").cloned().unwrap_or(Value::Null);
    let route = vhost.get("route").cloned().unwrap_or(Value::Null);
    let action = route.get("action").and_then(Value::as_str).unwrap_or("ANY");
    if keys_beyond(&vhost, &["name", "route"])
        || keys_beyond(&route, &["name", "action"])
        || !["ANY", "ROUTE"].contains(&action)
    {
        return None;
    }
    // An empty name is proto3's unset: any (the global task's `vhost: {name: ""}`).
    let text = |v: &Value, key| {
        let name = v.get(key).and_then(Value::as_str).filter(|n| !n.is_empty());
        name.map(str::to_string)
    };
    Some(PatchScope {
        filter: false,
        port: port_number(configuration)?,
        vhost: text(&vhost, "name"),
        route: text(&route, "name"),
    })
}

/// `T` from `value` found at `at`: a wrong type or an unknown field is an error there.
pub(super) fn typed<T: serde::de::DeserializeOwned>(
    value: &Value,
    at: &str,
) -> Result<T, (String, String)> {
    let (typed, unknown) = deserialize::<T>(value).map_err(|(f, m)| (join(at, &f), m))?;
    match unknown.first() {
        Some(field) => Err((join(at, field), "unknown field (a typo?)".into())),
        None => Ok(typed),
    }
}

pub(super) fn join(at: &str, field: &str) -> String {
    match field {
        "" | "." => at.to_string(),
        f if f.starts_with('[') => format!("{at}{f}"),
        f => format!("{at}.{f}"),
    }
}
