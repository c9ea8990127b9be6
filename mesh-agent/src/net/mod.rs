//! The ground under every connection: a pod's network namespace (run a job inside it), the
//! sockets the agent opens there (listen, connect, reset) and the captured pod itself.

mod netns;
mod pod;
mod socket;

pub use netns::{netns_cookie, Netns};
pub use pod::ProxiedPod;
pub use socket::{connect, listen, reset, UpstreamSockets};
