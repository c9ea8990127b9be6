//! From a raw document to a typed [`Resource`]: the API version is checked, Istio's protobuf
//! field names are read as their JSON names ([`super::proto_names`]), type errors name the field
//! (`spec.http[0].timeout`), and a field the types do not know (`timout`) rejects the document
//! as Kubernetes' strict field validation and istioctl do — but only warns for an object read
//! from the cluster: the API server checked it against its own schema, newer than ours.

// A `Problem` is the error itself and this path is cold: boxing it would buy nothing.
#![allow(clippy::result_large_err)]

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::proto_names::{json_names, DataMaps, GATEWAY_MAPS, ISTIO_MAPS, MESH_CONFIG_MAPS};
use super::{Istio, MeshConfig, Resource, MESH_CONFIG_KEY, MESH_CONFIG_MAP};
use crate::document::{namespace_of, Problem};
use crate::document::{Origin, RawResource};

/// A document read as a typed resource, with the warnings reading it raised.
#[derive(Debug)]
pub struct Parsed {
    /// `None` for kinds the mesh does not use (Deployments, ...).
    pub resource: Option<Resource>,
    /// Unknown fields of cluster objects, unsupported kinds.
    pub warnings: Vec<Problem>,
}

const NETWORKING: &str = "networking.istio.io";
const SECURITY: &str = "security.istio.io";
const TELEMETRY: &str = "telemetry.istio.io";
const AUTHENTICATION: &str = "authentication.istio.io";

/// Reads `raw` as its kind; an error rejects the document.
pub fn parse(raw: &RawResource) -> Result<Parsed, Problem> {
    let mut warnings = Vec::new();
    let (group, version) = raw
        .api_version
        .rsplit_once('/')
        .unwrap_or(("", &raw.api_version));
    check_version(raw, group, version)?;
    let w = &mut warnings;
    let resource = match (group, raw.kind.as_str()) {
        (NETWORKING, "VirtualService") => Resource::VirtualService(istio(raw, w)?),
        (NETWORKING, "DestinationRule") => Resource::DestinationRule(istio(raw, w)?),
        (NETWORKING, "Gateway") => Resource::Gateway(istio(raw, w)?),
        (NETWORKING, "ServiceEntry") => Resource::ServiceEntry(istio(raw, w)?),
        (NETWORKING, "Sidecar") => Resource::Sidecar(istio(raw, w)?),
        (NETWORKING, "EnvoyFilter") => Resource::EnvoyFilter(envoy_filter(raw, w)?),
        (SECURITY, "AuthorizationPolicy") => Resource::AuthorizationPolicy(istio(raw, w)?),
        (SECURITY, "PeerAuthentication") => Resource::PeerAuthentication(istio(raw, w)?),
        (SECURITY, "RequestAuthentication") => Resource::RequestAuthentication(istio(raw, w)?),
        (TELEMETRY, "Telemetry") => Resource::Telemetry(telemetry(raw, w)?),
        (AUTHENTICATION, "Policy" | "MeshPolicy") => Resource::AuthenticationPolicy(istio(raw, w)?),
        ("networking.k8s.io", "NetworkPolicy") => Resource::NetworkPolicy(typed(raw, w)?),
        ("", "Namespace") => Resource::Namespace(typed(raw, w)?),
        ("", "Service") => Resource::Service(typed(raw, w)?),
        ("", "Endpoints") => Resource::Endpoints(typed(raw, w)?),
        ("discovery.k8s.io", "EndpointSlice") => Resource::EndpointSlice(typed(raw, w)?),
        ("", "Pod") => Resource::Pod(typed(raw, w)?),
        ("", "Secret") => Resource::Secret(typed(raw, w)?),
        ("", "ConfigMap") if is_mesh_config(raw) => mesh_config(raw)?,
        ("", "ConfigMap") => Resource::ConfigMap(typed(raw, w)?),
        // Kinds the mesh does not read are reported by `validate::unsupported`.
        _ => {
            return Ok(Parsed {
                resource: None,
                warnings,
            })
        }
    };
    Ok(Parsed {
        resource: Some(resource),
        warnings,
    })
}

fn check_version(raw: &RawResource, group: &str, version: &str) -> Result<(), Problem> {
    let supported: &[&str] = match group {
        NETWORKING => &["v1alpha3", "v1beta1", "v1"],
        SECURITY => &["v1beta1", "v1"],
        TELEMETRY => &["v1alpha1", "v1"],
        AUTHENTICATION => &["v1alpha1"],
        _ => return Ok(()),
    };
    if supported.contains(&version) {
        return Ok(());
    }
    let message = format!(
        "unsupported version {version:?} of {group} (use {})",
        supported.join(", ")
    );
    Err(Problem::error(raw, "apiVersion", message))
}

/// An Istio kind, its `spec` read by JSON names.
fn istio<S: DeserializeOwned + Default>(
    raw: &RawResource,
    warnings: &mut Vec<Problem>,
) -> Result<Istio<S>, Problem> {
    let maps: &[DataMaps] = match raw.kind.as_str() {
        "Gateway" => &[ISTIO_MAPS, GATEWAY_MAPS],
        _ => &[ISTIO_MAPS],
    };
    let mut body = raw.body.as_ref().clone();
    if let Some(spec) = body.get_mut("spec") {
        *spec = json_names(spec, "spec", maps)
            .map_err(|(field, message)| Problem::error(raw, field, message))?;
    }
    typed_body(raw, &body, warnings)
}

/// A Telemetry, with the checks of [`super::telemetry_check`]: the first error rejects it.
fn telemetry(
    raw: &RawResource,
    warnings: &mut Vec<Problem>,
) -> Result<Istio<super::TelemetrySpec>, Problem> {
    let telemetry: Istio<super::TelemetrySpec> = istio(raw, warnings)?;
    let (errors, found): (Vec<Problem>, Vec<Problem>) =
        super::telemetry_check::check(raw, &telemetry.spec)
            .into_iter()
            .partition(Problem::is_error);
    match errors.into_iter().next() {
        Some(error) => Err(error),
        None => {
            warnings.extend(found);
            Ok(telemetry)
        }
    }
}

/// An EnvoyFilter whose patches read (see [`super::envoy_patch`]): a value that cannot be
/// typed rejects it.
fn envoy_filter(
    raw: &RawResource,
    warnings: &mut Vec<Problem>,
) -> Result<Istio<super::EnvoyFilterSpec>, Problem> {
    let filter: Istio<super::EnvoyFilterSpec> = istio(raw, warnings)?;
    super::envoy_patch::read(&filter.spec)
        .map_err(|(field, message)| Problem::error(raw, field, message))?;
    Ok(filter)
}

/// Deserializes the whole body (see [`typed_body`]).
fn typed<T: DeserializeOwned>(
    raw: &RawResource,
    warnings: &mut Vec<Problem>,
) -> Result<T, Problem> {
    typed_body(raw, &raw.body, warnings)
}

/// Deserializes `body` (`raw`'s, or a renamed copy): the first unknown field rejects a document
/// read from a file; a cluster object's are warnings.
fn typed_body<T: DeserializeOwned>(
    raw: &RawResource,
    body: &Value,
    warnings: &mut Vec<Problem>,
) -> Result<T, Problem> {
    let (value, unknown) =
        deserialize(body).map_err(|(field, message)| Problem::error(raw, field, message))?;
    if let Origin::Cluster { .. } = raw.origin {
        let message = "unknown field, ignored (newer than the mesh?)";
        warnings.extend(unknown.iter().map(|f| Problem::warning(raw, f, message)));
        return Ok(value);
    }
    match unknown.into_iter().next() {
        Some(field) => Err(Problem::error(raw, field, "unknown field (a typo?)")),
        None => Ok(value),
    }
}

/// `T` from `body` and the paths of the fields `T` ignored; on failure, the field and message.
pub(crate) fn deserialize<T: DeserializeOwned>(
    body: &Value,
) -> Result<(T, Vec<String>), (String, String)> {
    let mut unknown = Vec::new();
    let mut note = |path: serde_ignored::Path| unknown.push(field_path(&path));
    let de = serde_ignored::Deserializer::new(body, &mut note);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(value) => Ok((value, unknown)),
        Err(error) => {
            let message = error
                .inner()
                .to_string()
                .replace("unknown variant", "unknown value")
                .replace('`', "\"");
            Err((error.path().to_string(), message))
        }
    }
}

/// `spec.http[0].retries.attemps`: the path as written in YAML.
fn field_path(path: &serde_ignored::Path) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", field_path(parent)),
        Path::Map { parent, key } => match field_path(parent) {
            p if p.is_empty() => key.clone(),
            p => format!("{p}.{key}"),
        },
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => field_path(parent),
    }
}

fn is_mesh_config(raw: &RawResource) -> bool {
    (namespace_of(raw), raw.name.as_str()) == MESH_CONFIG_MAP
}

/// The MeshConfig of ConfigMap `istio-system/istio`; unknown keys are Istio's and not warned.
fn mesh_config(raw: &RawResource) -> Result<Resource, Problem> {
    let field = format!("data.{MESH_CONFIG_KEY}");
    let text = raw.body.pointer(&format!("/data/{MESH_CONFIG_KEY}"));
    let Some(text) = text.and_then(Value::as_str) else {
        return Ok(Resource::MeshConfig(Box::default()));
    };
    let value = crate::document::yaml_value(text)
        .map_err(|e| Problem::error(raw, &field, format!("not valid YAML: {e}")))?;
    let value = json_names(&value, &field, &[MESH_CONFIG_MAPS])
        .map_err(|(path, message)| Problem::error(raw, path, message))?;
    let (mesh, _unknown) = deserialize::<MeshConfig>(&value)
        .map_err(|(path, message)| Problem::error(raw, format!("{field}.{path}"), message))?;
    let sampling = mesh.access_log_sampling;
    if !(0.0..=100.0).contains(&sampling) {
        let message = format!("{sampling} is not a percentage (0 to 100)");
        return Err(Problem::error(
            raw,
            format!("{field}.accessLogSampling"),
            message,
        ));
    }
    Ok(Resource::MeshConfig(Box::new(mesh)))
}
