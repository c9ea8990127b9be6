//! The network configuration on stdin: the runtime's `NetConf` (CNI types from `rscni-types`),
//! mesh-cni's own keys (`agent_socket`, `exclude_namespaces`, `log_file`) and `prevResult`,
//! kept as the JSON it came in so that ADD hands it on unchanged.

use rscni_types::error::Error;
use rscni_types::types::{CNIResult, NetConf};
use serde_json::Value;
use std::net::IpAddr;
use std::path::PathBuf;

/// Where the node agent listens for enrollments by default.
pub const DEFAULT_AGENT_SOCKET: &str = "/run/mesh-agent/enroll.sock";
/// Namespaces never sent to the agent and never blocked by default.
pub const DEFAULT_EXCLUDED: [&str; 2] = ["kube-system", "mesh-system"];

/// One invocation's configuration.
#[derive(Clone, Debug)]
pub struct PluginConf {
    /// The runtime's configuration, typed.
    pub net: NetConf,
    /// `cniVersion` as written (the result is reported under it).
    pub cni_version: String,
    /// The enrollment socket (`agent_socket`).
    pub agent_socket: PathBuf,
    /// Pods here are passed through untouched (`exclude_namespaces`).
    pub exclude_namespaces: Vec<String>,
    /// Where to append a line per invocation (`log_file`), if anywhere.
    pub log_file: Option<PathBuf>,
    /// `prevResult` exactly as received.
    pub prev_result: Option<Value>,
}

impl PluginConf {
    /// Parses the configuration the runtime wrote on stdin.
    pub fn parse(stdin: &[u8]) -> Result<Self, Error> {
        let raw: Value = serde_json::from_slice(stdin)
            .map_err(|e| Error::FailedToDecode(format!("network configuration on stdin: {e}")))?;
        // prevResult is read on its own (pod_addresses), so its errors name it.
        let mut without_prev = raw.clone();
        if let Some(object) = without_prev.as_object_mut() {
            object.remove("prevResult");
        }
        let net: NetConf = serde_json::from_value(without_prev)
            .map_err(|e| Error::FailedToDecode(format!("network configuration on stdin: {e}")))?;
        let agent_socket = match raw.get("agent_socket") {
            None => PathBuf::from(DEFAULT_AGENT_SOCKET),
            Some(Value::String(path)) if !path.is_empty() => PathBuf::from(path),
            Some(other) => return Err(bad_key("agent_socket", "a non-empty path", other)),
        };
        let exclude_namespaces = match raw.get("exclude_namespaces") {
            None => DEFAULT_EXCLUDED.iter().map(|n| (*n).to_string()).collect(),
            Some(value) => serde_json::from_value(value.clone())
                .map_err(|_| bad_key("exclude_namespaces", "a list of namespace names", value))?,
        };
        let log_file = match raw.get("log_file") {
            None | Some(Value::Null) => None,
            Some(Value::String(path)) if !path.is_empty() => Some(PathBuf::from(path)),
            Some(other) => return Err(bad_key("log_file", "a path", other)),
        };
        Ok(Self {
            cni_version: net.cni_version.clone(),
            prev_result: raw.get("prevResult").filter(|v| !v.is_null()).cloned(),
            net,
            agent_socket,
            exclude_namespaces,
            log_file,
        })
    }

    /// Whether pods of `namespace` are left alone.
    pub fn is_excluded(&self, namespace: &str) -> bool {
        self.exclude_namespaces.iter().any(|n| n == namespace)
    }

    /// `prevResult`, required by ADD: mesh-cni is chained after the plugin that gives the pod
    /// its addresses.
    pub fn require_prev_result(&self) -> Result<&Value, Error> {
        self.prev_result.as_ref().ok_or_else(|| {
            Error::InvalidNetworkConfig(
                "no prevResult: mesh-cni must be chained after the primary network plugin \
                 (append it to the plugins of the primary .conflist)"
                    .into(),
            )
        })
    }

    /// The pod's addresses and its gateways (where kubelet probes come from), from
    /// `prevResult`: IPs on the pod's interfaces, not on host-side ones.
    pub fn pod_addresses(&self) -> Result<PodAddresses, Error> {
        let prev = self.require_prev_result()?;
        let result: CNIResult = serde_json::from_value(prev.clone())
            .map_err(|e| Error::FailedToDecode(format!("prevResult: {e}")))?;
        // A result names the pod's interfaces by their sandbox; host-side ones (a veth's
        // other end) have none. Results that name no sandbox at all are taken whole.
        let in_sandbox =
            |i: &rscni_types::types::Interface| i.sandbox.as_deref().is_some_and(|s| !s.is_empty());
        let any_sandbox = result.interfaces.iter().any(in_sandbox);
        let in_pod = |index: Option<u32>| {
            !any_sandbox
                || index
                    .and_then(|i| result.interfaces.get(i as usize))
                    .is_none_or(in_sandbox)
        };
        let mut addresses = PodAddresses::default();
        for ip in result.ips.iter().filter(|ip| in_pod(ip.interface)) {
            push_new(&mut addresses.ips, ip.address.addr());
            if let Some(gateway) = ip.gateway {
                push_new(&mut addresses.gateways, gateway);
            }
        }
        Ok(addresses)
    }
}

/// The pod's own IPs and the gateways of their subnets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodAddresses {
    pub ips: Vec<IpAddr>,
    pub gateways: Vec<IpAddr>,
}

fn push_new(list: &mut Vec<IpAddr>, ip: IpAddr) {
    if !list.contains(&ip) {
        list.push(ip);
    }
}

fn bad_key(key: &str, expected: &str, got: &Value) -> Error {
    Error::InvalidNetworkConfig(format!("`{key}` must be {expected}, got {got}"))
}

#[cfg(test)]
#[path = "netconf_tests.rs"]
mod tests;
