//! The ingress gateway harness, in-process on loopback: upstream pods `frontend` (127.0.0.2)
//! and `backend` (127.0.0.3), their Services, a Gateway and VirtualServices given by each
//! test, and an [`IngressGateway`] listening on 127.0.0.1.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use mesh_agent::gateway::{
    GatewayInputs, GatewayLabels, GatewayTimeouts, GatewayTunnel, IngressGateway,
};
use mesh_agent::http::{HttpInputs, DEFAULT_DETECT_WINDOW};
use mesh_agent::net::{NodeLocalGuard, UpstreamSockets};
use mesh_agent::pipeline::ConfigState;
use mesh_agent::proxy::ConnectionCaps;
use prometheus_client::registry::Registry;
use tokio::net::{TcpListener, TcpStream};

use super::client::{get_over, Answer};
use super::config::{apply, pod, service};
use super::upstream::healthy_on_one_port;

/// The gateway's limits here: short, so the tests of slow clients end quickly.
pub const TIMEOUTS: GatewayTimeouts = GatewayTimeouts {
    tls_handshake: Duration::from_millis(500),
    request_headers: Duration::from_millis(500),
};

/// A gateway under test and what it reads.
pub struct Gateway {
    pub gateway: IngressGateway,
    pub config: ConfigState,
    pub registry: Registry,
    /// The port the upstream pods listen on.
    pub pod_port: u16,
    /// The caps the gateway shares with the agent (its TLS handshakes per client).
    pub caps: std::sync::Arc<ConnectionCaps>,
}

/// Services `frontend` (10.96.0.20) and `backend` (10.96.0.30) in `shop`, port 80 to the
/// pods' `port`; then `mesh_yaml`.
pub fn cluster_yaml(port: u16, mesh_yaml: &str) -> String {
    let app = |name: &str, cluster_ip: &str, pod_ip: &str| {
        service(name, cluster_ip, "http", port)
            + &pod(&format!("{name}-0"), &format!("app: {name}"), pod_ip)
    };
    app("frontend", "10.96.0.20", "127.0.0.2")
        + &app("backend", "10.96.0.30", "127.0.0.3")
        + mesh_yaml
}

/// A free port on 127.0.0.1 (bound and released; the gateway opens it next).
pub async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

impl Gateway {
    /// Pods up, `mesh_yaml` (built with the pods' port) compiled, the gateway reconciled.
    pub async fn new(mesh_yaml: impl FnOnce(u16) -> String) -> Self {
        Self::with_tunnel(mesh_yaml, None).await
    }

    /// [`Gateway::new`] whose upstream connections to meshed pods go through `tunnel`.
    pub async fn with_tunnel(
        mesh_yaml: impl FnOnce(u16) -> String,
        tunnel: Option<GatewayTunnel>,
    ) -> Self {
        let pods = [("127.0.0.2", "frontend"), ("127.0.0.3", "backend")];
        let (pod_port, _) = healthy_on_one_port(&pods).await;
        let config = ConfigState::default();
        apply(&config, &cluster_yaml(pod_port, &mesh_yaml(pod_port)));
        let mut registry = Registry::default();
        // The upstream pods live on loopback here; every other node-local address is refused.
        let exempt = pods.iter().map(|(ip, _)| ip.parse().unwrap()).collect();
        let node_local = NodeLocalGuard::register(&mut registry, exempt);
        let caps = std::sync::Arc::new(ConnectionCaps::default());
        let inputs = GatewayInputs {
            node_local: std::sync::Arc::new(node_local),
            config: config.clone(),
            http: HttpInputs::register(&mut registry, DEFAULT_DETECT_WINDOW),
            sockets: UpstreamSockets {
                connect_timeout: Duration::from_secs(5),
            },
            labels: GatewayLabels::default(),
            address: [127, 0, 0, 1].into(),
            timeouts: TIMEOUTS,
            caps: caps.clone(),
            account: None,
            tunnel,
        };
        let mut gateway = IngressGateway::new(inputs).unwrap();
        gateway.reconcile().await;
        Self {
            gateway,
            config,
            registry,
            pod_port,
            caps,
        }
    }

    /// Compiles `mesh_yaml` (with the cluster) and reconciles the gateway.
    pub async fn reconfigure(&mut self, mesh_yaml: &str) {
        apply(&self.config, &cluster_yaml(self.pod_port, mesh_yaml));
        self.gateway.reconcile().await;
    }

    /// The ports open now.
    pub fn ports(&self) -> BTreeMap<u16, SocketAddr> {
        self.gateway.ports()
    }

    /// `GET path` with `Host: host` to gateway port `port` over HTTP/1.1.
    pub async fn get(&self, port: u16, host: &str, path: &str) -> Answer {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        get_over(stream, host, path).await
    }

    /// The registry's text.
    pub fn metrics(&self) -> String {
        super::metrics::text(&self.registry)
    }
}
