//! The captured pod as its connections know it: its name, IPs and network namespace.

use std::net::IpAddr;

use super::Netns;

/// An enrolled pod, as its connections need it.
#[derive(Clone)]
pub struct ProxiedPod {
    /// Pod namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// The pod's first IP (its `status.podIP`): the address telemetry names it by.
    pub ip: IpAddr,
    /// Every IP of the pod (`status.podIPs`, at most one per family), `ip` first.
    pub ips: Vec<IpAddr>,
    /// The pod's network namespace: listeners and upstream sockets are created in it.
    pub netns: Netns,
    /// `SO_NETNS_COOKIE` of `netns`, the key of its original destinations.
    pub netns_cookie: u64,
}

impl ProxiedPod {
    /// The pod's IP of the same family as `other` (the app of a connection to `other` is
    /// dialled there); its first IP when it has none of that family.
    pub fn ip_like(&self, other: IpAddr) -> IpAddr {
        let same_family = |ip: &&IpAddr| ip.is_ipv4() == other.is_ipv4();
        self.ips
            .iter()
            .find(same_family)
            .copied()
            .unwrap_or(self.ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_is_dialled_on_the_ip_of_the_connections_family() {
        let pod = ProxiedPod {
            namespace: "shop".into(),
            name: "web-0".into(),
            ip: "10.244.1.5".parse().unwrap(),
            ips: vec![
                "10.244.1.5".parse().unwrap(),
                "fd00:10:244:1::5".parse().unwrap(),
            ],
            netns: Netns::current().unwrap(),
            netns_cookie: 1,
        };
        let like = |s: &str| pod.ip_like(s.parse().unwrap()).to_string();
        assert_eq!(like("fd00:10:96::a"), "fd00:10:244:1::5");
        assert_eq!(like("10.96.0.10"), "10.244.1.5");
        let v4_only = ProxiedPod {
            ips: vec![pod.ip],
            ..pod.clone()
        };
        assert_eq!(v4_only.ip_like("fd00::1".parse().unwrap()), pod.ip);
    }
}
