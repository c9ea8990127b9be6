//! The plugin's side of the node agent's enrollment protocol (the agent's side:
//! `mesh-agent/src/enroll/protocol.rs`): one JSON object per line each way over a Unix socket;
//! `add`, `remove`, `check`, and their answers.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::IpAddr;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// How long the agent may take to answer: it waits up to ~10 s for a new pod to reach its
/// Kubernetes view before deciding.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);
/// How long writing the request may block.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest answer line read from the agent.
const MAX_ANSWER: u64 = 1 << 20;

/// One request to the agent.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    /// A new pod sandbox: the agent decides whether to mesh it and captures it before the app
    /// starts.
    Add(AddPod),
    /// The sandbox is going away (also when the pod was never enrolled).
    Remove(PodKey),
    /// Is the pod captured as it should be?
    Check(PodKey),
}

/// What `add` carries.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct AddPod {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    pub netns: String,
    pub ips: Vec<IpAddr>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub node_ips: Vec<IpAddr>,
}

/// A pod by name (uid when known).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PodKey {
    pub namespace: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

/// The agent's answer.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Answer {
    pub ok: bool,
    /// For `add`: whether the pod is captured now (`false`: the agent chose not to mesh it).
    #[serde(default)]
    pub enrolled: Option<bool>,
    /// Why the agent did not mesh the pod.
    #[serde(default)]
    pub reason: Option<String>,
    /// Why the request failed, when `ok` is false.
    #[serde(default)]
    pub error: Option<String>,
    /// The enrolled pod, as the agent reports it.
    #[serde(default)]
    pub pod: Option<Value>,
}

/// Why no answer came back.
#[derive(Debug)]
pub enum Unanswered {
    /// Nothing listens at the socket (the agent is down or restarting).
    Unreachable(std::io::Error),
    /// Connected, but the exchange failed (timeout, closed, bad answer).
    Broken(String),
}

impl std::fmt::Display for Unanswered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unanswered::Unreachable(e) => write!(f, "the agent is unreachable: {e}"),
            Unanswered::Broken(e) => f.write_str(e),
        }
    }
}

/// Sends one request to the agent at `socket` and reads its one-line answer.
pub fn send(socket: &Path, request: &Request) -> Result<Answer, Unanswered> {
    let mut stream = UnixStream::connect(socket).map_err(Unanswered::Unreachable)?;
    let broken = |what: &str, e: &dyn std::fmt::Display| Unanswered::Broken(format!("{what}: {e}"));
    stream
        .set_read_timeout(Some(ANSWER_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(WRITE_TIMEOUT)))
        .map_err(|e| broken("setting socket timeouts", &e))?;
    let mut line = serde_json::to_vec(request).expect("a request serializes");
    line.push(b'\n');
    stream
        .write_all(&line)
        .map_err(|e| broken("sending the request", &e))?;
    let mut answer = String::new();
    BufReader::new(stream.take(MAX_ANSWER))
        .read_line(&mut answer)
        .map_err(|e| broken(&format!("no answer within {ANSWER_TIMEOUT:?}"), &e))?;
    if answer.trim().is_empty() {
        return Err(Unanswered::Broken(
            "the agent closed the connection without answering".into(),
        ));
    }
    serde_json::from_str(&answer)
        .map_err(|e| broken(&format!("bad answer {:?}", answer.trim()), &e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn add_is_written_as_the_protocol_says() {
        let request = Request::Add(AddPod {
            namespace: "shop".into(),
            name: "cart-0".into(),
            uid: "u-1".into(),
            container_id: Some("c1".into()),
            netns: "/var/run/netns/x".into(),
            ips: vec!["10.244.1.5".parse().unwrap(), "fd00::5".parse().unwrap()],
            node_ips: vec!["10.244.1.1".parse().unwrap()],
        });
        let got = serde_json::to_value(&request).unwrap();
        let want = json!({
            "op": "add", "namespace": "shop", "name": "cart-0", "uid": "u-1",
            "container_id": "c1", "netns": "/var/run/netns/x",
            "ips": ["10.244.1.5", "fd00::5"], "node_ips": ["10.244.1.1"]
        });
        assert_eq!(got, want);
    }

    #[test]
    fn remove_and_check_name_the_pod() {
        let key = PodKey {
            namespace: "shop".into(),
            name: "cart-0".into(),
            uid: None,
        };
        let got = serde_json::to_value(Request::Remove(key.clone())).unwrap();
        assert_eq!(
            got,
            json!({"op": "remove", "namespace": "shop", "name": "cart-0"})
        );
        let got = serde_json::to_value(Request::Check(key)).unwrap();
        assert_eq!(got["op"], "check");
    }

    #[test]
    fn a_missing_socket_is_unreachable() {
        let request = Request::Check(PodKey {
            namespace: "a".into(),
            name: "b".into(),
            uid: None,
        });
        let got = send(Path::new("/nonexistent/mesh-cni-test.sock"), &request);
        assert!(matches!(got, Err(Unanswered::Unreachable(_))), "{got:?}");
    }
}
