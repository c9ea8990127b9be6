//! The ingress gateway tests' harness, in-process on loopback: backend pods that say who they
//! are (`frontend` at 127.0.0.2, `backend` at 127.0.0.3), their Services, a Gateway and
//! VirtualServices given by each test, and an [`IngressGateway`] listening on 127.0.0.1.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use mesh_agent::document::SourceUpdate;
use mesh_agent::gateway::{GatewayInputs, GatewayLabels, IngressGateway};
use mesh_agent::http::{HttpInputs, DEFAULT_DETECT_WINDOW};
use mesh_agent::net::UpstreamSockets;
use mesh_agent::pipeline::ConfigState;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

/// A gateway under test and what it reads.
pub struct Harness {
    pub gateway: IngressGateway,
    pub config: ConfigState,
    pub registry: Registry,
    /// The port the upstream pods listen on.
    pub pod_port: u16,
}

/// What a backend pod answered.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// Serves `name` on `addr`: answers `<name> <uri> host=<host>`.
pub async fn pod(addr: SocketAddr, name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind(addr).await.unwrap();
    let bound = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = hyper::service::service_fn(move |r| answer(r, name));
            tokio::spawn(async move {
                let builder = auto::Builder::new(TokioExecutor::new());
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    bound
}

async fn answer(
    request: Request<Incoming>,
    name: &str,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let host = request.headers().get("host").and_then(|h| h.to_str().ok());
    let host = host.map(String::from).unwrap_or_default();
    let text = format!("{name} {} host={host}", request.uri());
    Ok(Response::new(Full::new(Bytes::from(text))))
}

/// Services `frontend` (10.96.0.20) and `backend` (10.96.0.30) in `shop`, port 80 to the
/// pods' `port`; then `mesh_yaml`.
pub fn cluster_yaml(port: u16, mesh_yaml: &str) -> String {
    let app = |name: &str, cluster_ip: &str, pod_ip: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: shop}}\n\
             spec:\n  clusterIP: {cluster_ip}\n  selector: {{app: {name}}}\n\
             \x20 ports: [{{name: http, port: 80, targetPort: {port}}}]\n---\n\
             apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}-0, namespace: shop, \
             labels: {{app: {name}}}}}\nstatus: {{podIP: {pod_ip}}}\n---\n"
        )
    };
    app("frontend", "10.96.0.20", "127.0.0.2")
        + &app("backend", "10.96.0.30", "127.0.0.3")
        + mesh_yaml
}

/// A Gateway `shop/web` selecting `selector`, with `servers` (YAML under `servers:`).
pub fn gateway(selector: &str, servers: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: Gateway\n\
         metadata: {{name: web, namespace: shop}}\nspec:\n  selector: {{{selector}}}\n\
         \x20 servers:\n{servers}---\n"
    )
}

/// An HTTP server on `port` for `hosts` (flow list).
pub fn http_server(port: u16, hosts: &str) -> String {
    format!("  - port: {{number: {port}, name: http-{port}, protocol: HTTP}}\n    hosts: {hosts}\n")
}

/// A VirtualService `shop/<name>` for `hosts`, bound to `gateways`, with `http` rules.
pub fn virtual_service(name: &str, hosts: &str, gateways: &str, http: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\n\
         metadata: {{name: {name}, namespace: shop}}\nspec:\n  hosts: {hosts}\n\
         \x20 gateways: {gateways}\n  http:\n{http}---\n"
    )
}

/// A free port on 127.0.0.1 (bound and released; the gateway opens it next).
pub async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// A configuration compiled from `yaml`, which must be valid.
pub fn update(config: &ConfigState, yaml: &str) {
    let documents = mesh_agent::document::parse_documents(Path::new("test.yaml"), yaml).unwrap();
    let update = SourceUpdate {
        resources: Arc::new(documents),
        problems: Default::default(),
    };
    let reload = config.apply(&update);
    let errors: Vec<String> = reload
        .problems
        .iter()
        .filter(|p| p.is_error())
        .map(|p| p.to_string())
        .collect();
    assert!(errors.is_empty(), "test configuration rejected: {errors:?}");
}

impl Harness {
    /// Pods up, `mesh_yaml` (built with the pods' port) compiled, the gateway reconciled.
    pub async fn new(mesh_yaml: impl FnOnce(u16) -> String) -> Self {
        let frontend = pod("127.0.0.2:0".parse().unwrap(), "frontend").await;
        pod(
            SocketAddr::new([127, 0, 0, 3].into(), frontend.port()),
            "backend",
        )
        .await;
        let pod_port = frontend.port();
        let config = ConfigState::default();
        update(&config, &cluster_yaml(pod_port, &mesh_yaml(pod_port)));
        let mut registry = Registry::default();
        let inputs = GatewayInputs {
            config: config.clone(),
            http: HttpInputs::register(&mut registry, DEFAULT_DETECT_WINDOW),
            sockets: UpstreamSockets {
                connect_timeout: Duration::from_secs(5),
            },
            labels: GatewayLabels::default(),
            address: [127, 0, 0, 1].into(),
        };
        let mut gateway = IngressGateway::new(inputs).unwrap();
        gateway.reconcile().await;
        Self {
            gateway,
            config,
            registry,
            pod_port,
        }
    }

    /// Compiles `mesh_yaml` (with the cluster) and reconciles the gateway.
    pub async fn reconfigure(&mut self, mesh_yaml: &str) {
        update(&self.config, &cluster_yaml(self.pod_port, mesh_yaml));
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

    /// Istio's request counter for the labels given, as Prometheus text.
    pub fn metrics(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).unwrap();
        text
    }
}

/// `GET path` with `Host: host` over HTTP/1.1 on `io`.
pub async fn get_over<IO>(io: IO, host: &str, path: &str) -> Answer
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = Request::get(path)
        .header("host", host)
        .body(Empty::<Bytes>::new())
        .unwrap();
    read(sender.send_request(request).await.unwrap()).await
}

/// Status and body of `response`.
pub async fn read(response: Response<Incoming>) -> Answer {
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Whether `metrics` has a line of `name` with every label of `labels` and value `value`.
pub fn has_sample(metrics: &str, name: &str, labels: &[&str], value: u64) -> bool {
    metrics.lines().any(|line| {
        line.starts_with(name)
            && labels.iter().all(|l| line.contains(l))
            && line.rsplit(' ').next() == Some(&value.to_string())
    })
}
