//! `cargo xtask demo`: builds everything, brings up a two-node lab running the demo workloads
//! (`xtask/demo/*.yaml`: an ingress gateway → frontend → backend v1 ×2 / v2 ×1), tells the
//! story of `story.rs` with a visitor's load through the gateway shown live until the end,
//! Ctrl-C or `--duration`, then takes the lab down.

mod mesh_counters;
mod recap;
mod screen;
mod steps;
mod stop;
mod story;
mod traffic;

use crate::build_ebpf::workspace_root;
use crate::lab::{self, Lab, UpOptions};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::time::Duration;
use steps::step;
use stop::StopWatch;
use traffic::Ending;

/// The demo's lab (its namespaces are `demo-*`).
pub const LAB_NAME: &str = "demo";
/// Nodes in the demo's lab.
const NODES: u8 = 2;
/// The time the steps get beyond `--duration` (applying, settling, summaries) before a stop.
const STEPS_GRACE: Duration = Duration::from_secs(30);

/// `cargo xtask demo` options.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// Stop after about this many seconds of traffic, shared over the steps (default: 15 s a
    /// step; Ctrl-C stops earlier).
    #[arg(long)]
    duration: Option<u64>,
    /// Use the binaries and the eBPF object already built.
    #[arg(long)]
    no_build: bool,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    concurrency: u32,
}

/// The mesh's own lines on the demo screen, refreshed at each look: the agents' captured and
/// bypassed connections and `istio_tcp_connections_opened_total` summed over the nodes, then
/// the live top source → destination pairs.
pub fn live_figures() -> mesh_counters::MeshFigures {
    mesh_counters::MeshFigures::new(LAB_NAME)
}

/// Runs the demo; the lab is taken down on every way out (end, Ctrl-C, error, panic).
pub fn run(args: &DemoArgs) -> Result<()> {
    let mut watch = StopWatch::catch_signals()?;
    if !args.no_build {
        steps::build_and_rerun()?;
    }
    let _down = LabTakenDown;
    let opts = UpOptions {
        name: LAB_NAME.into(),
        nodes: NODES,
        build: false,
        ip_family: Default::default(),
        fail_closed: false,
        ca_dir: None,
        node_labels: Vec::new(),
        cert_ttl_secs: None,
        agent_args: Vec::new(),
        plaintext: false,
    };
    let manifests = demo_manifests()?;
    let mut lab = step(
        &format!("starting lab {LAB_NAME} ({NODES} nodes, xtask/demo/*.yaml)"),
        || Lab::up(&opts, &manifests),
    )?;
    let visitor = story::visitor();
    step(
        "waiting for the frontend to answer through the gateway",
        || {
            let url = story::GATEWAY_URL;
            steps::wait_until_answering(&lab, &visitor, url, &story::VISITOR_HEADERS, &watch)
        },
    )?;
    if watch.reason().is_some() {
        return Ok(());
    }
    if let Some(secs) = args.duration {
        watch.stop_after(Duration::from_secs(secs) + STEPS_GRACE);
    }
    let seconds = story::step_seconds(args.duration);
    let ending = story::tell(&mut lab, args.concurrency, seconds, &watch)?;
    eprintln!("==> stopping: {}", describe(&ending));
    match ending {
        Ending::LoadFailed => bail!("the load generator ended without its summary"),
        _ => Ok(()),
    }
}

fn describe(ending: &Ending) -> &'static str {
    match ending {
        Ending::LoadFinished => "the load has run its course",
        Ending::LoadFailed => "the load generator failed",
        Ending::Stopped(stop::StopReason::Interrupted) => "interrupted",
        Ending::Stopped(stop::StopReason::DurationPassed) => "the duration has passed",
    }
}

/// The demo's YAML files, in name order (the Namespace first).
fn demo_manifests() -> Result<Vec<PathBuf>> {
    let dir = workspace_root().join("xtask/demo");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Takes the demo's lab down when dropped.
struct LabTakenDown;

impl Drop for LabTakenDown {
    fn drop(&mut self) {
        if let Err(err) = step(&format!("taking lab {LAB_NAME} down"), || {
            lab::down(LAB_NAME)
        }) {
            eprintln!("error: {err:#}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifests_are_found_namespace_first() {
        let files = demo_manifests().unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy())
            .collect();
        assert!(names.len() >= 4, "{names:?}");
        assert_eq!(names[0], "00-namespace.yaml");
    }

    #[test]
    fn the_mesh_figures_are_on_screen() {
        let lines = live_figures().lines();
        assert!(lines.iter().any(|l| l.contains("eBPF capture")));
    }
}
