//! `rls`: a rate limit service speaking Envoy's RLS v3 API (`ShouldRateLimit` over gRPC on
//! h2c), written from the proto: it counts hits per (domain, descriptor) and answers
//! `OVER_LIMIT` past `--limit` per descriptor, as Envoy's reference service with one limit
//! would, so the lab can check that several nodes' agents share one count.

use std::collections::HashMap;
use std::future::Ready;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use bytes::{BufMut, Bytes, BytesMut};
use http_body_util::combinators::WithTrailers;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{HeaderMap, Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use prost::Message;
use serde_json::json;
use tokio::net::TcpListener;

const PATH: &str = "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit";

/// `rls` options.
#[derive(clap::Args)]
pub struct RlsArgs {
    /// The port to listen on.
    #[arg(long)]
    port: u16,
    /// The address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    bind: IpAddr,
    /// Hits allowed per descriptor.
    #[arg(long)]
    limit: u32,
}

#[derive(Clone, PartialEq, Message)]
struct RlsRequest {
    #[prost(string, tag = "1")]
    domain: String,
    #[prost(message, repeated, tag = "2")]
    descriptors: Vec<RlsDescriptor>,
}

#[derive(Clone, PartialEq, Message)]
struct RlsDescriptor {
    #[prost(message, repeated, tag = "1")]
    entries: Vec<RlsEntry>,
}

#[derive(Clone, PartialEq, Message)]
struct RlsEntry {
    #[prost(string, tag = "1")]
    key: String,
    #[prost(string, tag = "2")]
    value: String,
}

#[derive(Clone, PartialEq, Message)]
struct RlsResponse {
    /// 1 OK, 2 OVER_LIMIT.
    #[prost(int32, tag = "1")]
    overall_code: i32,
}

type Counts = Arc<Mutex<HashMap<String, u32>>>;

/// Serves until killed; prints `{"listening":ADDR}`, then one JSON line per answer.
pub async fn run(args: RlsArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind((args.bind, args.port)).await?;
    println!(
        "{}",
        json!({"listening": listener.local_addr()?.to_string()})
    );
    let counts = Counts::default();
    loop {
        let (stream, _) = listener.accept().await?;
        let counts = counts.clone();
        let limit = args.limit;
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |request| answer(request, counts.clone(), limit));
            let builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// One gRPC message, then `grpc-status: 0` in the trailers.
type Answer =
    Response<WithTrailers<Full<Bytes>, Ready<Option<Result<HeaderMap, std::convert::Infallible>>>>>;

async fn answer(request: Request<Incoming>, counts: Counts, limit: u32) -> anyhow::Result<Answer> {
    anyhow::ensure!(request.uri().path() == PATH, "not ShouldRateLimit");
    let body = request.into_body().collect().await?.to_bytes();
    anyhow::ensure!(body.len() >= 5, "no gRPC frame");
    let asked = RlsRequest::decode(&body[5..])?;
    let over = {
        let mut counts = counts.lock().expect("not poisoned");
        let mut over = false;
        for descriptor in &asked.descriptors {
            let entries: Vec<String> = descriptor
                .entries
                .iter()
                .map(|e| format!("{}={}", e.key, e.value))
                .collect();
            let count = counts
                .entry(format!("{}|{}", asked.domain, entries.join(",")))
                .or_default();
            *count += 1;
            over |= *count > limit;
        }
        over
    };
    println!("{}", json!({"domain": asked.domain, "over_limit": over}));
    let reply = RlsResponse {
        overall_code: if over { 2 } else { 1 },
    };
    let encoded = reply.encode_to_vec();
    let mut frame = BytesMut::with_capacity(5 + encoded.len());
    frame.put_u8(0);
    frame.put_u32(u32::try_from(encoded.len())?);
    frame.put_slice(&encoded);
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", "0".parse()?);
    let body = Full::new(frame.freeze()).with_trailers(std::future::ready(Some(Ok(trailers))));
    let mut response = Response::new(body);
    response
        .headers_mut()
        .insert("content-type", "application/grpc".parse()?);
    Ok(response)
}
