//! Which Gateways this agent serves and what it listens for: a Gateway whose `selector` the
//! agent's gateway labels satisfy (`istio: ingressgateway` by default) contributes its servers;
//! servers are grouped by port, since a port is one listener whatever the Gateways behind it.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde::Serialize;

use super::hosts::HostPattern;
use crate::resources::{GatewaySpec, Server, ServerTlsMode};
use crate::snapshot::Snapshot;

/// Labels of the agent's own ingress gateway, which Gateway selectors are matched against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GatewayLabels(pub BTreeMap<String, String>);

/// The default gateway labels: Istio's ingress gateway.
pub const DEFAULT_GATEWAY_LABELS: &str = "istio=ingressgateway";

/// A `--gateway-labels` entry that is not `key=value`.
#[derive(Debug, thiserror::Error)]
#[error("gateway label {0:?} is not key=value")]
pub struct BadGatewayLabel(String);

impl FromStr for GatewayLabels {
    type Err = BadGatewayLabel;

    /// Parses `k=v,k2=v2` (empty: no labels, so only selector-less Gateways apply).
    fn from_str(text: &str) -> Result<Self, BadGatewayLabel> {
        let pairs = text.split(',').map(str::trim).filter(|p| !p.is_empty());
        let parse = |pair: &str| match pair.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(BadGatewayLabel(pair.to_string())),
        };
        Ok(Self(pairs.map(parse).collect::<Result<_, _>>()?))
    }
}

impl Default for GatewayLabels {
    fn default() -> Self {
        DEFAULT_GATEWAY_LABELS.parse().expect("valid default")
    }
}

impl GatewayLabels {
    /// Whether `gateway` selects this agent: each selector label is one of ours (an empty
    /// selector selects every gateway workload, as in Istio).
    pub fn selects(&self, gateway: &GatewaySpec) -> bool {
        let ours = |(k, v): (&String, &String)| self.0.get(k) == Some(v);
        gateway.selector.iter().all(ours)
    }
}

/// What a port speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PortProtocol {
    /// `HTTP`, `HTTP2`, `GRPC`: plain HTTP/1.1 or h2c.
    Http,
    /// `HTTPS` with `tls.mode: SIMPLE`: TLS terminated here.
    Https,
}

/// A Gateway server bound to a port of this agent.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BoundServer {
    /// `namespace/name` of its Gateway: what VirtualServices bind to.
    pub gateway: String,
    /// The Gateway's namespace (`./host` entries; Secrets are read in the gateway workload's).
    pub namespace: String,
    /// Its `hosts`.
    pub hosts: Vec<HostPattern>,
    /// The Secret holding `tls.crt` / `tls.key` (HTTPS servers).
    pub credential_name: Option<String>,
}

/// One listening port: its protocol and the servers sharing it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PortPlan {
    pub protocol: PortProtocol,
    pub servers: Vec<BoundServer>,
}

/// Every port this agent listens on, and the servers it could not take (one line each).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct GatewayPlan {
    pub ports: BTreeMap<u16, PortPlan>,
    pub skipped: Vec<String>,
}

impl GatewayPlan {
    /// The plan for the Gateways of `snapshot` that select `labels`.
    pub fn of(snapshot: &Snapshot, labels: &GatewayLabels) -> Self {
        let mut plan = Self::default();
        for (key, entry) in snapshot.gateways() {
            let gateway = &entry.gateway;
            if !labels.selects(&gateway.spec) {
                continue;
            }
            let namespace = gateway.metadata.namespace.as_deref().unwrap_or("default");
            for server in &gateway.spec.servers {
                plan.add(key, namespace, server);
            }
        }
        plan
    }

    fn add(&mut self, gateway: &str, namespace: &str, server: &Server) {
        let port = server.port.number;
        let protocol = match protocol_of(server) {
            Ok(protocol) => protocol,
            Err(why) => return self.skip(gateway, port, why),
        };
        let bound = BoundServer {
            gateway: gateway.to_string(),
            namespace: namespace.to_string(),
            hosts: server
                .hosts
                .iter()
                .map(|h| HostPattern::parse(h, namespace))
                .collect(),
            credential_name: server.tls.as_ref().and_then(|t| t.credential_name.clone()),
        };
        let entry = self.ports.entry(port).or_insert_with(|| PortPlan {
            protocol,
            servers: Vec::new(),
        });
        if entry.protocol != protocol {
            let why = format!("port already serves {:?}", entry.protocol);
            return self.skip(gateway, port, why);
        }
        entry.servers.push(bound);
    }

    fn skip(&mut self, gateway: &str, port: u16, why: impl std::fmt::Display) {
        self.skipped
            .push(format!("Gateway {gateway}: server on port {port}: {why}"));
    }
}

/// The protocol a server is served with, or why it is not.
fn protocol_of(server: &Server) -> Result<PortProtocol, String> {
    let tls = server.tls.as_ref();
    match server.port.protocol.to_ascii_uppercase().as_str() {
        "HTTP" | "HTTP2" | "GRPC" if tls.is_some_and(|t| t.https_redirect == Some(true)) => {
            Err("httpsRedirect is not supported yet".into())
        }
        "HTTP" | "HTTP2" | "GRPC" => Ok(PortProtocol::Http),
        "HTTPS" => match (
            tls.and_then(|t| t.mode),
            tls.and_then(|t| t.credential_name.as_ref()),
        ) {
            (Some(ServerTlsMode::Simple), Some(_)) => Ok(PortProtocol::Https),
            (Some(ServerTlsMode::Simple), None) => Err("tls.credentialName is required".into()),
            (mode, _) => Err(format!("tls.mode {mode:?} is not supported (SIMPLE is)")),
        },
        other => Err(format!(
            "protocol {other:?} is not served (HTTP, HTTP2, GRPC, HTTPS are)"
        )),
    }
}
