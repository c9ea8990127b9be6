//! `mesh-agent admin`: asks a running agent's admin socket one question (`config-dump`,
//! `clusters`, `logging [LEVEL]`, `stats`, `certs`) and hands back the answer.

use std::path::Path;

use anyhow::{bail, Context as _};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

/// One admin question.
#[derive(Clone, Debug, PartialEq, Eq, clap::Subcommand)]
pub enum AdminQuery {
    /// The configuration in force, rejected resources and the last reload's problems (JSON).
    ConfigDump,
    /// The clusters with their endpoints, health and outlier state (JSON).
    Clusters,
    /// Show the log filter, or change it: `debug`, or `mesh_agent::proxy=debug` for one module.
    Logging {
        /// The new level or `module=level` directive; none shows the current filter.
        level: Option<String>,
    },
    /// The Prometheus text, as `/metrics` serves it.
    Stats,
    /// The workload certificates held: identity, pods, serial, validity, chain (JSON; no keys).
    Certs,
}

impl AdminQuery {
    /// The HTTP method and path (with query) it is asked with.
    pub fn request_line(&self) -> (Method, String) {
        match self {
            Self::ConfigDump => (Method::GET, "/config_dump".into()),
            Self::Clusters => (Method::GET, "/clusters".into()),
            Self::Logging { level: None } => (Method::GET, "/logging".into()),
            Self::Logging { level: Some(level) } if level.contains('=') => {
                (Method::POST, format!("/logging?{level}"))
            }
            Self::Logging { level: Some(level) } => {
                (Method::POST, format!("/logging?level={level}"))
            }
            Self::Stats => (Method::GET, "/stats/prometheus".into()),
            Self::Certs => (Method::GET, "/certs".into()),
        }
    }
}

/// Asks the agent at `socket`; its answer's body when the status is a success, else an error
/// carrying the status and the agent's message.
pub async fn ask(socket: &Path, query: &AdminQuery) -> anyhow::Result<String> {
    let stream = UnixStream::connect(socket).await.with_context(|| {
        format!(
            "no agent answers on {}: is mesh-agent running on this node? (--socket names \
             another admin socket)",
            socket.display()
        )
    })?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("admin socket handshake")?;
    tokio::spawn(connection);
    let (method, path) = query.request_line();
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, "localhost")
        .body(Empty::<Bytes>::new())
        .context("building the admin request")?;
    let response = sender
        .send_request(request)
        .await
        .with_context(|| format!("asking the agent on {}", socket.display()))?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    let body = String::from_utf8_lossy(&body).into_owned();
    answer(status, body)
}

/// The body of a successful answer; the agent's refusal as an error otherwise.
fn answer(status: StatusCode, body: String) -> anyhow::Result<String> {
    if status.is_success() {
        return Ok(body);
    }
    bail!("the agent answered {status}: {}", body.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_query_asks_its_endpoint() {
        let logging = |level: Option<&str>| AdminQuery::Logging {
            level: level.map(String::from),
        };
        let cases = [
            (AdminQuery::ConfigDump, Method::GET, "/config_dump"),
            (AdminQuery::Clusters, Method::GET, "/clusters"),
            (AdminQuery::Stats, Method::GET, "/stats/prometheus"),
            (AdminQuery::Certs, Method::GET, "/certs"),
            (logging(None), Method::GET, "/logging"),
            (logging(Some("debug")), Method::POST, "/logging?level=debug"),
            (
                logging(Some("mesh_agent::proxy=trace")),
                Method::POST,
                "/logging?mesh_agent::proxy=trace",
            ),
        ];
        for (query, method, path) in cases {
            assert_eq!(
                query.request_line(),
                (method, path.to_string()),
                "{query:?}"
            );
        }
    }

    #[test]
    fn a_refusal_carries_the_status_and_the_agents_message() {
        assert_eq!(answer(StatusCode::OK, "x".into()).unwrap(), "x");
        let refused = answer(StatusCode::BAD_REQUEST, "unknown level loud\n".into());
        let message = refused.unwrap_err().to_string();
        assert_eq!(
            message,
            "the agent answered 400 Bad Request: unknown level loud"
        );
    }

    #[tokio::test]
    async fn no_agent_is_a_clear_error() {
        let socket = Path::new("/nonexistent/mesh-agent/admin.sock");
        let error = ask(socket, &AdminQuery::Clusters).await.unwrap_err();
        let message = format!("{error:#}");
        assert!(
            message.contains("no agent answers on /nonexistent/mesh-agent/admin.sock"),
            "{message}"
        );
    }
}
