//! `lab down`: removes everything of a lab — also after a crash, with no or broken state — by
//! name: the agents, the CA and the DNS (SIGTERM first), the cgroup tree, every `<lab>-` network namespace and
//! `/etc/netns` entry, the agents' map pins and the state dir.

use super::alloc::fabric_netns;
use super::paths::{check_lab_name, labs_dir, LabDir};
use super::state::State;
use super::{agent_process, cgroup, hosts, net};
use anyhow::{bail, Context, Result};
use std::path::Path;

/// Tears lab `name` down. Succeeds when there is nothing to remove.
pub fn down(name: &str) -> Result<()> {
    check_lab_name(name)?;
    if !nix::unistd::geteuid().is_root() {
        bail!("the lab needs root (network namespaces, cgroups, /etc/netns): run as root");
    }
    let dir = LabDir::new(name);
    let owned = Ownership::new(name, &dir);
    let root = cgroup::lab_root(name)?;
    // As a runtime tears sandboxes down: CNI DEL for every pod, while the agents still run.
    if let Ok(state) = State::load(&dir.state_file()) {
        let lab = super::Lab {
            state,
            dir: dir.clone(),
        };
        for pod in &lab.state.pods {
            lab.cni_del(pod);
        }
    }
    // The agents first, while the pods' namespaces still exist: they unenroll and detach.
    agent_process::stop_all(&agent_process::agents_cgroup(&root))?;
    agent_process::stop_all(&super::ca::ca_cgroup(&root))?;
    agent_process::stop_all(&super::dns::dns_cgroup(&root))?;
    cgroup::remove_tree(&root)?;
    for netns in net::list_netns()?.into_iter().filter(|n| owned.owns(n)) {
        kill_netns_processes(&netns)?;
        net::delete_netns(&netns)?;
    }
    if let Ok(entries) = std::fs::read_dir("/etc/netns") {
        for entry in entries.flatten() {
            let netns = entry.file_name().to_string_lossy().into_owned();
            if owned.owns(&netns) {
                remove_dir(&hosts::netns_etc(&netns))?;
            }
        }
    }
    agent_process::remove_pins(name)?;
    remove_dir(dir.root())
}

/// Kills processes left in a namespace outside the lab's cgroups.
pub fn kill_netns_processes(netns: &str) -> Result<()> {
    if !net::list_netns()?.iter().any(|n| n == netns) {
        return Ok(());
    }
    for pid in net::netns_pids(netns)? {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    Ok(())
}

/// Removes a directory tree; absent is fine.
pub fn remove_dir(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            Err(err).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Which namespaces belong to a lab: those its state recorded, and those named `<lab>-…`
/// unless they carry the prefix of another lab whose name extends this one (`<lab>-x-…`).
struct Ownership {
    prefix: String,
    recorded: Vec<String>,
    other_prefixes: Vec<String>,
}

impl Ownership {
    fn new(name: &str, dir: &LabDir) -> Self {
        let prefix = format!("{name}-");
        let mut recorded = vec![fabric_netns(name)];
        if let Ok(state) = State::load(&dir.state_file()) {
            recorded.extend(state.nodes.into_iter().map(|n| n.netns));
            recorded.extend(state.pods.into_iter().map(|p| p.netns));
        }
        let other_prefixes = std::fs::read_dir(labs_dir())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|other| other.starts_with(&prefix))
            .map(|other| format!("{other}-"))
            .collect();
        Ownership {
            prefix,
            recorded,
            other_prefixes,
        }
    }

    fn owns(&self, netns: &str) -> bool {
        self.recorded.iter().any(|r| r == netns)
            || (netns.starts_with(&self.prefix)
                && !self.other_prefixes.iter().any(|p| netns.starts_with(p)))
    }
}
