//! What the fake API server serves — groups, their versions (preferred first) and the resources
//! of each — and its discovery answers, shaped like the real server's: `/api`, `/api/v1`,
//! `/apis`, `/apis/<group>`, `/apis/<group>/<version>`. A collection of a resource it does not
//! serve answers `404 Not Found`, as a real server does for a CRD that is not installed.

use serde_json::{json, Value};

/// One resource of a group version.
#[derive(Clone, Debug)]
struct Resource {
    kind: String,
    plural: String,
    namespaced: bool,
}

/// One group: its versions, preferred first, and their resources.
#[derive(Clone, Debug)]
struct Group {
    name: String,
    versions: Vec<(String, Vec<Resource>)>,
}

/// What the server serves. By default: Kubernetes' own kinds the mesh reads and Istio's kinds
/// at every version Istio's CRDs serve them (as `deploy/crds.yaml`).
#[derive(Clone, Debug)]
pub struct Served {
    groups: Vec<Group>,
}

const NETWORKING: (&str, &[&str]) = ("networking.istio.io", &["v1", "v1beta1", "v1alpha3"]);
const SECURITY: (&str, &[&str]) = ("security.istio.io", &["v1", "v1beta1"]);
const TELEMETRY: (&str, &[&str]) = ("telemetry.istio.io", &["v1", "v1alpha1"]);

impl Default for Served {
    fn default() -> Self {
        let mut served = Served { groups: Vec::new() };
        for (kind, plural) in [
            ("Namespace", "namespaces"),
            ("Service", "services"),
            ("Endpoints", "endpoints"),
            ("Pod", "pods"),
            ("ConfigMap", "configmaps"),
            ("Secret", "secrets"),
        ] {
            served.add("", "v1", kind, plural);
        }
        served.add("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices");
        let istio = [
            (NETWORKING, "VirtualService", "virtualservices"),
            (NETWORKING, "DestinationRule", "destinationrules"),
            (NETWORKING, "Gateway", "gateways"),
            (NETWORKING, "ServiceEntry", "serviceentries"),
            (NETWORKING, "Sidecar", "sidecars"),
            (
                (NETWORKING.0, &["v1alpha3"][..]),
                "EnvoyFilter",
                "envoyfilters",
            ),
            (SECURITY, "AuthorizationPolicy", "authorizationpolicies"),
            (SECURITY, "PeerAuthentication", "peerauthentications"),
            (SECURITY, "RequestAuthentication", "requestauthentications"),
            (TELEMETRY, "Telemetry", "telemetries"),
        ];
        for ((group, versions), kind, plural) in istio {
            for version in versions {
                served.add(group, version, kind, plural);
            }
        }
        served
    }
}

impl Served {
    /// Serves `plural` (of `kind`) at `group/version` (`""` = core), as installing or upgrading
    /// a CRD does; a new version of a group goes after its existing ones.
    pub fn add(&mut self, group: &str, version: &str, kind: &str, plural: &str) {
        let index = match self.groups.iter().position(|g| g.name == group) {
            Some(index) => index,
            None => {
                let name = group.to_owned();
                self.groups.push(Group {
                    name,
                    versions: Vec::new(),
                });
                self.groups.len() - 1
            }
        };
        let versions = &mut self.groups[index].versions;
        let index = match versions.iter().position(|(v, _)| v == version) {
            Some(index) => index,
            None => {
                versions.push((version.to_owned(), Vec::new()));
                versions.len() - 1
            }
        };
        let namespaced = !matches!(plural, "namespaces");
        let (kind, plural) = (kind.to_owned(), plural.to_owned());
        versions[index].1.push(Resource {
            kind,
            plural,
            namespaced,
        });
    }

    /// Stops serving `plural` of `group` at every version, as deleting its CRD does.
    pub fn remove(&mut self, group: &str, plural: &str) {
        for g in self.groups.iter_mut().filter(|g| g.name == group) {
            for (_, resources) in &mut g.versions {
                resources.retain(|r| r.plural != plural);
            }
            g.versions.retain(|(_, resources)| !resources.is_empty());
        }
        self.groups.retain(|g| !g.versions.is_empty());
    }

    /// Serves `group` at `versions` only (those it served before), as an older Istio's CRDs do.
    pub fn only_versions(&mut self, group: &str, versions: &[&str]) {
        for g in self.groups.iter_mut().filter(|g| g.name == group) {
            g.versions.retain(|(v, _)| versions.contains(&v.as_str()));
        }
        self.groups.retain(|g| !g.versions.is_empty());
    }

    /// The answer to `path` when it is a discovery path (`200` and the document, or `404` for a
    /// group or version not served) or a collection not served (`404`); `None` for a served
    /// collection.
    pub fn answer(&self, path: &str) -> Option<(u16, Value)> {
        let not_found = || {
            (
                404,
                status(404, "the server could not find the requested resource"),
            )
        };
        match self.discovery(path) {
            Some(Ok(document)) => Some((200, document)),
            Some(Err(())) => Some(not_found()),
            None if self.serves_collection(path) => None,
            None => Some(not_found()),
        }
    }

    /// The discovery document at `path`: `Some(Ok(body))`, `Some(Err(()))` for a group or
    /// version not served, `None` when `path` is not a discovery path.
    fn discovery(&self, path: &str) -> Option<Result<Value, ()>> {
        let segments = split(path)?;
        match segments.as_slice() {
            ["api"] => Some(Ok(json!({"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": []}))),
            ["api", version] => Some(self.resources("", version)),
            ["apis"] => Some(Ok(json!({"kind": "APIGroupList", "apiVersion": "v1",
                "groups": self.groups.iter().filter(|g| !g.name.is_empty())
                    .map(group_document).collect::<Vec<_>>()}))),
            ["apis", group] => Some(self.group(group).map(group_document).ok_or(())),
            ["apis", group, version] => Some(self.resources(group, version)),
            _ => None,
        }
    }

    /// Whether the collection at `path` (`/api/v1/...`, `/apis/<g>/<v>/...`) is served.
    fn serves_collection(&self, path: &str) -> bool {
        let Some(segments) = split(path) else {
            return false;
        };
        let (group, version, rest) = match segments.as_slice() {
            ["api", version, rest @ ..] => ("", *version, rest),
            ["apis", group, version, rest @ ..] => (*group, *version, rest),
            _ => return false,
        };
        let plural = match rest {
            [plural] | ["namespaces", _, plural] => *plural,
            _ => return false,
        };
        self.version(group, version)
            .is_some_and(|resources| resources.iter().any(|r| r.plural == plural))
    }

    fn group(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
    }

    fn version(&self, group: &str, version: &str) -> Option<&Vec<Resource>> {
        let group = self.group(group)?;
        group
            .versions
            .iter()
            .find(|(v, _)| v == version)
            .map(|(_, r)| r)
    }

    fn resources(&self, group: &str, version: &str) -> Result<Value, ()> {
        let resources = self.version(group, version).ok_or(())?;
        let group_version = match group {
            "" => version.to_owned(),
            group => format!("{group}/{version}"),
        };
        let resources: Vec<Value> = resources
            .iter()
            .map(|r| {
                json!({"name": r.plural, "singularName": r.kind.to_lowercase(),
                    "namespaced": r.namespaced, "kind": r.kind, "verbs": ["get", "list", "watch"]})
            })
            .collect();
        Ok(json!({"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": group_version, "resources": resources}))
    }
}

fn group_document(group: &Group) -> Value {
    let versions: Vec<Value> = group
        .versions
        .iter()
        .map(|(v, _)| json!({"groupVersion": format!("{}/{v}", group.name), "version": v}))
        .collect();
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    json!({"kind": "APIGroup", "apiVersion": "v1", "name": group.name,
        "versions": versions, "preferredVersion": preferred})
}

/// A `Status` object, as the API server answers errors.
pub fn status(code: u16, message: &str) -> Value {
    let reason = match code {
        403 => "Forbidden",
        404 => "NotFound",
        410 => "Expired",
        _ => "InternalError",
    };
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code})
}

/// `/apis/a/b` → `["apis", "a", "b"]`; `None` outside `/api` and `/apis`.
fn split(path: &str) -> Option<Vec<&str>> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    matches!(segments.first(), Some(&"api" | &"apis")).then_some(segments)
}
