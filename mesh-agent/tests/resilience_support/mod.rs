//! The resilience tests' harness: the `web` Service over pods on 127.0.0.2, 127.0.0.3, … (one
//! port), each a tiny hyper upstream whose behaviour a test sets (answer 200, always a status,
//! every other request a status, hang until released; or no listener at all: refused), and the
//! outbound proxy of `sleep-0` with whatever DestinationRule and VirtualService a test adds.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use mesh_agent::proxy::Outbound;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::agent_support::*;

pub const WEB: &str = "10.96.0.10:80";

/// How a pod answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// 200 `ok`.
    Healthy,
    /// Always this status.
    Always(u16),
    /// This status for the 1st, 3rd, 5th … request, 200 for the others.
    EveryOther(u16),
    /// Holds each answer until [`Pod::release`] is notified.
    Hang,
    /// Nothing listens: connections are refused.
    Refusing,
}

/// One upstream pod: its behaviour and the requests it saw.
pub struct Pod {
    pub behaviour: Mutex<Behaviour>,
    pub seen: AtomicUsize,
    pub release: Notify,
    /// Connections accepted.
    pub accepted: AtomicUsize,
    /// Connections open now.
    pub open: AtomicUsize,
}

impl Pod {
    fn new(behaviour: Behaviour) -> Arc<Self> {
        Arc::new(Self {
            behaviour: Mutex::new(behaviour),
            seen: AtomicUsize::new(0),
            release: Notify::new(),
            accepted: AtomicUsize::new(0),
            open: AtomicUsize::new(0),
        })
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
        tokio::time::timeout(GUARD, closed).await.is_ok()
    }

    /// Requests it answered (or holds).
    pub fn seen(&self) -> usize {
        self.seen.load(Ordering::SeqCst)
    }

    /// Stops hanging and releases the answers held.
    pub fn heal(&self) {
        *self.behaviour.lock().unwrap() = Behaviour::Healthy;
        self.release.notify_waiters();
    }
}

async fn serve(listener: TcpListener, pod: Arc<Pod>) {
    while let Ok((stream, _)) = listener.accept().await {
        let pod = pod.clone();
        pod.accepted.fetch_add(1, Ordering::SeqCst);
        pod.open.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let answering = pod.clone();
            let service = hyper::service::service_fn(move |r| answer(r, answering.clone()));
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
            pod.open.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

async fn answer(
    request: Request<Incoming>,
    pod: Arc<Pod>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let nth = pod.seen.fetch_add(1, Ordering::SeqCst);
    let _ = request.into_body().collect().await;
    let behaviour = *pod.behaviour.lock().unwrap();
    let status = match behaviour {
        Behaviour::Always(status) => status,
        Behaviour::EveryOther(status) if nth.is_multiple_of(2) => status,
        Behaviour::Hang => {
            pod.release.notified().await;
            200
        }
        _ => 200,
    };
    let mut response = Response::new(Full::new(Bytes::from("ok")));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    Ok(response)
}

pub struct Harness {
    pub proxy: SocketAddr,
    pub dsts: Arc<FakeOriginalDsts>,
    pub cookie: u64,
    pub registry: prometheus_client::registry::Registry,
    pub pods: Vec<Arc<Pod>>,
    /// What `/clusters` reads.
    pub config: mesh_agent::pipeline::ConfigState,
    pub resilience: mesh_agent::http::Resilience,
}

/// `web` over one pod per behaviour (`web-0` at 127.0.0.2 with label `version: v0`, …), the
/// client `sleep-0`, then `mesh_yaml`.
fn yaml(port: u16, pods: usize, mesh_yaml: &str) -> String {
    let mut text = format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: shop}}\n\
         spec:\n  clusterIP: 10.96.0.10\n  selector: {{app: web}}\n\
         \x20 ports: [{{name: http-web, port: 80, targetPort: {port}}}]\n---\n\
         apiVersion: v1\nkind: Pod\nmetadata: {{name: sleep-0, namespace: shop, \
         labels: {{app: sleep}}}}\nstatus: {{podIP: 127.0.0.1}}\n---\n"
    );
    for i in 0..pods {
        text += &format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: web-{i}, namespace: shop, \
             labels: {{app: web, version: v{i}}}}}\nstatus: {{podIP: 127.0.0.{}}}\n---\n",
            i + 2
        );
    }
    text + mesh_yaml
}

/// A DestinationRule for `web` with `policy` (YAML under `trafficPolicy:`, indented 4) and
/// subsets `v0` … `v3`.
pub fn destination_rule(policy: &str) -> String {
    let subsets: String = (0..4)
        .map(|i| format!("  - {{name: v{i}, labels: {{version: v{i}}}}}\n"))
        .collect();
    format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n\
         metadata: {{name: web, namespace: shop}}\nspec:\n  host: web\n\
         \x20 trafficPolicy:\n{policy}  subsets:\n{subsets}---\n"
    )
}

/// A VirtualService sending `web` to subset `subset` with `extra` (rule fields, indented 4).
pub fn route_to(subset: &str, extra: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\n\
         metadata: {{name: web, namespace: shop}}\nspec:\n  hosts: [web]\n  http:\n\
         \x20 - route: [{{destination: {{host: web, subset: {subset}}}}}]\n{extra}---\n"
    )
}

pub async fn harness(behaviours: &[Behaviour], mesh_yaml: &str) -> Harness {
    let first = TcpListener::bind("127.0.0.2:0").await.unwrap();
    let port = first.local_addr().unwrap().port();
    let mut first = Some(first);
    let mut pods = Vec::new();
    for (i, behaviour) in behaviours.iter().enumerate() {
        let pod = Pod::new(*behaviour);
        let listener = match (first.take(), behaviour) {
            (Some(listener), _) if i == 0 && *behaviour != Behaviour::Refusing => Some(listener),
            (_, Behaviour::Refusing) => None,
            _ => Some(
                TcpListener::bind((format!("127.0.0.{}", i + 2), port))
                    .await
                    .unwrap(),
            ),
        };
        if let Some(listener) = listener {
            tokio::spawn(serve(listener, pod.clone()));
        }
        pods.push(pod);
    }
    let (inputs, dsts, registry) = inputs(config(&yaml(port, pods.len(), mesh_yaml)));
    let (config, resilience) = (
        inputs.config.clone(),
        inputs.http.traffic.resilience.clone(),
    );
    let client = current_pod("shop", "sleep-0", "127.0.0.1").await;
    let cookie = client.netns_cookie;
    let outbound = Outbound::new(client, inputs, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let proxy = outbound.address();
    tokio::spawn(outbound.run());
    Harness {
        proxy,
        dsts,
        cookie,
        registry,
        pods,
        config,
        resilience,
    }
}

impl Harness {
    /// `GET /` to `web` on a fresh HTTP/1.1 connection through the proxy: the status.
    pub async fn get(&self) -> u16 {
        let stream =
            captured_connect(self.proxy, &self.dsts, self.cookie, WEB.parse().unwrap()).await;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        let request = Request::get("/")
            .header("host", "web.shop")
            .body(Full::<Bytes>::default())
            .unwrap();
        let response = tokio::time::timeout(GUARD, sender.send_request(request))
            .await
            .unwrap()
            .unwrap();
        let status = response.status().as_u16();
        let _ = tokio::time::timeout(GUARD, response.into_body().collect()).await;
        status
    }

    /// `istio_requests_total` summed over series holding every one of `labels`, once it
    /// reaches `want` or the guard passes.
    pub async fn requests_total(&self, labels: &[&str], want: u64) -> u64 {
        let count = || {
            let text = mesh_agent::metrics::encode(&self.registry).unwrap();
            text.lines()
                .filter(|l| l.starts_with("istio_requests_total{"))
                .filter(|l| labels.iter().all(|label| l.contains(label)))
                .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
                .sum::<u64>()
        };
        let _ = tokio::time::timeout(GUARD, async {
            while count() < want {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        })
        .await;
        count()
    }

    /// The value of the first metrics line starting with `name` (0 when absent).
    pub fn metric(&self, name: &str) -> u64 {
        let text = mesh_agent::metrics::encode(&self.registry).unwrap();
        let line = text.lines().find(|l| l.starts_with(name));
        line.map_or(0, |l| l.rsplit(' ').next().unwrap().parse().unwrap())
    }
}
