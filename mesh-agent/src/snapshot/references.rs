//! Checks that need the rest of the configuration: the subsets and ports a VirtualService names
//! exist, the DestinationRule's ports and subsets are sound. (Weights are shares and need not add
//! up to 100, as in Istio: `validate::destinations`.)

use std::collections::HashSet;

use super::policy::{rule_for, RulesByHost};
use super::registry::Registry;
use crate::document::Origin;
use crate::document::ResourceKey;
use crate::document::{Problem, Severity};
use crate::resources::{Destination, DestinationRuleSpec, Istio, VirtualServiceSpec};

/// What references are checked against.
pub(crate) struct Context<'a> {
    pub registry: &'a Registry,
    pub rules: &'a RulesByHost<'a>,
    /// `namespace/name` of every Gateway.
    pub gateways: &'a HashSet<String>,
}

/// Collects problems about one resource.
struct Report<'a> {
    origin: &'a Origin,
    key: &'a ResourceKey,
    problems: Vec<Problem>,
}

impl Report<'_> {
    fn push(&mut self, severity: Severity, field: String, message: String) {
        self.problems.push(Problem::about(
            self.origin,
            self.key,
            severity,
            field,
            message,
        ));
    }
}

/// Problems of a VirtualService's destinations, weights and gateways.
pub(crate) fn virtual_service(
    vs: &Istio<VirtualServiceSpec>,
    ctx: &Context,
    origin: &Origin,
    key: &ResourceKey,
) -> Vec<Problem> {
    let mut report = Report {
        origin,
        key,
        problems: Vec::new(),
    };
    let ns = key.namespace.as_str();
    for (i, rule) in vs.spec.http.iter().enumerate() {
        let field = format!("spec.http[{i}]");
        for (j, route) in rule.route.iter().enumerate() {
            destination(
                &mut report,
                ctx,
                ns,
                &format!("{field}.route[{j}].destination"),
                &route.destination,
            );
        }
        if let Some(mirror) = &rule.mirror {
            destination(&mut report, ctx, ns, &format!("{field}.mirror"), mirror);
        }
        for (j, mirror) in rule.mirrors.iter().enumerate() {
            destination(
                &mut report,
                ctx,
                ns,
                &format!("{field}.mirrors[{j}].destination"),
                &mirror.destination,
            );
        }
    }
    let l4 = vs
        .spec
        .tcp
        .iter()
        .map(|r| ("tcp", &r.route))
        .enumerate()
        .chain(vs.spec.tls.iter().map(|r| ("tls", &r.route)).enumerate());
    for (i, (section, routes)) in l4 {
        let field = format!("spec.{section}[{i}].route");
        for (j, route) in routes.iter().enumerate() {
            destination(
                &mut report,
                ctx,
                ns,
                &format!("{field}[{j}].destination"),
                &route.destination,
            );
        }
    }
    for (i, gateway) in vs.spec.gateways.iter().enumerate() {
        let full = gateway_key(gateway, ns);
        if gateway != super::MESH_GATEWAY && !ctx.gateways.contains(&full) {
            let message = format!("gateway {full} not found");
            report.push(Severity::Warning, format!("spec.gateways[{i}]"), message);
        }
    }
    report.problems
}

/// `ns/name` for a gateway reference written in `namespace` (`name` or `ns/name`).
pub(crate) fn gateway_key(reference: &str, namespace: &str) -> String {
    match reference.contains('/') {
        true => reference.to_string(),
        false => format!("{namespace}/{reference}"),
    }
}

fn destination(report: &mut Report, ctx: &Context, ns: &str, field: &str, d: &Destination) {
    let host = ctx.registry.canonical(&d.host, ns);
    let service = ctx.registry.lookup(&d.host, ns);
    if service.is_none() && !d.host.starts_with('*') {
        let message = format!("host {:?} is not a Service or ServiceEntry host", d.host);
        report.push(Severity::Warning, format!("{field}.host"), message);
    }
    if let (Some(service), Some(port)) = (service, &d.port) {
        if !service.ports.iter().any(|p| p.port == port.number) {
            report.push(
                Severity::Error,
                format!("{field}.port.number"),
                port_message(port.number, service),
            );
        }
    }
    let Some(subset) = &d.subset else { return };
    match rule_for(ctx.rules, &host, ns) {
        None => {
            let message =
                format!("subset {subset:?} needs a DestinationRule for host {host}; there is none");
            report.push(Severity::Error, format!("{field}.subset"), message);
        }
        Some(rule) if !rule.spec.subsets.iter().any(|s| &s.name == subset) => {
            let names: Vec<&str> = rule.spec.subsets.iter().map(|s| s.name.as_str()).collect();
            let rule_ns = rule.metadata.namespace.as_deref().unwrap_or_default();
            let rule_name = rule.metadata.name.as_deref().unwrap_or_default();
            let message = format!(
                "subset {subset:?} is not defined by DestinationRule {rule_ns}/{rule_name} (subsets: {})",
                names.join(", ")
            );
            report.push(Severity::Error, format!("{field}.subset"), message);
        }
        Some(_) => {}
    }
}

fn port_message(port: u16, service: &super::Service) -> String {
    let ports: Vec<String> = service.ports.iter().map(|p| p.port.to_string()).collect();
    format!(
        "port {port} is not a port of {} (ports: {})",
        service.hostname,
        ports.join(", ")
    )
}

/// Problems of a DestinationRule: duplicate subsets, port-level ports the host lacks.
pub(crate) fn destination_rule(
    dr: &Istio<DestinationRuleSpec>,
    registry: &Registry,
    origin: &Origin,
    key: &ResourceKey,
) -> Vec<Problem> {
    let mut report = Report {
        origin,
        key,
        problems: Vec::new(),
    };
    let service = registry.lookup(&dr.spec.host, &key.namespace);
    if service.is_none() && !dr.spec.host.starts_with('*') {
        let message = format!(
            "host {:?} is not a Service or ServiceEntry host",
            dr.spec.host
        );
        report.push(Severity::Warning, "spec.host".into(), message);
    }
    let mut seen = HashSet::new();
    for (i, subset) in dr.spec.subsets.iter().enumerate() {
        if !seen.insert(subset.name.as_str()) {
            let message = format!("subset {:?} is defined twice", subset.name);
            report.push(Severity::Error, format!("spec.subsets[{i}].name"), message);
        }
    }
    let levels = dr
        .spec
        .traffic_policy
        .iter()
        .flat_map(|p| p.port_level_settings.iter());
    for (i, level) in levels.enumerate() {
        let (Some(service), Some(port)) = (service, &level.port) else {
            continue;
        };
        if !service.ports.iter().any(|p| p.port == port.number) {
            let field = format!("spec.trafficPolicy.portLevelSettings[{i}].port.number");
            report.push(Severity::Error, field, port_message(port.number, service));
        }
    }
    report.problems
}
