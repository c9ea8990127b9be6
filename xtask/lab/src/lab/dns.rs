//! The lab's cluster DNS: one `lab-dns` (the workloads' binary) in the fabric namespace at
//! [`DNS_IP`]:53, reachable from pods, nodes and external hosts, answering for the zone file
//! `target/lab/<lab>/dns/zone` this module keeps: Services (`<svc>.<ns>.svc.cluster.local`),
//! pods (`<a-b-c-d>.<ns>.pod.cluster.local`), external hosts, nodes, and names set at runtime
//! (`lab dns set`), which win over the rest. Pods get a resolv.conf pointing at it (their hosts
//! file is still read first), agents `--dns-server`; answers live [`TTL_SECS`], so a changed
//! address is followed within seconds.

use super::alloc::fabric_netns;
use super::run::ip_in;
use super::state::State;
use super::{agent_process, cgroup, hosts, process, Lab};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The DNS server's address on the fabric (beside the CA's 10.250.255.254).
pub const DNS_IP: &str = "10.250.255.253";
/// Every answer's TTL, seconds.
pub const TTL_SECS: u32 = 1;
/// How long the server may take to answer on its port.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's cgroup, `<lab root>/dns` (stopped at `lab down`).
pub fn dns_cgroup(lab_root: &Path) -> PathBuf {
    lab_root.join("dns")
}

fn zone_file(lab: &Lab) -> PathBuf {
    lab.dir.root().join("dns").join("zone")
}

/// Writes the zone and starts the server; waits until it says it answers.
pub fn start(lab: &Lab) -> Result<()> {
    write_zone(lab)?;
    let fabric = fabric_netns(&lab.state.name);
    let address = format!("{DNS_IP}/16");
    ip_in(&fabric, &["addr", "add", &address, "dev", "fabric0"])?;
    // Answers go back to pods through their node.
    for node in &lab.state.nodes {
        let range = format!("10.244.{}.0/24", node.index);
        let via = node.address.to_string();
        ip_in(&fabric, &["route", "add", &range, "via", &via])?;
    }
    let own = dns_cgroup(&lab.state.cgroup_root);
    cgroup::create(&own)?;
    let log = lab.dir.root().join("logs").join("dns.log");
    let log_file = std::fs::File::create(&log)?;
    let argv: Vec<String> = [
        "lab-dns",
        "--listen",
        &format!("{DNS_IP}:53"),
        "--zone",
        &zone_file(lab).to_string_lossy(),
        "--ttl",
        &TTL_SECS.to_string(),
    ]
    .map(String::from)
    .into();
    let mut cmd = process::netns_command(&fabric, &argv);
    let mut enter = cgroup::enter_hook(&own)?;
    // SAFETY: the hook only makes async-signal-safe calls (open/write/close, setsid).
    unsafe {
        cmd.pre_exec(move || {
            enter()?;
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    cmd.stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file);
    let mut child = cmd.spawn().context("starting the lab's DNS (lab-dns)")?;
    std::thread::spawn(move || child.wait());
    wait_answering(&log)
}

fn wait_answering(log: &Path) -> Result<()> {
    let started = Instant::now();
    while !std::fs::read_to_string(log)
        .unwrap_or_default()
        .contains("answering")
    {
        if started.elapsed() >= START_TIMEOUT {
            bail!(
                "the lab's DNS did not answer within {START_TIMEOUT:?}; the end of {}:\n{}",
                log.display(),
                agent_process::log_tail(log, 20)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// The flag pointing an agent at the lab's DNS.
pub fn agent_args() -> Vec<String> {
    vec!["--dns-server".into(), format!("{DNS_IP}:53")]
}

/// A pod's (`Some(namespace)`) or node's resolv.conf, as a cluster's kubelet writes it.
pub fn resolv_conf(namespace: Option<&str>) -> String {
    let search = match namespace {
        Some(ns) => format!("{ns}.svc.cluster.local svc.cluster.local cluster.local"),
        None => "svc.cluster.local cluster.local".into(),
    };
    format!("nameserver {DNS_IP}\nsearch {search}\noptions ndots:5\n")
}

/// The zone: every name the lab answers for, hosts-format.
pub fn zone(state: &State) -> String {
    let mut names: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
    let mut add = |name: String, ip: IpAddr| names.entry(name).or_default().push(ip);
    for svc in &state.services {
        for ip in &svc.cluster_ips {
            add(
                format!("{}.{}.svc.cluster.local", svc.name, svc.namespace),
                *ip,
            );
        }
    }
    for pod in &state.pods {
        for ip in &pod.ips {
            let dashed = ip.to_string().replace(['.', ':'], "-");
            add(format!("{dashed}.{}.pod.cluster.local", pod.namespace), *ip);
            if let Some(host) = &pod.external_host {
                add(host.clone(), *ip);
            }
        }
    }
    for node in &state.nodes {
        add(node.name.clone(), node.address.into());
        if let Some(address6) = node.address6 {
            add(node.name.clone(), address6.into());
        }
    }
    for (name, ips) in &state.dns_names {
        names.insert(name.clone(), ips.clone());
    }
    let mut out = String::from("# written by the lab: its DNS's zone\n");
    for (name, ips) in names {
        for ip in ips {
            let _ = writeln!(out, "{ip}\t{name}");
        }
    }
    out
}

/// Rewrites the zone file (temp file + rename: the server may be reading).
pub fn write_zone(lab: &Lab) -> Result<()> {
    let path = zone_file(lab);
    let dir = path.parent().expect("the zone is in a directory");
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(".zone.tmp");
    std::fs::write(&tmp, zone(&lab.state))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
}

impl Lab {
    /// Every hosts file and resolv.conf, and the DNS zone, after names changed.
    pub(super) fn write_names(&self) -> Result<()> {
        hosts::write_all(&self.state)?;
        write_zone(self)
    }

    /// `lab dns set NAME [ADDRESS...]`: the lab's DNS answers `name` with `addresses` from now
    /// on (within a TTL), over anything it answered before; no address: back to what the lab
    /// would answer. Hosts files leave the name out, so pods ask the DNS too.
    pub fn set_dns_name(&mut self, name: &str, addresses: Vec<IpAddr>) -> Result<()> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let label_ok =
            |l: &str| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !name.split('.').all(label_ok) {
            bail!("lab dns set: {name:?} is not a DNS name");
        }
        if addresses.is_empty() {
            self.state.dns_names.remove(&name);
        } else {
            self.state.dns_names.insert(name, addresses);
        }
        self.save()?;
        self.write_names()
    }
}
