//! Istio's protobuf field names read as their JSON names: Istio parses `sni_hosts`,
//! `retry_on` or `max_requests_per_connection` beside `sniHosts`, `retryOn` and
//! `maxRequestsPerConnection`, so a spec (or a MeshConfig) is renamed to the JSON names before
//! it is typed. Keys that are the user's data stay as written: the maps listed below. A field
//! written in both spellings is an error, as protobuf's JSON parser makes it.

use serde_json::{Map, Value};

use crate::document::json_name;

/// Where keys are data, not field names: the fields (JSON names, the end of their path, list
/// indexes left out) holding maps of labels, headers, tags, ports or localities. Their values
/// are read on as fields (`headers.x-user.exact`).
pub(crate) type DataMaps = &'static [&'static [&'static str]];

/// The maps of networking, security and telemetry kinds.
pub(crate) const ISTIO_MAPS: DataMaps = &[
    // Kubernetes labels: WorkloadSelector, Subset, WorkloadEntry, source labels of matches.
    &["matchLabels"],
    &["labels"],
    &["sourceLabels"],
    // VirtualService: request matches and header edits.
    &["match", "headers"],
    &["match", "withoutHeaders"],
    &["match", "queryParams"],
    &["request", "set"],
    &["request", "add"],
    &["response", "set"],
    &["response", "add"],
    // DestinationRule: locality weights; ServiceEntry: endpoint port names.
    &["distribute", "to"],
    &["endpoints", "ports"],
    // PeerAuthentication: ports.
    &["portLevelMtls"],
    // Telemetry: tag names (Istio's own have underscores: `request_protocol`).
    &["customTags"],
    &["tagOverrides"],
    // EnvoyFilter: filter names (`envoy.filters.http.local_ratelimit`) key per-route configs.
    &["typedPerFilterConfig"],
];

/// A Gateway's `selector` is a map of labels (elsewhere a selector holds `matchLabels`).
pub(crate) const GATEWAY_MAPS: DataMaps = &[&["selector"]];

/// MeshConfig's maps: proxy environment, Envoy runtime keys, header names, tags and labels.
pub(crate) const MESH_CONFIG_MAPS: DataMaps = &[
    &["proxyMetadata"],
    &["runtimeValues"],
    &["includeAdditionalHeadersInCheck"],
    &["customTags"],
    &["labels"],
    &["matchLabels"],
    &["distribute", "to"],
];

/// `value` (found at `path`) with every field named by its JSON name, the keys of the `maps`
/// as written; on a field written twice, its path and why.
pub(crate) fn json_names(
    value: &Value,
    path: &str,
    maps: &[DataMaps],
) -> Result<Value, (String, String)> {
    rename(
        value,
        &mut Trail {
            path: path.into(),
            names: Vec::new(),
        },
        maps,
    )
}

/// Where the walk is: the path as it is reported, and the field names above (indexes left
/// out; a data key is `""`).
struct Trail {
    path: String,
    names: Vec<String>,
}

impl Trail {
    fn holds_data(&self, maps: &[DataMaps]) -> bool {
        let ends_with = |end: &[&str]| {
            end.len() <= self.names.len()
                && self.names[self.names.len() - end.len()..]
                    .iter()
                    .eq(end.iter())
        };
        maps.iter().flat_map(|m| m.iter()).any(|end| ends_with(end))
    }
}

fn rename(value: &Value, trail: &mut Trail, maps: &[DataMaps]) -> Result<Value, (String, String)> {
    match value {
        Value::Object(fields) => rename_fields(fields, trail, maps).map(Value::Object),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let len = trail.path.len();
                trail.path += &format!("[{i}]");
                out.push(rename(item, trail, maps)?);
                trail.path.truncate(len);
            }
            Ok(Value::Array(out))
        }
        other => Ok(other.clone()),
    }
}

fn rename_fields(
    fields: &Map<String, Value>,
    trail: &mut Trail,
    maps: &[DataMaps],
) -> Result<Map<String, Value>, (String, String)> {
    let data = trail.holds_data(maps);
    let mut out = Map::new();
    for (key, inner) in fields {
        let name = match data {
            true => key.clone(),
            false => json_name(key).into_owned(),
        };
        let len = trail.path.len();
        if !trail.path.is_empty() {
            trail.path.push('.');
        }
        trail.path += &name;
        if out.contains_key(&name) {
            return Err((trail.path.clone(), written_twice(fields, &name)));
        }
        trail
            .names
            .push(if data { String::new() } else { name.clone() });
        let renamed = rename(inner, trail, maps)?;
        trail.names.pop();
        trail.path.truncate(len);
        out.insert(name, renamed);
    }
    Ok(out)
}

fn written_twice(fields: &Map<String, Value>, name: &str) -> String {
    let spellings: Vec<&str> = fields
        .keys()
        .filter(|key| json_name(key) == name)
        .map(String::as_str)
        .collect();
    format!(
        "one field written twice, as {}: keep one",
        spellings.join(" and as ")
    )
}
