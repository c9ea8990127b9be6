//! The ground under every connection: a pod's network namespace (run a job inside it), the
//! sockets the agent opens there (listen, connect, reset), the listeners on record for a successor
//! (`listeners.rs`), the captured pod itself, what is node-local (`node_local.rs`), how many
//! sockets it may hold (`open_files.rs`), and the agent's own HTTP(S) client (`web_client.rs`).

mod accept_backoff;
mod listeners;
mod netns;
mod node_local;
mod open_files;
mod pod;
mod socket;
mod socket_file;
mod web_client;

pub use accept_backoff::AcceptBackoff;
pub use listeners::{alive_listeners, close_untaken, inherit, untaken, Listener, ListenerKey};
pub use netns::{netns_cookie, Netns};
pub use node_local::{classify, NodeLocalGuard, NodeLocalReason, NodeLocalRefused};
pub use open_files::{raise_open_files_limit, OpenFiles};
pub use pod::ProxiedPod;
pub use socket::{connect, listen, reset, UpstreamSockets};
pub use socket_file::SocketFile;
pub use web_client::{WebClient, WEB_BODY_LIMIT};
