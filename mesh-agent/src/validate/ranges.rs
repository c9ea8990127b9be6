//! Numbers outside what Istio and Kubernetes accept — percentages past 0–100, route weights
//! and counts past Istio's 32-bit signed integers, ports outside 1–65535 — found when a
//! resource is read, each an error naming its field. The request path then takes every number
//! as it is: nothing there overflows, wraps or is silently dropped. (Durations are bounded where
//! they are read: [`crate::resources::parse_duration`].)

use std::fmt::Display;
use std::ops::RangeInclusive;

use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::document::Problem;
use crate::document::RawResource;
use crate::resources::{
    ConnectionPool, DestinationRuleSpec, Fault, GatewaySpec, HttpRoute, MeshConfig,
    OutlierDetection, Percent, PortSelector, Resource, ServiceEntrySpec, TrafficPolicy,
    VirtualServiceSpec,
};

const PERCENT: RangeInclusive<f64> = 0.0..=100.0;
const WHOLE_PERCENT: RangeInclusive<u32> = 0..=100;
/// Istio's `int32` fields, read here as `u32` (negative numbers are refused when read).
const INT32: RangeInclusive<u32> = 0..=i32::MAX as u32;
const PORT: RangeInclusive<i64> = 1..=65535;
/// What Istio's validation lets an abort or a direct response answer with.
const STATUS: RangeInclusive<u16> = 200..=600;
const REDIRECT: RangeInclusive<u16> = 300..=399;

/// The out-of-range numbers of `resource`, read from `raw`; every one is an error.
pub(crate) fn check(raw: &RawResource, resource: &Resource) -> Vec<Problem> {
    let mut found = Found {
        raw,
        problems: Vec::new(),
    };
    match resource {
        Resource::VirtualService(vs) => virtual_service(&mut found, &vs.spec),
        Resource::DestinationRule(dr) => destination_rule(&mut found, &dr.spec),
        Resource::Gateway(gateway) => gateway_ports(&mut found, &gateway.spec),
        Resource::ServiceEntry(entry) => service_entry_ports(&mut found, &entry.spec),
        Resource::Service(service) => service_ports(&mut found, service),
        Resource::Pod(pod) => container_ports(&mut found, pod),
        Resource::Endpoints(endpoints) => endpoints_ports(&mut found, endpoints),
        Resource::EndpointSlice(slice) => slice_ports(&mut found, slice),
        Resource::MeshConfig(mesh) => mesh_config(&mut found, mesh),
        _ => {}
    }
    found.problems
}

/// The problems found so far in one resource.
struct Found<'a> {
    raw: &'a RawResource,
    problems: Vec<Problem>,
}

impl Found<'_> {
    /// An error at `at.name` unless `value` is within `range`; `what` says what it must be.
    fn within<T: PartialOrd + Display>(
        &mut self,
        (at, name): (&str, &str),
        value: T,
        range: &RangeInclusive<T>,
        what: &str,
    ) {
        if !range.contains(&value) {
            let (low, high) = (range.start(), range.end());
            let message = format!("{value} is {what} ({low} to {high})");
            let field = format!("{at}.{name}");
            self.problems.push(Problem::error(self.raw, field, message));
        }
    }

    fn percentage(&mut self, at: &str, name: &str, value: f64) {
        self.within((at, name), value, &PERCENT, "not a percentage");
    }

    fn whole_percent(&mut self, at: &str, name: &str, value: Option<u32>) {
        if let Some(value) = value {
            self.within((at, name), value, &WHOLE_PERCENT, "not a percentage");
        }
    }

    fn int32(&mut self, at: &str, name: &str, value: Option<u32>) {
        if let Some(value) = value {
            self.within((at, name), value, &INT32, "out of range");
        }
    }

    fn port(&mut self, at: &str, name: &str, value: impl Into<i64>) {
        self.within((at, name), value.into(), &PORT, "not a port number");
    }

    fn weight(&mut self, at: &str, value: Option<u32>) {
        if let Some(value) = value {
            self.within((at, "weight"), value, &INT32, "out of range");
        }
    }
}

fn mesh_config(found: &mut Found, mesh: &MeshConfig) {
    let tracing = "data.mesh.defaultConfig.tracing";
    found.percentage(tracing, "sampling", mesh.default_config.tracing.sampling);
    let attempts = Some(mesh.default_http_retry_policy.attempts);
    found.int32("data.mesh.defaultHttpRetryPolicy", "attempts", attempts);
}

fn virtual_service(found: &mut Found, spec: &VirtualServiceSpec) {
    for (i, rule) in spec.http.iter().enumerate() {
        http_rule(found, &format!("spec.http[{i}]"), rule);
    }
    let l4 = spec.tcp.iter().map(|r| ("tcp", &r.route)).enumerate();
    let tls = spec.tls.iter().map(|r| ("tls", &r.route)).enumerate();
    for (i, (section, routes)) in l4.chain(tls) {
        for (j, route) in routes.iter().enumerate() {
            found.weight(&format!("spec.{section}[{i}].route[{j}]"), route.weight);
        }
    }
}

fn http_rule(found: &mut Found, at: &str, rule: &HttpRoute) {
    for (j, route) in rule.route.iter().enumerate() {
        found.weight(&format!("{at}.route[{j}]"), route.weight);
    }
    answers(found, at, rule);
    if let Some(retries) = &rule.retries {
        found.int32(&format!("{at}.retries"), "attempts", Some(retries.attempts));
    }
    if let Some(fault) = &rule.fault {
        fault_shares(found, &format!("{at}.fault"), fault);
    }
    found.whole_percent(at, "mirrorPercent", rule.mirror_percent);
    share(
        found,
        at,
        "mirrorPercentage",
        rule.mirror_percentage.as_ref(),
    );
    for (j, mirror) in rule.mirrors.iter().enumerate() {
        let at = format!("{at}.mirrors[{j}]");
        share(found, &at, "percentage", mirror.percentage.as_ref());
    }
}

/// The statuses a rule answers with instead of forwarding.
fn answers(found: &mut Found, at: &str, rule: &HttpRoute) {
    let redirect_code = rule.redirect.as_ref().and_then(|r| r.redirect_code);
    if let Some(code) = redirect_code.filter(|code| *code != 0) {
        let at = format!("{at}.redirect");
        found.within(
            (&at, "redirectCode"),
            code,
            &REDIRECT,
            "not a redirect status",
        );
    }
    if let Some(direct) = &rule.direct_response {
        let at = format!("{at}.directResponse");
        found.within(
            (&at, "status"),
            direct.status,
            &STATUS,
            "not an HTTP status",
        );
    }
}

fn fault_shares(found: &mut Found, at: &str, fault: &Fault) {
    if let Some(delay) = &fault.delay {
        let at = format!("{at}.delay");
        share(found, &at, "percentage", delay.percentage.as_ref());
        found.whole_percent(&at, "percent", delay.percent);
    }
    if let Some(abort) = &fault.abort {
        let at = format!("{at}.abort");
        if let Some(status) = abort.http_status {
            found.within((&at, "httpStatus"), status, &STATUS, "not an HTTP status");
        }
        share(found, &at, "percentage", abort.percentage.as_ref());
        found.whole_percent(&at, "percent", abort.percent);
    }
}

/// A `{value: ...}` percentage at `at.name`.
fn share(found: &mut Found, at: &str, name: &str, percent: Option<&Percent>) {
    if let Some(percent) = percent {
        found.percentage(&format!("{at}.{name}"), "value", percent.value);
    }
}

fn destination_rule(found: &mut Found, spec: &DestinationRuleSpec) {
    if let Some(policy) = &spec.traffic_policy {
        traffic_policy(found, "spec.trafficPolicy", policy);
    }
    for (i, subset) in spec.subsets.iter().enumerate() {
        if let Some(policy) = &subset.traffic_policy {
            traffic_policy(found, &format!("spec.subsets[{i}].trafficPolicy"), policy);
        }
    }
}

fn traffic_policy(found: &mut Found, at: &str, policy: &TrafficPolicy) {
    let (pool, outlier) = (&policy.connection_pool, &policy.outlier_detection);
    settings(found, at, pool.as_ref(), outlier.as_ref());
    for (i, level) in policy.port_level_settings.iter().enumerate() {
        let at = format!("{at}.portLevelSettings[{i}]");
        if let Some(PortSelector { number }) = &level.port {
            found.port(&format!("{at}.port"), "number", *number);
        }
        let (pool, outlier) = (&level.connection_pool, &level.outlier_detection);
        settings(found, &at, pool.as_ref(), outlier.as_ref());
    }
}

/// The settings a policy and its port-level overrides share.
fn settings(
    found: &mut Found,
    at: &str,
    pool: Option<&ConnectionPool>,
    outlier: Option<&OutlierDetection>,
) {
    if let Some(pool) = pool {
        connection_pool(found, &format!("{at}.connectionPool"), pool);
    }
    if let Some(outlier) = outlier {
        let at = format!("{at}.outlierDetection");
        found.int32(&at, "consecutiveErrors", outlier.consecutive_errors);
        found.whole_percent(&at, "maxEjectionPercent", outlier.max_ejection_percent);
        found.whole_percent(&at, "minHealthPercent", outlier.min_health_percent);
    }
}

fn connection_pool(found: &mut Found, at: &str, pool: &ConnectionPool) {
    if let Some(tcp) = &pool.tcp {
        found.int32(&format!("{at}.tcp"), "maxConnections", tcp.max_connections);
    }
    if let Some(http) = &pool.http {
        let at = format!("{at}.http");
        let counts = [
            ("http1MaxPendingRequests", http.http1_max_pending_requests),
            ("http2MaxRequests", http.http2_max_requests),
            ("maxRequestsPerConnection", http.max_requests_per_connection),
            ("maxRetries", http.max_retries),
            ("maxConcurrentStreams", http.max_concurrent_streams),
        ];
        for (name, count) in counts {
            found.int32(&at, name, count);
        }
    }
}

fn gateway_ports(found: &mut Found, spec: &GatewaySpec) {
    for (i, server) in spec.servers.iter().enumerate() {
        let at = format!("spec.servers[{i}].port");
        found.port(&at, "number", server.port.number);
        if let Some(target) = server.port.target_port {
            found.port(&at, "targetPort", target);
        }
    }
}

fn service_entry_ports(found: &mut Found, spec: &ServiceEntrySpec) {
    for (i, port) in spec.ports.iter().enumerate() {
        let at = format!("spec.ports[{i}]");
        found.port(&at, "number", port.number);
        if let Some(target) = port.target_port {
            found.port(&at, "targetPort", target);
        }
    }
    for (i, endpoint) in spec.endpoints.iter().enumerate() {
        let at = format!("spec.endpoints[{i}].ports");
        for (name, port) in &endpoint.ports {
            found.port(&at, name, *port);
        }
    }
}

fn service_ports(found: &mut Found, service: &Service) {
    let ports = service.spec.iter().flat_map(|s| s.ports.iter().flatten());
    for (i, port) in ports.enumerate() {
        let at = format!("spec.ports[{i}]");
        found.port(&at, "port", port.port);
        if let Some(IntOrString::Int(target)) = port.target_port {
            found.port(&at, "targetPort", target);
        }
    }
}

fn container_ports(found: &mut Found, pod: &Pod) {
    let containers = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter().enumerate());
    for (i, container) in containers {
        for (j, port) in container.ports.iter().flatten().enumerate() {
            let at = format!("spec.containers[{i}].ports[{j}]");
            found.port(&at, "containerPort", port.container_port);
        }
    }
}

fn endpoints_ports(found: &mut Found, endpoints: &Endpoints) {
    for (i, subset) in endpoints.subsets.iter().flatten().enumerate() {
        for (j, port) in subset.ports.iter().flatten().enumerate() {
            found.port(&format!("subsets[{i}].ports[{j}]"), "port", port.port);
        }
    }
}

fn slice_ports(found: &mut Found, slice: &EndpointSlice) {
    for (i, port) in slice.ports.iter().flatten().enumerate() {
        if let Some(number) = port.port {
            found.port(&format!("ports[{i}]"), "port", number);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::parse_documents;
    use crate::resources::parse;

    /// `field: message` of each problem of the one document in `yaml`.
    fn found(yaml: &str) -> Vec<String> {
        let raw = &parse_documents(std::path::Path::new("r.yaml"), yaml).unwrap()[0];
        let resource = parse(raw).unwrap().resource.unwrap();
        let problems = check(raw, &resource);
        assert!(problems.iter().all(Problem::is_error));
        let text = |p: &Problem| format!("{}: {}", p.field, p.message);
        problems.iter().map(text).collect()
    }

    fn istio(kind: &str, spec: &str) -> String {
        format!("apiVersion: networking.istio.io/v1\nkind: {kind}\nmetadata: {{name: x}}\nspec:\n{spec}")
    }

    #[test]
    fn values_at_the_edges_of_their_ranges_pass() {
        let vs = istio(
            "VirtualService",
            "  hosts: [a]\n  http:\n  - route: [{destination: {host: a}, weight: 100}, {destination: {host: b}, weight: 0}]\n\
             \x20   retries: {attempts: 2147483647}\n    fault: {abort: {httpStatus: 503, percentage: {value: 100}}, delay: {fixedDelay: 1s, percent: 0}}\n\
             \x20   mirrorPercentage: {value: 0}\n",
        );
        let dr = istio(
            "DestinationRule",
            "  host: a\n  trafficPolicy:\n    connectionPool: {tcp: {maxConnections: 2147483647}}\n\
             \x20   outlierDetection: {maxEjectionPercent: 100, minHealthPercent: 0, consecutive5xxErrors: 4294967295}\n\
             \x20   portLevelSettings: [{port: {number: 65535}, connectionPool: {http: {maxRetries: 0}}}]\n",
        );
        let service = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 1, targetPort: 65535}]}\n";
        for yaml in [vs, dr, service.to_string()] {
            assert_eq!(found(&yaml), Vec::<String>::new(), "{yaml}");
        }
    }

    #[test]
    fn each_number_out_of_range_is_an_error_at_its_field() {
        let vs = istio(
            "VirtualService",
            "  hosts: [a]\n  http:\n  - route: [{destination: {host: a}, weight: 4294967295}, {destination: {host: b}, weight: 1}]\n\
             \x20   retries: {attempts: 2147483648}\n    fault: {abort: {httpStatus: 503, percentage: {value: 150}}, delay: {fixedDelay: 1s, percent: 101}}\n\
             \x20   mirror_percent: 200\n    mirrors: [{destination: {host: b}, percentage: {value: -0.5}}]\n\
             \x20 tcp:\n  - route: [{destination: {host: a}, weight: 2147483648}]\n",
        );
        assert_eq!(
            found(&vs),
            [
                "spec.http[0].route[0].weight: 4294967295 is out of range (0 to 2147483647)",
                "spec.http[0].retries.attempts: 2147483648 is out of range (0 to 2147483647)",
                "spec.http[0].fault.delay.percent: 101 is not a percentage (0 to 100)",
                "spec.http[0].fault.abort.percentage.value: 150 is not a percentage (0 to 100)",
                "spec.http[0].mirrorPercent: 200 is not a percentage (0 to 100)",
                "spec.http[0].mirrors[0].percentage.value: -0.5 is not a percentage (0 to 100)",
                "spec.tcp[0].route[0].weight: 2147483648 is out of range (0 to 2147483647)",
            ]
        );
    }

    #[test]
    fn statuses_a_rule_answers_with_are_istio_s() {
        let vs = istio(
            "VirtualService",
            "  hosts: [a]\n  http:\n  - redirect: {uri: /b, redirectCode: 200}\n  - directResponse: {body: {string: x}}\n\
             \x20 - redirect: {uri: /c, redirectCode: 0}\n  - directResponse: {status: 600}\n\
             \x20 - route: [{destination: {host: a}}]\n    fault: {abort: {httpStatus: 1000}}\n",
        );
        assert_eq!(
            found(&vs),
            [
                "spec.http[0].redirect.redirectCode: 200 is not a redirect status (300 to 399)",
                "spec.http[1].directResponse.status: 0 is not an HTTP status (200 to 600)",
                "spec.http[4].fault.abort.httpStatus: 1000 is not an HTTP status (200 to 600)",
            ]
        );
    }

    #[test]
    fn destination_rule_counts_percents_and_ports_at_every_level() {
        let dr = istio(
            "DestinationRule",
            "  host: a\n  trafficPolicy:\n    connectionPool: {tcp: {maxConnections: 4294967295}, http: {http2MaxRequests: 2147483648}}\n\
             \x20   outlierDetection: {consecutiveErrors: 3000000000, maxEjectionPercent: 101}\n\
             \x20   portLevelSettings: [{port: {number: 0}, outlierDetection: {minHealthPercent: 200}}]\n\
             \x20 subsets:\n  - name: v1\n    trafficPolicy: {connectionPool: {http: {maxRetries: 4294967295}}}\n",
        );
        assert_eq!(
            found(&dr),
            [
                "spec.trafficPolicy.connectionPool.tcp.maxConnections: 4294967295 is out of range (0 to 2147483647)",
                "spec.trafficPolicy.connectionPool.http.http2MaxRequests: 2147483648 is out of range (0 to 2147483647)",
                "spec.trafficPolicy.outlierDetection.consecutiveErrors: 3000000000 is out of range (0 to 2147483647)",
                "spec.trafficPolicy.outlierDetection.maxEjectionPercent: 101 is not a percentage (0 to 100)",
                "spec.trafficPolicy.portLevelSettings[0].port.number: 0 is not a port number (1 to 65535)",
                "spec.trafficPolicy.portLevelSettings[0].outlierDetection.minHealthPercent: 200 is not a percentage (0 to 100)",
                "spec.subsets[0].trafficPolicy.connectionPool.http.maxRetries: 4294967295 is out of range (0 to 2147483647)",
            ]
        );
    }

    #[test]
    fn kubernetes_ports_never_wrap() {
        let cases = [
            (
                "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 65616, targetPort: 0}]}\n",
                vec![
                    "spec.ports[0].port: 65616 is not a port number (1 to 65535)",
                    "spec.ports[0].targetPort: 0 is not a port number (1 to 65535)",
                ],
            ),
            (
                "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, ports: [{containerPort: -1}]}]}\n",
                vec!["spec.containers[0].ports[0].containerPort: -1 is not a port number (1 to 65535)"],
            ),
            (
                "apiVersion: v1\nkind: Endpoints\nmetadata: {name: e}\nsubsets: [{ports: [{port: 70000}]}]\n",
                vec!["subsets[0].ports[0].port: 70000 is not a port number (1 to 65535)"],
            ),
            (
                "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e}\naddressType: IPv4\nendpoints: []\nports: [{port: 0}]\n",
                vec!["ports[0].port: 0 is not a port number (1 to 65535)"],
            ),
        ];
        for (yaml, want) in cases {
            assert_eq!(found(yaml), want, "{yaml}");
        }
    }

    #[test]
    fn gateway_and_service_entry_ports_and_mesh_settings() {
        let gateway = istio(
            "Gateway",
            "  servers: [{port: {number: 0, protocol: HTTP}, hosts: ['*']}]\n",
        );
        let entry = istio(
            "ServiceEntry",
            "  hosts: [e.example]\n  ports: [{number: 443, targetPort: 0, protocol: TLS, name: tls}]\n\
             \x20 endpoints: [{address: 1.2.3.4, ports: {tls: 0}}]\n",
        );
        let mesh =
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\n\
                    data:\n  mesh: '{defaultConfig: {tracing: {sampling: 101}}, \
                    defaultHttpRetryPolicy: {attempts: 4294967295}}'\n";
        let cases = [
            (
                gateway,
                vec!["spec.servers[0].port.number: 0 is not a port number (1 to 65535)"],
            ),
            (
                entry,
                vec![
                    "spec.ports[0].targetPort: 0 is not a port number (1 to 65535)",
                    "spec.endpoints[0].ports.tls: 0 is not a port number (1 to 65535)",
                ],
            ),
            (
                mesh.to_string(),
                vec![
                    "data.mesh.defaultConfig.tracing.sampling: 101 is not a percentage (0 to 100)",
                    "data.mesh.defaultHttpRetryPolicy.attempts: 4294967295 is out of range (0 to 2147483647)",
                ],
            ),
        ];
        for (yaml, want) in cases {
            assert_eq!(found(&yaml), want, "{yaml}");
        }
    }
}
