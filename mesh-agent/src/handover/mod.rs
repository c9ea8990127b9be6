//! Hand-over on upgrade, Envoy hot-restart style: a successor agent on the node takes the
//! running agent's listening sockets over `SCM_RIGHTS` on the hand-over socket, starts accepting
//! on them and says it is ready; only then does the predecessor stop accepting, leave the shared
//! eBPF maps and the pods' enrollment to the successor, drain and exit. A successor that fails
//! before it is ready changes nothing: the predecessor carries on.

mod predecessor;
mod successor;
mod wire;

#[cfg(test)]
mod tests;

pub use predecessor::{HandoverServer, Successor};
pub use successor::Inheritance;
pub use wire::{Message, Peer};

/// Where the running agent listens for a successor.
pub const DEFAULT_SOCKET: &str = "/run/mesh-agent/handover.sock";
