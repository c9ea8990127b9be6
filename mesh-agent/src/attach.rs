//! Attaching the capture layer: the one call between the agent's run loop and `bpf::`.

use std::any::Any;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use mesh_common::Counter;

use crate::bpf::{own_cgroup_id, resolve_object, LinkPins, LoadOptions, MeshBpf};
use crate::capture::{DeniedConnects, EgressPolicies, OriginalDsts, PodCapture, Splicer};
use crate::config::AgentConfig;
use crate::flows::FlowSource;
use crate::metrics::{CounterSource, SPLICED_SOCKETS};
use crate::proxy::AcceptHook;

/// The attached capture layer, as the rest of the agent uses it.
pub struct Capture {
    /// Original destinations of redirected connections.
    pub original_dsts: Arc<dyn OriginalDsts>,
    /// Enrolls and unenrolls pods.
    pub pods: Arc<dyn PodCapture>,
    /// The `connect()` hook's egress policies (REGISTRY_ONLY).
    pub egress: Arc<dyn EgressPolicies>,
    /// The `connect()` hook's authorization denials.
    pub denied: Arc<dyn DeniedConnects>,
    /// Reads the programs' counters.
    pub counters: CounterSource,
    /// Reads the per-(source pod, destination) connection counts.
    pub flows: FlowSource,
    /// Same-node acceleration of accepted outbound sockets, when on.
    pub accelerate: Option<AcceptHook>,
    /// L4 splicing, when on and the kernel took its verdict.
    pub splice: Option<Arc<dyn Splicer>>,
    /// Hands the capture to a successor agent (`MeshBpf::hand_over`): the maps and their pins
    /// stay, this agent's programs detach, the successor's go on capturing.
    pub hand_over: Box<dyn Fn() -> anyhow::Result<()> + Send + Sync>,
    /// Keeps the programs loaded and attached (links, pins). Once it and the other handles
    /// above are dropped, the programs detach: every pod then talks directly again (fail open)
    /// — unless the agent fails closed: then its pinned links keep them attached, refusing.
    pub attachment: Box<dyn Any + Send + Sync>,
}

/// Checks the kernel (`bpf::check_kernel`), loads `mesh-ebpf`, pins its maps under `config.bpf_pin_dir` and attaches the programs to
/// `config.cgroup`. With `shared_maps`, the maps are the running predecessor's (loaded from
/// their pins): both agents' programs read and write them until the predecessor detaches. So
/// they are when a fail-closed agent before this one left its links pinned (it stopped or
/// crashed): its programs still refuse the pods' connections over those maps until this
/// agent's programs are attached and its own listeners serve the pods.
/// The agent's own cgroup is written into the programs: its sockets are never
/// captured, even when the agent runs inside the attached subtree (a DaemonSet pod does).
pub fn start_capture(config: &AgentConfig, shared_maps: bool) -> anyhow::Result<Capture> {
    // Before anything loads: a kernel too old stops the agent with one line naming what it lacks.
    crate::bpf::check_kernel()?;
    let object = resolve_object(config.bpf_object.as_deref());
    let agent_cgroup = own_cgroup_id().context("finding the agent's own cgroup")?;
    let left_behind = !shared_maps && reusable_capture(&object, &config.bpf_pin_dir);
    let options = LoadOptions {
        pin_dir: Some(config.bpf_pin_dir.clone()),
        accelerate: config.sk_msg_accel,
        splice: config.l4_splice,
        agent_cgroup,
        shared_maps: shared_maps || left_behind,
        fail_closed: config.failure_mode.captures_without_agent(),
    };
    let mesh = Arc::new(MeshBpf::load_with(&object, &options)?);
    mesh.attach_cgroup(&config.cgroup)
        .with_context(|| format!("attaching to cgroup {}", config.cgroup.display()))?;
    tracing::info!(object = %object.display(), cgroup = %config.cgroup.display(), agent_cgroup, failure_mode = ?config.failure_mode, "capture attached");
    Ok(Capture {
        original_dsts: mesh.clone(),
        pods: mesh.clone(),
        egress: mesh.clone(),
        denied: mesh.clone(),
        counters: counter_source(mesh.clone(), config),
        flows: flow_source(mesh.clone()),
        accelerate: mesh.accelerates().then(|| accept_hook(mesh.clone())),
        splice: mesh.splices().then(|| -> Arc<dyn Splicer> { mesh.clone() }),
        hand_over: Box::new({
            let mesh = mesh.clone();
            move || Ok(mesh.hand_over()?)
        }),
        attachment: Box::new(mesh),
    })
}

/// Whether a fail-closed agent before this one left its capture pinned with maps this agent's
/// programs can share: then they are reused (its links replaced). Maps of another layout are
/// replaced instead: the pods' connections are refused by its programs until this agent's
/// programs and listeners take them over, over new maps.
fn reusable_capture(object: &Path, pin_dir: &Path) -> bool {
    if !LinkPins::left_behind(pin_dir) {
        return false;
    }
    match crate::bpf::check_pins(object, pin_dir) {
        Ok(()) => {
            tracing::info!(dir = %pin_dir.display(), "a fail-closed agent left its capture pinned: reusing its maps, replacing its links");
            true
        }
        Err(error) => {
            tracing::warn!(%error, "a fail-closed agent left its capture pinned with maps of another layout: replacing its maps and its links");
            false
        }
    }
}

/// Reads `COUNTERS` on each scrape (a read failure is logged and exports nothing), with the
/// optional programs the kernel refused at load (1 each) and the sockets spliced now.
fn counter_source(mesh: Arc<MeshBpf>, config: &AgentConfig) -> CounterSource {
    let refused = [
        (
            "sk_msg_load_failures",
            config.sk_msg_accel && !mesh.accelerates(),
        ),
        (
            "l4_splice_load_failures",
            config.l4_splice && !mesh.splices(),
        ),
    ];
    Arc::new(move || {
        let mut values = match mesh.counters() {
            Ok(totals) => Counter::ALL
                .iter()
                .map(|c| (c.name(), totals.get(*c)))
                .collect(),
            Err(error) => {
                tracing::warn!(%error, "cannot read the eBPF counters");
                Vec::new()
            }
        };
        values.extend(refused.map(|(name, failed)| (name, u64::from(failed))));
        values.push((SPLICED_SOCKETS, mesh.spliced_entries()));
        values
    })
}

/// Reads `FLOWS` on each scrape.
fn flow_source(mesh: Arc<MeshBpf>) -> FlowSource {
    Arc::new(move || mesh.flows())
}

/// Puts each accepted outbound socket into the acceleration map; failures only cost speed.
fn accept_hook(mesh: Arc<MeshBpf>) -> AcceptHook {
    Arc::new(move |socket, netns_cookie, peer_port| {
        if let Err(error) = mesh.accelerate_accepted(socket, netns_cookie, peer_port) {
            tracing::debug!(%error, "connection not accelerated");
        }
    })
}
