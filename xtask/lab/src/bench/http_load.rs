//! One HTTP run of `mesh-load` in the lab: the options `bench http` varies (protocol,
//! connections, a fixed rate, the authority and path) turned into its command line.

use super::load::{run_argv, ClientPlace, LoadResult};
use super::release::mesh_load_bin;
use crate::lab::Lab;
use anyhow::{Context, Result};
use serde::Serialize;
use std::time::Duration;

/// What the client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HttpProtocol {
    /// HTTP/1.1 keep-alive.
    Http1,
    /// h2c with prior knowledge, one stream in flight per connection.
    H2,
}

impl HttpProtocol {
    /// Both, in the order the table shows them.
    pub const ALL: [HttpProtocol; 2] = [HttpProtocol::Http1, HttpProtocol::H2];

    /// `mesh-load --protocol` value.
    pub fn arg(self) -> &'static str {
        match self {
            HttpProtocol::Http1 => "http1",
            HttpProtocol::H2 => "h2",
        }
    }

    /// The name in the table.
    pub fn label(self) -> &'static str {
        match self {
            HttpProtocol::Http1 => "HTTP/1.1",
            HttpProtocol::H2 => "h2",
        }
    }
}

/// One HTTP load run.
#[derive(Clone, Debug)]
pub struct HttpLoad {
    pub addr: String,
    /// The authority sent (a Service name); default: `addr`.
    pub host: Option<String>,
    pub path: String,
    pub protocol: HttpProtocol,
    pub connections: u32,
    pub duration: Duration,
    pub warmup: Duration,
    /// A fixed total rate (requests/s); closed loop without.
    pub rate: Option<f64>,
    /// A new connection for every request (a connection flood).
    pub new_connection_per_request: bool,
}

impl HttpLoad {
    /// A closed-loop GET `/` run to `addr`.
    pub fn new(addr: String, protocol: HttpProtocol, connections: u32) -> Self {
        HttpLoad {
            addr,
            host: None,
            path: "/".into(),
            protocol,
            connections,
            duration: Duration::from_secs(1),
            warmup: Duration::ZERO,
            rate: None,
            new_connection_per_request: false,
        }
    }

    /// Runs it from `place` and returns `mesh-load`'s summary.
    pub fn run(&self, lab: &Lab, place: &ClientPlace) -> Result<LoadResult> {
        let mut argv = vec![mesh_load_bin()?.to_string_lossy().into_owned()];
        argv.extend(self.options());
        run_argv(lab, place, &argv, self.warmup + self.duration).with_context(|| {
            let protocol = self.protocol.arg();
            format!(
                "mesh-load --protocol {protocol} --addr {} from {place:?}",
                self.addr
            )
        })
    }

    /// `mesh-load`'s options for this run.
    fn options(&self) -> Vec<String> {
        let mut argv: Vec<String> = [
            "--protocol",
            self.protocol.arg(),
            "--addr",
            &self.addr,
            "--path",
            &self.path,
        ]
        .map(String::from)
        .into();
        argv.extend([
            "--connections".into(),
            self.connections.to_string(),
            "--duration".into(),
            format!("{}ms", self.duration.as_millis()),
            "--warmup".into(),
            format!("{}ms", self.warmup.as_millis()),
        ]);
        if let Some(host) = &self.host {
            argv.extend(["--host".into(), host.clone()]);
        }
        if let Some(rate) = self.rate {
            argv.extend(["--rate".into(), rate.to_string()]);
        }
        if self.new_connection_per_request {
            argv.push("--new-connection-per-request".into());
        }
        argv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_carry_protocol_authority_and_rate_only_when_given() {
        let mut load = HttpLoad::new("10.96.0.10:9000".into(), HttpProtocol::H2, 2);
        load.duration = Duration::from_secs(3);
        let argv = load.options().join(" ");
        assert_eq!(
            argv,
            "--protocol h2 --addr 10.96.0.10:9000 --path / --connections 2 --duration 3000ms \
             --warmup 0ms"
        );
        load.host = Some("server.bench-mesh:9000".into());
        load.rate = Some(1000.0);
        let argv = load.options().join(" ");
        assert!(
            argv.ends_with("--host server.bench-mesh:9000 --rate 1000"),
            "{argv}"
        );
        load.new_connection_per_request = true;
        let argv = load.options().join(" ");
        assert!(argv.ends_with(" --new-connection-per-request"), "{argv}");
    }
}
