//! The HTTP hop's per-request work, to be counted under callgrind: one in-process agent (the
//! test harness's `web` mesh: a VirtualService with retries, a DestinationRule with a
//! connection pool and outlier detection, one upstream pod) serves `HOP_REQUESTS` (default
//! 2,000) HTTP/1.1 requests on one kept-alive client connection, after 200 to warm it up. All
//! on one thread, so the counts repeat whatever else runs on the machine:
//!
//! ```text
//! valgrind --tool=callgrind --zero-before=http_hop_profile::measured_start \
//!     --dump-before=http_hop_profile::measured_end target/debug/examples/http_hop_profile
//! ```
//!
//! The first dump holds only the measured requests: its total over `HOP_REQUESTS` is the
//! instructions per request of client, hop and upstream together.

#[allow(dead_code)]
#[path = "../tests/harness/mod.rs"]
mod harness;

use bytes::Bytes;
use harness::config::{destination_rule, web_routes};
use harness::proxy::RequestBody;
use harness::upstream::Behaviour;
use harness::web::{web, WEB};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper::Request;

const WARM_UP: usize = 200;

/// Retries, a connection pool and outlier detection: the policies a request of this route looks
/// up. No route timeout nor any other deadline: under callgrind, on a busy machine, the wall
/// clock runs far ahead of the process.
fn mesh_yaml() -> String {
    let policy = "    connectionPool: {tcp: {maxConnections: 100}, http: {http1MaxPendingRequests: 100}}\n\
                  \x20   outlierDetection: {consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s}\n";
    let routes = "  - route: [{destination: {host: web, subset: v1}}]\n\
                  \x20   retries: {attempts: 2, retryOn: \"5xx,connect-failure,reset\"}\n";
    destination_rule(policy) + &web_routes(routes)
}

fn main() {
    let requests = std::env::var("HOP_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run(requests));
}

async fn run(requests: usize) {
    let mesh = web(&[Behaviour::Healthy], &mesh_yaml()).await;
    let mut sender = mesh.client.http1(WEB).await;
    for _ in 0..WARM_UP {
        exchange(&mut sender).await;
    }
    measured_start();
    for _ in 0..requests {
        exchange(&mut sender).await;
    }
    measured_end();
    println!("{requests} requests through the hop after {WARM_UP} to warm up");
}

/// `GET /` on the kept-alive connection, its whole answer read; panics unless it is 200.
async fn exchange(sender: &mut SendRequest<RequestBody>) {
    let request = Request::get("/")
        .header("host", "web.shop")
        .body(
            Empty::<Bytes>::new()
                .map_err(|never| match never {})
                .boxed(),
        )
        .expect("a request");
    sender.ready().await.expect("the connection is open");
    let response = sender.send_request(request).await.expect("an answer");
    assert_eq!(response.status(), 200, "the hop serves");
    response.into_body().collect().await.expect("a body");
}

/// Where callgrind starts counting (`--zero-before`).
#[inline(never)]
fn measured_start() {
    std::hint::black_box(());
}

/// Where callgrind stops counting (`--dump-before`).
#[inline(never)]
fn measured_end() {
    std::hint::black_box(());
}
