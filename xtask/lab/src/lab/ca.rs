//! The lab's control plane: one `mesh-agent ca` (the same binary, as a cluster runs it) in the
//! fabric namespace at [`CA_IP`]:15012, reachable from every node. There is no API server, so
//! it runs with `--token-file` (`target/lab/<lab>/ca/callers.yaml`): one random token per node's
//! agent (`ca/tokens/node-N`, its projected-token stand-in) and the pods running on each node,
//! rewritten whenever the lab's pods change. Its root is created once per lab in `ca/root/`, or
//! comes from Istio's plug-in files (`lab up --ca-dir DIR`); `ca/root-cert.pem` is the root
//! the agents trust and `lab ca-root` prints.

use super::alloc::fabric_netns;
use super::run::ip_in;
use super::{agent_process, cgroup, process, Lab};
use anyhow::{bail, Context, Result};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The CA's address on the fabric (outside the nodes' 10.250.0.N and the hosts' 10.250.1.M).
pub const CA_IP: &str = "10.250.255.254";
/// Istio's CA port.
pub const CA_PORT: u16 = 15012;
/// The name in the CA's serving certificate (its default `--tls-name`).
pub const CA_NAME: &str = "mesh-ca.mesh-system.svc";
/// The node agents' ServiceAccount (the CA's default `--node-agent`).
const AGENT_ACCOUNT: &str = "mesh-system/mesh-agent";
/// Set (non-empty) in the environment of `lab up`: the agents start without the CA's flags, so
/// traffic between nodes stays plaintext (the benchmarks' baseline for the tunnel's cost).
pub const PLAINTEXT_ENV: &str = "MESH_LAB_PLAINTEXT";
/// The Node label of the nodes running the ingress gateway (the CA's default).
const GATEWAY_NODE_LABEL: &str = "node-restriction.kubernetes.io/ingress-gateway";
/// The Node label of the nodes running the egress gateway (the CA's default).
const EGRESS_GATEWAY_NODE_LABEL: &str = "node-restriction.kubernetes.io/egress-gateway";
/// How long the CA may take to create its root and listen.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// `target/lab/<lab>/ca/`.
fn dir(lab: &Lab) -> PathBuf {
    lab.dir.root().join("ca")
}

/// The token file of `node`'s agent.
fn token_file(lab: &Lab, node: &str) -> PathBuf {
    dir(lab).join("tokens").join(node)
}

/// The CA's cgroup, `<lab root>/ca` (stopped with the agents at `lab down`).
pub fn ca_cgroup(lab_root: &Path) -> PathBuf {
    lab_root.join("ca")
}

/// Starts the CA (its root from `plug_in` when given) and waits until it serves.
pub fn start(lab: &Lab, plug_in: Option<&Path>) -> Result<()> {
    let dir = dir(lab);
    std::fs::create_dir_all(dir.join("tokens"))?;
    for node in &lab.state.nodes {
        let path = token_file(lab, &node.name);
        std::fs::write(&path, random_token()?)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    write_callers(lab)?;
    let fabric = fabric_netns(&lab.state.name);
    ip_in(
        &fabric,
        &["addr", "add", &format!("{CA_IP}/16"), "dev", "fabric0"],
    )?;
    let plug_in = plug_in.map_or_else(|| dir.join("no-plug-in"), Path::to_path_buf);
    let log = lab.dir.root().join("logs").join("ca.log");
    spawn(lab, &fabric, &plug_in, &log)?;
    let root = if plug_in.join("ca-key.pem").exists() {
        plug_in.join("root-cert.pem")
    } else {
        dir.join("root").join("root-cert.pem")
    };
    wait_serving(&log, &root)?;
    std::fs::copy(&root, dir.join("root-cert.pem"))
        .with_context(|| format!("copying the CA's root {}", root.display()))?;
    Ok(())
}

fn spawn(lab: &Lab, fabric: &str, plug_in: &Path, log: &Path) -> Result<()> {
    let own = ca_cgroup(&lab.state.cgroup_root);
    cgroup::create(&own)?;
    let log_file = std::fs::File::create(log)?;
    let agent = agent_process::binary()?;
    let dir = dir(lab);
    let argv: Vec<String> = [
        agent.to_string_lossy().as_ref(),
        "ca",
        "--listen",
        &format!("{CA_IP}:{CA_PORT}"),
        "--ca-dir",
        &plug_in.to_string_lossy(),
        "--root-dir",
        &dir.join("root").to_string_lossy(),
        "--token-file",
        &dir.join("callers.yaml").to_string_lossy(),
        "--no-publish-root",
    ]
    .map(String::from)
    .into();
    let mut cmd = process::netns_command(fabric, &argv);
    let mut enter = cgroup::enter_hook(&own)?;
    // SAFETY: the hook only makes async-signal-safe calls (open/write/close, setsid).
    unsafe {
        cmd.pre_exec(move || {
            enter()?;
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    cmd.env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file);
    let mut child = cmd.spawn().context("starting the lab's CA")?;
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// Waits until the CA logs that it serves and its root is on disk; its log's end when not.
fn wait_serving(log: &Path, root: &Path) -> Result<()> {
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains("CA serving") && root.is_file() {
            return Ok(());
        }
        if started.elapsed() >= START_TIMEOUT {
            bail!(
                "the lab's CA did not serve within {START_TIMEOUT:?}; the end of {}:\n{}",
                log.display(),
                agent_process::log_tail(log, 20)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Rewrites `ca/callers.yaml` from the agents' tokens and the lab's pods on nodes; nothing to
/// do before the CA is set up.
pub fn write_callers(lab: &Lab) -> Result<()> {
    let dir = dir(lab);
    if !dir.join("tokens").is_dir() {
        return Ok(());
    }
    let mut text = String::from("# written by the lab: its CA's --token-file\ntokens:\n");
    for node in &lab.state.nodes {
        let token = std::fs::read_to_string(token_file(lab, &node.name))?;
        let (token, name) = (token.trim(), &node.name);
        text += &format!("- {{token: {token}, serviceAccount: {AGENT_ACCOUNT}, node: {name}}}\n");
    }
    // Every lab agent runs a gateway: each node carries the label that lets its agent obtain
    // that gateway's identity (the CA's default --gateway-node-label, or
    // --egress-gateway-node-label for a node playing the egress gateway), and no other.
    text += "nodes:\n";
    for node in &lab.state.nodes {
        let name = &node.name;
        let label = match super::gateway::plays_egress(node) {
            true => EGRESS_GATEWAY_NODE_LABEL,
            false => GATEWAY_NODE_LABEL,
        };
        text += &format!("- {{name: {name}, labels: {{{label}: \"true\"}}}}\n");
    }
    text += "pods:\n";
    for pod in &lab.state.pods {
        if let Some(node) = &pod.node {
            let account = pod.service_account.as_deref().unwrap_or("default");
            text += &format!(
                "- {{node: {node}, serviceAccount: {}/{account}}}\n",
                pod.namespace
            );
        }
    }
    let (path, tmp) = (dir.join("callers.yaml"), dir.join(".callers.yaml.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
}

/// The flags that point `node`'s agent at the CA (none when the lab has no CA, or when
/// [`PLAINTEXT_ENV`] is set, or the lab was brought up plaintext).
pub fn agent_args(lab: &Lab, node: &str) -> Vec<String> {
    let root = dir(lab).join("root-cert.pem");
    let plaintext =
        lab.state.plaintext || std::env::var_os(PLAINTEXT_ENV).is_some_and(|v| !v.is_empty());
    if !root.is_file() || plaintext {
        return Vec::new();
    }
    let ttl = lab.state.cert_ttl_secs.iter();
    let ttl = ttl.flat_map(|secs| ["--cert-ttl-secs".into(), secs.to_string()]);
    let flags = vec![
        "--ca-address".into(),
        format!("https://{CA_IP}:{CA_PORT}"),
        "--ca-server-name".into(),
        CA_NAME.into(),
        "--ca-root".into(),
        root.to_string_lossy().into_owned(),
        "--ca-token".into(),
        token_file(lab, node).to_string_lossy().into_owned(),
    ];
    flags.into_iter().chain(ttl).collect()
}

impl Lab {
    /// `lab ca-root`: the root certificate (PEM) every workload certificate chains to.
    pub fn ca_root(&self) -> Result<String> {
        let path = dir(self).join("root-cert.pem");
        std::fs::read_to_string(&path).with_context(|| {
            format!(
                "lab {} has no CA root ({})",
                self.state.name,
                path.display()
            )
        })
    }
}

/// 32 random hex characters from the kernel.
fn random_token() -> Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
