//! The lab as the container runtime's CNI side: after wiring a pod's network itself (the
//! primary plugin, `net.rs`), it runs the real `mesh-cni` binary as a chained plugin per the
//! CNI spec — `CNI_*` environment, a network configuration with `prevResult` (the pod's IP with
//! its node's bridge as gateway) on stdin — for every pod on a node: the agent, not the lab,
//! decides which pods are meshed. DEL when a pod goes away.

use super::paths::bin_dirs;
use super::state::{Node, Pod};
use super::{run, Lab};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The CNI spec version the lab's runtime speaks.
const CNI_VERSION: &str = "1.0.0";
/// Longer than the plugin's own wait for the agent (15 s).
const PLUGIN_TIMEOUT: Duration = Duration::from_secs(30);

/// How an ADD went.
#[derive(Debug)]
pub enum Added {
    /// The plugin succeeded (the pod is captured, or the agent chose not to mesh it).
    Done,
    /// The plugin failed with this message; a real runtime would retry the sandbox.
    Failed(String),
}

/// Runs `mesh-cni` ADD for a pod on `node`, before the pod's containers start.
pub fn add(lab: &Lab, node: &Node, pod: &Pod) -> Result<Added> {
    let out = invoke(lab, node, pod, "ADD")?;
    if out.status.success() {
        return Ok(Added::Done);
    }
    Ok(Added::Failed(error_message(&out.stdout, &out.stderr)))
}

/// Runs `mesh-cni` DEL for a pod on `node` (the plugin succeeds also with the agent down).
pub fn del(lab: &Lab, node: &Node, pod: &Pod) -> Result<()> {
    let out = invoke(lab, node, pod, "DEL")?;
    if !out.status.success() {
        bail!(
            "CNI DEL of pod {}/{} failed: {}",
            pod.namespace,
            pod.name,
            error_message(&out.stdout, &out.stderr)
        );
    }
    Ok(())
}

/// The network configuration the runtime writes on the plugin's stdin.
fn netconf(lab: &Lab, node: &Node, pod: &Pod) -> Value {
    let ips: Vec<Value> = pod
        .ips()
        .iter()
        .map(|ip| {
            let (prefix, gateway) = bridge_address(node, ip.is_ipv4());
            json!({"address": format!("{ip}/{prefix}"), "gateway": gateway, "interface": 0})
        })
        .collect();
    let routes: Vec<Value> = pod
        .ips()
        .iter()
        .map(|ip| match ip.is_ipv4() {
            true => json!({"dst": "10.244.0.0/16", "gw": bridge_address(node, true).1}),
            false => json!({"dst": super::family::POD_RANGE6, "gw": bridge_address(node, false).1}),
        })
        .collect();
    let prev_result = json!({
        "cniVersion": CNI_VERSION,
        "interfaces": [{"name": "eth0", "sandbox": netns_path(pod)}],
        "ips": ips,
        "routes": routes,
    });
    json!({
        "cniVersion": CNI_VERSION,
        "name": format!("{}-pods", lab.state.name),
        "type": "mesh-cni",
        "agent_socket": lab.dir.agent_socket(&node.name),
        "log_file": lab.dir.cni_log(&node.name),
        "prevResult": prev_result,
    })
}

fn invoke(lab: &Lab, node: &Node, pod: &Pod, command: &str) -> Result<std::process::Output> {
    let plugin = binary()?;
    let cni_args = format!(
        "IgnoreUnknown=1;K8S_POD_NAMESPACE={};K8S_POD_NAME={};K8S_POD_INFRA_CONTAINER_ID={};\
         K8S_POD_UID={}",
        pod.namespace, pod.name, pod.uid, pod.uid
    );
    let cni_path = plugin.parent().unwrap_or(&plugin).to_path_buf();
    let mut cmd = Command::new(&plugin);
    cmd.env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", &pod.uid)
        .env("CNI_NETNS", netns_path(pod))
        .env("CNI_IFNAME", "eth0")
        .env("CNI_PATH", cni_path)
        .env("CNI_ARGS", cni_args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", plugin.display()))?;
    let conf = netconf(lab, node, pod).to_string();
    child
        .stdin
        .take()
        .ok_or_else(|| anyhow!("no stdin for mesh-cni"))?
        .write_all(conf.as_bytes())?;
    // Reading the pipes waits for the plugin; bounded by the timer thread below.
    let pid = child.id();
    let (done, timer) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if timer.recv_timeout(PLUGIN_TIMEOUT).is_err() {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    });
    let out = child.wait_with_output()?;
    let _ = done.send(());
    if out.status.code().is_none() {
        bail!(
            "{} {command} did not finish within {PLUGIN_TIMEOUT:?}: {}",
            plugin.display(),
            run::command_line(&cmd)
        );
    }
    Ok(out)
}

/// The CNI error result's `msg; details`, else whatever the plugin printed.
fn error_message(stdout: &[u8], stderr: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(stdout).ok();
    match parsed {
        Some(error) if error.get("msg").is_some() => {
            let msg = error["msg"].as_str().unwrap_or_default();
            match error["details"].as_str().filter(|d| !d.is_empty()) {
                Some(details) => format!("{msg}: {details}"),
                None => msg.to_string(),
            }
        }
        _ => String::from_utf8_lossy(stderr).trim().to_string(),
    }
}

fn netns_path(pod: &Pod) -> String {
    format!("/var/run/netns/{}", pod.netns)
}

/// The node's bridge address on the pod network (`10.244.N.1`): kubelet probes come from it.
/// The prefix length of the pod network and the node's bridge on it (the pod's gateway), per
/// family.
fn bridge_address(node: &Node, v4: bool) -> (u8, IpAddr) {
    match v4 {
        true => (24, Ipv4Addr::new(10, 244, node.index, 1).into()),
        false => (64, super::family::pod_ip6(node.index, 1).into()),
    }
}

/// The `mesh-cni` binary, where the workspace's binaries are built.
pub fn binary() -> Result<PathBuf> {
    let candidates: Vec<PathBuf> = bin_dirs().into_iter().map(|d| d.join("mesh-cni")).collect();
    match candidates.iter().find(|p| p.is_file()) {
        Some(path) => Ok(path.clone()),
        None => bail!(
            "mesh-cni is not built (looked at {candidates:?}): run \
             `cargo build --bins -p mesh-agent -p mesh-cni -p mesh-workloads`"
        ),
    }
}
