//! What the telemetry layer and its records share: who talks to whom ([`Peers`]), where a
//! request went ([`Observed`], filled in by the layers below), and a connection's recording
//! context.

use std::sync::{Arc, Mutex};

use super::series;
use crate::facts::Reporter;
use crate::http::metrics::HttpMetrics;
use crate::identity::Identity;
use crate::observe::RequestObservers;
use crate::pipeline::ConfigState;
use crate::snapshot::{Service as MeshService, TelemetryPolicy, Workload};

/// Who a connection's requests come from and, on the inbound side, go to.
#[derive(Clone)]
pub struct Peers {
    /// `source` on the outbound side, `destination` on the inbound side.
    pub reporter: Reporter,
    /// The client's workload, when known.
    pub source: Option<Arc<Workload>>,
    /// The server's workload when it is fixed (inbound: the pod itself); else it is the
    /// workload of the endpoint the balancer picked.
    pub destination: Option<Arc<Workload>>,
    /// The IP of the pod this side serves.
    pub pod_ip: Option<std::net::IpAddr>,
    /// The client's address as the proxy saw it.
    pub downstream: Option<std::net::SocketAddr>,
    /// The identity the client proved (the mTLS tunnel); `None` for plain text. Inbound
    /// authorization matches `principals`, `namespaces` and `source.*` on it.
    pub peer_identity: Option<Identity>,
    /// Whether the hop is in the mTLS tunnel, and the identities it proved.
    pub security: PeerSecurity,
}

/// How a connection's requests are secured between the agents.
#[derive(Clone, Debug, Default)]
pub enum PeerSecurity {
    /// Plain text.
    #[default]
    None,
    /// The inbound side of the tunnel: both identities proved by certificates.
    Tunnelled {
        source: Identity,
        destination: Identity,
    },
    /// The outbound side with tunnels on: a meshed destination is reached through the tunnel,
    /// its identity verified; this is the source's.
    MeshedThroughTunnel { source: Identity },
}

/// Where a request went, filled in by the layers that decide it.
#[derive(Clone, Default)]
pub struct Observed(pub(super) Arc<Mutex<Destination>>);

#[derive(Default)]
pub(super) struct Destination {
    pub(super) service: Option<Arc<MeshService>>,
    pub(super) endpoint: Option<std::net::SocketAddr>,
}

impl Observed {
    /// The route layer's finding: the destination Service.
    pub fn set_service(&self, service: Option<Arc<MeshService>>) {
        self.0.lock().expect("not poisoned").service = service;
    }

    /// The balancer's choice.
    pub fn set_endpoint(&self, endpoint: std::net::SocketAddr) {
        self.0.lock().expect("not poisoned").endpoint = Some(endpoint);
    }
}

/// What recording needs, shared by the requests of one connection.
pub struct TelemetryContext {
    pub(super) metrics: HttpMetrics,
    pub(super) config: ConfigState,
    pub(super) peers: Peers,
    pub(super) observers: RequestObservers,
    /// The connection's last label set and its series.
    pub(super) series: series::SeriesCache,
}

impl TelemetryContext {
    /// The Telemetry settings of this proxy side's workload, from the snapshot in force (so a
    /// changed Telemetry applies to the next request of a kept-alive connection): the pod's by
    /// IP, else those of the workload the peers name, else the mesh-wide ones.
    pub(super) fn local_policy(&self) -> TelemetryPolicy {
        let snapshot = self.config.snapshot();
        if let Some(workload) = self.peers.pod_ip.and_then(|ip| snapshot.workload(ip)) {
            return workload.telemetry;
        }
        let local = match self.peers.reporter {
            Reporter::source => self.peers.source.as_deref(),
            Reporter::destination => self.peers.destination.as_deref(),
        };
        match local {
            Some(w) => snapshot.telemetry_for(&w.namespace, &w.labels),
            None => snapshot.mesh_telemetry(),
        }
    }
}
