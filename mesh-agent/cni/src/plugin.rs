//! The CNI operations (spec 1.0; 0.3.x to 1.1.0 configurations accepted): ADD hands the pod to
//! the agent and returns `prevResult` unchanged; DEL releases it (an unreachable agent is not an
//! error: it reconciles when back); CHECK asks the agent; VERSION, GC and STATUS answer locally.
//! Pods in `exclude_namespaces` are never sent and never blocked.

use crate::enrollment::{self, AddPod, Answer, PodKey, Request, Unanswered};
use crate::env::{self, Invocation};
use crate::netconf::PluginConf;
use rscni_types::error::Error;
use rscni_types::types::Cmd;
use rscni_types::version::PluginInfo;
use serde_json::Value;

/// Error code for a pod the agent must mesh but could not (plugin codes start at 100).
pub const NOT_CAPTURED: u32 = 100;
/// Error code for an answer that broke off or made no sense.
pub const BAD_EXCHANGE: u32 = 101;

/// What one invocation printed and what it did, for the log.
#[derive(Debug)]
pub struct Outcome {
    /// Written to stdout: the result, the version info, or the error result.
    pub stdout: String,
    /// Whether the operation succeeded (exit code 0).
    pub success: bool,
    /// One line for `log_file`.
    pub summary: String,
}

/// Runs the operation in `CNI_COMMAND` on the configuration in `stdin`.
pub fn invoke(
    var: &impl Fn(&str) -> Option<String>,
    stdin: &[u8],
) -> (Outcome, Option<PluginConf>) {
    let conf = PluginConf::parse(stdin);
    let version = conf
        .as_ref()
        .ok()
        .and_then(|c| c.net.version().ok())
        .unwrap_or(rscni_types::version::SpecVersion::CURRENT);
    let outcome = match dispatch(var, conf.as_ref()) {
        Ok((stdout, summary)) => Outcome {
            stdout,
            success: true,
            summary,
        },
        Err(error) => Outcome {
            stdout: serde_json::to_string(&rscni_types::types::ErrorResult::new(version, &error))
                .expect("an error result serializes"),
            success: false,
            summary: format!("failed: {error}"),
        },
    };
    (outcome, conf.ok())
}

fn dispatch(
    var: &impl Fn(&str) -> Option<String>,
    conf: Result<&PluginConf, &Error>,
) -> Result<(String, String), Error> {
    let cmd: Cmd = env::command(var)?.parse()?;
    if cmd == Cmd::Version {
        let info = serde_json::to_string(&PluginInfo::default()).expect("version info serializes");
        return Ok((info, "VERSION".into()));
    }
    let conf = conf.map_err(Clone::clone)?;
    PluginInfo::default().negotiate(&conf.net, cmd)?;
    match cmd {
        Cmd::Add => add(conf, &env::read(var, true)?),
        Cmd::Del => del(conf, &env::read(var, false)?).map(|s| (String::new(), s)),
        Cmd::Check => check(conf, &env::read(var, true)?).map(|s| (String::new(), s)),
        Cmd::Gc | Cmd::Status => Ok((String::new(), "nothing to do: the agent reconciles".into())),
        Cmd::Version => unreachable!("answered above"),
    }
}

/// ADD: the agent decides and captures; the pod starts only once this returns.
fn add(conf: &PluginConf, inv: &Invocation) -> Result<(String, String), Error> {
    let result = echo_prev_result(conf)?;
    let pod = &inv.pod;
    let who = format!("pod {}/{}", pod.namespace, pod.name);
    if conf.is_excluded(&pod.namespace) {
        return Ok((result, format!("ADD {who}: namespace excluded, not sent")));
    }
    let netns = inv.netns.clone().unwrap_or_default();
    let addresses = conf.pod_addresses()?;
    let uid = pod
        .uid
        .clone()
        .ok_or_else(|| Error::InvalidEnvValue(format!("CNI_ARGS has no K8S_POD_UID for {who}")))?;
    let request = Request::Add(AddPod {
        namespace: pod.namespace.clone(),
        name: pod.name.clone(),
        uid,
        container_id: Some(inv.container_id.clone()),
        netns,
        ips: addresses.ips,
        node_ips: addresses.gateways,
    });
    let answer = ask(conf, &request, &who)?;
    let summary = match answer.enrolled {
        Some(false) => format!(
            "ADD {who}: not meshed ({})",
            answer.reason.as_deref().unwrap_or("no reason given")
        ),
        _ => format!("ADD {who}: enrolled"),
    };
    Ok((result, summary))
}

/// DEL: idempotent; an agent that is down has nothing to release now.
fn del(conf: &PluginConf, inv: &Invocation) -> Result<String, Error> {
    let who = format!("pod {}/{}", inv.pod.namespace, inv.pod.name);
    if conf.is_excluded(&inv.pod.namespace) {
        return Ok(format!("DEL {who}: namespace excluded, not sent"));
    }
    match enrollment::send(&conf.agent_socket, &Request::Remove(key(inv))) {
        Err(Unanswered::Unreachable(e)) => Ok(format!(
            "DEL {who}: agent at {} unreachable ({e}); it releases the pod when it reconciles",
            conf.agent_socket.display()
        )),
        Err(Unanswered::Broken(e)) => Err(bad_exchange(conf, &who, &e)),
        Ok(answer) => refused(conf, &who, answer).map(|_| format!("DEL {who}: released")),
    }
}

/// CHECK: the agent confirms the pod is captured (or not meant to be).
fn check(conf: &PluginConf, inv: &Invocation) -> Result<String, Error> {
    let who = format!("pod {}/{}", inv.pod.namespace, inv.pod.name);
    if conf.is_excluded(&inv.pod.namespace) {
        return Ok(format!("CHECK {who}: namespace excluded"));
    }
    ask(conf, &Request::Check(key(inv)), &who).map(|_| format!("CHECK {who}: ok"))
}

fn key(inv: &Invocation) -> PodKey {
    PodKey {
        namespace: inv.pod.namespace.clone(),
        name: inv.pod.name.clone(),
        uid: inv.pod.uid.clone(),
    }
}

/// Sends `request`; unreachable or refused is an error naming the pod and the socket.
fn ask(conf: &PluginConf, request: &Request, who: &str) -> Result<Answer, Error> {
    match enrollment::send(&conf.agent_socket, request) {
        Ok(answer) => refused(conf, who, answer),
        Err(Unanswered::Unreachable(e)) => Err(Error::TryAgainLater(format!(
            "{who}: the mesh agent at {} is unreachable ({e}); it decides whether the pod is \
             meshed, so the sandbox waits until the agent is back",
            conf.agent_socket.display()
        ))),
        Err(Unanswered::Broken(e)) => Err(bad_exchange(conf, who, &e)),
    }
}

fn refused(conf: &PluginConf, who: &str, answer: Answer) -> Result<Answer, Error> {
    if answer.ok {
        return Ok(answer);
    }
    Err(Error::Custom(
        NOT_CAPTURED,
        "the mesh agent could not capture the pod".into(),
        format!(
            "{who}: the agent at {} answered: {}",
            conf.agent_socket.display(),
            answer.error.as_deref().unwrap_or("no reason given")
        ),
    ))
}

fn bad_exchange(conf: &PluginConf, who: &str, error: &str) -> Error {
    Error::Custom(
        BAD_EXCHANGE,
        "no usable answer from the mesh agent".into(),
        format!(
            "{who}: the agent at {}: {error}",
            conf.agent_socket.display()
        ),
    )
}

/// `prevResult` as received, reported under the configuration's `cniVersion`.
fn echo_prev_result(conf: &PluginConf) -> Result<String, Error> {
    let mut result = conf.require_prev_result()?.clone();
    match &mut result {
        Value::Object(map) => {
            map.insert("cniVersion".into(), Value::String(conf.cni_version.clone()));
        }
        other => {
            return Err(Error::FailedToDecode(format!(
                "prevResult must be an object, got {other}"
            )))
        }
    }
    Ok(serde_json::to_string(&result).expect("a JSON value serializes"))
}
