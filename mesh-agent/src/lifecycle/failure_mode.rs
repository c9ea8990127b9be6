//! What happens to the pods' traffic while no agent runs: the operator's choice between
//! bypassing the mesh (fail open, the default) and refusing new connections (fail closed).

use serde::Serialize;

/// The agent's failure mode (`--fail-closed`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureMode {
    /// No agent, no capture: on exit the agent unenrolls its pods and its programs detach, so
    /// their new connections go directly to their destinations (policy is not enforced).
    #[default]
    Open,
    /// Capture outlives the agent: on exit (stop, crash, kill) its programs stay attached by
    /// pinned links and its pods stay enrolled; with their listeners gone, the pods' new
    /// connections, outbound and inbound, are refused until an agent is back.
    Closed,
}

impl FailureMode {
    /// From `--fail-closed`.
    pub fn from_flag(fail_closed: bool) -> Self {
        match fail_closed {
            true => FailureMode::Closed,
            false => FailureMode::Open,
        }
    }

    /// Whether a draining agent unenrolls its pods (their new connections then go direct).
    /// Fail-closed only closes their listeners: new connections are refused.
    pub fn unenrolls_on_shutdown(self) -> bool {
        self == FailureMode::Open
    }

    /// Whether the programs stay attached (links pinned) once the agent is gone.
    pub fn captures_without_agent(self) -> bool {
        self == FailureMode::Closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_open_is_the_default_and_lets_traffic_bypass_a_missing_agent() {
        let mode = FailureMode::default();
        assert_eq!(mode, FailureMode::from_flag(false));
        assert!(mode.unenrolls_on_shutdown());
        assert!(!mode.captures_without_agent());
    }

    #[test]
    fn fail_closed_keeps_pods_captured_without_an_agent() {
        let mode = FailureMode::from_flag(true);
        assert_eq!(mode, FailureMode::Closed);
        assert!(!mode.unenrolls_on_shutdown());
        assert!(mode.captures_without_agent());
    }
}
