//! Coexistence with Cilium's socket load balancer, with real eBPF: a stand-in (`mesh-ebpf`'s
//! `socket-lb-stand-in`) rewrites `backend`'s ClusterIP:80 to backend v1's pod IP:8080 in
//! `connect()`, as socket-LB does, while a VirtualService sends all of `backend` to v2.
//!
//! The kernel runs a cgroup's `connect4` programs descendant first, then its ancestors'
//! (`compute_effective_progs` in kernel/bpf/cgroup.c; the `BPF_F_ALLOW_MULTI` comment in
//! include/uapi/linux/bpf.h), each seeing the address the one before left:
//! - (a) on the client pod's cgroup, below the node's where the agent attaches, the stand-in runs
//!   first and the mesh's hook sees a backend pod IP: the agent must route it as `backend`;
//! - (b) on the lab's cgroup, above the node's (Cilium attaches at the cgroup root), it runs
//!   after the mesh's hook, sees 127.0.0.1:15001 and must leave it alone.
//!
//! Either way every answer comes from v2, and unloading the stand-in leaves no program behind.

use crate::mesh_support::{cluster_ip, mesh_lab_of, pod_ip};
use crate::poison::{versions, CLIENT, URL};
use crate::support::TestLab;
use aya::maps::{HashMap, PerCpuArray};
use aya::programs::{loaded_programs, CgroupAttachMode, CgroupSockAddr};
use aya::Ebpf;
use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::path::Path;
use std::thread::sleep;
use std::time::Duration;

const PROGRAM: &str = "socket_lb_connect4";

/// The stand-in, loaded and attached to one cgroup; dropping it detaches and unloads it.
struct SocketLb(Ebpf);

impl SocketLb {
    /// Attached to `cgroup`, translating `frontend` to `backend`.
    fn attach(cgroup: &Path, frontend: SocketAddrV4, backend: SocketAddrV4) -> SocketLb {
        let object = mesh_lab::lab::target_dir()
            .join("bpfel-unknown-none/release")
            .join(mesh_lab::build_ebpf::SOCKET_LB_STAND_IN);
        let mut ebpf = Ebpf::load_file(&object).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (cargo xtask build-ebpf --release)",
                object.display()
            )
        });
        let mut services: HashMap<_, u64, u64> =
            HashMap::try_from(ebpf.map_mut("LB_SERVICES").unwrap()).unwrap();
        services.insert(word(frontend), word(backend), 0).unwrap();
        let program: &mut CgroupSockAddr = ebpf.program_mut(PROGRAM).unwrap().try_into().unwrap();
        program.load().unwrap();
        let dir = std::fs::File::open(cgroup).unwrap();
        program.attach(dir, CgroupAttachMode::Single).unwrap();
        SocketLb(ebpf)
    }

    /// (connects seen, connects translated), summed over CPUs.
    fn counts(&self) -> (u64, u64) {
        let counts: PerCpuArray<_, u64> =
            PerCpuArray::try_from(self.0.map("LB_COUNTS").unwrap()).unwrap();
        let slot = |i: u32| counts.get(&i, 0).unwrap().iter().sum::<u64>();
        (slot(0), slot(1))
    }
}

/// An address as `bpf_sock_addr` holds it: the IPv4 word in network order above the port in
/// network order.
fn word(addr: SocketAddrV4) -> u64 {
    let ip = u32::from_ne_bytes(addr.ip().octets());
    (u64::from(ip) << 32) | u64::from(addr.port().to_be())
}

/// Whether the kernel still holds a program of the stand-in (its name, cut to 15 bytes).
fn stand_in_loaded() -> bool {
    let cut = &PROGRAM[..15];
    loaded_programs()
        .filter_map(Result::ok)
        .any(|p| p.name_as_str() == Some(cut))
}

/// Polls (bounded) until every answer comes from v2: the agents reload within a few polls.
fn settles_on_v2(lab: &TestLab) {
    for _ in 0..40 {
        if versions(lab, 10).keys().eq(["v2"].iter()) {
            return;
        }
        sleep(Duration::from_millis(250));
    }
    panic!("backend never settled on v2");
}

/// Polls (bounded) until the kernel dropped the stand-in's program.
fn unloaded() -> bool {
    (0..40).any(|_| {
        let gone = !stand_in_loaded();
        if !gone {
            sleep(Duration::from_millis(100));
        }
        gone
    })
}

#[test]
fn routing_by_service_holds_whichever_hook_runs_first() {
    let Some(lab) = mesh_lab_of("t-cilium", 2, "lab-routing.yaml") else {
        return;
    };
    lab.exec_until_ok(CLIENT.0, CLIENT.1, &["curl", "-fsS", "-m", "5", URL]);
    lab.kubectl("apply", "lab-routing-all-v2.yaml");
    settles_on_v2(&lab);
    let vip = cluster_ip(&lab, CLIENT.0, CLIENT.1, "backend");
    let frontend = SocketAddrV4::new(vip.parse().unwrap(), 80);
    let v1 = pod_ip(&lab, "shop/backend-v1-0");
    let v1 = SocketAddrV4::new(v1.parse().unwrap(), 8080);
    let all_v2 = BTreeMap::from([("v2".to_string(), 20)]);

    // (a) Before the mesh's hook: it sees v1's pod IP, the agent routes it as `backend`.
    let pod_cgroup = lab.cgroup_root().join("node-1").join("shop.client");
    let first = SocketLb::attach(&pod_cgroup, frontend, v1);
    assert_eq!(versions(&lab, 20), all_v2, "stand-in first");
    let (seen, translated) = first.counts();
    assert!(
        translated >= 20,
        "the stand-in translated {translated} of {seen}"
    );
    drop(first);
    assert!(unloaded(), "the stand-in is still loaded after (a)");

    // (b) After the mesh's hook: it sees 127.0.0.1:15001 and leaves it alone.
    let last = SocketLb::attach(&lab.cgroup_root(), frontend, v1);
    assert_eq!(versions(&lab, 20), all_v2, "stand-in last");
    let (seen, translated) = last.counts();
    assert!(seen >= 20, "the stand-in saw {seen} connects");
    assert_eq!(translated, 0, "the stand-in translated the mesh's redirect");
    drop(last);
    assert!(unloaded(), "the stand-in is still loaded after (b)");
}
