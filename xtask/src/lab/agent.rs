//! The one place where the node agent plugs into the lab (issue #3): one agent per node, in the
//! node's netns, reading the lab's config directory; meshed pods enrolled through its socket.

use super::state::Pod;
use super::Lab;
use anyhow::Result;

/// Starts one agent per node. Placeholder until the agent exists.
pub fn start_agents(lab: &Lab) -> Result<()> {
    eprintln!("lab {}: agent not built yet (issue #3)", lab.name());
    Ok(())
}

/// Enrolls a meshed pod with its node's agent (before the pod's processes start).
pub fn enroll(lab: &Lab, pod: &Pod) -> Result<()> {
    eprintln!(
        "lab {}: agent not built yet (issue #3): pod {}/{} not enrolled",
        lab.name(),
        pod.namespace(),
        pod.name()
    );
    Ok(())
}

/// Removes a meshed pod from its node's agent (before the pod is torn down).
pub fn unenroll(_lab: &Lab, _pod: &Pod) -> Result<()> {
    Ok(())
}

/// One line on the agents' health, for `lab status`.
pub fn health(_lab: &Lab) -> String {
    "agent: not built yet".to_string()
}
