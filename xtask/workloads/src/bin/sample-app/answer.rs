//! The JSON answer every request gets, and what a request's path asks for
//! (`/healthz`, `/status/<code>`, `/delay/<ms>`, `?size=N`).

use hyper::HeaderMap;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// The longest delay `/delay/<ms>` honours, so a request always ends.
pub const MAX_PATH_DELAY: Duration = Duration::from_secs(60);
/// The largest body `?size=N` sends (16 MiB).
pub const MAX_BODY_SIZE: usize = 16 << 20;

/// Who answers: the workload's name, version and pod, fixed for the process's lifetime.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The service name (`--name`).
    pub service: String,
    /// The workload version (`--version`), e.g. `v1`.
    pub version: String,
    /// The pod: `POD_NAME` from the environment, else the hostname.
    pub pod: String,
}

/// The pod's name as Kubernetes' downward API would give it: `POD_NAME`, else the hostname.
pub fn pod_name() -> String {
    if let Ok(name) = std::env::var("POD_NAME") {
        if !name.is_empty() {
            return name;
        }
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

/// What a request's path asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum PathIntent {
    /// `/healthz`: a plain `ok`, never delayed nor failed.
    Health,
    /// `/status/<code>`: answer with that code.
    Status(u16),
    /// `/delay/<ms>`: wait that long, then answer (capped at [`MAX_PATH_DELAY`]).
    Delay(Duration),
    /// Anything else: the echo answer (calling the upstreams, if any).
    Echo,
}

/// Reads what the path asks for; `Err` holds why a special path is malformed (answered with 400).
pub fn path_intent(path: &str) -> Result<PathIntent, String> {
    if path == "/healthz" {
        return Ok(PathIntent::Health);
    }
    if let Some(code) = path.strip_prefix("/status/") {
        return match code.trim_end_matches('/').parse::<u16>() {
            Ok(c) if (100..=599).contains(&c) => Ok(PathIntent::Status(c)),
            _ => Err(format!("not a status code: {code:?}")),
        };
    }
    if let Some(ms) = path.strip_prefix("/delay/") {
        return match ms.trim_end_matches('/').parse::<u64>() {
            Ok(ms) => Ok(PathIntent::Delay(
                Duration::from_millis(ms).min(MAX_PATH_DELAY),
            )),
            Err(_) => Err(format!("not a delay in milliseconds: {ms:?}")),
        };
    }
    Ok(PathIntent::Echo)
}

/// The body size `?size=N` asks for (capped at [`MAX_BODY_SIZE`]), if the query has one.
pub fn requested_size(query: Option<&str>) -> Option<usize> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("size="))
        .and_then(|n| n.parse::<usize>().ok())
        .map(|n| n.min(MAX_BODY_SIZE))
}

/// The received headers as a JSON object (repeated headers joined with `, `).
pub fn headers_json(headers: &HeaderMap) -> Map<String, Value> {
    let mut out = Map::new();
    for name in headers.keys() {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        out.insert(name.as_str().to_string(), Value::String(values.join(", ")));
    }
    out
}

/// What the server saw of one request.
pub struct Received<'a> {
    /// The request method.
    pub method: &'a str,
    /// The request path (without the query).
    pub path: &'a str,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The request body's length.
    pub body_bytes: usize,
}

/// The echo answer: who answered, what was received, and the upstreams' answers.
pub fn echo(who: &Identity, received: &Received<'_>, upstream: Vec<Value>) -> Value {
    json!({
        "service": who.service,
        "version": who.version,
        "pod": who.pod,
        "method": received.method,
        "path": received.path,
        "headers": headers_json(received.headers),
        "body_bytes": received.body_bytes,
        "upstream": upstream,
    })
}

/// The version and pod at the end of the call chain: follows `upstream[0].answer` as deep as it
/// goes, so a load on a frontend counts the backend versions it reached.
pub fn leaf_identity(answer: &Value) -> (Option<String>, Option<String>) {
    let mut at = answer;
    while let Some(next) = at.pointer("/upstream/0/answer").filter(|v| v.is_object()) {
        at = next;
    }
    let text = |key: &str| at.get(key).and_then(Value::as_str).map(str::to_string);
    (text("version"), text("pod"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_intents() {
        let ms = Duration::from_millis;
        let cases: &[(&str, Result<PathIntent, ()>)] = &[
            ("/", Ok(PathIntent::Echo)),
            ("/productpage", Ok(PathIntent::Echo)),
            ("/healthz", Ok(PathIntent::Health)),
            ("/status/503", Ok(PathIntent::Status(503))),
            ("/status/200/", Ok(PathIntent::Status(200))),
            ("/status/42", Err(())),
            ("/status/abc", Err(())),
            ("/delay/250", Ok(PathIntent::Delay(ms(250)))),
            ("/delay/99999999", Ok(PathIntent::Delay(MAX_PATH_DELAY))),
            ("/delay/x", Err(())),
        ];
        for (path, want) in cases {
            assert_eq!(&path_intent(path).map_err(|_| ()), want, "{path}");
        }
    }

    #[test]
    fn sizes() {
        let cases = [
            (None, None),
            (Some("a=1"), None),
            (Some("size=1024"), Some(1024)),
            (Some("a=1&size=0"), Some(0)),
            (Some("size=abc"), None),
            (Some("size=999999999999"), Some(MAX_BODY_SIZE)),
        ];
        for (query, want) in cases {
            assert_eq!(requested_size(query), want, "{query:?}");
        }
    }

    #[test]
    fn leaf_follows_the_first_upstream() {
        let own = json!({"version": "v1", "pod": "frontend-0", "upstream": []});
        assert_eq!(
            leaf_identity(&own),
            (Some("v1".into()), Some("frontend-0".into()))
        );
        let chained = json!({"version": "v1", "pod": "frontend-0", "upstream": [
            {"url": "http://backend/", "status": 200,
             "answer": {"version": "v2", "pod": "backend-v2-0", "upstream": []}}]});
        assert_eq!(
            leaf_identity(&chained),
            (Some("v2".into()), Some("backend-v2-0".into()))
        );
        let failed = json!({"version": "v1", "pod": "f", "upstream": [{"answer": null}]});
        assert_eq!(
            leaf_identity(&failed),
            (Some("v1".into()), Some("f".into()))
        );
        assert_eq!(leaf_identity(&json!("text")), (None, None));
    }

    #[test]
    fn repeated_headers_are_joined() {
        let mut headers = HeaderMap::new();
        headers.append("x-a", "1".parse().unwrap());
        headers.append("x-a", "2".parse().unwrap());
        headers.append("traceparent", "00-abc".parse().unwrap());
        let json = headers_json(&headers);
        assert_eq!(json["x-a"], "1, 2");
        assert_eq!(json["traceparent"], "00-abc");
    }
}
