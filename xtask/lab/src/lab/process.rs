//! Pod processes: each container's `command` + `args` runs as a host process inside the pod
//! (`ip netns exec`, the pod's cgroup, its own session), logging to the pod's log file; its exit
//! code is written next to the log so `lab status` can report it.

use super::cgroup;
use super::paths::{bin_dirs, LabDir};
use super::state::{Container, Pod};
use anyhow::{Context, Result};
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs the container and writes its exit code to the file named by `$1`.
const RECORD_EXIT: &str = r#"exit_file=$1; shift; "$@"; echo $? > "$exit_file""#;

/// Starts every container of `pod` (not waiting for them).
pub fn start_containers(dir: &LabDir, pod: &Pod) -> Result<()> {
    let log_path = dir.log_file(&pod.namespace, &pod.name);
    for container in &pod.containers {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let exit_file = dir.exit_file(&pod.namespace, &pod.name, &container.name);
        let _ = std::fs::remove_file(&exit_file);
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            &pod.netns,
            "sh",
            "-c",
            RECORD_EXIT,
            "lab-container",
        ])
        .arg(&exit_file)
        .args(&container.argv)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
        pod_env(&mut cmd, pod, container);
        if let Some(host) = &pod.external_host {
            cmd.envs(super::external_tls::env(dir, host));
        }
        let mut enter = cgroup::enter_hook(&pod.cgroup)?;
        // SAFETY: the hook only makes async-signal-safe calls (open/write/close, setsid).
        unsafe {
            cmd.pre_exec(move || {
                enter()?;
                nix::unistd::setsid().map_err(std::io::Error::from)?;
                Ok(())
            });
        }
        let mut child = cmd.spawn().with_context(|| {
            format!(
                "pod {}/{}: starting container {:?}",
                pod.namespace, pod.name, container.name
            )
        })?;
        // Reap it when it exits, for long-running callers (the demo).
        std::thread::spawn(move || child.wait());
    }
    Ok(())
}

/// A command running `argv` in `pod` (netns, cgroup, hosts file), inheriting stdio.
pub fn pod_command(pod: &Pod, argv: &[String]) -> Result<Command> {
    let mut cmd = netns_command(&pod.netns, argv);
    let enter = cgroup::enter_hook(&pod.cgroup)?;
    // SAFETY: the hook only makes async-signal-safe calls (open/write/close).
    unsafe {
        cmd.pre_exec(enter);
    }
    cmd.env("POD_NAME", &pod.name)
        .env("POD_NAMESPACE", &pod.namespace)
        .env("POD_IP", pod.ips[0].to_string())
        .env("POD_IPS", pod_ips(pod));
    Ok(cmd)
}

/// A command running `argv` in the network namespace `netns`.
pub fn netns_command(netns: &str, argv: &[String]) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", netns]).args(argv);
    cmd.env("PATH", search_path());
    cmd
}

/// The container's environment: the lab's variables, then the container's own `env`.
fn pod_env(cmd: &mut Command, pod: &Pod, container: &Container) {
    cmd.env("PATH", search_path())
        .env("POD_NAME", &pod.name)
        .env("POD_NAMESPACE", &pod.namespace)
        .env("POD_IP", pod.ips[0].to_string())
        .env("POD_IPS", pod_ips(pod))
        .env("NODE_NAME", pod.node.as_deref().unwrap_or("external"))
        .env("HOSTNAME", &pod.name);
    for (name, value) in &container.env {
        cmd.env(name, value);
    }
}

/// PATH with the workspace's binaries first (`sample-app`, `mesh-agent`).
fn search_path() -> OsString {
    let inherited = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<_> = bin_dirs();
    dirs.extend(std::env::split_paths(&inherited));
    std::env::join_paths(dirs).unwrap_or(inherited)
}

/// The exit code a container recorded, if it has exited.
pub fn exit_code(exit_file: &Path) -> Option<i32> {
    std::fs::read_to_string(exit_file).ok()?.trim().parse().ok()
}

/// `POD_IPS`: the pod's IPs, comma-separated (the downward API's `status.podIPs`).
fn pod_ips(pod: &Pod) -> String {
    let ips: Vec<String> = pod.ips.iter().map(ToString::to_string).collect();
    ips.join(",")
}
