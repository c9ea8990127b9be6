//! `sample-app load`: a bounded load generator printing one JSON line per interval and a final
//! summary (`"final":true`). It always stops by itself: after `--requests`, or `--duration`
//! (10 s when neither is given), with every request bounded by `--timeout`.

use crate::answer::leaf_identity;
use crate::budget::{parse_duration, parse_header, send_offset, Budget};
use crate::stats::{Outcome, Tally};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response, Uri};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

/// `load` options.
#[derive(clap::Args)]
pub struct LoadArgs {
    /// The URL every request goes to.
    #[arg(long)]
    url: Uri,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Requests per second over all workers (0: as fast as possible).
    #[arg(long, default_value_t = 0.0)]
    rps: f64,
    /// How long to send for (e.g. 10s, 500ms, 2m).
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// How many requests to send.
    #[arg(long)]
    requests: Option<u64>,
    /// How often a JSON line is printed.
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    interval: Duration,
    /// A header added to every request, `NAME:VALUE` (repeatable).
    #[arg(long = "header", value_parser = parse_header)]
    headers: Vec<(HeaderName, HeaderValue)>,
    /// How long one request may take before it counts as an error.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    timeout: Duration,
    /// Speak HTTP/2 without TLS (prior knowledge) instead of HTTP/1.1.
    #[arg(long)]
    h2: bool,
}

/// The load as the workers see it.
struct LoadPlan {
    args: LoadArgs,
    budget: Budget,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// Sends the load, prints the lines, and returns once every worker has stopped.
pub async fn run(args: LoadArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.interval > Duration::ZERO,
        "--interval must be above zero"
    );
    let budget = Budget::new(args.requests, args.duration);
    let client = Client::builder(TokioExecutor::new())
        .http2_only(args.h2)
        .build_http();
    let interval = args.interval;
    let plan = Arc::new(LoadPlan {
        budget,
        client,
        args,
    });
    let (tx, rx) = unbounded_channel();
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    for _ in 0..plan.args.concurrency.max(1) {
        tokio::spawn(worker(plan.clone(), issued.clone(), start, tx.clone()));
    }
    drop(tx);
    report(rx, interval, start).await;
    Ok(())
}

/// Claims request slots until the budget is spent.
async fn worker(
    plan: Arc<LoadPlan>,
    issued: Arc<AtomicU64>,
    start: Instant,
    tx: UnboundedSender<Outcome>,
) {
    loop {
        let slot = issued.fetch_add(1, Ordering::Relaxed);
        let due = send_offset(slot, plan.args.rps);
        if !plan.budget.allows(slot, start.elapsed().max(due)) {
            return;
        }
        tokio::time::sleep_until(start + due).await;
        if tx.send(plan.fire().await).is_err() {
            return;
        }
    }
}

impl LoadPlan {
    /// Sends one request and reads the whole answer.
    async fn fire(&self) -> Outcome {
        let started = Instant::now();
        let mut request = Request::get(self.args.url.clone())
            .body(Full::new(Bytes::new()))
            .unwrap();
        request
            .headers_mut()
            .extend(self.args.headers.iter().cloned().map(|(k, v)| (Some(k), v)));
        let mut outcome =
            match tokio::time::timeout(self.args.timeout, self.exchange(request)).await {
                Ok(Some(outcome)) => outcome,
                _ => Outcome::default(),
            };
        outcome.latency = started.elapsed();
        outcome
    }

    async fn exchange(&self, request: Request<Full<Bytes>>) -> Option<Outcome> {
        let response = self.client.request(request).await.ok()?;
        let status = response.status().as_u16();
        let (mut version, mut pod) = header_identity(&response);
        let body = response.into_body().collect().await.ok()?.to_bytes();
        if let Ok(answer) = serde_json::from_slice(&body) {
            let (v, p) = leaf_identity(&answer);
            version = v.or(version);
            pod = p.or(pod);
        }
        Some(Outcome {
            status: Some(status),
            version,
            pod,
            latency: Duration::ZERO,
        })
    }
}

/// `x-version` and `x-pod`: the identity of a `?size=N` answer, which carries no JSON.
fn header_identity<B>(response: &Response<B>) -> (Option<String>, Option<String>) {
    let text = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    };
    (text("x-version"), text("x-pod"))
}

/// Prints a line per interval, then the final summary once every worker is done.
async fn report(mut rx: UnboundedReceiver<Outcome>, interval: Duration, start: Instant) {
    let mut tick = tokio::time::interval_at(start + interval, interval);
    let (mut window, mut total) = (Tally::default(), Tally::default());
    let mut window_start = start;
    let secs = |from: Instant, to: Instant| (to - from).as_secs_f64();
    loop {
        tokio::select! {
            at = tick.tick() => {
                println!("{}", window.line(secs(start, at), secs(window_start, at)));
                (window, window_start) = (Tally::default(), at);
            }
            outcome = rx.recv() => match outcome {
                Some(outcome) => {
                    window.record(&outcome);
                    total.record(&outcome);
                }
                None => break,
            },
        }
    }
    let now = Instant::now();
    if window.requests() > 0 {
        println!("{}", window.line(secs(start, now), secs(window_start, now)));
    }
    let mut summary = total.line(secs(start, now), secs(start, now));
    summary["final"] = serde_json::Value::Bool(true);
    println!("{summary}");
}
