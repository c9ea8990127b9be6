//! `--call URL`: the upstreams a service calls per request, with trace headers propagated
//! the way Istio's samples do (the mesh can then stitch the spans together).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Request, Uri};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::time::Duration;

/// The headers an application must copy from its request to its upstream calls for tracing
/// (W3C trace context, B3 single and multi, OpenTracing, Envoy's request id).
pub const TRACE_HEADERS: [&str; 10] = [
    "traceparent",
    "tracestate",
    "x-request-id",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    "b3",
    "x-ot-span-context",
];

/// The signed-in user's header, forwarded like bookinfo's productpage does, so that routing on
/// it (the demo's header-based step) works one hop further down the chain.
pub const USER_HEADER: &str = "end-user";

/// How long one upstream call may take before it counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The trace headers and the user header of `incoming` that go on to the upstream calls;
/// nothing else does.
pub fn propagated(incoming: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in TRACE_HEADERS.into_iter().chain([USER_HEADER]) {
        for value in incoming.get_all(name) {
            out.append(name, value.clone());
        }
    }
    out
}

/// One upstream's answer (or why there is none).
pub struct UpstreamAnswer {
    url: String,
    status: Option<u16>,
    answer: Value,
    error: Option<String>,
}

impl UpstreamAnswer {
    /// Whether the upstream answered with a 2xx status.
    pub fn succeeded(&self) -> bool {
        matches!(self.status, Some(200..=299))
    }

    /// The entry in the caller's `upstream` array.
    pub fn to_json(&self) -> Value {
        let mut entry = json!({"url": self.url, "status": self.status, "answer": self.answer});
        if let Some(error) = &self.error {
            entry["error"] = Value::String(error.clone());
        }
        entry
    }
}

/// The upstream URLs and the client that calls them.
#[derive(Clone)]
pub struct Upstreams {
    client: Client<HttpConnector, Full<Bytes>>,
    urls: Vec<Uri>,
}

impl Upstreams {
    /// Upstreams for the given URLs (none is fine: the service then only echoes).
    pub fn new(urls: Vec<Uri>) -> Self {
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self { client, urls }
    }

    /// Calls every upstream in order, carrying the propagated trace headers of `incoming`.
    pub async fn call_all(&self, incoming: &HeaderMap) -> Vec<UpstreamAnswer> {
        let headers = propagated(incoming);
        let mut answers = Vec::with_capacity(self.urls.len());
        for url in &self.urls {
            answers.push(self.call(url, &headers).await);
        }
        answers
    }

    async fn call(&self, url: &Uri, headers: &HeaderMap) -> UpstreamAnswer {
        let failed = |error: String| UpstreamAnswer {
            url: url.to_string(),
            status: None,
            answer: Value::Null,
            error: Some(error),
        };
        let mut request = Request::get(url.clone())
            .body(Full::new(Bytes::new()))
            .unwrap();
        request.headers_mut().extend(headers.clone());
        let response = match tokio::time::timeout(CALL_TIMEOUT, self.client.request(request)).await
        {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => return failed(format!("{e:?}")),
            Err(_) => return failed("timed out".to_string()),
        };
        let status = response.status().as_u16();
        let body = match response.into_body().collect().await {
            Ok(body) => body.to_bytes(),
            Err(e) => return failed(format!("reading the body: {e}")),
        };
        let answer = serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
        UpstreamAnswer {
            url: url.to_string(),
            status: Some(status),
            answer,
            error: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_trace_headers_propagate() {
        let mut incoming = HeaderMap::new();
        for (name, value) in [
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("tracestate", "congo=t61rcWkgMzE"),
            ("x-request-id", "abc"),
            ("x-b3-traceid", "1"),
            ("x-b3-spanid", "2"),
            ("x-b3-parentspanid", "3"),
            ("x-b3-sampled", "1"),
            ("x-b3-flags", "0"),
            ("b3", "1-2-1"),
            ("x-ot-span-context", "ctx"),
            ("host", "frontend"),
            ("authorization", "Bearer secret"),
            ("content-length", "12"),
            ("x-custom", "no"),
        ] {
            incoming.append(name, value.parse().unwrap());
        }
        let out = propagated(&incoming);
        for name in TRACE_HEADERS {
            assert_eq!(out.get(name), incoming.get(name), "{name}");
        }
        for name in ["host", "authorization", "content-length", "x-custom"] {
            assert!(!out.contains_key(name), "{name} must not propagate");
        }
        assert_eq!(out.len(), TRACE_HEADERS.len());
    }

    #[test]
    fn the_user_header_propagates() {
        let mut incoming = HeaderMap::new();
        incoming.append(USER_HEADER, "jason".parse().unwrap());
        assert_eq!(propagated(&incoming).get(USER_HEADER).unwrap(), "jason");
    }

    #[test]
    fn nothing_to_propagate() {
        assert!(propagated(&HeaderMap::new()).is_empty());
    }

    #[test]
    fn success_is_a_2xx_answer() {
        let with = |status| UpstreamAnswer {
            url: "http://backend/".into(),
            status,
            answer: Value::Null,
            error: None,
        };
        let cases = [
            (Some(200), true),
            (Some(204), true),
            (Some(503), false),
            (None, false),
        ];
        for (status, want) in cases {
            assert_eq!(with(status).succeeded(), want, "{status:?}");
        }
        assert_eq!(with(Some(503)).to_json()["status"], 503);
    }
}
