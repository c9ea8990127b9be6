//! The ingress gateway's listeners, kept in step with the configuration: on each snapshot the
//! plan is recomputed; ports no longer wanted are closed, new ones opened, and the ports that
//! stay keep their listener (only what they serve is swapped).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::task::JoinHandle;

use super::identity::GatewayServiceAccount;
use super::listener::{GatewayListener, GatewayShared, PortState};
use super::selection::{GatewayLabels, GatewayPlan, PortPlan, PortProtocol};
use super::timeouts::GatewayTimeouts;
use super::tls;
use super::tunnel::{GatewayIdentity, GatewayTunnel};
use crate::http::{HttpInputs, Pool};
use crate::net::Netns;
use crate::net::{NodeLocalGuard, UpstreamSockets};
use crate::pipeline::ConfigState;
use crate::snapshot::Snapshot;

/// How often the agent looks for a new snapshot to reconcile the listeners with.
pub const GATEWAY_REFRESH: Duration = Duration::from_millis(200);

/// What the gateway needs from the agent.
pub struct GatewayInputs {
    /// The configuration in force.
    pub config: ConfigState,
    /// The request stack's shared parts.
    pub http: Arc<HttpInputs>,
    /// How upstream connections are opened.
    pub sockets: UpstreamSockets,
    /// What every upstream connection is checked against first: never node-local.
    pub node_local: Arc<NodeLocalGuard>,
    /// The agent's gateway labels, matched against Gateway selectors.
    pub labels: GatewayLabels,
    /// The address the ports are opened on (`0.0.0.0`: the node's every address).
    pub address: IpAddr,
    /// The TLS handshake and request-header limits of every port.
    pub timeouts: GatewayTimeouts,
    /// The agent's caps: TLS handshakes a second per client address.
    pub caps: Arc<crate::proxy::ConnectionCaps>,
    /// The ServiceAccount the gateway runs as (`None`: Istio's, in the root namespace).
    pub account: Option<GatewayServiceAccount>,
    /// The mTLS tunnel to meshed pods of other nodes (`None`: no certificates, plain text).
    pub tunnel: Option<GatewayTunnel>,
}

/// The ingress gateway of this node: one listener per port of the Gateways that select it.
pub struct IngressGateway {
    labels: GatewayLabels,
    address: IpAddr,
    shared: Arc<GatewayShared>,
    open: BTreeMap<u16, OpenPort>,
    skipped: Vec<String>,
}

/// A listening port: what it serves and its accept task (aborted, closing it, when dropped).
struct OpenPort {
    state: Arc<ArcSwap<PortState>>,
    address: SocketAddr,
    accept: JoinHandle<()>,
}

impl OpenPort {
    /// Stops accepting and waits until the listener is closed: once a reconcile returns, a
    /// removed port refuses connections (an aborted task alone drops its listener later).
    async fn close(mut self) {
        self.accept.abort();
        let _ = (&mut self.accept).await;
        tracing::info!(address = %self.address, "gateway port closed");
    }
}

impl Drop for OpenPort {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl IngressGateway {
    /// A gateway with no port open yet; upstream connections leave from the agent's netns.
    pub fn new(inputs: GatewayInputs) -> std::io::Result<Self> {
        let guard = Some(inputs.node_local);
        let identity = GatewayIdentity {
            labels: inputs.labels.clone(),
            account: inputs.account,
        };
        let tunnel = inputs
            .tunnel
            .map(|t| identity.pool_tunnel(inputs.config.clone(), t));
        let tunnelled = tunnel.is_some();
        let pool = Pool::with(Netns::current()?, inputs.sockets, tunnel, guard);
        let shared = GatewayShared {
            config: inputs.config,
            http: inputs.http,
            pool,
            identity,
            tunnelled,
            timeouts: inputs.timeouts,
            caps: inputs.caps,
        };
        Ok(Self {
            labels: inputs.labels,
            address: inputs.address,
            shared: Arc::new(shared),
            open: BTreeMap::new(),
            skipped: Vec::new(),
        })
    }

    /// The ports listening now, with their addresses.
    pub fn ports(&self) -> BTreeMap<u16, SocketAddr> {
        self.open.iter().map(|(p, o)| (*p, o.address)).collect()
    }

    /// Brings the listeners in line with the snapshot in force.
    pub async fn reconcile(&mut self) {
        let snapshot = self.shared.config.snapshot();
        let plan = GatewayPlan::of(&snapshot, &self.labels);
        if plan.skipped != self.skipped {
            plan.skipped
                .iter()
                .for_each(|s| tracing::warn!("gateway: {s}"));
            self.skipped = plan.skipped.clone();
        }
        let wanted: BTreeMap<u16, PortState> = plan
            .ports
            .into_iter()
            .filter_map(|(port, plan)| Some((port, port_state(port, plan, &snapshot)?)))
            .collect();
        let gone: Vec<u16> = self
            .open
            .keys()
            .filter(|port| !wanted.contains_key(port))
            .copied()
            .collect();
        for port in gone {
            if let Some(open) = self.open.remove(&port) {
                open.close().await;
            }
        }
        for (port, state) in wanted {
            match self.open.get(&port) {
                Some(open) => open.state.store(Arc::new(state)),
                None => self.open_port(port, state).await,
            }
        }
    }

    async fn open_port(&mut self, port: u16, state: PortState) {
        let address = SocketAddr::new(self.address, port);
        let state = Arc::new(ArcSwap::from_pointee(state));
        let listener = GatewayListener::new(address, state.clone(), self.shared.clone()).await;
        let listener = match listener {
            Ok(listener) => listener,
            Err(error) => return tracing::warn!(%address, %error, "gateway port not opened"),
        };
        let address = listener.address().unwrap_or(address);
        tracing::info!(%address, "gateway port open");
        let accept = tokio::spawn(listener.run());
        let open = OpenPort {
            state,
            address,
            accept,
        };
        self.open.insert(port, open);
    }

    /// Reconciles on every new snapshot until the task is dropped; the ports close with it.
    pub async fn run(mut self, refresh: Duration) {
        let mut seen = None;
        let mut tick = tokio::time::interval(refresh);
        loop {
            tick.tick().await;
            let generation = self.shared.config.generation();
            if seen != Some(generation) {
                seen = Some(generation);
                self.reconcile().await;
            }
        }
    }
}

/// What `port` serves under `plan`; `None` for an HTTPS port without any usable certificate.
fn port_state(port: u16, plan: PortPlan, snapshot: &Snapshot) -> Option<PortState> {
    if plan.protocol == PortProtocol::Http {
        return Some(PortState { plan, tls: None });
    }
    let (acceptor, problems) = tls::acceptor(&plan.servers, snapshot);
    for problem in &problems {
        tracing::warn!(port, %problem, "gateway server certificate not loaded");
    }
    let tls = acceptor?;
    Some(PortState {
        plan,
        tls: Some(tls),
    })
}
