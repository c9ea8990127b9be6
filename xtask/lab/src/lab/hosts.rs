//! Name resolution in the lab: one hosts file per namespace (`/etc/netns/<netns>/hosts`, which
//! `ip netns exec` mounts over /etc/hosts) naming Services, external hosts and nodes, and a
//! resolv.conf beside it pointing at the lab's DNS (`dns.rs`) for every other name. A name set
//! at runtime in the DNS (`lab dns set`) is left out of the hosts files, so it is asked there.

use super::state::{Pod, State};
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

/// Whose hosts file: a pod's (or external host's) or a node's.
pub enum HostsOwner<'a> {
    Pod(&'a Pod),
    Node { netns: &'a str },
}

/// `/etc/netns/<netns>`.
pub fn netns_etc(netns: &str) -> PathBuf {
    PathBuf::from("/etc/netns").join(netns)
}

/// Writes every hosts file of the lab (after Services or external hosts changed). Files are
/// rewritten in place, so running processes see the new content through their bind mount.
pub fn write_all(state: &State) -> Result<()> {
    for pod in &state.pods {
        write(state, &HostsOwner::Pod(pod))?;
    }
    for node in &state.nodes {
        write(state, &HostsOwner::Node { netns: &node.netns })?;
    }
    Ok(())
}

/// Writes one hosts file: truncates and rewrites the same inode.
pub fn write(state: &State, owner: &HostsOwner) -> Result<()> {
    let netns = match owner {
        HostsOwner::Pod(pod) => pod.netns.as_str(),
        HostsOwner::Node { netns, .. } => netns,
    };
    let dir = netns_etc(netns);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("hosts");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    file.write_all(render(state, owner).as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    let namespace = match owner {
        HostsOwner::Pod(pod) if pod.external_host.is_none() => Some(pod.namespace.as_str()),
        _ => None,
    };
    let resolv = dir.join("resolv.conf");
    std::fs::write(&resolv, super::dns::resolv_conf(namespace))
        .with_context(|| format!("writing {}", resolv.display()))
}

/// The hosts file content for `owner`.
pub fn render(state: &State, owner: &HostsOwner) -> String {
    let mut out = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    let (own_namespace, in_cluster) = match owner {
        HostsOwner::Pod(pod) => {
            for ip in &pod.ips {
                let _ = writeln!(out, "{ip}\t{}", pod.name);
            }
            (Some(pod.namespace.as_str()), pod.external_host.is_none())
        }
        HostsOwner::Node { .. } => (None, true),
    };
    if in_cluster {
        render_services(state, own_namespace, &mut out);
    }
    out.push_str("# external hosts\n");
    for pod in &state.pods {
        let runtime = |host: &String| state.dns_names.contains_key(host);
        if let Some(host) = pod.external_host.as_ref().filter(|h| !runtime(h)) {
            for ip in &pod.ips {
                let _ = writeln!(out, "{ip}\t{host}");
            }
        }
    }
    out.push_str("# nodes\n");
    for node in &state.nodes {
        let _ = writeln!(out, "{}\t{}", node.address, node.name);
        if let Some(address6) = node.address6 {
            let _ = writeln!(out, "{address6}\t{}", node.name);
        }
    }
    out
}

fn render_services(state: &State, own_namespace: Option<&str>, out: &mut String) {
    out.push_str("# services\n");
    for svc in &state.services {
        let (name, ns) = (&svc.name, &svc.namespace);
        for ip in &svc.cluster_ips {
            let _ = write!(
                out,
                "{ip}\t{name}.{ns}.svc.cluster.local {name}.{ns}.svc {name}.{ns}"
            );
            if own_namespace == Some(ns.as_str()) {
                let _ = write!(out, " {name}");
            }
            out.push('\n');
        }
    }
}
