//! The traffic-management harness: the `web` Service (10.96.0.10:80, port `http-web`) over
//! upstream pods `web-0`, `web-1`, … at 127.0.0.2, 127.0.0.3, … (one port; pod `i` labelled
//! `version: v<i+1>` and answering as `v<i+1>`), the client `sleep-0`, whatever mesh resources
//! a test adds, and the outbound proxy of `sleep-0`.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

use super::client::{read, Answer};
use super::config::{compile, pod, service, sleep, ConfigState};
use super::proxy::{Agent, Client};
use super::upstream::{on_one_port, Behaviour, Upstream};
use super::{metrics, GUARD};
use mesh_agent::proxy::ProxyInputs;

pub const WEB: &str = "10.96.0.10:80";

/// The mesh under test.
pub struct Web {
    pub agent: Agent,
    pub client: Client,
    /// The upstream pods, in order.
    pub pods: Vec<Arc<Upstream>>,
}

/// `web` over one pod per behaviour, then `mesh_yaml`.
pub async fn web(behaviours: &[Behaviour], mesh_yaml: &str) -> Web {
    web_with(behaviours, mesh_yaml, |inputs| inputs).await
}

/// [`web`] with the agent's inputs changed by `edit` (caps, timeouts).
pub async fn web_with(
    behaviours: &[Behaviour],
    mesh_yaml: &str,
    edit: impl FnOnce(ProxyInputs) -> ProxyInputs,
) -> Web {
    let specs: Vec<(String, String)> = (0..behaviours.len())
        .map(|i| (format!("127.0.0.{}", i + 2), format!("v{}", i + 1)))
        .collect();
    let specs: Vec<(&str, &str, Behaviour)> = specs
        .iter()
        .zip(behaviours)
        .map(|((ip, name), b)| (ip.as_str(), name.as_str(), *b))
        .collect();
    let (port, pods) = on_one_port(&specs).await;
    let mut yaml = service("web", "10.96.0.10", "http-web", port) + &sleep();
    for (i, (ip, version, _)) in specs.iter().enumerate() {
        yaml += &pod(
            &format!("web-{i}"),
            &format!("app: web, version: {version}"),
            ip,
        );
    }
    let agent = Agent::new(compile(&(yaml + mesh_yaml))).with_inputs(edit);
    let client = agent.sleep().await;
    Web {
        agent,
        client,
        pods,
    }
}

/// `web` over two healthy pods, `v1` and `v2`, then `mesh_yaml`.
pub async fn two_versions(mesh_yaml: &str) -> Web {
    web(&[Behaviour::Healthy, Behaviour::Healthy], mesh_yaml).await
}

impl Web {
    /// The pod answering as `v1`.
    pub fn v1(&self) -> &Upstream {
        &self.pods[0]
    }

    /// The pod answering as `v2`.
    pub fn v2(&self) -> &Upstream {
        &self.pods[1]
    }

    /// The configuration the proxy reads.
    pub fn config(&self) -> &ConfigState {
        &self.agent.inputs.config
    }

    /// The resilience state `/clusters` reads besides the configuration.
    pub fn resilience(&self) -> &mesh_agent::http::Resilience {
        &self.agent.inputs.http.traffic.resilience
    }

    /// Sends `request` to `web` on a fresh HTTP/1.1 connection through the proxy.
    pub async fn send(&self, request: Request<Full<Bytes>>) -> Answer {
        self.send_to(WEB, request).await
    }

    /// Sends `request` on a fresh HTTP/1.1 connection to `dst` (`ip:port`) through the proxy.
    pub async fn send_to(&self, dst: &str, request: Request<Full<Bytes>>) -> Answer {
        let stream = self.client.connect(dst).await;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        let response = tokio::time::timeout(GUARD, sender.send_request(request))
            .await
            .unwrap()
            .unwrap();
        read(response).await
    }

    /// `GET path` with `Host: web.shop` and `headers`.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.send(get(path, headers)).await
    }

    /// `GET /`: the status only (the body is read, whether it ends well or not).
    pub async fn status(&self) -> u16 {
        let stream = self.client.connect(WEB).await;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        let response = tokio::time::timeout(GUARD, sender.send_request(get("/", &[])))
            .await
            .unwrap()
            .unwrap();
        let status = response.status().as_u16();
        let _ = tokio::time::timeout(GUARD, response.into_body().collect()).await;
        status
    }

    /// `istio_requests_total` over the series holding every one of `labels`, once it reaches
    /// `want` or the guard passes.
    pub async fn requests_total(&self, labels: &[&str], want: u64) -> u64 {
        metrics::requests_total(&self.agent.registry, labels, want).await
    }

    /// The value of the first metrics line starting with `prefix` (0 when absent).
    pub fn metric(&self, prefix: &str) -> u64 {
        metrics::first(&self.agent.metrics(), prefix)
    }
}

/// `GET path` with `Host: web.shop` and `headers`.
pub fn get(path: &str, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut request = Request::get(path).header("host", "web.shop");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Full::default()).unwrap()
}
