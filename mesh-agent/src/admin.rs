//! The agent's small HTTP endpoints: Prometheus `/metrics` (port 15020), `/healthz/ready` and
//! `/healthz/live` (port 15021) and the admin `/config_dump`, `/clusters`, `/logging` on a Unix
//! socket (`admin_socket.rs`).

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
use tokio::io::{AsyncRead, AsyncWrite};

use crate::admin_routes::AgentEndpoints;
use crate::admin_socket::AdminSocket;
use crate::drain::{Drain, Phase};
use crate::lifecycle::{Liveness, TaskHealth};
use crate::pipeline::ConfigState;

/// What a path answers: status, content type, body.
pub type Reply = (StatusCode, &'static str, String);

/// Maps a request path to its reply.
pub type Routes = Arc<dyn Fn(&str) -> Reply + Send + Sync>;

/// Whether the agent can do its job: capture attached, configuration loaded, not draining, no
/// essential task ended; and, with a watchdog, whether it is live.
pub struct Readiness {
    capture_attached: AtomicBool,
    config: ConfigState,
    drain: Drain,
    tasks: TaskHealth,
    liveness: Option<Liveness>,
}

impl Readiness {
    /// Not ready until capture is attached and `config` holds a first snapshot.
    pub fn new(config: ConfigState) -> Self {
        Self {
            capture_attached: AtomicBool::new(false),
            config,
            drain: Drain::default(),
            tasks: TaskHealth::default(),
            liveness: None,
        }
    }

    /// Also unready once `drain` leaves serving or an essential task of `tasks` ends; `/healthz/live`
    /// answers from `liveness`.
    pub fn watching(mut self, drain: Drain, tasks: TaskHealth, liveness: Liveness) -> Self {
        self.drain = drain;
        self.tasks = tasks;
        self.liveness = Some(liveness);
        self
    }

    /// Records whether the capture programs are attached.
    pub fn set_capture_attached(&self, attached: bool) {
        self.capture_attached.store(attached, Ordering::Relaxed);
    }

    /// Whether the agent is ready.
    pub fn is_ready(&self) -> bool {
        self.capture_attached.load(Ordering::Relaxed)
            && self.config.is_loaded()
            && self.drain.phase() == Phase::Serving
            && self.tasks.ended().is_empty()
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

/// `/healthz/ready`: 200 when ready, else 503. `/healthz/live` (with a watchdog): 200 while the
/// data path makes progress and no essential task ended, else 503 saying what is wrong.
pub fn ready_routes(readiness: Arc<Readiness>) -> Routes {
    Arc::new(move |path| match path {
        "/healthz/ready" if readiness.is_ready() => (StatusCode::OK, TEXT, "ready\n".into()),
        "/healthz/ready" => (StatusCode::SERVICE_UNAVAILABLE, TEXT, "not ready\n".into()),
        "/healthz/live" => match readiness.liveness.as_ref().map(Liveness::check) {
            Some(Ok(())) => (StatusCode::OK, TEXT, "live\n".into()),
            Some(Err(why)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                TEXT,
                format!("not live: {why}\n"),
            ),
            None => not_found(),
        },
        _ => not_found(),
    })
}

/// `/config_dump`: the snapshot in force as JSON, rejected resources and their reasons, and
/// the problems of the last reload.
pub fn config_dump_routes(config: ConfigState) -> Routes {
    Arc::new(move |path| match path {
        "/config_dump" => match crate::pipeline::config_dump(&config) {
            Ok(json) => (StatusCode::OK, JSON, json),
            Err(error) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                TEXT,
                format!("encoding failed: {error}\n"),
            ),
        },
        _ => not_found(),
    })
}

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";

fn not_found() -> Reply {
    (StatusCode::NOT_FOUND, TEXT, "not found\n".into())
}

/// An HTTP/1 server answering from a [`Routes`] table, on a TCP port or a Unix socket.
pub struct AdminServer {
    listener: Listener,
    routes: Routes,
    agent_endpoints: Option<Arc<AgentEndpoints>>,
}

/// Where an [`AdminServer`] accepts.
enum Listener {
    Tcp(crate::net::Listener),
    Unix(AdminSocket),
}

impl AdminServer {
    /// Binds `addr` in the agent's netns (or takes the listener a predecessor handed over).
    pub async fn new(addr: SocketAddr, routes: Routes) -> io::Result<Self> {
        let listener = crate::net::listen(&crate::net::Netns::current()?, addr).await?;
        Ok(Self::on(Listener::Tcp(listener), routes))
    }

    /// Binds the Unix socket `path` (root peers only, see [`AdminSocket`]).
    pub fn unix(path: &std::path::Path, routes: Routes) -> io::Result<Self> {
        Ok(Self::on(Listener::Unix(AdminSocket::bind(path)?), routes))
    }

    fn on(listener: Listener, routes: Routes) -> Self {
        Self {
            listener,
            routes,
            agent_endpoints: None,
        }
    }

    /// Also answers `/logging` and `/stats/prometheus` (they see the method and query).
    pub fn with_agent_endpoints(mut self, endpoints: AgentEndpoints) -> Self {
        self.agent_endpoints = Some(Arc::new(endpoints));
        self
    }

    /// Where it listens: the bound address, or the socket's path.
    pub fn address(&self) -> String {
        match &self.listener {
            Listener::Tcp(listener) => listener
                .local_addr()
                .expect("a bound listener has an address")
                .to_string(),
            Listener::Unix(socket) => socket.path().display().to_string(),
        }
    }

    /// The bound TCP address (none on a Unix socket).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match &self.listener {
            Listener::Tcp(listener) => listener.local_addr().ok(),
            Listener::Unix(_) => None,
        }
    }

    /// Serves until the task is dropped.
    pub async fn run(self) {
        let mut backoff = crate::net::AcceptBackoff::default();
        loop {
            match &self.listener {
                Listener::Tcp(listener) => match listener.accept().await {
                    Ok((stream, _)) => {
                        backoff.reset();
                        self.serve(stream);
                    }
                    Err(error) => backoff.after(&error, "-", "admin").await,
                },
                Listener::Unix(socket) => match socket.accept().await {
                    Ok((stream, Ok(()))) => self.serve(stream),
                    Ok((stream, Err(refusal))) => serve_refused(stream, refusal),
                    Err(error) => tracing::debug!(%error, "admin socket accept failed"),
                },
            }
        }
    }

    /// Answers one client's requests on a task of its own.
    fn serve<S>(&self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        serve_with(stream, self.routes.clone(), self.agent_endpoints.clone());
    }
}

/// Answers every request of a client the socket refused with 403 and why.
fn serve_refused<S>(stream: S, refusal: String)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let forbidden: Routes =
        Arc::new(move |_| (StatusCode::FORBIDDEN, TEXT, format!("{refusal}\n")));
    serve_with(stream, forbidden, None);
}

/// Serves HTTP/1 on `stream` from `routes` (and `endpoints`) on a task of its own.
fn serve_with<S>(stream: S, routes: Routes, endpoints: Option<Arc<AgentEndpoints>>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let service = service_fn(move |request| answer(routes.clone(), endpoints.clone(), request));
        let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
        if let Err(error) = connection.await {
            tracing::debug!(%error, "admin connection failed");
        }
    });
}

async fn answer(
    routes: Routes,
    endpoints: Option<Arc<AgentEndpoints>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let uri = request.uri();
    let (status, content_type, body) = endpoints
        .and_then(|e| e.answer(request.method(), uri.path(), uri.query()))
        .unwrap_or_else(|| routes(uri.path()));
    let response = Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("a static response builds");
    Ok(response)
}
