//! Nothing silently ignored: what the mesh parses but does not act on — listed fields
//! ([`fields`]), kinds it does not read ([`kinds`]), MeshConfig settings ([`mesh_config`]) and the
//! security kinds not enforced yet — found on the raw document, whatever the typed structs keep.
//! `mesh-agent check` prints them as warnings; the pipeline logs them once per resource version
//! and counts them in `mesh_config_unsupported_fields{kind,field}`.

mod detect;
mod envoy_filter;
mod fields;
mod kinds;
mod mesh_config;
#[cfg(test)]
mod tests;

use serde_json::Value;

pub use fields::{unsupported_fields, UnsupportedField, Values, UNENFORCED_KINDS};
pub use kinds::{deprecated_kind, unsupported_kind};

use crate::document::{namespace_of, Problem, RawResource};
use crate::resources::{MESH_CONFIG_KEY, MESH_CONFIG_MAP};

/// One place in one document where something unsupported is set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The `kind` label: `DestinationRule`, `MeshConfig`, or `group/Kind` for a kind not read.
    pub kind: String,
    /// The `field` label: the listed path (`spec.http[*].corsPolicy`), `*` for a kind not read.
    pub field: String,
    /// Where in this document: `spec.http[1].corsPolicy`.
    pub at: String,
    /// What the mesh does instead.
    pub why: &'static str,
    /// A kind read only for compatibility, applied as its replacement (not ignored).
    pub deprecated: bool,
}

impl Finding {
    /// The warning about `raw` this finding is.
    pub fn problem(&self, raw: &RawResource) -> Problem {
        let message = match self.field.as_str() {
            "*" if self.deprecated => format!("kind {} is deprecated: {}", self.kind, self.why),
            "*" => format!(
                "kind {} is not supported by the mesh; ignored: {}",
                self.kind, self.why
            ),
            _ => format!("not supported by the mesh; ignored: {}", self.why),
        };
        Problem::warning(raw, &self.at, message)
    }
}

/// Everything unsupported `raw` sets, in list order.
pub fn find(raw: &RawResource) -> Vec<Finding> {
    let group = group_of(&raw.api_version);
    if let Some(why) = unsupported_kind(group, &raw.kind) {
        let kind = format!("{group}/{}", raw.kind);
        return vec![finding(kind, "*".into(), "kind".into(), why)];
    }
    if let Some(why) = deprecated_kind(group, &raw.kind) {
        let kind = format!("{group}/{}", raw.kind);
        let found = finding(kind, "*".into(), "kind".into(), why);
        return vec![Finding {
            deprecated: true,
            ..found
        }];
    }
    if is_mesh_config(raw, group) {
        return mesh_config_findings(raw);
    }
    if raw.kind == "EnvoyFilter" {
        return envoy_filter::findings(raw);
    }
    if !group.ends_with("istio.io") {
        return Vec::new();
    }
    let kind = raw.kind.as_str();
    let unenforced = UNENFORCED_KINDS.iter().filter(|(k, _)| *k == kind);
    let whole =
        unenforced.map(|(k, why)| finding(k.to_string(), "spec".into(), "spec".into(), why));
    let listed = unsupported_fields().iter().filter(|f| f.kind == kind);
    let fields = listed.flat_map(|f| {
        let at = detect::occurrences(&raw.body, &f.path, f.values);
        at.into_iter()
            .map(|at| finding(f.kind.to_string(), f.path.clone(), at, f.why))
    });
    whole.chain(fields).collect()
}

/// [`find`] as warnings, for `mesh-agent check`.
pub fn unsupported_warnings(raw: &RawResource) -> Vec<Problem> {
    find(raw).iter().map(|f| f.problem(raw)).collect()
}

/// Whether [`find`] can find anything in `raw` (cheap: its kind only).
pub fn may_carry(raw: &RawResource) -> bool {
    let group = group_of(&raw.api_version);
    group.ends_with("istio.io")
        || unsupported_kind(group, &raw.kind).is_some()
        || deprecated_kind(group, &raw.kind).is_some()
        || is_mesh_config(raw, group)
}

fn finding(kind: String, field: String, at: String, why: &'static str) -> Finding {
    Finding {
        kind,
        field,
        at,
        why,
        deprecated: false,
    }
}

fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

fn is_mesh_config(raw: &RawResource, group: &str) -> bool {
    group.is_empty()
        && raw.kind == "ConfigMap"
        && (namespace_of(raw), raw.name.as_str()) == MESH_CONFIG_MAP
}

/// The MeshConfig settings not acted on; nothing when the text does not read (parse says why).
fn mesh_config_findings(raw: &RawResource) -> Vec<Finding> {
    let text = raw.body.pointer(&format!("/data/{MESH_CONFIG_KEY}"));
    let Some(Ok(mesh)) = text
        .and_then(Value::as_str)
        .map(serde_yaml::from_str::<Value>)
    else {
        return Vec::new();
    };
    mesh_config::unacted(&mesh)
        .into_iter()
        .map(|(field, at, why)| {
            let at = format!("data.{MESH_CONFIG_KEY}.{at}");
            finding("MeshConfig".into(), field, at, why)
        })
        .collect()
}
