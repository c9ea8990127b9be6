//! Istio 1.5's `authentication.istio.io/v1alpha1` Policy and MeshPolicy, applied as the
//! PeerAuthentication, RequestAuthentication and AuthorizationPolicy they stand for (the
//! conversion of Istio's migration guide, `convert.rs`, per scope: `scope.rs`). A MeshPolicy's
//! resources go to the root namespace. Each policy gets a warning at `spec` with the replacement
//! YAML to apply instead, and one per field without an equivalent (nothing dropped silently);
//! `validate::unsupported` reports the kind as deprecated (`mesh_config_unsupported_fields`).

mod convert;
mod scope;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use serde::Serialize;
use serde_json::Value;

use super::accepted::{Accepted, AcceptedMap};
use super::Snapshot;
use crate::document::{Problem, ResourceKey, Severity};
use crate::resources::{
    AuthenticationPolicySpec, AuthorizationPolicySpec, Istio, PeerAuthenticationSpec,
    PrincipalBinding, RequestAuthenticationSpec, Resource,
};

/// Warnings about one policy: (field, message).
#[derive(Debug, Default)]
pub struct Notes(pub Vec<(String, String)>);

impl Notes {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push((field.into(), message.into()));
    }
}

/// What one legacy policy is applied as.
#[derive(Debug, Default)]
pub struct Converted {
    pub peer: Vec<Istio<PeerAuthenticationSpec>>,
    pub request: Vec<Istio<RequestAuthenticationSpec>>,
    pub authorization: Vec<Istio<AuthorizationPolicySpec>>,
    pub notes: Notes,
}

/// Converts `policy`, whose resources go to `namespace`; `service` finds its targets.
pub fn convert<'s>(
    policy: &Istio<AuthenticationPolicySpec>,
    namespace: &str,
    service: &dyn Fn(&str) -> Option<&'s Service>,
) -> Converted {
    let mut out = Converted::default();
    let spec = &policy.spec;
    let name = policy.metadata.name.as_deref().unwrap_or("default");
    if spec.principal_binding == Some(PrincipalBinding::UseOrigin) {
        out.notes.push("spec.principalBinding", "no equivalent: AuthorizationPolicy reads the peer's identity as `principals` and the token's (iss/sub) as `requestPrincipals`; rules meant for the end user must use `requestPrincipals`");
    }
    for scope in scope::scopes(spec, name, service, &mut out.notes) {
        let meta = |kind: &str, name: String| {
            let mut metadata = policy.metadata.clone();
            metadata.name = Some(name);
            metadata.namespace = Some(namespace.to_owned());
            metadata.resource_version = None;
            metadata.uid = None;
            (kind.to_owned(), metadata)
        };
        let peer = convert::peer_authentication(spec, &scope, &mut out.notes);
        out.peer
            .push(istio(meta("PeerAuthentication", scope.name.clone()), peer));
        if let Some(request) = convert::request_authentication(spec, &scope, &mut out.notes) {
            out.request.push(istio(
                meta("RequestAuthentication", scope.name.clone()),
                request,
            ));
        }
        if let Some(authz) = convert::authorization_policy(spec, &scope, &mut out.notes) {
            let name = format!("{}-require-jwt", scope.name);
            out.authorization
                .push(istio(meta("AuthorizationPolicy", name), authz));
        }
    }
    out
}

fn istio<S>(
    (kind, metadata): (
        String,
        k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    ),
    spec: S,
) -> Istio<S> {
    Istio {
        api_version: "security.istio.io/v1".into(),
        kind,
        metadata,
        spec,
        status: None,
    }
}

impl Converted {
    /// The replacement resources as YAML documents (empty fields left out).
    pub fn yaml(&self) -> String {
        let peer = self.peer.iter().map(written);
        let request = self.request.iter().map(written);
        let authorization = self.authorization.iter().map(written);
        let docs: Vec<String> = peer.chain(request).chain(authorization).collect();
        docs.join("---\n")
    }
}

fn written<T: Serialize>(resource: &T) -> String {
    let mut value = serde_json::to_value(resource).unwrap_or_default();
    prune(&mut value);
    serde_yaml::to_string(&value).unwrap_or_default()
}

/// Removes nulls, empty lists and empty maps (an empty rule is never written by the conversion).
fn prune(value: &mut Value) -> bool {
    match value {
        Value::Null => false,
        Value::Array(items) => {
            items.retain_mut(prune);
            !items.is_empty()
        }
        Value::Object(fields) => {
            fields.retain(|_, v| prune(v));
            !fields.is_empty()
        }
        _ => true,
    }
}

/// Applies every legacy policy in `accepted` to `snapshot`'s policy tables; its warnings (the
/// replacement YAML among them) go to `problems`.
pub(super) fn add_converted(
    snapshot: &mut Snapshot,
    accepted: &AcceptedMap,
    problems: &mut Vec<Problem>,
) {
    let mut legacy: Vec<&Accepted> = accepted
        .values()
        .filter(|a| matches!(a.resource.as_ref(), Resource::AuthenticationPolicy(_)))
        .collect();
    legacy.sort_by(|a, b| a.key.cmp(&b.key));
    for entry in legacy {
        let Resource::AuthenticationPolicy(policy) = entry.resource.as_ref() else {
            continue;
        };
        let namespace = match entry.key.kind.as_str() {
            "MeshPolicy" => snapshot.mesh.root_namespace.clone(),
            _ => entry.key.namespace.clone(),
        };
        let service = |name: &str| service_in(accepted, &namespace, name);
        let converted = convert(policy, &namespace, &service);
        let warn = |(field, message): (String, String)| {
            Problem::about(&entry.origin, &entry.key, Severity::Warning, field, message)
        };
        problems.extend(converted.notes.0.iter().cloned().map(warn));
        let message = format!(
            "applied as the resources below; apply them instead:\n---\n{}",
            converted.yaml().trim_end()
        );
        problems.push(warn(("spec".into(), message)));
        let tables = (
            &mut snapshot.peer_authentication,
            &mut snapshot.request_authentication,
        );
        for p in converted.peer {
            tables
                .0
                .entry(namespace.clone())
                .or_default()
                .push(Arc::new(p));
        }
        for r in converted.request {
            tables
                .1
                .entry(namespace.clone())
                .or_default()
                .push(Arc::new(r));
        }
        for a in converted.authorization {
            let policies = snapshot.authorization.entry(namespace.clone()).or_default();
            policies.push(Arc::new(a));
        }
    }
}

fn service_in<'a>(accepted: &'a AcceptedMap, namespace: &str, name: &str) -> Option<&'a Service> {
    let key = ResourceKey {
        kind: "Service".into(),
        namespace: namespace.into(),
        name: name.into(),
    };
    match accepted.get(&key)?.resource.as_ref() {
        Resource::Service(service) => Some(service),
        _ => None,
    }
}
