//! Shared pieces of the agent's in-process tests: fake capture layer, echo servers, temp dirs.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mesh_agent::capture::{CapturedPod, OriginalDsts, PodCapture};
use mesh_agent::net::Netns;
use mesh_agent::net::{ProxiedPod, UpstreamSockets};
use mesh_agent::pipeline::ConfigState;
use mesh_agent::proxy::{ProxyInputs, TcpMetrics};
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// A test guard against hangs; never asserted on.
pub const GUARD: Duration = Duration::from_secs(10);

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
    fn take(&self, netns_cookie: u64, source_port: u16) -> Option<SocketAddr> {
        let taken = self
            .by_port
            .lock()
            .unwrap()
            .remove(&(netns_cookie, source_port));
        taken.or_else(|| self.any_port.lock().unwrap().get(&netns_cookie).copied())
    }
}

/// `PodCapture` that records the enrolled cookies, or refuses every pod.
#[derive(Default)]
pub struct FakePodCapture {
    pub enrolled: Mutex<Vec<u64>>,
    pub refuse: bool,
}

impl PodCapture for FakePodCapture {
    fn enroll(&self, pod: &CapturedPod<'_>) -> anyhow::Result<()> {
        anyhow::ensure!(!self.refuse, "map full");
        self.enrolled.lock().unwrap().push(pod.netns_cookie);
        Ok(())
    }
    fn unenroll(&self, netns_cookie: u64) -> anyhow::Result<()> {
        self.enrolled.lock().unwrap().retain(|c| *c != netns_cookie);
        Ok(())
    }
}

/// The configuration compiled from YAML text, as the pipeline would swap it in.
pub fn config(yaml: &str) -> ConfigState {
    let path = Path::new("test.yaml");
    let documents = mesh_agent::document::parse_documents(path, yaml).unwrap();
    let update = mesh_agent::document::SourceUpdate {
        resources: Arc::new(documents),
        problems: Default::default(),
    };
    let state = ConfigState::default();
    let reload = state.apply(&update);
    let errors: Vec<String> = reload
        .problems
        .iter()
        .filter(|p| p.is_error())
        .map(|p| p.to_string())
        .collect();
    assert!(errors.is_empty(), "test configuration rejected: {errors:?}");
    state
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
        local_pods: Default::default(),
        http: mesh_agent::http::HttpInputs::register(
            &mut registry,
            mesh_agent::http::DEFAULT_DETECT_WINDOW,
        ),
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
        netns,
        netns_cookie,
    })
}

/// A server on `addr` that reads until the client half-closes, then answers `<name>:<input>`
/// and closes.
pub async fn echo_server(addr: SocketAddr, name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind(addr).await.unwrap();
    let bound = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut input = Vec::new();
                stream.read_to_end(&mut input).await.unwrap();
                let mut answer = format!("{name}:").into_bytes();
                answer.extend_from_slice(&input);
                stream.write_all(&answer).await.unwrap();
            });
        }
    });
    bound
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

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("mesh-agent-{tag}-{}-{n}", std::process::id());
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
