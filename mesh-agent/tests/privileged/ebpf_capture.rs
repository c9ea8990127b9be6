//! Privileged: outbound capture (`connect4`/`connect6` + `sock_ops` + `ORIG_DSTS`), inbound
//! capture (`sk_lookup`), what is left alone, and the counters — with real sockets in test
//! network namespaces and cgroups. Needs root and the built object.

use crate::harness::namespaced;
use crate::harness::namespaced::cgroup::TestCgroup;
use crate::harness::namespaced::netns::{veth_pair, TestNetns};
use crate::harness::namespaced::pod::{accept, assert_nothing_queued, TestPod, SERVICE};
use crate::harness::namespaced::sock::{connect_in, Connect};
use mesh_agent::bpf::{LoadOptions, MeshBpf};
use mesh_agent::capture::{OriginalDsts, PodCapture};
use std::net::{IpAddr, SocketAddr, TcpListener};

/// A loaded, attached agent with one enrolled pod.
pub(crate) struct Fixture {
    pub(crate) bpf: MeshBpf,
    pub(crate) pod: TestPod,
    pub(crate) cgroup: TestCgroup,
}

impl Fixture {
    /// `pod_ip` on the pod netns' `lo`.
    pub(crate) fn new(test: &str, pod_ip: &str) -> Self {
        let ip: IpAddr = pod_ip.parse().unwrap();
        let pod = TestPod::new(
            &namespaced::unique_name(test),
            ip,
            Some(&format!("{ip}/32")),
        );
        Self::with_pod(test, pod, &[])
    }

    pub(crate) fn with_pod(test: &str, pod: TestPod, node_ips: &[IpAddr]) -> Self {
        let bpf = namespaced::load_mesh_bpf();
        let cgroup = TestCgroup::new(&namespaced::unique_name(test));
        bpf.attach_cgroup(cgroup.path()).expect("attach");
        bpf.enroll(&pod.captured(node_ips)).expect("enroll");
        Fixture { bpf, pod, cgroup }
    }

    /// Connects from a process in the cgroup and the pod's netns; asserts it connected.
    pub(crate) fn connect(&self, how: Connect) {
        let errno = connect_in(Some(self.cgroup.path()), &self.pod.netns_file, how);
        assert_eq!(errno, 0, "connect {how:?} failed: errno {errno}");
    }
}

fn service() -> SocketAddr {
    SERVICE.parse().unwrap()
}

#[test]
fn outbound_connect_lands_on_15001_with_its_original_dst() {
    if !namespaced::running_as_root() {
        return;
    }
    let f = Fixture::new("mesh-cap-out", "10.210.0.2");
    f.connect(Connect::to(service()));
    let (_conn, peer) = accept(&f.pod.outbound);
    assert_nothing_queued(&f.pod.service);
    assert_eq!(f.bpf.take(f.pod.cookie, peer), Some(service()));
    assert_eq!(f.bpf.take(f.pod.cookie, peer), None, "record not deleted");
    assert_eq!(f.bpf.counters().unwrap().captured_outbound, 1);
}

#[test]
fn connect6_to_ipv4_mapped_is_captured_as_ipv4() {
    if !namespaced::running_as_root() {
        return;
    }
    let f = Fixture::new("mesh-cap-v6", "10.211.0.2");
    let how = Connect {
        ipv6_socket: true,
        ..Connect::to(service())
    };
    f.connect(how);
    let (_conn, peer) = accept(&f.pod.outbound);
    assert_eq!(f.bpf.take(f.pod.cookie, peer), Some(service()));
}

#[test]
fn loopback_destinations_are_left_alone() {
    if !namespaced::running_as_root() {
        return;
    }
    let f = Fixture::new("mesh-cap-lo", "10.212.0.2");
    let local = f
        .pod
        .netns
        .run(|| TcpListener::bind("127.0.0.1:0").unwrap());
    f.connect(Connect::to(local.local_addr().unwrap()));
    accept(&local);
    assert_nothing_queued(&f.pod.outbound);
    assert_eq!(f.bpf.counters().unwrap().bypassed, 1);
}

/// The mark the agent once put on its own sockets: any pod process with `CAP_NET_ADMIN` can set
/// it, so it must not let the socket escape capture.
#[test]
fn a_pod_socket_carrying_a_mark_is_still_captured() {
    if !namespaced::running_as_root() {
        return;
    }
    let f = Fixture::new("mesh-cap-mark", "10.213.0.2");
    let how = Connect {
        mark: Some(0x539),
        ..Connect::to(service())
    };
    f.connect(how);
    let (_conn, peer) = accept(&f.pod.outbound);
    assert_nothing_queued(&f.pod.service);
    assert_eq!(f.bpf.take(f.pod.cookie, peer), Some(service()));
    assert_eq!(f.bpf.counters().unwrap().captured_outbound, 1);
}

/// The agent is known by its cgroup: connects from it are neither captured nor counted, even
/// inside the attached subtree (a DaemonSet's pod is), while a sibling cgroup's are captured.
#[test]
fn the_agents_own_cgroup_is_left_alone() {
    if !namespaced::running_as_root() {
        return;
    }
    let ip: IpAddr = "10.217.0.2".parse().unwrap();
    let name = namespaced::unique_name("mesh-cap-agent");
    let pod = TestPod::new(&name, ip, Some("10.217.0.2/32"));
    let pods = TestCgroup::new(&name);
    let agent = pods.child("agent");
    let options = LoadOptions {
        agent_cgroup: agent.id(),
        ..LoadOptions::default()
    };
    let bpf = MeshBpf::load_with(&namespaced::object_path(), &options).expect("load");
    bpf.attach_cgroup(pods.path()).expect("attach");
    bpf.enroll(&pod.captured(&[])).expect("enroll");

    let errno = connect_in(Some(agent.path()), &pod.netns_file, Connect::to(service()));
    assert_eq!(errno, 0, "connect from the agent's cgroup: errno {errno}");
    accept(&pod.service);
    assert_nothing_queued(&pod.outbound);
    let counters = bpf.counters().unwrap();
    assert_eq!((counters.captured_outbound, counters.bypassed), (0, 0));

    let sibling = pods.child("app");
    let errno = connect_in(
        Some(sibling.path()),
        &pod.netns_file,
        Connect::to(service()),
    );
    assert_eq!(errno, 0, "connect from a pod's cgroup: errno {errno}");
    accept(&pod.outbound);
    assert_eq!(bpf.counters().unwrap().captured_outbound, 1);
}

#[test]
fn a_netns_that_is_not_enrolled_is_left_alone() {
    if !namespaced::running_as_root() {
        return;
    }
    let f = Fixture::new("mesh-cap-other", "10.214.0.2");
    let ip: IpAddr = "10.214.1.2".parse().unwrap();
    let other = TestPod::new(
        &namespaced::unique_name("mesh-cap-other"),
        ip,
        Some("10.214.1.2/32"),
    );
    let errno = connect_in(
        Some(f.cgroup.path()),
        &other.netns_file,
        Connect::to(service()),
    );
    assert_eq!(errno, 0);
    accept(&other.service);
    assert_nothing_queued(&other.outbound);
    assert_eq!(f.bpf.counters().unwrap().captured_outbound, 0);
}

#[test]
fn unenrolled_pods_are_left_alone() {
    if !namespaced::running_as_root() {
        return;
    }
    let f = Fixture::new("mesh-cap-unenroll", "10.215.0.2");
    f.bpf.unenroll(f.pod.cookie).expect("unenroll");
    f.connect(Connect::to(service()));
    accept(&f.pod.service);
    assert_nothing_queued(&f.pod.outbound);
}

#[test]
fn n_captured_connections_count_n() {
    if !namespaced::running_as_root() {
        return;
    }
    const N: usize = 20;
    let f = Fixture::new("mesh-cap-count", "10.216.0.2");
    let script = namespaced::connect_loop("10.96.0.1", 80, N);
    let status = f.cgroup.run(f.pod.netns.bash(&script));
    assert!(status.success(), "connect loop failed: {status}");
    let counters = f.bpf.counters().unwrap();
    assert_eq!(counters.captured_outbound, N as u64);
    assert_eq!(counters.errors, 0);
    let flows = f.bpf.flows();
    let flow = flows.iter().find(|flow| flow.netns_cookie == f.pod.cookie);
    assert_eq!(
        flow.map(|flow| (flow.destination, flow.connections)),
        Some((service(), N as u64))
    );
}

/// A pod netns wired by a veth to a "client" netns that also holds the node's address.
struct InboundFixture {
    f: Fixture,
    client: TestNetns,
    app: TcpListener,
}

const POD_IP: &str = "10.220.0.2";
const CLIENT_IP: &str = "10.220.0.1";
const NODE_IP: &str = "10.220.0.254";

impl InboundFixture {
    fn new() -> Self {
        let pod_ip: IpAddr = POD_IP.parse().unwrap();
        let pod = TestPod::new(&namespaced::unique_name("mesh-cap-in"), pod_ip, None);
        let client = TestNetns::new(&namespaced::unique_name("mesh-cap-cl"));
        veth_pair(
            &client,
            &format!("{CLIENT_IP}/24"),
            &pod.netns,
            &format!("{POD_IP}/24"),
        );
        client.ip(&["addr", "add", &format!("{NODE_IP}/24"), "dev", "veth-a"]);
        let app = pod.netns.run(|| TcpListener::bind("0.0.0.0:8080").unwrap());
        let f = Fixture::with_pod("mesh-cap-in", pod, &[NODE_IP.parse().unwrap()]);
        InboundFixture { f, client, app }
    }

    /// Connects from the client netns to the pod's 8080, from `source`.
    fn connect_from(&self, source: &str) {
        let how = Connect {
            from: Some(SocketAddr::new(source.parse().unwrap(), 0)),
            ..Connect::to(SocketAddr::new(POD_IP.parse().unwrap(), 8080))
        };
        let errno = connect_in(None, &self.client.file(), how);
        assert_eq!(errno, 0, "connect from {source}: errno {errno}");
    }
}

#[test]
fn inbound_connection_to_the_pod_ip_lands_on_15006() {
    if !namespaced::running_as_root() {
        return;
    }
    let t = InboundFixture::new();
    t.connect_from(CLIENT_IP);
    let (conn, peer) = accept(&t.f.pod.inbound);
    assert_eq!(peer.ip().to_string(), CLIENT_IP);
    let original = SocketAddr::new(POD_IP.parse().unwrap(), 8080);
    assert_eq!(
        conn.local_addr().unwrap(),
        original,
        "getsockname is the original dst"
    );
    assert_nothing_queued(&t.app);
    assert_eq!(t.f.bpf.counters().unwrap().captured_inbound, 1);

    t.f.bpf.unenroll(t.f.pod.cookie).expect("unenroll");
    t.connect_from(CLIENT_IP);
    accept(&t.app);
    assert_nothing_queued(&t.f.pod.inbound);
}

#[test]
fn inbound_connection_from_the_node_is_not_steered() {
    if !namespaced::running_as_root() {
        return;
    }
    let t = InboundFixture::new();
    t.connect_from(NODE_IP);
    accept(&t.app);
    assert_nothing_queued(&t.f.pod.inbound);
    assert_eq!(t.f.bpf.counters().unwrap().captured_inbound, 0);
}

/// The inbound hop dials the app on the pod's own IP from inside its netns: `sk_lookup` must
/// leave that connection to the app (it comes from the pod's own address).
#[test]
fn the_pods_own_address_dialled_from_inside_is_not_steered() {
    if !namespaced::running_as_root() {
        return;
    }
    let t = InboundFixture::new();
    let app = SocketAddr::new(POD_IP.parse().unwrap(), 8080);
    let errno = connect_in(None, &t.f.pod.netns_file, Connect::to(app));
    assert_eq!(errno, 0, "connect to the pod's own address: errno {errno}");
    let (_conn, peer) = accept(&t.app);
    assert_eq!(peer.ip().to_string(), POD_IP);
    assert_nothing_queued(&t.f.pod.inbound);
    assert_eq!(t.f.bpf.counters().unwrap().captured_inbound, 0);
}
