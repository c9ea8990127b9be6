//! The agent's proxy stack in-process on loopback: a fake capture layer (original
//! destinations a test registers, pods enrolled in a list), the proxy inputs and their metrics
//! registry, pods living in the test's own netns, and clients whose connections the outbound
//! listener of such a pod captures.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use mesh_agent::capture::{CapturedPod, OriginalDsts, PodCapture};
use mesh_agent::net::Netns;
use mesh_agent::net::{ProxiedPod, UpstreamSockets};
use mesh_agent::pipeline::ConfigState;
pub use mesh_agent::pods::{EnrolledPods, ListenAddrs};
pub use mesh_agent::proxy::ProxyInputs;
use mesh_agent::proxy::{ConnectionCaps, TcpMetrics};
use mesh_agent::proxy::{Inbound, Outbound};
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use super::GUARD;

/// `OriginalDsts` backed by a map the test fills, plus an optional destination for every port
/// of one netns.
#[derive(Default)]
pub struct FakeOriginalDsts {
    by_port: Mutex<HashMap<(u64, u16), SocketAddr>>,
    any_port: Mutex<HashMap<u64, SocketAddr>>,
}

impl FakeOriginalDsts {
    pub fn insert(&self, cookie: u64, port: u16, dst: SocketAddr) {
        self.by_port.lock().unwrap().insert((cookie, port), dst);
    }
    pub fn insert_any_port(&self, cookie: u64, dst: SocketAddr) {
        self.any_port.lock().unwrap().insert(cookie, dst);
    }
    pub fn len(&self) -> usize {
        self.by_port.lock().unwrap().len()
    }
}

impl OriginalDsts for FakeOriginalDsts {
    fn take(&self, netns_cookie: u64, peer: SocketAddr) -> Option<SocketAddr> {
        let taken = self
            .by_port
            .lock()
            .unwrap()
            .remove(&(netns_cookie, peer.port()));
        taken.or_else(|| self.any_port.lock().unwrap().get(&netns_cookie).copied())
    }
}

/// `PodCapture` that records the enrolled cookies and the pod IPs given an inbound listener, or
/// refuses every pod.
#[derive(Default)]
pub struct FakePodCapture {
    pub enrolled: Mutex<Vec<u64>>,
    pub inbound_ips: Mutex<Vec<std::net::IpAddr>>,
    pub refuse: bool,
}

impl PodCapture for FakePodCapture {
    fn enroll(&self, pod: &CapturedPod<'_>) -> anyhow::Result<()> {
        anyhow::ensure!(!self.refuse, "map full");
        self.enrolled.lock().unwrap().push(pod.netns_cookie);
        self.inbound_ips.lock().unwrap().extend(pod.pod_ips());
        Ok(())
    }
    fn unenroll(&self, netns_cookie: u64) -> anyhow::Result<()> {
        self.enrolled.lock().unwrap().retain(|c| *c != netns_cookie);
        Ok(())
    }
}

/// Proxy inputs with fakes and no socket mark, and the registry their metrics are in.
pub fn inputs(config: ConfigState) -> (Arc<ProxyInputs>, Arc<FakeOriginalDsts>, Registry) {
    let mut registry = Registry::default();
    let dsts = Arc::new(FakeOriginalDsts::default());
    let inputs = Arc::new(ProxyInputs {
        original_dsts: dsts.clone(),
        config,
        metrics: TcpMetrics::register(&mut registry),
        sockets: UpstreamSockets {
            connect_timeout: Duration::from_secs(5),
        },
        on_outbound_accept: None,
        splice: None,
        local_pods: Default::default(),
        tunnels: None,
        http: mesh_agent::http::HttpInputs::register(
            &mut registry,
            mesh_agent::http::DEFAULT_DETECT_WINDOW,
        ),
        caps: Arc::new(ConnectionCaps::default().register(&mut registry)),
        direct_connect_warnings: Arc::default(),
    });
    (inputs, dsts, registry)
}

/// A pod living in the test's own netns.
pub async fn current_pod(namespace: &str, name: &str, ip: &str) -> Arc<ProxiedPod> {
    let netns = Netns::current().unwrap();
    let netns_cookie = netns.cookie().await.unwrap();
    Arc::new(ProxiedPod {
        namespace: namespace.into(),
        name: name.into(),
        ip: ip.parse().unwrap(),
        ips: vec![ip.parse().unwrap()],
        netns,
        netns_cookie,
    })
}

/// Connects to `proxy` from a port registered first as captured towards `dst`.
pub async fn captured_connect(
    proxy: SocketAddr,
    dsts: &FakeOriginalDsts,
    cookie: u64,
    dst: SocketAddr,
) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = socket.local_addr().unwrap().port();
    dsts.insert(cookie, port, dst);
    socket.connect(proxy).await.unwrap()
}

/// Sends `input`, half-closes, reads the whole answer.
pub async fn exchange(mut stream: TcpStream, input: &[u8]) -> std::io::Result<Vec<u8>> {
    stream.write_all(input).await?;
    stream.shutdown().await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    Ok(answer)
}

/// A request body for the clients.
pub type RequestBody = BoxBody<Bytes, std::convert::Infallible>;

/// The proxy stack of one agent: its inputs (fake capture layer), the original destinations
/// tests register, the registry its metrics are in.
pub struct Agent {
    pub inputs: Arc<ProxyInputs>,
    pub dsts: Arc<FakeOriginalDsts>,
    pub registry: Registry,
}

impl Agent {
    /// An agent reading `config`.
    pub fn new(config: ConfigState) -> Self {
        let (inputs, dsts, registry) = inputs(config);
        Self {
            inputs,
            dsts,
            registry,
        }
    }

    /// An agent reading `config` whose tunnels take their certificates from `certificates`
    /// (destination pods' tunnel port: 15008).
    pub fn with_tunnels(
        config: ConfigState,
        certificates: Arc<dyn mesh_agent::identity::WorkloadCertificates>,
    ) -> Self {
        let settings = mesh_agent::tunnel::TunnelSettings::default();
        Self::with_tunnel_settings(config, certificates, settings)
    }

    /// [`Agent::with_tunnels`] with `settings` (idle timeout, streams per connection).
    pub fn with_tunnel_settings(
        config: ConfigState,
        certificates: Arc<dyn mesh_agent::identity::WorkloadCertificates>,
        settings: mesh_agent::tunnel::TunnelSettings,
    ) -> Self {
        let (inputs, dsts, registry) = inputs(config);
        let mut inputs = Arc::into_inner(inputs).unwrap();
        inputs.tunnels = Some(Arc::new(mesh_agent::tunnel::Tunnels::new(
            certificates,
            settings,
        )));
        Self {
            inputs: Arc::new(inputs),
            dsts,
            registry,
        }
    }

    /// The inbound listener of pod `shop/<name>` bound at `ip`:15008, the tunnel port (as
    /// `sk_lookup` steers a connection to it), started: its address.
    pub async fn tunnel_inbound(&self, name: &str, ip: &str) -> SocketAddr {
        let pod = current_pod("shop", name, ip).await;
        let addr = SocketAddr::new(ip.parse().unwrap(), mesh_agent::tunnel::HBONE_PORT);
        let inbound = Inbound::new(pod, self.inputs.clone(), addr).await.unwrap();
        tokio::spawn(inbound.run());
        addr
    }

    /// The same agent, its inputs changed by `edit` (before any listener starts).
    pub fn with_inputs(self, edit: impl FnOnce(ProxyInputs) -> ProxyInputs) -> Self {
        let inputs = Arc::into_inner(self.inputs).expect("no listener started yet");
        Self {
            inputs: Arc::new(edit(inputs)),
            ..self
        }
    }

    /// The outbound listener of the client pod `shop/sleep-0` (127.0.0.1), started.
    pub async fn sleep(&self) -> Client {
        self.outbound("sleep-0", "127.0.0.1").await
    }

    /// The outbound listener of pod `shop/<name>` at `ip`, living in the test's netns.
    pub async fn outbound(&self, name: &str, ip: &str) -> Client {
        let pod = current_pod("shop", name, ip).await;
        let cookie = pod.netns_cookie;
        let outbound = Outbound::new(pod, self.inputs.clone(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let proxy = outbound.address();
        tokio::spawn(outbound.run());
        Client {
            proxy,
            dsts: self.dsts.clone(),
            cookie,
        }
    }

    /// The inbound listener of pod `shop/<name>` at `ip` on 127.0.0.1, started: its address.
    pub async fn inbound(&self, name: &str, ip: &str) -> SocketAddr {
        let pod = current_pod("shop", name, ip).await;
        let inbound = Inbound::new(pod, self.inputs.clone(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let address = inbound.address();
        tokio::spawn(inbound.run());
        address
    }

    /// The pods enrolled with this agent through `capture`, their listeners on `listen` in
    /// each pod's netns.
    pub fn enrolled_pods(
        &mut self,
        capture: Arc<FakePodCapture>,
        listen: ListenAddrs,
    ) -> EnrolledPods {
        EnrolledPods::new(capture, self.inputs.clone(), listen, &mut self.registry)
    }

    /// The agent's shutdown phase, shared by its listeners and connections.
    pub fn drain(&self) -> mesh_agent::drain::Drain {
        self.inputs.http.drain.clone()
    }

    /// The access log of this agent, every line kept (the receiver gets them).
    pub fn access_log(
        &self,
    ) -> tokio::sync::mpsc::Receiver<mesh_agent::access_log::AccessLogEntry> {
        use mesh_agent::access_log::{AccessLog, AccessLogMetrics};
        let (log, lines) = AccessLog::bounded(16, &AccessLogMetrics::default());
        self.inputs.http.observers.set_access_log(Some(log));
        lines
    }

    /// The registry's text, as `/metrics` serves it.
    pub fn metrics(&self) -> String {
        super::metrics::text(&self.registry)
    }
}

/// A client pod: its connections are captured to its outbound listener.
pub struct Client {
    pub proxy: SocketAddr,
    pub dsts: Arc<FakeOriginalDsts>,
    pub cookie: u64,
}

impl Client {
    /// A connection to `dst` (`ip:port`), captured.
    pub async fn connect(&self, dst: &str) -> TcpStream {
        let dst = dst.parse().unwrap();
        captured_connect(self.proxy, &self.dsts, self.cookie, dst).await
    }

    /// An HTTP/1.1 connection to `dst`, captured (upgrades allowed).
    pub async fn http1(&self, dst: &str) -> http1::SendRequest<RequestBody> {
        let io = TokioIo::new(self.connect(dst).await);
        let (sender, connection) = http1::handshake(io).await.unwrap();
        tokio::spawn(connection.with_upgrades());
        sender
    }

    /// An HTTP/2 (prior knowledge) connection to `dst`, captured.
    pub async fn http2(&self, dst: &str) -> http2::SendRequest<RequestBody> {
        let io = TokioIo::new(self.connect(dst).await);
        let (sender, connection) = http2::handshake(TokioExecutor::new(), io).await.unwrap();
        tokio::spawn(connection);
        sender
    }

    /// Sends `input` to `dst` on a captured connection, half-closes, reads the whole answer.
    pub async fn exchange(&self, dst: &str, input: &[u8]) -> std::io::Result<Vec<u8>> {
        let stream = self.connect(dst).await;
        tokio::time::timeout(GUARD, exchange(stream, input))
            .await
            .expect("no hang")
    }
}
