//! `sample-app serve`: the HTTP workload (HTTP/1.1 and h2c prior knowledge on one port; HTTPS
//! with `--tls`).

use crate::answer::{self, Identity, PathIntent, Received};
use crate::fault::FailurePlan;
use crate::upstream::Upstreams;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// `serve` options.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// The service name reported in every answer.
    #[arg(long)]
    name: String,
    /// The workload version reported in every answer (e.g. v1).
    #[arg(long, default_value = "v1")]
    version: String,
    /// The port to listen on (0: any free port, printed at start).
    #[arg(long)]
    port: u16,
    /// The address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    bind: IpAddr,
    /// The fraction of requests (0.0..=1.0) failed on purpose.
    #[arg(long, default_value_t = 0.0)]
    fail_rate: f64,
    /// The status the failed requests answer with.
    #[arg(long, default_value_t = 503)]
    fail_status: u16,
    /// A delay added before every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// An upstream URL called on every request (repeatable); a failure there gives 502.
    #[arg(long = "call")]
    calls: Vec<Uri>,
    #[command(flatten)]
    tls: crate::tls::TlsArgs,
}

/// What every connection shares.
struct Workload {
    who: Identity,
    failures: FailurePlan,
    delay: Duration,
    upstreams: Upstreams,
}

/// Listens, prints `{"listening":ADDR}` on stdout, and serves until the process is stopped.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    StatusCode::from_u16(args.fail_status)?;
    let tls = args.tls.acceptor()?;
    let listener = TcpListener::bind((args.bind, args.port)).await?;
    println!(
        "{}",
        json!({"listening": listener.local_addr()?.to_string()})
    );
    let workload = Arc::new(Workload {
        who: Identity {
            service: args.name,
            version: args.version,
            pod: answer::pod_name(),
        },
        failures: FailurePlan::new(args.fail_rate, args.fail_status),
        delay: Duration::from_millis(args.delay_ms),
        upstreams: Upstreams::new(args.calls),
    });
    loop {
        let (stream, peer) = listener.accept().await?;
        let (workload, tls) = (workload.clone(), tls.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let workload = workload.clone();
                async move { Ok::<_, Infallible>(workload.answer(req, peer).await) }
            });
            let builder = auto::Builder::new(TokioExecutor::new());
            let _ = match tls {
                // A failed handshake ends the connection; the client sees why.
                Some(tls) => match tls.accept(stream).await {
                    Ok(stream) => {
                        builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await
                    }
                    Err(_) => Ok(()),
                },
                None => {
                    builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                }
            };
        });
    }
}

impl Workload {
    /// Answers one request: health, injected delay and failure, then the echo (with upstreams)
    /// and `peer`, the connection's source as this app sees it.
    async fn answer(&self, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        let (parts, body) = req.into_parts();
        let body_bytes = body
            .collect()
            .await
            .map(|b| b.to_bytes().len())
            .unwrap_or(0);
        let intent = match answer::path_intent(parts.uri.path()) {
            Ok(intent) => intent,
            Err(why) => return self.reply(400, &json!({"error": why})),
        };
        if intent == PathIntent::Health {
            return self.text(200, "ok");
        }
        tokio::time::sleep(self.delay).await;
        if let PathIntent::Delay(wait) = intent {
            tokio::time::sleep(wait).await;
        }
        if self.failures.next_fails() {
            let failure = json!({"error": "injected failure", "fail_rate": self.failures.rate()});
            return self.reply(self.failures.status, &failure);
        }
        let received = Received {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            headers: &parts.headers,
            body_bytes,
        };
        let (status, upstream) = match intent {
            PathIntent::Status(code) => (code, Vec::new()),
            _ => self.call_upstreams(&parts.headers).await,
        };
        if let Some(size) = answer::requested_size(parts.uri.query()) {
            return self.sized(status, size);
        }
        let mut body = answer::echo(&self.who, &received, upstream);
        if status == 502 {
            body["error"] = Value::String("upstream failed".into());
        }
        body["peer"] = Value::String(peer.to_string());
        self.reply(status, &body)
    }

    /// Calls the upstreams; 502 when any of them did not answer 2xx.
    async fn call_upstreams(&self, headers: &hyper::HeaderMap) -> (u16, Vec<Value>) {
        let answers = self.upstreams.call_all(headers).await;
        let status = if answers.iter().all(|a| a.succeeded()) {
            200
        } else {
            502
        };
        (status, answers.iter().map(|a| a.to_json()).collect())
    }

    /// A JSON answer; `service`, `version` and `pod` are added when missing.
    fn reply(&self, status: u16, body: &Value) -> Response<Full<Bytes>> {
        let mut body = body.clone();
        for (key, value) in [
            ("service", &self.who.service),
            ("version", &self.who.version),
            ("pod", &self.who.pod),
        ] {
            if body.get(key).is_none() {
                body[key] = Value::String(value.clone());
            }
        }
        let bytes = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
        self.respond(status, "application/json", bytes)
    }

    fn text(&self, status: u16, text: &'static str) -> Response<Full<Bytes>> {
        self.respond(status, "text/plain", Bytes::from_static(text.as_bytes()))
    }

    /// `?size=N`: exactly N bytes, for benchmarks (identity in the `x-*` headers only).
    fn sized(&self, status: u16, size: usize) -> Response<Full<Bytes>> {
        self.respond(
            status,
            "application/octet-stream",
            Bytes::from(vec![b'x'; size]),
        )
    }

    /// Every answer carries `x-service`, `x-version` and `x-pod`.
    fn respond(&self, status: u16, kind: &'static str, body: Bytes) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
        for (name, value) in [
            ("x-service", &self.who.service),
            ("x-version", &self.who.version),
            ("x-pod", &self.who.pod),
        ] {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        }
        response
    }
}
