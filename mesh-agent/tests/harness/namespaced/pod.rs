//! A test pod: a netns holding the agent's listeners (15001 on loopback, 15006), a service
//! stand-in (10.96.0.1:80, so uncaptured connects land somewhere) and,
//! optionally, the pod IP (both on `lo`); with `with_ipv6`, the same for IPv6.

use super::netns::TestNetns;
use mesh_agent::bpf::socket_netns_cookie;
use mesh_agent::capture::CapturedPod;
use std::fs::File;
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// The ClusterIP the tests connect to.
pub const SERVICE: &str = "10.96.0.1:80";

/// A pod's netns with the agent's and the service's listeners.
pub struct TestPod {
    /// The namespace (deleted on drop, after the listeners).
    pub netns: TestNetns,
    /// An open fd of the namespace.
    pub netns_file: File,
    /// Its cookie.
    pub cookie: u64,
    /// The pod's IP.
    pub pod_ip: IpAddr,
    /// The agent's outbound listener, 127.0.0.1:15001.
    pub outbound: TcpListener,
    /// The agent's inbound listener, 0.0.0.0:15006.
    pub inbound: TcpListener,
    /// The service stand-in, 10.96.0.1:80.
    pub service: TcpListener,
    /// The IPv6 half, when the pod has one.
    pub v6: Option<TestPodV6>,
}

/// The IPv6 address of a test pod and the IPv6 listeners in its netns.
pub struct TestPodV6 {
    /// The pod's IPv6 address.
    pub pod_ip: IpAddr,
    /// The agent's outbound listener, [::1]:15001.
    pub outbound: TcpListener,
    /// The agent's inbound listener, [::]:15006 (IPv6 only).
    pub inbound: TcpListener,
    /// The service stand-in, [fd00:10:96::1]:80.
    pub service: TcpListener,
}

/// The IPv6 ClusterIP the tests connect to.
pub const SERVICE_V6: &str = "[fd00:10:96::1]:80";

impl TestPod {
    /// A pod netns named `name`; `local_pod_ip` puts the pod IP (`a.b.c.d/len`) on `lo` (tests wiring a veth pass `None` and add it themselves).
    pub fn new(name: &str, pod_ip: IpAddr, local_pod_ip: Option<&str>) -> Self {
        let netns = TestNetns::new(name);
        // On `lo`: this kernel has no dummy interfaces, and local is all we need.
        netns.ip(&["addr", "add", "10.96.0.1/32", "dev", "lo"]);
        if let Some(cidr) = local_pod_ip {
            netns.ip(&["addr", "add", cidr, "dev", "lo"]);
        }
        let (outbound, inbound, service) = netns.run(|| {
            let listen = |addr: &str| TcpListener::bind(addr).expect(addr);
            (
                listen("127.0.0.1:15001"),
                listen("0.0.0.0:15006"),
                listen(SERVICE),
            )
        });
        let cookie = socket_netns_cookie(outbound.as_fd()).expect("SO_NETNS_COOKIE");
        let netns_file = netns.file();
        TestPod {
            netns,
            netns_file,
            cookie,
            pod_ip,
            outbound,
            inbound,
            service,
            v6: None,
        }
    }

    /// Gives the pod the IPv6 address `pod_ip` (on `lo` when `local`, else the test adds it)
    /// and the IPv6 listeners; addresses without duplicate address detection.
    pub fn with_ipv6(mut self, pod_ip: IpAddr, local: bool) -> Self {
        self.netns
            .ip(&["addr", "add", "fd00:10:96::1/128", "dev", "lo", "nodad"]);
        if local {
            let cidr = format!("{pod_ip}/128");
            self.netns.ip(&["addr", "add", &cidr, "dev", "lo", "nodad"]);
        }
        let (outbound, inbound, service) = self.netns.run(|| {
            (
                listen_v6("[::1]:15001"),
                listen_v6("[::]:15006"),
                listen_v6(SERVICE_V6),
            )
        });
        self.v6 = Some(TestPodV6 {
            pod_ip,
            outbound,
            inbound,
            service,
        });
        self
    }

    /// The pod as the capture layer sees it, the node at `node_ips`.
    pub fn captured(&self, node_ips: &[IpAddr]) -> CapturedPod<'_> {
        let mut inbound_listeners = vec![(self.pod_ip, self.inbound.as_fd())];
        if let Some(v6) = &self.v6 {
            inbound_listeners.push((v6.pod_ip, v6.inbound.as_fd()));
        }
        CapturedPod {
            netns_cookie: self.cookie,
            netns: self.netns_file.as_fd(),
            node_ips: node_ips.to_vec(),
            inbound_listeners,
        }
    }
}

/// An IPv6-only listener on `addr` (so `[::]` leaves IPv4 to the IPv4 listener).
fn listen_v6(addr: &str) -> TcpListener {
    use socket2::{Domain, Socket, Type};
    let addr: SocketAddr = addr.parse().unwrap();
    let socket = Socket::new(Domain::IPV6, Type::STREAM, None).expect("socket");
    socket.set_only_v6(true).expect("IPV6_V6ONLY");
    socket.set_reuse_address(true).expect("SO_REUSEADDR");
    socket
        .bind(&addr.into())
        .unwrap_or_else(|e| panic!("bind {addr}: {e}"));
    socket.listen(128).expect("listen");
    socket.into()
}

/// Accepts one connection that is already (or about to be) queued; panics if none comes.
pub fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match listener.accept() {
            Ok(accepted) => return accepted,
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("no connection on {:?}: {e}", listener.local_addr()),
        }
    }
}

/// Asserts nothing is queued on `listener`.
pub fn assert_nothing_queued(listener: &TcpListener) {
    listener.set_nonblocking(true).unwrap();
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Ok((_, peer)) => panic!(
            "unexpected connection from {peer} on {:?}",
            listener.local_addr()
        ),
        Err(e) => panic!("accept: {e}"),
    }
}
