//! The enrollment protocol: one JSON object per line each way on the agent's Unix socket.
//! `add` → `{"ok":true,"enrolled":true,"pod":{..}}` (captured now), `{"ok":true,"enrolled":false,
//! "reason":".."}` (not meant to be meshed) or `{"ok":false,"error":".."}` (must be meshed but
//! could not be); `remove` (ok also when not enrolled), `check`, `list`.

use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use crate::pods::{EnrolledPod, PodToEnroll};

/// The longest request line the agent reads, newline excluded.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// A request, tagged by `op`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    /// Enroll a pod, if the agent's view says it belongs in the mesh.
    Add(PodToEnroll),
    /// Stop capturing a pod.
    Remove(PodName),
    /// Whether a pod is captured as it should be.
    Check(PodName),
    /// List the enrolled pods.
    List,
}

/// A pod by namespace and name; with `uid`, only that instance of it.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PodName {
    /// Pod namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// Pod UID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

/// The answer to one request.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Response {
    /// Whether the request was carried out.
    pub ok: bool,
    /// Why not, when `ok` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For `add` and `check`: whether the pod is captured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrolled: Option<bool>,
    /// For `add` and `check` when the pod is not meant to be meshed: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The pod enrolled by `add`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<EnrolledPod>,
    /// The pods, for `list`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<Vec<EnrolledPod>>,
}

impl Response {
    /// `{"ok":false,"error":..}`.
    pub fn failed(error: impl ToString) -> Self {
        Self {
            error: Some(error.to_string()),
            ..Self::default()
        }
    }

    /// `{"ok":true}`.
    pub fn done() -> Self {
        Self {
            ok: true,
            ..Self::default()
        }
    }

    /// `{"ok":true,"enrolled":true,"pod":..}`.
    pub fn enrolled(pod: EnrolledPod) -> Self {
        Self {
            enrolled: Some(true),
            pod: Some(pod),
            ..Self::done()
        }
    }

    /// `{"ok":true,"enrolled":false,"reason":..}`.
    pub fn not_meshed(reason: impl ToString) -> Self {
        Self {
            enrolled: Some(false),
            reason: Some(reason.to_string()),
            ..Self::done()
        }
    }
}

const OPS: &str = "add, remove, check or list";

/// Parses one request line, with a message a person can act on when it is wrong.
pub fn parse_request(line: &str) -> Result<Request, String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("bad JSON: {e}"))?;
    let op = match value.get("op") {
        None => return Err(format!("missing field `op` ({OPS})")),
        Some(op) => op
            .as_str()
            .ok_or("field `op` must be a string")?
            .to_string(),
    };
    if !matches!(op.as_str(), "add" | "remove" | "check" | "list") {
        return Err(format!("unknown op `{op}` (expected {OPS})"));
    }
    let mut fields = value;
    if let Some(object) = fields.as_object_mut() {
        object.remove("op");
    }
    let request = match op.as_str() {
        "add" => Request::Add(body(&op, fields)?),
        "remove" => Request::Remove(body(&op, fields)?),
        "check" => Request::Check(body(&op, fields)?),
        _ => Request::List,
    };
    if let Request::Add(pod) = &request {
        if pod.ips.is_empty() {
            return Err("bad `add` request: field `ips` must list at least one pod IP".into());
        }
    }
    Ok(request)
}

/// The fields of an `op` request, errors naming the field at fault.
fn body<T: serde::de::DeserializeOwned>(op: &str, fields: serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(fields).map_err(|e| match e.path().to_string().as_str() {
        "." => format!("bad `{op}` request: {}", e.inner()),
        path => format!("bad `{op}` request: field `{path}`: {}", e.inner()),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_with_every_field_parses() {
        let line = r#"{"op":"add","namespace":"shop","name":"web-0","uid":"u1","container_id":"c1","netns":"/var/run/netns/x","ips":["10.244.1.5","fd00::5"],"node_ips":["10.244.1.1"]}"#;
        let Ok(Request::Add(pod)) = parse_request(line) else {
            panic!("parses");
        };
        assert_eq!(pod.container_id.as_deref(), Some("c1"));
        assert_eq!(pod.ips.len(), 2);
        assert_eq!(
            pod.node_ips,
            ["10.244.1.1".parse::<std::net::IpAddr>().unwrap()]
        );
    }

    #[test]
    fn errors_name_the_field() {
        let bad_ip = r#"{"op":"add","namespace":"a","name":"b","netns":"/x","ips":["10.0.0.300"]}"#;
        let error = parse_request(bad_ip).unwrap_err();
        assert!(
            error.starts_with("bad `add` request: field `ips[0]`"),
            "{error}"
        );
        let none = r#"{"op":"add","namespace":"a","name":"b","netns":"/x","ips":[]}"#;
        assert_eq!(
            parse_request(none).unwrap_err(),
            "bad `add` request: field `ips` must list at least one pod IP"
        );
        let old = r#"{"op":"add","namespace":"a","name":"b","netns":"/x","ip":"10.0.0.1"}"#;
        let error = parse_request(old).unwrap_err();
        assert!(error.contains("unknown field `ip`"), "{error}");
        let check = parse_request(r#"{"op":"check","namespace":"a"}"#).unwrap_err();
        assert!(check.contains("missing field `name`"), "{check}");
        let unknown = parse_request(r#"{"op":"explode"}"#).unwrap_err();
        assert_eq!(
            unknown,
            "unknown op `explode` (expected add, remove, check or list)"
        );
    }

    #[test]
    fn answers_serialize_as_documented() {
        let text = serde_json::to_string(&Response::not_meshed(
            "namespace default is not in the mesh",
        ));
        assert_eq!(
            text.unwrap(),
            r#"{"ok":true,"enrolled":false,"reason":"namespace default is not in the mesh"}"#
        );
        assert_eq!(
            serde_json::to_string(&Response::done()).unwrap(),
            r#"{"ok":true}"#
        );
    }
}
