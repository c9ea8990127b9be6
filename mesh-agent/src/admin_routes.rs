//! The admin endpoints (`127.0.0.1:15000`) that are about the agent itself rather than its
//! configuration: `/logging` — GET shows the log filter, POST `?level=L` or `?<module>=L`
//! changes it at run time —, `/stats/prometheus`, the same text as `:15020/metrics`, and
//! `/certs`, the workload certificates held (identity, serial, validity, chain; never keys).

use std::sync::Arc;

use hyper::{Method, StatusCode};
use prometheus_client::registry::Registry;

use crate::admin::{self, Reply, Routes};
use crate::certs::NodeCertificates;
use crate::logging::{LogLevels, LoggingError};

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";

/// `/logging`, `/stats/prometheus` and `/certs`.
pub struct AgentEndpoints {
    metrics: Routes,
    levels: Option<LogLevels>,
    certificates: Option<Arc<NodeCertificates>>,
}

impl AgentEndpoints {
    /// Serves `registry` and changes `levels` (none: `/logging` says so).
    pub fn new(registry: Arc<Registry>, levels: Option<LogLevels>) -> Self {
        Self {
            metrics: admin::metrics_routes(registry),
            levels,
            certificates: None,
        }
    }

    /// Shows `certificates` at `/certs` (none: the agent has no CA, the list is empty).
    pub fn with_certificates(mut self, certificates: Option<Arc<NodeCertificates>>) -> Self {
        self.certificates = certificates;
        self
    }

    /// The reply for `method path?query`, or `None` when the path is not one of these.
    pub fn answer(&self, method: &Method, path: &str, query: Option<&str>) -> Option<Reply> {
        match path {
            "/stats/prometheus" if method == Method::GET => Some((self.metrics)("/metrics")),
            "/stats/prometheus" => Some(not_allowed("GET")),
            "/logging" => Some(self.logging(method, query.unwrap_or(""))),
            "/certs" if method == Method::GET => Some(self.certs()),
            "/certs" => Some(not_allowed("GET")),
            _ => None,
        }
    }

    fn certs(&self) -> Reply {
        let body = serde_json::json!({
            "ca": self.certificates.is_some(),
            "certificates": self.certificates.as_ref().map(|c| c.summaries()).unwrap_or_default(),
        });
        (StatusCode::OK, JSON, format!("{body:#}\n"))
    }

    fn logging(&self, method: &Method, query: &str) -> Reply {
        let Some(levels) = &self.levels else {
            let body = "log levels are not adjustable in this process\n".to_string();
            return (StatusCode::SERVICE_UNAVAILABLE, TEXT, body);
        };
        match *method {
            Method::GET if query.is_empty() => (StatusCode::OK, TEXT, shown(&levels.current())),
            Method::POST => match levels.change(query) {
                Ok(now) => (StatusCode::OK, TEXT, shown(&now)),
                Err(error) => (refusal(&error), TEXT, format!("{error}\n")),
            },
            _ => not_allowed("POST"),
        }
    }
}

/// The body of a `/logging` answer: the filter, one directive a line.
fn shown(directives: &str) -> String {
    let mut body = String::from("active log filter:\n");
    for directive in directives.split(',') {
        body.push_str("  ");
        body.push_str(directive);
        body.push('\n');
    }
    body
}

fn refusal(error: &LoggingError) -> StatusCode {
    match error {
        LoggingError::Reload(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

fn not_allowed(use_instead: &str) -> Reply {
    let body = format!("use {use_instead}\n");
    (StatusCode::METHOD_NOT_ALLOWED, TEXT, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn endpoints() -> (AgentEndpoints, Arc<Mutex<Vec<String>>>) {
        let swapped = Arc::new(Mutex::new(Vec::new()));
        let seen = swapped.clone();
        let levels = LogLevels::new("info".into(), move |f| {
            seen.lock().unwrap().push(f.to_string());
            Ok(())
        });
        let mut registry = Registry::default();
        let gauge = prometheus_client::metrics::gauge::Gauge::<i64>::default();
        gauge.set(3);
        registry.register("mesh_enrolled_pods", "Pods", gauge);
        (
            AgentEndpoints::new(Arc::new(registry), Some(levels)),
            swapped,
        )
    }

    #[test]
    fn stats_prometheus_is_the_metrics_text() {
        let (endpoints, _) = endpoints();
        let (status, _, body) = endpoints
            .answer(&Method::GET, "/stats/prometheus", None)
            .unwrap();
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("mesh_enrolled_pods 3"), "{body}");
        assert!(endpoints
            .answer(&Method::GET, "/config_dump", None)
            .is_none());
    }

    #[test]
    fn certs_without_a_ca_is_an_empty_list_saying_so() {
        let (endpoints, _) = endpoints();
        let (status, kind, body) = endpoints.answer(&Method::GET, "/certs", None).unwrap();
        assert_eq!((status, kind), (StatusCode::OK, JSON));
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json, serde_json::json!({"ca": false, "certificates": []}));
        let (status, _, _) = endpoints.answer(&Method::POST, "/certs", None).unwrap();
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn logging_shows_and_changes_the_levels() {
        let (endpoints, swapped) = endpoints();
        let answer = |method, query| endpoints.answer(&method, "/logging", query).unwrap();
        let (status, _, body) = answer(Method::GET, None);
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "active log filter:\n  info\n")
        );
        let (status, _, body) = answer(Method::POST, Some("mesh_agent::proxy=debug"));
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("  mesh_agent::proxy=debug\n"), "{body}");
        let filter = swapped.lock().unwrap()[0].clone();
        let mut directives: Vec<&str> = filter.split(',').collect();
        directives.sort();
        assert_eq!(directives, ["info", "mesh_agent::proxy=debug"]);
        assert_eq!(
            answer(Method::POST, Some("level=loud")).0,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            answer(Method::GET, Some("level=debug")).0,
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(
            swapped.lock().unwrap().len(),
            1,
            "refused changes change nothing"
        );
    }
}
