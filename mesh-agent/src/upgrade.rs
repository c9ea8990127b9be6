//! The agent's side of an upgrade (`handover/` does the talking): at start, take over from the
//! agent running on this node if one answers; once ready, tell it and serve the hand-over socket
//! in turn; when a successor is ready, stop accepting and leave it the pods and the maps.

use std::time::Duration;

use anyhow::Context as _;

use crate::admin::Readiness;
use crate::config::AgentConfig;
use crate::handover::{HandoverServer, Inheritance, Successor};

/// How long a successor waits for its pods and gateway ports to take their inherited listeners
/// before it says ready (the rest are closed).
const TAKE_BOUND: Duration = Duration::from_secs(10);

/// Asks the agent on `--handover-socket` to hand over; `None`: no agent runs (a first start, or
/// after a crash).
pub fn take_over(config: &AgentConfig) -> anyhow::Result<Option<Inheritance>> {
    let path = &config.handover_socket;
    let inheritance = Inheritance::take_over(path)
        .with_context(|| format!("taking over from the agent on {}", path.display()))?;
    if let Some(inheritance) = &inheritance {
        tracing::info!(listeners = inheritance.listeners, socket = %path.display(), "taking over from the running agent");
    }
    Ok(inheritance)
}

/// Once this agent is ready and its pods took their inherited listeners, tells the predecessor
/// (which stops accepting), then serves the hand-over socket for the next successor.
pub async fn serve(
    inheritance: Option<Inheritance>,
    readiness: &Readiness,
    config: &AgentConfig,
) -> anyhow::Result<HandoverServer> {
    if let Some(inheritance) = inheritance {
        let deadline = tokio::time::Instant::now() + TAKE_BOUND;
        while !(readiness.is_ready() && crate::net::untaken() == 0)
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let untaken = crate::net::close_untaken();
        tracing::info!(?untaken, "ready: the predecessor may stop accepting");
        // The predecessor gone meanwhile (it crashed, or was stopped) leaves this agent alone
        // with everything it took: it serves on.
        match tokio::task::spawn_blocking(move || inheritance.ready()).await? {
            Ok(()) => tracing::info!("hand-over done"),
            Err(error) => tracing::warn!(%error, "the predecessor did not release: serving alone"),
        }
    }
    let path = &config.handover_socket;
    HandoverServer::start(path).with_context(|| format!("--handover-socket {}", path.display()))
}

/// Hands the node to `successor`: this agent accepts nothing more (its pod listeners, gateway
/// and ports are the successor's now) and its programs detach; the connections it carries then
/// drain (`lifecycle::shutdown::drain_connections`, within `--drain-time`).
pub async fn leave(
    successor: Successor,
    pods: &crate::pods::EnrolledPods,
    capture: &crate::attach::Capture,
) -> anyhow::Result<()> {
    pods.release_all().await;
    tokio::task::spawn_blocking(move || successor.release()).await??;
    (capture.hand_over)().context("detaching the capture programs")?;
    tracing::info!("handed over: draining the connections left");
    Ok(())
}
