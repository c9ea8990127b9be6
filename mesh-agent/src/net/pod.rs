//! The captured pod as its connections know it: its name, IP and network namespace.

use std::net::IpAddr;

use super::Netns;

/// An enrolled pod, as its connections need it.
#[derive(Clone)]
pub struct ProxiedPod {
    /// Pod namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// Pod IP.
    pub ip: IpAddr,
    /// The pod's network namespace: listeners and upstream sockets are created in it.
    pub netns: Netns,
    /// `SO_NETNS_COOKIE` of `netns`, the key of its original destinations.
    pub netns_cookie: u64,
}
