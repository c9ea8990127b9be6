//! The enrollment API: a Unix socket where the lab (or, in a cluster, the CNI plugin) adds and
//! removes pods. One JSON object per line each way:
//! `{"op":"add","namespace":..,"name":..,"uid":..,"netns":..,"ips":[..],"node_ips":[..]}`,
//! `{"op":"remove","namespace":..,"name":..}`, `{"op":"list"}` → `{"ok":true,..}` or
//! `{"ok":false,"error":".."}`.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::pods::{EnrolledPod, EnrolledPods, PodToEnroll};

/// A request, tagged by `op`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    /// Enroll a pod.
    Add(PodToEnroll),
    /// Remove a pod.
    Remove(PodName),
    /// List the enrolled pods.
    List,
}

/// A pod by namespace and name.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PodName {
    /// Pod namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
}

/// The answer to one request.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Response {
    /// Whether the request was carried out.
    pub ok: bool,
    /// Why not, when `ok` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The pod enrolled by `add`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<EnrolledPod>,
    /// The pods, for `list`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<Vec<EnrolledPod>>,
}

impl Response {
    fn failed(error: impl ToString) -> Self {
        Self {
            error: Some(error.to_string()),
            ..Self::default()
        }
    }
}

/// Parses one request line, with a message a person can act on when it is wrong.
pub fn parse_request(line: &str) -> Result<Request, String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("bad JSON: {e}"))?;
    let op = match value.get("op") {
        None => return Err("missing field `op` (add, remove or list)".into()),
        Some(op) => op
            .as_str()
            .ok_or("field `op` must be a string")?
            .to_string(),
    };
    if !matches!(op.as_str(), "add" | "remove" | "list") {
        return Err(format!("unknown op `{op}` (expected add, remove or list)"));
    }
    serde_json::from_value(value).map_err(|e| format!("bad `{op}` request: {e}"))
}

/// Carries out one request line.
pub async fn handle(pods: &EnrolledPods, line: &str) -> Response {
    let request = match parse_request(line) {
        Ok(request) => request,
        Err(error) => return Response::failed(error),
    };
    match request {
        Request::Add(spec) => match pods.add(spec).await {
            Ok(pod) => Response {
                ok: true,
                pod: Some(pod),
                ..Response::default()
            },
            Err(error) => Response::failed(error),
        },
        Request::Remove(pod) => match pods.remove(&pod.namespace, &pod.name).await {
            Ok(()) => Response {
                ok: true,
                ..Response::default()
            },
            Err(error) => Response::failed(error),
        },
        Request::List => {
            let list = pods.list().await;
            Response {
                ok: true,
                pods: Some(list),
                ..Response::default()
            }
        }
    }
}

/// The enrollment socket. The socket file is removed when the server is dropped.
pub struct EnrollServer {
    listener: UnixListener,
    path: PathBuf,
}

impl EnrollServer {
    /// Binds `path` (creating its directory, replacing a stale socket), readable by root only.
    pub fn new(path: &Path) -> io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        match std::fs::remove_file(path) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
        let listener = UnixListener::bind(path)?;
        std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        Ok(Self {
            listener,
            path: path.to_path_buf(),
        })
    }

    /// The socket path.
    pub fn address(&self) -> &Path {
        &self.path
    }

    /// Serves clients until the task is dropped.
    pub async fn run(self, pods: Arc<EnrolledPods>) {
        loop {
            match self.listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(serve_client(stream, pods.clone()));
                }
                Err(error) => tracing::warn!(%error, "enrollment accept failed"),
            }
        }
    }
}

impl Drop for EnrollServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn serve_client(stream: UnixStream, pods: Arc<EnrolledPods>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim().is_empty() {
            continue;
        }
        let response = handle(&pods, &line).await;
        let mut text = serde_json::to_string(&response).expect("a response serializes");
        text.push('\n');
        if write.write_all(text.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Sends one request to the agent at `socket` and returns its answer.
pub async fn request(socket: &Path, request: &Request) -> anyhow::Result<Response> {
    let stream = UnixStream::connect(socket)
        .await
        .with_context(|| format!("cannot connect to the agent at {}", socket.display()))?;
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_string(request)?;
    line.push('\n');
    write.write_all(line.as_bytes()).await?;
    let answer = BufReader::new(read)
        .lines()
        .next_line()
        .await?
        .context("the agent closed the connection without answering")?;
    serde_json::from_str(&answer).with_context(|| format!("bad answer from the agent: {answer}"))
}
