//! The mesh's per-pod annotations: caps on what one pod may take of the node agent, overriding
//! the agent's mesh-wide flags for that pod — `mesh.io/max-connections` (connections open from
//! or to it), `mesh.io/max-requests-in-flight` (HTTP requests in flight from or to it) and
//! `mesh.io/max-handshakes-per-second` (tunnel TLS handshakes accepted for it).

use std::collections::BTreeMap;

/// Connections open from or to the pod, at most.
pub const MAX_CONNECTIONS: &str = "mesh.io/max-connections";
/// HTTP requests in flight from or to the pod, at most.
pub const MAX_REQUESTS_IN_FLIGHT: &str = "mesh.io/max-requests-in-flight";
/// Tunnel (mTLS) handshakes accepted for the pod per second, at most.
pub const MAX_HANDSHAKES_PER_SECOND: &str = "mesh.io/max-handshakes-per-second";

/// What a pod's annotations set; `None`: the agent's flag applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PodLimits {
    pub max_connections: Option<usize>,
    pub max_requests_in_flight: Option<usize>,
    pub max_handshakes_per_second: Option<u32>,
}

impl PodLimits {
    /// The limits `annotations` set, and the annotations ignored with why (not a whole number
    /// of at least 1).
    pub fn read(
        annotations: Option<&BTreeMap<String, String>>,
    ) -> (Self, Vec<(&'static str, String)>) {
        let mut ignored = Vec::new();
        let mut number = |key: &'static str| {
            let value = annotations?.get(key)?;
            match value.trim().parse::<u32>() {
                Ok(n) if n >= 1 => Some(n),
                _ => {
                    ignored.push((key, format!("{value:?} is not a whole number of at least 1; the agent's flag applies")));
                    None
                }
            }
        };
        let limits = Self {
            max_connections: number(MAX_CONNECTIONS).map(|n| n as usize),
            max_requests_in_flight: number(MAX_REQUESTS_IN_FLIGHT).map(|n| n as usize),
            max_handshakes_per_second: number(MAX_HANDSHAKES_PER_SECOND),
        };
        (limits, ignored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_annotations_are_read_and_bad_ones_ignored_with_why() {
        let annotations = BTreeMap::from([
            (MAX_CONNECTIONS.to_string(), "20".to_string()),
            (MAX_REQUESTS_IN_FLIGHT.to_string(), "0".to_string()),
            (MAX_HANDSHAKES_PER_SECOND.to_string(), "lots".to_string()),
        ]);
        let (limits, ignored) = PodLimits::read(Some(&annotations));
        assert_eq!(limits.max_connections, Some(20));
        assert_eq!(limits.max_requests_in_flight, None);
        assert_eq!(limits.max_handshakes_per_second, None);
        let keys: Vec<&str> = ignored.iter().map(|(key, _)| *key).collect();
        assert_eq!(keys, [MAX_REQUESTS_IN_FLIGHT, MAX_HANDSHAKES_PER_SECOND]);
        assert!(
            ignored[1].1.starts_with("\"lots\" is not a whole number"),
            "{ignored:?}"
        );
        assert_eq!(PodLimits::read(None), (PodLimits::default(), Vec::new()));
    }
}
