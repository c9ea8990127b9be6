//! The traffic-management tests' harness: the `web` Service over two pods, v1 (127.0.0.2) and
//! v2 (127.0.0.3), each a tiny hyper upstream that says who it is, with a DestinationRule
//! naming the subsets and whatever mesh resources a test adds; the outbound proxy of `sleep-0`.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use mesh_agent::proxy::Outbound;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::agent_support::*;

pub const WEB: &str = "10.96.0.10:80";

/// One upstream pod: requests seen, and (when `hang`) answers held until released.
#[derive(Default)]
pub struct Pod {
    pub seen: AtomicUsize,
    pub hang: std::sync::atomic::AtomicBool,
    pub release: Notify,
}

pub struct Harness {
    pub proxy: SocketAddr,
    pub dsts: Arc<FakeOriginalDsts>,
    pub cookie: u64,
    pub registry: prometheus_client::registry::Registry,
    pub v1: Arc<Pod>,
    pub v2: Arc<Pod>,
}

/// Serves `name`: answers `<name> <uri> host=<host>`, echoes `x-*` request headers back as
/// `echo-x-*` response headers, and answers nothing while the pod hangs.
async fn pod(addr: SocketAddr, name: &'static str, pod: Arc<Pod>) -> SocketAddr {
    let listener = TcpListener::bind(addr).await.unwrap();
    let bound = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let pod = pod.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |r| answer(r, name, pod.clone()));
                let _ = auto::Builder::new(TokioExecutor::new())
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
    pod: Arc<Pod>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    pod.seen.fetch_add(1, Ordering::SeqCst);
    if pod.hang.load(Ordering::SeqCst) {
        pod.release.notified().await;
    }
    let host = request
        .headers()
        .get("host")
        .map(|h| h.to_str().unwrap().to_string())
        .or_else(|| request.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let text = format!("{name} {} host={host}", request.uri());
    let mut response = Response::new(Full::new(Bytes::from(text)));
    for (header, value) in request.headers() {
        if header.as_str().starts_with("x-") {
            let echo = format!("echo-{header}");
            let echo = hyper::header::HeaderName::from_bytes(echo.as_bytes()).unwrap();
            response.headers_mut().append(echo, value.clone());
        }
    }
    let _ = request.into_body().collect().await;
    Ok(response)
}

/// `web` (10.96.0.10:80) over web-v1 and web-v2, its subsets, the client `sleep-0`; then
/// `mesh_yaml` (VirtualServices, DestinationRules of a test).
fn yaml(port: u16, mesh_yaml: &str) -> String {
    let pod = |name: &str, version: &str, ip: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: shop, \
             labels: {{app: web, version: {version}}}}}\nstatus: {{podIP: {ip}}}\n---\n"
        )
    };
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: shop}}\n\
         spec:\n  clusterIP: 10.96.0.10\n  selector: {{app: web}}\n\
         \x20 ports: [{{name: http-web, port: 80, targetPort: {port}}}]\n---\n\
         {}{}\
         apiVersion: v1\nkind: Pod\nmetadata: {{name: sleep-0, namespace: shop, \
         labels: {{app: sleep}}}}\nstatus: {{podIP: 127.0.0.1}}\n---\n{mesh_yaml}",
        pod("web-v1", "v1", "127.0.0.2"),
        pod("web-v2", "v2", "127.0.0.3"),
    )
}

/// The subsets of `web`, with `policy` (a `trafficPolicy` in flow style, or empty).
pub fn subsets(policy: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n\
         metadata: {{name: web, namespace: shop}}\nspec:\n  host: web\n{policy}\
         \x20 subsets:\n  - {{name: v1, labels: {{version: v1}}}}\n\
         \x20 - {{name: v2, labels: {{version: v2}}}}\n---\n"
    )
}

/// A VirtualService for `web` with `http` rules (YAML, indented under `http:`).
pub fn virtual_service(http: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\n\
         metadata: {{name: web, namespace: shop}}\nspec:\n  hosts: [web]\n  http:\n{http}---\n"
    )
}

pub async fn harness(mesh_yaml: &str) -> Harness {
    let (v1, v2) = (Arc::new(Pod::default()), Arc::new(Pod::default()));
    let a = pod("127.0.0.2:0".parse().unwrap(), "v1", v1.clone()).await;
    pod(
        SocketAddr::new([127, 0, 0, 3].into(), a.port()),
        "v2",
        v2.clone(),
    )
    .await;
    let (inputs, dsts, registry) = inputs(config(&yaml(a.port(), mesh_yaml)));
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
        v1,
        v2,
    }
}

/// An answer as the client saw it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: String,
}

impl Harness {
    /// Sends `request` to `web` on a fresh HTTP/1.1 connection through the proxy.
    pub async fn send(&self, request: Request<Full<Bytes>>) -> Answer {
        let stream =
            captured_connect(self.proxy, &self.dsts, self.cookie, WEB.parse().unwrap()).await;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        let response = tokio::time::timeout(GUARD, sender.send_request(request))
            .await
            .unwrap()
            .unwrap();
        let (status, headers) = (response.status().as_u16(), response.headers().clone());
        let body = tokio::time::timeout(GUARD, response.into_body().collect())
            .await
            .unwrap()
            .unwrap();
        let body = String::from_utf8(body.to_bytes().to_vec()).unwrap();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// `GET path` with `headers`.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = Request::get(path).header("host", "web.shop");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(Full::default()).unwrap()).await
    }

    /// `istio_requests_total` summed over series holding every one of `labels`, once it
    /// reaches `want` or the guard passes (requests are recorded when their bodies end).
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

    /// A line of the metrics text starting with `name`, its value.
    pub fn metric(&self, name: &str) -> u64 {
        let text = mesh_agent::metrics::encode(&self.registry).unwrap();
        let line = text.lines().find(|l| l.starts_with(name));
        line.map_or(0, |l| l.rsplit(' ').next().unwrap().parse().unwrap())
    }
}
