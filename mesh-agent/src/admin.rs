//! The agent's small HTTP endpoints: Prometheus `/metrics` (port 15020) and `/healthz/ready`
//! (port 15021).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use crate::discovery::Discovery;

/// What a path answers: status, content type, body.
pub type Reply = (StatusCode, &'static str, String);

/// Maps a request path to its reply.
pub type Routes = Arc<dyn Fn(&str) -> Reply + Send + Sync>;

/// Whether the agent can do its job: capture attached and configuration loaded.
pub struct Readiness {
    capture_attached: AtomicBool,
    discovery: Discovery,
}

impl Readiness {
    /// Not ready until capture is attached and `discovery` has loaded.
    pub fn new(discovery: Discovery) -> Self {
        Self {
            capture_attached: AtomicBool::new(false),
            discovery,
        }
    }

    /// Records whether the capture programs are attached.
    pub fn set_capture_attached(&self, attached: bool) {
        self.capture_attached.store(attached, Ordering::Relaxed);
    }

    /// Whether the agent is ready.
    pub fn is_ready(&self) -> bool {
        self.capture_attached.load(Ordering::Relaxed) && self.discovery.is_loaded()
    }
}

/// `/metrics`: `registry` in the text format.
pub fn metrics_routes(registry: Arc<Registry>) -> Routes {
    Arc::new(move |path| match path {
        "/metrics" => match crate::metrics::encode(&registry) {
            Ok(text) => (StatusCode::OK, crate::metrics::CONTENT_TYPE, text),
            Err(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                TEXT,
                "encoding failed\n".into(),
            ),
        },
        _ => not_found(),
    })
}

/// `/healthz/ready`: 200 when ready, else 503.
pub fn ready_routes(readiness: Arc<Readiness>) -> Routes {
    Arc::new(move |path| match path {
        "/healthz/ready" if readiness.is_ready() => (StatusCode::OK, TEXT, "ready\n".into()),
        "/healthz/ready" => (StatusCode::SERVICE_UNAVAILABLE, TEXT, "not ready\n".into()),
        _ => not_found(),
    })
}

const TEXT: &str = "text/plain; charset=utf-8";

fn not_found() -> Reply {
    (StatusCode::NOT_FOUND, TEXT, "not found\n".into())
}

/// An HTTP/1 server answering from a [`Routes`] table.
pub struct AdminServer {
    listener: TcpListener,
    routes: Routes,
}

impl AdminServer {
    /// Binds `addr`.
    pub async fn new(addr: SocketAddr, routes: Routes) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self { listener, routes })
    }

    /// The bound address.
    pub fn address(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until the task is dropped.
    pub async fn run(self) {
        loop {
            let Ok((stream, _)) = self.listener.accept().await else {
                continue;
            };
            let routes = self.routes.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| answer(routes.clone(), request));
                let connection =
                    http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "admin connection failed");
                }
            });
        }
    }
}

async fn answer(
    routes: Routes,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, content_type, body) = routes(request.uri().path());
    let response = Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("a static response builds");
    Ok(response)
}
