//! Privileged: IPv6 capture — plain IPv6 connects of a dual-stack pod land on the agent's
//! [::1]:15001 with their original destination, its own and loopback addresses are left alone,
//! a pod without IPv6 is not redirected to a listener it lacks, and `sk_lookup` steers IPv6
//! connections to the pod's IPv6 address to the IPv6 inbound listener (not from the node).

use crate::ebpf_capture::Fixture;
use crate::harness::namespaced;
use crate::harness::namespaced::netns::{veth_pair, TestNetns};
use crate::harness::namespaced::pod::{accept, assert_nothing_queued, TestPod, SERVICE_V6};
use crate::harness::namespaced::sock::{connect_in, Connect};
use mesh_agent::capture::OriginalDsts;
use std::net::{IpAddr, SocketAddr, TcpListener};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A pod with `v4` and `v6` on its `lo`, enrolled.
fn dual(test: &str, v4: &str, v6: &str) -> Fixture {
    let name = namespaced::unique_name(test);
    let pod = TestPod::new(&name, ip(v4), Some(&format!("{v4}/32"))).with_ipv6(ip(v6), true);
    Fixture::with_pod(test, pod, &[])
}

fn service_v6() -> SocketAddr {
    SERVICE_V6.parse().unwrap()
}

#[test]
fn plain_ipv6_connect_lands_on_the_ipv6_listener_with_its_original_dst() {
    if !namespaced::running_as_root() {
        return;
    }
    let f = dual("mesh-cap6-out", "10.230.0.2", "fd00:230::2");
    let v6 = f.pod.v6.as_ref().unwrap();
    f.connect(Connect::to(service_v6()));
    let (_conn, peer) = accept(&v6.outbound);
    assert_eq!(peer.ip(), ip("::1"));
    assert_nothing_queued(&v6.service);
    assert_nothing_queued(&f.pod.outbound);
    assert_eq!(f.bpf.take(f.pod.cookie, peer), Some(service_v6()));
    let counters = f.bpf.counters().unwrap();
    assert_eq!((counters.captured_outbound, counters.bypassed), (1, 0));
}

#[test]
fn ipv6_loopback_and_the_pods_own_ipv6_address_are_left_alone() {
    if !namespaced::running_as_root() {
        return;
    }
    let f = dual("mesh-cap6-own", "10.231.0.2", "fd00:231::2");
    let (own, lo) = f.pod.netns.run(|| {
        let own = TcpListener::bind("[fd00:231::2]:0").unwrap();
        (own, TcpListener::bind("[::1]:0").unwrap())
    });
    f.connect(Connect::to(own.local_addr().unwrap()));
    accept(&own);
    f.connect(Connect::to(lo.local_addr().unwrap()));
    accept(&lo);
    assert_nothing_queued(&f.pod.v6.as_ref().unwrap().outbound);
    assert_eq!(f.bpf.counters().unwrap().bypassed, 2);
}

/// A pod enrolled with IPv4 only has no [::1]:15001 listener: its IPv6 connects go direct.
#[test]
fn plain_ipv6_of_a_pod_without_an_ipv6_address_is_left_alone() {
    if !namespaced::running_as_root() {
        return;
    }
    let f = Fixture::new("mesh-cap6-none", "10.232.0.2");
    f.pod
        .netns
        .ip(&["addr", "add", "fd00:10:96::1/128", "dev", "lo", "nodad"]);
    let service = f.pod.netns.run(|| TcpListener::bind(SERVICE_V6).unwrap());
    f.connect(Connect::to(service_v6()));
    accept(&service);
    let counters = f.bpf.counters().unwrap();
    assert_eq!((counters.captured_outbound, counters.bypassed), (0, 1));
}

const POD_IP6: &str = "fd00:233::2";
const CLIENT_IP6: &str = "fd00:233::1";
const NODE_IP6: &str = "fd00:233::fe";

/// A dual-stack pod wired by a veth to a client netns holding the node's IPv6 address too.
struct Inbound6 {
    f: Fixture,
    client: TestNetns,
    app: TcpListener,
}

impl Inbound6 {
    fn new() -> Self {
        let name = namespaced::unique_name("mesh-cap6-in");
        let pod = TestPod::new(&name, ip("10.233.0.2"), None).with_ipv6(ip(POD_IP6), false);
        let client = TestNetns::new(&namespaced::unique_name("mesh-cap6-cl"));
        veth_pair(&client, "10.233.0.1/24", &pod.netns, "10.233.0.2/24");
        for (netns, dev, cidr) in [
            (&client, "veth-a", format!("{CLIENT_IP6}/64")),
            (&client, "veth-a", format!("{NODE_IP6}/64")),
            (&pod.netns, "veth-b", format!("{POD_IP6}/64")),
        ] {
            netns.ip(&["addr", "add", &cidr, "dev", dev, "nodad"]);
        }
        let app = pod
            .netns
            .run(|| TcpListener::bind(format!("[{POD_IP6}]:8080")).unwrap());
        let node_ips = [ip("10.233.0.254"), ip(NODE_IP6)];
        let f = Fixture::with_pod("mesh-cap6-in", pod, &node_ips);
        Inbound6 { f, client, app }
    }

    fn connect_from(&self, source: &str) {
        let how = Connect {
            from: Some(SocketAddr::new(ip(source), 0)),
            ..Connect::to(self.app.local_addr().unwrap())
        };
        let errno = connect_in(None, &self.client.file(), how);
        assert_eq!(errno, 0, "connect from {source}: errno {errno}");
    }
}

#[test]
fn inbound_ipv6_to_the_pod_lands_on_the_ipv6_inbound_listener() {
    if !namespaced::running_as_root() {
        return;
    }
    let t = Inbound6::new();
    t.connect_from(CLIENT_IP6);
    let (conn, peer) = accept(&t.f.pod.v6.as_ref().unwrap().inbound);
    assert_eq!(peer.ip(), ip(CLIENT_IP6));
    assert_eq!(conn.local_addr().unwrap(), t.app.local_addr().unwrap());
    assert_nothing_queued(&t.app);
    assert_nothing_queued(&t.f.pod.inbound);
    assert_eq!(t.f.bpf.counters().unwrap().captured_inbound, 1);
}

#[test]
fn inbound_ipv6_from_the_node_is_not_steered() {
    if !namespaced::running_as_root() {
        return;
    }
    let t = Inbound6::new();
    t.connect_from(NODE_IP6);
    accept(&t.app);
    assert_nothing_queued(&t.f.pod.v6.as_ref().unwrap().inbound);
    assert_eq!(t.f.bpf.counters().unwrap().captured_inbound, 0);
}
