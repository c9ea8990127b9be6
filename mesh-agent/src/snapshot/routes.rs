//! VirtualServices compiled into route tables per host and port. Rule order is kept; a rule
//! whose matches name ports applies only to those ports; destination hosts are made canonical;
//! older spellings are normalised (`mirror_percent`, `fault.*.percent` → `percentage`); match-level
//! `gateways` are resolved in the VirtualService's namespace like the top-level ones (`ns/name`,
//! `mesh` kept), so they bind and match against the gateway keys.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde::Serialize;

use super::memo::Memo;
use super::model::{RouteTable, Visibility};
use super::references::gateway_key;
use super::registry::Registry;
use crate::resources::{Destination, HttpRoute, Istio, Percent, VirtualServiceSpec};

/// The gateway name that means "every sidecar-less client in the mesh".
pub const MESH_GATEWAY: &str = "mesh";

/// The rules of one VirtualService (or, at a gateway, several merged) for one host.
#[derive(Clone, Debug, Serialize)]
pub struct HostRoutes {
    /// `namespace/name` of the VirtualService(s).
    pub virtual_service: String,
    pub namespace: String,
    pub visibility: Visibility,
    /// Rules that apply whatever the port.
    pub any_port: Arc<RouteTable>,
    /// For ports that some rule matches on: the rules that apply to that port.
    pub by_port: HashMap<u16, Arc<RouteTable>>,
}

impl HostRoutes {
    /// The rules for `port`.
    pub fn table(&self, port: u16) -> &Arc<RouteTable> {
        self.by_port.get(&port).unwrap_or(&self.any_port)
    }
}

/// Compiles the rules of `vs` that bind to `gateway` (`mesh` or `ns/name`).
pub(crate) fn compile(
    vs: &Istio<VirtualServiceSpec>,
    gateway: &str,
    registry: &Registry,
) -> HostRoutes {
    let namespace = vs
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let name = format!(
        "{namespace}/{}",
        vs.metadata.name.as_deref().unwrap_or_default()
    );
    let spec = normalised(&vs.spec, &namespace, registry);
    let binds = |gateways: &[String]| gateways.is_empty() || gateways.iter().any(|g| g == gateway);
    let http: Vec<HttpRoute> = spec
        .http
        .into_iter()
        .filter(|r| r.matches.is_empty() || r.matches.iter().any(|m| binds(&m.gateways)))
        .collect();
    let ports: BTreeSet<u16> = http
        .iter()
        .flat_map(|r| r.matches.iter().filter_map(|m| m.port))
        .chain(
            spec.tcp
                .iter()
                .flat_map(|r| r.matches.iter().filter_map(|m| m.port)),
        )
        .chain(
            spec.tls
                .iter()
                .flat_map(|r| r.matches.iter().filter_map(|m| m.port)),
        )
        .collect();
    let table = |port: Option<u16>| {
        let fits = |p: Option<u16>| p.is_none() || p == port;
        Arc::new(RouteTable {
            virtual_service: name.clone(),
            http: http
                .iter()
                .filter_map(|r| {
                    let mut rule = r.clone();
                    if r.matches.is_empty() {
                        return Some(rule);
                    }
                    rule.matches.retain(|m| fits(m.port) && binds(&m.gateways));
                    (!rule.matches.is_empty()).then_some(rule)
                })
                .collect(),
            tcp: spec
                .tcp
                .iter()
                .filter(|r| {
                    r.matches.is_empty()
                        || r.matches.iter().any(|m| fits(m.port) && binds(&m.gateways))
                })
                .cloned()
                .collect(),
            tls: spec
                .tls
                .iter()
                .filter(|r| {
                    r.matches.is_empty()
                        || r.matches.iter().any(|m| fits(m.port) && binds(&m.gateways))
                })
                .cloned()
                .collect(),
            retries: Memo::default(),
        })
    };
    HostRoutes {
        virtual_service: name.clone(),
        visibility: Visibility::from_export_to(&vs.spec.export_to, &namespace),
        namespace,
        any_port: table(None),
        by_port: ports.iter().map(|p| (*p, table(Some(*p)))).collect(),
    }
}

/// Rules of `b` appended to those of `a` (VirtualServices merged at a gateway).
pub(crate) fn merged(a: &HostRoutes, b: &HostRoutes) -> HostRoutes {
    let join = |x: &RouteTable, y: &RouteTable| {
        Arc::new(RouteTable {
            virtual_service: format!("{}, {}", x.virtual_service, y.virtual_service),
            http: x.http.iter().chain(&y.http).cloned().collect(),
            tcp: x.tcp.iter().chain(&y.tcp).cloned().collect(),
            tls: x.tls.iter().chain(&y.tls).cloned().collect(),
            retries: Memo::default(),
        })
    };
    let ports: BTreeSet<u16> = a.by_port.keys().chain(b.by_port.keys()).copied().collect();
    HostRoutes {
        virtual_service: format!("{}, {}", a.virtual_service, b.virtual_service),
        namespace: a.namespace.clone(),
        visibility: a.visibility.clone(),
        any_port: join(&a.any_port, &b.any_port),
        by_port: ports
            .into_iter()
            .map(|p| (p, join(a.table(p), b.table(p))))
            .collect(),
    }
}

fn normalised(
    spec: &VirtualServiceSpec,
    namespace: &str,
    registry: &Registry,
) -> VirtualServiceSpec {
    let mut spec = spec.clone();
    let canonical = |d: &mut Destination| d.host = registry.canonical(&d.host, namespace);
    for rule in &mut spec.http {
        rule.route
            .iter_mut()
            .for_each(|r| canonical(&mut r.destination));
        if let Some(mirror) = rule.mirror.as_mut() {
            canonical(mirror);
            if rule.mirror_percentage.is_none() {
                let value = rule.mirror_percent.map_or(100.0, f64::from);
                rule.mirror_percentage = Some(Percent { value });
            }
        }
        rule.mirrors
            .iter_mut()
            .for_each(|m| canonical(&mut m.destination));
        normalise_fault(rule);
        let gateways = rule.matches.iter_mut().map(|m| &mut m.gateways);
        gateways.for_each(|g| resolve_gateways(g, namespace));
    }
    for rule in &mut spec.tcp {
        rule.route
            .iter_mut()
            .for_each(|r| canonical(&mut r.destination));
        let gateways = rule.matches.iter_mut().map(|m| &mut m.gateways);
        gateways.for_each(|g| resolve_gateways(g, namespace));
    }
    for rule in &mut spec.tls {
        rule.route
            .iter_mut()
            .for_each(|r| canonical(&mut r.destination));
        let gateways = rule.matches.iter_mut().map(|m| &mut m.gateways);
        gateways.for_each(|g| resolve_gateways(g, namespace));
    }
    spec
}

/// Gateway names written in `namespace` as the snapshot keys them: `name` → `namespace/name`,
/// `ns/name` and `mesh` unchanged (as the top-level `gateways` are resolved).
fn resolve_gateways(gateways: &mut [String], namespace: &str) {
    for gateway in gateways.iter_mut().filter(|g| *g != MESH_GATEWAY) {
        *gateway = gateway_key(gateway, namespace);
    }
}

/// `percent: 50` becomes `percentage: {value: 50}`; neither means every request.
fn normalise_fault(rule: &mut HttpRoute) {
    let Some(fault) = rule.fault.as_mut() else {
        return;
    };
    if let Some(delay) = fault.delay.as_mut() {
        let old = delay.percent.take().map_or(100.0, f64::from);
        delay.percentage.get_or_insert(Percent { value: old });
    }
    if let Some(abort) = fault.abort.as_mut() {
        let old = abort.percent.take().map_or(100.0, f64::from);
        abort.percentage.get_or_insert(Percent { value: old });
    }
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
