//! Upstream pods on loopback: one HTTP/1.1 + HTTP/2 server whose behaviour a test sets and
//! which counts what it sees, a TCP echo server answering once, and one echoing as bytes come.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::HeaderName;
use hyper::{HeaderMap, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// A response body of the upstream.
pub type TestBody = BoxBody<Bytes, Infallible>;

/// How an upstream answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// As its path says (see [`Upstream`]).
    Healthy,
    /// Always this status.
    Always(u16),
    /// This status for the 1st, 3rd, 5th … request, as its path says for the others.
    EveryOther(u16),
    /// Holds each answer until [`Upstream::heal`].
    Hang,
    /// Nothing listens: connections are refused.
    Refusing,
}

/// An HTTP/1.1 + HTTP/2 upstream named `name`. Paths: `/status/N` answers N; `/echo` echoes the
/// body; `/grpc` answers a gRPC-like stream with trailers `grpc-status: 7`; `/stream/*` are
/// streaming calls (see [`super::streaming`]); `/answer-headers?h=v&…` answers with response
/// headers `h: v` …; `/ws` upgrades and echoes bytes; `/authority` answers the request target's
/// authority (HTTP/2 `:authority`; empty for HTTP/1.1 origin-form); anything else answers
/// `<name> <uri> host=<host>`. Every request header `h` comes back as response header `echo-h`.
pub struct Upstream {
    pub name: String,
    /// Where it listens (or, [`Behaviour::Refusing`], would).
    pub address: SocketAddr,
    behaviour: Mutex<Behaviour>,
    release: Notify,
    seen: AtomicUsize,
    accepted: AtomicUsize,
    open: AtomicUsize,
}

impl Upstream {
    /// Serves on `addr` (port 0: any) as `behaviour` says.
    pub async fn start(addr: SocketAddr, name: &str, behaviour: Behaviour) -> Arc<Self> {
        Self::listen(TcpListener::bind(addr).await.unwrap(), name, behaviour)
    }

    /// Serves on `listener` as `behaviour` says (`Refusing`: closes it).
    fn listen(listener: TcpListener, name: &str, behaviour: Behaviour) -> Arc<Self> {
        let upstream = Self::new(listener.local_addr().unwrap(), name, behaviour);
        if behaviour != Behaviour::Refusing {
            tokio::spawn(upstream.clone().serve(listener));
        }
        upstream
    }

    /// A healthy upstream on `addr`.
    pub async fn healthy(addr: SocketAddr, name: &str) -> Arc<Self> {
        Self::start(addr, name, Behaviour::Healthy).await
    }

    fn new(address: SocketAddr, name: &str, behaviour: Behaviour) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_string(),
            address,
            behaviour: Mutex::new(behaviour),
            release: Notify::new(),
            seen: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
            open: AtomicUsize::new(0),
        })
    }

    /// Requests it answered (or holds).
    pub fn seen(&self) -> usize {
        self.seen.load(Ordering::SeqCst)
    }

    /// Connections it accepted.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Waits (within the guard) until no connection to it is open; whether that happened.
    pub async fn all_closed(&self) -> bool {
        let closed = async {
            while self.open() > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(super::GUARD, closed).await.is_ok()
    }

    /// Answers as `behaviour` says from now on (`Refusing` is fixed at start).
    pub fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    /// Answers healthily from now on and releases the answers held.
    pub fn heal(&self) {
        self.set(Behaviour::Healthy);
        self.release.notify_waiters();
    }

    async fn serve(self: Arc<Self>, listener: TcpListener) {
        while let Ok((stream, _)) = listener.accept().await {
            self.accepted.fetch_add(1, Ordering::SeqCst);
            self.open.fetch_add(1, Ordering::SeqCst);
            let upstream = self.clone();
            tokio::spawn(async move {
                let answering = upstream.clone();
                let service = hyper::service::service_fn(move |r| answering.clone().answer(r));
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .await;
                upstream.open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    }

    async fn answer(
        self: Arc<Self>,
        mut request: Request<Incoming>,
    ) -> Result<Response<TestBody>, Infallible> {
        let nth = self.seen.fetch_add(1, Ordering::SeqCst);
        let behaviour = *self.behaviour.lock().unwrap();
        let status = match behaviour {
            Behaviour::Always(status) => Some(status),
            Behaviour::EveryOther(status) if nth.is_multiple_of(2) => Some(status),
            Behaviour::Hang => {
                self.release.notified().await;
                None
            }
            _ => None,
        };
        let echoed = echo_headers(request.headers());
        let path = request.uri().path().to_string();
        let mut response = match path.as_str() {
            "/echo" => {
                let body = request.into_body().collect().await.unwrap().to_bytes();
                Response::new(full(body))
            }
            "/grpc" => grpc_answer(),
            p if p.starts_with("/stream/") => super::streaming::answer(p, request).await,
            "/answer-headers" => answer_headers(request.uri().query().unwrap_or_default()),
            "/ws" => websocket_echo(&mut request),
            "/authority" => {
                let authority = request.uri().authority().map(|a| a.to_string());
                Response::new(full(authority.unwrap_or_default()))
            }
            _ => {
                let host = request
                    .headers()
                    .get("host")
                    .map(|h| h.to_str().unwrap().to_string())
                    .or_else(|| request.uri().authority().map(|a| a.to_string()))
                    .unwrap_or_default();
                let text = format!("{} {} host={host}", self.name, request.uri());
                let code = path.strip_prefix("/status/").map(|c| c.parse().unwrap());
                let _ = request.into_body().collect().await;
                with_status(code.unwrap_or(200), full(text))
            }
        };
        if let Some(status) = status {
            *response.status_mut() = StatusCode::from_u16(status).unwrap();
        }
        response.headers_mut().extend(echoed);
        Ok(response)
    }
}

/// Upstreams on one port, one per `(ip, name, behaviour)`: that port and the upstreams.
pub async fn on_one_port(pods: &[(&str, &str, Behaviour)]) -> (u16, Vec<Arc<Upstream>>) {
    let mut first = Some(TcpListener::bind((pods[0].0, 0)).await.unwrap());
    let port = first.as_ref().unwrap().local_addr().unwrap().port();
    let mut upstreams = Vec::new();
    for (ip, name, behaviour) in pods {
        let listener = match first.take() {
            Some(listener) => listener,
            None => TcpListener::bind((*ip, port)).await.unwrap(),
        };
        upstreams.push(Upstream::listen(listener, name, *behaviour));
    }
    (port, upstreams)
}

/// Healthy upstreams on one port, one per `(ip, name)`: that port and the upstreams.
pub async fn healthy_on_one_port(pods: &[(&str, &str)]) -> (u16, Vec<Arc<Upstream>>) {
    let pods: Vec<_> = pods
        .iter()
        .map(|(ip, name)| (*ip, *name, Behaviour::Healthy))
        .collect();
    on_one_port(&pods).await
}

fn echo_headers(headers: &HeaderMap) -> HeaderMap {
    let mut echoed = HeaderMap::new();
    for (header, value) in headers {
        let name = HeaderName::from_bytes(format!("echo-{header}").as_bytes()).unwrap();
        echoed.append(name, value.clone());
    }
    echoed
}

fn full(bytes: impl Into<Bytes>) -> TestBody {
    Full::new(bytes.into()).boxed()
}

fn with_status(status: u16, body: TestBody) -> Response<TestBody> {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    response
}

fn answer_headers(query: &str) -> Response<TestBody> {
    let mut response = Response::new(full(""));
    for (name, value) in query.split('&').filter_map(|pair| pair.split_once('=')) {
        let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
        response.headers_mut().append(name, value.parse().unwrap());
    }
    response
}

fn grpc_answer() -> Response<TestBody> {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", "7".parse().unwrap());
    trailers.insert("grpc-message", "denied".parse().unwrap());
    let frames: Vec<Result<Frame<Bytes>, Infallible>> = vec![
        Ok(Frame::data(Bytes::from_static(b"\0\0\0\0\x02hi"))),
        Ok(Frame::trailers(trailers)),
    ];
    let body = StreamBody::new(futures::stream::iter(frames)).boxed();
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert("content-type", "application/grpc".parse().unwrap());
    response
}

fn websocket_echo(request: &mut Request<Incoming>) -> Response<TestBody> {
    let upgrade = hyper::upgrade::on(request);
    tokio::spawn(async move {
        let mut io = TokioIo::new(upgrade.await.unwrap());
        let (mut read, mut write) = tokio::io::split(&mut io);
        let _ = tokio::io::copy(&mut read, &mut write).await;
    });
    let mut response = with_status(101, full(""));
    let headers = response.headers_mut();
    headers.insert("connection", "upgrade".parse().unwrap());
    headers.insert("upgrade", "websocket".parse().unwrap());
    response
}

/// A TCP server on `addr` that reads until the client half-closes, then answers
/// `<name>:<input>` and closes.
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

/// A TCP server on `addr` that echoes bytes as they come, until the client closes.
pub async fn streaming_echo_server(addr: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind(addr).await.unwrap();
    let bound = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut read, mut write) = stream.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
            });
        }
    });
    bound
}

/// Writes `bytes` on `stream` and checks the same bytes come back (bounded by `GUARD`).
pub async fn echoes(stream: &mut tokio::net::TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).await.unwrap();
    let mut echoed = vec![0; bytes.len()];
    tokio::time::timeout(super::GUARD, stream.read_exact(&mut echoed))
        .await
        .expect("no hang")
        .unwrap();
    assert_eq!(echoed, bytes);
}
